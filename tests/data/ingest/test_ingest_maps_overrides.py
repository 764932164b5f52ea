"""User column maps (YAML), treatment-table overrides, the template, the pipeline hook, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from analysis import config as paths
from analysis.data import reference
from analysis.data.ingest import ingest_file, ingest_for_pipeline
from analysis.data.ingest.columns import load_column_map, parse_header
from analysis.data.schema import PANEL_SCHEMA
from analysis.errors import InputError

ODD = "地市名,统计年度,出口(千美元),人口数量\n杭州,2015,60000000,723.6\n宁波,2015,58000000,586.6\n"


@pytest.mark.parametrize(
    "header,variable,unit",
    [
        ("货物出口额(万美元)", "exports", "万美元"),
        ("货物出口额（万美元）_全市", "exports", "万美元"),
        ("出口总额 (亿元)", "exports", "亿元"),
        ("exports (10k USD)", "exports", "万美元"),
        ("exports_usd_mn", "exports", "百万美元"),
        ("GDP per capita (yuan)", "gdp_pc", "元"),
        ("人均地区生产总值(元/人)", "gdp_pc", "元/人"),
        ("年末总人口(万人)", "population", "万人"),
        ("互联网宽带接入用户数(万户)", "broadband_users", "万户"),
        ("实际使用外资金额(万美元)", "fdi", "万美元"),
        ("第二产业增加值占GDP比重(%)", "industry_share", "%"),
        ("ＧＤＰ（亿元）", "gdp", "亿元"),
        ("备注", None, None),
    ],
)
def test_parse_header(header, variable, unit):
    info = parse_header(header)
    assert info.variable == variable
    assert (info.unit.label if info.unit else None) == unit


def test_column_map_renames_and_sets_units(tmp_path, master, table):
    data = tmp_path / "odd.csv"
    data.write_text(ODD, encoding="utf-8")
    cmap = tmp_path / "map.yaml"
    cmap.write_text(
        yaml.safe_dump(
            {
                "columns": {"地市名": "city", "统计年度": "year", "人口数量": "population"},
                "units": {"population": "万人"},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    panel = ingest_file(data, master, table, column_map=cmap).panel
    assert panel["exports_usd_mn"].tolist() == pytest.approx([60000.0, 58000.0])
    assert panel["population_10k"].tolist() == pytest.approx([723.6, 586.6])


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "columns:\n  地市名: town\n",
            (
                "error: {f}:2: unknown variable 'town' for column '地市名' (one of: city, city_code, "
                "province, year, exports, gdp, gdp_pc, population, broadband_users, broadband_per100, mobile_users, fdi, "
                "industry_share, ignore)"
            ),
        ),
        (
            "units:\n  exports: furlongs\n",
            (
                "error: {f}:2: unit 'furlongs' is not a unit of exports (e.g. 万美元, 亿元, "
                "万人, 万户, %, or '10k USD')"
            ),
        ),
        (
            "units:\n  population: 万美元\n",
            (
                "error: {f}:2: unit '万美元' is not a unit of population (e.g. 万美元, 亿元, "
                "万人, 万户, %, or '10k USD')"
            ),
        ),
        ("colums:\n  a: city\n", "error: {f}:1: unknown key 'colums' (use columns, units, sheet)"),
        ("columns: [a, b\n", "error: {f}:2: not valid YAML (see data/README.md, 'Column maps')"),
        (
            "- city\n",
            (
                "error: {f}: a column map must be a mapping with 'columns:' and/or 'units:' (see data/README.md, "
                "'Column maps')"
            ),
        ),
    ],
)
def test_bad_column_map_gives_one_line_error(tmp_path, text, expected):
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_column_map(path)
    assert str(err.value) == expected.format(f=path)


RAIL_HEADER = "prefecture,link,first_service,route,verification"


@pytest.mark.parametrize(
    "row,expected",
    [
        (
            "西安,china-europe-railway-express,2013-11-28,长安号,checked",
            "error: {f}:3:verification: value 'checked' fails check isin(['2nd-source', 'single-source'])",
        ),
        (
            "西安,china-europe-railway-express,1999-11-28,长安号,single-source",
            (
                "error: {f}:3:first_service: value Timestamp('1999-11-28 00:00:00') fails check in_range(2000-01-01 "
                "00:00:00, 2030-12-31 00:00:00)"
            ),
        ),
        (
            "西安,silk-road-by-camel,2013-11-28,长安号,single-source",
            (
                "error: {f}:3:link: value 'silk-road-by-camel' fails check isin(['china-europe-railway-express', "
                "'china-laos-railway'])"
            ),
        ),
    ],
)
def test_malformed_rail_links_override_gives_one_line_error(tmp_path, row, expected):
    path = tmp_path / "rail_links.csv"
    path.write_text(
        f"{RAIL_HEADER}\n重庆,china-europe-railway-express,2011-03-19,渝新欧,2nd-source\n{row}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        reference.load_rail_links(path)
    assert str(err.value) == expected.format(f=path)


def test_rail_links_override_through_the_cli(run_cli, project):
    bad = project / "data" / "raw" / "rail_links.csv"
    bad.write_text(
        f"{RAIL_HEADER}\n重庆,china-europe-railway-express,2011-03-19,渝新欧,checked\n",
        encoding="utf-8",
    )
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    params["treatment"]["rail_links_file"] = "data/raw/rail_links.csv"
    (project / "params.yaml").write_text(
        yaml.safe_dump(params, allow_unicode=True), encoding="utf-8"
    )
    data = project / "data" / "raw" / "yearbook.csv"
    data.write_text("城市,年份,货物出口额(万美元)\n杭州,2015,1\n", encoding="utf-8")
    out = project / "data" / "processed" / "panel.csv"
    result = run_cli("ingest", data, "--out", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {bad}:2:verification: value 'checked' fails check isin(['2nd-source', 'single-source'])"
    )
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_extended_rail_links_override_is_used(run_cli, project):
    links = pd.read_csv(paths.REFERENCE / "rail_links.csv", dtype=str)
    extra = pd.DataFrame(
        [
            {
                "prefecture": "杭州",
                "link": "china-europe-railway-express",
                "first_service": "2015-01-01",
                "route": "test",
                "verification": "single-source",
            }
        ]
    )
    pd.concat([links[links["prefecture"] != "杭州"], extra]).to_csv(
        project / "data" / "raw" / "rail.csv", index=False
    )
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    params["treatment"]["rail_links_file"] = "data/raw/rail.csv"
    (project / "params.yaml").write_text(
        yaml.safe_dump(params, allow_unicode=True), encoding="utf-8"
    )
    data = project / "data" / "raw" / "yearbook.csv"
    data.write_text("城市,年份,货物出口额(万美元)\n杭州,2014,1\n杭州,2015,1\n", encoding="utf-8")
    out = project / "data" / "processed" / "panel.csv"
    assert run_cli("ingest", data, "--out", out).exit_code == 0
    panel = pd.read_csv(out, dtype={"city_code": str})
    assert panel["rail_year"].tolist() == [2015, 2015] and panel["rail"].tolist() == [0, 1]


@pytest.mark.parametrize("lang,fmt", [("zh", "csv"), ("en", "xlsx")])
def test_template_filled_in_ingests(run_cli, project, lang, fmt, master, table):
    out = project / "data" / "raw" / f"t.{fmt}"
    assert run_cli("template", "--lang", lang, "--format", fmt, "--out", out).exit_code == 0
    with pytest.raises(InputError, match="no data rows"):  # the blank template: header only
        ingest_file(out, master, table)
    row = ["浙江", "杭州", 2015, 6000000, 100500000, 723.6, 700000, 38.9, 350]
    if fmt == "csv":
        lines = out.read_text(encoding="utf-8-sig").splitlines()
        out.write_text(
            "\n".join(lines[:2] + [",".join(map(str, row))] + lines[2:]) + "\n", encoding="utf-8"
        )
    else:
        import openpyxl

        book = openpyxl.load_workbook(out)
        book.active.insert_rows(3)
        for j, v in enumerate(row, start=1):
            book.active.cell(row=3, column=j, value=v)
        book.save(out)
    p = ingest_file(out, master, table).panel.iloc[0]
    assert p["exports_usd_mn"] == pytest.approx(60000.0)
    assert p["gdp_per_capita_cny"] == pytest.approx(100500000 / 723.6)
    assert p["broadband_per100"] == pytest.approx(350 / 723.6 * 100)
    assert p["fdi_usd_mn"] == pytest.approx(7000.0)


def test_ingest_for_pipeline_writes_report_beside_panel(project, master, table):
    (project / "data" / "raw" / "yearbook.csv").write_text(
        "城市,年份,货物出口额(万美元)\n杭州,2009,1\n杭州,2015,2\n", encoding="utf-8"
    )
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    panel = ingest_for_pipeline(params, master, table)
    PANEL_SCHEMA.validate(panel)
    assert panel["year"].tolist() == [2015]  # 2009 is outside the panel window
    report = (project / "data" / "processed" / "panel_report.md").read_text(encoding="utf-8")
    assert "rows outside the panel years 2010-2023: 1" in report


def test_project_cli_has_the_commands(project):
    """The commands are registered on the project CLI (analysis.cli.app)."""
    from typer.testing import CliRunner

    from analysis.cli import app

    bad = project / "bad.csv"
    bad.write_text("城市,年份,货物出口额(万美元)\n杭州,2015,-1\n", encoding="utf-8")
    out = project / "out" / "panel.csv"
    result = CliRunner().invoke(app, ["ingest", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {bad}:2:货物出口额(万美元): exports must be > 0, got -1 "
        "(leave the cell empty if the value is unknown)"
    )
    assert not out.parent.exists()
    assert CliRunner().invoke(app, ["template", "--out", str(project / "t.csv")]).exit_code == 0


@pytest.mark.slow
def test_project_cli_subprocess(tmp_path, master):
    """`analysis ingest` as a user runs it: exit status, the exact stderr line, no output.
    Slow: a fresh interpreter imports global_land_mask (15-20 s on a busy machine)."""
    root = tmp_path / "root"
    (root / "data" / "interim").mkdir(parents=True)
    master.to_csv(root / "data" / "interim" / "cities.csv", index=False)
    shutil.copytree(paths.REFERENCE, root / "data" / "reference")
    bad = root / "bad.csv"
    bad.write_text("城市,年份,货物出口额(万美元)\n杭州,2015,1\n杭州,2015,2\n", encoding="utf-8")
    env = {**os.environ, "ANALYSIS_ROOT": str(root)}
    out = root / "out" / "panel.csv"
    cmd = [
        sys.executable,
        "-c",
        "from analysis.cli import app; app()",
        "ingest",
        str(bad),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"error: {bad}:3:城市: duplicate city-year: 杭州 2015 (also on line 2) "
        "(keep one row per city and year)"
    )
    assert not out.exists() and not out.parent.exists()


def test_workbook_sheets_are_stacked_and_named_in_errors(tmp_path, master, table):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表数据来源于统计年鉴"])
    for year, unit, value in ((2015, "万美元", 100.0), (2016, "亿元", 0.066423)):
        ws = book.create_sheet(str(year))
        ws.append(["城市", "年份", f"货物出口额({unit})"])
        ws.append(["杭州", year, value])
    path = tmp_path / "book.xlsx"
    book.save(path)
    result = ingest_file(path, master, table)
    assert result.panel["exports_usd_mn"].tolist() == pytest.approx(
        [1.0, 0.066423e8 / 6.6423 / 1e6]
    )
    assert "sheet '说明' skipped" in result.report
    cmap = tmp_path / "map.yaml"
    cmap.write_text("sheet: 2016\n", encoding="utf-8")
    assert ingest_file(path, master, table, column_map=cmap).panel["year"].tolist() == [2016]
    book["2016"]["C2"] = "many"
    book.save(path)
    with pytest.raises(InputError) as err:
        ingest_file(path, master, table)
    assert str(err.value).startswith(
        f"error: {path}[2016]:2:货物出口额(亿元): not a number: 'many'"
    )
