"""Plain VRPTW (Solomon format) on the routing core, in the DIMACS 2021 convention.

The convention (also CVRPLIB's and PyVRP's ``round_func="dimacs"``): every Euclidean distance is
scaled by 10 and truncated to an integer; travel time equals that distance; service times and time
windows are scaled by 10; the objective is total distance only, the fleet size is an upper bound.
Solutions are re-checked here without OR-Tools, with truncated and with exact distances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vrplib

from planning.core import Node, RoutingProblem, RoutingSolution, Vehicle

SCALE = 10
"""Distances, times and windows are multiplied by this before truncation to integers."""


@dataclass(frozen=True)
class SolomonInstance:
    """A Solomon VRPTW instance in its own units. Node 0 is the depot."""

    name: str
    coords: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    capacity: int
    fleet: int

    @property
    def exact_distance(self) -> np.ndarray:
        """Euclidean distances between all nodes, unrounded."""
        delta = self.coords[:, None, :] - self.coords[None, :, :]
        return np.sqrt((delta**2).sum(axis=2))

    @property
    def scaled_distance(self) -> np.ndarray:
        """Distances ×10 truncated to integers (the DIMACS convention)."""
        return _tenths(self.exact_distance)

    def scaled_times(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ready times, due times and service times ×10 as integers."""
        return _tenths(self.ready), _tenths(self.due), _tenths(self.service)


def _tenths(values: np.ndarray) -> np.ndarray:
    """``values`` ×10 truncated towards zero, as PyVRP's ``round_func="dimacs"`` does."""
    return (SCALE * values).astype(np.int64)


def load_solomon(path: str | Path) -> SolomonInstance:
    """Read a Solomon-format file; raise ``ValueError`` naming the file when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such instance file")
    try:
        raw = vrplib.read_instance(str(path), instance_format="solomon")
        windows = np.asarray(raw["time_window"], dtype=float)
        instance = SolomonInstance(
            name=str(raw.get("name") or path.stem),
            coords=np.asarray(raw["node_coord"], dtype=float),
            demand=np.asarray(raw["demand"], dtype=np.int64),
            ready=windows[:, 0],
            due=windows[:, 1],
            service=np.asarray(raw["service_time"], dtype=float),
            capacity=int(raw["capacity"]),
            fleet=int(raw["vehicles"]),
        )
    # vrplib signals malformed files with RuntimeError, ValueError or lookup errors.
    except (KeyError, ValueError, IndexError, TypeError, RuntimeError) as error:
        raise ValueError(f"{path}: not a Solomon VRPTW instance ({error})") from error
    n = len(instance.coords)
    if n < 2 or any(len(a) != n for a in (instance.demand, instance.ready, instance.service)):
        raise ValueError(f"{path}: expected a depot and customers with one row each, got {n} rows")
    if instance.fleet < 1 or instance.capacity < 1:
        raise ValueError(f"{path}: vehicle number and capacity must be positive")
    return instance


def to_problem(instance: SolomonInstance) -> RoutingProblem:
    """The instance as a :class:`RoutingProblem` in the DIMACS convention (all customers mandatory)."""
    distance = instance.scaled_distance
    ready, due, service = instance.scaled_times()
    nodes = tuple(
        Node(
            name=str(i),
            service=int(service[i]),
            windows=((int(ready[i]), int(due[i])),),
            demand=int(instance.demand[i]),
        )
        for i in range(len(distance))
    )
    depot_window = (int(ready[0]), int(due[0]))
    vehicles = tuple(
        Vehicle(start=0, end=0, capacity=instance.capacity, shift=depot_window) for _ in range(instance.fleet)
    )
    return RoutingProblem(nodes, vehicles, distance, distance, horizon=int(due[0]))


def customer_routes(solution: RoutingSolution) -> list[list[int]]:
    """The non-empty routes of ``solution`` as customer sequences, depot excluded."""
    return [route for route in solution.node_routes if route]


@dataclass(frozen=True)
class Evaluation:
    """Distances and feasibility of a set of routes, computed without OR-Tools.

    ``distance`` follows the DIMACS convention (sum of truncated ×10 distances, divided by 10);
    ``exact_distance`` sums unrounded Euclidean distances. ``violations`` lists every breach of
    windows, capacity or the visit-each-customer-once rule under the DIMACS convention;
    ``exact_time_violations`` re-times the same routes with exact travel times (truncation makes
    some optimal DIMACS solutions late by a fraction of a unit).
    """

    distance: float
    exact_distance: float
    vehicles: int
    violations: tuple[str, ...]
    exact_time_violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations


def evaluate(instance: SolomonInstance, routes: Sequence[Sequence[int]]) -> Evaluation:
    """Re-check ``routes`` (customer sequences, depot excluded) against ``instance``."""
    scaled = instance.scaled_distance
    exact = instance.exact_distance
    violations: list[str] = []
    seen: dict[int, int] = {}
    customers = len(instance.coords) - 1
    for r, route in enumerate(routes):
        for customer in route:
            if not 1 <= customer <= customers:
                violations.append(f"route {r}: node {customer} is not a customer")
            elif customer in seen:
                violations.append(f"customer {customer} on routes {seen[customer]} and {r}")
            else:
                seen[customer] = r
        load = int(sum(instance.demand[c] for c in route if 1 <= c <= customers))
        if load > instance.capacity:
            violations.append(f"route {r}: load {load} > capacity {instance.capacity}")
    missing = sorted(set(range(1, customers + 1)) - set(seen))
    if missing:
        violations.append(f"customers not visited: {missing}")
    if violations:
        return Evaluation(math.nan, math.nan, len(routes), tuple(violations), ())
    violations = _timing_violations(routes, scaled, *instance.scaled_times())
    distance = sum(int(scaled[a, b]) for route in routes for a, b in _arcs(route)) / SCALE
    exact_distance = float(sum(exact[a, b] for route in routes for a, b in _arcs(route)))
    return Evaluation(
        distance,
        exact_distance,
        sum(1 for route in routes if route),
        tuple(violations),
        tuple(_timing_violations(routes, exact, instance.ready, instance.due, instance.service)),
    )


def _arcs(route: Sequence[int]) -> list[tuple[int, int]]:
    """The arcs of a route including the legs from and back to the depot."""
    stops = [0, *route, 0]
    return list(zip(stops, stops[1:], strict=False))


def _timing_violations(
    routes: Sequence[Sequence[int]],
    travel: np.ndarray,
    ready: np.ndarray,
    due: np.ndarray,
    service: np.ndarray,
) -> list[str]:
    """Late service starts at customers or late returns to the depot, all in one time unit."""
    # Exact Euclidean sums carry float noise far below the data's resolution.
    tolerance = 1e-6
    violations = []
    for r, route in enumerate(routes):
        clock = ready[0]
        previous = 0
        for customer in route:
            clock = max(clock + travel[previous, customer], ready[customer])
            if clock > due[customer] + tolerance:
                violations.append(
                    f"route {r}: customer {customer} starts at {clock:g} > due {due[customer]:g}"
                )
            clock += service[customer]
            previous = customer
        clock += travel[previous, 0]
        if clock > due[0] + tolerance:
            violations.append(f"route {r}: back at the depot at {clock:g} > due {due[0]:g}")
    return violations


def read_bks(path: str | Path) -> dict[str, float]:
    """Best-known distances by instance name from a ``BKS.csv`` (instance, vehicles, distance, ...)."""
    path = Path(path)
    bks: dict[str, float] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [cell.strip() for cell in lines[0].split(",")] if lines else []
    if "instance" not in header or "distance" not in header:
        raise ValueError(f"{path}: expected columns 'instance' and 'distance', got {header}")
    name_col, distance_col = header.index("instance"), header.index("distance")
    for row, line in enumerate(lines[1:], start=2):
        cells = [cell.strip() for cell in line.split(",")]
        if not line.strip():
            continue
        try:
            bks[cells[name_col]] = float(cells[distance_col])
        except (IndexError, ValueError) as error:
            raise ValueError(f"{path}: row {row}: bad 'distance' ({error})") from error
    return bks
