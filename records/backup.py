"""Backups of the records database with SQLite's online backup API, and restoring from them.

A backup is a consistent snapshot taken while other processes keep writing (the backup API copies
pages under a read transaction). Restore first checks the backup (integrity, schema version), saves
the current database next to itself as ``<name>.pre-restore-<time>.sqlite`` so that nothing is lost
even by restoring the wrong file, then copies the backup in and records the restore in the audit log.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from records import audit
from records.db import SCHEMA_VERSION, RecordsError, connect, migrate, schema_version


def backup(conn: sqlite3.Connection, out: str | Path, actor: str | None = None) -> Path:
    """Write a consistent copy of the database behind ``conn`` to ``out`` (must not exist)."""
    out = Path(out)
    if out.exists():
        raise RecordsError(f"{out}: already exists; choose a new backup file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    audit.append(conn, "db.backup", f"file:{out.name}", {"path": str(out.resolve())}, actor)
    target = sqlite3.connect(out)
    try:
        with target:
            conn.backup(target)
    finally:
        target.close()
    return out


def check_backup(path: str | Path) -> int:
    """Open a backup read-only, check it, and return its schema version; RecordsError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise RecordsError(f"{path}: no such backup file")
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            status = source.execute("PRAGMA integrity_check").fetchone()[0]
            version = schema_version(source)
            has_audit = source.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'audit_log'"
            ).fetchone()[0]
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise RecordsError(f"{path}: not a SQLite database ({exc})") from None
    if status != "ok":
        raise RecordsError(f"{path}: damaged backup ({status})")
    if not version or not has_audit:
        raise RecordsError(f"{path}: not a XunHu records backup")
    if version > SCHEMA_VERSION:
        raise RecordsError(f"{path}: schema version {version} is newer than this program ({SCHEMA_VERSION})")
    return version


def restore(source: str | Path, db_path: str | Path, actor: str | None = None) -> Path | None:
    """Replace the database at ``db_path`` with the backup ``source``; return the safety copy's path.

    The restored database is migrated to the current schema if the backup is older.
    """
    check_backup(source)
    db_path = Path(db_path)
    safety = None
    if db_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safety = db_path.with_name(f"{db_path.stem}.pre-restore-{stamp}.sqlite")
        current = connect(db_path, migrate_schema=False)
        try:
            backup(current, safety, actor)
        finally:
            current.close()
    src = sqlite3.connect(f"file:{Path(source)}?mode=ro", uri=True)
    dest = connect(db_path, migrate_schema=False)
    try:
        src.backup(dest)
        migrate(dest)
        audit.append(
            dest,
            "db.restore",
            f"file:{Path(source).name}",
            {"from": str(Path(source).resolve()), "safety_copy": str(safety) if safety else None},
            actor,
        )
    finally:
        src.close()
        dest.close()
    return safety
