"""A second, deliberately separate checker of a v2 plan's working-time rules, for the tests.

It shares no code with :mod:`planning.check` or the planner: it reads the stop times as
date-times, takes the working-time rules, hours and lodging ids as given, and recomputes
everything else itself, differently where it can (continuous driving by splitting each leg
greedily at its breaks, windows from the clock hours, road distances by networkx shortest
paths on the road graph with the closed edges removed, each stop snapped to the nearest
straight-chord edge of the main network). So a bug would have to be made twice to pass both.

``check(plan, scenario, lodging_ids)`` returns plain sentences, one per broken rule, each
starting with the team, the stop or day and the rule in brackets, e.g.
``T1 stop 3 [window] ...``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import networkx as nx
import numpy as np

from planning.closures import closed_edge_mask, in_force, load_closures
from planning.roads import RoadNetwork, load_road_network
from planning.scenario import Scenario

#: A recorded leg may be this much shorter than the closure-aware shortest road distance (km):
#: the two snap the stops to the road slightly differently.
ROAD_KM_TOLERANCE = 2.0
ROAD_KM_RELATIVE_TOLERANCE = 0.03
#: Earth radius (km) for the local equirectangular projection used to snap stops.
EARTH_KM = 6371.0


def _time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


def _minutes(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 60


def _clock(minutes: int) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


def _beds(stops: list[dict]) -> list[int]:
    """Indices of the stops the team sleeps at: the first, each night, and a final base."""
    beds = [0] + [i for i, s in enumerate(stops) if i > 0 and s.get("night") is not None]
    if stops[-1].get("type") == "base" and beds[-1] != len(stops) - 1:
        beds.append(len(stops) - 1)
    return beds


def _night_window(scenario: Scenario, evening: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The night-check window that opens on the evening of ``evening``'s date."""
    lo, hi = scenario.night_hours
    midnight = evening.replace(hour=0, minute=0, second=0, microsecond=0)
    # A window starting before the work day ends is in the early morning after that evening.
    opens = midnight + _clock(lo) + (dt.timedelta(days=1) if lo < scenario.work_hours[1] else dt.timedelta())
    length = hi - lo if hi > lo else hi + 1440 - lo
    return opens, opens + _clock(length)


def _window_problem(scenario: Scenario, stop: dict, start: dt.datetime) -> str | None:
    """Why a site's service start/end lies outside its windows, or None."""
    overrun = _clock(scenario.rules.service_overrun_minutes)
    end = start + _clock(int(stop["service_minutes"]))
    dates = [scenario.start + dt.timedelta(days=d) for d in range(scenario.days)]
    if stop.get("night_check"):
        if scenario.night_hours is None:
            return "a night check in a scenario without night hours"
        for date in dates:
            evening = dt.datetime.combine(date, dt.time(12), tzinfo=start.tzinfo)
            opens, closes = _night_window(scenario, evening)
            if opens <= start <= closes and end <= closes + overrun:
                return None
        return f"night check {start:%d %H:%M}-{end:%H:%M} outside the night windows (+ overrun)"
    for date in dates:
        midnight = dt.datetime.combine(date, dt.time(0), tzinfo=start.tzinfo)
        opens, closes = midnight + _clock(scenario.work_hours[0]), midnight + _clock(scenario.work_hours[1])
        if opens <= start <= closes and end <= closes + overrun:
            return None
    return f"inspection {start:%d %H:%M}-{end:%H:%M} outside the work windows (+ overrun)"


def _continuous(stops: list[dict], times: list[tuple], limit: int, pause: int) -> list[tuple[int, str]]:
    """(stop index, message) where driving runs on past ``limit`` without a rest, splitting each
    leg greedily: drive as long as allowed, then take one of the leg's breaks."""
    found = []
    since_rest = 0.0
    for i in range(1, len(stops)):
        remaining = float(stops[i].get("leg_minutes") or 0)
        breaks = int((stops[i].get("leg_break_minutes") or 0) // pause) if pause else 10**6
        while remaining > 0:
            room = limit - since_rest
            if remaining <= room:
                since_rest += remaining
                remaining = 0
            elif breaks > 0:
                remaining -= max(room, 0)
                since_rest, breaks = 0.0, breaks - 1
            else:
                found.append((i, f"{since_rest + remaining:.0f} min of driving without a {pause} min rest"))
                since_rest, remaining = 0.0, 0
        arrive, _, depart = times[i]
        if _minutes(depart - arrive) >= pause or stops[i].get("night") is not None:
            since_rest = 0.0
    return found


def _team_rules(plan_team: dict, scenario: Scenario, lodging_ids: set[str]) -> list[str]:
    rules = scenario.rules
    team, stops = plan_team["team_id"], plan_team["stops"]
    times = []
    for stop in stops:
        arrive = _time(stop["arrive"])
        times.append((arrive, _time(stop.get("start") or stop["arrive"]), _time(stop["depart"])))
    found = []
    for i, stop in enumerate(stops):
        arrive, start, depart = times[i]
        if i:
            drove = stop.get("leg_minutes", 0) + stop.get("leg_break_minutes", 0)
            if abs(_minutes(arrive - times[i - 1][2]) - drove) > 1:
                found.append(f"{team} stop {i} [leg_time] arrival does not follow the previous departure")
        if start < arrive or depart < start + _clock(int(stop.get("service_minutes") or 0)):
            found.append(f"{team} stop {i} [service] start/depart do not fit arrive + service")
        if stop.get("type") == "site":
            problem = _window_problem(scenario, stop, start)
            if problem:
                found.append(f"{team} stop {i} [window] {problem}")
    for i, message in _continuous(stops, times, rules.max_continuous_drive_minutes, rules.break_minutes):
        found.append(f"{team} stop {i} [continuous_drive] {message}")
    beds = _beds(stops)
    for day, (a, b) in enumerate(zip(beds, beds[1:], strict=False)):
        leave, reach = times[a][2], times[b][0]
        leave_date = leave.date()
        drive = sum(float(s.get("leg_minutes") or 0) for s in stops[a + 1 : b + 1])
        if drive > rules.max_drive_minutes_per_day:
            found.append(f"{team} day {day} [day_drive] {drive:.0f} min of driving")
        if _minutes(reach - leave) > rules.max_duty_minutes_per_day:
            found.append(f"{team} day {day} [day_duty] {_minutes(reach - leave):.0f} min on duty")
        midnight = dt.datetime.combine(leave_date, dt.time(0), tzinfo=leave.tzinfo)
        if leave < midnight + _clock(rules.depart_after):
            found.append(f"{team} day {day} [depart_after] leaves {leave:%H:%M}")
        latest = midnight + _clock(rules.lodging_by)
        if stops[b - 1].get("night_check") and scenario.night_hours is not None:
            latest = max(latest, _night_window(scenario, midnight)[1] + _clock(rules.night_return_minutes))
        if reach > latest:
            found.append(f"{team} day {day} [lodging_by] reaches the bed {reach:%d %H:%M}")
        if stops[b].get("night") is not None:
            if str(stops[b].get("id")) not in lodging_ids:
                found.append(f"{team} stop {b} [lodging] night at {stops[b].get('name')}, not a lodging town")
            if b != len(stops) - 1 and _minutes(times[b][2] - reach) < rules.min_rest_minutes:
                found.append(f"{team} stop {b} [rest] {_minutes(times[b][2] - reach):.0f} min at the bed")
    nights = sum(1 for s in stops if s.get("night") is not None)
    expected = scenario.days - 1 if scenario.return_to_base else scenario.days
    if nights != expected:
        found.append(f"{team} [night] {nights} night(s) in the route, the plan has {expected}")
    return found


def _snap(graph: nx.Graph, lon: float, lat: float) -> tuple[float, list[tuple[int, float]]]:
    """(off-road km, [(node, km along the road to it)]) for the nearest main-network edge,
    edges taken as straight chords in a local projection around the point."""
    scale = math.cos(math.radians(lat))
    best = None
    for u, v, data in graph.edges(data=True):
        if graph.nodes[u]["component"] != 0:
            continue
        ax, ay = (graph.nodes[u]["lon"] - lon) * scale, graph.nodes[u]["lat"] - lat
        bx, by = (graph.nodes[v]["lon"] - lon) * scale, graph.nodes[v]["lat"] - lat
        dx, dy = bx - ax, by - ay
        t = 0.0 if dx == dy == 0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
        off = math.hypot(ax + t * dx, ay + t * dy)
        if best is None or off < best[0]:
            best = (off, u, v, t, data["km"])
    off, u, v, t, km = best
    return math.radians(off) * EARTH_KM, [(u, t * km), (v, (1 - t) * km)]


def _road_km(graph: nx.Graph, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Shortest road distance (km, access legs included) between two (lon, lat) points."""
    if a == b:
        return 0.0
    access_a, ends_a = _snap(graph, *a)
    access_b, ends_b = _snap(graph, *b)
    if ends_a[0][0] == ends_b[0][0] and ends_a[1][0] == ends_b[1][0]:
        # Both on one edge: along it, without a detour through its end nodes.
        return access_a + abs(ends_a[0][1] - ends_b[0][1]) + access_b
    lengths = nx.single_source_dijkstra_path_length(graph, ends_a[0][0], weight="km")
    other = nx.single_source_dijkstra_path_length(graph, ends_a[1][0], weight="km")
    best = math.inf
    for node_a, along_a in ends_a:
        table = lengths if node_a == ends_a[0][0] else other
        for node_b, along_b in ends_b:
            if node_b in table:
                best = min(best, along_a + table[node_b] + along_b)
    return access_a + best + access_b


def _road_legs(
    plan: dict, scenario: Scenario, closures: Sequence, network: RoadNetwork, max_legs: int | None
) -> list[str]:
    """Legs whose recorded km is shorter than the closure-aware shortest road distance."""
    found = []
    graphs: dict[frozenset, nx.Graph] = {}
    checked = 0
    for plan_team in plan["teams"]:
        stops = plan_team["stops"]
        beds = _beds(stops)
        for a, b in zip(beds, beds[1:], strict=False):
            date = _time(stops[a]["depart"]).date()
            active = tuple(in_force(closures, date))
            key = frozenset(c.id for c in active)
            if key not in graphs:
                graph = network.graph.copy()
                mask = np.asarray(closed_edge_mask(network, active), bool) if active else np.zeros(0, bool)
                closed = {int(e) for e in np.flatnonzero(mask)}
                graph.remove_edges_from([(u, v) for u, v, e in graph.edges(data="edge") if e in closed])
                graphs[key] = graph
            for i in range(a + 1, b + 1):
                if max_legs is not None and checked >= max_legs:
                    return found
                checked += 1
                prev, stop = stops[i - 1], stops[i]
                km = _road_km(graphs[key], (prev["lon"], prev["lat"]), (stop["lon"], stop["lat"]))
                recorded = float(stop.get("leg_km") or 0)
                if recorded < km - ROAD_KM_TOLERANCE - ROAD_KM_RELATIVE_TOLERANCE * km:
                    names = ", ".join(sorted(key)) or "none"
                    found.append(
                        f"{plan_team['team_id']} stop {i} [closure] leg of {recorded} km, the roads open on "
                        f"{date} (closures in force: {names}) need {km:.0f} km"
                    )
    return found


def check(
    plan: dict,
    scenario: Scenario,
    lodging_ids: set[str],
    *,
    closures: Sequence | None = None,
    network: RoadNetwork | None = None,
    max_road_legs: int | None = None,
) -> list[str]:
    """Every broken working-time rule of a v2 ``plan`` (a dict as in the plan file).

    ``lodging_ids`` are the town ids where a night may be spent. For ``road_network`` plans each
    leg (the first ``max_road_legs`` if given) is compared with the shortest road distance once
    the closures in force on its day are removed: the shipped layer, or ``closures`` if given.
    """
    found = []
    for plan_team in plan["teams"]:
        found += _team_rules(plan_team, scenario, lodging_ids)
    if plan.get("travel_model") == "road_network":
        found += _road_legs(
            plan,
            scenario,
            load_closures() if closures is None else closures,
            network or load_road_network(),
            max_road_legs,
        )
    return found
