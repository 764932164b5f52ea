"""Run a notebook as a pipeline stage: papermill with parameters from the typed config, then HTML.

The notebooks' sources are jupytext percent-format scripts, ``notebooks/<name>.py`` (reviewable as
text, opened as notebooks by JupyterLab through jupytext.toml). Each has one cell tagged
``parameters``; papermill injects after it the values of :func:`notebook_parameters`: the common
ones (``COMMON``: the pipeline's files, relative to the project root, and ``lang``), the fields of
``notebooks.<name>`` in params.yaml, and for some notebooks a few more (``EXTRA``). The executed
copies are pipeline outputs in output/notebooks/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jupytext
import nbformat
import papermill as pm
from nbconvert import HTMLExporter

from analysis import config as paths
from analysis import results_io
from analysis.config import Config, NotebooksConfig, display_path, plain

# one notebook per section of params.yaml's notebooks:
NOTEBOOKS = tuple(f.name for f in dataclasses.fields(NotebooksConfig))

# Relative to the project root (the notebooks resolve them there): no absolute path of the machine
# is written into an executed notebook.
COMMON: dict[str, Callable[[Config], object]] = {
    "panel_path": lambda c: display_path(paths.PROCESSED / "panel.csv"),
    "truth_path": lambda c: display_path(paths.PROCESSED / "truth.json"),
    "cities_path": lambda c: display_path(paths.INTERIM / "cities.csv"),
    "treatments_path": lambda c: display_path(paths.INTERIM / "treatments.csv"),
    "output_dir": lambda c: display_path(paths.OUTPUT),
    "lang": lambda c: c.report.lang,
}

# Notebook-specific parameters from other sections of params.yaml.
EXTRA: dict[str, dict[str, Callable[[Config], object]]] = {
    # the simulation redraws the default panel: it needs the data-generating process
    "simulation": {
        "synthetic": lambda c: plain(c.synthetic),
        "first_year": lambda c: c.panel.first_year,
        "last_year": lambda c: c.panel.last_year,
        "control_rule": lambda c: plain(c.panel.control_rule),
    },
    # concurrent-policy rosters are coded like the pilot zones
    "robustness": {
        "year_rule": lambda c: c.treatment.year_rule,
        "min_control_share": lambda c: c.panel.min_control_share,
        "control_rule": lambda c: plain(c.panel.control_rule),
    },
    # the studies drop sparse controls by the panel stage's rule (analysis.data.design)
    **{
        name: {"min_control_share": lambda c: c.panel.min_control_share}
        for name in ("pilot_zones", "rail_links", "network_coverage")
    },
}
# the binary studies build their covariates by params.yaml panel.control_rule (studies/rules.py)
for _name in ("pilot_zones", "rail_links"):
    EXTRA[_name]["control_rule"] = lambda c: plain(c.panel.control_rule)


class NotebookInputError(Exception):
    """A notebook stopped on bad input (an ``analysis.errors.InputError`` raised in the kernel)."""

    def __init__(self, message: str, executed: str, kernel_log: str = ""):
        super().__init__(message)
        self.message = message  # the InputError's one line, ``error: FILE:ROW:COLUMN: ...``
        self.executed = executed  # the executed notebook, relative to the project root
        self.kernel_log = kernel_log  # what the kernel process wrote to stderr


class NotebookFailure(Exception):
    """A notebook stopped on an unexpected exception (a bug, or an input the checks missed):
    ``message`` is one line naming the stage, the exception and the innermost module of the
    package it came from (the estimator); ``executed`` the notebook that shows the traceback."""

    def __init__(self, message: str, executed: str):
        super().__init__(message)
        self.message = message
        self.executed = executed


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r"analysis[/\\]((?:[a-z_]+[/\\])*[a-z_]+)\.py")


def failure_line(name: str, ename: str, evalue: str, traceback: list[str]) -> str:
    """``error: stage NAME: ENAME: EVALUE (raised in analysis.did.x)`` from a kernel exception."""
    text = _ANSI.sub("", "\n".join(traceback or []))
    modules = [m.replace("\\", ".").replace("/", ".") for m in _FRAME.findall(text)]
    where = f" (raised in analysis.{modules[-1]})" if modules else ""
    first = (evalue or "").strip().splitlines()[0] if (evalue or "").strip() else ""
    return f"error: stage {name}: {ename}: {first}{where}"


def source_path(name: str) -> Path:
    return paths.ROOT / "notebooks" / f"{name}.py"


def notebook_parameters(name: str, config: Config) -> dict:
    """The values papermill injects into notebook ``name`` (plain lists and dicts: papermill's
    translator would turn tuples into strings)."""
    section = plain(getattr(config.notebooks, name))
    extra = {key: value(config) for key, value in EXTRA.get(name, {}).items()}
    return {**{key: value(config) for key, value in COMMON.items()}, **section, **extra}


def read_source(name: str) -> nbformat.NotebookNode:
    """notebooks/<name>.py as a notebook, with stable cell ids (jupytext does not store them)."""
    nb = jupytext.read(source_path(name))
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name}-{i:02d}"
    return nb


def run_notebook(name: str, config: Config, output_dir: Path | None = None) -> Path:
    """Execute notebooks/<name>.py into output/notebooks/<name>.ipynb and .html; return the ipynb.

    Raises :class:`NotebookInputError` when the notebook raised ``InputError`` (bad input, not a bug).
    """
    out_dir = output_dir or paths.NOTEBOOKS_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    with _kernel_stderr() as log:
        try:
            pm.execute_notebook(
                read_source(name),
                str(executed),
                parameters=notebook_parameters(name, config),
                cwd=str(paths.ROOT),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
            )
        except pm.PapermillExecutionError as exc:
            _strip_volatile_metadata(executed, name)
            if exc.ename == "InputError":  # papermill gives the kernel's exception by name
                raise NotebookInputError(exc.evalue, display_path(executed), log.read()) from None
            # anything else: one line first, the traceback stays in the executed notebook
            _export_html(executed)
            line = failure_line(name, exc.ename, exc.evalue, exc.traceback)
            raise NotebookFailure(line, display_path(executed.with_suffix(".html"))) from None
    seconds = time.perf_counter() - start
    _strip_volatile_metadata(executed, name)
    _export_html(executed)
    # Runtime is environment-dependent: kept apart from the results files (which must be identical).
    results_io.write_json(
        paths.OUTPUT / "runtime" / f"{name}.json", {"notebook": name, "seconds": seconds}
    )
    return executed


def _export_html(executed: Path) -> None:
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nbformat.read(executed, as_version=4)
    )
    executed.with_suffix(".html").write_text(html, encoding="utf-8")


class _Log:
    def __init__(self, file):
        self.file = file

    def read(self) -> str:
        self.file.flush()
        self.file.seek(0)
        return self.file.read().decode("utf-8", "replace")


@contextlib.contextmanager
def _kernel_stderr() -> Iterator[_Log]:
    """Collect what the kernel process writes to stderr (it inherits file descriptor 2; ipykernel
    warns there, e.g. about TCP transport), so that a notebook's one-line input error comes first.
    The collected text is written to stderr afterwards, except when the caller takes it
    (NotebookInputError.kernel_log) to print after the error line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as file:
        os.dup2(file.fileno(), 2)
        log = _Log(file)
        taken = False
        try:
            yield log
        except (NotebookInputError, NotebookFailure):
            taken = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not taken:
                sys.stderr.write(log.read())
                sys.stderr.flush()


def _strip_volatile_metadata(path: Path, name: str) -> None:
    """Remove timestamps and durations papermill records, and record the input and output as
    paths relative to the project root, so executed notebooks are stable and machine-independent."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        meta.pop(key, None)
    meta["input_path"] = display_path(source_path(name))
    meta["output_path"] = display_path(path)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        pm_meta = cell.metadata.get("papermill", {})
        for key in ("start_time", "end_time", "duration"):
            pm_meta.pop(key, None)
    nbformat.write(nb, path)
