"""The layers of src/analysis import only downwards: data -> did -> figures -> studies -> report.

config, errors and results_io are the base every layer may use. An estimator's ``plot()`` method may
import a figure function inside the method (results delegate their plots to figures/)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "analysis"
ORDER = ["base", "data", "did", "figures", "studies", "report", "cli"]
BASE = {"config", "errors", "results_io", "pvalues", "parallel", "__init__", "__main__"}


def layer(module: str) -> str:
    head = module.split(".")[1] if module.count(".") else "base"
    if head in BASE:
        return "base"
    return head if head in ORDER else "cli"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts)


def imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported analysis module, imported at module level?, line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("analysis."):
                out.append((name, id(node) in top, node.lineno))
    return out


def test_layers_import_only_downwards():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        mine = module_name(path)
        here = layer(mine)
        if here == "cli":
            continue
        for target, module_level, line in imports(path):
            there = layer(target)
            if ORDER.index(there) <= ORDER.index(here):
                continue
            if here == "did" and there == "figures" and not module_level:
                continue  # Result.plot() delegates to figures/
            bad.append(f"{path.relative_to(SRC.parent)}:{line} ({here}) imports {target} ({there})")
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_did_has_no_paths_and_no_project_columns():
    """General econometrics: no file system, no project column names."""
    offenders = []
    for path in sorted((SRC / "did").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("analysis.config", "read_csv(", "log_exports", "pilot_year", "city_code"):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert not offenders, offenders
