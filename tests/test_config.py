"""The typed configuration: params.yaml and the schema of analysis.config agree key for key, and a bad
key or value is a one-line error (also from the command line)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from analysis.config import (
    DEFAULT_CONTROL_RULE,
    PARAMS,
    Config,
    PanelConfig,
    RobustnessConfig,
    SyntheticConfig,
    load_config,
    load_params,
    parse_section,
)
from analysis.data.synthetic import SyntheticDesign
from analysis.errors import InputError

BIN = Path(sys.executable).parent


def _schema_keys(cls: type, prefix: str = "") -> set[str]:
    """Dotted keys of the schema; mappings typed ``dict[...]`` are values (their keys are data)."""
    keys = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        keys.add(key)
        if dataclasses.is_dataclass(hints[f.name]):
            keys |= _schema_keys(hints[f.name], f"{key}.")
    return keys


def _yaml_keys(raw: dict, cls: type, prefix: str = "") -> set[str]:
    keys = set()
    hints = typing.get_type_hints(cls)
    for name, value in raw.items():
        key = f"{prefix}{name}"
        keys.add(key)
        if name in hints and dataclasses.is_dataclass(hints[name]):
            keys |= _yaml_keys(value, hints[name], f"{key}.")
    return keys


def _write(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_params_yaml_loads_and_matches_the_schema_key_for_key():
    config = load_config()
    assert isinstance(config, Config)
    raw = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    in_yaml, in_schema = _yaml_keys(raw, Config), _schema_keys(Config)
    assert in_yaml - in_schema == set(), "keys of params.yaml missing from analysis.config"
    assert in_schema - in_yaml == set(), "schema fields missing from params.yaml"
    # and the plain form reads back into the same configuration
    assert parse_section(Config, load_params()) == config


def test_schema_defaults_give_the_default_synthetic_design():
    """The committed synthetic panel is built from the config: its defaults are the design's."""
    config = Config()
    assert SyntheticDesign.from_config(config.synthetic, config.panel) == SyntheticDesign()


def test_unknown_key_is_one_line_with_a_suggestion(tmp_path):
    path = _write(tmp_path, lambda p: p["notebooks"]["pilot_zones"].update(windw=[-3, 3]))
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value) == (
        f"error: {path}: unknown key 'notebooks.pilot_zones.windw' (did you mean 'window'?)"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p["notebooks"]["simulation"].update(n_reps="eight"),
            "'notebooks.simulation.n_reps' must be int, not 'eight'",
        ),
        (
            lambda p: p["notebooks"]["robustness"]["spec_curve"].update(draws="many"),
            "'notebooks.robustness.spec_curve.draws' must be int, not 'many'",
        ),
        (
            lambda p: p["treatment"].update(year_rule="folowing"),
            (
                "'treatment.year_rule' must be 'approval' | 'following' | 'midyear', not 'folowing' "
                "(did you mean 'following'?)"
            ),
        ),
        (
            lambda p: p["notebooks"]["pilot_zones"].update(window=[-5, 5, 7]),
            "'notebooks.pilot_zones.window' must be a list of 2 (int, int), not [-5, 5, 7]",
        ),
        (
            lambda p: p["synthetic"]["pilot_att_by_batch"].update({"eight": 0.1}),
            "'synthetic.pilot_att_by_batch key' must be int, not 'eight'",
        ),
        (lambda p: p.update(panel=2010), "'panel' must be a mapping, not 2010"),
        (
            lambda p: p["panel"]["control_rule"].update(log_gdp_pc="baseline"),
            (
                "'panel.control_rule.log_gdp_pc' must be 'as_is' | 'untreated_path' | "
                "'pre_trend', not 'baseline'"
            ),
        ),
        (
            lambda p: p["panel"]["control_rule"].update(log_gdppc="as_is"),
            (
                "'panel.control_rule key' must be 'log_gdp_pc' | 'log_population' | 'log_fdi' | "
                "'industry_share_pct', not 'log_gdppc' (did you mean 'log_gdp_pc'?)"
            ),
        ),
    ],
)
def test_wrong_type_is_one_line(tmp_path, edit, message):
    path = _write(tmp_path, edit)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value) == f"error: {path}: {message}"


def test_missing_keys_take_the_schema_defaults(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("notebooks:\n  simulation:\n    n_reps: 3\n", encoding="utf-8")
    config = load_config(path)
    assert config.notebooks.simulation.n_reps == 3
    assert config.notebooks.robustness == RobustnessConfig() and config.panel == PanelConfig()


def test_control_rule_names_some_controls_the_others_keep_their_default(tmp_path):
    """A control rule naming one control changes that control only (documented defaults:
    analysis.config.DEFAULT_CONTROL_RULE)."""
    path = tmp_path / "params.yaml"
    path.write_text("panel:\n  control_rule:\n    log_fdi: as_is\n", encoding="utf-8")
    rule = load_config(path).panel.control_rule
    assert rule == {**DEFAULT_CONTROL_RULE, "log_fdi": "as_is"}
    assert rule["log_gdp_pc"] == "untreated_path"  # exports are part of GDP
    # the rule's former name is read as the new one
    path.write_text("panel:\n  control_rule:\n    log_fdi: pre_trend\n", encoding="utf-8")
    assert load_config(path).panel.control_rule["log_fdi"] == "untreated_path"


def test_sections_parse_papermill_parameters():
    """Papermill writes every dict key as a string and tuples must travel as lists."""
    syn = parse_section(SyntheticConfig, {"pilot_att_by_batch": {"1": 0.2, "2": 1}})
    assert syn.pilot_att_by_batch == {1: 0.2, 2: 1.0}
    rob = parse_section(
        RobustnessConfig, {"honestdid": {"window": [-3, 3]}, "dr": {"covariates": ["log_fdi"]}}
    )
    assert rob.honestdid.window == (-3, 3) and rob.honestdid.target == "average"
    assert rob.dr.covariates == ("log_fdi",)


def test_cli_reports_a_bad_params_yaml_in_one_line(tmp_path):
    """`analysis build-panel` with a misspelt key: exit 1, the one-line error first on stderr."""
    _write(tmp_path, lambda p: p["notebooks"]["pilot_zones"].update(windw=[-3, 3]))
    env = {**os.environ, "ANALYSIS_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(BIN / "analysis"), "build-panel"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0] == (
        "error: params.yaml: unknown key 'notebooks.pilot_zones.windw' (did you mean 'window'?)"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda p: p["data"].update(source="file", file="/home/me/panel.xlsx"), "data.file"),
        (lambda p: p["data"].update(source="file", file="data/raw/../secret.csv"), "data.file"),
        (
            lambda p: p["data"].update(source="file", file=["data/raw/a.csv", "b.csv"]),
            "data.file[1]",
        ),
        (
            lambda p: p["treatment"].update(pilot_zones_file="rosters/zones.csv"),
            "treatment.pilot_zones_file",
        ),
        (
            lambda p: p["notebooks"]["robustness"].update(concurrent_policies={"x": "x.csv"}),
            "notebooks.robustness.concurrent_policies.x",
        ),
    ],
)
def test_user_inputs_must_lie_in_data_raw(tmp_path, edit, key):
    """Only data/raw is a DVC dependency of the stages that read user files: a file elsewhere
    would be read but not tracked, so it is refused with one line."""
    params = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert f"'{key}' must be a path inside data/raw/" in str(err.value)
    assert "\n" not in str(err.value)


def test_inputs_inside_data_raw_are_accepted(tmp_path):
    params = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    params["data"].update(source="file", file=["data/raw/a.csv", "data/raw/2015/b.xlsx"])
    params["treatment"]["rail_links_file"] = "data/raw/rail.csv"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    assert load_config(path).data.file == ("data/raw/a.csv", "data/raw/2015/b.xlsx")
