"""Both languages, both formats: every section, the self-contained HTML, no English in zh."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from analysis.config import load_params
from analysis.report import build, markup
from analysis.report.exhibits import of_kind
from analysis.report.paper import SECTIONS, text
from analysis.report.replication import replication_section
from analysis.report.webfont import visible_text

# English tokens a Chinese report may keep: estimator and test acronyms, proper names of methods'
# authors in citations, statistics symbols, the variable names of the TWFE equation.
ALLOWED_IN_ZH = set(
    # estimators, tests, units and data sets by their acronyms
    [
        "TWFE",
        "ATT",
        "BJS",
        "CS",
        "SA",
        "DiD",
        "HonestDiD",
        "Mbar",
        "RMSE",
        "Wald",
        "GDP",
        "PSM",
        "FDI",
        "DVC",
        "sha256",
        "DOI",
        "NBER",
        "WP",
        "QJE",
        "AER",
        "GB",
        "PyPI",
        "MIT",
        "Admin",
    ]
    # authors in citations and proper names (of methods, of the map data's author, archive, projection)
    + [
        "Callaway",
        "Sant'Anna",
        "Sun",
        "Abraham",
        "Goodman-Bacon",
        "Goodman",
        "Bacon",
        "de",
        "Chaisemartin",
        "D'Haultfœuille",
        "Borusyak",
        "Jaravel",
        "Spiess",
        "Callaway-Sant'Anna",
        "Sun-Abraham",
        "Borusyak-Jaravel-Spiess",
        "Clarmy",
        "Zenodo",
        "Albers",
    ]
    # the variable names of the TWFE equation
    + ["log", "exports", "pilot", "rail", "broadband"]
)
WORD = re.compile(r"[A-Za-zœ]+(?:['’-][A-Za-zœ]+)*")


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture(scope="module", params=["en", "zh"])
def built(request, report_inputs):
    params = load_params()
    params["report"]["lang"] = request.param
    out = report_inputs.root / "reports" / request.param
    paths = build.build_report(params, out, report_inputs)
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    return {
        "lang": request.param,
        "root": report_inputs.root,
        "params": params,
        "out": out,
        "paths": paths,
        "doc": doc,
        "html": html,
        "pdf": _pdf_text(out / "report.pdf"),
    }


def test_outputs_written(built):
    names = [p.name for p in built["paths"]]
    assert names[:3] == ["report.html", "report.typ", "report.pdf"] and "report.json" in names
    assert (built["out"] / "report.pdf").read_bytes().startswith(b"%PDF")
    # report.typ is the fixed skeleton: no value of the data in it
    typ = (built["out"] / "report.typ").read_text(encoding="utf-8")
    assert "0.114" not in typ and built["doc"]["title"] not in typ


def test_every_section_in_both_formats(built):
    t = text(built["lang"])
    pdf = re.sub(r"\s+", "", built["pdf"])
    assert [s["id"] for s in built["doc"]["sections"]] == list(SECTIONS)
    for key in ("abstract", *SECTIONS):
        heading = t["headings"][key]
        assert heading in built["html"], (key, heading)
        assert re.sub(r"\s+", "", heading) in pdf, (key, heading)
    for n in range(1, 11):
        assert t["figure_label"].format(n=n) in built["html"]
        assert re.sub(r"\s+", "", t["figure_label"].format(n=n)) in pdf
    for n in (1, 2, 3, 4):
        assert re.sub(r"\s+", "", t["table_label"].format(n=n)) in pdf
    # the numbers: the same results in both languages and formats (headline, TWFE table, Bacon)
    for number in ("0.114", "0.0890***", "(0.0166)", "0.044", "4718"):
        assert number in built["html"] and number in built["pdf"]
    # the replication package once, with the appendix after it
    assert built["html"].count(f"<h2>{t['headings']['replication']}</h2>") == 1
    assert built["html"].count(t["headings"]["replication"]) == 1
    assert built["pdf"].count(t["headings"]["replication"]) == 1


def test_caption_note_is_separated(built):
    assert "data.Source" not in built["pdf"] and "data.Source" not in built["html"]
    if built["lang"] == "en":
        assert (
            "SYNTHETIC data. Source:" not in built["html"]
        )  # the note and the source line are two lines
        assert "SYNTHETIC data.</strong><br>" in built["html"]


def test_html_is_self_contained(built, tmp_path):
    html = built["html"]
    srcs = re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r'url\("([^"]*)"\)', html)
    assert srcs, "no links or images found"
    for target in srcs:
        assert not re.match(r"(?i)(https?:)?//", target), target  # no network request
        assert not target.startswith("/"), target  # no absolute path of this machine
    images = re.findall(r'<img src="([^"]*)"', html)
    assert len(images) == len(of_kind("figure")) and all(
        s.startswith("data:image/png;base64,") for s in images
    )
    # the CJK font, subset to the glyphs used, in @font-face
    face = re.search(
        r'@font-face \{ font-family: "Report CJK"; src: url\("data:font/woff;base64,([^"]+)"\)',
        html,
    )
    assert face, "no embedded CJK font"
    assert len(face.group(1)) < (
        1_500_000 if built["lang"] == "zh" else 200_000
    )  # a subset, not 16 MB
    # notebook links relative: they resolve after moving reports/ together with output/notebooks
    moved = tmp_path / "elsewhere"
    shutil.copytree(built["root"] / "reports", moved / "reports")
    shutil.copytree(built["root"] / "output" / "notebooks", moved / "output" / "notebooks")
    links = re.findall(r'<a href="([^"]+)"', html)
    assert len(links) == len(of_kind("figure"))
    for link in links:
        assert (moved / "reports" / built["lang"] / link).resolve().is_file(), link


def test_font_subset_covers_the_page(built):
    import base64
    from io import BytesIO

    from fontTools.ttLib import TTFont

    face = re.search(r'url\("data:font/woff;base64,([^"]+)"\)', built["html"]).group(1)
    cmap = TTFont(BytesIO(base64.b64decode(face))).getBestCmap()
    cjk = {c for c in visible_text(built["html"]) if "\u4e00" <= c <= "\u9fff"}
    assert cjk and all(
        ord(c) in cmap for c in cjk
    )  # every Chinese character of the page has its glyph
    assert len(cmap) < 2000


def _code_and_data_words(built) -> set[str]:
    """Words the zh report may show in Latin letters: code spans, provenance lines (commit, params),
    and the machine/pipeline facts of the replication section (stage names, files, CPU, packages)."""
    words: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if {"s", "code"} <= node.keys() and node["code"]:
                words.update(WORD.findall(node["s"]))
            for key, value in node.items():
                if key == "source":
                    words.update(WORD.findall(markup.plain_text(value)))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(built["doc"])
    rep = replication_section(built["root"], built["params"], build.EXHIBITS)
    words.update(WORD.findall(" ".join(_values(rep))))  # the values only, not the keys
    return words


def _values(node) -> list[str]:
    if isinstance(node, dict):
        return [v for value in node.values() for v in _values(value)]
    if isinstance(node, list):
        return [v for item in node for v in _values(item)]
    return [] if node is None else [str(node)]


class _Readable(HTMLParser):
    """The text a reader of the HTML reads as prose: outside <style>, <script> and elements marked
    translate="no" (code and the equation's variable names); one space between elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        skip = tag in ("style", "script") or dict(attrs).get("translate") == "no"
        self.stack.append(skip or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


VOID = {"br", "img", "meta", "link", "hr", "input"}


def readable_text(html: str) -> str:
    parser = _Readable()
    parser.feed(html)
    return " ".join(parser.parts)


def _allowed(built) -> set[str]:
    from analysis.report.paper import references

    refs = " ".join(references())
    allowed = ALLOWED_IN_ZH | _code_and_data_words(built) | set(WORD.findall(refs))
    allowed |= {
        "-".join(parts[i:j])
        for parts in (word.split("-") for word in WORD.findall(refs))
        for i in range(len(parts))
        for j in range(i + 1, len(parts) + 1)
    }  # words split at a line end (difference-in | differences)
    return allowed | set(WORD.findall(built["doc"]["title"]))


def _english_words(text_: str, allowed: set[str]) -> list[str]:
    return sorted({w for w in WORD.findall(text_) if len(w) > 1 and w not in allowed})


def test_zh_has_no_english_outside_the_allow_list(built, report_inputs):
    if built["lang"] != "zh":
        pytest.skip("the English report")
    allowed = _allowed(built)
    assert _english_words(readable_text(built["html"]), allowed) == []
    assert _english_words(built["pdf"], allowed) == []


def test_the_zh_check_can_fail(built):
    """The allow-list check flags an untranslated sentence (guards against a vacuous test)."""
    if built["lang"] != "zh":
        pytest.skip("the English report")
    allowed = _allowed(built)
    assert _english_words(built["pdf"] + " Replication package", allowed) == [
        "Replication",
        "package",
    ]
    html = built["html"].replace("</body>", "<p>Source: <code>x</code></p></body>")
    assert _english_words(readable_text(html), allowed) == ["Source"]
