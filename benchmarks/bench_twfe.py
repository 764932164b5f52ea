"""TWFE with unit + year effects and unit-clustered SEs on a large balanced panel: ours vs pyfixest.

    python benchmarks/bench_twfe.py [--rows 20000000] [--years 20] [--panelols] [--quick]

Default: 1M units x 20 years = 20M rows, 3 regressors. Each implementation runs in its own
subprocess (same seeded data), so peak memory (``ru_maxrss``) is measured per implementation; the
data alone is reported too. pyfixest is warmed up on a small panel first so its numba/JIT compile
time is not counted. ``--panelols`` adds linearmodels PanelOLS (ours with ``method="panelols"``; only
sensible at small ``--rows``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import _bench
import numpy as np
import pandas as pd


def make_panel(rows: int, years: int, seed: int = 12345) -> pd.DataFrame:
    units = rows // years
    rng = np.random.default_rng(seed)
    uid = np.repeat(np.arange(units, dtype=np.int64), years)
    year = np.tile(np.arange(2000, 2000 + years, dtype=np.int64), units)
    a = rng.standard_normal(units)[uid]
    x = (
        rng.standard_normal((3, units * years)) + 0.5 * a
    )  # regressors correlated with the unit effect
    y = (
        a
        + 0.01 * (year - 2000)
        + x.T @ np.array([0.5, -0.2, 0.1])
        + rng.standard_normal(units * years)
    )
    return pd.DataFrame({"unit": uid, "year": year, "y": y, "x1": x[0], "x2": x[1], "x3": x[2]})


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: kB


def worker(impl: str, rows: int, years: int) -> dict:
    xs = ["x1", "x2", "x3"]
    if impl == "pyfixest":
        import pyfixest as pf

        small = make_panel(2000, 10)
        pf.feols("y ~ x1 + x2 + x3 | unit + year", data=small, vcov={"CRV1": "unit"})  # JIT warm-up
    else:
        from analysis.did.twfe import twfe
    df = make_panel(rows, years)
    rss_data = _rss_gb()
    t0 = time.perf_counter()
    if impl == "pyfixest":
        fit = pf.feols("y ~ x1 + x2 + x3 | unit + year", data=df, vcov={"CRV1": "unit"})
        tid = fit.tidy()
        params, ses = tid["Estimate"].to_numpy(), tid["Std. Error"].to_numpy()
    else:
        res = twfe(df, "y", xs, "unit", "year", method="demean" if impl == "ours" else "panelols")
        params, ses = res.params.to_numpy(), res.std_errors.to_numpy()
    secs = time.perf_counter() - t0
    return {
        "impl": impl,
        "seconds": secs,
        "peak_rss_gb": _rss_gb(),
        "data_rss_gb": rss_data,
        "params": params.tolist(),
        "ses": ses.tolist(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--panelols", action="store_true")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="20,000 rows, in-process (a smoke test)")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.years)))
        return
    impls = ["ours", "pyfixest"] + (["panelols"] if args.panelols else [])
    out = {}
    if _bench.quick():  # tiny and in-process (peak memory then means nothing)
        args.rows = min(args.rows, 20_000)
        out = {impl: worker(impl, args.rows, args.years) for impl in impls}
    for impl in [] if out else impls:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            impl,
            "--rows",
            str(args.rows),
            "--years",
            str(args.years),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"TWFE, {args.rows:,} rows ({args.rows // args.years:,} units x {args.years} years), 3 regressors, "
        "unit + year FE, CRV1 by unit"
    )
    print(f"{'impl':<10}{'seconds':>10}{'peak RSS GB':>14}{'data-only GB':>14}")
    for impl, r in out.items():
        print(f"{impl:<10}{r['seconds']:>10.2f}{r['peak_rss_gb']:>14.2f}{r['data_rss_gb']:>14.2f}")
    o, p = out["ours"], out["pyfixest"]
    print(f"time ratio ours / pyfixest: {o['seconds'] / p['seconds']:.2f}  (target <= 1.5)")
    print(f"peak memory ours: {o['peak_rss_gb']:.2f} GB  (target <= 8)")
    dp = np.max(np.abs(np.subtract(o["params"], p["params"])))
    ds = np.max(np.abs(np.subtract(o["ses"], p["ses"])))
    print(f"max |diff| vs pyfixest: coefficients {dp:.1e}, SEs {ds:.1e}")


if __name__ == "__main__":
    main()
