"""Spatial spillovers by exposure rings (Butts 2023) with the imputation estimator (BJS 2024).

Butts, K. (2023), "Difference-in-differences estimation with spatial spillovers",
arXiv:2105.03737 (v3; first version 2021). Borusyak, K., Jaravel, X. and Spiess, J. (2024),
"Revisiting event-study designs: robust and efficient estimation", *REStud* 91(6), 3253-3285.

When a treatment spills over to nearby units (trade diverted from neighbours, or attracted to
them), the untreated neighbours are not valid controls: their outcomes move with the treatment.
A comparison that uses them is biased by minus their spillover (a negative spillover on the
controls inflates the estimated direct effect), and the spillover itself goes unmeasured. Butts's
remedy: define exposure by distance to the nearest treated unit, in rings, and estimate the
direct effect against units outside every ring, jointly with one spillover effect per ring.

Exposure (staggered, absorbing): for unit i in period t, ``d_it`` is the great-circle distance
(:func:`analysis.did.conley.haversine_km`) to the nearest OTHER unit treated by t
(``0 < g_j <= t``; infinite before the first adoption). ``rings = (0, r_1, ..., r_K)`` defines the
bands ``[r_{k-1}, r_k)``; an untreated cell is *exposed* in ring k when ``d_it`` lies in band k.
``d_it`` never rises (treatment is absorbing), so a unit once exposed stays exposed until it is
treated itself; its *exposure onset* ``x_i`` is the first such period.

Estimator: the BJS imputation logic with the clean cells as controls (Butts's
``Omega_0 = {D_it = 0, S_it = 0}``):

1. fit ``Y_it = a_i + l_t (+ X_it'b)`` on the cells that are neither treated nor exposed (never-
   exposed and not-yet-treated, or not-yet-exposed): :func:`analysis.did.subgroup.imputation_fit`
   with the pseudo-cohort ``min(g_i, x_i)``, so that one first stage serves both kinds of cells;
2. impute ``Y_it(0)`` and ``tau_it = Y_it - Y_it(0)_hat`` on every treated or exposed cell;
3. average: the *direct effect* over treated cells (the effect on the treated relative to no
   treatment anywhere within the outer ring: any spillover among treated units is part of it,
   as in Butts's ``D_it`` coefficient), the *spillover effect of ring k* over exposed cells in ring
   k, an event study of the direct effect by ``t - g`` and of the spillover by time since first
   exposure ``t - x`` (pooled over rings; by ring on request).

Variance: BJS's conservative clustered variance of a linear estimand (cluster argument, default
the unit), computed by :meth:`analysis.did.subgroup.ImputationFit.linear` (imputation weights from
one sparse factorisation, cluster sums of ``v e~``); the auxiliary model's ``tau_bar`` is the mean
of ``tau`` within kind (direct / ring k) x cohort (``g``, or ``x`` for exposed cells) x time since
onset, the analogue of BJS's cohort x horizon (``leaveout=True``: the leave-own-cluster-out means
of BJS App. A.6, falling back to kind x horizon, then kind). Every estimand weights its cells
equally within such a cell, so one ``tau_bar`` serves all estimands exactly.

The naive comparison (the same imputation estimator with the exposed cells among the controls)
is reported alongside: its gap to the direct effect is the bias from ignoring spillovers.

Identification needs clean cells in every period: units beyond the outer ring (far-away units,
Butts's Assumption 5). Treated or exposed cells of a unit or period without clean cells cannot be
imputed and are dropped with a warning (BJS's sample rule). General: no paths, no project columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from analysis.did.conley import EARTH_RADIUS_KM, distance_matrix
from analysis.did.results import EVENT_STUDY_COLUMNS, tidy_frame
from analysis.did.subgroup import imputation_fit

__all__ = ["SpilloverResult", "exposure_rings", "nearest_treated_distance", "spillover_imputation"]

DIRECT = "direct"


def ring_labels(rings: Sequence[float]) -> list[str]:
    """``ring::[0,100)``-style labels of the bands of ``rings``."""
    return [f"ring::[{lo:g},{hi:g})" for lo, hi in pairwise(rings)]


def _check_rings(rings: Sequence[float]) -> np.ndarray:
    r = np.asarray(rings, dtype=float)
    if r.ndim != 1 or len(r) < 2 or r[0] != 0 or not np.isfinite(r).all():
        raise ValueError("rings: finite breakpoints (0, r_1, ..., r_K) in km, starting at 0")
    if (np.diff(r) <= 0).any():
        raise ValueError("rings must be strictly increasing")
    return r


def nearest_treated_distance(
    dist: np.ndarray, cohort: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    """(n_units, n_periods) distance from each unit to the nearest other unit treated by each
    period (``0 < cohort_j <= t``); ``inf`` when none is. ``dist``: (n_units, n_units) km."""
    cohort = np.asarray(cohort, dtype=float)
    d = np.array(dist, dtype=float)
    np.fill_diagonal(d, np.inf)
    starts = np.unique(cohort[cohort > 0])
    out = np.full((len(cohort), len(periods)), np.inf)
    if not len(starts):
        return out
    # nearest unit of each cohort, then the running minimum over cohorts in adoption order
    by_cohort = np.column_stack([d[:, cohort == c].min(axis=1) for c in starts])
    running = np.minimum.accumulate(by_cohort, axis=1)
    last = np.searchsorted(starts, np.asarray(periods, dtype=float), side="right") - 1
    has = last >= 0
    out[:, has] = running[:, last[has]]
    return out


def exposure_rings(
    data: pd.DataFrame,
    tname: str,
    idname: str,
    gname: str,
    lat: str,
    lon: str,
    rings: Sequence[float] = (0.0, 100.0, 200.0),
    earth_radius_km: float = EARTH_RADIUS_KM,
) -> pd.DataFrame:
    """Exposure of every row of a panel: ``distance_km`` to the nearest other unit treated by
    then, ``status`` (``"treated"``, ``"ring::[lo,hi)"`` for an exposed untreated cell,
    ``"control"``), ``ring`` (1..K, 0 otherwise), ``exposure_onset`` (the unit's first exposed
    period, NaN if never exposed before its own treatment) and the pseudo-cohort
    ``onset = min(g, exposure_onset)`` (0 = never treated nor exposed), in the rows' order."""
    r = _check_rings(rings)
    g = data[gname].fillna(0).to_numpy(dtype=float)
    ids, unit = np.unique(data[idname].to_numpy(), return_inverse=True)
    n_units = len(ids)
    coords = []
    for c in (lat, lon):
        v = data[c].to_numpy(dtype=float)
        first = np.full(n_units, np.nan)
        first[unit[::-1]] = v[::-1]
        if not np.array_equal(first[unit], v):
            raise ValueError(f"{c} must be constant within each unit (and not missing)")
        coords.append(first)
    ug = np.zeros(n_units)
    ug[unit] = g
    if not np.array_equal(ug[unit], g):
        raise ValueError(f"{gname} must be constant within each unit")
    periods, time = np.unique(data[tname].to_numpy(dtype=float), return_inverse=True)
    dist = distance_matrix(coords[0], coords[1], earth_radius_km)
    grid = nearest_treated_distance(dist, ug, periods)  # (unit, period), every period
    # first exposed period per unit, on the full grid (a missing row does not delay it);
    # exposure is absorbing until the unit's own treatment
    untreated = (ug[:, None] == 0) | (periods[None, :] < ug[:, None])
    exposed_grid = untreated & (grid < r[-1])
    first = np.where(exposed_grid.any(axis=1), periods[exposed_grid.argmax(axis=1)], np.inf)
    d, t = grid[unit, time], periods[time]
    treated = (g > 0) & (t >= g)
    ring = np.where(treated | (d >= r[-1]), 0, np.searchsorted(r, d, side="right"))
    x = first[unit]
    pseudo = np.minimum(np.where(g > 0, g, np.inf), x)
    labels = np.array(["control", *ring_labels(r)], dtype=object)
    status = np.where(treated, "treated", labels[ring])
    return pd.DataFrame(
        {
            idname: data[idname].to_numpy(),
            tname: data[tname].to_numpy(),
            "distance_km": d,
            "status": status,
            "ring": ring,
            "exposure_onset": np.where(np.isfinite(x), x, np.nan),
            "onset": np.where(np.isfinite(pseudo), pseudo, 0.0),
        },
        index=data.index,
    )


@dataclass
class SpilloverResult:
    """Direct and ring spillover effects (and their event studies) with their joint BJS
    conservative covariance; ``naive_att``/``naive_se``: the imputation estimator that ignores
    spillovers (exposed cells among the controls); ``exposure``: :func:`exposure_rings` of the
    data; ``n_cells``: cells averaged per term."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    n_cells: np.ndarray
    rings: tuple[float, ...]
    n_obs: int
    n_control: int
    n_clusters: int
    naive_att: float
    naive_se: float
    exposure: pd.DataFrame = field(repr=False)
    alpha: float = 0.05

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.vcov), 0.0, None))

    def _get(self, term: str) -> tuple[float, float]:
        i = self.terms.index(term)
        return float(self.estimates[i]), float(self.std_errors[i])

    @property
    def direct(self) -> float:
        return self._get(DIRECT)[0]

    @property
    def direct_se(self) -> float:
        return self._get(DIRECT)[1]

    @property
    def spillover(self) -> pd.Series:
        """Spillover effect by ring (index: the ring labels)."""
        labels = ring_labels(self.rings)
        return pd.Series([self._get(t)[0] for t in labels], index=labels)

    @property
    def spillover_se(self) -> pd.Series:
        labels = ring_labels(self.rings)
        return pd.Series([self._get(t)[1] for t in labels], index=labels)

    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        a = self.alpha if alpha is None else alpha
        out = tidy_frame(self.terms, self.estimates, self.std_errors, alpha=a)
        out["n_cells"] = self.n_cells
        return out

    def event_study(self, kind: str = "spillover") -> pd.DataFrame:
        """Event-study frame (``EVENT_STUDY_COLUMNS``) of ``"direct"`` (by ``t - g``),
        ``"spillover"`` (by time since first exposure, rings pooled) or a ring label (when
        estimated with ``by_ring_event``)."""
        prefix = f"{kind}::e"
        rows = [i for i, t in enumerate(self.terms) if t.startswith(prefix)]
        tidy = self.tidy().iloc[rows]
        event = [int(t[len(prefix) :]) for t in tidy["term"]]
        frame = tidy.assign(event_time=event)[EVENT_STUDY_COLUMNS]
        return frame.sort_values("event_time", ignore_index=True)

    def summary(self) -> str:
        head = (
            "Spillover-robust imputation (Butts 2023 rings, BJS 2024)\n"
            f"N = {self.n_obs} (clean controls {self.n_control}), clusters = {self.n_clusters}; "
            f"naive direct effect (exposed cells as controls) = {self.naive_att:.4f} "
            f"(SE {self.naive_se:.4f})\n"
        )
        tidy = self.tidy()
        main = tidy[tidy["term"].isin([DIRECT, *ring_labels(self.rings)])]
        return head + main.to_string(index=False, float_format=lambda v: f"{v: .4f}")

    def __str__(self) -> str:
        return self.summary()


def spillover_imputation(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    lat: str,
    lon: str,
    rings: Sequence[float] = (0.0, 100.0, 200.0),
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    horizons: bool = True,
    by_ring_event: bool = False,
    avg_effects_by: Sequence[str] = ("cohort", "horizon"),
    leaveout: bool = False,
    alpha: float = 0.05,
    earth_radius_km: float = EARTH_RADIUS_KM,
    estimate_rows: np.ndarray | None = None,
) -> SpilloverResult:
    """Direct effect on treated cells and spillover effects on exposed untreated cells by ring,
    by imputation from the clean (untreated, unexposed) cells; module docstring.

    Parameters
    ----------
    gname : first treatment period (0 or NaN: never treated); constant within unit.
    lat, lon : unit coordinates in degrees (constant within unit).
    rings : breakpoints in km, ``(0, r_1, ..., r_K)``: bands ``[r_{k-1}, r_k)``; untreated cells
        at ``r_K`` or farther from every treated unit are the controls.
    covariates : time-varying controls of the untreated-outcome model.
    cluster : cluster column of the variance (default ``idname``).
    horizons : add the event studies (``direct::e<k>`` by ``t - g``, ``spillover::e<k>`` by
        time since first exposure); ``by_ring_event`` also ``ring::[lo,hi)::e<k>``.
    avg_effects_by : cells of the auxiliary model within each kind (direct / ring k), any of
        ``"cohort"`` (``g``, or ``x`` for exposed cells) and ``"horizon"`` (time since onset);
        ``()``: one mean per kind, the second stage of Gardner's two-stage estimator (its GMM
        variance, up to the small-sample factor; benchmarks/peer_spillover_diffdiff.py).
    leaveout : BJS App. A.6 leave-own-cluster-out ``tau_bar`` (fallback: kind x horizon, kind).
    estimate_rows : boolean mask of the rows that enter the estimation (default: all). Exposure is
        computed on every row first: a treated unit left out of the estimation (e.g. for lack
        of pre-treatment years) still exposes its neighbours, who are then no clean controls.
    """
    r = _check_rings(rings)
    aux = {"cohort": "cohort_k", "horizon": "e"}
    if not set(avg_effects_by) <= set(aux):
        raise ValueError("avg_effects_by: any of 'cohort', 'horizon'")
    by = [aux[b] for b in avg_effects_by]
    expo = exposure_rings(data, tname, idname, gname, lat, lon, r, earth_radius_km)
    if estimate_rows is not None:
        rows = np.flatnonzero(np.asarray(estimate_rows, dtype=bool))
        data, expo = data.iloc[rows], expo.iloc[rows].reset_index(drop=True)
    g = data[gname].fillna(0).to_numpy(dtype=float)
    t = data[tname].to_numpy(dtype=float)
    x = expo["exposure_onset"].to_numpy()
    treated = (g > 0) & (t >= g)
    kind = np.where(treated, DIRECT, expo["status"].to_numpy())
    onset = np.nan_to_num(np.where(treated, g, x))  # the cell's effect is timed from it
    work = pd.DataFrame(
        {
            "_y": data[yname].to_numpy(dtype=float),
            "_t": data[tname].to_numpy(),
            "_id": data[idname].to_numpy(),
            "_g": g,
            "_onset": expo["onset"].to_numpy(),
            "_cl": (data[cluster] if cluster else data[idname]).to_numpy(),
            "kind": kind,
            "cohort_k": onset,
            "e": t - onset,  # used on treated and exposed cells only
        }
    )
    covs = list(covariates or [])
    for j, c in enumerate(covs):
        work[f"_x{j}"] = data[c].to_numpy(dtype=float)
    cov_names = [f"_x{j}" for j in range(len(covs))]
    carry = ["kind", "cohort_k", "e"]

    fit = imputation_fit(work, "_y", "_t", "_id", "_onset", cov_names, "_cl", carry)
    cells = fit.treated
    cells["e"] = cells["e"].astype(int)
    ck = cells["kind"].to_numpy()
    ce = cells["e"].to_numpy()
    columns: dict[str, np.ndarray] = {}

    def add(term: str, mask: np.ndarray) -> None:
        if mask.any():
            columns[term] = mask / mask.sum()

    add(DIRECT, ck == DIRECT)
    labels = ring_labels(r)
    for lab in labels:
        add(lab, ck == lab)
    if horizons:
        spill = ck != DIRECT
        for e in np.unique(ce[ck == DIRECT]):
            add(f"{DIRECT}::e{e}", (ck == DIRECT) & (ce == e))
        for e in np.unique(ce[spill]):
            add(f"spillover::e{e}", spill & (ce == e))
        if by_ring_event:
            for lab in labels:
                for e in np.unique(ce[ck == lab]):
                    add(f"{lab}::e{e}", (ck == lab) & (ce == e))
    if DIRECT not in columns:
        raise ValueError("no treated cell can be imputed")
    missing = [lab for lab in labels if lab not in columns]
    if missing:
        warnings.warn(f"no exposed cells in {missing}: no spillover estimate there", stacklevel=2)
    weights = pd.DataFrame(columns)
    levels = [("kind", *by)] + ([("kind", "e")] if by and by != ["e"] else [])
    levels += [("kind",)] if by else []
    est = fit.linear(weights, fit.tau_bar(levels, leaveout=leaveout))

    # the naive estimator: the same imputation with the exposed cells among the controls
    naive = imputation_fit(work, "_y", "_t", "_id", "_g", cov_names, "_cl")
    one = np.full((len(naive.treated), 1), 1.0 / len(naive.treated))
    nv = naive.linear(one, naive.tau_bar((("cohort", "horizon"),), leaveout=False))
    return SpilloverResult(
        terms=list(weights.columns),
        estimates=est.estimates,
        vcov=est.vcov,
        n_cells=(weights.to_numpy() > 0).sum(axis=0),
        rings=tuple(float(v) for v in r),
        n_obs=fit.n_obs,
        n_control=fit.n_untreated,
        n_clusters=fit.n_clusters,
        naive_att=float(nv.estimates[0]),
        naive_se=float(np.sqrt(nv.vcov[0, 0])),
        exposure=expo,
        alpha=alpha,
    )
