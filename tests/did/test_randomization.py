"""Randomization inference: placebo statistics equal refits, stratification, validity and
determinism."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from helpers.simulate import simulate_staggered_panel
from linearmodels.panel import PanelOLS
from scipy import stats

from analysis.did.fe import treatment_from_cohort
from analysis.did.results import TIDY_COLUMNS


def _panelols_coef(df, cohort_by_unit, controls):
    d = df.copy()
    d["D"] = treatment_from_cohort(d["unit"].map(cohort_by_unit).to_numpy(), d["year"].to_numpy())
    p = d.set_index(["unit", "year"])
    fit = PanelOLS(p["y"], p[["D", *controls]], entity_effects=True, time_effects=True).fit()
    return fit.params["D"]


# ================================================== general path: any estimator, studentized
import pandas as pd

from analysis.did.callaway_santanna import att_gt
from analysis.did.fe import fit_within
from analysis.did.imputation import imputation
from analysis.did.randomization import (
    bjs_statistic,
    cs_statistic,
    permutation_test,
    permute_cohorts,
)


def _twfe_stat(data):
    """TWFE coefficient of D = 1{t >= g} and its unit-clustered CRV1 s.e. (the FE kernel)."""
    d = data.assign(D=treatment_from_cohort(data["cohort"].to_numpy(), data["year"].to_numpy()))
    fit = fit_within(d, "y", ["D"], "unit", "year")
    return float(fit.params[0]), float(fit.std_errors[0])


@pytest.mark.parametrize("within", [None, "province"])
def test_placebo_statistics_equal_panelols_refits(within):
    """Each placebo draw is the estimator refitted on the permuted cohorts: the unstudentized TWFE
    statistic equals linearmodels' PanelOLS on the placebo treatment."""
    df = simulate_staggered_panel(
        n_units=60, n_years=7, first_year=2000, n_clusters=5, cohorts=(2003, 2005), seed=12
    )
    res = permutation_test(
        df, _twfe_stat, "unit", "cohort", within=within, draws=6, seed=3,
        statistic="estimate", progress=False,
    )  # fmt: skip
    for b in range(6):
        ref = _panelols_coef(df, res.placebo_cohorts(b), [])
        assert res.draws[b] == pytest.approx(ref, abs=1e-10)
    assert res.estimate == pytest.approx(
        _panelols_coef(df, df.groupby("unit")["cohort"].first(), []), abs=1e-10
    )


def test_permutation_keeps_cohort_sizes_within_strata():
    df = simulate_staggered_panel(
        n_units=90, n_years=6, first_year=2000, n_clusters=7, cohorts=(2002, 2004), seed=2
    )
    res = permutation_test(
        df, _twfe_stat, "unit", "cohort", within="province", draws=30, seed=9, progress=False
    )
    units = df.groupby("unit")[["cohort", "province"]].first()
    want = units.groupby("province")["cohort"].apply(lambda s: sorted(s.tolist()))
    moved = 0
    for b in range(30):
        pc = res.placebo_cohorts(b)
        got = pc.groupby(units["province"]).apply(lambda s: sorted(s.tolist()))
        assert got.equals(want)
        moved += int((pc != units["cohort"]).sum())
    assert moved > 0


def test_permute_cohorts_never_crosses_strata():
    rng = np.random.default_rng(0)
    strata = rng.integers(0, 6, 200)
    cohort = rng.integers(0, 4, 200)
    perm = permute_cohorts(cohort, strata, 500, np.random.default_rng(1))
    for s in range(6):
        m = strata == s
        want = np.sort(cohort[m])
        assert all(np.array_equal(np.sort(row[m]), want) for row in perm)
    assert (perm != cohort).any(axis=1).all()


def _strata_panel(seed, n_units=48, n_years=6):
    """Null DGP where assignment is random *within* strata, with treated shares and trends that
    differ by stratum: stratified RI is exact, unstratified RI is not."""
    rng = np.random.default_rng(seed)
    stratum = np.repeat(np.arange(4), n_units // 4)
    share = np.array([0.75, 0.5, 0.25, 0.0])
    trend = np.array([0.6, 0.2, -0.2, -0.6])
    cohort = np.zeros(n_units, dtype=int)
    for s in range(4):
        idx = np.flatnonzero(stratum == s)
        k = int(share[s] * len(idx))  # 9, 6, 3, 0 of 12: exact
        chosen = rng.permutation(idx)[:k]
        cohort[chosen] = rng.choice([2002, 2004], size=k)
    years = np.arange(2000, 2000 + n_years)
    ii, tt = np.meshgrid(np.arange(n_units), np.arange(n_years), indexing="ij")
    ii, tt = ii.ravel(), tt.ravel()
    y = (
        rng.normal(size=n_units)[ii]
        + 0.1 * tt
        + trend[stratum[ii]] * tt
        + rng.normal(scale=0.5, size=len(ii))
    )
    return pd.DataFrame(
        {"unit": ii, "year": years[tt], "stratum": stratum[ii], "cohort": cohort[ii], "y": y}
    )


def _fast_t_stat(data):
    """Studentized TWFE on a balanced (unit, year)-sorted panel in plain numpy (speed only)."""
    n_t = data["year"].nunique()
    y = data["y"].to_numpy().reshape(-1, n_t)
    g = data["cohort"].to_numpy().reshape(-1, n_t)
    d = ((g > 0) & (data["year"].to_numpy().reshape(-1, n_t) >= g)).astype(float)

    def dm(a):
        return a - a.mean(1, keepdims=True) - a.mean(0, keepdims=True) + a.mean()

    yd, dd = dm(y), dm(d)
    b = (yd * dd).sum() / (dd * dd).sum()
    score = (dd * (yd - b * dd)).sum(axis=1)
    return b, np.sqrt((score**2).sum()) / (dd * dd).sum()


def _strata_null_pvalues(within, n_rep=200, draws=39, seed=31):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_rep):
        df = _strata_panel(int(rng.integers(2**31)))
        r = permutation_test(
            df,
            _fast_t_stat,
            "unit",
            "cohort",
            within=within,
            draws=draws,
            seed=int(rng.integers(2**31)),
            progress=False,
        )
        out.append(r.p_value)
    return np.array(out)


def test_stratified_studentized_pvalues_uniform_under_null():
    p = _strata_null_pvalues("stratum")
    # p-values live on {1/40, ..., 1}; the KS distance of that grid is at most 1/40
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.05 <= np.mean(p <= 0.10) <= 0.16
    # the same DGP without stratification over-rejects: the check above has power
    p_unstrat = _strata_null_pvalues(None, n_rep=60)
    assert np.mean(p_unstrat <= 0.10) > 0.3


def test_general_path_stratified_deterministic_and_parallel():
    df = _strata_panel(5)
    kw = {"within": "stratum", "draws": 60, "progress": False}
    a = permutation_test(df, _fast_t_stat, "unit", "cohort", seed=9, **kw)
    b = permutation_test(
        df,
        _fast_t_stat,
        "unit",
        "cohort",
        seed=9,
        n_jobs=2,
        backend="local",
        chunk_size=7,
        **kw,
    )
    c = permutation_test(df, _fast_t_stat, "unit", "cohort", seed=10, **kw)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert a.p_value == b.p_value
    assert not np.array_equal(a.draws, c.draws)
    units = df.groupby("unit")[["stratum", "cohort"]].first()
    for bb in range(60):
        pc = a.placebo_cohorts(bb)
        for s, grp in units.groupby("stratum"):
            assert sorted(pc[grp.index]) == sorted(grp["cohort"])


def test_bjs_statistic_detects_effect_and_reports_the_floor():
    df = simulate_staggered_panel(
        n_units=60,
        n_years=7,
        first_year=2000,
        n_clusters=6,
        cohorts=(2003, 2005),
        effect=1.5,
        cluster_sd=0.0,
        seed=8,
    )
    stat = bjs_statistic("y", "year", "unit", "cohort", covariates=["z"])
    r = permutation_test(
        df, stat, "unit", "cohort", within="province", draws=99, seed=2, progress=False
    )
    ref = imputation(df, "y", "year", "unit", "cohort", covariates=["z"], horizons=False)
    assert r.estimate == pytest.approx(ref.att, abs=1e-12)
    assert r.std_error == pytest.approx(ref.std_errors[0], abs=1e-12)
    assert r.actual == pytest.approx(ref.att / ref.std_errors[0])
    assert r.p_value == pytest.approx(1 / 100) and r.at_floor
    assert r.p_value_text == "p ≤ 0.01"
    tidy = r.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS and tidy.loc[0, "p_value"] == r.p_value
    assert "studentized" in r.summary()
    assert r.plot().get_title().startswith("Randomization")


def test_cs_statistic_matches_att_gt_and_runs():
    df = simulate_staggered_panel(
        n_units=60,
        n_years=7,
        first_year=2000,
        n_clusters=6,
        cohorts=(2003, 2005),
        effect=0.0,
        seed=9,
    )
    stat = cs_statistic(
        "y", "year", "unit", "cohort", aggregation="simple", control_group="notyettreated"
    )
    r = permutation_test(df, stat, "unit", "cohort", draws=19, seed=4, progress=False)
    gt = att_gt(df, "y", "year", "unit", "cohort", control_group="notyettreated", progress=False)
    agg = gt.aggregate("simple")
    assert r.estimate == pytest.approx(agg.overall_att, abs=1e-12)
    assert r.std_error == pytest.approx(agg.overall_se, abs=1e-12)
    assert r.n_draws == 19 and 0.05 <= r.p_value <= 1 and not r.at_floor
