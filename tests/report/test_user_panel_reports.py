"""A report on a user's panel is about that panel, in the report's language (issue 17).

Every sentence of the Chinese report is Chinese: the reasons the studies and the design check write
in English (skips, dropped controls, the ingest report's warnings) reach it through the one table
of reason templates (report/reasons.py, ``reasons`` in report/text/<lang>.yaml), and the rest of
the text is generated from the design check and the results in the report's language. No sentence
is said twice; no sentence speaks of a truth the user's data do not have; the method names the
controls and the number of provinces of this panel; a variable the panel lacks has no table row;
a figure that could not be drawn is one sentence with the reason in both formats.

Two depths:

* **default suite**: the published results turned into those of a user panel of the corpus
  (tests/studies/test_user_panels.py: the yearbook XLSX with blank cells), with the design check
  and every skip reason computed by the project's own code on that file; both languages are
  rendered (HTML and PDF) and read as a reader would (about 1 minute).
* **slow** (``-m "slow and pipeline"``): the whole DAG on cheap cases of the corpus (the same
  yearbook with blank cells; one province, where the wild bootstrap cannot run), then the same
  checks on the reports the pipeline wrote.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from helpers.report_text import (
    allowed_words,
    english_words,
    pdf_text,
    readable_text,
    repeated_sentences,
)
from studies.test_user_panels import BY_NAME, _ingest, run_dag, write_user_file

from analysis import results_io
from analysis.config import load_params
from analysis.data.design import check_design
from analysis.report import build, reasons
from analysis.report.exhibits import numbers
from analysis.report.paper import text
from analysis.studies.rails import NO_CORRIDOR

CASE = "yearbook_xlsx"  # the held-out yearbook of issue 16: blank cells, a gap, three controls gone
SA_SKIP = "no never-treated city and a single cohort: no clean control cohort"
EFFECT_MAP_SKIP = "estimation failed on this panel: LinAlgError: Singular matrix"


# --- what a reader reads ----------------------------------------------------------------------
def read_report(folder: Path, root: Path, params: dict, lang: str) -> dict:
    """The built report as the checks of tests/helpers/report_text.py take it."""
    return {
        "lang": lang,
        "root": root,
        "params": params,
        "doc": json.loads((folder / "report.json").read_text(encoding="utf-8")),
        "html": (folder / "report.html").read_text(encoding="utf-8"),
        "pdf": pdf_text(folder / "report.pdf"),
    }


def language_findings(built: dict) -> dict[str, list]:
    """English words outside the allow-list (Chinese report: HTML prose and PDF text) and the
    sentences said more than once (either language)."""
    out = {"english": [], "repeated": sorted(repeated_sentences(built["doc"]))}
    if built["lang"] == "zh":
        allowed = allowed_words(built)
        out["english"] = sorted(
            set(english_words(readable_text(built["html"]), allowed))
            | set(english_words(built["pdf"], allowed))
        )
    return out


def _blocks(doc: dict, section: str) -> list[dict]:
    return next(s for s in doc["sections"] if s["id"] == section)["blocks"]


def _plain(runs) -> str:
    return "".join(r["s"] for r in runs)


def check_about_the_panel(built: dict, design: dict) -> None:
    """What a user panel's report must say, and must not (both languages)."""
    lang, doc, html = built["lang"], built["doc"], built["html"]
    t = text(lang)
    nums = numbers()
    method = " ".join(_plain(b.get("runs") or b.get("lead")) for b in _blocks(doc, "method"))
    # the method names this panel's controls and provinces
    used, dropped = design["controls_used"], design["controls_dropped"]
    for c in used:
        assert t["variables"][c] in method, c
    for c in dropped:
        assert t["variables"][c] not in method, c
    n_prov = design["n_provinces"]
    assert (f"{n_prov} provinces" if lang == "en" else f"{n_prov} 个省份") in method
    assert "31 provinces" not in html and "31 个省份" not in html
    # Table 1 has no row for a variable the panel lacks
    joint = next(
        b
        for b in _blocks(doc, "results")
        if b["kind"] == "table" and b["label"] == t["table_label"].format(n=nums["twfe_joint"])
    )
    rows = {r["cells"][0] for r in joint["rows"]}
    for c in dropped:
        assert t["tables"]["terms"][c] not in rows, c
    assert all(any(cell for cell in r["cells"][1:]) for r in joint["rows"]), "an empty row"
    # no truth without a truth: Table 2 without truth columns, captions without the word
    overall = next(
        b
        for b in _blocks(doc, "results")
        if b["kind"] == "table" and b["label"] == t["table_label"].format(n=nums["overall"])
    )
    assert overall["columns"] == 4
    truth_words = ("truth", "true effect") if lang == "en" else ("真值", "真实效应")
    for b in _blocks(doc, "results") + _blocks(doc, "method"):
        caption = _plain(b.get("caption") or [])
        assert not any(w in caption for w in truth_words), caption
    method_text = method.lower() if lang == "en" else method
    assert not any(w in method_text for w in truth_words)
    # no synthetic fallback on a user's report
    assert "make reproduce" not in _plain(_blocks(doc, "replication")[-1]["runs"])
    # a figure that could not be drawn: a sentence with the reason, in both formats, no image
    figures = {b["label"] for b in _blocks(doc, "results") if b["kind"] == "figure"}
    pdf = built["pdf"].replace("\n", "").replace(" ", "")
    for n in range(1, len(figures) + 20):
        label = t["figure_label"].format(n=n)
        said = [
            _plain(b["runs"])
            for b in _blocks(doc, "results")
            if b["kind"] == "para" and _plain(b["runs"]).startswith(label + " ")
        ]
        if said:
            assert label not in figures and len(said) == 1, label
            assert said[0].replace(" ", "")[:24] in pdf, said[0]
    # the data section says what happened to blank cells and gaps, from the design check
    data = " ".join(_plain(b["runs"]) for b in _blocks(doc, "data") if b["kind"] == "para")
    if design["blank_cells"]:
        assert str(design["incomplete_city_years"]) in data
    if design["cities_with_gaps"]:
        assert str(design["cities_with_gaps"]) in data


# --- default suite: the published results as those of a corpus panel ----------------------------
def _user_results(inputs, root: Path) -> tuple[dict, dict]:
    """Turn the published results into those of the corpus' yearbook file: its own design check
    (blank cells, dropped controls, broadband below the coverage threshold at a strict
    ``min_control_share`` of 1), and skips whose reasons the project's code writes."""
    from analysis.figures.style import plot_not_estimated, save_figure

    case = BY_NAME[CASE]
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    user = write_user_file(case, raw, stem="my_panel")
    panel = _ingest(user, case).panel
    check = check_design(panel, min_control_share=1.0, source="file")
    design = check.to_dict()
    one_province = panel[panel["province"] == panel["province"].iloc[0]]
    wild_skip = check_design(one_province, min_control_share=1.0).wild_bootstrap["skip"]
    assert check.coverage and check.blank_cells and wild_skip
    processed = root / "data" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    results_io.write_json(processed / "design.json", design)

    res = inputs.results
    truths = ("true_att_overall", "true_att_target", "truth_target", "twfe_bias", "true_elasticity")
    for name in (
        "overview",
        "pilot_zones",
        "rail_links",
        "corridor",
        "network_coverage",
        "robustness",
    ):
        data = results_io.read_json(res / f"{name}.json")
        data["data_source"] = "file"
        for key in truths:
            data.pop(key, None)
        if name in ("pilot_zones", "rail_links"):
            data.pop("truth_event_study", None)
            for key in ("truth", "truth_in_ci", "bias"):
                data["headline"].pop(key, None)
            data["controls_used"] = check.controls_used
            data["controls_dropped"] = check.controls_dropped
            data["cluster_diagnostic"]["province"]["n_clusters"] = check.n_provinces
        if name == "overview":
            data.update(n_cities=check.n_cities, n_city_years=check.n_city_years,
                        years=[check.first_year, check.last_year])  # fmt: skip
        if name == "rail_links":
            data["robust"]["sa"] = {"skipped": SA_SKIP, "label": "Sun-Abraham"}
        if name == "corridor":  # a file without China-Laos corridor cities
            data = {"skipped": NO_CORRIDOR, "data_source": "file"}
        if name == "network_coverage":
            data = {"treatment": "log_broadband", "skipped": check.coverage,
                    "twfe": {"skipped": check.coverage}, "data_source": "file"}  # fmt: skip
        if name == "robustness":
            bacon = (
                "the Goodman-Bacon decomposition needs a balanced panel; "
                f"{check.cities_with_gaps} cities of this panel miss some years"
            )
            data["wild_bootstrap"] = {"skipped": wild_skip}
            data["bacon"] = {"skipped": bacon}
            data["skips"] = {"wild_bootstrap": wild_skip, "bacon": bacon}
            data["summary"] = [r for r in data["summary"] if r["check"] != "wild_bootstrap"]
            data["truth"] = {"att_overall": None, "att_overall_direct": None}
            # two specifications far off the curve (the user's -2.50, s.e. 3.62)
            data["spec_curve"].update(n_outliers=2, outlier_k=5.0, outliers=[
                {"spec_id": k, "estimator": "sa", "controls": "all_untreated",
                 "estimate": -2.5, "std_error": 3.62,
                 "outlier_reason": "se+estimate"} for k in (7, 9)
            ])  # fmt: skip
        results_io.write_json(res / f"{name}.json", data)
    sim = results_io.read_json(res / "simulation.json")
    sim["bacon"] = {"skipped": data["bacon"]["skipped"]}
    results_io.write_json(res / "simulation.json", sim)
    # TWFE on this panel: the treatments that vary and the controls it has
    joint = pd.read_csv(inputs.tables / "twfe_joint.csv")
    keep = {"pilot", "rail", *check.controls_used}
    joint[joint["term"].isin(keep)].to_csv(inputs.tables / "twfe_joint.csv", index=False)
    # a figure its notebook replaced by a placeholder (the reason in the PNG)
    for lang in ("en", "zh"):
        save_figure(plot_not_estimated(EFFECT_MAP_SKIP, lang),
                    inputs.figures / f"pilot_effect_map.{lang}", "file", lang,
                    skipped=EFFECT_MAP_SKIP)  # fmt: skip
    params = load_params()
    params["data"].update(source="file", file=f"data/raw/{user.name}")
    return params, design


@pytest.fixture(scope="module")
def user_reports(tmp_path_factory, make_report_inputs) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("user_panel_report")
    inputs = make_report_inputs(root)
    params, design = _user_results(inputs, root)
    reasons.unknown.clear()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lang in ("en", "zh"):
            p = {**params, "report": {**params["report"], "lang": lang}}
            build.build_report(p, root / "reports" / lang, inputs)
            out[lang] = read_report(root / "reports" / lang, root, p, lang)
    return out, design


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_user_panel_report_in_its_language(user_reports, lang):
    built, _ = user_reports
    assert language_findings(built[lang]) == {"english": [], "repeated": []}
    assert not reasons.unknown, reasons.unknown


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_user_panel_report_is_about_the_panel(user_reports, lang):
    built, design = user_reports
    check_about_the_panel(built[lang], design)
    doc, pdf = built[lang]["doc"], built[lang]["pdf"]
    # the figures that could not be drawn here: sentences, no placeholder image
    stems = {b.get("stem") for s in doc["sections"] for b in s["blocks"]}
    assert not stems & {"pilot_effect_map", "simulation_bacon", "coverage_dose_response"}
    t = text(lang)
    for stem in ("pilot_effect_map", "simulation_bacon", "coverage_dose_response"):
        label = t["figure_label"].format(n=numbers()[stem])
        sentence = next(
            _plain(b["runs"])
            for b in _blocks(doc, "results")
            if b["kind"] == "para" and _plain(b["runs"]).startswith(label + " ")
        )
        assert sentence.replace(" ", "")[:20] in pdf.replace("\n", "").replace(" ", ""), stem
    # the reasons, translated: the coverage threshold, the wild bootstrap, the Bacon skip
    html = readable_text(built[lang]["html"])
    expected = {
        "en": ["of city-years (below 100%)", "1 province clusters (< 5)", "needs a balanced panel"],
        "zh": ["的城市-年有观测（低于 100%）", "只有 1 个省份聚类（少于 5 个）", "需要平衡面板"],
    }
    for words in expected[lang]:
        assert words in html, words
    # the outlying specifications are named in the robustness paragraph
    assert ("flagged as outlying" if lang == "en" else "被标为离群") in html


def test_the_language_checks_can_fail(user_reports):
    """An untranslated reason and a sentence said twice are found (the checks are not vacuous)."""
    built, _ = user_reports
    zh = dict(built["zh"])
    doc = json.loads(json.dumps(zh["doc"]))
    para = next(b for b in _blocks(doc, "results") if b["kind"] == "para")
    para["runs"] = para["runs"] + para["runs"]  # every sentence of it twice
    zh["doc"] = doc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        leaked = reasons.translate("a reason nobody wrote a template for", text("zh"), text("en"))
    zh["pdf"] = zh["pdf"] + " " + _plain(leaked)
    found = language_findings(zh)
    assert {"reason", "nobody", "template"} <= set(found["english"]) and found["repeated"]
    reasons.unknown.discard("a reason nobody wrote a template for")


# --- the reason table --------------------------------------------------------------------------
def test_every_reason_template_is_translated():
    """Same keys in every language; a translation keeps the placeholders of its English template
    (each value goes somewhere) and parses as prose."""
    import re

    from analysis.report import markup
    from analysis.report.paper import LANGUAGES

    en = text("en")["reasons"]
    for lang in LANGUAGES:
        tr = text(lang)["reasons"]
        assert tr.keys() == en.keys(), lang
        for key, template in tr.items():
            names = set(re.findall(r"\{(\w+)\}", en[key]))
            assert set(re.findall(r"\{(\w+)\}", template)) == names, (lang, key)
            markup.inline(template, {n: "x" for n in names})


def test_the_design_check_reasons_of_the_corpus_are_translated(tmp_path):
    """Every drop and skip reason the design check writes on cheap corpus cases (at the default
    and at a strict control share) matches a template; so does each of the studies' fixed
    reasons the report can show."""
    found = set()
    for name in ("minimum_columns", "one_province", "yearbook_xlsx", "blank_broadband"):
        case = BY_NAME[name]
        panel = _ingest(write_user_file(case, tmp_path), case).panel
        for share in (0.8, 1.0):
            check = check_design(panel, min_control_share=share, source="file")
            found |= set(check.controls_dropped.values()) | {why for _, why in check.skips()}
    found |= {SA_SKIP, EFFECT_MAP_SKIP, NO_CORRIDOR, "no estimator ran",
              "the check did not run on this panel"}  # fmt: skip
    en = text("en")
    assert len(found) >= 6
    assert [r for r in sorted(found) if reasons.match(r, en) is None] == []
    zh, en_t = text("zh"), text("en")
    for r in found:  # no English outside code (an exception's text is shown as code)
        prose = "".join(run["s"] for run in reasons.translate(r, zh, en_t) if not run["code"])
        assert not english_words(prose, {"CS"}), r


# --- slow: the whole DAG on cheap corpus cases ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.parametrize("name", ["yearbook_xlsx", "one_province"])
def test_user_panel_reports_from_the_pipeline(name, tmp_path):
    dest, runs = run_dag(BY_NAME[name], tmp_path)
    assert runs["exp"].returncode == 0, runs["exp"].stdout[-3000:] + runs["exp"].stderr[-3000:]
    design = json.loads((dest / "data/processed/design.json").read_text(encoding="utf-8"))
    for lang in ("en", "zh"):
        built = read_report(dest / "reports" / lang, dest, _params(dest, lang), lang)
        assert language_findings(built) == {"english": [], "repeated": []}, (name, lang)
        check_about_the_panel(built, design)
    shutil.rmtree(dest, ignore_errors=True)


def _params(dest: Path, lang: str) -> dict:
    """The project's params.yaml as the experiment left it (data.source: file), in ``lang``."""
    import yaml

    params = yaml.safe_load((dest / "params.yaml").read_text(encoding="utf-8"))
    params["report"]["lang"] = lang
    return params
