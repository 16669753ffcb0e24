"""Scenario files: valid ones parse into the right windows, broken ones name their field."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from patrol_fixtures import make_targets, ring_sites, scenario_dict

from planning import plan_cli
from planning.candidates import select_sites
from planning.scenario import ScenarioError, load_scenario, parse_scenario, resolve_town


def test_valid_scenario_windows_and_towns():
    sc = parse_scenario(
        scenario_dict(
            days=3,
            night_hours="22:00-02:00",
            teams=[{"id": "T1", "base": "Urumqi", "skills": ["drone"]}, {"id": "T2", "base": "石河子"}],
        )
    )
    assert sc.teams[0].base.name == "Ürümqi" and sc.teams[1].base.name == "Shihezi"
    assert sc.work_windows() == [(600, 1170), (2040, 2610), (3480, 4050)]
    # Two nights between three days; the night window crosses midnight.
    assert sc.night_windows() == [(1320, 1560), (2760, 3000)]
    assert sc.minute_to_datetime(600).isoformat() == "2026-11-23T10:00:00+08:00"
    assert sc.datetime_to_minute(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)) == 600


def test_town_names_ignore_case_diacritics_and_admin_suffix():
    assert resolve_town("urumqi", "x").name == "Ürümqi"
    assert resolve_town("库尔勒", "x").name == "Korla"
    assert resolve_town("Aksu", "x").name_zh == "阿克苏市"
    with pytest.raises(ScenarioError, match="did you mean Ürümqi"):
        resolve_town("Urumchi", "teams[0].base")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"teams": []}, "teams"),
        ({"teams": [{"id": "T1", "base": "Atlantis"}]}, "teams[0].base"),
        ({"teams": [{"id": "T1"}]}, "teams[0].base"),
        ({"teams": [{"id": "T1", "base": "Urumqi"}, {"id": "T1", "base": "Korla"}]}, "teams[1].id"),
        ({"teams": [{"id": "T1", "base": "Urumqi", "skills": ["flying"]}]}, "teams[0].skills[0]"),
        ({"work_hours": "19:30-10:00"}, "work_hours"),
        ({"work_hours": "10:00-25:00"}, "work_hours"),
        ({"work_hours": "05:00-12:00"}, "work_hours"),
        ({"night_hours": "12:00-15:00"}, "night_hours"),
        ({"night_hours": "20:00-06:30"}, "night_hours"),
        ({"days": 0}, "days"),
        ({"days": "five"}, "days"),
        ({"start": "2026-13-01"}, "start"),
        ({"lodging": ["Korla", "Nowhere town"]}, "lodging[1]"),
        ({"sites": {"layers": ["factories"]}}, "sites.layers[0]"),
        ({"sites": {"min_priority": 300}}, "sites.min_priority"),
        ({"travel": "teleport"}, "travel"),
        ({"return_to_base": "yes"}, "return_to_base"),
        ({"colour": "red"}, "colour"),
        ({"solver": {"seconds": -1}}, "solver.seconds"),
    ],
)
def test_broken_scenario_names_its_field(override, field):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(scenario_dict(**override))
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_missing_required_field():
    raw = scenario_dict()
    del raw["work_hours"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw)
    assert info.value.field == "work_hours"


def test_unknown_site_ids_and_regions_are_named():
    targets = make_targets(ring_sites(3))
    for sites, field in (
        ({"mandatory": ["PS-00001", "PS-99999"]}, "sites.mandatory[1]"),
        ({"exclude": ["XX-1"]}, "sites.exclude[0]"),
        ({"regions": ["Narnia"]}, "sites.regions[0]"),
    ):
        with pytest.raises(ScenarioError) as info:
            select_sites(parse_scenario(scenario_dict(sites=sites)), targets)
        assert info.value.field == field


def test_draw_record_feeds_mandatory_sites(tmp_path):
    (tmp_path / "draw.json").write_text('{"result": [{"site_id": "PS-00002"}, {"site_id": "PS-00003"}]}')
    (tmp_path / "s.yaml").write_text(
        yaml.safe_dump(scenario_dict(sites={"mandatory": ["PS-00001"], "from_draw": "draw.json"}))
    )
    sc = load_scenario(tmp_path / "s.yaml")
    assert sc.sites.mandatory == ("PS-00001", "PS-00002", "PS-00003")


def test_plan_cli_reports_bad_scenarios_without_traceback(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump(scenario_dict(teams=[{"id": "T1", "base": "Atlantis"}]))
    )
    assert plan_cli.main(["--scenario", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "p.json")]) == 2
    assert "teams[0].base: unknown town 'Atlantis'" in capsys.readouterr().err
    (tmp_path / "broken.yaml").write_text("name: [unclosed")
    assert (
        plan_cli.main(["--scenario", str(tmp_path / "broken.yaml"), "--out", str(tmp_path / "p.json")]) == 2
    )
    assert "not valid YAML" in capsys.readouterr().err
    assert (
        plan_cli.main(["--scenario", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "p.json")]) == 2
    )
    capsys.readouterr()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(scenario_dict()))
    assert plan_cli.main(["--scenario", str(good), "--out", str(tmp_path / "p.json"), "--effort", "0"]) == 2
    assert "--effort must be positive" in capsys.readouterr().err
