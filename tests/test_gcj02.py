"""GCJ-02 and BD-09 ⇄ WGS-84 against an independent implementation (PRCoords) and by round trip."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import prcoords
import shapely
from pyproj import Geod

from layers.gcj02 import bd09_to_wgs84, gcj02_coords_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from layers.navigation import navigation_links
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


def test_bd09_matches_prcoords_and_baidus_worked_example_and_inverts():
    # Baidu's formula on GCJ-02 (116.404, 39.915) gives (116.41036949, 39.92133699) (the
    # coordtransform project's worked example); start from the WGS-84 point behind it.
    wgs_lon, wgs_lat = gcj02_to_wgs84(116.404, 39.915)
    bd_lon, bd_lat = wgs84_to_bd09(wgs_lon, wgs_lat)
    assert abs(bd_lon - 116.41036949371029) < 1e-9 and abs(bd_lat - 39.92133699351022) < 1e-9
    lon, lat = _xinjiang_sample(50)
    bd_lon, bd_lat = wgs84_to_bd09(lon, lat)
    for i in range(len(lon)):
        ref = prcoords.wgs_bd((lat[i], lon[i]))
        assert _between((bd_lon[i], bd_lat[i]), (ref.lon, ref.lat)) < 0.01
    back_lon, back_lat = bd09_to_wgs84(bd_lon, bd_lat)
    assert np.max(np.abs(back_lon - lon)) < 1e-8 and np.max(np.abs(back_lat - lat)) < 1e-8


def test_navigation_links_carry_each_apps_coordinates():
    links = navigation_links(*URUMQI, "乌鲁木齐|水源地, 一号")
    assert links.geo.startswith("geo:43.8256,87.6168?q=43.8256,87.6168(")
    query = parse_qs(urlparse(links.amap).query)
    gcj = tuple(float(v) for v in query["to"][0].split(",")[:2])
    assert query["coordinate"] == ["gaode"] and query["to"][0].endswith("乌鲁木齐 水源地 一号")
    assert _between(gcj, wgs84_to_gcj02(*URUMQI)) < 1.0 and gcj == links.gcj02
    query = parse_qs(urlparse(links.baidu).query)
    latlng, name = query["destination"][0].split("|")
    bd_lat, bd_lon = (float(v) for v in latlng.removeprefix("latlng:").split(","))
    assert query["coord_type"] == ["bd09ll"] and name == "name:乌鲁木齐 水源地 一号"
    assert _between((bd_lon, bd_lat), wgs84_to_bd09(*URUMQI)) < 1.0
    # Both are hundreds of metres away from the WGS-84 position, as the apps expect.
    assert _between(links.gcj02, URUMQI) > 100 and _between(links.bd09, links.gcj02) > 100


def _between(a, b) -> float:
    return float(_metres(a[0], a[1], b[0], b[1]))
