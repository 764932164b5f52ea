"""The computations each study notebook narrates: estimates, comparison with the known truth, and
the results files. Notebooks call these; tests reach them directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.did.event_study import event_study
from analysis.did.twfe import twfe
from analysis.data.schema import CONTROLS

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


ROBUST_ESTIMATORS = ("cs", "sa", "bjs")
ROBUST_LABELS = {"cs": "Callaway-Sant'Anna", "sa": "Sun-Abraham", "bjs": "Imputation (BJS)"}


def _event_rows(terms, tidy: pd.DataFrame, window: tuple[int, int]) -> pd.DataFrame:
    frame = tidy.assign(event_time=terms).dropna(subset=["event_time"])
    frame["event_time"] = frame["event_time"].astype(int)
    lo, hi = window
    frame = frame[(frame["event_time"] >= lo) & (frame["event_time"] <= hi)]
    return frame[["event_time", "estimate", "std_error", "conf_low", "conf_high"]].reset_index(drop=True)


def robust_estimates(
    panel: pd.DataFrame, cohort_col: str, covariates: list[str], window: tuple[int, int], cluster: str,
    estimators=ROBUST_ESTIMATORS,
) -> dict:
    """Heterogeneity-robust overall ATT and event-time effects.

    CS: never-treated controls, no covariates (its covariates are pre-treatment characteristics; the
    time-varying controls cannot enter). SA and BJS: the other treatments and time-varying controls
    enter the untreated-outcome model linearly.
    """
    from analysis.did.callaway_santanna import att_gt
    from analysis.did.imputation import imputation
    from analysis.did.sun_abraham import sun_abraham

    lo, hi = window
    out = {}
    if "cs" in estimators:
        fit = att_gt(panel, "log_exports", "year", "city_code", cohort_col, control_group="nevertreated",
                     clustervars=None if cluster == "city_code" else [cluster], progress=False)
        dyn = fit.aggregate("dynamic").tidy()
        simple = fit.aggregate("simple").tidy().iloc[0]
        terms = dyn["term"].str.extract(r"event_time=(-?\d+)")[0].astype(float)
        out["cs"] = {"overall": simple.to_dict(), "event_study": _event_rows(terms, dyn, window)}
    if "sa" in estimators:
        fit = sun_abraham(panel, "log_exports", "year", "city_code", cohort_col, covariates=covariates,
                          min_e=lo, max_e=hi, cluster=cluster)
        es = fit.tidy()
        terms = es["term"].str.extract(r"event_time::(-?\d+)")[0].astype(float)
        out["sa"] = {"overall": fit.aggregate_att().iloc[0].to_dict(), "event_study": _event_rows(terms, es, window)}
    if "bjs" in estimators:
        # leave-out variance (BJS 2024, App. A.6): small cohorts (one city in 2015) otherwise
        # understate the SE (Monte Carlo coverage 92% -> 95%).
        fit = imputation(panel, "log_exports", "year", "city_code", cohort_col, covariates=covariates, leaveout=True,
                         horizons=list(range(0, hi + 1)), cluster=cluster)
        es = fit.tidy()
        terms = es["term"].str.extract(r"horizon::(-?\d+)")[0].astype(float)
        out["bjs"] = {"overall": es.iloc[0].to_dict(), "event_study": _event_rows(terms, es, window)}
    for key, value in out.items():
        value["label"] = ROBUST_LABELS[key]
    return out


def binary_study(
    panel: pd.DataFrame, truth: dict, treatment: str, cohort_col: str, window: tuple[int, int], cluster: str,
    estimators=ROBUST_ESTIMATORS,
) -> dict:
    """TWFE (one dummy), TWFE event study and the heterogeneity-robust estimators for one binary
    staggered treatment, against the truth. The other treatments and the controls enter as covariates.
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
        "robust": robust_estimates(panel, cohort_col, others + CONTROLS, tuple(window), cluster, estimators),
    }


def headline_metrics(result: dict) -> dict:
    """Small flat dict for `dvc metrics show`."""
    out = {"twfe_estimate": result["twfe"]["estimate"], "twfe_se": result["twfe"]["std_error"]}
    for key, value in result.get("robust", {}).items():
        out[f"{key}_att"] = value["overall"]["estimate"]
        out[f"{key}_se"] = value["overall"]["std_error"]
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
    from analysis.did.continuous import twfe_dose_response

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


def overall_comparison(study: dict) -> pd.DataFrame:
    """Overall effect by estimator (TWFE single dummy and the robust ones) against the truth."""
    rows = [{"estimator": "TWFE (one dummy)", **{k: study["twfe"][k] for k in ("estimate", "std_error", "conf_low", "conf_high")}}]
    for value in study.get("robust", {}).values():
        rows.append({"estimator": value["label"], **{k: value["overall"][k] for k in ("estimate", "std_error", "conf_low", "conf_high")}})
    frame = pd.DataFrame(rows)
    truth = study.get("true_att_overall")
    if truth is not None:
        frame["truth"] = truth
        frame["bias"] = frame["estimate"] - truth
        frame["truth_in_ci"] = (frame["conf_low"] <= truth) & (truth <= frame["conf_high"])
    return frame


def event_study_series(study: dict) -> dict[str, pd.DataFrame]:
    """Event-study frames by estimator, for the figure."""
    series = {"TWFE event study": study["event_study"]}
    for value in study.get("robust", {}).values():
        series[value["label"]] = pd.DataFrame(value["event_study"])
    return series
