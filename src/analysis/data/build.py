"""Pure functions behind the pipeline's data stages (the CLI and dvc.yaml call these)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from analysis.data import cities
from analysis import config as paths
from analysis.data import reference
from analysis import results_io
from analysis.data import synthetic
from analysis.data import treatments
from analysis.config import load_params


def build_cities(out: Path) -> pd.DataFrame:
    master = cities.build_city_master()
    results_io.write_table(master, out)
    return master


def read_cities(path: Path | None = None) -> pd.DataFrame:
    return pd.read_csv(path or paths.INTERIM / "cities.csv", dtype={"city_code": str, "province_code": str})


def build_treatments(master_path: Path, out: Path, params: dict) -> pd.DataFrame:
    master = read_cities(master_path)
    tp = params["treatment"]
    zones = reference.load_pilot_zones(_override(tp.get("pilot_zones_file"), "cbec_pilot_zones.csv"))
    links = reference.load_rail_links(_override(tp.get("rail_links_file"), "rail_links.csv"))
    table = treatments.city_treatments(master, zones, links, tp["include_county_units"], tp["year_rule"])
    results_io.write_table(table, out)
    return table


def _override(user_file: str | None, default: str) -> Path:
    """A user's extended treatment table (in data/raw) replaces the committed one when given."""
    return paths.ROOT / user_file if user_file else paths.REFERENCE / default


def read_treatments(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"city_code": str})


def build_panel(master_path: Path, treatments_path: Path, out: Path, truth_out: Path, params: dict) -> pd.DataFrame:
    """Write the processed panel (and the truth JSON) from the configured data source."""
    master = read_cities(master_path)
    table = read_treatments(treatments_path)
    source = params["data"]["source"]
    if source == "synthetic":
        design = synthetic.SyntheticDesign.from_params(params)
        panel, truth = synthetic.simulate_panel(master, table, reference.load_national_exports(), design)
    elif source == "file":
        from analysis.data.ingest import ingest_for_pipeline  # the real-data path (issue: real data)

        panel = ingest_for_pipeline(params, master, table)
        truth = {"data_source": "file", "note": "User-supplied data: no known truth."}
    else:
        raise ValueError(f"params.yaml data.source must be 'synthetic' or 'file', not {source!r}")
    results_io.write_table(panel, out)
    results_io.write_json(truth_out, truth)
    if source == "synthetic":  # the file source writes its validation report beside the panel
        _write_synthetic_report(panel, out.with_name("panel_report.md"))
    return panel


def _write_synthetic_report(panel: pd.DataFrame, path: Path) -> None:
    counts = panel.groupby("year").agg(cities=("city_code", "nunique"), exports_usd_bn=("exports_usd_mn", "sum"))
    lines = [
        "# Panel report: SYNTHETIC data",
        "",
        "Calibrated simulation on the real city list and treatment dates (src/analysis/data/synthetic.py);",
        "no missing cells by construction. City-years by year and total exports (USD bn):",
        "",
        "| year | cities | exports_usd_bn |",
        "|---|---|---|",
        *[f"| {y} | {r.cities} | {r.exports_usd_bn / 1000:.1f} |" for y, r in counts.iterrows()],
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def read_panel(path: Path | None = None) -> pd.DataFrame:
    """The processed panel with the dtypes of PANEL_SCHEMA."""
    from analysis.data.schema import PANEL_SCHEMA

    frame = pd.read_csv(path or paths.PROCESSED / "panel.csv", dtype={"city_code": str})
    return PANEL_SCHEMA.validate(frame)


@functools.lru_cache(maxsize=1)
def default_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(city master, treatment table, national exports) built in-process from the committed
    reference data with the default treatment coding: what simulations and tests need, without
    depending on a previous pipeline run (a fresh clone has no data/interim yet)."""
    master = cities.build_city_master()
    table = treatments.city_treatments(master, reference.load_pilot_zones(), reference.load_rail_links())
    return master, table, reference.load_national_exports()


def params_for(stage: str, params: dict | None = None) -> dict:
    params = params or load_params()
    return params.get("notebooks", {}).get(stage, {})
