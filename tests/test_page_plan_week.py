"""Plan-week page (views/pages/plan_week.py) under Streamlit's AppTest, plus its pure helpers.

One module-scoped run solves a shipped scenario (cut to the chief's prefecture, 2 days, a small
reproducible effort) and the tests read what that run shows; approval writes into a temporary
records DB. The format-2 tests replace the planner with a stored plan.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from layers.datasets import load_targets
from planning.scenario import BEIJING, DEFAULT_EFFORT, ScenarioError
from records.accounts import create_account
from records.store import open_store
from views import plan_inputs
from views.plan_tables import route_sheet_html
from views.route_layers import plan_day
from views.session import today
from views.vocabulary import all_codes, text

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
SHIPPED = "urumqi_changji_shihezi_week"
#: A few thousand search iterations: a reproducible plan in seconds.
SMALL_EFFORT = 5


def _page() -> None:
    from views.pages.plan_week import render

    render()


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    """A records DB with a chief of Urumqi (650100), an officer and an admin; XUNHU_DB points at it."""
    db = tmp_path_factory.mktemp("plan_page") / "records.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XUNHU_DB", str(db))
        with open_store(db) as store:
            made = {
                "chief": create_account(
                    store, "chief-urumqi", PASSWORD, "chief", detachment="650100", hasher=FAST
                ),
                "officer": create_account(
                    store, "officer-t1", PASSWORD, "officer", detachment="650100", team_id="T1", hasher=FAST
                ),
                "admin": create_account(store, "admin1", PASSWORD, "admin", hasher=FAST),
            }
        yield db, made


def _app(account, lang: str = "zh") -> AppTest:
    at = AppTest.from_function(_page, default_timeout=180)
    at.session_state["account"] = account
    at.session_state["lang"] = lang
    return at


@pytest.fixture(scope="module")
def solved(accounts):
    """The page after a chief loaded the shipped Urumqi scenario and solved 2 days with a small
    (reproducible) effort."""
    db, made = accounts
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XUNHU_DB", str(db))
        at = _app(made["chief"]).run()
        at.selectbox(key="plan.source").select(SHIPPED).run()
        at.number_input(key="plan.f.days").set_value(2).run()
        # A shipped file may ask for a time budget: switch to a (small) reproducible effort.
        at.checkbox(key="plan.f.budget_on").uncheck().run()
        at.number_input(key="plan.f.effort").set_value(SMALL_EFFORT).run()
        at.button(key="plan.solve").click().run()
        yield at, db, made


def test_chief_gets_the_form_for_their_own_prefecture_only(accounts):
    _, made = accounts
    at = _app(made["chief"]).run()
    assert not at.exception
    regions = at.multiselect(key="plan.f.regions")
    # 乌鲁木齐市 and its eight districts/counties, nothing of other prefectures.
    assert regions.options[0].startswith("乌鲁木齐市") and len(regions.options) == 9
    assert regions.value == ["乌鲁木齐市"]
    # The reproducible search is the default; a time budget is only an option.
    assert at.number_input(key="plan.f.effort").value == DEFAULT_EFFORT
    assert at.number_input(key="plan.f.seed").value == 1
    assert not at.checkbox(key="plan.f.budget_on").value
    assert not at.button(key="plan.solve").disabled
    # The default scenario is valid: no error, and the YAML can be downloaded.
    assert not at.error


def test_admin_may_plan_any_prefecture_and_english_works(accounts):
    _, made = accounts
    at = _app(made["admin"], lang="en").run()
    assert not at.exception
    assert at.header[0].value == "Plan the week"
    options = at.multiselect(key="plan.f.regions").options
    assert any(o.startswith("伊犁哈萨克自治州") for o in options) and any(
        o.startswith("喀什地区") for o in options
    )


def test_officer_is_refused(accounts):
    _, made = accounts
    at = _app(made["officer"], lang="en").run()
    assert not at.exception
    assert "Only chiefs and admins" in at.warning[0].value
    assert not at.get("button")


def test_loading_a_shipped_scenario_drops_regions_outside_the_detachment(solved):
    at, _, _ = solved
    assert at.multiselect(key="plan.f.regions").value == ["乌鲁木齐市"]
    teams = at.session_state["plan.teams_df"]
    assert list(teams["id"]) == ["T1", "T2", "T3"] and list(teams["base"]) == ["Urumqi", "Changji", "Shihezi"]


def test_solved_plan_passes_the_checker_and_shows_its_tables(solved):
    at, _, _ = solved
    assert not at.exception
    assert not at.error
    result = at.session_state["plan.result"]
    plan = result["plan"]
    assert result["raw"]["days"] == 2 and result["raw"]["solver"] == {"seed": 1, "effort": SMALL_EFFORT}
    assert plan["status"] == "solved"
    assert any(s.value == "检查通过：0 项违规。" for s in at.success)
    frames = [d.value for d in at.dataframe]
    # One stop table per team (in tabs), then the dropped table (the editors are dataframes too).
    stop_tables = [f for f in frames if "序号" in f.columns]
    assert len(stop_tables) == len(plan["teams"])
    for team, frame in zip(plan["teams"], stop_tables, strict=True):
        assert list(frame["序号"]) == [s["seq"] for s in team["stops"]]
        assert list(frame["地点"]) == [s["name"] for s in team["stops"]]
    (dropped,) = [f for f in frames if "原因" in f.columns]
    assert len(dropped) == len(plan["dropped"]) > 0
    assert dropped["原因"].str.len().min() > 0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["行驶里程"] == f"{plan['kpis']['drive_km']:.0f} km"
    assert metrics["检查点"] == f"{plan['kpis']['sites_visited']} / {plan['kpis']['sites_total']}"
    assert metrics["预期覆盖提升"].startswith("+")


def test_map_payload_has_team_routes_and_only_vendored_assets(solved):
    at, _, _ = solved
    plan = at.session_state["plan.result"]["plan"]
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    links = args["js_links"] + args["css_links"]
    assert links and all(url.startswith("/app/static/vendor/") for url in links)
    script = args["script"]
    # Basemap rivers and roads are two polylines; every team adds one per day it drives.
    assert script.count("L.polyline(") >= 2 + len(plan["teams"])
    for team in plan["teams"]:
        # Layer-control names are JSON strings (non-ASCII escaped); tooltips are plain text.
        assert json.dumps(f"路线 {team['team_id']}") in script
        assert f"{team['team_id']} 第1天" in script
    nights = sum(1 for t in plan["teams"] for s in t["stops"] if s["night"] is not None)
    assert script.count('"icon": "bed"') == nights > 0
    assert "maxZoom" in script


def test_approve_saves_the_plan_and_audits_the_account(solved):
    at, db, made = solved
    at.button(key="plan.approve").click().run()
    assert not at.exception
    saved = at.session_state["plan.result"]["saved"]
    assert saved["account"] == "chief-urumqi"
    with open_store(db) as store:
        plans = store.plans()
        row = plans[plans["plan_id"] == saved["plan_id"]].iloc[0]
        assert row["status"] == "approved" and row["approved_by"] == "chief-urumqi"
        stored = store.plan(saved["plan_id"])["plan"]
        log = store.audit_log(f"plan:{saved['plan_id']}")
    assert stored["teams"] == at.session_state["plan.result"]["plan"]["teams"]
    assert list(log["action"]) == ["plan.save", "plan.approve"]
    assert set(log["actor"]) == {"chief-urumqi"}


def test_unknown_base_town_is_named_by_field(accounts):
    _, made = accounts
    at = _app(made["chief"], lang="en").run()
    at.session_state["plan.teams_df"] = plan_inputs.teams_frame(
        [{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Atlantis City"}]
    )
    at.session_state["plan.editor_version"] += 1
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "teams[1].base" in error.value and "Atlantis" in error.value
    assert at.button(key="plan.solve").disabled


def test_build_scenario_needs_a_region_and_keeps_the_inputs():
    kwargs = dict(
        name="w48",
        solver_seconds=5,
        start=dt.date(2026, 11, 23),
        days=3,
        work_hours="10:00-19:30",
        night_hours=None,
        teams=[{"id": "T1", "base": "Urumqi", "skills": []}],
        layers=["pollution_source"],
        min_priority=10,
        mandatory=["PS-00002", "PS-00001"],
        return_to_base=False,
    )
    with pytest.raises(ScenarioError) as caught:
        plan_inputs.build_scenario(regions=[], **kwargs)
    assert caught.value.field == "sites.regions"
    raw = plan_inputs.build_scenario(regions=["乌鲁木齐市"], **kwargs)
    assert raw["sites"]["mandatory"] == ["PS-00001", "PS-00002"]
    assert raw["lodging"] == "auto" and raw["return_to_base"] is False and "night_hours" not in raw


def test_teams_table_round_trip_skips_blank_rows():
    frame = plan_inputs.teams_frame(
        [{"id": "T1", "base": "Urumqi", "members": 3, "skills": ["sampling", "drone"]}]
    )
    frame.loc[1] = [pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]
    assert plan_inputs.teams_from_frame(frame) == [
        {"id": "T1", "base": "Urumqi", "members": 3, "skills": ["drone", "sampling"]}
    ]


def test_uploaded_draw_record_gives_its_site_ids():
    record = {"type": "xunhu.random_draw", "result": [{"site_id": "PS-00007"}, {"site_id": "PS-00003"}]}
    assert plan_inputs.ids_from_draw_record(json.dumps(record), "d.json") == ["PS-00007", "PS-00003"]
    with pytest.raises(ScenarioError) as caught:
        plan_inputs.ids_from_draw_record(b"{not json", "d.json")
    assert caught.value.field == "sites.from_draw"


def test_plan_day_runs_from_five_to_five():
    start = dt.date(2026, 11, 23)
    assert plan_day(start, "2026-11-23T10:00:00+08:00") == 1
    assert plan_day(start, "2026-11-24T01:30:00+08:00") == 1  # a night check after midnight
    assert plan_day(start, "2026-11-24T07:00:00+08:00") == 2


def test_route_sheet_lists_every_stop_with_a_checklist_per_site(solved):
    at, _, _ = solved
    plan = at.session_state["plan.result"]["plan"]
    team = plan["teams"][0]
    sheet = route_sheet_html(plan, team, load_targets())
    sites = [s for s in team["stops"] if s["type"] == "site"]
    assert sheet.startswith("<!DOCTYPE html>") and "window.print()" in sheet
    assert sheet.count("<tr class=") == len(team["stops"])
    assert sheet.count('<ul class="check">') == len(sites)
    for stop in sites:
        assert stop["id"] in sheet
    # The footer credits the data sources and says the (shipped, simulated) sites are simulated.
    footer = sheet[sheet.index("<footer>") :]
    assert "OpenStreetMap" in footer and "SIMULATED" in footer


def test_random_draw_makes_the_drawn_sources_mandatory(accounts):
    db, made = accounts
    at = _app(made["chief"], lang="en").run()
    at.button(key="plan.draw.run").click().run()
    assert not at.exception and not at.error
    drawn = at.session_state["plan.mandatory"]
    registry = load_targets().set_index("site_id")
    assert drawn and set(registry.loc[drawn, "prefecture_code"]) == {"650100"}
    assert set(registry.loc[drawn, "layer"]) == {"pollution_source"}
    # The drawn sites are ticked in the candidate table and go into the scenario as mandatory.
    (picker,) = [d.value for d in at.dataframe if "mandatory" in d.value.columns]
    assert set(picker.loc[picker["mandatory"], "site_id"]) == set(drawn) & set(picker["site_id"])
    assert f"3 Mandatory sites ({len(drawn)})" in [e.label for e in at.expander]
    assert at.success[0].value.startswith(f"{len(drawn)} pollution sources drawn and made mandatory (seed")
    # The seed was committed by the system, then the full record kept, under the chief's name.
    with open_store(db) as store:
        draws = store.audit_log(action="draw")
        commits = store.audit_log(action="draw.commit")
    assert draws["actor"].iloc[-1] == commits["actor"].iloc[-1] == "chief-urumqi"
    record = draws["details"].iloc[-1]
    assert sorted(item["site_id"] for item in record["result"]) == sorted(drawn)
    assert record["seed"] == commits["details"].iloc[-1]["seed"] and record["inputs_hash"]
    assert record["commit_id"] == commits["audit_id"].iloc[-1]
    # Drawing again: the page names the earlier draw, offers it, and wants a reason for a re-draw.
    at.run()
    assert "drawn 1 time(s)" in at.info[0].value
    assert at.button(key="plan.draw.run").disabled
    at.text_input(key="plan.draw.reason").input("two sites closed since").run()
    at.button(key="plan.draw.run").click().run()
    assert not at.exception and not at.error
    with open_store(db) as store:
        commits = store.audit_log(action="draw.commit")
    assert commits["details"].iloc[-1]["attempt"] == 2
    assert commits["details"].iloc[-1]["reason"] == "two sites closed since"
    # A later week of the same quarter reuses the latest draw instead of drawing again.
    at.button(key="plan.draw.use_latest").click().run()
    with open_store(db) as store:
        draws_after = store.audit_log(action="draw")
    latest = draws_after.iloc[-1]
    assert at.success[0].value.startswith(f"The draw of audit entry {latest['audit_id']} is used")
    assert sorted(at.session_state["plan.mandatory"]) == sorted(
        r["site_id"] for r in latest["details"]["result"]
    )
    assert len(draws_after) == 2


# --- format 2 plans, old plans, closures, officers: with the planner replaced by a stored plan ---
FIXED_NOW = "2026-12-02T12:00:00+08:00"  # the page then plans from Monday 2026-12-07


class _StoredPlan:
    """What ``plan_week`` returns, for a plan taken from the records."""

    def __init__(self, plan: dict) -> None:
        self._plan = plan
        self.solve_seconds = float(plan["solve_seconds"])

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._plan))


#: An old (format 1) plan of the Urumqi detachment, as the planner wrote it before format 2 (taken
#: from the demo history shipped until 2026-12).
FORMAT_1_PLAN = Path(__file__).parent / "data" / "plan_format1_urumqi.json"


@pytest.fixture(scope="module")
def demo_plan() -> dict:
    """The stored format 1 plan (:data:`FORMAT_1_PLAN`)."""
    plan = json.loads(FORMAT_1_PLAN.read_text(encoding="utf-8"))
    assert "format_version" not in plan and "days" not in plan["teams"][0]
    return plan


def _as_version_2(plan: dict) -> dict:
    """``plan`` with the fields of format 2: inspections start 10 min after arrival (a wait), one
    summary per team and plan day built from the stops, a warning and an honoured closure."""
    plan = json.loads(json.dumps(plan))
    plan["format_version"] = 2
    start = dt.date.fromisoformat(plan["scenario"]["start"])
    for team in plan["teams"]:
        for stop in team["stops"]:
            arrive = dt.datetime.fromisoformat(stop["arrive"])
            stop["start"] = (arrive + dt.timedelta(minutes=10 if stop["type"] == "site" else 0)).isoformat()
            stop["leg_break_minutes"] = 0
        by_day: dict[int, list[dict]] = {}
        for stop in team["stops"][1:]:
            by_day.setdefault(plan_day(start, stop["arrive"]), []).append(stop)
        previous = team["stops"][0]
        team["days"] = []
        for number, stops in sorted(by_day.items()):
            bed = stops[-1]
            team["days"].append(
                {
                    "date": (start + dt.timedelta(days=number - 1)).isoformat(),
                    "leave": previous["depart"],
                    "arrive_bed": bed["arrive"],
                    "bed": bed["name"],
                    "bed_id": bed["id"],
                    "drive_minutes": sum(s["leg_minutes"] for s in stops),
                    "duty_minutes": 600,
                    "km": sum(s["leg_km"] for s in stops),
                    "sites": sum(s["type"] == "site" for s in stops),
                }
            )
            previous = bed
        team["officers"] = []
    plan["warnings"] = ["T2: drawn officers of PS-00001 are not in the team"]
    plan["closures"] = [
        {"id": "chief-1", "name": "G30 达坂城 沙尘暴", "reason": "sandstorm", "period": "", "dates": []}
    ]
    return plan


@pytest.fixture
def stored_planner(accounts, monkeypatch):
    """The page with ``plan_week`` and ``check_plan`` replaced; returns (calls, use(plan))."""
    from views import plan_week_result as result_view
    from views.pages import plan_week as page

    db, _ = accounts
    monkeypatch.setenv("XUNHU_DB", str(db))
    monkeypatch.setenv("XUNHU_NOW", FIXED_NOW)
    calls: dict[str, dict] = {}
    chosen: dict[str, dict] = {}

    def fake_plan_week(scenario, **kwargs):
        calls["plan_week"] = kwargs
        return _StoredPlan(chosen["plan"])

    def fake_check_plan(scenario, plan, **kwargs):
        calls["check_plan"] = kwargs
        return []

    monkeypatch.setattr(page, "plan_week", fake_plan_week)
    monkeypatch.setattr(result_view, "check_plan", fake_check_plan)
    result_view._violations.clear()
    yield calls, chosen.__setitem__
    result_view._violations.clear()


def test_a_version_2_plan_shows_the_days_table_first_and_its_warnings(stored_planner, accounts, demo_plan):
    calls, use = stored_planner
    plan = _as_version_2(demo_plan)
    use("plan", plan)
    _, made = accounts
    at = _app(made["chief"]).run()
    at.button(key="plan.solve").click().run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    (days,) = [f for f in frames if "住宿" in f.columns and "驾驶（时）" in f.columns]
    # The columns a phone shows first: team, day, sites, driving and duty hours.
    assert list(days.columns[:5]) == ["队伍", "日期", "检查点", "驾驶（时）", "工作（时）"]
    expected = [
        (t["team_id"], d["bed"], str(d["sites"]) if d["sites"] or d["drive_minutes"] else "休整")
        for t in plan["teams"]
        for d in t["days"]
    ]
    assert list(zip(days["队伍"], days["住宿"], days["检查点"], strict=True)) == expected
    first = plan["teams"][0]["days"][0]
    weekday = "一二三四五六日"[dt.date.fromisoformat(first["date"]).weekday()]
    assert days["日期"].iloc[0] == f"周{weekday} {first['date'][5:]}"
    assert days["出发"].iloc[0] == first["leave"][11:16]
    # Hours with one decimal, also for whole hours.
    assert days["驾驶（时）"].iloc[0] == f"{first['drive_minutes'] / 60:.1f}"
    assert days["工作（时）"].iloc[0] == "10.0"
    # The days table comes before the stop tables; stops show the inspection start, not the arrival.
    stop_tables = [f for f in frames if "序号" in f.columns]
    positions = {id(f): i for i, f in enumerate(frames)}
    assert positions[id(days)] < positions[id(stop_tables[0])]
    site = next(s for s in plan["teams"][0]["stops"] if s["type"] == "site")
    row = stop_tables[0][stop_tables[0]["编号"] == site["id"]].iloc[0]
    assert row["开始检查"] == site["start"][11:16] != row["到达"] == site["arrive"][11:16]
    assert list(stop_tables[0].columns[:4]) == ["序号", "天", "开始检查", "地点"]
    assert "途中休息（分）" in stop_tables[0].columns
    assert any("drawn officers of PS-00001" in w.value for w in at.warning)
    # The honoured closures: one readable line each (name, reason, period, plan days) in an expander.
    assert "计划避开的道路封闭（1）" in [e.label for e in at.expander]
    assert any("G30 达坂城 沙尘暴：沙尘暴" in m.value for m in at.markdown)
    # The solver block is the reproducible default.
    assert at.session_state["plan.result"]["raw"]["solver"] == {"seed": 1, "effort": DEFAULT_EFFORT}


def test_an_old_plan_still_displays(stored_planner, accounts, demo_plan):
    _, use = stored_planner
    use("plan", demo_plan)
    _, made = accounts
    at = _app(made["chief"], lang="en").run()
    at.button(key="plan.solve").click().run()
    assert not at.exception
    assert any(c.value.startswith("This plan is in the old format") for c in at.caption)
    stop_tables = [d.value for d in at.dataframe if "Seq" in d.value.columns]
    assert len(stop_tables) == len(demo_plan["teams"])
    # Without a start, the inspection starts on arrival.
    assert (stop_tables[0]["Start"] == stop_tables[0]["Arrive"]).all()
    sheet = route_sheet_html(demo_plan, demo_plan["teams"][0], load_targets())
    assert sheet.count("<tr class=") == len(demo_plan["teams"][0]["stops"])


def test_chief_closures_in_force_on_a_plan_day_go_to_the_planner_and_the_checker(
    stored_planner, accounts, demo_plan
):
    calls, use = stored_planner
    use("plan", _as_version_2(demo_plan))
    db, made = accounts
    from records import closures

    with open_store(db) as store:
        during = closures.add_closure(
            store,
            name="G30 达坂城 沙尘暴",
            reason="sandstorm",
            first_day="2026-12-08",
            last_day="2026-12-09",
            lon=88.3,
            lat=43.35,
            radius_km=8,
            actor="chief-urumqi",
        )
        closures.add_closure(
            store,
            name="上周的洪水",
            reason="flood",
            first_day="2026-11-30",
            last_day="2026-12-01",
            lon=87.2,
            lat=43.3,
            radius_km=3,
            actor="chief-urumqi",
        )
    at = _app(made["chief"], lang="en").run()
    assert any("G30 达坂城 沙尘暴" in i.value and "洪水" not in i.value for i in at.info)
    at.button(key="plan.solve").click().run()
    assert not at.exception
    given = calls["plan_week"]["closures"]
    assert [c.id for c in given] == [f"chief-{during.closure_id}"]
    assert given[0].period == "2026-12-08..2026-12-09" and given[0].geometry.equals(during.geometry)
    assert [c.id for c in calls["check_plan"]["closures"]] == [f"chief-{during.closure_id}"]


def test_officers_column_and_drawn_officers_go_into_the_scenario(stored_planner, accounts):
    _, made = accounts
    at = _app(made["chief"], lang="en").run()
    at.session_state["plan.teams_df"] = plan_inputs.teams_frame(
        [{"id": "T1", "base": "Urumqi", "officers": ["O-0001", "O-0002"]}, {"id": "T2", "base": "Urumqi"}]
    )
    at.session_state["plan.mandatory"] = ["PS-00001"]
    at.session_state["plan.drawn_officers"] = {"PS-00001": ["O-0001"], "PS-09999": ["O-0003"]}
    at.session_state["plan.editor_version"] += 1
    at.run()
    assert not at.exception and not at.error
    frame = at.session_state["plan.teams_df"]
    assert list(frame["officers"]) == ["O-0001, O-0002", ""]
    raw = plan_inputs.build_scenario(
        name="w",
        start=dt.date(2026, 12, 7),
        days=2,
        work_hours="10:00-19:30",
        night_hours=None,
        teams=plan_inputs.teams_from_frame(frame),
        regions=["乌鲁木齐市"],
        layers=["pollution_source"],
        min_priority=0,
        mandatory=["PS-00001"],
        return_to_base=True,
        drawn_officers=at.session_state["plan.drawn_officers"],
    )
    assert raw["teams"][0]["officers"] == ["O-0001", "O-0002"] and "officers" not in raw["teams"][1]
    # Only drawn officers of mandatory sites are kept.
    assert raw["sites"]["drawn_officers"] == {"PS-00001": ["O-0001"]}


def test_uploaded_draw_keeps_the_drawn_officers():
    record = {
        "type": "xunhu.random_draw",
        "result": [
            {"site_id": "PS-00007", "officers": [{"officer_id": "O-0001"}, {"officer_id": "O-0004"}]},
            {"site_id": "PS-00003"},
        ],
    }
    ids, officers = plan_inputs.draw_from_record(json.dumps(record), "d.json")
    assert ids == ["PS-00007", "PS-00003"] and officers == {"PS-00007": ["O-0001", "O-0004"]}


def test_time_budget_replaces_the_effort_never_both():
    assert plan_inputs.solver_block(300, 4) == {"seed": 4, "effort": 300}
    assert plan_inputs.solver_block(300, 4, seconds=30) == {"seconds": 30.0, "seed": 4}


def _v2_plan() -> dict:
    """A small hand-made format 2 plan: team T1 inspects on day 1 (a night check ending after
    midnight), rests on day 2; closures and a known planner warning."""

    def stop(seq, kind, sid, name, arrive, start, depart, **extra):
        return {
            "seq": seq,
            "type": kind,
            "id": sid,
            "name": name,
            "lon": 87.6,
            "lat": 43.8,
            "arrive": arrive,
            "start": start,
            "depart": depart,
            "service_minutes": extra.get("service", 0),
            "leg_km": extra.get("km", 0.0),
            "leg_minutes": extra.get("minutes", 0),
            "leg_break_minutes": extra.get("breaks", 0),
            "night": extra.get("night"),
            "night_check": extra.get("night_check", False),
            "mandatory": False,
            "priority": None,
        }

    stops = [
        stop(
            0,
            "base",
            "1529102",
            "Ürümqi 乌鲁木齐市",
            "2026-11-23T09:00:00+08:00",
            "2026-11-23T09:00:00+08:00",
            "2026-11-23T09:00:00+08:00",
        ),
        stop(
            1,
            "site",
            "PS-00003",
            "乌鲁木齐中盛化肥有限责任公司",
            "2026-11-23T09:40:00+08:00",
            "2026-11-23T10:00:00+08:00",
            "2026-11-23T11:30:00+08:00",
            service=90,
            km=30.0,
            minutes=40,
        ),
        stop(
            2,
            "site",
            "PS-00034",
            "乌鲁木齐汇通牧业养猪场",
            "2026-11-23T23:30:00+08:00",
            "2026-11-23T23:30:00+08:00",
            "2026-11-24T00:30:00+08:00",
            service=60,
            km=250.5,
            minutes=290,
            breaks=20,
            night_check=True,
        ),
        stop(
            3,
            "base",
            "1529102",
            "Ürümqi 乌鲁木齐市",
            "2026-11-24T01:00:00+08:00",
            "2026-11-24T01:00:00+08:00",
            "2026-11-24T01:00:00+08:00",
            km=12.0,
            minutes=30,
            night=0,
        ),
    ]
    days = [
        {
            "date": "2026-11-23",
            "leave": "2026-11-23T09:00:00+08:00",
            "arrive_bed": "2026-11-24T01:00:00+08:00",
            "bed": "Ürümqi 乌鲁木齐市",
            "bed_id": "1529102",
            "drive_minutes": 360,
            "duty_minutes": 960,
            "km": 292.5,
            "sites": 2,
        },
        {
            "date": "2026-11-24",
            "leave": None,
            "arrive_bed": None,
            "bed": "Ürümqi 乌鲁木齐市",
            "bed_id": "1529102",
            "drive_minutes": 0,
            "duty_minutes": 0,
            "km": 0,
            "sites": 0,
        },
    ]
    return {
        "format_version": 2,
        "scenario": {"name": "w48", "start": "2026-11-23", "days": 2},
        "status": "solved",
        "solve_seconds": 1.0,
        "solver": {"seed": 1, "effort": 5},
        "mandatory_unmet": ["PS-00002"],
        "kpis": {
            "drive_km": 292.5,
            "drive_minutes": 360,
            "service_minutes": 150,
            "sites_visited": 2,
            "sites_total": 5,
            "priority_visited": 90,
            "mandatory_visited": 0,
            "mandatory_total": 1,
            "nights_away_from_base": 0,
            "nights_total": 1,
        },
        "teams": [
            {
                "team_id": "T1",
                "base": "Ürümqi",
                "officers": [],
                "stops": stops,
                "days": days,
                "drive_km": 292.5,
                "drive_minutes": 360,
                "service_minutes": 150,
            }
        ],
        "dropped": [
            {
                "id": "PS-00001",
                "mandatory": False,
                "reason": "not worth the detour: at least 3.5 h of extra "
                "driving, more than the 2.5 h a site of priority 5 is worth",
            },
            {
                "id": "PS-00002",
                "mandatory": True,
                "reason": "cannot visit mandatory site: unreachable by road: "
                "no road of the network reaches it",
            },
            {"id": "PS-00009", "mandatory": False, "reason": "a reason the page does not know"},
        ],
        "warnings": ["planned with a time budget: another run or machine may give a different plan"],
        "closures": [
            {
                "id": "G217-duku-north",
                "name": "G217 独库公路 北段",
                "reason": "winter",
                "period": "10-01..05-31",
                "dates": ["2026-11-23", "2026-11-24"],
            },
            {
                "id": "chief-3",
                "name": "G30 达坂城",
                "reason": "sandstorm",
                "period": "2026-11-24..2026-11-24",
                "dates": ["2026-11-24"],
            },
        ],
    }


def test_days_table_shows_a_rest_day_and_times_after_midnight():
    from views.plan_tables import days_table

    days = days_table(_v2_plan())
    work, rest = days.iloc[0], days.iloc[1]
    assert (work["日期"], work["检查点"], work["驾驶（时）"], work["工作（时）"]) == (
        "周一 11-23",
        "2",
        "6.0",
        "16.0",
    )
    assert (work["出发"], work["到住宿"], work["公里"]) == ("09:00", "01:00 +1", "292")
    assert (rest["日期"], rest["检查点"], rest["住宿"]) == ("周二 11-24", "休整", "Ürümqi 乌鲁木齐市")
    assert rest["驾驶（时）"] == rest["工作（时）"] == rest["出发"] == rest["公里"] == ""


def test_stops_and_dropped_tables_are_readable_in_english(monkeypatch):
    from views import i18n
    from views.plan_tables import dropped_table, stops_table

    monkeypatch.setattr(i18n, "language", lambda: "en")
    plan = _v2_plan()
    stops = stops_table(plan, load_targets())
    dropped = dropped_table(plan, load_targets())
    night = stops.iloc[2]
    # The night check belongs to Monday; its departure is after midnight.
    assert (night["Day"], night["Start"], night["Depart"]) == ("Mon 11-23", "23:30", "00:30 +1")
    assert night["Leg breaks min"] == 20 and night["Leg km"] == 250.5
    assert stops.iloc[1]["Start"] == "10:00" and stops.iloc[1]["Arrive"] == "09:40"
    assert stops.iloc[1]["Kind"] == "key discharge unit"
    assert list(dropped.columns[:2]) == ["Site", "Reason"]
    assert dropped["Reason"].iloc[2] == "a reason the page does not know"


def test_planner_sentences_are_translated_and_unknown_ones_kept():
    from views.plan_tables import planner_text

    plan = _v2_plan()
    texts = [planner_text(item["reason"]) for item in plan["dropped"]]
    assert texts[0] == "不值得绕路：至少多开 3.5 小时，超过优先级 5 的点位所值的 2.5 小时"
    assert texts[1] == "无法安排必检点：道路不可达：路网不通该点"
    assert texts[2] == "a reason the page does not know"
    assert planner_text(plan["warnings"][0]).startswith("按时间预算求解")


def test_a_version_2_plan_with_a_rest_day_on_the_page(stored_planner, accounts):
    _, use = stored_planner
    use("plan", _v2_plan())
    _, made = accounts
    at = _app(made["chief"]).run()
    at.button(key="plan.solve").click().run()
    assert not at.exception
    (days,) = [d.value for d in at.dataframe if "驾驶（时）" in d.value.columns]
    assert list(days["检查点"]) == ["2", "休整"]
    assert any(w.value.startswith("请注意") and "按时间预算求解" in w.value for w in at.warning)
    (closures,) = [e for e in at.expander if e.label == "计划避开的道路封闭（2）"]
    lines = closures.markdown[0].value
    assert "G217 独库公路 北段：冬季封闭，10-01..05-31；计划内 每天" in lines
    assert "G30 达坂城：沙尘暴，2026-11-24..2026-11-24；计划内 周二 11-24" in lines
    (dropped,) = [d.value for d in at.dataframe if "原因" in d.value.columns]
    assert dropped["原因"].iloc[1] == "无法安排必检点：道路不可达：路网不通该点"


def test_route_sheet_shows_times_on_the_day_and_fits_a_phone():
    plan = _v2_plan()
    sheet = route_sheet_html(plan, plan["teams"][0], load_targets())
    assert "到 23:30<br>查 23:30<br>离 00:30 +1" in sheet
    assert "到 09:40<br>查 10:00<br>离 11:30" in sheet
    assert "1 · 周一 11-23" in sheet and "重点排污单位" in sheet
    assert "max-width:600px" in sheet and 'data-label="时间"' in sheet


def test_overrides_from_the_form_reach_the_scenario_of_the_next_solve(stored_planner, accounts, demo_plan):
    """Pin, forbid, unavailable and lock entered next to the stops table go into the scenario
    mapping the planner gets next; a bad one shows the scenario error in Chinese."""
    calls, use = stored_planner
    plan = _as_version_2(demo_plan)
    plan["scenario"]["start"] = "2026-12-07"
    use("plan", plan)
    _, made = accounts
    at = _app(made["chief"]).run()
    at.button(key="plan.solve").click().run()
    assert not at.exception
    site = next(s["id"] for s in plan["teams"][0]["stops"] if s["type"] == "site")
    at.selectbox(key="plan.overrides.site").select(site).run()
    at.selectbox(key="plan.overrides.pin_team.zh").select("T2").run()
    at.selectbox(key="plan.overrides.pin_day.zh").select("2026-12-08").run()
    at.button(key="plan.overrides.add").click().run()
    at.radio(key="plan.overrides.kind.zh").set_value("队伍不可用").run()
    at.selectbox(key="plan.overrides.team").select("T3").run()
    # The page's teams are T1 and T2: an override for T3 is refused, naming the field, in Chinese.
    at.button(key="plan.overrides.add").click().run()
    assert any("unavailable[0].team" in e.value and "未知队伍 'T3'" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    at.button(key="plan.overrides.clear").click().run()
    at.radio(key="plan.overrides.kind.zh").set_value("指定队伍/日期").run()
    at.selectbox(key="plan.overrides.site").select(site).run()
    at.selectbox(key="plan.overrides.pin_team.zh").select("T2").run()
    at.selectbox(key="plan.overrides.pin_day.zh").select("2026-12-08").run()
    at.button(key="plan.overrides.add").click().run()
    at.radio(key="plan.overrides.kind.zh").set_value("队伍不可用").run()
    at.selectbox(key="plan.overrides.team").select("T1").run()
    at.selectbox(key="plan.overrides.from").select("2026-12-08").run()
    at.selectbox(key="plan.overrides.to").select("2026-12-09").run()
    at.button(key="plan.overrides.add").click().run()
    at.radio(key="plan.overrides.kind.zh").set_value("锁定某队某天").run()
    at.selectbox(key="plan.overrides.team").select("T1").run()
    at.selectbox(key="plan.overrides.day").select("2026-12-07").run()
    at.button(key="plan.overrides.add").click().run()
    assert not at.exception and not at.error
    assert any("指定：" in m.value and "→ T2，2026-12-08" in m.value for m in at.markdown)
    at.button(key="plan.solve").click().run()
    raw = at.session_state["plan.result"]["raw"]
    assert raw["pins"] == [{"site": site, "team": "T2", "day": "2026-12-08"}]
    assert raw["unavailable"] == [{"team": "T1", "from": "2026-12-08", "to": "2026-12-09"}]
    assert raw["locked_days"] == {"T1": ["2026-12-07"]}
    # A forbid that clashes with the pin is refused by parse_scenario, in the UI language.
    at.radio(key="plan.overrides.kind.zh").set_value("禁止队伍前往").run()
    at.selectbox(key="plan.overrides.site").select(site).run()
    at.selectbox(key="plan.overrides.team").select("T2").run()
    at.button(key="plan.overrides.add").click().run()
    assert any("既指定给又禁止给队伍 T2" in e.value for e in at.error)
    assert at.button(key="plan.solve").disabled
    at.button(key="plan.overrides.clear").click().run()
    assert not at.error and not at.button(key="plan.solve").disabled


def test_solved_plan_tables_show_kinds_categories_and_reasons_in_chinese(solved):
    at, _, _ = solved
    frames = [d.value for d in at.dataframe]
    stop_tables = [f for f in frames if "序号" in f.columns]
    (dropped,) = [f for f in frames if "原因" in f.columns]
    (candidates,) = [f for f in frames if "priority" in f.columns and "kind" in f.columns]
    shown = [*(t["类型"] for t in stop_tables), dropped["类型"], dropped["监管类别"], dropped["原因"]]
    shown += [candidates[column] for column in ("layer", "kind", "category")]
    words = {
        word for column in shown for text in column.astype(str) for word in text.replace("、", " ").split()
    }
    assert words and not words & all_codes()
    assert set(candidates["layer"]) <= {
        text("layer", layer, "zh") for layer in ("pollution_source", "water_source", "protected_area")
    }


def test_zero_days_and_a_first_day_far_away_are_explained(accounts):
    _, made = accounts
    at = _app(made["chief"]).run()
    at.number_input(key="plan.f.days").set_value(0).run()
    assert not at.exception
    assert any("天数至少为 1" in e.value for e in at.error), [e.value for e in at.error]
    # The solve is refused with the reason in Chinese too.
    assert at.button(key="plan.solve").disabled
    assert any("应在 1 至 14 之间" in e.value for e in at.error)
    at.number_input(key="plan.f.days").set_value(2).run()
    assert not at.error
    at.date_input(key="plan.f.start").set_value(dt.date(2020, 11, 23)).run()
    assert any("第一天 2020-11-23 已是" in w.value for w in at.warning)
    ahead = today() + dt.timedelta(days=200)
    at.date_input(key="plan.f.start").set_value(ahead).run()
    assert any(f"第一天 {ahead.isoformat()} 在 200 天之后" in w.value for w in at.warning)


def test_start_problem_allows_last_week_and_the_next_quarter():
    today = dt.date(2026, 11, 20)
    assert plan_inputs.start_problem(today - dt.timedelta(days=7), today) is None
    assert plan_inputs.start_problem(today + dt.timedelta(days=92), today) is None
    assert plan_inputs.start_problem(dt.date(2020, 11, 23), today) == ("past", 2188)
    assert plan_inputs.start_problem(today + dt.timedelta(days=93), today) == ("future", 93)


def test_skills_are_chips_of_codes_and_typed_text_still_reads():
    frame = plan_inputs.teams_frame([{"id": "T1", "base": "Urumqi", "skills": ["sampling", "drone"]}])
    assert frame["skills"].iloc[0] == ["sampling", "drone"]
    typed = pd.DataFrame(
        [{"id": "T2", "base": "Urumqi", "members": 2, "skills": "boat; drone", "officers": ""}]
    )
    assert plan_inputs.teams_from_frame(typed)[0]["skills"] == ["boat", "drone"]
    chips = pd.DataFrame([{"id": "T3", "base": "Urumqi", "members": 2, "skills": [], "officers": None}])
    assert plan_inputs.teams_from_frame(chips) == [{"id": "T3", "base": "Urumqi", "members": 2, "skills": []}]


def test_open_tasks_of_the_records_join_the_plan_as_mandatory_sites(tmp_path, monkeypatch):
    from records.complaints import Complaint, add_complaint

    db = tmp_path / "records.sqlite"
    monkeypatch.setenv("XUNHU_DB", str(db))
    registry = load_targets(("pollution_source",))
    site = str(registry[registry["prefecture_code"] == "650100"].sort_values("site_id")["site_id"].iloc[0])
    with open_store(db) as store:
        chief = create_account(store, "chief-tasks", PASSWORD, "chief", detachment="650100", hasher=FAST)
        received = dt.datetime(2026, 11, 23, 8, 0, tzinfo=BEIJING)
        complaint = add_complaint(
            store.conn,
            Complaint(received, "black water at the outfall", site_id=site, urgent=True),
            actor="t",
        )
    at = _app(chief, lang="en").run()
    at.selectbox(key="plan.source").select(SHIPPED).run()
    at.number_input(key="plan.f.days").set_value(2).run()
    at.checkbox(key="plan.f.budget_on").uncheck().run()
    at.number_input(key="plan.f.effort").set_value(SMALL_EFFORT).run()
    assert any(info.value.startswith("1 open tasks") for info in at.info)
    at.button(key="plan.solve").click().run()
    assert not at.exception
    plan = at.session_state["plan.result"]["plan"]
    serving = [s for t in plan["teams"] for s in t["stops"] if s.get("tasks")]
    assert [s["id"] for s in serving] == [site], f"complaint {complaint} served once, at its site"


def test_downloads_of_the_plan_do_not_rerun_the_page(solved):
    """A download click only downloads: the page is not rerun and greyed (the chief's complaint)."""
    at, _, _ = solved
    buttons = at.get("download_button")
    # The scenario YAML and, for the chosen team, GPX, KML, CSV, route sheet and plan JSON.
    assert len(buttons) == 6, [b.proto.label for b in buttons]
    assert all(b.proto.ignore_rerun for b in buttons), [
        b.proto.label for b in buttons if not b.proto.ignore_rerun
    ]
