"""replication_section: the AEA-style replication summary, built from a small fake project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.report.replication import (
    KEY_PACKAGES,
    render_html,
    render_markdown,
    replication_section,
)

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
FIGURES = [("fig_a", "study_b", "Caption A <first>."), ("fig_b", "study_a", "Caption B.")]
PARAMS = {"data": {"source": "synthetic", "file": None}, "synthetic": {"seed": 123}}


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "output" / "runtime").mkdir(parents=True)
    (tmp_path / "output" / "runtime" / "study_a.json").write_text(json.dumps({"notebook": "study_a", "seconds": 12.25}))
    (tmp_path / "data" / "reference").mkdir(parents=True)
    (tmp_path / "data" / "reference" / "SOURCES.md").write_text("# sources\n")
    return tmp_path


@pytest.fixture
def section(root) -> dict:
    return replication_section(root, PARAMS, figures=FIGURES, tables=None)


def test_outputs_map_to_report_numbering(section):
    rows = {r["label"]: r for r in section["outputs"]}
    assert list(rows) == ["Figure 1", "Figure 2", "Table 1", "not in report"]
    assert rows["Figure 1"]["stem"] == "fig_a"
    assert rows["Figure 1"]["notebook"] == "notebooks/study_b.ipynb"
    assert rows["Figure 1"]["outputs"] == ["output/figures/fig_a.png"]
    assert rows["Figure 2"]["stage"] == "study_a"
    assert rows["Figure 2"]["outputs"] == ["output/figures/fig_b.png", "output/figures/fig_b.svg"]
    assert rows["Table 1"]["stem"] == "tab_a"
    assert rows["Table 1"]["notebook"] == "notebooks/study_a.ipynb"
    assert rows["not in report"]["stem"] == "extra"


def test_report_tables_constant_is_used(root):
    s = replication_section(root, PARAMS, figures=[("fig_missing", "x", "gone")], tables=[("tab_a", "study_a", "T")])
    rows = {r["label"]: r for r in s["outputs"]}
    assert rows["Figure 1"]["outputs"] == [] and rows["Figure 1"]["stage"] is None  # in report, not in dvc.yaml
    assert rows["Table 1"]["caption"] == "T"


def test_runtime(section):
    runtime = {r["stage"]: r["seconds"] for r in section["runtime"]}
    assert runtime == {"panel": None, "study_a": 12.25, "study_b": None, "report": None}
    assert section["total_seconds"] == 12.25


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
    assert da["source"] == "synthetic"
    assert "SYNTHETIC" in da["statement"] and "seed 123" in da["statement"]
    assert "data/reference/SOURCES.md" in da["statement"] and "(missing)" not in da["statement"]
    assert "not redistributed" in da["statement"]
    file_run = replication_section(root, {"data": {"source": "file", "file": "data/raw/city_panel.xlsx"}},
                                   figures=FIGURES, tables=None)["data_availability"]
    assert file_run["source"] == "file"
    assert "data/raw/city_panel.xlsx" in file_run["statement"] and "not redistributed" in file_run["statement"]
    assert "SYNTHETIC" not in file_run["statement"]


def test_section_is_json_serialisable(section):
    assert json.loads(json.dumps(section))["total_seconds"] == 12.25


def test_render_markdown(section):
    md = render_markdown(section)
    assert md.startswith("## Replication package")
    assert "| Figure 1 | notebooks/study_b.ipynb | output/figures/fig_a.png |" in md
    assert "| study_a | 12.2 s |" in md
    assert "| panel | n/a (not timed) |" in md
    assert "1. `make reproduce`" in md and "2. `make test`" in md
    assert "### Data availability" in md


def test_render_html(root, section):
    out = render_html(section)
    assert out.startswith('<section class="replication">') and out.rstrip().endswith("</section>")
    assert out.count("<table") == out.count("</table>") == 4
    assert "<td>Figure 2</td><td>notebooks/study_a.ipynb</td>" in out
    assert "<code>make reproduce</code>" in out
    odd = replication_section(root, {"data": {"source": "file", "file": "a<b>&c.csv"}}, figures=FIGURES, tables=None)
    assert "a&lt;b&gt;&amp;c.csv" in render_html(odd)


def test_real_report_figures_import():
    """Default numbering comes from analysis.report.build.FIGURES (the report's own list)."""
    from analysis.report import build as report
    from analysis.report.replication import output_map

    root = Path(__file__).resolve().parents[2]
    rows = output_map(root)
    figures = [r for r in rows if r["kind"] == "figure" and r["label"].startswith("Figure")]
    assert [r["stem"] for r in figures] == [stem for stem, _, _ in report.FIGURES]
    assert all(r["outputs"] and r["notebook"] for r in figures)


def test_every_report_figure_has_a_chinese_caption():
    from analysis.report.build import CAPTIONS_ZH, FIGURES

    assert {stem for stem, _, _ in FIGURES} == set(CAPTIONS_ZH)
