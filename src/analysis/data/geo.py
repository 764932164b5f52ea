"""Great-circle distances between cities, for the data layer (the synthetic panel's spillovers).

The data layer may not import the estimators (``analysis.did``; tests/test_layers.py), so this is a
small copy of :func:`analysis.did.conley.haversine_km` / ``distance_matrix`` with the same Earth
radius; ``tests/data/test_geo.py`` checks that the two give the same distances, so the synthetic
panel's exposure rings and the ring estimator's (:mod:`analysis.did.spillover`) cannot disagree.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius (as analysis.did.conley)


def haversine_km(lat1, lon1, lat2, lon2, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2.0 * radius_km * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix(lat, lon, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """(n, n) great-circle distances in km (symmetric, exact zeros on the diagonal)."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if lat.shape != lon.shape or lat.ndim != 1:
        raise ValueError("latitude and longitude must be 1-d arrays of the same length")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("coordinates must be finite (a city without latitude/longitude?)")
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :], radius_km)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d
