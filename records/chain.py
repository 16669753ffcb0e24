"""The audit log's hash chain, and the seals that tie stored records to it.

Every audit entry carries ``prev_sha256`` (the previous entry's hash, :data:`GENESIS` for the first)
and ``entry_sha256`` = sha256 of the previous hash followed by the entry's canonical JSON (id, time,
actor, action, object, details, seal). Changing, removing or inserting an entry breaks a link that
:mod:`records.integrity` finds.

An entry also carries a *seal* of the records written with it: for every sealed table the highest key
stored at that moment (``marks``) and, for each table that gained rows since the previous entry, the
sha256 of those new rows. Writers store a record and its audit entry in one transaction, so each
entry seals exactly the rows its change added. A row edited by hand later (trigger dropped, UPDATE,
trigger recreated) no longer matches its seal, and a row inserted from outside the application lies
beyond every seal.

Why seals in the audit entries rather than a hash column on each row: no writer has to compute
anything (:func:`records.audit.append` does it), rows inserted outside the application are caught
too, and the seal is itself part of the chain, so forging one row means rewriting every later audit
entry. Not sealed, because they change by design: a plan's status, approver and times (checked
against its ``plan.approve``/``plan.done`` entries instead) and accounts (lockouts, logins and
password changes are audited as they happen).

This module imports nothing from the rest of the package but the engine seam
(:mod:`records.backend`): the schema migration that starts the chain (:mod:`records.db`) uses it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from records.backend import Connection, dialect, fetch_tuples, table_names

#: ``prev_sha256`` of the first entry.
GENESIS = "0" * 64


@dataclass(frozen=True)
class SealedTable:
    """A table whose rows are sealed: rows with ``key`` in (previous mark, mark] are new at an entry."""

    table: str
    key: str
    order: str
    #: Listed, not ``*``: a column added by a later migration must not change the hash of old rows.
    columns: str


SEALED_TABLES: tuple[SealedTable, ...] = (
    SealedTable(
        "plans",
        "plan_id",
        "plan_id",
        "plan_id, plan_key, version, scenario_name, first_day, last_day, plan_json, content_sha256, "
        "created_at, created_by, simulated",
    ),
    SealedTable(
        "assignments",
        "plan_id",
        "plan_id, team_id, seq",
        "plan_id, team_id, day, seq, site_id, name, lon, lat, arrive, depart, service_minutes",
    ),
    SealedTable(
        "visits",
        "visit_id",
        "visit_id",
        "visit_id, site_id, team_id, officers, started_at, ended_at, outcome, reason, notes, lon, lat, "
        "source, plan_id, supersedes, simulated, recorded_at, recorded_by",
    ),
    SealedTable(
        "tracks",
        "track_id",
        "track_id",
        "track_id, team_id, device, transport, content_sha256, source_file, name, started_at, ended_at, "
        "n_points, n_dropped, simulated, imported_at, imported_by",
    ),
    SealedTable("track_points", "track_id", "track_id, seq", "track_id, seq, time_s, lon, lat"),
    SealedTable(
        "inferred_visits",
        "inferred_id",
        "inferred_id",
        "inferred_id, track_id, site_id, team_id, started_at, ended_at, dwell_minutes, min_distance_m, "
        "lon, lat, radius_m, min_dwell_minutes, simulated, inferred_at",
    ),
    SealedTable(
        "road_closures",
        "closure_id",
        "closure_id",
        "closure_id, name, reason, geometry, first_day, last_day, lifted_from, supersedes, note, "
        "created_at, created_by",
    ),
    # Cases, complaints and tasks change state (their history is in case_events and the audit log);
    # what is never rewritten is sealed.
    SealedTable(
        "case_events",
        "event_id",
        "event_id",
        "event_id, case_id, at, actor, kind, from_state, to_state, rectify_by, visit_id, note",
    ),
    SealedTable(
        "evidence",
        "evidence_id",
        "evidence_id",
        "evidence_id, case_id, sha256, size_bytes, file_name, taken_at, lon, lat, flags, added_at, added_by",
    ),
)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(
    prev: str,
    audit_id: int,
    at: str,
    actor: str,
    action: str,
    obj: str,
    details: str,
    sealed: str | None,
) -> str:
    """The ``entry_sha256`` of an audit entry (``details`` and ``sealed`` as stored text)."""
    canonical = json.dumps(
        [audit_id, at, actor, action, obj, details, sealed], ensure_ascii=False, separators=(",", ":")
    )
    return _sha256(prev + canonical)


def rows_hash(conn: Connection, spec: SealedTable, after: int, upto: int) -> str:
    """sha256 of the rows of ``spec`` with ``after < key <= upto``, in key order."""
    rows = fetch_tuples(  # plain tuples: sealing a big track import is mostly this fetch
        conn,
        f"SELECT {spec.columns} FROM {spec.table} WHERE {spec.key} > ? AND {spec.key} <= ? "
        f"ORDER BY {spec.order}",
        (after, upto),
    )
    return _sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))


def current_marks(conn: Connection) -> dict[str, int]:
    """The highest key stored in each sealed table (0 when empty); tables a later migration creates
    are left out until they exist (migration 5 seals an older database)."""
    existing = table_names(conn)
    return {
        spec.table: int(conn.execute(f"SELECT coalesce(max({spec.key}), 0) FROM {spec.table}").fetchone()[0])
        for spec in SEALED_TABLES
        if spec.table in existing
    }


def parse_seal(text: str | None) -> dict:
    """A stored seal as ``{"marks": {table: key}, "sha256": {table: hash}}`` (empty when absent)."""
    seal = json.loads(text) if text else {}
    return {"marks": dict(seal.get("marks") or {}), "sha256": dict(seal.get("sha256") or {})}


def _seal(conn: Connection, previous_marks: dict[str, int]) -> str:
    """The seal text for a new entry: current marks and the hashes of rows added since the last one."""
    marks = current_marks(conn)
    hashes = {
        spec.table: rows_hash(conn, spec, previous_marks.get(spec.table, 0), marks[spec.table])
        for spec in SEALED_TABLES
        if marks.get(spec.table, 0) > previous_marks.get(spec.table, 0)
    }
    return json.dumps({"marks": marks, "sha256": hashes}, sort_keys=True, separators=(",", ":"))


def append_entry(conn: Connection, at: str, actor: str, action: str, obj: str, details: str) -> int:
    """Insert one chained, sealing audit entry; return its id. Call inside a write transaction.

    The id is chosen here (the next AUTOINCREMENT value) because the hash covers it and a stored
    entry can never be updated; the write transaction holds the single-writer lock
    (:func:`records.backend.begin_write`), so no other writer can take the same id or slip an entry in
    between.
    """
    last = conn.execute(
        "SELECT audit_id, entry_sha256, sealed FROM audit_log ORDER BY audit_id DESC LIMIT 1"
    ).fetchone()
    audit_id = max(highest_audit_id_given(conn), int(last[0]) if last else 0) + 1
    prev = (last[1] if last else None) or GENESIS
    sealed = _seal(conn, parse_seal(last[2] if last else None)["marks"])
    conn.execute(
        "INSERT INTO audit_log (audit_id, at, actor, action, object, details, sealed, prev_sha256, "
        "entry_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            audit_id,
            at,
            actor,
            action,
            obj,
            details,
            sealed,
            prev,
            entry_hash(prev, audit_id, at, actor, action, obj, details, sealed),
        ),
    )
    return audit_id


def highest_audit_id_given(conn: Connection) -> int:
    """The highest audit id ever handed out (SQLite remembers it in ``sqlite_sequence`` even when the
    entries at the end were deleted); on PostgreSQL ids are max + 1 under the writer lock, with no
    sequence to remember (a sequence would leave gaps at every rolled-back write), so the last stored
    entry is all there is: deleting the tail is stopped by privileges and triggers instead."""
    if dialect(conn) == "postgresql":
        return 0
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    return int(sequence[0]) if sequence else 0


def chain_existing_entries(conn: Connection) -> int:
    """Give every entry written before the chain existed its hashes, in id order; return how many.

    Used once, by the migration that adds the chain (which lifts the no-update trigger around it).
    """
    rows = conn.execute(
        "SELECT audit_id, at, actor, action, object, details FROM audit_log ORDER BY audit_id"
    ).fetchall()
    prev = GENESIS
    for row in rows:
        digest = entry_hash(prev, *tuple(row), None)
        conn.execute(
            "UPDATE audit_log SET prev_sha256 = ?, entry_sha256 = ? WHERE audit_id = ?",
            (prev, digest, row[0]),
        )
        prev = digest
    return len(rows)
