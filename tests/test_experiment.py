"""`make exp` keeps params.yaml as the user wrote it, and restores it when the experiment fails."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import yaml

from analysis.experiment import restyle, run_experiment

ROOT = Path(__file__).resolve().parents[1]


def test_changed_values_are_written_on_their_lines_and_nothing_else_moves():
    original = (ROOT / "params.yaml").read_text(encoding="utf-8")
    assert restyle(original, yaml.safe_load(original)) == original
    new = yaml.safe_load(original)
    new["notebooks"]["rail_links"]["window"] = [-4, 4]
    new["data"].update(source="file", file="data/raw/my_panel.xlsx")
    new["synthetic"]["pilot_att_by_batch"][1] = 0.2  # inside a flow mapping
    out = restyle(original, new)
    assert yaml.safe_load(out) == new
    changed = [
        (a, b) for a, b in zip(original.splitlines(), out.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 4, changed
    for before, after in changed:  # the comment stays, at its column when there is room
        if "#" in before:
            assert after[after.index("#") :] == before[before.index("#") :]


def test_a_change_that_cannot_be_placed_keeps_dvcs_file():
    original = "a:\n  b: 1  # one\n"
    assert restyle(original, {"a": {"b": 1, "c": 2}}) is None  # a new key


def _fake_dvc(tmp_path: Path, code: int) -> str:
    """A `dvc` that rewrites params.yaml as DVC does (block style) and exits with ``code``."""
    script = tmp_path / "dvc"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, yaml\n"
        "p = yaml.safe_load(open('params.yaml'))\n"
        "p['notebooks']['rail_links']['window'] = [-4, 4]\n"
        "open('params.yaml', 'w').write(yaml.safe_dump(p))\n"
        f"sys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_success_keeps_the_layout_and_failure_restores_the_file(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    original = (ROOT / "params.yaml").read_bytes()
    params.write_bytes(original)
    monkeypatch.chdir(tmp_path)
    assert run_experiment(["-S", "x"], params, dvc=_fake_dvc(tmp_path, 0)) == 0
    text = params.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["notebooks"]["rail_links"]["window"] == [-4, 4]
    assert len(text.splitlines()) == len(original.decode().splitlines())
    params.write_bytes(original)
    assert run_experiment(["-S", "x"], params, dvc=_fake_dvc(tmp_path, 3)) == 3
    assert params.read_bytes() == original


def test_non_ascii_values_are_quoted_for_dvcs_override_grammar():
    """DVC parses -S with Hydra's override grammar, which rejects an unquoted Chinese file name
    (the held-out yearbook check found it): quoted, it parses to the same string."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from analysis.experiment import quote_overrides

    raw = "data/raw/海关 2016's.xlsx"
    args = quote_overrides(["-S", f"data.file={raw}", "-S", "n=3", "--force", "-S", "a='b c'"])
    assert args[2:] == ["-S", "n=3", "--force", "-S", "a='b c'"]  # ASCII and quoted ones as given
    parser = OverridesParser.create()
    assert parser.parse_overrides([args[1]])[0].value() == raw
    with pytest.raises(Exception, match="NoViableAlt"):
        parser.parse_overrides([f"data.file={raw}"])
