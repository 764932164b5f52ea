"""The design check: what the study can estimate on a panel, and one clear line when nothing."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.city_panel_data import city_inputs

from analysis.data.design import check_design, require_estimable, usable_controls
from analysis.errors import InputError


@pytest.fixture(scope="module")
def panel():
    return city_inputs()[1]


def test_default_panel_runs_everything(panel):
    check = check_design(panel)
    assert check.fatal is None
    assert check.controls_used == ["log_gdp_pc", "log_population", "log_fdi", "industry_share_pct"]
    assert check.controls_dropped == {}
    assert check.coverage is None
    pilot = check.treatments["pilot"]
    assert all(why is None for why in pilot.estimators.values())
    assert pilot.cohorts[2015] == 1 and 2015 in pilot.single_city_cohorts
    assert pilot.switchers == sum(pilot.cohorts.values()) > 150
    assert check.balanced and "No balancing" in check.balancing
    assert check.wild_bootstrap == {"clusters": 31, "weights": "rademacher", "skip": None}
    text = check.to_markdown()
    assert "Controls used: log_gdp_pc" in text and "| pilot |" in text


def test_missing_and_sparse_controls_are_dropped_with_reasons(panel):
    p = panel.copy()
    p["log_fdi"] = np.nan
    p.loc[p.index % 2 == 0, "industry_share_pct"] = np.nan
    used, dropped = usable_controls(p)
    assert used == ["log_gdp_pc", "log_population"]
    assert dropped["log_fdi"] == "not in the data"
    assert dropped["industry_share_pct"].startswith("observed for 50% of city-years")


def test_no_broadband_skips_coverage_with_reason(panel):
    check = check_design(panel.assign(log_broadband=np.nan, broadband_per100=np.nan))
    assert check.coverage == "broadband is not in the data"
    assert ("coverage study", "broadband is not in the data") in check.skips()


def test_no_never_treated_city(panel):
    treated = panel[(panel["pilot_year"] > 0) & (panel["pilot_year"] <= panel["year"].max())]
    check = check_design(treated)
    pilot = check.treatments["pilot"]
    assert pilot.never_treated == 0
    assert pilot.estimators["cs"] is None and pilot.estimators["sa"] is None
    assert any("not-yet-treated" in n for n in pilot.notes)
    assert any("last-treated cohort" in n for n in pilot.notes)


def test_unbalanced_panel_states_the_balancing(panel):
    p = panel.drop(
        panel[
            (panel["city_code"].isin(panel["city_code"].unique()[:10])) & (panel["year"] < 2013)
        ].index
    )
    check = check_design(p)
    assert not check.balanced and check.cities_with_gaps == 10
    assert "drops 10 cities (30 missing city-years)" in check.balancing


def test_small_panel_all_treated_before_first_year_fails_with_one_line(panel):
    cities = panel.loc[panel["pilot_year"].between(2015, 2016), "city_code"].unique()[:5]
    small = panel[panel["city_code"].isin(cities) & panel["year"].between(2019, 2021)].assign(
        rail_year=0, rail=0
    )
    small = small.assign(log_broadband=np.nan)
    check = check_design(small)
    assert check.fatal and "no treatment effect can be estimated" in check.fatal
    assert "no pre-period" in check.fatal
    with pytest.raises(InputError) as err:
        require_estimable(check, "data/raw/small.csv")
    assert str(err.value).startswith(
        "error: data/raw/small.csv: no treatment effect can be estimated"
    )
    assert "\n" not in str(err.value)


def test_one_year_and_three_cities_fail(panel):
    one_year = panel[panel["year"] == 2018]
    assert "one year" in check_design(one_year).fatal
    three = panel[panel["city_code"].isin(panel["city_code"].unique()[:3])]
    assert "3 cities" in check_design(three).fatal


def test_few_clusters_skip_or_switch_the_wild_bootstrap(panel):
    four = panel[panel["province"].isin(panel["province"].unique()[:4])]
    assert check_design(four).wild_bootstrap["skip"] == "4 province clusters (< 5)"
    eight = panel[panel["province"].isin(panel["province"].unique()[:8])]
    assert check_design(eight).wild_bootstrap["weights"] == "webb"


def _write(frame, path):
    frame[["city", "year", "exports_usd_mn"]].to_csv(path, index=False)
    return path


def test_check_command_prints_the_plan_or_one_error_line(panel, tmp_path, monkeypatch):
    """`analysis check FILE` on a minimum file (city, year, exports) and on a hopeless one."""
    from typer.testing import CliRunner

    import analysis.data.ingest.cli as ingest_cli
    from analysis.cli import app

    monkeypatch.setattr(ingest_cli, "_master", lambda: city_inputs()[0])
    ok = _write(
        panel[panel["city_code"].isin(panel["city_code"].unique()[:40])], tmp_path / "min.csv"
    )
    result = CliRunner().invoke(app, ["check", str(ok)])
    assert result.exit_code == 0, result.output
    assert "Controls used: none" in result.output
    assert "Coverage study: skipped: broadband is not in the data" in result.output
    assert "| pilot |" in result.output
    cities = panel.loc[panel["pilot_year"].between(2015, 2016), "city_code"].unique()[:5]
    bad = _write(
        panel[panel["city_code"].isin(cities) & panel["year"].between(2019, 2021)],
        tmp_path / "tiny.csv",
    )
    before = bad.read_bytes()
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"error: {bad}: no treatment effect can be estimated")
    assert bad.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "min.csv",
        "tiny.csv",
    ]
