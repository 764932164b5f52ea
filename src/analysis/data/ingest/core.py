"""A user's yearbook file -> the processed panel (PANEL_SCHEMA) plus a validation report.

Stages: read (bytes, encoding, sheets) -> columns (header rows, variables, units) -> cells to
numbers -> checks with file locations -> units to canonical -> names to city codes -> merged and
sub-units combined -> panel variables derived -> treatments joined -> schema validation.
Every rejection is an ``InputError`` naming ``FILE:ROW:COLUMN``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import reference
from analysis.errors import InputError
from analysis.data.ingest import columns as C
from analysis.data.ingest import names as N
from analysis.data.ingest import units as U
from analysis.data.ingest.parse import CellError, to_numbers, to_years
from analysis.data.ingest.read import Grid, read_grids
from analysis.data.schema import PANEL_COLUMNS, PANEL_SCHEMA
from analysis.data.treatments import TREATMENT_COLUMNS, add_treatment_dummies

YEAR_RANGE = (1990, 2030)  # PANEL_SCHEMA's year check
FOOTNOTE_MARKS = ("注", "資料來源", "资料来源", "数据来源", "说明", "備註", "备注", "note", "source", "*", "※")
TOTAL_ROWS = {"全国", "全国合计", "合计", "总计", "全省", "小计", "地级以上城市", "全国总计", "total", "china", "all"}
ADDITIVE = ["exports", "fdi", "gdp", "population", "broadband_users", "mobile_users"]
PRIMARY_KINDS = {"direct", "variant", "renamed", "prefecture-to-city", "new-prefecture"}


@dataclass
class IngestLog:
    """What the ingest saw and did; the validation report is rendered from it."""

    file: str
    sha256: str = ""
    n_bytes: int = 0
    tables: list[dict] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    window: tuple[int | None, int | None] = (None, None)
    name_notes: pd.DataFrame | None = None
    dissolved: list[str] = field(default_factory=list)
    combined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
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
    header_texts = {C._cell_text(grid.rows[layout.data_start - len(layout.header_lines)][j])
                    for j in [city_col.index]} if city_col else set()
    n_header = len(grid.rows[layout.data_start - len(layout.header_lines)])
    rows, lines = [], []
    limit = max(width, n_header)
    for row, line in zip(grid.rows[layout.data_start:], grid.lines[layout.data_start:]):
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
            raise InputError(grid.label, f"row has {filled} filled fields beyond the {limit} "
                             "header columns", row=line,
                             hint="quote values that contain the delimiter, e.g. \"1,234\", or remove separators")
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


def _read_table(grid: Grid, cmap: C.ColumnMap, log: IngestLog) -> tuple[pd.DataFrame | None, C.Layout]:
    layout = C.find_layout(grid, cmap)
    rows, lines = _table_rows(grid, layout, log)
    log.tables.append({"label": grid.label, "encoding": grid.encoding, "sheet": grid.sheet,
                       "header_lines": layout.header_lines, "title_rows": layout.title_rows,
                       "data_rows": len(rows), "notes": grid.notes})
    log.ignored += [f"{grid.label}: {h}" for h in layout.ignored]
    if not rows:
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
            raise InputError(grid.label, exc.message, row=lines[exc.position], column=col.label,
                             hint=exc.hint) from None
    for variable, col in layout.columns.items():
        log.columns.append({"table": grid.label, "label": col.label, "variable": variable,
                            "unit": col.unit.label if col.unit else "", "unit_source": col.unit_source,
                            "scope": col.scope or ""})
    return pd.DataFrame(frame), layout


def _fail_at(frame: pd.DataFrame, mask: np.ndarray, layout: C.Layout, variable: str, message: str,
             hint: str | None = None) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        label = layout.columns[variable].label if variable in layout.columns else variable
        value = frame[variable].iat[i] if variable in frame else None
        raise InputError(frame["_label"].iat[i], message.format(value=value), row=int(frame["_line"].iat[i]),
                         column=label, hint=hint)


def _check_values(frame: pd.DataFrame, layout: C.Layout) -> None:
    """Signs and ranges of source values, before conversion (so errors quote the file's numbers)."""
    years = frame["year"].to_numpy()
    _fail_at(frame, np.isnan(years), layout, "year", "missing year", "every data row needs a year")
    _fail_at(frame, (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1]), layout, "year",
             "year {value:.0f} out of range " f"{YEAR_RANGE[0]}-{YEAR_RANGE[1]}", "check the year column")
    for variable in ("city", "city_code"):
        if variable in frame:
            _fail_at(frame, frame[variable].isna().to_numpy(), layout, variable, f"missing {variable}",
                     "every data row needs a city")
    if "city_code" in frame and "city" not in frame:
        bad = ~frame["city_code"].astype(str).str.fullmatch(r"\d{6}(\d{6})?")
        _fail_at(frame, bad.to_numpy(), layout, "city_code", "city code {value!r} is not a 6-digit code",
                 "use the administrative division code, e.g. 330100")
    x = frame["exports"].to_numpy()
    _fail_at(frame, x <= 0, layout, "exports", "exports must be > 0, got {value:g}",
             "leave the cell empty if the value is unknown")
    for variable in ("gdp", "gdp_pc", "population"):
        if variable in frame:
            _fail_at(frame, frame[variable].to_numpy() <= 0, layout, variable,
                     f"{variable} must be > 0, got " "{value:g}", "leave the cell empty if unknown")
    for variable in ("fdi", "broadband_users", "mobile_users", "broadband_per100"):
        if variable in frame:
            _fail_at(frame, frame[variable].to_numpy() < 0, layout, variable,
                     f"{variable} must be >= 0, got " "{value:g}", "leave the cell empty if unknown")
    if "industry_share" in frame:
        s = frame["industry_share"].to_numpy()
        _fail_at(frame, (s < 0) | (s > 100), layout, "industry_share",
                 "industry share {value:g} outside 0-100 %", "give the share in percent")


def _convert(frame: pd.DataFrame, layout: C.Layout, rates: pd.Series, rate_file: str) -> pd.DataFrame:
    years = frame["year"].to_numpy().astype(int)
    for variable, col in layout.columns.items():
        if variable not in U.VARIABLE_KIND:
            continue
        needs_rate = (variable in ("exports", "fdi") and col.unit.currency == "CNY") or (
            variable in ("gdp", "gdp_pc") and col.unit.currency == "USD")
        if needs_rate:
            missing = ~np.isin(years, rates.index) & frame[variable].notna().to_numpy()
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise InputError(frame["_label"].iat[i], f"no yuan/USD rate for {years[i]} to convert {col.label}",
                                 row=int(frame["_line"].iat[i]), column=col.label,
                                 hint=f"extend {rate_file} or give the column in USD")
        frame[variable] = U.to_base(frame[variable].to_numpy(), variable, col.unit, years, rates)
    return frame


def _resolve_names(frame: pd.DataFrame, layout: C.Layout, index: N.NameIndex, log: IngestLog) -> pd.DataFrame:
    if "city" in frame:
        names = frame["city"].to_numpy(dtype=object)
    else:  # codes only: match the code, or the code a unit had before a change
        code = frame["city_code"].astype(str).str[:6]
        by_old = dict(zip(index.changes["old_code"].dropna(), index.changes["old_name"][index.changes["old_code"].notna()]))
        by_code = dict(zip(index.master["city_code"], index.master["city"]))
        names = code.map(lambda c: by_code.get(c) or by_old.get(c) or c).to_numpy(dtype=object)
    provinces = frame["province"].to_numpy(dtype=object) if "province" in frame else None
    res = N.resolve(names, frame["year"].to_numpy().astype(int), provinces, index)
    unknown = (res["kind"] == "unknown").to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        others = pd.unique(names[unknown])
        name = names[i]
        hint = res["note"].iat[i] or (f"did you mean {' / '.join(res['suggestions'].iat[i])}?"
                                      if res["suggestions"].iat[i] else "no close match in the city master")
        if len(others) > 1:
            rest = [str(o) for o in others if o != name]
            hint += f"; {len(rest)} more unknown: {', '.join(rest[:5])}{' ...' if len(rest) > 5 else ''}"
        column = layout.columns["city"].label if "city" in layout.columns else layout.columns["city_code"].label
        raise InputError(frame["_label"].iat[i], f"unknown city {name!r}", row=int(frame["_line"].iat[i]),
                         column=column, hint=hint)
    if provinces is not None:
        _check_provinces(frame, res, index, layout)
    frame = frame.assign(city_code=res["code"].to_numpy(), _kind=res["kind"].to_numpy(), _name=names)
    notes = pd.DataFrame({"name": names, "kind": res["kind"].to_numpy(), "note": res["note"].to_numpy(),
                          "city_code": res["code"].to_numpy()})
    log.name_notes = notes[notes["kind"] != "direct"].drop_duplicates(["name", "kind", "city_code"])
    dissolved = frame["_kind"].to_numpy() == "dissolved"
    if dissolved.any():
        gone = frame[dissolved]
        log.dissolved = [f"{n} {y:.0f} (line {ln})" for n, y, ln in zip(gone["_name"], gone["year"], gone["_line"])]
        _drop(log, "rows of dissolved units (not assigned to a city)", int(dissolved.sum()))
        frame = frame[~dissolved]
    return frame


def _check_provinces(frame: pd.DataFrame, res: pd.DataFrame, index: N.NameIndex, layout: C.Layout) -> None:
    given = frame["province"].map(lambda p: N.province_core(p) if p else "")
    actual = res["code"].map(lambda c: index.province_of.get(c, "") if c else "")
    bad = np.array([bool(g) and bool(a) and not a.startswith(g[:2]) for g, a in zip(given, actual)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        full = index.master.set_index("city_code")["province"].get(res["code"].iat[i], actual.iat[i])
        raise InputError(frame["_label"].iat[i], f"city {frame['city'].iat[i]!r} is in {full} in the city "
                         f"master, not in {frame['province'].iat[i]}", row=int(frame["_line"].iat[i]),
                         column=layout.columns["province"].label, hint="check the city or the province")


def _combine(frame: pd.DataFrame, layout: C.Layout, log: IngestLog) -> pd.DataFrame:
    """One row per city-year: duplicates are errors; merged units and county-level rows are combined."""
    key_name = frame["_name"].map(N.clean_name)
    if "province" in frame:  # 朝阳区 of 北京 and of 长春 are two units
        key_name = frame["province"].fillna("").map(N.province_core) + "/" + key_name
    same = pd.DataFrame({"n": key_name, "y": frame["year"]}).duplicated(keep="first").to_numpy()
    city_label = (layout.columns.get("city") or layout.columns["city_code"]).label
    if same.any():
        i = int(np.flatnonzero(same)[0])
        first = frame[(key_name == key_name.iat[i]) & (frame["year"] == frame["year"].iat[i])]["_line"].iat[0]
        raise InputError(frame["_label"].iat[i], f"duplicate city-year: {frame['_name'].iat[i]} "
                         f"{frame['year'].iat[i]:.0f} (also on line {first})", row=int(frame["_line"].iat[i]),
                         column=city_label, hint="keep one row per city and year")
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
        raise InputError(g["_label"].iat[i], f"duplicate city-year: {g['_name'].iat[i]} and {g['_name'].iat[0]} "
                         f"are both {g['city_code'].iat[0]} in {g['year'].iat[0]:.0f} (also on line {g['_line'].iat[0]})",
                         row=int(g["_line"].iat[i]), column=city_label,
                         hint="a unit and its former name: keep one row")
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
    _drop(log, "rows combined into another row (merged units, county-level units)", len(groups) - len(rest))
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
    weights = {"gdp_pc": "population", "broadband_per100": "population",
               "industry_share": "gdp" if "gdp" in groups else "population"}
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
            log.notes.append(f"GDP per capita computed as GDP / population in {int(fill.sum())} rows where the "
                             "per-capita column is empty (the yearbook's own figure uses resident population).")
        elif "gdp_pc" not in frame:
            log.notes.append("GDP per capita = GDP / year-end population (no per-capita column in the file).")
        gdp_pc = gdp_pc.where(~fill, from_gdp)
    broadband = frame.get("broadband_per100", nan).copy()
    if "broadband_users" in frame:
        from_users = frame["broadband_users"] / (pop * 1e4) * 100
        broadband = broadband.where(broadband.notna(), from_users)
        log.notes.append("Broadband per 100 people = broadband subscribers / year-end population x 100.")
    if "mobile_users" in frame:
        log.notes.append("Mobile phone subscribers were read but are not a panel variable (not used).")
    out = pd.DataFrame({
        "city_code": frame["city_code"].to_numpy(),
        "year": frame["year"].to_numpy().astype(int),
        "exports_usd_mn": frame["exports"].to_numpy(),
        "gdp_per_capita_cny": gdp_pc.to_numpy(),
        "population_10k": pop.to_numpy(),
        "fdi_usd_mn": frame.get("fdi", nan).to_numpy(),
        "industry_share_pct": frame.get("industry_share", nan).to_numpy(),
        "broadband_per100": broadband.to_numpy(),
    })
    out["log_exports"] = _log(out["exports_usd_mn"])
    out["log_gdp_pc"] = _log(out["gdp_per_capita_cny"])
    out["log_population"] = _log(out["population_10k"])
    out["log_fdi"] = _log(out["fdi_usd_mn"])
    out["log_broadband"] = _log(out["broadband_per100"])
    zero_fdi = int((out["fdi_usd_mn"] == 0).sum())
    if zero_fdi:
        log.notes.append(f"{zero_fdi} city-years with zero FDI: log_fdi left empty there.")
    return out


def _attach(values: pd.DataFrame, master: pd.DataFrame, table: pd.DataFrame, last_year: int) -> pd.DataFrame:
    """Identifiers from the city master and treatment timing from the per-city table (0 = never)."""
    table = table.assign(city_code=table["city_code"].astype(str).str.zfill(6))
    info = master[["city_code", "city", "city_en", "province", "region", "coastal"]]
    panel = values.merge(info, on="city_code", how="left").merge(
        table[["city_code", *TREATMENT_COLUMNS]], on="city_code", how="left")
    panel[TREATMENT_COLUMNS] = panel[TREATMENT_COLUMNS].fillna(0).astype(int)
    # As in the synthetic panel: treatments first observed after the panel ends count as never.
    for col in ("pilot_year", "rail_year", "cre_year", "laos_rail_year"):
        panel.loc[panel[col] > last_year, col] = 0
    panel.loc[panel["pilot_year"] == 0, "pilot_batch"] = 0
    panel = add_treatment_dummies(panel)
    panel["data_source"] = "file"
    panel = panel.sort_values(["city_code", "year"]).reset_index(drop=True)
    return PANEL_SCHEMA.validate(panel[list(PANEL_COLUMNS)])


def ingest_file(
    path: Path | str,
    master: pd.DataFrame,
    table: pd.DataFrame,
    *,
    column_map: Path | str | None = None,
    first_year: int | None = None,
    last_year: int | None = None,
    national: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
) -> IngestResult:
    """Read, check and convert one yearbook file; raise InputError (FILE:ROW:COLUMN) on bad input.

    ``table``: per-city treatment timing (city_code + TREATMENT_COLUMNS, 0 = never).
    ``first_year``/``last_year``: the panel window; rows outside it are dropped (and counted).
    """
    cmap = C.load_column_map(column_map)
    grids, data = read_grids(path, sheet=cmap.sheet)
    log = IngestLog(file=str(path), sha256=hashlib.sha256(data).hexdigest(), n_bytes=len(data),
                    window=(first_year, last_year))
    frames, layouts, first_error = [], [], None
    for grid in grids:
        try:
            frame, layout = _read_table(grid, cmap, log)
        except InputError as exc:
            if len(grids) > 1 and exc.message.startswith("no header row"):
                first_error = first_error or exc
                log.notes.append(f"sheet {grid.sheet!r} skipped: no header row")
                continue
            raise
        if frame is not None:
            _check_values(frame, layout)
            frames.append(frame)
            layouts.append(layout)
    if not frames:
        if first_error is not None and not log.tables:
            raise first_error
        raise InputError(str(path), "no data rows below the header", hint="add one row per city and year")
    _same_variables(layouts, frames)
    nat = national if national is not None else reference.load_national_exports()
    rates = nat.set_index("year")["cny_per_usd_avg"]
    parts = []
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
        parts.append(_convert(frame, layout, rates, "data/reference/china_exports_national.csv"))
    frame = pd.concat(parts, ignore_index=True)
    layout = layouts[0]
    if frame.empty:
        raise InputError(str(path), f"no rows within the panel years {first_year}-{last_year}",
                         hint="check params.yaml panel: first_year/last_year")
    index = N.NameIndex.cached(master) if changes is None else N.NameIndex.build(master, changes)
    frame = _resolve_names(frame, layout, index, log)
    frame = _combine(frame, layout, log)
    values = _derive(frame, log)
    panel = _attach(values, master, table, last_year if last_year is not None else int(values["year"].max()))
    return IngestResult(panel=panel, log=log, values=values)


def _same_variables(layouts: list[C.Layout], frames: list[pd.DataFrame]) -> None:
    """Sheets stacked together must hold the same variables."""
    first = set(layouts[0].columns)
    for layout, frame in zip(layouts[1:], frames[1:]):
        if set(layout.columns) != first:
            diff = sorted(first ^ set(layout.columns))
            raise InputError(frame["_label"].iat[0], f"sheet has different columns than the first sheet: {diff}",
                             row=layout.header_lines[0], hint="give each sheet the same columns, or pick one "
                             "with 'sheet:' in --map")
