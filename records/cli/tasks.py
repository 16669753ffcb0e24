"""``python -m records tasks [--due-before DATE] [--all]``: the open tasks (follow-ups of cases,
complaint checks and night checks) with their sites, deadlines and reasons, soonest first."""

from __future__ import annotations

from datetime import datetime, time

from records import tasks
from records.cases import parse_day
from records.cli import parser, run
from records.db import LOCAL_TZ
from records.store import open_store


def main(argv: list[str]) -> int:
    """List tasks."""
    cli = parser("tasks", "Open tasks: case follow-ups and complaint checks, soonest deadline first.")
    cli.add_argument("--due-before", help="only tasks due before this local date (YYYY-MM-DD)")
    cli.add_argument("--all", action="store_true", help="done and cancelled tasks too")
    args = cli.parse_args(argv)

    def body() -> int:
        due_before = (
            datetime.combine(parse_day(args.due_before, "--due-before"), time(0), tzinfo=LOCAL_TZ)
            if args.due_before
            else None
        )
        with open_store(args.db) as store:
            frame = tasks.tasks_frame(store.conn, None if args.all else "open", due_before)
        if frame.empty:
            print("no tasks")
            return 0
        for row in frame.itertuples():
            due = row.due_at.tz_convert(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
            closed = "" if row.state == "open" else f"  [{row.state}: {row.closed_note}]"
            print(f"task {row.task_id:>4}  {row.kind:<15} {row.site_id:<10} due {due}  {row.reason}{closed}")
        return 0

    return run(body)
