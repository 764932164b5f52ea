"""Continuous treatments (e.g. broadband users per 100 people, or its log).

(a) :func:`twfe_dose_response` - TWFE dose-response: ``Y_it = a_i + l_t + f(D_it) (+ X'b) + e``
    with ``f`` piecewise linear in log dose (:func:`log_linear_spline_dose_response`, fitted with
    the FE kernel :func:`analysis.did.fe.fit_within`; the specification that recovers a known
    curve when the dose diffuses over time), or, kept for comparison, a step function on pooled
    quantile bins (reference = lowest bin) or a cubic B-spline in dose (reference = a chosen
    dose, default the minimum), estimated with :func:`pyfixest.feols`; CRV1 SEs clustered by
    unit (or ``cluster``); the curve ``f(d) - f(d_ref)`` gets pointwise delta-method CIs.
    Under heterogeneous or time-varying effects this curve is a non-convex mix of comparisons
    (de Chaisemartin & D'Haultfoeuille 2020; Callaway, Goodman-Bacon & Sant'Anna 2024).

(b) :func:`did_continuous` - heterogeneity-robust first-difference estimators with stayers of
    de Chaisemartin, D'Haultfoeuille, Pasquier, Sow & Vazquez-Bare, "Difference-in-Differences
    for Continuous Treatments and Instruments with Stayers" (arXiv:2201.06898, 2022/2024), the
    outcome-regression version of what Stata/R ``did_multiplegt_stat`` computes with
    ``estimator(was as)`` (no placebos, no doubly-robust propensity term).  For each pair of
    consecutive periods ``(t-1, t)`` of a balanced panel, *switchers* have ``|D_t - D_{t-1}| >
    stayer_tolerance`` and *(quasi-)stayers* the rest.  The switchers' counterfactual trend
    ``E[dY | D_{t-1}, stayer]`` is a polynomial (``order``) in the baseline dose fitted on stayers
    of that period, so trends may depend on the baseline dose.  Then

        WAS = sum_{t, switchers} sign(dD) (dY - m_t(D_{t-1})) / sum_{t, switchers} |dD|
        AS  = mean_{t, switchers} (dY - m_t(D_{t-1})) / dD

    i.e. AS averages the per-switcher slopes ``dY/dD`` net of the stayers' trend and WAS weights
    them by ``|dD|`` (better conditioned; the paper's preferred target).  With a binary
    treatment and ``order=1`` the stayer regression is saturated and WAS equals DID_M of
    de Chaisemartin & D'Haultfoeuille (2020, AER 110(9), 2964-2996).  SEs: unit (cluster)
    bootstrap, seeded, parallel via joblib.
    Written by hand: no Python package implements these estimators.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyfixest as pf
from joblib import Parallel, delayed
from scipy.interpolate import BSpline
from tqdm.auto import tqdm

from analysis.did.fe import PYFIXEST_FIXEF_TOL

from .fe import fit_within
from .results import tidy_frame

__all__ = [
    "ContinuousDiDResult",
    "DoseResponseResult",
    "did_continuous",
    "log_linear_spline_basis",
    "log_linear_spline_dose_response",
    "twfe_dose_response",
]


# --------------------------------------------------------------------------------------------
# (a) TWFE dose-response
# --------------------------------------------------------------------------------------------


@dataclass
class DoseResponseResult:
    """TWFE dose-response curve ``f(d) - f(d_ref)`` on ``grid`` with pointwise CIs."""

    method: str
    grid: np.ndarray
    estimates: np.ndarray
    std_errors: np.ndarray
    ref_dose: float
    coef: pd.DataFrame  # tidy table of the basis / bin coefficients
    n_obs: int
    n_clusters: int
    bins: pd.DataFrame | None = None  # bin edges and representative doses (method="bins")
    fit: object = field(default=None, repr=False)
    alpha: float = 0.05
    # method="log_linear_spline": knots (dose units) and the elasticity on each linear piece
    knots: np.ndarray | None = None
    segments: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        return self.n_obs

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        a = self.alpha if alpha is None else alpha
        terms = [f"dose::{g:.6g}" for g in self.grid]
        return tidy_frame(terms, self.estimates, self.std_errors, a).assign(dose=self.grid)

    def summary(self) -> str:
        head = (
            f"TWFE dose-response ({self.method}); reference dose {self.ref_dose:.4g}; "
            f"N = {self.n_obs}, clusters = {self.n_clusters}\n"
        )
        return head + self.tidy().to_string(index=False, float_format=lambda v: f"{v: .4f}")

    def plot(self, ax=None, color: str = "C0", label: str | None = "TWFE dose-response"):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        td = self.tidy()
        if self.method == "bins":
            ax.errorbar(
                self.grid,
                td.estimate,
                yerr=[td.estimate - td.conf_low, td.conf_high - td.estimate],
                fmt="o",
                color=color,
                capsize=3,
                label=label,
            )
        else:
            ax.plot(self.grid, td.estimate, color=color, label=label)
            ax.fill_between(self.grid, td.conf_low, td.conf_high, color=color, alpha=0.25)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xlabel("Dose")
        ax.set_ylabel(f"Effect relative to dose {self.ref_dose:.3g} (95% CI)")
        if label:
            ax.legend()
        return ax


def _bspline_basis(x, knots_inner, lo, hi, degree):
    t = np.r_[[lo] * (degree + 1), knots_inner, [hi] * (degree + 1)]
    xc = np.clip(np.asarray(x, dtype=float), lo, hi)
    return BSpline.design_matrix(xc, t, degree).toarray()


def twfe_dose_response(
    data: pd.DataFrame,
    yname: str,
    dname: str,
    tname: str,
    idname: str,
    method: str = "spline",
    n_bins: int = 5,
    n_knots: int = 2,
    degree: int = 3,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    ref_dose: float | None = None,
    grid: Sequence[float] | int = 50,
    alpha: float = 0.05,
    knots: Sequence[float] | None = None,
) -> DoseResponseResult:
    """TWFE dose-response with unit + time FE and clustered SEs.

    method="log_linear_spline" (the one to report; see :func:`log_linear_spline_dose_response`):
    piecewise-linear in log dose with ``n_knots`` interior knots at quantiles of log dose (or at
    the doses ``knots``), fitted with the project's FE kernel; the curve ``f(d) - f(ref_dose)`` on
    ``grid``, and the elasticity on each linear piece in ``segments``.

    method="bins": quantile bins (``n_bins``) of the pooled dose, lowest bin = reference; the
    curve is reported at each bin's median dose.  method="spline": cubic B-spline with
    ``n_knots`` interior knots at dose quantiles; one basis function is dropped (the basis sums
    to one, collinear with the unit effects) and the curve is ``f(d) - f(ref_dose)`` on ``grid``
    (number of points or explicit values).

    "bins" and "spline" are kept for comparison.  When the dose diffuses over time (broadband),
    pooled quantile bins sort observations by calendar year, the year effects absorb the
    diffusion common to all units inside each bin, and the steps are attenuated towards zero
    and flatten at the top (saturation that is not there; on noiseless ``y = 0.15 log d`` about
    half the true effect, see ``test_log_spline_exact_where_pooled_bins_attenuate``).  The
    B-spline in dose units is exact only for curves in its space (e.g. linear in dose).
    """
    if method == "log_linear_spline":
        return log_linear_spline_dose_response(
            data,
            yname,
            dname,
            tname,
            idname,
            n_knots=n_knots,
            knots=knots,
            covariates=covariates,
            cluster=cluster,
            ref_dose=ref_dose,
            grid=grid,
            alpha=alpha,
        )
    covariates = list(covariates or [])
    df, cov_names = _dose_frame(data, yname, dname, idname, tname, cluster, covariates)
    d = df["_d"].to_numpy()
    bins_tab = None

    if method == "bins":
        cat, edges = pd.qcut(d, n_bins, retbins=True, labels=False, duplicates="drop")
        k = len(edges) - 1
        names = [f"bin_{j}" for j in range(1, k)]
        for j, nm in enumerate(names, start=1):
            df[nm] = (cat == j).astype(float)
        med = pd.Series(d).groupby(cat).median().to_numpy()
        bins_tab = pd.DataFrame(
            {"bin": range(k), "lower": edges[:-1], "upper": edges[1:], "dose": med}
        )
        L = np.vstack([np.zeros(len(names)), np.eye(len(names))])
        grid_arr, ref = med, float(med[0])
    elif method == "spline":
        lo, hi = float(d.min()), float(d.max())
        inner = np.quantile(d, np.linspace(0, 1, n_knots + 2)[1:-1])
        B = _bspline_basis(d, inner, lo, hi, degree)[:, 1:]
        names = [f"bs_{j}" for j in range(B.shape[1])]
        for j, nm in enumerate(names):
            df[nm] = B[:, j]
        ref = lo if ref_dose is None else float(ref_dose)
        grid_arr = np.linspace(lo, hi, grid) if np.isscalar(grid) else np.asarray(grid, float)
        L = _bspline_basis(grid_arr, inner, lo, hi, degree)[:, 1:]
        L = L - _bspline_basis([ref], inner, lo, hi, degree)[:, 1:]
    else:
        raise ValueError("method must be 'log_linear_spline', 'bins' or 'spline'")

    fml = "_y ~ " + " + ".join(names + cov_names) + " | _id + _t"
    fit = pf.feols(fml, data=df, vcov={"CRV1": "_cl"}, fixef_tol=PYFIXEST_FIXEF_TOL)
    coefnames = list(fit._coefnames)
    if any(nm not in coefnames for nm in names):
        raise ValueError("dose terms collinear with the fixed effects (too little dose variation)")
    idx = [coefnames.index(nm) for nm in names]
    b = np.asarray(fit._beta_hat)[idx]
    V = np.asarray(fit._vcov)[np.ix_(idx, idx)]
    est = L @ b
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", L, V, L), 0.0))
    return DoseResponseResult(
        method=method,
        grid=np.asarray(grid_arr, dtype=float),
        estimates=est,
        std_errors=se,
        ref_dose=ref,
        coef=tidy_frame(names, b, np.sqrt(np.diag(V)), alpha),
        n_obs=int(fit._N),
        n_clusters=int(df["_cl"].nunique()),
        bins=bins_tab,
        fit=fit,
        alpha=alpha,
    )


def log_linear_spline_basis(dose, knots_log) -> np.ndarray:
    """Basis ``[log d, (log d - k_1)_+, ..., (log d - k_K)_+]`` of the piecewise-linear functions of
    log dose with kinks at ``knots_log`` (log-dose units): the first coefficient is the elasticity
    below the first knot, each further one the change of the elasticity at its knot."""
    x = np.log(np.asarray(dose, dtype=float))
    return np.column_stack([x, *(np.maximum(x - k, 0.0) for k in knots_log)])


def _log_knots(log_d: np.ndarray, n_knots: int, knots) -> np.ndarray:
    lo, hi = float(log_d.min()), float(log_d.max())
    if knots is None:
        k = np.quantile(log_d, np.linspace(0, 1, n_knots + 2)[1:-1])
    else:
        kd = np.asarray(knots, dtype=float)
        if (kd <= 0).any():
            raise ValueError("knots are doses and must be positive")
        k = np.log(kd)
    k = np.unique(k)
    if ((k <= lo) | (k >= hi)).any():
        raise ValueError(
            f"knots must lie strictly inside the dose range ({np.exp(lo):.4g}, {np.exp(hi):.4g})"
        )
    return k


def log_linear_spline_dose_response(
    data: pd.DataFrame,
    yname: str,
    dname: str,
    tname: str,
    idname: str,
    n_knots: int = 2,
    knots: Sequence[float] | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    ref_dose: float | None = None,
    grid: Sequence[float] | int = 50,
    alpha: float = 0.05,
) -> DoseResponseResult:
    """TWFE dose-response piecewise-linear in log dose: ``Y_it = a_i + l_t + f(log D_it) (+X'b)``.

    ``f`` is continuous and linear in log dose between knots: ``n_knots`` interior knots at
    quantiles of log dose in the estimation sample, or the doses ``knots``.  Regressors are the
    basis of :func:`log_linear_spline_basis`; with unit and year effects the curve is identified
    from changes of a unit's dose relative to the year's common change, i.e. from the differences
    in diffusion *speed* across units, and never from which calendar year a dose level was
    reached.  This is what the pooled quantile bins get wrong on a diffusing dose: a bin is
    almost a set of years, so the year effects absorb most of the within-bin movement of the
    dose and the steps shrink toward zero.  A constant elasticity ``y = b log d`` lies in the
    spline space, so the curve is exact on noiseless data and saturation shows only if the
    elasticity of the upper pieces falls.

    Returns the curve ``f(d) - f(ref_dose)`` on ``grid`` (number of points, spaced evenly in log
    dose between the smallest and largest dose, or explicit doses; ``ref_dose`` defaults to the
    smallest dose) with pointwise delta-method CIs from the CRV1 covariance (clusters:
    ``cluster`` or units; fixest's small-sample factor).  The curve is linear in the coefficients,
    ``L b`` with ``L = basis(grid) - basis(ref_dose)``, so its covariance ``L V L'`` is exact.
    ``segments`` gives each piece's dose range and elasticity (a sum of coefficients).

    Fitted with the project's FE kernel (:func:`analysis.did.fe.fit_within`; it equals
    ``pyfixest.feols`` with the same regressors and ``vcov={"CRV1": cluster}``, see the tests),
    covariates entering as further regressors (Frisch-Waugh-Lovell).

    Bins of the dose *within each year* (relative position) are deliberately not offered: with year
    effects they estimate the effect of a unit's rank in that year's dose distribution, which under
    ``y = b log d`` is ``b`` times the within-bin mean of ``log d - mean_t log d``; that contrast
    changes from year to year as diffusion narrows the distribution, the bins are identified only
    from units that change rank, and their dose range differs by year, so no point on a dose axis
    belongs to them.  Plotted as a dose-response they would answer a different question.
    """
    covariates = list(covariates or [])
    df, cov_names = _dose_frame(data, yname, dname, idname, tname, cluster, covariates)
    d = df["_d"].to_numpy()
    if (d <= 0).any():
        raise ValueError(f"{dname}: the log-dose spline needs positive doses")
    log_d = np.log(d)
    k_log = _log_knots(log_d, n_knots, knots)
    B = log_linear_spline_basis(d, k_log)
    names = ["log_dose", *(f"log_dose_hinge_{j}" for j in range(1, len(k_log) + 1))]
    for j, nm in enumerate(names):
        df[nm] = B[:, j]

    fit = fit_within(df, "_y", names + cov_names, "_id", "_t", cluster="_cl")
    if fit.names[: len(names)] != names:
        raise ValueError("dose terms collinear with the fixed effects (too little dose variation)")
    b = fit.params[: len(names)]
    V = fit.cov[: len(names), : len(names)]

    lo, hi = float(d.min()), float(d.max())
    ref = lo if ref_dose is None else float(ref_dose)
    if ref <= 0:
        raise ValueError("ref_dose must be positive")
    grid_arr = (
        np.geomspace(lo, hi, int(grid)) if np.isscalar(grid) else np.asarray(grid, dtype=float)
    )
    if (grid_arr <= 0).any():
        raise ValueError("grid doses must be positive")
    L = log_linear_spline_basis(grid_arr, k_log) - log_linear_spline_basis([ref], k_log)
    est = L @ b
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", L, V, L), 0.0))

    # elasticity on piece j = b_0 + ... + b_j (lower-triangular contrast of the coefficients)
    C = np.tril(np.ones((len(names), len(names))))
    edges = np.r_[lo, np.exp(k_log), hi]
    seg = tidy_frame(
        [f"elasticity::{j}" for j in range(len(names))],
        C @ b,
        np.sqrt(np.diag(C @ V @ C.T)),
        alpha,
    )
    seg.insert(1, "lower", edges[:-1])
    seg.insert(2, "upper", edges[1:])
    return DoseResponseResult(
        method="log_linear_spline",
        grid=np.asarray(grid_arr, dtype=float),
        estimates=est,
        std_errors=se,
        ref_dose=ref,
        coef=tidy_frame(names, b, np.sqrt(np.diag(V)), alpha),
        n_obs=int(fit.nobs),
        n_clusters=int(fit.n_clusters),
        fit=fit,
        alpha=alpha,
        knots=np.exp(k_log),
        segments=seg,
    )


# --------------------------------------------------------------------------------------------
# (b) de Chaisemartin-D'Haultfoeuille et al. WAS / AS estimators with stayers
# --------------------------------------------------------------------------------------------


@dataclass
class ContinuousDiDResult:
    """WAS and AS estimates with cluster-bootstrap SEs; ``by_period`` has per-period WAS."""

    terms: list[str]
    estimates: np.ndarray
    std_errors: np.ndarray
    boot: np.ndarray  # (n_boot, 2) bootstrap draws of (WAS, AS)
    by_period: pd.DataFrame
    n_obs: int
    n_switchers: int
    n_stayers: int
    n_clusters: int
    stayer_tolerance: float
    order: int
    alpha: float = 0.05

    @property
    def n(self) -> int:
        return self.n_obs

    @property
    def was(self) -> float:
        return float(self.estimates[0])

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        a = self.alpha if alpha is None else alpha
        return tidy_frame(self.terms, self.estimates, self.std_errors, a)

    def conf_int_percentile(self, alpha: float | None = None) -> pd.DataFrame:
        a = self.alpha if alpha is None else alpha
        q = np.nanquantile(self.boot, [a / 2, 1 - a / 2], axis=0)
        return pd.DataFrame({"term": self.terms, "conf_low": q[0], "conf_high": q[1]})

    def summary(self) -> str:
        head = (
            "de Chaisemartin-D'Haultfoeuille et al. (arXiv:2201.06898) DiD with stayers\n"
            f"switchers = {self.n_switchers}, stayers = {self.n_stayers} (|dD| <= "
            f"{self.stayer_tolerance:g}), polynomial order {self.order}, "
            f"clusters = {self.n_clusters}, bootstrap draws = {len(self.boot)}\n"
        )
        return head + self.tidy().to_string(index=False, float_format=lambda v: f"{v: .4f}")

    def plot(self, ax=None, color: str = "C0"):
        """Per-period WAS (point estimates) with the pooled WAS and its CI as a band."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        bp = self.by_period
        ax.plot(bp.period, bp.was, "o", color=color, label="WAS by period")
        td = self.tidy().iloc[0]
        ax.axhline(td.estimate, color=color, lw=1, label="pooled WAS")
        ax.axhspan(td.conf_low, td.conf_high, color=color, alpha=0.2)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xlabel("Period")
        ax.set_ylabel("Effect per unit of dose")
        ax.legend()
        return ax


def _first_differences(data, yname, dname, tname, idname, cluster):
    df = pd.DataFrame(
        {
            "y": data[yname].to_numpy(dtype=float),
            "d": data[dname].to_numpy(dtype=float),
            "t": data[tname].to_numpy(),
            "id": data[idname].to_numpy(),
            "cl": (data[cluster] if cluster else data[idname]).to_numpy(),
        }
    )
    if df[["y", "d"]].isna().any().any():
        raise ValueError("missing outcome or dose: the estimator needs a balanced panel")
    periods = np.sort(df["t"].unique())
    counts = df.groupby("id")["t"].nunique()
    if (counts != len(periods)).any() or df.duplicated(["id", "t"]).any():
        raise ValueError("did_continuous needs a balanced panel (each unit once in every period)")
    df = df.sort_values(["id", "t"]).reset_index(drop=True)
    n_t = len(periods)
    y = df["y"].to_numpy().reshape(-1, n_t)
    d = df["d"].to_numpy().reshape(-1, n_t)
    cl = df["cl"].to_numpy().reshape(-1, n_t)[:, 0]
    return periods, y, d, cl


def _estimate(dY, dD, D0, sw, st, w, order):
    """WAS, AS and per-period WAS numerators/denominators with unit weights ``w`` (n_units,).

    dY, dD, D0, sw, st: (n_units, n_periods-1) arrays. Stayer regressions are weighted OLS of
    dY on a polynomial in D0, one per period.
    """
    n_p = dY.shape[1]
    num_w = np.zeros(n_p)
    den_w = np.zeros(n_p)
    num_a = np.zeros(n_p)
    cnt_a = np.zeros(n_p)
    for k in range(n_p):
        s_idx, c_idx = st[:, k], sw[:, k]
        if not c_idx.any():
            continue
        X = np.vander(D0[s_idx, k], order + 1)
        ws = np.sqrt(w[s_idx])
        coef = np.linalg.lstsq(X * ws[:, None], dY[s_idx, k] * ws, rcond=None)[0]
        resid = dY[c_idx, k] - np.vander(D0[c_idx, k], order + 1) @ coef
        wc = w[c_idx]
        num_w[k] = np.sum(wc * np.sign(dD[c_idx, k]) * resid)
        den_w[k] = np.sum(wc * np.abs(dD[c_idx, k]))
        num_a[k] = np.sum(wc * resid / dD[c_idx, k])
        cnt_a[k] = np.sum(wc)
    was = num_w.sum() / den_w.sum()
    as_ = num_a.sum() / cnt_a.sum()
    return was, as_, num_w, den_w


def _boot_chunk(seeds, cl_codes, n_cl, args, order):
    out = np.empty((len(seeds), 2))
    for j, s in enumerate(seeds):
        rng = np.random.default_rng(s)
        wcl = rng.multinomial(n_cl, np.full(n_cl, 1.0 / n_cl)).astype(float)
        out[j] = _estimate(*args, wcl[cl_codes], order)[:2]
    return out


def did_continuous(
    data: pd.DataFrame,
    yname: str,
    dname: str,
    tname: str,
    idname: str,
    stayer_tolerance: float = 0.0,
    order: int = 1,
    cluster: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = True,
    alpha: float = 0.05,
) -> ContinuousDiDResult:
    """WAS / AS heterogeneity-robust DiD for continuous treatments with (quasi-)stayers.

    See the module docstring for the estimator.  ``stayer_tolerance``: units with
    ``|D_t - D_{t-1}| <= stayer_tolerance`` count as stayers (quasi-stayers when > 0; that
    trades a small bias for feasibility when no dose is exactly constant).  ``order``: degree of
    the polynomial in the baseline dose for the stayers' trend.  SEs come from ``n_boot`` cluster
    bootstrap draws (clusters = ``cluster`` or units), seeded with ``seed``.
    """
    periods, y, d, cl = _first_differences(data, yname, dname, tname, idname, cluster)
    dY, dD, D0 = np.diff(y, axis=1), np.diff(d, axis=1), d[:, :-1]
    sw = np.abs(dD) > stayer_tolerance
    st = ~sw

    # drop periods without enough stayers to fit the trend (switchers there are not identified)
    few = st.sum(axis=0) < order + 2
    if few.any() and sw[:, few].any():
        warnings.warn(
            f"{int(sw[:, few].sum())} switchers dropped: periods {list(periods[1:][few])} have "
            f"fewer than {order + 2} stayers",
            stacklevel=2,
        )
        sw[:, few] = False
    if not sw.any():
        raise ValueError("no switchers with usable stayers")
    # switchers outside the stayers' baseline-dose range rely on extrapolation
    outside = 0
    for k in range(dY.shape[1]):
        if sw[:, k].any() and st[:, k].any():
            lo, hi = D0[st[:, k], k].min(), D0[st[:, k], k].max()
            outside += int(((D0[sw[:, k], k] < lo) | (D0[sw[:, k], k] > hi)).sum())
    if outside:
        warnings.warn(
            f"{outside} switchers have a baseline dose outside the stayers' support "
            "(the stayers' trend is extrapolated)",
            stacklevel=2,
        )

    args = (dY, dD, D0, sw, st)
    n_units = dY.shape[0]
    was, as_, num_w, den_w = _estimate(*args, np.ones(n_units), order)

    cl_codes, cl_uniq = pd.factorize(cl)
    n_cl = len(cl_uniq)
    seeds = np.random.SeedSequence(seed).generate_state(n_boot)
    chunks = [seeds[i : i + 25] for i in range(0, n_boot, 25)]
    it = tqdm(chunks, desc="bootstrap", disable=not progress, unit="chunk")
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_boot_chunk)(c, cl_codes, n_cl, args, order) for c in it
    )
    boot = np.vstack(parts) if parts else np.empty((0, 2))
    se = np.nanstd(boot, axis=0, ddof=1) if n_boot > 1 else np.full(2, np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        by_period = pd.DataFrame(
            {
                "period": periods[1:],
                "was": num_w / den_w,
                "n_switchers": sw.sum(axis=0),
                "n_stayers": st.sum(axis=0),
            }
        )
    return ContinuousDiDResult(
        terms=["WAS", "AS"],
        estimates=np.array([was, as_]),
        std_errors=se,
        boot=boot,
        by_period=by_period,
        n_obs=int(y.size),
        n_switchers=int(sw.sum()),
        n_stayers=int(st.sum()),
        n_clusters=n_cl,
        stayer_tolerance=float(stayer_tolerance),
        order=int(order),
        alpha=alpha,
    )


def _dose_frame(data, yname, dname, idname, tname, cluster, covariates):
    """The regression frame of the dose-response estimators: outcome, dose, unit, period, cluster
    and the covariates under neutral names, complete cases only."""
    df = pd.DataFrame(
        {
            "_y": data[yname].to_numpy(dtype=float),
            "_d": data[dname].to_numpy(dtype=float),
            "_id": data[idname].to_numpy(),
            "_t": data[tname].to_numpy(),
            "_cl": (data[cluster] if cluster else data[idname]).to_numpy(),
        }
    )
    cov_names = [f"_x{k}" for k in range(len(covariates))]
    for nm, c in zip(cov_names, covariates):
        df[nm] = data[c].to_numpy(dtype=float)
    return df.dropna().reset_index(drop=True), cov_names
