"""HonestDiD on the clean event study (analysis.studies.robustness.sensitivity)."""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.config import HonestDiDConfig
from analysis.did.callaway_santanna import att_gt
from analysis.results_io import _clean
from analysis.studies.robustness.sensitivity import (
    benchmark_bends,
    clean_event_study,
    honest_sensitivity,
    sensitivity,
    support_run,
    target_weights,
)

PRE, POST = [-4, -3, -2], [0, 1, 2, 3]
FAST = HonestDiDConfig(
    Mbarvec=(0.0, 0.5, 1.0, 2.0, 4.0), M_multiples=(0.0, 0.5, 1.0, 2.0, 4.0), grid_points=400
)


# --------------------------------------------------------------------------- pure pieces


def test_support_run_keeps_a_contiguous_unbinned_run_around_the_base():
    counts = {-6: 1, -5: 3, -4: 3, -3: 2, -2: 4, -1: 4, 0: 4, 1: 3, 2: 1, 3: 2, 4: 2}
    pre, post, dropped = support_run(counts, (-6, 4), min_cohorts=2)
    assert pre == [-5, -4, -3, -2]
    assert post == [0, 1]  # e = 2 has one cohort; 3 and 4 are beyond the gap
    assert set(dropped) == {-6, 2, 3, 4}
    assert "1 cohort" in dropped[2] and "beyond e = 2" in dropped[4]
    pre, post, _ = support_run(counts, (-3, 1), min_cohorts=1)
    assert pre == [-3, -2] and post == [0, 1]


def test_target_weights_arithmetic():
    np.testing.assert_allclose(target_weights(POST, "average"), [0.25] * 4)
    np.testing.assert_allclose(target_weights(POST, "first"), [1, 0, 0, 0])
    with pytest.raises(ValueError):
        target_weights(POST, "overall")


def test_benchmark_is_the_largest_pre_period_second_difference():
    rng = np.random.default_rng(3)
    beta = rng.normal(0, 0.02, 5)
    A = rng.normal(size=(5, 5))
    V = A @ A.T * 1e-4
    pre = [-6, -5, -4, -3, -2]
    b = benchmark_bends(beta, V, pre)
    path = np.r_[beta, 0.0]  # the base period e = -1 is 0
    d2 = path[2:] - 2 * path[1:-1] + path[:-2]
    i = int(np.argmax(np.abs(d2)))
    assert b["M"] == pytest.approx(abs(d2[i]))
    assert b["M_at"] == pre[i + 1]
    a = np.zeros(5)  # the same contrast written out by hand
    for k, w in zip((i, i + 1, i + 2), (1.0, -2.0, 1.0)):
        if k < 5:
            a[k] = w
    assert b["M_se"] == pytest.approx(np.sqrt(a @ V @ a))
    d1 = np.diff(path)
    assert b["jump"] == pytest.approx(np.abs(d1).max())


def _planted(trend_only: bool):
    """Event study with a linear pre-trend of slope 0.02 a year. ``trend_only``: the post-period
    coefficients continue the trend (no effect at all); else the same post coefficients after a
    flat pre-period."""
    slope = 0.02
    es = np.array(PRE + POST, dtype=float)
    path = slope * (es + 1)
    beta = path.copy()
    if not trend_only:
        beta[: len(PRE)] = 0.0
    V = np.diag(np.full(len(es), 0.004**2))
    return beta, V


def test_planted_trend_breaks_down_at_once_while_a_flat_pre_period_holds():
    beta, V = _planted(trend_only=True)
    trend = sensitivity(beta, V, PRE, POST, FAST, seed=1)["results"]
    # the conventional CI is far from zero, but a linear pre-trend extrapolated (Delta^SD with
    # M = 0) explains all of it, and Mbar = 1 (post jumps as large as the pre ones) as well
    assert trend["original_ci"][0] > 0.03
    assert trend["breakdown"]["DeltaSD"]["value"] == 0.0
    assert trend["breakdown_Mbar"] is not None and trend["breakdown_Mbar"] <= 1.0
    beta, V = _planted(trend_only=False)
    flat = sensitivity(beta, V, PRE, POST, FAST, seed=1)["results"]
    # flat pre-period: no bend (benchmark 0 up to the kink at e = -1 is absent), larger breakdowns
    assert flat["breakdown_Mbar"] is None or flat["breakdown_Mbar"] > trend["breakdown_Mbar"]
    assert flat["breakdown_M"] is None or flat["breakdown_M"] > 0
    # refined breakdown: CI at the value includes zero, just below it does not
    bd = trend["breakdown"]["DeltaRM"]
    assert bd["bracket"][1] == bd["value"] and bd["bracket"][0] <= bd["value"] <= bd["grid_value"]


def test_target_truth_and_not_reached_wording():
    beta, V = _planted(trend_only=False)
    truth = {0: 0.02, 1: 0.04, 2: 0.06, 3: 0.1, 9: 1.0}
    opt = HonestDiDConfig(
        target="first", Mbarvec=(0.0, 0.1), M_multiples=(0.0,), Mvec=(0.0, 1e-4), grid_points=300
    )
    res = sensitivity(beta, V, PRE, POST, opt, truth_by_event_time=truth)["results"]
    assert res["estimate"] == pytest.approx(beta[len(PRE)])
    assert res["truth"] == pytest.approx(0.02)
    assert res["target_weights"] == {"0": 1.0, "1": 0.0, "2": 0.0, "3": 0.0}
    assert "e = 0" in res["target_label"]
    assert res["breakdown_Mbar"] is None
    assert "not reached up to Mbar = 0.1" in res["sentences"]["en"]
    assert "Mbar = 0.1" in res["sentences"]["zh"]
    avg = sensitivity(beta, V, PRE, POST, FAST, truth_by_event_time=truth)["results"]
    assert avg["truth"] == pytest.approx(np.mean([0.02, 0.04, 0.06, 0.1]))
    assert avg["estimate"] == pytest.approx(beta[len(PRE) :].mean())
    json.dumps(_clean(avg))


# --------------------------------------------------------------------------- on panels


def _toy_panel(seed=0):
    """Cohorts 2014 (20 units), 2016 (20), 2019 (2 units) and 40 never-treated, 2010-2020; effect
    0.1 + 0.05 e; no pre-trend."""
    rng = np.random.default_rng(seed)
    cohorts = [2014] * 20 + [2016] * 20 + [2019] * 2 + [0] * 40
    rows = []
    for i, g in enumerate(cohorts):
        a = rng.normal()
        for t in range(2010, 2021):
            e = t - g
            eff = 0.1 + 0.05 * e if g and e >= 0 else 0.0
            x = rng.normal()
            rows.append((i, t, g, a + 0.02 * (t - 2010) + 0.5 * x + eff + rng.normal(0, 0.05), x))
    return pd.DataFrame(rows, columns=["unit", "year", "g", "y", "x"])


def test_event_study_support_and_vcov_match_the_estimator():
    panel = _toy_panel()
    es = clean_event_study(
        panel, y="y", cohort="g", unit="unit", time="year", window=(-6, 6), min_cohorts=2
    )
    # e = 5, 6 are reached by cohort 2014 only (2019 + 2 = 2021 is outside): not used, not binned
    assert es["event_times"] == [-6, -5, -4, -3, -2, 0, 1, 2, 3, 4]
    assert set(es["dropped"]) == {5, 6}
    assert es["n_cohorts"][4] == 2 and es["n_cohorts"][5] == 1
    # the covariance is the estimator's: its diagonal gives CS's own SEs, and l'V l the SE of
    # CS's own average over e = 0..4 (did::aggte dynamic, min_e/max_e), which tests the
    # off-diagonal terms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = att_gt(panel, "y", "year", "unit", "g", base_period="universal", progress=False)
        dyn = agg.aggregate("dynamic", min_e=-6, max_e=4)
    used = [int(np.flatnonzero(dyn.egt == e)[0]) for e in es["event_times"]]
    np.testing.assert_allclose(np.sqrt(np.diag(es["vcov"])), dyn.se_egt[used], rtol=1e-10)
    np.testing.assert_allclose(es["beta"], dyn.att_egt[used], rtol=1e-10)
    l_vec = np.r_[np.zeros(5), np.full(5, 0.2)]
    assert l_vec @ es["beta"] == pytest.approx(dyn.overall_att)
    assert np.sqrt(l_vec @ es["vcov"] @ l_vec) == pytest.approx(dyn.overall_se, rel=1e-10)


def test_covariate_adjusted_vcov_matches_its_own_ses():
    panel = _toy_panel(1)
    es = clean_event_study(
        panel, y="y", cohort="g", unit="unit", time="year", covariates=["x"], window=(-3, 3)
    )
    f = es["frame"].set_index("event_time")
    np.testing.assert_allclose(
        np.sqrt(np.diag(es["vcov"])), f.loc[es["event_times"], "std_error"], rtol=1e-10
    )
    assert es["coef"]["x"] == pytest.approx(0.5, abs=0.03)
    assert set(f.loc[f["used"]].index) == {-3, -2, 0, 1, 2, 3}


def test_skip_without_never_treated_units():
    panel = _toy_panel().query("g > 0")
    out = honest_sensitivity(panel, y="y", cohort="g", unit="unit", time="year", options=FAST)
    assert "never-treated" in out["results"]["skipped"]


@pytest.fixture(scope="module")
def synthetic():
    from analysis.data.build import default_inputs
    from analysis.data.synthetic import SyntheticDesign, simulate_panel
    from analysis.studies.binary import study_design, treatment_covariates

    panel, truth = simulate_panel(*default_inputs(), SyntheticDesign())
    design = study_design(panel)
    covariates = [*treatment_covariates(design, "pilot"), *design.controls_used]
    return panel, truth, design, covariates


def test_default_synthetic_panel_original_ci_covers_the_true_target(synthetic):
    panel, truth, design, covariates = synthetic
    out = honest_sensitivity(
        panel,
        y="log_exports",
        cohort="pilot_year",
        unit="city_code",
        time="year",
        covariates=covariates,
        options=FAST,
        seed=20240601,
        design=design,
        truth=truth["pilot"],
    )
    r = out["results"]
    assert r["estimator"] == "cs_adjusted" and r["base_period"] == "universal"
    assert r["truth"] is not None and r["truth_in_original_ci"], (r["estimate"], r["truth"])
    assert r["original_ci"][0] <= r["truth"] <= r["original_ci"][1]
    es = out["frames"]["event_study"]
    assert -1 not in r["pre_event_times"] and np.all(np.diff(r["pre_event_times"] + [-1]) == 1)
    assert es.loc[es["event_time"] == -1, "estimate"].item() == 0.0
    # the benchmark is the largest |second difference| of the pre-period path (base 0 appended)
    pre = es.set_index("event_time").loc[r["pre_event_times"], "estimate"].to_numpy()
    path = np.r_[pre, 0.0]
    assert r["benchmark"]["M"] == pytest.approx(np.abs(np.diff(path, 2)).max())
    assert set(r["sentences"]) == {"en", "zh"} and "designation" in r["sentences"]["en"]
    json.dumps(_clean(r))


def test_figure_draws_both_restrictions_in_both_languages():
    from analysis.figures.sensitivity import plot_honestdid
    from analysis.figures.style import use_house_style

    use_house_style()
    beta, V = _planted(trend_only=False)
    res = sensitivity(beta, V, PRE, POST, FAST)
    for lang in ("en", "zh"):
        fig = plot_honestdid(
            res["table"], truth=0.05, benchmark=res["results"]["benchmark"], lang=lang
        )
        assert len(fig.axes) == 2
        titles = [ax.get_title() for ax in fig.axes]
        assert all(titles) and (lang == "en") == titles[0].isascii()


def test_a_sentence_is_said_once_when_the_interval_includes_zero():
    """Issue 17: with the conventional interval including zero both restrictions read 'not
    distinguishable from zero', and the report printed that sentence twice."""
    beta, V = _planted(trend_only=False)
    res = sensitivity(np.zeros_like(beta), V, PRE, POST, FAST, seed=1)["results"]
    by = res["sentences_by_restriction"]
    assert by["DeltaSD"] == by["DeltaRM"]
    assert res["sentences"]["en"] == by["DeltaSD"]["en"]
    assert res["sentences"]["zh"] == by["DeltaSD"]["zh"]
    assert res["sentences"]["en"].count("not distinguishable") == 1


def _headline_es(beta_pre_flat: bool = True):
    """A fabricated headline event study (:func:`analysis.studies.binary.headline_event_study`
    shape): leads -4..-1, horizons 0..4, three cohorts everywhere but e = 4 (one)."""
    times = [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    b = [0.004, -0.003, 0.002, 0.01, 0.08, 0.1, 0.12, 0.15, 0.3]
    if not beta_pre_flat:
        b[:4] = [-0.12, -0.08, -0.05, 0.0]
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 9)) * 0.004
    V = pd.DataFrame(A.T @ A + np.eye(9) * 1e-5, index=times, columns=times)
    n_h = pd.Series([40.0, 30, 20, 8, 2], index=[0, 1, 2, 3, 4])
    return {
        "event_times": times,
        "beta": pd.Series(b, index=times),
        "vcov": V,
        "weights": n_h / n_h.sum(),
        "n_cohorts": {**{e: 3 for e in times}, 4: 1},
        "shape": pd.Series(np.r_[np.arange(-4, 0), np.arange(0, 5) + 3.0], index=times),
        "headline": float((n_h / n_h.sum()) @ np.array(b[4:])),
        "truth": pd.Series([0, 0, 0, 0, 0.07, 0.1, 0.13, 0.15, 0.3], index=times, dtype=float),
        "cluster": "province",
        "n_clusters": 30,
        "critical_value": 2.045,
    }


def test_headline_sensitivity_targets_the_headline_weights_relative_to_e_minus_1():
    from analysis.studies.robustness.sensitivity import headline_sensitivity, headline_target

    es = _headline_es()
    opt = HonestDiDConfig(window=(-4, 4), min_cohorts=2, Mbarvec=(0.0, 1.0), M_multiples=(0.0, 1.0),
                          grid_points=100, type="both")  # fmt: skip
    t = headline_target(es, opt)
    assert t["pre"] == [-4, -3, -2] and t["post"] == [0, 1, 2, 3]  # e = 4: one cohort
    w = np.array([40, 30, 20, 8]) / 98
    b = es["beta"]
    assert t["estimate"] == pytest.approx(w @ (b.loc[[0, 1, 2, 3]].to_numpy() - b.loc[-1]))
    assert t["truth"] == pytest.approx(w @ np.array([0.07, 0.1, 0.13, 0.15]))
    power = {
        "by_power": [{"target_power": 0.5, "slope": 0.004}, {"target_power": 0.8, "slope": 0.007}]
    }
    r = headline_sensitivity(es, power, opt, seed=1)["results"]
    assert r["estimate"] == pytest.approx(t["estimate"]) and r["truth"] == pytest.approx(t["truth"])
    tv = r["target_vs_headline"]
    assert tv["horizons_left_out"] == [4] and tv["treated_share_covered"] == pytest.approx(0.98)
    assert tv["difference"] == pytest.approx(t["estimate"] - es["headline"])
    # the benchmark: the 80%-power slope (the noisy pre-period bend is not significant here)
    assert r["benchmark"]["source"] == "power" and r["benchmark"]["M"] == pytest.approx(0.007)
    assert r["benchmark"]["Mbar"] == pytest.approx(0.007 / r["benchmark"]["jump"])
    assert r["M_grid"] == pytest.approx([0.0, 0.007])
    json.dumps(_clean(r))
