"""Where the report reads from, and the results it prints, under stable ids.

The templates and the report text never see a display label of the results files: this module
reads output/results/*.json and output/tables/*.csv and hands over dictionaries keyed by ids
(treatment, estimator, design, comparison type) that do not change when a label is reworded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import config as paths
from analysis import results_io
from analysis.did.bacon import TYPE_LATE_EARLY

STUDIES = ("overview", "pilot_zones", "rail_links", "network_coverage", "simulation", "robustness")
POWER_STUDY = "design"  # results/design.json: power and MDE on the panel in use (studies/power.py)
ROBUST_ESTIMATORS = ("cs", "sa", "bjs")  # keys of results/<treatment>.json "robust", report order
# studies/simulation.py writes the design and estimator as display labels only; these are its ids.
# (A ``design_id``/``estimator_id`` column in the results, when present, takes precedence.)
SIMULATION_DESIGNS = {
    "heterogeneous": "heterogeneous, growing effect (default)",
    "homogeneous": "homogeneous, constant effect",
}
SIMULATION_ESTIMATORS = {"twfe": "TWFE (one dummy)", "bjs": "Imputation (BJS)"}


@dataclass(frozen=True)
class ReportInputs:
    """Folders and files the report reads; defaults are the project's (analysis.config)."""

    results: Path = field(default_factory=lambda: paths.RESULTS)
    tables: Path = field(default_factory=lambda: paths.TABLES)
    figures: Path = field(default_factory=lambda: paths.FIGURES)
    notebooks: Path = field(default_factory=lambda: paths.NOTEBOOKS_OUT)
    sources_md: Path = field(default_factory=lambda: paths.REFERENCE / "SOURCES.md")
    panel: Path = field(default_factory=lambda: paths.PROCESSED / "panel.csv")
    # the panel stage's design check and, for a user file, its ingest (validation) report
    design: Path = field(default_factory=lambda: paths.PROCESSED / "design.json")
    panel_report: Path = field(default_factory=lambda: paths.PROCESSED / "panel_report.md")
    root: Path = field(default_factory=lambda: paths.ROOT)  # dvc.yaml, output/runtime, git commit


def _ids(label: str, mapping: dict[str, str], what: str) -> str:
    for key, value in mapping.items():
        if value == label:
            return key
    raise KeyError(
        f"simulation results: unknown {what} {label!r} (known: {sorted(mapping.values())})"
    )


def simulation_summary(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """design id -> estimator id -> summary row (bias, coverage, rmse, ...)."""
    out: dict[str, dict[str, dict]] = {}
    for row in rows:
        design = row.get("design_id") or _ids(row["design"], SIMULATION_DESIGNS, "design")
        estimator = row.get("estimator_id") or _ids(
            row["estimator"], SIMULATION_ESTIMATORS, "estimator"
        )
        out.setdefault(design, {})[estimator] = row
    return out


def skipped(entry) -> str | None:
    """The reason a study, estimator or check did not run (``{"skipped": reason}``), else None."""
    return entry.get("skipped") if isinstance(entry, dict) else None


def overall_effects(study: dict) -> list[dict]:
    """One row per estimator id of a binary-treatment study that ran: the headline first, then the
    robust ones, then TWFE (the foil): estimate, std_error, conf_low, conf_high, truth, bias (the
    same numbers as <treatment>_overall.csv). Estimators skipped on this panel have no row
    (:func:`skipped_estimators` gives the reasons).

    Truth: the effect the covariate-adjusted estimators target (``true_att_target``: with GDP per
    capita among the controls, the direct effect when GDP responds to exports), else the ATT."""
    cols = ("estimate", "std_error", "conf_low", "conf_high")
    head = study.get("headline") or {}
    truth = study.get("true_att_target", study.get("true_att_overall"))
    rows = []
    if head and not skipped(head):
        rows.append({"id": "headline", **{k: head[k] for k in cols}})
    for key in ROBUST_ESTIMATORS:
        if key in study.get("robust", {}) and not skipped(study["robust"][key]):
            o = study["robust"][key]["overall"]
            rows.append({"id": key, **{k: o[k] for k in cols}})
    if not skipped(study.get("twfe")) and study.get("twfe"):
        rows.append({"id": "twfe", **{k: study["twfe"][k] for k in cols}})
    for row in rows:
        row["truth"] = truth
        row["bias"] = None if truth is None else row["estimate"] - truth
    return rows


def skipped_estimators(study: dict) -> dict[str, str]:
    """Estimator id -> reason, for the estimators of a binary-treatment study that did not run."""
    out = {}
    if skipped(study.get("twfe")):
        out["twfe"] = skipped(study["twfe"])
    for key in ROBUST_ESTIMATORS:
        if skipped(study.get("robust", {}).get(key)):
            out[key] = skipped(study["robust"][key])
    return out


def _table(path: Path) -> pd.DataFrame:
    """A results table; an empty file (no specification could run) is an empty frame."""
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def ingest_warnings(path: Path) -> list[str]:
    """The bullet points under '## Warnings' of the ingest report (data/processed/panel_report.md);
    user text (file names, city names), so it is handed to the templates as literal text."""
    if not path.exists():
        return []
    lines, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Warnings"
            continue
        if inside and line.startswith("- ") and line[2:].strip().lower() != "none":
            lines.append(line[2:].strip())
    return lines


def load_results(inputs: ReportInputs) -> dict:
    """Everything the report prints, keyed by study and stable ids."""
    res = {name: results_io.read_json(inputs.results / f"{name}.json") for name in STUDIES}
    # the corridor stage (absent from results that predate it: its text is left out)
    corridor = inputs.results / "corridor.json"
    res["corridor"] = results_io.read_json(corridor) if corridor.exists() else None
    power = inputs.results / f"{POWER_STUDY}.json"
    return {
        **res,
        # what the design can detect (the design stage; None in a results set made before it)
        "power": results_io.read_json(power) if power.exists() else None,
        "twfe_joint": _table(inputs.tables / "twfe_joint.csv"),
        "design": results_io.read_json(inputs.design) if inputs.design.exists() else None,
        "ingest_warnings": ingest_warnings(inputs.panel_report),
        "overall": {
            "pilot": overall_effects(res["pilot_zones"]),
            "rail": overall_effects(res["rail_links"]),
        },
        "sim": simulation_summary(res["simulation"]["summary"]),
        # None (printed "n/a") when the decomposition was skipped (an unbalanced user panel)
        "bacon_late_early": res["simulation"].get("bacon_weights", {}).get(TYPE_LATE_EARLY),
    }
