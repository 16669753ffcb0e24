"""My sites page (AppTest): the officer's released stops, site cards, recording a visit; chiefs' teams."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import DEMO_NOW
from streamlit.testing.v1 import AppTest

from records.accounts import get_account
from records.store import open_store

TODAY = date.fromisoformat(DEMO_NOW[:10])


def _page(account, params: dict[str, str] | None = None) -> AppTest:
    def app():
        from views.pages import my_sites

        my_sites.render()

    at = AppTest.from_function(app, default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["account"] = account
    for name, value in (params or {}).items():
        at.query_params[name] = value
    return at.run()


def _account(path: Path, username: str):
    with open_store(path) as store:
        return get_account(store, username)


def _issued(path: Path, team: str) -> pd.DataFrame:
    """The team's issued stops per day in the demo DB, straight from the assignments table."""
    with open_store(path) as store:
        days = sorted(
            {row[0] for row in store.conn.execute("SELECT day FROM assignments WHERE team_id = ?", (team,))}
        )
        return pd.concat([store.assignments(team, day) for day in days], ignore_index=True)


def _cards(at: AppTest) -> list:
    return [expander for expander in at.expander if expander.label == "Site card"]


def test_checklist_follows_kind_category_and_flags():
    from views.pages.my_sites import T, checklist

    site = {
        "kind": "hazardous_waste",
        "category": "key",
        "online_monitoring": True,
        "violations_3y": 2,
        "night_check": True,
        "skills_required": "drone;sampling",
    }
    items = checklist(site)
    expected = [
        "my_sites.check.hazardous_waste",
        "my_sites.check.key_category",
        "my_sites.check.online",
        "my_sites.check.previous_violations",
    ]
    expected += ["my_sites.check.night", "my_sites.check.skill.drone", "my_sites.check.skill.sampling"]
    assert items == [T(key) for key in expected]
    plain = {"kind": "reservoir", "category": "ordinary", "online_monitoring": pd.NA, "violations_3y": pd.NA}
    assert checklist(plain | {"night_check": False, "skills_required": None}) == [
        T("my_sites.check.reservoir")
    ]


@pytest.fixture
def officer_day(demo_records):
    """(db path, officer account, the latest released day with stops of team T1, its stops)."""
    path, accounts = demo_records
    officer = _account(path, accounts["officer"][0])
    stops = _issued(path, "T1")
    released = stops[pd.to_datetime(stops["day"]).dt.date <= TODAY]
    day = released["day"].max()
    return path, officer, day, released[released["day"] == day]


def test_officer_sees_the_days_stops_in_order_with_cards(officer_day):
    path, officer, day, stops = officer_day
    at = _page(officer, {"day": day})
    assert not at.exception and not at.error
    assert at.date_input(key="my_sites_day").value == date.fromisoformat(day)
    assert not [box for box in at.selectbox if not box.key.startswith("visit-")], "an officer's team is fixed"
    cards = _cards(at)
    assert len(cards) == len(stops) > 0
    text = " ".join(md.value for md in at.markdown)
    ordered = stops.sort_values("arrive")
    positions = [text.index(str(name)) for name in ordered["name"]]
    assert positions == sorted(positions)
    arrivals = " ".join(caption.value for caption in at.caption)
    for arrive in ordered["arrive"]:
        assert f"arrive {pd.Timestamp(arrive).tz_convert('Asia/Shanghai'):%H:%M}" in arrivals
    card = " ".join(md.value for md in cards[0].markdown)
    assert "Kind" in card and "Category" in card and "priority" in card and "What to check" in card


def test_officer_cannot_pick_a_day_not_released_yet(officer_day):
    _, officer, _, _ = officer_day
    at = _page(officer, {"day": "2026-11-20"})
    assert at.date_input(key="my_sites_day").value == TODAY
    assert at.date_input(key="my_sites_day").max == TODAY


def test_officer_records_a_visit_with_the_account_as_actor(officer_day):
    path, officer, day, stops = officer_day
    at = _page(officer, {"day": day})
    first = stops.sort_values("arrive").iloc[0]
    key = f"visit-{first['plan_id']}-T1-{first['seq']}.en"
    at.radio(key=f"{key}-outcome").set_value("violation")
    at.text_area(key=f"{key}-notes").input("outfall bypassing the meter")
    at.selectbox(key=f"{key}-finding").set_value("monitoring_data_fraud")
    next(button for button in at.button if button.label == "Save").click().run()
    assert not at.exception and not at.error
    assert any("Recorded (visit" in success.value for success in at.success)
    with open_store(path) as store:
        row = store.conn.execute("SELECT * FROM visits ORDER BY visit_id DESC LIMIT 1").fetchone()
        audit = store.audit_log(action="visit.record").iloc[-1]
    assert (row["site_id"], row["team_id"], row["outcome"]) == (first["site_id"], "T1", "violation")
    assert row["recorded_by"] == officer.username and row["plan_id"] == first["plan_id"]
    assert row["notes"] == "outfall bypassing the meter" and not row["simulated"]
    assert audit["actor"] == officer.username


def test_not_inspected_needs_a_reason_and_stores_nothing_without(officer_day):
    path, officer, day, stops = officer_day
    with open_store(path) as store:
        before = store.conn.execute("SELECT count(*) FROM visits").fetchone()[0]
    at = _page(officer, {"day": day})
    first = stops.sort_values("arrive").iloc[0]
    key = f"visit-{first['plan_id']}-T1-{first['seq']}.en"
    at.radio(key=f"{key}-outcome").set_value("not inspected")
    next(button for button in at.button if button.label == "Save").click().run()
    assert [error.value for error in at.error] == ["Please give the reason the site was not inspected."]
    with open_store(path) as store:
        assert store.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == before


def test_chief_picks_among_the_detachments_teams(demo_records):
    path, accounts = demo_records
    chief = _account(path, accounts["chief"][0])
    stops = _issued(path, "T2")
    day = stops[pd.to_datetime(stops["day"]).dt.date <= TODAY]["day"].max()
    at = _page(chief, {"day": day, "team": "T2"})
    assert not at.exception and not at.error
    team = at.selectbox(key="my_sites_team")
    # The Urumqi detachment's plan has teams T1-T3; the Ili and southern plans (Y*, S*) are not its.
    with open_store(path) as store:
        teams_that_day = {
            row[0] for row in store.conn.execute("SELECT team_id FROM assignments WHERE day = ?", (day,))
        }
    assert set(team.options) == {name for name in teams_that_day if name.startswith("T")}
    assert len(team.options) >= 2 and team.value == "T2"
    assert len(_cards(at)) == len(stops[stops["day"] == day])


def test_manager_without_drilldown_is_refused(demo_records):
    path, accounts = demo_records
    at = _page(_account(path, accounts["manager"][0]))
    assert [warning.value for warning in at.warning] == ["Your account cannot see patrol assignments."]
    assert not _cards(at)


def test_a_version_2_stop_shows_the_planned_inspection_start(officer_day, monkeypatch):
    """A stop of a format 2 plan with ``start`` after the arrival: the card shows both, and the
    visit form starts from the planned start; stops without ``start`` show the arrival only."""
    from records.store import Store

    path, officer, day, stops = officer_day
    first, second = stops.sort_values("arrive").iloc[0], stops.sort_values("arrive").iloc[1]
    arrive = pd.Timestamp(first["arrive"]).tz_convert("Asia/Shanghai")
    second_arrive = pd.Timestamp(second["arrive"]).tz_convert("Asia/Shanghai")
    start = arrive + pd.Timedelta(minutes=25)
    original = Store.plan

    def with_start(self, plan_id):
        row = original(self, plan_id)
        if plan_id == first["plan_id"]:
            row["plan"]["format_version"] = 2
            for team in row["plan"]["teams"]:
                for stop in team["stops"]:
                    if team["team_id"] == "T1" and stop["seq"] == first["seq"]:
                        stop["start"] = start.isoformat()
                    if team["team_id"] == "T1" and stop["seq"] == second["seq"]:
                        stop.pop("start", None)
        return row

    monkeypatch.setattr(Store, "plan", with_start)
    at = _page(officer, {"day": day})
    assert not at.exception and not at.error
    captions = [caption.value for caption in at.caption]
    assert f"arrive {arrive:%H:%M} · inspection starts {start:%H:%M} · " in " ".join(captions)
    # A stop without a start of its own shows the arrival alone.
    (shown,) = [c for c in captions if c.startswith(f"arrive {second_arrive:%H:%M} · ")]
    assert "inspection starts" not in shown
    key = f"visit-{first['plan_id']}-T1-{first['seq']}.en"
    assert at.time_input(key=f"{key}-started").value == start.time()


def _save_first_stop(at: AppTest, stops: pd.DataFrame, notes: str) -> AppTest:
    first = stops.sort_values("arrive").iloc[0]
    key = f"visit-{first['plan_id']}-T1-{first['seq']}.en"
    at.radio(key=f"{key}-outcome").set_value("compliant")
    at.text_area(key=f"{key}-notes").input(notes)
    return next(button for button in at.button if button.label == "Save").click().run()


def test_saving_the_same_visit_twice_stores_it_once_and_says_so(officer_day):
    path, officer, day, stops = officer_day
    at = _save_first_stop(_page(officer, {"day": day}), stops, "double tap")
    assert [success.value for success in at.success][0].startswith("Recorded (visit")
    # A second tap sends the form's values again; a retry from a fresh page enters the same ones.
    for again in (
        next(button for button in at.button if button.label == "Save").click().run(),
        _save_first_stop(_page(officer, {"day": day}), stops, "double tap"),
    ):
        assert not again.exception and not again.error and not again.success
        assert [info.value for info in again.info][-1].startswith("This visit was already recorded (visit")
    with open_store(path) as store:
        assert store.conn.execute("SELECT count(*) FROM visits WHERE notes = 'double tap'").fetchone()[0] == 1


def test_each_stop_has_coordinates_and_navigation_links(officer_day):
    from layers.navigation import navigation_links

    _, officer, day, stops = officer_day
    at = _page(officer, {"day": day})
    ordered = stops.sort_values("arrive")
    captions = " ".join(caption.value for caption in at.caption)
    buttons = [button for button in at.get("link_button")]
    for _, stop in ordered.iterrows():
        assert f"(WGS-84, lat, lon): {stop['lat']:.5f}, {stop['lon']:.5f}" in captions
        links = navigation_links(stop["lon"], stop["lat"], stop["name"])
        urls = {button.proto.url for button in buttons}
        assert {links.geo, links.amap, links.baidu} <= urls
    assert [button.proto.label for button in buttons[:3]] == ["Map app (geo)", "Amap", "Baidu Maps"]


def test_the_days_route_map_and_sheet_hold_only_the_teams_day(officer_day):
    import json

    _, officer, day, stops = officer_day
    at = _page(officer, {"day": day})
    (day_map,) = [c for c in at.get("component_instance") if c.proto.component_name.endswith("st_folium")]
    script = json.loads(day_map.proto.json_args)["script"]
    # Numbered 1..n as on the cards (the stops' tooltips), all on the one day; the road between them.
    for number in range(1, len(stops) + 1):
        assert f"T1 #{number} day 1 " in script
    assert f"#{len(stops) + 1} " not in script and "day 2" not in script and "L.polyline(" in script
    (sheet,) = at.get("download_button")
    assert sheet.proto.label == "Download the day's route sheet (prints offline)"


def test_day_route_keeps_the_days_stops_and_where_the_team_sets_out_and_sleeps():
    from views.pages.my_sites import day_route

    def stop(seq, kind, arrive, **extra):
        return {
            "seq": seq,
            "type": kind,
            "id": f"S{seq}",
            "name": f"stop {seq}",
            "lon": 87.0 + seq / 10,
            "lat": 43.0,
            "arrive": arrive,
            "depart": arrive,
            "service_minutes": 30,
            "leg_km": 10.0,
            "leg_minutes": 15,
        } | extra

    team = {
        "team_id": "T1",
        "base": "Urumqi",
        "stops": [
            stop(0, "base", "2026-11-16T07:00:00+08:00"),
            stop(1, "site", "2026-11-16T09:00:00+08:00"),
            stop(2, "lodging", "2026-11-16T19:00:00+08:00", night=0),
            stop(3, "site", "2026-11-17T09:00:00+08:00"),
            stop(4, "site", "2026-11-17T11:00:00+08:00"),
            stop(5, "lodging", "2026-11-17T19:00:00+08:00", night=1),
            stop(6, "site", "2026-11-18T09:00:00+08:00"),
        ],
    }
    plan = {
        "scenario": {"name": "week", "start": "2026-11-16"},
        "teams": [team, {"team_id": "T2", "stops": []}],
    }
    route = day_route(plan, "T1", {3, 4}, date(2026, 11, 17))
    (only,) = route["teams"]
    assert [s["id"] for s in only["stops"]] == ["S2", "S3", "S4", "S5"]
    assert [s["seq"] for s in only["stops"] if s["type"] == "site"] == [1, 2]
    assert (only["drive_km"], only["drive_minutes"]) == (30.0, 45)
    assert route["scenario"]["start"] == "2026-11-17"
    assert [s["seq"] for s in team["stops"]] == list(range(7)), "the stored plan is left as it was"


def test_the_days_route_sheet_loads_nothing_from_elsewhere(officer_day):
    """Once opened, the sheet needs no network: no script, stylesheet, image or font to fetch."""
    from layers.datasets import load_targets
    from views.pages.my_sites import day_route
    from views.plan_tables import route_sheet_html

    path, _, day, stops = officer_day
    plan_id = int(stops["plan_id"].iloc[0])
    with open_store(path) as store:
        plan = store.plan(plan_id)["plan"]
    route = day_route(plan, "T1", set(stops["seq"].astype(int)), date.fromisoformat(day))
    sheet = route_sheet_html(route, route["teams"][0], load_targets())
    assert all(str(name) in sheet for name in stops["name"])
    for fetch in ("src=", "<link", "@import", "url(", "<iframe", "<object"):
        assert fetch not in sheet.lower(), fetch


def test_a_stops_map_opens_on_demand_around_the_stop(officer_day):
    import json

    _, officer, day, stops = officer_day
    at = _page(officer, {"day": day})
    maps = [c for c in at.get("component_instance") if c.proto.component_name.endswith("st_folium")]
    assert len(maps) == 1, "only the day's map loads with the page"
    first = stops.sort_values("arrive").iloc[0]
    at.toggle(key=f"my_sites_map_{first['plan_id']}_T1_{first['seq']}_shown").set_value(True).run()
    assert not at.exception
    maps = [c for c in at.get("component_instance") if c.proto.component_name.endswith("st_folium")]
    assert len(maps) == 2
    args = json.loads(maps[1].proto.json_args)
    assert args["center"] == [first["lat"], first["lon"]] and args["zoom"] == 11


def test_a_sites_card_shows_its_open_case_and_follow_up_task(officer_day):
    from datetime import datetime, timedelta

    from records.cases import open_case
    from records.visits import Visit, record_visit

    path, officer, day, stops = officer_day
    site_id = str(stops.sort_values("arrive")["site_id"].iloc[0])
    found = datetime.fromisoformat(DEMO_NOW) - timedelta(days=20)
    with open_store(path) as store:
        visit = record_visit(
            store.conn,
            Visit(site_id, "T2", found, found + timedelta(hours=1), "violation", notes="drums"),
            "chief",
        )
        case = open_case(store.conn, visit, "hazardous_waste", description="drums in the yard", actor="chief")
    at = _page(officer, {"day": day})
    assert not at.exception and not at.error
    lines = [text.value for text in _cards(at)[0].text]
    due = datetime.fromisoformat(case["rectify_by"]).date()
    assert f"Case {case['case_no']}: hazardous-waste violation, open, rectify by {due}" in lines[0]
    assert any(line.startswith("Task: follow-up, due ") and case["case_no"] in line for line in lines)


def test_a_violation_saved_on_the_page_opens_one_case_with_its_finding(officer_day):
    path, officer, day, stops = officer_day
    first = stops.sort_values("arrive").iloc[0]
    key = f"visit-{first['plan_id']}-T1-{first['seq']}.en"
    with open_store(path) as store:
        before = store.conn.execute("SELECT coalesce(max(case_id), 0) FROM cases").fetchone()[0]
    at = _page(officer, {"day": day})
    at.radio(key=f"{key}-outcome").set_value("violation")
    at.text_area(key=f"{key}-notes").input("bypass pipe behind the workshop")
    at = next(button for button in at.button if button.label == "Save").click().run()
    assert any("Choose the finding for a violation" in e.value for e in at.error)
    at.selectbox(key=f"{key}-finding").set_value("illegal_discharge")
    for _ in range(2):  # a second tap stores nothing more
        at = next(button for button in at.button if button.label == "Save").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    with open_store(path) as store:
        (case,) = store.conn.execute("SELECT * FROM cases WHERE case_id > ?", (before,)).fetchall()
        visit = store.conn.execute("SELECT * FROM visits WHERE visit_id = ?", (case["visit_id"],)).fetchone()
    assert (case["category"], case["site_id"], visit["outcome"]) == (
        "illegal_discharge",
        first["site_id"],
        "violation",
    )
    assert case["description"] == "bypass pipe behind the workshop"
    assert any(
        f"Case {case['case_no']} opened, rectify by {case['rectify_by']}" in w.value for w in at.warning
    )
