"""The audit log: who did what to which record, when. Append-only.

There is deliberately no update or delete function, and triggers in the database refuse both (see
:mod:`records.db`). Writers call :func:`append` inside the same transaction as the change they
describe, so an entry exists exactly when the change does. Each entry is hash-chained to the one
before it and seals the records written with it (:mod:`records.chain`); ``python -m records verify``
checks both (:mod:`records.integrity`).
"""

from __future__ import annotations

import getpass
import json
import os

import pandas as pd

from records import chain
from records.backend import Connection, read_frame
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
    conn: Connection,
    action: str,
    obj: str,
    details: dict | None = None,
    actor: str | None = None,
) -> int:
    """Add one entry (``action`` e.g. ``plan.approve``, ``obj`` e.g. ``plan:12``); return its id."""
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)
    # Inside the write transaction: the previous entry read for the chain is still the last one.
    with transaction(conn):
        return chain.append_entry(conn, now_text(), actor or default_actor(), action, obj, text)


def entries(conn: Connection, obj: str | None = None, action: str | None = None) -> pd.DataFrame:
    """Audit entries, oldest first, optionally for one object and/or one action; ``details`` parsed."""
    clauses, params = [], []
    if obj is not None:
        clauses.append("object = ?")
        params.append(obj)
    if action is not None:
        clauses.append("action = ?")
        params.append(action)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    frame = read_frame(
        f"SELECT audit_id, at, actor, action, object, details FROM audit_log {where} ORDER BY audit_id",
        conn,
        params=params,
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["details"] = frame["details"].map(json.loads)
    return frame
