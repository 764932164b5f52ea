"""What a reader of a report reads, and the check that a Chinese report has no English in it
outside an allow-list (names, references, code identifiers, estimator acronyms), and no sentence
said twice. Shared by tests/report/test_report_render.py (the synthetic report) and
tests/report/test_user_panel_reports.py (reports on user panels)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from pypdf import PdfReader

from analysis.report import build, markup
from analysis.report.replication import replication_section

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
        "ACRT",  # average causal response on the treated (Callaway, Goodman-Bacon & Sant'Anna 2024)
        "Mbar",
        "RMSE",
        "Wald",
        "GDP",
        "PSM",
        "FDI",
        "DVC",
        "sha256",
        "SHA",
        "DOI",
        "NBER",
        "WP",
        "QJE",
        "AER",
        "GB",
        "PyPI",
        "MIT",
        "Admin",
        "AR",  # AR(1), the autoregressive shock of the design calibration
        "dCDH",  # de Chaisemartin & D'Haultfœuille's estimator, cited in the references
        "sup-t",  # the sup-t critical value of a uniform band (the CGS dose-response figure)
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
        "Romano-Wolf",  # stepdown procedures named by their authors (cited in the references)
        "Westfall-Young",
        "Bell-McCaffrey",  # the degrees of freedom of the CGS band (Bell & McCaffrey 2002)
        "Clarmy",
        "Zenodo",
        "Albers",
    ]
    # the variable names of the TWFE equation
    + ["log", "exports", "pilot", "rail", "broadband"]
)
WORD = re.compile(r"[A-Za-zœ]+(?:['’-][A-Za-zœ]+)*")


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def code_and_data_words(built) -> set[str]:
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


def allowed_words(built) -> set[str]:
    from analysis.report.paper import references

    refs = " ".join(references())
    allowed = ALLOWED_IN_ZH | code_and_data_words(built) | set(WORD.findall(refs))
    allowed |= {
        "-".join(parts[i:j])
        for parts in (word.split("-") for word in WORD.findall(refs))
        for i in range(len(parts))
        for j in range(i + 1, len(parts) + 1)
    }  # words split at a line end (difference-in | differences)
    return allowed | set(WORD.findall(built["doc"]["title"]))


HEX = re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{8,}")  # a SHA-256 (or its part on a line) is data


def english_words(text_: str, allowed: set[str]) -> list[str]:
    text_ = HEX.sub(" ", text_)
    return sorted({w for w in WORD.findall(text_) if len(w) > 1 and w not in allowed})


# --- sentences said twice -----------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*])|(?<=[。！？])")
MIN_SENTENCE = {"en": 30, "zh": 12}  # shorter pieces (labels, notes like "SYNTHETIC data.") repeat


def _prose(doc: dict) -> list[str]:
    """The prose of a report document: abstract, paragraphs, list items, captions (not table cells,
    provenance lines, headings or the list of references)."""
    out = [markup.plain_text(doc["abstract"]["runs"])]
    for section in doc["sections"]:
        if section["id"] == "references":
            continue
        for b in section["blocks"]:
            if b["kind"] == "para":
                out.append(markup.plain_text(b["runs"]))
            elif b["kind"] == "list":
                out += [markup.plain_text(item) for item in b["items"]]
            elif b["kind"] in ("table", "figure") and b.get("caption"):
                out.append(markup.plain_text(b["caption"]))
            elif b["kind"] == "equation":
                out.append(markup.plain_text(b["lead"]))
    return out


def sentences(doc: dict) -> list[str]:
    """Every sentence of the report's prose, whitespace normalised."""
    out = []
    for block in _prose(doc):
        for s in _SENTENCE_END.split(block):
            s = " ".join(s.split())
            if s:
                out.append(s)
    return out


def repeated_sentences(doc: dict) -> dict[str, int]:
    """Sentences (long enough to be statements) that occur more than once, with their count."""
    floor = MIN_SENTENCE.get(doc["lang"], 30)
    counts: dict[str, int] = {}
    for s in sentences(doc):
        if len(s) >= floor:
            counts[s] = counts.get(s, 0) + 1
    return {s: n for s, n in counts.items() if n > 1}
