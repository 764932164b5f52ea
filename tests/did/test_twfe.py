"""TWFE and the TWFE event study: published number (castle), PanelOLS = pyfixest = closed-form
demeaning to 1e-8 (coefficients and clustered SEs), and the event-study pre-trend Wald test's size
and power on simulated panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.pyfixest_twfe import twfe_pyfixest

from analysis.data.build import default_inputs
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.event_study import EventStudyResult, event_study, event_time_dummies
from analysis.did.results import TIDY_COLUMNS
from analysis.did.twfe import twfe

CASTLE_TWFE = 0.0818116  # R bacondecomp, castle: l_homicide ~ post | state + year (README)
TOL = 1e-8


@pytest.fixture(scope="module")
def castle(load_validation) -> pd.DataFrame:
    d = load_validation("castle.csv")
    regions = ["northeast", "midwest", "south", "west"]
    d["region"] = d[regions].to_numpy().argmax(axis=1)  # census region from the 0/1 columns
    return d


@pytest.fixture(scope="module")
def synthetic_panel() -> pd.DataFrame:
    panel, _ = simulate_panel(*default_inputs(), SyntheticDesign())
    return panel


SYN_X = ["pilot", "rail", "log_gdp_pc", "log_broadband"]


def _agree(a, b, tol=TOL):
    assert list(a.params.index) == list(b.params.index)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(a.std_errors.to_numpy(), b.std_errors.to_numpy(), rtol=0, atol=tol)
    assert a.nobs == b.nobs and a.n_clusters == b.n_clusters


def test_castle_matches_published_coefficient(castle):
    res = twfe(castle, "l_homicide", ["post"], "state", "year")
    assert res.params["post"] == pytest.approx(CASTLE_TWFE, abs=5e-8)  # reference has 7 decimals
    assert res.nobs == 550 and res.n_entities == 50 and res.n_clusters == 50
    assert list(res.tidy().columns) == TIDY_COLUMNS


@pytest.mark.parametrize("cluster", ["state", "region", "year"])
def test_castle_panelols_equals_pyfixest(castle, cluster):
    kw = {"idname": "state", "tname": "year", "cluster": cluster}
    ours = twfe(castle, "l_homicide", ["post", "l_pop", "l_income"], **kw)
    _agree(ours, twfe_pyfixest(castle, "l_homicide", ["post", "l_pop", "l_income"], **kw))
    _agree(
        ours,
        twfe(
            castle,
            "l_homicide",
            ["post", "l_pop", "l_income"],
            method="demean",
            **kw,
        ),
    )


@pytest.mark.parametrize("cluster", [None, "province", "year"])
def test_synthetic_three_paths_agree(synthetic_panel, cluster):
    """PanelOLS, pyfixest and the balanced-panel closed form give the same numbers to 1e-8."""
    ols = twfe(
        synthetic_panel,
        "log_exports",
        SYN_X,
        "city_code",
        "year",
        cluster=cluster,
        method="panelols",
    )
    _agree(ols, twfe_pyfixest(synthetic_panel, "log_exports", SYN_X, cluster=cluster))
    fast = twfe(
        synthetic_panel, "log_exports", SYN_X, "city_code", "year", cluster=cluster, method="demean"
    )
    _agree(ols, fast)
    assert fast.r2_within == pytest.approx(ols.r2_within, abs=TOL)
    assert fast.n_entities == ols.n_entities == 337
    np.testing.assert_allclose(fast.cov.to_numpy(), ols.cov.to_numpy(), rtol=0, atol=TOL)


def test_coarser_clusters_give_different_ses(synthetic_panel):
    """Guard against a cluster argument that is silently ignored."""
    city = twfe(synthetic_panel, "log_exports", SYN_X, "city_code", "year", method="demean")
    prov = twfe(
        synthetic_panel,
        "log_exports",
        SYN_X,
        "city_code",
        "year",
        cluster="province",
        method="demean",
    )
    assert city.n_clusters == 337 and prov.n_clusters == 31
    assert np.abs(city.std_errors - prov.std_errors).max() > 1e-4


def test_demean_requires_balanced_panel(synthetic_panel):
    unbalanced = synthetic_panel.drop(index=[0, 1, 2])
    with pytest.raises(ValueError, match="balanced"):
        twfe(unbalanced, "log_exports", SYN_X, "city_code", "year", method="demean")
    # "auto" falls back to PanelOLS on an unbalanced panel and still matches pyfixest
    _agree(
        twfe(unbalanced, "log_exports", SYN_X, "city_code", "year", method="auto"),
        twfe_pyfixest(unbalanced, "log_exports", SYN_X),
    )


def test_demean_drops_missing_rows_like_panelols(synthetic_panel):
    d = synthetic_panel.copy()
    d.loc[d.index[:14], "log_gdp_pc"] = np.nan  # the whole first city: still balanced
    _agree(
        twfe(d, "log_exports", SYN_X, "city_code", "year", method="panelols"),
        twfe(d, "log_exports", SYN_X, "city_code", "year", method="demean"),
    )


# ---------------------------------------------------------------------------------------------
# Event-study pre-trend test: size under a null DGP, power under a pre-trend
# ---------------------------------------------------------------------------------------------


def _staggered(rng, n_units=200, periods=10, pretrend=0.0):
    """Staggered adoption, dynamic effects after treatment; optional linear pre-trend of treated."""
    g = rng.choice([0, 5, 7, 9], size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    unit = np.repeat(np.arange(n_units), periods)
    t = np.tile(np.arange(1, periods + 1), n_units)
    gi = g[unit]
    e = t - gi
    tau = np.where((gi > 0) & (e >= 0), 0.5 + 0.1 * e, 0.0)
    trend = np.where(gi > 0, pretrend * np.minimum(e, 0), 0.0)  # diverges before treatment
    y = rng.normal(size=n_units)[unit] + 0.1 * t + tau + trend + rng.normal(size=len(t))
    return pd.DataFrame({"id": unit, "t": t, "g": gi, "y": y})


def _event_study_fast(df, window=(-4, 3)):
    """``event_study`` through the closed-form TWFE path (equal to PanelOLS to 1e-8, tested above;
    PanelOLS takes ~0.8 s per fit, too slow for a size simulation in the default suite)."""
    frame, periods = event_time_dummies(df, "g", "t", window, -1)
    names = [f"evt_{'m' if k < 0 else 'p'}{abs(k)}" for k in periods]
    fit = twfe(frame, "y", names, "id", "t", method="demean")
    return EventStudyResult(periods=periods, ref=-1, fit=fit, window=window)


def test_pretrend_wald_size_under_null():
    rng = np.random.default_rng(20240501)
    reps = 300
    pvals = np.array(
        [_event_study_fast(_staggered(rng)).pretrend_test()["p_value"] for _ in range(reps)]
    )
    rate = np.mean(pvals < 0.05)
    # nominal 5%; binomial sd over 300 reps is 1.3 points (200 clusters keep the chi2 honest)
    assert 0.02 <= rate <= 0.09, rate
    assert 0.4 < np.mean(pvals) < 0.6  # p-values roughly uniform


def test_pretrend_wald_rejects_under_pretrend():
    rng = np.random.default_rng(7)
    df = _staggered(rng, pretrend=0.15)
    res = event_study(df, "y", "g", "id", "t", window=(-4, 3))
    test = res.pretrend_test()
    assert test["df"] == 3  # leads -4, -3, -2 of the window; -1 is the reference
    assert (
        min(res.outside) < -4
    )  # fully dynamic: leads outside the window are estimated, not binned
    assert all(-4 <= p <= 3 for p in res.periods)
    assert test["p_value"] < 1e-3
    # the leads trace the simulated pre-trend: treated units start lower and catch up
    est = res.estimates
    assert est.loc[-4] < est.loc[-2] and est.loc[-4] < -0.2
    # and the fast route used for the size simulation gives the same test
    assert _event_study_fast(df).pretrend_test()["wald"] == pytest.approx(test["wald"], rel=1e-8)


def test_event_study_demean_method_equals_panelols(synthetic_panel):
    """``event_study(method="demean")`` (the interactive notebook's path) = the PanelOLS fit."""
    kw = {"window": (-5, 5), "controls": ["rail", "log_gdp_pc"], "cluster": "province"}
    args = (synthetic_panel, "log_exports", "pilot_year", "city_code", "year")
    ref, fast = event_study(*args, **kw), event_study(*args, **kw, method="demean")
    a, b = ref.tidy(), fast.tidy()
    np.testing.assert_allclose(a[["estimate", "std_error"]], b[["estimate", "std_error"]], atol=TOL)
    assert fast.pretrend.W == pytest.approx(ref.pretrend.W, rel=1e-8)
