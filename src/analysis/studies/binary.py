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
from scipy import stats

from analysis.data.design import MIN_CONTROL_SHARE, DesignCheck, analysis_sample, check_design
from analysis.did.estimate import estimate
from analysis.did.inference import cluster_diagnostic, cluster_level_test, critical_value
from analysis.did.randomization import permutation_test
from analysis.did.twfe import twfe
from analysis.results_io import round_floats
from analysis.studies.rules import (  # noqa: F401 (TREATMENTS, BINARY: re-exported)
    BINARY,
    COARSE_CLUSTER,
    FINE_CLUSTER,
    TREATMENTS,
    InferenceRule,
    StudyData,
    imputation_options,
    inference_rule,
    study_data,
    study_statistic,
    treatment_covariates,
    truth_for,
    variance_cells,
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
    r"rank|singular|collinear|invertib|positive definite|no never[- ]treated|no pre-?treatment "
    r"observations|target_power must lie|no (untreated|treated|"
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
    panel: pd.DataFrame, cluster: str | None = "headline", design: DesignCheck | None = None
) -> pd.DataFrame:
    """The treatments jointly, without and with controls (one tidy block per specification).

    Inference by the study's rule (:func:`study_rule`: ``cluster`` "headline"/None = the design's
    level, province; a column name overrides it and says so): SEs clustered at that level, 95%
    intervals and p-values from t(G-1) (``table.attrs["inference"]``).

    Only the treatments that vary in the panel and the usable controls enter. A specification
    that cannot run is absent from the table and named with its reason in
    ``table.attrs["skipped"]`` (without usable controls, "controls" would repeat the first)."""
    design = design or study_design(panel)
    panel = analysis_sample(panel, design)
    rule = study_rule(panel, cluster)
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
        fit, why = attempt(
            twfe, panel, "log_exports", cols, "city_code", "year", cluster=rule.cluster
        )
        if fit is None:
            skips[spec] = why
            continue
        tidy = t_band(fit.tidy(), rule.n_clusters).assign(
            specification=spec, nobs=fit.nobs, n_clusters=fit.n_clusters, r2_within=fit.r2_within
        )
        blocks.append(tidy)
    table = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
    table.attrs["skipped"] = skips
    table.attrs["inference"] = rule.record()
    return table


def study_rule(panel: pd.DataFrame, cluster: str | None = "headline") -> InferenceRule:
    """The study's inference rule (:func:`analysis.studies.rules.inference_rule`) on ``panel``;
    ``cluster`` (params.yaml ``notebooks.<study>.cluster``): "headline" or None keeps it, a
    column name overrides the level (the reason says so)."""
    rule = inference_rule(panel)
    if cluster in (None, "headline") or cluster == rule.cluster:
        return rule
    if cluster not in panel.columns or panel[cluster].nunique() < 2:
        raise ValueError(f"cluster = {cluster}: not a column with at least two clusters")
    other = rule.cluster
    return InferenceRule(
        cluster,
        int(panel[cluster].nunique()),
        other,
        f"clustered by {cluster}: set in params.yaml, overriding the design's level ({other})",
    )


def t_band(frame: pd.DataFrame, n_clusters: int, alpha: float = 0.05) -> pd.DataFrame:
    """A tidy frame (estimate, std_error, conf_low, conf_high; statistic and p_value when present)
    with its intervals and p-values from t(G-1), ``G = n_clusters`` (the study's rule) in place of
    the estimator's normal ones. The reference row (SE 0) stays a point at its estimate."""
    out = frame.copy()
    if out.empty or "std_error" not in out:
        return out
    crit = critical_value(alpha, n_clusters)
    est, se = out["estimate"].astype(float), out["std_error"].astype(float)
    out["conf_low"], out["conf_high"] = est - crit * se, est + crit * se
    if "p_value" in out:
        with np.errstate(divide="ignore", invalid="ignore"):
            tstat = np.where(se > 0, est / se, np.nan)
        out["p_value"] = [
            float(2 * stats.t.sf(abs(z), n_clusters - 1)) if np.isfinite(z) else np.nan
            for z in tstat
        ]
    return out


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


def _bjs(
    panel: pd.DataFrame,
    cohort_col: str,
    covariates: list[str],
    cluster: str,
    cells: dict | None = None,
):
    """The BJS overall ATT; ``cells``: :func:`analysis.studies.rules.variance_cells` (default:
    cohort x event time with leave-out)."""
    cells = cells or {"avg_effects_by": ("cohort", "horizon"), "leaveout": True}
    return attempt(
        estimate, "bjs", panel, y="log_exports", unit="city_code", time="year", cohort=cohort_col,
        covariates=list(covariates), cluster=cluster, horizons=None, **imputation_options(cells),
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
    study's covariates in the untreated-outcome model (variance cells by
    :func:`analysis.studies.rules.variance_cells`). With the covariates of
    :func:`analysis.studies.rules.study_data` (controls moved by the treatment only as their imputed
    untreated paths, concurrent treatments by their own cells) it is the TOTAL effect.

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
    cells = variance_cells(panel, cohort_col, rule.cluster)
    fits = {}
    for cl in dict.fromkeys([rule.cluster, FINE_CLUSTER, rule.other]):
        if cl is None or cl not in panel.columns or panel[cl].nunique() < 2:
            continue
        est, why = _bjs(panel, cohort_col, covariates, cl, cells)
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
        "variance_cells": cells,
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
    controls ruled ``untreated_path`` at their observed paths (``sd.direct_covariates``), on the same
    panel and clusters; the indirect part is the difference, its SE from the two estimates'
    joint cluster scores (both are linear in the outcome: the BJS conservative variance of the
    difference). ``{"skipped": reason}`` when nothing is ruled or an estimate fails."""
    ruled = [c for c, col in sd.controls.items() if col != c]
    if not ruled:
        return skipped("no control is ruled untreated_path: the headline is the only effect")
    if is_skipped(headline):
        return skipped(headline["skipped"])
    fits = {}
    cells = headline.get("variance_cells")  # the headline's variance cells for both
    for name, cov in (("total", sd.covariates), ("direct", sd.direct_covariates)):
        est, why = _bjs(sd.panel, sd.cohort, cov, rule.cluster, cells)
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
        t = truth_for(truth, sd.treatment, cov, sd.treated_cities, exclude=sd.censored)
        if t is not None:
            out[name] |= {"truth": t["att_overall"], "truth_target": t["target"]}
    return out


# --- the headline's event study: HonestDiD and pre-trend power read it ----------------------

PRETREND_POWERS = (0.5, 0.8)
"""Target powers of the pre-test (Roth 2022): the trend it detects half the time, and the one it
detects with the conventional 80% power (the benchmark of the HonestDiD bounds)."""

UNIT_TREND = "_unit_trend"


def headline_event_study(
    sd: StudyData, rule: InferenceRule, window: tuple[int, int], truth: dict | None = None
) -> dict:
    """The headline's own event study: the BJS imputation estimator with the study's covariates
    (``sd``), leave-out variance, clustered at the rule's level, every observed horizon (so that
    the headline ATT is exactly ``weights . beta_post``, ``weights`` = each horizon's share of the
    treated city-years) and the Test 1 leads of ``window`` (e = window[0]..-1; their reference is
    the untreated city-years further back and the never-treated cities).

    Returns ``{"event_times", "beta", "vcov", "weights", "n_cohorts", "shape", "headline",
    "truth"}`` (pandas objects indexed by event time; ``vcov``: the joint covariance of leads and
    lags from their per-cluster scores, :meth:`analysis.did.imputation.ImputationResult.
    event_vcov`) or ``{"skipped": reason}``. ``shape``: what a differential linear trend of slope
    1 per year between the treated and the never-treated cities does to each coefficient (the
    same estimator run on the outcome ``t - g`` of the treated cities, 0 elsewhere: every
    coefficient is linear in the outcome), so that Roth's (2022) trend of slope ``gamma`` moves
    the coefficients by ``gamma * shape`` exactly -- the imputation coefficients are not levels
    relative to one base year, so ``gamma (t + 1)`` would not be what a trend does to them.
    ``truth``: the study's truth block (:func:`analysis.studies.rules.truth_for`), for the true
    effect at each horizon."""
    from analysis.did.imputation import imputation

    leads = -int(window[0])
    if leads < 1:
        return skipped("the window has no pre-period event time (window[0] >= 0)")
    panel = sd.panel
    g = panel[sd.cohort].fillna(0).to_numpy(dtype=float)
    panel = panel.assign(**{UNIT_TREND: np.where(g > 0, panel["year"].to_numpy() - g, 0.0)})
    fits = {}
    cells = variance_cells(panel, sd.cohort, rule.cluster)  # as the headline's
    for y in ("log_exports", UNIT_TREND):
        fit, why = attempt(
            imputation, panel, y, "year", "city_code", sd.cohort, covariates=sd.covariates,
            horizons=True, pretrends=leads, cluster=rule.cluster, **imputation_options(cells),
        )  # fmt: skip
        if fit is None:
            return skipped(why)
        if fit.lead_scores is None or not fit.horizons.size:
            return skipped("the imputation event study has no leads or no horizons")
        fits[y] = fit

    def coefficients(fit) -> pd.Series:
        lead = fit.pretrend.leads
        out = pd.Series(
            np.r_[lead["estimate"].to_numpy(float), fit.estimates[1:]],
            index=[-int(t.split("::")[1]) for t in lead["term"]] + [int(h) for h in fit.horizons],
        )
        return out.sort_index()

    fit = fits["log_exports"]
    vcov = fit.event_vcov()
    beta = coefficients(fit).reindex(vcov.index)
    shape = coefficients(fits[UNIT_TREND]).reindex(vcov.index)
    n_h = pd.Series(fit.n_treated[1:].astype(float), index=[int(h) for h in fit.horizons])
    weights = n_h / n_h.sum()
    treated = panel.loc[g > 0]
    e = treated["year"] - treated[sd.cohort]
    n_cohorts = treated.groupby(e)[sd.cohort].nunique()
    true = truth_by_event_time(truth, None, (int(vcov.index.min()), int(vcov.index.max())))
    return {
        "event_times": [int(t) for t in vcov.index],
        "beta": beta,
        "vcov": vcov,
        "weights": weights,
        "n_cohorts": {int(k): int(v) for k, v in n_cohorts.items()},
        "shape": shape,
        "headline": float(fit.att),
        "headline_se": float(fit.std_errors[0]),
        "shape_headline": float(fits[UNIT_TREND].att),
        "truth": true,
        "cluster": rule.cluster,
        "n_clusters": rule.n_clusters,
        "critical_value": rule.critical_value(),
        "leads": leads,
    }


def _es_record(es: dict) -> dict:
    """JSON-ready :func:`headline_event_study` (coefficients with t(G-1) intervals, weights,
    cohorts, the unit trend's shape, the covariance)."""
    if is_skipped(es):
        return es
    se = np.sqrt(np.diag(es["vcov"].to_numpy()))
    crit = es["critical_value"]
    rows = []
    for j, t in enumerate(es["event_times"]):
        b = float(es["beta"].loc[t])
        rows.append(
            {
                "event_time": t,
                "estimate": b,
                "std_error": float(se[j]),
                "conf_low": b - crit * se[j],
                "conf_high": b + crit * se[j],
                "weight": float(es["weights"].get(t, 0.0)),
                "n_cohorts": es["n_cohorts"].get(t, 0),
                "unit_trend_shape": float(es["shape"].loc[t]),
                "truth": None
                if es["truth"] is None or not np.isfinite(es["truth"].get(t, np.nan))
                else float(es["truth"].loc[t]),
            }
        )
    return {
        "estimator": "bjs",
        "label": HEADLINE_LABEL,
        "note": BJS_BASE_NOTE,
        "cluster": es["cluster"],
        "n_clusters": es["n_clusters"],
        "critical_value": crit,
        "headline": es["headline"],
        "rows": rows,
        "vcov": round_floats(es["vcov"].to_numpy().tolist(), VCOV_DIGITS),
    }


# significant digits of the written event-study covariance: its off-diagonal entries are sums
# with cancellation and carry ~3e-12 relative noise across SIMD dispatch and BLAS threads
# (vcov[3][7] of the pilot study on the 150-city test panel: 0.00047033615000023 here,
# 0.00047033614999900 with AVX-512 off, which straddled the 7-digit rounding boundary); at 5
# digits a flip needs the value within that noise of a boundary: ~3e-7 per entry
VCOV_DIGITS = 5
QMC_DIGITS = 4  # significant digits of the Roth (2022) numbers (pretrend_power_record)


def pretrend_power_record(es: dict, rule: InferenceRule, powers=PRETREND_POWERS) -> dict:
    """Roth (2022) on the headline's event study (:func:`headline_event_study`): the pre-test is
    the event plot's (no lead individually significant at the rule's t(G-1) critical value); for
    each target power the slope of the differential linear trend it detects with that power
    (per year, in log exports), the bias that trend puts into the headline, the headline's
    expected bias among samples that pass the pre-test, and the event plot under the trend of the
    last power (``figure``: estimates, the trend, the expectation after passing). The trend's
    effect on the coefficients is the estimator's own (``es["shape"]``), the boundary between
    leads and horizons lies between e = -1 and e = 0. ``{"skipped": reason}`` when the study has
    no event study or the pre-test cannot see a trend (no never-treated city: unit and year
    effects absorb a linear trend in event time)."""
    from analysis.did.pretrends import pretrend_power

    if is_skipped(es):
        return skipped(es["skipped"])
    pre = [t for t in es["event_times"] if t < 0]
    if not pre or np.max(np.abs(es["shape"].loc[pre].to_numpy())) < 1e-8:
        return skipped("the leads do not respond to a linear trend (no never-treated city)")
    frame = pd.DataFrame({"event_time": es["event_times"], "estimate": es["beta"].to_numpy()})
    rep, why = attempt(
        pretrend_power, frame, es["vcov"], es["weights"].to_dict(), reference_period=-0.5,
        target_powers=tuple(powers), crit=rule.critical_value(), shape=es["shape"],
    )  # fmt: skip
    if rep is None:
        return skipped(why)
    last = rep.results[float(powers[-1])].tidy(include_ref=False)
    truth = es["truth"]
    # the numbers of the QMC integration at 4 significant digits: its error is ~1e-7 and the
    # digits beyond are the machine's (analysis.did.pretrends, "Numerical choices")

    def qmc(v) -> float:
        return round_floats(float(v), QMC_DIGITS)

    exact = rep.to_dict()
    return {
        **exact,
        "pretest_size": qmc(exact["pretest_size"]),
        "by_power": round_floats(exact["by_power"], QMC_DIGITS),
        "trend": "differential linear trend of the treated cities' untreated log exports, slope "
        "per year; its effect on each coefficient is the estimator run on that trend",
        "pretest": f"no lead individually significant at |t| > {rep.crit:.4g} (t(G-1), G = "
        f"{rule.n_clusters} {rule.cluster} clusters)",
        "cluster": rule.cluster,
        "shape_headline": es["shape_headline"],
        "figure": {
            "target_power": float(powers[-1]),
            "rows": [
                {
                    "event_time": int(r.event_time),
                    "estimate": float(r.estimate),
                    "conf_low": float(r.conf_low),
                    "conf_high": float(r.conf_high),
                    "delta_true": qmc(r.delta_true),
                    "mean_after_pretesting": qmc(r.mean_after_pretesting),
                    "period": r.period,
                    "truth": None
                    if truth is None or not np.isfinite(truth.get(int(r.event_time), np.nan))
                    else float(truth.loc[int(r.event_time)]),
                }
                for r in last.itertuples()
            ],
        },
    }


def appendix_other_level(
    panel, cohort_col, covariates, window, rule, estimators, design, treatment, headline, truth
) -> dict:
    """The appendix record of the other clustering level (rule 3): TWFE (one dummy) and the
    heterogeneity-robust estimators' overall effects with SEs clustered at ``rule.other`` and
    t(G-1) intervals of that level. The headline's own other-level interval is in
    ``headline["appendix_other_cluster"]`` (not repeated here)."""
    if rule.other is None or rule.other not in panel.columns or panel[rule.other].nunique() < 2:
        return skipped("the panel has one clustering level only")
    g = int(panel[rule.other].nunique())
    rows = {}
    spec = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": cohort_col,
            "covariates": covariates, "cluster": rule.other}  # fmt: skip
    single, why = attempt(estimate, "twfe", panel, treatment=treatment, **spec)
    rows["twfe"] = (
        skipped(why) if single is None
        else t_band(single.overall().to_frame().T, g).iloc[0].drop("term").to_dict()
    )  # fmt: skip
    robust = robust_estimates(
        panel, cohort_col, covariates, window, rule.other, estimators, design, treatment
    )
    for key, value in robust.items():
        rows[key] = (
            value if is_skipped(value)
            else {**value["overall"], "label": value["label"], "cluster": value["cluster"]}
        )  # fmt: skip
    for row in rows.values():
        if not is_skipped(row) and truth is not None:
            row["truth_in_ci"] = bool(row["conf_low"] <= truth <= row["conf_high"])
    return {
        "cluster": rule.other,
        "n_clusters": g,
        "critical_value": critical_value(0.05, g),
        "headline": "see headline.appendix_other_cluster",
        "overall": rows,
    }


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


def _cs_variant(covariates: list[str], cluster: str, options: dict) -> tuple[str, str, str | None]:
    """Which CS runs as the CS entry, at which clustering level, and why it differs from the
    study's: the covariate-adjusted CS (``att_gt_adjusted``) clusters by city only (its influence
    function carries the first stage's error unit by unit; clustering it by province is not
    implemented), so under province clustering it runs city-clustered, and says so, rather than
    falling back to the plain CS, which is biased here (:data:`CS_BIAS_NOTE`)."""
    if not covariates:
        return "cs", cluster, None
    if options.get("cs", {}).get("control_group") == "notyettreated":
        return (
            "cs",
            cluster,
            "cs_adjusted needs never-treated cities; CS unadjusted (not-yet-treated)",
        )
    if cluster != "city_code":
        return (
            "cs_adjusted",
            "city_code",
            (
                f"clustered by city, not by the study's level ({cluster}): the covariate-adjusted "
                "CS supports unit clustering only; its interval uses t(G-1) with G = cities"
            ),
        )
    return "cs_adjusted", cluster, None


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
    cs_name, cs_cluster, cs_note = _cs_variant(covariates, cluster, options)
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
        cl = cs_cluster if key == "cs" else cluster
        est, why = attempt(
            estimate, name, panel, covariates=covariates_of[name], **{**spec, "cluster": cl},
            **options.get(name, {}),
        )  # fmt: skip
        if est is None:
            out[key] = skipped(why, label=label)
            continue
        g = int(panel[cl].nunique())
        overall = t_band(est.overall().to_frame().T, g).iloc[0]
        out[key] = {
            "overall": overall.to_dict(),
            "event_study": t_band(est.event_study, g),
            "label": label,
            "variant": name,
            "cluster": cl,
            "n_clusters": g,
            "pretrend": pretrend_record(est.pretrend, name, g),
            **({"note": cs_note} if key == "cs" and cs_note else {}),
        }
    return out


PRETREND_TESTS = {
    "event_study": "joint Wald test: TWFE leads in the window are zero (reference e = -1)",
    "sa": "joint Wald test: Sun-Abraham IW leads in the window are zero (reference e = -1)",
    "cs": "Callaway-Sant'Anna pre-test: all pre-treatment ATT(g,t) are zero (universal base)",
    "cs_adjusted": "joint Wald test: covariate-adjusted CS leads in the window are zero",
    "cs_leads": "joint Wald test: CS leads in the window are zero (universal base; the test of "
    "every pre-treatment ATT(g,t) has more restrictions than clusters)",
    "bjs": "BJS (2024) Test 1: lead indicators on untreated city-years are zero",
}


def pretrend_record(test, estimator: str, n_clusters: int | None = None) -> dict:
    """``{"stat", "df", "p_value", "test"}`` of an estimator's pre-trend test, or a skip. With
    ``n_clusters`` (the study's rule: G clusters of the covariance) the p-value is that of
    ``W / df ~ F(df, G - 1)``, the joint analogue of t(G-1) (the chi-squared p-value kept as
    ``p_value_chi2``)."""
    if test is None:
        why = "not computable on this panel (no leads, or a singular covariance of the leads)"
        return skipped(why, test=PRETREND_TESTS.get(estimator))
    out = {
        "stat": float(test.statistic),
        "df": int(test.df),
        "p_value": float(test.p_value),
        "test": PRETREND_TESTS.get(estimator, estimator),
    }
    if n_clusters is not None and test.df > 0:
        out["p_value_chi2"] = out["p_value"]
        out["p_value"] = float(stats.f.sf(test.statistic / test.df, test.df, n_clusters - 1))
        out["reference"] = f"F({int(test.df)}, {int(n_clusters) - 1})"
    return out


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
    backend=None,
) -> dict:
    """Randomization inference on the studentized headline statistic (BJS ATT / its clustered
    SE, the headline's variance cells), treatment dates permuted across cities within ``within``
    (cohort sizes kept in every stratum; ``within="baseline_gdp"``: quintiles of the cities' mean
    log GDP per capita before the first treatment year,
    :func:`analysis.did.randomization.baseline_strata`): MacKinnon & Webb (2020) for few treated
    clusters; the t statistic keeps the
    test valid for the weak null asymptotically. ``statistic``: the study's
    (:func:`analysis.studies.rules.study_statistic`: covariates rebuilt on every permutation,
    SE at the study's clustering level); without it, BJS with ``covariates`` clustered by
    ``cluster``. ``draws = 0``: skipped. ``backend``: params.yaml ``parallel`` (its workers run
    the draws; None: in this process); the draws do not depend on it."""
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
        n_jobs=1 if backend is None else None, backend=backend,
    )  # fmt: skip
    if res is None:
        return skipped(why)
    level = {"city_code": "city", "province": "province"}.get(cluster, cluster)
    return {
        "statistic": f"t (BJS ATT / its {level}-clustered SE, the headline's variance cells)",
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
    cluster: str | None = "headline",
    estimators=ROBUST_ESTIMATORS,
    design: DesignCheck | None = None,
    ri_draws: int = 0,
    ri_seed: int = 20240601,
    control_rule: dict[str, str] | None = None,
    appendix: bool = True,
    backend=None,
) -> dict:
    """The headline robust ATT (:func:`headline_att`, the total effect) with its direct-effect
    decomposition (:func:`decomposition`), then TWFE (one dummy, the foil whose bias against the
    truth is reported) and the comparable event studies of TWFE, SA, CS and BJS for one binary
    staggered treatment, against the truth.

    Covariates: one set for every estimator, built by :func:`analysis.studies.rules.study_data`
    (``control_rule``: params.yaml ``panel.control_rule``): the controls the treatment moves only
    through their imputed untreated paths, the concurrent binary treatments by their own cells, the
    other controls and broadband as observed; ``covariate_rule`` records how. The truth of every
    estimator comes from :func:`analysis.studies.rules.truth_for` over the treated cities kept.

    Comparable event studies: every estimator on the event times of ``window`` (no binning),
    reference e = -1 normalised to zero for TWFE/SA/CS (BJS: see :data:`BJS_BASE_NOTE`), the
    unbinned truth of :func:`truth_by_event_time`, and each estimator's own pre-trend test in
    ``pretrend_tests``. Inference: ONE rule for every number of the study
    (:func:`study_rule`: the design's level, province, unless params.yaml ``cluster`` names a
    column; ``inference``): the headline, the other estimators' overall effects, every
    event-study band (t(G-1) intervals) and every pre-trend test (``W/df ~ F(df, G-1)``) are
    clustered at that level; the covariate-adjusted CS clusters by city only and says so in its
    entry (``cluster``, ``note``). The other level's overall effects are in one appendix record
    (``appendix_other_level``; ``appendix=False`` skips it). ``headline_event_study``: the
    headline's own event study (BJS with the study's covariates, leads of the window, every
    horizon, joint covariance of leads and lags at the rule's level) and ``pretrend_power``:
    Roth (2022) on it (:func:`pretrend_power_record`). ``cluster_diagnostic`` (city and
    province); with ``ri_draws > 0`` randomization inference on the studentized headline
    statistic stratified by province (``randomization``; its draws run on ``backend``, params.yaml
    ``parallel``). Estimators the design rules out, or that
    fail numerically, are recorded skips (``{"skipped": reason}``)."""
    design = design or study_design(panel)
    panel = analysis_sample(panel, design)  # the one rule for blank cells (data/design.py)
    sample = panel
    window = tuple(int(w) for w in window)
    others = treatment_covariates(design, treatment)
    sd = study_data(panel, design, treatment, control_rule)
    panel, covariates = sd.panel, sd.covariates
    # every treated city can leave (too few untreated years of a control): the study is then a
    # recorded skip, its inference rule read on the sample the design check kept
    rule = study_rule(panel if sd.treated_cities else sample, cluster)
    cluster = rule.cluster
    total_att = truth.get(treatment, {}).get("att_overall")
    # the one rule for truths: the target of these covariates, over the treated cities kept
    target_block = truth_for(truth, treatment, covariates, sd.treated_cities, exclude=sd.censored)
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
    why = design.treatments[treatment].estimators.get("twfe") or (
        None
        if sd.treated_cities
        else "no treated city keeps enough untreated years of its controls to impute their "
        f"untreated paths ({len(sd.left_out)} left out: covariate_rule.cities_left_out)"
    )
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
            "headline_event_study": skipped(why),
            "pretrend_power": skipped(why),
            "appendix_other_level": skipped(why),
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
        es_tidy = t_band(es.fit.tidy(), rule.n_clusters)  # with the reference period
        pretrend = es.fit.pretrend_test()  # {"wald", "df", "p_value"} (the report reads it)
        if pretrend.get("df"):
            pretrend["p_value_chi2"] = pretrend["p_value"]
            pretrend["p_value"] = float(
                stats.f.sf(pretrend["wald"] / pretrend["df"], pretrend["df"], rule.n_clusters - 1)
            )
    else:
        es_tidy, pretrend = pd.DataFrame(), skipped(why_es)
    if single is not None:
        twfe_row = {
            **t_band(single.overall().to_frame().T, rule.n_clusters).iloc[0].drop("term").to_dict(),
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
    pretrend_tests = {
        "twfe": pretrend_record(es.pretrend if es else None, "event_study", rule.n_clusters)
    }
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
    cs_unadjusted = _cs_unadjusted(panel, cohort_col, window, rule, robust, support, true_es)
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
            sample, cohort_col, None, ri_draws, ri_seed, statistic=stat, backend=backend
        )
    head_es = headline_event_study(sd, rule, window, target_block)
    power = pretrend_power_record(head_es, rule)
    other = (
        appendix_other_level(panel, cohort_col, covariates, window, rule, estimators, design,
                             treatment, headline, true_att)
        if appendix
        else skipped("appendix=False")
    )  # fmt: skip
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
        "headline_event_study": _es_record(head_es),
        "pretrend_power": power,
        "appendix_other_level": other,
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


def _cs_unadjusted(panel, cohort_col, window, rule, robust, support, true_es) -> dict | None:
    """The plain CS (no covariates, universal base) beside the adjusted CS entry, to show its
    bias, at the study's clustering level (``rule``); None when the CS entry already is the plain
    CS or did not run."""
    cluster = rule.cluster
    cs = robust.get("cs")
    if cs is None or is_skipped(cs) or cs["variant"] != "cs_adjusted":
        return None
    est, why = attempt(
        estimate, "cs", panel, y="log_exports", unit="city_code", time="year", cohort=cohort_col,
        cluster=cluster, window=window, base_period="universal",
    )  # fmt: skip
    if est is None:
        return skipped(why, label=ROBUST_LABELS["cs"])
    g = rule.n_clusters
    pretest = (
        (est.pretrend, "cs")
        if est.pretrend is not None
        else (_cs_lead_test(est.fit, window), "cs_leads")
    )
    return {
        "overall": t_band(est.overall().to_frame().T, g).iloc[0].to_dict(),
        "event_study": _on_support(with_reference(t_band(est.event_study, g)), support, true_es),
        "label": ROBUST_LABELS["cs"] + " (no covariates)",
        "cluster": cluster,
        "pretrend": pretrend_record(*pretest, g),
        "note": CS_BIAS_NOTE,
    }


def _cs_lead_test(fit, window):
    """When the plain CS pre-test on every pre-treatment ATT(g,t) has a singular covariance at the
    study's level (more restrictions than provinces): the joint Wald test of the event study's
    leads in the window (e = window[0]..-2; universal base), covariance from the cluster sums of
    their influence functions, generalised inverse (:func:`analysis.did.inference.
    wald_statistic`). None when there is no lead."""
    from analysis.did.inference import wald_statistic
    from analysis.did.results import PretrendTest

    dyn = fit.aggregate("dynamic")
    e = np.asarray(dyn.egt)
    se = np.asarray(dyn.se_egt, dtype=float)
    lead = np.flatnonzero((e >= window[0]) & (e < -1) & np.isfinite(se) & (se > 0))
    if lead.size == 0:
        return None
    inf = np.asarray(dyn.inf_func_egt, dtype=float)[:, lead]
    if fit.cluster is not None:
        codes = pd.factorize(np.asarray(fit.cluster), sort=True)[0]
        summed = np.zeros((codes.max() + 1, lead.size))
        np.add.at(summed, codes, inf)
        inf = summed
    V = inf.T @ inf / dyn.n**2
    w, df = wald_statistic(np.asarray(dyn.att_egt, dtype=float)[lead], V)
    return PretrendTest(w, df, float(stats.chi2.sf(w, df))) if df else None


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
