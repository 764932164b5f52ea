"""Two-way fixed effects (city and year effects) with clustered standard errors.

Estimated with linearmodels ``PanelOLS`` (entity + time effects). ``twfe_pyfixest`` runs the same
model through pyfixest as an independent check (the two agree to 1e-8, see the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from linearmodels.panel import PanelOLS

from analysis.estimators.results import tidy_frame


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


def _cluster_codes(data: pd.DataFrame, cluster: str) -> pd.Series:
    return pd.Series(pd.factorize(data[cluster])[0], index=data.index, name=cluster)


def twfe(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str = "city_code",
    tname: str = "year",
    cluster: str | None = None,
) -> TWFEResult:
    """Regress ``yname`` on ``xnames`` with unit and time effects; cluster by ``cluster`` (default: unit).

    SEs are CRV1 with the small-sample factor G/(G-1) * (N-1)/(N-K) that Stata and R fixest use
    (linearmodels' ``group_debias=True`` and ``debiased=True`` with the FE not counted in K, as fixest
    does when the FE are nested in the clusters).
    """
    cluster = cluster or idname
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
    df_k = k + n_years if nested else k + n_years + frame.index.get_level_values(0).nunique() - 1
    scale = n_clusters / (n_clusters - 1) * (n - 1) / (n - df_k)
    cov = fit.cov * scale
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


def twfe_pyfixest(
    data: pd.DataFrame, yname: str, xnames: list[str], idname: str = "city_code", tname: str = "year",
    cluster: str | None = None,
) -> TWFEResult:
    """The same model through pyfixest (CRV1, fixest's default small-sample adjustment)."""
    import pyfixest as pf

    cluster = cluster or idname
    fml = f"{yname} ~ {' + '.join(xnames)} | {idname}+{tname}"
    fit = pf.feols(fml, data=data, vcov={"CRV1": cluster})
    tidy = fit.tidy()
    return TWFEResult(
        params=tidy["Estimate"], std_errors=tidy["Std. Error"], cov=pd.DataFrame(fit._vcov, index=tidy.index, columns=tidy.index),
        nobs=int(fit._N), n_entities=int(data[idname].nunique()), n_clusters=int(data[cluster].nunique()),
        cluster=cluster, yname=yname, r2_within=float(fit._r2_within),
    )
