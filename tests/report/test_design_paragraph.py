"""The report's "What this design can detect" paragraph: read from results/design.json (the design
stage), in English and Chinese, about the panel in use (the truth only on synthetic data)."""

from __future__ import annotations

import re

import pytest

from analysis import results_io


@pytest.fixture(scope="module")
def power_result():
    """The design stage's study (headline only, few panels) on a 60-city synthetic panel."""
    from analysis.data.build import default_inputs
    from analysis.data.synthetic import SyntheticDesign, simulate_panel
    from analysis.studies.power import power_study

    panel, truth = simulate_panel(*default_inputs(), SyntheticDesign(n_cities=60))
    return power_study(panel, n_reps=10, seed=5, estimators=("headline",), truth=truth)


def _text(blocks) -> str:
    from analysis.report import markup

    return " ".join(markup.plain_text(b["runs"]) for b in blocks)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_paragraph_prints_the_mdes_and_the_power_against_the_truth(power_result, lang):
    from analysis.report.number_format import Formatter
    from analysis.report.paper import detect_blocks, text

    t = text(lang)
    fmt = Formatter(t)
    out = _text(detect_blocks(power_result, t, fmt, synthetic=True))
    for rec in power_result["treatments"].values():
        shapes = rec["estimators"]["headline"]["shapes"]
        for s in ("constant", "growing"):
            assert fmt.num(shapes[s]["mde"]) in out and fmt.num(shapes[s]["mc_se"]) in out
        assert fmt.pct(rec["truth"]["power"], 0) in out
        assert fmt.num(rec["truth"]["att"]) in out
    assert fmt.num(power_result["calibration"]["rho"], 2) in out
    assert "{" not in out and "}" not in out
    file_mode = _text(detect_blocks(power_result, t, fmt, synthetic=False))
    # a user's file: no truth, but what a non-significant estimate can rule out
    from analysis.report import markup

    truth_words = t["results"]["design_truth"].split("{")[0].strip()  # before the first number
    file_words = markup.plain_text(markup.inline(t["results"]["design_file"]))
    assert truth_words in out and truth_words not in file_mode
    assert file_words in file_mode and file_words not in out
    if lang == "zh":  # real Chinese: no English word in the prose (numbers, t, s.e. aside)
        words = set(re.findall(r"[A-Za-z]{3,}", file_mode))
        assert words <= {"AR"}, words


def test_skipped_headline_gives_its_reason_and_no_results_give_no_paragraph(power_result):
    from analysis.report.number_format import Formatter
    from analysis.report.paper import detect_blocks, text

    t = text("en")
    fmt = Formatter(t)
    assert detect_blocks(None, t, fmt, synthetic=True) == []
    why = "no city is ever treated by rail"
    skipped = {
        **power_result,
        "treatments": {
            **power_result["treatments"],
            "rail": {"skipped": why, "estimators": {"headline": {"skipped": why}}},
        },
    }
    out = _text(detect_blocks(skipped, t, fmt, synthetic=False))
    rail = t["tables"]["treatments"]["rail"]  # China-Europe Railway Express
    assert f"{rail}: no minimum detectable effect on this panel" in out


def test_the_report_reads_design_json(report_inputs, power_result):
    """load_results hands the design stage's results to the paper; a results set made before the
    design stage (no design.json) has none, and the paragraph is left out."""
    from analysis.report.inputs import load_results

    assert (
        load_results(report_inputs)["power"] is None
        or (report_inputs.results / "design.json").exists()
    )
    path = report_inputs.results / "design.json"
    results_io.write_json(path, {k: v for k, v in power_result.items() if k != "seconds"})
    try:
        power = load_results(report_inputs)["power"]
        assert power["treatments"].keys() == power_result["treatments"].keys()
    finally:
        path.unlink()
