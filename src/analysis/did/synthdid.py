"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER 111(12)),
with synthetic control (Abadie, Diamond & Hainmueller 2010) and difference-in-differences as special cases.

A port of the R package synthdid (github.com/synth-inference/synthdid, ``R/synthdid.R``,
``R/solver.R``, ``R/vcov.R``, ``R/utils.R``) for a block design: a balanced panel in which every
treated unit starts treatment in the same period (rows ``1..N0`` of ``Y`` are controls, columns
``1..T0`` pre-treatment periods).

Estimator (Algorithm 1 of the paper), ``tau = (-omega, 1/N1)' Y (-lambda, 1/T1)``:

* unit weights ``omega`` (on the simplex) fit the treated units' pre-period average by the controls'
  pre-period paths, with an intercept and the ridge penalty ``zeta_omega^2 |omega|^2``,
  ``zeta_omega = (N1 T1)^(1/4) * sigma``, ``sigma`` the standard deviation of the first differences
  of the control units' pre-period outcomes (``noise_level``);
* time weights ``lambda`` fit the controls' post-period average by their pre-period outcomes, with
  an intercept and the tiny penalty ``zeta_lambda = 1e-6 * sigma``;
* both problems are solved by R's Frank-Wolfe solver with exact line search (``sc.weight.fw``):
  it stops when an iteration lowers the penalized objective by less than ``min_decrease^2``
  (``min_decrease = 1e-5 * sigma``) or after ``max_iter = 1e4`` iterations; R first runs 100
  iterations, sparsifies the solution (weights at most a quarter of the largest are set to zero,
  ``sparsify_function``) and runs the solver again from there.

``estimator="sc"`` is R's ``sc_estimate`` (no unit-weight intercept, ``eta_omega = 1e-6``, no time
weights: ``lambda = 0``); ``estimator="did"`` is R's ``did_estimate`` (uniform weights), i.e. the
two-way fixed-effects coefficient of the treatment dummy.

Standard errors (R ``vcov.synthdid_estimate``; the paper's Algorithms 2-4):

* ``"placebo"`` (Algorithm 4): the only one valid with a single treated unit. The controls are
  permuted, the last ``N1`` of them are declared treated, the estimator is re-run on the controls
  alone (weights re-estimated, warm-started at the actual ones), and the SE is
  ``sqrt((B-1)/B) * sd`` of the ``B`` placebo estimates. Needs more controls than treated units;
  it assumes the treated units' noise is like the controls' (homoskedasticity across units).
* ``"bootstrap"`` (Algorithm 2): units are resampled with replacement (draws with no control or no
  treated unit are redrawn) and the weights re-estimated. Needs more than one treated unit; the
  paper recommends it when treated units are many.
* ``"jackknife"`` (Algorithm 3): leave one unit out with the weights held fixed (renormalised).
  Needs more than one treated unit and more than one control with a non-zero weight (it is
  undefined for SC fits that put all weight on one control); fastest; the paper does not
  recommend it for SC.

A method that does not apply raises a ``ValueError`` saying why. Resampling is seeded with numpy's
``default_rng(seed)`` (R's ``sample`` stream is not reproduced, so placebo and bootstrap SEs agree
with R's up to Monte Carlo error, about ``1/sqrt(2B)`` relative).

Why hand-written: the placebo and bootstrap re-solve the weights hundreds of times; here the
Frank-Wolfe iterations of all replications run together as one batched numpy problem (each
iteration is a few array operations over every replication, units and periods at once), and a
replication that has met R's stopping rule is frozen, so each replication follows R's iterations.
Time-varying covariates (R's ``X`` argument) are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.did.results import (
    EVENT_STUDY_COLUMNS,
    event_study_frame,
    tidy_frame,
)

__all__ = [
    "ESTIMATORS",
    "SE_METHODS",
    "SynthDIDResult",
    "panel_matrix",
    "sparsify_weights",
    "synthdid",
]

ESTIMATORS = ("sdid", "sc", "did")
SE_METHODS = ("placebo", "bootstrap", "jackknife")
NAMES = {
    "sdid": "Synthetic difference-in-differences",
    "sc": "Synthetic control",
    "did": "Difference-in-differences",
}


# ------------------------------------------------------------------------------------ the panel
@dataclass(frozen=True)
class PanelMatrix:
    """A block-design panel as R ``panel.matrices``: controls first (sorted by unit), then treated."""

    Y: np.ndarray  # (N, T) outcomes
    N0: int
    T0: int
    units: np.ndarray
    times: np.ndarray


def panel_matrix(data: pd.DataFrame, y: str, unit: str, time: str, treatment: str) -> PanelMatrix:
    """Long panel -> wide outcome matrix for a block design (R ``panel.matrices``).

    Raises ``ValueError`` unless the panel is balanced (every unit once in every period, no
    missing value), the treatment is 0/1 with both values present, and adoption is simultaneous:
    controls are never treated, and every treated unit is untreated before one common first
    treatment period and treated from then on.
    """
    missing = [c for c in (y, unit, time, treatment) if c not in data.columns]
    if missing:
        raise ValueError(f"columns not in the data: {missing}")
    df = data[[unit, time, y, treatment]]
    if df.isna().any().any():
        bad = df.columns[df.isna().any()].tolist()
        raise ValueError(f"missing values in {bad}: synthdid needs a balanced panel without gaps")
    d = pd.to_numeric(df[treatment], errors="coerce").to_numpy(dtype=float)
    if not np.isin(d, (0.0, 1.0)).all():
        raise ValueError(f"the treatment column {treatment!r} must be 0/1")
    if d.min() == d.max():
        raise ValueError(f"no variation in the treatment column {treatment!r}")
    outcome = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(outcome).all():
        raise ValueError(f"the outcome {y!r} must be numeric and finite")
    u_code, units = pd.factorize(df[unit], sort=True)
    t_code, times = pd.factorize(df[time], sort=True)
    n, t = len(units), len(times)
    counts = np.bincount(u_code * t + t_code, minlength=n * t)
    if counts.max() > 1:
        raise ValueError(f"duplicate ({unit}, {time}) rows: the panel must have one row per cell")
    if counts.min() == 0:
        raise ValueError(
            f"unbalanced panel: {int((counts == 0).sum())} (unit, period) cells are missing; "
            "synthdid needs every unit observed in every period"
        )
    Y = np.empty((n, t))
    W = np.empty((n, t))
    Y[u_code, t_code] = outcome
    W[u_code, t_code] = d
    ever = W.any(axis=1)
    first = int(np.flatnonzero(W.any(axis=0))[0])  # T0: periods before anybody is treated
    ok = (W[:, :first] == 0).all() and (W[~ever] == 0).all() and (W[ever, first:] == 1).all()
    if not ok:
        raise ValueError(
            "treatment adoption is not simultaneous: synthdid needs a block design (all treated "
            "units start in the same period and stay treated; controls never treated)"
        )
    order = np.concatenate([np.flatnonzero(~ever), np.flatnonzero(ever)])
    N0 = int((~ever).sum())
    if N0 < 2:
        raise ValueError("synthdid needs at least two control units")
    if first < 2:
        raise ValueError("synthdid needs at least two pre-treatment periods")
    return PanelMatrix(Y[order], N0, first, np.asarray(units)[order], np.asarray(times))


# ------------------------------------------------------------------------------------ the solver
def sparsify_weights(v: np.ndarray) -> np.ndarray:
    """R ``sparsify_function`` along the last axis: weights ``<= max/4`` set to 0, then renormalised."""
    v = np.array(v, dtype=float)
    v[v <= v.max(axis=-1, keepdims=True) / 4] = 0.0
    return v / v.sum(axis=-1, keepdims=True)


def _sum_normalize(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """R ``sum_normalize`` along the last axis (uniform where the weights sum to zero); with
    ``mask``, entries outside it are padding (zero, and left out of the uniform fallback)."""
    valid = np.ones(x.shape, dtype=bool) if mask is None else mask
    x = np.where(valid, x, 0.0)
    s = x.sum(axis=-1, keepdims=True)
    uniform = valid / valid.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s != 0, x / np.where(s != 0, s, 1.0), uniform)


def _fw(
    Y: np.ndarray,
    zeta: float,
    intercept: bool,
    x0: np.ndarray | None,
    min_decrease: float,
    max_iter: int,
    rows_valid: np.ndarray | None = None,
    cols_valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """R ``sc.weight.fw`` for a batch of problems: ``Y`` is (B, n, k + 1); minimise
    ``zeta^2 |x|^2 + |A x - b|^2 / n`` over the simplex, ``A = Y[..., :k]``, ``b = Y[..., k]``
    (columns centred over the n rows with ``intercept``). Returns the weights (B, k) and the number
    of iterations per problem. Each problem stops on R's rule: after iteration ``t >= 2`` when the
    objective fell by at most ``min_decrease^2``, or at ``max_iter``.

    Problems of different sizes share a batch by padding: ``rows_valid`` (B, n) marks the real
    rows (padding rows are zeroed and left out of the centring and of ``n``), ``cols_valid`` (B, k)
    the real weights (a padding weight starts at zero and is never chosen by a step, so it stays
    zero). Padding changes no arithmetic on the real entries."""
    Y = np.asarray(Y, dtype=float)
    B, n, k1 = Y.shape
    k = k1 - 1
    if B == 1 and rows_valid is None and cols_valid is None:
        x, t = _fw_one(
            Y[0], zeta, intercept, None if x0 is None else np.ravel(x0), min_decrease, max_iter
        )
        return x[None], np.array([t])
    if rows_valid is None:
        if intercept:
            Y = Y - Y.mean(axis=1, keepdims=True)
        n_rows = np.full(B, float(n))
    else:
        rv = rows_valid[:, :, None]
        n_rows = rows_valid.sum(axis=1).astype(float)
        if intercept:
            Y = Y - (Y * rv).sum(axis=1, keepdims=True) / n_rows[:, None, None]
        Y = Y * rv
    A, b = Y[:, :, :k], Y[:, :, k]
    z2 = float(zeta) ** 2
    eta = n_rows * z2
    if x0 is None:
        x0 = (
            np.full(k, 1.0 / k)
            if cols_valid is None
            else _sum_normalize(np.ones((B, k)), cols_valid)
        )
    out = np.broadcast_to(x0, (B, k)).astype(float)
    pen = None if cols_valid is None else np.where(cols_valid, 0.0, np.inf)
    iters = np.zeros(B, dtype=np.int64)
    active = np.arange(B)
    x = out.copy()
    prev = np.full(B, np.inf)
    threshold = float(min_decrease) ** 2
    t = 0
    rows = np.arange(B)
    Ax = np.matmul(A, x[:, :, None])[:, :, 0]
    while t < max_iter and active.size:
        t += 1
        half_grad = np.matmul((Ax - b)[:, None, :], A)[:, 0, :] + eta[:, None] * x
        # which.min: the first minimum (never a padding weight)
        i = (half_grad if pen is None else half_grad + pen).argmin(axis=1)
        dx = -x
        dx[rows, i] += 1.0
        d_err = A[rows, :, i] - Ax
        num = -np.einsum("bk,bk->b", half_grad, dx)
        den = np.einsum("bn,bn->b", d_err, d_err) + eta * np.einsum("bk,bk->b", dx, dx)
        with np.errstate(invalid="ignore", divide="ignore"):
            # R returns x unchanged when d.x == 0 (then 0/0 here)
            step = np.clip(np.nan_to_num(num / den, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        x += step[:, None] * dx
        Ax += step[:, None] * d_err  # = A x for the new x (A is linear)
        r = Ax - b
        val = z2 * np.einsum("bk,bk->b", x, x) + np.einsum("bn,bn->b", r, r) / n_rows
        if t >= 2 or t == max_iter:
            done = ~(prev - val > threshold) if t < max_iter else np.ones(active.size, bool)
            if done.any():
                out[active[done]] = x[done]
                iters[active[done]] = t
                keep = ~done
                active, A, b, x, Ax, val, eta, n_rows = (
                    v[keep] for v in (active, A, b, x, Ax, val, eta, n_rows)
                )
                pen = None if pen is None else pen[keep]
                rows = np.arange(active.size)
        prev = val
    return out, iters


def _fw_one(
    Y: np.ndarray,
    zeta: float,
    intercept: bool,
    x: np.ndarray | None,
    min_decrease: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:
    """``_fw`` for one problem (n, k + 1): the same arithmetic on vectors, ~4x faster than a
    batch of one (numpy's per-call overhead dominates these small arrays)."""
    if intercept:
        Y = Y - Y.mean(axis=0)
    n, k1 = Y.shape
    k = k1 - 1
    A = np.ascontiguousarray(Y[:, :k])
    At = np.ascontiguousarray(A.T)
    b = Y[:, k].copy()
    z2 = float(zeta) ** 2
    eta = n * z2
    x = np.full(k, 1.0 / k) if x is None else np.array(x, dtype=float)
    threshold = float(min_decrease) ** 2
    Ax = A @ x
    prev = np.inf
    t = 0
    while t < max_iter:
        t += 1
        half_grad = (Ax - b) @ A + eta * x
        i = int(half_grad.argmin())
        dx = -x
        dx[i] += 1.0
        d_err = At[i] - Ax
        den = d_err @ d_err + eta * (dx @ dx)
        if den > 0 and dx.any():  # R returns x unchanged when d.x == 0
            step = min(1.0, max(0.0, -(half_grad @ dx) / den))
            x += step * dx
            Ax += step * d_err
        r = Ax - b
        val = z2 * (x @ x) + (r @ r) / n
        if t >= 2 and not prev - val > threshold:
            break
        prev = val
    return x, t


def _weights(
    Y: np.ndarray,
    zeta: float,
    intercept: bool,
    x0: np.ndarray | None,
    o: _Options,
    **masks,
) -> tuple[np.ndarray, np.ndarray]:
    """One weight vector per problem as R ``synthdid_estimate``: a first Frank-Wolfe round of
    ``max_iter_pre_sparsify`` iterations, sparsify, a second round of ``max_iter`` (or one round of
    ``max_iter`` without sparsify)."""
    md = o.min_decrease
    if not o.sparsify:
        return _fw(Y, zeta, intercept, x0, md, o.max_iter, **masks)
    x, it1 = _fw(Y, zeta, intercept, x0, md, o.max_iter_pre_sparsify, **masks)
    x, it2 = _fw(Y, zeta, intercept, sparsify_weights(x), md, o.max_iter, **masks)
    return x, it1 + it2


def _collapsed(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    """R ``collapsed.form`` for a batch (B, N, T) -> (B, N0 + 1, T0 + 1): treated rows and post
    columns averaged."""
    top = np.concatenate([Y[:, :N0, :T0], Y[:, :N0, T0:].mean(axis=2, keepdims=True)], axis=2)
    bottom = np.concatenate(
        [
            Y[:, N0:, :T0].mean(axis=1, keepdims=True),
            Y[:, N0:, T0:].mean(axis=(1, 2))[:, None, None],
        ],
        axis=2,
    )
    return np.concatenate([top, bottom], axis=1)


@dataclass(frozen=True)
class _Options:
    """The options R stores in ``attr(estimate, 'opts')`` (reused by every replication)."""

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int
    sparsify: bool
    max_iter_pre_sparsify: int


def _solve(
    Y: np.ndarray,
    N0: int,
    T0: int,
    o: _Options,
    omega0: np.ndarray | None,
    lambda0: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights for a batch of panels (B, N, T) with the same N0, T0: (omega, lambda, iterations)."""
    Yc = _collapsed(Y, N0, T0) if (o.update_lambda or o.update_omega) else None
    return _solve_collapsed(Yc, None, Y.shape[0], N0, T0, o, omega0, lambda0)


def _solve_collapsed(
    Yc: np.ndarray | None,
    mask: np.ndarray | None,
    B: int,
    M: int,
    T0: int,
    o: _Options,
    omega0: np.ndarray | None,
    lambda0: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights from collapsed forms ``Yc`` (B, M + 1, T0 + 1): rows ``:M`` controls (``mask``
    (B, M) marks the real ones when the batch is padded), row ``M`` the treated average."""
    iters = np.zeros((B, 2), dtype=np.int64)
    if o.update_lambda:
        lam, iters[:, 1] = _weights(
            Yc[:, :M, :], o.zeta_lambda, o.lambda_intercept, lambda0, o, rows_valid=mask
        )
    else:
        lam = np.broadcast_to(lambda0, (B, T0)).astype(float)
    if o.update_omega:
        Yo = np.transpose(Yc[:, :, :T0], (0, 2, 1))
        omega, iters[:, 0] = _weights(
            Yo, o.zeta_omega, o.omega_intercept, omega0, o, cols_valid=mask
        )
    else:
        omega = np.broadcast_to(omega0, (B, M)).astype(float)
    return omega, lam, iters


def _effects(
    Y: np.ndarray, N0: int, T0: int, omega: np.ndarray, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Estimates (B,) and effect curves (B, T1) (R ``synthdid_effect_curve``) for a batch of
    panels with the same N0: rows weighted ``(-omega, 1/N1)``."""
    B, N, _ = Y.shape
    rows = np.concatenate([-omega, np.full((B, N - N0), 1.0 / (N - N0))], axis=1)
    return _effects_rows(Y, rows, T0, lam)


def _effects_rows(
    Y: np.ndarray, rows: np.ndarray, T0: int, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``tau = rows' Y (-lambda, 1/T1)`` and its per-period curve, for a batch."""
    tau_sc = np.matmul(rows[:, None, :], Y)[:, 0, :]  # treated minus synthetic, by period
    curve = tau_sc[:, T0:] - (tau_sc[:, :T0] * lam).sum(axis=1, keepdims=True)
    return curve.mean(axis=1), curve


# ------------------------------------------------------------------------------------ the result
@dataclass
class SynthDIDResult:
    """A synthdid / SC / DID fit: the estimate, its weights and its (placebo, bootstrap or
    jackknife) standard error.

    ``att`` is R's ``synthdid_estimate`` value; ``unit_weights`` (omega, by control unit) and
    ``time_weights`` (lambda, by pre-treatment period) are R's ``weights$omega``/``weights$lambda``;
    ``effects`` is R's ``synthdid_effect_curve`` (one effect per post period, event time 0 = first
    treated period) with SEs from the same replications; ``draws`` holds the replication estimates.
    """

    estimator: str
    att: float
    se: float
    se_method: str | None
    replications: int | None
    seed: int | None
    alpha: float
    unit_weights: pd.Series
    time_weights: pd.Series
    effects: pd.DataFrame
    Y: np.ndarray = field(repr=False)
    N0: int = 0
    T0: int = 0
    units: np.ndarray = field(default=None, repr=False)
    times: np.ndarray = field(default=None, repr=False)
    noise_level: float = np.nan
    iterations: tuple[int, int] = (0, 0)  # Frank-Wolfe iterations (omega, lambda)
    draws: np.ndarray = field(default=None, repr=False)
    draws_curve: np.ndarray = field(default=None, repr=False)
    options: _Options = field(default=None, repr=False)
    yname: str = "y"

    @property
    def N1(self) -> int:
        return self.Y.shape[0] - self.N0

    @property
    def T1(self) -> int:
        return self.Y.shape[1] - self.T0

    @property
    def conf_int(self) -> tuple[float, float]:
        z = stats.norm.ppf(1 - self.alpha / 2)
        return self.att - z * self.se, self.att + z * self.se

    @property
    def effective_controls(self) -> float:
        """``1 / sum(omega^2)`` (R ``summary``'s ``N0.effective``)."""
        return float(1.0 / (self.unit_weights.to_numpy() ** 2).sum())

    @property
    def effective_periods(self) -> float:
        """``1 / sum(lambda^2)`` (R ``summary``'s ``T0.effective``; inf for SC's zero weights)."""
        s = (self.time_weights.to_numpy() ** 2).sum()
        return float(1.0 / s) if s > 0 else np.inf

    def tidy(self, effects: bool = False) -> pd.DataFrame:
        """The ATT as one row (``TIDY_COLUMNS``, normal CI); with ``effects`` one more row per post
        period, ``term = "event_time::k"``."""
        out = tidy_frame(["ATT"], [self.att], [self.se], self.alpha)
        if effects:
            e = self.effects
            rows = tidy_frame(
                [f"event_time::{k}" for k in e["event_time"]],
                e["estimate"],
                e["std_error"],
                self.alpha,
            )
            out = pd.concat([out, rows], ignore_index=True)
        return out

    @property
    def event_study(self) -> pd.DataFrame:
        """The per-period effects in ``analysis.did.results.EVENT_STUDY_COLUMNS``."""
        return self.effects[EVENT_STUDY_COLUMNS]

    def controls(self, mass: float = 0.9, weight_type: str = "omega") -> pd.Series:
        """The largest weights, sorted, until they reach ``mass`` (R ``synthdid_controls``)."""
        if weight_type not in ("omega", "lambda"):
            raise ValueError('weight_type must be "omega" or "lambda"')
        w = self.unit_weights if weight_type == "omega" else self.time_weights
        w = w.iloc[np.argsort(-w.to_numpy(), kind="stable")]
        reached = np.flatnonzero(np.cumsum(w.to_numpy()) >= mass)
        return w.iloc[: (reached[0] + 1 if reached.size else len(w))]

    def summary(self) -> str:
        lo, hi = self.conf_int
        se = (
            f"SE {self.se:.4f} ({self.se_method}, {self.replications} replications, seed {self.seed})"
            if self.se_method in ("placebo", "bootstrap")
            else f"SE {self.se:.4f} ({self.se_method})"
            if self.se_method
            else "no SE"
        )
        ci = f"; {100 * (1 - self.alpha):.0f}% CI [{lo:.4f}, {hi:.4f}]" if self.se_method else ""
        lines = [
            f"{NAMES[self.estimator]}: ATT = {self.att:.4f} ({se}{ci})",
            (
                f"  N1 = {self.N1}, N0 = {self.N0} (effective {self.effective_controls:.3f}), "
                f"T1 = {self.T1}, T0 = {self.T0} (effective {self.effective_periods:.3f})"
            ),
            "  largest unit weights: "
            + ", ".join(f"{k} {v:.3f}" for k, v in self.controls(weight_type="omega").items()),
        ]
        if self.time_weights.sum() > 0:
            lines.append(
                "  largest time weights: "
                + ", ".join(f"{k} {v:.3f}" for k, v in self.controls(weight_type="lambda").items())
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def standard_error(
        self, method: str = "placebo", replications: int = 200, seed: int | None = 0
    ) -> float:
        """The SE by another method (same rules as ``synthdid``'s ``se_method``)."""
        se, _, _ = _variance(self, method, replications, seed)
        return se

    def trajectories(self) -> pd.DataFrame:
        """Treated average and synthetic control (omega-weighted controls) by period; the figure's
        data (R ``synthdid_plot`` without overlay)."""
        treated = self.Y[self.N0 :].mean(axis=0)
        synthetic = self.unit_weights.to_numpy() @ self.Y[: self.N0]
        return pd.DataFrame({"time": self.times, "treated": treated, "synthetic": synthetic})

    def plot(self, lang: str = "en", ylabel: str | None = None):
        """Trajectories with the time weights and the 2x2 diagram, and the unit weights
        (:func:`analysis.figures.synthdid.plot_synthdid`)."""
        from analysis.figures.synthdid import plot_synthdid

        return plot_synthdid(self, lang=lang, ylabel=ylabel)


# ------------------------------------------------------------------------------------ variance
def _variance(
    fit: SynthDIDResult, method: str, replications: int, seed: int | None
) -> tuple[float, np.ndarray, np.ndarray]:
    """(SE, replication estimates, replication effect curves) by ``method``."""
    if method not in SE_METHODS:
        raise ValueError(f"se_method must be one of {SE_METHODS} or None, not {method!r}")
    Y, N0, T0, o = fit.Y, fit.N0, fit.T0, fit.options
    N1 = Y.shape[0] - N0
    omega = fit.unit_weights.to_numpy()
    lam = fit.time_weights.to_numpy()
    if method == "jackknife":
        if N1 == 1:
            raise ValueError(
                "the jackknife SE needs more than one treated unit (leaving the only treated unit "
                "out leaves no estimate); use se_method='placebo'"
            )
        if (omega != 0).sum() == 1:
            raise ValueError(
                "the fixed-weights jackknife is undefined when one control carries all the unit "
                "weight (as often for SC); use se_method='placebo' or 'bootstrap'"
            )
        draws, curves = _jackknife(Y, N0, T0, omega, lam)
        n = Y.shape[0]
        scale = np.sqrt((n - 1) ** 2 / n)
        return float(scale * draws.std(ddof=1)), draws, curves
    replications = int(replications)
    if replications < 2:
        raise ValueError("replications must be at least 2")
    rng = np.random.default_rng(seed)
    if method == "placebo":
        if N0 <= N1:
            raise ValueError(
                f"the placebo SE needs more controls than treated units ({N0} controls, {N1} treated)"
            )
        perm = rng.permuted(np.tile(np.arange(N0), (replications, 1)), axis=1)
        n0 = N0 - N1
        Yp = Y[perm]
        w0 = _sum_normalize(omega[perm[:, :n0]])
        w, lm, _ = _solve(Yp, n0, T0, o, w0, lam)
        draws, curves = _effects(Yp, n0, T0, w, lm)
    else:  # bootstrap
        if N1 == 1:
            raise ValueError(
                "the bootstrap SE needs more than one treated unit (a resample holds the treated "
                "unit or not, so the treated mean does not vary); use se_method='placebo'"
            )
        draws, curves = _bootstrap(Y, N0, T0, o, omega, lam, replications, rng)
    scale = np.sqrt((replications - 1) / replications)
    return float(scale * draws.std(ddof=1)), draws, curves


def _jackknife(Y, N0, T0, omega, lam) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-unit-out estimates with fixed weights (R ``jackknife_se``), all at once: row ``i``
    of the (N, N) matrix ``R`` is the unit weighting ``(-omega, 1/N1)`` without unit ``i``."""
    N = Y.shape[0]
    N1 = N - N0
    R = np.zeros((N, N))
    for_controls = np.tile(omega, (N0, 1))
    np.fill_diagonal(for_controls, 0.0)
    R[:N0, :N0] = -_sum_normalize(for_controls)
    R[:N0, N0:] = 1.0 / N1
    R[N0:, :N0] = -omega
    treated = np.full((N1, N1), 1.0 / (N1 - 1))
    np.fill_diagonal(treated, 0.0)
    R[N0:, N0:] = treated
    tau_sc = R @ Y
    curve = tau_sc[:, T0:] - (tau_sc[:, :T0] @ lam)[:, None]
    return curve.mean(axis=1), curve


def _bootstrap_indices(N: int, N0: int, replications: int, rng) -> np.ndarray:
    """Sorted unit indices of ``replications`` bootstrap draws with at least one control and one
    treated unit (R redraws the others)."""
    idx = np.empty((0, N), dtype=np.int64)
    while len(idx) < replications:
        new = np.sort(rng.integers(0, N, size=(replications, N)), axis=1)
        n0 = (new < N0).sum(axis=1)
        idx = np.concatenate([idx, new[(n0 > 0) & (n0 < N)]])
    return idx[:replications]


def _bootstrap(Y, N0, T0, o, omega, lam, replications, rng) -> tuple[np.ndarray, np.ndarray]:
    """Unit bootstrap (R ``bootstrap_sample``): draws without a control or a treated unit are
    redrawn. Draws hold different numbers of controls; they are solved in one batch, padded to the
    largest control count (see ``_fw``)."""
    N, T = Y.shape
    idx = _bootstrap_indices(N, N0, replications, rng)
    m = (idx < N0).sum(axis=1)  # controls per draw (sorted: they come first)
    M = int(m.max())
    Yb = Y[idx]
    control = np.arange(N)[None, :] < m[:, None]
    treated = ~control
    n1 = (N - m).astype(float)
    mask = control[:, :M]
    Yc = np.zeros((replications, M + 1, T0 + 1))
    Yc[:, :M, :T0] = Yb[:, :M, :T0] * mask[:, :, None]
    Yc[:, :M, T0] = Yb[:, :M, T0:].mean(axis=2) * mask
    Yc[:, M, :T0] = (Yb[:, :, :T0] * treated[:, :, None]).sum(axis=1) / n1[:, None]
    Yc[:, M, T0] = (Yb[:, :, T0:] * treated[:, :, None]).sum(axis=(1, 2)) / (n1 * (T - T0))
    w0 = _sum_normalize(omega[np.where(mask, idx[:, :M], 0)], mask)
    w, lm, _ = _solve_collapsed(Yc, mask, replications, M, T0, o, w0, lam)
    rows = treated / n1[:, None]
    rows[:, :M] -= w * mask
    return _effects_rows(Yb, rows, T0, lm)


# ------------------------------------------------------------------------------------ entry point
def synthdid(
    data: pd.DataFrame,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    *,
    estimator: str = "sdid",
    se_method: str | None = "placebo",
    replications: int = 200,
    seed: int | None = 0,
    alpha: float = 0.05,
    eta_omega: float | None = None,
    eta_lambda: float | None = None,
    omega_intercept: bool | None = None,
    lambda_intercept: bool = True,
    unit_weights: np.ndarray | None = None,
    time_weights: np.ndarray | None = None,
    update_unit_weights: bool | None = None,
    update_time_weights: bool | None = None,
    noise_level: float | None = None,
    min_decrease: float | None = None,
    max_iter: int = 10_000,
    sparsify: bool = True,
    max_iter_pre_sparsify: int = 100,
) -> SynthDIDResult:
    """Synthetic DiD (``estimator="sdid"``), synthetic control (``"sc"``) or DiD (``"did"``) for a
    block design, as R ``synthdid_estimate`` / ``sc_estimate`` / ``did_estimate``.

    Parameters
    ----------
    data : long panel, one row per (unit, period); balanced, block adoption (see :func:`panel_matrix`).
    y, unit, time, treatment : outcome, unit, period and 0/1 treatment columns.
    se_method : ``"placebo"`` (default; valid with one treated unit, needs ``N0 > N1``),
        ``"bootstrap"`` or ``"jackknife"`` (both need ``N1 > 1``; the jackknife also more than one
        control with positive weight), or None (no SE). See the module docstring.
    replications, seed : placebo / bootstrap draws and the seed of ``numpy.random.default_rng``.
    eta_omega, eta_lambda : ``zeta = eta * noise_level``; defaults ``(N1 T1)^(1/4)`` (SC: 1e-6) and 1e-6.
    omega_intercept, lambda_intercept : intercepts in the weight problems (SC: no omega intercept).
    unit_weights, time_weights : given weights (length N0, in the sorted-control order of
        ``panel_matrix``; length T0); used as they are unless ``update_*`` is True, in which case
        they initialise the solver. ``did`` forces uniform weights, ``sc`` zero time weights.
    noise_level, min_decrease, max_iter, sparsify, max_iter_pre_sparsify : R's solver options
        (defaults as R: sd of the controls' pre-period first differences, ``1e-5 * noise_level``,
        1e4, sparsify on, 100).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
    if se_method is not None and se_method not in SE_METHODS:
        raise ValueError(f"se_method must be one of {SE_METHODS} or None, not {se_method!r}")
    pm = panel_matrix(data, y, unit, time, treatment)
    Y, N0, T0 = pm.Y, pm.N0, pm.T0
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    if estimator == "did":
        unit_weights = np.full(N0, 1.0 / N0) if unit_weights is None else unit_weights
        time_weights = np.full(T0, 1.0 / T0) if time_weights is None else time_weights
    elif estimator == "sc":
        time_weights = np.zeros(T0) if time_weights is None else time_weights
        eta_omega = 1e-6 if eta_omega is None else eta_omega
        omega_intercept = False if omega_intercept is None else omega_intercept
    omega_intercept = True if omega_intercept is None else omega_intercept
    unit_weights = _check_weights(unit_weights, N0, "unit_weights")
    time_weights = _check_weights(time_weights, T0, "time_weights", allow_zero=True)
    update_omega = unit_weights is None if update_unit_weights is None else update_unit_weights
    update_lambda = time_weights is None if update_time_weights is None else update_time_weights
    if noise_level is None:
        noise_level = float(np.diff(Y[:N0, :T0], axis=1).std(ddof=1))
    eta_omega = (N1 * T1) ** 0.25 if eta_omega is None else eta_omega
    eta_lambda = 1e-6 if eta_lambda is None else eta_lambda
    o = _Options(
        zeta_omega=eta_omega * noise_level,
        zeta_lambda=eta_lambda * noise_level,
        omega_intercept=bool(omega_intercept),
        lambda_intercept=bool(lambda_intercept),
        update_omega=bool(update_omega),
        update_lambda=bool(update_lambda),
        min_decrease=1e-5 * noise_level if min_decrease is None else float(min_decrease),
        max_iter=int(max_iter),
        sparsify=bool(sparsify),
        max_iter_pre_sparsify=int(max_iter_pre_sparsify if sparsify else max_iter),
    )
    omega, lam, iters = _solve(Y[None], N0, T0, o, unit_weights, time_weights)
    att, curve = _effects(Y[None], N0, T0, omega, lam)
    fit = SynthDIDResult(
        estimator=estimator,
        att=float(att[0]),
        se=np.nan,
        se_method=se_method,
        replications=replications if se_method in ("placebo", "bootstrap") else None,
        seed=seed if se_method in ("placebo", "bootstrap") else None,
        alpha=alpha,
        unit_weights=pd.Series(omega[0], index=pm.units[:N0], name="omega"),
        time_weights=pd.Series(lam[0], index=pm.times[:T0], name="lambda"),
        effects=pd.DataFrame(),
        Y=Y,
        N0=N0,
        T0=T0,
        units=pm.units,
        times=pm.times,
        noise_level=noise_level,
        iterations=(int(iters[0, 0]), int(iters[0, 1])),
        options=o,
        yname=y,
    )
    se_curve = np.full(T1, np.nan)
    if se_method is not None:
        fit.se, fit.draws, fit.draws_curve = _variance(fit, se_method, replications, seed)
        if se_method == "jackknife":
            n = Y.shape[0]
            se_curve = np.sqrt((n - 1) ** 2 / n) * fit.draws_curve.std(axis=0, ddof=1)
        else:
            se_curve = np.sqrt((replications - 1) / replications) * fit.draws_curve.std(
                axis=0, ddof=1
            )
    z = stats.norm.ppf(1 - alpha / 2)
    effects = event_study_frame(
        np.arange(T1), curve[0], se_curve, curve[0] - z * se_curve, curve[0] + z * se_curve
    )
    effects.insert(1, "time", pm.times[T0:])
    fit.effects = effects
    return fit


def _check_weights(w, n: int, name: str, allow_zero: bool = False) -> np.ndarray | None:
    if w is None:
        return None
    w = np.asarray(w, dtype=float).ravel()
    if w.shape != (n,):
        raise ValueError(f"{name} must have length {n}, not {w.size}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    if not np.isclose(w.sum(), 1.0) and not (allow_zero and w.sum() == 0):
        raise ValueError(f"{name} must sum to one")
    return w


# ------------------------------------------------------------------------------- chosen placebos
def placebo_effects(fit: SynthDIDResult, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-space placebos with chosen placebo-treated sets (Abadie, Diamond & Hainmueller 2010's
    placebo studies; the placebo SE of Algorithm 4 with the sets given instead of drawn).

    ``groups``: (B, m) indices into the fit's controls (the order of ``fit.unit_weights``),
    ``m < N0``, each row a set of controls declared treated. For each row the estimator is re-run on
    the controls alone (weights re-solved with the fit's options, warm-started at its weights, as
    the placebo SE does). Returns ``(estimates (B,), gaps (B, T))``: the placebo ATTs and, for
    every period, the gap ``(placebo mean - synthetic) - lambda-weighted pre-period gap`` (post
    periods: the effect curve; pre periods: the fit of the placebo's synthetic control). Use it
    for placebos that respect a structure the random permutation ignores (e.g. sets of units of
    one region, when the treated units share a region)."""
    groups = np.atleast_2d(np.asarray(groups, dtype=np.int64))
    B, m = groups.shape
    N0, T0 = fit.N0, fit.T0
    if not 0 < m < N0:
        raise ValueError(f"placebo sets must hold between 1 and {N0 - 1} controls, not {m}")
    if groups.min() < 0 or groups.max() >= N0:
        raise ValueError(f"placebo indices must lie in 0..{N0 - 1} (the fit's controls)")
    if (np.sort(groups, axis=1)[:, 1:] == np.sort(groups, axis=1)[:, :-1]).any():
        raise ValueError("a placebo set names a control twice")
    rest = np.ones((B, N0), dtype=bool)
    rest[np.arange(B)[:, None], groups] = False
    others = np.nonzero(rest)[1].reshape(B, N0 - m)
    perm = np.concatenate([others, groups], axis=1)
    Yp = fit.Y[perm]
    n0 = N0 - m
    omega, lam = fit.unit_weights.to_numpy(), fit.time_weights.to_numpy()
    w0 = _sum_normalize(omega[perm[:, :n0]])
    w, lm, _ = _solve(Yp, n0, T0, fit.options, w0, lam)
    rows = np.concatenate([-w, np.full((B, m), 1.0 / m)], axis=1)
    tau_sc = np.matmul(rows[:, None, :], Yp)[:, 0, :]
    gaps = tau_sc - (tau_sc[:, :T0] * lm).sum(axis=1, keepdims=True)
    return gaps[:, T0:].mean(axis=1), gaps


def gap_series(fit: SynthDIDResult) -> np.ndarray:
    """The fit's gap in every period, as :func:`placebo_effects` defines it for its placebos:
    post periods = the effect curve (``fit.effects``), pre periods = how far the treated mean
    departs from its synthetic control net of the lambda-weighted pre-period gap."""
    N1 = fit.Y.shape[0] - fit.N0
    rows = np.concatenate([-fit.unit_weights.to_numpy(), np.full(N1, 1.0 / N1)])
    tau_sc = rows @ fit.Y
    return tau_sc - tau_sc[: fit.T0] @ fit.time_weights.to_numpy()
