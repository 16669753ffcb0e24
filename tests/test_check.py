"""The independent plan checker catches hand-broken plans and passes a good one."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
import yaml
from patrol_fixtures import make_targets, ring_sites, scenario_dict

from planning import check
from planning.check import check_plan
from planning.patrol import plan_week
from planning.scenario import parse_scenario

RAW = scenario_dict(days=2, teams=[{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Changji"}])
TARGETS = make_targets(ring_sites(10, radius_deg=0.6))


@pytest.fixture(scope="module")
def good():
    scenario = parse_scenario(RAW)
    plan = plan_week(scenario, targets=TARGETS, network=None, seconds=1.5).to_dict()
    assert check_plan(scenario, plan, targets=TARGETS, network=None) == []
    return scenario, plan


def _rules(scenario, plan) -> set[str]:
    return {v.rule for v in check_plan(scenario, plan, targets=TARGETS, network=None)}


def _site_positions(plan):
    return [
        (t, i)
        for t, team in enumerate(plan["teams"])
        for i, s in enumerate(team["stops"])
        if s["type"] == "site"
    ]


def _renumber(stops: list[dict]) -> None:
    for seq, stop in enumerate(stops):
        stop["seq"] = seq


def _shift(text: str, minutes: int) -> str:
    return (dt.datetime.fromisoformat(text) + dt.timedelta(minutes=minutes)).isoformat()


def test_stop_moved_outside_its_window(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    t, i = _site_positions(broken)[0]
    stop = broken["teams"][t]["stops"][i]
    day = dt.datetime.fromisoformat(stop["arrive"]).replace(hour=8, minute=0)
    stop["arrive"] = day.isoformat()
    stop["depart"] = (day + dt.timedelta(minutes=stop["service_minutes"])).isoformat()
    assert {"window", "leg_time"} <= _rules(scenario, broken)


def test_missing_night(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    stops = broken["teams"][0]["stops"]
    (night,) = [i for i, s in enumerate(stops) if s["night"] == 0]
    del stops[night]
    _renumber(stops)
    assert "night" in _rules(scenario, broken)


def test_duplicated_site(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    t, i = _site_positions(broken)[0]
    stops = broken["teams"][1 - t]["stops"]
    stops.insert(1, dict(broken["teams"][t]["stops"][i]))
    _renumber(stops)
    assert "duplicate" in _rules(scenario, broken)


def test_inconsistent_leg_times(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    t, i = _site_positions(broken)[0]
    broken["teams"][t]["stops"][i]["leg_minutes"] += 45
    assert "leg_time" in _rules(scenario, broken)
    broken = copy.deepcopy(plan)
    t, i = _site_positions(broken)[0]
    stop = broken["teams"][t]["stops"][i]
    # Arrive earlier than the road allows, keeping the times self-consistent.
    stop["leg_minutes"] = max(0, stop["leg_minutes"] - 30)
    broken["teams"][t]["stops"][i - 1]["depart"] = _shift(stop["arrive"], -stop["leg_minutes"])
    assert "leg" in _rules(scenario, broken)


def test_short_service_and_dropped_bookkeeping(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    t, i = _site_positions(broken)[0]
    broken["teams"][t]["stops"][i]["service_minutes"] = 5
    assert "service" in _rules(scenario, broken)
    broken = copy.deepcopy(plan)
    if broken["dropped"]:
        broken["dropped"].pop()
    else:
        t, i = _site_positions(broken)[0]
        site = broken["teams"][t]["stops"][i]
        broken["dropped"].append({"id": site["id"], "reason": "x"})
    assert {"missing", "dropped"} & _rules(scenario, broken)


def test_start_and_mandatory(good):
    scenario, plan = good
    broken = copy.deepcopy(plan)
    broken["teams"][0]["stops"][0]["id"] = "0"
    assert "start" in _rules(scenario, broken)
    t, i = _site_positions(plan)[0]
    site_id = plan["teams"][t]["stops"][i]["id"]
    strict = parse_scenario({**RAW, "sites": {"mandatory": [site_id]}})
    broken = copy.deepcopy(plan)
    stops = broken["teams"][t]["stops"]
    del stops[i]
    broken["dropped"].append({"id": site_id, "reason": "lower priority"})
    assert "mandatory" in {v.rule for v in check_plan(strict, broken, targets=TARGETS, network=None)}


def test_cli_exit_codes(good, tmp_path, monkeypatch, capsys):
    scenario, plan = good
    monkeypatch.setattr(check, "check_plan", lambda s, p: check_plan(s, p, targets=TARGETS, network=None))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(RAW))
    (tmp_path / "ok.json").write_text(json.dumps(plan))
    assert check.main(["--scenario", str(tmp_path / "s.yaml"), "--plan", str(tmp_path / "ok.json")]) == 0
    assert "no violation" in capsys.readouterr().out
    broken = copy.deepcopy(plan)
    broken["teams"] = broken["teams"][:1]
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    assert check.main(["--scenario", str(tmp_path / "s.yaml"), "--plan", str(tmp_path / "bad.json")]) == 1
    assert "team T2: [teams]" in capsys.readouterr().out
    (tmp_path / "junk.json").write_text("[1, 2")
    assert check.main(["--scenario", str(tmp_path / "s.yaml"), "--plan", str(tmp_path / "junk.json")]) == 2
