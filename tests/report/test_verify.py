"""verify/publish: a fresh run is checked number by number against the published results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from analysis.report.verify import Tolerance, publish, publish_command, verify, verify_command

RESULTS = {
    "data_source": "synthetic",
    "n_cities": 337,
    "att": {"estimate": 0.1132166780, "std_error": 0.0052469950, "p_value": None},
    "event_study": [
        {"event_time": -1, "estimate": 0.0, "binned": False},
        {"event_time": 0, "estimate": 0.0712345678, "binned": False},
    ],
    "boot": {"p_value": 0.012},
}
TABLE = (
    "term,estimate,std_error,p_value,specification,nobs\n"
    "pilot,0.1254852237,0.007901687782,8.605613687e-57,no controls,4718\n"
    "rail,0.1905737435,0.01903558832,1.357551505e-23,no controls,4718\n"
)
METRICS = {"twfe_estimate": 0.113216678, "data_source": "synthetic"}


def _write(
    root: Path, results: dict = RESULTS, table: str = TABLE, metrics: dict = METRICS
) -> Path:
    (root / "results").mkdir(parents=True)
    (root / "tables").mkdir()
    (root / "metrics").mkdir()
    (root / "figures").mkdir()
    (root / "results" / "study.json").write_text(json.dumps(results, indent=2, sort_keys=True))
    (root / "tables" / "twfe.csv").write_text(table)
    (root / "metrics" / "study.json").write_text(json.dumps(metrics, sort_keys=True))
    (root / "figures" / "fig.png").write_bytes(b"\x89PNG not a results file")
    return root


@pytest.fixture
def published(tmp_path) -> Path:
    return _write(tmp_path / "published")


@pytest.fixture
def fresh(tmp_path, published) -> Path:
    dst = tmp_path / "fresh"
    shutil.copytree(published, dst)
    return dst


def _edit_json(path: Path, edit) -> None:
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True))


def _run(published: Path, fresh: Path):
    app = typer.Typer()
    app.command()(verify_command)
    return CliRunner().invoke(app, ["--published", str(published), "--fresh", str(fresh)])


def test_identical_dirs_pass(published, fresh):
    result = verify(published, fresh)
    assert result.ok
    table = result.table()
    assert list(table.columns) == [
        "key",
        "status",
        "published",
        "fresh",
        "abs_diff",
        "tolerance",
        "ok",
    ]
    # every number and label of the three files is compared; the figure is not
    assert "results/study.json:event_study.1.estimate" in set(table["key"])
    assert "tables/twfe.csv:1.std_error" in set(table["key"])
    assert "metrics/study.json:twfe_estimate" in set(table["key"])
    assert not any("figures" in k for k in table["key"])
    assert len(table) == 12 + 12 + 2  # JSON leaves + CSV cells (2 rows x 6 columns) + metrics
    assert set(table["status"]) == {"equal"}
    assert "OK" in result.summary()
    cli = _run(published, fresh)
    assert cli.exit_code == 0, cli.output


def test_tampered_estimate_caught(published, fresh):
    _edit_json(
        fresh / "results" / "study.json",
        lambda p: p["event_study"][1].update(estimate=0.0712345678 + 1e-3),
    )
    result = verify(published, fresh)
    assert not result.ok
    bad = result.table(failures_only=True)
    assert bad["key"].tolist() == ["results/study.json:event_study.1.estimate"]
    assert bad["status"].iloc[0] == "mismatch"
    assert bad["abs_diff"].iloc[0] == pytest.approx(1e-3, rel=1e-6)
    assert bad["tolerance"].iloc[0] == pytest.approx(1e-8 + 1e-6 * 0.0712345678)
    cli = _run(published, fresh)
    assert cli.exit_code == 1
    assert "results/study.json:event_study.1.estimate" in cli.output
    assert "FAILED" in cli.output


def test_noise_within_tolerance_passes(published, fresh):
    # relative noise 1e-8 on the estimate, an absolute 1e-9 on an exact zero: both below the bound
    def edit(p):
        p["att"]["estimate"] *= 1 + 1e-8
        p["event_study"][0]["estimate"] = 1e-9

    _edit_json(fresh / "results" / "study.json", edit)
    result = verify(published, fresh)
    assert result.ok, result.table(failures_only=True)
    assert result.counts()["within_tolerance"] == 2
    assert _run(published, fresh).exit_code == 0


def test_just_outside_default_tolerance_fails(published, fresh):
    _edit_json(
        fresh / "results" / "study.json", lambda p: p["event_study"][0].update(estimate=2e-8)
    )
    assert not verify(published, fresh).ok


def test_missing_key_caught_both_sides(published, fresh):
    def edit(p):
        del p["att"]["std_error"]
        p["att"]["new_stat"] = 1.0

    _edit_json(fresh / "results" / "study.json", edit)
    bad = verify(published, fresh).table(failures_only=True).set_index("key")["status"]
    assert bad.to_dict() == {
        "results/study.json:att.new_stat": "missing_in_published",
        "results/study.json:att.std_error": "missing_in_fresh",
    }
    cli = _run(published, fresh)
    assert cli.exit_code == 1
    assert "att.std_error" in cli.output


def test_missing_file_caught(published, fresh):
    (fresh / "metrics" / "study.json").unlink()
    bad = verify(published, fresh).table(failures_only=True)
    assert set(bad["key"]) == {"metrics/study.json:twfe_estimate", "metrics/study.json:data_source"}
    assert set(bad["status"]) == {"missing_in_fresh"}


def test_csv_tampering_caught(published, fresh):
    (fresh / "tables" / "twfe.csv").write_text(TABLE.replace("0.01903558832", "0.01913558832"))
    bad = verify(published, fresh).table(failures_only=True)
    assert bad["key"].tolist() == ["tables/twfe.csv:1.std_error"]
    cli = _run(published, fresh)
    assert cli.exit_code == 1
    assert "tables/twfe.csv:1.std_error" in cli.output


def test_non_numeric_and_null_differences(published, fresh):
    def edit(p):
        p["data_source"] = "file"
        p["att"]["p_value"] = 0.5  # published null (NaN), fresh a number

    _edit_json(fresh / "results" / "study.json", edit)
    (fresh / "tables" / "twfe.csv").write_text(TABLE.replace("rail,", "rails,"))
    bad = verify(published, fresh).table(failures_only=True).set_index("key")["status"]
    assert bad.to_dict() == {
        "results/study.json:att.p_value": "mismatch",
        "results/study.json:data_source": "non_numeric",
        "tables/twfe.csv:1.term": "non_numeric",
    }


def test_tolerance_patterns(published, fresh):
    _edit_json(fresh / "results" / "study.json", lambda p: p["boot"].update(p_value=0.014))
    # the default patterns loosen bootstrap p-values (resampling noise) ...
    assert verify(published, fresh).ok
    # ... an empty mapping applies the strict default to every key, and patterns can be set per key
    assert not verify(published, fresh, tolerances={}).ok
    assert verify(published, fresh, tolerances={"results/*:boot.*": Tolerance(abs=0.0, rel=0.2)}).ok
    assert verify(published, fresh, tolerances={"*p_value": (1e-2, 0.0)}).ok


def test_empty_dirs_fail(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert not verify(tmp_path / "a", tmp_path / "b").ok


def test_publish_mirrors_results_and_then_verifies(tmp_path, fresh):
    target = tmp_path / "results" / "published"
    (target / "tables").mkdir(parents=True)
    (target / "tables" / "old.csv").write_text("a\n1\n")  # stale: the run no longer writes it
    copied = publish(fresh, target)
    rel = sorted(p.relative_to(target).as_posix() for p in copied)
    assert rel == ["metrics/study.json", "results/study.json", "tables/twfe.csv"]
    assert not (target / "tables" / "old.csv").exists()
    assert not (target / "figures").exists()
    assert (target / "results" / "study.json").read_bytes() == (
        fresh / "results" / "study.json"
    ).read_bytes()
    assert verify(target, fresh).ok

    app = typer.Typer()
    app.command()(publish_command)
    cli = CliRunner().invoke(
        app, ["--fresh", str(tmp_path / "nothing"), "--published", str(target)]
    )
    assert cli.exit_code == 1
