"""The Monte Carlo loop's replication (analysis.studies.simulation): what it computes once per
replication gives the numbers of computing it every time (issue 21)."""

from __future__ import annotations

import warnings

import pytest

from analysis.studies import simulation as sim
from analysis.studies.rails import link_truth
from analysis.studies.rules import truth_for


@pytest.fixture(scope="module")
def replication():
    from analysis.data.build import default_inputs
    from analysis.data.synthetic import SyntheticDesign, simulate_panel

    panel, truth = simulate_panel(*default_inputs(), SyntheticDesign(n_cities=60, seed=4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sim.Replication(panel, truth)
        rep.study("pilot"), rep.study("cre")
    return rep


@pytest.mark.parametrize("treatment", ["pilot", "cre"])
def test_truths_are_those_of_the_one_rule(replication, treatment):
    """``Replication.truths`` (memoised per arguments) equals ``truth_for`` called afresh, for
    the study's covariates, the direct covariates and no covariates, and stays so when asked
    twice."""
    rep = replication
    sd = rep.study(treatment)
    truth, key = rep.truth, treatment
    if treatment == "cre":
        truth, key = link_truth(rep.truth, treatment), "rail"
    cities = sd.treated_cities
    for covariates in (sd.covariates, sd.direct_covariates, ()):
        expected = {
            "truth": truth_for(truth, key, (), cities, exclude=sd.censored)["att_overall"],
            "truth_direct": truth_for(truth, key, (), cities, target="direct", exclude=sd.censored)[
                "att_overall"
            ],
            "target": truth_for(truth, key, covariates, cities, exclude=sd.censored)["target"],
        }
        assert rep.truths(treatment, covariates, cities) == expected
        assert rep.truths(treatment, list(covariates), list(cities)) == expected
    fewer = cities[: max(1, len(cities) // 2)]
    assert rep.truths(treatment, sd.covariates, fewer)["truth"] == pytest.approx(
        truth_for(truth, key, (), fewer, exclude=sd.censored)["att_overall"], rel=0, abs=0
    )
