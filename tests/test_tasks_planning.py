"""Open tasks reach the plan: a case's follow-up and a night-time complaint become mandatory stops
with their deadline and reason, the independent checker agrees, and recording the visit closes the
task (issue 16, "Checked by")."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from patrol_fixtures import make_targets, ring_sites, scenario_dict

from planning.check import check_plan
from planning.patrol import plan_week
from planning.scenario import ScenarioError, parse_scenario, parse_tasks, with_tasks
from records import cases, complaints, tasks, visits
from records.db import LOCAL_TZ, connect

pytestmark = pytest.mark.records

#: Six sites on a ring around Urumqi; the plans below keep only mandatory ones (min_priority 100).
TARGETS = make_targets(ring_sites(6, radius_deg=0.3))
SITE = "PS-00003"


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def _visit(site: str, start: str, outcome: str, minutes: int = 60, team: str = "T1") -> visits.Visit:
    begin = _at(start)
    return visits.Visit(site, team, begin, begin + dt.timedelta(minutes=minutes), outcome)


def _plan(conn, raw: dict) -> tuple[object, dict]:
    """Plan ``raw`` with the database's open tasks (as ``python -m planning plan --db`` does) and
    check it independently."""
    scenario = parse_scenario(raw)
    listed = tasks.planner_tasks(conn, scenario.day_dates()[-1])
    scenario = with_tasks(scenario, parse_tasks(listed))
    plan = plan_week(scenario, targets=TARGETS, network=None, effort=5).to_dict()
    violations = check_plan(scenario, plan, targets=TARGETS, network=None)
    assert violations == [], "\n".join(map(str, violations))
    return scenario, plan


def _stops(plan: dict, site: str) -> list[dict]:
    return [s for t in plan["teams"] for s in t["stops"] if s["type"] == "site" and s["id"] == site]


@pytest.fixture
def conn(tmp_path, new_db):
    connection = connect(new_db("records"))
    yield connection
    connection.close()


def test_a_follow_up_due_in_the_week_is_a_mandatory_stop_by_its_deadline_and_the_visit_closes_it(conn):
    violation = visits.record_visit(conn, _visit(SITE, "2026-11-10T11:00", "violation"), "chief1")
    case = cases.open_case(
        conn, violation, "illegal_discharge", rectify_by=dt.date(2026, 11, 24), actor="chief1"
    )
    # A three-day week (23-25 November) that plans no site of its own: only the task brings SITE in.
    raw = scenario_dict(days=3, sites={"min_priority": 100})
    scenario, plan = _plan(conn, raw)
    (stop,) = _stops(plan, SITE)
    assert stop["mandatory"]
    (served,) = stop["tasks"]
    assert served["reason"] == f"follow-up of case {case['case_no']}, due 11-24"
    end = dt.datetime.fromisoformat(stop["start"]) + dt.timedelta(minutes=stop["service_minutes"])
    assert end <= _at("2026-11-24T23:59:59")
    (entry,) = plan["tasks"]
    assert entry["on_time"] is True and entry["team"] == "T1" and entry["seq"] == stop["seq"]
    assert plan["scenario"]["tasks"][0]["site"] == SITE  # the plan keeps its inputs

    # Recording the follow-up visit where the plan put it closes the task and verifies the case.
    follow_up = visits.record_visit(conn, _visit(SITE, stop["start"][:16], "compliant"), "officer1")
    (task,) = tasks.tasks_frame(conn, state=None).itertuples()
    assert (task.state, task.visit_id) == ("done", follow_up)
    assert cases.find_case(conn, case["case_no"])["state"] == "closed"
    assert tasks.planner_tasks(conn, dt.date(2026, 11, 25)) == []


def test_a_deadline_before_the_first_window_cannot_be_met_and_the_plan_says_so(conn):
    violation = visits.record_visit(conn, _visit(SITE, "2026-11-10T11:00", "violation"), "chief1")
    cases.open_case(conn, violation, "other", rectify_by=dt.date(2026, 11, 20), actor="chief1")
    _, plan = _plan(conn, scenario_dict(days=2, sites={"min_priority": 100}))
    (stop,) = _stops(plan, SITE)  # overdue: still mandatory, as early as the plan allows
    (entry,) = plan["tasks"]
    assert entry["on_time"] is False and "overdue" in entry["note"]
    assert any("overdue" in w for w in plan["warnings"])


def test_a_night_time_complaint_near_a_site_gets_a_night_check_within_its_deadline(conn):
    site_lon, site_lat = (float(v) for v in TARGETS.set_index("site_id").loc[SITE].geometry.coords[0])
    complaint_id = complaints.add_complaint(
        conn,
        complaints.Complaint(
            received_at=_at("2026-11-23T08:00"),
            nature="strong odour at night",
            lon=site_lon + 0.005,  # about 400 m east of the site
            lat=site_lat,
            night=True,
            urgent=True,
        ),
        sites=TARGETS,
        actor="clerk",
    )
    assert complaints.complaints_frame(conn).loc[0, "site_id"] == SITE
    raw = scenario_dict(days=2, night_hours="22:00-02:00", sites={"min_priority": 100})
    scenario, plan = _plan(conn, raw)
    (stop,) = _stops(plan, SITE)
    assert stop["night_check"] and stop["tasks"][0]["kind"] == "night_check"
    start = dt.datetime.fromisoformat(stop["start"])
    assert start.hour >= 22 or start.hour < 2
    assert start + dt.timedelta(minutes=stop["service_minutes"]) <= _at("2026-11-24T08:00")
    assert plan["tasks"][0]["on_time"] is True and f"complaint {complaint_id}" in plan["tasks"][0]["reason"]

    # A day visit does not serve a night check; the night visit does.
    visits.record_visit(conn, _visit(SITE, "2026-11-23T11:00", "compliant"), "officer1")
    assert len(tasks.tasks_frame(conn)) == 1
    night_visit = visits.record_visit(conn, _visit(SITE, stop["start"][:16], "violation"), "officer1")
    assert tasks.tasks_frame(conn).empty
    complaints.close_complaint(conn, complaint_id, night_visit, "Odour confirmed; case opened.", "clerk")
    assert complaints.complaints_frame(conn, "closed").loc[0, "visit_id"] == night_visit


def test_a_night_check_without_a_night_in_the_plan_is_explained(conn):
    complaints.add_complaint(
        conn,
        complaints.Complaint(
            _at("2026-11-23T08:00"), "noise at night", site_id=SITE, night=True, urgent=True
        ),
        sites=TARGETS,
        actor="clerk",
    )
    _, plan = _plan(conn, scenario_dict(days=2, sites={"min_priority": 100}))
    assert _stops(plan, SITE) == []
    (entry,) = plan["tasks"]
    assert entry["team"] is None and "night" in entry["note"]
    assert SITE in plan["mandatory_unmet"]


def test_tasks_outside_the_scenario_regions_or_after_the_plan_are_left_out_with_the_reason(conn):
    korla = {
        "id": "PS-KORLA",
        "lon": 86.15,
        "lat": 41.76,
        "prefecture_code": "652800",
        "county_code": "652801",
    }
    far = make_targets([*ring_sites(6, radius_deg=0.3), korla])
    raw = scenario_dict(days=2, sites={"min_priority": 100, "regions": ["Urumqi"]})
    raw["tasks"] = [
        {"id": "a", "site": "PS-00002", "kind": "follow_up", "due": "2026-12-30", "reason": "later"},
        {"id": "b", "site": "PS-00004", "kind": "complaint_check", "due": "2026-11-24T12:00"},
        {"id": "c", "site": "PS-KORLA", "kind": "follow_up", "due": "2026-11-24"},
    ]
    scenario = parse_scenario(raw)
    plan = plan_week(scenario, targets=far, network=None, effort=5).to_dict()
    notes = {t["id"]: t["note"] for t in plan["tasks"]}
    assert "after this plan" in notes["a"] and notes["b"] is None
    assert "outside the scenario's regions" in notes["c"]
    assert not any("task a" in w or "task c" in w for w in plan["warnings"])  # not this plan's to serve
    assert [s["id"] for t in plan["teams"] for s in t["stops"] if s["type"] == "site"] == ["PS-00004"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("yes", "tasks"),
        ([{"id": 1, "site": "S", "kind": "party", "due": "2026-11-24"}], "tasks[0].kind"),
        ([{"id": 1, "site": "S", "due": "soon"}], "tasks[0].due"),
        ([{"id": 1, "due": "2026-11-24"}], "tasks[0].site"),
        ([{"id": 1, "site": "S", "due": "2026-11-24", "colour": "red"}], "tasks[0].colour"),
    ],
)
def test_bad_task_sections_name_the_field(value, field):
    with pytest.raises(ScenarioError) as error:
        parse_scenario(scenario_dict(tasks=value))
    assert error.value.field == field


def test_plan_cli_reads_the_open_tasks_from_the_database(tmp_path, new_db):
    db = new_db("records")
    with connect(db) as conn:
        complaints.add_complaint(
            conn,
            complaints.Complaint(
                _at("2026-11-23T09:00"), "black water in the canal", site_id="PS-00003", urgent=True
            ),
            actor="clerk",
        )
    scenario = tmp_path / "week.yaml"
    scenario.write_text(
        json.dumps(scenario_dict(days=2, sites={"min_priority": 100, "regions": ["Urumqi"]})),
        encoding="utf-8",
    )
    out = tmp_path / "plan.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "planning",
            "plan",
            "--scenario",
            str(scenario),
            "--out",
            str(out),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    (entry,) = plan["tasks"]
    assert entry["site"] == "PS-00003" and entry["on_time"] is True
    assert "complaint 1" in run.stdout
    # Asking for tasks without a database is refused, naming the switch.
    scenario.write_text(json.dumps(scenario_dict(days=1, tasks=True)), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "planning", "plan", "--scenario", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "tasks: true, but no records database" in run.stderr
