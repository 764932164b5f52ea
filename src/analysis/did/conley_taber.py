"""Conley-Taber (2011) inference for the imputation ATT with few treated units.

Conley, T. G. and Taber, C. R. (2011), "Inference with 'difference in differences' with a small
number of policy changes", *REStat* 93(1), 113-125. Ferman, B. and Pinto, C. (2019), "Inference in
differences-in-differences with few treated groups and heteroskedasticity", *REStat* 101(3).

Why: with a handful of treated units the estimation error of a DiD estimator is a weighted sum of
*their* errors only, ``att_hat - att = sum_j w_j eta_j``; no law of large numbers applies to it, and a
cluster-robust variance estimates its spread from those same few units (it over-rejects; the
restricted wild bootstrap under-rejects). Conley and Taber instead learn the distribution of
``eta_j`` from the many control units, which under the null have the same error process, and read
the interval off the simulated distribution of ``sum_j w_j eta~_j``.

For the imputation estimator (Borusyak, Jaravel & Spiess 2024; the project's headline), fitted on
untreated observations with unit and time effects and covariates, the error of treated unit ``j``
(cohort ``g_j``, post periods ``P_j``, pre periods ``Q_j``) is, up to the estimation error of the
time effects and covariate coefficients (which vanishes with many controls),

    eta_j = mean_{t in P_j} e_jt - mean_{t in Q_j} e_jt,     w_j = |P_j| / N1,

since its unit effect is fitted on its pre periods. For a never-treated unit ``k`` the same
functional of its first-stage residuals ``r_kt``, ``eta~_k(j) = mean_{P_j} r_kt - mean_{Q_j} r_kt``,
is a draw of ``eta_j`` under the hypothesis that treated and control units share the error
process (the unit effect cancels from the difference). Each null draw assigns to the ``J``
treated units ``J`` distinct controls at random, ``S_b = sum_j w_j eta~_{k_bj}(j)``; the interval is
``[att_hat - q_{1-alpha/2}(S), att_hat - q_{alpha/2}(S)]`` and the p-value of ``att = 0`` is
``(1 + #{|S_b| >= |att_hat|}) / (1 + B)``.

What it assumes, stated because it decides whether it may be used: (1) the treated units' errors
are distributed like the controls' (Ferman & Pinto 2019 relax this when cell sizes differ, e.g.
states of different population; city-year aggregates of different size are such cells, so on
real data larger treated cities, with smoother exports, make the interval conservative, smaller
ones anti-conservative); (2) the treated units' errors are independent of each other: two treated
units hit by a common shock (two cities of one province in a year with a provincial shock) make
the interval too narrow; (3) the effect is estimated by the imputation ATT with equal weights on
treated unit-periods. General: no paths, no project column names.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.did.wild_bootstrap import ImputationLinearMap
from analysis.pvalues import format_p

__all__ = ["ConleyTaberResult", "conley_taber"]


@dataclass
class ConleyTaberResult:
    """The imputation ATT, the Conley-Taber interval and p-value, and the null draws."""

    estimate: float
    conf_int: tuple[float, float]
    p_value: float
    draws: int
    n_treated_units: int
    n_control_units: int
    alpha: float
    null_draws: np.ndarray = field(repr=False)
    unit_weights: pd.Series = field(repr=False)  # w_j by treated unit

    @property
    def p_value_text(self) -> str:
        return format_p(self.p_value, self.draws, space=" ")

    @property
    def null_sd(self) -> float:
        """SD of the simulated error ``sum_j w_j eta_j``: a standard error's counterpart."""
        return float(np.std(self.null_draws, ddof=1))

    def summary(self) -> str:
        lo, hi = self.conf_int
        return (
            f"Conley-Taber: ATT {self.estimate:.4f}, {100 * (1 - self.alpha):.0f}% CI "
            f"[{lo:.4f}, {hi:.4f}], {self.p_value_text} ({self.n_treated_units} treated, "
            f"{self.n_control_units} control units, {self.draws} draws)"
        )

    def __str__(self) -> str:
        return self.summary()


def conley_taber(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: list[str] | None = None,
    draws: int = 9999,
    seed: int | None = None,
    alpha: float = 0.05,
) -> ConleyTaberResult:
    """Conley-Taber interval and p-value of the imputation ATT (module docstring).

    Parameters
    ----------
    gname : first treatment period (0 or NaN: never treated); the control units whose residuals
        stand in for the treated units' errors are the never-treated ones.
    covariates : time-varying covariates of the untreated-outcome model (as the headline's).
    draws, seed : null draws (random assignments of distinct controls to the treated units) and
        the seed of ``numpy.random.default_rng``.
    """
    covariates = list(covariates or [])
    df = pd.DataFrame(
        {
            "_y": data[yname].to_numpy(dtype=float),
            "_t": data[tname].to_numpy(),
            "_id": data[idname].to_numpy(),
            "_g": data[gname].fillna(0).to_numpy(),
        }
    )
    for j, c in enumerate(covariates):
        df[f"_x{j}"] = data[c].to_numpy(dtype=float)
    xn = [f"_x{j}" for j in range(len(covariates))]
    df = df.dropna(subset=["_y", *xn]).reset_index(drop=True)
    treated = ((df["_g"] > 0) & (df["_t"] >= df["_g"])).to_numpy()
    ok_u, ok_t = df.loc[~treated, "_id"].unique(), df.loc[~treated, "_t"].unique()
    bad = treated & ~(df["_id"].isin(ok_u) & df["_t"].isin(ok_t)).to_numpy()
    if bad.any():  # not identified (no untreated row of the unit or period): BJS's sample rule
        df, treated = df.loc[~bad].reset_index(drop=True), treated[~bad]
    if not treated.any():
        raise ValueError("no treated observations")
    ctrl = df[xn].to_numpy(float) if xn else None
    lmap = ImputationLinearMap(df["_id"].to_numpy(), df["_t"].to_numpy(), treated, ctrl)
    y = df["_y"].to_numpy(float)
    att = float(lmap.estimate(y))
    resid0, _ = lmap.fit_untreated(y[~treated][:, None])

    periods = np.sort(df["_t"].unique())
    col = np.searchsorted(periods, df["_t"].to_numpy())
    units = df["_id"].to_numpy()
    never = (df["_g"] <= 0).to_numpy()
    controls = pd.unique(units[never])
    if len(controls) < 2:
        raise ValueError("too few never-treated units to learn the error distribution")
    # residual matrix of the never-treated units (their rows are all untreated)
    untreated_rows = np.flatnonzero(~treated)
    r = np.full((len(controls), len(periods)), np.nan)
    crow = pd.Index(controls).get_indexer(units[untreated_rows])
    mine = crow >= 0
    r[crow[mine], col[untreated_rows[mine]]] = resid0[mine, 0]

    ever = pd.unique(units[treated])
    n1 = int(treated.sum())
    w = np.empty(len(ever))
    eta = np.empty((len(controls), len(ever)))
    for j, u in enumerate(ever):
        rows = units == u
        post = np.zeros(len(periods), bool)
        pre = np.zeros(len(periods), bool)
        post[col[rows & treated]] = True
        pre[col[rows & ~treated]] = True
        w[j] = post.sum() / n1
        with warnings.catch_warnings():  # a control without rows there: NaN, dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            eta[:, j] = np.nanmean(r[:, post], axis=1) - np.nanmean(r[:, pre], axis=1)
    usable = np.isfinite(eta).all(axis=1)  # controls observed in every treated unit's pre and post
    eta = eta[usable]
    n_ctrl = eta.shape[0]
    if n_ctrl < len(ever):
        raise ValueError(
            f"{n_ctrl} never-treated units with residuals before and after every treated unit's "
            f"start, fewer than the {len(ever)} treated units: Conley-Taber needs more controls"
        )
    rng = np.random.default_rng(seed)
    draws = int(draws)
    # J distinct controls per draw: the first J of a random permutation (argsort of uniforms)
    pick = np.argsort(rng.random((draws, n_ctrl)), axis=1)[:, : len(ever)]
    null = eta[pick, np.arange(len(ever))[None, :]] @ w
    lo_q, hi_q = np.quantile(null, [alpha / 2, 1 - alpha / 2])
    extreme = np.abs(null) >= abs(att) * (1 - 1e-10)
    return ConleyTaberResult(
        estimate=att,
        conf_int=(att - float(hi_q), att - float(lo_q)),
        p_value=float((1 + extreme.sum()) / (1 + draws)),
        draws=draws,
        n_treated_units=len(ever),
        n_control_units=n_ctrl,
        alpha=alpha,
        null_draws=null,
        unit_weights=pd.Series(w, index=ever, name="weight"),
    )
