"""Road closures by season or date: which road edges cannot be driven on a given day.

A :class:`Closure` is a road section (a (Multi)LineString) or an area (a (Multi)Polygon) in
WGS84 lon/lat, with a period: ``"10-01..05-31"`` (every year, month-day to month-day inclusive,
may wrap the new year), ``"2026-12-07..2026-12-09"`` (fixed dates, inclusive) or one date
``"2026-12-07"``. The shipped layer is ``data/geo/road_closures.geojson`` (winter passes, see
``data/SOURCES.md``); extra closures (a sandstorm, a flood) use the same columns.

Matching rule (in :data:`layers.schema.XINJIANG_METRIC_CRS`):

* an **area** closes every edge that intersects it;
* a **line** closes an edge when at least half of the edge's length lies within
  :data:`LINE_MATCH_M` of the line. A road that merely crosses or touches a closed section
  keeps most of its length away from it and stays open.

Removing edges may cut points off the main network: that is correct (they become unreachable,
``inf`` in a travel matrix). :func:`network_with_closures` returns a network with a different
``content_hash``, so cached matrices of open and closed networks never mix.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from layers.datasets import data_path
from layers.schema import WGS84, XINJIANG_BBOX, XINJIANG_METRIC_CRS
from planning.roads import RoadNetwork

#: The shipped closure layer, relative to the data directory.
CLOSURES_FILE = "geo/road_closures.geojson"
#: A line closes an edge when at least half the edge lies within this distance of it (m): wide
#: enough for a closure line drawn along a road from another source, narrow enough that the
#: valley road next to a pass is not caught.
LINE_MATCH_M = 1500.0
#: Share of an edge's length that must lie near a closure line.
LINE_MATCH_SHARE = 0.5
COLUMNS = ("id", "name", "reason", "period", "source", "confidence")
CONFIDENCES = ("high", "medium", "approximate")

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Closure:
    """One closed road section or area (see the module docstring for ``period``)."""

    id: str
    name: str
    reason: str
    geometry: BaseGeometry
    period: str
    source: str
    confidence: str

    def in_force(self, day: datetime.date) -> bool:
        """True if the closure applies on ``day`` (both ends of the period included)."""
        start, _, end = self.period.partition("..")
        end = end or start
        if _DATE.match(start):
            return datetime.date.fromisoformat(start) <= day <= datetime.date.fromisoformat(end)
        today = (day.month, day.day)
        first, last = _month_day(start), _month_day(end)
        if first <= last:
            return first <= today <= last
        return today >= first or today <= last  # wraps the new year


def _month_day(text: str) -> tuple[int, int]:
    month, day = _MONTH_DAY.match(text).groups()  # type: ignore[union-attr]
    return int(month), int(day)


def parse_period(text: str, where: str) -> str:
    """The period, stripped, if valid; ``ValueError(f"{where}: ...")`` otherwise."""
    period = str(text).strip()
    start, sep, end = period.partition("..")
    if not sep:
        end = start
    parts = [start.strip(), end.strip()]
    problem = f"{where}: period {text!r} must be MM-DD..MM-DD, YYYY-MM-DD..YYYY-MM-DD or YYYY-MM-DD"
    if all(_DATE.match(part) for part in parts):
        try:
            first, last = (datetime.date.fromisoformat(part) for part in parts)
        except ValueError as error:
            raise ValueError(f"{problem} ({error})") from None
        if last < first:
            raise ValueError(f"{where}: period {text!r} ends before it starts")
    elif sep and all(_MONTH_DAY.match(part) for part in parts):
        for part in parts:
            month, day = _month_day(part)
            try:
                datetime.date(2024, month, day)  # a leap year: 02-29 is a valid yearly date
            except ValueError:
                raise ValueError(f"{where}: period {text!r} has no day {part!r}") from None
    else:
        raise ValueError(problem)
    return f"{parts[0]}..{parts[1]}" if sep else parts[0]


def closures_from_frame(frame: gpd.GeoDataFrame, source: str) -> tuple[Closure, ...]:
    """Closures from a GeoDataFrame with :data:`COLUMNS` and a geometry.

    ``ValueError`` naming ``source``, the row (1-based) and the field for a missing column,
    an empty or invalid value, a duplicate id, a geometry that is not a line or polygon, a CRS
    that cannot be converted, or coordinates outside the Xinjiang box (lon 73-97, lat 34-50).
    """
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)})")
    if frame.crs is not None:
        try:
            frame = frame.to_crs(WGS84)
        except Exception as error:  # pyproj raises several types; all mean the same here
            raise ValueError(f"{source}: CRS {frame.crs} cannot be converted to {WGS84} ({error})") from None
    frame = frame.reset_index(drop=True)
    lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
    closures: list[Closure] = []
    seen: set[str] = set()
    for index, row in frame.iterrows():
        where = f"{source} row {int(index) + 1}"  # type: ignore[call-overload]
        values = {}
        for column in COLUMNS:
            value = row[column]
            if value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip():
                raise ValueError(f"{where}: field {column!r} is empty")
            if isinstance(value, datetime.date):  # GeoJSON readers turn "2026-12-07" into a timestamp
                value = (value.date() if isinstance(value, datetime.datetime) else value).isoformat()
            values[column] = str(value).strip()
        if values["id"] in seen:
            raise ValueError(f"{where}: field 'id' {values['id']!r} is a duplicate")
        seen.add(values["id"])
        if values["confidence"] not in CONFIDENCES:
            raise ValueError(
                f"{where}: field 'confidence' must be one of {', '.join(CONFIDENCES)}, got {values['confidence']!r}"
            )
        values["period"] = parse_period(values["period"], f"{where}: field 'period'")
        geometry = row[frame.geometry.name]
        kind = None if geometry is None else geometry.geom_type
        if kind not in ("LineString", "MultiLineString", "Polygon", "MultiPolygon") or geometry.is_empty:
            raise ValueError(
                f"{where}: field 'geometry' must be a (Multi)LineString or (Multi)Polygon, got {kind}"
            )
        x0, y0, x1, y1 = geometry.bounds
        if x0 < lon_min or x1 > lon_max or y0 < lat_min or y1 > lat_max:
            raise ValueError(
                f"{where}: field 'geometry' lies outside the Xinjiang box lon {lon_min:g}-{lon_max:g}, "
                f"lat {lat_min:g}-{lat_max:g} (bounds {x0:.3f}, {y0:.3f}, {x1:.3f}, {y1:.3f})"
            )
        closures.append(Closure(geometry=geometry, **values))
    return tuple(closures)


def load_closures(path: str | Path | None = None) -> tuple[Closure, ...]:
    """Closures from a vector file (default: the shipped ``geo/road_closures.geojson``)."""
    resolved = Path(path) if path is not None else data_path(CLOSURES_FILE)
    if not resolved.is_file():
        raise ValueError(f"{resolved}: file not found")
    try:
        frame = gpd.read_file(resolved)
    except Exception as error:  # pyogrio's errors have no common public base class
        raise ValueError(f"{resolved}: not a readable vector file ({error})") from None
    return closures_from_frame(frame, str(resolved))


#: Corners of the polygon that stands for a circular closed area.
CIRCLE_SEGMENTS = 48
_GEOD = Geod(ellps="WGS84")


def circle(lon: float, lat: float, radius_km: float, segments: int = CIRCLE_SEGMENTS) -> Polygon:
    """A polygon approximating the circle of ``radius_km`` around (lon, lat) on the ellipsoid
    (a sandstorm or a washed-out road closes an area)."""
    azimuths = [360.0 * k / segments for k in range(segments)]
    lons, lats, _ = _GEOD.fwd([lon] * segments, [lat] * segments, azimuths, [radius_km * 1000.0] * segments)
    return Polygon(list(zip(lons, lats, strict=True)))


def in_force(closures: Iterable[Closure], day: datetime.date) -> tuple[Closure, ...]:
    """The closures that apply on ``day``, in their order."""
    return tuple(closure for closure in closures if closure.in_force(day))


def closed_edge_mask(network: RoadNetwork, closures: Sequence[Closure]) -> np.ndarray:
    """True for every edge of ``network`` that one of ``closures`` closes (module docstring)."""
    closed = np.zeros(len(network.edge_km), dtype=bool)
    if not closures:
        return closed
    metric = gpd.GeoSeries([closure.geometry for closure in closures], crs=WGS84).to_crs(XINJIANG_METRIC_CRS)
    is_area = metric.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    tree = shapely.STRtree(network.edge_lines)
    if is_area.any():
        _, edges = tree.query(metric[is_area].to_numpy(), predicate="intersects")
        closed[edges] = True
    if (~is_area).any():
        # flat ends: a short road leaving the end of a closed section is not "along" it
        buffers = shapely.buffer(metric[~is_area].to_numpy(), LINE_MATCH_M, cap_style="flat")
        which, edges = tree.query(buffers, predicate="intersects")
        lines = network.edge_lines[edges]
        near = shapely.length(shapely.intersection(lines, buffers[which]))
        total = np.maximum(shapely.length(lines), 1e-9)
        closed[edges[near >= LINE_MATCH_SHARE * total]] = True
    return closed


def network_with_closures(network: RoadNetwork, closures: Sequence[Closure]) -> RoadNetwork:
    """``network`` without the edges ``closures`` close; ``network`` itself if none is closed.

    Results are cached per network content and closure ids (closures are immutable, and an
    id names one closure within a layer).
    """
    closures = tuple(closures)
    if not closures:
        return network
    result = _with_closures(_Keyed(network), tuple(sorted({c.id: c for c in closures}.items())))
    # nothing closed: the cache may hold an equal network built elsewhere; give back this one
    return network if result.content_hash == network.content_hash else result


class _Keyed:
    """A network hashed by its content, so the cache holds on to equal networks only once."""

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network

    def __hash__(self) -> int:
        return hash(self.network.content_hash)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and other.network.content_hash == self.network.content_hash


@functools.lru_cache(maxsize=32)
def _with_closures(keyed: _Keyed, closures: tuple[tuple[str, Closure], ...]) -> RoadNetwork:
    mask = closed_edge_mask(keyed.network, [closure for _, closure in closures])
    return keyed.network.without_edges(mask) if mask.any() else keyed.network
