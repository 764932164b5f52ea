"""The data layer's copy of the great-circle distance equals the estimators' (did/conley.py)."""

import numpy as np
from helpers.spatial import city_coordinates

from analysis.data import geo
from analysis.did import conley


def test_distances_equal_the_estimators_on_the_city_coordinates():
    lat, lon = city_coordinates()
    np.testing.assert_array_equal(geo.distance_matrix(lat, lon), conley.distance_matrix(lat, lon))
    assert geo.EARTH_RADIUS_KM == conley.EARTH_RADIUS_KM
    # a known distance: Beijing - Shanghai, about 1,068 km
    d = geo.haversine_km(39.904211, 116.407394, 31.230416, 121.473701)
    assert 1060 < d < 1075
