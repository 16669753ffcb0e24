"""The plan file: what the planner produced, as plain JSON a checker, an exporter or a person reads.

A :class:`Plan` holds the scenario it answers, the travel model, the solver status, one route per
team (a list of :class:`Stop` and a summary per :class:`Day`) and every scenario site that is not
in a route, with the reason. Times are ISO-8601 strings with the Beijing offset
(``2026-11-23T10:00:00+08:00``); ``leg_km``, ``leg_minutes`` and ``leg_break_minutes`` belong to
the leg *arriving* at a stop. The fields are described in ``docs/plan-format.md``.

:data:`FORMAT_VERSION` 2 added ``start``, ``leg_break_minutes``, ``days``, ``officers``,
``solver``, ``closures`` and ``warnings``; version 1 files (no ``format_version``) still load:
their service start is their arrival.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STOP_TYPES = ("base", "site", "lodging")
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Stop:
    """One stop of a team's route. ``night`` is the night index (0 = after the first day) when
    the team sleeps here, else ``None``."""

    seq: int
    type: str
    id: str
    name: str
    lon: float
    lat: float
    arrive: str
    depart: str
    service_minutes: int
    leg_km: float
    leg_minutes: int
    night: int | None = None
    night_check: bool = False
    mandatory: bool = False
    priority: float | None = None
    start: str = ""
    leg_break_minutes: int = 0
    recorded: str | None = None
    #: The open tasks (records follow-ups, complaint checks) this visit serves.
    tasks: tuple[dict, ...] = ()

    def __post_init__(self) -> None:
        if not self.start:  # a version 1 stop: the service started on arrival
            object.__setattr__(self, "start", self.arrive)


@dataclass(frozen=True)
class Day:
    """One plan day of a team: from leaving a bed (or the base) to reaching the next."""

    date: str
    leave: str
    arrive_bed: str
    bed: str
    bed_id: str
    drive_minutes: int
    duty_minutes: int
    km: float
    sites: int


@dataclass(frozen=True)
class TeamRoute:
    """A team's route over the whole horizon with its totals."""

    team_id: str
    base: str
    stops: tuple[Stop, ...]
    drive_km: float
    drive_minutes: int
    service_minutes: int
    days: tuple[Day, ...] = ()
    officers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A weekly patrol plan; :meth:`to_dict` gives the JSON document."""

    scenario: dict
    travel_model: str
    status: str
    objective: int
    solve_seconds: float
    teams: tuple[TeamRoute, ...]
    dropped: tuple[dict, ...]
    mandatory_unmet: tuple[str, ...] = ()
    kpis: dict = field(default_factory=dict)
    strategy: str = "week"
    solver: dict = field(default_factory=dict)
    closures: tuple[dict, ...] = ()
    warnings: tuple[str, ...] = ()
    replan: dict = field(default_factory=dict)
    #: Every task of the scenario: the stop serving it and whether on time, or why not.
    tasks: tuple[dict, ...] = ()
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        """The plan as a JSON-ready dict."""
        data = asdict(self)
        data["teams"] = [
            {
                **team,
                "stops": [{**stop, "tasks": list(stop["tasks"])} for stop in team["stops"]],
                "days": [dict(day) for day in team["days"]],
                "officers": list(team["officers"]),
            }
            for team in data["teams"]
        ]
        for name in ("dropped", "mandatory_unmet", "closures", "warnings", "tasks"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Rebuild a plan from :meth:`to_dict` output (e.g. a loaded plan file)."""
        teams = tuple(
            TeamRoute(
                team_id=team["team_id"],
                base=team.get("base", ""),
                stops=tuple(
                    Stop(**{**stop, "tasks": tuple(stop.get("tasks", ()))}) for stop in team["stops"]
                ),
                drive_km=team["drive_km"],
                drive_minutes=team["drive_minutes"],
                service_minutes=team["service_minutes"],
                days=tuple(Day(**day) for day in team.get("days", ())),
                officers=tuple(team.get("officers", ())),
            )
            for team in data["teams"]
        )
        return cls(
            scenario=data["scenario"],
            travel_model=data["travel_model"],
            status=data["status"],
            objective=data["objective"],
            solve_seconds=data["solve_seconds"],
            teams=teams,
            dropped=tuple(data.get("dropped", ())),
            mandatory_unmet=tuple(data.get("mandatory_unmet", ())),
            kpis=data.get("kpis", {}),
            strategy=data.get("strategy", "assign"),
            solver=data.get("solver", {}),
            closures=tuple(data.get("closures", ())),
            warnings=tuple(data.get("warnings", ())),
            replan=data.get("replan", {}),
            tasks=tuple(data.get("tasks", ())),
            format_version=data.get("format_version", 1),
        )

    def save(self, path: str | Path) -> None:
        """Write the plan as UTF-8 JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")


def load_plan_dict(path: str | Path) -> dict:
    """Read a plan file as a dict (raises ``ValueError`` naming the file if it is not a plan)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read plan JSON: {exc}") from exc
    if not isinstance(data, dict) or "teams" not in data:
        raise ValueError(f"{path}: not a plan file (no 'teams')")
    return data


def plan_kpis(plan_teams: tuple[TeamRoute, ...], dropped: tuple[dict, ...], candidate_count: int) -> dict:
    """Headline numbers of a plan: sites visited, mandatory coverage, driving, nights away."""
    visits = [s for t in plan_teams for s in t.stops if s.type == "site"]
    mandatory_total = sum(1 for s in visits if s.mandatory) + sum(1 for d in dropped if d.get("mandatory"))
    nights = [s for t in plan_teams for s in t.stops if s.night is not None]
    # Waiting at a site before or after the inspection (shown so a chief sees it).
    idle = sum(
        (dt.datetime.fromisoformat(s.depart) - dt.datetime.fromisoformat(s.arrive)).total_seconds() / 60
        - s.service_minutes
        for s in visits
    )
    return {
        "sites_total": candidate_count,
        "sites_visited": len(visits),
        "sites_dropped": len(dropped),
        "night_checks": sum(1 for s in visits if s.night_check),
        "mandatory_total": mandatory_total,
        "mandatory_visited": sum(1 for s in visits if s.mandatory),
        "priority_visited": round(sum(s.priority or 0.0 for s in visits), 1),
        "drive_km": round(sum(t.drive_km for t in plan_teams), 1),
        "drive_minutes": sum(t.drive_minutes for t in plan_teams),
        "service_minutes": sum(t.service_minutes for t in plan_teams),
        "idle_minutes_after_visits": round(idle),
        "nights_total": len(nights),
        "nights_away_from_base": sum(1 for s in nights if s.type == "lodging"),
        "teams": {
            team.team_id: {
                "sites": sum(1 for s in team.stops if s.type == "site"),
                "drive_km": team.drive_km,
                "drive_minutes": team.drive_minutes,
                "max_drive_minutes_per_day": max((d.drive_minutes for d in team.days), default=0),
                "max_duty_minutes_per_day": max((d.duty_minutes for d in team.days), default=0),
                "nights_away": sum(1 for s in team.stops if s.night is not None and s.type == "lodging"),
            }
            for team in plan_teams
        },
    }
