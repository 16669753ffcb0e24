"""What holds only on PostgreSQL: the application role's privileges, guards an owner could lift
(disable, drop, alter), PostGIS columns, and the backup commands pointing to the server's tools.

Runs with ``--records-backend postgresql`` (CI does); the engine-neutral records tests cover the rest.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from records_backends import REFUSED, run_outside
from records_fixtures import SITES, drive_and_dwell, small_plan, write_gpx

from records.__main__ import COMMANDS
from records.backend import RecordsError, is_postgresql
from records.schema_postgres import APPEND_ONLY, DEFAULT_APP_ROLE
from records.store import open_store
from records.visits import Visit

pytestmark = pytest.mark.records

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def db(new_db, tmp_path, monkeypatch) -> str:
    url = new_db("pg")
    if not is_postgresql(url):
        pytest.skip("PostgreSQL only (run with --records-backend postgresql)")
    monkeypatch.setenv("XUNHU_DB", url)
    with open_store(url) as store:
        plan = store.save_plan(small_plan("week-48"), actor="chief").plan_id
        store.approve_plan(plan, actor="chief")
        store.record_visit(
            Visit("PS0001", "T1", T0, T0 + timedelta(minutes=40), "compliant", lon=87.62, lat=43.82)
        )
        store.import_gpx(write_gpx(tmp_path / "day.gpx", drive_and_dwell()), "T1", infer_with=SITES)
    return url


def as_app(url: str) -> psycopg.Connection:
    """The database as the dashboards and workers reach it: the application role."""
    return psycopg.connect(url.replace("//xunhu@", f"//{DEFAULT_APP_ROLE}@", 1), autocommit=True)


def cli(command: str, *args: str) -> int:
    return importlib.import_module(COMMANDS[command][0]).main(list(args))


def verify_output(capsys) -> tuple[int, str]:
    status = cli("verify")
    return status, capsys.readouterr().out


@pytest.mark.parametrize("table", ["audit_log", "visits", "track_points", "case_events", "evidence"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}", "TRUNCATE {t} CASCADE"])
def test_the_application_role_cannot_rewrite_append_only_tables(db, table, statement):
    assert table in APPEND_ONLY
    column = {"audit_log": "actor", "visits": "notes", "track_points": "lon"}.get(table, "added_by")
    column = "note" if table == "case_events" else column
    with as_app(db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.format(t=table, c=column))


def test_the_application_role_writes_through_the_application(db):
    with as_app(db) as conn:
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    app_url = db.replace("//xunhu@", f"//{DEFAULT_APP_ROLE}@", 1)
    with open_store(app_url) as store:
        store.record_visit(
            Visit("WS0001", "T1", T0, T0 + timedelta(minutes=30), "compliant"), actor="officer"
        )
        assert store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before + 1


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE visits SET recorded_by = 'mallory'", "recorded visits cannot be changed"),
        ("DELETE FROM audit_log WHERE audit_id = 1", "audit log entries cannot be deleted"),
        ("TRUNCATE track_points", "track points cannot be deleted"),
        (
            "INSERT INTO visits (visit_id, site_id, team_id, started_at, ended_at, outcome, source, "
            "recorded_at, recorded_by) SELECT visit_id, site_id, team_id, started_at, ended_at, outcome, "
            "source, recorded_at, recorded_by FROM visits WHERE visit_id = 1 "
            "ON CONFLICT (visit_id) DO UPDATE SET recorded_by = 'mallory'",
            "recorded visits cannot be changed",
        ),
        ("UPDATE plans SET status = 'draft'", "plan status may only go draft -> approved -> done"),
    ],
)
def test_even_the_owner_is_stopped_by_the_triggers(db, statement, message, capsys):
    with open_store(db) as store, pytest.raises(REFUSED, match=message):
        store.conn.execute(statement)
    assert verify_output(capsys)[0] == 0


def test_verify_names_a_dropped_a_disabled_and_an_altered_guard(db, capsys):
    run_outside(
        db,
        "DROP TRIGGER visits_no_update ON visits; ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete; "
        "CREATE OR REPLACE FUNCTION xunhu_task_done_by_visit() RETURNS trigger LANGUAGE plpgsql AS "
        "$fn$ BEGIN RETURN NEW; END $fn$;",
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "trigger visits_no_update is missing (dropped?)" in out
    assert "trigger audit_log_no_delete is disabled" in out
    assert "trigger function xunhu_task_done_by_visit differs from the one the migrations create" in out


def test_visits_and_fixes_are_postgis_points_found_through_the_spatial_index(db):
    with open_store(db) as store:
        conn = store.conn
        srid, wkt = conn.execute(
            "SELECT ST_SRID(geom), ST_AsText(geom) FROM visits WHERE visit_id = 1"
        ).fetchone()
        assert (srid, wkt) == (4326, "POINT(87.62 43.82)")
        near = conn.execute(
            "SELECT count(*) FROM track_points WHERE ST_DWithin(geom::geography, "
            "ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, 100)",
            (87.62, 43.82),
        ).fetchone()[0]
        assert near > 10  # the dwell at the site
        conn.execute("BEGIN")
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT count(*) FROM track_points WHERE geom && ST_MakeEnvelope(87.6, 43.8, 87.7, 43.9, 4326)"
            )
        )
        conn.execute("ROLLBACK")
        assert "track_points_geom" in plan


def test_backup_and_restore_point_to_the_server_tools(db, tmp_path, capsys):
    assert cli("backup", "--out", str(tmp_path / "b.sqlite")) == 1
    assert cli("restore", "--from", str(tmp_path / "b.sqlite")) == 1
    err = capsys.readouterr().err
    assert err.count("pg_dump -Fc") == 2 and "Traceback" not in err
    assert not (tmp_path / "b.sqlite").exists()


def test_text_with_a_nul_character_is_refused_with_a_clear_error(db):
    with open_store(db) as store, pytest.raises(RecordsError, match=r"contains a NUL character"):
        store.record_visit(Visit("PS0001", "T1", T0, T0 + timedelta(minutes=5), "compliant", notes="a\x00b"))
