"""`analysis ingest` and `analysis template`: registered on the project CLI (analysis.cli)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from analysis import config as paths
from analysis.errors import InputError


class Lang(str, Enum):
    zh = "zh"
    en = "en"


class Format(str, Enum):
    csv = "csv"
    xlsx = "xlsx"


def _master() -> pd.DataFrame:
    """The city master the pipeline wrote (data/interim/cities.csv), or built afresh (~10 s)."""
    from analysis.data import build as pipeline
    from analysis.data import cities

    path = paths.INTERIM / "cities.csv"
    return pipeline.read_cities(path) if path.is_file() else cities.build_city_master()


def _treatment_table(master: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Per-city treatment timing; user overrides (params treatment.*_file) pass the same pandera checks."""
    from analysis.data import reference, treatments

    tp = params.get("treatment", {}) or {}

    def source(key: str, default: str) -> Path:
        return paths.ROOT / tp[key] if tp.get(key) else paths.REFERENCE / default

    zones = reference.load_pilot_zones(source("pilot_zones_file", "cbec_pilot_zones.csv"))
    links = reference.load_rail_links(source("rail_links_file", "rail_links.csv"))
    return treatments.city_treatments(
        master, zones, links, tp.get("include_county_units", True), tp.get("year_rule", "approval")
    )


def ingest(
    file: Annotated[
        list[Path],
        typer.Argument(
            help="Yearbook export(s): CSV (UTF-8/GBK), XLSX or XLS; one file, several files or a folder of annual "
            "tables; long (a year column), annual (year in the file name or title) or wide (years as columns)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Processed panel CSV to write (report: <out>_report.md).")
    ],
    map: Annotated[
        Path | None, typer.Option("--map", help="YAML column map (columns:, units:, sheet:).")
    ] = None,
) -> None:
    """Check yearbook file(s) and write the processed panel plus a validation report."""
    from analysis.config import load_params
    from analysis.data.ingest import ingest_file, report_path, write_atomic

    try:
        params = load_params(paths.PARAMS) if paths.PARAMS.is_file() else {}
        master = _master()
        table = _treatment_table(master, params)
        window = params.get("panel", {}) or {}
        files = (
            [file] if isinstance(file, (str, Path)) else list(file)
        )  # also when called as a function
        source = files[0] if len(files) == 1 else files
        result = ingest_file(
            source,
            master,
            table,
            column_map=map,
            first_year=window.get("first_year"),
            last_year=window.get("last_year"),
        )
        report = report_path(out)
        write_atomic({out: result.panel, report: result.report})
    except InputError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    panel = result.panel
    typer.echo(
        f"wrote {out}: {len(panel)} city-years, {panel['city_code'].nunique()} cities, "
        f"{panel['year'].min()}-{panel['year'].max()}; report {report}"
    )


def template(
    lang: Annotated[Lang, typer.Option("--lang", help="Header language.")] = Lang.zh,
    format: Annotated[Format, typer.Option("--format", help="File type.")] = Format.csv,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Default: data/raw/yearbook_template_<lang>.<format>"),
    ] = None,
) -> None:
    """Write a blank yearbook-style template that `analysis ingest` reads."""
    from analysis.data.ingest.template import write_template

    target = out or paths.RAW / f"yearbook_template_{lang.value}.{format.value}"
    write_template(target, lang.value, format.value)
    typer.echo(f"wrote {target}")
