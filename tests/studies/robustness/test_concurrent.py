"""Concurrent policies: the roster loader (format, validation errors) and the two checks
(policy dummies as controls, policy cities dropped) on a design with a known confounding policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import city_inputs

from analysis.data.schema import CONTROLS
from analysis.did.estimate import estimate
from analysis.errors import InputError
from analysis.studies.robustness import concurrent as cc

HEADER = "prefecture,zone,approved,verification\n"


@pytest.fixture(scope="module")
def master():
    return city_inputs()[0]


def test_default_roster_is_the_free_trade_zones(master):
    table = cc.load_concurrent_policies(master=master, year_rule="approval")
    assert set(table["policy"]) == {"pilot free trade zone"}
    assert len(table) == 57 and table["city_code"].is_unique
    years = cc.policy_years(table).iloc[:, 0]
    assert years.name == "pilot_free_trade_zone_year"
    # 上海 2013, 舟山 2017, 杭州 2020 (expansion), 喀什地区 2023; Hainan's whole-island zone: 3 cities
    assert years["310000"] == 2013 and years["330900"] == 2017 and years["330100"] == 2020
    assert years["653100"] == 2023
    assert (years[["460100", "460200", "460400"]] == 2018).all()
    following = cc.policy_years(
        cc.load_concurrent_policies(master=master, year_rule="following")
    ).iloc[:, 0]
    assert (following - years == 1).all()


def test_user_roster_extends_the_table(master, tmp_path):
    path = tmp_path / "broadband_china.csv"
    path.write_text(
        HEADER + "杭州市,宽带中国 第一批,2014-10-01,single-source\n"
        "杭州,宽带中国 扩展,2016-01-05,single-source\n"
        "喀什地区,宽带中国 第三批,2016-08-01,2nd-source\n",
        encoding="utf-8",
    )
    table = cc.load_concurrent_policies({"broadband china": path}, master, "approval")
    wide = cc.policy_years(table, pd.Index(master["city_code"]))
    assert list(wide.columns) == ["pilot_free_trade_zone_year", "broadband_china_year"]
    assert len(wide) == len(master)
    assert wide.loc["330100", "broadband_china_year"] == 2014  # earliest of the two rows
    assert wide.loc["653100", "broadband_china_year"] == 2016
    assert (wide["broadband_china_year"] > 0).sum() == 2


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("杭州,x,2014-13-01,single-source", ":3:approved"),  # impossible date
        ("杭州,x,1980-01-01,single-source", ":3:approved"),  # outside 1990-2030
        ("杭州,x,2014-01-01,checked", ":3:verification"),
        ("火星,x,2014-01-01,single-source", ":3:prefecture"),  # unknown city
    ],
)
def test_bad_rows_name_file_line_and_column(master, tmp_path, row, where):
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "上海,x,2013-09-29,single-source\n" + row + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        cc.load_policy_file(path, "p", master)
    assert str(err.value).startswith(f"error: {path}{where}:")


def test_missing_column_is_named(master, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "prefecture,approved,verification\n上海,2013-09-29,single-source\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="missing required column 'zone'"):
        cc.load_policy_file(path, "p", master)


def _confounded_panel(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pilot (effect 0.2) in units 0-99 from 2015; a concurrent policy (effect 0.5) from 2015 in
    units 0-59 and 200-229: the plain TWFE pilot coefficient absorbs part of the 0.5."""
    rng = np.random.default_rng(seed)
    n, years = 300, np.arange(2010, 2020)
    unit = np.repeat(np.arange(n), len(years))
    year = np.tile(years, n)
    pilot_year = np.where(np.arange(n) < 100, 2015, 0)
    policy = np.where((np.arange(n) < 60) | ((np.arange(n) >= 200) & (np.arange(n) < 230)), 2015, 0)
    d = ((pilot_year[unit] > 0) & (year >= pilot_year[unit])).astype(int)
    c = ((policy[unit] > 0) & (year >= policy[unit])).astype(int)
    y = (
        rng.normal(0, 1, n)[unit]
        + 0.05 * (year - 2010)
        + 0.2 * d
        + 0.5 * c
        + rng.normal(0, 0.05, len(unit))
    )
    codes = np.array([f"{i:06d}" for i in range(n)])
    panel = pd.DataFrame(
        {
            "city_code": codes[unit],
            "year": year,
            "log_exports": y,
            "pilot": d,
            "pilot_year": pilot_year[unit],
        }
    )
    years_tab = pd.DataFrame(
        {"zone_programme_year": policy}, index=pd.Index(codes, name="city_code")
    )
    return panel, years_tab


def test_controls_and_dropping_remove_the_confounder():
    panel, years = _confounded_panel()
    res = cc.concurrent_policy_check(panel, years)
    t = res.table.set_index("specification")
    assert set(t["estimator"]) == {"BJS"} and t["skipped"].isna().all()
    # baseline is biased by the 0.5 effect of the policy on 60 of the 100 pilot units
    assert t.loc["baseline", "estimate"] > 0.4
    for spec in ("control: zone programme", "drop: zone programme"):
        row = t.loc[spec]
        assert row["estimate"] == pytest.approx(0.2, abs=0.01)
        assert row["conf_low"] < 0.2 < row["conf_high"]  # each row carries SE and CI
        assert row["std_error"] > 0 and row["cluster"] == "city_code"
    drop = t.loc["drop: zone programme"]
    assert drop["n_cities"] == 300 - 90 and drop["n_treated_cities"] == 40
    assert res.overlap.iloc[0][["cities", "also_main_treated"]].tolist() == [90, 60]


def test_control_row_is_bjs_with_a_hand_made_dummy():
    panel, years = _confounded_panel(seed=5)
    res = cc.concurrent_policy_check(panel, years)
    manual = panel.assign(
        c=(
            (panel["city_code"].map(years.iloc[:, 0]) > 0)
            & (panel["year"] >= panel["city_code"].map(years.iloc[:, 0]))
        ).astype(int)
    )
    ref = estimate(
        "bjs", manual, y="log_exports", unit="city_code", time="year", cohort="pilot_year",
        covariates=["c"], leaveout=True,
    )  # fmt: skip
    row = res.table.set_index("specification").loc["control: zone programme"]
    assert row["estimate"] == pytest.approx(ref.att, rel=1e-9)
    assert row["std_error"] == pytest.approx(ref.se, rel=1e-9)


def test_city_panel_ftz_check_runs(master):
    _, panel, truth = city_inputs()
    years = cc.policy_years(cc.load_concurrent_policies(master=master))
    res = cc.concurrent_policy_check(panel, years, controls=["rail", "log_broadband", *CONTROLS])
    assert list(res.table["specification"]) == [
        "baseline",
        "control: pilot free trade zone",
        "drop: pilot free trade zone",
    ]
    assert res.table["n_cities"].tolist() == [337, 337, 337 - 57]
    # the synthetic data have no free-trade-zone effect: with the headline's covariates the
    # baseline and the control row cover the true ATT (dropping 57 cities changes the estimand);
    # with GDP in the model the target is the direct effect when the DGP has one
    pilot = truth["pilot"]
    att = pilot.get("att_overall_direct", pilot["att_overall"])
    both = res.table.iloc[:2]
    assert (both["conf_low"] < att).all() and (att < both["conf_high"]).all()
    assert (res.table["std_error"] > 0).all()
