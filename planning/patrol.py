"""Weekly multi-day patrol plans: a scenario and the registry in, a checkable :class:`Plan` out.

The model (one vehicle per team over the whole horizon, built on :mod:`planning.core` and solved
by the ruin-and-recreate search of :mod:`planning.ruin_recreate`, which enforces every rule):

* Time is minutes from local midnight of the first day. An ordinary inspection starts in the work
  window of a day and ends by the window's end + ``rules.service_overrun_minutes``; a night check
  the same inside the night window of a night in the plan (several windows per node).
* Nights: for every team and night there is a group of lodging nodes (one per candidate town,
  the base among them, restricted to that team) of which exactly one is visited. A bed is a
  *rest node*: it ends one duty and starts the next, its service is the rest
  (``rules.min_rest_minutes``) and the team leaves it no earlier than the next morning's
  ``rules.depart_after``. A bed opens after the day's work window, so no inspection of that day
  can follow it, and closes at ``rules.lodging_by``; a second, *late* copy of each bed closes at
  the end of the night window + ``rules.night_return_minutes`` and is reachable only after a
  night check (or from a site close enough to be reached by ``lodging_by``).
* Duties (leaving a bed to reaching the next) keep ``rules.max_duty_minutes_per_day`` and
  ``rules.max_drive_minutes_per_day``; a leg longer than ``rules.max_continuous_drive_minutes``
  of driving carries a ``rules.break_minutes`` stop per such stretch (art. 62), and a stop at a
  site lasts at least ``break_minutes`` so it counts as that stop.
* Cost = driving minutes, + ``rules.night_away_cost_minutes`` per night away from base, + a
  small workload term that shares ties between teams. Leaving out an optional site costs its
  *value*, ``DETOUR_BASE_MINUTES + DETOUR_MINUTES_PER_PRIORITY x priority`` minutes of driving:
  a site is worth at most that detour (2 h for priority 0, 7 h for 50, 12 h for 100; a night
  check 4 h more; see ``docs/planning.md``). Mandatory sites and the nights are required.
* Lodging candidates per team and night are the towns (:func:`planning.lodging.
  lodging_candidates`) the team can reach by that night and get home from in time, the
  :data:`LODGING_PER_SITE` nearest to each site the team may visit, at most
  :data:`LODGING_PER_NIGHT` of them (the most useful first), plus the base.
* Road closures (:mod:`planning.closures`, the shipped layer and any the caller adds) in force on
  any day of the plan close their roads for the whole plan: simpler than a matrix per day, and
  never wrong, only cautious when a closure covers part of the week.

Before routing, sites that cannot be in any plan are dropped with the reason: not on the road
network, no team with the skill or the drawn officers, outside every team's range in the
horizon, a night check in a plan with no night.

Open tasks from the records (the scenario's ``tasks``, :mod:`planning.tasks`) make their sites
mandatory, a night-check task makes its visit a night check, and a task due inside the week keeps
only the windows that end by its deadline (all of them when none does). Each stop lists the tasks
it serves, and the plan's ``tasks`` says for every task which stop serves it, whether on time, or
why not.

The search starts from an empty week and runs ``effort`` thousand iterations in each of
:data:`SEARCHES` parallel searches (the same plan on any machine), or for a time budget when
``seconds`` is given.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from planning import ruin_recreate
from planning.candidates import Candidates, select_sites
from planning.closures import Closure, in_force, load_closures, network_with_closures
from planning.core import ChooseOne, DutyLimits, Node, RoutingProblem, Vehicle
from planning.lodging import lodging_candidates
from planning.plan import Day, Plan, Stop, TeamRoute, plan_kpis
from planning.roads import RoadNetwork, load_road_network
from planning.scenario import Scenario, SiteTask, Team, Town
from planning.tasks import (
    deadlines,
    night_task_sites,
    planned_tasks,
    task_report,
    task_scenario,
    why_not_planned,
)
from planning.travel import TravelMatrix, travel_matrix

#: A site is worth this much driving (minutes), plus the priority-scaled part below.
DETOUR_BASE_MINUTES = 120
DETOUR_MINUTES_PER_PRIORITY = 6
NIGHT_CHECK_BONUS_MINUTES = 240
#: Lodging towns kept per site (nearest first) and per team and night (besides the base).
LODGING_PER_SITE = 2
LODGING_PER_NIGHT = 30
#: Re-planning: moving a stop of the previous plan to another team or day costs this much driving.
STABILITY_MINUTES = 240
#: Search iterations per unit of ``solver.effort``, in each of :data:`SEARCHES` searches.
ITERATIONS_PER_EFFORT = 1000
#: Independent searches (seeds ``seed``, ``seed + 1``, ...) run side by side, one per core of a
#: 2-core machine; the best plan wins. Fixed, not the machine's core count, so the plan is the
#: same everywhere (a 1-core machine takes twice as long).
SEARCHES = 2
#: The workload term: W² / (days x max duty x this), W a team's driving and service minutes.
#: At a full week a minute of work costs two thirds of a minute more on the busier team: ties
#: between teams at one base are shared, and an idle team is worth a somewhat longer drive.
WORKLOAD_SCALE_FACTOR = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class NodeInfo:
    """What a routing node stands for: ``kind`` is start, end, site or lodging."""

    kind: str
    point: int  # row in the travel matrix, -1 for the virtual end without return
    team: int | None = None
    night: int | None = None
    late: bool = False
    site: str | None = None


@dataclass(frozen=True)
class PatrolModel:
    """A built routing model with the meaning of each node, ready for the search."""

    problem: RoutingProblem
    info: tuple[NodeInfo, ...]
    teams: tuple[int, ...]


@dataclass(frozen=True)
class Resume:
    """Where each team picks the week up when re-planning (:mod:`planning.replan`).

    Per scenario team number: the town it slept in (``start_town``), the minute it may leave it
    (``ready``) and the first night still to plan (``first_night``); a team missing from
    ``ready`` has no day left to plan. ``prefer`` gives a site of the previous plan its team
    number and plan day, which a stop keeps unless that costs more than
    :data:`STABILITY_MINUTES` of driving; ``keep_beds`` fixes the town of a (team, night) of a
    locked day.
    """

    start_town: dict[int, Town]
    ready: dict[int, int]
    first_night: dict[int, int]
    prefer: dict[str, tuple[int, int]]
    keep_beds: dict[tuple[int, int], Town]


def site_value(priority: float, night_check: bool = False) -> int:
    """Minutes of driving a site is worth: the most the plan will detour for it. A night check
    is worth :data:`NIGHT_CHECK_BONUS_MINUTES` more: it takes a whole evening (and a late start
    the next day), and what it is for happens only at night."""
    bonus = NIGHT_CHECK_BONUS_MINUTES if night_check else 0
    return int(DETOUR_BASE_MINUTES + DETOUR_MINUTES_PER_PRIORITY * float(priority) + bonus)


def break_minutes(drive_minutes: np.ndarray, rules) -> np.ndarray:
    """Rest stops on a leg of ``drive_minutes``: one ``break_minutes`` stop per full stretch of
    ``max_continuous_drive_minutes`` before the last (art. 62)."""
    stretches = np.ceil(np.asarray(drive_minutes, float) / rules.max_continuous_drive_minutes) - 1
    return (np.maximum(stretches, 0) * rules.break_minutes).astype(np.int64)


def drive_elapsed(drive_minutes: float, day_drive_minutes: int) -> float:
    """Clock time to drive ``drive_minutes`` when each day allows ``day_drive_minutes`` of driving
    (every full day of driving adds a night's stop)."""
    if drive_minutes <= day_drive_minutes:
        return drive_minutes
    nights = math.ceil(drive_minutes / day_drive_minutes) - 1
    return drive_minutes + nights * (1440 - day_drive_minutes)


def range_reason(
    scenario: Scenario, out_minutes: float, back_minutes: float, service: int, night_check: bool
) -> str | None:
    """Why a team with this drive time to and from a site cannot visit it in the horizon (an
    optimistic bound: ``None`` does not promise a fit)."""
    rules = scenario.rules
    day_drive = rules.max_drive_minutes_per_day
    windows = scenario.service_windows(service, night_check)
    if not windows:
        return f"a {service} min inspection does not fit in the {'night' if night_check else 'work'} window"
    arrive = rules.depart_after + drive_elapsed(out_minutes, day_drive)
    if arrive > windows[-1][1]:
        return (
            f"outside every team's range: the nearest able team needs {out_minutes / 60:.1f} h of driving "
            f"to get there, too far to arrive by {scenario.minute_to_datetime(windows[-1][1]):%a %H:%M} "
            f"with {scenario.days} day(s) and at most {day_drive / 60:g} h of driving a day"
        )
    if scenario.return_to_base:
        start = max(arrive, next(lo for lo, hi in windows if hi >= arrive))
        home = start + service + drive_elapsed(back_minutes, day_drive)
        latest = (scenario.days - 1) * 1440 + rules.lodging_by
        if home > latest:
            return (
                f"outside every team's range: {out_minutes / 60:.1f} h out and {back_minutes / 60:.1f} h back "
                f"do not fit in {scenario.days} day(s) with the return to base"
            )
    return None


def _points(candidates: Candidates, towns: tuple[Town, ...]) -> pd.DataFrame:
    town_rows = [{"id": f"town:{t.id}", "lon": t.lon, "lat": t.lat} for t in towns]
    return pd.concat(
        [pd.DataFrame(town_rows), candidates.sites[["id", "lon", "lat"]].reset_index(drop=True)],
        ignore_index=True,
    )


class _Builder:
    """Builds a :class:`PatrolModel` for the teams and sites over a travel matrix."""

    def __init__(
        self,
        scenario: Scenario,
        sites: pd.DataFrame,
        matrix: TravelMatrix,
        towns: tuple[Town, ...],
        due: dict[str, int] | None = None,
    ):
        self.scenario = scenario
        #: Site -> plan minute its visit should end by (tasks due inside the week).
        self.due = due or {}
        self.sites = sites
        self.matrix = matrix
        self.towns = towns
        self.town_by_id = {t.id: t for t in towns}
        self.point_of = {pid: i for i, pid in enumerate(matrix.ids)}
        self.minutes = np.ceil(np.where(np.isfinite(matrix.minutes), matrix.minutes, np.inf))

    def town_point(self, town: Town) -> int:
        return self.point_of[f"town:{town.id}"]

    def lodging_towns(self, team: Team, night: int, site_ids: list[str]) -> list[Town]:
        """The base plus the towns nearest to the sites this team may visit, among those it can
        reach by ``night`` and get home from in time."""
        scenario, day_drive = self.scenario, self.scenario.rules.max_drive_minutes_per_day
        base = self.town_point(team.base)
        days_left = scenario.days - 1 - night
        usable = [
            town
            for town in self.towns
            if town.id != team.base.id
            and np.isfinite(self.minutes[base, self.town_point(town)])
            and self.minutes[base, self.town_point(town)] <= (night + 1) * day_drive
            and not (
                scenario.return_to_base and self.minutes[self.town_point(town), base] > days_left * day_drive
            )
        ]
        if not usable or not site_ids:
            return [team.base]
        town_points = np.array([self.town_point(t) for t in usable])
        site_points = np.array([self.point_of[s] for s in site_ids])
        to_towns = self.minutes[np.ix_(site_points, town_points)]
        nearest = np.argsort(to_towns, axis=1, kind="stable")[:, :LODGING_PER_SITE]
        priority = self.sites.loc[site_ids, "priority"].to_numpy(float) + 1.0
        score = np.zeros(len(usable))
        for rank in range(nearest.shape[1]):
            reachable = np.isfinite(to_towns[np.arange(len(site_ids)), nearest[:, rank]])
            np.add.at(score, nearest[reachable, rank], priority[reachable])
        order = [i for i in np.argsort(-score, kind="stable") if score[i] > 0][:LODGING_PER_NIGHT]
        return [team.base, *[usable[i] for i in order]]

    def build(self, site_teams: dict[str, tuple[int, ...]], resume: Resume | None = None) -> PatrolModel:
        """Model for every team of the scenario and the sites of ``site_teams`` (site id ->
        scenario team numbers allowed to visit it); with ``resume``, the rest of a week already
        under way."""
        scenario, rules = self.scenario, self.scenario.rules
        team_indices = tuple(k for k in range(len(scenario.teams)) if resume is None or k in resume.ready)
        nights = scenario.night_count()
        night_windows = scenario.night_windows()
        info: list[NodeInfo] = []
        nodes: list[Node] = []
        vehicles: list[Vehicle] = []
        last_evening = (scenario.days - 1) * 1440 + rules.lodging_by
        horizon = (scenario.days + 1) * 1440
        for k in team_indices:
            team = scenario.teams[k]
            start = len(nodes)
            nodes.append(Node(f"{team.id} start"))
            start_town = team.base if resume is None else resume.start_town[k]
            info.append(NodeInfo("start", self.town_point(start_town), team=k))
            end = len(nodes)
            if scenario.return_to_base:
                first_work = (scenario.days - 1) * 1440 + scenario.work_hours[0]
                nodes.append(Node(f"{team.id} end", windows=((first_work, last_evening),)))
                info.append(NodeInfo("end", self.town_point(team.base), team=k))
            else:
                nodes.append(Node(f"{team.id} end"))
                info.append(NodeInfo("end", -1, team=k))
            blackouts = tuple(
                (scenario.day_index(u.first) * 1440, (scenario.day_index(u.last) + 1) * 1440 - 1)
                for u in scenario.overrides.unavailable
                if u.team == team.id
            )
            ready = rules.depart_after if resume is None else resume.ready[k]
            vehicles.append(Vehicle(start=start, end=end, shift=(ready, horizon), blackouts=blackouts))
        vehicle_of = {k: v for v, k in enumerate(team_indices)}
        site_ids = list(site_teams)
        has_night_sites = bool(night_windows) and bool(self.sites.loc[site_ids, "night_check"].any())
        groups: list[ChooseOne] = []
        for k in team_indices:
            team = scenario.teams[k]
            own_sites = [s for s in site_ids if k in site_teams[s]]
            for night in range(0 if resume is None else resume.first_night[k], nights):
                members: list[int] = []
                evening = (night * 1440 + scenario.work_hours[1] + 1, night * 1440 + rules.lodging_by)
                late = (
                    (night_windows[night][0], night_windows[night][1] + rules.night_return_minutes)
                    if night_windows
                    else None
                )
                release = (night + 1) * 1440 + rules.depart_after
                kept = None if resume is None else resume.keep_beds.get((k, night))
                towns = [kept] if kept is not None else self.lodging_towns(team, night, own_sites)
                if resume is not None and kept is None and resume.start_town[k] not in towns:
                    towns.append(resume.start_town[k])  # staying where it slept is always possible
                for town in towns:
                    # The late copy first: where both fit equally, the night stays open for a check.
                    variants = ([(True, late)] if has_night_sites else []) + [(False, evening)]
                    for is_late, window in variants:
                        members.append(len(nodes))
                        nodes.append(
                            Node(
                                f"{team.id} night {night} {town.name}{' late' if is_late else ''}",
                                service=rules.min_rest_minutes,
                                windows=(window,),
                                vehicles=(vehicle_of[k],),
                                rest=True,
                                release=release,
                            )
                        )
                        info.append(
                            NodeInfo("lodging", self.town_point(town), team=k, night=night, late=is_late)
                        )
                groups.append(ChooseOne(tuple(members)))
        pinned_day = {p.site: scenario.day_index(p.day) for p in scenario.overrides.pins if p.day is not None}
        for site_id in site_ids:
            row = self.sites.loc[site_id]
            service = int(row["service_minutes"])
            windows = self.scenario.service_windows(service, bool(row["night_check"]))
            if site_id in pinned_day:
                # Pinned to a day: that day's window, or that night's for a night check.
                day = pinned_day[site_id]
                windows = [(lo, hi) for lo, hi in windows if day * 1440 <= lo < (day + 1) * 1440]
            if site_id in self.due:
                # A task's deadline: only starts that end by it, unless no window allows that.
                latest = self.due[site_id] - service
                by_due = [(lo, min(hi, latest)) for lo, hi in windows if lo <= latest]
                windows = by_due or windows
            penalty = None if row["mandatory"] else site_value(row["priority"], bool(row["night_check"]))
            prefer, move_cost = None, 0
            if resume is not None and site_id in resume.prefer:
                # A stop of the previous plan stays on its team and day unless that costs more
                # than STABILITY_MINUTES; dropping it costs as much on top of its value.
                team_number, day = resume.prefer[site_id]
                if team_number in vehicle_of:
                    prefer = (vehicle_of[team_number], day * 1440 + 360, (day + 1) * 1440 + 359)
                    move_cost = STABILITY_MINUTES
                    penalty = None if penalty is None else penalty + STABILITY_MINUTES
            nodes.append(
                Node(
                    site_id,
                    # A stop lasts at least a rest stop, so each leg starts rested.
                    service=max(service, rules.break_minutes),
                    windows=tuple(windows),
                    penalty=penalty,
                    vehicles=tuple(vehicle_of[k] for k in site_teams[site_id] if k in vehicle_of),
                    prefer=prefer,
                    move_cost=move_cost,
                )
            )
            info.append(NodeInfo("site", self.point_of[site_id], site=site_id))
        drive = self._node_matrix(info, horizon)
        travel = drive + break_minutes(drive, rules)
        cost = drive.copy()
        away = np.array(
            [
                i.kind == "lodging" and self.matrix.ids[i.point] != f"town:{scenario.teams[i.team].base.id}"
                for i in info
            ],
            dtype=bool,
        )
        cost[:, away] += rules.night_away_cost_minutes
        problem = RoutingProblem(
            nodes=tuple(nodes),
            vehicles=tuple(vehicles),
            travel=travel,
            cost=cost,
            horizon=horizon,
            groups=tuple(groups),
            drive=drive,
            duty=DutyLimits(
                max_duty=rules.max_duty_minutes_per_day,
                max_drive=rules.max_drive_minutes_per_day,
                workload_scale=scenario.days * rules.max_duty_minutes_per_day * WORKLOAD_SCALE_FACTOR,
            ),
        )
        return PatrolModel(problem, tuple(info), team_indices)

    def _node_matrix(self, info: list[NodeInfo], horizon: int) -> np.ndarray:
        """Integer drive minutes between nodes; arcs no duty could drive, and the ones the day
        structure rules out, cost more than the horizon."""
        blocked = horizon + 1
        points = np.array([i.point for i in info], dtype=np.int64)
        real = points >= 0
        drive = np.full((len(info), len(info)), blocked, dtype=np.int64)
        sub = self.minutes[np.ix_(points[real], points[real])]
        drive[np.ix_(real, real)] = np.where(np.isfinite(sub), sub, blocked).astype(np.int64)
        drive[drive > self.scenario.rules.max_drive_minutes_per_day] = blocked
        drive[~self._arc_allowed(info)] = blocked
        for j, node in enumerate(info):
            if node.kind == "end" and node.point < 0:
                # Without return the route ends in the last night's bed; the empty route (start
                # straight to end) stays open so that the search can start from an empty plan.
                final = [
                    i
                    for i, other in enumerate(info)
                    if other.team == node.team
                    and (
                        other.kind == "start"
                        or (other.kind == "lodging" and other.night == self.scenario.days - 1)
                    )
                ]
                drive[final, j] = 0
        return drive

    def _arc_allowed(self, info: list[NodeInfo]) -> np.ndarray:
        """Arcs the day structure allows. A night check is followed only by another night check
        or a late bed. A late bed is reached after a night check, by staying where the team is,
        or from an ordinary site close enough to reach it by ``lodging_by`` after the latest
        possible inspection end (then it is an ordinary night that leaves room for a night
        check before it)."""
        sc, rules = self.scenario, self.scenario.rules
        kind = []
        for node in info:
            if node.kind == "site":
                kind.append("night" if bool(self.sites.loc[node.site, "night_check"]) else "work")
            elif node.kind == "lodging":
                kind.append("late" if node.late else "bed")
            else:
                kind.append(node.kind)
        kinds = np.array(kind)
        points = np.array([i.point for i in info])
        allowed = np.ones((len(info), len(info)), dtype=bool)
        night_rows = kinds == "night"
        allowed[np.ix_(night_rows, ~np.isin(kinds, ["night", "late"]))] = False
        late = np.flatnonzero(kinds == "late")
        if len(late):
            staying = points[:, None] == points[None, late]
            close = self.minutes[np.ix_(np.maximum(points, 0), points[late])] <= (
                rules.lodging_by - sc.work_hours[1] - rules.service_overrun_minutes
            )
            allowed[:, late] = np.where(
                night_rows[:, None], True, staying | ((kinds == "work")[:, None] & close)
            )
        return allowed


def _prefilter(
    scenario: Scenario, candidates: Candidates, matrix: TravelMatrix, done: set[str]
) -> tuple[dict[str, tuple[int, ...]], list[tuple[str, str]]]:
    """Teams able to visit each site, and the sites no team can visit with the reason (``done``:
    inspected already)."""
    point_of = {pid: i for i, pid in enumerate(matrix.ids)}
    allowed: dict[str, tuple[int, ...]] = {}
    dropped: list[tuple[str, str]] = []
    drawn = dict(scenario.sites.drawn_officers)
    officers_known = any(team.officers for team in scenario.teams)
    team_number = {team.id: k for k, team in enumerate(scenario.teams)}
    forbidden = {(f.site, team_number[f.team]) for f in scenario.overrides.forbid}
    pinned = {p.site: team_number[p.team] for p in scenario.overrides.pins if p.team is not None}
    for site_id, row in candidates.sites.iterrows():
        p = point_of[site_id]
        if site_id in done:
            dropped.append((site_id, "inspected before this re-plan (recorded visit)"))
            continue
        if row["night_check"] and not scenario.night_windows():
            why = "no night" if scenario.night_hours is None else "no night inside the horizon"
            dropped.append((site_id, f"night-check site, but the scenario has {why} (night_hours / days)"))
            continue
        if not matrix.reachable[p]:
            dropped.append((site_id, "unreachable by road: no road of the network reaches it"))
            continue
        able = [k for k, team in enumerate(scenario.teams) if row["skills"] <= team.skills]
        if officers_known and site_id in drawn:
            able = [k for k in able if set(drawn[site_id]) <= set(scenario.teams[k].officers)]
            if not able:
                dropped.append(
                    (
                        site_id,
                        f"drawn with officers {', '.join(drawn[site_id])}, and no able team holds them all "
                        "(list them under teams[].officers)",
                    )
                )
                continue
        if site_id in pinned:
            team = scenario.teams[pinned[site_id]].id
            if pinned[site_id] not in able:
                dropped.append(
                    (site_id, f"pinned to team {team}, which cannot visit it (skills or drawn officers)")
                )
                continue
            able = [pinned[site_id]]
        if any((site_id, k) in forbidden for k in able):
            able = [k for k in able if (site_id, k) not in forbidden]
            if not able:
                dropped.append((site_id, "forbidden for every team able to visit it (forbid)"))
                continue
        bases = {k: point_of[f"town:{scenario.teams[k].base.id}"] for k in able}
        connected = [
            k
            for k in able
            if np.isfinite(matrix.minutes[bases[k], p]) and np.isfinite(matrix.minutes[p, bases[k]])
        ]
        if not connected:
            dropped.append((site_id, "unreachable by road from every able team's base"))
            continue
        reasons = {
            k: range_reason(
                scenario,
                float(matrix.minutes[bases[k], p]),
                float(matrix.minutes[p, bases[k]]),
                int(row["service_minutes"]),
                bool(row["night_check"]),
            )
            for k in connected
        }
        in_range = tuple(k for k in connected if reasons[k] is None)
        if in_range:
            allowed[site_id] = in_range
        else:
            nearest = min(connected, key=lambda k: matrix.minutes[bases[k], p])
            dropped.append((site_id, reasons[nearest] or "outside every team's range"))
    return allowed, dropped


@dataclass(frozen=True)
class Prepared:
    """A scenario ready to model: its candidates, travel matrix, model builder, the teams able
    to visit each site, the sites dropped before routing and the closures applied."""

    candidates: Candidates
    matrix: TravelMatrix
    builder: _Builder
    allowed: dict[str, tuple[int, ...]]
    pre_dropped: list[tuple[str, str]]
    closures: tuple[dict, ...]
    #: The scenario's tasks this plan serves, and why the others are left out (task id -> reason).
    tasks: tuple[SiteTask, ...] = ()
    tasks_skipped: dict[str, str] = field(default_factory=dict)


def _closures_by_day(scenario: Scenario, closures: Sequence[Closure]) -> tuple[dict, ...]:
    """The closures in force on some plan day, with those days (for the plan file)."""
    out = []
    for closure in closures:
        dates = [day.isoformat() for day in scenario.day_dates() if closure.in_force(day)]
        if dates:
            out.append(
                {
                    "id": closure.id,
                    "name": closure.name,
                    "reason": closure.reason,
                    "period": closure.period,
                    "dates": dates,
                }
            )
    return tuple(out)


def prepare(
    scenario: Scenario,
    targets: gpd.GeoDataFrame | None,
    network: RoadNetwork | None | str,
    closures: Sequence[Closure],
    say: Progress,
    extra_towns: Sequence[Town] = (),
    done: Iterable[str] = (),
) -> Prepared:
    """Candidates, travel matrix (with the plan's closures) and pre-routing drops of a scenario,
    with the tasks it serves (their sites mandatory, night checks and deadlines applied);
    ``extra_towns`` join the lodging towns (where a re-planned team slept), ``done`` sites are
    not routed (inspected before a re-plan)."""
    started = time.perf_counter()
    targets = _registry(targets)
    scenario = task_scenario(scenario, targets)
    tasks = planned_tasks(scenario, targets)
    candidates = select_sites(scenario, targets)
    night = night_task_sites(tasks)
    if night:
        sites = candidates.sites.assign(
            night_check=candidates.sites["night_check"] | candidates.sites.index.isin(night)
        )
        candidates = replace(candidates, sites=sites)
    if scenario.tasks:
        say(f"{len(tasks)} of {len(scenario.tasks)} open task(s) to serve in this plan")
    say(f"{len(candidates.all_ids)} scenario sites, {len(candidates.sites)} candidates for routing")
    towns = tuple({t.id: t for t in (*lodging_candidates(scenario), *extra_towns)}.values())
    applied: tuple[dict, ...] = ()
    if scenario.travel == "great_circle" or network is None:
        network = None
    else:
        if not isinstance(network, RoadNetwork):
            network = load_road_network(None if network == "default" else network)
        every = (*load_closures(), *closures)
        week = {c.id: c for day in scenario.day_dates() for c in in_force(every, day)}
        network = network_with_closures(network, tuple(week.values()))
        applied = _closures_by_day(scenario, every)
        if applied:
            say(f"road closures in force: {', '.join(c['name'] for c in applied)}")
    matrix = travel_matrix(_points(candidates, towns), network)
    say(
        f"travel matrix ({matrix.model}) for {len(matrix.ids)} points in {time.perf_counter() - started:.1f} s"
    )
    allowed, pre_dropped = _prefilter(scenario, candidates, matrix, set(done))
    builder = _Builder(scenario, candidates.sites, matrix, towns, deadlines(scenario, tasks))
    skipped = why_not_planned(scenario, targets)
    return Prepared(candidates, matrix, builder, allowed, pre_dropped, applied, tasks, skipped)


def week_model(
    scenario: Scenario,
    *,
    targets: gpd.GeoDataFrame | None = None,
    network: RoadNetwork | None | str = "default",
    closures: Sequence[Closure] = (),
) -> PatrolModel:
    """The routing problem :func:`plan_week` solves for ``scenario``, for inspection and tests."""
    prepared = prepare(scenario, targets, network, closures, lambda message: None)
    return prepared.builder.build(prepared.allowed)


def plan_week(
    scenario: Scenario,
    *,
    targets: gpd.GeoDataFrame | None = None,
    network: RoadNetwork | None | str = "default",
    closures: Sequence[Closure] = (),
    seconds: float | None = None,
    effort: int | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Plan ``scenario`` over the registry ``targets`` (default: the shipped registry).

    ``network`` is passed to :func:`planning.travel.travel_matrix` (``None`` = great-circle model;
    the scenario's ``travel: great_circle`` also selects it). ``closures`` are road closures
    beyond the shipped layer (e.g. a chief's sandstorm closure) the plan must avoid. The search
    runs ``effort`` (default: the scenario's ``solver.effort``) thousand iterations, which gives
    the same plan on any machine, unless ``seconds`` (or the scenario's ``solver.seconds``) asks
    for a time budget instead. Raises :class:`planning.scenario.ScenarioError` for a scenario
    that does not match the registry (unknown site ids or regions).
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    targets = _registry(targets)
    scenario = task_scenario(scenario, targets)
    prepared = prepare(scenario, targets, network, closures, say)
    return search_week(scenario, prepared, started, seconds=seconds, effort=effort, say=say)


def _registry(targets: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """``targets``, or the shipped registry."""
    if targets is not None:
        return targets
    from layers.datasets import load_targets

    return load_targets()


def search_week(
    scenario: Scenario,
    prepared: Prepared,
    started: float,
    *,
    seconds: float | None,
    effort: int | None,
    say: Progress,
    resume: Resume | None = None,
    before: dict[int, tuple[Stop, ...]] | None = None,
    replan: dict | None = None,
) -> Plan:
    """Build the model of a prepared scenario (the rest of a week under way with ``resume``),
    search it with the budget :func:`plan_week` describes and return the plan."""
    model = prepared.builder.build(prepared.allowed, resume)
    budget_seconds = seconds if seconds is not None else (scenario.solver_seconds if effort is None else None)
    budget_effort = None if budget_seconds is not None else (effort or scenario.solver_effort)
    say(
        f"model: {len(model.problem.nodes)} nodes, {len(model.problem.groups)} nights; searching "
        + (f"{budget_seconds:g} s" if budget_effort is None else f"effort {budget_effort}")
    )
    searched = time.perf_counter()
    empty = [[] for _ in model.problem.vehicles]
    if len(model.problem.depots) == len(model.problem.nodes):
        # Nothing left to place (a re-plan late in a week whose sites are all done or kept).
        routes, stats = empty, {"iterations": 0, "objective": 0, "searches": []}
    else:
        routes, stats = ruin_recreate.improve_best_of(
            model.problem,
            empty,
            [scenario.solver_seed + k for k in range(SEARCHES)],
            wall_seconds=budget_seconds,
            iterations=None if budget_effort is None else budget_effort * ITERATIONS_PER_EFFORT,
            progress=lambda elapsed, objective: say(f"search {elapsed:6.1f} s  objective {objective}"),
        )
    say(f"search: {stats['iterations']} iterations in {time.perf_counter() - searched:.1f} s")
    solver = {
        "seed": scenario.solver_seed,
        "effort": budget_effort,
        "seconds": budget_seconds,
        "iterations": stats["iterations"],
        "searches": stats["searches"],
        "search": f"ruin and recreate (SISR) from an empty week, best of {SEARCHES} seeds",
    }
    return _to_plan(
        scenario, prepared, model, routes, stats, solver, time.perf_counter() - started, before, replan
    )


def _town(builder: _Builder, node: NodeInfo) -> Town:
    return builder.town_by_id[builder.matrix.ids[node.point].removeprefix("town:")]


def _stop_type(node: NodeInfo, scenario: Scenario, builder: _Builder) -> tuple[str, str, str]:
    """(type, id, name) of a routing node in the plan file."""
    if node.kind == "site":
        row = builder.sites.loc[node.site]
        return "site", node.site, str(row["name"])
    town = _town(builder, node)
    is_base = node.team is not None and scenario.teams[node.team].base.id == town.id
    label = f"{town.name} {town.name_zh}".strip()
    return ("base" if is_base or node.kind in ("start", "end") else "lodging"), town.id, label


def node_lonlat(candidates: Candidates, builder: _Builder, node: NodeInfo) -> tuple[float, float]:
    """Coordinates of a routing node (site access point or town)."""
    if node.kind == "site":
        row = candidates.sites.loc[node.site]
        return float(row["lon"]), float(row["lat"])
    town = _town(builder, node)
    return town.lon, town.lat


def _team_route(
    scenario: Scenario,
    prepared: Prepared,
    model: PatrolModel,
    k: int,
    schedule: list[tuple[int, int, int, int]],
    before: tuple[Stop, ...] = (),
) -> TeamRoute:
    """One team's stops (with times) and day summaries from its scheduled route; ``before`` are
    the stops already behind it when re-planning (the route starts where the last one is)."""
    builder, candidates, matrix = prepared.builder, prepared.candidates, prepared.matrix
    problem = model.problem
    stops: list[Stop] = list(before[:-1])
    prev = None
    for node_index, arrive, start, depart in schedule:
        node = model.info[node_index]
        if node.point < 0:
            continue  # the virtual end of a route without return
        if prev is None and before:
            # The re-planned route starts at the team's last bed: it now leaves it then.
            stops.append(replace(before[-1], depart=scenario.minute_to_datetime(depart).isoformat()))
            prev = node_index
            continue
        kind, stop_id, name = _stop_type(node, scenario, builder)
        row = candidates.sites.loc[node.site] if node.kind == "site" else None
        lon, lat = node_lonlat(candidates, builder, node)
        drive = 0 if prev is None else int(problem.drive[prev, node_index])
        stops.append(
            Stop(
                seq=len(stops),
                type=kind,
                id=stop_id,
                name=name,
                lon=round(lon, 6),
                lat=round(lat, 6),
                arrive=scenario.minute_to_datetime(arrive).isoformat(),
                start=scenario.minute_to_datetime(start).isoformat(),
                depart=scenario.minute_to_datetime(depart).isoformat(),
                service_minutes=int(row["service_minutes"]) if row is not None else 0,
                leg_km=0.0
                if prev is None
                else round(float(matrix.km[model.info[prev].point, node.point]), 2),
                leg_minutes=drive,
                leg_break_minutes=0 if prev is None else int(problem.travel[prev, node_index]) - drive,
                night=node.night,
                night_check=bool(row["night_check"]) if row is not None else False,
                mandatory=bool(row["mandatory"]) if row is not None else False,
                priority=round(float(row["priority"]), 1) if row is not None else None,
                tasks=tuple(t.as_mapping() for t in prepared.tasks if t.site == node.site),
            )
        )
        prev = node_index
    return _route_of(scenario, scenario.teams[k], stops)


def _route_of(scenario: Scenario, team: Team, stops: Sequence[Stop]) -> TeamRoute:
    """A team's route from its stops, with totals and day summaries."""
    stops = [replace(stop, seq=i) for i, stop in enumerate(stops)]
    return TeamRoute(
        team_id=team.id,
        base=team.base.name,
        stops=tuple(stops),
        drive_km=round(sum(s.leg_km for s in stops), 1),
        drive_minutes=sum(s.leg_minutes for s in stops),
        service_minutes=sum(s.service_minutes for s in stops),
        days=_days(scenario, stops),
        officers=team.officers,
    )


def _days(scenario: Scenario, stops: list[Stop]) -> tuple[Day, ...]:
    """Per plan day: leaving the night's bed (or the base) to reaching the next one."""
    beds = [0] + [i for i, s in enumerate(stops) if s.night is not None]
    if scenario.return_to_base:
        beds.append(len(stops) - 1)
    days = []
    for d, (a, b) in enumerate(zip(beds, beds[1:], strict=False)):
        leave, arrive = stops[a].depart, stops[b].arrive
        legs = stops[a + 1 : b + 1]
        duty = (dt.datetime.fromisoformat(arrive) - dt.datetime.fromisoformat(leave)).total_seconds() / 60
        days.append(
            Day(
                date=(scenario.start + dt.timedelta(days=d)).isoformat(),
                leave=leave,
                arrive_bed=arrive,
                bed=stops[b].name,
                bed_id=stops[b].id,
                drive_minutes=sum(s.leg_minutes for s in legs),
                duty_minutes=round(duty),
                km=round(sum(s.leg_km for s in legs), 1),
                sites=sum(1 for s in legs if s.type == "site"),
            )
        )
    return tuple(days)


def _to_plan(
    scenario: Scenario,
    prepared: Prepared,
    model: PatrolModel,
    routes: list[list[int]],
    stats: dict,
    solver: dict,
    elapsed: float,
    before: dict[int, tuple[Stop, ...]] | None = None,
    replan: dict | None = None,
) -> Plan:
    """Translate the search's routes into a :class:`Plan` with drop reasons and KPIs; ``before``
    (per team number) are the stops of a re-planned week already behind each team."""
    before = before or {}
    schedules = ruin_recreate.duty_schedules(model.problem, routes)
    routed = {k: v for v, k in enumerate(model.teams)}
    teams = [
        _team_route(scenario, prepared, model, k, schedules[routed[k]], before.get(k, ()))
        if k in routed
        else _route_of(scenario, team, before[k])
        for k, team in enumerate(scenario.teams)
    ]
    visited = {s.id for t in teams for s in t.stops if s.type == "site" and s.recorded != "not_inspected"}
    nights_missing = any(
        sum(model.info[n].kind == "lodging" for n in route)
        != len({i.night for i in model.info if i.kind == "lodging" and i.team == model.teams[v]})
        for v, route in enumerate(routes)
    )
    dropped = _dropped(scenario, prepared, model, routes, visited)
    unmet = tuple(d["id"] for d in dropped if d["mandatory"])
    status = "no_solution" if nights_missing else ("solved_mandatory_unmet" if unmet else "solved")
    warnings = []
    if scenario.sites.drawn_officers and not any(t.officers for t in scenario.teams):
        warnings.append(
            "drawn officers were not matched to teams: no team lists its officers (teams[].officers), "
            "so any able team may visit a drawn site"
        )
    if solver["effort"] is None:
        warnings.append("planned with a time budget: another run or machine may give a different plan")
    partial = [c["name"] for c in prepared.closures if len(c["dates"]) < scenario.days]
    if partial:
        warnings.append(f"closed for part of the week and avoided on every day: {', '.join(partial)}")
    plan = Plan(
        scenario=scenario.source,
        travel_model=prepared.matrix.model,
        status=status,
        objective=int(stats["objective"]),
        solve_seconds=round(elapsed, 2),
        teams=tuple(teams),
        dropped=tuple(dropped),
        mandatory_unmet=unmet,
        kpis=plan_kpis(tuple(teams), tuple(dropped), len(prepared.candidates.all_ids)),
        strategy="week",
        solver=solver,
        closures=prepared.closures,
        warnings=tuple(warnings),
        replan=replan or {},
    )
    if not scenario.tasks:
        return plan
    report = task_report(scenario, prepared.tasks_skipped, plan.to_dict())
    # A chief reads about the tasks this plan should serve and does not; the ones for other
    # regions or later weeks stay in the plan's task list with their note.
    late = [
        f"task {t['id']} ({t['reason']}): {t['note']}"
        for t in report
        if t["note"] and t["id"] not in prepared.tasks_skipped
    ]
    return replace(plan, tasks=tuple(report), warnings=(*plan.warnings, *late))


def _dropped(
    scenario: Scenario,
    prepared: Prepared,
    model: PatrolModel,
    routes: list[list[int]],
    visited: set[str],
) -> list[dict]:
    """Every scenario site not in a route, with a reason a person understands."""
    mandatory = set(scenario.sites.mandatory)
    reasons = dict(prepared.pre_dropped) | dict(prepared.candidates.dropped)
    problem = model.problem
    index_of = {info.site: i for i, info in enumerate(model.info) if info.kind == "site"}
    arcs = [
        (prev, nxt, v)
        for v, route in enumerate(routes)
        for prev, nxt in zip(
            [problem.vehicles[v].start, *route], [*route, problem.vehicles[v].end], strict=True
        )
    ]
    out = []
    for site_id in prepared.candidates.all_ids:
        if site_id in visited:
            continue
        reason = reasons.get(site_id)
        if reason is None:
            node = index_of[site_id]
            allowed = set(problem.nodes[node].vehicles or range(len(routes)))
            detours = [
                problem.cost[a, node] + problem.cost[node, b] - problem.cost[a, b]
                for a, b, v in arcs
                if v in allowed
            ]
            detour = min(detours) if detours else math.inf
            if site_id in mandatory:
                reason = (
                    "mandatory, but it does not fit in the teams' working time (driving, duty and work-window "
                    "limits) together with the other mandatory sites and the nights' stays"
                )
            elif detour > problem.horizon:
                reason = (
                    "too far from every planned route: no duty could drive there and on within the limits"
                )
            elif detour > (problem.nodes[node].penalty or 0):
                priority = float(prepared.candidates.sites.loc[site_id, "priority"])
                reason = (
                    f"not worth the detour: at least {detour / 60:.1f} h of extra driving, more than the "
                    f"{(problem.nodes[node].penalty or 0) / 60:.1f} h a site of priority {priority:g} is worth"
                )
            else:
                reason = (
                    "not fitted in the teams' working time: the days are full (driving, duty and "
                    "work-window limits)"
                )
        if site_id in mandatory:
            reason = f"cannot visit mandatory site: {reason}"
        out.append({"id": site_id, "reason": reason, "mandatory": site_id in mandatory})
    return out
