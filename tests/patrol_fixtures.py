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
        "solver": {"effort": 5, "seed": 1},
    }
    raw.update(overrides)
    return raw


def _forward(problem: RoutingProblem, leave: int, nodes: list[int]) -> int | None:
    """Arrival at ``nodes[-1]`` leaving ``nodes[0]`` at ``leave``, serving the nodes between
    inside their windows (None if one is missed)."""
    t = leave
    for prev, node in itertools.pairwise(nodes):
        t += int(problem.travel[prev, node])
        if node == nodes[-1]:
            return t
        windows = problem.nodes[node].windows or ((0, problem.horizon),)
        opening = [max(t, lo) for lo, hi in windows if max(t, lo) <= hi]
        if not opening:
            return None
        t = min(opening) + problem.nodes[node].service
    return t


def _schedule(problem: RoutingProblem, sequence: list[int]) -> bool:
    """Whether one vehicle can serve ``sequence`` (start ... end) inside every window and, with
    duty limits, every duty (rest node to rest node) inside them: its driving, and its length
    with the latest departure that still arrives as early (found by trying every minute)."""
    vehicle = problem.vehicles[0]
    depart = (vehicle.shift or (0, problem.horizon))[0] + problem.nodes[sequence[0]].service
    cuts = [0] + [i for i, n in enumerate(sequence) if problem.nodes[n].rest] + [len(sequence) - 1]
    drive = problem.travel if problem.drive is None else problem.drive
    for a, b in itertools.pairwise(cuts):
        duty = sequence[a : b + 1]
        arrival = _forward(problem, depart, duty)
        if arrival is None or arrival > problem.horizon:
            return False
        end = problem.nodes[duty[-1]]
        windows = end.windows or ((0, problem.horizon),)
        opening = [max(arrival, lo) for lo, hi in windows if max(arrival, lo) <= hi]
        if not opening:
            return False
        if problem.duty is not None:
            leave = depart
            while _forward(problem, leave + 1, duty) == arrival:
                leave += 1
            driven = sum(int(drive[x, y]) for x, y in itertools.pairwise(duty))
            if arrival - leave > problem.duty.max_duty or driven > problem.duty.max_drive:
                return False
        depart = max(min(opening) + end.service, end.release)
    return True


def _workload(problem: RoutingProblem, sequence: list[int]) -> int:
    """The workload term of a route's cost (see planning.core.DutyLimits)."""
    if problem.duty is None or not problem.duty.workload_scale or len(sequence) == 2:
        return 0
    drive = problem.travel if problem.drive is None else problem.drive
    work = sum(int(drive[x, y]) for x, y in itertools.pairwise(sequence))
    work += sum(problem.nodes[n].service for n in sequence[1:-1] if not problem.nodes[n].rest)
    return work * work // problem.duty.workload_scale


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
                if any(problem.nodes[i].penalty is None for i in loose if i not in subset):
                    continue
                penalty = sum(problem.nodes[i].penalty for i in loose if i not in subset)
                for order in itertools.permutations([*subset, *picks]):
                    sequence = [vehicle.start, *order, vehicle.end]
                    cost = penalty + sum(int(problem.cost[a, b]) for a, b in itertools.pairwise(sequence))
                    cost += _workload(problem, sequence)
                    if (best is None or cost < best) and _schedule(problem, sequence):
                        best = cost
    assert best is not None, "no feasible route"
    return best
