"""Small hand-made registries and scenarios for the patrol planner tests, and a brute-force
solver for tiny single-team routing problems."""

from __future__ import annotations

import itertools
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from layers.schema import DEFAULTS, TARGET_DTYPES, WGS84
from planning.core import RoutingProblem

#: Urumqi city centre (the GeoNames point of Ürümqi).
URUMQI = (87.60046, 43.80096)


def make_targets(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """A registry in the target schema from rows with at least ``id``, ``lon``, ``lat``."""
    records = []
    for row in rows:
        record = {column: DEFAULTS.get(column) for column in TARGET_DTYPES}
        record.update(
            site_id=row["id"],
            name=row.get("name", f"site {row['id']}"),
            layer="pollution_source",
            kind="key_discharge_unit",
            prefecture_code="650100",
            prefecture_name="乌鲁木齐市",
            county_code="650102",
            county_name="天山区",
            last_inspected=pd.Timestamp("2026-06-01"),
        )
        record.update({k: v for k, v in row.items() if k in TARGET_DTYPES})
        record["geometry"] = Point(row["lon"], row["lat"])
        records.append(record)
    frame = gpd.GeoDataFrame(records, crs=WGS84)
    for column, dtype in TARGET_DTYPES.items():
        frame[column] = (
            pd.to_datetime(frame[column]).astype(dtype)
            if column == "last_inspected"
            else frame[column].astype(dtype)
        )
    return frame[[*TARGET_DTYPES, "geometry"]]


def ring_sites(
    count: int, radius_deg: float = 0.3, centre: tuple[float, float] = URUMQI, **extra
) -> list[dict]:
    """``count`` sites on a ring around ``centre`` with varying risk levels."""
    rows = []
    for i in range(count):
        angle = 2 * np.pi * i / count
        rows.append(
            {
                "id": f"PS-{i + 1:05d}",
                "lon": centre[0] + radius_deg * np.cos(angle) * (1 + 0.2 * (i % 3)),
                "lat": centre[1] + 0.7 * radius_deg * np.sin(angle),
                "risk_level": 1 + i % 5,
                **extra,
            }
        )
    return rows


def scenario_dict(**overrides) -> dict:
    """A valid small scenario mapping (great-circle travel, 1 team at Urumqi, 1 day)."""
    raw = {
        "name": "test",
        "start": "2026-11-23",
        "days": 1,
        "work_hours": "10:00-19:30",
        "teams": [{"id": "T1", "base": "Urumqi", "members": 2, "skills": ["sampling"]}],
        "sites": {},
        "lodging": "auto",
        "return_to_base": True,
        "travel": "great_circle",
        "solver": {"seconds": 2, "seed": 1},
    }
    raw.update(overrides)
    return raw


def _schedule(problem: RoutingProblem, sequence: list[int]) -> bool:
    """Whether one vehicle can serve ``sequence`` (start ... end) inside every window."""
    vehicle = problem.vehicles[0]
    t = (vehicle.shift or (0, problem.horizon))[0]
    for prev, node in itertools.pairwise(sequence):
        t = t + problem.nodes[prev].service + int(problem.travel[prev, node])
        windows = problem.nodes[node].windows or ((0, problem.horizon),)
        opening = [max(t, lo) for lo, hi in windows if max(t, lo) <= hi]
        if not opening or t > problem.horizon:
            return False
        t = min(opening)
    return True


def brute_force(problem: RoutingProblem) -> int:
    """Optimal objective of a one-vehicle problem by enumerating every route (tiny inputs only).

    The objective is what :func:`planning.core.solve` minimises: arc costs plus the penalties of
    left-out nodes and skipped groups.
    """
    vehicle = problem.vehicles[0]
    grouped = {i: g for g, group in enumerate(problem.groups) for i in group.nodes}
    loose = [
        i for i in range(len(problem.nodes)) if i not in (vehicle.start, vehicle.end) and i not in grouped
    ]
    best = None
    for picks in itertools.product(*[group.nodes for group in problem.groups]):
        for k in range(len(loose) + 1):
            for subset in itertools.combinations(loose, k):
                penalty = sum(problem.nodes[i].penalty for i in loose if i not in subset)
                for order in itertools.permutations([*subset, *picks]):
                    sequence = [vehicle.start, *order, vehicle.end]
                    cost = penalty + sum(int(problem.cost[a, b]) for a, b in itertools.pairwise(sequence))
                    if (best is None or cost < best) and _schedule(problem, sequence):
                        best = cost
    assert best is not None, "no feasible route"
    return best
