"""``python -m records import-gpx FILE... --team T1``: import GPS tracks, one transaction per file.

Exit status 0 when every file was imported or already present, 1 when any file was rejected
(the others are still imported; a rejected file leaves nothing behind). Each rejection is one
``rejected: FILE: ...`` line on stderr as it happens, and a last line lists the rejected files.
"""

from __future__ import annotations

import sys

from records.cli import parser, run
from records.db import RecordsError
from records.infer import DEFAULT_MIN_DWELL_MINUTES, DEFAULT_RADIUS_M, registry_sites
from records.store import open_store
from records.tracks import SPEED_LIMITS_KMH, TRANSPORTS


def main(argv: list[str]) -> int:
    """Import GPX files."""
    cli = parser("import-gpx", "Import GPX tracks for a team; re-importing a track is a no-op.")
    cli.add_argument("files", nargs="+", metavar="FILE")
    cli.add_argument("--team", required=True, help="team whose device recorded the tracks")
    cli.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="vehicle",
        help="sets the speed limit for dropping impossible fixes: "
        + ", ".join(f"{k} {v:.0f} km/h" for k, v in SPEED_LIMITS_KMH.items()),
    )
    cli.add_argument("--device", default="", help="device name or serial")
    cli.add_argument("--no-infer", action="store_true", help="do not infer visits from the tracks")
    cli.add_argument("--radius-m", type=float, default=DEFAULT_RADIUS_M)
    cli.add_argument("--min-dwell-minutes", type=float, default=DEFAULT_MIN_DWELL_MINUTES)
    args = cli.parse_args(argv)

    def body() -> int:
        sites = None
        if not args.no_infer:
            try:
                sites = registry_sites()
            except RecordsError as exc:
                print(f"warning: visits not inferred: {exc}", file=sys.stderr)
        rejected: list[str] = []
        with open_store(args.db) as store:
            for path in args.files:
                try:
                    result = store.import_gpx(
                        path,
                        args.team,
                        transport=args.transport,
                        device=args.device,
                        actor=args.actor,
                        infer_with=sites,
                        radius_m=args.radius_m,
                        min_dwell_minutes=args.min_dwell_minutes,
                    )
                except RecordsError as exc:
                    rejected.append(path)
                    print(f"rejected: {exc}", file=sys.stderr)
                    continue
                except (ValueError, ArithmeticError) as exc:
                    # Bad data the checks did not foresee: still this file only (its transaction
                    # was rolled back), never the files after it.
                    rejected.append(path)
                    print(f"rejected: {path}: cannot import ({type(exc).__name__}: {exc})", file=sys.stderr)
                    continue
                for track in result.tracks:
                    if track.status == "already imported":
                        print(
                            f"{path}: {track.name}: already imported (track {track.track_id}); nothing added"
                        )
                    else:
                        print(
                            f"{path}: {track.name}: imported as track {track.track_id}: {track.n_points} "
                            f"points, {track.n_dropped} impossible fixes dropped, "
                            f"{track.inferred_visits} visits inferred"
                        )
        if rejected:
            print(
                f"{len(rejected)} of {len(args.files)} files rejected, nothing stored from them: "
                + ", ".join(rejected),
                file=sys.stderr,
            )
            return 1
        return 0

    return run(body)
