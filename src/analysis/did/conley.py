"""Conley (1999) spatial HAC covariance for linear fixed-effects regressions (TWFE, event study).

Conley, T. G. (1999), "GMM estimation with cross sectional dependence", *Journal of Econometrics*
92(1), 1-45; Hsiang, S. M. (2010), "Temperatures and cyclones strongly associated with economic
production in the Caribbean and Central America", *PNAS* 107(35), 15367-15372 (the panel form with
serial correlation).

The regression is the project's one fixed-effects kernel (:func:`analysis.did.fe.fit_within`, FWL
with unit and time effects; its ``keep_scores`` gives the observation scores ``s_it = x~_it u_it``
and the bread ``(X~'X~)^-1``); only the meat differs from CRV1:

    V = bread . meat . bread * c,      meat = sum_{(i,t),(j,s)} K_{it,js} s_it s_js'.

Conventions: fixest's ``vcov_conley`` (Berge 2018; ``R/VCOV.R`` and ``src/vcov_related.cpp``),
stated here because the packages differ:

* **Panel structure** (``lag=None``, the default; fixest): fixest first sums the scores of all
  observations that share a location, then applies the spatial kernel to the location sums. With
  units that do not move, ``K_{it,js} = k(d_ij)`` for every pair of periods: arbitrary serial
  correlation within a unit and arbitrary correlation across periods between units within the
  cutoff. Hence, by construction, cutoff 0 is the CRV covariance clustered by unit (location) and a
  cutoff beyond the map is one cluster (all scores summed).
* ``lag=L`` (Hsiang 2010; R ``conleyreg``'s ``lag_cutoff``, diff-diff's ``conley_lag_cutoff``):
  spatial correlation only between observations of the SAME period, plus serial correlation within
  a unit up to ``L`` periods with Bartlett weights ``1 - l/(L+1)`` (``serial_kernel="uniform"``:
  weight 1): ``meat = sum_t S_t' K S_t + sum_i sum_{0<|t-s|<=L} w_|t-s| s_it s_is'``. Lags count
  the distinct periods of the panel in order (diff-diff's rule), not calendar differences. With
  cutoff 0 and ``L = 0`` this is HC0; with cutoff 0, ``L >= T - 1`` and the uniform serial kernel
  it is the unit-clustered CRV again. fixest's own panel form (``conley_hac``) is not released.
* **Distance**: great-circle (haversine) between the units' latitude/longitude in degrees, Earth
  radius ``EARTH_RADIUS_KM`` = 6371.0088 km (IUGG mean radius). fixest's ``distance="spherical"``
  uses 6376 km (its default ``"triangular"`` is a flat approximation), conleyreg and diff-diff
  6371.01 km: ``earth_radius_km`` reproduces them.
* **Kernel**: uniform by default (fixest's only kernel), ``k(d) = 1{d <= cutoff}`` (fixest's
  inclusive cutoff); ``"bartlett"``: ``k(d) = max(0, 1 - d/cutoff)`` (conleyreg). Cutoff 0:
  ``k(d) = 1{d = 0}``.
* **Small-sample factor** (fixest's for Conley): ``c = (n-1)/(n-K)``, ``K`` = regressors + fixed
  effects not nested in the locations (a unit effect is nested: ``K = k + T``), and NO
  ``G/(G-1)`` (``CONLEY_SSC``, the kernel's :class:`~analysis.did.fe.SmallSample` without the
  cluster adjustment). So at cutoff 0, Conley x ``G/(G-1)`` = the kernel's CRV1 by unit, and in the
  ``lag=0`` form Conley / c = HC0. ``ssc=None`` gives the raw sandwich.
* **Choosing the cutoff**: like clustering with few clusters, the pooled form degenerates as the
  cutoff approaches the extent of the map: with every pair inside the kernel the meat is the outer
  product of the summed scores, which the normal equations make zero. Report a grid of cutoffs
  well inside the map (for 337 prefecture cities, 50-500 km; at 1,000 km nearly every pair of
  eastern cities is inside and the variance collapses). The ``lag`` form does not collapse (a
  cutoff beyond the map clusters by period) but misses correlation between nearby units across
  periods (persistent regional shocks).
* **Not positive semi-definite by construction**: neither the uniform nor the radial Bartlett
  kernel guarantees a PSD meat (Conley 1999, Sec. 3). As fixest's ``vcov_fix``, when a variance
  comes out negative the negative eigenvalues are set to zero (Cameron, Gelbach & Miller 2011)
  with a warning.

Vectorised: unit-by-unit distance and kernel matrices (N_units^2), scores summed by unit (or by
unit and period) with one sparse product, the meat a few dense products: 337 cities x 14 years
takes milliseconds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.did.event_study import EventStudyResult, _name, event_time_dummies
from analysis.did.fe import SmallSample, WithinScores, fit_within, group_sum, nested_in
from analysis.did.twfe import TWFEResult, _from_kernel

__all__ = [
    "CONLEY_SSC",
    "EARTH_RADIUS_KM",
    "ConleySpec",
    "conley_cov",
    "conley_meat",
    "distance_matrix",
    "event_study_conley",
    "haversine_km",
    "kernel_weights",
    "twfe_conley",
]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius
CONLEY_SSC = SmallSample(cluster_adj=False)  # fixest's factor for Conley: (n-1)/(n-K), K nested
KERNELS = ("uniform", "bartlett")


# --------------------------------------------------------------------------------- distances
def haversine_km(lat1, lon1, lat2, lon2, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2.0 * radius_km * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix(lat, lon, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """(n, n) great-circle distances in km between n points (degrees); exact zeros on the
    diagonal and between identical coordinates."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if lat.shape != lon.shape or lat.ndim != 1:
        raise ValueError("latitude and longitude must be 1-d arrays of the same length")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("coordinates must be finite")
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 360).any():
        raise ValueError("coordinates must be in degrees: latitude in [-90, 90]")
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :], radius_km)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def kernel_weights(dist: np.ndarray, cutoff_km: float, kernel: str = "uniform") -> np.ndarray:
    """Spatial kernel ``k(d)``: uniform ``1{d <= cutoff}`` or Bartlett ``max(0, 1 - d/cutoff)``;
    at cutoff 0 both are ``1{d = 0}``."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}")
    if not (np.isfinite(cutoff_km) and cutoff_km >= 0):
        raise ValueError("cutoff_km must be a finite number >= 0")
    dist = np.asarray(dist, dtype=float)
    if cutoff_km == 0:
        return (dist == 0).astype(float)
    if kernel == "uniform":
        return (dist <= cutoff_km).astype(float)
    return np.clip(1.0 - dist / cutoff_km, 0.0, None)


def _serial_weights(n_times: int, lag: int, serial_kernel: str) -> np.ndarray:
    """(T, T) weights of the within-unit serial part, zero on the diagonal (the spatial part
    holds the lag-0 term)."""
    if serial_kernel not in KERNELS:
        raise ValueError(f"serial_kernel must be one of {KERNELS}")
    gap = np.abs(np.subtract.outer(np.arange(n_times), np.arange(n_times)))
    w = (1.0 - gap / (lag + 1.0)) if serial_kernel == "bartlett" else np.ones_like(gap, float)
    return np.where((gap > 0) & (gap <= lag), w, 0.0)


# --------------------------------------------------------------------------------- meat
def conley_meat(
    scores: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    weights: np.ndarray,
    lag: int | None = None,
    serial_kernel: str = "bartlett",
) -> np.ndarray:
    """Conley meat ``sum K_{it,js} s_it s_js'`` of (n, k) observation scores.

    ``unit``: codes 0..G-1 indexing the rows of the (G, G) unit kernel ``weights``; ``time``:
    codes 0..T-1 in period order. ``lag=None``: fixest's pooled form (kernel on every pair of
    periods); an integer: the within-period spatial part plus the within-unit serial part up to
    ``lag`` periods (module docstring)."""
    scores = np.asarray(scores, dtype=float).reshape(len(unit), -1)
    n_units = weights.shape[0]
    if lag is None:
        su = group_sum(unit, scores, n_units)  # (G, k) unit sums over all periods
        return su.T @ (weights @ su)
    if not (isinstance(lag, int | np.integer) and lag >= 0):
        raise ValueError("lag must be None or an integer >= 0")
    n_times, k = int(time.max()) + 1, scores.shape[1]
    cell = group_sum(unit * n_times + time, scores, n_units * n_times).reshape(n_units, n_times, k)
    ks = (weights @ cell.reshape(n_units, -1)).reshape(n_units, n_times, k)
    meat = np.einsum("itk,itl->kl", cell, ks)  # sum_t S_t' K S_t
    if lag > 0:
        wt = _serial_weights(n_times, int(lag), serial_kernel)
        meat += np.einsum("itk,ts,isl->kl", cell, wt, cell)
    return meat


def _psd_fix(cov: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """fixest's ``vcov_fix``: negative eigenvalues set to zero when a variance is negative (below
    ``-tol``: a covariance that is zero up to rounding, e.g. one cluster, is left alone)."""
    if (np.diag(cov) >= -tol).all():
        return cov
    val, vec = np.linalg.eigh(cov)
    warnings.warn(
        "the Conley covariance had a negative variance; its negative eigenvalues were set to"
        " zero (Cameron, Gelbach & Miller 2011, as fixest's vcov_fix)",
        stacklevel=3,
    )
    return (vec * np.clip(val, 0.0, None)) @ vec.T


# --------------------------------------------------------------------------------- covariance
@dataclass(frozen=True)
class ConleySpec:
    """A Conley covariance: cutoff (km), spatial kernel, panel form (``lag``; None = fixest's
    pooled form), serial kernel of the ``lag`` form and the Earth radius of the distances."""

    cutoff_km: float
    kernel: str = "uniform"
    lag: int | None = None
    serial_kernel: str = "bartlett"
    earth_radius_km: float = EARTH_RADIUS_KM

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS or self.serial_kernel not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS}")
        if not (np.isfinite(self.cutoff_km) and self.cutoff_km >= 0):
            raise ValueError("cutoff_km must be a finite number >= 0")

    @property
    def label(self) -> str:
        panel = (
            "all periods"
            if self.lag is None
            else f"same period + {self.serial_kernel} lag {self.lag}"
        )
        return f"conley({self.cutoff_km:g} km, {self.kernel}, {panel})"


@dataclass
class ConleyCov:
    """A Conley covariance with what it was built from: the unit coordinates (in the unit codes'
    order), the unit kernel, the small-sample factor applied and the number of distinct
    locations."""

    cov: np.ndarray
    spec: ConleySpec
    unit_lat: np.ndarray
    unit_lon: np.ndarray
    weights: np.ndarray
    factor: float
    n_locations: int

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def unit_coordinates(lat, lon, unit: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit latitude and longitude (units must not move: constant within unit)."""
    out = []
    for c in (np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)):
        first = np.full(n_units, np.nan)
        first[unit[::-1]] = c[::-1]  # the first row of each unit wins
        if not np.array_equal(first[unit], c):
            raise ValueError("coordinates must be constant within each unit (units do not move)")
        out.append(first)
    return out[0], out[1]


def conley_cov(
    ws: WithinScores,
    lat,
    lon,
    spec: ConleySpec,
    ssc: SmallSample | None = CONLEY_SSC,
) -> ConleyCov:
    """Conley covariance of a ``fit_within(..., keep_scores=True)`` regression; ``lat``/``lon``:
    coordinates (degrees) of the used rows, ``ws.rows`` of the caller's data."""
    n, k = ws.scores.shape
    n_units, n_times = int(ws.unit.max()) + 1, int(ws.time.max()) + 1
    ulat, ulon = unit_coordinates(lat, lon, ws.unit, n_units)
    weights = kernel_weights(
        distance_matrix(ulat, ulon, spec.earth_radius_km), spec.cutoff_km, spec.kernel
    )
    meat = conley_meat(ws.scores, ws.unit, ws.time, weights, spec.lag, spec.serial_kernel)
    # locations: the fixest nesting rule asks whether each fixed effect lies within one location
    loc_unit = np.unique(np.column_stack([ulat, ulon]), axis=0, return_inverse=True)[1].ravel()
    n_loc = int(loc_unit.max()) + 1
    factor = 1.0
    if ssc is not None:
        loc = loc_unit[ws.unit]
        nested = [nested_in(ws.unit, loc), nested_in(ws.time, loc)]
        factor = ssc.factor(n, k, n_loc, [n_units, n_times], nested)
    cov = ws.bread @ meat @ ws.bread * factor
    # rounding scale: the HC0 variances (a meat that is exactly zero, e.g. one cluster, comes out
    # as +-1e-16 of them)
    hc0 = np.einsum("ij,jk,ki->i", ws.bread, ws.scores.T @ ws.scores, ws.bread)
    cov = _psd_fix((cov + cov.T) / 2, tol=1e-12 * factor * float(hc0.max(initial=0.0)))
    return ConleyCov(cov, spec, ulat, ulon, weights, factor, n_loc)


# --------------------------------------------------------------------------------- estimators
def twfe_conley(
    data: pd.DataFrame,
    yname: str,
    xnames: list[str],
    idname: str,
    tname: str,
    cluster: str | None = None,
    *,
    lat: str,
    lon: str,
    cutoff_km: float,
    kernel: str = "uniform",
    lag: int | None = None,
    serial_kernel: str = "bartlett",
    weights: str | None = None,
    ssc: SmallSample | None = CONLEY_SSC,
    earth_radius_km: float = EARTH_RADIUS_KM,
) -> TWFEResult:
    """TWFE (unit and time effects) of ``yname`` on ``xnames`` with the Conley covariance.

    Same coefficients as :func:`analysis.did.twfe.twfe` (the FE kernel) and the same positional
    arguments, so that it can stand in for it (``estimate("twfe", ..., engine=twfe_conley,
    lat=..., lon=..., cutoff_km=...)``); ``cluster`` must be None or the unit: the Conley
    covariance replaces clustering (at cutoff 0 it IS the unit-clustered one). ``lat``/``lon``:
    columns of unit coordinates in degrees; ``cutoff_km``, ``kernel``, ``lag``,
    ``serial_kernel``, ``ssc``, ``earth_radius_km``: module docstring. ``n_clusters`` of the result
    is the number of distinct locations, ``cluster`` the specification's label."""
    if cluster not in (None, idname):
        raise ValueError(
            f"twfe_conley: cluster={cluster!r}; the Conley covariance replaces clustering"
            " (None or the unit column)"
        )
    spec = ConleySpec(cutoff_km, kernel, lag, serial_kernel, earth_radius_km)
    frame = data
    bad = data[[lat, lon]].isna().any(axis=1).to_numpy()
    if bad.any():  # rows without coordinates are left out of the regression too
        frame = data.loc[~bad]
    fit = fit_within(frame, yname, list(xnames), idname, tname, weights=weights, keep_scores=True)
    ws = fit.within_scores
    rows = ws.rows
    conley = conley_cov(
        ws,
        frame[lat].to_numpy(dtype=float)[rows],
        frame[lon].to_numpy(dtype=float)[rows],
        spec,
        ssc,
    )
    return _from_kernel(
        fit,
        yname,
        std_errors=conley.std_errors,
        cov=conley.cov,
        n_clusters=conley.n_locations,
        cluster=spec.label,
    )


def event_study_conley(
    data: pd.DataFrame,
    yname: str,
    gname: str,
    idname: str,
    tname: str,
    window: tuple[int, int] = (-5, 5),
    ref: int = -1,
    controls: list[str] | None = None,
    cluster: str | None = None,
    *,
    lat: str,
    lon: str,
    cutoff_km: float,
    **conley,
) -> EventStudyResult:
    """The fully dynamic TWFE event study of :func:`analysis.did.event_study.event_study` (same
    dummies, same coefficients, same positional arguments) with the Conley covariance (keywords
    of :func:`twfe_conley`); the pre-trend Wald test then uses the Conley covariance too."""
    frame, periods = event_time_dummies(data, gname, tname, tuple(window), ref)
    names = [_name(k) for k in periods]
    xnames = names + list(controls or [])
    fit = twfe_conley(
        frame,
        yname,
        xnames,
        idname,
        tname,
        cluster,
        lat=lat,
        lon=lon,
        cutoff_km=cutoff_km,
        **conley,
    )
    lo, hi = window
    inside = [k for k in periods if lo <= k <= hi]
    rest = [k for k in periods if not lo <= k <= hi]
    return EventStudyResult(periods=inside, ref=ref, fit=fit, window=tuple(window), outside=rest)
