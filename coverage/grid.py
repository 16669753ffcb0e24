"""The H3 grid over Xinjiang (or part of it) that every coverage measure is counted on.

A cell belongs to the county that contains its centre: this is H3's own polygon fill rule
(``h3shape_to_cells`` keeps the cells whose centre lies in the polygon), so the counties, which
tile the province without gaps, hand out every cell exactly once. Each cell row carries its
centre in WGS84 and in the Xinjiang Albers CRS (for metric distance work) and its true spherical
area.

Resolution 6 (about 36 km² a cell) is the default for Xinjiang-wide views; resolution 7 (about
5 km²) is the finer grid for a prefecture. Building the whole province at resolution 7 takes a
few seconds, so the full grid is cached in ``var/cache`` keyed by resolution and a hash of the
county boundary file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import geopandas as gpd
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from layers.datasets import CONTEXT_FILES, REPO_ROOT, data_path, load_context
from layers.schema import WGS84, XINJIANG_METRIC_CRS

#: About 36 km² a cell: the province in ~40,000 cells.
DEFAULT_RESOLUTION = 6
#: About 5 km² a cell: for a prefecture, or the whole province in ~280,000 cells.
FINE_RESOLUTION = 7
GRID_COLUMNS = (
    "cell",
    "lon",
    "lat",
    "x_m",
    "y_m",
    "area_km2",
    "county_code",
    "county_name",
    "prefecture_code",
    "prefecture_name",
)
#: The region columns of a grid row (and of :func:`county_regions`).
REGION_COLUMNS = ("county_code", "county_name", "prefecture_code", "prefecture_name")
_TO_METRIC = Transformer.from_crs(WGS84, XINJIANG_METRIC_CRS, always_xy=True)


def to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat arrays to the Xinjiang Albers CRS (metres)."""
    x, y = _TO_METRIC.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def cache_dir() -> Path:
    """Where derived grids are cached: ``$XUNHU_CACHE_DIR`` or ``var/cache`` in the repository."""
    return Path(os.environ.get("XUNHU_CACHE_DIR") or REPO_ROOT / "var" / "cache")


def grid_from_counties(counties: gpd.GeoDataFrame, resolution: int = DEFAULT_RESOLUTION) -> pd.DataFrame:
    """Grid of the cells whose centre lies in one of ``counties`` (columns :data:`GRID_COLUMNS`).

    ``counties`` has the columns of the shipped county layer: ``adcode``, ``name_zh``,
    ``pref_adcode``, ``pref_name_zh`` and a polygon geometry in EPSG:4326.
    """
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0..15, got {resolution}")
    counties = counties.to_crs(WGS84)
    cell_lists = [
        h3i.h3shape_to_cells(h3.geo_to_h3shape(geometry), resolution) for geometry in counties.geometry
    ]
    owner = np.repeat(np.arange(len(counties)), [len(cells) for cells in cell_lists])
    grid = pd.DataFrame({"cell": np.fromiter((c for cells in cell_lists for c in cells), dtype=np.int64)})
    # A cell centre exactly on a shared border could be claimed twice; keep the first county.
    keep = ~grid["cell"].duplicated().to_numpy()
    grid, owner = grid[keep].reset_index(drop=True), owner[keep]
    latlng = np.array([h3i.cell_to_latlng(int(c)) for c in grid["cell"]]).reshape(-1, 2)
    grid["lon"], grid["lat"] = latlng[:, 1], latlng[:, 0]
    grid["x_m"], grid["y_m"] = to_metric(grid["lon"].to_numpy(), grid["lat"].to_numpy())
    grid["area_km2"] = np.array([h3i.cell_area(int(c), "km^2") for c in grid["cell"]])
    for column, source in (
        ("county_code", "adcode"),
        ("county_name", "name_zh"),
        ("prefecture_code", "pref_adcode"),
        ("prefecture_name", "pref_name_zh"),
    ):
        grid[column] = pd.array(counties[source].astype(str).to_numpy()[owner], dtype="string")
    return grid[list(GRID_COLUMNS)]


def build_grid(
    resolution: int = DEFAULT_RESOLUTION,
    prefecture_codes: list[str] | None = None,
    county_codes: list[str] | None = None,
    use_cache: bool = True,
) -> pd.DataFrame:
    """The grid over the shipped counties, optionally only some prefectures or counties.

    The whole-province grid is read from (or written to) the cache; a filtered grid is cut from a
    cached whole grid when there is one, else built for the chosen counties only (so a fine grid
    over one prefecture never pays for the whole province).
    """
    counties_file = data_path(CONTEXT_FILES["counties"])
    digest = hashlib.sha256(counties_file.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"coverage_grid_r{resolution}_{digest}.parquet"
    filtered = bool(prefecture_codes or county_codes)
    if use_cache and cached.exists():
        grid = pd.read_parquet(cached)
    else:
        counties = load_context("counties")
        if filtered:
            counties = counties[
                _region_mask(counties["pref_adcode"], counties["adcode"], prefecture_codes, county_codes)
            ]
            if counties.empty:
                raise ValueError(
                    f"no county matches prefectures {prefecture_codes} / counties {county_codes}"
                )
        grid = grid_from_counties(counties, resolution)
        if use_cache and not filtered:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            grid.to_parquet(partial, index=False)
            partial.replace(cached)
    if filtered:
        grid = grid[
            _region_mask(grid["prefecture_code"], grid["county_code"], prefecture_codes, county_codes)
        ]
        grid = grid.reset_index(drop=True)
        if grid.empty:
            raise ValueError(f"no county matches prefectures {prefecture_codes} / counties {county_codes}")
    return grid


def county_regions(prefecture_codes: list[str] | None = None) -> pd.DataFrame:
    """The shipped counties (all, or those of some prefectures) as :data:`REGION_COLUMNS`."""
    counties = load_context("counties")
    regions = pd.DataFrame(
        {
            column: counties[source].astype(str).astype("string")
            for column, source in zip(
                REGION_COLUMNS, ("adcode", "name_zh", "pref_adcode", "pref_name_zh"), strict=True
            )
        }
    )
    return regions[_region_mask(regions["prefecture_code"], regions["county_code"], prefecture_codes, None)]


def _region_mask(
    prefecture: pd.Series,
    county: pd.Series,
    prefecture_codes: list[str] | None,
    county_codes: list[str] | None,
) -> np.ndarray:
    """Rows in any of the given prefectures or counties (everything when both are empty)."""
    if not (prefecture_codes or county_codes):
        return np.ones(len(prefecture), dtype=bool)
    pref = prefecture.astype(str).isin([str(c) for c in prefecture_codes or []])
    cnty = county.astype(str).isin([str(c) for c in county_codes or []])
    return np.asarray(pref | cnty)


def cell_polygons(cells: np.ndarray, metric: bool = False) -> np.ndarray:
    """Hexagon polygons of ``cells`` (shapely array), in EPSG:4326 or the metric CRS."""
    rings = [h3i.cell_to_boundary(int(c)) for c in cells]
    sizes = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    latlng = np.array([p for r in rings for p in r], dtype=float).reshape(-1, 2)
    lon, lat = latlng[:, 1], latlng[:, 0]
    if metric:
        lon, lat = to_metric(lon, lat)
    # linearrings closes each ring itself (repeats its first vertex).
    linear_rings = shapely.linearrings(
        np.column_stack([lon, lat]), indices=np.repeat(np.arange(len(rings)), sizes)
    )
    return shapely.polygons(linear_rings)


def cells_geodataframe(grid: pd.DataFrame) -> gpd.GeoDataFrame:
    """The grid rows as a GeoDataFrame of hexagons in EPSG:4326 (for maps and exports)."""
    frame = grid.copy()
    frame["h3"] = [h3i.int_to_str(int(c)) for c in frame["cell"]]
    return gpd.GeoDataFrame(frame, geometry=cell_polygons(frame["cell"].to_numpy()), crs=WGS84)


class CellIndex:
    """Nearest-neighbour index over a grid's cell centres in the metric CRS."""

    def __init__(self, grid: pd.DataFrame) -> None:
        self.grid = grid
        self.xy = np.column_stack([grid["x_m"].to_numpy(float), grid["y_m"].to_numpy(float)])
        self.tree = cKDTree(self.xy)
        self.row_of_cell = pd.Series(np.arange(len(grid)), index=grid["cell"].to_numpy())

    def rows_near(
        self, x: np.ndarray, y: np.ndarray, radius_m: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """All (query index, grid row) pairs with the cell centre within ``radius_m`` of the query point.

        ``radius_m`` may differ per point; the search runs once at the largest radius (a dual-tree
        pass that returns arrays, fast for a million points), so keep radii of one call similar.
        """
        radius_m = np.broadcast_to(np.asarray(radius_m, dtype=float), np.shape(x))
        if len(x) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        queries = cKDTree(np.column_stack([x, y]))
        pairs = queries.sparse_distance_matrix(self.tree, float(radius_m.max()), output_type="ndarray")
        point, row = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
        keep = pairs["v"] <= radius_m[point]
        return point[keep], row[keep]

    def rows_of_cells(self, cells: np.ndarray) -> np.ndarray:
        """Grid row of each cell id, -1 where the cell is not in this grid."""
        return self.row_of_cell.reindex(np.asarray(cells, dtype=np.int64)).fillna(-1).to_numpy(np.int64)

    def rows_containing(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Grid row of the cell containing each point, -1 where that cell is not in this grid."""
        resolution = h3i.get_resolution(int(self.grid["cell"].iloc[0])) if len(self.grid) else 0
        cells = np.fromiter(
            (h3i.latlng_to_cell(float(b), float(a), resolution) for a, b in zip(lon, lat, strict=True)),
            dtype=np.int64,
            count=len(lon),
        )
        return self.rows_of_cells(cells)
