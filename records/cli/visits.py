"""``python -m records visits list | export --format csv|geojson --out FILE``."""

from __future__ import annotations

from records.cli import parser, run
from records.db import parse_time
from records.export import FORMATS, export_visits
from records.store import open_store


def main(argv: list[str]) -> int:
    """List or export visits."""
    cli = parser("visits", "List visits, or export them.")
    cli.add_argument("action", choices=("list", "export"))
    cli.add_argument("--since", help="first start time included (ISO-8601; local +08:00 if no offset)")
    cli.add_argument("--until", help="start times before this")
    cli.add_argument("--include-inferred", action="store_true", help="add visits inferred from tracks")
    cli.add_argument("--format", choices=FORMATS, default="csv")
    cli.add_argument("--out", help="output file (export)")
    args = cli.parse_args(argv)
    if args.action == "export" and not args.out:
        cli.error("export needs --out FILE")

    def body() -> int:
        since = parse_time(args.since, "--since") if args.since else None
        until = parse_time(args.until, "--until") if args.until else None
        with open_store(args.db) as store:
            frame = store.visits(since, until, include_inferred=args.include_inferred)
        if args.action == "list":
            print(frame.to_string(index=False) if len(frame) else "no visits")
        else:
            export_visits(frame, args.out, args.format)
            print(f"{len(frame)} visits written to {args.out}")
        return 0

    return run(body)
