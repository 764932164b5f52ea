"""Check a fresh run against the published results, number by number.

The published results (``results/published/``: a committed copy of ``output/results/*.json``,
``output/tables/*.csv`` and ``output/metrics/*.json``) are what the report and the paper quote.
``verify`` flattens every file to ``<file>:<dotted key>`` entries and compares each number with a
tolerance ``|fresh - published| <= abs + rel * |published|`` (the rule of ``numpy.isclose``), so
last-bit noise across BLAS builds passes while a changed estimate does not. Keys missing on either
side and changed non-numeric values (labels, data source) are failures too.

This follows the AEA Data Editor's guidance that a replication package must let a reader check
that the code reproduces the numbers in the manuscript (AEA, "Data and Code Availability Policy").

Key format (match tolerance patterns against it with fnmatch, case-sensitive):
  ``results/pilot_zones.json:event_study.3.estimate``   JSON: file, then the dotted path (list index)
  ``tables/twfe_joint.csv:2.std_error``                 CSV: file, then data row (0-based) and column
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

RESULT_PATTERNS: tuple[str, ...] = ("results/*.json", "tables/*.csv", "metrics/*.json")


@dataclass(frozen=True)
class Tolerance:
    """Pass when ``|fresh - published| <= abs + rel * |published|``."""

    abs: float = 1e-8
    rel: float = 1e-6

    def bound(self, published: float) -> float:
        return self.abs + self.rel * abs(published)


DEFAULT_TOLERANCE = Tolerance()
# Resampling p-values (wild bootstrap, randomization inference) move in steps of 1/B when a library
# or platform changes the draw order, so they get a looser bound than point estimates.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "*boot*p_value*": Tolerance(abs=5e-3, rel=0.0),
    "*randomization*p_value*": Tolerance(abs=5e-3, rel=0.0),
    "*permutation*p_value*": Tolerance(abs=5e-3, rel=0.0),
}

_COLUMNS = ["key", "status", "published", "fresh", "abs_diff", "tolerance", "ok"]
_FAIL_STATUSES = ("mismatch", "missing_in_fresh", "missing_in_published", "non_numeric")


# --- flattening -----------------------------------------------------------------------------------


def _flatten_json(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix] = "{}"
        for k, v in value.items():
            _flatten_json(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        if not value:
            out[prefix] = "[]"
        for i, v in enumerate(value):
            _flatten_json(v, f"{prefix}.{i}" if prefix else str(i), out)
    else:
        out[prefix] = value


def _cell(text: str) -> Any:
    """A CSV cell as a number when it parses as one (empty -> None, like NaN in the JSON files)."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def flatten_file(path: Path, name: str) -> dict[str, Any]:
    """Entries ``{"<name>:<key>": value}`` of one JSON or CSV results file."""
    out: dict[str, Any] = {}
    if path.suffix == ".json":
        flat: dict[str, Any] = {}
        _flatten_json(json.loads(path.read_text(encoding="utf-8")), "", flat)
        out = {f"{name}:{k}": v for k, v in flat.items()}
    elif path.suffix == ".csv":
        # csv, not pandas: the exact written text, no dtype inference turning ids into floats
        with path.open(newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                for col, text in row.items():
                    out[f"{name}:{i}.{col}"] = _cell(text if text is not None else "")
    else:
        raise ValueError(f"unsupported results file {path}")
    return out


def collect(directory: Path | str, patterns: tuple[str, ...] = RESULT_PATTERNS) -> dict[str, Any]:
    """Flatten every results file of a run directory (e.g. ``output/``) into one mapping."""
    directory = Path(directory)
    out: dict[str, Any] = {}
    for pattern in patterns:
        for path in sorted(directory.glob(pattern)):
            out.update(flatten_file(path, path.relative_to(directory).as_posix()))
    return out


# --- comparison -----------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def tolerance_for(key: str, tolerances: Mapping[str, Tolerance] | None = None) -> Tolerance:
    """The first pattern in ``tolerances`` (insertion order) matching ``key``; else the default."""
    for pattern, tol in (DEFAULT_TOLERANCES if tolerances is None else tolerances).items():
        if fnmatch.fnmatchcase(key, pattern):
            return tol if isinstance(tol, Tolerance) else Tolerance(*tol)
    return DEFAULT_TOLERANCE


def _compare(key: str, pub: Any, fresh: Any, tol: Tolerance) -> dict:
    row = {
        "key": key,
        "published": pub,
        "fresh": fresh,
        "abs_diff": math.nan,
        "tolerance": math.nan,
    }
    if _missing(pub) and _missing(fresh):
        return {**row, "status": "equal", "ok": True}
    if _is_number(pub) and _is_number(fresh):
        diff, bound = abs(float(fresh) - float(pub)), tol.bound(float(pub))
        if math.isinf(pub) or math.isinf(fresh):
            diff = 0.0 if pub == fresh else math.inf
        ok = diff <= bound
        return {
            **row,
            "abs_diff": diff,
            "tolerance": bound,
            "ok": ok,
            "status": ("equal" if diff == 0 else "within_tolerance") if ok else "mismatch",
        }
    if pub == fresh and type(pub) is type(fresh):
        return {**row, "status": "equal", "ok": True}
    # one side numeric, the other None/text, or two different labels
    status = "mismatch" if (_is_number(pub) or _is_number(fresh)) else "non_numeric"
    return {**row, "status": status, "ok": False}


@dataclass
class VerifyResult:
    """Outcome of ``verify``: one row per key compared (``table()``), ``ok`` when all passed."""

    rows: list[dict] = field(default_factory=list)
    published_dir: Path | None = None
    fresh_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r["ok"] for r in self.rows)

    def table(self, failures_only: bool = False) -> pd.DataFrame:
        """Columns key, status, published, fresh, abs_diff, tolerance (the bound), ok."""
        frame = pd.DataFrame(self.rows, columns=_COLUMNS)
        if failures_only:
            frame = frame[~frame["ok"].astype(bool)].reset_index(drop=True)
        return frame

    def counts(self) -> dict[str, int]:
        statuses = [r["status"] for r in self.rows]
        return {s: statuses.count(s) for s in ("equal", "within_tolerance", *_FAIL_STATUSES)}

    def summary(self) -> str:
        c = self.counts()
        verdict = "OK" if self.ok else "FAILED"
        lines = [
            f"verify {self.fresh_dir} against {self.published_dir}: {verdict}",
            f"  {len(self.rows)} values compared: {c['equal']} identical, {c['within_tolerance']} within tolerance",
            f"  {c['mismatch']} numbers outside tolerance, {c['non_numeric']} non-numeric differences",
            f"  {c['missing_in_fresh']} keys missing in the fresh run, {c['missing_in_published']} keys missing in the published results",
        ]
        if not self.rows:
            lines.append("  no results files found (nothing to verify counts as a failure)")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def verify(
    published_dir: Path | str,
    fresh_dir: Path | str,
    tolerances: Mapping[str, Tolerance | tuple[float, float]] | None = None,
    patterns: tuple[str, ...] = RESULT_PATTERNS,
) -> VerifyResult:
    """Compare every number of the published results with a fresh run's.

    ``tolerances`` maps fnmatch patterns over keys to ``Tolerance(abs, rel)`` (or ``(abs, rel)``
    tuples), first match wins; ``None`` uses ``DEFAULT_TOLERANCES``. Keys no pattern matches use
    ``DEFAULT_TOLERANCE`` (abs 1e-8 + rel 1e-6). Pass ``{}`` for the default on every key.
    """
    published, fresh = collect(published_dir, patterns), collect(fresh_dir, patterns)
    rows = []
    for key in sorted(published.keys() | fresh.keys()):
        if key not in fresh:
            rows.append(
                {
                    "key": key,
                    "status": "missing_in_fresh",
                    "published": published[key],
                    "fresh": None,
                    "abs_diff": math.nan,
                    "tolerance": math.nan,
                    "ok": False,
                }
            )
        elif key not in published:
            rows.append(
                {
                    "key": key,
                    "status": "missing_in_published",
                    "published": None,
                    "fresh": fresh[key],
                    "abs_diff": math.nan,
                    "tolerance": math.nan,
                    "ok": False,
                }
            )
        else:
            rows.append(_compare(key, published[key], fresh[key], tolerance_for(key, tolerances)))
    return VerifyResult(rows=rows, published_dir=Path(published_dir), fresh_dir=Path(fresh_dir))


# --- publishing -----------------------------------------------------------------------------------


def publish(
    fresh_dir: Path | str, published_dir: Path | str, patterns: tuple[str, ...] = RESULT_PATTERNS
) -> list[Path]:
    """Copy the results files of a run into the published directory; return the copied paths.

    Files matching ``patterns`` in ``published_dir`` that the run no longer writes are removed, so
    the published copy mirrors the run exactly (``verify`` then passes with zero differences).
    """
    fresh_dir, published_dir = Path(fresh_dir), Path(published_dir)
    sources = [p for pattern in patterns for p in sorted(fresh_dir.glob(pattern))]
    if not sources:
        raise FileNotFoundError(f"no results files ({', '.join(patterns)}) under {fresh_dir}")
    wanted = {p.relative_to(fresh_dir) for p in sources}
    for pattern in patterns:
        for stale in published_dir.glob(pattern):
            if stale.relative_to(published_dir) not in wanted:
                stale.unlink()
    copied = []
    for src in sources:
        dst = published_dir / src.relative_to(fresh_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append(dst)
    return copied


# --- command line (registered in analysis.cli) ----------------------------------------------------


def _anchor(path: Path) -> Path:
    """Relative paths are taken from the project root, like the pipeline's other commands."""
    from analysis import config as paths

    return path if path.is_absolute() else paths.ROOT / path


MAX_PRINTED = 50


def verify_command(
    published: Annotated[
        Path, typer.Option(help="Published results (committed), relative to the project root")
    ] = Path("results/published"),
    fresh: Annotated[
        Path, typer.Option(help="Output directory of a fresh run, relative to the project root")
    ] = Path("output"),
) -> None:
    """Compare a fresh run's numbers with the published results; exit 1 on any difference."""
    result = verify(_anchor(published), _anchor(fresh))
    failures = result.table(failures_only=True)
    if not failures.empty:
        with pd.option_context(
            "display.max_colwidth", 80, "display.width", 200, "display.precision", 10
        ):
            typer.echo(failures.head(MAX_PRINTED).to_string(index=False))
        if len(failures) > MAX_PRINTED:
            typer.echo(f"... and {len(failures) - MAX_PRINTED} more differences")
    typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(code=1)


def publish_command(
    fresh: Annotated[
        Path,
        typer.Option(help="Output directory of the run to publish, relative to the project root"),
    ] = Path("output"),
    published: Annotated[
        Path, typer.Option(help="Published results directory, relative to the project root")
    ] = Path("results/published"),
) -> None:
    """Copy the run's results (results/*.json, tables/*.csv, metrics/*.json) into the published directory."""
    try:
        copied = publish(_anchor(fresh), _anchor(published))
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    for path in copied:
        typer.echo(str(path))
    typer.echo(f"published {len(copied)} files; commit them to record the new reference results")
