"""Backups of the records database with SQLite's online backup API, and restoring from them.

A backup is a consistent snapshot taken while other processes keep writing (the backup API copies
pages under a read transaction). Restore first checks the backup (integrity, schema version), then
copies it to a scratch file, migrates that copy to the current schema and verifies it
(:mod:`records.integrity`: audit chain, gaps, triggers, sealed records, plan approvals). A backup
that fails is refused unless forced; a forced restore lists the problems in its audit entry. A
backup from before the chain existed (schema < 5) is chained by that migration as it stands, so its
older content is checked only for plan approvals agreeing with the audit log. Restore then saves the
current database next to itself as ``<name>.pre-restore-<time>.sqlite`` so that nothing is lost even
by restoring the wrong file, copies the verified copy in, and records the restore in the audit log.

A PostgreSQL database is backed up with the server's own tools (``pg_dump``, or base backups with WAL
archiving for point-in-time recovery; see docs/deployment.md), not copied page by page from a
client: both commands say so instead of writing a SQLite file that would not hold the server's data.
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from records import audit
from records.backend import Connection, dialect, is_postgresql
from records.db import SCHEMA_VERSION, RecordsError, connect, migrate, schema_version
from records.integrity import verify

SERVER_BACKUP_HINT = (
    "the records are on a PostgreSQL server: back it up with pg_dump -Fc (or base backups with WAL "
    "archiving), restore with pg_restore, then run python -m records verify (docs/deployment.md)"
)


def backup(conn: Connection, out: str | Path, actor: str | None = None) -> Path:
    """Write a consistent copy of the database behind ``conn`` to ``out`` (must not exist)."""
    if dialect(conn) == "postgresql":
        raise RecordsError(SERVER_BACKUP_HINT)
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


def restore(
    source: str | Path, db_path: str | Path, actor: str | None = None, force: bool = False
) -> Path | None:
    """Replace the database at ``db_path`` with the backup ``source``; return the safety copy's path.

    The backup is migrated to the current schema on a scratch copy and verified first. One that fails
    verification raises RecordsError listing the problems, unless ``force``: then it is restored and
    the problems are recorded in the ``db.restore`` audit entry.
    """
    if is_postgresql(db_path):
        raise RecordsError(SERVER_BACKUP_HINT)
    check_backup(source)
    source, db_path = Path(source), Path(db_path)
    with tempfile.TemporaryDirectory(prefix="xunhu-restore-") as scratch:
        checked = connect(Path(scratch) / "checked.sqlite", migrate_schema=False)
        try:
            problems = _copy_and_verify(source, checked)
            if problems and not force:
                raise RecordsError(
                    f"{source}: backup fails verification, not restored (--force restores it anyway, "
                    "audited): " + "; ".join(problems)
                )
            safety = _keep_current(db_path, actor)
            dest = connect(db_path, migrate_schema=False)
            try:
                checked.backup(dest)
                details = {"from": str(source.resolve()), "safety_copy": str(safety) if safety else None}
                if problems:
                    details.update(forced=True, problems=problems)
                audit.append(dest, "db.restore", f"file:{source.name}", details, actor)
            finally:
                dest.close()
        finally:
            checked.close()
    return safety


def _copy_and_verify(source: Path, scratch: sqlite3.Connection) -> list[str]:
    """Copy the backup into ``scratch``, migrate it to the current schema and verify it."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.backup(scratch)
    finally:
        src.close()
    migrate(scratch)
    return verify(scratch).problems


def _keep_current(db_path: Path, actor: str | None) -> Path | None:
    """Back up the database about to be replaced next to itself; None when there is none yet."""
    if not db_path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safety = db_path.with_name(f"{db_path.stem}.pre-restore-{stamp}.sqlite")
    current = connect(db_path, migrate_schema=False)
    try:
        backup(current, safety, actor)
    finally:
        current.close()
    return safety
