"""Broadband China through the binary toolkit, its first stage and the CGS dose response on the
default synthetic panel (issue 20)."""

import numpy as np
import pandas as pd
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


def test_the_adjustments_cluster_influence_is_its_clustered_covariance(default_panel):
    """coverage.adjustment's psi: summed over provinces, psi_c psi_c' is the province-clustered
    (CR0) covariance of the adjustment's coefficients, as pyfixest computes it on the untreated
    city-years with city and year effects."""
    import pyfixest as pf

    panel, _ = default_panel
    adj = coverage.adjustment(panel)
    x = adj.covariates
    frame = x.rename(columns=lambda c: f"c{list(x.columns).index(c)}").reset_index()
    frame.columns = ["city_code", "year", *frame.columns[2:]]
    meta = panel.assign(city_code=panel["city_code"].astype(str)).set_index(["city_code", "year"])
    key = pd.MultiIndex.from_frame(frame[["city_code", "year"]])
    frame["y"] = meta["log_exports"].reindex(key).to_numpy()
    frame["province"] = meta["province"].reindex(key).to_numpy()
    g = meta[coverage.DESIGNATION_COHORT].reindex(key).fillna(0).to_numpy()
    untreated = frame[~((g > 0) & (frame["year"].to_numpy() >= g))]
    names = [c for c in frame.columns if c.startswith("c") and c[1:].isdigit()]
    fit = pf.feols(
        f"y ~ {' + '.join(names)} | city_code + year",
        data=untreated,
        vcov={"CRV1": "province"},
        ssc=pf.ssc(adj=False, cluster_adj=False),
        fixef_tol=1e-12,
    )
    ours = adj.psi.to_numpy().T @ adj.psi.to_numpy()
    theirs = fit._vcov
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)
    # and the adjusted outcome is log exports minus the covariates times pyfixest's coefficients
    coef = fit.coef().to_numpy()
    np.testing.assert_allclose(
        adj.outcome.to_numpy(), frame["y"].to_numpy() - x.to_numpy() @ coef, atol=1e-8
    )


def test_cgs_is_linear_in_its_outcome_so_the_first_step_passes_through(default_panel):
    """_first_step_influence rests on CGS being linear in its outcome for a fixed sample: the
    estimates on y - X g equal those on y minus A g, A's columns the estimates on each X_k."""
    from analysis.did.cgs_continuous import cgs_dose_response, estimate_vector

    panel, _ = default_panel
    rng = np.random.default_rng(3)
    data = panel[panel["broadband_china_year"].fillna(0).isin([0, 2015])].copy()
    data["dose"] = np.where(data["broadband_china_year"] > 0, data["broadband_per100"], 0.0)
    data["dose"] = data.groupby("city_code")["dose"].transform("first")
    data = data[(data["broadband_china_year"] == 0) | (data["dose"] > 0)]
    x = rng.normal(size=(len(data), 3))
    g = np.array([0.5, -1.0, 2.0])
    args = ("year", "city_code", "broadband_china_year", "dose")
    grid = np.linspace(15, 30, 5)

    def est(y):
        fit = cgs_dose_response(data.assign(_y=y), "_y", *args, cluster="province", grid=grid,
                                n_boot=2)  # fmt: skip
        return estimate_vector(fit)

    a = np.column_stack([est(x[:, k]) for k in range(3)])
    y = data["log_exports"].to_numpy()
    np.testing.assert_allclose(est(y - x @ g), est(y) - a @ g, atol=1e-10)
