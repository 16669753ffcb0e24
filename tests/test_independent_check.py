"""The separate checker in ``independent_check`` and ``planning.check`` agree on hand-built plans:
a good plan passes both, each working-time rule broken once is caught by both, and a road leg
over the G216 Shengli Daban pass is flagged in December (closed) but not in July."""

from __future__ import annotations

import dataclasses

import independent_check
import pytest
from test_check import KORLA, RAW, TARGETS, URUMQI, at, build_plan, good_items

from planning.check import check_plan
from planning.closures import load_closures, network_with_closures
from planning.lodging import lodging_candidates
from planning.roads import load_road_network
from planning.scenario import parse_scenario


def both(raw: dict, plan: dict, **kwargs) -> tuple[set[str], set[str]]:
    """(rules named by planning.check, rules named by the independent checker)."""
    scenario = parse_scenario(raw)
    ours = {v.rule for v in check_plan(scenario, plan, targets=TARGETS, network=kwargs.get("network"))}
    lodging = {t.id for t in lodging_candidates(scenario)}
    theirs = independent_check.check(plan, scenario, lodging, **kwargs)
    return ours, {text.split("[")[1].split("]")[0] for text in theirs}


def test_good_plan_passes_both():
    assert both(RAW, build_plan(RAW, good_items())) == (set(), set())


@pytest.mark.parametrize(
    ("raw_change", "change", "rule"),
    [
        ({}, {"F": {"breaks": 0}}, "continuous_drive"),
        ({}, {"leave0": {"depart": at(0, "06:30")}}, "depart_after"),
        ({}, {"bed1": {"depart": at(2, "08:00")}}, "rest"),
        (
            {},
            {
                "leave0": {"depart": at(0, "11:30")},
                "F": {"start": at(0, "16:40")},
                "G": {"start": at(0, "18:40"), "depart": at(0, "21:55")},
            },
            "lodging_by",
        ),
        ({}, {"A": {"start": at(1, "19:10")}}, "window"),
        ({}, {"bed0": {"depart": at(1, "09:00")}, "H": {"start": at(1, "10:00")}}, "day_duty"),
        ({"rules": {"max_drive_minutes_per_day": 360}}, {}, "day_drive"),
        ({"lodging": {"county_seats": False}}, {}, "lodging"),
    ],
)
def test_each_rule_broken_once_is_caught_by_both(raw_change, change, rule):
    raw = {**RAW, **raw_change}
    ours, theirs = both(raw, build_plan(RAW, good_items(**change)))
    assert rule in ours and rule in theirs, (ours, theirs)
    # Only this rule (and, for the late arrival, nothing else either).
    assert ours == theirs == {rule}, (ours, theirs)


def test_night_check_window_and_return():
    late = build_plan(
        RAW,
        good_items(N={"start": at(2, "02:10")}, bed1={"depart": at(2, "13:30")}, B={"start": at(2, "14:00")}),
    )
    ours, theirs = both(RAW, late)
    assert {"window", "day_duty"} <= ours and {"window", "day_duty"} <= theirs
    inside = build_plan(
        RAW,
        good_items(N={"start": at(2, "01:30")}, bed1={"depart": at(2, "13:30")}, B={"start": at(2, "14:00")}),
    )
    assert "lodging_by" not in set.union(*both(RAW, inside))
    strict = {**RAW, "rules": {"night_return_minutes": 0}}
    ours, theirs = both(strict, inside)
    assert "lodging_by" in ours and "lodging_by" in theirs


def test_missing_night_is_caught_by_both():
    plan = build_plan(RAW, good_items())
    plan["teams"][0]["stops"][3]["night"] = None
    ours, theirs = both(RAW, plan)
    assert "night" in ours and "night" in theirs


# --- road legs and closures -------------------------------------------------------------------

ROAD_RAW = {
    **RAW,
    "days": 1,
    "return_to_base": False,
    "travel": "road_network",
    "work_hours": "10:00-19:30",
}


@pytest.fixture(scope="module")
def roads():
    return load_road_network()


def _korla_trip(raw: dict, network) -> dict:
    """Urumqi -> Korla in one day, sleeping at Korla, legs on ``network``; breaks so that no
    piece of the leg is longer than the continuous-driving limit."""
    items = [
        {"type": "base", "id": URUMQI, "depart": at(0, "08:00")},
        {"type": "lodging", "id": KORLA, "night": 0, "breaks": 40},
    ]
    plan = build_plan(raw, items, network=network)
    plan["dropped"] = [{"id": s, "reason": "not this week"} for s in TARGETS["site_id"]]
    return plan


def test_korla_over_the_closed_pass_in_december(roads):
    december = {**ROAD_RAW, "start": "2026-12-07"}
    open_plan = _korla_trip(december, roads)
    g216 = [c for c in load_closures() if c.id == "G216-shengli-daban"]
    closed_plan = _korla_trip(december, network_with_closures(roads, g216))
    open_km, closed_km = (p["teams"][0]["stops"][1]["leg_km"] for p in (open_plan, closed_plan))
    assert closed_km > open_km + 100, (open_km, closed_km)  # the detour via Toksun

    scenario = parse_scenario(december)
    violations = check_plan(scenario, open_plan, targets=TARGETS, network=roads)
    closure = [v for v in violations if v.rule == "closure"]
    assert [(v.team, v.seq) for v in closure] == [("T1", 1)], violations
    assert "G216-shengli-daban" in closure[0].message and "2026-12-07" in closure[0].message
    assert "G217" not in closure[0].message  # in force too, but not on this road
    theirs = independent_check.check(open_plan, scenario, {KORLA, URUMQI}, network=roads)
    assert any("[closure]" in text for text in theirs), theirs

    # The plan that drives round the closed pass passes both (a long day, but inside the rules).
    ours = check_plan(scenario, closed_plan, targets=TARGETS, network=roads)
    assert [v for v in ours if v.rule in ("closure", "leg")] == []
    assert not [
        t
        for t in independent_check.check(closed_plan, scenario, {KORLA, URUMQI}, network=roads)
        if "[closure]" in t
    ]


def test_korla_over_the_pass_in_july_is_fine(roads):
    july = {**ROAD_RAW, "start": "2026-07-06"}
    plan = _korla_trip(july, roads)
    scenario = parse_scenario(july)
    assert check_plan(scenario, plan, targets=TARGETS, network=roads) == []
    assert independent_check.check(plan, scenario, {KORLA, URUMQI}, network=roads) == []
    # A chief's extra closure on that date is applied too.
    extra = [
        dataclasses.replace(c, id="chief-1", period="2026-07-06")
        for c in load_closures()
        if c.id == "G216-shengli-daban"
    ]
    violations = check_plan(scenario, plan, targets=TARGETS, network=roads, closures=extra)
    assert [v.rule for v in violations] == ["closure"] and "chief-1" in violations[0].message
