"""Wide tables: one indicator, cities as rows, years as columns (EPS, CEIC, CNKI exports).

A header row with a city (or city code) column and at least two year-like headers (2011, 2012年,
'2013 ', 2014.0) marks a wide table. Its indicator is named by the sheet name, else the file name,
else a title row above the header (``货物出口额(万美元).xlsx`` -> exports in 10k USD), through the
same aliases and column map as ordinary headers. The table is melted to one row per city and
year; every value keeps the line of its row and the header of its year column for errors.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.ingest import columns as C
from analysis.data.ingest import names as N
from analysis.data.ingest.parse import CellError, to_numbers
from analysis.data.ingest.read import Grid
from analysis.errors import InputError

_YEAR_HEADER = re.compile(r"^(19\d{2}|20\d{2})(?:\.0+)?(?:年|年度)?$")
MIN_YEAR_COLUMNS = 2


def header_year(cell: object) -> int | None:
    """2015, 2015.0, '2015', '2015年', ' 2015 ', '２０１５' -> 2015; anything else None."""
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float, np.integer, np.floating)):
        value = float(cell)
        return int(value) if value.is_integer() and 1900 <= value <= 2099 else None
    m = _YEAR_HEADER.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(cell))))
    return int(m.group(1)) if m else None


@dataclass
class WideHeader:
    row: int  # index into grid.rows of the (last) header row, the one holding the years
    years: dict[int, int]  # column index -> year
    ids: dict[str, C.Column]  # city / city_code / province
    indicators: list | None = (
        None  # a row above the years naming each column's indicator (merged cells)
    )


def _ids(row: list, variables: list, skip: set[int]) -> dict[str, C.Column]:
    ids = {}
    for j, var in enumerate(variables):
        if var in ("city", "city_code", "province") and var not in ids and j not in skip:
            ids[var] = C.Column(j, C._cell_text(row[j]), var)
    return ids


def _years(row: list) -> dict[int, int]:
    return {j: y for j, cell in enumerate(row) if (y := header_year(cell)) is not None}


def find_wide_header(grid: Grid, cmap: C.ColumnMap) -> WideHeader | None:
    """The wide header, or None when the first recognisable header is an ordinary one.

    Two forms: one row with the city column and the years (the indicator is named by the sheet,
    file or title), or a row with the city column and indicator names (merged over their years)
    above a row of years (several indicators in one table).
    """
    rows = grid.rows[: C.MAX_HEADER_SEARCH]
    for i, row in enumerate(rows):
        variables = C._row_variables(row, cmap)
        has_city = "city" in variables or "city_code" in variables
        years = _years(row)
        if len(years) >= MIN_YEAR_COLUMNS and has_city:
            return WideHeader(i, years, _ids(row, variables, set(years)))
        below = _years(rows[i + 1]) if i + 1 < len(rows) else {}
        if has_city and len(below) >= MIN_YEAR_COLUMNS and any(v in C.NUMERIC for v in variables):
            return WideHeader(i + 1, below, _ids(row, variables, set(below)), indicators=list(row))
        if len({v for v in variables if v and v != "ignore"}) >= 2:
            return None  # an ordinary (long or annual) header comes first
    return None


def _column_indicators(
    grid: Grid, header: WideHeader, cmap: C.ColumnMap
) -> tuple[dict[int, str], dict[str, C.Column]]:
    """Two-row form: each year column's variable from the indicator above it (a merged cell sits in
    the first column of its span, so a blank inherits from the left)."""
    row = header.indicators + [None] * (max(header.years) + 1 - len(header.indicators))
    by_column, columns, current = {}, {}, None
    for j in range(len(row)):
        text = C._cell_text(row[j])
        if text:
            current = text
        if j not in header.years or current is None:
            continue
        variable = (
            cmap.columns.get(current)
            if current in cmap.columns
            else C.parse_header(current).variable
        )
        if variable not in C.NUMERIC:
            continue
        if variable in columns and columns[variable].label != current:
            raise InputError(
                grid.label,
                f"columns {columns[variable].label!r} and {current!r} both hold {variable}",
                row=grid.lines[header.row - 1],
                column=current,
                hint="keep one, or name the one to use in a column map (--map)",
            )
        if variable not in columns:
            info = C.parse_header(current)
            col = C.Column(j, current, variable)
            if info.unit is not None:
                col.unit, col.unit_source = info.unit, "header"
            columns[variable] = col
        by_column[j] = variable
    return by_column, columns


def _indicator(
    grid: Grid, file_name: str, titles: list[str], cmap: C.ColumnMap
) -> tuple[str, C.Column]:
    """The variable of a wide table and the text that named it (sheet, file name, title row)."""
    sources = [grid.sheet, Path(file_name).stem, *titles]
    for text in sources:
        variable = C.variable_in_text(text, cmap)
        if variable is not None:
            col = C.Column(-1, str(text).strip(), variable)
            unit = C.unit_in_text(text) or next(
                (u for t in sources if (u := C.unit_in_text(t))), None
            )
            if unit is not None:
                col.unit, col.unit_source = unit, "header"
            return variable, col
    where = ", ".join(repr(s) for s in sources if s)
    raise InputError(
        grid.label,
        "years as columns, but no indicator named by the sheet name, file name or "
        f"title row ({where})",
        row=grid.lines[0] if grid.lines else None,
        hint="name the sheet or the file after the indicator, e.g. 货物出口额(万美元).xlsx, or map "
        "the name to a variable under columns: in --map",
    )


def read_wide(
    grid: Grid, header: WideHeader, cmap: C.ColumnMap, file_name: str, table_rows
) -> tuple[pd.DataFrame | None, C.Layout, dict]:
    """Melt a wide table: (frame with _line, _label, ids, year, the indicator(s), _col_year, _col_<var>,
    layout, table facts for the report). ``table_rows`` is core's row filter (blanks, footnotes...)."""
    first_header = header.row - (1 if header.indicators is not None else 0)
    titles = [
        " ".join(C._cell_text(c) for c in row if C._cell_text(c))
        for row in grid.rows[:first_header]
    ]
    titles = [t for t in titles if t]
    if header.indicators is None:
        variable, value_col = _indicator(grid, file_name, titles, cmap)
        by_column, values_cols = dict.fromkeys(header.years, variable), {variable: value_col}
    else:
        by_column, values_cols = _column_indicators(grid, header, cmap)
    header_lines = [grid.lines[k] for k in range(first_header, header.row + 1)]
    for col in values_cols.values():
        C._assign_unit(grid, col, cmap, header_lines[0])
    columns = dict(header.ids)
    layout = C.Layout(header_lines, header.row + 1, columns, title_rows=first_header)
    rows, lines = table_rows(grid, layout)
    row = grid.rows[header.row]
    named = {c.index for c in columns.values()}
    layout.ignored = [
        C._cell_text(grid.rows[first_header][j]) or C._cell_text(row[j])
        for j in range(len(row))
        if j not in by_column
        and j not in named
        and (C._cell_text(row[j]) or C._cell_text(grid.rows[first_header][j]))
    ]
    layout.columns.update(values_cols)
    span = sorted({header.years[j] for j in by_column})
    facts = {
        "layout": "wide: "
        + ", ".join(f"{v} from {c.label!r}" for v, c in values_cols.items())
        + f", {len(span)} year columns {span[0]}-{span[-1]}"
        if span
        else "wide: no indicator"
    }
    if not rows or not by_column:
        return None, layout, facts
    ids = {}
    for var, col in header.ids.items():
        values = [r[col.index] if col.index < len(r) else None for r in rows]
        if var == "city_code":
            ids[var] = [
                (str(int(c)) if isinstance(c, float) and c.is_integer() else C._cell_text(c))
                or None
                for c in values
            ]
        else:
            ids[var] = [N.clean_name(c) if C._cell_text(c) else None for c in values]
    melted: dict[str, list[pd.DataFrame]] = {}
    positions = np.arange(len(rows))
    for j, variable in by_column.items():
        label = C._cell_text(row[j])
        try:
            values = to_numbers(
                [r[j] if j < len(r) else None for r in rows], values_cols[variable].unit, label
            )
        except CellError as exc:
            raise InputError(
                grid.label, exc.message, row=lines[exc.position], column=label, hint=exc.hint
            ) from None
        keep = ~np.isnan(values)  # a blank cell of a wide table is no observation, not a row
        facts["empty"] = facts.get("empty", 0) + int((~keep).sum())
        melted.setdefault(variable, []).append(
            pd.DataFrame(
                {
                    "_row": positions[keep],
                    "year": float(header.years[j]),
                    variable: values[keep],
                    f"_col_{variable}": label,
                }
            )
        )
    frame = None
    for variable, parts in melted.items():
        part = pd.concat(parts, ignore_index=True)
        twice = part.duplicated(["_row", "year"]).to_numpy()
        if twice.any():  # two columns of the same year for one indicator
            k = int(np.flatnonzero(twice)[0])
            raise InputError(
                grid.label,
                f"two columns for {variable} in {part['year'].iat[k]:.0f}",
                row=header_lines[-1],
                column=str(part[f"_col_{variable}"].iat[k]),
                hint="keep one column per year",
            )
        frame = part if frame is None else frame.merge(part, on=["_row", "year"], how="outer")
    facts["data_rows"] = len(rows)
    if frame is None or frame.empty:
        return None, layout, facts
    frame = frame.sort_values(["_row", "year"], kind="stable").reset_index(drop=True)
    at = frame["_row"].to_numpy()
    frame.insert(0, "_line", np.asarray(lines)[at])
    frame.insert(1, "_label", grid.label)
    for var, values in ids.items():
        frame[var] = np.asarray(values, dtype=object)[at]
    # the year's column for errors about the year: the first indicator given in that row and year
    labels = [frame[f"_col_{v}"].to_numpy(dtype=object) for v in melted]
    first = labels[-1]
    # numpy, not DataFrame.bfill(axis=1): that transposes the frame (10 s for 45,000 rows)
    for column in reversed(labels[:-1]):
        first = np.where(pd.isna(column), first, column)
    frame["_col_year"] = first
    return frame.drop(columns="_row"), layout, facts
