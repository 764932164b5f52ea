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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.results import tidy_frame
from analysis.did.fe import FEProjector, _group_sum, encode_panel, treatment_from_cohort

__all__ = ["WildBootstrapResult", "draw_weights", "wild_cluster_bootstrap"]

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

    def summary(self) -> str:
        lo, hi = self.conf_int
        enum = " (full enumeration)" if self.full_enumeration else ""
        return (
            f"Wild cluster bootstrap (WCR, {self.weights} weights, B = {self.B}{enum}), "
            f"G = {self.n_clusters}, N = {self.n_obs}\n"
            f"  {self.term}: estimate {self.estimate:.6g}, CRV1 s.e. {self.std_error:.4g}, "
            f"t = {self.t_stat:.3f}\n"
            f"  H0: beta = {self.h0:g}, bootstrap p-value {self.p_value:.4f}; "
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


class _WCR:
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
        k = 1 + proj.n_params
        self.ssc = ((n - 1) / (n - k) if adj else 1.0) * (G / (G - 1) if cluster_adj else 1.0)
        self.xx = float(x @ x)
        self.beta = float(x @ y) / self.xx
        uhat = y - self.beta * x
        score = _group_sum(cl, x * uhat, G)
        self.se = float(np.sqrt(self.ssc * (score**2).sum()) / self.xx)
        # Zd[:, g] = M_W (S_g x): residualizing cluster-masked x (G columns at once)
        onehot = np.zeros((n, G))
        onehot[np.arange(n), cl] = 1.0
        zd = proj.residualize(onehot * x[:, None])
        a_y = _group_sum(cl, zd * y[:, None], G).T  # A_y[g, h] = sum_{i in h} zd_ig y_i
        a_x = _group_sum(cl, zd * x[:, None], G).T
        xx_g = _group_sum(cl, x * x, G)
        c_y = _group_sum(cl, x * y, G)  # c(b0) = c_y - b0 * xx_g
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
    cl, clid = pd.factorize(df[cluster], sort=True)
    G = len(clid)
    if G < 2:
        raise ValueError("need at least two clusters")
    proj = FEProjector(unit, time, df[controls].to_numpy(float) if controls else None)
    x = proj.residualize(d)
    if x @ x < 1e-12 * max(1.0, d @ d):
        raise ValueError("the regressor is collinear with the fixed effects / controls")
    y = proj.residualize(df[yname].to_numpy(float))

    enum = (
        (weights == "rademacher" and 2**G < B)
        if full_enumeration == "auto"
        else bool(full_enumeration)
    )
    rng = np.random.default_rng(seed)
    V = draw_weights(weights, G, B, rng, full_enumeration=enum)
    core = _WCR(proj, x, y, cl, G, V, adj, cluster_adj)
    conf = core.conf_int(alpha, ci_tol) if ci else (np.nan, np.nan)
    return WildBootstrapResult(
        term=f"D({gname})" if gname else dname,
        estimate=core.beta,
        std_error=core.se,
        t_stat=core.tstat(h0),
        p_value=core.pvalue(h0),
        conf_int=conf,
        h0=h0,
        B=V.shape[1],
        weights=weights,
        n_clusters=G,
        n_obs=proj.n,
        full_enumeration=enum,
        alpha=alpha,
        t_boot=core.tboot(h0),
    )
