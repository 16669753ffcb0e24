"""Re-plan a week under way: keep what is behind each team, re-optimise the rest, say what changed.

:func:`replan` takes a format-2 plan, the moment ``now`` and what happened (visits recorded, as a
plain table: the planner never reads the records database) plus the chief's changes, and returns
a new plan for the same scenario:

* **Behind each team stays as planned.** A day the team has already started (left its bed
  before ``now``) and the days before it are kept stop for stop, and so are days listed under
  ``locked_days`` that follow them; each team restarts from the bed it reaches at the end of
  those days, no earlier than ``now`` and after its rest. A locked day later in the week keeps
  its sites (pinned to that team and day) and its beds.
* **Done is done.** Sites inspected before ``now`` (outcome ``compliant`` or ``violation``) and
  the sites of the kept days are not visited again; a site recorded ``not_inspected`` may come
  back. Kept stops carry what was recorded (``recorded``).
* **Changes** (:data:`CHANGE_FIELDS`, e.g. a ``changes.yaml``): ``add_sites`` (urgent: mandatory;
  an entry may be ``{site, day, team}`` to say when and by whom, a pin),
  ``remove_sites``, ``pins``, ``forbid``, ``unavailable``, ``locked_days`` (as in a scenario) and
  ``closures`` (areas: ``{name, reason, lon, lat, radius_km, from, to}``).
* **Stability.** Every later stop of the previous plan prefers its team and day: moving it
  costs :data:`planning.patrol.STABILITY_MINUTES` of driving, and so does dropping it on top of
  its value, so a stop that can stay, stays.

The new plan records under ``replan`` what it replaces (the previous plan's name, start and
SHA-256 of its JSON), ``now``, and the per team and day :func:`plan_diff` (kept, moved in, moved
out, added, removed stops).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import yaml

from planning.closures import Closure, circle, parse_period
from planning.lodging import county_seats
from planning.patrol import Resume, prepare, search_week
from planning.plan import Plan, Stop
from planning.roads import RoadNetwork
from planning.scenario import Scenario, ScenarioError, Town, parse_scenario, resolve_town

#: What a changes file may hold.
CHANGE_FIELDS = ("add_sites", "remove_sites", "pins", "forbid", "unavailable", "locked_days", "closures")
#: Outcomes that count as inspected (``not_inspected`` lets a site come back).
DONE_OUTCOMES = ("compliant", "violation")


@dataclass(frozen=True)
class Recorded:
    """A visit as recorded: the site, its outcome and when it started."""

    site: str
    outcome: str
    started_at: dt.datetime


def read_done_csv(path: str | Path) -> list[Recorded]:
    """Visits from a CSV with columns ``site_id, outcome, started_at`` (others ignored), as
    ``python -m records visits export --format csv`` writes them. ``ValueError`` names the row."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    out = []
    for i, row in enumerate(rows, start=2):
        for column in ("site_id", "outcome", "started_at"):
            if not (row.get(column) or "").strip():
                raise ValueError(f"{path} row {i}: field {column!r} is empty or missing")
        try:
            started = dt.datetime.fromisoformat(row["started_at"].strip())
        except ValueError:
            raise ValueError(
                f"{path} row {i}: field 'started_at' is not a date-time: {row['started_at']!r}"
            ) from None
        if started.tzinfo is None:
            raise ValueError(f"{path} row {i}: field 'started_at' needs a UTC offset (e.g. +08:00)")
        out.append(Recorded(row["site_id"].strip(), row["outcome"].strip(), started))
    return out


def load_changes(path: str | Path) -> dict:
    """A changes YAML file as a mapping (``ValueError`` naming the file and field)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the changes: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with {', '.join(CHANGE_FIELDS)}")
    unknown = set(raw) - set(CHANGE_FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown field {sorted(unknown)[0]!r}; known: {', '.join(CHANGE_FIELDS)}")
    return raw


def change_closures(changes: dict) -> tuple[Closure, ...]:
    """The closed areas of a changes mapping (``ValueError`` naming the entry and field)."""
    out = []
    for i, item in enumerate(changes.get("closures") or []):
        where = f"closures[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected a mapping with name, lon, lat, radius_km, from, to")
        try:
            lon, lat, radius = float(item["lon"]), float(item["lat"]), float(item["radius_km"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{where}: lon, lat and radius_km are needed as numbers") from None
        first, last = str(item.get("from", "")), str(item.get("to", item.get("from", "")))
        period = parse_period(f"{first}..{last}", f"{where}.from/to")
        out.append(
            Closure(
                id=str(item.get("id") or f"change-{i + 1}"),
                name=str(item.get("name") or f"closed area {i + 1}"),
                reason=str(item.get("reason") or "other"),
                geometry=circle(lon, lat, radius),
                period=period,
                source="re-plan changes",
                confidence="high",
            )
        )
    return tuple(out)


def _merged_scenario(previous: dict, changes: dict, done: set[str]) -> dict:
    """The previous plan's scenario mapping with the changes applied; done sites are no longer
    mandatory (they stay scenario sites: the plan lists them as kept or inspected)."""
    raw = copy.deepcopy(previous["scenario"])
    sites = dict(raw.get("sites") or {})
    urgent = [item if isinstance(item, dict) else {"site": item} for item in changes.get("add_sites") or []]
    added = [str(item.get("site")) for item in urgent]
    removed = {str(s) for s in changes.get("remove_sites") or []}
    mandatory = [s for s in [*(sites.get("mandatory") or []), *added] if s not in removed | done]
    sites["mandatory"] = list(dict.fromkeys(mandatory))
    sites["exclude"] = sorted(set(sites.get("exclude") or []) | removed)
    raw["sites"] = sites
    # An urgent site may name the day (and team) it must be inspected: a pin.
    timed = [{k: v for k, v in item.items() if k in ("site", "team", "day")} for item in urgent]
    timed = [pin for pin in timed if len(pin) > 1]
    for name, extra in (("pins", timed), ("forbid", []), ("unavailable", [])):
        raw[name] = [*(raw.get(name) or []), *(changes.get(name) or []), *extra]
        raw[name] = [p for p in raw[name] if not (isinstance(p, dict) and p.get("site") in removed | done)]
    locked = {team: list(days) for team, days in (raw.get("locked_days") or {}).items()}
    for team, days in (changes.get("locked_days") or {}).items():
        locked.setdefault(team, []).extend(days)
    raw["locked_days"] = locked
    return raw


def _day_bounds(stops: list[dict]) -> list[int]:
    """Stop indices where each day starts and ends: the first stop, every bed, the last stop."""
    beds = [0] + [i for i, s in enumerate(stops) if s.get("night") is not None]
    if beds[-1] != len(stops) - 1:
        beds.append(len(stops) - 1)
    return beds


def _where(plan: dict) -> dict[str, tuple[str, int]]:
    """Site id -> (team, plan day index) of every site stop of a plan (the last, if twice)."""
    out = {}
    for team in plan["teams"]:
        stops = team["stops"]
        bounds = _day_bounds(stops)
        for d, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
            for stop in stops[a + 1 : b + 1]:
                if stop["type"] == "site" and stop.get("recorded") != "not_inspected":
                    out[str(stop["id"])] = (team["team_id"], d)
    return out


def plan_diff(old: dict, new: dict, start: dt.date) -> list[dict]:
    """Per team and day: the site ids kept there, moved in (from another team or day), moved
    out, added (not in the old plan) and removed (not in the new plan). Days without a change
    keep only their ``kept`` list."""
    before, after = _where(old), _where(new)
    keys = sorted(set(before.values()) | set(after.values()))
    rows = []
    for team, day in keys:
        here_old = {s for s, w in before.items() if w == (team, day)}
        here_new = {s for s, w in after.items() if w == (team, day)}
        rows.append(
            {
                "team": team,
                "date": (start + dt.timedelta(days=day)).isoformat(),
                "kept": sorted(here_old & here_new),
                "moved_in": sorted(s for s in here_new - here_old if s in before),
                "moved_out": sorted(s for s in here_old - here_new if s in after),
                "added": sorted(s for s in here_new if s not in before),
                "removed": sorted(s for s in here_old if s not in after),
            }
        )
    return rows


def _town(town_id: str, scenario: Scenario) -> Town:
    """The town a kept bed stands at (a GeoNames id, or ``seat:ADCODE`` for a county seat)."""
    for town in (*county_seats(), *(t.base for t in scenario.teams), *scenario.lodging.towns):
        if town.id == town_id:
            return town
    return resolve_town(town_id, "bed")


def _minute(scenario: Scenario, text: str) -> int:
    return scenario.datetime_to_minute(dt.datetime.fromisoformat(text))


def replan(
    previous: dict,
    now: dt.datetime,
    *,
    recorded: Iterable[Recorded] = (),
    changes: dict | None = None,
    targets: gpd.GeoDataFrame | None = None,
    network: RoadNetwork | None | str = "default",
    closures: Sequence[Closure] = (),
    seconds: float | None = None,
    effort: int | None = None,
    progress: Callable[[str], None] | None = None,
    base_dir: Path | str = ".",
    replaces: dict | None = None,
) -> Plan:
    """Re-plan ``previous`` (a format-2 plan dict) from ``now`` (an aware date-time) with the
    visits ``recorded`` so far and the chief's ``changes`` (see the module docstring).
    ``closures`` are extra closures beyond the shipped layer; budgets as in
    :func:`planning.patrol.plan_week`. ``replaces`` adds to the record of what the new plan
    replaces (e.g. the stored plan's key, version and id). Raises
    :class:`planning.scenario.ScenarioError` or ``ValueError`` for inputs that cannot be
    re-planned."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    changes = changes or {}
    if previous.get("format_version", 1) < 2:
        raise ValueError("re-planning needs a format 2 plan (with day summaries); plan it again first")
    if now.tzinfo is None:
        raise ValueError("now needs a UTC offset, e.g. 2026-12-16T07:00+08:00")
    outcomes = {r.site: r.outcome for r in sorted(recorded, key=lambda r: r.started_at) if r.started_at < now}
    first = parse_scenario(_merged_scenario(previous, changes, set()), base_dir)
    now_minute = first.datetime_to_minute(now)
    locked = set(first.overrides.locked_days)
    by_id = {t["team_id"]: t for t in previous["teams"]}
    before: dict[int, tuple[Stop, ...]] = {}
    kept_sites: set[str] = set()
    resume_parts: dict[str, dict] = {"start_town": {}, "ready": {}, "first_night": {}}
    keep_beds: dict[tuple[int, int], Town] = {}
    pins: list[dict] = []
    prefer: dict[str, tuple[int, int]] = {}
    for k, team in enumerate(first.teams):
        if team.id not in by_id:
            raise ValueError(f"team {team.id} has no route in the previous plan")
        stops = by_id[team.id]["stops"]
        bounds = _day_bounds(stops)
        days = len(bounds) - 1
        frozen = 0
        while frozen < days and (
            _minute(first, stops[bounds[frozen]]["depart"]) < now_minute
            or (team.id, first.start + dt.timedelta(days=frozen)) in locked
        ):
            frozen += 1
        behind = stops[: bounds[frozen] + 1] if frozen else []
        for stop in behind:
            if stop["type"] == "site":
                kept_sites.add(str(stop["id"]))
        before[k] = tuple(Stop(**{**stop, "recorded": outcomes.get(str(stop["id"]))}) for stop in behind)
        if frozen < days:
            bed = stops[bounds[frozen]]
            rest = first.rules.min_rest_minutes if frozen else 0
            resume_parts["start_town"][k] = _town(str(bed["id"]), first) if frozen else team.base
            resume_parts["ready"][k] = max(
                now_minute, _minute(first, bed["arrive"]) + rest, frozen * 1440 + first.rules.depart_after
            )
            resume_parts["first_night"][k] = frozen
        for d in range(frozen, days):
            day_stops = stops[bounds[d] + 1 : bounds[d + 1] + 1]
            sites = [str(s["id"]) for s in day_stops if s["type"] == "site"]
            if (team.id, first.start + dt.timedelta(days=d)) in locked:
                day = (first.start + dt.timedelta(days=d)).isoformat()
                pins += [{"site": site, "team": team.id, "day": day} for site in sites]
                for night in (d - 1, d):
                    bed = (
                        stops[bounds[night + 1]] if night >= frozen and night < first.night_count() else None
                    )
                    if bed is not None and bed.get("night") is not None:
                        keep_beds[(k, night)] = _town(str(bed["id"]), first)
            for site in sites:
                prefer[site] = (k, d)
    done = {s for s, outcome in outcomes.items() if outcome in DONE_OUTCOMES} | {
        s for s in kept_sites if outcomes.get(s) != "not_inspected"
    }
    raw = _merged_scenario(previous, {**changes, "pins": [*(changes.get("pins") or []), *pins]}, done)
    try:
        scenario = parse_scenario(raw, base_dir)
    except ScenarioError as exc:
        raise ScenarioError(exc.field, f"after the changes: {exc}") from None
    extra = (*change_closures(changes), *closures)
    towns = [*resume_parts["start_town"].values(), *keep_beds.values()]
    prepared = prepare(scenario, targets, network, extra, say, extra_towns=towns, done=done)
    resume = Resume(
        start_town=resume_parts["start_town"],
        ready=resume_parts["ready"],
        first_night=resume_parts["first_night"],
        prefer={s: w for s, w in prefer.items() if s not in done},
        keep_beds=keep_beds,
    )
    info = {
        "replaces": {
            "name": previous["scenario"].get("name"),
            "start": previous["scenario"].get("start"),
            "sha256": hashlib.sha256(json.dumps(previous, sort_keys=True).encode("utf-8")).hexdigest(),
            **(replaces or {}),
        },
        "now": now.isoformat(),
        "changes": changes,
        "done": sorted(done),
    }
    plan = search_week(
        scenario,
        prepared,
        started,
        seconds=seconds,
        effort=effort,
        say=say,
        resume=resume,
        before=before,
        replan=info,
    )
    new = plan.to_dict()
    diff = plan_diff(previous, new, scenario.start)
    planned, after = _where(previous), _where(new)
    later = [s for s in planned if s not in kept_sites]
    stayed = sum(1 for s in later if after.get(s) == planned[s])
    info = {**info, "diff": diff, "later_stops": len(later), "later_stops_kept": stayed}
    return replace(plan, replan=info)
