"""What every benchmark script shares: the test helpers on the import path and the ``--quick`` switch.

The helpers the benchmarks reuse (``helpers.simulate``, ``helpers.pyfixest_twfe``) live in
``tests/helpers``; importing this module puts ``tests/`` on ``sys.path``, so a script runs as the
README says (``python benchmarks/bench_<name>.py``) with no PYTHONPATH. ``--quick`` (or
``BENCH_QUICK=1``) runs a script at a tiny size: ``tests/test_benchmarks.py`` runs every script so,
and the printed ratios then mean nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))


def quick() -> bool:
    """True when the script runs at its tiny size (``--quick`` or ``BENCH_QUICK=1``)."""
    return "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK") == "1"


def best_of(fn, repeat: int = 3):
    """(fastest wall-clock seconds of ``repeat`` calls of ``fn()``, the last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out
