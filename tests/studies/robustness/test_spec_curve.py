"""Specification curve: one estimand, the headline inside the grid and equal to a direct BJS call,
no duplicate estimates, t(G-1) CIs from each SE, timing recoded from the roster, the joint test
(p small with the programme's effect in the data, not small on a panel without it), Dask == loky,
the figure, and the rule that flags outlying specifications (and draws them without stretching
the axis)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import PROVINCES, city_inputs, subset_panel
from scipy import stats

from analysis.did.estimate import estimate
from analysis.figures.spec_curve import plot_spec_curve
from analysis.studies.binary import headline_att
from analysis.studies.robustness import concurrent as cc
from analysis.studies.robustness.spec_curve import (
    DIMENSIONS,
    OUTLIER_K,
    TIMING_RULES,
    default_control_sets,
    flag_outliers,
    null_panel,
    recode_timing,
    spec_curve,
    spec_grid,
)

SMALL = {
    "estimator": ["bjs", "cs", "twfe"],
    "controls": ["controls+treatments", "none"],
    "sample": ["all", "drop_ftz"],
    "timing": ["approval", "following"],
}
DRAWS = 19  # the smallest number of draws whose p-value floor, 1/20, is 0.05


@pytest.fixture(scope="module")
def data():
    master = city_inputs()[0]
    return subset_panel(), cc.policy_years(cc.load_concurrent_policies(master=master))


@pytest.fixture(scope="module")
def small_curve(data):
    panel, years = data
    return spec_curve(panel, SMALL, policy_years=years, draws=DRAWS, progress=False)


@lru_cache(maxsize=1)
def _no_effect_panel() -> pd.DataFrame:
    """The default synthetic design with no pilot-zone effect (the same eight provinces)."""
    from analysis.data import reference, synthetic, treatments

    master = city_inputs()[0]
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    design = dataclasses.replace(
        synthetic.SyntheticDesign(),
        pilot_att_by_batch={b: 0.0 for b in range(1, 8)},
        pilot_att_growth=0.0,
    )
    panel, _ = synthetic.simulate_panel(master, table, reference.load_national_exports(), design)
    return panel[panel["province"].isin(PROVINCES)].reset_index(drop=True)


def test_grid_has_the_headline_first_even_when_the_options_leave_it_out():
    grid = spec_grid({"estimator": ["cs"], "controls": ["none"], "sample": ["drop_ftz"]})
    assert grid.iloc[0][DIMENSIONS].tolist() == ["bjs", "controls+treatments", "all", "approval"]
    assert len(grid) == 1 + 3  # headline + cs x none x drop_ftz x three timing rules
    full = spec_grid()
    assert full.iloc[0][DIMENSIONS].tolist() == ["bjs", "controls+treatments", "all", "approval"]
    assert len(full) == 4 * 3 * 2 * 3 and not full.duplicated(DIMENSIONS).any()


def test_cluster_and_outcome_are_not_dimensions(data):
    panel, years = data
    with pytest.raises(ValueError, match="not a specification dimension"):
        spec_curve(panel, {"cluster": ["city_code", "province"]}, policy_years=years, draws=0)
    with pytest.raises(ValueError, match="not a specification dimension"):
        spec_curve(panel, {"outcome": ["log_exports", "export_growth"]}, draws=0)
    # one value: a fixed choice of the curve
    res = spec_curve(
        panel,
        {
            **{k: v[:1] for k, v in SMALL.items()},
            "cluster": ["province"],
            "outcome": ["log_exports"],
        },
        policy_years=years,
        draws=0,
        progress=False,
    )
    assert res.table["headline"].iloc[0] and (res.table["cluster"] == "province").all()
    assert (res.table["n_clusters"] == len(PROVINCES)).all()


def test_headline_in_grid_equals_direct_bjs_and_headline_att(data, small_curve):
    panel, _ = data
    t = small_curve.table
    head = t[t["headline"]]
    assert len(head) == 1 and head["spec_id"].iloc[0] == 0 == small_curve.baseline
    row = head.iloc[0]
    covs = default_control_sets()["controls+treatments"]
    direct = estimate(
        "bjs", panel, y="log_exports", unit="city_code", time="year", cohort="pilot_year",
        covariates=covs, cluster=row["cluster"], horizons=None, leaveout=True,
    )  # fmt: skip
    assert (row["estimate"], row["std_error"]) == pytest.approx((direct.att, direct.se), rel=1e-9)
    # the same number, SE and clustering as the study's headline (the study's clustering rule)
    ha = headline_att(panel, "pilot", "pilot_year", covs)
    assert row["estimate"] == pytest.approx(ha["estimate"], rel=1e-9)
    assert row["std_error"] == pytest.approx(ha["std_error"], rel=1e-9)
    assert row["cluster"] == ha["cluster"] == small_curve.cluster
    se = small_curve.se_by_cluster.set_index("cluster")["std_error"]
    assert se["city_code"] == pytest.approx(ha["se_city"], rel=1e-9)
    assert se["province"] == pytest.approx(ha["se_province"], rel=1e-9)


def test_no_duplicate_estimates_and_duplicates_listed(data):
    panel, years = data
    sets = {"copy": default_control_sets()["controls+treatments"]}  # the headline's, renamed
    opts = {**SMALL, "estimator": ["bjs", "twfe"], "controls": ["controls+treatments", "copy"]}
    res = spec_curve(panel, opts, control_sets=sets, policy_years=years, draws=0, progress=False)
    grid = spec_grid(opts, res.table["timing"].iloc[0])  # the panel's own coding is the headline's
    assert len(res.table) + len(res.infeasible) + len(res.duplicates) == len(grid)
    # every "copy" specification repeats the controls+treatments one with the same other choices
    assert (res.duplicates["controls"] == "copy").all() and len(res.duplicates) == 2 * 2 * 2
    pairs = res.duplicates.merge(grid, left_on="same_as", right_on="spec_id", suffixes=("", "_o"))
    for d in ("estimator", "sample", "timing"):
        assert (pairs[d] == pairs[f"{d}_o"]).all()
    # no two estimated specifications are the same estimate
    assert not res.table.duplicated(["estimate", "std_error"]).any()
    assert not res.table.duplicated(DIMENSIONS).any()


def test_sa_and_cs_without_covariates_are_one_estimate(data):
    panel, years = data
    opts = {
        "estimator": ["sa", "cs"],
        "controls": ["none"],
        "sample": ["all"],
        "timing": ["approval"],
    }
    res = spec_curve(panel, opts, policy_years=years, draws=0, progress=False)
    dup = res.duplicates.set_index("estimator").loc["cs"]
    sa = res.table.set_index("estimator").loc["sa"]
    assert dup["same_as"] == sa["spec_id"] and "same point estimate" in dup["reason"]
    # the CS estimate it stands for, called directly on the approval-year coding
    coded = panel.assign(_g=recode_timing(panel, "approval", "pilot_year", "pilot_batch"))
    cs = estimate("cs", coded, y="log_exports", unit="city_code", time="year", cohort="_g")
    assert sa["estimate"] == pytest.approx(cs.att, rel=1e-9)


def test_cis_are_t_intervals_from_each_se(small_curve):
    t = small_curve.table
    crit = stats.t.ppf(0.975, t["n_clusters"] - 1)
    np.testing.assert_allclose(t["conf_low"], t["estimate"] - crit * t["std_error"], rtol=1e-12)
    np.testing.assert_allclose(t["conf_high"], t["estimate"] + crit * t["std_error"], rtol=1e-12)
    assert (t["std_error"] > 0).all() and t["std_error"].nunique() == len(t)
    o = small_curve.overview()
    curve = t[~t["foil"]]
    assert o["n_curve"] == len(curve) and o["n_foil"] == (t["estimator"] == "twfe").sum() == 8
    assert o["median"] == pytest.approx(curve["estimate"].median())
    assert o["share_significant"] == pytest.approx(
        ((curve["conf_low"] > 0) | (curve["conf_high"] < 0)).mean()
    )
    # rule 3: CS with the rail dummy (constant among never-treated cities in 2010) is impossible
    inf = small_curve.infeasible
    assert set(inf["estimator"]) == {"cs"} and set(inf["controls"]) == {"controls+treatments"}


def test_timing_recoded_from_the_roster(data, small_curve):
    panel, _ = data
    coded = {r: recode_timing(panel, r, "pilot_year", "pilot_batch") for r in TIMING_RULES}
    approval = coded["approval"]
    assert np.array_equal(coded["following"], np.where(approval > 0, approval + 1, 0))
    moved = panel.loc[coded["midyear"] != approval, "pilot_batch"]
    assert set(moved) == {3, 4, 7}  # approved 24 Jul 2018, 15 Dec 2019, 14 Nov 2022
    # the headline's timing is the rule that reproduces the panel's coding (params' year_rule)
    same = [r for r, g in coded.items() if np.array_equal(g, panel["pilot_year"])]
    head = small_curve.table.iloc[0]
    assert len(same) == 1 and head["timing"] == same[0] and head["headline"]
    # a panel whose years no rule reproduces keeps its coding; the rules are infeasible
    odd = panel.assign(pilot_year=np.where(panel["pilot_year"] > 0, panel["pilot_year"] + 2, 0))
    res = spec_curve(odd, {k: v[:1] for k, v in SMALL.items()}, draws=0, progress=False)
    assert res.table["timing"].tolist() == ["as_coded"]


def test_joint_test_rejects_with_the_effect_in_the_data(small_curve):
    jt = small_curve.joint_test
    assert jt["draws"] == DRAWS and len(small_curve.null_draws) == DRAWS
    for key in ("p_median", "p_share_significant", "p_stouffer"):
        assert jt[key] == pytest.approx(1 / (1 + DRAWS))  # no null draw as extreme
    # the null draws are centred near zero; the observed median is not
    assert abs(small_curve.null_draws["median"].median()) < 0.02 < jt["median"]


def test_joint_test_does_not_reject_without_an_effect(data):
    _, years = data
    panel = _no_effect_panel()
    res = spec_curve(panel, SMALL, policy_years=years, draws=DRAWS, progress=False)
    jt = res.joint_test
    assert min(jt["p_median"], jt["p_share_significant"], jt["p_stouffer"]) > 0.1
    # and not by a lucky sign: the observed median lies inside the null draws' range
    nd = res.null_draws
    assert nd["median"].min() < jt["median"] < nd["median"].max()


def test_null_panel_removes_the_headline_effect(data):
    panel, _ = data
    covs = default_control_sets()["controls+treatments"]
    null = null_panel(panel, covs)
    fit = estimate(
        "bjs", null, y="log_exports", unit="city_code", time="year", cohort="pilot_year",
        covariates=covs, horizons=None,
    )  # fmt: skip
    assert abs(fit.att) < 1e-10
    untreated = (panel["pilot"] == 0).to_numpy()
    assert np.array_equal(null["log_exports"][untreated], panel["log_exports"][untreated])


def test_dask_backend_equals_loky(data):
    from dask.distributed import Client, LocalCluster

    panel, years = data
    opts = {"estimator": ["cs"], "controls": ["none"], "sample": ["all"], "timing": ["approval"]}
    kw = {"policy_years": years, "draws": 3, "progress": False}
    loky = spec_curve(panel, opts, n_jobs=2, backend="loky", **kw)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dask = spec_curve(panel, opts, n_jobs=2, backend="dask", client=client, **kw)
    assert len(loky.table) == 2  # the headline and CS
    pd.testing.assert_frame_equal(dask.table, loky.table, check_exact=False, rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(dask.null_draws, loky.null_draws, rtol=1e-12, atol=1e-14)
    serial = spec_curve(panel, opts, n_jobs=1, **kw)
    pd.testing.assert_frame_equal(serial.null_draws, loky.null_draws, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure_marks_the_headline_and_shows_the_choices(small_curve, lang):
    fig = plot_spec_curve(small_curve.table, lang=lang, joint_test=small_curve.joint_test)
    top, bottom = fig.axes
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    t = small_curve.table
    assert (
        len(labels) == sum(t[d].nunique() for d in DIMENSIONS) == 3 + 2 + 2 + t["timing"].nunique()
    )
    if lang == "en":
        assert "timing: following" in labels and "estimator: twfe" in labels
    else:
        assert "处理时点：批复次年" in labels
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    head = small_curve.table.loc[small_curve.table["headline"], "estimate"].iloc[0]
    assert any(f"{head:.3f}" in text for text in legend)  # the headline, marked with its value
    assert any("TWFE" in text for text in legend)  # the foil, marked as such
    matplotlib.pyplot.close(fig)


# --- outlying specifications ------------------------------------------------------------------
def _curve_table(est, se, foil=None) -> pd.DataFrame:
    est, se = np.asarray(est, float), np.asarray(se, float)
    n = len(est)
    return pd.DataFrame(
        {
            "spec_id": range(n),
            "estimator": "bjs",
            "controls": "none",
            "sample": "all",
            "timing": "midyear",
            "headline": np.arange(n) == 0,
            "foil": np.zeros(n, bool) if foil is None else np.asarray(foil, bool),
            "estimate": est,
            "std_error": se,
            "conf_low": est - 2 * se,
            "conf_high": est + 2 * se,
        }
    )


def _user_curve() -> pd.DataFrame:
    """The curve of issue 17's user panel: 20 specifications in 0.00-0.13 (s.e. about 0.03) and
    two at -2.50 (s.e. 3.62)."""
    rng = np.random.default_rng(17)
    est = np.r_[rng.uniform(0.0, 0.13, 20), -2.5, -2.5]
    se = np.r_[rng.uniform(0.02, 0.04, 20), 3.62, 3.62]
    return _curve_table(est, se)


def test_outliers_flagged_by_the_stated_rule():
    t = flag_outliers(_user_curve())
    assert t["outlier"].tolist() == [False] * 20 + [True, True]
    assert set(t.loc[t["outlier"], "outlier_reason"]) == {"se+estimate"}
    # each arm of the rule alone: a precise estimate far from the others, an imprecise one near
    base = _user_curve().iloc[:20]
    extra = _curve_table([0.9, 0.07], [0.03, 0.5]).assign(spec_id=[20, 21])
    t = flag_outliers(pd.concat([base, extra], ignore_index=True))
    assert t.loc[t["spec_id"] == 20, "outlier_reason"].item() == "estimate"
    assert t.loc[t["spec_id"] == 21, "outlier_reason"].item() == "se"
    assert not t.loc[t["spec_id"] < 20, "outlier"].any()
    # the threshold of the SE arm: k x the median SE (k = OUTLIER_K = 5)
    for factor, flagged in ((0.99, False), (1.01, True)):
        t = _curve_table(np.r_[np.full(20, 0.07), 0.07], np.r_[np.full(20, 0.03), 0.03])
        t.loc[20, "std_error"] = OUTLIER_K * 0.03 * factor
        assert flag_outliers(t)["outlier"].tolist() == [False] * 20 + [flagged]


def test_outlier_rule_floors_the_spread_by_the_sampling_error():
    """Nearly equal estimates (MAD about 0) do not flag a difference below the sampling error."""
    est = np.r_[np.full(10, 0.05), 0.08]
    t = flag_outliers(_curve_table(est, np.full(11, 0.02)))
    assert not t["outlier"].any()


def test_foils_are_flagged_but_do_not_set_the_reference():
    base = _user_curve().iloc[:20]
    foils = _curve_table([5.0] * 25, [0.03] * 25, foil=[True] * 25).assign(
        spec_id=range(20, 45), estimator="twfe"
    )
    t = flag_outliers(pd.concat([base, foils], ignore_index=True))
    assert not t.loc[~t["foil"], "outlier"].any() and t.loc[t["foil"], "outlier"].all()


def test_no_outlier_on_the_default_synthetic_curve():
    from analysis import config

    published = config.ROOT / "results" / "published" / "tables" / "robustness_spec_curve.csv"
    assert not flag_outliers(pd.read_csv(published))["outlier"].any()


def test_curve_table_and_overview_carry_the_flags(small_curve):
    assert {"outlier", "outlier_reason"} <= set(small_curve.table.columns)
    o = small_curve.overview()
    assert o["n_outliers"] == int(small_curve.table["outlier"].sum())
    assert o["outlier_k"] == OUTLIER_K and "median standard error" in o["outlier_rule"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure_does_not_stretch_the_axis_for_outliers(lang):
    """Issue 17: two specifications at -2.50 (s.e. 3.62) stretched the axis to -10..5 and hid the
    curve; the axis now spans the others' intervals and the outliers are drawn at its edge with
    their value printed."""
    t = flag_outliers(_user_curve())
    fig = plot_spec_curve(t, lang=lang)
    top = fig.axes[0]
    lo, hi = top.get_ylim()
    others = t[~t["outlier"]]
    assert lo > -0.2 and hi < 0.3  # the scale of the 20 specifications, not of the outliers
    assert lo <= others["conf_low"].min() and hi >= others["conf_high"].max()
    texts = [a.get_text() for a in top.texts]
    value = "-2.50 (s.e. 3.62)" if lang == "en" else "-2.50（标准误 3.62）"
    assert texts.count(value) == 2, texts
    # the two labels do not overprint each other
    positions = {a.xyann for a in top.texts if a.get_text() == value}
    assert len(positions) == 2
    legend = [x.get_text() for x in top.get_legend().get_texts()]
    assert any("(2)" in x or "2 个" in x for x in legend)
    matplotlib.pyplot.close(fig)
    # without outliers the axis is matplotlib's own (the default curve is drawn as before)
    fig = plot_spec_curve(t[~t["outlier"]].drop(columns=["outlier"]), lang=lang)
    assert not fig.axes[0].texts
    matplotlib.pyplot.close(fig)
