"""Name resolution: suffix variants, renamed and redesignated units, mergers, dissolutions, counties."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.ingest import ingest_file
from analysis.data.ingest.names import NameIndex, load_admin_changes
from analysis.errors import InputError


@pytest.fixture(scope="module")
def index(master):
    return NameIndex.build(master)


@pytest.mark.parametrize(
    "name,year,code,kind",
    [
        ("杭州", 2015, "330100", "direct"),
        ("杭州市", 2015, "330100", "direct"),
        ("北京市①", 2015, "110000", "direct"),
        ("西双版纳州", 2015, "532800", "variant"),
        ("西双版纳", 2015, "532800", "variant"),
        ("博尔塔拉州", 2015, "652700", "variant"),
        ("兴安", 2015, "152200", "variant"),  # the league, not 兴安县 (Guangxi)
        ("大兴安岭", 2015, "232700", "variant"),
        ("那曲市", 2019, "542400", "variant"),  # the master keeps the pre-2018 code
        ("那曲地区", 2012, "542400", "prefecture-to-city"),
        ("毕节地区", 2010, "520500", "prefecture-to-city"),
        ("海东地区", 2012, "630200", "prefecture-to-city"),
        ("日喀则地区", 2013, "540200", "prefecture-to-city"),
        ("吐鲁番地区", 2014, "650400", "prefecture-to-city"),
        ("襄樊", 2010, "420600", "renamed"),
        ("义乌市", 2015, "330700", "county"),
        ("莱芜", 2015, "370100", "merged"),
        ("莱芜市", 2020, "370100", "county"),  # after 2019 a part of 济南
        ("巢湖", 2010, None, "dissolved"),
        ("巢湖市", 2015, "340100", "county"),  # the county-level city in 合肥 since 2011
        ("济源", 2015, None, "unknown"),
    ],
)
def test_match(index, name, year, code, kind):
    m = index.match(name, year)
    assert (m.code, m.kind) == (code, kind)


def test_every_master_name_and_short_name_matches_itself(index, master):
    for name, code in zip(master["city"], master["city_code"]):
        assert index.match(name, 2015).code == code
    for name, code in zip(master["city_short"], master["city_code"]):
        assert index.match(name, 2015).code == code


def test_admin_changes_point_at_master_codes(master):
    changes = load_admin_changes()
    codes = set(master["city_code"])
    assert set(changes["city_code"].dropna()) <= codes
    assert {
        "襄樊市",
        "巢湖市",
        "莱芜市",
        "海东地区",
        "毕节地区",
        "铜仁地区",
        "日喀则地区",
        "昌都地区",
        "林芝地区",
        "山南地区",
        "那曲地区",
        "吐鲁番地区",
        "哈密地区",
    } <= set(changes["old_name"])


def test_malformed_admin_changes_give_one_line_error(tmp_path):
    bad = tmp_path / "admin_changes.csv"
    rows = [
        "old_name,new_name,city_code,old_code,year,kind,source,verification",
        "襄樊市,襄阳市,420600,420600,2010,renamed,x,single-source",
        "莱芜市,济南市,370100,371200,2019,swallowed,x,single-source",
    ]
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_admin_changes(bad)
    assert str(err.value).startswith(f"error: {bad}:3:kind: value 'swallowed' fails check isin")


def _write(
    tmp_path,
    rows,
    header="城市,年份,货物出口额(万美元),地区生产总值(万元),年末总人口(万人),第二产业增加值占GDP比重(%)",
):
    path = tmp_path / "in.csv"
    path.write_text(
        header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_laiwu_is_summed_into_jinan_before_2019(tmp_path, master, table):
    rows = [
        ["济南", 2018, 100, 7000, 700, 40],
        ["莱芜", 2018, 50, 1000, 100, 60],
        ["济南", 2019, 160, 9000, 890, 38],
    ]
    result = ingest_file(_write(tmp_path, rows), master, table)
    p = result.panel.set_index("year")
    assert list(p["city_code"]) == ["370100", "370100"]
    assert p.loc[2018, "exports_usd_mn"] == pytest.approx(1.5)  # (100 + 50) 万美元
    assert p.loc[2018, "population_10k"] == pytest.approx(800)
    assert p.loc[2018, "gdp_per_capita_cny"] == pytest.approx(8000e4 / 800e4)
    assert p.loc[2018, "industry_share_pct"] == pytest.approx(
        (40 * 7000 + 60 * 1000) / 8000
    )  # GDP-weighted
    assert "sum of 济南, 莱芜" in result.report


def test_chaohu_rows_before_2011_are_dropped_and_reported(tmp_path, master, table):
    rows = [["合肥", 2010, 100, 7000, 700, 40], ["巢湖", 2010, 50, 1000, 100, 60]]
    result = ingest_file(_write(tmp_path, rows), master, table)
    assert list(result.panel["city_code"]) == ["340100"]
    assert result.panel["exports_usd_mn"].iloc[0] == pytest.approx(1.0)
    assert "巢湖 2010 (line 3)" in result.report and "dissolved" in result.report


def test_county_rows_inside_a_prefecture_row_are_dropped(tmp_path, master, table):
    rows = [["金华", 2015, 100, 7000, 700, 40], ["义乌市", 2015, 80, 1000, 100, 60]]
    result = ingest_file(_write(tmp_path, rows), master, table)
    assert result.panel["exports_usd_mn"].tolist() == [pytest.approx(1.0)]
    assert "义乌市 (1 rows): dropped, contained in the row of 330700" in result.report


def test_county_only_rows_are_aggregated(tmp_path, master, table):
    rows = [["义乌市", 2015, 80, 1000, 100, 60], ["东阳市", 2015, 20, 3000, 100, 40]]
    result = ingest_file(_write(tmp_path, rows), master, table)
    p = result.panel.iloc[0]
    assert p["city_code"] == "330700"
    assert p["exports_usd_mn"] == pytest.approx(1.0)
    assert p["gdp_per_capita_cny"] == pytest.approx(4000e4 / 200e4)
    assert p["industry_share_pct"] == pytest.approx((60 * 1000 + 40 * 3000) / 4000)


def test_missing_part_makes_the_sum_missing(tmp_path, master, table):
    rows = [["济南", 2018, 100, 7000, 700, 40], ["莱芜", 2018, 50, "", 100, 60]]
    p = ingest_file(_write(tmp_path, rows), master, table).panel.iloc[0]
    assert p["exports_usd_mn"] == pytest.approx(1.5)
    assert np.isnan(p["gdp_per_capita_cny"]) and np.isnan(p["industry_share_pct"])


def test_province_column_disambiguates_county_names(tmp_path, master, table):
    path = _write(
        tmp_path, [["吉林省", "朝阳区", 2015, 80]], header="省份,城市,年份,货物出口额(万美元)"
    )
    assert ingest_file(path, master, table).panel["city_code"].tolist() == [
        "220100"
    ]  # 长春, not 北京
    path = _write(
        tmp_path, [["江苏省", "鼓楼区", 2015, 80]], header="省份,城市,年份,货物出口额(万美元)"
    )
    with pytest.raises(InputError, match=r"ambiguous county-level name \(in 南京市, 徐州市\)"):
        ingest_file(path, master, table)


def test_report_flags_tenfold_jumps_and_assumed_units(tmp_path, master, table):
    rows = [["合肥", 2010, 1600000, 9000, 890, 38], ["合肥", 2011, 16000000, 9000, 890, 38]]
    path = _write(
        tmp_path,
        rows,
        header="城市,年份,货物出口额,地区生产总值(亿元),年末总人口,第二产业增加值占GDP比重",
    )
    report = ingest_file(path, master, table).report
    assert "| 合肥市 | 340100 | 2011 | exports_usd_mn | 1.6e+04 | 1.6e+05 | 10 |" in report
    assert "Unit of `货物出口额` not stated: assumed **万美元**" in report


def test_report_flags_a_unit_slip(tmp_path, master, table):
    rows = [
        ["杭州", 2015, 6e10, 1, 700, 40],
        ["宁波", 2015, 5.8e10, 1, 600, 40],
    ]  # 美元 labelled 万美元
    path = _write(
        tmp_path,
        rows,
        header="城市,年份,货物出口额(万美元),地区生产总值(亿元),年末总人口,第二产业增加值占GDP比重",
    )
    report = ingest_file(path, master, table).report
    assert (
        "**exports_usd_mn**: median 5.9e+08 is outside the usual range 10-100000; a unit slip by a factor of "
        "about 0.0001 is likely" in report
    )
