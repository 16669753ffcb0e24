"""Tables and a printable sheet from a weekly plan (the planner's JSON) and the registry.

:func:`days_table` (per team and day: leave, bed, driving, duty), :func:`stops_table` and
:func:`dropped_table` are what the chief reviews before approving;
:func:`route_sheet_html` is one team's route as a self-contained HTML page to print (stops,
times, site details and a checklist per site).
"""

from __future__ import annotations

import html

import geopandas as gpd
import pandas as pd

from layers.schema import CATEGORIES
from views.i18n import register
from views.pages.my_sites import checklist
from views.route_layers import first_day, plan_day

T = register(
    {
        "plan.col.team": ("队伍", "Team"),
        "plan.col.seq": ("序号", "Seq"),
        "plan.col.day": ("天", "Day"),
        "plan.col.arrive": ("到达", "Arrive"),
        "plan.col.start": ("开始检查", "Start"),
        "plan.col.date": ("日期", "Date"),
        "plan.col.leave": ("出发", "Leave"),
        "plan.col.bed": ("住宿", "Bed"),
        "plan.col.arrive_bed": ("到住宿", "At bed"),
        "plan.col.drive_h": ("驾驶（时）", "Driving h"),
        "plan.col.duty_h": ("工作（时）", "Duty h"),
        "plan.col.km": ("公里", "km"),
        "plan.col.sites": ("检查点", "Sites"),
        "plan.col.depart": ("离开", "Depart"),
        "plan.col.site": ("地点", "Site"),
        "plan.col.id": ("编号", "ID"),
        "plan.col.kind": ("类型", "Kind"),
        "plan.col.category": ("监管类别", "Category"),
        "plan.col.leg_km": ("路段公里", "Leg km"),
        "plan.col.leg_min": ("路段分钟", "Leg min"),
        "plan.col.service_min": ("检查分钟", "Service min"),
        "plan.col.priority": ("优先级", "Priority"),
        "plan.col.mandatory": ("必检", "Mandatory"),
        "plan.col.night_check": ("夜查", "Night check"),
        "plan.col.reason": ("原因", "Reason"),
        "plan.category.key": ("重点", "key"),
        "plan.category.special": ("特殊", "special"),
        "plan.category.ordinary": ("一般", "ordinary"),
        "plan.kind.base": ("基地", "base"),
        "plan.kind.lodging": ("住宿", "lodging"),
        "plan.kind.night": ("过夜", "overnight"),
        "plan.sheet.title": ("巡护路线单 {team}", "Route sheet {team}"),
        "plan.sheet.plan": ("计划：{name}", "Plan: {name}"),
        "plan.sheet.summary": (
            "基地 {base}；行驶 {km:.0f} 公里，{hours:.1f} 小时；{sites} 个检查点",
            "Base {base}; {km:.0f} km, {hours:.1f} h of driving; {sites} sites",
        ),
        "plan.sheet.print": ("打印", "Print"),
        "plan.sheet.checklist": ("检查清单", "Checklist"),
        "plan.sheet.check.arrived": ("到达并出示证件", "Arrived, credentials shown"),
        "plan.sheet.check.photos": ("现场照片（带时间和位置）", "Site photos (time and position)"),
        "plan.sheet.check.outcome": ("记录检查结果（合规/违法）", "Outcome recorded (compliant / violation)"),
        "plan.sheet.check.signature": ("企业负责人签字", "Signed by the site's representative"),
        "plan.sheet.notes": ("备注", "Notes"),
        "plan.sheet.simulated": (
            "演示数据（模拟），非真实执法信息。",
            "SIMULATED demo data, not real enforcement data.",
        ),
    }
)


def category_label(category: object) -> str:
    """A supervision category in the session's language (unknown values as they are)."""
    return T(f"plan.category.{category}") if category in CATEGORIES else str(category)


def _registry(targets: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(targets.drop(columns="geometry")).set_index(targets["site_id"].astype(str))


def _clock(moment: str) -> str:
    """``MM-DD HH:MM`` of an ISO time."""
    return f"{moment[5:10]} {moment[11:16]}"


def stop_kind(stop: dict, registry: pd.DataFrame) -> str:
    """What a stop is, in the session's language (a site's registry kind, or base / lodging)."""
    if stop["type"] == "site":
        return str(registry["kind"].get(stop["id"], "")) if "kind" in registry else ""
    if stop.get("night") is not None and stop["type"] == "base":
        return f"{T('plan.kind.base')} · {T('plan.kind.night')}"
    return T(f"plan.kind.{stop['type']}")


def _time_on(day: str, moment: str | None) -> str:
    """``HH:MM`` of an ISO time on plan day ``day`` (``YYYY-MM-DD``), ``HH:MM +1`` the day after."""
    if not moment:
        return ""
    text = str(moment)
    shift = (pd.Timestamp(text[:10]) - pd.Timestamp(day)).days if len(text) >= 10 else 0
    return f"{text[11:16]}{f' +{shift}' if shift > 0 else ''}"


def has_days(plan: dict) -> bool:
    """Whether the plan has the per-day summaries of format version 2 (old plans do not)."""
    return any(team.get("days") for team in plan.get("teams") or [])


def days_table(plan: dict) -> pd.DataFrame:
    """One row per team and plan day (format 2 plans): date, leave, bed, arrival at the bed,
    hours of driving and duty, km and inspections. Empty for a format 1 plan."""
    rows = [
        {
            T("plan.col.team"): team["team_id"],
            T("plan.col.date"): str(day["date"])[5:],
            T("plan.col.leave"): _time_on(day["date"], day.get("leave")),
            T("plan.col.bed"): str(day.get("bed") or ""),
            T("plan.col.arrive_bed"): _time_on(day["date"], day.get("arrive_bed")),
            T("plan.col.drive_h"): round(float(day.get("drive_minutes") or 0) / 60, 1),
            T("plan.col.duty_h"): round(float(day.get("duty_minutes") or 0) / 60, 1),
            T("plan.col.km"): round(float(day.get("km") or 0)),
            T("plan.col.sites"): int(day.get("sites") or 0),
        }
        for team in plan.get("teams") or []
        for day in team.get("days") or []
    ]
    columns = ("team", "date", "leave", "bed", "arrive_bed", "drive_h", "duty_h", "km", "sites")
    return pd.DataFrame(rows, columns=[T(f"plan.col.{c}") for c in columns])


def stop_start(stop: dict) -> str:
    """When the inspection starts: ``start`` (format 2), else the arrival (format 1 plans)."""
    return str(stop.get("start") or stop["arrive"])


def stops_table(plan: dict, targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per stop of every team: team, seq, day, arrive, inspection start, depart, site,
    kind, legs, priority."""
    registry = _registry(targets)
    start = first_day(plan)
    rows = []
    for team in plan["teams"]:
        for stop in team["stops"]:
            rows.append(
                {
                    T("plan.col.team"): team["team_id"],
                    T("plan.col.seq"): int(stop["seq"]),
                    T("plan.col.day"): plan_day(start, stop["arrive"]),
                    T("plan.col.arrive"): _clock(stop["arrive"]),
                    T("plan.col.start"): _clock(stop_start(stop)),
                    T("plan.col.depart"): _clock(stop["depart"]),
                    T("plan.col.site"): stop["name"],
                    T("plan.col.id"): stop["id"],
                    T("plan.col.kind"): stop_kind(stop, registry),
                    T("plan.col.leg_km"): float(stop["leg_km"]),
                    T("plan.col.leg_min"): int(stop["leg_minutes"]),
                    T("plan.col.service_min"): int(stop["service_minutes"]),
                    T("plan.col.priority"): stop.get("priority"),
                    T("plan.col.mandatory"): bool(stop.get("mandatory")),
                    T("plan.col.night_check"): bool(stop.get("night_check")),
                }
            )
    return pd.DataFrame(rows)


def dropped_table(plan: dict, targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per scenario site left out of the routes, with the planner's reason."""
    registry = _registry(targets)
    rows = [
        {
            T("plan.col.id"): item["id"],
            T("plan.col.site"): registry["name"].get(item["id"], ""),
            T("plan.col.kind"): registry["kind"].get(item["id"], ""),
            T("plan.col.category"): category_label(registry["category"].get(item["id"], "")),
            T("plan.col.mandatory"): bool(item.get("mandatory")),
            T("plan.col.reason"): item["reason"],
        }
        for item in plan["dropped"]
    ]
    return pd.DataFrame(
        rows,
        columns=[T(f"plan.col.{c}") for c in ("id", "site", "kind", "category", "mandatory", "reason")],
    )


def visited_by_category(plan: dict, targets: gpd.GeoDataFrame) -> dict[str, int]:
    """Planned site visits per supervision category (every category, zero included)."""
    registry = _registry(targets)
    visited = [s["id"] for t in plan["teams"] for s in t["stops"] if s["type"] == "site"]
    counts = registry["category"].reindex(visited).value_counts()
    return {category: int(counts.get(category, 0)) for category in CATEGORIES}


def _checklist(site: pd.Series) -> list[str]:
    """The officer's page's what-to-check items of the site, between arrival and sign-off."""
    items = [T("plan.sheet.check.arrived"), *checklist(site), T("plan.sheet.check.photos")]
    return items + [T("plan.sheet.check.outcome"), T("plan.sheet.check.signature")]


SHEET_STYLE = """
body{font:13px/1.4 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:18px;color:#111}
h1{font-size:18px;margin:0 0 4px} .meta{color:#444;margin-bottom:10px}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #999;padding:3px 6px;vertical-align:top}
th{background:#eee;text-align:left} tr.site td{background:#fff} tr.other td{background:#f6f6f6;color:#444}
ul.check{list-style:none;margin:2px 0;padding:0} ul.check li:before{content:"\\2610  ";font-size:15px}
.notes{height:28px;border-bottom:1px dotted #999} .sim{color:#a00;font-size:11px;margin-top:8px}
@media print{button{display:none} tr{page-break-inside:avoid}}
"""


def route_sheet_html(plan: dict, team: dict, targets: gpd.GeoDataFrame) -> str:
    """A printable HTML page of one team's route: each stop with times and, for sites, the site's
    kind, category, region, service time and a checklist."""
    registry = _registry(targets)
    start = first_day(plan)
    esc = html.escape
    head = [
        T("plan.col.seq"),
        T("plan.col.day"),
        T("plan.col.arrive"),
        T("plan.col.start"),
        T("plan.col.depart"),
        T("plan.col.site"),
        T("plan.col.kind"),
        T("plan.col.leg_km"),
        T("plan.sheet.checklist"),
    ]
    rows = []
    for stop in team["stops"]:
        is_site = stop["type"] == "site"
        site = registry.loc[stop["id"]] if is_site and stop["id"] in registry.index else None
        detail = ""
        checklist = ""
        if site is not None:
            detail = (
                f"<br><small>{esc(str(stop['id']))} · {esc(category_label(site['category']))} · "
                f"{esc(str(site['prefecture_name']))} {esc(str(site['county_name']))} · "
                f"{T('plan.col.service_min')} {int(stop['service_minutes'])}</small>"
            )
            items = "".join(f"<li>{esc(item)}</li>" for item in _checklist(site))
            checklist = (
                f'<ul class="check">{items}</ul><div class="notes">{esc(T("plan.sheet.notes"))}:</div>'
            )
        rows.append(
            f'<tr class="{"site" if is_site else "other"}"><td>{stop["seq"]}</td>'
            f"<td>{plan_day(start, stop['arrive'])}</td><td>{esc(_clock(stop['arrive']))}</td>"
            f"<td>{esc(_clock(stop_start(stop)))}</td>"
            f"<td>{esc(_clock(stop['depart']))}</td><td><b>{esc(str(stop['name']))}</b>{detail}</td>"
            f"<td>{esc(stop_kind(stop, registry))}</td><td>{float(stop['leg_km']):.1f}</td><td>{checklist}</td></tr>"
        )
    sites = sum(1 for s in team["stops"] if s["type"] == "site")
    title = T("plan.sheet.title", team=team["team_id"])
    summary = T(
        "plan.sheet.summary",
        base=team.get("base", ""),
        km=float(team["drive_km"]),
        hours=int(team["drive_minutes"]) / 60,
        sites=sites,
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{SHEET_STYLE}</style></head><body>"
        f'<button onclick="window.print()">{esc(T("plan.sheet.print"))}</button>'
        f'<h1>{esc(title)}</h1><div class="meta">{esc(T("plan.sheet.plan", name=plan["scenario"].get("name", "")))}'
        f"<br>{esc(summary)}</div>"
        f"<table><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="sim">{esc(T("plan.sheet.simulated"))}</p></body></html>'
    )
