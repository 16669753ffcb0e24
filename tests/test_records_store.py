"""Records store: schema migrations, plans and their status, audit log, visits, backup, export."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
from export_reading import export_frame
from records_backends import REFUSED
from records_fixtures import SITE_LAT, SITE_LON, dump, small_plan

from records.backend import dialect, table_names
from records.backup import restore
from records.db import MIGRATIONS, SCHEMA_VERSION, RecordsError, connect, migrate
from records.export import export_visits
from records.store import open_store
from records.visits import VISIT_COLUMNS, Visit

pytestmark = pytest.mark.records

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def visit(**changes) -> Visit:
    fields = dict(
        site_id="PS0001",
        team_id="T1",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=45),
        outcome="compliant",
        officers=("Li Wei", "Aygul"),
        lon=SITE_LON,
        lat=SITE_LAT,
    )
    return Visit(**{**fields, **changes})


@pytest.fixture
def store(tmp_path, new_db):
    with open_store(new_db("records")) as opened:
        yield opened


def test_new_database_is_migrated_to_the_latest_version(tmp_path, new_db):
    db = new_db("new")
    with open_store(db) as store:
        assert store.schema_version == SCHEMA_VERSION == MIGRATIONS[-1][0]
        tables = table_names(store.conn)
        applied = [r[0] for r in store.conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        if dialect(store.conn) == "sqlite":  # readers never wait for the writer
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {
        "plans",
        "assignments",
        "visits",
        "tracks",
        "track_points",
        "inferred_visits",
        "audit_log",
    } <= tables
    assert applied == [m[0] for m in MIGRATIONS]
    with open_store(db) as again:  # reopening applies nothing twice
        assert again.schema_version == SCHEMA_VERSION


def test_forward_migration_keeps_existing_records(tmp_path, new_db):
    db = new_db("old", migrated=False)
    conn = connect(db, migrate_schema=False)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO visits (site_id, team_id, started_at, ended_at, outcome, source, recorded_at, "
        "recorded_by) VALUES ('PS0001', 'T1', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', "
        "'compliant', 'planned', '2026-01-01T02:00:00Z', 'test')"
    )
    assert "tracks" not in table_names(conn)
    conn.close()
    with open_store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.visits()["site_id"].tolist() == ["PS0001"]


def test_newer_database_is_refused(tmp_path, new_db):
    db = new_db("future")
    conn = connect(db)
    conn.execute(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, 'from the future', ?)",
        (SCHEMA_VERSION + 1, "2030-01-01T00:00:00Z"),
    )
    if dialect(conn) == "sqlite":  # SQLite keeps the version in the file header as well
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RecordsError, match="newer than this program"):
        open_store(db)


def test_plan_versions_and_status_transitions_are_audited(store):
    first = store.save_plan(small_plan(), actor="chief")
    assert (first.version, first.created) == (1, True)
    assert store.save_plan(small_plan(), actor="chief") == replace(first, created=False)
    store.approve_plan(first.plan_id, actor="chief")
    row = store.plan(first.plan_id)
    assert (row["status"], row["approved_by"]) == ("approved", "chief")
    assert row["plan"] == small_plan()
    with pytest.raises(RecordsError, match="only a draft plan can become approved"):
        store.approve_plan(first.plan_id)
    store.complete_plan(first.plan_id, actor="chief")
    with pytest.raises(RecordsError, match="plan .* is done"):
        store.approve_plan(first.plan_id)
    changed = small_plan()
    changed["teams"][0]["stops"].pop(2)
    second = store.save_plan(changed, actor="chief")
    assert (second.plan_key, second.version, second.created) == ("week-48", 2, True)
    assert store.plan(first.plan_id)["plan"] == small_plan()  # the approved version is untouched
    log = store.audit_log(obj=f"plan:{first.plan_id}")
    assert log["action"].tolist() == ["plan.save", "plan.approve", "plan.done"]
    assert log["actor"].tolist() == ["chief"] * 3


def test_database_refuses_to_rewrite_plans_visits_and_audit(store):
    plan_id = store.save_plan(small_plan()).plan_id
    visit_id = store.record_visit(visit())
    forbidden = [
        ("UPDATE audit_log SET actor = 'x'", "audit log entries cannot be changed"),
        ("DELETE FROM audit_log", "audit log entries cannot be deleted"),
        (f"UPDATE plans SET plan_json = '{{}}' WHERE plan_id = {plan_id}", "save a new version"),
        (f"UPDATE plans SET status = 'done' WHERE plan_id = {plan_id}", "draft -> approved -> done"),
        ("DELETE FROM plans", "plans cannot be deleted"),
        (f"UPDATE visits SET outcome = 'violation' WHERE visit_id = {visit_id}", "cannot be changed"),
        ("DELETE FROM visits", "cannot be deleted"),
        ("DELETE FROM assignments", "cannot be deleted"),
    ]
    before = dump(store.path)
    for sql, message in forbidden:
        with pytest.raises(REFUSED, match=message):
            store.conn.execute(sql)
    assert dump(store.path) == before


def test_assignments_for_a_team_and_day_follow_the_current_issued_version(store):
    draft = store.save_plan(small_plan())
    assert store.assignments("T1", "2026-11-24").empty  # a draft is not an order yet
    assert store.assignments("T1", "2026-11-24", include_drafts=True)["site_id"].tolist() == [
        "PS0001",
        "WS0001",
    ]
    store.approve_plan(draft.plan_id)
    issued = store.assignments("T1", "2026-11-24")
    assert issued["site_id"].tolist() == ["PS0001", "WS0001"]
    assert issued["seq"].tolist() == [1, 2]
    assert store.assignments("T1", "2026-11-25").empty
    assert store.assignments("T2", "2026-11-24").empty
    changed = small_plan()
    changed["teams"][0]["stops"].pop(1)
    second = store.save_plan(changed)
    store.approve_plan(second.plan_id)
    assert store.assignments("T1", "2026-11-24")["site_id"].tolist() == ["WS0001"]


def test_local_day_of_an_early_morning_stop(store):
    plan = small_plan()
    plan["teams"][0]["stops"][1]["arrive"] = "2026-11-25T01:30:00+08:00"  # 17:30 UTC the day before
    store.approve_plan(store.save_plan(plan).plan_id)
    assert store.assignments("T1", "2026-11-25")["site_id"].tolist() == ["PS0001"]


def test_bad_plans_are_refused_with_the_field_named(store):
    with pytest.raises(RecordsError, match="teams"):
        store.save_plan({"scenario": {"name": "x"}})
    broken = small_plan()
    broken["teams"][0]["stops"][1]["arrive"] = "tuesday"
    with pytest.raises(RecordsError, match="team T1 stop 1: 'arrive'"):
        store.save_plan(broken)
    assert store.plans().empty


def test_record_and_correct_visits(store):
    first = store.record_visit(visit(), actor="li")
    store.record_visit(
        visit(site_id="PS0002", outcome="not_inspected", reason="gate locked", source="ad_hoc")
    )
    frame = store.visits()
    assert list(frame.columns) == list(VISIT_COLUMNS)
    assert frame["site_id"].tolist() == ["PS0001", "PS0002"]
    assert frame["officers"].iloc[0] == "Li Wei;Aygul"
    assert frame["started_at"].iloc[0] == pd.Timestamp(T0)
    assert str(frame["started_at"].dt.tz) == "UTC"
    assert frame["simulated"].dtype == bool
    corrected = store.correct_visit(first, visit(outcome="violation", notes="discharge pipe found"))
    frame = store.visits()
    assert sorted(frame["visit_id"]) == sorted([corrected, first + 1])
    assert frame.set_index("visit_id").loc[corrected, "outcome"] == "violation"
    with pytest.raises(RecordsError, match="already corrected"):
        store.correct_visit(first, visit())
    assert store.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 3  # nothing lost
    assert store.audit_log(action="visit.correct")["details"].iloc[0]["supersedes"] == first


def test_recording_the_same_visit_twice_stores_it_once(store):
    first = store.record_visit(visit(notes="pipe ok"), actor="li")
    # A second tap on Save, or a retry after the connection dropped: the same id, nothing new.
    assert store.record_visit(visit(notes="pipe ok"), actor="li") == first
    assert store.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 1
    assert len(store.audit_log(action="visit.record")) == 1
    # Anything that differs is another visit: other notes, another end, another officer account.
    assert store.record_visit(visit(notes="pipe ok, second check"), actor="li") != first
    assert store.record_visit(visit(notes="pipe ok", ended_at=T0 + timedelta(hours=2)), actor="li") != first
    assert store.record_visit(visit(notes="pipe ok"), actor="wang") != first
    assert store.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 4


def test_visit_time_window(store):
    for day in range(3):
        store.record_visit(
            visit(started_at=T0 + timedelta(days=day), ended_at=T0 + timedelta(days=day, hours=1))
        )
    window = store.visits(since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
    assert window["started_at"].tolist() == [pd.Timestamp(T0 + timedelta(days=1))]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": "not_inspected"}, "reason: required"),
        ({"outcome": "maybe"}, "outcome"),
        ({"ended_at": T0 - timedelta(minutes=1)}, "ended_at: before started_at"),
        ({"lon": 10.0, "lat": 50.0}, "outside Xinjiang"),
        ({"source": "inferred"}, "source"),
    ],
)
def test_invalid_visits_are_refused(store, changes, message):
    with pytest.raises(RecordsError, match=message):
        store.record_visit(visit(**changes))
    assert store.visits().empty


@pytest.mark.sqlite_only
def test_backup_restore_round_trip(store, tmp_path, new_db):
    store.record_visit(visit())
    out = store.backup(tmp_path / "b.sqlite")
    store.record_visit(visit(site_id="PS0009"))
    store.close()
    safety = restore(out, store.path, actor="admin")
    with open_store(store.path) as restored:
        assert restored.visits()["site_id"].tolist() == ["PS0001"]
        assert restored.audit_log(action="db.restore")["actor"].tolist() == ["admin"]
    with open_store(safety) as kept:  # the overwritten state survives in the safety copy
        assert kept.visits()["site_id"].tolist() == ["PS0001", "PS0009"]
    with pytest.raises(RecordsError, match="already exists"), open_store(store.path) as again:
        again.backup(out)


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all, definitely not" * 100)
    with pytest.raises(RecordsError, match="not a SQLite database"):
        restore(junk, tmp_path / "db.sqlite")
    assert not (tmp_path / "db.sqlite").exists()


def test_export_csv_and_geojson(store, tmp_path):
    store.record_visit(visit())
    store.record_visit(visit(site_id="PS0002", lon=None, lat=None, outcome="violation"))
    frame = store.visits()
    csv = export_frame(export_visits(frame, tmp_path / "v.csv", "csv"))[1]
    assert csv["site_id"].tolist() == ["PS0001", "PS0002"]
    assert csv["started_at"].iloc[0] == "2026-11-24T02:00:00Z"
    geo = gpd.read_file(export_visits(frame, tmp_path / "v.geojson", "geojson"))
    assert geo.geometry.iloc[0].x == pytest.approx(SITE_LON)
    assert geo.geometry.iloc[1] is None
    assert (
        json.loads((tmp_path / "v.geojson").read_text())["features"][1]["properties"]["outcome"]
        == "violation"
    )
