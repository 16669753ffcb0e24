"""GCJ-02 ("Mars coordinates") and BD-09 (Baidu) ⇄ WGS-84, for coordinates of Chinese web maps.

Amap (高德), Tencent and the Chinese editions of other web maps show positions in GCJ-02, a
deliberately distorted lon/lat system that is offset from WGS-84 by a few hundred metres
(about 0.26 km in Urumqi). pyproj has no definition for it, so the published forward formula is
implemented here, vectorised with numpy. The formula is the one reproduced by eviltransform
(googollee, MIT) and PRCoords (Artoria2e5, CC0); the inverse is not published, so
:func:`gcj02_to_wgs84` inverts the forward formula by fixed-point iteration (the offset changes by
well under 1 mm per metre of movement, so each step gains many digits) until the residual is below
``1e-9`` degrees (about 0.1 mm).

Baidu Maps adds a second, published distortion on top of GCJ-02 (BD-09, about 0.5-1 km more); its
inverse is found the same way.

Only points in mainland China are ever shifted by the web maps; for Xinjiang that always holds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

# Krasovsky 1940 ellipsoid, which the published formula uses.
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323

_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_STEPS = 30
#: Constants of Baidu's published GCJ-02 -> BD-09 formula.
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON_DEG = 0.0065
_BD_DLAT_DEG = 0.006

Transform = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], tuple[np.ndarray, np.ndarray]]


def _offset_deg(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(Δlon, Δlat) in degrees that GCJ-02 adds to a WGS-84 position."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    # Both polynomials return the offset as an arc length in metres.
    wave = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + wave
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + wave
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_E2 * np.sin(rad_lat) ** 2
    metres_per_deg_lat = np.radians(_KRASOVSKY_A_M * (1.0 - _KRASOVSKY_E2) / magic**1.5)
    metres_per_deg_lon = np.radians(_KRASOVSKY_A_M * np.cos(rad_lat) / np.sqrt(magic))
    return dlon_m / metres_per_deg_lon, dlat_m / metres_per_deg_lat


def wgs84_to_gcj02(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """GCJ-02 (lon, lat) arrays of WGS-84 (lon, lat) positions in degrees."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _offset_deg(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS-84 (lon, lat) arrays of GCJ-02 (lon, lat) positions, exact to about 0.1 mm."""
    return _invert(wgs84_to_gcj02, lon, lat)


def wgs84_to_bd09(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """BD-09 (lon, lat) arrays of WGS-84 positions (what Baidu Maps links with ``bd09ll`` expect)."""
    x, y = wgs84_to_gcj02(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON_DEG, z * np.sin(theta) + _BD_DLAT_DEG


def bd09_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS-84 (lon, lat) arrays of BD-09 positions (Baidu's coordinate picker), exact to about 0.1 mm."""
    return _invert(wgs84_to_bd09, lon, lat)


def _invert(
    forward: Transform, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Solve ``forward(x) = (lon, lat)`` by fixed-point iteration (the distortions are smooth)."""
    target_lon = np.asarray(lon, dtype=float)
    target_lat = np.asarray(lat, dtype=float)
    x_lon, x_lat = target_lon.copy(), target_lat.copy()
    for _ in range(_INVERSE_MAX_STEPS):
        fwd_lon, fwd_lat = forward(x_lon, x_lat)
        err_lon, err_lat = fwd_lon - target_lon, fwd_lat - target_lat
        x_lon -= err_lon
        x_lat -= err_lat
        if max(np.max(np.abs(err_lon), initial=0.0), np.max(np.abs(err_lat), initial=0.0)) < (
            _INVERSE_TOLERANCE_DEG
        ):
            break
    return x_lon, x_lat


def gcj02_coords_to_wgs84(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 2) lon/lat array in GCJ-02 → WGS-84; the signature ``shapely.transform`` expects."""
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def bd09_coords_to_wgs84(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 2) lon/lat array in BD-09 (Baidu) → WGS-84; the signature ``shapely.transform`` expects."""
    lon, lat = bd09_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])
