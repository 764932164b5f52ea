"""The headline ATT (BJS with the study's covariates: the total effect; SE at the study's one
clustering level, t(G-1)), its direct-effect decomposition, the rules of studies/rules.py and the
comparable event studies of the binary studies, on the default synthetic panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.data.build import default_inputs
from analysis.data.design import analysis_sample
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.estimate import estimate
from analysis.did.inference import cluster_level_test
from analysis.studies import rules
from analysis.studies.binary import (
    binary_study,
    headline_att,
    headline_metrics,
    overall_comparison,
    study_design,
    truth_by_event_time,
)

WINDOW = (-5, 5)


@pytest.fixture(scope="module")
def synthetic():
    panel, truth = simulate_panel(*default_inputs(), SyntheticDesign())
    return panel, truth


@pytest.fixture(scope="module")
def pilot(synthetic):
    panel, truth = synthetic
    return binary_study(panel, truth, "pilot", "pilot_year", WINDOW, "headline")


def _study_data(panel, treatment):
    design = study_design(panel)
    return rules.study_data(analysis_sample(panel, design), design, treatment), design


def test_headline_is_bjs_clustered_by_the_rule_with_t_interval(synthetic):
    panel, _ = synthetic
    sd, design = _study_data(panel, "rail")
    data, cov = sd.panel, sd.covariates
    head = headline_att(data, "rail", "rail_year", cov, design)
    # rail cohorts span one to four provinces: event-time variance cells without leave-out
    cells = head["variance_cells"]
    assert cells == rules.variance_cells(data, "rail_year", "province")
    assert cells["avg_effects_by"] == ["horizon"] and not cells["leaveout"]
    assert cells["median_cohort_clusters"] < rules.MIN_CELL_CLUSTERS
    kw = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": "rail_year"}
    by = {
        cl: estimate("bjs", data, covariates=cov, cluster=cl, leaveout=False,
                     avg_effects_by=("horizon",), **kw)
        for cl in ("city_code", "province")
    }  # fmt: skip
    assert head["estimate"] == pytest.approx(by["city_code"].att, rel=1e-12)
    assert head["se_city"] == pytest.approx(by["city_code"].se, rel=1e-12)
    assert head["se_province"] == pytest.approx(by["province"].se, rel=1e-12)
    # the one rule: province (30 provinces once Chongqing leaves; by design, not the larger SE)
    assert head["cluster"] == "province" and head["inference"]["cluster"] == "province"
    assert head["std_error"] == head["se_province"]
    g = data["province"].nunique()
    assert head["n_clusters"] == g
    crit = stats.t.ppf(0.975, g - 1)
    assert head["critical_value"] == pytest.approx(crit, rel=1e-12)
    assert head["conf_low"] == pytest.approx(head["estimate"] - crit * head["std_error"])
    assert head["conf_high"] == pytest.approx(head["estimate"] + crit * head["std_error"])
    t = head["estimate"] / head["std_error"]
    assert head["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), g - 1))
    assert head["nobs"] == len(data)
    # the other level in the appendix, and the MNW test on the city-clustered scores
    alt = head["appendix_other_cluster"]
    assert alt["cluster"] == "city_code" and alt["std_error"] == head["se_city"]
    assert alt["critical_value"] == pytest.approx(
        stats.t.ppf(0.975, data["city_code"].nunique() - 1)
    )
    test = head["cluster_test"]
    assert 0 < test["p_value"] < 1 and test["n_coarse"] == g
    # the test's variances are the two clustered variances of the estimate
    assert test["variance_fine"] == pytest.approx(head["se_city"] ** 2, rel=1e-10)


def test_variance_cells_follow_the_cohort_sizes(pilot):
    """The pilot cohorts span many provinces: cohort x event-time cells with leave-out (BJS App.
    A.6); one-city cohorts pool by event time without leave-out."""
    cells = pilot["headline"]["variance_cells"]
    assert cells["avg_effects_by"] == ["cohort", "horizon"] and cells["leaveout"]
    assert cells["median_cohort_clusters"] >= rules.MIN_CELL_CLUSTERS
    toy = pd.DataFrame({"g": [2015, 2015, 2016, 2017, 0], "province": ["a", "b", "c", "c", "d"]})
    small = rules.variance_cells(toy, "g", "province")
    assert small["median_cohort_clusters"] == 1 and not small["leaveout"]


def test_headline_skips_without_variation(synthetic):
    panel, _ = synthetic
    flat = panel.assign(rail_year=0, rail=0)
    sd, design = _study_data(flat, "pilot")
    assert "skipped" in headline_att(sd.panel, "rail", "rail_year", sd.covariates, design)


def test_study_is_a_recorded_skip_when_every_treated_city_leaves(synthetic):
    """Every treated city with too few untreated years of a ruled control: a skip with its
    reason, not a crash on zero clusters (a user panel that starts a year before the policy)."""
    panel, truth = synthetic
    late = panel[panel["year"] >= 2014]  # the first pilot batch (2015) keeps one untreated year
    late = late[(late["pilot_year"] == 0) | (late["pilot_year"] == 2015)]
    study = binary_study(late, truth, "pilot", "pilot_year", WINDOW, "headline")
    assert "untreated years" in study["skipped"], study.get("skipped")
    assert study["n_treated_cities"] == 0 and "skipped" in study["headline"]
    assert study["inference"]["n_clusters"] >= 2
    assert study["covariate_rule"]["cities_left_out"]


def test_headline_is_the_total_effect_and_leads_the_study(pilot, synthetic):
    _, truth = synthetic
    head = pilot["headline"]
    assert pilot["truth_target"] == "total" and head["truth_target"] == "total"
    # the truth over the treated cities the study keeps (Chongqing leaves: one untreated year of
    # GDP before its 2011 rail service), within a hair of the file's total over all cities
    kept = rules.truth_for(truth, "pilot", [], pilot_cities(pilot, truth))
    assert head["truth"] == pytest.approx(kept["att_overall"], rel=1e-12)
    assert head["truth"] == pytest.approx(truth["pilot"]["att_overall"], abs=0.003)
    assert head["conf_low"] <= head["truth"] <= head["conf_high"]
    assert head["truth_in_ci"]
    assert pilot["covariate_rule"]["cities_left_out"].keys() == {"500000"}
    assert "log_gdp_pc_untreated" in pilot["covariates"] and "log_gdp_pc" not in pilot["covariates"]
    # baseline log GDP per capita x year (params.yaml panel.baseline_trends): 13 years after 2010
    assert pilot["covariate_rule"]["baseline_trends"] == {"log_gdp_pc": 13}
    assert sum(c.startswith("log_gdp_pc_baseline_x_") for c in pilot["covariates"]) == 13
    metrics = headline_metrics(pilot)
    assert metrics["headline_att"] == head["estimate"]
    assert metrics["headline_se"] == head["std_error"]
    assert metrics["direct_att"] == pilot["decomposition"]["direct"]["estimate"]
    assert pilot["twfe_bias"] is not None  # TWFE stays as the foil


def pilot_cities(study, truth):
    left = set(study["covariate_rule"]["cities_left_out"])
    return [c for c in truth["pilot"]["city_effects"] if c not in left]


def test_decomposition_adds_up_and_targets_the_direct_effect(pilot, synthetic):
    _, truth = synthetic
    d = pilot["decomposition"]
    assert d["total"]["estimate"] == pytest.approx(pilot["headline"]["estimate"], rel=1e-12)
    assert d["direct"]["estimate"] + d["indirect"]["estimate"] == pytest.approx(
        d["total"]["estimate"], rel=1e-12
    )
    assert d["through"] == ["log_gdp_pc", "log_fdi", "industry_share_pct"]
    assert d["direct"]["truth_target"] == "direct" and d["total"]["truth_target"] == "total"
    channel = truth["pilot"]["total_over_direct"]
    assert d["total"]["truth"] == pytest.approx(d["direct"]["truth"] * channel, rel=1e-12)
    assert d["direct"]["conf_low"] <= d["direct"]["truth"] <= d["direct"]["conf_high"]
    assert 0 < d["indirect"]["std_error"] < d["direct"]["std_error"]
    assert "sequential ignorability" in d["assumptions"]
    table = overall_comparison(pilot).set_index("estimator")
    direct_row = table.loc[next(i for i in table.index if i.startswith("Direct effect"))]
    assert direct_row["truth"] == pytest.approx(d["direct"]["truth"])


# --- the rules (studies/rules.py) on small frames (rule 1: tests/studies/test_rules.py) ------
def test_concurrent_cells_coarsen_when_the_main_treatment_leaves_them_no_support():
    # concurrent treatment c (first year "c_year") of cities A, B; main treatment in "m_year"
    cities = {"A": (2012, 2015), "B": (2012, 0), "C": (0, 2016), "D": (0, 0)}
    rows = [
        {"city_code": k, "year": t, "c_year": c, "m_year": m}
        for k, (c, m) in cities.items()
        for t in range(2010, 2020)
    ]
    toy = pd.DataFrame(rows)
    frame, conc = rules.concurrent_columns(toy, "m_year", "c_year", "c")
    # every (2012, e) cell met by A's main treatment has B (never main-treated) beside it
    assert conc.level == "cohort_event" and frame.shape[1] == 8
    assert frame.sum(axis=1).max() == 1.0 and frame.to_numpy().sum() == 16
    # without B the cells exist only on main-treated rows of A from 2015 on: one absorbing dummy
    frame, conc = rules.concurrent_columns(toy[toy["city_code"] != "B"], "m_year", "c_year", "c")
    assert conc.level == "static" and list(frame.columns) == ["c"]
    assert "lack support" in conc.note


def test_concurrent_cells_learnt_from_too_few_clusters_coarsen_on_an_estimators_controls():
    """An estimator with fewer controls than the headline (the ring design, issue 19) applies
    rule 2 on its own controls and asks each cell for MIN_CELL_CLUSTERS clusters: a cell learnt
    from two provinces fits their residuals, and the clustered variance misses its noise."""
    n = rules.MIN_CELL_CLUSTERS
    # concurrent cohort 2012 in every city; main treatment from 2015 in M0 and 2018 in Q (both in
    # province P0); cities C0..C{n-1} never main-treated, one in each province P0..P{n-1}
    cities = {"M0": ("P0", 2015), "Q": ("P0", 2018), **{f"C{k}": (f"P{k}", 0) for k in range(n)}}
    rows = [
        {"city_code": c, "province": p, "year": t, "c_year": 2012, "m_year": m}
        for c, (p, m) in cities.items()
        for t in range(2010, 2020)
    ]
    toy = pd.DataFrame(rows)
    untreated = ~((toy["m_year"] > 0) & (toy["year"] >= toy["m_year"])).to_numpy()
    # every cell has untreated city-years in n provinces: the finest level, with or without the count
    for cluster in (None, "province"):
        frame, conc = rules.concurrent_columns(toy, "m_year", "c_year", "c", untreated, cluster)
        assert conc.level == "cohort_event" and frame.shape[1] == 8
    # the estimator's controls lose C2..C{n-1} from 2016 on (exposed, say): the cells from
    # event time 4 on are learnt from C0 and C1 only, two provinces
    controls = (
        untreated
        & ~(toy["province"].isin([f"P{k}" for k in range(2, n)]) & (toy["year"] >= 2016)).to_numpy()
    )
    frame, conc = rules.concurrent_columns(toy, "m_year", "c_year", "c", controls)
    assert conc.level == "cohort_event"  # one city-year suffices by default
    frame, conc = rules.concurrent_columns(toy, "m_year", "c_year", "c", controls, "province")
    assert conc.level == "static" and list(frame.columns) == ["c"]
    assert f"fewer than {n} province clusters" in conc.note
    # in a study's covariates the rebuilt columns take the old ones' place
    old, first = rules.concurrent_columns(toy, "m_year", "c_year", "c")
    panel = pd.concat([toy, old], axis=1)
    covariates = ["x", *first.columns, "z"]
    panel, covs, new = rules.concurrent_on_controls(
        panel, covariates, {"c": first}, "m_year", controls, "province"
    )
    assert covs == ["x", "c", "z"] and new["c"].level == "static"
    assert panel["c"].tolist() == (toy["year"] >= 2012).astype(float).tolist()


def test_a_concurrent_treatment_with_a_dose_gets_its_centred_dose_column():
    """Broadband China (rule 2, CONCURRENT_DOSE): besides its cells, its on-dummy times the
    city's log broadband the year before its designation (the first panel year when designated
    then), centred on the designated cities' mean; a blank dose gets the mean; no column where the
    panel has no broadband or for a treatment without a dose."""
    cities = {"A": (2012, 2015, 1.0), "B": (2012, 0, 3.0), "C": (2010, 0, 2.0), "D": (0, 0, 9.0)}
    rows = [
        {"city_code": k, "year": t, "broadband_china_year": c, "pilot_year": m,
         "log_broadband": dose + (t - 2010) * 0.1}
        for k, (c, m, dose) in cities.items()
        for t in range(2010, 2020)
    ]  # fmt: skip
    toy = pd.DataFrame(rows)
    args = ("pilot_year", "broadband_china_year", "broadband_china")
    frame, conc = rules.concurrent_columns(toy, *args)
    assert conc.columns[-1] == "broadband_china_dose" and "broadband_china_dose" in conc.note
    # doses at the start: A 1.1 and B 3.1 (2011), C 2.0 (first panel year); mean 6.2 / 3
    dose = frame["broadband_china_dose"]
    by_city = dose.groupby(toy["city_code"])
    assert by_city.max()["B"] == pytest.approx(3.1 - 6.2 / 3)
    assert by_city.min()["C"] == pytest.approx(2.0 - 6.2 / 3)
    assert by_city.min()["A"] == pytest.approx(1.1 - 6.2 / 3)
    assert dose[(toy["city_code"] == "A") & (toy["year"] < 2012)].eq(0).all()
    assert dose[toy["city_code"] == "D"].eq(0).all()  # never designated
    blank = toy.assign(log_broadband=toy["log_broadband"].where(toy["city_code"] != "C"))
    frame, _ = rules.concurrent_columns(blank, *args)
    assert frame.loc[blank["city_code"] == "C", "broadband_china_dose"].eq(0).all()
    frame, conc = rules.concurrent_columns(toy.drop(columns="log_broadband"), *args)
    assert "broadband_china_dose" not in frame and "no log_broadband" in conc.note
    frame, conc = rules.concurrent_columns(toy, "pilot_year", "broadband_china_year", "rail")
    assert "rail_dose" not in frame and "dose" not in conc.note


def test_the_studies_handle_concurrent_treatments_by_the_same_rule(pilot, synthetic):
    """Rule 2 with its cluster count in every study's data: the pilot study's Broadband China
    cells (its 2015 cohort's late event times learnt from four provinces or fewer) coarsen to one
    absorbing dummy with its dose column; the rail study learns the pilot zones' and Broadband
    China's cells from enough provinces and keeps them."""
    conc = pilot["covariate_rule"]["concurrent"]
    bc = conc["broadband_china"]
    assert conc["rail"]["level"] == "static"
    assert bc["level"] == "static" and bc["n_dummies"] == 2  # the dummy and its dose column
    assert f"fewer than {rules.MIN_CELL_CLUSTERS} province clusters" in bc["note"]
    rail, _ = _study_data(synthetic[0], "rail")
    assert {k: c.level for k, c in rail.concurrent.items()} == {
        "pilot": "cohort_event", "broadband_china": "cohort_event"
    }  # fmt: skip


def test_truth_for_maps_covariates_to_their_target(synthetic):
    _, truth = synthetic
    total = rules.truth_for(truth, "pilot", ["rail", "log_gdp_pc_untreated"])
    direct = rules.truth_for(truth, "pilot", ["rail", "log_gdp_pc"])
    assert total["target"] == "total" and direct["target"] == "direct"
    assert total["att_overall"] == pytest.approx(truth["pilot"]["att_overall"], rel=1e-12)
    assert direct["att_overall"] == pytest.approx(truth["pilot"]["att_overall_direct"], rel=1e-12)
    for e, v in truth["pilot"]["att_by_event_time"].items():
        assert total["att_by_event_time"][e] == pytest.approx(v, rel=1e-12)
    one = rules.truth_for(truth, "pilot", [], ["330100"])  # Hangzhou alone
    assert one["att_overall"] == pytest.approx(
        np.mean(truth["pilot"]["city_effects"]["330100"]["effects"])
    )


def test_mnw_cluster_level_test_by_hand():
    scores = pd.Series([1.0, -2.0, 0.5, 3.0], index=["a", "b", "c", "d"])
    coarse = pd.Series(["P", "P", "Q", "Q"], index=scores.index)
    res = cluster_level_test(scores, coarse)
    theta = 2 * (1.0 * -2.0) + 2 * (0.5 * 3.0)
    var = 2 * (2 * 1.0 * 4.0 + 2 * 0.25 * 9.0)
    assert res.statistic == pytest.approx(theta / np.sqrt(var))
    assert res.p_value == pytest.approx(stats.norm.sf(theta / np.sqrt(var)))
    assert res.variance_coarse == pytest.approx((-1.0) ** 2 + 3.5**2)


def test_inference_rule_is_province_unless_there_are_almost_none(synthetic):
    panel, _ = synthetic
    rule = rules.inference_rule(panel)
    assert rule.cluster == "province" and rule.other == "city_code"
    provinces = panel["province"].unique()
    eight = rules.inference_rule(panel[panel["province"].isin(provinces[:8])])
    assert eight.cluster == "province" and "approximate" in eight.reason
    assert rules.inference_rule(panel[panel["province"].isin(provinces[:4])]).cluster == "city_code"
    # a design may ask for another grouping (the spillover ring design's spillover.cluster): the
    # same rule, the same floor of clusters, the same fallback to the cities
    regions = panel.assign(
        region=panel["province"].map({p: i % 6 for i, p in enumerate(provinces)})
    )
    asked = rules.inference_rule(regions, "region")
    assert (asked.cluster, asked.n_clusters, asked.other) == ("region", 6, "city_code")
    assert "approximate" in asked.reason
    few = rules.inference_rule(regions.assign(region=regions["region"] % 3), "region")
    assert few.cluster == "city_code" and few.reason.startswith("only 3 region groups (< 5)")
    assert rules.inference_rule(regions, "city_code").cluster == "city_code"
    assert rules.inference_rule(panel, "no_such_column").cluster == "city_code"


def test_truth_is_unbinned():
    truth = {"x": {"att_by_event_time": {str(e): 0.1 * (e + 1) for e in range(9)}}}
    series = truth_by_event_time(truth, "x", WINDOW)
    assert list(series.index) == list(range(-5, 6))
    assert (series.loc[:-1] == 0).all()
    assert series.loc[5] == pytest.approx(0.6)  # the e = 5 value, not the mean over 5..8
    short = {"x": {"att_by_event_time": {"0": 0.2}}}
    assert np.isnan(truth_by_event_time(short, "x", WINDOW).loc[3])


def test_event_studies_share_support_reference_and_truth(pilot):
    support = pilot["event_time_support"]
    assert support == list(range(WINDOW[0], WINDOW[1] + 1))
    frames = {"twfe": pilot["event_study"]}
    frames |= {k: v["event_study"] for k, v in pilot["robust"].items()}
    for name, frame in frames.items():
        assert list(frame["event_time"]) == support, name
        np.testing.assert_allclose(frame["truth"], list(pilot["truth_event_study"].values()))
        if name != "bjs":  # BJS has no single base period (its leads are Test 1's)
            assert frame.loc[frame["event_time"] == -1, "estimate"].item() == 0.0
    assert "binned" not in pilot["event_study"]
    # the truth is unbinned: at e = 5 it is the e = 5 value of the DGP
    assert pilot["truth_event_study"][5] != pilot["truth_event_study"][4]


def test_every_estimator_has_its_pretrend_test(pilot):
    tests = pilot["pretrend_tests"]
    for name in ("twfe", "sa", "cs", "bjs"):
        t = tests[name]
        assert set(t) >= {"stat", "df", "p_value", "test"}, name
        assert 0 <= t["p_value"] <= 1 and t["df"] >= 1
        assert t["p_value"] > 0.01, name  # no pre-trends in the DGP (given the covariates)
    assert tests["bjs"]["df"] == -WINDOW[0]  # Test 1 on the leads -5..-1


def test_cs_entry_is_covariate_adjusted_and_plain_cs_recorded(pilot):
    cs = pilot["robust"]["cs"]
    assert cs["variant"] == "cs_adjusted" and "covariate-adjusted" in cs["label"]
    plain = pilot["cs_unadjusted"]
    assert plain["event_study"]["event_time"].tolist() == pilot["event_time_support"]
    # at the study's level (province) the test of every pre-treatment ATT(g,t) has more
    # restrictions than clusters: the plain CS is tested on its leads, with F(df, G-1); at that
    # level it does not detect the conditional pre-trend (what pre-trend power is about)
    plain_test = pilot["pretrend_tests"]["cs_unadjusted"]
    assert plain_test["test"].startswith("joint Wald test: CS leads")
    assert (
        plain_test["reference"] == f"F({plain_test['df']}, {pilot['inference']['n_clusters'] - 1})"
    )
    assert pilot["pretrend_tests"]["cs"]["p_value"] > 0.01
    assert any("parallel trends" in n for n in pilot["notes"])


def test_cluster_diagnostic_and_randomization(synthetic, monkeypatch):
    from analysis.parallel import Backend
    from analysis.studies import binary

    panel, truth = synthetic
    # the draws run where params.yaml ``parallel`` says (the numbers do not depend on it:
    # tests/test_parallel.py); here one in-process worker, and the study must hand it on
    backend, seen = Backend("local", n_jobs=1), []
    real = binary.permutation_test
    monkeypatch.setattr(binary, "permutation_test",
                        lambda *a, **k: seen.append(k["backend"]) or real(*a, **k))  # fmt: skip
    study = binary_study(
        panel, truth, "rail", "rail_year", WINDOW, "headline", ri_draws=19, ri_seed=3,
        backend=backend,
    )  # fmt: skip
    assert seen == [backend]
    diag = study["cluster_diagnostic"]
    assert diag["city_code"]["n_treated_clusters"] == study["n_treated_cities"]
    left = len(study["covariate_rule"]["cities_left_out"])  # Chongqing, a province of its own
    assert diag["province"]["n_clusters"] == panel["province"].nunique() - left
    # the rail study: the pilot zones by cohort x event-time cells
    assert study["covariate_rule"]["concurrent"]["pilot"]["level"] == "cohort_event"
    ri = study["randomization"]
    assert ri["draws"] == 19 and ri["within"] == "province"
    # studentized at the study's level; the actual statistic is the headline's t
    assert ri["cluster"] == "province"
    assert ri["t_stat"] == pytest.approx(
        study["headline"]["estimate"] / study["headline"]["std_error"], rel=1e-10
    )
    # (1 + #{|t_b| >= |t|}) / (1 + 19): a multiple of 1/20, deterministic given the seed
    assert 0.05 <= ri["p_value"] <= 1
    assert ri["p_value"] * 20 == pytest.approx(round(ri["p_value"] * 20))
    from analysis.studies.binary import cluster_record

    pilot_diag = cluster_record(panel, "pilot_year")
    assert 2015 in pilot_diag["city_code"]["thin_cohorts"]  # the one-city 2015 cohort


def test_one_frame_shape(pilot):
    for value in pilot["robust"].values():
        assert isinstance(value["event_study"], pd.DataFrame)


def test_one_inference_rule_in_every_interval_band_and_pretest(pilot):
    """Issue 18 (3): every event-study band, overall row and pre-trend test of the study at the
    rule's level with t(G-1) (F(df, G-1) for the joint tests); the covariate-adjusted CS is the
    one exception, clustered by city and saying so; the other level in one appendix record."""
    from scipy import stats

    rule = pilot["inference"]
    assert rule["cluster"] == "province"
    g = rule["n_clusters"]
    crit = stats.t.ppf(0.975, g - 1)
    for key, value in pilot["robust"].items():
        own = value["n_clusters"]
        if key == "cs":
            assert value["cluster"] == "city_code" and "clustered by city" in value["note"]
        else:
            assert value["cluster"] == "province" and own == g
        c = stats.t.ppf(0.975, own - 1)
        es = value["event_study"].query("std_error > 0")
        np.testing.assert_allclose(es["conf_high"] - es["estimate"], c * es["std_error"])
        o = value["overall"]
        assert o["conf_high"] - o["estimate"] == pytest.approx(c * o["std_error"])
        test = value["pretrend"]
        assert test["p_value"] == pytest.approx(
            stats.f.sf(test["stat"] / test["df"], test["df"], own - 1)
        )
    es = pilot["event_study"].query("std_error > 0")
    np.testing.assert_allclose(es["conf_high"] - es["estimate"], crit * es["std_error"])
    assert pilot["twfe"]["conf_high"] - pilot["twfe"]["estimate"] == pytest.approx(
        crit * pilot["twfe"]["std_error"]
    )
    assert pilot["twfe"]["n_clusters"] == g
    other = pilot["appendix_other_level"]
    assert other["cluster"] == "city_code" and set(other["overall"]) == {"twfe", "cs", "sa", "bjs"}
    assert other["overall"]["bjs"]["estimate"] == pytest.approx(
        pilot["robust"]["bjs"]["overall"]["estimate"]
    )
    assert other["overall"]["bjs"]["std_error"] != pytest.approx(
        pilot["robust"]["bjs"]["overall"]["std_error"]
    )


def test_pretrend_power_of_the_headline_event_study(pilot):
    """Roth (2022) on the headline's own event study: the horizon weights reproduce the
    headline, the trend's bias is its slope times what a unit trend does to the headline, the
    pre-test uses the rule's t(G-1) critical value, and the figure has the trend and the
    expectation after passing."""
    from scipy import stats

    es = pilot["headline_event_study"]
    rows = pd.DataFrame(es["rows"]).set_index("event_time")
    post = rows.loc[rows.index >= 0]
    assert post["weight"].sum() == pytest.approx(1.0)
    assert (post["weight"] * post["estimate"]).sum() == pytest.approx(pilot["headline"]["estimate"])
    assert es["headline"] == pytest.approx(pilot["headline"]["estimate"])
    assert (post["weight"] * post["unit_trend_shape"]).sum() > 0
    power = pilot["pretrend_power"]
    assert power["crit"] == pytest.approx(stats.t.ppf(0.975, pilot["inference"]["n_clusters"] - 1))
    by = {r["target_power"]: r for r in power["by_power"]}
    assert set(by) == {0.5, 0.8} and 0 < by[0.5]["slope"] < by[0.8]["slope"]
    for r in by.values():
        # the record keeps the integration's numbers at 4 significant digits (binary.QMC_DIGITS)
        assert r["power"] == pytest.approx(r["target_power"], abs=1e-3)
        assert r["headline_bias"] == pytest.approx(r["slope"] * power["shape_headline"], rel=1e-3)
    fig = pd.DataFrame(power["figure"]["rows"])
    assert {"delta_true", "mean_after_pretesting", "period"} <= set(fig.columns)
    assert set(fig["period"]) == {"pre", "post"} and fig["event_time"].min() == WINDOW[0]
