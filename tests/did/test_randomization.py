"""Randomization inference: exactness of the FWL shortcut, validity and determinism."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from linearmodels.panel import PanelOLS
from scipy import stats

from analysis.did.results import TIDY_COLUMNS
from analysis.did.fe import FEProjector, treatment_from_cohort
from helpers.simulate import simulate_staggered_panel
from analysis.did.randomization import randomization_inference


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
