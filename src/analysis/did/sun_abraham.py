"""Sun & Abraham (2021) interaction-weighted (IW) event-study estimator.

Sun, L. and Abraham, S. (2021), "Estimating dynamic treatment effects in event studies with
heterogeneous treatment effects", *Journal of Econometrics* 225(2), 175-199.

Step 1 estimates cohort-specific effects CATT(g, e) from a regression of the outcome on a full set
of cohort x relative-period indicators (all treated cohorts, all relative periods except the
reference period(s)) with unit and time fixed effects, using only a clean control cohort (never
treated, or the last-treated cohort).  This is the regression run by ``fixest::sunab`` and Stata
``eventstudyinteract``; we build the indicators ourselves (a sparse matrix) so the mapping
coefficient -> (g, e) is explicit, and estimate through the fixed-effects kernel
(:mod:`analysis.did.fe`: exact two-way demeaning, its rank rule and fixest's CRV1 rule), which gives
the bread and the cluster scores the influence functions below use; the demeaned indicators stay
factorised (sparse products, never a dense N x cells array). Same numbers as ``pyfixest.feols``
with ``CRV1`` (tests/did/test_sun_abraham.py, 1e-10); on 300 x 14 and 3,000 x 20 panels 6-17
times faster than that regression alone (benchmarks/bench_heterogeneity_robust.py) and 4-35 times
faster than diff-diff's ``SunAbraham`` (benchmarks/bench_peers.py), measured on a loaded 2-core
machine.

Step 2 aggregates ``IW(e) = sum_g w(g, e) CATT(g, e)`` with ``w(g, e)`` the sample share of cohort
``g`` among the observations at relative period ``e``.  The weights are estimated, so the standard
error adds their sampling variability by the delta method (Sun & Abraham 2021, Prop. 6): the
cluster-level influence function of ``IW(e)`` is ``w' psi_beta + beta' psi_w``.  Treating the
weights as fixed (what ``fixest::aggregate`` does) gives only the first part, ``w' V w``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .inference import wald_statistic
from .results import PretrendTest, tidy_frame

__all__ = ["SunAbrahamResult", "sun_abraham"]


@dataclass
class SunAbrahamResult:
    """Result of :func:`sun_abraham`.

    ``catt`` holds the cohort-specific coefficients (columns cohort, event_time, estimate,
    std_error, n_obs); ``event_times``/``estimates``/``std_errors`` the IW event-study path;
    ``att``/``att_se`` the overall post-period ATT (observation-share weighted, as
    ``fixest::aggregate(..., "att")``); ``att_se_fixed_weights`` its SE with the observation-share
    weights held fixed (no weight-estimation term; the analogue of ``std_errors_fixed_weights``),
    the right one when inference conditions on the treatment timing.
    """

    event_times: np.ndarray
    estimates: np.ndarray
    std_errors: np.ndarray
    std_errors_fixed_weights: np.ndarray
    att: float
    att_se: float
    catt: pd.DataFrame
    vcov_catt: np.ndarray
    weights: pd.DataFrame
    n_obs: int
    n_units: int
    n_clusters: int
    control: str
    ref: tuple[int, ...]
    fit: object = field(repr=False, default=None)
    alpha: float = 0.05
    att_se_fixed_weights: float = np.nan

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """IW(e) by event time; term = ``event_time::e``."""
        a = self.alpha if alpha is None else alpha
        terms = [f"event_time::{int(e)}" for e in self.event_times]
        return tidy_frame(terms, self.estimates, self.std_errors, alpha=a)

    def tidy_cohort(self, alpha: float | None = None) -> pd.DataFrame:
        """Cohort-specific CATT(g, e); term = ``cohort::g:event_time::e``."""
        a = self.alpha if alpha is None else alpha
        c = self.catt
        terms = [f"cohort::{int(g)}:event_time::{int(e)}" for g, e in zip(c.cohort, c.event_time)]
        return tidy_frame(terms, c.estimate, c.std_error, alpha=a)

    def aggregate_att(self, alpha: float | None = None) -> pd.DataFrame:
        """Overall post-period ATT: all CATT(g, e >= 0) weighted by their observation counts."""
        a = self.alpha if alpha is None else alpha
        return tidy_frame(["ATT"], [self.att], [self.att_se], alpha=a)

    def se_fixed_weights(self, cells: np.ndarray) -> float:
        """SE of the observation-share-weighted average of the CATTs in ``cells`` (boolean mask over
        ``catt``) with the weights held fixed (``fixest::aggregate``). ``std_errors_fixed_weights``
        (per event time) and ``att_se_fixed_weights`` (``cells = event_time >= 0``) are this quantity."""
        w = self.catt["n_obs"].to_numpy(float) * np.asarray(cells)
        w /= w.sum()
        return float(np.sqrt(w @ self.vcov_catt @ w))

    @property
    def n(self) -> int:
        return self.n_obs

    def pretrend_test(self) -> PretrendTest | None:
        """Joint Wald test that the IW leads (reported event times before the reference period)
        are zero, chi-squared with df = #leads (as ``fixest::wald`` on the ``sunab`` leads).

        Covariance with the cohort-share weights held fixed, ``A V A'``: under the null every
        lead CATT is zero, so the weight-estimation term ``beta' psi_w`` of the SEs vanishes."""
        leads = [e for e in self.event_times if e < min(self.ref)]
        if not leads:
            return None
        c = self.catt
        A = np.zeros((len(leads), len(c)))
        for j, e in enumerate(leads):
            m = (c["event_time"] == e).to_numpy()
            A[j, m] = c.loc[m, "n_obs"].to_numpy(float) / c.loc[m, "n_obs"].sum()
        b = A @ c["estimate"].to_numpy(float)
        V = A @ self.vcov_catt @ A.T
        w, df = wald_statistic(b, V)
        return PretrendTest(w, df, float(stats.chi2.sf(w, df)))

    def summary(self) -> str:
        head = (
            f"Sun & Abraham (2021) interaction-weighted event study\n"
            f"control cohort: {self.control}; reference period(s): {list(self.ref)}; "
            f"N = {self.n_obs}, units = {self.n_units}, clusters = {self.n_clusters}\n"
        )
        body = pd.concat([self.tidy(), self.aggregate_att()], ignore_index=True)
        return head + body.to_string(index=False, float_format=lambda v: f"{v: .4f}")

    def plot(self, ax=None, color: str = "C0", label: str | None = "Sun & Abraham"):
        """Event-study plot with pointwise confidence intervals; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        td = self.tidy()
        e = self.event_times.astype(float)
        ax.errorbar(
            e,
            td.estimate,
            yerr=[td.estimate - td.conf_low, td.conf_high - td.estimate],
            fmt="o",
            color=color,
            capsize=3,
            label=label,
        )
        for r in self.ref:
            ax.plot([r], [0.0], marker="o", mfc="white", color=color)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("Periods relative to treatment")
        ax.set_ylabel("Estimate (95% CI)")
        if label:
            ax.legend()
        return ax


def _prepare(data, yname, tname, idname, gname, control, covariates, cluster):
    cols = {yname: "_y", tname: "_t", idname: "_id", gname: "_g"}
    covariates = list(covariates or [])
    df = data[list(dict.fromkeys([yname, tname, idname, gname, *covariates]))].copy()
    df["_cl"] = data[cluster].to_numpy() if cluster else data[idname].to_numpy()
    cov_names = [f"_x{k}" for k in range(len(covariates))]
    for k, c in enumerate(covariates):
        df[cov_names[k]] = data[c].astype(float)
    df = df.rename(columns=cols)
    df["_g"] = df["_g"].fillna(0)
    df = df.dropna(subset=["_y", *cov_names]).reset_index(drop=True)

    tmin, tmax = df["_t"].min(), df["_t"].max()
    # cohorts first treated after the sample are never treated within it
    df.loc[df["_g"] > tmax, "_g"] = 0
    always = (df["_g"] > 0) & (df["_g"] <= tmin)
    if always.any():
        warnings.warn(
            f"dropping {df.loc[always, '_id'].nunique()} always-treated units "
            "(no pre-period to anchor their unit effect)",
            stacklevel=3,
        )
        df = df.loc[~always].reset_index(drop=True)

    if control == "never":
        if not (df["_g"] == 0).any():
            raise ValueError("no never-treated units; use control='last'")
        ctrl_mask = df["_g"] == 0
    elif control == "last":
        g_last = df.loc[df["_g"] > 0, "_g"].max()
        # last-treated cohort is the only control; drop periods once it is treated
        df = df.loc[(df["_g"] > 0) & (df["_t"] < g_last)].reset_index(drop=True)
        ctrl_mask = df["_g"] == g_last
    else:
        raise ValueError("control must be 'never' or 'last'")
    df["_treated_cohort"] = np.where(ctrl_mask, 0, df["_g"])
    df["_e"] = np.where(df["_treated_cohort"] > 0, df["_t"] - df["_g"], np.nan)
    return df, cov_names


@dataclass
class _SaturatedFit:
    """The saturated regression: OLS of y on the cell indicators and covariates after unit and
    period effects, CRV1 (fixest's small-sample rule). ``kept``: indices of the regressors kept by
    the rank rule (cells first, then covariates); ``bread`` = inverse Gram of the kept demeaned
    regressors; ``cluster_scores``: per-cluster sums of x_i u_i."""

    kept: np.ndarray
    params: np.ndarray
    vcov: np.ndarray
    bread: np.ndarray
    cluster_scores: np.ndarray
    cluster_codes: np.ndarray
    n_clusters: int
    nobs: int
    n_cells: int


def _inverse_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """``(L L')^-1`` from the lower Cholesky factor ``L``, two triangular solves per column.

    Hand-written on BLAS ``trsv`` (level 2, which OpenBLAS runs on one thread) rather than LAPACK
    ``potri`` / ``getri``: those are multithreaded, and on the shared 2-core machine they took
    100-250 ms for the 150 x 150 Gram matrix of the 300 x 14 benchmark panel (1 ms when idle)
    while the other jobs held the cores; K^3 flops either way.
    """
    from scipy.linalg.blas import dtrsv

    k = chol.shape[0]
    lf = np.asfortranarray(chol)
    out = np.empty((k, k))
    e = np.zeros(k)
    for j in range(k):
        e[j] = 1.0
        out[:, j] = dtrsv(lf, dtrsv(lf, e, lower=1), lower=1, trans=1)
        e[j] = 0.0
    return (out + out.T) / 2


def _saturated_fit(df: pd.DataFrame, cell_of: np.ndarray, n_cells: int, cov_names) -> _SaturatedFit:
    """``y ~ cell indicators + covariates | unit + period`` with CRV1 by ``_cl``, by the FE kernel.

    The same regression, estimates and CRV1 covariance as ``pyfixest.feols(..., vcov={"CRV1":
    cl})`` (fixest's ``ssc()``), without building the indicator columns as data-frame columns:
    the indicators are a sparse matrix (one nonzero per treated row), and the saturated
    regression has cohorts x relative periods columns (342 on 3,000 x 20 with 18 cohorts, where
    building and demeaning them in pyfixest took 14 s).

    ``M X`` is never formed: the kernel keeps it factorised (``FEProjector.factored``: ``X`` minus
    unit, time and grand means), so the Gram matrix ``X' M X`` and the cluster scores
    ``sum_{i in c} (M X)_i u_i`` are sparse products at the cost of the treated rows and the
    means; demeaning the dense N x cells array was most of the time. The rank rule's Cholesky
    factor (``independent_columns_factor``) gives the bread (``_inverse_from_cholesky``).
    Multithreaded BLAS / LAPACK calls are kept few (the meat and its sandwich): on a loaded
    machine each costs far more than its flops. More than ``FEProjector.max_exact_times``
    periods (alternating projections): the dense demeaned array, as before.
    """
    from scipy import sparse

    from .fe import FIXEST, FEProjector, independent_columns_factor, nested_in

    n = len(df)
    unit = pd.factorize(df["_id"])[0]
    period = pd.factorize(df["_t"])[0]
    cl, uniq = pd.factorize(df["_cl"])
    n_cl = len(uniq)
    rows = np.flatnonzero(cell_of >= 0)
    X = sparse.csc_matrix((np.ones(len(rows)), (rows, cell_of[rows])), shape=(n, n_cells))
    W = df[cov_names].to_numpy(dtype=float) if cov_names else np.empty((n, 0))
    y = df["_y"].to_numpy(dtype=float)
    proj = FEProjector(unit, period)
    yt = proj.demean_fe(y)
    Wt = proj.demean_fe(W) if cov_names else W
    fac = proj.factored(X)
    if fac is not None:
        # the demeaned indicators kept factorised (fe.FactoredWithin): Gram matrix and cluster
        # scores from sparse products, never the dense N x cells array
        gxx = fac.left(X.T.tocsr())
    else:  # more than FEProjector.max_exact_times periods: alternating projections, dense
        Xt = proj.demean_fe(X.toarray())
        gxx = np.asarray(X.T.tocsr() @ Xt)
    gxw = np.asarray(X.T @ Wt)
    gram = np.block([[gxx, gxw], [gxw.T, W.T @ Wt]])
    gram = (gram + gram.T) / 2
    zy = np.r_[np.asarray(X.T @ yt).ravel(), W.T @ yt]
    norms = np.sqrt(np.r_[np.asarray(X.sum(axis=0)).ravel(), np.einsum("ij,ij->j", W, W)])
    kept, chol = independent_columns_factor(gram, norms)
    if not len(kept):
        raise ValueError("every cohort x period cell is absorbed by the fixed effects")
    bread = _inverse_from_cholesky(chol)
    beta = bread @ zy[kept]
    kx, kw = kept[kept < n_cells], kept[kept >= n_cells] - n_cells
    bx, bw = np.zeros(n_cells), beta[len(kx) :]
    bx[kx] = beta[: len(kx)]
    u = yt - (fac.matvec(bx) if fac is not None else Xt @ bx) - Wt[:, kw] @ bw
    onehot = sparse.csr_matrix((u, (cl, np.arange(n))), shape=(n_cl, n))
    sx = fac.left(onehot) if fac is not None else np.asarray(onehot @ Xt)
    scores = np.hstack([sx[:, kx], np.asarray(onehot @ Wt[:, kw])])
    factor = FIXEST.factor(
        n,
        len(kept),
        n_cl,
        [proj.n_units, proj.n_times],
        [nested_in(unit, cl), nested_in(period, cl)],
    )
    vcov = factor * bread @ (scores.T @ scores) @ bread
    return _SaturatedFit(
        kept=kept, params=beta, vcov=(vcov + vcov.T) / 2, bread=bread, cluster_scores=scores,
        cluster_codes=cl, n_clusters=n_cl, nobs=n, n_cells=n_cells,
    )  # fmt: skip


def _ratio_aggregate(beta, vcov, ib, counts, n_obs, idx, ssc_g):
    """Share-weighted sum of ``beta[idx]`` and its delta-method variance.

    ``counts`` (clusters x K) holds each cluster's number of observations per coefficient
    (``n_obs``: its column sums ``A``), so the weights ``w_k = A_k / B``, ``B = sum_idx A``, are
    ratio estimators with influence function ``(a_ck - w_k b_c) / B``. ``ib``: the beta part of
    the cluster-level influence function, ``psi_beta[:, idx] @ w``. Returns (estimate, se,
    se_fixed_weights).
    """
    a = counts[:, idx]
    B = n_obs[idx].sum()
    w = n_obs[idx] / B
    b = beta[idx]
    est = float(w @ b)
    var_fixed = float(w @ vcov[np.ix_(idx, idx)] @ w)
    iw = (a @ b - est * a.sum(axis=1)) / B  # weight part: sum_k beta_k psi_w,ck
    var = var_fixed + ssc_g * float(2 * ib @ iw + iw @ iw)
    return est, np.sqrt(max(var, 0.0)), np.sqrt(var_fixed)


def sun_abraham(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    control: str = "never",
    covariates: Sequence[str] | None = None,
    ref: int | Sequence[int] = -1,
    min_e: int | None = None,
    max_e: int | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    engine: str = "kernel",
) -> SunAbrahamResult:
    """Sun & Abraham (2021) interaction-weighted event-study estimator.

    Parameters
    ----------
    data : long panel.
    yname, tname, idname : outcome, (integer) period and unit columns.
    gname : first treatment period; 0 or NaN = never treated (cohorts first treated after the
        last sample period count as never treated).
    control : "never" (never-treated units are the control cohort) or "last" (the last-treated
        cohort is the control; never-treated units and periods from its treatment on are dropped).
    covariates : optional time-varying controls entering linearly.
    ref : reference relative period(s) excluded from the interactions (default -1).
    min_e, max_e : report / aggregate only event times in ``[min_e, max_e]``.  Relative periods
        outside the window still get their own cohort-specific indicators (they are *not* pooled
        into the reference), so trimming the display never contaminates the reported CATTs.
    cluster : cluster variable for CRV1 standard errors (default ``idname``).
    engine : ``"kernel"``, the only one: the saturated regression always runs through the
        fixed-effects kernel (tested equal to ``pyfixest.feols`` in tests/did/test_sun_abraham.py);
        the keyword stays for callers written when pyfixest was the default.
    """
    if engine != "kernel":
        raise ValueError(f"engine must be 'kernel' (the FE kernel), got {engine!r}")
    refs = tuple(int(r) for r in np.atleast_1d(ref))
    df, cov_names = _prepare(data, yname, tname, idname, gname, control, covariates, cluster)

    treated = df["_treated_cohort"] > 0
    cells = (
        df.loc[treated, ["_treated_cohort", "_e"]]
        .drop_duplicates()
        .astype(int)
        .sort_values(["_treated_cohort", "_e"])
    )
    cells = cells.loc[~cells["_e"].isin(refs)]
    keys = [(int(g), int(e)) for g, e in cells.itertuples(index=False)]
    names = [f"sa_g{g}_e{'m' if e < 0 else ''}{abs(e)}" for g, e in keys]
    if not names:
        raise ValueError("no treated cohort x relative-period cells to estimate")
    # the cell of each row (-1: a control row or a reference period): the indicator columns
    g_arr = df["_treated_cohort"].to_numpy()
    e_arr = np.where(treated, df["_e"].to_numpy(), 0).astype(np.int64)
    cell_of = pd.MultiIndex.from_tuples(keys).get_indexer(
        pd.MultiIndex.from_arrays([g_arr.astype(np.int64), e_arr])
    )
    cell_of[~treated.to_numpy()] = -1

    fit = _saturated_fit(df, cell_of, len(names), cov_names)
    # the kept regressors are in column order, cells first: the kept cells are fit.kept's head
    pos = np.flatnonzero(fit.kept < len(names))
    keep = fit.kept[pos].tolist()
    if len(keep) < len(names):
        kept_set = set(keep)
        dropped = [names[k] for k in range(len(names)) if k not in kept_set]
        warnings.warn(f"collinear cohort x period cells dropped: {dropped}", stacklevel=2)
    keys = [keys[k] for k in keep]
    names = [names[k] for k in keep]

    codes, n_cl = fit.cluster_codes, fit.n_clusters
    ssc_g = n_cl / (n_cl - 1)

    beta = fit.params[pos]
    vcov = fit.vcov[np.ix_(pos, pos)]
    # each cluster's observations per kept cell
    rows = cell_of >= 0
    flat = codes[rows] * fit.n_cells + cell_of[rows]
    counts_all = np.bincount(flat, np.ones(len(flat)), n_cl * fit.n_cells).reshape(n_cl, -1)
    counts = counts_all if len(keep) == fit.n_cells else counts_all[:, keep]
    n_obs = counts.sum(axis=0)

    key_g = np.array([g for g, _ in keys])
    key_e = np.array([e for _, e in keys])
    catt = pd.DataFrame(
        {
            "cohort": key_g,
            "event_time": key_e,
            "estimate": beta,
            "std_error": np.sqrt(np.diag(vcov)),
            "n_obs": n_obs.astype(int),
        }
    )

    lo = -np.inf if min_e is None else min_e
    hi = np.inf if max_e is None else max_e
    ev = np.array(sorted(e for e in set(key_e) if lo <= e <= hi))
    post = np.flatnonzero((key_e >= 0) & (key_e >= lo) & (key_e <= hi))
    groups = [np.flatnonzero(key_e == e) for e in ev] + ([post] if len(post) else [])
    # the beta part of each aggregate's cluster-level influence function, psi_beta[:, idx] @ w with
    # psi_beta = cluster_scores @ bread (bread @ sum_{i in c} x_i u_i), as one product
    # scores @ (bread @ weights): clusters x cells x aggregates, not clusters x cells x cells
    agg = np.zeros((len(fit.kept), len(groups)))
    for j, idx in enumerate(groups):
        agg[pos[idx], j] = n_obs[idx] / n_obs[idx].sum()
    ib = fit.cluster_scores @ (fit.bread @ agg)
    est, se, se_fixed, wrows = [], [], [], []
    for j, e in enumerate(ev):
        idx = groups[j]
        m, s, sf = _ratio_aggregate(beta, vcov, ib[:, j], counts, n_obs, idx, ssc_g)
        est.append(m)
        se.append(s)
        se_fixed.append(sf)
        w = n_obs[idx]
        wrows += [(int(e), int(key_g[i]), wi / w.sum()) for i, wi in zip(idx, w)]
    if len(post):
        att, att_se, att_se_fixed = _ratio_aggregate(
            beta, vcov, ib[:, -1], counts, n_obs, post, ssc_g
        )
    else:
        att, att_se, att_se_fixed = np.nan, np.nan, np.nan

    return SunAbrahamResult(
        event_times=ev,
        estimates=np.array(est),
        std_errors=np.array(se),
        std_errors_fixed_weights=np.array(se_fixed),
        att=att,
        att_se=att_se,
        catt=catt,
        vcov_catt=vcov,
        weights=pd.DataFrame(wrows, columns=["event_time", "cohort", "weight"]),
        n_obs=int(fit.nobs),
        n_units=int(df["_id"].nunique()),
        n_clusters=n_cl,
        control=control,
        ref=refs,
        fit=fit,
        alpha=alpha,
        att_se_fixed_weights=att_se_fixed,
    )
