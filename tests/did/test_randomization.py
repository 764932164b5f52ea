"""Randomization inference: exactness of the FWL shortcut, validity and determinism."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from helpers.simulate import simulate_staggered_panel
from linearmodels.panel import PanelOLS
from scipy import stats

from analysis.did.fe import FEProjector, treatment_from_cohort
from analysis.did.randomization import randomization_inference
from analysis.did.results import TIDY_COLUMNS


def _panelols_coef(df, cohort_by_unit, controls):
    d = df.copy()
    d["D"] = treatment_from_cohort(d["unit"].map(cohort_by_unit).to_numpy(), d["year"].to_numpy())
    p = d.set_index(["unit", "year"])
    fit = PanelOLS(p["y"], p[["D", *controls]], entity_effects=True, time_effects=True).fit()
    return fit.params["D"]


CASES = [
    {"drop_share": 0.0, "controls": [], "within": None},
    {"drop_share": 0.0, "controls": ["z", "w"], "within": "province"},
    {"drop_share": 0.12, "controls": [], "within": None},
    {"drop_share": 0.12, "controls": ["z"], "within": "province"},
]


@pytest.mark.parametrize(
    "case", CASES, ids=["bal", "bal-ctrl-strata", "unbal", "unbal-ctrl-strata"]
)
def test_placebo_coefficients_equal_panelols_refit(case):
    df = simulate_staggered_panel(
        n_units=80,
        n_years=9,
        first_year=2000,
        n_clusters=6,
        cohorts=(2003, 2005, 2007),
        effect=0.3,
        drop_share=case["drop_share"],
        seed=11,
    )
    res = randomization_inference(
        df,
        "y",
        "unit",
        "year",
        "cohort",
        controls=case["controls"],
        within=case["within"],
        draws=50,
        seed=5,
        progress=False,
    )
    actual = _panelols_coef(df, df.groupby("unit")["cohort"].first(), case["controls"])
    assert res.estimate == pytest.approx(actual, abs=1e-10)
    for b in (0, 17, 49):
        ref = _panelols_coef(df, res.placebo_cohorts(b), case["controls"])
        assert abs(res.draws[b] - ref) < 1e-10


@pytest.mark.slow  # importing pyfixest alone takes several seconds
def test_alternating_projection_path_matches(monkeypatch):
    """Force the pyfixest demeaning path (used for panels with many periods)."""
    df = simulate_staggered_panel(
        n_units=50,
        n_years=7,
        first_year=2000,
        n_clusters=5,
        cohorts=(2003, 2005),
        drop_share=0.1,
        seed=3,
    )
    exact = randomization_inference(
        df, "y", "unit", "year", "cohort", controls=["z"], draws=20, seed=1, progress=False
    )
    monkeypatch.setattr(FEProjector, "max_exact_times", 0)
    ap = randomization_inference(
        df, "y", "unit", "year", "cohort", controls=["z"], draws=20, seed=1, progress=False
    )
    np.testing.assert_allclose(ap.draws, exact.draws, atol=1e-9)
    assert ap.estimate == pytest.approx(exact.estimate, abs=1e-9)


def test_permutation_keeps_cohort_sizes_within_strata():
    df = simulate_staggered_panel(
        n_units=90, n_years=6, first_year=2000, n_clusters=7, cohorts=(2002, 2004), seed=2
    )
    res = randomization_inference(
        df, "y", "unit", "year", "cohort", within="province", draws=30, seed=9, progress=False
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


def test_deterministic_given_seed_and_independent_of_n_jobs():
    df = simulate_staggered_panel(
        n_units=60, n_years=8, first_year=2000, seed=4, cohorts=(2003, 2006)
    )
    kw = {
        "yname": "y",
        "idname": "unit",
        "tname": "year",
        "gname": "cohort",
        "draws": 300,
        "progress": False,
    }
    a = randomization_inference(df, seed=123, **kw)
    b = randomization_inference(df, seed=123, n_jobs=2, chunk_size=64, **kw)
    c = randomization_inference(df, seed=124, **kw)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert a.p_value == b.p_value
    assert not np.array_equal(a.draws, c.draws)


def _null_pvalues(n_rep, draws, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_rep):
        df = simulate_staggered_panel(
            n_units=40,
            n_years=6,
            first_year=2000,
            n_clusters=5,
            cohorts=(2002, 2004),
            effect=0.0,
            seed=int(rng.integers(2**31)),
        )
        r = randomization_inference(
            df,
            "y",
            "unit",
            "year",
            "cohort",
            draws=draws,
            seed=int(rng.integers(2**31)),
            progress=False,
        )
        out.append(r.p_value)
    return np.array(out)


def test_pvalue_uniform_under_null():
    p = _null_pvalues(n_rep=80, draws=99, seed=2024)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.03 <= np.mean(p <= 0.10) <= 0.19


@pytest.mark.slow
def test_pvalue_uniform_under_null_large():
    p = _null_pvalues(n_rep=1000, draws=199, seed=7)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert abs(np.mean(p <= 0.05) - 0.05) < 0.02


def test_detects_large_effect_and_outputs():
    df = simulate_staggered_panel(
        n_units=100,
        n_years=8,
        first_year=2000,
        cohorts=(2003, 2005),
        effect=1.0,
        cluster_sd=0.0,
        seed=8,
    )
    res = randomization_inference(
        df, "y", "unit", "year", "cohort", draws=199, seed=0, progress=False
    )
    assert res.p_value == pytest.approx(1 / 200)
    tidy = res.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert tidy.loc[0, "p_value"] == res.p_value
    assert "p-value" in res.summary()
    ax = res.plot()
    assert ax.get_title().startswith("Randomization")


def test_castle_twfe_matches_published_bacondecomp(load_validation):
    """Castle doctrine: the TWFE coefficient 0.0818116 published by R bacondecomp."""
    castle = load_validation("castle.csv")[["state", "year", "l_homicide", "effyear", "post"]]
    castle = castle.assign(cohort=castle["effyear"].fillna(0))
    res = randomization_inference(
        castle, "l_homicide", "state", "year", "cohort", draws=199, seed=1, progress=False
    )
    assert res.estimate == pytest.approx(0.0818116, abs=5e-7)
    assert 0.02 < res.p_value < 0.5


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
def test_general_path_reproduces_fast_twfe_path(within):
    """Same seed -> same permutations; the unstudentized TWFE statistic gives the fast path's
    placebo coefficients (validated above against PanelOLS refits) and p-value."""
    df = simulate_staggered_panel(
        n_units=60, n_years=7, first_year=2000, n_clusters=5, cohorts=(2003, 2005), seed=12
    )
    fast = randomization_inference(
        df, "y", "unit", "year", "cohort", within=within, draws=40, seed=3, progress=False
    )
    gen = permutation_test(
        df,
        _twfe_stat,
        "unit",
        "cohort",
        within=within,
        draws=40,
        seed=3,
        statistic="estimate",
        progress=False,
    )
    np.testing.assert_array_equal(gen.placebo_index, fast.placebo_index)
    np.testing.assert_allclose(gen.draws, fast.draws, atol=1e-10)
    assert gen.estimate == pytest.approx(fast.estimate, abs=1e-10)
    assert gen.p_value == fast.p_value


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
        backend="threading",
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
