"""The headline ATT (BJS with covariates, the larger of the city and province SEs, t(G-1)) and
the comparable event studies of the binary studies, on the default synthetic panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.data.build import default_inputs
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.estimate import estimate
from analysis.studies.binary import (
    binary_study,
    headline_att,
    headline_metrics,
    study_design,
    treatment_covariates,
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
    return binary_study(panel, truth, "pilot", "pilot_year", WINDOW, "city_code")


def _covariates(panel, treatment):
    design = study_design(panel)
    return treatment_covariates(design, treatment) + list(design.controls_used), design


def test_headline_is_bjs_with_the_larger_se_and_t_interval(synthetic):
    panel, _ = synthetic
    cov, design = _covariates(panel, "rail")
    head = headline_att(panel, "rail", "rail_year", cov, design)
    kw = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": "rail_year"}
    by = {
        cl: estimate("bjs", panel, covariates=cov, cluster=cl, leaveout=True, **kw)
        for cl in ("city_code", "province")
    }
    assert head["estimate"] == pytest.approx(by["city_code"].att, rel=1e-12)
    assert head["se_city"] == pytest.approx(by["city_code"].se, rel=1e-12)
    assert head["se_province"] == pytest.approx(by["province"].se, rel=1e-12)
    assert head["std_error"] == max(head["se_city"], head["se_province"])
    used = "city_code" if head["std_error"] == head["se_city"] else "province"
    assert head["cluster"] == used
    g = panel[used].nunique()
    assert head["n_clusters"] == g
    crit = stats.t.ppf(0.975, g - 1)
    assert head["critical_value"] == pytest.approx(crit, rel=1e-12)
    assert head["conf_low"] == pytest.approx(head["estimate"] - crit * head["std_error"])
    assert head["conf_high"] == pytest.approx(head["estimate"] + crit * head["std_error"])
    t = head["estimate"] / head["std_error"]
    assert head["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), g - 1))
    assert head["nobs"] == len(panel)


def test_headline_skips_without_variation(synthetic):
    panel, _ = synthetic
    flat = panel.assign(rail_year=0, rail=0.0)
    cov, design = _covariates(flat, "rail")
    assert "skipped" in headline_att(flat, "rail", "rail_year", cov, design)


def test_headline_covers_the_truth_and_leads_the_study(pilot, synthetic):
    _, truth = synthetic
    head = pilot["headline"]
    assert head["conf_low"] <= truth["pilot"]["att_overall"] <= head["conf_high"]
    assert head["truth_in_ci"]
    metrics = headline_metrics(pilot)
    assert metrics["headline_att"] == head["estimate"]
    assert metrics["headline_se"] == head["std_error"]
    assert pilot["twfe_bias"] is not None  # TWFE stays as the foil


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
    # parallel trends hold only given the covariates: the plain CS pre-test rejects, the
    # adjusted CS leads do not
    assert pilot["pretrend_tests"]["cs_unadjusted"]["p_value"] < 0.01
    assert pilot["pretrend_tests"]["cs"]["p_value"] > 0.01
    assert any("parallel trends" in n for n in pilot["notes"])


def test_cluster_diagnostic_and_randomization(synthetic):
    panel, truth = synthetic
    study = binary_study(
        panel, truth, "rail", "rail_year", WINDOW, "city_code", ri_draws=19, ri_seed=3
    )
    diag = study["cluster_diagnostic"]
    assert diag["city_code"]["n_treated_clusters"] == study["n_treated_cities"]
    assert diag["province"]["n_clusters"] == panel["province"].nunique()
    ri = study["randomization"]
    assert ri["draws"] == 19 and ri["within"] == "province"
    # (1 + #{|t_b| >= |t|}) / (1 + 19): a multiple of 1/20, deterministic given the seed
    assert 0.05 <= ri["p_value"] <= 1
    assert ri["p_value"] * 20 == pytest.approx(round(ri["p_value"] * 20))
    from analysis.studies.binary import randomization_record

    cov = study["covariates"]
    again = randomization_record(panel, "rail_year", cov, 19, 3)
    assert again["p_value"] == ri["p_value"] and again["t_stat"] == ri["t_stat"]
    pilot_diag = binary_study(
        panel, truth, "pilot", "pilot_year", WINDOW, "city_code", estimators=("bjs",)
    )["cluster_diagnostic"]
    assert 2015 in pilot_diag["city_code"]["thin_cohorts"]  # the one-city 2015 cohort


def test_one_frame_shape(pilot):
    for value in pilot["robust"].values():
        assert isinstance(value["event_study"], pd.DataFrame)
