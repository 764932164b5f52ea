"""The replication-package facts printed at the end of the report (README section of an AEA
replication package): which notebook makes which exhibit, how long each stage ran, on what
hardware and software, where the data come from, and the commands that reproduce it.

Follows the Social Science Data Editors' template README ("A template README for social science
replication packages", Vilhuber et al. 2020, doi:10.5281/zenodo.4319999) and the AEA Data Editor's
Data and Code Availability Policy. Everything is read from the project (dvc.yaml, output/runtime,
params.yaml), the exhibit registry passed in, or the running machine; nothing is typed in. This
module returns plain data only: the report text (report/text/<lang>.yaml) words it per language.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from analysis.report.exhibits import EXTRA_SOURCES, Exhibit, numbers
from analysis.results_io import runtime_is_current

KEY_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "pyfixest",
    "matplotlib",
    "seaborn",
    "papermill",
    "dvc",
    "typst",
)
SOURCES_MD = "data/reference/SOURCES.md"
COMMANDS = (
    "make reproduce",
    "make test",
)  # what each does: report/text/<lang>.yaml, replication.commands


# --- (a) exhibit -> stage -> notebook -> output files ---------------------------------------------


def _paths(entries: list | None) -> list[str]:
    """dvc.yaml outs/metrics/plots entries are either 'path' or {'path': {options}}."""
    out = []
    for entry in entries or []:
        out.extend([entry] if isinstance(entry, str) else list(entry))
    return out


def _notebook(stage: dict) -> str | None:
    for dep in stage.get("deps", []) or []:
        if isinstance(dep, str) and re.fullmatch(r"notebooks/[^/]+\.(ipynb|py)", dep):
            return dep
    return None


def load_stages(root: Path) -> dict[str, dict]:
    with open(Path(root) / "dvc.yaml", encoding="utf-8") as fh:
        return (yaml.safe_load(fh) or {}).get("stages", {}) or {}


def _dvc_outputs(root: Path) -> dict[tuple[str, str], dict]:
    """(kind, stem) -> {stage, notebook, outputs} for every figure/table file dvc.yaml declares."""
    found: dict[tuple[str, str], dict] = {}
    for stage_name, stage in load_stages(root).items():
        for path in (
            _paths(stage.get("outs")) + _paths(stage.get("metrics")) + _paths(stage.get("plots"))
        ):
            # figures are saved once per language: <stem>.<lang>.<ext> (one exhibit, both files)
            m = re.fullmatch(r"output/(figures|tables)/([^/.]+)(?:\.[a-z]{2})?\.(\w+)", path)
            if not m:
                continue
            kind = "figure" if m.group(1) == "figures" else "table"
            row = found.setdefault(
                (kind, m.group(2)),
                {"stage": stage_name, "notebook": _notebook(stage), "outputs": []},
            )
            row["outputs"].append(path)
    return found


def output_map(root: Path, exhibits: Sequence[Exhibit]) -> list[dict]:
    """One row per exhibit of the report, in the registry's order, then the figure/table files in
    dvc.yaml that the report does not show (``number`` None).

    Row keys: id (None if not in report), kind, number, stem, stage, notebook, outputs. Stage and
    notebook come from dvc.yaml (None when dvc.yaml does not declare the file).
    """
    found = _dvc_outputs(root)
    nums = numbers(tuple(exhibits))
    rows = []
    for ex in exhibits:
        hit = found.pop((ex.kind, ex.stem), None) or {
            "stage": None,
            "notebook": None,
            "outputs": [],
        }
        outputs = list(hit["outputs"])
        if ex.id in EXTRA_SOURCES:
            extra = found.pop((ex.kind, EXTRA_SOURCES[ex.id][1]), None)
            outputs += extra["outputs"] if extra else []
        rows.append(
            {
                "id": ex.id,
                "kind": ex.kind,
                "number": nums[ex.id],
                "stem": ex.stem,
                **hit,
                "outputs": outputs,
            }
        )
    rows.extend(
        {"id": None, "kind": kind, "number": None, "stem": stem, **row}
        for (kind, stem), row in found.items()
    )
    return rows


# --- (b) runtime ----------------------------------------------------------------------------------


def stage_runtimes(root: Path) -> list[dict]:
    """Seconds per dvc stage from output/runtime/<stage>.json (written by the stage), only when
    the stage's products are still those of the timed run (``stale``: a record left by another
    run, e.g. after DVC restored the products from its cache); None for stages that record none
    (the environment and report stages are not timed)."""
    rows = []
    for name in load_stages(root):
        path = Path(root) / "output" / "runtime" / f"{name}.json"
        seconds, stale = None, False
        if path.exists():
            record = json.loads(path.read_text(encoding="utf-8"))
            if runtime_is_current(record, root):
                seconds = float(record["seconds"])
            else:
                stale = True
        rows.append({"stage": name, "seconds": seconds, "stale": stale})
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
        "cpu": _proc_field("/proc/cpuinfo", "model name")
        or platform.processor()
        or platform.machine()
        or "unknown",
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
    rows = [
        {
            "package": "python",
            "version": f"{platform.python_version()} ({platform.python_implementation()})",
        }
    ]
    for name in packages:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = None
        rows.append({"package": name, "version": version})
    return rows


# --- (e) data availability ------------------------------------------------------------------------


def data_availability(params: dict, root: Path) -> dict[str, Any]:
    """The facts the data-availability statement is worded from (report/text/<lang>.yaml)."""
    data = params.get("data", {}) or {}
    return {
        "source": data.get("source", "synthetic"),
        "seed": (params.get("synthetic", {}) or {}).get("seed"),
        "file": None if data.get("file") is None else str(data.get("file")),
        "sources_file": SOURCES_MD,
        "sources_missing": not (Path(root) / SOURCES_MD).exists(),
    }


def replication_section(root: Path, params: dict, exhibits: Sequence[Exhibit]) -> dict:
    """The replication-package facts as plain (JSON-serialisable) data.

    Keys: ``outputs`` (see :func:`output_map`), ``runtime`` (rows stage, seconds or None),
    ``total_seconds``, ``hardware``, ``software`` (rows package, version or None),
    ``data_availability`` (see :func:`data_availability`), ``commands``.
    """
    root = Path(root)
    runtime = stage_runtimes(root)
    timed = [r["seconds"] for r in runtime if r["seconds"] is not None]
    return {
        "outputs": output_map(root, exhibits),
        "runtime": runtime,
        "total_seconds": sum(timed) if timed else None,
        "hardware": hardware(),
        "software": software(),
        "data_availability": data_availability(params, root),
        "commands": list(COMMANDS),
    }
