"""Make geometry small enough to embed in a web page: simplify in metres, round degrees.

Every map layer goes through these helpers so the page stays light (the whole map is sent to
each browser as one HTML document).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.schema import WGS84, XINJIANG_METRIC_CRS


def simplified_metric(
    frame: gpd.GeoDataFrame, tolerance_m: float, coverage: bool = False
) -> gpd.GeoDataFrame:
    """``frame`` in the metric CRS, simplified with a tolerance in metres; empty results dropped.

    ``coverage=True`` simplifies polygons that share borders together (counties), so shared
    edges stay shared and no slivers or gaps appear between neighbours.
    """
    metric = frame.to_crs(XINJIANG_METRIC_CRS)
    if coverage:
        simple = shapely.coverage_simplify(metric.geometry.values, tolerance_m)
        geometry = gpd.GeoSeries(simple, crs=metric.crs, index=metric.index)
    else:
        geometry = metric.geometry.simplify(tolerance_m, preserve_topology=True)
    metric = metric.set_geometry(geometry)
    return metric[~metric.geometry.is_empty]


def for_web(frame: gpd.GeoDataFrame, decimals: int) -> gpd.GeoDataFrame:
    """``frame`` in WGS84 with coordinates rounded to ``decimals``.

    Do this last: rounding can make polygons very slightly invalid, which only matters for
    further geometry operations, not for drawing. Rounding (not grid snapping) keeps the JSON
    short: 87.1234, never 87.12340000000002.
    """
    frame = frame.to_crs(WGS84)
    rounded = shapely.transform(frame.geometry.values, lambda xy: np.round(xy, decimals))
    return frame.set_geometry(gpd.GeoSeries(rounded, index=frame.index, crs=WGS84))


def lines_latlon(lines: gpd.GeoSeries) -> list[list[tuple[float, float]]]:
    """Every LineString part as a list of (lat, lon), the order Leaflet wants."""
    parts = shapely.get_parts(lines.values)
    return [[(lat, lon) for lon, lat in shapely.get_coordinates(part)] for part in parts]


def merged_lines(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """All lines of ``frame`` joined into chains between junctions (no attributes kept).

    Road and river files hold many short segments; chaining them removes the repeated end
    points and lets the simplifier work along whole chains.
    """
    merged = shapely.line_merge(shapely.union_all(frame.geometry.values))
    return gpd.GeoDataFrame(geometry=list(shapely.get_parts(merged)), crs=frame.crs)
