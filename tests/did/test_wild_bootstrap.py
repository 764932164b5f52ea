"""Wild cluster bootstrap (WCR): agreement with the wildboottest package and pyfixest CRV1."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.did.results import TIDY_COLUMNS
from helpers.simulate import simulate_staggered_panel
from analysis.did.wild_bootstrap import draw_weights, wild_cluster_bootstrap

wbt = pytest.importorskip("wildboottest.wildboottest")


def _panel(G, drop=0.0, seed=3, n_units=62, effect=0.15):
    return simulate_staggered_panel(
        n_units=n_units,
        n_years=8,
        first_year=2000,
        n_clusters=G,
        cohorts=(2003, 2005),
        effect=effect,
        cluster_year_sd=0.3,
        drop_share=drop,
        seed=seed,
    )


def _wildboottest(df, controls, weights, seed, B=9999):
    """Reference: statsmodels OLS with explicit unit and year dummies, WCR11 (its defaults)."""
    X = _dummies(df, controls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wbt.wildboottest(
            sm.OLS(df["y"], X),
            B=B,
            cluster=df["province"].to_numpy(),
            param="treat",
            weights_type=weights,
            seed=seed,
            show=False,
            parallel=False,
        )  # numba parallel compile costs ~5 s per call
    return float(np.ravel(res["statistic"].iloc[0])[0]), float(res["p-value"].iloc[0])


# Rademacher is also checked against wildboottest in the default suite by the castle and
# full-enumeration tests; its synthetic-panel variant runs with the slow tests.
@pytest.mark.parametrize("weights", [pytest.param("rademacher", marks=pytest.mark.slow), "webb"])
def test_same_seed_reproduces_wildboottest_exactly(weights):
    """Same seed -> same weight draws -> same p-value, except for exact ties: a draw with the
    same weight in every cluster reproduces t exactly (decided by rounding in wildboottest)."""
    G, B = 14, 9999
    df = _panel(G=G, drop=0.1)
    t_ref, p_ref = _wildboottest(df, ["z"], weights, seed=7)
    ours = wild_cluster_bootstrap(
        df,
        "y",
        "unit",
        "year",
        "province",
        dname="treat",
        controls=["z"],
        weights=weights,
        seed=7,
        ci=False,
    )
    assert ours.t_stat == pytest.approx(t_ref, rel=1e-9)
    assert not ours.full_enumeration
    v = draw_weights(weights, G, B, np.random.default_rng(7))
    n_ties = int((np.ptp(v, axis=0) == 0).sum())
    assert abs(ours.p_value - p_ref) <= n_ties / B + 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_independent_seeds_agree_within_monte_carlo_error(weights):
    df = _panel(G=31, seed=5, n_units=93, effect=0.1)
    _, p_ref = _wildboottest(df, [], weights, seed=1)
    ours = wild_cluster_bootstrap(
        df, "y", "unit", "year", "province", dname="treat", weights=weights, seed=2, ci=False
    )
    B = 9999
    p = 0.5 * (p_ref + ours.p_value)
    assert 0.01 < p < 0.99  # a non-trivial p-value, so the comparison has power
    assert abs(ours.p_value - p_ref) < 3 * np.sqrt(2 * p * (1 - p) / B) + 0.002


def test_full_enumeration_matches_wildboottest():
    """G = 8 < log2(B): all 256 sign vectors, deterministic. The draws v = +/-1 reproduce t
    exactly (a tie decided by rounding in wildboottest; we count ties), hence the 2/256."""
    df = _panel(G=8, seed=3)
    t_ref, p_ref = _wildboottest(df, [], "rademacher", seed=1)
    ours = wild_cluster_bootstrap(df, "y", "unit", "year", "province", dname="treat", seed=99)
    assert ours.full_enumeration and ours.B == 256
    assert ours.t_stat == pytest.approx(t_ref, rel=1e-9)
    assert abs(ours.p_value - p_ref) <= 2 / 256 + 1e-12


def _dummies(df, controls):
    return pd.concat(
        [
            df[["treat", *controls]],
            pd.get_dummies(df["unit"], prefix="u", dtype=float),
            pd.get_dummies(df["year"], prefix="y", drop_first=True, dtype=float),
        ],
        axis=1,
    )


def test_crv1_se_matches_statsmodels_lsdv():
    """CRV1 with (N-1)/(N-k) * G/(G-1), k counting all dummies (= pyfixest k_fixef="full")."""
    df = _panel(G=12, drop=0.1, seed=8)
    ours = wild_cluster_bootstrap(
        df, "y", "unit", "year", "province", dname="treat", controls=["z"], B=99, seed=0, ci=False
    )
    fit = sm.OLS(df["y"], _dummies(df, ["z"])).fit(
        cov_type="cluster", cov_kwds={"groups": df["province"].to_numpy()}
    )
    assert ours.estimate == pytest.approx(fit.params["treat"], rel=1e-10)
    assert ours.std_error == pytest.approx(fit.bse["treat"], rel=1e-8)


def test_confidence_interval_inverts_the_test():
    df = _panel(G=16, seed=4, effect=0.3)
    kw = {
        "yname": "y",
        "idname": "unit",
        "tname": "year",
        "cluster": "province",
        "dname": "treat",
        "weights": "webb",
        "seed": 11,
        "B": 1999,
    }
    res = wild_cluster_bootstrap(df, **kw)
    lo, hi = res.conf_int
    assert lo < res.estimate < hi
    eps = 1e-3 * res.std_error
    for end, inside in [(lo + eps, True), (lo - eps, False), (hi - eps, True), (hi + eps, False)]:
        p = wild_cluster_bootstrap(df, h0=end, ci=False, **kw).p_value
        assert (p > 0.05) == inside
    # testing h0 = c equals testing 0 after subtracting c * D from y (same draws)
    shifted = df.assign(y=df["y"] - hi * df["treat"])
    p0 = wild_cluster_bootstrap(shifted, ci=False, **kw).p_value
    assert p0 == pytest.approx(wild_cluster_bootstrap(df, h0=hi, ci=False, **kw).p_value)
    tidy = res.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert (tidy.loc[0, "conf_low"], tidy.loc[0, "conf_high"]) == (lo, hi)


def test_gname_equals_dname_and_outputs():
    df = _panel(G=10, seed=6)
    a = wild_cluster_bootstrap(
        df, "y", "unit", "year", "province", dname="treat", B=999, weights="webb", seed=3
    )
    b = wild_cluster_bootstrap(
        df, "y", "unit", "year", "province", gname="cohort", B=999, weights="webb", seed=3
    )
    assert a.p_value == b.p_value and a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert "bootstrap p-value" in a.summary()
    assert a.plot().get_title().startswith("Wild")


@pytest.mark.slow
def test_size_under_null_with_few_clusters():
    rej = []
    for s in range(300):
        df = _panel(G=12, seed=1000 + s, effect=0.0)
        r = wild_cluster_bootstrap(
            df,
            "y",
            "unit",
            "year",
            "province",
            dname="treat",
            B=399,
            weights="webb",
            seed=s,
            ci=False,
        )
        rej.append(r.p_value <= 0.05)
    assert abs(np.mean(rej) - 0.05) < 0.04


def test_castle_matches_published_twfe_and_wildboottest(load_validation):
    """Castle doctrine (50 states): TWFE 0.0818116 (R bacondecomp) and wildboottest's p-value."""
    castle = load_validation("castle.csv")[["state", "year", "l_homicide", "post"]]
    ours = wild_cluster_bootstrap(
        castle, "l_homicide", "state", "year", "state", dname="post", seed=3, ci=False
    )
    assert ours.estimate == pytest.approx(0.0818116, abs=5e-7)
    X = pd.concat(
        [
            castle[["post"]],
            pd.get_dummies(castle["state"], dtype=float),
            pd.get_dummies(castle["year"], prefix="y", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wbt.wildboottest(
            sm.OLS(castle["l_homicide"], X),
            B=9999,
            param="post",
            cluster=pd.factorize(castle["state"], sort=True)[0],
            seed=3,
            show=False,
            parallel=False,
        )
    assert ours.t_stat == pytest.approx(float(np.ravel(ref["statistic"].iloc[0])[0]), rel=1e-9)
    assert ours.p_value == pytest.approx(float(ref["p-value"].iloc[0]), abs=1e-12)
