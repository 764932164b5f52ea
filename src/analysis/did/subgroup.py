"""Subgroup effects of the imputation estimator and a test that separates effect modification
from timing composition.

The Borusyak, Jaravel & Spiess (2024, REStud 91(6)) imputation estimator fits one untreated-outcome
model and imputes ``tau_it`` for every treated unit-period. Any weighted average of the ``tau_it``
is an estimand of the same kind as its overall ATT (:mod:`analysis.did.imputation`): a group's ATT
is the mean of ``tau_it`` over the group's treated observations, i.e. the group's cohort x
event-time cells ``ATT_k(g, e)`` averaged with the group's own weights (its share of treated
observations in each cell).

Two groups treated at different times therefore differ in their ATT even when no unit
characteristic modifies the effect: effects that vary with the cohort and with the time since
treatment enter with different weights (timing composition). The comparison that isolates effect
modification holds the cell mix fixed: average each group's ``ATT_k(c)`` over the cells ``c`` that
all compared groups have, with COMMON weights (the pooled share of treated observations of the
cell). Then

    ATT_A - ATT_B = [sum_c w_c (ATT_A(c) - ATT_B(c))]   (effect modification)
                  + [the rest]                           (composition: cells and their weights),

and the first term is zero when the group does not modify the effect within cells. When groups
share no cohort (e.g. the groups ARE cohorts), cells can be event times only; the comparison then
holds the event-time mix fixed and tests whether cohorts differ at equal time since treatment.

Variance: the BJS conservative variance of a linear estimand, computed exactly as
:func:`analysis.did.imputation.imputation` does for its estimands (imputation weights ``v`` from
one sparse factorisation, cluster sums of ``v * e~``), for any matrix of weights on the treated
observations; its private building blocks are reused so the two cannot drift apart (the tests
check that the overall ATT's SE is identical). One variant, and why: the auxiliary model's
``tau_bar`` is one vector for all estimands, the leave-out (BJS 2024, App. A.6) mean of ``tau`` in
a chain of cells tried in order (default cohort x event time x group, then cohort x event time,
then event time, then all treated observations). Every estimand built here weights observations
equally within a group x cohort x event-time cell, so the ``v^2``-weighted cell means of BJS
Thm. 3 for a group's estimand ARE the group-cell means; a per-estimand computation would,
however, fall back only within the group, and a group with a single cluster (a one-city group)
would then have ``tau - tau_bar = 0`` and no treated-side variance. The fallback to the same cell in
the other groups is the auxiliary model "no modification within this cell", which keeps the
variance conservative in the sense of BJS (it adds, never removes, the cell's heterogeneity).
With the chain ``[cohort x event time, event time, all]`` this is exactly the leave-out variance
of :func:`~analysis.did.imputation.imputation`.

General: no paths, no project column names (the caller passes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from .imputation import _cell_codes, _fallback_cell_means, first_stage

__all__ = [
    "ImputationFit",
    "LinearEstimates",
    "common_cells",
    "common_weights",
    "group_weights",
    "imputation_fit",
    "minimum_detectable_difference",
    "wald_equal",
]


@dataclass
class LinearEstimates:
    """Linear estimands ``W' tau``: estimates and their joint BJS conservative covariance."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    n_clusters: int
    # per-cluster contributions (G, k): ``vcov = scores' scores``; rows are the fit's cluster codes
    # (the same for every estimand of one fit: a joint multiplier bootstrap draws from them)
    scores: np.ndarray | None = field(default=None, repr=False)

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.vcov), 0.0, None))

    def contrast(self, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``R b`` and its covariance ``R V R'``."""
        R = np.atleast_2d(np.asarray(R, float))
        return R @ self.estimates, R @ self.vcov @ R.T


@dataclass
class ImputationFit:
    """The imputation estimator's first stage, ready to evaluate any weighted average of ``tau``.

    ``treated``: one row per treated observation with ``unit``, ``time``, ``cohort``, ``horizon``
    (``time - cohort``), ``tau`` and the carried columns (in the data's row order).
    """

    treated: pd.DataFrame
    n_obs: int
    n_untreated: int
    n_clusters: int
    _Z0: sp.csr_matrix = field(repr=False)
    _Z1: sp.csr_matrix = field(repr=False)
    _lu: object = field(repr=False)
    _resid0: np.ndarray = field(repr=False)
    _cl0: np.ndarray = field(repr=False)  # cluster codes of the untreated rows
    _cl1: np.ndarray = field(repr=False)  # cluster codes of the treated rows
    # the cluster label of each code (row k of a ``LinearEstimates.scores``)
    cluster_labels: np.ndarray | None = field(default=None, repr=False)

    @property
    def tau(self) -> np.ndarray:
        return self.treated["tau"].to_numpy(float)

    def tau_bar(
        self,
        levels: Sequence[Sequence[str]] = (("cohort", "horizon"), ("horizon",), ()),
        leaveout: bool = True,
    ) -> np.ndarray:
        """Auxiliary-model mean effect of each treated observation: the (leave-own-cluster-out)
        mean of ``tau`` in its cell of the first level that has one, then the next level; with
        ``leaveout=False`` the plain mean in the cells of the first level. Observations left
        without any (a single treated cluster) get the plain mean of the first level's cell."""
        levels = [list(level) for level in levels] or [[]]
        plain = _cell_codes(self.treated, levels[0])
        chain = [_cell_codes(self.treated, lv, self._cl1) for lv in levels] if leaveout else []
        ones = np.ones((len(self.treated), 1))
        return _fallback_cell_means(plain, chain, ones, self.tau)[:, 0]

    def linear(
        self, weights: pd.DataFrame | np.ndarray, tau_bar: np.ndarray | None = None
    ) -> LinearEstimates:
        """Estimates ``W' tau`` and the BJS conservative cluster covariance for the columns of
        ``weights`` (rows: the treated observations of ``treated``, in order)."""
        if isinstance(weights, pd.DataFrame):
            terms, W1 = [str(c) for c in weights.columns], weights.to_numpy(float)
        else:
            W1 = np.asarray(weights, float).reshape(len(self.treated), -1)
            terms = [f"estimand_{k}" for k in range(W1.shape[1])]
        if W1.shape[0] != len(self.treated):
            raise ValueError("weights need one row per treated observation")
        tau = self.tau
        tau_bar = self.tau_bar() if tau_bar is None else np.asarray(tau_bar, float)
        est = W1.T @ tau
        # imputation weights of the untreated observations: v0 = -Z0 (Z0'Z0)^-1 Z1' w1
        V0 = -(self._Z0 @ self._lu.solve(np.asarray(self._Z1.T @ W1)))
        S = np.zeros((self.n_clusters, W1.shape[1]))
        np.add.at(S, self._cl1, W1 * (tau - tau_bar)[:, None])
        np.add.at(S, self._cl0, V0 * self._resid0[:, None])
        return LinearEstimates(terms, est, S.T @ S, self.n_clusters, S)


def imputation_fit(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    carry: Sequence[str] = (),
) -> ImputationFit:
    """First stage of the BJS imputation estimator (the steps of
    :func:`analysis.did.imputation.imputation`: same sample rules, same design, same collinearity
    rule), keeping what any linear estimand's estimate and variance need. ``carry``: columns of
    ``data`` copied onto the treated observations (e.g. a group label to build weights from)."""
    carry = [c for c in dict.fromkeys(carry) if c not in (idname, tname)]
    fs = first_stage(data, yname, tname, idname, gname, covariates, cluster, carry)
    df, D, Z0, Z1, y, lu, gamma = fs.df, fs.D, fs.Z0, fs.Z1, fs.y, fs.lu, fs.gamma
    if not D.any():
        raise ValueError("no treated observations")
    cl_codes, cl_uniq = pd.factorize(df["_cl"])
    rows = df.loc[D]
    treated = pd.DataFrame(
        {
            "unit": rows["_id"].to_numpy(),
            "time": rows["_t"].to_numpy(),
            "cohort": rows["_g"].to_numpy(),
            "horizon": (rows["_t"] - rows["_g"]).astype(int).to_numpy(),
            "tau": y[D] - Z1 @ gamma,
            **{c: rows[f"_carry_{c}"].to_numpy() for c in carry},
        }
    )
    return ImputationFit(
        treated=treated,
        n_obs=len(df),
        n_untreated=int((~D).sum()),
        n_clusters=len(cl_uniq),
        _Z0=Z0,
        _Z1=Z1,
        _lu=lu,
        _resid0=y[~D] - Z0 @ gamma,
        _cl0=cl_codes[~D],
        _cl1=cl_codes[D],
        cluster_labels=np.asarray(cl_uniq),
    )


def group_weights(labels: pd.Series, groups: Sequence) -> pd.DataFrame:
    """One column per group: ``1 / n_k`` on the group's treated observations (its own-weight ATT:
    the mean of ``tau`` over the group, i.e. its ATT(g, e) cells with its own cell shares)."""
    out = {}
    for k in groups:
        m = (labels == k).to_numpy()
        out[k] = m / max(m.sum(), 1)
    return pd.DataFrame(out, index=labels.index)


def common_cells(treated: pd.DataFrame, labels: pd.Series, groups: Sequence, cells: Sequence[str]):
    """Cells (tuples of the ``cells`` columns) in which every group of ``groups`` has at least one
    treated observation."""
    key = pd.MultiIndex.from_frame(treated[list(cells)])
    sets = [set(key[(labels == k).to_numpy()]) for k in groups]
    return set.intersection(*sets) if sets else set()


def common_weights(
    treated: pd.DataFrame, labels: pd.Series, groups: Sequence, cells: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """One column per group: its cell effects ``ATT_k(c)`` averaged over the cells common to all
    ``groups`` with COMMON weights ``w_c`` (the pooled share of the groups' treated observations
    in the common cells). Observation weight: ``w_c / n_{k,c}``. Also returns the boolean mask of
    treated observations in common cells. Columns are zero when there is no common cell."""
    key = pd.MultiIndex.from_frame(treated[list(cells)])
    common = common_cells(treated, labels, groups, cells)
    in_common = key.isin(list(common)) & labels.isin(list(groups)).to_numpy()
    out = {k: np.zeros(len(treated)) for k in groups}
    if in_common.any():
        cell_code = pd.Series(pd.factorize(key)[0], index=labels.index)
        n_c = cell_code[in_common].value_counts()
        w_c = n_c / n_c.sum()
        for k in groups:
            m = in_common & (labels == k).to_numpy()
            n_kc = cell_code[m].value_counts()
            codes = cell_code[m]
            out[k][m] = w_c.reindex(codes).to_numpy() / n_kc.reindex(codes).to_numpy()
    return pd.DataFrame(out, index=labels.index), in_common


def wald_equal(
    estimates: np.ndarray, vcov: np.ndarray, n_clusters: int | None
) -> tuple[float, int, float]:
    """Test that all ``estimates`` are equal: ``(F, q, p)`` with ``F = W / q`` the Wald statistic of
    the ``q = k - 1`` differences from the first, and ``p`` from ``F(q, G - 1)`` (``chi2(q)/q``
    without clusters); for two estimates ``F = t^2`` and ``p`` is the ``t(G-1)`` p-value."""
    k = len(estimates)
    if k < 2:
        return np.nan, 0, np.nan
    R = np.eye(k)[1:] - np.eye(k)[0]
    rb, rv = R @ np.asarray(estimates, float), R @ np.asarray(vcov, float) @ R.T
    try:
        w = float(rb @ np.linalg.solve(rv, rb))
    except np.linalg.LinAlgError:
        w = float(rb @ np.linalg.pinv(rv) @ rb)
    q = k - 1
    f = w / q
    p = stats.chi2.sf(w, q) if n_clusters is None else stats.f.sf(f, q, int(n_clusters) - 1)
    return f, q, float(p)


def minimum_detectable_difference(
    se: float, n_clusters: int | None, alpha: float = 0.05, power: float = 0.8
) -> float:
    """``(t_{1 - alpha/2} + t_{power}) * se`` with ``t(G - 1)`` quantiles (normal without
    clusters): the true difference a two-sided level-``alpha`` t-test with standard error ``se``
    rejects with probability ``power`` (analytic, the SE taken as known; the rejection of the
    opposite tail ignored). The t(G-1) form of :func:`analysis.did.power.analytic_mde`, so that
    the MDD matches the test the study reports."""
    if n_clusters is None:
        q = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    else:
        df = int(n_clusters) - 1
        q = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    return float(q * se)
