"""``python -m simulation history --weeks 12``: simulated plans, visits and GPS tracks for past weeks.

Everything written is flagged ``simulated`` and attributed to the actor ``simulation``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from records import audit
from records.cli import parser, run
from records.db import RecordsError, connect
from simulation.history import SIMULATION_ACTOR, HistoryOptions, simulate_history


def main(argv: list[str]) -> int:
    """Simulate history into the database."""
    cli = parser("history", "Plan and 'execute' past weeks with realistic noise (all labelled simulated).")
    cli.prog = "python -m simulation history"  # parser() names records subcommands
    cli.add_argument("--weeks", type=int, default=12)
    cli.add_argument("--before", default="2026-11-23", help="weeks start 7, 14, ... days before this date")
    cli.add_argument(
        "--scenario", action="append", type=Path, help="scenario YAML (default: data/scenarios/*)"
    )
    cli.add_argument(
        "--effort", type=int, default=15, help="planner search effort per week (thousands of iterations)"
    )
    cli.add_argument("--max-sites", type=int, default=120, help="candidate sites per week (highest priority)")
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--workers", type=int, help="parallel scenario processes (default: CPU count)")
    cli.add_argument("--straight", action="store_true", help="straight legs instead of road geometry")
    args = cli.parse_args(argv)

    def body() -> int:
        try:
            before = dt.date.fromisoformat(args.before)
        except ValueError:
            raise RecordsError(f"--before: {args.before!r} is not a date (YYYY-MM-DD)") from None
        if args.weeks < 1:
            raise RecordsError("--weeks: must be at least 1")
        options = HistoryOptions(
            weeks=args.weeks,
            before=before,
            effort=args.effort,
            max_sites=args.max_sites,
            seed=args.seed,
            road_geometry=not args.straight,
            verbose=True,
        )
        started = time.perf_counter()
        weeks = simulate_history(args.db, options, args.scenario, args.workers)
        conn = connect(args.db)
        try:
            audit.append(
                conn, "demo.simulate", "db", {"weeks": args.weeks, "stored": len(weeks)}, SIMULATION_ACTOR
            )
        finally:
            conn.close()
        total = {
            k: sum(w[k] for w in weeks)
            for k in ("visits", "tracks", "points", "dropped", "inferred", "skipped")
        }
        print(f"{len(weeks)} simulated weeks stored in {time.perf_counter() - started:.0f} s: {total}")
        return 0

    return run(body)
