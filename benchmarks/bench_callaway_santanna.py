"""Benchmark: Callaway & Sant'Anna ATT(g,t) with 999 multiplier-bootstrap draws, ours vs csdid.

DR estimator, never-treated controls, no covariates, simulated balanced panels of
290 units x 14 periods and 3,000 units x 20 periods. Prints the max abs difference of the point
estimates, the seconds for each implementation (measured in this run) and the speed ratio.

Run: ``python benchmarks/bench_callaway_santanna.py [--quick]``
"""

from __future__ import annotations

import time
import warnings

import _bench
import numpy as np
import pandas as pd

from analysis.did.callaway_santanna import att_gt

QUICK = _bench.quick()
BITERS = 99 if QUICK else 999
SIZES = [(100, 8, 1)] if QUICK else [(290, 14, 3), (3000, 20, 1)]


def simulate_panel(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    """Staggered adoption: ~30% never treated, cohorts spread over periods 3..T, dynamic effects."""
    rng = np.random.default_rng(seed)
    periods = np.arange(1, n_periods + 1)
    cohorts = np.concatenate([[0], periods[2:]])
    probs = np.r_[0.3, np.full(len(cohorts) - 1, 0.7 / (len(cohorts) - 1))]
    g = rng.choice(cohorts, size=n_units, p=probs)
    unit_fe = rng.normal(size=n_units)
    time_fe = np.cumsum(rng.normal(0.1, 0.2, n_periods))
    gg, tt = np.meshgrid(g, periods, indexing="ij")
    effect = np.where((gg > 0) & (tt >= gg), 0.1 * (tt - gg + 1), 0.0)
    y = unit_fe[:, None] + time_fe[None, :] + effect + rng.normal(size=(n_units, n_periods))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n_units), n_periods),
            "t": np.tile(periods, n_units),
            "g": np.repeat(g, n_periods),
            "y": y.ravel(),
        }
    )


def run_ours(df: pd.DataFrame):
    return att_gt(
        df,
        "y",
        "t",
        "id",
        "g",
        est_method="dr",
        control_group="nevertreated",
        bstrap=True,
        biters=BITERS,
        cband=True,
        seed=1,
        progress=False,
    )


def run_csdid(df: pd.DataFrame):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = ATTgt(
            yname="y",
            gname="g",
            idname="id",
            tname="t",
            data=df,
            control_group="nevertreated",
            biters=BITERS,
            cband=True,
        )
        return out.fit(est_method="dr", bstrap=True)


def timed(fn, df, repeats: int):
    best, res = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn(df)
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> None:
    print(f"Callaway-Sant'Anna att_gt, dr, never-treated, no covariates, {BITERS} bootstrap draws")
    print(
        f"{'panel':>16} {'n_gt':>5} {'ours [s]':>9} {'csdid [s]':>10} {'ratio':>7} {'max|dATT|':>10}"
    )
    for n_units, n_periods, repeats in SIZES:
        df = simulate_panel(n_units, n_periods)
        run_ours(df)  # warm-up (imports, BLAS threads)
        t_ours, ours = timed(run_ours, df, repeats)
        # csdid is slow on the large panel: time it once there
        t_cs, cs = timed(run_csdid, df, repeats if n_units < 1000 else 1)
        diff = np.max(np.abs(ours.att - np.asarray(cs.results["att"], float)))
        print(
            f"{n_units:>6} x {n_periods:<2} units {len(ours.att):>5} {t_ours:>9.3f} {t_cs:>10.3f} "
            f"{t_cs / t_ours:>6.1f}x {diff:>10.2e}"
        )


if __name__ == "__main__":
    main()
