"""Two-period (2x2) panel difference-in-differences estimators of Sant'Anna & Zhao (2020).

Ports of the R package ``DRDID``: the building blocks that :func:`analysis.did.callaway_santanna.att_gt`
evaluates once per group-time cell. Each takes the outcome change ``dy`` (n,), the treated-group
dummy ``D`` (n,) and the covariate matrix ``X`` (n, k, first column = intercept) of the units in the
treated group or the comparison group and returns ``(ATT, influence function)``:

* :func:`drdid_panel`: ``DRDID::drdid_panel``, the locally efficient doubly-robust estimator (logit
  propensity score + OLS outcome model), R ``did::att_gt``'s default;
* :func:`drdid_imp_panel`: ``DRDID::drdid_imp_panel``, the improved DR estimator (calibrated
  propensity score + propensity-weighted OLS, Sant'Anna & Zhao 2020, Sec. 3.1);
* :func:`reg_did_panel`: ``DRDID::reg_did_panel`` (outcome regression, Heckman et al. 1997);
* :func:`std_ipw_did_panel`: ``DRDID::std_ipw_did_panel`` (Hajek-normalised IPW, Abadie 2005);
* :func:`did_nocov`: what all four reduce to without covariates, in closed form.

Beside them, two helpers for a doubly-robust ATT on *baseline* covariates (CS with
``est_method="dr"`` and time-invariant ``xformla``): :func:`unit_baseline` (per-unit means before a
period) and :func:`ipw_balance` (the covariate balance that the cohort-specific propensity scores
achieve: standardised differences before and after inverse-propensity weighting).

Hand-written because DRDID has no Python port we can rely on (csdid's copy had SE bugs) and they
are called hundreds of times per fit, where statsmodels' model set-up would dominate the run time.
The numbers are checked against R (tests/did/test_callaway_santanna.py).

Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences estimators.
    *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "ESTIMATORS",
    "RCOND_TOL",
    "controls_singular",
    "did_nocov",
    "drdid_imp_panel",
    "drdid_panel",
    "ipw_balance",
    "logit",
    "newton",
    "reg_did_panel",
    "separated",
    "std_ipw_did_panel",
    "unit_baseline",
    "wls",
]

_EPS = np.finfo(float).eps
RCOND_TOL = 1e-10
"""A matrix is treated as singular when its reciprocal condition number is below this. R did
compares with machine epsilon, but the rcond of an exactly singular matrix is rounding noise of
order eps that differs between CPUs, so a test at eps itself flipped between machines (issue 16);
1e-10 leaves orders of magnitude on both sides (a usable covariance is far above it)."""


def wls(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) least-squares coefficients via a QR-based solver, like R's ``lm``."""
    if w is not None:
        sw = np.sqrt(w)
        X, y = X * sw[:, None], y * sw
    return np.linalg.lstsq(X, y, rcond=None)[0]


def newton(fun, beta: np.ndarray, maxiter: int = 100, tol: float = 1e-11):
    """Damped Newton minimisation of a smooth convex loss ``fun(beta) -> (value, grad, hess)``."""
    val, grad, hess = fun(beta)
    for _ in range(maxiter):
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:  # step halving keeps the iteration monotone (guards against overshooting)
            new = beta - t * step
            nval, ngrad, nhess = fun(new)
            if np.isfinite(nval) and nval <= val + 1e-14 * abs(val) or t < 1e-8:
                break
            t /= 2
        beta, val, grad, hess = new, nval, ngrad, nhess
        if np.max(np.abs(t * step)) < tol * (1 + np.max(np.abs(beta))):
            return beta, True
    return beta, False


def logit(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, bool]:
    """Maximum-likelihood logit coefficients (the ``glm(binomial)`` fit inside DRDID)."""
    n = len(D)
    if X.shape[1] == 1 and np.all(X == X[0, 0]):  # intercept only: closed form (no iterations)
        m = D.mean()
        return np.array([np.log(m / (1 - m)) / X[0, 0]]), True

    def fun(b):
        eta = X @ b
        p = special.expit(eta)
        val = -np.mean(D * eta - np.logaddexp(0, eta))
        grad = -X.T @ (D - p) / n
        hess = (X * (p * (1 - p))[:, None]).T @ X / n
        return val, grad, hess

    return newton(fun, np.zeros(X.shape[1]))


def controls_singular(X: np.ndarray, D: np.ndarray) -> bool:
    """R did skips a cell when the control units' X'X is (numerically) singular."""
    Xc = X[D == 0]
    if Xc.shape[0] == 0:
        return True
    return X.shape[1] > 1 and bool(1.0 / np.linalg.cond(Xc.T @ Xc, p=1) < RCOND_TOL)


def drdid_panel(dy, D, X, gamma=None, trim_level=0.995):
    """Locally efficient DR DiD (Sant'Anna & Zhao 2020, eq. 3.1); port of ``DRDID::drdid_panel``.

    ``gamma``: logit coefficients if already fitted (R did fits the same preliminary logit).
    """
    n = len(D)
    if gamma is None:
        gamma, _ = logit(X, D)
    ps = np.minimum(special.expit(X @ gamma), 1 - 1e-6)
    trim = np.where(D == 0, ps < trim_level, True)
    W = ps * (1 - ps)
    beta = wls(X[D == 0], dy[D == 0])
    resid = dy - X @ beta
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    eta_t = np.mean(w_t * resid) / np.mean(w_t)
    eta_c = np.mean(w_c * resid) / np.mean(w_c)
    att = eta_t - eta_c
    # asymptotic linear representations of the OLS and logit first steps
    c = 1.0 - D
    alr_ols = ((c * resid)[:, None] * X) @ np.linalg.inv((X * c[:, None]).T @ X / n)
    alr_ps = ((D - ps)[:, None] * X) @ (np.linalg.inv((X * W[:, None]).T @ X) * n)
    inf_t = (w_t * resid - w_t * eta_t - alr_ols @ np.mean(w_t[:, None] * X, 0)) / np.mean(w_t)
    m2 = np.mean((w_c * (resid - eta_c))[:, None] * X, 0)
    m3 = np.mean(w_c[:, None] * X, 0)
    inf_c = (w_c * resid - w_c * eta_c + alr_ps @ m2 - alr_ols @ m3) / np.mean(w_c)
    return att, inf_t - inf_c


def drdid_imp_panel(dy, D, X, gamma=None):
    """Improved (bias-reduced) DR DiD; port of ``DRDID::drdid_imp_panel``.

    The propensity score solves the calibration (inverse probability tilting) problem of
    Tan (2019)/Graham et al. (2012), ``min mean(-D x'g + (1-D) exp(x'g))`` (``DRDID:::loss.ps.cal``,
    solved there with ``trust``), started from the logit MLE.
    """
    n = len(D)
    g0 = logit(X, D)[0] if gamma is None else gamma

    def loss(g):
        idx = X @ g
        e = (1 - D) * np.exp(idx)
        return np.mean(-D * idx + e), X.T @ (e - D) / n, (X * e[:, None]).T @ X / n

    gamma, ok = newton(loss, g0, maxiter=1000)
    if not ok:
        warnings.warn("calibrated propensity score did not converge; using the logit MLE")
        gamma = g0
    ps = np.minimum(special.expit(X @ gamma), 1 - 1e-16)
    c = D == 0
    beta = wls(X[c], dy[c], ps[c] / (1 - ps[c]))
    resid = dy - X @ beta
    summand = (1 - (1 - D) / (1 - ps)) * resid
    att = np.mean(summand) / np.mean(D)
    return att, (summand - D * att) / np.mean(D)


def reg_did_panel(dy, D, X, gamma=None):
    """Outcome-regression DiD; port of ``DRDID::reg_did_panel``."""
    n = len(D)
    beta = wls(X[D == 0], dy[D == 0])
    out = X @ beta
    eta_t = np.mean(D * dy) / np.mean(D)
    eta_c = np.mean(D * out) / np.mean(D)
    c = 1.0 - D
    alr_ols = ((c * (dy - out))[:, None] * X) @ np.linalg.inv((X * c[:, None]).T @ X / n)
    inf_t = (D * dy - D * eta_t) / np.mean(D)
    inf_c = (D * out - D * eta_c + alr_ols @ np.mean(D[:, None] * X, 0)) / np.mean(D)
    return eta_t - eta_c, inf_t - inf_c


def std_ipw_did_panel(dy, D, X, gamma=None, trim_level=0.995):
    """Standardised (Hajek) IPW DiD; port of ``DRDID::std_ipw_did_panel``."""
    n = len(D)
    if gamma is None:
        gamma, _ = logit(X, D)
    ps = np.minimum(special.expit(X @ gamma), 1 - 1e-6)
    W = ps * (1 - ps)
    trim = np.where(D == 0, ps < trim_level, True)
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    eta_t = np.mean(w_t * dy) / np.mean(w_t)
    eta_c = np.mean(w_c * dy) / np.mean(w_c)
    alr_ps = ((D - ps)[:, None] * X) @ (np.linalg.inv((X * W[:, None]).T @ X) * n)
    inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
    m2 = np.mean((w_c * (dy - eta_c))[:, None] * X, 0)
    inf_c = (w_c * dy - w_c * eta_c + alr_ps @ m2) / np.mean(w_c)
    return eta_t - eta_c, inf_t - inf_c


def did_nocov(dy, D, trim_level=0.995):
    """Unconditional 2x2 DiD: what all four DRDID estimators reduce to with an intercept only.

    ATT = mean(dy | D=1) - mean(dy | D=0), IF = D (dy - mu1) / p - (1-D) (dy - mu0) / (1-p);
    a closed-form fast path (no logit/OLS set-up), checked against the general code in the tests.
    """
    p = D.mean()
    if p >= trim_level:  # DRDID trims every control (p-score >= 0.995): ATT undefined
        return np.nan, np.full(len(D), np.nan)
    c = 1.0 - D
    mu1 = (D * dy).sum() / D.sum()
    mu0 = (c * dy).sum() / c.sum()
    return mu1 - mu0, D * (dy - mu1) / p - c * (dy - mu0) / (1 - p)


ESTIMATORS = {
    "dr": drdid_panel,
    "dr_imp": drdid_imp_panel,
    "reg": reg_did_panel,
    "ipw": std_ipw_did_panel,
}


# ------------------------------------------------- baseline covariates and propensity balance
def unit_baseline(
    data: pd.DataFrame, idname: str, tname: str, covariates: list[str], before
) -> pd.DataFrame:
    """Per-unit means of ``covariates`` over the periods ``t < before`` (index ``idname``).

    Why: a doubly-robust DiD conditions on covariates that the treatment cannot have moved; means
    over the years before the first adoption are such baseline characteristics (time-invariant, so
    CS's "covariates at the base period" rule does not matter). Units without a pre-period value of
    some covariate get NaN there (the caller decides whether to drop them).
    """
    pre = data[data[tname] < before]
    if pre.empty:
        raise ValueError(f"no observations before {before}: no baseline covariates")
    return pre.groupby(idname)[covariates].mean()


def separated(X: np.ndarray, D: np.ndarray) -> bool:
    """Does a hyperplane separate the treated from the control rows (complete or quasi-complete
    separation, so that the logit MLE does not exist)?

    The linear program of Konis (2007, R ``safeBinaryRegression`` / ``detectseparation``):
    maximise ``sum_i s_i x_i'b`` subject to ``s_i x_i'b >= 0`` and ``-1 <= b <= 1``, with
    ``s_i = +1`` for treated and ``-1`` for control rows, on standardised columns. The optimum is 0
    exactly when the MLE exists and clearly positive otherwise (with one treated unit: when it lies
    outside the convex hull of the controls). Why an LP and not "Newton did not converge" or "a
    fitted probability reached 1 - 1e-10": those thresholds sit on the last bits of an iteration
    that differ between CPUs, and the decision to drop a cohort flipped between machines (issue 16).
    """
    from scipy.optimize import linprog

    scale = X.std(axis=0)
    Z = X / np.where(scale > 0, scale, 1.0) if X.shape[1] > 1 else X
    s = np.where(D > 0, 1.0, -1.0)
    A = s[:, None] * Z
    res = linprog(
        -A.sum(axis=0),
        A_ub=-A,
        b_ub=np.zeros(len(D)),
        bounds=[(-1.0, 1.0)] * Z.shape[1],
        method="highs",
    )
    # not solved (numerically): treat as separated, the cautious answer
    return not res.success or -res.fun > 1e-6 * len(D)


def _cohort_score(x: np.ndarray, treated: np.ndarray) -> np.ndarray | None:
    """Propensity scores of one cohort against its controls (logit with an intercept, the model of
    DRDID); None when the logit MLE does not exist (separation, decided by :func:`separated`) or
    the fit fails."""
    X = np.column_stack([np.ones(len(x)), x])
    if separated(X, treated):
        return None
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            beta, ok = logit(X, treated.astype(float))
    except np.linalg.LinAlgError:
        return None
    p = special.expit(X @ beta)
    if not ok or not np.all(np.isfinite(p)):
        return None
    return p


def ipw_balance(
    x: pd.DataFrame, cohort: pd.Series, control_group: str = "nevertreated"
) -> tuple[pd.DataFrame, list, list]:
    """Covariate balance of a staggered DR/IPW design: standardised mean differences between the
    treated units and the controls before and after inverse-propensity (odds) weighting.

    ``x``: unit-level covariates (index = unit); ``cohort``: first treated period per unit (same
    index; 0 = never treated). Each cohort ``g`` gets its own logit against its controls
    (never-treated units, or with ``"notyettreated"`` the units not treated by ``g``), as in the
    2x2 cells of Callaway & Sant'Anna (2021); control ``i`` of cohort ``g`` is weighted by the odds
    ``p_i / (1 - p_i)`` normalised to sum to one (the ATT weights of Abadie 2005). The weighted
    control mean of the design is the mixture of the cohorts' weighted means with the cohorts'
    shares of treated units. SMD = (mean_T - mean_C) / sqrt((s2_T + s2_C) / 2) with the unweighted
    variances in the denominator before and after (Austin 2009), so the change reflects the means.

    Returns ``(table, kept, dropped)``: the table has one row per covariate (``covariate,
    mean_treated, mean_control, mean_control_weighted, smd_before, smd_after``); ``kept`` and
    ``dropped`` list the cohorts whose logit converged / failed (separation: e.g. a cohort of one
    unit, which no propensity score can be estimated for).
    """
    if control_group not in ("nevertreated", "notyettreated"):
        raise ValueError("control_group must be 'nevertreated' or 'notyettreated'")
    g = cohort.reindex(x.index).fillna(0).to_numpy(float)
    v = x.to_numpy(float)
    kept, dropped, parts = [], [], []
    for c in np.unique(g[g > 0]):
        ctrl = (g == 0) if control_group == "nevertreated" else (g == 0) | (g > c)
        rows = (g == c) | ctrl
        p = _cohort_score(v[rows], (g == c)[rows]) if ctrl.any() else None
        if p is None:
            dropped.append(_plain(c))
            continue
        kept.append(_plain(c))
        odds = np.where((g == c)[rows], 0.0, p / (1 - p))
        parts.append(((g == c).sum(), odds @ v[rows] / odds.sum()))
    if not parts:
        raise ValueError("no cohort has an estimable propensity score")
    n1 = np.array([n for n, _ in parts], dtype=float)
    weighted = (n1[:, None] * np.array([m for _, m in parts])).sum(axis=0) / n1.sum()
    treated = np.isin(g, kept)
    # unweighted comparison: the never-treated units (not-yet-treated: those untreated when the
    # first kept cohort starts)
    controls = (g == 0) if control_group == "nevertreated" else (g == 0) | (g > min(kept))
    mt, mc = v[treated].mean(axis=0), v[controls].mean(axis=0)
    pooled = np.sqrt((v[treated].var(axis=0, ddof=1) + v[controls].var(axis=0, ddof=1)) / 2)
    table = pd.DataFrame(
        {
            "covariate": list(x.columns),
            "mean_treated": mt,
            "mean_control": mc,
            "mean_control_weighted": weighted,
            "smd_before": (mt - mc) / pooled,
            "smd_after": (mt - weighted) / pooled,
        }
    )
    return table, kept, dropped


def _plain(value) -> int | float:
    """A cohort label as a plain number (an int when integral: 2016, not 2016.0)."""
    value = float(value)
    return int(value) if value.is_integer() else value
