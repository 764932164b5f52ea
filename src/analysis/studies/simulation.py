"""Why TWFE misleads under staggered adoption, shown on our own panel with known truth.

Two versions of the synthetic data-generating process share the real city list and treatment
dates: one where every pilot zone has the same, constant effect (TWFE is fine there) and the
default one where effects differ by batch and grow with time since designation (TWFE is not).
Each is simulated with several seeds; TWFE with one pilot dummy is compared with the
Borusyak-Jaravel-Spiess imputation estimator, which never uses treated cities as controls.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from analysis.did.imputation import imputation
from analysis.did.twfe import twfe
from analysis.data.schema import CONTROLS
from analysis.data.synthetic import SyntheticDesign, simulate_panel

COVARIATES = ["rail", "log_broadband"] + CONTROLS
DEFAULT = "heterogeneous, growing effect (default)"


def designs(base: SyntheticDesign) -> dict[str, SyntheticDesign]:
    """The default heterogeneous, dynamic design and a homogeneous, static one with the same mean size."""
    flat = {b: 0.10 for b in base.pilot_att_by_batch}
    return {
        "homogeneous, constant effect": replace(base, pilot_att_by_batch=flat, pilot_att_growth=0.0),
        DEFAULT: base,
    }


def _one_replication(name, design, seed, cities, treatments, national) -> list[dict]:
    panel, truth = simulate_panel(cities, treatments, national, replace(design, seed=seed))
    true_att = truth["pilot"]["att_overall"]
    fit = twfe(panel, "log_exports", ["pilot"] + COVARIATES)
    bjs = imputation(panel, "log_exports", "year", "city_code", "pilot_year", covariates=COVARIATES,
                     horizons=False, leaveout=True)
    rows = []
    for estimator, est, se in (("TWFE (one dummy)", fit.params["pilot"], fit.std_errors["pilot"]),
                               ("Imputation (BJS)", bjs.att, float(bjs.std_errors[0]))):
        rows.append({"design": name, "seed": seed, "estimator": estimator, "estimate": float(est),
                     "std_error": float(se), "truth": true_att,
                     "covered": bool(abs(est - true_att) <= 1.959964 * se)})
    return rows


def twfe_vs_imputation(
    cities: pd.DataFrame, treatments: pd.DataFrame, national: pd.DataFrame, base: SyntheticDesign,
    n_reps: int = 20, seed: int = 1, n_jobs: int = 1, progress: bool = True,
) -> pd.DataFrame:
    """One row per design x replication x estimator: estimate, SE, truth, CI coverage."""
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_reps)
    tasks = [(name, d, int(s)) for name, d in designs(base).items() for s in seeds]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_one_replication)(name, d, s, cities, treatments, national)
        for name, d, s in tqdm(tasks, disable=not progress, desc="simulations")
    )
    return pd.DataFrame([row for rows in results for row in rows])


def summarize(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and 95% CI coverage by design and estimator."""
    draws = draws.assign(error=draws["estimate"] - draws["truth"])
    out = draws.groupby(["design", "estimator"], sort=False).agg(
        mean_estimate=("estimate", "mean"), mean_truth=("truth", "mean"), bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(e**2)))), coverage=("covered", "mean"),
        replications=("seed", "nunique"),
    )
    return out.reset_index()
