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
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# jsonschema (under nbformat, jupytext and papermill) imports rfc3987_syntax for its "iri" format
# checker when that package is installed (jupyterlab's dependencies install it); its import builds
# ~35 Earley parsers, 0.9 s of every notebook stage's 2-3 s of start-up here (python-jsonschema/
# jsonschema#1428). No notebook schema uses the "iri" format: marking the module absent makes
# jsonschema skip that checker (it imports it under suppress(ImportError)). Set only if nothing
# has imported it yet, so a process that did keeps its checker.
sys.modules.setdefault("rfc3987_syntax", None)

import jupytext
import nbformat
import papermill as pm
from nbconvert import HTMLExporter

from analysis import config as paths
from analysis import results_io
from analysis.config import COMMON, EXTRA, NOTEBOOKS, Config, display_path, notebook_parameters

# The stages' parameters live with the config (analysis.config); re-exported for the pipeline's
# callers and tests.
__all__ = [
    "COMMON",
    "EXTRA",
    "NOTEBOOKS",
    "NotebookFailure",
    "NotebookInputError",
    "notebook_parameters",
    "run_notebook",
]


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
    cells = _strip_volatile_metadata(executed, name)
    _export_html(executed)
    # Runtime is environment-dependent: kept apart from the results files (which must be identical).
    products = [paths.RESULTS / f"{name}.json", executed]
    results_io.write_runtime(
        paths.OUTPUT / "runtime" / f"{name}.json",
        name,
        seconds,
        [p for p in products if p.exists()],
        paths.ROOT,
        slowest=sorted(cells, key=lambda c: -c["seconds"])[:SLOWEST_CELLS],
    )
    return executed


def _export_html(executed: Path) -> None:
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nbformat.read(executed, as_version=4)
    )
    executed.with_suffix(".html").write_text(html, encoding="utf-8")


# What the kernel process says that a user cannot act on: ipykernel warns on every start that the
# kernel talks to papermill over TCP on localhost without encryption (issue 17: six times a run).
_KERNEL_NOISE = re.compile(
    r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"
)


class _Log:
    def __init__(self, file):
        self.file = file

    def read(self) -> str:
        self.file.flush()
        self.file.seek(0)
        text = self.file.read().decode("utf-8", "replace")
        return "".join(
            line for line in text.splitlines(keepends=True) if not _KERNEL_NOISE.match(line)
        )


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


SLOWEST_CELLS = 5  # the cells a stage's runtime record names, slowest first


def _strip_volatile_metadata(path: Path, name: str) -> list[dict]:
    """Remove timestamps and durations papermill records, number the cells, and record the input and output as
    paths relative to the project root, so executed notebooks are stable and machine-independent.
    Returns each code cell's duration (``{"cell", "seconds", "source"}``: the runtime record says
    where a stage spends its time)."""
    durations = []
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        meta.pop(key, None)
    meta["input_path"] = display_path(source_path(name))
    meta["output_path"] = display_path(path)
    for i, cell in enumerate(nb.cells):
        # papermill gives the cell it injects a random id: every executed notebook would differ
        # (they are DVC outputs, restored with their results: the same bytes every run)
        cell.id = f"{name}-{i:02d}"
        cell.metadata.pop("execution", None)
        pm_meta = cell.metadata.get("papermill", {})
        if cell.cell_type == "code" and pm_meta.get("duration") is not None:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            durations.append({"cell": i, "seconds": float(pm_meta["duration"]), "source": first})
        for key in ("start_time", "end_time", "duration"):
            pm_meta.pop(key, None)
    nbformat.write(nb, path)
    return durations
