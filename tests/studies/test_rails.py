"""The two rail links apart (studies/rails.py): each link's own panel and truth through the binary
study, the inference for few treated clusters, the corridor's plain estimate."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.city_panel_data import city_inputs
from scipy import stats

from analysis.studies.rails import (
    corridor_bjs,
    few_clusters_inference,
    few_clusters_metrics,
    inference_table,
    link_panel,
    link_study,
    link_truth,
    minimum_detectable_effect,
    pretrend_wild_table,
)
from analysis.studies.rules import truth_for


def test_link_panel_and_truth():
    _, panel, truth = city_inputs()
    cre = link_panel(panel, "cre")
    laos_cities = panel.loc[panel["laos_rail_year"] > 0, "city_code"].unique()
    assert sorted(cre.attrs["left_out"]) == sorted(laos_cities)
    assert not cre["city_code"].isin(laos_cities).any()
    assert (cre["rail_year"] == cre["cre_year"]).all()
    assert ((cre["rail"] == 1) == ((cre["cre_year"] > 0) & (cre["year"] >= cre["cre_year"]))).all()
    laos = link_panel(panel, "laos")
    assert laos.loc[laos["rail_year"] > 0, "city_code"].nunique() == 4
    assert link_truth(truth, "cre")["rail"] is truth["cre"]
    assert "rail" not in link_truth({"pilot": {}}, "laos")  # a user's file: no truth


def test_minimum_detectable_effect():
    assert minimum_detectable_effect(0.1, None) == pytest.approx(
        (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.1
    )
    assert minimum_detectable_effect(0.1, 31) == pytest.approx(
        (stats.t.ppf(0.975, 30) + stats.t.ppf(0.8, 30)) * 0.1
    )


@pytest.fixture(scope="module")
def cre():
    _, panel, truth = city_inputs()
    study, data = link_study(panel, truth, "cre", (-4, 3), "city_code", ("bjs",), ri_draws=9)
    inf = few_clusters_inference(data, study, (-4, 3), wild_draws=199, ct_draws=199, seed=2)
    return study, data, inf


def test_cre_study_is_the_binary_study_of_its_own_link(cre):
    study, _, _ = cre
    _, _, truth = city_inputs()
    assert study["treatment"] == "cre" and study["link"] == "china-europe-railway-express"
    # 12 of the 13 CRE cities: 重庆 (first service 2011) has one pre-service year, fewer than the
    # pre-trend rule of the controls needs (studies/rules.py), and leaves the study, recorded
    assert study["n_treated_cities"] == 12
    assert study["covariate_rule"]["cities_left_out"].keys() == {"500000"}
    assert study["cluster_diagnostic"]["province"]["n_treated_clusters"] == 11
    # the target: the link's total effect over the CRE cities kept (the one rule of truths)
    kept = sorted(set(truth["cre"]["cities"]) - {"500000"})
    own = truth_for(link_truth(truth, "cre"), "rail", study["covariates"], kept)
    assert own["target"] == "total"
    assert study["headline"]["truth"] == pytest.approx(own["att_overall"])
    # the pilot zones by their cohort x event-time cells, not one dummy; no rail dummy
    assert "rail" not in study["covariates"] and "pilot" not in study["covariates"]
    assert any(c.startswith("pilot_g") for c in study["covariates"])


def test_few_clusters_inference(cre):
    study, _, inf = cre
    head = study["headline"]
    wb, ct = inf["wild_bootstrap"], inf["conley_taber"]
    # the bootstrap and Conley-Taber bootstrap the same BJS ATT (no leave-out refinement there)
    assert wb["estimate"] == pytest.approx(ct["estimate"], rel=1e-9)
    assert wb["estimate"] == pytest.approx(head["estimate"], rel=1e-9)
    assert wb["weights"] == "webb" and wb["n_treated_clusters"] == 11 and wb["B"] == 199
    assert wb["conf_low"] < wb["estimate"] < wb["conf_high"]
    assert ct["n_treated_units"] == 12 and ct["conf_low"] < ct["estimate"] < ct["conf_high"]
    for name in ("bjs", "twfe"):
        test = inf["pretrend_wild"][name]
        # a bootstrap p-value: the share of 199 draws at least as extreme (0 when none is)
        assert test["n_clusters"] == 30 and 0 <= test["p_value"] <= 1 and test["df"] >= 1
    assert inf["mde"]["headline"] == pytest.approx(
        minimum_detectable_effect(head["std_error"], head["n_clusters"])
    )
    table = inference_table(study, inf)
    assert len(table) == 4 and table["truth_in_ci"].iloc[-1] is None  # RI: no interval
    wald = pretrend_wild_table(study, inf)
    assert wald["p_value_wcr"].notna().sum() == 2
    metrics = few_clusters_metrics(inf)
    assert {"wcr_p", "ct_low", "mde", "pretrend_twfe_wcr_p"} <= set(metrics)


def test_few_clusters_skip_when_too_few_clusters(cre):
    study, data, _ = cre
    few = data[data["province"].isin(data["province"].unique()[:4])]
    inf = few_clusters_inference(few, study, (-4, 3), wild_draws=99, ct_draws=99)
    assert "too few" in inf["wild_bootstrap"]["skipped"]
    assert "skipped" in inf["pretrend_wild"]


def test_corridor_bjs():
    _, panel, truth = city_inputs()
    res = corridor_bjs(panel, truth)
    # the corridor's total effect (GDP enters by its pre-railway trend)
    assert res["n_treated_cities"] == 4 and res["truth"] == pytest.approx(
        truth["laos"]["att_overall"]
    )
    assert np.isfinite(res["estimate"]) and res["bias"] == pytest.approx(
        res["estimate"] - res["truth"]
    )
    assert "no corridor city" in corridor_bjs(panel.assign(laos_rail_year=0), truth)["skipped"]


def _cre_draw(seed: int, **design) -> dict:
    from analysis.data import reference, synthetic, treatments

    master, _, _ = city_inputs()
    table = treatments.city_treatments(
        master, reference.load_pilot_zones(), reference.load_rail_links()
    )
    panel, truth = synthetic.simulate_panel(
        master, table, reference.load_national_exports(),
        synthetic.SyntheticDesign(seed=1000 + seed, **design),
    )  # fmt: skip
    study, data = link_study(panel, truth, "cre", (-5, 5), "city_code", ("bjs",))
    inf = few_clusters_inference(data, study, (-5, 5), wild_draws=999, ct_draws=999, seed=seed)
    h, wb, ct = study["headline"], inf["wild_bootstrap"], inf["conley_taber"]
    tr = h["truth"]
    out = {f"{k}_cover": lo <= tr <= hi for k, (lo, hi) in (
        ("head", (h["conf_low"], h["conf_high"])), ("wcr", (wb["conf_low"], wb["conf_high"])),
        ("ct", (ct["conf_low"], ct["conf_high"])))}  # fmt: skip
    for name in ("bjs", "twfe"):
        test = inf["pretrend_wild"][name]
        out[f"{name}_chi2"], out[f"{name}_wcr"] = test["p_value_chi2"], test["p_value"]
    return out | {"error": h["estimate"] - tr}


@pytest.mark.slow
def test_cre_inference_on_redraws_of_the_synthetic_design():
    """100 redraws of the default design (no CRE pre-trend; the pilot zones' batch-specific,
    growing effects in the CRE cities' untreated model by their cohort x event-time cells): the
    province-clustered chi-squared pre-trend tests over-reject, their WCR versions do not; the
    headline is centred on the CRE's total effect; the headline and wild-bootstrap intervals cover
    near 95% (the Monte Carlo's 500-panel row bounds the headline's in [93%, 97%]), the
    Conley-Taber interval less (84% when measured). Measured
    before issue 18's pilot cells (one pilot dummy): chi2 rejects 60% (BJS) / 37% (TWFE), WCR 3% /
    6%, bias +0.037, coverage headline 91%, WCR 88%, Conley-Taber 84% (~10 min CPU)."""
    import pandas as pd

    draws = pd.DataFrame([_cre_draw(s) for s in range(100)])
    rejects = (draws[["bjs_chi2", "bjs_wcr", "twfe_chi2", "twfe_wcr"]] < 0.05).mean()
    assert rejects["bjs_chi2"] > 0.2 and rejects["twfe_chi2"] > 0.2, rejects
    assert rejects["bjs_wcr"] <= 0.11 and rejects["twfe_wcr"] <= 0.12, rejects
    for col in ("head_cover", "wcr_cover"):
        assert draws[col].mean() >= 0.89, (col, draws[col].mean())
    # Conley-Taber under-covers on this design (84% when measured, seeds 1000-1099): its null
    # distribution comes from never-treated cities' residuals and leaves out the estimation
    # error of the untreated model (year effects, the pilot cells, the controls' trends), which a
    # dozen large hubs load on; the notebook says so and reads the wild bootstrap first
    assert 0.75 <= draws["ct_cover"].mean() < draws["wcr_cover"].mean()
    assert abs(draws["error"].mean()) < 3 * draws["error"].std() / 10
