"""Complaints (12369 hotline, letters, online): intake, the check they set, and closing with a reply.

A complaint is received at a time through a channel, about a place: a registry site, or coordinates
matched to the nearest registry site within :data:`MATCH_RADIUS_M` (in the Xinjiang metric CRS; a
zone counts from its edge, so a point inside it is 0 m away). Its response deadline follows from
its urgency (:data:`RESPONSE_HOURS`). Intake sets a check task at the site due at that deadline
(:mod:`records.tasks`), a *night check* when the problem happens at night (错时核查: an odour at
2 a.m. is not found at 10 a.m.).

A complaint closes (:func:`close_complaint`) only with a visit at its site that started after the
complaint was received and inspected the site, and with the reply sent to the complainant; the
database refuses anything else (migration 8). A night-time complaint closes only with a night visit
(the one its night check needs, :func:`records.tasks.is_night`). Closing also marks done the
complaint's check task that the visit serves but that is still open (a visit recorded before the
complaint was entered), so a closed complaint leaves no check for the planner. Intake and closing
are audited in their transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from layers.schema import WGS84, XINJIANG_BBOX, XINJIANG_METRIC_CRS
from records import audit, tasks
from records.backend import Connection, inserted_id, read_frame
from records.db import LOCAL_TZ, RecordsError, now_text, transaction, utc_text

CHANNELS = ("12369", "letter", "online", "other")
#: Response deadline after receipt, by urgency (hours).
RESPONSE_HOURS = {"urgent": 24, "normal": 7 * 24}
#: Coordinates are matched to registry sites at most this far away.
MATCH_RADIUS_M = 3000.0
COMPLAINT_COLUMNS = (
    "complaint_id",
    "received_at",
    "channel",
    "site_id",
    "distance_m",
    "nature",
    "night",
    "urgent",
    "respond_by",
    "state",
    "visit_id",
    "reply",
    "simulated",
)


@dataclass(frozen=True)
class Complaint:
    """A complaint as received: ``site_id`` or ``lon``/``lat`` (matched to the nearest site)."""

    received_at: datetime
    nature: str
    channel: str = "12369"
    site_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    night: bool = False
    urgent: bool = False
    simulated: bool = False

    def problems(self) -> list[str]:
        """Everything wrong with this complaint, one message per field (empty when valid)."""
        found = []
        if self.received_at.tzinfo is None:
            found.append("received: must carry a time zone")
        if not self.nature.strip():
            found.append("nature: empty (say what the complaint is about)")
        if self.channel not in CHANNELS:
            found.append(f"channel: {self.channel!r} is not one of {', '.join(CHANNELS)}")
        has_point = self.lon is not None or self.lat is not None
        if bool(self.site_id) == has_point:
            found.append("site/lon/lat: give a registry site id or coordinates (lon and lat), not both")
        elif has_point:
            lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
            if self.lon is None or self.lat is None:
                found.append("lon/lat: give both")
            elif not (lon_min <= self.lon <= lon_max and lat_min <= self.lat <= lat_max):
                found.append(f"lon/lat: ({self.lon}, {self.lat}) is outside Xinjiang")
        return found


def nearest_sites(
    sites: gpd.GeoDataFrame, lon: float, lat: float, radius_m: float = MATCH_RADIUS_M
) -> pd.DataFrame:
    """Registry sites within ``radius_m`` of (lon, lat), nearest first: ``site_id``, ``name``, ``distance_m``."""
    metric = sites.to_crs(XINJIANG_METRIC_CRS)
    here = gpd.GeoSeries([Point(lon, lat)], crs=WGS84).to_crs(XINJIANG_METRIC_CRS).iloc[0]
    distance = metric.geometry.distance(here)
    near = pd.DataFrame(
        {"site_id": sites["site_id"].astype(str), "name": sites["name"].astype(str), "distance_m": distance}
    )
    return (
        near[near["distance_m"] <= radius_m].sort_values("distance_m", kind="stable").reset_index(drop=True)
    )


def _registry(sites: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if sites is not None:
        return sites
    from records.infer import registry_sites

    return registry_sites()


def add_complaint(
    conn: Connection,
    complaint: Complaint,
    *,
    sites: gpd.GeoDataFrame | None = None,
    actor: str | None = None,
) -> int:
    """Record a complaint and its check task; return the complaint id.

    ``sites`` is the registry to match against (default: the shipped one). Raises RecordsError
    naming the field: an unknown site, or no site within :data:`MATCH_RADIUS_M` of the coordinates.
    """
    problems = complaint.problems()
    if problems:
        raise RecordsError("complaint: " + "; ".join(problems))
    actor = actor or audit.default_actor()
    registry = _registry(sites)
    distance = None
    if complaint.site_id:
        site_id = complaint.site_id.strip()
        if site_id not in set(registry["site_id"].astype(str)):
            raise RecordsError(f"site: {site_id!r} is not in the site registry")
    else:
        near = nearest_sites(registry, complaint.lon, complaint.lat)
        if near.empty:
            raise RecordsError(
                f"lon/lat: no registry site within {MATCH_RADIUS_M / 1000:g} km of ({complaint.lon}, "
                f"{complaint.lat}); give --site with the site the complaint is about"
            )
        site_id, distance = str(near["site_id"].iloc[0]), round(float(near["distance_m"].iloc[0]), 1)
    respond_by = complaint.received_at + timedelta(
        hours=RESPONSE_HOURS["urgent" if complaint.urgent else "normal"]
    )
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO complaints (received_at, channel, site_id, lon, lat, distance_m, nature, night, urgent, "
            "respond_by, simulated, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING complaint_id",
            (
                utc_text(complaint.received_at),
                complaint.channel,
                site_id,
                complaint.lon,
                complaint.lat,
                distance,
                complaint.nature.strip(),
                int(complaint.night),
                int(complaint.urgent),
                utc_text(respond_by),
                int(complaint.simulated),
                now_text(),
                actor,
            ),
        )
        complaint_id = inserted_id(cursor)
        kind = "night_check" if complaint.night else "complaint_check"
        what = "night check" if complaint.night else "check"
        task_id = tasks.add_task(
            conn,
            tasks.NewTask(
                kind=kind,
                site_id=site_id,
                since=complaint.received_at,
                due=respond_by,
                reason=f"{what} of complaint {complaint_id} ({complaint.channel}: {complaint.nature.strip()[:60]}), "
                f"respond by {tasks.due_label(respond_by)}",
                complaint_id=complaint_id,
                simulated=complaint.simulated,
            ),
            actor,
        )
        audit.append(
            conn,
            "complaint.add",
            f"complaint:{complaint_id}",
            {
                "channel": complaint.channel,
                "site_id": site_id,
                "distance_m": distance,
                "night": complaint.night,
                "urgent": complaint.urgent,
                "respond_by": utc_text(respond_by),
                "task": task_id,
            },
            actor,
        )
    return complaint_id


def close_complaint(
    conn: Connection, complaint_id: int, visit_id: int, reply: str, actor: str | None = None
) -> None:
    """Close a complaint with the visit that checked it and the reply; RecordsError says what is missing."""
    actor = actor or audit.default_actor()
    if not reply.strip():
        raise RecordsError("reply: empty (the reply sent to the complainant is required to close)")
    with transaction(conn):
        row = conn.execute("SELECT * FROM complaints WHERE complaint_id = ?", (complaint_id,)).fetchone()
        if row is None:
            raise RecordsError(f"complaint: {complaint_id} does not exist")
        if row["state"] != "open":
            raise RecordsError(f"complaint: {complaint_id} is already closed")
        visit = conn.execute("SELECT * FROM visits WHERE visit_id = ?", (visit_id,)).fetchone()
        if visit is None:
            raise RecordsError(f"visit: {visit_id} does not exist")
        if visit["site_id"] != row["site_id"]:
            raise RecordsError(
                f"visit: {visit_id} was at {visit['site_id']}, the complaint is about {row['site_id']}"
            )
        if visit["started_at"] < row["received_at"] or visit["outcome"] == "not_inspected":
            raise RecordsError(
                f"visit: {visit_id} does not check the complaint: it must start after it was received "
                f"({row['received_at']}) and inspect the site (outcome {visit['outcome']})"
            )
        started = datetime.fromisoformat(visit["started_at"].replace("Z", "+00:00"))
        if row["night"] and not tasks.is_night(started):
            local = started.astimezone(LOCAL_TZ).strftime("%H:%M")
            raise RecordsError(
                f"visit: {visit_id} started at {local}, but complaint {complaint_id} is about a problem at "
                f"night: close it with a night check (a visit starting {tasks.NIGHT_STARTS:%H:%M}-"
                f"{tasks.NIGHT_ENDS:%H:%M} local time)"
            )
        conn.execute(
            "UPDATE complaints SET state = 'closed', visit_id = ?, reply = ?, closed_at = ?, closed_by = ? "
            "WHERE complaint_id = ?",
            (visit_id, reply.strip(), now_text(), actor, complaint_id),
        )
        still_open = conn.execute(
            "SELECT task_id FROM tasks WHERE complaint_id = ? AND state = 'open' ORDER BY task_id",
            (complaint_id,),
        ).fetchall()
        tasks.mark_done(conn, [task["task_id"] for task in still_open], visit, ", complaint closed", actor)
        audit.append(
            conn,
            "complaint.close",
            f"complaint:{complaint_id}",
            {"visit_id": visit_id, "reply": reply.strip()},
            actor,
        )


def complaints_frame(conn: Connection, state: str | None = None) -> pd.DataFrame:
    """Complaints with :data:`COMPLAINT_COLUMNS`, newest first (times tz-aware UTC)."""
    where, params = ("WHERE state = ?", (state,)) if state is not None else ("", ())
    frame = read_frame(
        f"SELECT {', '.join(COMPLAINT_COLUMNS)} FROM complaints {where} ORDER BY received_at DESC, complaint_id DESC",
        conn,
        params=params,
    )
    for column in ("received_at", "respond_by"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("night", "urgent", "simulated"):
        frame[column] = frame[column].astype(bool)
    frame["visit_id"] = frame["visit_id"].astype("Int64")
    return frame
