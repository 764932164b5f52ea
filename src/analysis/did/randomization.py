"""Randomization (placebo / permutation) inference for any staggered-adoption DiD estimator.

The treatment timing -- the cohort vector (first treated year per unit, 0 = never) -- is permuted
across units, keeping the cohort sizes (optionally within strata such as provinces, or region x
coast cells), and the statistic is recomputed for each placebo assignment. The p-value is
``(1 + #{|s_draw| >= |s_actual|}) / (1 + draws)`` (Fisher 1935; Young 2019, "Channeling Fisher",
QJE 134(2); MacKinnon & Webb 2020, J. Econometrics 218(2), for DiD with few treated clusters).
Why hand-written: no Python package permutes staggered adoption dates for these estimators.

``permutation_test`` takes any staggered-adoption estimator (BJS imputation,
Callaway-Sant'Anna, ...): the permutations of the cohort vector (within strata), a user
statistic ``stat(data) -> (estimate, se)`` re-evaluated on each placebo data set, and by default
the *studentized* statistic ``t = estimate / se``. Studentizing makes the test asymptotically valid
for the weak null ``ATT = 0`` as well as exact for the sharp null of no effect for any unit (Chung &
Romano 2013, Ann. Statist. 41(2); Wu & Ding 2021, JASA 116(536)), and it is the version MacKinnon &
Webb (2020) recommend over the coefficient when treated clusters are few. ``bjs_statistic`` and
``cs_statistic`` build the statistic for the project's BJS and CS estimators.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import delayed

from analysis.did.results import tidy_frame
from analysis.parallel import as_backend, run_tasks
from analysis.pvalues import at_floor, format_p, resampling_floor

__all__ = [
    "BJSStatistic",
    "CSStatistic",
    "PermutationTestResult",
    "baseline_strata",
    "bjs_statistic",
    "cs_statistic",
    "permutation_p_value",
    "permutation_test",
    "permute_cohorts",
]


class _PlaceboDraws:
    """What a randomization result derives from its p-value, draws and permutations."""

    @property
    def at_floor(self) -> bool:
        """True when the p-value is the smallest attainable, ``1 / (draws + 1)``: report it as a
        bound (see ``p_value_text``), not as an exact value."""
        return bool(at_floor(self.p_value, self.n_draws))

    @property
    def p_value_floor(self) -> float:
        return resampling_floor(self.n_draws)

    @property
    def p_value_text(self) -> str:
        """``"p = 0.0340"`` or, at the floor, ``"p ≤ 0.001"`` (:mod:`analysis.pvalues`)."""
        return format_p(self.p_value, self.n_draws, space=" ")

    def placebo_cohorts(self, b: int) -> pd.Series:
        """Cohort (first treatment period, 0 = never) per unit in placebo draw ``b``."""
        return pd.Series(
            self.cohort_values[self.placebo_index[b]], index=self.unit_ids, name="placebo_cohort"
        )


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


def baseline_strata(
    data: pd.DataFrame,
    idname: str,
    tname: str,
    column: str,
    before: int,
    bins: int = 5,
) -> np.ndarray:
    """Per-row stratum codes for :func:`permutation_test` ``within``: quantile bins (``bins``,
    default quintiles) of each unit's mean of ``column`` over the periods before ``before`` (the
    first treatment period: the baseline the targeting could have used, untouched by any
    effect). Units without a baseline value form one stratum of their own (code -1).

    Why: when treatment was targeted on a baseline characteristic (bigger, richer cities first),
    permuting dates across all units, or within provinces, compares the actual assignment with
    ones the programme would not have made. Permuting within baseline strata makes units
    exchangeable only given the stratum: still an assumption (a sensitivity check), unless the
    assignment really was random within those strata."""
    base = data.loc[data[tname] < before].groupby(idname)[column].mean()
    units = pd.Index(data[idname].unique())
    base = base.reindex(units)
    ok = base.notna()
    codes = pd.Series(-1, index=units)
    if ok.sum() >= bins:
        codes[ok] = pd.qcut(base[ok].rank(method="first"), bins, labels=False)
    return data[idname].map(codes).to_numpy(int)


# ------------------------------------------------------------------ p-value helpers (shared)
def permutation_p_value(actual: float, draws: np.ndarray) -> float:
    """Two-sided ``(1 + #{|draw| >= |actual|}) / (1 + B)`` over the finite draws.

    A relative tolerance of 1e-10 makes a placebo draw that reproduces the actual assignment count
    as a tie (it is one, up to rounding).
    """
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    extreme = np.abs(draws) >= abs(actual) * (1 - 1e-10)
    return float((1 + extreme.sum()) / (1 + len(draws)))


# ------------------------------------------------------------------ general (any estimator)
@dataclass
class PermutationTestResult(_PlaceboDraws):
    """Actual statistic, its placebo distribution and the randomization p-value.

    ``statistic`` is ``"t"`` (estimate / se, the default) or ``"estimate"``; ``draws`` holds the
    placebo values of that statistic (NaN where the estimator returned a non-finite value; those
    draws are left out of the p-value and counted in ``n_failed``).
    """

    estimate: float
    std_error: float
    statistic: str
    actual: float  # the observed statistic (t or estimate)
    draws: np.ndarray
    draws_estimate: np.ndarray
    draws_se: np.ndarray
    p_value: float
    n_failed: int
    within: str | None
    seed: int | None
    label: str = "ATT"
    unit_ids: np.ndarray = field(default=None, repr=False)
    cohort_values: np.ndarray = field(default=None, repr=False)
    placebo_index: np.ndarray = field(default=None, repr=False)

    @property
    def n_draws(self) -> int:
        """Number of placebo draws used in the p-value (finite statistic)."""
        return int(np.isfinite(self.draws).sum())

    @property
    def t_stat(self) -> float:
        return self.estimate / self.std_error

    def tidy(self) -> pd.DataFrame:
        """One row: the actual estimate and its (analytic) s.e.; ``p_value`` is the RI p-value.

        No confidence interval (NaN): a permutation test of the null gives none without a model
        for the effects under alternatives.
        """
        out = tidy_frame([self.label], [self.estimate], [self.std_error])
        out["statistic"] = self.actual
        out["p_value"] = self.p_value
        out[["conf_low", "conf_high"]] = np.nan
        return out

    def summary(self) -> str:
        strata = f" within {self.within}" if self.within else ""
        failed = f" ({self.n_failed} failed draws left out)" if self.n_failed else ""
        kind = "studentized (t = estimate / se)" if self.statistic == "t" else "unstudentized"
        return (
            f"Randomization inference, {kind}, for {self.label}\n"
            f"  draws {self.n_draws}{strata}{failed}\n"
            f"  estimate {self.estimate:.6g}, s.e. {self.std_error:.4g}, "
            f"statistic {self.actual:.4g}; placebo sd {np.nanstd(self.draws, ddof=1):.4g}\n"
            f"  two-sided RI {self.p_value_text}"
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None, bins: int = 40):
        """Histogram of the placebo statistics with the actual one as a line."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        d = self.draws[np.isfinite(self.draws)]
        ax.hist(d, bins=bins, density=True, color="0.75", edgecolor="white", label="placebo")
        ax.axvline(self.actual, color="C3", lw=2, label=f"actual = {self.actual:.3g}")
        name = "t statistic" if self.statistic == "t" else "estimate"
        ax.set_xlabel(f"{name} of {self.label}")
        ax.set_ylabel("density")
        ax.set_title(f"Randomization inference ({self.p_value_text}, {self.n_draws} draws)")
        ax.legend(frameon=False)
        return ax


def _unit_layout(data: pd.DataFrame, idname: str, gname: str, within: str | None):
    """Per-unit cohort index and strata codes, in sorted-unit order (so that a seed fixes the
    permutations whatever the row order of ``data``)."""
    if data[idname].isna().any():
        raise ValueError(f"missing values in {idname}")
    row_unit, unit_ids = pd.factorize(data[idname], sort=True)
    g = data[gname].fillna(0)
    by_unit = pd.DataFrame({"u": row_unit, "g": g.to_numpy()}).groupby("u", sort=True)["g"]
    if (by_unit.nunique() > 1).any():
        raise ValueError(f"{gname} must be constant within {idname}")
    cohort_u = by_unit.first().to_numpy()
    strata = None
    if within:
        if data[within].isna().any():
            raise ValueError(f"missing values in the strata column {within}")
        s = pd.DataFrame({"u": row_unit, "s": data[within].to_numpy()}).groupby("u", sort=True)
        if (s["s"].nunique() > 1).any():
            raise ValueError(f"{within} must be constant within {idname}")
        strata = pd.factorize(s["s"].first())[0]
    cvals, cidx = np.unique(cohort_u, return_inverse=True)
    return row_unit, np.asarray(unit_ids), cvals, cidx, strata


def _evaluate(data, stat, gname, row_unit, cvals, idx_rows) -> np.ndarray:
    """(k, 2) array of (estimate, se) for k placebo assignments (rows of unit cohort indices)."""
    out = np.full((len(idx_rows), 2), np.nan)
    for k, idx in enumerate(idx_rows):
        placebo = data.assign(**{gname: cvals[idx][row_unit]})
        est, se = stat(placebo)
        out[k] = float(est), float(np.nan if se is None else se)
    return out


def permutation_test(
    data: pd.DataFrame,
    stat: Callable[[pd.DataFrame], tuple[float, float]],
    idname: str,
    gname: str,
    within: str | None = None,
    draws: int = 999,
    seed: int | None = None,
    statistic: str = "t",
    n_jobs: int | None = 1,
    backend=None,
    chunk_size: int = 20,
    progress: bool = True,
    label: str = "ATT",
) -> PermutationTestResult:
    """Randomization inference for any staggered-adoption estimator by permuting adoption dates.

    The per-unit cohort vector (``gname``: first treated period, 0/NaN = never treated, written
    back as 0) is permuted across units keeping the cohort sizes -- within the strata of
    ``within`` if given (e.g. province, or a region x coastal cell), so that the test compares the
    actual assignment only with assignments that the design could have produced. For each placebo
    data set ``stat(placebo) -> (estimate, se)`` is evaluated; the statistic is ``estimate / se``
    (``statistic="t"``, studentized: valid for the weak null ATT = 0 asymptotically, exact for the
    sharp null) or the estimate (``"estimate"``: exact for the sharp null only). p-value:
    ``(1 + #{|s_b| >= |s|}) / (1 + B)`` over the placebo draws with a finite statistic.

    Only ``gname`` is replaced in the placebo data sets: the statistic must derive treatment
    from it (a stored treatment dummy would keep the actual assignment).

    Parameters
    ----------
    stat : callable on a data frame shaped like ``data``; see :func:`bjs_statistic` and
        :func:`cs_statistic`. Must be deterministic. With ``n_jobs > 1`` and the default
        process backend it must be picklable (module-level function or the classes below).
    within : unit-level strata column; permutations never move a cohort across strata.
    draws, seed : number of placebo assignments and the seed of ``numpy.random.default_rng``;
        the permutations are drawn up front, so results depend on ``seed`` only (not ``n_jobs``).
    n_jobs, backend, chunk_size : chunks of ``chunk_size`` draws run by
        :func:`analysis.parallel.run_tasks` on ``backend`` (params.yaml ``parallel``: local
        processes, ``n_jobs`` of them, by default; ``n_jobs=None``: the backend's own number of
        workers; or a Dask cluster); the draws do not depend on it.
    progress : progress bar over the chunks.
    """
    if statistic not in ("t", "estimate"):
        raise ValueError("statistic must be 't' or 'estimate'")
    if draws < 1:
        raise ValueError("draws must be >= 1")
    row_unit, unit_ids, cvals, cidx, strata = _unit_layout(data, idname, gname, within)
    if len(cvals) < 2:
        raise ValueError(f"{gname} takes a single value: nothing to permute")

    def value(res: np.ndarray) -> np.ndarray:
        if statistic == "estimate":
            return res[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(res[:, 1] > 0, res[:, 0] / res[:, 1], np.nan)

    actual_pair = _evaluate(data, stat, gname, row_unit, cvals, cidx[None, :])
    actual = float(value(actual_pair)[0])
    if not np.isfinite(actual):
        raise ValueError(f"the statistic is not finite on the actual data: {actual_pair[0]}")

    rng = np.random.default_rng(seed)
    index = permute_cohorts(cidx, strata, draws, rng)
    chunks = [index[i : i + chunk_size] for i in range(0, draws, chunk_size)]
    jobs = [delayed(_evaluate)(data, stat, gname, row_unit, cvals, c) for c in chunks]
    desc = f"placebo draws ({chunk_size} per task)"
    parts = run_tasks(jobs, as_backend(backend, n_jobs=n_jobs), progress=progress, desc=desc)
    res = np.concatenate(parts)
    vals = value(res)
    n_failed = int((~np.isfinite(vals)).sum())
    if n_failed:
        warnings.warn(
            f"{n_failed} of {draws} placebo draws gave a non-finite statistic; left out",
            stacklevel=2,
        )
    return PermutationTestResult(
        estimate=float(actual_pair[0, 0]),
        std_error=float(actual_pair[0, 1]),
        statistic=statistic,
        actual=actual,
        draws=vals,
        draws_estimate=res[:, 0],
        draws_se=res[:, 1],
        p_value=permutation_p_value(actual, vals),
        n_failed=n_failed,
        within=within,
        seed=seed,
        label=label,
        unit_ids=unit_ids,
        cohort_values=cvals,
        placebo_index=index,
    )


# ------------------------------------------------------------------ statistics for the estimators
@dataclass(frozen=True)
class BJSStatistic:
    """``data -> (overall ATT, conservative clustered s.e.)`` of the BJS imputation estimator
    (:func:`analysis.did.imputation.imputation` with ``horizons=False``). Picklable."""

    yname: str
    tname: str
    idname: str
    gname: str
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    leaveout: bool = False
    avg_effects_by: tuple[str, ...] = ("cohort", "horizon")

    def __call__(self, data: pd.DataFrame) -> tuple[float, float]:
        from analysis.did.imputation import imputation

        with warnings.catch_warnings():
            # placebo assignments can leave treated cells without untreated support; the
            # estimator drops them with a warning, which would flood the output 1,000 times
            warnings.simplefilter("ignore")
            r = imputation(
                data,
                self.yname,
                self.tname,
                self.idname,
                self.gname,
                covariates=list(self.covariates),
                horizons=False,
                cluster=self.cluster,
                leaveout=self.leaveout,
                avg_effects_by=self.avg_effects_by,
            )
        return float(r.estimates[0]), float(r.std_errors[0])


def bjs_statistic(
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    leaveout: bool = False,
    avg_effects_by: Sequence[str] = ("cohort", "horizon"),
) -> BJSStatistic:
    """Statistic for :func:`permutation_test`: the BJS overall ATT and its s.e. (variance cells
    ``avg_effects_by``, leave-out means with ``leaveout``)."""
    return BJSStatistic(
        yname, tname, idname, gname, tuple(covariates or ()), cluster, leaveout,
        tuple(avg_effects_by),
    )  # fmt: skip


@dataclass(frozen=True)
class CSStatistic:
    """``data -> (aggregated ATT, analytic s.e.)`` of Callaway & Sant'Anna
    (:func:`analysis.did.callaway_santanna.att_gt` then ``.aggregate(aggregation)``; the overall
    ATT of that aggregation). ``options`` are passed to ``att_gt`` (``xformla``,
    ``control_group``, ``est_method``, ``base_period``, ``clustervars``, ...). Picklable."""

    yname: str
    tname: str
    idname: str
    gname: str
    aggregation: str = "simple"
    options: tuple = ()

    def __call__(self, data: pd.DataFrame) -> tuple[float, float]:
        from analysis.did.callaway_santanna import att_gt

        opts = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options}
        opts.setdefault("progress", False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(data, self.yname, self.tname, self.idname, self.gname, **opts)
            agg = gt.aggregate(self.aggregation, na_rm=True)
        return float(agg.overall_att), float(agg.overall_se)


def cs_statistic(
    yname: str, tname: str, idname: str, gname: str, aggregation: str = "simple", **att_gt_options
) -> CSStatistic:
    """Statistic for :func:`permutation_test`: a Callaway-Sant'Anna aggregated ATT and its s.e.

    ``att_gt_options`` go to ``att_gt`` (e.g. ``xformla=["x"]``, ``control_group="notyettreated"``);
    keep ``bstrap=False`` (the default) so that the s.e. is analytic and deterministic.
    """
    opts = tuple(
        sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in att_gt_options.items())
    )
    return CSStatistic(yname, tname, idname, gname, aggregation, opts)
