"""The synthetic default panel: schema, calibration, determinism and the known truth."""

from dataclasses import replace

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


# The DGP published before issue 12 (approval-year coding and effects, mild Gaussian noise, no
# province shocks, exogenous controls, observed totals pinned): the base the options are switched
# on from, so that each option test isolates one option.
LEGACY = synthetic.SyntheticDesign(
    noise_sd=0.06,
    noise_rho=0.3,
    shock_df=None,
    province_year_sd=0.0,
    gdp_export_feedback=0.0,
    year_effects="calibrated_after_effects",
    effective_timing="approval",
    effect_city_sd=0.0,
    laos_att=0.08,  # before issue 19: one rail effect for both links
    pilot_spillover=0.0,
    network=synthetic.NETWORK_OFF,
)


@pytest.fixture(scope="module")
def simulated(inputs):
    return synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign())


@pytest.fixture(scope="module")
def approval_inputs(inputs):
    master, _, national = inputs
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links(), year_rule="approval"
    )
    return master, table, national


@pytest.fixture(scope="module")
def legacy(approval_inputs):
    return synthetic.simulate_panel(*approval_inputs, LEGACY)


def test_schema_and_shape(simulated):
    panel, truth = simulated
    PANEL_SCHEMA.validate(panel)
    assert panel.shape[0] == 337 * 14
    assert (panel["data_source"] == "synthetic").all()
    assert "SYNTHETIC" in truth["note"]


def test_year_totals_reproduce_national_exports(simulated, inputs):
    """Default (year_effects: untreated): the cities' UNTREATED exports add up to national exports
    in every year; observed exports exceed them by the programmes' contribution."""
    panel, truth = simulated
    national = inputs[2].set_index("year")["exports_usd_bn"]
    tau = _true_tau(panel, synthetic.SyntheticDesign(), master=inputs[0], truth=truth)
    untreated = np.exp(panel["log_exports"] - tau)
    totals = untreated.groupby(panel["year"]).sum() / 1000
    np.testing.assert_allclose(totals.to_numpy(), national.loc[totals.index].to_numpy(), rtol=1e-9)
    excess = pd.Series(truth["estimand"]["log_excess_of_observed_over_national_by_year"])
    assert excess["2010"] == pytest.approx(0, abs=1e-12) and excess["2023"] > 0.05


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
    # Hangzhou (batch 1, approved 7 Mar 2015: 2015 under midyear): effect at designation = 0.15,
    # growing 0.03 a year up to 5 years, times its own 1 + shift (effect_city_sd); the truth is the
    # total effect, the direct one times 1 + beta_gdp * gdp_export_feedback (GDP responds to
    # exports by default)
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    own = _shifts(panel, design).loc["330100", "pilot"]
    assert own != 0
    hz = {r["year"]: r["att"] for r in truth["pilot"]["att_gt"] if r["cohort"] == 2015}
    assert hz[2015] == pytest.approx(design.pilot_att_by_batch[1] * (1 + own) * channel)
    assert hz[2023] == pytest.approx(
        (design.pilot_att_by_batch[1] + 5 * design.pilot_att_growth) * (1 + own) * channel
    )
    # city by city: the truth's city_effects average to its ATTs
    effects = truth["pilot"]["city_effects"]
    assert effects["330100"]["cohort"] == 2015 and len(effects["330100"]["effects"]) == 9
    assert np.mean([x for v in effects.values() for x in v["effects"]]) == pytest.approx(
        truth["pilot"]["att_overall"], rel=1e-12
    )
    assert truth["pilot"]["total_over_direct"] == pytest.approx(channel)
    treated = panel[panel["pilot"] == 1]
    assert truth["pilot"]["att_overall"] > 0 and len(treated) > 0
    assert truth["broadband"]["elasticity"] == design.broadband_elasticity


def test_twfe_recovers_the_elasticity_and_omitting_controls_biases_it(legacy):
    # on the low-noise legacy draw: one noisy default draw cannot separate the two by 3 SE (the
    # elasticity itself is recovered on the default draw as well: test_default_draw_recovers...)
    panel, truth = legacy
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    est, se = fit.params["log_broadband"], fit.std_errors["log_broadband"]
    assert abs(est - truth["broadband"]["elasticity"]) < 3 * se
    naive = twfe(panel, "log_exports", ["pilot", "rail", "log_broadband"], "city_code", "year")
    assert abs(naive.params["log_broadband"] - truth["broadband"]["elasticity"]) > 3 * se


def test_single_dummy_twfe_understates_growing_pilot_effects(legacy):
    """Effects grow with time since designation: TWFE with one dummy puts weight on
    already-treated controls and falls short of the true ATT (Goodman-Bacon 2021). On the
    low-noise legacy draw (one default draw is too noisy for 3 SE; the Monte Carlo shows the bias
    under the default: tests/studies/test_montecarlo.py)."""
    panel, truth = legacy
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    assert fit.params["pilot"] < truth["pilot"]["att_overall"] - 3 * fit.std_errors["pilot"]


def test_constants_come_from_the_design_and_the_data(inputs):
    """No hard-coded roster facts: the batches are those of the design, a subset carries its share
    of national exports, and a designated batch without an effect in the design is an error."""
    design = synthetic.SyntheticDesign(seed=3, n_cities=60)
    panel, truth = synthetic.simulate_panel(*inputs, design)
    national = inputs[2].set_index("year")["exports_usd_bn"]
    untreated = np.exp(
        panel["log_exports"] - _true_tau(panel, design, master=inputs[0], truth=truth)
    )
    totals = untreated.groupby(panel["year"]).sum() / 1000
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


def test_default_panel_is_pinned(simulated, legacy):
    """Pinned values of the default draw (a change of defaults is a deliberate step that updates
    these numbers and reruns the Monte Carlo; issue 12 changed them, issue 18 added each treated
    city's own proportional effect shift, effect_city_sd 0.15, which moves the treated cells
    only, issue 19 the sums: the corridor's own effect 0.10 and the pilot spillover -0.01), and
    the panel published before issue 12 is still reproduced by its options (LEGACY,
    approval-year coding)."""
    panel, truth = simulated
    # issue 20 added the network block (synthetic.network): its own stream, so with it switched
    # off the panel before it is reproduced to the last bit (test_network_block_off_...)
    assert panel["log_exports"].sum() == pytest.approx(32108.925835718022, rel=1e-12)
    assert panel["log_gdp_pc"].sum() == pytest.approx(51894.59755433776, rel=1e-12)
    assert panel["log_exports"].iloc[0] == pytest.approx(11.057248404915228, rel=1e-12)
    assert panel["log_exports"].iloc[-1] == pytest.approx(6.306995925103328, rel=1e-12)
    assert truth["broadband_china"]["att_overall"] == pytest.approx(0.10703501682961805, rel=1e-12)
    assert truth["pilot"]["att_overall"] == pytest.approx(0.14079580913204287, rel=1e-12)
    assert truth["pilot"]["att_overall_direct"] == pytest.approx(0.13282623503022914, rel=1e-12)
    assert truth["estimand"]["kind"] == "absolute effect"
    assert truth["pilot"]["outside_coding"]["city_years"] == 0
    assert truth["dgp"] == {
        "noise_sd": 0.18,
        "noise_rho": 0.6,
        "shock_df": 4.0,
        "province_year_sd": 0.08,
        "gdp_export_feedback": 0.1,
        "effect_city_sd": 0.15,
        "year_effects": "untreated",
        "effective_timing": "coding_rule",
        "laos_att": 0.1,
        "pilot_spillover": -0.01,
        "pilot_spillover_km": 100.0,
    }
    old, old_truth = legacy
    assert old["log_exports"].sum() == pytest.approx(32185.54358127543, rel=1e-12)
    assert old["log_gdp_pc"].sum() == pytest.approx(51876.64172758255, rel=1e-12)
    assert old["log_exports"].iloc[0] == pytest.approx(11.090584408461906, rel=1e-12)
    assert old["log_exports"].iloc[-1] == pytest.approx(6.404866823148925, rel=1e-12)
    assert old_truth["pilot"]["att_overall"] == pytest.approx(0.13529680365296803, rel=1e-12)
    assert old_truth["estimand"]["kind"] == "relative effect"


def test_default_draw_recovers_the_elasticity(simulated):
    panel, truth = simulated
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS, "city_code", "year"
    )
    est, se = fit.params["log_broadband"], fit.std_errors["log_broadband"]
    assert abs(est - truth["broadband"]["elasticity"]) < 3 * se


def test_default_noise_has_the_calibrated_moments(simulated):
    """The calibration of data/README.md: SD of within-city-and-year demeaned growth ~0.2,
    residual AR(1) well above the legacy 0.24, fat tails, a province share of about a quarter."""
    from scipy import stats

    panel, _ = simulated
    e = _residuals(panel)
    growth = panel["log_exports"].groupby(panel["city_code"]).diff()
    growth = growth - growth.groupby(panel["year"]).transform("mean")
    growth = growth - growth.groupby(panel["city_code"]).transform("mean")
    assert 0.17 < growth.std() < 0.26
    assert 0.3 < _ar1(panel) < 0.6
    assert stats.kurtosis(e) > 1.5
    assert 0.18 < _province_share(panel) < 0.35


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


def _shifts(panel, design) -> pd.DataFrame:
    """Each city's own proportional effect shifts (pilot, rail), in the DGP's city order."""
    codes = pd.unique(panel["city_code"])
    if not design.effect_city_sd:
        return pd.DataFrame(0.0, index=codes, columns=["pilot", "rail"])
    shift = synthetic._city_effect_shifts(len(codes), design)
    return pd.DataFrame(shift, index=codes, columns=["pilot", "rail"])


def _true_tau(panel, design, total=True, master=None, truth=None):
    """Per-cell true effects from the coded timing (the DGP's timing under the default coding):
    total effects (with GDP's response, ``gdp_export_feedback``) or the direct ones, each treated
    city's own shift (``effect_city_sd``) included; with ``truth``, plus the Broadband China
    designation's effect (its city_effects)."""
    pilot = synthetic.pilot_effect(
        panel["pilot_batch"].to_numpy(), (panel["year"] - panel["pilot_year"]).to_numpy(), design
    )
    rail = synthetic.rail_effect(
        (panel["year"] - panel["cre_year"]).to_numpy(), panel["cre_year"].to_numpy() > 0, design
    ) + synthetic.corridor_effect(
        (panel["year"] - panel["laos_rail_year"]).to_numpy(),
        panel["laos_rail_year"].to_numpy() > 0,
        design,
    )
    shift = _shifts(panel, design).reindex(panel["city_code"]).to_numpy()
    pilot, rail = pilot * (1 + shift[:, 0]), rail * (1 + shift[:, 1])
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback if total else 1.0
    designation = np.zeros(len(panel))
    if truth is not None:  # the Broadband China designation (issue 20), from the truth's cities
        block = truth["broadband_china"]
        g = panel["broadband_china_year"].to_numpy()
        for i in np.flatnonzero((g > 0) & (panel["year"].to_numpy() >= g)):
            row = block["city_effects"][panel["city_code"].iloc[i]]
            designation[i] = row["effects"][panel["year"].iloc[i] - g[i]]
        designation = designation / block["total_over_direct"]
    return (pilot + rail + designation) * channel + _true_spillover(panel, design, master)


def _true_spillover(panel, design, master=None):
    """The spillover of every cell, from the pilot cohorts of ``panel`` and the coordinates of
    ``master`` (the city master; needed when the design has a spillover)."""
    if not design.pilot_spillover:
        return np.zeros(len(panel))
    cities = (
        panel.groupby("city_code")["pilot_year"].first().to_frame()
        .join(master.set_index("city_code")[["latitude", "longitude"]])
    )  # fmt: skip
    years = np.sort(panel["year"].unique())
    exposed = synthetic.pilot_exposure(
        cities["latitude"].to_numpy(), cities["longitude"].to_numpy(),
        cities["pilot_year"].to_numpy(), years, design.pilot_spillover_km,
    )  # fmt: skip
    row = cities.index.get_indexer(panel["city_code"])
    col = np.searchsorted(years, panel["year"].to_numpy())
    return np.where(exposed[row, col], design.pilot_spillover, 0.0)


def test_province_year_shocks_raise_the_province_share(legacy, approval_inputs):
    base, _ = legacy
    design = replace(LEGACY, province_year_sd=0.08)
    panel, truth = synthetic.simulate_panel(*approval_inputs, design)
    assert _province_share(base) < 0.15
    assert _province_share(panel) > 0.2
    # their own random stream: every other draw is unchanged
    for col in ("log_gdp_pc", "log_broadband", "log_fdi", "industry_share_pct"):
        np.testing.assert_array_equal(panel[col], base[col])
    assert truth["dgp"]["province_year_sd"] == 0.08


def test_student_t_shocks_raise_kurtosis_at_the_same_variance(legacy, approval_inputs):
    from scipy import stats

    base, _ = legacy
    heavy, _ = synthetic.simulate_panel(*approval_inputs, replace(LEGACY, shock_df=4))
    assert stats.kurtosis(_residuals(base)) < 1
    assert stats.kurtosis(_residuals(heavy)) > 2
    assert _residuals(heavy).std() == pytest.approx(_residuals(base).std(), rel=0.15)
    with pytest.raises(ValueError, match="more than 2 degrees"):
        synthetic.SyntheticDesign(shock_df=2)


def test_ar1_coefficient_is_a_parameter(legacy, approval_inputs):
    base, _ = legacy
    persistent, _ = synthetic.simulate_panel(*approval_inputs, replace(LEGACY, noise_rho=0.8))
    assert _ar1(base) < 0.35
    assert _ar1(persistent) > 0.5


def test_untreated_year_effects_pin_the_untreated_outcomes_to_national_exports(
    legacy, approval_inputs
):
    inputs = approval_inputs
    base, base_truth = legacy
    design = replace(LEGACY, year_effects="untreated")
    panel, truth = synthetic.simulate_panel(*inputs, design)
    untreated = np.exp(panel["log_exports"] - _true_tau(panel, design))
    totals = untreated.groupby(panel["year"]).sum() / 1000
    national = inputs[2].set_index("year")["exports_usd_bn"].loc[totals.index]
    np.testing.assert_allclose(totals.to_numpy(), national.to_numpy(), rtol=1e-9)
    # no displacement: the programme adds exports once cities are treated
    observed = panel.groupby("year")["exports_usd_mn"].sum() / 1000
    assert (observed.loc[2016:] > national.loc[2016:] * (1 + 1e-6)).all()
    assert truth["estimand"]["kind"] == "absolute effect"
    # calibrated_after_effects displaces: never-treated cities export less than without the programme, by the
    # log loss the truth states
    never = (base["pilot_year"] == 0) & (base["rail_year"] == 0)
    gap = (base["log_exports"] - panel["log_exports"])[never].groupby(base["year"]).mean()
    loss = pd.Series(base_truth["estimand"]["log_loss_of_every_city_by_year"]).rename(int)
    np.testing.assert_allclose(gap.to_numpy(), loss.loc[gap.index].to_numpy(), atol=1e-9)
    assert loss.loc[2023] < loss.loc[2016] < 0 and loss.loc[2010] == pytest.approx(0, abs=1e-12)
    assert truth["pilot"]["att_overall"] == base_truth["pilot"]["att_overall"]


def test_gdp_feedback_makes_gdp_respond_only_after_treatment(legacy, approval_inputs):
    base, base_truth = legacy
    design = replace(LEGACY, gdp_export_feedback=0.5)
    panel, truth = synthetic.simulate_panel(*approval_inputs, design)
    moved = panel["log_gdp_pc"] - base["log_gdp_pc"]
    treated = (panel["pilot"] == 1) | (panel["rail"] == 1)
    assert (moved[~treated] == 0).all()
    np.testing.assert_allclose(
        moved[treated], 0.5 * _true_tau(panel, design, total=False)[treated], atol=1e-12
    )
    assert (moved[treated] > 0).all()
    # the truth is the total effect; the direct effect (GDP on its untreated path) is kept apart
    channel = 1 + design.beta_log_gdp_pc * 0.5
    att = base_truth["pilot"]["att_overall"]
    assert truth["pilot"]["att_overall"] == pytest.approx(att * channel)
    assert truth["pilot"]["att_overall_direct"] == pytest.approx(att)
    assert "bad control" in truth["estimand"]["outcome_effect"]


def test_effective_timing_follows_the_coding_rule_when_asked(inputs, approval_inputs):
    master, _, national = inputs
    zones, links = reference.load_pilot_zones(), reference.load_rail_links()
    coded = treatments.city_treatments(master, zones, links, year_rule="midyear")
    by_approval = LEGACY  # effects from the approval year, whatever the coding
    assert by_approval.effect_start_rule("midyear") == "approval"
    approval = synthetic.effect_start_table(master, zones, links, by_approval, "midyear")
    assert (
        approval.set_index("city_code").loc[coded["city_code"], "pilot_year"]
        <= coded.set_index("city_code")["pilot_year"]
    ).all()
    panel_a, truth_a = synthetic.simulate_panel(
        master, coded, national, by_approval, effect_start=approval
    )
    by_coding = replace(LEGACY, effective_timing="coding_rule")  # the default's timing
    assert synthetic.SyntheticDesign().effective_timing == "coding_rule"
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
    default, _ = synthetic.simulate_panel(*approval_inputs, by_approval)
    np.testing.assert_array_equal(panel_a["log_gdp_pc"], default["log_gdp_pc"])
    np.testing.assert_array_equal(panel_a["log_exports"], default["log_exports"])


def test_city_level_effect_heterogeneity_has_its_own_stream(inputs):
    """effect_city_sd: each treated city's effect is shifted by its own draw, from a stream of its
    own: the untreated outcomes and every control's untreated path are unchanged."""
    flat, flat_truth = synthetic.simulate_panel(
        *inputs, synthetic.SyntheticDesign(effect_city_sd=0.0)
    )
    design = synthetic.SyntheticDesign(effect_city_sd=0.3)
    panel, truth = synthetic.simulate_panel(*inputs, design)
    untreated = (panel["pilot"] == 0) & (panel["rail"] == 0)
    for col in ("log_exports", "log_gdp_pc", "log_fdi"):
        np.testing.assert_array_equal(panel.loc[untreated, col], flat.loc[untreated, col])
    moved = panel["log_exports"] - flat["log_exports"]
    master = inputs[0]
    expected = _true_tau(panel, design, master=master) - _true_tau(
        flat, replace(design, effect_city_sd=0.0), master=master
    )
    np.testing.assert_allclose(moved, expected, atol=1e-9)
    assert truth["dgp"]["effect_city_sd"] == 0.3
    # proportional: without effects there is nothing to shift
    null = replace(design, pilot_att_by_batch={b: 0.0 for b in range(1, 8)}, pilot_att_growth=0.0)
    assert synthetic.simulate_panel(*inputs, null)[1]["pilot"]["att_overall"] == 0
    assert truth["pilot"]["att_overall"] != flat_truth["pilot"]["att_overall"]


def test_rail_effect_can_grow(inputs):
    """rail_att_growth: the rail effect grows per year since first service up to growth_cap (a
    stress scenario; default 0, static)."""
    assert synthetic.SyntheticDesign().rail_att_growth == 0
    design = synthetic.SyntheticDesign(rail_att_growth=0.02, effect_city_sd=0.0)
    _, truth = synthetic.simulate_panel(*inputs, design)
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    by_e = {int(e): v for e, v in truth["cre"]["att_by_event_time"].items()}
    for e, v in by_e.items():
        expected = design.rail_att + 0.02 * min(e, design.growth_cap)
        assert v == pytest.approx(expected * channel)
    assert truth["rail"]["growth_per_year"] == 0.02 == truth["cre"]["growth_per_year"]
    # the corridor keeps its own static effect
    for v in truth["laos"]["att_by_event_time"].values():
        assert v == pytest.approx(design.laos_att * channel)


# --- issue 19: the two rail links apart, the pilot zones' spillover --------------------------------


def test_the_two_rail_links_have_their_own_effects_and_truth(simulated):
    """CRE (rail_att, 13 cities) and the China-Laos corridor (laos_att, the 4 Yunnan prefectures
    on the line, coded 2022 by the mid-year rule) are separate blocks of the truth, each over its
    own coded treated city-years; ``rail`` is their sum by the first service of either."""
    panel, truth = simulated
    design = synthetic.SyntheticDesign()
    channel = 1 + design.beta_log_gdp_pc * design.gdp_export_feedback
    cre, laos = truth["cre"], truth["laos"]
    assert len(cre["cities"]) == 13 and len(laos["cities"]) == 4
    assert not set(cre["cities"]) & set(laos["cities"])
    # each city's own proportional shift (effect_city_sd), one per city for its rail link
    shift = _shifts(panel, design)["rail"].reindex(panel["city_code"]).to_numpy()
    for block, col, att in ((cre, "cre_year", design.rail_att), (laos, "laos_rail_year",
                                                                   design.laos_att)):  # fmt: skip
        on = ((panel[col] > 0) & (panel["year"] >= panel[col])).to_numpy()
        assert block["att_overall_direct"] == pytest.approx(att * (1 + shift[on]).mean())
        assert block["att_overall"] == pytest.approx(block["att_overall_direct"] * channel)
        assert block["total_over_direct"] == pytest.approx(channel)
        assert sorted(block["city_effects"]) == block["cities"]
    assert sorted(laos["att_by_event_time"]) == ["0", "1"]  # 2022 and 2023
    assert {r["cohort"] for r in laos["att_gt"]} == {2022}
    n_cre = int(((panel["cre_year"] > 0) & (panel["year"] >= panel["cre_year"])).sum())
    n_laos = int(((panel["laos_rail_year"] > 0) & (panel["year"] >= panel["laos_rail_year"])).sum())
    pooled = (n_cre * cre["att_overall"] + n_laos * laos["att_overall"]) / (n_cre + n_laos)
    assert truth["rail"]["att_overall"] == pytest.approx(pooled)


def test_spillover_exposure_is_the_ring_estimators(simulated, inputs):
    """The DGP's exposure (untreated, within pilot_spillover_km of a city whose effect started) is
    the exposure of did.spillover.exposure_rings with outer ring pilot_spillover_km on the panel:
    the ring estimator targets exactly the truth's spillover cells."""
    from analysis.did.spillover import exposure_rings

    panel, truth = simulated
    design = synthetic.SyntheticDesign()
    coords = inputs[0][["city_code", "latitude", "longitude"]]
    data = panel.merge(coords, on="city_code", how="left")
    expo = exposure_rings(
        data, "year", "city_code", "pilot_year", "latitude", "longitude",
        rings=(0, 50, design.pilot_spillover_km),
    )  # fmt: skip
    exposed = expo["status"].str.startswith("ring").to_numpy()
    spill = _true_spillover(panel, design, inputs[0])
    np.testing.assert_array_equal(exposed, spill != 0)
    block = truth["pilot"]["spillover"]
    assert block["exposed_city_years"] == int(exposed.sum()) > 300
    assert block["att_exposed"] == pytest.approx(design.pilot_spillover)
    assert block["effect"] == -0.01 and block["radius_km"] == 100


def test_spillover_is_outside_the_untreated_outcome_and_gdp(inputs):
    """Switching the spillover on moves only the exposed cells' log exports, by exactly the
    spillover: no random draw, no year effect and no GDP per capita changes."""
    base, _ = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(pilot_spillover=0.0))
    panel, truth = synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign())
    design = synthetic.SyntheticDesign()
    np.testing.assert_array_equal(panel["log_gdp_pc"], base["log_gdp_pc"])
    np.testing.assert_allclose(
        panel["log_exports"] - base["log_exports"],
        _true_spillover(panel, design, inputs[0]),
        atol=1e-12,
    )
    assert truth["pilot"]["att_overall"] == pytest.approx(
        synthetic.simulate_panel(*inputs, synthetic.SyntheticDesign(pilot_spillover=0.0))[1][
            "pilot"
        ]["att_overall"]
    )


# --- the network block (issue 20) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def network_off(inputs):
    return synthetic.simulate_panel(
        *inputs, synthetic.SyntheticDesign(network=synthetic.NETWORK_OFF)
    )


def test_network_block_off_reproduces_the_panel_before_it(network_off):
    panel, truth = network_off
    assert panel["log_exports"].sum() == pytest.approx(32341.740280440696, rel=1e-12)
    assert panel["log_gdp_pc"].sum() == pytest.approx(51885.43899204866, rel=1e-12)
    assert panel["log_exports"].iloc[-1] == pytest.approx(6.610518700074433, rel=1e-12)
    assert truth["broadband_china"]["att_overall"] == 0


def test_broadband_china_coding_and_first_stage(simulated, inputs):
    """Designation years from the roster (阿拉尔 unresolved: no city), the first stage on both
    doses exactly as designed (half in the year, all after), nothing before designation."""
    panel, truth = simulated
    design = synthetic.SyntheticDesign()
    units = reference.load_broadband_china()
    assert list(reference.broadband_unresolved(units)["unit"]) == ["阿拉尔市"]
    years = panel.groupby("city_code")["broadband_china_year"].first()
    # midyear rule: announced 2014-10-09, 2015-10-19, 2016-07-25 -> 2015, 2016, 2017
    assert sorted(years[years > 0].unique()) == [2015, 2016, 2017]
    assert years.loc["430200"] == 2015  # 株洲, through the 长株潭 cluster
    assert (
        panel["broadband_china"]
        == ((panel["broadband_china_year"] > 0) & (panel["year"] >= panel["broadband_china_year"]))
    ).all()
    fs = truth["first_stage"]
    net = design.network
    assert fs["broadband_per100"]["att_by_event_time"]["0"] == pytest.approx(
        net.designation_broadband / 2
    )
    assert fs["broadband_per100"]["att_by_event_time"]["3"] == pytest.approx(
        net.designation_broadband
    )
    assert fs["mobile_per100"]["att_by_event_time"]["1"] == pytest.approx(net.designation_mobile)
    off, _ = synthetic.simulate_panel(
        *inputs,
        replace(design, network=replace(net, designation_broadband=0.0, designation_mobile=0.0)),
    )
    before = (panel["broadband_china"] == 0).to_numpy()
    np.testing.assert_array_equal(
        panel.loc[before, "broadband_per100"], off.loc[before, "broadband_per100"]
    )
    gap = (panel["broadband_per100"] - off["broadband_per100"])[~before]
    assert gap.min() == pytest.approx(net.designation_broadband / 2)
    assert gap.max() == pytest.approx(net.designation_broadband)
    # mobile per 100: a plausible range (adoption above 100 by the end: several SIMs a person)
    mob = panel.groupby("year")["mobile_per100"].mean()
    assert 45 < mob.loc[2010] < 70 and 100 < mob.loc[2023] < 130
    np.testing.assert_allclose(panel["log_mobile"], np.log(panel["mobile_per100"]))


def test_designation_truth_is_the_closed_form_of_the_dose(simulated):
    """ATT(d|d), ATT(d) and ACRT(d|d) of the truth file are the DGP's closed forms, the city effects
    average to the ATT, and selection on gains makes ATT(d|d) steeper than ATT(d)."""
    panel, truth = simulated
    net = synthetic.SyntheticDesign().network
    block = truth["broadband_china"]
    curve = pd.DataFrame(block["dose_response"])
    doses = pd.Series(block["city_doses"])
    assert len(doses) == panel.loc[panel["broadband_china_year"] > 0, "city_code"].nunique()
    assert block["dose_mean"] == pytest.approx(doses.mean())
    c = block["total_over_direct"]
    h = net.designation_scale * np.log1p(curve["dose"] / net.designation_half_dose)
    sel = 1 + net.designation_selection * (curve["dose"] - doses.mean()) / doses.std(ddof=0)
    np.testing.assert_allclose(curve["att_d_given_d"], c * h * sel)
    np.testing.assert_allclose(curve["att_d"], c * h)
    # the slope of ATT(d|d) is ACRT(d|d) plus the selection term (numerical derivative)
    d = curve["dose"].to_numpy()
    numeric = np.gradient(curve["att_d_given_d"].to_numpy(), d)
    np.testing.assert_allclose(
        numeric[3:-3], curve["slope_att_d_given_d"].to_numpy()[3:-3], rtol=0.02
    )
    assert (curve["slope_att_d_given_d"] > curve["acrt_d_given_d"]).all()
    # city by city: the effects average to the ATT; constant over event time
    effects = [x for v in block["city_effects"].values() for x in v["effects"]]
    assert np.mean(effects) == pytest.approx(block["att_overall"], rel=1e-12)
    assert len({round(x, 12) for x in block["city_effects"]["430200"]["effects"]}) == 1


def test_dose_response_is_heterogeneous_with_selection_on_gains(inputs, network_off):
    """City elasticities spread around the mean elasticity and, with selection_on_gains (a stress
    scenario, 0 by default), larger where broadband diffused early (cities that gain more adopt
    faster); the rebuilt network component matches the panel."""
    base = synthetic.SyntheticDesign()
    design = replace(base, network=replace(base.network, selection_on_gains=0.6))
    panel, truth = synthetic.simulate_panel(*inputs, design)
    b = pd.Series(truth["broadband"]["city_elasticities"])
    assert b.mean() == pytest.approx(design.broadband_elasticity, abs=0.02)
    assert b.std() > 0.3 * design.broadband_elasticity
    early = panel[panel["year"] == 2013].set_index("city_code")["broadband_per100"]
    region = panel.groupby("city_code")["region"].first()
    # within region (the region's own diffusion timing apart): higher early dose, higher gains
    within = [
        np.corrcoef(early[region == r], b.reindex(early.index)[region == r])[0, 1]
        for r in ("east", "central", "west")
    ]
    assert min(within) > 0.2
    # the rebuilt network component is the whole difference to the network-free panel, up to
    # the year effects (recalibrated to national exports)
    off, _ = network_off
    component = synthetic.network_effect_component(panel, truth)
    old = design.broadband_elasticity * np.log(off["broadband_per100"])
    rest = panel["log_exports"] - off["log_exports"] - (component - old)
    assert rest.groupby(panel["year"]).std().max() < 1e-9
