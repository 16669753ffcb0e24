"""``python -m planning plan --scenario S.yaml --out P.json [--seconds N]``: solve a weekly scenario.

Prints progress while it works (sites, travel matrix, each better solution the solver finds) and a
summary at the end; bad scenarios exit 2 with the offending field named.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from planning.patrol import RUIN_RECREATE_SHARE, STRATEGIES, plan_week
from planning.scenario import ScenarioError, load_scenario


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``plan`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning plan", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True, help="scenario YAML file")
    parser.add_argument("--out", required=True, help="plan JSON file to write")
    parser.add_argument(
        "--seconds", type=float, help="solver budget (default: the scenario's solver.seconds)"
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="assign",
        help="assign sites to teams then route each (default), or one model for the week",
    )
    parser.add_argument(
        "--ruin-recreate",
        type=float,
        default=RUIN_RECREATE_SHARE,
        help=f"share of the search for ruin and recreate (default {RUIN_RECREATE_SHARE:g}; 0 = OR-Tools alone)",
    )
    parser.add_argument(
        "--great-circle",
        action="store_true",
        help="use the great-circle travel model instead of the road network",
    )
    args = parser.parse_args(argv)
    if args.seconds is not None and args.seconds <= 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.ruin_recreate < 1:
        print("error: --ruin-recreate must be at least 0 and below 1", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    try:
        scenario = load_scenario(args.scenario)
        plan = plan_week(
            scenario,
            network=None if args.great_circle else "default",
            seconds=args.seconds,
            strategy=args.strategy,
            ruin_recreate=args.ruin_recreate,
            progress=progress,
        )
    except ScenarioError as exc:
        print(f"error: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        plan.save(out)
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    k = plan.kpis
    print(
        f"{plan.status}: {k['sites_visited']} of {k['sites_total']} sites visited, {k['sites_dropped']} dropped, "
        f"{k['drive_km']:.0f} km driven, {k['nights_away_from_base']} nights away ({plan.travel_model}); wrote {out}"
    )
    for site_id in plan.mandatory_unmet:
        reason = next(d["reason"] for d in plan.dropped if d["id"] == site_id)
        print(f"  mandatory site {site_id} not visited: {reason}")
    return 0
