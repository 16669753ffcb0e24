"""``python -m records demo --weeks 12``: simulated plans, visits and GPS tracks for past weeks.

Everything written is flagged ``simulated`` and attributed to the actor ``simulation``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

from records.cli import parser, run
from records.db import RecordsError
from records.simulate import simulate_history
from records.store import open_store


def main(argv: list[str]) -> int:
    """Simulate history into the database."""
    cli = parser("demo", "Plan and 'execute' past weeks with realistic noise (all labelled simulated).")
    cli.add_argument("--weeks", type=int, default=12)
    cli.add_argument("--before", default="2026-11-23", help="weeks start 7, 14, ... days before this date")
    cli.add_argument(
        "--scenario", action="append", type=Path, help="scenario YAML (default: data/scenarios/*)"
    )
    cli.add_argument("--seconds", type=float, default=4.0, help="solver budget per week")
    cli.add_argument("--strategy", choices=("assign", "week"), default="assign", help="planner strategy")
    cli.add_argument("--max-sites", type=int, default=120, help="candidate sites per week (highest priority)")
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--straight", action="store_true", help="straight legs instead of road geometry")
    args = cli.parse_args(argv)

    def body() -> int:
        try:
            before = dt.date.fromisoformat(args.before)
        except ValueError:
            raise RecordsError(f"--before: {args.before!r} is not a date (YYYY-MM-DD)") from None
        if args.weeks < 1:
            raise RecordsError("--weeks: must be at least 1")
        started = time.perf_counter()
        with open_store(args.db) as store:
            weeks = simulate_history(
                store.conn,
                args.weeks,
                before=before,
                scenarios=args.scenario,
                seconds=args.seconds,
                strategy=args.strategy,
                max_sites=args.max_sites,
                seed=args.seed,
                road_geometry=not args.straight,
                progress=lambda message: print(message, file=sys.stderr, flush=True),
            )
            store.log("demo.simulate", "db", {"weeks": args.weeks, "stored": len(weeks)}, "simulation")
        total = {
            k: sum(w[k] for w in weeks)
            for k in ("visits", "tracks", "points", "dropped", "inferred", "skipped")
        }
        print(f"{len(weeks)} simulated weeks stored in {time.perf_counter() - started:.0f} s: {total}")
        return 0

    return run(body)
