"""The binary staggered treatments (pilot zones, rail links): what their notebooks narrate --
estimates, comparison with the known truth, and the results files. Every estimator runs through
:func:`analysis.did.estimate.estimate`. Network coverage (a continuous treatment) is in
:mod:`analysis.studies.coverage`.

Studies use what the panel has. Each study runs the design check of the panel stage
(:func:`analysis.data.design.check_design`) on the panel it receives, so the same rule decides
which controls enter (a control observed for too few city-years is dropped) and which estimators
run; an estimator that cannot run on this design is recorded as ``{"skipped": "<reason>"}`` in
the results, never a crash and never a silent zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.design import MIN_CONTROL_SHARE, DesignCheck, check_design
from analysis.did.estimate import estimate
from analysis.did.twfe import twfe

TREATMENTS = ["pilot", "rail", "log_broadband"]
BINARY = {"pilot": "pilot_year", "rail": "rail_year"}

# --- what the panel offers: the design check, applied inside every study ----------------------


def study_design(
    panel: pd.DataFrame, share: float = MIN_CONTROL_SHARE, wild_cluster: str = "province"
) -> DesignCheck:
    """The design check of :mod:`analysis.data.design` on the panel a study receives; ``share``:
    params.yaml ``panel.min_control_share`` (the notebooks receive it from papermill), so a study
    drops the same controls as the design check of the panel stage (data/processed/design.md)."""
    return check_design(panel, min_control_share=share, wild_cluster=wild_cluster)


def treatment_covariates(design: DesignCheck, treatment: str | None) -> list[str]:
    """The other treatments that vary in this panel (a binary treatment whose TWFE cannot run has
    no variation left after city and year effects; broadband only when the coverage study runs),
    in the order of ``TREATMENTS``."""
    keep = []
    for t in TREATMENTS:
        if t == treatment:
            continue
        if (
            t in BINARY
            and design.runs(t, "twfe")
            or t == "log_broadband"
            and design.coverage is None
        ):
            keep.append(t)
    return keep


def controls_record(design: DesignCheck) -> dict:
    """What every results JSON says about controls: used, and dropped with the reason."""
    return {
        "controls_used": list(design.controls_used),
        "controls_dropped": dict(design.controls_dropped),
    }


# Numerical failures the design check cannot foresee on a small or odd panel (a singular matrix,
# a rank or collinearity check inside an estimator). Only these become recorded skips; any other
# error is a bug and propagates.
NUMERICAL_ERRORS = (np.linalg.LinAlgError, ValueError)
_NUMERICAL_MESSAGE = re.compile(
    r"rank|singular|collinear|invertib|positive definite|no never[- ]treated|no (untreated|treated|"
    r"control|pre-?(treatment)?[- ]period|post)|not enough|too few|no observations|empty|"
    r"zero-size|no valid|cannot be estimated|feasible|absorbed|no variation|at least",
    re.IGNORECASE,
)


def is_numerical_failure(exc: BaseException) -> bool:
    if isinstance(exc, np.linalg.LinAlgError):
        return True
    return isinstance(exc, ValueError) and bool(_NUMERICAL_MESSAGE.search(str(exc)))


def attempt(fn: Callable, *args, **kwargs):
    """``(fn(*args, **kwargs), None)``, or ``(None, reason)`` when it fails numerically."""
    try:
        return fn(*args, **kwargs), None
    except NUMERICAL_ERRORS as exc:
        if not is_numerical_failure(exc):
            raise
        return None, f"estimation failed on this panel: {type(exc).__name__}: {exc}"


def skipped(reason: str, **extra) -> dict:
    return {"skipped": reason, **extra}


def is_skipped(entry) -> bool:
    return isinstance(entry, dict) and "skipped" in entry


def twfe_table(
    panel: pd.DataFrame, cluster: str = "city_code", design: DesignCheck | None = None
) -> pd.DataFrame:
    """The treatments jointly, without and with controls (one tidy block per specification).

    Only the treatments that vary in the panel and the usable controls enter. A specification
    that cannot run is absent from the table and named with its reason in
    ``table.attrs["skipped"]`` (without usable controls, "controls" would repeat the first)."""
    design = design or study_design(panel)
    xs = treatment_covariates(design, None)
    blocks, skips = [], {}
    specs = [("no controls", xs), ("controls", xs + list(design.controls_used))]
    for spec, cols in specs:
        if not xs:
            skips[spec] = "no treatment varies in this panel"
            continue
        if spec == "controls" and not design.controls_used:
            skips[spec] = "no usable control in the panel"
            continue
        fit, why = attempt(twfe, panel, "log_exports", cols, "city_code", "year", cluster=cluster)
        if fit is None:
            skips[spec] = why
            continue
        tidy = fit.tidy().assign(
            specification=spec, nobs=fit.nobs, n_clusters=fit.n_clusters, r2_within=fit.r2_within
        )
        blocks.append(tidy)
    table = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
    table.attrs["skipped"] = skips
    return table


def truth_by_event_time(truth: dict, key: str, window: tuple[int, int]) -> pd.Series | None:
    """True average effect by event time (post periods; zero before treatment), binned like the estimates."""
    if key not in truth:
        return None
    post = pd.Series({int(k): v for k, v in truth[key]["att_by_event_time"].items()}).sort_index()
    lo, hi = window
    series = pd.Series(0.0, index=range(lo, hi + 1))
    for e in range(hi + 1):
        series[e] = post[post.index >= hi].mean() if e == hi else post.get(e, np.nan)
    return series


ROBUST_ESTIMATORS = ("cs", "sa", "bjs")
ROBUST_LABELS = {"cs": "Callaway-Sant'Anna", "sa": "Sun-Abraham", "bjs": "Imputation (BJS)"}


def robust_options(design: DesignCheck | None, treatment: str | None) -> dict[str, dict]:
    """Per-estimator options the design needs: without never-treated cities, Callaway-Sant'Anna
    compares with not-yet-treated cities and Sun-Abraham uses the last-treated cohort as control
    (the rules of :mod:`analysis.data.design`)."""
    options = {"bjs": {"leaveout": True}}
    if (
        design is not None
        and treatment in design.treatments
        and design.treatments[treatment].never_treated == 0
    ):
        options["cs"] = {"control_group": "notyettreated"}
        options["sa"] = {"control": "last"}
    return options


def robust_estimates(
    panel: pd.DataFrame,
    cohort_col: str,
    covariates: list[str],
    window: tuple[int, int],
    cluster: str,
    estimators=ROBUST_ESTIMATORS,
    design: DesignCheck | None = None,
    treatment: str | None = None,
) -> dict:
    """Heterogeneity-robust overall ATT and event-time effects.

    CS: never-treated controls (not-yet-treated ones when the panel has no never-treated city),
    no covariates (its covariates are pre-treatment characteristics; the
    time-varying controls cannot enter). SA and BJS: the other treatments and time-varying controls
    enter the untreated-outcome model linearly. BJS uses the leave-out variance (BJS 2024, App. A.6):
    small cohorts (one city in 2015) otherwise understate the SE (Monte Carlo coverage 92% -> 95%).

    With ``design`` (and ``treatment``), an estimator the design check rules out, or one that fails
    numerically on this panel, is recorded as ``{"skipped": reason, "label": ...}``.
    """
    spec = {
        "y": "log_exports",
        "unit": "city_code",
        "time": "year",
        "cohort": cohort_col,
        "cluster": cluster,
        "window": tuple(window),
    }
    covariates_of = {"cs": [], "sa": covariates, "bjs": covariates}
    options = robust_options(design, treatment)
    out = {}
    for key in ROBUST_ESTIMATORS:
        if key not in estimators:
            continue
        label = ROBUST_LABELS[key]
        if design is not None and treatment in design.treatments:
            why = design.treatments[treatment].estimators.get(key)
            if why:
                out[key] = skipped(why, label=label)
                continue
        est, why = attempt(
            estimate, key, panel, covariates=covariates_of[key], **spec, **options.get(key, {})
        )
        if est is None:
            out[key] = skipped(why, label=label)
            continue
        out[key] = {
            "overall": est.overall().to_dict(),
            "event_study": est.event_study,
            "label": label,
        }
    return out


def binary_study(
    panel: pd.DataFrame,
    truth: dict,
    treatment: str,
    cohort_col: str,
    window: tuple[int, int],
    cluster: str,
    estimators=ROBUST_ESTIMATORS,
    design: DesignCheck | None = None,
) -> dict:
    """TWFE (one dummy), TWFE event study and the heterogeneity-robust estimators for one binary
    staggered treatment, against the truth. The other treatments that vary in the panel and the
    usable controls (design check) enter as covariates. Estimators the design rules out, or that
    fail numerically, are recorded skips (``{"skipped": reason}``)."""
    design = design or study_design(panel)
    others = treatment_covariates(design, treatment)
    covariates = others + list(design.controls_used)
    true_att = truth.get(treatment, {}).get("att_overall")
    record = {
        "treatment": treatment,
        **controls_record(design),
        "covariates": covariates,
        "true_att_overall": true_att,
        "n_treated_cities": int(panel.loc[panel[cohort_col] > 0, "city_code"].nunique()),
        "cohorts": sorted(int(g) for g in panel[cohort_col].unique() if g > 0),
    }
    why = design.treatments[treatment].estimators.get("twfe")
    if why:  # the design rules out every estimator of this treatment (see analysis.data.design)
        return {
            **record,
            "skipped": why,
            "twfe": skipped(why),
            "twfe_bias": None,
            "event_study": pd.DataFrame(),
            "pretrend_test": skipped(why),
            "robust": {k: skipped(why, label=ROBUST_LABELS[k]) for k in estimators},
        }
    spec = {
        "y": "log_exports",
        "unit": "city_code",
        "time": "year",
        "cohort": cohort_col,
        "covariates": covariates,
        "cluster": cluster,
    }
    single, why_twfe = attempt(estimate, "twfe", panel, treatment=treatment, **spec)
    es, why_es = attempt(estimate, "event_study", panel, window=tuple(window), **spec)
    if es is not None:
        es_tidy = es.fit.tidy()  # with the reference period and the binned flags
        true_es = truth_by_event_time(truth, treatment, tuple(window))
        if true_es is not None:
            es_tidy["truth"] = es_tidy["event_time"].map(true_es)
        pretrend = es.fit.pretrend_test()  # {"wald", "df", "p_value"}
    else:
        es_tidy, pretrend = pd.DataFrame(), skipped(why_es)
    if single is not None:
        twfe_row = {
            **single.overall().drop("term").to_dict(),
            "nobs": single.fit.nobs,
            "n_clusters": single.fit.n_clusters,
            "cluster": cluster,
        }
    else:
        twfe_row = skipped(why_twfe)
    return {
        "treatment": treatment,
        "twfe": twfe_row,
        "true_att_overall": true_att,
        "twfe_bias": None if true_att is None or single is None else float(single.att - true_att),
        "event_study": es_tidy,
        "pretrend_test": pretrend,
        "n_treated_cities": record["n_treated_cities"],
        "cohorts": record["cohorts"],
        "robust": robust_estimates(
            panel, cohort_col, covariates, tuple(window), cluster, estimators, design, treatment
        ),
        **controls_record(design),
        "covariates": covariates,
        **({"event_study_skipped": why_es} if why_es else {}),
    }


def skips(study: dict) -> dict[str, str]:
    """``{what: why}`` for every estimator of a study result that did not run."""
    out = {}
    if study.get("skipped"):
        out["study"] = study["skipped"]
    if is_skipped(study.get("twfe")):
        out["twfe"] = study["twfe"]["skipped"]
    if study.get("event_study_skipped"):
        out["event_study"] = study["event_study_skipped"]
    for key, value in study.get("robust", {}).items():
        if is_skipped(value):
            out[key] = value["skipped"]
    return out


def headline_metrics(result: dict) -> dict:
    """Small flat dict for `dvc metrics show`."""
    out = {}
    if not is_skipped(result.get("twfe")):
        out = {"twfe_estimate": result["twfe"]["estimate"], "twfe_se": result["twfe"]["std_error"]}
    for key, value in result.get("robust", {}).items():
        if is_skipped(value):
            continue
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


def overall_comparison(study: dict) -> pd.DataFrame:
    """Overall effect by estimator (TWFE single dummy and the robust ones) against the truth."""
    rows = []
    if not is_skipped(study["twfe"]):
        rows.append(
            {
                "estimator": "TWFE (one dummy)",
                **{k: study["twfe"][k] for k in ("estimate", "std_error", "conf_low", "conf_high")},
            }
        )
    for value in study.get("robust", {}).values():
        if is_skipped(value):
            continue
        rows.append(
            {
                "estimator": value["label"],
                **{
                    k: value["overall"][k]
                    for k in ("estimate", "std_error", "conf_low", "conf_high")
                },
            }
        )
    frame = pd.DataFrame(
        rows, columns=["estimator", "estimate", "std_error", "conf_low", "conf_high"]
    )
    truth = study.get("true_att_overall")
    if truth is not None:
        frame["truth"] = truth
        frame["bias"] = frame["estimate"] - truth
        frame["truth_in_ci"] = (frame["conf_low"] <= truth) & (truth <= frame["conf_high"])
    return frame


def event_study_series(study: dict) -> dict[str, pd.DataFrame]:
    """Event-study frames by estimator, for the figure."""
    series = {}
    if len(study["event_study"]):
        series["TWFE event study"] = study["event_study"]
    for value in study.get("robust", {}).values():
        if is_skipped(value):
            continue
        series[value["label"]] = pd.DataFrame(value["event_study"])
    return series
