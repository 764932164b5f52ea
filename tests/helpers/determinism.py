"""Are two runs of the pipeline byte-identical? The results writers (results_io), the figure style
(fixed metadata) and PYTHONHASHSEED=0 aim for identical bytes across runs on one machine; this
lists the products where that fails, so nondeterminism is caught where it starts."""

from __future__ import annotations

import filecmp
from pathlib import Path

DEFAULT_PATTERNS: tuple[str, ...] = (
    "results/*.json",
    "tables/*.csv",
    "figures/*.png",
    "figures/*.svg",
    "metrics/*.json",
    "plots/*.csv",
)


def _files(root: Path, patterns: tuple[str, ...]) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for pattern in patterns
        for p in root.glob(pattern)
        if p.is_file()
    }


def compare_runs(
    dir_a: Path | str, dir_b: Path | str, patterns: tuple[str, ...] = DEFAULT_PATTERNS
) -> list[str]:
    """Relative paths (sorted) of the files matching ``patterns`` whose bytes differ between the two
    output directories, including files present in only one of them. Empty list = deterministic."""
    dir_a, dir_b = Path(dir_a), Path(dir_b)
    in_a, in_b = _files(dir_a, patterns), _files(dir_b, patterns)
    differ = in_a ^ in_b
    differ.update(
        rel for rel in in_a & in_b if not filecmp.cmp(dir_a / rel, dir_b / rel, shallow=False)
    )
    return sorted(differ)
