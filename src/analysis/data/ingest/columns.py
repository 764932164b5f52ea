"""Which file column holds which variable: built-in yearbook headers, header rows, user maps.

A yearbook export has a header row of variable names (often with the unit in brackets,
"货物出口额(万美元)"), sometimes a second row of units or of scope (全市 whole city / 市辖区 urban
districts, the two columns of the China City Statistical Yearbook), merged header cells spanning
both scopes, and title rows above. ``find_layout`` locates all of that; a user's YAML map
(``columns:`` header -> variable, ``units:`` variable -> unit, ``sheet:``) overrides the guesses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rapidfuzz import process

from analysis.data.ingest import units as U
from analysis.data.ingest.read import Grid
from analysis.errors import InputError

# variable -> header aliases (compared after units.normalise). Chinese names are the yearbook's.
ALIASES: dict[str, list[str]] = {
    "city": [
        "城市",
        "城市名称",
        "城市名",
        "地区",
        "地区名称",
        "地级市",
        "地市",
        "市",
        "行政区划名称",
        "city",
        "cityname",
        "city_name",
        "prefecture",
        "name",
        "region_name",
    ],
    "city_code": [
        "城市代码",
        "行政区划代码",
        "地区代码",
        "区划代码",
        "city_code",
        "citycode",
        "adcode",
        "code",
    ],
    "province": ["省份", "省", "所属省份", "省份名称", "province"],
    "year": ["年份", "年度", "年", "统计年度", "year"],
    "exports": [
        "货物出口额",
        "出口总额",
        "出口额",
        "货物出口总额",
        "出口",
        "exports",
        "export",
        "goods_exports",
        "exports_value",
    ],
    "gdp": ["地区生产总值", "生产总值", "gdp", "grp"],
    "gdp_pc": [
        "人均地区生产总值",
        "人均gdp",
        "人均生产总值",
        "gdp_per_capita",
        "gdppc",
        "gdp_pc",
        "per_capita_gdp",
    ],
    "population": [
        "年末总人口",
        "年末户籍人口",
        "户籍人口",
        "总人口",
        "population",
        "pop",
        "total_population",
    ],
    "broadband_users": [
        "互联网宽带接入用户数",
        "互联网宽带接入用户",
        "宽带接入用户数",
        "国际互联网用户数",
        "互联网用户数",
        "broadband_users",
        "broadband_subscribers",
        "internet_users",
    ],
    "broadband_per100": ["每百人互联网宽带接入用户数", "每百人宽带用户数", "broadband_per100"],
    "mobile_users": [
        "移动电话年末用户数",
        "移动电话用户数",
        "年末移动电话用户数",
        "mobile_users",
        "mobile_subscribers",
    ],
    "fdi": [
        "实际使用外资金额",
        "当年实际使用外资金额",
        "实际利用外资金额",
        "外商直接投资",
        "fdi",
        "actual_fdi",
    ],
    "industry_share": [
        "第二产业增加值占gdp比重",
        "第二产业占gdp比重",
        "第二产业比重",
        "第二产业增加值比重",
        "industry_share",
        "secondary_share",
        "secondary_industry_share",
    ],
}
# Canonical panel names imply their unit.
IMPLIED: dict[str, tuple[str, str]] = {
    "exports_usd_mn": ("exports", "百万美元"),
    "fdi_usd_mn": ("fdi", "百万美元"),
    "gdp_per_capita_cny": ("gdp_pc", "元/人"),
    "population_10k": ("population", "万人"),
    "industry_share_pct": ("industry_share", "%"),
    "broadband_per100": ("broadband_per100", "户/百人"),
}
VARIABLES = list(ALIASES)
NUMERIC = [v for v in VARIABLES if v not in ("city", "city_code", "province", "year")]
IDENTIFIERS = ("city", "city_code", "province", "year")
_ALIAS = {U.normalise(a): v for v, names in ALIASES.items() for a in names}
_ALIAS.update({k: v for k, (v, _) in IMPLIED.items()})
_BRACKETS = re.compile(r"[(\[【（](.*?)[)\]】）]")


@dataclass
class HeaderInfo:
    variable: str | None
    unit: U.Unit | None = None
    scope: str | None = None


def parse_header(text: object) -> HeaderInfo:
    """'货物出口额(万美元)_全市' -> exports, 万美元, city. Unknown names give variable None."""
    if text is None:
        return HeaderInfo(None)
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    whole = U.normalise(raw)
    if whole in _ALIAS:
        var = _ALIAS[whole]
        implied = IMPLIED.get(whole)
        return HeaderInfo(var, U.UNITS[implied[1]] if implied else None)
    unit, scope = None, None
    for group in _BRACKETS.findall(raw):
        unit = unit or U.lookup_unit(group)
        scope = scope or U.lookup_scope(group)
    rest = _BRACKETS.sub(" ", raw)
    name_parts = []
    for token in re.split(r"[_:：|\s]+", rest):
        if not token:
            continue
        if U.lookup_unit(token) and name_parts:
            unit = unit or U.lookup_unit(token)
        elif U.lookup_scope(token):
            scope = scope or U.lookup_scope(token)
        else:
            name_parts.append(token)
    name = U.normalise("_".join(name_parts))
    variable = _ALIAS.get(name) or _ALIAS.get(name.replace("_", ""))
    return HeaderInfo(variable, unit, scope)


@dataclass
class Column:
    index: int
    label: str  # as errors name it: the header text (plus the second header row when needed)
    variable: str | None
    unit: U.Unit | None = None
    unit_source: str = ""  # header | second header row | map | implied | assumed
    scope: str | None = None


@dataclass
class Layout:
    header_lines: list[int]
    data_start: int  # index into grid.rows of the first data row
    columns: dict[str, Column]  # variable -> the column used
    ignored: list[str] = field(default_factory=list)
    title_rows: int = 0


@dataclass
class ColumnMap:
    """A user's YAML map: ``columns`` (header text -> variable or 'ignore'), ``units``, ``sheet``."""

    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, U.Unit] = field(default_factory=dict)
    sheet: str | None = None
    path: str | None = None
    lines: dict[str, int] = field(default_factory=dict)


def load_column_map(path: Path | str | None) -> ColumnMap:
    if path is None:
        return ColumnMap()
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise InputError(label, "column map not found", hint="give the path of a YAML file")
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            label,
            "not valid YAML",
            row=mark.line + 1 if mark else None,
            hint="see data/README.md, 'Column maps'",
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            label,
            "a column map must be a mapping with 'columns:' and/or 'units:'",
            hint="see data/README.md, 'Column maps'",
        )
    lines = _key_lines(node)
    unknown = set(data) - {"columns", "units", "sheet"}
    if unknown:
        key = min(unknown)
        raise InputError(
            label, f"unknown key {key!r}", row=lines.get(key), hint="use columns, units, sheet"
        )
    sheet = data.get("sheet")
    cmap = ColumnMap(path=label, sheet=None if sheet is None else str(sheet), lines=lines)
    for header, variable in (data.get("columns") or {}).items():
        variable = str(variable)
        if variable in IMPLIED:
            variable, implied = IMPLIED[variable]
            cmap.units.setdefault(variable, U.UNITS[implied])
        if variable not in VARIABLES and variable != "ignore":
            raise InputError(
                label,
                f"unknown variable {variable!r} for column {header!r}",
                row=lines.get(f"columns.{header}"),
                hint=f"one of: {', '.join(VARIABLES)}, ignore",
            )
        cmap.columns[unicodedata.normalize("NFKC", str(header)).strip()] = variable
    for variable, unit_text in (data.get("units") or {}).items():
        unit = U.lookup_unit(unit_text)
        where = lines.get(f"units.{variable}")
        if variable not in NUMERIC:
            raise InputError(
                label,
                f"unknown variable {variable!r} under units",
                row=where,
                hint=f"one of: {', '.join(NUMERIC)}",
            )
        if unit is None or not U.compatible(variable, unit):
            raise InputError(
                label,
                f"unit {unit_text!r} is not a unit of {variable}",
                row=where,
                hint="e.g. 万美元, 亿元, 万人, 万户, %, or '10k USD'",
            )
        cmap.units[variable] = unit
    return cmap


def _key_lines(node) -> dict[str, int]:
    """'columns.货物出口额' -> its line in the YAML file (for errors)."""
    out: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        out[str(key.value)] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for k2, _ in value.value:
                out[f"{key.value}.{k2.value}"] = k2.start_mark.line + 1
    return out


def _cell_text(value: object) -> str:
    return "" if value is None else unicodedata.normalize("NFKC", str(value)).strip()


def _row_variables(row: list, cmap: ColumnMap) -> list[str | None]:
    out = []
    for cell in row:
        text = _cell_text(cell)
        out.append(cmap.columns.get(text) if text in cmap.columns else parse_header(text).variable)
    return out


def _is_header_continuation(row: list, first: list) -> bool:
    """A second header row: only units, scopes or blanks (no numbers, no names of cities)."""
    texts = [_cell_text(c) for c in row]
    marks = [t for t in texts if t]
    if not marks:
        return False
    known = [t for t in marks if U.lookup_unit(t) or U.lookup_scope(t) or _BRACKETS.fullmatch(t)]
    return len(known) == len(marks)


MAX_HEADER_SEARCH = 30


def find_layout(grid: Grid, cmap: ColumnMap, need_exports: bool = True) -> Layout:
    """Locate the header row(s), the first data row and the column of every variable.

    A table without a year column is an annual table (its year is found by the caller in the
    sheet name, file name or title row). ``need_exports=False`` when several tables are merged
    (exports may come from another file)."""
    header_at = None
    for i, row in enumerate(grid.rows[:MAX_HEADER_SEARCH]):
        found = [v for v in _row_variables(row, cmap) if v and v != "ignore"]
        if len(set(found)) >= 2:
            header_at = i
            break
    if header_at is None:
        enc = f"read as {grid.encoding}; " if grid.encoding else ""
        raise InputError(
            grid.label,
            f"no header row with at least two known columns in the first {MAX_HEADER_SEARCH} rows",
            hint=f"{enc}name the columns as in data/README.md or pass --map; if the text looks "
            "garbled, save the file as UTF-8",
        )
    first = list(grid.rows[header_at])
    second = list(grid.rows[header_at + 1]) if header_at + 1 < len(grid.rows) else []
    two_rows = bool(second) and _is_header_continuation(second, first)
    width = max(len(first), len(second) if two_rows else 0)
    first += [None] * (width - len(first))
    second = (second + [None] * (width - len(second))) if two_rows else [None] * width
    if two_rows:  # merged cells: the name sits in the first cell of the span only
        last = None
        for j in range(width):
            if _cell_text(first[j]):
                last = first[j]
            elif _cell_text(second[j]) and last is not None:
                first[j] = last
    header_lines = [grid.lines[header_at]] + ([grid.lines[header_at + 1]] if two_rows else [])

    candidates: dict[str, list[Column]] = {}
    ignored = []
    texts = [_cell_text(c) for c in first]
    for j in range(width):
        text, below = texts[j], _cell_text(second[j])
        label = f"{text}/{below}" if below and texts.count(text) > 1 else text
        if not text:
            continue
        key = next((k for k in (f"{text}/{below}", label, text) if k in cmap.columns), None)
        info = parse_header(text)
        if key is not None:
            info.variable = cmap.columns[key]
            source_unit = info.unit
        else:
            source_unit = info.unit
        if info.variable is None or info.variable == "ignore":
            ignored.append(label)
            continue
        col = Column(j, label, info.variable, scope=info.scope)
        if below:
            col.unit = (
                col.unit or U.lookup_unit(below) or U.lookup_unit(_BRACKETS.sub(r"\1", below))
            )
            col.scope = (
                col.scope or U.lookup_scope(below) or U.lookup_scope(_BRACKETS.sub(r"\1", below))
            )
        if source_unit is not None:
            col.unit, col.unit_source = source_unit, "header"
        elif col.unit is not None:
            col.unit_source = "second header row"
        candidates.setdefault(info.variable, []).append(col)

    columns: dict[str, Column] = {}
    for variable, cols in candidates.items():
        if len(cols) > 1:  # the yearbook's whole-city column wins over the urban-districts one
            whole = [c for c in cols if c.scope != "districts"]
            ignored += [c.label for c in cols if c.scope == "districts"]
            cols = whole or cols
        if len(cols) > 1:
            raise InputError(
                grid.label,
                f"columns {cols[0].label!r} and {cols[1].label!r} both hold {variable}",
                row=header_lines[0],
                column=cols[1].label,
                hint="keep one, or name the one to use in a column map (--map)",
            )
        columns[variable] = cols[0]

    for variable in ("exports",) if need_exports else ():
        if variable not in columns:
            raise InputError(
                grid.label,
                f"missing required column '{variable}'",
                row=header_lines[0],
                hint=_missing_hint(variable, ignored),
            )
    if "city" not in columns and "city_code" not in columns:
        raise InputError(
            grid.label,
            "missing required column 'city'",
            row=header_lines[0],
            hint=_missing_hint("city", ignored),
        )
    for variable, col in columns.items():
        _assign_unit(grid, col, cmap, header_lines[0])
    return Layout(
        header_lines, header_at + len(header_lines), columns, ignored, title_rows=header_at
    )


def variable_in_text(text: object, cmap: ColumnMap) -> str | None:
    """The numeric variable a sheet name, file name or title names: '2011-2022年各市货物出口额(万美元)'
    -> exports. An exact entry of the column map wins; else the longest alias contained in the text
    (人均地区生产总值 before 地区生产总值); ASCII aliases must stand as words ('city_exports')."""
    if text is None:
        return None
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if raw in cmap.columns:
        variable = cmap.columns[raw]
        return variable if variable in NUMERIC else None
    info = parse_header(raw)
    if info.variable in NUMERIC:
        return info.variable
    flat = U.normalise(_BRACKETS.sub(" ", raw))
    best, best_len = None, 0
    for alias, variable in _ALIAS.items():
        if variable not in NUMERIC or len(alias) <= best_len or len(alias) < 2:
            continue
        if alias.isascii():
            hit = re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", flat) is not None
        else:  # 进出口总额 (imports + exports) is not 出口总额
            hit = re.search(rf"(?<!进){re.escape(alias)}", flat) is not None
        if hit:
            best, best_len = variable, len(alias)
    return best


def unit_in_text(text: object) -> U.Unit | None:
    """A unit in brackets ('货物出口额(万美元)'), after '单位:' or as a '_'-separated token."""
    if text is None:
        return None
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    for group in _BRACKETS.findall(raw):
        unit = U.lookup_unit(group) or U.lookup_unit(re.sub(r"^单位[:：]?", "", group.strip()))
        if unit:
            return unit
    m = re.search(r"单位[:：]\s*([^\s,，;；)）]+)", raw)
    if m and U.lookup_unit(m.group(1)):
        return U.lookup_unit(m.group(1))
    for token in re.split(r"[_\s|:：-]+", _BRACKETS.sub(" ", raw)):
        if token and U.lookup_unit(token):
            return U.lookup_unit(token)
    return None


def _missing_hint(variable: str, headers: list[str]) -> str:
    examples = ", ".join(ALIASES[variable][:2])
    if headers:
        best = process.extractOne(variable, headers) if variable.isascii() else None
        close = process.extractOne(ALIASES[variable][0], headers)
        pick = close if close and close[1] >= 60 else best if best and best[1] >= 60 else None
        if pick:
            return f"name it e.g. {examples}; did you mean {pick[0]!r}? else map it with --map"
    return f"name it e.g. {examples}, or map it with --map"


def _assign_unit(grid: Grid, col: Column, cmap: ColumnMap, header_line: int) -> None:
    variable = col.variable
    if variable not in U.VARIABLE_KIND:
        return
    if variable in cmap.units:
        col.unit, col.unit_source = cmap.units[variable], "map"
    if col.unit is None:
        text = U.normalise(col.label.split("/")[0])
        if text in IMPLIED:
            col.unit, col.unit_source = U.UNITS[IMPLIED[text][1]], "implied by name"
        elif re.search(r"[\u4e00-\u9fff]", col.label) or variable in (
            "industry_share",
            "broadband_per100",
        ):
            col.unit, col.unit_source = (
                U.UNITS[U.YEARBOOK_DEFAULT[variable]],
                "assumed (yearbook convention)",
            )
        else:
            raise InputError(
                grid.label,
                f"unit of column {col.label!r} not stated",
                row=header_line,
                column=col.label,
                hint="write it in the header, e.g. 'exports (10k USD)', or under units: in --map",
            )
    if not U.compatible(variable, col.unit):
        raise InputError(
            grid.label,
            f"unit {col.unit.label!r} is not a unit of {variable}",
            row=header_line,
            column=col.label,
            hint="see data/README.md for accepted units",
        )
