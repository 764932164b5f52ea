"""Power of pre-trend tests and the distortions from pre-testing (Roth 2022).

Roth, J. (2022). "Pretest with Caution: Event-Study Estimates after Testing for Parallel Trends."
*American Economic Review: Insights* 4(3), 305-322.

Ported from the R package pretrends (github.com/jonathandroth/pretrends, MIT): R/pretrends-plot.R
(``pretrends``, ``slope_for_power``) and R/power-calculation-fns.R (``rejectionProbability_NIS``,
``meanBetaPre_NIS``, ``meanBetaPost_NIS``, ``findSlopeForPower_NIS``). The pre-test is the usual
eyeball test of an event plot: it *passes* when no pre-period coefficient is individually
significant, i.e. ``|beta_hat_j / se_j| <= crit`` for every pre-period ``j`` ("NIS" in R). Under a
hypothesised difference in trends ``delta`` the coefficients are ``beta_hat ~ N(delta, Sigma)``, so

* the power of the pre-test is one minus a multivariate normal rectangle probability;
* the Bayes factor is P(pass | delta) / P(pass | parallel trends), the likelihood ratio the density
  of the realised pre-period coefficients under ``delta`` relative to zero;
* the expected coefficients conditional on passing are the mean of a truncated multivariate normal
  (pre-periods) and, for the post-periods, the regression on the pre-periods
  ``delta_post + Sigma_21 Sigma_11^{-1} (E[beta_pre | pass] - delta_pre)``.

Numerical choices (documented because R's numbers are themselves noisy):

* Rectangle probabilities of dimension >= 2 use ``scipy.stats.multivariate_normal.cdf`` (Genz's
  randomised quasi-Monte Carlo, as R's ``mvtnorm::pmvnorm``) with a **fixed generator seed** and a
  **fixed budget** of points (``_MVN_SEED``, ``_MVN_MAXPTS_PER_DIM``; no error target,
  ``_MVN_ABSEPS = 0``). With an error target scipy stops when its error estimate falls below it,
  and on another CPU dispatch (NumPy's SIMD kernels differ in the last bit) the estimate crossed
  the target one batch earlier or later: the probabilities moved by 1e-8 and the results files
  changed (issue 16's check, tests/test_pipeline.py). With a fixed budget the same number of points
  is summed on every machine, and the error is ~1e-7, ten times below that of the former target
  (1e-6, reached after ~5,000 points). The estimate is also not continuous in its inputs: a
  variance moved by 1e-15 (the last bits, which differ across SIMD kernels and BLAS threads)
  moves it by 1e-7 to 1e-4: scipy orders the variables by their interval probabilities, and the
  pre-test's bounds (+-crit x each lead's SE) make those probabilities equal, a tie the last bits
  break. The integration therefore sees the problem standardised (unit variances, bounds in SDs)
  and rounded to ``_MVN_INPUT_DIGITS`` (12) significant digits: equal bounds are then exactly equal
  and the ordering is the same on every machine; what remains moves continuously with the inputs
  (a 1e-8 change of a correlation moves a probability by ~1e-9). The results record the Roth
  (2022) numbers at 4 significant digits (:func:`analysis.studies.binary.pretrend_power_record`):
  the integration error is ~1e-7, and more digits would print the machine's last bits. R's ``pmvnorm`` runs with its
  default ``abseps = 1e-3`` and an unseeded stream, so the published R numbers carry errors of
  about 1e-4. Dimension 1 uses the normal CDF (exact).
* The truncated-normal mean: R calls ``tmvtnorm::mtmvnorm``, which implements the formula of
  Tallis (1961) / Manjunath & Wilhelm (2021, "Moments calculation for the doubly truncated
  multivariate normal density", *J. Behav. Data Sci.*). No maintained Python package provides
  these moments (scipy has the univariate ``truncnorm`` only), so :func:`truncated_normal_mean`
  implements the same formula on top of the rectangle probabilities above (it needs the
  one-dimensional marginal densities of the truncated law, each a normal density times a
  (d-1)-dimensional rectangle probability). Only the mean is ported: R's ``pretrends`` asks
  ``mtmvnorm`` for the mean alone (``doComputeVariance = FALSE``).
* The critical value: R hard-codes 1.96; here it is ``Phi^{-1}(1 - alpha/2)`` (1.959964 at
  ``alpha = 0.05``) unless ``crit`` is given (``crit=1.96`` reproduces R's choice exactly).
* ``slope_for_power`` solves ``power(slope) = target`` by Brent's method on ``[0, 8 max se]`` as R's
  ``uniroot`` does, but to ``xtol = 1e-10`` (R's default tolerance is 1.2e-4 in the slope).
* R's ``pretrends`` appends the zero of the reference period at ``t = -1`` whatever the reference
  period; here it is appended at ``reference_period``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.did.results import tidy_frame
from analysis.results_io import round_floats

__all__ = [
    "PretrendPowerReport",
    "PretrendsResult",
    "mean_after_pretesting",
    "pretest_pass_probability",
    "pretrend_power",
    "pretrends",
    "rejection_probability",
    "slope_for_power",
    "truncated_normal_mean",
]

# Rectangle probabilities of dimension >= 2: seeded randomised QMC (see the module docstring).
_MVN_SEED = 20220101
_MVN_ABSEPS = 0.0  # never reached: every call uses the whole budget (module docstring)
_MVN_MAXPTS_PER_DIM = 20_000
_MVN_INPUT_DIGITS = 12  # significant digits of the standardised bounds and correlations


# --------------------------------------------------------------------------- numerical kernels


def _critical_value(alpha: float, crit: float | None) -> float:
    if crit is not None:
        if not crit > 0:
            raise ValueError("crit must be positive")
        return float(crit)
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    return float(stats.norm.ppf(1 - alpha / 2))


def _box_probability(lower, upper, cov, mean=None) -> float:
    """P(lower <= X <= upper) for X ~ N(mean, cov); exact in one dimension, seeded QMC above."""
    lower = np.asarray(lower, dtype=float).ravel()
    upper = np.asarray(upper, dtype=float).ravel()
    d = lower.size
    if d == 0:
        return 1.0
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=float).ravel()
    cov = np.asarray(cov, dtype=float).reshape(d, d)
    if d == 1:
        s = np.sqrt(cov[0, 0])
        hi = stats.norm.cdf((upper[0] - mean[0]) / s)
        lo = stats.norm.cdf((lower[0] - mean[0]) / s)
        return float(max(hi - lo, 0.0))
    # standardised (unit variances), then at _MVN_INPUT_DIGITS significant digits (module
    # docstring): bounds that are equal in units of their SDs (the pre-test's +-crit) are then
    # exactly equal, so scipy's ordering of the variables cannot follow the inputs' last bits
    sd = np.sqrt(np.diag(cov))
    corr = round_floats(cov / np.outer(sd, sd), _MVN_INPUT_DIGITS)
    np.fill_diagonal(corr, 1.0)
    lo, hi = (round_floats((x - mean) / sd, _MVN_INPUT_DIGITS) for x in (lower, upper))
    p = stats.multivariate_normal.cdf(
        hi,
        mean=np.zeros(d),
        cov=corr,
        lower_limit=lo,
        maxpts=_MVN_MAXPTS_PER_DIM * d,
        abseps=_MVN_ABSEPS,
        releps=0.0,
        rng=np.random.default_rng(_MVN_SEED),
    )
    return float(min(max(p, 0.0), 1.0))


def truncated_normal_mean(mean, cov, lower, upper) -> np.ndarray:
    """E[X | lower <= X <= upper] for X ~ N(mean, cov) (``tmvtnorm::mtmvnorm(...)$tmean``).

    Tallis (1961) / Manjunath & Wilhelm (2021), eq. (3): with ``Y = X - mean``, ``a = lower - mean``,
    ``b = upper - mean`` and ``P = P(a <= Y <= b)``,

        E[Y_k | a <= Y <= b] = sum_i cov[k, i] (F_i(a_i) - F_i(b_i)) / P,

    where ``F_i(x) = phi(x; 0, cov[i, i]) * P(a_-i <= Y_-i <= b_-i | Y_i = x)`` is the marginal
    density of ``Y_i`` on the box (unnormalised) and ``F_i(+-inf) = 0``. Written here because no
    maintained Python package offers truncated multivariate normal moments (module docstring).
    """
    mean = np.asarray(mean, dtype=float).ravel()
    d = mean.size
    cov = np.asarray(cov, dtype=float).reshape(d, d)
    a = np.asarray(lower, dtype=float).ravel() - mean
    b = np.asarray(upper, dtype=float).ravel() - mean
    if a.size != d or b.size != d:
        raise ValueError("lower and upper must have one bound per dimension")
    prob = _box_probability(a, b, cov)
    if not prob > 0:
        raise ValueError("the truncation region has probability zero")
    diff = np.zeros(d)  # F_i(a_i) - F_i(b_i)
    for i in range(d):
        rest = np.arange(d) != i
        s_ii = cov[i, i]
        slope = cov[rest, i] / s_ii  # E[Y_-i | Y_i = x] = slope * x
        cond_cov = cov[np.ix_(rest, rest)] - np.outer(cov[rest, i], cov[i, rest]) / s_ii
        for x, sign in ((a[i], 1.0), (b[i], -1.0)):
            if not np.isfinite(x):
                continue
            dens = stats.norm.pdf(x, scale=np.sqrt(s_ii))
            diff[i] += (
                sign * dens * _box_probability(a[rest] - slope * x, b[rest] - slope * x, cond_cov)
            )
    return mean + cov @ diff / prob


def pretest_pass_probability(beta_pre, sigma_pre, crit: float) -> float:
    """P(|beta_hat_j| <= crit * se_j for every j) for beta_hat ~ N(beta_pre, sigma_pre)."""
    sigma_pre = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    ub = np.sqrt(np.diag(sigma_pre)) * crit
    return _box_probability(-ub, ub, sigma_pre, mean=beta_pre)


def rejection_probability(beta_pre, sigma_pre, alpha: float = 0.05, crit: float | None = None):
    """Power of the pre-test (R ``rejectionProbability_NIS``): the probability that some pre-period
    coefficient is individually significant when the pre-period coefficients are
    ``N(beta_pre, sigma_pre)``."""
    return 1.0 - pretest_pass_probability(beta_pre, sigma_pre, _critical_value(alpha, crit))


def mean_after_pretesting(
    beta, sigma, pre_index, post_index, crit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected pre- and post-period coefficients conditional on passing the pre-test when
    ``beta_hat ~ N(beta, sigma)`` (R ``meanBetaPre_NIS`` and ``meanBetaPost_NIS``)."""
    beta = np.asarray(beta, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    pre, post = np.asarray(pre_index, dtype=int), np.asarray(post_index, dtype=int)
    sigma_pre = sigma[np.ix_(pre, pre)]
    ub = np.sqrt(np.diag(sigma_pre)) * crit
    pre_mean = truncated_normal_mean(beta[pre], sigma_pre, -ub, ub)
    shift = np.linalg.solve(sigma_pre, pre_mean - beta[pre])
    post_mean = beta[post] + sigma[np.ix_(post, pre)] @ shift
    return pre_mean, post_mean


# --------------------------------------------------------------------------- inputs


def _check(sigma, t_vec, reference_period, beta=None, delta=None):
    sigma = np.asarray(sigma, dtype=float)
    t_vec = np.asarray(t_vec).ravel()
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1] or not np.allclose(sigma, sigma.T):
        raise ValueError("sigma must be a symmetric positive definite matrix")
    if t_vec.size != sigma.shape[0]:
        raise ValueError(
            "The dimension of t_vec must correspond with the number of event-study coefficients, "
            "i.e. the number of rows/cols in sigma"
        )
    if np.any(t_vec == reference_period):
        raise ValueError(
            f"t_vec contains the reference period {reference_period}: pass the coefficients "
            "without it (it is normalised to zero and has no variance)"
        )
    for name, v in (("beta", beta), ("delta_true", delta)):
        if v is not None and np.asarray(v).size != t_vec.size:
            raise ValueError(f"{name} must have one element per event-study coefficient")
    pre = np.flatnonzero(t_vec < reference_period)
    post = np.flatnonzero(t_vec > reference_period)
    if pre.size == 0:
        raise ValueError(f"There are no pre-treatment periods with t_vec < {reference_period}")
    if np.any(np.diag(sigma)[pre] <= 0):
        raise ValueError("every pre-period coefficient needs a positive variance")
    return sigma, t_vec, pre, post


# --------------------------------------------------------------------------- R's two functions


def _shape(shape, t_vec, reference_period) -> np.ndarray:
    """A unit trend's effect on each coefficient: ``shape`` or ``t - reference_period``."""
    if shape is None:
        return (np.asarray(t_vec) - reference_period).astype(float)
    out = np.asarray(shape, dtype=float).ravel()
    if out.size != np.asarray(t_vec).size:
        raise ValueError("shape must have one element per event-study coefficient")
    return out


def slope_for_power(
    sigma,
    target_power: float,
    t_vec,
    reference_period,
    alpha: float = 0.05,
    *,
    crit: float | None = None,
    shape=None,
) -> float:
    """The slope ``gamma >= 0`` of the linear trend ``delta_t = gamma (t - reference_period)`` that
    the pre-test (no individually significant pre-period coefficient at level ``alpha``) detects
    with probability ``target_power`` (R ``pretrends::slope_for_power``). The power is symmetric in
    the sign of the trend. ``shape``: the coefficients' expected values per unit of ``gamma``, one
    per event time of ``t_vec`` (default ``t - reference_period``); an estimator whose pre-period
    coefficients do not share one base period (the imputation estimator's Test 1 leads) passes
    what a unit trend does to its own coefficients."""
    sigma, t_vec, pre, _ = _check(sigma, t_vec, reference_period)
    c = _critical_value(alpha, crit)
    sigma_pre = sigma[np.ix_(pre, pre)]
    rel = _shape(shape, t_vec, reference_period)[pre]
    size = 1.0 - pretest_pass_probability(np.zeros(pre.size), sigma_pre, c)
    if not size < target_power < 1:
        raise ValueError(
            f"target_power must lie between the size of the pre-test ({size:.4f}) and 1"
        )

    def excess(slope: float) -> float:
        return (1.0 - pretest_pass_probability(rel * slope, sigma_pre, c)) - target_power

    upper = 8 * float(np.max(np.sqrt(np.diag(sigma_pre))))  # R's bracket
    while excess(upper) < 0:  # only for a target power very close to 1
        upper *= 2
    return float(optimize.brentq(excess, 0.0, upper, xtol=1e-10, rtol=1e-12, maxiter=1000))


def pretrends(
    beta,
    sigma,
    t_vec,
    reference_period,
    delta_true,
    alpha: float = 0.05,
    *,
    crit: float | None = None,
) -> PretrendsResult:
    """Power of the pre-test against ``delta_true`` and the coefficients expected after passing it
    (R ``pretrends::pretrends``).

    ``beta``/``sigma``: event-study coefficients and their covariance, one per event time in
    ``t_vec``, without the reference period (normalised to zero); pre-periods are
    ``t < reference_period``, post-periods ``t > reference_period``. ``delta_true``: the
    hypothesised difference in trends at each event time (``gamma (t - reference_period)`` for a
    linear trend)."""
    sigma, t_vec, pre, post = _check(sigma, t_vec, reference_period, beta, delta_true)
    beta = np.asarray(beta, dtype=float).ravel()
    delta = np.asarray(delta_true, dtype=float).ravel()
    c = _critical_value(alpha, crit)
    sigma_pre = sigma[np.ix_(pre, pre)]
    pass_alt = pretest_pass_probability(delta[pre], sigma_pre, c)
    pass_null = pretest_pass_probability(np.zeros(pre.size), sigma_pre, c)
    # log densities: the ratio of two multivariate normal densities with a common covariance
    log_lr = stats.multivariate_normal.logpdf(
        beta[pre], mean=delta[pre], cov=sigma_pre
    ) - stats.multivariate_normal.logpdf(beta[pre], mean=np.zeros(pre.size), cov=sigma_pre)
    pre_mean, post_mean = mean_after_pretesting(delta, sigma, pre, post, c)
    conditional = np.full(t_vec.size, np.nan)
    conditional[pre], conditional[post] = pre_mean, post_mean
    order = np.argsort(t_vec, kind="stable")
    return PretrendsResult(
        event_time=t_vec[order],
        betahat=beta[order],
        std_error=np.sqrt(np.diag(sigma))[order],
        delta_true=delta[order],
        mean_after_pretesting=conditional[order],
        reference_period=reference_period,
        power=1.0 - pass_alt,
        size=1.0 - pass_null,
        bayes_factor=pass_alt / pass_null,
        likelihood_ratio=float(np.exp(log_lr)),
        alpha=alpha,
        crit=c,
    )


# --------------------------------------------------------------------------- result objects


@dataclass
class PretrendsResult:
    """Output of :func:`pretrends`.

    Arrays by event time (ascending, reference period excluded): ``betahat``, ``std_error``,
    ``delta_true`` (hypothesised trend), ``mean_after_pretesting`` (E[beta_hat | pre-test passed]
    under ``delta_true``; NaN at event times that are neither pre nor post). Scalars: ``power``
    (P(pre-test rejects | delta_true)), ``size`` (P(pre-test rejects | parallel trends)),
    ``bayes_factor`` (P(pass | delta_true) / P(pass | 0)), ``likelihood_ratio`` (density of the
    realised pre-period coefficients under delta_true relative to 0), ``crit`` (critical value of
    each t-test)."""

    event_time: np.ndarray
    betahat: np.ndarray
    std_error: np.ndarray
    delta_true: np.ndarray
    mean_after_pretesting: np.ndarray
    reference_period: float
    power: float
    size: float
    bayes_factor: float
    likelihood_ratio: float
    alpha: float = 0.05
    crit: float = field(default=float(stats.norm.ppf(0.975)))

    def tidy(self, include_ref: bool = True) -> pd.DataFrame:
        """R's ``df_eventplot``: one row per event time with estimate, std_error, statistic,
        p_value, conf_low/conf_high (``+- crit * se``), delta_true, mean_after_pretesting and
        period (pre / reference / post); the reference period is a row of zeros."""
        frame = tidy_frame(
            self.event_time, self.betahat, self.std_error, alpha=self.alpha, crit=self.crit
        ).rename(columns={"term": "event_time"})
        frame["delta_true"] = self.delta_true
        frame["mean_after_pretesting"] = self.mean_after_pretesting
        frame["period"] = np.where(self.event_time < self.reference_period, "pre", "post")
        if include_ref:
            ref = {c: 0.0 for c in frame.columns}
            ref.update(
                event_time=self.reference_period,
                statistic=np.nan,
                p_value=np.nan,
                period="reference",
            )
            frame = pd.concat([frame, pd.DataFrame([ref])], ignore_index=True)
            frame = frame.sort_values("event_time", kind="stable", ignore_index=True)
        return frame

    def power_table(self) -> pd.DataFrame:
        """R's ``df_power``: power, Bayes factor and likelihood ratio (plus the pre-test's size)."""
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict:
        return {
            "power": float(self.power),
            "bayes_factor": float(self.bayes_factor),
            "likelihood_ratio": float(self.likelihood_ratio),
            "size": float(self.size),
            "crit": float(self.crit),
        }

    def summary(self) -> str:
        return (
            f"Pre-trend test power (Roth 2022): pass iff every pre-period |t| <= {self.crit:.4g}\n"
            f"power against the hypothesised trend {self.power:.4f} (size {self.size:.4f}), "
            f"Bayes factor {self.bayes_factor:.4f}, likelihood ratio {self.likelihood_ratio:.4g}\n"
            + self.tidy()
            .drop(columns=["statistic", "p_value"])
            .to_string(index=False, float_format=lambda x: f"{x:.5g}")
        )

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, ax=None, lang: str = "en", title: str | None = None):
        """Event plot with the hypothesised trend and the expectation after pre-testing (R's
        ``event_plot_pretest``); see :func:`analysis.figures.pretrends.plot_pretrends`."""
        from analysis.figures.pretrends import plot_pretrends

        level = 100 * (2 * stats.norm.cdf(self.crit) - 1)
        return plot_pretrends(
            self.tidy(), ax=ax, lang=lang, title=title, power=self.power, level=level
        )


# --------------------------------------------------------------------------- study helper


def _post_weights(weights, post_times: np.ndarray) -> np.ndarray:
    if isinstance(weights, (Mapping, pd.Series)):
        w = dict(weights.items())
        unknown = [k for k in w if not np.any(post_times == k)]
        if unknown:
            raise ValueError(f"weights name event times that are not post periods: {unknown}")
        return np.array([float(w.get(t, 0.0)) for t in post_times])
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != post_times.size:
        raise ValueError(
            f"weights has {w.size} elements but there are {post_times.size} post periods "
            f"({list(post_times)})"
        )
    return w


def _align(event_study: pd.DataFrame, vcov, reference_period, event_times):
    """Coefficients and covariance in ascending event time, reference period left out."""
    frame = event_study
    if not {"event_time", "estimate"} <= set(frame.columns):
        raise ValueError("event_study needs the columns event_time and estimate")
    if isinstance(vcov, pd.DataFrame):
        times = np.asarray(vcov.index)
        matrix = vcov.loc[times, times].to_numpy(dtype=float)
    else:
        matrix = np.asarray(vcov, dtype=float)
        if event_times is not None:
            times = np.asarray(event_times)
        else:
            times = frame["event_time"].to_numpy()
            times = times[times != reference_period]
    if matrix.shape != (times.size, times.size):
        raise ValueError(
            f"vcov is {matrix.shape} but there are {times.size} event times ({list(times)}); "
            "pass event_times or a vcov DataFrame indexed by event time"
        )
    by_time = frame.set_index("event_time")["estimate"]
    missing = [t for t in times if t not in by_time.index]
    if missing:
        raise ValueError(f"event_study has no estimate for event times {missing}")
    order = np.argsort(times, kind="stable")
    times = times[order]
    beta = by_time.loc[times].to_numpy(dtype=float)
    return beta, matrix[np.ix_(order, order)], times


def pretrend_power(
    event_study: pd.DataFrame,
    vcov,
    weights,
    reference_period=-1,
    target_powers=(0.5, 0.8),
    alpha: float = 0.05,
    *,
    event_times=None,
    crit: float | None = None,
    shape=None,
) -> PretrendPowerReport:
    """How large a linear pre-trend could the pre-test miss, and what would it do to the headline?

    ``event_study``: a tidy frame with columns event_time and estimate (a reference-period row is
    ignored); ``vcov``: covariance of the coefficients, either a DataFrame indexed by event time
    or an array in the order of ``event_times`` (default: the frame's event times other than the
    reference, in frame order). Event times missing from ``vcov`` are left out. ``weights``: the
    headline aggregation over the post periods (an array over the post periods in ascending order,
    or a mapping event time -> weight), so that headline = weights . beta_post.

    For each target power (default 50% and 80%): the slope ``gamma`` of the linear trend
    ``gamma (t - reference_period)`` the pre-test detects with that power (:func:`slope_for_power`),
    the bias that trend puts into the headline (``weights . gamma (t_post - reference_period)``),
    the expected headline bias among event studies that pass the pre-test, and the full
    :func:`pretrends` result under that trend (Bayes factor, likelihood ratio of the realised
    pre-period coefficients, expected coefficients after pre-testing). Trends of the opposite sign
    have the same power and the opposite bias."""
    beta, sigma, times = _align(event_study, vcov, reference_period, event_times)
    _, _, pre, post = _check(sigma, times, reference_period, beta)
    if isinstance(shape, (Mapping, pd.Series)):
        shape = [float(dict(shape.items())[t]) for t in times]
    unit = _shape(shape, times, reference_period)
    if post.size == 0:
        raise ValueError("there is no post period: the headline needs one")
    w = _post_weights(weights, times[post])
    c = _critical_value(alpha, crit)
    se = np.sqrt(np.diag(sigma))
    headline = float(w @ beta[post])
    headline_se = float(np.sqrt(w @ sigma[np.ix_(post, post)] @ w))
    t_pre = beta[pre] / se[pre]
    unit_bias = float(w @ unit[post])
    results: dict[float, PretrendsResult] = {}
    rows = []
    for target in target_powers:
        slope = slope_for_power(sigma, target, times, reference_period, alpha, crit=c, shape=unit)
        delta = slope * unit
        res = pretrends(beta, sigma, times, reference_period, delta, alpha, crit=c)
        results[float(target)] = res
        cond_post = res.mean_after_pretesting[np.searchsorted(res.event_time, times[post])]
        bias = float(slope * unit_bias)
        bias_pass = float(w @ cond_post)
        rows.append(
            {
                "target_power": float(target),
                "slope": slope,
                "power": res.power,
                "headline_bias": bias,
                "headline_bias_after_pretest": bias_pass,
                "bias_over_se": bias / headline_se,
                "bias_after_pretest_over_se": bias_pass / headline_se,
                "bayes_factor": res.bayes_factor,
                "likelihood_ratio": res.likelihood_ratio,
            }
        )
    return PretrendPowerReport(
        table=pd.DataFrame(rows),
        results=results,
        headline=headline,
        headline_se=headline_se,
        weights=pd.Series(w, index=times[post], name="weight"),
        max_abs_t_pre=float(np.max(np.abs(t_pre))),
        passes=bool(np.all(np.abs(t_pre) <= c)),
        size=next(iter(results.values())).size if results else float("nan"),
        reference_period=reference_period,
        alpha=alpha,
        crit=c,
    )


@dataclass
class PretrendPowerReport:
    """Output of :func:`pretrend_power`: one row of ``table`` per target power (columns
    target_power, slope, power, headline_bias, headline_bias_after_pretest, bias_over_se,
    bias_after_pretest_over_se, bayes_factor, likelihood_ratio), the :class:`PretrendsResult` under
    each trend in ``results``, the headline estimate and SE, and the realised pre-test
    (``passes``: no pre-period |t| above ``crit``; ``max_abs_t_pre``; ``size``: its
    rejection rate under parallel trends)."""

    table: pd.DataFrame
    results: dict[float, PretrendsResult]
    headline: float
    headline_se: float
    weights: pd.Series
    max_abs_t_pre: float
    passes: bool
    size: float
    reference_period: float
    alpha: float
    crit: float

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        """JSON-ready: the realised pre-test, the headline and one entry per target power."""
        return {
            "headline": self.headline,
            "headline_se": self.headline_se,
            "weights": {str(k): float(v) for k, v in self.weights.items()},
            "reference_period": float(self.reference_period),
            "crit": self.crit,
            "pretest_passes": self.passes,
            "max_abs_t_pre": self.max_abs_t_pre,
            "pretest_size": self.size,
            "by_power": [
                {k: float(v) for k, v in row.items()} for row in self.table.to_dict("records")
            ],
        }

    def summary(self) -> str:
        head = (
            f"Power of the pre-test (Roth 2022): pass iff every pre-period |t| <= {self.crit:.4g}; "
            f"size {self.size:.4f}; realised max |t| {self.max_abs_t_pre:.3f} "
            f"({'passes' if self.passes else 'rejects'})\n"
            f"headline {self.headline:.5g} (SE {self.headline_se:.3g})\n"
        )
        return head + self.table.to_string(index=False, float_format=lambda x: f"{x:.5g}")

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, target_power: float | None = None, ax=None, lang: str = "en", title=None):
        """The event plot under the trend of ``target_power`` (default: the first one)."""
        key = next(iter(self.results)) if target_power is None else float(target_power)
        return self.results[key].plot(ax=ax, lang=lang, title=title)
