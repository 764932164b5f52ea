"""Broadband China (宽带中国) demonstration cities: the roster as announced and its prefecture mapping."""

import pandas as pd
import pytest

from analysis import config as paths
from analysis.data import reference
from analysis.data.cities import build_city_master, match_city_names
from analysis.errors import InputError

FILE = paths.REFERENCE / "broadband_china.csv"


@pytest.fixture(scope="module")
def units():
    return reference.load_broadband_china()


@pytest.fixture(scope="module")
def master():
    return build_city_master()


def _long(units: pd.DataFrame) -> pd.DataFrame:
    """One row per (unit, mapped prefecture); unresolved units dropped."""
    mapped = units[units["prefecture"] != ""]
    return mapped.assign(
        prefecture=mapped["prefecture"].str.split(";"), city_code=mapped["city_code"].str.split(";")
    ).explode(["prefecture", "city_code"])


def test_three_batches_of_39_units(units):
    assert len(units) == 117 and units["unit"].is_unique
    assert units.groupby("batch").size().to_dict() == {1: 39, 2: 39, 3: 39}
    assert units.groupby("batch")["batch_year"].unique().map(list).to_dict() == {
        1: [2014],
        2: [2015],
        3: [2016],
    }
    # one publication date per batch (SOURCES.md: 2014-10-09, 2015-10-19, 2016-07-25)
    assert units.groupby("batch")["announced"].nunique().eq(1).all()


def test_every_row_has_a_source(units):
    assert units["source"].str.strip().ne("").all()
    assert units["announcement"].str.strip().ne("").all()
    second = units["verification"] == "2nd-source"
    assert units.loc[second, "second_source"].str.strip().ne("").all()
    # documented: the whole of 2014 and 2016 is checked against a second record; of 2015, 10 rows
    assert units.groupby(["batch", "verification"]).size().to_dict() == {
        (1, "2nd-source"): 39,
        (2, "2nd-source"): 10,
        (2, "single-source"): 29,
        (3, "2nd-source"): 39,
    }


def test_every_mapped_prefecture_is_in_the_city_master(units, master):
    long = _long(units)
    codes = match_city_names(long["prefecture"], master)
    assert codes.notna().all(), long.loc[codes.isna(), "unit"].tolist()
    # the committed code is the master's code of the named prefecture
    assert (codes.to_numpy() == long["city_code"].to_numpy()).all()


def test_unresolved_units_are_listed_not_guessed(units):
    unresolved = reference.broadband_unresolved(units)
    assert unresolved["unit"].tolist() == ["阿拉尔市"]
    assert unresolved["mapping_note"].str.startswith("UNRESOLVED").all()
    assert unresolved["city_code"].eq("").all()


def test_no_prefecture_in_two_rows_without_a_note(units):
    long = _long(units)
    repeated = long[long["prefecture"].duplicated(keep=False)]
    assert set(repeated["prefecture"]) == {"苏州", "商丘", "重庆"}
    assert repeated["mapping_note"].str.strip().ne("").all()
    # two batches for one prefecture only through a unit inside it
    across = repeated.groupby("prefecture")["batch"].nunique()
    assert set(across[across > 1].index) == {"商丘", "重庆"}


def test_first_designation_year_per_prefecture(units):
    cohorts = reference.broadband_cohorts(units).set_index("prefecture")
    assert len(cohorts) == 113  # 117 units, +2 for 长株潭, -1 阿拉尔, -1 昆山, -1 永城, -3 重庆
    assert cohorts["broadband_year"].value_counts().to_dict() == {2014: 39, 2015: 38, 2016: 36}
    for city in ("长沙", "株洲", "湘潭"):
        assert cohorts.loc[city, "broadband_via_unit"] == "长株潭城市群"
    assert cohorts.loc["苏州", "broadband_via_unit"] == "苏州市"  # itself, not 昆山, same day
    # 商丘 is batch 3 itself but 永城 inside it is batch 2; 重庆 only through its districts
    assert cohorts.loc["商丘", ["broadband_year", "broadband_via_unit"]].tolist() == [
        2015,
        "永城市",
    ]
    assert cohorts.loc["重庆", "broadband_year"] == 2015
    assert cohorts.loc["重庆", "broadband_via_unit"] in {"重庆市江津区", "重庆市荣昌区"}
    assert cohorts["city_code"].str.fullmatch(r"\d{6}").all()


def test_switching_county_units_off(units):
    cohorts = reference.broadband_cohorts(units, include_county_units=False).set_index("prefecture")
    assert len(cohorts) == 112
    assert cohorts.loc["商丘", "broadband_year"] == 2016
    assert "重庆" not in cohorts.index
    assert cohorts.loc["苏州", "broadband_year"] == 2014


def test_year_rules(units):
    # every list was published in the second half of its year
    midyear = reference.broadband_cohorts(units, rule="midyear")
    approval = reference.broadband_cohorts(units)
    assert (midyear["broadband_year"] - approval["broadband_year"]).eq(1).all()
    with pytest.raises(ValueError, match="unknown treatment-year rule"):
        reference.broadband_cohorts(units, rule="quarterly")


def _edit(tmp_path, edit):
    frame = pd.read_csv(FILE, dtype=str, keep_default_na=False)
    edit(frame)
    path = tmp_path / "broadband_china.csv"
    frame.to_csv(path, index=False)
    return path


def _error(path) -> str:
    with pytest.raises(InputError) as info:
        reference.load_broadband_china(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_row_without_a_source_is_a_one_line_error(tmp_path):
    def edit(frame):
        frame.loc[4, "source"] = " "

    path = _edit(tmp_path, edit)
    assert _error(path).startswith(f"error: {path}:6:source:")


def test_a_repeated_prefecture_needs_a_note(tmp_path):
    def edit(frame):
        frame.loc[frame["unit"] == "商丘市", "mapping_note"] = ""

    path = _edit(tmp_path, edit)
    roster = pd.read_csv(FILE, dtype=str)
    line = int(roster.index[roster["unit"] == "商丘市"][0]) + 2
    message = _error(path)
    assert message.startswith(f"error: {path}:{line}:mapping_note: prefecture '商丘'")
    assert message.endswith("(say which designation counts and why)")


def test_an_unmapped_unit_needs_a_note_and_a_cluster_its_members(tmp_path):
    def unmapped(frame):
        frame.loc[frame["unit"] == "阿拉尔市", "mapping_note"] = ""

    assert ":mapping_note: unit '阿拉尔市' has no prefecture" in _error(_edit(tmp_path, unmapped))

    def cluster(frame):
        frame.loc[frame["unit"] == "长株潭城市群", ["prefecture", "city_code"]] = ["长沙", "430100"]

    assert ":5:prefecture: city cluster '长株潭城市群'" in _error(_edit(tmp_path, cluster))

    def wrong_year(frame):
        frame.loc[frame["unit"] == "太原市", "batch_year"] = "2016"

    assert ":batch_year: batch 2 is 2015, not 2016" in _error(_edit(tmp_path, wrong_year))
