"""Benchmark: Goodman-Bacon decomposition and HonestDiD Delta^RM inversion vs literal R-style ports.

Run: ``VALIDATION_DATA_DIR=../shared/validation python benchmarks/bench_bacon_honestdid.py [--quick]``.
No Python peer package is installed (bacondecomp and HonestDiD are R; PyPI ``honestdid`` needs
torch), so each piece is timed against a literal port of the R algorithm measured in the same run:

* Bacon (castle, 25 comparisons): ours (group-mean 2x2 DiDs) vs one pyfixest ``feols`` per 2x2
  subsample, as ``bacondecomp::bacon`` does with ``fixest::feols``; also checks the estimates agree.
* HonestDiD C-LF for Delta^RM(Mbar = 1) on ehec (10 choices of (s, sign), 1,000 grid points and
  1,000 least-favorable draws each): ours (dual vertices enumerated once) vs one HiGHS LP per grid
  point / draw, as R solves one lpSolveAPI program each; the LP loop is timed on 200 programs and
  extrapolated to the 20,000 the inversion needs.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import _bench
import numpy as np
import pandas as pd
from scipy import optimize

from analysis.did.bacon import bacon_decomposition
from analysis.did.honestdid import (
    _ARPMoments,
    _construct_gamma,
    _create_A_RM,
    conditional_cs_rm,
)

QUICK = _bench.quick()
GRID = 100 if QUICK else 1000  # grid points (and least-favorable draws) of the inversion
DATA = Path(os.environ.get("VALIDATION_DATA_DIR", "../shared/validation"))


def bench_bacon() -> None:
    import pyfixest as pf

    castle = pd.read_csv(DATA / "castle.csv")
    bacon_decomposition(castle, "l_homicide", "post", "state", "year")  # warm-up
    t0 = time.perf_counter()
    res = bacon_decomposition(castle, "l_homicide", "post", "state", "year")
    ours = time.perf_counter() - t0

    first = castle["year"].where(castle["post"] == 1).groupby(castle["state"]).transform("min")
    g = first.fillna(np.inf)
    pf.feols("l_homicide ~ post | state + year", data=castle)  # warm-up (numba compile)
    t0 = time.perf_counter()
    naive = []
    for row in res.two_by_twos.itertuples():
        k, c = row.treated, row.untreated
        sub = castle[g.isin([k, c])]
        sub = sub[sub["year"] < c] if k < c else sub[sub["year"] >= c]
        fit = pf.feols("l_homicide ~ post | state + year", data=sub)
        naive.append(fit.coef()["post"])
    naive_t = time.perf_counter() - t0
    err = np.max(np.abs(np.array(naive) - res.two_by_twos["estimate"].to_numpy()))
    print(
        f"[bacon castle] ours {ours * 1e3:.1f} ms | feols per 2x2: {naive_t * 1e3:.0f} ms | "
        f"ratio {naive_t / ours:.0f}x | max |diff| {err:.1e}"
    )


def ehec_inputs():
    import pyfixest as pf

    df = pd.read_csv(DATA / "ehec.csv")
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    df["D"] = (df["yexp2"] == 2014).astype(int)
    fit = pf.feols("dins ~ i(year, D, ref=2013) | stfips + year", data=df, vcov={"CRV1": "stfips"})
    return fit.coef().to_numpy(), np.asarray(fit._vcov)


def bench_rm() -> None:
    beta, sigma = ehec_inputs()
    conditional_cs_rm(beta, sigma, 5, 2, Mbar=1.0, gridPoints=50)  # warm-up
    t0 = time.perf_counter()
    conditional_cs_rm(beta, sigma, 5, 2, Mbar=1.0, gridPoints=GRID)
    ours = time.perf_counter() - t0

    # Literal port: one LP per (grid point or draw); timed on N_LP programs for one (s, sign).
    n_lp, n_needed = (20 if QUICK else 200), 10 * (GRID + 1000)
    A = _create_A_RM(5, 2, 1.0, 0, True)
    rows = np.flatnonzero((A[:, 5:] != 0).any(axis=1))
    AG = A[:, 5:] @ np.linalg.inv(_construct_gamma(np.array([1.0, 0.0])))
    X, S = AG[rows, 1:], (A @ sigma @ A.T)[np.ix_(rows, rows)]
    sd = np.sqrt(np.diag(S))
    grid = np.linspace(-0.2, 0.2, n_lp)
    Y = (A @ beta)[rows, None] - AG[rows, :1] * grid
    t0 = time.perf_counter()
    eta_lp = []
    for y in Y.T:
        res = optimize.linprog(
            np.r_[1.0, 0.0],
            A_ub=-np.column_stack([sd, X]),
            b_ub=-y,
            bounds=[(None, None)] * 2,
            method="highs",
        )
        eta_lp.append(res.fun)
    naive_t = (time.perf_counter() - t0) * n_needed / n_lp
    eta_ours, _ = _ARPMoments(X, S).eta(Y)
    err = np.max(np.abs(np.array(eta_lp) - eta_ours))
    print(
        f"[HonestDiD RM, Mbar=1, ehec] ours {ours:.2f} s | one HiGHS LP per point/draw "
        f"(extrapolated from {n_lp} to {n_needed} LPs): {naive_t:.1f} s | "
        f"ratio {naive_t / ours:.0f}x | max |eta diff| {err:.1e}"
    )


def main() -> None:
    warnings.filterwarnings("ignore")
    bench_bacon()
    bench_rm()


if __name__ == "__main__":
    main()
