"""Wild cluster bootstrap (WCR): agreement with the wildboottest package and pyfixest CRV1."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from helpers.simulate import simulate_staggered_panel
from scipy import stats

from analysis.did.results import TIDY_COLUMNS
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
    assert "bootstrap p = " in a.summary() or "bootstrap p < " in a.summary()
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


# ============================================================ BJS imputation ATT (restricted WCR)
from analysis.did.imputation import imputation
from analysis.did.wild_bootstrap import (
    ImputationLinearMap,
    imputation_wild_bootstrap,
)

BJS_CASES = [
    {"drop": 0.0, "cov": [], "cluster": None},
    {"drop": 0.0, "cov": ["z"], "cluster": "province"},
    {"drop": 0.12, "cov": [], "cluster": "province"},
    {"drop": 0.12, "cov": ["z", "w"], "cluster": None},
]


@pytest.mark.parametrize("case", BJS_CASES, ids=["bal", "bal-cov-prov", "unbal-prov", "unbal-cov"])
def test_linear_weights_reproduce_imputation_att_and_se(case):
    """w'y is imputation()'s ATT and the score map gives its conservative s.e. (1e-10)."""
    df = simulate_staggered_panel(
        n_units=90,
        n_years=9,
        first_year=2000,
        n_clusters=9,
        cohorts=(2003, 2005, 2007),
        effect=0.3,
        drop_share=case["drop"],
        seed=21,
    )
    kw = {"covariates": case["cov"], "cluster": case["cluster"]}
    ref = imputation(df, "y", "year", "unit", "cohort", horizons=[0, 3], **kw)
    res = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", B=99, seed=0, ci=False, **kw)
    assert res.estimate == pytest.approx(ref.estimates[0], abs=1e-10)
    assert res.std_error == pytest.approx(ref.std_errors[0], abs=1e-10)
    for j, h in [(1, 0), (2, 3)]:
        rh = imputation_wild_bootstrap(
            df, "y", "year", "unit", "cohort", horizon=h, B=99, seed=0, ci=False, **kw
        )
        assert rh.estimate == pytest.approx(ref.estimates[j], abs=1e-10)
        assert rh.std_error == pytest.approx(ref.std_errors[j], abs=1e-10)


@pytest.mark.parametrize("cov", [[], ["lpop"]])
def test_linear_weights_reproduce_imputation_on_mpdta(load_validation, cov):
    mp = load_validation("mpdta.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lpop is time-invariant: dropped by both (absorbed)
        ref = imputation(mp, "lemp", "year", "countyreal", "first.treat", covariates=cov)
        res = imputation_wild_bootstrap(
            mp, "lemp", "year", "countyreal", "first.treat", covariates=cov, B=999, seed=1
        )
    assert res.estimate == pytest.approx(ref.att, abs=1e-10)
    assert res.std_error == pytest.approx(ref.std_errors[0], abs=1e-10)
    assert res.n_clusters == 500 and res.n_treated_clusters == 191
    lo, hi = res.conf_int
    assert lo < res.estimate < hi < 0  # the minimum-wage effect on teen employment is negative


def test_weights_are_orthogonal_to_the_fixed_effects_and_covariates():
    df = simulate_staggered_panel(
        n_units=50, n_years=7, first_year=2000, cohorts=(2003, 2005), drop_share=0.1, seed=5
    )
    treated = df["treat"].to_numpy() > 0
    lmap = ImputationLinearMap(df["unit"], df["year"], treated, df[["z"]].to_numpy())
    v = lmap.weights
    assert v[treated].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(df.assign(v=v).groupby("unit")["v"].sum(), 0, atol=1e-12)
    np.testing.assert_allclose(df.assign(v=v).groupby("year")["v"].sum(), 0, atol=1e-12)
    assert v @ df["z"].to_numpy() == pytest.approx(0, abs=1e-12)


def _bjs_panel(seed, effect=0.0, n_clusters=10):
    return simulate_staggered_panel(
        n_units=50,
        n_years=6,
        first_year=2000,
        n_clusters=n_clusters,
        cohorts=(2002, 2004),
        effect=effect,
        cluster_sd=0.0,
        cluster_year_sd=0.3,
        seed=seed,
    )


def test_bjs_bootstrap_pvalues_uniform_under_null():
    """Small Monte Carlo: no effect, cluster-year shocks, 10 province clusters, Webb weights."""
    rng = np.random.default_rng(77)
    p = []
    for _ in range(200):
        df = _bjs_panel(int(rng.integers(2**31)))
        r = imputation_wild_bootstrap(
            df,
            "y",
            "year",
            "unit",
            "cohort",
            cluster="province",
            B=199,
            weights="webb",
            seed=int(rng.integers(2**31)),
            ci=False,
        )
        p.append(r.p_value)
    p = np.array(p)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.03 <= np.mean(p <= 0.10) <= 0.19


def test_bjs_bootstrap_deterministic_and_inverts_the_test():
    df = _bjs_panel(3, effect=0.5)
    kw = {"cluster": "province", "B": 999, "weights": "webb", "seed": 5}
    a = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", **kw)
    b = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", **kw)
    c = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", **{**kw, "seed": 6})
    np.testing.assert_array_equal(a.t_boot, b.t_boot)
    assert (a.p_value, a.conf_int) == (b.p_value, b.conf_int)
    assert not np.array_equal(a.t_boot, c.t_boot)
    lo, hi = a.conf_int
    assert lo < a.estimate < hi
    eps = 1e-3 * a.std_error
    for end, inside in [(lo + eps, True), (lo - eps, False), (hi - eps, True), (hi + eps, False)]:
        p = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", h0=end, ci=False, **kw)
        assert (p.p_value > 0.05) == inside
    # H0: ATT = c on y is H0: ATT = 0 on y - c * D (same draws, same t*)
    shifted = df.assign(y=df["y"] - hi * df["treat"])
    s0 = imputation_wild_bootstrap(shifted, "y", "year", "unit", "cohort", ci=False, **kw)
    sh = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", h0=hi, ci=False, **kw)
    assert s0.estimate == pytest.approx(a.estimate - hi, abs=1e-12)
    np.testing.assert_allclose(s0.t_boot, sh.t_boot, rtol=1e-9)
    assert s0.p_value == sh.p_value


def test_bjs_bootstrap_detects_effect_and_outputs():
    df = _bjs_panel(4, effect=2.0, n_clusters=12)
    r = imputation_wild_bootstrap(
        df, "y", "year", "unit", "cohort", cluster="province", B=999, seed=1
    )
    assert r.p_value < 0.01 and r.conf_int[0] > 0
    assert r.n_clusters == 12 and 1 <= r.n_treated_clusters <= 12
    tidy = r.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert tidy.loc[0, "std_error"] == r.std_error
    assert "BJS imputation" in r.summary()


def test_bootstrap_t_equals_refitting_imputation_on_each_bootstrap_sample():
    """The algebra is the definition: y* = restricted fit + v_g * restricted residual, then the
    full imputation() (estimate and conservative s.e.) on y*; here for 5 draws."""
    from analysis.did.fe import FEProjector

    df = _bjs_panel(11, effect=0.4)
    res = imputation_wild_bootstrap(
        df,
        "y",
        "year",
        "unit",
        "cohort",
        covariates=["z"],
        cluster="province",
        B=5,
        weights="webb",
        seed=2,
        ci=False,
        full_enumeration=False,
    )
    unit = pd.factorize(df["unit"], sort=True)[0]
    year = pd.factorize(df["year"], sort=True)[0]
    resid = FEProjector(unit, year, df[["z"]].to_numpy()).residualize(df["y"].to_numpy())
    fitted = df["y"].to_numpy() - resid
    cl = pd.factorize(df["province"], sort=True)[0]
    V = draw_weights("webb", cl.max() + 1, 5, np.random.default_rng(2))
    for b in range(5):
        r = imputation(
            df.assign(y=fitted + V[cl, b] * resid),
            "y",
            "year",
            "unit",
            "cohort",
            covariates=["z"],
            horizons=False,
            cluster="province",
        )
        assert res.t_boot[b] == pytest.approx(r.estimates[0] / r.std_errors[0], abs=1e-9)
