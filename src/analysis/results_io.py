"""Results files: JSON with sorted keys and rounded floats, so two runs give identical bytes and
the report reads every number it prints from here.

Rounding rule (docs/architecture.md, "Same bytes on every machine"): the same computation gives
floats that differ in the last bits on another CPU (SIMD dispatch of NumPy's reductions and
transcendental functions, OpenBLAS kernels chosen per processor, BLAS thread counts); measured
across dispatch levels here, the differences are of order 1e-13 relative. Results are written with
``SIGNIFICANT`` significant digits (the report prints 3-4), so a last-bit difference changes a
written digit only when a value lies within that noise of a rounding boundary (probability about
1e-13 * 10**SIGNIFICANT per value). Figures are drawn from values rounded to ``PLOT_SIGNIFICANT``
digits (far below what a figure can show) for the same reason. The committed dvc.lock records
these rounded bytes; ``make verify`` compares numbers with tolerances.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIGNIFICANT = 7
PLOT_SIGNIFICANT = 4
DATA_SIGNIFICANT = 10
DIGITS = 10  # decimals below which a written float is indistinguishable from zero (p-value floors)


def round_significant(value: float, digits: int = SIGNIFICANT) -> float:
    """``value`` with ``digits`` significant digits, by Python's correctly rounded decimal
    formatting (no log10 that could differ across CPUs). Exact zeros and non-finite values pass."""
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}") + 0.0  # + 0.0: no negative zero


def round_floats(value: Any, digits: int) -> Any:
    """Floats inside ``value`` (DataFrames, Series, arrays, dicts, lists, scalars) rounded to
    ``digits`` significant digits (:func:`round_significant`); anything else unchanged."""
    if isinstance(value, pd.DataFrame):
        out = value.copy()
        for col in out.columns:
            if pd.api.types.is_float_dtype(out[col]):
                out[col] = round_floats(out[col], digits)
        return out
    if isinstance(value, pd.Series):
        if pd.api.types.is_float_dtype(value):
            return value.map(lambda v: round_significant(v, digits)).astype(value.dtype)
        return value
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        flat = [round_significant(v, digits) for v in value.ravel().tolist()]
        return np.asarray(flat, dtype=value.dtype).reshape(value.shape)
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(round_floats(v, digits) for v in value)
    if isinstance(value, float | np.floating):
        return round_significant(value, digits)
    return value


def round_for_plotting(value: Any) -> Any:
    """:func:`round_floats` at ``PLOT_SIGNIFICANT`` digits: figures drawn from rounded values have
    the same bytes on every CPU (see the module docstring)."""
    return round_floats(value, PLOT_SIGNIFICANT)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _clean(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return _clean(value.to_dict())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else round_significant(v)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(path: Path | str, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_clean(payload), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return path


def read_json(path: Path | str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_table(frame: pd.DataFrame, path: Path | str, significant: int = SIGNIFICANT) -> Path:
    """CSV with a fixed float format (deterministic bytes): ``significant`` digits, by default
    the rule of the JSON results (module docstring). The data layer writes its panels with
    ``DATA_SIGNIFICANT``: they hold the user's numbers, which yearbooks print with up to 10 digits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format=f"%.{significant}g", lineterminator="\n")
    return path


def file_md5(path: Path | str) -> str | None:
    path = Path(path)
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


def write_runtime(
    path: Path | str,
    stage: str,
    seconds: float,
    products: list[Path],
    root: Path | str,
    slowest: list[dict] | None = None,
) -> Path:
    """The wall-clock time of a stage, with the md5 of the products it wrote (paths relative to
    ``root``): a run record, not a result (it differs every run, so it is no DVC output). The
    fingerprints let the report tell a runtime of the run that made the current products from one
    left by another run (after a checkout or a cached stage restored other products, issue 17).
    ``slowest``: the stage's slowest notebook cells (where its time goes)."""
    root = Path(root)
    fingerprints = {
        Path(p).resolve().relative_to(root.resolve()).as_posix(): file_md5(p) for p in products
    }
    record = {"stage": stage, "seconds": seconds, "products": fingerprints}
    if slowest:
        record["slowest_cells"] = slowest
    return write_json(path, record)


def runtime_is_current(record: dict, root: Path | str) -> bool:
    """Do the products a runtime record fingerprints still hold the bytes that run wrote?"""
    products = record.get("products")
    if not products:
        return False
    return all(file_md5(Path(root) / rel) == md5 for rel, md5 in products.items())
