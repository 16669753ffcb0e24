"""Benchmark of the weekly planner: 5 teams x 5 days over 400 candidate sites (northern Xinjiang).

    .venv/bin/python bench/bench_patrol.py [--runs 3] [--effort K | --seconds N] [--start 2026-11-23]
        [--seed S]

Each run plans from scratch (the travel matrix comes from the on-disk cache after the first run)
under the scenario's working-time rules, checks the plan with the project's checker and the
independent one (tests/independent_check.py), and prints wall time, sites visited, driving and the
number of violations, then per team the sites, km, nights away and the largest daily driving and
duty; the last line gives the medians.
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
from planning.lodging import lodging_candidates  # noqa: E402
from planning.patrol import plan_week  # noqa: E402
from planning.scenario import parse_scenario  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from independent_check import check as independent_check  # noqa: E402

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
    "solver": {"seed": 1, "effort": 100},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--effort", type=int, help="search effort (default: the scenario's, 100)")
    budget.add_argument("--seconds", type=float, help="a time budget instead of an effort")
    parser.add_argument(
        "--start", default=SCENARIO["start"], help="first day (winter closures apply from October)"
    )
    parser.add_argument(
        "--seed", type=int, default=SCENARIO["solver"]["seed"], help="solver seed (default 1)"
    )
    args = parser.parse_args()
    targets = load_targets()
    solver = {**SCENARIO["solver"], "seed": args.seed}
    scenario = parse_scenario({**SCENARIO, "start": args.start, "solver": solver})
    lodging = {town.id for town in lodging_candidates(scenario)}
    rows = []
    for run in range(args.runs):
        started = time.perf_counter()
        plan = plan_week(scenario, targets=targets, seconds=args.seconds, effort=args.effort).to_dict()
        wall = time.perf_counter() - started
        violations = check_plan(scenario, plan, targets=targets)
        independent = independent_check(plan, scenario, lodging)
        k = plan["kpis"]
        rows.append((wall, k["sites_visited"], k["drive_km"], len(violations) + len(independent)))
        print(
            f"run {run + 1}: {wall:5.1f} s, {k['sites_total']} sites, {k['sites_visited']} visited, "
            f"priority {k['priority_visited']:.0f}, {k['drive_km']:.0f} km, {k['nights_away_from_base']} nights away, "
            f"{k['night_checks']} night checks, {len(violations)} + {len(independent)} violations "
            f"(solver {plan['solver']})",
            flush=True,
        )
        for team, totals in k["teams"].items():
            print(
                f"    {team}: {totals['sites']} sites, {totals['drive_km']:.0f} km, {totals['nights_away']} nights away, "
                f"max {totals['max_drive_minutes_per_day'] / 60:.1f} h driving and "
                f"{totals['max_duty_minutes_per_day'] / 60:.1f} h on duty per day"
            )
        for line in [*map(str, violations), *independent][:10]:
            print(f"    violation: {line}")
    print(
        f"median of {args.runs}: {statistics.median(r[0] for r in rows):.1f} s, "
        f"{statistics.median(r[1] for r in rows):.0f} visited, {statistics.median(r[2] for r in rows):.0f} km, "
        f"violations {max(r[3] for r in rows)} at most"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
