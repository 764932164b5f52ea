"""The tutorials of notebooks/learn/ reproduce the published numbers on the validation data sets:
each is executed as `make learn` runs it, the numbers it wrote are checked against this file's own
copy of the published ones (shared/validation/README.md), its outputs are clean, its answers are
folded in the HTML, and without the data it stops at its first cell with the reason.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import jupytext
import nbformat
import pytest

from analysis import config
from analysis.studies import tutorials

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = [n for n in tutorials.NOTEBOOKS if n.startswith("tutorial_")]

# shared/validation/README.md, as printed by the reference R packages
PUBLISHED = {
    "tutorial_mpdta_callaway_santanna": {
        "ATT(2004,2004)": "-0.0105032",
        "ATT(2004,2004) SE": "0.0232510",
        "simple ATT": "-0.0399513",
        "simple SE": "0.0120340",
        "group ATT": "-0.0310183",
        "group SE": "0.0124461",
        "dynamic ATT": "-0.0772398",
        "dynamic SE": "0.0199650",
        "calendar ATT": "-0.0417",
        "calendar SE": "0.0160",
        "pre-test W": "7.7912",
        "pre-test p-value": "0.168",
    },
    "tutorial_castle_twfe_bacon": {
        "TWFE coefficient": "0.0818116",
        "decomposition total": "0.0818116",
        "weight: treated vs never treated": "0.90834",
        "weight: earlier vs later treated": "0.05976",
        "weight: later vs earlier treated": "0.03190",
    },
    "tutorial_ehec_honestdid": {
        **{
            f"relative magnitudes Mbar = {m}: {side}": value
            for m, bounds in {
                "0.5": ("0.0240", "0.0672"),
                "1": ("0.0170", "0.0720"),
                "1.5": ("0.00824", "0.0797"),
                "2": ("-0.000916", "0.0881"),
            }.items()
            for side, value in zip(("lower", "upper"), bounds)
        },
        **{
            f"smoothness M = {m}: {side}": value
            for m, bounds in {
                "0": ("0.0259", "0.0607"),
                "0.01": ("0.0132", "0.0787"),
                "0.02": ("0.00286", "0.0907"),
                "0.03": ("-0.00714", "0.101"),
                "0.04": ("-0.0171", "0.111"),
                "0.05": ("-0.0271", "0.121"),
            }.items()
            for side, value in zip(("lower", "upper"), bounds)
        },
    },
    # Arkhangelsky et al. (2021) Table 1 as R synthdid prints it; the placebo SEs are Monte Carlo
    # numbers (the tutorial explains them) and are not compared
    "tutorial_prop99_sdid": {
        "SDID estimate": "-15.60383",
        "SC estimate": "-19.61966",
        "DID estimate": "-27.34911",
    },
    "tutorial_favara_dcdh": {
        **{
            f"{kind}_{i}{suffix}": value
            for kind, rows in {
                "Effect": [
                    ("0.0240393", "0.0184241"),
                    ("0.0116702", "0.0106714"),
                    ("0.0143443", "0.00828821"),
                    ("0.0115211", "0.00819515"),
                    ("0.0161627", "0.00684205"),
                    ("0.0133861", "0.00625129"),
                    ("0.00981002", "0.00495722"),
                    ("0.0100838", "0.00430933"),
                ],
                "Placebo": [
                    ("0.0303785", "0.0264052"),
                    ("-0.0217763", "0.0253522"),
                    ("-0.0137113", "0.0263437"),
                ],
            }.items()
            for i, pair in enumerate(rows, start=1)
            for suffix, value in zip(("", " SE"), pair)
        },
        "Average_Total_Effect": "0.055063",
        "Average_Total_Effect SE": "0.0268082",
    },
}


def _printed_digits_agree(ours: float, printed: str) -> bool:
    digits = -Decimal(printed).as_tuple().exponent
    return round(ours, digits) == pytest.approx(float(printed), abs=10.0 ** -(digits + 6))


@pytest.fixture(scope="module")
def executed(validation_dir, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("learn")
    runs = {name: tutorials.run(name, output_dir=out) for name in TUTORIALS}
    return {
        name: (run, nbformat.read(run.notebook, as_version=4), json.loads(
            (out / f"{name}.json").read_text(encoding="utf-8")))
        for name, run in runs.items()
    }  # fmt: skip


def test_tutorials_reproduce_the_published_numbers(executed):
    for name, (run, _, payload) in executed.items():
        assert run.status == "ok", (name, run.reason)
        assert payload["all_agree"], name
        got = {row["quantity"]: float(row["ours"]) for row in payload["rows"]}
        assert set(got) == set(PUBLISHED[name]), name
        bad = {q: (got[q], p) for q, p in PUBLISHED[name].items() if not _printed_digits_agree(got[q], p)}  # fmt: skip
        assert not bad, (name, bad)


def _outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            yield i, cell, out


def test_tutorial_outputs_are_clean(executed):
    """No error, no warning, a figure in each, every code cell ran (the answers too)."""
    for name, (_, nb, _) in executed.items():
        for i, _, out in _outputs(nb):
            assert out.output_type != "error", (name, i, out.get("evalue"))
            assert out.get("name") != "stderr", (name, i, out.text[:300])
        assert any("image/png" in out.get("data", {}) for _, _, out in _outputs(nb)), name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), name
        answers = [c for c in code if tutorials.SOLUTION_TAG in c.metadata.get("tags", [])]
        assert len(answers) == 1 and answers[0].outputs, name


def test_answers_are_folded_in_the_html_and_collapsed_in_the_source(executed):
    for name, (run, _, _) in executed.items():
        html = run.html.read_text(encoding="utf-8")
        assert html.count('<details class="learn-solution">') == 1, name
        source = jupytext.read(tutorials.LEARN_DIR / f"{name}.py")
        answers = [c for c in source.cells if tutorials.SOLUTION_TAG in c.metadata.get("tags", [])]
        assert answers[0].metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}


def test_a_tutorial_without_its_data_stops_cleanly(tmp_path):
    """An empty data folder: the first cell prints why and the notebook stops there; `make learn`
    reports it as skipped and still writes the notebook and its HTML."""
    run = tutorials.run(
        "tutorial_castle_twfe_bacon", output_dir=tmp_path, parameters={"data_dir": str(tmp_path)}
    )
    assert run.status == "skipped" and "castle.csv not found" in run.reason
    nb = nbformat.read(run.notebook, as_version=4)
    outputs = list(_outputs(nb))
    errors = [out for _, _, out in outputs if out.output_type == "error"]
    assert len(errors) == 1 and errors[0].traceback == [f"Stopped: {run.reason}"]
    printed = [out.text for _, _, out in outputs if out.get("name") == "stdout"]
    assert printed == [f"This tutorial needs the validation data sets: {run.reason}\n"]
    stopped = max(i for i, _, _ in outputs)
    assert all(not c.get("outputs") for c in nb.cells[stopped + 1 :])
    assert run.html.exists() and "Stopped:" in run.html.read_text(encoding="utf-8")


def test_the_data_folder_is_resolved_from_the_project_root(monkeypatch, tmp_path):
    monkeypatch.delenv("VALIDATION_DATA_DIR", raising=False)
    with pytest.raises(tutorials.DataUnavailable, match="VALIDATION_DATA_DIR is not set"):
        tutorials.validation_dir()
    monkeypatch.setenv("VALIDATION_DATA_DIR", "no/such/folder")
    with pytest.raises(tutorials.DataUnavailable, match="does not exist"):
        tutorials.validation_dir()
    monkeypatch.chdir(tmp_path)  # a kernel started by JupyterLab runs in notebooks/learn/
    monkeypatch.setenv("VALIDATION_DATA_DIR", "tests")
    assert tutorials.validation_dir() == config.ROOT / "tests"


def test_reproduction_compares_printed_digits(tmp_path):
    check = tutorials.Reproduction("t", "a test")
    check.add("rounds to the printed number", 0.0082449, "0.00824")
    check.add("negative, more digits", -0.00091610, "-0.000916")
    assert check.all_agree
    check.add("one digit off", 0.0082451, "0.00824")
    assert not check.all_agree
    saved = tutorials.read_reproduction(check.save(tmp_path))
    assert [r["ours"] for r in saved["rows"]] == [0.0082449, -0.0009161, 0.0082451]
    assert [r["agrees"] for r in saved["rows"]] == [True, True, False]


def test_the_learning_notebooks_are_listed_and_not_pipeline_stages():
    sources = sorted(p.stem for p in tutorials.LEARN_DIR.glob("*.py"))
    assert sources == sorted(tutorials.NOTEBOOKS)
    assert not set(tutorials.NOTEBOOKS) & set(config.NOTEBOOKS)
    for name in tutorials.NOTEBOOKS:
        nb = jupytext.read(tutorials.LEARN_DIR / f"{name}.py")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.get("outputs") for c in code)
        for cell in code:
            compile(cell.source, f"{name}.py", "exec")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        answers = [c for c in nb.cells if tutorials.SOLUTION_TAG in c.metadata.get("tags", [])]
        assert len(answers) == (1 if name.startswith("tutorial_") else 0), name


def test_make_learn_runs_every_learning_notebook():
    out = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "learn"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "python -m analysis.studies.tutorials" in out, out
    assert tutorials.main(["no_such_notebook"]) == 2


class _MissedWakeUp:
    """A kernel channel whose poll misses the wake-up (jupyter/nbclient#312): a message that
    arrives while ``get_msg`` waits is seen only when that wait's timeout runs out."""

    def __init__(self, arrives_after: float | None):
        import time

        self.arrival = None if arrives_after is None else time.monotonic() + arrives_after

    async def get_msg(self, timeout=None):
        import asyncio
        import time
        from queue import Empty

        if self.arrival is not None and time.monotonic() >= self.arrival:
            return {"msg": "reply"}
        await asyncio.sleep(timeout)
        if self.arrival is not None and time.monotonic() >= self.arrival:
            return {"msg": "reply"}
        raise Empty


def test_a_missed_wake_up_costs_one_poll_slice_not_the_cell_timeout():
    """The learning notebook took 610 s on CI (15 s here): nbclient noticed the kernel's reply
    only at the cell's 600 s timeout. Its channels wait in slices, so a reply arriving 0.2 s into
    a 30 s wait is returned within one slice, and a wait with no reply still ends in Empty at its
    own deadline."""
    import asyncio
    import time
    from queue import Empty

    channel = _MissedWakeUp(arrives_after=0.2)
    tutorials._poll_in_slices(channel)
    start = time.monotonic()
    assert asyncio.run(channel.get_msg(timeout=30)) == {"msg": "reply"}
    assert time.monotonic() - start < tutorials.POLL_SLICE + 1

    silent = _MissedWakeUp(arrives_after=None)
    tutorials._poll_in_slices(silent)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(silent.get_msg(timeout=2.5))
    assert 2.4 < time.monotonic() - start < 3.5
