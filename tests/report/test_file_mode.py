"""The report in real-data mode (``data.source: file``): no truth and no SYNTHETIC badge; the input
files with their SHA-256, the panel's coverage and controls (design check), the ingest report's
warnings; and a sentence, with the reason, for every study, estimator and check that did not run.
File names and warnings come from the user: they must reach both formats as text."""

from __future__ import annotations

import hashlib
import json

import pytest

from analysis import results_io
from analysis.config import load_params
from analysis.report import build

SA_SKIP = "no never-treated city and a single cohort: no clean control cohort"
HOSTILE = '<img src=x onerror=alert(1)> #set text(red) 城市"名'


def _file_mode(inputs, tmp_path):
    """Turn the published results into those of a user's file on which the coverage study, the
    Sun-Abraham estimator for rail and the wild bootstrap could not run."""
    res = inputs.results
    for name in ("overview", "pilot_zones", "rail_links", "network_coverage", "robustness"):
        path = res / f"{name}.json"
        data = results_io.read_json(path)
        data["data_source"] = "file"
        data.pop("true_att_overall", None)
        data.pop("true_elasticity", None)
        if name == "rail_links":
            data["robust"]["sa"] = {"skipped": SA_SKIP, "label": "Sun-Abraham"}
        if name == "network_coverage":
            data = {
                "treatment": "log_broadband",
                "skipped": "broadband is not in the data",
                "twfe": {"skipped": "broadband is not in the data"},
                "data_source": "file",
            }
        if name == "robustness":
            data["wild_bootstrap"] = {"skipped": "4 province clusters (< 5)"}
            data["skips"] = {"wild_bootstrap": "4 province clusters (< 5)"}
        results_io.write_json(path, data)
    raw = inputs.root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    user = raw / "my_panel.csv"
    user.write_text("城市,年份,货物出口额\n杭州市,2015,1\n", encoding="utf-8")
    processed = inputs.root / "data" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    design = {
        "first_year": 2011,
        "last_year": 2022,
        "n_years": 12,
        "n_cities": 87,
        "n_city_years": 1044,
        "balanced": False,
        "cities_with_gaps": 3,
        "controls_used": ["log_gdp_pc"],
        "controls_dropped": {"log_fdi": "not in the data"},
        "balancing": "No balancing needed.",
    }
    (processed / "design.json").write_text(json.dumps(design), encoding="utf-8")
    (processed / "panel_report.md").write_text(
        f"# Validation report\n\n## Warnings\n\n- {HOSTILE}\n\n## Columns\n\n- not a warning\n",
        encoding="utf-8",
    )
    params = load_params()
    params["data"].update(source="file", file="data/raw/my_panel.csv")
    return params, hashlib.sha256(user.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def file_reports(tmp_path_factory, make_report_inputs):
    root = tmp_path_factory.mktemp("file_mode")
    inputs = make_report_inputs(root)
    params, digest = _file_mode(inputs, root)
    out = {}
    for lang in ("en", "zh"):
        params["report"]["lang"] = lang
        out[lang] = root / "reports" / lang
        build.build_report(params, out[lang], inputs)
    return out, digest


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_file_mode_report(file_reports, lang):
    out, digest = file_reports
    html = (out[lang] / "report.html").read_text(encoding="utf-8")
    doc = json.loads((out[lang] / "report.json").read_text(encoding="utf-8"))
    text = json.dumps(doc, ensure_ascii=False)
    assert not doc["synthetic"] and "SYNTHETIC DATA" not in html
    assert "recovery" not in html.lower()
    # the input file and its SHA-256
    assert "data/raw/my_panel.csv" in html and digest in html
    # coverage and controls from the design check, in the report's language
    dropped = {"en": "log FDI (not in the data)", "zh": "外商直接投资对数（数据中没有该变量）"}
    assert "2011-2022 (12)" in html and "1044" in html and dropped[lang] in html
    # no truth: the overall table has no truth or bias column
    overall = next(
        b
        for s in doc["sections"]
        for b in s["blocks"]
        if b["kind"] == "table" and b.get("columns") in (4, 6) and "95%" in "".join(b["header"])
    )
    assert overall["columns"] == 4
    # skips, with their reasons (translated in the Chinese report)
    reasons = {
        "en": [
            "broadband is not in the data",
            "no clean control cohort",
            "4 province clusters (< 5)",
        ],
        "zh": ["数据中没有宽带变量", "没有干净的对照队列", "只有 4 个省份聚类（少于 5 个）"],
    }
    for why in reasons[lang]:
        assert why in text, why
    # the figure of the skipped coverage study is not embedded; a sentence says why
    assert "coverage_dose_response" not in {
        b.get("stem") for s in doc["sections"] for b in s["blocks"]
    }
    # the ingest warning is shown as text: escaped in HTML, not a tag
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert json.dumps(HOSTILE, ensure_ascii=False)[1:-1] in text
    assert "not a warning" not in text


def test_file_mode_pdf_shows_the_warning_literally(file_reports):
    from pypdf import PdfReader

    out, digest = file_reports
    reader = PdfReader(out["en"] / "report.pdf")
    pdf = "".join(page.extract_text() for page in reader.pages)
    assert "onerror=alert(1)" in pdf and "#set text(red)" in pdf
    assert digest[:16] in pdf.replace("\n", "")
