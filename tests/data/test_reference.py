"""Treatment facts: the roster as published, and the prefecture mapping rule."""

import pandas as pd
import pytest

from analysis.data import reference
from analysis.errors import InputError


@pytest.fixture(scope="module")
def zones():
    return reference.load_pilot_zones()


def test_roster_has_165_units_in_7_batches(zones):
    assert len(zones) == 165
    assert zones.groupby("batch").size().tolist() == [1, 12, 22, 24, 46, 27, 33]
    assert set(zones["verification"]) <= {"2nd-source", "single-source"}


def test_county_level_unit_treats_its_prefecture_from_the_earliest_batch(zones):
    cohorts = reference.pilot_cohorts(zones).set_index("prefecture")
    # 金华 is batch 6 (2022) itself, but 义乌 inside it is batch 3 (2018).
    assert cohorts.loc["金华", "pilot_year"] == 2018
    assert cohorts.loc["金华", "pilot_batch"] == 3
    assert cohorts.loc["金华", "pilot_via_unit"] == "义乌"
    assert cohorts.loc["延边朝鲜族自治州", "pilot_year"] == 2019  # 珲春, batch 4
    assert cohorts.loc["保定", "pilot_via_unit"] == "雄安新区"


def test_switching_county_units_off(zones):
    cohorts = reference.pilot_cohorts(zones, include_county_units=False).set_index("prefecture")
    assert cohorts.loc["金华", "pilot_year"] == 2022
    assert cohorts.loc["金华", "pilot_batch"] == 6
    assert "延边朝鲜族自治州" not in cohorts.index  # only county-level units (珲春, 延吉) there
    assert "保定" not in cohorts.index


def test_following_year_rule(zones):
    approval = reference.pilot_cohorts(zones).set_index("prefecture")["pilot_year"]
    following = reference.pilot_cohorts(zones, rule="following").set_index("prefecture")[
        "pilot_year"
    ]
    assert (following - approval == 1).all()
    with pytest.raises(ValueError, match="unknown treatment-year rule"):
        reference.pilot_cohorts(zones, rule="quarterly")


def test_rail_links_and_laos_railway():
    rails = reference.rail_cohorts(reference.load_rail_links()).set_index("prefecture")
    assert rails.loc["重庆", "rail_year"] == 2011
    assert rails.loc["昆明", "laos_rail_year"] == 2021
    assert pd.isna(rails.loc["昆明", "cre_year"])


def test_malformed_override_gives_one_line_error(tmp_path):
    bad = tmp_path / "rail_links.csv"
    bad.write_text(
        "prefecture,link,first_service,route,verification\n"
        "重庆,china-europe-railway-express,2011-03-19,渝新欧,2nd-source\n"
        "成都,hyperloop,2013-04-26,蓉欧,2nd-source\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        reference.load_rail_links(bad)
    message = str(info.value)
    assert message.startswith(f"error: {bad}:3:link:")
    assert "\n" not in message


def test_extended_roster_may_add_batches_and_later_dates(tmp_path):
    """treatment.pilot_zones_file extends the roster: a batch 8 approved after 2022 is valid input."""
    from analysis import config as paths

    rows = (paths.REFERENCE / "cbec_pilot_zones.csv").read_text(encoding="utf-8")
    extended = tmp_path / "pilot_zones.csv"
    extended.write_text(
        rows.rstrip("\n")
        + "\n新城,8,2025-06-30,国函〔2025〕1号,prefecture-level,新城,single-source\n",
        encoding="utf-8",
    )
    zones = reference.load_pilot_zones(extended)
    assert zones["batch"].max() == 8 and zones["approved"].max().year == 2025
    bad = tmp_path / "bad.csv"
    bad.write_text(
        rows.rstrip("\n")
        + "\n旧城,0,2014-06-30,国函〔2014〕1号,prefecture-level,旧城,single-source\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="batch"):
        reference.load_pilot_zones(bad)
