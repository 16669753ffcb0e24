"""GCJ-02 ⇄ WGS-84 against an independent implementation (PRCoords) and by round trip."""

from __future__ import annotations

import numpy as np
import prcoords
import shapely
from pyproj import Geod

from layers.gcj02 import gcj02_coords_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from layers.schema import XINJIANG_BBOX

GEOD = Geod(ellps="WGS84")
URUMQI = (87.6168, 43.8256)


def _xinjiang_sample(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
    return rng.uniform(lon_min, lon_max, n), rng.uniform(lat_min, lat_max, n)


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_forward_matches_prcoords_over_xinjiang():
    lon, lat = _xinjiang_sample()
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    reference = np.array([prcoords.wgs_gcj((a, o)) for o, a in zip(lon, lat, strict=True)])
    assert np.abs(gcj_lat - reference[:, 0]).max() < 1e-11
    assert np.abs(gcj_lon - reference[:, 1]).max() < 1e-11


def test_urumqi_offset_is_a_few_hundred_metres():
    gcj_lon, gcj_lat = wgs84_to_gcj02(*URUMQI)
    offset_m = _metres(URUMQI[0], URUMQI[1], gcj_lon, gcj_lat)
    assert 150 < offset_m < 500
    assert gcj_lon > URUMQI[0]  # GCJ-02 shifts Xinjiang east and north
    assert gcj_lat > URUMQI[1]


def test_inverse_round_trip_below_half_a_millimetre():
    lon, lat = _xinjiang_sample()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, back_lon, back_lat).max() < 5e-4


def test_inverse_agrees_with_prcoords_exact_inverse():
    lon, lat = _xinjiang_sample(50)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    ours_lon, ours_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    theirs = np.array([prcoords.gcj_wgs_bored((a, o)) for o, a in zip(gcj_lon, gcj_lat, strict=True)])
    assert _metres(ours_lon, ours_lat, theirs[:, 1], theirs[:, 0]).max() < 0.05


def test_shapely_transform_converts_every_vertex():
    square = shapely.box(87.60, 43.80, 87.62, 43.82)
    gcj_lon, gcj_lat = wgs84_to_gcj02(*np.asarray(square.exterior.coords).T)
    gcj_square = shapely.Polygon(np.column_stack([gcj_lon, gcj_lat]))
    back = shapely.transform(gcj_square, gcj02_coords_to_wgs84)
    assert shapely.hausdorff_distance(back, square) < 1e-8
    assert shapely.hausdorff_distance(gcj_square, square) > 1e-3
