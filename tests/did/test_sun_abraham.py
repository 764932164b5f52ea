"""Sun & Abraham (2021) IW estimator: validation against R `did` (exact identity on mpdta),
pyfixest's saturated regression, the single-cohort event study, and a simulated panel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analysis.did.results import TIDY_COLUMNS
from analysis.did.sun_abraham import sun_abraham


def _sim(seed: int = 0, n: int = 300, periods: int = 10, never: bool = True) -> pd.DataFrame:
    """Staggered panel whose effects grow with exposure at cohort-specific speeds."""
    rng = np.random.default_rng(seed)
    cohorts = [0, 3, 5, 7] if never else [3, 5, 7, 9]
    g = rng.choice(cohorts, size=n)
    slope = {0: 0.0, 3: 1.0, 5: 0.4, 7: 0.1, 9: 0.0}
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(np.arange(1, periods + 1), n),
            "g": np.repeat(g, periods),
        }
    )
    e = df.t - df.g
    df["tau"] = np.where((df.g > 0) & (e >= 0), (e + 1) * df.g.map(slope), 0.0)
    df["x"] = rng.normal(size=len(df))
    df["y"] = (
        rng.normal(size=n)[df.id]
        + 0.3 * df.t
        + df.tau
        + 0.2 * df.x
        + rng.normal(scale=0.1, size=len(df))
    )
    return df


@pytest.fixture(scope="module")
def mpdta(load_validation):
    return load_validation("mpdta.csv")


@pytest.fixture(scope="module")
def mpdta_sa(mpdta):
    return sun_abraham(mpdta, "lemp", "year", "countyreal", "first.treat")


def test_mpdta_matches_r_did_identity(mpdta_sa, load_validation):
    """With never-treated controls, no covariates and a balanced panel, SA's post-period CATT(g, e)
    equal Callaway-Sant'Anna ATT(g, t) (both compare to g-1 using never-treated units), the
    IW(e >= 0) equal `aggte(type="dynamic")`, and the obs-weighted ATT equals `aggte("simple")`.
    SEs differ only by the CRV1 small-sample factor (~0.35%), and both account for the estimated
    weights, so we hold them to 1%."""
    attgt = load_validation("ref_attgt.csv").query("scenario == 'mpdta_nev_dr'")
    attgt = attgt.drop_duplicates(["group", "t"])
    post = attgt[attgt.t >= attgt.group].assign(e=lambda d: d.t - d.group)
    got = mpdta_sa.catt.merge(post, left_on=["cohort", "event_time"], right_on=["group", "e"])
    assert len(got) == len(post) == 7
    np.testing.assert_allclose(got.estimate, got.att, atol=1e-6)
    np.testing.assert_allclose(got.std_error, got.se, rtol=0.01)

    agg = load_validation("ref_aggte.csv")
    agg.columns = ["scenario", "type", "e", "est", "se", "overall", "overall_se"]
    dyn = agg.query("scenario == 'mpdta_nev_dr' and type == 'dynamic'").astype({"e": float})
    dyn = dyn[dyn.e >= 0].set_index("e")
    td = mpdta_sa.tidy()
    ours = pd.Series(mpdta_sa.estimates, index=mpdta_sa.event_times.astype(float))
    ours_se = pd.Series(mpdta_sa.std_errors, index=mpdta_sa.event_times.astype(float))
    np.testing.assert_allclose(ours.loc[dyn.index], dyn.est.astype(float), atol=1e-6)
    np.testing.assert_allclose(ours_se.loc[dyn.index], dyn.se.astype(float), rtol=0.01)
    simple = agg.query("scenario == 'mpdta_nev_dr' and type == 'simple'").iloc[0]
    att = mpdta_sa.aggregate_att().iloc[0]
    assert att.estimate == pytest.approx(float(simple.overall), abs=1e-6)  # -0.0399513
    assert att.std_error == pytest.approx(float(simple.overall_se), rel=0.01)  # 0.0120340
    assert list(td.columns) == TIDY_COLUMNS
    # the weight-estimation term matters: fixed-weight SEs are smaller at e = 1 and closer
    # to R only after the correction
    k = int(np.flatnonzero(mpdta_sa.event_times == 1)[0])
    assert mpdta_sa.std_errors_fixed_weights[k] < mpdta_sa.std_errors[k]


def test_matches_pyfixest_saturated_regression(mpdta, mpdta_sa):
    """Same cohort x period coefficients and CRV1 SEs as pyfixest `i(rel, cohort)` saturation."""
    d = mpdta.rename(columns={"first.treat": "g"}).copy()
    d["rel"] = np.where(d.g > 0, d.year - d.g, -1)
    fit = pf.feols(
        "lemp ~ i(rel, g, ref=-1, ref2=0) | countyreal + year", data=d, vcov={"CRV1": "countyreal"}
    )
    ref = fit.tidy()
    names = [f"rel::{e}:g::{g}" for g, e in zip(mpdta_sa.catt.cohort, mpdta_sa.catt.event_time)]
    np.testing.assert_allclose(mpdta_sa.catt.estimate, ref.loc[names, "Estimate"], atol=1e-10)
    np.testing.assert_allclose(mpdta_sa.catt.std_error, ref.loc[names, "Std. Error"], rtol=1e-8)


def test_single_cohort_equals_standard_event_study():
    df = _sim(1)
    df = df[df.g.isin([0, 5])]
    sa = sun_abraham(df, "y", "t", "id", "g")
    d = df.assign(rel=np.where(df.g > 0, df.t - df.g, -1))
    fit = pf.feols("y ~ i(rel, ref=-1) | id + t", data=d, vcov={"CRV1": "id"}).tidy()
    names = [f"rel::{int(e)}" for e in sa.event_times]
    np.testing.assert_allclose(sa.estimates, fit.loc[names, "Estimate"], atol=1e-10)
    np.testing.assert_allclose(sa.std_errors, fit.loc[names, "Std. Error"], rtol=1e-8)


def test_heterogeneous_dynamics_sa_unbiased_twfe_biased():
    df = _sim(0)
    sa = sun_abraham(df, "y", "t", "id", "g", covariates=["x"])
    treated = df[df.g > 0].assign(e=lambda d: d.t - d.g)
    truth = treated.groupby("e").tau.mean().reindex(sa.event_times).to_numpy()
    z = np.abs(sa.estimates - truth) / sa.std_errors
    assert z.max() < 4.0
    d = df.assign(rel=np.where(df.g > 0, df.t - df.g, -1))
    twfe = pf.feols("y ~ i(rel, ref=-1) + x | id + t", data=d, vcov={"CRV1": "id"}).tidy()
    tw = twfe.loc[[f"rel::{int(e)}" for e in sa.event_times], "Estimate"].to_numpy()
    assert np.abs(tw - truth).max() > 10 * np.abs(sa.estimates - truth).max()
    assert abs(tw[sa.event_times == -3][0]) > 0.3  # spurious pre-trend from contamination
    post = treated[treated.e >= 0]
    assert sa.att == pytest.approx(post.tau.mean(), abs=4 * sa.att_se)


def test_last_treated_control_window_and_outputs():
    df = _sim(2, never=False)
    res = sun_abraham(df, "y", "t", "id", "g", control="last", min_e=-3, max_e=2)
    assert res.event_times.min() >= -3 and res.event_times.max() <= 2
    truth = (
        df[(df.g > 0) & (df.g < 9) & (df.t < 9)]
        .assign(e=lambda d: d.t - d.g)
        .groupby("e")
        .tau.mean()
        .reindex(res.event_times)
        .to_numpy()
    )
    assert np.all(np.abs(res.estimates - truth) < 4 * res.std_errors)
    assert set(res.catt.cohort) == {3, 5, 7}
    with pytest.raises(ValueError):
        sun_abraham(df, "y", "t", "id", "g", control="never")
    assert "Sun & Abraham" in res.summary()
    ax = res.plot()
    assert ax.get_xlabel()
    w = res.weights.groupby("event_time").weight.sum()
    np.testing.assert_allclose(w, 1.0)


def _same_fit(a, b, atol=1e-10):
    np.testing.assert_array_equal(a.event_times, b.event_times)
    np.testing.assert_allclose(a.estimates, b.estimates, rtol=0, atol=atol)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=0, atol=atol)
    np.testing.assert_allclose(a.vcov_catt, b.vcov_catt, rtol=0, atol=atol)
    assert (a.att, a.att_se) == pytest.approx((b.att, b.att_se), abs=atol)
    assert a.n_obs == b.n_obs and a.n_clusters == b.n_clusters
    assert (a.pretrend_test() is None) == (b.pretrend_test() is None)


def test_engine_is_the_kernel():
    df = _sim(3)
    with pytest.raises(ValueError, match="engine"):
        sun_abraham(df, "y", "t", "id", "g", engine="R")


def _reference_sa(df, covariates, cluster):
    """The estimator written out densely, as it was before the factorised fast path: explicit
    cohort x period dummy columns, two-way demeaning by projecting on explicit unit and period
    dummies, OLS, fixest's CRV1 (unit effects nested in the clusters: K = cells + covariates +
    periods), and the IW aggregation with the delta-method weight term. Never-treated controls,
    reference period -1, every cell identified."""
    d = df.reset_index(drop=True)
    e = (d.t - d.g).where(d.g > 0)
    cells = sorted({(int(g), int(k)) for g, k in zip(d.g[d.g > 0], e[d.g > 0]) if k != -1})
    X = np.column_stack([((d.g == g) & (e == k)).to_numpy(float) for g, k in cells])
    Z = np.column_stack([X, d[covariates].to_numpy(float)])
    D = np.column_stack(
        [pd.get_dummies(d.id).to_numpy(float), pd.get_dummies(d.t).to_numpy(float)[:, 1:]]
    )
    M = np.eye(len(d)) - D @ np.linalg.pinv(D)
    Zt, yt = M @ Z, M @ d.y.to_numpy(float)
    bread = np.linalg.inv(Zt.T @ Zt)
    beta = bread @ Zt.T @ yt
    u = yt - Zt @ beta
    cl = pd.factorize(d[cluster])[0]
    G = cl.max() + 1
    scores = np.vstack([(Zt[cl == c] * u[cl == c, None]).sum(axis=0) for c in range(G)])
    n, k, T = len(d), Z.shape[1], d.t.nunique()
    V = (n - 1) / (n - k - T) * G / (G - 1) * bread @ scores.T @ scores @ bread
    psi = scores @ bread
    K = len(cells)
    counts = np.vstack([X[cl == c].sum(axis=0) for c in range(G)])
    ev = np.array(sorted({k for _, k in cells}))
    key_e = np.array([k for _, k in cells])

    def aggregate(idx):
        a = counts[:, idx]
        w = a.sum(axis=0) / a.sum()
        est = w @ beta[idx]
        var_fixed = w @ V[np.ix_(idx, idx)] @ w
        ib = psi[:, idx] @ w
        iw = (a @ beta[idx] - est * a.sum(axis=1)) / a.sum()
        var = var_fixed + G / (G - 1) * (2 * ib @ iw + iw @ iw)
        return est, np.sqrt(var), np.sqrt(var_fixed)

    by_e = np.array([aggregate(np.flatnonzero(key_e == k)) for k in ev])
    return {
        "event_times": ev,
        "iw": by_e,
        "att": aggregate(np.flatnonzero(key_e >= 0)),
        "catt": beta[:K],
        "vcov": V[:K, :K],
        "cells": cells,
    }


@pytest.mark.parametrize("cluster", ["id", "st"])
def test_matches_dense_reference_unbalanced_with_covariates(cluster):
    """The factorised fast path (no dense N x cells array, Cholesky rank rule and bread) equals the
    dense computation to 1e-10 relative, on an unbalanced panel with cohorts of unequal sizes, two
    covariates, and clusters by unit or by a coarser group: CATTs, their covariance, IW(e) with
    both SEs, and the overall ATT with both SEs."""
    rng = np.random.default_rng(11)
    df = _sim(5, n=160, periods=9)
    df = df[df.g.isin([0, 3, 5, 7]) & ~((df.g == 7) & (df.id % 3 > 0))]  # cohort 7 a third as big
    df = df[rng.random(len(df)) > 0.12].copy()  # unbalanced
    df["x2"] = rng.normal(size=len(df)) + 0.1 * df.t
    df["st"] = df.id % 13
    res = sun_abraham(df, "y", "t", "id", "g", covariates=["x", "x2"], cluster=cluster)
    ref = _reference_sa(df, ["x", "x2"], cluster)

    def close(got, want):
        got, want = np.asarray(got, float), np.asarray(want, float)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())

    assert list(zip(res.catt.cohort, res.catt.event_time)) == ref["cells"]
    np.testing.assert_array_equal(res.event_times, ref["event_times"])
    close(res.catt.estimate, ref["catt"])
    close(res.vcov_catt, ref["vcov"])
    close(res.catt.std_error, np.sqrt(np.diag(ref["vcov"])))
    close(res.estimates, ref["iw"][:, 0])
    close(res.std_errors, ref["iw"][:, 1])
    close(res.std_errors_fixed_weights, ref["iw"][:, 2])
    close([res.att, res.att_se, res.att_se_fixed_weights], ref["att"])
    assert res.n_clusters == df[cluster].nunique()


def test_alternating_projections_path_equals_factorised(monkeypatch):
    """Panels with more periods than ``FEProjector.max_exact_times`` demean the dense indicator
    array by alternating projections (no factorisation): same numbers as the factorised path."""
    from analysis.did.fe import FEProjector

    rng = np.random.default_rng(3)
    df = _sim(6, n=120, periods=8)
    df = df[rng.random(len(df)) > 0.1]
    fast = sun_abraham(df, "y", "t", "id", "g", covariates=["x"])
    monkeypatch.setattr(FEProjector, "max_exact_times", 0)
    ap = sun_abraham(df, "y", "t", "id", "g", covariates=["x"])
    _same_fit(ap, fast, atol=1e-9)
    np.testing.assert_allclose(
        ap.std_errors_fixed_weights, fast.std_errors_fixed_weights, atol=1e-9
    )
