"""PyVRP (0.14) as an engine of the routing core, for the problems whose rules it holds exactly.

:func:`unfit_reason` says why a :class:`~planning.core.RoutingProblem` does not fit PyVRP's model
(or ``None`` when it fits): several time windows per node, choose-one groups, duty limits and rest
nodes, vehicle restrictions, preferences, locked nodes, blackouts, depot service or demand are
refused with the reason, never dropped. A fitting problem is translated one to one
(:func:`to_pyvrp`): every node is a PyVRP location (matrices in the core's node order, the
``cost`` matrix as PyVRP's distance and ``travel`` as its duration), start and end nodes are depots,
the others clients with their service, one window, demand (when any node has one) and, for an
optional node, its penalty as a prize; vehicles with the same start, end, capacity, shift and fixed
cost form one vehicle type, whose time window is the shift met with the depots' windows and the
horizon. The routes come back as the core's :class:`~planning.core.RoutingSolution`, with the
objective recomputed in the core's terms (arc costs, fixed costs of used vehicles, penalties of
left-out nodes).

:func:`solve_with` runs an engine by name (:data:`ENGINES`): ``xunhu`` (the core's own
:func:`planning.core.solve`), ``pyvrp``, or ``portfolio``: with two or more workers PyVRP and the
core run in parallel processes on the same budget and the better solution is kept; with one
worker the engine is chosen by fit (PyVRP when the problem fits, else the core).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from planning.core import RoutingProblem, RoutingSolution, SolveParams, Visit, solve

ENGINES = ("xunhu", "pyvrp", "portfolio")
"""Engine names understood by :func:`solve_with`."""


def unfit_reason(problem: RoutingProblem) -> str | None:
    """Why ``problem`` does not fit PyVRP's model exactly, or ``None`` when it does."""
    if problem.duty is not None:
        return "duty limits (driving and duty per day) are not in PyVRP's model"
    if problem.groups:
        return "choose-one groups (lodging) are not translated to PyVRP"
    depots = problem.depots
    if len(depots) == len(problem.nodes):
        return "the problem has no customers"
    for label, matrix in (("travel", problem.travel), ("cost", problem.cost)):
        if np.any(np.asarray(matrix) < 0):
            return f"the {label} matrix has negative entries"
        if np.any(np.diagonal(matrix) != 0):
            return f"the {label} matrix has a non-zero diagonal"
    for i, node in enumerate(problem.nodes):
        label = f"node {i} ({node.name})"
        if len(node.windows) > 1:
            return f"{label} has {len(node.windows)} time windows; PyVRP allows one per client"
        if node.rest or node.release:
            return f"{label} is a rest node or has a release time (duty rules)"
        if node.vehicles is not None:
            return f"{label} is restricted to some vehicles"
        if node.prefer is not None or node.move_cost:
            return f"{label} has a preferred vehicle and time (re-planning stability)"
        if node.locked:
            return f"{label} is locked on its route"
        if node.demand < 0:
            return f"{label} has a negative demand"
        if node.service < 0:
            return f"{label} has a negative service time"
        if i in depots:
            if node.service or node.demand:
                return f"{label} is a start or end node with service time or demand"
            if node.penalty is not None:
                return f"{label} is a start or end node with a penalty"
    for v, vehicle in enumerate(problem.vehicles):
        if vehicle.blackouts:
            return f"vehicle {v} has blackouts"
        if vehicle.fixed_cost < 0 or vehicle.capacity < 0:
            return f"vehicle {v} has a negative fixed cost or capacity"
        lo, start_hi, end_hi = _vehicle_window(problem, v)
        if lo > start_hi or lo > end_hi:
            return f"vehicle {v} has no time to start or end (shift and depot windows do not meet)"
    return None


def _window(problem: RoutingProblem, node: int) -> tuple[int, int]:
    """The node's single window within [0, horizon] (the whole horizon without a window)."""
    windows = problem.nodes[node].windows
    lo, hi = windows[0] if windows else (0, problem.horizon)
    return max(0, lo), min(problem.horizon, hi)


def _vehicle_window(problem: RoutingProblem, v: int) -> tuple[int, int, int]:
    """(earliest start, latest start, latest end) of vehicle ``v``: its shift met with its start
    and end nodes' windows and the horizon. (An earliest end never binds: the vehicle may wait.)"""
    vehicle = problem.vehicles[v]
    shift_lo, shift_hi = vehicle.shift or (0, problem.horizon)
    start_lo, start_hi = _window(problem, vehicle.start)
    _, end_hi = _window(problem, vehicle.end)
    return max(shift_lo, start_lo, 0), min(shift_hi, start_hi), min(shift_hi, end_hi)


@dataclass(frozen=True)
class Translation:
    """A problem as PyVRP data, with the maps back: ``depots[k]`` / ``clients[k]`` is the core
    node of PyVRP's depot / client ``k``; ``vehicles[t]`` the core vehicles of vehicle type ``t``."""

    data: object  # pyvrp.ProblemData (pyvrp is imported lazily)
    depots: tuple[int, ...]
    clients: tuple[int, ...]
    vehicles: tuple[tuple[int, ...], ...]


def to_pyvrp(problem: RoutingProblem) -> Translation:
    """``problem`` as ``pyvrp.ProblemData``; ``ValueError`` with the reason when it does not fit."""
    reason = unfit_reason(problem)
    if reason is not None:
        raise ValueError(f"the problem does not fit PyVRP: {reason}")
    import pyvrp

    n = len(problem.nodes)
    depots = tuple(sorted(problem.depots))
    clients = tuple(i for i in range(n) if i not in problem.depots)
    depot_index = {node: k for k, node in enumerate(depots)}
    with_load = any(problem.nodes[i].demand for i in clients)
    # One location per core node, so the matrices keep the core's node order. Coordinates are
    # only used by PyVRP's plotting.
    locations = [pyvrp.Location(0.0, 0.0, name=node.name) for node in problem.nodes]
    pyvrp_depots = [pyvrp.Depot(location=i, tw_early=0, tw_late=problem.horizon) for i in depots]
    pyvrp_clients = []
    for i in clients:
        node = problem.nodes[i]
        lo, hi = _window(problem, i)
        pyvrp_clients.append(
            pyvrp.Client(
                location=i,
                delivery=[node.demand] if with_load else [],
                service_duration=node.service,
                tw_early=lo,
                tw_late=hi,
                prize=node.penalty or 0,
                required=node.penalty is None,
                name=node.name,
            )
        )
    types: dict[tuple, list[int]] = {}
    for v, vehicle in enumerate(problem.vehicles):
        key = (vehicle.start, vehicle.end, vehicle.capacity, vehicle.fixed_cost, _vehicle_window(problem, v))
        types.setdefault(key, []).append(v)
    vehicle_types = []
    for (start, end, capacity, fixed_cost, (lo, start_hi, end_hi)), members in types.items():
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=[capacity] if with_load else [],
                start_depot=depot_index[start],
                end_depot=depot_index[end],
                fixed_cost=fixed_cost,
                tw_early=lo,
                start_late=start_hi,
                tw_late=end_hi,
            )
        )
    data = pyvrp.ProblemData(
        locations,
        pyvrp_clients,
        pyvrp_depots,
        vehicle_types,
        [np.ascontiguousarray(problem.cost, dtype=np.int64)],
        [np.ascontiguousarray(problem.travel, dtype=np.int64)],
    )
    return Translation(data, depots, clients, tuple(tuple(m) for m in types.values()))


def routes_to_pyvrp(translation: Translation, routes: Sequence[Sequence[int]]):
    """Core routes (customer nodes per vehicle) as a ``pyvrp.Solution`` of the translated data."""
    import pyvrp

    client_index = {node: k for k, node in enumerate(translation.clients)}
    type_of = {v: t for t, members in enumerate(translation.vehicles) for v in members}
    pyvrp_routes = [
        pyvrp.Route(
            translation.data,
            [pyvrp.Activity(pyvrp.ActivityType.CLIENT, client_index[node]) for node in route],
            type_of[v],
        )
        for v, route in enumerate(routes)
        if route
    ]
    return pyvrp.Solution(translation.data, pyvrp_routes)


def core_objective(problem: RoutingProblem, routes: Sequence[Sequence[int]]) -> int:
    """The core's objective of ``routes``: arc costs, fixed costs of used vehicles, penalties of
    optional nodes left out (no groups or duty terms: only for problems that fit PyVRP)."""
    total = 0
    served: set[int] = set()
    for v, route in enumerate(routes):
        if not route:
            continue
        vehicle = problem.vehicles[v]
        stops = [vehicle.start, *route, vehicle.end]
        total += int(sum(int(problem.cost[a, b]) for a, b in zip(stops, stops[1:], strict=False)))
        total += vehicle.fixed_cost
        served.update(route)
    depots = problem.depots
    for i, node in enumerate(problem.nodes):
        if i not in depots and i not in served and node.penalty is not None:
            total += node.penalty
    return total


def _schedule(problem: RoutingProblem, v: int, route: Sequence[int]) -> tuple[Visit, ...]:
    """Visits of vehicle ``v`` along ``route`` at their earliest service starts; the vehicle
    waits where it is and leaves just in time for the next start (as the core reports them)."""
    vehicle = problem.vehicles[v]
    lo, _, _ = _vehicle_window(problem, v)
    stops = [vehicle.start, *route, vehicle.end]
    starts = [lo]
    for a, b in zip(stops, stops[1:], strict=False):
        arrive = starts[-1] + problem.nodes[a].service + int(problem.travel[a, b])
        starts.append(max(arrive, _window(problem, b)[0]) if b != vehicle.end else arrive)
    visits = []
    for k, node in enumerate(stops):
        if k + 1 < len(stops):
            departure = starts[k + 1] - int(problem.travel[node, stops[k + 1]])
        else:
            departure = starts[k]
        visits.append(Visit(node, starts[k], departure))
    return tuple(visits)


def from_pyvrp(
    problem: RoutingProblem, translation: Translation, pyvrp_solution, elapsed: float, stats: dict
) -> RoutingSolution:
    """A ``pyvrp.Solution`` of ``translation`` as the core's :class:`RoutingSolution`."""
    free = [list(members) for members in translation.vehicles]
    routes: list[list[int]] = [[] for _ in problem.vehicles]
    for route in pyvrp_solution.routes():
        customers = [translation.clients[activity.idx] for activity in route if activity.is_client()]
        if customers:
            routes[free[route.vehicle_type()].pop(0)] = customers
    served = {node for route in routes for node in route}
    dropped = tuple(i for i in translation.clients if i not in served)
    feasible = pyvrp_solution.is_feasible() and not any(problem.nodes[i].penalty is None for i in dropped)
    return RoutingSolution(
        routes=tuple(_schedule(problem, v, route) for v, route in enumerate(routes)),
        dropped=dropped,
        objective=core_objective(problem, routes),
        status="feasible" if feasible else "infeasible",
        solve_seconds=elapsed,
        stats=stats,
    )


class CpuBudget:
    """PyVRP stopping criterion: stop once the process has used ``cpu_seconds`` of CPU or
    ``wall_seconds`` of wall time since the first call."""

    def __init__(self, cpu_seconds: float, wall_seconds: float) -> None:
        self.cpu_seconds, self.wall_seconds = cpu_seconds, wall_seconds
        self.cpu_started = self.wall_started = None

    def __call__(self, best_cost: float) -> bool:
        if self.cpu_started is None:
            self.cpu_started, self.wall_started = time.process_time(), time.perf_counter()
        return (
            time.process_time() - self.cpu_started >= self.cpu_seconds
            or time.perf_counter() - self.wall_started >= self.wall_seconds
        )


def solve_pyvrp(problem: RoutingProblem, params: SolveParams) -> RoutingSolution:
    """Solve ``problem`` with PyVRP's default iterated local search, seed ``params.seed``, for
    ``params.cpu_seconds`` of CPU (when given) and at most ``params.seconds`` of wall time.
    ``ValueError`` when the problem does not fit (:func:`unfit_reason`)."""
    import pyvrp

    started, cpu_started = time.perf_counter(), time.process_time()
    translation = to_pyvrp(problem)
    cpu_budget = math.inf if params.cpu_seconds is None else params.cpu_seconds
    budget = CpuBudget(cpu_budget - (time.process_time() - cpu_started), params.seconds)
    result = pyvrp.solve(translation.data, stop=budget, seed=params.seed, collect_stats=False)
    stats = {
        "engine": "pyvrp",
        "settings": f"PyVRP 0.14 iterated local search seed={params.seed}",
        "iterations": int(result.num_iterations),
        "pyvrp_cost": int(result.cost()) if result.is_feasible() else None,
    }
    solution = from_pyvrp(problem, translation, result.best, time.perf_counter() - started, stats)
    solution.stats["cpu_seconds"] = time.process_time() - cpu_started
    return solution


def solve_with(problem: RoutingProblem, params: SolveParams, engine: str = "xunhu") -> RoutingSolution:
    """Solve ``problem`` with the named engine (:data:`ENGINES`); ``stats["engine"]`` says which
    produced the routes. ``params`` keeps the core's budget semantics (``cpu_seconds`` and
    ``seconds`` per worker, ``workers`` parallel searches)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "xunhu":
        solution = solve(problem, params)
        solution.stats.setdefault("engine", "xunhu")
        return solution
    reason = unfit_reason(problem)
    if engine == "pyvrp":
        if reason is not None:
            raise ValueError(f"the problem does not fit PyVRP: {reason}")
        if params.workers == 1:
            return solve_pyvrp(problem, params)
        return _parallel(
            problem, [("pyvrp", replace(params, seed=params.seed + k)) for k in range(params.workers)]
        )
    # portfolio
    if reason is not None:
        solution = solve(problem, params)
        solution.stats.update(engine="xunhu", pyvrp_skipped=reason)
        return solution
    if params.workers == 1:
        return solve_pyvrp(problem, params)
    variants = [("pyvrp", params)] + [
        ("xunhu", replace(params, workers=1, seed=params.seed + k)) for k in range(1, params.workers)
    ]
    return _parallel(problem, variants)


def _run(args: tuple[RoutingProblem, str, SolveParams]) -> RoutingSolution:
    """Body of one parallel search (a spawned process)."""
    problem, engine, params = args
    params = replace(params, workers=1)
    return solve_pyvrp(problem, params) if engine == "pyvrp" else solve_with(problem, params, "xunhu")


def _parallel(problem: RoutingProblem, variants: Sequence[tuple[str, SolveParams]]) -> RoutingSolution:
    """One search per (engine, params) in parallel processes; the best solution (feasible first,
    then fewer dropped nodes, then the lower objective) with ``stats["workers"]`` listing each."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    # An executor, not a Pool: a process that dies at start fails the solve (BrokenProcessPool)
    # instead of being replaced for ever while map() waits.
    with ProcessPoolExecutor(len(variants), mp_context=context) as pool:
        results = list(pool.map(_run, [(problem, engine, params) for engine, params in variants]))
    best = min(results, key=lambda s: (not s.feasible, len(s.dropped), s.objective))
    workers = [
        {
            "engine": s.stats.get("engine", engine),
            "settings": s.stats.get("settings", ""),
            "objective": s.objective,
            "status": s.status,
            "cpu_seconds": s.stats.get("cpu_seconds", 0.0),
        }
        for s, (engine, _) in zip(results, variants, strict=True)
    ]
    stats = dict(best.stats, cpu_seconds=sum(w["cpu_seconds"] for w in workers), workers=workers)
    return replace(best, solve_seconds=time.perf_counter() - started, stats=stats)
