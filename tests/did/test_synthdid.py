"""Synthetic difference-in-differences (analysis.did.synthdid) against R synthdid.

* California Proposition 99 (``california_prop99.csv`` in VALIDATION_DATA_DIR): the point estimates
  of R ``synthdid_estimate`` / ``sc_estimate`` / ``did_estimate`` (-15.60383, -19.61966, -27.34911;
  Arkhangelsky et al. 2021, Table 1: -15.6, -19.6, -27.3) and the placebo SEs of the paper (8.4,
  9.9, 17.7), which are Monte Carlo numbers (see ``test_prop99_placebo_se``);
* DID is the two-way fixed-effects coefficient (analysis.did.fe) to 1e-10;
* the batched Frank-Wolfe solver follows R's ``sc.weight.fw`` iteration by iteration (a line-by-line
  transliteration below) and reaches the optimum of the weight problem (scipy's SLSQP);
* R's own invariance tests (tests/testthat/test_synthdid.R: shifts of the four blocks, column
  effects, scale), a simulated panel with several treated units and a known effect, the variance
  methods' applicability rules, and bad input.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from analysis.did import synthdid as sd
from analysis.did.fe import fit_within
from analysis.did.results import EVENT_STUDY_COLUMNS, TIDY_COLUMNS
from analysis.did.synthdid import synthdid
from analysis.figures.style import use_house_style

R_ESTIMATES = {"sdid": -15.60383, "sc": -19.61966, "did": -27.34911}  # R synthdid, printed digits
PAPER_SE = {"sdid": 8.4, "sc": 9.9, "did": 17.7}  # Arkhangelsky et al. (2021), Table 1, placebo
PLACEBO_DRAWS, PLACEBO_SEED = 200, 0
COLS = ("PacksPerCapita", "State", "Year", "treated")


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def prop99(validation_dir) -> pd.DataFrame:
    return pd.read_csv(validation_dir / "california_prop99.csv", sep=";")


@pytest.fixture(scope="module")
def prop99_fits(prop99) -> dict[str, sd.SynthDIDResult]:
    return {
        est: synthdid(
            prop99,
            *COLS,
            estimator=est,
            se_method="placebo",
            replications=PLACEBO_DRAWS,
            seed=PLACEBO_SEED,
        )
        for est in sd.ESTIMATORS
    }


def low_rank_panel(
    n0: int = 30, n1: int = 5, t0: int = 16, t1: int = 5, tau: float = 2.0, seed: int = 1
) -> pd.DataFrame:
    """A long panel after R's ``random.low.rank`` (unit and time effects, a rank-2 interactive
    component, AR(1) noise), smaller; the last ``n1`` units are treated from period ``t0``."""
    rng = np.random.default_rng(seed)
    n, t = n0 + n1, t0 + t1
    U = rng.poisson(np.sqrt(rng.permutation(n) + 1)[:, None] / np.sqrt(n), (n, 2))
    V = rng.poisson(np.sqrt(np.arange(1, t + 1))[:, None] / np.sqrt(t), (t, 2))
    alpha = 10 * rng.permutation(n)[:, None] / n
    beta = 10 * np.arange(1, t + 1)[None, :] / t
    rho = 0.7
    cov = rho ** np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    noise = rng.standard_normal((n, t)) @ np.linalg.cholesky(cov).T
    W = np.outer(np.arange(n) >= n0, np.arange(t) >= t0).astype(float)
    Y = U @ V.T + alpha + beta + tau * W + 0.5 * noise
    unit, time = np.meshgrid(np.arange(n), np.arange(2001, 2001 + t), indexing="ij")
    return pd.DataFrame(
        {"y": Y.ravel(), "unit": unit.ravel(), "time": time.ravel(), "d": W.ravel()}
    )


SIM = ("y", "unit", "time", "d")
FAST = 1000  # Frank-Wolfe iterations in tests of properties that hold for any solver options


# ------------------------------------------------------------------------------------ prop99
@pytest.mark.parametrize("estimator", sd.ESTIMATORS)
def test_prop99_point_estimates_match_R(prop99_fits, estimator):
    """R prints 7 significant digits; we agree to them (the brief asks for 0.05)."""
    assert prop99_fits[estimator].att == pytest.approx(R_ESTIMATES[estimator], abs=1e-4)


def test_prop99_weights(prop99_fits):
    """SDID: time weights on 1986-1988 only and sparse unit weights; SC: no time weights; DID:
    uniform. ``1/sum(w^2)`` as R ``summary``'s N0.effective / T0.effective. (The unit and time
    weights also equal diff-diff 3.13 ``SyntheticDiD``'s to 1e-14, checked by hand.)"""
    s = prop99_fits["sdid"]
    lam = s.time_weights
    assert lam[lam > 0].round(3).to_dict() == {1986: 0.366, 1987: 0.206, 1988: 0.427}
    assert s.effective_controls == pytest.approx(16.388, abs=1e-3)
    assert s.effective_periods == pytest.approx(2.783, abs=1e-3)
    assert s.controls(mass=0.9).index[:3].tolist() == ["Nevada", "New Hampshire", "Connecticut"]
    sc = prop99_fits["sc"]
    assert (sc.time_weights == 0).all()
    assert sc.controls(mass=0.9).index.tolist() == ["Utah", "Montana", "Nevada", "Connecticut"]
    did = prop99_fits["did"]
    assert np.allclose(did.unit_weights, 1 / 38) and np.allclose(did.time_weights, 1 / 19)


@pytest.mark.parametrize("estimator", sd.ESTIMATORS)
def test_prop99_placebo_se(prop99_fits, estimator):
    """Placebo SEs (seed 0, 200 draws: SDID 10.28, SC 12.24, DID 18.40; paper 8.4, 9.9, 17.7).

    With one treated unit a placebo draw is decided by which control is made pseudo-treated, so
    the placebo distribution is the N0 = 38 estimates with each control as the treated unit: we
    compute them (``enumerated``), check that every one of our 200 draws is one of them, and
    simulate the 200-draw SE from them. Its Monte Carlo spread is wide (relative sd 7-8%: a few
    states such as Rhode Island, Kentucky and New Hampshire dominate), so the ratio of two
    independent 200-draw SEs -- ours and R's -- lies in [0.74, 1.35] with probability 0.99 on
    this panel; we check ours / paper in [0.7, 1.4]. And the paper's value must be a plausible
    200-draw SE of our placebo distribution (inside its central 99.8%)."""
    fit = prop99_fits[estimator]
    Y, N0, T0 = fit.Y, fit.N0, fit.T0
    omega, lam = fit.unit_weights.to_numpy(), fit.time_weights.to_numpy()
    order = np.array([np.r_[np.delete(np.arange(N0), j), j] for j in range(N0)])
    Yp = Y[order]
    w0 = sd._sum_normalize(omega[order[:, :-1]])
    w, lm, _ = sd._solve(Yp, N0 - 1, T0, fit.options, w0, lam)
    enumerated, _ = sd._effects(Yp, N0 - 1, T0, w, lm)
    assert np.abs(fit.draws[:, None] - enumerated[None, :]).min(axis=1).max() < 1e-8

    assert fit.se_method == "placebo" and len(fit.draws) == PLACEBO_DRAWS
    assert fit.se == pytest.approx(np.sqrt(199 / 200) * fit.draws.std(ddof=1), rel=1e-12)
    assert 0.7 < fit.se / PAPER_SE[estimator] < 1.4

    rng = np.random.default_rng(12345)
    sims = enumerated[rng.integers(0, N0, (4000, PLACEBO_DRAWS))].std(axis=1, ddof=1)
    sims *= np.sqrt((PLACEBO_DRAWS - 1) / PLACEBO_DRAWS)
    lo, hi = np.quantile(sims, [0.001, 0.999])
    assert lo < PAPER_SE[estimator] < hi
    assert lo < fit.se < hi


def test_prop99_did_is_the_twfe_coefficient(prop99, prop99_fits):
    twfe = fit_within(prop99, "PacksPerCapita", ["treated"], "State", "Year")
    assert prop99_fits["did"].att == pytest.approx(float(twfe.params[0]), abs=1e-10)


def test_sdid_with_uniform_forced_weights_is_did(prop99, prop99_fits):
    fit = synthdid(
        prop99,
        *COLS,
        unit_weights=np.full(38, 1 / 38),
        time_weights=np.full(19, 1 / 19),
        se_method=None,
    )
    assert fit.options.update_omega is False and fit.options.update_lambda is False
    assert fit.att == pytest.approx(prop99_fits["did"].att, abs=1e-12)


@pytest.mark.parametrize("estimator", ["sdid", "sc"])
def test_weights_are_on_the_simplex(prop99_fits, estimator):
    fit = prop99_fits[estimator]
    for w in (fit.unit_weights, fit.time_weights):
        assert (w >= 0).all()
    assert fit.unit_weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert fit.time_weights.sum() == pytest.approx(1.0 if estimator == "sdid" else 0.0, abs=1e-12)
    assert (fit.unit_weights == 0).any()  # the sparsify step


def test_effect_curve_averages_to_the_estimate(prop99_fits):
    fit = prop99_fits["sdid"]
    e = fit.effects
    assert e["event_time"].tolist() == list(range(12))
    assert e["time"].tolist() == list(range(1989, 2001))
    assert e["estimate"].mean() == pytest.approx(fit.att, abs=1e-10)
    assert (e["std_error"] > 0).all()
    assert list(fit.event_study.columns) == EVENT_STUDY_COLUMNS
    tidy = fit.tidy(effects=True)
    assert list(tidy.columns) == TIDY_COLUMNS and len(tidy) == 13
    assert tidy.loc[0, "term"] == "ATT" and tidy.loc[12, "term"] == "event_time::11"
    assert tidy.loc[0, "conf_low"] == pytest.approx(fit.att - 1.959963985 * fit.se)


@pytest.mark.parametrize("method", ["jackknife", "bootstrap"])
def test_one_treated_unit_allows_only_the_placebo_se(prop99_fits, method):
    with pytest.raises(ValueError, match="more than one treated unit.*placebo"):
        prop99_fits["sdid"].standard_error(method)


def test_summary_and_plot(prop99_fits):
    use_house_style()
    text = prop99_fits["sdid"].summary()
    assert "ATT = -15.6038" in text and "N0 = 38 (effective 16.388)" in text
    assert "placebo, 200 replications, seed 0" in text
    for est in ("sdid", "sc"):
        for lang in ("en", "zh"):
            fig = prop99_fits[est].plot(lang=lang)
            assert len(fig.axes) == 2
            plt.close(fig)


# ------------------------------------------------------------------------------------ the solver
def r_sc_weight_fw(Y, zeta, intercept, lam, min_decrease, max_iter):
    """R ``sc.weight.fw`` and ``fw.step`` (R/solver.R), line by line, for one problem."""
    T0 = Y.shape[1] - 1
    N0 = Y.shape[0]
    lam = np.full(T0, 1 / T0) if lam is None else lam.copy()
    if intercept:
        Y = Y - Y.mean(axis=0)
    t, vals = 0, []
    A, b, eta = Y[:, :T0], Y[:, T0], N0 * zeta**2
    while t < max_iter and (t < 2 or vals[t - 2] - vals[t - 1] > min_decrease**2):
        t += 1
        Ax = A @ lam
        half_grad = (Ax - b) @ A + eta * lam
        i = int(np.argmin(half_grad))
        d_x = -lam.copy()
        d_x[i] = 1 - lam[i]
        if not np.all(d_x == 0):
            d_err = A[:, i] - Ax
            step = -(half_grad @ d_x) / (d_err @ d_err + eta * d_x @ d_x)
            lam = lam + min(1.0, max(0.0, step)) * d_x
        err = Y @ np.r_[lam, -1]
        vals.append(zeta**2 * lam @ lam + err @ err / N0)
    return lam, t


def test_batched_frank_wolfe_follows_R_iteration_by_iteration():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(6, 12, 9)).cumsum(axis=2) + rng.normal(size=(6, 12, 1))
    seen = []
    for zeta, intercept in ((0.3, True), (1e-3, False), (1.0, True)):
        x, iters = sd._fw(Y, zeta, intercept, None, 1e-3, 600)
        for b in range(len(Y)):
            ref, t = r_sc_weight_fw(Y[b], zeta, intercept, None, 1e-3, 600)
            one, t_one = sd._fw(Y[b : b + 1], zeta, intercept, None, 1e-3, 600)  # unbatched path
            assert iters[b] == t == t_one[0]
            np.testing.assert_allclose(x[b], ref, atol=1e-12)
            np.testing.assert_allclose(one[0], ref, atol=1e-12)
        seen += iters.tolist()
    assert 600 in seen and min(seen) == 2 and len(set(seen)) > 6  # both stopping rules


def test_frank_wolfe_reaches_the_optimum():
    """The penalised weight problem solved by SLSQP on the simplex: same objective."""
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(15, 8)).cumsum(axis=1)
    Y = Y - Y.mean(axis=0)
    zeta = 2.0  # strongly convex enough for Frank-Wolfe to converge within ~1,400 iterations
    A, b, n = Y[:, :-1], Y[:, -1], Y.shape[0]

    def objective(x):
        return zeta**2 * x @ x + np.sum((A @ x - b) ** 2) / n

    x, iters = sd._fw(Y[None], zeta, False, None, 1e-8, 10_000)
    assert iters[0] < 10_000
    k = A.shape[1]
    opt = minimize(
        objective,
        np.full(k, 1 / k),
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert objective(x[0]) == pytest.approx(opt.fun, rel=1e-10)
    np.testing.assert_allclose(x[0], opt.x, atol=1e-5)


@pytest.mark.parametrize("estimator", sd.ESTIMATORS)
def test_padded_bootstrap_batch_equals_draw_by_draw_fits(estimator):
    """Bootstrap draws hold different numbers of controls and are solved in one padded batch; each
    draw equals its own fit (R ``bootstrap_sample``: weights warm-started at the renormalised
    full-sample ones, options of the full-sample fit)."""
    df = low_rank_panel(n0=12, n1=4, t0=8, t1=3)
    fit = synthdid(df, *SIM, estimator=estimator, se_method=None, max_iter=FAST)
    omega, lam = fit.unit_weights.to_numpy(), fit.time_weights.to_numpy()
    draws, curves = sd._bootstrap(
        fit.Y, fit.N0, fit.T0, fit.options, omega, lam, 12, np.random.default_rng(5)
    )
    idx = sd._bootstrap_indices(fit.Y.shape[0], fit.N0, 12, np.random.default_rng(5))
    assert len({int((r < fit.N0).sum()) for r in idx}) > 2  # several control counts
    for r, draw, curve in zip(idx, draws, curves):
        m = int((r < fit.N0).sum())
        Yb = fit.Y[r][None]
        w, lm, _ = sd._solve(Yb, m, fit.T0, fit.options, sd._sum_normalize(omega[r[:m]]), lam)
        att, cur = sd._effects(Yb, m, fit.T0, w, lm)
        assert draw == pytest.approx(att[0], abs=1e-10)
        np.testing.assert_allclose(curve, cur[0], atol=1e-10)


def test_sparsify_as_R():
    v = np.array([0.5, 0.125, 0.1, 0.275])
    np.testing.assert_allclose(sd.sparsify_weights(v), [0.5 / 0.775, 0, 0, 0.275 / 0.775])


# ------------------------------------------------------------------------------------ simulated
def test_several_treated_units_recover_the_effect():
    df = low_rank_panel(tau=2.0)
    fit = synthdid(df, *SIM, se_method="jackknife")
    assert fit.N0 == 30 and fit.N1 == 5 and fit.T0 == 16 and fit.T1 == 5
    assert abs(fit.att - 2.0) < 3 * fit.se and abs(fit.att - 2.0) < 0.3
    boot = fit.standard_error("bootstrap", replications=20, seed=1)
    placebo = fit.standard_error("placebo", replications=20, seed=1)
    for se in (boot, placebo):
        assert 0.33 < se / fit.se < 3
    lo, hi = fit.conf_int
    assert lo < 2.0 < hi
    did = synthdid(df, *SIM, estimator="did", se_method="jackknife")
    assert abs(did.att - 2.0) < 1.0 and did.se > 0


def test_seeded_resampling_is_reproducible():
    df = low_rank_panel()
    kw = {"se_method": "bootstrap", "replications": 20, "max_iter": FAST}
    a = synthdid(df, *SIM, seed=7, **kw)
    b = synthdid(df, *SIM, seed=7, **kw)
    c = synthdid(df, *SIM, seed=8, **kw)
    assert a.se == b.se and a.se != c.se
    np.testing.assert_array_equal(a.draws, b.draws)


def test_jackknife_is_leave_one_unit_out_with_fixed_weights():
    """Each jackknife value equals a refit on the panel without that unit, with the weights fixed
    at the full-sample ones (renormalised), as R ``jackknife_se``."""
    df = low_rank_panel(n0=12, n1=3, t0=8, t1=3)
    fit = synthdid(df, *SIM, se_method="jackknife")
    units = fit.units
    for i in (0, 5, 13):
        sub = df[df["unit"] != units[i]]
        omega = fit.unit_weights.drop(units[i]) if i < fit.N0 else fit.unit_weights
        if omega.sum() == 0:
            continue
        refit = synthdid(
            sub,
            *SIM,
            unit_weights=(omega / omega.sum()).to_numpy(),
            time_weights=fit.time_weights.to_numpy(),
            se_method=None,
        )
        assert fit.draws[i] == pytest.approx(refit.att, abs=1e-10)
    n = len(units)
    assert fit.se == pytest.approx(np.sqrt((n - 1) ** 2 / n) * fit.draws.std(ddof=1))


def _block_shift(df, treated: bool, post: bool, c: float) -> pd.DataFrame:
    out = df.copy()
    is_treated = out.groupby("unit")["d"].transform("max") == 1
    is_post = out["time"] >= out.loc[out["d"] == 1, "time"].min()
    rows = (is_treated == treated) & (is_post == post)
    out.loc[rows, "y"] += c
    return out


@pytest.mark.parametrize("c", [1e-6, 0.25, 1e6])
def test_block_shifts_as_R(c):
    """R tests/testthat/test_synthdid.R 'treated effect shifts correctly with scalar shifts to the
    4 blocks' (synthdid issue 43)."""
    df = low_rank_panel(n0=15, n1=3, t0=10, t1=4)
    kw = {"se_method": None, "max_iter": FAST}
    base = {e: synthdid(df, *SIM, estimator=e, **kw) for e in sd.ESTIMATORS}
    cases = [  # (treated, post, sign, estimators, weights that must not move)
        (True, True, +1, sd.ESTIMATORS, ("unit_weights", "time_weights")),
        (True, False, -1, ("sdid", "did"), ("time_weights",)),
        (False, False, +1, ("sdid", "did"), ("time_weights",)),
        (False, True, -1, ("sdid", "did"), ("unit_weights",)),
    ]
    for treated, post, sign, estimators, fixed in cases:
        shifted = _block_shift(df, treated, post, c)
        for e in estimators:
            fit = synthdid(shifted, *SIM, estimator=e, **kw)
            assert fit.att == pytest.approx(base[e].att + sign * c, rel=1e-8, abs=1e-8)
            for name in fixed:
                np.testing.assert_allclose(getattr(fit, name), getattr(base[e], name), atol=1e-8)


@pytest.mark.parametrize("estimator", sd.ESTIMATORS)
def test_column_effects_and_scale_as_R(estimator):
    """R's invariances (synthdid issue 38): adding a period effect changes nothing (SEs included,
    same seed); scaling the outcome scales the estimate and SE and leaves the weights."""
    df = low_rank_panel(n0=15, n1=3, t0=10, t1=4)
    kw = {"estimator": estimator, "se_method": "placebo", "replications": 10, "seed": 3}
    kw["max_iter"] = FAST
    base = synthdid(df, *SIM, **kw)
    col = synthdid(df.assign(y=df["y"] + 2 * (df["time"] - 2000)), *SIM, **kw)
    assert col.att == pytest.approx(base.att, rel=1e-8)
    assert col.se == pytest.approx(base.se, rel=1e-6)
    for scale in (1e-6, 1e6):
        s = synthdid(df.assign(y=df["y"] * scale), *SIM, **kw)
        assert s.att == pytest.approx(scale * base.att, rel=1e-8)
        assert s.se == pytest.approx(scale * base.se, rel=1e-6)
        np.testing.assert_allclose(s.unit_weights, base.unit_weights, atol=1e-8)


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_is_refused_with_a_reason():
    df = low_rank_panel(n0=8, n1=2, t0=5, t1=2)

    def raises(data, match, **kw):
        with pytest.raises(ValueError, match=match):
            synthdid(data, *SIM, se_method=None, **kw)

    raises(df.iloc[1:], "unbalanced panel")
    raises(pd.concat([df, df.iloc[:1]]), "duplicate")
    raises(df.assign(y=df["y"].where(df.index != 3)), "missing values")
    raises(df.drop(columns="d"), "columns not in the data")
    raises(df.assign(d=df["d"] * 2), "must be 0/1")
    raises(df.assign(d=0.0), "no variation")
    staggered = df.copy()
    staggered.loc[(staggered["unit"] == 9) & (staggered["time"] == 2006), "d"] = 0.0
    raises(staggered, "not simultaneous")
    switch_off = df.copy()
    switch_off.loc[(switch_off["unit"] == 9) & (switch_off["time"] == 2007), "d"] = 0.0
    raises(switch_off, "not simultaneous")
    raises(df[df["time"] >= 2005], "two pre-treatment periods")
    raises(df, "estimator must be", estimator="synth")
    raises(df, "length 8", unit_weights=np.ones(3) / 3)
    raises(df, "sum to one", time_weights=np.ones(5))
    with pytest.raises(ValueError, match="se_method must be"):
        synthdid(df, *SIM, se_method="delta")


def test_placebo_needs_more_controls_than_treated():
    df = low_rank_panel(n0=3, n1=3, t0=5, t1=2)
    with pytest.raises(ValueError, match="more controls than treated"):
        synthdid(df, *SIM, se_method="placebo")


def test_jackknife_undefined_when_one_control_has_all_weight():
    df = low_rank_panel(n0=8, n1=2, t0=5, t1=2)
    w = np.zeros(8)
    w[2] = 1.0
    fit = synthdid(df, *SIM, unit_weights=w, se_method=None)
    with pytest.raises(ValueError, match="one control carries all the unit weight"):
        fit.standard_error("jackknife")


def test_chosen_placebos_reproduce_the_placebo_se_draws_and_the_gap_series():
    """placebo_effects with the sets the placebo SE drew gives the same estimates (the SE's
    Algorithm 4 is this function with random sets), and gap_series' post periods are the fit's
    effect curve."""
    from analysis.did.synthdid import gap_series, placebo_effects

    rng = np.random.default_rng(0)
    n, T, N1, T0 = 30, 10, 3, 7
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, T)) + 0.3 * rng.normal(size=(n, T))
    d = np.zeros((n, T))
    d[-N1:, T0:] = 1
    Y = Y + 0.5 * d
    data = pd.DataFrame(
        {"unit": np.repeat(np.arange(n), T), "time": np.tile(np.arange(T), n),
         "y": Y.ravel(), "d": d.ravel()}
    )  # fmt: skip
    fit = synthdid(data, "y", "unit", "time", "d", se_method="placebo", replications=20, seed=4)
    N0 = fit.N0
    perm = np.random.default_rng(4).permuted(np.tile(np.arange(N0), (20, 1)), axis=1)
    est, gaps = placebo_effects(fit, perm[:, N0 - N1 :])
    np.testing.assert_allclose(est, fit.draws, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gaps[:, T0:], fit.draws_curve, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gap_series(fit)[T0:], fit.effects["estimate"], rtol=1e-12)
    assert gap_series(fit)[T0:].mean() == pytest.approx(fit.att, rel=1e-12)
    with pytest.raises(ValueError, match="twice"):
        placebo_effects(fit, [[0, 0, 1]])
    with pytest.raises(ValueError, match="between 1"):
        placebo_effects(fit, [list(range(N0))])
