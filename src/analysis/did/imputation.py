"""Borusyak, Jaravel & Spiess (2024) imputation estimator for staggered adoption.

Borusyak, K., Jaravel, X. and Spiess, J. (2024), "Revisiting event-study designs: robust and
efficient estimation", *Review of Economic Studies* 91(6), 3253-3285.

1. Fit ``Y_it = a_i + l_t (+ X_it'b) + e_it`` by OLS on the untreated observations only
   (never-treated and not-yet-treated).
2. Impute ``Y_it(0)`` for treated observations and set ``tau_it = Y_it - Y_it(0)_hat``.
3. Average ``tau_it`` over all treated observations (overall ATT) and by horizon ``h = t - g``.

Why hand-written: pyfixest ships Gardner's two-stage ``did2s`` (same point estimates) but not the
BJS variance.  Every estimand is linear in Y, ``tau_hat = sum_it v_it Y_it`` with ``v_it = w_it``
on treated and ``v = -Z0 (Z0'Z0)^-1 Z1' w1`` on untreated observations; one sparse factorisation of
``Z0'Z0`` gives both the estimates and the weights ``v``.  The conservative variance (BJS Thm. 3) is
``sum_clusters (sum_it v_it e~_it)^2`` with untreated residuals from step 1 and, for treated
observations, ``e~_it = tau_it - tau_bar`` where ``tau_bar`` is the ``v^2``-weighted mean of
``tau_it`` within cells of the auxiliary model (cohort x horizon by default, as Stata
``did_imputation`` / R ``didimputation``).  No small-sample factor is applied (as there).
``leaveout=True`` uses the finite-sample leave-out refinement (BJS 2024, Appendix A.6; Stata's
``leaveout`` option): ``tau_bar`` for an observation leaves out its own cluster, so a small cell no
longer absorbs its own noise.

Pre-trend test (BJS Test 1): on untreated observations only, regress Y on the same fixed effects
and indicators for the ``K`` periods before treatment; joint cluster-robust Wald test. The lead
coefficients are linear in Y as well (OLS on the untreated rows), so their per-cluster scores
``(L~'L~)^-1 sum_c L~_it e_it`` (``L~``: lead indicators net of the fixed effects and covariates)
stack with the horizons' scores into one joint covariance of leads and lags
(:attr:`ImputationResult.event_vcov`), the input of HonestDiD and of pre-trend power on the
imputation event study.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyfixest as pf
import scipy.sparse as sp
from scipy import stats
from scipy.linalg import qr as scipy_qr
from scipy.sparse.linalg import splu

from analysis.did.fe import PYFIXEST_FIXEF_TOL

from .inference import wald_statistic
from .results import PretrendTest, tidy_frame

__all__ = ["ImputationResult", "PretrendTest", "imputation", "imputation_many"]


@dataclass
class ImputationResult:
    """Result of :func:`imputation`: overall ATT and horizon-specific effects."""

    terms: list[str]
    estimates: np.ndarray
    std_errors: np.ndarray
    vcov: np.ndarray
    horizons: np.ndarray
    n_treated: np.ndarray  # number of treated observations averaged in each term
    n_obs: int
    n_untreated: int
    n_clusters: int
    pretrend: PretrendTest | None = None
    tau: pd.DataFrame | None = field(default=None, repr=False)  # unit-level effects
    alpha: float = 0.05
    # per cluster, its contribution to each term (the variance is scores' scores): the input of
    # cluster-level tests (analysis.did.inference.cluster_level_test) and of joint variances of
    # two imputation estimates on the same clusters
    scores: pd.DataFrame | None = field(default=None, repr=False)
    # per cluster, its contribution to each Test 1 lead coefficient (columns lead::k), scaled so
    # that scores' scores equals the test's CRV1 covariance (pyfixest's small-sample factor)
    lead_scores: pd.DataFrame | None = field(default=None, repr=False)

    def event_vcov(self) -> pd.DataFrame:
        """Joint covariance of the event-time coefficients, leads (Test 1, event time -k) and
        horizons (event time h), indexed by event time in ascending order: the cross products of
        their per-cluster scores. Its lead block is the Test 1 CRV1 covariance, its horizon
        block the conservative BJS variance (``vcov``); the cross terms come from the untreated
        observations both use."""
        if self.scores is None:
            raise ValueError("no cluster scores")
        lags = self.scores.drop(columns="ATT")
        lags.columns = [int(c.split("::")[1]) for c in lags.columns]
        blocks = [lags]
        if self.lead_scores is not None:
            leads = self.lead_scores.copy()
            leads.columns = [-int(c.split("::")[1]) for c in leads.columns]
            blocks.insert(0, leads.reindex(lags.index, fill_value=0.0))
        S = pd.concat(blocks, axis=1)
        S = S[sorted(S.columns)]
        return pd.DataFrame(S.T.to_numpy() @ S.to_numpy(), index=S.columns, columns=S.columns)

    @property
    def n(self) -> int:
        return self.n_obs

    @property
    def att(self) -> float:
        return float(self.estimates[0])

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """``ATT`` then ``horizon::h`` rows."""
        a = self.alpha if alpha is None else alpha
        return tidy_frame(self.terms, self.estimates, self.std_errors, alpha=a)

    def summary(self) -> str:
        head = (
            "Borusyak-Jaravel-Spiess (2024) imputation estimator\n"
            f"N = {self.n_obs} (untreated {self.n_untreated}), clusters = {self.n_clusters}\n"
        )
        txt = head + self.tidy().to_string(index=False, float_format=lambda v: f"{v: .4f}")
        if self.pretrend is not None:
            p = self.pretrend
            txt += (
                f"\nPre-trend test ({p.df} leads): Wald = {p.wald:.3f}, p = {p.p_value:.4f}; "
                f"F = {p.f_stat:.3f}, p = {p.f_p_value:.4f}"
            )
        return txt

    def plot(self, ax=None, color: str = "C0", label: str | None = "Imputation (BJS)"):
        """Event-study plot: pre-trend leads (if tested) and horizon effects with 95% CIs."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        td = self.tidy().iloc[1:]
        x, est, lo, hi = (
            list(self.horizons),
            list(td.estimate),
            list(td.conf_low),
            list(td.conf_high),
        )
        if self.pretrend is not None:
            ld = self.pretrend.leads
            x = [-int(t.split("::")[1]) for t in ld.term] + x
            est, lo, hi = list(ld.estimate) + est, list(ld.conf_low) + lo, list(ld.conf_high) + hi
        est, lo, hi = map(np.asarray, (est, lo, hi))
        ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", color=color, capsize=3, label=label)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("Periods relative to treatment")
        ax.set_ylabel("Estimate (95% CI)")
        if label:
            ax.legend()
        return ax


def _design(
    df: pd.DataFrame, cov_names: list[str], fe: sp.csr_matrix | None = None
) -> sp.csr_matrix:
    """Sparse [unit dummies | time dummies (first dropped) | covariates]; ``fe``: the dummies'
    block when already built (:func:`_fe_design`; first_stage builds it once for both uses)."""
    fe = _fe_design(df) if fe is None else fe
    if not cov_names:
        return fe
    return sp.hstack([fe, sp.csr_matrix(df[cov_names].to_numpy(dtype=float))], format="csr")


def _fe_design(df: pd.DataFrame) -> sp.csr_matrix:
    """Sparse [unit dummies | time dummies (first dropped)]."""
    n = len(df)
    uid = pd.factorize(df["_id"])[0]
    tid = pd.factorize(df["_t"], sort=True)[0]
    n_u, n_t = uid.max() + 1, tid.max() + 1
    rows = np.arange(n)
    U = sp.csr_matrix((np.ones(n), (rows, uid)), shape=(n, n_u))
    keep = tid > 0
    T = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], tid[keep] - 1)), shape=(n, n_t - 1))
    return sp.hstack([U, T], format="csr")


def _drop_collinear_covariates(df, cov_names, D, labels, tol=1e-8, fe=None):
    """Drop covariates that the unit/time effects (or other covariates) span on untreated rows.

    A sparse LU of a singular normal matrix may silently return garbage, so rank is checked
    explicitly on the FE-residualised covariates (pivoted QR). ``fe``: :func:`_fe_design`.
    """
    if not cov_names:
        return cov_names
    Zfe = (_fe_design(df) if fe is None else fe)[~D]
    X = df.loc[~D, cov_names].to_numpy(dtype=float)
    lu = splu(sp.csc_matrix(Zfe.T @ Zfe))
    R = X - Zfe @ lu.solve(np.asarray(Zfe.T @ X))
    scale = np.maximum(np.linalg.norm(X, axis=0), 1.0)
    r, piv = scipy_qr(R / scale, mode="r", pivoting=True)  # R and its pivots only: no Q
    rank = int((np.abs(np.diag(r)) > tol * np.sqrt(len(R))).sum())
    keep = sorted(piv[:rank])
    if rank < len(cov_names):
        gone = [labels[k] for k in range(len(cov_names)) if k not in keep]
        warnings.warn(f"covariates collinear with the fixed effects dropped: {gone}", stacklevel=3)
    return [cov_names[k] for k in keep]


def _cell_codes(treated, by, clusters=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The codes of :func:`_coded_cell_means`: the cell (columns ``by`` of ``treated``; one cell
    if empty) of each treated observation and, with ``clusters`` (codes per treated obs), its
    cell x cluster pair (None without). They depend on the design only, so a
    fit on many outcomes (:func:`imputation_many`) computes them once."""
    cell = _joint_codes([treated[c].to_numpy() for c in by], len(treated))
    if clusters is None:
        return cell, None
    return cell, _joint_codes([cell, np.asarray(clusters)], len(cell))


def _joint_codes(columns: list, n: int) -> np.ndarray:
    """Codes of the distinct rows of ``columns`` (0 for every row without columns), in order of
    first appearance as ``pd.factorize`` of their MultiIndex gives them; from one integer key per
    row (each column's own codes, mixed radix) instead of a MultiIndex, which was a tenth of an
    imputation fit. Only the grouping matters to the cell sums, and it is the same."""
    if not columns:
        return np.zeros(n, int)
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col)
        key = key * max(len(uniques), 1) + codes
    return pd.factorize(key)[0]


def _fallback_cell_means(plain, chain, W1, tau):
    """The auxiliary model's tau_bar: for each treated observation the leave-own-cluster-out cell
    mean of the first level of ``chain`` (:func:`_cell_codes` with clusters, finest first) that
    has one, else the plain cell mean of ``plain`` (:func:`_cell_codes`); without ``chain`` the
    plain means. One rule for :func:`imputation` and :mod:`analysis.did.subgroup`."""
    tau_bar = _coded_cell_means(plain, W1, tau)
    if not chain:
        return tau_bar
    loo = np.full_like(tau_bar, np.nan)
    for codes in chain:
        fill = np.isnan(loo)
        if not fill.any():
            break
        loo[fill] = _coded_cell_means(codes, W1, tau)[fill]
    return np.where(np.isnan(loo), tau_bar, loo)


def _coded_cell_means(codes, W1, tau):
    """``v^2``-weighted mean of ``tau`` within the cells of ``codes`` (:func:`_cell_codes`), per
    estimand (columns of ``W1``).

    With the cell x cluster pairs each observation gets the mean of its cell without its own
    cluster (BJS 2024, App. A.6): cell totals minus cell x cluster totals. NaN where nothing is
    left (the cell's weight lies in the own cluster only); cells without weight give 0 (the
    observation's weight is then 0 as well, so the value is irrelevant).
    """
    cell, pair = codes
    W2 = W1**2
    pos = (W1 != 0).astype(float)  # counts decide "nothing left", avoiding round-off in den
    num = np.zeros((cell.max() + 1, W1.shape[1]))
    den, cnt = np.zeros_like(num), np.zeros_like(num)
    np.add.at(num, cell, W2 * tau[:, None])
    np.add.at(den, cell, W2)
    np.add.at(cnt, cell, pos)
    num, den, cnt = num[cell], den[cell], cnt[cell]
    if pair is not None:
        own = [np.zeros((pair.max() + 1, W1.shape[1])) for _ in range(3)]
        for acc, val in zip(own, (W2 * tau[:, None], W2, pos)):
            np.add.at(acc, pair, val)
        num, den, cnt = num - own[0][pair], den - own[1][pair], cnt - own[2][pair]
        empty = np.nan
    else:
        empty = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, num / den, empty)


def _pretrend_test(df, cov_names, n_leads, fs=None):
    """Regress untreated Y on FE + lead indicators (BJS Test 1); cluster-robust Wald test. With
    the first stage ``fs`` also the leads' per-cluster scores (DataFrame cluster x ``lead::k``),
    scaled to the test's CRV1 covariance; else None."""
    d = df.loc[~df["_D"]].copy()
    rel = d["_t"] - d["_g"]
    lead_names = []
    for k in range(1, n_leads + 1):
        nm = f"lead_{k}"
        d[nm] = ((d["_g"] > 0) & (rel == -k)).astype(float)
        if d[nm].sum() > 0:
            lead_names.append(nm)
    if not lead_names:
        raise ValueError("no pre-treatment observations for the requested leads")
    fml = "_y ~ " + " + ".join(lead_names + cov_names) + " | _id + _t"
    fit = pf.feols(fml, data=d, vcov={"CRV1": "_cl"}, fixef_tol=PYFIXEST_FIXEF_TOL)
    coefs = list(fit._coefnames)
    idx = [coefs.index(nm) for nm in lead_names if nm in coefs]
    b = np.asarray(fit._beta_hat)[idx]
    V = np.asarray(fit._vcov)[np.ix_(idx, idx)]
    wald, k = wald_statistic(b, V)
    g = d["_cl"].nunique()
    terms = [f"lead::{coefs[i].split('_')[1]}" for i in idx]
    test = PretrendTest(
        statistic=wald,
        df=k,
        leads=tidy_frame(terms, b, np.sqrt(np.diag(V))),
        p_value=float(stats.chi2.sf(wald, k)),
        f_stat=wald / k,
        f_p_value=float(stats.f.sf(wald / k, k, g - 1)),
    )
    if fs is None:
        return test, None
    kept = [nm for nm in lead_names if nm in coefs]
    return test, _lead_scores(fs, d[kept].to_numpy(dtype=float), d["_cl"].to_numpy(), b, V, terms)


def _lead_scores(fs, L, clusters, b, V, terms):
    """Per-cluster scores of the Test 1 lead coefficients (FWL on the first stage's untreated
    design ``Z0``; the rows of ``fs.df[~D]`` are those of the test's regression, which drops no
    row: the same fixed effects and covariates are identified). Hand-written because pyfixest does
    not expose cluster scores; checked against its estimates, and scaled to its CRV1 covariance
    (one factor: pyfixest's small-sample adjustment)."""
    Z0, y0 = fs.Z0, fs.y[~fs.D]
    Lt = L - Z0 @ fs.lu.solve(np.asarray(Z0.T @ L))
    yt = y0 - Z0 @ fs.lu.solve(np.asarray(Z0.T @ y0))
    bread = np.linalg.inv(Lt.T @ Lt)
    beta = bread @ (Lt.T @ yt)
    if not np.allclose(beta, b, rtol=1e-5, atol=1e-8):  # pyfixest demeans to 1e-8
        raise ValueError("lead scores: the FWL coefficients differ from the Test 1 regression")
    e = yt - Lt @ beta
    codes, uniq = pd.factorize(clusters)
    S = np.zeros((len(uniq), L.shape[1]))
    np.add.at(S, codes, Lt * e[:, None])
    S = S @ bread
    raw = np.diag(S.T @ S)
    # a noise-free outcome (zero residuals) has zero variances: nothing to scale
    scale = float(np.mean(np.diag(V)[raw > 0] / raw[raw > 0])) if np.any(raw > 0) else 1.0
    return pd.DataFrame(S * np.sqrt(scale), index=pd.Index(uniq, name="cluster"), columns=terms)


@dataclass
class FirstStage:
    """The untreated-outcome model of the imputation estimator, fitted: the estimation sample
    (``df``, columns ``_y _t _id _g _cl``, covariates ``cov_names``, ``_carry_<c>``), the treated
    indicator ``D``, the design split into untreated / treated rows, and the solved normal
    equations (``lu``) and coefficients (``gamma``)."""

    df: pd.DataFrame
    D: np.ndarray
    cov_names: list[str]
    Z0: sp.csr_matrix
    Z1: sp.csr_matrix
    y: np.ndarray
    lu: object
    gamma: np.ndarray


def first_stage(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    carry: Sequence[str] = (),
) -> FirstStage:
    """Fit ``y ~ covariates | unit + time`` on the untreated observations (BJS 2024, step 1) with
    the sample rules of :func:`imputation`: rows with a missing outcome or covariate are dropped,
    treated observations whose unit or period has no untreated observation cannot be imputed
    (dropped with a warning), collinear covariates are dropped. ``carry``: columns of ``data``
    copied along (``_carry_<c>``), e.g. a group label of :mod:`analysis.did.subgroup`."""
    covariates = list(covariates or [])
    cov_names = [f"_x{k}" for k in range(len(covariates))]
    # one constructor call: inserting the covariates one column at a time was a sixth of a fit
    df = pd.DataFrame(
        {
            "_y": data[yname].to_numpy(dtype=float),
            "_t": data[tname].to_numpy(),
            "_id": data[idname].to_numpy(),
            "_g": data[gname].fillna(0).to_numpy(),
            "_cl": (data[cluster] if cluster else data[idname]).to_numpy(),
            **{nm: data[c].to_numpy(dtype=float) for nm, c in zip(cov_names, covariates)},
            **{f"_carry_{c}": data[c].to_numpy() for c in carry},
        }
    )
    df = df.dropna(subset=["_y", *cov_names]).reset_index(drop=True)
    df["_D"] = (df["_g"] > 0) & (df["_t"] >= df["_g"])

    # treated obs whose unit or period has no untreated observation cannot be imputed
    ok_units = df.loc[~df["_D"], "_id"].unique()
    ok_times = df.loc[~df["_D"], "_t"].unique()
    bad = df["_D"] & ~(df["_id"].isin(ok_units) & df["_t"].isin(ok_times))
    if bad.any():
        warnings.warn(
            f"dropping {int(bad.sum())} treated observations whose Y(0) is not identified "
            "(unit or period without untreated observations)",
            stacklevel=2,
        )
        df = df.loc[~bad].reset_index(drop=True)

    D = df["_D"].to_numpy()
    fe = _fe_design(df)  # the dummies once: the rank check and the design share them
    cov_names = _drop_collinear_covariates(df, cov_names, D, covariates, fe=fe)
    Z = _design(df, cov_names, fe)
    Z0, Z1 = Z[~D], Z[D]
    y = df["_y"].to_numpy()
    try:
        lu = splu(sp.csc_matrix(Z0.T @ Z0))
    except RuntimeError as err:  # exactly singular: disconnected FE graph or collinear X
        raise ValueError("untreated-outcome model is not identified") from err
    gamma = lu.solve(Z0.T @ y[~D])
    return FirstStage(df, D, cov_names, Z0, Z1, y, lu, gamma)


def imputation(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
    horizons: Sequence[int] | bool | None = True,
    pretrends: int | None = None,
    cluster: str | None = None,
    avg_effects_by: Sequence[str] = ("cohort", "horizon"),
    alpha: float = 0.05,
    leaveout: bool = False,
) -> ImputationResult:
    """BJS (2024) imputation estimator with the conservative clustered variance.

    Parameters
    ----------
    gname : first treatment period; 0 or NaN = never treated.
    covariates : time-varying controls in the untreated-outcome model.
    horizons : ``True`` (all observed), ``None``/``False`` (overall ATT only) or a list of ``h``.
    pretrends : number of leads ``K`` for the BJS pre-trend test (``None`` skips it).
    cluster : cluster column (default ``idname``).
    avg_effects_by : cells of the auxiliary model for ``tau_bar`` in the variance; any of
        "cohort", "horizon", "period" (default cohort x horizon = cohort x period).  With
        ``("horizon",)`` the horizon SEs, and with ``()`` the overall-ATT SE, equal Gardner's
        (2022) two-stage GMM SEs of ``did2s`` exactly: the two influence functions coincide
        when the auxiliary model is the second-stage regression.
    leaveout : compute the ``tau_bar`` of each treated observation from its cell *without* the
        observation's own cluster (BJS 2024, Appendix A.6).  The plain cell mean subtracts part of
        an observation's own noise, which makes the conservative variance too small when cells
        hold few clusters (e.g. a cohort of one or a dozen units).  A cell whose only cluster is
        the observation's own falls back to the leave-out mean of its horizon, then to the
        leave-out mean of all treated observations, then (a single treated cluster) to the
        plain cell mean.
    """
    fs = first_stage(data, yname, tname, idname, gname, covariates, cluster)
    design = _Weights.of(fs, horizons, avg_effects_by, leaveout)
    est, tau, S = design.fit(fs.gamma, fs.y)
    vcov = S.T @ S
    df, D, hs, treated = fs.df, fs.D, design.horizons, design.treated.copy()
    treated["tau"] = tau

    pre, lead_scores = (
        _pretrend_test(df, fs.cov_names, pretrends, fs) if pretrends else (None, None)
    )
    terms = ["ATT"] + [f"horizon::{int(h)}" for h in hs]
    return ImputationResult(
        terms=terms,
        estimates=est,
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        horizons=hs,
        n_treated=(design.W1 > 0).sum(axis=0),
        n_obs=len(df),
        n_untreated=int((~D).sum()),
        n_clusters=len(design.cl_uniq),
        pretrend=pre,
        tau=treated.rename(columns={"_id": idname, "_t": tname})[
            [idname, tname, "cohort", "horizon", "tau"]
        ],
        alpha=alpha,
        scores=pd.DataFrame(S, index=pd.Index(design.cl_uniq, name="cluster"), columns=terms),
        lead_scores=lead_scores,
    )


@dataclass
class _Weights:
    """What the imputation estimator fixes before it sees the outcome: the first stage's design,
    the weights of the estimands on the treated observations (``W1``: column 0 the overall ATT,
    then one column per horizon) and on the untreated ones (``V0``, the imputation weights), the
    cells of the auxiliary model and the clusters. :meth:`fit` then costs two triangular solves
    and a few sums per outcome (:func:`imputation_many`)."""

    fs: FirstStage
    treated: pd.DataFrame
    horizons: np.ndarray
    W1: np.ndarray
    V0: np.ndarray
    cl_codes: np.ndarray
    cl_uniq: object
    plain: tuple  # the auxiliary model's cell codes
    chain: list  # leave-out: the cell x cluster codes of each fallback level (empty without)

    @classmethod
    def of(cls, fs: FirstStage, horizons, avg_effects_by, leaveout: bool) -> _Weights:
        df, D, Z0, Z1, lu = fs.df, fs.D, fs.Z0, fs.Z1, fs.lu
        treated = df.loc[D].copy()
        treated["horizon"] = (treated["_t"] - treated["_g"]).astype(int)
        treated["cohort"] = treated["_g"]
        treated["period"] = treated["_t"]
        h_all = np.sort(treated["horizon"].unique())
        if horizons is True:
            hs = h_all
        elif horizons is None or horizons is False:
            hs = np.array([], dtype=int)
        else:
            hs = np.array([h for h in horizons if h in set(h_all)], dtype=int)

        # weights on treated obs: column 0 = overall ATT, then one column per horizon
        n1 = len(treated)
        W1 = np.zeros((n1, 1 + len(hs)))
        W1[:, 0] = 1.0 / n1
        hv = treated["horizon"].to_numpy()
        for j, h in enumerate(hs, start=1):
            m = hv == h
            W1[m, j] = 1.0 / m.sum()
        # imputation weights of the untreated observations
        V0 = -(Z0 @ lu.solve(np.asarray((Z1.T @ sp.csr_matrix(W1)).todense())))

        # auxiliary-model tau_bar: v^2-weighted cell means (BJS Thm. 3)
        by = list(avg_effects_by)
        cl_codes, cl_uniq = pd.factorize(df["_cl"])
        chain = []
        if leaveout:
            cl1 = cl_codes[D]
            # fallback chain for cells holding only the observation's own cluster (imputation's
            # docstring)
            levels = (
                [by] + ([["horizon"]] if by and by != ["horizon"] else []) + ([[]] if by else [])
            )
            chain = [_cell_codes(treated, level, cl1) for level in levels]
        plain = _cell_codes(treated, by)
        return cls(fs, treated, hs, W1, V0, cl_codes, cl_uniq, plain, chain)

    def fit(self, gamma: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimates, treated effects ``tau`` and per-cluster scores (the variance is
        ``S' S``) for the outcome ``y`` on the first stage's rows, ``gamma`` its first-stage
        coefficients."""
        fs, D, W1 = self.fs, self.fs.D, self.W1
        resid0 = y[~D] - fs.Z0 @ gamma
        tau = y[D] - fs.Z1 @ gamma
        est = W1.T @ tau
        eps1 = tau[:, None] - _fallback_cell_means(self.plain, self.chain, W1, tau)

        S = np.zeros((len(self.cl_uniq), W1.shape[1]))
        np.add.at(S, self.cl_codes[D], W1 * eps1)
        np.add.at(S, self.cl_codes[~D], self.V0 * resid0[:, None])
        return est, tau, S


def imputation_many(
    data: pd.DataFrame,
    Y: np.ndarray,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
    horizons: Sequence[int] | bool | None = None,
    cluster: str | None = None,
    avg_effects_by: Sequence[str] = ("cohort", "horizon"),
    leaveout: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`imputation`'s estimates and standard errors (arrays ``(m, terms)``: the overall ATT,
    then the horizons) for each column of the outcome matrix ``Y`` (rows of ``data``, m columns)
    on one design: the numbers of one :func:`imputation` call per column.

    Why: power simulations draw many outcomes on a fixed design (timing, covariates, clusters),
    and the estimator is linear in the outcome: the first stage's design, its sparse
    factorisation, the imputation weights and the auxiliary model's cells are built once, and
    each outcome costs two triangular solves and a few sums. With a missing value in ``Y`` (each
    call would drop other rows) one call per column."""
    Y = np.asarray(Y, dtype=float).reshape(len(data), -1)
    ycol = "_imputation_many_y"
    if not np.isfinite(Y).all():
        fits = [
            imputation(
                data.assign(**{ycol: Y[:, j]}), ycol, tname, idname, gname, covariates,
                horizons=horizons, cluster=cluster, avg_effects_by=avg_effects_by,
                leaveout=leaveout,
            )
            for j in range(Y.shape[1])
        ]  # fmt: skip
        return np.array([f.estimates for f in fits]), np.array([f.std_errors for f in fits])
    rows = "_imputation_many_row"  # the data rows the first stage keeps, in its order
    frame = data.assign(**{ycol: Y[:, 0], rows: np.arange(len(data))})
    fs = first_stage(frame, ycol, tname, idname, gname, covariates, cluster, carry=(rows,))
    design = _Weights.of(fs, horizons, avg_effects_by, leaveout)
    kept = fs.df[f"_carry_{rows}"].to_numpy()
    est = np.empty((Y.shape[1], design.W1.shape[1]))
    se = np.empty_like(est)
    for j in range(Y.shape[1]):
        y = Y[kept, j]
        gamma = fs.lu.solve(fs.Z0.T @ y[~fs.D])  # as first_stage solves it
        est[j], _, S = design.fit(gamma, y)
        se[j] = np.sqrt(np.diag(S.T @ S))
    return est, se
