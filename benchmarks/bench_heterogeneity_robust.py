"""Benchmark: BJS imputation vs pyfixest did2s, and Sun & Abraham vs pyfixest's saturated `i()`.

Simulated balanced staggered panels (300 x 14 and 3,000 x 20). Point estimates must coincide
(imputation == did2s up to did2s's iterative fixed-effect tolerance, ~1e-5 here: ours solves the
sparse normal equations exactly, checked to 1e-14 against dense OLS; SA cohort effects ==
saturated regression); prints the max abs difference,
the seconds of each implementation measured in this run (after a warm-up call that pays
pyfixest's JIT compilation) and the ratio.

Run: ``python benchmarks/bench_heterogeneity_robust.py [--quick]``
"""

from __future__ import annotations

import time
import warnings

import _bench
import numpy as np
import pandas as pd
import pyfixest as pf

from analysis.did.imputation import imputation
from analysis.did.sun_abraham import sun_abraham

QUICK = _bench.quick()
SIZES = [(100, 8)] if QUICK else [(300, 14), (3000, 20)]
REPS = 1 if QUICK else 3


def simulate(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = np.r_[0, np.arange(4, n_periods + 1, 3)]
    g = rng.choice(cohorts, size=n_units)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(np.arange(1, n_periods + 1), n_units),
            "g": np.repeat(g, n_periods),
        }
    )
    e = df.t - df.g
    tau = np.where((df.g > 0) & (e >= 0), 1 + 0.1 * e * (df.g % 3 + 1), 0.0)
    df["y"] = rng.normal(size=n_units)[df.id] + 0.1 * df.t + tau + rng.normal(size=len(df))
    df["D"] = ((df.g > 0) & (e >= 0)).astype(int)
    df["h"] = np.where(df.D == 1, e, -1000)
    df["rel"] = np.where(df.g > 0, e, -1)
    return df


def timed(fn, reps: int = REPS):
    best, out = np.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    warnings.simplefilter("ignore")
    warm = simulate(100, 8)
    imputation(warm, "y", "t", "id", "g")
    sun_abraham(warm, "y", "t", "id", "g")
    pf.did2s(warm, "y", "~ 0 | id + t", "~ i(h, ref=-1000)", treatment="D", cluster="id")
    pf.feols("y ~ i(rel, g, ref=-1, ref2=0) | id + t", data=warm, vcov={"CRV1": "id"})

    for n, T in SIZES:
        df = simulate(n, T)
        t_ours, ours = timed(lambda df=df: imputation(df, "y", "t", "id", "g"))
        t_peer, peer = timed(
            lambda df=df: pf.did2s(
                df, "y", "~ 0 | id + t", "~ i(h, ref=-1000)", treatment="D", cluster="id"
            ).tidy()
        )
        names = [f"h::{int(h)}" for h in ours.horizons]
        diff = np.abs(ours.estimates[1:] - peer.loc[names, "Estimate"].to_numpy()).max()
        print(
            f"imputation {n}x{T}: ours {t_ours:.3f}s, pyfixest did2s {t_peer:.3f}s, "
            f"ratio peer/ours {t_peer / t_ours:.1f}, max|diff| {diff:.1e}"
        )
        t_ours, ours = timed(lambda df=df: sun_abraham(df, "y", "t", "id", "g"))
        t_peer, peer = timed(
            lambda df=df: pf.feols(
                "y ~ i(rel, g, ref=-1, ref2=0) | id + t", data=df, vcov={"CRV1": "id"}
            ).tidy()
        )
        c = ours.catt
        names = [f"rel::{e}:g::{g}" for g, e in zip(c.cohort, c.event_time)]
        diff = np.abs(c.estimate.to_numpy() - peer.loc[names, "Estimate"].to_numpy()).max()
        print(
            f"sun_abraham {n}x{T}: ours (incl. IW aggregation + weight-corrected SEs) "
            f"{t_ours:.3f}s, pyfixest saturated feols {t_peer:.3f}s, "
            f"ratio peer/ours {t_peer / t_ours:.2f}, max|diff| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
