"""PyVRP as an engine of the routing core: exact translation, refusals with reasons, solutions that
the core's own check accepts, and the engine option of the VRPTW bench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planning import bench, pyvrp_engine, ruin_recreate
from planning.core import ChooseOne, DutyLimits, Node, RoutingProblem, SolveParams, Vehicle, solve
from planning.vrptw import customer_routes, evaluate, load_solomon, to_problem

INSTANCES = Path(__file__).resolve().parents[1] / "bench" / "vrptw"
QUICK = SolveParams(seconds=5, metaheuristic="GREEDY_DESCENT")


@pytest.fixture(scope="module")
def c101():
    return load_solomon(INSTANCES / "C101.txt")


@pytest.fixture(scope="module")
def c101_solved(c101):
    problem = to_problem(c101)
    return problem, pyvrp_engine.solve_pyvrp(problem, SolveParams(seconds=20, cpu_seconds=1.0, seed=3))


def line_problem(positions, nodes, vehicles=None, groups=(), horizon=1000, duty=None) -> RoutingProblem:
    where = np.asarray(positions)
    distance = np.abs(where[:, None] - where[None, :])
    return RoutingProblem(
        tuple(nodes), tuple(vehicles or [Vehicle(0, 0)]), distance, distance, horizon, groups, duty=duty
    )


def test_c101_fits_and_translates_one_to_one(c101) -> None:
    problem = to_problem(c101)
    assert pyvrp_engine.unfit_reason(problem) is None
    translation = pyvrp_engine.to_pyvrp(problem)
    data = translation.data
    assert (data.num_depots, data.num_clients, data.num_vehicles) == (1, 100, 25)
    assert translation.clients == tuple(range(1, 101)) and translation.depots == (0,)
    assert np.array_equal(data.distance_matrix(0), problem.cost)
    assert np.array_equal(data.duration_matrix(0), problem.travel)
    client = data.clients()[0]  # node 1: window 9120-9670, service 900, demand 10
    assert (client.tw_early, client.tw_late, client.service_duration, list(client.delivery)) == (
        9120,
        9670,
        900,
        [10],
    )
    assert client.required and data.vehicle_type(0).capacity == [200]


def test_same_routes_same_distance_both_ways(c101) -> None:
    # Routes from the core's own search, measured by PyVRP on the translated data, by the
    # independent re-check and by the core.
    problem = to_problem(c101)
    core = solve(problem, bench.vrptw_params(1.0, workers=1, budget="cpu"))
    translation = pyvrp_engine.to_pyvrp(problem)
    as_pyvrp = pyvrp_engine.routes_to_pyvrp(translation, core.node_routes)
    evaluation = evaluate(c101, customer_routes(core))
    assert as_pyvrp.is_feasible() and evaluation.feasible
    assert as_pyvrp.distance() == round(evaluation.distance * 10) == core.objective
    assert pyvrp_engine.core_objective(problem, core.node_routes) == core.objective


def test_engine_solution_passes_the_core_checks(c101, c101_solved) -> None:
    problem, solution = c101_solved
    assert solution.feasible and not solution.dropped and solution.stats["engine"] == "pyvrp"
    evaluation = evaluate(c101, customer_routes(solution))
    assert evaluation.feasible, evaluation.violations
    assert round(evaluation.distance * 10) == solution.objective == solution.stats["pyvrp_cost"]
    # The core's own check: the ruin-and-recreate state refuses routes breaking any rule.
    _, stats = ruin_recreate.improve(problem, solution.node_routes, iterations=0)
    assert stats["objective"] == solution.objective
    # Visits are timed inside their windows, leaving after service and reaching the next in time.
    for v, route in enumerate(solution.routes):
        assert route[0].node == problem.vehicles[v].start and route[-1].node == problem.vehicles[v].end
        for here, there in zip(route, route[1:], strict=False):
            node = problem.nodes[there.node]
            assert here.departure >= here.start + problem.nodes[here.node].service
            assert here.departure + problem.travel[here.node, there.node] == there.start
            if node.windows and there is not route[-1]:
                assert node.windows[0][0] <= there.start <= node.windows[0][1]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda n, v, g: (n[:1] + [Node("a", windows=((0, 10), (50, 60)))] + n[2:], v, g), "2 time windows"),
        (lambda n, v, g: (n, v, (ChooseOne((1, 2)),)), "choose-one groups"),
        (lambda n, v, g: (n[:1] + [Node("a", vehicles=(0,))] + n[2:], v, g), "restricted to some vehicles"),
        (lambda n, v, g: (n[:1] + [Node("a", rest=True)] + n[2:], v, g), "rest node"),
        (lambda n, v, g: (n[:1] + [Node("a", prefer=(0, 0, 9), move_cost=5)] + n[2:], v, g), "preferred"),
        (lambda n, v, g: (n[:1] + [Node("a", locked=True)] + n[2:], v, g), "locked"),
        (lambda n, v, g: (n, [Vehicle(0, 0, blackouts=((0, 5),))], g), "blackouts"),
        (lambda n, v, g: ([Node("depot", service=5)] + n[1:], v, g), "start or end node with service"),
    ],
)
def test_problems_outside_pyvrp_are_refused_with_the_reason(change, reason) -> None:
    nodes, vehicles, groups = change([Node("depot"), Node("a"), Node("b")], [Vehicle(0, 0)], ())
    problem = line_problem([0, 10, 20], nodes, vehicles, groups)
    assert reason in pyvrp_engine.unfit_reason(problem)
    with pytest.raises(ValueError, match="does not fit PyVRP"):
        pyvrp_engine.to_pyvrp(problem)
    with pytest.raises(ValueError, match="does not fit PyVRP"):
        pyvrp_engine.solve_with(problem, QUICK, "pyvrp")


def test_duty_limits_are_refused_and_the_portfolio_falls_back_to_the_core() -> None:
    problem = line_problem([0, 10, 20], [Node("depot"), Node("a"), Node("b")], duty=DutyLimits(600, 480))
    assert "duty limits" in pyvrp_engine.unfit_reason(problem)
    groups = line_problem([0, 10, 20], [Node("depot"), Node("a"), Node("b")], groups=(ChooseOne((1, 2)),))
    solution = pyvrp_engine.solve_with(groups, QUICK, "portfolio")
    assert solution.stats["engine"] == "xunhu" and "choose-one" in solution.stats["pyvrp_skipped"]
    assert solution.feasible and len(solution.node_routes[0]) == 1


def test_optional_nodes_fixed_costs_and_two_depots_keep_the_core_objective() -> None:
    # Depot A at 0 (vehicle 0, fixed cost 5), depot B at 100 (vehicles 1 and 2, B→A for vehicle 2).
    # Customer at 10 (mandatory), at 90 (mandatory, window 0-50), at 500 (optional, penalty 100:
    # cheaper to drop than the 800 of the detour), at 60 (optional, penalty 1000: visited).
    nodes = [
        Node("A"),
        Node("B"),
        Node("c10", service=3),
        Node("c90", service=3, windows=((0, 50),)),
        Node("c500", penalty=100),
        Node("c60", penalty=1000),
    ]
    vehicles = [Vehicle(0, 0, fixed_cost=5), Vehicle(1, 1), Vehicle(1, 0, shift=(0, 400))]
    problem = line_problem([0, 100, 10, 90, 500, 60], nodes, vehicles)
    assert pyvrp_engine.unfit_reason(problem) is None
    translation = pyvrp_engine.to_pyvrp(problem)
    assert translation.vehicles == ((0,), (1,), (2,)) and translation.depots == (0, 1)
    solution = pyvrp_engine.solve_pyvrp(problem, SolveParams(seconds=5, cpu_seconds=0.3))
    core = solve(problem, SolveParams(seconds=2))
    assert solution.feasible and solution.dropped == (4,)
    assert solution.objective == core.objective == pyvrp_engine.core_objective(problem, core.node_routes)
    _, stats = ruin_recreate.improve(problem, solution.node_routes, iterations=0)
    assert stats["objective"] == solution.objective


def test_unknown_engine_is_an_error() -> None:
    problem = line_problem([0, 10], [Node("depot"), Node("a")])
    with pytest.raises(ValueError, match="unknown engine"):
        pyvrp_engine.solve_with(problem, QUICK, "gurobi")


def test_bench_cli_engines_on_r101_with_a_tiny_budget(capsys) -> None:
    # With one worker the portfolio picks PyVRP for a problem that fits.
    engines = (
        ("xunhu", "xunhu"),
        ("pyvrp", "pyvrp"),
        ("pyvrp-direct", "pyvrp-direct"),
        ("portfolio", "pyvrp"),
    )
    for engine, label in engines:
        status = bench.main(["vrptw", str(INSTANCES / "R101.txt"), "--seconds", "0.5", "--engine", engine])
        out = capsys.readouterr().out
        assert status == 0, out
        assert "| R101 | 100 |" in out and out.rstrip().splitlines()[-3].endswith(f" {label} |")


def test_two_worker_portfolio_runs_both_engines_and_keeps_the_better(c101) -> None:
    problem = to_problem(c101)
    params = bench.vrptw_params(1.0, workers=2, budget="cpu")  # 0.5 CPU s each
    solution = pyvrp_engine.solve_with(problem, params, "portfolio")
    workers = solution.stats["workers"]
    assert [w["engine"] for w in workers] == ["pyvrp", "xunhu"]
    assert solution.feasible and solution.objective == min(w["objective"] for w in workers)
    assert solution.stats["engine"] in ("pyvrp", "xunhu")
    assert evaluate(c101, customer_routes(solution)).feasible
