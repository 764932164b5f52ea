"""Monte Carlo of the pilot-zone estimators on the synthetic DGP: coverage, bias, RMSE.

    python benchmarks/run_monte_carlo.py [--reps 500] [--seed 20240601] [--jobs 2] [--cities N] [--quick]

Full 337-city panel by default (``--cities`` draws a subset via SyntheticDesign(n_cities=...)).
"""

from __future__ import annotations

import argparse
import time

import _bench  # noqa: F401
import pandas as pd

from analysis.data.synthetic import SyntheticDesign
from analysis.studies.simulation import run_monte_carlo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cities", type=int, default=None)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2 replications of 200 cities, 1 worker")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.jobs, args.cities, args.no_progress = 2, 1, 200, True  # rail cities drawn
    t0 = time.perf_counter()
    table = run_monte_carlo(
        args.reps, args.seed, args.jobs, not args.no_progress, SyntheticDesign(n_cities=args.cities)
    )
    secs = time.perf_counter() - t0
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(table)
    truth = table.attrs["reps"].groupby("rep")["truth"].first()
    print(
        f"\n{args.reps} replications, {args.cities or 337} cities, true overall ATT "
        f"{truth.mean():.4f}, {secs:.0f} s on {args.jobs} workers"
    )


if __name__ == "__main__":
    main()
