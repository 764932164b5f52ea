"""Wild cluster bootstrap (restricted, WCR) for one TWFE coefficient with few clusters.

Cameron, Gelbach & Miller (2008) "Bootstrap-based improvements for inference with clustered
errors", REStat 90(3); the fast algorithm follows Roodman, MacKinnon, Nielsen & Webb (2019) "Fast
and wild: Bootstrap inference in Stata using boottest", Stata Journal 19(1); Webb (2023) six-point
weights. Conventions (WCR11, CRV1 small-sample factor ``(N-1)/(N-k) * G/(G-1)`` with ``k``
counting all fixed effects, symmetric p-value ``mean(|t*| >= |t|)``, Rademacher full enumeration
when ``2^G < B``, weight draws ``rng.choice`` from ``default_rng(seed)``) match the Python
``wildboottest`` package, so identical seeds give identical draws.

Why hand-written: wildboottest needs the fixed effects as explicit dummies (k ~ 300 here) and loops
over cluster pairs; here the unit/time effects and controls are partialled out once (FWL), the
problem collapses to G-vectors and G x G matrices, and all B draws are one (G x G) @ (G x B) product.
With ``x = M_W D``, restricted residuals ``u(b0) = M_W y - b0 x`` and draw weights ``v`` (G x B):

* numerator  ``b* - b0 = c' v / x'x``,  ``c_g = x_g' u_g``
* bootstrap cluster scores ``x_g' u*_g = sum_h K_gh v_h``, ``K = A - (x_g'x_g) c' / x'x`` with
  ``A_gh = (M_W S_g x)' S_h u`` (``S_g`` selects cluster g). ``M_W`` is needed because unit and
  time effects are not nested in the clusters (the year effects cut across provinces).

Everything is linear in ``b0``, so the confidence interval by test inversion only needs three
B-vectors of quadratic-form coefficients and costs O(B) per trial value.

``imputation_wild_bootstrap`` does the same for the heterogeneity-robust BJS imputation ATT, which
is linear in the outcome (``tau_hat = v'y``, weights from the design only; ``ImputationLinearMap``
builds them with the FE kernel). Under ``H0: ATT = b0`` the bootstrap DGP is the TWFE regression with
the same covariates and a homogeneous effect ``b0`` on all observations; the studentizing s.e. is
BJS's own conservative clustered variance, recomputed on every bootstrap sample (it is linear in y
too, so all draws are again G x G algebra).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.fe import (
    FEProjector,
    SmallSample,
    encode_panel,
    group_sum,
    independent_columns,
    treatment_from_cohort,
)
from analysis.did.results import tidy_frame
from analysis.pvalues import format_p

__all__ = [
    "ImputationBootstrapResult",
    "ImputationLinearMap",
    "WildBootstrapResult",
    "draw_weights",
    "imputation_wild_bootstrap",
    "wild_cluster_bootstrap",
]

_WEBB = np.concatenate([-np.sqrt(np.array([3, 2, 1]) / 2), np.sqrt(np.array([1, 2, 3]) / 2)])


def draw_weights(
    kind: str, G: int, B: int, rng: np.random.Generator, full_enumeration: bool = False
) -> np.ndarray:
    """(G, B) matrix of wild bootstrap weights (Rademacher, Webb, Mammen or standard normal).

    Draws are made exactly as in ``wildboottest.weights`` so that the same seed gives the same
    draws; with ``full_enumeration`` all ``2^G`` Rademacher sign vectors are returned.
    """
    if full_enumeration:
        j = np.arange(2**G)
        bits = (j[None, :] >> np.arange(G - 1, -1, -1)[:, None]) & 1
        return 2.0 * bits - 1.0
    if kind == "rademacher":
        v = rng.choice([-1, 1], size=G * B, replace=True)
    elif kind == "webb":
        v = rng.choice(_WEBB, size=G * B, replace=True)
    elif kind == "mammen":
        s5 = np.sqrt(5)
        v = rng.choice(
            np.array([-1, 1]) * (s5 + np.array([-1, 1])) / 2,
            size=G * B,
            replace=True,
            p=(s5 + np.array([1, -1])) / (2 * s5),
        )
    elif kind in ("norm", "normal"):
        v = rng.normal(size=G * B)
    else:
        raise ValueError(f"unknown weights {kind!r}")
    return np.asarray(v, dtype=float).reshape(G, B)


@dataclass
class WildBootstrapResult:
    """Coefficient, CRV1 standard error, WCR bootstrap p-value and test-inversion CI."""

    term: str
    estimate: float
    std_error: float
    t_stat: float
    p_value: float
    conf_int: tuple[float, float]
    h0: float
    B: int
    weights: str
    n_clusters: int
    n_obs: int
    full_enumeration: bool
    alpha: float
    t_boot: np.ndarray = field(repr=False)

    def tidy(self) -> pd.DataFrame:
        """One row; ``p_value`` and the CI are the bootstrap ones, ``std_error`` is CRV1."""
        out = tidy_frame([self.term], [self.estimate], [self.std_error], alpha=self.alpha)
        out["statistic"] = self.t_stat
        out["p_value"] = self.p_value
        out["conf_low"], out["conf_high"] = self.conf_int
        return out

    @property
    def p_value_text(self) -> str:
        """The bootstrap p-value in the one convention of :mod:`analysis.pvalues` (a bound at its
        floor, never ``p = 0``)."""
        return format_p(self.p_value, self.B, space=" ")

    def summary(self) -> str:
        lo, hi = self.conf_int
        enum = " (full enumeration)" if self.full_enumeration else ""
        return (
            f"Wild cluster bootstrap (WCR, {self.weights} weights, B = {self.B}{enum}), "
            f"G = {self.n_clusters}, N = {self.n_obs}\n"
            f"  {self.term}: estimate {self.estimate:.6g}, CRV1 s.e. {self.std_error:.4g}, "
            f"t = {self.t_stat:.3f}\n"
            f"  H0: beta = {self.h0:g}, bootstrap {self.p_value_text}; "
            f"{100 * (1 - self.alpha):.0f}% CI [{lo:.4g}, {hi:.4g}]"
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None, bins: int = 60):
        """Histogram of bootstrap t-statistics with the observed +/- t."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.hist(
            self.t_boot,
            bins=bins,
            density=True,
            color="0.75",
            edgecolor="white",
            label="bootstrap t*",
        )
        for s in (-1, 1):
            ax.axvline(
                s * abs(self.t_stat),
                color="C3",
                lw=1.5,
                label=f"|t| = {abs(self.t_stat):.2f}" if s > 0 else None,
            )
        ax.set_xlabel("t statistic")
        ax.set_ylabel("density")
        ax.set_title(f"Wild cluster bootstrap, p = {self.p_value:.3f}")
        ax.legend(frameon=False)
        return ax


class _TestInversion:
    """p-value and test-inversion CI for a bootstrap whose t statistics are known functions of
    the hypothesised value ``b0`` (``tstat``, ``tboot``); needs ``beta`` and ``se``."""

    beta: float
    se: float

    def tstat(self, b0: float) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def tboot(self, b0: float) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def pvalue(self, b0: float) -> float:
        # ties count as at least as extreme: with v = +/-1 in every cluster t* equals t exactly
        # (up to rounding), which matters under full enumeration (2 of 2^G draws)
        t = abs(self.tstat(b0))
        return float(np.mean(np.abs(self.tboot(b0)) >= t * (1 - 1e-10)))

    def conf_int(self, alpha: float, tol: float) -> tuple[float, float]:
        """Test inversion: the b0 where p(b0) crosses alpha, found by bracketing + bisection."""
        step = max(self.se, 1e-12) * stats.norm.ppf(1 - alpha / 2)
        ends = []
        for sign in (-1.0, 1.0):
            inner, outer = self.beta, self.beta + sign * step
            it = 0
            while self.pvalue(outer) > alpha and it < 60:
                inner, outer = outer, self.beta + 2 * (outer - self.beta)
                it += 1
            while abs(outer - inner) > tol * max(self.se, 1e-12):
                mid = 0.5 * (inner + outer)
                if self.pvalue(mid) > alpha:
                    inner = mid
                else:
                    outer = mid
            ends.append(0.5 * (inner + outer))
        return ends[0], ends[1]


class _WCR(_TestInversion):
    """Precomputed G-level objects; ``tboot(b0)`` and ``pvalue(b0)`` are O(B)."""

    def __init__(
        self,
        proj: FEProjector,
        x: np.ndarray,
        y: np.ndarray,
        cl: np.ndarray,
        G: int,
        V: np.ndarray,
        adj: bool,
        cluster_adj: bool,
    ):
        n = proj.n
        # the kernel's CRV1 rule with every fixed effect counted (fixef.K = "full"), as wildboottest
        # counts them as dummies: (N-1)/(N-k) * G/(G-1), k = 1 + controls + units + periods - 1
        fe_sizes = [proj.n_units, proj.n_times]
        k_reg = 1 + proj.n_params - (sum(fe_sizes) - 1)
        rule = SmallSample(adj=adj, fixef_k="full", cluster_adj=cluster_adj)
        self.ssc = rule.factor(n, k_reg, G, fe_sizes, [False, False])
        self.xx = float(x @ x)
        self.beta = float(x @ y) / self.xx
        uhat = y - self.beta * x
        score = group_sum(cl, x * uhat, G)
        self.se = float(np.sqrt(self.ssc * (score**2).sum()) / self.xx)
        # Zd[:, g] = M_W (S_g x): residualizing cluster-masked x (G columns at once)
        onehot = np.zeros((n, G))
        onehot[np.arange(n), cl] = 1.0
        zd = proj.residualize(onehot * x[:, None])
        a_y = group_sum(cl, zd * y[:, None], G).T  # A_y[g, h] = sum_{i in h} zd_ig y_i
        a_x = group_sum(cl, zd * x[:, None], G).T
        xx_g = group_sum(cl, x * x, G)
        c_y = group_sum(cl, x * y, G)  # c(b0) = c_y - b0 * xx_g
        k0 = a_y - np.outer(xx_g, c_y) / self.xx
        k1 = a_x - np.outer(xx_g, xx_g) / self.xx
        s0, s1 = k0 @ V, k1 @ V  # bootstrap scores = s0 - b0 * s1
        self.n0, self.n1 = (c_y @ V) / self.xx, (xx_g @ V) / self.xx
        self.q00 = (s0 * s0).sum(axis=0)
        self.q01 = (s0 * s1).sum(axis=0)
        self.q11 = (s1 * s1).sum(axis=0)

    def tstat(self, b0: float) -> float:
        return (self.beta - b0) / self.se

    def tboot(self, b0: float) -> np.ndarray:
        var = self.ssc * (self.q00 - 2 * b0 * self.q01 + b0**2 * self.q11) / self.xx**2
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.n0 - b0 * self.n1) / np.sqrt(np.maximum(var, 0.0))


def wild_cluster_bootstrap(
    data: pd.DataFrame,
    yname: str,
    idname: str,
    tname: str,
    cluster: str,
    dname: str | None = None,
    gname: str | None = None,
    controls: list[str] | None = None,
    B: int = 9999,
    weights: str = "rademacher",
    h0: float = 0.0,
    seed: int | None = None,
    ci: bool = True,
    alpha: float = 0.05,
    full_enumeration: bool | str = "auto",
    adj: bool = True,
    cluster_adj: bool = True,
    ci_tol: float = 1e-6,
) -> WildBootstrapResult:
    """Restricted wild cluster bootstrap (WCR) test of ``beta = h0`` in a TWFE regression.

    Model: ``y_it = a_i + l_t + beta * D_it + X_it'c + e_it``; errors clustered by ``cluster``.

    Parameters
    ----------
    dname / gname : the regressor of interest, either a column (``dname``) or built from the
        first-treatment period ``gname`` (0 = never) as ``D_it = 1{t >= g_i}``.
    weights : "rademacher" (default), "webb" (recommended with < ~12 clusters), "mammen", "norm".
    full_enumeration : "auto" enumerates all 2^G Rademacher sign vectors when ``2^G < B``
        (then ``B = 2^G``), as wildboottest does.
    ci : also compute the (1 - alpha) CI by inverting the bootstrap test over ``h0``.
    adj, cluster_adj : small-sample factors (N-1)/(N-k) and G/(G-1); they rescale both the actual
        and the bootstrap t, so they do not change p-value or CI, only the reported s.e.

    No ``n_jobs``/progress options: all B draws are one small matrix product (milliseconds).
    """
    if (dname is None) == (gname is None):
        raise ValueError(
            "give exactly one of dname (a regressor column) or gname (a cohort column)"
        )
    controls = list(controls or [])
    reg = dname or gname
    df, unit, time = encode_panel(data, idname, tname, [yname, reg, cluster, *controls])
    d = df[reg].to_numpy(float)
    if gname is not None:
        d = treatment_from_cohort(d, df[tname].to_numpy(float))
    cl, G = _cluster_codes(df[cluster])
    proj = FEProjector(unit, time, df[controls].to_numpy(float) if controls else None)
    x = proj.residualize(d)
    if not len(independent_columns(np.array([[x @ x]]), np.array([np.sqrt(d @ d)]))):
        raise ValueError("the regressor is collinear with the fixed effects / controls")
    y = proj.residualize(df[yname].to_numpy(float))

    V, enum = _draws(weights, G, B, seed, full_enumeration)
    core = _WCR(proj, x, y, cl, G, V, adj, cluster_adj)
    return WildBootstrapResult(
        term=f"D({gname})" if gname else dname,
        n_clusters=G,
        n_obs=proj.n,
        **_inference(core, h0, alpha, ci, ci_tol, V, weights, enum),
    )


def _cluster_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Cluster codes 0..G-1 and G (at least two clusters)."""
    codes, labels = pd.factorize(values, sort=True)
    if len(labels) < 2:
        raise ValueError("need at least two clusters")
    return codes, len(labels)


def _draws(weights: str, G: int, B: int, seed, full_enumeration) -> tuple[np.ndarray, bool]:
    """The (G, B) bootstrap weights and whether they enumerate every Rademacher sign pattern
    ("auto": when there are fewer patterns than draws)."""
    enum = (
        (weights == "rademacher" and 2**G < B)
        if full_enumeration == "auto"
        else bool(full_enumeration)
    )
    rng = np.random.default_rng(seed)
    return draw_weights(weights, G, B, rng, full_enumeration=enum), enum


def _inference(core, h0, alpha, ci, ci_tol, V, weights, enum) -> dict:
    """The inference fields every bootstrap result shares, from a test-inversion core."""
    return {
        "estimate": core.beta,
        "std_error": core.se,
        "t_stat": core.tstat(h0),
        "p_value": core.pvalue(h0),
        "conf_int": core.conf_int(alpha, ci_tol) if ci else (np.nan, np.nan),
        "h0": h0,
        "B": V.shape[1],
        "weights": weights,
        "full_enumeration": enum,
        "alpha": alpha,
        "t_boot": core.tboot(h0),
    }


# ============================================================================ BJS imputation ATT
class ImputationLinearMap:
    """The BJS imputation estimator as linear maps of the outcome, built on the FE kernel.

    Borusyak, Jaravel & Spiess (2024, RES 91(6)): with ``Z = [unit FE, time FE, covariates]`` fitted
    by OLS on the untreated observations (``Z0``) and imputed on the treated ones (``Z1``), every
    estimand ``w1' tau`` is ``v' y`` with ``v = w1`` on treated and
    ``v0 = -Z0 (Z0'Z0)^-1 Z1' w1`` on untreated observations. The unit effects are eliminated by
    within-unit demeaning on the untreated sample (``FEProjector.unit_within``); what is left is a
    small system in the time dummies and covariates, ``R = M_unit [T0, X0]``,
    ``S = R'R`` (columns kept by the kernel's rank rule ``independent_columns``), so that

        v0 = -( c_i / n_i + R S^-1 rbar ),   c_i = sum of w1 over unit i's treated rows,
        rbar = sum_j w1_j (z_j - zbar0_i(j)),  n_i = unit i's untreated rows.

    ``scores(Y)`` gives the BJS (Thm. 3) conservative cluster scores
    ``sum_{it in g} v_it e~_it`` for any number of outcome columns, with untreated residuals from
    the first step and ``e~ = tau - tau_bar`` on treated rows (``tau_bar``: ``w1^2``-weighted cell
    means over ``avg_effects_by``); it is linear in ``Y`` as well, which is what the restricted
    wild bootstrap needs. The leave-out refinement of ``imputation(leaveout=True)`` is not
    implemented here.

    Parameters
    ----------
    unit, time : per-row labels; ``treated`` boolean per row; ``controls`` (N, k) or None;
    cells : (N1, m) array of cell labels of the treated rows for ``tau_bar`` (m = 0: one cell);
    w1 : weights on the treated rows (default ``1/N1``: the overall ATT).
    """

    def __init__(
        self,
        unit: np.ndarray,
        time: np.ndarray,
        treated: np.ndarray,
        controls: np.ndarray | None = None,
        cells: np.ndarray | None = None,
        w1: np.ndarray | None = None,
    ):
        treated = np.asarray(treated, dtype=bool)
        self.treated = treated
        n = len(treated)
        self.n = n
        u0_lab, t0_lab = np.asarray(unit)[~treated], np.asarray(time)[~treated]
        self.u0, ulevels = pd.factorize(u0_lab, sort=True)
        self.t0, tlevels = pd.factorize(t0_lab, sort=True)
        self.u1 = pd.Index(ulevels).get_indexer(np.asarray(unit)[treated])
        t1 = pd.Index(tlevels).get_indexer(np.asarray(time)[treated])
        if (self.u1 < 0).any() or (t1 < 0).any():
            raise ValueError("treated rows whose unit or period has no untreated observation")
        n_u, n_t = len(ulevels), len(tlevels)
        self.n_units = n_u
        n1 = int(treated.sum())
        if n1 == 0:
            raise ValueError("no treated observations")
        self.w1 = np.full(n1, 1.0 / n1) if w1 is None else np.asarray(w1, dtype=float)

        # nuisance columns besides the unit effects: time dummies (first period dropped), controls
        def rest(t_codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
            td = np.zeros((len(t_codes), n_t - 1))
            k = t_codes > 0
            td[np.flatnonzero(k), t_codes[k] - 1] = 1.0
            if controls is None:
                return td
            return np.hstack([td, np.asarray(controls, dtype=float).reshape(n, -1)[rows]])

        z0, z1 = rest(self.t0, ~treated), rest(t1, treated)
        proj0 = FEProjector(self.u0, self.t0)
        r0 = proj0.unit_within(z0)  # R = M_unit Z0_rest
        self._cnt0 = np.bincount(self.u0, minlength=n_u).astype(float)
        zbar = group_sum(self.u0, z0, n_u) / self._cnt0[:, None]
        gram = r0.T @ r0
        keep = independent_columns(gram, np.sqrt((z0 * z0).sum(axis=0)))
        self.n_dropped = z0.shape[1] - len(keep)
        self.r0 = r0[:, keep]
        self.rt1 = (z1 - zbar[self.u1])[:, keep]  # treated rows against their unit's mean
        self._s = gram[np.ix_(keep, keep)]

        c_u = np.bincount(self.u1, weights=self.w1, minlength=n_u)
        s_rbar = np.linalg.solve(self._s, self.rt1.T @ self.w1)
        v = np.empty(n)
        v[treated] = self.w1
        v[~treated] = -((c_u / self._cnt0)[self.u0] + self.r0 @ s_rbar)
        self.weights = v

        if cells is None or np.size(cells) == 0:
            self._cell = np.zeros(n1, dtype=np.int64)
        else:
            self._cell = pd.factorize(pd.MultiIndex.from_arrays(list(np.asarray(cells).T)))[0]
        w2 = self.w1**2
        self._w2 = w2
        self._cell_w2 = np.bincount(self._cell, weights=w2)

    def estimate(self, y: np.ndarray) -> np.ndarray:
        """``v' y`` (a scalar for a vector, a row for an (N, m) matrix)."""
        return self.weights @ y

    def fit_untreated(self, Y0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First step on (N0, m) untreated outcomes: (untreated residuals, treated predictions)."""
        n_u = self.n_units
        mu = group_sum(self.u0, Y0, n_u) / self._cnt0[:, None]
        beta = np.linalg.solve(self._s, self.r0.T @ (Y0 - mu[self.u0]))
        resid0 = Y0 - mu[self.u0] - self.r0 @ beta
        return resid0, mu[self.u1] + self.rt1 @ beta

    def scores(self, Y: np.ndarray, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
        """(G, m) BJS conservative cluster scores of the estimand for each column of ``Y``."""
        Y = np.asarray(Y, dtype=float).reshape(self.n, -1)
        resid0, pred1 = self.fit_untreated(Y[~self.treated])
        tau = Y[self.treated] - pred1
        num = group_sum(self._cell, self._w2[:, None] * tau, len(self._cell_w2))
        with np.errstate(invalid="ignore", divide="ignore"):
            bar = np.where(self._cell_w2[:, None] > 0, num / self._cell_w2[:, None], 0.0)
        eps1 = tau - bar[self._cell]
        cl = np.asarray(clusters)
        out = group_sum(cl[self.treated], self.w1[:, None] * eps1, n_clusters)
        out += group_sum(cl[~self.treated], self.weights[~self.treated, None] * resid0, n_clusters)
        return out


@dataclass
class ImputationBootstrapResult(WildBootstrapResult):
    """BJS imputation estimate, its conservative s.e. (``std_error``), WCR p-value and
    test-inversion CI; also counts the treated clusters (few treated clusters: see
    :mod:`analysis.did.inference`)."""

    n_treated_clusters: int = 0

    def summary(self) -> str:
        lo, hi = self.conf_int
        enum = " (full enumeration)" if self.full_enumeration else ""
        return (
            f"Restricted wild cluster bootstrap of the BJS imputation {self.term} "
            f"({self.weights} weights, B = {self.B}{enum}), G = {self.n_clusters} "
            f"({self.n_treated_clusters} treated), N = {self.n_obs}\n"
            f"  estimate {self.estimate:.6g}, BJS s.e. {self.std_error:.4g}, t = {self.t_stat:.3f}\n"
            f"  H0: ATT = {self.h0:g}, bootstrap {self.p_value_text}; "
            f"{100 * (1 - self.alpha):.0f}% CI [{lo:.4g}, {hi:.4g}]"
        )


class _ImputationWCR(_TestInversion):
    """Restricted WCR for ``tau = v'y``: under ``H0: tau = b0`` the bootstrap DGP is the TWFE fit
    of ``y - b0 D`` on all rows plus ``b0 D`` plus ``v*_g`` times its residuals. Because ``Z'v = 0``
    and ``v'D = sum(w1) = 1``, ``tau* - b0 = c(b0)'v*`` with ``c_g = sum_{i in g} v_i u_i(b0)``; the
    score map kills ``Z gamma`` and ``D``, so the bootstrap scores are ``K(b0) v*`` with
    ``K(b0)[:, h] = scores(u(b0) masked to cluster h)``. Everything is linear in ``b0``."""

    def __init__(self, lmap, y, d, resid_y, resid_d, cl, G, V):
        self.beta = float(lmap.estimate(y))
        self.se = float(np.sqrt((lmap.scores(y, cl, G) ** 2).sum()))
        onehot = np.zeros((lmap.n, G))
        onehot[np.arange(lmap.n), cl] = 1.0
        k_y = lmap.scores(resid_y[:, None] * onehot, cl, G)
        k_d = lmap.scores(resid_d[:, None] * onehot, cl, G)
        c_y = group_sum(cl, lmap.weights * resid_y, G)
        c_d = group_sum(cl, lmap.weights * resid_d, G)
        s0, s1 = k_y @ V, k_d @ V
        self.n0, self.n1 = c_y @ V, c_d @ V
        self.q00 = (s0 * s0).sum(axis=0)
        self.q01 = (s0 * s1).sum(axis=0)
        self.q11 = (s1 * s1).sum(axis=0)

    def tstat(self, b0: float) -> float:
        return (self.beta - b0) / self.se

    def tboot(self, b0: float) -> np.ndarray:
        var = self.q00 - 2 * b0 * self.q01 + b0**2 * self.q11
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.n0 - b0 * self.n1) / np.sqrt(np.maximum(var, 0.0))


def imputation_wild_bootstrap(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: list[str] | None = None,
    cluster: str | None = None,
    horizon: int | None = None,
    avg_effects_by: tuple[str, ...] = ("cohort", "horizon"),
    B: int = 9999,
    weights: str = "rademacher",
    h0: float = 0.0,
    seed: int | None = None,
    ci: bool = True,
    alpha: float = 0.05,
    full_enumeration: bool | str = "auto",
    ci_tol: float = 1e-6,
) -> ImputationBootstrapResult:
    """Restricted wild cluster bootstrap (WCR) test of the BJS imputation ATT.

    The estimate is that of :func:`analysis.did.imputation.imputation` (overall ATT, or the effect
    at ``horizon``), the s.e. its conservative clustered variance (BJS 2024 Thm. 3, no leave-out,
    no small-sample factor; equal to ``imputation(...)``'s to rounding). Bootstrap DGP under
    ``H0: ATT = h0``: the TWFE regression with the same covariates and a *homogeneous* effect
    ``h0`` fitted on all observations (for ``h0 = 0``: no treatment effect at all), then
    ``y* = fitted + v_g * residual`` with Rademacher / Webb / Mammen / normal weights ``v_g`` by
    cluster; ``t* = (tau* - h0) / se*`` with ``se*`` the same BJS variance recomputed on ``y*``.
    p-value ``mean(|t*| >= |t|)`` (the convention of :func:`wild_cluster_bootstrap`), CI by test
    inversion. Cost: one pass of the score map over an N x G matrix, then O(G B).

    With few treated clusters the WCR under-rejects (MacKinnon & Webb 2017, 2018): check
    ``n_treated_clusters`` with :func:`analysis.did.inference.cluster_diagnostic` and prefer
    randomization inference (:func:`analysis.did.randomization.permutation_test`) then.
    """
    covariates = list(covariates or [])
    by = tuple(avg_effects_by)
    if not set(by) <= {"cohort", "horizon", "period"}:
        raise ValueError("avg_effects_by may contain 'cohort', 'horizon', 'period'")
    cl_col = cluster or idname
    df = pd.DataFrame(
        {
            "_y": data[yname].to_numpy(dtype=float),
            "_t": data[tname].to_numpy(),
            "_id": data[idname].to_numpy(),
            "_g": data[gname].fillna(0).to_numpy(),
            "_cl": data[cl_col].to_numpy(),
        }
    )
    xnames = [f"_x{k}" for k in range(len(covariates))]
    for nm, c in zip(xnames, covariates):
        df[nm] = data[c].to_numpy(dtype=float)
    df = df.dropna(subset=["_y", *xnames]).reset_index(drop=True)
    treated = ((df["_g"] > 0) & (df["_t"] >= df["_g"])).to_numpy()
    # as imputation(): treated rows whose unit or period has no untreated row are not identified
    ok_u = df.loc[~treated, "_id"].unique()
    ok_t = df.loc[~treated, "_t"].unique()
    bad = treated & ~(df["_id"].isin(ok_u) & df["_t"].isin(ok_t)).to_numpy()
    if bad.any():
        df, treated = df.loc[~bad].reset_index(drop=True), treated[~bad]
    ctrl = df[xnames].to_numpy(float) if xnames else None
    t1 = df.loc[treated]
    hz = (t1["_t"] - t1["_g"]).to_numpy()
    cells = (
        np.column_stack([{"cohort": t1["_g"], "horizon": hz, "period": t1["_t"]}[k] for k in by])
        if by
        else None
    )
    if horizon is None:
        w1, term = None, "ATT"
    else:
        m = hz == horizon
        if not m.any():
            raise ValueError(f"no treated observations at horizon {horizon}")
        w1, term = m / m.sum(), f"horizon::{int(horizon)}"
    lmap = ImputationLinearMap(df["_id"].to_numpy(), df["_t"].to_numpy(), treated, ctrl, cells, w1)

    cl, G = _cluster_codes(df["_cl"])
    n_treated_cl = int(pd.unique(cl[treated][lmap.w1 != 0]).size)
    # restricted model (H0): TWFE with the same covariates on all rows, no treatment effect
    unit = pd.factorize(df["_id"], sort=True)[0]
    time = pd.factorize(df["_t"], sort=True)[0]
    proj = FEProjector(unit, time, ctrl)
    y = df["_y"].to_numpy()
    d = treated.astype(float)
    resid_y, resid_d = proj.residualize(y), proj.residualize(d)

    V, enum = _draws(weights, G, B, seed, full_enumeration)
    core = _ImputationWCR(lmap, y, d, resid_y, resid_d, cl, G, V)
    return ImputationBootstrapResult(
        term=term,
        n_clusters=G,
        n_treated_clusters=n_treated_cl,
        n_obs=len(df),
        **_inference(core, h0, alpha, ci, ci_tol, V, weights, enum),
    )
