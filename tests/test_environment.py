"""The environment is pinned once: uv.lock -> requirements.lock -> environment.yml must agree."""

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from export_lock import requirement_lines


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


def _parameters(source: str) -> dict:
    """The parameters cell's assignments ``name = defaults["name"]`` (name -> key), where
    ``defaults = interactive_parameters(...)`` (params.yaml read when the cell runs)."""
    import ast

    out = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign):
            continue
        (target,) = node.targets
        value = node.value
        if isinstance(value, ast.Call):
            out[target.id] = ("call", value.func.id, [a.value for a in value.args])
        else:
            assert isinstance(value, ast.Subscript) and value.value.id == "defaults", target.id
            out[target.id] = value.slice.value
    return out


def test_notebook_sources_are_text_with_one_parameters_cell():
    """notebooks/<name>.py (jupytext percent format) parse, carry no outputs, and have exactly one
    cell tagged `parameters` assigning the injected names: the common ones, the fields of
    params.yaml's notebooks.<name> section, and the notebook's extras, each from params.yaml as read
    when the cell runs (what an interactive run in JupyterLab uses)."""
    import dataclasses

    import jupytext

    from analysis.config import Config
    from analysis.studies.runner import COMMON, EXTRA, NOTEBOOKS, notebook_parameters

    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.py")) == sorted(NOTEBOOKS)
    assert not list((ROOT / "notebooks").glob("*.ipynb")), "notebook sources are the .py files"
    for name in NOTEBOOKS:
        nb = jupytext.read(ROOT / "notebooks" / f"{name}.py")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.get("outputs") and c.get("execution_count") is None for c in code)
        for cell in code:
            compile(cell.source, f"{name}.py", "exec")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}.py needs exactly one cell tagged 'parameters'"
        values = _parameters(tagged[0].source)
        # the defaults come from params.yaml when the cell runs (issue 17), one line each
        assert values.pop("defaults") == ("call", "interactive_parameters", [name]), name
        section = [f.name for f in dataclasses.fields(getattr(Config().notebooks, name))]
        assert sorted(values) == sorted([*COMMON, *section, *EXTRA.get(name, {})]), name
        assert all(key == var for var, key in values.items()), name
        assert sorted(notebook_parameters(name, Config())) == sorted(values), name
