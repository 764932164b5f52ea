"""Subgroup estimands of the imputation estimator: the same estimates and BJS variance as
:func:`analysis.did.imputation.imputation` for its own estimands, common-weight cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.did.imputation import imputation
from analysis.did.subgroup import common_weights, group_weights, imputation_fit, wald_equal


def _panel(seed: int = 0, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2020)
    cohort = rng.choice([0, 0, 2013, 2015, 2017], size=n)
    unit, year = np.repeat(np.arange(n), len(years)), np.tile(years, n)
    e = year - cohort[unit]
    treated = (cohort[unit] > 0) & (e >= 0)
    x = rng.normal(size=len(unit))
    y = (
        rng.normal(0, 1, n)[unit]
        + 0.02 * (year - 2010)
        + 0.3 * x
        + np.where(treated, 0.1 + 0.02 * np.minimum(e, 3), 0.0)
        + rng.normal(0, 0.05, len(unit))
    )
    return pd.DataFrame(
        {"id": unit, "t": year, "g": cohort[unit], "y": y, "x": x, "grp": unit % 3, "cl": unit % 25}
    )


@pytest.mark.parametrize("cluster", [None, "cl"])
@pytest.mark.parametrize("leaveout", [False, True])
def test_att_and_horizons_equal_the_imputation_module(cluster, leaveout):
    data = _panel()
    ref = imputation(data, "y", "t", "id", "g", ["x"], cluster=cluster, leaveout=leaveout)
    fit = imputation_fit(data, "y", "t", "id", "g", ["x"], cluster=cluster)
    tr = fit.treated
    W = pd.DataFrame({"ATT": np.full(len(tr), 1 / len(tr))})
    for h in ref.horizons:
        m = (tr["horizon"] == h).to_numpy()
        W[f"h{h}"] = m / m.sum()
    lin = fit.linear(W, fit.tau_bar(leaveout=leaveout))
    np.testing.assert_allclose(lin.estimates, ref.estimates, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lin.std_errors, ref.std_errors, rtol=1e-8)
    np.testing.assert_allclose(lin.vcov, ref.vcov, rtol=1e-8, atol=1e-14)
    # tau is the module's unit-level tau
    np.testing.assert_allclose(tr["tau"].to_numpy(), ref.tau["tau"].to_numpy(), rtol=1e-10)


def test_group_and_common_weights():
    data = _panel(1)
    fit = imputation_fit(data, "y", "t", "id", "g", ["x"], carry=["grp"])
    tr = fit.treated
    W = group_weights(tr["grp"], [0, 1, 2])
    lin = fit.linear(W)
    np.testing.assert_allclose(lin.estimates, tr.groupby("grp")["tau"].mean().to_numpy())
    C, mask = common_weights(tr, tr["grp"], [0, 1], ["cohort", "horizon"])
    assert mask.any() and not mask[(tr["grp"] == 2).to_numpy()].any()
    np.testing.assert_allclose(C.sum().to_numpy(), [1.0, 1.0])
    # common weights: cell means of each group, averaged with the pooled cell shares
    sub = tr[mask]
    cell = sub.groupby(["cohort", "horizon", "grp"])["tau"].mean().unstack()
    share = sub.groupby(["cohort", "horizon"]).size() / len(sub)
    expect = (cell.mul(share, axis=0)).sum()
    np.testing.assert_allclose(fit.linear(C).estimates, expect[[0, 1]].to_numpy())


def test_wald_equal_two_estimates_is_t_squared():
    f, q, p = wald_equal(np.array([0.3, 0.1]), np.diag([0.01, 0.01]), 31)
    t = 0.2 / np.sqrt(0.02)
    assert (f, q) == (pytest.approx(t**2), 1)
    from scipy import stats

    assert p == pytest.approx(2 * stats.t.sf(t, 30))
