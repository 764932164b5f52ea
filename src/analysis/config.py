"""Project paths. Inputs (data/reference, data/raw) and products (data/interim, data/processed,
output/, reports/) are kept strictly apart."""

from __future__ import annotations

import os
from pathlib import Path

# ANALYSIS_ROOT lets the pipeline test run the whole DAG in a temporary copy of the project.
ROOT = Path(os.environ.get("ANALYSIS_ROOT", Path(__file__).resolve().parents[2])).resolve()
DATA = ROOT / "data"
REFERENCE = DATA / "reference"
RAW = DATA / "raw"
INTERIM = DATA / "interim"
PROCESSED = DATA / "processed"
OUTPUT = ROOT / "output"
FIGURES = OUTPUT / "figures"
TABLES = OUTPUT / "tables"
RESULTS = OUTPUT / "results"
NOTEBOOKS_OUT = OUTPUT / "notebooks"
REPORTS = ROOT / "reports"
PARAMS = ROOT / "params.yaml"


def load_params(path: Path | str | None = None) -> dict:
    """Return params.yaml as a nested dict."""
    import yaml

    with open(path or PARAMS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)
