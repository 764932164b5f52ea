"""The malformed-input corpus through the `ingest` command: exact error line, nothing written,
input untouched; and awkward-but-valid files that must ingest."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from ingest_corpus import BAD, GOOD, write


def _snapshot(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_gives_one_line_error_and_writes_nothing(name, run_cli, project):
    data, expected = BAD[name]
    path = write(project / "data" / "raw", name, data)
    out_dir = project / "data" / "processed"
    out_dir.mkdir(parents=True, exist_ok=True)
    before = _snapshot(out_dir)
    result = run_cli("ingest", path, "--out", out_dir / "panel.csv")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == expected.format(f=path)
    assert _snapshot(out_dir) == before  # no panel, no report, no temp file left behind
    assert path.read_bytes() == data


@pytest.mark.parametrize("name", list(GOOD))
def test_awkward_but_valid_input_ingests(name, run_cli, project):
    data, checks = GOOD[name]
    path = write(project / "data" / "raw", name, data)
    digest = hashlib.sha256(data).hexdigest()
    out = project / "data" / "processed" / "panel.csv"
    result = run_cli("ingest", path, "--out", out)
    assert result.exit_code == 0, result.output
    panel = pd.read_csv(out, dtype={"city_code": str})
    got = panel[panel["year"] == 2015].set_index("city_code")["exports_usd_mn"]
    for code, value in checks.items():
        assert got[code] == pytest.approx(value, rel=1e-9), code
    report = (out.parent / "panel_report.md").read_text(encoding="utf-8")
    assert digest in report  # the report names the exact input it checked
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in out.parent.iterdir()) == ["panel.csv", "panel_report.md"]


def test_existing_panel_survives_a_failed_run(run_cli, project):
    out = project / "data" / "processed" / "panel.csv"
    good = write(project / "data" / "raw", "good", GOOD["utf-8"][0])
    assert run_cli("ingest", good, "--out", out).exit_code == 0
    before = out.read_bytes()
    bad = write(project / "data" / "raw", "bad", BAD["text exports"][0])
    assert run_cli("ingest", bad, "--out", out).exit_code == 1
    assert out.read_bytes() == before


def test_corpus_is_large_enough():
    assert len(BAD) >= 30
