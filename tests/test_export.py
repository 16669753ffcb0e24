"""Per-team exports: GPX with waypoints and road geometry, KML and CSV stop lists."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import gpxpy
import pytest
from export_reading import export_rows
from patrol_fixtures import make_targets, ring_sites, scenario_dict

from planning import export
from planning.patrol import plan_week
from planning.scenario import parse_scenario


@pytest.fixture(scope="module")
def plan():
    raw = scenario_dict(days=2, teams=[{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Changji"}])
    return plan_week(
        parse_scenario(raw), targets=make_targets(ring_sites(8, 0.5)), network=None, seconds=1
    ).to_dict()


def test_export_writes_every_format_per_team(plan, tmp_path):
    written = export.export_plan(plan, tmp_path)
    legs_drawn = 0
    assert sorted(p.name for p in written) == ["T1.csv", "T1.gpx", "T1.kml", "T2.csv", "T2.gpx", "T2.kml"]
    for team in plan["teams"]:
        stops = team["stops"]
        gpx = gpxpy.parse((tmp_path / f"{team['team_id']}.gpx").read_text(encoding="utf-8"))
        assert len(gpx.waypoints) == len(stops)
        assert gpx.waypoints[0].latitude == pytest.approx(stops[0]["lat"])
        assert "OpenStreetMap" in gpx.description or "GeoNames" in gpx.description
        # A track segment for every leg that moves, from its stop to the next.
        moving = [
            (a, b)
            for a, b in zip(stops, stops[1:], strict=False)
            if (a["lon"], a["lat"]) != (b["lon"], b["lat"])
        ]
        segments = [s for s in gpx.tracks[0].segments if len(s.points) >= 2]
        assert len(segments) >= len(moving)
        if moving:
            first = segments[0].points
            assert (first[0].longitude, first[0].latitude) == pytest.approx(
                (moving[0][0]["lon"], moving[0][0]["lat"])
            )
            assert (first[-1].longitude, first[-1].latitude) == pytest.approx(
                (moving[0][1]["lon"], moving[0][1]["lat"])
            )
        legs_drawn += len(segments)
        kml = ET.parse(tmp_path / f"{team['team_id']}.kml").getroot()
        ns = {"k": export.KML_NS}
        assert len(kml.findall(".//k:Point", ns)) == len(stops)
        assert (kml.find(".//k:LineString", ns) is not None) == bool(moving)
        notes, rows = export_rows(tmp_path / f"{team['team_id']}.csv")
        assert "OpenStreetMap" in notes[0]
        assert [r["id"] for r in rows] == [s["id"] for s in stops]
        assert rows[-1]["arrive"] == stops[-1]["arrive"]
    assert legs_drawn > 0


def test_export_cli(plan, tmp_path, capsys):
    (tmp_path / "p.json").write_text(json.dumps(plan))
    assert (
        export.main(["--plan", str(tmp_path / "p.json"), "--out", str(tmp_path / "out"), "--formats", "csv"])
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["T1.csv", "T2.csv"]
    assert (
        export.main(["--plan", str(tmp_path / "p.json"), "--out", str(tmp_path / "o"), "--formats", "shp"])
        == 2
    )
    assert "unknown format shp" in capsys.readouterr().err
    assert export.main(["--plan", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")]) == 2
