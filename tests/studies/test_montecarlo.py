"""Monte Carlo of the headline estimator, the other estimators and the robustness checks under the
default (honest) DGP of issue 12: noise_sd 0.18, AR(1) 0.6, Student-t(4) shocks, province-year
shocks (SD 0.08), GDP responding to exports (0.1), no forced displacement, mid-year coding with
effects from the coded year (``analysis.data.synthetic``, data/README.md).

The slow part (``make test-slow``) runs, on the full 337-city panel:

* ``N_REPS`` = 500 replications of every estimator of ``simulation.MONTE_CARLO_FAST`` (all but
  Sun-Abraham, half the cost of a replication; it runs in the pipeline's simulation), each with
  the study's own covariates built on the simulated panel (``analysis.studies.rules.study_data``)
  and measured against its own target (``analysis.studies.rules.truth_for``). Asserted: coverage
  in [93%, 97%] and |bias| < 3 MC SE for the pilot headline (against the total effect), the
  direct-effect decomposition (against the direct effect) and the rail headline (against the
  rail total); the rail headline as specified before issue 18 (one on/off pilot dummy) is biased;
* randomization inference on the studentized BJS statistic, cohorts permuted within provinces,
  under a DGP without pilot effect: ``RI_REPS`` x ``RI_DRAWS`` (39 draws: the 5% test is exact
  under exchangeability, (1 + #)/40 <= 0.05 iff at most one placebo beats the actual t); asserted:
  rejection rate within 3 MC SE of 5%;
* the restricted wild cluster bootstrap of the BJS ATT (province clusters, B = 999): CI coverage
  within 3 MC SE of 95%;
* the checklist's doubly-robust CS (``checklist.doubly_robust_att``: DR 2x2 cells on
  pre-designation covariate means, on the outcome net of the time-varying covariates as in the
  headline): CI coverage within 3 MC SE of 95%. (On the baseline means alone it is biased under
  this DGP, +0.011: parallel trends hold given the GDP *path* and the rail link.)

* ``N_REPS`` replications of the headline's event study (``simulation.HEADLINE_ES_ROWS``): the
  HonestDiD target at M = 0 (coverage in [93%, 97%], |bias| < 3 MC SE) and the province-clustered
  t(G-1) band of every event time (pooled over horizons and over leads in [93%, 97%]).

The bounds [93%, 97%] are the issue's, not fitted to the results: a row outside them fails.

The table (coverage, bias, RMSE and their MC SEs for each estimator and check) is printed and
written to ``output/montecarlo/`` (not tracked): ``montecarlo.csv`` and ``montecarlo.md``.
Measured numbers: data/README.md ("Monte Carlo under the default DGP").
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.config import OUTPUT
from analysis.data.build import default_inputs
from analysis.data.synthetic import SyntheticDesign, simulate_panel
from analysis.did.sun_abraham import sun_abraham
from analysis.studies import simulation as sim

# sizes chosen to finish in ~15-25 min on 2 shared cores (cost per replication: data/README.md)
N_REPS = 500
COVERAGE_BOUNDS = (0.93, 0.97)
RI_REPS, RI_DRAWS = 150, 39
WCR_REPS, WCR_B = 500, 999
DR_REPS = 300
OUT = OUTPUT / "montecarlo"
COLUMNS = ["estimator", "target", "bias", "bias_mc_se", "rmse", "rmse_mc_se", "coverage"]
COLUMNS += ["coverage_mc_se", "mean_se", "sd_estimate", "n_reps", "n_failed", "bias_total"]


def _near(value: float, target: float, mc_se: float, k: float = 3.0) -> bool:
    return abs(value - target) < k * mc_se


def _save(name: str, frame: pd.DataFrame, seconds: float) -> None:
    """Each part is written as soon as it is done (a later part's failure loses nothing)."""
    OUT.mkdir(parents=True, exist_ok=True)
    frame.assign(wall_seconds=round(seconds)).to_csv(OUT / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def estimators():
    t = time.perf_counter()
    table = sim.run_monte_carlo(
        n_reps=N_REPS, seed=20240601, n_jobs=2, progress=False, estimators=sim.MONTE_CARLO_FAST
    )
    _save("estimators", table.reset_index().drop(columns="label"), time.perf_counter() - t)
    return table


@pytest.fixture(scope="module")
def randomization():
    t = time.perf_counter()
    ri = sim.randomization_rejection(n_reps=RI_REPS, draws=RI_DRAWS, seed=7, n_jobs=2)
    row = {
        "estimator": "randomization_inference",
        "target": f"size at 5% under no effect ({RI_DRAWS} draws, within province)",
        "coverage": 1 - ri["rejection_rate"],  # = 1 - rejection rate: comparable with 95%
        "coverage_mc_se": ri["rejection_mc_se"],
        "n_reps": ri["n_reps"],
    }
    _save("randomization", pd.DataFrame([row]), time.perf_counter() - t)
    return ri


def dr_replication(seed: int, design: SyntheticDesign, inputs) -> dict:
    """The robustness checklist's DR check itself (``checklist.doubly_robust_att``: pre-designation
    city means of the controls, cohorts without a propensity score left out, the study's
    clustering, t(G-1), the headline's covariates) on one simulated panel; truth: that of the
    cities it keeps, by the one rule (the total effect, as the headline's)."""
    from dataclasses import replace

    from analysis.config import DRConfig
    from analysis.studies.robustness.checklist import doubly_robust_att

    panel, truth = simulate_panel(*inputs, replace(design, seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sim.Replication(panel, truth)
        sd = rep.study("pilot")
        try:
            res, _ = doubly_robust_att(
                sd.panel, list(DRConfig().covariates), time_varying=sd.covariates, truth=truth
            )
        except (np.linalg.LinAlgError, ValueError) as exc:  # counted, not hidden: n_failed
            return {"failed": f"{type(exc).__name__}: {exc}"}
    kept = float(res["truth_same_cohorts"])
    return {
        "estimate": float(res["estimate"]),
        "std_error": float(res["std_error"]),
        "conf_low": float(res["conf_low"]),
        "conf_high": float(res["conf_high"]),
        "truth": kept,
        "truth_direct": kept,
        "target": "total",
    }


CHECKS = {
    "wild_bootstrap": (sim.wild_bootstrap_replication, {"B": WCR_B}),
    "dr_cs": (dr_replication, {}),
}


def _check(name: str, n: int) -> pd.Series:
    t = time.perf_counter()
    replicate, options = CHECKS[name]
    draws = sim.check_coverage(name, replicate, n_reps=n, seed=11, n_jobs=2, **options)
    row = sim.summarise(draws, by=("estimator",)).assign(n_failed=len(draws.attrs["failed"]))
    _save(name, row.drop(columns=["estimator_id"]), time.perf_counter() - t)
    return row.iloc[0]


@pytest.fixture(scope="module")
def wild_bootstrap():
    return _check("wild_bootstrap", WCR_REPS)


@pytest.fixture(scope="module")
def dr_cs():
    return _check("dr_cs", DR_REPS)


def _nominal(row) -> None:
    lo, hi = COVERAGE_BOUNDS
    assert row.n_reps == N_REPS
    assert lo <= row.coverage <= hi, row
    assert abs(row.bias) < 3 * row.bias_mc_se, row


def _nominal_under_spillover(row) -> None:
    """The pilot rows under the default DGP, which has the pilot zones' spillover (-0.01 on
    untreated cities within 100 km, issue 19): those cities are among the controls, so an estimator
    that ignores the spillover is biased upward by the diversion it misreads (the ring design's
    Monte Carlo measures the gap, naive minus ring-design direct effect, at about +0.003). Coverage
    in bounds; the bias upward and small against the s.e. (500 panels when written: headline
    +0.0032, MC s.e. 0.0009, 0.16 of its s.e.; coverage 93.8%)."""
    lo, hi = COVERAGE_BOUNDS
    assert row.n_reps == N_REPS and lo <= row.coverage <= hi, row
    assert -3 * row.bias_mc_se < row.bias < 0.25 * row.mean_se, row


# The pilot rows under the network block (issue 20): 500 panels, seed 20240601, with Broadband
# China in the untreated-outcome model by its cells alone, the headline was biased +0.0108 (0.0012),
# coverage 91.0% (1.3); the direct effect +0.0087 (0.0012), 91.6% (1.2). The designation's effect
# grows with the broadband a city brings and the pilot cities bring more: rule 2's dose column
# (studies/rules.py, CONCURRENT_DOSE) removes it. Since: headline +0.0048 (0.0012), 93.6% (1.1),
# SE/SD 0.93; direct +0.0036 (0.0012), 93.0% (1.1); rail headline +0.0034 (0.0028), 94.6% (1.0).
# With rule 2's cluster count in every study (a concurrent cell learnt from >= 5 provinces; the
# pilot study's Broadband China cells become one dummy + dose column), paired on the same panels:
# headline +0.0049 (0.0010), 94.2% (1.0), SE/SD 0.97; direct +0.0037 (0.0011), 94.0% (1.1),
# SE/SD 0.96; rail headline unchanged; paired differences of the estimates +0.0001 (0.0006).


@pytest.mark.slow
def test_headline_is_nominal_for_the_total_effect(estimators):
    row = estimators.loc["headline"]
    assert row.target == "total"
    _nominal_under_spillover(row)


@pytest.mark.slow
def test_direct_effect_decomposition_is_nominal(estimators):
    row = estimators.loc["direct"]
    assert row.target == "direct"
    _nominal_under_spillover(row)


@pytest.mark.slow
def test_rail_headline_is_nominal_for_the_rail_total(estimators):
    row = estimators.loc["rail_headline"]
    assert row.target == "total"
    _nominal(row)


@pytest.mark.slow
def test_one_pilot_dummy_biased_the_rail_estimate(estimators):
    """Before issue 18 the rail model had one on/off pilot dummy: biased upwards (the pilot zones'
    batch-specific, growing effects credited to rail); the cohort x event-time cells remove it."""
    old, new = estimators.loc["rail_pilot_dummy"], estimators.loc["rail_headline"]
    assert old.bias > 3 * old.bias_mc_se, old
    assert abs(new.bias) < 3 * new.bias_mc_se, new


@pytest.mark.slow
def test_headline_pays_for_province_shocks(estimators):
    """Province-year shocks: the headline clusters by province (the study's rule), with the same
    point estimate as BJS with city clustering and a larger SE."""
    tab = estimators
    assert tab.loc["headline", "bias"] == pytest.approx(tab.loc["bjs", "bias"])
    assert tab.loc["headline", "mean_se"] > tab.loc["bjs", "mean_se"]


@pytest.mark.slow
def test_the_direct_effect_falls_short_of_the_total_by_the_mediated_share(estimators):
    """GDP held at its observed path: the direct effect, short of the total by
    beta_gdp * feedback / (1 + beta_gdp * feedback) of it (6% of the direct by default)."""
    row = estimators.loc["direct"]
    d = SyntheticDesign()
    expected = -d.beta_log_gdp_pc * d.gdp_export_feedback * row.mean_truth
    assert abs(row.bias_total - row.bias - expected) < 1e-9, row


@pytest.mark.slow
def test_single_dummy_twfe_and_cs_without_covariates_are_biased(estimators):
    tab = estimators
    assert tab.loc["twfe", "bias"] < -5 * tab.loc["twfe", "bias_mc_se"], tab
    assert tab.loc["cs_nocov", "bias"] > 3 * tab.loc["cs_nocov", "bias_mc_se"], tab


@pytest.mark.slow
def test_randomization_inference_has_its_size(randomization):
    ri = randomization
    assert ri["n_reps"] == RI_REPS
    assert _near(ri["rejection_rate"], 0.05, sim.mc_se_coverage(0.05, RI_REPS)), ri


@pytest.mark.slow
def test_wild_bootstrap_interval_covers(wild_bootstrap):
    row = wild_bootstrap
    assert _near(row.coverage, 0.95, sim.mc_se_coverage(0.95, WCR_REPS)), row


@pytest.mark.slow
def test_dr_cs_interval_covers(dr_cs):
    """The checklist's DR check: it runs on (almost) every panel and covers its target."""
    row = dr_cs
    assert row.n_failed < 0.02 * DR_REPS, row
    assert _near(row.coverage, 0.95, sim.mc_se_coverage(0.95, DR_REPS)), row
    assert abs(row.bias) < 3 * row.bias_mc_se, row


@pytest.fixture(scope="module")
def headline_es():
    """``N_REPS`` replications of the headline's event study (issue 18): the HonestDiD target at
    M = 0 and each event time's province-clustered t(G-1) band, against their own truths."""
    t = time.perf_counter()
    table = sim.run_monte_carlo(
        n_reps=N_REPS, seed=20240601, n_jobs=2, progress=False, estimators=sim.HEADLINE_ES_ROWS
    )
    _save("headline_es", table.reset_index().drop(columns="label"), time.perf_counter() - t)
    return table


@pytest.mark.slow
def test_honestdid_target_is_nominal(headline_es):
    """The HonestDiD target on the headline's event study (re-based to e = -1, the headline's
    weights on the supported horizons): its M = 0 interval covers its own truth."""
    _nominal(headline_es.loc[sim.HONEST])


@pytest.mark.slow
def test_headline_event_study_bands_cover(headline_es):
    """The province-clustered t(G-1) bands of the headline's event study: pooled over the
    horizons and over the leads (truth 0) coverage in [93%, 97%]; each event time unbiased."""
    lo, hi = COVERAGE_BOUNDS
    rows = headline_es.drop(index=sim.HONEST)
    times = {k: int(k.removeprefix("es_")) for k in rows.index}
    for part in (lambda e: e >= 0, lambda e: e < 0):
        keep = [k for k, e in times.items() if part(e)]
        assert lo <= rows.loc[keep, "coverage"].mean() <= hi, rows.loc[keep]
    for _, row in rows.iterrows():
        assert abs(row.bias) < 3 * row.bias_mc_se, row


@pytest.mark.slow
def test_write_the_table(estimators, randomization, wild_bootstrap, dr_cs):
    """output/montecarlo/montecarlo.md: every part in one table (printed with -s)."""
    parts = ["estimators", "randomization", "wild_bootstrap", "dr_cs"]
    frames = [pd.read_csv(OUT / f"{p}.csv").assign(part=p) for p in parts]
    combined = pd.concat(frames, ignore_index=True)
    cols = [c for c in COLUMNS if c in combined.columns]
    md = combined[cols].to_markdown(index=False, floatfmt=".4f")
    wall = combined.groupby("part", sort=False)["wall_seconds"].first()
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in wall.items())
    (OUT / "montecarlo.md").write_text(f"{md}\n\nwall time (2 workers): {timing}\n")
    print(f"\n{md}\n{timing}")
    assert len(combined) == len(sim.MONTE_CARLO_FAST) + 3


# ---- fast (default suite) ----------------------------------------------------------------------
def test_run_monte_carlo_smoke():
    """Two replications of the full default panel, every estimator but Sun-Abraham: finite
    output, MC SEs, each row against its own target over the cities it keeps; loose checks that
    the pilot headline, the decomposition and the rail headline are near their truths."""
    tab = sim.run_monte_carlo(
        n_reps=2, seed=1, n_jobs=1, progress=False, estimators=sim.MONTE_CARLO_FAST
    )
    assert list(tab.index) == list(sim.MONTE_CARLO_FAST)
    assert (tab["n_reps"] == 2).all()
    cols = ["coverage", "coverage_mc_se", "bias", "bias_mc_se", "rmse", "sd_estimate", "mean_se"]
    assert np.isfinite(tab[cols].to_numpy()).all()
    # one rule for the target: total for every estimator with the study's covariates
    direct = {"direct", "rail_pilot_dummy"}
    assert (tab.loc[list(direct), "target"] == "direct").all()
    assert (tab.drop(index=list(direct))["target"] == "total").all()
    reps = tab.attrs["reps"]
    assert {"conf_low", "conf_high", "truth", "truth_direct", "target"} <= set(reps.columns)
    reps = reps.set_index(["rep", "estimator_id"])
    # the rail rows carry the rail truth, the pilot rows the pilot truth
    rail, pilot = reps.xs("rail_headline", level=1), reps.xs("headline", level=1)
    assert (rail["truth"] < pilot["truth"]).all()
    # loose: within 4 of its SEs of its target on average over the two panels
    for key in ("headline", "direct", "rail_headline"):
        row = tab.loc[key]
        assert abs(row.bias) < 4 * row.mean_se, row
    # the appendix interval: the same estimate, city clusters, t(G-1): wider than BJS's normal
    h, b = reps.xs("headline_city", level=1), reps.xs("bjs", level=1)
    np.testing.assert_allclose(h["estimate"], pilot["estimate"])
    assert ((h["conf_high"] - h["conf_low"]) > (b["conf_high"] - b["conf_low"])).all()


def test_headline_event_study_rows_smoke():
    """One replication on a 150-city subset: the HonestDiD target and the event-time rows carry
    their own truths (zero before treatment) and the bands use the study's t(G-1)."""
    from scipy import stats

    tab = sim.run_monte_carlo(
        n_reps=1, seed=2, n_jobs=1, progress=False, design=SyntheticDesign(n_cities=150),
        estimators=sim.HEADLINE_ES_ROWS,
    )  # fmt: skip
    reps = tab.attrs["reps"].set_index("estimator_id")
    assert (reps["target"] == "own").all()
    assert (reps.loc[[f"es_{e}" for e in sim.ES_TIMES if e < 0], "truth_own"] == 0).all()
    assert (reps.loc[[f"es_{e}" for e in sim.ES_TIMES if e >= 0], "truth_own"] > 0).all()
    row = reps.loc["es_0"]
    ratio = (row["conf_high"] - row["estimate"]) / row["std_error"]
    assert stats.norm.ppf(0.975) < ratio < stats.t.ppf(0.975, 4)  # t(G-1), G provinces
    h = reps.loc[sim.HONEST]
    assert (h["conf_high"] - h["estimate"]) / h["std_error"] == pytest.approx(ratio)
    assert 0 < h["truth_own"] < 1


def test_fixed_weight_rows_share_the_estimate_with_smaller_ses():
    """Two replications on an 80-city subset: the fixed-weight rows share the point estimate of
    their default and have smaller SEs."""
    keys = ("cs_tv", "cs_tv_fixedw", "sa", "sa_fixedw")
    tab = sim.run_monte_carlo(
        n_reps=2, seed=1, n_jobs=1, progress=False, design=SyntheticDesign(n_cities=80),
        estimators={k: sim.MONTE_CARLO[k] for k in keys},
    )  # fmt: skip
    reps = tab.attrs["reps"].set_index(["rep", "estimator_id"])
    for fixed, default in (("cs_tv_fixedw", "cs_tv"), ("sa_fixedw", "sa")):
        est_f, est_d = reps.xs(fixed, level=1), reps.xs(default, level=1)
        np.testing.assert_allclose(est_f["estimate"], est_d["estimate"])  # same point estimate
        assert (est_f["std_error"] < est_d["std_error"]).all()  # minus the weight variance


def test_summary_mc_standard_errors():
    draws = pd.DataFrame(
        {
            "estimator": "x",
            "estimator_id": "bjs",
            "target": "direct",
            "estimate": [0.1, 0.3, 0.2, 0.2],
            "std_error": 0.1,
            "conf_low": [0.0, 0.25, 0.15, -0.1],
            "conf_high": [0.15, 0.35, 0.19, 0.5],
            "truth": 0.3,
            "truth_direct": 0.2,
        }
    )
    row = sim.summarise(draws, by=("estimator",)).iloc[0]
    assert row.target == "direct" and row.mean_truth == pytest.approx(0.2)
    assert row.bias == pytest.approx(0.0) and row.bias_total == pytest.approx(-0.1)
    assert row.bias_mc_se == pytest.approx(np.std([-0.1, 0.1, 0, 0], ddof=1) / 2)
    assert row.coverage == pytest.approx(0.25)  # only [-.1, .5] contains 0.2 (not 0.3: direct)
    assert row.coverage_mc_se == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert row.rmse == pytest.approx(np.sqrt(0.02 / 4))
    assert row.n_reps == 4


def test_sa_fixed_weight_se_matches_per_event_time():
    """SunAbrahamResult.se_fixed_weights reproduces sun_abraham's own per-e fixed-weight SEs."""
    panel, _ = simulate_panel(*default_inputs(), SyntheticDesign(seed=3, n_cities=60))
    sa = sun_abraham(
        panel, "log_exports", "year", "city_code", "pilot_year", covariates=["log_gdp_pc", "rail"]
    )
    e = sa.catt["event_time"].to_numpy()
    got = [sa.se_fixed_weights(e == k) for k in sa.event_times]
    np.testing.assert_allclose(got, sa.std_errors_fixed_weights, rtol=1e-10)
    # and sun_abraham's own overall fixed-weight SE (the Monte Carlo's sa_fixedw) is the same quantity
    assert sa.att_se_fixed_weights == pytest.approx(sa.se_fixed_weights(e >= 0), rel=1e-10)
    assert sa.att_se_fixed_weights < sa.att_se  # the default adds the weight-estimation variance
