"""The three treatments' headline tests as one family: each statistic is the headline of its
study (same estimate and p-value), the adjusted p-values lie between the unadjusted and Holm's,
and a panel without broadband keeps a family of two."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.city_panel_data import city_inputs

from analysis.data.design import analysis_sample
from analysis.studies.binary import headline_att, study_design
from analysis.studies.rails import link_panel
from analysis.studies.robustness.multiplicity import treatment_family
from analysis.studies.rules import inference_rule, study_data


@pytest.fixture(scope="module")
def panel():
    return city_inputs()[1]


def test_the_family_holds_the_three_headlines(panel):
    res = treatment_family(panel, draws=4999, seed=3)
    tab = res["table"].set_index("hypothesis")
    assert list(tab.index) == ["pilot", "rail", "log_broadband"]
    design = study_design(panel)
    sample = analysis_sample(panel, design)
    for name in ("pilot", "rail"):
        # the rail headline is the CRE link's (the rail notebook's study, studies/rails.py)
        d = design if name == "pilot" else study_design(link_panel(panel, "cre"))
        s = sample if name == "pilot" else analysis_sample(link_panel(panel, "cre"), d)
        sd = study_data(s, d, name, None)
        head = headline_att(sd.panel, name, sd.cohort, sd.covariates, d)
        assert tab.loc[name, "estimate"] == pytest.approx(head["estimate"], rel=1e-10)
        assert tab.loc[name, "std_error"] == pytest.approx(head["std_error"], rel=1e-8)
        assert tab.loc[name, "p_value"] == pytest.approx(head["p_value"], rel=1e-6)
    assert res["cluster"] == inference_rule(sample).cluster == "province"
    p, adj, holm = (tab[c].to_numpy() for c in ("p_value", "p_adjusted", "p_holm"))
    assert np.all(adj >= p) and np.all(adj <= holm + 0.01)
    corr = res["correlation"]
    # the statistics co-move (shared provinces): 0.28 on the default panel since the network block
    assert corr["pilot"]["log_broadband"] > 0.2


def test_without_broadband_the_family_has_two_members(panel):
    res = treatment_family(panel.drop(columns=["log_broadband", "broadband_per100"]), draws=999)
    assert list(res["table"]["hypothesis"]) == ["pilot", "rail"]
    assert "log_broadband" in res["left_out"]
