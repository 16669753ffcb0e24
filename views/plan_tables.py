"""Tables and a printable sheet from a weekly plan (the planner's JSON) and the registry.

:func:`days_table` (per team and day: leave, bed, driving, duty), :func:`stops_table` and
:func:`dropped_table` are what the chief reviews before approving;
:func:`route_sheet_html` is one team's route as a self-contained HTML page to print (stops,
times, site details and a checklist per site).
"""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import pandas as pd

from layers.schema import CATEGORIES
from layers.spreadsheet import export_notes, has_simulated
from views.i18n import language, register
from views.pages.my_sites import checklist
from views.route_layers import first_day, plan_day
from views.vocabulary import label, labels
from views.web_text import web_text

_TEXT = {
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
    "plan.col.leg_break": ("途中休息（分）", "Leg breaks min"),
    "plan.col.time": ("时间", "Times"),
    "plan.col.service_min": ("检查分钟", "Service min"),
    "plan.col.priority": ("优先级", "Priority"),
    "plan.col.mandatory": ("必检", "Mandatory"),
    "plan.col.night_check": ("夜查", "Night check"),
    "plan.col.reason": ("原因", "Reason"),
    "plan.kind.base": ("基地", "base"),
    "plan.kind.lodging": ("住宿", "lodging"),
    "plan.kind.night": ("过夜", "overnight"),
    "plan.rest_day": ("休整", "rest day"),
    "plan.next_day": ("次日", "next day"),
    "plan.weekday": ("周一,周二,周三,周四,周五,周六,周日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    "plan.day_label": ("{weekday} {date}", "{weekday} {date}"),
    "plan.sheet.times": (
        "到 {arrive}<br>查 {start}<br>离 {depart}",
        "arr {arrive}<br>start {start}<br>dep {depart}",
    ),
    "plan.reason.full": (
        "工作时间排不下：各天已满（驾驶、工作时长和工作时段限制）",
        "not fitted in the teams' working time: the days are full (driving, duty and work-window limits)",
    ),
    "plan.reason.too_far": (
        "离所有计划路线太远：在限制内无法往返",
        "too far from every planned route: no duty could drive there and on within the limits",
    ),
    "plan.reason.detour": (
        "不值得绕路：至少多开 {detour} 小时，超过优先级 {priority} 的点位所值的 {value} 小时",
        "not worth the detour: at least {detour} h of extra driving, more than the {value} h a site of "
        "priority {priority} is worth",
    ),
    "plan.reason.mandatory_full": (
        "必检，但与其他必检点和住宿一起排不进各队的工作时间（驾驶、工作时长和工作时段限制）",
        "mandatory, but it does not fit in the teams' working time (driving, duty and work-window limits) "
        "together with the other mandatory sites and the nights' stays",
    ),
    "plan.reason.mandatory": ("无法安排必检点：{reason}", "cannot visit mandatory site: {reason}"),
    "plan.reason.unreachable": (
        "道路不可达：路网不通该点",
        "unreachable by road: no road of the network reaches it",
    ),
    "plan.reason.unreachable_bases": (
        "从有能力的队伍基地出发均无道路可达",
        "unreachable by road from every able team's base",
    ),
    "plan.reason.inactive": (
        "单位状态为 {status}：停产或搬迁单位不检查",
        "site status is {status}: inactive units are not inspected",
    ),
    "plan.reason.skill": (
        "需要能力 {skills}，场景中没有队伍具备",
        "needs skill {skills}; no team in the scenario has it",
    ),
    "plan.reason.skills_together": (
        "需要同时具备 {skills}，没有一个队伍全部具备",
        "needs skills {skills} together; no single team has all of them",
    ),
    "plan.warning.time_budget": (
        "按时间预算求解：再次运行或换一台电脑可能得到不同的计划",
        "planned with a time budget: another run or machine may give a different plan",
    ),
    "plan.warning.partial_closure": (
        "以下封闭只在本周部分日期生效，但每天都已避开：{names}",
        "closed for part of the week and avoided on every day: {names}",
    ),
    "plan.warning.officers": (
        "抽中执法人员未与队伍对应：没有队伍填写队员编号（teams[].officers），任何有能力的队伍都可检查抽中点位",
        "drawn officers were not matched to teams: no team lists its officers (teams[].officers), so any "
        "able team may visit a drawn site",
    ),
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
}
T = register(_TEXT)
_ENGLISH = {key: english for key, (_, english) in _TEXT.items()}


def category_label(category: object) -> str:
    """A supervision category in the session's language (unknown values as they are)."""
    return label("category", category)


def _registry(targets: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(targets.drop(columns="geometry")).set_index(targets["site_id"].astype(str))


def site_kind_label(kind: object) -> str:
    """A registry site kind in the session's language (unknown kinds as they are)."""
    return label("kind", kind)


def day_label(day: dt.date | str) -> str:
    """A plan day as the chief reads it: weekday and ``MM-DD`` (``周一 11-23`` / ``Mon 11-23``)."""
    date = dt.date.fromisoformat(str(day)[:10])
    return T("plan.day_label", weekday=T("plan.weekday").split(",")[date.weekday()], date=f"{date:%m-%d}")


def stop_date(plan: dict, stop: dict) -> dt.date:
    """The calendar date of the plan day a stop belongs to (a night check after midnight: the day before)."""
    return first_day(plan) + dt.timedelta(days=plan_day(first_day(plan), stop["arrive"]) - 1)


def hours(minutes: object) -> str:
    """Minutes as hours with one decimal (``4.0``)."""
    return f"{float(minutes or 0) / 60:.1f}"


def is_rest_day(day: dict) -> bool:
    """A plan day on which the team neither drives nor inspects."""
    return not float(day.get("drive_minutes") or 0) and not int(day.get("sites") or 0)


_PATTERNS = [
    (
        re.compile(
            r"not worth the detour: at least ([\d.]+) h of extra driving, more than the ([\d.]+) h a site "
            r"of priority (\S+) is worth"
        ),
        "plan.reason.detour",
        ("detour", "value", "priority"),
    ),
    (
        re.compile(r"site status is (\S+): inactive units are not inspected"),
        "plan.reason.inactive",
        ("status",),
    ),
    (re.compile(r"needs skill (.+); no team in the scenario has it"), "plan.reason.skill", ("skills",)),
    (
        re.compile(r"needs skills (.+) together; no single team has all of them"),
        "plan.reason.skills_together",
        ("skills",),
    ),
    (
        re.compile(r"closed for part of the week and avoided on every day: (.+)"),
        "plan.warning.partial_closure",
        ("names",),
    ),
]
_FIXED = {
    "plan.reason.full",
    "plan.reason.too_far",
    "plan.reason.mandatory_full",
    "plan.reason.unreachable",
    "plan.reason.unreachable_bases",
    "plan.warning.time_budget",
    "plan.warning.officers",
}


def planner_text(text: object) -> str:
    """A reason or warning sentence of the planner (English) in the session's language; sentences
    the page does not know stay as the planner wrote them."""
    text = str(text)
    prefix = "cannot visit mandatory site: "
    if text.startswith(prefix):
        return T("plan.reason.mandatory", reason=planner_text(text.removeprefix(prefix)))
    for key in _FIXED:
        if text == _english(key):
            return T(key)
    for pattern, key, names in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            values = dict(zip(names, found.groups(), strict=True))
            # The codes inside a sentence (a status, skills) read in the session's language too.
            if "status" in values:
                values["status"] = label("status", values["status"])
            if "skills" in values:
                values["skills"] = labels("skill", re.split(r"\s*[,+]\s*", values["skills"]))
            return T(key, **values)
    return text


def _english(key: str) -> str:
    return _ENGLISH[key]


def stop_kind(stop: dict, registry: pd.DataFrame) -> str:
    """What a stop is, in the session's language (a site's registry kind, or base / lodging)."""
    if stop["type"] == "site":
        return site_kind_label(registry["kind"].get(stop["id"], "")) if "kind" in registry else ""
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
    """One row per team and plan day (format 2 plans): day, inspections, hours of driving and duty
    (one decimal), bed, leave, arrival at the bed (``HH:MM``, ``+1`` the day after) and km, the
    columns a chief needs most first (a phone shows the left ones). A day without driving and
    inspections reads "休整 / rest day". Empty for a format 1 plan."""
    rows = []
    for team in plan.get("teams") or []:
        for day in team.get("days") or []:
            rest = is_rest_day(day)
            rows.append(
                {
                    T("plan.col.team"): str(team["team_id"]),
                    T("plan.col.date"): day_label(day["date"]),
                    T("plan.col.sites"): T("plan.rest_day") if rest else str(int(day.get("sites") or 0)),
                    T("plan.col.drive_h"): "" if rest else hours(day.get("drive_minutes")),
                    T("plan.col.duty_h"): "" if rest else hours(day.get("duty_minutes")),
                    T("plan.col.bed"): str(day.get("bed") or ""),
                    T("plan.col.leave"): "" if rest else _time_on(day["date"], day.get("leave")),
                    T("plan.col.arrive_bed"): "" if rest else _time_on(day["date"], day.get("arrive_bed")),
                    T("plan.col.km"): "" if rest else f"{float(day.get('km') or 0):.0f}",
                }
            )
    columns = ("team", "date", "sites", "drive_h", "duty_h", "bed", "leave", "arrive_bed", "km")
    return pd.DataFrame(rows, columns=[T(f"plan.col.{c}") for c in columns])


def stop_start(stop: dict) -> str:
    """When the inspection starts: ``start`` (format 2), else the arrival (format 1 plans)."""
    return str(stop.get("start") or stop["arrive"])


def stops_table(plan: dict, targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per stop of every team: team, seq, day (weekday and date), the site, then the
    inspection start (``HH:MM`` on that day, ``+1`` after midnight), the site, arrival and
    departure, inspection and leg times, kind, priority and the id last (a phone shows the left columns)."""
    registry = _registry(targets)
    rows = []
    for team in plan["teams"]:
        for stop in team["stops"]:
            date = stop_date(plan, stop).isoformat()
            rows.append(
                {
                    T("plan.col.team"): team["team_id"],
                    T("plan.col.seq"): int(stop["seq"]),
                    T("plan.col.day"): day_label(date),
                    T("plan.col.start"): _time_on(date, stop_start(stop)),
                    T("plan.col.site"): stop["name"],
                    T("plan.col.arrive"): _time_on(date, stop["arrive"]),
                    T("plan.col.depart"): _time_on(date, stop["depart"]),
                    T("plan.col.service_min"): int(stop["service_minutes"]),
                    T("plan.col.leg_km"): round(float(stop["leg_km"]), 1),
                    T("plan.col.leg_min"): int(stop["leg_minutes"]),
                    T("plan.col.leg_break"): int(stop.get("leg_break_minutes") or 0),
                    T("plan.col.kind"): stop_kind(stop, registry),
                    T("plan.col.priority"): stop.get("priority"),
                    T("plan.col.mandatory"): bool(stop.get("mandatory")),
                    T("plan.col.night_check"): bool(stop.get("night_check")),
                    T("plan.col.id"): stop["id"],
                }
            )
    return pd.DataFrame(rows)


def dropped_table(plan: dict, targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per scenario site left out of the routes: the site, the planner's reason (in the
    session's language where the page knows the sentence), mandatory, category, kind and id."""
    registry = _registry(targets)
    rows = [
        {
            T("plan.col.site"): registry["name"].get(item["id"], ""),
            T("plan.col.reason"): planner_text(item["reason"]),
            T("plan.col.mandatory"): bool(item.get("mandatory")),
            T("plan.col.category"): category_label(registry["category"].get(item["id"], "")),
            T("plan.col.kind"): site_kind_label(registry["kind"].get(item["id"], "")),
            T("plan.col.id"): item["id"],
        }
        for item in plan["dropped"]
    ]
    return pd.DataFrame(
        rows,
        columns=[T(f"plan.col.{c}") for c in ("site", "reason", "mandatory", "category", "kind", "id")],
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
@media screen and (max-width:600px){thead{display:none} table,tbody,tr,td{display:block;width:auto}
tr{border:1px solid #999;margin-bottom:8px} td{border:none;border-bottom:1px dotted #ccc}
td:before{content:attr(data-label) ": ";color:#666;font-size:11px} td:empty{display:none}}
"""


def route_sheet_html(plan: dict, team: dict, targets: gpd.GeoDataFrame) -> str:
    """A printable HTML page of one team's route: each stop with times and, for sites, the site's
    kind, category, region, service time and a checklist."""
    registry = _registry(targets)
    start = first_day(plan)
    esc = web_text
    head = [
        T("plan.col.seq"),
        T("plan.col.day"),
        T("plan.col.time"),
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
        date = stop_date(plan, stop).isoformat()
        times = T(
            "plan.sheet.times",
            arrive=esc(_time_on(date, stop["arrive"])),
            start=esc(_time_on(date, stop_start(stop))),
            depart=esc(_time_on(date, stop["depart"])),
        )
        cells = [
            esc(stop["seq"]),
            f"{plan_day(start, stop['arrive'])} · {esc(day_label(date))}",
            times,
            f"<b>{esc(str(stop['name']))}</b>{detail}",
            esc(stop_kind(stop, registry)),
            f"{float(stop['leg_km']):.1f}",
            checklist,
        ]
        row = "".join(
            f'<td data-label="{esc(label)}">{cell}</td>' for label, cell in zip(head, cells, strict=True)
        )
        rows.append(f'<tr class="{"site" if is_site else "other"}">{row}</tr>')
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
        f"<footer>{_sheet_notes(team, targets)}</footer></body></html>"
    )


def _sheet_notes(team: dict, targets: gpd.GeoDataFrame) -> str:
    """The route sheet's footer: the data attribution, and SIMULATED when a site on it is simulated."""
    site_ids = [str(stop["id"]) for stop in team["stops"] if stop["type"] == "site"]
    sites = targets[targets["site_id"].astype(str).isin(site_ids)] if len(targets) else targets
    notes = export_notes(has_simulated(pd.DataFrame(sites)), language())
    return "".join(f'<p class="sim">{web_text(note)}</p>' for note in notes)
