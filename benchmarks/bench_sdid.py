"""Benchmark: our synthetic DiD / synthetic control (analysis.did.synthdid) vs diff-diff's
``SyntheticDiD`` and pysyncon's ``Synth``.

Run: ``VALIDATION_DATA_DIR=../shared/validation python benchmarks/bench_sdid.py [--quick]``
(the peers are in the project's ``bench`` dependency group). Two panels:

* **prop99** (California's Proposition 99, 39 states x 31 years, one treated unit from 1989;
  ``california_prop99.csv`` in VALIDATION_DATA_DIR): the published R synthdid estimates;
* **337 cities** (the default synthetic panel of this project, 337 prefecture cities x 14 years):
  the four China-Laos corridor cities treated from 2022 against the 333 others, raw log exports
  (the corridor notebook's block design without its donor rule and outcome adjustment).

SDID: ours (placebo SE, ``replications`` draws) vs ``diff_diff.SyntheticDiD(variance_method=
"placebo", n_bootstrap=replications)``; both port R's Frank-Wolfe solver, so the point estimates
agree to rounding; the placebo SEs agree too, since both draw the placebo permutations with
numpy's ``default_rng`` from the same seed.
SC: ours (``estimator="sc"``: R's ``sc_estimate``, simplex weights on the pre-period outcomes, no
intercept, ridge 1e-6 x noise level) vs pysyncon ``Synth.fit`` with the pre-period outcomes as
predictors and a fixed V that undoes its predictor scaling (the same least-squares problem on the
simplex, no ridge, solved by scipy's SLSQP); pysyncon takes one treated unit, so on the city panel
the treated series is the corridor mean. The SC estimates differ by design, not by error: ours
stops where R's Frank-Wolfe rule stops (an iteration lowering the objective by less than
(1e-5 x noise level)^2) and keeps R's tiny ridge, so it reproduces R's ``sc_estimate`` (prop99:
-19.62, tests/did/test_synthdid.py); pysyncon runs SLSQP to convergence and fits the pre-period
more closely (the pre-period RMSE of both is printed). With 333 controls and 12 pre-periods the
problem has many near-optimal solutions, and the weights then differ visibly.

Each line prints ours, theirs, the ratio theirs / ours and the largest absolute difference of the
estimates. ``--quick``: 20 placebo draws instead of 200 (the bench convention).

Measured (2 shared cores under heavy load, 200 draws): prop99 SDID ours 2.2 s, diff-diff 1.0 s
(ratio 0.5x), ATT equal to 1.8e-14, same SE; SC ours 181 ms, pysyncon 17 ms (0.1x), ATT -19.620
vs -19.514. 337 cities: SDID ours 25.5 s, diff-diff 11.1 s (0.4x), ATT equal to 3.0e-14; SC ours
350 ms, pysyncon 1.6 s (4.5x), ATT 0.120 vs 0.145. diff-diff is the faster SDID implementation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from analysis.did.synthdid import synthdid

DATA = Path(os.environ.get("VALIDATION_DATA_DIR", "../shared/validation"))


def prop99() -> tuple[pd.DataFrame, tuple[str, str, str, str]]:
    df = pd.read_csv(DATA / "california_prop99.csv", sep=";")
    return df, ("PacksPerCapita", "State", "Year", "treated")


def cities() -> tuple[pd.DataFrame, tuple[str, str, str, str]]:
    from helpers.city_panel_data import city_inputs

    _, panel, _ = city_inputs()
    df = panel[["city_code", "year", "log_exports", "laos_rail_year"]].copy()
    df["treat"] = ((df["laos_rail_year"] > 0) & (df["year"] >= df["laos_rail_year"])).astype(int)
    return df, ("log_exports", "city_code", "year", "treat")


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def bench_sdid(name: str, df: pd.DataFrame, cols, reps: int) -> None:
    from diff_diff import SyntheticDiD

    y, unit, t, d = cols
    ours, t_ours = timed(
        lambda: synthdid(df, y, unit, t, d, se_method="placebo", replications=reps, seed=1)
    )
    ever = df.groupby(unit)[d].transform("max")
    post = sorted(df.loc[df[d] == 1, t].unique().tolist())
    data = df.assign(_ever=ever)

    def theirs_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = SyntheticDiD(variance_method="placebo", n_bootstrap=reps, seed=1)
            return est.fit(data, outcome=y, treatment="_ever", unit=unit, time=t,
                           post_periods=post)  # fmt: skip

    theirs, t_theirs = timed(theirs_fit)
    diff = abs(ours.att - float(theirs.att))
    print(
        f"[{name}, SDID, placebo SE {reps} draws] ours {t_ours:.2f} s | diff-diff "
        f"{t_theirs:.2f} s | ratio {t_theirs / t_ours:.1f}x | ATT ours {ours.att:.6f}, "
        f"diff-diff {float(theirs.att):.6f} (max |diff| {diff:.1e}) | SE ours {ours.se:.4f}, "
        f"diff-diff {float(theirs.se):.4f}"
    )


def bench_sc(name: str, df: pd.DataFrame, cols) -> None:
    from pysyncon import Synth

    y, unit, t, d = cols
    ours, t_ours = timed(lambda: synthdid(df, y, unit, t, d, estimator="sc", se_method=None), 3)
    wide = df.pivot(index=t, columns=unit, values=y)
    treated_units = df.loc[df[d] == 1, unit].unique()
    first = df.loc[df[d] == 1, t].min()
    pre = wide.index < first
    controls = wide.drop(columns=treated_units)
    z1 = wide[treated_units].mean(axis=1).rename("treated")
    # pysyncon divides each predictor (here: a pre-period year) by its SD across units; a V of
    # those variances undoes it, so that it solves our least-squares problem on the simplex
    scale = pd.concat([controls[pre], z1[pre]], axis=1).std(axis=1).to_numpy() ** 2

    def theirs_fit():
        synth = Synth()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synth.fit(X0=controls[pre], X1=z1[pre], Z0=controls[pre], Z1=z1[pre],
                      custom_V=scale)  # fmt: skip
        w = synth.W
        return float((z1[~pre] - controls[~pre].to_numpy() @ w).mean()), w

    (att_theirs, w_theirs), t_theirs = timed(theirs_fit, 3)
    w_ours = ours.unit_weights.reindex(controls.columns).to_numpy()
    w_theirs = np.asarray(w_theirs)

    def rmse(w):
        return float(np.sqrt(np.mean((z1[pre].to_numpy() - controls[pre].to_numpy() @ w) ** 2)))

    print(
        f"[{name}, SC] ours {t_ours * 1e3:.0f} ms | pysyncon {t_theirs * 1e3:.0f} ms | ratio "
        f"{t_theirs / t_ours:.1f}x | ATT ours {ours.att:.6f}, pysyncon {att_theirs:.6f} "
        f"(max |diff| {abs(ours.att - att_theirs):.1e}; largest weight difference "
        f"{np.max(np.abs(w_ours - w_theirs)):.1e}; pre-period RMSE ours {rmse(w_ours):.4g}, "
        f"pysyncon {rmse(w_theirs):.4g})"
    )


def main(quick: bool = False) -> None:
    reps = 20 if quick else 200
    for name, load in (("prop99", prop99), ("337 cities", cities)):
        df, cols = load()
        synthdid(df, *cols, se_method=None)  # warm-up (imports, first solver call)
        bench_sdid(name, df, cols, reps)
        bench_sc(name, df, cols)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 placebo draws instead of 200")
    main(parser.parse_args().quick)
