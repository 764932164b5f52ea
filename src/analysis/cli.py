"""The ``analysis`` command line: the pipeline's stages and the users' tools."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from analysis import paths
from analysis.errors import InputError
from analysis.params import load_params

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _fail(exc: Exception) -> None:
    typer.echo(str(exc) if isinstance(exc, InputError) else f"error: {exc}", err=True)
    raise typer.Exit(code=1)


@app.command("build-cities")
def build_cities_cmd(out: Path = typer.Option(paths.INTERIM / "cities.csv", help="City master CSV")) -> None:
    """Build the city master (all prefecture-level units) from the cpca admin-code table."""
    from analysis.pipeline import build_cities

    master = build_cities(out)
    typer.echo(f"{out}: {len(master)} prefecture-level units")


@app.command("build-treatments")
def build_treatments_cmd(
    cities: Path = typer.Option(paths.INTERIM / "cities.csv"),
    out: Path = typer.Option(paths.INTERIM / "treatments.csv"),
) -> None:
    """Join the treatment facts (data/reference) to the city master: first treatment year per city."""
    from analysis.pipeline import build_treatments

    try:
        table = build_treatments(cities, out, load_params())
    except InputError as exc:
        _fail(exc)
    typer.echo(f"{out}: {int((table['pilot_year'] > 0).sum())} pilot cities, {int((table['rail_year'] > 0).sum())} rail cities")


@app.command("build-panel")
def build_panel_cmd(
    cities: Path = typer.Option(paths.INTERIM / "cities.csv"),
    treatments: Path = typer.Option(paths.INTERIM / "treatments.csv"),
    out: Path = typer.Option(paths.PROCESSED / "panel.csv"),
    truth: Path = typer.Option(paths.PROCESSED / "truth.json"),
) -> None:
    """Write the processed city-year panel from the source set in params.yaml (data.source)."""
    from analysis.pipeline import build_panel

    try:
        panel = build_panel(cities, treatments, out, truth, load_params())
    except InputError as exc:
        _fail(exc)
    typer.echo(f"{out}: {len(panel)} city-years, source = {panel['data_source'].iloc[0]}")


@app.command("notebook")
def notebook_cmd(name: str = typer.Argument(..., help="Notebook stem in notebooks/, e.g. pilot_zones")) -> None:
    """Execute one notebook with papermill (parameters from params.yaml) and export it to HTML."""
    from analysis.notebooks import run_notebook

    run_notebook(name, load_params())


@app.command("report")
def report_cmd() -> None:
    """Render the report (HTML and PDF) from the results files and figures."""
    from analysis.report import build_report

    for path in build_report(load_params()):
        typer.echo(str(path))


def main() -> None:  # pragma: no cover
    sys.exit(app())


# --- ingest commands ---
from analysis.ingest.cli import ingest, template
app.command()(ingest)
app.command()(template)
