"""Export a plan per team: GPX (waypoints + the road geometry as a track), KML and CSV stop lists.

``python -m planning export --plan P.json --out DIR [--formats gpx,kml,csv]`` writes
``<team>.gpx``, ``<team>.kml`` and ``<team>.csv`` for every team. Leg geometry is recomputed with
the plan's travel model (road network, or straight lines for ``great_circle``); GPX and KML carry
the data attribution.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import gpxpy.gpx
import pandas as pd

from layers.datasets import attribution, registry_simulated
from layers.spreadsheet import NOTE_PREFIX, export_notes, safe_cell, safe_note
from planning.plan import load_plan_dict
from planning.travel import TravelMatrix, travel_matrix

FORMATS = ("gpx", "kml", "csv")
CSV_COLUMNS = (
    "seq",
    "type",
    "id",
    "name",
    "lon",
    "lat",
    "arrive",
    "start",
    "depart",
    "service_minutes",
    "leg_km",
    "leg_minutes",
    "leg_break_minutes",
    "night",
    "night_check",
    "mandatory",
)
KML_NS = "http://www.opengis.net/kml/2.2"


def _stop_key(stop: dict) -> str:
    return f"{float(stop['lon']):.6f},{float(stop['lat']):.6f}"


def plan_legs(
    plan: dict, network: object | None | str = "default"
) -> dict[str, list[list[tuple[float, float]]]]:
    """Per team, the (lon, lat) polyline of each leg (leg k arrives at stop k + 1; empty when the
    team does not move)."""
    points: dict[str, tuple[float, float]] = {}
    for team in plan["teams"]:
        for stop in team["stops"]:
            points.setdefault(_stop_key(stop), (float(stop["lon"]), float(stop["lat"])))
    if not points:
        return {team["team_id"]: [] for team in plan["teams"]}
    keys = list(points)
    frame = pd.DataFrame(
        {"id": keys, "lon": [points[k][0] for k in keys], "lat": [points[k][1] for k in keys]}
    )
    matrix: TravelMatrix = travel_matrix(
        frame, None if plan.get("travel_model") == "great_circle" else network
    )
    index = {k: i for i, k in enumerate(keys)}
    legs = {}
    for team in plan["teams"]:
        stops = team["stops"]
        drawn = [
            matrix.leg_lonlat(index[_stop_key(a)], index[_stop_key(b)])
            for a, b in zip(stops, stops[1:], strict=False)
        ]
        # A stay in the same place (a night at the base after starting there) draws nothing.
        legs[team["team_id"]] = [leg if len(set(leg)) >= 2 else [] for leg in drawn]
    return legs


def team_gpx(plan: dict, team: dict, legs: list[list[tuple[float, float]]]) -> str:
    """GPX 1.1 of one team: a waypoint per stop and one track segment per leg."""
    gpx = gpxpy.gpx.GPX()
    gpx.name = f"{plan['scenario'].get('name', 'plan')} - team {team['team_id']}"
    gpx.description = f"XunHu patrol plan ({plan.get('travel_model')}). {attribution()}"
    for stop in team["stops"]:
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=float(stop["lat"]),
                longitude=float(stop["lon"]),
                time=dt.datetime.fromisoformat(stop["arrive"]),
                name=f"{stop['seq']:02d} {stop['name']}",
                description=f"{stop['type']} {stop['id']}: arrive {stop['arrive']}, depart {stop['depart']}, "
                f"service {stop['service_minutes']} min",
                type=stop["type"],
            )
        )
    track = gpxpy.gpx.GPXTrack(name=f"team {team['team_id']}")
    for leg in legs:
        if len(leg) >= 2:
            segment = gpxpy.gpx.GPXTrackSegment([gpxpy.gpx.GPXTrackPoint(lat, lon) for lon, lat in leg])
            track.segments.append(segment)
    gpx.tracks.append(track)
    return gpx.to_xml(version="1.1")


def team_kml(plan: dict, team: dict, legs: list[list[tuple[float, float]]]) -> str:
    """KML of one team: a placemark per stop and the route as one line string."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{KML_NS}}}Document")
    ET.SubElement(
        doc, f"{{{KML_NS}}}name"
    ).text = f"{plan['scenario'].get('name', 'plan')} - team {team['team_id']}"
    ET.SubElement(doc, f"{{{KML_NS}}}description").text = f"XunHu patrol plan. {attribution()}"
    for stop in team["stops"]:
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark")
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = f"{stop['seq']:02d} {stop['name']}"
        # Google Earth shows a description as HTML (after XML decoding): the site id comes from an
        # import, so it is escaped for HTML here and ElementTree escapes that for XML.
        ET.SubElement(mark, f"{{{KML_NS}}}description").text = html.escape(
            f"{stop['type']} {stop['id']}: arrive {stop['arrive']}, depart {stop['depart']}"
        )
        point = ET.SubElement(mark, f"{{{KML_NS}}}Point")
        ET.SubElement(point, f"{{{KML_NS}}}coordinates").text = f"{stop['lon']},{stop['lat']}"
    line_points = [p for leg in legs for p in leg]
    if len(line_points) >= 2:
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark")
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = f"route team {team['team_id']}"
        line = ET.SubElement(mark, f"{{{KML_NS}}}LineString")
        ET.SubElement(line, f"{{{KML_NS}}}coordinates").text = " ".join(
            f"{lon},{lat}" for lon, lat in line_points
        )
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_team_csv(team: dict, path: Path, notes: list[str], headers: dict[str, str] | None = None) -> None:
    """The team's stop list as UTF-8 CSV (with BOM, so spreadsheet programs read the Chinese names),
    after its ``notes`` (:func:`layers.spreadsheet.export_notes`: attribution, SIMULATED);
    ``headers`` names the columns (e.g. in the interface language; default the codes).

    Text cells that a spreadsheet would run as a formula (a site named ``+cmd``) get a leading
    apostrophe; numbers are written unchanged (see :mod:`layers.spreadsheet`)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.writelines(f"{NOTE_PREFIX}{safe_note(note)}\n" for note in notes)
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writerow({column: (headers or {}).get(column, column) for column in CSV_COLUMNS})
        for stop in team["stops"]:
            # Version 1 plans: the inspection started on arrival, no breaks were planned.
            row = {"start": stop["arrive"], "leg_break_minutes": 0, **stop}
            writer.writerow({key: safe_cell(value) for key, value in row.items()})


def plan_notes(plan: dict, lang: str = "en") -> list[str]:
    """The export notes of a plan: attribution, and SIMULATED when one of its sites is simulated."""
    site_ids = [
        str(stop["id"]) for team in plan["teams"] for stop in team["stops"] if stop.get("type") == "site"
    ]
    return export_notes(registry_simulated(site_ids), lang)


def export_plan(
    plan: dict,
    out_dir: str | Path,
    formats: tuple[str, ...] = FORMATS,
    network: object | None | str = "default",
) -> list[Path]:
    """Write the requested files per team into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    legs = plan_legs(plan, network) if {"gpx", "kml"} & set(formats) else {}
    notes = plan_notes(plan) if "csv" in formats else []
    written = []
    for team in plan["teams"]:
        stem = out / str(team["team_id"])
        if "gpx" in formats:
            stem.with_suffix(".gpx").write_text(team_gpx(plan, team, legs[team["team_id"]]), encoding="utf-8")
            written.append(stem.with_suffix(".gpx"))
        if "kml" in formats:
            stem.with_suffix(".kml").write_text(team_kml(plan, team, legs[team["team_id"]]), encoding="utf-8")
            written.append(stem.with_suffix(".kml"))
        if "csv" in formats:
            write_team_csv(team, stem.with_suffix(".csv"), notes)
            written.append(stem.with_suffix(".csv"))
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``export`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning export", description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True, help="plan JSON file")
    parser.add_argument("--out", required=True, help="directory for the exported files")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset of gpx,kml,csv")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        print(
            f"error: --formats: unknown format {', '.join(unknown) or '(none)'}; known: {', '.join(FORMATS)}",
            file=sys.stderr,
        )
        return 2
    try:
        plan = load_plan_dict(args.plan)
        written = export_plan(plan, args.out, formats)
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {args.plan}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} file(s) to {args.out}")
    return 0
