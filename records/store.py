"""One object for everything the records hold: ``open_store(path)`` and its methods.

The :class:`Store` is a thin handle over a connection; each method delegates to the module that owns
the concern (plans, visits, tracks, infer, backup, audit), which can also be called directly with a
``sqlite3.Connection``. A Store belongs to one thread; open one per process or thread.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from records import audit, backup, infer, plans, tracks, visits
from records.backend import Connection, read_frame
from records.db import connect, db_target, schema_version


class Store:
    """The records database at ``path`` (created and migrated on open)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = db_target(path)
        self.conn: Connection = connect(self.path)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        return schema_version(self.conn)

    # Reads for coverage and the dashboard --------------------------------------------------
    def visits(
        self, since: datetime | None = None, until: datetime | None = None, include_inferred: bool = False
    ) -> pd.DataFrame:
        """Visits started in ``[since, until)`` (see :func:`records.visits.visits_frame`)."""
        return visits.visits_frame(self.conn, since, until, include_inferred)

    def track_points(self, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
        """GPS fixes in ``[since, until)`` (see :func:`records.tracks.track_points_frame`)."""
        return tracks.track_points_frame(self.conn, since, until)

    def tracks(self) -> pd.DataFrame:
        """One row per stored track (without its points)."""
        return read_frame(
            "SELECT track_id, team_id, device, transport, source_file, name, started_at, ended_at, "
            "n_points, n_dropped, simulated, imported_at, imported_by FROM tracks ORDER BY track_id",
            self.conn,
        )

    def audit_log(self, obj: str | None = None, action: str | None = None) -> pd.DataFrame:
        """Audit entries, oldest first."""
        return audit.entries(self.conn, obj, action)

    # Plans ------------------------------------------------------------------------------
    def save_plan(
        self, plan: dict, key: str | None = None, actor: str | None = None, simulated: bool = False
    ) -> plans.SavedPlan:
        """Save a plan as a new draft version (no-op for unchanged content)."""
        return plans.save_plan(self.conn, plan, key=key, actor=actor, simulated=simulated)

    def approve_plan(self, plan_id: int, actor: str | None = None) -> None:
        """Approve a draft plan."""
        plans.approve_plan(self.conn, plan_id, actor)

    def complete_plan(self, plan_id: int, actor: str | None = None) -> None:
        """Mark an approved plan done."""
        plans.complete_plan(self.conn, plan_id, actor)

    def plan(self, plan_id: int) -> dict:
        """A stored plan with its JSON under ``plan``."""
        return plans.get_plan(self.conn, plan_id)

    def plans(self) -> pd.DataFrame:
        """All plan versions, newest first."""
        return plans.list_plans(self.conn)

    def assignments(self, team_id: str, day: date | str, include_drafts: bool = False) -> pd.DataFrame:
        """A team's site stops for a local day from the current issued plans."""
        return plans.assignments(self.conn, team_id, day, include_drafts)

    # Visits and tracks ------------------------------------------------------------------
    def record_visit(self, visit: visits.Visit, actor: str | None = None) -> int:
        """Record a visit; return its id."""
        return visits.record_visit(self.conn, visit, actor)

    def correct_visit(self, visit_id: int, corrected: visits.Visit, actor: str | None = None) -> int:
        """Record ``corrected`` as the new version of visit ``visit_id``; return the new id."""
        return visits.record_visit(self.conn, corrected, actor, supersedes=visit_id)

    def import_gpx(self, path: str | Path, team_id: str, **options: object) -> tracks.FileResult:
        """Import one GPX file (see :func:`records.tracks.import_gpx` for the options)."""
        return tracks.import_gpx(self.conn, path, team_id=team_id, **options)

    def infer_visits(
        self,
        sites: gpd.GeoDataFrame,
        radius_m: float = infer.DEFAULT_RADIUS_M,
        min_dwell_minutes: float = infer.DEFAULT_MIN_DWELL_MINUTES,
    ) -> dict[int, int]:
        """Infer visits from every track; new inferred visits per track id."""
        return infer.infer_all(self.conn, sites, radius_m, min_dwell_minutes)

    # Audit and safety -------------------------------------------------------------------
    def log(self, action: str, obj: str, details: dict | None = None, actor: str | None = None) -> int:
        """Append an audit entry (e.g. a random draw: ``log("draw", "draw:2026Q4", {...})``)."""
        return audit.append(self.conn, action, obj, details, actor)

    def backup(self, out: str | Path, actor: str | None = None) -> Path:
        """Write a consistent backup to ``out``."""
        return backup.backup(self.conn, out, actor)


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating) the records database; default ``$XUNHU_DB`` or var/xunhu.sqlite."""
    return Store(path)
