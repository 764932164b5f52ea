"""Two-way fixed effects (city and year effects) with clustered standard errors.

``twfe`` is estimated with linearmodels ``PanelOLS`` (entity + time effects); its CRV1 covariance is
rescaled to fixest's small-sample rule (``analysis.did.fe.FIXEST``), so it equals pyfixest
(tests/helpers/pyfixest_twfe.py is that check).

Everything else goes through the fixed-effects kernel ``analysis.did.fe``:

* large *balanced* panels take its closed form (``method="demean"``, automatic from
  ``DEMEAN_MIN_ROWS`` rows): in a balanced panel the two-way within transformation is exact in one
  step, ``y_it - ybar_i - ybar_t + ybar`` (Wooldridge 2010, Sec. 10.5; Baltagi 2021, Ch. 3). PanelOLS
  builds dense/sparse dummy machinery that is slow and memory-hungry at 10^7 rows; the kernel is a
  few ``bincount`` passes (benchmarks/bench_twfe.py);
* ``twfe_fwl`` is the same model by Frisch-Waugh-Lovell on any panel (balanced or not) for the
  robustness tools that run it hundreds of times: PanelOLS costs 0.15-0.25 s per fit on the city
  panel, the kernel a few milliseconds.

All paths give the same numbers to 1e-10 (tests/did/test_fe.py, tests/did/test_twfe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from linearmodels.panel import PanelOLS

from analysis.did.fe import FIXEST, UnbalancedPanelError, WithinFit, fit_within, nested_in
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
        return tidy_frame(
            self.params.index, self.params.to_numpy(), self.std_errors.to_numpy(), alpha
        )

    def summary(self) -> str:
        table = self.tidy().set_index("term").round(4).to_string()
        return (
            f"TWFE: {self.yname} ~ ... | city + year  (n = {self.nobs}, cities = {self.n_entities}, "
            f"clusters ({self.cluster}) = {self.n_clusters}, within R2 = {self.r2_within:.3f})\n{table}"
        )

    def __repr__(self) -> str:  # pragma: no cover - display only
        return self.summary()


DEMEAN_MIN_ROWS = (
    1_000_000  # "auto" uses the closed-form path for balanced panels from this size on
)


def twfe(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str,
    tname: str,
    cluster: str | None = None,
    method: str = "auto",
) -> TWFEResult:
    """Regress ``yname`` on ``xnames`` with unit and time effects; cluster by ``cluster`` (default: unit).

    SEs are CRV1 with fixest's small-sample factor G/(G-1) * (N-1)/(N-K), K = regressors + fixed
    effects not nested in the clusters (``analysis.did.fe.SmallSample``), as Stata and R fixest do.

    ``method``: ``"panelols"`` (linearmodels), ``"demean"`` (the kernel's closed-form two-way
    demeaning; balanced panels only) or ``"auto"`` (``"demean"`` for balanced panels with at least
    ``DEMEAN_MIN_ROWS`` complete rows, else ``"panelols"``).
    """
    if method not in ("auto", "panelols", "demean"):
        raise ValueError("method must be 'auto', 'panelols' or 'demean'")
    cluster = cluster or idname
    if method == "demean" or (method == "auto" and len(data) >= DEMEAN_MIN_ROWS):
        try:
            fit = fit_within(
                data, yname, list(xnames), idname, tname, cluster, require_balanced=True
            )
            return _from_kernel(fit, yname)
        except UnbalancedPanelError:
            if method == "demean":
                raise
    frame = data[
        [idname, tname, yname, *xnames] + ([cluster] if cluster not in (idname, tname) else [])
    ]
    frame = frame.dropna().set_index([idname, tname])
    model = PanelOLS(
        frame[yname], frame[xnames], entity_effects=True, time_effects=True, drop_absorbed=True
    )
    clusters = pd.factorize(frame.reset_index()[cluster])[0]
    fit = model.fit(
        cov_type="clustered",
        clusters=pd.DataFrame({"c": clusters}, index=frame.index),
        group_debias=False,
        debiased=False,
        auto_df=False,
        count_effects=False,
    )
    # Raw sandwich from linearmodels, scaled by the kernel's (fixest's) CRV1 factor; this makes
    # PanelOLS, the kernel and pyfixest agree to 1e-10.
    units = pd.factorize(frame.index.get_level_values(0))[0]
    times = pd.factorize(frame.index.get_level_values(1))[0]
    n_clusters = int(clusters.max()) + 1
    scale = FIXEST.factor(
        frame.shape[0],
        len(fit.params),
        n_clusters,
        [int(units.max()) + 1, int(times.max()) + 1],
        [nested_in(units, clusters), nested_in(times, clusters)],
    )
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


def twfe_fwl(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str,
    tname: str,
    cluster: str | None = None,
) -> TWFEResult:
    """Same model, estimates and CRV1 SEs as :func:`twfe`, by the FWL kernel (balanced or not).

    Regressors absorbed by the fixed effects (no within variation) are dropped, as PanelOLS's
    ``drop_absorbed=True`` does (same rule and tolerance, ``analysis.did.fe.RANK_TOL``).
    """
    return _from_kernel(fit_within(data, yname, list(xnames), idname, tname, cluster), yname)


def _from_kernel(
    fit: WithinFit, yname: str, *, std_errors=None, cov=None, n_clusters=None, cluster=None
) -> TWFEResult:
    """The kernel's fit as a TWFEResult; the keywords replace its inference with another
    covariance of the same coefficients (e.g. Conley's, :mod:`analysis.did.conley`)."""
    names = fit.names
    return TWFEResult(
        params=pd.Series(fit.params, index=names, name="parameter"),
        std_errors=pd.Series(
            fit.std_errors if std_errors is None else std_errors, index=names, name="std_error"
        ),
        cov=pd.DataFrame(fit.cov if cov is None else cov, index=names, columns=names),
        nobs=fit.nobs,
        n_entities=fit.n_units,
        n_clusters=fit.n_clusters if n_clusters is None else n_clusters,
        cluster=fit.cluster if cluster is None else cluster,
        yname=yname,
        r2_within=fit.r2_within,
    )
