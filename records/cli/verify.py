"""``python -m records verify``: check that the records are as the application left them."""

from __future__ import annotations

from records.cli import parser, run
from records.db import RecordsError, connect, db_target, exists
from records.integrity import verify


def main(argv: list[str]) -> int:
    """Verify the audit chain, triggers and sealed records; exit 1 naming each problem."""
    cli = parser(
        "verify",
        "Check the audit log's hash chain and ids, the database's triggers, the records sealed by the "
        "audit log and plan approvals. Exit status 0 when all hold, 1 naming each problem.",
    )
    args = cli.parse_args(argv)

    def body() -> int:
        path = db_target(args.db)
        if not exists(path):
            raise RecordsError(f"{path}: no records database there")
        conn = connect(path)
        try:
            report = verify(conn)
        finally:
            conn.close()
        if not report.problems:
            print(report.summary())
            return 0
        print(f"{path}: {len(report.problems)} problem(s) found:")
        for problem in report.problems:
            print(f"- {problem}")
        return 1

    return run(body)
