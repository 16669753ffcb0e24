"""Open tasks in a plan: which of a scenario's ``tasks`` the week must serve, and how it did.

A task (:class:`planning.scenario.SiteTask`: a follow-up of a case, a check or night check of a
complaint) is *planned* when it is due by the end of the plan's last day (overdue ones included) and
its site is one the scenario covers: in the registry, in its layers and regions, not excluded, not
inactive. Its site then becomes mandatory; a ``night_check`` task makes the visit a night check; the
visit must end by the task's deadline when some window of the week allows that (otherwise the site is
still visited as early as the plan finds, and the report says it is late). The other tasks are listed
with the reason they are not in this plan.

The planner (:mod:`planning.patrol`) and the independent checker (:mod:`planning.check`) both start
from :func:`task_scenario`, so they agree on which sites are mandatory and which are night checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import geopandas as gpd

from layers.schema import INACTIVE_STATUSES
from planning.candidates import resolve_regions
from planning.scenario import BEIJING, Scenario, SiteTask


def plan_end(scenario: Scenario) -> dt.datetime:
    """The end of the plan's last day (local): tasks due by then are planned."""
    return dt.datetime.combine(scenario.start + dt.timedelta(days=scenario.days), dt.time(0), tzinfo=BEIJING)


def why_not_planned(scenario: Scenario, targets: gpd.GeoDataFrame) -> dict[str, str]:
    """Task id -> why the plan does not serve it, for the scenario's tasks it leaves out."""
    sel = scenario.sites
    registry = targets.set_index(targets["site_id"].astype(str), drop=False)
    codes = resolve_regions(sel.regions) if sel.regions else None
    out = {}
    for task in scenario.tasks:
        if task.site not in registry.index:
            out[task.id] = f"site {task.site} is not in the registry"
            continue
        row = registry.loc[task.site]
        if task.due >= plan_end(scenario):
            out[task.id] = f"due {task.due.astimezone(BEIJING):%Y-%m-%d %H:%M}, after this plan"
        elif row["layer"] not in sel.layers:
            out[task.id] = f"site {task.site} is a {row['layer']}, a layer this scenario does not plan"
        elif codes is not None and not {str(row["prefecture_code"]), str(row["county_code"])} & codes:
            out[task.id] = f"site {task.site} lies outside the scenario's regions ({', '.join(sel.regions)})"
        elif task.site in sel.exclude:
            out[task.id] = f"site {task.site} is excluded by the scenario (sites.exclude)"
        elif row["status"] in INACTIVE_STATUSES:
            out[task.id] = f"site {task.site} has status {row['status']} (inactive)"
    return out


def planned_tasks(scenario: Scenario, targets: gpd.GeoDataFrame) -> tuple[SiteTask, ...]:
    """The scenario's tasks this plan must serve (see the module docstring)."""
    skipped = why_not_planned(scenario, targets)
    return tuple(t for t in scenario.tasks if t.id not in skipped)


def task_scenario(scenario: Scenario, targets: gpd.GeoDataFrame) -> Scenario:
    """``scenario`` with the sites of its planned tasks added to the mandatory sites."""
    sites = [t.site for t in planned_tasks(scenario, targets) if t.site not in scenario.sites.mandatory]
    if not sites:
        return scenario
    mandatory = (*scenario.sites.mandatory, *dict.fromkeys(sites))
    return replace(scenario, sites=replace(scenario.sites, mandatory=mandatory))


def night_task_sites(tasks: Sequence[SiteTask]) -> frozenset[str]:
    """Sites a night-check task sends a team to at night."""
    return frozenset(t.site for t in tasks if t.kind == "night_check")


def deadlines(scenario: Scenario, tasks: Sequence[SiteTask]) -> dict[str, int]:
    """Site -> the plan minute by which its visit should end (the earliest deadline of its tasks
    that falls inside the plan; an overdue task adds none: it is served as soon as the plan can)."""
    out: dict[str, int] = {}
    for task in tasks:
        minute = scenario.datetime_to_minute(task.due)
        if minute > 0:
            out[task.site] = min(out.get(task.site, minute), minute)
    return out


def task_report(scenario: Scenario, skipped: dict[str, str], plan: dict) -> list[dict]:
    """One entry per scenario task for the plan file: the task, the stop serving it (``team``,
    ``seq``, ``start``) and whether it ends by the deadline (``on_time``), or ``note`` saying why not
    (``skipped``: :func:`why_not_planned`)."""
    dropped = {str(d["id"]): d["reason"] for d in plan.get("dropped", ())}
    stops = {
        str(stop["id"]): (team["team_id"], stop)
        for team in plan.get("teams", ())
        for stop in team["stops"]
        if stop["type"] == "site" and stop.get("recorded") != "not_inspected"
    }
    out = []
    for task in scenario.tasks:
        entry = {**task.as_mapping(), "team": None, "seq": None, "start": None, "on_time": None, "note": None}
        if task.id in skipped:
            entry["note"] = f"not in this plan: {skipped[task.id]}"
        elif task.site not in stops:
            entry["note"] = f"not visited: {dropped.get(task.site, 'no stop at the site')}"
        else:
            team_id, stop = stops[task.site]
            end = dt.datetime.fromisoformat(stop["start"]) + dt.timedelta(
                minutes=int(stop["service_minutes"])
            )
            entry.update(team=team_id, seq=stop["seq"], start=stop["start"], on_time=end <= task.due)
            if not entry["on_time"]:
                entry["note"] = (
                    "overdue before the plan starts: visited as early as the plan allows"
                    if task.due <= scenario.horizon_start
                    else "visited after the deadline: no window of the plan before it fits the visit"
                )
        out.append(entry)
    return out
