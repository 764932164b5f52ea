"""The two options of ``did_multiplegt_dyn`` that are not the reference's (issue 20, the dCDH rows of
the network Monte Carlo): ``min_control_clusters`` (a comparison needs controls in at least that
many clusters) and ``jackknife`` (delete-one-cluster variance, t(C - 1) intervals). Off by default:
the reference's results (tests/did/test_multiplegt_dyn.py, Favara & Imbs) are untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.did.multiplegt_dyn import did_multiplegt_dyn


@pytest.fixture(scope="module")
def no_never():
    """Binary staggered cohorts 3..7 (8 periods), no never-treated group: the last cohorts'
    controls are the few groups not treated yet; effects growing with exposure; ten clusters."""
    rng = np.random.default_rng(3)
    n, periods = 150, 8
    g = rng.choice([3, 4, 5, 6, 7], n, p=[0.25, 0.25, 0.2, 0.2, 0.1])
    t = np.arange(1, periods + 1)
    treated = t[None, :] >= g[:, None]
    y = (
        rng.normal(size=(n, 1))
        + 0.2 * t[None, :]
        + treated * (0.5 + 0.1 * (t[None, :] - g[:, None]))
        + rng.normal(scale=0.3, size=(n, periods))
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "year": np.tile(2000 + t, n),
            "y": y.ravel(),
            "d": treated.ravel().astype(float),
            "cohort": np.repeat(2000 + g, periods),
            "cl": np.repeat(np.arange(n) % 10, periods),
        }
    )


def _naive_min(df, lag: int, k: int) -> float:
    """Effect ``lag`` by its definition, keeping the cohorts whose controls at ``F_g - 1 + lag``
    (not treated yet) number at least ``k`` groups."""
    wide = df.pivot(index="id", columns="year", values="y")
    g = df.groupby("id")["cohort"].first().reindex(wide.index).to_numpy()
    num = den = 0.0
    for c in np.unique(g):
        ref, end = c - 1, c - 1 + lag
        ctrl = g > end
        if end > wide.columns.max() or ctrl.sum() < k:
            continue
        diff = wide[end] - wide[ref]
        n_c = (g == c).sum()
        num += n_c * (diff[g == c].mean() - diff[ctrl].mean())
        den += n_c
    return num / den if den else np.nan


def test_min_control_clusters_one_is_the_reference(no_never):
    args = ("y", "id", "year", "d")
    ref = did_multiplegt_dyn(no_never, *args, effects=3, placebo=2, cluster="cl")
    one = did_multiplegt_dyn(no_never, *args, effects=3, placebo=2, cluster="cl",
                             min_control_clusters=1)  # fmt: skip
    pd.testing.assert_frame_equal(one.table, ref.table)


def test_min_control_clusters_drops_thin_comparisons(no_never):
    """Without ``cluster`` the count is of groups: the comparisons whose not-yet-treated controls
    are fewer than ``k`` groups leave the estimator, the others are unchanged."""
    g = no_never.groupby("id")["cohort"].first()
    k = int((g == 2007).sum()) + 1  # the last cohort alone is too few
    res = did_multiplegt_dyn(no_never, "y", "id", "year", "d", effects=3, min_control_clusters=k)
    ref = did_multiplegt_dyn(no_never, "y", "id", "year", "d", effects=3)
    for _, row in res.effects.iterrows():
        lag = int(row["horizon"])
        assert row["estimate"] == pytest.approx(_naive_min(no_never, lag, k), abs=1e-12)
    assert (res.effects.n_switchers < ref.effects.n_switchers).all()
    with pytest.raises(ValueError, match="min_control_clusters"):
        did_multiplegt_dyn(no_never, "y", "id", "year", "d", min_control_clusters=0)


def test_jackknife_is_the_delete_one_cluster_variance(no_never):
    kw = {"effects": 3, "placebo": 2, "cluster": "cl", "normalized": True}
    args = ("y", "id", "year", "d")
    ana = did_multiplegt_dyn(no_never, *args, **kw)
    jk = did_multiplegt_dyn(no_never, *args, **kw, jackknife=True)
    pd.testing.assert_series_equal(jk.table["estimate"], ana.table["estimate"])
    terms = list(ana.table["term"])
    reps = np.array(
        [
            did_multiplegt_dyn(no_never[no_never["cl"] != c], *args, **kw)
            .table.set_index("term")["estimate"]
            .reindex(terms)
            .to_numpy()
            for c in range(10)
        ]
    )
    se = np.sqrt(9 / 10 * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    np.testing.assert_allclose(jk.table["std_error"], se, rtol=1e-12)
    assert jk.df == 9 and ana.df is None
    crit = stats.t.ppf(0.975, 9)
    td = jk.tidy()
    np.testing.assert_allclose(td["conf_high"] - td["estimate"], crit * se, rtol=1e-12)
    # vcov: Effect_1..3, Placebo_1..2, the replicates' covariance
    order = [terms.index(t) for t in terms if t != "Average_Total_Effect"]
    dev = reps[:, order] - reps[:, order].mean(axis=0)
    np.testing.assert_allclose(jk.vcov, 9 / 10 * dev.T @ dev, rtol=1e-10)
    assert jk.placebo_test() is not None and jk.p_joint_effects is not None


def test_a_term_without_an_estimate_leaves_the_jackknife_tests_not_voids_them(no_never):
    """A placebo the full sample cannot estimate (NaN, e.g. no comparison with controls in enough
    clusters) keeps NaN rows and columns of the jackknife covariance; the other terms keep theirs
    and the joint placebo test runs on the placebos that have an estimate (on the default panel the
    broadband row lost its placebo test to one such placebo)."""
    import inspect
    from dataclasses import replace

    from analysis.did.multiplegt_dyn import _jackknife

    kw = {"effects": 2, "placebo": 2, "cluster": "cl"}
    args = ("y", "id", "year", "d")
    jk = did_multiplegt_dyn(no_never, *args, **kw, jackknife=True)
    fit = did_multiplegt_dyn(no_never, *args, **kw)
    table = fit.table.copy()
    table.loc[table["term"] == "Placebo_2", "estimate"] = np.nan
    params = inspect.signature(did_multiplegt_dyn).parameters
    call = {k: p.default for k, p in params.items() if k not in ("data", "jackknife")}
    call |= dict(zip(list(params)[1:5], args)) | kw  # as did_multiplegt_dyn passes them on
    out = _jackknife(no_never, replace(fit, table=table), call)
    V = out.vcov
    assert np.isnan(V[3]).all() and np.isnan(V[:, 3]).all()  # Effect_1, Effect_2, Placebo_1, _2
    np.testing.assert_allclose(V[:3, :3], jk.vcov[:3, :3], rtol=1e-10)
    test = out.placebo_test()
    assert test is not None and test.df == 1
    b = out.placebos["estimate"].to_numpy()[0]
    assert test.statistic == pytest.approx(b**2 / V[2, 2], rel=1e-10)
    assert out.p_joint_placebos == pytest.approx(test.p_value, rel=1e-10)


def test_jackknife_replicates_ask_one_control_cluster_fewer(no_never):
    """Deleting a cluster takes at most one cluster from a comparison's controls, so the
    replicates ask ``min_control_clusters - 1``: they keep the full sample's comparisons. With the
    rule at every cluster (a 6-province user file against the study's 5 behaves alike) no replicate
    could meet it otherwise, and the jackknife had no variance."""
    args = ("y", "id", "year", "d")
    kw = {"effects": 2, "placebo": 1, "cluster": "cl", "normalized": True}
    k = int(no_never["cl"].nunique())  # controls in every cluster
    jk = did_multiplegt_dyn(no_never, *args, **kw, min_control_clusters=k, jackknife=True)
    terms = list(jk.table["term"])
    kw_rep = {**kw, "min_control_clusters": k - 1}
    reps = np.array(
        [
            did_multiplegt_dyn(no_never[no_never["cl"] != c], *args, **kw_rep)
            .table.set_index("term")["estimate"]
            .reindex(terms)
            .to_numpy()
            for c in range(k)
        ]
    )
    se = np.sqrt((k - 1) / k * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    assert np.isfinite(jk.table["std_error"]).all()
    np.testing.assert_allclose(jk.table["std_error"], se, rtol=1e-12)
