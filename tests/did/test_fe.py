"""The fixed-effects kernel (analysis.did.fe) against linearmodels PanelOLS and pyfixest: TWFE
coefficients, CRV1 standard errors and the whole covariance matrix to 1e-10, clustered by unit, by
a coarser group and by period, on balanced and unbalanced panels, with and without weights; plus the
small-sample rule (fixest's nested-FE count) and the rank rule (PanelOLS's ``drop_absorbed``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers.pyfixest_twfe import twfe_pyfixest
from helpers.simulate import simulate_staggered_panel
from linearmodels.panel import PanelOLS

from analysis.did.fe import (
    FIXEST,
    RANK_TOL,
    FEProjector,
    SmallSample,
    fit_within,
    independent_columns,
    independent_columns_factor,
)
from analysis.did.twfe import twfe_fwl

TOL = 1e-10
X = ["treat", "z", "w"]


def _panel(unbalanced: bool) -> pd.DataFrame:
    df = simulate_staggered_panel(
        n_units=90,
        n_years=9,
        first_year=2001,
        n_clusters=7,
        cohorts=(2004, 2006, 2008),
        effect=0.4,
        drop_share=0.15 if unbalanced else 0.0,
        seed=21,
    )
    rng = np.random.default_rng(4)
    df["treat"] = df["treat"].astype(float)
    df["w_unit"] = df["unit"].map(pd.Series(rng.integers(1, 4, df["unit"].nunique()).astype(float)))
    df["w_obs"] = rng.uniform(0.5, 2.0, len(df))  # varies within units: no closed form
    return df


def _panelols(df, xs, cluster, weights=None):
    """Reference: PanelOLS by explicit dummies (``use_lsdv``: exact, no iterative demeaning), raw
    clustered sandwich times fixest's CRV1 factor with the nested count done by hand."""
    p = df.set_index(["unit", "year"])
    wts = None if weights is None else p[weights]
    mod = PanelOLS(p["y"], p[xs], weights=wts, entity_effects=True, time_effects=True)
    clusters = pd.DataFrame({"c": pd.factorize(p.reset_index()[cluster])[0]}, index=p.index)
    fit = mod.fit(
        use_lsdv=True,
        cov_type="clustered",
        clusters=clusters,
        debiased=False,
        auto_df=False,
        count_effects=False,
        group_debias=False,
    )
    n, k, G = len(p), len(xs), clusters["c"].nunique()
    n_units, n_years = df["unit"].nunique(), df["year"].nunique()
    # fixest fixef.K = "nested": unit effects nested in unit and province clusters, year effects
    # nested in year clusters
    k_fe = {"unit": n_years, "province": n_years, "year": n_units}[cluster]
    return fit.params, fit.cov * G / (G - 1) * (n - 1) / (n - k - k_fe)


@pytest.mark.parametrize("weights", [None, "w_unit", "w_obs"])
@pytest.mark.parametrize("unbalanced", [False, True], ids=["balanced", "unbalanced"])
@pytest.mark.parametrize("cluster", ["unit", "province", "year"])
def test_kernel_equals_panelols(cluster, unbalanced, weights):
    df = _panel(unbalanced)
    fit = fit_within(df, "y", X, "unit", "year", cluster, weights)
    params, cov = _panelols(df, X, cluster, weights)
    assert fit.names == X and fit.nobs == len(df)
    np.testing.assert_allclose(fit.params, params.to_numpy(), rtol=TOL)
    np.testing.assert_allclose(fit.cov, cov.to_numpy(), rtol=TOL, atol=1e-16)
    np.testing.assert_allclose(fit.std_errors, np.sqrt(np.diag(cov)), rtol=TOL)
    # the closed form is used exactly when the panel is balanced and the weights unit-constant
    proj = FEProjector(
        pd.factorize(df["unit"])[0],
        pd.factorize(df["year"])[0],
        weights=None if weights is None else df[weights].to_numpy(),
    )
    assert proj.closed_form == (not unbalanced and weights != "w_obs")


@pytest.mark.parametrize("weights", [None, "w_obs"])
@pytest.mark.parametrize("unbalanced", [False, True], ids=["balanced", "unbalanced"])
@pytest.mark.parametrize("cluster", ["unit", "province", "year"])
def test_kernel_equals_pyfixest(cluster, unbalanced, weights):
    df = _panel(unbalanced)
    ours = fit_within(df, "y", X, "unit", "year", cluster, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = twfe_pyfixest(df, "y", X, "unit", "year", cluster, weights=weights, fixef_tol=1e-14)
    np.testing.assert_allclose(ours.params, pf.params.to_numpy(), rtol=TOL)
    np.testing.assert_allclose(ours.std_errors, pf.std_errors.to_numpy(), rtol=TOL)
    np.testing.assert_allclose(ours.cov, pf.cov.to_numpy(), rtol=TOL, atol=1e-16)


def test_twfe_fwl_is_the_kernel():
    df = _panel(True)
    res = twfe_fwl(df, "y", X, "unit", "year", "province")
    fit = fit_within(df, "y", X, "unit", "year", "province")
    np.testing.assert_array_equal(res.params.to_numpy(), fit.params)
    np.testing.assert_array_equal(res.cov.to_numpy(), fit.cov)
    assert (res.nobs, res.n_entities, res.n_clusters) == (fit.nobs, 90, 7)


def test_fixest_nested_fe_count():
    """K = k + T (units nested), k + N (periods nested), k + N + T - 1 (neither), as pyfixest."""
    n, k, G = 1000, 3, 20
    assert FIXEST.fe_df([100, 10], [True, False]) == 10
    assert FIXEST.fe_df([100, 10], [False, True]) == 100
    assert FIXEST.fe_df([100, 10], [False, False]) == 109
    assert SmallSample(fixef_k="full").fe_df([100, 10], [True, False]) == 109
    assert FIXEST.factor(n, k, G, [100, 10], [True, False]) == pytest.approx(
        G / (G - 1) * (n - 1) / (n - k - 10), rel=1e-15
    )
    panelols = SmallSample(fixef_k="full", cluster_adj=False, n_minus_one=False)
    assert panelols.factor(n, k, G, [100, 10], [True, False]) == pytest.approx(
        n / (n - k - 109), rel=1e-15
    )


# linearmodels PanelOLS ``fit()`` defaults (debiased, effects counted, no G/(G-1)) in the kernel's
# switches: the switches are general, this checks them against an independent implementation
PANELOLS_DEFAULT = SmallSample(fixef_k="full", cluster_adj=False, n_minus_one=False)


@pytest.mark.parametrize("cluster", ["unit", "province"])
def test_panelols_default_rule_equals_panelols_fit_defaults(cluster):
    """``PANELOLS_DEFAULT`` is PanelOLS ``fit()`` with its defaults."""
    df = _panel(False)
    p = df.set_index(["unit", "year"])
    clusters = pd.Series(pd.factorize(p.reset_index()[cluster])[0], index=p.index, name="c")
    ref = PanelOLS(p["y"], p[X], weights=p["w_unit"], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", clusters=clusters
    )
    ours = fit_within(df, "y", X, "unit", "year", cluster, "w_unit", ssc=PANELOLS_DEFAULT)
    np.testing.assert_allclose(ours.params, ref.params.to_numpy(), rtol=TOL)
    np.testing.assert_allclose(ours.cov, ref.cov.to_numpy(), rtol=TOL, atol=1e-16)


def test_rank_rule_drops_what_panelols_drops():
    df = _panel(True)
    rng = np.random.default_rng(0)
    df["level"] = df["unit"] * 0.5 + 3.0  # unit-constant: absorbed
    df["almost"] = df["z"] + 1e-3 * RANK_TOL * rng.standard_normal(len(df)) * df["z"].std()
    df["distinct"] = df["z"] + 1e3 * RANK_TOL * rng.standard_normal(len(df)) * df["z"].std()
    xs = ["treat", "level", "z", "almost", "distinct"]
    p = df.set_index(["unit", "year"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = PanelOLS(
            p["y"], p[xs], entity_effects=True, time_effects=True, drop_absorbed=True
        ).fit()
    fit = fit_within(df, "y", xs, "unit", "year")
    assert fit.names == list(ref.params.index) == ["treat", "z", "distinct"]
    np.testing.assert_allclose(fit.params, ref.params.to_numpy(), rtol=1e-8)


@pytest.mark.slow  # importing pyfixest's demean takes several seconds
@pytest.mark.parametrize("weights", [None, "w_obs"])
def test_alternating_projections_equal_exact_path(monkeypatch, weights):
    df = _panel(True)
    exact = fit_within(df, "y", X, "unit", "year", "province", weights)
    monkeypatch.setattr(FEProjector, "max_exact_times", 0)
    ap = fit_within(df, "y", X, "unit", "year", "province", weights)
    np.testing.assert_allclose(ap.params, exact.params, rtol=1e-9)
    np.testing.assert_allclose(ap.cov, exact.cov, rtol=1e-9)


def test_controls_projection_is_weighted_fwl():
    """M_W with controls equals the residual of a weighted LSDV regression on [dummies, controls]."""
    df = _panel(True)
    unit, time = pd.factorize(df["unit"])[0], pd.factorize(df["year"])[0]
    w = df["w_obs"].to_numpy()
    ctrl = df[["z", "w"]].to_numpy()
    proj = FEProjector(unit, time, controls=ctrl, weights=w)
    y = df["y"].to_numpy()
    dummies = np.column_stack(
        [
            unit[:, None] == np.arange(unit.max() + 1),
            (time[:, None] == np.arange(1, time.max() + 1)),
        ]
    ).astype(float)
    W = np.column_stack([dummies, ctrl])
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(W * sw[:, None], y * sw, rcond=None)[0]
    np.testing.assert_allclose(proj.residualize(y), y - W @ coef, rtol=0, atol=1e-10)


@pytest.mark.parametrize("weights", [None, "w_unit", "w_obs"])
@pytest.mark.parametrize("unbalanced", [False, True], ids=["balanced", "unbalanced"])
def test_factored_demeaning_equals_dense(unbalanced, weights):
    """``FEProjector.factored`` (M_FE x kept as x minus low-rank terms, for sparse x) equals
    ``demean_fe`` of the dense array, and its products equal the dense products."""
    from scipy import sparse

    df = _panel(unbalanced)
    unit, time = pd.factorize(df["unit"])[0], pd.factorize(df["year"])[0]
    w = None if weights is None else df[weights].to_numpy()
    proj = FEProjector(unit, time, weights=w)
    x = sparse.random(len(df), 12, density=0.1, random_state=3, format="csc")
    fac = proj.factored(x)
    dense = proj.demean_fe(x.toarray())
    np.testing.assert_allclose(fac.toarray(), dense, rtol=0, atol=1e-13)
    a = sparse.random(5, len(df), density=0.3, random_state=4, format="csr")
    np.testing.assert_allclose(fac.left(a), a @ dense, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fac.left(a.toarray()), a @ dense, rtol=0, atol=1e-12)
    b = np.linspace(-1.0, 1.0, 12)
    np.testing.assert_allclose(fac.matvec(b), dense @ b, rtol=0, atol=1e-12)


def test_rank_rule_factor_is_the_schur_rule():
    """The Cholesky-grown rank rule keeps the columns whose Schur complement on the kept columns
    before them passes the rule (one fresh solve per column), and its factor is the kept block's."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        k = int(rng.integers(2, 25))
        x = rng.standard_normal((120, k))
        for j in range(1, k):
            r = rng.random()
            if r < 0.15:
                x[:, j] = x[:, :j] @ rng.standard_normal(j)  # exactly dependent
            elif r < 0.2:
                x[:, j] = 0.0
            elif r < 0.25:
                x[:, j] = x[:, 0] + 1e-3 * RANK_TOL * rng.standard_normal(120)  # within the rule
        gram = x.T @ x
        norms = np.sqrt(np.diag(gram) + rng.random(k))
        kept: list[int] = []
        for j in range(k):
            resid2 = gram[j, j]
            if kept:
                g = gram[kept, j]
                resid2 -= g @ np.linalg.solve(gram[np.ix_(kept, kept)], g)
            if resid2 >= (RANK_TOL * norms[j]) ** 2:
                kept.append(j)
        got, chol = independent_columns_factor(gram, norms)
        assert got.tolist() == kept == independent_columns(gram, norms).tolist()
        block = gram[np.ix_(kept, kept)]
        np.testing.assert_allclose(chol @ chol.T, block, rtol=0, atol=1e-10 * np.abs(block).max())
        assert np.allclose(np.triu(chol, 1), 0.0)
