"""Plans a chief would sign, on the real registry and roads: working-time rules kept (by the
project's checker and the independent one), every team working, remote mandatory county seats
met with nights in county seats, drawn officers honoured, and the same plan on every run."""

from __future__ import annotations

import json

import pytest
from independent_check import check as independent_check

from planning.check import check_plan
from planning.lodging import county_seats, lodging_candidates
from planning.patrol import plan_week
from planning.scenario import parse_scenario

#: Drinking-water and pollution sources in the Ruoqiang and Qiemo county seats' counties.
RUOQIANG_SITE, QIEMO_SITE = "PS-00363", "PS-00368"


def _korla_scenario(**overrides) -> dict:
    raw = {
        "name": "Korla detachment, three teams",
        "start": "2026-12-07",
        "days": 5,
        "work_hours": "10:00-19:30",
        "teams": [{"id": f"K{i}", "base": "Korla", "skills": ["sampling"]} for i in (1, 2, 3)],
        "sites": {
            "regions": ["巴音郭楞蒙古自治州"],
            "layers": ["pollution_source"],
            "min_priority": 45,
            "mandatory": [RUOQIANG_SITE, QIEMO_SITE],
        },
        "solver": {"seed": 3, "effort": 12},
    }
    raw.update(overrides)
    return raw


def _sites(team: dict) -> list[str]:
    return [s["id"] for s in team["stops"] if s["type"] == "site"]


@pytest.fixture(scope="module")
def korla():
    scenario = parse_scenario(_korla_scenario())
    return scenario, plan_week(scenario).to_dict()


def test_three_korla_teams_all_work_and_meet_the_remote_mandatory_sites(korla):
    scenario, plan = korla
    assert plan["status"] == "solved" and plan["mandatory_unmet"] == []
    visited = {site for team in plan["teams"] for site in _sites(team)}
    assert {RUOQIANG_SITE, QIEMO_SITE} <= visited
    assert all(_sites(team) for team in plan["teams"]), [len(_sites(t)) for t in plan["teams"]]
    seats = {town.id for town in county_seats()}
    beds = [d["bed_id"] for team in plan["teams"] for d in team["days"]]
    assert set(beds) <= seats, "every night in a city or county seat (Korla is one)"
    # Ruoqiang and Qiemo are 300-450 km from Korla: whoever goes sleeps away.
    assert plan["kpis"]["nights_away_from_base"] >= 1


def test_korla_plan_keeps_every_rule_for_both_checkers(korla):
    scenario, plan = korla
    assert check_plan(scenario, plan) == []
    lodging = {town.id for town in lodging_candidates(scenario)}
    assert independent_check(plan, scenario, lodging) == []
    rules = scenario.rules
    for team in plan["teams"]:
        for day in team["days"]:
            assert day["drive_minutes"] <= rules.max_drive_minutes_per_day
            assert day["duty_minutes"] <= rules.max_duty_minutes_per_day


def test_no_team_idles_while_sites_wait_for_time(korla):
    _, plan = korla
    short_of_time = [d for d in plan["dropped"] if "working time" in d["reason"]]
    idle = [t["team_id"] for t in plan["teams"] if not _sites(t)]
    assert not (short_of_time and idle)


def test_same_inputs_same_plan(korla):
    scenario, plan = korla
    again = plan_week(scenario).to_dict()
    for document in (plan, again):
        document.pop("solve_seconds")
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    assert plan["solver"]["seed"] == 3 and plan["solver"]["effort"] == 12


def test_drawn_officers_decide_the_team():
    raw = _korla_scenario(days=2, solver={"seed": 1, "effort": 5})
    raw["sites"] = {
        "regions": ["库尔勒市"],
        "layers": ["pollution_source"],
        "min_priority": 50,
        "drawn_officers": {},
    }
    scenario = parse_scenario(raw)
    plan = plan_week(scenario).to_dict()
    target = next(s for t in plan["teams"] for s in _sites(t))
    raw["sites"]["mandatory"] = [target]
    raw["sites"]["drawn_officers"] = {target: ["OF-1", "OF-2"]}
    raw["teams"][2]["officers"] = ["OF-1", "OF-2", "OF-3"]
    raw["teams"][0]["officers"] = ["OF-1"]
    scenario = parse_scenario(raw)
    plan = plan_week(scenario).to_dict()
    holders = [t["team_id"] for t in plan["teams"] if target in _sites(t)]
    assert holders == ["K3"]
    assert check_plan(scenario, plan) == []
    # Nobody holds both drawn officers: the plan says why the site is not visited.
    raw["teams"][2]["officers"] = ["OF-2"]
    scenario = parse_scenario(raw)
    plan = plan_week(scenario).to_dict()
    (entry,) = [d for d in plan["dropped"] if d["id"] == target]
    assert entry["mandatory"] and "OF-1, OF-2" in entry["reason"]
    assert check_plan(scenario, plan) == []


UNSEEN = {
    "ili-december-night-checks": {
        "start": "2026-12-14",
        "days": 4,
        "night_hours": "22:00-02:00",
        "teams": [
            {"id": "Y1", "base": "伊宁市", "skills": ["sampling", "drone"]},
            {"id": "Y2", "base": "Xinyuan", "skills": ["sampling"]},
        ],
        "sites": {"regions": ["伊犁哈萨克自治州"], "layers": ["pollution_source"], "min_priority": 40},
    },
    "karamay-bole-kuitun-two-teams-one-base": {
        "start": "2027-01-11",
        "days": 3,
        "return_to_base": False,
        "teams": [{"id": "B1", "base": "奎屯市"}, {"id": "B2", "base": "奎屯市"}],
        "sites": {"regions": ["克拉玛依市", "博尔塔拉蒙古自治州", "奎屯市"], "min_priority": 30},
    },
}


@pytest.mark.parametrize("name", sorted(UNSEEN))
def test_unseen_winter_scenarios_keep_every_rule_for_both_checkers(name):
    raw = {"name": name, "work_hours": "10:00-19:30", "solver": {"seed": 2, "effort": 6}, **UNSEEN[name]}
    scenario = parse_scenario(raw)
    plan = plan_week(scenario).to_dict()
    assert plan["status"] in ("solved", "solved_mandatory_unmet")
    assert plan["kpis"]["sites_visited"] > 0
    assert check_plan(scenario, plan) == []
    lodging = {town.id for town in lodging_candidates(scenario)}
    assert independent_check(plan, scenario, lodging) == []
    assert all(_sites(team) for team in plan["teams"])
