"""Tamper evidence: REPLACE refused at the database, the audit hash chain and its seals, ``verify``,
verified restores, and plans whose ``release_at`` is not a time (issue 14 items 3 and 7)."""

from __future__ import annotations

import importlib
import json
import sqlite3
import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from argon2 import PasswordHasher
from records_backends import REFUSED, behind_guards, run_outside
from records_fixtures import SITES, drive_and_dwell, small_plan, write_gpx

from records import access, audit
from records.__main__ import COMMANDS
from records.accounts import create_account
from records.backend import inserted_id
from records.db import LOCAL_TZ, RecordsError, connect, migrate, transaction
from records.integrity import verify
from records.store import open_store
from records.visits import Visit

pytestmark = pytest.mark.records

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 24)


def cli(command: str, *args: str) -> int:
    return importlib.import_module(COMMANDS[command][0]).main(list(args))


def visit(site_id: str = "PS0001") -> Visit:
    return Visit(site_id, "T1", T0, T0 + timedelta(minutes=40), "compliant")


@pytest.fixture
def db(tmp_path, monkeypatch, new_db):
    """A database with a done plan, an approved one, two visits, and a GPX track with inferred visits."""
    path = new_db("records")
    monkeypatch.setenv("XUNHU_DB", str(path))
    with open_store(path) as store:
        done = store.save_plan(small_plan("week-48"), actor="chief").plan_id
        store.approve_plan(done, actor="chief")
        store.complete_plan(done, actor="chief")
        approved = store.save_plan(small_plan("week-49", "2026-12-01"), actor="chief").plan_id
        store.approve_plan(approved, actor="chief")
        store.record_visit(visit(), actor="officer")
        store.record_visit(visit("WS0001"), actor="officer")
        store.import_gpx(write_gpx(tmp_path / "day.gpx", drive_and_dwell()), "T1", infer_with=SITES)
    return path


def verify_output(capsys) -> tuple[int, str]:
    status = cli("verify")
    return status, capsys.readouterr().out


# REPLACE and UPSERT ---------------------------------------------------------------------------------
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "INSERT OR REPLACE INTO audit_log (audit_id, at, actor, action, object, details) "
            "SELECT audit_id, at, 'mallory', action, object, details FROM audit_log WHERE audit_id = 1",
            "audit log entries cannot be replaced",
        ),
        (
            "INSERT OR REPLACE INTO visits (visit_id, site_id, team_id, started_at, ended_at, outcome, "
            "source, recorded_at, recorded_by) SELECT visit_id, site_id, team_id, started_at, ended_at, "
            "outcome, source, recorded_at, 'mallory' FROM visits WHERE visit_id = 1",
            "recorded visits cannot be replaced",
        ),
        (
            "INSERT OR REPLACE INTO plans (plan_id, plan_key, version, plan_json, content_sha256, status, "
            "created_at, created_by) SELECT plan_id, plan_key, version, plan_json, content_sha256, 'draft', "
            "created_at, created_by FROM plans WHERE status = 'done'",
            "saved plans cannot be replaced",
        ),
        (  # a new row id, but the (plan_key, version) of the done plan
            "REPLACE INTO plans (plan_key, version, plan_json, content_sha256, created_at, created_by) "
            "SELECT plan_key, version, plan_json, content_sha256, created_at, 'mallory' FROM plans "
            "WHERE status = 'done'",
            "saved plans cannot be replaced",
        ),
        (
            "INSERT INTO visits (visit_id, site_id, team_id, started_at, ended_at, outcome, source, "
            "recorded_at, recorded_by) SELECT visit_id, site_id, team_id, started_at, ended_at, outcome, "
            "source, recorded_at, recorded_by FROM visits WHERE visit_id = 1 "
            "ON CONFLICT (visit_id) DO UPDATE SET recorded_by = 'mallory'",
            "recorded visits cannot be replaced",
        ),
        (
            "INSERT OR REPLACE INTO track_points (track_id, seq, time_s, lon, lat) VALUES (1, 0, 0, 0, 0)",
            "track points cannot be replaced",
        ),
    ],
)
def test_replace_from_a_plain_sqlite_session_is_refused(db, statement, message, capsys):
    before = sqlite3.connect(db).execute("SELECT count(*) FROM audit_log").fetchone()
    with pytest.raises(REFUSED, match=message):
        run_outside(db, statement)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == before
    assert conn.execute("SELECT DISTINCT recorded_by FROM visits").fetchall() == [("officer",)]
    assert conn.execute("SELECT status FROM plans ORDER BY plan_id").fetchall() == [("done",), ("approved",)]
    conn.close()
    assert verify_output(capsys)[0] == 0


def test_insert_or_ignore_of_a_known_inferred_visit_still_skips_it(db):
    with open_store(db) as store:
        assert store.infer_visits(SITES) == {1: 0}
        assert len(store.visits(include_inferred=True)) == 3  # two recorded, one inferred


# verify -------------------------------------------------------------------------------------------
def test_verify_passes_on_a_healthy_database(db, capsys):
    status, out = verify_output(capsys)
    conn = connect(db)
    entries = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    conn.close()
    assert status == 0
    assert out.startswith(f"audit log: {entries} entries, chain intact, no gaps; triggers: all ")
    assert len(out.strip().splitlines()) == 1


@pytest.mark.sqlite_only
def test_verify_names_a_dropped_trigger(db, capsys):
    run_outside(db, "DROP TRIGGER visits_no_update")
    status, out = verify_output(capsys)
    assert status == 1
    assert "trigger visits_no_update is missing" in out


@pytest.mark.sqlite_only
def test_verify_names_an_altered_or_added_trigger(db, capsys):
    run_outside(
        db,
        "DROP TRIGGER visits_no_update; CREATE TRIGGER visits_no_update BEFORE UPDATE OF notes ON visits "
        "BEGIN SELECT RAISE(ABORT, 'no'); END; CREATE TRIGGER sneaky AFTER INSERT ON visits BEGIN "
        "SELECT 1; END;",
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "trigger visits_no_update differs from the one the migrations create" in out
    assert "unexpected trigger sneaky" in out


def test_verify_names_a_hand_edited_audit_entry(db, capsys):
    run_outside(
        db,
        behind_guards(db, "audit_log", "UPDATE audit_log SET actor = 'mallory' WHERE action = 'plan.save'"),
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "audit entry 1 (plan.save plan:1): its content" in out
    assert "changed after it was written (and 1 more broken link(s) after it)" in out
    assert "trigger" not in out


def test_verify_names_a_hand_edited_visit(db, capsys):
    run_outside(
        db, behind_guards(db, "visits", "UPDATE visits SET recorded_by = 'mallory' WHERE visit_id = 2")
    )
    status, out = verify_output(capsys)
    conn = connect(db)
    entry = conn.execute("SELECT audit_id FROM audit_log WHERE object = 'visit:2'").fetchone()[0]
    conn.close()
    assert status == 1
    assert out.splitlines()[1:] == [
        f"- visits: visit_id 2, sealed by audit entry {entry} (visit.record visit:2), changed or removed "
        "after it was stored (hand-edited?)"
    ]


def test_verify_names_a_deleted_audit_entry_and_the_broken_link(db, capsys):
    run_outside(db, behind_guards(db, "audit_log", "DELETE FROM audit_log WHERE audit_id = 3"))
    status, out = verify_output(capsys)
    assert status == 1
    assert "audit log: entry 3 missing (deleted?)" in out
    assert "audit entry 4 (plan.save plan:2): its link to entry 2 is broken" in out
    assert "plan 1 is done but the audit log has it approved" in out  # entry 3 was its plan.done


@pytest.mark.sqlite_only
def test_verify_names_the_last_audit_entry_deleted(db, capsys):
    last = sqlite3.connect(db).execute("SELECT max(audit_id) FROM audit_log").fetchone()[0]
    run_outside(db, f"DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE audit_id = {last};")
    status, out = verify_output(capsys)
    assert status == 1
    assert f"audit log: entry {last} missing at the end of the log" in out


def test_verify_names_rows_added_outside_the_application(db, capsys):
    run_outside(
        db,
        "INSERT INTO visits (site_id, team_id, started_at, ended_at, outcome, source, recorded_at, "
        "recorded_by) VALUES ('PS0001', 'T1', '2026-11-24T02:00:00Z', '2026-11-24T03:00:00Z', 'compliant', "
        "'ad_hoc', '2026-11-24T04:00:00Z', 'forger');",
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "visits: rows with visit_id 3 are not sealed by any audit entry" in out


def test_verify_names_a_plan_turned_back_to_draft_or_given_another_approver(db, capsys):
    run_outside(
        db,
        behind_guards(
            db,
            "plans",
            "UPDATE plans SET status = 'draft' WHERE plan_id = 1; "
            "UPDATE plans SET approved_by = 'mallory' WHERE plan_id = 2",
        ),
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "plan 1 is draft but the audit log has it done" in out
    assert "plan 2: approved_by is 'mallory' but audit entry" in out
    assert "records the approval by 'chief'" in out


def test_concurrent_writers_keep_one_unbroken_chain(db):
    def write(n: int) -> None:
        conn = connect(db)
        try:
            for i in range(15):
                audit.append(conn, "test.write", f"writer:{n}", {"i": i}, f"writer-{n}")
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    conn = connect(db)
    try:
        report = verify(conn)
        assert report.problems == []
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'test.write'").fetchone()[0] == 60
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_an_old_database_gets_its_entries_chained_and_its_records_sealed(
    tmp_path, capsys, monkeypatch, new_db
):
    path = new_db("old")
    conn = connect(path, migrate_schema=False)
    migrate(conn, target=4)
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, object) VALUES ('2026-01-01T00:00:00Z', 'x', 'visit.record', "
        "'visit:1')"
    )
    conn.execute(
        "INSERT INTO visits (site_id, team_id, started_at, ended_at, outcome, source, recorded_at, "
        "recorded_by) VALUES ('PS0001', 'T1', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', "
        "'compliant', 'planned', '2026-01-01T02:00:00Z', 'x')"
    )
    conn.close()
    monkeypatch.setenv("XUNHU_DB", str(path))
    assert verify_output(capsys)[0] == 0
    with open_store(path) as store:
        assert store.audit_log()["action"].tolist() == ["visit.record", "records.chain_start"]
    run_outside(
        path, behind_guards(path, "visits", "UPDATE visits SET recorded_by = 'mallory' WHERE visit_id = 1")
    )
    status, out = verify_output(capsys)
    assert status == 1
    assert "visits: visit_id 1, sealed by audit entry 2 (records.chain_start db)" in out


# restore ------------------------------------------------------------------------------------------
@pytest.mark.sqlite_only
def test_restore_refuses_a_doctored_backup_unless_forced(db, tmp_path, capsys, new_db):
    doctored = tmp_path / "doctored.sqlite"
    with open_store(db) as store:
        store.backup(doctored)
        store.record_visit(visit("PS0009"), actor="officer")
    run_outside(doctored, "DROP TRIGGER plans_content_frozen; UPDATE plans SET created_by = 'mallory';")
    assert cli("restore", "--from", str(doctored), "--actor", "admin") == 1
    err = capsys.readouterr().err
    assert "backup fails verification, not restored (--force restores it anyway" in err
    assert "trigger plans_content_frozen is missing" in err
    assert "plans: plan_id 1, sealed by audit entry" in err
    with open_store(db) as store:  # untouched
        assert "PS0009" in store.visits()["site_id"].tolist()

    assert cli("restore", "--from", str(doctored), "--actor", "admin", "--force") == 0
    with open_store(db) as store:
        assert "PS0009" not in store.visits()["site_id"].tolist()
        [entry] = store.audit_log(action="db.restore").to_dict("records")
    assert entry["actor"] == "admin"
    assert entry["details"]["forced"] is True
    assert "trigger plans_content_frozen is missing (dropped?)" in entry["details"]["problems"]


@pytest.mark.sqlite_only
def test_a_clean_backup_restores_and_still_verifies(db, tmp_path, capsys, new_db):
    out = tmp_path / "clean.sqlite"
    with open_store(db) as store:
        store.backup(out)
    assert cli("restore", "--from", str(out)) == 0
    capsys.readouterr()
    with open_store(db) as store:
        assert "forced" not in store.audit_log(action="db.restore")["details"].iloc[0]
    assert verify_output(capsys)[0] == 0


@pytest.mark.sqlite_only
def test_a_backup_from_before_the_chain_restores(tmp_path, capsys, monkeypatch, new_db):
    old = new_db("schema4")
    conn = connect(old, migrate_schema=False)
    migrate(conn, target=4)
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, object) VALUES ('2026-01-01T00:00:00Z', 'x', 'db.init', 'db')"
    )
    conn.close()
    target = new_db("restored")
    monkeypatch.setenv("XUNHU_DB", str(target))
    assert cli("restore", "--from", str(old)) == 0
    assert verify_output(capsys)[0] == 0


# release_at ---------------------------------------------------------------------------------------
def test_a_plan_whose_release_at_is_not_a_time_is_not_saved(db):
    with open_store(db) as store, pytest.raises(RecordsError) as refused:
        store.save_plan({**small_plan("week-50"), "release_at": "not a time"}, actor="chief")
    assert str(refused.value) == (
        "plan release_at: 'not a time' is neither a time of day (HH:MM) nor an ISO-8601 time "
        "(e.g. 2026-11-24T06:30)"
    )
    with open_store(db) as store, pytest.raises(RecordsError, match=r"release_at: '25:00' is not a time of"):
        store.save_plan({**small_plan("week-50"), "scenario": {"name": "x", "release_at": "25:00"}})
    with open_store(db) as store:
        assert store.save_plan({**small_plan("week-50"), "release_at": "06:30"}).created


def _stored_with_release_at(db, value: str, status: str) -> int:
    """A plan stored before release_at was checked (inserted as an older version would have)."""
    plan = {**small_plan("week-51"), "release_at": value}
    conn = connect(db)
    with transaction(conn):
        plan_id = inserted_id(
            conn.execute(
                "INSERT INTO plans (plan_key, version, plan_json, content_sha256, status, created_at, "
                "created_by) VALUES ('week-51', 1, ?, 'x', ?, '2026-11-20T00:00:00Z', 'chief') RETURNING plan_id",
                (json.dumps(plan), status),
            )
        )
        conn.execute(
            "INSERT INTO assignments (plan_id, team_id, day, seq, site_id) VALUES (?, 'T1', ?, 1, 'PS0001')",
            (plan_id, DAY.isoformat()),
        )
    conn.close()
    return plan_id


def test_a_stored_draft_with_a_bad_release_at_cannot_be_approved(db):
    plan_id = _stored_with_release_at(db, "not a time", "draft")
    with open_store(db) as store, pytest.raises(RecordsError) as refused:
        store.approve_plan(plan_id, actor="chief")
    assert str(refused.value).startswith(f"plan {plan_id} cannot be approved: plan release_at: 'not a time'")


def test_an_issued_plan_with_a_bad_release_at_stays_hidden_from_officers_without_crashing(db):
    plan_id = _stored_with_release_at(db, "not a time", "approved")
    prefectures = {"PS0001": "650100", "WS0001": "650100"}
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    late = datetime.combine(DAY, time(23, 0), LOCAL_TZ)
    with open_store(db) as store:
        officer = create_account(
            store, "officer-t1", "long enough pw", "officer", detachment="650100", team_id="T1", hasher=fast
        )
        row = store.plan(plan_id)
        decision = access.plan_decision(officer, row, late, prefectures)
        assert not decision.allowed
        assert decision.reason.startswith("not released, plan release_at: 'not a time' is neither")
        assert access.officer_view(row["plan"], "T1", late)["teams"] == [
            {"team_id": "T1", "base": "", "stops": []}
        ]
        assert not access.released(row["plan"], DAY, late)
        shown = access.visible_assignments(store, officer, DAY, late, prefectures)
        assert plan_id not in shown["plan_id"].tolist()
