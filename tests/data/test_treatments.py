"""Treatment timing per city under the three year rules (approval, following, midyear)."""

import pandas as pd
import pytest

from analysis import config as paths
from analysis.data import reference, treatments
from analysis.data.cities import build_city_master
from analysis.studies.robustness.concurrent import load_policy_file


@pytest.fixture(scope="module")
def master():
    return build_city_master()


@pytest.fixture(scope="module")
def tables(master):
    zones, links = reference.load_pilot_zones(), reference.load_rail_links()
    return {
        rule: treatments.city_treatments(master, zones, links, year_rule=rule).set_index(
            "city_code"
        )
        for rule in ("approval", "following", "midyear")
    }


def _first_year_by_batch(table: pd.DataFrame) -> dict[int, int]:
    treated = table[table["pilot_batch"] > 0]
    return treated.groupby("pilot_batch")["pilot_year"].agg(["min", "max"]).to_dict("index")


def test_midyear_moves_second_half_batches_to_the_next_year(tables):
    # batch: approval date -> year under midyear (first half: that year, else the next)
    expected = {1: 2015, 2: 2016, 3: 2019, 4: 2020, 5: 2020, 6: 2022, 7: 2023}
    by_batch = _first_year_by_batch(tables["midyear"])
    assert {b: v["min"] for b, v in by_batch.items()} == expected
    assert {b: v["max"] for b, v in by_batch.items()} == expected
    approval = _first_year_by_batch(tables["approval"])
    # 15 Dec 2019 (batch 4) and 14 Nov 2022 (batch 7) move a year; 7 Mar 2015 (batch 1) does not
    assert approval[4]["min"] == 2019 and approval[7]["min"] == 2022 and approval[1]["min"] == 2015


def test_midyear_lies_between_approval_and_following(tables):
    a, f, m = (tables[r] for r in ("approval", "following", "midyear"))
    for col in ("pilot_year", "rail_year"):
        treated = a[col] > 0
        assert ((m[col] == a[col]) | (m[col] == f[col]))[treated].all()
        assert (m.loc[~treated, col] == 0).all()
    assert (a["pilot_batch"] == m["pilot_batch"]).all()


def test_rail_links_carry_dates_so_midyear_applies_to_rail(master):
    links = reference.load_rail_links()
    rails = reference.rail_cohorts(links, "midyear").set_index("prefecture")
    assert rails.loc["重庆", "rail_year"] == 2011  # 19 Mar 2011
    assert rails.loc["郑州", "rail_year"] == 2014  # 18 Jul 2013
    assert rails.loc["合肥", "rail_year"] == 2014  # 26 Jun 2014: still the first half
    assert rails.loc["昆明", "laos_rail_year"] == 2022  # 3 Dec 2021


def test_treatment_year_rule_boundaries():
    dates = pd.to_datetime(pd.Series(["2019-06-30", "2019-07-01", "2019-01-01", "2019-12-31"]))
    assert reference.treatment_year(dates, "midyear").tolist() == [2019, 2020, 2019, 2020]
    assert reference.treatment_year(dates, "approval").tolist() == [2019] * 4
    assert reference.treatment_year(dates, "following").tolist() == [2020] * 4


def test_concurrent_policy_rosters_inherit_the_rule(master):
    """studies/robustness/concurrent.py codes its rosters with reference.treatment_year."""
    ftz = paths.REFERENCE / "pilot_free_trade_zones.csv"
    years = {
        rule: load_policy_file(ftz, "ftz", master, rule).set_index("prefecture")["policy_year"]
        for rule in ("approval", "midyear")
    }
    assert years["approval"].loc["上海"] == 2013 and years["midyear"].loc["上海"] == 2014  # 29 Sep
    assert years["midyear"].loc["广州"] == 2015  # 21 Apr 2015
