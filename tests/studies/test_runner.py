"""Notebook stages: parameters from the typed config, and bad input found inside a notebook reaches
the user as one line (`analysis notebook NAME`), while a bug keeps its traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import yaml
from helpers.city_panel_data import city_inputs, subset_panel

from analysis.config import Config, load_config, parse_section
from analysis.studies import runner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_parameters_come_from_the_config_and_are_relative():
    config = parse_section(
        Config,
        {
            "treatment": {"year_rule": "following"},
            "report": {"lang": "zh"},
            "notebooks": {"robustness": {"dr": {"covariates": ["log_fdi"]}}},
        },
    )
    params = runner.notebook_parameters("robustness", config)
    assert params["year_rule"] == "following" and params["lang"] == "zh"
    assert params["dr"]["covariates"] == ["log_fdi"] and params["honestdid"]["window"] == [-5, 5]
    assert params["panel_path"] == "data/processed/panel.csv" and params["output_dir"] == "output"
    sim = runner.notebook_parameters("simulation", load_config())
    assert sim["synthetic"]["seed"] == load_config().synthetic.seed and "first_year" in sim
    # nothing papermill would mangle: only JSON types (its translator turns tuples into strings)
    for name in runner.NOTEBOOKS:
        params = runner.notebook_parameters(name, Config())
        assert json.loads(json.dumps(params)) == {
            k: (json.loads(json.dumps(v))) for k, v in params.items()
        }
        assert not any(isinstance(v, tuple) for v in params.values())


@pytest.mark.parametrize(
    ("ename", "raised"),
    [("InputError", runner.NotebookInputError), ("ValueError", runner.NotebookFailure)],
)
def test_only_input_errors_become_one_line(monkeypatch, tmp_path, ename, raised):
    def fail(nb, output_path, **kwargs):
        Path(output_path).write_text(json.dumps(runner.read_source("overview")), encoding="utf-8")
        raise pm.PapermillExecutionError(
            3, 1, "", ename, "error: data/raw/x.csv:2:prefecture: bad", []
        )

    monkeypatch.setattr(runner.pm, "execute_notebook", fail)
    with pytest.raises(raised) as err:
        runner.run_notebook("overview", Config(), tmp_path)
    if raised is runner.NotebookInputError:
        assert err.value.message == "error: data/raw/x.csv:2:prefecture: bad"
        assert err.value.executed.endswith("overview.ipynb")
    else:  # anything else: one line naming the stage; the traceback stays in the notebook
        assert err.value.message.startswith("error: stage overview: ValueError: ")
        assert "\n" not in err.value.message and err.value.executed.endswith("overview.html")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A minimal project copy: the robustness notebook, a small panel, a bad concurrent roster."""
    dest = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    shutil.copytree(ROOT / "data" / "reference", dest / "data" / "reference")
    for sub in ("data/interim", "data/processed", "data/raw"):
        (dest / sub).mkdir(parents=True)
    master, _, truth = city_inputs()
    master.to_csv(dest / "data/interim/cities.csv", index=False)
    subset_panel().to_csv(dest / "data/processed/panel.csv", index=False)
    (dest / "data/processed/truth.json").write_text(json.dumps(truth), encoding="utf-8")
    (dest / "data/raw/broadband_china.csv").write_text(
        "prefecture,zone,approved,verification\n"
        "杭州,宽带中国,2014-10-01,single-source\n"
        "Atlantis,宽带中国,2014-10-01,single-source\n",
        encoding="utf-8",
    )
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["notebooks"]["robustness"]["concurrent_policies"] = {
        "broadband china": "data/raw/broadband_china.csv"
    }
    (dest / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return dest


def test_bad_roster_in_a_notebook_is_one_line(project):
    env = {**os.environ, "ANALYSIS_ROOT": str(project)}
    result = subprocess.run(
        [str(BIN / "analysis"), "notebook", "robustness"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error: data/raw/broadband_china.csv:3:prefecture: unknown prefecture 'Atlantis' "
        "(use a name from the city master (data/interim/cities.csv))"
    )
    assert lines[1] == "see the executed notebook: output/notebooks/robustness.ipynb"
    assert "Traceback" not in result.stderr and "PapermillExecutionError" not in result.stderr
    executed = (project / "output/notebooks/robustness.ipynb").read_text(encoding="utf-8")
    assert str(project) not in executed  # parameters and papermill's paths are relative


def test_a_stage_process_skips_the_slow_iri_checker_and_still_validates_notebooks():
    """A notebook stage's process (runner imported before nbformat, as `analysis notebook` does)
    leaves rfc3987_syntax unimported (its import builds Earley parsers: 0.9 s of each stage's
    start-up), and nbformat still validates: a notebook without its metadata is rejected."""
    code = (
        "import sys\n"
        "import analysis.studies.runner\n"
        "import nbformat\n"
        "assert sys.modules.get('rfc3987_syntax') is None, 'rfc3987_syntax was imported'\n"
        "nb = nbformat.v4.new_notebook()\n"
        "nbformat.validate(nb)\n"
        "del nb['metadata']\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    print('rejected')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "rejected"
