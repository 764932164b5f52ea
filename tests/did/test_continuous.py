"""Continuous-treatment estimators: TWFE dose-response (bins / B-spline) and the
de Chaisemartin-D'Haultfoeuille et al. WAS / AS estimators with stayers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analysis.did.continuous import did_continuous, twfe_dose_response
from analysis.did.results import TIDY_COLUMNS


def _panel(seed=0, n=400, periods=6, beta_t=None, noise=0.5, f=None):
    """Doses start in U(0, 2); each period ~30% of units raise theirs by U(0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    dose = np.zeros((n, periods))
    dose[:, 0] = rng.uniform(0, 2, n)
    for t in range(1, periods):
        move = rng.random(n) < 0.3
        dose[:, t] = dose[:, t - 1] + move * rng.uniform(0.5, 1.5, n)
    b = np.ones(periods) if beta_t is None else np.asarray(beta_t, float)
    effect = b[None, :] * dose if f is None else f(dose)
    y = (
        rng.normal(size=n)[:, None]
        + 0.5 * np.arange(periods)[None, :]
        + effect
        + rng.normal(scale=noise, size=(n, periods))
    )
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(np.arange(periods), n),
            "y": y.ravel(),
            "d": dose.ravel(),
        }
    )
    dD = np.diff(dose, axis=1)
    s = dD != 0
    true_was = (np.abs(dD) * b[None, 1:])[s].sum() / np.abs(dD)[s].sum()
    return df, true_was


# ---------------------------------------------------------------- TWFE dose-response


def test_spline_exact_on_linear_noiseless_effect():
    """The cubic B-spline space contains lines, so a noiseless linear dose effect is exact."""
    df, _ = _panel(0, noise=0.0)
    res = twfe_dose_response(df, "y", "d", "t", "id", method="spline", grid=20)
    np.testing.assert_allclose(res.estimates, 1.0 * (res.grid - res.ref_dose), atol=1e-7)
    assert list(res.tidy().columns) == TIDY_COLUMNS


def test_bins_exact_on_step_effect_and_reference():
    df, _ = _panel(1, noise=0.0, f=lambda d: np.zeros_like(d))
    cat = pd.qcut(df.d, 4, labels=False)
    df["y"] = df.y + np.array([0.0, 0.3, 0.8, 1.0])[cat]
    res = twfe_dose_response(df, "y", "d", "t", "id", method="bins", n_bins=4)
    np.testing.assert_allclose(res.estimates, [0.0, 0.3, 0.8, 1.0], atol=1e-8)
    assert res.std_errors[0] == 0.0 and len(res.bins) == 4
    # with noise: same numbers as the equivalent pyfixest i() regression
    df["y"] = df.y + np.random.default_rng(0).normal(size=len(df))
    res = twfe_dose_response(df, "y", "d", "t", "id", method="bins", n_bins=4)
    fit = pf.feols("y ~ i(bin, ref=0) | id + t", data=df.assign(bin=cat), vcov={"CRV1": "id"})
    np.testing.assert_allclose(res.estimates[1:], fit.tidy()["Estimate"], rtol=1e-10)
    np.testing.assert_allclose(res.std_errors[1:], fit.tidy()["Std. Error"], rtol=1e-8)


def test_spline_recovers_concave_curve_within_ci():
    df, _ = _panel(2, f=lambda d: 2 * np.log1p(d))
    res = twfe_dose_response(df, "y", "d", "t", "id", grid=[0.5, 1, 2, 3, 4], ref_dose=0.0)
    truth = 2 * np.log1p(res.grid)
    z = (res.estimates - truth) / res.std_errors
    assert np.abs(z).max() < 3
    assert res.plot().get_xlabel() == "Dose"
    assert "spline" in res.summary()


# ---------------------------------------------------------------- dCDH et al. WAS / AS


def test_binary_treatment_was_equals_did_m():
    """With a binary dose and order=1, WAS is DID_M (de Chaisemartin & D'Haultfoeuille 2020)."""
    rng = np.random.default_rng(3)
    n, periods = 300, 5
    d = np.zeros((n, periods), dtype=int)
    d[:, 0] = rng.random(n) < 0.4
    for t in range(1, periods):
        flip = rng.random(n) < 0.2
        d[:, t] = np.where(flip, 1 - d[:, t - 1], d[:, t - 1])
    y = rng.normal(size=(n, periods)) + 1.5 * d + 0.3 * np.arange(periods)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(np.arange(periods), n),
            "y": y.ravel(),
            "d": d.ravel(),
        }
    )
    dY, dD, d0 = np.diff(y, axis=1), np.diff(d, axis=1), d[:, :-1]
    num, n_s = 0.0, 0
    for k in range(periods - 1):
        join, leave = dD[:, k] == 1, dD[:, k] == -1
        stay0, stay1 = (dD[:, k] == 0) & (d0[:, k] == 0), (dD[:, k] == 0) & (d0[:, k] == 1)
        num += join.sum() * (dY[join, k].mean() - dY[stay0, k].mean())
        num += leave.sum() * (dY[stay1, k].mean() - dY[leave, k].mean())
        n_s += join.sum() + leave.sum()
    res = did_continuous(df, "y", "d", "t", "id", n_boot=50, progress=False)
    assert res.was == pytest.approx(num / n_s, abs=1e-10)
    assert res.was == pytest.approx(1.5, abs=4 * res.std_errors[0])


def test_linear_effect_recovered_within_ci():
    df, truth = _panel(5)
    res = did_continuous(df, "y", "d", "t", "id", n_boot=200, seed=1, progress=False)
    td = res.tidy().set_index("term")
    for term in ["WAS", "AS"]:
        assert td.loc[term, "conf_low"] < truth < td.loc[term, "conf_high"]
    assert res.n_switchers + res.n_stayers == 400 * 5
    assert list(td.reset_index().columns) == TIDY_COLUMNS
    again = did_continuous(df, "y", "d", "t", "id", n_boot=200, seed=1, progress=False)
    np.testing.assert_array_equal(again.boot, res.boot)


@pytest.mark.slow
def test_bootstrap_independent_of_n_jobs():
    df, _ = _panel(5)
    one = did_continuous(df, "y", "d", "t", "id", n_boot=60, seed=1, progress=False)
    two = did_continuous(df, "y", "d", "t", "id", n_boot=60, seed=1, progress=False, n_jobs=2)
    np.testing.assert_array_equal(one.boot, two.boot)


@pytest.mark.slow
def test_was_bootstrap_coverage_monte_carlo():
    hits = []
    for s in range(100):
        df, truth = _panel(100 + s)
        res = did_continuous(df, "y", "d", "t", "id", n_boot=199, seed=s, progress=False)
        lo, hi = res.tidy().loc[0, ["conf_low", "conf_high"]]
        hits.append(lo < truth < hi)
    assert 0.88 <= np.mean(hits) <= 0.99


def test_time_varying_effects_twfe_biased_was_not():
    """Effects grow over time: TWFE's comparisons of already-treated units are contaminated;
    WAS compares switchers to stayers with the same baseline dose."""
    beta_t = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    df, truth = _panel(6, beta_t=beta_t)
    res = did_continuous(df, "y", "d", "t", "id", n_boot=150, progress=False)
    twfe = pf.feols("y ~ d | id + t", data=df).coef().iloc[0]
    assert abs(res.was - truth) < 3 * res.std_errors[0]
    assert abs(twfe - truth) > 5 * res.std_errors[0]
    assert res.by_period.was.is_monotonic_increasing  # per-period slopes track beta_t
    assert res.plot().get_xlabel() == "Period"


def test_quasi_stayers_and_input_checks():
    df, truth = _panel(7)
    rng = np.random.default_rng(0)
    df["d"] = df.d + rng.uniform(-0.01, 0.01, len(df))  # nobody is an exact stayer
    with pytest.raises(ValueError):
        did_continuous(df, "y", "d", "t", "id", n_boot=10, progress=False)
    res = did_continuous(df, "y", "d", "t", "id", stayer_tolerance=0.05, n_boot=100, progress=False)
    assert abs(res.was - truth) < 4 * res.std_errors[0]
    with pytest.raises(ValueError, match="balanced"):
        did_continuous(df.iloc[1:], "y", "d", "t", "id", n_boot=10, progress=False)
    assert "stayers" in res.summary()
