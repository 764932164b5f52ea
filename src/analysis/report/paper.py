"""The paper as one language-neutral document: sections of blocks (paragraphs, tables, figures,
lists), every string already in the report's language, every number read from the results.

Both output formats render this same document (templates/report.html.j2 with Jinja autoescaping,
templates/report.typ reading it as JSON), so the two cannot drift: a section, caption or table
exists in both or in neither. Text comes from report/text/<lang>.yaml (+ references.yaml, shared).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml

from analysis.report import markup
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
    return yaml.safe_load((TEXT_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))


@cache
def references() -> list[str]:
    return yaml.safe_load((TEXT_DIR / "references.yaml").read_text(encoding="utf-8"))


def _stars(p: float) -> str:
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def values(r: dict, fmt: Formatter, t: dict, data_file: str | None) -> dict[str, str]:
    """Every {placeholder} of the prose, formatted, read from the results under stable keys."""
    ov, pilot, rail, cov, rob = (
        r["overview"],
        r["pilot_zones"],
        r["rail_links"],
        r["network_coverage"],
        r["robustness"],
    )
    sim, num, pct = r["sim"], fmt.num, fmt.pct
    # a study, estimator or check skipped on this panel ({"skipped": reason}) has no numbers: its
    # placeholders read n/a, and the text says why it is absent (skip_sentences)
    cov_skip = skipped(cov)
    pilot, rail, cov = _ran(pilot), _ran(rail), _ran(cov)
    cov_est, cov_se = num(cov["twfe"].get("estimate")), num(cov["twfe"].get("std_error"))
    coverage_clause = (
        t["abstract_coverage_skipped"].format(cov_skip=cov_skip)
        if cov_skip
        else t["abstract_coverage"].format(cov_est=cov_est, cov_se=cov_se)
    )
    rob = {k: _ran(v) for k, v in rob.items()} if not skipped(rob) else {}
    rob = {k: rob.get(k, {}) for k in ("placebo", "wild_bootstrap", "psm_did", "spec_curve",
                                       "honestdid")}  # fmt: skip
    return {
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
        "pilot_est": num(pilot["twfe"].get("estimate")),
        "pilot_se": num(pilot["twfe"].get("std_error")),
        "pilot_ci": fmt.ci(pilot["twfe"].get("conf_low"), pilot["twfe"].get("conf_high")),
        "pilot_truth": num(pilot.get("true_att_overall")),
        "pilot_bias": num(pilot.get("twfe_bias")),
        "pilot_wald": num(pilot["pretrend_test"].get("wald"), 2),
        "pilot_df": pilot["pretrend_test"].get("df", t["na"]),
        "pilot_pre_p": fmt.p(pilot["pretrend_test"].get("p_value")),
        "rail_est": num(rail["twfe"].get("estimate")),
        "rail_se": num(rail["twfe"].get("std_error")),
        "rail_ci": fmt.ci(rail["twfe"].get("conf_low"), rail["twfe"].get("conf_high")),
        "rail_truth": num(rail.get("true_att_overall")),
        "rail_n_treated": rail.get("n_treated_cities", t["na"]),
        "rail_pre_p": fmt.p(rail["pretrend_test"].get("p_value")),
        "cov_est": cov_est,
        "cov_se": cov_se,
        "coverage_clause": coverage_clause,
        "cov_ci": fmt.ci(cov["twfe"].get("conf_low"), cov["twfe"].get("conf_high")),
        "cov_truth": num(cov.get("true_elasticity")),
        "cov_no_controls": num(cov["twfe_no_controls"].get("estimate")),
        "bacon_late_early": num(r["bacon_late_early"]),
        "sim_het_twfe_bias": num(sim["heterogeneous"]["twfe"]["bias"]),
        "sim_het_twfe_cov": pct(sim["heterogeneous"]["twfe"]["coverage"], 0),
        "sim_het_bjs_bias": num(sim["heterogeneous"]["bjs"]["bias"]),
        "sim_het_bjs_cov": pct(sim["heterogeneous"]["bjs"]["coverage"], 0),
        "sim_hom_twfe_bias": num(sim["homogeneous"]["twfe"]["bias"]),
        "placebo_draws": rob["placebo"].get("draws", t["na"]),
        "placebo_p": fmt.p(rob["placebo"].get("p_value"), rob["placebo"].get("draws")),
        "wild_clusters": rob["wild_bootstrap"].get("n_clusters", t["na"]),
        "wild_B": rob["wild_bootstrap"].get("B", t["na"]),
        "wild_p": fmt.p(rob["wild_bootstrap"].get("p_value"), rob["wild_bootstrap"].get("B")),
        "psm_est": num(rob["psm_did"].get("estimate")),
        "psm_se": num(rob["psm_did"].get("std_error")),
        "n_specs": rob["spec_curve"].get("n_specs", t["na"]),
        "spec_median": num(rob["spec_curve"].get("median")),
        "spec_share": pct(rob["spec_curve"].get("share_positive_significant"), 0),
        "honest_M": num((rob["honestdid"].get("breakdown_M") or {}).get("DeltaSD")),
    }


def _ran(study: dict) -> dict:
    """A results dict with every skipped entry replaced by an empty one (numbers read as n/a)."""
    if not isinstance(study, dict):
        return {}
    out = {k: ({} if skipped(v) else v) for k, v in study.items()}
    for key in ("twfe", "pretrend_test", "twfe_no_controls"):
        out.setdefault(key, {})
    return out


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
    for term in REG_TERMS:
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


# --- a user's file: what was read, what it covers, and what could not be estimated ---------------
# figure stem -> (study results file, check inside it whose skip removes the figure)
FIGURE_STUDY = {
    "pilot_event_study": ("pilot_zones", None),
    "rail_event_study": ("rail_links", None),
    "coverage_dose_response": ("network_coverage", None),
    "robustness_summary": ("robustness", None),
    "robustness_spec_curve": ("robustness", "spec_curve"),
    "robustness_honestdid": ("robustness", "honestdid"),
}
CHECKS = ("placebo", "wild_bootstrap", "psm_did", "concurrent", "heterogeneity", "bacon",
          "honestdid", "spec_curve")  # fmt: skip


def figure_skip(ex: Exhibit, results: dict) -> str | None:
    """Why a figure has no estimates on this panel (its study or check was skipped), else None."""
    name, check = FIGURE_STUDY.get(ex.stem, (ex.stage, None))
    study = results.get(name) or {}
    return skipped(study) or (skipped(study.get(check)) if check else None)


def skip_blocks(results: dict, t: dict) -> list[dict]:
    """One sentence per study, estimator and robustness check that did not run, with the reason
    (reasons are data-dependent text: filled in as literal values, never parsed as markup)."""
    sk = t["skips"]
    out = []
    for key, name in (("pilot", "pilot_zones"), ("rail", "rail_links")):
        study = results[name]
        if skipped(study):
            out.append(para(markup.inline(sk["study"], {"what": sk["what"][name],
                                                        "reason": skipped(study)})))  # fmt: skip
            continue
        for est, why in skipped_estimators(study).items():
            what = {"what": t["tables"]["treatments"][key],
                    "estimator": t["tables"]["estimators"][est], "reason": why}  # fmt: skip
            out.append(para(markup.inline(sk["estimator"], what)))
    for name in ("network_coverage", "robustness"):
        if skipped(results[name]):
            values = {"what": sk["what"][name], "reason": skipped(results[name])}
            out.append(para(markup.inline(sk["study"], values)))
    if not skipped(results["robustness"]):
        for check in CHECKS:
            why = skipped(results["robustness"].get(check))
            if why:
                values = {"what": sk["checks"][check], "reason": why}
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
        yes_no = d["yes"] if design["balanced"] else d["no"]
        dropped = t["list_sep"].join(
            f"{c} ({why})" for c, why in design["controls_dropped"].items()
        )
        cov = [
            (d["years"], f"{design['first_year']}-{design['last_year']} ({design['n_years']})"),
            (d["cities"], str(design["n_cities"])),
            (d["city_years"], str(design["n_city_years"])),
            (d["balanced"], f"{yes_no} ({design['cities_with_gaps']} {d['cities_with_gaps']})"),
            (d["controls_used"], t["list_sep"].join(design["controls_used"]) or d["none"]),
            (d["controls_dropped"], dropped or d["none"]),
        ]
        blocks += [
            heading(d["coverage_title"]),
            table(d["coverage_header"], [{"cells": list(r)} for r in cov], small=True),
            para(markup.literal(design.get("balancing", ""))),
        ]
    warnings = results.get("ingest_warnings") or []
    blocks.append(heading(d["warnings_title"]))
    if warnings:
        blocks.append({"kind": "list", "ordered": False,
                       "items": [markup.literal(w) for w in warnings]})  # fmt: skip
    else:
        blocks.append(para(markup.inline(d["no_warnings"])))
    return blocks


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
    runtime = [{"cells": [r["stage"], secs(r["seconds"])]} for r in rep["runtime"]]
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
            markup.literal(t["sentence_sep"]),
            markup.inline(tr["file_fallback"]),
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


def figure_block(ex: Exhibit, n: int, t: dict, synthetic: bool, prov: dict, href: str) -> dict:
    # a user's file has no truth: the captions that mention it have a file-mode wording
    captions = t["captions"] if synthetic else {**t["captions"], **t.get("captions_file", {})}
    caption = markup.inline(captions[ex.caption])
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
            **prov(["pilot_zones", "rail_links"]),
        )
        return markup.literal(line)

    def caption(ex: Exhibit, note: str) -> list[dict]:
        runs = markup.inline(t["captions"][ex.caption])
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
        why = figure_skip(e, results)
        if why:  # the study or check did not run on this panel: say why instead of a picture
            gap = {"label": t["figure_label"].format(n=nums[e.id]), "reason": why}
            figures.append(para(markup.inline(t["skips"]["figure"], gap)))
        else:
            figures.append(
                figure_block(
                    e, nums[e.id], t, synthetic, prov([e.stage]), f"{rel_notebooks}/{e.stage}.html"
                )
            )
    res = t["results"]
    pilot, rail, cov = results["pilot_zones"], results["rail_links"], results["network_coverage"]
    sep = t["sentence_sep"]
    pilot_text = (
        res["pilot" if not skipped(pilot.get("twfe")) else "pilot_skipped"]
        + (sep + res["pilot_truth"] if pilot.get("true_att_overall") is not None else "")
        + sep
        + (res["pilot_pretrend"] if not skipped(pilot.get("pretrend_test")) else "")
    )
    rail_text = (
        res["rail"]
        + (res["rail_truth"] if rail.get("true_att_overall") is not None else "")
        + res["rail_end"]
        if not skipped(rail.get("twfe"))
        else res["rail_skipped"]
    )
    cov_text = (
        res["coverage"]
        + (res["coverage_truth"] if cov.get("true_elasticity") is not None else "")
        + res["coverage_end"]
        if not skipped(cov)
        else res["coverage_skipped"]
    )
    rob = results["robustness"]
    resampled = [
        (rob[k]["p_value"], rob[k][n])
        for k, n in (("placebo", "draws"), ("wild_bootstrap", "B"))
        if k in rob and not skipped(rob[k])
    ]
    # a p-value printed as a bound (at the resolution of its draws) is explained where it appears
    robustness_text = res["robustness" if not skipped(rob) else "robustness_skipped"] + (
        sep + res["p_floor_note"] if any(at_floor(p, b) for p, b in resampled) else ""
    )
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
        ],
        "results": [
            tables["twfe_joint"],
            tables["overall"],
            para(inline(pilot_text)),
            para(inline(rail_text)),
            para(inline(cov_text)),
            para(inline(res["bacon"])),
            para(inline(robustness_text)),
            *skip_blocks(results, t),
            *figures,
        ],
        "limitations": [
            para(inline((t["limitations_synthetic"] + sep if synthetic else "") + t["limitations"]))
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
