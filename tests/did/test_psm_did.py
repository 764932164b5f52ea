"""PSM-DID: matching weights, balance diagnostics and bias reduction under selection on x."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from helpers.simulate import simulate_staggered_panel
from linearmodels.panel import PanelOLS

from analysis.did.psm_did import balance_table, match_units, psm_did
from analysis.did.results import TIDY_COLUMNS

TRUTH = 0.5


@pytest.fixture(scope="module")
def selected_panel():
    """Units with high x select into treatment and have steeper trends: plain DiD is biased up."""
    return simulate_staggered_panel(
        n_units=400,
        n_years=12,
        first_year=2005,
        n_clusters=31,
        cohorts=(2010, 2012, 2014),
        effect=TRUTH,
        selection=2.0,
        trend_on_x=0.1,
        seed=1,
    )


def test_nearest_neighbour_caliper_by_hand():
    score = np.array([0.0, 1.0, 0.1, 0.5, 2.0, 0.05])
    treated = np.array([True, True, False, False, False, False])
    w = match_units(score, treated, caliper=0.3, scale="absolute")
    np.testing.assert_array_equal(w, [1, 0, 0, 0, 0, 1])  # treated 1 has no control within 0.3
    w2 = match_units(score, treated, n_neighbors=2, caliper=None, scale="absolute")
    np.testing.assert_allclose(w2, [1, 1, 1.0, 0.5, 0, 0.5])  # 0 -> {0.05, 0.1}; 1 -> {0.5, 0.1}
    # without replacement both treated units cannot take the same control
    s3 = np.array([0.0, 0.02, 0.01, 0.5])
    w3 = match_units(
        s3, np.array([True, True, False, False]), caliper=None, replace=False, scale="absolute"
    )
    assert w3[2] == 1 and w3[3] == 1 and w3[:2].sum() == 2


def test_epanechnikov_kernel_weights_by_hand():
    score = np.array([0.0, 0.1, 0.5, 2.0])
    treated = np.array([True, False, False, False])
    w = match_units(score, treated, method="kernel", bandwidth=1.0, scale="absolute")
    k = 0.75 * (1 - np.array([0.1, 0.5]) ** 2)
    np.testing.assert_allclose(w, [1, k[0] / k.sum(), k[1] / k.sum(), 0])


def test_balance_table_by_hand():
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 0.0, 1.0, 5.0]})
    t = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    w = np.array([1, 1, 1, 2, 1, 0], dtype=float)
    b = balance_table(x, t, w).loc["a"]
    pooled = np.sqrt((np.var([1, 2, 3], ddof=1) + np.var([0, 1, 5], ddof=1)) / 2)
    assert b["smd_before"] == pytest.approx((2 - 2) / pooled)
    assert b["var_ratio_before"] == pytest.approx(1 / 7)
    assert b["mean_control_matched"] == pytest.approx(1 / 3)
    assert b["smd_after"] == pytest.approx((2 - 1 / 3) / pooled)


@pytest.mark.parametrize(
    "kw",
    [
        {"method": "nearest"},
        {"method": "nearest", "replace": False},
        {"method": "nearest", "caliper": 0.05},
        {"method": "kernel", "bandwidth": 0.1},
    ],
    ids=["nn-replace", "nn-no-replace", "nn-caliper0.05", "kernel"],
)
def test_matching_balances_and_reduces_bias(selected_panel, kw):
    res = psm_did(
        selected_panel,
        "y",
        "unit",
        "year",
        "cohort",
        covariates=["x_pre"],
        cluster="province",
        **kw,
    )
    bal = res.balance_table()
    assert (bal["smd_before"].abs() > 1.0).all()  # strong selection on x
    assert (bal["smd_after"].abs() < 0.1).all()
    bias_plain = abs(res.estimate_unmatched - TRUTH)
    bias_psm = abs(res.estimate - TRUTH)
    assert bias_plain > 0.4
    assert bias_psm < 0.5 * bias_plain
    assert abs(res.estimate - TRUTH) < 3 * res.std_error + 0.15
    assert res.n_treated_matched > 0.5 * res.n_treated


def test_frequency_weights_equal_duplicated_units(selected_panel):
    """1-NN with replacement: weighted TWFE = TWFE on a sample with controls duplicated."""
    res = psm_did(
        selected_panel,
        "y",
        "unit",
        "year",
        "cohort",
        covariates=["x_pre"],
        method="nearest",
        caliper=0.25,
    )
    w = res.units["weight"]
    assert np.allclose(w, np.round(w))
    df = selected_panel[selected_panel["unit"].map(w) > 0]
    reps = []
    for u, k in w[w > 0].astype(int).items():
        for j in range(k):
            reps.append(df[df["unit"] == u].assign(uid=f"{u}_{j}"))
    dup = pd.concat(reps).assign(D=lambda d: d["treat"]).set_index(["uid", "year"])
    ref = PanelOLS(dup["y"], dup[["D"]], entity_effects=True, time_effects=True).fit()
    assert res.estimate == pytest.approx(ref.params["D"], abs=1e-10)


def test_baseline_year_outputs_and_plot(selected_panel):
    res = psm_did(
        selected_panel,
        "y",
        "unit",
        "year",
        "cohort",
        covariates=["x_pre", "w"],
        controls=["z"],
        method="kernel",
        pre_period=2006,
    )
    tidy = res.tidy(unmatched=True)
    assert list(tidy.columns) == TIDY_COLUMNS and len(tidy) == 2
    assert {"smd_before", "smd_after", "var_ratio_before", "var_ratio_after"} <= set(
        res.balance_table().columns
    )
    assert "PSM-DID" in res.summary()
    ax = res.plot()
    assert len(ax.get_yticklabels()) == 3
