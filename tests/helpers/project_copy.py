"""A temporary copy of the project for the tests that run the pipeline (tests/test_pipeline.py,
the user panels' whole DAG, the held-out yearbook, the executed notebooks): which files to copy,
the environment the copy runs in, the smallest loops that still exercise every stage, and the one
small `make reproduce` (:func:`make_project`) that tests/conftest.py builds once per test session.

One place for all of them: the pipeline tests are the slow part of the default test command
(README "Tests", under 15 minutes on 2 cores), and every loop size here is paid by each of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# The loops of params.yaml at their smallest: each still runs (the plumbing, the figures and the
# report's sentences), none is large enough to be read as a result; full sizes run in
# `make reproduce` and the Monte Carlo of `make test-slow`.
SMALL_LOOPS = {
    ("notebooks", "simulation"): {"n_reps": 2},
    ("notebooks", "robustness"): {"placebo_draws": 49, "wild_draws": 99},
    ("notebooks", "robustness", "honestdid"): {"grid_points": 100},
    ("notebooks", "robustness", "spec_curve"): {
        "options": {"estimator": ["twfe", "bjs"], "controls": ["study"]},
        "draws": 4,
    },
    ("notebooks", "robustness", "spillover"): {"mc_reps": 4},
    ("notebooks", "robustness", "multiple_testing"): {"draws": 199},
    ("notebooks", "design"): {"n_reps": 6, "reps_by_estimator": {"cs": 3, "sa": 3, "bjs": 3}},
    ("notebooks", "corridor"): {"placebo_draws": 10, "placebo_sets_per_province": 2},
    ("notebooks", "network_coverage"): {"cgs_boot": 99},
    ("notebooks", "rail_links"): {"wild_draws": 99, "ct_draws": 99, "ri_draws": 49},
}


def project_files() -> list[str]:
    """The project's tracked and untracked (not ignored) files, without run products."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    listed = git("ls-files") + git("ls-files", "--others", "--exclude-standard")
    return sorted(
        {f for f in listed.splitlines() if f and not f.startswith(("output/", "reports/report"))}
    )


def copy_project(dest: Path) -> Path:
    """The project's files under ``dest`` with empty data folders (no outputs): returns ``dest``."""
    for rel in project_files():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for sub in ("data/interim", "data/processed", "data/raw"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    return dest


def project_env(dest: Path) -> dict[str, str]:
    """The copy runs its own src (PYTHONPATH before the editable install): the code DVC hashes as
    deps is the code that runs, even while the original tree is being edited."""
    return {
        **os.environ,
        "ANALYSIS_ROOT": str(dest),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(dest / "src"),
        "PYTHONHASHSEED": "0",
    }


def git_commit(dest: Path, env: dict, message: str, init: bool = False) -> None:
    """``git add -A`` and a commit in the copy (``init``: ``git init`` first)."""
    steps = [["init", "-q"]] if init else []
    steps += [
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
    ]
    for args in steps:
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)


def small_params(path: Path, n_cities: int | None = None) -> None:
    """:data:`SMALL_LOOPS` (and ``synthetic.n_cities``) written into the params file at ``path``.
    Round-trip edit (ruamel.yaml, as DVC uses) so params.yaml keeps its comments and layout."""
    from ruamel.yaml import YAML

    rt = YAML()
    params = rt.load(path.read_text(encoding="utf-8"))
    if n_cities is not None:
        params["synthetic"]["n_cities"] = n_cities
    for keys, values in SMALL_LOOPS.items():
        node = params
        for key in keys:
            node = node[key]
        node.update(values)
    with open(path, "w", encoding="utf-8") as fh:
        rt.dump(params, fh)


MAKE = ["make", "-o", ".venv/.installed"]


def make_project(dest: Path, n_cities: int = 200) -> tuple[Path, dict[str, str], str]:
    """A git copy of the project under ``dest`` with small parameters, after one `make reproduce`
    (the README's command; .venv/.installed taken as up to date: the copy uses this interpreter's
    environment), committed with the dvc.lock that run wrote: ``(dest, env, log)``."""
    copy_project(dest)
    small_params(dest / "params.yaml", n_cities)
    env = project_env(dest)
    git_commit(dest, env, "copy", init=True)
    run = subprocess.run(
        MAKE + ["reproduce"], check=False, cwd=dest, env=env, capture_output=True, text=True
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, (
        f"make reproduce failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    git_commit(dest, env, "run")
    return dest, env, log
