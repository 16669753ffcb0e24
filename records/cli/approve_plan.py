"""``python -m records approve-plan PLAN_ID``: approve a draft plan."""

from records.cli.plan_status import change_status


def main(argv: list[str]) -> int:
    """Approve a draft plan."""
    return change_status("approve-plan", argv, "approved")
