"""The weekly patrol scenario: what a detachment chief asks for, read from YAML and validated.

A scenario names the horizon (``start`` date in Beijing time, ``days``), the daily work window,
the optional night window for surprise checks, the teams with their base towns and skills, which
sites are candidates, where teams may spend the night and the solver budget. Every fault raises
:class:`ScenarioError` naming the field (``teams[1].base``), so a chief can fix the file.

Towns are GeoNames places (``load_context('places')``) matched by English or Chinese name,
ignoring case, diacritics and spacing ("Urumqi" finds "Ürümqi", "库尔勒" finds "库尔勒市");
common English forms from Natural Earth (``Aksu``, ``Hotan``) are accepted as aliases.

Clock times are minutes after local midnight; a window whose end is not after its start crosses
midnight (``night_hours: "22:00-02:00"``).

``tasks`` brings open work from the records (follow-ups of cases, checks of complaints) into the
plan: ``true``/``false`` switches reading them from the records database (``python -m planning plan
--db``; on by default when a database is given), and a list gives them as plain mappings
``{id, site, kind, due, reason}`` (what ``--db`` reads, and what the plan file keeps, so a plan can
be checked and re-planned without the database). :mod:`planning.tasks` decides which of them the
plan must serve.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from layers.datasets import load_context
from layers.schema import LAYERS, SKILLS

#: Offices in Xinjiang keep Beijing time; every plan time carries this offset.
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
TRAVEL_MODELS = ("road_network", "great_circle")
MAX_DAYS = 14
#: Kinds of task: a follow-up of a case, a check of a complaint, and a check at night (错时核查).
TASK_KINDS = ("follow_up", "complaint_check", "night_check")
#: Search effort when the scenario gives neither ``solver.effort`` nor ``solver.seconds``: thousands
#: of ruin-and-recreate iterations, calibrated to about a minute on 2 cores for the shipped
#: scenarios (bench/RESULTS.md).
DEFAULT_EFFORT = 150


class ScenarioError(ValueError):
    """A scenario that cannot be planned; ``field`` is the path of the offending entry."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path


@dataclass(frozen=True)
class Town:
    """A GeoNames place used as a base or lodging town."""

    id: str
    name: str
    name_zh: str
    lon: float
    lat: float
    population: int


@dataclass(frozen=True)
class Team:
    """A patrol team with its base town, head count, skills and (optionally) its officers' ids
    from the roster, which decide who may visit a site drawn with named officers (双随机)."""

    id: str
    base: Town
    members: int = 2
    skills: frozenset[str] = frozenset()
    officers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    """Working-time rules shared by the planner and the checker; clock times are minutes after
    local midnight, durations minutes. ``docs/plan-format.md`` explains each one.

    ``depart_after``: no team leaves a bed before this time in the morning. ``lodging_by``: a
    team reaches its bed by this time, unless its last stop of the day was a night check (then
    by the end of the night window + ``night_return_minutes``). No more than
    ``max_continuous_drive_minutes`` of driving without a stop of at least ``break_minutes``
    (Road Traffic Safety Law implementing regulations, art. 62); at most
    ``max_drive_minutes_per_day`` of driving and ``max_duty_minutes_per_day`` from leaving one
    bed to reaching the next; at least ``min_rest_minutes`` between reaching a bed and leaving
    it. An inspection ends no later than its window's end + ``service_overrun_minutes``.
    ``night_away_cost_minutes`` is what a night away from base costs in the objective.
    """

    depart_after: int = 7 * 60
    lodging_by: int = 22 * 60
    night_return_minutes: int = 60
    max_continuous_drive_minutes: int = 240
    break_minutes: int = 20
    max_drive_minutes_per_day: int = 8 * 60
    max_duty_minutes_per_day: int = 11 * 60
    min_rest_minutes: int = 10 * 60
    service_overrun_minutes: int = 30
    night_away_cost_minutes: int = 60


#: Rules given in minutes in the scenario, with their allowed range.
DURATION_RULES = {
    "night_return_minutes": (0, 6 * 60),
    "max_continuous_drive_minutes": (30, 24 * 60),
    "break_minutes": (0, 120),
    "max_drive_minutes_per_day": (30, 24 * 60),
    "max_duty_minutes_per_day": (60, 24 * 60),
    "min_rest_minutes": (0, 24 * 60),
    "service_overrun_minutes": (0, 4 * 60),
    "night_away_cost_minutes": (0, 24 * 60),
}


@dataclass(frozen=True)
class Lodging:
    """Where teams may sleep: every city and county seat (``county_seats``), the listed
    ``towns`` (townships only this way) and always the bases."""

    county_seats: bool = True
    towns: tuple[Town, ...] = ()


@dataclass(frozen=True)
class Pin:
    """A chief's override: ``site`` goes to ``team`` and/or on ``day`` (a plan date). A pinned
    site is mandatory."""

    site: str
    team: str | None = None
    day: dt.date | None = None


@dataclass(frozen=True)
class Forbid:
    """A chief's override: ``team`` never visits ``site``."""

    site: str
    team: str


@dataclass(frozen=True)
class Unavailable:
    """``team`` cannot inspect from ``first`` to ``last`` (plan dates, inclusive): a broken
    vehicle, a crew on another job. Its days then hold no inspection; the plan may still move it
    between beds (home, for one)."""

    team: str
    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class Overrides:
    """What a chief imposes on the optimiser: pins, forbidden team-site pairs, days without a
    team, and days locked as already planned (used when re-planning from a previous plan)."""

    pins: tuple[Pin, ...] = ()
    forbid: tuple[Forbid, ...] = ()
    unavailable: tuple[Unavailable, ...] = ()
    locked_days: tuple[tuple[str, dt.date], ...] = ()


@dataclass(frozen=True)
class SiteTask:
    """Open work at a site the plan should serve by ``due`` (aware), with the reason a chief reads
    (``follow-up of case 2026-0412, due 12-16``). A ``night_check`` is served in the night window."""

    id: str
    site: str
    kind: str
    due: dt.datetime
    reason: str

    def as_mapping(self) -> dict:
        """The task as the scenario's ``tasks`` list (and the plan file) hold it."""
        return {
            "id": self.id,
            "site": self.site,
            "kind": self.kind,
            "due": self.due.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SiteSelection:
    """Which registry sites are candidates."""

    regions: tuple[str, ...] = ()
    layers: tuple[str, ...] = LAYERS
    min_priority: float = 0.0
    mandatory: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_sites: int | None = None
    #: (site id, officer ids) of sites drawn with named officers (双随机), from ``from_draw`` or
    #: ``drawn_officers``.
    drawn_officers: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``work_hours``/``night_hours`` are (start, end) minutes after midnight.

    The search runs for ``solver_effort`` thousand iterations (the same plan on any machine) or,
    when ``solver_seconds`` is given instead, for that much time (the result then depends on the
    machine); ``solver_seed`` seeds it.
    """

    name: str
    start: dt.date
    days: int
    work_hours: tuple[int, int]
    teams: tuple[Team, ...]
    sites: SiteSelection = field(default_factory=SiteSelection)
    night_hours: tuple[int, int] | None = None
    lodging: Lodging = field(default_factory=Lodging)
    return_to_base: bool = True
    solver_seconds: float | None = None
    solver_effort: int = DEFAULT_EFFORT
    solver_seed: int = 1
    travel: str = "road_network"
    rules: Rules = field(default_factory=Rules)
    overrides: Overrides = field(default_factory=Overrides)
    #: The ``tasks`` switch: ``None`` when the scenario does not say (read them when a database is given).
    use_tasks: bool | None = None
    tasks: tuple[SiteTask, ...] = ()
    source: dict = field(default_factory=dict, compare=False)

    @property
    def horizon_start(self) -> dt.datetime:
        """Local midnight of the first day: time 0 of the plan."""
        return dt.datetime.combine(self.start, dt.time(0), tzinfo=BEIJING)

    def work_windows(self) -> list[tuple[int, int]]:
        """The daily work windows, minutes from the horizon start: an ordinary inspection starts
        inside one and ends by its end + ``rules.service_overrun_minutes``."""
        lo, hi = self.work_hours
        return [(d * 1440 + lo, d * 1440 + hi) for d in range(self.days)]

    def night_count(self) -> int:
        """Nights inside the plan: between consecutive days, plus the last one without return."""
        return self.days - 1 if self.return_to_base else self.days

    def night_windows(self) -> list[tuple[int, int]]:
        """Night-check windows, one per night inside the plan (a night check starts inside one
        and ends by its end + ``rules.service_overrun_minutes``)."""
        if self.night_hours is None:
            return []
        lo, length = night_offset(self.night_hours, self.work_hours)
        return [(d * 1440 + lo, d * 1440 + lo + length) for d in range(self.night_count())]

    def service_windows(self, service_minutes: int, night_check: bool) -> list[tuple[int, int]]:
        """Allowed service *start* times of a site: inside its windows, ending by the window's
        end + the overrun (empty where the inspection is too long for a window)."""
        overrun = self.rules.service_overrun_minutes
        windows = self.night_windows() if night_check else self.work_windows()
        return [
            (lo, min(hi, hi + overrun - service_minutes))
            for lo, hi in windows
            if hi + overrun - service_minutes >= lo
        ]

    def day_dates(self) -> list[dt.date]:
        """The calendar date of each plan day."""
        return [self.start + dt.timedelta(days=d) for d in range(self.days)]

    def day_index(self, day: dt.date) -> int:
        """Plan day number (0 = the first) of a date."""
        return (day - self.start).days

    def minute_to_datetime(self, minute: int) -> dt.datetime:
        """Local date-time of a plan minute."""
        return self.horizon_start + dt.timedelta(minutes=int(minute))

    def datetime_to_minute(self, value: dt.datetime) -> int:
        """Plan minute of an aware date-time (any offset)."""
        return round((value - self.horizon_start).total_seconds() / 60)


def night_offset(night_hours: tuple[int, int], work_hours: tuple[int, int]) -> tuple[int, int]:
    """(start minute after the evening's midnight-0, length) of a night window: a start before
    the end of the work day means the early hours of the next morning."""
    lo, hi = night_hours
    length = (hi - lo) % 1440
    return (lo if lo >= work_hours[1] else lo + 1440), length


# --- towns -----------------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    """Lower-case ASCII-folded name without spaces, hyphens, apostrophes or admin suffixes."""
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = re.sub(r"[\s\-'’`.()]", "", folded)
    for suffix in ("city", "county", "市", "县", "镇", "区"):
        if folded.endswith(suffix) and len(folded) > len(suffix) + 1:
            folded = folded[: -len(suffix)]
    return folded


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, Town], dict[str, Town]]:
    """(name key -> most populous town, geonameid -> town) from the shipped places layer."""
    places = load_context("places")
    by_id: dict[str, Town] = {}
    for row in places.itertuples():
        by_id[str(int(row.geonameid))] = Town(
            id=str(int(row.geonameid)),
            name=str(row.name),
            name_zh=str(row.name_zh) if isinstance(row.name_zh, str) else "",
            lon=float(row.geometry.x),
            lat=float(row.geometry.y),
            population=int(row.population or 0),
        )
    keys: dict[str, Town] = {}

    def add(name: object, town: Town) -> None:
        if not isinstance(name, str) or not name.strip():
            return
        key = normalise_name(name)
        if key and (key not in keys or keys[key].population < town.population):
            keys[key] = town

    for town in by_id.values():
        add(town.name, town)
        add(town.name_zh, town)
    cities = load_context("cities")
    for row in cities.itertuples():
        town = by_id.get(str(int(row.geonameid))) if pd.notna(row.geonameid) else None
        if town is None:
            continue
        for alias in (row.name, row.name_en, row.name_zh, *str(row.namealt or "").split("|")):
            add(alias, town)
    return keys, by_id


def resolve_town(name: object, field_path: str) -> Town:
    """The town called ``name`` (English, GeoNames or Chinese; or a geonameid)."""
    keys, by_id = _gazetteer()
    if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
        town = by_id.get(str(name).strip())
        if town is None:
            raise ScenarioError(field_path, f"no town with geonameid {name}")
        return town
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(field_path, f"expected a town name, got {name!r}")
    key = normalise_name(name)
    if key in keys:
        return keys[key]
    close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(keys[c].name for c in close)}?" if close else ""
    raise ScenarioError(field_path, f"unknown town {name!r} (not in the GeoNames places layer){hint}")


# --- parsing ---------------------------------------------------------------------------------


def parse_clock(text: object, field_path: str) -> int:
    """``"HH:MM"`` -> minutes after midnight."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScenarioError(field_path, f"expected a time HH:MM, got {text!r}")
    return int(match[1]) * 60 + int(match[2])


def parse_window(text: object, field_path: str, *, may_cross_midnight: bool) -> tuple[int, int]:
    """``"10:00-19:30"`` -> (600, 1170); the end may be before the start when crossing midnight."""
    parts = str(text).split("-")
    if len(parts) != 2:
        raise ScenarioError(field_path, f"expected a window 'HH:MM-HH:MM', got {text!r}")
    lo, hi = parse_clock(parts[0], field_path), parse_clock(parts[1], field_path)
    if lo == hi:
        raise ScenarioError(field_path, f"window {text!r} is empty")
    if hi < lo and not may_cross_midnight:
        raise ScenarioError(field_path, f"window {text!r} ends before it starts")
    return lo, hi


def _list(value: object, field_path: str) -> list:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [value]
    if not isinstance(value, list):
        raise ScenarioError(field_path, f"expected a list, got {value!r}")
    return value


def _number(value: object, field_path: str, lo: float, hi: float, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(field_path, f"expected a number, got {value!r}")
    if integer and int(value) != value:
        raise ScenarioError(field_path, f"expected a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(field_path, f"must be between {lo:g} and {hi:g}, got {value!r}")
    return value


def _read_draw(path: Path, field_path: str) -> object:
    """A random-draw record (``python -m layers draw``) or a plain JSON list of ids, parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(field_path, f"cannot read draw file {path}: {exc}") from exc


def draw_officers(data: object) -> dict[str, tuple[str, ...]]:
    """Site id -> the officer ids drawn for it, from a parsed draw record (empty for a plain
    list of ids). The draw stores each officer as a mapping with ``officer_id`` or as an id."""
    items = data.get("result") if isinstance(data, dict) else None
    found: dict[str, tuple[str, ...]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("officers"):
            continue
        ids = [o.get("officer_id") if isinstance(o, dict) else o for o in item["officers"]]
        found[str(item.get("site_id"))] = tuple(str(i) for i in ids if i)
    return found


def draw_site_ids(data: object, source: str, field_path: str) -> list[str]:
    """Site ids of a parsed draw record (its ``result`` list) or of a plain list of ids;
    ``source`` names the file in the error."""
    path = source
    if isinstance(data, dict):
        for key in ("result", "site_ids", "sites"):
            if key in data:
                data = data[key]
                break
    if not isinstance(data, list):
        raise ScenarioError(field_path, f"draw file {path} holds no list of sites")
    ids = [item.get("site_id") if isinstance(item, dict) else item for item in data]
    if not all(isinstance(i, str) and i for i in ids):
        raise ScenarioError(field_path, f"draw file {path}: every entry needs a site_id")
    return ids


def _parse_teams(raw: object) -> tuple[Team, ...]:
    teams_raw = _list(raw, "teams")
    if not teams_raw:
        raise ScenarioError("teams", "at least one team is needed")
    teams: list[Team] = []
    for i, item in enumerate(teams_raw):
        where = f"teams[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(where, f"expected a mapping with id and base, got {item!r}")
        unknown = set(item) - {"id", "base", "members", "skills", "officers"}
        if unknown:
            raise ScenarioError(f"{where}.{sorted(unknown)[0]}", "unknown field")
        team_id = str(item.get("id") or "").strip()
        if not team_id:
            raise ScenarioError(f"{where}.id", "missing team id")
        if any(t.id == team_id for t in teams):
            raise ScenarioError(f"{where}.id", f"duplicate team id {team_id!r}")
        if "base" not in item:
            raise ScenarioError(f"{where}.base", "missing base town")
        base = resolve_town(item["base"], f"{where}.base")
        members = int(_number(item.get("members", 2), f"{where}.members", 1, 50, integer=True))
        skills = [str(s).strip() for s in _list(item.get("skills"), f"{where}.skills")]
        for j, skill in enumerate(skills):
            if skill not in SKILLS:
                raise ScenarioError(
                    f"{where}.skills[{j}]", f"unknown skill {skill!r}; known: {', '.join(SKILLS)}"
                )
        officers = tuple(
            str(o).strip() for o in _list(item.get("officers"), f"{where}.officers") if str(o).strip()
        )
        teams.append(Team(team_id, base, members, frozenset(skills), officers))
    return tuple(teams)


def _parse_sites(raw: object, base_dir: Path) -> SiteSelection:
    if raw is None:
        return SiteSelection()
    if not isinstance(raw, dict):
        raise ScenarioError("sites", f"expected a mapping, got {raw!r}")
    unknown = set(raw) - {
        "regions",
        "layers",
        "min_priority",
        "mandatory",
        "from_draw",
        "exclude",
        "max_sites",
        "drawn_officers",
    }
    if unknown:
        raise ScenarioError(f"sites.{sorted(unknown)[0]}", "unknown field")
    layers = tuple(str(x) for x in _list(raw.get("layers"), "sites.layers")) or LAYERS
    for j, layer in enumerate(layers):
        if layer not in LAYERS:
            raise ScenarioError(f"sites.layers[{j}]", f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    mandatory = [str(x).strip() for x in _list(raw.get("mandatory"), "sites.mandatory")]
    officers: dict[str, tuple[str, ...]] = {}
    if raw.get("from_draw"):
        path = Path(str(raw["from_draw"]))
        path = path if path.is_absolute() else base_dir / path
        data = _read_draw(path, "sites.from_draw")
        mandatory += draw_site_ids(data, str(path), "sites.from_draw")
        officers.update(draw_officers(data))
    drawn = raw.get("drawn_officers") or {}
    if not isinstance(drawn, dict):
        raise ScenarioError(
            "sites.drawn_officers", f"expected a mapping site id -> officer ids, got {drawn!r}"
        )
    for site_id, ids in drawn.items():
        officers[str(site_id)] = tuple(
            str(o).strip() for o in _list(ids, f"sites.drawn_officers.{site_id}") if str(o).strip()
        )
    max_sites = raw.get("max_sites")
    return SiteSelection(
        regions=tuple(str(x).strip() for x in _list(raw.get("regions"), "sites.regions")),
        layers=layers,
        min_priority=float(_number(raw.get("min_priority", 0), "sites.min_priority", 0, 100)),
        mandatory=tuple(dict.fromkeys(mandatory)),
        exclude=tuple(str(x).strip() for x in _list(raw.get("exclude"), "sites.exclude")),
        max_sites=None
        if max_sites is None
        else int(_number(max_sites, "sites.max_sites", 1, 100_000, integer=True)),
        drawn_officers=tuple(sorted(officers.items())),
    )


def _parse_rules(raw: object) -> Rules:
    if raw is None:
        return Rules()
    if not isinstance(raw, dict):
        raise ScenarioError("rules", f"expected a mapping, got {raw!r}")
    unknown = set(raw) - {"depart_after", "lodging_by", *DURATION_RULES}
    if unknown:
        raise ScenarioError(
            f"rules.{sorted(unknown)[0]}",
            f"unknown field; known: depart_after, lodging_by, {', '.join(DURATION_RULES)}",
        )
    values: dict[str, int] = {}
    for name in ("depart_after", "lodging_by"):
        if name in raw:
            values[name] = parse_clock(raw[name], f"rules.{name}")
    for name, (lo, hi) in DURATION_RULES.items():
        if name in raw:
            values[name] = int(_number(raw[name], f"rules.{name}", lo, hi, integer=True))
    rules = Rules(**values)
    if rules.max_drive_minutes_per_day > rules.max_duty_minutes_per_day:
        raise ScenarioError("rules.max_drive_minutes_per_day", "must not exceed max_duty_minutes_per_day")
    return rules


def _parse_lodging(raw: object) -> Lodging:
    """``auto`` (or absent): county seats; a list: county seats and these towns; a mapping
    ``{county_seats: false, towns: [...]}``: only the listed towns (and the bases)."""
    if raw is None or raw == "auto":
        return Lodging()
    if isinstance(raw, dict):
        unknown = set(raw) - {"county_seats", "towns"}
        if unknown:
            raise ScenarioError(f"lodging.{sorted(unknown)[0]}", "unknown field; known: county_seats, towns")
        seats = raw.get("county_seats", True)
        if not isinstance(seats, bool):
            raise ScenarioError("lodging.county_seats", f"expected true or false, got {seats!r}")
        names, where = _list(raw.get("towns"), "lodging.towns"), "lodging.towns"
    else:
        seats, names, where = True, _list(raw, "lodging"), "lodging"
    return Lodging(seats, tuple(resolve_town(n, f"{where}[{j}]") for j, n in enumerate(names)))


def _parse_solver(raw: object) -> tuple[float | None, int, int]:
    """(seconds or None, effort, seed) of the ``solver`` block."""
    solver = raw or {}
    if not isinstance(solver, dict):
        raise ScenarioError("solver", f"expected a mapping with seed and effort (or seconds), got {solver!r}")
    unknown = set(solver) - {"seconds", "effort", "seed"}
    if unknown:
        raise ScenarioError(f"solver.{sorted(unknown)[0]}", "unknown field; known: effort, seconds, seed")
    if "seconds" in solver and "effort" in solver:
        raise ScenarioError(
            "solver", "give either effort (reproducible) or seconds (a time budget), not both"
        )
    seconds = (
        None
        if solver.get("seconds") is None
        else float(_number(solver["seconds"], "solver.seconds", 0.1, 3600))
    )
    effort = int(_number(solver.get("effort", DEFAULT_EFFORT), "solver.effort", 1, 100_000, integer=True))
    seed = int(_number(solver.get("seed", 1), "solver.seed", 0, 2**31 - 1, integer=True))
    return seconds, effort, seed


KNOWN_FIELDS = {
    "name",
    "start",
    "days",
    "work_hours",
    "night_hours",
    "teams",
    "sites",
    "lodging",
    "return_to_base",
    "solver",
    "travel",
    "rules",
    "pins",
    "forbid",
    "unavailable",
    "locked_days",
    "tasks",
}


def parse_tasks(raw: object, field_path: str = "tasks") -> tuple[SiteTask, ...]:
    """A list of task mappings ``{id, site, kind, due, reason}`` (``due`` ISO-8601; without an
    offset it is Beijing time)."""
    out, seen = [], set()
    for i, item in enumerate(_list(raw, field_path)):
        where = f"{field_path}[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(where, f"expected a mapping with id, site, kind, due, reason, got {item!r}")
        unknown = set(item) - {"id", "site", "kind", "due", "reason"}
        if unknown:
            raise ScenarioError(
                f"{where}.{sorted(unknown)[0]}", "unknown field; known: due, id, kind, reason, site"
            )
        for name in ("id", "site", "due"):
            if str(item.get(name) or "").strip() == "":
                raise ScenarioError(f"{where}.{name}", "missing")
        kind = str(item.get("kind", "follow_up"))
        if kind not in TASK_KINDS:
            raise ScenarioError(f"{where}.kind", f"unknown kind {kind!r}; known: {', '.join(TASK_KINDS)}")
        due = item["due"]
        if isinstance(due, dt.date) and not isinstance(due, dt.datetime):
            due = dt.datetime.combine(due, dt.time(23, 59, 59))
        if not isinstance(due, dt.datetime):
            try:
                due = dt.datetime.fromisoformat(str(due).strip())
            except ValueError:
                raise ScenarioError(
                    f"{where}.due", f"expected an ISO-8601 time, got {item['due']!r}"
                ) from None
        task_id = str(item["id"]).strip()
        if task_id in seen:
            raise ScenarioError(f"{where}.id", f"task {task_id} is listed twice")
        seen.add(task_id)
        reason = str(item.get("reason") or f"{kind.replace('_', ' ')} (task {task_id})").strip()
        out.append(
            SiteTask(
                task_id,
                str(item["site"]).strip(),
                kind,
                due if due.tzinfo else due.replace(tzinfo=BEIJING),
                reason,
            )
        )
    return tuple(out)


def with_tasks(scenario: Scenario, tasks: tuple[SiteTask, ...]) -> Scenario:
    """``scenario`` with ``tasks`` added to its own (a task id already there is kept once); the
    scenario mapping kept in the plan file lists them all."""
    known = {t.id for t in scenario.tasks}
    merged = (*scenario.tasks, *(t for t in tasks if t.id not in known))
    source = {**scenario.source, "tasks": [t.as_mapping() for t in merged]}
    return replace(scenario, use_tasks=True, tasks=merged, source=source)


def _plan_date(value: object, field_path: str, start: dt.date, days: int) -> dt.date:
    """A date inside the plan's horizon."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ScenarioError(field_path, f"expected a date YYYY-MM-DD, got {value!r}") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ScenarioError(field_path, f"expected a date YYYY-MM-DD, got {value!r}")
    if not 0 <= (value - start).days < days:
        last = start + dt.timedelta(days=days - 1)
        raise ScenarioError(field_path, f"{value} is outside the plan ({start} to {last})")
    return value


def _parse_overrides(raw: dict, teams: tuple[Team, ...], start: dt.date, days: int) -> Overrides:
    """``pins``, ``forbid``, ``unavailable`` and ``locked_days`` of a scenario mapping."""
    team_ids = {t.id for t in teams}

    def team_of(value: object, where: str) -> str:
        team = str(value or "").strip()
        if team not in team_ids:
            raise ScenarioError(where, f"unknown team {value!r}; teams: {', '.join(sorted(team_ids))}")
        return team

    def entries(name: str, keys: set[str]) -> list[tuple[str, dict]]:
        out = []
        for i, item in enumerate(_list(raw.get(name), name)):
            where = f"{name}[{i}]"
            if not isinstance(item, dict):
                raise ScenarioError(where, f"expected a mapping, got {item!r}")
            unknown = set(item) - keys
            if unknown:
                raise ScenarioError(
                    f"{where}.{sorted(unknown)[0]}", f"unknown field; known: {', '.join(sorted(keys))}"
                )
            out.append((where, item))
        return out

    pins = []
    for where, item in entries("pins", {"site", "team", "day"}):
        if not item.get("site"):
            raise ScenarioError(f"{where}.site", "missing site id")
        if item.get("team") is None and item.get("day") is None:
            raise ScenarioError(where, "a pin names a team, a day or both")
        pins.append(
            Pin(
                str(item["site"]).strip(),
                None if item.get("team") is None else team_of(item["team"], f"{where}.team"),
                None if item.get("day") is None else _plan_date(item["day"], f"{where}.day", start, days),
            )
        )
    forbid = []
    for where, item in entries("forbid", {"site", "team"}):
        if not item.get("site"):
            raise ScenarioError(f"{where}.site", "missing site id")
        forbid.append(Forbid(str(item["site"]).strip(), team_of(item.get("team"), f"{where}.team")))
    unavailable = []
    for where, item in entries("unavailable", {"team", "from", "to"}):
        first = _plan_date(item.get("from"), f"{where}.from", start, days)
        last = _plan_date(item.get("to", item.get("from")), f"{where}.to", start, days)
        if last < first:
            raise ScenarioError(f"{where}.to", f"{last} is before {first}")
        unavailable.append(Unavailable(team_of(item.get("team"), f"{where}.team"), first, last))
    locked = raw.get("locked_days") or {}
    if not isinstance(locked, dict):
        raise ScenarioError("locked_days", f"expected a mapping team -> dates, got {locked!r}")
    locked_days = []
    for team, dates in locked.items():
        where = f"locked_days.{team}"
        team = team_of(team, where)
        locked_days += [
            (team, _plan_date(d, f"{where}[{j}]", start, days)) for j, d in enumerate(_list(dates, where))
        ]
    sites = [p.site for p in pins]
    clash = {(p.site, p.team) for p in pins} & {(f.site, f.team) for f in forbid}
    if clash:
        site, team = sorted(clash)[0]
        raise ScenarioError("forbid", f"{site} is both pinned to and forbidden for team {team}")
    if len(set(sites)) != len(sites):
        raise ScenarioError("pins", "a site is pinned twice")
    return Overrides(tuple(pins), tuple(forbid), tuple(unavailable), tuple(sorted(set(locked_days))))


def parse_scenario(raw: object, base_dir: Path | str = ".") -> Scenario:
    """Validate a scenario mapping (as read from YAML); relative paths are read from ``base_dir``."""
    if not isinstance(raw, dict):
        raise ScenarioError("<file>", "a scenario is a YAML mapping with name, start, days, teams, ...")
    unknown = set(raw) - KNOWN_FIELDS
    if unknown:
        raise ScenarioError(sorted(unknown)[0], f"unknown field; known: {', '.join(sorted(KNOWN_FIELDS))}")
    for required in ("name", "start", "days", "work_hours", "teams"):
        if required not in raw:
            raise ScenarioError(required, "missing")
    start = raw["start"]
    if isinstance(start, str):
        try:
            start = dt.date.fromisoformat(start.strip())
        except ValueError as exc:
            raise ScenarioError("start", f"expected a date YYYY-MM-DD, got {raw['start']!r}") from exc
    if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
        raise ScenarioError("start", f"expected a date YYYY-MM-DD, got {raw['start']!r}")
    days = int(_number(raw["days"], "days", 1, MAX_DAYS, integer=True))
    rules = _parse_rules(raw.get("rules"))
    work = parse_window(raw["work_hours"], "work_hours", may_cross_midnight=False)
    if work[0] < rules.depart_after or work[1] >= rules.lodging_by:
        raise ScenarioError(
            "work_hours",
            f"must lie between the morning departure {rules.depart_after // 60:02d}:{rules.depart_after % 60:02d}"
            f" and the evening arrival {rules.lodging_by // 60:02d}:{rules.lodging_by % 60:02d}",
        )
    night = None
    if raw.get("night_hours") is not None:
        night = parse_window(raw["night_hours"], "night_hours", may_cross_midnight=True)
        lo, length = night_offset(night, work)
        if length > 8 * 60:
            raise ScenarioError("night_hours", "a night window longer than 8 hours is not a night check")
        if lo + length + rules.night_return_minutes > 1440 + rules.depart_after:
            raise ScenarioError(
                "night_hours",
                "must start after the work window ends and end early enough to reach a bed before the "
                "morning departure",
            )
    lodging = _parse_lodging(raw.get("lodging"))
    solver_seconds, solver_effort, solver_seed = _parse_solver(raw.get("solver"))
    travel = str(raw.get("travel", "road_network"))
    if travel not in TRAVEL_MODELS:
        raise ScenarioError("travel", f"unknown travel model {travel!r}; known: {', '.join(TRAVEL_MODELS)}")
    return_to_base = raw.get("return_to_base", True)
    if not isinstance(return_to_base, bool):
        raise ScenarioError("return_to_base", f"expected true or false, got {return_to_base!r}")
    name = str(raw["name"]).strip()
    if not name:
        raise ScenarioError("name", "must not be empty")
    teams = _parse_teams(raw["teams"])
    overrides = _parse_overrides(raw, teams, start, days)
    sites = _parse_sites(raw.get("sites"), Path(base_dir))
    pinned = [p.site for p in overrides.pins if p.site not in sites.mandatory]
    raw_tasks = raw.get("tasks")
    if raw_tasks is not None and not isinstance(raw_tasks, bool | list):
        raise ScenarioError("tasks", f"expected true, false or a list of tasks, got {raw_tasks!r}")
    tasks = parse_tasks(raw_tasks) if isinstance(raw_tasks, list) else ()
    return Scenario(
        name=name,
        start=start,
        days=days,
        work_hours=work,
        teams=teams,
        sites=replace(sites, mandatory=(*sites.mandatory, *pinned)),
        overrides=overrides,
        night_hours=night,
        lodging=lodging,
        return_to_base=return_to_base,
        solver_seconds=solver_seconds,
        solver_effort=solver_effort,
        solver_seed=solver_seed,
        travel=travel,
        rules=rules,
        use_tasks=True if isinstance(raw_tasks, list) else raw_tasks,
        tasks=tasks,
        source=_jsonable(raw),
    )


def _jsonable(raw: dict) -> dict:
    """The scenario mapping with dates as ISO strings, for the plan file."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in raw.items()}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError("<file>", f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError("<file>", f"{path} is not valid YAML: {exc}") from exc
    return parse_scenario(raw, path.parent)
