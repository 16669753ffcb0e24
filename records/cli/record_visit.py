"""``python -m records record-visit --site PS0001 --team T1 --start ... --end ... --outcome ...``.

Without --lon/--lat the visit is placed at the site's point from the registry, when it is there.
A violation needs ``--finding CATEGORY`` and opens a case in the same transaction (deadline
``--rectify-by`` or the category's default, evidence files ``--evidence``); see
``docs/closing-the-loop.md``. A violation without its finding is refused and nothing is stored: a
finding without a case would never be followed up.
"""

from __future__ import annotations

import json
import sys

from records.cases import CATEGORIES, open_case, parse_day
from records.cli import parser, run
from records.db import RecordsError, parse_time, transaction
from records.infer import registry_sites
from records.store import open_store
from records.visits import OUTCOMES, SOURCES, Visit


def _site_position(site_id: str) -> tuple[float | None, float | None]:
    try:
        sites = registry_sites()
    except RecordsError as exc:
        print(f"warning: no position stored: {exc}", file=sys.stderr)
        return None, None
    match = sites[sites["site_id"] == site_id]
    if match.empty:
        print(f"warning: site {site_id} is not in the registry; no position stored", file=sys.stderr)
        return None, None
    point = match.geometry.iloc[0].representative_point()
    return point.x, point.y


def main(argv: list[str]) -> int:
    """Record one visit (and the case a violation finding opens)."""
    cli = parser("record-visit", "Record a visit an officer made.")
    cli.add_argument("--site", required=True)
    cli.add_argument("--team", required=True)
    cli.add_argument("--officers", default="", help="names separated by ';'")
    cli.add_argument("--start", required=True, help="ISO-8601; local +08:00 if no offset")
    cli.add_argument("--end", required=True)
    cli.add_argument("--outcome", required=True, choices=OUTCOMES)
    cli.add_argument("--reason", help="why the site could not be inspected")
    cli.add_argument("--notes", default="")
    cli.add_argument("--lon", type=float)
    cli.add_argument("--lat", type=float)
    cli.add_argument("--source", choices=SOURCES, default="planned")
    cli.add_argument("--plan-id", type=int)
    cli.add_argument(
        "--finding", choices=CATEGORIES, help="with --outcome violation (required): the case's category"
    )
    cli.add_argument("--rectify-by", help="rectification deadline YYYY-MM-DD (default: by category)")
    cli.add_argument("--description", default="", help="what was found (the case's description)")
    cli.add_argument("--chief", help="responsible chief account (default: --actor)")
    cli.add_argument("--evidence", nargs="+", default=[], metavar="FILE", help="evidence files for the case")
    args = cli.parse_args(argv)

    def body() -> int:
        if args.outcome != "violation" and (args.finding or args.rectify_by or args.evidence):
            raise RecordsError("--finding/--rectify-by/--evidence: only with --outcome violation")
        if args.outcome == "violation" and not args.finding:
            raise RecordsError(
                "--outcome violation opens a case: give --finding CATEGORY (one of "
                + ", ".join(CATEGORIES)
                + "); nothing was stored"
            )
        rectify_by = parse_day(args.rectify_by, "--rectify-by") if args.rectify_by else None
        lon, lat = (
            (args.lon, args.lat)
            if args.lon is not None or args.lat is not None
            else _site_position(args.site)
        )
        visit = Visit(
            site_id=args.site,
            team_id=args.team,
            started_at=parse_time(args.start, "--start"),
            ended_at=parse_time(args.end, "--end"),
            outcome=args.outcome,
            officers=tuple(args.officers.split(";")),
            reason=args.reason,
            notes=args.notes,
            lon=lon,
            lat=lat,
            source=args.source,
            plan_id=args.plan_id,
        )
        with open_store(args.db) as store, transaction(store.conn):
            visit_id = store.record_visit(visit, args.actor)
            case = None
            if args.finding:
                case = open_case(
                    store.conn,
                    visit_id,
                    args.finding,
                    description=args.description,
                    rectify_by=rectify_by,
                    chief=args.chief,
                    evidence_files=tuple(args.evidence),
                    actor=args.actor,
                )
                flags = store.conn.execute(
                    "SELECT file_name, flags FROM evidence WHERE case_id = ? AND flags != '[]'",
                    (case["case_id"],),
                ).fetchall()
        print(f"recorded visit {visit_id}")
        if case is not None:
            print(f"case {case['case_no']} opened ({case['category']}), rectify by {case['rectify_by']}")
            for row in flags:
                print(
                    f"warning: evidence {row['file_name']}: {'; '.join(json.loads(row['flags']))}",
                    file=sys.stderr,
                )
        return 0

    return run(body)
