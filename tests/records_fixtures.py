"""Small hand-made inputs shared by the records tests: GPX files, sites, a plan, DB snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import gpxpy.gpx
from shapely.geometry import Point, box

from layers.schema import WGS84
from records.backend import table_names
from records.db import connect

#: Two sites near Urumqi: a point source and a small polygon zone 5 km east of it.
SITE_LON, SITE_LAT = 87.62, 43.82
SITES = gpd.GeoDataFrame(
    {
        "site_id": ["PS0001", "WS0001"],
        "name": ["plant", "zone"],
        "layer": ["pollution_source", "water_source"],
    },
    geometry=[Point(SITE_LON, SITE_LAT), box(87.68, 43.81, 87.69, 43.83)],
    crs=WGS84,
)
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def drive_and_dwell(start: datetime = START, dwell_minutes: int = 15, step_s: int = 30) -> list[tuple]:
    """(time, lon, lat): 20 min driving west->east to the point site, a dwell there, 20 min onward."""
    points, t = [], start
    for i in range(40):  # approach from 10 km west at ~30 km/h
        points.append((t, SITE_LON - 0.12 + 0.003 * i, SITE_LAT))
        t += timedelta(seconds=step_s)
    for i in range(dwell_minutes * 60 // step_s + 1):  # jitter of ~10 m around the site
        points.append((t, SITE_LON + 0.0001 * (i % 3), SITE_LAT + 0.0001 * (i % 2)))
        t += timedelta(seconds=step_s)
    for i in range(1, 41):
        points.append((t, SITE_LON + 0.0015 * i, SITE_LAT - 0.0005 * i))
        t += timedelta(seconds=step_s)
    return points


def write_gpx(path: Path, points: list[tuple], name: str = "day 1", timed: bool = True) -> Path:
    """Write ``points`` ((time, lon, lat) tuples) as a one-track GPX file."""
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name=name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for moment, lon, lat in points:
        segment.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon, time=moment if timed else None))
    track.segments.append(segment)
    gpx.tracks.append(track)
    path.write_text(gpx.to_xml(), encoding="utf-8")
    return path


def small_plan(name: str = "week-48", day: str = "2026-11-24") -> dict:
    """A plan in the planner's JSON shape: one team, base -> two sites -> base on one day."""

    def stop(seq: int, kind: str, ident: str, lon: float, lat: float, arrive: str, depart: str) -> dict:
        return {
            "seq": seq,
            "type": kind,
            "id": ident,
            "name": ident,
            "lon": lon,
            "lat": lat,
            "arrive": f"{day}T{arrive}:00+08:00",
            "depart": f"{day}T{depart}:00+08:00",
            "service_minutes": 60 if kind == "site" else 0,
            "leg_km": 5.0,
            "leg_minutes": 10.0,
        }

    stops = [
        stop(0, "base", "B1", 87.50, 43.80, "08:00", "08:00"),
        stop(1, "site", "PS0001", SITE_LON, SITE_LAT, "09:00", "10:00"),
        stop(2, "site", "WS0001", 87.685, 43.82, "10:30", "11:30"),
        stop(3, "base", "B1", 87.50, 43.80, "12:30", "12:30"),
    ]
    return {
        "scenario": {"name": name},
        "travel_model": "great_circle",
        "status": "feasible",
        "objective": 1,
        "solve_seconds": 0.1,
        "teams": [
            {"team_id": "T1", "stops": stops, "drive_km": 20, "drive_minutes": 40, "service_minutes": 120}
        ],
        "dropped": [],
        "kpis": {},
    }


def dump(db: Path | str) -> str:
    """Every row of every table, as text, on either engine: equal dumps mean equal content."""
    conn = connect(db, migrate_schema=False)
    try:
        return "\n".join(
            f"{table}: {row!r}"
            for table in sorted(table_names(conn))
            for row in sorted(repr(tuple(row)) for row in conn.execute(f"SELECT * FROM {table}"))
        )
    finally:
        conn.close()
