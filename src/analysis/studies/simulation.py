"""Repeated simulations of the synthetic DGP (``analysis.data.synthetic``), whose truth is known.

Each replication simulates the city panel with a new seed (the real city list and treatment dates,
coded by the default ``treatment.year_rule``) and estimates the overall ATT of the pilot zones on the
treated city-years. One loop (:func:`simulate`) serves the pipeline's simulation notebook
(:func:`twfe_vs_imputation`: two designs, ``COMPARISON``) and the Monte Carlo of
``make test-slow`` (:func:`run_monte_carlo`, ``MONTE_CARLO``; the robustness checks' nominal
properties: :func:`randomization_rejection`, :func:`check_coverage`).

**Which truth.** Under the default DGP GDP per capita responds to the export effect
(``synthetic.gdp_export_feedback``): the ATT of the truth file (``truth``) is the *total* effect on
log exports, ``att_overall_direct`` (``truth_direct``) the effect with GDP held on its untreated
path. An estimator with log GDP per capita in its untreated-outcome model (TWFE with controls,
CS on the control-adjusted outcome, SA, BJS, the headline) conditions on a mediator and targets the
direct effect; CS without covariates targets the total effect.
``TARGET`` records which, and the summary measures each estimator against its own target
(``target`` column) and, for the covariate-adjusted ones, also reports the bias against the total
effect (``bias_total``): the cost of the bad control, ``beta_gdp * feedback`` (6%) of the effect.

**Estimators** (``ESTIMATORS``):

* ``twfe``: one post-treatment dummy with the controls (biased: effects are heterogeneous across
  cohorts and grow with time since designation; Goodman-Bacon 2021);
* ``cs_nocov``: Callaway & Sant'Anna (2021) simple ATT, never-treated controls, no covariates (the
  CS of the pilot-zones notebook) -- biased *by design*: early-pilot cities' GDP per capita grows
  faster and broadband spreads earlier in the east, so unconditional parallel trends fail;
* ``cs_tv``: CS on the outcome net of the time-varying controls (``cs_adjusted``: coefficients from
  an FE regression on untreated observations, with the first-stage error in the influence function);
* ``sa``: Sun & Abraham (2021) interaction-weighted ATT with the controls entering linearly;
* ``bjs``: Borusyak, Jaravel & Spiess (2024) imputation with the controls in the Y(0) model and the
  leave-out variance (App. A.6), city-clustered SE and normal CI (the comparison row);
* ``headline``: the study's headline (:func:`analysis.studies.binary.headline_att`): the same BJS
  point estimate with the larger of the city- and province-clustered SEs and a t(G-1) CI.

``cs_tv_fixedw`` and ``sa_fixedw`` (Monte Carlo only) are the same point estimates with the variance
of the cohort-share weights left out: the treatment dates (hence the cohort shares) are fixed across
replications, so the weight-estimation term of the default SEs (R did's ``wif``; Sun & Abraham 2021,
Prop. 6) adds variance that does not exist here. BJS conditions on the timing.

Every estimator but ``cs_nocov`` gets ``COVARIATES``: the DGP's parallel trends hold only
conditional on the time-varying controls (``schema.CONTROLS`` and log broadband, all entering log
exports linearly) and on the rail link, whose default effect is static
(``SyntheticDesign.rail_att_growth = 0``), so one absorbing ``rail`` dummy controls for it.

**Monte Carlo standard errors** (every summary): of a coverage rate ``c`` over ``R`` replications
``sqrt(c (1 - c) / R)``, of a bias ``sd(estimate - truth) / sqrt(R)``, of an RMSE the delta-method
``sd((estimate - truth)^2) / (2 RMSE sqrt(R))``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from tqdm.auto import tqdm

from analysis.data.schema import CONTROLS
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.estimate import estimate

COVARIATES = ["rail", "log_broadband", *CONTROLS]  # regressors of the DGP's untreated outcome
DEFAULT = "heterogeneous, growing effect (default)"
HOMOGENEOUS = "homogeneous, constant effect"
DESIGN_IDS = {HOMOGENEOUS: "homogeneous", DEFAULT: "heterogeneous"}
HEADLINE = "headline"  # estimate() has no such name: the loop calls binary.headline_att

# id -> (estimate() name, options); TWFE uses the closed-form balanced-panel path (same numbers)
_TWFE = ("twfe", {"treatment": "pilot", "method": "demean"})
_BJS = ("bjs", {"leaveout": True, "horizons": None})  # leave-out variance: cohorts of 1 and 12
_HEADLINE = (HEADLINE, {})
PIPELINE = {
    "twfe": _TWFE,
    "cs_nocov": ("cs", {"covariates": ()}),
    "cs_tv": ("cs_adjusted", {}),
    "sa": ("sa", {}),
    "bjs": _BJS,
    "headline": _HEADLINE,
}
COMPARISON = PIPELINE  # the notebook's estimators (both designs)
MONTE_CARLO = {
    "twfe": _TWFE,
    "cs_nocov": ("cs", {"covariates": ()}),
    "cs_tv": ("cs_adjusted", {}),
    "cs_tv_fixedw": ("cs_adjusted", {"fixed_weights": True}),
    "sa": ("sa", {}),
    "sa_fixedw": ("sa", {"fixed_weights": True}),
    "bjs": _BJS,
    "headline": _HEADLINE,
}
# Sun-Abraham is half the cost of a replication (0.8 of 1.5 s): the 500-replication run of
# `make test-slow` leaves it to the pipeline's simulation (PIPELINE) and the smoke test
MONTE_CARLO_FAST = {k: v for k, v in MONTE_CARLO.items() if v[0] != "sa"}
ESTIMATORS = list(MONTE_CARLO)
LABELS = {
    "twfe": "TWFE (one dummy)",
    "cs_nocov": "Callaway-Sant'Anna (no covariates)",
    "cs_tv": "Callaway-Sant'Anna (control-adjusted)",
    "cs_tv_fixedw": "Callaway-Sant'Anna (control-adjusted, fixed weights)",
    "sa": "Sun-Abraham",
    "sa_fixedw": "Sun-Abraham (fixed weights)",
    "bjs": "Imputation (BJS)",
    "headline": "Headline: BJS, larger of city/province SE, t(G-1)",
}
# the truth each estimator targets: log GDP per capita in the untreated-outcome model conditions on
# a mediator when GDP responds to exports (gdp_export_feedback): the direct effect
TARGET = {k: "direct" for k in LABELS} | {"cs_nocov": "total"}
TARGET["wild_bootstrap"] = "direct"  # the bootstrap of the BJS ATT: GDP in the Y(0) model
TARGET["dr_cs"] = "direct"  # the checklist's DR CS runs on the outcome net of the same controls
ROBUST = ["cs_tv", "sa", "bjs", "headline"]  # correctly specified for the DGP's untreated outcome


def designs(base: SyntheticDesign) -> dict[str, SyntheticDesign]:
    """The default heterogeneous, dynamic design and a homogeneous, static one with the same mean size."""
    flat = {b: 0.10 for b in base.pilot_att_by_batch}
    return {
        HOMOGENEOUS: replace(base, pilot_att_by_batch=flat, pilot_att_growth=0.0),
        DEFAULT: base,
    }


def null_design(base: SyntheticDesign) -> SyntheticDesign:
    """``base`` with no pilot-zone effect at all (the sharp null of randomization inference)."""
    return replace(
        base, pilot_att_by_batch={b: 0.0 for b in base.pilot_att_by_batch}, pilot_att_growth=0.0
    )


@contextmanager
def _quiet():
    """pyfixest 0.60 calls pandas methods with inplace=, deprecated in pandas 3 (the same notice
    thousands of times); placebo/bootstrap panels drop unsupported cells with a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _truths(truth: dict) -> tuple[float, float]:
    pilot = truth["pilot"]
    total = float(pilot["att_overall"])
    return total, float(pilot.get("att_overall_direct", total))


def _fit(
    estimator: str, name: str, options: dict, panel: pd.DataFrame, z: float, cache: dict
) -> dict:
    """One estimator on one panel: estimate, SE and the CI the study reports with it. A
    fixed-weights variant reuses the fit of its default (same point estimate; ``cache``)."""
    spec = {"y": "log_exports", "unit": "city_code", "time": "year", "cohort": "pilot_year"}
    if name == HEADLINE:
        from analysis.studies.binary import headline_att

        h = headline_att(panel, "pilot", "pilot_year", COVARIATES)
        if "skipped" in h:
            raise RuntimeError(f"headline skipped on a simulated panel: {h['skipped']}")
        return {k: h[k] for k in ("estimate", "std_error", "conf_low", "conf_high")}
    options = dict(options)
    fixed = options.pop("fixed_weights", False)
    key = (name, tuple(sorted(options.items())))
    if key not in cache:
        cache[key] = estimate(name, panel, **spec, **{"covariates": COVARIATES, **options})
    est = cache[key]
    att, se = float(est.att), float(est.se)
    if fixed and name == "sa":
        se = float(est.fit.att_se_fixed_weights)
    elif fixed and name == "cs_adjusted":
        se = float(est.fit.aggregate("simple", fixed_weights=True).overall_se)
    elif fixed:
        raise ValueError(f"no fixed-weights SE for {name}")
    return {"estimate": att, "std_error": se, "conf_low": att - z * se, "conf_high": att + z * se}


def _replicate(
    design_name: str, rep: int, seed: int, design: SyntheticDesign, inputs, estimators: dict
) -> list[dict]:
    """Simulate one panel and estimate the overall pilot ATT with each of ``estimators``."""
    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    total, direct = _truths(truth)
    z = float(stats.norm.ppf(0.975))
    rows, cache = [], {}
    with _quiet():
        for key, (name, options) in estimators.items():
            rows.append(
                {
                    "design": design_name,
                    "design_id": DESIGN_IDS.get(design_name, design_name),
                    "rep": rep,
                    "seed": seed,
                    "estimator": LABELS.get(key, key),
                    "estimator_id": key,
                    **_fit(key, name, options, panel, z, cache),
                    "truth": total,
                    "truth_direct": direct,
                }
            )
    return rows


def _seeds(seed: int, n_reps: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_reps)]


def simulate(
    by_design: dict[str, SyntheticDesign],
    inputs,
    estimators: dict,
    n_reps: int,
    seed: int,
    n_jobs: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per design x replication x estimator: estimate, SE, CI (``conf_low``,
    ``conf_high``: normal, or the headline's t(G-1)) and the replication's true ATTs (``truth``:
    total effect, ``truth_direct``: direct effect).

    ``inputs``: (cities, treatments, national exports) for :func:`simulate_panel`; ``estimators``:
    id -> (``estimate`` name or ``"headline"``, options). Every design uses the same seeds.
    """
    seeds = _seeds(seed, n_reps)
    tasks = [(name, rep, s, d) for name, d in by_design.items() for rep, s in enumerate(seeds)]
    jobs = (delayed(_replicate)(name, rep, s, d, inputs, estimators) for name, rep, s, d in tasks)
    results = Parallel(n_jobs=n_jobs)(
        tqdm(jobs, total=len(tasks), desc="simulations", disable=not progress)
    )
    return pd.DataFrame([row for rows in results for row in rows])


SUMMARY = (
    "estimator",
    "bias",
    "bias_mc_se",
    "rmse",
    "rmse_mc_se",
    "coverage",
    "coverage_mc_se",
    "mean_se",
    "sd_estimate",
    "n_reps",
    "target",
    "mean_truth",
    "bias_total",
)


def mc_se_coverage(c: float, n: int) -> float:
    """Monte Carlo standard error of a rate ``c`` estimated from ``n`` replications."""
    return float(np.sqrt(c * (1 - c) / n)) if n > 0 else float("nan")


def _stats(group: pd.DataFrame, target: str) -> dict:
    truth = group["truth_direct"] if target == "direct" else group["truth"]
    error = group["estimate"] - truth
    n = len(group)
    sq = error**2
    rmse = float(np.sqrt(sq.mean()))
    covered = (group["conf_low"] <= truth) & (truth <= group["conf_high"])
    cov = float(covered.mean())
    return {
        "bias": float(error.mean()),
        "bias_mc_se": float(error.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        "rmse": rmse,
        "rmse_mc_se": float(sq.std(ddof=1) / (2 * rmse * np.sqrt(n))) if n > 1 else float("nan"),
        "coverage": cov,
        "coverage_mc_se": mc_se_coverage(cov, n),
        "mean_se": float(group["std_error"].mean()),
        "sd_estimate": float(group["estimate"].std(ddof=1)) if n > 1 else float("nan"),
        "n_reps": int(n),
        "target": target,
        "mean_truth": float(truth.mean()),
        "bias_total": float((group["estimate"] - group["truth"]).mean()),
    }


def summarise(draws: pd.DataFrame, by=("design", "estimator")) -> pd.DataFrame:
    """Per group of ``by`` (the estimator's own truth, ``TARGET``): bias, RMSE, coverage of the
    reported CI with their Monte Carlo SEs, mean SE, SD of the estimates, replications, the
    target (``direct`` / ``total``), its mean and the bias against the total effect.
    Carries ``design_id`` / ``estimator_id`` (the report's keys) when the draws have them."""
    keys = list(by)
    extra = [c for c in ("design", "design_id", "estimator", "estimator_id") if c in draws.columns]
    rows = []
    for _, group in draws.groupby(keys, sort=False):
        first = group.iloc[0]
        target = TARGET.get(first.get("estimator_id", first["estimator"]), "total")
        rows.append({c: first[c] for c in extra} | _stats(group, target))
    out = pd.DataFrame(rows)
    lead = [c for c in extra if c not in SUMMARY]
    return out[lead + list(SUMMARY)]


def twfe_vs_imputation(
    cities: pd.DataFrame,
    treatments: pd.DataFrame,
    national: pd.DataFrame,
    base: SyntheticDesign,
    n_reps: int = 20,
    seed: int = 1,
    n_jobs: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """The notebook's simulation: ``PIPELINE``'s estimators under both ``designs(base)``, one row
    per design x replication x estimator."""
    return simulate(
        designs(base), (cities, treatments, national), COMPARISON, n_reps, seed, n_jobs, progress
    )


def run_monte_carlo(
    n_reps: int = 200,
    seed: int = 20240601,
    n_jobs: int = 2,
    progress: bool = True,
    design: SyntheticDesign | None = None,
    estimators: dict | None = None,
) -> pd.DataFrame:
    """Simulate ``n_reps`` panels of ``design`` (default: the full 337-city default design) and
    summarise each of ``estimators`` (default ``MONTE_CARLO``; index), columns ``SUMMARY``; the
    raw replications are in ``.attrs["reps"]``."""
    from analysis.data.build import default_inputs

    reps = simulate(
        {DEFAULT: design or SyntheticDesign()},
        default_inputs(),
        MONTE_CARLO if estimators is None else estimators,
        n_reps,
        seed,
        n_jobs,
        progress,
    )
    table = summarise(reps, by=("estimator_id",)).drop(columns=["design", "design_id"])
    table = table.rename(columns={"estimator": "label"}).set_index("estimator_id")
    table.index.name = "estimator"
    table.attrs["reps"] = reps
    return table


# ---- the robustness checks' nominal properties (Monte Carlo; tests/studies/test_montecarlo.py) ----
def _ri_one(seed: int, design: SyntheticDesign, inputs, draws: int, within: str) -> dict:
    from analysis.did.randomization import bjs_statistic, permutation_test

    panel, _ = simulate_panel(*inputs, replace(null_design(design), seed=seed))
    stat = bjs_statistic(
        "log_exports", "year", "city_code", "pilot_year", COVARIATES, leaveout=True
    )
    with _quiet():
        res = permutation_test(
            panel, stat, "city_code", "pilot_year", within=within, draws=draws, seed=seed,
            progress=False,
        )  # fmt: skip
    return {
        "seed": seed,
        "p_value": float(res.p_value),
        "t": float(res.actual),
        "n_failed": int(res.n_failed),
    }


def randomization_rejection(
    n_reps: int,
    draws: int = 39,
    alpha: float = 0.05,
    within: str = "province",
    seed: int = 7,
    n_jobs: int = 2,
    design: SyntheticDesign | None = None,
) -> dict:
    """Rejection rate at ``alpha`` of the randomization test on the studentized BJS statistic
    (permutations of the pilot cohorts within ``within``) under the default DGP with *no* pilot
    effect. With ``draws = 39`` a p-value (1 + #)/(1 + B) <= 0.05 rejects exactly when at most one
    placebo beats the actual statistic: an exact 5% test under exchangeability, at 1/25 the cost
    of 999 draws (the Monte Carlo needs the size, not the power)."""
    from analysis.data.build import default_inputs

    inputs = default_inputs()
    base = design or SyntheticDesign()
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_ri_one)(s, base, inputs, draws, within) for s in _seeds(seed, n_reps)
    )
    p = np.array([r["p_value"] for r in rows])
    rate = float(np.mean(p <= alpha))
    return {
        "check": "randomization inference (studentized BJS, within " + within + ")",
        "null": "no pilot effect",
        "alpha": alpha,
        "rejection_rate": rate,
        "rejection_mc_se": mc_se_coverage(rate, len(p)),
        "n_reps": len(p),
        "draws": draws,
        "p_values": p.tolist(),
    }


def wild_bootstrap_replication(
    seed: int, design: SyntheticDesign, inputs, B: int = 999, cluster: str = "province"
) -> dict:
    """One replication of the restricted wild cluster bootstrap of the BJS ATT (``cluster``
    clusters, ``B`` draws, test-inversion CI); target: the direct effect (GDP in the Y(0) model)."""
    from analysis.did.wild_bootstrap import imputation_wild_bootstrap

    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    total, direct = _truths(truth)
    with _quiet():
        r = imputation_wild_bootstrap(
            panel, "log_exports", "year", "city_code", "pilot_year", covariates=COVARIATES,
            cluster=cluster, B=B, seed=seed,
        )  # fmt: skip
    lo, hi = (float(x) for x in r.conf_int)
    return {
        "estimate": float(r.estimate),
        "std_error": float(r.std_error),
        "conf_low": lo,
        "conf_high": hi,
        "truth": total,
        "truth_direct": direct,
    }


def check_coverage(
    name: str,
    replicate: Callable[..., dict],
    n_reps: int,
    seed: int = 11,
    n_jobs: int = 2,
    design: SyntheticDesign | None = None,
    **options,
) -> pd.DataFrame:
    """Replications of a robustness check's interval under ``design`` (default: the default DGP):
    ``replicate(seed, design, inputs, **options) -> dict`` with ``estimate``, ``std_error``,
    ``conf_low``, ``conf_high``, ``truth``, ``truth_direct`` (or ``{"failed": reason}``), e.g.
    :func:`wild_bootstrap_replication`. Rows as :func:`simulate` (``estimator_id`` = ``name``);
    replications where the check failed are left out and listed in ``.attrs["failed"]``. (The
    checks of the robustness notebook are replicated by tests/studies/test_montecarlo.py, which
    passes them in: importing them here would make this pipeline stage depend on them.)"""
    from analysis.data.build import default_inputs

    inputs = default_inputs()
    base = design or SyntheticDesign()
    jobs = (delayed(replicate)(s, base, inputs, **options) for s in _seeds(seed, n_reps))
    rows = Parallel(n_jobs=n_jobs)(jobs)
    failed = [r["failed"] for r in rows if "failed" in r]
    frame = pd.DataFrame([r for r in rows if "failed" not in r])
    frame = frame.assign(estimator=name, estimator_id=name, rep=range(len(frame)))
    frame.attrs["failed"] = failed  # replications where the check raised (e.g. logit separation)
    return frame
