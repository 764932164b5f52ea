"""Repeated simulations of the synthetic DGP (``analysis.data.synthetic``), whose truth is known.

Each replication simulates the city panel with a new seed (the real city list and treatment dates)
and estimates the overall ATT of the pilot zones on the treated city-years
(``truth["pilot"]["att_overall"]``) with estimators from :func:`analysis.did.estimate.estimate`.
One loop (:func:`simulate`) serves two uses:

**The simulation notebook** (:func:`twfe_vs_imputation`, ``COMPARISON``): why TWFE misleads under
staggered adoption. Two designs share the real cities and dates: one where every pilot zone has the
same, constant effect (TWFE is fine there) and the default one where effects differ by batch and
grow with time since designation (TWFE is not). TWFE with one pilot dummy is compared with the
Borusyak-Jaravel-Spiess imputation estimator, which never uses treated cities as controls.

**The Monte Carlo** (:func:`run_monte_carlo`, ``MONTE_CARLO``; tests/studies/test_montecarlo.py,
benchmarks/run_monte_carlo.py): coverage, bias and RMSE on the default design of

* ``twfe``: one post-treatment dummy (biased: effects are heterogeneous across cohorts and grow with
  time since designation; Goodman-Bacon 2021);
* ``cs_nocov``: Callaway & Sant'Anna (2021) simple ATT, never-treated controls, no covariates --
  biased here *by design*: the DGP lets early-pilot cities' GDP per capita grow faster and broadband
  spread earlier in the east, so unconditional parallel trends fail;
* ``cs_tv``: Callaway & Sant'Anna on the outcome net of the time-varying controls (``cs_adjusted``:
  coefficients from an FE regression on untreated observations, the first stage of Gardner 2022 /
  BJS 2024, with the first-stage error in the influence function);
* ``sa``: Sun & Abraham (2021) interaction-weighted ATT with the controls entering linearly;
* ``bjs``: Borusyak, Jaravel & Spiess (2024) imputation with the controls in the Y(0) model and the
  leave-out auxiliary model of its variance (App. A.6).

``cs_tv_fixedw`` and ``sa_fixedw`` are the same point estimates with the variance of the
cohort-share weights left out. The Monte Carlo keeps the treatment dates (hence the cohort shares)
fixed and targets the realised ATT of the treated city-years, so the weight-estimation term of the
default SEs (R did's ``wif``; Sun & Abraham 2021, Prop. 6), which treats the shares as sampled,
adds variance that does not exist here: the default SEs are conservative by construction for this
estimand and the fixed-weight ones are the calibrated comparison. BJS conditions on the timing.

Every estimator gets ``COVARIATES``: the DGP's parallel trends hold only conditional on the
time-varying controls (``schema.CONTROLS`` and log broadband, all entering log exports linearly)
and on the rail link, whose effect is static (``SyntheticDesign.rail_att_growth = 0``), so one
absorbing ``rail`` dummy controls for it. CS conditions on covariates at the base period (R
``did``'s ``xformla``), which cannot absorb a *trend* difference driven by the path of GDP per
capita: hence ``cs_adjusted``, and ``cs_nocov`` without them as the contrast.
"""

from __future__ import annotations

import warnings
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

# label -> (estimate() name, options); TWFE uses the closed-form balanced-panel path (same numbers)
_TWFE = ("twfe", {"treatment": "pilot", "method": "demean"})
_BJS = (
    "bjs",
    {"leaveout": True, "horizons": None},
)  # leave-out variance: cohorts of 1 and 12 cities
COMPARISON = {"TWFE (one dummy)": _TWFE, "Imputation (BJS)": _BJS}
MONTE_CARLO = {
    "twfe": _TWFE,
    "cs_nocov": ("cs", {"covariates": ()}),
    "cs_tv": ("cs_adjusted", {}),
    "cs_tv_fixedw": ("cs_adjusted", {"fixed_weights": True}),
    "sa": ("sa", {}),
    "sa_fixedw": ("sa", {"fixed_weights": True}),
    "bjs": _BJS,
}
ESTIMATORS = list(MONTE_CARLO)
ROBUST = ["cs_tv", "sa", "bjs"]  # correctly specified for the DGP (controls + static rail dummy)


def designs(base: SyntheticDesign) -> dict[str, SyntheticDesign]:
    """The default heterogeneous, dynamic design and a homogeneous, static one with the same mean size."""
    flat = {b: 0.10 for b in base.pilot_att_by_batch}
    return {
        "homogeneous, constant effect": replace(
            base, pilot_att_by_batch=flat, pilot_att_growth=0.0
        ),
        DEFAULT: base,
    }


def _replicate(
    design_name: str, rep: int, seed: int, design: SyntheticDesign, inputs, estimators: dict
) -> list[dict]:
    """Simulate one panel and estimate the overall pilot ATT with each of ``estimators``."""
    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    target = truth["pilot"]["att_overall"]
    rows = []
    with warnings.catch_warnings():
        # pyfixest 0.60 calls pandas methods with inplace=, deprecated in pandas 3: the same notice
        # thousands of times, nothing about the estimates
        warnings.filterwarnings("ignore", message="The inplace keyword")
        for label, (name, options) in estimators.items():
            kw = {"covariates": COVARIATES, **options}
            est = estimate(
                name,
                panel,
                y="log_exports",
                unit="city_code",
                time="year",
                cohort="pilot_year",
                **kw,
            )
            rows.append(
                {
                    "design": design_name,
                    "rep": rep,
                    "seed": seed,
                    "estimator": label,
                    "estimate": est.att,
                    "std_error": est.se,
                    "truth": target,
                }
            )
    return rows


def simulate(
    by_design: dict[str, SyntheticDesign],
    inputs,
    estimators: dict,
    n_reps: int,
    seed: int,
    n_jobs: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per design x replication x estimator: estimate, SE and the replication's true ATT.

    ``inputs``: (cities, treatments, national exports) for :func:`simulate_panel`; ``estimators``:
    label -> (``estimate`` name, options). Every design uses the same ``n_reps`` seeds.
    """
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_reps)
    tasks = [(name, rep, int(s), d) for name, d in by_design.items() for rep, s in enumerate(seeds)]
    jobs = (delayed(_replicate)(name, rep, s, d, inputs, estimators) for name, rep, s, d in tasks)
    results = Parallel(n_jobs=n_jobs)(
        tqdm(jobs, total=len(tasks), desc="simulations", disable=not progress)
    )
    return pd.DataFrame([row for rows in results for row in rows])


STATISTICS = (
    "mean_estimate",
    "mean_truth",
    "bias",
    "rmse",
    "sd_estimate",
    "mean_se",
    "coverage",
    "replications",
)
PUBLISHED = (
    "mean_estimate",
    "mean_truth",
    "bias",
    "rmse",
    "coverage",
    "replications",
)  # simulation_summary


def summarise(
    draws: pd.DataFrame, by=("design", "estimator"), statistics=STATISTICS, alpha: float = 0.05
) -> pd.DataFrame:
    """Per group of ``by``: mean estimate and truth, bias, RMSE, SD of the estimates, mean SE,
    coverage of the normal (1-alpha) CI and the number of replications (the ``statistics`` asked for)."""
    z = stats.norm.ppf(1 - alpha / 2)
    error = draws["estimate"] - draws["truth"]
    frame = draws.assign(error=error, covered=error.abs() <= z * draws["std_error"])
    out = frame.groupby(list(by), sort=False).agg(
        mean_estimate=("estimate", "mean"),
        mean_truth=("truth", "mean"),
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(e**2)))),
        sd_estimate=("estimate", "std"),
        mean_se=("std_error", "mean"),
        coverage=("covered", "mean"),
        replications=("estimate", "size"),
    )
    return out[list(statistics)].reset_index()


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
    """The notebook's comparison: TWFE and BJS under both ``designs(base)``, one row per
    design x replication x estimator."""
    return simulate(
        designs(base), (cities, treatments, national), COMPARISON, n_reps, seed, n_jobs, progress
    )


def run_monte_carlo(
    n_reps: int = 200,
    seed: int = 20240601,
    n_jobs: int = 2,
    progress: bool = True,
    design: SyntheticDesign | None = None,
) -> pd.DataFrame:
    """Simulate ``n_reps`` panels of ``design`` (default: the full 337-city default design) and
    summarise each of ``ESTIMATORS``.

    Returns one row per estimator (index): ``coverage`` (95% CI), ``bias``, ``rmse``, ``sd_estimate``,
    ``mean_se``, ``replications``; the raw replications are in ``.attrs["reps"]``.
    """
    from analysis.data.build import default_inputs

    reps = simulate(
        {DEFAULT: design or SyntheticDesign()},
        default_inputs(),
        MONTE_CARLO,
        n_reps,
        seed,
        n_jobs,
        progress,
    )
    table = summarise(
        reps,
        by=("estimator",),
        statistics=("coverage", "bias", "rmse", "sd_estimate", "mean_se", "replications"),
    )
    table = table.set_index("estimator")
    table.attrs["reps"] = reps
    return table
