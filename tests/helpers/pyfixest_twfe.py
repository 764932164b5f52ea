"""TWFE through pyfixest: the independent check of ``analysis.did.twfe`` and the FE kernel in tests
and benchmarks (not part of the package: nothing in src needs pyfixest for TWFE)."""

from __future__ import annotations

import pandas as pd

from analysis.did.twfe import TWFEResult


def twfe_pyfixest(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str = "city_code",
    tname: str = "year",
    cluster: str | None = None,
    weights: str | None = None,
    fixef_tol: float = 1e-8,
) -> TWFEResult:
    """The same model through pyfixest (CRV1, fixest's default small-sample adjustment).

    ``weights``: column of observation weights; ``fixef_tol``: convergence tolerance of pyfixest's
    alternating projections (its default 1e-8; tighten it for 1e-10 comparisons on unbalanced panels).
    """
    import pyfixest as pf

    cluster = cluster or idname
    fml = f"{yname} ~ {' + '.join(xnames)} | {idname}+{tname}"
    # Cluster on a renamed copy: when the cluster column *is* a fixed-effect column, pyfixest 0.60's
    # nested-FE count (small-sample K) depends on PYTHONHASHSEED and sometimes counts the other FE
    # as nested too (castle: K = 2 instead of 12 in about 1 run in 3); the data-based check is stable.
    frame = data.assign(_twfe_cluster=data[cluster].to_numpy())
    fit = pf.feols(
        fml, data=frame, vcov={"CRV1": "_twfe_cluster"}, weights=weights, fixef_tol=fixef_tol
    )
    tidy = fit.tidy()
    return TWFEResult(
        params=tidy["Estimate"],
        std_errors=tidy["Std. Error"],
        cov=pd.DataFrame(fit._vcov, index=tidy.index, columns=tidy.index),
        nobs=int(fit._N),
        n_entities=int(data[idname].nunique()),
        n_clusters=int(data[cluster].nunique()),
        cluster=cluster,
        yname=yname,
        r2_within=float(fit._r2_within),
    )
