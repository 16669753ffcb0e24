"""The seam between the records code and its two databases: SQLite (embedded) and PostgreSQL + PostGIS.

Every ``records`` module writes plain SQL with ``?`` placeholders against a connection that behaves
like ``sqlite3.Connection`` (``execute``, ``executemany``, rows readable by index and by column name,
``in_transaction``). For SQLite that *is* a ``sqlite3.Connection``; for PostgreSQL it is
:class:`PostgresConnection`, a thin wrapper over a psycopg 3 connection that rewrites placeholders and
keeps the same row shape. Where the two engines genuinely differ (how a write transaction takes its
lock, where the schema version lives, sequences, backups, trigger catalogues) the calling module asks
:func:`dialect` and branches in one place.

Why a small dialect layer rather than SQLAlchemy Core: the records hold about 150 hand-written
statements whose semantics are the point (append-only triggers, the audit hash chain, the
``BEGIN IMMEDIATE`` locking discipline), the portable subset of SQL covers all of them (``RETURNING``,
``ON CONFLICT DO NOTHING``, ``coalesce``), and rewriting them as expression trees would change every
module without making a single guarantee stronger. Measured (``bench/bench_records_seam.py``,
figures in ``bench/RESULTS.md``): the wrapper costs 10–25 µs per statement over raw psycopg (a
cached placeholder rewrite and rows readable by name), under a millisecond for a whole page run;
on SQLite it costs nothing, the connection is ``sqlite3``'s own.

Writers are serialised on both engines. SQLite does it with ``BEGIN IMMEDIATE`` (one writer per
file); PostgreSQL with a transaction-scoped advisory lock taken at ``BEGIN``
(:data:`WRITER_LOCK_KEY`), because the audit chain appends entry *n + 1* after reading entry *n*, and
the login throttle reserves an attempt after counting the earlier ones: both need "nobody else wrote in
between", which is exactly what one writer at a time gives. Readers never wait on either engine.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

#: Advisory-lock key every PostgreSQL write transaction takes (``hashtext('xunhu.records.writer')``
#: would do too; a fixed number keeps it visible in ``pg_locks``).
WRITER_LOCK_KEY = 7_326_011
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgresql(target: str | Path | None) -> bool:
    """True when ``target`` is a PostgreSQL URL (``postgresql://user@host:port/db``)."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


class RecordsError(Exception):
    """Bad input or a forbidden operation; the message is meant for the user as is.

    (Defined here, below every other records module, and re-exported by :mod:`records.db`.)
    """


def _checked(params: Iterable[Any]) -> tuple:
    """The parameters, refusing text PostgreSQL cannot store (SQLite keeps a NUL character)."""
    values = tuple(params)
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise RecordsError(
                f"text {value[:40]!r} contains a NUL character (\\x00), which cannot be stored"
            )
    return values


class SQLiteConnection(sqlite3.Connection):
    """A ``sqlite3.Connection`` that says which dialect it speaks."""

    dialect = "sqlite"


class Row(tuple):
    """A result row readable like ``sqlite3.Row``: by position, by column name, and as a mapping."""

    __slots__ = ()
    _index: dict[str, int]

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, type(self)._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Column names, in order (``dict(row)`` uses this, as with ``sqlite3.Row``)."""
        return list(type(self)._index)


@lru_cache(maxsize=512)
def _row_type(names: tuple[str, ...]) -> type[Row]:
    """The :class:`Row` subclass for one list of column names (made once: a statement runs often)."""
    return type("Row", (Row,), {"_index": {name: i for i, name in enumerate(names)}, "__slots__": ()})


def _row_factory(cursor: Any):
    """psycopg row factory building :class:`Row` objects for the cursor's columns."""
    if cursor.description is None:
        return tuple
    return _row_type(tuple(column.name for column in cursor.description))


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """Rewrite ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``), leaving
    ``?`` inside quoted literals alone."""
    out, quote = [], None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


class PostgresConnection:
    """A psycopg connection with the part of ``sqlite3.Connection``'s interface the records use.

    Autocommit outside :func:`records.db.transaction` (as the SQLite connections are), rows as
    :class:`Row`, ``?`` placeholders.
    """

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """Run one statement; return the cursor (``fetchone``, ``fetchall``, iteration, ``rowcount``)."""
        return self.raw.execute(to_pyformat(sql), _checked(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        """Run one statement for each parameter row; return the cursor."""
        cursor = self.raw.cursor()
        cursor.executemany(to_pyformat(sql), [_checked(row) for row in rows])
        return cursor

    @property
    def in_transaction(self) -> bool:
        """True inside an explicit transaction (``BEGIN`` issued and not yet ended)."""
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()

    def __enter__(self) -> PostgresConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: A records connection on either engine.
Connection = SQLiteConnection | sqlite3.Connection | PostgresConnection


def dialect(conn: Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return getattr(conn, "dialect", "sqlite")


def begin_write(conn: Connection) -> None:
    """Open a write transaction holding the single-writer lock (see the module docstring)."""
    if dialect(conn) == "postgresql":
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK_KEY,))
    else:
        conn.execute("BEGIN IMMEDIATE")


def refusals() -> tuple[type[Exception], ...]:
    """Exceptions meaning "the database refused this write" (a constraint or a guarding trigger)."""
    errors: list[type[Exception]] = [sqlite3.IntegrityError]
    try:
        import psycopg.errors as pg_errors

        errors += [pg_errors.IntegrityError, pg_errors.RaiseException, pg_errors.InsufficientPrivilege]
    except ImportError:  # psycopg is only needed for the PostgreSQL backend
        pass
    return tuple(errors)


def database_errors() -> tuple[type[Exception], ...]:
    """Any error raised by either database driver."""
    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


def read_frame(sql: str, conn: Connection, params: Sequence[Any] = ()) -> pd.DataFrame:
    """A query's result as a DataFrame: ``pandas.read_sql_query(sql, conn, params)`` on both engines."""
    if dialect(conn) == "sqlite":
        return pd.read_sql_query(sql, conn, params=tuple(params))
    cursor = conn.execute(sql, params)
    columns = [column.name for column in cursor.description]
    rows = [tuple(row) for row in cursor.fetchall()]
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)


def inserted_id(cursor: Any) -> int:
    """The id an ``INSERT ... RETURNING <id>`` gave. Reads the whole result: SQLite finishes the
    statement only then (a half-read RETURNING stays in progress and the COMMIT fails)."""
    return int(cursor.fetchall()[0][0])


def fetch_tuples(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """All rows as plain tuples (cheaper than rows with names, for hashing many rows)."""
    if dialect(conn) == "sqlite":
        cursor = conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, tuple(params)).fetchall()
    return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def table_names(conn: Connection) -> set[str]:
    """The tables of the records schema."""
    if dialect(conn) == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {row[0] for row in conn.execute(sql)}


def url_with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server (``postgresql://u@h:p/other``)."""
    match = re.match(r"^(postgres(?:ql)?://[^/]*)(/[^?]*)?(\?.*)?$", url)
    if not match:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"{match[1]}/{database}{match[3] or ''}"
