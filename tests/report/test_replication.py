"""replication_section: the AEA-style replication summary, built from a small fake project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.report.exhibits import EXHIBITS, Exhibit
from analysis.report.replication import KEY_PACKAGES, output_map, replication_section

DVC_YAML = """
stages:
  panel:
    cmd: analysis build-panel
    deps: [src/analysis/data/synthetic.py]
    outs: [data/processed/panel.csv]
  study_a:
    cmd: analysis notebook study_a
    deps: [notebooks/study_a.ipynb, data/processed/panel.csv]
    outs:
      - output/notebooks/study_a.ipynb
      - output/figures/fig_b.png
      - output/figures/fig_b.svg
      - output/tables/tab_a.csv
      - output/runtime/study_a.json:
          cache: false
    metrics:
      - output/metrics/study_a.json:
          cache: false
  study_b:
    cmd: analysis notebook study_b
    deps: [notebooks/study_b.ipynb]
    outs:
      - output/figures/fig_a.png
      - output/figures/extra.png
    plots:
      - output/plots/study_b.csv:
          x: x
  report:
    cmd: analysis report
    deps: [output/figures]
    outs: [reports/report.html]
"""
EXHIBITS_FAKE = (
    Exhibit("a", "figure", "study_b", "fig_a", "m:f", "a"),
    Exhibit("b", "figure", "study_a", "fig_b", "m:f", "b"),
    Exhibit("t", "table", "study_a", "tab_a", None, "t"),
)
PARAMS = {"data": {"source": "synthetic", "file": None}, "synthetic": {"seed": 123}}


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "output" / "runtime").mkdir(parents=True)
    # study_a's record fingerprints its product, which still holds those bytes; study_b's product
    # was replaced since (restored from another run): its runtime is not printed
    from analysis.results_io import write_runtime

    (tmp_path / "output" / "results").mkdir(parents=True)
    for name, seconds in (("study_a", 12.25), ("study_b", 3.0)):
        product = tmp_path / "output" / "results" / f"{name}.json"
        product.write_text("{}")
        write_runtime(tmp_path / "output" / "runtime" / f"{name}.json", name, seconds, [product],
                      tmp_path)  # fmt: skip
    (tmp_path / "output" / "results" / "study_b.json").write_text('{"other": "run"}')
    (tmp_path / "data" / "reference").mkdir(parents=True)
    (tmp_path / "data" / "reference" / "SOURCES.md").write_text("# sources\n")
    return tmp_path


@pytest.fixture
def section(root) -> dict:
    return replication_section(root, PARAMS, EXHIBITS_FAKE)


def test_outputs_map_to_report_numbering(section):
    rows = [(r["kind"], r["number"], r["stem"]) for r in section["outputs"]]
    assert rows == [
        ("figure", 1, "fig_a"),
        ("figure", 2, "fig_b"),
        ("table", 1, "tab_a"),
        ("figure", None, "extra"),
    ]
    rows = {r["stem"]: r for r in section["outputs"]}
    assert rows["fig_a"]["notebook"] == "notebooks/study_b.ipynb" and rows["fig_a"]["id"] == "a"
    assert rows["fig_a"]["outputs"] == ["output/figures/fig_a.png"]
    assert rows["fig_b"]["stage"] == "study_a"
    assert rows["fig_b"]["outputs"] == ["output/figures/fig_b.png", "output/figures/fig_b.svg"]
    assert rows["tab_a"]["notebook"] == "notebooks/study_a.ipynb"
    assert rows["extra"]["id"] is None


def test_exhibit_missing_from_dvc_yaml(root):
    rows = output_map(root, (Exhibit("gone", "figure", "x", "fig_missing", "m:f", "gone"),))
    assert rows[0]["outputs"] == [] and rows[0]["stage"] is None and rows[0]["number"] == 1


def test_runtime(section):
    runtime = {r["stage"]: r["seconds"] for r in section["runtime"]}
    assert runtime == {"panel": None, "study_a": 12.25, "study_b": None, "report": None}
    assert section["total_seconds"] == 12.25
    stale = {r["stage"] for r in section["runtime"] if r["stale"]}
    assert stale == {"study_b"}, "a runtime of another run's products is marked, not printed"


def test_hardware_and_software(section):
    hw = section["hardware"]
    assert hw["logical_cores"] >= 1 and isinstance(hw["cpu"], str) and hw["cpu"]
    assert hw["memory_gb"] is None or hw["memory_gb"] > 0
    versions = {r["package"]: r["version"] for r in section["software"]}
    assert list(versions) == ["python", *KEY_PACKAGES]
    assert versions["python"].startswith("3.")
    assert versions["numpy"][0].isdigit() and versions["pandas"][0].isdigit()


def test_data_availability(root, section):
    da = section["data_availability"]
    assert da == {
        "source": "synthetic",
        "seed": 123,
        "file": None,
        "sources_file": "data/reference/SOURCES.md",
        "sources_missing": False,
    }
    file_run = replication_section(
        root, {"data": {"source": "file", "file": "data/raw/city_panel.xlsx"}}, EXHIBITS_FAKE
    )["data_availability"]
    assert file_run["source"] == "file" and file_run["file"] == "data/raw/city_panel.xlsx"
    (root / "data" / "reference" / "SOURCES.md").unlink()
    assert replication_section(root, PARAMS, EXHIBITS_FAKE)["data_availability"]["sources_missing"]


def test_section_is_json_serialisable(section):
    assert json.loads(json.dumps(section))["total_seconds"] == 12.25


def test_commands(section):
    assert section["commands"] == ["make reproduce", "make test"]


def test_real_registry_against_dvc_yaml():
    """Every exhibit of the report is declared by its stage in dvc.yaml, with its notebook."""
    root = Path(__file__).resolve().parents[2]
    rows = [r for r in output_map(root, EXHIBITS) if r["id"]]
    assert [r["id"] for r in rows] == [e.id for e in EXHIBITS]
    for row, ex in zip(rows, EXHIBITS):
        assert row["outputs"] and row["stage"] == ex.stage, row
        assert row["notebook"] and row["notebook"].startswith(f"notebooks/{ex.stage}."), row
