"""Records databases for tests, on either engine: ``new_db("name")`` gives a fresh, empty database.

By default a SQLite file under the test's ``tmp_path``. With ``--records-backend postgresql`` (or
``XUNHU_TEST_BACKEND=postgresql``) a fresh PostgreSQL database instead, cloned from the migrated
``xunhu_template`` on the server that ``bash scripts/services.sh start`` runs (``$XUNHU_PG_ADMIN``,
a superuser URL it prints), owned by the ``xunhu`` role and dropped after the test. Tests of the
records mark themselves ``@pytest.mark.records``; CI runs those on both engines. Tests that open
the SQLite file itself (tamper with it through ``sqlite3``, copy it) mark themselves
``sqlite_only``, and have PostgreSQL counterparts where the guarantee differs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from records.backend import url_with_database

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
    """Bring the template database to the current schema once per test run (clones are then instant)."""
    import psycopg

    from records.db import connect

    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {TEMPLATE} IS_TEMPLATE false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,)
        )
    connect(owner_url(TEMPLATE)).close()
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {TEMPLATE} IS_TEMPLATE true")


@pytest.fixture
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str | Path]]:
    """``new_db(name)``: a fresh records database per name and test (the same one for the same name)."""
    made: dict[str, str | Path] = {}
    postgresql = backend(request.config) == "postgresql"

    def make(name: str = "records") -> str | Path:
        if name not in made:
            if postgresql:
                import psycopg

                database = f"t_{name}_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(admin_url(), autocommit=True) as admin:
                    admin.execute(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE} OWNER {OWNER}")
                made[name] = owner_url(database)
            else:
                made[name] = tmp_path / f"{name}.sqlite"
        return made[name]

    yield make
    if postgresql and made:
        import psycopg

        with psycopg.connect(admin_url(), autocommit=True) as admin:
            for url in made.values():
                admin.execute(f"DROP DATABASE IF EXISTS {str(url).rsplit('/', 1)[1]} WITH (FORCE)")
