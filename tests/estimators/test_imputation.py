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

from analysis.estimators.imputation import imputation
from analysis.estimators.results import TIDY_COLUMNS


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
