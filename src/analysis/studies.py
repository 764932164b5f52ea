"""The computations each study notebook narrates: estimates, comparison with the known truth, and
the results files. Notebooks call these; tests reach them directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.estimators.event_study import event_study
from analysis.estimators.twfe import twfe
from analysis.panel_schema import CONTROLS

TREATMENTS = ["pilot", "rail", "log_broadband"]


def twfe_table(panel: pd.DataFrame, cluster: str = "city_code") -> pd.DataFrame:
    """The three treatments jointly, without and with controls (one tidy block per specification)."""
    blocks = []
    for spec, xs in (("no controls", TREATMENTS), ("controls", TREATMENTS + CONTROLS)):
        fit = twfe(panel, "log_exports", xs, cluster=cluster)
        tidy = fit.tidy().assign(specification=spec, nobs=fit.nobs, n_clusters=fit.n_clusters,
                                 r2_within=fit.r2_within)
        blocks.append(tidy)
    return pd.concat(blocks, ignore_index=True)


def truth_by_event_time(truth: dict, key: str, window: tuple[int, int]) -> pd.Series | None:
    """True average effect by event time (post periods; zero before treatment), binned like the estimates."""
    if key not in truth:
        return None
    post = pd.Series({int(k): v for k, v in truth[key]["att_by_event_time"].items()}).sort_index()
    lo, hi = window
    series = pd.Series(0.0, index=range(lo, hi + 1))
    for e in range(0, hi + 1):
        series[e] = post[post.index >= hi].mean() if e == hi else post.get(e, np.nan)
    return series


def binary_study(
    panel: pd.DataFrame, truth: dict, treatment: str, cohort_col: str, window: tuple[int, int], cluster: str
) -> dict:
    """TWFE (one dummy) and TWFE event study for one binary staggered treatment, against the truth.

    The other treatments and the controls enter as covariates.
    """
    others = [t for t in TREATMENTS if t != treatment]
    single = twfe(panel, "log_exports", [treatment] + others + CONTROLS, cluster=cluster)
    es = event_study(panel, "log_exports", cohort_col, window=tuple(window),
                     controls=others + CONTROLS, cluster=cluster)
    es_tidy = es.tidy()
    true_es = truth_by_event_time(truth, treatment, tuple(window))
    if true_es is not None:
        es_tidy["truth"] = es_tidy["event_time"].map(true_es)
    row = single.tidy().set_index("term").loc[treatment]
    true_att = truth.get(treatment, {}).get("att_overall")
    return {
        "treatment": treatment,
        "twfe": {**row.to_dict(), "nobs": single.nobs, "n_clusters": single.n_clusters, "cluster": cluster},
        "true_att_overall": true_att,
        "twfe_bias": None if true_att is None else float(row["estimate"] - true_att),
        "event_study": es_tidy,
        "pretrend_test": es.pretrend_test(),
        "n_treated_cities": int(panel.loc[panel[cohort_col] > 0, "city_code"].nunique()),
        "cohorts": sorted(int(g) for g in panel[cohort_col].unique() if g > 0),
    }


def headline_metrics(result: dict) -> dict:
    """Small flat dict for `dvc metrics show`."""
    out = {"twfe_estimate": result["twfe"]["estimate"], "twfe_se": result["twfe"]["std_error"]}
    if result.get("true_att_overall") is not None:
        out["true_att"] = result["true_att_overall"]
    return out


def output_dirs(output_dir: str | Path) -> dict[str, Path]:
    root = Path(output_dir)
    dirs = {k: root / k for k in ("results", "figures", "tables", "metrics", "plots")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def coverage_study(panel: pd.DataFrame, truth: dict, n_bins: int, cluster: str) -> dict:
    """Network coverage as a continuous treatment: elasticity (TWFE on log broadband), and the
    dose-response in broadband users per 100 people by quantile bins and by a cubic B-spline."""
    from analysis.estimators.continuous import twfe_dose_response

    others = ["pilot", "rail"]
    fit = twfe(panel, "log_exports", ["log_broadband"] + others + CONTROLS, cluster=cluster)
    naive = twfe(panel, "log_exports", ["log_broadband"] + others, cluster=cluster)
    row = fit.tidy().set_index("term").loc["log_broadband"]
    bins = twfe_dose_response(panel, "log_exports", "broadband_per100", "year", "city_code", method="bins",
                              n_bins=n_bins, covariates=others + CONTROLS, cluster=cluster)
    curve = bins.tidy().assign(dose=bins.grid)
    spline = twfe_dose_response(panel, "log_exports", "broadband_per100", "year", "city_code", method="spline",
                                covariates=others + CONTROLS, cluster=cluster, grid=40)
    spline_curve = spline.tidy().assign(dose=spline.grid)
    true_elasticity = truth.get("broadband", {}).get("elasticity")
    if true_elasticity is not None:
        curve["truth"] = true_elasticity * (np.log(curve["dose"]) - np.log(bins.ref_dose))
        spline_curve["truth"] = true_elasticity * (np.log(spline_curve["dose"]) - np.log(spline.ref_dose))
    return {
        "treatment": "log_broadband",
        "twfe": {**row.to_dict(), "nobs": fit.nobs, "n_clusters": fit.n_clusters, "cluster": cluster},
        "twfe_no_controls": naive.tidy().set_index("term").loc["log_broadband"].to_dict(),
        "true_elasticity": true_elasticity,
        "twfe_bias": None if true_elasticity is None else float(row["estimate"] - true_elasticity),
        "dose_bins": curve,
        "bin_edges": bins.bins,
        "dose_spline": spline_curve,
    }
