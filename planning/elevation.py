"""Terrain height along road edges, from the shipped coarse elevation grid.

``data/geo/elevation_xinjiang.npz`` (made once by ``tools/derive_elevation_grid.py`` from pvlib's
global altitude grid, BSD-3-Clause; see ``data/SOURCES.md``) holds int16 metres on 1/12-degree
cells (about 9 km) with 28 m steps over lon 73-97 E, lat 34-50 N. It is far too coarse for a
road profile, but it tells a 3,000 m pass from a desert basin, which is what the speed model
needs: :func:`edge_profiles` samples each edge about every :data:`SAMPLE_STEP_M` metres
(bilinear interpolation, ``scipy.interpolate.RegularGridInterpolator``) and returns its total
ascent + descent and its highest point. Ascent + descent is the same in both directions, so
travel matrices stay symmetric.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from scipy.interpolate import RegularGridInterpolator

from layers.datasets import data_path
from layers.schema import WGS84, XINJIANG_METRIC_CRS

#: The shipped grid, relative to the data directory.
ELEVATION_FILE = "geo/elevation_xinjiang.npz"
#: Distance between height samples along an edge (m). The grid is ~9 km, so 1 km resolves every
#: cell a road crosses without wasting time.
SAMPLE_STEP_M = 1000.0

_TO_LONLAT = Transformer.from_crs(XINJIANG_METRIC_CRS, WGS84, always_xy=True)


@dataclass(frozen=True, eq=False)
class ElevationGrid:
    """Heights (m) on a regular lon/lat grid: ``elevation_m[i, j]`` at ``(lon[j], lat[i])``."""

    lon: np.ndarray
    lat: np.ndarray
    elevation_m: np.ndarray
    source: str = ""

    @functools.cached_property
    def _interpolator(self) -> RegularGridInterpolator:
        # Outside the grid (roads beyond the Xinjiang box) the nearest edge value is used: no
        # better guess exists, and it adds no climb along a flat extension.
        return RegularGridInterpolator(
            (self.lat, self.lon), self.elevation_m.astype(float), bounds_error=False, fill_value=None
        )

    def height_m(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Interpolated height at the points (WGS84 degrees), clamped to the grid's extent."""
        lon = np.clip(np.asarray(lon, float), self.lon[0], self.lon[-1])
        lat = np.clip(np.asarray(lat, float), self.lat[0], self.lat[-1])
        return self._interpolator(np.column_stack([lat, lon]))


def load_elevation_grid(path: str | Path | None = None) -> ElevationGrid:
    """The elevation grid of an ``.npz`` (arrays ``lon``, ``lat``, ``elevation_m``; default: shipped).

    Raises ``FileNotFoundError`` if it is missing and ``ValueError`` naming the file and array
    if an array is missing or the axes do not fit the grid.
    """
    resolved = Path(path) if path is not None else data_path(ELEVATION_FILE)
    return _load_cached(str(resolved.resolve()))


@functools.lru_cache(maxsize=2)
def _load_cached(path: str) -> ElevationGrid:
    if not Path(path).is_file():
        raise FileNotFoundError(f"elevation grid not found: {path}")
    with np.load(path, allow_pickle=False) as stored:
        missing = [name for name in ("lon", "lat", "elevation_m") if name not in stored.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {', '.join(missing)}")
        lon, lat, heights = stored["lon"], stored["lat"], stored["elevation_m"]
    if heights.shape != (len(lat), len(lon)) or np.any(np.diff(lon) <= 0) or np.any(np.diff(lat) <= 0):
        raise ValueError(f"{path}: field 'elevation_m' must be lat x lon with ascending axes")
    return ElevationGrid(lon=lon.astype(float), lat=lat.astype(float), elevation_m=heights, source=path)


def edge_profiles(lines_metric: np.ndarray, grid: ElevationGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per edge (shapely lines in the metric CRS): total ascent + descent (m) and highest point (m).

    Each line is sampled at both ends and about every :data:`SAMPLE_STEP_M` metres between.
    """
    lengths_m = shapely.length(lines_metric)
    n_samples = np.maximum(np.ceil(lengths_m / SAMPLE_STEP_M).astype(np.int64), 1) + 1
    owner = np.repeat(np.arange(len(lines_metric)), n_samples)
    first = np.concatenate([[0], np.cumsum(n_samples)[:-1]])
    position = (np.arange(n_samples.sum()) - np.repeat(first, n_samples)) / np.repeat(
        n_samples - 1, n_samples
    )
    points = shapely.line_interpolate_point(lines_metric[owner], position, normalized=True)
    xy = shapely.get_coordinates(points)
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    height = grid.height_m(lon, lat)
    step = np.abs(np.diff(height))
    same_edge = owner[1:] == owner[:-1]
    climb_m = np.bincount(owner[1:][same_edge], step[same_edge], minlength=len(lines_metric))
    top_m = np.full(len(lines_metric), -np.inf)
    np.maximum.at(top_m, owner, height)
    return climb_m, top_m
