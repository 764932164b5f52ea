"""dvc.yaml's deps cover the code each stage runs: its static import closure.

DVC reruns a stage only when one of its declared deps changes, so a module a stage imports but does
not declare is a stale-result bug (issue 10: `CONTROLS` edited, `dvc repro` reran nothing). This
computes, for every stage, the ``analysis.*`` modules it can execute, statically with ``ast``:

* ``analysis <command>``: cli.py and the closure of its module-level imports (they run for every
  command), plus the imports inside that command's function (or, for a command defined in another
  module, that whole module);
* ``analysis notebook NAME``: the same for the ``notebook`` command (the runner), plus the imports in
  the notebook's code (``notebooks/NAME.py`` in jupytext percent format, else the code cells of
  ``notebooks/NAME.ipynb``).

Imports are followed transitively, including function-level ones (lazy imports run too), and a
package import counts its ``__init__.py``. A dep covers a file when it is the file or a folder
above it. Over-approximation (a function-level import that a stage never reaches) only costs a
rerun; under-approximation serves stale numbers, hence the conservative rule.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import shlex
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "analysis"


# --- static import closure -------------------------------------------------------------------------


def module_file(module: str) -> Path | None:
    """src/analysis/a/b.py or src/analysis/a/b/__init__.py for ``analysis.a.b``; None otherwise."""
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _nodes(tree: ast.AST, into_functions: bool):
    """ast.walk, optionally without entering function bodies (module-level code only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if into_functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(ast.iter_child_nodes(node))


def _imported_modules(
    tree: ast.AST, current: str | None = None, is_package: bool = False, into_functions: bool = True
) -> set[str]:
    """Every ``analysis.*`` module named by an import anywhere in ``tree`` (function bodies too,
    unless ``into_functions`` is false); ``from analysis.x import y`` names analysis.x and, when y
    is a submodule, analysis.x.y."""
    found: set[str] = set()
    for node in _nodes(tree, into_functions):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module
                if current is None:
                    continue
                parts = current.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (  # importlib.import_module("analysis.x") with a literal name
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _with_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@cache
def _direct_imports(module: str) -> frozenset[str]:
    path = module_file(module)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return frozenset(_imported_modules(tree, module, path.name == "__init__.py"))


def import_closure(modules: set[str]) -> set[Path]:
    """Files (relative to the project root) of ``modules``, their parent packages and everything
    they import, transitively. Names that are attributes, not modules, resolve to no file."""
    seen: set[str] = set()
    todo = [p for m in modules for p in _with_parents(m)]
    while todo:
        module = todo.pop()
        if module in seen or module_file(module) is None:
            continue
        seen.add(module)
        todo.extend(p for m in _direct_imports(module) for p in _with_parents(m))
    return {module_file(m).relative_to(ROOT) for m in seen}


# --- what a stage runs -----------------------------------------------------------------------------


@cache
def cli_commands() -> dict[str, tuple[str, frozenset[str]]]:
    """CLI command name -> (module defining its function, analysis modules that function imports)."""
    import typer.main

    from analysis.cli import app

    commands = {}
    for info in app.registered_commands:
        func = info.callback
        name = info.name or typer.main.get_command_name(func.__name__)
        body = ast.parse(textwrap.dedent(inspect.getsource(func)))
        commands[name] = (func.__module__, frozenset(_imported_modules(body, func.__module__)))
    return commands


def notebook_source(name: str) -> Path:
    """The notebook's source: jupytext notebooks/NAME.py if present, else notebooks/NAME.ipynb."""
    py = ROOT / "notebooks" / f"{name}.py"
    return py if py.is_file() else ROOT / "notebooks" / f"{name}.ipynb"


def notebook_code(path: Path) -> str:
    """Python text of a notebook: a jupytext .py file as is (magics are commented out there), or
    the code cells of an .ipynb without IPython magics and shell escapes."""
    if path.suffix == ".py":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines += [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


# Stages that run an external tool, not project code (no import closure): the environment stage.
EXTERNAL_TOOLS = {"uv"}


def stage_command(cmd: str | list) -> list[str]:
    """The stage's command after ``analysis`` (or ``python -m analysis``), e.g. ['notebook', 'x'];
    [] for an external tool."""
    words = shlex.split(cmd if isinstance(cmd, str) else " && ".join(cmd))
    if words[:1] == [PACKAGE]:
        return words[1:]
    if len(words) > 2 and words[1:3] == ["-m", PACKAGE]:
        return words[3:]
    if words[0] in EXTERNAL_TOOLS:
        return []
    raise AssertionError(f"stage command {cmd!r} does not run `analysis`: extend this test")


def stage_code(stage: dict) -> set[Path]:
    """Files of the code a stage runs (its static import closure), relative to the project root."""
    words = stage_command(stage["cmd"])
    if not words:
        return set()
    commands = cli_commands()
    assert words[0] in commands, f"`analysis {words[0]}` is not a CLI command"
    module, imports = commands[words[0]]
    # cli.py runs its module-level code for every command, but only the called command's body.
    cli = module_file(f"{PACKAGE}.cli")
    toplevel = _imported_modules(ast.parse(cli.read_text(encoding="utf-8")), into_functions=False)
    entry = {*toplevel, *imports}
    if module != f"{PACKAGE}.cli":
        entry.add(module)
    files = import_closure(entry) | {cli.relative_to(ROOT)}
    if words[0] == "notebook":
        source = notebook_source(words[1])
        files.add(source.relative_to(ROOT))
        files |= import_closure(_imported_modules(ast.parse(notebook_code(source))))
    return files


def missing_deps(stages: dict) -> list[tuple[str, str]]:
    """(stage, file) for every file of a stage's code that none of its deps covers."""
    missing = []
    for name, stage in stages.items():
        deps = [Path(str(d)).as_posix().rstrip("/") for d in stage.get("deps", [])]
        for file in sorted(stage_code(stage)):
            rel = file.as_posix()
            if not any(rel == d or rel.startswith(d + "/") for d in deps):
                missing.append((name, rel))
    return missing


@pytest.fixture(scope="module")
def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


# --- the checks ------------------------------------------------------------------------------------


def test_deps_cover_each_stages_import_closure(stages):
    missing = missing_deps(stages)
    assert not missing, "dvc.yaml misses modules the stage runs:\n" + "\n".join(
        f"  stage {s!r}: add {f} (or a folder above it) to its deps" for s, f in missing
    )


def _out_paths(stage: dict) -> set[str]:
    return {
        next(iter(o)) if isinstance(o, dict) else o
        for key in ("outs", "metrics", "plots")
        for o in stage.get(key, [])
    }


def test_every_dep_exists(stages):
    """A dep is a committed file or folder, or a product of another stage (under it)."""
    made = set().union(*(_out_paths(st) for st in stages.values()))
    absent = [
        (s, d)
        for s, st in stages.items()
        for d in st.get("deps", [])
        if not (ROOT / d).exists() and not any(m == d or m.startswith(d + "/") for m in made)
    ]
    assert not absent, f"deps that do not exist (stale paths): {absent}"


def test_computing_stages_depend_on_the_environment(stages):
    """Every stage that runs project code reads the environment record, so a new lock reruns it."""
    lacking = [
        s
        for s, st in stages.items()
        if stage_command(st["cmd"]) and "data/interim/environment.txt" not in st.get("deps", [])
    ]
    assert not lacking, f"stages without data/interim/environment.txt in their deps: {lacking}"


def test_a_planted_missing_dep_is_caught(stages):
    """Removing a dep that covers part of a stage's code must fail the check, naming stage and file."""
    planted = copy.deepcopy(stages)
    # results_io writes every results file: the report reads them through it, notebooks write them.
    for stage, dep in (
        ("report", "src/analysis/results_io.py"),
        ("pilot_zones", "src/analysis/did"),
    ):
        assert dep in planted[stage]["deps"], f"{stage} should list {dep}"
        planted[stage]["deps"].remove(dep)
    missing = missing_deps(planted)
    assert ("report", "src/analysis/results_io.py") in missing
    assert ("pilot_zones", "src/analysis/did/twfe.py") in missing
    assert {s for s, _ in missing} == {"report", "pilot_zones"}


def test_closure_follows_function_level_and_relative_imports(tmp_path):
    code = "def f():\n    from analysis.did import twfe\n    from .x import y\n"
    found = _imported_modules(ast.parse(code), "analysis.studies.binary")
    assert {
        "analysis.did",
        "analysis.did.twfe",
        "analysis.studies.x",
        "analysis.studies.x.y",
    } <= found
    closure = import_closure({"analysis.did.twfe"})
    assert (
        Path("src/analysis/did/__init__.py") in closure
        and Path("src/analysis/__init__.py") in closure
    )


def test_notebook_sources_of_both_formats_are_read(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["import analysis.nothing"]},
            {
                "cell_type": "code",
                "source": ["%matplotlib inline\n", "from analysis.did import fe\n"],
            },
        ]
    }
    ipynb = tmp_path / "x.ipynb"
    ipynb.write_text(json.dumps(nb))
    text = tmp_path / "x.py"
    text.write_text(
        "# %% [markdown]\n# import analysis.nothing\n# %%\nfrom analysis.did import fe\n"
    )
    for path in (ipynb, text):
        assert _imported_modules(ast.parse(notebook_code(path))) == {
            "analysis.did",
            "analysis.did.fe",
        }


def test_stages_declare_their_notebook_source(stages):
    for name, stage in stages.items():
        words = stage_command(stage["cmd"])
        if words[:1] == ["notebook"]:
            source = notebook_source(words[1]).relative_to(ROOT).as_posix()
            assert source in stage["deps"], f"stage {name!r} must list {source} in its deps"


def test_notebook_stages_declare_every_parameter_they_receive():
    """A parameter papermill injects into a notebook must be a declared param of its stage, or a
    change of it would not rerun the notebook (``lang``, the display language, included)."""
    from analysis.config import load_config
    from analysis.studies.runner import COMMON, EXTRA

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    config = load_config()
    missing = []
    for name in EXTRA.keys() | {"overview", "pilot_zones", "rail_links", "network_coverage"}:
        declared = stages[name].get("params", [])

        def covered(key: str, declared=declared) -> bool:
            return any(key == d or key.startswith(d + ".") for d in declared)

        assert covered(f"notebooks.{name}"), name
        for key in EXTRA.get(name, {}):
            dotted = {
                "synthetic": "synthetic",
                "first_year": "panel.first_year",
                "last_year": "panel.last_year",
                "year_rule": "treatment.year_rule",
                "min_control_share": "panel.min_control_share",
                "control_rule": "panel.control_rule",
                "backend": "parallel",
                "clusters": ("notebooks.pilot_zones.cluster", "notebooks.rail_links.cluster"),
            }[key]
            for one in (dotted,) if isinstance(dotted, str) else dotted:
                if not covered(one):
                    missing.append(f"{name}: {one}")
    assert set(COMMON) - {"lang"} <= {
        "panel_path",
        "truth_path",
        "cities_path",
        "treatments_path",
        "output_dir",
    }
    assert config.report.lang in ("en", "zh")
    assert not missing, missing


def _stale_lock_entries(status: dict) -> list[str]:
    """Deps of committed inputs (code, notebooks, reference data, the lock files, params) that
    dvc.lock records with other contents than the working tree has; products of earlier stages
    (data/interim, data/processed, output) are ignored: a fresh clone has none."""
    products = ("data/interim/", "data/processed/", "output/")
    stale = []
    for stage, entries in status.items():
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for path, change in entry.get("changed deps", {}).items():
                if isinstance(change, dict):  # params.yaml: {key: change}
                    stale += [f"{stage}: params {key} {how}" for key, how in change.items()]
                elif change == "modified" and not path.startswith(products):
                    stale.append(f"{stage}: {path} modified")
    return stale


def test_committed_dvc_lock_matches_the_sources():
    """dvc.lock must record the code, notebooks, data and params as they are: a lock left stale by
    a commit would make a fresh clone's `make reproduce` rewrite it (dirty git) and `dvc status`
    call its results out of date."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), "status", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    stale = _stale_lock_entries(json.loads(out or "{}"))
    assert not stale, "dvc.lock is stale (run `make reproduce` and commit dvc.lock):\n" + "\n".join(
        stale
    )


def test_the_stale_lock_check_sees_code_and_params():
    status = {
        "panel": [{"changed deps": {"src/analysis/errors.py": "modified"}}],
        "overview": [
            {"changed deps": {"params.yaml": {"notebooks.overview.overview_year": "modified"}}}
        ],
        "report": [
            {"changed deps": {"output/results": "modified", "data/interim/cities.csv": "deleted"}}
        ],
    }
    assert _stale_lock_entries(status) == [
        "panel: src/analysis/errors.py modified",
        "overview: params notebooks.overview.overview_year modified",
    ]
