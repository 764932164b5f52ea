"""Atomic writes: the panel and its report appear together, or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from analysis import results_io


def report_path(panel_path: Path | str) -> Path:
    """data/processed/panel.csv -> data/processed/panel_report.md"""
    panel_path = Path(panel_path)
    return panel_path.with_name(f"{panel_path.stem}_report.md")


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def write_atomic(files: dict[Path, object]) -> list[Path]:
    """Write each DataFrame (CSV, fixed float format) or str to a temp file beside its target, then
    rename all at the end; on any failure remove the temp files and leave the targets untouched."""
    temps: dict[Path, Path] = {}
    try:
        for target, content in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_beside(target)
            temps[target] = tmp
            if isinstance(content, pd.DataFrame):
                results_io.write_table(content, tmp, results_io.DATA_SIGNIFICANT)
            else:
                tmp.write_text(str(content), encoding="utf-8")
        for target, tmp in temps.items():
            os.replace(tmp, target)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    return list(files)
