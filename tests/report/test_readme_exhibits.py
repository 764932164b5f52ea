"""The README's list of exhibits is generated from the exhibit registry and dvc.yaml."""

from __future__ import annotations

from pathlib import Path

from analysis.report.readme_exhibits import current_block, render_block

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_exhibit_as_the_registry_says():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = current_block(readme)
    assert block is not None, "README.md lacks the generated exhibits block"
    assert block == render_block(ROOT), (
        "README.md's list of exhibits is stale: run `.venv/bin/python -m analysis.report.readme_exhibits`"
    )


def test_every_exhibit_row_names_its_program_stage_and_files():
    rows = [r for r in render_block(ROOT).splitlines() if r.startswith(("| Figure", "| Table"))]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1].startswith("`notebooks/") and cells[1].endswith(".py`"), row
        assert cells[2] != "`None`" and "output/" in cells[3], row
