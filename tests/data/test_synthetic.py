"""The synthetic default panel: schema, calibration, determinism and the known truth."""

import numpy as np
import pytest

from analysis.data import reference
from analysis.data import synthetic
from analysis.data import treatments
from analysis.data.cities import build_city_master
from analysis.did.twfe import twfe
from analysis.data.schema import CONTROLS, PANEL_SCHEMA


@pytest.fixture(scope="module")
def inputs():
    master = build_city_master()
    table = treatments.city_treatments(master, reference.load_pilot_zones(), reference.load_rail_links())
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
    fit = twfe(panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS)
    est, se = fit.params["log_broadband"], fit.std_errors["log_broadband"]
    assert abs(est - truth["broadband"]["elasticity"]) < 3 * se
    naive = twfe(panel, "log_exports", ["pilot", "rail", "log_broadband"])
    assert abs(naive.params["log_broadband"] - truth["broadband"]["elasticity"]) > 3 * se


def test_single_dummy_twfe_understates_growing_pilot_effects(simulated):
    """Effects grow with time since designation: TWFE with one dummy puts weight on
    already-treated controls and falls short of the true ATT (Goodman-Bacon 2021)."""
    panel, truth = simulated
    fit = twfe(panel, "log_exports", ["pilot", "rail", "log_broadband"] + CONTROLS)
    assert fit.params["pilot"] < truth["pilot"]["att_overall"] - 3 * fit.std_errors["pilot"]
