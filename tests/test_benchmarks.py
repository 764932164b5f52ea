"""Every benchmark script runs (at its ``--quick`` size), so a README command cannot break unnoticed.

The scripts run in this process (``runpy``, as ``__main__`` with ``--quick``): the imports and the
city master (``default_inputs``, cached) are paid once for all of them, which keeps the whole file
under a minute on two cores. The printed ratios of a quick run mean nothing; the check is that each
script runs to the end and prints its table.
"""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
NEEDS_VALIDATION_DATA = {"bench_bacon_honestdid.py"}
NEEDS_PEERS = {"bench_peers.py": ("diff_diff", "moderndid")}


def test_every_script_is_listed():
    assert "bench_randomization.py" in SCRIPTS and "run_monte_carlo.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script, monkeypatch, capsys, request):
    for module in NEEDS_PEERS.get(script, ()):
        pytest.importorskip(module)
    if script in NEEDS_VALIDATION_DATA:
        monkeypatch.setenv("VALIDATION_DATA_DIR", str(request.getfixturevalue("validation_dir")))
    monkeypatch.setattr(sys, "argv", [str(BENCHMARKS / script), "--quick"])
    monkeypatch.setenv("BENCH_QUICK", "1")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{script} printed nothing"
