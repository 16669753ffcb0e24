"""``python -m records assignments --team T1 --day 2026-11-24``: a team's stops for a day."""

from __future__ import annotations

from datetime import date

from records.cli import parser, run
from records.db import RecordsError
from records.store import open_store


def main(argv: list[str]) -> int:
    """Print a team's assignments for a day."""
    cli = parser("assignments", "A team's site stops for one day from the approved plans.")
    cli.add_argument("--team", required=True)
    cli.add_argument("--day", required=True, help="local date, YYYY-MM-DD")
    cli.add_argument("--include-drafts", action="store_true")
    args = cli.parse_args(argv)

    def body() -> int:
        try:
            day = date.fromisoformat(args.day)
        except ValueError:
            raise RecordsError(f"--day: {args.day!r} is not a date (YYYY-MM-DD)") from None
        with open_store(args.db) as store:
            frame = store.assignments(args.team, day, args.include_drafts)
        if frame.empty:
            print(f"no assignments for team {args.team} on {day}")
        else:
            print(
                frame[["plan_id", "status", "seq", "site_id", "name", "arrive", "depart"]].to_string(
                    index=False
                )
            )
        return 0

    return run(body)
