"""Visits officers record, and the one table of visits the coverage package reads.

A recorded visit is never changed or deleted (the database refuses). A correction is a new visit
that ``supersedes`` the old one; :func:`visits_frame` shows only the current version of each, and
the audit log keeps the trail. Visits inferred from GPS tracks live in their own table
(:mod:`records.infer`): they appear here only when asked for, with ``source='inferred'`` and outcome
``not_inspected``, because driving past a site is not inspecting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from layers.schema import XINJIANG_BBOX
from records import audit, cases
from records.backend import Connection, inserted_id, read_frame
from records.db import RecordsError, now_text, time_range_sql, transaction, utc_text

OUTCOMES = ("compliant", "violation", "not_inspected")
SOURCES = ("planned", "ad_hoc")
VISIT_COLUMNS = (
    "visit_id",
    "site_id",
    "team_id",
    "officers",
    "started_at",
    "ended_at",
    "outcome",
    "reason",
    "notes",
    "lon",
    "lat",
    "source",
    "simulated",
)


@dataclass(frozen=True)
class Visit:
    """One visit as an officer reports it. Times must be timezone-aware."""

    site_id: str
    team_id: str
    started_at: datetime
    ended_at: datetime
    outcome: str
    officers: tuple[str, ...] = ()
    reason: str | None = None
    notes: str = ""
    lon: float | None = None
    lat: float | None = None
    source: str = "planned"
    plan_id: int | None = None
    simulated: bool = False

    def problems(self) -> list[str]:
        """Everything wrong with this visit, one message per field (empty when valid)."""
        found = []
        if not str(self.site_id).strip():
            found.append("site_id: empty")
        if not str(self.team_id).strip():
            found.append("team_id: empty")
        if self.outcome not in OUTCOMES:
            found.append(f"outcome: {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.outcome == "not_inspected" and not (self.reason or "").strip():
            found.append("reason: required when the site could not be inspected")
        if self.source not in SOURCES:
            found.append(f"source: {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.started_at.tzinfo is None or self.ended_at.tzinfo is None:
            found.append("started_at/ended_at: must carry a time zone")
        elif self.ended_at < self.started_at:
            found.append("ended_at: before started_at")
        if (self.lon is None) != (self.lat is None):
            found.append("lon/lat: give both or neither")
        elif self.lon is not None:
            lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
            if not (lon_min <= self.lon <= lon_max and lat_min <= self.lat <= lat_max):
                found.append(f"lon/lat: ({self.lon}, {self.lat}) is outside Xinjiang")
        if any(";" in officer for officer in self.officers):
            found.append("officers: a name may not contain ';'")
        return found


def record_visit(
    conn: Connection,
    visit: Visit,
    actor: str | None = None,
    supersedes: int | None = None,
) -> int:
    """Store a visit (or a correction of visit ``supersedes``) and its audit entry; return its id.

    Idempotent: the same visit recorded again by the same account (a second tap on Save, a retry
    after a dropped connection) returns the id stored the first time and stores nothing. A new visit
    serves its site's open tasks and may close a case (:func:`records.cases.after_visit`). Two real
    visits can never agree on site, team, start, end, outcome, notes and officers.
    """
    problems = visit.problems()
    if problems:
        raise RecordsError("visit: " + "; ".join(problems))
    actor = actor or audit.default_actor()
    # What identifies a stored visit: all it records but the time it was recorded.
    stored = {
        "site_id": visit.site_id,
        "team_id": visit.team_id,
        "officers": ";".join(o.strip() for o in visit.officers if o.strip()),
        "started_at": utc_text(visit.started_at),
        "ended_at": utc_text(visit.ended_at),
        "outcome": visit.outcome,
        "reason": visit.reason,
        "notes": visit.notes,
        "lon": visit.lon,
        "lat": visit.lat,
        "source": visit.source,
        "plan_id": visit.plan_id,
        "supersedes": supersedes,
        "simulated": int(visit.simulated),
        "recorded_by": actor,
    }
    with transaction(conn):
        # IS, not =: it also matches the NULLs of reason, lon/lat, plan_id and supersedes.
        same = conn.execute(
            f"SELECT visit_id FROM visits WHERE {' AND '.join(f'{column} IS NOT DISTINCT FROM ?' for column in stored)}",
            tuple(stored.values()),
        ).fetchone()
        if same is not None:
            return int(same["visit_id"])
        if supersedes is not None:
            old = conn.execute(
                "SELECT v.visit_id, n.visit_id AS newer FROM visits v "
                "LEFT JOIN visits n ON n.supersedes = v.visit_id WHERE v.visit_id = ?",
                (supersedes,),
            ).fetchone()
            if old is None:
                raise RecordsError(f"visit {supersedes} does not exist")
            if old["newer"] is not None:
                raise RecordsError(f"visit {supersedes} was already corrected by visit {old['newer']}")
        row = {**stored, "recorded_at": now_text()}
        cursor = conn.execute(
            f"INSERT INTO visits ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) RETURNING visit_id",
            tuple(row.values()),
        )
        visit_id = inserted_id(cursor)
        details = {"site_id": visit.site_id, "team_id": visit.team_id, "outcome": visit.outcome}
        if supersedes is not None:
            details["supersedes"] = supersedes
        action = "visit.record" if supersedes is None else "visit.correct"
        audit.append(conn, action, f"visit:{visit_id}", details, actor)
        # Same transaction: the tasks a visit serves (and a case it verifies) close with it.
        cases.after_visit(conn, visit_id, actor)
    return visit_id


def visits_frame(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    include_inferred: bool = False,
) -> pd.DataFrame:
    """Current visits that started in ``[since, until)`` with :data:`VISIT_COLUMNS`, oldest first.

    Times are tz-aware UTC; ``simulated`` is bool. Inferred visits are added only on request, with
    ``visit_id = -inferred_id`` (negative, so ids never collide with recorded visits).
    """
    where, params = time_range_sql("started_at", since, until)
    sql = f"""
        SELECT visit_id, site_id, team_id, officers, started_at, ended_at, outcome, reason, notes,
               lon, lat, source, simulated
        FROM visits v
        WHERE {where} AND NOT EXISTS (SELECT 1 FROM visits n WHERE n.supersedes = v.visit_id)
    """
    if include_inferred:
        sql += f"""
        UNION ALL
        SELECT -inferred_id, site_id, team_id, '', started_at, ended_at, 'not_inspected',
               'inferred from track ' || track_id || ': ' || round(dwell_minutes) || ' min within '
                   || round(radius_m) || ' m',
               '', lon, lat, 'inferred', simulated
        FROM inferred_visits WHERE {where}
        """
        params = params + params
    frame = read_frame(sql + " ORDER BY started_at, visit_id", conn, params=params)
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["simulated"] = frame["simulated"].astype(bool)
    for column in ("lon", "lat"):
        frame[column] = frame[column].astype(float)
    return frame[list(VISIT_COLUMNS)]


def recorded_for_replan(conn: Connection) -> list:
    """The current recorded visits as ``planning.replan.Recorded`` (site, outcome, start), the plain
    table the re-planner takes (inferred visits are not inspections and are left out)."""
    from planning.replan import Recorded

    frame = visits_frame(conn)
    return [
        Recorded(str(row.site_id), str(row.outcome), row.started_at.to_pydatetime())
        for row in frame.itertuples()
    ]
