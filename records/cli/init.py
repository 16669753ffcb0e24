"""``python -m records init``: create or migrate the database and say where it is."""

from __future__ import annotations

from records.cli import parser, run
from records.store import open_store


def main(argv: list[str]) -> int:
    """Create or migrate the database."""
    args = parser("init", "Create or migrate the records database.").parse_args(argv)

    def body() -> int:
        with open_store(args.db) as store:
            print(f"{store.path}: schema version {store.schema_version}")
        return 0

    return run(body)
