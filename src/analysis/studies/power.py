"""Power and minimum detectable effects (MDE) of the study's estimators on the panel in use.

Issue 21 (items 1 and 4): before reading an estimate, how large an effect could this panel have
detected? For the synthetic default or a user's processed panel (PANEL_SCHEMA columns):

1. **Calibrate** a model of the untreated outcome to the panel (:func:`calibrate_study`,
   :func:`analysis.did.power.calibrate`): city effects, year effects, the controls' coefficients,
   the residual variance after city and year effects with its AR(1) coefficient (method of moments
   corrected for the within transformation) and the province-year shock variance, on the
   city-years untreated by every binary treatment. The design is the panel's own: the study's
   estimation rows (so its gaps, blank cells and the cities the control rule leaves out), its
   covariates, the actual treatment timing and cohort sizes.
2. **Simulate** untreated outcomes from it (parametric; :mod:`analysis.did.power` says why not a
   block bootstrap), inject an effect ``d * s`` on the treated city-years of one treatment, with
   ``s`` ``constant`` (1) or ``growing`` with years since treatment (``1 + e``), both scaled so that
   ``d`` is the true overall ATT on the treated city-years (the estimand of every overall ATT here);
   on synthetic data also the true effect's own pattern (:func:`truth_shape`).
3. **Estimate** with each estimator as the pilot-zone and rail studies run it: the covariates of
   :func:`analysis.studies.rules.study_data` (controls the treatments move by their pre-treatment
   trends, the concurrent treatment by its cells), CS on the control-adjusted outcome when it can,
   SA's clean controls, BJS with the leave-out variance, TWFE one dummy, clustered by the study's
   ``cluster`` with a normal test; and the headline (BJS at the study's inference rule: province
   clusters, t(G-1)). Power at every ``d`` is exact from ``1 + shapes`` estimator calls per
   replication (polarization, :func:`analysis.did.power.polarize`); TWFE runs all replications
   in one fixed-effects projection (:func:`analysis.did.power.twfe_many`).
4. **Report** per treatment x estimator x shape: the power curve with Monte Carlo SEs, the MDE at
   80% power with its Monte Carlo SE (bootstrap over replications), the size at zero effect, the
   mean SE and the SD of the estimates at zero effect, and the analytic MDE
   ``(c + z_0.8) * SD / slope`` beside the simulated one (``c`` the test's critical value;
   ``slope``: the estimate per unit of true ATT, 1 for an unbiased estimator; TWFE's is below 1
   under growing effects); on synthetic data the headline's power against the true effect.

:func:`power_study` returns one JSON-ready dict (``write_power`` writes it and the MDE table); the
``design`` notebook / stage narrates it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.design import BINARY_TREATMENTS, DesignCheck, analysis_sample, check_design
from analysis.did.estimate import estimate
from analysis.did.inference import critical_value
from analysis.did.power import (
    UntreatedModel,
    analytic_mde,
    calibrate,
    mde,
    power_curve,
    simulate_draws,
    twfe_many,
)
from analysis.studies.rails import link_study_data, link_truth
from analysis.studies.rules import (
    InferenceRule,
    StudyData,
    imputation_options,
    inference_rule,
    study_data,
    truth_for,
    variance_cells,
)

OUTCOME, UNIT, TIME, GROUP = "log_exports", "city_code", "year", "province"
HEADLINE = "headline"
RAIL_LINK = "cre"  # the rail study is the China-Europe Railway Express's (studies/rails.py)
ESTIMATORS = ("twfe", "cs", "sa", "bjs", HEADLINE)
LABELS = {
    "twfe": "TWFE (one dummy)",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "bjs": "Imputation (BJS)",
    HEADLINE: "Headline (BJS, study clusters, t(G-1))",
}
SHAPES = ("constant", "growing")
ALPHA, POWER = 0.05, 0.8
CURVE_POINTS = 21
TRUTH_SHAPE = "truth"  # the true effect's own pattern (synthetic data)


def effect_shape(panel: pd.DataFrame, cohort_col: str, shape: str) -> np.ndarray:
    """Effect per row for a true overall ATT of 1 on the treated city-years: ``constant`` (1 on
    every treated city-year) or ``growing`` (proportional to 1 + years since treatment)."""
    g = panel[cohort_col].to_numpy()
    t = panel[TIME].to_numpy()
    treated = (g > 0) & (t >= g)
    if shape == "constant":
        w = treated.astype(float)
    elif shape == "growing":
        w = np.where(treated, 1.0 + (t - g), 0.0)
    else:
        raise ValueError(f"unknown effect shape {shape!r}; use one of {SHAPES}")
    if not treated.any():
        raise ValueError(f"no treated city-year in {cohort_col}")
    return w / w[treated].mean()


def untreated_rows(panel: pd.DataFrame) -> np.ndarray:
    """City-years untreated by every binary treatment (their effects are not part of the
    untreated outcome)."""
    untreated = np.ones(len(panel), dtype=bool)
    t = panel[TIME].to_numpy()
    for col in BINARY_TREATMENTS.values():
        if col in panel:
            g = panel[col].to_numpy()
            untreated &= ~((g > 0) & (t >= g))
    return untreated


def calibrate_study(sd: StudyData) -> UntreatedModel:
    """:class:`UntreatedModel` of a binary study's estimation data (``sd``, from
    :func:`analysis.studies.rules.study_data`), calibrated on the city-years untreated by every
    binary treatment.

    Covariates: the study's own columns minus the concurrent treatments' cell dummies (zero on
    the untreated rows): a control the treatments move enters as its imputed untreated path
    (``<control>_pretrend``), which equals the observed control on the calibration rows. So the
    coefficients are those of the observed controls, and the simulated untreated outcome of a
    treated city-year carries the controls on their untreated paths: the counterfactual of the
    study's estimand (the total effect), which its covariates explain exactly. (With the observed
    controls, the part of a treatment's effect that runs through them would be drawn into the
    "untreated" outcome and read as a bias at zero effect.)"""
    dummies = {c for conc in sd.concurrent.values() for c in conc.columns}
    covariates = [c for c in sd.covariates if c not in dummies]
    panel = sd.panel
    group = GROUP if GROUP in panel and panel[GROUP].nunique() > 1 else None
    return calibrate(panel, OUTCOME, UNIT, TIME, group, covariates, untreated_rows(panel))


def truth_shape(
    panel: pd.DataFrame, cohort_col: str, block: dict | None
) -> tuple[np.ndarray, float] | None:
    """The true effect's pattern per row, from the truth's ATT(g, t) (mean effect of cohort g in
    year t over the cities a study keeps; :func:`analysis.studies.rules.truth_for`), scaled to a
    mean of 1 over the treated city-years, and that mean (the true ATT on these rows): the shape
    times the mean is the true effect. None without a truth, or when a treated city-year has no
    true effect in the truth (the truth does not describe this panel)."""
    if not block or not block.get("att_gt"):
        return None
    cells = {(int(r["cohort"]), int(r["year"])): float(r["att"]) for r in block["att_gt"]}
    g, t = panel[cohort_col].to_numpy(), panel[TIME].to_numpy()
    treated = (g > 0) & (t >= g)
    tau = np.zeros(len(panel))
    for i in np.flatnonzero(treated):
        value = cells.get((int(g[i]), int(t[i])))
        if value is None:
            return None
        tau[i] = value
    att = float(tau[treated].mean())
    if not np.isfinite(att) or att == 0:
        return None
    return tau / att, att


def _headline_options(sd: StudyData, rule: InferenceRule) -> dict:
    return {**imputation_options(variance_cells(sd.panel, sd.cohort, rule.cluster)),
            "horizons": None}  # fmt: skip


def estimator_plan(
    sd: StudyData,
    design: DesignCheck,
    cluster: str = UNIT,
    rule: InferenceRule | None = None,
) -> dict[str, dict]:
    """Per estimator: ``{"name", "covariates", "options", "cluster", "n_clusters"}`` as the
    binary study of ``sd.treatment`` runs it (the study's covariates, :func:`robust_options`; the
    overall effects of TWFE, CS, SA and BJS clustered by ``cluster`` with a normal test; the
    headline BJS at the study's inference rule, ``n_clusters`` for its t(G-1) test), or
    ``{"skipped": reason}`` when the design check rules it out."""
    from analysis.studies.binary import _cs_variant, robust_options

    treatment, covariates = sd.treatment, list(sd.covariates)
    rule = rule or inference_rule(sd.panel)
    options = robust_options(design, treatment)
    # the covariate-adjusted CS clusters by city only (binary._cs_variant says which level)
    cs_name, cs_cluster, _ = _cs_variant(covariates, cluster, options)
    bjs = {"leaveout": True, "horizons": None}  # overall ATT only (no event study, no pre-test)
    common = {"cluster": cluster, "n_clusters": None}
    plan = {
        "twfe": {"name": "twfe", "covariates": covariates, "options": {}, **common},
        "cs": {
            "name": cs_name,
            "covariates": covariates if cs_name == "cs_adjusted" else [],
            "options": dict(options.get(cs_name, {})),
            **common,
            "cluster": cs_cluster,
        },
        "sa": {"name": "sa", "covariates": covariates, "options": options.get("sa", {}), **common},
        "bjs": {"name": "bjs", "covariates": covariates, "options": bjs, **common},
        "headline": {
            "name": "bjs",
            "covariates": covariates,
            # the headline's variance cells (analysis.studies.rules.variance_cells)
            "options": _headline_options(sd, rule),
            "cluster": rule.cluster,
            "n_clusters": rule.n_clusters,
        },
    }
    reasons = design.treatments[treatment].estimators
    for key in plan:
        why = reasons.get("bjs" if key == "headline" else key) or reasons.get("twfe")
        if why:
            plan[key] = {"skipped": why}
    return plan


class _Estimator:
    """``fn(Y) -> (att, se)`` over the columns of an outcome matrix: one ``estimate()`` call per
    column (picklable, for joblib). The covariate-adjusted CS shares its covariates' ATT(g,t)
    across the calls (:class:`analysis.did.callaway_santanna.CovariateCache`: the design is fixed,
    only the outcome is drawn; they were ~90% of a call)."""

    def __init__(self, sample, cohort_col, cluster, plan):
        self.sample, self.cohort_col, self.cluster, self.plan = sample, cohort_col, cluster, plan
        self.options = dict(plan["options"])
        if plan["name"] == "cs_adjusted":
            from analysis.did.callaway_santanna import CovariateCache

            self.options["covariate_cache"] = CovariateCache()

    def __call__(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        att, se = np.empty(Y.shape[1]), np.empty(Y.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for j in range(Y.shape[1]):
                est = estimate(
                    self.plan["name"],
                    self.sample.assign(**{OUTCOME: Y[:, j]}),
                    y=OUTCOME,
                    unit=UNIT,
                    time=TIME,
                    cohort=self.cohort_col,
                    covariates=self.plan["covariates"],
                    cluster=self.cluster,
                    **self.options,
                )
                att[j], se[j] = est.att, est.se
        return att, se


class _BJSMany:
    """The BJS plans (``bjs``, the headline) for all columns at once: the first stage's design,
    factorisation and weights built once (:func:`analysis.did.imputation.imputation_many`; the
    numbers of one ``estimate("bjs")`` call per column)."""

    def __init__(self, sample, cohort_col, cluster, plan):
        self.sample, self.cohort_col, self.cluster, self.plan = sample, cohort_col, cluster, plan

    def __call__(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from analysis.did.imputation import imputation_many

        options = dict(self.plan["options"])
        horizons = options.pop("horizons", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est, se = imputation_many(
                self.sample, Y, TIME, UNIT, self.cohort_col, self.plan["covariates"] or None,
                horizons=horizons, cluster=self.cluster, **options,
            )  # fmt: skip
        return est[:, 0], se[:, 0]


class _TWFEMany:
    """TWFE one dummy with the plan's covariates for all columns at once (one FE projection)."""

    def __init__(self, sample, cohort_col, cluster, plan):
        g, t = sample[cohort_col].to_numpy(), sample[TIME].to_numpy()
        self.treat = ((g > 0) & (t >= g)).astype(float)
        cov = plan["covariates"]
        self.x = sample[cov].to_numpy(dtype=float) if cov else None
        self.unit = sample[UNIT].to_numpy()
        self.time = t
        self.cluster = sample[cluster].to_numpy()

    def __call__(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return twfe_many(Y, self.treat, self.unit, self.time, self.x, self.cluster)


def estimator_fn(sample, cohort_col: str, plan: dict, cluster: str = UNIT, batch: bool = True):
    """The ``fn(Y) -> (att, se)`` of one planned estimator (TWFE and BJS batched unless
    ``batch=False``), clustered by the plan's ``cluster`` (else ``cluster``)."""
    cluster = plan.get("cluster") or cluster
    if plan["name"] == "twfe" and batch:
        return _TWFEMany(sample, cohort_col, cluster, plan)
    if plan["name"] == "bjs" and batch:
        return _BJSMany(sample, cohort_col, cluster, plan)
    if plan["name"] == "twfe":
        plan = {**plan, "options": {"method": "demean", **plan["options"]}}
    return _Estimator(sample, cohort_col, cluster, plan)


def _summarise(draws, n_reps: int, seed: int) -> dict:
    """Power curve, MDE, size and the zero-effect moments of one estimator x shape."""
    slope = float(draws.att_s)
    sd0 = float(np.std(draws.att0, ddof=1))
    mean_se = float(np.mean(np.sqrt(draws.var0)))
    crit = critical_value(ALPHA, draws.n_clusters)
    z = stats.norm.ppf(POWER)
    # the analytic benchmark with the test's own critical value (t(G-1) for the headline)
    ref = (crit + z) * sd0 / abs(slope) if slope else float("nan")
    found = mde(draws, 3 * ref, ALPHA, POWER, seed=seed)
    if not found["reached"]:
        found = mde(draws, 10 * ref, ALPHA, POWER, seed=seed)
    top = found["mde"] * 1.6 if found["reached"] else found["searched_up_to"]
    grid = np.linspace(0.0, top, CURVE_POINTS)
    p, p_se = power_curve(draws, grid, ALPHA)
    return {
        **found,
        "size": float(p[0]),
        "size_mc_se": float(p_se[0]),
        "power_curve": [
            {"effect": float(d), "power": float(a), "mc_se": float(b)}
            for d, a, b in zip(grid, p, p_se)
        ],
        "slope": slope,
        "sd_estimate_at_zero": sd0,
        "mean_se_at_zero": mean_se,
        "critical_value": crit,
        "analytic_mde_true_sd": ref,
        "analytic_mde_mean_se": (crit + z) * mean_se / abs(slope) if slope else float("nan"),
        "linearity_error": _linearity(draws),
        "n_reps": int(n_reps),
    }


def _linearity(draws) -> float:
    """The linearity check's relative error, to 1e-10: at machine precision (~1e-13 on a linear
    estimator) its last digits are the CPU's SIMD kernels', not a property of the design, and
    would change the results file from one machine to another (issue 16's check)."""
    return round(float(draws.linearity_error), 10)


def _at_truth(draws, att: float, mdes: dict) -> dict:
    """The pre-registered-style verdict for the true effect ``att`` (its own pattern): power
    against it with its Monte Carlo SE, and whether it lies above the MDE of each shape."""
    p, p_se = power_curve(draws, np.array([att]), ALPHA)
    return {
        "att": float(att),
        "power": float(p[0]),
        "power_mc_se": float(p_se[0]),
        "above_mde": {s: bool(m["reached"] and att >= m["mde"]) for s, m in mdes.items()},
        "linearity_error": _linearity(draws),
    }


def power_study(
    panel: pd.DataFrame,
    design: DesignCheck | None = None,
    treatments=tuple(BINARY_TREATMENTS),
    estimators=ESTIMATORS,
    shapes=SHAPES,
    n_reps: int = 200,
    seed: int = 20240601,
    n_jobs: int = 1,
    cluster: str | Mapping[str, str] = UNIT,
    reps_by_estimator: Mapping[str, int] | None = None,
    control_rule: Mapping[str, str] | None = None,
    truth: dict | None = None,
    backend=None,
    progress: bool = False,
) -> dict:
    """Calibrate, simulate and summarise (module docstring); one JSON-ready dict: ``settings``,
    ``calibration`` (of the first treatment studied; each treatment has its own), and
    ``treatments.<t>`` with ``calibration``, ``cohorts``, ``n_treated_cities``, ``covariates``,
    ``inference`` (the study's rule), ``estimators.<e>`` (``label``, ``variant``, ``cluster``,
    ``shapes.<s>`` summaries, or ``skipped``) and, with a ``truth`` (truth.json), ``truth``: the
    headline's power against the true effect's own pattern (:func:`truth_shape`); ``seconds``.

    ``n_reps``: simulated panels, or per estimator ``reps_by_estimator`` (the first of the same
    draws: CS and SA cost 5-20 times BJS); ``cluster``: the overall effects' clustering (params.yaml ``notebooks.<study>.cluster``), one
    for all or per treatment; ``control_rule``: params.yaml ``panel.control_rule``; ``backend``,
    ``n_jobs``, ``progress``: :func:`analysis.did.power.simulate_draws`. Deterministic for
    ``seed``, whatever the backend and ``n_jobs``."""
    start = time.perf_counter()
    design = design or check_design(panel)
    sample = analysis_sample(panel, design).reset_index(drop=True)
    out = {
        "settings": {
            "n_reps": int(n_reps),
            "n_reps_by_estimator": {k: int(v) for k, v in (reps_by_estimator or {}).items()},
            "seed": int(seed),
            "alpha": ALPHA,
            "power": POWER,
            "shapes": list(shapes),
            "test": "two-sided test of ATT = 0 with each estimator's own SE: normal critical "
            "value; the headline's t(G-1) at the study's clustering level",
            "model": "parametric: city effects, year effects, controls (on their untreated "
            "paths), AR(1) city shocks, province-year shocks",
            "calibrated_on": "city-years untreated by every binary treatment",
        },
        "treatments": {},
    }
    for treatment in treatments:
        cohort_col = BINARY_TREATMENTS[treatment]
        cl = cluster.get(treatment, UNIT) if isinstance(cluster, Mapping) else cluster
        why = design.treatments[treatment].estimators.get("twfe")
        if why:  # the design rules out every estimator of this treatment
            out["treatments"][treatment] = {
                "skipped": why,
                "estimators": {k: {"label": LABELS[k], "skipped": why} for k in estimators},
            }
            continue
        if treatment == "rail":  # the rail notebook's study: the CRE on its own link
            sd = link_study_data(panel, RAIL_LINK, control_rule=control_rule).study
        else:
            sd = study_data(sample, design, treatment, control_rule)
        data = sd.panel
        rule = inference_rule(data)
        if cl in (None, "headline"):  # params.yaml's "headline": the study's own level
            cl = rule.cluster
        model = calibrate_study(sd)
        plan = estimator_plan(sd, design, cl, rule)
        g = data.groupby(UNIT)[cohort_col].first()
        calibration = {
            **model.summary(),
            "rows": len(data),
            "cities": int(data[UNIT].nunique()),
            "years": [int(data[TIME].min()), int(data[TIME].max())],
        }
        out.setdefault("calibration", calibration)
        record = {
            "calibration": calibration,
            "cohorts": {
                str(int(k)): int(v) for k, v in g[g > 0].value_counts().sort_index().items()
            },
            "n_treated_cities": int((g > 0).sum()),
            "covariates": list(sd.covariates),
            "cities_left_out": dict(sd.left_out),
            "years_left_out": dict(sd.years_left_out),
            "inference": rule.record(),
            "estimators": {},
        }
        fns = {}
        for key in estimators:
            if "skipped" in plan[key]:
                record["estimators"][key] = {"label": LABELS[key], "skipped": plan[key]["skipped"]}
                continue
            fns[key] = estimator_fn(data, cohort_col, plan[key])
        if not fns:
            out["treatments"][treatment] = record
            continue
        shape_rows = {s: effect_shape(data, cohort_col, s) for s in shapes}
        pairs = [(k, s) for k in fns for s in shapes]
        own = link_truth(truth, RAIL_LINK) if truth and treatment == "rail" else truth
        block = (
            truth_for(own, treatment, sd.covariates, sd.treated_cities, exclude=sd.censored)
            if truth
            else None
        )
        true = truth_shape(data, cohort_col, block)
        if true is not None and HEADLINE in fns:
            shape_rows[TRUTH_SHAPE] = true[0]
            pairs.append((HEADLINE, TRUTH_SHAPE))
        reps = {k: int((reps_by_estimator or {}).get(k, n_reps)) for k in fns}
        draws = simulate_draws(
            model, fns, shape_rows, reps, seed, n_jobs, chunk=5, backend=backend, pairs=pairs,
            progress=progress,
        )  # fmt: skip
        for (key, _), d in draws.items():
            d.n_clusters = plan[key]["n_clusters"]
        for key in fns:
            record["estimators"][key] = {
                "label": LABELS[key],
                "variant": plan[key]["name"],
                "cluster": plan[key]["cluster"],
                "shapes": {s: _summarise(draws[key, s], reps[key], seed) for s in shapes},
            }
        if true is not None and HEADLINE in fns:
            head = record["estimators"][HEADLINE]["shapes"]
            record["truth"] = {
                "target": block.get("target"),
                "att_overall": float(block["att_overall"]),
                **_at_truth(draws[HEADLINE, TRUTH_SHAPE], true[1], head),
            }
        out["treatments"][treatment] = record
    out["seconds"] = time.perf_counter() - start
    return out


def mde_table(result: dict) -> pd.DataFrame:
    """One row per treatment x estimator: MDE (and its MC SE) per shape, size at zero effect,
    or the reason the estimator is skipped."""
    rows = []
    shapes = result["settings"]["shapes"]
    for treatment, rec in result["treatments"].items():
        for key, est in rec["estimators"].items():
            row = {"treatment": treatment, "estimator_id": key, "estimator": est["label"]}
            if "skipped" in est:
                rows.append({**row, "note": "skipped: " + est["skipped"]})
                continue
            for s in shapes:
                r = est["shapes"][s]
                row[f"mde_{s}"] = r["mde"]
                row[f"mde_{s}_mc_se"] = r["mc_se"]
            first = est["shapes"][shapes[0]]
            row["size"] = first["size"]
            row["size_mc_se"] = first["size_mc_se"]
            row["mean_se"] = first["mean_se_at_zero"]
            row["cluster"] = est["cluster"]
            if est["variant"] not in (key, "bjs"):
                row["note"] = est["variant"]
            rows.append(row)
    return pd.DataFrame(rows)


def format_table(result: dict) -> str:
    """The MDE table as fixed-width text (the CLI's output): MDE (Monte Carlo SE) per shape, the
    size at zero effect (MC SE) and the mean SE at zero effect."""
    shapes = result["settings"]["shapes"]
    head = (
        f"{'treatment':<10}{'estimator':<40}"
        + "".join(f"{'MDE ' + s:>18}" for s in shapes)
        + f"{'size at 0':>16}{'mean SE':>10}"
    )
    lines = [head, "-" * len(head)]
    for treatment, rec in result["treatments"].items():
        for est in rec["estimators"].values():
            label = est["label"] + (
                " (control-adjusted)" if est.get("variant") == "cs_adjusted" else ""
            )
            text = f"{treatment:<10}{label:<40}"
            if "skipped" in est:
                lines.append(text + "skipped: " + est["skipped"])
                continue
            for s in shapes:
                r = est["shapes"][s]
                cell = (
                    f"{r['mde']:.3f} ({r['mc_se']:.3f})"
                    if r["reached"]
                    else f"> {r['searched_up_to']:.3f}"
                )
                text += f"{cell:>18}"
            first = est["shapes"][shapes[0]]
            text += f"{first['size']:.3f} ({first['size_mc_se']:.3f})".rjust(16)
            text += f"{first['mean_se_at_zero']:>10.3f}"
            lines.append(text)
    return "\n".join(lines)


def write_power(result: dict, folder: Path | str) -> list[Path]:
    """``power.json`` (the whole result) and ``power_mde.csv`` (the MDE table) in ``folder``."""
    from analysis import results_io

    folder = Path(folder)
    return [
        results_io.write_json(folder / "power.json", result),
        results_io.write_table(mde_table(result), folder / "power_mde.csv"),
    ]


def speedup(
    panel: pd.DataFrame,
    treatment: str = "pilot",
    estimators=ESTIMATORS,
    n_reps: int = 3,
    n_grid: int = 10,
    seed: int = 1,
    design: DesignCheck | None = None,
) -> pd.DataFrame:
    """What reusing the design saves, per estimator, on ``n_reps`` draws and both shapes: ours
    (TWFE: all columns in one FE projection; every estimator: power at any effect from
    ``1 + shapes`` calls per replication by polarization) against a naive loop that calls
    ``estimate()`` once per replication, shape and each of ``n_grid`` effect sizes. Columns:
    seconds of each, ratio naive / ours, and the largest difference of the t statistics on the
    grid (the two give the same numbers)."""
    design = design or check_design(panel)
    sd = study_data(analysis_sample(panel, design).reset_index(drop=True), design, treatment)
    sample = sd.panel
    model = calibrate_study(sd)
    cohort_col = BINARY_TREATMENTS[treatment]
    plan = estimator_plan(sd, design)
    shapes = {s: effect_shape(sample, cohort_col, s) for s in SHAPES}
    rows = []
    for key in estimators:
        if "skipped" in plan[key]:
            continue
        fast = estimator_fn(sample, cohort_col, plan[key])
        slow = estimator_fn(sample, cohort_col, plan[key], batch=False)
        fast(shapes[SHAPES[0]][:, None])  # warm-up (imports)
        start = time.perf_counter()
        draws = simulate_draws(model, {key: fast}, shapes, n_reps, seed)
        ours = time.perf_counter() - start
        seeds = np.random.SeedSequence(seed).spawn(n_reps)
        start = time.perf_counter()
        worst = 0.0
        for shape_name, s in shapes.items():
            d_max = 2 * analytic_mde(float(np.std(draws[key, shape_name].att0, ddof=1)) or 0.1)
            grid = np.linspace(d_max / n_grid, d_max, n_grid)
            for r, ss in enumerate(seeds):
                y0 = model.draw(np.random.default_rng(ss))
                att, se = slow(y0[:, None] + s[:, None] * grid[None, :])
                t_naive = att / se
                t_ours = draws[key, shape_name].t(grid)[r]
                worst = max(worst, float(np.max(np.abs(t_naive - t_ours))))
        naive = time.perf_counter() - start
        rows.append(
            {
                "estimator": key,
                "ours_s": ours,
                "naive_s": naive,
                "ratio": naive / ours,
                "max_abs_t_diff": worst,
                "calls_ours_per_rep": 1 + len(shapes),
                "calls_naive_per_rep": n_grid * len(shapes),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- what the notebook shows
def calibration_table(result: dict) -> pd.DataFrame:
    """The calibrated untreated-outcome model of each treatment's study (columns) as one row per
    quantity: variances in squared log points."""
    rows = {}
    for treatment, rec in result["treatments"].items():
        cal = rec.get("calibration")
        if cal is None:
            continue
        diag = cal["diagnostics"]
        rows[treatment] = {
            "cities": cal["cities"],
            "city-years": cal["rows"],
            "years": f"{cal['years'][0]}-{cal['years'][1]}",
            "variance of city effects": cal["unit_sd"] ** 2,
            "residual variance (city shocks)": cal["sigma"] ** 2,
            "AR(1) of city shocks": cal["rho"],
            "variance of province-year shocks": cal["group_sd"] ** 2,
            "province-year share of shock variance": diag["group_share_of_variance"],
            "naive residual AR(1) (after the within transformation)": diag["naive_residual_ar1"],
            "excess kurtosis of residuals": diag["excess_kurtosis"],
            "city-years used (untreated)": diag["n_rows_used"],
        }
    return pd.DataFrame(rows)


def cohort_table(result: dict) -> pd.DataFrame:
    """Treated cities by first treatment year (rows), per treatment (columns)."""
    frame = pd.DataFrame(
        {
            t: pd.Series(rec.get("cohorts", {}), dtype="Int64")
            for t, rec in result["treatments"].items()
        }
    )
    frame.index.name = "first treatment year"
    return frame.sort_index().fillna(0)


NAMES = {"pilot": "Pilot zones", "rail": "Rail links"}


def verdict_sentences(result: dict) -> list[str]:
    """The pre-registered-style statement per treatment: the headline test's MDE per effect shape
    (MC SE) and its size; with a truth (synthetic data), the true effect against it and the power
    against the true effect; without one, what a non-significant estimate can and cannot rule out."""
    out = []
    shapes = result["settings"]["shapes"]
    what = {
        "constant": "a constant effect",
        "growing": "an effect growing with years since treatment",
    }
    for treatment, rec in result["treatments"].items():
        name = NAMES.get(treatment, treatment)
        head = rec.get("estimators", {}).get(HEADLINE, {})
        if "shapes" not in head:
            why = head.get("skipped") or rec.get("skipped") or "not simulated"
            out.append(f"**{name}.** No verdict: the headline cannot be estimated ({why}).")
            continue
        inf = rec["inference"]
        parts = []
        for s in shapes:
            r = head["shapes"][s]
            parts.append(
                f"{what.get(s, s)} of {r['mde']:.3f} log points (MC SE {r['mc_se']:.3f})"
                if r["reached"]
                else f"{what.get(s, s)}: not even at {r['searched_up_to']:.3f} log points"
            )
        first = head["shapes"][shapes[0]]
        text = (
            f"**{name}.** The headline test (BJS, SE clustered by {inf['cluster']}, "
            f"{inf['n_clusters']} clusters, critical value {inf['critical_value']:.3f}) detects "
            + " and ".join(parts)
            + f" with 80% probability; without an effect it rejects in {first['size']:.1%} of "
            f"panels (MC SE {first['size_mc_se']:.1%}; {first['n_reps']} simulated panels)."
        )
        tr = rec.get("truth")
        if tr is not None:
            above = [s for s in shapes if tr["above_mde"].get(s)]
            position = (
                "above the MDE of every shape"
                if len(above) == len(shapes)
                else "below the MDE of every shape"
                if not above
                else "above the MDE of the " + ", ".join(above) + " shape only"
            )
            text += (
                f" The true effect of this synthetic panel, {tr['att']:.3f}, lies {position}: "
                f"the headline test detects it (with its own pattern by cohort and year) in "
                f"{tr['power']:.0%} of simulated panels (MC SE {tr['power_mc_se']:.0%})."
            )
        else:
            text += (
                " No true effect is known on this panel: a non-significant headline estimate "
                "speaks against effects of about the MDE or larger, not against smaller ones."
            )
        out.append(text)
    return out
