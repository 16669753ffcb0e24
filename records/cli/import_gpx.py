"""``python -m records import-gpx FILE... --team T1``: import GPS tracks, one transaction per file.

Exit status 0 when every file was imported or already present, 1 when any file was rejected
(the others are still imported; a rejected file leaves nothing behind). Each rejection is one
``rejected: FILE: ...`` line on stderr as it happens, and a last line lists the rejected files.
What the reader had to assume (times without a zone) is a ``warning: FILE: ...`` line on stderr.

``--gcj02`` / ``--bd09``: the positions were recorded by an app showing Amap/Tencent (GCJ-02) or
Baidu (BD-09) coordinates, and are converted to WGS-84. ``--local-time``: times written without a
zone are Beijing time (UTC+8) rather than UTC, which the GPX format otherwise prescribes.
"""

from __future__ import annotations

import sys

from records.cli import parser, run
from records.db import RecordsError
from records.infer import DEFAULT_MIN_DWELL_MINUTES, DEFAULT_RADIUS_M, registry_sites
from records.store import open_store
from records.tracks import COLD_START_WINDOW, SPEED_LIMITS_KMH, TRANSPORTS


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
    datum = cli.add_mutually_exclusive_group()
    datum.add_argument(
        "--gcj02",
        dest="datum",
        action="store_const",
        const="gcj02",
        default="wgs84",
        help="positions are GCJ-02 (logged by an app on Amap, Tencent or another Chinese web map)",
    )
    datum.add_argument(
        "--bd09",
        dest="datum",
        action="store_const",
        const="bd09",
        help="positions are BD-09 (logged by an app on Baidu Maps)",
    )
    cli.add_argument(
        "--local-time",
        action="store_true",
        help="times written without a zone are Beijing time (UTC+8), not UTC as the GPX format says",
    )
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
                        datum=args.datum,
                        local_time=args.local_time,
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
                for warning in result.warnings:
                    print(f"warning: {warning}", file=sys.stderr)
                for track in result.tracks:
                    if track.status == "already imported":
                        print(
                            f"{path}: {track.name}: already imported (track {track.track_id}); nothing added"
                        )
                    else:
                        cold = (
                            f"{track.n_cold_start} cold-start fixes dropped (at 0,0, clock not set, or "
                            f"converging in the first {COLD_START_WINDOW.total_seconds() / 60:.0f} min), "
                            if track.n_cold_start
                            else ""
                        )
                        print(
                            f"{path}: {track.name}: imported as track {track.track_id}: {track.n_points} "
                            f"points, {track.n_impossible} impossible fixes dropped, {cold}"
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
