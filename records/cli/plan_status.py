"""Shared body of ``approve-plan`` and ``complete-plan``: move a plan one status forward."""

from __future__ import annotations

from records.cli import parser, run
from records.store import open_store


def change_status(command: str, argv: list[str], new_status: str) -> int:
    """Parse ``PLAN_ID`` and move that plan to ``new_status`` (approved or done)."""
    cli = parser(command, f"Set a plan's status to {new_status} (recorded in the audit log).")
    cli.add_argument("plan_id", type=int)
    args = cli.parse_args(argv)

    def body() -> int:
        with open_store(args.db) as store:
            if new_status == "approved":
                store.approve_plan(args.plan_id, args.actor)
            else:
                store.complete_plan(args.plan_id, args.actor)
        print(f"plan {args.plan_id}: {new_status}")
        return 0

    return run(body)
