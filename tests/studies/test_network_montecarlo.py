"""Monte Carlo of the network study's estimates (issue 20) on redraws of the default design:
``simulation.NETWORK_MONTE_CARLO`` (Broadband China headline, CGS ATT^o / ACRT^o / uniform band,
dCDH on the banded doses), each against its own truth.

Measured (200 replications, seed 20240601, 2 workers, 560 s): coverage (MC s.e.) headline 95.0%
(1.5), CGS ATT^o 93.0% (1.8), CGS ACRT^o 96.5% (1.3), CGS uniform band of ATT(d|d) 77.5% (3.0),
dCDH broadband 87.0% (2.4), dCDH mobile 93.0% (1.8); bias of the headline +0.0105 (0.0016), of
CGS ATT^o +0.0133 (0.0017). The band and dCDH-broadband rows under-cover: their bounds below
record the shortfall (the report states it), they are not claims of nominal coverage.
"""

import numpy as np
import pytest

from analysis.studies import simulation as sim


def test_network_rows_smoke():
    """Two replications: every network row is finite and carries its truth."""
    tab = sim.run_monte_carlo(
        n_reps=2, seed=1, n_jobs=1, progress=False, estimators=sim.NETWORK_MONTE_CARLO
    )
    assert list(tab.index) == list(sim.NETWORK_MONTE_CARLO)
    assert np.isfinite(tab[["bias", "coverage", "mean_truth"]].to_numpy()).all()
    reps = tab.attrs["reps"].set_index(["rep", "estimator_id"])
    head = reps.xs("bc_headline", level=1)
    assert (head["truth"] > 0.05).all()  # the designation's true effect (total)
    # the ACRT row's truth is the identified slope; the causal ACRT is smaller (selection)
    acrt = reps.xs("cgs_acrt", level=1)
    assert (acrt["truth_direct"] < acrt["truth"]).all()


@pytest.mark.slow
def test_network_rows_cover_their_truths():
    tab = sim.run_monte_carlo(
        n_reps=200, seed=20240601, n_jobs=2, progress=False, estimators=sim.NETWORK_MONTE_CARLO
    )
    cov = tab["coverage"]
    # nominal claims: within about 2 MC s.e. (1.5-1.8 points at 200 reps) of 95%
    for key in ("bc_headline", "cgs_acrt", "dcdh_mobile"):
        assert 0.915 <= cov[key] <= 0.985, (key, cov[key])
    assert 0.90 <= cov["cgs_att"] <= 0.97, cov["cgs_att"]
    # documented shortfalls (measured 77.5% and 87.0%)
    assert 0.70 <= cov["cgs_band"] <= 0.85, cov["cgs_band"]
    assert 0.82 <= cov["dcdh_broadband"] <= 0.92, cov["dcdh_broadband"]
