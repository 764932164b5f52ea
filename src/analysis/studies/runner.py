"""Run a notebook as a pipeline stage: papermill with parameters from params.yaml, then HTML.

Parameters injected in every notebook: ``panel_path``, ``truth_path``, ``cities_path``,
``output_dir`` (where the notebook writes results, tables and figures), ``lang``, plus the keys of
``notebooks.<name>`` in params.yaml. Notebooks in git carry no outputs; the executed copies are
pipeline outputs in output/notebooks/.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter

from analysis import config as paths
from analysis import results_io


def notebook_parameters(name: str, params: dict) -> dict:
    base = {
        "panel_path": str(paths.PROCESSED / "panel.csv"),
        "truth_path": str(paths.PROCESSED / "truth.json"),
        "cities_path": str(paths.INTERIM / "cities.csv"),
        "treatments_path": str(paths.INTERIM / "treatments.csv"),
        "output_dir": str(paths.OUTPUT),
        "lang": params.get("report", {}).get("lang", "en"),
    }
    return {**base, **params.get("notebooks", {}).get(name, {})}


def run_notebook(name: str, params: dict, output_dir: Path | None = None) -> Path:
    """Execute notebooks/<name>.ipynb into output/notebooks/<name>.ipynb and .html; return the ipynb."""
    source = paths.ROOT / "notebooks" / f"{name}.ipynb"
    out_dir = output_dir or paths.NOTEBOOKS_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    pm.execute_notebook(
        str(source), str(executed), parameters=notebook_parameters(name, params), cwd=str(paths.ROOT),
        kernel_name="python3", progress_bar=False, log_output=False,
    )
    seconds = time.perf_counter() - start
    _strip_volatile_metadata(executed)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(executed, as_version=4))
    executed.with_suffix(".html").write_text(html, encoding="utf-8")
    # Runtime is environment-dependent: kept apart from the results files (which must be identical).
    results_io.write_json(paths.OUTPUT / "runtime" / f"{name}.json", {"notebook": name, "seconds": seconds})
    return executed


def _strip_volatile_metadata(path: Path) -> None:
    """Remove timestamps and durations papermill records, so executed notebooks are stable."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.get("papermill", {}).pop("start_time", None)
    nb.metadata.get("papermill", {}).pop("end_time", None)
    nb.metadata.get("papermill", {}).pop("duration", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        pm_meta = cell.metadata.get("papermill", {})
        for key in ("start_time", "end_time", "duration"):
            pm_meta.pop(key, None)
    nbformat.write(nb, path)
