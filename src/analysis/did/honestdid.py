"""HonestDiD sensitivity analysis for event studies (Rambachan & Roth 2023).

Rambachan, A. and Roth, J. (2023). "A More Credible Approach to Parallel Trends."
*Review of Economic Studies* 90(5), 2555-2591. Inference uses Andrews, Roth & Pakes (2023,
"Inference for linear conditional moment inequalities", REStud) and the FLCI of Armstrong &
Kolesar (2018).

Ported from the R package HonestDiD (github.com/asheshrambachan/HonestDiD): R/deltarm.R
(Delta^RM matrices, union over the period ``s`` and sign of the largest pre-period violation),
R/arp-nuisance.R (conditional / least-favorable hybrid test with nuisance parameters),
R/arp-nonuisance.R (the same without nuisance parameters, one post period), R/flci.R (optimal
FLCI for Delta^SD(M)) and R/sensitivityresults.R (``createSensitivityResults``,
``createSensitivityResults_relativeMagnitudes``, ``constructOriginalCS``). The PyPI ``honestdid``
package is not used because it pulls in torch.

Two implementation choices, both to reproduce the published R numbers digit for digit:

* Monte Carlo pieces (least-favorable critical value: 1,000 draws; folded-normal quantile:
  10^6 draws) use R's own random stream with ``seed`` (see ``_rrng``).
* The ARP linear program ``min eta s.t. y - X delta <= eta * sd`` is solved through its dual,
  ``max mu'(y/sd) s.t. mu >= 0, sum(mu) = 1, (X/sd)'mu = 0``, whose vertices depend only on
  (X, sd) and not on theta or the simulation draw. Enumerating them once turns the 10^4-10^5 LPs
  of a grid inversion into one matrix product (the R code solves one LP per grid point).
  Degenerate or rank-deficient points fall back to R's dual bisection algorithm (scipy HiGHS).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from math import comb

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.did.results import tidy_frame
from analysis.did.rng import RRandom

# --------------------------------------------------------------------------- small helpers


def _basis(index: int, size: int) -> np.ndarray:
    v = np.zeros(size)
    v[index] = 1.0
    return v


def _check_inputs(betahat, sigma, num_pre: int, num_post: int, l_vec):
    betahat = np.asarray(betahat, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    if sigma.shape != (betahat.size, betahat.size):
        raise ValueError(f"sigma {sigma.shape} does not conform with betahat ({betahat.size})")
    if num_pre + num_post != betahat.size:
        raise ValueError("numPrePeriods + numPostPeriods must equal len(betahat)")
    l_vec = _basis(0, num_post) if l_vec is None else np.asarray(l_vec, dtype=float).ravel()
    if l_vec.size != num_post:
        raise ValueError("l_vec must have numPostPeriods elements")
    return betahat, sigma, l_vec


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with l' as first row (pivot columns of rref([l, I]), as in R)."""
    n = l_vec.size
    B = np.column_stack([l_vec, np.eye(n)])
    cols: list[int] = []
    for j in range(B.shape[1]):
        if np.linalg.matrix_rank(B[:, cols + [j]]) > len(cols):
            cols.append(j)
        if len(cols) == n:
            break
    return B[:, cols].T


def _norminvp(p: float, lo: float, hi: float) -> float:
    """Quantile of N(0,1) truncated to [lo, hi] (TruncatedNormal::norminvp)."""
    return float(stats.truncnorm.ppf(p, lo, hi))


def _r_quantile(x: np.ndarray, p: float) -> float:
    """R's default (type 7) quantile, dropping NaN like ``na.rm = TRUE``."""
    x = x[~np.isnan(x)]
    return float(np.quantile(x, p)) if x.size else np.nan


# --------------------------------------------------------------------------- original CI


def original_cs(
    betahat, sigma, numPrePeriods: int, numPostPeriods: int, l_vec=None, alpha: float = 0.05
) -> tuple[float, float]:
    """Conventional CI for l'beta_post (HonestDiD::constructOriginalCS)."""
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec)
    post = slice(numPrePeriods, numPrePeriods + numPostPeriods)
    est = float(l_vec @ betahat[post])
    se = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    return est - z * se, est + z * se


# --------------------------------------------------------------------------- FLCI for Delta^SD


_HMIN_REL_TOL = 1e-5  # OSQP-level tolerance of R's variance minimisation (see find_optimal_flci)


class _FoldedNormal:
    """p-quantile of |N(mu, 1)| from R's 10^6 simulated draws (HonestDiD's .qfoldednormal)."""

    def __init__(self, seed: int = 0, num_sims: int = 10**6):
        self.draws = RRandom(seed).rnorm(num_sims)
        self._sorted = None

    def quantile(self, p: float, mu: float) -> float:
        """``np.quantile(np.abs(self.draws + mu), p)`` (its "linear" method), the same number.

        Why not that call: it partitions 10^6 values, ~6 ms, and the FLCI's bisection asks for
        hundreds of quantiles (most of HonestDiD's smoothness time). With the draws sorted once,
        ``|d + mu|`` is two sorted runs (``d < -mu`` read backwards, then ``d >= -mu``; a float
        sum with a constant is monotone), and an order statistic of two sorted runs is a binary
        search; the interpolation below is numpy's (``_lerp``)."""
        if self._sorted is None:
            self._sorted = np.sort(self.draws)
        n = len(self._sorted)
        v = (n - 1) * p  # numpy's virtual index for "linear"
        if v >= n - 1:
            return float(self._order_stat(n - 1, mu))
        if v < 0:
            return float(self._order_stat(0, mu))
        lo = int(np.floor(v))
        a, b = self._order_stat(lo, mu), self._order_stat(lo + 1, mu)
        gamma = v - lo
        diff = b - a
        return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)

    def _order_stat(self, k: int, mu: float) -> np.float64:
        """The k-th smallest (from 0) of ``|d + mu|`` over the draws ``d``."""
        s = self._sorted
        j = int(np.searchsorted(s, -mu, side="left"))  # s[:j] + mu < 0 <= s[j:] + mu
        n_left, n_right = j, len(s) - j

        def left(i):  # i-th smallest of |s + mu| among s < -mu
            return -(s[j - 1 - i] + mu)

        def right(i):  # i-th smallest among s >= -mu
            return s[j + i] + mu

        # take i values from the left run and k + 1 - i from the right one: the smallest i with
        # left(i) >= right(k - i) makes them the k + 1 smallest
        lo, hi = max(0, k + 1 - n_right), min(n_left, k + 1)
        while lo < hi:
            i = (lo + hi) // 2
            if left(i) < right(k - i):
                lo = i + 1
            else:
                hi = i
        candidates = ([left(lo - 1)] if lo > 0 else []) + (
            [right(k - lo)] if k + 1 - lo > 0 else []
        )
        return max(candidates)


def _flci_variance_terms(sigma, num_pre: int, l_vec):
    """Variance of the affine estimator as a quadratic in the pre-period weights w."""
    pre = slice(0, num_pre)
    post = slice(num_pre, None)
    w_to_l = np.eye(num_pre) - np.eye(num_pre, k=-1)  # l_pre = first differences of w
    Q = w_to_l.T @ sigma[pre, pre] @ w_to_l
    q = 2 * w_to_l.T @ sigma[pre, post] @ l_vec
    c = float(l_vec @ sigma[post, post] @ l_vec)
    return Q, q, c, w_to_l


class _FLCIProblem:
    """Worst-case bias of the affine estimator over Delta^SD(M=1) given its SD (R/flci.R)."""

    def __init__(self, sigma, num_pre: int, num_post: int, l_vec):
        import cvxpy as cp

        self.num_pre = num_pre
        self.Q, self.q, self.c, self.w_to_l = _flci_variance_terms(sigma, num_pre, l_vec)
        t = np.arange(1, num_post + 1)
        self.sum_w = float(t @ l_vec)
        self.bias_const = (
            sum(abs(np.arange(1, s + 1) @ l_vec[num_post - s :]) for s in range(1, num_post + 1))
            - self.sum_w
        )
        # Parametrised SOCP: min sum|cumsum(w)| s.t. sum(w) = sum_t t*l_t, Var(w)/h^2 <= 1
        # (the variance is divided by h^2 so the cone is well scaled whatever the units of y).
        self._w = cp.Variable(num_pre)
        self._inv_h = cp.Parameter(nonneg=True)
        self._inv_h2 = cp.Parameter(nonneg=True)
        root = np.linalg.cholesky(self.Q + 1e-14 * np.trace(self.Q) * np.eye(num_pre)).T
        var_scaled = (
            cp.sum_squares(self._inv_h * (root @ self._w))
            + self._inv_h2 * (self.q @ self._w)
            + self._inv_h2 * self.c
        )
        self._prob = cp.Problem(
            cp.Minimize(cp.sum(cp.abs(cp.cumsum(self._w)))),
            [cp.sum(self._w) == self.sum_w, var_scaled <= 1],
        )
        self._cache: dict[float, tuple[float, np.ndarray | None]] = {}

    def variance(self, w: np.ndarray) -> float:
        return float(w @ self.Q @ w + self.q @ w + self.c)

    def h_min(self) -> tuple[float, np.ndarray]:
        """Minimum-variance weights (equality-constrained QP, solved in closed form)."""
        n = self.num_pre
        kkt = np.block([[2 * self.Q, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
        sol = np.linalg.solve(kkt, np.concatenate([-self.q, [self.sum_w]]))
        w = sol[:n]
        return float(np.sqrt(self.variance(w))), w

    def h_min_bias(self) -> float:
        """SD of the estimator that minimises worst-case bias (all weight on the last pre period)."""
        w = np.zeros(self.num_pre)
        w[-1] = self.sum_w
        return float(np.sqrt(self.variance(w)))

    def bias(self, h: float) -> tuple[float, np.ndarray | None]:
        """(worst-case bias for M = 1, optimal w) at SD bound h; (inf, None) if infeasible."""
        import cvxpy as cp

        if h in self._cache:
            return self._cache[h]
        self._inv_h.value, self._inv_h2.value = 1 / h, 1 / (h * h)
        with warnings.catch_warnings():  # at h = hMin the feasible set is a single point
            warnings.simplefilter("ignore")
            for solver in ("CLARABEL", "SCS"):
                try:
                    self._prob.solve(solver=solver)
                    break
                except cp.error.SolverError:  # a failed solve counts as infeasible (as in R)
                    continue
        if self._prob.status in ("optimal", "optimal_inaccurate"):
            out = (float(self._prob.value) + self.bias_const, np.asarray(self._w.value).copy())
        else:
            out = (np.inf, None)
        self._cache[h] = out
        return out


def _flci_halflength(prob: _FLCIProblem, fold: _FoldedNormal, h: float, M: float, alpha: float):
    b, _ = prob.bias(h)
    if not np.isfinite(b):
        return np.nan
    return fold.quantile(1 - alpha, M * b / h) * h


def _optimal_h(prob, fold, a: float, b: float, M: float, alpha: float, num_points: int = 100):
    """Bisection on numerical derivatives of the convex half-length (R's
    .findOptimalCIDerivativeBisection); falls back to a grid over [a, b] like R."""
    f = lambda h: _flci_halflength(prob, fold, h, M, alpha)
    failtol = np.finfo(float).eps ** 0.5
    dif = min((b - a) / num_points, abs(b) * np.finfo(float).eps ** (1 / 3))
    fa, fb = f(a), f(b)
    fpa = (f(a + dif) - fa) / dif
    fpb = (f(b - dif) - fb) / -dif
    maxiter = 10 * int(np.ceil(np.log(abs(b - a) / dif) / np.log(2)))
    failed, it = False, 1
    if fpa > fpb or np.isnan(fa) or np.isnan(fb):
        failed = True
    elif fpb < 0:
        return b
    elif fpa > 0:
        return a
    else:
        while not failed and abs(b - a) > dif:
            it += 1
            x = (a + b) / 2
            fpx = (f(x + dif) - f(x - dif)) / (2 * dif)
            failed = (fpx > fpb + failtol) or (fpx + failtol < fpa) or it > maxiter
            if fpx > 0:
                b = x
            else:
                a = x
        if not failed:
            return (a + b) / 2
    grid = np.linspace(a, b, num_points)
    lengths = np.array([f(h) for h in grid])
    return float(grid[np.nanargmin(lengths)])


def find_optimal_flci(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    M: float = 0.0,
    l_vec=None,
    alpha: float = 0.05,
    seed: int = 0,
    _cache=None,
) -> dict:
    """Optimal fixed-length CI for l'tau_post under Delta^SD(M) (HonestDiD::findOptimalFLCI)."""
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec)
    prob, fold = _cache or (
        _FLCIProblem(sigma, numPrePeriods, numPostPeriods, l_vec),
        _FoldedNormal(seed),
    )
    h0 = prob.h_min_bias()
    h_min, w_min = prob.h_min()
    # R takes hMin from a numerical QP solve (CVXR), i.e. slightly above the exact minimum. At
    # M = 0 the optimum sits at hMin, where the bias-minimising weights (and so the FLCI centre)
    # move like sqrt(h - hMin): the exact-arithmetic answer and R's differ in the 3rd digit. A
    # relative slack at the QP solver's tolerance reproduces R and keeps the SOCP strictly feasible.
    h_min *= 1 + _HMIN_REL_TOL
    hstar = _optimal_h(prob, fold, h_min, h0, M, alpha)
    bias, w = prob.bias(hstar)
    if w is None:  # SD bound at the exact minimum: the feasible set is the min-variance point
        w, bias = w_min, float(np.sum(np.abs(np.cumsum(w_min)))) + prob.bias_const
    half = fold.quantile(1 - alpha, M * bias / hstar) * hstar
    optimal_vec = np.concatenate([prob.w_to_l @ w, l_vec])
    centre = float(optimal_vec @ betahat)
    return {
        "FLCI": (centre - half, centre + half),
        "optimalVec": optimal_vec,
        "optimalHalfLength": half,
        "h": hstar,
        "M": M,
    }


def sensitivity_sd(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    Mvec=None,
    l_vec=None,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """FLCIs over a vector of M for Delta^SD(M) (createSensitivityResults, method="FLCI")."""
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec)
    if Mvec is None:
        Mvec = np.linspace(0, _delta_sd_upper_bound_mpre(betahat, sigma, numPrePeriods), 10)
    cache = (_FLCIProblem(sigma, numPrePeriods, numPostPeriods, l_vec), _FoldedNormal(seed))
    rows = []
    for M in np.atleast_1d(Mvec):
        res = find_optimal_flci(
            betahat,
            sigma,
            numPrePeriods,
            numPostPeriods,
            float(M),
            l_vec,
            alpha,
            seed,
            _cache=cache,
        )
        rows.append((float(M), *res["FLCI"], "FLCI", "DeltaSD"))
    return pd.DataFrame(rows, columns=["M", "lb", "ub", "method", "delta"])


def _delta_sd_upper_bound_mpre(betahat, sigma, num_pre: int, alpha: float = 0.05) -> float:
    """Default M grid end: largest one-sided upper bound on pre-period second differences
    (HonestDiD::DeltaSD_upperBound_Mpre); sd of the first coefficient if one pre period."""
    if num_pre == 1:
        return float(np.sqrt(sigma[0, 0]))
    n = num_pre + 1  # pre periods plus the normalised reference period
    A = np.zeros((n - 2, n))
    for r in range(n - 2):
        A[r, r : r + 3] = [1, -2, 1]
    A = np.vstack([A, -A])[:, :num_pre]  # drop the reference period (delta_0 = 0)
    diffs = A @ betahat[:num_pre]
    se = np.sqrt(np.diag(A @ sigma[:num_pre, :num_pre] @ A.T))
    return float(np.max(diffs + stats.norm.ppf(1 - alpha) * se))


# --------------------------------------------------------------------------- ARP test machinery


class _ARPMoments:
    """Moments y(theta) = Y - a*theta, nuisance design X, covariance S of the ARP test
    (R: .ARP_computeCI / .lp_conditional_test_fn), with the dual vertices enumerated once."""

    TOL_LAMBDA = 1e-6

    def __init__(self, X: np.ndarray, sigma: np.ndarray):
        self.X = X.reshape(X.shape[0], -1)
        self.sigma = sigma
        self.m, self.k = self.X.shape
        self.sd = np.sqrt(np.diag(sigma))
        self.vertices = self._dual_vertices()

    def _dual_vertices(self) -> np.ndarray | None:
        """Vertices of {mu >= 0, 1'mu = 1, (X/sd)'mu = 0}; None if too many to enumerate."""
        Bn = self.X / self.sd[:, None]
        size = self.k + 1
        if comb(self.m, size) > 20000:  # too many bases: solve each LP with HiGHS instead
            return None
        rhs = _basis(0, size)
        # every candidate basis at once: the stacked condition numbers and solves are the
        # per-matrix LAPACK calls of a loop over the combinations (up to 20,000 of them, 81,000
        # Python-level cond/solve calls in the robustness check), in one gufunc call each
        combos = np.array(list(itertools.combinations(range(self.m), size)), dtype=np.intp)
        if not len(combos):
            return np.empty((0, self.m))
        M = np.empty((len(combos), size, size))
        M[:, 0, :] = 1.0
        M[:, 1:, :] = np.swapaxes(Bn[combos], 1, 2)
        basis = ~(np.linalg.cond(M) > 1e12)  # not a basis otherwise
        combos, M = combos[basis], M[basis]
        if not len(combos):
            return np.empty((0, self.m))
        mu_S = np.linalg.solve(M, rhs)
        feasible = (mu_S >= -1e-10).all(axis=1)
        if not feasible.any():
            return np.empty((0, self.m))
        combos, mu_S = combos[feasible], mu_S[feasible]
        verts = np.zeros((len(combos), self.m))
        np.put_along_axis(verts, combos, np.clip(mu_S, 0, None), axis=1)
        return np.unique(np.round(verts, 14), axis=0)

    # ---- eta (LP value) and its dual, vectorised over columns of Y (m x n)
    def eta(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (eta_star, index of maximising dual vertex) for each column of Y."""
        if self.vertices is None:
            etas, idx = zip(*(self._eta_lp(y) for y in Y.T))
            return np.array(etas), np.array(idx)
        if len(self.vertices) == 0:  # primal unbounded: R flags an LP error
            return np.full(Y.shape[1], -np.inf), np.full(Y.shape[1], -1)
        vals = self.vertices @ (Y / self.sd[:, None])
        idx = np.argmax(vals, axis=0)
        return vals[idx, np.arange(Y.shape[1])], idx

    def _eta_lp(self, y):
        res = optimize.linprog(
            np.r_[1.0, np.zeros(self.k)],
            A_ub=-np.column_stack([self.sd, self.X]),
            b_ub=-y,
            bounds=[(None, None)] * (self.k + 1),
            method="highs",
        )
        if res.status != 0:
            return -np.inf, -1  # unbounded / failed: R does not reject
        return res.fun, -2  # -2: take the dual from the LP in ``lam``

    def lam(self, y, idx) -> np.ndarray:
        if idx >= 0 and self.vertices is not None:
            return self.vertices[idx] / self.sd
        res = optimize.linprog(
            np.r_[1.0, np.zeros(self.k)],
            A_ub=-np.column_stack([self.sd, self.X]),
            b_ub=-y,
            bounds=[(None, None)] * (self.k + 1),
            method="highs",
        )
        return -res.ineqlin.marginals

    # ---- primal conditioning quantities for one set of binding moments
    def primal_terms(self, lam: np.ndarray) -> dict | None:
        B = lam > self.TOL_LAMBDA
        if B.sum() != self.k + 1:
            return None  # degenerate: R switches to the dual approach
        XB = self.X[B]
        if self.k > 0 and np.linalg.matrix_rank(XB) < min(XB.shape):
            return None
        W_B = np.column_stack([self.sd[B], XB])
        W_Bc = np.column_stack([self.sd[~B], self.X[~B]])
        S_B = np.eye(self.m)[B]
        S_Bc = np.eye(self.m)[~B]
        W_inv = np.linalg.inv(W_B)
        Gamma_B = W_Bc @ W_inv @ S_B - S_Bc
        v_B = W_inv[0] @ S_B
        s2 = float(v_B @ self.sigma @ v_B)
        rho = Gamma_B @ self.sigma @ v_B / s2
        return {"Gamma_B": Gamma_B, "v_B": v_B, "sigma_B": np.sqrt(s2), "rho": rho}


def _lf_cv(mom: _ARPMoments, kappa: float, seed: int = 0, sims: int = 1000) -> float:
    """Least-favorable critical value: 1-kappa quantile of eta under y ~ N(0, Sigma)
    (R: .compute_least_favorable_cv, nuisance case, with R's draws)."""
    xi = RRandom(seed).rmvnorm(sims, mom.sigma)
    eta, _ = mom.eta(xi.T)
    eta = np.where(np.isfinite(eta), eta, np.nan)
    return _r_quantile(eta, 1 - kappa)


def _max_program(mom: _ARPMoments, s_T, gamma, c):
    """R's .max_program: max f'x s.t. [sd, X]'x = e1, x >= 0 -> (value, argmax x).

    The feasible set is the dual polytope of the eta LP, so with its vertices known the LP is a
    max over vertices (scaled back from mu to x = mu / sd); otherwise HiGHS solves it.
    """
    f = s_T + (mom.sigma @ gamma) / float(gamma @ mom.sigma @ gamma) * c
    if mom.vertices is not None:
        if len(mom.vertices) == 0:
            return np.nan, None
        X = mom.vertices / mom.sd
        vals = X @ f
        i = int(np.argmax(vals))
        return float(vals[i]), X[i]
    W_T = np.column_stack([mom.sd, mom.X])
    res = optimize.linprog(
        -f, A_eq=W_T.T, b_eq=_basis(0, W_T.shape[1]), bounds=[(0, None)] * len(f), method="highs"
    )
    return (-res.fun, res.x) if res.status == 0 else (np.nan, None)


def _vlo_vup_dual(mom: _ARPMoments, eta: float, s_T, gamma):
    """Truncation points [vlo, vup] for the dual approach by R's shortcut iteration + bisection
    (R: .vlo_vup_dual_fn, tolerances 1e-6)."""
    tol_c, tol_eq = 1e-6, 1e-6
    sigma_B = np.sqrt(gamma @ mom.sigma @ gamma)
    low_init, high_init = min(-100, eta - 20 * sigma_B), max(100, eta + 20 * sigma_B)
    maxiters, switchiters = 10000, 10
    b = (mom.sigma @ gamma) / float(gamma @ mom.sigma @ gamma)
    eps34 = np.finfo(float).eps ** 0.75

    def check(c):
        val, x = _max_program(mom, s_T, gamma, c)
        return (not np.isnan(val)) and abs(c - val) <= tol_eq, x

    def shortcut(x):
        num = x @ s_T
        return (0.0 if abs(num) < eps34 else num) / (1 - x @ b)

    if not check(eta)[0]:
        return eta, np.inf

    def side(start, upper: bool):
        ok, x = check(start)
        if ok:
            return np.inf if upper else -np.inf
        dif, iters = 0.0, 1
        mid = shortcut(x)
        while True:
            ok, x = check(mid)
            if ok or iters >= maxiters:
                break
            iters += 1
            if iters >= switchiters:
                dif = tol_c + 1
                break
            mid = shortcut(x)
        lo, hi = (eta, mid) if upper else (mid, eta)
        while dif > tol_c and iters < maxiters:
            iters += 1
            mid = (lo + hi) / 2
            inside = check(mid)[0]
            if upper:
                lo, hi = (mid, hi) if inside else (lo, mid)
            else:
                lo, hi = (lo, mid) if inside else (mid, hi)
            dif = hi - lo
        return mid

    return side(low_init, upper=False), side(high_init, upper=True)


def _arp_test_grid(
    mom: _ARPMoments, Y: np.ndarray, alpha: float, hybrid: str, kappa: float, lf_cv: float
) -> np.ndarray:
    """Reject indicators of the ARP (hybrid) test for each column y of Y (m x n)
    (R: .lp_conditional_test_fn), vectorised over columns sharing the same binding moments."""
    n = Y.shape[1]
    eta, idx = mom.eta(Y)
    reject = np.zeros(n, dtype=bool)
    if hybrid == "LF":
        mod_size = (alpha - kappa) / (1 - kappa)
        reject |= eta > lf_cv  # first stage: least-favorable test
        cap = lf_cv
    else:
        mod_size, cap = alpha, np.inf
    todo = ~reject & np.isfinite(eta)  # eta = -inf: LP failed, R does not reject
    zlo, zup, stat = (np.full(n, np.nan) for _ in range(3))

    def primal(cols, terms):
        Yc = Y[:, cols]
        rho = terms["rho"]
        vals = (-terms["Gamma_B"] @ Yc) / rho[:, None] + terms["v_B"] @ Yc
        vlo = vals[rho > 0].max(axis=0) if (rho > 0).any() else np.full(len(cols), -np.inf)
        vup = vals[rho < 0].min(axis=0) if (rho < 0).any() else np.full(len(cols), np.inf)
        sB = terms["sigma_B"]
        zlo[cols], zup[cols], stat[cols] = vlo / sB, np.minimum(vup, cap) / sB, eta[cols] / sB

    def dual(j, lam):
        s2 = float(lam @ mom.sigma @ lam)
        if abs(s2) < np.finfo(float).eps:  # R: reject iff eta > 0
            reject[j] = eta[j] > 0
            return
        y = Y[:, j]
        s_T = y - (mom.sigma @ lam) * (lam @ y) / s2
        vlo, vup = _vlo_vup_dual(mom, eta[j], s_T, lam)
        sB = np.sqrt(s2)
        zlo[j], zup[j], stat[j] = vlo / sB, min(vup, cap) / sB, eta[j] / sB

    for key in np.unique(idx[todo]):
        cols = np.flatnonzero(todo & (idx == key))
        if key >= 0:  # shared dual vertex: binding set and primal terms are common
            lam = mom.vertices[key] / mom.sd
            terms = mom.primal_terms(lam)
            if terms is not None:
                primal(cols, terms)
            else:
                for j in cols:
                    dual(j, lam)
        else:  # vertices not enumerated: dual from HiGHS, point by point
            for j in cols:
                lam = mom.lam(Y[:, j], -2)
                terms = mom.primal_terms(lam)
                if terms is not None:
                    primal(np.array([j]), terms)
                else:
                    dual(j, lam)
    live = todo & ~np.isnan(stat) & (zlo <= stat) & (stat <= zup)  # else: do not reject
    if live.any():
        cval = np.maximum(0.0, stats.truncnorm.ppf(1 - mod_size, zlo[live], zup[live]))
        reject[live] = stat[live] > cval
    return reject


def _nonuis_test_grid(Y, sigma, alpha, hybrid, kappa, lf_cv) -> np.ndarray:
    """ARP test without nuisance parameters (one post period, d = 0), for each column of Y
    (R: .testInIdentifiedSet / .testInIdentifiedSet_LF_Hybrid), vectorised by binding moment."""
    sd = np.sqrt(np.diag(sigma))
    Z = Y / sd[:, None]  # normalised moments
    loc = np.argmax(Z, axis=0)
    stat = Z[loc, np.arange(Y.shape[1])]
    reject = np.zeros(Y.shape[1], dtype=bool)
    size = alpha
    if hybrid == "LF":
        size = (alpha - kappa) / (1 - kappa)
        reject |= stat > lf_cv
    vlo = np.full(Y.shape[1], -np.inf)
    vup = np.full(Y.shape[1], np.inf)
    for l in np.unique(loc[~reject]):
        cols = np.flatnonzero((loc == l) & ~reject)
        # gamma = e_l / sd_l has unit variance; c = Sigma gamma; z = y - c * gamma'y
        c = sigma[:, l] / sd[l]
        Zc = Z[:, cols] - (c / sd)[:, None] * stat[cols]  # diag(1/sd) z
        Abar_z = Zc - Zc[l]  # (A-tilde - 1 e_l' A-tilde) z
        Ac = c / sd - c[l] / sd[l]
        with np.errstate(divide="ignore", invalid="ignore"):
            obj = -Abar_z / Ac[:, None]
        if (Ac < 0).any():
            vlo[cols] = obj[Ac < 0].max(axis=0)
        if (Ac > 0).any():
            vup[cols] = obj[Ac > 0].min(axis=0)
    live = ~reject
    if live.any():
        cval = np.maximum(0.0, stats.truncnorm.ppf(1 - size, vlo[live], vup[live]))
        reject[live] = stat[live] > cval
    return reject


# --------------------------------------------------------------------------- Delta^RM


def _create_A_RM(num_pre: int, num_post: int, Mbar: float, s: int, max_positive: bool):
    """Constraint matrix of Delta^RM_{s,(+/-)}(Mbar): |first diffs| <= Mbar * (diff at s)."""
    n = num_pre + num_post
    Atilde = np.zeros((n, n + 1))
    for r in range(n):
        Atilde[r, r : r + 2] = [-1, 1]
    v = np.zeros(n + 1)
    v[num_pre + s - 1 : num_pre + s + 1] = [-1, 1]
    if not max_positive:
        v = -v
    A_UB = np.vstack([np.tile(v, (num_pre, 1)), np.tile(Mbar * v, (num_post, 1))])
    A = np.vstack([Atilde - A_UB, -Atilde - A_UB])
    A = A[(A * A).sum(axis=1) > 1e-10]
    return np.delete(A, num_pre, axis=1)  # drop the normalised reference period


def conditional_cs_rm(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    Mbar: float = 0.0,
    l_vec=None,
    alpha: float = 0.05,
    hybrid_flag: str = "LF",
    hybrid_kappa: float | None = None,
    gridPoints: int = 1000,
    grid_lb: float | None = None,
    grid_ub: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Accept/reject grid of the ARP (hybrid) confidence set for l'tau under Delta^RM(Mbar)
    (HonestDiD::computeConditionalCS_DeltaRM, postPeriodMomentsOnly = TRUE)."""
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec)
    if hybrid_flag not in ("LF", "ARP"):
        raise ValueError("hybrid_flag must be 'LF' or 'ARP'")
    kappa = alpha / 10 if hybrid_kappa is None else hybrid_kappa
    post = slice(numPrePeriods, numPrePeriods + numPostPeriods)
    sd_theta = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    grid_lb = -20 * sd_theta if grid_lb is None else grid_lb
    grid_ub = 20 * sd_theta if grid_ub is None else grid_ub
    grid = np.linspace(grid_lb, grid_ub, gridPoints)
    accept = np.zeros(gridPoints, dtype=bool)
    Gamma_inv = np.linalg.inv(_construct_gamma(l_vec))
    for s in range(-(numPrePeriods - 1), 1):
        for positive in (True, False):
            A = _create_A_RM(numPrePeriods, numPostPeriods, Mbar, s, positive)
            if numPostPeriods > 1:
                rows = np.flatnonzero((A[:, post] != 0).any(axis=1))
            else:
                rows = np.flatnonzero(A[:, -1] != 0)
            Y = A @ betahat  # d = 0 for Delta^RM
            SY = A @ sigma @ A.T
            AG = A[:, post] @ Gamma_inv
            Yth = Y[rows, None] - AG[rows, 0:1] * grid[None, :]
            Srows = SY[np.ix_(rows, rows)]
            if numPostPeriods == 1:
                lf = np.inf
                if hybrid_flag == "LF":
                    draws = RRandom(seed).rmvnorm(1000, Srows) / np.sqrt(np.diag(Srows))
                    lf = _r_quantile(draws.max(axis=1), 1 - kappa)
                rej = _nonuis_test_grid(Yth, Srows, alpha, hybrid_flag, kappa, lf)
            else:
                mom = _ARPMoments(AG[rows, 1:], Srows)
                lf = _lf_cv(mom, kappa, seed) if hybrid_flag == "LF" else np.inf
                rej = _arp_test_grid(mom, Yth, alpha, hybrid_flag, kappa, lf)
            accept |= ~rej
    return pd.DataFrame({"grid": grid, "accept": accept.astype(int)})


def sensitivity_rm(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    Mbarvec=None,
    l_vec=None,
    alpha: float = 0.05,
    method: str = "C-LF",
    gridPoints: int = 1000,
    grid_lb: float | None = None,
    grid_ub: float | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Robust CIs over Mbar for Delta^RM(Mbar) (createSensitivityResults_relativeMagnitudes)."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    hybrid = {"C-LF": "LF", "Conditional": "ARP"}[method]
    Mbarvec = np.linspace(0, 2, 10) if Mbarvec is None else np.atleast_1d(Mbarvec)

    def one(Mbar):
        g = conditional_cs_rm(
            betahat,
            sigma,
            numPrePeriods,
            numPostPeriods,
            float(Mbar),
            l_vec,
            alpha,
            hybrid,
            None,
            gridPoints,
            grid_lb,
            grid_ub,
            seed,
        )
        acc = g.loc[g["accept"] == 1, "grid"]
        lb, ub = (acc.min(), acc.max()) if len(acc) else (np.nan, np.nan)
        return (float(Mbar), lb, ub, method, "DeltaRM")

    items = tqdm(Mbarvec, disable=not progress, desc="Delta^RM")
    rows = (
        Parallel(n_jobs=n_jobs)(delayed(one)(m) for m in items)
        if n_jobs != 1
        else [one(m) for m in items]
    )
    return pd.DataFrame(rows, columns=["M", "lb", "ub", "method", "delta"])


# --------------------------------------------------------------------------- breakdown values


def _includes_zero(frame: pd.DataFrame) -> bool:
    lb, ub = float(frame["lb"].iloc[0]), float(frame["ub"].iloc[0])
    return bool(lb <= 0 <= ub)


def breakdown_values(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    results: pd.DataFrame,
    l_vec=None,
    alpha: float = 0.05,
    gridPoints: int = 1000,
    grid: str = "default",
    seed: int = 0,
    steps: int = 6,
) -> dict:
    """Breakdown value of each restriction in ``results`` (``HonestDiDResult.results``): the
    smallest M (Mbar for Delta^RM) whose robust CI includes zero.

    Read off the grid of ``results``, then refined by ``steps`` bisections between the last grid
    value whose CI excludes zero and the first that includes it (the robust CIs widen with M, so
    the set of M whose CI includes zero is an interval). ``grid`` and ``gridPoints`` must be those
    ``results`` were computed with (see :func:`honest_did`).

    Returns ``{delta: {"value", "grid_value", "bracket", "reached", "grid_max"}}``: ``value`` the
    smallest M found whose CI includes zero (within ``bracket = [lo, value]``: the breakdown lies
    in it), ``grid_value`` the grid's; both None (``reached`` False) when zero is never included up
    to ``grid_max``."""
    out = {}
    for delta, sub in results.groupby("delta", sort=False):
        sub = sub.sort_values("M")
        Ms = sub["M"].to_numpy(float)
        cover = ((sub["lb"] <= 0) & (sub["ub"] >= 0)).to_numpy()
        entry = {"value": None, "grid_value": None, "bracket": None, "reached": False}
        entry["grid_max"] = float(Ms.max()) if Ms.size else None
        if cover.any():
            i = int(np.argmax(cover))
            hi = float(Ms[i])
            lo = float(Ms[i - 1]) if i > 0 else hi
            kind = "smoothness" if delta == "DeltaSD" else "relative_magnitude"
            for _ in range(steps if i > 0 else 0):
                mid = (lo + hi) / 2
                key = "Mvec" if kind == "smoothness" else "Mbarvec"
                res = honest_did(
                    betahat, sigma, numPrePeriods, numPostPeriods, l_vec=l_vec, alpha=alpha,
                    type=kind, gridPoints=gridPoints, seed=seed, grid=grid, **{key: [mid]},
                ).results  # fmt: skip
                if _includes_zero(res):
                    hi = mid
                else:
                    lo = mid
            entry.update(value=hi, grid_value=float(Ms[i]), bracket=[lo, hi], reached=True)
        out[str(delta)] = entry
    return out


# --------------------------------------------------------------------------- result object


@dataclass
class HonestDiDResult:
    """Sensitivity of l'tau_post to violations of parallel trends (Rambachan & Roth 2023).

    ``results``: one row per (delta, M) with columns M (M for Delta^SD, Mbar for Delta^RM), lb, ub,
    method, delta; ``original``: the conventional CI (method "Original").
    """

    results: pd.DataFrame
    original: pd.DataFrame
    estimate: float
    std_error: float
    alpha: float = 0.05
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.table = pd.concat([self.original, self.results], ignore_index=True)

    def tidy(self) -> pd.DataFrame:
        r = self.table
        terms = [
            "original" if d is None or (isinstance(d, float) and np.isnan(d)) else f"{d}(M={m:g})"
            for d, m in zip(r["delta"], r["M"])
        ]
        se = [self.std_error] + [np.nan] * len(self.results)
        out = tidy_frame(terms, [self.estimate] * len(r), se, alpha=self.alpha)
        out["conf_low"], out["conf_high"] = r["lb"].to_numpy(), r["ub"].to_numpy()
        out["method"], out["delta"], out["M"] = (
            r["method"].to_numpy(),
            r["delta"].to_numpy(),
            r["M"].to_numpy(),
        )
        return out

    def summary(self) -> str:
        return (
            f"HonestDiD sensitivity (Rambachan & Roth 2023), estimate {self.estimate:.5g} "
            f"(SE {self.std_error:.3g}), {100 * (1 - self.alpha):.0f}% CIs\n"
            + self.table.to_string(index=False, float_format=lambda x: f"{x:.5g}")
        )

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax=None, delta: str | None = None):
        """Original CI plus robust CIs by M (HonestDiD::createSensitivityPlot)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        res = self.results
        delta = delta or res["delta"].iloc[0]
        res = res[res["delta"] == delta].sort_values("M")
        Ms = res["M"].to_numpy()
        gap = np.min(np.diff(Ms)) if len(Ms) > 1 else 1.0
        x_orig = Ms.min() - gap
        o = self.original.iloc[0]
        mid = (res["lb"] + res["ub"]) / 2
        ax.errorbar(
            [x_orig],
            [(o.lb + o.ub) / 2],
            yerr=[[(o.ub - o.lb) / 2]],
            fmt="none",
            color="red",
            capsize=4,
            label="Original",
        )
        ax.errorbar(
            Ms,
            mid,
            yerr=(res["ub"] - res["lb"]) / 2,
            fmt="none",
            color="#01a2d9",
            capsize=4,
            label=res["method"].iloc[0],
        )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel(r"$\bar{M}$" if delta.startswith("DeltaRM") else "M")
        ax.set_ylabel("")
        ax.legend(frameon=False, loc="best")
        return ax


def honest_did(
    betahat,
    sigma,
    numPrePeriods: int,
    numPostPeriods: int,
    l_vec=None,
    Mvec=None,
    Mbarvec=None,
    alpha: float = 0.05,
    type: str = "both",
    gridPoints: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
    grid: str = "default",
) -> HonestDiDResult:
    """Sensitivity analysis for an event study (Rambachan & Roth 2023).

    ``betahat``/``sigma``: pre- then post-period event-study coefficients (reference period
    excluded) and their covariance. ``type``: "smoothness" (Delta^SD(M), FLCI),
    "relative_magnitude" (Delta^RM(Mbar), C-LF) or "both".

    ``grid``: the candidate values of ``l'tau`` the Delta^RM confidence sets are read from.
    ``"default"`` is R's, ``+/- 20 SE`` around zero; it cuts the confidence set off when the estimate
    lies more than 20 SE from zero. ``"centered"`` centres it on the estimate with half-width
    ``max(20 SE, 1.5 |estimate|)``, which always contains the estimate and zero.
    """
    betahat, sigma, l_vec = _check_inputs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec)
    post = slice(numPrePeriods, None)
    estimate = float(l_vec @ betahat[post])
    std_error = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    if grid == "default":
        grid_lb = grid_ub = None
    elif grid == "centered":
        half = max(20 * std_error, 1.5 * abs(estimate))
        grid_lb, grid_ub = estimate - half, estimate + half
    else:
        raise ValueError("grid must be 'default' or 'centered'")
    frames = []
    if type in ("smoothness", "both"):
        frames.append(
            sensitivity_sd(betahat, sigma, numPrePeriods, numPostPeriods, Mvec, l_vec, alpha, seed)
        )
    if type in ("relative_magnitude", "both"):
        frames.append(
            sensitivity_rm(
                betahat,
                sigma,
                numPrePeriods,
                numPostPeriods,
                Mbarvec,
                l_vec,
                alpha,
                gridPoints=gridPoints,
                grid_lb=grid_lb,
                grid_ub=grid_ub,
                seed=seed,
                n_jobs=n_jobs,
                progress=progress,
            )
        )
    if not frames:
        raise ValueError("type must be 'smoothness', 'relative_magnitude' or 'both'")
    lb, ub = original_cs(betahat, sigma, numPrePeriods, numPostPeriods, l_vec, alpha)
    original = pd.DataFrame(
        [{"M": np.nan, "lb": lb, "ub": ub, "method": "Original", "delta": None}]
    )
    return HonestDiDResult(
        results=pd.concat(frames, ignore_index=True),
        original=original,
        estimate=estimate,
        std_error=std_error,
        alpha=alpha,
    )
