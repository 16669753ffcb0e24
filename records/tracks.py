"""GPS tracks: read GPX files, reject what cannot be trusted, store each track exactly once.

Rules, in order, per GPX file (each ``<trk>`` becomes one track; its segments are joined):

1. The file must parse as GPX (a truncated, half-written or non-GPX file is rejected).
2. Every track point must carry a time stamp (without time, speeds and dwell cannot be known),
   and finite coordinates in range (lat -90..90, lon -180..180, ele if present finite); the error
   names the track, the point (1-based within its track, with its line when known) and the field.
3. Impossible fixes are dropped: a fix is dropped when reaching it from the last kept fix needs a
   speed above :data:`SPEED_LIMITS_KMH` for the team's transport (vehicle 150 km/h, foot 10 km/h,
   drone 100 km/h), or when its time does not advance past the last kept fix. The number dropped is
   reported and stored with the track. At least two fixes must remain.
4. The remaining fixes must lie in Xinjiang (``layers.regions.inside_xinjiang``, 5 km tolerance);
   a track elsewhere is a wrong file or a wrong device clock/datum, never data to keep.

A file is one transaction: all its tracks (and the visits inferred from them) are stored, or none
is. A track whose content hash (sha256 of its normalised fixes: UTC seconds and lon/lat to 1e-7
degrees, before dropping) is already stored is skipped as "already imported", whatever team or file
name it came with, so importing the same file twice never counts it twice.

Testing hook: with ``XUNHU_RECORDS_IMPORT_PAUSE_SECONDS`` set, the import prints
``import paused inside transaction`` to stderr and sleeps that long after writing a file's points
but before committing, so a test can kill the process mid-import and check nothing was stored.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import geopandas as gpd
import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd

from layers.datasets import load_context
from layers.regions import inside_xinjiang
from layers.schema import WGS84
from records import audit
from records.db import RecordsError, now_text, time_range_sql, transaction, utc_text

#: Fastest believable movement per transport, km/h (faster fixes are GPS glitches).
SPEED_LIMITS_KMH = {"vehicle": 150.0, "foot": 10.0, "drone": 100.0}
TRANSPORTS = tuple(SPEED_LIMITS_KMH)
PAUSE_ENV = "XUNHU_RECORDS_IMPORT_PAUSE_SECONDS"
_EARTH_RADIUS_M = 6_371_008.8


class GpxError(RecordsError):
    """A GPX file that cannot be imported; the message names the file and the reason."""


@dataclass
class Track:
    """One track's fixes: UTC epoch seconds and lon/lat in EPSG:4326, in recorded order."""

    name: str
    time_s: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    @property
    def sha256(self) -> str:
        """Content hash of the normalised fixes (identifies the track whatever its file)."""
        digest = hashlib.sha256()
        for t, x, y in zip(self.time_s.tolist(), self.lon.tolist(), self.lat.tolist(), strict=True):
            digest.update(f"{t},{x:.7f},{y:.7f}\n".encode())
        return digest.hexdigest()


@dataclass
class TrackResult:
    """What happened to one track of a file."""

    name: str
    status: str  # "imported" | "already imported"
    track_id: int
    n_points: int
    n_dropped: int
    inferred_visits: int = 0


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    tracks: list[TrackResult] = field(default_factory=list)


def read_gpx(path: str | Path) -> list[Track]:
    """Parse a GPX file into tracks with every fix timed; raise :class:`GpxError` otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GpxError(f"{path}: cannot read ({exc})") from None
    try:
        gpx = gpxpy.parse(text)
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GpxError(f"{path}: not a valid GPX file, perhaps truncated ({first_line})") from None
    tracks = []
    lines = _trkpt_lines(text, sum(len(s.points) for trk in gpx.tracks for s in trk.segments))
    first_index = 0  # of the track's first point among all the file's track points
    for t, trk in enumerate(gpx.tracks):
        points = [p for segment in trk.segments for p in segment.points]
        if not points:
            continue
        name = trk.name or f"track {t + 1}"
        untimed = sum(p.time is None for p in points)
        if untimed:
            raise GpxError(
                f"{path}: {name}: {untimed} of {len(points)} points have no time stamp; "
                "GPS tracks need times (export them with times from the device)"
            )
        _check_coordinates(path, name, points, first_index, lines)
        first_index += len(points)
        times = [p.time if p.time.tzinfo else p.time.replace(tzinfo=UTC) for p in points]
        tracks.append(
            Track(
                name=name,
                time_s=np.array([int(moment.timestamp()) for moment in times], dtype=np.int64),
                lon=np.array([p.longitude for p in points], dtype=float),
                lat=np.array([p.latitude for p in points], dtype=float),
            )
        )
    if not tracks:
        raise GpxError(f"{path}: no track points (only waypoints or routes?)")
    return tracks


#: Valid range per coordinate field (elevation only has to be a finite number).
_FIELD_RANGES = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "ele": (-math.inf, math.inf)}


def _trkpt_lines(text: str, n_points: int) -> list[int] | None:
    """Line number of each ``<trkpt`` tag in document order, or None if they do not match up."""
    starts = [m.start() for m in re.finditer(r"<(?:[\w.-]+:)?trkpt\b", text)]
    if len(starts) != n_points:
        return None
    lines, line, pos = [], 1, 0
    for start in starts:
        line += text.count("\n", pos, start)
        pos = start
        lines.append(line)
    return lines


def _check_coordinates(
    path: Path, name: str, points: list, first_index: int, lines: list[int] | None
) -> None:
    """GpxError naming the first point whose lat/lon/ele is not finite or out of range."""
    for i, point in enumerate(points):
        for field_name, value in (
            ("lat", point.latitude),
            ("lon", point.longitude),
            ("ele", point.elevation),
        ):
            if value is None and field_name == "ele":
                continue
            low, high = _FIELD_RANGES[field_name]
            finite = value is not None and math.isfinite(value)
            if finite and low <= value <= high:
                continue
            where = f"point {i + 1}"
            if lines is not None:
                where += f" (line {lines[first_index + i]})"
            reason = "is not a finite number" if not finite else f"is out of range ({low:g} to {high:g})"
            raise GpxError(f"{path}: {name}: {where}: {field_name}={value} {reason}; file not imported")


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine; metres-accurate enough to judge a speed)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def possible_fixes(track: Track, max_speed_kmh: float) -> np.ndarray:
    """Boolean mask of the fixes to keep (see rule 3 in the module docstring).

    A lone glitch as the very first fix would otherwise make every later fix look impossible, so the
    first fix is dropped instead when it is impossible from the second while the second and third
    agree with each other.
    """
    n = len(track.time_s)
    limit_mps = max_speed_kmh / 3.6
    t, x, y = track.time_s.tolist(), track.lon.tolist(), track.lat.tolist()

    def possible(i: int, j: int) -> bool:
        dt = t[j] - t[i]
        return dt > 0 and _distance_m(x[i], y[i], x[j], y[j]) <= limit_mps * dt

    keep = np.zeros(n, dtype=bool)
    start = 1 if n >= 3 and not possible(0, 1) and possible(1, 2) else 0
    keep[start] = n > 0
    last = start
    for j in range(start + 1, n):
        if possible(last, j):
            keep[j] = True
            last = j
    return keep


@cache
def _province() -> gpd.GeoDataFrame:
    return load_context("province")


def fixes_inside_xinjiang(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask: which fixes lie in Xinjiang.

    Tested on fixes rounded to 0.01 degree (about 1 km, well inside the 5 km tolerance) so a
    100 000-fix track costs a few hundred point-in-polygon tests rather than 100 000.
    """
    cells, back = np.unique(np.round(np.column_stack([lon, lat]), 2), axis=0, return_inverse=True)
    points = gpd.GeoSeries(gpd.points_from_xy(cells[:, 0], cells[:, 1]), crs=WGS84)
    return inside_xinjiang(points, _province())[back.ravel()]


def clean_track(track: Track, transport: str, source: str = "") -> tuple[Track, int]:
    """The track without impossible fixes, and how many were dropped; GpxError if nothing usable."""
    if transport not in SPEED_LIMITS_KMH:
        raise RecordsError(f"transport: {transport!r} is not one of {', '.join(TRANSPORTS)}")
    keep = possible_fixes(track, SPEED_LIMITS_KMH[transport])
    where = f"{source}: {track.name}" if source else track.name
    if keep.sum() < 2:
        raise GpxError(
            f"{where}: fewer than 2 believable fixes remain after dropping {int((~keep).sum())} "
            f"(over {SPEED_LIMITS_KMH[transport]:.0f} km/h for {transport}, or time not advancing)"
        )
    cleaned = Track(track.name, track.time_s[keep], track.lon[keep], track.lat[keep])
    inside = fixes_inside_xinjiang(cleaned.lon, cleaned.lat)
    if not inside.all():
        i = int(np.argmin(inside))
        raise GpxError(
            f"{where}: {int((~inside).sum())} of {len(inside)} fixes lie outside Xinjiang "
            f"(e.g. lon {cleaned.lon[i]:.5f}, lat {cleaned.lat[i]:.5f}); wrong file, or a device "
            "set to another datum or swapped coordinates"
        )
    return cleaned, int((~keep).sum())


def store_track(
    conn: sqlite3.Connection,
    track: Track,
    *,
    team_id: str,
    transport: str,
    source_file: str,
    device: str = "",
    n_dropped: int = 0,
    sha256: str | None = None,
    simulated: bool = False,
    actor: str | None = None,
) -> tuple[int, bool]:
    """Insert a cleaned track; return (track_id, created). An already stored hash returns its id."""
    sha256 = sha256 or track.sha256
    with transaction(conn):
        existing = conn.execute("SELECT track_id FROM tracks WHERE content_sha256 = ?", (sha256,)).fetchone()
        if existing is not None:
            return int(existing["track_id"]), False
        started = datetime.fromtimestamp(int(track.time_s[0]), UTC)
        ended = datetime.fromtimestamp(int(track.time_s[-1]), UTC)
        cursor = conn.execute(
            "INSERT INTO tracks (team_id, device, transport, content_sha256, source_file, name, "
            "started_at, ended_at, n_points, n_dropped, simulated, imported_at, imported_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                team_id,
                device,
                transport,
                sha256,
                source_file,
                track.name,
                utc_text(started),
                utc_text(ended),
                len(track.time_s),
                n_dropped,
                int(simulated),
                now_text(),
                actor or audit.default_actor(),
            ),
        )
        track_id = int(cursor.lastrowid)
        conn.executemany(
            "INSERT INTO track_points (track_id, seq, time_s, lon, lat) VALUES (?, ?, ?, ?, ?)",
            zip(
                [track_id] * len(track.time_s),
                range(len(track.time_s)),
                track.time_s.tolist(),
                track.lon.tolist(),
                track.lat.tolist(),
                strict=True,
            ),
        )
        audit.append(
            conn,
            "track.import",
            f"track:{track_id}",
            {
                "file": source_file,
                "team_id": team_id,
                "transport": transport,
                "points": len(track.time_s),
                "dropped": n_dropped,
                "sha256": sha256,
                "simulated": simulated,
            },
            actor,
        )
    return track_id, True


def import_gpx(
    conn: sqlite3.Connection,
    path: str | Path,
    *,
    team_id: str,
    transport: str = "vehicle",
    device: str = "",
    actor: str | None = None,
    infer_with: gpd.GeoDataFrame | None = None,
    radius_m: float | None = None,
    min_dwell_minutes: float | None = None,
) -> FileResult:
    """Import one GPX file in one transaction; raise :class:`GpxError` (nothing stored) if bad.

    With ``infer_with`` (sites in the target schema), visits are inferred from each new track in
    the same transaction (see :mod:`records.infer`).
    """
    from records.infer import DEFAULT_MIN_DWELL_MINUTES, DEFAULT_RADIUS_M, infer_track_visits

    path = Path(path)
    if not team_id.strip():
        raise RecordsError("team: required (the team whose device recorded the track)")
    # Validate every track before writing anything, so a bad track anywhere rejects the whole file.
    checked = []
    seen = set()
    for track in read_gpx(path):
        digest = track.sha256
        if digest in seen:
            continue
        seen.add(digest)
        checked.append((clean_track(track, transport, str(path)), digest))
    result = FileResult(str(path))
    with transaction(conn):
        for (track, n_dropped), digest in checked:
            track_id, created = store_track(
                conn,
                track,
                team_id=team_id,
                transport=transport,
                source_file=path.name,
                device=device,
                n_dropped=n_dropped,
                sha256=digest,
                actor=actor,
            )
            outcome = TrackResult(
                track.name,
                "imported" if created else "already imported",
                track_id,
                len(track.time_s),
                n_dropped,
            )
            if created and infer_with is not None:
                outcome.inferred_visits = infer_track_visits(
                    conn,
                    track_id,
                    infer_with,
                    radius_m=DEFAULT_RADIUS_M if radius_m is None else radius_m,
                    min_dwell_minutes=DEFAULT_MIN_DWELL_MINUTES
                    if min_dwell_minutes is None
                    else min_dwell_minutes,
                )
            result.tracks.append(outcome)
        pause = float(os.environ.get(PAUSE_ENV) or 0)
        if pause > 0:
            print("import paused inside transaction", file=sys.stderr, flush=True)
            time.sleep(pause)
    return result


def track_points_frame(
    conn: sqlite3.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    track_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Track fixes in ``[since, until)``: track_id, team_id, transport, time (UTC), lon, lat."""
    where, params = time_range_sql("p.time_s", since, until, epoch=True)
    if track_ids is not None:
        where += f" AND p.track_id IN ({','.join('?' * len(track_ids))})"
        params += [int(i) for i in track_ids]
    frame = pd.read_sql_query(
        f"""SELECT p.track_id, t.team_id, t.transport, p.time_s, p.lon, p.lat
            FROM track_points p JOIN tracks t ON t.track_id = p.track_id
            WHERE {where} ORDER BY p.track_id, p.seq""",
        conn,
        params=params,
    )
    frame.insert(3, "time", pd.to_datetime(frame.pop("time_s"), unit="s", utc=True))
    return frame
