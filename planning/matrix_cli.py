"""``python -m planning matrix``: travel-time and distance matrix between points in a CSV.

Input: a CSV with columns ``id, lon, lat`` (WGS84 degrees; other columns are ignored).
Output: a CSV with one row per ordered pair of distinct points:
``from, to, km, minutes, model`` (km and minutes empty where the pair is unreachable).
Points that need attention (unreachable, nearest road on a fragment, long access leg) are
listed on stderr. Road closures in force on ``--date`` (default: today in Beijing time) are
applied: the shipped layer (:mod:`planning.closures`) plus ``--closures FILE``, or none with
``--no-closures``; stderr lists them. Exit 0 on success, 2 for bad input.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from layers.spreadsheet import safe_frame
from planning.closures import Closure, in_force, load_closures, network_with_closures
from planning.roads import RoadNetwork, load_road_network
from planning.travel import LONG_ACCESS_KM, MAX_ACCESS_KM, TravelMatrix, travel_matrix


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m planning matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--points", required=True, type=Path, help="CSV with columns id, lon, lat")
    parser.add_argument("--out", required=True, type=Path, help="output CSV (from, to, km, minutes, model)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--roads", type=Path, help="road line file (default: the shipped road layer)")
    source.add_argument(
        "--no-roads",
        action="store_true",
        help="great-circle model (distance x circuity factor), no road graph",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache")
    parser.add_argument(
        "--date", help="YYYY-MM-DD: apply the road closures in force that day (default: today, UTC+8)"
    )
    closures = parser.add_mutually_exclusive_group()
    closures.add_argument(
        "--closures", type=Path, help="extra road closures (same columns as the shipped layer)"
    )
    closures.add_argument("--no-closures", action="store_true", help="ignore all road closures")
    parser.add_argument(
        "--max-access-km",
        type=float,
        default=MAX_ACCESS_KM,
        help=f"points farther from the road network are unreachable (default {MAX_ACCESS_KM:g})",
    )
    return parser


def read_points(path: Path) -> pd.DataFrame:
    """Read the points CSV; ``ValueError`` naming the file for anything unreadable."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype={"id": "string"}, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable CSV ({error})") from None
    if frame.empty:
        raise ValueError(f"{path}: no points")
    return frame


def pairs_frame(matrix: TravelMatrix) -> pd.DataFrame:
    """Long format of a matrix: one row per ordered pair of distinct points."""
    n = len(matrix.ids)
    rows, cols = np.nonzero(~np.eye(n, dtype=bool))
    ids = np.array(matrix.ids, dtype=object)
    km = matrix.km[rows, cols]
    minutes = matrix.minutes[rows, cols]
    finite = np.isfinite(km)
    return pd.DataFrame(
        {
            "from": ids[rows],
            "to": ids[cols],
            "km": pd.Series(np.round(km, 3)).where(finite),
            "minutes": pd.Series(np.round(minutes, 1)).where(finite),
            "model": matrix.model,
        }
    )


#: Beijing time, the date every Xinjiang office works by.
BEIJING = datetime.timezone(datetime.timedelta(hours=8))


def parse_day(text: str | None) -> datetime.date:
    """``--date`` as a date (default: today in Beijing time); ``ValueError`` naming the field."""
    if text is None:
        return datetime.datetime.now(BEIJING).date()
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--date: {text!r} is not a date YYYY-MM-DD") from None


def closures_for(args: argparse.Namespace, day: datetime.date) -> tuple[Closure, ...]:
    """The closures in force on ``day``: shipped plus ``--closures``; none with ``--no-closures``."""
    if args.no_closures:
        return ()
    closures = load_closures()
    if args.closures is not None:
        extra = load_closures(args.closures)
        clash = sorted({c.id for c in closures} & {c.id for c in extra})
        if clash:
            raise ValueError(f"{args.closures}: field 'id' {clash[0]!r} is already used by the shipped layer")
        closures += extra
    return in_force(closures, day)


def _naming(path: Path, error: Exception) -> str:
    """The error message, prefixed with the file name unless it already names it."""
    message = str(error)
    return message if str(path) in message else f"{path}: {message}"


def main(argv: list[str]) -> int:
    """Entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    try:
        points = read_points(args.points)
    except ValueError as error:
        print(f"error: {_naming(args.points, error)}", file=sys.stderr)
        return 2
    try:
        day = parse_day(args.date)
        closures = () if args.no_roads else closures_for(args, day)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    network: RoadNetwork | None = None
    if not args.no_roads:
        try:
            network = load_road_network(args.roads)
        except (ValueError, OSError, RuntimeError) as error:
            print(f"error: road file {_naming(args.roads, error) if args.roads else error}", file=sys.stderr)
            return 2
        network = network_with_closures(network, closures)
    try:
        matrix = travel_matrix(points, network, use_cache=not args.no_cache, max_access_km=args.max_access_km)
    except ValueError as error:  # the points (the network is loaded): name the file
        print(f"error: {_naming(args.points, error)}", file=sys.stderr)
        return 2
    try:
        safe_frame(pairs_frame(matrix)).to_csv(args.out, index=False)
    except OSError as error:
        print(f"error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"{len(matrix.ids)} points, model {matrix.model}; wrote {args.out}", file=sys.stderr)
    if not args.no_roads:
        print(f"road closures in force on {day.isoformat()}: {len(closures)}", file=sys.stderr)
        for closure in closures:
            print(
                f"  closed {closure.id}: {closure.name} ({closure.reason}, {closure.period}, "
                f"{closure.confidence})",
                file=sys.stderr,
            )
    flagged = matrix.report()
    for row in flagged.itertuples():
        reasons = []
        if not row.reachable:
            reasons.append(f"unreachable (more than {args.max_access_km:g} km from the road network)")
        if row.on_fragment:
            reasons.append(
                f"nearest road is fragment component {row.nearest_component}, not the main network"
            )
        if row.long_access:
            reasons.append(f"access leg over {LONG_ACCESS_KM:g} km: patrol on foot or by drone")
        print(f"  {row.id}: {row.access_km:.1f} km off-road; {'; '.join(reasons)}", file=sys.stderr)
    return 0
