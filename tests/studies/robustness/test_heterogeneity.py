"""Heterogeneity: the FWL TWFE against PanelOLS, known group effects recovered by the interaction
and split-sample estimates, and the batch gradient of the synthetic city panel's truth."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import city_inputs

from analysis.data.schema import CONTROLS
from analysis.did.twfe import twfe, twfe_fwl
from analysis.figures.robustness import plot_heterogeneity
from analysis.studies.robustness.heterogeneity import city_groups, heterogeneity


@pytest.fixture(scope="module")
def panel():
    return city_inputs()[1]


@pytest.mark.parametrize("cluster", ["city_code", "province"])
@pytest.mark.parametrize("unbalanced", [False, True])
def test_fast_twfe_equals_panelols(panel, cluster, unbalanced):
    data = panel.drop(panel.index[::9]) if unbalanced else panel
    xs = ["pilot", "rail", "log_broadband", *CONTROLS]
    a, b = (
        twfe(data, "log_exports", xs, "city_code", "year", cluster=cluster),
        twfe_fwl(data, "log_exports", xs, "city_code", "year", cluster=cluster),
    )
    np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.std_errors.to_numpy(), a.std_errors.to_numpy(), rtol=1e-8)
    assert (b.nobs, b.n_clusters, b.n_entities) == (a.nobs, a.n_clusters, a.n_entities)
    assert b.r2_within == pytest.approx(a.r2_within, rel=1e-8)


def _two_region_panel(seed: int = 0) -> pd.DataFrame:
    """Effect 0.1 in the east, 0.3 in the west; staggered adoption in both regions."""
    rng = np.random.default_rng(seed)
    n, years = 240, np.arange(2010, 2022)
    region = np.where(np.arange(n) % 2 == 0, "east", "west")
    cohort = rng.choice([0, 0, 2014, 2016, 2018], size=n)
    unit, year = np.repeat(np.arange(n), len(years)), np.tile(years, n)
    d = ((cohort[unit] > 0) & (year >= cohort[unit])).astype(int)
    effect = np.where(region[unit] == "east", 0.1, 0.3)
    y = (
        rng.normal(0, 1, n)[unit]
        + rng.normal(0, 0.1, len(years))[year - 2010]
        + effect * d
        + rng.normal(0, 0.05, len(unit))
    )
    return pd.DataFrame(
        {
            "city_code": unit,
            "year": year,
            "log_exports": y,
            "pilot": d,
            "pilot_year": cohort[unit],
            "region": region[unit],
            "province": unit % 12,
        }
    )


def test_recovers_known_group_effects():
    data = _two_region_panel()
    res = heterogeneity(data, dimensions=["region"])
    t = res.table.set_index(["group", "method"])
    for method in ("interaction", "split"):
        assert t.loc[("east", method), "estimate"] == pytest.approx(0.1, abs=0.015)
        assert t.loc[("west", method), "estimate"] == pytest.approx(0.3, abs=0.015)
        assert (t.xs(method, level="method")["conf_low"] < [0.1, 0.3]).all()
    assert res.tests.set_index("dimension").loc["region", "p_value"] < 1e-6
    # the pooled effect is in between
    assert 0.1 < res.pooled["estimate"] < 0.3


def test_equal_effects_are_not_rejected():
    data = _two_region_panel(seed=1)
    data["log_exports"] -= np.where(data["region"] == "west", 0.2, 0.0) * data["pilot"]
    res = heterogeneity(data, dimensions=["region"], methods=("interaction",))
    assert res.tests["p_value"].iloc[0] > 0.01
    assert set(res.table["method"]) == {"interaction"}


def test_groups_of_the_city_panel(panel):
    g = city_groups(panel)
    assert len(g) == 337
    assert set(g["region"]) == {"east", "central", "west", "northeast"}
    assert set(g["coastal"]) == {"coastal", "inland"}
    sizes = g["size"].value_counts()
    assert sizes.max() - sizes.min() <= 1 and set(sizes.index) == {"small", "medium", "large"}
    treated = panel.groupby("city_code")["pilot_year"].first() > 0
    assert g["batch"].notna().sum() == treated.sum()
    # size groups come from the first-year exports: every small city exported less than every large one
    first = panel[panel["year"] == 2010].set_index("city_code")["exports_usd_mn"]
    assert first[g["size"] == "small"].max() < first[g["size"] == "large"].min()


def test_city_panel_batch_gradient_follows_the_truth(panel):
    """The synthetic truth: the effect at designation falls from 0.15 (batch 1) to 0.04 (batch 7)
    and grows with time since designation, so earlier batches have larger average effects."""
    res = heterogeneity(panel, controls=list(CONTROLS), dimensions=["batch", "size"])
    tab = res.table
    assert list(dict.fromkeys(tab.loc[tab["dimension"] == "size", "group"])) == [
        "small",
        "medium",
        "large",
    ]
    inter = tab[(tab["dimension"] == "batch") & (tab["method"] == "interaction")].set_index("group")
    assert (
        inter.loc["batch 2", "estimate"]
        > inter.loc["batch 5", "estimate"]
        > inter.loc["batch 7", "estimate"]
    )
    assert inter.loc["batch 7", "estimate"] == pytest.approx(0.04, abs=0.03)
    split = tab[(tab["dimension"] == "batch") & (tab["method"] == "split")]
    # split samples: the batch plus the never-treated cities
    never = (panel.groupby("city_code")["pilot_year"].first() == 0).sum()
    assert (split["n_cities"] - split["n_treated_cities"] == never).all()
    fig = plot_heterogeneity(tab, pooled=float(res.pooled["estimate"]))
    assert len(fig.axes) == 1 and "batch" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
