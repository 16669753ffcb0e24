"""The routing core's modelling features on tiny instances whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from planning.core import (
    ChooseOne,
    Node,
    RoutingProblem,
    RoutingSolution,
    SolveParams,
    Vehicle,
    Visit,
    portfolio,
    solve,
)

# Greedy descent stops at its local optimum, so these tests do not wait for a time limit.
QUICK = SolveParams(seconds=5, metaheuristic="GREEDY_DESCENT")


def line_problem(
    positions: list[int],
    nodes: list[Node],
    vehicles: list[Vehicle] | None = None,
    groups: tuple[ChooseOne, ...] = (),
    horizon: int = 1000,
) -> RoutingProblem:
    """Nodes on a line: travel time and cost are the distance between positions."""
    where = np.asarray(positions)
    distance = np.abs(where[:, None] - where[None, :])
    return RoutingProblem(
        tuple(nodes),
        tuple(vehicles or [Vehicle(0, 0)]),
        distance,
        distance,
        horizon,
        groups,
    )


def stops(solution: RoutingSolution) -> dict[int, tuple[int, Visit]]:
    """Visited node -> (vehicle, visit), depots excluded."""
    return {visit.node: (v, visit) for v, route in enumerate(solution.routes) for visit in route[1:-1]}


def test_windows_with_a_gap_are_honoured() -> None:
    # Reachable at 20, but the first window closes at 10: service must wait for the second one.
    problem = line_problem([0, 20], [Node("depot"), Node("site", service=5, windows=((0, 10), (50, 60)))])
    solution = solve(problem, QUICK)
    assert solution.feasible
    assert stops(solution)[1][1].start == 50


def test_choose_one_visits_exactly_one_node_of_the_group() -> None:
    problem = line_problem(
        [0, 30, 10, 50],
        [Node("depot"), Node("lodge far"), Node("lodge near"), Node("lodge farther")],
        groups=(ChooseOne((1, 2, 3)),),
    )
    solution = solve(problem, QUICK)
    visited = set(stops(solution))
    assert visited == {2}
    assert set(solution.dropped) == {1, 3}


def test_optional_group_with_a_small_penalty_is_skipped() -> None:
    problem = line_problem(
        [0, 30, 40], [Node("depot"), Node("a"), Node("b")], groups=(ChooseOne((1, 2), penalty=5),)
    )
    solution = solve(problem, QUICK)
    assert not stops(solution)
    assert solution.objective == 5


def test_penalty_decides_whether_an_optional_site_is_dropped() -> None:
    # The detour to position 100 and back costs 200.
    cheap = line_problem([0, 100], [Node("depot"), Node("site", penalty=150)])
    dear = line_problem([0, 100], [Node("depot"), Node("site", penalty=250)])
    mandatory = line_problem([0, 100], [Node("depot"), Node("site")])
    assert solve(cheap, QUICK).dropped == (1,)
    assert solve(dear, QUICK).dropped == ()
    solution = solve(mandatory, QUICK)
    assert solution.dropped == () and solution.objective == 200


def test_vehicle_restriction_overrides_the_cheaper_vehicle() -> None:
    # Vehicle 0 lives next to the site; only vehicle 1 (based far away) may serve it.
    nodes = [Node("base 0"), Node("base 1"), Node("site", vehicles=(1,))]
    vehicles = [Vehicle(0, 0), Vehicle(1, 1)]
    solution = solve(line_problem([0, 100, 5], nodes, vehicles), QUICK)
    assert stops(solution)[2][0] == 1


def test_visit_departure_is_start_plus_service_plus_wait() -> None:
    nodes = [
        Node("depot"),
        Node("A", service=7, windows=((0, 50),)),
        Node("B", service=3, windows=((80, 90),)),
    ]
    problem = line_problem([0, 10, 30], nodes)
    solution = solve(problem, QUICK)
    route = solution.routes[0]
    for visit, following in zip(route, route[1:], strict=False):
        service = problem.nodes[visit.node].service if visit.node != 0 else 0
        assert visit.departure >= visit.start + service
        # The vehicle leaves just in time: departure + travel is the next service start.
        assert visit.departure + problem.travel[visit.node, following.node] == following.start


def test_capacity_splits_demand_over_vehicles() -> None:
    nodes = [Node("depot"), Node("a", demand=6), Node("b", demand=6)]
    vehicles = [Vehicle(0, 0, capacity=10), Vehicle(0, 0, capacity=10)]
    solution = solve(line_problem([0, 10, 11], nodes, vehicles), QUICK)
    assert {v for v, _ in stops(solution).values()} == {0, 1}


def test_impossible_window_reports_no_solution() -> None:
    nodes = [Node("depot"), Node("site", windows=((0, 5),))]
    solution = solve(line_problem([0, 50], nodes), QUICK)
    assert not solution.feasible
    assert solution.routes == ()


def test_cpu_budget_stops_a_long_search() -> None:
    rng = np.random.default_rng(3)
    positions = rng.integers(0, 1000, size=40).tolist()
    nodes = [Node("depot")] + [Node(str(i), service=1) for i in range(1, 40)]
    problem = line_problem(positions, nodes, [Vehicle(0, 0)] * 3, horizon=100_000)
    improvements: list[int] = []
    solution = solve(
        problem,
        SolveParams(seconds=60, cpu_seconds=0.5),
        lambda _elapsed, objective: improvements.append(objective),
    )
    assert solution.feasible
    assert solution.stats["cpu_seconds"] < 5
    assert improvements == sorted(improvements, reverse=True)
    assert len(set(improvements)) == len(improvements)
    assert improvements[-1] == solution.objective


def test_restarts_split_the_cpu_budget_and_never_lose_the_best() -> None:
    rng = np.random.default_rng(5)
    positions = rng.integers(0, 1000, size=30).tolist()
    nodes = [Node("depot")] + [Node(str(i), service=1, penalty=400) for i in range(1, 30)]
    problem = line_problem(positions, nodes, [Vehicle(0, 0)] * 2, horizon=100_000)
    improvements: list[int] = []
    params = SolveParams(seconds=60, cpu_seconds=0.6, restart_lambdas=(0.3, 0.05))
    solution = solve(problem, params, lambda _elapsed, objective: improvements.append(objective))
    assert solution.feasible
    assert solution.objective == min(improvements)
    assert solution.stats["cpu_seconds"] < 5
    assert "restarts lambda=0.3,0.05" in solution.stats["settings"]
    # The objective counts travel and the penalties of dropped sites, and nothing else.
    travel = sum(
        problem.cost[a.node, b.node]
        for route in solution.routes
        for a, b in zip(route, route[1:], strict=False)
    )
    assert solution.objective == travel + 400 * len(solution.dropped)


def test_unknown_operator_or_strategy_is_a_clear_error() -> None:
    problem = line_problem([0, 1], [Node("depot"), Node("site")])
    with pytest.raises(ValueError, match="use_teleport"):
        solve(problem, SolveParams(operators=(("use_teleport", True),)))
    with pytest.raises(ValueError, match="FASTEST"):
        solve(problem, SolveParams(first_solution="FASTEST"))


def test_portfolio_variants_differ_and_parallel_solve_keeps_the_best() -> None:
    variants = portfolio(SolveParams(workers=3))
    assert len({v.first_solution for v in variants}) == 3
    assert all(v.workers == 1 for v in variants)
    nodes = [Node("depot")] + [Node(str(i), windows=((0, 500),)) for i in range(1, 6)]
    problem = line_problem([0, 10, 20, 30, 40, 50], nodes, [Vehicle(0, 0)] * 2)
    solution = solve(problem, SolveParams(seconds=1, workers=2))
    assert solution.feasible and solution.objective == 100
    assert len(solution.stats["workers"]) == 2
    assert solution.stats["cpu_seconds"] >= max(w["cpu_seconds"] for w in solution.stats["workers"])
