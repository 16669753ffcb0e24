"""Ruin-and-recreate improvement phase of the routing core (SISR).

OR-Tools' guided local search gets within 1–2 % of the best-known VRPTW distances and then stalls:
its moves change a few arcs at a time, and the better solutions of the hard Solomon instances differ
in whole strings of customers. Slack Induction by String Removals (Christiaens & Vanden Berghe,
*Transportation Science* 54(2), 2020) removes strings of neighbouring customers from a few nearby
routes, reinserts them greedily (with "blinks" that skip positions at random) and accepts the result
by simulated annealing. It runs here on the routes OR-Tools found, and OR-Tools then polishes the
best routes it returns (see :func:`planning.core.solve`).

The search loop is compiled with numba; one iteration costs microseconds, so a 30 s budget makes
millions of them. It covers the core's whole model (:func:`unsupported_reason` names the rare
exceptions): several time windows per node (the patrol planner's days), capacities, per-vehicle
depots, shifts and fixed costs, vehicle restrictions, optional nodes with penalties, and
``ChooseOne`` groups (a night's lodging towns), which ruin and recreate as one unit: removing the
member a route visits leaves the group out, and recreating it inserts its cheapest member, and
:class:`planning.core.DutyLimits` (driving and duty per stretch between rest nodes, the rest
itself, a workload term), which OR-Tools' model cannot express. With an iteration budget the
search depends only on its inputs and seed: the same plan on any machine.
Feasibility of an insertion is checked in constant time from each stop's earliest and latest
service start (forward and backward passes); both are monotone in time with several windows too,
because a vehicle may always wait.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # planning.core imports this module
    from planning.core import RoutingProblem


def _import_numba():
    """Import numba with XunHu's ``coverage`` package hidden.

    numba probes for coverage.py (``import coverage``) when it loads, and in this repository that
    name is our own coverage package, which lacks what numba then uses. Hiding the name for the
    duration of the import makes numba treat coverage.py as absent, which is what it is.
    """
    missing = object()
    ours = sys.modules.get("coverage", missing)
    sys.modules["coverage"] = None  # type: ignore[assignment]  # makes `import coverage` fail
    try:
        import numba
    finally:
        if ours is missing:
            del sys.modules["coverage"]
        else:
            sys.modules["coverage"] = ours
    return numba


njit = _import_numba().njit

NEAR_REST = 64
"""Customers per rest node whose absence pulls a bed there (see ``_recreate``)."""
PULL_SHARE = 0.5
PULL_CAP = 1000
"""A customer left out pulls beds near it with half its penalty, at most this much (a mandatory
node's penalty would drown every other consideration)."""
MISSING_PENALTY = 10**12
"""Objective charge for leaving out a mandatory node: larger than any route cost, so the search
only accepts such a state on its way to inserting the node again."""


@dataclass(frozen=True)
class SisrParams:
    """Settings of the ruin-and-recreate search, named as in the SISR paper.

    ``removed_customers`` is c̄, the average number of customers removed per iteration;
    ``max_string`` L_max; ``split_rate`` α and ``split_depth`` β of the split-string removal;
    ``blink_rate`` the chance an insertion position is skipped; ``retries`` how many optional
    customers left out an iteration offers again, on average (each scans every route).
    Temperatures are fractions of the average arc cost of the starting solution (of a greedy
    construction when the search starts from empty routes), so they suit any cost unit; the
    temperature falls exponentially from ``start_temperature`` to ``end_temperature`` over the
    budget.
    """

    removed_customers: float = 10.0
    max_string: int = 10
    split_rate: float = 0.5
    split_depth: float = 0.01
    blink_rate: float = 0.01
    retries: float = 10.0
    start_temperature: float = 1.0
    end_temperature: float = 0.01
    chunk_iterations: int = 2000

    def removal_and_insertion(self) -> np.ndarray:
        """The settings the compiled loop reads, in its order (see ``_ruin`` and ``_recreate``)."""
        return np.array(
            [
                self.removed_customers,
                self.max_string,
                self.split_rate,
                self.split_depth,
                self.blink_rate,
                self.retries,
            ]
        )


def unsupported_reason(problem: RoutingProblem) -> str | None:
    """Why :func:`improve` cannot handle ``problem``, or ``None`` when it can."""
    depots = problem.depots
    if len(depots) == len(problem.nodes):
        return "the problem has no customers"
    grouped: set[int] = set()
    for group in problem.groups:
        members = set(group.nodes)
        if members & depots:
            return "a choose-one group contains a vehicle's start or end node"
        if members & grouped:
            return "a node belongs to more than one choose-one group"
        grouped |= members
    return None


Progress = Callable[[float, int], None]


class _Arrays(NamedTuple):
    """The problem as flat arrays for the compiled search (numba reads named tuples)."""

    cost: np.ndarray  # [node, node]
    travel: np.ndarray  # [node, node]
    service: np.ndarray  # [node]
    demand: np.ndarray  # [node]
    window_open: np.ndarray  # [node, window] service may start from ...
    window_close: np.ndarray  # [node, window] ... until (windows sorted; unused ones empty)
    window_count: np.ndarray  # [node]
    penalty: np.ndarray  # [node] cost of leaving it out (of its whole group for a group member)
    group: np.ndarray  # [node] choose-one group, -1 for none
    members: np.ndarray  # [group, k] member nodes, -1 padded
    allowed: np.ndarray  # [node, vehicle] bool
    start: np.ndarray  # [vehicle] start node
    end: np.ndarray  # [vehicle] end node
    capacity: np.ndarray  # [vehicle]
    ready: np.ndarray  # [vehicle] earliest departure
    due: np.ndarray  # [vehicle] latest arrival at the end node
    fixed: np.ndarray  # [vehicle] cost of using it
    kind: np.ndarray  # [vehicle] vehicles with equal kind are interchangeable
    customers: np.ndarray  # node indices that are not depots
    neighbours: np.ndarray  # [customer rank, k] customers by arc cost, nearest first
    rank: np.ndarray  # [node] row of a customer in ``neighbours``, -1 for depots
    depot_cost: np.ndarray  # [node] cost from the first vehicle's start (insertion order keys)
    drive: np.ndarray  # [node, node] driving part of travel (checked against the duty limits)
    rest: np.ndarray  # [node] bool: a rest node ends a duty
    release: np.ndarray  # [node] earliest departure after resting there
    limits: np.ndarray  # [has duty limits, max duty, max drive, workload scale]
    near: np.ndarray  # [node, k] customers within half a duty's drive of a rest node, -1 padded
    pull: np.ndarray  # [node] what a customer left out adds to the pull of rest nodes near it
    prefer: np.ndarray  # [node, 3] preferred vehicle (-1: none), earliest and latest start
    move_cost: np.ndarray  # [node] cost of serving it other than preferred
    locked: np.ndarray  # [node] bool: never removed once routed
    blackout: np.ndarray  # [vehicle, k, 2] spans without service or driving, (0, -1) padded


class _State(NamedTuple):
    """A solution under search: routes as rows of customer nodes, with derived times."""

    routes: np.ndarray  # [vehicle, position] customer node
    lengths: np.ndarray  # [vehicle]
    earliest_start: np.ndarray  # [vehicle, position] earliest service start
    latest_start: np.ndarray  # [vehicle, position] latest start keeping the rest feasible
    load: np.ndarray  # [vehicle]
    route_cost: np.ndarray  # [vehicle] arc costs plus the fixed cost when used
    vehicle_of: np.ndarray  # [node] vehicle serving it, -1 when not served
    work: np.ndarray  # [vehicle] driving and service minutes (rest excluded)
    # [vehicle, gap] driving minutes, and travel plus service minutes (a duty's span without its
    # waits), of the duty that an insertion before position ``gap`` falls into
    duty_drive: np.ndarray
    duty_busy: np.ndarray

    def copy(self) -> _State:
        return _State(*(a.copy() for a in self))


def improve(
    problem: RoutingProblem,
    routes: Sequence[Sequence[int]],
    cpu_seconds: float = math.inf,
    wall_seconds: float | None = None,
    seed: int = 0,
    params: SisrParams = SisrParams(),
    progress: Progress | None = None,
    iterations: int | None = None,
) -> tuple[list[list[int]], dict]:
    """Improve ``routes`` (customer node indices per vehicle, depots excluded) for ``cpu_seconds``
    of CPU time (and at most ``wall_seconds`` of wall time), or for exactly ``iterations``
    iterations: with an iteration budget the result depends only on the problem, the routes and
    the seed, never on the machine.

    Returns the best routes found, one list per vehicle, and statistics (``iterations``,
    ``objective`` in the problem's cost unit including drop penalties, ``start_objective``, the
    first and last annealing ``temperatures``).
    ``progress`` is called with (elapsed seconds, objective) at each improvement, checked between
    chunks of iterations. Raises ``ValueError`` for an unsupported problem or infeasible routes.
    """
    reason = unsupported_reason(problem)
    if reason is not None:
        raise ValueError(reason)
    if iterations is None and not (math.isfinite(cpu_seconds) or wall_seconds is not None):
        raise ValueError("improve needs a budget: iterations, cpu_seconds or wall_seconds")
    warm_up()  # outside the budget: compiling is not searching
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    arrays = _problem_arrays(problem)
    current = _state(problem, routes, arrays)
    best, candidate = current.copy(), current.copy()
    start_objective = int(_objective(arrays, current))
    totals = np.array([start_objective, start_objective], dtype=np.int64)
    arc_cost = _arc_cost(arrays, current)
    t_start = max(1e-9, params.start_temperature * arc_cost)
    t_end = max(1e-9, min(t_start, params.end_temperature * arc_cost))
    settings = params.removal_and_insertion()
    _seed(seed)
    done_iterations = 0
    reported = start_objective
    temperature = t_start
    while True:
        if iterations is not None:
            done = done_iterations / iterations if iterations > 0 else 1.0
        else:
            done = budget_spent(
                time.process_time() - started_cpu,
                cpu_seconds,
                time.perf_counter() - started_wall,
                math.inf if wall_seconds is None else wall_seconds,
            )
        if done >= 1.0:
            break
        temperature = t_start * (t_end / t_start) ** done
        chunk = params.chunk_iterations
        if iterations is not None:
            chunk = min(chunk, iterations - done_iterations)
        _iterate(arrays, current, candidate, best, totals, settings, chunk, temperature)
        done_iterations += chunk
        if progress is not None and totals[1] < reported:
            reported = int(totals[1])
            progress(time.perf_counter() - started_wall, reported)
    routes_out = [[int(c) for c in best.routes[v, : best.lengths[v]]] for v in range(len(problem.vehicles))]
    stats = {
        "iterations": done_iterations,
        "objective": int(totals[1]),
        "start_objective": start_objective,
        "temperatures": (t_start, temperature),
    }
    return routes_out, stats


def improve_best_of(
    problem: RoutingProblem, routes: Sequence[Sequence[int]], seeds: Sequence[int], **budget
) -> tuple[list[list[int]], dict]:
    """One :func:`improve` per seed, in parallel threads (the compiled loop releases the GIL),
    each with the whole ``budget``; the best routes win (the first seed on a tie), so with an
    iteration budget the result still depends only on the inputs and the seeds. ``stats`` adds
    each search's ``seed`` and ``objective`` under ``searches`` and sums ``iterations``."""
    if not seeds:
        raise ValueError("improve_best_of needs at least one seed")
    warm_up()
    with ThreadPoolExecutor(max_workers=len(seeds)) as pool:
        results = list(pool.map(lambda seed: improve(problem, routes, seed=seed, **budget), seeds))
    best = min(range(len(seeds)), key=lambda i: (results[i][1]["objective"], i))
    routes_out, stats = results[best]
    stats = dict(
        stats,
        seed=seeds[best],
        iterations=sum(r[1]["iterations"] for r in results),
        searches=[
            {"seed": seed, "objective": r[1]["objective"]} for seed, r in zip(seeds, results, strict=True)
        ],
    )
    return routes_out, stats


def _arc_cost(arrays: _Arrays, state: _State) -> float:
    """The average arc cost of ``state``'s routes, the scale of the annealing temperatures.

    Routes that are all empty (a week planned from scratch) have no arcs: the scale is then
    taken from a greedy construction on a copy (beds first, then customers by the cost of
    leaving them out, no blinks). The mean of the whole cost matrix, used before, was dominated
    by far and forbidden pairs: on the 400-site patrol week it was 30 times the arcs of a plan,
    so the search never cooled down enough to settle."""
    built = state
    if not state.lengths.any():
        built = state.copy()
        customers = arrays.customers
        order = customers[np.lexsort((-arrays.penalty[customers], ~arrays.rest[customers]))]
        dirty = np.zeros(len(state.lengths), dtype=np.bool_)
        no_blinks = SisrParams(blink_rate=0.0).removal_and_insertion()
        _insert(arrays, built, no_blinks, dirty, order, _scratch(arrays))
    arcs = int((built.lengths + 1)[built.lengths > 0].sum())
    if arcs == 0:
        return float(np.mean(arrays.cost))
    return float(built.route_cost.sum()) / arcs


def duty_schedules(
    problem: RoutingProblem, routes: Sequence[Sequence[int]]
) -> list[list[tuple[int, int, int, int]]]:
    """Per vehicle, ``(node, arrive, start, depart)`` of every stop, its start and end included,
    as the search schedules a route: each duty leaves as late as still reaches its rest node (or
    the end) as early as possible, so waiting on the way is spent before leaving; a rest node's
    departure is the next duty's. ``start`` is the service start (``arrive`` plus any wait) and
    ``depart = start + service`` except at rest nodes. Raises ``ValueError`` for a route the
    search would not accept."""
    if not problem.vehicles:  # a re-plan whose every team has finished its week
        return []
    warm_up()
    arrays = _problem_arrays(problem)
    _state(problem, routes, arrays)  # raises for infeasible routes
    scratch = _scratch(arrays)
    out = []
    for v, route in enumerate(routes):
        start_node, end_node = int(arrays.start[v]), int(arrays.end[v])
        depart = int(arrays.ready[v] + arrays.service[start_node])
        stops = [[start_node, depart, depart, depart]]
        duties: list[tuple[list[int], int]] = []
        current: list[int] = []
        for node in route:
            if arrays.rest[node]:
                duties.append((current, node))
                current = []
            else:
                current.append(node)
        duties.append((current, end_node))
        first = start_node
        for customers, end in duties:
            nodes = np.array(customers, dtype=np.int64)
            ok, leave, arrival, _ = _segment_times(
                arrays, first, depart, nodes, len(nodes), end, scratch[0], scratch[1]
            )
            if not ok:
                raise ValueError(f"route {v} cannot be scheduled")
            stops[-1][3] = int(leave)
            if len(stops) == 1:  # the vehicle's start: it leaves when it sets off
                stops[0][1] = stops[0][2] = int(leave)
            for i, node in enumerate(customers):
                begin = int(scratch[1][i])
                stops.append([node, int(scratch[0][i]), begin, begin + int(arrays.service[node])])
            stops.append([end, int(arrival), int(arrival), int(arrival)])
            windowed = _earliest_start(arrays, end, arrival)
            depart = int(max(windowed + arrays.service[end], arrays.release[end]))
            first = end
        out.append([tuple(stop) for stop in stops])
    return out


def budget_spent(cpu_used: float, cpu_seconds: float, wall_used: float, wall_seconds: float) -> float:
    """The share of the budget used, 0 to 1: whichever of the CPU and wall budgets runs out first
    (either may be infinite). The annealing temperature follows it, so the search cools down over
    the budget that will actually stop it."""
    budgets = ((cpu_used, cpu_seconds), (wall_used, wall_seconds))
    return min(1.0, max(used / budget if budget > 0 else 1.0 for used, budget in budgets))


_compiled = False


def warm_up() -> float:
    """Compile the search (once per process) and return the seconds taken: about 12 s the first
    time on a machine, well under a second once numba has cached the machine code on disk (in
    ``__pycache__``), 0 when already done. :func:`improve` and :func:`planning.core.solve` call it
    before their clocks start."""
    global _compiled
    if _compiled:
        return 0.0
    from planning.core import DutyLimits, Node, RoutingProblem, Vehicle

    started = time.perf_counter()
    distance = np.array([[0, 3, 4], [3, 0, 5], [4, 5, 0]])
    nodes = (Node("depot"), Node("a", windows=((0, 50),), demand=1), Node("b", demand=1, rest=True))
    problem = RoutingProblem(
        nodes, (Vehicle(0, 0, capacity=2),) * 2, distance, distance, horizon=100, duty=DutyLimits(50, 50, 10)
    )
    arrays = _problem_arrays(problem)
    current = _state(problem, [[1, 2], []], arrays)
    totals = np.array([_objective(arrays, current)] * 2, dtype=np.int64)
    _seed(0)
    settings = SisrParams().removal_and_insertion()
    _iterate(arrays, current, current.copy(), current.copy(), totals, settings, 1, 1.0)
    _compiled = True
    return time.perf_counter() - started


def _problem_arrays(problem: RoutingProblem) -> _Arrays:
    """The problem as the flat arrays the compiled search reads."""
    n, fleet = len(problem.nodes), len(problem.vehicles)
    depots = problem.depots
    customers = np.array([i for i in range(n) if i not in depots], dtype=np.int64)
    cost = np.ascontiguousarray(problem.cost, dtype=np.int64)
    demand = np.array([node.demand for node in problem.nodes], dtype=np.int64)
    width = max([1] + [len(node.windows) for node in problem.nodes])
    window_open = np.zeros((n, width), dtype=np.int64)
    window_close = np.full((n, width), -1, dtype=np.int64)
    window_count = np.ones(n, dtype=np.int64)
    penalty = np.zeros(n, dtype=np.int64)
    allowed = np.ones((n, fleet), dtype=np.bool_)
    for i, node in enumerate(problem.nodes):
        windows = node.windows or ((0, problem.horizon),)
        window_count[i] = len(windows)
        for w, (lo, hi) in enumerate(windows):
            window_open[i, w], window_close[i, w] = max(0, lo), min(problem.horizon, hi)
        penalty[i] = MISSING_PENALTY if node.penalty is None else node.penalty
        if node.vehicles is not None:
            allowed[i, :] = False
            allowed[i, list(node.vehicles)] = True
    group = np.full(n, -1, dtype=np.int64)
    members = np.full((max(1, len(problem.groups)), max([1] + [len(g.nodes) for g in problem.groups])), -1)
    for g, choose in enumerate(problem.groups):
        group[list(choose.nodes)] = g
        penalty[list(choose.nodes)] = MISSING_PENALTY if choose.penalty is None else choose.penalty
        members[g, : len(choose.nodes)] = choose.nodes
    start = np.array([v.start for v in problem.vehicles], dtype=np.int64)
    ready = np.zeros(fleet, dtype=np.int64)
    due = np.zeros(fleet, dtype=np.int64)
    for k, v in enumerate(problem.vehicles):
        lo, hi = v.shift or (0, problem.horizon)
        start_node, end_node = problem.nodes[v.start], problem.nodes[v.end]
        if start_node.windows:
            lo = max(lo, start_node.windows[0][0])
        if end_node.windows:
            hi = min(hi, end_node.windows[-1][1])
        ready[k], due[k] = lo, min(hi, problem.horizon)
    # The core adds a capacity dimension only when some node has a demand.
    capacity = np.array([v.capacity if demand.any() else 0 for v in problem.vehicles], dtype=np.int64)
    signatures: dict[tuple, int] = {}
    kinds = [
        signatures.setdefault(
            (v.start, v.end, int(capacity[k]), ready[k], due[k], v.fixed_cost), len(signatures)
        )
        for k, v in enumerate(problem.vehicles)
    ]
    rank = np.full(n, -1, dtype=np.int64)
    rank[customers] = np.arange(len(customers))
    travel = np.asarray(problem.travel, dtype=np.int64)
    rest = np.array([node.rest for node in problem.nodes], dtype=np.bool_)
    near = np.full((n, NEAR_REST), -1, dtype=np.int64)
    workers = customers[~rest[customers]]
    if problem.duty is not None and len(workers):
        reach = problem.duty.max_drive / 2
        for m in np.flatnonzero(rest):
            close = workers[travel[m, workers] <= reach]
            close = close[np.argsort(travel[m, close], kind="stable")[:NEAR_REST]]
            near[m, : len(close)] = close
    return _Arrays(
        cost=cost,
        travel=np.ascontiguousarray(problem.travel, dtype=np.int64),
        service=np.array([node.service for node in problem.nodes], dtype=np.int64),
        demand=demand,
        window_open=window_open,
        window_close=window_close,
        window_count=window_count,
        penalty=penalty,
        group=group,
        members=members.astype(np.int64),
        allowed=allowed,
        start=start,
        end=np.array([v.end for v in problem.vehicles], dtype=np.int64),
        capacity=capacity,
        ready=ready,
        due=due,
        fixed=np.array([v.fixed_cost for v in problem.vehicles], dtype=np.int64),
        kind=np.array(kinds, dtype=np.int64),
        customers=customers,
        # Strings are removed around a seed customer, from its nearest neighbours outwards.
        neighbours=customers[np.argsort(cost[np.ix_(customers, customers)], axis=1, kind="stable")],
        rank=rank,
        depot_cost=cost[start[0], :].astype(np.float64),
        drive=np.ascontiguousarray(
            problem.travel if problem.drive is None else problem.drive, dtype=np.int64
        ),
        rest=rest,
        release=np.array([node.release for node in problem.nodes], dtype=np.int64),
        limits=np.array(
            [1, duty.max_duty, duty.max_drive, duty.workload_scale]
            if (duty := problem.duty)
            else [0, 0, 0, 0],
            dtype=np.int64,
        ),
        near=near,
        pull=np.minimum(penalty, PULL_CAP).astype(np.float64) * PULL_SHARE,
        prefer=np.array(
            [node.prefer if node.prefer is not None else (-1, 0, -1) for node in problem.nodes],
            dtype=np.int64,
        ).reshape(n, 3),
        move_cost=np.array([node.move_cost for node in problem.nodes], dtype=np.int64),
        locked=np.array([node.locked for node in problem.nodes], dtype=np.bool_),
        blackout=_blackouts(problem),
    )


def _blackouts(problem: RoutingProblem) -> np.ndarray:
    """Vehicle blackouts as a padded array (empty spans (0, -1) where a vehicle has fewer)."""
    width = max([1] + [len(v.blackouts) for v in problem.vehicles])
    spans = np.zeros((len(problem.vehicles), width, 2), dtype=np.int64)
    spans[:, :, 1] = -1
    for k, vehicle in enumerate(problem.vehicles):
        for b, (lo, hi) in enumerate(vehicle.blackouts):
            spans[k, b] = lo, hi
    return spans


def _state(problem: RoutingProblem, routes: Sequence[Sequence[int]], arrays: _Arrays) -> _State:
    """Search state for ``routes``; ``ValueError`` if a route breaks a constraint."""
    n, fleet = len(problem.nodes), len(problem.vehicles)
    if len(routes) != fleet:
        raise ValueError(f"expected {fleet} routes, got {len(routes)}")
    width = max(1, len(arrays.customers))
    state = _State(
        routes=np.zeros((fleet, width), dtype=np.int64),
        lengths=np.zeros(fleet, dtype=np.int64),
        earliest_start=np.zeros((fleet, width), dtype=np.int64),
        latest_start=np.zeros((fleet, width), dtype=np.int64),
        load=np.zeros(fleet, dtype=np.int64),
        route_cost=np.zeros(fleet, dtype=np.int64),
        vehicle_of=np.full(n, -1, dtype=np.int64),
        work=np.zeros(fleet, dtype=np.int64),
        duty_drive=np.zeros((fleet, width + 1), dtype=np.int64),
        duty_busy=np.zeros((fleet, width + 1), dtype=np.int64),
    )
    for v, route in enumerate(routes):
        for k, node in enumerate(route):
            if state.vehicle_of[node] != -1 or arrays.rank[node] < 0:
                raise ValueError(f"node {node} is a depot or appears twice in the routes")
            state.routes[v, k] = node
            state.vehicle_of[node] = v
        state.lengths[v] = len(route)
    for choose in problem.groups:
        if sum(state.vehicle_of[m] >= 0 for m in choose.nodes) > 1:
            raise ValueError(f"the routes visit several members of the group {list(choose.nodes)}")
    scratch = _scratch(arrays)
    for v in range(fleet):
        if not _route_ok(arrays, state, v, scratch) or not all(arrays.allowed[c, v] for c in routes[v]):
            raise ValueError(
                f"route {v} breaks a time window, the capacity, a duty limit or a vehicle restriction"
            )
    return state


@njit(cache=True)
def _seed(seed):
    np.random.seed(seed)


NEVER = 2**62
"""A start time later than any horizon: "no window is left"."""


@njit(cache=True)
def _earliest_start(a, c, t):
    """The earliest allowed service start of node ``c`` at or after ``t`` (NEVER if none)."""
    for w in range(a.window_count[c]):
        if t <= a.window_close[c, w]:
            return max(t, a.window_open[c, w])
    return NEVER


@njit(cache=True)
def _latest_start(a, c, t):
    """The latest allowed service start of node ``c`` at or before ``t`` (-NEVER if none)."""
    for w in range(a.window_count[c] - 1, -1, -1):
        if t >= a.window_open[c, w]:
            return min(t, a.window_close[c, w])
    return -NEVER


@njit(cache=True)
def _moved(a, c, v, start):
    """The cost of serving ``c`` by vehicle ``v`` from ``start`` against its preference."""
    pv = a.prefer[c, 0]
    if pv < 0 or (pv == v and a.prefer[c, 1] <= start <= a.prefer[c, 2]):
        return 0
    return a.move_cost[c]


@njit(cache=True)
def _blocked(a, v, lo, hi):
    """Whether vehicle ``v`` has a blackout overlapping [lo, hi]."""
    for b in range(a.blackout.shape[1]):  # noqa: SIM110 (numba compiles loops, not generators)
        if a.blackout[v, b, 0] <= hi and lo <= a.blackout[v, b, 1]:
            return True
    return False


@njit(cache=True)
def _balance(a, work):
    """The workload term of a vehicle's cost (0 without a workload scale)."""
    return work * work // a.limits[3] if a.limits[3] > 0 else 0


@njit(cache=True)
def _segment_times(a, first, depart, nodes, n, end, arrive_out, start_out):
    """Schedule one duty: leave ``first`` no earlier than ``depart``, serve ``nodes[:n]`` in
    order, reach ``end``. Fills each node's arrival and service start (earliest, then with the
    departure pushed as late as keeps the arrival at ``end``, so waiting on the way is spent
    before leaving) and returns (feasible, leave, arrival at end, driving minutes)."""
    clock = depart
    prev = first
    driven = 0
    for i in range(n):
        c = nodes[i]
        start = _earliest_start(a, c, clock + a.travel[prev, c])
        if start == NEVER:
            return False, depart, NEVER, driven
        start_out[i] = start
        clock = start + a.service[c]
        driven += a.drive[prev, c]
        prev = c
    arrival = clock + a.travel[prev, end]
    driven += a.drive[prev, end]
    # Latest starts that still reach ``end`` at ``arrival``.
    bound = arrival
    nxt = end
    for i in range(n - 1, -1, -1):
        c = nodes[i]
        bound = _latest_start(a, c, bound - a.travel[c, nxt] - a.service[c])
        nxt = c
    leave = bound - a.travel[first, nxt] if n > 0 else arrival - a.travel[first, end]
    clock = leave
    prev = first
    for i in range(n):
        c = nodes[i]
        arrive_out[i] = clock + a.travel[prev, c]
        start_out[i] = _earliest_start(a, c, arrive_out[i])
        clock = start_out[i] + a.service[c]
        prev = c
    return True, leave, arrival, driven


@njit(cache=True)
def _duty_ok(a, v, first, depart, nodes, n, end, scratch):
    """Whether one duty of vehicle ``v`` keeps its windows, the duty and driving limits and the
    vehicle's blackouts (a duty overlapping one serves nobody)."""
    ok, leave, arrival, driven = _segment_times(a, first, depart, nodes, n, end, scratch[0], scratch[1])
    if ok and n > 0 and _blocked(a, v, depart, arrival):
        return False
    return ok and driven <= a.limits[2] and arrival - leave <= a.limits[1]


@njit(cache=True)
def _departure(a, s, v, position):
    """Earliest departure from the rest node at ``position`` of route ``v`` (-1: the start)."""
    if position < 0:
        return a.ready[v] + a.service[a.start[v]]
    node = s.routes[v, position]
    return max(s.earliest_start[v, position] + a.service[node], a.release[node])


@njit(cache=True)
def _duty_bounds(a, s, v, p):
    """(position of the rest node before position ``p`` or -1, position of the next one at or
    after ``p`` or the route length): the duty an insertion at ``p`` falls into."""
    lo = p - 1
    while lo >= 0 and not a.rest[s.routes[v, lo]]:
        lo -= 1
    hi = p
    while hi < s.lengths[v] and not a.rest[s.routes[v, hi]]:
        hi += 1
    return lo, hi


@njit(cache=True)
def _insertion_keeps_duties(a, s, v, p, c, scratch):
    """Whether inserting ``c`` at position ``p`` of route ``v`` keeps the duty limits of the
    duty it falls into (both halves when ``c`` is a rest node that splits it)."""
    lo, hi = _duty_bounds(a, s, v, p)
    first = a.start[v] if lo < 0 else s.routes[v, lo]
    end = a.end[v] if hi == s.lengths[v] else s.routes[v, hi]
    buffer = scratch[2]
    n = 0
    for i in range(lo + 1, p):
        buffer[n] = s.routes[v, i]
        n += 1
    if not a.rest[c]:
        buffer[n] = c
        n += 1
        for i in range(p, hi):
            buffer[n] = s.routes[v, i]
            n += 1
        return _duty_ok(a, v, first, _departure(a, s, v, lo), buffer, n, end, scratch)
    if not _duty_ok(a, v, first, _departure(a, s, v, lo), buffer, n, c, scratch):
        return False
    # The rest node's own start: the first half's arrival, in the node's window.
    ok, _, arrival, _ = _segment_times(
        a, first, _departure(a, s, v, lo), buffer, n, c, scratch[0], scratch[1]
    )
    start = _earliest_start(a, c, arrival)
    if not ok or start == NEVER:
        return False
    n = 0
    for i in range(p, hi):
        buffer[n] = s.routes[v, i]
        n += 1
    return _duty_ok(a, v, c, max(start + a.service[c], a.release[c]), buffer, n, end, scratch)


@njit(cache=True)
def _route_keeps_duties(a, s, v, scratch):
    """Whether every duty of route ``v`` keeps its windows and the duty and driving limits."""
    k = s.lengths[v]
    lo = -1
    buffer = scratch[2]
    while lo < k:
        hi = lo + 1
        while hi < k and not a.rest[s.routes[v, hi]]:
            hi += 1
        n = 0
        for i in range(lo + 1, hi):
            buffer[n] = s.routes[v, i]
            n += 1
        first = a.start[v] if lo < 0 else s.routes[v, lo]
        end = a.end[v] if hi == k else s.routes[v, hi]
        if not _duty_ok(a, v, first, _departure(a, s, v, lo), buffer, n, end, scratch):
            return False
        lo = hi
    return True


@njit(cache=True)
def _duty_totals(a, s, v):
    """Fill ``s.duty_drive`` and ``s.duty_busy`` of route ``v``: for each gap, the driving and
    the travel-plus-service minutes of the duty it falls into. What an insertion adds to them
    bounds the duty from below (waits only lengthen it), which rules out most insertions that
    break a duty limit without scheduling the duty (:func:`_best_insertion`)."""
    k = s.lengths[v]
    first_gap = 0
    prev = a.start[v]
    drive = 0
    busy = 0
    for i in range(k + 1):
        c = s.routes[v, i] if i < k else a.end[v]
        drive += a.drive[prev, c]
        busy += a.travel[prev, c]
        if i == k or a.rest[c]:
            # Gaps first_gap..i (before positions first_gap..i) lie in the duty that ends at c.
            s.duty_drive[v, first_gap : i + 1] = drive
            s.duty_busy[v, first_gap : i + 1] = busy
            first_gap = i + 1
            drive = 0
            busy = 0
        else:
            busy += a.service[c]
        prev = c


@njit(cache=True)
def _route_ok(a, s, v, scratch):
    """Recompute route ``v`` (:func:`_evaluate_route`); False if it breaks a window, the capacity
    or a duty limit."""
    return _evaluate_route(a, s, v) and (not a.limits[0] or _route_keeps_duties(a, s, v, scratch))


@njit(cache=True)
def _evaluate_route(a, s, v):
    """Recompute times, load, work, cost and duty totals of route ``v``; False if it breaks a
    window or the capacity. The duty limits, which take a pass over each duty, are left to
    :func:`_route_ok`: a route under repair is only judged once its insertions are done."""
    k = s.lengths[v]
    if a.limits[0]:
        _duty_totals(a, s, v)
    if k == 0:
        s.load[v] = 0
        s.work[v] = 0
        s.route_cost[v] = 0  # OR-Tools charges nothing for an unused vehicle
        return True
    prev = a.start[v]
    clock = a.ready[v] + a.service[prev]
    total = 0
    quantity = 0
    work = 0
    feasible = True
    for i in range(k):
        c = s.routes[v, i]
        if i > 0 and a.rest[prev]:
            clock = max(clock, a.release[prev])
        arrive = _earliest_start(a, c, clock + a.travel[prev, c])
        if arrive == NEVER:
            feasible = False
        s.earliest_start[v, i] = arrive
        clock = arrive + a.service[c]
        total += a.cost[prev, c]
        if a.move_cost[c]:
            total += _moved(a, c, v, arrive)
        quantity += a.demand[c]
        work += a.drive[prev, c] + (0 if a.rest[c] else a.service[c])
        prev = c
    if a.rest[prev]:
        clock = max(clock, a.release[prev])
    if clock + a.travel[prev, a.end[v]] > a.due[v]:
        feasible = False
    total += a.cost[prev, a.end[v]]
    work += a.drive[prev, a.end[v]]
    bound = a.due[v]
    nxt = a.end[v]
    for i in range(k - 1, -1, -1):
        c = s.routes[v, i]
        leave_by = bound - a.travel[c, nxt]
        if a.rest[c] and leave_by < a.release[c]:
            bound = -NEVER  # cannot leave this bed in time
        else:
            bound = _latest_start(a, c, leave_by - a.service[c])
        s.latest_start[v, i] = bound
        nxt = c
    s.load[v] = quantity
    s.work[v] = work
    s.route_cost[v] = total + a.fixed[v] + _balance(a, work)
    return feasible and quantity <= a.capacity[v]


@njit(cache=True)
def _served(a, s, c):
    """Whether node ``c`` — or, for a group member, any member of its group — is on a route."""
    g = a.group[c]
    if g < 0:
        return s.vehicle_of[c] >= 0
    for m in a.members[g]:  # noqa: SIM110 (numba compiles loops, not generator expressions)
        if m >= 0 and s.vehicle_of[m] >= 0:
            return True
    return False


@njit(cache=True)
def _objective(a, s):
    """Route costs plus the penalties of customers and groups left out (a group counted at its
    first member)."""
    total = s.route_cost.sum()
    for c in a.customers:
        g = a.group[c]
        if (g < 0 or a.members[g, 0] == c) and not _served(a, s, c):
            total += a.penalty[c]
    return total


@njit(cache=True)
def _remove_string(a, s, v, first, count, keep_from, keep_count, removed, n_removed):
    """Remove ``count`` customers of route ``v`` from position ``first`` on, except the
    ``keep_count`` starting at ``keep_from`` (split string) and locked nodes; append them to
    ``removed``."""
    k = s.lengths[v]
    write = first
    for i in range(first, first + count):
        c = s.routes[v, i]
        if keep_from <= i < keep_from + keep_count or a.locked[c]:
            s.routes[v, write] = c
            write += 1
        else:
            removed[n_removed] = c
            n_removed += 1
            s.vehicle_of[c] = -1
    for i in range(first + count, k):
        s.routes[v, write] = s.routes[v, i]
        write += 1
    s.lengths[v] = write
    return n_removed


@njit(cache=True)
def _ruin(a, s, settings, dirty, removed):
    """SISR ruin: strings removed from routes near a random seed customer; returns how many."""
    c_bar, max_string, split_rate, split_depth = settings[0], settings[1], settings[2], settings[3]
    routed = s.lengths.sum()
    used = (s.lengths > 0).sum()
    if used == 0:
        return 0
    string_max = min(max_string, routed / used)
    strings_max = 4.0 * c_bar / (1.0 + string_max) - 1.0
    strings = int(np.random.uniform(1.0, strings_max + 1.0))
    seed_customer = a.customers[np.random.randint(0, a.customers.shape[0])]
    n_removed = 0
    ruined = 0
    for c in a.neighbours[a.rank[seed_customer]]:
        if ruined >= strings:
            break
        v = s.vehicle_of[c]
        if v < 0 or dirty[v]:
            continue
        k = s.lengths[v]
        position = 0
        while s.routes[v, position] != c:
            position += 1
        length = min(k, int(np.random.uniform(1.0, min(k, string_max) + 1.0)))
        keep = 0
        if length < k and np.random.random() < split_rate:
            keep = 1
            while length + keep < k and np.random.random() > split_depth:
                keep += 1
        span = length + keep
        first = np.random.randint(max(0, position - span + 1), min(position, k - span) + 1)
        keep_from = first + np.random.randint(0, length + 1) if keep else -1
        n_removed = _remove_string(a, s, v, first, span, keep_from, keep, removed, n_removed)
        dirty[v] = True
        ruined += 1
    return n_removed


@njit(cache=True)
def _may_keep_duty(a, s, v, p, c, prev, nxt):
    """Whether inserting customer ``c`` between ``prev`` and ``nxt`` at gap ``p`` of route ``v``
    can keep its duty's limits: its driving and its travel and service (the duty without its
    waits) grow by what the insertion adds, so over a limit they rule it out in constant time.
    True for a rest node, which splits its duty (:func:`_insertion_keeps_duties` decides)."""
    if a.rest[c]:
        return True
    if s.duty_drive[v, p] + a.drive[prev, c] + a.drive[c, nxt] - a.drive[prev, nxt] > a.limits[2]:
        return False
    added = a.travel[prev, c] + a.service[c] + a.travel[c, nxt] - a.travel[prev, nxt]
    return s.duty_busy[v, p] + added <= a.limits[1]


@njit(cache=True)
def _best_insertion(a, s, c, blink_rate, scratch):
    """Cheapest feasible (vehicle, position, added cost) for ``c``; vehicle -1 if none.

    Windows, capacity, cost and bounds of the duty limits are checked for every position in
    constant time; the duty limits themselves, which take a pass over a duty, only for the
    cheapest candidates, in order, until one keeps them."""
    tried_kind = -1
    served = 0 if a.rest[c] else a.service[c]
    found = 0
    deltas, places = scratch[3], scratch[4]
    for v in range(s.lengths.shape[0]):
        if not a.allowed[c, v] or s.load[v] + a.demand[c] > a.capacity[v]:
            continue
        k = s.lengths[v]
        if k == 0:
            # Empty vehicles of one kind are interchangeable: the first of a run stands for all.
            if a.kind[v] == tried_kind:
                continue
            tried_kind = a.kind[v]
        balance = _balance(a, s.work[v])
        for p in range(k + 1):
            if np.random.random() < blink_rate:
                continue
            if p == 0:
                prev = a.start[v]
                leave = a.ready[v] + a.service[prev]
            else:
                prev = s.routes[v, p - 1]
                leave = s.earliest_start[v, p - 1] + a.service[prev]
                if a.rest[prev]:
                    leave = max(leave, a.release[prev])
            if p == k:
                nxt = a.end[v]
                bound = a.due[v]
            else:
                nxt = s.routes[v, p]
                bound = s.latest_start[v, p]
            arrive = _earliest_start(a, c, leave + a.travel[prev, c])
            if arrive == NEVER:
                continue
            depart = arrive + a.service[c]
            if a.rest[c]:
                depart = max(depart, a.release[c])
            if depart + a.travel[c, nxt] > bound:
                continue
            if a.limits[0] and not _may_keep_duty(a, s, v, p, c, prev, nxt):
                continue
            delta = a.cost[prev, c] + a.cost[c, nxt]
            if a.move_cost[c]:
                delta += _moved(a, c, v, arrive)
            delta += a.fixed[v] if k == 0 else -a.cost[prev, nxt]
            if a.limits[3] > 0:
                added = served + a.drive[prev, c] + a.drive[c, nxt] - a.drive[prev, nxt]
                delta += _balance(a, s.work[v] + added) - balance
            if found < deltas.shape[0]:
                deltas[found] = delta
                places[found] = v * (deltas.shape[0] + 1) + p
                found += 1
    if found == 0:
        return -1, -1, np.iinfo(np.int64).max
    order = np.argsort(deltas[:found], kind="mergesort")
    width = deltas.shape[0] + 1
    for i in order:
        v, p = places[i] // width, places[i] % width
        if not a.limits[0] or _insertion_keeps_duties(a, s, v, p, c, scratch):
            return v, p, deltas[i]
    return -1, -1, np.iinfo(np.int64).max


@njit(cache=True)
def _recreate_order(a, removed, n_removed):
    """Greedy insertion order, drawn as in SISR: random 4, demand 4, far 2, close 1."""
    key = np.empty(n_removed, dtype=np.float64)
    draw = np.random.random() * 11.0
    for i in range(n_removed):
        c = removed[i]
        if draw < 4.0:
            key[i] = np.random.random()
        elif draw < 8.0:
            key[i] = -a.demand[c] - np.random.random() * 0.5
        elif draw < 10.0:
            key[i] = -a.depot_cost[c]
        else:
            key[i] = a.depot_cost[c]
        if a.rest[c]:
            # Rest nodes first: a duty missing its bed admits no insertion until it is back.
            key[i] -= 1e18
    return removed[:n_removed][np.argsort(key)]


@njit(cache=True)
def _pull(a, s, m, v):
    """How strongly the customers left out near rest node ``m`` draw vehicle ``v`` to it."""
    total = 0.0
    for c in a.near[m]:
        if c < 0:
            break
        if s.vehicle_of[c] < 0 and a.allowed[c, v]:
            total += a.pull[c]
    return np.int64(total)


@njit(cache=True)
def _recreate(a, s, settings, dirty, removed, n_removed, scratch):
    """Insert the removed customers one by one where they cost least (with blinks), each only
    if that costs less than leaving it out; a group member stands for its group, which gets
    its cheapest member. A rest member's cost is lowered by the pull of the customers left out
    near it: a bed near unvisited customers opens the way to them (inserted one by one, a far
    cluster never pays for the drive to its first member)."""
    _insert(a, s, settings, dirty, _recreate_order(a, removed, n_removed), scratch)


@njit(cache=True)
def _insert(a, s, settings, dirty, order, scratch):
    """Insert the customers of ``order`` in that order, as :func:`_recreate` describes."""
    for c in order:
        g = a.group[c]
        if g < 0:
            v, p, delta = _best_insertion(a, s, c, settings[4], scratch)
        else:
            if _served(a, s, c):
                continue
            v, p, delta = -1, -1, np.iinfo(np.int64).max
            for m in a.members[g]:
                if m < 0:
                    break
                mv, mp, md = _best_insertion(a, s, m, settings[4], scratch)
                if mv >= 0 and a.rest[m]:
                    md -= _pull(a, s, m, mv)
                if mv >= 0 and md < delta:
                    c, v, p, delta = m, mv, mp, md
        if v < 0 or delta >= a.penalty[c]:
            continue
        for i in range(s.lengths[v], p, -1):
            s.routes[v, i] = s.routes[v, i - 1]
        s.routes[v, p] = c
        s.lengths[v] += 1
        s.vehicle_of[c] = v
        dirty[v] = True
        _evaluate_route(a, s, v)


@njit(cache=True)
def _copy_routes(source, target, dirty):
    """Copy the routes flagged in ``dirty`` (and their times, load, cost) from source to target."""
    for v in range(dirty.shape[0]):
        if dirty[v]:
            k = source.lengths[v]
            target.routes[v, :k] = source.routes[v, :k]
            target.earliest_start[v, :k] = source.earliest_start[v, :k]
            target.latest_start[v, :k] = source.latest_start[v, :k]
            target.duty_drive[v, : k + 1] = source.duty_drive[v, : k + 1]
            target.duty_busy[v, : k + 1] = source.duty_busy[v, : k + 1]
            target.lengths[v] = k
            target.load[v] = source.load[v]
            target.work[v] = source.work[v]
            target.route_cost[v] = source.route_cost[v]


@njit(cache=True)
def _scratch(a):
    """Work arrays: arrivals, starts and nodes of one duty; insertion candidates' costs and
    places (vehicle x width + position)."""
    width = a.customers.shape[0] + 2
    return np.empty((5, max(width, a.start.shape[0] * width)), dtype=np.int64)


@njit(cache=True, nogil=True)  # releases the GIL: searches in threads run in parallel
def _iterate(a, current, candidate, best, totals, settings, iterations, temperature):
    """``iterations`` SISR iterations at ``temperature``. ``candidate`` equals ``current`` on
    entry and exit; ``totals`` holds the current and best objectives."""
    fleet = current.lengths.shape[0]
    dirty = np.zeros(fleet, dtype=np.bool_)
    everything = np.ones(fleet, dtype=np.bool_)
    removed = np.empty(a.customers.shape[0], dtype=np.int64)
    scratch = _scratch(a)
    for _ in range(iterations):
        dirty[:] = False
        n_removed = _ruin(a, candidate, settings, dirty, removed)
        for v in range(fleet):
            if dirty[v]:
                _evaluate_route(a, candidate, v)
        # Customers and groups left out before get another chance: all of them while few are
        # left out, else a random share of the optional ones (each retry scans every route).
        left_out = 0
        for c in a.customers:
            if a.group[c] < 0 and a.penalty[c] < MISSING_PENALTY and current.vehicle_of[c] < 0:
                left_out += 1
        retry = min(1.0, settings[5] / left_out) if left_out else 1.0
        for c in a.customers:
            g = a.group[c]
            if (
                (g < 0 or a.members[g, 0] == c)
                and not _served(a, current, c)
                and (g >= 0 or a.penalty[c] >= MISSING_PENALTY or np.random.random() < retry)
            ):
                removed[n_removed] = c
                n_removed += 1
        _recreate(a, candidate, settings, dirty, removed, n_removed, scratch)
        objective = _objective(a, candidate)
        for v in range(fleet):
            # A ruin can break a duty (a bed removed, or a short leg lost before a long one);
            # such a candidate is never accepted.
            if dirty[v] and not _route_ok(a, candidate, v, scratch):
                objective = np.iinfo(np.int64).max
        if objective < totals[0] - temperature * np.log(np.random.random()):
            source, target = candidate, current
            totals[0] = objective
            if objective < totals[1]:
                _copy_routes(candidate, best, everything)
                best.vehicle_of[:] = candidate.vehicle_of
                totals[1] = objective
        else:
            source, target = current, candidate
        _copy_routes(source, target, dirty)
        # Whole array: a group may come back through another member than the one removed.
        target.vehicle_of[:] = source.vehicle_of
