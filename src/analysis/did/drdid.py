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

Hand-written because DRDID has no Python port we can rely on (csdid's copy had SE bugs) and they
are called hundreds of times per fit, where statsmodels' model set-up would dominate the run time.
The numbers are checked against R (tests/did/test_callaway_santanna.py).

Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences estimators.
    *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

__all__ = [
    "ESTIMATORS",
    "controls_singular",
    "did_nocov",
    "drdid_imp_panel",
    "drdid_panel",
    "logit",
    "newton",
    "reg_did_panel",
    "std_ipw_did_panel",
    "wls",
]

_EPS = np.finfo(float).eps


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
    return X.shape[1] > 1 and bool(1.0 / np.linalg.cond(Xc.T @ Xc, p=1) < _EPS)


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
