"""``python -m records log-draw DRAW.json``: keep a random draw record in the audit log.

``python -m layers draw`` writes its record to a file (layers knows nothing of the records
database); this command files it in the append-only audit log, with who filed it, so the draw can
be audited and counted by coverage ("random-draw targets met"). The Plan week page does the same
for draws made in the dashboard.
"""

from __future__ import annotations

from layers.draw import RECORD_TYPE
from records.cli import parser, read_json, run
from records.db import RecordsError
from records.store import open_store


def main(argv: list[str]) -> int:
    """File one draw record in the audit log."""
    cli = parser("log-draw", "Keep a random draw record (python -m layers draw --out) in the audit log.")
    cli.add_argument("file", metavar="DRAW.json")
    args = cli.parse_args(argv)

    def body() -> int:
        record = read_json(args.file)
        if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
            raise RecordsError(f"{args.file}: not a random draw record (expected type {RECORD_TYPE!r})")
        period = record.get("parameters", {}).get("period", "?")
        with open_store(args.db) as store:
            entry = store.log("draw", f"draw:{period}", record, actor=args.actor)
        print(f"draw {period} ({len(record.get('result', []))} targets) kept as audit entry {entry}")
        return 0

    return run(body)
