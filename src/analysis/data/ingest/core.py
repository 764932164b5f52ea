"""A user's yearbook file(s) -> the processed panel (PANEL_SCHEMA) plus a validation report.

Input: one file, a list of files or a folder (sources.py). Each sheet is a table of one of three
layouts: long (a year column), annual (no year column: the year is in the sheet name, file name
or a title row), wide (years as columns, one indicator; wide.py).
Stages per table: read (bytes, encoding, sheets) -> columns (header rows, variables, units) ->
cells to numbers -> checks with file locations -> units to canonical -> names to city codes ->
sub-units combined. Then the tables are merged by city and year (two tables giving different
values for the same city, year and variable is an error naming both places) -> panel variables
derived -> treatments joined -> schema validation.
Every rejection is an ``InputError`` naming ``FILE:ROW:COLUMN``.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import reference
from analysis.data.ingest import columns as C
from analysis.data.ingest import names as N
from analysis.data.ingest import sources as S
from analysis.data.ingest import units as U
from analysis.data.ingest import wide as W
from analysis.data.ingest.parse import CellError, to_numbers, to_years
from analysis.data.ingest.read import Grid, read_grids
from analysis.data.schema import PANEL_COLUMNS, PANEL_SCHEMA
from analysis.data.treatments import TREATMENT_COLUMNS, add_treatment_dummies
from analysis.errors import InputError

YEAR_RANGE = (1990, 2030)  # PANEL_SCHEMA's year check
FOOTNOTE_MARKS = (
    "注",
    "資料來源",
    "资料来源",
    "数据来源",
    "说明",
    "備註",
    "备注",
    "note",
    "source",
    "*",
    "※",
)
TOTAL_ROWS = {
    "全国",
    "全国合计",
    "合计",
    "总计",
    "全省",
    "小计",
    "地级以上城市",
    "全国总计",
    "total",
    "china",
    "all",
}
ADDITIVE = ["exports", "fdi", "gdp", "population", "broadband_users", "mobile_users"]
PRIMARY_KINDS = {"direct", "variant", "renamed", "prefecture-to-city", "new-prefecture"}


@dataclass
class IngestLog:
    """What the ingest saw and did; the validation report is rendered from it."""

    file: str
    sha256: str = ""
    n_bytes: int = 0
    inputs: list[dict] = field(default_factory=list)  # several files: name, sha256, bytes of each
    tables: list[dict] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    window: tuple[int | None, int | None] = (None, None)
    name_notes: pd.DataFrame | None = None
    dissolved: list[str] = field(default_factory=list)
    combined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0


@dataclass
class IngestResult:
    panel: pd.DataFrame
    log: IngestLog
    values: pd.DataFrame  # per city-year, canonical units, before the panel's derived columns

    @property
    def report(self) -> str:
        from analysis.data.ingest.validate_report import render_report

        return render_report(self)


def _drop(log: IngestLog, reason: str, n: int = 1) -> None:
    log.dropped[reason] = log.dropped.get(reason, 0) + n


def _text(cell: object) -> str:
    return "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell).strip()


def _table_rows(grid: Grid, layout: C.Layout, log: IngestLog) -> tuple[list[list], list[int]]:
    """Data rows without blanks, footnotes, repeated headers and total rows."""
    width = max(c.index for c in layout.columns.values()) + 1
    city_col = layout.columns.get("city")
    header_texts = (
        {
            C._cell_text(grid.rows[layout.data_start - len(layout.header_lines)][j])
            for j in [city_col.index]
        }
        if city_col
        else set()
    )
    n_header = len(grid.rows[layout.data_start - len(layout.header_lines)])
    rows, lines = [], []
    limit = max(width, n_header)
    for row, line in zip(grid.rows[layout.data_start :], grid.lines[layout.data_start :]):
        first = next((t for t in map(_text, row) if t), None)  # usually the first cell: cheap
        if first is None:
            _drop(log, "blank rows")
            continue
        if first.lower().startswith(FOOTNOTE_MARKS) and sum(1 for c in row if _text(c)) <= 2:
            _drop(log, "footnote rows (注/资料来源/Note)")
            continue
        if city_col is not None and city_col.index < len(row):
            name = _text(row[city_col.index])
            if name in header_texts:
                _drop(log, "repeated header rows")
                continue
            if name and N.clean_name(name).lower() in TOTAL_ROWS:
                _drop(log, "total rows (全国/合计)")
                continue
        if len(row) > limit and any(_text(c) for c in row[limit:]):
            filled = sum(1 for c in row if _text(c))
            raise InputError(
                grid.label,
                f"row has {filled} filled fields beyond the {limit} header columns",
                row=line,
                hint='quote values that contain the delimiter, e.g. "1,234", or remove separators',
            )
        rows.append(row)
        lines.append(line)
    return rows, lines


def _code_text(cell: object) -> str:
    """330100, 330100.0 (a spreadsheet number) or '330100' -> '330100'."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return _text(cell)


def _column_cells(rows: list[list], index: int) -> list:
    return [r[index] if index < len(r) else None for r in rows]


def _titles(grid: Grid, layout: C.Layout) -> list[str]:
    """Text of the title rows above the header."""
    rows = grid.rows[: layout.title_rows]
    return [t for t in (" ".join(_text(c) for c in row if _text(c)) for row in rows) if t]


def _read_any(
    grid: Grid, file_name: str, cmap: C.ColumnMap, log: IngestLog, need_exports: bool
) -> tuple[pd.DataFrame | None, C.Layout]:
    """One table of any layout -> (frame with _line, _label and one column per variable, layout)."""
    header = W.find_wide_header(grid, cmap)
    if header is not None:
        frame, layout, facts = W.read_wide(
            grid, header, cmap, file_name, lambda g, lay: _table_rows(g, lay, log)
        )
        if facts.get("empty"):
            _drop(log, "empty cells of wide tables (no observation)", facts["empty"])
        log.tables.append(
            {
                "label": grid.label,
                "encoding": grid.encoding,
                "sheet": grid.sheet,
                "header_lines": layout.header_lines,
                "title_rows": layout.title_rows,
                "data_rows": facts.get("data_rows", 0),
                "notes": [*grid.notes, facts["layout"]],
            }
        )
        log.ignored += [f"{grid.label}: {h}" for h in layout.ignored]
        _log_columns(log, grid, layout)
        return frame, layout
    frame, layout = _read_table(grid, cmap, log, need_exports)
    if "year" not in layout.columns:  # an annual table: one year for every row
        year, where = S.table_year(
            grid.label, grid.sheet, file_name, _titles(grid, layout), layout.header_lines[0]
        )
        log.tables[-1]["notes"] = [
            *log.tables[-1]["notes"],
            f"annual table: year {year} from the {where}",
        ]
        if "年鉴" in where:
            log.warnings.append(
                f"`{grid.label}`: year {year} taken from a yearbook title ({where}). A yearbook "
                "edition usually reports the previous year's data (the 2016 yearbook holds 2015); "
                "check, and add a 年份 column if the year is not the data year."
            )
        if frame is not None:
            frame["year"] = float(year)
            frame["_col_year"] = where
    return frame, layout


def _log_columns(log: IngestLog, grid: Grid, layout: C.Layout) -> None:
    for variable, col in layout.columns.items():
        log.columns.append(
            {
                "table": grid.label,
                "label": col.label,
                "variable": variable,
                "unit": col.unit.label if col.unit else "",
                "unit_source": col.unit_source,
                "scope": col.scope or "",
            }
        )


def _read_table(
    grid: Grid, cmap: C.ColumnMap, log: IngestLog, need_exports: bool = True
) -> tuple[pd.DataFrame | None, C.Layout]:
    layout = C.find_layout(grid, cmap, need_exports)
    rows, lines = _table_rows(grid, layout, log)
    log.tables.append(
        {
            "label": grid.label,
            "encoding": grid.encoding,
            "sheet": grid.sheet,
            "header_lines": layout.header_lines,
            "title_rows": layout.title_rows,
            "data_rows": len(rows),
            "notes": grid.notes,
        }
    )
    log.ignored += [f"{grid.label}: {h}" for h in layout.ignored]
    if not rows:
        _log_columns(log, grid, layout)
        return None, layout
    frame = {"_line": np.asarray(lines), "_label": grid.label}
    for variable, col in layout.columns.items():
        cells = _column_cells(rows, col.index)
        try:
            if variable == "year":
                frame["year"] = to_years(cells)
            elif variable in C.NUMERIC:
                frame[variable] = to_numbers(cells, col.unit, col.label)
            elif variable == "city_code":
                frame[variable] = [_code_text(c) or None for c in cells]
            else:
                frame[variable] = [N.clean_name(c) if _text(c) else None for c in cells]
        except CellError as exc:
            raise InputError(
                grid.label, exc.message, row=lines[exc.position], column=col.label, hint=exc.hint
            ) from None
    _log_columns(log, grid, layout)
    return pd.DataFrame(frame), layout


def _column_label(frame: pd.DataFrame, layout: C.Layout, variable: str, i: int) -> str:
    """How errors name the column of row i: a wide table's year header, else the header text."""
    if f"_col_{variable}" in frame:
        return str(frame[f"_col_{variable}"].iat[i])
    return layout.columns[variable].label if variable in layout.columns else variable


def _fail_at(
    frame: pd.DataFrame,
    mask: np.ndarray,
    layout: C.Layout,
    variable: str,
    message: str,
    hint: str | None = None,
) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        label = _column_label(frame, layout, variable, i)
        value = frame[variable].iat[i] if variable in frame else None
        raise InputError(
            frame["_label"].iat[i],
            message.format(value=value),
            row=int(frame["_line"].iat[i]),
            column=label,
            hint=hint,
        )


def _check_values(frame: pd.DataFrame, layout: C.Layout) -> None:
    """Signs and ranges of source values, before conversion (so errors quote the file's numbers)."""
    years = frame["year"].to_numpy()
    _fail_at(frame, np.isnan(years), layout, "year", "missing year", "every data row needs a year")
    _fail_at(
        frame,
        (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1]),
        layout,
        "year",
        f"year {{value:.0f}} out of range {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
        "check the year column",
    )
    for variable in ("city", "city_code"):
        if variable in frame:
            _fail_at(
                frame,
                frame[variable].isna().to_numpy(),
                layout,
                variable,
                f"missing {variable}",
                "every data row needs a city",
            )
    if "city_code" in frame and "city" not in frame:
        bad = ~frame["city_code"].astype(str).str.fullmatch(r"\d{6}(\d{6})?")
        _fail_at(
            frame,
            bad.to_numpy(),
            layout,
            "city_code",
            "city code {value!r} is not a 6-digit code",
            "use the administrative division code, e.g. 330100",
        )
    if "exports" in frame:
        _fail_at(
            frame,
            frame["exports"].to_numpy() <= 0,
            layout,
            "exports",
            "exports must be > 0, got {value:g}",
            "leave the cell empty if the value is unknown",
        )
    for variable in ("gdp", "gdp_pc", "population"):
        if variable in frame:
            _fail_at(
                frame,
                frame[variable].to_numpy() <= 0,
                layout,
                variable,
                f"{variable} must be > 0, got {{value:g}}",
                "leave the cell empty if unknown",
            )
    for variable in ("fdi", "broadband_users", "mobile_users", "broadband_per100"):
        if variable in frame:
            _fail_at(
                frame,
                frame[variable].to_numpy() < 0,
                layout,
                variable,
                f"{variable} must be >= 0, got {{value:g}}",
                "leave the cell empty if unknown",
            )
    if "industry_share" in frame:
        s = frame["industry_share"].to_numpy()
        _fail_at(
            frame,
            (s < 0) | (s > 100),
            layout,
            "industry_share",
            "industry share {value:g} outside 0-100 %",
            "give the share in percent",
        )


def _convert(
    frame: pd.DataFrame, layout: C.Layout, rates: pd.Series, rate_file: str
) -> pd.DataFrame:
    years = frame["year"].to_numpy().astype(int)
    for variable, col in layout.columns.items():
        if variable not in U.VARIABLE_KIND:
            continue
        needs_rate = (variable in ("exports", "fdi") and col.unit.currency == "CNY") or (
            variable in ("gdp", "gdp_pc") and col.unit.currency == "USD"
        )
        if needs_rate:
            missing = ~np.isin(years, rates.index) & frame[variable].notna().to_numpy()
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                where = _column_label(frame, layout, variable, i)
                raise InputError(
                    frame["_label"].iat[i],
                    f"no yuan/USD rate for {years[i]} to convert {col.label}",
                    row=int(frame["_line"].iat[i]),
                    column=where,
                    hint=f"extend {rate_file} or give the column in USD",
                )
        frame[variable] = U.to_base(frame[variable].to_numpy(), variable, col.unit, years, rates)
    return frame


def _resolve_names(
    frame: pd.DataFrame, layout: C.Layout, index: N.NameIndex, log: IngestLog
) -> pd.DataFrame:
    if "city" in frame:
        names = frame["city"].to_numpy(dtype=object)
    else:  # codes only: match the code, or the code a unit had before a change
        code = frame["city_code"].astype(str).str[:6]
        by_old = dict(
            zip(
                index.changes["old_code"].dropna(),
                index.changes["old_name"][index.changes["old_code"].notna()],
            )
        )
        by_code = dict(zip(index.master["city_code"], index.master["city"]))
        names = code.map(lambda c: by_code.get(c) or by_old.get(c) or c).to_numpy(dtype=object)
    provinces = frame["province"].to_numpy(dtype=object) if "province" in frame else None
    res = N.resolve(names, frame["year"].to_numpy().astype(int), provinces, index)
    unknown = (res["kind"] == "unknown").to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        others = pd.unique(names[unknown])
        name = names[i]
        hint = res["note"].iat[i] or (
            f"did you mean {' / '.join(res['suggestions'].iat[i])}?"
            if res["suggestions"].iat[i]
            else "no close match in the city master"
        )
        if len(others) > 1:
            rest = [str(o) for o in others if o != name]
            hint += f"; {len(rest)} more unknown: {', '.join(rest[:5])}{' ...' if len(rest) > 5 else ''}"
        column = (
            layout.columns["city"].label
            if "city" in layout.columns
            else layout.columns["city_code"].label
        )
        raise InputError(
            frame["_label"].iat[i],
            f"unknown city {name!r}",
            row=int(frame["_line"].iat[i]),
            column=column,
            hint=hint,
        )
    if provinces is not None:
        _check_provinces(frame, res, index, layout)
    frame = frame.assign(
        city_code=res["code"].to_numpy(), _kind=res["kind"].to_numpy(), _name=names
    )
    notes = pd.DataFrame(
        {
            "name": names,
            "kind": res["kind"].to_numpy(),
            "note": res["note"].to_numpy(),
            "city_code": res["code"].to_numpy(),
        }
    )
    notes = notes[notes["kind"] != "direct"]
    if log.name_notes is not None:
        notes = pd.concat([log.name_notes, notes], ignore_index=True)
    log.name_notes = notes.drop_duplicates(["name", "kind", "city_code"])
    dissolved = frame["_kind"].to_numpy() == "dissolved"
    if dissolved.any():
        gone = frame[dissolved]
        log.dissolved += [
            f"{n} {y:.0f} ({lab}:{ln})" if lab != log.file else f"{n} {y:.0f} (line {ln})"
            for n, y, ln, lab in zip(gone["_name"], gone["year"], gone["_line"], gone["_label"])
        ]
        _drop(log, "rows of dissolved units (not assigned to a city)", int(dissolved.sum()))
        frame = frame[~dissolved]
    return frame


def _check_provinces(
    frame: pd.DataFrame, res: pd.DataFrame, index: N.NameIndex, layout: C.Layout
) -> None:
    given = frame["province"].map(lambda p: N.province_core(p) if p else "")
    actual = res["code"].map(lambda c: index.province_of.get(c, "") if c else "")
    bad = np.array([bool(g) and bool(a) and not a.startswith(g[:2]) for g, a in zip(given, actual)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        full = index.master.set_index("city_code")["province"].get(
            res["code"].iat[i], actual.iat[i]
        )
        raise InputError(
            frame["_label"].iat[i],
            f"city {frame['city'].iat[i]!r} is in {full} in the city "
            f"master, not in {frame['province'].iat[i]}",
            row=int(frame["_line"].iat[i]),
            column=layout.columns["province"].label,
            hint="check the city or the province",
        )


def _combine(frame: pd.DataFrame, layout: C.Layout, log: IngestLog) -> pd.DataFrame:
    """One row per city-year: duplicates are errors; merged units and county-level rows are combined."""
    key_name = frame["_name"].map(N.clean_name)
    if "province" in frame:  # 朝阳区 of 北京 and of 长春 are two units
        key_name = frame["province"].fillna("").map(N.province_core) + "/" + key_name
    same = pd.DataFrame({"n": key_name, "y": frame["year"]}).duplicated(keep="first").to_numpy()
    city_label = (layout.columns.get("city") or layout.columns["city_code"]).label
    if same.any():
        i = int(np.flatnonzero(same)[0])
        first = frame[(key_name == key_name.iat[i]) & (frame["year"] == frame["year"].iat[i])][
            "_line"
        ].iat[0]
        raise InputError(
            frame["_label"].iat[i],
            f"duplicate city-year: {frame['_name'].iat[i]} "
            f"{frame['year'].iat[i]:.0f} (also on line {first})",
            row=int(frame["_line"].iat[i]),
            column=city_label,
            hint="keep one row per city and year",
        )
    keys = ["city_code", "year"]
    multi = frame.duplicated(keys, keep=False).to_numpy()
    if not multi.any():
        return frame
    single, groups = frame[~multi], frame[multi]
    primary = groups["_kind"].isin(PRIMARY_KINDS)
    n_primary = primary.groupby([groups["city_code"], groups["year"]]).transform("sum")
    clash = (n_primary > 1) & primary
    if clash.any():
        g = groups[clash].sort_values(["city_code", "year", "_line"], kind="stable")
        i = 1
        raise InputError(
            g["_label"].iat[i],
            f"duplicate city-year: {g['_name'].iat[i]} and {g['_name'].iat[0]} "
            f"are both {g['city_code'].iat[0]} in {g['year'].iat[0]:.0f} (also on line {g['_line'].iat[0]})",
            row=int(g["_line"].iat[i]),
            column=city_label,
            hint="a unit and its former name: keep one row",
        )
    # A prefecture row already contains its county-level units: drop those (they would double count).
    inside = (groups["_kind"] == "county") & (n_primary == 1)
    if inside.any():
        _drop(log, "county-level rows inside a prefecture that has its own row", int(inside.sum()))
        for (code, name), n in groups[inside].groupby(["city_code", "_name"]).size().items():
            log.combined.append(f"{name} ({n} rows): dropped, contained in the row of {code}")
    groups = groups[~inside]
    summed = _aggregate(groups)
    for (code, year), part in groups.groupby(keys):
        if len(part) > 1 and len(log.combined) < 200:
            log.combined.append(f"{code} {year:.0f}: sum of {', '.join(part['_name'])}")
    rest = groups.drop_duplicates(keys).set_index(keys)
    for col in summed.columns:
        rest[col] = summed[col]
    rest = rest.reset_index()
    rest["_kind"] = "combined"
    _drop(
        log,
        "rows combined into another row (merged units, county-level units)",
        len(groups) - len(rest),
    )
    return pd.concat([single, rest[single.columns]], ignore_index=True)


def _aggregate(groups: pd.DataFrame) -> pd.DataFrame:
    """Sum additive amounts, average rates weighted by population (industry share by GDP); NaN if a part is missing."""
    keys = [groups["city_code"], groups["year"]]
    out = {}
    for col in [c for c in ADDITIVE if c in groups]:
        s = groups[col]
        total = s.groupby(keys).sum()
        total[s.isna().groupby(keys).any()] = np.nan
        out[col] = total
    weights = {
        "gdp_pc": "population",
        "broadband_per100": "population",
        "industry_share": "gdp" if "gdp" in groups else "population",
    }
    for col, wcol in weights.items():
        if col not in groups:
            continue
        w = groups[wcol] if wcol in groups else pd.Series(np.nan, index=groups.index)
        num = (groups[col] * w).groupby(keys).sum(min_count=1)
        den = w.groupby(keys).sum(min_count=1)
        val = num / den
        val[(groups[col].isna() | w.isna()).groupby(keys).any()] = np.nan
        out[col] = val
    return pd.DataFrame(out)


def _log(x: pd.Series) -> np.ndarray:
    v = x.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log(v), np.nan)


def _derive(frame: pd.DataFrame, log: IngestLog) -> pd.DataFrame:
    """Canonical panel variables from what the file gave."""
    nan = pd.Series(np.nan, index=frame.index)
    pop = frame.get("population", nan)  # 10k persons
    gdp_pc = frame.get("gdp_pc", nan).copy()
    if "gdp" in frame:
        from_gdp = frame["gdp"] / (pop * 1e4)
        fill = gdp_pc.isna() & from_gdp.notna()
        if "gdp_pc" in frame and fill.any():
            log.notes.append(
                f"GDP per capita computed as GDP / population in {int(fill.sum())} rows where the "
                "per-capita column is empty (the yearbook's own figure uses resident population)."
            )
        elif "gdp_pc" not in frame:
            log.notes.append(
                "GDP per capita = GDP / year-end population (no per-capita column in the file)."
            )
        gdp_pc = gdp_pc.where(~fill, from_gdp)
    broadband = frame.get("broadband_per100", nan).copy()
    if "broadband_users" in frame:
        from_users = frame["broadband_users"] / (pop * 1e4) * 100
        broadband = broadband.where(broadband.notna(), from_users)
        log.notes.append(
            "Broadband per 100 people = broadband subscribers / year-end population x 100."
        )
    mobile = nan.copy()
    if "mobile_users" in frame:  # issue 20: the mobile dose of the network-coverage study
        mobile = frame["mobile_users"] / (pop * 1e4) * 100
        log.notes.append(
            "Mobile phone subscribers per 100 people = mobile subscribers / year-end population"
            " x 100 (adoption: above 100 where people hold several SIMs; not 4G/5G coverage)."
        )
    out = pd.DataFrame(
        {
            "city_code": frame["city_code"].to_numpy(),
            "year": frame["year"].to_numpy().astype(int),
            "exports_usd_mn": frame["exports"].to_numpy(),
            "gdp_per_capita_cny": gdp_pc.to_numpy(),
            "population_10k": pop.to_numpy(),
            "fdi_usd_mn": frame.get("fdi", nan).to_numpy(),
            "industry_share_pct": frame.get("industry_share", nan).to_numpy(),
            "broadband_per100": broadband.to_numpy(),
            "mobile_per100": mobile.to_numpy(),
        }
    )
    out["log_exports"] = _log(out["exports_usd_mn"])
    out["log_gdp_pc"] = _log(out["gdp_per_capita_cny"])
    out["log_population"] = _log(out["population_10k"])
    out["log_fdi"] = _log(out["fdi_usd_mn"])
    out["log_broadband"] = _log(out["broadband_per100"])
    out["log_mobile"] = _log(out["mobile_per100"])
    zero_fdi = int((out["fdi_usd_mn"] == 0).sum())
    if zero_fdi:
        log.notes.append(f"{zero_fdi} city-years with zero FDI: log_fdi left empty there.")
    return out


def _attach(
    values: pd.DataFrame, master: pd.DataFrame, table: pd.DataFrame, last_year: int
) -> pd.DataFrame:
    """Identifiers from the city master and treatment timing from the per-city table (0 = never)."""
    table = table.assign(city_code=table["city_code"].astype(str).str.zfill(6))
    info = master[["city_code", "city", "city_en", "province", "region", "coastal"]]
    panel = values.merge(info, on="city_code", how="left").merge(
        table[["city_code", *TREATMENT_COLUMNS]], on="city_code", how="left"
    )
    panel[TREATMENT_COLUMNS] = panel[TREATMENT_COLUMNS].fillna(0).astype(int)
    # As in the synthetic panel: treatments first observed after the panel ends count as never.
    for col in ("pilot_year", "rail_year", "cre_year", "laos_rail_year", "broadband_china_year"):
        panel.loc[panel[col] > last_year, col] = 0
    panel.loc[panel["pilot_year"] == 0, "pilot_batch"] = 0
    panel = add_treatment_dummies(panel)
    panel["data_source"] = "file"
    panel = panel.sort_values(["city_code", "year"]).reset_index(drop=True)
    return PANEL_SCHEMA.validate(panel[list(PANEL_COLUMNS)])


def ingest_file(
    path: Path | str | list,
    master: pd.DataFrame,
    table: pd.DataFrame,
    *,
    column_map: Path | str | None = None,
    first_year: int | None = None,
    last_year: int | None = None,
    national: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
) -> IngestResult:
    """Read, check and convert a yearbook file, a list of files or a folder of them; raise
    InputError (FILE:ROW:COLUMN) on bad input.

    ``table``: per-city treatment timing (city_code + TREATMENT_COLUMNS, 0 = never).
    ``first_year``/``last_year``: the panel window; rows outside it are dropped (and counted).
    """
    cmap = C.load_column_map(column_map)
    files = S.input_files(path)
    log = IngestLog(file=S.describe(path), window=(first_year, last_year))
    loaded = []  # (file, its grids)
    for file in files:
        grids, data = read_grids(file, sheet=cmap.sheet)
        loaded.append((file, grids))
        log.inputs.append(
            {"file": str(file), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        )
    if len(files) == 1:
        log.sha256, log.n_bytes = log.inputs[0]["sha256"], log.inputs[0]["bytes"]
    else:  # one checksum for the set: of the sha256sum-style manifest of the files
        manifest = "".join(f"{i['sha256']}  {i['file']}\n" for i in log.inputs)
        log.sha256 = hashlib.sha256(manifest.encode()).hexdigest()
        log.n_bytes = sum(i["bytes"] for i in log.inputs)
    single = sum(len(g) for _, g in loaded) == 1
    frames, layouts, first_error = [], [], None
    for file, grids in loaded:
        for grid in grids:
            try:
                frame, layout = _read_any(grid, file.name, cmap, log, need_exports=single)
            except InputError as exc:
                if len(grids) > 1 and exc.message.startswith("no header row"):
                    first_error = first_error or exc
                    log.notes.append(
                        f"sheet {grid.sheet!r} skipped: no header row"
                        + (f" (in {file.name})" if len(loaded) > 1 else "")
                    )
                    continue
                raise
            if frame is not None:
                _check_values(frame, layout)
                frames.append(frame)
                layouts.append(layout)
    if not frames:
        if first_error is not None and not log.tables:
            raise first_error
        raise InputError(
            log.file, "no data rows below the header", hint="add one row per city and year"
        )
    if not any("exports" in layout.columns for layout in layouts):
        raise InputError(
            log.file,
            "missing required variable 'exports': no table holds it",
            hint="name a column, sheet or file e.g. 货物出口额, 出口总额, or map it with --map",
        )
    nat = national if national is not None else reference.load_national_exports()
    rates = nat.set_index("year")["cny_per_usd_avg"]
    index = N.NameIndex.cached(master) if changes is None else N.NameIndex.build(master, changes)
    parts, part_layouts = [], []
    for frame, layout in zip(frames, layouts):
        log.rows_read += len(frame)
        years = frame["year"].to_numpy()
        keep = np.ones(len(frame), bool)
        if first_year is not None:
            keep &= years >= first_year
        if last_year is not None:
            keep &= years <= last_year
        if not keep.all():
            _drop(log, f"rows outside the panel years {first_year}-{last_year}", int((~keep).sum()))
            frame = frame[keep].reset_index(drop=True)
        if frame.empty:
            continue
        if len(frames) > 1:  # the file's own numbers, to quote when two tables disagree
            for variable in layout.columns:
                if variable in U.VARIABLE_KIND:
                    frame[f"_src_{variable}"] = frame[variable]
        frame = _convert(frame, layout, rates, "data/reference/china_exports_national.csv")
        frame = _resolve_names(frame, layout, index, log)
        parts.append(_combine(frame, layout, log))
        part_layouts.append(layout)
    if not parts:
        raise InputError(
            log.file,
            f"no rows within the panel years {first_year}-{last_year}",
            hint="check params.yaml panel: first_year/last_year",
        )
    frame = parts[0] if len(parts) == 1 else _merge_tables(parts, part_layouts, log)
    if "exports" not in frame:
        raise InputError(
            log.file,
            f"no exports within the panel years {first_year}-{last_year}",
            hint="check params.yaml panel: first_year/last_year",
        )
    values = _derive(frame, log)
    panel = _attach(
        values, master, table, last_year if last_year is not None else int(values["year"].max())
    )
    return IngestResult(panel=panel, log=log, values=values)


KEYS = ["city_code", "year"]
SAME = 1e-9  # relative: the same number given in two units (万美元, 亿美元) is the same value


def _fmt(value: float) -> str:
    """1234.0 -> '1,234'; 12.5 -> '12.5' (as a user would read the cell)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.10g}"


def _merge_tables(
    parts: list[pd.DataFrame], layouts: list[C.Layout], log: IngestLog
) -> pd.DataFrame:
    """One row per city and year from several tables (files, sheets, indicators).

    A variable given for the same city-year by two tables must agree: different values are an
    error naming both cells; equal values are kept once and reported as a warning.
    """
    keys_frame = pd.concat([p[KEYS] for p in parts], ignore_index=True).drop_duplicates(KEYS)
    out = keys_frame.reset_index(drop=True)
    variables = list(
        dict.fromkeys(v for layout in layouts for v in layout.columns if v in U.VARIABLE_KIND)
    )
    for variable in variables:
        pieces = []
        for t, (part, layout) in enumerate(zip(parts, layouts)):
            if variable not in part:
                continue
            col = layout.columns[variable]
            p = part.loc[
                part[variable].notna(), [*KEYS, variable, "_line", "_label", "_name", "_kind"]
            ].copy()
            p["_table"] = t
            p["_col"] = (
                part.loc[p.index, f"_col_{variable}"] if f"_col_{variable}" in part else col.label
            )
            p["_src"] = (
                part.loc[p.index, f"_src_{variable}"] if f"_src_{variable}" in part else p[variable]
            )
            p["_unit"] = col.unit.label if col.unit else ""
            pieces.append(p)
        given = pd.concat(pieces, ignore_index=True)
        twice = given.duplicated(KEYS, keep=False).to_numpy()
        if twice.any():
            _check_agree(given[twice].sort_values([*KEYS, "_table"], kind="stable"), variable, log)
        out = out.merge(given.drop_duplicates(KEYS)[[*KEYS, variable]], on=KEYS, how="left")
    return out


def _check_agree(dups: pd.DataFrame, variable: str, log: IngestLog) -> None:
    first = dups.groupby(KEYS, sort=False).transform("first")
    ref = first[variable].to_numpy()
    differ = ~np.isclose(dups[variable].to_numpy(), ref, rtol=SAME, atol=0.0)

    def place(row) -> str:
        return f"{row['_label']}:{row['_line']}:{row['_col']}"

    def shown(row) -> tuple[str, str]:
        """(the file's number, its unit); a combined row (summed units) has no single cell."""
        if row["_kind"] == "combined":
            return f"{row[variable]:,.6g}", "(canonical unit, rows combined)"
        return _fmt(row["_src"]), row["_unit"]

    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        b = dups.iloc[i]
        a = dups[(dups["city_code"] == b["city_code"]) & (dups["year"] == b["year"])].iloc[0]
        same_file = str(a["_label"]).split("[")[0] == str(b["_label"]).split("[")[0]
        (num_a, unit_a), (num_b, unit_b) = shown(a), shown(b)
        if unit_a == unit_b:  # same unit: quote the numbers only
            shown_a, shown_b = num_a, num_b
        else:
            shown_a, shown_b = f"{num_a} {unit_a}".strip(), f"{num_b} {unit_b}".strip()
        raise InputError(
            f"{place(a)} and {place(b)}",
            f"city {a['_name']} year {a['year']:.0f} {variable} {shown_a} vs {shown_b}",
            hint=f"two {'sheets' if same_file else 'files'} disagree; keep one",
        )
    groups = dups.groupby(KEYS, sort=False)
    reason = "values given twice with the same value (kept once)"
    log.dropped[reason] = log.dropped.get(reason, 0) + len(dups) - groups.ngroups
    examples = [
        f"{g['_name'].iat[0]} {g['year'].iat[0]:.0f}: "
        + ", ".join(place(r) for _, r in g.iterrows())
        for _, g in itertools.islice(groups, 5)
    ]
    more = f"; ... {groups.ngroups - 5} more" if groups.ngroups > 5 else ""
    log.warnings.append(
        f"{variable}: {groups.ngroups} city-years given by two tables with the same value (kept "
        f"once): " + "; ".join(examples) + more
    )
