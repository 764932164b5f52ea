"""The environment is pinned once: uv.lock -> requirements.lock -> environment.yml must agree."""

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from export_lock import requirement_lines  # noqa: E402


def _pin(line: str) -> tuple[str, str]:
    spec = line.split(";")[0].strip()
    name, version = spec.split("==")
    return name.lower().replace("_", "-"), version


def test_environment_yml_installs_exactly_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    lock = requirement_lines((ROOT / "requirements.lock").read_text())
    assert pip[-1] == "-e ."
    assert pip[:-1] == lock, "environment.yml drifted from requirements.lock: run `make lock`"


def test_requirements_lock_matches_uv_lock():
    uv = tomllib.loads((ROOT / "uv.lock").read_text())
    versions = {p["name"]: p["version"] for p in uv["package"] if p["name"] != "analysis"}
    pins = dict(_pin(line) for line in requirement_lines((ROOT / "requirements.lock").read_text()))
    assert pins, "requirements.lock is empty"
    mismatched = {n: (v, versions.get(n)) for n, v in pins.items() if versions.get(n) != v}
    assert not mismatched, f"requirements.lock drifted from uv.lock: {mismatched}; run `make lock`"


def test_dvc_config_is_offline_friendly():
    config = (ROOT / ".dvc" / "config").read_text()
    assert "analytics = false" in config
    assert "check_update = false" in config


def test_committed_notebooks_carry_no_outputs():
    import nbformat

    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert books
    for path in books:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs: strip them"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


def test_notebooks_are_generated_from_the_tool(tmp_path, monkeypatch):
    """notebooks/ equals what tools/make_notebooks.py writes (no hand edits that the tool would lose)."""
    import make_notebooks

    monkeypatch.setattr(make_notebooks, "ROOT", tmp_path)
    (tmp_path / "notebooks").mkdir()
    make_notebooks.main()
    for path in (tmp_path / "notebooks").glob("*.ipynb"):
        assert path.read_text() == (ROOT / "notebooks" / path.name).read_text(), path.name
