"""GPS tracks: read GPX files, reject what cannot be trusted, store each track exactly once.

Rules, in order, per GPX file (each ``<trk>`` becomes one track; its segments are joined):

1. The file must parse as GPX in the encoding it declares (a truncated, half-written or non-GPX
   file is rejected); reading, encodings, time zones and datums are :mod:`records.gpx_read`.
2. Every track point must carry a time stamp (without time, speeds and dwell cannot be known),
   and finite coordinates in range (lat -90..90, lon -180..180, ele if present finite); the error
   names the track, the point (1-based within its track, with its line when known) and the field.
3. Cold-start fixes are dropped and counted: fixes at exactly 0,0 (a receiver with no position
   yet), fixes dated before :data:`EARLIEST_PLAUSIBLE` or over a year in the future (a clock
   not yet set: 1970, the GPS epoch 1980, GPS week-number rollover dates, 2080), and leading
   fixes that cannot be reached from the track's longest run of believable fixes starting in its
   first :data:`COLD_START_WINDOW` (a receiver still converging). A track left with fewer than 2
   fixes (or a one-point track) is rejected saying why.
4. Impossible fixes are dropped: a fix is dropped when reaching it from the last kept fix needs a
   speed above :data:`SPEED_LIMITS_KMH` for the team's transport (vehicle 150 km/h, foot 10 km/h,
   drone 100 km/h) beyond the :data:`POSITION_SLACK_M` a consumer receiver wanders anyway (which
   matters at 5 Hz, where fixes are 0.2 s apart), or when its time does not advance past the last
   kept fix. The number dropped (cold-start and impossible) is reported and stored with the
   track. At least two fixes must remain.
5. The remaining fixes must lie in Xinjiang (``layers.regions.inside_xinjiang``, 5 km tolerance);
   a track elsewhere is a wrong file or a wrong device clock/datum, never data to keep.

A file is one transaction: all its tracks (and the visits inferred from them) are stored, or none
is. A track whose content hash (sha256 of its normalised fixes: UTC seconds, whole or to the
microsecond, and WGS-84 lon/lat to 1e-7 degrees, before dropping) is already stored is skipped as
"already imported", whatever team or file name it came with, so importing the same file twice never
counts it twice.

Times are stored as epoch seconds in ``track_points.time_s``; a fix with a fraction of a second is
stored with it (SQLite keeps a non-whole number in that INTEGER-affinity column as a REAL).

Testing hook: with ``XUNHU_RECORDS_IMPORT_PAUSE_SECONDS`` set, the import prints
``import paused inside transaction`` to stderr and sleeps that long after writing a file's points
but before committing, so a test can kill the process mid-import and check nothing was stored.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.datasets import load_context
from layers.regions import inside_xinjiang
from layers.schema import WGS84
from records import audit
from records.backend import Connection, inserted_id, read_frame
from records.db import RecordsError, now_text, time_range_sql, transaction, utc_text
from records.gpx_read import DATUMS, GpxError, Track, describe_time, read_gpx_file

#: Fastest believable movement per transport, km/h (faster fixes are GPS glitches).
SPEED_LIMITS_KMH = {"vehicle": 150.0, "foot": 10.0, "drone": 100.0}
TRANSPORTS = tuple(SPEED_LIMITS_KMH)
#: How far a consumer receiver's fixes wander without moving, metres: a step this short is never
#: judged impossible (at 5 Hz a walker covers 0.3 m per fix while the fix jitters by metres).
POSITION_SLACK_M = 10.0
#: Fixes dated earlier are a receiver clock not yet set (1970 = Unix time 0, 1980-01-06 = the GPS
#: epoch) or a GPS week-number rollover (dates 1024 weeks, 19.6 years, early: 1999-2000 for the
#: rollover of 2019, 2007 for a device hit by it today); no patrol log predates it.
EARLIEST_PLAUSIBLE = datetime(2010, 1, 1, tzinfo=UTC)
#: Fixes dated this far beyond the real clock are a clock set wrong (e.g. 2080). GPS clock faults
#: are decades (rollovers), so a year of slack costs nothing and spares a computer whose own clock
#: is behind (a test machine, a laptop with a dead clock battery) from refusing today's tracks.
FUTURE_TOLERANCE = timedelta(days=366)
#: Leading fixes may be judged cold-start fixes only when the run of believable fixes they lead
#: to starts this soon after the first fix (a receiver converges within seconds to minutes; a
#: longer stretch of impossible fixes is a wrong transport or a wrong file, and is rejected).
COLD_START_WINDOW = timedelta(minutes=5)
#: A fix this close to lon 0, lat 0 is a receiver reporting "no position" (Xinjiang is far away).
_NULL_ISLAND_DEG = 1e-6
_GPS_ROLLOVER = timedelta(weeks=1024)
PAUSE_ENV = "XUNHU_RECORDS_IMPORT_PAUSE_SECONDS"
_EARTH_RADIUS_M = 6_371_008.8


@dataclass
class TrackResult:
    """What happened to one track of a file (``n_dropped`` counts cold-start fixes too)."""

    name: str
    status: str  # "imported" | "already imported"
    track_id: int
    n_points: int
    n_dropped: int
    inferred_visits: int = 0
    n_cold_start: int = 0

    @property
    def n_impossible(self) -> int:
        """Fixes dropped as impossible (too fast, or time not advancing)."""
        return self.n_dropped - self.n_cold_start


@dataclass
class FileResult:
    """What happened to one file, and the warnings its reading gave (e.g. times without a zone)."""

    path: str
    tracks: list[TrackResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class CleanedTrack:
    """A track after :func:`clean_track`, with how many fixes each rule dropped."""

    track: Track
    n_cold_start: int
    n_impossible: int

    @property
    def n_dropped(self) -> int:
        """All fixes dropped."""
        return self.n_cold_start + self.n_impossible


def read_gpx(path: str | Path, *, datum: str = "wgs84", local_time: bool = False) -> list[Track]:
    """Parse a GPX file into tracks with every fix timed (see :func:`records.gpx_read.read_gpx_file`)."""
    return read_gpx_file(path, datum=datum, local_time=local_time).tracks


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine; metres-accurate enough to judge a speed)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _step_distances_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Haversine distance from each fix to the next (length n - 1)."""
    p = np.radians(lat)
    dp, dl = np.diff(p), np.radians(np.diff(lon))
    a = np.sin(dp / 2) ** 2 + np.cos(p[:-1]) * np.cos(p[1:]) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def possible_fixes(track: Track, max_speed_kmh: float, slack_m: float = 0.0) -> np.ndarray:
    """Boolean mask of the fixes to keep (see rule 4 in the module docstring).

    A step is possible when time advances and its length is at most ``slack_m`` plus the
    distance ``max_speed_kmh`` covers in that time. A lone glitch as the very first fix would
    otherwise make every later fix look impossible, so the first fix is dropped instead when it is
    impossible from the second while the second and third agree with each other.
    """
    n = len(track.time_s)
    limit_mps = max_speed_kmh / 3.6
    t, x, y = track.time_s.tolist(), track.lon.tolist(), track.lat.tolist()

    def possible(i: int, j: int) -> bool:
        dt = t[j] - t[i]
        return dt > 0 and _distance_m(x[i], y[i], x[j], y[j]) <= slack_m + limit_mps * dt

    keep = np.zeros(n, dtype=bool)
    start = 1 if n >= 3 and not possible(0, 1) and possible(1, 2) else 0
    keep[start] = n > 0
    last = start
    for j in range(start + 1, n):
        if possible(last, j):
            keep[j] = True
            last = j
    return keep


def converging_fixes(track: Track, max_speed_kmh: float, slack_m: float = POSITION_SLACK_M) -> np.ndarray:
    """Boolean mask of leading fixes a receiver gave while still converging (cold start).

    The track is anchored on the longest run of consecutive fixes that are each possible from the
    one before, among the runs starting within :data:`COLD_START_WINDOW` of the first fix; walking
    back from the run's first fix, an earlier fix is kept when the last kept fix can be reached from
    it, else it is marked. Only fixes before the run are ever marked (later glitches are
    :func:`possible_fixes`' business).
    """
    n = len(track.time_s)
    marked = np.zeros(n, dtype=bool)
    if n < 2:
        return marked
    steps = _step_distances_m(track.lon, track.lat)
    dt = np.diff(track.time_s.astype(float))
    ok = (dt > 0) & (steps <= slack_m + max_speed_kmh / 3.6 * dt)
    # Runs of True in ``ok``: step i joins fixes i and i + 1.
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    early = track.time_s[starts] <= track.time_s[0] + COLD_START_WINDOW.total_seconds()
    starts, ends = starts[early], ends[early]
    if len(starts) == 0:
        return marked
    anchor = int(starts[np.argmax(ends - starts)])
    limit_mps = max_speed_kmh / 3.6
    t, x, y = track.time_s.tolist(), track.lon.tolist(), track.lat.tolist()
    last = anchor
    for i in range(anchor - 1, -1, -1):
        dt_i = t[last] - t[i]
        if dt_i > 0 and _distance_m(x[i], y[i], x[last], y[last]) <= slack_m + limit_mps * dt_i:
            last = i
        else:
            marked[i] = True
    return marked


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


def _clock_explanation(t: float) -> str:
    """Why a fix's date cannot be true, naming the usual cause."""
    moment = datetime.fromtimestamp(float(t), UTC)
    if moment.year == 1970:
        return "1970 is Unix time 0: the device's clock was never set"
    if moment.year == 1980 and moment.month == 1:
        return "1980-01-06 is the GPS epoch: the receiver had no time from the satellites yet"
    if moment < EARLIEST_PLAUSIBLE:
        later = describe_time(t + _GPS_ROLLOVER.total_seconds())[:10]
        return (
            f"before {EARLIEST_PLAUSIBLE.year}: a GPS week-number rollover puts dates 1024 weeks "
            f"(19.6 years) early (this would be {later}); the device needs a firmware or clock fix"
        )
    return "in the future: the device's clock is set wrong"


def clean_track(track: Track, transport: str, source: str = "") -> CleanedTrack:
    """The track without cold-start and impossible fixes, with the counts; GpxError if unusable."""
    if transport not in SPEED_LIMITS_KMH:
        raise RecordsError(f"transport: {transport!r} is not one of {', '.join(TRANSPORTS)}")
    where = f"{source}: {track.name}" if source else track.name
    n = len(track.time_s)
    if n < 2:
        raise GpxError(
            f"{where}: only {n} point (at {describe_time(track.time_s[0])}); a track needs at least 2 "
            "timed fixes, so the file is not imported (remove the one-point track, or export the "
            "whole recording)"
        )
    null = (np.abs(track.lon) < _NULL_ISLAND_DEG) & (np.abs(track.lat) < _NULL_ISLAND_DEG)
    latest = (datetime.now(UTC) + FUTURE_TOLERANCE).timestamp()
    bad_clock = (track.time_s < EARLIEST_PLAUSIBLE.timestamp()) | (track.time_s > latest)
    usable = ~null & ~bad_clock
    if usable.sum() < 2:
        reasons = []
        if bad_clock.any():
            first = track.time_s[np.argmax(bad_clock)]
            reasons.append(
                f"{int(bad_clock.sum())} dated impossibly (e.g. {describe_time(first)}; "
                f"{_clock_explanation(first)})"
            )
        if null.any():
            reasons.append(f"{int(null.sum())} at lon 0, lat 0 (the receiver had no position)")
        raise GpxError(
            f"{where}: {int(usable.sum())} of {n} fixes usable: " + "; ".join(reasons) + "; file not imported"
        )
    limit = SPEED_LIMITS_KMH[transport]
    kept = track.subset(usable)
    converging = converging_fixes(kept, limit)
    kept = kept.subset(~converging)
    n_cold_start = int((~usable).sum() + converging.sum())
    keep = possible_fixes(kept, limit, POSITION_SLACK_M)
    if keep.sum() < 2:
        raise GpxError(
            f"{where}: fewer than 2 believable fixes remain after dropping {int((~keep).sum())} "
            f"(over {limit:.0f} km/h for {transport}, or time not advancing)"
            + (f" and {n_cold_start} cold-start fixes" if n_cold_start else "")
        )
    cleaned = kept.subset(keep)
    inside = fixes_inside_xinjiang(cleaned.lon, cleaned.lat)
    if not inside.all():
        i = int(np.argmin(inside))
        raise GpxError(
            f"{where}: {int((~inside).sum())} of {len(inside)} fixes lie outside Xinjiang "
            f"(e.g. lon {cleaned.lon[i]:.5f}, lat {cleaned.lat[i]:.5f}); wrong file, or a device "
            "set to another datum (--gcj02, --bd09) or swapped coordinates"
        )
    return CleanedTrack(cleaned, n_cold_start, int((~keep).sum()))


def store_track(
    conn: Connection,
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
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING track_id",
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
        track_id = inserted_id(cursor)
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
    conn: Connection,
    path: str | Path,
    *,
    team_id: str,
    transport: str = "vehicle",
    device: str = "",
    actor: str | None = None,
    infer_with: gpd.GeoDataFrame | None = None,
    radius_m: float | None = None,
    min_dwell_minutes: float | None = None,
    datum: str = "wgs84",
    local_time: bool = False,
) -> FileResult:
    """Import one GPX file in one transaction; raise :class:`GpxError` (nothing stored) if bad.

    With ``infer_with`` (sites in the target schema), visits are inferred from each new track in
    the same transaction (see :mod:`records.infer`). ``datum`` (one of :data:`DATUMS`) is the datum
    of the file's positions; ``local_time`` reads times without a zone as Beijing time (see
    :mod:`records.gpx_read`). What the reader assumed is in :attr:`FileResult.warnings`.
    """
    from records.infer import DEFAULT_MIN_DWELL_MINUTES, DEFAULT_RADIUS_M, infer_track_visits

    path = Path(path)
    if not team_id.strip():
        raise RecordsError("team: required (the team whose device recorded the track)")
    # Validate every track before writing anything, so a bad track anywhere rejects the whole file.
    if datum not in DATUMS:
        raise RecordsError(f"datum: {datum!r} is not one of {', '.join(DATUMS)}")
    checked = []
    seen = set()
    read = read_gpx_file(path, datum=datum, local_time=local_time)
    for track in read.tracks:
        digest = track.sha256
        if digest in seen:
            continue
        seen.add(digest)
        checked.append((clean_track(track, transport, str(path)), digest))
    result = FileResult(str(path), warnings=list(read.warnings))
    with transaction(conn):
        for cleaned, digest in checked:
            track, n_dropped = cleaned.track, cleaned.n_dropped
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
                n_cold_start=cleaned.n_cold_start,
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
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    track_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Track fixes in ``[since, until)``: track_id, team_id, transport, time (UTC), lon, lat."""
    where, params = time_range_sql("p.time_s", since, until, epoch=True)
    if track_ids is not None:
        where += f" AND p.track_id IN ({','.join('?' * len(track_ids))})"
        params += [int(i) for i in track_ids]
    frame = read_frame(
        f"""SELECT p.track_id, t.team_id, t.transport, p.time_s, p.lon, p.lat
            FROM track_points p JOIN tracks t ON t.track_id = p.track_id
            WHERE {where} ORDER BY p.track_id, p.seq""",
        conn,
        params=params,
    )
    # Through whole microseconds: float seconds straight to datetime would be up to ~50 ns off.
    micros = (frame.pop("time_s").astype(float) * 1e6).round().astype("int64")
    frame.insert(3, "time", pd.to_datetime(micros, unit="us", utc=True))
    return frame
