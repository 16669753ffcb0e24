"""The routing core: an immutable problem description, a solution object and an OR-Tools solver.

Everything that routes — the weekly patrol planner and the plain VRPTW benchmark — translates its
own input into a :class:`RoutingProblem` and calls :func:`solve`. The problem knows nothing of
teams, towns or Solomon files: only nodes with time windows, vehicles, and two integer matrices.

Time is in whole minutes from the start of the horizon (or the instance's own time unit);
``cost`` is whatever the caller minimises per arc (metres, tenths of a km, ...).
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util.optional_boolean_pb2 import OptionalBoolean


@dataclass(frozen=True)
class Node:
    """A place a vehicle may visit.

    ``windows`` are the allowed service *start* times, as closed intervals, sorted and disjoint
    (several windows model several days). ``penalty`` is the cost of leaving the node out:
    ``None`` means mandatory. ``vehicles`` restricts which vehicles may serve the node
    (``None`` = all). A ``rest`` node (a night's bed) ends one duty and starts the next (see
    :class:`DutyLimits`); its ``service`` is the rest, and the vehicle leaves it no earlier than
    ``release`` (the next morning). ``prefer = (vehicle, earliest, latest)`` with ``move_cost``:
    serving the node otherwise (another vehicle, or a start outside that span) costs that much
    (re-planning keeps a stop on its team and day). A ``locked`` node, once on a route, is never
    removed by the search (an already planned part of a route). Preferences, locked nodes
    and vehicle blackouts are honoured by :mod:`planning.ruin_recreate` only.
    """

    name: str
    service: int = 0
    windows: tuple[tuple[int, int], ...] = ()
    demand: int = 0
    penalty: int | None = None
    vehicles: tuple[int, ...] | None = None
    rest: bool = False
    release: int = 0
    prefer: tuple[int, int, int] | None = None
    move_cost: int = 0
    locked: bool = False


@dataclass(frozen=True)
class Vehicle:
    """A vehicle (a patrol team) starting and ending at node indices, inside ``shift``. A duty
    overlapping one of its ``blackouts`` (start, end) serves nobody (a team unavailable for some
    days inspects nothing; it may still drive between its beds, e.g. home)."""

    start: int
    end: int
    capacity: int = 0
    shift: tuple[int, int] | None = None
    fixed_cost: int = 0
    blackouts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ChooseOne:
    """Exactly one of ``nodes`` is visited (e.g. one lodging town per team per night).

    With a ``penalty`` the group may also be skipped entirely at that cost.
    """

    nodes: tuple[int, ...]
    penalty: int | None = None


@dataclass(frozen=True)
class DutyLimits:
    """Limits per duty, the stretch from leaving a vehicle's start or a rest node to reaching the
    next rest node or the vehicle's end: ``max_duty`` minutes from leaving to arriving (the
    departure is as late as the schedule allows) and ``max_drive`` minutes of driving (the
    problem's ``drive`` matrix). ``workload_scale`` > 0 adds W² / workload_scale to a vehicle's
    cost, W being its driving and service minutes (rest excluded): equal work is cheaper, so
    ties between interchangeable vehicles are shared out. Only :mod:`planning.ruin_recreate`
    enforces these; OR-Tools searches refuse such problems."""

    max_duty: int
    max_drive: int
    workload_scale: int = 0


@dataclass(frozen=True)
class RoutingProblem:
    """An immutable routing instance. ``travel[i, j]`` is the time from node i to j (without
    service), ``cost[i, j]`` the arc cost minimised; both square integer matrices. With ``duty``
    limits, ``drive[i, j]`` is the driving part of ``travel[i, j]`` (the rest being breaks on the
    way; ``None``: all of it)."""

    nodes: tuple[Node, ...]
    vehicles: tuple[Vehicle, ...]
    travel: np.ndarray
    cost: np.ndarray
    horizon: int
    groups: tuple[ChooseOne, ...] = ()
    drive: np.ndarray | None = None
    duty: DutyLimits | None = None

    def __post_init__(self) -> None:
        n = len(self.nodes)
        for label, matrix in (("travel", self.travel), ("cost", self.cost)):
            if matrix.shape != (n, n):
                raise ValueError(f"{label} matrix is {matrix.shape}, expected ({n}, {n})")
        for v, vehicle in enumerate(self.vehicles):
            for end in (vehicle.start, vehicle.end):
                if not 0 <= end < n:
                    raise ValueError(f"vehicle {v} refers to node {end}, outside 0..{n - 1}")

    @property
    def depots(self) -> frozenset[int]:
        """The nodes where vehicles start or end; all others are customers."""
        return frozenset(v.start for v in self.vehicles) | frozenset(v.end for v in self.vehicles)


@dataclass(frozen=True)
class Visit:
    """One stop of a route: the node, its service start and the time the vehicle leaves."""

    node: int
    start: int
    departure: int


@dataclass(frozen=True)
class RoutingSolution:
    """The result of :func:`solve`. ``routes[v]`` includes the start and end nodes."""

    routes: tuple[tuple[Visit, ...], ...]
    dropped: tuple[int, ...]
    objective: int
    status: str
    solve_seconds: float
    stats: dict = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def node_routes(self) -> list[list[int]]:
        """The customer nodes of each vehicle's route, in order, start and end left out."""
        return [[visit.node for visit in route[1:-1]] for route in self.routes]


@dataclass(frozen=True)
class SolveParams:
    """Search settings. ``first_solution`` and ``metaheuristic`` are OR-Tools enum names.

    ``seconds`` is the wall-clock limit of one search. ``cpu_seconds`` additionally stops a search
    once its process has used that much CPU time (checked whenever the search accepts a
    solution), which keeps budgets comparable on a shared machine. ``guided_lambda`` is the
    guided-local-search penalty coefficient (``None`` = OR-Tools' default 0.1). ``operators``
    switches OR-Tools local-search operators on or off by their parameter name, e.g.
    ``(("use_cross_exchange", True),)``. ``workers`` > 1 runs :func:`portfolio` variants of these
    settings in that many parallel processes and keeps the best; each worker gets the full
    ``seconds`` / ``cpu_seconds``, so the CPU spent is ``workers`` times the budget.
    ``restart_lambdas``: after the first search, one more guided local search per value, each
    restarted from the best routes so far with fresh penalties and that lambda (guided local
    search stalls in deep local optima; a restart with other penalties often escapes).
    ``ruin_recreate`` is the share of the budget given to the ruin-and-recreate improvement phase
    (:mod:`planning.ruin_recreate`) after the first search, for problems it supports (0 = off);
    a guided local search then polishes its routes. ``seed`` seeds that phase. The rest of the
    budget is split equally over the OR-Tools searches.
    """

    seconds: float = 10.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    log_search: bool = False
    cpu_seconds: float | None = None
    guided_lambda: float | None = None
    operators: tuple[tuple[str, bool], ...] = ()
    workers: int = 1
    restart_lambdas: tuple[float, ...] = ()
    ruin_recreate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ruin_recreate < 1.0:
            raise ValueError(f"ruin_recreate is a share of the budget in [0, 1), got {self.ruin_recreate}")


Progress = Callable[[float, int], None]
"""Called with (elapsed seconds, objective) each time the search finds a better solution."""


def solve(
    problem: RoutingProblem,
    params: SolveParams = SolveParams(),
    progress: Progress | None = None,
) -> RoutingSolution:
    """Solve ``problem`` with OR-Tools and return the best solution found within the budget.

    ``stats`` of the result hold ``cpu_seconds`` (CPU time of the search, summed over workers)
    and ``settings`` (a short description of the search that produced the routes).
    """
    if problem.duty is not None:
        raise ValueError("duty limits are enforced by planning.ruin_recreate only, not by OR-Tools")
    if params.workers > 1:
        return solve_portfolio(problem, portfolio(params), progress)
    stats: dict = {}
    use_ruin_recreate = False
    if params.ruin_recreate:
        # Imported here: it loads numba, which OR-Tools-only searches do not need.
        from planning import ruin_recreate

        unsupported = ruin_recreate.unsupported_reason(problem)
        if unsupported is None:
            ruin_recreate.warm_up()  # before the clock starts: compiling is not searching
            use_ruin_recreate = True
        else:
            stats["ruin_recreate"] = {"skipped": unsupported}
    phases = _phases(params, ruin_recreate=use_ruin_recreate)
    started = time.perf_counter()
    cpu_started = time.process_time()
    model = _Model(problem)
    routing = model.routing
    best: list[int] = []
    cpu_deadline = [math.inf]

    def improved(objective: int) -> None:
        if not best or objective < best[0]:
            best[:] = [objective]
            if progress is not None:
                progress(time.perf_counter() - started, objective)

    def at_solution() -> None:
        improved(routing.CostVar().Value())
        # OR-Tools only limits wall time. FinishCurrentSearch keeps the best solution found so
        # far and, unlike CancelSearch, does not stay set for the next phase's search.
        if time.process_time() >= cpu_deadline[0]:
            routing.solver().FinishCurrentSearch()

    routing.AddAtSolutionCallback(at_solution)
    solution: RoutingSolution | None = None
    routes: list[list[int]] = []  # the best routes so far, customer nodes per vehicle
    budget_used = 0.0
    for phase in phases:
        budget_used += phase.share
        if params.cpu_seconds is not None:
            cpu_deadline[0] = cpu_started + params.cpu_seconds * budget_used
        if phase.kind == "ruin_recreate":
            routes, stats["ruin_recreate"] = ruin_recreate.improve(
                problem,
                routes,
                cpu_seconds=cpu_deadline[0] - time.process_time(),
                wall_seconds=params.seconds * phase.share,
                seed=params.seed,
                progress=lambda _elapsed, objective: improved(objective),
            )
            continue
        search = _search_parameters(
            replace(params, guided_lambda=phase.guided_lambda), params.seconds * phase.share
        )
        if solution is None:
            assignment = routing.SolveWithParameters(search)
        else:
            # A restart (fresh guided-local-search penalties) from the best routes so far.
            incumbent = routing.ReadAssignmentFromRoutes(model.route_indices(routes), True)
            if incumbent is None:
                break
            assignment = routing.SolveFromAssignmentWithParameters(incumbent, search)
        found = model.extract(assignment, time.perf_counter() - started)
        if solution is None or (found.feasible and found.objective < solution.objective):
            solution = found
            routes = found.node_routes
        if not solution.feasible:
            break
    solution = replace(solution, solve_seconds=time.perf_counter() - started)
    solution.stats.update(stats, cpu_seconds=time.process_time() - cpu_started, settings=describe(params))
    return solution


@dataclass(frozen=True)
class _Phase:
    """One step of :func:`solve`: an OR-Tools search or the ruin-and-recreate phase, with its
    share of the budget (and the guided-local-search lambda of a search, None = default)."""

    kind: str
    share: float
    guided_lambda: float | None = None


def _phases(params: SolveParams, ruin_recreate: bool) -> list[_Phase]:
    """The phases of one :func:`solve`, in order; their shares sum to 1."""
    lambdas = [params.guided_lambda, *params.restart_lambdas]
    if ruin_recreate and len(lambdas) == 1:
        lambdas.append(params.guided_lambda)  # the ruin-and-recreate routes are always polished
    share = (1.0 - params.ruin_recreate) / len(lambdas) if ruin_recreate else 1.0 / len(lambdas)
    phases = [_Phase("search", share, guided_lambda) for guided_lambda in lambdas]
    if ruin_recreate:
        phases.insert(1, _Phase("ruin_recreate", params.ruin_recreate))
    return phases


def describe(params: SolveParams) -> str:
    """A short, human-readable description of the search settings, for logs and reports."""
    parts = [params.first_solution, params.metaheuristic]
    if params.guided_lambda is not None:
        parts.append(f"lambda={params.guided_lambda:g}")
    parts += [f"{name}={'on' if on else 'off'}" for name, on in params.operators]
    if params.restart_lambdas:
        parts.append("restarts lambda=" + ",".join(f"{value:g}" for value in params.restart_lambdas))
    if params.ruin_recreate:
        parts.append(f"ruin-recreate {params.ruin_recreate:.0%} seed={params.seed}")
    return " ".join(parts)


def _search_parameters(params: SolveParams, seconds: float):
    """OR-Tools search parameters for ``params`` with a wall limit of ``seconds``;
    ``ValueError`` for names OR-Tools lacks."""
    search = pywrapcp.DefaultRoutingSearchParameters()
    for enum, name, target in (
        (routing_enums_pb2.FirstSolutionStrategy, params.first_solution, "first_solution_strategy"),
        (routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic, "local_search_metaheuristic"),
    ):
        if not hasattr(enum, name):
            raise ValueError(f"unknown {target} {name!r}")
        setattr(search, target, getattr(enum, name))
    operators = search.local_search_operators
    for name, on in params.operators:
        if name not in operators.DESCRIPTOR.fields_by_name:
            raise ValueError(f"unknown local search operator {name!r}")
        setattr(operators, name, OptionalBoolean.BOOL_TRUE if on else OptionalBoolean.BOOL_FALSE)
    if params.guided_lambda is not None:
        search.guided_local_search_lambda_coefficient = params.guided_lambda
    search.time_limit.FromMilliseconds(int(seconds * 1000))
    search.log_search = params.log_search
    return search


PORTFOLIO_FIRST_SOLUTIONS = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_COST_INSERTION",
    "SAVINGS",
    "SEQUENTIAL_CHEAPEST_INSERTION",
)
"""First-solution strategies the portfolio cycles through: guided local search is deterministic,
so parallel workers only help when they start from different solutions."""


def portfolio(params: SolveParams) -> tuple[SolveParams, ...]:
    """``params.workers`` single-process variants of ``params``: the first is ``params`` itself,
    the others start from the other :data:`PORTFOLIO_FIRST_SOLUTIONS`, each with its own
    ruin-and-recreate seed."""
    others = [name for name in PORTFOLIO_FIRST_SOLUTIONS if name != params.first_solution]
    single = replace(params, workers=1)
    variants = [single]
    for k in range(1, params.workers):
        variants.append(replace(single, first_solution=others[(k - 1) % len(others)], seed=params.seed + k))
    return tuple(variants)


def solve_portfolio(
    problem: RoutingProblem,
    variants: Sequence[SolveParams],
    progress: Progress | None = None,
) -> RoutingSolution:
    """Run one :func:`solve` per variant in parallel processes and return the best solution.

    "Best" prefers feasible solutions, then fewer dropped nodes, then the lower objective.
    ``progress`` sees the best objective over all workers. ``stats["workers"]`` lists each
    worker's settings, objective and CPU seconds.
    """
    if not variants:
        raise ValueError("solve_portfolio needs at least one variant")
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    processes = [
        context.Process(target=_portfolio_worker, args=(problem, replace(v, workers=1), k, messages))
        for k, v in enumerate(variants)
    ]
    for process in processes:
        process.start()
    results: dict[int, RoutingSolution] = {}
    best_objective: int | None = None
    try:
        while len(results) < len(processes):
            try:
                kind, worker, payload = messages.get(timeout=0.5)
            except queue.Empty:
                for k, process in enumerate(processes):
                    if k not in results and process.exitcode not in (None, 0):
                        raise RuntimeError(
                            f"portfolio worker {k} died with exit code {process.exitcode}"
                        ) from None
                continue
            if kind == "done":
                results[worker] = payload
            elif best_objective is None or payload < best_objective:
                best_objective = payload
                if progress is not None:
                    progress(time.perf_counter() - started, payload)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    ranked = sorted(
        results.items(), key=lambda item: (not item[1].feasible, len(item[1].dropped), item[1].objective)
    )
    best = ranked[0][1]
    workers = [
        {
            "settings": results[k].stats.get("settings", ""),
            "objective": results[k].objective,
            "status": results[k].status,
            "cpu_seconds": results[k].stats.get("cpu_seconds", 0.0),
        }
        for k in sorted(results)
    ]
    stats = dict(best.stats, cpu_seconds=sum(w["cpu_seconds"] for w in workers), workers=workers)
    return replace(best, solve_seconds=time.perf_counter() - started, stats=stats)


def _portfolio_worker(problem: RoutingProblem, params: SolveParams, worker: int, messages) -> None:
    """Body of one portfolio process: report improvements, then the solution, on ``messages``."""
    solution = solve(
        problem, params, lambda _elapsed, objective: messages.put(("progress", worker, objective))
    )
    messages.put(("done", worker, solution))


class _Model:
    """The OR-Tools model built from a :class:`RoutingProblem`."""

    def __init__(self, problem: RoutingProblem) -> None:
        self.problem = problem
        n = len(problem.nodes)
        vehicles = problem.vehicles
        self.manager = pywrapcp.RoutingIndexManager(
            n, len(vehicles), [v.start for v in vehicles], [v.end for v in vehicles]
        )
        self.routing = pywrapcp.RoutingModel(self.manager)
        manager, routing = self.manager, self.routing

        cost = np.asarray(problem.cost, dtype=np.int64).tolist()
        # Transit = service at the origin + travel: the cumul is then the service start time.
        service = [node.service for node in problem.nodes]
        travel = np.asarray(problem.travel, dtype=np.int64)
        transit = (travel + np.asarray(service, dtype=np.int64)[:, None]).tolist()

        cost_cb = routing.RegisterTransitMatrix(cost)
        routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
        time_cb = routing.RegisterTransitMatrix(transit)
        routing.AddDimension(time_cb, problem.horizon, problem.horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")

        if any(node.demand for node in problem.nodes):
            demand_cb = routing.RegisterUnaryTransitVector([node.demand for node in problem.nodes])
            routing.AddDimensionWithVehicleCapacity(
                demand_cb, 0, [v.capacity for v in vehicles], True, "load"
            )

        depots = problem.depots
        grouped = {i for group in problem.groups for i in group.nodes}
        for i, node in enumerate(problem.nodes):
            if i in depots:
                continue
            index = manager.NodeToIndex(i)
            self._restrict_windows(self.time.CumulVar(index), node.windows)
            if node.vehicles is not None:
                routing.VehicleVar(index).SetValues([-1, *node.vehicles])
            if i not in grouped and node.penalty is not None:
                routing.AddDisjunction([index], node.penalty)
        for group in problem.groups:
            indices = [manager.NodeToIndex(i) for i in group.nodes]
            if group.penalty is None:
                routing.AddDisjunction(indices)
            else:
                routing.AddDisjunction(indices, group.penalty)

        for v, vehicle in enumerate(vehicles):
            if vehicle.fixed_cost:
                routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)
            start, end = routing.Start(v), routing.End(v)
            start_node = problem.nodes[vehicle.start]
            end_node = problem.nodes[vehicle.end]
            lo, hi = vehicle.shift or (0, problem.horizon)
            self.time.CumulVar(start).SetRange(lo, hi)
            self.time.CumulVar(end).SetRange(lo, hi)
            self._restrict_windows(self.time.CumulVar(start), start_node.windows)
            self._restrict_windows(self.time.CumulVar(end), end_node.windows)
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(end))
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(start))

    @staticmethod
    def _restrict_windows(cumul, windows: Sequence[tuple[int, int]]) -> None:
        """Limit ``cumul`` to the union of ``windows`` (no-op when there are none)."""
        if not windows:
            return
        cumul.SetRange(windows[0][0], windows[-1][1])
        for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
            if next_start > end + 1:
                cumul.RemoveInterval(end + 1, next_start - 1)

    def route_indices(self, routes: Sequence[Sequence[int]]) -> list[list[int]]:
        """``routes`` (customer nodes per vehicle) as OR-Tools indices."""
        return [[self.manager.NodeToIndex(node) for node in route] for route in routes]

    def extract(self, assignment, elapsed: float) -> RoutingSolution:
        """Turn an OR-Tools assignment into a :class:`RoutingSolution`."""
        # OR-Tools' RoutingSearchStatus values.
        status_names = {
            0: "not_solved",
            1: "feasible",
            2: "feasible",
            3: "no_solution",
            4: "timeout",
            5: "invalid",
            6: "infeasible",
            7: "optimal",
        }
        raw_status = self.routing.status()
        if assignment is None:
            name = status_names.get(raw_status, f"status_{raw_status}")
            if name in ("feasible", "optimal"):
                name = "no_solution"
            return RoutingSolution((), (), 0, name, elapsed, {})
        manager, routing, dim = self.manager, self.routing, self.time
        routes = []
        visited: set[int] = set()
        for v in range(len(self.problem.vehicles)):
            visits = []
            index = routing.Start(v)
            while True:
                node = manager.IndexToNode(index)
                start = assignment.Value(dim.CumulVar(index))
                if routing.IsEnd(index):
                    visits.append(Visit(node, start, start))
                    break
                next_index = assignment.Value(routing.NextVar(index))
                next_node = manager.IndexToNode(next_index)
                # The vehicle waits where it is and leaves just in time for the next start.
                departure = assignment.Value(dim.CumulVar(next_index)) - int(
                    self.problem.travel[node, next_node]
                )
                visits.append(Visit(node, start, departure))
                visited.add(node)
                index = next_index
            routes.append(tuple(visits))
        depots = self.problem.depots
        dropped = tuple(i for i in range(len(self.problem.nodes)) if i not in visited and i not in depots)
        status = "optimal" if raw_status == 7 else "feasible"
        return RoutingSolution(tuple(routes), dropped, assignment.ObjectiveValue(), status, elapsed, {})
