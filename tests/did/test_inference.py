"""Few-cluster inference helpers: t(G-1) critical values and the few-treated-clusters diagnostic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.did.inference import (
    cluster_diagnostic,
    critical_value,
    t_conf_int,
    t_p_value,
)


def test_critical_values_are_t_quantiles():
    # published t tables: t_{0.975}(30) = 2.042272, t_{0.975}(1) = 12.7062, t_{0.95}(16) = 1.745884
    assert critical_value(0.05, 31) == pytest.approx(2.042272, abs=1e-6)
    assert critical_value(0.05, 2) == pytest.approx(12.7062, abs=1e-4)
    assert critical_value(0.10, 17) == pytest.approx(1.745884, abs=1e-6)
    assert critical_value(0.05, None) == pytest.approx(1.959964, abs=1e-6)
    assert critical_value(0.05, 10_000) == pytest.approx(1.96, abs=1e-3)
    lo, hi = t_conf_int(0.1, 0.02, 31)
    assert (lo, hi) == pytest.approx((0.1 - 2.042272 * 0.02, 0.1 + 2.042272 * 0.02), abs=1e-7)
    assert t_p_value(2.042272, 31) == pytest.approx(0.05, abs=1e-6)
    assert t_p_value(1.959964, None) == pytest.approx(0.05, abs=1e-6)
    for bad in [(0.05, 1), (0.05, 2.5), (0.0, 10), (1.2, 10)]:
        with pytest.raises(ValueError):
            critical_value(*bad)


def _units(n_units, cohorts, n_prov=31, seed=0):
    """One row per unit; ``cohorts`` maps cohort -> number of treated units."""
    rng = np.random.default_rng(seed)
    g = np.zeros(n_units, dtype=int)
    start = 0
    for c, k in cohorts.items():
        g[start : start + k] = c
        start += k
    return pd.DataFrame(
        {"city": np.arange(n_units), "province": rng.integers(0, n_prov, n_units), "g": g}
    )


def test_rail_like_design_is_flagged():
    """17 treated cities out of 337, one of them the lone 2015 cohort (the rail case)."""
    units = _units(337, {2015: 1, 2017: 8, 2019: 8})
    panel = units.loc[units.index.repeat(3)].assign(year=np.tile([2014, 2016, 2018], 337))
    d = cluster_diagnostic(panel, "city", "g", idname="city")
    assert (d.n_clusters, d.n_treated_clusters, d.n_control_clusters) == (337, 17, 320)
    assert d.treated_by_cohort.to_dict() == {2015: 1, 2017: 8, 2019: 8}
    assert d.thin_cohorts == [2015, 2017, 2019]
    assert not d.few_treated_clusters and not d.analytic_unreliable  # 17 >= 10 overall
    d5 = cluster_diagnostic(units, "city", "g", min_treated_clusters=20)
    assert d5.analytic_unreliable and "randomization inference" in d5.recommendation
    one = cluster_diagnostic(_units(50, {2015: 1}), "city", "g")
    assert one.analytic_unreliable and one.recommendation.startswith("one treated")
    assert "t(G-1)" in d.summary() and len(d.tidy()) == 8


def test_many_treated_clusters_are_fine_and_province_counts():
    units = _units(337, {2010: 60, 2013: 60, 2016: 43}, n_prov=31, seed=2)
    by_city = cluster_diagnostic(units, "city", "g")
    assert not by_city.analytic_unreliable and not by_city.few_clusters
    assert by_city.recommendation.startswith("analytic")
    by_prov = cluster_diagnostic(units, "province", "g")
    assert by_prov.n_clusters == units["province"].nunique()
    assert by_prov.few_clusters and "t(G-1)" in by_prov.recommendation


def test_bad_input():
    units = _units(20, {2015: 5})
    with pytest.raises(KeyError):
        cluster_diagnostic(units, "nope", "g")
    panel = pd.concat([units, units.assign(g=units["g"] + 1)])
    with pytest.raises(ValueError, match="constant within"):
        cluster_diagnostic(panel, "city", "g", idname="city")
    nan = units.assign(g=units["g"].where(units["g"] > 0))  # NaN = never treated
    assert cluster_diagnostic(nan, "city", "g").n_control_clusters == 15


def test_wald_statistic_equals_the_usual_one_at_full_rank():
    from analysis.did.inference import wald_statistic

    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 4))
    V = A.T @ A
    b = rng.normal(size=4)
    w, df = wald_statistic(b, V)
    assert df == 4 and abs(w - b @ np.linalg.solve(V, b)) < 1e-10 * w


def test_wald_statistic_on_a_singular_covariance_is_stable():
    """More restrictions than clusters: V has rank G - 1. The statistic uses the generalised
    inverse on V's range with df = rank, and last-bit noise (another CPU) does not move it, where
    ``solve`` returned rounding noise (issue 16)."""
    from analysis.did.inference import wald_statistic

    rng = np.random.default_rng(2)
    scores = rng.normal(size=(3, 5))  # 3 clusters, 5 coefficients: rank 3
    V = scores.T @ scores
    b = scores.T @ rng.normal(size=3)  # in the range of V
    w, df = wald_statistic(b, V)
    noisy = V * (1 + 1e-14 * rng.normal(size=V.shape))
    w2, df2 = wald_statistic(b, (noisy + noisy.T) / 2)
    assert df == df2 == 3
    assert abs(w - w2) < 1e-8 * w
    expected = b @ np.linalg.pinv(V) @ b
    assert abs(w - expected) < 1e-8 * expected
