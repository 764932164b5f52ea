"""CGS (2024) ATT(d|d)/ACRT: same estimates as diff-diff ContinuousDiD; uniform bands cover a known
curve (slow Monte Carlo)."""

import numpy as np
import pandas as pd
import pytest

from analysis.did.cgs_continuous import cgs_dose_response


# A concave curve inside the cubic sieve (num_knots = 0): the Monte Carlo then checks the bands,
# not the sieve's approximation (a log curve left a bias at the grid ends: 89.4% uniform coverage
# of log(1 + d/10) at 500 reps, measured)
def _h(d):
    return 0.006 * d - 0.00008 * d**2


def _dh(d):
    return 0.006 - 0.00016 * d


def simulate(seed: int, n_units: int = 600, n_periods: int = 6) -> pd.DataFrame:
    """Staggered cohorts 3-5, dose U(5, 40) fixed at treatment, effect h(d) from the first treated
    period, never-treated comparison, 40 clusters."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n_units) < 0.6
    g = np.where(treated, rng.choice([3, 4, 5], n_units), 0)
    dose = np.where(treated, rng.uniform(5, 40, n_units), 0.0)
    a = rng.normal(0, 1, n_units)
    rows = []
    for t in range(1, n_periods + 1):
        eff = np.where((g > 0) & (t >= g), _h(dose), 0.0)
        y = a + 0.1 * t + eff + rng.normal(0, 0.05, n_units)
        rows.append(
            pd.DataFrame(
                {
                    "id": np.arange(n_units),
                    "t": t,
                    "y": y,
                    "g": g,
                    "d": dose,
                    "cl": np.arange(n_units) % 40,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("num_knots", [0, 1])
def test_same_estimates_as_diff_diff(num_knots):
    diff_diff = pytest.importorskip("diff_diff")
    data = simulate(1)
    ours = cgs_dose_response(
        data, "y", "t", "id", "g", "d", num_knots=num_knots, grid=20, n_boot=99
    )
    peer = diff_diff.ContinuousDiD(
        degree=3, num_knots=num_knots, dvals=ours.curve["dose"].to_numpy()
    ).fit(data, "y", "id", "t", "g", "d", aggregate="dose")
    np.testing.assert_allclose(ours.curve["att"], peer.dose_response_att.effects, atol=1e-12)
    np.testing.assert_allclose(ours.curve["acrt"], peer.dose_response_acrt.effects, atol=1e-12)
    assert ours.overall["estimate"].iloc[0] == pytest.approx(peer.overall_att, abs=1e-12)
    assert ours.overall["estimate"].iloc[1] == pytest.approx(peer.overall_acrt, abs=1e-12)
    # pointwise bootstrap SEs near the peer's analytic ones (unit clusters)
    ratio = ours.curve["att_se"] / peer.dose_response_att.se
    assert 0.8 < ratio.median() < 1.25


def test_uniform_band_is_wider_than_pointwise_and_recovers_the_curve():
    res = cgs_dose_response(simulate(2), "y", "t", "id", "g", "d", cluster="cl", grid=30)
    assert res.crit_att > 1.96 and res.crit_acrt > 1.96
    c = res.curve
    assert ((c["att_low"] <= _h(c["dose"])) & (_h(c["dose"]) <= c["att_high"])).all()
    assert res.n_clusters == 40 and sum(res.cohorts.values()) == res.n_treated


def test_needs_controls_and_positive_doses():
    data = simulate(3)
    with pytest.raises(ValueError, match="never-treated"):
        cgs_dose_response(data[data["g"] > 0], "y", "t", "id", "g", "d")
    bad = data.assign(d=np.where(data["g"] > 0, 0.0, 0.0))
    with pytest.raises(ValueError, match="positive"):
        cgs_dose_response(bad, "y", "t", "id", "g", "d")


def _coverage(cluster, reps=500):
    grid = np.linspace(7, 38, 20)
    att, acrt = [], []
    for s in range(reps):
        c = cgs_dose_response(
            simulate(1000 + s), "y", "t", "id", "g", "d", cluster=cluster, grid=grid, n_boot=499,
            seed=s,
        ).curve  # fmt: skip
        att.append(((c["att_low"] <= _h(grid)) & (_h(grid) <= c["att_high"])).all())
        acrt.append(((c["acrt_low"] <= _dh(grid)) & (_dh(grid) <= c["acrt_high"])).all())
    return np.mean(att), np.mean(acrt)


@pytest.mark.slow
def test_uniform_bands_cover_the_known_curve():
    """500 simulated panels of 600 units (the bootstrap's clusters): the uniform 95% band covers
    the whole ATT(d) curve and the whole ACRT(d) curve in [93%, 97%] of them (MC s.e. 1 point;
    measured 94.8% and 94.2%)."""
    att, acrt = _coverage(None)
    assert 0.93 <= att <= 0.97, att
    assert 0.93 <= acrt <= 0.97, acrt


@pytest.mark.slow
def test_uniform_bands_with_few_clusters_under_cover_a_little():
    """The same panels clustered in 40 groups: with the t(G-1) mapping of the sup-t quantile the
    band covers in [90%, 95%] (measured 92.8% ATT, 92.4% ACRT at 500 reps with unit-level HC2
    residuals; 90.0% without the mapping at 300; with CR2 residuals by cluster 92.7% and 93.7% at
    300): a known few-cluster shortfall, stated for the study's 30 provinces."""
    att, acrt = _coverage("cl")
    assert 0.90 <= att <= 0.95, att
    assert 0.90 <= acrt <= 0.96, acrt


def test_cr2_residuals_are_hc2_for_singleton_clusters_and_bell_mccaffrey_for_groups():
    from scipy.linalg import sqrtm

    from analysis.did.cgs_continuous import _cr2

    rng = np.random.default_rng(5)
    x = np.column_stack([np.ones(12), rng.normal(size=(12, 2))])
    hat = x @ np.linalg.inv(x.T @ x) @ x.T
    e = rng.normal(size=12)
    hc2 = e / np.sqrt(1 - np.diag(hat))
    np.testing.assert_allclose(_cr2(e, hat, np.arange(12)), hc2, rtol=1e-12)
    cl = np.repeat([0, 1, 2], 4)
    want = np.concatenate([
        np.real(np.linalg.inv(sqrtm(np.eye(4) - hat[np.ix_(i, i)]))) @ e[i]
        for i in (np.flatnonzero(cl == c) for c in range(3))
    ])  # fmt: skip
    np.testing.assert_allclose(_cr2(e, hat, cl), want, rtol=1e-10)
