"""Two-way fixed effects (city and year effects) with clustered standard errors.

Estimated with linearmodels ``PanelOLS`` (entity + time effects). ``twfe_pyfixest`` runs the same
model through pyfixest as an independent check (the two agree to 1e-8, see the tests).

Large *balanced* panels take a closed-form fast path (``method="demean"``, automatic from
``DEMEAN_MIN_ROWS`` rows): in a balanced panel the two-way within transformation is exact in one
step, ``y_it - ybar_i - ybar_t + ybar`` (Wooldridge 2010, Sec. 10.5; Baltagi 2021, Ch. 3), so the
model is OLS on demeaned data plus the same CRV1 sandwich. PanelOLS builds dense/sparse dummy
machinery that is slow and memory-hungry at 10^7 rows; the fast path is a few ``bincount`` passes
(benchmarks/bench_twfe.py). Both paths give the same numbers to 1e-8 (tests/did/test_twfe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from linearmodels.panel import PanelOLS

from analysis.did.results import tidy_frame


@dataclass
class TWFEResult:
    """Coefficients of a TWFE regression that knows its own inference."""

    params: pd.Series
    std_errors: pd.Series
    cov: pd.DataFrame
    nobs: int
    n_entities: int
    n_clusters: int
    cluster: str
    yname: str
    r2_within: float

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        return tidy_frame(self.params.index, self.params.to_numpy(), self.std_errors.to_numpy(), alpha)

    def summary(self) -> str:
        table = self.tidy().set_index("term").round(4).to_string()
        return (
            f"TWFE: {self.yname} ~ ... | city + year  (n = {self.nobs}, cities = {self.n_entities}, "
            f"clusters ({self.cluster}) = {self.n_clusters}, within R2 = {self.r2_within:.3f})\n{table}"
        )

    def __repr__(self) -> str:  # pragma: no cover - display only
        return self.summary()


DEMEAN_MIN_ROWS = 1_000_000  # "auto" uses the closed-form path for balanced panels from this size on


def _cluster_codes(data: pd.DataFrame, cluster: str) -> pd.Series:
    return pd.Series(pd.factorize(data[cluster])[0], index=data.index, name=cluster)


def _crv1_scale(
    n: int, k: int, n_clusters: int, n_years: int, n_entities: int, nested: bool, time_nested: bool = False
) -> float:
    """fixest's default CRV1 factor G/(G-1) * (N-1)/(N-K).

    K = regressors + fixed effects, where a set of effects nested in the clusters is not counted
    (fixest ``fixef.K = "nested"``): K = k + T with unit effects nested (clustering by unit or a
    coarser group), k + N with time effects nested (clustering by period), else k + N + T - 1.
    """
    if nested:
        df_k = k + n_years
    elif time_nested:
        df_k = k + n_entities
    else:
        df_k = k + n_years + n_entities - 1
    return n_clusters / (n_clusters - 1) * (n - 1) / (n - df_k)


def twfe(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str = "city_code",
    tname: str = "year",
    cluster: str | None = None,
    method: str = "auto",
) -> TWFEResult:
    """Regress ``yname`` on ``xnames`` with unit and time effects; cluster by ``cluster`` (default: unit).

    SEs are CRV1 with the small-sample factor G/(G-1) * (N-1)/(N-K) that Stata and R fixest use
    (linearmodels' ``group_debias=True`` and ``debiased=True`` with the FE not counted in K, as fixest
    does when the FE are nested in the clusters).

    ``method``: ``"panelols"`` (linearmodels), ``"demean"`` (closed-form two-way demeaning; balanced
    panels only) or ``"auto"`` (``"demean"`` for balanced panels with at least ``DEMEAN_MIN_ROWS``
    complete rows, else ``"panelols"``).
    """
    if method not in ("auto", "panelols", "demean"):
        raise ValueError("method must be 'auto', 'panelols' or 'demean'")
    cluster = cluster or idname
    if method == "demean" or (method == "auto" and len(data) >= DEMEAN_MIN_ROWS):
        fast = _twfe_demean(data, yname, list(xnames), idname, tname, cluster, strict=method == "demean")
        if fast is not None:
            return fast
    frame = data[[idname, tname, yname, *xnames] + ([cluster] if cluster not in (idname, tname) else [])]
    frame = frame.dropna().set_index([idname, tname])
    model = PanelOLS(frame[yname], frame[xnames], entity_effects=True, time_effects=True, drop_absorbed=True)
    clusters = _cluster_codes(frame.reset_index(), cluster).to_numpy()
    fit = model.fit(cov_type="clustered", clusters=pd.DataFrame({"c": clusters}, index=frame.index),
                    group_debias=False, debiased=False, auto_df=False, count_effects=False)
    # Raw sandwich from linearmodels, scaled to fixest's default CRV1 adjustment
    # G/(G-1) * (N-1)/(N-K) with K = regressors + year effects (the city effects are nested in the
    # clusters, so fixest does not count them); this makes PanelOLS and pyfixest agree to 1e-8.
    n, k = frame.shape[0], len(fit.params)
    n_clusters = int(np.unique(clusters).size)
    nested = frame.reset_index().groupby(idname)[cluster].nunique().max() == 1 if cluster != idname else True
    n_years = frame.index.get_level_values(1).nunique()
    n_ent = frame.index.get_level_values(0).nunique()
    cov = fit.cov * _crv1_scale(n, k, n_clusters, n_years, n_ent, nested, cluster == tname)
    return TWFEResult(
        params=fit.params,
        std_errors=pd.Series(np.sqrt(np.diag(cov)), index=fit.params.index),
        cov=cov,
        nobs=int(fit.nobs),
        n_entities=int(fit.entity_info["total"]),
        n_clusters=n_clusters,
        cluster=cluster,
        yname=yname,
        r2_within=float(fit.rsquared_within),
    )


def _twfe_demean(
    data: pd.DataFrame, yname: str, xnames: list[str], idname: str, tname: str, cluster: str, strict: bool
) -> TWFEResult | None:
    """Closed-form two-way within estimator for balanced panels (``None`` if unbalanced and not strict).

    Hand-written because at 10^7 rows every library path (PanelOLS, pyfixest's alternating
    projections) does far more work than the one-step balanced-panel transformation needs.
    """
    cols = [yname, *xnames]
    ids, times = data[idname].to_numpy(), data[tname].to_numpy()
    ok = np.ones(len(data), dtype=bool)
    for c in cols:
        ok &= np.isfinite(data[c].to_numpy(dtype=float))
    cl = None if cluster in (idname, tname) else data[cluster].to_numpy()
    if cl is not None:
        ok &= pd.notna(cl)
    full = bool(ok.all())
    if not full:
        ids, times = ids[ok], times[ok]
        cl = None if cl is None else cl[ok]
    # one Fortran-ordered working copy: the column passes below then read contiguous memory
    Z = np.empty((int(ok.sum()), len(cols)), order="F")
    for j, c in enumerate(cols):
        Z[:, j] = data[c].to_numpy(dtype=float) if full else data[c].to_numpy(dtype=float)[ok]
    id_codes, id_uniq = pd.factorize(ids)
    t_codes, t_uniq = pd.factorize(times)
    n, n_ent, n_t = len(Z), len(id_uniq), len(t_uniq)
    cells = id_codes.astype(np.int64) * n_t + t_codes
    balanced = n == n_ent * n_t and np.bincount(cells, minlength=n_ent * n_t).max() == 1
    if not balanced:
        if strict:
            raise ValueError("method='demean' needs a balanced panel (each unit observed once in every period)")
        return None
    # In place, column by column (bincount is one O(n) pass): first the entity demeaning
    # z - zbar_i, whose Gram matrix gives linearmodels' within R2, then subtracting the period means
    # of that, which in a balanced panel is exactly y - ybar_i - ybar_t + ybar.
    scale0 = np.einsum("ij,ij->j", Z, Z)
    for j in range(Z.shape[1]):
        Z[:, j] -= (np.bincount(id_codes, weights=Z[:, j], minlength=n_ent) / n_t)[id_codes]
    gram_within = Z.T @ Z
    for j in range(Z.shape[1]):
        Z[:, j] -= (np.bincount(t_codes, weights=Z[:, j], minlength=n_t) / n_ent)[t_codes]
    # drop regressors absorbed by the effects (nothing left after demeaning), as PanelOLS does
    gram = Z.T @ Z
    keep = np.flatnonzero(np.diag(gram)[1:] > 1e-12 * np.maximum(scale0[1:], 1.0))
    xnames = [xnames[j] for j in keep]
    X = Z[:, 1 + keep] if len(keep) < Z.shape[1] - 1 else Z[:, 1:]
    k = X.shape[1]
    bread = np.linalg.inv(gram[np.ix_(1 + keep, 1 + keep)])
    beta = bread @ gram[1 + keep, 0]
    u = Z[:, 0] - X @ beta
    if cluster == idname:
        cl_codes, n_clusters, nested = id_codes, n_ent, True
    elif cluster == tname:
        cl_codes, n_clusters, nested = t_codes, n_t, False
    else:
        cl_codes, cl_uniq = pd.factorize(cl)
        n_clusters = len(cl_uniq)
        first = np.empty(n_ent, dtype=cl_codes.dtype)
        first[id_codes] = cl_codes
        nested = bool((first[id_codes] == cl_codes).all())
    S = np.column_stack([np.bincount(cl_codes, weights=X[:, j] * u, minlength=n_clusters) for j in range(k)])
    cov = bread @ (S.T @ S) @ bread * _crv1_scale(n, k, n_clusters, n_t, n_ent, nested, cluster == tname)
    # within R2 = 1 - |yw - Xw b|^2 / |yw|^2 from the entity-demeaned Gram matrix
    gy, gxy, gxx = gram_within[0, 0], gram_within[1 + keep, 0], gram_within[np.ix_(1 + keep, 1 + keep)]
    r2_within = 1.0 - (gy - 2 * beta @ gxy + beta @ gxx @ beta) / gy
    params = pd.Series(beta, index=xnames, name="parameter")
    cov_df = pd.DataFrame(cov, index=xnames, columns=xnames)
    return TWFEResult(
        params=params,
        std_errors=pd.Series(np.sqrt(np.diag(cov)), index=xnames, name="std_error"),
        cov=cov_df,
        nobs=n,
        n_entities=n_ent,
        n_clusters=int(n_clusters),
        cluster=cluster,
        yname=yname,
        r2_within=float(r2_within),
    )


def twfe_pyfixest(
    data: pd.DataFrame, yname: str, xnames: list[str], idname: str = "city_code", tname: str = "year",
    cluster: str | None = None,
) -> TWFEResult:
    """The same model through pyfixest (CRV1, fixest's default small-sample adjustment)."""
    import pyfixest as pf

    cluster = cluster or idname
    fml = f"{yname} ~ {' + '.join(xnames)} | {idname}+{tname}"
    # Cluster on a renamed copy: when the cluster column *is* a fixed-effect column, pyfixest 0.60's
    # nested-FE count (small-sample K) depends on PYTHONHASHSEED and sometimes counts the other FE
    # as nested too (castle: K = 2 instead of 12 in about 1 run in 3); the data-based check is stable.
    frame = data.assign(_twfe_cluster=data[cluster].to_numpy())
    fit = pf.feols(fml, data=frame, vcov={"CRV1": "_twfe_cluster"})
    tidy = fit.tidy()
    return TWFEResult(
        params=tidy["Estimate"], std_errors=tidy["Std. Error"], cov=pd.DataFrame(fit._vcov, index=tidy.index, columns=tidy.index),
        nobs=int(fit._N), n_entities=int(data[idname].nunique()), n_clusters=int(data[cluster].nunique()),
        cluster=cluster, yname=yname, r2_within=float(fit._r2_within),
    )
