"""The paper as one language-neutral document: sections of blocks (paragraphs, tables, figures,
lists), every string already in the report's language, every number read from the results.

Both output formats render this same document (templates/report.html.j2 with Jinja autoescaping,
templates/report.typ reading it as JSON), so the two cannot drift: a section, caption or table
exists in both or in neither. Text comes from report/text/<lang>.yaml (+ references.yaml, shared).
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path

import yaml

from analysis.figures.labels import spec_choice
from analysis.figures.labels import tr as tr_label
from analysis.figures.style import skipped_reason
from analysis.report import markup, reasons
from analysis.report.exhibits import EXHIBITS, EXTRA_SOURCES, Exhibit, numbers
from analysis.report.inputs import ReportInputs, skipped, skipped_estimators
from analysis.report.number_format import Formatter, at_floor

TEXT_DIR = Path(__file__).parent / "text"
LANGUAGES = ("en", "zh")
REG_TERMS = (
    "pilot",
    "rail",
    "log_broadband",
    "log_gdp_pc",
    "log_population",
    "log_fdi",
    "industry_share_pct",
)
SPEC_DIMENSIONS = ("estimator", "controls", "sample", "timing")
SECTIONS = (
    "introduction",
    "data",
    "method",
    "results",
    "limitations",
    "replication",
    "references",
    "appendix",
)


@cache
def text(lang: str) -> dict:
    if lang not in LANGUAGES:
        raise ValueError(f"report.lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    t = yaml.safe_load((TEXT_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    return _merge_rails_spillovers(t)


def _merge_rails_spillovers(t: dict) -> dict:
    """The rail-link, corridor, spillover and Conley keys live in a block of their own (``rails_spillovers``); its captions and table labels
    join the ones the exhibits and tables read."""
    block = t.get("rails_spillovers") or {}
    t["captions"] = {**t["captions"], **block.get("captions", {})}
    t["captions_file"] = {**t.get("captions_file", {}), **block.get("captions_file", {})}
    rail = (block.get("tables") or {}).get("treatments_rail")
    if rail:
        t["tables"]["treatments"]["rail"] = rail
    return t


@cache
def references() -> list[str]:
    return yaml.safe_load((TEXT_DIR / "references.yaml").read_text(encoding="utf-8"))


def _stars(p: float) -> str:
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def _network_values(design: dict, fmt: Formatter) -> dict[str, str]:
    """The placeholders of the Broadband China sentences (issue 20), n/a where a part is absent;
    the per-subscriber slopes (CGS ACRT, dCDH) at 4 decimals (~0.0005 per subscriber per 100)."""
    num = fmt.num
    bc = design.get("broadband_china") or {}
    head = bc.get("headline") or {}
    fs = bc.get("first_stage") or {}
    single = (bc.get("without_single_source") or {}).get("headline") or {}
    cgs = design.get("designation_dose_response") or {}
    overall = {row["term"]: row for row in cgs.get("overall") or []}
    att, acrt = overall.get("att_overall", {}), overall.get("acrt_overall", {})
    dcdh = (design.get("dose_event_studies") or {}).get("broadband_per100") or {}
    fs_bb, fs_mob = fs.get("broadband_per100") or {}, fs.get("mobile_per100") or {}
    return {
        "bc_est": num(head.get("estimate")),
        "bc_ci": fmt.ci(head.get("conf_low"), head.get("conf_high")),
        "bc_truth": num(bc.get("true_att_target")),
        "bc_censored": str((bc.get("covariate_rule") or {}).get("censored_city_years", 0)),
        "bc_censored_cities": str((bc.get("covariate_rule") or {}).get("censored_cities", 0)),
        "bc_single": num(single.get("estimate")),
        "bc_fs_bb": num(fs_bb.get("estimate")),
        "bc_fs_mob": num(fs_mob.get("estimate")),
        "bc_fs_bb_truth": num(fs_bb.get("truth")),
        "bc_fs_mob_truth": num(fs_mob.get("truth")),
        "cgs_att": num(att.get("estimate")),
        "cgs_ci": fmt.ci(att.get("conf_low"), att.get("conf_high")),
        "cgs_acrt": num(acrt.get("estimate"), 4),
        "cgs_truth": num(cgs.get("truth_att_overall")),
        "dcdh_bb": num(dcdh.get("average_total_effect"), 4),
        # an estimate whose jackknife has under two replicates (a panel of very few provinces)
        "dcdh_bb_se": fmt.t["na_jackknife"]
        if dcdh.get("average_total_effect") is not None and dcdh.get("std_error") is None
        else num(dcdh.get("std_error"), 4),
        "dcdh_bb_p": fmt.p((dcdh.get("placebo_test") or {}).get("p_value")),
        "dcdh_bb_target": num(dcdh.get("target"), 4),
        "dcdh_bb_band": num(dcdh.get("band_width"), 0),
    }


def values(r: dict, fmt: Formatter, t: dict, data_file: str | None) -> dict[str, str]:
    """Every {placeholder} of the prose, formatted, read from the results under stable keys."""
    ov, pilot, rail, cov, rob = (
        r["overview"],
        r["pilot_zones"],
        r["rail_links"],
        r["network_coverage"],
        r["robustness"],
    )
    sim, num, pct, res = r["sim"], fmt.num, fmt.pct, t["results"]
    nums = numbers()
    # a study, estimator or check skipped on this panel ({"skipped": reason}) has no numbers: its
    # placeholders read n/a, and the text says why it is absent (skip_sentences)
    cov_skip = skipped(cov)
    pilot, rail, cov = _ran(pilot), _ran(rail), _ran(cov)
    cov_est, cov_se = num(cov["twfe"].get("estimate")), num(cov["twfe"].get("std_error"))
    coverage_clause = (
        markup.inline(t["abstract_coverage_skipped"], {"cov_skip": reason(cov_skip, t)})
        if cov_skip
        else t["abstract_coverage"].format(cov_est=cov_est, cov_se=cov_se)
    )
    # a check skipped on this panel has no numbers ({}: its placeholders read n/a)
    rob = {k: {} if skipped(v) else v for k, v in rob.items()} if not skipped(rob) else {}
    rob = {**rob, **{k: rob.get(k) or {} for k in CHECKS + ("baseline", "truth")}}
    p_of = lambda test: fmt.p((test or {}).get("p_value"))
    ph, rh = pilot["headline"], rail["headline"]
    pt, rt = pilot.get("pretrend_tests") or {}, rail.get("pretrend_tests") or {}
    truth_total, truth_target = pilot.get("true_att_overall"), pilot.get("true_att_target")
    # the headline's truth (the total effect over the cities the study keeps) and, beside it, the
    # direct effect of its decomposition
    truth_head = truth_target if truth_target is not None else truth_total
    direct = pilot.get("decomposition") or {}
    truth_direct = None if skipped(direct) else (direct.get("direct") or {}).get("truth")
    pilot_truth_text = (
        t["truth_total_direct"].format(total=num(truth_head), direct=num(truth_direct))
        if truth_direct is not None
        else num(truth_head)
    )
    head_truth = ph.get("truth")
    covers = (
        res["covers"]
        if ph.get("truth_in_ci")
        else res["misses"]
        if head_truth is not None
        else t["na"]
    )
    ri = rail.get("randomization") or {}
    diag = (rail.get("cluster_diagnostic") or {}).get("province") or {}
    bacon = rob["bacon"]
    spec = rob["spec_curve"]
    placebo = rob["placebo"]
    within = res["within"].get(placebo.get("within") or "none", res["within"]["none"])
    wb, dr = rob["wild_bootstrap"], rob["dr"]
    head_sim = sim.get("heterogeneous", {}).get("headline", {})
    twfe_sim = sim.get("heterogeneous", {}).get("twfe", {})
    bjs_sim = sim.get("heterogeneous", {}).get("bjs", {})
    het_sim = sim.get("heterogeneous", {})
    naive, adjusted = cov["twfe_no_controls"].get("estimate"), cov["twfe"].get("estimate")
    direction = (
        t["na"]
        if naive is None or adjusted is None
        else res["above" if naive > adjusted else "below"]
    )
    honest = rob["honestdid"]
    return {
        "controls_list": variable_list(r["pilot_zones"].get("controls_used"), t)
        or t["no_controls"],
        "n_provinces": n_provinces(r, t),
        "n_cities": ov["n_cities"],
        "year_from": ov["years"][0],
        "year_to": ov["years"][1],
        "n_pilot_cities": ov["n_pilot_cities"],
        "n_rail_cities": ov["n_rail_cities"],
        "n_city_years": ov["n_city_years"],
        "overview_year": ov["overview_year"],
        "exports_bn": f"{ov['total_exports_usd_bn']:.0f}",
        "exports_yi": f"{ov['total_exports_usd_bn'] * 10:.0f}",
        "top10_share": pct(ov["top10_share"]),
        "cohorts": t["list_sep"].join(f"{g}: {n}" for g, n in ov["pilot_cohort_sizes"].items()),
        "data_file": data_file if data_file is not None else t["na"],
        "n_sim_table": nums["simulation_table"],
        "n_rob_table": nums["robustness_table"],
        "pilot_est": num(ph.get("estimate")),
        "pilot_se": num(ph.get("std_error")),
        "pilot_ci": fmt.ci(ph.get("conf_low"), ph.get("conf_high")),
        "pilot_cluster": t["clusters"].get(ph.get("cluster"), t["na"]),
        "pilot_G": ph.get("n_clusters", t["na"]),
        "pilot_twfe": num(pilot["twfe"].get("estimate")),
        "pilot_twfe_ci": fmt.ci(pilot["twfe"].get("conf_low"), pilot["twfe"].get("conf_high")),
        "pilot_truth": num(truth_head),
        "pilot_truth_text": pilot_truth_text,
        "pilot_covers": covers,
        "pilot_twfe_bias": num(pilot.get("twfe_bias")),
        "pre_twfe": p_of(pt.get("twfe")),
        "pre_cs": p_of(pt.get("cs")),
        "pre_sa": p_of(pt.get("sa")),
        "pre_bjs": p_of(pt.get("bjs")),
        **_pretrend_power_numbers(pilot.get("pretrend_power"), "", num, t),
        **_pretrend_power_numbers(rail.get("pretrend_power"), "rail_", num, t),
        "rail_est": num(rh.get("estimate")),
        "rail_se": num(rh.get("std_error")),
        "rail_ci": fmt.ci(rh.get("conf_low"), rh.get("conf_high")),
        "rail_truth": num(rail.get("true_att_target", rail.get("true_att_overall"))),
        "rail_n_treated": rail.get("n_treated_cities", t["na"]),
        "rail_overlap": (rail.get("overlap") or {}).get("pilot", t["na"]),
        "rail_treated_provinces": diag.get("n_treated_clusters", t["na"]),
        "rail_max_lead_t": num(_max_lead_t(rail.get("event_study"))),
        "rail_ri_p": fmt.p(ri.get("p_value"), ri.get("draws")),
        "rail_ri_draws": ri.get("draws", t["na"]),
        "rail_pre_twfe": p_of(rt.get("twfe")),
        "rail_pre_cs": p_of(rt.get("cs")),
        "rail_pre_sa": p_of(rt.get("sa")),
        "rail_pre_bjs": p_of(rt.get("bjs")),
        "rail_cs_unadjusted": num(
            ((rail.get("cs_unadjusted") or {}).get("overall") or {}).get("estimate")
        ),
        "rail_cs": num(
            (((rail.get("robust") or {}).get("cs") or {}).get("overall") or {}).get("estimate")
        ),
        "cov_est": cov_est,
        "cov_se": cov_se,
        "coverage_clause": coverage_clause,
        "cov_ci": fmt.ci(cov["twfe"].get("conf_low"), cov["twfe"].get("conf_high")),
        "cov_truth": num(cov.get("true_elasticity")),
        "cov_no_controls": num(naive),
        "cov_direction": direction,
        **_network_values(cov.get("design") or {}, fmt),
        "bacon_twfe_nc": num(bacon.get("twfe_no_controls")),
        "bacon_twfe_c": num(bacon.get("twfe_with_controls")),
        "bacon_forbidden_w": num(bacon.get("forbidden_weight")),
        "bacon_forbidden_contrib": num(bacon.get("forbidden_contribution")),
        "bacon_gap": num(bacon.get("gap_to_truth")),
        "sim_reps": head_sim.get("n_reps", t["na"]),
        "sim_head_bias": num(head_sim.get("bias")),
        "sim_head_bias_se": num(head_sim.get("bias_mc_se")),
        "sim_head_cov": pct(head_sim.get("coverage"), 1),
        "sim_head_cov_se": pct(head_sim.get("coverage_mc_se"), 1),
        "sim_direct_bias": num(het_sim.get("direct", {}).get("bias")),
        "sim_direct_cov": pct(het_sim.get("direct", {}).get("coverage"), 1),
        "sim_rail_bias": num(het_sim.get("rail_headline", {}).get("bias")),
        "sim_rail_cov": pct(het_sim.get("rail_headline", {}).get("coverage"), 1),
        "sim_rail_cov_se": pct(het_sim.get("rail_headline", {}).get("coverage_mc_se"), 1),
        "sim_twfe_bias": num(twfe_sim.get("bias")),
        "sim_twfe_cov": pct(twfe_sim.get("coverage"), 0),
        "sim_bjs_cov": pct(bjs_sim.get("coverage"), 0),
        "sim_hom_twfe_bias": num(sim.get("homogeneous", {}).get("twfe", {}).get("bias")),
        "placebo_within": within,
        "placebo_draws": placebo.get("draws", t["na"]),
        "placebo_p": fmt.p(placebo.get("p_value"), placebo.get("draws")),
        "wild_clusters": wb.get("n_clusters", t["na"]),
        "wild_B": wb.get("B", t["na"]),
        "wild_ci": fmt.ci(wb.get("conf_low"), wb.get("conf_high")),
        "wild_p": fmt.p(wb.get("p_value"), wb.get("B")),
        "dr_est": num(dr.get("estimate")),
        "dr_ci": fmt.ci(dr.get("conf_low"), dr.get("conf_high")),
        "n_specs": spec.get("n_curve", t["na"]),
        "spec_median": num(spec.get("median")),
        "spec_share": pct(spec.get("share_positive_significant"), 0),
        "spec_draws": spec.get("joint_draws", t["na"]),
        "spec_estimators": len((spec.get("options") or {}).get("estimator") or []) or t["na"],
        "spec_control_sets": len((spec.get("options") or {}).get("controls") or []) or t["na"],
        "spec_cluster": t["clusters"].get(spec.get("cluster"), t["na"]),
        "spec_joint_p": fmt.p(spec.get("joint_p_median"), spec.get("joint_draws")),
        "n_outliers": spec.get("n_outliers", 0),
        "outlier_k": f"{spec.get('outlier_k', 5):g}",
        "outlier_list": res["outlier_sep"].join(
            res["outlier_item"].format(
                what=t["list_sep"].join(
                    spec_choice(d, str(o[d]), t["lang"]) for d in SPEC_DIMENSIONS if d in o
                ),
                estimate=num(o.get("estimate")),
                se=num(o.get("std_error")),
            )
            for o in spec.get("outliers") or []
        ),
        "honest_sentence": (honest.get("sentences") or {}).get(t["lang"], t["na"]),
        **_honest_target_numbers(honest, num, t),
    }


def _honest_target_numbers(honest: dict, num, t: dict) -> dict:
    """How the HonestDiD target differs from the headline, in numbers (its ``target_vs_headline``):
    the target, the headline, the e = -1 lead the re-basing subtracts, the share of the treated
    city-years its horizons cover, and the benchmark slope (n/a for an older results file)."""
    tv = honest.get("target_vs_headline") or {}
    bench = honest.get("benchmark") or {}
    share = tv.get("treated_share_covered")
    return {
        "honest_target": num(tv.get("target")),
        "honest_headline": num(tv.get("headline")),
        "honest_lead": num(tv.get("lead_minus_1")),
        "honest_share": t["na"] if share is None else f"{100 * share:.0f}%",
        "honest_bench": num(bench.get("slope_80")),
    }


def reason(why: str, t: dict) -> list[dict]:
    """A skip or drop reason written by a study (English) as runs in the report's language."""
    return reasons.translate(why, t, text("en"))


def variable_list(names, t: dict) -> str:
    """Variables by their prose names (``variables`` of the text), joined; "" for none."""
    return t["enum_sep"].join(t["variables"].get(n, n) for n in names or [])


def n_provinces(r: dict, t: dict):
    """Provinces of the estimation sample: the design check's count, else the province clusters of
    the pilot-zone study; n/a when neither is known."""
    diag = ((r["pilot_zones"].get("cluster_diagnostic") or {}).get("province")) or {}
    return (r.get("design") or {}).get("n_provinces") or diag.get("n_clusters") or t["na"]


def heterogeneity_blocks(het: dict | None, t: dict, fmt: Formatter) -> list[dict]:
    """The heterogeneity paragraph: per dimension, the p-value of the raw group differences and of
    the differences at common cohort x event-time weights, each with its stepdown adjusted p-value
    across the dimensions, and what the pair means: the verdict follows the adjusted p-values, and
    a non-rejection is "not distinguishable", with the minimum detectable difference."""
    if not het or skipped(het) or not het.get("tests"):
        return []
    res = t["results"]
    draws = (het.get("adjustment") or {}).get("draws")
    lines = []
    for test in het["tests"]:
        raw, mod = test.get("raw_p"), test.get("modification_p")
        if raw is None or mod is None:
            continue
        raw_adj, mod_adj = test.get("raw_p_adjusted"), test.get("modification_p_adjusted")
        raw_dec = raw if raw_adj is None else raw_adj
        mod_dec = mod if mod_adj is None else mod_adj
        verdict = "modification" if mod_dec < 0.05 else "composition" if raw_dec < 0.05 else "both"
        lo, hi = test.get("modification_mdd_min"), test.get("modification_mdd_max")
        mdd = (
            t["na"]
            if lo is None
            else fmt.num(hi)
            if hi is None or abs(hi - lo) < 5e-4
            else f"{fmt.num(lo)}–{fmt.num(hi)}"
        )
        lines.append(
            markup.inline(
                res["heterogeneity_dimension"],
                {
                    "dimension": res["dimensions"].get(test["dimension"], test["dimension"]),
                    "raw_p": fmt.p(raw),
                    "mod_p": fmt.p(mod),
                    "raw_adj": fmt.p(raw_adj, draws),
                    "mod_adj": fmt.p(mod_adj, draws),
                    "verdict": res["verdicts"][verdict].format(mdd=mdd),
                },
            )
        )
    return [
        para(markup.inline(res["heterogeneity"])),
        {"kind": "list", "ordered": False, "items": lines},
    ]


def multiple_testing_blocks(mt: dict | None, t: dict, fmt: Formatter) -> list[dict]:
    """The three treatments' headline tests with their stepdown adjusted p-values (robustness
    results ``multiple_testing``); nothing when the family was not computed."""
    if not mt or skipped(mt) or not mt.get("table"):
        return []
    res = t["results"]
    items = [
        markup.inline(
            res["multiple_testing_item"],
            {
                "treatment": res["treatments"].get(row["hypothesis"], row["hypothesis"]),
                "estimate": fmt.num(row["estimate"]),
                "p": fmt.p(row["p_value"]),
                "p_adj": fmt.p(row["p_adjusted"], mt.get("draws")),
                "p_holm": fmt.p(row["p_holm"]),
            },
        )
        for row in mt["table"]
    ]
    return [
        para(markup.inline(res["multiple_testing"], {"draws": mt.get("draws", t["na"])})),
        {"kind": "list", "ordered": False, "items": items},
    ]


def _blank(value) -> bool:
    """A missing number (None or NaN): an empty table cell."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _max_lead_t(event_study) -> float | None:
    """The largest |t| among the leads (e < -1) of an event-study frame (records), else None."""
    leads = [
        abs(row["statistic"])
        for row in event_study or []
        if row.get("event_time", 0) < -1 and row.get("statistic") is not None
    ]
    return max(leads) if leads else None


def _ran(study: dict) -> dict:
    """A results dict with every skipped entry replaced by an empty one (numbers read as n/a)."""
    if not isinstance(study, dict):
        return {}
    out = {k: ({} if skipped(v) else v) for k, v in study.items()}
    for key in ("twfe", "pretrend_test", "twfe_no_controls", "headline"):
        out.setdefault(key, {})
    return out


def detect_blocks(power: dict | None, t: dict, fmt: Formatter, synthetic: bool) -> list[dict]:
    """The "what this design can detect" paragraph (results/design.json): the calibrated model in
    one sentence, then per treatment the headline's MDE at 80% power for a constant and a growing
    effect with Monte Carlo s.e. and, on synthetic data, its power against the true effect; on a
    user's file, what a non-significant estimate can rule out. Nothing without the results."""
    if not power or not power.get("treatments"):
        return []
    res, sep = t["results"], t["sentence_sep"]
    cal = power.get("calibration") or {}
    head_reps = [
        rec["estimators"]["headline"]["shapes"]["constant"]["n_reps"]
        for rec in power["treatments"].values()
        if "shapes" in (rec.get("estimators") or {}).get("headline", {})
    ]
    runs = markup.inline(
        res["design"],
        {
            "design_reps": head_reps[0] if head_reps else t["na"],
            "design_rho": fmt.num(cal.get("rho"), 2),
            "design_group_share": fmt.pct(
                (cal.get("diagnostics") or {}).get("group_share_of_variance"), 0
            ),
        },
    )
    for key, rec in power["treatments"].items():
        what = t["tables"]["treatments"].get(key, key)
        head = (rec.get("estimators") or {}).get("headline", {})
        why = head.get("skipped") or rec.get("skipped")
        if why:  # the design rules the headline out on this panel
            part = markup.inline(res["design_skipped"], {"what": what, "reason": reason(why, t)})
        elif "shapes" not in head:  # the headline was not among the simulated estimators
            continue
        else:
            shapes = head["shapes"]
            mde = lambda s, shapes=shapes: (
                fmt.num(shapes[s]["mde"]) if shapes[s]["reached"] else t["na"]
            )
            part = markup.inline(
                res["design_mde"],
                {
                    "what": what,
                    "mde_constant": mde("constant"),
                    "mde_constant_se": fmt.num(shapes["constant"]["mc_se"]),
                    "mde_growing": mde("growing"),
                    "mde_growing_se": fmt.num(shapes["growing"]["mc_se"]),
                },
            )
            truth = rec.get("truth")
            if truth is not None and synthetic:
                part = markup.join(part, markup.literal(sep), markup.inline(res["design_truth"], {
                    "truth": fmt.num(truth["att"]), "power": fmt.pct(truth["power"], 0),
                    "power_se": fmt.pct(truth["power_mc_se"], 0)}))  # fmt: skip
        runs = markup.join(runs, markup.literal(sep), part)
    if not synthetic:
        runs = markup.join(runs, markup.literal(sep), markup.inline(res["design_file"]))
    return [para(runs)]


def para(runs: list[dict]) -> dict:
    return {"kind": "para", "runs": runs}


def table(
    header: list[str],
    rows: list[dict],
    *,
    label: str | None = None,
    caption=None,
    source=None,
    small: bool = False,
    first_left: bool = True,
) -> dict:
    """A table block; rows are {"cells": [str], "span": bool, "rule": bool} (rule = line above)."""
    return {
        "kind": "table",
        "label": label,
        "caption": caption or [],
        "source": source or [],
        "small": small,
        "columns": len(header),
        "header": header,
        "first_left": first_left,
        "rows": [{"span": False, "rule": False, **row} for row in rows],
    }


def regression_table(frame, t: dict) -> tuple[list[str], list[dict]]:
    """Columns = specifications; cells 'estimate stars' over '(se)'; footer N, clusters, within R²."""
    specs = list(dict.fromkeys(frame["specification"]))
    header = [""] + [
        f"({i}) {t['tables']['specifications'].get(s, s)}" for i, s in enumerate(specs, start=1)
    ]
    rows = []
    present = set(frame["term"])
    for term in (t for t in REG_TERMS if t in present):  # a variable the panel lacks has no row
        cells, ses = [], []
        for spec in specs:
            hit = frame[(frame["specification"] == spec) & (frame["term"] == term)]
            if hit.empty:
                cells.append("")
                ses.append("")
            else:
                row = hit.iloc[0]
                cells.append(f"{row['estimate']:.4f}{_stars(row['p_value'])}")
                ses.append(f"({row['std_error']:.4f})")
        rows.append({"cells": [t["tables"]["terms"][term], *cells], "rule": not rows})
        rows.append({"cells": ["", *ses]})
    for i, (key, pattern) in enumerate(
        (("nobs", "{:.0f}"), ("n_clusters", "{:.0f}"), ("r2_within", "{:.3f}"))
    ):
        cells = [pattern.format(frame.loc[frame["specification"] == s, key].iloc[0]) for s in specs]
        rows.append({"cells": [t["tables"]["footer"][key], *cells], "rule": i == 0})
    return header, rows


def overall_table(overall: dict, fmt: Formatter, t: dict, truth: bool = True) -> list[dict]:
    """Rows of the overall-effects table; ``truth``: with the truth and bias columns (synthetic
    data only: a user's file has no truth to compare with)."""
    rows = []
    for key in ("pilot", "rail"):
        rows.append({"cells": [t["tables"]["treatments"][key]], "span": True, "rule": True})
        for r in overall[key]:
            cells = [
                t["tables"]["estimators"][r["id"]],
                fmt.num(r["estimate"]),
                fmt.num(r["std_error"]),
                fmt.ci(r["conf_low"], r["conf_high"]),
            ]
            if truth:
                cells += [
                    "" if r["truth"] is None else fmt.num(r["truth"]),
                    "" if r["bias"] is None else fmt.num(r["bias"]),
                ]
            rows.append({"cells": cells})
    return rows


def _pretrend_power_numbers(power: dict | None, prefix: str, num, t: dict) -> dict:
    """Placeholders of the pre-trend power sentence (Roth 2022) from a study's
    ``pretrend_power``: the 50% and 80% power slopes, the 80% trend's headline bias, its ratio to
    the headline s.e. and the bias after passing the pre-test (n/a when it did not run)."""
    keys = ("pt50", "pt80", "pt80_bias", "pt80_ratio", "pt80_bias_pass")
    if not power or skipped(power):
        return {prefix + k: t["na"] for k in keys}
    rows = {round(float(r["target_power"]), 6): r for r in power["by_power"]}
    r50, r80 = rows.get(0.5) or {}, rows.get(0.8) or {}
    return {
        prefix + "pt50": num(r50.get("slope")),
        prefix + "pt80": num(r80.get("slope")),
        prefix + "pt80_bias": num(r80.get("headline_bias")),
        prefix + "pt80_ratio": f"{r80['bias_over_se']:.1f}" if r80 else t["na"],
        prefix + "pt80_bias_pass": num(r80.get("headline_bias_after_pretest")),
    }


# --- a user's file: what was read, what it covers, and what could not be estimated ---------------
# figure stem -> (study results file, check inside it whose skip removes the figure)
FIGURE_STUDY = {
    "corridor_sdid": ("corridor", None),
    "robustness_spillover": ("robustness", "spillover"),
    "robustness_spillover_map": ("robustness", "spillover"),
    "pilot_event_study": ("pilot_zones", None),
    "rail_event_study": ("rail_links", None),
    "pilot_pretrend_power": ("pilot_zones", "pretrend_power"),
    "rail_pretrend_power": ("rail_links", "pretrend_power"),
    "coverage_dose_response": ("network_coverage", None),
    "coverage_designation_map": ("network_coverage", None),
    "coverage_cgs_dose_response": ("network_coverage", None),
    "robustness_summary": ("robustness", None),
    "robustness_spec_curve": ("robustness", "spec_curve"),
    "robustness_honestdid": ("robustness", "honestdid"),
    "simulation_bacon": ("simulation", "bacon"),
}
# the robustness paragraph: the sentence of each check, said when the check ran
ROBUSTNESS_SENTENCES = (
    ("robustness_placebo", "placebo"),
    ("robustness_wild", "wild_bootstrap"),
    ("robustness_dr", "dr"),
    ("robustness_spec", "spec_curve"),
)
CHECKS = ("placebo", "wild_bootstrap", "dr", "concurrent", "heterogeneity", "bacon",
          "honestdid", "spec_curve")  # fmt: skip


def figure_skip(ex: Exhibit, results: dict, png: Path | None = None) -> str | None:
    """Why a figure has no estimates on this panel, else None: its study or check was skipped, or
    its notebook drew a placeholder in its place (the reason kept in the PNG by save_figure). A
    skipped figure is a sentence with the reason in both formats, never the placeholder image."""
    name, check = FIGURE_STUDY.get(ex.stem, (ex.stage, None))
    study = results.get(name) or {}
    why = skipped(study) or (skipped(study.get(check)) if check else None)
    return why or (skipped_reason(png) if png is not None else None)


def skip_blocks(results: dict, t: dict) -> list[dict]:
    """One sentence per study, estimator and robustness check that did not run, with the reason
    (reasons are data-dependent text: filled in as literal values, never parsed as markup)."""
    sk = t["skips"]
    out = []
    for key, name in (("pilot", "pilot_zones"), ("rail", "rail_links")):
        study = results[name]
        if skipped(study):
            out.append(para(markup.inline(sk["study"], {"what": sk["what"][name],
                                                        "reason": reason(skipped(study), t)})))  # fmt: skip
            continue
        for est, why in skipped_estimators(study).items():
            what = {"what": t["tables"]["treatments"][key],
                    "estimator": t["tables"]["estimators"][est], "reason": reason(why, t)}  # fmt: skip
            out.append(para(markup.inline(sk["estimator"], what)))
    for name in ("network_coverage", "robustness"):
        if skipped(results[name]):
            values = {"what": sk["what"][name], "reason": reason(skipped(results[name]), t)}
            out.append(para(markup.inline(sk["study"], values)))
    if not skipped(results["robustness"]):
        for check in CHECKS:
            why = skipped(results["robustness"].get(check))
            if why:
                values = {"what": sk["checks"][check], "reason": reason(why, t)}
                out.append(para(markup.inline(sk["check"], values)))
    return out


def data_file_blocks(params: dict, results: dict, inputs: ReportInputs, t: dict) -> list[dict]:
    """The data section for a user's file: each input file with its SHA-256, the coverage of the
    panel and the controls (design check), and the ingest report's warnings. File names, city
    names and warnings come from the user's data: literal text only."""
    from analysis.data.ingest import input_files

    d = t["data_user"]
    heading = lambda s: {"kind": "heading", "level": 3, "runs": markup.literal(s)}
    spec = (params.get("data", {}) or {}).get("file")
    rows = []
    if spec:
        spec = (
            [inputs.root / f for f in spec]
            if isinstance(spec, list | tuple)
            else inputs.root / spec
        )
        try:
            files = input_files(spec)
        except Exception:  # noqa: BLE001 -- the panel stage already reported a bad data.file
            files = []
        for f in files:
            shown = os.path.relpath(f, inputs.root) if f.is_absolute() else str(f)
            digest = _file_sha256(f) or t["na"]
            rows.append({"cells": [Path(shown).as_posix(), digest]})
    blocks = [heading(d["files_title"]), table(d["files_header"], rows, small=True)]
    design = results.get("design")
    if design:
        blocks += design_blocks(design, results, t)
    warnings = results.get("ingest_warnings") or []
    blocks.append(heading(d["warnings_title"]))
    if warnings:
        # the ingest report is English: its warnings are translated like the skip reasons (the
        # user's own text in them, file and city names, stays as it is)
        blocks.append({"kind": "list", "ordered": False,
                       "items": [reason(w, t) for w in warnings]})  # fmt: skip
    else:
        blocks.append(para(markup.inline(d["no_warnings"])))
    return blocks


def design_blocks(design: dict, results: dict, t: dict) -> list[dict]:
    """The coverage table and what happened to blank cells and gaps, from the design check
    (data/processed/design.json), every word in the report's language (reasons translated)."""
    d, u = t["data_user"], t["panel_user"]
    yes_no = d["yes"] if design["balanced"] else d["no"]
    pair = t["pair"]
    dropped = t["list_sep"].join(
        pair.format(name=t["variables"].get(c, c), note=markup.plain_text(reason(why, t)))
        for c, why in design["controls_dropped"].items()
    )
    cov = [
        (d["years"], f"{design['first_year']}-{design['last_year']} ({design['n_years']})"),
        (d["provinces"], str(n_provinces(results, t))),
        (d["cities"], str(design["n_cities"])),
        (d["city_years"], str(design["n_city_years"])),
        (d["balanced"], pair.format(name=yes_no,
                                    note=f"{design['cities_with_gaps']} {d['cities_with_gaps']}")),
        (d["controls_used"], variable_list(design["controls_used"], t) or d["none"]),
        (d["controls_dropped"], dropped or d["none"]),
    ]  # fmt: skip
    out = [
        {"kind": "heading", "level": 3, "runs": markup.literal(d["coverage_title"])},
        table(d["coverage_header"], [{"cells": list(r)} for r in cov], small=True),
    ]
    order = list(t["variables"])  # the outcome, the treatments, the controls
    blanks = sorted(
        (design.get("blank_cells") or {}).items(),
        key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order),
    )
    if blanks:
        used = design.get("sample_columns") or []
        incomplete = design.get("incomplete_city_years", 0)
        unused = [c for c, _ in blanks if c not in used and c != "log_exports"]
        items = t["enum_sep"].join(
            u["blank_item"].format(variable=t["variables"].get(c, c), n=n) for c, n in blanks
        )
        values = {
            "blank_list": items,
            "sample_columns": variable_list(used, t),
            "incomplete": incomplete,
            "unused_list": variable_list(unused, t),
        }
        keys = ["blanks", "blanks_rule" if incomplete else "blanks_rule_none"]
        keys += ["blanks_unused"] if unused else []
        out.append(para(markup.inline(t["sentence_sep"].join(u[k] for k in keys), values)))
    gaps = design.get("cities_with_gaps", 0)
    # city-years a balanced panel of these cities and years would have, and this one lacks
    missing = design["n_years"] * design["n_cities"] - design["n_city_years"]
    out.append(
        para(markup.inline(u["unbalanced"], {"gaps": gaps, "missing": missing}))
        if gaps
        else para(markup.inline(u["balanced"]))
    )
    return out


def _file_sha256(path: Path) -> str | None:
    import hashlib

    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _params_text(nb_params: dict, notebook: str, t: dict) -> str:
    p = nb_params.get(notebook, {}) or {}
    return ", ".join(f"{k}={v}" for k, v in p.items()) or t["defaults"]


def replication_blocks(rep: dict, t: dict, fmt: Formatter) -> list[dict]:
    tr = t["replication"]
    word = {"figure": t["figure_label"], "table": t["table_label"]}
    out_rows = [
        {
            "cells": [
                word[o["kind"]].format(n=o["number"]) if o["number"] else tr["not_in_report"],
                o["notebook"] or t["na"],
                o["stage"] or t["na"],
                ", ".join(o["outputs"]) or t["na"],
            ]
        }
        for o in rep["outputs"]
    ]
    secs = lambda v: tr["not_timed"] if v is None else tr["seconds"].format(s=f"{v:.1f}")
    runtime = [
        {"cells": [r["stage"], tr["restored"] if r.get("stale") else secs(r["seconds"])]}
        for r in rep["runtime"]
    ]
    runtime.append({"cells": [tr["total"], secs(rep["total_seconds"])], "rule": True})
    hw, items = rep["hardware"], tr["hardware_items"]
    na = lambda v: t["na"] if v is None else str(v)
    hardware = [
        {"cells": [items["cpu"], na(hw["cpu"])]},
        {"cells": [items["cores"], f"{na(hw['logical_cores'])} / {na(hw['physical_cores'])}"]},
        {
            "cells": [
                items["memory"],
                t["na"] if hw["memory_gb"] is None else tr["memory"].format(gb=hw["memory_gb"]),
            ]
        },
        {"cells": [items["os"], na(hw["os"])]},
    ]
    software = [
        {"cells": [r["package"], r["version"] or tr["not_installed"]]} for r in rep["software"]
    ]
    da = rep["data_availability"]
    sources = da["sources_file"] + (tr["sources_missing"] if da["sources_missing"] else "")
    common = markup.inline(tr["common"], {"sources_file": sources})
    if da["source"] == "synthetic":
        statement = markup.join(
            markup.inline(tr["synthetic"], {"seed": da["seed"]}),
            markup.literal(t["sentence_sep"]),
            common,
            markup.literal(t["sentence_sep"]),
            markup.inline(tr["not_redistributed"]),
        )
    else:
        statement = markup.join(
            markup.inline(tr["file"], {"file": da["file"]}),
            markup.literal(t["sentence_sep"]),
            common,
            markup.literal(t["sentence_sep"]),
            markup.inline(tr["not_redistributed"]),
        )
    heading = lambda s: {"kind": "heading", "level": 3, "runs": markup.literal(s)}
    return [
        para(markup.inline(tr["note"])),
        heading(tr["how"]),
        {
            "kind": "list",
            "ordered": True,
            "items": [
                markup.join(
                    markup.literal(c, code=True),
                    markup.literal(t["colon"]),
                    markup.inline(tr["commands"][c]),
                )
                for c in rep["commands"]
            ],
        },
        heading(tr["outputs_title"]),
        table(tr["outputs_header"], out_rows, small=True),
        heading(tr["runtime_title"]),
        table(tr["runtime_header"], runtime, small=True),
        heading(tr["hardware_title"]),
        table(tr["hardware_header"], hardware, small=True),
        heading(tr["software_title"]),
        table(tr["software_header"], software, small=True),
        heading(tr["availability_title"]),
        para(statement),
    ]


def _source_sections(blocks: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """SOURCES.md blocks -> (blocks before the first file section, {file name: its blocks})."""
    intro, files, current = [], {}, None
    for b in blocks:
        if b["kind"] == "heading" and b["level"] == 2:
            # "file.csv — what it holds": the key is the part before the dash
            current = markup.plain_text(b["runs"]).split(" — ", 1)[0].strip()
            files[current] = [b]
        elif current is None:
            intro.append(b)
        else:
            files[current].append(b)
    return intro, files


def appendix_blocks(sources_md: Path, t: dict) -> list[dict]:
    """Appendix A: data/reference/SOURCES.md (the English original) or its translation in the
    language's text file, file by file; a file without a translation is an error, not English text."""
    blocks = markup.document_blocks(sources_md.read_text(encoding="utf-8"))
    if "appendix" not in t:  # the original language
        return [{**b, "level": 3} if b["kind"] == "heading" else b for b in blocks]
    _intro, files = _source_sections(blocks)  # the intro is translated as a whole (appendix.intro)
    tr = t["appendix"]
    missing = [name for name in files if name not in tr["files"]]
    if missing:
        raise KeyError(
            f"report/text/{t['lang']}.yaml: appendix.files lacks a translation of "
            f"{', '.join(missing)} (data/reference/SOURCES.md)"
        )
    out = [
        {"kind": "heading", "level": 3, "runs": markup.literal(tr["title"])},
        para(markup.inline(tr["intro"])),
    ]
    for name in files:
        entry = tr["files"][name]
        # a reference file is named as it is (code); another section by its translated title only
        named = "." in name and " " not in name
        lead = markup.join(markup.literal(name, code=True), markup.literal(" — ")) if named else []
        out.append(
            {
                "kind": "heading",
                "level": 3,
                "runs": markup.join(lead, markup.literal(entry["title"])),
            }
        )
        out.append(
            {"kind": "list", "ordered": False, "items": [markup.inline(i) for i in entry["items"]]}
        )
    return out


def exhibit_cluster(ex: Exhibit, results: dict) -> str | None:
    """The cluster level of an exhibit's intervals: the check's own record where it keeps one
    (the CGS bands, the spillover ring design, the wild bootstrap: each may fall back on a panel
    with few provinces),
    else its study's inference rule; the robustness checks are the headline's (pilot zones)."""
    name, _ = FIGURE_STUDY.get(ex.stem, (ex.stage, None))
    study = results.get(name) or {}
    own = {
        "coverage_cgs_dose_response": (study.get("design") or {}).get("designation_dose_response"),
        "robustness_spillover": study.get("spillover"),
        "robustness_table": study.get("wild_bootstrap"),
    }.get(ex.stem) or {}

    def rule(res: dict) -> str | None:
        inference = res.get("inference")
        return inference.get("cluster") if isinstance(inference, dict) else None

    return own.get("cluster") or rule(study) or rule(results.get("pilot_zones") or {})


def caption_runs(ex: Exhibit, t: dict, synthetic: bool, results: dict) -> list[dict]:
    """An exhibit's caption: on a user's file (no truth) the file-mode wording where one exists,
    the cluster level its intervals use filled in."""
    captions = t["captions"] if synthetic else {**t["captions"], **t.get("captions_file", {})}
    level = exhibit_cluster(ex, results)
    return markup.inline(captions[ex.caption], {"cluster": t["clusters"].get(level, t["na"])})


def figure_block(
    ex: Exhibit, n: int, t: dict, synthetic: bool, prov: dict, href: str, results: dict
) -> dict:
    caption = caption_runs(ex, t, synthetic, results)
    if synthetic:
        caption = markup.join(
            caption,
            markup.literal(t["sentence_sep"]),
            markup.literal(t["synthetic_note"], strong=True),
        )
    source = markup.literal(t["provenance"].format(notebook=ex.notebook, **prov))
    return {
        "kind": "figure",
        "id": ex.id,
        "label": t["figure_label"].format(n=n),
        "caption": caption,
        "source": source,
        "file": f"figures/{ex.stem}.{t['lang']}.png",
        "stem": ex.stem,
        "notebook": ex.notebook,
        "notebook_href": href,
    }


def build_document(
    params: dict,
    results: dict,
    replication: dict,
    inputs: ReportInputs,
    *,
    lang: str,
    commit: str,
    panel_hash: str | None,
    html_dir: Path,
    exhibits: tuple[Exhibit, ...] = EXHIBITS,
) -> dict:
    """The whole paper in ``lang`` as plain JSON-serialisable data."""
    t = text(lang)
    fmt = Formatter(t)
    data = params.get("data", {}) or {}
    synthetic = results["overview"]["data_source"] == "synthetic"
    v = values(results, fmt, t, None if data.get("file") is None else str(data.get("file")))
    v.update(rails_spillovers_values(results, fmt, t))
    panel_hash = t["na"] if panel_hash is None else panel_hash
    v.update(commit=commit, panel_hash=panel_hash)
    inline = lambda s: markup.inline(s, v)
    nb_params = params.get("notebooks", {}) or {}
    nums = numbers(exhibits)
    rel_notebooks = Path(os.path.relpath(inputs.notebooks, html_dir)).as_posix()

    def prov(stages: list[str]) -> dict:
        return {
            "commit": commit,
            "panel_hash": panel_hash,
            "params": "; ".join(f"{s}: {_params_text(nb_params, s, t)}" for s in stages)
            if len(stages) > 1
            else _params_text(nb_params, stages[0], t),
        }

    def table_source(ex: Exhibit) -> list[dict]:
        stages = [ex.stage] + ([EXTRA_SOURCES[ex.id][0]] if ex.id in EXTRA_SOURCES else [])
        files = [f"output/tables/{ex.stem}.csv"] + (
            [f"output/tables/{EXTRA_SOURCES[ex.id][1]}.csv"] if ex.id in EXTRA_SOURCES else []
        )
        line = t["table_provenance"].format(
            notebooks=", ".join(f"{s}.ipynb" for s in stages),
            files=", ".join(files),
            **prov(stages),
        )
        return markup.literal(line)

    def caption(ex: Exhibit, note: str) -> list[dict]:
        runs = caption_runs(ex, t, synthetic, results)
        return (
            markup.join(
                runs, markup.literal(t["sentence_sep"]), markup.literal(t[note], strong=True)
            )
            if synthetic
            else runs
        )

    by_id = {e.id: e for e in exhibits}
    if len(results["twfe_joint"]):
        header, rows = regression_table(results["twfe_joint"], t)
        twfe_block = table(
            header,
            rows,
            label=t["table_label"].format(n=nums["twfe_joint"]),
            caption=caption(by_id["twfe_joint"], "synthetic_note"),
            source=table_source(by_id["twfe_joint"]),
        )
    else:  # no specification could run on this panel (the pilot-zone notebook says why)
        label = t["table_label"].format(n=nums["twfe_joint"])
        twfe_block = para(markup.inline(t["skips"]["table"], {"label": label}))
    overall_header = t["tables"]["overall_header"]
    tables = {
        "twfe_joint": twfe_block,
        "overall": table(
            overall_header if synthetic else overall_header[:-2],
            overall_table(results["overall"], fmt, t, truth=synthetic),
            label=t["table_label"].format(n=nums["overall"]),
            caption=caption(by_id["overall"], "synthetic_truth_note"),
            source=table_source(by_id["overall"]),
        ),
    }
    figures = []
    for e in exhibits:
        if e.kind != "figure":
            continue
        why = figure_skip(e, results, inputs.figures / f"{e.stem}.{lang}.png")
        if why:  # the study or check did not run on this panel: say why instead of a picture
            gap = {"label": t["figure_label"].format(n=nums[e.id]), "reason": reason(why, t)}
            figures.append(para(markup.inline(t["skips"]["figure"], gap)))
        else:
            figures.append(
                figure_block(
                    e,
                    nums[e.id],
                    t,
                    synthetic,
                    prov([e.stage]),
                    f"{rel_notebooks}/{e.stage}.html",
                    results,
                )
            )

    def robustness_table(rob: dict) -> dict:
        """Table: every check of the headline ATT (results/robustness.json ``summary``)."""
        ex = by_id["robustness_table"]
        # resampling p-values are printed at the resolution of their draws
        draws = {
            "placebo": (rob.get("placebo") or {}).get("draws"),
            "wild_bootstrap": (rob.get("wild_bootstrap") or {}).get("B"),
            "spec_curve": (rob.get("spec_curve") or {}).get("joint_draws"),
        }
        summary = rob.get("summary") or []
        # each row's own truth (its cities, its target) beside its estimate, on the synthetic
        # data; no column on real data
        truths = any(not _blank(row.get("truth")) for row in summary)
        header = list(t["tables"]["robustness_header"])
        rows = [
            {
                "cells": [
                    tr_label(row["label"], lang),
                    fmt.num(row.get("estimate")),
                    *(
                        [("" if _blank(row.get("truth")) else fmt.num(row["truth"]))]
                        if truths
                        else []
                    ),
                    "" if _blank(row.get("std_error")) else fmt.num(row["std_error"]),
                    ""
                    if _blank(row.get("conf_low"))
                    else fmt.ci(row.get("conf_low"), row.get("conf_high")),
                    ""
                    if _blank(row.get("p_value"))
                    else fmt.p(row["p_value"], draws.get(row["check"])),
                ],
                "rule": i == 0,
            }
            for i, row in enumerate(summary)
        ]
        return table(
            header[:2] + ([t["tables"]["truth_header"]] if truths else []) + header[2:],
            rows,
            label=t["table_label"].format(n=nums[ex.id]),
            caption=caption(ex, "synthetic_note"),
            source=table_source(ex),
        )

    def simulation_table() -> dict:
        """Table: the Monte Carlo of the default design, every estimator with MC s.e."""
        ex = by_id["simulation_table"]
        rows = []
        sim_rows = list(results["sim"].get("heterogeneous", {}).items())
        # the spillover Monte Carlo of the robustness stage (issue 19): its rows against their
        # own truths (direct effect: total; spillover: the exposed cells' effect)
        spill_mc = (results.get("robustness") or {}).get("spillover_mc") or {}
        if not skipped(spill_mc):
            for row in spill_mc.get("summary") or []:
                target = "total" if row.get("estimate") in ("naive", "direct") else "spillover"
                sim_rows.append((row.get("estimate"), {**row, "estimator": row.get("label"),
                                                       "target": target}))  # fmt: skip
        for est_id, row in sim_rows:
            rows.append(
                {
                    "cells": [
                        tr_label(row.get("estimator", est_id), lang),
                        t["tables"]["targets"].get(row.get("target"), t["na"]),
                        f"{fmt.num(row.get('bias'))} ({fmt.num(row.get('bias_mc_se'))})",
                        fmt.num(row.get("rmse")),
                        f"{fmt.pct(row.get('coverage'), 1)} ({fmt.pct(row.get('coverage_mc_se'), 1)})",
                        str(row.get("n_reps", t["na"])),
                    ],
                    "rule": not rows,
                }
            )
        return table(
            t["tables"]["simulation_header"],
            rows,
            label=t["table_label"].format(n=nums[ex.id]),
            caption=caption(ex, "synthetic_note"),
            source=table_source(ex),
        )

    res = t["results"]
    pilot, rail, cov = results["pilot_zones"], results["rail_links"], results["network_coverage"]
    sep = t["sentence_sep"]
    pilot_ran = not skipped(pilot.get("headline")) and bool(pilot.get("headline"))
    pilot_text = (
        (res["pilot"] if pilot_ran else res["pilot_skipped"])
        + (
            sep + res["pilot_truth"]
            if pilot_ran and pilot.get("true_att_overall") is not None
            else ""
        )
        + (sep + res["pilot_pretrend"] if pilot_ran and pilot.get("pretrend_tests") else "")
        + (
            sep + res["pretrend_power"]
            if pilot_ran and not skipped(pilot.get("pretrend_power") or {"skipped": "absent"})
            else ""
        )
        + (sep + res["inference_rule"] if pilot_ran else "")
    )
    rail_ran = not skipped(rail.get("headline")) and bool(rail.get("headline"))
    rail_text = cre_text(rail, t) if rail_ran else None
    rail_text = rail_text or (
        res["rail"]
        + (res["rail_truth"] if rail.get("true_att_overall") is not None else "")
        + res["rail_end"]
        + (sep + res["rail_cs"] if rail.get("cs_unadjusted") else "")
        if rail_ran
        else res["rail_skipped"]
    )
    cov_text = (
        res["coverage"]
        + (res["coverage_truth"] if cov.get("true_elasticity") is not None else "")
        + res["coverage_end"]
        if not skipped(cov)
        else res["coverage_skipped"]
    )
    # issue 20: the Broadband China design beside the elasticity (when it ran on this panel)
    bc = (cov.get("design") or {}).get("broadband_china") or {}
    if bc and not skipped(bc) and not skipped(bc.get("headline") or {}):
        cov_text += sep + res["coverage_design"]
        if (bc.get("covariate_rule") or {}).get("censored_city_years"):
            cov_text += sep + res["coverage_design_censored"]
        if bc.get("true_att_target") is not None:
            cov_text += sep + res["coverage_design_truth"]
    rob = results["robustness"]
    resampled = [
        (rob[k]["p_value"], rob[k][n])
        for k, n in (("placebo", "draws"), ("wild_bootstrap", "B"))
        if k in rob and not skipped(rob[k])
    ]
    # one sentence per check that ran (a skipped one is said once, with its reason, below)
    ran = lambda check: bool(rob.get(check)) and not skipped(rob[check])
    robustness_text = sep.join(
        [res["robustness_skipped"]]
        if skipped(rob)
        else [res["robustness"]]
        + [res[key] for key, check in ROBUSTNESS_SENTENCES if ran(check)]
        + (
            [res["robustness_outliers"]]
            if ran("spec_curve") and rob["spec_curve"].get("n_outliers")
            else []
        )
        # a p-value printed as a bound (at the resolution of its draws) is explained where it is
        + ([res["p_floor_note"]] if any(at_floor(p, b) for p, b in resampled) else [])
    )
    robustness_blocks = [para(inline(robustness_text))]
    if not skipped(rob):
        robustness_blocks.insert(0, robustness_table(rob))
        robustness_blocks += heterogeneity_blocks(rob.get("heterogeneity"), t, fmt)
        robustness_blocks += multiple_testing_blocks(rob.get("multiple_testing"), t, fmt)
        if rob.get("honestdid") and not skipped(rob["honestdid"]):
            robustness_blocks.append(para(inline(res["honestdid"])))
            if rob["honestdid"].get("target_vs_headline"):
                robustness_blocks.append(para(inline(res["honestdid_target"])))
    simulation_blocks = (
        []
        if skipped(rob) or skipped(rob.get("bacon"))
        # the gap to the truth needs a truth (synthetic data); a user's file gets the contribution
        else [para(inline(res["bacon" if rob["bacon"].get("truth") is not None else "bacon_file"]))]
    )
    if results["sim"].get("heterogeneous", {}).get("headline"):
        simulation_blocks += [para(inline(res["simulation"])), simulation_table()]
    sections = {
        "introduction": [para(inline(t["introduction"]))],
        "data": [
            para(inline(t["data_synthetic"] if synthetic else t["data_file"])),
            para(inline(t["data_panel"])),
            *([] if synthetic else data_file_blocks(params, results, inputs, t)),
        ],
        "method": [
            {"kind": "equation", "lead": inline(t["method_twfe"])},
            para(inline(t["method"])),
            para(inline(t["method_headline"])),
            para(inline(t["method_timing"])),
            # the truth is drawn in the event studies of synthetic data only
            para(inline(t["method_event_study" if synthetic else "method_event_study_file"])),
            para(inline(t["rails_spillovers"]["method"])),
        ],
        "results": [
            tables["twfe_joint"],
            tables["overall"],
            para(inline(pilot_text)),
            para(inline(rail_text)),
            *[para(inline(x)) for x in corridor_text(results.get("corridor"), t)],
            para(inline(cov_text)),
            *detect_blocks(results.get("power"), t, fmt, synthetic),
            *simulation_blocks,
            *robustness_blocks,
            *[para(inline(x)) for x in spillover_conley_text(rob, t)],
            *skip_blocks(results, t),
            *figures,
        ],
        "limitations": [
            para(
                inline(
                    (t["limitations_synthetic"] + sep if synthetic else "")
                    + t["limitations"]
                    + sep
                    + t["rails_spillovers"]["limitations"]
                )
            )
        ],
        "replication": replication_blocks(replication, t, fmt),
        "references": [
            {"kind": "list", "ordered": False, "items": [markup.inline(r) for r in references()]}
        ],
        "appendix": appendix_blocks(inputs.sources_md, t),
    }
    abstract = inline(t["abstract"]) + (
        markup.literal(sep) + inline(t["abstract_synthetic"]) if synthetic else []
    )
    title = (params.get("report", {}) or {}).get(t["title_param"]) or ""
    return {
        "lang": t["lang"],
        "region": t["region"],
        "html_lang": t["html_lang"],
        "title": str(title),
        "synthetic": synthetic,
        "badge": t["badge"],
        "subtitle": markup.literal(t["subtitle"].format(**v)),
        "abstract": {"heading": t["headings"]["abstract"], "runs": markup.join(abstract)},
        "source_word": t["source"],
        "executed_word": t["executed"],
        "sections": [
            {"id": s, "heading": t["headings"][s], "blocks": sections[s]} for s in SECTIONS
        ],
    }


# --- issue 19: the two rail links apart, the corridor, spillovers, Conley SEs ---------------------
def rails_spillovers_values(r: dict, fmt: Formatter, t: dict) -> dict[str, str]:
    """The placeholders of the ``rails_spillovers`` text block, read from rail_links.json (``few_clusters``),
    corridor.json and robustness.json (``spillover``, ``spillover_mc``, ``conley``); n/a where a
    part did not run or its results file predates it."""
    num, na = fmt.num, t["na"]
    rail = _ran(r.get("rail_links") or {})
    fc = rail.get("few_clusters") or {}
    fc = {} if skipped(fc) else fc
    part = lambda key: {} if skipped(fc.get(key)) else (fc.get(key) or {})
    wb, ct, mde = part("wild_bootstrap"), part("conley_taber"), fc.get("mde") or {}
    wild = part("pretrend_wild")
    head = rail.get("headline") or {}
    pt = rail.get("pretrend_tests") or {}
    diag = (rail.get("cluster_diagnostic") or {}).get("province") or {}
    ri = rail.get("randomization") or {}
    ri = {} if skipped(ri) else ri
    wtest = lambda k: {} if skipped(wild.get(k)) else (wild.get(k) or {})
    cor = r.get("corridor") or {}
    cor_ran = bool(cor) and not skipped(cor)
    prov = (cor.get("placebo") or {}).get("province") or {} if cor_ran else {}
    rand = (cor.get("placebo") or {}).get("random") or {} if cor_ran else {}
    bjs = (cor.get("bjs") or {}) if cor_ran else {}
    rob = r.get("robustness") or {}
    sp = rob.get("spillover") or {}
    sp = {} if skipped(sp) else sp
    est = sp.get("estimates") or {}
    mc = rob.get("spillover_mc") or {}
    mc_rows = {row["estimate"]: row for row in (mc.get("summary") or [])} if not skipped(mc) else {}
    conley = rob.get("conley") or {}
    conley = {} if skipped(conley) else conley
    rows = conley.get("table") or []
    spec_se = lambda spec, se: next(
        (row["std_error"] for row in rows if row["specification"] == spec and row["se"] == se), None
    )
    cutoffs = (
        conley.get("cutoffs_km")
        or (rob.get("settings") or {}).get("conley", {}).get("cutoffs_km")
        or []
    )
    km = lambda c: f"{c:g}"
    listed = lambda spec: (
        t["list_sep"].join(
            f"{km(c)} {t['rails_spillovers']['km']}{t['colon']}{num(spec_se(spec, f'Conley {c:g} km'))}"
            for c in cutoffs
        )
        or na
    )
    rings = sp.get("rings") or (rob.get("settings") or {}).get("spillover", {}).get("rings")
    mc_row = lambda name: mc_rows.get(name) or {}
    return {
        "cre_n": rail.get("n_treated_cities", na),
        "cre_provinces": diag.get("n_treated_clusters", na),
        "cre_overlap": (rail.get("overlap") or {}).get("pilot", na),
        "cre_est": num(head.get("estimate")),
        "cre_ci": fmt.ci(head.get("conf_low"), head.get("conf_high")),
        "cre_df": head["n_clusters"] - 1 if head.get("n_clusters") else na,
        "cre_truth": num(head.get("truth")),
        "cre_B": wb.get("B", na),
        "cre_wcr_ci": fmt.ci(wb.get("conf_low"), wb.get("conf_high")),
        "cre_wcr_p": fmt.p(wb.get("p_value"), wb.get("B")),
        "cre_ct_ci": fmt.ci(ct.get("conf_low"), ct.get("conf_high")),
        "cre_ct_p": fmt.p(ct.get("p_value"), ct.get("draws")),
        "cre_ct_controls": ct.get("n_control_units", na),
        "cre_ri_p": fmt.p(ri.get("p_value"), ri.get("draws")),
        "cre_mde": num(mde.get("headline")),
        "cre_mde_ct": num(mde.get("conley_taber")),
        "cre_pre_bjs_chi2": fmt.p(
            wtest("bjs").get("p_value_chi2", (pt.get("bjs") or {}).get("p_value"))
        ),
        "cre_pre_twfe_chi2": fmt.p(
            wtest("twfe").get("p_value_chi2", (pt.get("twfe") or {}).get("p_value"))
        ),
        "cre_pre_bjs_wcr": fmt.p(wtest("bjs").get("p_value"), wtest("bjs").get("B")),
        "cre_pre_twfe_wcr": fmt.p(wtest("twfe").get("p_value"), wtest("twfe").get("B")),
        "cor_n": cor.get("n_treated", na) if cor_ran else na,
        "cor_donors": cor.get("n_donors", na) if cor_ran else na,
        "cor_att": num(cor.get("att")) if cor_ran else na,
        "cor_ci": fmt.ci(cor.get("conf_low"), cor.get("conf_high")) if cor_ran else na,
        "cor_p": fmt.p(cor.get("p_value")) if cor_ran else na,
        "cor_floor": num(prov.get("p_value_floor")),
        "cor_provinces": prov.get("n_provinces", na),
        "cor_random_ci": fmt.ci(rand.get("conf_low"), rand.get("conf_high")) if rand else na,
        "cor_mde": num(cor.get("mde")) if cor_ran else na,
        "cor_truth": num(cor.get("truth")) if cor_ran else na,
        "cor_bjs": num(None if skipped(bjs) else bjs.get("estimate")),
        "cor_skip": reason(skipped(cor), t) if skipped(cor) else na,
        "sep": t["sentence_sep"],
        "sp_km": km(rings[-1]) if rings else na,
        "sp_direct": num(est.get("direct", {}).get("estimate")),
        "sp_direct_ci": fmt.ci(*(est.get("direct", {}).get(k) for k in ("conf_low", "conf_high"))),
        "sp_pooled": num(est.get("spillover_pooled", {}).get("estimate")),
        "sp_pooled_ci": fmt.ci(
            *(est.get("spillover_pooled", {}).get(k) for k in ("conf_low", "conf_high"))
        ),
        "sp_naive": num(est.get("naive", {}).get("estimate")),
        "sp_truth_direct": num(sp.get("truth_direct")),
        "sp_truth_spill": num(sp.get("truth_spillover")),
        "sp_mc_reps": mc_row("direct").get("n_reps", na),
        "sp_mc_naive_bias": num(mc_row("naive").get("bias"), 4),
        "sp_mc_naive_bias_se": num(mc_row("naive").get("bias_mc_se"), 4),
        "sp_mc_direct_bias": num(mc_row("direct").get("bias"), 4),
        "sp_mc_spill_bias": num(mc_row("spillover").get("bias"), 4),
        "sp_mc_direct_cov": fmt.pct(mc_row("direct").get("coverage"), 1),
        "sp_mc_spill_cov": fmt.pct(mc_row("spillover").get("coverage"), 1),
        "sp_mc_direct_cov_se": fmt.pct(mc_row("direct").get("coverage_mc_se"), 1),
        "sp_mc_spill_cov_se": fmt.pct(mc_row("spillover").get("coverage_mc_se"), 1),
        "conley_cutoffs": t["list_sep"].join(km(c) for c in cutoffs) or na,
        "conley_city": num(spec_se("TWFE", "city")),
        "conley_list": listed("TWFE"),
        "conley_es_list": listed("TWFE event study, mean post effect"),
    }


def cre_text(rail: dict, t: dict) -> str | None:
    """The CRE paragraph (rail_links.json with ``few_clusters``), else None (the older text)."""
    fc = rail.get("few_clusters")
    if not fc or skipped(fc):
        return None
    b, sep = t["rails_spillovers"], t["sentence_sep"]
    truth = b["cre_truth"] if (rail.get("headline") or {}).get("truth") is not None else ""
    return b["cre"] + truth + sep + b["cre_pretrend"]


def corridor_text(corridor: dict | None, t: dict) -> list[str]:
    """The corridor paragraph: estimate, placebo inference, claims, truth; or why it was skipped
    (nothing when the corridor stage's results are absent)."""
    b = t["rails_spillovers"]
    if not corridor:
        return []
    if skipped(corridor):
        return [b["corridor_skipped"]]
    return [b["corridor"] + (b["corridor_truth"] if corridor.get("truth") is not None else "")]


def spillover_conley_text(rob: dict, t: dict) -> list[str]:
    """The spillover (with its Monte Carlo) and Conley paragraphs of the robustness results."""
    if skipped(rob):
        return []
    b, sep, out = t["rails_spillovers"], t["sentence_sep"], []
    sp = rob.get("spillover")
    if sp and not skipped(sp):
        text_ = b["spillover"]
        if sp.get("truth_direct") is not None:
            text_ += b["spillover_truth"]
        mc = rob.get("spillover_mc")
        if mc and not skipped(mc) and mc.get("summary"):
            text_ += sep + b["spillover_mc"]
        out.append(text_)
    conley = rob.get("conley")
    if conley and not skipped(conley):
        out.append(b["conley"])
    return out
