"""How p-values are printed, everywhere (report text, tables, figures, notebooks): one convention.


- an analytic p-value (Wald, t) has 3 significant digits (``p = 0.0497``, ``p = 0.610``); below
  1e-4 it is the bound ``p < 0.0001`` (a normal tail that small is not worth more digits, and a
  float that underflowed to 0.0 is not "exactly zero");
- a resampling p-value (randomization inference ``(1 + #extreme) / (1 + B)``, wild bootstrap
  ``#extreme / B``) cannot be smaller than the resolution of its ``B`` draws. At that floor it is
  printed as a bound on ``1 / (B + 1)`` rounded *up* to one significant digit, so the printed bound
  stays true: ``p ≤ 0.001`` when the p-value equals ``1 / (B + 1)`` (randomization inference,
  B = 999 or 1,000), ``p < 0.0001`` when it is below it (wild bootstrap, no t* as extreme as t,
  B = 9,999). Above the floor it has 3 significant digits like an analytic p-value.

The floor is recognised from ``B`` alone (``p <= 1/(B+1)``), so the results files only need to
carry the number of draws next to the p-value; neither a flag nor the count of extreme draws is
needed (they would be welcome, see the report of issue 11).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

from analysis.results_io import DIGITS, SIGNIFICANT

ANALYTIC_FLOOR = 1e-4
# "p = 0.061" is one expression: no-break spaces keep a line break out of it (HTML and Typst alike)
NBSP = "\u00a0"
# The results files round floats to SIGNIFICANT significant digits (1/1000 is stored as
# 0.000999001): a p-value equals the floor 1/(B+1) up to that rounding.
_ABS_TOL = 10.0**-DIGITS
_REL_TOL = 10.0 ** (1 - SIGNIFICANT)


def _digits(value: float, significant: int) -> str:
    """``value`` (0 < value <= 1) with ``significant`` digits, trailing zeros kept, no exponent."""
    decimals = max(significant - 1 - math.floor(math.log10(value)), 0)
    text = f"{value:.{decimals}f}"
    # rounding may carry into a new leading digit (0.000999 -> 0.00100): one decimal fewer
    if len(text.replace("0.", "", 1).lstrip("0").replace(".", "")) > significant and decimals:
        text = f"{value:.{decimals - 1}f}"
    return text


def _ceil_one_digit(value: float) -> str:
    """``value`` rounded up to one significant digit: 0.000999 -> "0.001", 0.0001 -> "0.0001"."""
    exact = Decimal(repr(value))
    exponent = exact.adjusted()  # position of the leading digit
    quantum = Decimal(1).scaleb(exponent)
    up = (exact / quantum).to_integral_value(rounding=ROUND_CEILING) * quantum
    return f"{up.normalize():f}"


def resampling_floor(draws: int) -> float:
    """The smallest p-value a resampling test with ``draws`` draws reports: ``1 / (draws + 1)``."""
    if draws < 1:
        raise ValueError(f"a resampling test needs at least one draw, got {draws}")
    return 1.0 / (draws + 1)


def _equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def at_floor(p: float, draws: int) -> bool:
    """True when ``p`` is the smallest value the test can report (or below it, e.g. 0 / B)."""
    floor = resampling_floor(draws)
    return p <= floor or _equal(p, floor)


def _expression(relation: str, number: str, space: str = NBSP) -> str:
    return f"p{space}{relation}{space}{number}"


def format_p(
    p: float | None, draws: int | None = None, *, na: str = "n/a", space: str = NBSP
) -> str:
    """``p = 0.0497``, ``p < 0.0001`` (analytic), ``p ≤ 0.001`` / ``p < 0.0001`` (resampling floor).

    ``draws`` is the number of draws B of a resampling test; None for an analytic p-value.
    ``space``: no-break spaces for text that may wrap (report), plain spaces for figures.
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return na
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p-value {p!r} outside [0, 1]")
    if draws is not None and at_floor(p, draws):
        floor = resampling_floor(draws)
        relation = "≤" if _equal(p, floor) else "<"
        return _expression(relation, _ceil_one_digit(floor), space)
    if draws is None and p < ANALYTIC_FLOOR:
        return _expression("<", _ceil_one_digit(ANALYTIC_FLOOR), space)
    return _expression("=", _digits(p, 3), space)
