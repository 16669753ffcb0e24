"""``python -m records restore --from FILE [--force]``: replace the database with a backup."""

from __future__ import annotations

from records.backup import restore
from records.cli import parser, run
from records.db import default_db_path


def main(argv: list[str]) -> int:
    """Restore the database from a verified backup, keeping a safety copy of the current one."""
    cli = parser(
        "restore",
        "Restore the database from a backup (the current one is kept as a copy). The backup is verified "
        "first (as by 'verify') and refused if it fails.",
    )
    cli.add_argument("--from", dest="source", required=True)
    cli.add_argument(
        "--force",
        action="store_true",
        help="restore a backup that fails verification anyway (the problems are written to the audit log)",
    )
    args = cli.parse_args(argv)

    def body() -> int:
        target = args.db or default_db_path()
        safety = restore(args.source, target, args.actor, force=args.force)
        print(f"restored {target} from {args.source}")
        if safety:
            print(f"the previous database was kept as {safety}")
        return 0

    return run(body)
