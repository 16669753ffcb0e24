"""``python -m records record-visit --site PS0001 --team T1 --start ... --end ... --outcome ...``.

Without --lon/--lat the visit is placed at the site's point from the registry, when it is there.
"""

from __future__ import annotations

import sys

from records.cli import parser, run
from records.db import RecordsError, parse_time
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
    """Record one visit."""
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
    args = cli.parse_args(argv)

    def body() -> int:
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
        with open_store(args.db) as store:
            visit_id = store.record_visit(visit, args.actor)
        print(f"recorded visit {visit_id}")
        return 0

    return run(body)
