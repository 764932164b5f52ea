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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.data.design import analysis_sample
from analysis.did.continuous import twfe_dose_response
from analysis.did.twfe import twfe
from analysis.studies import binary
from analysis.studies.rules import dose_before_start

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


# --- issue 20: Broadband China, a dated network policy, and its dose at designation --------------

DESIGNATION, DESIGNATION_COHORT = "broadband_china", "broadband_china_year"


def _design_failure(exc: BaseException) -> bool:
    """A failure the panel's design explains (a recorded skip), not a bug (re-raised): the binary
    studies' numerical failures, and a dCDH horizon without switchers or controls (the reference
    divides by their count: ZeroDivisionError on a small user panel, e.g. 6 provinces), or no
    dCDH comparison at all (a one-province panel: no comparison has controls in 5 provinces)."""
    from analysis.did.multiplegt_dyn import NoComparisonError

    return isinstance(exc, ZeroDivisionError | NoComparisonError) or binary.is_numerical_failure(
        exc
    )


def _why(exc: BaseException) -> str:
    return f"estimation failed on this panel: {type(exc).__name__}: {exc}"


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


def region_year_columns(panel: pd.DataFrame) -> pd.DataFrame:
    """Region x year dummies (east the reference): broadband diffused region by region (later and
    lower in the west), and the designated cities are mostly eastern, so the doses' untreated paths
    are parallel only within a region (measured: the first stage on broadband without them is
    biased up by about 1.5 SE on average over 12 redraws, with them 0.1 SE)."""
    label = panel["region"].astype(str) + "_" + panel["year"].astype(str)
    dummies = pd.get_dummies(label, prefix="ry", dtype=float)
    keep = [c for c in dummies.columns if not c.startswith("ry_east")]
    return dummies[keep].set_index(panel.index)


def _first_stage(data: pd.DataFrame, outcome: str, region_year, window: tuple[int, int]):
    """BJS imputation ATT of designation on a dose (pilot zones, rail, region x year effects)."""
    from analysis.did.estimate import estimate

    return estimate(
        "bjs",
        data,
        y=outcome,
        unit="city_code",
        time="year",
        cohort=DESIGNATION_COHORT,
        covariates=["pilot", "rail", *region_year],
        cluster="province",
        window=(0, window[1]),
    )


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
    pilot zones, rail and region x year effects as covariates: :func:`region_year_columns`) and, with ``single_source``, the headline without the
    cities designated through a single-source row."""

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
    ry = region_year_columns(sample)
    sample = pd.concat([sample, ry], axis=1)
    first_stage = {}
    fs_truth = truth.get("first_stage", {})
    for outcome in FIRST_STAGE_OUTCOMES:
        data = sample.dropna(subset=[outcome])
        if data[outcome].isna().all() or data.empty:
            first_stage[outcome] = binary.skipped(f"{outcome} is not in the data")
            continue
        try:
            fit = _first_stage(data, outcome, ry.columns, window)
        except (*binary.NUMERICAL_ERRORS, ZeroDivisionError) as exc:
            if not _design_failure(exc):
                raise
            first_stage[outcome] = binary.skipped(_why(exc))
            continue
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
            "dropped_cities": int(panel.loc[~panel.index.isin(keep.index), "city_code"].nunique()),
            "headline": sens.get("headline"),
            "true_att_target": sens.get("true_att_target"),
        }
    return study


@dataclass(frozen=True)
class Adjustment:
    """The covariate adjustment of CGS's outcome (:func:`adjustment`): the adjusted outcome, the
    covariates it nets out (same index: city, year) and each cluster's influence on their
    coefficients (``psi``: clusters x covariates, summing to the coefficients' sampling error)."""

    outcome: pd.Series
    covariates: pd.DataFrame
    psi: pd.DataFrame


def adjustment(
    panel: pd.DataFrame,
    design=None,
    control_rule: dict[str, str] | None = None,
    cluster: str = "province",
) -> Adjustment:
    """log exports net of what the binary study's covariates explain (the pilot zones' and rail's
    cohort x event-time cells, the ruled controls, region x year effects), with their coefficients
    fitted on the city-years not (yet) designated (BJS's step 1, city and year effects): CGS has
    no covariates, and the designated cities are mostly pilot-zone cities (without the adjustment
    the overall ATT^o on the default panel is 0.159 against a truth of 0.107). ``psi``: the
    coefficients' influence by ``cluster``, ``(Z0'Z0)^-1 Z0_c' u_c`` of the untreated-outcome
    regression (its covariate rows), which :func:`designation_dose_response` carries into the CGS
    bands."""
    from analysis.did.imputation import first_stage
    from analysis.studies.rules import study_data

    design = design or binary.study_design(panel)
    sd = study_data(analysis_sample(panel, design), design, DESIGNATION, control_rule)
    data = sd.panel.reset_index(drop=True)
    ry = region_year_columns(data)
    data = pd.concat([data, ry], axis=1)
    covariates = [*sd.covariates, *ry.columns]
    fs = first_stage(
        data, "log_exports", "year", "city_code", DESIGNATION_COHORT, covariates, cluster
    )
    k = len(fs.cov_names)
    coef = fs.gamma[len(fs.gamma) - k :]
    x = fs.df[fs.cov_names].to_numpy(dtype=float)
    index = pd.MultiIndex.from_arrays([fs.df["_id"].astype(str), fs.df["_t"].astype(int)])
    labels = [covariates[int(c[2:])] for c in fs.cov_names]  # "_x<k>": the k-th covariate
    # each cluster's score of the untreated-outcome regression, through its inverse normal matrix
    u0 = fs.y[~fs.D] - fs.Z0 @ fs.gamma
    codes, cl = np.unique(fs.df.loc[~fs.D, "_cl"].to_numpy(), return_inverse=True)
    by_cluster = sp.csr_matrix((u0, (np.arange(len(u0)), cl)), shape=(len(u0), len(codes)))
    scores = (fs.Z0.T @ by_cluster).toarray()
    psi = np.atleast_2d(fs.lu.solve(scores))[len(fs.gamma) - k :].T if k else np.zeros((0, 0))
    return Adjustment(
        outcome=pd.Series(fs.df["_y"].to_numpy() - x @ coef, index=index,
                          name="log_exports_adjusted"),
        covariates=pd.DataFrame(x, index=index, columns=labels),
        psi=pd.DataFrame(psi.reshape(len(codes), k), index=codes, columns=labels),
    )  # fmt: skip


def adjusted_outcome(
    panel: pd.DataFrame, design=None, control_rule: dict[str, str] | None = None
) -> pd.Series:
    """The adjusted outcome of :func:`adjustment` alone."""
    return adjustment(panel, design, control_rule).outcome


def designation_dose_response(
    panel: pd.DataFrame,
    truth: dict,
    cluster: str = "province",
    n_boot: int = 999,
    seed: int = 1,
    design=None,
    control_rule: dict[str, str] | None = None,
    adjust: bool = True,
) -> dict:
    """CGS (2024) ATT(d|d) and ACRT(d|d) of the designation by the city's broadband per 100 in the
    year before designation (never-designated cities the comparison), with uniform bands, against
    the truth's curves on the truth's dose grid (synthetic data). ``adjust``: on
    :func:`adjusted_outcome` (default) or raw log exports."""
    from analysis.did.cgs_continuous import cgs_dose_response

    data = panel.dropna(subset=["log_exports", "broadband_per100"]).copy()
    outcome, left_out, adj = "log_exports", [], None
    if adjust:
        adj = adjustment(panel, design, control_rule, cluster)
        key = pd.MultiIndex.from_arrays([data["city_code"].astype(str), data["year"].astype(int)])
        data["log_exports_adjusted"] = adj.outcome.reindex(key).to_numpy()
        # the designated city-years the binary study leaves out (rules.CENSOR_UNSUPPORTED: a
        # concurrent cell its controls cannot learn) have no adjusted outcome; CGS compares each
        # city's mean over ALL post years with the controls', so such a city leaves the curve
        gap = data["log_exports_adjusted"].isna() & (data[DESIGNATION_COHORT] > 0)
        left_out = sorted(data.loc[gap, "city_code"].astype(str).unique())
        data = data[~data["city_code"].astype(str).isin(left_out)]
        data = data.dropna(subset=["log_exports_adjusted"])
        outcome = "log_exports_adjusted"
    g = data[DESIGNATION_COHORT]
    # the dose: broadband in the last year before designation (not yet moved by the programme);
    # a designated city without it observed cannot enter (cgs drops cohorts without a pre-year)
    dose = dose_before_start(data, DESIGNATION_COHORT, "broadband_per100", first_year=False)
    data["dose_at_designation"] = dose.where(g > 0, 0.0)
    data = data[(g == 0) | (data["dose_at_designation"] > 0)]
    block = truth.get(DESIGNATION, {}).get("dose_response")
    grid = np.asarray(block["dose"]) if block else 19
    args = ("year", "city_code", DESIGNATION_COHORT, "dose_at_designation")
    first = None
    if adj is not None:
        if not isinstance(grid, np.ndarray):  # the grid every run below must share
            grid = cgs_dose_response(data, outcome, *args, cluster=cluster, grid=grid, n_boot=2)
            grid = grid.curve["dose"].to_numpy()
        first = _first_step_influence(data, adj, args, cluster, grid)
    fit = cgs_dose_response(
        data,
        outcome,
        *args,
        cluster=cluster,
        grid=grid,
        n_boot=n_boot,
        seed=seed,
        first_step=first,
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
        "outcome": outcome,
        "cities_left_out": left_out,
        "truth_att_overall": _designation_att(truth, left_out),
    }


def _first_step_influence(
    data: pd.DataFrame, adj: Adjustment, args: tuple, cluster: str, grid: np.ndarray
) -> pd.DataFrame:
    """Each cluster's influence, through the adjustment's coefficients, on every CGS estimate
    (:func:`analysis.did.cgs_continuous.estimate_vector`). CGS is linear in its outcome for a
    fixed sample, so the estimates on ``y - X g`` are those on ``y`` minus ``A g``, ``A``'s
    column k the estimates on the covariate ``X_k`` as the outcome; the coefficients' error is the
    sum of ``psi`` over clusters, so a cluster adds ``-A psi_c``. Without it the uniform band of
    ATT(d|d) covered the true curve in 80.5% of 200 default panels (data/README.md)."""
    from analysis.did.cgs_continuous import cgs_dose_response, estimate_vector

    key = pd.MultiIndex.from_arrays([data["city_code"].astype(str), data["year"].astype(int)])
    x = adj.covariates.reindex(key)
    columns = []
    for name in adj.psi.columns:
        one = data.assign(_x=x[name].to_numpy())
        fit = cgs_dose_response(one, "_x", *args, cluster=cluster, grid=grid, n_boot=2)
        columns.append(estimate_vector(fit))
    a = np.column_stack(columns) if columns else np.zeros((2 * len(grid) + 2, 0))
    return pd.DataFrame(-adj.psi.to_numpy() @ a.T, index=adj.psi.index)


def _designation_att(truth: dict, left_out: list[str]) -> float | None:
    """The truth of CGS's ATT^o: the mean designation effect of the designated cities the curve
    keeps (its cohort weights average the cities equally; the effect is constant from designation
    in the DGP); the truth's overall ATT without city effects."""
    block = truth.get(DESIGNATION, {})
    by_city = block.get("city_effects")
    if not by_city:
        return block.get("att_overall")
    out = set(left_out)
    return float(np.mean([v["effects"][0] for c, v in by_city.items() if c not in out]))


DOSES = {"broadband_per100": 10.0, "mobile_per100": 20.0}
"""The continuous, non-absorbing doses and the band width (subscribers per 100) in which dCDH
reads them: ``did_multiplegt_dyn`` compares switchers with not-yet-switchers of the SAME baseline
treatment, which a continuous dose never shares (the reference's ``continuous`` option is not
ported); a city switches when its dose enters another band.

Every city's broadband rises through the bands (263 of the 337 start in the lowest one and all of
them have left it by 2017), so the late comparisons rest on the last few not-yet-switchers, the
slowest-diffusing cities of a handful of provinces, which then carry the weight of every remaining
switcher. Hence the two departures from the reference in :func:`_dcdh` (issue 20; data/README.md,
"The network block"): a comparison needs controls in at least
:data:`analysis.studies.rules.MIN_CELL_CLUSTERS` provinces (``min_control_clusters``, the
concurrent cells' rule), and the variance is the delete-one-province jackknife with t(G-1)
intervals (``jackknife``)."""


def _dcdh(data: pd.DataFrame, y: str, effects: int, placebo: int, jackknife: bool = True):
    """dCDH on the banded dose ``_band``: normalized effects and placebos, province clusters,
    comparisons with controls in at least ``MIN_CELL_CLUSTERS`` provinces; the delete-one-province
    jackknife variance and t(G-1) intervals (``jackknife``; off for the targets, which need only
    the point estimate)."""
    from analysis.did.estimate import estimate
    from analysis.studies.rules import MIN_CELL_CLUSTERS

    return estimate(
        "dcdh",
        data,
        y=y,
        unit="city_code",
        time="year",
        cohort=DESIGNATION_COHORT,  # unused with an explicit treatment
        cluster="province",
        window=(-placebo - 1, effects - 1),
        treatment="_band",
        normalized=True,
        min_control_clusters=MIN_CELL_CLUSTERS,
        jackknife=jackknife,
    )


def dose_event_studies(
    panel: pd.DataFrame,
    truth: dict,
    doses: dict[str, float] | None = None,
    effects: int = 5,
    placebo: int = 3,
) -> dict:
    """de Chaisemartin & D'Haultfoeuille ``did_multiplegt_dyn`` for each dose read in bands
    (:data:`DOSES`): normalized event-study effects (per subscriber per 100 of cumulated dose
    change), placebos and their joint test, the average total effect, province clusters (the
    comparisons and the jackknife variance of :func:`_dcdh`).

    On synthetic data the same estimator applied to the DGP's network component
    (:func:`analysis.data.synthetic.network_effect_component`: the doses' and the designation's
    effects, no noise, no other treatment) is the ``target`` of each row: what the estimator
    returns on the realised doses when parallel trends hold exactly."""
    from analysis.data.synthetic import network_effect_component

    doses = doses or DOSES
    target = None
    if "city_elasticities" in truth.get("broadband", {}):
        target = network_effect_component(panel, truth)
    out = {}
    for dose, width in doses.items():
        data = panel.dropna(subset=["log_exports", dose]).copy()
        if data.empty:
            out[dose] = binary.skipped(f"{dose} is not in the data")
            continue
        data["_band"] = np.floor(data[dose] / width) * width
        runs = {"estimate": "log_exports"}
        if target is not None:
            data["_target"] = target.loc[data.index]
            runs["target"] = "_target"
        rows = {}
        try:
            for name, y in runs.items():
                rows[name] = _dcdh(data, y, effects, placebo, jackknife=name == "estimate")
        except (*binary.NUMERICAL_ERRORS, ZeroDivisionError) as exc:
            if not _design_failure(exc):
                raise
            out[dose] = {**binary.skipped(_why(exc)), "band_width": width}
            continue
        fit = rows["estimate"]
        # a horizon no switcher reaches with controls in enough provinces has no estimate
        es = fit.event_study.dropna(subset=["estimate"]).reset_index(drop=True)
        if "target" in rows:
            es = es.merge(
                rows["target"]
                .event_study[["event_time", "estimate"]]
                .rename(columns={"estimate": "target"}),
                on="event_time",
                how="left",
            )
        out[dose] = {
            "band_width": width,
            "average_total_effect": fit.att,
            "std_error": fit.se,
            "conf_low": fit.conf_low,
            "conf_high": fit.conf_high,
            "target": rows["target"].att if "target" in rows else None,
            "event_study": es,
            "placebo_test": None
            if fit.pretrend is None
            else {
                "stat": fit.pretrend.statistic,
                "df": fit.pretrend.df,
                "p_value": fit.pretrend.p_value,
            },
            "n_switchers": int(fit.fit.effects["n_switchers"].max()) if len(fit.fit.effects) else 0,
            "cluster": "province",
        }
    return out


def network_design_study(
    panel: pd.DataFrame,
    truth: dict,
    window: tuple[int, int],
    cluster: str,
    design=None,
    control_rule: dict[str, str] | None = None,
    single_source: list[str] | None = None,
    n_boot: int = 999,
    seed: int = 20240601,
) -> dict:
    """The network study's design (issue 20), in the order the notebook narrates it: the
    designation (years per city), Broadband China through the binary toolkit with its first stage
    and the single-source sensitivity, the CGS dose response at designation, the dCDH event
    studies of the doses. A part that cannot run on this panel is a recorded skip."""
    design = design or binary.study_design(panel)
    years = panel.groupby("city_code")[DESIGNATION_COHORT].first()
    out: dict = {"designation_years": {str(k): int(v) for k, v in years.items()}}
    if design.treatments[DESIGNATION].switchers == 0:
        why = "no city of the panel is designated inside it"
        return {**out, "broadband_china": binary.skipped(why),
                "designation_dose_response": binary.skipped(why),
                "dose_event_studies": dose_event_studies(panel, truth)}  # fmt: skip
    out["broadband_china"] = broadband_china_study(
        panel, truth, window, cluster, design, control_rule, single_source
    )
    try:
        out["designation_dose_response"] = designation_dose_response(
            panel, truth, "province", n_boot, seed, design, control_rule
        )
    except (*binary.NUMERICAL_ERRORS, ZeroDivisionError) as exc:
        if not _design_failure(exc):
            raise
        out["designation_dose_response"] = binary.skipped(_why(exc))
    out["dose_event_studies"] = dose_event_studies(panel, truth)
    return out
