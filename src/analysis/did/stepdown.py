"""Multiple-testing control by a stepdown over a joint resampling of the statistics.

A family of hypotheses ``H_j: theta_j = 0`` (a coefficient, a vector of differences) is tested
together; the adjusted p-value of ``H_j`` controls the family-wise error rate (FWER, the chance of
one or more false rejections) in the strong sense. Bonferroni and Holm do so for any dependence
and are conservative when the statistics are correlated (heterogeneity tests built from one set of
imputed effects; the three treatments' headlines estimated on one panel). The stepdown of
Westfall & Young (1993, minP) / Romano & Wolf (2005, Econometrica 73(4), Algorithm 4.1 with the
statistics' p-values as the "balanced" statistics of their section 4) uses the JOINT distribution
of the statistics instead.

**The joint distribution.** Every estimate here is (asymptotically) linear in the data with
per-cluster contributions ``s_g`` (``theta^ - theta = sum_g s_g``; the BJS imputation estimator's
per-cluster sums of its imputation weights times residuals, :mod:`analysis.did.subgroup`; a
regression's ``bread x_g' u_g``, :func:`within_cluster_scores`). A multiplier (score) bootstrap
draws ``theta* = sum_g w_g s_g`` with ONE weight ``w_g`` per cluster SHARED by all statistics of
the family, so the draws carry the statistics' dependence through common clusters (Kline & Santos
2012, J. Econometric Methods 1(1); Chernozhukov, Chetverikov & Kato 2013, Ann. Statist. 41(6)).
With standard normal weights (the default) the draws are exactly ``N(0, S'S)``: the joint normal
law with the clustered covariance, whose margins are known exactly. Each draw is therefore turned
into a p-value with its exact reference (``2 Phi(-|t*|)``; ``chi2_q`` for a q-vector), while the
observed statistics keep the study's own p-values (t(G-1) / F(q, G-1) with the study's clustered
covariance). For one hypothesis the adjusted p-value then equals the unadjusted one (up to the
draws' resolution), and for independent statistics the stepdown is Holm-Sidak's; the adjustment
only exploits dependence, it never sharpens a single test. Rademacher/Webb weights are accepted,
but their draws are only approximately normal (with few dominant clusters they are not), so the
normal reference of the draws is then approximate.

Why hand-written: pyfixest's ``rwolf`` / ``wyoung`` adjust ``feols`` coefficients by a restricted
wild bootstrap per model; they take neither the BJS imputation estimator nor Wald tests of several
restrictions. The stepdown itself reproduces pyfixest's ``_get_rwolf_pval`` / ``_get_wyoung_pval``
exactly on the same draws (tests/did/test_stepdown.py), and the end-to-end adjustment of TWFE
coefficients agrees with ``pf.wyoung`` within resampling error.

General: no paths, no project column names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .inference import RANK_RTOL, t_p_value, wald_statistic
from .wild_bootstrap import draw_weights

__all__ = [
    "Hypothesis",
    "StepdownResult",
    "holm",
    "romano_wolf",
    "stepdown_adjust",
    "westfall_young",
    "within_cluster_scores",
]


# ----------------------------------------------------------------------- the stepdown algorithms
def westfall_young(p: np.ndarray, boot_p: np.ndarray) -> np.ndarray:
    """Free stepdown minP adjusted p-values (Westfall & Young 1993, Algorithm 2.8): ``p`` the
    observed p-values (m,), ``boot_p`` their null draws (B, m). Hypotheses are ordered by ``p``;
    the adjusted p of the k-th is the share of draws whose smallest p among the hypotheses not
    yet rejected (the k-th and the larger ones) is at most ``p_(k)``, made monotone."""
    p = np.asarray(p, float)
    boot_p = np.asarray(boot_p, float)
    order = np.argsort(p, kind="stable")
    # successive minima from the least significant hypothesis down
    q = np.minimum.accumulate(boot_p[:, order[::-1]], axis=1)[:, ::-1]
    raw = (q <= p[order]).mean(axis=0)
    out = np.empty_like(raw)
    out[order] = np.maximum.accumulate(raw)
    return out


def romano_wolf(t: np.ndarray, boot_t: np.ndarray) -> np.ndarray:
    """Romano-Wolf stepdown adjusted p-values on |t| (Romano & Wolf 2005, Algorithm 4.1; the
    ``(1 + #) / (1 + B)`` convention of pyfixest and wildrwolf): ``t`` observed (m,), ``boot_t``
    centred null draws (B, m) on the same scale."""
    t = np.abs(np.asarray(t, float))
    boot = np.abs(np.asarray(boot_t, float))
    B = boot.shape[0]
    order = np.argsort(-t, kind="stable")
    # max over the hypotheses not yet rejected: running maxima from the smallest |t| up
    mx = np.maximum.accumulate(boot[:, order[::-1]], axis=1)[:, ::-1]
    raw = np.minimum(1.0, ((mx >= t[order]).sum(axis=0) + 1) / (B + 1))
    out = np.empty_like(raw)
    out[order] = np.maximum.accumulate(raw)
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) adjusted p-values (valid under any dependence; the benchmark the stepdown
    must not lose to). statsmodels' ``multipletests`` with ``method="holm"``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, float)
    return multipletests(p, method="holm")[1] if len(p) else p


# ----------------------------------------------------------------------- the joint resampling
@dataclass
class Hypothesis:
    """``H: theta = 0`` for an estimate ``theta^`` (a scalar or a q-vector).

    ``scores``: per-cluster contributions, rows indexed by the cluster label (shared labels across
    the family tie the draws together), one column per component; ``scores' scores`` is the
    clustered covariance without small-sample factors. ``vcov``: the covariance of the study's
    test (default ``scores' scores``). ``df_resid``: G - 1 of the t / F reference (None: normal /
    chi2)."""

    name: str
    estimate: np.ndarray
    scores: pd.DataFrame
    vcov: np.ndarray | None = None
    df_resid: int | None = None

    def __post_init__(self):
        self.estimate = np.atleast_1d(np.asarray(self.estimate, float))
        if self.scores.shape[1] != len(self.estimate):
            raise ValueError(f"{self.name}: one score column per component of the estimate")
        S = self.scores.to_numpy(float)
        self.vcov = S.T @ S if self.vcov is None else np.atleast_2d(np.asarray(self.vcov, float))

    @property
    def q(self) -> int:
        return len(self.estimate)

    def observed(self) -> tuple[float, float, int]:
        """``(statistic, p, df)``: |t| and its t(G-1) p for a scalar, F = W / r and its
        F(r, G-1) p for a vector (generalised-inverse Wald, r = rank)."""
        if self.q == 1:
            se = float(np.sqrt(self.vcov[0, 0]))
            t = float(self.estimate[0] / se) if se > 0 else np.nan
            return abs(t), t_p_value(t, self.df_resid + 1 if self.df_resid else None), 1
        w, r = wald_statistic(self.estimate, self.vcov)
        if r == 0 or not np.isfinite(w):
            return np.nan, np.nan, 0
        f = w / r
        p = stats.chi2.sf(w, r) if self.df_resid is None else stats.f.sf(f, r, self.df_resid)
        return f, float(p), r


def _draw_p(h: Hypothesis, S: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Null p-values of the multiplier draws of ``h``: ``S`` (G, q) its cluster contributions on
    the family's clusters, ``W`` (G, B) the shared weights. Scalar: ``2 Phi(-|t*|)`` with
    ``t* = s'w / sqrt(s's)``; vector: ``chi2_r`` of ``theta*' (S'S)^- theta*`` on the directions of
    ``S'S`` above the rank threshold (the same rule as the observed Wald)."""
    draws = S.T @ W  # (q, B)
    V = S.T @ S
    if h.q == 1:
        sd = float(np.sqrt(V[0, 0]))
        if not sd > 0:
            return np.full(W.shape[1], np.nan)
        return 2.0 * stats.norm.sf(np.abs(draws[0] / sd))
    vals, vecs = np.linalg.eigh((V + V.T) / 2)
    keep = vals > RANK_RTOL * vals.max()
    z = vecs[:, keep].T @ draws
    w = np.sum(z**2 / vals[keep][:, None], axis=0)
    return stats.chi2.sf(w, int(keep.sum()))


@dataclass
class StepdownResult:
    """The family's table (one row per hypothesis) and how it was computed."""

    table: pd.DataFrame
    draws: int
    weights: str
    seed: int | None
    n_clusters: int
    correlation: pd.DataFrame | None = field(default=None, repr=False)

    def record(self) -> dict:
        return {
            "method": "stepdown minP (Westfall-Young / Romano-Wolf) over a cluster multiplier "
            "bootstrap with shared weights",
            "draws": self.draws,
            "weights": self.weights,
            "seed": self.seed,
            "n_clusters": self.n_clusters,
            "table": self.table,
            **(
                {"correlation": self.correlation.round(12).to_dict()}
                if self.correlation is not None
                else {}
            ),
        }


TABLE_COLUMNS = [
    "hypothesis",
    "q",
    "estimate",
    "statistic",
    "df",
    "df_resid",
    "p_value",
    "p_adjusted",
    "p_holm",
    "p_bonferroni",
]


def stepdown_adjust(
    hypotheses: Sequence[Hypothesis],
    draws: int = 9999,
    seed: int | None = None,
    weights: str = "normal",
) -> StepdownResult:
    """Stepdown adjusted p-values of a family (module docstring): observed p-values by each
    hypothesis's own reference, null draws from ONE set of cluster weights shared by the family
    (clusters = the union of the hypotheses' score rows; a hypothesis has zero contribution in a
    cluster it does not use). Columns :data:`TABLE_COLUMNS` (``estimate``: the scalar estimate,
    NaN for a vector); ``correlation``: the correlation of the scalar hypotheses' draws."""
    hypotheses = list(hypotheses)
    if not hypotheses:
        raise ValueError("no hypotheses to adjust")
    labels = pd.Index(sorted({str(k) for h in hypotheses for k in h.scores.index}))
    G = len(labels)
    rng = np.random.default_rng(seed)
    W = draw_weights(weights, G, int(draws), rng)  # (G, B)
    rows, boot, scalar = [], [], {}
    for h in hypotheses:
        S = h.scores.set_axis(h.scores.index.astype(str)).groupby(level=0).sum()
        S = S.reindex(labels, fill_value=0.0).to_numpy(float)
        stat, p, df = h.observed()
        boot.append(_draw_p(h, S, W))
        if h.q == 1 and S.any():
            scalar[h.name] = S[:, 0]
        rows.append(
            {
                "hypothesis": h.name,
                "q": h.q,
                "estimate": float(h.estimate[0]) if h.q == 1 else np.nan,
                "statistic": stat,
                "df": df,
                "df_resid": h.df_resid,
                "p_value": p,
            }
        )
    table = pd.DataFrame(rows)
    p = table["p_value"].to_numpy(float)
    ok = np.isfinite(p)
    adj = np.full(len(p), np.nan)
    if ok.any():
        bp = np.column_stack(boot)[:, ok]
        wy = westfall_young(p[ok], np.where(np.isfinite(bp), bp, 1.0))
        # no draw as extreme: the draws resolve the adjusted p only down to their floor
        # 1/(B + 1) (printed as a bound, analysis.pvalues), never 0; and never below the
        # unadjusted p (P(min_j p*_j <= p) >= p in the population)
        adj[ok] = np.maximum(np.where(wy > 0, wy, 1.0 / (int(draws) + 1)), p[ok])
    table["p_adjusted"] = adj
    table["p_holm"] = np.nan
    table.loc[ok, "p_holm"] = holm(p[ok])
    table["p_bonferroni"] = np.minimum(1.0, p * ok.sum())
    corr = None
    if len(scalar) >= 2:
        S = np.column_stack(list(scalar.values()))
        V = S.T @ S
        d = np.sqrt(np.diag(V))
        corr = pd.DataFrame(V / np.outer(d, d), index=list(scalar), columns=list(scalar))
    return StepdownResult(table[TABLE_COLUMNS], int(draws), weights, seed, G, corr)


# ----------------------------------------------------------------------- scores of a regression
def within_cluster_scores(fit, data: pd.DataFrame, cluster: str, terms: Sequence[str]):
    """Per-cluster contributions to the coefficients ``terms`` of a
    :func:`analysis.did.fe.fit_within` fit made with ``keep_scores=True``: rows ``bread x~_g'
    u_g`` by the labels of ``data[cluster]`` (the fit's ``cov`` is their cross-product times the
    CRV1 small-sample factor when the fit was clustered by ``cluster``). Returns (scores frame,
    vcov of the terms from the fit)."""
    ws = fit.within_scores
    if ws is None:
        raise ValueError("the fit has no scores: call fit_within(..., keep_scores=True)")
    idx = [fit.names.index(t) for t in terms]
    labels = data[cluster].to_numpy()[ws.rows].astype(str)
    per_obs = ws.scores @ ws.bread[:, idx]  # (n, len(terms))
    frame = pd.DataFrame(per_obs, columns=list(terms)).groupby(labels).sum()
    return frame, fit.cov[np.ix_(idx, idx)]
