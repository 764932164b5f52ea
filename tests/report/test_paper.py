"""Report prose -> runs (markup.py) and the translated appendix (paper.py)."""

from __future__ import annotations

import pytest

from analysis import config as paths
from analysis.report import markup
from analysis.report.paper import appendix_blocks, text


def test_markdown_and_placeholders():
    runs = markup.inline("**Bold.** a *b* `c` {x}, \\* p", {"x": "*not em* <b>"})
    assert runs == [
        {"s": "Bold.", "em": False, "strong": True, "code": False},
        {"s": " a ", "em": False, "strong": False, "code": False},
        {"s": "b", "em": True, "strong": False, "code": False},
        {"s": " ", "em": False, "strong": False, "code": False},
        {"s": "c", "em": False, "strong": False, "code": True},
        {
            "s": " *not em* <b>, * p",
            "em": False,
            "strong": False,
            "code": False,
        },  # values are never markup
    ]


def test_unknown_placeholder_is_an_error():
    with pytest.raises(KeyError, match="missing"):
        markup.inline("a {missing}", {})


def test_line_breaks_in_chinese_and_english():
    assert (
        markup.unwrap("关于\n{n} 个城市，\n17 个；处理\n时间") == "关于 {n} 个城市，17 个；处理时间"
    )
    assert markup.unwrap("two\nlines") == "two lines"


def test_prose_must_be_one_paragraph():
    with pytest.raises(ValueError, match="one paragraph"):
        markup.inline("- a list")


def test_zh_appendix_translates_every_file_of_sources_md(tmp_path):
    blocks = appendix_blocks(paths.REFERENCE / "SOURCES.md", text("zh"))
    headings = [markup.plain_text(b["runs"]) for b in blocks if b["kind"] == "heading"]
    files = [
        line[3:].split(" — ", 1)[0]
        for line in (paths.REFERENCE / "SOURCES.md").read_text().splitlines()
        if line.startswith("## ")
    ]
    assert files and set(files) <= set(text("zh")["appendix"]["files"])
    assert len(headings) == 1 + len(files)  # the appendix title, then one heading per section
    assert all(any(h.startswith(f) for h in headings) for f in files if f.endswith(".csv"))
    extra = tmp_path / "SOURCES.md"
    extra.write_text(
        (paths.REFERENCE / "SOURCES.md").read_text() + "\n## new_file.csv — new\n- a fact\n"
    )
    with pytest.raises(KeyError, match="new_file.csv"):
        appendix_blocks(extra, text("zh"))
    english = appendix_blocks(extra, text("en"))  # English shows SOURCES.md itself
    assert any(
        markup.plain_text(b["runs"]).startswith("new_file.csv")
        for b in english
        if b["kind"] == "heading"
    )


def test_a_skipped_check_reads_n_a(report_inputs):
    """A robustness check skipped on the panel ({"skipped": reason}, e.g. Bacon on an unbalanced
    panel) has no numbers: its placeholders read n/a instead of failing."""
    from analysis.report.inputs import load_results
    from analysis.report.number_format import Formatter
    from analysis.report.paper import text, values

    results = load_results(report_inputs)
    for check in ("bacon", "dr", "honestdid", "spec_curve", "placebo", "wild_bootstrap"):
        results["robustness"][check] = {"skipped": "not on this panel"}
    t = text("en")
    v = values(results, Formatter(t), t, None)
    assert v["bacon_twfe_nc"] == v["dr_est"] == v["spec_median"] == t["na"]


def test_a_dcdh_estimate_without_jackknife_se_says_why():
    """On a panel of very few provinces the delete-one-province jackknife can lack two replicates:
    the estimate prints with the reason, in each language, not a bare n/a."""
    from analysis.report.number_format import Formatter
    from analysis.report.paper import _network_values, text

    row = {"average_total_effect": 0.0012, "std_error": None, "band_width": 10}
    for lang in ("en", "zh"):
        t = text(lang)
        v = _network_values({"dose_event_studies": {"broadband_per100": row}}, Formatter(t))
        assert v["dcdh_bb"] == "0.0012" and v["dcdh_bb_se"] == t["na_jackknife"] != t["na"]
        v = _network_values({}, Formatter(t))  # no dCDH row at all: plain n/a
        assert v["dcdh_bb_se"] == t["na"]
