"""Who sees which plan and when: officers (own team, after release), chiefs, managers, admins; sessions."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from records import access
from records.access import (
    NOT_AVAILABLE,
    AccessDenied,
    Session,
    SessionExpired,
    can,
    can_view_plan,
    login,
    logout,
    open_plan,
    plan_detachments,
    plan_statistics,
    release_moment,
    require,
    resume,
    visible_assignments,
)
from records.accounts import AuthError, create_account, disable_account, get_account
from records.db import LOCAL_TZ, RecordsError
from records.store import open_store
from records.visits import Visit

pytestmark = pytest.mark.records

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)
URUMQI, CHANGJI, KASHGAR = "650100", "652300", "653100"
#: Which prefecture each test site lies in (stands in for the registry).
SITES = {"PS-U1": URUMQI, "PS-U2": URUMQI, "PS-C1": CHANGJI, "PS-K1": KASHGAR}


def at(day: date, hh_mm: str) -> datetime:
    """A Beijing-time moment."""
    return datetime.combine(day, time.fromisoformat(hh_mm), LOCAL_TZ)


def plan(name: str, routes: dict[str, list[tuple[str, date]]], **extra) -> dict:
    """A plan in the planner's shape: per team, base -> its (site, day) stops at 10:00 -> base."""
    teams = []
    for team_id, visits in routes.items():
        stops = [{"seq": 0, "type": "base", "id": f"B-{team_id}", "arrive": f"{visits[0][1]}T08:00:00+08:00"}]
        for site, day in visits:
            stops.append(
                {
                    "seq": len(stops),
                    "type": "site",
                    "id": site,
                    "name": site,
                    "arrive": f"{day}T10:00:00+08:00",
                }
            )
        stops.append(
            {
                "seq": len(stops),
                "type": "base",
                "id": f"B-{team_id}",
                "arrive": f"{visits[-1][1]}T18:00:00+08:00",
            }
        )
        teams.append({"team_id": team_id, "base": f"B-{team_id}", "stops": stops})
    return {
        "scenario": {"name": name},
        "teams": teams,
        "dropped": [{"id": "PS-X"}],
        "kpis": {"sites_visited": 3},
        **extra,
    }


@pytest.fixture
def world(tmp_path, new_db):
    """A joint Urumqi-Changji plan (T1 two days, T2 one day), a Kashgar plan with its own T1, and one
    account of each kind."""
    with open_store(new_db("access")) as store:
        joint = store.save_plan(
            plan("joint", {"T1": [("PS-U1", DAY1), ("PS-U2", DAY2)], "T2": [("PS-C1", DAY1)]}),
            actor="chief-u",
        ).plan_id
        kashgar = store.save_plan(plan("kashgar", {"T1": [("PS-K1", DAY1)]}), actor="chief-k").plan_id
        store.approve_plan(joint, actor="chief-u")
        store.approve_plan(kashgar, actor="chief-k")

        def account(name, role, **fields):
            return create_account(store, name, PASSWORD, role, actor="root", hasher=FAST, **fields)

        people = {
            "officer": account("officer-t1", "officer", detachment=URUMQI, team_id="T1"),
            "officer2": account("officer-t2", "officer", detachment=CHANGJI, team_id="T2"),
            "chief": account("chief-u", "chief", detachment=URUMQI),
            "chief_k": account("chief-k", "chief", detachment=KASHGAR),
            "manager": account("manager", "manager"),
            "analyst": account("analyst", "manager", permissions=("drilldown",)),
            "admin": account("root", "admin"),
        }
        yield store, {"joint": joint, "kashgar": kashgar}, people


def denials(store, actor: str) -> list[tuple[str, str]]:
    log = store.audit_log(action="access.denied")
    log = log[log["actor"] == actor]
    return [(obj, details["reason"]) for obj, details in zip(log["object"], log["details"], strict=True)]


def sites(frame) -> list[str]:
    return sorted(frame["site_id"])


def test_officer_sees_own_team_only_from_seven_on_the_day(world):
    store, _, people = world
    officer = people["officer"]
    assert visible_assignments(store, officer, DAY1, at(DAY1, "06:59"), SITES).empty
    assert sites(visible_assignments(store, officer, DAY1, at(DAY1, "07:00"), SITES)) == ["PS-U1"]
    # Tomorrow's stop stays secret all of today, and the Kashgar team that is also called T1 never shows.
    assert visible_assignments(store, officer, DAY2, at(DAY1, "23:59"), SITES).empty
    assert sites(visible_assignments(store, officer, DAY2, at(DAY2, "07:00"), SITES)) == ["PS-U2"]
    assert sites(visible_assignments(store, people["officer2"], DAY1, at(DAY1, "08:00"), SITES)) == ["PS-C1"]


def test_officer_opening_a_plan_sees_only_released_stops_of_their_team(world):
    store, ids, people = world
    officer = people["officer"]
    with pytest.raises(AccessDenied) as refused:
        open_plan(store, officer, ids["joint"], at(DAY1, "06:30"), SITES)
    assert str(refused.value) == NOT_AVAILABLE
    assert denials(store, "officer-t1") == [
        (f"plan:{ids['joint']}", "not released before 2026-11-24T07:00:00+08:00")
    ]
    seen = open_plan(store, officer, ids["joint"], at(DAY1, "09:00"), SITES)
    [team] = seen["plan"]["teams"]
    assert team["team_id"] == "T1"
    assert [s["id"] for s in team["stops"]] == ["B-T1", "PS-U1"]  # not PS-U2 (tomorrow), not T2
    assert "dropped" not in seen["plan"] and "kpis" not in seen["plan"]
    later = open_plan(store, officer, ids["joint"], at(DAY2, "07:00"), SITES)
    assert [s["id"] for s in later["plan"]["teams"][0]["stops"]] == ["B-T1", "PS-U1", "PS-U2", "B-T1"]


def test_direct_access_to_another_teams_or_detachments_plan_is_refused_and_logged(world):
    store, ids, people = world
    noon = at(DAY1, "12:00")
    for who, plan_id, reason in [
        ("officer", ids["kashgar"], "plan of another detachment"),
        ("officer2", ids["kashgar"], "plan of another detachment"),
        ("officer", 999, "no such plan"),
        ("officer", "1 OR 1=1", "no such plan"),
    ]:
        account = people[who]
        with pytest.raises(AccessDenied) as refused:
            open_plan(store, account, plan_id, noon, SITES)
        assert str(refused.value) == NOT_AVAILABLE  # an unknown id and a forbidden one look alike
        assert denials(store, account.username)[-1] == (f"plan:{plan_id}", reason)
    # A Changji officer in the joint plan sees only T2; a plan without their team is refused.
    assert [
        t["team_id"] for t in open_plan(store, people["officer2"], ids["joint"], noon, SITES)["plan"]["teams"]
    ] == ["T2"]
    solo = store.save_plan(plan("urumqi only", {"T1": [("PS-U1", DAY1)]}), actor="chief-u").plan_id
    store.approve_plan(solo, actor="chief-u")
    officer_elsewhere = replace(people["officer2"], detachment=URUMQI)
    assert not can_view_plan(officer_elsewhere, store.plan(solo), noon, SITES)


def test_plan_lists_hold_only_what_each_account_may_open(world):
    store, ids, people = world
    draft = store.save_plan(plan("draft week", {"T1": [("PS-U1", DAY2)]}), actor="chief-u").plan_id
    listed = {
        who: access.visible_plans(store, people[who], at(DAY1, "07:30"), SITES)["plan_id"].tolist()
        for who in ("officer", "officer2", "chief", "chief_k", "analyst", "admin")
    }
    assert listed == {
        "officer": [ids["joint"]],
        "officer2": [ids["joint"]],
        "chief": [draft, ids["joint"]],
        "chief_k": [ids["kashgar"]],
        "analyst": [draft, ids["kashgar"], ids["joint"]],
        "admin": [draft, ids["kashgar"], ids["joint"]],
    }
    assert access.visible_plans(store, people["officer"], at(DAY1, "06:59"), SITES).empty
    with pytest.raises(AccessDenied):
        access.visible_plans(store, people["manager"], at(DAY1, "07:30"), SITES)


def test_drafts_are_never_shown_to_officers(world):
    store, _, people = world
    draft = store.save_plan(plan("draft week", {"T1": [("PS-U1", DAY1)]}), actor="chief-u").plan_id
    assert not can_view_plan(people["officer"], store.plan(draft), at(DAY2, "12:00"), SITES)
    with pytest.raises(AccessDenied):
        visible_assignments(store, people["officer"], DAY1, at(DAY1, "12:00"), SITES, include_drafts=True)
    assert denials(store, "officer-t1") == [("assignments:2026-11-24", "drafts are not issued to officers")]
    # The chief previews drafts of the detachment.
    preview = visible_assignments(store, people["chief"], DAY1, at(DAY1, "06:00"), SITES, include_drafts=True)
    assert draft in set(preview["plan_id"])


def test_release_time_from_the_plan_or_the_configuration(world, monkeypatch):
    early = plan("early", {"T1": [("PS-U1", DAY1)]}, release_at="05:30")
    whole = plan(
        "whole week", {"T1": [("PS-U1", DAY1), ("PS-U2", DAY2)]}, release_at="2026-11-23T18:00:00+08:00"
    )
    assert release_moment(early, DAY1) == at(DAY1, "05:30")
    assert release_moment(whole, DAY2) == at(DAY1, "00:00") - timedelta(hours=6)
    assert release_moment(plan("x", {"T1": [("PS-U1", DAY1)]}), DAY1) == at(DAY1, "07:00")
    monkeypatch.setenv(access.RELEASE_TIME_ENV, "06:15")
    assert release_moment(plan("x", {"T1": [("PS-U1", DAY1)]}), DAY1) == at(DAY1, "06:15")
    monkeypatch.setenv(access.RELEASE_TIME_ENV, "7 am")
    with pytest.raises(RecordsError, match="XUNHU_RELEASE_TIME"):
        release_moment(plan("x", {"T1": [("PS-U1", DAY1)]}), DAY1)
    with pytest.raises(RecordsError, match="release_at"):
        release_moment({**early, "release_at": "someday"}, DAY1)
    store, _, people = world
    plan_id = store.save_plan(early, actor="chief-u").plan_id
    store.approve_plan(plan_id, actor="chief-u")
    row = store.plan(plan_id)
    assert not can_view_plan(people["officer"], row, at(DAY1, "05:29"), SITES)
    assert can_view_plan(people["officer"], row, at(DAY1, "05:30"), SITES)


def test_chief_sees_the_plans_of_their_detachment(world):
    store, ids, people = world
    chief, chief_k = people["chief"], people["chief_k"]
    night = at(DAY1, "01:00")  # chiefs are not bound by the release time
    assert sites(visible_assignments(store, chief, DAY1, night, SITES)) == ["PS-C1", "PS-U1"]  # joint plan
    assert sites(visible_assignments(store, chief_k, DAY1, night, SITES)) == ["PS-K1"]
    assert open_plan(store, chief, ids["joint"], night, SITES)["plan"]["dropped"] == [{"id": "PS-X"}]
    with pytest.raises(AccessDenied):
        open_plan(store, chief, ids["kashgar"], night, SITES)
    assert denials(store, "chief-u") == [(f"plan:{ids['kashgar']}", "plan of another detachment")]


def test_plan_detachments_come_from_the_sites_unless_declared():
    joint = plan("joint", {"T1": [("PS-U1", DAY1)], "T2": [("PS-C1", DAY1), ("PS-unknown", DAY1)]})
    assert plan_detachments(joint, SITES) == {URUMQI, CHANGJI}
    assert plan_detachments({**joint, "detachment": KASHGAR}, SITES) == {KASHGAR}
    assert plan_detachments({**joint, "scenario": {"detachment": [URUMQI]}}, SITES) == {URUMQI}
    assert plan_detachments(plan("nowhere", {"T1": [("PS-unknown", DAY1)]}), SITES) == frozenset()


def test_manager_gets_numbers_only_unless_allowed_to_drill_down(world):
    store, ids, people = world
    manager, analyst = people["manager"], people["analyst"]
    noon = at(DAY1, "12:00")
    stats = plan_statistics(store, manager, DAY1, DAY2, noon, SITES)
    assert list(stats.columns) == ["day", "prefecture_code", "plans", "teams", "site_stops"]
    # Only released days: tomorrow's PS-U2 is not counted yet.
    assert stats.to_dict("records") == [
        {"day": "2026-11-24", "prefecture_code": URUMQI, "plans": 1, "teams": 1, "site_stops": 1},
        {"day": "2026-11-24", "prefecture_code": CHANGJI, "plans": 1, "teams": 1, "site_stops": 1},
        {"day": "2026-11-24", "prefecture_code": KASHGAR, "plans": 1, "teams": 1, "site_stops": 1},
    ]
    empty = plan_statistics(store, manager, DAY1, DAY2, at(DAY1, "06:00"), SITES)
    assert empty.empty and list(empty.columns) == list(stats.columns)
    with pytest.raises(AccessDenied, match="statistics only"):
        visible_assignments(store, manager, DAY1, noon, SITES)
    with pytest.raises(AccessDenied):
        open_plan(store, manager, ids["joint"], noon, SITES)
    assert [reason for _, reason in denials(store, "manager")] == [
        "no access to assignments",
        "aggregate statistics only (no drilldown permission)",
    ]
    assert sites(visible_assignments(store, analyst, DAY1, noon, SITES)) == ["PS-C1", "PS-K1", "PS-U1"]
    assert open_plan(store, analyst, ids["kashgar"], noon, SITES)["plan"]["teams"][0]["team_id"] == "T1"
    assert plan_statistics(store, analyst, DAY1, DAY2, noon, SITES)["site_stops"].sum() == 4
    chief_stats = plan_statistics(store, people["chief"], DAY1, DAY2, noon, SITES)
    assert set(chief_stats["prefecture_code"]) == {URUMQI} and chief_stats["site_stops"].sum() == 2


def test_capabilities_per_role(world):
    store, _, people = world
    assert can(people["admin"], "manage_accounts") and can(people["admin"], "audit_log")
    assert not can(people["chief"], "manage_accounts") and can(people["chief"], "approve_plan")
    assert not can(people["manager"], "all_plans") and can(people["analyst"], "all_plans")
    assert not can(replace(people["admin"], disabled=True), "audit_log")
    with pytest.raises(ValueError, match="unknown capability"):
        can(people["admin"], "fly")
    for who in ("officer", "chief", "manager"):
        with pytest.raises(AccessDenied):
            access.audit_entries(store, people[who])
        with pytest.raises(AccessDenied):
            require(store, people[who], "manage_accounts", "page:accounts")
    with pytest.raises(AccessDenied):
        plan_statistics(store, people["officer"], DAY1, DAY2, at(DAY1, "12:00"), SITES)
    assert not access.audit_entries(store, people["admin"]).empty


def test_approval_needs_a_chief_of_the_detachment_and_names_them(world):
    store, _, people = world
    draft = store.save_plan(plan("next week", {"T1": [("PS-U1", DAY2)]}), actor="chief-u").plan_id
    for who in ("officer", "chief_k", "manager"):
        with pytest.raises(AccessDenied):
            access.approve_plan(store, people[who], draft, at(DAY1, "12:00"), SITES)
    assert store.plan(draft)["status"] == "draft"
    access.approve_plan(store, people["chief"], draft, at(DAY1, "12:00"), SITES)
    row = store.plan(draft)
    assert (row["status"], row["approved_by"]) == ("approved", "chief-u")
    assert store.audit_log(obj=f"plan:{draft}", action="plan.approve")["actor"].tolist() == ["chief-u"]


def test_session_idle_timeout_and_maximum_age(world):
    store, _, people = world
    t0 = at(DAY1, "09:00")
    session = login(store, "Officer-T1", PASSWORD, t0, hasher=FAST)
    assert session.account.username == "officer-t1"
    assert resume(store, session, t0 + timedelta(minutes=29)).team_id == "T1"
    assert resume(store, session, t0 + timedelta(minutes=58)).team_id == "T1"  # touched at 09:29
    assert session.expired(t0 + timedelta(minutes=88))
    with pytest.raises(SessionExpired):
        resume(store, session, t0 + timedelta(minutes=88))
    expired = store.audit_log(action="auth.session_expired")
    assert expired["actor"].tolist() == ["officer-t1"] and expired["details"].iloc[0]["idle_minutes"] == 30.0
    busy = Session(people["chief"], issued_at=t0, last_seen=t0)
    for minutes in range(20, 12 * 60, 20):
        busy.touch(t0 + timedelta(minutes=minutes))
    assert not busy.expired(t0 + timedelta(hours=11, minutes=59))
    assert busy.expired(t0 + timedelta(hours=12))
    with pytest.raises(AuthError):
        login(store, "officer-t1", "wrong password", t0, hasher=FAST)


def test_session_follows_account_changes_and_logout_is_logged(world):
    store, _, people = world
    t0 = at(DAY1, "09:00")
    session = login(store, "chief-u", PASSWORD, t0, hasher=FAST)
    store.conn.execute("UPDATE accounts SET detachment = ? WHERE username = 'chief-u'", (KASHGAR,))
    assert resume(store, session, t0 + timedelta(minutes=1)).detachment == KASHGAR
    disable_account(store, "chief-u", actor="root")
    with pytest.raises(AccessDenied, match="disabled"):
        resume(store, session, t0 + timedelta(minutes=2))
    other = login(store, "manager", PASSWORD, t0, hasher=FAST)
    logout(store, other)
    assert store.audit_log(action="auth.logout")["actor"].tolist() == ["manager"]
    assert get_account(store, "chief-u").disabled


def test_without_a_mapping_the_shipped_registry_places_the_sites():
    mapping = access.registry_site_prefectures()
    urumqi_site = next(site for site, code in mapping.items() if code == URUMQI)
    kashgar_site = next(site for site, code in mapping.items() if code == KASHGAR)
    joint = plan("real sites", {"T1": [(urumqi_site, DAY1)], "T2": [(kashgar_site, DAY1)]})
    assert plan_detachments(joint) == {URUMQI, KASHGAR}


def test_visits_are_recorded_by_the_right_people_and_name_them(world):
    store, ids, people = world
    start = at(DAY1, "10:00")

    def visit(site: str, team: str, plan_id: int | None = None) -> Visit:
        return Visit(site, team, start, start + timedelta(minutes=40), "compliant", plan_id=plan_id)

    visit_id = access.record_visit(store, people["officer"], visit("PS-U1", "T1"), site_prefectures=SITES)
    access.record_visit(store, people["chief"], visit("PS-U2", "T3"), site_prefectures=SITES)
    access.record_visit(store, people["chief"], visit("PS-C1", "T2", ids["joint"]), site_prefectures=SITES)
    for who, record in [
        ("officer", visit("PS-C1", "T2")),
        ("chief_k", visit("PS-U1", "T1")),
        ("chief_k", visit("PS-U1", "T1", ids["joint"])),
        ("manager", visit("PS-U1", "T1")),
    ]:
        with pytest.raises(AccessDenied):
            access.record_visit(store, people[who], record, site_prefectures=SITES)
    recorded = store.conn.execute("SELECT visit_id, recorded_by FROM visits ORDER BY visit_id").fetchall()
    assert [tuple(row) for row in recorded] == [(visit_id, "officer-t1"), (2, "chief-u"), (3, "chief-u")]
    assert store.audit_log(action="visit.record")["actor"].tolist() == ["officer-t1", "chief-u", "chief-u"]
    assert [reason for _, reason in denials(store, "chief-k")] == ["site of another detachment"] * 2


def test_the_policy_modules_do_not_load_streamlit():
    code = "import sys, records.access, records.accounts; print(sorted(m for m in sys.modules if 'streamlit' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.stdout.strip() == "[]"


def test_an_officer_whose_team_lost_all_its_work_in_a_re_plan_may_still_read_what_changed(world):
    _, _, people = world
    officer = people["officer"]
    replanned = plan("re-planned", {"T2": [("PS-U1", DAY1)]})
    base = {"seq": 0, "type": "base", "id": "B-T1", "arrive": f"{DAY1}T08:00:00+08:00"}
    replanned["teams"].append({"team_id": "T1", "stops": [base]})
    replanned["replan"] = {
        "diff": [
            {
                "team": "T1",
                "date": DAY1.isoformat(),
                "kept": [],
                "moved_in": [],
                "moved_out": ["PS-U1"],
                "added": [],
                "removed": [],
            }
        ]
    }
    row = {"plan": replanned, "status": "approved"}
    assert not can_view_plan(officer, row, at(DAY1, "06:59"), SITES)
    assert can_view_plan(officer, row, at(DAY1, "07:00"), SITES)
    row["plan"] = {**replanned, "replan": {}}
    assert not can_view_plan(officer, row, at(DAY1, "07:00"), SITES)
