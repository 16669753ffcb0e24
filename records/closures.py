"""Road closures a chief adds (a sandstorm, a flood, road works): stored, audited, never changed.

The planner ships its own layer of seasonal closures (``planning.closures.load_closures``); this
module keeps the ones a chief learns about at short notice. Each is an area (a circle around a
point, or a polygon drawn elsewhere) closed from ``first_day`` to ``last_day`` inclusive, in WGS84,
inside Xinjiang. Rows are immutable (triggers in :mod:`records.db`): a closure lifted early is a
new row that ``supersedes`` the old one and carries ``lifted_from`` (the first day the road is open
again), so the history of what the planner was told, and when, stays in the records. Every new row
is written together with its audit entry, in one transaction.

:func:`as_planning_closures` turns the stored rows into ``planning.closures.Closure`` objects for
``planning.patrol.plan_week(..., closures=...)`` and ``planning.check.check_plan``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from planning.closures import circle
from records import audit
from records.accounts import Handle, connection
from records.backend import Connection, PostgresConnection, Row, dialect, inserted_id
from records.db import RecordsError, now_text, transaction

#: Why a road is closed (the table's CHECK constraint lists the same values).
REASONS = ("sandstorm", "flood", "road_works", "other")
MIN_RADIUS_KM = 0.1
MAX_RADIUS_KM = 200.0
#: A chief's closure is for short notice; a longer one belongs in the shipped layer.
MAX_DAYS = 366
MAX_NAME_CHARS = 120
#: What the planner is told about where a chief's closure comes from.
SOURCE = "chief"
#: A chief adds what their teams or the road authority report first-hand (planning.closures.CONFIDENCES).
CONFIDENCE = "high"


class ClosureError(RecordsError):
    """A closure refused for bad input: ``str()`` is the English message, ``code`` (with
    ``values``) lets the dashboard say the same in the user's language."""

    def __init__(self, code: str, message: str, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class StoredClosure:
    """One row of ``road_closures``; ``geometry`` is a shapely (Multi)Polygon in WGS84."""

    closure_id: int
    name: str
    reason: str
    geometry: Polygon | MultiPolygon
    first_day: dt.date
    last_day: dt.date
    lifted_from: dt.date | None
    supersedes: int | None
    note: str
    created_at: str
    created_by: str

    @property
    def effective_last_day(self) -> dt.date | None:
        """The last day the road is closed (None when it was lifted before ``first_day``)."""
        last = self.last_day
        if self.lifted_from is not None:
            last = min(last, self.lifted_from - dt.timedelta(days=1))
        return last if last >= self.first_day else None

    def in_force(self, day: dt.date) -> bool:
        """Whether the road is closed on ``day``."""
        last = self.effective_last_day
        return last is not None and self.first_day <= day <= last

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        """Whether the closure is in force on any day from ``first`` to ``last``."""
        end = self.effective_last_day
        return end is not None and self.first_day <= last and first <= end

    @property
    def period(self) -> str:
        """The fixed-date period as ``planning.closures`` reads it: ``2026-12-07..2026-12-09``
        (empty when the closure was lifted before it began)."""
        last = self.effective_last_day
        return "" if last is None else f"{self.first_day.isoformat()}..{last.isoformat()}"


def _day(value: object, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ClosureError(
            "date_format", f"{field}: {value!r} is not a date (YYYY-MM-DD)", field=field, value=value
        ) from None


def _area_geometry(
    geometry: object, lon: float | None, lat: float | None, radius_km: float | None
) -> Polygon | MultiPolygon:
    """The closed area: a polygon given as shapely / GeoJSON (mapping or text), or a circle."""
    if geometry is not None:
        if lon is not None or lat is not None or radius_km is not None:
            raise ClosureError("place_both", "place: give either an area or a point with a radius, not both")
        try:
            if isinstance(geometry, str):
                geometry = json.loads(geometry)
            shaped = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ClosureError("not_area", f"area: not a GeoJSON polygon ({exc})") from None
        if not isinstance(shaped, Polygon | MultiPolygon):
            raise ClosureError(
                "not_area", f"area: expected a Polygon or MultiPolygon, got {shaped.geom_type}"
            )
        if shaped.is_empty or not shaped.is_valid:
            raise ClosureError("invalid_area", "area: the polygon is empty or crosses itself")
        return shaped
    if lon is None or lat is None or radius_km is None:
        raise ClosureError("place_missing", "place: give a point (longitude, latitude) and a radius in km")
    try:
        lon, lat, radius_km = float(lon), float(lat), float(radius_km)
    except (TypeError, ValueError):
        raise ClosureError("place_numbers", "place: longitude, latitude and radius must be numbers") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ClosureError("place_range", f"place: ({lon}, {lat}) is not a longitude / latitude")
    if not MIN_RADIUS_KM <= radius_km <= MAX_RADIUS_KM:
        raise ClosureError(
            "radius",
            f"radius: {radius_km:g} km must be between {MIN_RADIUS_KM:g} and {MAX_RADIUS_KM:g} km",
            low=MIN_RADIUS_KM,
            high=MAX_RADIUS_KM,
        )
    return circle(lon, lat, radius_km)


def _inside_xinjiang(area: BaseGeometry) -> bool:
    from layers.regions import inside_xinjiang

    return bool(inside_xinjiang(gpd.GeoSeries([area], crs="EPSG:4326"))[0])


def _row(row: Row) -> StoredClosure:
    return StoredClosure(
        closure_id=int(row["closure_id"]),
        name=str(row["name"]),
        reason=str(row["reason"]),
        geometry=shape(json.loads(row["geometry"])),
        first_day=dt.date.fromisoformat(row["first_day"]),
        last_day=dt.date.fromisoformat(row["last_day"]),
        lifted_from=dt.date.fromisoformat(row["lifted_from"]) if row["lifted_from"] else None,
        supersedes=int(row["supersedes"]) if row["supersedes"] is not None else None,
        note=str(row["note"]),
        created_at=str(row["created_at"]),
        created_by=str(row["created_by"]),
    )


def _cursor(handle: Handle) -> sqlite3.Cursor | PostgresConnection:
    """Something to ``execute`` on that gives rows by column name, whatever the connection's own row
    factory (a PostgreSQL connection always does)."""
    conn = connection(handle)
    if dialect(conn) == "postgresql":
        return conn
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor


def get_closure(handle: Handle, closure_id: int) -> StoredClosure:
    """One stored row by id (raises RecordsError when there is none)."""
    row = (
        _cursor(handle)
        .execute("SELECT * FROM road_closures WHERE closure_id = ?", (int(closure_id),))
        .fetchone()
    )
    if row is None:
        raise RecordsError(f"closure {closure_id}: no such road closure")
    return _row(row)


def add_closure(
    handle: Handle,
    *,
    name: str,
    reason: str,
    first_day: dt.date | str,
    last_day: dt.date | str,
    geometry: object = None,
    lon: float | None = None,
    lat: float | None = None,
    radius_km: float | None = None,
    note: str = "",
    actor: str,
) -> StoredClosure:
    """Store a new closure (an area, or a point with a radius) and its audit entry; return it.

    Raises RecordsError, with a message for the user, when a field is wrong: an empty name, an
    unknown reason, dates that are not dates or end before they start (or span more than
    :data:`MAX_DAYS`), a radius out of range, a geometry that is not a valid polygon, or an area
    outside Xinjiang.
    """
    name = str(name or "").strip()
    if not name:
        raise ClosureError("name_missing", "name: give the closure a name (e.g. the road and the place)")
    if len(name) > MAX_NAME_CHARS:
        raise ClosureError("name_long", f"name: at most {MAX_NAME_CHARS} characters", limit=MAX_NAME_CHARS)
    if reason not in REASONS:
        raise ClosureError("reason", f"reason: {reason!r} is not one of {', '.join(REASONS)}")
    first, last = _day(first_day, "first day"), _day(last_day, "last day")
    if last < first:
        raise ClosureError("dates_order", f"last day: {last} is before the first day {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise ClosureError("too_long", f"last day: a closure lasts at most {MAX_DAYS} days", limit=MAX_DAYS)
    if not str(actor or "").strip():
        raise RecordsError("a closure must name the account that adds it")
    area = _area_geometry(geometry, lon, lat, radius_km)
    if not _inside_xinjiang(area):
        raise ClosureError("outside_xinjiang", "place: the area is not inside Xinjiang")
    return _insert(
        connection(handle),
        name=name,
        reason=reason,
        area=area,
        first=first,
        last=last,
        lifted_from=None,
        supersedes=None,
        note=str(note or "").strip(),
        actor=str(actor).strip(),
        action="closure.add",
        extra={"radius_km": radius_km, "centre": [lon, lat]} if geometry is None else {},
    )


def lift_closure(
    handle: Handle, closure_id: int, *, reopen_on: dt.date | str, actor: str, note: str = ""
) -> StoredClosure:
    """Record that closure ``closure_id`` is lifted: the road is open again from ``reopen_on``.

    Writes a new row superseding the current one (the old row stays as it was), audited. Raises
    RecordsError for an unknown or already superseded closure.
    """
    conn = connection(handle)
    reopen = _day(reopen_on, "reopen day")
    if not str(actor or "").strip():
        raise RecordsError("lifting a closure must name the account")
    with transaction(conn):
        old = get_closure(conn, closure_id)
        newer = conn.execute(
            "SELECT closure_id FROM road_closures WHERE supersedes = ?", (old.closure_id,)
        ).fetchone()
        if newer is not None:
            raise RecordsError(f"closure {closure_id}: already replaced by closure {newer[0]}")
        return _insert(
            conn,
            name=old.name,
            reason=old.reason,
            area=old.geometry,
            first=old.first_day,
            last=old.last_day,
            lifted_from=reopen,
            supersedes=old.closure_id,
            note=str(note or "").strip(),
            actor=str(actor).strip(),
            action="closure.lift",
            extra={},
        )


def _insert(
    conn: Connection,
    *,
    name: str,
    reason: str,
    area: Polygon | MultiPolygon,
    first: dt.date,
    last: dt.date,
    lifted_from: dt.date | None,
    supersedes: int | None,
    note: str,
    actor: str,
    action: str,
    extra: dict,
) -> StoredClosure:
    geometry_text = json.dumps(mapping(area), separators=(",", ":"))
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO road_closures (name, reason, geometry, first_day, last_day, lifted_from, "
            "supersedes, note, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING closure_id",
            (
                name,
                reason,
                geometry_text,
                first.isoformat(),
                last.isoformat(),
                lifted_from.isoformat() if lifted_from else None,
                supersedes,
                note,
                now_text(),
                actor,
            ),
        )
        closure_id = inserted_id(cursor)
        details = {
            "name": name,
            "reason": reason,
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "bounds": [round(v, 5) for v in area.bounds],
            **({"lifted_from": lifted_from.isoformat()} if lifted_from else {}),
            **({"supersedes": supersedes} if supersedes is not None else {}),
            **({"note": note} if note else {}),
            **{k: v for k, v in extra.items() if v is not None and v != [None, None]},
        }
        audit.append(conn, action, f"closure:{closure_id}", details, actor)
        return get_closure(conn, closure_id)


def list_closures(
    handle: Handle, active_on: dt.date | str | None = None, *, include_history: bool = False
) -> list[StoredClosure]:
    """The current closures (rows nobody superseded), oldest first; with ``active_on``, only those
    in force that day. ``include_history`` gives every row, superseded ones too."""
    where = (
        ""
        if include_history
        else "WHERE closure_id NOT IN (SELECT supersedes FROM road_closures WHERE supersedes IS NOT NULL)"
    )
    rows = [
        _row(r) for r in _cursor(handle).execute(f"SELECT * FROM road_closures {where} ORDER BY closure_id")
    ]
    if active_on is not None:
        day = _day(active_on, "day")
        rows = [r for r in rows if r.in_force(day)]
    return rows


def closures_between(handle: Handle, first: dt.date, last: dt.date) -> list[StoredClosure]:
    """The current closures in force on at least one day from ``first`` to ``last`` (a plan's days)."""
    return [r for r in list_closures(handle) if r.overlaps(first, last)]


def as_planning_closures(rows: Iterable[StoredClosure]) -> tuple:
    """The rows as ``planning.closures.Closure`` objects (id ``chief-<closure_id>``, the fixed-date
    period, source ``chief``); rows lifted before they began are left out."""
    from planning.closures import Closure

    return tuple(
        Closure(
            id=f"chief-{row.closure_id}",
            name=row.name,
            reason=row.reason,
            geometry=row.geometry,
            period=row.period,
            source=SOURCE,
            confidence=CONFIDENCE,
        )
        for row in rows
        if row.effective_last_day is not None
    )
