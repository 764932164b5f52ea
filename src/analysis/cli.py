"""The ``analysis`` command line: the pipeline's stages and the users' tools."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from analysis import config as paths
from analysis.errors import InputError
from analysis.config import load_params

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _record_runtime(stage: str, start: float) -> None:
    """Stage runtime for the replication section (kept apart from the results files)."""
    from analysis import results_io

    results_io.write_json(paths.OUTPUT / "runtime" / f"{stage}.json", {"notebook": stage, "seconds": time.perf_counter() - start})


def _fail(exc: Exception) -> None:
    typer.echo(str(exc) if isinstance(exc, InputError) else f"error: {exc}", err=True)
    raise typer.Exit(code=1)


@app.command("build-cities")
def build_cities_cmd(out: Path = typer.Option(paths.INTERIM / "cities.csv", help="City master CSV")) -> None:
    """Build the city master (all prefecture-level units) from the cpca admin-code table."""
    from analysis.data.build import build_cities

    start = time.perf_counter()
    master = build_cities(out)
    _record_runtime("cities", start)
    typer.echo(f"{out}: {len(master)} prefecture-level units")


@app.command("build-treatments")
def build_treatments_cmd(
    cities: Path = typer.Option(paths.INTERIM / "cities.csv"),
    out: Path = typer.Option(paths.INTERIM / "treatments.csv"),
) -> None:
    """Join the treatment facts (data/reference) to the city master: first treatment year per city."""
    from analysis.data.build import build_treatments

    start = time.perf_counter()
    try:
        table = build_treatments(cities, out, load_params())
    except InputError as exc:
        _fail(exc)
    _record_runtime("treatments", start)
    typer.echo(f"{out}: {int((table['pilot_year'] > 0).sum())} pilot cities, {int((table['rail_year'] > 0).sum())} rail cities")


@app.command("build-panel")
def build_panel_cmd(
    cities: Path = typer.Option(paths.INTERIM / "cities.csv"),
    treatments: Path = typer.Option(paths.INTERIM / "treatments.csv"),
    out: Path = typer.Option(paths.PROCESSED / "panel.csv"),
    truth: Path = typer.Option(paths.PROCESSED / "truth.json"),
) -> None:
    """Write the processed city-year panel from the source set in params.yaml (data.source)."""
    from analysis.data.build import build_panel

    start = time.perf_counter()
    try:
        panel = build_panel(cities, treatments, out, truth, load_params())
    except InputError as exc:
        _fail(exc)
    _record_runtime("panel", start)
    typer.echo(f"{out}: {len(panel)} city-years, source = {panel['data_source'].iloc[0]}")


@app.command("notebook")
def notebook_cmd(name: str = typer.Argument(..., help="Notebook stem in notebooks/, e.g. pilot_zones")) -> None:
    """Execute one notebook with papermill (parameters from params.yaml) and export it to HTML."""
    from analysis.studies.runner import run_notebook

    run_notebook(name, load_params())


@app.command("report")
def report_cmd() -> None:
    """Render the report (HTML and PDF) from the results files and figures."""
    from analysis.report.build import build_report

    for path in build_report(load_params()):
        typer.echo(str(path))


def main() -> None:  # pragma: no cover
    sys.exit(app())


# --- results commands ---
from analysis.report.verify import publish_command, verify_command  # noqa: E402

app.command("verify", help="Compare a fresh run's results with the published ones; non-zero exit on a mismatch.")(verify_command)
app.command("publish", help="Copy this run's results files to results/published (the reference for verify).")(publish_command)

# --- ingest commands ---
from analysis.data.ingest.cli import ingest, template
app.command()(ingest)
app.command()(template)
