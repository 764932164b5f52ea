"""Monte Carlo of the network study's estimates (issue 20) on redraws of the default design:
``simulation.NETWORK_MONTE_CARLO`` (Broadband China headline, CGS ATT^o / ACRT^o / uniform band,
dCDH on the banded doses), each against its own truth.

Measured (200 replications, seed 20240601, 2 workers, 197 s; default design, selection_on_gains
0): coverage (MC s.e.) headline 89.5% (2.2), CGS ATT^o 90.5% (2.1), CGS ACRT^o 95.0% (1.5), CGS
uniform band of ATT(d|d) 73.0% (3.1), dCDH broadband 89.5% (2.2), dCDH mobile 93.0% (1.8); bias
of the headline +0.0192 (0.0016), of CGS ATT^o +0.0185 (0.0018). The headline's bias is
structural (noiseless panel: 0.124 against 0.107): the concurrent pilot zones enter its study as
one static dummy because 7 of their cohort x event-time cells occur only among designated cities
(studies/rules.py); the same bias shifts the CGS curve. The bounds below record these shortfalls
(the report and data/README.md state them); they are not claims of nominal coverage.
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
    for key in ("cgs_acrt", "dcdh_mobile"):
        assert 0.915 <= cov[key] <= 0.985, (key, cov[key])
    # documented shortfalls (measured 89.5%, 90.5%, 73.0%, 89.5%)
    for key, (lo, hi) in {
        "bc_headline": (0.85, 0.94),
        "cgs_att": (0.86, 0.95),
        "cgs_band": (0.65, 0.81),
        "dcdh_broadband": (0.85, 0.94),
    }.items():
        assert lo <= cov[key] <= hi, (key, cov[key])
