"""Cases: what a visit that found a violation sets in motion, until a follow-up visit verifies it.

A visit with outcome ``violation`` and a finding category opens a case (:func:`open_case`), numbered
per year of the finding (``2026-0001``), with a rectification deadline (by default
:data:`DEFAULT_RECTIFY_DAYS` after the finding, by category; the chief may set another) and the
responsible chief. Opening a case sets a follow-up task (:mod:`records.tasks`) due at the end of the
deadline day, which the planner turns into a mandatory stop.

States, and the only moves allowed (in code here, and by a trigger in the database)::

    open ──> rectifying ──> closed      (verified: a compliant visit at the site after the finding)
      │          │
      └──────────┴──────> escalated     (penalty decided, or transferred to the police)

``rectifying`` records that the unit was ordered to rectify and is working on it. A compliant
follow-up visit (one that serves the case's follow-up task) closes the case by itself, naming the
visit; a case still ``open`` then passes through ``rectifying`` on the way, both steps recorded. A
follow-up that finds the violation again closes the task but not the case: the chief sets a new
deadline (a new follow-up task) or escalates. ``closed`` and ``escalated`` are final.

Every change is a row of ``case_events`` (the case's history, append-only) and an audit entry, in
the same transaction as the change.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from records import audit, evidence, tasks
from records.backend import Connection, Row, inserted_id, read_frame
from records.db import LOCAL_TZ, RecordsError, now_text, transaction

#: Default days from the finding to the rectification deadline, by category (why: stopping a
#: discharge, fixing tampered monitoring or a dust/odour/noise source is quick and urgent, 15 days;
#: putting a hazardous-waste ledger and store in order takes a month; a permit procedure or
#: ecological restoration takes two). Chiefs set another deadline where the case needs it.
DEFAULT_RECTIFY_DAYS: dict[str, int] = {
    "illegal_discharge": 15,
    "monitoring_data_fraud": 15,
    "hazardous_waste": 30,
    "permit": 60,
    "dust_odour_noise": 15,
    "ecological_damage": 60,
    "other": 30,
}
CATEGORIES = tuple(DEFAULT_RECTIFY_DAYS)
STATES = ("open", "rectifying", "closed", "escalated")
#: The allowed moves; the trigger ``cases_state_transition`` (migration 8) holds the same list.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("rectifying", "escalated"),
    "rectifying": ("closed", "escalated"),
    "closed": (),
    "escalated": (),
}
CASE_COLUMNS = (
    "case_id",
    "case_no",
    "site_id",
    "category",
    "state",
    "found_at",
    "rectify_by",
    "chief",
    "visit_id",
    "verified_visit_id",
    "description",
    "simulated",
)


def parse_day(text: str, field: str) -> date:
    """Parse ``YYYY-MM-DD``; raises RecordsError naming ``field``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RecordsError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def _local_date(stored: str) -> date:
    return datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(LOCAL_TZ).date()


def find_case(conn: Connection, ref: str | int) -> Row:
    """A case by its number (``2026-0001``) or id; raises RecordsError naming the reference."""
    text = str(ref).strip()
    row = conn.execute(
        "SELECT * FROM cases WHERE case_no = ? OR case_id = ?",
        (text, int(text) if text.isdigit() else -1),
    ).fetchone()
    if row is None:
        raise RecordsError(f"case: {text!r} does not exist (give a case number like 2026-0001 or an id)")
    return row


def _event(
    conn: Connection,
    case_id: int,
    actor: str,
    kind: str,
    note: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
    rectify_by: str | None = None,
    visit_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO case_events (case_id, at, actor, kind, from_state, to_state, rectify_by, visit_id, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (case_id, now_text(), actor, kind, from_state, to_state, rectify_by, visit_id, note),
    )


def _follow_up(conn: Connection, case: Row, rectify_by: date, actor: str) -> int:
    due = tasks.end_of_day(rectify_by)
    return tasks.add_task(
        conn,
        tasks.NewTask(
            kind="follow_up",
            site_id=case["site_id"],
            since=datetime.fromisoformat(case["found_at"].replace("Z", "+00:00")),
            due=due,
            reason=f"follow-up of case {case['case_no']}, due {tasks.due_label(due)}",
            case_id=case["case_id"],
            simulated=bool(case["simulated"]),
        ),
        actor,
    )


def open_case(
    conn: Connection,
    visit_id: int,
    category: str,
    *,
    description: str = "",
    rectify_by: date | None = None,
    chief: str | None = None,
    evidence_files: tuple[str, ...] = (),
    actor: str | None = None,
) -> Row:
    """Open the case of violation visit ``visit_id``, with its follow-up task and evidence; return it.

    Idempotent: the case of a visit that already has one is returned unchanged (evidence files are
    still added, each once). Raises RecordsError naming the field that is wrong.
    """
    actor = actor or audit.default_actor()
    if category not in CATEGORIES:
        raise RecordsError(f"finding: {category!r} is not one of {', '.join(CATEGORIES)}")
    with transaction(conn):
        visit = conn.execute("SELECT * FROM visits WHERE visit_id = ?", (visit_id,)).fetchone()
        if visit is None:
            raise RecordsError(f"visit: {visit_id} does not exist")
        if visit["outcome"] != "violation":
            raise RecordsError(
                f"finding: visit {visit_id} has outcome {visit['outcome']}; only a violation opens a case"
            )
        case = conn.execute("SELECT * FROM cases WHERE visit_id = ?", (visit_id,)).fetchone()
        if case is None:
            found = _local_date(visit["ended_at"])
            deadline = rectify_by or found + timedelta(days=DEFAULT_RECTIFY_DAYS[category])
            if deadline <= found:
                raise RecordsError(f"rectify-by: {deadline} is not after the finding on {found}")
            year = found.year
            count = conn.execute(
                "SELECT count(*) FROM cases WHERE case_no LIKE ?", (f"{year}-%",)
            ).fetchone()[0]
            case_no = f"{year}-{count + 1:04d}"
            now = now_text()
            cursor = conn.execute(
                "INSERT INTO cases (case_no, visit_id, site_id, category, description, found_at, rectify_by, "
                "chief, simulated, opened_at, opened_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING case_id",
                (
                    case_no,
                    visit_id,
                    visit["site_id"],
                    category,
                    description,
                    visit["ended_at"],
                    deadline.isoformat(),
                    (chief or actor).strip(),
                    visit["simulated"],
                    now,
                    actor,
                    now,
                ),
            )
            case = conn.execute("SELECT * FROM cases WHERE case_id = ?", (inserted_id(cursor),)).fetchone()
            _event(
                conn,
                case["case_id"],
                actor,
                "opened",
                description,
                to_state="open",
                visit_id=visit_id,
                rectify_by=deadline.isoformat(),
            )
            task_id = _follow_up(conn, case, deadline, actor)
            audit.append(
                conn,
                "case.open",
                f"case:{case['case_id']}",
                {
                    "case_no": case_no,
                    "site_id": visit["site_id"],
                    "category": category,
                    "visit_id": visit_id,
                    "rectify_by": deadline.isoformat(),
                    "chief": case["chief"],
                    "follow_up_task": task_id,
                },
                actor,
            )
        for path in evidence_files:
            evidence.add_evidence(conn, case["case_id"], path, actor)
    return case


def _verifying_visit(conn: Connection, case: Row, visit_id: int | None) -> int:
    """The compliant visit at the case's site after the finding that verifies it (the given one, or
    the latest); raises RecordsError saying what is missing."""
    sql = (
        "SELECT v.visit_id FROM visits v WHERE v.site_id = ? AND v.outcome = 'compliant' AND v.started_at > ? "
        "AND NOT EXISTS (SELECT 1 FROM visits n WHERE n.supersedes = v.visit_id)"
    )
    params: list = [case["site_id"], case["found_at"]]
    if visit_id is not None:
        sql, params = sql + " AND v.visit_id = ?", [*params, visit_id]
    row = conn.execute(sql + " ORDER BY v.started_at DESC LIMIT 1", params).fetchone()
    if row is None:
        which = f"visit {visit_id} is not a" if visit_id is not None else "there is no"
        raise RecordsError(
            f"state: case {case['case_no']} cannot be closed: {which} compliant follow-up visit at "
            f"{case['site_id']} after the finding on {_local_date(case['found_at'])}; record the follow-up "
            "visit first"
        )
    return int(row["visit_id"])


def change_state(
    conn: Connection,
    ref: str | int,
    state: str,
    *,
    note: str = "",
    visit_id: int | None = None,
    actor: str | None = None,
) -> Row:
    """Move a case to ``state`` (see the module docstring for the allowed moves); return it.

    Closing needs a compliant visit at the site after the finding (``visit_id``, or the latest such
    visit). Escalating cancels the open follow-up task. Raises RecordsError for any other move.
    """
    actor = actor or audit.default_actor()
    if state not in STATES:
        raise RecordsError(f"state: {state!r} is not one of {', '.join(STATES)}")
    with transaction(conn):
        case = find_case(conn, ref)
        if state not in TRANSITIONS[case["state"]]:
            allowed = ", ".join(TRANSITIONS[case["state"]]) or "none: the case is final"
            raise RecordsError(
                f"state: case {case['case_no']} is {case['state']} and cannot move to {state} (allowed: {allowed})"
            )
        verified = _verifying_visit(conn, case, visit_id) if state == "closed" else None
        _move(conn, case, state, note, verified, actor)
        if state == "escalated":
            open_ids = _open_follow_ups(conn, case["case_id"])
            tasks.cancel_tasks(conn, open_ids, f"case {case['case_no']} escalated", actor)
        return find_case(conn, case["case_id"])


def _open_follow_ups(conn: Connection, case_id: int) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute("SELECT task_id FROM tasks WHERE case_id = ? AND state = 'open'", (case_id,))
    ]


def _move(conn: Connection, case: Row, state: str, note: str, visit_id: int | None, actor: str) -> None:
    """One allowed state change with its history row and audit entry (inside a transaction)."""
    conn.execute(
        "UPDATE cases SET state = ?, verified_visit_id = coalesce(?, verified_visit_id), updated_at = ? "
        "WHERE case_id = ?",
        (state, visit_id, now_text(), case["case_id"]),
    )
    _event(conn, case["case_id"], actor, "state", note, case["state"], state, visit_id=visit_id)
    details = {"case_no": case["case_no"], "from": case["state"], "to": state, "note": note}
    if visit_id is not None:
        details["visit_id"] = visit_id
    audit.append(conn, "case.state", f"case:{case['case_id']}", details, actor)


def set_deadline(
    conn: Connection, ref: str | int, rectify_by: date, *, note: str = "", actor: str | None = None
) -> Row:
    """Set a new rectification deadline: the open follow-up task is replaced by one due then."""
    actor = actor or audit.default_actor()
    with transaction(conn):
        case = find_case(conn, ref)
        if case["state"] not in ("open", "rectifying"):
            raise RecordsError(
                f"rectify-by: case {case['case_no']} is {case['state']}; its deadline is final"
            )
        found = _local_date(case["found_at"])
        if rectify_by <= found:
            raise RecordsError(f"rectify-by: {rectify_by} is not after the finding on {found}")
        tasks.cancel_tasks(
            conn, _open_follow_ups(conn, case["case_id"]), f"deadline moved to {rectify_by}", actor
        )
        conn.execute(
            "UPDATE cases SET rectify_by = ?, updated_at = ? WHERE case_id = ?",
            (rectify_by.isoformat(), now_text(), case["case_id"]),
        )
        _event(conn, case["case_id"], actor, "deadline", note, rectify_by=rectify_by.isoformat())
        case = find_case(conn, case["case_id"])
        task_id = _follow_up(conn, case, rectify_by, actor)
        audit.append(
            conn,
            "case.deadline",
            f"case:{case['case_id']}",
            {
                "case_no": case["case_no"],
                "rectify_by": rectify_by.isoformat(),
                "note": note,
                "follow_up_task": task_id,
            },
            actor,
        )
    return case


def add_note(conn: Connection, ref: str | int, note: str, actor: str | None = None) -> None:
    """Add a note to a case's history."""
    actor = actor or audit.default_actor()
    if not note.strip():
        raise RecordsError("note: empty")
    with transaction(conn):
        case = find_case(conn, ref)
        _event(conn, case["case_id"], actor, "note", note.strip())
        audit.append(
            conn, "case.note", f"case:{case['case_id']}", {"case_no": case["case_no"], "note": note}, actor
        )


def after_visit(conn: Connection, visit_id: int, actor: str) -> list[Row]:
    """What a newly recorded visit advances: its site's open tasks are served, and a compliant
    follow-up closes its case (verified). Runs inside the visit's transaction; returns the tasks."""
    served = tasks.serve_tasks(conn, visit_id, actor)
    outcome = conn.execute("SELECT outcome FROM visits WHERE visit_id = ?", (visit_id,)).fetchone()[0]
    if outcome != "compliant":
        return served
    for case_id in dict.fromkeys(t["case_id"] for t in served if t["case_id"] is not None):
        case = find_case(conn, case_id)
        if case["state"] == "open":
            _move(
                conn, case, "rectifying", f"rectified by the time of follow-up visit {visit_id}", None, actor
            )
            case = find_case(conn, case_id)
        if case["state"] == "rectifying":
            _move(conn, case, "closed", f"verified by compliant follow-up visit {visit_id}", visit_id, actor)
    return served


def cases_frame(conn: Connection, state: str | None = None, site_id: str | None = None) -> pd.DataFrame:
    """Cases with :data:`CASE_COLUMNS`, newest first (``found_at`` tz-aware UTC)."""
    clauses, params = [], []
    for column, value in (("state", state), ("site_id", site_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = read_frame(
        f"SELECT {', '.join(CASE_COLUMNS)} FROM cases {where} ORDER BY found_at DESC, case_id DESC",
        conn,
        params=params,
    )
    frame["found_at"] = pd.to_datetime(frame["found_at"], utc=True)
    frame["simulated"] = frame["simulated"].astype(bool)
    return frame


def case_detail(conn: Connection, ref: str | int) -> dict:
    """Everything about one case: ``case`` (a dict), ``events``, ``evidence`` and ``tasks`` (frames)."""
    case = find_case(conn, ref)
    case_id = case["case_id"]
    events = read_frame(
        "SELECT event_id, at, actor, kind, from_state, to_state, rectify_by, visit_id, note FROM case_events "
        "WHERE case_id = ? ORDER BY event_id",
        conn,
        params=(case_id,),
    )
    files = read_frame(
        "SELECT evidence_id, file_name, sha256, size_bytes, taken_at, lon, lat, flags, added_at, added_by "
        "FROM evidence WHERE case_id = ? ORDER BY evidence_id",
        conn,
        params=(case_id,),
    )
    follow_ups = read_frame(
        "SELECT task_id, kind, due_at, state, visit_id, closed_note FROM tasks WHERE case_id = ? ORDER BY task_id",
        conn,
        params=(case_id,),
    )
    return {"case": dict(case), "events": events, "evidence": files, "tasks": follow_ups}
