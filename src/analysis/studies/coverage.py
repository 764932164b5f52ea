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
    panel: pd.DataFrame, truth: dict, n_bins: int, cluster: str, design=None
) -> dict:
    """Network coverage as a continuous treatment: elasticity (TWFE on log broadband), and the
    dose-response in broadband users per 100 people: the headline curve is piecewise linear in log
    dose (elasticities by tercile of coverage); quantile bins and a cubic B-spline are kept for
    comparison (the pooled bins are attenuated by year effects: see did/continuous.py).

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
    try:
        return {
            **_coverage(panel, truth, n_bins, cluster, others, controls),
            **record,
            "covariates": others + controls,
        }
    except binary.NUMERICAL_ERRORS as exc:
        if not binary.is_numerical_failure(exc):
            raise
        why = f"estimation failed on this panel: {type(exc).__name__}: {exc}"
        return {**record, "skipped": why, "twfe": binary.skipped(why)}


def _coverage(panel, truth, n_bins, cluster, others, controls) -> dict:
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
    row = fit.tidy().set_index("term").loc["log_broadband"]
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
    curve = bins.tidy().assign(dose=bins.grid)
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
    spline_curve = spline.tidy().assign(dose=spline.grid)
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
    log_curve = log_spline.tidy()
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
        "twfe_no_controls": naive.tidy().set_index("term").loc["log_broadband"].to_dict(),
        "true_elasticity": true_elasticity,
        "twfe_bias": None if true_elasticity is None else float(row["estimate"] - true_elasticity),
        "dose_bins": curve,
        "bin_edges": bins.bins,
        "dose_spline": spline_curve,
        "dose_log_spline": log_curve,
        "dose_elasticities": log_spline.segments,
        "dose_knots": log_spline.knots.tolist(),
    }


# --- issue 20: Broadband China, a dated network policy, and its dose at designation --------------

DESIGNATION, DESIGNATION_COHORT = "broadband_china", "broadband_china_year"
FIRST_STAGE_OUTCOMES = ("broadband_per100", "mobile_per100")


def single_source_cities(units: pd.DataFrame, year_rule: str = "midyear") -> list[str]:
    """Cities whose first designation rests on a single-source roster row (29 rows of the 2015
    batch): the headline treats them as designated (the rows are the published list, read from
    one reprint); the sensitivity drops them from the sample (neither treated nor control)."""
    from analysis.data import reference

    cohorts = reference.broadband_cohorts(units, True, year_rule)
    single = set(units.loc[units["verification"] == "single-source", "unit"])
    codes = cohorts.loc[cohorts["broadband_via_unit"].isin(single), "city_code"]
    return sorted(str(c) for c in codes)


def broadband_china_study(
    panel: pd.DataFrame,
    truth: dict,
    window: tuple[int, int],
    cluster: str,
    design=None,
    control_rule: dict[str, str] | None = None,
    single_source: list[str] | None = None,
) -> dict:
    """Broadband China as a binary staggered treatment through the pilot zones' toolkit
    (:func:`analysis.studies.binary.binary_study`: headline BJS, event studies, pre-trend tests),
    its first stage on both doses (BJS imputation ATT and event study of subscribers per 100, the
    pilot zones and rail as covariates) and, with ``single_source``, the headline without the
    cities designated through a single-source row."""
    from analysis.did.estimate import estimate

    design = design or binary.study_design(panel)
    study = binary.binary_study(
        panel,
        truth,
        DESIGNATION,
        DESIGNATION_COHORT,
        window,
        cluster,
        design=design,
        control_rule=control_rule,
    )
    sample = analysis_sample(panel, design)
    first_stage = {}
    fs_truth = truth.get("first_stage", {})
    for outcome in FIRST_STAGE_OUTCOMES:
        data = sample.dropna(subset=[outcome])
        if data[outcome].isna().all() or data.empty:
            first_stage[outcome] = binary.skipped(f"{outcome} is not in the data")
            continue
        fit = estimate(
            "bjs",
            data,
            y=outcome,
            unit="city_code",
            time="year",
            cohort=DESIGNATION_COHORT,
            covariates=["pilot", "rail"],
            cluster="province",
            window=(0, window[1]),
        )
        first_stage[outcome] = {
            "estimate": fit.att,
            "std_error": fit.se,
            "conf_low": fit.conf_low,
            "conf_high": fit.conf_high,
            "event_study": fit.event_study,
            "truth": fs_truth.get(outcome, {}).get("att_overall"),
            "cluster": "province",
        }
    study["first_stage"] = first_stage
    if single_source:
        keep = panel[~panel["city_code"].isin(single_source)]
        sens = binary.binary_study(
            keep,
            truth,
            DESIGNATION,
            DESIGNATION_COHORT,
            window,
            cluster,
            control_rule=control_rule,
        )
        study["without_single_source"] = {
            "dropped_cities": len(single_source),
            "headline": sens.get("headline"),
            "true_att_target": sens.get("true_att_target"),
        }
    return study


def designation_dose_response(
    panel: pd.DataFrame, truth: dict, cluster: str = "province", n_boot: int = 999, seed: int = 1
) -> dict:
    """CGS (2024) ATT(d|d) and ACRT(d|d) of the designation by the city's broadband per 100 in the
    year before designation (never-designated cities the comparison), with uniform bands, against
    the truth's curves on the truth's dose grid (synthetic data)."""
    from analysis.did.cgs_continuous import cgs_dose_response

    data = panel.dropna(subset=["log_exports", "broadband_per100"]).copy()
    g = data[DESIGNATION_COHORT]
    # the dose: broadband in the last year before designation (not yet moved by the programme);
    # a designated city without it observed cannot enter (cgs drops cohorts without a pre-year)
    before = data[(g > 0) & (data["year"] == g - 1)]
    dose = before.set_index("city_code")["broadband_per100"]
    data["dose_at_designation"] = data["city_code"].map(dose).where(g > 0, 0.0)
    data = data[(g == 0) | (data["dose_at_designation"] > 0)]
    block = truth.get(DESIGNATION, {}).get("dose_response")
    grid = np.asarray(block["dose"]) if block else 19
    fit = cgs_dose_response(
        data,
        "log_exports",
        "year",
        "city_code",
        DESIGNATION_COHORT,
        "dose_at_designation",
        cluster=cluster,
        grid=grid,
        n_boot=n_boot,
        seed=seed,
    )
    curve = fit.curve
    if block:
        curve = curve.assign(
            truth_att=block["att_d_given_d"],
            truth_att_d=block["att_d"],
            truth_acrt=block["acrt_d_given_d"],
            truth_slope=block["slope_att_d_given_d"],
        )
    return {
        "curve": curve,
        "overall": fit.overall,
        "crit_att": fit.crit_att,
        "crit_acrt": fit.crit_acrt,
        "n_treated": fit.n_treated,
        "n_control": fit.n_control,
        "cluster": cluster,
        "n_clusters": fit.n_clusters,
        "truth_att_overall": truth.get(DESIGNATION, {}).get("att_overall"),
    }
