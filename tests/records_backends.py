"""Records databases for tests, on either engine: ``new_db("name")`` gives a fresh, empty database.

By default a SQLite file under the test's ``tmp_path``. With ``--records-backend postgresql`` (or
``XUNHU_TEST_BACKEND=postgresql``) a fresh PostgreSQL database instead, cloned from the migrated
``xunhu_template`` on the server that ``bash scripts/services.sh start`` runs (``$XUNHU_PG_ADMIN``,
a superuser URL it prints), owned by the ``xunhu`` role and dropped by the next test run. Tests of the
records mark themselves ``@pytest.mark.records``; CI runs those on both engines. Tests that open
the SQLite file itself (tamper with it through ``sqlite3``, copy it) mark themselves
``sqlite_only``, and have PostgreSQL counterparts where the guarantee differs.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from records.backend import is_postgresql, refusals, url_with_database

#: What a refused write raises, on either engine (for ``pytest.raises``).
REFUSED = refusals()
TEMPLATE = "xunhu_template"
OWNER = "xunhu"


def backend(config: pytest.Config) -> str:
    """The engine this test run uses for the records."""
    return config.getoption("--records-backend")


def admin_url() -> str:
    url = os.environ.get("XUNHU_PG_ADMIN")
    if not url:
        pytest.fail("--records-backend postgresql needs XUNHU_PG_ADMIN (run: bash scripts/services.sh start)")
    return url


def owner_url(database: str) -> str:
    """URL of ``database`` as its owner role (the admin URL with the user swapped)."""
    admin = url_with_database(admin_url(), database)
    return admin.replace("//postgres@", f"//{OWNER}@", 1)


def migrate_template() -> None:
    """Bring the template database to the current schema once per test run (clones are then instant),
    and drop the databases earlier runs left (dropping costs a checkpoint, so tests leave theirs)."""
    import psycopg

    from records.db import connect

    with psycopg.connect(admin_url(), autocommit=True) as admin:
        for (stale,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'"
        ).fetchall():
            admin.execute(f"DROP DATABASE {stale} WITH (FORCE)")
        admin.execute(f"ALTER DATABASE {TEMPLATE} IS_TEMPLATE false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,)
        )
    connect(owner_url(TEMPLATE)).close()
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {TEMPLATE} IS_TEMPLATE true")


@pytest.fixture
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., str | Path]]:
    """``new_db(name)``: a fresh records database per name and test (the same one for the same name)."""
    made: dict[str, str | Path] = {}
    postgresql = backend(request.config) == "postgresql"
    if postgresql:  # evidence files go next to a SQLite file; give a server database the same place
        request.getfixturevalue("monkeypatch").setenv("XUNHU_EVIDENCE_DIR", str(tmp_path / "evidence"))

    def make(name: str = "records", migrated: bool = True) -> str | Path:
        """``migrated=False``: an empty database (on PostgreSQL with PostGIS and pgcrypto in place,
        which only a superuser can create) for tests that migrate step by step."""
        if name not in made:
            if postgresql:
                import psycopg

                database = f"t_{name}_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(admin_url(), autocommit=True) as admin:
                    template = TEMPLATE if migrated else "template0"
                    admin.execute(f"CREATE DATABASE {database} TEMPLATE {template} OWNER {OWNER}")
                if not migrated:
                    url = url_with_database(admin_url(), database)
                    with psycopg.connect(url, autocommit=True) as admin:
                        admin.execute("CREATE EXTENSION postgis; CREATE EXTENSION pgcrypto")
                made[name] = owner_url(database)
            else:
                made[name] = tmp_path / f"{name}.sqlite"
        return made[name]

    yield make  # PostgreSQL databases are dropped by the next run (see migrate_template)


def run_outside(db: str | Path, script: str) -> None:
    """Run SQL on the database directly, as someone with the file (SQLite) or the owner's login
    (PostgreSQL) but not the application would: no audit entry, no seal."""
    from records.db import connect

    conn = connect(db, migrate_schema=False)
    try:
        if isinstance(conn, sqlite3.Connection):
            conn.executescript(script)
        else:
            conn.raw.execute(script)
    finally:
        conn.close()


def behind_guards(db: str | Path, table: str, sql: str) -> str:
    """SQL that lifts ``table``'s guards, runs ``sql`` and puts the identical guards back (how an owner
    would rewrite an append-only row): drop and recreate the SQLite triggers, or disable and re-enable
    the PostgreSQL ones."""
    if is_postgresql(db):
        return f"ALTER TABLE {table} DISABLE TRIGGER USER; {sql}; ALTER TABLE {table} ENABLE TRIGGER USER;"
    from records.integrity import expected_triggers

    triggers = {
        name: text for name, text in expected_triggers().items() if re.search(rf"\bON {table}\b", text)
    }
    drops = "".join(f"DROP TRIGGER {name}; " for name in triggers)
    return f"{drops}{sql}; " + "".join(f"{text}; " for text in triggers.values())
