"""BJS (2024) imputation estimator: validated against pyfixest's did2s (itself tested against R
did2s), whose point estimates coincide with the imputation estimator and whose GMM variance equals
the BJS variance when the auxiliary model is the second-stage regression."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analysis.did.imputation import imputation, imputation_many
from analysis.did.results import TIDY_COLUMNS


@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    """R did2s' `df_het` (shipped with pyfixest), 400 of its 1500 units to stay fast."""
    d = pd.read_csv(Path(pf.__file__).parent / "did" / "data" / "df_het.csv")
    d = d[d.unit <= 400].copy()
    d["D"] = ((d.g > 0) & (d.year >= d.g)).astype(int)
    d["h"] = np.where(d.D == 1, d.year - d.g, -1000)
    return d


@pytest.fixture(scope="module")
def did2s_fits(df_het):
    kw = {"first_stage": "~ 0 | unit + year", "treatment": "D", "cluster": "unit"}
    static = pf.did2s(df_het, "dep_var", second_stage="~ i(D)", **kw).tidy()
    dynamic = pf.did2s(df_het, "dep_var", second_stage="~ i(h, ref=-1000)", **kw).tidy()
    return static, dynamic


def _sim(seed=0, n=240, periods=8, anticipation=0.0):
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 5, 7], size=n)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(np.arange(1, periods + 1), n),
            "g": np.repeat(g, periods),
        }
    )
    e = df.t - df.g
    # early cohorts have larger, growing effects: static TWFE is biased
    df["tau"] = np.where((df.g > 0) & (e >= 0), (e + 1) * (8 - df.g) / 4, 0.0)
    lead = np.where((df.g > 0) & (e == -1), anticipation, 0.0)
    df["y"] = rng.normal(size=n)[df.id] + 0.2 * df.t + df.tau + lead + rng.normal(size=len(df))
    return df


def test_point_estimates_equal_did2s(df_het, did2s_fits):
    static, dynamic = did2s_fits
    res = imputation(df_het, "dep_var", "year", "unit", "g")
    assert res.estimates[0] == pytest.approx(static.loc["D::True", "Estimate"], abs=1e-8)
    names = [f"h::{int(h)}" for h in res.horizons]
    np.testing.assert_allclose(res.estimates[1:], dynamic.loc[names, "Estimate"], atol=1e-8)
    assert list(res.tidy().columns) == TIDY_COLUMNS


def test_variance_equals_gardner_gmm_when_auxiliary_model_matches(df_het, did2s_fits):
    static, dynamic = did2s_fits
    by_h = imputation(df_het, "dep_var", "year", "unit", "g", avg_effects_by=("horizon",))
    names = [f"h::{int(h)}" for h in by_h.horizons]
    np.testing.assert_allclose(by_h.std_errors[1:], dynamic.loc[names, "Std. Error"], rtol=1e-6)
    pooled = imputation(df_het, "dep_var", "year", "unit", "g", horizons=None, avg_effects_by=())
    assert pooled.std_errors[0] == pytest.approx(static.loc["D::True", "Std. Error"], rel=1e-6)


def test_default_bjs_se_close_to_did2s(df_het, did2s_fits):
    """Default auxiliary model (cohort x horizon) absorbs effect heterogeneity across cohorts, so
    BJS SEs are at most did2s' and close to them (measured ratios 0.85-1.00 here)."""
    static, dynamic = did2s_fits
    res = imputation(df_het, "dep_var", "year", "unit", "g")
    names = [f"h::{int(h)}" for h in res.horizons]
    ratio = np.r_[
        res.std_errors[0] / static.loc["D::True", "Std. Error"],
        res.std_errors[1:] / dynamic.loc[names, "Std. Error"].to_numpy(),
    ]
    assert np.all(ratio < 1.0 + 1e-8)
    assert np.all(ratio > 0.7)


def test_heterogeneous_effects_recovered_twfe_biased():
    df = _sim(0)
    res = imputation(df, "y", "t", "id", "g")
    treated = df[(df.g > 0) & (df.t >= df.g)]
    assert abs(res.att - treated.tau.mean()) < 3 * res.std_errors[0]
    truth_h = treated.assign(h=treated.t - treated.g).groupby("h").tau.mean()
    z = (res.estimates[1:] - truth_h.loc[res.horizons].to_numpy()) / res.std_errors[1:]
    assert np.abs(z).max() < 4
    twfe = pf.feols("y ~ D | id + t", data=df.assign(D=((df.g > 0) & (df.t >= df.g)) * 1.0))
    assert abs(twfe.coef().iloc[0] - treated.tau.mean()) > 10 * abs(res.att - treated.tau.mean())


def test_pretrend_test_size_and_power():
    null = imputation(_sim(1), "y", "t", "id", "g", horizons=None, pretrends=3)
    assert null.pretrend.df == 3 and null.pretrend.p_value > 0.05
    antic = imputation(_sim(1, anticipation=1.0), "y", "t", "id", "g", pretrends=3)
    assert antic.pretrend.p_value < 1e-4
    lead1 = antic.pretrend.leads.set_index("term").loc["lead::1", "estimate"]
    assert lead1 == pytest.approx(1.0, abs=0.35)
    assert "Pre-trend" in antic.summary()
    assert antic.plot().get_xlabel()


def test_mpdta_runs_and_drops_unidentified(load_validation):
    df = load_validation("mpdta.csv")
    with pytest.warns(UserWarning, match="collinear"):  # lpop is time-invariant
        res = imputation(df, "lemp", "year", "countyreal", "first.treat", covariates=["lpop"])
    assert res.n_obs == 2500 and res.horizons.tolist() == [0, 1, 2, 3]
    df = df.assign(x=np.random.default_rng(0).normal(size=len(df)))
    res_x = imputation(df, "lemp", "year", "countyreal", "first.treat", covariates=["x", "lpop"])
    assert res_x.att != res.att and abs(res_x.att - res.att) < 0.01
    assert -0.1 < res.att < 0.0
    always = df.assign(**{"first.treat": np.where(df.countyreal == 8001, 2003, df["first.treat"])})
    with pytest.warns(UserWarning, match="not identified"):
        res2 = imputation(always, "lemp", "year", "countyreal", "first.treat")
    assert res2.n_obs == 2495


# ---- leave-out auxiliary model (BJS 2024, App. A.6) ---------------------------------------------
def _small_cohort_panel(seed=0, periods=7):
    """Cohorts of 1, 2 and 3 units next to big ones; clusters = pairs of units (id // 2)."""
    rng = np.random.default_rng(seed)
    g = np.r_[2, 4, 4, 5, 5, 5, np.repeat([3, 6, 0], [15, 15, 20])]
    n = len(g)
    df = pd.DataFrame(
        {"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n)}
    )
    df["g"] = g[df.id]
    df["cl"] = df.id // 2
    df["x"] = rng.normal(size=len(df))
    e = df.t - df.g
    df["y"] = (
        rng.normal(size=n)[df.id]
        + 0.3 * df.t
        + 0.5 * df.x
        + np.where((df.g > 0) & (e >= 0), 1 + e + 0.2 * df.g, 0.0)
        + rng.normal(size=len(df))
    )
    return df


def _brute_force_se(df, leaveout, by=("cohort", "horizon")):
    """Dense, loop-based BJS variance: imputation weights from the explicit OLS projection and
    tau_bar per observation and estimand, with the fallback chain cell -> horizon -> all."""
    D = ((df.g > 0) & (df.t >= df.g)).to_numpy()
    Z = np.column_stack(
        [
            pd.get_dummies(df.id).to_numpy(float),
            pd.get_dummies(df.t).to_numpy(float)[:, 1:],
            df.x.to_numpy(),
        ]
    )
    y = df.y.to_numpy()
    Z0, Z1 = Z[~D], Z[D]
    gamma = np.linalg.lstsq(Z0, y[~D], rcond=None)[0]
    resid0, tau = y[~D] - Z0 @ gamma, y[D] - Z1 @ gamma
    tr = df[D].assign(cohort=lambda d: d.g, horizon=lambda d: d.t - d.g).reset_index(drop=True)
    hs = np.sort(tr.horizon.unique())
    W1 = np.column_stack(
        [np.full(len(tr), 1 / len(tr))] + [(tr.horizon == h) / (tr.horizon == h).sum() for h in hs]
    )
    V0 = -Z0 @ np.linalg.solve(Z0.T @ Z0, Z1.T @ W1)
    levels = [list(by), ["horizon"], []] if leaveout else [list(by)]
    eps = np.zeros_like(W1)
    for j in range(W1.shape[1]):
        w = W1[:, j]
        for i in range(len(tr)):
            tau_bar = None
            for lev in levels:
                same = np.ones(len(tr), bool)
                for col in lev:
                    same &= (tr[col] == tr.loc[i, col]).to_numpy()
                m = same & (w != 0) & ((tr.cl != tr.loc[i, "cl"]).to_numpy() if leaveout else True)
                if m.any():
                    tau_bar = np.sum(w[m] ** 2 * tau[m]) / np.sum(w[m] ** 2)
                    break
            if tau_bar is None:  # nothing outside the own cluster: plain cell mean
                same = np.ones(len(tr), bool)
                for col in by:
                    same &= (tr[col] == tr.loc[i, col]).to_numpy()
                m = same & (w != 0)
                tau_bar = np.sum(w[m] ** 2 * tau[m]) / np.sum(w[m] ** 2) if m.any() else 0.0
            eps[i, j] = tau[i] - tau_bar
    cl = df.cl.to_numpy()
    S = np.array(
        [
            (W1 * eps)[tr.cl.to_numpy() == c].sum(0) + (V0 * resid0[:, None])[cl[~D] == c].sum(0)
            for c in np.unique(cl)
        ]
    )
    return np.sqrt(np.diag(S.T @ S))


@pytest.mark.parametrize("leaveout", [False, True])
def test_variance_equals_brute_force(leaveout):
    df = _small_cohort_panel(periods=6).query("id < 8 or id >= 46")  # tiny; cohort 2 is one unit
    res = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster="cl", leaveout=leaveout)
    np.testing.assert_allclose(
        res.std_errors, _brute_force_se(df, leaveout), rtol=1e-10, atol=1e-12
    )


def test_leaveout_false_is_the_default_and_keeps_point_estimates():
    df = _small_cohort_panel()
    base = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster="cl")
    off = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster="cl", leaveout=False)
    lo = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster="cl", leaveout=True)
    np.testing.assert_array_equal(base.vcov, off.vcov)
    np.testing.assert_array_equal(base.estimates, lo.estimates)  # only the variance changes


@pytest.mark.parametrize("cluster", [None, "cl"])
def test_leaveout_se_not_smaller_with_small_cohorts(cluster):
    """Small cells no longer absorb their own noise, so no SE shrinks (measured ratios 1.00-1.2)."""
    df = _small_cohort_panel(seed=1)
    plain = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster=cluster)
    lo = imputation(df, "y", "t", "id", "g", covariates=["x"], cluster=cluster, leaveout=True)
    ratio = lo.std_errors / plain.std_errors
    assert np.all(ratio >= 1.0 - 1e-12), ratio
    assert ratio.max() > 1.01, ratio  # and the small cohorts make a visible difference


@pytest.mark.parametrize("cluster", [None, "grp"])
def test_event_vcov_joins_the_test1_leads_and_the_horizons(cluster):
    """The joint covariance of leads and horizons: its lead block is Test 1's CRV1 covariance,
    its horizon block the BJS variance, the lead scores reproduce the test's coefficients (FWL),
    and the cross terms are those of the cluster sums (brute force over the scores)."""
    df = _sim(3).assign(grp=lambda d: d["id"] % 30)
    fit = imputation(df, "y", "t", "id", "g", horizons=True, pretrends=3, cluster=cluster)
    V = fit.event_vcov()
    assert list(V.index) == [-3, -2, -1, *map(int, fit.horizons)]
    lead_se = fit.pretrend.leads.set_index("term")["std_error"]
    for k in (1, 2, 3):
        # pyfixest demeans iteratively (tolerance 1e-8): agreement to ~1e-8, not to rounding
        assert V.loc[-k, -k] == pytest.approx(lead_se[f"lead::{k}"] ** 2, rel=1e-6)
    h = [int(x) for x in fit.horizons]
    np.testing.assert_allclose(V.loc[h, h].to_numpy(), fit.vcov[1:, 1:], rtol=1e-10, atol=1e-14)
    S = pd.concat([fit.lead_scores, fit.scores.drop(columns="ATT")], axis=1).to_numpy()
    np.testing.assert_allclose(
        V.loc[[-3, -2, -1], h].to_numpy(), (S.T @ S)[[2, 1, 0]][:, 3:], rtol=1e-10, atol=1e-14
    )
    assert np.abs(V.loc[[-3, -2, -1], h].to_numpy()).max() > 0  # the untreated rows both use
    assert np.linalg.eigvalsh(V.to_numpy()).min() > -1e-12


def test_event_vcov_without_leads_has_the_horizons_only():
    fit = imputation(_sim(3), "y", "t", "id", "g", horizons=True)
    assert fit.lead_scores is None
    V = fit.event_vcov()
    assert min(V.index) == 0
    np.testing.assert_allclose(V.to_numpy(), fit.vcov[1:, 1:], rtol=1e-12)


# --- issue 21: many outcomes on one design (power simulations) --------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"leaveout": True},
        {"leaveout": True, "cluster": "cl", "horizons": True},
        {"avg_effects_by": ("horizon",), "horizons": [0, 2]},
        {"covariates": ["x"], "leaveout": True, "avg_effects_by": ()},
    ],
)
def test_imputation_many_equals_one_call_per_outcome(options):
    """Every estimate and SE of ``imputation_many`` is the number of an ``imputation`` call on
    that column (the first stage's design and weights are built once; the per-outcome steps are
    the same operations): identical, not only close."""
    df = _small_cohort_panel(seed=3)
    rng = np.random.default_rng(4)
    df["x"] = rng.standard_normal(len(df)) + 0.1 * df["t"]
    df["cl"] = df["id"] % 9
    df = df.sample(frac=1.0, random_state=5).reset_index(drop=True)  # rows in any order
    Y = df["y"].to_numpy()[:, None] + rng.standard_normal((len(df), 5)) * [0, 1, 2, 0.5, 3]
    opts = {"horizons": None, **options}
    est, se = imputation_many(df, Y, "t", "id", "g", **opts)
    for j in range(Y.shape[1]):
        fit = imputation(df.assign(yy=Y[:, j]), "yy", "t", "id", "g", **opts)
        np.testing.assert_array_equal(est[j], fit.estimates)
        np.testing.assert_array_equal(se[j], fit.std_errors)


def test_imputation_many_with_a_blank_outcome_calls_once_per_column():
    df = _small_cohort_panel(seed=1)
    Y = np.column_stack([df["y"], df["y"] * 2.0])
    Y[3, 1] = np.nan  # that column's call drops the row
    est, se = imputation_many(df, Y, "t", "id", "g", leaveout=True)
    for j in range(2):
        fit = imputation(df.assign(yy=Y[:, j]), "yy", "t", "id", "g", horizons=None,
                         leaveout=True)  # fmt: skip
        np.testing.assert_array_equal(est[j], fit.estimates)
        np.testing.assert_array_equal(se[j], fit.std_errors)
