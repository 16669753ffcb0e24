"""``python -m records save-plan PLAN.json [--key KEY]``: store a plan as a new draft version."""

from __future__ import annotations

from records.cli import parser, read_json, run
from records.store import open_store


def main(argv: list[str]) -> int:
    """Save a plan JSON file."""
    cli = parser("save-plan", "Save a plan (planner JSON) as a new draft version.")
    cli.add_argument("file", metavar="PLAN.json")
    cli.add_argument("--key", help="plan key (default: the scenario's name)")
    args = cli.parse_args(argv)

    def body() -> int:
        plan = read_json(args.file)
        with open_store(args.db) as store:
            saved = store.save_plan(plan, key=args.key, actor=args.actor)
        state = "saved" if saved.created else "unchanged, already stored"
        print(f"plan {saved.plan_id} ({saved.plan_key} v{saved.version}): {state}")
        return 0

    return run(body)
