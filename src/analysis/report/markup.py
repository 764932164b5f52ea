"""Report prose -> "runs": the one inline representation both output formats render.

A run is ``{"s": text, "em": bool, "strong": bool, "code": bool}``. Prose in report/text/*.yaml is
Markdown (parsed by mistune, so emphasis and escapes follow CommonMark) with ``{name}``
placeholders. Placeholders are filled *after* parsing, into the text of the runs: a value from the
data is never parsed as markup, and the renderers print run text as text (Jinja autoescapes it for
HTML; Typst reads it from JSON as a string), so no data string can become HTML or Typst code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import mistune

_PARSE = mistune.create_markdown(renderer=None)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A line break in the source text is a space between words; next to CJK punctuation, or between
# two CJK characters, it is nothing (Chinese prose is wrapped in the YAML source like English).
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef\u2014\u201c\u201d"
_CJK = "\u2e80-\u9fff\uf900-\ufaff" + _CJK_PUNCT
_BREAK_CJK = re.compile(
    rf"(?<=[{_CJK}])[ \t]*\n[ \t]*(?=[{_CJK}])|(?<=[{_CJK_PUNCT}])[ \t]*\n[ \t]*"
    rf"|[ \t]*\n[ \t]*(?=[{_CJK_PUNCT}])"
)


def unwrap(text: str) -> str:
    """Join the lines of a paragraph: drop the break next to CJK text, keep a space elsewhere."""
    return re.sub(r"[ \t]*\n[ \t]*", " ", _BREAK_CJK.sub("", text.strip()))


def _inline(tokens: list[dict], style: dict, out: list[dict]) -> None:
    for tok in tokens:
        kind = tok["type"]
        if kind == "text" or kind == "inline_html":  # raw HTML in prose is shown as text
            out.append({"s": tok["raw"], **style})
        elif kind == "codespan":
            out.append({"s": tok["raw"], **style, "code": True})
        elif kind in ("emphasis", "strong"):
            _inline(tok["children"], {**style, "em" if kind == "emphasis" else "strong": True}, out)
        elif kind == "link":
            _inline(tok["children"], style, out)
        elif kind in ("softbreak", "linebreak"):
            out.append({"s": " ", **style})
        else:  # pragma: no cover - a construct the report text does not use
            raise ValueError(f"unsupported inline markup {kind!r}")


def _fill(runs: list[dict], values: Mapping[str, object]) -> list[dict]:
    """Fill the placeholders of ``runs``: a string value goes into the run's text; a value that is
    itself runs (a list, e.g. a translated reason with a code span) is spliced in, each of its
    runs taking the surrounding run's emphasis as well as its own style."""
    out = []
    for run in runs:
        pos = 0
        for m in _PLACEHOLDER.finditer(run["s"]):
            if m.group(1) not in values:
                raise KeyError(
                    f"report text uses {{{m.group(1)}}}, which the report does not provide"
                )
            value = values[m.group(1)]
            if isinstance(value, list):
                out.append({**run, "s": run["s"][pos : m.start()]})
                for inner in value:
                    out.append(
                        {**inner, **{k: inner[k] or run[k] for k in ("em", "strong", "code")}}
                    )
            else:
                out.append({**run, "s": run["s"][pos : m.start()] + str(value)})
            pos = m.end()
        out.append({**run, "s": run["s"][pos:]})
    return out


def _merge(runs: list[dict]) -> list[dict]:
    """Join neighbouring runs of the same style (smaller JSON, simpler PDF text)."""
    out: list[dict] = []
    for run in runs:
        if out and all(out[-1][k] == run[k] for k in ("em", "strong", "code")):
            out[-1] = {**out[-1], "s": out[-1]["s"] + run["s"]}
        elif run["s"]:
            out.append(run)
    return out


PLAIN = {"em": False, "strong": False, "code": False}


def inline(text: str, values: Mapping[str, object] | None = None) -> list[dict]:
    """One paragraph of Markdown prose -> runs, placeholders filled from ``values``."""
    runs: list[dict] = []
    for block in _PARSE(unwrap(text)):
        if block["type"] == "blank_line":
            continue
        if block["type"] != "paragraph":
            raise ValueError(
                f"report prose must be one paragraph, got {block['type']!r}: {text[:60]!r}"
            )
        if runs:
            runs.append({"s": " ", **PLAIN})
        _inline(block["children"], dict(PLAIN), runs)
    return _merge(_fill(runs, values or {}))


def literal(text: object, **style: bool) -> list[dict]:
    """Data shown as it is (never parsed as Markdown)."""
    return [{"s": str(text), **PLAIN, **style}]


def join(*parts: list[dict]) -> list[dict]:
    return _merge([run for part in parts for run in part])


def document_blocks(markdown: str) -> list[dict]:
    """A Markdown document (e.g. data/reference/SOURCES.md) -> blocks: ``{"kind": "heading",
    "level", "runs"}``, ``{"kind": "para", "runs"}`` and ``{"kind": "list", "items": [runs]}``."""
    blocks = []
    for block in _PARSE(markdown):
        kind = block["type"]
        if kind == "heading":
            runs: list[dict] = []
            _inline(block["children"], dict(PLAIN), runs)
            blocks.append(
                {"kind": "heading", "level": block["attrs"]["level"], "runs": _merge(runs)}
            )
        elif kind == "paragraph":
            runs = []
            _inline(block["children"], dict(PLAIN), runs)
            blocks.append({"kind": "para", "runs": _merge(runs)})
        elif kind == "list":
            items = []
            for item in block["children"]:
                runs = []
                for child in item["children"]:
                    _inline(child.get("children", []), dict(PLAIN), runs)
                items.append(_merge(runs))
            blocks.append(
                {"kind": "list", "ordered": bool(block["attrs"].get("ordered")), "items": items}
            )
    return blocks


def plain_text(runs: list[dict]) -> str:
    return "".join(r["s"] for r in runs)
