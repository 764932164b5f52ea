"""Goodman-Bacon decomposition against the published R bacondecomp numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.did.bacon import TYPES, bacon_decomposition


@pytest.fixture(scope="module")
def castle(load_validation):
    return bacon_decomposition(load_validation("castle.csv"), "l_homicide", "post", "state", "year")


@pytest.fixture(scope="module")
def math_reform(load_validation):
    return bacon_decomposition(
        load_validation("math_reform.csv"), "incearn_ln", "reform_math", "state", "class"
    )


def test_castle_matches_bacondecomp(castle):
    assert castle.twfe == pytest.approx(0.0818116, abs=1e-7)
    w = castle.weights_by_type
    assert w["Treated vs Untreated"] == pytest.approx(0.90834, abs=1e-5)
    assert w["Earlier vs Later Treated"] == pytest.approx(0.05976, abs=1e-5)
    assert w["Later vs Earlier Treated"] == pytest.approx(0.03190, abs=1e-5)
    # 5 treated cohorts x (4 other cohorts + never treated) ordered pairs
    assert len(castle.two_by_twos) == 25


def test_math_reform_matches_bacondecomp(math_reform):
    w = math_reform.weights_by_type
    assert w["Earlier vs Later Treated"] == pytest.approx(0.06353, abs=1e-5)
    assert w["Later vs Earlier Treated"] == pytest.approx(0.05265, abs=1e-5)
    assert w["Treated vs Untreated"] == pytest.approx(0.88382, abs=1e-5)


@pytest.mark.parametrize("name", ["castle", "math_reform"])
def test_weighted_sum_equals_twfe(name, request):
    res = request.getfixturevalue(name)
    assert res.two_by_twos["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert abs(res.weighted_sum - res.twfe) < 1e-8
    assert res.check()


def _synthetic_panel(seed: int = 7) -> pd.DataFrame:
    """Balanced panel with always-, never- and staggered-treated units and heterogeneous effects."""
    rng = np.random.default_rng(seed)
    periods = np.arange(2000, 2010)
    cohorts = rng.choice([2000, 2003, 2005, 2008, np.inf], size=60)  # 2000 = always treated
    rows = []
    for i, g in enumerate(cohorts):
        alpha = rng.normal()
        for t in periods:
            d = float(t >= g)
            effect = d * (0.5 + 0.1 * (t - g if np.isfinite(g) else 0))
            rows.append((i, t, d, alpha + 0.2 * (t - 2000) + effect + rng.normal(scale=0.3)))
    return pd.DataFrame(rows, columns=["id", "t", "d", "y"])


def test_always_treated_and_identity_against_ols():
    df = _synthetic_panel()
    res = bacon_decomposition(df, "y", "d", "id", "t")
    assert set(res.two_by_twos["type"]) == set(TYPES)
    assert abs(res.weighted_sum - res.twfe) < 1e-8
    # TWFE from an explicit dummy-variable regression (independent of the within transformation)
    X = pd.get_dummies(df[["id", "t"]].astype(str), drop_first=True).astype(float)
    X.insert(0, "d", df["d"])
    X.insert(0, "const", 1.0)
    beta = np.linalg.lstsq(X.to_numpy(), df["y"].to_numpy(), rcond=None)[0]
    assert res.twfe == pytest.approx(beta[1], abs=1e-10)
    # one 2x2 (earlier 2003 vs later 2008, window before 2008) against its own regression
    row = res.two_by_twos.query("treated == 2003 and untreated == 2008").iloc[0]
    first = df["t"].where(df["d"] == 1).groupby(df["id"]).transform("min")
    sub = df[first.isin([2003, 2008])]
    sub = sub[sub["t"] < 2008]
    Xs = pd.get_dummies(sub[["id", "t"]].astype(str), drop_first=True).astype(float)
    Xs.insert(0, "d", sub["d"])
    Xs.insert(0, "const", 1.0)
    b2 = np.linalg.lstsq(Xs.to_numpy(), sub["y"].to_numpy(), rcond=None)[0]
    assert row["estimate"] == pytest.approx(b2[1], abs=1e-10)


def test_rejects_unbalanced_and_non_absorbing():
    df = _synthetic_panel()
    with pytest.raises(ValueError, match="balanced"):
        bacon_decomposition(df.iloc[1:], "y", "d", "id", "t")
    bad = df.copy()
    bad.loc[(bad["id"] == bad.loc[bad["d"] == 1, "id"].iloc[0]) & (bad["t"] == 2009), "d"] = 0
    with pytest.raises(ValueError, match="absorbing"):
        bacon_decomposition(bad, "y", "d", "id", "t")


def test_outputs(castle):
    tidy = castle.tidy()
    assert list(tidy.columns[:7]) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert tidy["term"].iloc[-1] == "TWFE"
    assert "Treated vs Untreated" in castle.summary()
    ax = castle.plot()
    assert len(ax.collections) == 3
    assert ax.lines[0].get_ydata()[0] == pytest.approx(castle.twfe)
