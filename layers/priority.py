"""Explainable inspection priority: a 0-100 score that is the sum of five visible parts.

For a target with risk level ``r`` (1-5), inspection interval ``T`` days, last inspection ``L``,
``c`` complaints in the last year, ``v`` violations in the last three years and distance ``d`` km
from the nearest sensitive zone, scored on the day ``as_of``::

    risk        = W_risk        * (r - 1) / 4
    overdue     = W_overdue     * min(g, G) / G     g = (as_of - L) / T;  g = G if never inspected
    complaints  = W_complaints  * min(c, C) / C
    violations  = W_violations  * min(v, V) / V
    sensitivity = W_sensitivity * max(0, 1 - d / R)     d = 0 inside (or touching) a zone
    priority    = risk + overdue + complaints + violations + sensitivity

Default weights (:class:`PriorityParams`): ``W_risk`` 30, ``W_overdue`` 25, ``W_complaints`` 15,
``W_violations`` 10, ``W_sensitivity`` 20 (sum 100, so the total is on a 0-100 scale); caps
``G`` = 2 intervals, ``C`` = 6 complaints, ``V`` = 4 violations; sensitivity radius ``R`` = 5 km.

* A site inspected exactly one interval ago scores half the overdue points; two intervals or
  more (and never inspected) score all of them. A last inspection after ``as_of`` counts as 0.
* Sensitive zones are drinking-water source zones and protected areas. A zone target is inside
  itself, so water-source zones and protected areas always get the full sensitivity points.
  Distances are measured in :data:`layers.schema.XINJIANG_METRIC_CRS` between the geometries
  (a polygon target inside or touching a zone has distance 0), using a spatial index.
* Missing values take the schema defaults (risk 3, interval 90 days, 0 complaints/violations).
* Status does not change the score; stopped and relocated units are filtered out by the draw and
  by planning, not here.

Every part is non-decreasing in its input, so more complaints (or violations, risk, days since the
last inspection, closeness to a zone) never lower the priority. ``docs/priority.md`` has the same
formula with worked examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.schema import DEFAULTS, XINJIANG_METRIC_CRS

#: Layers whose targets are sensitive zones.
ZONE_LAYERS = ("water_source", "protected_area")
#: The score's parts, in display order; they sum to ``priority``.
FACTORS = ("risk", "overdue", "complaints", "violations", "sensitivity")


@dataclass(frozen=True)
class PriorityParams:
    """Weights (points; they should sum to 100) and caps of the priority score."""

    risk_weight: float = 30.0
    overdue_weight: float = 25.0
    complaints_weight: float = 15.0
    violations_weight: float = 10.0
    sensitivity_weight: float = 20.0
    #: Overdue ratio (days since last inspection / interval) at which the overdue part is full.
    overdue_cap: float = 2.0
    complaints_cap: int = 6
    violations_cap: int = 4
    #: Sensitivity falls linearly from full inside a zone to 0 at this distance.
    sensitivity_radius_km: float = 5.0

    def __post_init__(self) -> None:
        for name in ("overdue_cap", "complaints_cap", "violations_cap", "sensitivity_radius_km"):
            if getattr(self, name) <= 0:
                raise ValueError(f"PriorityParams.{name} must be positive, got {getattr(self, name)}")
        for name in (
            "risk_weight",
            "overdue_weight",
            "complaints_weight",
            "violations_weight",
            "sensitivity_weight",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"PriorityParams.{name} must not be negative, got {getattr(self, name)}")


def overdue_ratio(targets: pd.DataFrame, as_of: date, cap: float) -> pd.Series:
    """Days since the last inspection divided by the interval, capped; ``cap`` if never inspected."""
    last = pd.to_datetime(targets["last_inspected"])
    days = (pd.Timestamp(as_of) - last).dt.days.astype("Float64").clip(lower=0)
    every = pd.to_numeric(targets["inspect_every_days"]).astype("Float64")
    every = every.where(every > 0, float(DEFAULTS["inspect_every_days"]))
    every = every.fillna(float(DEFAULTS["inspect_every_days"]))
    ratio = (days / every).fillna(cap).clip(upper=cap)
    return ratio.astype(float)


def zone_distances(targets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, radius_km: float) -> pd.DataFrame:
    """Distance to the nearest zone within ``radius_km`` (km, NaN beyond) and that zone's ``site_id``.

    Indexed like ``targets``; a target inside or touching a zone has distance 0.
    """
    result = pd.DataFrame({"zone_distance_km": np.nan, "nearest_zone": pd.NA}, index=targets.index)
    result["nearest_zone"] = result["nearest_zone"].astype("string")
    if len(zones) == 0 or len(targets) == 0:
        return result
    metric_targets = targets.geometry.to_crs(XINJIANG_METRIC_CRS).to_numpy()
    metric_zones = zones.to_crs(XINJIANG_METRIC_CRS)
    target_idx, zone_idx = metric_zones.sindex.query(
        metric_targets, predicate="dwithin", distance=radius_km * 1000
    )
    if len(target_idx) == 0:
        return result
    pairs = pd.DataFrame(
        {
            "target": target_idx,
            "distance_km": shapely.distance(
                metric_targets[target_idx], metric_zones.geometry.to_numpy()[zone_idx]
            )
            / 1000,
            "zone": zones["site_id"].to_numpy()[zone_idx] if "site_id" in zones else zone_idx.astype(str),
        }
    )
    # Nearest first, then by zone id so ties resolve the same way every time.
    nearest = pairs.sort_values(["target", "distance_km", "zone"]).drop_duplicates("target")
    rows = targets.index[nearest["target"].to_numpy()]
    result.loc[rows, "zone_distance_km"] = nearest["distance_km"].to_numpy()
    result.loc[rows, "nearest_zone"] = nearest["zone"].astype(str).to_numpy()
    return result


def priority_breakdown(
    targets: gpd.GeoDataFrame,
    as_of: date,
    zones: gpd.GeoDataFrame | None = None,
    params: PriorityParams | None = None,
) -> pd.DataFrame:
    """Points per factor (:data:`FACTORS`) and their sum ``priority``, indexed like ``targets``.

    ``zones`` are the sensitive zones; by default the water-source and protected-area rows of
    ``targets`` itself (pass ``load_targets(ZONE_LAYERS)`` when scoring only some layers).
    """
    params = params or PriorityParams()
    if zones is None:
        zones = targets[targets["layer"].isin(ZONE_LAYERS)]
    risk = pd.to_numeric(targets["risk_level"]).astype("Float64").fillna(float(DEFAULTS["risk_level"]))
    complaints = pd.to_numeric(targets["complaints_1y"]).astype("Float64").fillna(0.0).clip(lower=0)
    violations = pd.to_numeric(targets["violations_3y"]).astype("Float64").fillna(0.0).clip(lower=0)
    distance = zone_distances(targets, zones, params.sensitivity_radius_km)["zone_distance_km"]
    parts = pd.DataFrame(
        {
            "risk": params.risk_weight * ((risk.clip(1, 5) - 1) / 4).astype(float),
            "overdue": params.overdue_weight
            * overdue_ratio(targets, as_of, params.overdue_cap)
            / params.overdue_cap,
            "complaints": params.complaints_weight
            * (complaints.clip(upper=params.complaints_cap) / params.complaints_cap).astype(float),
            "violations": params.violations_weight
            * (violations.clip(upper=params.violations_cap) / params.violations_cap).astype(float),
            "sensitivity": params.sensitivity_weight
            * (1 - distance / params.sensitivity_radius_km).clip(lower=0).fillna(0.0),
        },
        index=targets.index,
    )
    parts["priority"] = parts[list(FACTORS)].sum(axis=1)
    return parts


def add_priority(
    targets: gpd.GeoDataFrame,
    as_of: date,
    zones: gpd.GeoDataFrame | None = None,
    params: PriorityParams | None = None,
) -> gpd.GeoDataFrame:
    """A copy of ``targets`` with ``priority`` and one ``priority_<factor>`` column per factor."""
    parts = priority_breakdown(targets, as_of, zones, params)
    result = targets.copy()
    for factor in FACTORS:
        result[f"priority_{factor}"] = parts[factor]
    result["priority"] = parts["priority"]
    return result
