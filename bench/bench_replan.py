"""Benchmark of re-planning a week under way (planning.replan) on the shipped Urumqi scenario.

    .venv/bin/python bench/bench_replan.py [--effort K]

Plans the Urumqi–Changji–Shihezi week at the scenario's effort, then re-plans it on the morning
of day 3 twice: with nothing changed, and with team T2 unavailable on days 3 and 4. Prints the
wall time of each re-plan, sites visited before and after, how many of the previous plan's later
stops kept their team and day, and the violations the project's checker finds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning.check import check_plan  # noqa: E402
from planning.patrol import plan_week  # noqa: E402
from planning.replan import replan  # noqa: E402
from planning.scenario import BEIJING, load_scenario, parse_scenario  # noqa: E402

SCENARIO = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "urumqi_changji_shihezi_week.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effort", type=int, help="search effort of each re-plan (default: the scenario's)")
    args = parser.parse_args()
    plan = plan_week(load_scenario(SCENARIO)).to_dict()
    now = dt.datetime(2026, 11, 25, 7, 0, tzinfo=BEIJING)
    cases = {
        "nothing changed": {},
        "T2 unavailable on days 3-4": {
            "unavailable": [{"team": "T2", "from": "2026-11-25", "to": "2026-11-26"}]
        },
    }
    for name, changes in cases.items():
        started = time.perf_counter()
        new = replan(plan, now, changes=changes, effort=args.effort).to_dict()
        wall = time.perf_counter() - started
        info = new["replan"]
        violations = check_plan(parse_scenario(new["scenario"]), new)
        print(
            f"{name}: {wall:.1f} s, sites {plan['kpis']['sites_visited']} -> {new['kpis']['sites_visited']}, "
            f"later stops kept on their team and day {info['later_stops_kept']} of {info['later_stops']}, "
            f"{len(violations)} violations",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
