"""The studies' results files under another CPU's SIMD kernels (issue 16, "on another CPU"): the
default test command's form of tests/test_pipeline.py::test_another_cpu_dispatch_writes_the_same_lock
(slow: the whole DAG forced again). The binary studies of the pilot zones, the China-Europe rail
link and Broadband China (event studies, Roth 2022 pre-trend power, randomization-free parts) and
the power study's headline draws are computed twice in fresh processes -- as this CPU runs them,
and with NumPy's dispatched SIMD extensions off and two BLAS threads -- and written by the
results writer: the bytes must be the same. It caught the QMC integration of the pre-trend power
(issue 16's regression of 2026-12-06)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_pipeline import other_cpu_dispatch

SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
from analysis.data.build import default_inputs
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.results_io import write_json
from analysis.studies import binary, power
panel, truth = simulate_panel(*default_inputs(), SyntheticDesign(n_cities=150))
out = {}
for t, g in (("pilot", "pilot_year"), ("rail", "rail_year"), ("broadband_china", "broadband_china_year")):
    out[t] = binary.binary_study(panel, truth, t, g, (-5, 5), "headline", appendix=False)
out["power"] = power.power_study(
    panel, treatments=("pilot",), estimators=("headline",), n_reps=4, truth=truth
)
out["power"].pop("seconds", None)
write_json(sys.argv[1], out)
"""


def _results(path, extra_env: dict[str, str]) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", **extra_env}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return path.read_bytes()


def test_another_cpu_dispatch_writes_the_same_results(tmp_path):
    features = other_cpu_dispatch()
    if not features:
        pytest.skip("this CPU has no SIMD extension beyond NumPy's baseline to turn off")
    here = _results(tmp_path / "here.json", {})
    other = _results(
        tmp_path / "other.json",
        {"NPY_DISABLE_CPU_FEATURES": features, "OPENBLAS_NUM_THREADS": "2"},
    )
    if here != other:
        import difflib

        diff = difflib.unified_diff(
            here.decode().splitlines(), other.decode().splitlines(), lineterm="", n=2
        )
        pytest.fail("another CPU dispatch changed the results:\n" + "\n".join(list(diff)[:80]))
