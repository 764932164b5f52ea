"""Strings from the data are shown as text, never run: HTML is autoescaped, Typst reads them as data.

A results fixture whose table headers (specification names), data file name, report title, city
names (SOURCES.md) and machine strings (the CPU/OS of the replication section) carry HTML and Typst
syntax must yield reports that show those strings literally and contain no file of the machine.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from analysis.config import load_params
from analysis.report import build, replication
from analysis.report.webfont import visible_text

HOSTILE = '<script>alert(1)</script> #read("/etc/hostname") \\# ] $ {'


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _hostname() -> str:
    try:
        return Path("/etc/hostname").read_text().strip()
    except OSError:
        return socket.gethostname()


@pytest.fixture(scope="module")
def hostile_inputs(tmp_path_factory, make_report_inputs):
    root = tmp_path_factory.mktemp("hostile")
    inputs = make_report_inputs(root)
    table = pd.read_csv(inputs.tables / "twfe_joint.csv")
    table["specification"] = table["specification"].replace({"no controls": f"spec {HOSTILE}"})
    table.to_csv(inputs.tables / "twfe_joint.csv", index=False)
    overview = json.loads((inputs.results / "overview.json").read_text())
    overview["data_source"] = "file"
    (inputs.results / "overview.json").write_text(json.dumps(overview))
    sources = inputs.sources_md.read_text(encoding="utf-8").replace(
        "## rail_links.csv", f"- City aliases: 义乌 {HOSTILE}\n\n## rail_links.csv", 1
    )
    inputs.sources_md.write_text(sources, encoding="utf-8")
    return inputs


@pytest.fixture(scope="module", params=["en", "zh"])
def hostile_report(request, hostile_inputs):
    mp = pytest.MonkeyPatch()
    real = replication.hardware
    mp.setattr(
        replication,
        "hardware",
        lambda: {**real(), "cpu": f"cpu {HOSTILE}", "os": f"warning: {HOSTILE}"},
    )
    params = load_params()
    params["report"].update(
        lang=request.param, title=f"Title {HOSTILE}", title_zh=f"标题 {HOSTILE}"
    )
    params["data"] = {
        **params.get("data", {}),
        "source": "file",
        "file": f"data/raw/{HOSTILE}.xlsx",
    }
    out = hostile_inputs.root / "reports" / request.param
    try:
        build.build_report(params, out, hostile_inputs)
    finally:
        mp.undo()
    pdf = "\n".join(page.extract_text() for page in PdfReader(out / "report.pdf").pages)
    return {
        "lang": request.param,
        "out": out,
        "html": (out / "report.html").read_text(encoding="utf-8"),
        "pdf": pdf,
    }


def test_html_escapes_data(hostile_report):
    html = hostile_report["html"]
    assert (
        "<script" not in html.lower()
    )  # the report has no script of its own; the data's is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    shown = visible_text(html)
    # title (twice: <title>, <h1>), table header, data file (data section, data availability), CPU, OS
    assert shown.count(HOSTILE) >= 6
    assert f"data/raw/{HOSTILE}.xlsx" in shown and f"spec {HOSTILE}" in shown


def test_pdf_shows_data_literally(hostile_report):
    pdf = _squash(hostile_report["pdf"])
    for needle in (
        f"spec {HOSTILE}",
        f"data/raw/{HOSTILE}.xlsx",
        f"cpu {HOSTILE}",
        f"warning: {HOSTILE}",
    ):
        assert _squash(needle) in pdf, needle
    assert pdf.count(_squash(HOSTILE)) >= 5


def test_city_names_of_the_appendix(hostile_report):
    if hostile_report["lang"] != "en":
        pytest.skip(
            "the zh appendix is the translation, which does not carry the fixture's extra line"
        )
    # SOURCES.md is Markdown: its backslash escape \\# reads as #; everything else stays as typed
    line = f"City aliases: 义乌 {HOSTILE}".replace("\\#", "#")
    assert _squash(line) in _squash(hostile_report["pdf"])
    assert line in visible_text(hostile_report["html"])


def test_no_file_of_the_machine(hostile_report):
    name = _hostname()
    assert name, "no hostname to look for"
    for text in (hostile_report["pdf"], visible_text(hostile_report["html"])):
        assert name not in text.replace('"/etc/hostname"', "")


def test_typst_source_holds_no_data(hostile_report):
    typ = (hostile_report["out"] / "report.typ").read_text(encoding="utf-8")
    assert HOSTILE not in typ and "alert(1)" not in typ
    data = json.loads((hostile_report["out"] / "report.json").read_text(encoding="utf-8"))
    assert HOSTILE in json.dumps(data, ensure_ascii=False).replace("\\\\", "\\").replace('\\"', '"')
