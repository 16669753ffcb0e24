"""``python -m records complete-plan PLAN_ID``: mark an approved plan done."""

from records.cli.plan_status import change_status


def main(argv: list[str]) -> int:
    """Mark an approved plan done."""
    return change_status("complete-plan", argv, "done")
