"""``python -m records draw --period 2026Q4 [--level county] [--regions 乌鲁木齐市,...] [--reason TEXT]``.

The random draw that counts (双随机): the seed comes from a cryptographic source and is committed to
the audit log before the result is printed (:mod:`records.draws`). Drawing the same period and scope
again needs ``--reason`` and is logged as a re-draw. ``--out`` also writes the record as JSON, e.g.
for a scenario's ``sites.from_draw``.
"""

from __future__ import annotations

import json
from pathlib import Path

from layers.datasets import load_roster, load_targets
from layers.draw import LEVEL_COLUMNS, DrawError, format_counts, parse_ratios
from planning.candidates import resolve_regions
from planning.scenario import ScenarioError
from records.cli import parser, run
from records.db import RecordsError
from records.draws import system_draw
from records.store import open_store


def main(argv: list[str]) -> int:
    """Make a system draw and keep it in the audit log."""
    cli = parser("draw", "Random inspection draw with a system seed, committed to the audit log first.")
    cli.add_argument("--period", required=True, help="2026Q4 (quarter), 2026-11 (month) or 2026 (year)")
    cli.add_argument("--level", choices=tuple(LEVEL_COLUMNS), default="prefecture")
    cli.add_argument("--regions", default="", help="comma-separated prefectures or counties (default: all)")
    cli.add_argument("--ratios", default="", help="quarterly minimum ratios, e.g. key=0.25,special=0.5")
    cli.add_argument("--reason", default="", help="why this scope is drawn again (required for a re-draw)")
    cli.add_argument("--roster", type=Path, help="roster CSV (default: the shipped one)")
    cli.add_argument("--out", type=Path, help="also write the record as JSON here")
    args = cli.parse_args(argv)

    def body() -> int:
        names = tuple(part.strip() for part in args.regions.split(",") if part.strip())
        try:
            regions = tuple(sorted(resolve_regions(names))) if names else ()
            ratios = parse_ratios(args.ratios)
        except (ScenarioError, DrawError) as exc:
            raise RecordsError(str(exc)) from None
        with open_store(args.db) as store:
            record = system_draw(
                store.conn,
                load_targets(),
                load_roster(args.roster),
                args.period,
                level=args.level,
                regions=regions,
                ratios=ratios,
                reason=args.reason,
                actor=args.actor,
            )
        if args.out:
            args.out.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(format_counts(record))
        kind = "draw" if record["attempt"] == 1 else f"re-draw (attempt {record['attempt']})"
        print(
            f"{kind} of {len(record['result'])} target(s) for {record['parameters']['period']}: "
            f"seed committed as audit entry {record['commit_id']}, result as entry {record['audit_id']}"
        )
        for warning in record["warnings"]:
            print(f"warning: {warning}")
        return 0

    return run(body)
