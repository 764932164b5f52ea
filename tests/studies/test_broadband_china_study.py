"""Broadband China through the binary toolkit, its first stage and the CGS dose response on the
default synthetic panel (issue 20)."""

import numpy as np
import pytest

from analysis.data import build, reference, synthetic
from analysis.studies import coverage


@pytest.fixture(scope="module")
def default_panel():
    master, table, national = build.default_inputs()
    return synthetic.simulate_panel(master, table, national, synthetic.SyntheticDesign())


def test_single_source_rows_name_the_2015_cities():
    cities = coverage.single_source_cities(reference.load_broadband_china())
    # 29 single-source rows of 2015; one of them reaches a city already designated in 2014 (its
    # first designation is the 2nd-source 2014 row)
    assert len(cities) == 28 and len(set(cities)) == 28


def test_broadband_china_study_covers_its_truth(default_panel):
    panel, truth = default_panel
    single = coverage.single_source_cities(reference.load_broadband_china())
    study = coverage.broadband_china_study(panel, truth, (-5, 5), "headline", single_source=single)
    head = study["headline"]
    assert head["truth_in_ci"] and head["cluster"] == "province"
    # the doses the designation moves do not enter its own study
    assert "log_broadband" not in study["covariates"]
    # the pilot zones by their cells: the designated city-years of cells the controls cannot
    # learn leave the study (rules.CENSOR_UNSUPPORTED), the truth over the city-years kept
    assert any(c.startswith("pilot_g") for c in study["covariates"])
    rule = study["covariate_rule"]
    assert rule["concurrent"]["pilot"]["level"] == "cohort_event"
    assert 0 < rule["censored_city_years"] < 200 and rule["censored_by"]["pilot"] > 0
    assert study["true_att_target"] != pytest.approx(truth["broadband_china"]["att_overall"])
    assert study["pretrend_tests"]["bjs"]["p_value"] > 0.05
    fs = study["first_stage"]["broadband_per100"]
    assert fs["estimate"] > 0 and fs["truth"] == pytest.approx(
        truth["first_stage"]["broadband_per100"]["att_overall"]
    )
    assert study["without_single_source"]["dropped_cities"] == 28


def test_designation_dose_response_has_the_truth_beside_it(default_panel):
    panel, truth = default_panel
    res = coverage.designation_dose_response(panel, truth, n_boot=199)
    curve = res["curve"]
    np.testing.assert_allclose(curve["dose"], truth["broadband_china"]["dose_response"]["dose"])
    assert {"truth_att", "truth_acrt", "truth_slope", "att_low", "att_high"} <= set(curve)
    # the cities the binary study keeps (the control rule leaves out a city without enough
    # pre-designation years for its pre-trend controls)
    from analysis.data.design import analysis_sample
    from analysis.studies.binary import study_design
    from analysis.studies.rules import study_data

    design = study_design(panel)
    sd = study_data(analysis_sample(panel, design), design, "broadband_china")
    # ... minus those with designated years the study leaves out (CGS needs every post year);
    # the list also names designated cities the control rule leaves out whole (Chongqing)
    out = set(res["cities_left_out"])
    assert set(sd.censored) <= out and not (out - set(sd.censored)) & set(sd.treated_cities)
    kept = set(sd.treated_cities) - out
    assert res["n_treated"] == len(kept) <= len(truth["broadband_china"]["city_doses"])
    effects = truth["broadband_china"]["city_effects"]
    assert res["truth_att_overall"] == pytest.approx(
        np.mean([effects[c]["effects"][0] for c in kept])
    )
    assert res["crit_att"] > 1.96
