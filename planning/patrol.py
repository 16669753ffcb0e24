"""Weekly multi-day patrol plans: a scenario and the registry in, a checkable :class:`Plan` out.

The model (one OR-Tools vehicle per team over the whole horizon, built on :mod:`planning.core`):

* Time is minutes from local midnight of the first day. Ordinary sites may *start* service in
  the work window of any day, night-check sites only in the night window of a night inside the
  plan (several windows per node).
* Nights: for every team and night there is a group of lodging nodes (one per candidate town,
  the base among them, restricted to that team) of which exactly one is visited (a prohibitive
  penalty rather than a hard constraint, so a first solution always exists; the plan is marked
  failed if a night is ever missing). A bed opens after the day's last possible work start and
  closes at ``rules.lodging_by``; a second, *late* copy of each bed is reachable only straight
  from a night-check site and closes at the end of the night window +
  ``rules.night_return_minutes``. Because times only grow along a route, the beds cut the route
  into days: everything before bed n happens by the evening of day n, everything after it on
  day n+1 or later.
* Leaving a bed no earlier than ``rules.depart_after`` is kept by the windows and arc limits
  alone (see :meth:`_Builder._arc_limits`), not by a side constraint: OR-Tools does not check
  side constraints on slack in its local-search filters and its final schedule ignored them in
  our runs, and capped waiting (slack) made its first-solution heuristics time out on a few
  hundred nodes. Idle waiting during the day is therefore possible and reported as a KPI; in
  the plan, the wait before a bed is spent at the bed (the team drives there right after its
  last visit).
* Without ``return_to_base`` the last night is also a lodging group and the route ends there.
* Cost = driving minutes. Leaving out an optional site costs ``1000 + 100 x priority`` minutes
  (priority 0-100), so the solver fills the working time with sites and prefers high priority.
  Mandatory sites carry a prohibitive penalty instead of a hard constraint: an impossible
  mandatory site then yields a plan that says so rather than no plan at all.
* Lodging candidates per team and night are the towns the team can reach by that night (and get
  home from in time), ranked by the priority of sites within half a day's drive; the best
  :data:`LODGING_PER_NIGHT` plus the base are kept to bound the model size.

Before routing, sites that cannot be in any plan are dropped with the reason: not on the road
network, no team with the skill, outside every team's range in the horizon, a night check in a
plan with no night.

Two strategies: ``"week"`` solves one model for all teams; ``"assign"`` (the default) first gives
each site to the able team with the nearest base (by drive time) and then routes each team on its
own with an equal share of the budget. Each search is OR-Tools followed by the core's
ruin-and-recreate phase (:data:`RUIN_RECREATE_SHARE` of its budget). On the 400-site bench
(``bench/RESULTS.md``) assign-then-route visits about as many sites as the one-model week (188 vs
192) with 35 % less driving, in less time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from planning.candidates import Candidates, select_sites
from planning.core import ChooseOne, Node, RoutingProblem, RoutingSolution, SolveParams, Vehicle, Visit, solve
from planning.plan import Plan, Stop, TeamRoute, plan_kpis
from planning.scenario import Scenario, Team, Town, lodging_candidates, night_offset
from planning.travel import TravelMatrix, travel_matrix

#: Cost of leaving out an optional site: a base plus a priority-scaled part (minutes of driving).
DROP_PENALTY_BASE = 1000
DROP_PENALTY_PER_PRIORITY = 100
#: Dropping a mandatory site costs more than any feasible amount of driving.
MANDATORY_PENALTY = 10_000_000
#: Extra cost of an ordinary bed where its late copy could be used (keeps night checks insertable).
LATE_BED_COST = 30
#: Lodging towns kept per team and night (besides the base).
LODGING_PER_NIGHT = 8
STRATEGIES = ("week", "assign")
#: First-solution strategies tried in turn (share of the budget), keeping the best result. Starting
#: from an empty plan, local search places the nights first (beds have the lowest node indices)
#: and scales to hundreds of sites; cheapest insertion builds better small plans but needs many
#: seconds for its first solution on large ones. Neither alone found the optimum of every tiny
#: test instance; together they did.
PORTFOLIO = (("LOCAL_CHEAPEST_INSERTION", 1 / 3), ("ALL_UNPERFORMED", 2 / 3))
#: Share of each search's budget for the ruin-and-recreate phase (planning.ruin_recreate); 0 leaves
#: the search to OR-Tools alone. The VRPTW setting, measured against 0 on the patrol bench
#: (bench/RESULTS.md: 188 vs 158 sites visited), not tuned for patrols.
RUIN_RECREATE_SHARE = 0.8

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
    """A built routing model with the meaning of each node, ready for :func:`planning.core.solve`."""

    problem: RoutingProblem
    info: tuple[NodeInfo, ...]
    teams: tuple[int, ...]


def drive_elapsed(drive_minutes: float, day_drive_minutes: int) -> float:
    """Clock time to drive ``drive_minutes`` when each day allows ``day_drive_minutes`` of driving
    (every full day of driving adds a night's stop)."""
    if drive_minutes <= day_drive_minutes:
        return drive_minutes
    nights = math.ceil(drive_minutes / day_drive_minutes) - 1
    return drive_minutes + nights * (1440 - day_drive_minutes)


def _site_windows(scenario: Scenario, night_check: bool) -> list[tuple[int, int]]:
    return scenario.night_windows() if night_check else scenario.work_windows()


def range_reason(
    scenario: Scenario, out_minutes: float, back_minutes: float, service: int, night_check: bool
) -> str | None:
    """Why a team with this drive time to and from a site cannot visit it in the horizon (an
    optimistic bound: ``None`` does not promise a fit)."""
    rules = scenario.rules
    day_drive = rules.lodging_by - rules.depart_after
    windows = _site_windows(scenario, night_check)
    arrive = rules.depart_after + drive_elapsed(out_minutes, day_drive)
    if not windows or arrive > windows[-1][1]:
        last = windows[-1][1] if windows else 0
        return (
            f"outside every team's range: the nearest able team needs {out_minutes / 60:.1f} h of driving "
            f"to get there, too far to arrive by {scenario.minute_to_datetime(last):%a %H:%M} "
            f"with {scenario.days} day(s)"
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
    """Builds a :class:`PatrolModel` for some teams and sites over a shared travel matrix."""

    def __init__(
        self, scenario: Scenario, sites: pd.DataFrame, matrix: TravelMatrix, towns: tuple[Town, ...]
    ):
        self.scenario = scenario
        self.sites = sites
        self.matrix = matrix
        self.towns = towns
        self.point_of = {pid: i for i, pid in enumerate(matrix.ids)}
        self.minutes = np.ceil(np.where(np.isfinite(matrix.minutes), matrix.minutes, np.inf))

    def town_point(self, town: Town) -> int:
        return self.point_of[f"town:{town.id}"]

    def lodging_towns(self, team: Team, night: int, site_ids: list[str]) -> list[Town]:
        """The base plus the most useful towns this team can reach by ``night`` and leave in time."""
        rules, scenario = self.scenario.rules, self.scenario
        day_drive = rules.lodging_by - rules.depart_after
        base = self.town_point(team.base)
        site_points = [self.point_of[s] for s in site_ids]
        scored = []
        for town in self.towns:
            p = self.town_point(town)
            if town.id == team.base.id or not np.isfinite(self.minutes[base, p]):
                continue
            if self.minutes[base, p] > (night + 1) * day_drive:
                continue
            days_left = scenario.days - 1 - night
            if scenario.return_to_base and self.minutes[p, base] > days_left * day_drive:
                continue
            near = self.minutes[p, site_points] <= day_drive / 2 if site_points else np.zeros(0, bool)
            score = float(self.sites.loc[np.asarray(site_ids)[near], "priority"].sum()) if near.any() else 0.0
            if score > 0:
                scored.append((score, town))
        scored.sort(key=lambda item: -item[0])
        return [team.base, *[town for _, town in scored[:LODGING_PER_NIGHT]]]

    def build(self, team_indices: tuple[int, ...], site_teams: dict[str, tuple[int, ...]]) -> PatrolModel:
        """Model for ``team_indices`` (scenario team numbers) and the sites of ``site_teams``
        (site id -> scenario team numbers allowed to visit it)."""
        scenario, rules = self.scenario, self.scenario.rules
        vehicle_of = {k: v for v, k in enumerate(team_indices)}
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
            info.append(NodeInfo("start", self.town_point(team.base), team=k))
            end = len(nodes)
            if scenario.return_to_base:
                first_work = (scenario.days - 1) * 1440 + scenario.work_hours[0]
                nodes.append(Node(f"{team.id} end", windows=((first_work, last_evening),)))
                info.append(NodeInfo("end", self.town_point(team.base), team=k))
            else:
                nodes.append(Node(f"{team.id} end"))
                info.append(NodeInfo("end", -1, team=k))
            vehicles.append(Vehicle(start=start, end=end, shift=(rules.depart_after, horizon)))
        site_ids = list(site_teams)
        has_night_sites = bool(night_windows) and bool(self.sites.loc[site_ids, "night_check"].any())
        groups: list[ChooseOne] = []
        for k in team_indices:
            team = scenario.teams[k]
            own_sites = [s for s in site_ids if k in site_teams[s]]
            for night in range(nights):
                members: list[int] = []
                # A bed opens after the last possible work start of its day, so no site of that day
                # can follow it; a late bed opens with the night window.
                evening = (night * 1440 + scenario.work_hours[1] + 1, night * 1440 + rules.lodging_by)
                late = (
                    (night_windows[night][0], night_windows[night][1] + rules.night_return_minutes)
                    if night_windows
                    else None
                )
                for town in self.lodging_towns(team, night, own_sites):
                    variants = [(False, evening)] + ([(True, late)] if has_night_sites else [])
                    for is_late, window in variants:
                        members.append(len(nodes))
                        nodes.append(
                            Node(
                                f"{team.id} night {night} {town.name}{' late' if is_late else ''}",
                                windows=(window,),
                                vehicles=(vehicle_of[k],),
                            )
                        )
                        info.append(
                            NodeInfo("lodging", self.town_point(town), team=k, night=night, late=is_late)
                        )
                groups.append(ChooseOne(tuple(members), penalty=MANDATORY_PENALTY))
        # Sites after the beds: OR-Tools local search tries to activate nodes in index order,
        # and with beds first it settles the nights before filling the days.
        for site_id in site_ids:
            row = self.sites.loc[site_id]
            allowed = tuple(vehicle_of[k] for k in site_teams[site_id] if k in vehicle_of)
            penalty = (
                MANDATORY_PENALTY
                if row["mandatory"]
                else int(DROP_PENALTY_BASE + DROP_PENALTY_PER_PRIORITY * float(row["priority"]))
            )
            nodes.append(
                Node(
                    site_id,
                    service=int(row["service_minutes"]),
                    windows=tuple(_site_windows(scenario, bool(row["night_check"]))),
                    penalty=penalty,
                    vehicles=allowed,
                )
            )
            info.append(NodeInfo("site", self.point_of[site_id], site=site_id))
        travel = self._node_matrix(info, horizon)
        cost = travel.copy()
        if has_night_sites:
            # Where a day's last site may go to either copy of a bed, the late one is cheaper:
            # local search then keeps late beds, and a night check can be slotted in before one
            # in a single move (switching the bed and inserting the check is two moves, the first
            # of them not improving, which local search never makes).
            work = np.array(
                [i.kind == "site" and not bool(self.sites.loc[i.site, "night_check"]) for i in info]
            )
            normal = np.array([i.kind == "lodging" and not i.late for i in info])
            late = np.array([i.late for i in info])
            both = np.ix_(work, normal)
            cost[both] += (
                LATE_BED_COST
                * (travel[np.ix_(work, late)].min(axis=1) <= horizon)[:, None]
                * (
                    travel[both]
                    <= rules.lodging_by - scenario.work_hours[1] - _service(info, self.sites)[work][:, None]
                )
            )
        problem = RoutingProblem(
            nodes=tuple(nodes),
            vehicles=tuple(vehicles),
            travel=travel,
            cost=cost,
            horizon=horizon,
            groups=tuple(groups),
        )
        return PatrolModel(problem, tuple(info), team_indices)

    def _node_matrix(self, info: list[NodeInfo], horizon: int) -> np.ndarray:
        """Integer drive minutes between nodes, with the arcs that would let a team drive or
        idle through a night blocked (they cost more than the horizon)."""
        blocked = horizon + 1
        points = np.array([i.point for i in info])
        real = points >= 0
        travel = np.full((len(info), len(info)), blocked, dtype=np.int64)
        sub = self.minutes[np.ix_(points[real], points[real])]
        travel[np.ix_(real, real)] = np.where(np.isfinite(sub), sub, blocked).astype(np.int64)
        limit = self._arc_limits(info)
        travel[travel > limit] = blocked
        for j, node in enumerate(info):
            if node.kind == "end" and node.point < 0:
                # Without return the route ends in the last night's bed; the empty route (start
                # straight to end) stays open so that search can start from an empty plan.
                final = [
                    i
                    for i, other in enumerate(info)
                    if other.team == node.team
                    and (
                        other.kind == "start"
                        or (other.kind == "lodging" and other.night == self.scenario.days - 1)
                    )
                ]
                travel[final, j] = 0
        return travel

    def _arc_limits(self, info: list[NodeInfo]) -> np.ndarray:
        """Longest drive allowed on each arc (shorter arcs are kept, longer ones blocked).

        From a site, an arc must be drivable within the same day (or the same night check): the
        next node's window closes soon enough. A night check is followed only by another night
        check or a late bed. An arc leaving a bed is at most the morning's drive (work start -
        morning departure): every node after a bed opens no earlier than the next work start,
        so that drive cannot begin before the morning departure, and a bed never leads to a
        night check (whose window might be the same night).
        """
        sc, rules = self.scenario, self.scenario.rules
        ws, we = sc.work_hours
        lb = rules.lodging_by
        ns, length = night_offset(sc.night_hours, sc.work_hours) if sc.night_hours else (ws, 0)
        ne = ns + length
        kind = []
        for node in info:
            if node.kind == "site":
                kind.append("night" if bool(self.sites.loc[node.site, "night_check"]) else "work")
            elif node.kind == "lodging":
                kind.append("late" if node.late else "bed")
            else:
                kind.append(node.kind)
        # (from, to) -> same-day limit before the origin's service time; unlisted pairs are blocked.
        same_day = {
            ("work", "work"): we - ws,
            ("work", "bed"): lb - ws,
            ("work", "end"): lb - ws,
            ("work", "night"): ne - ws,
            ("night", "night"): ne - ns,
            ("night", "late"): ne + rules.night_return_minutes - ns,
            # Lets local search first switch a team's bed to its late copy and then slot a night
            # check in before it; a drive this short still reaches the bed by lodging_by when the
            # team leaves right after the visit (which is how the plan reports it).
            ("work", "late"): lb - we,
        }
        morning = ws - rules.depart_after
        free = (sc.days + 1) * 1440
        service = np.array(
            [self.sites.loc[i.site, "service_minutes"] if i.kind == "site" else 0 for i in info]
        )
        kinds = np.array(kind)
        limit = np.full((len(info), len(info)), -1, dtype=np.int64)
        for a in set(kind):
            rows = kinds == a
            for b in set(kind):
                if a == "start" and b != "late":
                    value = np.full(rows.sum(), free)
                elif a in ("bed", "late") and b not in ("late", "night"):
                    value = np.full(rows.sum(), morning)
                elif (a, b) in same_day:
                    value = same_day[(a, b)] - service[rows]
                else:
                    continue
                limit[np.ix_(rows, kinds == b)] = value[:, None]
        return limit


def _service(info: list[NodeInfo], sites: pd.DataFrame) -> np.ndarray:
    """Service minutes per routing node (0 for bases and beds)."""
    return np.array([int(sites.loc[i.site, "service_minutes"]) if i.kind == "site" else 0 for i in info])


def _prefilter(
    scenario: Scenario, candidates: Candidates, matrix: TravelMatrix
) -> tuple[dict[str, tuple[int, ...]], list[tuple[str, str]]]:
    """Teams able to visit each site, and the sites no team can visit with the reason."""
    point_of = {pid: i for i, pid in enumerate(matrix.ids)}
    allowed: dict[str, tuple[int, ...]] = {}
    dropped: list[tuple[str, str]] = []
    for site_id, row in candidates.sites.iterrows():
        p = point_of[site_id]
        if row["night_check"] and not scenario.night_windows():
            why = "no night" if scenario.night_hours is None else "no night inside the horizon"
            dropped.append((site_id, f"night-check site, but the scenario has {why} (night_hours / days)"))
            continue
        if not matrix.reachable[p]:
            dropped.append((site_id, "unreachable by road: no road of the network reaches it"))
            continue
        able = [k for k, team in enumerate(scenario.teams) if row["skills"] <= team.skills]
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


def _assign(
    matrix: TravelMatrix, scenario: Scenario, allowed: dict[str, tuple[int, ...]]
) -> dict[int, list[str]]:
    """Each site to the able team with the nearest base (assign-then-route strategy).

    A capacity-balanced variant (fill the nearest team up to 1.5 x its working time, then the
    next) was measured worse on the Urumqi scenario and the 400-site bench: the sites it moves
    are far from their new team's base.
    """
    point_of = {pid: i for i, pid in enumerate(matrix.ids)}
    share: dict[int, list[str]] = {k: [] for k in range(len(scenario.teams))}
    for site_id, teams in allowed.items():
        p = point_of[site_id]
        best = min(teams, key=lambda k: matrix.minutes[point_of[f"town:{scenario.teams[k].base.id}"], p])
        share[best].append(site_id)
    return share


def _solve(
    model: PatrolModel,
    params: SolveParams,
    first_solution: str,
    report: Callable[[float, int], None],
    say: Progress,
) -> RoutingSolution:
    """Solve with one OR-Tools first-solution strategy, or with the :data:`PORTFOLIO` (each
    strategy gets its share of ``params.seconds``)."""
    if first_solution != "portfolio":
        return solve(model.problem, replace(params, first_solution=first_solution), report)
    best = None
    for name, share in PORTFOLIO:
        say(f"search from {name} for {params.seconds * share:.1f} s")
        found = solve(
            model.problem, replace(params, seconds=params.seconds * share, first_solution=name), report
        )
        if found.feasible and (best is None or found.objective < best.objective):
            best = found
    return best if best is not None else found


@dataclass(frozen=True)
class _Prepared:
    candidates: Candidates
    matrix: TravelMatrix
    builder: _Builder
    allowed: dict[str, tuple[int, ...]]
    pre_dropped: list[tuple[str, str]]


def _prepare(
    scenario: Scenario, targets: gpd.GeoDataFrame | None, network: object | None | str, say: Progress
) -> _Prepared:
    """Candidates, travel matrix and pre-routing drops of a scenario."""
    started = time.perf_counter()
    if targets is None:
        from layers.datasets import load_targets

        targets = load_targets()
    candidates = select_sites(scenario, targets)
    say(f"{len(candidates.all_ids)} scenario sites, {len(candidates.sites)} candidates for routing")
    towns = lodging_candidates(scenario)
    matrix = travel_matrix(_points(candidates, towns), None if scenario.travel == "great_circle" else network)
    say(
        f"travel matrix ({matrix.model}) for {len(matrix.ids)} points in {time.perf_counter() - started:.1f} s"
    )
    allowed, pre_dropped = _prefilter(scenario, candidates, matrix)
    return _Prepared(
        candidates, matrix, _Builder(scenario, candidates.sites, matrix, towns), allowed, pre_dropped
    )


def week_model(
    scenario: Scenario, *, targets: gpd.GeoDataFrame | None = None, network: object | None | str = "default"
) -> PatrolModel:
    """The one-model-for-the-week routing problem of ``scenario`` (what :func:`plan_week` solves
    with ``strategy="week"``), for inspection and tests."""
    prepared = _prepare(scenario, targets, network, lambda message: None)
    return prepared.builder.build(tuple(range(len(scenario.teams))), prepared.allowed)


def plan_week(
    scenario: Scenario,
    *,
    targets: gpd.GeoDataFrame | None = None,
    network: object | None | str = "default",
    seconds: float | None = None,
    strategy: str = "assign",
    first_solution: str = "portfolio",
    ruin_recreate: float = RUIN_RECREATE_SHARE,
    progress: Progress | None = None,
) -> Plan:
    """Plan ``scenario`` over the registry ``targets`` (default: the shipped registry).

    ``network`` is passed to :func:`planning.travel.travel_matrix` (``None`` = great-circle model;
    the scenario's ``travel: great_circle`` also selects it). ``seconds`` overrides the scenario's
    solver budget. ``ruin_recreate`` is the share of each search given to the ruin-and-recreate
    phase, seeded with the scenario's ``solver.seed`` (0 = OR-Tools alone). Raises
    :class:`planning.scenario.ScenarioError` for a scenario that does not match the registry
    (unknown site ids or regions).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    say = progress or (lambda message: None)
    started = time.perf_counter()
    prepared = _prepare(scenario, targets, network, say)
    candidates, matrix, builder, allowed = (
        prepared.candidates,
        prepared.matrix,
        prepared.builder,
        prepared.allowed,
    )
    budget = scenario.solver_seconds if seconds is None else seconds
    params = SolveParams(ruin_recreate=ruin_recreate, seed=scenario.solver_seed)

    def report(elapsed: float, objective: int) -> None:
        say(f"solver {elapsed:6.1f} s  objective {objective}")

    if strategy == "week":
        model = builder.build(tuple(range(len(scenario.teams))), allowed)
        say(
            f"model: {len(model.problem.nodes)} nodes, {len(model.problem.groups)} night groups; solving {budget:g} s"
        )
        parts = [(model, _solve(model, replace(params, seconds=budget), first_solution, report, say))]
    else:
        share = _assign(matrix, scenario, allowed)
        parts = []
        for k in range(len(scenario.teams)):
            model = builder.build((k,), {s: (k,) for s in share[k]})
            say(f"team {scenario.teams[k].id}: {len(share[k])} sites, {len(model.problem.nodes)} nodes")
            team_params = replace(params, seconds=budget / len(scenario.teams))
            parts.append((model, _solve(model, team_params, first_solution, report, say)))
    return _to_plan(
        scenario,
        candidates,
        matrix,
        builder,
        parts,
        prepared.pre_dropped,
        strategy,
        time.perf_counter() - started,
    )


def _stop_type(node: NodeInfo, scenario: Scenario, builder: _Builder) -> tuple[str, str, str]:
    """(type, id, name) of a routing node in the plan file."""
    if node.kind == "site":
        row = builder.sites.loc[node.site]
        return "site", node.site, str(row["name"])
    town_id = builder.matrix.ids[node.point].removeprefix("town:")
    town = next(t for t in builder.towns if t.id == town_id)
    is_base = node.team is not None and scenario.teams[node.team].base.id == town_id
    label = f"{town.name} {town.name_zh}".strip()
    return ("base" if is_base or node.kind in ("start", "end") else "lodging"), town_id, label


def _to_plan(
    scenario: Scenario,
    candidates: Candidates,
    matrix: TravelMatrix,
    builder: _Builder,
    parts: list[tuple[PatrolModel, RoutingSolution]],
    pre_dropped: list[tuple[str, str]],
    strategy: str,
    elapsed: float,
) -> Plan:
    """Translate solver routes into a :class:`Plan` with drop reasons and KPIs."""
    teams: list[TeamRoute] = []
    visited: set[str] = set()
    statuses = []
    objective = 0
    for model, solution in parts:
        statuses.append(solution.status)
        objective += solution.objective
        for v, route in enumerate(solution.routes):
            k = model.teams[v]
            stops: list[Stop] = []
            prev_point = None
            for visit in _spend_waits_in_bed(model, route):
                node = model.info[visit.node]
                if node.point < 0:
                    continue  # the virtual end of a route without return
                kind, stop_id, name = _stop_type(node, scenario, builder)
                leg_km = 0.0 if prev_point is None else float(matrix.km[prev_point, node.point])
                leg_min = 0 if prev_point is None else int(builder.minutes[prev_point, node.point])
                service = int(model.problem.nodes[visit.node].service)
                row = candidates.sites.loc[node.site] if node.kind == "site" else None
                lon, lat = node_lonlat(candidates, builder, node)
                stops.append(
                    Stop(
                        seq=len(stops),
                        type=kind,
                        id=stop_id,
                        name=name,
                        lon=round(lon, 6),
                        lat=round(lat, 6),
                        arrive=scenario.minute_to_datetime(visit.start).isoformat(),
                        depart=scenario.minute_to_datetime(visit.departure).isoformat(),
                        service_minutes=service,
                        leg_km=round(leg_km, 2),
                        leg_minutes=leg_min,
                        night=node.night,
                        night_check=bool(row["night_check"]) if row is not None else False,
                        mandatory=bool(row["mandatory"]) if row is not None else False,
                        priority=round(float(row["priority"]), 1) if row is not None else None,
                    )
                )
                if node.kind == "site":
                    visited.add(node.site)
                prev_point = node.point
            teams.append(
                TeamRoute(
                    team_id=scenario.teams[k].id,
                    base=scenario.teams[k].base.name,
                    stops=tuple(stops),
                    drive_km=round(sum(s.leg_km for s in stops), 1),
                    drive_minutes=sum(s.leg_minutes for s in stops),
                    service_minutes=sum(s.service_minutes for s in stops),
                )
            )
    order = {t.id: i for i, t in enumerate(scenario.teams)}
    teams.sort(key=lambda t: order[t.team_id])
    dropped = _dropped(scenario, candidates, pre_dropped, visited, teams, statuses)
    unmet = tuple(d["id"] for d in dropped if d["mandatory"])
    status = "solved" if all(s in ("optimal", "feasible") for s in statuses) else "no_solution"
    if status == "solved" and unmet:
        status = "solved_mandatory_unmet"
    return Plan(
        scenario=scenario.source,
        travel_model=matrix.model,
        status=status,
        objective=int(objective),
        solve_seconds=round(elapsed, 2),
        teams=tuple(teams),
        dropped=tuple(dropped),
        mandatory_unmet=unmet,
        kpis=plan_kpis(tuple(teams), tuple(dropped), len(candidates.all_ids)),
        strategy=strategy,
    )


def _spend_waits_in_bed(model: PatrolModel, route: tuple[Visit, ...]) -> list[Visit]:
    """The route with each evening's wait moved from the day's last site into the bed: the
    solver lets a team wait where it is and leave just in time, but a team done for the day
    drives to its bed right away."""
    visits = list(route)
    for i in range(1, len(visits)):
        prev, bed = visits[i - 1], visits[i]
        if model.info[bed.node].kind != "lodging" or model.info[prev.node].kind != "site":
            continue
        done = prev.start + model.problem.nodes[prev.node].service
        visits[i - 1] = Visit(prev.node, prev.start, done)
        visits[i] = Visit(bed.node, done + int(model.problem.travel[prev.node, bed.node]), bed.departure)
    return visits


def node_lonlat(candidates: Candidates, builder: _Builder, node: NodeInfo) -> tuple[float, float]:
    """Coordinates of a routing node (site access point or town)."""
    if node.kind == "site":
        row = candidates.sites.loc[node.site]
        return float(row["lon"]), float(row["lat"])
    town_id = builder.matrix.ids[node.point].removeprefix("town:")
    town = next(t for t in builder.towns if t.id == town_id)
    return town.lon, town.lat


def _dropped(
    scenario: Scenario,
    candidates: Candidates,
    pre_dropped: list[tuple[str, str]],
    visited: set[str],
    teams: list[TeamRoute],
    statuses: list[str],
) -> list[dict]:
    """Every scenario site not in a route, with a reason a person understands."""
    mandatory = set(scenario.sites.mandatory)
    reasons = dict(pre_dropped) | dict(candidates.dropped)
    priorities = [s.priority for t in teams for s in t.stops if s.type == "site" and s.priority is not None]
    solved = all(s in ("optimal", "feasible") for s in statuses)
    out = []
    for site_id in candidates.all_ids:
        if site_id in visited:
            continue
        reason = reasons.get(site_id)
        if reason is None and not solved:
            reason = "no plan was found within the solver budget"
        elif reason is None and site_id in mandatory:
            reason = (
                "mandatory, but it does not fit in the working hours together with the other mandatory "
                "sites and the nights' stays"
            )
        elif reason is None:
            priority = float(candidates.sites.loc[site_id, "priority"])
            low = min(priorities) if priorities else 0.0
            reason = (
                f"not fitted in the teams' working time: lower priority ({priority:g}) than what fit"
                if priority <= low
                else f"not fitted in the teams' working time: too long a detour for its priority ({priority:g})"
            )
        if site_id in mandatory:
            reason = f"cannot visit mandatory site: {reason}"
        out.append({"id": site_id, "reason": reason, "mandatory": site_id in mandatory})
    return out
