"""The plan checker catches hand-broken plans and passes good ones.

Plans are built by hand (:func:`build_plan`): a few stops with the times a planner would write,
legs from the great-circle model (or the road network where closures matter), day summaries
from the stops. Each test breaks one rule, so both this checker and the separate one in
``tests/independent_check.py`` must name it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

import pandas as pd
import pytest
import yaml
from patrol_fixtures import make_targets, scenario_dict

from planning import check
from planning.check import Violation, check_plan
from planning.lodging import lodging_candidates
from planning.scenario import parse_scenario
from planning.travel import travel_matrix

URUMQI, KORLA = "1529102", "1529376"
URUMQI_LONLAT, KORLA_LONLAT = (87.60046, 43.80096), (86.15231, 41.76055)

#: Sites near Urumqi (A, B, night check N) and near Korla (F, G, H).
SITES = [
    {"id": "PS-A", "lon": 87.75, "lat": 43.90, "service_minutes": 60},
    {"id": "PS-B", "lon": 87.45, "lat": 43.75, "service_minutes": 60},
    {"id": "PS-N", "lon": 87.70, "lat": 43.70, "service_minutes": 30, "night_check": True},
    {"id": "PS-F", "lon": 86.30, "lat": 41.85, "service_minutes": 60},
    {"id": "PS-G", "lon": 86.05, "lat": 41.85, "service_minutes": 60},
    {"id": "PS-H", "lon": 86.20, "lat": 41.70, "service_minutes": 45},
]
TARGETS = make_targets(SITES)
RAW = scenario_dict(
    days=3,
    night_hours="22:00-02:00",
    teams=[{"id": "T1", "base": "Urumqi", "skills": ["sampling"]}],
)


def at(day: int, clock: str) -> int:
    """Plan minute of ``clock`` (HH:MM) on plan day ``day``."""
    hours, minutes = clock.split(":")
    return day * 1440 + int(hours) * 60 + int(minutes)


def build_plan(raw: dict, items: list[dict], *, network=None, version: int = 2) -> dict:
    """A plan file for team T1 from ``items``: dicts with ``type``, ``id`` and optionally
    ``start``/``depart`` (plan minutes), ``breaks`` (minutes inside the leg arriving there) and
    ``night``. Arrivals follow from the legs; a stop without ``start`` starts on arrival, without
    ``depart`` leaves when its service ends. Every other scenario site is dropped."""
    scenario = parse_scenario(raw)
    towns = {t.id: t for t in lodging_candidates(scenario)}
    sites = TARGETS.set_index("site_id")
    points = []
    for item in items:
        if item["type"] == "site":
            geom = sites.loc[item["id"]].geometry
            points.append((geom.x, geom.y))
        else:
            town = towns.get(item["id"])
            points.append(item.get("lonlat") or (town.lon, town.lat))
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(len(points))],
            "lon": [p[0] for p in points],
            "lat": [p[1] for p in points],
        }
    )
    matrix = travel_matrix(frame, network)
    stops, clock = [], None
    for i, item in enumerate(items):
        site = item["type"] == "site"
        service = int(sites.loc[item["id"], "service_minutes"]) if site else 0
        leg_minutes = 0 if i == 0 else math.ceil(matrix.minutes[i - 1, i])
        leg_km = 0.0 if i == 0 else round(float(matrix.km[i - 1, i]), 1)
        arrive = item["depart"] if i == 0 else clock + leg_minutes + item.get("breaks", 0)
        start = item.get("start", arrive)
        assert start >= arrive, f"test plan: stop {i} starts before it arrives ({start} < {arrive})"
        depart = item.get("depart", start + service)
        clock = depart
        stops.append(
            {
                "seq": i,
                "type": item["type"],
                "id": item["id"],
                "name": item["id"] if site else towns[item["id"]].name if item["id"] in towns else item["id"],
                "lon": points[i][0],
                "lat": points[i][1],
                "arrive": scenario.minute_to_datetime(arrive).isoformat(),
                "start": scenario.minute_to_datetime(start).isoformat(),
                "depart": scenario.minute_to_datetime(depart).isoformat(),
                "service_minutes": service,
                "leg_km": leg_km,
                "leg_minutes": leg_minutes,
                "leg_break_minutes": item.get("breaks", 0),
                "night": item.get("night"),
                "night_check": bool(site and sites.loc[item["id"], "night_check"]),
                "mandatory": False,
                "priority": 1.0,
            }
        )
    routed = {s["id"] for s in stops if s["type"] == "site"}
    plan = {
        "format_version": 2,
        "scenario": raw,
        "travel_model": "great_circle" if network is None else "road_network",
        "status": "solved",
        "teams": [
            {
                "team_id": "T1",
                "base": "Ürümqi",
                "officers": [],
                "stops": stops,
                "days": _days(scenario, stops),
            }
        ],
        "dropped": [
            {"id": s["id"], "reason": "not needed", "mandatory": False}
            for s in SITES
            if s["id"] not in routed
        ],
        "mandatory_unmet": [],
        "closures": [],
        "warnings": [],
    }
    if version == 1:
        del plan["format_version"], plan["teams"][0]["days"]
        for stop in stops:
            assert stop["start"] == stop["arrive"] and not stop["leg_break_minutes"], "not a v1 plan"
            del stop["start"], stop["leg_break_minutes"]
    return plan


def _days(scenario, stops: list[dict]) -> list[dict]:
    """The v2 day summaries, from beds to beds."""
    beds = [0] + [i for i, s in enumerate(stops) if i and s["night"] is not None]
    if beds[-1] != len(stops) - 1 and stops[-1]["type"] == "base":
        beds.append(len(stops) - 1)
    days = []
    for a, b in zip(beds, beds[1:], strict=False):
        leave, reach = (
            dt.datetime.fromisoformat(stops[a]["depart"]),
            dt.datetime.fromisoformat(stops[b]["arrive"]),
        )
        legs = stops[a + 1 : b + 1]
        days.append(
            {
                "date": leave.date().isoformat(),
                "leave": stops[a]["depart"],
                "arrive_bed": stops[b]["arrive"],
                "bed": stops[b]["name"],
                "bed_id": stops[b]["id"],
                "drive_minutes": sum(s["leg_minutes"] for s in legs),
                "duty_minutes": round((reach - leave).total_seconds() / 60),
                "km": round(sum(s["leg_km"] for s in legs), 1),
                "sites": sum(1 for s in legs if s["type"] == "site"),
            }
        )
    return days


def good_items(**change) -> list[dict]:
    """Three days: Urumqi -> Korla sites (one break) -> Korla; Korla -> Urumqi site, a night
    check, home; a morning round. ``change`` replaces items by key (e.g. ``leave0=...``)."""
    items = {
        "leave0": {"type": "base", "id": URUMQI, "depart": at(0, "08:00")},
        "F": {"type": "site", "id": "PS-F", "start": at(0, "13:30"), "breaks": 20},
        "G": {"type": "site", "id": "PS-G", "start": at(0, "15:00")},
        "bed0": {"type": "lodging", "id": KORLA, "night": 0, "depart": at(1, "12:00")},
        "H": {"type": "site", "id": "PS-H", "start": at(1, "12:10")},
        "A": {"type": "site", "id": "PS-A", "start": at(1, "18:40"), "breaks": 20},
        "N": {"type": "site", "id": "PS-N", "start": at(1, "22:00")},
        "bed1": {"type": "base", "id": URUMQI, "night": 1, "depart": at(2, "09:30")},
        "B": {"type": "site", "id": "PS-B", "start": at(2, "10:00")},
        "home": {"type": "base", "id": URUMQI},
    }
    for key, value in change.items():
        items[key] = {**items[key], **value} if value is not None else None
    return [item for item in items.values() if item is not None]


def rules_of(raw: dict, plan: dict, **kwargs) -> set[str]:
    """The rule names the checker reports."""
    return {v.rule for v in check_plan(parse_scenario(raw), plan, targets=TARGETS, network=None, **kwargs)}


@pytest.fixture(scope="module")
def good() -> dict:
    return build_plan(RAW, good_items())


def test_good_plan_passes(good):
    violations = check_plan(parse_scenario(RAW), good, targets=TARGETS, network=None)
    assert violations == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"F": {"breaks": 0}}, "continuous_drive"),
        ({"leave0": {"depart": at(0, "06:30")}}, "depart_after"),
        ({"bed1": {"depart": at(2, "08:00")}, "B": {"start": at(2, "10:00")}}, "rest"),
        # Late at Korla: arrives after 22:00, without a night check before.
        (
            {
                "leave0": {"depart": at(0, "11:30")},
                "F": {"start": at(0, "16:40")},
                "G": {"start": at(0, "18:40"), "depart": at(0, "21:55")},
            },
            "lodging_by",
        ),
        # A starts inside the work window but ends 10 min after its end + the 30 min overrun.
        ({"A": {"start": at(1, "19:10")}}, "window"),
        (
            {
                "N": {"start": at(2, "02:10")},
                "bed1": {"depart": at(2, "13:30")},
                "B": {"start": at(2, "14:00")},
            },
            "window",
        ),
        # A long day: leaving Korla at 09:00 and home after the night check is over 11 h.
        ({"bed0": {"depart": at(1, "09:00")}, "H": {"start": at(1, "10:00")}}, "day_duty"),
    ],
)
def test_each_working_time_rule_broken_once(change, rule):
    plan = build_plan(RAW, good_items(**change))
    assert rule in rules_of(RAW, plan)


def test_driving_per_day_and_night_check_return():
    # Day 1 drives 371 min: a 6 h limit is broken, a 6 h 20 one is not.
    strict = {**RAW, "rules": {"max_drive_minutes_per_day": 360}}
    plan = build_plan(RAW, good_items())
    assert rules_of(strict, plan) == {"day_drive"}
    assert rules_of({**RAW, "rules": {"max_drive_minutes_per_day": 380}}, plan) == set()
    # After the night check the bed may be reached by 02:00 + 60 min, not later.
    late = build_plan(
        RAW,
        good_items(N={"start": at(2, "01:30")}, bed1={"depart": at(2, "13:30")}, B={"start": at(2, "14:00")}),
    )
    assert "lodging_by" not in rules_of(RAW, late)
    assert "lodging_by" in rules_of({**RAW, "rules": {"night_return_minutes": 0}}, late)


def test_lodging_town_and_night_count(good):
    seats_off = {**RAW, "lodging": {"county_seats": False}}
    violations = check_plan(parse_scenario(seats_off), good, targets=TARGETS, network=None)
    assert [(v.rule, v.seq) for v in violations] == [("lodging", 3)]
    broken = copy.deepcopy(good)
    broken["teams"][0]["stops"][3]["night"] = None
    assert "night" in rules_of(RAW, broken)


def test_leg_arithmetic_wait_and_service(good):
    broken = copy.deepcopy(good)
    broken["teams"][0]["stops"][1]["leg_break_minutes"] = 0  # arrive no longer adds up
    assert "leg_time" in rules_of(RAW, broken)
    broken = copy.deepcopy(good)
    stop = broken["teams"][0]["stops"][2]
    # Arriving 5 min after the inspection starts: neither the wait nor the leg adds up.
    stop["arrive"] = (dt.datetime.fromisoformat(stop["start"]) + dt.timedelta(minutes=5)).isoformat()
    assert {"wait", "leg_time"} <= rules_of(RAW, broken)
    broken = copy.deepcopy(good)
    stop = broken["teams"][0]["stops"][2]
    stop["depart"] = (dt.datetime.fromisoformat(stop["start"]) + dt.timedelta(minutes=30)).isoformat()
    assert "service" in rules_of(RAW, broken)


def test_day_summaries_must_agree(good):
    for field, value in (("drive_minutes", 1), ("km", 5.0), ("duty_minutes", -30)):
        broken = copy.deepcopy(good)
        broken["teams"][0]["days"][1][field] += value
        violations = check_plan(parse_scenario(RAW), broken, targets=TARGETS, network=None)
        if field == "drive_minutes":  # within the 1 min tolerance
            assert violations == []
            continue
        assert [(v.rule, v.day) for v in violations] == [("days", 1)], violations
        assert field in violations[0].message
    broken = copy.deepcopy(good)
    broken["teams"][0]["days"][0]["bed_id"] = URUMQI
    broken["teams"][0]["days"][2]["date"] = "2026-11-26"
    assert [
        (v.rule, v.day) for v in check_plan(parse_scenario(RAW), broken, targets=TARGETS, network=None)
    ] == [
        ("days", 0),
        ("days", 2),
    ]
    del broken["teams"][0]["days"]
    assert rules_of(RAW, broken) == {"days"}


def test_version_1_plans_are_read():
    raw = {**RAW, "days": 1}
    items = [
        {"type": "base", "id": URUMQI, "depart": at(0, "09:50")},
        {"type": "site", "id": "PS-B"},
        {"type": "site", "id": "PS-A"},
        {"type": "base", "id": URUMQI},
    ]
    plan = build_plan(raw, items, version=1)
    assert "format_version" not in plan and "start" not in plan["teams"][0]["stops"][1]
    assert rules_of(raw, plan) == set()
    late = build_plan(
        raw, [items[0], {"type": "site", "id": "PS-B", "depart": at(0, "19:20")}, *items[2:]], version=1
    )
    violations = check_plan(parse_scenario(raw), late, targets=TARGETS, network=None)
    # A starts on arrival (v1), after the work window; the long wait at B also makes a long day.
    assert {(v.rule, v.seq, v.day) for v in violations} == {("window", 2, None), ("day_duty", None, 0)}
    assert rules_of(raw, {**plan, "format_version": 3}) == {"format"}


def test_start_duplicates_dropped_and_mandatory(good):
    broken = copy.deepcopy(good)
    broken["teams"][0]["stops"][0]["id"] = "0"
    assert "start" in rules_of(RAW, broken)
    broken = copy.deepcopy(good)
    broken["dropped"].append({"id": "PS-F", "reason": "x"})
    assert "dropped" in rules_of(RAW, broken)
    strict = {**RAW, "sites": {"mandatory": ["PS-B"]}}
    items = good_items(B=None)
    plan = build_plan(strict, items)
    assert "mandatory" in rules_of(strict, plan)
    plan["mandatory_unmet"] = ["PS-B"]
    assert rules_of(strict, plan) == set()
    plan["dropped"] = [d for d in plan["dropped"] if d["id"] != "PS-B"]
    assert rules_of(strict, plan) == {"missing"}


def test_drawn_officers():
    drawn = {"sites": {"drawn_officers": {"PS-F": ["E01", "E02"]}}}
    listed = {
        **RAW,
        **drawn,
        "teams": [{"id": "T1", "base": "Urumqi", "skills": ["sampling"], "officers": ["E01", "E03"]}],
    }
    plan = build_plan(listed, good_items())
    violations = check_plan(parse_scenario(listed), plan, targets=TARGETS, network=None)
    assert [(v.rule, v.seq) for v in violations] == [("officers", 1)]
    assert "E02" in violations[0].message
    # Nobody listed on the teams: the planner only warns.
    assert rules_of({**RAW, **drawn}, plan) == set()
    holder = {**listed, "teams": [{**listed["teams"][0], "officers": ["E02", "E01"]}]}
    assert rules_of(holder, plan) == set()


def test_violation_text_names_team_stop_or_day():
    assert str(Violation("T1", 3, "rest", "short")) == "team T1 stop 3: [rest] short"
    assert str(Violation("T1", None, "day_drive", "long", day=2)) == "team T1 day 2: [day_drive] long"
    assert str(Violation(None, None, "missing", "x")) == "plan: [missing] x"


def test_cli_exit_codes(good, tmp_path, monkeypatch, capsys):
    calls = []

    def fake(scenario, plan, **kwargs):
        calls.append(kwargs)
        return check_plan(scenario, plan, targets=TARGETS, network=None, **kwargs)

    monkeypatch.setattr(check, "check_plan", fake)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(RAW))
    (tmp_path / "ok.json").write_text(json.dumps(good))
    args = ["--scenario", str(tmp_path / "s.yaml"), "--plan"]
    assert check.main([*args, str(tmp_path / "ok.json")]) == 0
    assert "no violation" in capsys.readouterr().out
    broken = copy.deepcopy(good)
    broken["teams"][0]["stops"][1]["leg_break_minutes"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    assert check.main([*args, str(tmp_path / "bad.json")]) == 1
    out = capsys.readouterr().out
    assert "team T1 stop 1: [continuous_drive]" in out and "team T1 stop 1: [leg_time]" in out
    (tmp_path / "junk.json").write_text("[1, 2")
    assert check.main([*args, str(tmp_path / "junk.json")]) == 2
    assert check.main([*args, str(tmp_path / "ok.json"), "--closures", str(tmp_path / "none.geojson")]) == 2
    assert "none.geojson" in capsys.readouterr().err


def test_overrides_broken_are_caught():
    """A pinned site on another team or day, a forbidden pair and work on an unavailable day."""
    from patrol_fixtures import make_targets, ring_sites, scenario_dict

    from planning.patrol import plan_week
    from planning.scenario import parse_scenario

    rows = ring_sites(8, radius_deg=0.5, service_minutes=60)
    targets = make_targets(rows)
    teams = [{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Urumqi"}]
    plain = parse_scenario(scenario_dict(days=2, teams=teams))
    plan = plan_week(plain, targets=targets, network=None, effort=5).to_dict()
    visits = {
        s["id"]: (t["team_id"], s["start"][:10])
        for t in plan["teams"]
        for s in t["stops"]
        if s["type"] == "site"
    }
    site, (team, day) = sorted(visits.items())[0]
    other = "T2" if team == "T1" else "T1"
    other_day = "2026-11-24" if day == "2026-11-23" else "2026-11-23"
    strict = parse_scenario(
        scenario_dict(
            days=2,
            teams=teams,
            pins=[{"site": site, "team": other, "day": other_day}],
            unavailable=[{"team": team, "from": day}],
        )
    )
    rules = {v.rule for v in check_plan(strict, plan, targets=targets, network=None)}
    assert {"pin", "unavailable"} <= rules
    forbid = parse_scenario(scenario_dict(days=2, teams=teams, forbid=[{"site": site, "team": team}]))
    assert "forbid" in {v.rule for v in check_plan(forbid, plan, targets=targets, network=None)}
