"""``python -m records log-draw DRAW.json``: keep a draw made elsewhere as evidence.

A ``python -m layers draw`` record's seed may have been chosen by its maker, so it does not count as
a system draw (``python -m records draw`` and the Plan week page make those). It is re-computed from
its recorded inputs first and refused if any field was edited or the inputs no longer match; then it
is filed as a ``draw.external`` audit entry with who filed it.
"""

from __future__ import annotations

from pathlib import Path

from layers.datasets import load_roster, load_targets
from records.cli import parser, read_json, run
from records.db import RecordsError
from records.draws import file_external
from records.store import open_store


def main(argv: list[str]) -> int:
    """File one verified external draw record in the audit log."""
    cli = parser("log-draw", "Keep a random draw record made elsewhere (verified first) in the audit log.")
    cli.add_argument("file", metavar="DRAW.json")
    cli.add_argument("--roster", type=Path, help="roster CSV the draw used (default: the shipped one)")
    args = cli.parse_args(argv)

    def body() -> int:
        record = read_json(args.file)
        with open_store(args.db) as store:
            try:
                entry = file_external(
                    store.conn, record, load_targets(), load_roster(args.roster), args.actor
                )
            except RecordsError as exc:
                raise RecordsError(f"{args.file}: {exc}") from None
        period = record["parameters"]["period"]
        print(
            f"draw {period} ({len(record['result'])} targets) re-computed and kept as audit entry {entry} "
            "(evidence only: its seed was not committed by the system, so coverage does not count it)"
        )
        return 0

    return run(body)
