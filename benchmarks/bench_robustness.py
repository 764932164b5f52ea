"""Benchmark of the robustness checklist: the FWL TWFE used by the specification curve, heterogeneity
and concurrent-policy checks against PanelOLS (our ``twfe``) and pyfixest (peer), then the whole
``robustness_study`` with default options on the processed panel.

Run: ``python benchmarks/bench_robustness.py [n_jobs]`` (needs data/processed/panel.csv: ``dvc repro``);
``--quick``: the TWFE comparison on a 60-city synthetic panel made in-process, no checklist.
"""

from __future__ import annotations

import sys
import time

import _bench  # first: puts tests/ on sys.path for helpers
import numpy as np

QUICK = _bench.quick()


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(n_jobs: int = 2) -> None:
    from helpers.pyfixest_twfe import twfe_pyfixest

    from analysis import config as paths
    from analysis import results_io
    from analysis.data.build import read_panel
    from analysis.data.schema import CONTROLS
    from analysis.did.twfe import twfe, twfe_fwl
    from analysis.studies.robustness.checklist import robustness_study

    if QUICK:
        from analysis.data.build import default_inputs
        from analysis.data.synthetic import SyntheticDesign, simulate_panel

        panel, truth = simulate_panel(*default_inputs(), SyntheticDesign(n_cities=60))
    else:
        panel = read_panel()
        truth = results_io.read_json(paths.PROCESSED / "truth.json")
    xs = ["pilot", "rail", "log_broadband", *CONTROLS]
    args = (panel, "log_exports", xs, "city_code", "year")
    ref = twfe(*args, cluster="province")
    fast = twfe_fwl(*args, cluster="province")
    assert np.allclose(fast.params, ref.params, rtol=1e-8)
    assert np.allclose(fast.std_errors, ref.std_errors, rtol=1e-8)
    twfe_pyfixest(*args, cluster="province")  # warm-up (numba compilation)
    repeat = 1 if QUICK else 5
    t_ols = _best(lambda: twfe(*args, cluster="province"), repeat)
    t_pf = _best(lambda: twfe_pyfixest(*args, cluster="province"), repeat)
    t_fast = _best(lambda: twfe_fwl(*args, cluster="province"), repeat)
    print(f"TWFE, {len(panel)} obs, {len(xs)} regressors, province clusters (best of {repeat})")
    print(f"  PanelOLS (analysis twfe)  {t_ols * 1e3:8.1f} ms")
    print(f"  pyfixest feols (peer)     {t_pf * 1e3:8.1f} ms")
    print(
        f"  FWL twfe_fwl (ours)       {t_fast * 1e3:8.1f} ms   "
        f"ratio PanelOLS/ours {t_ols / t_fast:.0f}x, pyfixest/ours {t_pf / t_fast:.0f}x"
    )

    if QUICK:  # the whole checklist takes over a minute even on 60 cities (its own tests run it)
        print("robustness_study: not run with --quick")
        return
    start = time.perf_counter()
    study = robustness_study(panel, truth, {"n_jobs": n_jobs})
    total = time.perf_counter() - start
    print(f"robustness_study, default options, n_jobs={n_jobs}: {total:.1f} s")
    for name, sec in study["timings"].items():
        print(f"  {name:<16}{sec:7.2f} s")


if __name__ == "__main__":
    jobs = [a for a in sys.argv[1:] if a != "--quick"]
    main(int(jobs[0]) if jobs else 2)
