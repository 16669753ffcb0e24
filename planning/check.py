"""Independent plan checker: recompute every rule from the plan file, the scenario and the registry.

``python -m planning check --scenario S.yaml --plan P.json`` exits 0 when the plan keeps every
rule, 1 listing each violation, 2 for unreadable input. The checker does not trust anything the
planner computed: it reads times from the ISO strings, re-derives windows from the scenario,
service times, night-check flags, skills and positions from the registry, and recomputes each
leg with the plan's travel model. Rules:

* every team has one route; it starts at its base, no earlier than the morning departure of the
  first day, and with ``return_to_base`` ends there by ``rules.lodging_by`` of the last day;
* arrival = previous departure + leg minutes; legs match the travel model (minutes rounded up,
  km within 1 %); departure >= arrival + service;
* ordinary sites start inside a work window, night-check sites inside a night window; service
  minutes and skills as in the registry; the stop lies at the site (within :data:`SITE_TOLERANCE_KM`);
* every night the team is at a lodging town or its base: arrived by the evening limit (later
  only straight after a night check) and leaving no earlier than the next morning;
* no site twice; every scenario site is in a route or in ``dropped`` with a reason; mandatory
  sites are visited, or listed in ``mandatory_unmet`` with a reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from layers.schema import WGS84, XINJIANG_METRIC_CRS, parse_skills
from planning.candidates import select_sites
from planning.plan import STOP_TYPES, load_plan_dict
from planning.scenario import Scenario, ScenarioError, load_scenario, lodging_candidates
from planning.travel import travel_matrix

#: How far (km) a site stop may lie from the site's geometry (access points sit on its edge).
SITE_TOLERANCE_KM = 0.5
#: Tolerance when comparing plan legs with the recomputed travel model.
LEG_MINUTES_TOLERANCE = 1
LEG_KM_RELATIVE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Violation:
    """One broken rule: which team and stop (``seq``), the rule's name and what is wrong."""

    team: str | None
    seq: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = (
            "plan"
            if self.team is None
            else f"team {self.team}" + ("" if self.seq is None else f" stop {self.seq}")
        )
        return f"{where}: [{self.rule}] {self.message}"


def _minute(scenario: Scenario, text: object) -> int | None:
    try:
        value = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return scenario.datetime_to_minute(value)


def _in_windows(minute: int, windows: list[tuple[int, int]]) -> bool:
    return any(lo <= minute <= hi for lo, hi in windows)


def _clock(scenario: Scenario, minute: int) -> str:
    return scenario.minute_to_datetime(minute).strftime("%a %d %H:%M")


class _Checker:
    def __init__(
        self, scenario: Scenario, plan: dict, targets: gpd.GeoDataFrame, network: object | None | str
    ):
        self.scenario = scenario
        self.plan = plan
        self.targets = targets.set_index(targets["site_id"].astype(str), drop=False)
        self.network = network
        self.violations: list[Violation] = []
        rules = scenario.rules
        self.lodging_ids = {t.id for t in lodging_candidates(scenario)}
        self.night_windows = scenario.night_windows()
        self.work_windows = scenario.work_windows()
        self.rules = rules

    def add(self, team: str | None, seq: int | None, rule: str, message: str) -> None:
        self.violations.append(Violation(team, seq, rule, message))

    def run(self) -> list[Violation]:
        routes = self.plan.get("teams") or []
        by_team = {}
        for route in routes:
            team_id = route.get("team_id")
            if team_id in by_team:
                self.add(team_id, None, "teams", "the team has two routes")
            by_team[team_id] = route
        known = {t.id for t in self.scenario.teams}
        for team_id in by_team.keys() - known:
            self.add(str(team_id), None, "teams", "team is not in the scenario")
        parsed = {}
        for team in self.scenario.teams:
            route = by_team.get(team.id)
            if route is None:
                self.add(team.id, None, "teams", "the scenario's team has no route in the plan")
                continue
            parsed[team.id] = self.check_route(team, route.get("stops") or [])
        self.check_legs(parsed)
        self.check_sites(by_team)
        return self.violations

    def check_route(self, team, stops: list[dict]) -> list[tuple[dict, int, int]]:
        """Rules of one route; returns (stop, arrive, depart) in minutes for the leg check."""
        sc, rules = self.scenario, self.rules
        timed: list[tuple[dict, int, int]] = []
        if not stops:
            self.add(team.id, None, "start", "the route has no stops")
            return timed
        for i, stop in enumerate(stops):
            seq = stop.get("seq", i)
            if seq != i:
                self.add(team.id, i, "sequence", f"seq is {seq}, expected {i}")
            if stop.get("type") not in STOP_TYPES:
                self.add(team.id, i, "type", f"unknown stop type {stop.get('type')!r}")
            arrive, depart = _minute(sc, stop.get("arrive")), _minute(sc, stop.get("depart"))
            if arrive is None or depart is None:
                self.add(team.id, i, "times", "arrive/depart must be ISO-8601 date-times with an offset")
                return timed
            service = int(stop.get("service_minutes") or 0)
            if depart < arrive + service:
                self.add(
                    team.id,
                    i,
                    "service",
                    f"leaves {depart - arrive} min after arriving, service is {service} min",
                )
            if i > 0:
                expected = timed[-1][2] + int(stop.get("leg_minutes", 0))
                if abs(arrive - expected) > LEG_MINUTES_TOLERANCE:
                    self.add(
                        team.id,
                        i,
                        "leg_time",
                        f"arrives {_clock(sc, arrive)} but left the previous stop at {_clock(sc, timed[-1][2])} "
                        f"with a {stop.get('leg_minutes')} min leg",
                    )
            timed.append((stop, arrive, depart))
        first, last = stops[0], stops[-1]
        if first.get("type") != "base" or str(first.get("id")) != team.base.id:
            self.add(
                team.id, 0, "start", f"the route must start at the base {team.base.name} (id {team.base.id})"
            )
        if timed[0][2] < rules.depart_after:
            self.add(
                team.id,
                0,
                "start",
                f"leaves the base at {_clock(sc, timed[0][2])}, before the morning departure",
            )
        if sc.return_to_base:
            last_evening = (sc.days - 1) * 1440 + rules.lodging_by
            if last.get("type") != "base" or str(last.get("id")) != team.base.id:
                self.add(team.id, len(stops) - 1, "end", "with return_to_base the route must end at the base")
            elif timed[-1][1] > last_evening:
                self.add(
                    team.id,
                    len(stops) - 1,
                    "end",
                    f"back at base {_clock(sc, timed[-1][1])}, after the last evening",
                )
        for i, (stop, arrive, _) in enumerate(timed):
            if stop.get("type") == "site":
                self.check_site_stop(team, i, stop, arrive)
        self.check_nights(team, timed)
        return timed

    def check_site_stop(self, team, i: int, stop: dict, arrive: int) -> None:
        sc = self.scenario
        site_id = str(stop.get("id"))
        if site_id not in self.targets.index:
            self.add(team.id, i, "site", f"{site_id} is not in the registry")
            return
        row = self.targets.loc[site_id]
        night = bool(row["night_check"]) if pd.notna(row["night_check"]) else False
        windows = self.night_windows if night else self.work_windows
        if not _in_windows(arrive, windows):
            kind = "night" if night else "work"
            self.add(
                team.id, i, "window", f"{site_id} starts {_clock(sc, arrive)}, outside every {kind} window"
            )
        service = int(row["service_minutes"]) if pd.notna(row["service_minutes"]) else 60
        if int(stop.get("service_minutes") or 0) != service:
            self.add(
                team.id,
                i,
                "service",
                f"{site_id} needs {service} min, plan says {stop.get('service_minutes')}",
            )
        needs = parse_skills(row["skills_required"])
        if not needs <= team.skills:
            self.add(team.id, i, "skills", f"{site_id} needs {', '.join(sorted(needs - team.skills))}")

    def check_nights(self, team, timed: list[tuple[dict, int, int]]) -> None:
        sc, rules = self.scenario, self.rules
        for night in range(sc.night_count()):
            morning = (night + 1) * 1440 + rules.depart_after
            final = night == sc.days - 1
            found = False
            for i, (stop, arrive, depart) in enumerate(timed):
                if stop.get("type") not in ("lodging", "base"):
                    continue
                after_night_check = (
                    i > 0
                    and bool(timed[i - 1][0].get("type") == "site")
                    and self._night_site(timed[i - 1][0])
                )
                limit = night * 1440 + rules.lodging_by
                if after_night_check and self.night_windows:
                    limit = self.night_windows[night][1] + rules.night_return_minutes
                stays = (final and i == len(timed) - 1) or depart >= morning
                if night * 1440 <= arrive <= limit and stays:
                    found = True
                    if str(stop.get("id")) not in self.lodging_ids:
                        self.add(
                            team.id, i, "lodging", f"night {night} at {stop.get('name')}, not a lodging town"
                        )
                    break
            if not found:
                self.add(
                    team.id,
                    None,
                    "night",
                    f"night {night} ({sc.minute_to_datetime(night * 1440):%a %d}) is not spent at a lodging town "
                    f"or the base (arrive by the evening, leave after {rules.depart_after // 60:02d}:"
                    f"{rules.depart_after % 60:02d})",
                )

    def _night_site(self, stop: dict) -> bool:
        site_id = str(stop.get("id"))
        return site_id in self.targets.index and bool(self.targets.loc[site_id, "night_check"])

    def check_legs(self, parsed: dict[str, list[tuple[dict, int, int]]]) -> None:
        """Recompute each leg with the plan's travel model, and each site stop's position."""
        points = {}
        for timed in parsed.values():
            for stop, _, _ in timed:
                key = f"{float(stop.get('lon', 0)):.6f},{float(stop.get('lat', 0)):.6f}"
                points.setdefault(key, (float(stop.get("lon", 0)), float(stop.get("lat", 0))))
        if not points:
            return
        keys = list(points)
        frame = pd.DataFrame(
            {"id": keys, "lon": [points[k][0] for k in keys], "lat": [points[k][1] for k in keys]}
        )
        network = None if self.plan.get("travel_model") == "great_circle" else self.network
        matrix = travel_matrix(frame, network)
        index = {k: i for i, k in enumerate(keys)}
        for team_id, timed in parsed.items():
            for i in range(1, len(timed)):
                a = index[
                    f"{float(timed[i - 1][0].get('lon', 0)):.6f},{float(timed[i - 1][0].get('lat', 0)):.6f}"
                ]
                b = index[f"{float(timed[i][0].get('lon', 0)):.6f},{float(timed[i][0].get('lat', 0)):.6f}"]
                minutes, km = matrix.minutes[a, b], matrix.km[a, b]
                stop = timed[i][0]
                if not np.isfinite(minutes):
                    self.add(team_id, i, "leg", "no road leads from the previous stop to this one")
                    continue
                if int(stop.get("leg_minutes", 0)) < math.ceil(minutes - 1e-9) - LEG_MINUTES_TOLERANCE:
                    self.add(
                        team_id,
                        i,
                        "leg",
                        f"leg is {stop.get('leg_minutes')} min, the travel model says {minutes:.0f}",
                    )
                if abs(float(stop.get("leg_km", 0)) - km) > LEG_KM_RELATIVE_TOLERANCE * km + 0.1:
                    self.add(
                        team_id, i, "leg", f"leg is {stop.get('leg_km')} km, the travel model says {km:.1f}"
                    )
        self.check_positions(parsed)

    def check_positions(self, parsed: dict[str, list[tuple[dict, int, int]]]) -> None:
        rows = [
            (team_id, i, str(stop.get("id")), float(stop.get("lon", 0)), float(stop.get("lat", 0)))
            for team_id, timed in parsed.items()
            for i, (stop, _, _) in enumerate(timed)
            if stop.get("type") == "site" and str(stop.get("id")) in self.targets.index
        ]
        if not rows:
            return
        stops = gpd.GeoSeries([Point(r[3], r[4]) for r in rows], crs=WGS84).to_crs(XINJIANG_METRIC_CRS)
        sites = gpd.GeoSeries(self.targets.loc[[r[2] for r in rows]].geometry.values, crs=WGS84).to_crs(
            XINJIANG_METRIC_CRS
        )
        distance_km = stops.distance(sites, align=False).to_numpy() / 1000
        for (team_id, i, site_id, _, _), km in zip(rows, distance_km, strict=True):
            if km > SITE_TOLERANCE_KM:
                self.add(team_id, i, "position", f"stop is {km:.1f} km from {site_id}")

    def check_sites(self, by_team: dict[str, dict]) -> None:
        """Each scenario site once, in a route or dropped with a reason; mandatory sites honoured."""
        seen: dict[str, str] = {}
        for team_id, route in by_team.items():
            for i, stop in enumerate(route.get("stops") or []):
                if stop.get("type") != "site":
                    continue
                site_id = str(stop.get("id"))
                if site_id in seen:
                    self.add(
                        team_id, i, "duplicate", f"{site_id} is visited twice (also by team {seen[site_id]})"
                    )
                seen[site_id] = team_id
        dropped = {}
        for entry in self.plan.get("dropped") or []:
            site_id = str(entry.get("id"))
            if site_id in dropped or site_id in seen:
                self.add(
                    None, None, "dropped", f"{site_id} is listed twice (dropped and routed, or dropped twice)"
                )
            if not str(entry.get("reason") or "").strip():
                self.add(None, None, "dropped", f"{site_id} is dropped without a reason")
            dropped[site_id] = entry
        scenario_ids = set(select_sites(self.scenario, self.targets.reset_index(drop=True)).all_ids)
        for site_id in sorted(scenario_ids - seen.keys() - dropped.keys()):
            self.add(None, None, "missing", f"scenario site {site_id} is neither in a route nor dropped")
        for site_id in sorted(seen.keys() - scenario_ids):
            self.add(seen[site_id], None, "extra", f"{site_id} is not a site of this scenario")
        unmet = set(self.plan.get("mandatory_unmet") or [])
        for site_id in self.scenario.sites.mandatory:
            if site_id not in seen and site_id not in unmet:
                self.add(
                    None, None, "mandatory", f"mandatory site {site_id} is not visited and not declared unmet"
                )


def check_plan(
    scenario: Scenario,
    plan: dict,
    *,
    targets: gpd.GeoDataFrame | None = None,
    network: object | None | str = "default",
) -> list[Violation]:
    """Every violation of the plan (a dict as in the plan file) against ``scenario``.

    ``targets`` is the registry (default: the shipped one); ``network`` the road network used to
    recompute legs when the plan says ``travel_model: road_network``.
    """
    if targets is None:
        from layers.datasets import load_targets

        targets = load_targets()
    return _Checker(scenario, plan, targets, network).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m planning check --scenario S.yaml --plan P.json``."""
    parser = argparse.ArgumentParser(prog="python -m planning check", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True, help="scenario YAML file")
    parser.add_argument("--plan", required=True, help="plan JSON file")
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        plan = load_plan_dict(args.plan)
        violations = check_plan(scenario, plan)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for site_id in plan.get("mandatory_unmet") or []:
        reason = next((d.get("reason") for d in plan.get("dropped") or [] if d.get("id") == site_id), "")
        print(f"note: mandatory site {site_id} not visited: {reason}")
    if violations:
        for violation in violations:
            print(violation)
        print(f"{len(violations)} violation(s)")
        return 1
    stops = sum(len(t.get("stops") or []) for t in plan["teams"])
    print(f"OK: {len(plan['teams'])} team route(s), {stops} stops, no violation")
    return 0
