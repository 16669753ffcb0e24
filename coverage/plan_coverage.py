"""Expected coverage of a patrol plan before it runs, and plan-vs-actual after.

A plan (the planner's JSON: ``teams[].stops[]`` with ``type``, ``id``, ``lon``, ``lat``,
``arrive``, ``depart``) is turned into the activities it promises:

* every ``site`` stop is an expected inspection of that site, covering the visit radius around
  the stop (base and lodging stops are towns, not inspections);
* a team's optional ``legs`` (one per stop, the leg *arriving* at it: a list of ``[lon, lat]`` or
  a GeoJSON LineString, or ``null``) is an expected vehicle track, timed evenly between the
  previous departure and the arrival. :func:`with_route_legs` fills them from the planner's own
  travel model (``planning.export.plan_legs``: the road network's shortest paths, or straight
  lines for a great-circle plan); ``straight_legs`` takes straight lines between stops instead
  (crow-fly, a rough guess); without either only the stops count.

The expected activities then go through the same coverage and site accounting as real records.
Plan-vs-actual lists every planned site stop with whether that site was inspected (by anyone)
within the plan's days.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

import numpy as np
import pandas as pd

from coverage.grid import to_metric
from coverage.sites import inspections, values_for
from coverage.stats import BY_LEVELS
from layers.spreadsheet import has_simulated
from records.db import LOCAL_TZ

#: ``--legs``: the planner's route, straight lines between stops, or stops only.
LEG_CHOICES = ("route", "straight", "none")
STOP_COLUMNS = ("team_id", "seq", "type", "site_id", "name", "lon", "lat", "arrive", "depart")


def _moment(text: object, where: str) -> pd.Timestamp:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not an ISO-8601 time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
    return pd.Timestamp(moment).tz_convert("UTC")


def plan_stops(plan: dict) -> pd.DataFrame:
    """Every stop of every team as a row of :data:`STOP_COLUMNS` (times in UTC)."""
    teams = plan.get("teams")
    if not isinstance(teams, list):
        raise ValueError("plan: 'teams' must be a list of {team_id, stops}")
    rows = []
    for t, team in enumerate(teams):
        if not isinstance(team, dict) or not team.get("team_id"):
            raise ValueError(f"plan: teams[{t}] has no team_id")
        for s, stop in enumerate(team.get("stops") or []):
            where = f"plan: team {team['team_id']} stop {s}"
            try:
                lon, lat = float(stop["lon"]), float(stop["lat"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{where}: 'lon' and 'lat' must be numbers") from None
            arrive = _moment(stop.get("arrive"), f"{where} arrive")
            depart = _moment(stop.get("depart") or stop.get("arrive"), f"{where} depart")
            rows.append(
                (
                    str(team["team_id"]),
                    int(stop.get("seq", s)),
                    stop.get("type"),
                    str(stop.get("id", "")),
                    stop.get("name"),
                    lon,
                    lat,
                    arrive,
                    depart,
                )
            )
    return pd.DataFrame(rows, columns=list(STOP_COLUMNS))


def plan_period(plan: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plan's whole local days ``[first arrival's day, last departure's day + 1)`` in UTC."""
    stops = plan_stops(plan)
    if stops.empty:
        raise ValueError("plan: no stops")
    first = stops["arrive"].min().tz_convert(LOCAL_TZ).normalize()
    last = stops["depart"].max().tz_convert(LOCAL_TZ).normalize() + pd.Timedelta(days=1)
    return first.tz_convert("UTC"), last.tz_convert("UTC")


def _leg_coordinates(leg: object, where: str) -> np.ndarray:
    coordinates = leg.get("coordinates") if isinstance(leg, dict) else leg
    try:
        array = np.asarray(coordinates, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: leg must be a list of [lon, lat] or a GeoJSON LineString") from None
    if array.ndim != 2 or array.shape[1] < 2 or len(array) < 2:
        raise ValueError(f"{where}: leg must have at least two [lon, lat] points")
    return array[:, :2]


def with_route_legs(plan: dict) -> dict:
    """A copy of ``plan`` whose teams without ``legs`` get the legs the planner's travel model drives."""
    from planning.export import plan_legs

    drawn = plan_legs(plan)
    teams = [
        team
        if team.get("legs")
        else {**team, "legs": [None] + [leg or None for leg in drawn[team["team_id"]]]}
        for team in plan["teams"]
    ]
    return {**plan, "teams": teams}


def _timed_leg(
    coords: np.ndarray, start: pd.Timestamp, end: pd.Timestamp, step_minutes: float = 1.0
) -> pd.DataFrame:
    """Vehicle fixes along a leg at constant speed: its vertices plus a point every ``step_minutes``.

    The extra points keep consecutive fixes far closer in time than the track gap limit of
    :class:`coverage.covered.CoverageRadii`, so a long planned leg is one unbroken corridor.
    """
    x, y = to_metric(coords[:, 0], coords[:, 1])
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    minutes = max((end - start).total_seconds() / 60.0, 0.0)
    steps = int(np.ceil(minutes / step_minutes))
    if along[-1] > 0 and steps > 1:
        along_all = np.union1d(along, np.linspace(0.0, along[-1], steps + 1))
        lon, lat = np.interp(along_all, along, coords[:, 0]), np.interp(along_all, along, coords[:, 1])
        fraction = along_all / along[-1]
    else:
        lon, lat, fraction = coords[:, 0], coords[:, 1], np.linspace(0.0, 1.0, len(coords))
    return pd.DataFrame(
        {
            "transport": "vehicle",
            "time": pd.DatetimeIndex(start + (end - start) * fraction),
            "lon": lon,
            "lat": lat,
        }
    )


def plan_activities(plan: dict, straight_legs: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plan as expected visits (site stops) and expected vehicle track points (legs)."""
    stops = plan_stops(plan)
    sites = stops[stops["type"] == "site"]
    visits = pd.DataFrame(
        {
            "visit_id": [f"plan:{t}:{s}" for t, s in zip(sites["team_id"], sites["seq"], strict=True)],
            "site_id": sites["site_id"].to_numpy(),
            "team_id": sites["team_id"].to_numpy(),
            "started_at": sites["arrive"].to_numpy(),
            "ended_at": sites["depart"].to_numpy(),
            "outcome": "compliant",
            "source": "planned",
            "lon": sites["lon"].to_numpy(),
            "lat": sites["lat"].to_numpy(),
        }
    )
    points = []
    for team in plan["teams"]:
        team_stops = stops[stops["team_id"] == str(team["team_id"])].reset_index(drop=True)
        legs = team.get("legs") or [None] * len(team_stops)
        for i in range(1, len(team_stops)):
            where = f"plan: team {team['team_id']} leg {i}"
            leg = legs[i] if i < len(legs) else None
            if leg is not None:
                coords = _leg_coordinates(leg, where)
            elif straight_legs:
                coords = team_stops.loc[[i - 1, i], ["lon", "lat"]].to_numpy(float)
            else:
                continue
            start, end = team_stops.loc[i - 1, "depart"], team_stops.loc[i, "arrive"]
            leg_points = _timed_leg(coords, start, end)
            points.append(
                leg_points.assign(track_id=f"plan:{team['team_id']}:{i}", team_id=str(team["team_id"]))
            )
    tracks = pd.concat(points, ignore_index=True) if points else None
    return visits, tracks


def plan_vs_actual(plan: dict, visits: pd.DataFrame | None) -> pd.DataFrame:
    """Every planned site stop with ``inspected``, ``inspected_at`` and ``by_team`` from the records.

    A stop counts as done when its site has an inspection (any team, compliant or violation)
    within the plan's days; ``same_team`` says whether the planned team did it.
    """
    start, end = plan_period(plan)
    stops = plan_stops(plan)
    stops = stops[stops["type"] == "site"].reset_index(drop=True)
    done = inspections(visits)
    if visits is not None and len(done):
        done = done.join(visits.loc[done.index, ["team_id", "outcome"]])
    else:
        done = done.assign(team_id=pd.Series(dtype="string"), outcome=pd.Series(dtype="string"))
    done = done[(done["started_at"] >= start) & (done["started_at"] < end)].sort_values("started_at")
    first = done.drop_duplicates("site_id", keep="first").set_index("site_id")
    result = stops[["team_id", "seq", "site_id", "name", "arrive"]].rename(
        columns={"arrive": "planned_arrive"}
    )
    result["inspected_at"] = values_for(result["site_id"], first["started_at"])
    result["by_team"] = values_for(result["site_id"], first["team_id"].astype("string"))
    result["outcome"] = values_for(result["site_id"], first["outcome"].astype("string"))
    result["inspected"] = result["inspected_at"].notna()
    result["same_team"] = (result["by_team"].astype("string") == result["team_id"]).fillna(False).astype(bool)
    return result


def main(argv: list[str]) -> int:
    """``python -m coverage plan PLAN.json``: expected coverage per region (and actual with --actual)."""
    from coverage import inputs

    parser = argparse.ArgumentParser(prog="python -m coverage plan", description=main.__doc__)
    parser.add_argument("plan", help="plan JSON written by the planner")
    parser.add_argument("--by", choices=sorted(BY_LEVELS), default="prefecture")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--legs",
        choices=LEG_CHOICES,
        default="route",
        help="expected tracks between stops: the planner's route (default), straight lines, or none",
    )
    parser.add_argument("--actual", action="store_true", help="compare with the records of the plan's days")
    inputs.add_model_arguments(parser)
    args = parser.parse_args(argv)
    try:
        from planning.plan import load_plan_dict

        plan = load_plan_dict(args.plan)
        since, until = plan_period(plan)
        route = with_route_legs(plan) if args.legs == "route" else plan
        planned_visits, planned_tracks = plan_activities(route, straight_legs=args.legs == "straight")
        # Past inspections decide which sites are due: use the records when there are any.
        records = (
            inputs.read_records(args.db, since, until) if args.actual or inputs.has_records(args.db) else None
        )
        history = records.visits[records.visits["started_at"] < since] if records else None
        model = inputs.model_for(args, as_of=since)
        keys = list(BY_LEVELS[args.by])
        expected_visits = pd.concat([history, planned_visits], ignore_index=True)
        expected = model.region_table(expected_visits, planned_tracks, since, until, args.by)
        table = expected.set_index(keys).add_suffix("_expected")
        stops = None
        if args.actual:
            actual = model.region_table(records.visits, records.track_points, since, until, args.by)
            table = table.join(actual.set_index(keys).add_suffix("_actual"))
            stops = plan_vs_actual(plan, records.visits)
        table = table.reset_index()
    except (inputs.InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    meta = {"plan": args.plan, "since": str(since), "until": str(until), "by": args.by}
    if stops is not None:
        done = int(stops["inspected"].sum())
        meta["planned_site_stops"], meta["planned_site_stops_inspected"] = len(stops), done
        if args.format == "json":
            meta["stops"] = json.loads(stops.to_json(orient="records", date_format="iso", force_ascii=False))
        else:
            print(f"planned site stops inspected: {done} of {len(stops)}", file=sys.stderr)
    simulated = records is not None and has_simulated(records.visits)
    inputs.write_table(table, args.format, args.out, meta=meta, simulated=simulated)
    return 0
