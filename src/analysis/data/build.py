"""Pure functions behind the pipeline's data stages (the CLI and dvc.yaml call these)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from analysis import config as paths
from analysis import results_io
from analysis.config import Config
from analysis.data import cities, design, reference, synthetic, treatments


def build_cities(out: Path) -> pd.DataFrame:
    master = cities.build_city_master()
    results_io.write_table(master, out, results_io.DATA_SIGNIFICANT)
    return master


def read_cities(path: Path | None = None) -> pd.DataFrame:
    return pd.read_csv(
        path or paths.INTERIM / "cities.csv", dtype={"city_code": str, "province_code": str}
    )


def build_treatments(master_path: Path, out: Path, config: Config) -> pd.DataFrame:
    master = read_cities(master_path)
    tp = config.treatment
    zones_file = _override(tp.pilot_zones_file, "cbec_pilot_zones.csv")
    links_file = _override(tp.rail_links_file, "rail_links.csv")
    zones = reference.load_pilot_zones(zones_file)
    links = reference.load_rail_links(links_file)
    table = treatments.city_treatments(
        master,
        zones,
        links,
        tp.include_county_units,
        tp.year_rule,
        files=(paths.display_path(zones_file), paths.display_path(links_file)),
    )
    results_io.write_table(table, out, results_io.DATA_SIGNIFICANT)
    return table


def _override(user_file: str | None, default: str) -> Path:
    """A user's extended treatment table (in data/raw) replaces the committed one when given."""
    return paths.ROOT / user_file if user_file else paths.REFERENCE / default


def read_treatments(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"city_code": str})


def build_panel(
    master_path: Path, treatments_path: Path, out: Path, truth_out: Path, config: Config
) -> pd.DataFrame:
    """Write the processed panel (and the truth JSON) from the configured data source
    (``data.source`` is one of the two, checked when params.yaml was loaded)."""
    master = read_cities(master_path)
    table = read_treatments(treatments_path)
    source = config.data.source
    if source == "synthetic":
        design = synthetic.SyntheticDesign.from_config(config.synthetic, config.panel)
        tp = config.treatment
        # when effects start (synthetic.effective_timing) may differ from how the years are coded
        effect_start = synthetic.effect_start_table(
            master,
            reference.load_pilot_zones(_override(tp.pilot_zones_file, "cbec_pilot_zones.csv")),
            reference.load_rail_links(_override(tp.rail_links_file, "rail_links.csv")),
            design,
            tp.year_rule,
            tp.include_county_units,
        )
        panel, truth = synthetic.simulate_panel(
            master, table, reference.load_national_exports(), design, effect_start=effect_start
        )
    else:
        from analysis.data.ingest import (
            ingest_for_pipeline,  # the real-data path (issue: real data)
        )

        ingested = ingest_for_pipeline(config.as_dict(), master, table, write_report=False)
        panel = ingested.panel
        truth = {"data_source": "file", "note": "User-supplied data: no known truth."}
    # Decide what can be estimated before writing anything: a panel on which nothing can be
    # estimated stops here with one line instead of failing deep inside a notebook.
    check = check_panel_design(panel, config)
    if source != "synthetic":  # the ingest (validation) report beside the panel
        from analysis.data.ingest import report_path, write_atomic

        write_atomic({report_path(out): ingested.report})
    results_io.write_table(panel, out, results_io.DATA_SIGNIFICANT)
    results_io.write_json(truth_out, truth)
    write_design(check, out.parent)
    if source == "synthetic":  # the file source writes its validation report beside the panel
        _write_synthetic_report(panel, out.with_name("panel_report.md"))
    return panel


def check_panel_design(panel: pd.DataFrame, config: Config) -> design.DesignCheck:
    """Run the design check; raise the one-line error when nothing can be estimated."""
    spec = config.data.file
    label = (
        (" ".join(spec) if isinstance(spec, tuple) else spec)
        if config.data.source == "file"
        else "synthetic panel"
    )
    check = design.check_design(
        panel,
        min_control_share=config.panel.min_control_share,
        wild_cluster=config.notebooks.robustness.wild_cluster,
    )
    design.require_estimable(check, str(label))
    return check


def write_design(check: design.DesignCheck, folder: Path) -> list[Path]:
    """design.json (read by the studies and the report) and design.md (for people)."""
    md = folder / "design.md"
    md.write_text(check.to_markdown(), encoding="utf-8")
    return [results_io.write_json(folder / "design.json", check.to_dict()), md]


def read_design(path: Path | None = None) -> dict:
    return results_io.read_json(path or paths.PROCESSED / "design.json")


def _write_synthetic_report(panel: pd.DataFrame, path: Path) -> None:
    counts = panel.groupby("year").agg(
        cities=("city_code", "nunique"), exports_usd_bn=("exports_usd_mn", "sum")
    )
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
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    return master, table, reference.load_national_exports()
