"""Visits inferred from GPS tracks: a team that stayed near a site probably went there.

A *dwell* is a run of consecutive fixes all within ``radius_m`` of a site (distance to the point,
or to the polygon's edge for area sites; zero inside it) lasting at least ``min_dwell_minutes`` from
its first to its last fix. Distances are computed in the metric CRS
(``layers.schema.XINJIANG_METRIC_CRS``) with a shapely STRtree ``dwithin`` query.

Inferred visits are evidence of presence only. They are stored in their own table, linked to the
track and to the parameters used, and are never counted as inspections by default. Inference is
idempotent: running it again with the same parameters adds nothing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.datasets import load_targets
from layers.schema import WGS84, XINJIANG_METRIC_CRS
from records import audit
from records.backend import Connection
from records.db import RecordsError, now_text, transaction, utc_text
from records.tracks import track_points_frame

DEFAULT_RADIUS_M = 300.0
DEFAULT_MIN_DWELL_MINUTES = 10.0


def find_dwells(
    points: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    radius_m: float = DEFAULT_RADIUS_M,
    min_dwell_minutes: float = DEFAULT_MIN_DWELL_MINUTES,
) -> list[dict]:
    """Dwells of one track (``points``: columns ``time``, geometry, in time order) at ``sites``.

    Returns one dict per dwell: site_id, started_at, ended_at, dwell_minutes, min_distance_m and
    lon/lat of the fix closest to the site.
    """
    if "site_id" not in sites.columns:
        raise RecordsError("sites: a 'site_id' column is required to infer visits")
    if points.empty or sites.empty:
        return []
    fixes = points.to_crs(XINJIANG_METRIC_CRS).geometry.to_numpy()
    places = sites.to_crs(XINJIANG_METRIC_CRS).geometry.to_numpy()
    fix_index, site_index = shapely.STRtree(places).query(fixes, predicate="dwithin", distance=radius_m)
    times = pd.DatetimeIndex(points["time"])
    lonlat = points.to_crs(WGS84).get_coordinates().to_numpy()
    dwells = []
    for site in np.unique(site_index):
        near = np.sort(fix_index[site_index == site])
        # Split the fixes near this site into runs of consecutive fixes (a gap = the team left).
        for run in np.split(near, np.flatnonzero(np.diff(near) != 1) + 1):
            minutes = (times[run[-1]] - times[run[0]]) / pd.Timedelta(minutes=1)
            if minutes < min_dwell_minutes:
                continue
            distances = shapely.distance(fixes[run], places[site])
            closest = run[int(np.argmin(distances))]
            dwells.append(
                {
                    "site_id": str(sites["site_id"].iloc[site]),
                    "started_at": times[run[0]],
                    "ended_at": times[run[-1]],
                    "dwell_minutes": float(minutes),
                    "min_distance_m": float(distances.min()),
                    "lon": float(lonlat[closest, 0]),
                    "lat": float(lonlat[closest, 1]),
                }
            )
    return sorted(dwells, key=lambda d: (d["started_at"], d["site_id"]))


def infer_track_visits(
    conn: Connection,
    track_id: int,
    sites: gpd.GeoDataFrame,
    radius_m: float = DEFAULT_RADIUS_M,
    min_dwell_minutes: float = DEFAULT_MIN_DWELL_MINUTES,
    actor: str | None = None,
) -> int:
    """Store the dwells of track ``track_id`` as inferred visits; return how many were new."""
    track = conn.execute("SELECT team_id, simulated FROM tracks WHERE track_id = ?", (track_id,)).fetchone()
    if track is None:
        raise RecordsError(f"track {track_id} does not exist")
    frame = track_points_frame(conn, track_ids=[track_id])
    points = gpd.GeoDataFrame(
        frame[["time"]], geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=WGS84
    )
    dwells = find_dwells(points, sites, radius_m, min_dwell_minutes)
    with transaction(conn):
        count_sql = "SELECT count(*) FROM inferred_visits WHERE track_id = ?"
        before = conn.execute(count_sql, (track_id,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO inferred_visits (track_id, site_id, team_id, started_at, ended_at, "
            "dwell_minutes, min_distance_m, lon, lat, radius_m, min_dwell_minutes, simulated, inferred_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (
                    track_id,
                    d["site_id"],
                    track["team_id"],
                    utc_text(d["started_at"].to_pydatetime()),
                    utc_text(d["ended_at"].to_pydatetime()),
                    round(d["dwell_minutes"], 2),
                    round(d["min_distance_m"], 1),
                    d["lon"],
                    d["lat"],
                    radius_m,
                    min_dwell_minutes,
                    track["simulated"],
                    now_text(),
                )
                for d in dwells
            ],
        )
        added = conn.execute(count_sql, (track_id,)).fetchone()[0] - before
        if added:
            audit.append(
                conn,
                "track.infer_visits",
                f"track:{track_id}",
                {"added": added, "radius_m": radius_m, "min_dwell_minutes": min_dwell_minutes},
                actor,
            )
    return added


def infer_all(
    conn: Connection,
    sites: gpd.GeoDataFrame,
    radius_m: float = DEFAULT_RADIUS_M,
    min_dwell_minutes: float = DEFAULT_MIN_DWELL_MINUTES,
    actor: str | None = None,
) -> dict[int, int]:
    """Infer visits for every stored track (one transaction per track); new visits per track id."""
    track_ids = [row[0] for row in conn.execute("SELECT track_id FROM tracks ORDER BY track_id")]
    return {
        track_id: infer_track_visits(conn, track_id, sites, radius_m, min_dwell_minutes, actor)
        for track_id in track_ids
    }


def registry_sites() -> gpd.GeoDataFrame:
    """The shipped registry's sites (``layers.datasets.load_targets``) for inference and look-ups."""
    try:
        return load_targets()[["site_id", "name", "layer", "geometry"]]
    except (OSError, RuntimeError, ValueError) as exc:  # pyogrio's DataSourceError is a RuntimeError
        raise RecordsError(f"cannot read the site registry ({exc}); pass sites explicitly") from None
