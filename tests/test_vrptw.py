"""Plain VRPTW on real Solomon instances: conversion, independent re-check, solver quality, CLI."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from planning import bench
from planning.core import solve
from planning.vrptw import customer_routes, evaluate, load_solomon, read_bks, to_problem

INSTANCES = Path(__file__).resolve().parents[1] / "bench" / "vrptw"
BKS = read_bks(INSTANCES / "BKS.csv")


@pytest.fixture(scope="module")
def c101():
    return load_solomon(INSTANCES / "C101.txt")


def test_dimacs_convention(c101) -> None:
    problem = to_problem(c101)
    assert len(problem.nodes) == 101 and len(problem.vehicles) == 25
    assert problem.vehicles[0].capacity == 200
    # Depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.68 -> 186 tenths.
    assert problem.cost[0, 1] == 186 == problem.travel[0, 1]
    assert problem.nodes[1].windows == ((9120, 9670),)
    assert problem.nodes[1].service == 900
    assert problem.horizon == 12360


def test_evaluate_flags_each_kind_of_violation(c101) -> None:
    everyone = list(range(1, 101))
    overloaded = evaluate(c101, [everyone])
    assert any("capacity" in v for v in overloaded.violations)
    incomplete = evaluate(c101, [[5, 3], [3]])
    assert any("customer 3 on routes 0 and 1" in v for v in incomplete.violations)
    assert any("not visited" in v for v in incomplete.violations)
    assert not incomplete.feasible and math.isnan(incomplete.distance)


def test_evaluate_retimes_routes_and_catches_lateness(c101) -> None:
    # One customer per route is always on time in C101; serving 1 (window 912-967) before 5
    # (window 15-67) makes 5 late.
    singles = [[c] for c in range(1, 101)]
    on_time = evaluate(c101, singles)
    assert on_time.feasible and on_time.vehicles == 100
    late = evaluate(c101, [[1, 5]] + [[c] for c in range(2, 101) if c != 5])
    assert any("customer 5 starts at" in v for v in late.violations)


def test_c101_reaches_one_percent_of_bks_in_three_cpu_seconds(c101) -> None:
    params = bench.vrptw_params(3.0, workers=1, budget="cpu")
    solution = solve(to_problem(c101), params)
    evaluation = evaluate(c101, customer_routes(solution))
    assert evaluation.feasible, evaluation.violations
    # The independent re-check agrees with the solver's objective (tenths of a unit).
    assert evaluation.distance == pytest.approx(solution.objective / 10)
    assert evaluation.distance <= BKS["C101"] * 1.01
    assert solution.stats["cpu_seconds"] < 4


def test_bench_cli_on_r101_with_a_tiny_budget(capsys) -> None:
    status = bench.main(["vrptw", str(INSTANCES / "R101.txt"), "--seconds", "0.5"])
    out = capsys.readouterr().out
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("R101\t"))
    assert "feasible" in line and "BKS 1637.7" in line
    # Plain VRPTW fits PyVRP's model: the default engine (portfolio, one worker) takes PyVRP.
    assert line.endswith("\tpyvrp")
    assert "100 customers (1 instances): mean gap" in out


def test_bench_cli_reports_bad_input(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text("not a solomon file\n", encoding="utf-8")
    assert bench.main(["vrptw", str(tmp_path / "missing.txt"), "--seconds", "1"]) == 1
    assert "missing.txt: no such instance file" in capsys.readouterr().err
    assert bench.main(["vrptw", str(broken), "--seconds", "1"]) == 1
    assert "broken.txt" in capsys.readouterr().err


def test_two_worker_budget_splits_cpu_time() -> None:
    params = bench.vrptw_params(30.0, workers=2, budget="cpu")
    assert params.cpu_seconds == 15.0 and params.workers == 2
    wall = bench.vrptw_params(30.0, workers=2, budget="wall")
    assert wall.seconds == 30.0 and wall.cpu_seconds is None
    assert replace(wall, workers=1) == replace(bench.VRPTW_PARAMS, seconds=30.0)
    plain = bench.vrptw_params(30.0, workers=1, budget="cpu", restart_lambdas=())
    assert plain.restart_lambdas == () and plain.cpu_seconds == 30.0
