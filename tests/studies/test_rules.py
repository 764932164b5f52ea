"""Rules 1 and 2 of studies/rules.py on small frames: the ruled controls' imputed untreated paths
(city effect + city trend + year effects fitted on the untreated city-years), the cities that leave
for want of untreated years, the baseline x year covariates, and the clusters a concurrent
treatment's cells are learnt from (rule 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.studies import rules

YEARS = range(2010, 2024)
# a concave common path (growth slowing from 17% to 4.5%, a dip in 2020), as China's GDP per capita
GROWTH = [0.17, 0.10, 0.09, 0.08, 0.065, 0.075, 0.10, 0.095, 0.07, 0.02, 0.125, 0.055, 0.045]
COMMON = np.concatenate([[0.0], np.cumsum(np.log1p(GROWTH))])
JUMP = 0.3  # what the treatment adds to the control from its first year on


def _panel(first_years: dict[str, int]) -> pd.DataFrame:
    """Control ``x`` = city level + city trend + the concave common path (+ JUMP once treated);
    ``untreated``: its path without the treatment."""
    rows = []
    for i, (city, g) in enumerate(first_years.items()):
        for s, t in enumerate(YEARS):
            untreated = 1.0 + 0.1 * i + 0.004 * (i % 5 - 2) * s + COMMON[s]
            rows.append({"city_code": city, "year": t, "g": g, "untreated": untreated,
                         "x": untreated + (JUMP if g and t >= g else 0.0)})  # fmt: skip
    return pd.DataFrame(rows)


FIRST = {"100": 2015, "200": 0, "300": 2018, "400": 0, "500": 2016, "600": 0, "700": 2020,
         "800": 0}  # fmt: skip


def test_untreated_path_is_the_untreated_path_under_a_concave_common_path():
    toy = _panel(FIRST)
    first = rules.first_treatment(toy, ["g"])
    cols, left, _ = rules.untreated_path_columns(toy, ["x"], first)
    built = toy.assign(xu=cols["x_untreated"])
    post = (built["g"] > 0) & (built["year"] >= built["g"])
    assert not left
    # observed where untreated; the untreated path (the jump gone, the bend kept) where treated
    np.testing.assert_array_equal(built.loc[~post, "xu"], built.loc[~post, "x"])
    np.testing.assert_allclose(built.loc[post, "xu"], built.loc[post, "untreated"], atol=1e-10)
    # a city's own straight line through its pre-treatment years (the former pre_trend column)
    # misses the bend by far more: the test can tell the two apart
    city = built[built["city_code"] == "100"]
    pre = city[city["year"] < 2015]
    line = np.polyval(np.polyfit(pre["year"], pre["x"], 1), city.loc[city["year"] >= 2015, "year"])
    assert np.abs(line - city.loc[city["year"] >= 2015, "untreated"]).max() > 0.05


def test_untreated_path_takes_any_treatment_as_the_end_of_untreated_years():
    toy = _panel(FIRST).assign(h=lambda d: np.where(d["city_code"] == "200", 2019, 0))
    toy.loc[(toy["city_code"] == "200") & (toy["year"] >= 2019), "x"] += JUMP
    first = rules.first_treatment(toy, ["g", "h"])
    assert first["200"] == 2019 and first["100"] == 2015 and first["400"] == 0
    cols, _, _ = rules.untreated_path_columns(toy, ["x"], first)
    on = (toy["city_code"] == "200") & (toy["year"] >= 2019)
    np.testing.assert_allclose(cols.loc[on, "x_untreated"], toy.loc[on, "untreated"], atol=1e-10)


def _pilot_study_data(toy: pd.DataFrame) -> rules.StudyData:
    """The toy panel as a pilot study's data (``g`` the designation year, ``x`` log GDP)."""
    return rules.build_study_data(
        toy.rename(columns={"g": "pilot_year", "x": "log_gdp_pc"}).assign(
            log_exports=0.0, pilot=lambda d: (d["pilot_year"] > 0) & (d["year"] >= d["pilot_year"])
        ),
        "pilot", ["log_gdp_pc"], [], None,
    )  # fmt: skip


def test_a_city_with_too_few_untreated_years_leaves_with_its_reason():
    toy = _panel({**FIRST, "900": 2012})  # 2010, 2011: two untreated years
    first = rules.first_treatment(toy, ["g"])
    cols, left, _ = rules.untreated_path_columns(toy, ["x"], first)
    assert set(left) == {"900"} and f"needs {rules.MIN_PRE_YEARS}" in left["900"]
    assert cols.loc[(toy["city_code"] == "900") & (toy["year"] >= 2012)].isna().all().all()
    # its two years carry no weight: the other cities' paths are still exact
    post = (toy["g"] > 0) & (toy["year"] >= toy["g"]) & (toy["city_code"] != "900")
    np.testing.assert_allclose(
        cols.loc[post, "x_untreated"], toy.loc[post, "untreated"], atol=1e-10
    )
    # through the study's data: the city is out of the panel, the truth and the record
    sd = _pilot_study_data(toy)
    assert "900" not in set(sd.panel["city_code"]) and "900" in sd.record()["cities_left_out"]


def test_a_year_without_untreated_city_years_cannot_be_imputed():
    # every city treated by 2022: the common path of 2022-2023 is learnt from no one
    toy = _panel({"100": 2015, "300": 2018, "500": 2022})
    first = rules.first_treatment(toy, ["g"])
    cols, left, years = rules.untreated_path_columns(toy, ["x"], first)
    assert not left and set(years) == {"2022", "2023"}, (left, years)
    assert cols.loc[toy["year"] >= 2022, "x_untreated"].isna().all()
    # the other treated city-years are still on their untreated paths
    post = (toy["g"] > 0) & (toy["year"] >= toy["g"]) & (toy["year"] < 2022)
    np.testing.assert_allclose(
        cols.loc[post, "x_untreated"], toy.loc[post, "untreated"], atol=1e-10
    )
    # through the study's data: those city-years leave, the cities stay (a panel without
    # never-treated cities keeps its cities; the imputation has nothing to impute 2022-2023 from)
    sd = _pilot_study_data(toy)
    assert set(sd.panel["city_code"]) == {"100", "300", "500"}
    assert sd.panel["year"].max() == 2021 and sd.panel["log_gdp_pc_untreated"].notna().all()
    assert set(sd.record()["years_left_out"]) == {"2022", "2023"}


def test_pre_trend_is_read_as_untreated_path_and_unknown_rules_fail():
    assert rules.control_rule({"log_gdp_pc": "pre_trend"})["log_gdp_pc"] == "untreated_path"
    assert rules.control_rule(None)["log_gdp_pc"] == "untreated_path"
    with pytest.raises(ValueError, match="unknown rule"):
        rules.control_rule({"log_gdp_pc": "baseline"})


def test_baseline_columns_are_the_first_untreated_value_times_year():
    toy = _panel(FIRST)
    toy.loc[(toy["city_code"] == "400") & (toy["year"] == 2010), "x"] = np.nan  # first year blank
    first = rules.first_treatment(toy, ["g"])
    cols, left = rules.baseline_columns(toy, ["x"], first)
    assert not left
    assert list(cols.columns) == [f"x_baseline_x_{t}" for t in YEARS][1:]  # 13 for 14 years
    base = {c: toy.loc[(toy["city_code"] == c) & (toy["year"] == 2010), "x"].iloc[0] for c in FIRST}
    base["400"] = toy.loc[(toy["city_code"] == "400") & (toy["year"] == 2011), "x"].iloc[0]
    centred = toy["city_code"].map(pd.Series(base) - np.mean(list(base.values())))
    for t in YEARS[1:]:
        expected = np.where(toy["year"] == t, centred, 0.0)
        np.testing.assert_allclose(cols[f"x_baseline_x_{t}"], expected, atol=1e-12)
    # a treated city never observed before its first treatment has no baseline: it leaves
    toy.loc[(toy["city_code"] == "100") & (toy["year"] < 2015), "x"] = np.nan
    _, left = rules.baseline_columns(toy, ["x"], first)
    assert set(left) == {"100"} and "no baseline" in left["100"]


def test_study_data_adds_the_baseline_columns_to_both_covariate_sets():
    toy = _panel(FIRST).rename(columns={"g": "pilot_year", "x": "log_gdp_pc"})
    toy = toy.assign(log_exports=0.0, log_population=1.0)
    sd = rules.build_study_data(toy, "pilot", ["log_gdp_pc", "log_population"], [], None)
    base = [f"log_gdp_pc_baseline_x_{t}" for t in YEARS][1:]
    assert sd.covariates == ["log_gdp_pc_untreated", "log_population", *base]
    assert sd.direct_covariates == ["log_gdp_pc", "log_population", *base]
    assert sd.baseline == {"log_gdp_pc": base} and sd.record()["baseline_trends"] == {
        "log_gdp_pc": 13
    }
    # baseline=[]: none; a baseline control the study does not use: none either
    for baseline in ([], ["log_fdi"]):
        sd = rules.build_study_data(toy, "pilot", ["log_gdp_pc"], [], None, baseline)
        assert sd.covariates == ["log_gdp_pc_untreated"] and not sd.baseline


def test_the_control_rule_parameter_carries_the_baseline_trends(tmp_path):
    """params.yaml panel.baseline_trends reaches the studies inside the notebooks' control_rule
    parameter, and the randomization statistic rebuilds the same columns."""
    from analysis.config import control_rule_parameter, load_config

    path = tmp_path / "params.yaml"
    path.write_text("panel:\n  baseline_trends: []\n", encoding="utf-8")
    param = control_rule_parameter(load_config(path))
    assert param["baseline_trends"] == [] and param["log_gdp_pc"] == "untreated_path"
    assert rules.control_rule(param) == rules.control_rule(None)  # the key is not a control
    toy = _panel(FIRST).rename(columns={"g": "pilot_year", "x": "log_gdp_pc"})
    sd = rules.build_study_data(toy.assign(log_exports=0.0), "pilot", ["log_gdp_pc"], [], param)
    assert sd.covariates == ["log_gdp_pc_untreated"]

    class Design:
        controls_used = ("log_gdp_pc",)

        @staticmethod
        def runs(*_):
            return False

        coverage = "none"

    assert rules.study_statistic(Design, "pilot", sd.control_rule, "city_code").baseline == ()
    default = rules.study_statistic(Design, "pilot", None, "city_code")
    assert default.baseline == ("log_gdp_pc",)


def _concurrent_toy(learners: int, provinces: int) -> pd.DataFrame:
    """Pilot cities M0, M1 (provinces P0, P1; designated 2015, 2016), both in Broadband China's 2012
    cohort; ``learners`` more 2012 Broadband China cities, never pilots, spread over the first
    ``provinces`` provinces; six never-treated cities in P0..P5 (six provinces: the study clusters
    by province)."""
    cities = {"M0": ("P0", 2015, 2012), "M1": ("P1", 2016, 2012)}
    cities |= {f"C{k}": (f"P{k % provinces}", 0, 2012) for k in range(learners)}
    cities |= {f"N{k}": (f"P{k}", 0, 0) for k in range(6)}
    rows = [
        {"city_code": c, "province": p, "year": t, "pilot_year": m, "broadband_china_year": b,
         "pilot": int(m > 0 and t >= m), "log_exports": 0.0}
        for c, (p, m, b) in cities.items()
        for t in range(2010, 2020)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_studys_concurrent_cells_are_learnt_from_enough_of_its_clusters():
    """Rule 2 in every study's data (build_study_data): a concurrent treatment's cell counts as
    learnt only from city-years untreated by the main treatment in MIN_CELL_CLUSTERS of the study's
    inference clusters (the provinces here). Learnt from two provinces the cells coarsen to one
    absorbing dummy: a cell fitted to two or three clusters' residuals carries noise the clustered
    variance cannot see (the pilot headline's Broadband China cells on the default DGP: rules.py's
    module docstring)."""
    n = rules.MIN_CELL_CLUSTERS
    args = ("pilot", [], ["broadband_china"], None)
    few = _concurrent_toy(n, 2)  # n learner cities in two provinces
    assert rules.inference_rule(few).cluster == "province"
    sd = rules.build_study_data(few, *args)
    conc = sd.concurrent["broadband_china"]
    assert conc.level == "static" and "broadband_china" in sd.covariates
    assert f"fewer than {n} province clusters" in conc.note
    # without the count (one city-year suffices) the same learners keep the finest cells
    _, plain = rules.concurrent_columns(
        few, "pilot_year", "broadband_china_year", "broadband_china"
    )
    assert plain.level == "cohort_event"
    # a study clustered by city counts cities: n of them learn every cell
    sd = rules.build_study_data(few, *args, cluster="city_code")
    assert sd.concurrent["broadband_china"].level == "cohort_event"
    # learners in n provinces: the finest cells, one per cohort x event time (2012: e = 0..7)
    sd = rules.build_study_data(_concurrent_toy(n, n), *args)
    conc = sd.concurrent["broadband_china"]
    assert conc.level == "cohort_event" and len(conc.columns) == 8


def test_broadband_china_leaves_out_the_city_years_of_cells_its_controls_cannot_learn():
    """rules.CENSOR_UNSUPPORTED: the Broadband China study leaves out its treated city-years in a
    concurrent (cohort, event time) cell that its controls learn from fewer than MIN_CELL_CLUSTERS
    provinces, instead of coarsening the concurrent treatment to one dummy; the pilot study keeps
    coarsening; the truth follows the city-years kept."""
    toy = _concurrent_toy(rules.MIN_CELL_CLUSTERS, 2)
    # the pilot cells of M0 (2015) and M1 (2016) occur only in Broadband China's cities
    sd = rules.build_study_data(toy, "broadband_china", [], ["pilot"], None)
    assert sd.censored == {"M0": list(range(2015, 2020)), "M1": list(range(2016, 2020))}
    assert sd.censored_by == {"pilot": 9}
    assert sd.record()["censored_city_years"] == 9 and sd.record()["censored_cities"] == 2
    kept = sd.panel.set_index(["city_code", "year"]).index
    assert ("M0", 2014) in kept and ("M0", 2015) not in kept and ("N0", 2019) in kept
    assert sd.concurrent["pilot"].level == "cohort_event"  # nothing left to coarsen
    assert not [c for c in sd.covariates if c.startswith("pilot")]
    # the pilot study coarsens (its Monte Carlo rows cover) and keeps every row
    pilot = rules.build_study_data(toy, "pilot", [], ["broadband_china"], None)
    assert pilot.censored == {} and len(pilot.panel) == len(toy)
    # the truth over the city-years kept: M0 keeps 2012-2014 (effect 1), C0 all eight (effect 3)
    truth = {"broadband_china": {"att_overall": 2.0, "city_effects": {
        "M0": {"cohort": 2012, "effects": [1.0] * 8},
        "C0": {"cohort": 2012, "effects": [3.0] * 8}}}}  # fmt: skip
    whole = rules.truth_for(truth, "broadband_china", (), ["M0", "C0"])
    assert whole["att_overall"] == pytest.approx(2.0)
    kept_truth = rules.truth_for(truth, "broadband_china", (), ["M0", "C0"], exclude=sd.censored)
    assert kept_truth["att_overall"] == pytest.approx((3 * 1.0 + 8 * 3.0) / 11)
    assert kept_truth["att_by_event_time"]["5"] == pytest.approx(3.0)
