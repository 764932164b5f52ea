"""Callaway & Sant'Anna (2021) group-time average treatment effects for staggered DiD.

Port of the R package ``did`` (``att_gt`` / ``aggte`` / ``mboot``) for **balanced panels**, with the
2x2 building blocks of the R package ``DRDID`` (Sant'Anna & Zhao 2020; in
:mod:`analysis.did.drdid`):

* ``est_method="dr"``: ``DRDID::drdid_panel``, the locally efficient doubly-robust estimator with a
  logit propensity score and an OLS outcome model -- the estimator R ``did::att_gt`` calls by default;
* ``est_method="dr_imp"``: ``DRDID::drdid_imp_panel``, the "improved" DR estimator (calibrated /
  inverse-probability-tilting propensity score + propensity-weighted OLS, Sant'Anna & Zhao 2020, Sec. 3.1);
  identical to ``"dr"`` without covariates;
* ``est_method="reg"``: ``DRDID::reg_did_panel`` (outcome regression, Heckman et al. 1997);
* ``est_method="ipw"``: ``DRDID::std_ipw_did_panel`` (Hajek-normalised IPW, Abadie 2005).

Inference follows R ``did`` exactly: analytic standard errors from the unit-level influence functions,
``sqrt(mean(IF^2) / n)``; aggregations add the estimated-weights term (``wif``); the multiplier bootstrap
uses Mammen (or Rademacher) weights, IQR-based standard errors and a sup-t uniform critical value, drawn
for all parameters at once as one (chunked) matrix product ``V @ IF``.

References
----------
Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-Differences with multiple time periods.
    *Journal of Econometrics* 225(2), 200-230.
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences estimators.
    *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import special, stats
from tqdm.auto import tqdm

from analysis.did.drdid import ESTIMATORS, RCOND_TOL, controls_singular, did_nocov, logit
from analysis.did.fe import PYFIXEST_FIXEF_TOL
from analysis.did.results import PretrendTest, tidy_frame

__all__ = [
    "ATTgtResult",
    "AdjustedATTgt",
    "AggteResult",
    "CovariateCache",
    "att_gt",
    "att_gt_adjusted",
    "multiplier_bootstrap",
]

_EPS = np.finfo(float).eps
_SE_TOL = np.sqrt(_EPS) * 10  # R did: standard errors below this are reported as NA
_KAPPA = (np.sqrt(5.0) + 1.0) / 2.0  # Mammen two-point weights, as in BMisc::multiplier_bootstrap
_EST_METHODS = ("dr", "dr_imp", "reg", "ipw")
# ----------------------------------------------------------------------------------------------------
# Multiplier bootstrap (did::mboot)
# ----------------------------------------------------------------------------------------------------


def _quantile_type1(x_sorted: np.ndarray, p: float) -> np.ndarray:
    """R ``quantile(type=1)`` (inverse empirical CDF) of each column of an already sorted array."""
    m = x_sorted.shape[0]
    fuzz = 4 * _EPS
    nppm = m * p
    j = int(np.floor(nppm + fuzz))
    h = 1 if nppm > j + fuzz else 0
    return x_sorted[min(max(j + h, 1), m) - 1]


def _cluster_sums(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return inf
    codes, _ = pd.factorize(cluster, sort=True)
    out = np.zeros((codes.max() + 1, inf.shape[1]))
    np.add.at(out, codes, inf)
    return out


def multiplier_bootstrap(
    inf: np.ndarray,
    biters: int = 999,
    alpha: float = 0.05,
    cluster: np.ndarray | None = None,
    weights: str = "mammen",
    seed=None,
    band_cols=None,
    chunk_bytes: float = 64e6,
) -> dict:
    """Multiplier bootstrap of influence functions, as ``did::mboot`` (Callaway & Sant'Anna 2021, Alg. 1).

    ``inf`` is ``n_units x k``. With ``cluster`` (one label per unit) the influence functions are
    summed within clusters and one multiplier is drawn per cluster (R did >= 2.2, Remark 10).
    Draws are ``bres = V @ S / sqrt(n_clusters)`` with ``V`` a ``biters x n_clusters`` matrix of Mammen
    (``"mammen"``: ``1-kappa`` w.p. ``kappa/sqrt(5)``, else ``kappa``, ``kappa=(1+sqrt 5)/2``) or
    Rademacher weights, generated in chunks of at most ``chunk_bytes``.

    Returns a dict with ``bres`` (biters x k), ``se`` (IQR / (z_.75 - z_.25) scaled to the estimator,
    NaN for degenerate columns) and ``crit_val`` (the ``1-alpha``
    quantile of ``max_j |bres_j / sigma_j|``, the sup-t uniform-band critical value, over the columns
    selected by ``band_cols`` (index/mask; default all)).
    """
    inf = np.asarray(inf, dtype=float)
    if inf.ndim == 1:
        inf = inf[:, None]
    n, k = inf.shape
    S = _cluster_sums(inf, cluster)
    nc = S.shape[0]
    rng = np.random.default_rng(seed)
    bres = np.empty((biters, k))
    step = max(1, int(chunk_bytes // (8 * nc)))
    for start in range(0, biters, step):
        b = min(step, biters - start)
        u = rng.random((b, nc))
        if weights == "mammen":  # 1-kappa = kappa - sqrt(5)
            v = _KAPPA - np.sqrt(5.0) * (u < _KAPPA / np.sqrt(5.0))
        elif weights == "rademacher":
            v = 1.0 - 2.0 * (u < 0.5)
        else:
            raise ValueError("weights must be 'mammen' or 'rademacher'")
        bres[start : start + b] = v @ S
    bres /= np.sqrt(nc)
    ok = np.isfinite(bres.sum(0)) & ((bres**2).sum(0) > _SE_TOL)
    srt = np.sort(bres[:, ok], axis=0)
    sigma = (_quantile_type1(srt, 0.75) - _quantile_type1(srt, 0.25)) / (
        stats.norm.ppf(0.75) - stats.norm.ppf(0.25)
    )
    se = np.full(k, np.nan)
    se[ok] = sigma * np.sqrt(nc) / n
    sig = np.full(k, np.nan)
    sig[ok] = sigma
    band = np.zeros(k, bool)
    band[np.arange(k) if band_cols is None else band_cols] = True
    good = band & (sig > _SE_TOL)
    crit = np.nan
    if good.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            bT = np.max(np.abs(bres[:, good] / sig[good]), axis=1)
        bT = np.sort(bT[np.isfinite(bT)])
        if bT.size:
            crit = float(_quantile_type1(bT, 1 - alpha))
    return {"bres": bres, "se": se, "crit_val": crit}


# ----------------------------------------------------------------------------------------------------
# Data preparation
# ----------------------------------------------------------------------------------------------------


@dataclass
class _Panel:
    ids: np.ndarray  # (n,)
    tlist: np.ndarray  # (T,) sorted periods
    Y: np.ndarray  # (n, T)
    G: np.ndarray  # (n,) first treatment period, 0 = never treated (within the sample)
    X: np.ndarray  # (n, T, k) design incl. intercept
    xnames: list
    glist: np.ndarray  # treated groups to estimate
    cluster: np.ndarray | None  # (n,) extra cluster labels or None


def _prepare(data, yname, tname, idname, gname, xformla, clustervars, anticipation, control_group):
    covs = list(xformla or [])
    clust = [c for c in (clustervars or []) if c != idname]
    if len(clust) > 1:
        raise ValueError("at most one cluster variable beyond idname is supported (as in R did)")
    ys = yname if isinstance(yname, list) else [yname]
    cols = list(dict.fromkeys([idname, tname, *ys, gname, *covs, *clust]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"columns not in data: {missing}")
    df = data[cols].copy()
    n0 = len(df)
    df = df.dropna()
    if len(df) < n0:
        warnings.warn(f"dropped {n0 - len(df)} rows with missing values")
    if df.duplicated([idname, tname]).any():
        raise ValueError(f"({idname}, {tname}) does not identify rows uniquely")
    if (df.groupby(idname)[gname].nunique() > 1).any():
        raise ValueError(f"{gname} must be time-invariant within {idname}")
    tlist = np.sort(df[tname].unique())
    g = df[gname].astype(float)
    # cohorts first treated after the sample ends behave as never treated (R did)
    g = g.where(~(g > tlist[-1] + anticipation), 0.0)
    glist = np.sort(g[g > 0].unique())
    if not (g == 0).any():
        latest = glist[-1]
        warnings.warn(
            "no never-treated units: periods from the last cohort's treatment on are dropped and "
            + (
                "that cohort is used as the never-treated group"
                if control_group == "nevertreated"
                else "that cohort only serves as a not-yet-treated control"
            )
        )
        keep = df[tname] < latest - anticipation
        df, g = df[keep], g[keep]
        if control_group == "nevertreated":
            g = g.where(g != latest, 0.0)
        tlist = np.sort(df[tname].unique())
        glist = glist[glist < latest]
    first_treated = (g > 0) & (g <= tlist[0] + anticipation)
    if first_treated.any():
        warnings.warn(
            f"dropped {df.loc[first_treated, idname].nunique()} units already treated in the first period"
        )
        df, g = df[~first_treated], g[~first_treated]
    glist = glist[glist > tlist[0] + anticipation]
    df = df.assign(**{gname: g})
    # balanced panel only: like R did's default, drop units not observed in every period
    counts = df.groupby(idname)[tname].transform("size")
    if (counts < len(tlist)).any():
        warnings.warn(
            f"unbalanced panel: dropped {df.loc[counts < len(tlist), idname].nunique()} units "
            "not observed in every period"
        )
        df = df[counts == len(tlist)]
        # cohorts come from the balanced sample (as in R did, which balances before listing them):
        # a cohort whose only units were dropped has no ATT(g,t) to estimate
        glist = glist[np.isin(glist, df[gname].unique())]
    df = df.sort_values([idname, tname])
    n, T = df[idname].nunique(), len(tlist)
    if n == 0 or len(glist) == 0:
        raise ValueError("no treated groups with pre-treatment periods / no units left")
    # several outcomes (a list: :func:`_att_gt_outcomes`) share the layout: Y is then (n, T, m)
    Y = (
        df[yname].to_numpy(float).reshape(n, T, -1)
        if isinstance(yname, list)
        else (df[yname].to_numpy(float).reshape(n, T))
    )
    G = df[gname].to_numpy(float).reshape(n, T)[:, 0]
    if covs:
        Xdf = pd.get_dummies(df[covs], drop_first=True, dtype=float)
        xnames = ["(Intercept)", *Xdf.columns]
        X = np.concatenate([np.ones((len(df), 1)), Xdf.to_numpy(float)], axis=1).reshape(n, T, -1)
    else:
        xnames = ["(Intercept)"]
        X = np.ones((n, T, 1))
    cluster = None
    if clust:
        if (df.groupby(idname)[clust[0]].nunique() > 1).any():
            raise ValueError("time-varying cluster variables are not supported (as in R did)")
        cluster = df[clust[0]].to_numpy().reshape(n, T)[:, 0]
    ids = df[idname].to_numpy().reshape(n, T)[:, 0]
    return _Panel(ids, tlist, Y, G, X, xnames, glist, cluster)


# ----------------------------------------------------------------------------------------------------
# ATT(g,t)
# ----------------------------------------------------------------------------------------------------


def _cells(p: _Panel, base_period: str, anticipation: float):
    """List of (g, t index, base index) as in ``did::compute.att_gt``; t == base: normalised cell."""
    T = len(p.tlist)
    out = []
    for g in p.glist:
        pre = np.flatnonzero(p.tlist + anticipation < g)
        last_pre = pre[-1] if pre.size else None
        start = 1 if base_period == "varying" else 0
        for ti in range(start, T):
            post = g <= p.tlist[ti]
            base = ti - 1 if base_period == "varying" else last_pre
            if post or base_period == "universal":
                base = last_pre
            if base is None:
                warnings.warn(f"no pre-treatment period for group {g}; group dropped")
                break
            out.append((g, ti, base))
    return out


def _comparison(p: _Panel, g, ti, base, control_group: str, anticipation: float):
    """Rows of cell (g, t) and their treated indicator: cohort ``g`` and its comparison group, the
    never-treated units or those not yet treated (beyond anticipation) at the later of ``t`` and
    the base period, cohort ``g`` itself excluded."""
    if control_group == "nevertreated":
        C = p.G == 0
    else:
        thr = p.tlist[max(ti, base)]
        C = (p.G == 0) | ((p.G > thr + anticipation) & (p.G != g))
    idx = (p.G == g) | C
    return idx, (p.G[idx] == g).astype(float)


def _estimate_cell(p: _Panel, g, ti, base, est_method, control_group, anticipation):
    n = len(p.G)
    if ti == base:  # universal base period: normalised to zero
        return 0.0, np.zeros(n)
    idx, D = _comparison(p, g, ti, base, control_group, anticipation)
    dy = p.Y[idx, ti] - p.Y[idx, base]
    if D.sum() == 0 or D.sum() == len(D):
        return np.nan, np.full(n, np.nan)
    full = np.zeros(n)
    if p.X.shape[2] == 1:  # intercept only
        att, inf = did_nocov(dy, D)
        full[idx] = inf * n / idx.sum()
        return float(att), full
    X = p.X[idx, min(ti, base), :]  # R did takes covariates from the earlier of the two periods
    gamma = None
    if est_method in ("dr", "dr_imp", "ipw"):
        # R did's overlap check: a preliminary logit with a fitted p-score >= 0.999 -> ATT = NA
        gamma, _ = logit(X, D)
        if np.max(special.expit(X @ gamma)) >= 0.999:
            warnings.warn(f"overlap condition violated for group {g} in period {p.tlist[ti]}")
            return np.nan, np.full(n, np.nan)
    if est_method in ("dr", "dr_imp", "reg") and controls_singular(X, D):
        warnings.warn(f"not enough control units for group {g} in period {p.tlist[ti]}")
        return np.nan, np.full(n, np.nan)
    att, inf = ESTIMATORS[est_method](dy, D, X, gamma)
    full[idx] = inf * n / idx.sum()  # rescale: the 2x2 IF is averaged over the G+C subsample only
    return float(att), full


def att_gt(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: list[str] | None = None,
    control_group: str = "nevertreated",
    est_method: str = "dr",
    base_period: str = "varying",
    anticipation: float = 0,
    alpha: float = 0.05,
    bstrap: bool = False,
    biters: int = 999,
    cband: bool = False,
    clustervars: list[str] | None = None,
    seed: int | None = 20210101,
    boot_weights: str = "mammen",
    na_rm: bool = False,
    n_jobs: int = 1,
    progress: bool = True,
) -> ATTgtResult:
    """Group-time average treatment effects ATT(g,t) of Callaway & Sant'Anna (2021, J. Econometrics).

    Port of R ``did::att_gt`` for **balanced panel data** (units not observed in every period are
    dropped with a warning, like R's default; repeated cross-sections and sampling weights are not
    supported). Each ATT(g,t) is a 2x2 DiD of cohort ``g`` against never-treated
    (``control_group="nevertreated"``) or not-yet-treated units, between period ``t`` and the base
    period (``"varying"``: ``t-1`` for pre-treatment cells and ``g-1-anticipation`` for post cells;
    ``"universal"``: always ``g-1-anticipation``), estimated with the Sant'Anna & Zhao (2020)
    estimators of ``est_method`` (``"dr"`` = ``DRDID::drdid_panel``, R did's default; ``"dr_imp"`` =
    ``drdid_imp_panel``; ``"reg"``; ``"ipw"``).

    Parameters
    ----------
    xformla : covariate column names (time-invariant ideally; values of the earlier of the two periods
        of each 2x2 comparison are used, as in R), or None for unconditional parallel trends.
    bstrap, biters, cband : multiplier bootstrap for SEs (Mammen weights, ``boot_weights``) and a
        sup-t uniform band over all ATT(g,t) (``cband=True`` runs the bootstrap for the critical
        value even when ``bstrap=False``; SEs then stay analytic).
    clustervars : extra cluster variable (besides ``idname``); time-invariant. Used by the bootstrap
        and by the analytic SEs (cluster sums of influence functions).
    seed : seed for ``numpy.random.default_rng`` (bootstrap only).
    na_rm : keep going when some ATT(g,t) cannot be estimated (NA), as ``aggte(na.rm=TRUE)``.
    n_jobs, progress : joblib workers (threads) over cells and a tqdm progress bar.
    """
    _check_options(control_group, est_method, base_period)
    if isinstance(xformla, str):
        xformla = [xformla]
    if isinstance(clustervars, str):
        clustervars = [clustervars]
    p = _prepare(
        data, yname, tname, idname, gname, xformla, clustervars, anticipation, control_group
    )
    cells = _cells(p, base_period, anticipation)
    job = delayed(_estimate_cell)
    it = tqdm(cells, desc="ATT(g,t)", disable=not progress)
    if n_jobs == 1:
        res = [
            _estimate_cell(p, g, ti, b, est_method, control_group, anticipation) for g, ti, b in it
        ]
    else:
        res = Parallel(n_jobs=n_jobs, prefer="threads")(
            job(p, g, ti, b, est_method, control_group, anticipation) for g, ti, b in it
        )
    n = len(p.G)
    att = np.array([r[0] for r in res])
    inf = np.column_stack([r[1] for r in res]) if res else np.zeros((n, 0))
    return _gt_result(p, cells, att, inf, alpha, _settings(yname, locals()))


# att_gt's defaults: what _att_gt_outcomes fills in for the options it is not given
_ATT_GT_DEFAULTS = {
    name: par.default
    for name, par in inspect.signature(att_gt).parameters.items()
    if par.default is not inspect.Parameter.empty
}


def _check_options(control_group: str, est_method: str, base_period: str) -> None:
    if control_group not in ("nevertreated", "notyettreated"):
        raise ValueError("control_group must be 'nevertreated' or 'notyettreated'")
    if est_method not in _EST_METHODS:
        raise ValueError(f"est_method must be one of {_EST_METHODS}")
    if base_period not in ("varying", "universal"):
        raise ValueError("base_period must be 'varying' or 'universal'")


def _settings(yname, options) -> dict:
    """The options an :class:`ATTgtResult` records (``aggregate`` takes its defaults from them),
    from a mapping of :func:`att_gt`'s arguments."""
    keys = ("control_group", "est_method", "base_period", "anticipation", "bstrap", "biters",
            "cband", "seed", "boot_weights")  # fmt: skip
    return {"yname": yname, **{k: options[k] for k in keys},
            "xformla": list(options["xformla"] or []), "na_rm": options["na_rm"]}  # fmt: skip


def _gt_result(p: _Panel, cells, att, inf, alpha: float, settings: dict) -> ATTgtResult:
    """:class:`ATTgtResult` from the cells' ATT(g,t) and influence functions (n x cells): the
    analytic SEs and, when ``settings`` ask for it, the multiplier bootstrap (shared by
    :func:`att_gt` and :func:`_att_gt_outcomes`)."""
    n = len(p.G)
    na_rm, bstrap, cband = settings["na_rm"], settings["bstrap"], settings["cband"]
    group = np.array([c[0] for c in cells], dtype=float)
    time = p.tlist[[c[1] for c in cells]].astype(float)
    base = p.tlist[[c[2] for c in cells]].astype(float)
    if np.isnan(att).any() and not na_rm:
        warnings.warn("some ATT(g,t) could not be estimated (NA); aggregate() needs na_rm=True")

    S = _cluster_sums(np.nan_to_num(inf), p.cluster)
    se = np.sqrt(np.sum(S**2, axis=0)) / n  # = sqrt(mean(IF^2)/n) without extra clustering
    se[np.isnan(att) | (se <= _SE_TOL)] = np.nan
    if p.cluster is not None and not bstrap:
        warnings.warn("analytic SEs are clustered by summing influence functions within clusters")
    crit = stats.norm.ppf(1 - alpha / 2)
    boot = None
    ok = np.isfinite(se)
    if (bstrap or cband) and ok.any():
        boot = multiplier_bootstrap(
            inf[:, ok], settings["biters"], alpha, p.cluster, settings["boot_weights"],
            settings["seed"],
        )  # fmt: skip
        if bstrap:
            se[ok] = boot["se"]
            se[se <= _SE_TOL] = np.nan
        if cband:
            crit = _checked_crit(boot["crit_val"], alpha)
    return ATTgtResult(
        group=group,
        time=time,
        base=base,
        att=att,
        se=se,
        inf_func=inf,
        n=n,
        crit_val=crit,
        alpha=alpha,
        unit_group=p.G,
        ids=p.ids,
        cluster=p.cluster,
        tlist=p.tlist,
        settings=settings,
        boot=boot,
    )


def _nocov_cells(p: _Panel, cells, control_group: str, anticipation: float):
    """ATT(g,t) (m, cells) and influence functions (m, n, cells) of the intercept-only 2x2 cells
    for the m outcomes of ``p.Y`` (n, T, m) at once: the cells' comparison groups are computed once
    instead of once per outcome. Each outcome's numbers are those of :func:`_estimate_cell` with
    ``did_nocov`` (the same operations; the sums run over the last, contiguous axis, as the 1-D
    sums do)."""
    n, m = p.Y.shape[0], p.Y.shape[2]
    att = np.zeros((m, len(cells)))
    inf = np.zeros((m, n, len(cells)))
    for k, (g, ti, base) in enumerate(cells):
        if ti == base:  # universal base period: normalised to zero
            continue
        idx, D = _comparison(p, g, ti, base, control_group, anticipation)
        if D.sum() == 0 or D.sum() == len(D) or D.mean() >= 0.995:  # did_nocov's trimming
            att[:, k], inf[:, :, k] = np.nan, np.nan
            continue
        dy = np.ascontiguousarray((p.Y[idx, ti, :] - p.Y[idx, base, :]).T)  # (m, |idx|)
        share = D.mean()
        c = 1.0 - D
        mu1 = (D * dy).sum(axis=1) / D.sum()
        mu0 = (c * dy).sum(axis=1) / c.sum()
        att[:, k] = mu1 - mu0
        f = D * (dy - mu1[:, None]) / share - c * (dy - mu0[:, None]) / (1 - share)
        inf[:, idx, k] = f * n / idx.sum()
    return att, inf


def _att_gt_outcomes(
    data: pd.DataFrame, ynames: list[str], tname: str, idname: str, gname: str, **options
) -> list[ATTgtResult]:
    """:func:`att_gt` of each of ``ynames`` (same design, same options), the numbers of one
    :func:`att_gt` call per outcome.

    Why: the covariate-adjusted CS (:func:`att_gt_adjusted`) needs the ATT(g,t) of every
    covariate (21 to 72 in the studies), and one ``att_gt`` call each (the panel reshaped, the
    comparison groups rebuilt, 2x2 cells one by one) was most of its time. Without base-period
    covariates, bootstrap or bands the cells are unconditional 2x2 DiDs, computed here for all
    outcomes at once on one reshaped panel (:func:`_nocov_cells`); otherwise, or when an outcome
    has a missing value (each call would drop other rows), one call per outcome."""
    opts = {"progress": False, **options}
    simple = (
        not opts.get("xformla")
        and not opts.get("bstrap", False)
        and not opts.get("cband", False)
        and len(ynames) > 0
        and not data[ynames].isna().to_numpy().any()
    )
    if not simple:
        return [att_gt(data, y, tname, idname, gname, **opts) for y in ynames]
    o = {**_ATT_GT_DEFAULTS, **opts}
    control_group, anticipation, clustervars = (
        o["control_group"],
        o["anticipation"],
        o["clustervars"],
    )
    if isinstance(clustervars, str):
        clustervars = [clustervars]
    _check_options(control_group, o["est_method"], o["base_period"])  # att_gt's errors
    p = _prepare(
        data, list(ynames), tname, idname, gname, None, clustervars, anticipation, control_group
    )
    cells = _cells(p, o["base_period"], anticipation)
    att, inf = _nocov_cells(p, cells, control_group, anticipation)
    return [
        _gt_result(p, cells, att[j], inf[j], o["alpha"], _settings(y, o))
        for j, y in enumerate(ynames)
    ]


def _checked_crit(crit: float, alpha: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2)
    if not np.isfinite(crit):
        warnings.warn("uniform critical value not finite; using pointwise intervals")
        return z
    if crit < z:
        warnings.warn("uniform critical value below the pointwise one; using pointwise intervals")
        return z
    if crit >= 7:
        warnings.warn("uniform critical value >= 7 is arguably too large to be reliable")
    return float(crit)


@dataclass
class ATTgtResult:
    """Group-time ATTs (Callaway & Sant'Anna 2021) with influence functions and inference.

    ``group``/``time``/``base``: cohort, period and base period of each ATT(g,t); ``att``/``se``;
    ``inf_func``: ``n_units x n_gt`` influence functions (NaN columns for cells that could not be
    estimated); ``crit_val``: pointwise normal or, with ``cband``, sup-t critical value; ``boot``:
    :func:`multiplier_bootstrap` output over the cells with finite SE (None without bootstrap).
    """

    group: np.ndarray
    time: np.ndarray
    base: np.ndarray
    att: np.ndarray
    se: np.ndarray
    inf_func: np.ndarray
    n: int
    crit_val: float
    alpha: float
    unit_group: np.ndarray
    ids: np.ndarray
    cluster: np.ndarray | None
    tlist: np.ndarray
    settings: dict = field(default_factory=dict)
    boot: dict | None = None

    @property
    def post(self) -> np.ndarray:
        return self.group <= self.time

    @property
    def conf_low(self) -> np.ndarray:
        return self.att - self.crit_val * self.se

    @property
    def conf_high(self) -> np.ndarray:
        return self.att + self.crit_val * self.se

    def tidy(self) -> pd.DataFrame:
        terms = [f"ATT({g:g},{t:g})" for g, t in zip(self.group, self.time)]
        out = tidy_frame(terms, self.att, self.se, self.alpha, crit=self.crit_val)
        return out.assign(group=self.group, time=self.time, post=self.post)

    def pretest(self) -> PretrendTest | None:
        """Wald test that all pre-treatment ATT(g,t) are zero, as printed by R ``summary(att_gt)``.

        ``W = n * att_pre' V_pre^{-1} att_pre`` with the analytic influence-function covariance
        ``V = IF'IF / n`` (cluster sums when clustered), cells with zero/NA variance dropped;
        ``p = 1 - F_chi2(W; df)``. R rounds the p-value to 5 decimals; this one is unrounded.
        """
        pre = np.flatnonzero(
            (self.group - self.settings.get("anticipation", 0) > self.time) & np.isfinite(self.se)
        )
        if pre.size == 0:
            return None
        S = _cluster_sums(self.inf_func[:, pre], self.cluster)
        V = S.T @ S / self.n
        if 1.0 / np.linalg.cond(V, p=1) <= RCOND_TOL:
            warnings.warn("singular covariance of pre-treatment ATT(g,t); no pre-test")
            return None
        a = self.att[pre]
        W = float(self.n * a @ np.linalg.solve(V, a))
        return PretrendTest(W, int(pre.size), float(stats.chi2.sf(W, pre.size)))

    def summary(self) -> str:
        s = self.settings
        tab = self.tidy()[["group", "time", "estimate", "std_error", "conf_low", "conf_high"]]
        tab[["group", "time"]] = tab[["group", "time"]].map(lambda v: f"{v:g}")
        band = "Simult." if s.get("cband") else "Pointwise"
        tab = tab.rename(
            columns={
                "estimate": "ATT(g,t)",
                "std_error": "Std. Error",
                "conf_low": f"[{100 * (1 - self.alpha):g}% {band}",
                "conf_high": "Conf. Band]",
            }
        )
        pt = self.pretest()
        lines = [
            "Group-Time Average Treatment Effects (Callaway & Sant'Anna 2021)",
            tab.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            str(pt) if pt is not None else "No pre-test of parallel trends available",
            (
                f"Control group: {s.get('control_group')}; estimation method: {s.get('est_method')}; "
                f"base period: {s.get('base_period')}; anticipation periods: {s.get('anticipation')}"
            ),
            f"Standard errors: {'multiplier bootstrap' if s.get('bstrap') else 'analytic'}; n = {self.n}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        """ATT(g,t) by period, one marker series per group (hollow = pre-treatment), with bands."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 4))[1]
        gl = np.unique(self.group)
        width = 0.6 / max(len(gl), 1)
        for i, g in enumerate(gl):
            m = self.group == g
            x = self.time[m] + (i - (len(gl) - 1) / 2) * width
            color = f"C{i}"
            ax.errorbar(x, self.att[m], yerr=self.crit_val * self.se[m], fmt="none", ecolor=color)
            post = self.post[m]
            ax.scatter(x[post], self.att[m][post], color=color, label=f"g = {g:g}")
            ax.scatter(x[~post], self.att[m][~post], facecolors="white", edgecolors=color)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("period")
        ax.set_ylabel("ATT(g,t)")
        ax.legend(title="group (hollow: pre)", fontsize="small")
        return ax

    # ------------------------------------------------------------------------------------------------
    def aggregate(
        self,
        type: str = "group",
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
        na_rm: bool | None = None,
        bstrap: bool | None = None,
        biters: int | None = None,
        cband: bool | None = None,
        alpha: float | None = None,
        seed: int | None = None,
        influence: bool = True,
    ) -> AggteResult:
        """Aggregate ATT(g,t) as R ``did::aggte`` (Callaway & Sant'Anna 2021, Sec. 3.1).

        ``type``: ``"simple"`` (post-treatment cells weighted by group size), ``"group"`` (average per
        cohort, then cohort-size weighted), ``"dynamic"`` (event time ``e = t - g``; overall = mean over
        ``e >= 0``; ``min_e``/``max_e`` trim event times, ``balance_e`` keeps cohorts observed for
        ``balance_e`` periods after treatment), ``"calendar"`` (per period, then averaged).
        Influence functions include the estimated-weights term (``wif``) exactly as R; SEs are analytic
        or, with ``bstrap``, multiplier-bootstrap; ``cband`` gives a sup-t band for the per-e/g/t
        estimates. Unspecified options default to those used in :func:`att_gt`.

        ``influence=False``: the point estimates only (the same arithmetic), no influence
        functions, SEs (NaN) or bootstrap: what :meth:`AdjustedATTgt.aggregate` needs of each
        covariate, where the influence functions were most of the cost.
        """
        s = self.settings
        bstrap = s["bstrap"] if bstrap is None else bstrap
        biters = s["biters"] if biters is None else biters
        cband = s["cband"] if cband is None else cband
        alpha = self.alpha if alpha is None else alpha
        seed = s["seed"] if seed is None else seed
        na_rm = s.get("na_rm", False) if na_rm is None else na_rm
        if type not in ("simple", "group", "dynamic", "calendar"):
            raise ValueError("type must be 'simple', 'group', 'dynamic' or 'calendar'")

        keep = np.isfinite(self.att)
        if not keep.all() and not na_rm:
            raise ValueError("missing ATT(g,t); set na_rm=True to drop them")
        group, t, att = self.group[keep], self.time[keep], self.att[keep]
        inf = self.inf_func[:, keep]
        Gu = self.unit_group
        glist = np.unique(group)
        # P(G = g) over all units (weights cancel in the ratios below, as in R)
        pgg = np.array([np.mean(Gu == g) for g in glist])
        pg = pgg[np.searchsorted(glist, group)]

        def agg(which, w, wif_groups=None):
            if not influence:
                return None
            w = np.asarray(w, float)
            f = inf[:, which] @ w
            if wif_groups is not None:
                f = f + _wif(Gu, wif_groups, pg[which]) @ att[which]
            return f

        egt, att_e, if_e = None, None, []
        if type == "simple":
            kp = np.flatnonzero((group <= t) & (t <= group + max_e))
            overall = np.sum(att[kp] * pg[kp]) / np.sum(pg[kp])
            overall_if = agg(kp, pg[kp] / pg[kp].sum(), group[kp])
        elif type == "group":
            egt = glist
            att_e = np.empty(len(glist))
            for j, g in enumerate(glist):
                wg = np.flatnonzero((group == g) & (g <= t) & (t <= group + max_e))
                att_e[j] = np.mean(att[wg]) if wg.size else np.nan
                if_e.append(agg(wg, pg[wg] / pg[wg].sum()))
            ok = np.isfinite(att_e)
            overall = np.sum(att_e[ok] * pgg[ok]) / np.sum(pgg[ok])
            # estimated cohort-share weights: one indicator per cohort (matches R did's reference
            # numbers to 1e-16; the cell-level group vector would be off by ~3e-5 on mpdta)
            wgroups = glist[ok]
            if influence:
                Ie = np.column_stack(if_e)[:, ok]
                overall_if = Ie @ (pgg[ok] / pgg[ok].sum()) + _wif(Gu, wgroups, pgg[ok]) @ att_e[ok]
        elif type == "dynamic":
            e_all = t - group
            incl = np.ones(len(att), bool)
            eseq = np.unique(e_all)
            if balance_e is not None:
                incl = (self.tlist.max() - group) >= balance_e
                eseq = np.unique(e_all[incl])
                eseq = eseq[
                    (eseq <= balance_e) & (eseq >= balance_e - self.tlist.max() + self.tlist.min())
                ]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            egt = eseq
            att_e = np.empty(len(eseq))
            for j, e in enumerate(eseq):
                we = np.flatnonzero((e_all == e) & incl)
                w = pg[we] / pg[we].sum()
                att_e[j] = np.sum(att[we] * w)
                if_e.append(agg(we, w, group[we]))
            epos = eseq >= 0
            overall = np.mean(att_e[epos]) if epos.any() else np.nan
            if influence:
                overall_if = (
                    np.column_stack(if_e)[:, epos].mean(1)
                    if epos.any()
                    else np.full(self.n, np.nan)
                )
        else:  # calendar
            tcal = np.unique(t[t >= group.min()])
            egt = tcal
            att_e = np.empty(len(tcal))
            for j, tt in enumerate(tcal):
                wt = np.flatnonzero((t == tt) & (group <= t))
                w = pg[wt] / pg[wt].sum()
                att_e[j] = np.sum(att[wt] * w)
                if_e.append(agg(wt, w, group[wt]))
            overall = np.mean(att_e)
            if influence:
                overall_if = np.column_stack(if_e).mean(1)

        if not influence:
            k = 0 if egt is None else len(egt)
            return AggteResult(
                type=type, overall_att=float(overall), overall_se=float("nan"), egt=egt,
                att_egt=att_e, se_egt=None if egt is None else np.full(k, np.nan),
                crit_val_egt=float(stats.norm.ppf(1 - alpha / 2)), alpha=alpha, cband=False,
                inf_func=None, inf_func_egt=None, n=self.n,
            )  # fmt: skip
        Ie = np.column_stack(if_e) if if_e else np.zeros((self.n, 0))
        allif = np.column_stack([overall_if, Ie])
        S = _cluster_sums(allif, self.cluster)
        se_all = np.sqrt(np.sum(S**2, axis=0)) / self.n
        crit = stats.norm.ppf(1 - alpha / 2)
        if bstrap or (cband and Ie.shape[1]):
            # one set of draws for the overall and the per-e/g/t parameters; the band uses the latter
            boot = multiplier_bootstrap(
                allif,
                biters,
                alpha,
                self.cluster,
                s.get("boot_weights", "mammen"),
                seed,
                band_cols=slice(1, None),
            )
            if bstrap:
                se_all = boot["se"]
            if cband and Ie.shape[1]:
                if not bstrap:
                    warnings.warn("used the multiplier bootstrap to compute the simultaneous band")
                crit = _checked_crit(boot["crit_val"], alpha)
        se_all = np.where(se_all <= _SE_TOL, np.nan, se_all)
        return AggteResult(
            type=type,
            overall_att=float(overall),
            overall_se=float(se_all[0]),
            egt=egt,
            att_egt=att_e,
            se_egt=se_all[1:] if egt is not None else None,
            crit_val_egt=crit,
            alpha=alpha,
            cband=bool(cband),
            inf_func=overall_if,
            inf_func_egt=Ie,
            n=self.n,
        )


def _wif(Gu: np.ndarray, groups: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence of estimating the group-share weights ``pg / sum(pg)`` (R did's ``wif``), n x k."""
    ind = (Gu[:, None] == np.asarray(groups)[None, :]).astype(float) - pg[None, :]
    s = pg.sum()
    return ind / s - np.outer(ind.sum(1), pg / s**2)


@dataclass
class AggteResult:
    """Aggregated treatment effect (R ``did::aggte``): overall ATT and per group/event/period effects."""

    type: str
    overall_att: float
    overall_se: float
    egt: np.ndarray | None
    att_egt: np.ndarray | None
    se_egt: np.ndarray | None
    crit_val_egt: float
    alpha: float
    cband: bool
    inf_func: np.ndarray
    inf_func_egt: np.ndarray
    n: int

    _LABEL: ClassVar[dict] = {
        "group": "group",
        "dynamic": "event_time",
        "calendar": "time",
        "simple": None,
    }

    def tidy(self) -> pd.DataFrame:
        """Overall row (``term="overall"``, normal CI) then one row per group/event time/period
        (uniform band when ``cband``)."""
        top = tidy_frame(["overall"], [self.overall_att], [self.overall_se], self.alpha)
        if self.egt is None:
            return top
        lab = self._LABEL[self.type]
        rows = tidy_frame(
            [f"{lab}={v:g}" for v in self.egt],
            self.att_egt,
            self.se_egt,
            self.alpha,
            crit=self.crit_val_egt,
        )
        return pd.concat([top, rows], ignore_index=True)

    def summary(self) -> str:
        z = stats.norm.ppf(1 - self.alpha / 2)
        lines = [
            f"Aggregated ATT (Callaway & Sant'Anna 2021), type = {self.type}",
            (
                f"Overall ATT: {self.overall_att:.4f}  (SE {self.overall_se:.4f}; "
                f"{100 * (1 - self.alpha):g}% CI [{self.overall_att - z * self.overall_se:.4f}, "
                f"{self.overall_att + z * self.overall_se:.4f}])"
            ),
        ]
        if self.egt is not None:
            tab = self.tidy().iloc[1:][["term", "estimate", "std_error", "conf_low", "conf_high"]]
            band = "simultaneous" if self.cband else "pointwise"
            lines += [
                "",
                f"{band} bands, critical value {self.crit_val_egt:.3f}",
                tab.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        """Estimates by group / event time / period with (uniform) confidence bands."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 4))[1]
        if self.egt is None:
            ax.errorbar(
                [0],
                [self.overall_att],
                yerr=[stats.norm.ppf(1 - self.alpha / 2) * self.overall_se],
                fmt="o",
            )
            ax.set_xticks([0], ["overall"])
        else:
            x = np.asarray(self.egt, float)
            pre = x < 0 if self.type == "dynamic" else np.zeros(len(x), bool)
            err = self.crit_val_egt * self.se_egt
            ax.errorbar(
                x[~pre], self.att_egt[~pre], yerr=err[~pre], fmt="o", color="C0", label="post"
            )
            if pre.any():
                ax.errorbar(
                    x[pre], self.att_egt[pre], yerr=err[pre], fmt="o", color="C3", label="pre"
                )
                ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
                ax.legend()
            ax.set_xlabel(self._LABEL[self.type])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("ATT")
        return ax


# ----------------------------------------------------------------------------------------------------
# Time-varying covariates: CS on the covariate-adjusted outcome
# ----------------------------------------------------------------------------------------------------


@dataclass
class AdjustedATTgt:
    """ATT(g,t) of ``y - X'b``, ``b`` from an FE regression on the untreated rows (:func:`att_gt_adjusted`).

    ``gt``: CS on the adjusted outcome; ``covariate_gt``: CS on each covariate (``ATT(y - X'b) =
    ATT(y) - b'ATT(X)``, so these are the gradient in ``b``); ``coef``: the first-stage ``b``;
    ``psi``: its influence function per unit of ``gt.ids`` (zero for units without untreated rows).
    """

    gt: ATTgtResult
    covariate_gt: list[ATTgtResult]
    coef: pd.Series
    psi: np.ndarray
    # (type, na_rm) -> the covariates' aggregated ATTs (the gradient in b), shared through a
    # CovariateCache by fits on one design: they do not depend on the outcome
    gradients: dict | None = field(default=None, repr=False)

    def aggregate(
        self,
        type: str = "simple",
        fixed_weights: bool = False,
        na_rm: bool = False,
        clusters: np.ndarray | None = None,
    ) -> AggteResult:
        """``ATTgtResult.aggregate(type)`` with the first-stage error in the influence function.

        ``fixed_weights`` (``type="simple"`` only) drops the estimated-cohort-share term (R did's
        ``wif``) from the overall ATT's influence function: the right variance when inference is
        conditional on the treatment timing, as in a Monte Carlo that keeps the cohorts fixed.
        ``na_rm``: aggregate over the ATT(g,t) cells that could be estimated (R did's ``na.rm``).
        SEs are analytic (no bootstrap): unit-clustered, or clustered by ``clusters`` (one label
        per unit of ``gt.ids``: influence functions summed within clusters, as R did's
        ``clustervars`` does for the analytic SE).
        """
        if fixed_weights and type != "simple":
            raise ValueError("fixed_weights is implemented for type='simple' only")
        main = self.gt.aggregate(type, na_rm=na_rm)
        key = (type, bool(na_rm))
        A = None if self.gradients is None else self.gradients.get(key)
        if A is None:
            grads = [g.aggregate(type, na_rm=na_rm, influence=False) for g in self.covariate_gt]
            A = np.array(
                [np.r_[g.overall_att, [] if g.att_egt is None else g.att_egt] for g in grads]
            )
            if self.gradients is not None:
                self.gradients[key] = A
        n = main.n
        first = _simple_if_fixed_weights(self.gt) if fixed_weights else main.inf_func
        inf = np.column_stack([first, main.inf_func_egt])
        inf = inf - n * self.psi @ A
        if clusters is not None:
            codes, uniq = pd.factorize(np.asarray(clusters))
            summed = np.zeros((len(uniq), inf.shape[1]))
            np.add.at(summed, codes, inf)
            inf_for_se = summed
        else:
            inf_for_se = inf
        se = np.sqrt((inf_for_se**2).sum(axis=0)) / n
        return AggteResult(
            type=type,
            overall_att=main.overall_att,
            overall_se=float(se[0]),
            egt=main.egt,
            att_egt=main.att_egt,
            se_egt=None if main.egt is None else se[1:],
            crit_val_egt=main.crit_val_egt,
            alpha=main.alpha,
            cband=False,
            inf_func=inf[:, 0],
            inf_func_egt=inf[:, 1:],
            n=n,
        )


class CovariateCache:
    """The covariates' ATT(g,t) of :func:`att_gt_adjusted`, kept across calls whose design (rows,
    units, periods, cohorts, covariate values, options) is the same and whose outcome alone
    changes, as in a power simulation: they do not depend on the outcome, and computing them was
    most of a call's time. A call on another design recomputes them (the design's columns are
    compared value by value, so a cache cannot return another design's numbers)."""

    def __init__(self) -> None:
        self._key = None
        self._design: pd.DataFrame | None = None
        self._gt: dict[str, ATTgtResult] = {}
        self._gradients: dict = {}

    def get(
        self, data: pd.DataFrame, covariates: list[str], kw: dict
    ) -> tuple[list[ATTgtResult], dict]:
        """The covariates' ATT(g,t) on ``data`` (options ``kw``) and the dict of their
        aggregations (:attr:`AdjustedATTgt.gradients`) for these covariates."""
        cols = list(dict.fromkeys([kw["idname"], kw["tname"], kw["gname"], *covariates]))
        key = (tuple(cols), repr(sorted(kw.items())))
        design = data[cols]
        same = (
            self._key == key
            and self._design is not None
            and self._design.index.equals(design.index)
            and self._design.equals(design)
        )
        if not same:
            self._key, self._design = key, design.copy()
            self._gt = dict(zip(covariates, _att_gt_outcomes(data, covariates, **kw)))
            self._gradients = {}
        return [self._gt[c] for c in covariates], self._gradients


def att_gt_adjusted(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: list[str],
    influence: bool = True,
    covariate_cache: CovariateCache | None = None,
    **att_gt_options,
) -> AdjustedATTgt:
    """Callaway-Sant'Anna with time-varying covariates: CS on ``y - X'b``, ``b`` from
    ``y ~ X | unit + time`` on the untreated rows (never and not-yet treated).

    Why: CS conditions on covariates at the base period (R ``did``'s ``xformla``), which cannot absorb
    a trend difference driven by the *path* of a covariate. When parallel trends hold conditional on
    time-varying covariates entering linearly, removing ``X'b`` estimated on untreated rows (the first
    stage of Gardner 2022 / BJS 2024) restores them. CS without covariates is linear in the outcome,
    so ``ATT(y - X'b) = ATT(y) - b'ATT(X)``; the estimated ``b`` adds ``-ATT(X)' psi_b`` to the
    influence function (``psi_b``: unit-clustered influence function of the first-stage OLS from
    pyfixest's scores and bread; delta method). Hand-written: no package offers CS with time-varying
    covariates this way. Analytic SEs.

    ``att_gt_options`` go to both :func:`att_gt` runs (adjusted outcome, covariates), e.g.
    ``base_period="universal"`` or ``xformla=[baseline covariates], est_method="dr"`` (doubly robust
    2x2 cells on the adjusted outcome). The identity ``ATT(y - X'b) = ATT(y) - b'ATT(X)`` holds for
    these too: with the nuisance models fitted on covariates only, every 2x2 estimator of R did
    (including DR, whose outcome regression is OLS in the outcome) is linear in the outcome.

    ``influence=False``: the point estimates only (``gt`` on the adjusted outcome; no covariate
    ATT(g,t), ``psi`` empty, so :meth:`AdjustedATTgt.aggregate` has no first-stage term: use
    ``gt.aggregate``). The CS runs on each covariate are ~90% of the cost; the specification
    curve's joint test needs only the point estimate on each of its basis outcomes.

    ``covariate_cache``: a :class:`CovariateCache` shared by calls on one design whose outcome
    alone changes (power simulations): the covariates' ATT(g,t) do not depend on the outcome.
    """
    import pyfixest as pf

    # Complete cases: feols would drop rows with a blank covariate itself, and its scores would
    # no longer line up with the rows mapped to units below (issue 16: a yearbook with blank GDP
    # cells crashed here). The studies apply the same rule before (data/design.py).
    complete = data[[yname, *covariates]].notna().all(axis=1)
    if not complete.all():
        data = data.loc[complete]
    D = (data[gname] > 0) & (data[tname] >= data[gname])
    d0 = data.loc[~D]
    fit = pf.feols(
        f"{yname} ~ {' + '.join(covariates)} | {idname} + {tname}",
        data=d0,
        vcov={"CRV1": idname},
        fixef_rm="none",  # keep singleton units: their scores are zero, and rows must align with d0
        fixef_tol=PYFIXEST_FIXEF_TOL,
    )
    # a covariate the fixed effects absorb on the untreated rows (e.g. a treatment that never
    # varies there) is dropped by feols: it has no coefficient and is left out of the adjustment
    coef = fit.coef()  # once: pyfixest builds its coefficient table on every call
    covariates = [c for c in covariates if c in coef.index]
    b = coef[covariates]
    # first-stage influence function per unit: b_hat - b = sum_units psi_unit
    codes, uniq = pd.factorize(d0[idname].to_numpy())
    scores = np.asarray(fit._scores)
    S = np.zeros((len(uniq), scores.shape[1]))
    np.add.at(S, codes, scores)
    psi = pd.DataFrame(S @ np.asarray(fit._bread), index=uniq, columns=list(fit._coefnames))
    adj = data.assign(
        _y_adj=data[yname].to_numpy() - data[covariates].to_numpy(float) @ b.to_numpy()
    )
    kw = {"tname": tname, "idname": idname, "gname": gname, "progress": False, **att_gt_options}
    gt = att_gt(adj, "_y_adj", **kw)
    if not influence:
        return AdjustedATTgt(gt=gt, covariate_gt=[], coef=b, psi=np.zeros((len(gt.ids), 0)))
    gradients = None
    if covariate_cache is None:
        covariate_gt = _att_gt_outcomes(data, covariates, **kw)
    else:
        covariate_gt, gradients = covariate_cache.get(data, covariates, kw)
    # units without untreated rows have no first-stage term
    psi_u = psi[covariates].reindex(gt.ids).fillna(0.0).to_numpy()
    return AdjustedATTgt(gt=gt, covariate_gt=covariate_gt, coef=b, psi=psi_u, gradients=gradients)


def _simple_if_fixed_weights(gt: ATTgtResult) -> np.ndarray:
    """Influence function of the ``simple`` CS aggregate with the cohort-share weights held fixed."""
    ok = np.isfinite(gt.att)
    group, t, inf = gt.group[ok], gt.time[ok], gt.inf_func[:, ok]
    pg = np.array([np.mean(gt.unit_group == g) for g in group])
    post = group <= t
    return np.nan_to_num(inf[:, post]) @ (pg[post] / pg[post].sum())
