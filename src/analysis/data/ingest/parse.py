"""Cell values to numbers: thousands separators, full-width digits, missing-value marks, unit suffixes.

Vectorised fast path (``pd.to_numeric``) first; only cells it rejects go through the slow
normalisation, so a 75,000-row file parses in well under a second.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from analysis.data.ingest import units as U

MISSING = {
    "",
    "-",
    "--",
    "—",
    "——",
    "–",
    "…",
    "...",
    "..",
    "na",
    "n/a",
    "n.a.",
    "nan",
    "null",
    "none",
    "无",
    "/",
    "x",
    "*",
    "#n/a",
    "不详",
    "缺失",
}
_NUMBER = re.compile(
    r"^([+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:e[+-]?\d+)?)(.*)$", re.IGNORECASE
)


class CellError(ValueError):
    """A cell that is not a number; ``position`` is the row position within the column."""

    def __init__(self, position: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.position, self.message, self.hint = position, message, hint


def _clean(cell: object) -> tuple[float, str | None]:
    """(value, unit suffix or None) of one cell; raises ValueError if it is not a number."""
    text = unicodedata.normalize("NFKC", str(cell)).strip().replace("\u3000", "").replace(" ", "")
    if text.lower() in MISSING:
        return np.nan, None
    number, suffix = _NUMBER.match(text).groups()
    if not number.strip("+-.") or not any(ch.isdigit() for ch in number):
        raise ValueError(text)
    value = float(number.replace(",", ""))
    if not suffix:
        return value, None
    if suffix == "%" or U.lookup_unit(suffix):
        return value, suffix
    raise ValueError(text)


def to_numbers(cells: list | np.ndarray, unit: U.Unit | None = None, label: str = "") -> np.ndarray:
    """Parse a column; cells with a unit suffix ('12.5万美元') must carry the column's unit."""
    series = pd.Series(cells, dtype=object)
    fast = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)
    fast[np.isinf(fast)] = np.nan  # 'inf' is text to a yearbook
    todo = np.flatnonzero(np.isnan(fast) & series.notna().to_numpy())
    for pos in todo:
        cell = series.iat[pos]
        if isinstance(cell, float) and np.isnan(cell):
            continue
        try:
            value, suffix = _clean(cell)
        except ValueError:
            raise CellError(
                int(pos),
                f"not a number: {str(cell)!r}",
                hint="use digits, leave the cell empty or '-' if missing",
            ) from None
        if suffix is not None and unit is not None:
            cell_unit = U.lookup_unit(suffix)
            if (
                cell_unit is None
                or cell_unit.scale != unit.scale
                or cell_unit.currency != unit.currency
            ):
                raise CellError(
                    int(pos),
                    f"mixed units: cell {str(cell)!r} is in {suffix} but the column is in "
                    f"{unit.label}",
                    hint="convert the cell or split the column by unit",
                )
        fast[pos] = value
    return fast


def to_years(cells: list | np.ndarray) -> np.ndarray:
    """Years as float (NaN if blank): accepts 2015, 2015.0, '2015', '2015年', '２０１５'."""
    series = pd.Series(cells, dtype=object)
    fast = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)
    todo = np.flatnonzero(np.isnan(fast) & series.notna().to_numpy())
    for pos in todo:
        cell = series.iat[pos]
        text = (
            unicodedata.normalize("NFKC", str(cell)).strip().removesuffix("年").removesuffix("年度")
        )
        if text.lower() in MISSING:
            continue
        try:
            fast[pos] = float(text)
        except ValueError:
            raise CellError(
                int(pos), f"not a year: {str(cell)!r}", hint="write a four-digit year, e.g. 2015"
            ) from None
    bad = np.flatnonzero(~np.isnan(fast) & (fast != np.round(fast)))
    if bad.size:
        raise CellError(
            int(bad[0]),
            f"not a year: {series.iat[bad[0]]!r}",
            hint="write a four-digit year, e.g. 2015",
        )
    return fast
