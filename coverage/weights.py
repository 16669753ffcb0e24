"""Attention weights: how much each grid cell deserves a patrol's attention.

A cell's weight is the sum of what the layers put in it (defaults in :class:`CoverageWeights`;
``docs/coverage.md`` explains the choice):

* **pollution sources** — each source adds ``source_base + source_per_priority_point × priority``
  to the cell containing it, where ``priority`` is the 0–100 score of :mod:`layers.priority`
  (risk, overdue, complaints, violations, closeness to a sensitive zone) on the ``as_of`` day.
  Stopped and relocated units count ``inactive_source_factor`` of that (an idle plant restarting
  unseen is a classic violation, but it needs less attention than a running one).
* **drinking-water zones** — ``water_zone_per_km2`` per km² of the zone inside the cell (exact
  polygon ∩ hexagon area); a water source given only as a point adds ``water_point``.
* **protected areas** — ``protected_area_per_km2`` per km² inside the cell.
* **river corridors** — ``river_per_km`` per km of river or lake shore inside the cell.

Area layers are measured by exact intersection in the metric CRS, so the weight of a layer is the
same in total whatever the resolution, and a region's weight is the sum of its cells' weights.
A cell that none of the layers touches (empty desert, bare mountains) weighs 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from itertools import chain

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.grid import CellIndex, cell_polygons
from layers.priority import priority_breakdown
from layers.schema import INACTIVE_STATUSES, XINJIANG_METRIC_CRS

#: Weight components, in display order; they sum to ``weight``.
COMPONENTS = ("w_source", "w_water", "w_protected", "w_river")


@dataclass(frozen=True)
class CoverageWeights:
    """Configurable attention weights (units are arbitrary "attention points")."""

    #: Every operating pollution source counts at least this much...
    source_base: float = 1.0
    #: ...plus this per point of its 0–100 priority (so a source weighs 1 to 11).
    source_per_priority_point: float = 0.1
    #: Share of the weight kept by stopped or relocated units.
    inactive_source_factor: float = 0.25
    #: Per km² of drinking-water source protection zone (a typical 6 km² zone ≈ 12 points).
    water_zone_per_km2: float = 2.0
    #: A drinking-water source known only as a point.
    water_point: float = 5.0
    #: Per km² of protected area (a 36 km² cell inside a reserve ≈ 0.7 points).
    protected_area_per_km2: float = 0.02
    #: Per km of river or lake shore (a res-6 cell crossed by a river ≈ 0.6 points).
    river_per_km: float = 0.1

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) < 0:
                raise ValueError(
                    f"CoverageWeights.{item.name} must not be negative, got {getattr(self, item.name)}"
                )


def source_weights(
    sources: gpd.GeoDataFrame, as_of: date, weights: CoverageWeights, zones: gpd.GeoDataFrame | None = None
) -> pd.Series:
    """Attention weight of each pollution source (indexed like ``sources``)."""
    if len(sources) == 0:
        return pd.Series(dtype=float)
    priority = priority_breakdown(sources, as_of, zones=zones)["priority"].astype(float)
    value = weights.source_base + weights.source_per_priority_point * priority
    inactive = sources["status"].astype("string").isin(INACTIVE_STATUSES).fillna(False).to_numpy(bool)
    return value.where(~inactive, value * weights.inactive_source_factor)


def _two_point_segments(lines: np.ndarray, per_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every straight segment of some (multi)lines, with the per-unit value of its line."""
    parts, owner = shapely.get_parts(lines, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    joined = np.flatnonzero(part[1:] == part[:-1])
    segments = shapely.linestrings(np.stack([coords[joined], coords[joined + 1]], axis=1))
    return segments, per_unit[owner[part[joined]]]


def _measure_in_cells(index: CellIndex, shapes: np.ndarray, per_unit: np.ndarray, lines: bool) -> np.ndarray:
    """Per grid row: Σ per_unit × (area km² or length km) of each metric shape inside the cell."""
    total = np.zeros(len(index.grid))
    shapes = np.asarray(shapes)
    keep = ~shapely.is_empty(shapes)
    shapes, per_unit = shapes[keep], np.asarray(per_unit, dtype=float)[keep]
    if len(shapes) == 0:
        return total
    if lines:
        shapes, per_unit = _two_point_segments(shapes, per_unit)
    # Candidate cells: centres within a cell size of the circle around each shape's bounding box
    # (every hexagon touching the shape is), so exact intersections run only where they can hit.
    # Lines are cut into their straight segments first, which keeps those circles tight.
    reach_m = float(np.sqrt(index.grid["area_km2"].max() * 1e6))
    xmin, ymin, xmax, ymax = shapely.bounds(shapes).T
    hits = index.tree.query_ball_point(
        np.column_stack([(xmin + xmax) / 2, (ymin + ymax) / 2]),
        r=np.hypot(xmax - xmin, ymax - ymin) / 2 + reach_m,
        return_sorted=False,
    )
    candidate = np.unique(np.fromiter(chain.from_iterable(hits), dtype=np.int64))
    if len(candidate) == 0:
        return total
    hexagons = cell_polygons(index.grid["cell"].to_numpy()[candidate], metric=True)
    shape_idx, hex_idx = shapely.STRtree(hexagons).query(shapes, predicate="intersects")
    if lines:
        amount = shapely.length(shapely.intersection(shapes[shape_idx], hexagons[hex_idx])) / 1e3
    else:
        # Hexagons wholly inside a zone (most of a large reserve) need no intersection.
        shapely.prepare(shapes)
        inside = shapely.contains_properly(shapes[shape_idx], hexagons[hex_idx])
        amount = shapely.area(hexagons[hex_idx]) / 1e6
        edge = ~inside
        amount[edge] = (
            shapely.area(shapely.intersection(shapes[shape_idx[edge]], hexagons[hex_idx[edge]])) / 1e6
        )
    np.add.at(total, candidate[hex_idx], amount * per_unit[shape_idx])
    return total


def cell_weights(
    grid: pd.DataFrame,
    targets: gpd.GeoDataFrame,
    as_of: date,
    rivers: gpd.GeoDataFrame | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    weights: CoverageWeights | None = None,
    index: CellIndex | None = None,
) -> pd.DataFrame:
    """Weight components (:data:`COMPONENTS`) and their sum ``weight``, one row per grid row.

    ``targets`` is in the target schema; ``rivers`` are lines and ``lakes`` polygons (their shore
    counts as river). Sources outside the grid add nothing.
    """
    weights = weights or CoverageWeights()
    index = index or CellIndex(grid)
    parts = {name: np.zeros(len(grid)) for name in COMPONENTS}
    layer = targets["layer"].astype("string")
    zones = targets[layer.isin(["water_source", "protected_area"]).fillna(False).to_numpy(bool)]

    sources = targets[(layer == "pollution_source").fillna(False).to_numpy(bool)]
    if len(sources):
        rows = index.rows_containing(sources.geometry.x.to_numpy(), sources.geometry.y.to_numpy())
        amount = source_weights(sources, as_of, weights, zones).to_numpy()
        np.add.at(parts["w_source"], rows[rows >= 0], amount[rows >= 0])

    water = targets[(layer == "water_source").fillna(False).to_numpy(bool)]
    is_point = (water.geom_type == "Point").to_numpy()
    water_points = water[is_point]
    if len(water_points):
        rows = index.rows_containing(water_points.geometry.x.to_numpy(), water_points.geometry.y.to_numpy())
        np.add.at(parts["w_water"], rows[rows >= 0], weights.water_point)
    water_metric = water[~is_point].geometry.to_crs(XINJIANG_METRIC_CRS).to_numpy()
    parts["w_water"] += _measure_in_cells(
        index, water_metric, np.full(len(water_metric), weights.water_zone_per_km2), lines=False
    )

    protected = targets[(layer == "protected_area").fillna(False).to_numpy(bool)]
    protected_metric = protected.geometry.to_crs(XINJIANG_METRIC_CRS).to_numpy()
    parts["w_protected"] = _measure_in_cells(
        index, protected_metric, np.full(len(protected_metric), weights.protected_area_per_km2), lines=False
    )

    water_lines = []
    if rivers is not None and len(rivers):
        water_lines.append(rivers.geometry.to_crs(XINJIANG_METRIC_CRS).to_numpy())
    if lakes is not None and len(lakes):
        water_lines.append(shapely.boundary(lakes.geometry.to_crs(XINJIANG_METRIC_CRS).to_numpy()))
    if water_lines:
        lines = np.concatenate(water_lines)
        parts["w_river"] = _measure_in_cells(
            index, lines, np.full(len(lines), weights.river_per_km), lines=True
        )

    result = pd.DataFrame(parts, index=grid.index)
    result["weight"] = result[list(COMPONENTS)].sum(axis=1)
    return result
