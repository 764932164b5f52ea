"""The replication-package summary printed at the end of the report (README section of an AEA
replication package): which notebook makes which figure and table, how long each stage ran, on
what hardware and software, where the data come from, and the two commands that reproduce it.

Follows the Social Science Data Editors' template README ("A template README for social science
replication packages", Vilhuber et al. 2020, doi:10.5281/zenodo.4319999) and the AEA Data Editor's
Data and Code Availability Policy. Everything is read from the project (dvc.yaml, output/runtime,
params.yaml) or the running machine; nothing is typed in.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

import yaml

KEY_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "linearmodels", "pyfixest", "matplotlib", "seaborn",
                "papermill", "dvc", "typst")
SOURCES_MD = "data/reference/SOURCES.md"
INSTRUCTIONS = (
    ("make reproduce", ("Builds .venv from uv.lock (first time), then runs the DVC pipeline "
                       "(data -> estimates -> figures -> reports/report.html and report.pdf).")),
    ("make test", "Runs the test suite (tests marked slow excluded)."),
)


# --- (a) figure/table -> notebook -> output files -------------------------------------------------

def _paths(entries: list | None) -> list[str]:
    """dvc.yaml outs/metrics/plots entries are either 'path' or {'path': {options}}."""
    out = []
    for entry in entries or []:
        out.extend([entry] if isinstance(entry, str) else list(entry))
    return out


def _notebook(stage: dict) -> str | None:
    for dep in stage.get("deps", []) or []:
        if isinstance(dep, str) and dep.startswith("notebooks/") and dep.endswith(".ipynb"):
            return dep
    return None


def load_stages(root: Path) -> dict[str, dict]:
    with open(Path(root) / "dvc.yaml", encoding="utf-8") as fh:
        return (yaml.safe_load(fh) or {}).get("stages", {}) or {}


def output_map(root: Path, figures: list[tuple] | None = None, tables: list[tuple] | None = None) -> list[dict]:
    """One row per report figure/table: label, stem, stage, notebook, output files, caption.

    Figure numbers come from ``analysis.report.build.FIGURES`` (the report's own numbering); tables from
    ``report.TABLES`` when the report defines one (same (stem, notebook, caption) layout), else in
    dvc.yaml order. Passing ``figures`` skips importing the report (and ``tables`` then defaults to
    dvc.yaml order). Outputs in dvc.yaml that the report does not show are listed after, unnumbered.
    """
    if figures is None:
        from analysis.report import build as report  # heavy (matplotlib): only when the numbering is not given

        figures = report.FIGURES
        tables = getattr(report, "TABLES", None) if tables is None else tables
    found: dict[tuple[str, str], dict] = {}  # (kind, stem) -> row, in dvc.yaml order
    for stage_name, stage in load_stages(root).items():
        for path in _paths(stage.get("outs")) + _paths(stage.get("metrics")) + _paths(stage.get("plots")):
            m = re.fullmatch(r"output/(figures|tables)/([^/]+)\.(\w+)", path)
            if not m:
                continue
            kind = "figure" if m.group(1) == "figures" else "table"
            row = found.setdefault((kind, m.group(2)), {
                "kind": kind, "stem": m.group(2), "stage": stage_name, "notebook": _notebook(stage),
                "outputs": [], "label": None, "caption": "",
            })
            row["outputs"].append(path)
    table_order = [(s, c) for s, _, c in tables] if tables else [(stem, "") for kind, stem in found if kind == "table"]
    rows = []
    for kind, order, word in (("figure", [(s, c) for s, _, c in figures], "Figure"), ("table", table_order, "Table")):
        for n, (stem, caption) in enumerate(order, start=1):
            row = found.pop((kind, stem), None) or {"kind": kind, "stem": stem, "stage": None, "notebook": None,
                                                   "outputs": []}
            rows.append({**row, "label": f"{word} {n}", "caption": caption})
    rows.extend({**row, "label": "not in report"} for row in found.values())
    return rows


# --- (b) runtime ----------------------------------------------------------------------------------

def stage_runtimes(root: Path) -> list[dict]:
    """Seconds per dvc stage from output/runtime/<stage>.json (written by the notebook runner);
    None for stages that record none (the data-building and report stages are not timed)."""
    rows = []
    for name in load_stages(root):
        path = Path(root) / "output" / "runtime" / f"{name}.json"
        seconds = None
        if path.exists():
            seconds = float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
        rows.append({"stage": name, "seconds": seconds})
    return rows


# --- (c) hardware, (d) software -------------------------------------------------------------------

def _proc_field(path: str, name: str) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(rf"^{re.escape(name)}\s*:\s*(.+)$", text, flags=re.MULTILINE)
    return m.group(1).strip() if m else None


def hardware() -> dict[str, Any]:
    """CPU model, logical/physical cores, memory (GB), OS; psutil when installed, else /proc."""
    info: dict[str, Any] = {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine() or "unknown",
        "logical_cores": os.cpu_count(),
        "physical_cores": None,
        "memory_gb": None,
        "machine": platform.machine(),
        "os": platform.platform(),
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gb"] = round(psutil.virtual_memory().total / 1024**3, 1)
    except ImportError:
        kb = _proc_field("/proc/meminfo", "MemTotal")
        if kb:
            info["memory_gb"] = round(int(kb.split()[0]) / 1024**2, 1)
    return info


def software(packages: tuple[str, ...] = KEY_PACKAGES) -> list[dict]:
    rows = [{"package": "python", "version": f"{platform.python_version()} ({platform.python_implementation()})"}]
    for name in packages:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return rows


# --- (e) data availability, (f) instructions -------------------------------------------------------

def data_availability(params: dict, root: Path) -> dict[str, Any]:
    data = params.get("data", {}) or {}
    source = data.get("source", "synthetic")
    sources_md = SOURCES_MD if (Path(root) / SOURCES_MD).exists() else f"{SOURCES_MD} (missing)"
    common = (f"The treatment timing (pilot-zone roster, rail links) and the national export series are "
              f"public facts typed in from government announcements; they are included in data/reference/ "
              f"with their provenance in {sources_md}. ")
    not_redistributed = ("City-level export data from statistical yearbooks or customs are not redistributed "
                         "with this package; users supply their own (params.yaml, data.file).")
    if source == "synthetic":
        seed = (params.get("synthetic", {}) or {}).get("seed")
        statement = ("All estimates are computed on SYNTHETIC data: a calibrated simulated city panel generated by "
                     f"src/analysis/data/synthetic.py with seed {seed} (params.yaml, synthetic.*), so every number "
                     "can be reproduced without access to restricted data. They describe a simulation, not China. "
                     + common + not_redistributed)
    else:
        statement = (f"The estimates use a city panel read from the user's file {data.get('file')!s} "
                     "(params.yaml, data.file; never modified). " + common + not_redistributed
                     + " Without that file, `make reproduce` runs on the synthetic data instead (data.source: synthetic).")
    return {"source": source, "sources_file": SOURCES_MD, "statement": statement}


def replication_section(root: Path, params: dict, *, figures: list[tuple] | None = None,
                        tables: list[tuple] | None = None) -> dict:
    """The replication-package summary as plain (JSON-serialisable) data.

    Keys: ``outputs`` (rows label, kind, stem, stage, notebook, outputs, caption), ``runtime`` (rows
    stage, seconds or None), ``total_seconds``, ``hardware``, ``software`` (rows package, version),
    ``data_availability`` (source, sources_file, statement), ``instructions`` (rows command, what).
    ``figures``/``tables`` override ``report.FIGURES``/``report.TABLES`` (for tests; with ``figures``
    given and ``tables`` None, tables are numbered in dvc.yaml order).
    """
    root = Path(root)
    runtime = stage_runtimes(root)
    timed = [r["seconds"] for r in runtime if r["seconds"] is not None]
    return {
        "outputs": output_map(root, figures, tables),
        "runtime": runtime,
        "total_seconds": sum(timed) if timed else None,
        "hardware": hardware(),
        "software": software(),
        "data_availability": data_availability(params, root),
        "instructions": [{"command": c, "what": w} for c, w in INSTRUCTIONS],
    }


# --- rendering ------------------------------------------------------------------------------------

def _secs(v: float | None) -> str:
    return "n/a (not timed)" if v is None else f"{v:.1f} s"


def _hardware_rows(hw: dict) -> list[tuple[str, str]]:
    na = lambda v: "n/a" if v is None else str(v)
    return [("CPU", na(hw["cpu"])), ("Cores (logical / physical)", f"{na(hw['logical_cores'])} / {na(hw['physical_cores'])}"),
            ("Memory", "n/a" if hw["memory_gb"] is None else f"{hw['memory_gb']} GB"), ("OS", na(hw["os"]))]


def _tables(section: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in the section, shared by the two renderers."""
    outputs = [[r["label"], (r["notebook"] or f"stage {r['stage']}") if r["stage"] else "n/a",
                ", ".join(r["outputs"]) or "n/a"] for r in section["outputs"]]
    runtime = [[r["stage"], _secs(r["seconds"])] for r in section["runtime"]]
    runtime.append(["total (timed stages)", _secs(section["total_seconds"])])
    return [
        ("Figures and tables", ["Exhibit", "Notebook", "Output files"], outputs),
        ("Runtime by stage", ["Stage", "Runtime"], runtime),
        ("Hardware", ["Item", "Value"], [list(r) for r in _hardware_rows(section["hardware"])]),
        ("Software", ["Package", "Version"], [[r["package"], r["version"]] for r in section["software"]]),
    ]


def render_markdown(section: dict) -> str:
    """The section as Markdown (pipe tables), e.g. for README or the report's appendix."""
    esc = lambda s: str(s).replace("|", "\\|")
    parts = ["## Replication package", ""]
    for title, header, rows in _tables(section):
        parts += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        parts += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
        parts.append("")
    parts += ["### Data availability", "", section["data_availability"]["statement"], "",
              "### Instructions", ""]
    parts += [f"{n}. `{i['command']}`: {i['what']}" for n, i in enumerate(section["instructions"], start=1)]
    return "\n".join(parts) + "\n"


def render_html(section: dict) -> str:
    """The section as an HTML fragment (``<section class="replication">``) for the HTML report."""
    e = html.escape
    parts = ['<section class="replication">', "<h2>Replication package</h2>"]
    for title, header, rows in _tables(section):
        parts.append(f"<h3>{e(title)}</h3>")
        parts.append('<table class="replication">')
        parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts += ["<h3>Data availability</h3>", f"<p>{e(section['data_availability']['statement'])}</p>",
              "<h3>Instructions</h3>", "<ol>"]
    parts += [f"<li><code>{e(i['command'])}</code>: {e(i['what'])}</li>" for i in section["instructions"]]
    parts += ["</ol>", "</section>"]
    return "\n".join(parts) + "\n"
