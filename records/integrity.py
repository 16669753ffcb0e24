"""Is the records database as the application left it? The checks behind ``python -m records verify``.

* **Audit chain** (:mod:`records.chain`): every entry matches its hash and links to the entry before
  it; the first broken link is named (a changed entry, or one removed or inserted before it).
* **Gaps**: audit ids run 1, 2, 3, ... up to the highest id ever given (``sqlite_sequence``), so a
  removed entry is named even at the end of the log, where no later link would break.
* **Triggers**: exactly the triggers the migrations create, with the same SQL. On SQLite the expected
  set is derived by running :data:`records.db.MIGRATIONS` on an empty in-memory database, never
  copied; on PostgreSQL the names come from :data:`records.schema_postgres.MIGRATIONS`, and each
  trigger must be enabled (``ALTER TABLE ... DISABLE TRIGGER`` is how one would be bypassed there)
  and each guard function's body unchanged.
* **Sealed records**: the rows each audit entry sealed still hash the same, and no row lies beyond the
  last seal (added outside the application).
* **Plan status**: a plan's status, approver and times agree with its ``plan.approve`` and
  ``plan.done`` entries (these columns change by design, so they are checked here, not sealed).

:func:`verify` returns a :class:`Report` whose ``problems`` are one readable line each; restoring a
backup (:mod:`records.backup`) runs the same checks on it first.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from records import schema_postgres
from records.backend import Connection, dialect
from records.chain import (
    GENESIS,
    SEALED_TABLES,
    SealedTable,
    current_marks,
    entry_hash,
    highest_audit_id_given,
    parse_seal,
    rows_hash,
)
from records.db import migrate


class Entry(NamedTuple):
    """One stored audit entry with its chain columns."""

    audit_id: int
    at: str
    actor: str
    action: str
    object: str
    details: str
    sealed: str | None
    prev_sha256: str | None
    entry_sha256: str | None

    def label(self) -> str:
        """How a problem names the entry: ``audit entry 12 (plan.approve plan:3)``."""
        return f"audit entry {self.audit_id} ({self.action} {self.object})"


@dataclass
class Report:
    """What :func:`verify` found: counts for the summary, and one line per problem."""

    entries: int
    triggers: int
    sealed_rows: int
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one-line result of a clean check."""
        return (
            f"audit log: {self.entries} entries, chain intact, no gaps; triggers: all {self.triggers} "
            f"present; records: {self.sealed_rows} rows in {len(SEALED_TABLES)} tables match their seals; "
            "plan approvals agree with the audit log"
        )


@lru_cache(maxsize=1)
def expected_postgres_triggers() -> tuple[frozenset[str], dict[str, str]]:
    """Trigger names, and guard function name -> body, as :mod:`records.schema_postgres` creates them."""
    script = "".join(
        step for _, _, steps in schema_postgres.MIGRATIONS for step in steps if isinstance(step, str)
    )
    names = frozenset(re.findall(r"CREATE TRIGGER (\w+)", script))
    bodies = dict(
        re.findall(
            r"CREATE FUNCTION (\w+)\(\) RETURNS trigger LANGUAGE plpgsql AS \$fn\$(.*?)\$fn\$", script, re.S
        )
    )
    return names, bodies


def postgres_trigger_problems(conn: Connection) -> list[str]:
    """Missing, disabled and unexpected triggers, and altered guard functions (PostgreSQL)."""
    names, bodies = expected_postgres_triggers()
    actual = {
        row[0]: row[1]
        for row in conn.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal")
    }
    problems = [f"trigger {name} is missing (dropped?)" for name in sorted(names - actual.keys())]
    problems += [
        f"trigger {name} is disabled" for name in sorted(names & actual.keys()) if actual[name] == "D"
    ]
    problems += [
        f"unexpected trigger {name} (not created by the migrations)" for name in sorted(actual.keys() - names)
    ]
    stored = dict(
        conn.execute(
            "SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(?)", (sorted(bodies),)
        ).fetchall()
    )
    problems += [
        f"trigger function {name} differs from the one the migrations create (altered?)"
        for name, body in sorted(bodies.items())
        if stored.get(name) != body
    ]
    return problems


@lru_cache(maxsize=1)
def expected_triggers() -> dict[str, str]:
    """Trigger name -> SQL, as the migrations create them on a new database."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(scratch)
        return dict(scratch.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    finally:
        scratch.close()


def trigger_problems(conn: Connection) -> list[str]:
    """Missing, altered and unexpected triggers."""
    if dialect(conn) == "postgresql":
        return postgres_trigger_problems(conn)
    expected = expected_triggers()
    actual = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    problems = [f"trigger {name} is missing (dropped?)" for name in expected if name not in actual]
    problems += [
        f"trigger {name} differs from the one the migrations create (altered?)"
        for name in expected
        if name in actual and actual[name] != expected[name]
    ]
    problems += [
        f"unexpected trigger {name} (not created by the migrations)"
        for name in actual
        if name not in expected
    ]
    return problems


def chain_problems(entries: list[Entry]) -> list[str]:
    """The first broken link of the audit chain (and how many more follow it)."""
    broken, prev_hash, prev_id = [], GENESIS, None
    for entry in entries:
        if entry.entry_sha256 is None:
            broken.append(f"{entry.label()} has no hash (written outside the application)")
        elif entry.entry_sha256 != entry_hash(entry.prev_sha256 or "", *entry[:7]):
            broken.append(
                f"{entry.label()}: its content (time, actor, action, object, details or seal) no longer "
                "matches its hash: changed after it was written"
            )
        if entry.prev_sha256 != prev_hash:
            before = f"entry {prev_id}" if prev_id is not None else "the start of the log"
            broken.append(
                f"{entry.label()}: its link to {before} is broken: an entry before it was changed, "
                "removed or inserted"
            )
        prev_hash, prev_id = entry.entry_sha256, entry.audit_id
    if len(broken) > 1:
        return [f"{broken[0]} (and {len(broken) - 1} more broken link(s) after it)"]
    return broken


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"


def gap_problems(conn: sqlite3.Connection, entries: list[Entry]) -> list[str]:
    """Audit ids missing between 1 and the highest id ever given."""
    problems, expected = [], 1
    for entry in entries:
        if entry.audit_id > expected:
            problems.append(f"audit log: entry {_span(expected, entry.audit_id - 1)} missing (deleted?)")
        expected = entry.audit_id + 1
    highest = highest_audit_id_given(conn)
    if highest >= expected:
        problems.append(
            f"audit log: entry {_span(expected, highest)} missing at the end of the log (deleted?)"
        )
    return problems


def _seal_problem(spec: SealedTable, before: int, mark: int, entry: Entry) -> str:
    rows = f"{spec.key} {mark}" if mark == before + 1 else f"rows with {spec.key} {before + 1}..{mark}"
    return (
        f"{spec.table}: {rows}, sealed by {entry.label()}, changed or removed after it was stored "
        "(hand-edited?)"
    )


def seal_problems(conn: sqlite3.Connection, entries: list[Entry]) -> list[str]:
    """Sealed rows that no longer hash the same, and rows added after the last seal.

    Mirrors :func:`records.chain.append_entry`: an entry seals the rows between the previous entry's
    marks and its own (an entry without a seal, from before the chain, leaves nothing sealed).
    """
    problems: list[str] = []
    previous: dict[str, int] = {}
    for entry in entries:
        try:
            seal = parse_seal(entry.sealed)
        except (ValueError, TypeError, AttributeError):
            problems.append(f"{entry.label()}: its seal is not readable")
            seal = parse_seal(None)
        for spec in SEALED_TABLES:
            before, mark = previous.get(spec.table, 0), int(seal["marks"].get(spec.table, 0))
            if mark > before and rows_hash(conn, spec, before, mark) != seal["sha256"].get(spec.table):
                problems.append(_seal_problem(spec, before, mark, entry))
        previous = {table: int(mark) for table, mark in seal["marks"].items()}
    stored_marks = current_marks(conn)
    for spec in SEALED_TABLES:
        last, stored = previous.get(spec.table, 0), stored_marks.get(spec.table, 0)
        if stored > last:
            problems.append(
                f"{spec.table}: rows with {spec.key} {_span(last + 1, stored)} are not sealed by any audit "
                "entry (added outside the application)"
            )
    return problems


def plan_status_problems(conn: sqlite3.Connection, entries: list[Entry]) -> list[str]:
    """Plans whose status, approver or times disagree with their plan.approve / plan.done entries."""
    events = {(e.object, e.action): e for e in entries if e.action in ("plan.approve", "plan.done")}
    problems = []
    for plan_id, status, approved_at, approved_by, done_at in conn.execute(
        "SELECT plan_id, status, approved_at, approved_by, done_at FROM plans ORDER BY plan_id"
    ):
        approve = events.get((f"plan:{plan_id}", "plan.approve"))
        done = events.get((f"plan:{plan_id}", "plan.done"))
        logged = "done" if done else "approved" if approve else "draft"
        if status != logged:
            problems.append(f"plan {plan_id} is {status} but the audit log has it {logged}")
        if approve is not None and approved_by != approve.actor:
            problems.append(
                f"plan {plan_id}: approved_by is {approved_by!r} but {approve.label()} records the approval "
                f"by {approve.actor!r}"
            )
        for column, value, event in (("approved_at", approved_at, approve), ("done_at", done_at, done)):
            logged_at = json.loads(event.details).get("at") if event is not None else None
            if logged_at is not None and value != logged_at:
                problems.append(
                    f"plan {plan_id}: {column} is {value!r} but {event.label()} records {logged_at!r}"
                )
    return problems


def verify(conn: sqlite3.Connection) -> Report:
    """Run every check on one consistent snapshot of the database behind ``conn``."""
    own_snapshot = not conn.in_transaction
    if own_snapshot:  # a read snapshot, no write lock
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if dialect(conn) == "postgresql" else "BEGIN")
    try:
        entries = [
            Entry(*row)
            for row in conn.execute(
                "SELECT audit_id, at, actor, action, object, details, sealed, prev_sha256, entry_sha256 "
                "FROM audit_log ORDER BY audit_id"
            )
        ]
        problems = (
            chain_problems(entries)
            + gap_problems(conn, entries)
            + trigger_problems(conn)
            + seal_problems(conn, entries)
            + plan_status_problems(conn, entries)
        )
        present = current_marks(conn)
        sealed_rows = sum(
            int(conn.execute(f"SELECT count(*) FROM {spec.table}").fetchone()[0])
            for spec in SEALED_TABLES
            if spec.table in present
        )
    finally:
        if own_snapshot:
            conn.execute("ROLLBACK")
    expected = (
        len(expected_postgres_triggers()[0]) if dialect(conn) == "postgresql" else len(expected_triggers())
    )
    return Report(len(entries), expected, sealed_rows, problems)
