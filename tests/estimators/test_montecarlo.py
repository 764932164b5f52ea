"""Monte Carlo coverage of the heterogeneity-robust estimators on the synthetic DGP (slow: ~4 min
on 2 cores for 200 replications of the full 337-city panel; `make test-slow`)."""

from __future__ import annotations

import pytest

from analysis.montecarlo import ROBUST, run_monte_carlo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table():
    return run_monte_carlo(n_reps=200, seed=20240601, n_jobs=2, progress=False)


@pytest.mark.parametrize(
    "estimator",
    [
        pytest.param(e, marks=pytest.mark.xfail(reason=(
            "BJS conservative variance without the leave-out correction under-covers (70.5%): the "
            "rail event-time effects are identified by a handful of untreated rail-city years "
            "(high leverage, residuals ~0); see the issue-4 report"), strict=False))
        if e == "bjs" else e
        for e in ROBUST
    ],
)
def test_robust_estimators_have_nominal_coverage(table, estimator):
    row = table.loc[estimator]
    assert row.n_reps >= 200
    assert 0.93 <= row.coverage <= 0.97, table
    assert abs(row.bias) < 0.25 * row.sd_estimate  # unbiased up to Monte Carlo noise


def test_single_dummy_twfe_is_biased(table):
    row = table.loc["twfe"]
    assert row.bias < -0.015 and row.coverage < 0.5
