"""Benchmark: our FWL wild cluster bootstrap vs the wildboottest package.

Run: ``python benchmarks/bench_wild_bootstrap.py [--quick]``. 300 units x 14 years, unit + year fixed effects
(explicit dummies for wildboottest, which has no FE absorption), 31 province clusters, WCR11,
B = 9,999 Rademacher and Webb draws, H0: beta = 0. Last line: the restricted WCR of the BJS
imputation ATT against a loop that refits ``imputation()`` on every bootstrap sample. wildboottest re-compiles its numba kernel on
every call (nested ``@njit``), so each call is timed as a user would experience it, with its
default ``parallel=True`` and with ``parallel=False``; the ratio uses the faster of the two.
"""

from __future__ import annotations

import time
import warnings

import _bench  # first: puts tests/ on sys.path for helpers
import numpy as np
import pandas as pd
import statsmodels.api as sm
from helpers.simulate import simulate_staggered_panel
from wildboottest.wildboottest import wildboottest

from analysis.did.imputation import imputation
from analysis.did.wild_bootstrap import (
    draw_weights,
    imputation_wild_bootstrap,
    wild_cluster_bootstrap,
)

QUICK = _bench.quick()
B = 99 if QUICK else 9999


def main() -> None:
    size = {"n_units": 60, "n_years": 8, "cohorts": (2008, 2010)} if QUICK else {"n_units": 300}
    df = simulate_staggered_panel(
        **size, n_clusters=31, effect=0.05, cluster_year_sd=0.2, seed=2
    )  # fmt: skip
    X = pd.concat(
        [
            df[["treat"]],
            pd.get_dummies(df["unit"], prefix="u", dtype=float),
            pd.get_dummies(df["year"], prefix="y", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    model = sm.OLS(df["y"], X)
    cl = df["province"].to_numpy()
    kw = {
        "yname": "y",
        "idname": "unit",
        "tname": "year",
        "cluster": "province",
        "dname": "treat",
        "B": B,
    }
    wild_cluster_bootstrap(df, seed=0, ci=False, **kw)  # warm-up (imports)
    print(
        f"N = {len(df)}, clusters = 31, k (wildboottest, explicit dummies) = {X.shape[1]}, B = {B}"
    )
    for w in ("rademacher", "webb"):
        t0 = time.perf_counter()
        ours = wild_cluster_bootstrap(df, seed=1, weights=w, ci=False, **kw)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours_ci = wild_cluster_bootstrap(df, seed=1, weights=w, ci=True, **kw)
        t_ci = time.perf_counter() - t0
        times, pvals = {}, {}
        for par in (False,) if QUICK else (True, False):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = wildboottest(
                    model,
                    B=B,
                    cluster=cl,
                    param="treat",
                    weights_type=w,
                    seed=1,
                    show=False,
                    parallel=par,
                )
            times[par] = time.perf_counter() - t0
            pvals[par] = float(ref["p-value"].iloc[0])
        best = min(times.values())
        lo, hi = ours_ci.conf_int
        print(
            f"[{w}] ours {t_ours * 1e3:.1f} ms (with test-inversion CI {t_ci * 1e3:.1f} ms) | "
            f"wildboottest parallel=True {times.get(True, float('nan')):.2f} s, "
            f"parallel=False {times[False]:.2f} s"
            f" | ratio {best / t_ours:.0f}x | p ours {ours.p_value:.4f}, "
            f"wildboottest {pvals[False]:.4f} (same seed) | t = {ours.t_stat:.3f} | "
            f"95% CI [{lo:.4f}, {hi:.4f}]"
        )
    assert np.isfinite(ours.p_value)
    bjs(df)


def bjs(df) -> None:
    """BJS imputation WCR: ours (B = 9,999) vs refitting imputation() on y* per draw."""
    kw = {"cluster": "province", "covariates": ["z"], "B": B, "seed": 1, "weights": "webb"}
    imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", ci=False, **kw)  # warm-up
    t0 = time.perf_counter()
    res = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", ci=False, **kw)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    res_ci = imputation_wild_bootstrap(df, "y", "year", "unit", "cohort", **kw)
    t_ci = time.perf_counter() - t0
    # naive: restricted TWFE fit, y* = fitted + v_g * resid, full imputation() per draw
    from analysis.did.fe import FEProjector

    unit = pd.factorize(df["unit"], sort=True)[0]
    year = pd.factorize(df["year"], sort=True)[0]
    resid = FEProjector(unit, year, df[["z"]].to_numpy()).residualize(df["y"].to_numpy())
    fitted = df["y"].to_numpy() - resid
    cl = pd.factorize(df["province"], sort=True)[0]
    V = draw_weights("webb", 31, B, np.random.default_rng(1))
    n_naive = 3 if QUICK else 30
    t0 = time.perf_counter()
    t_naive = []
    for b in range(n_naive):
        ystar = df.assign(y=fitted + V[cl, b] * resid)
        r = imputation(
            ystar,
            "y",
            "year",
            "unit",
            "cohort",
            covariates=["z"],
            horizons=False,
            cluster="province",
        )
        t_naive.append(r.estimates[0] / r.std_errors[0])
    naive = (time.perf_counter() - t0) * B / n_naive
    err = np.max(np.abs(np.array(t_naive) - res.t_boot[:n_naive]))
    lo, hi = res_ci.conf_int
    print(
        f"[BJS imputation WCR, webb] ours {t_ours:.2f} s (with CI {t_ci:.2f} s) | naive refit "
        f"loop (extrapolated from {n_naive}) {naive:.0f} s | ratio {naive / t_ours:.0f}x | "
        f"max |t* diff| {err:.1e} | p = {res.p_value:.4f}, 95% CI [{lo:.4f}, {hi:.4f}], "
        f"treated clusters {res.n_treated_clusters} of {res.n_clusters}"
    )


if __name__ == "__main__":
    main()
