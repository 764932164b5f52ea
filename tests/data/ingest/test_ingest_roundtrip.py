"""A yearbook-style workbook made from the synthetic panel must ingest back to the same panel and
the same TWFE estimate (to 1e-6)."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis.data import reference
from analysis.data.ingest import ingest_file
from analysis.did.twfe import twfe

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
    "city_en",
    "province",
    "region",
    "coastal",
    "year",
    "pilot_year",
    "pilot_batch",
    "pilot",
    "rail_year",
    "rail",
    "cre_year",
    "laos_rail_year",
]
# Names as a yearbook of that year prints them (before a redesignation / renaming).
HISTORIC = {
    "520500": ("毕节地区", 2011),
    "520600": ("铜仁地区", 2011),
    "630200": ("海东地区", 2013),
    "540200": ("日喀则地区", 2014),
    "540400": ("林芝地区", 2015),
    "650500": ("哈密地区", 2016),
    "420600": ("襄樊市", 2011),
}


def yearbook_workbook(panel: pd.DataFrame, path, exports_unit: str) -> None:
    """China City Statistical Yearbook layout: title row, two header rows (name; 全市/unit), merged
    header cells, exports in 万美元 or 万元, GDP in 万元, population in 万人, footnotes."""
    rate = panel["year"].map(reference.load_national_exports().set_index("year")["cny_per_usd_avg"])
    exports = panel["exports_usd_mn"] * 100 * (rate if exports_unit == "万元" else 1)
    names = (
        panel["city"].str.removesuffix("市").where(panel.index % 3 != 0, panel["city"])
    )  # 杭州 / 杭州市
    for code, (old, until) in HISTORIC.items():
        names = names.mask((panel["city_code"] == code) & (panel["year"] < until), old)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "城市统计"
    ws.append(["2010-2023年地级及以上城市主要指标"])
    ws.append(
        [
            "城市",
            "年份",
            f"货物出口额({exports_unit})",
            None,
            "地区生产总值",
            "年末总人口",
            "实际使用外资金额",
            "第二产业增加值占GDP比重",
            "互联网宽带接入用户数",
        ]
    )
    ws.append([None, None, "全市", "市辖区", "万元", "万人", "万美元", "%", "万户"])
    ws.merge_cells("A1:I1")
    ws.merge_cells("C2:D2")
    cols = zip(
        names,
        panel["year"],
        exports.round(4),
        (exports * 0.6).round(4),
        (panel["gdp_per_capita_cny"] * panel["population_10k"]).round(4),
        panel["population_10k"].round(6),
        (panel["fdi_usd_mn"] * 100).round(6),
        panel["industry_share_pct"].round(8),
        (panel["broadband_per100"] / 100 * panel["population_10k"]).round(8),
    )
    for row in cols:
        ws.append([row[0], int(row[1]), *map(float, row[2:])])
    ws.append(["注：全市包括市辖区和所辖县（市）。"])
    ws.append(["资料来源：《中国城市统计年鉴》。"])
    book.save(path)


@pytest.mark.parametrize("exports_unit,every", [("万美元", 1), ("万元", 3)])
def test_yearbook_xlsx_reproduces_synthetic_panel(
    exports_unit, every, synthetic_panel, master, table, tmp_path
):
    """All 337 cities with exports in 万美元; every third city with exports in 万元 (kept short)."""
    codes = synthetic_panel["city_code"].unique()[::every]
    want = synthetic_panel[synthetic_panel["city_code"].isin(codes)].reset_index(drop=True)
    path = tmp_path / "yearbook.xlsx"
    yearbook_workbook(want, path, exports_unit)
    result = ingest_file(path, master, table, first_year=2010, last_year=2023)
    got = result.panel
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got[EXACT], want[EXACT])
    for col in FLOATS:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-6, atol=1e-7, err_msg=col)
    assert (got["data_source"] == "file").all()

    xs = ["pilot", "rail", "log_broadband"]
    a, b = (
        twfe(got, "log_exports", xs, "city_code", "year"),
        twfe(want, "log_exports", xs, "city_code", "year"),
    )
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(a.std_errors.to_numpy(), b.std_errors.to_numpy(), atol=1e-6)

    report = result.report
    if every == 1:  # names as printed before a redesignation are mapped and reported
        assert "毕节地区" in report and "prefecture-to-city" in report and "襄樊市" in report
    assert (
        "footnote rows" in report and "市辖区" in report
    )  # footnotes dropped, districts column not used
    assert "Magnitudes of all variables are in the usual ranges" in report
