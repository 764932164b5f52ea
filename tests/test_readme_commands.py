"""Every command the README prints in a shell block is exercised by a named test.

The README's fenced blocks are tagged: ``sh`` blocks hold commands (one a line, ``# ...`` comments
allowed), ``text`` blocks hold anything else. A command without an entry in ``EXERCISED_BY`` fails
here, and so does an entry whose test does not exist; so a command added to the README needs a test.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"sh", "bash", "shell", "console"}

# README command -> "test file::test function" that runs it (or, for make targets that run the
# test suite or open JupyterLab, checks with `make -n` what they run).
EXERCISED_BY = {
    "make reproduce": "tests/helpers/project_copy.py::make_project",
    "make test": "tests/test_readme_commands.py::test_make_targets_run_what_the_readme_says",
    "VALIDATION_DATA_DIR=../shared/validation make test": "tests/test_readme_commands.py::test_make_targets_run_what_the_readme_says",
    "make lab": "tests/test_readme_commands.py::test_make_targets_run_what_the_readme_says",
    "VALIDATION_DATA_DIR=../shared/validation make lab": "tests/test_readme_commands.py::test_make_targets_run_what_the_readme_says",
    "VALIDATION_DATA_DIR=../shared/validation make learn": "tests/studies/test_tutorials.py::test_make_learn_runs_every_learning_notebook",
    "make exp ARGS=\"-S 'notebooks.rail_links.window=[-4,4]'\"": "tests/test_pipeline.py::test_experiment_runs_one_notebook_and_shows_its_metrics",
    ".venv/bin/dvc exp show": "tests/test_pipeline.py::test_experiment_runs_one_notebook_and_shows_its_metrics",
    ".venv/bin/dvc exp show --only-changed --md": "tests/test_pipeline.py::test_experiment_runs_one_notebook_and_shows_its_metrics",
    ".venv/bin/dvc params diff": "tests/test_pipeline.py::test_experiment_runs_one_notebook_and_shows_its_metrics",
    ".venv/bin/dvc metrics show": "tests/test_pipeline.py::test_experiment_runs_one_notebook_and_shows_its_metrics",
    ".venv/bin/dvc plots show": "tests/test_pipeline.py::test_plots_render_offline",
    ".venv/bin/dvc plots diff": "tests/test_pipeline.py::test_plots_render_offline",
    ".venv/bin/dvc status": "tests/test_pipeline.py::test_clean_git_and_lock_after_a_run",
    ".venv/bin/analysis check data/raw/my_panel.xlsx": "tests/studies/test_user_panel_dag.py::test_user_panel_whole_dag",
    'make exp ARGS="-S data.source=file -S data.file=data/raw/my_panel.xlsx"': "tests/studies/test_user_panel_dag.py::test_user_panel_whole_dag",
    'NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_NUM_THREADS=2 .venv/bin/dvc repro -f': "tests/test_pipeline.py::test_another_cpu_dispatch_writes_the_same_lock",
    "git status --short": "tests/test_pipeline.py::test_another_cpu_dispatch_writes_the_same_lock",
}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return [
        (m.group(1), m.group(2))
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    ]


def readme_commands(text: str) -> list[str]:
    commands = []
    for lang, body in fenced_blocks(text):
        if lang in SHELL_LANGS:
            for line in body.splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#"):
                    commands.append(command)
    return commands


def _defined(file: Path, name: str) -> bool:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(tree))


def test_every_fenced_block_says_what_it_holds():
    untagged = [
        body[:40] for lang, body in fenced_blocks((ROOT / "README.md").read_text()) if not lang
    ]
    assert not untagged, f"tag these README blocks (sh for commands, text otherwise): {untagged}"


def test_every_readme_command_is_exercised_by_a_test():
    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert commands, "no shell block found in README.md"
    unmapped = [c for c in commands if c not in EXERCISED_BY]
    assert not unmapped, (
        f"README commands with no test (add one and map it in EXERCISED_BY): {unmapped}"
    )
    for command in commands:
        file, name = EXERCISED_BY[command].split("::")
        assert _defined(ROOT / file, name), f"{command!r}: {EXERCISED_BY[command]} does not exist"


def test_the_extractor_reads_shell_blocks_only():
    text = (
        "```sh\nmake a   # comment\n\n# only a comment\nmake b\n```\n```text\nnot a command\n```\n"
    )
    assert readme_commands(text) == ["make a", "make b"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("test", 'pytest -n 2 --dist loadfile -m "not slow"'),
        ("lab", "jupyter lab"),  # with --allow-root when run as root
        ("reproduce", "dvc repro"),
        ("exp ARGS=-Sx=1", "analysis exp -Sx=1"),  # dvc exp run, params.yaml's layout kept
    ],
)
def test_make_targets_run_what_the_readme_says(target, expected):
    """`make -n` prints the recipe without running it (.venv/.installed taken as up to date)."""
    out = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", *target.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert expected in out, out
