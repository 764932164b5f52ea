"""Restricted wild cluster bootstrap (WCR) of a joint Wald test in a fixed-effects regression.

Why: a pre-trend test is a joint Wald test of several leads with a cluster-robust covariance. With
few treated clusters that covariance is estimated from a handful of clusters' scores (the leads are
non-zero only in treated clusters), it is nearly singular, and the chi-squared reference
distribution over-rejects badly (MacKinnon & Webb 2017, J. Applied Econometrics 32(2); Roth 2022,
AER: Insights 4(3), on the pre-test's own distortions). The WCR imposes the null (all tested
coefficients zero), draws cluster-level wild weights on the restricted residuals and recomputes
the same Wald statistic, with the same covariance rule, on every bootstrap sample: its p-value
needs no chi-squared approximation (Cameron, Gelbach & Miller 2008, REStat 90(3), Sec. IV for
joint tests; Roodman, MacKinnon, Nielsen & Webb 2019, Stata Journal 19(1), ``boottest`` with
several restrictions; Webb 2023 six-point weights for few clusters).

Model: ``y_it = a_i + l_t + X_it' b + Z_it' c + e_it``, ``H0: b = 0`` (``X``: the ``test``
columns, ``Z``: ``nuisance`` columns left free). With ``M`` the residual maker of the unit and time
effects and ``Z`` (the FE kernel's :class:`analysis.did.fe.FEProjector`), FWL gives
``x = M X``, ``u = M y`` (the restricted residuals) and, for weights ``v`` (G x B):

* bootstrap outcome ``y* = fitted_H0 + v_g u``, so ``M y* = M (v_g u) = P v`` with
  ``P[:, g] = M (1_g u)`` (the G cluster-masked residuals, residualized once);
* ``b* = (x'x)^-1 x' P v = A^-1 C v``, ``C = x'P`` (k x G);
* cluster scores ``s*_h = x_h' (P v - x b*) = H_h v - (x_h'x_h) b*``, ``H_h = x_h' P`` (k x G);
* ``V* = c A^-1 (sum_h s*_h s*_h') A^-1`` with the kernel's CRV1 factor ``c``, and
  ``W* = b*' V*^- b*`` with the rank rule of :func:`analysis.did.inference.wald_statistic`
  (generalised inverse on eigenvalues above ``RANK_RTOL`` of the largest).

All B draws are a few dense products of (G x k x G) and (G x B) arrays. p-value ``mean(W* >= W)``
(ties count, as :mod:`analysis.did.wild_bootstrap`); with one tested column ``W = t^2`` and the
p-value is that of :func:`analysis.did.wild_bootstrap.wild_cluster_bootstrap` for the same seed
(tested). The factor ``c`` scales the actual and the bootstrap statistics alike: it changes the
analytic p-value (reported beside, ``p_value_chi2``), not the bootstrap one.

General: no paths, no project column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.fe import (
    FIXEST,
    FEProjector,
    encode_panel,
    group_sum,
    independent_columns,
    nested_in,
)
from analysis.did.inference import RANK_RTOL, wald_statistic
from analysis.did.wild_bootstrap import _cluster_codes, _draws
from analysis.pvalues import format_p

__all__ = ["WildWaldResult", "wild_bootstrap_wald"]


@dataclass
class WildWaldResult:
    """Joint Wald test of ``terms = 0``: the statistic with the CRV1 covariance, its chi-squared
    p-value (``p_value_chi2``, df = rank) and the WCR bootstrap p-value (``p_value``)."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    wald: float
    df: int
    p_value: float
    p_value_chi2: float
    B: int
    weights: str
    n_clusters: int
    n_treated_clusters: int | None
    n_obs: int
    full_enumeration: bool
    wald_boot: np.ndarray = field(repr=False)

    @property
    def p_value_text(self) -> str:
        return format_p(self.p_value, self.B, space=" ")

    def summary(self) -> str:
        enum = " (full enumeration)" if self.full_enumeration else ""
        return (
            f"Joint Wald test of {len(self.terms)} coefficients = 0, G = {self.n_clusters}, "
            f"N = {self.n_obs}\n"
            f"  W = {self.wald:.3f} (rank {self.df}); chi2 p = {self.p_value_chi2:.4f}; "
            f"WCR ({self.weights}, B = {self.B}{enum}) {self.p_value_text}"
        )

    def __str__(self) -> str:
        return self.summary()


def _batched_wald(b: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``b_j' V_j^- b_j`` for stacks ``b`` (B, k) and ``V`` (B, k, k), each with the rank rule of
    :func:`analysis.did.inference.wald_statistic` (eigenvalues below RANK_RTOL of the largest
    dropped)."""
    V = (V + np.swapaxes(V, 1, 2)) / 2
    vals, vecs = np.linalg.eigh(V)
    top = vals.max(axis=1, keepdims=True)
    keep = vals > RANK_RTOL * top
    z = np.einsum("bkj,bk->bj", vecs, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(keep, z**2 / np.where(keep, vals, 1.0), 0.0)
    out = terms.sum(axis=1)
    return np.where(top[:, 0] > 0, out, np.nan)


def wild_bootstrap_wald(
    data: pd.DataFrame,
    yname: str,
    idname: str,
    tname: str,
    test: list[str],
    cluster: str,
    nuisance: list[str] | None = None,
    B: int = 9999,
    weights: str = "webb",
    seed: int | None = None,
    full_enumeration: bool | str = "auto",
    treated: str | None = None,
) -> WildWaldResult:
    """WCR bootstrap of the joint Wald test ``H0: coefficients of test = 0`` in a regression of
    ``yname`` on ``test`` and ``nuisance`` columns with unit and time effects, CRV1 covariance
    clustered by ``cluster`` (the kernel's rule, :data:`analysis.did.fe.FIXEST`); module docstring.

    Parameters
    ----------
    test : regressors tested jointly (columns absorbed by the effects and the nuisance columns are
        dropped by the kernel's rank rule; an error if none is left).
    nuisance : regressors left unrestricted (other event-time dummies, covariates).
    weights : "webb" (default: few treated clusters), "rademacher", "mammen", "norm";
        ``full_enumeration``: as :func:`analysis.did.wild_bootstrap.wild_cluster_bootstrap`.
    treated : optional 0/1 (or first-treatment-period) column, only to count the clusters that
        contain a treated unit (``n_treated_clusters``).
    """
    test, nuisance = list(test), list(nuisance or [])
    if not test:
        raise ValueError("no column to test")
    cols = [yname, *test, *nuisance, cluster] + ([treated] if treated else [])
    df, unit, time = encode_panel(data, idname, tname, cols)
    cl, G = _cluster_codes(df[cluster])
    Z = df[nuisance].to_numpy(float) if nuisance else None
    proj = FEProjector(unit, time, Z)
    X = df[test].to_numpy(float)
    x = proj.residualize(X)
    norms = np.sqrt((X * X).sum(axis=0))
    keep = independent_columns(x.T @ x, norms)
    if not len(keep):
        raise ValueError("every tested column is absorbed by the fixed effects / nuisance columns")
    x, names = x[:, keep], [test[j] for j in keep]
    k, n = x.shape[1], proj.n
    u = proj.residualize(df[yname].to_numpy(float))  # restricted (H0) residuals
    A = x.T @ x
    Ainv = np.linalg.inv(A)
    beta = Ainv @ (x.T @ u)
    e = u - x @ beta
    fe_sizes = [proj.n_units, proj.n_times]
    nested = [nested_in(unit, cl), nested_in(time, cl)]
    k_all = k + (proj.n_params - (proj.n_units + proj.n_times - 1))
    c = FIXEST.factor(n, k_all, G, fe_sizes, nested)
    s = group_sum(cl, x * e[:, None], G)  # (G, k)
    V = c * Ainv @ (s.T @ s) @ Ainv
    W, df_w = wald_statistic(beta, V)

    # bootstrap: P[:, g] = M (1_g u)
    onehot = np.zeros((n, G))
    onehot[np.arange(n), cl] = 1.0
    P = proj.residualize(onehot * u[:, None])  # (n, G)
    H = np.stack([x[cl == h].T @ P[cl == h] for h in range(G)])  # (G, k, G): x_h' P
    Ahh = np.stack([x[cl == h].T @ x[cl == h] for h in range(G)])  # (G, k, k)
    C = H.sum(axis=0)  # x' P
    Vw, enum = _draws(weights, G, B, seed, full_enumeration)
    bstar = (Ainv @ C @ Vw).T  # (B, k)
    sstar = np.einsum("hkg,gb->bhk", H, Vw) - np.einsum("hkl,bl->bhk", Ahh, bstar)  # (B, G, k)
    meat = np.einsum("bhk,bhl->bkl", sstar, sstar)
    Vstar = c * np.einsum("kl,blm,mn->bkn", Ainv, meat, Ainv)
    Wstar = _batched_wald(bstar, Vstar)
    finite = np.isfinite(Wstar)
    p = float(np.mean(Wstar[finite] >= W * (1 - 1e-10))) if np.isfinite(W) else float("nan")
    n_treated = None
    if treated:
        tr = df[treated].to_numpy(float) > 0
        n_treated = int(np.unique(cl[tr]).size)
    return WildWaldResult(
        terms=names,
        estimates=beta,
        vcov=V,
        wald=float(W),
        df=int(df_w),
        p_value=p,
        p_value_chi2=float(stats.chi2.sf(W, df_w)) if df_w else float("nan"),
        B=int(Vw.shape[1]),
        weights=weights,
        n_clusters=G,
        n_treated_clusters=n_treated,
        n_obs=n,
        full_enumeration=bool(enum),
        wald_boot=Wstar,
    )
