"""Spillover-robust imputation by exposure rings (analysis.did.spillover): exposure against a
brute-force computation, recovery of a known direct effect and a negative ring-1 spillover (the
naive estimator is biased upward), no spillovers -> ring effects ~0, exact invariances, pyfixest's
did2s (Gardner's two-stage GMM with the ring indicators in the second stage) to 1e-6, and a slow
Monte Carlo of coverage.

diff-diff's SpilloverDiD (not a dependency) gives the same point estimates (to 3e-11, its
iterative FE solver) and SEs within 0.7%: benchmarks/peer_spillover_diffdiff.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.spatial import simulate_spillover_panel

from analysis.did.imputation import imputation
from analysis.did.results import EVENT_STUDY_COLUMNS
from analysis.did.spillover import exposure_rings, nearest_treated_distance, spillover_imputation

RINGS = (0.0, 50.0, 100.0)
DIRECT, SPILL = 0.3, (-0.2, 0.0)
ARGS = ("y", "year", "unit", "cohort", "lat", "lon", RINGS)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_spillover_panel(np.random.default_rng(1), direct=DIRECT, spill=SPILL)


@pytest.fixture(scope="module")
def fit(panel):
    return spillover_imputation(panel, *ARGS)


def test_exposure_matches_brute_force(panel):
    ex = exposure_rings(panel, "year", "unit", "cohort", "lat", "lon", RINGS)
    assert (ex["ring"].to_numpy() == panel["true_ring"].to_numpy()).all()
    treated = (panel["cohort"] > 0) & (panel["year"] >= panel["cohort"])
    assert ((ex["status"] == "treated") == treated).all()
    # absorbing: from its onset a unit is treated or exposed in every later period
    nonclean = ex["status"] != "control"
    late = panel["year"] >= ex["onset"].where(ex["onset"] > 0, np.inf)
    assert (nonclean == late).all()
    assert {"control", "ring::[0,50)", "ring::[50,100)", "treated"} == set(ex["status"])


def test_a_unit_left_out_of_the_estimation_still_exposes_its_neighbours(panel):
    """estimate_rows: the rows of a treated unit left out of the estimation are dropped after the
    exposure is computed on every row, so its untreated neighbours stay exposed (not controls);
    dropping the unit from the data instead would make some of them clean controls."""
    ex = exposure_rings(panel, "year", "unit", "cohort", "lat", "lon", RINGS)
    exposed = ex["status"].str.startswith("ring").to_numpy()
    for left in panel.loc[panel["cohort"] > 0, "unit"].unique():  # one whose removal matters
        keep = (panel["unit"] != left).to_numpy()
        alone = exposure_rings(panel[keep], "year", "unit", "cohort", "lat", "lon", RINGS)
        if alone["status"].str.startswith("ring").sum() < exposed[keep].sum():
            break
    else:
        pytest.fail("no treated unit is the only exposer of a neighbour in this panel")
    res = spillover_imputation(panel, *ARGS, estimate_rows=keep)
    assert res.n_obs == keep.sum()
    assert (res.exposure["status"].to_numpy() == ex["status"].to_numpy()[keep]).all()
    assert sum(res.n_cells[res.terms.index(t)] for t in res.terms if t.startswith("ring::")
               and "::e" not in t) == exposed[keep].sum()  # fmt: skip


def test_nearest_treated_distance_small_case():
    dist = np.array([[0.0, 10.0, 30.0], [10.0, 0.0, 25.0], [30.0, 25.0, 0.0]])
    d = nearest_treated_distance(dist, np.array([2.0, 0.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    inf = np.inf
    assert d.tolist() == [[inf, inf, 30.0], [inf, 10.0, 10.0], [inf, 30.0, 30.0]]


def test_recovers_direct_and_ring_effects_naive_biased_up():
    """Four panels: the ring estimator recovers the direct effect (0.3) and the spillovers (-0.2
    within 50 km, 0 in 50-100 km) within 3 SE; the naive estimator (exposed cells as controls)
    overstates the direct effect by more than 2 of its SEs in each (measured: +0.043 to +0.052)."""
    for seed in range(1, 5):
        df = simulate_spillover_panel(np.random.default_rng(seed), direct=DIRECT, spill=SPILL)
        res = spillover_imputation(df, *ARGS, horizons=False)
        truth = np.array([DIRECT, *SPILL])
        assert res.terms == ["direct", "ring::[0,50)", "ring::[50,100)"]
        assert (np.abs(res.estimates - truth) < 3 * res.std_errors).all()
        assert res.naive_att - DIRECT > 2 * res.naive_se
        assert res.naive_att > res.direct


def test_no_spillovers_ring_effects_zero():
    df = simulate_spillover_panel(np.random.default_rng(2), direct=DIRECT, spill=(0.0, 0.0))
    res = spillover_imputation(df, *ARGS, horizons=False)
    assert (np.abs(res.spillover) < 2.5 * res.spillover_se).all()
    assert abs(res.naive_att - res.direct) < res.naive_se


def test_spillover_term_moves_only_the_ring_estimates(panel, fit):
    """Exact: the exposed cells are outside the first stage, so adding a spillover to them moves
    each ring estimate by that spillover and leaves the direct effect unchanged; the naive
    estimate moves."""
    exposed1 = (panel["true_ring"] == 1).to_numpy()
    more = panel.assign(y=panel["y"] - 0.1 * exposed1)
    res = spillover_imputation(more, *ARGS)
    shift = pd.Series(0.0, index=fit.terms)
    shift["ring::[0,50)"] = -0.1
    np.testing.assert_allclose(
        res.estimates[:3], fit.estimates[:3] + shift.to_numpy()[:3], atol=1e-10
    )
    np.testing.assert_allclose(res.vcov, fit.vcov, atol=1e-12)
    assert res.naive_att > fit.naive_att + 0.01


def test_naive_is_the_imputation_estimator(panel, fit):
    imp = imputation(panel, "y", "year", "unit", "cohort", horizons=None)
    assert fit.naive_att == pytest.approx(imp.att, abs=1e-12)
    assert fit.naive_se == pytest.approx(imp.std_errors[0], rel=1e-10)


def test_equals_did2s_with_ring_indicators(panel):
    """Gardner's two-stage estimator (pyfixest did2s): first stage on the clean cells, second
    stage on [treated, ring 1, ring 2]: same estimates, and with one auxiliary cell per kind the
    BJS variance is its GMM variance."""
    import pyfixest as pf

    ex = exposure_rings(panel, "year", "unit", "cohort", "lat", "lon", RINGS)
    d = panel.assign(
        D=(ex["status"] == "treated").astype(float),
        r1=(ex["ring"] == 1).astype(float),
        r2=(ex["ring"] == 2).astype(float),
        nonclean=(ex["status"] != "control").astype(int),
    )
    g2 = pf.did2s(
        d,
        yname="y",
        first_stage="~ 0 | unit + year",
        second_stage="~ 0 + D + r1 + r2",
        treatment="nonclean",
        cluster="unit",
    ).tidy()
    res = spillover_imputation(panel, *ARGS, horizons=False, avg_effects_by=())
    np.testing.assert_allclose(res.estimates, g2["Estimate"].to_numpy(), atol=1e-8)
    np.testing.assert_allclose(res.std_errors, g2["Std. Error"].to_numpy(), rtol=1e-6)


def test_event_studies_average_to_the_overall_effects(fit):
    """The n-weighted mean of the spillover event study (time since first exposure, rings
    pooled) is the n-weighted mean of the ring effects; the direct event study averages to the
    direct effect."""
    tidy = fit.tidy().set_index("term")
    rings = tidy.loc[["ring::[0,50)", "ring::[50,100)"]]
    spill = tidy.loc[[t for t in tidy.index if t.startswith("spillover::e")]]
    direct = tidy.loc[[t for t in tidy.index if t.startswith("direct::e")]]
    pooled = np.average(rings.estimate, weights=rings.n_cells)
    assert np.average(spill.estimate, weights=spill.n_cells) == pytest.approx(pooled)
    assert np.average(direct.estimate, weights=direct.n_cells) == pytest.approx(fit.direct)
    es = fit.event_study("spillover")
    assert es["event_time"].min() == 0 and list(es.columns) == EVENT_STUDY_COLUMNS
    assert "direct" in fit.summary()


def test_by_ring_event_and_leaveout(panel):
    res = spillover_imputation(panel, *ARGS, by_ring_event=True, leaveout=True)
    ring1 = res.event_study("ring::[0,50)")
    assert len(ring1) > 3 and (ring1["std_error"] > 0).all()


def test_unbalanced_panel(panel, fit):
    """Missing rows do not change anyone's exposure (it is computed on the full unit x period
    grid from the cohorts), and the estimates stay close to the balanced panel's."""
    keep = np.random.default_rng(3).uniform(size=len(panel)) > 0.1
    sub = panel[keep]
    full = exposure_rings(panel, "year", "unit", "cohort", "lat", "lon", RINGS)
    part = exposure_rings(sub, "year", "unit", "cohort", "lat", "lon", RINGS)
    pd.testing.assert_frame_equal(part, full[keep])
    res = spillover_imputation(sub, *ARGS, horizons=False)
    assert (np.abs(res.estimates - fit.estimates[:3]) < 2 * fit.std_errors[:3]).all()


def test_input_checks(panel):
    with pytest.raises(ValueError, match="starting at 0"):
        spillover_imputation(panel, "y", "year", "unit", "cohort", "lat", "lon", (10.0, 50.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        spillover_imputation(panel, "y", "year", "unit", "cohort", "lat", "lon", (0.0, 50.0, 50.0))
    moved = panel.assign(lon=panel["lon"] + 0.1 * (panel["year"] == 2015))
    with pytest.raises(ValueError, match="constant within each unit"):
        spillover_imputation(moved, *ARGS)


@pytest.mark.slow
def test_monte_carlo_coverage():
    """400 panels (about 40 s): the ring estimator is unbiased and its 95% CIs cover 92-98% for
    the direct effect and both rings; the naive estimator's CI for the direct effect covers less
    than half the time. Measured (seed 5, these 400 panels): direct 93.8%, ring 1 94.5%, ring 2
    94.0% (MC s.e. 1.2 points), naive 22.8% (bias +0.048, SD 0.018). The default auxiliary model
    (kind x cohort x horizon: small cells) makes the direct effect's SE a little small; with
    ``leaveout=True`` (500 other panels) direct 95.0%, ring 1 95.4%, ring 2 96.2%."""
    rng = np.random.default_rng(5)
    truth = np.array([DIRECT, *SPILL])
    n = 400
    est, se, naive = np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 2))
    for r in range(n):
        df = simulate_spillover_panel(rng, direct=DIRECT, spill=SPILL)
        res = spillover_imputation(df, *ARGS, horizons=False)
        est[r], se[r], naive[r] = res.estimates, res.std_errors, (res.naive_att, res.naive_se)
    cover = (np.abs(est - truth) <= 1.96 * se).mean(axis=0)
    naive_cover = (np.abs(naive[:, 0] - DIRECT) <= 1.96 * naive[:, 1]).mean()
    print(f"coverage direct/ring1/ring2 {cover.round(3)}, naive {naive_cover:.3f}")
    assert (np.abs(est.mean(axis=0) - truth) < 3 * est.std(axis=0) / np.sqrt(n)).all()
    assert ((cover >= 0.92) & (cover <= 0.98)).all()
    assert naive_cover < 0.5
