"""The robustness checklist for the pilot-zone effect: one function the robustness notebook narrates.

:func:`robustness_study` runs, on the processed panel and with the options of params.yaml
``notebooks: robustness`` (typed and with their defaults in :class:`analysis.config.RobustnessConfig`):

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

The checklist uses what the panel has: the controls are the usable ones of the design check
(:func:`analysis.studies.binary.study_design`, the rule of the panel stage), the other treatments
only when they vary in the panel, PSM only the usable matching covariates. A check the design rules
out (the wild bootstrap with too few clusters) or that fails numerically on this panel is recorded
as ``{"skipped": reason}`` in the results and listed in ``results["skips"]``; its figure call then
carries the reason instead of a frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import RobustnessConfig, parse_section, plain
from analysis.data.design import MIN_CONTROL_SHARE
from analysis.did.bacon import bacon_decomposition
from analysis.did.event_study import event_study
from analysis.did.honestdid import honest_did
from analysis.did.psm_did import psm_did
from analysis.did.randomization import randomization_inference
from analysis.did.twfe import twfe
from analysis.did.wild_bootstrap import wild_cluster_bootstrap
from analysis.pvalues import format_p
from analysis.results_io import _clean
from analysis.studies.binary import (
    attempt,
    controls_record,
    is_skipped,
    skipped,
    study_design,
    treatment_covariates,
)
from analysis.studies.robustness import concurrent, heterogeneity, spec_curve

__all__ = ["DESIGN", "FIGURES", "make_figures", "robustness_options", "robustness_study"]

# The effect every check attacks, as estimated in the pilot-zone notebook
# (analysis.studies.binary.binary_study): the study's design, not an option.
DESIGN: dict = {
    "yname": "log_exports",
    "dname": "pilot",
    "gname": "pilot_year",
    # TWFE covariates of every TWFE-based check: the other treatments and the economic controls
    # that the panel has (design check; on the full synthetic panel: rail, log_broadband and
    # analysis.data.schema.CONTROLS)
    "controls": None,
    "cluster": "city_code",
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


def robustness_options(options: RobustnessConfig | dict | None) -> RobustnessConfig:
    """The checklist's options: a :class:`RobustnessConfig`, or a mapping of some of its keys (the
    others take their defaults; nested sections merge key by key); unknown keys are an error."""
    if isinstance(options, RobustnessConfig):
        return options
    return parse_section(RobustnessConfig, options or {}, prefix="notebooks.robustness")


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
    from analysis.data.build import read_cities
    from analysis.data.cities import build_city_master

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


def robustness_study(
    panel: pd.DataFrame,
    truth: dict,
    options: RobustnessConfig | dict | None = None,
    *,
    year_rule: str = "approval",
    cities_path: str | Path | None = None,
    progress: bool = False,
    min_control_share: float = MIN_CONTROL_SHARE,
) -> dict:
    """Run the robustness checklist for the pilot-zone effect (see the module docstring).

    ``options``: params.yaml ``notebooks.robustness`` (see :func:`robustness_options`);
    ``year_rule``: params.yaml ``treatment.year_rule``, which codes the concurrent-policy rosters as
    the pilot zones of ``panel`` were coded; ``cities_path``: the city master that names the roster
    cities (default: data/interim/cities.csv).
    """
    opt = robustness_options(options)
    y, d, g, cl = DESIGN["yname"], DESIGN["dname"], DESIGN["gname"], DESIGN["cluster"]
    idname, tname, seed, n_jobs = "city_code", "year", opt.seed, opt.n_jobs
    results, frames, timings = {}, {}, {}
    clock = time.perf_counter()
    # Rosters first: a bad roster row is reported before minutes of estimation.
    table = concurrent.load_concurrent_policies(
        opt.concurrent_policies, _city_master(cities_path), year_rule
    )
    design = study_design(panel, share=min_control_share, wild_cluster=opt.wild_cluster)
    ctrl = [*treatment_covariates(design, d), *design.controls_used]
    settings = {
        **DESIGN,
        "controls": ctrl,
        **plain(opt),
        "progress": progress,
        "year_rule": year_rule,
        "cities_path": _relative(cities_path),
    }
    att = truth.get(d, {}).get("att_overall") if truth else None
    why = design.treatments[d].estimators.get("twfe")
    if why:  # nothing to check: the pilot effect itself cannot be estimated on this panel
        results = {
            "skipped": why,
            "truth": {"att_overall": att, "data_source": (truth or {}).get("data_source")},
            **controls_record(design),
            "skips": {"robustness checklist": why},
            "settings": settings,
        }
        frames["summary"] = pd.DataFrame(columns=["label", *_row(0.0)])
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
    results["truth"] = {"att_overall": att, "data_source": (truth or {}).get("data_source")}
    lap("baseline")

    def placebo() -> None:
        ri = randomization_inference(
            panel,
            y,
            idname,
            tname,
            g,
            ctrl,
            opt.placebo_within,
            opt.placebo_draws,
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
            "within": opt.placebo_within,
        }
        frames["placebo_draws"] = pd.DataFrame({"estimate": ri.draws})

    check("placebo", placebo)

    def wild() -> None:
        # Webb weights below 12 clusters (the design check's rule), else the configured weights
        weights = "webb" if design.wild_bootstrap["weights"] == "webb" else opt.wild_weights
        wb = wild_cluster_bootstrap(
            panel,
            y,
            idname,
            tname,
            opt.wild_cluster,
            gname=g,
            controls=ctrl,
            B=opt.wild_draws,
            weights=weights,
            seed=seed,
        )
        results["wild_bootstrap"] = {
            **_row(wb.estimate, wb.std_error, *wb.conf_int, wb.p_value),
            "t_stat": wb.t_stat,
            "B": wb.B,
            "weights": wb.weights,
            "n_clusters": wb.n_clusters,
            "cluster": opt.wild_cluster,
        }

    check("wild_bootstrap", wild, design.wild_bootstrap.get("skip"))

    psm_covariates = [c for c in opt.psm.covariates if c in design.controls_used]
    psm_missing = [c for c in opt.psm.covariates if c not in design.controls_used]

    def psm() -> None:
        ps = psm_did(
            panel,
            y,
            idname,
            tname,
            g,
            covariates=psm_covariates,
            cluster=cl,
            controls=ctrl,
            method=opt.psm.method,
            n_neighbors=opt.psm.n_neighbors,
            caliper=opt.psm.caliper,
            replace=opt.psm.replace,
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
        if psm_missing:
            results["psm_did"]["covariates_dropped"] = {
                c: design.controls_dropped.get(c, "not a usable control") for c in psm_missing
            }

    no_psm = (
        "PSM-DID matches designated cities to never-designated ones; this panel has none"
        if design.treatments["pilot"].never_treated == 0
        else None
        if psm_covariates
        else "none of the matching covariates ("
        + ", ".join(opt.psm.covariates)
        + ") is usable in this panel"
    )
    check("psm_did", psm, no_psm)

    years = concurrent.policy_years(table)
    conc_table = pd.DataFrame()

    def concurrent_check() -> None:
        nonlocal conc_table
        conc = concurrent.concurrent_policy_check(panel, years, y, d, g, ctrl, idname, tname, cl)
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
            cl,
            methods=tuple(hp.methods),
            size_bins=hp.size_bins,
        )
        frames["heterogeneity"] = het.table
        frames["heterogeneity_tests"] = het.tests
        results["heterogeneity"] = {
            "pooled_estimate": float(het.pooled["estimate"]),
            "tests": het.tests,
            "table": het.table,
        }

    check("heterogeneity", heterogeneity_check)

    def bacon() -> None:
        bd = bacon_decomposition(panel, y, d, idname, tname)
        frames["bacon"] = bd.two_by_twos
        results["bacon"] = {
            "twfe": bd.twfe,
            "weighted_sum": bd.weighted_sum,
            "by_type": bd.by_type.reset_index().rename(columns={"index": "type"}),
        }

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
        es = event_study(panel, y, g, idname, tname, tuple(hd.window), controls=ctrl, cluster=cl)
        k = len(es.periods)
        n_pre = sum(e < es.ref for e in es.periods)
        n_post = k - n_pre
        if n_pre < 1 or n_post < 1:
            raise ValueError("the event study has no pre-period or no post-period coefficient")
        l_vec = np.full(n_post, 1.0 / n_post) if hd.target == "average" else np.eye(n_post)[0]
        # grid="centered": R's default Delta^RM grid (+/- 20 SE around zero) cuts the confidence
        # set off when the estimate is more than 20 SE from zero, as for the pilot zones
        hres = honest_did(
            es.fit.params.to_numpy()[:k], es.fit.cov.to_numpy()[:k, :k], n_pre, n_post,
            l_vec=l_vec, Mvec=None if hd.Mvec is None else list(hd.Mvec),
            Mbarvec=list(hd.Mbarvec), type=hd.type, gridPoints=hd.grid_points, grid="centered",
            seed=seed,
        )  # fmt: skip
        frames["honestdid"] = hres.table
        frames["event_study"] = es.tidy()
        results["honestdid"] = {
            "target": hd.target,
            "estimate": hres.estimate,
            "std_error": hres.std_error,
            "original_ci": [float(hres.original["lb"].iloc[0]), float(hres.original["ub"].iloc[0])],
            "breakdown_M": _breakdown(hres.results),
            "table": hres.table,
            "pretrend_test": es.pretrend_test(),
        }

    check("honestdid", honest)

    sp = opt.spec_curve

    def curve() -> None:
        sc = spec_curve.spec_curve(
            panel,
            {key: list(values) for key, values in sp.options.items()},
            control_sets=spec_curve.usable_control_sets(design),
            policy_years=years,
            yname=y,
            gname=g,
            idname=idname,
            tname=tname,
            n_jobs=n_jobs,
            backend=sp.backend,
            progress=progress,
        )
        if sc.table.empty:
            raise ValueError("no specification of the curve is feasible on this panel")
        frames["spec_curve"] = sc.table
        frames["spec_curve_infeasible"] = sc.infeasible
        results["spec_curve"] = {
            **sc.overview(),
            "baseline_spec_id": sc.baseline,
            "options": sc.options,
            "control_sets": sc.control_sets,
        }

    check("spec_curve", curve)

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


def _summary(results: dict, conc: pd.DataFrame) -> pd.DataFrame:
    """One row per check that ran: the pilot estimate with its interval (a range for the spec
    curve). Skipped checks have no row (they are listed in ``results["skips"]``)."""
    r = results
    ran = {k: v for k, v in r.items() if isinstance(v, dict) and not is_skipped(v)}
    cols = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
    rows = [
        {
            "label": "TWFE (baseline, city-clustered CI)",
            **_row(**{k: r["baseline"][k] for k in cols}),
        }
    ]
    if "wild_bootstrap" in ran:
        rows.append(
            {
                "label": f"TWFE, wild bootstrap CI ({r['wild_bootstrap']['cluster']})",
                **_row(**{k: r["wild_bootstrap"][k] for k in cols}),
            }
        )
    if "placebo" in ran:
        rows.append(
            {
                "label": "TWFE, placebo RI "
                + format_p(r["placebo"]["p_value"], r["placebo"]["draws"], space=" "),
                **_row(r["placebo"]["estimate"], p_value=r["placebo"]["p_value"]),
            }
        )
    if "psm_did" in ran:
        rows.append({"label": "PSM-DID", **_row(**{k: r["psm_did"][k] for k in cols})})
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
    if "bacon" in ran:
        rows.append({"label": "TWFE without controls (Bacon total)", **_row(r["bacon"]["twfe"])})
    if "honestdid" in ran:
        h = r["honestdid"]
        rows.append(
            {
                "label": f"Event study, {h['target']} post effect",
                **_row(h["estimate"], h["std_error"], *h["original_ci"]),
            }
        )
    if "spec_curve" in ran:
        s = r["spec_curve"]
        rows.append(
            {
                "label": f"Spec curve median (range of {s['n_specs']})",
                **_row(s["median"], conf_low=s["min"], conf_high=s["max"]),
            }
        )
    return pd.DataFrame(rows)


# The check whose skip removes each frame (a figure of a skipped check carries the reason)
_CHECK_OF_FRAME = {
    "placebo_draws": "placebo",
    "psm_balance": "psm_did",
    "heterogeneity": "heterogeneity",
    "bacon": "bacon",
    "honestdid": "honestdid",
    "spec_curve": "spec_curve",
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
    from analysis.figures import robustness as figs

    return {
        c["stem"]: getattr(figs, c["function"])(
            study["frames"][c["frame"]], **c["kwargs"], lang=lang
        )
        for c in study["figures"]
        if "skipped" not in c
    }
