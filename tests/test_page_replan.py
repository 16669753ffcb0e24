"""Re-plan from now on the Plan week page (views/plan_week_replan.py) and the update notice on My
sites, under AppTest. The week is a tiny great-circle scenario around Urumqi (as in
tests/test_replan.py); the page's re-planner and checker are the real ones, given that
scenario's targets and no road network."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from patrol_fixtures import make_targets, ring_sites, scenario_dict
from streamlit.testing.v1 import AppTest

from planning import replan as replanning
from planning.check import check_plan
from planning.patrol import plan_week
from planning.scenario import BEIJING, parse_scenario
from records.accounts import create_account
from records.store import open_store
from records.visits import Visit

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
NOW = "2026-11-24T12:00:00+08:00"  # in day 2 (under way); day 3 ahead


def _plan_page() -> None:
    from views.pages.plan_week import render

    render()


def _sites_page() -> None:
    from views.pages.my_sites import render

    render()


@pytest.fixture(scope="module")
def week():
    targets = make_targets(ring_sites(36, radius_deg=0.8, service_minutes=60))
    raw = scenario_dict(
        name="replan-test",
        days=3,
        teams=[{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Changji"}],
    )
    plan = plan_week(parse_scenario(raw), targets=targets, network=None, effort=4).to_dict()
    return targets, plan


@pytest.fixture
def records(week, tmp_path, monkeypatch):
    """A records DB with the week approved (version 1) by the Urumqi chief, one recorded visit,
    and the page's re-planner, checker and site prefectures bound to the tiny scenario."""
    targets, plan = week
    db = tmp_path / "records.sqlite"
    monkeypatch.setenv("XUNHU_DB", str(db))
    monkeypatch.setenv("XUNHU_NOW", NOW)
    with open_store(db) as store:
        made = {
            "chief": create_account(
                store, "chief-urumqi", PASSWORD, "chief", detachment="650100", hasher=FAST
            ),
            "officer": create_account(
                store, "officer-t1", PASSWORD, "officer", detachment="650100", team_id="T1", hasher=FAST
            ),
        }
        saved = store.save_plan(plan, actor="chief-urumqi")
        store.approve_plan(saved.plan_id, actor="chief-urumqi")
        first = next(s for s in plan["teams"][0]["stops"] if s["type"] == "site")
        started = dt.datetime.fromisoformat(first["start"])
        store.record_visit(
            Visit(first["id"], "T1", started, started + dt.timedelta(minutes=60), "compliant"),
            actor="officer",
        )
    from views import plan_week_replan, plan_week_result
    from views.pages import my_sites

    site_ids = {str(s) for s in targets["site_id"]}
    prefectures = {s: "650100" for s in site_ids}
    calls: dict[str, dict] = {}
    real_replan = replanning.replan

    def fake_replan(previous, now, **kwargs):
        calls["replan"] = {"now": now, **kwargs}
        return real_replan(previous, now, **{**kwargs, "targets": targets, "network": None})

    def fake_check(scenario, plan, **kwargs):
        return check_plan(scenario, plan, targets=targets, network=None)

    monkeypatch.setattr(replanning, "replan", fake_replan)
    monkeypatch.setattr(plan_week_result, "check_plan", fake_check)
    monkeypatch.setattr(plan_week_result, "_legs", lambda plan_json: {})
    monkeypatch.setattr(plan_week_replan, "_legs", lambda plan_json: {})
    for module in (plan_week_replan, my_sites.data):
        monkeypatch.setattr(module, "site_prefectures", lambda: prefectures)
    plan_week_result._violations.clear()
    yield db, made, saved, calls, first["id"]
    plan_week_result._violations.clear()


def _app(page, account, lang="zh") -> AppTest:
    at = AppTest.from_function(page, default_timeout=180)
    at.session_state["account"] = account
    at.session_state["lang"] = lang
    return at


def _replanned(made) -> AppTest:
    """A chief re-plans the approved week from NOW with team T1 unavailable on day 3."""
    at = _app(_plan_page, made["chief"]).run()
    assert not at.exception
    at.radio(key="replan.overrides.kind.zh").set_value("队伍不可用").run()
    at.selectbox(key="replan.overrides.team").select("T1").run()
    at.selectbox(key="replan.overrides.from").select("2026-11-25").run()
    at.selectbox(key="replan.overrides.to").select("2026-11-25").run()
    at.button(key="replan.overrides.add").click().run()
    at.number_input(key="replan.effort").set_value(3).run()
    at.button(key="replan.run").click().run()
    assert not at.exception
    return at


def test_replan_form_renders_for_a_chief_with_an_approved_plan(records):
    _, made, saved, _, _ = records
    at = _app(_plan_page, made["chief"]).run()
    assert not at.exception
    assert "5 从现在起重新规划" in [h.value for h in at.subheader]
    picker = at.selectbox(key="replan.plan")
    assert picker.value == saved.plan_id and "replan-test 第 1 版" in picker.format_func(picker.value)
    assert at.date_input(key="replan.now_date").value == dt.date(2026, 11, 24)
    assert at.text_input(key="replan.now_time").value == "12:00"
    assert at.number_input(key="replan.effort").value == 5
    assert not at.button(key="replan.run").disabled


def test_replan_shows_the_diff_and_saving_makes_version_2_approved_and_audited(records, week):
    db, made, saved, calls, done_site = records
    at = _replanned(made)
    given = calls["replan"]
    assert given["now"] == dt.datetime(2026, 11, 24, 12, 0, tzinfo=BEIJING)
    assert given["changes"] == {"unavailable": [{"team": "T1", "from": "2026-11-25", "to": "2026-11-25"}]}
    assert given["effort"] == 3 and given["closures"] == ()
    assert [(r.site, r.outcome) for r in given["recorded"]] == [(done_site, "compliant")]
    result = at.session_state["replan.result"]
    plan = result["plan"]
    assert plan["replan"]["diff"]
    summary = next(s.value for s in at.success if s.value.startswith("新计划保留了"))
    assert f"{plan['replan']['later_stops_kept']} / {plan['replan']['later_stops']}" in summary
    assert any(c.value == "检查通过：0 项违规。" for c in at.caption)
    (table,) = [d.value for d in at.dataframe if "调入" in d.value.columns]
    # T1 does nothing on day 3: its day-3 sites left (by name, not only id).
    t1 = table[(table["队伍"] == "T1") & (table["日期"] == "2026-11-25")].iloc[0]
    previous = week[1]
    t1_day3 = [
        s["name"]
        for s in previous["teams"][0]["stops"]
        if s["type"] == "site" and s["arrive"].startswith("2026-11-25")
    ]
    assert t1_day3 and all(name in t1["调出"] + t1["取消"] for name in t1_day3)
    assert t1["保留"] == 0
    # The recorded visit (before now) is done.
    assert done_site in plan["replan"]["done"]
    # The map: old routes dashed grey under the new coloured ones.
    maps = [c.proto.json_args for c in at.get("component_instance")]
    assert any("#888888" in m and "8 8" in m and "T1" in m for m in maps)
    save = at.button(key="replan.save")
    assert save.label == "保存并批准为第 2 版"
    save.click().run()
    assert not at.exception
    assert any("replan-test 第 2 版" in s.value and "chief-urumqi" in s.value for s in at.success)
    with open_store(db) as store:
        plans = store.plans()
        v2 = plans[(plans["plan_key"] == "replan-test") & (plans["version"] == 2)].iloc[0]
        assert v2["status"] == "approved" and v2["approved_by"] == "chief-urumqi"
        log = store.audit_log(f"plan:{int(v2['plan_id'])}")
        assert list(log["action"]) == ["plan.save", "plan.approve"] and set(log["actor"]) == {"chief-urumqi"}
        assert store.plan(int(v2["plan_id"]))["plan"]["replan"]["diff"] == plan["replan"]["diff"]


def test_a_bad_override_is_refused_in_chinese(records):
    _, made, _, _, _ = records
    at = _app(_plan_page, made["chief"]).run()
    at.text_input(key="replan.now_time").set_value("6 点").run()
    assert any(e.value == "时间格式应为 HH:MM。" for e in at.error)
    assert at.button(key="replan.run").disabled
    at.text_input(key="replan.now_time").set_value("06:00").run()
    at.selectbox(key="replan.overrides.pin_team.zh").select("T1").run()
    at.button(key="replan.overrides.add").click().run()
    at.radio(key="replan.overrides.kind.zh").set_value("禁止队伍前往").run()
    at.selectbox(key="replan.overrides.team").select("T1").run()
    at.button(key="replan.overrides.add").click().run()
    at.button(key="replan.run").click().run()
    assert not at.exception
    assert any("既指定给又禁止给队伍 T1" in e.value for e in at.error), [e.value for e in at.error]
    assert "replan.result" not in at.session_state


def test_my_sites_notes_the_new_version_for_the_team_and_day(records, monkeypatch):
    _, made, _, _, _ = records
    at = _replanned(made)
    at.button(key="replan.save").click().run()
    monkeypatch.setenv("XUNHU_NOW", "2026-11-25T12:00:00+08:00")
    officer = _app(_sites_page, made["officer"]).run()
    assert not officer.exception
    notes = [w.value for w in officer.warning if w.value.startswith("计划已更新（第 2 版）")]
    assert len(notes) == 1 and ("调出" in notes[0] or "取消" in notes[0])
    english = _app(_sites_page, made["officer"], lang="en").run()
    assert any(w.value.startswith("Plan updated (version 2): ") for w in english.warning)
