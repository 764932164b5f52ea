"""One p-value convention (issue 11, item 5): 3 significant digits, bounds at the floor of a
resampling test and below 1e-4 for analytic p-values, never a p-value printed as 0."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from analysis.report.number_format import at_floor, format_p, resampling_floor
from analysis.report.paper import text
from analysis.report.webfont import visible_text

# "p = 0.0497", "p < 0.0001", "p ≤ 0.001", "p-value of 0.001", "p 值 0.001": relation and number
P_VALUE = re.compile(r"(?<![A-Za-z])p(?:-value of|\s*值)?\s*([=<≤]?)\s*(\d[\d.]*)")


@pytest.mark.parametrize(
    ("p", "draws", "expected"),
    [
        # analytic: 3 significant digits, trailing zeros kept, a bound below 1e-4
        (0.6095024388, None, "p = 0.610"),
        (0.0688012995, None, "p = 0.0688"),
        (0.0496908456, None, "p = 0.0497"),
        (0.0001281198, None, "p = 0.000128"),
        (0.1, None, "p = 0.100"),
        (1.0, None, "p = 1.00"),
        (0.0009996, None, "p = 0.00100"),  # rounding carries into a new digit
        (9.9e-5, None, "p < 0.0001"),
        (0.0, None, "p < 0.0001"),  # a float that underflowed is not an exact zero
        # randomization inference (1 + #)/(1 + B): at the floor it equals 1/(B + 1)
        (1 / 1000, 999, "p ≤ 0.001"),
        (0.000999001, 1000, "p ≤ 0.001"),  # 1/1001 as the results files store it (10 decimals)
        (1 / 501, 500, "p ≤ 0.002"),  # 0.001996 rounded *up*: the printed bound stays true
        (2 / 1001, 1000, "p = 0.00200"),  # one draw as extreme: above the floor, a number
        # wild bootstrap #/B: no t* as extreme gives 0, below 1/(B + 1)
        (0.0, 9999, "p < 0.0001"),
        (0.0, 999, "p < 0.001"),
        (1 / 9999, 9999, "p = 0.000100"),
        (0.0343, 9999, "p = 0.0343"),
        (5e-5, 99999, "p = 0.0000500"),  # above its floor 1e-5: resolved, so printed
        (None, None, "n/a"),
        (float("nan"), 999, "n/a"),
    ],
)
def test_format_p(p, draws, expected):
    out = format_p(p, draws)
    assert out.replace("\u00a0", " ") == expected
    assert " " not in out  # no-break spaces: the expression is never split across lines


@pytest.mark.parametrize("p", [-0.01, 1.2])
def test_impossible_p_value_is_an_error(p):
    with pytest.raises(ValueError, match="outside"):
        format_p(p)


@pytest.mark.parametrize("draws", [9, 19, 99, 199, 499, 500, 999, 1000, 1999, 4999, 9999, 99_999])
def test_floor_bound_is_true_and_never_zero(draws):
    """At the floor the printed bound is >= 1/(B+1) and has one significant digit."""
    floor = resampling_floor(draws)
    for p in (floor, 0.0):
        out = format_p(p, draws)
        relation, number = re.fullmatch(r"p\s([<≤])\s(\d\.?\d*)", out).groups()
        assert relation == ("≤" if p else "<")
        assert Decimal(number) >= Decimal(repr(floor)) > 0
        assert len(Decimal(number).normalize().as_tuple().digits) == 1
    assert at_floor(floor, draws) and not at_floor(2 * floor, draws)


def _p_values(text_: str) -> list[tuple[str, str]]:
    return P_VALUE.findall(re.sub(r"\s+", " ", text_))


def _zeros(text_: str) -> list[str]:
    return [f"p {rel} {num}" for rel, num in _p_values(text_) if float(num.rstrip(".")) == 0]


def test_the_zero_check_can_fail():
    for bad in ("p = 0", "p = 0.0", "p=0.000", "p = 0.0000", "p-value of 0.000", "p 值 0.0"):
        assert _zeros(f"text ({bad}).") != [], bad
    assert _zeros("p = 0.0497, p < 0.0001, p ≤ 0.001, * p < 0.1") == []


@pytest.fixture(scope="module", params=["en", "zh"])
def rendered(request, built_reports):
    out = built_reports[request.param]
    pdf = "\n".join(page.extract_text() for page in PdfReader(out / "report.pdf").pages)
    html = visible_text((out / "report.html").read_text(encoding="utf-8"))
    results = json.loads((out.parents[1] / "output" / "results" / "robustness.json").read_text())
    return {"lang": request.param, "html": html, "pdf": pdf, "robustness": results}


def test_no_p_value_printed_as_zero(rendered):
    for fmt in ("html", "pdf"):
        found = _p_values(rendered[fmt])
        # the star legend (3) and the four p-values of the text: the check looks at something
        assert len(found) >= 7, (fmt, found)
        assert _zeros(rendered[fmt]) == [], fmt


def test_resampling_floors_printed_as_bounds(rendered):
    """Each resampling p-value is printed as format_p gives it for its own number of draws: a bound
    at its floor, a number above it; the floor note is printed exactly when a bound is."""
    rob = rendered["robustness"]
    placebo, wild = rob["placebo"], rob["wild_bootstrap"]
    assert placebo["draws"] == 999 and wild["B"] == 9999  # the published resolutions
    resampled = [(placebo["p_value"], placebo["draws"]), (wild["p_value"], wild["B"])]
    any_floor = any(at_floor(p, b) for p, b in resampled)
    note = re.sub(r"\s+", "", text(rendered["lang"])["results"]["p_floor_note"])[:20]
    for fmt in ("html", "pdf"):
        flat = re.sub(r"\s+", "", rendered[fmt])
        for p, draws in resampled:
            printed = re.sub(r"\s+", "", format_p(p, draws))
            assert printed in flat, (fmt, printed)
            if at_floor(p, draws):  # a bound is never shown as if exact
                assert printed.replace("≤", "=").replace("<", "=") not in flat, fmt
        assert (note in flat) == any_floor, fmt  # the bound is explained where it is printed
    # analytic p-values: 3 significant digits (e.g. p=0.762, p=0.0462), never more
    for fmt in ("html", "pdf"):
        flat = re.sub(r"\s+", "", rendered[fmt])
        three = re.findall(r"p=0\.0*[1-9]\d{2}(?!\d)", flat)
        assert len(three) >= 2, (fmt, three)
        assert not re.findall(r"p=0\.0*[1-9]\d{3,}", flat), fmt
