"""The robustness checklist end to end with small options: every section present, JSON-ready,
consistent with the pieces it calls, and its figure list callable."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from helpers.city_panel_data import city_inputs, subset_panel

from analysis.data.design import analysis_sample
from analysis.did.randomization import permutation_test
from analysis.did.twfe import twfe
from analysis.did.wild_bootstrap import imputation_wild_bootstrap
from analysis.errors import InputError
from analysis.figures import figure_function
from analysis.pvalues import format_p
from analysis.studies import rules
from analysis.studies.binary import headline_att, study_design
from analysis.studies.robustness import checklist
from analysis.studies.robustness.checklist import make_figures, robustness_options, robustness_study

SEED = 20240601
# results are written at 7 significant digits (analysis.results_io.SIGNIFICANT): compare the
# checklist's numbers with direct calls at that precision
REL = 1e-6
SMALL = {
    "placebo_draws": 99,
    "wild_draws": 199,
    "n_jobs": 1,
    "heterogeneity": {"dimensions": ["coastal"]},
    "honestdid": {"Mbarvec": [0.0, 1.0], "grid_points": 100, "type": "relative_magnitude"},
    "spec_curve": {
        "options": {
            "estimator": ["twfe", "sa"],
            "controls": ["study"],
            "cluster": ["city_code"],
            "outcome": ["log_exports"],
        },
        "draws": 19,
    },
}


@pytest.fixture(scope="module")
def study():
    _, panel, truth = city_inputs()
    return robustness_study(panel, truth, SMALL)


def test_sections_and_json(study):
    res = study["results"]
    for key in (
        "baseline",
        "twfe_foil",
        "placebo",
        "wild_bootstrap",
        "dr",
        "concurrent",
        "heterogeneity",
        "bacon",
        "honestdid",
        "spec_curve",
        "timing",
        "summary",
        "settings",
        "truth",
    ):
        assert key in res, key
    assert res["skips"] == {}
    json.dumps(res, allow_nan=False)  # JSON-ready: plain types, NaN -> None
    assert res["settings"]["placebo_draws"] == 99 and res["settings"]["wild_cluster"] == "province"
    # the truth over the treated cities the study keeps (the one rule), the total effect
    truth = city_inputs()[2]
    sd = _headline()[3]
    kept = rules.truth_for(truth, "pilot", sd.covariates, sd.treated_cities)
    assert res["truth"]["target"] == "total"
    assert res["truth"]["att_overall"] == pytest.approx(kept["att_overall"], rel=1e-6)
    assert res["truth"]["att_overall"] == pytest.approx(truth["pilot"]["att_overall"], abs=0.003)
    assert set(study["timings"]) >= {"baseline", "placebo", "wild_bootstrap", "dr", "spec_curve"}


def _headline():
    """The study's data (analysis.studies.rules.study_data) and its headline."""
    _, panel, _ = city_inputs()
    design = study_design(panel)
    sd = rules.study_data(analysis_sample(panel, design), design, "pilot")
    head = headline_att(sd.panel, "pilot", "pilot_year", sd.covariates, design)
    return sd.panel, sd.covariates, head, sd


def test_every_row_concerns_the_headline(study):
    """The baseline is headline_att itself; RI, the wild bootstrap and the concurrent-policy rows
    re-examine the same BJS ATT; the TWFE coefficient is kept only as the labelled foil."""
    panel, ctrl, head, _ = _headline()
    res, summary = study["results"], study["frames"]["summary"]
    assert list(summary.columns) == checklist.SUMMARY_COLUMNS
    assert summary["check"].is_unique and summary["check"].iloc[0] == "baseline"
    assert {"baseline", "placebo", "wild_bootstrap", "dr"} <= set(summary["check"])
    assert summary["check"].str.startswith("concurrent:").sum() == 2
    # the TWFE foil appears only in the Conley rows (issue 19: its spatial SEs), labelled as such
    foil = summary["check"].str.startswith("conley:")
    assert not summary.loc[~foil, "label"].str.contains("TWFE").any()
    assert summary.loc[foil, "label"].str.contains("TWFE").all()
    for key in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
        # results are rounded for JSON (analysis.results_io): compare to that precision
        assert res["baseline"][key] == pytest.approx(head[key], rel=1e-5)
    row = summary.set_index("check")
    for check in ("baseline", "placebo", "wild_bootstrap"):
        assert row.loc[check, "estimate"] == pytest.approx(head["estimate"], rel=REL)
    conc = study["frames"]["concurrent"]
    assert set(conc["estimator"]) == {"BJS"}
    assert conc.loc[conc["specification"] == "baseline", "estimate"].iloc[0] == pytest.approx(
        head["estimate"], rel=REL
    )
    assert conc[["std_error", "conf_low", "conf_high"]].notna().all().all()
    # dropping the zones' cities changes whose ATT is estimated: each row has its own truth
    own = conc.set_index("specification")["truth_same_cohorts"]
    assert own.notna().all() and own["drop: pilot free trade zone"] != own["baseline"]
    # the foil: TWFE with the same covariates, outside the table
    fit = twfe(panel, "log_exports", ["pilot", *ctrl], "city_code", "year", "province")
    assert res["twfe_foil"]["estimate"] == pytest.approx(fit.params["pilot"], rel=REL)
    assert res["twfe_foil"]["label"] == checklist.FOIL_LABEL


def test_other_timing_codings_are_reported_apart_with_their_truth(study):
    """Issue 18: the approval-year and following-year codings are not points of the curve; the
    headline under each is a row of the summary beside the truth of its cities, and the panel's
    own coding (mid-year) gives the headline itself."""
    _, _, head, _ = _headline()
    timing = study["frames"]["timing"].set_index("coding")
    assert list(timing.index) == ["midyear", "approval", "following"]
    assert timing.loc["midyear", "headline"] and timing.loc["midyear", "n_cities_moved"] == 0
    assert timing.loc["midyear", "estimate"] == pytest.approx(head["estimate"], rel=1e-12)
    # the mid-year rule moves batches 3, 4 and 7 against the approval year; every city against
    # the following year
    assert timing.loc["approval", "batches_moved"] == "3,4,7"
    assert timing.loc["following", "batches_moved"] == "1,2,5,6"
    assert timing["truth"].notna().all()
    gaps = timing["estimate"] - timing["truth"]
    np.testing.assert_allclose(timing["gap_to_truth"], gaps, rtol=1e-12)
    rows = study["frames"]["summary"].set_index("check")
    for coding in ("approval", "following"):
        row = rows.loc[f"timing:{coding}"]
        assert row["estimate"] == pytest.approx(timing.loc[coding, "estimate"], rel=REL)
        assert f"timing: {coding}" in row["label"]
    # no timing and no sample dimension left in the curve
    curve = study["frames"]["spec_curve"]
    assert "timing" not in curve.columns and "sample" not in curve.columns


def test_randomization_inference_is_studentized_and_stratified(study):
    _, _, head, _ = _headline()
    pl = study["results"]["placebo"]
    assert pl["statistic"] == "t" and pl["within"] == "baseline_gdp"
    assert "sensitivity check under exchangeability" in pl["interpretation"]
    # studentized at the study's clustering level (province), covariates rebuilt per permutation
    assert pl["cluster"] == head["cluster"] == "province"
    assert pl["t_stat"] == pytest.approx(head["estimate"] / head["std_error"], rel=REL)
    assert pl["p_value"] == pytest.approx(1 / 100)  # nothing as extreme in 99 placebo draws
    assert pl["p_text"] == format_p(pl["p_value"], pl["draws"], space=" ")
    draws = study["frames"]["placebo_draws"]
    # placebo cohorts overlap the real ones within a province, so the placebo t statistics are
    # shifted by the real effect; none comes near the real one
    assert len(draws) == 99 and draws["t_stat"].notna().all()
    assert (draws["t_stat"].abs() < pl["t_stat"]).all() and draws["t_stat"].std() > 0


def test_region_coastal_strata_keep_cohort_counts_within_each_cell():
    panel = subset_panel()
    data, col, why = checklist._strata(panel, "region_coastal")
    assert (
        why is None
        and data[col].nunique() == panel[["region", "coastal"]].drop_duplicates().shape[0]
    )
    res = permutation_test(
        data, lambda d: (float(d["pilot_year"].mean()), 1.0), "city_code", "pilot_year",
        within=col, draws=25, seed=4, progress=False,
    )  # fmt: skip
    cell = data.groupby("city_code")[col].first()
    actual = data.groupby("city_code")["pilot_year"].first()
    want = actual.groupby(cell).value_counts().sort_index()
    moved = 0
    for b in range(25):
        placebo = res.placebo_cohorts(b)
        assert placebo.groupby(cell).value_counts().sort_index().equals(want)
        moved += int((placebo != actual).sum())
    assert moved > 0
    _, _, why = checklist._strata(panel.drop(columns="coastal"), "region_coastal")
    assert "coastal" in why
    with pytest.raises(InputError, match="placebo_within"):
        robustness_options({"placebo_within": "city"})


def test_wild_bootstrap_row_is_the_direct_call(study):
    panel, ctrl, _, _ = _headline()
    wb = imputation_wild_bootstrap(
        panel, "log_exports", "year", "city_code", "pilot_year", covariates=ctrl,
        cluster="province", B=199, weights="rademacher", seed=SEED,
    )  # fmt: skip
    row = study["results"]["wild_bootstrap"]
    assert row["estimate"] == pytest.approx(wb.estimate, rel=REL)
    assert row["std_error"] == pytest.approx(wb.std_error, rel=REL)
    assert (row["conf_low"], row["conf_high"]) == pytest.approx(wb.conf_int, rel=REL)
    assert row["p_value"] == wb.p_value and row["n_clusters"] == 30  # Chongqing left out


def test_doubly_robust_att_covers_the_truth_and_balances(study):
    dr = study["results"]["dr"]
    truth = dr["truth_same_cohorts"]
    assert dr["conf_low"] < truth < dr["conf_high"]
    assert abs(dr["estimate"] - truth) < 2 * dr["std_error"]
    assert dr["control_group"] == "nevertreated" and dr["baseline_before"] == 2015
    assert list(dr["cohorts_dropped"]) == ["2015"]  # one city: logit separation
    # the study's covariates: the total effect, over the cohorts it keeps
    assert truth == pytest.approx(study["results"]["truth"]["att_overall"], abs=0.005)
    bal = study["frames"]["dr_balance"]
    assert (bal["smd_after"].abs() < bal["smd_before"].abs()).all()
    assert dr["cluster"] == "province" and dr["std_error"] == dr["se_province"] > 0


def test_bacon_attribution_adds_up(study):
    b = study["results"]["bacon"]
    by = pd.DataFrame(b["by_type"])
    assert by["weight"].sum() == pytest.approx(1.0)
    assert by["contribution"].sum() == pytest.approx(b["twfe_no_controls"], rel=REL)
    assert b["clean_estimate"] + b["forbidden_contribution"] == pytest.approx(
        b["twfe_no_controls"], rel=REL
    )
    assert b["forbidden_contribution"] + b["clean_gap_to_truth"] == pytest.approx(
        b["gap_to_truth"], rel=REL
    )
    assert b["forbidden_contribution"] < 0 < b["forbidden_weight"]
    assert b["twfe_with_controls"] == study["results"]["twfe_foil"]["estimate"]
    assert b["headline_att"] == study["results"]["baseline"]["estimate"]


def test_figures_are_callable(study):
    figs = make_figures(study)
    assert set(figs) == {c["stem"] for c in study["figures"]} and len(figs) == 9
    assert all(hasattr(f, "savefig") for f in figs.values())


def test_figure_functions_may_live_in_other_modules():
    from analysis.figures import effects, robustness

    assert figure_function("plot_bacon") is robustness.plot_bacon
    name = next(n for n in dir(effects) if n.startswith("plot_"))
    assert figure_function(f"effects.{name}") is getattr(effects, name)


def test_summary_takes_rows_from_other_checks(study):
    res = {k: v for k, v in study["results"].items()}
    res["extra"] = {"summary_row": {"label": "x", "estimate": 0.1, "std_error": 0.01}}
    out = checklist._summary(res, study["frames"]["concurrent"])
    assert out.iloc[-1]["check"] == "extra" and out.iloc[-1]["estimate"] == 0.1
    # a check without a number (the spec curve's joint p-value when spec_curve.draws = 0): NaN
    res["extra"] = {"summary_row": {"label": "x", "estimate": 0.1, "p_value": None}}
    out = checklist._summary(res, study["frames"]["concurrent"])
    assert np.isnan(out.iloc[-1]["p_value"])


def test_unknown_parameter_is_an_error():
    with pytest.raises(InputError, match="unknown key 'notebooks.robustness.placebo_drawz'") as err:
        robustness_options({"placebo_drawz": 5})
    assert "did you mean 'placebo_draws'?" in str(err.value)
    options = robustness_options({"dr": {"covariates": ["log_fdi"]}})
    assert options.dr.covariates == ("log_fdi",) and options.placebo_within == "baseline_gdp"


def test_settings_record_the_options_and_the_design(study):
    """The results record every option (params.yaml and the schema's defaults) and the design."""
    settings = study["results"]["settings"]
    expected = {**checklist.DESIGN, **robustness_options(SMALL).__dict__, "year_rule": "midyear"}
    assert set(settings) == set(expected) | {"progress", "cities_path", "covariate_rule"}
    assert settings["cluster"] == "province"
    assert settings["covariate_rule"]["controls_untreated_path"][0] == "log_gdp_pc"
    assert settings["dr"]["covariates"][0] == "log_gdp_pc"
    assert settings["honestdid"]["grid_points"] == 100
    assert settings["heterogeneity"] == {"dimensions": ["coastal"], "size_bins": 3}


class _Stop(Exception):
    pass


def test_concurrent_rosters_follow_the_treatment_year_rule(monkeypatch):
    """The rosters are coded with treatment.year_rule, passed in by the notebook (not an option of
    the checklist's own), and are read before any estimation: a bad roster fails fast."""
    seen = {}

    def loader(files, master, year_rule):
        seen.update(files=files, year_rule=year_rule)
        raise _Stop

    monkeypatch.setattr(checklist.concurrent, "load_concurrent_policies", loader)
    monkeypatch.setattr(checklist, "_city_master", lambda path: None)
    for name in ("twfe", "headline_att"):
        monkeypatch.setattr(
            checklist, name, lambda *a, **k: pytest.fail("estimated before the rosters")
        )
    with pytest.raises(_Stop):
        robustness_study(
            None, {}, {"concurrent_policies": {"x": "data/raw/x.csv"}}, year_rule="following"
        )
    assert seen == {"files": {"x": "data/raw/x.csv"}, "year_rule": "following"}


def test_figures_in_chinese(study):
    import matplotlib.pyplot as plt

    from analysis.figures.style import use_house_style

    use_house_style()
    figs = make_figures(study, "zh")
    titles = [
        ax.get_title() + ax.get_xlabel() + ax.get_ylabel()
        for fig in figs.values()
        for ax in fig.axes
    ]
    assert any("置信区间" in t for t in titles)
    plt.close("all")


def test_conley_and_spillover_sections(study):
    """Issue 19: Conley SEs of the TWFE foil and event study, and the ring design, each with its
    rows in the summary table (the foil's coefficient is the twfe_foil's, with another SE)."""
    res = study["results"]
    conley, spill = res["conley"], res["spillover"]
    rows = pd.DataFrame(res["summary"]).set_index("check")
    cutoffs = conley["cutoffs_km"]
    for c in cutoffs:
        key = f"conley:TWFE:Conley {c:g} km"
        assert rows.loc[key, "estimate"] == pytest.approx(res["twfe_foil"]["estimate"], rel=1e-6)
        assert rows.loc[key, "std_error"] > 0
    assert len([k for k in rows.index if k.startswith("conley:")]) == 2 * len(cutoffs)
    assert rows.loc["spillover:direct", "estimate"] == spill["estimates"]["direct"]["estimate"]
    assert spill["cluster"] == "province" and spill["rings"] == [0.0, 50.0, 100.0]
    assert spill["map_year"] in range(2010, 2024)
    assert "exposure" not in spill  # the 4,718-row frame stays out of the JSON
    # the estimation rows: the study's cities (a city the control rule leaves out, 重庆, is not
    # estimated on, though its designation still exposes its neighbours)
    left = res["settings"]["covariate_rule"]["cities_left_out"]
    panel = city_inputs()[1]
    assert len(study["frames"]["spillover_exposure"]) == (~panel["city_code"].isin(left)).sum()
