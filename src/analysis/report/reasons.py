"""Why something did not run, in the report's language.

The studies and the design check write their skip and drop reasons in English (the results files,
the notebooks and the ingest report are English). The report translates them by ONE mechanism:
``reasons`` in report/text/en.yaml holds every reason the code can write, as a template with
``{placeholders}`` (the English template is the pattern: each placeholder matches any text), and
the same key in another language's text file holds its translation. A reason is matched against
the English templates in file order (put a specific template before a general one); the values
of its placeholders are carried over, translated by their name:

``treatment``, ``variable``  a variable name (``pilot``, ``log_fdi``) -> ``variables``;
``variables``                a comma-separated list of variable names -> ``variables``;
``cluster``                  a cluster column (``province``) -> ``clusters``;
``reason``                   another reason, translated by the same table;
anything else                copied as it is: numbers, years, shares, and machine text (an
                             exception, a column, a cell of the user's file), which the
                             translation shows as code by writing its placeholder in backticks.

The ingest report's warnings (data/processed/panel_report.md) go through the same table.

A reason no template matches is shown as it is, in English, and flagged (:func:`unknown`): the
report tests fail on English words in a Chinese report, so a new reason in the code needs its
template here rather than leaking into the Chinese text.
"""

from __future__ import annotations

import re
import warnings
from functools import cache

from analysis.report import markup

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
VARIABLE_KEYS = ("treatment", "variable")


@cache
def _pattern(template: str) -> re.Pattern:
    """The English template as a regex: literal text, each placeholder a named lazy group."""
    parts, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        parts.append(f"(?P<{m.group(1)}>.+?)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts), re.DOTALL)


def match(reason: str, en: dict) -> tuple[str, dict[str, str]] | None:
    """(template key, placeholder values) of the first English template ``reason`` matches."""
    text = reason.strip().rstrip(".")
    for key, template in en["reasons"].items():
        m = _pattern(template).fullmatch(text)
        if m:
            return key, m.groupdict()
    return None


def _variable(name: str, t: dict) -> str:
    return t["variables"].get(name.strip(), name.strip())


def translate(reason: str, t: dict, en: dict) -> list[dict]:
    """``reason`` (English, as a study wrote it) as runs in the language of ``t``."""
    if t["lang"] == en["lang"]:
        return markup.literal(reason)
    hit = match(reason, en)
    if hit is None:
        unknown.add(reason)
        warnings.warn(
            f"report/text/{t['lang']}.yaml: no translation of the reason {reason!r} "
            "(add a template under 'reasons' in en.yaml and its translation)",
            stacklevel=2,
        )
        return markup.literal(reason)
    key, found = hit
    values: dict[str, object] = {}
    for name, value in found.items():
        if name in VARIABLE_KEYS:
            values[name] = _variable(value, t)
        elif name == "variables":
            values[name] = t["enum_sep"].join(_variable(v, t) for v in value.split(","))
        elif name == "cluster":
            values[name] = t["clusters"].get(value, value)
        elif name == "reason":
            values[name] = translate(value, t, en)
        else:
            values[name] = value
    return markup.inline(t["reasons"][key], values)


unknown: set[str] = set()
"""Reasons met without a template since the process started (a test reads it)."""
