"""The weekly planner: plans keep every rule (checked independently), small instances are solved
to optimality, and impossible requests end in a plan that says why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from patrol_fixtures import URUMQI, brute_force, make_targets, ring_sites, scenario_dict

from planning.check import check_plan
from planning.patrol import plan_week, week_model
from planning.scenario import load_scenario, parse_scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "data" / "scenarios").glob("*.yaml"))


def _plan_and_check(raw: dict, targets, effort: int = 5, **kwargs):
    scenario = parse_scenario(raw)
    plan = plan_week(scenario, targets=targets, network=None, effort=effort, **kwargs).to_dict()
    violations = check_plan(scenario, plan, targets=targets, network=None)
    assert violations == [], "\n".join(map(str, violations))
    return scenario, plan


def _sites(plan: dict) -> list[dict]:
    return [s for t in plan["teams"] for s in t["stops"] if s["type"] == "site"]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_pass_the_checker(path):
    scenario = load_scenario(path)
    plan = plan_week(scenario, effort=5).to_dict()
    assert plan["travel_model"] == "road_network"
    assert check_plan(scenario, plan) == []
    assert plan["kpis"]["sites_visited"] > 0
    # Every scenario site is in a route or dropped with a reason, exactly once.
    listed = [s["id"] for s in _sites(plan)] + [d["id"] for d in plan["dropped"]]
    assert len(listed) == len(set(listed)) == plan["kpis"]["sites_total"]
    assert all(d["reason"] for d in plan["dropped"])


def test_shipped_scenarios_cover_the_three_areas():
    names = {load_scenario(p).name for p in SCENARIOS}
    assert len(SCENARIOS) >= 3
    assert (
        any("Urumqi" in n for n in names)
        and any("Korla" in n for n in names)
        and any("Ili" in n for n in names)
    )


@pytest.mark.parametrize(
    ("days", "count", "service", "lodging"),
    [(1, 7, 90, "auto"), (2, 6, 240, ["Changji"])],
)
def test_small_instances_reach_the_brute_force_optimum(days, count, service, lodging):
    # Sites far enough apart, and long enough to inspect, that the days cannot hold them all.
    targets = make_targets(ring_sites(count, radius_deg=0.9, service_minutes=service))
    raw = scenario_dict(days=days, lodging=lodging)
    scenario = parse_scenario(raw)
    model = week_model(scenario, targets=targets, network=None)
    optimum = brute_force(model.problem)
    plan = plan_week(scenario, targets=targets, network=None, effort=10)
    assert plan.objective == optimum
    assert check_plan(scenario, plan.to_dict(), targets=targets, network=None) == []
    assert 0 < plan.kpis["sites_visited"] < count  # the instance is not trivial


def test_far_mandatory_site_in_one_day_is_explained_not_crashed():
    # Kashgar is about 1,500 km by road from Urumqi.
    targets = make_targets([{"id": "PS-FAR", "lon": 75.99, "lat": 39.47}, *ring_sites(3)])
    scenario, plan = _plan_and_check(scenario_dict(sites={"mandatory": ["PS-FAR"]}), targets)
    assert plan["status"] == "solved_mandatory_unmet"
    assert plan["mandatory_unmet"] == ["PS-FAR"]
    (entry,) = [d for d in plan["dropped"] if d["id"] == "PS-FAR"]
    assert (
        "cannot visit mandatory site" in entry["reason"] and "outside every team's range" in entry["reason"]
    )
    assert {s["id"] for s in _sites(plan)} == {"PS-00001", "PS-00002", "PS-00003"}


def test_reachable_mandatory_site_is_visited_even_with_low_priority():
    rows = ring_sites(12, radius_deg=0.9, service_minutes=120)
    rows[5]["risk_level"] = 1
    scenario, plan = _plan_and_check(scenario_dict(sites={"mandatory": [rows[5]["id"]]}), make_targets(rows))
    assert rows[5]["id"] in {s["id"] for s in _sites(plan)}
    assert plan["status"] == "solved" and plan["mandatory_unmet"] == []


def test_night_check_site_only_in_the_night_window():
    targets = make_targets(
        [
            {"id": "PS-NIGHT", "lon": URUMQI[0] + 0.1, "lat": URUMQI[1] + 0.05, "night_check": True},
            {"id": "PS-DAY", "lon": URUMQI[0] - 0.1, "lat": URUMQI[1]},
        ]
    )
    scenario, plan = _plan_and_check(scenario_dict(days=2, night_hours="22:00-02:00"), targets)
    (night,) = [s for s in _sites(plan) if s["id"] == "PS-NIGHT"]
    start = dt.datetime.fromisoformat(night["start"])
    assert start.hour >= 22 or start.hour < 2
    # Without a night window the same site cannot be planned, and the plan says so.
    _, plan = _plan_and_check(scenario_dict(days=2), targets)
    (entry,) = plan["dropped"]
    assert entry["id"] == "PS-NIGHT" and "night" in entry["reason"]


def test_skills_decide_which_team_goes():
    targets = make_targets(
        [
            {"id": "PS-DRONE", "lon": URUMQI[0] + 0.2, "lat": URUMQI[1], "skills_required": "drone"},
            {"id": "PS-BOAT", "lon": URUMQI[0] - 0.2, "lat": URUMQI[1], "skills_required": "boat"},
        ]
    )
    teams = [{"id": "A", "base": "Urumqi"}, {"id": "B", "base": "Changji", "skills": ["drone"]}]
    _, plan = _plan_and_check(scenario_dict(teams=teams), targets)
    by_team = {t["team_id"]: [s["id"] for s in t["stops"] if s["type"] == "site"] for t in plan["teams"]}
    assert by_team == {"A": [], "B": ["PS-DRONE"]}
    (entry,) = plan["dropped"]
    assert entry["id"] == "PS-BOAT" and "needs skill boat" in entry["reason"]


@pytest.mark.parametrize("return_to_base", [True, False])
def test_every_night_at_a_lodging_town_or_the_base(return_to_base):
    targets = make_targets(ring_sites(30, radius_deg=1.5))
    teams = [{"id": "T1", "base": "Urumqi", "skills": ["sampling"]}, {"id": "T2", "base": "Shihezi"}]
    scenario, plan = _plan_and_check(
        scenario_dict(days=3, teams=teams, return_to_base=return_to_base), targets, effort=10
    )
    for team in plan["teams"]:
        nights = [s for s in team["stops"] if s["night"] is not None]
        assert [s["night"] for s in nights] == list(range(scenario.night_count()))
        assert all(s["type"] in ("lodging", "base") for s in nights)
        last = team["stops"][-1]
        assert (last["type"] == "base") if return_to_base else (last["night"] == scenario.days - 1)


def test_two_teams_both_work_and_pass_the_checker():
    targets = make_targets(ring_sites(20, radius_deg=1.0))
    teams = [{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Changji"}]
    _, plan = _plan_and_check(scenario_dict(days=2, teams=teams), targets, effort=10)
    assert plan["strategy"] == "week" and plan["kpis"]["sites_visited"] > 0
    assert all(any(s["type"] == "site" for s in team["stops"]) for team in plan["teams"])


def test_pins_forbids_and_unavailable_days_are_kept():
    rows = ring_sites(12, radius_deg=0.6, service_minutes=60)
    targets = make_targets(rows)
    teams = [{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Urumqi"}]
    raw = scenario_dict(
        days=3,
        teams=teams,
        pins=[
            {"site": rows[0]["id"], "team": "T2", "day": "2026-11-25"},
            {"site": rows[6]["id"], "day": "2026-11-24"},
        ],
        forbid=[{"site": rows[3]["id"], "team": "T2"}],
        unavailable=[{"team": "T1", "from": "2026-11-24", "to": "2026-11-25"}],
    )
    scenario, plan = _plan_and_check(raw, targets, effort=10)
    where = {
        s["id"]: (t["team_id"], s["start"][:10])
        for t in plan["teams"]
        for s in t["stops"]
        if s["type"] == "site"
    }
    assert where[rows[0]["id"]] == ("T2", "2026-11-25")
    assert where[rows[6]["id"]][1] == "2026-11-24"
    assert where.get(rows[3]["id"], ("T1",))[0] == "T1"
    t1 = next(t for t in plan["teams"] if t["team_id"] == "T1")
    assert all(d["sites"] == 0 for d in t1["days"][1:]), t1["days"]


def test_a_pin_that_cannot_be_met_is_explained():
    # Kashgar is about 1,500 km from Urumqi: pinned to the first evening, it cannot be met.
    targets = make_targets([{"id": "PS-FAR", "lon": 75.99, "lat": 39.47}, *ring_sites(3)])
    raw = scenario_dict(days=2, pins=[{"site": "PS-FAR", "day": "2026-11-23"}])
    _, plan = _plan_and_check(raw, targets)
    assert plan["mandatory_unmet"] == ["PS-FAR"] and plan["status"] == "solved_mandatory_unmet"
    (entry,) = [d for d in plan["dropped"] if d["id"] == "PS-FAR"]
    assert "cannot visit mandatory site" in entry["reason"]
