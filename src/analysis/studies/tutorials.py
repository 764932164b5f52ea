"""The learning notebooks of ``notebooks/learn/``: what they share, and how they are run.

They are not stages of the pipeline (``analysis.config.NOTEBOOKS`` lists those): nothing reads
their products. ``make learn`` (``python -m analysis.studies.tutorials``) executes each into
``output/learn/<name>.ipynb`` and exports ``<name>.html``, in which the answers to the exercises
(cells tagged ``solution``, collapsed in JupyterLab) are folded into a ``<details>`` element.

The tutorials reproduce published numbers on the validation data sets (``VALIDATION_DATA_DIR``,
as the test suite): :func:`validation_csv` reads one, or stops the notebook cleanly with the reason
(:class:`DataUnavailable`: the notebook prints why and runs no further; ``make learn`` reports the
tutorial as skipped), and :class:`Reproduction` shows our number beside the published one and
writes both to ``<output_dir>/<name>.json``, which tests/studies/test_tutorials.py checks.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from analysis import config as paths

LEARN_DIR = paths.ROOT / "notebooks" / "learn"
OUTPUT = paths.OUTPUT / "learn"
# in the order a student takes them (README, "Learn")
NOTEBOOKS = (
    "learn_staggered_did",
    "tutorial_mpdta_callaway_santanna",
    "tutorial_castle_twfe_bacon",
    "tutorial_ehec_honestdid",
    "tutorial_prop99_sdid",
    "tutorial_favara_dcdh",
)
SOLUTION_TAG = "solution"


class DataUnavailable(Exception):
    """A tutorial's data set is missing: the notebook stops here, showing only the reason."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"Stopped: {self}"]


def validation_dir(value: str | Path | None = None) -> Path:
    """The validation data folder: ``value``, else ``VALIDATION_DATA_DIR``; a relative path is
    relative to the project root (as in ``VALIDATION_DATA_DIR=../shared/validation make test``),
    wherever the kernel was started."""
    value = value or os.environ.get("VALIDATION_DATA_DIR")
    if not value:
        raise DataUnavailable(
            "VALIDATION_DATA_DIR is not set. Start JupyterLab with the validation data, e.g. "
            "`VALIDATION_DATA_DIR=../shared/validation make lab`, or set data_dir in the "
            "parameters cell."
        )
    path = Path(value)
    path = path if path.is_absolute() else paths.ROOT / path
    if not path.is_dir():
        raise DataUnavailable(f"the validation data folder {value} does not exist.")
    return path


def validation_csv(name: str, data_dir: str | Path | None = None, **read_csv) -> pd.DataFrame:
    """One validation data set as a DataFrame, or :class:`DataUnavailable` with the reason."""
    path = validation_dir(data_dir) / name
    if not path.is_file():
        raise DataUnavailable(f"{name} is not in the validation data folder ({path.parent.name}).")
    return pd.read_csv(path, **read_csv)


def stop_if_missing(data_dir: str | Path | None, *names: str) -> Path:
    """Check the data a tutorial needs before it starts: print the reason and stop cleanly when
    some is missing (the one cell a student sees fail, with one line), else return the folder."""
    try:
        folder = validation_dir(data_dir)
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DataUnavailable(f"{', '.join(missing)} not found in {folder.name}/.")
    except DataUnavailable as exc:
        print(f"This tutorial needs the validation data sets: {exc}")
        raise
    return folder


def quiet_library_warnings() -> None:
    """Silence the deprecation notices pyfixest triggers in pandas (``inplace=``), which tell a
    student nothing about the method; every other warning still shows."""
    import warnings

    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"pyfixest(\.|$)")


def show_figure(fig, dpi: int = 100) -> None:
    """Display a matplotlib figure as a PNG and close it (inline display does not depend on the
    backend: ``make learn`` and the tests run with ``MPLBACKEND=Agg``)."""
    from IPython.display import Image, display

    from analysis.figures.learn import png

    display(Image(data=png(fig, dpi=dpi)))


# ----------------------------------------------------------------------------------- reproduction
def _decimals(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return -int(exponent) if isinstance(exponent, int) else 0


@dataclass
class Reproduction:
    """Our numbers beside the published ones. ``published`` is the number as printed (a string),
    and a row agrees when ours, rounded to the printed digits, is that number: we reproduce
    every digit the reference printed, no more is claimed."""

    name: str
    source: str
    rows: list[dict] = field(default_factory=list)

    def add(self, quantity: str, ours: float, published: str) -> None:
        digits = _decimals(published)
        agrees = abs(round(float(ours), digits) - float(published)) < 0.5 * 10.0**-digits * 1e-6
        self.rows.append(
            {"quantity": quantity, "ours": float(ours), "published": published, "agrees": agrees}
        )

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=["quantity", "ours", "published", "agrees"])
        frame["ours"] = [
            f"{v:.{max(_decimals(p) + 2, 4)}f}" for v, p in zip(frame["ours"], frame["published"])
        ]
        return frame

    @property
    def all_agree(self) -> bool:
        return bool(self.rows) and all(r["agrees"] for r in self.rows)

    def save(self, output_dir: str | Path) -> Path:
        """``<output_dir>/<name>.json`` (relative to the project root)."""
        from analysis import results_io

        out = Path(output_dir)
        out = out if out.is_absolute() else paths.ROOT / out
        out.mkdir(parents=True, exist_ok=True)
        payload = {
            "tutorial": self.name,
            "source": self.source,
            "all_agree": self.all_agree,
            "rows": [{**r, "ours": repr(r["ours"])} for r in self.rows],  # every digit
        }
        return results_io.write_json(out / f"{self.name}.json", payload)


def read_reproduction(path: str | Path) -> dict:
    """A saved :class:`Reproduction`, with ``ours`` back as floats."""
    import json

    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    for row in payload["rows"]:
        row["ours"] = float(row["ours"])
    return payload


# ----------------------------------------------------------------------------------- running
@dataclass
class Run:
    name: str
    status: str  # "ok" or "skipped"
    reason: str
    notebook: Path
    html: Path
    seconds: float


HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block any_cell scoped -%}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="learn-solution"><summary><b>Answers</b> (click to open) / 答案（点击展开）</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock any_cell -%}
"""


def export_html(notebook: Path) -> Path:
    """``<notebook>.html`` (JupyterLab look), the exercises' answers folded."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"learn.html.j2": HTML_TEMPLATE})],
        template_file="learn.html.j2",
    )
    html, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(html, encoding="utf-8")
    return out


# How long one wait on a kernel channel may last before the socket is polled again (seconds).
POLL_SLICE = 1.0


def _poll_in_slices(channel) -> None:
    """Make ``channel.get_msg(timeout)`` wait in slices of :data:`POLL_SLICE` seconds.

    Why: on CI the kernel's reply to the widget cell of learn_staggered_did was noticed only when
    the cell's 600 s timeout ran out (measured: 610 s for a notebook that runs in 15 s), the
    missed wake-up of nbclient's asyncio poll that jupyter/nbclient#312 reports for cells with
    ipywidgets. pyzmq's poll checks the socket once more when its timeout ends, so a short
    timeout repeated until the caller's own deadline bounds a missed wake-up to one slice, and
    changes nothing else (Empty is still raised at the caller's deadline)."""
    from queue import Empty

    wait = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await wait(timeout=POLL_SLICE if left is None else min(POLL_SLICE, left))
            except Empty:
                if left is not None and left <= POLL_SLICE:
                    raise

    channel.get_msg = get_msg


def notebook_client(nb, **options):
    """nbclient's ``NotebookClient`` whose shell and IOPub waits are polled in slices
    (:func:`_poll_in_slices`)."""
    from nbclient import NotebookClient

    class SlicedPollingClient(NotebookClient):
        async def async_start_new_kernel_client(self):
            client = await super().async_start_new_kernel_client()
            _poll_in_slices(client.shell_channel)
            _poll_in_slices(client.iopub_channel)
            return client

    return SlicedPollingClient(nb, **options)


def run(
    name: str,
    output_dir: Path | None = None,
    parameters: dict | None = None,
    timeout: int = 600,
) -> Run:
    """Execute ``notebooks/learn/<name>.py`` in the project root into ``<output_dir>/<name>.ipynb``
    (default ``output/learn``) and export its HTML. Papermill's convention: ``parameters`` (and
    ``output_dir``) are injected after the cell tagged ``parameters``. A tutorial that stopped on
    :class:`DataUnavailable` is ``skipped`` (its notebook shows the reason); any other error raises
    nbclient's ``CellExecutionError`` after the notebook is written."""
    import jupytext
    import nbformat
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    from analysis.studies.runner import _kernel_stderr

    out_dir = Path(output_dir or OUTPUT)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = out_dir / f"{name}.ipynb"
    values = {"output_dir": paths.display_path(out_dir), **(parameters or {})}
    nb = jupytext.read(LEARN_DIR / f"{name}.py")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name}-{i:02d}"  # stable ids (jupytext stores none)
        cell.metadata.setdefault("tags", [])  # papermill looks for "parameters" in every cell
    nb.metadata["papermill"] = {}
    nb = parameterize_notebook(nb, values, kernel_name="python3", language="python")
    client = notebook_client(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(paths.ROOT)}},
    )
    status, reason = "ok", ""
    start = time.perf_counter()
    with _kernel_stderr():
        try:
            client.execute()
        except CellExecutionError as exc:
            if exc.ename != DataUnavailable.__name__:
                nbformat.write(nb, notebook)
                export_html(notebook)
                raise
            status, reason = "skipped", str(exc.evalue)
    seconds = time.perf_counter() - start
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, notebook)
    return Run(name, status, reason, notebook, export_html(notebook), seconds)


def main(argv: list[str] | None = None) -> int:
    """``make learn``: run every learning notebook (or those named), one line each."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(NOTEBOOKS)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"error: unknown learning notebook(s) {unknown}; choose from {list(NOTEBOOKS)}")
        return 2
    for name in names:
        result = run(name)
        where = paths.display_path(result.html)
        if result.status == "ok":
            print(f"{name}: {where} ({result.seconds:.0f} s)")
        else:
            print(f"{name}: skipped ({result.reason}); {where} says why")
    return 0


if __name__ == "__main__":  # pragma: no cover - `make learn`
    raise SystemExit(main())
