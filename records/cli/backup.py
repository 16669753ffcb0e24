"""``python -m records backup --out FILE``: consistent online backup of the database."""

from __future__ import annotations

from records.cli import parser, run
from records.store import open_store


def main(argv: list[str]) -> int:
    """Back up the database."""
    cli = parser("backup", "Write a consistent backup (SQLite online backup) to a new file.")
    cli.add_argument("--out", required=True)
    args = cli.parse_args(argv)

    def body() -> int:
        with open_store(args.db) as store:
            out = store.backup(args.out, args.actor)
        print(f"backup written to {out}")
        return 0

    return run(body)
