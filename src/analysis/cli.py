"""The ``analysis`` command line: the pipeline's stages and the users' tools."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from analysis import config as paths
from analysis.config import load_config
from analysis.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _record_runtime(stage: str, start: float, product: Path) -> None:
    """Stage runtime for the replication section (kept apart from the results files), with the
    fingerprint of the stage's product (see results_io.write_runtime)."""
    from analysis import results_io

    results_io.write_runtime(
        paths.OUTPUT / "runtime" / f"{stage}.json",
        stage,
        time.perf_counter() - start,
        [product],
        paths.ROOT,
    )


def _fail(exc: Exception) -> None:
    typer.echo(str(exc) if isinstance(exc, InputError) else f"error: {exc}", err=True)
    raise typer.Exit(code=1)


def _config():
    """params.yaml, validated: a bad key or value ends the command with its one-line error."""
    try:
        return load_config()
    except InputError as exc:
        _fail(exc)


@app.command("build-cities")
def build_cities_cmd(
    out: Path = typer.Option(paths.INTERIM / "cities.csv", help="City master CSV"),
) -> None:
    """Build the city master (all prefecture-level units) from the cpca admin-code table."""
    from analysis.data.build import build_cities

    start = time.perf_counter()
    master = build_cities(out)
    _record_runtime("cities", start, out)
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
        table = build_treatments(cities, out, _config())
    except InputError as exc:
        _fail(exc)
    _record_runtime("treatments", start, out)
    typer.echo(
        f"{out}: {int((table['pilot_year'] > 0).sum())} pilot cities, {int((table['rail_year'] > 0).sum())} rail cities"
    )


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
        panel = build_panel(cities, treatments, out, truth, _config())
    except InputError as exc:
        _fail(exc)
    _record_runtime("panel", start, out)
    typer.echo(f"{out}: {len(panel)} city-years, source = {panel['data_source'].iloc[0]}")


@app.command("notebook")
def notebook_cmd(
    name: str = typer.Argument(..., help="Notebook stem in notebooks/, e.g. pilot_zones"),
) -> None:
    """Execute one notebook with papermill (parameters from params.yaml) and export it to HTML.

    Bad input found inside the notebook (an ``InputError``, e.g. a bad roster row) ends the command
    with its one-line error and a pointer to the executed notebook; any other exception ends it
    with one line naming the stage, the exception and the module that raised it, and a pointer to
    the executed notebook, which keeps the traceback."""
    from analysis.studies.runner import (
        NOTEBOOKS,
        NotebookFailure,
        NotebookInputError,
        run_notebook,
    )

    if name not in NOTEBOOKS:
        _fail(
            InputError(
                f"notebooks/{name}.py", "no such notebook", hint=f"one of {', '.join(NOTEBOOKS)}"
            )
        )
    config = _config()
    try:
        run_notebook(name, config)
    except NotebookInputError as exc:
        typer.echo(exc.message, err=True)
        typer.echo(f"see the executed notebook: {exc.executed}", err=True)
        sys.stderr.write(exc.kernel_log)
        raise typer.Exit(code=1) from None
    except NotebookFailure as exc:
        typer.echo(exc.message, err=True)
        typer.echo(
            f"see the executed notebook for the traceback: {exc.executed} "
            "(a bug or an input the design check missed: please report it with that file)",
            err=True,
        )
        raise typer.Exit(code=1) from None


def _user_panel(file: list[Path], map: Path | None, config):
    """A user's yearbook file(s) through the ingest of ``analysis ingest`` and the design check:
    (panel, design check); an ``InputError`` when it cannot be read or nothing can be estimated."""
    from analysis.data.design import check_design, require_estimable
    from analysis.data.ingest import ingest_file
    from analysis.data.ingest.cli import _master, _treatment_table

    master = _master()
    table = _treatment_table(master, config.as_dict())
    source = file[0] if len(file) == 1 else file
    result = ingest_file(
        source,
        master,
        table,
        column_map=map,
        first_year=config.panel.first_year,
        last_year=config.panel.last_year,
    )
    check = check_design(
        result.panel,
        min_control_share=config.panel.min_control_share,
        wild_cluster=config.notebooks.robustness.wild_cluster,
        source="file",
    )
    require_estimable(check, " ".join(paths.display_path(f) for f in file))
    return result.panel, check


@app.command("check")
def check_cmd(
    file: list[Path] = typer.Argument(
        ..., help="Your yearbook file(s) or folder, as for `analysis ingest`"
    ),
    map: Path | None = typer.Option(None, "--map", help="YAML column map (see data/README.md)"),
) -> None:
    """Say what the study will do with your data (years, cities, cohorts, controls, estimators and
    the reason for every skip) without writing anything; exit 1 when nothing can be estimated."""
    config = _config()
    try:
        _, check = _user_panel(file, map, config)
    except InputError as exc:
        _fail(exc)
    typer.echo(check.to_markdown())


def _processed_panel(path: Path, config):
    """The processed panel at ``path`` (PANEL_SCHEMA, one-line errors) and its design check."""
    import pandas as pd

    from analysis.data.design import check_design, require_estimable
    from analysis.data.schema import PANEL_SCHEMA
    from analysis.errors import validate_frame

    label = paths.display_path(path)
    if not path.is_file():
        raise InputError(
            label,
            "no processed panel",
            hint="run `dvc repro panel` first, or give your yearbook file with --file",
        )
    frame = validate_frame(pd.read_csv(path, dtype={"city_code": str}), PANEL_SCHEMA, label)
    check = check_design(
        frame,
        min_control_share=config.panel.min_control_share,
        wild_cluster=config.notebooks.robustness.wild_cluster,
    )
    require_estimable(check, label)
    return frame, check


@app.command("power")
def power_cmd(
    file: list[Path] | None = typer.Option(
        None, "--file", help="Your yearbook file(s) or folder, as for `analysis check` (repeat)"
    ),
    map: Path | None = typer.Option(None, "--map", help="YAML column map (see data/README.md)"),
    panel: Path = typer.Option(
        paths.PROCESSED / "panel.csv", "--panel", help="Processed panel (used without --file)"
    ),
    reps: int = typer.Option(100, "--reps", min=10, help="Simulated panels"),
    seed: int = typer.Option(20240601, "--seed"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="joblib workers"),
    treatment: list[str] = typer.Option(["pilot", "rail"], "--treatment", help="pilot, rail"),
    estimator: list[str] = typer.Option(
        ["twfe", "cs", "sa", "bjs", "headline"],
        "--estimator",
        help="twfe, cs, sa, bjs, headline (BJS at the study's clusters, t(G-1))",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder to write power.json and power_mde.csv into"
    ),
) -> None:
    """Minimum detectable effects (80% power, 5% two-sided) of each estimator and treatment on
    your data (--file) or the processed panel: simulated untreated outcomes from a model
    calibrated to the panel, effects injected on the actual treatment timing (constant, and
    growing with years since treatment). MDEs in log points of exports (MC standard errors)."""
    from analysis.studies.power import ESTIMATORS, format_table, power_study, write_power

    config = _config()
    for value, allowed, what in (
        (treatment, ("pilot", "rail"), "treatment"),
        (estimator, ESTIMATORS, "estimator"),
    ):
        bad = [v for v in value if v not in allowed]
        if bad:
            _fail(InputError(f"--{what}", f"unknown {what} {bad[0]!r}", hint=", ".join(allowed)))
    try:
        data, check = _user_panel(file, map, config) if file else _processed_panel(panel, config)
    except InputError as exc:
        _fail(exc)
    result = power_study(
        data, check, tuple(treatment), tuple(estimator), n_reps=reps, seed=seed, n_jobs=jobs,
        control_rule=config.panel.control_rule, backend=paths.plain(config.parallel),
    )  # fmt: skip
    cal = result["calibration"]
    typer.echo(
        f"{cal['cities']} cities, {cal['years'][0]}-{cal['years'][1]}, {cal['rows']} city-years; "
        f"calibrated: residual SD {cal['sigma']:.3f}, AR(1) {cal['rho']:.2f}, province-year SD "
        f"{cal['group_sd']:.3f}, city-effect SD {cal['unit_sd']:.2f}; {reps} simulated panels"
    )
    typer.echo(format_table(result))
    typer.echo(
        "MDE: smallest true overall ATT (log points) rejected with 80% probability at 5%; "
        "(MC SE); size at 0: rejection rate without an effect"
    )
    if out is not None:
        for path in write_power(result, out):
            typer.echo(f"wrote {path}")


@app.command("report")
def report_cmd() -> None:
    """Render the report in English and Chinese (HTML and PDF) from the results and figures."""
    from analysis.report.build import build_reports

    for path in build_reports(_config().as_dict()):
        typer.echo(str(path))


@app.command("exp", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exp_cmd(ctx: typer.Context) -> None:
    """``dvc exp run ARGS`` that keeps params.yaml's layout (comments, inline lists) and restores
    it when the experiment fails (see analysis.experiment)."""
    from analysis.experiment import run_experiment

    raise typer.Exit(code=run_experiment(list(ctx.args), paths.PARAMS))


def main() -> None:  # pragma: no cover
    sys.exit(app())


# --- results commands ---
from analysis.report.verify import publish_command, verify_command

app.command(
    "verify",
    help="Compare a fresh run's results with the published ones; non-zero exit on a mismatch.",
)(verify_command)
app.command(
    "publish", help="Copy this run's results files to results/published (the reference for verify)."
)(publish_command)

# --- ingest commands ---
from analysis.data.ingest.cli import ingest, template

app.command()(ingest)
app.command()(template)
