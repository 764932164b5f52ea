"""Callaway & Sant'Anna (2021) ATT(g,t): validation against R `did` reference numbers (mpdta).

Reference files (R did 2.x, att_gt(..., bstrap=FALSE, cband=FALSE) + aggte): ref_attgt.csv,
ref_aggte.csv, ref_pretest.csv; the `sim_nev_dr` rows belong to a data set we do not have and are
skipped. Tolerances are tighter than the 1e-6 required: we match R to ~1e-15.

Known, explained difference: R prints the pre-test p-value rounded to 5 decimals
(`Wpval <- round(1 - pchisq(W, q), 5)` in did::att_gt), so the p-value is compared to that rounding
(|p - p_R| <= 5e-6 and round(p, 5) == p_R), while W is compared to 1e-8.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.did import callaway_santanna as cs
from analysis.did import drdid
from analysis.did.callaway_santanna import att_gt, multiplier_bootstrap

ATOL = 1e-8  # measured agreement with R is ~1e-15; requirement is 1e-6
KW = {
    "yname": "lemp",
    "tname": "year",
    "idname": "countyreal",
    "gname": "first.treat",
    "progress": False,
}
SCENARIOS = {
    "mpdta_nev_dr": {},
    "mpdta_nyt_dr": {"control_group": "notyettreated"},
    "mpdta_nev_reg_cov": {"est_method": "reg", "xformla": ["lpop"]},
    "mpdta_nev_ipw": {"est_method": "ipw"},
}
AGG_TYPES = ["simple", "group", "dynamic", "calendar"]


@pytest.fixture(scope="module")
def mpdta(load_validation):
    return load_validation("mpdta.csv")


@pytest.fixture(scope="module")
def refs(load_validation):
    return {f: load_validation(f"ref_{f}.csv") for f in ("attgt", "aggte", "pretest")}


@pytest.fixture(scope="module")
def fits(mpdta):
    return {name: att_gt(mpdta, **KW, **kw) for name, kw in SCENARIOS.items()}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_attgt_matches_r(fits, refs, scenario):
    ref = refs["attgt"].query("scenario == @scenario").sort_values(["group", "t"])
    res = fits[scenario]
    np.testing.assert_array_equal(res.group, ref["group"].to_numpy())
    np.testing.assert_array_equal(res.time, ref["t"].to_numpy())
    np.testing.assert_allclose(res.att, ref["att"].to_numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.se, ref["se"].to_numpy(), rtol=0, atol=ATOL)
    assert res.inf_func.shape == (500, len(ref))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("agg_type", AGG_TYPES)
def test_aggte_matches_r(fits, refs, scenario, agg_type):
    ref = refs["aggte"].query("scenario == @scenario and type == @agg_type")
    agg = fits[scenario].aggregate(agg_type)
    assert agg.overall_att == pytest.approx(ref["overall_att"].iloc[0], abs=ATOL)
    assert agg.overall_se == pytest.approx(ref["overall_se"].iloc[0], abs=ATOL)
    if agg_type == "simple":
        assert agg.egt is None
        return
    np.testing.assert_array_equal(agg.egt, ref["egt"].to_numpy())
    np.testing.assert_allclose(agg.att_egt, ref["att_egt"].to_numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(agg.se_egt, ref["se_egt"].to_numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pretest_matches_r(fits, refs, scenario):
    ref = refs["pretest"].query("scenario == @scenario").iloc[0]
    pt = fits[scenario].pretest()
    assert pt.df == 5  # pre-treatment cells: (2006, 2004-05), (2007, 2004-06)
    assert pt.W == pytest.approx(ref["W"], abs=ATOL)
    assert abs(pt.p_value - ref["Wpval"]) <= 5e-6  # R rounds to 5 decimals
    assert round(pt.p_value, 5) == pytest.approx(ref["Wpval"], abs=1e-12)


def test_headline_numbers(fits):
    """README headline: ATT(2004,2004) = -0.0105032 (0.0232510), dynamic -0.0772398 (0.0199650)."""
    res = fits["mpdta_nev_dr"]
    assert res.att[0] == pytest.approx(-0.0105032, abs=1e-7)
    assert res.se[0] == pytest.approx(0.0232510, abs=1e-7)
    dyn = res.aggregate("dynamic")
    assert (dyn.overall_att, dyn.overall_se) == pytest.approx((-0.0772398, 0.0199650), abs=1e-7)


# ------------------------------------------------------------------------------------------------
# 2x2 estimators: internal consistency
# ------------------------------------------------------------------------------------------------


def _two_by_two(mpdta, g=2006, t=2007, base=2005):
    d = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    grp = mpdta.groupby("countyreal")["first.treat"].first().loc[d.index].to_numpy()
    lpop = mpdta.groupby("countyreal")["lpop"].first().loc[d.index].to_numpy()
    keep = (grp == g) | (grp == 0)
    dy = (d[t] - d[base]).to_numpy()[keep]
    D = (grp[keep] == g).astype(float)
    X = np.column_stack([np.ones(keep.sum()), lpop[keep]])
    return dy, D, X


@pytest.mark.parametrize("name", ["dr", "dr_imp", "reg", "ipw"])
def test_general_estimators_reduce_to_unconditional_did(mpdta, name):
    """Intercept-only fast path == the general DRDID code paths (ATT and influence function)."""
    dy, D, X = _two_by_two(mpdta)
    att, inf = drdid.ESTIMATORS[name](dy, D, X[:, :1])
    att0, inf0 = drdid.did_nocov(dy, D)
    assert att == pytest.approx(att0, abs=1e-13)
    np.testing.assert_allclose(inf, inf0, atol=1e-11)


def test_dr_imp_calibration_and_influence(mpdta):
    """drdid_imp_panel: calibrated p-score balances covariates (Tan 2019 first-order condition),
    the IF has mean zero, and the estimate is close to the traditional DR one."""
    dy, D, X = _two_by_two(mpdta)
    g0, _ = drdid.logit(X, D)

    def loss(g):
        idx = X @ g
        e = (1 - D) * np.exp(idx)
        return np.mean(-D * idx + e), X.T @ (e - D) / len(D), (X * e[:, None]).T @ X / len(D)

    gamma, ok = drdid.newton(loss, g0, maxiter=1000)
    assert ok
    w = (1 - D) * np.exp(X @ gamma)  # = ps/(1-ps) for controls
    np.testing.assert_allclose(X.T @ w, X.T @ D, rtol=1e-10)
    att, inf = drdid.drdid_imp_panel(dy, D, X)
    att_dr, _ = drdid.drdid_panel(dy, D, X)
    assert abs(inf.mean()) < 1e-12
    assert att == pytest.approx(att_dr, abs=1e-3)
    assert att != att_dr


def test_dr_imp_equals_dr_without_covariates(mpdta, fits):
    res = att_gt(mpdta, **KW, est_method="dr_imp")
    np.testing.assert_allclose(res.att, fits["mpdta_nev_dr"].att, atol=1e-14)
    np.testing.assert_allclose(res.inf_func, fits["mpdta_nev_dr"].inf_func, atol=1e-12)


def test_universal_base_period(mpdta, fits):
    res = att_gt(mpdta, **KW, base_period="universal")
    base = res.time == res.group - 1
    assert np.all(res.att[base] == 0) and np.all(np.isnan(res.se[base]))
    # post-treatment cells use base g-1 under both conventions
    var = fits["mpdta_nev_dr"]
    post_u = pd.Series(res.att[res.post], index=list(zip(res.group[res.post], res.time[res.post])))
    post_v = pd.Series(var.att[var.post], index=list(zip(var.group[var.post], var.time[var.post])))
    pd.testing.assert_series_equal(post_u, post_v, atol=1e-14)
    assert res.aggregate("simple").overall_att == pytest.approx(var.aggregate("simple").overall_att)


# ------------------------------------------------------------------------------------------------
# Multiplier bootstrap
# ------------------------------------------------------------------------------------------------


def test_mammen_weights_moments():
    """With IF = sqrt(n) I the draws are the multipliers themselves: E v = 0, E v^2 = E v^3 = 1."""
    n = 400
    v = multiplier_bootstrap(np.eye(n) * np.sqrt(n), biters=500, seed=3)["bres"].ravel()
    assert set(np.round(np.unique(v), 12)) == {round(1 - cs._KAPPA, 12), round(cs._KAPPA, 12)}
    assert v.mean() == pytest.approx(0, abs=0.01)
    assert (v**2).mean() == pytest.approx(1, abs=0.01)
    assert (v**3).mean() == pytest.approx(1, abs=0.03)


def test_quantile_type1_matches_r():
    x = np.arange(1.0, 11.0)  # R: quantile(1:10, c(.25,.75,.95), type=1) = 3, 8, 10
    assert [cs._quantile_type1(x, p) for p in (0.25, 0.75, 0.95)] == [3.0, 8.0, 10.0]
    assert cs._quantile_type1(np.arange(1.0, 1001.0), 0.95) == 950.0


@pytest.fixture(scope="module")
def boot_fit(mpdta):
    return att_gt(mpdta, **KW, bstrap=True, cband=True, biters=999, seed=1)


def test_bootstrap_close_to_analytic(boot_fit, fits):
    ratio = boot_fit.se / fits["mpdta_nev_dr"].se
    assert np.all(np.abs(ratio - 1) < 0.10), ratio  # measured: 0.92 ... 1.05
    assert abs(np.mean(ratio) - 1) < 0.03
    assert boot_fit.crit_val > 1.96  # sup-t over 12 cells (measured 2.76)
    np.testing.assert_array_equal(boot_fit.att, fits["mpdta_nev_dr"].att)
    for t in AGG_TYPES:
        b, a = boot_fit.aggregate(t), fits["mpdta_nev_dr"].aggregate(t)
        assert b.overall_se == pytest.approx(a.overall_se, rel=0.10)
        if t != "simple":
            np.testing.assert_allclose(b.se_egt, a.se_egt, rtol=0.10)
            assert b.crit_val_egt > 1.96


def test_bootstrap_deterministic(mpdta, boot_fit):
    again = att_gt(mpdta, **KW, bstrap=True, cband=True, biters=999, seed=1)
    np.testing.assert_array_equal(again.se, boot_fit.se)
    assert again.crit_val == boot_fit.crit_val
    a1, a2 = again.aggregate("dynamic"), boot_fit.aggregate("dynamic")
    np.testing.assert_array_equal(a1.se_egt, a2.se_egt)
    assert a1.crit_val_egt == a2.crit_val_egt
    other = att_gt(mpdta, **KW, bstrap=True, cband=True, biters=999, seed=2)
    assert not np.array_equal(other.se, boot_fit.se)


def test_clustered_and_rademacher_bootstrap(mpdta, fits):
    d = mpdta.assign(state=mpdta["countyreal"] // 1000)
    res = att_gt(d, **KW, clustervars=["countyreal", "state"], bstrap=True, cband=True, seed=5)
    assert np.all(np.isfinite(res.se)) and res.crit_val > 1.96
    # analytic cluster-robust SE: sqrt(sum_c S_c^2) / n with S_c cluster sums of the IF
    with pytest.warns(UserWarning, match="clustered"):
        an = att_gt(d, **KW, clustervars=["state"])
    S = pd.DataFrame(fits["mpdta_nev_dr"].inf_func).groupby(an.cluster).sum().to_numpy()
    np.testing.assert_allclose(an.se, np.sqrt((S**2).sum(0)) / 500, rtol=1e-12)
    rad = att_gt(mpdta, **KW, bstrap=True, boot_weights="rademacher", seed=5)
    ratio = rad.se / fits["mpdta_nev_dr"].se
    assert np.all(np.abs(ratio - 1) < 0.15) and abs(ratio.mean() - 1) < 0.05, ratio
    v = multiplier_bootstrap(np.eye(100) * 10, biters=200, weights="rademacher", seed=3)["bres"]
    assert set(np.unique(v)) == {-1.0, 1.0}


# ------------------------------------------------------------------------------------------------
# Aggregation options, data handling, output methods
# ------------------------------------------------------------------------------------------------


def test_dynamic_event_window_and_balance(fits):
    res = fits["mpdta_nev_dr"]
    full = res.aggregate("dynamic")
    win = res.aggregate("dynamic", min_e=-2, max_e=2)
    np.testing.assert_array_equal(win.egt, [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(win.att_egt, full.att_egt[1:6], atol=1e-15)
    assert win.overall_att == pytest.approx(full.att_egt[3:6].mean())
    bal = res.aggregate("dynamic", balance_e=1)  # cohorts observed >= 1 period after treatment
    np.testing.assert_array_equal(bal.egt, [-2, -1, 0, 1])
    grp = res.aggregate("group", max_e=0)  # on-impact effect per cohort
    sel = res.group == res.time
    np.testing.assert_allclose(grp.att_egt, res.att[sel], atol=1e-15)


def test_data_handling(mpdta, fits):
    # unbalanced panel: incomplete units dropped (R did's default), rest unchanged
    d = mpdta.drop(
        index=mpdta.index[
            (mpdta["countyreal"] == mpdta["countyreal"].iloc[0]) & (mpdta["year"] == 2005)
        ]
    )
    with pytest.warns(UserWarning, match="unbalanced"):
        res = att_gt(d, **KW)
    assert res.n == 499
    # units treated in the first period are dropped
    d2 = mpdta.copy()
    d2.loc[d2["countyreal"] == d2["countyreal"].iloc[0], "first.treat"] = 2003
    with pytest.warns(UserWarning, match="first period"):
        assert att_gt(d2, **KW).n == 499
    with pytest.raises(ValueError):
        att_gt(mpdta, **KW, est_method="twfe")


def test_outputs(fits):
    res = fits["mpdta_nev_dr"]
    tid = res.tidy()
    assert list(tid.columns[:7]) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert tid["term"].iloc[0] == "ATT(2004,2004)"
    assert "Pre-trend Wald test" in res.summary() and "0.16812" in res.summary()
    agg = res.aggregate("dynamic")
    assert agg.tidy()["term"].tolist()[:2] == ["overall", "event_time=-3"]
    assert "Overall ATT" in agg.summary()
    import matplotlib.axes

    assert isinstance(res.plot(), matplotlib.axes.Axes)
    assert isinstance(agg.plot(), matplotlib.axes.Axes)
    assert isinstance(res.aggregate("simple").plot(), matplotlib.axes.Axes)


def test_unbalanced_panel_drops_a_cohort_whose_units_are_all_dropped(load_validation):
    """R did balances the panel before listing the cohorts: a cohort whose only unit is not
    observed in every year disappears instead of leaving empty ATT(g,t) cells."""
    import warnings

    df = load_validation("mpdta.csv")
    one = df[df["first.treat"] == 2004]["countyreal"].iloc[0]
    lone = df[(df["first.treat"] != 2004) | (df["countyreal"] == one)].copy()
    lone = lone[~((lone["countyreal"] == one) & (lone["year"] == 2003))]  # its only unit has a gap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = att_gt(lone, "lemp", "year", "countyreal", "first.treat")
    assert 2004 not in set(fit.group)
    balanced = df[df["first.treat"] != 2004]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = att_gt(balanced, "lemp", "year", "countyreal", "first.treat")
    assert np.allclose(fit.att, ref.att, atol=1e-12)
    assert np.isfinite(fit.aggregate("simple").overall_att)


def test_adjusted_drops_a_covariate_the_fixed_effects_absorb(mpdta):
    """A covariate constant within units on the untreated rows (here: the county's log
    population, time-invariant in mpdta) has no first-stage coefficient: it is left out of the
    adjustment, and the result equals the run without it."""
    data = mpdta.assign(x=np.sin(np.arange(len(mpdta))))
    with_absorbed = cs.att_gt_adjusted(
        data, "lemp", "year", "countyreal", "first.treat", ["x", "lpop"]
    )
    without = cs.att_gt_adjusted(data, "lemp", "year", "countyreal", "first.treat", ["x"])
    assert list(with_absorbed.coef.index) == ["x"]
    a, b = with_absorbed.aggregate("simple"), without.aggregate("simple")
    assert a.overall_att == pytest.approx(b.overall_att, rel=1e-12)
    assert a.overall_se == pytest.approx(b.overall_se, rel=1e-12)


# --- issue 21: the covariates' ATT(g,t) of the adjusted CS for all covariates at once ---------
def _outcomes(mpdta):
    """mpdta with extra outcome columns (time-varying, like the studies' covariates)."""
    rng = np.random.default_rng(21)
    extra = {f"z{k}": rng.standard_normal(len(mpdta)) + k * mpdta["lemp"] for k in range(4)}
    return mpdta.assign(**extra), ["lemp", "lpop", *extra]


def _same(a, b) -> None:
    """Every number of two ATTgtResults identical (the one-call-per-outcome path is the
    reference; the batched cells do the same operations)."""
    for f in ("att", "se", "inf_func", "group", "time", "base", "unit_group", "crit_val"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.settings == b.settings
    for kind in ("simple", "dynamic", "group"):
        x, y = a.aggregate(kind, na_rm=True), b.aggregate(kind, na_rm=True)
        np.testing.assert_array_equal(
            [x.overall_att, x.overall_se], [y.overall_att, y.overall_se], err_msg=kind
        )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"control_group": "notyettreated"},
        {"base_period": "universal"},
        {"clustervars": ["state"]},
        {"est_method": "reg", "anticipation": 1},
    ],
)
def test_att_gt_outcomes_equal_one_call_per_outcome(mpdta, options):
    data, ys = _outcomes(mpdta.assign(state=mpdta["countyreal"] // 1000))
    kw = {k: v for k, v in KW.items() if k != "yname"}
    many = cs._att_gt_outcomes(data, ys, **kw, **options)
    for y, fit in zip(ys, many):
        _same(att_gt(data, y, **kw, **options), fit)


def test_att_gt_outcomes_fall_back_to_one_call_per_outcome(mpdta):
    """Base-period covariates, and an outcome with a blank (each call drops its own rows): one
    ``att_gt`` call per outcome, the same results."""
    data, ys = _outcomes(mpdta)
    kw = {k: v for k, v in KW.items() if k != "yname"}
    cov = cs._att_gt_outcomes(data, ys[:3], **kw, est_method="reg", xformla=["lpop"])
    for y, fit in zip(ys[:3], cov):
        _same(att_gt(data, y, **kw, est_method="reg", xformla=["lpop"]), fit)
    blank = data.assign(z0=data["z0"].where(data.index != 7))
    fits = cs._att_gt_outcomes(blank, ["z0", "z1"], **kw)
    _same(att_gt(blank, "z0", **kw), fits[0])
    _same(att_gt(blank, "z1", **kw), fits[1])
    assert len(fits[0].ids) == len(fits[1].ids) - 1  # z0's call dropped the unit of its blank


def _numbers(agg) -> np.ndarray:
    egt = [] if agg.att_egt is None else np.r_[agg.att_egt, agg.se_egt]
    return np.r_[agg.overall_att, agg.overall_se, egt]


def test_covariate_cache_gives_the_numbers_of_a_fresh_fit(mpdta):
    """``att_gt_adjusted`` with a shared :class:`CovariateCache` (power simulations: the design
    fixed, the outcome drawn) equals the fit without it, on every outcome; a call on another
    design (other covariate values) does not reuse the cached ATT(g,t)."""
    data, _ = _outcomes(mpdta)
    args = ("year", "countyreal", "first.treat", ["z0", "z1"])
    cache = cs.CovariateCache()
    rng = np.random.default_rng(3)
    for _ in range(3):
        d = data.assign(y=data["lemp"] + rng.standard_normal(len(data)))
        fresh = cs.att_gt_adjusted(d, "y", *args)
        cached = cs.att_gt_adjusted(d, "y", *args, covariate_cache=cache)
        for kind in ("simple", "dynamic"):
            a, b = fresh.aggregate(kind), cached.aggregate(kind)
            # rtol: the first stage is pyfixest's (threaded demeaning: last bits between calls)
            np.testing.assert_allclose(_numbers(a), _numbers(b), rtol=1e-12, atol=0)
    assert cache._gradients  # the aggregated covariate ATTs were shared
    other = data.assign(z0=data["z0"] + rng.standard_normal(len(data)), y=data["lemp"])
    a = cs.att_gt_adjusted(other, "y", *args).aggregate("simple")
    b = cs.att_gt_adjusted(other, "y", *args, covariate_cache=cache).aggregate("simple")
    np.testing.assert_allclose(
        [a.overall_att, a.overall_se], [b.overall_att, b.overall_se], rtol=1e-12, atol=0
    )
    stale = cs.att_gt_adjusted(data.assign(y=data["lemp"]), "y", *args).aggregate("simple")
    assert abs(stale.overall_att - a.overall_att) > 1e-6  # the two designs differ


@pytest.mark.parametrize("kind", AGG_TYPES)
def test_point_only_aggregation_has_the_full_point_estimates(fits, kind):
    """``aggregate(influence=False)`` (the covariates' gradient in the adjusted CS) returns the
    point estimates of the full aggregation, to the bit, for every scenario and type."""
    for fit in fits.values():
        full, point = fit.aggregate(kind), fit.aggregate(kind, influence=False)
        assert point.overall_att == full.overall_att
        if full.att_egt is None:
            assert point.att_egt is None
        else:
            np.testing.assert_array_equal(point.att_egt, full.att_egt)
            np.testing.assert_array_equal(point.egt, full.egt)
