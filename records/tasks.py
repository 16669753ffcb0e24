"""Open work a site owes: follow-ups of cases and checks of complaints, each with a deadline.

A task is set by a case (:mod:`records.cases`: a follow-up due at the rectification deadline) or a
complaint (:mod:`records.complaints`: a check due at the response deadline; a night-time complaint
sets a *night check*, 错时核查). It is ``open`` until a visit serves it (``done``) or the case or
complaint moves its deadline (``cancelled``, replaced by a new task); a task changes once, and the
database refuses anything else (migration 8).

A visit serves the open tasks of its site when it inspected the site (outcome ``compliant`` or
``violation``; ``not_inspected`` serves nothing) and started after the task was set (``since``: the
finding or the complaint's receipt); a night check is served only by a visit that started at night,
local time :data:`NIGHT_STARTS` to :data:`NIGHT_ENDS`. Any team may serve a task.
:func:`serve_tasks` does this inside :func:`records.visits.record_visit`'s transaction.

:func:`planner_tasks` hands the open tasks to the planner as plain mappings (the ``tasks`` section of
a scenario, :mod:`planning.scenario`): records never imports the planner for this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd

from records import audit
from records.backend import Connection, Row, inserted_id, read_frame
from records.db import LOCAL_TZ, RecordsError, now_text, transaction, utc_text

KINDS = ("follow_up", "complaint_check", "night_check")
STATES = ("open", "done", "cancelled")
#: A night check is served by a visit starting between these local times (across midnight).
NIGHT_STARTS = time(20, 0)
NIGHT_ENDS = time(6, 0)
END_OF_DAY = time(23, 59, 59)
TASK_COLUMNS = (
    "task_id",
    "kind",
    "site_id",
    "since",
    "due_at",
    "reason",
    "case_id",
    "complaint_id",
    "state",
    "visit_id",
    "closed_at",
    "closed_note",
    "simulated",
)


@dataclass(frozen=True)
class NewTask:
    """A task to set: what, where, from when and by when (aware datetimes), and why."""

    kind: str
    site_id: str
    since: datetime
    due: datetime
    reason: str
    case_id: int | None = None
    complaint_id: int | None = None
    simulated: bool = False


def is_night(moment: datetime) -> bool:
    """Whether ``moment`` (any offset) is at night in local time (a night check may start then)."""
    clock = moment.astimezone(LOCAL_TZ).time()
    return clock >= NIGHT_STARTS or clock < NIGHT_ENDS


def add_task(conn: Connection, task: NewTask, actor: str) -> int:
    """Store an open task and its audit entry (inside the caller's transaction); return its id."""
    if task.kind not in KINDS:
        raise RecordsError(f"kind: {task.kind!r} is not one of {', '.join(KINDS)}")
    if task.since.tzinfo is None or task.due.tzinfo is None:
        raise RecordsError("since/due: must carry a time zone")
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO tasks (kind, site_id, since, due_at, reason, case_id, complaint_id, simulated, "
            "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING task_id",
            (
                task.kind,
                task.site_id,
                utc_text(task.since),
                utc_text(task.due),
                task.reason,
                task.case_id,
                task.complaint_id,
                int(task.simulated),
                now_text(),
                actor,
            ),
        )
        task_id = inserted_id(cursor)
        audit.append(
            conn,
            "task.open",
            f"task:{task_id}",
            {"kind": task.kind, "site_id": task.site_id, "due_at": utc_text(task.due), "reason": task.reason},
            actor,
        )
    return task_id


def cancel_tasks(conn: Connection, task_ids: list[int], note: str, actor: str) -> None:
    """Cancel open tasks (a deadline moved, a case escalated), each audited."""
    with transaction(conn):
        for task_id in task_ids:
            conn.execute(
                "UPDATE tasks SET state = 'cancelled', closed_at = ?, closed_note = ? WHERE task_id = ?",
                (now_text(), note, task_id),
            )
            audit.append(conn, "task.cancel", f"task:{task_id}", {"note": note}, actor)


def serve_tasks(conn: Connection, visit_id: int, actor: str) -> list[Row]:
    """Mark done the open tasks that visit ``visit_id`` serves (see the module docstring); return them.

    Runs inside the visit's transaction, so a visit and the tasks it closes are stored together.
    """
    visit = conn.execute(
        "SELECT visit_id, site_id, started_at, outcome FROM visits WHERE visit_id = ?", (visit_id,)
    ).fetchone()
    if visit is None or visit["outcome"] == "not_inspected":
        return []
    started = datetime.fromisoformat(visit["started_at"].replace("Z", "+00:00"))
    served = [
        row
        for row in conn.execute(
            "SELECT * FROM tasks WHERE state = 'open' AND site_id = ? AND since <= ? ORDER BY task_id",
            (visit["site_id"], visit["started_at"]),
        ).fetchall()
        if row["kind"] != "night_check" or is_night(started)
    ]
    with transaction(conn):
        mark_done(conn, [row["task_id"] for row in served], visit, "", actor)
    return served


def mark_done(conn: Connection, task_ids: list[int], visit: Row, note: str, actor: str) -> None:
    """Mark tasks done by ``visit`` (a visits row), each audited; the closing note names the visit
    and its outcome, then ``note``. Runs in the caller's transaction."""
    closed_note = f"visit {visit['visit_id']} ({visit['outcome']}){note}"
    for task_id in task_ids:
        conn.execute(
            "UPDATE tasks SET state = 'done', visit_id = ?, closed_at = ?, closed_note = ? WHERE task_id = ?",
            (visit["visit_id"], now_text(), closed_note, task_id),
        )
        audit.append(
            conn,
            "task.done",
            f"task:{task_id}",
            {"visit_id": visit["visit_id"], "outcome": visit["outcome"], "site_id": visit["site_id"]},
            actor,
        )


def tasks_frame(
    conn: Connection,
    state: str | None = "open",
    due_before: datetime | None = None,
    site_id: str | None = None,
) -> pd.DataFrame:
    """Tasks with :data:`TASK_COLUMNS` (``state=None``: all), due first; times tz-aware UTC."""
    clauses, params = [], []
    if state is not None:
        clauses.append("state = ?")
        params.append(state)
    if due_before is not None:
        clauses.append("due_at < ?")
        params.append(utc_text(due_before))
    if site_id is not None:
        clauses.append("site_id = ?")
        params.append(site_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = read_frame(
        f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks {where} ORDER BY due_at, task_id", conn, params=params
    )
    for column in ("since", "due_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["simulated"] = frame["simulated"].astype(bool)
    return frame


def planner_tasks(conn: Connection, last_day: date) -> list[dict]:
    """The open tasks due by the end of ``last_day`` (local), overdue ones included, as the plain
    mappings a scenario's ``tasks`` section takes: ``{id, site, kind, due, reason}``."""
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)
    frame = tasks_frame(conn, "open", due_before=end)
    return [
        {
            "id": int(row.task_id),
            "site": str(row.site_id),
            "kind": str(row.kind),
            "due": row.due_at.tz_convert(LOCAL_TZ).isoformat(),
            "reason": str(row.reason),
        }
        for row in frame.itertuples()
    ]


def end_of_day(day: date) -> datetime:
    """The last second of a local day: a deadline given as a date is met by the end of that day."""
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TZ)


def due_label(moment: datetime) -> str:
    """A deadline as a reason shows it: local ``MM-DD`` for the end of a day, else ``MM-DD HH:MM``."""
    local = moment.astimezone(LOCAL_TZ)
    return local.strftime("%m-%d") if local.time() == END_OF_DAY else local.strftime("%m-%d %H:%M")
