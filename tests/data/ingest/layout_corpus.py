"""The file layouts researchers hold, generated from the synthetic panel (nothing binary is committed).

* annual tables: one file per year, cities as rows, the year in the file name or a title row
  (the China City Statistical Yearbook comes one volume per year);
* wide tables: one indicator per sheet or per file, cities as rows, years as columns (EPS, CEIC,
  CNKI exports);
* legacy .xls workbooks (BIFF8, and BIFF5 with GBK text; see xls_writer.py).

Every builder writes the panel's values in yearbook units, so an ingest must give them back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from xls_writer import xls_bytes

# Yearbook header (with unit) -> values in that unit, from a panel of PANEL_SCHEMA.
INDICATORS: dict[str, callable] = {
    "货物出口额(万美元)": lambda p: p["exports_usd_mn"] * 100,
    "地区生产总值(万元)": lambda p: p["gdp_per_capita_cny"] * p["population_10k"],
    "年末总人口(万人)": lambda p: p["population_10k"],
    "实际使用外资金额(万美元)": lambda p: p["fdi_usd_mn"] * 100,
    "第二产业增加值占GDP比重(%)": lambda p: p["industry_share_pct"],
    "互联网宽带接入用户数(万户)": lambda p: p["broadband_per100"] / 100 * p["population_10k"],
}
FLOATS = [
    "exports_usd_mn",
    "log_exports",
    "gdp_per_capita_cny",
    "log_gdp_pc",
    "population_10k",
    "log_population",
    "fdi_usd_mn",
    "log_fdi",
    "industry_share_pct",
    "broadband_per100",
    "log_broadband",
]
EXACT = [
    "city_code",
    "city",
    "province",
    "year",
    "pilot_year",
    "pilot_batch",
    "pilot",
    "rail_year",
    "rail",
]


def subset(panel: pd.DataFrame, years: range, every: int = 1) -> pd.DataFrame:
    """The panel's rows for ``years`` and every ``every``-th city, sorted as an ingest returns them."""
    codes = panel["city_code"].unique()[::every]
    keep = panel["year"].isin(list(years)) & panel["city_code"].isin(codes)
    return panel[keep].sort_values(["city_code", "year"]).reset_index(drop=True)


def annual_rows(panel: pd.DataFrame, year: int) -> list[list]:
    """Header + one row per city of one year's volume (no year column)."""
    part = panel[panel["year"] == year]
    values = [INDICATORS[h](part).to_numpy() for h in INDICATORS]
    rows = [["城市", *INDICATORS]]
    rows += [[name, *(float(v[i]) for v in values)] for i, name in enumerate(part["city"])]
    return rows


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    """Numbers as repr (round-trip exact); empty for None."""

    def cell(v):
        return "" if v is None else repr(v) if isinstance(v, float) else str(v)

    path.write_bytes(
        ("\n".join(",".join(cell(v) for v in row) for row in rows) + "\n").encode(encoding)
    )
    return path


def annual_folder_by_name(panel: pd.DataFrame, folder: Path, years: range) -> Path:
    """One XLSX per year, the year in the file name only (two naming styles)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, year in enumerate(years):
        name = f"{year}年城市统计年鉴.xlsx" if k % 2 == 0 else f"city_{year}.xlsx"
        write_xlsx(folder / name, {"Sheet1": annual_rows(panel, year)})
    return folder


def annual_folder_by_title(panel: pd.DataFrame, folder: Path, years: range) -> Path:
    """One GBK CSV per year, the year only in a title row above the header (file names without years)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, year in enumerate(years):
        rows = [[f"{year}年 地级市主要指标"], [], *annual_rows(panel, year)]
        write_csv(folder / f"table_{chr(ord('a') + k)}.csv", rows, encoding="gbk")
    return folder


def year_headers(years: list[int]) -> list:
    """The ways exports spell years: 2011, '2012年', '2013 ', '2014.0', ..."""
    styles = [str, lambda y: f"{y}年", lambda y: f"{y} ", lambda y: f"{y}.0"]
    return [styles[k % len(styles)](y) for k, y in enumerate(years)]


def wide_rows(
    panel: pd.DataFrame, header: str, title: str | None = None, city_header: str = "地区"
) -> list[list]:
    """Cities as rows, years as columns, for one indicator (a missing city-year is a blank cell)."""
    years = sorted(panel["year"].unique())
    values = panel.assign(_v=INDICATORS[header](panel)).pivot(
        index="city_code", columns="year", values="_v"
    )
    cities = panel.drop_duplicates("city_code")
    rows = [[title]] if title else []
    rows.append([city_header, *year_headers(years)])
    for code, city in zip(cities["city_code"], cities["city"]):
        rows.append([city, *(None if np.isnan(v) else float(v) for v in values.loc[code, years])])
    rows.append(["数据来源：EPS数据平台"])
    return rows


def wide_workbook(panel: pd.DataFrame, path: Path) -> Path:
    """One sheet per indicator, named after it; the first sheet also carries a title row."""
    sheets = {}
    for k, header in enumerate(INDICATORS):
        sheets[header] = wide_rows(panel, header, title="2011-2015年地级市数据" if k == 0 else None)
    return write_xlsx(path, sheets)


def wide_csv_folder(panel: pd.DataFrame, folder: Path) -> Path:
    """One CSV per indicator: named by the file (with and without a unit) or, for 'eps_3.csv', by the
    title row above the header."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "货物出口额(万美元)": "货物出口额.csv",
        "地区生产总值(万元)": "地区生产总值_万元.csv",
        "实际使用外资金额(万美元)": "实际使用外资金额(万美元).csv",
        "第二产业增加值占GDP比重(%)": "第二产业比重.csv",
        "互联网宽带接入用户数(万户)": "互联网宽带接入用户数.csv",
    }
    for header, name in names.items():
        write_csv(folder / name, wide_rows(panel, header, city_header="城市"))
    write_csv(
        folder / "eps_3.csv", wide_rows(panel, "年末总人口(万人)", title="年末总人口（万人）")
    )
    return folder


def long_rows(panel: pd.DataFrame) -> list[list]:
    """One row per city-year with a year column (the template layout)."""
    values = [INDICATORS[h](panel).to_numpy() for h in INDICATORS]
    rows = [["城市", "年份", *INDICATORS]]
    rows += [
        [c, float(y), *(float(v[i]) for v in values)]
        for i, (c, y) in enumerate(zip(panel["city"], panel["year"]))
    ]
    return rows


def xls_long(panel: pd.DataFrame, path: Path) -> Path:
    """A BIFF8 workbook with a title row and a long table."""
    path.write_bytes(
        xls_bytes({"城市数据": [["2011-2015年地级以上城市主要指标"], *long_rows(panel)]}, biff=8)
    )
    return path


def xls_annual_gbk(panel: pd.DataFrame, path: Path, year: int) -> Path:
    """A BIFF5 (Excel 95) annual volume whose text is GBK (code page 936)."""
    path.write_bytes(xls_bytes({"Sheet1": annual_rows(panel, year)}, biff=5, encoding="gbk"))
    return path


def wide_multi_workbook(panel: pd.DataFrame, path: Path) -> Path:
    """Several indicators in one sheet: each indicator's name merged over its years (first header
    row), the years in the second header row, as CNKI and EPS multi-indicator exports look."""
    years = sorted(panel["year"].unique())
    headers = list(INDICATORS)
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["地级市面板数据"])
    top, second = ["城市"], [None]
    for h in headers:
        top += [h] + [None] * (len(years) - 1)
        second += year_headers(years)
    ws.append(top)
    ws.append(second)
    for k in range(len(headers)):
        first = 2 + k * len(years)
        ws.merge_cells(
            start_row=2, start_column=first, end_row=2, end_column=first + len(years) - 1
        )
    cities = panel.drop_duplicates("city_code")
    pivots = [
        panel.assign(_v=INDICATORS[h](panel)).pivot(index="city_code", columns="year", values="_v")
        for h in headers
    ]
    for code, city in zip(cities["city_code"], cities["city"]):
        ws.append([city, *(float(p.loc[code, y]) for p in pivots for y in years)])
    book.save(path)
    return path
