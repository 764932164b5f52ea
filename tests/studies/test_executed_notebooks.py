"""The executed notebooks read as a student needs them: every figure shown inline (and saved in
both languages), tables and tests as tables and sentences, a markdown interpretation after every
result, no warnings, no ``PosixPath(...)``, no absolute path of the machine, no p-value printed as 0.

The notebooks are the products of the session's small pipeline build (tests/conftest.py: one
`make reproduce` of a copy of the project, 200 synthetic cities, small loops), executed by
``analysis notebook NAME`` as the pipeline runs them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from analysis.studies import runner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIGURE_CALL = re.compile(r"ctx\.(?:study_|event_study_)?figure\(\s*(?:study,\s*)?\"(\w+)\"")
# "p = 0", "p = 0.0", "p = 0.000" (but not "p = 0.041") and a bare 0.0 in a p-value cell
ZERO_P = re.compile(r"\bp\s*[=:]\s*0(?:\.0*)?(?![0-9.])")


@pytest.fixture(scope="module")
def executed(pipeline_build) -> tuple[Path, dict[str, nbformat.NotebookNode]]:
    dest, _, _ = pipeline_build
    notebooks = {
        name: nbformat.read(dest / f"output/notebooks/{name}.ipynb", as_version=4)
        for name in runner.NOTEBOOKS
    }
    return dest, notebooks


def _outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            yield i, cell, out


def _texts(out) -> list[str]:
    if out.output_type == "stream":
        return [out.text]
    if out.output_type == "error":
        return [out.evalue, *out.traceback]
    return [
        v if isinstance(v, str) else json.dumps(v)
        for k, v in out.get("data", {}).items()
        if not k.startswith("image/")
    ]


def test_every_notebook_source_is_checked():
    assert sorted(runner.NOTEBOOKS) == sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))


def test_no_warnings_or_errors_in_outputs(executed):
    _, notebooks = executed
    for name, nb in notebooks.items():
        for i, _, out in _outputs(nb):
            assert out.output_type != "error", f"{name} cell {i}: {out.ename}"
            if out.output_type == "stream":
                assert out.name != "stderr" or "warning" not in out.text.lower(), (
                    f"{name} cell {i} writes a warning to stderr: {out.text[:300]}"
                )


def test_no_paths_of_the_machine(executed):
    dest, notebooks = executed
    forbidden = [str(dest), str(ROOT), "/root/", "/home/", "/work/", "/tmp/"]
    for name in notebooks:
        for suffix in (".ipynb", ".html"):
            text = (dest / f"output/notebooks/{name}{suffix}").read_text(encoding="utf-8")
            assert "PosixPath(" not in text, f"{name}{suffix} shows a PosixPath"
            for path in forbidden:
                assert path not in text, f"{name}{suffix} contains the absolute path {path}"


def test_figures_are_shown_inline_and_saved_in_both_languages(executed):
    dest, notebooks = executed
    for name, nb in notebooks.items():
        source = runner.source_path(name).read_text(encoding="utf-8")
        stems = FIGURE_CALL.findall(source)
        assert stems, f"{name} saves no figure"
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            calls = len(FIGURE_CALL.findall(cell.source))
            images = sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
            assert images == calls, f"{name} cell {i}: {calls} figures saved, {images} shown"
        for stem in stems:
            for lang in ("en", "zh"):
                for ext in ("png", "svg"):
                    path = dest / f"output/figures/{stem}.{lang}.{ext}"
                    assert path.stat().st_size > 1000, path


def test_every_result_is_followed_by_an_interpretation(executed):
    """A code cell that shows something (a figure, a table, a sentence) has a markdown cell next."""
    _, notebooks = executed
    for name, nb in notebooks.items():
        cells = nb.cells
        for i, cell in enumerate(cells):
            shows = cell.cell_type == "code" and any(
                out.output_type in ("display_data", "execute_result", "stream")
                for out in cell.get("outputs", [])
            )
            if shows:
                assert i + 1 < len(cells) and cells[i + 1].cell_type == "markdown", (
                    f"{name} cell {i} shows a result with no interpretation after it"
                )
        # and no bare dicts or reprs where a table or sentence belongs
        for i, _, out in _outputs(nb):
            plain = out.get("data", {}).get("text/plain", "")
            assert not plain.startswith("{"), f"{name} cell {i} shows a raw dict"
            assert "<Figure size" not in plain, f"{name} cell {i} shows a Figure repr"


def test_no_p_value_is_printed_as_zero(executed):
    _, notebooks = executed
    for name, nb in notebooks.items():
        for i, _, out in _outputs(nb):
            for text in _texts(out):
                assert not ZERO_P.search(text), f"{name} cell {i}: p-value printed as 0"
