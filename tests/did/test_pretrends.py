"""Power of pre-trend tests (Roth 2022) against the R package pretrends (He & Wang 2017 example of
its README) and against closed forms (one pre-period; independent pre-periods)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis.did.pretrends import (
    pretrend_power,
    pretrends,
    rejection_probability,
    slope_for_power,
    truncated_normal_mean,
)
from analysis.figures.style import use_house_style

# R pretrends README (shared/validation/README.md): slope_for_power(sigma, 0.5, tVec, -1), then
# pretrends(beta, sigma, tVec, -1, deltatrue = slope50 * (tVec + 1)) and a quadratic trend.
R_SLOPE50 = 0.05205871
R_LINEAR = {"power": 0.4999776, "bayes_factor": 0.56901, "likelihood_ratio": 0.1057627}
R_MEANS = [
    -0.09230764,
    -0.05555285,
    -0.02790950,
    0.0,
    0.06490184,
    0.12084694,
    0.16946498,
    0.22453827,
]
R_QUADRATIC = {"power": 0.6624282, "bayes_factor": 0.3841516, "likelihood_ratio": 0.4332635}
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def he_wang(validation_dir):
    d = json.loads((validation_dir / "he_wang_pretrends.json").read_text())
    assert d["referencePeriod"] == -1
    return np.array(d["beta"]), np.array(d["sigma"]), np.array(d["tVec"])


@pytest.fixture(scope="module")
def ar1_study():
    """Seven coefficients (3 pre, 4 post, reference -1) with AR(1)-correlated errors: no data."""
    t = np.array([-4.0, -3.0, -2.0, 0.0, 1.0, 2.0, 3.0])
    lag = np.abs(np.subtract.outer(np.arange(7), np.arange(7)))
    sd = np.array([0.09, 0.08, 0.06, 0.06, 0.09, 0.09, 0.1])
    sigma = 0.5**lag * np.outer(sd, sd)
    beta = np.array([0.07, -0.01, -0.03, 0.08, 0.24, 0.22, 0.19])
    return beta, sigma, t


@pytest.fixture(scope="module")
def he_wang_linear(he_wang):
    beta, sigma, t = he_wang
    slope = slope_for_power(sigma, 0.5, t, -1)
    return slope, pretrends(beta, sigma, t, -1, slope * (t + 1))


# --------------------------------------------------------------------------- R reference numbers


def test_slope_for_power_matches_r(he_wang_linear):
    slope, _ = he_wang_linear
    # R's uniroot stops at tolerance 1.2e-4 on a pmvnorm with abseps 1e-3: 0.0520587 vs 0.0520663
    assert slope == pytest.approx(R_SLOPE50, abs=1e-4)


def test_pretrends_linear_trend_matches_r(he_wang_linear):
    _, res = he_wang_linear
    assert res.power == pytest.approx(0.5, abs=1e-8)  # the root of the power equation
    for key, value in R_LINEAR.items():
        assert res.to_dict()[key] == pytest.approx(value, abs=1e-4), key
    tidy = res.tidy()
    assert tidy["event_time"].tolist() == list(range(-4, 4))
    np.testing.assert_allclose(tidy["mean_after_pretesting"], R_MEANS, atol=1e-4)
    assert tidy.loc[tidy["event_time"] == -1, "period"].item() == "reference"


def test_pretrends_at_r_slope_and_r_critical_value(he_wang):
    """At R's own slope and its hard-coded 1.96 the deterministic pieces (likelihood ratio, the
    truncated-normal means) agree to 1e-5; power and Bayes factor within R's integration error
    (mvtnorm's default abseps is 1e-3; our power at R's slope, 0.4998918, is accurate to 1e-7)."""
    beta, sigma, t = he_wang
    res = pretrends(beta, sigma, t, -1, R_SLOPE50 * (t + 1), crit=1.96)
    assert res.likelihood_ratio == pytest.approx(R_LINEAR["likelihood_ratio"], abs=1e-6)
    np.testing.assert_allclose(res.tidy()["mean_after_pretesting"], R_MEANS, atol=1e-5)
    assert res.power == pytest.approx(R_LINEAR["power"], abs=1e-4)
    assert res.bayes_factor == pytest.approx(R_LINEAR["bayes_factor"], abs=2e-4)


def test_pretrends_quadratic_trend_matches_r(he_wang):
    beta, sigma, t = he_wang
    res = pretrends(beta, sigma, t, -1, 0.024 * (t + 1) ** 2)
    for key, value in R_QUADRATIC.items():
        assert res.to_dict()[key] == pytest.approx(value, abs=1e-4), key


def test_results_are_bit_identical_across_calls(he_wang, he_wang_linear):
    beta, sigma, t = he_wang
    slope, first = he_wang_linear
    assert slope_for_power(sigma, 0.5, t, -1) == slope
    again = pretrends(beta, sigma, t, -1, slope * (t + 1))
    assert again.to_dict() == first.to_dict()
    pd.testing.assert_frame_equal(again.tidy(), first.tidy(), check_exact=True)


def test_last_bits_of_the_inputs_do_not_move_the_probabilities():
    """Another CPU's SIMD kernels change the last bits of a covariance; the QMC estimate of a box
    probability must not follow them (unrounded, a 1e-15 relative change moved it by 1e-7 to
    2e-6 and the results files differed across machines, tests/test_pipeline.py)."""
    from analysis.did import pretrends as pt

    rng = np.random.default_rng(3)
    for d in (3, 4, 5):
        a = rng.normal(size=(d, d))
        cov = a @ a.T + np.eye(d)
        half = 1.96 * np.sqrt(np.diag(cov))
        noise = 1 + 1e-15 * rng.standard_normal((d, d))
        moved = cov * (noise + noise.T) / 2
        assert pt._box_probability(-half, half, moved) == pt._box_probability(-half, half, cov)


# --------------------------------------------------------------------------- closed forms


def _univariate_truncated_mean(mu, s, lo, hi):
    a, b = (lo - mu) / s, (hi - mu) / s
    return mu + s * (stats.norm.pdf(a) - stats.norm.pdf(b)) / (
        stats.norm.cdf(b) - stats.norm.cdf(a)
    )


def test_one_pre_period_is_analytic():
    """One pre-period at t = -2 (reference -1): power 1 - [Phi(z - g/s) - Phi(-z - g/s)], the
    truncated-normal mean of a univariate normal, the post-periods moved by the regression on it,
    and the headline bias weights . g (t - ref)."""
    s, rho, s_post = 0.1, 0.4, 0.15
    t = np.array([-2, 0, 1, 2])
    sd = np.array([s, s_post, s_post, s_post])
    corr = np.full((4, 4), rho) + (1 - rho) * np.eye(4)
    sigma = corr * np.outer(sd, sd)
    beta = np.array([0.05, 0.2, 0.3, 0.25])
    es = pd.DataFrame({"event_time": [-2, -1, 0, 1, 2], "estimate": [0.05, 0.0, 0.2, 0.3, 0.25]})
    weights = np.array([0.5, 0.3, 0.2])
    rep = pretrend_power(es, sigma, weights, reference_period=-1, target_powers=(0.5, 0.8))

    def power(g):  # the pre-period coefficient under the trend is g * (-2 + 1) = -g
        return 1 - (stats.norm.cdf(Z + g / s) - stats.norm.cdf(-Z + g / s))

    for row in rep.table.itertuples():
        g = optimize.brentq(lambda x, p=row.target_power: power(x) - p, 0, 1, xtol=1e-14)
        assert row.slope == pytest.approx(g, abs=1e-9)
        assert row.power == pytest.approx(power(row.slope), abs=1e-12)
        assert row.power == pytest.approx(row.target_power, abs=1e-9)
        g = row.slope  # the closed forms below at the slope found
        assert row.headline_bias == pytest.approx(g * weights @ (t[1:] + 1), rel=1e-12)
        pre_mean = _univariate_truncated_mean(-g, s, -Z * s, Z * s)
        post_mean = g * (t[1:] + 1) + sigma[1:, 0] / s**2 * (pre_mean + g)
        assert row.headline_bias_after_pretest == pytest.approx(weights @ post_mean, abs=1e-12)
        res = rep.results[row.target_power]
        np.testing.assert_allclose(
            res.mean_after_pretesting, [pre_mean, *post_mean], rtol=0, atol=1e-12
        )
        lr = stats.norm.pdf(beta[0], -g, s) / stats.norm.pdf(beta[0], 0, s)
        assert row.likelihood_ratio == pytest.approx(lr, rel=1e-10)
        assert row.bayes_factor == pytest.approx((1 - row.power) / 0.95, rel=1e-9)
    assert rep.headline == pytest.approx(weights @ beta[1:])
    assert rep.headline_se == pytest.approx(np.sqrt(weights @ sigma[1:, 1:] @ weights))
    assert rep.passes and rep.max_abs_t_pre == pytest.approx(0.5)
    assert rep.size == pytest.approx(0.05, abs=1e-12)


def test_independent_pre_periods_factorise():
    """Diagonal covariance: pass probability is a product and the truncated means are univariate
    (checks the seeded QMC rectangle probabilities and the Tallis formula in 2 and 3 dimensions)."""
    se = np.array([0.08, 0.05, 0.03])
    sigma = np.diag(np.r_[se, 0.04] ** 2)
    t = np.array([-4, -3, -2, 0])
    delta = 0.02 * (t + 1)
    res = pretrends(np.zeros(4), sigma, t, -1, delta)
    passing = stats.norm.cdf(Z - delta[:3] / se) - stats.norm.cdf(-Z - delta[:3] / se)
    assert res.power == pytest.approx(1 - passing.prod(), abs=1e-6)
    assert res.size == pytest.approx(1 - 0.95**3, abs=1e-6)
    expected = [_univariate_truncated_mean(m, s, -Z * s, Z * s) for m, s in zip(delta[:3], se)]
    np.testing.assert_allclose(res.mean_after_pretesting[:3], expected, atol=1e-6)
    assert res.mean_after_pretesting[3] == pytest.approx(delta[3])  # uncorrelated: unchanged


def test_truncated_normal_mean_against_monte_carlo():
    """Correlated, asymmetric and one-sided bounds (an infinite limit contributes no term)."""
    mean = np.array([0.3, -0.2, 0.1])
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 2.0, -0.4], [0.3, -0.4, 0.5]])
    lower, upper = np.array([-0.5, -np.inf, -1.0]), np.array([1.5, 0.4, 0.2])
    draws = np.random.default_rng(7).multivariate_normal(mean, cov, size=400_000)
    keep = draws[np.all((draws >= lower) & (draws <= upper), axis=1)]
    mc_se = keep.std(axis=0) / np.sqrt(len(keep))
    got = truncated_normal_mean(mean, cov, lower, upper)
    assert np.all(np.abs(got - keep.mean(axis=0)) < 4 * mc_se), (got, keep.mean(axis=0), mc_se)


# --------------------------------------------------------------------------- helper and inputs


def test_helper_aligns_vcov_frames_and_weight_mappings(ar1_study):
    beta, sigma, t = ar1_study
    times = t.astype(int)
    es = pd.DataFrame({"event_time": times, "estimate": beta})
    base = pretrend_power(es, sigma, [0.25] * 4, target_powers=(0.5,))
    order = [3, 0, 6, 2, 5, 1, 4]  # a shuffled, labelled covariance and a reference row
    vcov = pd.DataFrame(sigma[np.ix_(order, order)], index=times[order], columns=times[order])
    es_ref = pd.concat([es, pd.DataFrame({"event_time": [-1], "estimate": [0.0]})])
    other = pretrend_power(
        es_ref.iloc[::-1], vcov, {0: 0.25, 1: 0.25, 2: 0.25, 3: 0.25}, -1, (0.5,)
    )
    pd.testing.assert_frame_equal(base.tidy(), other.tidy())
    assert base.to_dict() == other.to_dict()
    assert "Roth 2022" in base.summary()
    with pytest.raises(ValueError, match="post periods"):
        pretrend_power(es, sigma, [0.5, 0.5])
    with pytest.raises(ValueError, match="not post periods"):
        pretrend_power(es, sigma, {-2: 1.0})


def test_input_errors(ar1_study):
    beta, sigma, t = ar1_study
    with pytest.raises(ValueError, match="reference period"):
        pretrends(beta, sigma, np.where(t == 0, -1, t), -1, beta)
    with pytest.raises(ValueError, match="size of the pre-test"):
        slope_for_power(sigma, 0.05, t, -1)
    with pytest.raises(ValueError, match="no pre-treatment periods"):
        slope_for_power(sigma, 0.5, t, -10)
    with pytest.raises(ValueError, match="symmetric"):
        pretrends(beta, sigma + np.triu(np.full_like(sigma, 1e-3), 1), t, -1, beta)
    assert rejection_probability([0.0], [[1.0]]) == pytest.approx(0.05)


def test_plot_overlay_in_both_languages():
    use_house_style()  # the CJK font for the zh labels
    sigma = np.diag([0.01, 0.01, 0.02])
    t = np.array([-3, -2, 0])
    res = pretrends(np.array([0.02, -0.01, 0.1]), sigma, t, -1, 0.05 * (t + 1))
    for lang in ("en", "zh"):
        fig = res.plot(lang=lang)
        ax = fig.axes[0]
        assert len(ax.get_legend().get_texts()) == 3
        assert ax.get_title()
        plt.close(fig)


def test_shape_generalises_the_linear_trend():
    """``shape`` = t - reference reproduces the default; a shape twice as steep is detected at
    half the slope with the same power, and its headline bias follows the shape."""
    t = np.array([-3, -2, 0, 1, 2])
    sigma = np.diag([0.02, 0.015, 0.01, 0.012, 0.02]) ** 2
    frame = pd.DataFrame({"event_time": t, "estimate": [0.01, -0.005, 0.05, 0.06, 0.08]})
    base = pretrend_power(frame, sigma, [0.5, 0.3, 0.2], reference_period=-1)
    same = pretrend_power(frame, sigma, [0.5, 0.3, 0.2], reference_period=-1, shape=t + 1.0)
    pd.testing.assert_frame_equal(base.table, same.table)
    steep = pretrend_power(frame, sigma, [0.5, 0.3, 0.2], reference_period=-1, shape=2 * (t + 1.0))
    np.testing.assert_allclose(steep.table["slope"], base.table["slope"] / 2, rtol=1e-8)
    np.testing.assert_allclose(steep.table["headline_bias"], base.table["headline_bias"], rtol=1e-8)
    shape = {int(e): float(v) for e, v in zip(t, [-1.0, -0.5, 0.7, 1.1, 2.0])}
    own = pretrend_power(frame, sigma, [0.5, 0.3, 0.2], reference_period=-0.5, shape=shape)
    row = own.table.iloc[-1]
    assert row["headline_bias"] == pytest.approx(row["slope"] * (0.5 * 0.7 + 0.3 * 1.1 + 0.2 * 2))
    assert row["power"] == pytest.approx(0.8, abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        pretrend_power(frame, sigma, [0.5, 0.3, 0.2], reference_period=-1, shape=[1.0, 2.0])
