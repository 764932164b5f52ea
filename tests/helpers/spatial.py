"""Spatially correlated panels on the real prefecture-city coordinates, for the Conley and
spillover tests (Monte Carlo designs with a known truth)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.did.conley import EARTH_RADIUS_KM, distance_matrix


@lru_cache(maxsize=1)
def city_coordinates() -> tuple[np.ndarray, np.ndarray]:
    """(latitude, longitude) of the 337 cities of the city master, in city-code order.

    The selection of ``analysis.data.cities.build_city_master`` without its slow coastal flag
    (a land mask); the same coordinates (checked when this helper was written)."""
    from analysis.data import cities

    ad = cities.read_adcodes()
    level = ad["adcode"].str[6:]
    pref = ad[(ad["code6"].str[4:] == "00") & (ad["code6"].str[2:4] != "00") & (level == "000000")]
    pref = pref[~pref["name"].isin(cities.NOT_PREFECTURES) & ~pref["name"].isin(cities.MERGED)]
    prov = ad[ad["adcode"].str[2:] == "0" * 10]
    muni = prov[prov["code6"].str[:2].isin(cities.MUNICIPALITIES)]
    master = pd.concat([pref, muni], ignore_index=True)
    master = master[~master["code6"].str[:2].isin(cities.OUT_OF_SCOPE_PROVINCES)]
    master = master.sort_values("code6")
    return master["latitude"].to_numpy(float), master["longitude"].to_numpy(float)


def spherical_covariance(dist_km: np.ndarray, range_km: float) -> np.ndarray:
    """The spherical covariance model: ``1 - 1.5 h + 0.5 h^3`` for ``h = d / range < 1``, exactly 0
    beyond ``range`` (compact support: a Conley cutoff at ``range`` misses no correlation)."""
    h = np.minimum(dist_km / range_km, 1.0)
    return 1.0 - 1.5 * h + 0.5 * h**3


def field_factor(lat: np.ndarray, lon: np.ndarray, range_km: float) -> np.ndarray:
    """Cholesky factor of the spherical covariance on chord distances (positive definite in R^3,
    so on the sphere; chord = great-circle distance to 0.1% at 300 km)."""
    d = distance_matrix(lat, lon)
    chord = 2 * EARTH_RADIUS_KM * np.sin(d / (2 * EARTH_RADIUS_KM))
    cov = spherical_covariance(chord, range_km)
    return np.linalg.cholesky(cov + 1e-10 * np.eye(len(lat)))


@lru_cache(maxsize=8)
def _factor(range_km: float) -> np.ndarray:
    lat, lon = city_coordinates()
    return field_factor(lat, lon, range_km)


def simulate_spatial_panel(
    rng: np.random.Generator,
    n_years: int = 14,
    first_year: int = 2010,
    effect: float = 0.1,
    error_range_km: float = 300.0,
    spatial_share: float = 0.8,
    rho: float = 0.5,
    treat_range_km: float = 600.0,
    treated_share: float = 0.4,
    cohorts: tuple[int, ...] = (2013, 2015, 2017, 2019),
) -> pd.DataFrame:
    """City x year panel on the real coordinates with a homogeneous effect of a spatially
    clustered staggered treatment and spatially correlated errors.

    ``y = a_i + l_t + effect * D_it + e_it``, ``e_it = sqrt(spatial_share) f_it +
    sqrt(1 - spatial_share) v_it``: ``f`` a Gaussian random field with the spherical covariance of
    range ``error_range_km`` (zero correlation beyond it), AR(1) over years with ``rho``
    (stationary, unit variance), ``v`` i.i.d. N(0, 1). Treatment: the cities where another field
    (range ``treat_range_km``) is in its top ``treated_share``, the higher the earlier (cohorts by
    quantile): adopters are neighbours and adopt together. TWFE with the post dummy is unbiased
    (homogeneous effect); city-clustered SEs ignore the correlation between nearby cities."""
    lat, lon = city_coordinates()
    n = len(lat)
    years = np.arange(first_year, first_year + n_years)
    lf = _factor(float(error_range_km))
    z = rng.standard_normal((n, n_years))
    f = np.empty((n, n_years))
    f[:, 0] = lf @ z[:, 0]
    for t in range(1, n_years):
        f[:, t] = rho * f[:, t - 1] + np.sqrt(1 - rho**2) * (lf @ z[:, t])
    e = np.sqrt(spatial_share) * f + np.sqrt(1 - spatial_share) * rng.standard_normal((n, n_years))
    score = _factor(float(treat_range_km)) @ rng.standard_normal(n)
    cut = np.quantile(score, 1 - treated_share)
    treated = score >= cut
    rank = pd.Series(-score[treated]).rank(method="first").to_numpy() - 1
    cohort = np.zeros(n, dtype=int)
    cohort[treated] = np.asarray(cohorts)[(rank * len(cohorts) // treated.sum()).astype(int)]
    a = rng.standard_normal(n)
    lam = 0.05 * np.arange(n_years) + 0.1 * rng.standard_normal(n_years)
    d = (cohort[:, None] > 0) & (years[None, :] >= cohort[:, None])
    y = a[:, None] + lam[None, :] + effect * d + e
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_years),
            "year": np.tile(years, n),
            "cohort": np.repeat(cohort, n_years),
            "treat": d.ravel().astype(float),
            "y": y.ravel(),
            "lat": np.repeat(lat, n_years),
            "lon": np.repeat(lon, n_years),
        }
    )


def simulate_spillover_panel(
    rng: np.random.Generator,
    n_units: int = 400,
    n_years: int = 12,
    first_year: int = 2010,
    direct: float = 0.3,
    spill: tuple[float, ...] = (-0.15, -0.05),
    rings: tuple[float, ...] = (0.0, 50.0, 100.0),
    treated_share: float = 0.15,
    cohorts: tuple[int, ...] = (2013, 2015, 2017),
    noise_sd: float = 0.2,
) -> pd.DataFrame:
    """Staggered treatment with a direct effect and spillovers by ring on the untreated.

    Units uniform over lat 28-36, lon 108-122 (about 1,300 x 900 km); the treated are drawn among
    the eastern half (lon > 115), so that the west stays beyond the outer ring (clean controls).
    ``y = a_i + l_t + direct * D_it + sum_k spill[k] * 1{untreated, nearest unit treated by t in
    [rings[k], rings[k+1])} + e``, ``e`` i.i.d. N(0, noise_sd). Exposure is computed here by brute
    force (a loop over periods), independently of ``analysis.did.spillover``; the column
    ``true_ring`` holds it (0 = not exposed)."""
    lat = rng.uniform(28, 36, n_units)
    lon = rng.uniform(108, 122, n_units)
    years = np.arange(first_year, first_year + n_years)
    east = np.flatnonzero(lon > 115)
    chosen = rng.choice(east, size=int(treated_share * n_units), replace=False)
    cohort = np.zeros(n_units, dtype=int)
    cohort[chosen] = rng.choice(np.asarray(cohorts), size=len(chosen))
    d = distance_matrix(lat, lon)
    np.fill_diagonal(d, np.inf)
    ring = np.zeros((n_units, n_years), dtype=int)
    for j, year in enumerate(years):
        by_then = (cohort > 0) & (cohort <= year)
        if not by_then.any():
            continue
        near = d[:, by_then].min(axis=1)
        for k in range(len(rings) - 1):
            ring[(near >= rings[k]) & (near < rings[k + 1]), j] = k + 1
    treated = (cohort[:, None] > 0) & (years[None, :] >= cohort[:, None])
    ring[treated] = 0
    effect = direct * treated + np.concatenate([[0.0], spill])[ring]
    a = rng.standard_normal(n_units)
    lam = 0.05 * np.arange(n_years) + 0.1 * rng.standard_normal(n_years)
    y = a[:, None] + lam[None, :] + effect + noise_sd * rng.standard_normal((n_units, n_years))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_years),
            "year": np.tile(years, n_units),
            "cohort": np.repeat(cohort, n_years),
            "y": y.ravel(),
            "lat": np.repeat(lat, n_years),
            "lon": np.repeat(lon, n_years),
            "true_ring": ring.ravel(),
        }
    )
