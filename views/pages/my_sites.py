"""My sites (officer; chiefs for the teams of their detachment): the day's stops, site cards, visits.

Built for a phone in the field: a map of the day's route (numbered stops, the road between them),
a printable route sheet of the day, then one bordered block per stop with its coordinates, links
that start navigation in the phone's map apps (:mod:`layers.navigation`), a map on demand and the
details in expanders; no wide tables. What is shown comes from ``records.access`` only, so an
officer sees their own team's stops of issued plans from the release time on, and a chief the
teams of their detachment; the day's map and sheet hold those stops and the places the team sets
out from and sleeps at that day, nothing else of the plan.

Saving a visit twice (a second tap on Save, a retry after the connection dropped) stores it once:
the form sends the same values again, ``records.visits.record_visit`` returns the stored visit, and
the page says it was already recorded.

A link may name a plan, a team and a day (``/my-sites?plan=12&team=T1&day=2026-11-18``). The plan
is opened through :func:`records.access.open_plan` (a refusal is audited there); an officer asking
for another team is refused the same way and audited here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from layers.navigation import navigation_links
from layers.priority import FACTORS, ZONE_LAYERS, priority_breakdown
from layers.schema import SKILLS, parse_skills
from planning.export import plan_legs
from records import access
from records.accounts import Account
from records.cases import CATEGORIES as FINDINGS
from records.cases import open_case
from records.db import LOCAL_TZ, RecordsError
from records.visits import OUTCOMES, Visit
from views import data
from views.basemap import build_basemap
from views.dossier import show_dossier
from views.i18n import language_key, register
from views.offline_map import show_map
from views.route_layers import route_view, team_group
from views.session import audit_refusal, now, require_login, today
from views.vocabulary import label, labeller

#: Last visits shown on a site card.
HISTORY_VISITS = 3
#: The day's route map: its height, and the width its view is fitted to (a phone's).
DAY_MAP_HEIGHT_PX = 340
DAY_MAP_WIDTH_PX = 360
#: A stop's own map: its height and zoom (a town and the roads around the site).
STOP_MAP_HEIGHT_PX = 260
STOP_MAP_ZOOM = 11
#: Decimal places of the coordinates shown on a card (about 1 m).
COORDINATE_DECIMALS = 5

T = register(
    {
        "my_sites.title": ("我的点位", "My sites"),
        "my_sites.refused": ("您的账号不能查看巡查任务。", "Your account cannot see patrol assignments."),
        "my_sites.team": ("小组", "Team"),
        "my_sites.day": ("日期", "Day"),
        "my_sites.own_team": ("小组 {team}", "Team {team}"),
        "my_sites.plan_link": ("计划 #{plan}", "Plan #{plan}"),
        "my_sites.none": (
            "这一天没有可查看的任务（任务在当天早上发布）。",
            "No stops to show for this day (assignments are released on the morning of the day).",
        ),
        "my_sites.no_teams": ("这一天没有已下达的任务。", "No issued assignments on this day."),
        "my_sites.count": ("{n} 个点位", "{n} stops"),
        "my_sites.arrive": ("到达 {time}", "arrive {time}"),
        "my_sites.start": ("开始检查 {time}", "inspection starts {time}"),
        "my_sites.minutes": ("停留 {n} 分钟", "{n} min on site"),
        "my_sites.card": ("点位详情", "Site card"),
        "my_sites.kind": ("类型", "Kind"),
        "my_sites.category": ("监管类别", "Category"),
        "my_sites.risk_level": ("风险等级 {n}/5", "risk level {n}/5"),
        "my_sites.priority": ("优先级 {n:.0f}/100", "priority {n:.0f}/100"),
        "my_sites.factor.risk": ("风险", "risk"),
        "my_sites.factor.overdue": ("超期", "overdue"),
        "my_sites.factor.complaints": ("投诉", "complaints"),
        "my_sites.factor.violations": ("违法记录", "violations"),
        "my_sites.factor.sensitivity": ("敏感区", "sensitive zone"),
        "my_sites.history": ("最近检查", "Recent visits"),
        "my_sites.never": ("没有检查记录。", "No visits recorded."),
        "my_sites.last_result": ("上次结果：{outcome}（{day}）", "Last result: {outcome} ({day})"),
        "my_sites.checklist": ("检查要点", "What to check"),
        "my_sites.unknown_site": ("名录中没有此点位。", "This site is not in the registry."),
        "my_sites.record": ("记录检查结果", "Record the visit"),
        "my_sites.outcome": ("结果", "Outcome"),
        "my_sites.outcome.compliant": ("合规", "compliant"),
        "my_sites.outcome.violation": ("违法", "violation"),
        "my_sites.outcome.not_inspected": ("未检查", "not inspected"),
        "my_sites.reason": ("未检查原因", "Reason not inspected"),
        "my_sites.notes": ("备注", "Notes"),
        "my_sites.finding": ("违法类别（结果为违法时必填）", "Finding (required for a violation)"),
        "my_sites.finding.none": ("—", "—"),
        "my_sites.finding_needed": (
            "结果为违法时请选择违法类别：据此立案并确定整改期限。",
            "Choose the finding for a violation: it opens the case and sets its rectification deadline.",
        ),
        "my_sites.case_opened": (
            "已立案 {no}，整改期限 {due}；到期前的复查将列入周计划。",
            "Case {no} opened, rectify by {due}; its follow-up joins the weekly plans before then.",
        ),
        "my_sites.started": ("开始时间", "Started at"),
        "my_sites.duration": ("时长（分钟）", "Duration (minutes)"),
        "my_sites.save": ("保存", "Save"),
        "my_sites.reason_needed": (
            "请填写未检查的原因。",
            "Please give the reason the site was not inspected.",
        ),
        "my_sites.saved": ("已记录（编号 {id}）。", "Recorded (visit {id})."),
        "my_sites.already_saved": (
            "这次检查已经记录过（编号 {id}），没有重复保存。",
            "This visit was already recorded (visit {id}); it was not stored twice.",
        ),
        "my_sites.day_map": ("当天路线", "The day's route"),
        "my_sites.sheet": ("下载当天路线单（可离线打印）", "Download the day's route sheet (prints offline)"),
        "my_sites.coordinates": (
            "坐标（WGS-84，纬度, 经度）：{lat}, {lon}",
            "Coordinates (WGS-84, lat, lon): {lat}, {lon}",
        ),
        "my_sites.navigate": ("导航到这里：", "Navigate here:"),
        "my_sites.nav.geo": ("地图应用（geo）", "Map app (geo)"),
        "my_sites.nav.amap": ("高德地图", "Amap"),
        "my_sites.nav.baidu": ("百度地图", "Baidu Maps"),
        "my_sites.stop_map": ("在地图上显示", "Show on a map"),
        "my_sites.read_only": ("您的账号只能查看。", "Your account may view only."),
        "my_sites.updated": (
            "计划已更新（第 {version} 版）：{changes}",
            "Plan updated (version {version}): {changes}",
        ),
        "my_sites.updated.moved_in": ("调入 {sites}", "moved in {sites}"),
        "my_sites.updated.added": ("新增 {sites}", "added {sites}"),
        "my_sites.updated.moved_out": ("调出 {sites}", "moved out {sites}"),
        "my_sites.updated.removed": ("取消 {sites}", "removed {sites}"),
        "my_sites.bad_link": ("链接参数无效：{field}", "Invalid link parameter: {field}"),
        "my_sites.check.key_discharge_unit": (
            "排污口、在线监测数据与排污许可是否一致",
            "Outfalls, online-monitoring data and the discharge permit agree",
        ),
        "my_sites.check.industrial_park": (
            "园区污水集中处理与企业接管情况",
            "Park's central wastewater treatment and which firms are connected",
        ),
        "my_sites.check.hazardous_waste": (
            "危废贮存场所、标识与转移联单",
            "Hazardous-waste storage, labels and transfer manifests",
        ),
        "my_sites.check.sewage_plant": (
            "出水水质、污泥去向与运行记录",
            "Effluent quality, sludge disposal and logs",
        ),
        "my_sites.check.tailings_pond": ("坝体、渗滤与防渗设施", "Dam, seepage and lining"),
        "my_sites.check.livestock_farm": (
            "粪污处理与还田记录",
            "Manure handling and field-application records",
        ),
        "my_sites.check.mine": ("扬尘、废石堆放与生态修复", "Dust, waste-rock dumps and land restoration"),
        "my_sites.check.drinking_water_zone": (
            "一级保护区内有无排污口、建设或养殖",
            "No outfall, building or farming inside the first-grade zone",
        ),
        "my_sites.check.reservoir": ("库区周边排污与垃圾", "Discharges and waste around the reservoir"),
        "my_sites.check.river_intake": (
            "取水口上游排污与警示标志",
            "Discharges upstream of the intake; signs",
        ),
        "my_sites.check.groundwater_wellfield": (
            "井场周边污染源与井口防护",
            "Pollution sources near the wells; wellhead protection",
        ),
        "my_sites.check.nature_reserve": (
            "核心区、缓冲区内有无开发活动",
            "No development in the core and buffer zones",
        ),
        "my_sites.check.red_line_zone": (
            "生态红线内新增建设或开垦",
            "New building or land clearing in the red line",
        ),
        "my_sites.check.wetland_park": (
            "湿地填埋、排污与水位",
            "Wetland filling, discharges and water level",
        ),
        "my_sites.check.scenic_area": ("游客设施污水与垃圾处理", "Sewage and waste of visitor facilities"),
        "my_sites.check.key_category": (
            "重点监管对象：全面检查并拍照取证",
            "Key supervision target: full inspection with photo evidence",
        ),
        "my_sites.check.online": (
            "核对在线监测设备运行与数据",
            "Check the online-monitoring device and its data",
        ),
        "my_sites.check.previous_violations": (
            "近三年有违法记录：复查整改落实",
            "Violations in the last 3 years: check they were remedied",
        ),
        "my_sites.check.night": (
            "需夜查：核实夜间生产与排放",
            "Night check: verify night-time production and discharge",
        ),
        "my_sites.check.skill.drone": ("无人机巡查厂区及周边", "Drone flight over the site and surroundings"),
        "my_sites.check.skill.sampling": (
            "按规范采样并封存",
            "Take and seal samples by the standard procedure",
        ),
        "my_sites.check.skill.radiation": ("辐射剂量率检测", "Measure the radiation dose rate"),
        "my_sites.check.skill.boat": ("乘船查看水面与岸线", "Inspect the water surface and banks by boat"),
    }
)


def checklist(site: Mapping[str, object]) -> list[str]:
    """A short list of what to check at ``site`` (a registry row), in the session's language.

    Derived from the site's kind, its category, online monitoring, past violations, the night-check
    flag and the skills it requires, in that order.
    """
    items = [T(f"my_sites.check.{site['kind']}")]
    if site.get("category") == "key":
        items.append(T("my_sites.check.key_category"))
    if site.get("online_monitoring") is True:
        items.append(T("my_sites.check.online"))
    violations = site.get("violations_3y")
    if violations is not None and not pd.isna(violations) and int(violations) > 0:
        items.append(T("my_sites.check.previous_violations"))
    if site.get("night_check") is True:
        items.append(T("my_sites.check.night"))
    skills = site.get("skills_required")
    required = parse_skills(None if skills is None or pd.isna(skills) else str(skills))
    items += [T(f"my_sites.check.skill.{skill}") for skill in SKILLS if skill in required]
    return items


@st.cache_data(show_spinner=False)
def site_priorities(site_ids: tuple[str, ...], as_of: date) -> pd.DataFrame:
    """Priority points per factor for ``site_ids`` on ``as_of``, indexed by site_id."""
    targets = data.targets()
    chosen = targets[targets["site_id"].isin(site_ids)]
    parts = priority_breakdown(chosen, as_of, zones=targets[targets["layer"].isin(ZONE_LAYERS)])
    parts.index = chosen["site_id"].astype(str)
    return parts


def _local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def _link_parameters() -> tuple[int | None, str | None, date | None]:
    """plan, team and day from the page's query string; a malformed value stops the page."""
    params = st.query_params
    try:
        plan_id = int(params["plan"]) if "plan" in params else None
        day = date.fromisoformat(params["day"]) if "day" in params else None
    except ValueError:
        st.error(T("my_sites.bad_link", field="plan/day"))
        st.stop()
    return plan_id, params.get("team"), day


def _assignments(account: Account, day: date, plan_id: int | None) -> tuple[pd.DataFrame, dict[int, dict]]:
    """The stops of ``day`` the account may see (of plan ``plan_id`` only, when given), with their
    planned inspection starts, and the stored plans they belong to (by plan id). Only plans whose
    stops ``records.access`` let through are read; the page shows no other part of them than the
    visible stops' teams and days (:func:`day_route`)."""
    with data.records_store() as store:
        if plan_id is not None:
            access.open_plan(store, account, plan_id, now(), data.site_prefectures())
        frame = access.visible_assignments(store, account, day, now(), data.site_prefectures())
        frame = frame if plan_id is None else frame[frame["plan_id"] == plan_id].reset_index(drop=True)
        plans = {int(p): store.plan(int(p))["plan"] for p in sorted(set(frame["plan_id"]))}
    return _with_starts(frame, plans), plans


def _with_starts(frame: pd.DataFrame, plans: Mapping[int, dict]) -> pd.DataFrame:
    """``frame`` (visible stops) with the planned inspection ``start`` of each stop from its plan
    (format 2 plans); a stop without one (format 1 plans) starts on arrival."""
    if frame.empty:
        return frame.assign(start=pd.Series(dtype=object))
    starts = {
        (plan_id, str(team["team_id"]), int(stop["seq"])): str(stop["start"])
        for plan_id, plan in plans.items()
        for team in plan.get("teams") or []
        for stop in team.get("stops") or []
        if stop.get("start")
    }
    keys = zip(
        frame["plan_id"].astype(int), frame["team_id"].astype(str), frame["seq"].astype(int), strict=True
    )
    return frame.assign(start=[starts.get(key) for key in keys])


def day_route(plan: dict, team_id: str, seqs: set[int], day: date) -> dict:
    """What team ``team_id`` of ``plan`` drives on ``day``, as a one-day plan of that team alone.

    ``seqs`` are the team's site stops of the day (those the account may see). Kept: those sites,
    the stops between them, the stop before the first (the base, or last night's bed) and a bed or
    the base right after the last; the sites are renumbered 1, 2, … in driving order, as on the
    page. ``drive_km`` and ``drive_minutes`` are the day's legs.
    """
    team = next(t for t in plan["teams"] if str(t["team_id"]) == team_id)
    stops = team["stops"]
    chosen = [i for i, stop in enumerate(stops) if stop["type"] == "site" and int(stop["seq"]) in seqs]
    first, last = max(chosen[0] - 1, 0), chosen[-1]
    if last + 1 < len(stops) and stops[last + 1]["type"] != "site":
        last += 1
    numbers = iter(range(1, len(stops) + 1))
    kept = [
        {**stop, "seq": next(numbers)} if stop["type"] == "site" else dict(stop)
        for stop in stops[first : last + 1]
    ]
    return {
        "scenario": {"name": plan["scenario"].get("name", ""), "start": day.isoformat(), "days": 1},
        "travel_model": plan.get("travel_model"),
        "teams": [
            {
                "team_id": team_id,
                "base": team.get("base", ""),
                "stops": kept,
                "drive_km": sum(float(stop.get("leg_km") or 0) for stop in kept[1:]),
                "drive_minutes": sum(int(stop.get("leg_minutes") or 0) for stop in kept[1:]),
            }
        ],
    }


@st.cache_data(show_spinner=False, max_entries=16)
def _legs(route_json: str) -> dict[str, list[list[tuple[float, float]]]]:
    """The road geometry of a day route's legs (keyed on its JSON: the same day is drawn once)."""
    return plan_legs(json.loads(route_json), data.road_network())


def _route_map(route: dict, key: str, centre: tuple[float, float] | None = None) -> None:
    """The day's route (numbered stops, the road between them) on the offline basemap, fitted to
    the route, or around ``centre`` (a stop) at :data:`STOP_MAP_ZOOM`."""
    legs = _legs(json.dumps(route, sort_keys=True))
    height = DAY_MAP_HEIGHT_PX if centre is None else STOP_MAP_HEIGHT_PX
    m = build_basemap(data.basemap(), online_tiles=False, height_px=height)
    team = str(route["teams"][0]["team_id"])
    start = date.fromisoformat(route["scenario"]["start"])
    m.add_child(team_group(route, 0, legs.get(team, []), start), name="xunhu_day_route")
    if centre is None:
        view, zoom = route_view(route, legs, data.basemap().bounds, DAY_MAP_WIDTH_PX, height)
    else:
        view, zoom = list(centre), STOP_MAP_ZOOM
    show_map(m, key=key, height_px=height, centre=view, zoom=zoom)


def _route_sheet(route: dict, team: str, day: date) -> None:
    """The download of the day's printable route sheet (a self-contained page: it opens and prints
    offline). The download does not rerun the page."""
    # Imported here: views.plan_tables takes this page's checklist.
    from views.plan_tables import route_sheet_html

    st.download_button(
        T("my_sites.sheet"),
        route_sheet_html(route, route["teams"][0], data.targets()),
        file_name=f"route-{team}-{day.isoformat()}.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/print:",
        key=f"my_sites_sheet_{team}_{day.isoformat()}",
    )


def update_notes(plan: dict, version: int, team: str, day: date, names: Mapping[str, str]) -> str | None:
    """The notice for ``team`` on ``day`` when ``plan`` (version ``version``) replaced an earlier
    version and its re-plan diff changed that team's day; None otherwise."""
    diff = (plan.get("replan") or {}).get("diff") or []
    if version < 2:
        return None
    for row in diff:
        if row.get("team") != team or row.get("date") != day.isoformat():
            continue
        parts = [
            T(f"my_sites.updated.{name}", sites="、".join(names.get(s, s) for s in row[name]))
            for name in ("moved_in", "added", "moved_out", "removed")
            if row.get(name)
        ]
        if parts:
            return T("my_sites.updated", version=version, changes="；".join(parts))
    return None


def _update_notices(account: Account, team: str, day: date) -> list[str]:
    """Notices of the newest issued versions (per plan key) the account may open that replaced an
    earlier version and changed ``team``'s ``day`` (for an officer: their own team, once the day is
    released). Only the diff row of that team and day is read from the stored plan."""
    moment = now()
    with data.records_store() as store:
        try:
            frame = access.visible_plans(store, account, moment, data.site_prefectures())
        except access.AccessDenied:
            return []
        frame = frame[frame["status"].isin(("approved", "done"))]
        newest = frame.sort_values("version").groupby("plan_key").tail(1)
        rows = [store.plan(int(p)) for p in newest[newest["version"] > 1]["plan_id"]]
    if account.role == "officer":
        rows = [r for r in rows if access.released(r["plan"], day, moment)]
    registry = data.targets().set_index("site_id")["name"].astype(str).to_dict()
    notes = []
    for row in rows:
        names = dict(registry)
        for t in row["plan"].get("teams") or []:
            names.update({str(s["id"]): str(s["name"]) for s in t.get("stops") or [] if s.get("name")})
        note = update_notes(row["plan"], int(row["version"]), team, day, names)
        if note:
            notes.append(note)
    return notes


def _day_routes(plans: Mapping[int, dict], stops: pd.DataFrame, team: str, day: date) -> dict[int, dict]:
    """Per plan with stops of ``team`` shown for ``day`` (normally one), the day's route
    (:func:`day_route`)."""
    return {
        plan_id: day_route(plans[plan_id], team, set(group["seq"].astype(int)), day)
        for plan_id, group in stops.groupby(stops["plan_id"].astype(int))
    }


def planned_start(stop: pd.Series) -> datetime:
    """When the inspection of ``stop`` is planned to start (its arrival for format 1 plans)."""
    start = stop.get("start")
    moment = start if isinstance(start, str) and start else str(stop["arrive"])
    return datetime.fromisoformat(moment).astimezone(LOCAL_TZ)


def _site_history(site_ids: list[str]) -> pd.DataFrame:
    with data.records_store() as store:
        visits = store.visits()
    return visits[visits["site_id"].isin(site_ids)]


def _outcome(name: str) -> str:
    return T(f"my_sites.outcome.{name}")


def _site_card(site: pd.Series | None, priority: pd.Series | None, history: pd.DataFrame) -> None:
    if site is None:
        st.caption(T("my_sites.unknown_site"))
    else:
        st.markdown(
            f"**{T('my_sites.kind')}:** {label('kind', site['kind'])}  \n"
            f"**{T('my_sites.category')}:** {label('category', site['category'])} · "
            + T("my_sites.risk_level", n=site["risk_level"])
        )
    if priority is not None:
        factors = " · ".join(
            f"{T(f'my_sites.factor.{factor}')} {priority[factor]:.0f}"
            for factor in FACTORS
            if priority[factor] >= 0.5
        )
        st.markdown(f"{T('my_sites.priority', n=priority['priority'])}  \n{factors}")
    st.markdown(f"**{T('my_sites.history')}**")
    if history.empty:
        st.caption(T("my_sites.never"))
    else:
        last = history.iloc[-1]
        st.markdown(
            T("my_sites.last_result", outcome=_outcome(last["outcome"]), day=_local_day(last["started_at"]))
        )
        for _, visit in history.tail(HISTORY_VISITS).iloc[::-1].iterrows():
            note = f" — {visit['notes']}" if visit["notes"] else ""
            st.caption(
                f"{visit['started_at'].astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} · {visit['team_id']} · "
                f"{_outcome(visit['outcome'])}{note}"
            )
    if site is not None:
        st.markdown(f"**{T('my_sites.checklist')}**")
        st.markdown("\n".join(f"- {item}" for item in checklist(site.to_dict())))


def _visit_form(account: Account, stop: pd.Series) -> None:
    """The visit outcome form of one stop; records through records.access (the account is the actor)."""
    arrive = planned_start(stop)
    key = language_key(f"visit-{stop['plan_id']}-{stop['team_id']}-{stop['seq']}")
    with st.form(key):
        # Labels as options (not a format_func): what the widget holds is what the user reads.
        labels = {_outcome(name): name for name in OUTCOMES}
        choice = st.radio(T("my_sites.outcome"), list(labels), horizontal=True, key=f"{key}-outcome")
        reason = st.text_input(T("my_sites.reason"), key=f"{key}-reason")
        notes = st.text_area(T("my_sites.notes"), key=f"{key}-notes", height=80)
        finding_label = labeller("finding")
        none_label = T("my_sites.finding.none")
        finding = st.selectbox(
            T("my_sites.finding"),
            [None, *FINDINGS],
            format_func=lambda code: none_label if code is None else finding_label(code),
            key=f"{key}-finding",
        )
        started = st.time_input(T("my_sites.started"), value=arrive.time(), step=300, key=f"{key}-started")
        minutes = st.number_input(
            T("my_sites.duration"),
            min_value=1,
            max_value=24 * 60,
            value=int(stop["service_minutes"] or 30),
            key=f"{key}-minutes",
        )
        if not st.form_submit_button(T("my_sites.save")):
            return
    outcome = labels[choice]
    if outcome == "not_inspected" and not reason.strip():
        st.error(T("my_sites.reason_needed"))
        return
    if outcome == "violation" and finding is None:
        st.error(T("my_sites.finding_needed"))
        return
    started_at = datetime.combine(arrive.date(), started or time(0), LOCAL_TZ)
    visit = Visit(
        site_id=str(stop["site_id"]),
        team_id=str(stop["team_id"]),
        started_at=started_at,
        ended_at=started_at + timedelta(minutes=int(minutes)),
        outcome=outcome,
        officers=(account.display_name or account.username,),
        reason=reason.strip() or None,
        notes=notes.strip(),
        lon=float(stop["lon"]),
        lat=float(stop["lat"]),
        plan_id=int(stop["plan_id"]),
    )
    try:
        with data.records_store() as store:
            # Ids only grow: a returned id not above the last one before is a visit stored earlier.
            last = store.conn.execute("SELECT coalesce(max(visit_id), 0) FROM visits").fetchone()[0]
            visit_id = access.record_visit(store, account, visit, site_prefectures=data.site_prefectures())
            # A violation opens its case (idempotent: a second tap returns the same case).
            case = (
                open_case(store.conn, visit_id, finding, description=notes.strip(), actor=account.username)
                if outcome == "violation"
                else None
            )
    except RecordsError as problem:
        st.error(str(problem))
        return
    if visit_id <= last:
        st.info(T("my_sites.already_saved", id=visit_id))
    else:
        st.success(T("my_sites.saved", id=visit_id))
    if case is not None:
        st.warning(T("my_sites.case_opened", no=case["case_no"], due=case["rectify_by"]))


def _whereabouts(stop: pd.Series, route: dict | None) -> None:
    """Where the stop is: its WGS-84 coordinates, links that start navigation to it in the phone's
    map apps, and (on demand, it is one more map to load) the day's route around it."""
    lon, lat = float(stop["lon"]), float(stop["lat"])
    st.caption(
        T("my_sites.coordinates", lat=f"{lat:.{COORDINATE_DECIMALS}f}", lon=f"{lon:.{COORDINATE_DECIMALS}f}")
    )
    links = navigation_links(lon, lat, str(stop["name"]))
    st.caption(T("my_sites.navigate"))
    # One row that wraps: three buttons side by side on a phone, each a real link to tap.
    with st.container(horizontal=True):
        for name, url in (("geo", links.geo), ("amap", links.amap), ("baidu", links.baidu)):
            st.link_button(T(f"my_sites.nav.{name}"), url, icon=":material/navigation:")
    key = f"my_sites_map_{stop['plan_id']}_{stop['team_id']}_{stop['seq']}"
    if route is not None and st.toggle(T("my_sites.stop_map"), key=f"{key}_shown"):
        _route_map(route, key=key, centre=(float(stop["lat"]), float(stop["lon"])))


def _stop_block(
    account: Account,
    number: int,
    stop: pd.Series,
    sites: pd.DataFrame,
    priorities: pd.DataFrame,
    history: pd.DataFrame,
    route: dict | None,
) -> None:
    site_id = str(stop["site_id"])
    arrive = datetime.fromisoformat(str(stop["arrive"])).astimezone(LOCAL_TZ)
    site = sites.loc[site_id] if site_id in sites.index else None
    with st.container(border=True):
        st.markdown(f"**{number}. {stop['name']}**  \n`{site_id}`")
        times = [T("my_sites.arrive", time=f"{arrive:%H:%M}")]
        start = planned_start(stop)
        if start != arrive:
            times.append(T("my_sites.start", time=f"{start:%H:%M}"))
        times.append(T("my_sites.minutes", n=int(stop["service_minutes"])))
        st.caption(" · ".join(times))
        _whereabouts(stop, route)
        with st.expander(T("my_sites.card")):
            _site_card(
                site,
                priorities.loc[site_id] if site_id in priorities.index else None,
                history[history["site_id"] == site_id],
            )
            show_dossier(site_id)
        if access.can(account, "record_visit"):
            with st.expander(T("my_sites.record")):
                _visit_form(account, stop)


def render() -> None:
    """The My sites page."""
    account = require_login()
    st.header(T("my_sites.title"))
    if not access.capabilities(account) & {"own_assignments", "detachment_plans", "all_plans"}:
        st.warning(T("my_sites.refused"))
        return
    plan_id, asked_team, asked_day = _link_parameters()
    this_day = today()
    officer = account.role == "officer"
    if officer and asked_team is not None and asked_team != account.team_id:
        audit_refusal(account, f"team:{asked_team}", "team of another officer")
        st.error(access.NOT_AVAILABLE)
        return
    # An officer's days end today: later days are not released yet.
    day = st.date_input(
        T("my_sites.day"),
        value=min(asked_day or this_day, this_day) if officer else asked_day or this_day,
        max_value=this_day if officer else None,
        key="my_sites_day",
    )
    try:
        frame, plans = _assignments(account, day, plan_id)
    except access.AccessDenied as refused:
        st.error(str(refused))
        return
    if officer:
        team = account.team_id
        st.caption(T("my_sites.own_team", team=team))
    else:
        teams = sorted(frame["team_id"].unique())
        if not teams:
            st.info(T("my_sites.no_teams"))
            return
        team = st.selectbox(
            T("my_sites.team"),
            teams,
            index=teams.index(asked_team) if asked_team in teams else 0,
            key="my_sites_team",
        )
    stops = frame[frame["team_id"] == team].sort_values(["arrive", "seq"]).reset_index(drop=True)
    for note in _update_notices(account, team, day):
        st.warning(note)
    if stops.empty:
        st.info(T("my_sites.none"))
        return
    if plan_id is not None:
        st.caption(T("my_sites.plan_link", plan=plan_id))
    st.caption(T("my_sites.count", n=len(stops)))
    routes = _day_routes(plans, stops, str(team), day)
    for plan_key, route in routes.items():
        st.subheader(T("my_sites.day_map"))
        _route_map(route, key=f"my_sites_day_map_{plan_key}")
        _route_sheet(route, str(team), day)
    site_ids = tuple(sorted(stops["site_id"].astype(str).unique()))
    registry = data.targets()
    sites = registry[registry["site_id"].isin(site_ids)].set_index("site_id", drop=False)
    sites.index = sites.index.astype(str)
    priorities = site_priorities(site_ids, day)
    history = _site_history(list(site_ids))
    for number, (_, stop) in enumerate(stops.iterrows(), start=1):
        _stop_block(account, number, stop, sites, priorities, history, routes.get(int(stop["plan_id"])))
