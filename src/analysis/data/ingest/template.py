"""A blank yearbook-style template (two header rows: variable, unit) that ``analysis ingest`` reads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from analysis.data.ingest.outputs import write_atomic

COLUMNS = {
    "zh": [
        ("省份", ""),
        ("城市", ""),
        ("年份", ""),
        ("货物出口额", "万美元"),
        ("地区生产总值", "万元"),
        ("年末总人口", "万人"),
        ("实际使用外资金额", "万美元"),
        ("第二产业增加值占GDP比重", "%"),
        ("互联网宽带接入用户数", "万户"),
    ],
    "en": [
        ("province", ""),
        ("city", ""),
        ("year", ""),
        ("exports", "10k USD"),
        ("gdp", "10k yuan"),
        ("population", "10k persons"),
        ("fdi", "10k USD"),
        ("industry_share", "%"),
        ("broadband_users", "10k subscribers"),
    ],
}
FOOTNOTE = {
    "zh": "注：每行一个城市一个年份；城市、年份、货物出口额必填，其余可空；第二行为单位，可改为亿元、万元等（见 data/README.md）。",
    "en": "Note: one row per city and year; city, year and exports are required, the rest may be empty; "
    "the second row holds units and may be changed (see data/README.md).",
}


def template_rows(lang: str = "zh") -> list[list[str]]:
    if lang not in COLUMNS:
        raise ValueError(f"lang must be one of {sorted(COLUMNS)}, not {lang!r}")
    names = [n for n, _ in COLUMNS[lang]]
    units = [u for _, u in COLUMNS[lang]]
    return [names, units, [FOOTNOTE[lang]]]


def write_template(out: Path | str, lang: str = "zh", fmt: str = "csv") -> Path:
    """CSV (UTF-8 with BOM, so Excel shows the Chinese headers) or XLSX."""
    out = Path(out)
    rows = template_rows(lang)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic({out: "\ufeff" + buf.getvalue()})
    elif fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "data"
        for row in rows:
            sheet.append(row)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            book.save(tmp)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        raise ValueError(f"format must be 'csv' or 'xlsx', not {fmt!r}")
    return out
