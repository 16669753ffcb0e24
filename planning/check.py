"""Independent plan checker: recompute every rule from the plan file, the scenario and the registry.

``python -m planning check --scenario S.yaml --plan P.json [--closures FILE]`` exits 0 when the
plan keeps every rule, 1 listing each violation, 2 for unreadable input. The checker trusts
nothing the planner computed (it imports neither :mod:`planning.patrol` nor its scheduling): it
reads times from the ISO strings, re-derives windows from the scenario, service times,
night-check flags, skills and positions from the registry, the lodging towns from
:func:`planning.lodging.lodging_candidates`, and recomputes each leg with the plan's travel model
and the road closures in force on the leg's day (the shipped layer, ``--closures`` and any
closures the plan lists that the checker knows).

Each violation names the team, the stop (``seq``) or the day, and one rule:

``teams``
    every scenario team has exactly one route, and no route is for an unknown team;
``format``
    ``format_version`` is absent (version 1) or 2;
``sequence``, ``type``, ``times``
    ``seq`` is 0, 1, 2, ...; the stop type is known; times are ISO date-times with an offset and
    the numbers are numbers;
``start``, ``end``, ``base``
    the route starts at the team's base; with ``return_to_base`` it ends there; a ``base`` stop
    is the team's own base;
``leg_time``
    ``arrive = previous depart + leg_minutes + leg_break_minutes`` (within 1 min);
``wait``
    ``start >= arrive`` (version 1 plans: ``start`` is ``arrive``);
``service``
    ``depart >= start + service_minutes``; the service minutes are the registry's;
``window``
    an ordinary inspection starts inside a work window, a night check inside a night window,
    and it ends by the window's end + ``rules.service_overrun_minutes``;
``site``, ``skills``, ``position``
    a site stop is a registry site the team has the skills for, lying at the site (within
    :data:`SITE_TOLERANCE_KM`); a town stop lies at its town;
``continuous_drive``
    no more than ``max_continuous_drive_minutes`` of driving without a rest (a stop of at least
    ``break_minutes`` between arriving and leaving, a bed, or breaks inside a leg: a leg of D
    driving minutes with B break minutes may be split into ``B // break_minutes + 1`` pieces);
``night``
    one bed per night of the plan (stops with ``night`` set, numbered 0, 1, ... in order);
``day``
    day ``j`` starts on the ``j``-th plan date (a day runs from leaving one bed, or the base, to
    reaching the next);
``depart_after``, ``lodging_by``
    no team leaves a bed before ``rules.depart_after`` of that day; it reaches the next bed by
    ``rules.lodging_by`` of that day, or straight after a night check by the end of that
    night's window + ``rules.night_return_minutes``;
``day_drive``, ``day_duty``, ``rest``
    driving per day (sum of ``leg_minutes``) <= ``max_drive_minutes_per_day``; duty (reaching
    the next bed - leaving the previous) <= ``max_duty_minutes_per_day``; at each bed between
    reaching it and leaving it >= ``min_rest_minutes``;
``lodging``
    every night is spent at a lodging town (county seats, listed towns, bases);
``days``
    (version 2) the team's ``days`` summary agrees with its stops: date, leave, arrive_bed,
    bed_id, drive_minutes, duty_minutes (within 1 min) and km (within 1 km);
``leg``
    each leg matches the travel model (minutes not shorter, rounded up, km within 1 %);
``closure``
    a road leg is not shorter than the road with the closures in force on its day's date (the
    date on which the team left its previous bed) allows; the message names the closure(s)
    whose closed roads the shorter leg uses;
``officers``
    when some scenario team lists officers, a site drawn with named officers is visited by a
    team holding all of them (else it must be dropped with a reason);
``pin``, ``forbid``, ``unavailable``
    the chief's overrides: a visited pinned site is on its team and day (an unmet pin is a
    mandatory site unmet), no forbidden team-site pair, no inspection on a day its team is
    unavailable;
``duplicate``, ``dropped``, ``missing``, ``extra``, ``mandatory``
    no site twice (a stop recorded ``not_inspected`` in a re-planned week may be visited again);
    every scenario site is in a route or in ``dropped`` with a reason, and only scenario sites
    are routed; mandatory sites are visited or listed in ``mandatory_unmet``.

Open tasks (the scenario's ``tasks``; the plan file keeps the list it was planned with, which the
checker uses when the YAML only switches them on) count as the planner counts them
(:func:`planning.tasks.task_scenario`): a planned task's site is mandatory, and a night-check
task's visit is checked against the night window.

Road closures are not applied to ``great_circle`` plans (straight lines follow no road).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point

from layers.schema import WGS84, XINJIANG_METRIC_CRS, parse_skills
from planning.candidates import select_sites
from planning.closures import closed_edge_mask, in_force, load_closures, network_with_closures
from planning.lodging import lodging_candidates
from planning.plan import STOP_TYPES, load_plan_dict
from planning.roads import TO_METRIC, RoadNetwork, load_road_network
from planning.scenario import Scenario, ScenarioError, Team, load_scenario, parse_tasks, with_tasks
from planning.tasks import night_task_sites, planned_tasks, task_scenario
from planning.travel import TravelMatrix, travel_matrix

#: How far (km) a site stop may lie from the site's geometry (access points sit on its edge),
#: and a town stop from the town's point.
SITE_TOLERANCE_KM = 0.5
#: Tolerance when comparing plan legs with the recomputed travel model.
LEG_MINUTES_TOLERANCE = 1
LEG_KM_RELATIVE_TOLERANCE = 0.01
#: Tolerance of the day summaries (v2 ``days``): times in minutes, distances in km.
DAY_MINUTES_TOLERANCE = 1
DAY_KM_TOLERANCE = 1.0
#: A closed road counts as used by a leg when this much of it (km) lies on the leg's path: the
#: path only touches the ends of roads it crosses.
CLOSED_ROAD_USED_KM = 1.0
FORMAT_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Violation:
    """One broken rule: which team and stop (``seq``) or day (``day``, 0-based), the rule's name
    and what is wrong."""

    team: str | None
    seq: int | None
    rule: str
    message: str
    day: int | None = None

    def __str__(self) -> str:
        if self.team is None:
            where = "plan"
        else:
            where = f"team {self.team}"
            if self.seq is not None:
                where += f" stop {self.seq}"
            elif self.day is not None:
                where += f" day {self.day}"
        return f"{where}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class _Stop:
    """One stop with its times in plan minutes and its leg's numbers."""

    index: int
    raw: dict
    arrive: int
    start: int
    depart: int
    service: int
    leg_minutes: int
    leg_break: int
    leg_km: float

    @property
    def kind(self) -> str:
        return str(self.raw.get("type"))

    @property
    def id(self) -> str:
        return str(self.raw.get("id"))

    @property
    def is_night(self) -> bool:
        return self.raw.get("night") is not None


@dataclass(frozen=True)
class _Day:
    """Stops ``first`` (the bed left) .. ``last`` (the bed reached) of one day; ``date`` is the
    plan day on which the bed was left."""

    index: int
    first: int
    last: int
    date: int


def _minute(scenario: Scenario, text: object) -> int | None:
    try:
        value = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return scenario.datetime_to_minute(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _clock(scenario: Scenario, minute: int) -> str:
    return scenario.minute_to_datetime(minute).strftime("%a %d %H:%M")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _point_key(stop: dict) -> tuple[float, float]:
    return round(float(stop.get("lon", 0) or 0), 6), round(float(stop.get("lat", 0) or 0), 6)


def known_closures(extra: Sequence = ()) -> tuple:
    """The shipped closure layer plus ``extra`` (an extra closure replaces a shipped one of the
    same id)."""
    merged = {c.id: c for c in load_closures()}
    merged.update({c.id: c for c in extra})
    return tuple(merged.values())


def unknown_plan_closures(plan: dict, closures: Sequence) -> list[str]:
    """Ids of closures the plan says it honoured that ``closures`` does not hold (the checker has
    no geometry for them, so it cannot apply them)."""
    known = {str(c.id) for c in closures}
    listed = [str(c.get("id")) for c in plan.get("closures") or [] if isinstance(c, dict)]
    return [i for i in dict.fromkeys(listed) if i not in known]


class _Checker:
    def __init__(
        self,
        scenario: Scenario,
        plan: dict,
        targets: gpd.GeoDataFrame,
        network: object | None | str,
        closures: Sequence,
    ):
        self.scenario = scenario
        self.plan = plan
        self.targets = targets.set_index(targets["site_id"].astype(str), drop=False)
        self.network = network
        self.closures = tuple(closures)
        self.violations: list[Violation] = []
        self.rules = scenario.rules
        self.towns = {t.id: t for t in lodging_candidates(scenario)}
        for team in scenario.teams:
            self.towns.setdefault(team.base.id, team.base)
        self.night_windows = scenario.night_windows()
        self.night_tasks = night_task_sites(planned_tasks(scenario, self.targets.reset_index(drop=True)))
        version = plan.get("format_version", 1)
        self.version = version if version in FORMAT_VERSIONS else None

    def add(self, team: str | None, seq: int | None, rule: str, message: str, day: int | None = None) -> None:
        self.violations.append(Violation(team, seq, rule, message, day))

    # --- the whole plan ------------------------------------------------------------------

    def run(self) -> list[Violation]:
        if self.version is None:
            self.add(None, None, "format", f"unknown format_version {self.plan.get('format_version')!r}")
            return self.violations
        by_team: dict[str, dict] = {}
        for route in self.plan.get("teams") or []:
            team_id = str(route.get("team_id"))
            if team_id in by_team:
                self.add(team_id, None, "teams", "the team has two routes")
            by_team[team_id] = route
        for team_id in sorted(by_team.keys() - {t.id for t in self.scenario.teams}):
            self.add(team_id, None, "teams", "team is not in the scenario")
        parsed: dict[str, tuple[list[_Stop], list[_Day]]] = {}
        for team in self.scenario.teams:
            route = by_team.get(team.id)
            if route is None:
                self.add(team.id, None, "teams", "the scenario's team has no route in the plan")
                continue
            stops = self.parse_stops(team, route.get("stops") or [])
            if stops is None:
                continue
            self.check_stops(team, stops)
            self.check_continuous_drive(team, stops)
            days = self.split_days(team, stops)
            self.check_days(team, stops, days)
            if self.version == 2:
                self.check_day_summaries(team, route.get("days"), stops, days)
            parsed[team.id] = (stops, days)
        self.check_legs(parsed)
        self.check_positions(parsed)
        self.check_sites(by_team)
        self.check_overrides(parsed)
        return self.violations

    # --- one route -----------------------------------------------------------------------

    def parse_stops(self, team: Team, raw: list[dict]) -> list[_Stop] | None:
        """The route's stops with times in minutes, or None (reported) when it cannot be read."""
        sc = self.scenario
        if not raw:
            self.add(team.id, None, "start", "the route has no stops")
            return None
        stops: list[_Stop] = []
        for i, stop in enumerate(raw):
            if not isinstance(stop, dict):
                self.add(team.id, i, "type", f"a stop is a mapping, got {stop!r}")
                return None
            if stop.get("seq", i) != i:
                self.add(team.id, i, "sequence", f"seq is {stop.get('seq')}, expected {i}")
            if stop.get("type") not in STOP_TYPES:
                self.add(team.id, i, "type", f"unknown stop type {stop.get('type')!r}")
            arrive, depart = _minute(sc, stop.get("arrive")), _minute(sc, stop.get("depart"))
            # Version 1 stops have no start: the service starts on arrival.
            start = arrive if self.version == 1 and "start" not in stop else _minute(sc, stop.get("start"))
            if arrive is None or start is None or depart is None:
                fields = "arrive/start/depart" if self.version == 2 else "arrive/depart"
                self.add(team.id, i, "times", f"{fields} must be ISO-8601 date-times with an offset")
                return None
            numbers = {}
            for name, default in (
                ("service_minutes", 0),
                ("leg_minutes", 0),
                ("leg_break_minutes", 0),
                ("leg_km", 0),
            ):
                value = _number(stop.get(name, default) if stop.get(name) is not None else default)
                if value is None or value < 0:
                    self.add(team.id, i, "times", f"{name} must be a number >= 0, got {stop.get(name)!r}")
                    value = 0.0
                numbers[name] = value
            stops.append(
                _Stop(
                    index=i,
                    raw=stop,
                    arrive=arrive,
                    start=start,
                    depart=depart,
                    service=round(numbers["service_minutes"]),
                    leg_minutes=round(numbers["leg_minutes"]),
                    leg_break=round(numbers["leg_break_minutes"]),
                    leg_km=numbers["leg_km"],
                )
            )
        return stops

    def check_stops(self, team: Team, stops: list[_Stop]) -> None:
        """Start and end, base stops, times along the route, and each site stop's rules."""
        sc = self.scenario
        first, last = stops[0], stops[-1]
        if first.kind != "base" or first.id != team.base.id:
            self.add(
                team.id, 0, "start", f"the route must start at the base {team.base.name} (id {team.base.id})"
            )
        if sc.return_to_base and (last.kind != "base" or last.id != team.base.id or len(stops) < 2):
            self.add(team.id, last.index, "end", "with return_to_base the route must end at the base")
        for stop in stops:
            if stop.kind == "base" and stop.id != team.base.id:
                self.add(
                    team.id, stop.index, "base", f"base stop {stop.id} is not the team's base {team.base.id}"
                )
            if stop.index > 0:
                prev = stops[stop.index - 1]
                expected = prev.depart + stop.leg_minutes + stop.leg_break
                if abs(stop.arrive - expected) > LEG_MINUTES_TOLERANCE:
                    self.add(
                        team.id,
                        stop.index,
                        "leg_time",
                        f"arrives {_clock(sc, stop.arrive)} but left the previous stop at "
                        f"{_clock(sc, prev.depart)} with a {stop.leg_minutes} min leg and "
                        f"{stop.leg_break} min of breaks",
                    )
            if stop.start < stop.arrive:
                self.add(
                    team.id,
                    stop.index,
                    "wait",
                    f"starts {_clock(sc, stop.start)}, before arriving {_clock(sc, stop.arrive)}",
                )
            if stop.depart < stop.start + stop.service:
                self.add(
                    team.id,
                    stop.index,
                    "service",
                    f"leaves {stop.depart - stop.start} min after starting, service is {stop.service} min",
                )
            if stop.kind == "site":
                self.check_site_stop(team, stop)

    def _site_row(self, site_id: str) -> pd.Series | None:
        return self.targets.loc[site_id] if site_id in self.targets.index else None

    def _night_check(self, row: pd.Series) -> bool:
        if row["site_id"] in self.night_tasks:
            return True
        return bool(row["night_check"]) if pd.notna(row["night_check"]) else False

    def check_site_stop(self, team: Team, stop: _Stop) -> None:
        """The registry's service time, window (with overrun) and skills for one site stop."""
        sc = self.scenario
        row = self._site_row(stop.id)
        if row is None:
            self.add(team.id, stop.index, "site", f"{stop.id} is not in the registry")
            return
        night = self._night_check(row)
        service = int(row["service_minutes"]) if pd.notna(row["service_minutes"]) else 60
        if stop.service != service:
            self.add(
                team.id,
                stop.index,
                "service",
                f"{stop.id} needs {service} min, plan says {stop.raw.get('service_minutes')}",
            )
        windows = sc.service_windows(service, night)
        if not any(lo <= stop.start <= hi for lo, hi in windows):
            kind = "night" if night else "work"
            self.add(
                team.id,
                stop.index,
                "window",
                f"{stop.id} starts {_clock(sc, stop.start)} and ends {_clock(sc, stop.start + service)}: "
                f"it must start inside a {kind} window and end by its end + "
                f"{self.rules.service_overrun_minutes} min",
            )
        needs = parse_skills(row["skills_required"])
        if not needs <= team.skills:
            self.add(
                team.id, stop.index, "skills", f"{stop.id} needs {', '.join(sorted(needs - team.skills))}"
            )

    def check_continuous_drive(self, team: Team, stops: list[_Stop]) -> None:
        """Walk the route keeping the driving since the last rest (see the module docstring)."""
        limit, pause = self.rules.max_continuous_drive_minutes, self.rules.break_minutes
        carried = 0
        for stop in stops[1:]:
            # With break_minutes 0 any stop is a rest, so a leg may be split anywhere.
            pieces = stop.leg_break // pause if pause > 0 else stop.leg_minutes
            if carried + stop.leg_minutes > limit * (pieces + 1):
                self.add(
                    team.id,
                    stop.index,
                    "continuous_drive",
                    f"{carried + stop.leg_minutes} min of driving since the last rest with {stop.leg_break} min "
                    f"of breaks in the leg: at most {limit} min between rests of {pause} min",
                )
            # The least driving left after the leg's last break; capped so one fault is reported once.
            carried = min(limit, max(0, carried + stop.leg_minutes - limit * pieces))
            if stop.depart - stop.arrive >= pause or stop.is_night:
                carried = 0

    def split_days(self, team: Team, stops: list[_Stop]) -> list[_Day]:
        """Days between beds (stops with ``night`` set, the first and the last base stop)."""
        sc = self.scenario
        beds = [0] + [s.index for s in stops[1:] if s.is_night]
        if stops[-1].index not in beds and stops[-1].kind == "base":
            beds.append(stops[-1].index)
        nights = [stops[b] for b in beds if stops[b].is_night]
        expected = sc.night_count()
        if len(nights) != expected:
            self.add(
                team.id,
                None,
                "night",
                f"the route has {len(nights)} bed(s) for {expected} night(s): every night of the plan is "
                f"spent at a lodging town or the base (a stop with 'night' set)",
            )
        for j, bed in enumerate(nights):
            if bed.raw.get("night") != j:
                self.add(team.id, bed.index, "night", f"night is {bed.raw.get('night')!r}, expected {j}")
        days = []
        for j in range(len(beds) - 1):
            leave = stops[beds[j]].depart
            date = leave // 1440
            if date != j:
                self.add(
                    team.id,
                    beds[j],
                    "day",
                    f"day {j} leaves {_clock(sc, leave)}, on plan day {date}: one day runs from one bed to the next",
                    day=j,
                )
            days.append(_Day(j, beds[j], beds[j + 1], date))
        return days

    def check_days(self, team: Team, stops: list[_Stop], days: list[_Day]) -> None:
        """Per day: departure, bed time, driving, duty, rest and the lodging town."""
        sc, rules = self.scenario, self.rules
        for day in days:
            leave, bed = stops[day.first].depart, stops[day.last]
            if leave < day.date * 1440 + rules.depart_after:
                self.add(
                    team.id,
                    day.first,
                    "depart_after",
                    f"leaves {_clock(sc, leave)}, before {_hhmm(rules.depart_after)}",
                    day=day.index,
                )
            limit, why = day.date * 1440 + rules.lodging_by, f"{_hhmm(rules.lodging_by)}"
            before = stops[day.last - 1] if day.last > day.first + 1 else None
            row = self._site_row(before.id) if before is not None and before.kind == "site" else None
            if row is not None and self._night_check(row) and 0 <= day.date < len(self.night_windows):
                limit = max(limit, self.night_windows[day.date][1] + rules.night_return_minutes)
                why = f"the end of the night window + {rules.night_return_minutes} min after a night check"
            if bed.arrive > limit:
                self.add(
                    team.id,
                    bed.index,
                    "lodging_by",
                    f"reaches the bed {_clock(sc, bed.arrive)}, after {why}",
                    day=day.index,
                )
            drive = sum(s.leg_minutes for s in stops[day.first + 1 : day.last + 1])
            if drive > rules.max_drive_minutes_per_day:
                self.add(
                    team.id,
                    None,
                    "day_drive",
                    f"{drive} min of driving, more than {rules.max_drive_minutes_per_day}",
                    day=day.index,
                )
            duty = bed.arrive - leave
            if duty > rules.max_duty_minutes_per_day:
                self.add(
                    team.id,
                    None,
                    "day_duty",
                    f"{duty} min from leaving the bed to reaching the next, more than {rules.max_duty_minutes_per_day}",
                    day=day.index,
                )
            # The route's final base stop is checked by "end"; every night's bed is checked here.
            if (bed.index != stops[-1].index or bed.is_night) and (
                bed.id not in self.towns or bed.kind not in ("lodging", "base")
            ):
                self.add(
                    team.id,
                    bed.index,
                    "lodging",
                    f"night at {bed.raw.get('name')} ({bed.id}), not a lodging town",
                )
            if day.index + 1 < len(days):
                rest = bed.depart - bed.arrive
                if rest < rules.min_rest_minutes:
                    self.add(
                        team.id,
                        bed.index,
                        "rest",
                        f"{rest} min between reaching the bed and leaving it, less than "
                        f"{rules.min_rest_minutes}",
                        day=day.index,
                    )

    def day_figures(self, stops: list[_Stop], day: _Day) -> dict:
        """What a v2 ``days`` entry should say about ``day``."""
        legs = stops[day.first + 1 : day.last + 1]
        dates = self.scenario.day_dates()
        return {
            "date": dates[day.date].isoformat() if 0 <= day.date < len(dates) else None,
            "leave": stops[day.first].depart,
            "arrive_bed": stops[day.last].arrive,
            "bed_id": stops[day.last].id,
            "drive_minutes": sum(s.leg_minutes for s in legs),
            "duty_minutes": stops[day.last].arrive - stops[day.first].depart,
            "km": sum(s.leg_km for s in legs),
        }

    def check_day_summaries(self, team: Team, entries: object, stops: list[_Stop], days: list[_Day]) -> None:
        """The v2 ``days`` entries agree with what the stops say."""
        sc = self.scenario
        if not isinstance(entries, list):
            self.add(team.id, None, "days", "a version 2 plan lists the team's days")
            return
        if len(entries) != len(days):
            self.add(team.id, None, "days", f"{len(entries)} day entries, the stops make {len(days)} day(s)")
        for day, entry in zip(days, entries, strict=False):
            if not isinstance(entry, dict):
                self.add(team.id, None, "days", f"a day entry is a mapping, got {entry!r}", day=day.index)
                continue
            want = self.day_figures(stops, day)
            wrong = []
            if str(entry.get("date")) != str(want["date"]):
                wrong.append(f"date {entry.get('date')} (stops: {want['date']})")
            for name in ("leave", "arrive_bed"):
                got = _minute(sc, entry.get(name))
                if got is None or abs(got - want[name]) > DAY_MINUTES_TOLERANCE:
                    wrong.append(
                        f"{name} {entry.get(name)} (stops: {sc.minute_to_datetime(want[name]).isoformat()})"
                    )
            if str(entry.get("bed_id")) != want["bed_id"]:
                wrong.append(f"bed_id {entry.get('bed_id')} (stops: {want['bed_id']})")
            for name, tolerance in (
                ("drive_minutes", DAY_MINUTES_TOLERANCE),
                ("duty_minutes", DAY_MINUTES_TOLERANCE),
                ("km", DAY_KM_TOLERANCE),
            ):
                got = _number(entry.get(name))
                if got is None or abs(got - want[name]) > tolerance:
                    wrong.append(f"{name} {entry.get(name)} (stops: {want[name]:.1f})".replace(".0)", ")"))
            if wrong:
                self.add(
                    team.id,
                    None,
                    "days",
                    "the day summary disagrees with the stops: " + "; ".join(wrong),
                    day=day.index,
                )

    # --- legs and closures ----------------------------------------------------------------

    def _road_network(self) -> RoadNetwork | None:
        if self.plan.get("travel_model") == "great_circle" or self.network is None:
            return None
        if isinstance(self.network, RoadNetwork):
            return self.network
        return load_road_network(None if self.network == "default" else self.network)

    def check_legs(self, parsed: dict[str, tuple[list[_Stop], list[_Day]]]) -> None:
        """Recompute each leg with the travel model and the closures in force on its day.

        Legs are grouped by the set of closures in force, so a week costs one matrix per
        distinct set (plus the open network to name the closures a short leg runs through).
        """
        network = self._road_network()
        dates = self.scenario.day_dates()
        groups: dict[tuple[str, ...], list[tuple[str, _Stop, _Stop, str]]] = {}
        by_id = {c.id: c for c in self.closures}
        for team_id, (stops, days) in parsed.items():
            for day in days:
                date = dates[day.date] if 0 <= day.date < len(dates) else None
                active = (
                    ()
                    if network is None or date is None
                    else tuple(sorted(c.id for c in in_force(self.closures, date)))
                )
                label = date.isoformat() if date is not None else f"plan day {day.date}"
                for k in range(day.first + 1, day.last + 1):
                    groups.setdefault(active, []).append((team_id, stops[k - 1], stops[k], label))
            # Legs after the last bed (a route without return that goes on) use the open network.
            last = days[-1].last if days else 0
            for k in range(last + 1, len(stops)):
                groups.setdefault((), []).append((team_id, stops[k - 1], stops[k], "after the last bed"))
        if not groups:
            return
        all_points = sorted(
            {_point_key(s.raw) for legs in groups.values() for _, a, b, _ in legs for s in (a, b)}
        )
        open_matrix, open_index = self._matrix(all_points, network, ())
        for active, legs in groups.items():
            closures = tuple(by_id[i] for i in active)
            if closures:
                points = sorted({_point_key(s.raw) for _, a, b, _ in legs for s in (a, b)})
                matrix, index = self._matrix(points, network, closures)
            else:
                matrix, index = open_matrix, open_index
            for team_id, prev, stop, label in legs:
                self._check_leg(
                    team_id, prev, stop, label, closures, network, (matrix, index), (open_matrix, open_index)
                )

    def _matrix(
        self, points: list[tuple[float, float]], network: RoadNetwork | None, closures: tuple
    ) -> tuple[TravelMatrix, dict[tuple[float, float], int]]:
        frame = pd.DataFrame(
            {
                "id": [f"p{i}" for i in range(len(points))],
                "lon": [p[0] for p in points],
                "lat": [p[1] for p in points],
            }
        )
        routed = network if network is None or not closures else network_with_closures(network, closures)
        return travel_matrix(frame, routed), {p: i for i, p in enumerate(points)}

    def _check_leg(
        self, team_id, prev: _Stop, stop: _Stop, label: str, closures: tuple, network, model, open_model
    ) -> None:
        matrix, index = model
        a, b = index[_point_key(prev.raw)], index[_point_key(stop.raw)]
        minutes, km = float(matrix.minutes[a, b]), float(matrix.km[a, b])
        oa, ob = open_model[1][_point_key(prev.raw)], open_model[1][_point_key(stop.raw)]
        open_minutes, open_km = float(open_model[0].minutes[oa, ob]), float(open_model[0].km[oa, ob])

        def short(model_minutes: float, model_km: float) -> bool:
            return stop.leg_minutes < math.ceil(model_minutes - 1e-9) - LEG_MINUTES_TOLERANCE or (
                stop.leg_km < model_km - LEG_KM_RELATIVE_TOLERANCE * model_km - 0.1
            )

        if (
            closures
            and (not math.isfinite(minutes) or short(minutes, km))
            and math.isfinite(open_minutes)
            and not short(open_minutes, open_km)
        ):
            used = self._closures_on_path(open_model[0], oa, ob, closures, network) or closures
            names = ", ".join(f"{c.id} ({c.name})" for c in used)
            road = (
                "no road is open"
                if not math.isfinite(minutes)
                else f"the open roads take {km:.1f} km / {minutes:.0f} min"
            )
            self.add(
                team_id,
                stop.index,
                "closure",
                f"leg is {stop.leg_km} km / {stop.leg_minutes} min on {label}, but {road}: it runs over the closed "
                f"road of {names}",
            )
            return
        if not math.isfinite(minutes):
            self.add(team_id, stop.index, "leg", "no road leads from the previous stop to this one")
            return
        if stop.leg_minutes < math.ceil(minutes - 1e-9) - LEG_MINUTES_TOLERANCE:
            self.add(
                team_id,
                stop.index,
                "leg",
                f"leg is {stop.leg_minutes} min, the travel model says {minutes:.0f}",
            )
        if abs(stop.leg_km - km) > LEG_KM_RELATIVE_TOLERANCE * km + 0.1:
            self.add(team_id, stop.index, "leg", f"leg is {stop.leg_km} km, the travel model says {km:.1f}")

    def _closures_on_path(
        self, matrix: TravelMatrix, a: int, b: int, closures: tuple, network: RoadNetwork
    ) -> tuple:
        """The closures whose closed roads the open network's path ``a -> b`` runs along."""
        path = matrix.leg_lonlat(a, b)
        if len(path) < 2:
            return ()
        x, y = TO_METRIC.transform(*np.array(path).T)
        corridor = LineString(np.column_stack([x, y])).buffer(20.0)
        used = []
        for closure in closures:
            edges = network.edge_lines[np.asarray(closed_edge_mask(network, (closure,)), bool)]
            if (
                len(edges)
                and shapely.length(shapely.intersection(edges, corridor)).sum() / 1000 >= CLOSED_ROAD_USED_KM
            ):
                used.append(closure)
        return tuple(used)

    def check_positions(self, parsed: dict[str, tuple[list[_Stop], list[_Day]]]) -> None:
        """Site stops lie at their site, town stops at their town."""
        rows, shapes = [], []
        for team_id, (stops, _) in parsed.items():
            for stop in stops:
                if stop.kind == "site" and stop.id in self.targets.index:
                    shapes.append(self.targets.loc[stop.id].geometry)
                elif stop.kind in ("base", "lodging") and stop.id in self.towns:
                    town = self.towns[stop.id]
                    shapes.append(Point(town.lon, town.lat))
                else:
                    continue
                rows.append((team_id, stop))
        if not rows:
            return
        points = gpd.GeoSeries([Point(*_point_key(s.raw)) for _, s in rows], crs=WGS84).to_crs(
            XINJIANG_METRIC_CRS
        )
        places = gpd.GeoSeries(shapes, crs=WGS84).to_crs(XINJIANG_METRIC_CRS)
        distance_km = points.distance(places, align=False).to_numpy() / 1000
        for (team_id, stop), km in zip(rows, distance_km, strict=True):
            if km > SITE_TOLERANCE_KM:
                self.add(team_id, stop.index, "position", f"stop is {km:.1f} km from {stop.id}")

    # --- sites ---------------------------------------------------------------------------

    def check_overrides(self, parsed: dict[str, tuple[list[_Stop], list[_Day]]]) -> None:
        """The chief's overrides: a visited pinned site on its team and day, no forbidden
        team-site pair, no inspection while a team is unavailable."""
        overrides = self.scenario.overrides
        pins = {p.site: p for p in overrides.pins}
        forbidden = {(f.site, f.team) for f in overrides.forbid}
        for team_id, (stops, days) in parsed.items():
            away = [
                (self.scenario.day_index(u.first), self.scenario.day_index(u.last))
                for u in overrides.unavailable
                if u.team == team_id
            ]
            for day in days:
                for stop in stops[day.first + 1 : day.last + 1]:
                    if stop.kind != "site" or stop.raw.get("recorded") == "not_inspected":
                        continue
                    site = str(stop.raw.get("id"))
                    pin = pins.get(site)
                    if pin is not None and pin.team is not None and pin.team != team_id:
                        self.add(team_id, stop.index, "pin", f"{site} is pinned to team {pin.team}")
                    if (
                        pin is not None
                        and pin.day is not None
                        and self.scenario.day_index(pin.day) != day.date
                    ):
                        self.add(team_id, stop.index, "pin", f"{site} is pinned to {pin.day}")
                    if (site, team_id) in forbidden:
                        self.add(team_id, stop.index, "forbid", f"{site} is forbidden for team {team_id}")
                    if any(lo <= day.date <= hi for lo, hi in away):
                        self.add(
                            team_id, stop.index, "unavailable", f"team {team_id} is unavailable that day"
                        )

    def check_sites(self, by_team: dict[str, dict]) -> None:
        """Each scenario site once, in a route or dropped with a reason; mandatory sites honoured;
        drawn officers on the site's team."""
        seen: dict[str, str] = {}
        for team_id, route in by_team.items():
            for i, stop in enumerate(route.get("stops") or []):
                if not isinstance(stop, dict) or stop.get("type") != "site":
                    continue
                if stop.get("recorded") == "not_inspected":
                    continue  # a re-planned week may send a team back where it could not inspect
                site_id = str(stop.get("id"))
                if site_id in seen:
                    self.add(
                        team_id, i, "duplicate", f"{site_id} is visited twice (also by team {seen[site_id]})"
                    )
                seen[site_id] = team_id
                self.check_officers(team_id, i, site_id)
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
        unmet = {str(i) for i in self.plan.get("mandatory_unmet") or []}
        for site_id in self.scenario.sites.mandatory:
            if site_id not in seen and site_id not in unmet:
                self.add(
                    None, None, "mandatory", f"mandatory site {site_id} is not visited and not declared unmet"
                )

    def check_officers(self, team_id: str, seq: int, site_id: str) -> None:
        """A site drawn with named officers goes to a team holding all of them, when the scenario
        says who is on which team (otherwise the planner only warns)."""
        teams = {t.id: t for t in self.scenario.teams}
        if not any(t.officers for t in teams.values()) or team_id not in teams:
            return
        drawn = dict(self.scenario.sites.drawn_officers).get(site_id)
        if not drawn:
            return
        missing = sorted(set(drawn) - set(teams[team_id].officers))
        if missing:
            self.add(
                team_id,
                seq,
                "officers",
                f"{site_id} was drawn with officers {', '.join(drawn)}; team {team_id} "
                f"lacks {', '.join(missing)}",
            )


def check_plan(
    scenario: Scenario,
    plan: dict,
    *,
    targets: gpd.GeoDataFrame | None = None,
    network: object | None | str = "default",
    closures: Sequence | None = None,
) -> list[Violation]:
    """Every violation of the plan (a dict as in the plan file) against ``scenario``.

    ``targets`` is the registry (default: the shipped one); ``network`` the road network used to
    recompute legs when the plan says ``travel_model: road_network`` (None: great-circle legs);
    ``closures`` are closures beyond the shipped layer (e.g. added by a chief), applied with it.
    """
    if targets is None:
        from layers.datasets import load_targets

        targets = load_targets()
    scenario = task_scenario(scenario, targets)
    return _Checker(scenario, plan, targets, network, known_closures(closures or ())).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m planning check --scenario S.yaml --plan P.json [--closures FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m planning check", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True, help="scenario YAML file")
    parser.add_argument("--plan", required=True, help="plan JSON file")
    parser.add_argument(
        "--closures", help="extra road closures (a file load_closures reads), beyond the shipped ones"
    )
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        plan = load_plan_dict(args.plan)
        planned_with = (plan.get("scenario") or {}).get("tasks")
        if scenario.use_tasks is not False and not scenario.tasks and isinstance(planned_with, list):
            scenario = with_tasks(scenario, parse_tasks(planned_with, "plan: scenario.tasks"))
        extra = load_closures(args.closures) if args.closures else ()
        violations = check_plan(scenario, plan, closures=extra)
        unknown = unknown_plan_closures(plan, known_closures(extra))
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for closure_id in unknown:
        print(
            f"note: the plan lists closure {closure_id}, which the checker does not know; pass its file with --closures"
        )
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
