"""Power and minimum detectable effects (MDE) of panel DiD estimators by simulation.

General pieces (column names are arguments; no paths): the calibration of a model of the untreated
outcome to a panel (:func:`calibrate`), draws from it (:class:`UntreatedModel`), the exact power
function of a replication from three estimator calls (:func:`polarize`, :class:`PowerDraws`), the
MDE with its Monte Carlo error (:func:`mde`), the analytic benchmark (:func:`analytic_mde`) and a
TWFE for many outcomes at once (:func:`twfe_many`).

**The untreated-outcome model** (parametric), unit i in group p (a province), period t::

    y0[i,t] = a[i] + l[t] + x[i,t]'b + e[i,t] + v[p,t]
    a ~ N(mu_a, sd_a),  e[i,t] = rho e[i,t-1] + sqrt(1 - rho^2) sigma z[i,t],  v[p,t] ~ N(0, sd_v)

calibrated on the untreated observations: ``b``, ``l`` and the ``a[i]`` from the two-way FE
regression; ``sd_v`` by a one-way ANOVA of the residuals on group x period cells; ``sigma`` and
``rho`` by the method of moments on the within-unit residual autocovariances at lags 0 and 1,
*matching their expectation after the within transformation* (the demeaned residuals of a short
panel are shrunk and negatively autocorrelated, Nickell 1981: with T = 14 and rho = 0.6 the naive
lag-1 autocorrelation of the residuals is about 0.35); ``sd_a`` as the variance of the ``a[i]``
net of their estimation noise.

Why parametric rather than a block bootstrap of the residual series by unit: the FE residuals
carry exactly that within-transformation distortion (a bootstrap would reproduce a variance
shrunk by ~(1 - 1/T) and a serial correlation biased down), treated units' untreated series are
truncated at treatment (a resampled series does not fit another unit's years), and a unit block
breaks the within-group (province-year) correlation that drives province-level clustering. The
estimators' variance depends on the second moments the model matches; what it leaves out --
fat tails (reported: ``excess_kurtosis``) and unit-specific variances -- matters less for a mean
over hundreds of units.

**Exact power functions.** With the design fixed (treatment timing, covariates, clusters), each
estimator used here (TWFE, Callaway-Sant'Anna with analytic SEs, Sun-Abraham, BJS imputation) is
linear in the outcome and its variance estimate is a quadratic form in it (residuals and influence
functions are linear in y). An effect ``d * s`` (``s`` a fixed shape over the treated
observations) therefore gives ``att(y0 + d s) = att(y0) + d att(s)`` and
``V(y0 + d s) = V(y0) + 2 d C + d^2 V(s)``; the cross term ``C`` follows by polarization from one
extra call, ``C = (V(y0 + s) - V(y0) - V(s)) / 2``. Three calls per replication and shape (one of
them, on ``s``, shared by all replications) give the t statistic at *every* effect size, where a
naive grid needs one call per grid point. :func:`polarize` checks linearity on each replication
(``att(y0 + s) = att(y0) + att(s)``) and says so when an estimator breaks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats
from scipy.sparse.linalg import lsqr

from analysis.did.fe import FIXEST, FEProjector, independent_columns, nested_in
from analysis.did.inference import critical_value

__all__ = [
    "PowerDraws",
    "UntreatedModel",
    "analytic_mde",
    "calibrate",
    "mde",
    "polarize",
    "power_curve",
    "shape_moments",
    "simulate_draws",
    "twfe_many",
]


def analytic_mde(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """``(z_{1 - alpha/2} + z_power) * se``: the MDE of a two-sided level-``alpha`` z-test with
    standard error ``se`` (Bloom 1995), ignoring rejections in the wrong direction."""
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


# ----------------------------------------------------------------------------------- calibration
@dataclass
class UntreatedModel:
    """Calibrated model of the untreated outcome (module docstring) on a panel's rows.

    ``unit``, ``period`` (0-based consecutive period index, gaps allowed), ``group``: integer codes
    of the rows to simulate; ``xb``: the covariates' contribution per row (fixed across draws).
    """

    unit_mean: float
    unit_sd: float
    sigma: float
    rho: float
    group_sd: float
    period_effects: np.ndarray
    coefficients: dict[str, float]
    unit: np.ndarray = field(repr=False)
    period: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    xb: np.ndarray = field(repr=False)
    diagnostics: dict = field(default_factory=dict)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One draw of the untreated outcome for every row."""
        n_units = int(self.unit.max()) + 1
        n_periods = int(self.period.max()) + 1
        a = self.unit_mean + self.unit_sd * rng.standard_normal(n_units)
        z = rng.standard_normal((n_units, n_periods))
        e = np.empty_like(z)
        e[:, 0] = self.sigma * z[:, 0]
        innov = self.sigma * np.sqrt(1.0 - self.rho**2)
        for t in range(1, n_periods):
            e[:, t] = self.rho * e[:, t - 1] + innov * z[:, t]
        v = self.group_sd * rng.standard_normal((int(self.group.max()) + 1, n_periods))
        return (
            a[self.unit]
            + self.period_effects[self.period]
            + self.xb
            + e[self.unit, self.period]
            + v[self.group, self.period]
        )

    def summary(self) -> dict:
        """JSON-ready parameters and diagnostics (no per-row arrays)."""
        out = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("unit", "period", "group", "xb", "period_effects")
        }
        out["period_effects"] = [float(x) for x in self.period_effects]
        return out


def _two_way_effects(
    fitted: np.ndarray, unit: np.ndarray, period: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit and period effects with ``fitted = a[unit] + l[period]`` (exact FE fitted values),
    normalised so that the first period's effect is 0."""
    n, nu, nt = len(fitted), int(unit.max()) + 1, int(period.max()) + 1
    rows = np.arange(n)
    design = sparse.hstack(
        [
            sparse.csr_matrix((np.ones(n), (rows, unit)), shape=(n, nu)),
            sparse.csr_matrix((np.ones(n), (rows, period)), shape=(n, nt)),
        ]
    ).tocsr()
    sol = lsqr(design, fitted, atol=1e-14, btol=1e-14, iter_lim=10_000)[0]
    a, lam = sol[:nu], sol[nu:]
    shift = lam[0]
    return a + shift, lam - shift


def _ar1_moments(years_by_unit: list[np.ndarray], rho: float) -> tuple[float, float, float, float]:
    """Expected lag-0 and lag-1 sums of squares of within-unit demeaned series under AR(1) with
    unit variance (A0, A1) and under i.i.d. unit-variance noise (B0, B1), summed over units."""
    a0 = a1 = b0 = b1 = 0.0
    cache: dict[tuple, tuple[float, float, float, float]] = {}
    for years in years_by_unit:
        key = tuple(years.tolist())
        if key not in cache:
            n = len(years)
            lag = np.abs(years[:, None] - years[None, :])
            R = rho**lag
            M = np.eye(n) - 1.0 / n
            P = (years[None, :] - years[:, None] == 1).astype(float)  # consecutive periods
            MRM = M @ R @ M
            cache[key] = (np.trace(MRM), np.sum(P * MRM), np.trace(M), np.sum(P * M))
        t = cache[key]
        a0, a1, b0, b1 = a0 + t[0], a1 + t[1], b0 + t[2], b1 + t[3]
    return a0, a1, b0, b1


def _group_period_variance(
    resid: np.ndarray, cells: np.ndarray
) -> tuple[float, float, float, float]:
    """One-way random-effects ANOVA of ``resid`` on ``cells``: (variance of the cell component,
    MSB, MSW, n0)."""
    codes, counts = np.unique(cells, return_inverse=True, return_counts=True)[1:]
    n, c = len(resid), len(counts)
    if c < 2 or n - c < 1:
        return 0.0, float("nan"), float("nan"), float("nan")
    means = np.bincount(codes, weights=resid, minlength=c) / counts
    ssw = float(np.sum((resid - means[codes]) ** 2))
    ssb = float(np.sum(counts * (means - resid.mean()) ** 2))
    msw, msb = ssw / (n - c), ssb / (c - 1)
    n0 = (n - np.sum(counts**2) / n) / (c - 1)
    return max((msb - msw) / n0, 0.0), msb, msw, n0


def calibrate(
    data: pd.DataFrame,
    y: str,
    unit: str,
    time: str,
    group: str | None = None,
    covariates: Sequence[str] = (),
    untreated: np.ndarray | None = None,
) -> UntreatedModel:
    """Calibrate :class:`UntreatedModel` to ``data`` (module docstring) and return it set up to
    simulate every row of ``data`` (the rows, covariates and groups of the design are kept).

    ``untreated``: boolean mask of the rows whose outcome is an untreated outcome (default: all);
    the moments use only those rows. ``time`` must hold integer periods (gaps allowed). Rows with
    a missing outcome or covariate are not used for the moments but are simulated.
    """
    covariates = list(covariates)
    n = len(data)
    use = np.ones(n, dtype=bool) if untreated is None else np.asarray(untreated, dtype=bool)
    for c in [y, *covariates]:
        use &= np.isfinite(data[c].to_numpy(dtype=float))
    unit_all = pd.factorize(data[unit], sort=True)[0]
    years_all = data[time].to_numpy().astype(np.int64)
    period_all = years_all - years_all.min()
    group_all = (
        pd.factorize(data[group], sort=True)[0] if group is not None else np.zeros(n, np.int64)
    )

    d = data.loc[use]
    yv = d[y].to_numpy(dtype=float)
    u = pd.factorize(unit_all[use], sort=True)[0]
    per = period_all[use]
    p_codes, p_levels = pd.factorize(per, sort=True)
    X = d[covariates].to_numpy(dtype=float) if covariates else None
    proj = FEProjector(u, p_codes)
    yd = proj.demean_fe(yv)
    coefs = np.zeros(len(covariates))
    kept: list[int] = []
    if X is not None:
        Xd = proj.demean_fe(X)
        norms = np.sqrt(np.einsum("ij,ij->j", X, X))
        kept = independent_columns(Xd.T @ Xd, norms).tolist()
        if kept:
            coefs[kept] = np.linalg.lstsq(Xd[:, kept], yd, rcond=None)[0]
        resid = yd - Xd @ coefs
    else:
        resid = yd
    z = yv - (X @ coefs if X is not None else 0.0)
    a_hat, lam_obs = _two_way_effects(z - resid, u, p_codes)
    # period effects on the full period grid (periods without untreated rows: nearest observed)
    n_periods = int(period_all.max()) + 1
    grid = np.arange(n_periods)
    lam = np.interp(grid, p_levels.astype(float), lam_obs)

    # residual degrees of freedom beyond the within-unit transformation (period effects, covariates)
    n_use, n_u = len(resid), int(u.max()) + 1
    df_scale = (n_use - n_u) / max(n_use - n_u - (len(p_levels) - 1) - len(kept), 1)

    # group x period component (one-way ANOVA on cells), corrected for the demeaning
    series_len = np.bincount(u)
    if group is not None:
        g = group_all[use]
        var_cell, msb, msw, n0 = _group_period_variance(resid, g * n_periods + per)
        share = np.bincount(g) / n_use
        kappa = (1 - np.mean(1.0 / series_len[u])) * (1 - np.sum(share**2))
        group_var = var_cell / kappa if kappa > 0 else 0.0
    else:
        group_var, msb, msw, n0, kappa = 0.0, np.nan, np.nan, np.nan, np.nan

    # AR(1) by the method of moments on the within-unit residual autocovariances
    order = np.lexsort((per, u))
    ru, rp, rr = u[order], per[order], resid[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ru)) + 1, len(ru)]
    years_by_unit = [rp[starts[k] : starts[k + 1]] for k in range(len(starts) - 1)]
    consecutive = (np.diff(rp) == 1) & (np.diff(ru) == 0)
    m0 = float(rr @ rr) * df_scale
    m1 = float(np.sum(rr[:-1][consecutive] * rr[1:][consecutive])) * df_scale
    _, _, b0, b1 = _ar1_moments(years_by_unit, 0.0)
    t0, t1 = m0 - group_var * b0, m1 - group_var * b1

    def gap(rho: float) -> float:
        a0, a1, _, _ = _ar1_moments(years_by_unit, rho)
        return t1 * a0 - t0 * a1

    lo, hi = -0.95, 0.995
    if gap(lo) * gap(hi) < 0:
        rho = float(optimize.brentq(gap, lo, hi, xtol=1e-10))
    else:  # no root inside: the closer end
        rho = lo if abs(gap(lo)) < abs(gap(hi)) else hi
    a0, _, _, _ = _ar1_moments(years_by_unit, rho)
    sigma2 = max(t0 / a0, 0.0)

    # unit effects net of their estimation noise (mean of e + v over the unit's rows)
    noise = []
    for years in years_by_unit:
        k = len(years)
        R = rho ** np.abs(years[:, None] - years[None, :])
        noise.append((sigma2 * R.sum() + group_var * k) / k**2)
    unit_var = max(float(np.var(a_hat, ddof=1)) - float(np.mean(noise)), 0.0)

    xb = np.zeros(n)
    if X is not None:
        Xall = data[covariates].to_numpy(dtype=float)
        xb = np.where(np.isfinite(Xall), Xall, 0.0) @ coefs
    naive_rho = float(np.corrcoef(rr[:-1][consecutive], rr[1:][consecutive])[0, 1])
    centred = resid - resid.mean()
    kurt = float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0)
    return UntreatedModel(
        unit_mean=float(np.mean(a_hat)),
        unit_sd=float(np.sqrt(unit_var)),
        sigma=float(np.sqrt(sigma2)),
        rho=rho,
        group_sd=float(np.sqrt(group_var)),
        period_effects=lam,
        coefficients={c: float(coefs[j]) for j, c in enumerate(covariates)},
        unit=unit_all,
        period=period_all,
        group=group_all,
        xb=xb,
        diagnostics={
            "n_rows_used": int(n_use),
            "n_units_used": int(n_u),
            "residual_sd_after_fe": float(np.sqrt(m0 / n_use)),
            "naive_residual_ar1": naive_rho,
            "excess_kurtosis": kurt,
            "group_share_of_variance": float(
                group_var / (group_var + sigma2) if group_var + sigma2 > 0 else 0.0
            ),
            "anova": {"msb": msb, "msw": msw, "n0": n0, "demeaning_factor": kappa},
            "covariates_absorbed": [c for j, c in enumerate(covariates) if j not in kept],
        },
    )


# --------------------------------------------------------------------------- exact power functions
EstimatorFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``fn(Y) -> (att, se)`` for the columns of an (n, m) outcome matrix (design fixed)."""


@dataclass
class PowerDraws:
    """Per-replication pieces of the exact t statistic ``t(d)`` for one estimator and one effect
    shape: ``att0``/``var0`` at zero effect, ``cross`` (polarization), and the shape's own
    ``att_s``/``var_s`` (shared by all replications)."""

    att0: np.ndarray
    var0: np.ndarray
    cross: np.ndarray
    att_s: float
    var_s: float
    linearity_error: float = 0.0
    # the test's reference distribution: t(G - 1) with G clusters (the studies' inference rule),
    # the normal when None
    n_clusters: int | None = None

    def t(self, d: np.ndarray) -> np.ndarray:
        """(replications, len(d)) t statistics at effects ``d``."""
        d = np.atleast_1d(np.asarray(d, dtype=float))[None, :]
        var = self.var0[:, None] + 2 * d * self.cross[:, None] + d**2 * self.var_s
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.att0[:, None] + d * self.att_s) / np.sqrt(np.maximum(var, 0.0))

    def reject(self, d: np.ndarray, alpha: float = 0.05) -> np.ndarray:
        """(replications, len(d)) two-sided rejections of ``att = 0`` at level ``alpha`` (normal
        critical value, or t(G - 1) with ``n_clusters``)."""
        return np.abs(self.t(d)) > critical_value(alpha, self.n_clusters)


def polarize(
    fn: EstimatorFn,
    y0: np.ndarray,
    shape: np.ndarray,
    at_shape: tuple[float, float] | None = None,
    at_y0: tuple[np.ndarray, np.ndarray] | None = None,
) -> PowerDraws:
    """:class:`PowerDraws` from ``fn`` on ``y0`` (n, R), ``y0 + shape`` and ``shape``
    (``at_shape``: ``(att, variance)`` of :func:`shape_moments`; ``at_y0``: ``(att, se)`` on
    ``y0``; when already computed). Module docstring: exact
    for estimators linear in y with a quadratic-form variance; ``linearity_error`` is the largest
    ``|att(y0 + s) - att(y0) - att(s)|`` relative to ``|att(s)|``."""
    y0 = np.asarray(y0, dtype=float).reshape(len(shape), -1)
    att_s, var_s = shape_moments(fn, shape) if at_shape is None else at_shape
    att0, se0 = fn(y0) if at_y0 is None else at_y0
    att1, se1 = fn(y0 + shape[:, None])
    var0, var1 = se0**2, se1**2
    err = np.max(np.abs(att1 - att0 - att_s)) / max(abs(att_s), 1e-300)
    return PowerDraws(att0, var0, (var1 - var0 - var_s) / 2, att_s, var_s, float(err))


def shape_moments(fn: EstimatorFn, shape: np.ndarray, seed: int = 12345) -> tuple[float, float]:
    """``(att(s), V(s))`` of a noiseless effect shape, from a fixed noise vector ``a``:
    ``att(a + s) - att(a)`` and ``(V(a + s) + V(a - s)) / 2 - V(a)`` (exact for the linear /
    quadratic estimators; on ``s`` itself some estimators return a NaN SE for a zero variance)."""
    a = np.random.default_rng(seed).standard_normal(len(shape))
    att, se = fn(np.column_stack([a, a + shape, a - shape]))
    var = se**2
    return float(att[1] - att[0]), float((var[1] + var[2]) / 2 - var[0])


def _draw_chunk(model, fns, shapes, at_shapes, seeds, names) -> dict:
    """Untreated outcomes for ``seeds`` (one column each), the estimators ``names`` on them, for
    their (estimator, shape) pairs in ``at_shapes``."""
    y0 = np.column_stack([model.draw(np.random.default_rng(s)) for s in seeds])
    out = {}
    for name, fn in fns.items():
        pairs = [s for (n, s) in at_shapes if n == name]
        if not pairs or name not in names:
            continue
        at_y0 = fn(y0)
        for shape_name in pairs:
            out[name, shape_name] = polarize(
                fn, y0, shapes[shape_name], at_shapes[name, shape_name], at_y0
            )
    return out


def simulate_draws(
    model: UntreatedModel,
    fns: dict[str, EstimatorFn],
    shapes: dict[str, np.ndarray],
    n_reps: int | Mapping[str, int],
    seed: int,
    n_jobs: int = 1,
    chunk: int = 10,
    *,
    backend=None,
    pairs: Sequence[tuple[str, str]] | None = None,
    progress: bool = False,
) -> dict[tuple[str, str], PowerDraws]:
    """:class:`PowerDraws` per (estimator, shape) over ``n_reps`` draws of ``model``. Replication
    ``r`` uses the ``r``-th child of ``numpy.random.SeedSequence(seed)``: the draws depend on
    ``seed`` only, the results on ``seed`` and ``chunk`` (the width of the outcome matrices can
    change the last bit of batched linear algebra), not on the backend or the number of workers
    (``backend``: the setting of :func:`analysis.parallel.run_tasks`, local processes or a Dask
    cluster; ``n_jobs``: workers of the local default). All estimators and shapes share the
    draws (common random numbers). ``n_reps``: one number for all, or per estimator (an expensive
    one can run on the first of the draws the others use). ``pairs``: the (estimator, shape)
    pairs to simulate (default: all); ``progress``: a progress bar over chunks of ``chunk``
    replications."""
    from joblib import delayed

    from analysis.parallel import as_backend, run_tasks

    reps = (
        {n: int(n_reps[n]) for n in fns}
        if isinstance(n_reps, Mapping)
        else dict.fromkeys(fns, int(n_reps))
    )
    n_max = max(reps.values())
    seeds = np.random.SeedSequence(seed).spawn(n_max)
    pairs = list(pairs) if pairs is not None else [(n, s) for n in fns for s in shapes]
    at_shapes = {(name, s): shape_moments(fns[name], shapes[s]) for name, s in pairs}
    tasks = [
        delayed(_draw_chunk)(
            model, fns, shapes, at_shapes, seeds[i : i + chunk], {n for n in fns if reps[n] > i}
        )
        for i in range(0, n_max, chunk)
    ]
    parts = run_tasks(
        tasks, as_backend(backend, n_jobs=n_jobs), progress=progress, desc="power draws"
    )
    out = {}
    for key in pairs:
        ps = [p[key] for p in parts if key in p]
        r = reps[key[0]]
        out[key] = PowerDraws(
            np.concatenate([p.att0 for p in ps])[:r],
            np.concatenate([p.var0 for p in ps])[:r],
            np.concatenate([p.cross for p in ps])[:r],
            ps[0].att_s,
            ps[0].var_s,
            max(p.linearity_error for p in ps),
        )
    return out


def power_curve(
    draws: PowerDraws, d: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """(power, Monte Carlo SE) at effects ``d``: rejection rates over the replications and
    ``sqrt(p (1 - p) / R)``."""
    rej = draws.reject(d, alpha)
    p = rej.mean(axis=0)
    return p, np.sqrt(p * (1 - p) / rej.shape[0])


def _first_crossing(grid: np.ndarray, power: np.ndarray, target: float) -> float:
    """Smallest effect on ``grid`` where ``power`` reaches ``target`` (linear interpolation from the
    grid point before); NaN when never reached."""
    hit = np.flatnonzero(power >= target)
    if not len(hit):
        return float("nan")
    k = int(hit[0])
    if k == 0:
        return float(grid[0])
    p0, p1 = power[k - 1], power[k]
    return float(grid[k - 1] + (target - p0) / (p1 - p0) * (grid[k] - grid[k - 1]))


def mde(
    draws: PowerDraws,
    d_max: float,
    alpha: float = 0.05,
    power: float = 0.8,
    n_grid: int = 400,
    n_boot: int = 200,
    seed: int = 0,
) -> dict:
    """Minimum detectable effect: the smallest ``d`` in ``(0, d_max]`` whose rejection rate reaches
    ``power``, on a grid of ``n_grid`` points (interpolated), with its Monte Carlo SE from
    ``n_boot`` resamples of the replications (seeded). ``mde`` is NaN (``reached`` False) when the
    power stays below ``power`` up to ``d_max``."""
    grid = np.linspace(0.0, d_max, n_grid + 1)
    rej = draws.reject(grid, alpha)
    value = _first_crossing(grid, rej.mean(axis=0), power)
    rng = np.random.default_rng(seed)
    r = rej.shape[0]
    boot = np.array(
        [
            _first_crossing(grid, rej[rng.integers(0, r, r)].mean(axis=0), power)
            for _ in range(n_boot)
        ]
    )
    ok = np.isfinite(boot)
    return {
        "mde": value,
        "mc_se": float(np.std(boot[ok], ddof=1)) if ok.sum() > 1 else float("nan"),
        "reached": bool(np.isfinite(value)),
        "searched_up_to": float(d_max),
        "boot_unreached_share": float(1 - ok.mean()),
    }


# ------------------------------------------------------------------------------ TWFE, many outcomes
def twfe_many(
    Y: np.ndarray,
    treat: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    covariates: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """TWFE coefficient of ``treat`` and its CRV1 SE (fixest's small-sample rule, the kernel's) for
    every column of ``Y`` (n, m) at once: the fixed-effects projection is built once and applied
    to all columns (the numbers of ``fit_within`` / ``twfe(method="demean")``, one column each).

    ``unit``, ``time``, ``cluster``: codes per row (cluster default: unit); ``covariates`` (n, k).
    """
    unit = pd.factorize(np.asarray(unit))[0]
    time = pd.factorize(np.asarray(time))[0]
    cl = unit if cluster is None else pd.factorize(np.asarray(cluster))[0]
    proj = FEProjector(unit, time, controls=covariates)
    x = proj.residualize(np.asarray(treat, dtype=float))
    Yr = proj.residualize(np.asarray(Y, dtype=float).reshape(len(unit), -1))
    xx = float(x @ x)
    if xx <= 0:
        raise ValueError("treatment absorbed by the fixed effects and covariates")
    beta = (x @ Yr) / xx
    U = Yr - x[:, None] * beta[None, :]
    n_cl = int(cl.max()) + 1
    onehot = sparse.csr_matrix((x, (cl, np.arange(len(x)))), shape=(n_cl, len(x)))
    scores = np.asarray(onehot @ U)  # clusters x m: sum_{i in c} x_i u_i
    k = 1 + (0 if proj.control_basis is None else proj.control_basis.shape[1])
    factor = FIXEST.factor(
        len(x), k, n_cl, [proj.n_units, proj.n_times], [nested_in(unit, cl), nested_in(time, cl)]
    )
    se = np.sqrt(factor * np.sum(scores**2, axis=0)) / xx
    return beta, se
