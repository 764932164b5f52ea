"""The robustness checklist for the pilot-zone effect: one function the robustness notebook narrates.

:func:`robustness_study` runs, on the processed panel and with the options of ``params`` (params.yaml
``notebooks: robustness``; every key has a default in ``DEFAULT_PARAMS``):

1. placebo randomization inference (permuted designation timing; Fisher 1935, Young 2019),
2. wild cluster bootstrap by province (Cameron, Gelbach & Miller 2008),
3. PSM-DID (Heckman, Ichimura & Todd 1997),
4. concurrent policies: pilot free trade zones (and user rosters) as controls / dropped,
5. effect heterogeneity by region, coast, batch and city size,
6. Goodman-Bacon (2021) decomposition of the TWFE coefficient on the ``pilot`` dummy,
7. HonestDiD sensitivity of the TWFE event study (Rambachan & Roth 2023),
8. the specification curve (Simonsohn, Simmons & Nelson 2020),

and returns ``{"results": JSON-ready dict, "frames": DataFrames for tables and figures, "figures":
the figure calls, "timings": seconds per check}``. Timings are kept apart from the results because
they depend on the machine (results files must be byte-identical across runs).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.did.event_study import event_study
from analysis.did.twfe import twfe
from analysis.data.schema import CONTROLS
from analysis.results_io import _clean
from analysis.studies.robustness import concurrent, heterogeneity, spec_curve
from analysis.did.bacon import bacon_decomposition
from analysis.did.honestdid import (
    HonestDiDResult,
    original_cs,
    sensitivity_rm,
    sensitivity_sd,
)
from analysis.did.psm_did import psm_did
from analysis.did.randomization import randomization_inference
from analysis.did.wild_bootstrap import wild_cluster_bootstrap

__all__ = ["DEFAULT_PARAMS", "FIGURES", "make_figures", "resolve_params", "robustness_study"]

DEFAULT_PARAMS: dict = {
    "yname": "log_exports",
    "dname": "pilot",
    "gname": "pilot_year",
    # TWFE covariates of every TWFE-based check: the other treatments and the economic controls,
    # as in the pilot-zone notebook (analysis.studies.binary.binary_study)
    "controls": ["rail", "log_broadband", *CONTROLS],
    "cluster": "city_code",
    "seed": 20240601,
    "n_jobs": 2,
    "progress": False,
    "placebo_draws": 1000,
    "placebo_within": None,  # e.g. "province": permute designation timing within provinces
    "wild_draws": 9999,
    "wild_cluster": "province",
    "wild_weights": "rademacher",  # "webb" with fewer than ~12 clusters
    "psm": {
        "covariates": list(CONTROLS),
        "method": "nearest",
        "n_neighbors": 1,
        "caliper": 0.25,
        "replace": True,
    },
    "cities_path": None,  # city master for roster names (default: data/interim/cities.csv)
    "concurrent_policies": {},  # {policy name: roster CSV}; the pilot free trade zones are always in
    "year_rule": "approval",  # treatment-year rule of the concurrent rosters
    "heterogeneity": {
        "dimensions": list(heterogeneity.DIMENSIONS),
        "size_bins": 3,
        "methods": ["interaction", "split"],
    },
    "honestdid": {
        "window": [-5, 5],
        "target": "average",
        "Mbarvec": [0.0, 0.5, 1.0, 1.5, 2.0],
        "Mvec": None,
        "grid_points": 1000,
        "type": "both",  # both | smoothness (Delta^SD, FLCI) | relative_magnitude (Delta^RM, C-LF)
    },
    # options: overrides of spec_curve.DEFAULT_OPTIONS; the default drops the "east" sample (a third
    # fewer specifications: 192) to keep the whole checklist near a minute on two cores
    "spec_curve": {"options": {"sample": ["all", "drop_ftz"]}, "backend": "loky"},
}

# (figure function in analysis.figures.robustness, frame, keyword arguments from results, file stem)
FIGURES = [
    ("plot_estimates", "summary", {"truth": ("truth", "att_overall")}, "robustness_summary"),
    (
        "plot_placebo",
        "placebo_draws",
        {"estimate": ("placebo", "estimate"), "p_value": ("placebo", "p_value")},
        "robustness_placebo",
    ),
    ("plot_balance", "psm_balance", {}, "robustness_psm_balance"),
    (
        "plot_heterogeneity",
        "heterogeneity",
        {"pooled": ("heterogeneity", "pooled_estimate")},
        "robustness_heterogeneity",
    ),
    ("plot_bacon", "bacon", {"twfe": ("bacon", "twfe")}, "robustness_bacon"),
    ("plot_honestdid", "honestdid", {}, "robustness_honestdid"),
    (
        "plot_spec_curve",
        "spec_curve",
        {"baseline": ("spec_curve", "baseline_spec_id")},
        "robustness_spec_curve",
    ),
]


def resolve_params(params: dict | None) -> dict:
    """``DEFAULT_PARAMS`` updated by ``params`` (dict-valued keys are merged one level deep)."""
    out = copy.deepcopy(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if key not in out:
            raise KeyError(f"unknown robustness parameter {key!r}; known: {sorted(out)}")
        out[key] = (
            {**out[key], **value}
            if isinstance(out[key], dict) and isinstance(value, dict)
            else value
        )
    return out


def _relative(path) -> str | None:
    """A path as recorded in the results: relative to the project root, so results files do not
    depend on where the project was cloned."""
    from pathlib import Path

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
    from analysis.data.cities import build_city_master
    from analysis.data.build import read_cities

    path = path or paths.INTERIM / "cities.csv"
    return read_cities(path) if Path(path).exists() else build_city_master()


def _row(estimate, std_error=np.nan, conf_low=np.nan, conf_high=np.nan, p_value=np.nan) -> dict:
    return {
        "estimate": float(estimate),
        "std_error": float(std_error),
        "conf_low": float(conf_low),
        "conf_high": float(conf_high),
        "p_value": float(p_value),
    }


def _breakdown(table: pd.DataFrame) -> dict:
    """Per restriction, the smallest M whose robust CI includes zero (None: zero is never included)."""
    out = {}
    for delta, sub in table.groupby("delta", sort=False):
        cover = sub[(sub["lb"] <= 0) & (sub["ub"] >= 0)]
        out[delta] = float(cover["M"].min()) if len(cover) else None
    return out


def _honest(betahat, sigma, n_pre, n_post, l_vec, hd, seed) -> HonestDiDResult:
    """HonestDiD for Delta^SD (FLCI) and Delta^RM (C-LF), as ``honest_did`` but with the Delta^RM
    grid centred on the estimate: R's default grid, +/- 20 SE around zero, cuts the confidence set
    off when the estimate is more than 20 SE from zero (as for the pilot zones)."""
    post = slice(n_pre, None)
    est = float(l_vec @ betahat[post])
    se = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    half = max(20 * se, 1.5 * abs(est))
    frames = []
    if hd["type"] in ("both", "smoothness"):
        frames.append(sensitivity_sd(betahat, sigma, n_pre, n_post, hd["Mvec"], l_vec, seed=seed))
    if hd["type"] in ("both", "relative_magnitude"):
        frames.append(_rm(betahat, sigma, n_pre, n_post, l_vec, hd, est - half, est + half, seed))
    lb, ub = original_cs(betahat, sigma, n_pre, n_post, l_vec)
    original = pd.DataFrame(
        [{"M": np.nan, "lb": lb, "ub": ub, "method": "Original", "delta": None}]
    )
    return HonestDiDResult(
        results=pd.concat(frames, ignore_index=True), original=original, estimate=est, std_error=se
    )


def _rm(betahat, sigma, n_pre, n_post, l_vec, hd, grid_lb, grid_ub, seed) -> pd.DataFrame:
    return sensitivity_rm(
        betahat,
        sigma,
        n_pre,
        n_post,
        hd["Mbarvec"],
        l_vec,
        gridPoints=hd["grid_points"],
        grid_lb=grid_lb,
        grid_ub=grid_ub,
        seed=seed,
    )


def robustness_study(panel: pd.DataFrame, truth: dict, params: dict | None = None) -> dict:
    """Run the robustness checklist for the pilot-zone effect (see the module docstring)."""
    p = resolve_params(params)
    y, d, g, ctrl, cl = p["yname"], p["dname"], p["gname"], list(p["controls"]), p["cluster"]
    idname, tname, seed, n_jobs, progress = (
        "city_code",
        "year",
        p["seed"],
        p["n_jobs"],
        p["progress"],
    )
    results, frames, timings = {}, {}, {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    base = twfe(panel, y, [d, *ctrl], idname, tname, cl)
    base_row = base.tidy().set_index("term").loc[d]
    results["baseline"] = {
        **_row(
            base_row["estimate"],
            base_row["std_error"],
            base_row["conf_low"],
            base_row["conf_high"],
            base_row["p_value"],
        ),
        "nobs": base.nobs,
        "n_clusters": base.n_clusters,
        "cluster": cl,
        "controls": ctrl,
    }
    att = truth.get(d, {}).get("att_overall") if truth else None
    results["truth"] = {"att_overall": att, "data_source": (truth or {}).get("data_source")}
    lap("baseline")

    ri = randomization_inference(
        panel,
        y,
        idname,
        tname,
        g,
        ctrl,
        p["placebo_within"],
        p["placebo_draws"],
        seed,
        progress,
        n_jobs,
    )
    results["placebo"] = {
        "estimate": ri.estimate,
        "p_value": ri.p_value,
        "draws": ri.n_draws,
        "placebo_mean": float(ri.draws.mean()),
        "placebo_sd": float(ri.draws.std(ddof=1)),
        "within": p["placebo_within"],
    }
    frames["placebo_draws"] = pd.DataFrame({"estimate": ri.draws})
    lap("placebo")

    wb = wild_cluster_bootstrap(
        panel,
        y,
        idname,
        tname,
        p["wild_cluster"],
        gname=g,
        controls=ctrl,
        B=p["wild_draws"],
        weights=p["wild_weights"],
        seed=seed,
    )
    results["wild_bootstrap"] = {
        **_row(wb.estimate, wb.std_error, *wb.conf_int, wb.p_value),
        "t_stat": wb.t_stat,
        "B": wb.B,
        "weights": wb.weights,
        "n_clusters": wb.n_clusters,
        "cluster": p["wild_cluster"],
    }
    lap("wild_bootstrap")

    ps = psm_did(
        panel,
        y,
        idname,
        tname,
        g,
        covariates=list(p["psm"]["covariates"]),
        cluster=cl,
        controls=ctrl,
        method=p["psm"]["method"],
        n_neighbors=p["psm"]["n_neighbors"],
        caliper=p["psm"]["caliper"],
        replace=p["psm"]["replace"],
        seed=seed,
    )
    psm_row = ps.tidy(unmatched=True)
    frames["psm_balance"] = ps.balance_table()
    results["psm_did"] = {
        **_row(*psm_row.iloc[0][["estimate", "std_error", "conf_low", "conf_high", "p_value"]]),
        "estimate_unmatched": ps.estimate_unmatched,
        "n_treated": ps.n_treated,
        "n_treated_matched": ps.n_treated_matched,
        "n_controls_matched": ps.n_controls_matched,
        "max_abs_smd_before": float(ps.balance["smd_before"].abs().max()),
        "max_abs_smd_after": float(ps.balance["smd_after"].abs().max()),
    }
    lap("psm_did")

    table = concurrent.load_concurrent_policies(
        p["concurrent_policies"], _city_master(p["cities_path"]), p["year_rule"]
    )
    years = concurrent.policy_years(table)
    conc = concurrent.concurrent_policy_check(panel, years, y, d, g, ctrl, idname, tname, cl)
    frames["concurrent"] = conc.table
    frames["concurrent_overlap"] = conc.overlap
    results["concurrent"] = {
        "policies": conc.policies,
        "table": conc.table,
        "overlap": conc.overlap,
    }
    lap("concurrent")

    hp = p["heterogeneity"]
    het = heterogeneity.heterogeneity(
        panel,
        y,
        d,
        g,
        ctrl,
        hp["dimensions"],
        idname,
        tname,
        cl,
        methods=tuple(hp["methods"]),
        size_bins=hp["size_bins"],
    )
    frames["heterogeneity"] = het.table
    frames["heterogeneity_tests"] = het.tests
    results["heterogeneity"] = {
        "pooled_estimate": float(het.pooled["estimate"]),
        "tests": het.tests,
        "table": het.table,
    }
    lap("heterogeneity")

    bd = bacon_decomposition(panel, y, d, idname, tname)
    frames["bacon"] = bd.two_by_twos
    results["bacon"] = {
        "twfe": bd.twfe,
        "weighted_sum": bd.weighted_sum,
        "by_type": bd.by_type.reset_index().rename(columns={"index": "type"}),
    }
    lap("bacon")

    hd = p["honestdid"]
    es = event_study(panel, y, g, idname, tname, tuple(hd["window"]), controls=ctrl, cluster=cl)
    k = len(es.periods)
    n_pre = sum(e < es.ref for e in es.periods)
    n_post = k - n_pre
    l_vec = np.full(n_post, 1.0 / n_post) if hd["target"] == "average" else np.eye(n_post)[0]
    hres = _honest(
        es.fit.params.to_numpy()[:k], es.fit.cov.to_numpy()[:k, :k], n_pre, n_post, l_vec, hd, seed
    )
    frames["honestdid"] = hres.table
    frames["event_study"] = es.tidy()
    results["honestdid"] = {
        "target": hd["target"],
        "estimate": hres.estimate,
        "std_error": hres.std_error,
        "original_ci": [float(hres.original["lb"].iloc[0]), float(hres.original["ub"].iloc[0])],
        "breakdown_M": _breakdown(hres.results),
        "table": hres.table,
        "pretrend_test": es.pretrend_test(),
    }
    lap("honestdid")

    sp = p["spec_curve"]
    sc = spec_curve.spec_curve(
        panel,
        sp["options"],
        policy_years=years,
        yname=y,
        gname=g,
        idname=idname,
        tname=tname,
        n_jobs=n_jobs,
        backend=sp["backend"],
        progress=progress,
    )
    frames["spec_curve"] = sc.table
    frames["spec_curve_infeasible"] = sc.infeasible
    results["spec_curve"] = {
        **sc.overview(),
        "baseline_spec_id": sc.baseline,
        "options": sc.options,
        "control_sets": sc.control_sets,
    }
    lap("spec_curve")

    frames["summary"] = _summary(results, conc.table)
    results["summary"] = frames["summary"]
    results["settings"] = {**p, "cities_path": _relative(p["cities_path"])}
    return {
        "results": _clean(results),
        "frames": frames,
        "figures": figure_calls(_clean(results)),
        "timings": timings,
    }


def _summary(results: dict, conc: pd.DataFrame) -> pd.DataFrame:
    """One row per check: the pilot estimate with its interval (a range for the spec curve)."""
    r = results
    rows = [
        {
            "label": "TWFE (baseline, city-clustered CI)",
            **_row(
                **{
                    k: r["baseline"][k]
                    for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")
                }
            ),
        },
        {
            "label": f"TWFE, wild bootstrap CI ({r['wild_bootstrap']['cluster']})",
            **_row(
                **{
                    k: r["wild_bootstrap"][k]
                    for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")
                }
            ),
        },
        {
            "label": f"TWFE, placebo RI p = {r['placebo']['p_value']:.3f}",
            **_row(r["placebo"]["estimate"], p_value=r["placebo"]["p_value"]),
        },
        {
            "label": "PSM-DID",
            **_row(
                **{
                    k: r["psm_did"][k]
                    for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")
                }
            ),
        },
    ]
    for rec in conc.to_dict("records"):
        if rec["specification"] != "baseline" or rec["estimator"] != "TWFE":
            rows.append(
                {
                    "label": f"{rec['estimator']}, {rec['specification']}",
                    **_row(
                        rec["estimate"],
                        rec["std_error"],
                        rec["conf_low"],
                        rec["conf_high"],
                        rec["p_value"],
                    ),
                }
            )
    rows.append({"label": "TWFE without controls (Bacon total)", **_row(r["bacon"]["twfe"])})
    h = r["honestdid"]
    rows.append(
        {
            "label": f"Event study, {h['target']} post effect",
            **_row(h["estimate"], h["std_error"], *h["original_ci"]),
        }
    )
    s = r["spec_curve"]
    rows.append(
        {
            "label": f"Spec curve median (range of {s['n_specs']})",
            **_row(s["median"], conf_low=s["min"], conf_high=s["max"]),
        }
    )
    return pd.DataFrame(rows)


def figure_calls(results: dict) -> list[dict]:
    """The figure functions to call: ``{"function", "frame", "kwargs", "stem"}`` per figure."""
    calls = []
    for func, frame, kwargs, stem in FIGURES:
        values = {name: results.get(sec, {}).get(key) for name, (sec, key) in kwargs.items()}
        calls.append({"function": func, "frame": frame, "kwargs": values, "stem": stem})
    return calls


def make_figures(study: dict, lang: str = "en") -> dict:
    """Call every figure function of ``study["figures"]``; returns ``{stem: Figure}`` (labels in ``lang``)."""
    from analysis.figures import robustness as figs

    return {
        c["stem"]: getattr(figs, c["function"])(study["frames"][c["frame"]], **c["kwargs"], lang=lang)
        for c in study["figures"]
    }
