"""Folders of annual tables, wide exports (years as columns), legacy .xls, and tables that disagree.

Each layout is generated from the synthetic panel and must ingest back to it (values to 1e-6
relative); bad inputs give one exact `error:` line, exit 1 and write nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from layout_corpus import (
    EXACT,
    FLOATS,
    annual_folder_by_name,
    annual_folder_by_title,
    annual_rows,
    subset,
    wide_csv_folder,
    wide_multi_workbook,
    wide_rows,
    wide_workbook,
    write_csv,
    write_xlsx,
    xls_annual_gbk,
    xls_long,
)
from xls_writer import xls_bytes

from analysis.data.ingest import ingest_file, ingest_for_pipeline
from analysis.data.ingest.wide import header_year
from analysis.errors import InputError

YEARS = range(2011, 2016)


def assert_same_panel(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(
        got[EXACT].reset_index(drop=True), want[EXACT].reset_index(drop=True)
    )
    for col in FLOATS:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-6, atol=1e-9, err_msg=col)
    assert (got["data_source"] == "file").all()


def ingest(source, master, table, **kw):
    return ingest_file(source, master, table, first_year=2010, last_year=2023, **kw)


def test_folder_of_annual_xlsx_with_year_in_file_name(synthetic_panel, master, table, tmp_path):
    want = subset(synthetic_panel, YEARS)
    folder = annual_folder_by_name(want, tmp_path / "yearbooks", YEARS)
    assert sorted(p.name for p in folder.iterdir())[:2] == [
        "2011年城市统计年鉴.xlsx",
        "2013年城市统计年鉴.xlsx",
    ]
    result = ingest(folder, master, table)
    assert_same_panel(result.panel, want)
    report = result.report
    assert "annual table: year 2012 from the file name 'city_2012'" in report
    assert report.count("SHA-256") >= 1 and "5 files" in report
    # a yearbook edition year is not always the data year: said in the warnings
    assert "A yearbook edition usually reports the previous year's data" in report


def test_folder_with_year_in_title_row_gbk_csv(synthetic_panel, master, table, tmp_path):
    years = range(2016, 2019)
    want = subset(synthetic_panel, years, every=2)
    folder = annual_folder_by_title(want, tmp_path / "annual", years)
    result = ingest(folder, master, table)
    assert_same_panel(result.panel, want)
    assert "title row '2016年 地级市主要指标'" in result.report
    assert "encoding gb18030" in result.report


def test_list_of_files_and_the_sheet_name_year(synthetic_panel, master, table, tmp_path):
    """A list of files; a workbook with one sheet per year (year in the sheet name only)."""
    want = subset(synthetic_panel, range(2012, 2015), every=3)
    a = write_xlsx(tmp_path / "volumes.xlsx", {str(y): annual_rows(want, y) for y in (2012, 2013)})
    b = write_csv(tmp_path / "city_2014.csv", annual_rows(want, 2014))
    assert_same_panel(ingest([a, b], master, table).panel, want)


def test_wide_workbook_one_sheet_per_indicator(synthetic_panel, master, table, tmp_path):
    want = subset(synthetic_panel, YEARS, every=2)
    path = wide_workbook(want, tmp_path / "EPS导出.xlsx")
    result = ingest(path, master, table)
    assert_same_panel(result.panel, want)
    assert "wide: exports from '货物出口额(万美元)', 5 year columns 2011-2015" in result.report


def test_wide_sheet_with_several_indicators_over_their_years(
    synthetic_panel, master, table, tmp_path
):
    want = subset(synthetic_panel, YEARS, every=2)
    result = ingest(wide_multi_workbook(want, tmp_path / "cnki.xlsx"), master, table)
    assert_same_panel(result.panel, want)
    assert "header on line(s) 2, 3" in result.report


def test_wide_csv_files_one_per_indicator(synthetic_panel, master, table, tmp_path):
    want = subset(synthetic_panel, YEARS, every=3)
    folder = wide_csv_folder(want, tmp_path / "eps")
    result = ingest(folder, master, table)
    assert_same_panel(result.panel, want)
    report = result.report
    assert "wide: population from '年末总人口(万人)'" in report  # named by its title row
    assert "wide: exports from '货物出口额'" in report
    # no unit in '货物出口额.csv': the yearbook's 万美元 is assumed, and said
    assert "Unit of `货物出口额` not stated: assumed **万美元**" in report


def test_wide_file_through_the_column_map(synthetic_panel, master, table, tmp_path):
    """A file name the aliases do not know, mapped to a variable under columns: of the map."""
    want = subset(synthetic_panel, YEARS, every=5)
    path = write_csv(
        tmp_path / "X0417.csv", wide_rows(want, "货物出口额(万美元)", city_header="city")
    )
    cmap = tmp_path / "map.yaml"
    cmap.write_text(
        yaml.safe_dump({"columns": {"X0417": "exports"}, "units": {"exports": "万美元"}}), "utf-8"
    )
    got = ingest(path, master, table, column_map=cmap).panel
    np.testing.assert_allclose(got["exports_usd_mn"], want["exports_usd_mn"], rtol=1e-6)


def test_wide_and_annual_mixed_and_blank_cells(synthetic_panel, master, table, tmp_path):
    """Exports from a wide file, GDP and population from annual files; blank wide cells are no rows."""
    want = subset(synthetic_panel, range(2014, 2016), every=4)
    rows = wide_rows(want, "货物出口额(万美元)")
    rows[2][1] = None  # the second city's 2014 exports: blank
    write_csv(tmp_path / "货物出口额(万美元).csv", rows)
    for year in (2014, 2015):
        part = annual_rows(want, year)
        write_csv(
            tmp_path / f"{year}.csv", [[r[0], r[2], r[3]] for r in part]
        )  # 城市, GDP, population
    result = ingest(tmp_path, master, table)
    got = result.panel.set_index(["city_code", "year"])
    ref = want.set_index(["city_code", "year"])
    assert len(got) == len(ref)
    blank = (want["city_code"].unique()[1], 2014)
    assert np.isnan(got.loc[blank, "exports_usd_mn"])  # the key still comes from the annual file
    ok = ~got.index.isin([blank])
    np.testing.assert_allclose(
        got.loc[ok, "exports_usd_mn"], ref.loc[ok, "exports_usd_mn"], rtol=1e-6
    )
    np.testing.assert_allclose(got["gdp_per_capita_cny"], ref["gdp_per_capita_cny"], rtol=1e-6)
    assert got["fdi_usd_mn"].isna().all()


@pytest.mark.parametrize("biff", [8, 5])
def test_legacy_xls_is_read(biff, synthetic_panel, master, table, tmp_path):
    if biff == 8:
        want = subset(synthetic_panel, YEARS, every=2)
        path = xls_long(want, tmp_path / "城市数据.xls")
    else:
        want = subset(synthetic_panel, [2013], every=2)
        path = xls_annual_gbk(want, tmp_path / "2013年城市统计年鉴.xls", 2013)
        assert "杭州".encode("gbk") in path.read_bytes()  # the text really is GBK in the file
    assert_same_panel(ingest(path, master, table).panel, want)


def test_xls_cell_errors_name_the_spreadsheet_row(master, table, tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(
        xls_bytes(
            {
                "Sheet1": [
                    ["城市", "年份", "货物出口额(万美元)"],
                    ["杭州", 2015, 100.0],
                    ["宁波", 2015, "约100"],
                ]
            }
        )
    )
    with pytest.raises(InputError) as err:
        ingest(path, master, table)
    assert str(err.value) == (
        f"error: {path}:3:货物出口额(万美元): not a number: '约100' (use digits, leave the "
        "cell empty or '-' if missing)"
    )


def _conflict_folder(folder, exports_hz_2015: float):
    folder.mkdir()
    annual = write_csv(
        folder / "2015年.csv", [["城市", "货物出口额(万美元)"], ["宁波", 5800.0], ["杭州", 1234.0]]
    )
    wide = write_xlsx(
        folder / "货物出口额.xlsx",
        {
            "货物出口额(万美元)": [
                ["城市", 2014, "2015年", 2016],
                ["北京", 1.0, 2.0, 3.0],
                ["杭州", 1100.0, exports_hz_2015, 1400.0],
            ]
        },
    )
    return annual, wide


def test_two_files_that_disagree_are_an_error_naming_both(run_cli, project):
    raw = project / "data" / "raw"
    annual, wide = _conflict_folder(raw / "mixed", 1300.0)
    out = project / "data" / "processed" / "panel.csv"
    result = run_cli("ingest", raw / "mixed", "--out", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {annual}:3:货物出口额(万美元) and {wide}:3:2015年: city 杭州 year 2015 exports 1,234 vs 1,300 "
        "(two files disagree; keep one)"
    )
    assert not out.parent.exists()  # nothing written


def test_same_value_twice_is_kept_once_with_a_warning(run_cli, project):
    raw = project / "data" / "raw"
    annual, wide = _conflict_folder(raw / "mixed", 1234.0)
    out = project / "data" / "processed" / "panel.csv"
    result = run_cli("ingest", annual, wide, "--out", out)  # a list of files on the command line
    assert result.exit_code == 0, result.output
    panel = pd.read_csv(out, dtype={"city_code": str})
    assert len(panel) == 7 and panel.duplicated(["city_code", "year"]).sum() == 0
    report = (out.parent / "panel_report.md").read_text(encoding="utf-8")
    assert (
        f"exports: 1 city-years given by two tables with the same value (kept once): 杭州 2015: "
        f"{annual}:3:货物出口额(万美元), {wide}:3:2015年\n"
    ) in report


def test_sheets_that_disagree_name_the_sheets(master, table, tmp_path):
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "2015": [["城市", "货物出口额(万美元)"], ["杭州", 10.0]],
            "出口": [["城市", "年份", "出口总额(亿美元)"], ["杭州", 2015, 0.0011]],
        },
    )
    with pytest.raises(InputError) as err:
        ingest(path, master, table)
    assert str(err.value) == (
        f"error: {path}[2015]:2:货物出口额(万美元) and {path}[出口]:2:出口总额(亿美元): city 杭州 "
        "year 2015 exports 10 万美元 vs 0.0011 亿美元 (two sheets disagree; keep one)"
    )


@pytest.mark.parametrize(
    "name,rows,expected",
    [
        (
            "城市数据.csv",
            [["城市", "货物出口额(万美元)"], ["杭州", 1.0]],
            (
                "error: {f}:1: missing required column 'year' (name it e.g. 年份, 年度, or map it with --map; or put the "
                "year in the file name or a title row, e.g. 2015年城市统计年鉴.xlsx)"
            ),
        ),
        (
            "城市数据2015-2016.csv",
            [["城市", "货物出口额(万美元)"], ["杭州", 1.0]],
            (
                "error: {f}:1: no year column, and the file name '城市数据2015-2016' names several years (2015, 2016) (add a "
                "年份 column, or name the file after the one year it holds, e.g. 2015年城市统计年鉴.xlsx)"
            ),
        ),
        (
            "EPS.csv",
            [["城市", 2011, 2012], ["杭州", 1.0, 2.0]],
            (
                "error: {f}:1: years as columns, but no indicator named by the sheet name, file name or title row ('EPS') "
                "(name the sheet or the file after the indicator, e.g. 货物出口额(万美元).xlsx, or map the name to a "
                "variable under columns: in --map)"
            ),
        ),
        (
            "货物出口额.csv",
            [["城市", 2011, "2012年"], ["杭州", 1.0, "n/a?"]],
            "error: {f}:2:2012年: not a number: 'n/a?' (use digits, leave the cell empty or '-' if missing)",
        ),
        (
            "货物出口额.csv",
            [["城市", 2011, "2012年"], ["杭州", 1.0, -2.0]],
            "error: {f}:2:2012年: exports must be > 0, got -2 (leave the cell empty if the value is unknown)",
        ),
        (
            "地区生产总值.csv",
            [["城市", 2011, 2012], ["杭州", 1.0, 2.0]],
            (
                "error: {f}: missing required variable 'exports': no table holds it (name a column, sheet or file e.g. "
                "货物出口额, 出口总额, or map it with --map)"
            ),
        ),
    ],
)
def test_layout_errors_are_one_line(name, rows, expected, run_cli, project):
    path = write_csv(project / "data" / "raw" / name, rows)
    out = project / "data" / "processed" / "panel.csv"
    result = run_cli("ingest", path, "--out", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == expected.format(f=path)
    assert not out.parent.exists()


def test_empty_folder_is_an_error(run_cli, project):
    folder = project / "data" / "raw" / "empty"
    folder.mkdir()
    (folder / "~$2015.xlsx").write_bytes(b"lock")  # Excel's lock file is not a table
    result = run_cli("ingest", folder, "--out", project / "panel.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {folder}: folder holds no data file (put the yearbook tables "
        "(.csv, .txt, .tsv, .xlsx, .xlsm, .xls) in it)"
    )


def test_pipeline_reads_a_folder_and_a_list_from_params(synthetic_panel, master, table, project):
    want = subset(synthetic_panel, range(2014, 2016), every=6)
    annual_folder_by_name(want, project / "data" / "raw" / "yearbooks", range(2014, 2016))
    params = {
        "data": {"source": "file", "file": "data/raw/yearbooks", "column_map": None},
        "panel": {"first_year": 2010, "last_year": 2023},
    }
    assert_same_panel(ingest_for_pipeline(params, master, table), want)
    params["data"]["file"] = [
        "data/raw/yearbooks/2014年城市统计年鉴.xlsx",
        "data/raw/yearbooks/city_2015.xlsx",
    ]
    assert_same_panel(ingest_for_pipeline(params, master, table), want)
    assert "5 files" not in (project / "data" / "processed" / "panel_report.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize(
    "cell,year",
    [
        (2011, 2011),
        (2012.0, 2012),
        ("2013", 2013),
        ("2014年", 2014),
        (" 2015 ", 2015),
        ("２０１６", 2016),
        ("2017.0", 2017),
        ("2018年度", 2018),
        ("2011-2012", None),
        ("城市", None),
        (20111, None),
        (True, None),
        (None, None),
    ],
)
def test_header_year(cell, year):
    assert header_year(cell) == year


def test_equal_after_unit_conversion_and_empty_cells_do_not_conflict(master, table, tmp_path):
    """10 万美元 = 0.001 亿美元 agree; a value beside an empty cell is used."""
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "2015": [["城市", "货物出口额(万美元)"], ["杭州", 10.0], ["宁波", None]],
            "出口": [
                ["城市", "年份", "出口总额(亿美元)"],
                ["杭州", 2015, 0.001],
                ["宁波", 2015, 0.002],
            ],
        },
    )
    result = ingest(path, master, table)
    got = result.panel.set_index("city_code")["exports_usd_mn"]
    assert got["330100"] == pytest.approx(0.1) and got["330200"] == pytest.approx(0.2)
    assert "exports: 1 city-years given by two tables with the same value" in result.report


@pytest.mark.parametrize(
    "text,variable",
    [
        ("2011-2022年各地级市货物出口额(万美元)", "exports"),
        ("进出口总额", None),
        ("人均地区生产总值", "gdp_pc"),
        ("地区生产总值_万元", "gdp"),
        ("city_exports", "exports"),
        ("eps_3", None),
        ("Sheet1", None),
        ("2015", None),
        ("年末总人口（万人）", "population"),
        ("exporter_list", None),
    ],
)
def test_indicator_named_in_text(text, variable):
    from analysis.data.ingest.columns import ColumnMap, variable_in_text

    assert variable_in_text(text, ColumnMap()) == variable


@pytest.mark.parametrize(
    "text,unit",
    [
        ("货物出口额(万美元)", "万美元"),
        ("地区生产总值_万元", "万元"),
        ("各市货物出口额 单位：亿美元", "亿美元"),
        ("货物出口额", None),
    ],
)
def test_unit_named_in_text(text, unit):
    from analysis.data.ingest.columns import unit_in_text

    found = unit_in_text(text)
    assert (found.label if found else None) == unit


def test_an_html_page_saved_as_xls_gets_the_advice_to_save_as_xlsx(tmp_path):
    """Issue 17: statistics sites serve HTML tables named .xls; the one-line error says so."""
    from analysis.data.ingest.read import read_grids
    from analysis.errors import InputError

    path = tmp_path / "yearbook.xls"
    path.write_text("<html><table><tr><td>城市</td></tr></table></html>", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_grids(path)
    line = str(err.value)
    assert "HTML page" in line and "save it as .xlsx" in line and "\n" not in line


def test_the_ingest_report_keeps_the_files_count_unit():
    from analysis.data.ingest.units import lookup_unit

    assert lookup_unit("万户").label == "万户" and lookup_unit("万人").label == "万人"
    assert lookup_unit("万户").scale == lookup_unit("万人").scale == 1e4
