"""The synthetic default panel: schema, calibration, determinism and the known truth."""

import numpy as np
import pandas as pd
import pytest

from analysis.data import reference, synthetic, treatments
from analysis.data.cities import build_city_master
from analysis.data.schema import CONTROLS, PANEL_SCHEMA
from analysis.did.twfe import twfe


@pytest.fixture(scope="module")
def inputs():
    master = build_city_master()
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    return master, table, reference.load_national_exports()


@pytest.fixture(scope="module")
def simulated(inputs):
    return synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign())


def test_schema_and_shape(simulated):
    panel, truth = simulated
    PANEL_SCHEMA.validate(panel)
    assert panel.shape[0] == 337 * 14
    assert (panel["data_source"] == "synthetic").all()
    assert "SYNTHETIC" in truth["note"]


def test_year_totals_reproduce_national_exports(simulated, inputs):
    panel, _ = simulated
    national = inputs[2].set_index("year")["exports_usd_bn"]
    totals = panel.groupby("year")["exports_usd_mn"].sum() / 1000
    np.testing.assert_allclose(totals.to_numpy(), national.loc[totals.index].to_numpy(), rtol=1e-9)


def test_heavy_tailed_city_distribution(simulated):
    panel, _ = simulated
    x = panel.loc[panel["year"] == 2019, "exports_usd_mn"].sort_values(ascending=False)
    top10 = x.iloc[: len(x) // 10].sum() / x.sum()
    assert 0.55 < top10 < 0.9


def test_deterministic_and_seeded(inputs):
    a, ta = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(seed=7))
    b, tb = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(seed=7))
    c, _ = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(seed=8))
    assert a.to_csv().encode() == b.to_csv().encode() and ta == tb
    assert not np.allclose(a["log_exports"], c["log_exports"])


def test_truth_matches_the_design(simulated):
    panel, truth = simulated
    design = synthetic.SyntheticDesign()
    # Hangzhou (batch 1, 2015): effect at designation = 0.15, growing 0.03 a year up to 5 years.
    hz = {r["year"]: r["att"] for r in truth["pilot"]["att_gt"] if r["cohort"] == 2015}
    assert hz[2015] == pytest.approx(design.pilot_att_by_batch[1])
    assert hz[2023] == pytest.approx(design.pilot_att_by_batch[1] + 5 * design.pilot_att_growth)
    treated = panel[panel["pilot"] == 1]
    assert truth["pilot"]["att_overall"] > 0 and len(treated) > 0
    assert truth["broadband"]["elasticity"] == design.broadband_elasticity


def test_twfe_recovers_the_elasticity_and_omitting_controls_biases_it(simulated):
    panel, truth = simulated
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    est, se = fit.params["log_broadband"], fit.std_errors["log_broadband"]
    assert abs(est - truth["broadband"]["elasticity"]) < 3 * se
    naive = twfe(panel, "log_exports", ["pilot", "rail", "log_broadband"], "city_code", "year")
    assert abs(naive.params["log_broadband"] - truth["broadband"]["elasticity"]) > 3 * se


def test_single_dummy_twfe_understates_growing_pilot_effects(simulated):
    """Effects grow with time since designation: TWFE with one dummy puts weight on
    already-treated controls and falls short of the true ATT (Goodman-Bacon 2021)."""
    panel, truth = simulated
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    assert fit.params["pilot"] < truth["pilot"]["att_overall"] - 3 * fit.std_errors["pilot"]


def test_constants_come_from_the_design_and_the_data(inputs):
    """No hard-coded roster facts: the batches are those of the design, a subset carries its share
    of national exports, and a designated batch without an effect in the design is an error."""
    design = synthetic.SyntheticDesign(seed=3, n_cities=60)
    panel, _ = synthetic.simulate_panel(*inputs, design)
    national = inputs[2].set_index("year")["exports_usd_bn"]
    totals = panel.groupby("year")["exports_usd_mn"].sum() / 1000
    share = 60 / len(inputs[0])
    np.testing.assert_allclose(
        totals.to_numpy(), share * national.loc[totals.index].to_numpy(), rtol=1e-9
    )
    eight = synthetic.SyntheticDesign(pilot_att_by_batch={**design.pilot_att_by_batch, 8: 0.02})
    assert eight.n_batches == 8
    assert synthetic.pilot_effect(np.array([8]), np.array([0]), eight)[0] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="no effect for batch"):
        synthetic.pilot_effect(np.array([8]), np.array([0]), design)


# --- the options of an honest DGP (defaults: the panel published so far) ----------------------


def test_default_panel_is_unchanged(simulated):
    """The options default to the panel published so far: pinned values of the default draw (a
    change of defaults is a deliberate step that updates these numbers and reruns the Monte Carlo)."""
    panel, truth = simulated
    assert panel["log_exports"].sum() == pytest.approx(32185.54358127543, rel=1e-12)
    assert panel["log_gdp_pc"].sum() == pytest.approx(51876.64172758255, rel=1e-12)
    assert panel["log_exports"].iloc[0] == pytest.approx(11.090584408461906, rel=1e-12)
    assert panel["log_exports"].iloc[-1] == pytest.approx(6.404866823148925, rel=1e-12)
    assert truth["pilot"]["att_overall"] == pytest.approx(0.13529680365296803, rel=1e-12)
    assert truth["estimand"]["kind"] == "relative effect"
    assert truth["pilot"]["outside_coding"]["city_years"] == 0


def _residuals(panel):
    """Residuals of log exports on the true regressors with city and year effects (balanced panel:
    one pass of two-way demeaning is exact)."""
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    cols = ["pilot", "rail", "log_broadband"] + CONTROLS
    y = panel["log_exports"] - panel[cols].to_numpy(float) @ fit.params[cols].to_numpy()
    by_city = y.groupby(panel["city_code"]).transform("mean")
    by_year = y.groupby(panel["year"]).transform("mean")
    return y - by_city - by_year + y.mean()


def _province_share(panel):
    e = _residuals(panel)
    return e.groupby([panel["province"], panel["year"]]).transform("mean").var() / e.var()


def _ar1(panel):
    e = _residuals(panel)
    lag = e.groupby(panel["city_code"]).shift()
    ok = lag.notna()
    return np.corrcoef(e[ok], lag[ok])[0, 1]


def _true_tau(panel, design):
    """Per-cell true effects from the coded timing (the DGP's timing under the default coding)."""
    pilot = synthetic.pilot_effect(
        panel["pilot_batch"].to_numpy(), (panel["year"] - panel["pilot_year"]).to_numpy(), design
    )
    rail = synthetic.rail_effect(
        (panel["year"] - panel["rail_year"]).to_numpy(), panel["rail_year"].to_numpy() > 0, design
    )
    return pilot + rail


def test_province_year_shocks_raise_the_province_share(simulated, inputs):
    base, _ = simulated
    design = synthetic.SyntheticDesign(province_year_sd=0.08)
    panel, truth = synthetic.simulate_panel(*inputs, design)
    assert _province_share(base) < 0.15
    assert _province_share(panel) > 0.2
    # their own random stream: every other draw is unchanged
    for col in ("log_gdp_pc", "log_broadband", "log_fdi", "industry_share_pct"):
        np.testing.assert_array_equal(panel[col], base[col])
    assert truth["dgp"]["province_year_sd"] == 0.08


def test_student_t_shocks_raise_kurtosis_at_the_same_variance(simulated, inputs):
    from scipy import stats

    base, _ = simulated
    heavy, _ = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(shock_df=4))
    assert stats.kurtosis(_residuals(base)) < 1
    assert stats.kurtosis(_residuals(heavy)) > 2
    assert _residuals(heavy).std() == pytest.approx(_residuals(base).std(), rel=0.15)
    with pytest.raises(ValueError, match="more than 2 degrees"):
        synthetic.SyntheticDesign(shock_df=2)


def test_ar1_coefficient_is_a_parameter(simulated, inputs):
    base, _ = simulated
    persistent, _ = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(noise_rho=0.8))
    assert _ar1(base) < 0.35
    assert _ar1(persistent) > 0.5


def test_untreated_year_effects_pin_the_untreated_outcomes_to_national_exports(simulated, inputs):
    base, base_truth = simulated
    design = synthetic.SyntheticDesign(year_effects="untreated")
    panel, truth = synthetic.simulate_panel(*inputs, design)
    untreated = np.exp(panel["log_exports"] - _true_tau(panel, design))
    totals = untreated.groupby(panel["year"]).sum() / 1000
    national = inputs[2].set_index("year")["exports_usd_bn"].loc[totals.index]
    np.testing.assert_allclose(totals.to_numpy(), national.to_numpy(), rtol=1e-9)
    # no displacement: the programme adds exports once cities are treated
    observed = panel.groupby("year")["exports_usd_mn"].sum() / 1000
    assert (observed.loc[2016:] > national.loc[2016:] * (1 + 1e-6)).all()
    assert truth["estimand"]["kind"] == "absolute effect"
    # the default displaces: never-treated cities export less than without the programme, by the
    # log loss the truth states
    never = (base["pilot_year"] == 0) & (base["rail_year"] == 0)
    gap = (base["log_exports"] - panel["log_exports"])[never].groupby(base["year"]).mean()
    loss = pd.Series(base_truth["estimand"]["log_loss_of_every_city_by_year"]).rename(int)
    np.testing.assert_allclose(gap.to_numpy(), loss.loc[gap.index].to_numpy(), atol=1e-9)
    assert loss.loc[2023] < loss.loc[2016] < 0 and loss.loc[2010] == pytest.approx(0, abs=1e-12)
    assert truth["pilot"]["att_overall"] == base_truth["pilot"]["att_overall"]


def test_gdp_feedback_makes_gdp_respond_only_after_treatment(simulated, inputs):
    base, base_truth = simulated
    design = synthetic.SyntheticDesign(gdp_export_feedback=0.5)
    panel, truth = synthetic.simulate_panel(*inputs, design)
    moved = panel["log_gdp_pc"] - base["log_gdp_pc"]
    treated = (panel["pilot"] == 1) | (panel["rail"] == 1)
    assert (moved[~treated] == 0).all()
    np.testing.assert_allclose(moved[treated], 0.5 * _true_tau(panel, design)[treated], atol=1e-12)
    assert (moved[treated] > 0).all()
    # the truth is the total effect; the direct effect (GDP on its untreated path) is kept apart
    channel = 1 + design.beta_log_gdp_pc * 0.5
    att = base_truth["pilot"]["att_overall"]
    assert truth["pilot"]["att_overall"] == pytest.approx(att * channel)
    assert truth["pilot"]["att_overall_direct"] == pytest.approx(att)
    assert "bad control" in truth["estimand"]["outcome_effect"]


def test_effective_timing_follows_the_coding_rule_when_asked(inputs):
    master, _, national = inputs
    zones, links = reference.load_pilot_zones(), reference.load_rail_links()
    coded = treatments.city_treatments(master, zones, links, year_rule="midyear")
    by_approval = synthetic.SyntheticDesign()
    assert by_approval.effect_start_rule("midyear") == "approval"
    approval = synthetic.effect_start_table(master, zones, links, by_approval, "midyear")
    assert (
        approval.set_index("city_code").loc[coded["city_code"], "pilot_year"]
        <= coded.set_index("city_code")["pilot_year"]
    ).all()
    panel_a, truth_a = synthetic.simulate_panel(
        master, coded, national, by_approval, effect_start=approval
    )
    by_coding = synthetic.SyntheticDesign(effective_timing="coding_rule")
    assert by_coding.effect_start_rule("midyear") == "midyear"
    assert synthetic.effect_start_table(master, zones, links, by_coding, "midyear") is None
    panel_c, truth_c = synthetic.simulate_panel(master, coded, national, by_coding)
    # the coded cohorts are the same; batch 7 (14 Nov 2022) is coded 2023
    assert (panel_a["pilot_year"] == panel_c["pilot_year"]).all()
    b7 = {r["year"]: r["att"] for r in truth_c["pilot"]["att_gt"] if r["cohort"] == 2023}
    assert b7 == {2023: pytest.approx(0.04)}  # starts in the coded year
    b7 = {r["year"]: r["att"] for r in truth_a["pilot"]["att_gt"] if r["cohort"] == 2023}
    assert b7 == {2023: pytest.approx(0.04 + 0.03)}  # started in 2022, a year before the coding
    # approval timing: batches 3, 4 and 7 (second-half approvals) have one year outside the coding
    cities = panel_a.drop_duplicates("city_code")
    moved = int(cities["pilot_batch"].isin([3, 4, 7]).sum())
    assert truth_a["pilot"]["outside_coding"]["city_years"] == moved > 50
    assert truth_c["pilot"]["outside_coding"]["city_years"] == 0
    assert truth_c["rail"]["outside_coding"]["city_years"] == 0
    assert "whatever the coding" in truth_a["estimand"]["effect_start"]
    assert "coding gives" in truth_c["estimand"]["effect_start"]
    # the untreated outcomes ignore the coding under approval timing (GDP selection included)
    default, _ = synthetic.simulate_panel(*inputs, by_approval)
    np.testing.assert_array_equal(panel_a["log_gdp_pc"], default["log_gdp_pc"])
    np.testing.assert_array_equal(panel_a["log_exports"], default["log_exports"])
