"""Administrative regions: which prefecture and county a geometry lies in, and whether it is in Xinjiang.

Polygons are assigned by their representative point (always inside the polygon), so a zone that
straddles a county line goes to the county holding most of its interior point's neighbourhood
rather than to several counties.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import numpy as np

from layers.datasets import CONTEXT_FILES, data_path, load_context
from layers.schema import WGS84, XINJIANG_METRIC_CRS

REGION_COLUMNS = ("prefecture_code", "prefecture_name", "county_code", "county_name")


def assign_regions(targets: gpd.GeoDataFrame, counties: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Return a copy of ``targets`` with the four region columns filled by spatial join.

    Existing non-empty region values are kept (a file may know better than a 200 m boundary);
    rows outside every county get missing values, which validation reports.
    """
    counties = load_context("counties") if counties is None else counties
    points = gpd.GeoDataFrame(
        geometry=targets.geometry.representative_point(), index=targets.index, crs=WGS84
    )
    joined = gpd.sjoin(
        points,
        counties[["adcode", "name_zh", "pref_adcode", "pref_name_zh", "geometry"]],
        how="left",
        predicate="within",
    )
    # A point exactly on a shared border matches two counties: keep the first deterministically.
    joined = joined[~joined.index.duplicated(keep="first")]
    found = {
        "prefecture_code": joined["pref_adcode"],
        "prefecture_name": joined["pref_name_zh"],
        "county_code": joined["adcode"],
        "county_name": joined["name_zh"],
    }
    result = targets.copy()
    for column, values in found.items():
        values = values.astype("string")
        if column in result.columns:
            current = result[column].astype("string")
            result[column] = current.where(current.notna() & (current.str.strip() != ""), values)
        else:
            result[column] = values
    return result


def inside_xinjiang(
    geometries: gpd.GeoSeries, province: gpd.GeoDataFrame | None = None, tolerance_km: float = 5.0
) -> np.ndarray:
    """Boolean array: is each geometry's representative point inside the Xinjiang outline?

    ``tolerance_km`` accepts points just outside the generalised outline (it is good to a few km).
    """
    outline = _default_outline(tolerance_km) if province is None else _outline(province, tolerance_km)
    points = geometries.representative_point().to_crs(XINJIANG_METRIC_CRS)
    return np.asarray(points.within(outline), dtype=bool)


def _outline(province: gpd.GeoDataFrame, tolerance_km: float):
    """The province outline in the metric CRS, widened by ``tolerance_km``."""
    return province.to_crs(XINJIANG_METRIC_CRS).geometry.union_all().buffer(tolerance_km * 1000)


def _default_outline(tolerance_km: float):
    """The shipped outline, built once per data file (buffering it takes a fifth of a second)."""
    return _cached_outline(str(data_path(CONTEXT_FILES["province"])), tolerance_km)


@functools.lru_cache(maxsize=4)
def _cached_outline(path: str, tolerance_km: float):
    return _outline(gpd.read_file(path), tolerance_km)
