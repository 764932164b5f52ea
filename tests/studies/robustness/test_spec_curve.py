"""Specification curve: spec counts and the documented impossible combinations, agreement of each
specification with a direct estimator call, determinism, and Dask == loky."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import city_inputs, subset_panel

from analysis.data.schema import CONTROLS
from analysis.did.callaway_santanna import att_gt
from analysis.did.imputation import imputation
from analysis.did.sun_abraham import sun_abraham
from analysis.did.twfe import twfe
from analysis.figures.robustness import plot_spec_curve
from analysis.studies.robustness import concurrent as cc
from analysis.studies.robustness.spec_curve import DEFAULT_OPTIONS, spec_curve, spec_grid

SMALL = {
    "estimator": ["twfe", "cs", "sa", "bjs"],
    "controls": ["none"],
    "sample": ["all"],
    "cluster": ["city_code", "province"],
    "timing": ["approval", "following"],
    "outcome": ["log_exports", "export_growth"],
}


@pytest.fixture(scope="module")
def data():
    master = city_inputs()[0]
    return subset_panel(), cc.policy_years(cc.load_concurrent_policies(master=master))


@pytest.fixture(scope="module")
def small_curve(data):
    panel, years = data
    return spec_curve(panel, SMALL, policy_years=years, progress=False)


def test_default_grid_size():
    assert len(spec_grid()) == math.prod(len(v) for v in DEFAULT_OPTIONS.values()) == 288


def test_count_is_product_minus_documented_impossible(data):
    panel, years = data
    opts = {
        "estimator": ["twfe", "cs"],
        "controls": ["none", "controls+treatments"],
        "sample": ["all", "province:浙江省"],
        "cluster": ["city_code", "province"],
        "timing": ["approval"],
        "outcome": ["log_exports"],
    }
    res = spec_curve(panel, opts, policy_years=years, progress=False)
    assert len(res.table) + len(res.infeasible) == math.prod(len(v) for v in opts.values()) == 16
    inf = res.infeasible.set_index(["estimator", "controls", "sample", "cluster"])["reason"]
    # rule 1: a single province cannot be clustered by province (all 4 estimator x control sets)
    one = inf.xs(("province:浙江省", "province"), level=["sample", "cluster"])
    assert len(one) == 4 and one.str.startswith("fewer than 2 clusters").all()
    # rule 2: every city of 浙江 is a pilot city -> no never-treated units for CS
    assert (
        inf.xs(("cs", "province:浙江省", "city_code"), level=["estimator", "sample", "cluster"])
        == "no never-treated units"
    ).all()
    # rule 3: CS with the rail dummy as covariate (no never-treated city has rail in 2010)
    rule3 = inf.xs(("cs", "controls+treatments", "all"), level=["estimator", "controls", "sample"])
    assert len(rule3) == 2 and rule3.str.contains("CS 2x2 regression singular").all()
    assert len(inf) == 8 and len(res.table) == 8
    assert not set(res.table["spec_id"]) & set(res.infeasible["spec_id"])


def test_rule_never_treated(data):
    panel, years = data
    treated_only = panel[panel["pilot_year"] > 0]
    opts = {
        **{k: v[:1] for k, v in DEFAULT_OPTIONS.items()},
        "estimator": ["twfe", "cs", "sa", "bjs"],
    }
    res = spec_curve(treated_only, opts, policy_years=years, progress=False)
    assert sorted(res.infeasible["estimator"]) == ["cs", "sa"]
    assert (res.infeasible["reason"] == "no never-treated units").all()


def test_small_curve_matches_direct_estimator_calls(data, small_curve):
    panel, _ = data
    t = small_curve.table.set_index(["estimator", "cluster", "timing", "outcome"])
    assert len(t) == 32 and small_curve.infeasible.empty

    fit = twfe(panel, "log_exports", ["pilot"], "city_code", "year", cluster="province")
    row = t.loc[("twfe", "province", "approval", "log_exports")]
    assert row["estimate"] == pytest.approx(fit.params["pilot"], rel=1e-9)
    assert row["std_error"] == pytest.approx(fit.std_errors["pilot"], rel=1e-8)
    assert row["conf_low"] == pytest.approx(
        fit.tidy().set_index("term").loc["pilot", "conf_low"], rel=1e-8
    )

    # "following": the first year moves one year on and the dummy is rebuilt
    g1 = np.where(panel["pilot_year"] > 0, panel["pilot_year"] + 1, 0)
    shifted = panel.assign(pilot_year=g1, pilot=((g1 > 0) & (panel["year"] >= g1)).astype(int))
    fit = twfe(shifted, "log_exports", ["pilot"], "city_code", "year")
    assert t.loc[("twfe", "city_code", "following", "log_exports"), "estimate"] == pytest.approx(
        fit.params["pilot"], rel=1e-9
    )

    growth = panel.assign(
        growth=panel.sort_values("year").groupby("city_code")["log_exports"].diff()
    )
    growth = growth.dropna(subset=["growth"])
    cs = att_gt(growth, "growth", "year", "city_code", "pilot_year", progress=False).aggregate(
        "simple"
    )
    row = t.loc[("cs", "city_code", "approval", "export_growth")]
    assert row["estimate"] == pytest.approx(cs.overall_att, rel=1e-9)
    assert row["std_error"] == pytest.approx(cs.overall_se, rel=1e-9)

    sa = sun_abraham(panel, "log_exports", "year", "city_code", "pilot_year", cluster="province")
    row = t.loc[("sa", "province", "approval", "log_exports")]
    assert (row["estimate"], row["std_error"]) == pytest.approx((sa.att, sa.att_se), rel=1e-9)

    bjs = imputation(panel, "log_exports", "year", "city_code", "pilot_year", horizons=None)
    row = t.loc[("bjs", "city_code", "approval", "log_exports")]
    assert (row["estimate"], row["std_error"]) == pytest.approx(
        (bjs.att, bjs.std_errors[0]), rel=1e-9
    )


def test_deterministic_and_independent_of_chunking(data, small_curve):
    panel, years = data
    opts = {
        **SMALL,
        "estimator": ["twfe", "cs", "bjs"],
    }  # SA is the slow one; it ran in small_curve
    again = spec_curve(panel, opts, policy_years=years, progress=False, chunks_per_job=7)
    first = small_curve.table[small_curve.table["estimator"] != "sa"]
    # same specifications, same numbers (spec_id differs: the grids differ)
    cols = [c for c in first.columns if c != "spec_id"]
    pd.testing.assert_frame_equal(
        again.table[cols].reset_index(drop=True),
        first[cols].reset_index(drop=True),
        check_exact=True,
    )


def test_controls_and_samples(data):
    panel, years = data
    opts = {
        "estimator": ["twfe"],
        "controls": ["controls"],
        "sample": ["drop_ftz", "east"],
        "cluster": ["city_code"],
        "timing": ["approval"],
        "outcome": ["log_exports_pc"],
    }
    t = spec_curve(panel, opts, policy_years=years, progress=False).table.set_index("sample")
    ftz = years.index[years.iloc[:, 0] > 0]
    sub = panel[~panel["city_code"].isin(ftz)]
    assert (
        t.loc["drop_ftz", "n_cities"] == sub["city_code"].nunique() < panel["city_code"].nunique()
    )
    # per-capita outcome: log_population leaves the controls (it is part of the outcome)
    xs = [c for c in CONTROLS if c != "log_population"]
    fit = twfe(
        sub.assign(pc=sub["log_exports"] - sub["log_population"]),
        "pc",
        ["pilot", *xs],
        "city_code",
        "year",
    )
    assert t.loc["drop_ftz", "estimate"] == pytest.approx(fit.params["pilot"], rel=1e-9)
    assert t.loc["east", "n_cities"] == panel.loc[panel["region"] == "east", "city_code"].nunique()


def test_dask_backend_equals_loky(data):
    from dask.distributed import Client, LocalCluster

    panel, years = data
    # CS only: its module imports fast, so the two loky workers start quickly
    opts = {
        "estimator": ["cs"],
        "controls": ["none"],
        "sample": ["all", "drop_ftz"],
        "cluster": ["city_code", "province"],
        "timing": ["approval", "following"],
        "outcome": ["log_exports"],
    }
    loky = spec_curve(panel, opts, policy_years=years, n_jobs=2, backend="loky", progress=False)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dask = spec_curve(
            panel, opts, policy_years=years, n_jobs=2, backend="dask", client=client, progress=False
        )
    assert len(loky.table) == 8
    pd.testing.assert_frame_equal(dask.table, loky.table, check_exact=False, rtol=1e-12, atol=1e-14)


def test_figure_has_curve_and_indicator_panel(small_curve):
    fig = plot_spec_curve(small_curve.table, baseline=int(small_curve.table["spec_id"].iloc[0]))
    _top, bottom = fig.axes
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert "estimator: sa" in labels and "outcome: export_growth" in labels
    assert len(labels) == 4 + 1 + 1 + 2 + 2 + 2
    assert small_curve.overview()["n_specs"] == 32
