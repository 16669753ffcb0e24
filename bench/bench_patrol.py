"""Benchmark of the weekly planner: 5 teams x 5 days over 400 candidate sites (northern Xinjiang).

    .venv/bin/python bench/bench_patrol.py [--runs 3] [--seconds 60] [--strategy week|assign|both]
        [--ruin-recreate SHARE] [--first-solution NAME|portfolio]

Each run plans from scratch (the travel matrix comes from the on-disk cache after the first run),
checks the plan with the independent checker and prints wall time, sites visited, driving and the
number of violations; the last lines give the medians per strategy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers.datasets import load_targets  # noqa: E402
from planning.check import check_plan  # noqa: E402
from planning.patrol import RUIN_RECREATE_SHARE, plan_week  # noqa: E402
from planning.scenario import parse_scenario  # noqa: E402

SCENARIO = {
    "name": "bench: 5 teams x 5 days, 400 sites, northern Xinjiang",
    "start": "2026-11-23",
    "days": 5,
    "work_hours": "10:00-19:30",
    "night_hours": "22:00-02:00",
    "teams": [
        {"id": "N1", "base": "Urumqi", "members": 3, "skills": ["sampling", "drone"]},
        {"id": "N2", "base": "Changji", "members": 2, "skills": ["sampling"]},
        {"id": "N3", "base": "Shihezi", "members": 2, "skills": ["sampling", "drone"]},
        {"id": "N4", "base": "Karamay", "members": 2, "skills": ["sampling", "radiation"]},
        {"id": "N5", "base": "Turpan", "members": 2, "skills": ["sampling", "drone"]},
    ],
    "sites": {
        "regions": [
            "乌鲁木齐市",
            "昌吉回族自治州",
            "石河子市",
            "克拉玛依市",
            "吐鲁番市",
            "塔城地区",
            "五家渠市",
            "胡杨河市",
            "博尔塔拉蒙古自治州",
            "双河市",
        ],
        "max_sites": 400,
    },
    "lodging": "auto",
    "return_to_base": True,
    "solver": {"seconds": 60, "seed": 1},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--strategy", choices=("week", "assign", "both"), default="week")
    parser.add_argument("--ruin-recreate", type=float, default=RUIN_RECREATE_SHARE, help="0 = OR-Tools alone")
    parser.add_argument("--first-solution", default="portfolio")
    args = parser.parse_args()
    scenario = parse_scenario(SCENARIO)
    targets = load_targets()
    strategies = ("week", "assign") if args.strategy == "both" else (args.strategy,)
    results: dict[str, list[tuple[float, int, float, int]]] = {s: [] for s in strategies}
    for run in range(args.runs):
        for strategy in strategies:
            started = time.perf_counter()
            plan = plan_week(
                scenario,
                targets=targets,
                seconds=args.seconds,
                strategy=strategy,
                first_solution=args.first_solution,
                ruin_recreate=args.ruin_recreate,
            )
            wall = time.perf_counter() - started
            violations = check_plan(scenario, plan.to_dict(), targets=targets)
            k = plan.kpis
            results[strategy].append((wall, k["sites_visited"], k["drive_km"], len(violations)))
            print(
                f"run {run + 1} {strategy:6} rr {args.ruin_recreate:g} {args.first_solution}: {wall:5.1f} s, {k['sites_total']} sites, {k['sites_visited']} visited "
                f"({k['night_checks']} night checks), priority {k['priority_visited']:.0f}, {k['drive_km']:.0f} km, "
                f"{k['nights_away_from_base']} nights away, {len(violations)} violations",
                flush=True,
            )
    for strategy, rows in results.items():
        print(
            f"median {strategy:6}: {statistics.median(r[0] for r in rows):.1f} s, "
            f"{statistics.median(r[1] for r in rows):.0f} visited, {statistics.median(r[2] for r in rows):.0f} km, "
            f"violations {sum(r[3] for r in rows)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
