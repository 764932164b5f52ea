"""Shared fixtures for the ingest tests: city master, treatment table, synthetic panel, CLI runner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from analysis import config as paths
from analysis.data import reference, synthetic, treatments
from analysis.data.cities import build_city_master


@pytest.fixture(scope="session")
def master() -> pd.DataFrame:
    return build_city_master()  # ~10 s: built once per session


@pytest.fixture(scope="session")
def table(master) -> pd.DataFrame:
    return treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )


@pytest.fixture(scope="session")
def synthetic_panel(master, table) -> pd.DataFrame:
    panel, _ = synthetic.simulate_panel(
        master, table, reference.load_national_exports(), synthetic.SyntheticDesign()
    )
    return panel


@pytest.fixture
def project(tmp_path, monkeypatch, master) -> Path:
    """A temporary project root with params.yaml (panel 2010-2023); the CLI reads the cached master."""
    import analysis.data.ingest.cli as ingest_cli

    root = tmp_path / "project"
    (root / "data" / "raw").mkdir(parents=True)
    params = {
        "data": {"source": "file", "file": "data/raw/yearbook.csv", "column_map": None},
        "panel": {"first_year": 2010, "last_year": 2023},
        "treatment": {"include_county_units": True, "year_rule": "approval"},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(paths, "ROOT", root)
    monkeypatch.setattr(paths, "PARAMS", root / "params.yaml")
    monkeypatch.setattr(paths, "PROCESSED", root / "data" / "processed")
    monkeypatch.setattr(paths, "RAW", root / "data" / "raw")
    monkeypatch.setattr(ingest_cli, "_master", lambda: master)
    return root


@pytest.fixture
def run_cli(project):
    """Invoke the ingest/template commands in-process, as the project CLI registers them."""
    from analysis.data.ingest.cli import ingest, template

    app = typer.Typer()
    app.command()(ingest)
    app.command()(template)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return run
