"""Spatial spillovers of the pilot zones (issue 19): the ring design on the study panel, and the
Monte Carlo that shows what ignoring spillovers does to the direct effect.

A pilot zone may draw cross-border trade from nearby cities that are not (yet) designated, or
pull it along. Those neighbours are then no clean controls: an estimator that uses them (the
headline's untreated-outcome model does) is off by minus their spillover, and the spillover itself
goes unmeasured. The ring design (Butts 2023, with the imputation estimator of Borusyak, Jaravel &
Spiess 2024; :func:`analysis.did.spillover.spillover_imputation`) fits the untreated-outcome model
on the city-years that are neither treated nor within the outer ring of a city whose designation
has started, and estimates jointly the direct effect on the treated city-years and one spillover
effect per distance ring on the exposed ones, with their joint BJS covariance, and a spillover
event study by years since first exposure. Its SEs are clustered by ``cluster`` (province by
default: the synthetic design has province-year shocks, and city clustering under-covers, as for
the headline) with t(G-1) critical values. Its covariates are the headline's, with rule 2 (each
concurrent treatment's cell learnt from at least five clusters of the controls) applied again on
the ring design's own, thinner controls (:func:`ring_covariates`): without exposed city-years a
cell the headline learns from five provinces may be learnt from fewer, and its noise would escape
the clustered variance. On the default DGP the headline's cells already pass (rail and Broadband
China: one absorbing dummy each) and the second pass changes nothing. The naive estimate uses the
same covariates, so that its gap to the direct effect is the spillover's doing alone.

On synthetic data the truth has both: ``pilot.spillover`` (the effect on exposed untreated
city-years within ``pilot_spillover_km``) and the pilot's direct effect (the target of a model
with GDP per capita among its covariates).

:func:`spillover_monte_carlo` redraws the synthetic panel ``n_reps`` times (the default design,
seeds ``seed + rep``) and records, per panel, the naive imputation estimate (exposed city-years
among the controls), the ring design's direct effect and its spillover effects, each with its
interval; :func:`mc_summary` gives bias, RMSE and coverage with Monte Carlo standard errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.data.design import analysis_sample
from analysis.did.inference import critical_value
from analysis.did.spillover import exposure_rings, ring_labels, spillover_imputation
from analysis.studies.binary import attempt, skipped, study_design
from analysis.studies.rules import (
    Concurrent,
    concurrent_on_controls,
    inference_rule,
    study_data,
    truth_for,
)

OUTCOME = "log_exports"


def with_coordinates(panel: pd.DataFrame, cities: pd.DataFrame) -> pd.DataFrame:
    """The panel with each city's latitude and longitude from the city master."""
    coords = cities[["city_code", "latitude", "longitude"]].assign(
        city_code=cities["city_code"].astype(str)
    )
    return panel.merge(coords, on="city_code", how="left", validate="many_to_one")


def _pooled(res, labels: list[str]) -> tuple[float, float]:
    """The spillover averaged over every exposed cell (rings pooled by their cell counts)."""
    idx = [res.terms.index(t) for t in labels if t in res.terms]
    n = res.n_cells[idx].astype(float)
    w = n / n.sum()
    est = float(w @ res.estimates[idx])
    se = float(np.sqrt(w @ res.vcov[np.ix_(idx, idx)] @ w))
    return est, se


def clean_rows(data: pd.DataFrame, rings: Sequence[float], full: pd.DataFrame | None = None):
    """Boolean mask of ``data``'s city-years the ring design learns from: neither treated nor
    within the outer ring of a designated city (exposure from ``full``'s designations)."""
    frame = data if full is None else full
    expo = exposure_rings(frame, "year", "city_code", "pilot_year", "latitude", "longitude", rings)
    status = expo.assign(year=frame["year"].to_numpy()).set_index(["city_code", "year"])["status"]
    keys = pd.MultiIndex.from_frame(data[["city_code", "year"]])
    return (status.reindex(keys) == "control").to_numpy()


def ring_covariates(
    data: pd.DataFrame,
    covariates: list[str],
    concurrent: Mapping[str, Concurrent],
    rings: Sequence[float],
    cluster: str,
    full: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str], dict[str, Concurrent]]:
    """The study's covariates for the ring design: the concurrent treatments' cells rebuilt on
    its own controls, each learnt from at least MIN_CELL_CLUSTERS clusters
    (:func:`analysis.studies.rules.concurrent_on_controls`). Why: the count of rule 2 holds on
    the controls of the model that uses the cells, and the ring design's are thinner than the
    headline's. When the headline still had Broadband China's finest cells (before rule 2 counted
    clusters in every study), those of the 2015 cohort at event times 5-8 were learnt from 3-4
    cities in 2-3 provinces of these controls, and 30-34 treated city-years each drew their
    counterfactual from them. 500 panels (the slow test's): the direct effect's mean s.e. / SD
    0.0291 / 0.0331 -> 0.0258 / 0.0254, coverage 90.6% -> 95.2%, estimate +0.0005 (MC s.e.
    0.0009); rail kept its absorbing dummy, Broadband China got one with its dose column. The
    study's cells are now those already on the default DGP: nothing changes there."""
    controls = clean_rows(data, rings, full)
    return concurrent_on_controls(data, covariates, concurrent, "pilot_year", controls, cluster)


def ring_fit(
    data: pd.DataFrame,
    covariates: list[str],
    rings: Sequence[float],
    cluster: str = "province",
    horizons: bool = True,
    full: pd.DataFrame | None = None,
):
    """:func:`analysis.did.spillover.spillover_imputation` of the pilot zones on ``data`` (with
    ``latitude``/``longitude``), leave-out variance as the headline's. ``full``: the panel before
    the covariate rules left cities out (same coordinates); their designations still expose
    their neighbours, so exposure is computed on it and the estimation runs on ``data``'s rows.
    ``covariates``: the ring design's own (:func:`ring_covariates`)."""
    rows = None
    if full is not None:
        extra = [c for c in data.columns if c not in full.columns]
        merged = full.merge(
            data[["city_code", "year", *extra]], on=["city_code", "year"], how="left",
            indicator=True, validate="one_to_one",
        )  # fmt: skip
        rows = (merged.pop("_merge") == "both").to_numpy()
        data = merged
    return spillover_imputation(
        data, OUTCOME, "year", "city_code", "pilot_year", "latitude", "longitude",
        rings=tuple(rings), covariates=covariates, cluster=cluster, horizons=horizons,
        leaveout=True, estimate_rows=rows,
    )  # fmt: skip


def _cluster_level(panel: pd.DataFrame, cluster: str) -> tuple[str, str]:
    """``(level, note)``: params.yaml's ``spillover.cluster`` when the panel has enough of its
    clusters to carry t(G-1) inference, else the cities, by the study's one inference rule
    (:func:`analysis.studies.rules.inference_rule`: a one-province file is clustered by city)."""
    rule = inference_rule(panel, cluster)
    return rule.cluster, ("" if rule.cluster == cluster else f"{cluster} asked: {rule.reason}")


def _interval(est: float, se: float, g: int, alpha: float = 0.05) -> dict:
    crit = critical_value(alpha, g)
    return {"estimate": est, "std_error": se, "conf_low": est - crit * se,
            "conf_high": est + crit * se}  # fmt: skip


def spillover_study(
    panel: pd.DataFrame,
    truth: dict,
    cities: pd.DataFrame,
    covariates: list[str],
    rings: Sequence[float] = (0.0, 50.0, 100.0),
    cluster: str = "province",
    alpha: float = 0.05,
    full: pd.DataFrame | None = None,
    concurrent: Mapping[str, Concurrent] | None = None,
) -> dict:
    """The ring design on the study panel (module docstring): direct effect, spillover by ring and
    pooled, the naive estimate, event studies, exposure counts by year, against the truth.
    ``full``: the analysis sample before the covariate rules left cities out (:func:`ring_fit`).
    ``concurrent``: the study's concurrent treatments (``StudyData.concurrent``), whose columns
    among ``covariates`` are rebuilt on the ring design's controls (:func:`ring_covariates`)."""
    data = with_coordinates(panel, cities)
    full = None if full is None else with_coordinates(full, cities)
    asked, cluster, cluster_note = cluster, *_cluster_level(data, cluster)
    for frame in (data, full if full is not None else data):
        if frame[["latitude", "longitude"]].isna().any().any():
            missing = frame.loc[frame["latitude"].isna(), "city_code"].unique()[:5].tolist()
            return skipped(f"cities without coordinates in the city master: {missing}")
    rebuilt = {}
    if concurrent:
        data, covariates, rebuilt = ring_covariates(
            data, covariates, concurrent, rings, cluster, full
        )
    res, why = attempt(ring_fit, data, covariates, rings, cluster, True, full)
    if res is None:
        return skipped(why)
    g = res.n_clusters
    labels = ring_labels(res.rings)
    present = [lab for lab in labels if lab in res.terms]
    rows = {"direct": _interval(res.direct, res.direct_se, g, alpha)}
    for lab in present:
        est, se = res._get(lab)
        rows[lab] = _interval(est, se, g, alpha)
    if present:
        rows["spillover_pooled"] = _interval(*_pooled(res, present), g, alpha)
    rows["naive"] = _interval(res.naive_att, res.naive_se, g, alpha)
    n_cells = dict(zip(res.terms, res.n_cells.tolist()))
    for key, row in rows.items():
        row["n_cells"] = int(n_cells.get(key, 0)) if key in n_cells else None
    pilot = (truth or {}).get("pilot") or {}
    spill_truth = (pilot.get("spillover") or {}).get("att_exposed")
    # the direct effect's truth by the one rule: the target of these covariates, over the
    # designated cities of the panel
    treated = sorted(data.loc[data["pilot_year"] > 0, "city_code"].astype(str).unique())
    own = truth_for(truth, "pilot", covariates, treated)
    direct_truth = None if own is None else own["att_overall"]
    for key, row in rows.items():
        target = direct_truth if key in ("direct", "naive") else spill_truth
        row["truth"] = target
        row["bias"] = None if target is None else row["estimate"] - target
        row["truth_in_ci"] = (
            None if target is None else bool(row["conf_low"] <= target <= row["conf_high"])
        )
    expo = res.exposure.assign(year=data["year"].to_numpy())
    counts = expo.groupby(["year", "status"]).size().unstack(fill_value=0)
    es_spill = res.event_study("spillover")
    es_direct = res.event_study("direct")
    by_e = {
        int(k): v
        for k, v in ((pilot.get("spillover") or {}).get("att_by_event_time") or {}).items()
    }
    es_spill["truth"] = es_spill["event_time"].map(by_e) if by_e else np.nan
    return {
        "rings": list(res.rings),
        "cluster": cluster,
        "cluster_asked": asked,
        "cluster_note": cluster_note,
        "n_clusters": g,
        "critical_value": critical_value(alpha, g),
        "covariates": list(covariates),
        "concurrent": {k: v.record() for k, v in rebuilt.items()},
        "estimates": rows,
        "naive_minus_direct": res.naive_att - res.direct,
        "n_obs": res.n_obs,
        "n_clean_controls": res.n_control,
        "exposure_by_year": {
            str(int(y)): {str(k): int(v) for k, v in r.items()} for y, r in counts.iterrows()
        },
        "event_study_spillover": es_spill,
        "event_study_direct": es_direct,
        "truth_spillover": spill_truth,
        "truth_direct": direct_truth,
        "exposure": expo[["city_code", "year", "status", "distance_km"]],
    }


def summary_rows(study: dict) -> list[dict]:
    """Rows of the robustness summary table: the ring design's direct effect and pooled
    spillover (t(G-1) intervals)."""
    est = study["estimates"]
    out = [{"check": "spillover:direct", "label": "BJS ring design: direct effect "
            f"(controls beyond {study['rings'][-1]:g} km)", **_pick(est["direct"])}]  # fmt: skip
    if "spillover_pooled" in est:
        out.append({"check": "spillover:pooled", "label": "BJS ring design: spillover on "
                    f"untreated cities within {study['rings'][-1]:g} km",
                    **_pick(est["spillover_pooled"])})  # fmt: skip
    return out


def _pick(row: dict) -> dict:
    return {k: row.get(k) for k in ("estimate", "std_error", "conf_low", "conf_high", "truth")}


def effects_frame(study: dict) -> pd.DataFrame:
    """The figure's and the table's frame: one row per term (naive, direct, rings, pooled)."""
    rows = []
    for key, row in study["estimates"].items():
        rows.append({"term": key, **{k: row[k] for k in (
            "estimate", "std_error", "conf_low", "conf_high", "n_cells", "truth", "bias")}})  # fmt: skip
    return pd.DataFrame(rows)


# --- Monte Carlo ---------------------------------------------------------------------------------
def _mc_one(rep: int, seed: int, design, inputs, control_rule, rings, cluster, alpha) -> dict:
    from analysis.data.synthetic import simulate_panel

    cities, treatments, national = inputs
    panel, truth = simulate_panel(cities, treatments, national, replace(design, seed=seed + rep))
    # the study's own covariates, as the robustness stage builds them: the design check of each
    # simulated panel, then the binary studies' rules (every concurrent treatment by its cells)
    check = study_design(panel)
    sample = analysis_sample(panel, check)
    sd = study_data(sample, check, "pilot", control_rule)
    data = with_coordinates(sd.panel, cities)
    full = with_coordinates(sample, cities)
    data, covariates, _ = ring_covariates(data, sd.covariates, sd.concurrent, rings, cluster, full)
    res = ring_fit(data, covariates, rings, cluster, horizons=False, full=full)
    g = res.n_clusters
    crit = critical_value(alpha, g)
    labels = [lab for lab in ring_labels(res.rings) if lab in res.terms]
    pooled, pooled_se = _pooled(res, labels)
    direct_truth = truth_for(truth, "pilot", sd.covariates, sd.treated_cities)["att_overall"]
    spill_truth = truth["pilot"]["spillover"]["att_exposed"]
    out = {"rep": rep}
    for name, est, se, target in (
        ("naive", res.naive_att, res.naive_se, direct_truth),
        ("direct", res.direct, res.direct_se, direct_truth),
        ("spillover", pooled, pooled_se, spill_truth),
    ):
        out |= {f"{name}_est": est, f"{name}_se": se, f"{name}_truth": target,
                f"{name}_cover": bool(abs(est - target) <= crit * se)}  # fmt: skip
    return out


def spillover_monte_carlo(
    inputs: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    design,
    n_reps: int = 100,
    seed: int = 19,
    control_rule: dict[str, str] | None = None,
    rings: Sequence[float] = (0.0, 50.0, 100.0),
    cluster: str = "province",
    n_jobs: int = 1,
    alpha: float = 0.05,
    backend=None,
) -> pd.DataFrame:
    """One row per simulated panel (``inputs``: city master with coordinates, treatments table,
    national exports; ``design``: :class:`analysis.data.synthetic.SyntheticDesign`), in the order
    of the replications whatever ``backend`` (params.yaml ``parallel``: ``n_jobs`` local processes
    by default, or a Dask cluster; :func:`analysis.parallel.run_tasks`) runs them: each panel's
    seed derives from ``seed`` and its replication number alone."""
    import warnings

    from joblib import delayed

    from analysis.parallel import as_backend, run_tasks

    args = (seed, design, inputs, control_rule, tuple(rings), cluster, alpha)
    tasks = [delayed(_mc_one)(r, *args) for r in range(n_reps)]
    with warnings.catch_warnings():  # loky's note when it recycles a worker: not a result
        warnings.simplefilter("ignore", UserWarning)
        rows = run_tasks(tasks, as_backend(backend, n_jobs=n_jobs), desc="spillover panels")
    return pd.DataFrame(rows)


MC_LABELS = {
    "naive": "BJS, exposed cities among the controls (naive): direct effect",
    "direct": "BJS ring design: direct effect",
    "spillover": "BJS ring design: spillover (rings pooled)",
}


def mc_summary(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage with Monte Carlo SEs, per estimate of :func:`spillover_monte_carlo`."""
    rows = []
    r = len(draws)
    for name, text in MC_LABELS.items():
        err = draws[f"{name}_est"] - draws[f"{name}_truth"]
        cov = draws[f"{name}_cover"].mean()
        rows.append({
            "estimate": name, "label": text, "truth": float(draws[f"{name}_truth"].mean()),
            "bias": float(err.mean()), "bias_mc_se": float(err.std(ddof=1) / np.sqrt(r)),
            "rmse": float(np.sqrt((err**2).mean())), "sd": float(err.std(ddof=1)),
            "mean_se": float(draws[f"{name}_se"].mean()), "coverage": float(cov),
            "coverage_mc_se": float(np.sqrt(cov * (1 - cov) / r)), "n_reps": r,
        })  # fmt: skip
    return pd.DataFrame(rows)
