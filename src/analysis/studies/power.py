"""Power and minimum detectable effects (MDE) of the study's estimators on the panel in use.

Issue 21 (items 1 and 4): before reading an estimate, how large an effect could this panel have
detected? For the synthetic default or a user's processed panel (PANEL_SCHEMA columns):

1. **Calibrate** a model of the untreated outcome to the panel (:func:`calibrate_panel`,
   :func:`analysis.did.power.calibrate`): city effects, year effects, the controls' coefficients,
   the residual variance after city and year effects with its AR(1) coefficient (method of moments
   corrected for the within transformation) and the province-year shock variance, on the
   city-years untreated by every binary treatment. The design is the panel's own: its rows (so its
   gaps and blank cells), its controls, the actual treatment timing and cohort sizes.
2. **Simulate** untreated outcomes from it (parametric; :mod:`analysis.did.power` says why not a
   block bootstrap), inject an effect ``d * s`` on the treated city-years of one treatment, with
   ``s`` ``constant`` (1) or ``growing`` with years since treatment (``1 + e``), both scaled so that
   ``d`` is the true overall ATT on the treated city-years (the estimand of every overall ATT here).
3. **Estimate** with each estimator as the pilot-zone and rail studies run it
   (:func:`analysis.studies.binary.robust_estimates`' choices: the other treatments and the usable
   controls as covariates, CS on the control-adjusted outcome when it can, SA's clean controls,
   BJS with the leave-out variance; TWFE one dummy), city-clustered SEs, two-sided 5% normal test.
   Power at every ``d`` is exact from three estimator calls per replication and shape
   (polarization, :func:`analysis.did.power.polarize`); TWFE runs all replications in one
   fixed-effects projection (:func:`analysis.did.power.twfe_many`).
4. **Report** per treatment x estimator x shape: the power curve with Monte Carlo SEs, the MDE at
   80% power with its Monte Carlo SE (bootstrap over replications), the size at zero effect, the
   mean SE and the SD of the estimates at zero effect, and the analytic MDE
   ``(z_0.975 + z_0.8) * SD / slope`` beside the simulated one (``slope``: the estimate per unit of
   true ATT, 1 for an unbiased estimator; TWFE's is below 1 under growing effects).

:func:`power_study` returns one JSON-ready dict (``write_power`` writes it and the MDE table), the
input of a future ``design`` notebook / stage.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.design import BINARY_TREATMENTS, DesignCheck, analysis_sample, check_design
from analysis.did.estimate import estimate
from analysis.did.power import (
    UntreatedModel,
    analytic_mde,
    calibrate,
    mde,
    power_curve,
    simulate_draws,
    twfe_many,
)

OUTCOME, UNIT, TIME, GROUP = "log_exports", "city_code", "year", "province"
ESTIMATORS = ("twfe", "cs", "sa", "bjs")
LABELS = {
    "twfe": "TWFE (one dummy)",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "bjs": "Imputation (BJS)",
}
SHAPES = ("constant", "growing")
ALPHA, POWER = 0.05, 0.8
CURVE_POINTS = 21


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


def _covariates(design: DesignCheck) -> list[str]:
    """The untreated-outcome covariates of the calibration: usable controls (and broadband when
    the coverage study runs)."""
    extra = ["log_broadband"] if design.coverage is None else []
    return [*design.controls_used, *extra]


def calibrate_panel(sample: pd.DataFrame, design: DesignCheck) -> UntreatedModel:
    """:class:`UntreatedModel` of the analysis sample, calibrated on the city-years untreated by
    every binary treatment (their effects are not part of the untreated outcome)."""
    untreated = np.ones(len(sample), dtype=bool)
    for col in BINARY_TREATMENTS.values():
        g, t = sample[col].to_numpy(), sample[TIME].to_numpy()
        untreated &= ~((g > 0) & (t >= g))
    group = GROUP if GROUP in sample and sample[GROUP].nunique() > 1 else None
    return calibrate(sample, OUTCOME, UNIT, TIME, group, _covariates(design), untreated)


def estimator_plan(design: DesignCheck, treatment: str, cluster: str = UNIT) -> dict[str, dict]:
    """Per estimator: ``{"name", "covariates", "options"}`` as the binary studies run it, or
    ``{"skipped": reason}`` when the design check rules it out."""
    from analysis.studies.binary import _cs_variant, robust_options, treatment_covariates

    covariates = treatment_covariates(design, treatment) + list(design.controls_used)
    options = robust_options(design, treatment)
    cs_name, _ = _cs_variant(covariates, cluster, options)
    plan = {
        "twfe": {"name": "twfe", "covariates": covariates, "options": {}},
        "cs": {
            "name": cs_name,
            "covariates": covariates if cs_name == "cs_adjusted" else [],
            "options": dict(options.get(cs_name, {})),
        },
        "sa": {"name": "sa", "covariates": covariates, "options": options.get("sa", {})},
        "bjs": {
            "name": "bjs",
            "covariates": covariates,
            "options": {"leaveout": True, "horizons": None},
        },
    }
    reasons = design.treatments[treatment].estimators
    for key in plan:
        why = reasons.get(key) or reasons.get("twfe")
        if why:
            plan[key] = {"skipped": why}
    return plan


class _Estimator:
    """``fn(Y) -> (att, se)`` over the columns of an outcome matrix: one ``estimate()`` call per
    column (picklable, for joblib)."""

    def __init__(self, sample, cohort_col, cluster, plan):
        self.sample, self.cohort_col, self.cluster, self.plan = sample, cohort_col, cluster, plan

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
                    **self.plan["options"],
                )
                att[j], se[j] = est.att, est.se
        return att, se


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
    """The ``fn(Y) -> (att, se)`` of one planned estimator (TWFE batched unless ``batch=False``)."""
    if plan["name"] == "twfe" and batch:
        return _TWFEMany(sample, cohort_col, cluster, plan)
    if plan["name"] == "twfe":
        plan = {**plan, "options": {"method": "demean", **plan["options"]}}
    return _Estimator(sample, cohort_col, cluster, plan)


def _summarise(draws, n_reps: int, seed: int) -> dict:
    """Power curve, MDE, size and the zero-effect moments of one estimator x shape."""
    slope = float(draws.att_s)
    sd0 = float(np.std(draws.att0, ddof=1))
    mean_se = float(np.mean(np.sqrt(draws.var0)))
    ref = analytic_mde(sd0, ALPHA, POWER) / abs(slope) if slope else float("nan")
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
        "analytic_mde_true_sd": ref,
        "analytic_mde_mean_se": analytic_mde(mean_se, ALPHA, POWER) / abs(slope)
        if slope
        else float("nan"),
        "linearity_error": float(draws.linearity_error),
        "n_reps": int(n_reps),
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
    cluster: str = UNIT,
) -> dict:
    """Calibrate, simulate and summarise (module docstring); one JSON-ready dict:
    ``calibration``, ``settings``, ``treatments.<t>`` with ``cohorts``, ``n_treated_cities``,
    ``covariates`` and ``estimators.<e>`` (``label``, ``variant``, ``shapes.<s>`` summaries, or
    ``skipped``), and ``seconds``. Deterministic for ``seed`` (whatever ``n_jobs``)."""
    start = time.perf_counter()
    design = design or check_design(panel)
    sample = analysis_sample(panel, design).reset_index(drop=True)
    model = calibrate_panel(sample, design)
    out = {
        "calibration": {
            **model.summary(),
            "rows": len(sample),
            "cities": int(sample[UNIT].nunique()),
            "years": [int(sample[TIME].min()), int(sample[TIME].max())],
            "calibrated_on": "city-years untreated by every binary treatment",
        },
        "settings": {
            "n_reps": int(n_reps),
            "seed": int(seed),
            "alpha": ALPHA,
            "power": POWER,
            "shapes": list(shapes),
            "cluster": cluster,
            "test": "two-sided normal test of ATT = 0 with each estimator's own SE",
            "model": "parametric: city effects, year effects, controls, AR(1) city shocks, "
            "province-year shocks",
        },
        "treatments": {},
    }
    for treatment in treatments:
        cohort_col = BINARY_TREATMENTS[treatment]
        plan = estimator_plan(design, treatment, cluster)
        g = sample.groupby(UNIT)[cohort_col].first()
        record = {
            "cohorts": {
                str(int(k)): int(v) for k, v in g[g > 0].value_counts().sort_index().items()
            },
            "n_treated_cities": int((g > 0).sum()),
            "covariates": next((p["covariates"] for p in plan.values() if "covariates" in p), []),
            "estimators": {},
        }
        fns = {}
        for key in estimators:
            if "skipped" in plan[key]:
                record["estimators"][key] = {"label": LABELS[key], "skipped": plan[key]["skipped"]}
                continue
            fns[key] = estimator_fn(sample, cohort_col, plan[key], cluster)
        if fns:
            shape_rows = {s: effect_shape(sample, cohort_col, s) for s in shapes}
            draws = simulate_draws(model, fns, shape_rows, n_reps, seed, n_jobs)
            for key in fns:
                record["estimators"][key] = {
                    "label": LABELS[key],
                    "variant": plan[key]["name"],
                    "shapes": {s: _summarise(draws[key, s], n_reps, seed) for s in shapes},
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
            row = {"treatment": treatment, "estimator": est["label"]}
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
            if est["variant"] != key:
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
    sample = analysis_sample(panel, design).reset_index(drop=True)
    model = calibrate_panel(sample, design)
    cohort_col = BINARY_TREATMENTS[treatment]
    plan = estimator_plan(design, treatment)
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
