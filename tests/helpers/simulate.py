"""Small simulated staggered-adoption panels used by the robustness tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_staggered_panel(
    n_units: int = 290,
    n_years: int = 14,
    first_year: int = 2005,
    n_clusters: int = 31,
    cohorts: tuple[int, ...] = (2010, 2012, 2014, 2016),
    treated_share: float = 0.4,
    effect: float = 0.0,
    cluster_sd: float = 0.3,
    cluster_year_sd: float = 0.0,
    selection: float = 0.0,
    trend_on_x: float = 0.0,
    drop_share: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Unit x year panel with staggered absorbing treatment.

    ``y = a_i + l_t + effect * D_it + 0.5 * z_it + trend_on_x * x_i * (t - t0) + c_g * t_scaled + e``

    * ``x`` is a unit-level covariate (``x_pre`` its noisy pre-period version varying by year);
      ``selection`` > 0 makes units with high ``x`` more likely to be treated, so that with
      ``trend_on_x`` != 0 plain DiD is biased (used by the PSM-DID tests).
    * clusters (``province``) carry cluster-specific trends (``cluster_sd``) and optional
      cluster-by-year shocks (``cluster_year_sd``) so that inference must be clustered.
    * ``drop_share`` > 0 randomly drops observations (unbalanced panel).
    """
    rng = np.random.default_rng(seed)
    years = np.arange(first_year, first_year + n_years)
    unit = np.arange(n_units)
    province = rng.integers(0, n_clusters, n_units)
    province[:n_clusters] = np.arange(n_clusters)  # every cluster non-empty
    x = rng.normal(size=n_units)
    score = selection * x + rng.logistic(size=n_units)
    treated = score >= np.quantile(score, 1 - treated_share)
    cohort = np.where(treated, rng.choice(np.asarray(cohorts), n_units), 0)

    a = rng.normal(size=n_units) + 0.5 * x
    lam = 0.1 * (years - first_year) + rng.normal(scale=0.2, size=n_years)
    ctrend = rng.normal(scale=cluster_sd, size=n_clusters)
    cy = rng.normal(scale=cluster_year_sd, size=(n_clusters, n_years))

    ii, tt = np.meshgrid(unit, np.arange(n_years), indexing="ij")
    ii, tt = ii.ravel(), tt.ravel()
    year = years[tt]
    d = ((cohort[ii] > 0) & (year >= cohort[ii])).astype(float)
    z = rng.normal(size=len(ii)) + 0.3 * x[ii] * tt / n_years  # correlated with x, not with D
    ts = tt / max(n_years - 1, 1)
    y = (
        a[ii]
        + lam[tt]
        + effect * d
        + 0.5 * z
        + trend_on_x * x[ii] * tt
        + ctrend[province[ii]] * ts
        + cy[province[ii], tt]
        + rng.normal(size=len(ii))
    )
    df = pd.DataFrame(
        {
            "unit": ii,
            "year": year,
            "province": province[ii],
            "cohort": cohort[ii],
            "treat": d,
            "y": y,
            "z": z,
            "x": x[ii],
            "x_pre": x[ii] + rng.normal(scale=0.3, size=len(ii)),
            "w": rng.normal(size=n_units)[ii] + rng.normal(scale=0.3, size=len(ii)),
        }
    )
    if drop_share > 0:
        df = df[rng.random(len(df)) >= drop_share].reset_index(drop=True)
    return df
