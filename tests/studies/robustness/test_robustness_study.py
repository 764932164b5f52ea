"""The robustness checklist end to end with small options: every section present, JSON-ready,
consistent with the pieces it calls, and its figure list callable."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import pytest
from helpers.city_panel_data import city_inputs

from analysis.data.schema import CONTROLS
from analysis.did.twfe import twfe
from analysis.errors import InputError
from analysis.studies.robustness import checklist
from analysis.studies.robustness.checklist import make_figures, robustness_options, robustness_study

SMALL = {
    "placebo_draws": 99,
    "wild_draws": 199,
    "n_jobs": 1,
    "heterogeneity": {"dimensions": ["coastal"]},
    "honestdid": {"Mbarvec": [0.0, 1.0], "grid_points": 100, "type": "relative_magnitude"},
    "spec_curve": {
        "options": {
            "estimator": ["twfe", "cs"],
            "controls": ["none"],
            "sample": ["all", "drop_ftz"],
            "cluster": ["city_code"],
            "timing": ["approval"],
            "outcome": ["log_exports"],
        }
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
        "placebo",
        "wild_bootstrap",
        "psm_did",
        "concurrent",
        "heterogeneity",
        "bacon",
        "honestdid",
        "spec_curve",
        "summary",
        "settings",
        "truth",
    ):
        assert key in res
    json.dumps(res, allow_nan=False)  # JSON-ready: plain types, NaN -> None
    assert res["settings"]["placebo_draws"] == 99 and res["settings"]["wild_cluster"] == "province"
    assert res["spec_curve"]["n_specs"] == 4 and res["truth"]["att_overall"] == pytest.approx(
        0.1353, abs=1e-3
    )
    assert set(study["timings"]) >= {"placebo", "spec_curve"}


def test_consistent_with_the_pieces(study):
    _, panel, _ = city_inputs()
    res = study["results"]
    fit = twfe(
        panel, "log_exports", ["pilot", "rail", "log_broadband", *CONTROLS], "city_code", "year"
    )
    assert res["baseline"]["estimate"] == pytest.approx(fit.params["pilot"], rel=1e-9)
    # the placebo and wild bootstrap test the same coefficient
    assert res["placebo"]["estimate"] == pytest.approx(fit.params["pilot"], rel=1e-8)
    assert res["wild_bootstrap"]["estimate"] == pytest.approx(fit.params["pilot"], rel=1e-8)
    lo, hi = res["wild_bootstrap"]["conf_low"], res["wild_bootstrap"]["conf_high"]
    assert lo < fit.params["pilot"] < hi
    # Bacon: the weighted 2x2 estimates add up to the uncontrolled TWFE
    assert res["bacon"]["weighted_sum"] == pytest.approx(res["bacon"]["twfe"], rel=1e-8)
    # HonestDiD: Delta^RM with Mbar = 0 contains the estimate (grid centred on it)
    rm0 = next(r for r in res["honestdid"]["table"] if r["delta"] == "DeltaRM" and r["M"] == 0)
    assert rm0["lb"] < res["honestdid"]["estimate"] < rm0["ub"]


def test_figures_are_callable(study):
    figs = make_figures(study)
    assert set(figs) == {c["stem"] for c in study["figures"]} and len(figs) == 7
    assert all(hasattr(f, "savefig") for f in figs.values())


def test_unknown_parameter_is_an_error():
    with pytest.raises(InputError, match="unknown key 'notebooks.robustness.placebo_drawz'") as err:
        robustness_options({"placebo_drawz": 5})
    assert "did you mean 'placebo_draws'?" in str(err.value)
    options = robustness_options({"psm": {"caliper": 0.1}})
    assert options.psm.caliper == 0.1 and options.psm.n_neighbors == 1


def test_settings_record_the_options_and_the_design(study):
    """The results record every option (params.yaml and the schema's defaults) and the design."""
    settings = study["results"]["settings"]
    expected = {**checklist.DESIGN, **robustness_options(SMALL).__dict__, "year_rule": "approval"}
    assert set(settings) == set(expected) | {"progress", "cities_path"}
    assert settings["psm"]["caliper"] == 0.25 and settings["honestdid"]["grid_points"] == 100
    assert settings["heterogeneity"] == {
        "dimensions": ["coastal"],
        "size_bins": 3,
        "methods": ["interaction", "split"],
    }


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
    monkeypatch.setattr(
        checklist, "twfe", lambda *a, **k: pytest.fail("estimated before the rosters")
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
