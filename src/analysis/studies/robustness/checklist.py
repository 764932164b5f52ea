"""The robustness checklist of the headline pilot-zone ATT: one function the robustness notebook
narrates.

The headline is the BJS imputation ATT with the other treatments and the usable controls in the
untreated-outcome model (:func:`analysis.studies.binary.headline_att`): the estimator the Monte
Carlo validates. Every check of the summary table concerns that number. :func:`robustness_study`
runs, on the processed panel and with the options of params.yaml ``notebooks: robustness`` (typed
and with their defaults in :class:`analysis.config.RobustnessConfig`):

1. randomization inference on the studentized headline (permuted adoption dates within strata;
   Fisher 1935, Young 2019, Wu & Ding 2021),
2. the restricted wild cluster bootstrap of the headline by province (Cameron, Gelbach & Miller
   2008; Webb weights below 12 clusters),
3. a doubly-robust ATT on baseline covariates (Callaway & Sant'Anna 2021 with Sant'Anna & Zhao
   2020's DR 2x2 estimator), with its covariate balance after inverse-propensity weighting,
4. concurrent policies: the headline with the pilot free trade zones (and user rosters) as
   controls / their cities dropped,
5. effect heterogeneity by region, coast, batch and city size,
6. the Goodman-Bacon (2021) decomposition of the no-controls TWFE coefficient (the foil): how much
   of its gap to the truth the forbidden later-vs-earlier comparisons explain,
7. HonestDiD sensitivity (Rambachan & Roth 2023),
8. the specification curve (Simonsohn, Simmons & Nelson 2020),
9. Conley (1999) spatial SEs of the TWFE foil and of the TWFE event study at the cutoffs of
   ``conley.cutoffs_km`` (:mod:`analysis.studies.robustness.conley`; issue 19),
10. spatial spillovers: the ring design (Butts 2023 with BJS) estimating the direct effect jointly
    with the spillover on untreated cities near pilot zones (:mod:`analysis.studies.spillover`;
    issue 19),

and returns ``{"results": JSON-ready dict, "frames": DataFrames for tables and figures, "figures":
the figure calls, "timings": seconds per check}``. Timings are kept apart from the results because
they depend on the machine (results files must be byte-identical across runs).

The checklist uses what the panel has: the controls are the usable ones of the design check
(:func:`analysis.studies.binary.study_design`, the rule of the panel stage), the other treatments
only when they vary in the panel, the DR ATT only the usable baseline covariates. A check the
design rules out (the wild bootstrap with too few clusters) or that fails numerically on this panel
is recorded as ``{"skipped": reason}`` in the results and listed in ``results["skips"]``; its figure
call then carries the reason instead of a frame.

The summary table (``frames["summary"]``, ``results["summary"]``) has one row per check about the
headline ATT: ``check`` (a stable id), ``label``, ``estimate``, ``std_error``, ``conf_low``,
``conf_high``, ``p_value``. A check of another module contributes rows by returning
``"summary_row"`` (a dict with those keys, or a list of them) in its results section. The TWFE
coefficient is not a row: it is the foil, recorded in ``results["twfe_foil"]`` and in the Bacon
attribution.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import RobustnessConfig, TreatmentConfig, parse_section, plain
from analysis.data.design import MIN_CONTROL_SHARE, analysis_sample
from analysis.did.bacon import TYPE_LATE_ALWAYS, TYPE_LATE_EARLY, bacon_decomposition
from analysis.did.callaway_santanna import att_gt, att_gt_adjusted
from analysis.did.drdid import ipw_balance, unit_baseline
from analysis.did.inference import critical_value, t_p_value
from analysis.did.randomization import baseline_strata, permutation_test
from analysis.did.twfe import twfe
from analysis.did.wild_bootstrap import imputation_wild_bootstrap
from analysis.figures import figure_function
from analysis.pvalues import format_p
from analysis.results_io import _clean
from analysis.studies.binary import (
    attempt,
    controls_record,
    headline_att,
    headline_event_study,
    is_skipped,
    pretrend_power_record,
    skipped,
    study_design,
)
from analysis.studies.robustness import concurrent, heterogeneity, spec_curve, timing
from analysis.studies.robustness.conley import conley_check
from analysis.studies.robustness.sensitivity import headline_sensitivity
from analysis.studies.rules import inference_rule, study_data, study_statistic, truth_for
from analysis.studies.spillover import (
    effects_frame,
    spillover_study,
    summary_rows,
    with_coordinates,
)

__all__ = [
    "DESIGN",
    "FIGURES",
    "SUMMARY_COLUMNS",
    "bacon_attribution",
    "doubly_robust_att",
    "make_figures",
    "robustness_options",
    "robustness_study",
]

# The effect every check attacks, as estimated in the pilot-zone notebook
# (analysis.studies.binary.headline_att): the study's design, not an option.
DESIGN: dict = {
    "yname": "log_exports",
    "dname": "pilot",
    "gname": "pilot_year",
    # covariates of the headline's untreated-outcome model: the study's
    # (analysis.studies.rules.study_data: the other treatments and the controls the panel has,
    # the controls the pilot zones move by their imputed untreated paths)
    "controls": None,
    # the study's one clustering level (analysis.studies.rules.inference_rule): the headline,
    # the TWFE foil, the placebo's studentization, the DR check and the heterogeneity tests
    "cluster": None,
}

FOIL_LABEL = "TWFE (biased under staggered adoption; foil)"
# truth: what the row's estimate should be on the synthetic data (the total ATT over the row's own
# treated cities, or the row's own target: a spillover), blank where a row has none or on real data
SUMMARY_COLUMNS = ["check", "label", "estimate", "std_error", "conf_low", "conf_high", "p_value",
                   "truth"]  # fmt: skip

# (figure function, frame, keyword arguments from results, file stem). The function is one of
# analysis.figures.robustness, or "module.function" of another analysis.figures module
# (e.g. "sensitivity.plot_honestdid").
FIGURES = [
    (
        "plot_estimates",
        "summary",
        {"truth": ("truth", "att_overall"), "truth_direct": ("truth", "att_overall_direct")},
        "robustness_summary",
    ),
    (
        "plot_placebo",
        "placebo_draws",
        {"statistic": ("placebo", "t_stat"), "p_value": ("placebo", "p_value")},
        "robustness_placebo",
    ),
    ("plot_balance", "dr_balance", {}, "robustness_dr_balance"),
    (
        "heterogeneity.plot_heterogeneity",
        "heterogeneity",
        {"pooled": ("heterogeneity", "pooled_estimate"), "tests": ("heterogeneity", "tests")},
        "robustness_heterogeneity",
    ),
    ("plot_bacon", "bacon", {"twfe": ("bacon", "twfe")}, "robustness_bacon"),
    (
        "sensitivity.plot_honestdid",
        "honestdid",
        {"truth": ("honestdid", "truth"), "benchmark": ("honestdid", "benchmark")},
        "robustness_honestdid",
    ),
    (
        "spec_curve.plot_spec_curve",
        "spec_curve",
        {
            "baseline": ("spec_curve", "baseline_spec_id"),
            "joint_test": ("spec_curve", "joint_test"),
        },
        "robustness_spec_curve",
    ),
    (
        "spillover.plot_spillover",
        "spillover",
        {
            "event_study": ("spillover", "event_study_spillover"),
            "rings": ("spillover", "rings"),
        },
        "robustness_spillover",
    ),
    (
        "maps.plot_exposure_map",
        "spillover_exposure",
        {"rings": ("spillover", "rings"), "year": ("spillover", "map_year")},
        "robustness_spillover_map",
    ),
]

# strata of the randomization inference: params.yaml placebo_within -> the panel columns it needs
STRATA = {
    "province": ("province",),
    "region_coastal": ("region", "coastal"),
    "baseline_gdp": ("log_gdp_pc",),
}
# what the placebo p-value is: no stratification here reproduces how designation was assigned
RI_INTERPRETATION = (
    "a sensitivity check under exchangeability of the designation dates within strata, not "
    "design-based inference (designation was targeted, not randomized)"
)


def robustness_options(options: RobustnessConfig | dict | None) -> RobustnessConfig:
    """The checklist's options: a :class:`RobustnessConfig`, or a mapping of some of its keys (the
    others take their defaults; nested sections merge key by key); unknown keys are an error."""
    if isinstance(options, RobustnessConfig):
        return options
    return parse_section(RobustnessConfig, options or {}, prefix="notebooks.robustness")


def _relative(path) -> str | None:
    """A path as recorded in the results: relative to the project root, so results files do not
    depend on where the project was cloned."""
    from analysis import config as paths

    if path is None:
        return None
    path = Path(path)
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _city_master(path) -> pd.DataFrame:
    """The city master for roster names: ``path``, else the pipeline's data/interim/cities.csv, else
    built from the committed admin-code table (a fresh clone before ``dvc repro``)."""
    from analysis import config as paths
    from analysis.data.build import read_cities
    from analysis.data.cities import build_city_master

    path = path or paths.INTERIM / "cities.csv"
    return read_cities(path) if Path(path).exists() else build_city_master()


def _row(estimate, std_error=np.nan, conf_low=np.nan, conf_high=np.nan, p_value=np.nan) -> dict:
    """A summary row's numbers; a value a check does not have (None: e.g. the specification
    curve's joint p-value when its test is off, ``spec_curve.draws = 0``) is NaN."""
    num = lambda x: float(np.nan if x is None else x)
    return {
        "estimate": num(estimate),
        "std_error": num(std_error),
        "conf_low": num(conf_low),
        "conf_high": num(conf_high),
        "p_value": num(p_value),
    }


def _strata(panel: pd.DataFrame, within: str | None) -> tuple[pd.DataFrame, str | None, str | None]:
    """``(panel, strata column, None)`` for the permutations, or ``(panel, None, reason)`` when the
    panel lacks the columns of ``within`` (province; region x coastal)."""
    if within is None:
        return panel, None, None
    missing = [c for c in STRATA[within] if c not in panel.columns]
    if missing:
        return (
            panel,
            None,
            (
                f"placebo_within={within} needs the panel column(s) {', '.join(missing)}, "
                "which this panel does not have"
            ),
        )
    if within == "province":
        return panel, "province", None
    if within == "baseline_gdp":
        g = DESIGN["gname"]
        first = panel.loc[panel[g] > 0, g].min() if (panel[g] > 0).any() else None
        if first is None:
            return panel, None, "baseline_gdp strata need a designated city"
        codes = baseline_strata(panel, "city_code", "year", "log_gdp_pc", before=first)
        return panel.assign(_stratum=codes), "_stratum", None
    cells = panel["region"].astype(str) + " x " + panel["coastal"].astype(str)
    return panel.assign(_stratum=cells), "_stratum", None


def doubly_robust_att(
    panel: pd.DataFrame,
    covariates: list[str],
    *,
    time_varying: list[str] = (),
    yname: str = "log_exports",
    gname: str = "pilot_year",
    idname: str = "city_code",
    tname: str = "year",
    control_group: str = "nevertreated",
    alpha: float = 0.05,
    truth: dict | None = None,
    treatment: str = "pilot",
    cluster: str | None = None,
) -> tuple[dict, pd.DataFrame]:
    """The matching / doubly-robust check: Callaway & Sant'Anna (2021) with the doubly-robust 2x2
    estimator of Sant'Anna & Zhao (2020) (``est_method="dr"``) on *baseline* covariates (means over
    the years before the first adoption, time-invariant), simple aggregation; with
    ``time_varying`` covariates, on the outcome net of them (``att_gt_adjusted``: the headline's
    untreated-outcome model, the first stage's error in the influence function).

    Why this design and not "match, then TWFE": each cohort is compared with its own controls
    (never-treated cities; not-yet-treated ones when the panel has none), so no already-treated city
    serves as a control; the estimate is an ATT, consistent if either the propensity score or the
    outcome-change regression is right; and its analytic SE comes from the influence function,
    which includes the estimation of both nuisance models. Why also the time-varying covariates:
    baseline means cannot carry a trend difference that runs through the *path* of a covariate
    (faster GDP growth of early pilots, broadband spreading earlier in the east, a concurrent rail
    link); in the Monte Carlo DR CS on baseline means alone is biased by about +0.011 (half an SE).
    A cohort for which no propensity score can be estimated (separation: the 2015 cohort of one
    city) is left out and named, as are ATT(g,t) cells that cannot be estimated (``na_rm``); the
    truth is then given for the same cities (:func:`analysis.studies.rules.truth_for`: the target
    of ``time_varying``). SE: clustered by ``cluster`` (default: the study's rule,
    :func:`analysis.studies.rules.inference_rule`), t(G-1) critical values; the other level is
    recorded (``se_city``, ``se_province``).

    Returns ``(results, balance)``: ``balance`` is the frame of :func:`analysis.did.drdid.ipw_balance`.
    """
    cohort = panel.groupby(idname)[gname].first().fillna(0)
    first = cohort[cohort > 0].min()
    base = unit_baseline(panel, idname, tname, covariates, first).dropna()
    balance, kept, dropped = ipw_balance(base, cohort, control_group)
    keep_units = base.index[~cohort.reindex(base.index).isin(dropped)]
    bnames = [f"baseline_{c}" for c in covariates]
    data = panel[panel[idname].isin(keep_units)].merge(
        base.set_axis(bnames, axis=1), left_on=idname, right_index=True
    )
    options = {"xformla": bnames, "control_group": control_group, "est_method": "dr"}
    with warnings.catch_warnings():  # notes of the first stage and of the 2x2 cells
        warnings.simplefilter("ignore")
        if time_varying:
            fit = att_gt_adjusted(data, yname, tname, idname, gname, list(time_varying), **options)
            ids = fit.gt.ids
        else:
            fit = att_gt(data, yname, tname, idname, gname, progress=False, **options)
            ids = fit.ids
    units = data.groupby(idname).first().reindex(ids)
    clusters = {idname: None}
    if "province" in data and data["province"].nunique() > 1:
        clusters["province"] = units["province"].to_numpy()
    fits = {}
    for name, labels in clusters.items():
        if time_varying:
            agg = fit.aggregate("simple", na_rm=True, clusters=labels)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                agg = fit.aggregate("simple", na_rm=True) if labels is None else att_gt(
                    data, yname, tname, idname, gname, progress=False,
                    clustervars=[name], **options,
                ).aggregate("simple", na_rm=True)  # fmt: skip
        g = len(ids) if labels is None else len(set(labels))
        fits[name] = (float(agg.overall_att), float(agg.overall_se), int(g))
    used = cluster or inference_rule(data).cluster
    used = used if used in fits else idname
    att, se, n_cl = fits[idname][0], fits[used][1], fits[used][2]
    crit = critical_value(alpha, n_cl)
    sizes = cohort[cohort.isin(kept) & cohort.index.isin(keep_units)].value_counts()
    gt = fit.gt if time_varying else fit
    sizes_units = cohort[cohort.isin(kept) & cohort.index.isin(keep_units)]
    block = truth_for(truth, treatment, list(time_varying), [str(c) for c in sizes_units.index])
    target = None if block is None else block["att_overall"]
    res = {
        **_row(att, se, att - crit * se, att + crit * se, t_p_value(att / se, n_cl)),
        "se_city": fits[idname][1],
        "se_province": fits.get("province", (None, None))[1],
        "cluster": used,
        "n_clusters": n_cl,
        "critical_value": crit,
        "covariates": list(covariates),
        "time_varying": list(time_varying),
        "baseline_before": int(first),
        "control_group": control_group,
        "cohorts": kept,
        "cohorts_dropped": {
            str(c): "no propensity score can be estimated (no control cities, or logit separation)"
            for c in dropped
        },
        "cells_not_estimated": int(np.sum(~np.isfinite(gt.att))),
        "n_treated_cities": int(sizes.sum()),
        "n_cities": int(data[idname].nunique()),
        "truth_same_cohorts": target,
        "max_abs_smd_before": float(balance["smd_before"].abs().max()),
        "max_abs_smd_after": float(balance["smd_after"].abs().max()),
    }
    return res, balance


FORBIDDEN = (TYPE_LATE_EARLY, TYPE_LATE_ALWAYS)


def bacon_attribution(bd, twfe_with_controls: float | None, headline: float, truth: float | None):
    """What the Goodman-Bacon decomposition says about the TWFE foil, as numbers for the report.

    The decomposition is of the *no-controls* TWFE coefficient ``twfe_no_controls`` (Theorem 1 of
    Goodman-Bacon 2021 holds without covariates). With ``w_f`` the weight and ``b_f`` the weighted
    mean estimate of the forbidden comparisons (later- vs earlier-treated, already-treated units as
    controls) and ``b_clean`` the weighted mean of the others,
    ``twfe_no_controls = b_clean + w_f * (b_f - b_clean)``; so its gap to the truth splits exactly
    into ``forbidden_contribution = w_f * (b_f - b_clean)`` and ``clean_gap = b_clean - truth``
    (the variance weights of the clean comparisons differ from the ATT's weights too).
    """
    two = bd.two_by_twos
    by = bd.by_type.reset_index().rename(columns={"index": "type"})
    by["contribution"] = by["weight"] * by["avg_estimate"]
    bad = two["type"].isin(FORBIDDEN)
    w_f = float(two.loc[bad, "weight"].sum())

    def wmean(mask) -> float | None:
        w = two.loc[mask, "weight"]
        return float((w * two.loc[mask, "estimate"]).sum() / w.sum()) if w.sum() > 0 else None

    b_f, b_clean = wmean(bad), wmean(~bad)
    forbidden = w_f * (b_f - b_clean) if b_f is not None and b_clean is not None else 0.0
    tw = float(bd.twfe)
    gap = None if truth is None else tw - truth
    return {
        "twfe": tw,  # the figure's reference line
        "twfe_no_controls": tw,
        "twfe_with_controls": twfe_with_controls,
        "headline_att": headline,
        "truth": truth,  # the total effect: what TWFE without controls targets
        "weighted_sum": bd.weighted_sum,
        "by_type": by,
        "forbidden_types": [t for t in FORBIDDEN if t in set(two["type"])],
        "forbidden_weight": w_f,
        "forbidden_estimate": b_f,
        "clean_estimate": b_clean,
        "forbidden_contribution": forbidden,
        "gap_to_truth": gap,
        "clean_gap_to_truth": None if truth is None or b_clean is None else b_clean - truth,
        "forbidden_share_of_gap": None if not gap else forbidden / gap,
        "gap_to_headline": tw - headline,
        "controls_shift": None if twfe_with_controls is None else twfe_with_controls - tw,
    }


def robustness_study(
    panel: pd.DataFrame,
    truth: dict,
    options: RobustnessConfig | dict | None = None,
    *,
    year_rule: str = TreatmentConfig.year_rule,
    cities_path: str | Path | None = None,
    progress: bool = False,
    min_control_share: float = MIN_CONTROL_SHARE,
    control_rule: dict | None = None,
    backend=None,
) -> dict:
    """Run the robustness checklist of the headline pilot-zone ATT (see the module docstring).

    Every check runs on the study's data (:func:`analysis.studies.rules.study_data` with
    ``control_rule``, params.yaml ``panel.control_rule``: the headline's covariates, the cities it
    keeps), is compared with the truth its covariates target over the cities it estimates
    (:func:`analysis.studies.rules.truth_for`) and, where it clusters, clusters at the study's
    level (:func:`analysis.studies.rules.inference_rule`).

    ``options``: params.yaml ``notebooks.robustness`` (see :func:`robustness_options`);
    ``year_rule``: params.yaml ``treatment.year_rule``, which codes the concurrent-policy rosters as
    the pilot zones of ``panel`` were coded; ``cities_path``: the city master that names the roster
    cities (default: data/interim/cities.csv); ``backend``: params.yaml ``parallel``, where the
    randomization draws and the specification curve run (``opt.n_jobs`` local processes by
    default); the numbers do not depend on it.
    """
    opt = robustness_options(options)
    y, d, g = DESIGN["yname"], DESIGN["dname"], DESIGN["gname"]
    idname, tname, seed, n_jobs = "city_code", "year", opt.seed, opt.n_jobs
    results, frames, timings = {}, {}, {}
    clock = time.perf_counter()
    # Rosters first: a bad roster row is reported before minutes of estimation.
    table = concurrent.load_concurrent_policies(
        opt.concurrent_policies, _city_master(cities_path), year_rule
    )
    design = study_design(panel, share=min_control_share, wild_cluster=opt.wild_cluster)
    sample = analysis_sample(panel, design)  # the one rule for blank cells (data/design.py)
    sd = study_data(sample, design, d, control_rule)  # the headline's covariates and cities
    panel, ctrl = sd.panel, sd.covariates
    rule = inference_rule(panel)
    settings = {
        **DESIGN,
        "controls": ctrl,
        "cluster": rule.cluster,
        "covariate_rule": sd.record(),
        **plain(opt),
        "progress": progress,
        "year_rule": year_rule,
        "cities_path": _relative(cities_path),
    }
    # the total effect (the headline's target: every check with the study's covariates) and, when
    # the DGP lets GDP respond to exports, the direct effect, over the cities the study keeps
    cities = sd.treated_cities
    target = truth_for(truth, d, ctrl, cities)
    total = truth_for(truth, d, ctrl, cities, target="total")
    direct = truth_for(truth, d, ctrl, cities, target="direct")
    att = None if total is None else total["att_overall"]
    results["truth"] = {
        "att_overall": att,
        "att_overall_direct": None if direct is None else direct["att_overall"],
        "target": None if target is None else target["target"],
        "n_cities": len(cities),
        "data_source": (truth or {}).get("data_source"),
    }
    head = headline_att(panel, d, g, ctrl, design, rule=rule)
    if is_skipped(head):  # nothing to check: the headline itself cannot be estimated on this panel
        why = head["skipped"]
        results = {
            "skipped": why,
            "truth": results["truth"],
            **controls_record(design),
            "skips": {"robustness checklist": why},
            "settings": settings,
        }
        frames["summary"] = pd.DataFrame(columns=SUMMARY_COLUMNS)
        return {
            "results": _clean(results),
            "frames": frames,
            "figures": figure_calls(_clean(results), frames),
            "timings": timings,
        }

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    def check(name: str, run, reason: str | None = None) -> None:
        """Run one check into ``results[name]`` (and its frames); a reason given by the design
        check, or a numerical failure on this panel, becomes a recorded skip."""
        if reason is None:
            _, reason = attempt(run)
        if reason is not None:
            results[name] = skipped(reason)
        lap(name)

    results["baseline"] = {**head, "controls": ctrl}
    lap("baseline")

    def foil() -> None:
        fit = twfe(panel, y, [d, *ctrl], idname, tname, rule.cluster)
        r = fit.tidy().set_index("term").loc[d]
        results["twfe_foil"] = {
            "label": FOIL_LABEL,
            **_row(*r[["estimate", "std_error", "conf_low", "conf_high", "p_value"]]),
            "cluster": rule.cluster,
            "nobs": fit.nobs,
        }

    check("twfe_foil", foil)

    # permuted on the analysis sample: the statistic rebuilds the covariates on every permutation
    data, strata, no_strata = _strata(sample, opt.placebo_within)

    def placebo() -> None:
        stat = study_statistic(design, d, sd.control_rule, rule.cluster)
        with warnings.catch_warnings():  # failed draws are counted in n_failed
            warnings.simplefilter("ignore")
            ri = permutation_test(
                data, stat, idname, g, within=strata, draws=opt.placebo_draws, seed=seed,
                statistic="t", n_jobs=n_jobs, backend=backend, progress=progress,
                label="BJS ATT",
            )  # fmt: skip
        results["placebo"] = {
            "estimate": ri.estimate,
            "std_error": ri.std_error,
            "t_stat": ri.actual,
            "statistic": "t",
            "p_value": ri.p_value,
            "p_text": format_p(ri.p_value, ri.n_draws, space=" "),
            "draws": ri.n_draws,
            "n_failed": ri.n_failed,
            "within": opt.placebo_within,
            "interpretation": RI_INTERPRETATION,
            "cluster": head["cluster"],
            "placebo_t_mean": float(np.nanmean(ri.draws)),
            "placebo_t_sd": float(np.nanstd(ri.draws, ddof=1)),
        }
        frames["placebo_draws"] = pd.DataFrame({"t_stat": ri.draws, "estimate": ri.draws_estimate})

    check("placebo", placebo, no_strata)

    def wild() -> None:
        # Webb weights below 12 clusters (the design check's rule), else the configured weights
        weights = "webb" if design.wild_bootstrap["weights"] == "webb" else opt.wild_weights
        wb = imputation_wild_bootstrap(
            panel, y, tname, idname, g, covariates=ctrl, cluster=opt.wild_cluster,
            B=opt.wild_draws, weights=weights, seed=seed,
        )  # fmt: skip
        results["wild_bootstrap"] = {
            **_row(wb.estimate, wb.std_error, *wb.conf_int, wb.p_value),
            "p_text": wb.p_value_text,
            "t_stat": wb.t_stat,
            "B": wb.B,
            "weights": wb.weights,
            "n_clusters": wb.n_clusters,
            "n_treated_clusters": wb.n_treated_clusters,
            "cluster": opt.wild_cluster,
        }

    check("wild_bootstrap", wild, design.wild_bootstrap.get("skip"))

    dr_covariates = [c for c in opt.dr.covariates if c in design.controls_used]
    dr_missing = [c for c in opt.dr.covariates if c not in design.controls_used]
    control_group = "nevertreated" if design.treatments[d].never_treated > 0 else "notyettreated"

    def dr() -> None:
        res, balance = doubly_robust_att(
            panel, dr_covariates, time_varying=ctrl, yname=y, gname=g, idname=idname,
            tname=tname, control_group=control_group, truth=truth, treatment=d,
            cluster=rule.cluster,
        )  # fmt: skip
        frames["dr_balance"] = balance
        results["dr"] = res
        if dr_missing:
            res["covariates_dropped"] = {
                c: design.controls_dropped.get(c, "not a usable control") for c in dr_missing
            }

    no_dr = (
        None
        if dr_covariates
        else "none of the baseline covariates (" + ", ".join(opt.dr.covariates) + ") is usable"
    )
    check("dr", dr, no_dr)

    years = concurrent.policy_years(table)
    conc_table = pd.DataFrame()

    def concurrent_check() -> None:
        nonlocal conc_table
        conc = concurrent.concurrent_policy_check(panel, years, d, g, ctrl, idname, tname)
        # dropping a policy's cities changes whose ATT is estimated: the truth of that sample
        # (the one rule over the sample's treated cities; None on real data)
        samples = {f"drop: {p}": [c] for p, c in zip(conc.policies, years.columns)}
        samples["drop: all policies"] = list(years.columns)

        def sample_truth(spec: str) -> float | None:
            sub = panel
            if spec in samples:
                sub = concurrent.drop_policy_cities(panel, years[samples[spec]], None, idname)
            kept = sub.loc[sub[g] > 0, idname].astype(str).unique()
            block = truth_for(truth, d, ctrl, sorted(kept))
            return None if block is None else block["att_overall"]

        conc.table["truth_same_cohorts"] = conc.table["specification"].map(sample_truth)
        frames["concurrent"] = conc_table = conc.table
        frames["concurrent_overlap"] = conc.overlap
        results["concurrent"] = {
            "policies": conc.policies,
            "table": conc.table,
            "overlap": conc.overlap,
        }

    check("concurrent", concurrent_check)

    hp = opt.heterogeneity

    def heterogeneity_check() -> None:
        het = heterogeneity.heterogeneity(
            panel,
            y,
            d,
            g,
            ctrl,
            list(hp.dimensions),
            idname,
            tname,
            rule.cluster,
            size_bins=hp.size_bins,
            adjust_draws=opt.multiple_testing.draws,
            seed=seed,
            adjust_weights=opt.multiple_testing.weights,
            true_effects=heterogeneity.true_effects(truth, d),
        )
        frames["heterogeneity"] = het.table
        frames["heterogeneity_tests"] = het.tests
        frames["heterogeneity_contrasts"] = het.contrasts
        results["heterogeneity"] = het.results()

    check("heterogeneity", heterogeneity_check)

    def bacon() -> None:
        bd = bacon_decomposition(panel, y, d, idname, tname)
        frames["bacon"] = bd.two_by_twos
        foil_est = results.get("twfe_foil", {}).get("estimate")
        results["bacon"] = bacon_attribution(bd, foil_est, head["estimate"], att)

    check(
        "bacon",
        bacon,
        None
        if design.balanced
        else f"the Goodman-Bacon decomposition needs a balanced panel; {design.cities_with_gaps} "
        "cities of this panel miss some years",
    )

    hd = opt.honestdid

    def honest() -> None:
        # on the headline (issue 18): its estimator, covariates, clusters and weights; the
        # universal-base CS version (honest_sensitivity) asked the same question of another
        # estimator with city clusters and is no longer run
        es = headline_event_study(sd, rule, hd.window, target)
        hs = headline_sensitivity(es, pretrend_power_record(es, rule), hd, seed=seed, cohort=g)
        results["honestdid"] = hs["results"]
        if is_skipped(hs["results"]):
            return
        frames["honestdid"] = hs["frames"]["honestdid"]
        frames["event_study_honestdid"] = hs["frames"]["event_study"]

    check("honestdid", honest)

    sp = opt.spec_curve

    def curve() -> None:
        # the study's rows and covariates, and the other ways of carrying the controls'
        # pre-designation information (the curve's controls dimension)
        study_panel, sets = spec_curve.study_control_sets(sample, design, d, control_rule)
        sc = spec_curve.spec_curve(
            study_panel,
            sets,
            {key: list(values) for key, values in sp.options.items()},
            yname=y,
            gname=g,
            idname=idname,
            tname=tname,
            draws=sp.draws,
            cluster=sp.cluster,
            seed=seed,
            n_jobs=n_jobs,
            backend=backend,
            progress=progress,
        )
        if sc.table.empty:
            raise ValueError("no specification of the curve is feasible on this panel")
        frames["spec_curve"] = sc.table
        frames["spec_curve_infeasible"] = sc.infeasible
        frames["spec_curve_duplicates"] = sc.duplicates
        frames["spec_curve_se_by_cluster"] = sc.se_by_cluster
        frames["spec_curve_null_draws"] = sc.null_draws
        overview = sc.overview()
        results["spec_curve"] = {
            **overview,
            "baseline_spec_id": sc.baseline,
            "options": sc.options,
            "control_sets": sc.control_sets,
            # the curve's median over the specifications of the headline estimand, with the
            # joint test's p-value (permutation-style null draws), not a min-max range as an interval
            "summary_row": {
                "check": "spec_curve",
                "label": f"Spec curve median ({overview['n_curve']} specifications, "
                + (
                    f"joint test {overview['joint_draws']} null draws)"
                    if overview["joint_draws"]
                    else "no joint test: spec_curve.draws = 0)"
                ),
                "estimate": overview["median"],
                "p_value": overview["joint_p_median"],
                "truth": results["truth"]["att_overall"],  # one estimand: the headline's
            },
        }

    check("spec_curve", curve)

    coding = timing.headline_coding(sample, g)  # the skip reason below and the check's codings
    no_codings = coding[2]

    def timing_check() -> None:
        # the other codings of the roster dates: not points of the curve (they misclassify), the
        # headline under each beside the truth of its cities
        tc = timing.timing_codings(
            sample, design, d, control_rule, rule, truth, g, d, coding=coding
        )
        if is_skipped(tc):
            raise ValueError(tc["skipped"])
        table = tc["table"]
        frames["timing"] = table
        other = table[~table["headline"] & table["skipped"].isna()]
        results["timing"] = {
            "headline_coding": tc["headline_coding"],
            "table": table,
            "summary_row": [
                {
                    "check": f"timing:{r['coding']}",
                    "label": f"BJS, timing: {r['coding']} (moves batches {r['batches_moved']})",
                    **{k: r[k] for k in ("estimate", "std_error", "conf_low", "conf_high",
                                         "p_value", "truth")},
                }
                for r in other.to_dict("records")
            ],
        }  # fmt: skip

    check("timing", timing_check, no_codings)

    cities = None

    def coordinates() -> pd.DataFrame:
        nonlocal cities
        if cities is None:
            cities = _city_master(cities_path)
        return cities

    def conley() -> None:
        cc = opt.conley
        data = with_coordinates(panel, coordinates())
        res = conley_check(data, y, d, g, ctrl, cc.cutoffs_km, tuple(cc.window))
        frames["conley"] = res["table"]
        frames["conley_event_study"] = res["event_study"]
        results["conley"] = res

    check("conley", conley)

    def spillover() -> None:
        sp = opt.spillover
        # exposure from every designated city of the sample, estimation on the study's rows
        res = spillover_study(
            panel, truth, coordinates(), ctrl, sp.rings, sp.cluster, full=sample,
            concurrent=sd.concurrent,
        )  # fmt: skip
        if is_skipped(res):
            raise ValueError(f"cannot be estimated: {res['skipped']}")
        expo = res.pop("exposure")
        exposed = expo[expo["status"].str.startswith("ring")].groupby("year").size()
        res["map_year"] = int(exposed.idxmax()) if len(exposed) else int(expo["year"].max())
        res["summary_row"] = summary_rows(res)
        frames["spillover"] = effects_frame(res)
        frames["spillover_event_study"] = res["event_study_spillover"]
        frames["spillover_exposure"] = expo
        results["spillover"] = res

    check("spillover", spillover)

    frames["summary"] = _summary(results, conc_table)
    results["summary"] = frames["summary"]
    results.update(controls_record(design))
    results["skips"] = {k: v["skipped"] for k, v in results.items() if is_skipped(v)}
    results["settings"] = settings
    return {
        "results": _clean(results),
        "frames": frames,
        "figures": figure_calls(_clean(results), frames),
        "timings": timings,
    }


_WITHIN_TEXT = {
    None: "unstratified",
    "province": "within provinces",
    "region_coastal": "within region x coast",
    "baseline_gdp": "within baseline GDP quintiles",
}


def _summary(results: dict, conc: pd.DataFrame) -> pd.DataFrame:
    """One row per check about the headline ATT (columns :data:`SUMMARY_COLUMNS`). Skipped checks
    have no row (they are listed in ``results["skips"]``); a results section of another module
    adds its rows through ``"summary_row"``."""
    r = results
    ran = {k: v for k, v in r.items() if isinstance(v, dict) and not is_skipped(v)}
    cols = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
    base = r["baseline"]
    total = (r.get("truth") or {}).get("att_overall")  # the headline's target
    rows = [
        {
            "check": "baseline",
            "label": "BJS imputation ATT, headline (SE by "
            + {"city_code": "city"}.get(base["cluster"], base["cluster"])
            + ")",
            **_row(**{k: base[k] for k in cols}),
            "truth": total,
        }
    ]
    if "placebo" in ran:
        pl = r["placebo"]
        rows.append(
            {
                "check": "placebo",
                # the p-value has its own column (and cell): not repeated in the label
                "label": f"BJS, randomization inference {_WITHIN_TEXT[pl['within']]}",
                **_row(pl["estimate"], pl["std_error"], p_value=pl["p_value"]),
                "truth": total,
            }
        )
    if "wild_bootstrap" in ran:
        wb = r["wild_bootstrap"]
        rows.append(
            {
                "check": "wild_bootstrap",
                "label": f"BJS, wild bootstrap CI ({wb['cluster']})",
                **_row(**{k: wb[k] for k in cols}),
                "truth": total,
            }
        )
    if "dr" in ran:
        rows.append(
            {
                "check": "dr",
                "label": "Doubly robust CS, baseline covariates",
                **_row(**{k: r["dr"][k] for k in cols}),
                "truth": total,
            }
        )
    for rec in conc.to_dict("records"):
        if rec["specification"] != "baseline" and not rec.get("skipped"):
            rows.append(
                {
                    "check": f"concurrent:{rec['specification']}",
                    "label": f"BJS, {rec['specification']}",
                    **_row(*(rec[k] for k in cols)),
                    "truth": rec.get("truth_same_cohorts"),  # the sample's own cities
                }
            )
    for name, section in ran.items():
        extra = section.get("summary_row")
        for row in [extra] if isinstance(extra, dict) else extra or []:
            rows.append({"check": row.get("check", name), "label": row["label"],
                         **_row(**{k: row.get(k, np.nan) for k in cols}),
                         "truth": row.get("truth")})  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# The check whose skip removes each frame (a figure of a skipped check carries the reason)
_CHECK_OF_FRAME = {
    "placebo_draws": "placebo",
    "dr_balance": "dr",
    "heterogeneity": "heterogeneity",
    "bacon": "bacon",
    "honestdid": "honestdid",
    "spec_curve": "spec_curve",
    "spillover": "spillover",
    "spillover_exposure": "spillover",
}


def figure_calls(results: dict, frames: dict | None = None) -> list[dict]:
    """The figure functions to call: ``{"function", "frame", "kwargs", "stem"}`` per figure, and
    ``"skipped": reason`` for a figure whose check did not run (no frame to draw)."""
    calls = []
    for func, frame, kwargs, stem in FIGURES:
        call = {"function": func, "frame": frame, "stem": stem}
        if frames is not None and (frame not in frames or results.get("skipped")):
            check = results.get(_CHECK_OF_FRAME.get(frame, frame), {})
            why = (
                results.get("skipped")
                or (check.get("skipped") if isinstance(check, dict) else None)
                or "the check did not run on this panel"
            )
            calls.append({**call, "kwargs": {}, "skipped": why})
            continue
        values = {name: (results.get(sec) or {}).get(key) for name, (sec, key) in kwargs.items()}
        calls.append({**call, "kwargs": values})
    return calls


def make_figures(study: dict, lang: str = "en") -> dict:
    """Call every figure function of ``study["figures"]``; returns ``{stem: Figure}`` (labels in ``lang``)."""
    return {
        c["stem"]: figure_function(c["function"])(
            study["frames"][c["frame"]], **c["kwargs"], lang=lang
        )
        for c in study["figures"]
        if "skipped" not in c
    }
