"""Randomization (placebo / permutation) inference for a staggered TWFE DiD coefficient.

The treatment timing -- the cohort vector (first treated year per unit, 0 = never) -- is permuted
across units, keeping the cohort sizes (optionally within strata such as provinces), and the TWFE
coefficient of ``D_it = 1{t >= g_i}`` is recomputed for each placebo assignment. The p-value is
``(1 + #{|b_draw| >= |b_actual|}) / (1 + draws)`` (Fisher 1935; Young 2019, "Channeling Fisher",
QJE 134(2); MacKinnon & Webb 2020, J. Econometrics 218(2), for DiD with few treated clusters).

Why hand-written: no Python package does fast permutation inference for TWFE. A naive loop refits
PanelOLS per draw; here the unit/time effects and controls are partialled out of ``y`` once
(Frisch-Waugh-Lovell) and each draw only needs two inner products:

    b = D' M_W y / D' M_W D,

with ``D' M_W y`` a gather from a (units x cohorts) table of residual sums. For balanced panels the
denominator has a closed form (two-way demeaning of a 0/1 matrix); for unbalanced panels
``D' M_W D = D' M_unit D - ||B' D||^2`` with ``B`` an orthonormal basis of the within-unit demeaned
year dummies and controls, again a gather per draw (exact). Only panels with very many periods fall
back to demeaning the placebo ``D`` columns in batches by alternating projections (pyfixest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from analysis.did.results import tidy_frame
from analysis.did.fe import FEProjector, _group_sum, encode_panel, treatment_from_cohort

__all__ = ["RandomizationResult", "permute_cohorts", "randomization_inference"]


@dataclass
class RandomizationResult:
    """Actual TWFE estimate, placebo distribution and randomization p-value."""

    term: str
    estimate: float
    draws: np.ndarray
    p_value: float
    n_obs: int
    n_units: int
    within: str | None
    seed: int | None
    unit_ids: np.ndarray = field(repr=False)
    cohort_values: np.ndarray = field(repr=False)
    placebo_index: np.ndarray = field(repr=False)

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    def placebo_cohorts(self, b: int) -> pd.Series:
        """Cohort (first treatment year, 0 = never) per unit in placebo draw ``b``."""
        return pd.Series(
            self.cohort_values[self.placebo_index[b]], index=self.unit_ids, name="placebo_cohort"
        )

    def tidy(self) -> pd.DataFrame:
        """One row; ``std_error`` is the s.d. of the placebo estimates, ``p_value`` the RI p-value.

        No confidence interval is reported (NaN): the sharp-null permutation test does not give one.
        """
        out = tidy_frame([self.term], [self.estimate], [np.std(self.draws, ddof=1)])
        out["p_value"] = self.p_value
        out[["conf_low", "conf_high"]] = np.nan
        return out

    def summary(self) -> str:
        strata = f" within {self.within}" if self.within else ""
        return (
            f"Randomization inference for TWFE coefficient on {self.term}\n"
            f"  units {self.n_units}, obs {self.n_obs}, draws {self.n_draws}{strata}\n"
            f"  estimate {self.estimate:.6g}; placebo mean {self.draws.mean():.4g}, "
            f"sd {self.draws.std(ddof=1):.4g}\n"
            f"  two-sided RI p-value {self.p_value:.4f}"
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None, bins: int = 40, kde: bool = True):
        """Histogram (and KDE) of the placebo estimates with the actual estimate as a line."""
        import matplotlib.pyplot as plt
        from scipy.stats import gaussian_kde

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.hist(
            self.draws,
            bins=bins,
            density=True,
            color="0.75",
            edgecolor="white",
            label="placebo estimates",
        )
        if kde and np.ptp(self.draws) > 0:
            grid = np.linspace(self.draws.min(), self.draws.max(), 256)
            ax.plot(grid, gaussian_kde(self.draws)(grid), color="0.3", lw=1.2)
        ax.axvline(self.estimate, color="C3", lw=2, label=f"actual = {self.estimate:.3g}")
        ax.set_xlabel(f"TWFE coefficient on {self.term}")
        ax.set_ylabel("density")
        ax.set_title(f"Randomization inference (p = {self.p_value:.3f}, {self.n_draws} draws)")
        ax.legend(frameon=False)
        return ax


def permute_cohorts(
    cohort_index: np.ndarray, strata: np.ndarray | None, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``draws`` random permutations of the per-unit cohort index, within strata if given.

    Vectorised: sorting ``stratum + U(0,1)`` keys gives a uniformly random order of the units that
    keeps the strata blocks in place, so every unit receives a cohort from its own stratum.
    """
    cohort_index = np.asarray(cohort_index)
    n = len(cohort_index)
    s = np.zeros(n) if strata is None else np.asarray(strata, dtype=float)
    base = cohort_index[np.argsort(s, kind="stable")]
    keys = rng.random((draws, n)) + s
    order = np.argsort(keys, axis=1)
    out = np.empty((draws, n), dtype=np.int32)
    np.put_along_axis(out, order, np.broadcast_to(base, (draws, n)).astype(np.int32), axis=1)
    return out


class _PlaceboTWFE:
    """Precomputed pieces so that ``b(assignment)`` is a few gathers per draw."""

    def __init__(
        self,
        proj: FEProjector,
        y_res: np.ndarray,
        time_values: np.ndarray,
        cohort_values: np.ndarray,
    ):
        self.proj = proj
        self.cv = cohort_values
        self.t = time_values
        # obs x cohort treatment patterns: D_obs[:, j] = 1{t >= cohort_j, cohort_j > 0}
        dobs = treatment_from_cohort(cohort_values[None, :], time_values[:, None])
        self.dobs = dobs
        n_u = proj.n_units
        # numerator table: C[i, j] = sum_{obs of unit i} D_j * M_W y
        self.C = _group_sum(proj.unit, dobs * y_res[:, None], n_u)
        self.L = _group_sum(proj.unit, dobs, n_u)  # treated periods per (unit, cohort)
        self.Q = None
        if proj.balanced:
            tpat = np.zeros((len(cohort_values), proj.n_times))
            tpat[:, proj.time] = dobs.T  # balanced: cohort pattern over time is unit-invariant
            self.P = tpat
            q = proj.control_basis
        else:
            q = proj.within_basis
        if q is not None:  # Q[i, j, :] = sum_{obs of unit i} D_j * q
            k = q.shape[1]
            prod = (dobs[:, :, None] * q[:, None, :]).reshape(len(dobs), -1)
            self.Q = _group_sum(proj.unit, prod, n_u).reshape(n_u, len(cohort_values), k)

    def coefs(self, idx: np.ndarray) -> np.ndarray:
        """TWFE coefficients for a (draws, n_units) array of cohort indices."""
        idx = np.atleast_2d(idx)
        rows = np.arange(idx.shape[1])[None, :]
        num = self.C[rows, idx].sum(axis=1)
        p = self.proj
        if p.balanced:
            # ||M_FE D||^2 = sum D - sum_i r_i^2 / T - sum_t c_t^2 / n + (sum D)^2 / (nT)
            r = self.L[rows, idx]
            J, b = len(self.cv), idx.shape[0]
            flat = (idx + J * np.arange(b)[:, None]).ravel()
            counts = np.bincount(flat, minlength=b * J).reshape(b, J)
            c = counts @ self.P
            tot = r.sum(axis=1)
            den = (
                tot
                - (r**2).sum(axis=1) / p.n_times
                - (c**2).sum(axis=1) / p.n_units
                + tot**2 / (p.n_units * p.n_times)
            )
            if self.Q is not None:
                qd = self.Q[rows, idx].sum(axis=1)  # (draws, k) = q' D
                den = den - (qd**2).sum(axis=1)
        elif self.Q is not None:
            # unbalanced, exact: D'M_W D = D'M_unit D - ||B'D||^2, B = basis of M_unit[time, X]
            r = self.L[rows, idx]
            den = (r - r**2 / p._unit_count[None, :]).sum(axis=1)
            qd = self.Q[rows, idx].sum(axis=1)
            den = den - (qd**2).sum(axis=1)
        else:
            # many periods: demean the placebo D columns by alternating projections, in one batch
            d = self.dobs[np.arange(p.n)[:, None], idx[:, p.unit].T]  # (N, draws)
            dres = p.residualize(d)
            den = (dres * d).sum(axis=0)
        return num / den


def randomization_inference(
    data: pd.DataFrame,
    yname: str,
    idname: str,
    tname: str,
    gname: str,
    controls: list[str] | None = None,
    within: str | None = None,
    draws: int = 1000,
    seed: int | None = None,
    progress: bool = True,
    n_jobs: int = 1,
    chunk_size: int = 500,
) -> RandomizationResult:
    """Permutation test of the TWFE DiD coefficient with placebo treatment timing.

    Model: ``y_it = a_i + l_t + b * D_it + X_it'c + e_it`` with ``D_it = 1{g_i > 0, t >= g_i}``.

    Parameters
    ----------
    data : long panel; ``gname`` is the first treatment period of each unit (0 = never treated)
        and must be constant within unit.
    controls : optional time-varying control columns (partialled out with the fixed effects).
    within : optional unit-level column (e.g. province); cohorts are permuted only within strata.
    draws : number of placebo assignments.
    seed : seed for ``numpy.random.default_rng``; the draws do not depend on ``n_jobs``.
    progress : show a tqdm bar over chunks of draws.
    n_jobs : joblib workers (threads) over chunks; mainly useful for unbalanced panels.

    References
    ----------
    Fisher (1935); Young, A. (2019) "Channeling Fisher", QJE 134(2); MacKinnon & Webb (2020)
    "Randomization inference for difference-in-differences with few treated clusters", J. Econometrics.
    """
    controls = list(controls or [])
    extra = [gname, *controls] + ([within] if within else [])
    df, unit, time = encode_panel(data, idname, tname, [yname, *extra])
    by_unit = df.groupby(unit, sort=True)
    cohort_u = by_unit[gname].first().to_numpy()
    if (by_unit[gname].nunique() > 1).any():
        raise ValueError(f"{gname} must be constant within {idname}")
    strata = None
    if within:
        if (by_unit[within].nunique() > 1).any():
            raise ValueError(f"{within} must be constant within {idname}")
        strata = pd.factorize(by_unit[within].first())[0]

    proj = FEProjector(unit, time, df[controls].to_numpy(float) if controls else None)
    y_res = proj.residualize(df[yname].to_numpy(float))
    cvals, cidx = np.unique(cohort_u, return_inverse=True)
    engine = _PlaceboTWFE(proj, y_res, df[tname].to_numpy(float), cvals.astype(float))

    actual = float(engine.coefs(cidx[None, :])[0])
    if not np.isfinite(actual):
        raise ValueError("treatment is collinear with the fixed effects (no variation)")

    rng = np.random.default_rng(seed)
    index = permute_cohorts(cidx, strata, draws, rng)
    chunks = [index[i : i + chunk_size] for i in range(0, draws, chunk_size)]
    runner = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    out = runner(delayed(engine.coefs)(c) for c in chunks)
    est = np.concatenate(
        list(tqdm(out, total=len(chunks), disable=not progress, desc="placebo draws", unit="chunk"))
    )
    # relative tolerance so that a permutation equal to the actual assignment counts as a tie
    extreme = np.abs(est) >= np.abs(actual) * (1 - 1e-10)
    pval = (1 + extreme.sum()) / (1 + draws)
    return RandomizationResult(
        term=f"D({gname})",
        estimate=actual,
        draws=est,
        p_value=float(pval),
        n_obs=proj.n,
        n_units=proj.n_units,
        within=within,
        seed=seed,
        unit_ids=by_unit[idname].first().to_numpy(),
        cohort_values=cvals,
        placebo_index=index,
    )
