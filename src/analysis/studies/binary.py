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

from analysis.data.design import MIN_CONTROL_SHARE, DesignCheck, analysis_sample, check_design
from analysis.did.estimate import estimate
from analysis.did.inference import cluster_diagnostic, cluster_level_test, critical_value
from analysis.did.randomization import permutation_test
from analysis.did.twfe import twfe
from analysis.studies.rules import (  # noqa: F401 (TREATMENTS, BINARY: re-exported)
    BINARY,
    COARSE_CLUSTER,
    FINE_CLUSTER,
    TREATMENTS,
    InferenceRule,
    StudyData,
    inference_rule,
    study_data,
    study_statistic,
    treatment_covariates,
    truth_for,
)

# --- what the panel offers: the design check, applied inside every study ----------------------


def study_design(
    panel: pd.DataFrame, share: float = MIN_CONTROL_SHARE, wild_cluster: str = "province"
) -> DesignCheck:
    """The design check of :mod:`analysis.data.design` on the panel a study receives; ``share``:
    params.yaml ``panel.min_control_share`` (the notebooks receive it from papermill), so a study
    drops the same controls as the design check of the panel stage (data/processed/design.md)."""
    return check_design(panel, min_control_share=share, wild_cluster=wild_cluster)


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
    panel = analysis_sample(panel, design)
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


def treated_overlap(panel: pd.DataFrame, cohort_col: str, others: list[str]) -> dict[str, int]:
    """For each other binary treatment (``x`` with a cohort column ``x_year``): how many of this
    treatment's treated cities it ever treats -- the overlap that makes a model without it
    (CS without covariates) credit its effect to this treatment."""
    cities = panel.groupby("city_code").first()
    treated = cities[cohort_col] > 0
    return {
        x: int((treated & (cities[f"{x}_year"].fillna(0) > 0)).sum())
        for x in others
        if f"{x}_year" in cities and x != cohort_col.removesuffix("_year")
    }


def truth_by_event_time(
    truth: dict | None, key: str | None, window: tuple[int, int]
) -> pd.Series | None:
    """True average effect at each event time of the window, unbinned: zero before treatment,
    and at ``e >= 0`` the truth's ``att_by_event_time[e]`` -- the mean effect over the treated
    city-years observed at exactly that event time, the quantity every event-study estimator
    here estimates at ``e`` (CS and SA weight cohorts by their size at ``e``, BJS averages the
    treated city-years at horizon ``e``). NaN where no treated city-year is observed. ``truth``:
    the truth file with ``key``, or (``key`` None) the block of :func:`analysis.studies.rules.
    truth_for` -- the target of the study's estimators over the cities they estimate."""
    block = truth if key is None else (truth or {}).get(key)
    if not block:
        return None
    post = {int(k): float(v) for k, v in block["att_by_event_time"].items()}
    lo, hi = window
    return pd.Series(
        [0.0 if e < 0 else post.get(e, np.nan) for e in range(lo, hi + 1)],
        index=range(lo, hi + 1),
        dtype=float,
    )


HEADLINE_LABEL = "Imputation (BJS), covariate-adjusted"
HEADLINE_CLUSTERS = (FINE_CLUSTER, COARSE_CLUSTER)


def _bjs(panel: pd.DataFrame, cohort_col: str, covariates: list[str], cluster: str):
    return attempt(
        estimate, "bjs", panel, y="log_exports", unit="city_code", time="year", cohort=cohort_col,
        covariates=list(covariates), cluster=cluster, leaveout=True, horizons=None,
    )  # fmt: skip


def headline_att(
    panel: pd.DataFrame,
    treatment: str,
    cohort_col: str,
    covariates: list[str],
    design: DesignCheck | None = None,
    alpha: float = 0.05,
    rule: InferenceRule | None = None,
) -> dict:
    """The study's headline number: the Borusyak-Jaravel-Spiess (2024) imputation ATT with the
    study's covariates in the untreated-outcome model (leave-out variance). With the covariates of
    :func:`analysis.studies.rules.study_data` (controls moved by the treatment only as their
    pre-treatment trends, concurrent treatments by their own cells) it is the TOTAL effect.

    Why BJS: it is the estimator the Monte Carlo validates (bias ~0, coverage ~95%), and the
    covariates in its first stage handle the conditional parallel trends of the design; CS
    without covariates does not. Inference: the study's one rule
    (:func:`analysis.studies.rules.inference_rule`, ``rule``; by default on ``panel``): SE
    clustered at its level, critical value and p-value from ``t(G-1)`` with G its clusters (31
    provinces: 2.04, not 1.96; Cameron & Miller 2015). Recorded beside it: the rule and its reason,
    the MacKinnon-Nielsen-Webb (2023) score-variance test of city against province clustering on
    the city-clustered scores (``cluster_test``), and the interval at the other level
    (``appendix_other_cluster``). ``{"skipped": reason}`` when the design rules BJS out or it
    fails numerically.
    """
    design = design or study_design(panel)
    panel = analysis_sample(panel, design)
    if treatment in design.treatments:
        why = design.treatments[treatment].estimators.get("bjs") or design.treatments[
            treatment
        ].estimators.get("twfe")
        if why:
            return skipped(why, estimator="bjs", label=HEADLINE_LABEL)
    if "city_code" not in panel.columns:
        return skipped("the panel has no city_code column", estimator="bjs", label=HEADLINE_LABEL)
    rule = rule or inference_rule(panel)
    fits = {}
    for cl in dict.fromkeys([rule.cluster, FINE_CLUSTER, rule.other]):
        if cl is None or cl not in panel.columns or panel[cl].nunique() < 2:
            continue
        est, why = _bjs(panel, cohort_col, covariates, cl)
        if est is None:
            if cl == rule.cluster:
                return skipped(why, estimator="bjs", label=HEADLINE_LABEL)
            continue
        fits[cl] = est
    att = float(fits[rule.cluster].att)
    out = {
        "estimator": "bjs",
        "label": HEADLINE_LABEL,
        "estimate": att,
        **rule.interval(att, float(fits[rule.cluster].se), alpha),
        "se_city": float(fits[FINE_CLUSTER].se) if FINE_CLUSTER in fits else None,
        "se_province": float(fits[COARSE_CLUSTER].se) if COARSE_CLUSTER in fits else None,
        "nobs": int(fits[rule.cluster].fit.n_obs),
        "covariates": list(covariates),
        "inference": rule.record(),
    }
    if rule.other in fits:
        other = fits[rule.other]
        alt = InferenceRule(rule.other, int(other.fit.n_clusters), rule.cluster, "appendix")
        out["appendix_other_cluster"] = alt.interval(att, float(other.se), alpha)
    if FINE_CLUSTER in fits and COARSE_CLUSTER in panel.columns:
        scores = fits[FINE_CLUSTER].fit.scores["ATT"]
        province = panel.groupby(FINE_CLUSTER)[COARSE_CLUSTER].first()
        out["cluster_test"] = cluster_level_test(scores, province).record()
    return out


def decomposition(
    sd: StudyData, rule: InferenceRule, headline: dict, truth: dict | None, alpha: float = 0.05
) -> dict:
    """The direct effect beside the headline (total = direct + indirect): the same BJS with the
    controls ruled ``pre_trend`` at their observed paths (``sd.direct_covariates``), on the same
    panel and clusters; the indirect part is the difference, its SE from the two estimates'
    joint cluster scores (both are linear in the outcome: the BJS conservative variance of the
    difference). ``{"skipped": reason}`` when nothing is ruled or an estimate fails."""
    ruled = [c for c, col in sd.controls.items() if col != c]
    if not ruled:
        return skipped("no control is ruled pre_trend: the headline is the only effect")
    if is_skipped(headline):
        return skipped(headline["skipped"])
    fits = {}
    for name, cov in (("total", sd.covariates), ("direct", sd.direct_covariates)):
        est, why = _bjs(sd.panel, sd.cohort, cov, rule.cluster)
        if est is None:
            return skipped(why)
        fits[name] = est
    total, direct = float(fits["total"].att), float(fits["direct"].att)
    diff = fits["total"].fit.scores["ATT"] - fits["direct"].fit.scores["ATT"]
    se_indirect = float(np.sqrt((diff**2).sum()))
    out = {
        "total": {"estimate": total, **rule.interval(total, float(fits["total"].se), alpha)},
        "direct": {"estimate": direct, **rule.interval(direct, float(fits["direct"].se), alpha)},
        "indirect": {
            "estimate": total - direct,
            **rule.interval(total - direct, se_indirect, alpha),
        },
        "through": ruled,
        "direct_covariates": list(sd.direct_covariates),
        "assumptions": DECOMPOSITION_ASSUMPTIONS.format(controls=", ".join(ruled)),
    }
    for name, cov in (("total", sd.covariates), ("direct", sd.direct_covariates)):
        t = truth_for(truth, sd.treatment, cov, sd.treated_cities)
        if t is not None:
            out[name] |= {"truth": t["att_overall"], "truth_target": t["target"]}
    return out


DECOMPOSITION_ASSUMPTIONS = (
    "Direct effect: the effect of designation with {controls} held at their observed paths, "
    "i.e. the part that does not run through them; indirect = total - direct. It is a causal "
    "decomposition only if (i) parallel trends hold given the controls' paths, (ii) nothing "
    "unobserved that the treatment moves drives both these controls and exports (sequential "
    "ignorability of the mediators), (iii) the controls enter exports linearly with the "
    "coefficient estimated on untreated city-years, with no interaction between treatment and "
    "controls. The headline (total effect) needs none of (ii)-(iii)."
)


ROBUST_ESTIMATORS = ("cs", "sa", "bjs")
ROBUST_LABELS = {"cs": "Callaway-Sant'Anna", "sa": "Sun-Abraham", "bjs": "Imputation (BJS)"}
CS_ADJUSTED_LABEL = "Callaway-Sant'Anna (covariate-adjusted)"
TWFE_ES_LABEL = "TWFE event study"
CS_BIAS_NOTE = (
    "Callaway-Sant'Anna without covariates assumes unconditional parallel trends; the data "
    "satisfy them only conditional on the time-varying covariates (the other treatments and the "
    "controls; e.g. pilot designation is a time-varying confounder of rail, and early pilots grow "
    "faster). The CS entry is therefore CS on the outcome net of the covariates (att_gt_adjusted, "
    "first stage on untreated city-years, universal base period); the unadjusted CS is kept under "
    "'cs_unadjusted' to show the bias."
)
BJS_BASE_NOTE = (
    "Reference periods: TWFE, Sun-Abraham and Callaway-Sant'Anna use the universal base period "
    "e = -1 (normalised to 0). The imputation (BJS) estimator has no single base period: its "
    "effects compare with Y(0) imputed from all untreated years, and its pre-period points are "
    "the lead coefficients of its own pre-trend test (BJS 2024, Test 1; reference: untreated "
    "city-years more than K years before treatment and never-treated cities), so e = -1 is "
    "estimated, not zero."
)
TWFE_SPEC_NOTE = (
    "TWFE event study: fully dynamic (one dummy per observed relative year, reference -1), "
    "reported inside the window; end points are not binned."
)


def robust_options(design: DesignCheck | None, treatment: str | None) -> dict[str, dict]:
    """Per-estimator options the design needs: without never-treated cities, Callaway-Sant'Anna
    compares with not-yet-treated cities and Sun-Abraham uses the last-treated cohort as control
    (the rules of :mod:`analysis.data.design`). CS uses the universal base period (every
    pre-period point is a long difference to e = -1, as TWFE and SA) and BJS runs its
    pre-trend test (Test 1) on the leads of the window."""
    options = {
        "bjs": {"leaveout": True, "pretrends": True},
        "cs": {"base_period": "universal"},
        "cs_adjusted": {"base_period": "universal"},
    }
    if (
        design is not None
        and treatment in design.treatments
        and design.treatments[treatment].never_treated == 0
    ):
        options["cs"]["control_group"] = "notyettreated"
        options["sa"] = {"control": "last"}
    return options


def _cs_variant(covariates: list[str], cluster: str, options: dict) -> tuple[str, str | None]:
    """Which CS runs as the CS entry, and why not the adjusted one when it cannot."""
    if not covariates:
        return "cs", None
    if cluster != "city_code":
        return "cs", f"cs_adjusted clusters by city only (cluster = {cluster}); CS unadjusted"
    if options.get("cs", {}).get("control_group") == "notyettreated":
        return "cs", "cs_adjusted needs never-treated cities; CS unadjusted (not-yet-treated)"
    return "cs_adjusted", None


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
    """Heterogeneity-robust overall ATT, event-time effects and pre-trend test per estimator,
    every event study on the window's event times.

    CS: with covariates, CS on the outcome net of the time-varying covariates
    (``cs_adjusted``, universal base period; label says so), because the plain CS conditions
    only on base-period covariates and is biased under the design's conditional parallel trends
    (:data:`CS_BIAS_NOTE`); without covariates, or when the adjusted CS cannot run on this
    design (province clustering, no never-treated cities), the plain CS with a recorded
    ``note``. SA and BJS: the other treatments and time-varying controls enter the
    untreated-outcome model linearly. BJS uses the leave-out variance (BJS 2024, App. A.6):
    small cohorts (one city in 2015) otherwise understate the SE (Monte Carlo coverage 92% ->
    95%), and its Test 1 on the window's leads.

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
    options = robust_options(design, treatment)
    cs_name, cs_note = _cs_variant(covariates, cluster, options)
    runs = {"cs": cs_name, "sa": "sa", "bjs": "bjs"}
    covariates_of = {"cs": [], "cs_adjusted": covariates, "sa": covariates, "bjs": covariates}
    out = {}
    for key in ROBUST_ESTIMATORS:
        if key not in estimators:
            continue
        name = runs[key]
        label = CS_ADJUSTED_LABEL if name == "cs_adjusted" else ROBUST_LABELS[key]
        if design is not None and treatment in design.treatments:
            why = design.treatments[treatment].estimators.get(key)
            if why:
                out[key] = skipped(why, label=label)
                continue
        est, why = attempt(
            estimate, name, panel, covariates=covariates_of[name], **spec, **options.get(name, {})
        )
        if est is None:
            out[key] = skipped(why, label=label)
            continue
        out[key] = {
            "overall": est.overall().to_dict(),
            "event_study": est.event_study,
            "label": label,
            "variant": name,
            "pretrend": pretrend_record(est.pretrend, name),
            **({"note": cs_note} if key == "cs" and cs_note else {}),
        }
    return out


PRETREND_TESTS = {
    "event_study": "joint Wald test: TWFE leads in the window are zero (reference e = -1)",
    "sa": "joint Wald test: Sun-Abraham IW leads in the window are zero (reference e = -1)",
    "cs": "Callaway-Sant'Anna pre-test: all pre-treatment ATT(g,t) are zero (universal base)",
    "cs_adjusted": "joint Wald test: covariate-adjusted CS leads in the window are zero",
    "bjs": "BJS (2024) Test 1: lead indicators on untreated city-years are zero",
}


def pretrend_record(test, estimator: str) -> dict:
    """``{"stat", "df", "p_value", "test"}`` of an estimator's pre-trend test, or a skip."""
    if test is None:
        why = "not computable on this panel (no leads, or a singular covariance of the leads)"
        return skipped(why, test=PRETREND_TESTS.get(estimator))
    return {
        "stat": float(test.statistic),
        "df": int(test.df),
        "p_value": float(test.p_value),
        "test": PRETREND_TESTS.get(estimator, estimator),
    }


def common_support(frames: dict[str, pd.DataFrame], window: tuple[int, int]) -> list[int]:
    """Event times inside ``window`` that every estimator's event study has (the reference
    period e = -1 counts as present where it is normalised to zero)."""
    lo, hi = window
    keep = set(range(lo, hi + 1))
    for frame in frames.values():
        keep &= {int(e) for e in frame["event_time"]} | {-1}
    return sorted(keep)


def with_reference(frame: pd.DataFrame, ref: int = -1) -> pd.DataFrame:
    """An event-study frame with its reference row ``ref`` at zero (if absent)."""
    if (frame["event_time"] == ref).any():
        return frame
    row = {"event_time": ref, "estimate": 0.0, "std_error": 0.0, "conf_low": 0.0, "conf_high": 0.0}
    return pd.concat([frame, pd.DataFrame([row])], ignore_index=True).sort_values(
        "event_time", ignore_index=True
    )


def cluster_record(panel: pd.DataFrame, cohort_col: str) -> dict:
    """Few-clusters / few-treated-clusters diagnostic for city and province clustering
    (:func:`analysis.did.inference.cluster_diagnostic`), as JSON-ready dicts."""
    out = {}
    for cl in HEADLINE_CLUSTERS:
        if cl not in panel.columns or panel[cl].nunique() < 2:
            continue
        d = cluster_diagnostic(panel, cl, cohort_col, "city_code")
        out[cl] = {
            "n_clusters": d.n_clusters,
            "n_treated_clusters": d.n_treated_clusters,
            "n_control_clusters": d.n_control_clusters,
            "treated_by_cohort": {str(int(g)): int(n) for g, n in d.treated_by_cohort.items()},
            "thin_cohorts": [int(g) for g in d.thin_cohorts],
            "critical_value": critical_value(0.05, d.n_clusters),
            "few_clusters": bool(d.few_clusters),
            "few_treated_clusters": bool(d.few_treated_clusters),
            "analytic_unreliable": bool(d.analytic_unreliable),
            "recommendation": d.recommendation,
        }
    return out


def randomization_record(
    panel: pd.DataFrame,
    cohort_col: str,
    covariates: list[str] | None,
    draws: int,
    seed: int,
    within: str = "province",
    *,
    statistic=None,
    cluster: str = "city_code",
) -> dict:
    """Randomization inference on the studentized headline statistic (BJS ATT / its clustered
    leave-out SE), treatment dates permuted across cities within ``within`` (cohort sizes kept in
    every stratum; ``within="baseline_gdp"``: quintiles of the cities' mean log GDP per capita
    before the first treatment year, :func:`analysis.did.randomization.baseline_strata`):
    MacKinnon & Webb (2020) for few treated clusters; the t statistic keeps the
    test valid for the weak null asymptotically. ``statistic``: the study's
    (:func:`analysis.studies.rules.study_statistic`: covariates rebuilt on every permutation,
    SE at the study's clustering level); without it, BJS with ``covariates`` clustered by
    ``cluster``. ``draws = 0``: skipped."""
    from analysis.did.randomization import bjs_statistic

    if draws <= 0:
        return skipped("randomization inference disabled (ri_draws = 0)")
    if within == "baseline_gdp" and "log_gdp_pc" in panel.columns and (panel[cohort_col] > 0).any():
        from analysis.did.randomization import baseline_strata

        first = int(panel.loc[panel[cohort_col] > 0, cohort_col].min())
        codes = baseline_strata(panel, "city_code", "year", "log_gdp_pc", before=first)
        panel, within = panel.assign(_stratum=codes), "_stratum"
        strata_label = "baseline_gdp"
    else:
        strata_label = within if within in panel.columns else None
    if within not in panel.columns:
        within = None
    if statistic is None:
        statistic = bjs_statistic(
            "log_exports", "year", "city_code", cohort_col, covariates, cluster, leaveout=True
        )
    cluster = getattr(statistic, "cluster", cluster) or "city_code"
    # (no run time here: results files must be byte-identical across runs; stage times are in
    # output/runtime)
    res, why = attempt(
        permutation_test, panel, statistic, "city_code", cohort_col, within=within,
        draws=int(draws), seed=int(seed), statistic="t", progress=False, label="BJS ATT",
    )  # fmt: skip
    if res is None:
        return skipped(why)
    level = {"city_code": "city", "province": "province"}.get(cluster, cluster)
    return {
        "statistic": f"t (BJS ATT / {level}-clustered leave-out SE)",
        "estimate": res.estimate,
        "std_error": res.std_error,
        "t_stat": res.actual,
        "p_value": res.p_value,
        "p_value_floor": res.p_value_floor,
        "draws": res.n_draws,
        "failed_draws": res.n_failed,
        "within": strata_label,
        # designation was targeted, not randomized: no permutation scheme here reproduces it
        "interpretation": "a sensitivity check under exchangeability of the treatment dates "
        "within strata, not design-based inference",
        "cluster": cluster,
        "seed": int(seed),
    }


def binary_study(
    panel: pd.DataFrame,
    truth: dict,
    treatment: str,
    cohort_col: str,
    window: tuple[int, int],
    cluster: str,
    estimators=ROBUST_ESTIMATORS,
    design: DesignCheck | None = None,
    ri_draws: int = 0,
    ri_seed: int = 20240601,
    control_rule: dict[str, str] | None = None,
) -> dict:
    """The headline robust ATT (:func:`headline_att`, the total effect) with its direct-effect
    decomposition (:func:`decomposition`), then TWFE (one dummy, the foil whose bias against the
    truth is reported) and the comparable event studies of TWFE, SA, CS and BJS for one binary
    staggered treatment, against the truth.

    Covariates: one set for every estimator, built by :func:`analysis.studies.rules.study_data`
    (``control_rule``: params.yaml ``panel.control_rule``): the controls the treatment moves only
    through their pre-treatment trends, the concurrent binary treatments by their own cells, the
    other controls and broadband as observed; ``covariate_rule`` records how. The truth of every
    estimator comes from :func:`analysis.studies.rules.truth_for` over the treated cities kept.

    Comparable event studies: every estimator on the event times of ``window`` (no binning),
    reference e = -1 normalised to zero for TWFE/SA/CS (BJS: see :data:`BJS_BASE_NOTE`), the
    unbinned truth of :func:`truth_by_event_time`, and each estimator's own pre-trend test in
    ``pretrend_tests``. Inference: the headline by the study's rule
    (:func:`analysis.studies.rules.inference_rule`, ``inference``); the event studies and the
    other estimators' overall effects by ``cluster`` (params.yaml; the covariate-adjusted CS
    clusters by city only); ``cluster_diagnostic`` (city and province); with ``ri_draws > 0``
    randomization inference on the studentized headline statistic stratified by province
    (``randomization``). Estimators the design rules out, or that fail numerically, are recorded
    skips (``{"skipped": reason}``)."""
    design = design or study_design(panel)
    panel = analysis_sample(panel, design)  # the one rule for blank cells (data/design.py)
    sample = panel
    window = tuple(int(w) for w in window)
    others = treatment_covariates(design, treatment)
    sd = study_data(panel, design, treatment, control_rule)
    panel, covariates = sd.panel, sd.covariates
    rule = inference_rule(panel)
    total_att = truth.get(treatment, {}).get("att_overall")
    # the one rule for truths: the target of these covariates, over the treated cities kept
    target_block = truth_for(truth, treatment, covariates, sd.treated_cities)
    true_att = None if target_block is None else target_block["att_overall"]
    target = None if target_block is None else target_block["target"]
    record = {
        "treatment": treatment,
        **controls_record(design),
        "covariates": covariates,
        "covariate_rule": sd.record(),
        "inference": rule.record(),
        "true_att_overall": total_att,
        "true_att_target": true_att,
        "truth_target": target,
        "n_treated_cities": int(panel.loc[panel[cohort_col] > 0, "city_code"].nunique()),
        "cohorts": sorted(int(g) for g in panel[cohort_col].unique() if g > 0),
        "overlap": treated_overlap(panel, cohort_col, others),
    }
    why = design.treatments[treatment].estimators.get("twfe")
    if why:  # the design rules out every estimator of this treatment (see analysis.data.design)
        return {
            **record,
            "skipped": why,
            "headline": skipped(why, estimator="bjs", label=HEADLINE_LABEL),
            "decomposition": skipped(why),
            "twfe": skipped(why),
            "twfe_bias": None,
            "event_study": pd.DataFrame(),
            "pretrend_test": skipped(why),
            "pretrend_tests": {},
            "robust": {k: skipped(why, label=ROBUST_LABELS[k]) for k in estimators},
        }
    headline = headline_att(panel, treatment, cohort_col, covariates, design, rule=rule)
    if not is_skipped(headline) and true_att is not None:
        headline["truth"] = true_att
        headline["truth_target"] = target
        headline["bias"] = headline["estimate"] - true_att
        headline["truth_in_ci"] = bool(headline["conf_low"] <= true_att <= headline["conf_high"])
    parts = decomposition(sd, rule, headline, truth)
    spec = {
        "y": "log_exports",
        "unit": "city_code",
        "time": "year",
        "cohort": cohort_col,
        "covariates": covariates,
        "cluster": cluster,
    }
    single, why_twfe = attempt(estimate, "twfe", panel, treatment=treatment, **spec)
    es, why_es = attempt(estimate, "event_study", panel, window=window, **spec)
    true_es = truth_by_event_time(target_block, None, window)
    if es is not None:
        es_tidy = es.fit.tidy()  # with the reference period
        pretrend = es.fit.pretrend_test()  # {"wald", "df", "p_value"} (the report reads it)
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
    robust = robust_estimates(
        panel, cohort_col, covariates, window, cluster, estimators, design, treatment
    )
    frames = {TWFE_ES_LABEL: es_tidy} if len(es_tidy) else {}
    frames |= {v["label"]: v["event_study"] for v in robust.values() if not is_skipped(v)}
    support = common_support(frames, window)
    pretrend_tests = {"twfe": pretrend_record(es.pretrend if es else None, "event_study")}
    for key, value in robust.items():
        if not is_skipped(value):
            pretrend_tests[key] = value["pretrend"]
    for value in robust.values():
        if is_skipped(value):
            continue
        frame = value["event_study"]
        if value["variant"] != "bjs":
            frame = with_reference(frame)
        value["event_study"] = _on_support(frame, support, true_es)
    if len(es_tidy):
        es_tidy = _on_support(es_tidy, support, true_es)
    notes = [TWFE_SPEC_NOTE, BJS_BASE_NOTE]
    cs_unadjusted = _cs_unadjusted(panel, cohort_col, window, cluster, robust, support, true_es)
    if cs_unadjusted is not None:
        notes.append(CS_BIAS_NOTE)
        pretrend_tests["cs_unadjusted"] = cs_unadjusted["pretrend"]
    elif "cs" in robust and robust["cs"].get("note"):
        notes.append(robust["cs"]["note"] + ". " + CS_BIAS_NOTE.split(";")[0] + ".")
    if is_skipped(headline):
        randomization = skipped(headline["skipped"])
    else:
        stat = study_statistic(design, treatment, sd.control_rule, rule.cluster)
        # permuted on the analysis sample: each permutation rebuilds the covariates (and leaves
        # out the cities its dates leave without a pre-treatment trend)
        randomization = randomization_record(
            sample, cohort_col, None, ri_draws, ri_seed, statistic=stat
        )
    return {
        "treatment": treatment,
        "headline": headline,
        "decomposition": parts,
        "twfe": twfe_row,
        "true_att_overall": total_att,
        "true_att_target": true_att,
        "truth_target": target,
        "twfe_bias": None if true_att is None or single is None else float(single.att - true_att),
        "event_study": es_tidy,
        "event_time_support": support,
        "truth_event_study": None if true_es is None else true_es.loc[support].to_dict(),
        "pretrend_test": pretrend,
        "pretrend_tests": pretrend_tests,
        "n_treated_cities": record["n_treated_cities"],
        "cohorts": record["cohorts"],
        "overlap": record["overlap"],
        "robust": robust,
        **({"cs_unadjusted": cs_unadjusted} if cs_unadjusted is not None else {}),
        "cluster_diagnostic": cluster_record(panel, cohort_col),
        "randomization": randomization,
        "notes": notes,
        **controls_record(design),
        "covariates": covariates,
        "covariate_rule": record["covariate_rule"],
        "inference": record["inference"],
        **({"event_study_skipped": why_es} if why_es else {}),
    }


def _on_support(frame: pd.DataFrame, support: list[int], truth: pd.Series | None) -> pd.DataFrame:
    out = frame[frame["event_time"].isin(support)].reset_index(drop=True)
    if truth is not None:
        out["truth"] = out["event_time"].map(truth)
    return out


def _cs_unadjusted(panel, cohort_col, window, cluster, robust, support, true_es) -> dict | None:
    """The plain CS (no covariates, universal base) beside the adjusted CS entry, to show its
    bias; None when the CS entry already is the plain CS or did not run."""
    cs = robust.get("cs")
    if cs is None or is_skipped(cs) or cs["variant"] != "cs_adjusted":
        return None
    est, why = attempt(
        estimate, "cs", panel, y="log_exports", unit="city_code", time="year", cohort=cohort_col,
        cluster=cluster, window=window, base_period="universal",
    )  # fmt: skip
    if est is None:
        return skipped(why, label=ROBUST_LABELS["cs"])
    return {
        "overall": est.overall().to_dict(),
        "event_study": _on_support(with_reference(est.event_study), support, true_es),
        "label": ROBUST_LABELS["cs"] + " (no covariates)",
        "pretrend": pretrend_record(est.pretrend, "cs"),
        "note": CS_BIAS_NOTE,
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
    """Small flat dict for `dvc metrics show`: the headline robust ATT first (estimate, the SE
    used, its CI), its direct-effect decomposition, then TWFE (the foil) and the other robust
    estimators."""
    out = {}
    head = result.get("headline")
    if head is not None and not is_skipped(head):
        out |= {
            "headline_att": head["estimate"],
            "headline_se": head["std_error"],
            "headline_conf_low": head["conf_low"],
            "headline_conf_high": head["conf_high"],
        }
    parts = result.get("decomposition")
    if parts is not None and not is_skipped(parts):
        out |= {
            "direct_att": parts["direct"]["estimate"],
            "indirect_att": parts["indirect"]["estimate"],
        }
    if not is_skipped(result.get("twfe")):
        out |= {"twfe_estimate": result["twfe"]["estimate"], "twfe_se": result["twfe"]["std_error"]}
    for key, value in result.get("robust", {}).items():
        if is_skipped(value):
            continue
        out[f"{key}_att"] = value["overall"]["estimate"]
        out[f"{key}_se"] = value["overall"]["std_error"]
    if result.get("true_att_overall") is not None:
        out["true_att"] = result.get("true_att_target", result["true_att_overall"])
    return out


def output_dirs(output_dir: str | Path) -> dict[str, Path]:
    root = Path(output_dir)
    dirs = {k: root / k for k in ("results", "figures", "tables", "metrics", "plots")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def overall_comparison(study: dict) -> pd.DataFrame:
    """Overall effect by estimator against the truth: the headline robust ATT (total effect;
    t(G-1) CI at the study's clustering level) first, the direct effect of its decomposition
    (against the direct truth), then TWFE (one dummy; the foil) and the robust estimators with
    their own (normal) CIs."""
    rows = []
    cols = ("estimate", "std_error", "conf_low", "conf_high")
    head = study.get("headline")
    if head is not None and not is_skipped(head):
        rows.append(
            {
                "estimator": f"Headline: {head['label']}, SE by {head['cluster']}",
                **{k: head[k] for k in cols},
            }
        )
    parts = study.get("decomposition")
    if parts is not None and not is_skipped(parts):
        rows.append(
            {
                "estimator": "Direct effect (decomposition; "
                + ", ".join(parts["through"])
                + " as observed)",
                **{k: parts["direct"][k] for k in cols},
                "truth": parts["direct"].get("truth"),
            }
        )
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
        rows, columns=["estimator", "estimate", "std_error", "conf_low", "conf_high", "truth"]
    )
    truth = study.get("true_att_target", study.get("true_att_overall"))
    if truth is None:
        return frame.drop(columns="truth")
    frame["truth"] = frame["truth"].astype(float).fillna(truth)
    frame["bias"] = frame["estimate"] - frame["truth"]
    frame["truth_in_ci"] = (frame["conf_low"] <= frame["truth"]) & (
        frame["truth"] <= frame["conf_high"]
    )
    return frame


def event_study_series(study: dict) -> dict[str, pd.DataFrame]:
    """Event-study frames by estimator, for the figure."""
    series = {}
    if len(study["event_study"]):
        series[TWFE_ES_LABEL] = study["event_study"]
    for value in study.get("robust", {}).values():
        if is_skipped(value):
            continue
        series[value["label"]] = pd.DataFrame(value["event_study"])
    return series
