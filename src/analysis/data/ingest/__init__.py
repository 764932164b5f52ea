"""Real-data path: a user's yearbook file(s) (CSV/XLSX/XLS, a folder or a list) -> the processed panel.

``ingest_file`` does the work and returns the panel plus a validation report;
``ingest_for_pipeline`` is what ``analysis.data.build.build_panel`` calls when params.yaml says
``data: {source: file}``. Column names, units and provenance: data/README.md.
"""

from __future__ import annotations

import pandas as pd

from analysis import config as paths
from analysis.data.ingest.core import IngestResult, ingest_file
from analysis.data.ingest.outputs import report_path, write_atomic
from analysis.data.ingest.sources import input_files
from analysis.errors import InputError

__all__ = [
    "IngestResult",
    "ingest_file",
    "ingest_for_pipeline",
    "input_files",
    "report_path",
    "write_atomic",
]


def ingest_for_pipeline(
    params: dict, master: pd.DataFrame, table: pd.DataFrame, write_report: bool = True
) -> pd.DataFrame | IngestResult:
    """The panel from ``params['data']['file']`` (relative to the project root), for
    ``analysis.data.build.build_panel``.

    ``data.file`` is a file, a folder (every CSV/XLSX/XLS in it) or a list of files. With
    ``write_report`` the validation report is written to data/processed/panel_report.md (beside the
    default panel) and the panel returned; without it the whole :class:`IngestResult` is returned
    and the caller writes the report (the panel stage does, after its design check, so a panel on
    which nothing can be estimated leaves no output).
    """
    data = params["data"]
    if not data.get("file"):
        raise InputError(
            "params.yaml",
            "data.source is 'file' but data.file is empty",
            hint="give data/raw/<your file or folder>",
        )
    column_map = data.get("column_map")
    panel_years = params.get("panel", {})
    spec = data["file"]
    source = (
        [paths.ROOT / f for f in spec] if isinstance(spec, (list, tuple)) else paths.ROOT / spec
    )
    result = ingest_file(
        source,
        master,
        table,
        column_map=paths.ROOT / column_map if column_map else None,
        first_year=panel_years.get("first_year"),
        last_year=panel_years.get("last_year"),
    )
    if not write_report:
        return result
    write_atomic({report_path(paths.PROCESSED / "panel.csv"): result.report})
    return result.panel
