"""City master from the cpca admin-code table."""

import pytest

from analysis.data import reference
from analysis.data.cities import build_city_master, match_city_names


@pytest.fixture(scope="module")
def master():
    return build_city_master()


def test_all_prefecture_level_units(master):
    assert 330 <= len(master) <= 340
    assert master["city_code"].is_unique
    assert set(master["region"]) == {"east", "central", "west", "northeast"}
    assert master.groupby("region").size().to_dict()["northeast"] == 36  # 14 + 9 + 13 prefectures
    assert {"北京市", "天津市", "上海市", "重庆市"} <= set(master["city"])
    assert "莱芜市" not in set(master["city"])  # merged into 济南 in 2019
    assert master[["longitude", "latitude"]].notna().all().all()


def test_coastal_flag(master):
    flag = master.set_index("city_short")["coastal"]
    for city in ["青岛", "大连", "厦门", "深圳", "上海", "天津", "北海", "三亚"]:
        assert flag[city], city
    for city in ["郑州", "成都", "重庆", "西安", "乌鲁木齐", "拉萨", "长沙"]:
        assert not flag[city], city


def test_every_treated_prefecture_is_in_the_master(master):
    zones = reference.load_pilot_zones()
    rails = reference.load_rail_links()
    for names in (zones["prefecture"], rails["prefecture"]):
        assert match_city_names(names, master).notna().all()
