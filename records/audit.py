"""The audit log: who did what to which record, when. Append-only.

There is deliberately no update or delete function, and triggers in the database refuse both (see
:mod:`records.db`). Writers call :func:`append` inside the same transaction as the change they
describe, so an entry exists exactly when the change does.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3

import pandas as pd

from records.db import now_text, transaction


def default_actor() -> str:
    """The account to record: ``$XUNHU_ACTOR``, else the OS user, else ``system``.

    (Until the dashboard has accounts, the OS user is the best identity available.)
    """
    if os.environ.get("XUNHU_ACTOR"):
        return os.environ["XUNHU_ACTOR"]
    try:
        return getpass.getuser() or "system"
    except (KeyError, OSError):
        return "system"


def append(
    conn: sqlite3.Connection,
    action: str,
    obj: str,
    details: dict | None = None,
    actor: str | None = None,
) -> int:
    """Add one entry (``action`` e.g. ``plan.approve``, ``obj`` e.g. ``plan:12``); return its id."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO audit_log (at, actor, action, object, details) VALUES (?, ?, ?, ?, ?)",
            (
                now_text(),
                actor or default_actor(),
                action,
                obj,
                json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str),
            ),
        )
    return int(cursor.lastrowid)


def entries(conn: sqlite3.Connection, obj: str | None = None, action: str | None = None) -> pd.DataFrame:
    """Audit entries, oldest first, optionally for one object and/or one action; ``details`` parsed."""
    clauses, params = [], []
    if obj is not None:
        clauses.append("object = ?")
        params.append(obj)
    if action is not None:
        clauses.append("action = ?")
        params.append(action)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = pd.read_sql_query(
        f"SELECT audit_id, at, actor, action, object, details FROM audit_log {where} ORDER BY audit_id",
        conn,
        params=params,
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["details"] = frame["details"].map(json.loads)
    return frame
