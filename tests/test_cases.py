"""Cases: a violation opens a numbered case with a deadline and a follow-up task; only the allowed
state moves happen (in code and in the database); every change is audited; evidence is stored by
SHA-256, checked on read, and photos far from the visit are flagged (issue 16)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from records_backends import REFUSED, behind_guards, run_outside

from records import audit, cases, evidence, tasks, visits
from records.db import LOCAL_TZ, RecordsError, connect
from records.integrity import verify

pytestmark = pytest.mark.records

SITE, LON, LAT = "PS-00003", 87.660349, 43.748888


def _visit(start: str, outcome: str, site: str = SITE, hours: float = 1.0) -> visits.Visit:
    begin = dt.datetime.fromisoformat(start).replace(tzinfo=LOCAL_TZ)
    return visits.Visit(site, "T1", begin, begin + dt.timedelta(hours=hours), outcome, lon=LON, lat=LAT)


def _photo(path, lon: float, lat: float, taken: str) -> str:
    """A small JPEG whose EXIF says it was taken at (lon, lat) at local time ``taken``."""
    exif = Image.Exif()

    def dms(value: float) -> tuple[float, float, float]:
        degrees, rest = divmod(abs(value) * 3600, 3600)
        minutes, seconds = divmod(rest, 60)
        return (degrees, minutes, round(seconds, 2))

    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    exif[0x8769] = {36867: dt.datetime.fromisoformat(taken).strftime("%Y:%m:%d %H:%M:%S")}
    Image.new("RGB", (16, 16), (120, 90, 30)).save(path, exif=exif)
    return str(path)


@pytest.fixture
def conn(tmp_path, new_db):
    connection = connect(new_db("records"))
    yield connection
    connection.close()


@pytest.fixture
def case(conn):
    visit_id = visits.record_visit(conn, _visit("2026-12-01T10:00", "violation"), "officer1")
    return cases.open_case(conn, visit_id, "hazardous_waste", description="drums in the yard", actor="chief1")


def test_a_violation_opens_a_numbered_case_with_the_category_deadline_and_a_follow_up_task(conn, case):
    assert case["case_no"] == "2026-0001" and case["state"] == "open" and case["chief"] == "chief1"
    assert case["rectify_by"] == "2026-12-31"  # hazardous waste: 30 days after the finding
    (task,) = tasks.tasks_frame(conn).itertuples()
    assert (task.kind, task.site_id, task.case_id) == ("follow_up", SITE, case["case_id"])
    assert task.reason == "follow-up of case 2026-0001, due 12-31"
    # Opening it again (a retry) changes nothing; the next violation gets the next number.
    assert (
        cases.open_case(conn, case["visit_id"], "hazardous_waste", actor="chief1")["case_id"]
        == case["case_id"]
    )
    other = visits.record_visit(conn, _visit("2026-12-02T10:00", "violation", site="PS-00001"), "officer1")
    second = cases.open_case(conn, other, "permit", rectify_by=dt.date(2027, 1, 15), actor="chief1")
    assert (second["case_no"], second["rectify_by"]) == ("2026-0002", "2027-01-15")
    assert len(tasks.tasks_frame(conn)) == 2


def test_only_a_violation_with_a_known_category_opens_a_case(conn):
    compliant = visits.record_visit(conn, _visit("2026-12-01T10:00", "compliant"), "officer1")
    with pytest.raises(RecordsError, match="only a violation opens a case"):
        cases.open_case(conn, compliant, "permit", actor="chief1")
    violation = visits.record_visit(conn, _visit("2026-12-02T10:00", "violation"), "officer1")
    with pytest.raises(RecordsError, match="finding: 'smoke' is not one of"):
        cases.open_case(conn, violation, "smoke", actor="chief1")
    with pytest.raises(RecordsError, match="rectify-by: 2026-12-01 is not after the finding on 2026-12-02"):
        cases.open_case(conn, violation, "permit", rectify_by=dt.date(2026, 12, 1), actor="chief1")


def test_closing_a_case_without_a_follow_up_visit_is_refused_in_code_and_by_the_database(conn, case):
    with pytest.raises(RecordsError, match="is open and cannot move to closed"):
        cases.change_state(conn, case["case_no"], "closed", actor="chief1")
    cases.change_state(conn, case["case_no"], "rectifying", note="order served", actor="chief1")
    with pytest.raises(
        RecordsError, match="cannot be closed: there is no compliant follow-up visit at PS-00003"
    ):
        cases.change_state(conn, case["case_no"], "closed", actor="chief1")
    # The violation visit itself does not verify anything, even written past the code.
    with pytest.raises(REFUSED, match="closes only with a later compliant visit"):
        conn.execute("UPDATE cases SET state = 'closed', verified_visit_id = visit_id")
    with pytest.raises(REFUSED, match="may only go open -> rectifying -> closed"):
        conn.execute("UPDATE cases SET state = 'open'")
    with pytest.raises(REFUSED, match="keeps what was found"):
        conn.execute("UPDATE cases SET category = 'other'")
    with pytest.raises(REFUSED, match="cannot be deleted"):
        conn.execute("DELETE FROM cases")
    assert cases.find_case(conn, case["case_no"])["state"] == "rectifying"


def test_a_compliant_follow_up_closes_task_and_case_and_every_change_is_audited(conn, case):
    cases.change_state(conn, case["case_no"], "rectifying", actor="chief1")
    # Not inspected (gate locked) serves nothing; a follow-up that still finds the violation closes
    # the task but not the case; the chief sets a new deadline: a new follow-up task.
    locked = _visit("2026-12-10T10:00", "not_inspected")
    visits.record_visit(conn, visits.Visit(**{**locked.__dict__, "reason": "gate locked"}), "officer1")
    assert tasks.tasks_frame(conn)["state"].tolist() == ["open"]
    visits.record_visit(conn, _visit("2026-12-20T10:00", "violation"), "officer1")
    assert tasks.tasks_frame(conn).empty and cases.find_case(conn, 1)["state"] == "rectifying"
    cases.set_deadline(conn, case["case_no"], dt.date(2027, 1, 10), note="extension granted", actor="chief1")
    (task,) = tasks.tasks_frame(conn).itertuples()
    assert task.reason == "follow-up of case 2026-0001, due 01-10"
    follow_up = visits.record_visit(conn, _visit("2027-01-08T10:00", "compliant"), "officer2")
    # Recording it again (a second tap on Save) stores nothing more.
    assert visits.record_visit(conn, _visit("2027-01-08T10:00", "compliant"), "officer2") == follow_up
    closed = cases.find_case(conn, case["case_no"])
    assert (closed["state"], closed["verified_visit_id"]) == ("closed", follow_up)
    assert tasks.tasks_frame(conn, state="done")["visit_id"].tolist() == [case["visit_id"] + 2, follow_up]
    with pytest.raises(RecordsError, match="is closed and cannot move to escalated"):
        cases.change_state(conn, case["case_no"], "escalated", actor="chief1")

    moves = [
        (row["from_state"], row["to_state"])
        for row in conn.execute("SELECT * FROM case_events WHERE kind = 'state' ORDER BY event_id")
    ]
    assert moves == [("open", "rectifying"), ("rectifying", "closed")]
    logged = audit.entries(conn, obj=f"case:{case['case_id']}")
    states = logged[logged["action"] == "case.state"]["details"].tolist()
    assert [(d["from"], d["to"]) for d in states] == moves
    assert states[-1]["visit_id"] == follow_up
    assert logged["action"].tolist() == ["case.open", "case.state", "case.deadline", "case.state"]
    assert audit.entries(conn, action="task.done")["object"].nunique() == 2
    assert verify(conn).problems == []


def test_escalating_cancels_the_follow_up_and_is_final(conn, case):
    cases.change_state(conn, case["case_no"], "escalated", note="transferred to the police", actor="chief1")
    assert tasks.tasks_frame(conn).empty
    assert tasks.tasks_frame(conn, state="cancelled")["closed_note"].tolist() == ["case 2026-0001 escalated"]
    with pytest.raises(RecordsError, match="deadline is final"):
        cases.set_deadline(conn, case["case_no"], dt.date(2027, 2, 1), actor="chief1")
    with pytest.raises(REFUSED, match="cannot be changed"):
        conn.execute("UPDATE cases SET rectify_by = '2027-02-01'")


def test_a_photo_taken_50_km_from_the_visit_is_flagged_and_a_nearby_one_is_not(conn, case, tmp_path):
    near = _photo(tmp_path / "near.jpg", LON + 0.001, LAT, "2026-12-01T10:20")
    far = _photo(tmp_path / "far.jpg", LON, LAT + 0.45, "2026-12-01T10:20")  # 0.45° north: 50 km
    late = _photo(tmp_path / "late.jpg", LON, LAT, "2026-12-03T10:20")
    ids = [evidence.add_evidence(conn, case["case_id"], p, "chief1") for p in (near, far, late)]
    flags = {
        row["evidence_id"]: json.loads(row["flags"])
        for row in conn.execute("SELECT * FROM evidence ORDER BY 1")
    }
    assert flags[ids[0]] == []
    (far_flag,) = flags[ids[1]]
    assert "50.0 km from the visit's position" in far_flag
    (late_flag,) = flags[ids[2]]
    assert "47.3 h outside the visit" in late_flag
    stored = conn.execute(
        "SELECT lon, lat, taken_at FROM evidence WHERE evidence_id = ?", (ids[1],)
    ).fetchone()
    assert (
        stored["lat"] == pytest.approx(LAT + 0.45, abs=1e-4) and stored["taken_at"] == "2026-12-01T02:20:00Z"
    )


def test_evidence_is_stored_by_sha256_and_a_changed_file_is_reported_on_read(conn, case, tmp_path, new_db):
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 sampling report: COD 480 mg/L")
    evidence_id = evidence.add_evidence(conn, case["case_id"], report, "chief1")
    assert evidence.add_evidence(conn, case["case_id"], report, "chief1") == evidence_id  # once
    row = conn.execute("SELECT * FROM evidence WHERE evidence_id = ?", (evidence_id,)).fetchone()
    stored = evidence.stored_path(conn, row["sha256"])
    assert stored.parent.parent == tmp_path / "evidence" and row["size_bytes"] == len(report.read_bytes())
    assert evidence.read_evidence(conn, evidence_id) == report.read_bytes()
    stored.write_bytes(b"%PDF-1.4 sampling report: COD 48 mg/L")
    with pytest.raises(RecordsError, match="was changed after it was stored"):
        evidence.read_evidence(conn, evidence_id)
    (problem,) = evidence.verify_evidence(conn)
    assert f"evidence {evidence_id} (report.pdf, case {case['case_id']})" in problem
    run = _records(new_db("records"), "case", "show", "2026-0001")
    assert run.returncode == 1 and "PROBLEM" in run.stdout and "changed" in run.stdout
    stored.unlink()
    with pytest.raises(RecordsError, match="is missing"):
        evidence.read_evidence(conn, evidence_id)
    with pytest.raises(REFUSED, match="cannot be changed"):
        conn.execute("UPDATE evidence SET sha256 = ?", ("0" * 64,))


def _records(db: Path | str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "records",
            *argv,
            "--db",
            str(db),
            "--actor",
            "chief1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_opens_updates_and_shows_a_case_with_clear_errors(tmp_path, new_db):
    photo = _photo(tmp_path / "far.jpg", LON, LAT + 0.45, "2026-12-01T10:20")
    visit = ["record-visit", "--site", SITE, "--team", "T1", "--start", "2026-12-01T10:00"]
    visit += ["--end", "2026-12-01T11:00", "--lon", str(LON), "--lat", str(LAT), "--outcome", "violation"]
    run = _records(
        new_db("records"),
        *visit,
        "--finding",
        "illegal_discharge",
        "--rectify-by",
        "2026-12-12",
        "--evidence",
        photo,
    )
    assert run.returncode == 0, run.stderr
    assert "case 2026-0001 opened (illegal_discharge), rectify by 2026-12-12" in run.stdout
    assert "taken 50.0 km from the visit's position" in run.stderr
    bad = _records(new_db("records"), *visit, "--finding", "permit", "--rectify-by", "soon")
    assert bad.returncode == 1 and "--rectify-by: 'soon' is not a date (YYYY-MM-DD)" in bad.stderr
    refused = _records(new_db("records"), "case", "update", "2026-0001", "--state", "closed")
    assert refused.returncode == 1 and "is open and cannot move to closed" in refused.stderr
    assert (
        _records(
            new_db("records"), "case", "update", "2026-0001", "--state", "rectifying", "--note", "ordered"
        ).returncode
        == 0
    )
    tasks_run = _records(new_db("records"), "tasks", "--due-before", "2026-12-13")
    assert "follow-up of case 2026-0001, due 12-12" in tasks_run.stdout
    assert "no tasks" in _records(new_db("records"), "tasks", "--due-before", "2026-12-12").stdout
    shown = _records(new_db("records"), "case", "show", "2026-0001")
    assert shown.returncode == 0 and "open->rectifying ordered" in shown.stdout and "FLAGGED" in shown.stdout
    assert "2026-0001" in _records(new_db("records"), "case", "list", "--state", "rectifying").stdout
    assert _records(new_db("records"), "verify").returncode == 0


def test_cli_refuses_a_violation_without_its_finding_and_stores_nothing(new_db):
    visit = ["record-visit", "--site", SITE, "--team", "T1", "--start", "2026-12-01T10:00"]
    visit += ["--end", "2026-12-01T11:00", "--lon", str(LON), "--lat", str(LAT), "--outcome", "violation"]
    refused = _records(new_db("records"), *visit)
    assert refused.returncode == 1
    assert "--outcome violation opens a case: give --finding CATEGORY" in refused.stderr
    assert "illegal_discharge" in refused.stderr and "Traceback" not in refused.stderr
    listed = _records(new_db("records"), "visits", "list")
    assert listed.returncode == 0 and SITE not in listed.stdout


def test_verify_finds_a_hand_edited_case_history_and_evidence_row(conn, case, tmp_path, new_db):
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 sampling report")
    evidence_id = evidence.add_evidence(conn, case["case_id"], report, "chief1")
    cases.change_state(conn, case["case_no"], "rectifying", actor="chief1")
    assert verify(conn).problems == []
    # Someone with the database lifts the guards, rewrites history, and puts the guards back.
    db = new_db("records")
    for table, sql in (
        ("case_events", "UPDATE case_events SET to_state = 'escalated' WHERE kind = 'state'"),
        ("evidence", f"UPDATE evidence SET file_name = 'other.pdf' WHERE evidence_id = {evidence_id}"),
    ):
        run_outside(db, behind_guards(db, table, sql))
    problems = verify(conn).problems
    assert any(p.startswith("case_events:") for p in problems), problems
    assert any(p.startswith("evidence:") for p in problems), problems
