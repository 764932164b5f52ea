"""Network coverage as a continuous treatment: what the network-coverage notebook narrates.

The elasticity of exports with respect to broadband (TWFE on log broadband users per 100 people)
and the shape of the dose-response: the headline curve is piecewise linear in log dose (one
elasticity per third of coverage); quantile bins pooled across years (attenuated by the year
effects) and a cubic B-spline are kept for comparison; all against the known truth of the
synthetic panel.

Without broadband in the panel (or observed for too few city-years: the design check of
:mod:`analysis.data.design`) the study is a recorded skip with the reason; the controls are the
usable ones of the same check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.design import analysis_sample
from analysis.did.continuous import twfe_dose_response
from analysis.did.twfe import twfe
from analysis.studies import binary

OTHER_TREATMENTS = ["pilot", "rail"]


def coverage_study(
    panel: pd.DataFrame, truth: dict, n_bins: int, cluster: str | None = "headline", design=None
) -> dict:
    """Network coverage as a continuous treatment: elasticity (TWFE on log broadband), and the
    dose-response in broadband users per 100 people: the headline curve is piecewise linear in log
    dose (elasticities by tercile of coverage); quantile bins and a cubic B-spline are kept for
    comparison (the pooled bins are attenuated by year effects: see did/continuous.py).

    Inference: the study's one rule (:func:`analysis.studies.binary.study_rule`; ``cluster``
    "headline" = the design's level, province; a column overrides it): every SE clustered at that
    level, every interval and p-value from t(G-1) (``inference``); the elasticity at the other
    level in ``appendix_other_level``.

    ``design``: the design check of the panel (default: computed from it). Skipped with the reason
    (``{"skipped": ...}``) when the panel has no usable broadband or the estimation fails
    numerically."""
    design = design or binary.study_design(panel)
    panel = analysis_sample(panel, design)  # the one rule for blank cells (data/design.py)
    record = {
        "treatment": "log_broadband",
        **binary.controls_record(design),
        "true_elasticity": truth.get("broadband", {}).get("elasticity"),
    }
    if design.coverage is not None:
        return {**record, "skipped": design.coverage, "twfe": binary.skipped(design.coverage)}
    others = [t for t in OTHER_TREATMENTS if t in binary.treatment_covariates(design, None)]
    controls = list(design.controls_used)
    rule = binary.study_rule(panel, cluster)
    record["inference"] = rule.record()
    try:
        return {
            **_coverage(panel, truth, n_bins, rule, others, controls),
            **record,
            "covariates": others + controls,
        }
    except binary.NUMERICAL_ERRORS as exc:
        if not binary.is_numerical_failure(exc):
            raise
        why = f"estimation failed on this panel: {type(exc).__name__}: {exc}"
        return {**record, "skipped": why, "twfe": binary.skipped(why)}


def _coverage(panel, truth, n_bins, rule, others, controls) -> dict:
    cluster, g = rule.cluster, rule.n_clusters
    band = lambda frame: binary.t_band(frame, g)  # t(G-1) at the rule's level
    fit = twfe(
        panel,
        "log_exports",
        ["log_broadband"] + others + controls,
        "city_code",
        "year",
        cluster=cluster,
    )
    naive = twfe(
        panel, "log_exports", ["log_broadband"] + others, "city_code", "year", cluster=cluster
    )
    row = band(fit.tidy()).set_index("term").loc["log_broadband"]
    bins = twfe_dose_response(
        panel,
        "log_exports",
        "broadband_per100",
        "year",
        "city_code",
        method="bins",
        n_bins=n_bins,
        covariates=others + controls,
        cluster=cluster,
    )
    curve = band(bins.tidy()).assign(dose=bins.grid)
    spline = twfe_dose_response(
        panel,
        "log_exports",
        "broadband_per100",
        "year",
        "city_code",
        method="spline",
        covariates=others + controls,
        cluster=cluster,
        grid=40,
    )
    spline_curve = band(spline.tidy()).assign(dose=spline.grid)
    # The headline curve: piecewise linear in log dose (knots at the terciles), identified from
    # within-city changes in dose relative to the year effect. Quantile bins pooled across years
    # sort by calendar time, so year effects absorb most of their steps (attenuated, a false
    # saturation); they and the B-spline are kept for comparison (tests/did/test_continuous.py).
    # log dose: city-years with zero subscribers (possible in a user's yearbook) cannot enter
    log_spline = twfe_dose_response(
        panel[panel["broadband_per100"] > 0],
        "log_exports",
        "broadband_per100",
        "year",
        "city_code",
        method="log_linear_spline",
        n_knots=2,
        covariates=others + controls,
        cluster=cluster,
        grid=40,
    )
    log_curve = band(log_spline.tidy())
    true_elasticity = truth.get("broadband", {}).get("elasticity")
    if true_elasticity is not None:
        curve["truth"] = true_elasticity * (np.log(curve["dose"]) - np.log(bins.ref_dose))
        spline_curve["truth"] = true_elasticity * (
            np.log(spline_curve["dose"]) - np.log(spline.ref_dose)
        )
        log_curve["truth"] = true_elasticity * (
            np.log(log_curve["dose"]) - np.log(log_spline.ref_dose)
        )
    return {
        "treatment": "log_broadband",
        "twfe": {
            **row.to_dict(),
            "nobs": fit.nobs,
            "n_clusters": fit.n_clusters,
            "cluster": cluster,
        },
        "twfe_no_controls": band(naive.tidy()).set_index("term").loc["log_broadband"].to_dict(),
        "appendix_other_level": _other_level(panel, rule, others + controls, true_elasticity),
        "true_elasticity": true_elasticity,
        "twfe_bias": None if true_elasticity is None else float(row["estimate"] - true_elasticity),
        "dose_bins": curve,
        "bin_edges": bins.bins,
        "dose_spline": spline_curve,
        "dose_log_spline": log_curve,
        "dose_elasticities": band(log_spline.segments),
        "dose_knots": log_spline.knots.tolist(),
    }


def _other_level(panel, rule, covariates, truth) -> dict:
    """The elasticity clustered at the other level (the appendix of rule 3), t(G-1) there."""
    if rule.other is None or rule.other not in panel.columns or panel[rule.other].nunique() < 2:
        return binary.skipped("the panel has one clustering level only")
    fit = twfe(
        panel, "log_exports", ["log_broadband", *covariates], "city_code", "year",
        cluster=rule.other,
    )  # fmt: skip
    g = int(panel[rule.other].nunique())
    row = binary.t_band(fit.tidy(), g).set_index("term").loc["log_broadband"].to_dict()
    out = {**row, "cluster": rule.other, "n_clusters": g}
    if truth is not None:
        out["truth_in_ci"] = bool(row["conf_low"] <= truth <= row["conf_high"])
    return out
