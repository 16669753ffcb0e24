"""Simulated history: "execute" plans the way teams really do, so the dashboard has a past to show.

:func:`execute_plan` takes a plan (the planner's JSON) and produces what a week in the field leaves
behind: recorded visits and one GPS track per team and day. Noise, all drawn from one seeded
``numpy`` generator (see :class:`Noise` for the rates):

* late starts each morning, drives slower than planned, inspections shorter or longer;
* planned sites skipped silently (time ran out) or visited but not inspectable (with a reason);
* ad-hoc visits to an unplanned registry site near the day's route (a complaint, a tip-off);
* outcomes: a violation is more likely at higher-risk sites, and opens a case (a category drawn
  by :data:`FINDING_SHARES`, the category's default deadline, a follow-up task);
* complaints received in the days before each week (12369, letters, online; some urgent, some about
  a problem at night) at the scenario's sites; the week's plan serves the open tasks of its region
  (follow-ups and complaint checks, :mod:`records.tasks`), and a complaint whose check was made is
  closed with a reply;
* GPS fixes every 30 s while driving (60 s while parked) along the leg geometry, interpolated at
  constant speed along each leg with ``pyproj.Geod``, with metre-scale scatter and rare wild glitches
  (which the import filter then drops, as it would for a real device).

Leg geometry comes from a *legs* function ``(from_lonlat, to_lonlat) -> [(lon, lat), ...]``:
:func:`road_legs` follows the road network through ``planning.travel``; :func:`straight_legs` is
the fallback (and what fast tests use).

:func:`simulate_history` (``python -m simulation history``) runs the planner on past weeks,
executes each plan and stores everything with ``simulated = 1`` and the actor ``simulation``
(cases, complaints and their tasks too). Each week's plan key is ``<scenario> · simulated <date>``; a week already stored
is skipped, so re-running adds nothing (nor receives its complaints again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Geod

from layers.schema import WGS84, XINJIANG_METRIC_CRS
from records import audit, cases, complaints
from records.db import LOCAL_TZ, RecordsError, transaction, utc_text
from records.infer import infer_track_visits
from records.plans import approve_plan, complete_plan, save_plan
from records.tracks import Track, possible_fixes, store_track
from records.visits import Visit, record_visit

LonLat = tuple[float, float]
Legs = Callable[[LonLat, LonLat], list[LonLat]]
SIMULATION_ACTOR = "simulation"
GEOD = Geod(ellps="WGS84")
#: Average speed on a leg the plan does not describe (an ad-hoc detour, a leg after a skip).
DETOUR_KMH = 45.0
#: Days after an inspection during which the simulated chief does not plan the site again.
REST_DAYS = 28
REASONS = (
    "gate locked, nobody on site",
    "site closed for the season",
    "access road washed out",
    "operator refused entry; reported to the bureau",
    "sandstorm, visibility too low",
)


@dataclass(frozen=True)
class Noise:
    """How far execution strays from the plan (probabilities per site or per day; minutes)."""

    skip_site: float = 0.06
    not_inspectable: float = 0.05
    ad_hoc_per_day: float = 0.2
    ad_hoc_within_km: float = 15.0
    violation_at_risk_3: float = 0.12
    late_start_mean_minutes: float = 20.0
    drive_factor: tuple[float, float] = (0.95, 1.35)
    service_factor: tuple[float, float] = (0.7, 1.4)
    drive_fix_seconds: int = 30
    parked_fix_seconds: int = 60
    gps_sigma_m: float = 8.0
    glitch_per_fix: float = 0.0005
    complaints_per_week: float = 1.0
    complaint_urgent: float = 0.3
    complaint_night: float = 0.25


#: How often each finding category is drawn for a simulated violation.
FINDING_SHARES = {
    "illegal_discharge": 0.25,
    "monitoring_data_fraud": 0.1,
    "hazardous_waste": 0.2,
    "permit": 0.15,
    "dust_odour_noise": 0.2,
    "ecological_damage": 0.05,
    "other": 0.05,
}
COMPLAINT_NATURES = (
    "black water running into the river (simulated)",
    "strong chemical odour (simulated)",
    "dust from the yard (simulated)",
    "noise from the plant (simulated)",
    "burning waste (simulated)",
)


@dataclass
class Execution:
    """What executing a plan left behind."""

    visits: list[Visit] = field(default_factory=list)
    #: (team_id, day, track) per team and local day with any movement.
    tracks: list[tuple[str, dt.date, Track]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (team_id, site_id)


@dataclass
class _Step:
    """One place a team goes to: a planned stop or an inserted ad-hoc site."""

    kind: str  # base | lodging | site | ad_hoc
    site_id: str
    lon: float
    lat: float
    arrive: dt.datetime
    depart: dt.datetime
    service_minutes: float
    leg_minutes: float | None  # the plan's drive time to this stop, when the previous stop is kept


def straight_legs(start: LonLat, end: LonLat) -> list[LonLat]:
    """A leg as the straight (geodesic) segment between its ends."""
    return [start, end]


def road_legs(points: Iterable[LonLat], network: object = "default") -> Legs:
    """Legs along the fastest road paths between ``points`` (via ``planning.travel``).

    Unreachable pairs fall back to a straight segment.
    """
    from planning.travel import travel_matrix

    unique = sorted({(round(lon, 6), round(lat, 6)) for lon, lat in points})
    index = {point: i for i, point in enumerate(unique)}
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(len(unique))],
            "lon": [p[0] for p in unique],
            "lat": [p[1] for p in unique],
        }
    )
    matrix = travel_matrix(frame, network)

    def legs(start: LonLat, end: LonLat) -> list[LonLat]:
        i = index[(round(start[0], 6), round(start[1], 6))]
        j = index[(round(end[0], 6), round(end[1], 6))]
        return matrix.leg_lonlat(i, j) or straight_legs(start, end)

    return legs


def _time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def _itinerary(
    team: dict, rng: np.random.Generator, noise: Noise, sites: gpd.GeoDataFrame | None, planned: set[str]
) -> tuple[list[_Step], list[str]]:
    """The stops a team will actually make (skips removed, ad-hoc sites inserted) and the skipped ids."""
    steps: list[_Step] = []
    skipped: list[str] = []
    kept_previous = True
    day_sites: dict[dt.date, list[int]] = {}
    for stop in team["stops"]:
        if stop["type"] == "site" and rng.random() < noise.skip_site:
            skipped.append(str(stop["id"]))
            kept_previous = False
            continue
        arrive = _time(stop["arrive"])
        steps.append(
            _Step(
                kind=stop["type"],
                site_id=str(stop["id"]),
                lon=float(stop["lon"]),
                lat=float(stop["lat"]),
                arrive=arrive,
                depart=_time(stop["depart"]),
                service_minutes=float(stop.get("service_minutes") or 0),
                leg_minutes=float(stop["leg_minutes"])
                if kept_previous and stop.get("leg_minutes") is not None
                else None,
            )
        )
        kept_previous = True
        if stop["type"] == "site":
            day_sites.setdefault(arrive.astimezone(LOCAL_TZ).date(), []).append(len(steps) - 1)
    if sites is None or sites.empty:
        return steps, skipped
    inserts = []
    for positions in day_sites.values():
        if rng.random() >= noise.ad_hoc_per_day:
            continue
        after = positions[int(rng.integers(len(positions)))]
        extra = _nearby_site(sites, steps[after], planned, noise.ad_hoc_within_km, rng)
        if extra is not None:
            inserts.append((after, extra))
    for after, extra in sorted(inserts, key=lambda item: -item[0]):
        steps.insert(after + 1, extra)
        if after + 2 < len(steps):
            steps[after + 2].leg_minutes = None  # the next leg now starts at the detour
    return steps, skipped


def _nearby_site(
    sites: gpd.GeoDataFrame, step: _Step, planned: set[str], within_km: float, rng: np.random.Generator
) -> _Step | None:
    """An unplanned site within ``within_km`` of ``step`` (random among them), as an ad-hoc step."""
    here = (
        gpd.GeoSeries(gpd.points_from_xy([step.lon], [step.lat]), crs=WGS84)
        .to_crs(XINJIANG_METRIC_CRS)
        .iloc[0]
    )
    metric = sites.geometry.to_crs(XINJIANG_METRIC_CRS)
    near = sites[
        (metric.distance(here) <= within_km * 1000).to_numpy() & ~sites["site_id"].isin(planned).to_numpy()
    ]
    if near.empty:
        return None
    row = near.iloc[int(rng.integers(len(near)))]
    point = row.geometry.representative_point()
    service = (
        float(row["service_minutes"])
        if "service_minutes" in row and pd.notna(row["service_minutes"])
        else 45.0
    )
    return _Step("ad_hoc", str(row["site_id"]), point.x, point.y, step.depart, step.depart, service, None)


def _path(legs: Legs, start: _Step, end: _Step) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leg polyline densified to <= 500 m steps: lon, lat and cumulative metres."""
    line = legs((start.lon, start.lat), (end.lon, end.lat)) or [(start.lon, start.lat), (end.lon, end.lat)]
    lons, lats = [line[0][0]], [line[0][1]]
    for (x0, y0), (x1, y1) in zip(line[:-1], line[1:], strict=True):
        metres = GEOD.inv(x0, y0, x1, y1)[2]
        extra = GEOD.npts(x0, y0, x1, y1, int(metres // 500)) if metres > 500 else []
        lons += [p[0] for p in extra] + [x1]
        lats += [p[1] for p in extra] + [y1]
    lon, lat = np.array(lons), np.array(lats)
    steps = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])[2] if len(lon) > 1 else np.zeros(0)
    return lon, lat, np.concatenate([[0.0], np.cumsum(steps)])


class _Recorder:
    """Accumulates one team-day of GPS fixes with scatter and glitches."""

    def __init__(self, rng: np.random.Generator, noise: Noise) -> None:
        self.rng, self.noise = rng, noise
        self.times: list[np.ndarray] = []
        self.lons: list[np.ndarray] = []
        self.lats: list[np.ndarray] = []

    def add(self, start: dt.datetime, seconds: float, step_s: int, lon: np.ndarray, lat: np.ndarray) -> None:
        """Fixes every ``step_s`` over ``seconds`` from ``start``; positions from (lon, lat)(fraction)."""
        count = max(int(seconds // step_s), 1)
        fraction = np.arange(count) / count
        offsets = np.arange(count) * step_s
        # lon/lat are sampled at `fraction` of the way (by distance) along the given polyline.
        self.times.append(int(start.timestamp()) + offsets.astype(np.int64))
        scatter = self.rng.normal(0.0, self.noise.gps_sigma_m, (2, count)) / 111_000.0
        x = np.interp(fraction, np.linspace(0, 1, len(lon)), lon) if len(lon) > 1 else np.full(count, lon[0])
        y = np.interp(fraction, np.linspace(0, 1, len(lat)), lat) if len(lat) > 1 else np.full(count, lat[0])
        glitch = self.rng.random(count) < self.noise.glitch_per_fix
        x = x + scatter[0] / np.cos(np.radians(y)) + glitch * self.rng.choice([-1.0, 1.0], count) * 0.5
        self.lons.append(x)
        self.lats.append(y + scatter[1])

    def flush(self) -> Track | None:
        """The fixes so far as a track (None if there are none), and start a new one."""
        if not self.times:
            return None
        track = Track("", np.concatenate(self.times), np.concatenate(self.lons), np.concatenate(self.lats))
        self.times, self.lons, self.lats = [], [], []
        return track


def _resample_by_distance(
    lon: np.ndarray, lat: np.ndarray, cumulative: np.ndarray, samples: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """The polyline re-sampled at equal distances, so constant speed means equal steps."""
    if cumulative[-1] <= 0:
        return lon[:1], lat[:1]
    at = np.linspace(0, cumulative[-1], max(samples, 2))
    return np.interp(at, cumulative, lon), np.interp(at, cumulative, lat)


def execute_plan(
    plan: dict,
    *,
    legs: Legs = straight_legs,
    seed: int = 0,
    noise: Noise | None = None,
    sites: gpd.GeoDataFrame | None = None,
    officers: dict[str, tuple[str, ...]] | None = None,
    plan_id: int | None = None,
) -> Execution:
    """Simulate the field week of ``plan``; see the module docstring for what is simulated.

    ``sites`` (registry rows: site_id, geometry, optional risk_level and service_minutes) enables
    ad-hoc visits and risk-dependent outcomes; ``officers`` names each team's members.
    """
    noise = noise or Noise()
    rng = np.random.default_rng(seed)
    planned = {str(s["id"]) for team in plan["teams"] for s in team["stops"] if s["type"] == "site"}
    risk = {}
    if sites is not None and "risk_level" in sites.columns:
        risk = dict(
            zip(sites["site_id"].astype(str), pd.to_numeric(sites["risk_level"]).fillna(3), strict=True)
        )
    result = Execution()
    for team in plan["teams"]:
        team_id = str(team["team_id"])
        crew = (officers or {}).get(team_id) or (f"{team_id} officer 1", f"{team_id} officer 2")
        steps, skipped = _itinerary(team, rng, noise, sites, planned)
        result.skipped += [(team_id, site_id) for site_id in skipped]
        if not any(step.kind in ("site", "ad_hoc") for step in steps):
            continue  # nothing to do this week: the team stays at base, its device off
        recorder = _Recorder(rng, noise)
        clock = steps[0].depart + dt.timedelta(minutes=float(rng.exponential(noise.late_start_mean_minutes)))
        for previous, step in zip(steps[:-1], steps[1:], strict=True):
            lon, lat, cumulative = _path(legs, previous, step)
            planned_minutes = (
                step.leg_minutes if step.leg_minutes is not None else cumulative[-1] / 1000 / DETOUR_KMH * 60
            )
            drive_s = max(planned_minutes, 1.0) * 60 * rng.uniform(*noise.drive_factor)
            x, y = _resample_by_distance(lon, lat, cumulative)
            recorder.add(clock, drive_s, noise.drive_fix_seconds, x, y)
            clock += dt.timedelta(seconds=drive_s)
            if step.kind in ("base", "lodging"):
                _flush_day(recorder, team_id, result)
                late = dt.timedelta(minutes=float(rng.exponential(noise.late_start_mean_minutes)))
                clock = max(clock, step.depart + late)
                continue
            if step.kind == "site" and step.arrive > clock:  # early: wait on site for the window
                wait_s = (step.arrive - clock).total_seconds()
                recorder.add(
                    clock, wait_s, noise.parked_fix_seconds, np.array([step.lon]), np.array([step.lat])
                )
                clock = step.arrive
            service_s = step.service_minutes * 60 * rng.uniform(*noise.service_factor)
            recorder.add(
                clock, service_s, noise.parked_fix_seconds, np.array([step.lon]), np.array([step.lat])
            )
            result.visits.append(_visit(step, team_id, crew, clock, service_s, rng, noise, risk, plan_id))
            clock += dt.timedelta(seconds=service_s)
        _flush_day(recorder, team_id, result)
    return result


def _flush_day(recorder: _Recorder, team_id: str, result: Execution) -> None:
    """Close the team's current day track (named by the local date of its first fix)."""
    track = recorder.flush()
    if track is not None:
        day = dt.datetime.fromtimestamp(int(track.time_s[0]), LOCAL_TZ).date()
        result.tracks.append((team_id, day, dataclasses.replace(track, name=f"{team_id} {day}")))


def _visit(
    step: _Step,
    team_id: str,
    crew: tuple[str, ...],
    start: dt.datetime,
    service_s: float,
    rng: np.random.Generator,
    noise: Noise,
    risk: dict,
    plan_id: int | None,
) -> Visit:
    """The visit record an officer files for ``step``."""
    reason, notes = None, ""
    if rng.random() < noise.not_inspectable:
        outcome = "not_inspected"
        reason = REASONS[int(rng.integers(len(REASONS)))]
        service_s = min(service_s, 15 * 60)
    elif rng.random() < min(0.9, noise.violation_at_risk_3 * float(risk.get(step.site_id, 3)) / 3):
        outcome = "violation"
        notes = "violation found; evidence photographed (simulated)"
    else:
        outcome = "compliant"
    if step.kind == "ad_hoc":
        notes = ("ad-hoc visit after a tip-off; " + notes).strip("; ")
    return Visit(
        site_id=step.site_id,
        team_id=team_id,
        started_at=start,
        ended_at=start + dt.timedelta(seconds=service_s),
        outcome=outcome,
        officers=crew,
        reason=reason,
        notes=notes,
        lon=step.lon,
        lat=step.lat,
        source="ad_hoc" if step.kind == "ad_hoc" else "planned",
        plan_id=None if step.kind == "ad_hoc" else plan_id,
        simulated=True,
    )


def store_execution(
    conn,
    plan: dict,
    key: str,
    *,
    legs: Legs = straight_legs,
    seed: int = 0,
    noise: Noise | None = None,
    sites: gpd.GeoDataFrame | None = None,
    officers: dict[str, tuple[str, ...]] | None = None,
) -> dict | None:
    """Save, approve, execute and complete ``plan`` in ONE transaction; None if ``key`` exists.

    Returns counts (visits, tracks, points, dropped fixes, inferred visits, skipped sites).
    """
    with transaction(conn):
        if conn.execute("SELECT 1 FROM plans WHERE plan_key = ?", (key,)).fetchone():
            return None
        saved = save_plan(conn, plan, key=key, actor=SIMULATION_ACTOR, simulated=True)
        approve_plan(conn, saved.plan_id, actor=SIMULATION_ACTOR)
        run = execute_plan(
            plan, legs=legs, seed=seed, noise=noise, sites=sites, officers=officers, plan_id=saved.plan_id
        )
        visit_ids = [record_visit(conn, visit, actor=SIMULATION_ACTOR) for visit in run.visits]
        violations = [
            v for v, visit in zip(visit_ids, run.visits, strict=True) if visit.outcome == "violation"
        ]
        counts = {
            "visits": len(run.visits),
            "cases": _open_cases(conn, violations, seed),
            "complaints_closed": _close_complaints(conn),
            "tracks": 0,
            "points": 0,
            "dropped": 0,
            "inferred": 0,
            "skipped": len(run.skipped),
        }
        for team_id, _day, track in run.tracks:
            keep = possible_fixes(track, 150.0)
            clean = Track(track.name, track.time_s[keep], track.lon[keep], track.lat[keep])
            if len(clean.time_s) < 2:
                continue
            track_id, created = store_track(
                conn,
                clean,
                team_id=team_id,
                transport="vehicle",
                source_file=f"simulated:{key}",
                device="simulated",
                n_dropped=int((~keep).sum()),
                simulated=True,
                actor=SIMULATION_ACTOR,
            )
            counts["tracks"] += created
            counts["points"] += len(clean.time_s)
            counts["dropped"] += int((~keep).sum())
            if created and sites is not None:
                counts["inferred"] += infer_track_visits(conn, track_id, sites, actor=SIMULATION_ACTOR)
        complete_plan(conn, saved.plan_id, actor=SIMULATION_ACTOR)
    return counts


def _open_cases(conn, visit_ids: list[int], seed: int) -> int:
    """Open a case for each simulated violation (category drawn by :data:`FINDING_SHARES`)."""
    rng = np.random.default_rng([seed, 16])
    names, shares = list(FINDING_SHARES), np.array(list(FINDING_SHARES.values()))
    for visit_id in visit_ids:
        category = names[int(rng.choice(len(names), p=shares / shares.sum()))]
        cases.open_case(conn, visit_id, category, description="simulated finding", actor=SIMULATION_ACTOR)
    return len(visit_ids)


def _close_complaints(conn) -> int:
    """Close the open simulated complaints whose check task a visit has served, with a reply."""
    rows = conn.execute(
        "SELECT c.complaint_id, t.visit_id FROM complaints c JOIN tasks t ON t.complaint_id = c.complaint_id "
        "WHERE c.state = 'open' AND c.simulated = 1 AND t.state = 'done' ORDER BY c.complaint_id"
    ).fetchall()
    for complaint_id, visit_id in rows:
        reply = "checked on site; the complainant was told the result (simulated)"
        complaints.close_complaint(conn, complaint_id, visit_id, reply, SIMULATION_ACTOR)
    return len(rows)


def receive_complaints(
    conn,
    site_ids: list[str],
    start: dt.date,
    targets: gpd.GeoDataFrame,
    rng: np.random.Generator,
    noise: Noise | None = None,
) -> int:
    """Simulated complaints received in the week before ``start`` about sites among ``site_ids``
    (their number Poisson with mean ``noise.complaints_per_week``); returns how many."""
    noise = noise or Noise()
    week = [
        utc_text(dt.datetime.combine(start + dt.timedelta(days=d), dt.time(0), LOCAL_TZ)) for d in (-7, 0)
    ]
    marks = ",".join("?" * len(site_ids))
    if (
        site_ids
        and conn.execute(
            f"SELECT 1 FROM complaints WHERE simulated = 1 AND received_at >= ? AND received_at < ? "
            f"AND site_id IN ({marks}) LIMIT 1",
            (*week, *site_ids),
        ).fetchone()
    ):
        return 0  # received already (a re-run after an interrupted week)
    count = int(rng.poisson(noise.complaints_per_week)) if site_ids else 0
    for _ in range(count):
        received = dt.datetime.combine(
            start - dt.timedelta(days=int(rng.integers(1, 8))), dt.time(0), LOCAL_TZ
        )
        received += dt.timedelta(minutes=int(rng.integers(8 * 60, 22 * 60)))
        complaints.add_complaint(
            conn,
            complaints.Complaint(
                received_at=received,
                nature=COMPLAINT_NATURES[int(rng.integers(len(COMPLAINT_NATURES)))],
                channel=str(rng.choice(complaints.CHANNELS[:3])),
                site_id=site_ids[int(rng.integers(len(site_ids)))],
                night=bool(rng.random() < noise.complaint_night),
                urgent=bool(rng.random() < noise.complaint_urgent),
                simulated=True,
            ),
            sites=targets,
            actor=SIMULATION_ACTOR,
        )
    return count


def _region_site_ids(scenario: object, targets: gpd.GeoDataFrame) -> list[str]:
    """Registry sites of the scenario's layers and regions (where its complaints and tasks are)."""
    from planning.candidates import resolve_regions

    keep = targets["layer"].isin(scenario.sites.layers)
    if scenario.sites.regions:
        codes = resolve_regions(scenario.sites.regions)
        keep &= targets["prefecture_code"].astype(str).isin(codes) | targets["county_code"].astype(str).isin(
            codes
        )
    return sorted(targets.loc[keep, "site_id"].astype(str))


def _officers(scenario: object, seed: int) -> dict[str, tuple[str, ...]]:
    """Names for each scenario team, drawn without repetition from the shipped (simulated) roster."""
    from layers.datasets import load_roster

    try:
        names = load_roster()["name"].tolist()
    except (OSError, ValueError):
        return {}
    order = np.random.default_rng(seed).permutation(len(names))
    crews, used = {}, 0
    for team in scenario.teams:
        crews[team.id] = tuple(names[i] for i in order[used : used + team.members])
        used += team.members
    return crews


def scenario_files() -> list[Path]:
    """The shipped scenarios (``data/scenarios/*.yaml``)."""
    from layers.datasets import data_path

    return sorted(data_path("scenarios").glob("*.yaml"))


@dataclass(frozen=True)
class HistoryOptions:
    """Settings of a simulated history (see :func:`simulate_history`)."""

    weeks: int = 12
    before: dt.date = dt.date(2026, 11, 23)
    effort: int = 15
    max_sites: int = 120
    seed: int = 0
    road_geometry: bool = True
    verbose: bool = False


def simulate_history(
    db_path: str | Path | None = None,
    options: HistoryOptions | None = None,
    scenarios: list[Path] | None = None,
    workers: int | None = None,
) -> list[dict]:
    """Plan and execute past weeks (starting ``7*k`` days before ``options.before``) per scenario.

    ``effort`` goes to ``planning.patrol.plan_week`` (small, to keep the demo short; the same
    history on any machine), and scenarios run in parallel processes (one per scenario, at most
    ``workers``, default the CPU count), each writing its own transactions.
    ``max_sites`` caps each week's candidates (the highest-priority ones): offered ~150 sites, a
    team gets no useful route in a few seconds, while 120 in all keeps every team busy.

    Each executed week updates the registry's ``last_inspected`` in memory, and sites inspected in
    the last :data:`REST_DAYS` days are left out of the next plans, so the weeks rotate through the
    region as a chief's would. Returns one summary per stored week.
    """
    from records.db import connect, default_db_path

    options = options or HistoryOptions()
    db_path = str(db_path or default_db_path())
    connect(db_path).close()  # create and migrate before the workers race for it
    files = [str(path) for path in (scenarios if scenarios is not None else scenario_files())]
    if not files:
        raise RecordsError("no scenarios to simulate (data/scenarios/*.yaml is empty)")
    jobs = [(db_path, path, number, options) for number, path in enumerate(files)]
    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    if workers == 1:
        return [week for job in jobs for week in _simulate_scenario(job)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [week for weeks in pool.map(_simulate_scenario, jobs) for week in weeks]


def _simulate_scenario(job: tuple[str, str, int, HistoryOptions]) -> list[dict]:
    """Worker: simulate the weeks of one scenario into the database (one transaction per week)."""
    from layers.datasets import load_targets
    from planning.patrol import plan_week
    from planning.scenario import load_scenario, parse_tasks, with_tasks
    from records.db import connect
    from records.tasks import planner_tasks

    db_path, path, number, opt = job

    def say(message: str) -> None:
        if opt.verbose:
            print(message, file=sys.stderr, flush=True)

    try:
        base = load_scenario(path)
    except ValueError as exc:  # planning.scenario.ScenarioError names the field
        raise RecordsError(f"{path}: {exc}") from None
    targets = load_targets()
    crews = _officers(base, opt.seed + number)
    region = _region_site_ids(base, targets)
    conn = connect(db_path)
    summaries = []
    try:
        for k in range(opt.weeks, 0, -1):
            start = opt.before - dt.timedelta(days=7 * k)
            key = f"{base.name} · simulated {start.isoformat()}"
            if conn.execute("SELECT 1 FROM plans WHERE plan_key = ?", (key,)).fetchone():
                say(f"{key}: already stored")
                continue
            week_seed = opt.seed + 1000 * number + k
            with transaction(conn):
                receive_complaints(conn, region, start, targets, np.random.default_rng([week_seed, 7]))
            last_day = start + dt.timedelta(days=base.days - 1)
            in_region = set(region)
            open_tasks = parse_tasks([t for t in planner_tasks(conn, last_day) if t["site"] in in_region])
            owed = set(base.sites.mandatory) | {t.site for t in open_tasks}
            rested = _recently_inspected(conn, start, owed, set(targets["site_id"]))
            capped = dataclasses.replace(
                base.sites, max_sites=min(base.sites.max_sites or opt.max_sites, opt.max_sites)
            )
            selection = dataclasses.replace(capped, exclude=tuple(sorted(set(capped.exclude) | rested)))
            week = with_tasks(
                dataclasses.replace(
                    base, start=start, name=key, solver_seconds=None, solver_effort=opt.effort, sites=capped
                ),
                open_tasks,
            )
            scenarios = (dataclasses.replace(week, sites=selection), week)
            plan = _plan_every_team(plan_week, scenarios, targets, opt.effort, say)
            plan["scenario"] = {
                **plan["scenario"],
                "name": key,
                "start": start.isoformat(),
                "simulated": True,
            }
            stops = [(s["lon"], s["lat"]) for team in plan["teams"] for s in team["stops"]]
            legs = _road_or_straight(stops) if opt.road_geometry else straight_legs
            counts = store_execution(
                conn, plan, key, legs=legs, seed=week_seed, sites=targets, officers=crews
            )
            if counts is None:
                continue
            _mark_inspected(conn, targets, key)
            summaries.append({"plan_key": key, **counts})
            say(f"{key}: {counts}")
    finally:
        conn.close()
    return summaries


def _plan_every_team(
    plan_week: Callable,
    scenarios: tuple[object, object],
    targets: gpd.GeoDataFrame,
    effort: int,
    say: Callable[[str], None],
) -> dict:
    """Plan the week so that every team has work, trying in turn: the rested scenario, the scenario
    without rest exclusions (a small region may have nothing else near a base), the same with twice
    the effort."""
    rested, plain = scenarios
    for scenario, budget in ((rested, effort), (plain, effort), (plain, 2 * effort)):
        plan = plan_week(scenario, targets=targets, effort=budget).to_dict()
        idle = [t["team_id"] for t in plan["teams"] if not any(s["type"] == "site" for s in t["stops"])]
        if not idle:
            break
        say(f"{scenario.name}: team(s) {', '.join(idle)} got no sites with effort {budget}; re-planning")
    return plan


def _recently_inspected(conn, start: dt.date, mandatory: set[str], known: set[str]) -> set[str]:
    """Sites inspected in the :data:`REST_DAYS` before ``start``, mandatory ones excepted: the
    simulated chief leaves them out of the next plans (priority alone keeps sending teams back to
    the same high-risk cluster week after week)."""
    since = dt.datetime.combine(start - dt.timedelta(days=REST_DAYS), dt.time(0), LOCAL_TZ)
    rows = conn.execute(
        "SELECT DISTINCT site_id FROM visits WHERE started_at >= ? AND started_at < ? "
        "AND outcome != 'not_inspected'",
        (utc_text(since), utc_text(dt.datetime.combine(start, dt.time(0), LOCAL_TZ))),
    )
    return ({row[0] for row in rows} & known) - mandatory


def _road_or_straight(points: list[LonLat]) -> Legs:
    """Road legs between the plan's stops; straight segments for any other pair (ad-hoc detours)."""
    roads = road_legs(points)

    def legs(start: LonLat, end: LonLat) -> list[LonLat]:
        try:
            return roads(start, end)
        except KeyError:
            return straight_legs(start, end)

    return legs


def _mark_inspected(conn, targets: gpd.GeoDataFrame, key: str) -> None:
    """Set ``last_inspected`` in ``targets`` from the inspections stored under plan ``key``."""
    rows = conn.execute(
        "SELECT v.site_id, max(v.started_at) FROM visits v JOIN plans p ON p.plan_id = v.plan_id "
        "WHERE p.plan_key = ? AND v.outcome != 'not_inspected' GROUP BY v.site_id",
        (key,),
    ).fetchall()
    when = {site: pd.Timestamp(at).tz_convert(LOCAL_TZ).tz_localize(None).normalize() for site, at in rows}
    hit = targets["site_id"].isin(list(when))
    targets.loc[hit, "last_inspected"] = (
        targets.loc[hit, "site_id"].map(when).astype(targets["last_inspected"].dtype)
    )


def ensure_demo_history(path: str | Path | None = None, options: HistoryOptions | None = None) -> bool:
    """Fill an empty records database with the simulated history (for the dashboard's first start).

    Returns True if it simulated, False if the database already holds plans.
    """
    from records.db import connect

    conn = connect(path)
    try:
        if conn.execute("SELECT 1 FROM plans LIMIT 1").fetchone():
            return False
    finally:
        conn.close()
    weeks = simulate_history(path, options)
    conn = connect(path)
    try:
        audit.append(conn, "demo.simulate", "db", {"weeks_stored": len(weeks)}, SIMULATION_ACTOR)
    finally:
        conn.close()
    return True
