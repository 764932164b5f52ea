"""HonestDiD sensitivity analysis against the published R HonestDiD README (ehec, Medicaid)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy import optimize

from analysis.did.honestdid import (
    _ARPMoments,
    breakdown_values,
    honest_did,
    original_cs,
    sensitivity_rm,
    sensitivity_sd,
)
from analysis.did.rng import RRandom

# R HonestDiD README, ehec example (createSensitivityResults / _relativeMagnitudes printouts).
R_SD = {  # M: (lb, ub), method FLCI
    0.00: (0.0259, 0.0607),
    0.01: (0.0132, 0.0787),
    0.02: (0.00286, 0.0907),
    0.03: (-0.00714, 0.101),
    0.04: (-0.0171, 0.111),
    0.05: (-0.0271, 0.121),
}
R_RM = {  # Mbar: (lb, ub), method C-LF, R's default 1000-point grid on +-20 sd
    0.5: (0.0240, 0.0672),
    1.0: (0.0170, 0.0720),
    1.5: (0.00824, 0.0797),
    2.0: (-0.000916, 0.0881),
}
# Numbers quoted in shared/validation/README.md. They are the expected values of the Python port
# moderndid (tests/didhonest/test_medicaid_example.py, checked there with atol 1e-3), not R's
# printout above; they differ from R by at most one grid step.
PORT_RM = {
    0.5: (0.0241, 0.0673),
    1.0: (0.0171, 0.0720),
    1.5: (0.00859, 0.0796),
    2.0: (-0.00107, 0.0883),
}


def _same_3sf(x: float, ref: float) -> bool:
    """x rounds to ref at ref's 3 significant figures."""
    scale = 10.0 ** (np.floor(np.log10(abs(ref))) - 2)
    return abs(round(x / scale) - round(ref / scale)) == 0


@pytest.fixture(scope="module")
def ehec(load_validation):
    """Event-study coefficients (5 pre, 2 post) and CRV1 covariance as in the R README."""
    import pyfixest as pf

    df = load_validation("ehec.csv")
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    df["D"] = (df["yexp2"] == 2014).astype(int)
    # pyfixest's default small-sample correction (k_fixef="nonnested", G/(G-1)) is fixest's
    # default ssc(fixef.K = "nested", cluster.adj = TRUE), as used by summary()$cov.scaled in R.
    fit = pf.feols("dins ~ i(year, D, ref=2013) | stfips + year", data=df, vcov={"CRV1": "stfips"})
    names = [f"year::{y}:D" for y in (2008, 2009, 2010, 2011, 2012, 2014, 2015)]
    coef = fit.coef()
    order = [list(coef.index).index(n) for n in names]
    beta = coef.to_numpy()[order]
    sigma = np.asarray(fit._vcov)[np.ix_(order, order)]
    return beta, sigma


def test_event_study_inputs(ehec):
    beta, sigma = ehec
    assert beta[5] == pytest.approx(0.04645, abs=1e-5)  # 2014 effect
    assert beta[6] == pytest.approx(0.06921, abs=1e-5)  # 2015 effect
    assert np.allclose(sigma, sigma.T)
    lb, ub = original_cs(beta, sigma, 5, 2)
    assert (lb + ub) / 2 == pytest.approx(beta[5])
    assert (ub - lb) / 2 == pytest.approx(1.959964 * np.sqrt(sigma[5, 5]), rel=1e-6)


def test_flci_smoothness_matches_r(ehec):
    beta, sigma = ehec
    res = sensitivity_sd(beta, sigma, 5, 2, Mvec=list(R_SD))
    for row in res.itertuples():
        lb, ub = R_SD[round(row.M, 2)]
        assert _same_3sf(row.lb, lb), (row.M, row.lb, lb)
        assert _same_3sf(row.ub, ub), (row.M, row.ub, ub)
    assert (res["method"] == "FLCI").all() and (res["delta"] == "DeltaSD").all()


@pytest.fixture(scope="module")
def rm_results(ehec):
    beta, sigma = ehec
    return sensitivity_rm(beta, sigma, 5, 2, Mbarvec=list(R_RM))


def test_relative_magnitudes_matches_r(rm_results):
    for row in rm_results.itertuples():
        lb, ub = R_RM[row.M]
        assert _same_3sf(row.lb, lb), (row.M, row.lb, lb)
        assert _same_3sf(row.ub, ub), (row.M, row.ub, ub)
    assert (rm_results["method"] == "C-LF").all()


def test_relative_magnitudes_within_a_grid_step_of_port_numbers(rm_results, ehec):
    _, sigma = ehec
    step = 40 * np.sqrt(sigma[5, 5]) / 999  # R's default grid spacing
    for row in rm_results.itertuples():
        lb, ub = PORT_RM[row.M]
        assert abs(row.lb - lb) <= step and abs(row.ub - ub) <= step


def test_relative_magnitudes_single_post_period(ehec):
    """No-nuisance path (one post period): CIs nest as Mbar grows; Mbar = 0 is close to the
    conventional CI because delta_post is then pinned at zero."""
    beta, sigma = ehec
    res = sensitivity_rm(beta[:6], sigma[:6, :6], 5, 1, Mbarvec=[0.0, 1.0, 2.0])
    assert (np.diff(res["lb"]) <= 0).all() and (np.diff(res["ub"]) >= 0).all()
    lb, ub = original_cs(beta[:6], sigma[:6, :6], 5, 1)
    assert res["lb"].iloc[0] == pytest.approx(lb, abs=0.002)
    assert res["ub"].iloc[0] == pytest.approx(ub, abs=0.002)


def test_r_random_stream():
    """R: set.seed(0); rnorm(3) / runif(3); set.seed(42); rnorm(2)."""
    assert np.allclose(RRandom(0).rnorm(3), [1.262954285, -0.326233361, 1.329799263])
    assert np.allclose(RRandom(0).runif(3), [0.8966972, 0.2655087, 0.3721239], atol=1e-7)
    assert np.allclose(RRandom(42).rnorm(2), [1.370958447, -0.564698171])


def test_vertex_enumeration_solves_the_eta_lp():
    """The dual-vertex shortcut gives the same eta as HiGHS on random ARP programs."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        m, k = 6, 2
        X = rng.normal(size=(m, k))
        L = rng.normal(size=(m, m))
        sigma = L @ L.T + 0.1 * np.eye(m)
        mom = _ARPMoments(X, sigma)
        Y = rng.normal(size=(m, 5))
        eta, _ = mom.eta(Y)
        for j in range(5):
            res = optimize.linprog(
                np.r_[1.0, np.zeros(k)],
                A_ub=-np.column_stack([mom.sd, X]),
                b_ub=-Y[:, j],
                bounds=[(None, None)] * (k + 1),
                method="highs",
            )
            if res.status == 0:
                assert eta[j] == pytest.approx(res.fun, abs=1e-9)
            else:
                assert eta[j] == -np.inf


def test_result_object(ehec):
    beta, sigma = ehec
    res = honest_did(beta, sigma, 5, 2, Mvec=[0.0, 0.02], Mbarvec=[1.0], gridPoints=200)
    tidy = res.tidy()
    assert list(tidy.columns[:7]) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert len(tidy) == 4 and tidy["term"].iloc[0] == "original"
    assert (tidy["conf_low"] < tidy["conf_high"]).all()
    assert "DeltaRM" in res.summary()
    ax = res.plot(delta="DeltaSD")
    assert ax.get_xlabel() == "M"
    assert res.plot(delta="DeltaRM").get_xlabel() != "M"


def test_lp_fallback_agrees_with_vertex_path(ehec):
    """Large problems solve each ARP program with HiGHS; on ehec both routes give one answer."""
    from analysis.did.honestdid import _arp_test_grid, _construct_gamma, _create_A_RM, _lf_cv

    beta, sigma = ehec
    grid = np.linspace(-0.01, 0.1, 30)
    for s, positive in [(0, True), (-2, False)]:
        A = _create_A_RM(5, 2, 1.0, s, positive)
        rows = np.flatnonzero((A[:, 5:] != 0).any(axis=1))
        AG = A[:, 5:] @ np.linalg.inv(_construct_gamma(np.array([1.0, 0.0])))
        Y = (A @ beta)[rows, None] - AG[rows, :1] * grid
        fast = _ARPMoments(AG[rows, 1:], (A @ sigma @ A.T)[np.ix_(rows, rows)])
        slow = _ARPMoments(AG[rows, 1:], (A @ sigma @ A.T)[np.ix_(rows, rows)])
        slow.vertices = None
        assert _lf_cv(slow, 0.05, sims=100) == pytest.approx(_lf_cv(fast, 0.05, sims=100))
        lf = _lf_cv(fast, 0.005)
        r_fast = _arp_test_grid(fast, Y, 0.05, "LF", 0.005, lf)
        r_slow = _arp_test_grid(slow, Y, 0.05, "LF", 0.005, lf)
        assert (r_fast == r_slow).all()


def test_centered_grid_follows_an_estimate_far_from_zero(ehec):
    """grid="centered": the Delta^RM grid is est +/- max(20 SE, 1.5 |est|). With the post-period
    effects shifted to ~40 SE from zero, R's default grid (+/- 20 SE around zero) misses the
    confidence set (empty: NaN bounds); the centred grid contains the whole set."""
    beta, sigma = ehec
    se = float(np.sqrt(sigma[5, 5]))
    shifted = beta + np.r_[np.zeros(5), 40 * se, 40 * se]
    kw = {"l_vec": [1.0, 0.0], "Mbarvec": [0.5], "gridPoints": 200, "type": "relative_magnitude"}
    default = honest_did(shifted, sigma, 5, 2, **kw)
    centred = honest_did(shifted, sigma, 5, 2, grid="centered", **kw)
    est = centred.estimate
    half = max(20 * centred.std_error, 1.5 * abs(est))
    by_hand = sensitivity_rm(
        shifted,
        sigma,
        5,
        2,
        [0.5],
        np.array([1.0, 0.0]),
        gridPoints=200,
        grid_lb=est - half,
        grid_ub=est + half,
    )
    np.testing.assert_array_equal(centred.results[["lb", "ub"]], by_hand[["lb", "ub"]])
    lb, ub = centred.results.loc[0, ["lb", "ub"]]
    assert lb < est < ub < est + half  # the set lies inside the grid, around the estimate
    assert default.results.loc[0, ["lb", "ub"]].isna().all()  # no grid point near the estimate
    with pytest.raises(ValueError, match="grid"):
        honest_did(beta, sigma, 5, 2, grid="wide", **kw)


def test_breakdown_values_lie_where_r_crosses_zero(ehec):
    """R's ehec tables cross zero between M = 0.02 and 0.03 (FLCI) and Mbar = 1.5 and 2 (C-LF);
    the refined breakdown lies there, and the robust CI at it includes zero."""
    beta, sigma = ehec
    res = honest_did(
        beta, sigma, 5, 2, Mvec=[0.0, 0.01, 0.02, 0.03, 0.04], Mbarvec=[0.5, 1.0, 1.5, 2.0]
    )
    bd = breakdown_values(beta, sigma, 5, 2, res.results, steps=5)
    sd, rm = bd["DeltaSD"], bd["DeltaRM"]
    assert sd["grid_value"] == 0.03 and 0.02 < sd["value"] <= 0.03
    assert rm["grid_value"] == 2.0 and 1.5 < rm["value"] <= 2.0
    assert sd["bracket"][1] - sd["bracket"][0] == pytest.approx(0.01 / 32)
    at = honest_did(beta, sigma, 5, 2, Mbarvec=[rm["value"]], type="relative_magnitude").results
    assert at["lb"].iloc[0] <= 0 <= at["ub"].iloc[0]
    below = honest_did(beta, sigma, 5, 2, Mvec=[sd["bracket"][0]], type="smoothness").results
    assert below["lb"].iloc[0] > 0
    none = breakdown_values(beta, sigma, 5, 2, res.results[res.results["M"] <= 0.5])
    assert none["DeltaRM"]["value"] is None and none["DeltaRM"]["grid_max"] == 0.5


# --- issue 21: the fast paths give the numbers of the plain computations ----------------------
def _loop_vertices(mom: _ARPMoments) -> np.ndarray:
    """The dual vertices by the former loop: one cond and one solve per candidate basis."""
    import itertools

    Bn = mom.X / mom.sd[:, None]
    size = mom.k + 1
    rhs = np.zeros(size)
    rhs[0] = 1.0
    verts = []
    for S in itertools.combinations(range(mom.m), size):
        S = list(S)
        M = np.vstack([np.ones(size), Bn[S].T])
        if np.linalg.cond(M) > 1e12:
            continue
        mu_S = np.linalg.solve(M, rhs)
        if (mu_S >= -1e-10).all():
            mu = np.zeros(mom.m)
            mu[S] = np.clip(mu_S, 0, None)
            verts.append(mu)
    if not verts:
        return np.empty((0, mom.m))
    return np.unique(np.round(np.array(verts), 14), axis=0)


def test_stacked_vertex_enumeration_equals_the_loop():
    """The batched enumeration (stacked cond and solve) returns the loop's vertices exactly,
    including a design with collinear rows (candidate bases that are not bases)."""
    rng = np.random.default_rng(8)
    for m, k in ((6, 2), (8, 3), (5, 1), (7, 2)):
        X = rng.normal(size=(m, k))
        if m == 7:
            X[3] = X[1]  # repeated moments: singular candidate bases
        L = rng.normal(size=(m, m))
        mom = _ARPMoments(X, L @ L.T + 0.1 * np.eye(m))
        np.testing.assert_array_equal(mom.vertices, _loop_vertices(mom))


def test_folded_normal_quantile_equals_numpy():
    """``_FoldedNormal.quantile`` (order statistics of the sorted draws) is ``np.quantile`` of
    ``|draws + mu|`` to the bit, at the FLCI's levels and random ones, for means on both sides
    of zero and far out in the tails."""
    from analysis.did.honestdid import _FoldedNormal

    fold = _FoldedNormal(0, num_sims=20_001)
    rng = np.random.default_rng(2)
    cases = [(p, mu) for p in (0.0, 1e-7, 0.5, 0.9, 0.95, 0.975, 1.0) for mu in
             (0.0, 1e-12, -0.3, 1.7, 12.0, -40.0)]  # fmt: skip
    cases += [(float(rng.uniform()), float(5 * rng.normal())) for _ in range(200)]
    cases += [(0.95, float(x)) for x in -fold.draws[:50]]  # mu at a draw: a zero and ties
    for p, mu in cases:
        assert fold.quantile(p, mu) == float(np.quantile(np.abs(fold.draws + mu), p)), (p, mu)
