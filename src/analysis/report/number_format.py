"""How the report prints numbers: estimates, shares and intervals; p-values follow the one
convention of :mod:`analysis.pvalues` (shared with figures and notebooks)."""

from __future__ import annotations

from analysis.pvalues import NBSP, at_floor, format_p, resampling_floor

__all__ = ["NBSP", "Formatter", "at_floor", "format_p", "resampling_floor"]


class Formatter:
    """Numbers in the text and tables of one language (``t``: report/text/<lang>.yaml)."""

    def __init__(self, t: dict):
        self.t = t

    def num(self, v, d: int = 3) -> str:
        return self.t["na"] if v is None else f"{v:.{d}f}"

    def pct(self, v, d: int = 1) -> str:
        return self.t["na"] if v is None else f"{100 * v:.{d}f}%"

    def ci(self, low, high) -> str:
        return self.t["range"].format(low=self.num(low), high=self.num(high))

    def p(self, v, draws: int | None = None) -> str:
        return format_p(v, draws, na=self.t["na"])
