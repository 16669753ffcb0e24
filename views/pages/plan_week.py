"""Plan week (chief): scenario in, a checked weekly plan out, approved into the records.

The page only gathers input and calls the core: the inputs become a scenario mapping
(:mod:`views.plan_inputs`) validated by ``planning.scenario.parse_scenario``; ``planning.patrol.
plan_week`` solves it with its progress lines shown live; the plan is kept in
``st.session_state`` (reruns never re-solve) and everything derived from it (road geometry, the
independent checker, expected coverage) is cached on the plan's JSON. Approval saves the plan as
a draft version and approves it as the logged-in account (``records.access.approve_plan``, so the
audit log names the account).

The search is reproducible by default (``solver: {seed, effort}``: the same plan on any machine); a
time budget is optional. Road closures a chief added (``records.closures``) that are in force on
any plan day go to the planner and to the checker on top of the shipped seasonal layer. The per
team and day table (leave, bed, driving and duty hours) comes first in the result; plans saved
before format version 2 (no ``days``, no stop ``start``) still display.

A chief plans for their own detachment's prefecture (its counties included); an admin for any.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import folium
import pandas as pd
import streamlit as st

from coverage.inputs import has_records, load_model
from coverage.plan_coverage import plan_activities, plan_period, with_route_legs
from layers.datasets import load_context, load_roster
from layers.draw import DrawError
from layers.schema import CATEGORIES, LAYERS, SKILLS
from planning.check import check_plan
from planning.export import plan_legs, team_gpx, team_kml, write_team_csv
from planning.patrol import plan_week
from planning.scenario import BEIJING, DEFAULT_EFFORT, MAX_DAYS, ScenarioError, draw_officers, parse_scenario
from records import access
from records.closures import as_planning_closures, closures_between, get_closure
from records.db import RecordsError
from views import plan_inputs
from views.basemap import build_basemap, view_for
from views.data import basemap, records_store, road_network, site_prefectures, targets
from views.i18n import register
from views.map_controls import Legend
from views.offline_map import show_map
from views.plan_tables import (
    category_label,
    day_label,
    days_table,
    dropped_table,
    has_days,
    planner_text,
    route_sheet_html,
    stops_table,
    visited_by_category,
)
from views.route_layers import plan_bounds, route_groups, route_legend_rows
from views.session import current_account, now
from views.target_layers import LAYER_NAMES

T = register(
    {
        "plan.title": ("周巡护计划", "Plan the week"),
        "plan.refused": (
            "只有支队长或管理员可以制定和批准巡护计划。",
            "Only chiefs and admins plan and approve patrol weeks.",
        ),
        "plan.login": ("请先登录。", "Please log in first."),
        "plan.source": ("从哪里开始", "Start from"),
        "plan.source.new": ("新计划", "A new plan"),
        "plan.loaded": ("已载入示例场景 {name}。", "Loaded the shipped scenario {name}."),
        "plan.regions_removed": (
            "不属于本支队的区域已移除：{regions}",
            "Regions outside your detachment were removed: {regions}",
        ),
        "plan.section.scenario": ("1 场景", "1 Scenario"),
        "plan.section.teams": ("2 队伍", "2 Teams"),
        "plan.section.mandatory": ("3 必检点（{n}）", "3 Mandatory sites ({n})"),
        "plan.section.solve": ("4 求解", "4 Solve"),
        "plan.f.name": ("计划名称", "Plan name"),
        "plan.f.regions": ("区域（地州市/县市区）", "Region (prefectures / counties)"),
        "plan.f.start": ("第一天", "First day"),
        "plan.f.days": ("天数", "Days"),
        "plan.f.work": ("工作时间", "Work hours"),
        "plan.f.night_on": ("夜间突击检查", "Night checks"),
        "plan.f.night": ("夜查时间", "Night hours"),
        "plan.f.layers": ("图层", "Layers"),
        "plan.f.min_priority": ("最低优先级", "Minimum priority"),
        "plan.f.return": ("最后一天返回基地", "Return to base on the last day"),
        "plan.f.effort": ("搜索强度", "Search effort"),
        "plan.f.effort.help": (
            "可复现：相同输入、强度和种子在任何电脑上得到相同计划。默认 {effort}。",
            "Reproducible: the same inputs, effort and seed give the same plan on any machine. "
            "Default {effort}.",
        ),
        "plan.f.seed": ("随机种子", "Seed"),
        "plan.f.budget": ("改用时间预算", "Time budget instead"),
        "plan.f.budget_on": (
            "按时间求解（结果取决于电脑速度）",
            "Solve for a time (the plan depends on the machine)",
        ),
        "plan.f.seconds": ("时间预算（秒）", "Time budget (seconds)"),
        "plan.f.lodging": (
            "住宿：各市县政府所在地和各队基地。",
            "Lodging: every city and county seat, and the bases.",
        ),
        "plan.f.lodging_towns": (
            "住宿：各市县政府所在地、各队基地，以及场景列出的城镇：{towns}。",
            "Lodging: every city and county seat, the bases, and the towns the scenario lists: {towns}.",
        ),
        "plan.teams.help": (
            "每行一个队伍：编号、基地城镇（中文或英文名）、人数、能力（逗号分隔：{skills}）、队员编号（逗号分隔，花名册编号）。",
            "One team per row: id, base town (Chinese or English name), members, skills (comma-separated: "
            "{skills}), officers (roster ids, comma-separated).",
        ),
        "plan.col.officers": ("队员编号", "Officers"),
        "plan.draw.officers": (
            "{n} 个抽中点位指定了执法人员，已写入场景。",
            "{n} drawn sites name their officers; kept in the scenario.",
        ),
        "plan.closures.none": (
            "计划期内没有支队长添加的道路封闭。",
            "No chief-added road closures during the plan days.",
        ),
        "plan.closures.some": (
            "计划将避开 {n} 处支队长添加的道路封闭（另有随软件提供的季节性封闭）：{names}",
            "The plan avoids {n} chief-added road closure(s) (besides the shipped seasonal ones): {names}",
        ),
        "plan.closures.honoured": ("计划避开的道路封闭（{n}）", "Road closures the plan avoids ({n})"),
        "plan.closures.item": ("{name}：{reason}，{period}；计划内 {days}", "{name}: {reason}, {period}; plan days {days}"),
        "plan.closures.reason.winter": ("冬季封闭", "winter closure"),
        "plan.closures.reason.sandstorm": ("沙尘暴", "sandstorm"),
        "plan.closures.reason.flood": ("洪水", "flood"),
        "plan.closures.reason.road_works": ("道路施工", "road works"),
        "plan.closures.reason.snow": ("冰雪", "snow"),
        "plan.closures.reason.other": ("其他", "other"),
        "plan.closures.every_day": ("每天", "every day"),
        "plan.days.title": ("各队每日安排", "Each team's days"),
        "plan.days.old": (
            "此计划为旧格式（第 1 版），没有每日汇总。",
            "This plan is in the old format (version 1) and has no day summaries.",
        ),
        "plan.warnings": ("请注意：", "Please read:"),
        "plan.col.base": ("基地", "Base"),
        "plan.col.members": ("人数", "Members"),
        "plan.col.skills": ("能力", "Skills"),
        "plan.col.layer": ("图层", "Layer"),
        "plan.col.county": ("县市区", "County"),
        "plan.draw.tab": ("双随机抽查", "Random draw"),
        "plan.draw.upload_tab": ("上传抽查结果", "Upload a draw"),
        "plan.draw.pick_tab": ("从列表选择", "Pick from the list"),
        "plan.draw.period": ("抽查周期", "Draw period"),
        "plan.draw.seed": ("随机种子", "Seed"),
        "plan.draw.level": ("抽查层级", "Draw level"),
        "plan.draw.level.prefecture": ("地州", "prefecture"),
        "plan.draw.level.county": ("县", "county"),
        "plan.status.solved": ("已求解", "solved"),
        "plan.status.solved_mandatory_unmet": (
            "已求解，但有必检点未安排",
            "solved, some mandatory sites unmet",
        ),
        "plan.status.no_solution": ("无解", "no solution"),
        "plan.draw.run": ("抽取", "Run the draw"),
        "plan.draw.done": (
            "抽中 {n} 个污染源，已设为必检。",
            "{n} pollution sources drawn and made mandatory.",
        ),
        "plan.draw.error": ("抽查失败：{message}", "The draw failed: {message}"),
        "plan.draw.upload": ("抽查记录 JSON", "Draw record JSON"),
        "plan.draw.uploaded": ("从 {file} 读入 {n} 个必检点。", "{n} mandatory sites read from {file}."),
        "plan.pick.filter": ("筛选（名称、编号、县）", "Filter (name, id, county)"),
        "plan.pick.min_priority": ("优先级至少", "Priority at least"),
        "plan.pick.shown": (
            "显示 {shown} / {total} 个候选点。",
            "Showing {shown} of {total} candidate sites.",
        ),
        "plan.pick.none": ("先选择区域和图层。", "Choose a region and layers first."),
        "plan.scenario_error": (
            "场景有误，字段 {field}：{message}",
            "Scenario error in field {field}: {message}",
        ),
        "plan.solve": ("制定计划", "Plan the week"),
        "plan.download_yaml": ("下载场景 YAML", "Download the scenario YAML"),
        "plan.solving": ("正在规划 {days} 天、{teams} 个队伍…", "Planning {days} days for {teams} teams…"),
        "plan.solved": ("规划完成，用时 {seconds:.1f} 秒", "Planned in {seconds:.1f} s"),
        "plan.failed": ("规划失败：{message}", "Planning failed: {message}"),
        "plan.result": (
            "计划：{name}（状态 {status}，求解 {seconds:.1f} 秒）",
            "Plan: {name} (status {status}, solved in {seconds:.1f} s)",
        ),
        "plan.check.ok": ("检查通过：0 项违规。", "Checker: 0 violations."),
        "plan.check.bad": ("检查发现 {n} 项违规：", "Checker found {n} violation(s):"),
        "plan.kpi.km": ("行驶里程", "Drive"),
        "plan.kpi.drive_h": ("行驶时间", "Drive time"),
        "plan.kpi.service_h": ("检查时间", "Service time"),
        "plan.kpi.sites": ("检查点", "Sites visited"),
        "plan.kpi.priority": ("覆盖优先级", "Priority covered"),
        "plan.kpi.mandatory": ("必检完成", "Mandatory met"),
        "plan.kpi.coverage": ("预期覆盖提升", "Expected coverage gain"),
        "plan.kpi.by_category": ("按类别：{counts}", "By category: {counts}"),
        "plan.kpi.nights_away": ("外宿 / 总晚数", "Nights away / all"),
        "plan.map.title": ("路线图", "Route map"),
        "plan.stops.title": ("各队停靠点", "Stops per team"),
        "plan.dropped.title": ("未安排的地点（{n}）及原因", "Sites left out ({n}) and why"),
        "plan.coverage.title": (
            "预期覆盖（本周期，按地州）",
            "Expected coverage (this period, by prefecture)",
        ),
        "plan.coverage.col.region": ("地州市", "Prefecture"),
        "plan.coverage.col.weighted": ("加权覆盖率 %", "Weighted coverage %"),
        "plan.coverage.col.weighted_gain": ("提升（百分点）", "Gain (points)"),
        "plan.coverage.col.sites": ("到期点覆盖率 %", "Due sites covered %"),
        "plan.coverage.col.sites_gain": ("到期点提升（百分点）", "Due sites gain (points)"),
        "plan.coverage.col.area": ("面积覆盖率 %", "Area coverage %"),
        "plan.coverage.failed": ("无法计算预期覆盖：{message}", "Expected coverage not available: {message}"),
        "plan.approve.title": ("批准并保存", "Approve and save"),
        "plan.approve": ("保存并批准", "Save and approve"),
        "plan.approve.blocked": ("计划有违规，不能批准。", "A plan with violations cannot be approved."),
        "plan.approve.done": (
            "计划已保存为 {plan_key} 第 {version} 版（编号 {plan_id}），并由 {account} 批准。",
            "Saved as {plan_key} version {version} (plan {plan_id}) and approved by {account}.",
        ),
        "plan.approve.refused": ("未能批准：{message}", "Not approved: {message}"),
        "plan.downloads": ("下载", "Downloads"),
        "plan.download.team": ("队伍", "Team"),
        "plan.download.gpx": ("GPX", "GPX"),
        "plan.download.kml": ("KML", "KML"),
        "plan.download.csv": ("CSV", "CSV"),
        "plan.download.sheet": ("路线单（可打印）", "Route sheet (printable)"),
        "plan.download.json": ("计划 JSON", "Plan JSON"),
    }
)

MAP_HEIGHT_PX = 620
#: A typical width of the map on a laptop, used to pick the zoom that shows the whole plan.
MAP_WIDTH_PX = 900
#: The time budget offered when a chief prefers one to the reproducible effort.
DEFAULT_SOLVER_SECONDS = 20
STATE = "plan.result"


# --- cached computations (pure, keyed on the plan's JSON) ---------------------------------------
@st.cache_data(show_spinner=False, max_entries=8)
def _legs(plan_json: str) -> dict[str, list[list[tuple[float, float]]]]:
    return plan_legs(json.loads(plan_json), road_network())


def _closures_by_id(closure_ids: tuple[int, ...]) -> tuple:
    """The stored chief closures ``closure_ids`` as planning closures (rows never change)."""
    if not closure_ids:
        return ()
    with records_store() as store:
        return as_planning_closures([get_closure(store, cid) for cid in closure_ids])


@st.cache_data(show_spinner=False, max_entries=8)
def _violations(scenario_json: str, plan_json: str, closure_ids: tuple[int, ...] = ()) -> list[str]:
    scenario = parse_scenario(json.loads(scenario_json))
    found = check_plan(
        scenario,
        json.loads(plan_json),
        targets=targets(),
        network=road_network(),
        closures=_closures_by_id(closure_ids),
    )
    return [str(v) for v in found]


def _plan_closures(start: dt.date, days: int) -> list:
    """The chief-added closures (records) in force on at least one plan day."""
    with records_store() as store:
        return closures_between(store, start, start + dt.timedelta(days=max(int(days), 1) - 1))


@st.cache_data(show_spinner=False, max_entries=16)
def _candidates(regions: tuple[str, ...], layers: tuple[str, ...], start: str) -> pd.DataFrame:
    return plan_inputs.candidate_sites(targets(), list(regions), list(layers), dt.date.fromisoformat(start))


@st.cache_resource(show_spinner=False, max_entries=4)
def _coverage_model(prefecture_codes: tuple[str, ...], as_of_day: str):
    return load_model(pd.Timestamp(as_of_day, tz="UTC"), prefecture_codes=list(prefecture_codes))


@st.cache_data(show_spinner=False, max_entries=8, ttl=600)
def _expected_coverage(plan_json: str, prefecture_codes: tuple[str, ...]) -> pd.DataFrame:
    """Per prefecture: coverage of the plan's period with the records so far, and with the plan."""
    plan = json.loads(plan_json)
    since, until = plan_period(plan)
    model = _coverage_model(prefecture_codes, since.date().isoformat())
    history = None
    if has_records(None):
        with records_store() as store:
            history = store.visits(None, since.to_pydatetime())
    planned_visits, planned_tracks = plan_activities(with_route_legs(plan))
    expected_visits = pd.concat([history, planned_visits], ignore_index=True)
    expected = model.region_table(expected_visits, planned_tracks, since, until, "prefecture")
    baseline = model.region_table(history, None, since, until, "prefecture")
    columns = ["weighted_coverage_pct", "site_coverage_pct", "area_coverage_pct"]
    table = expected[["prefecture_code", "prefecture_name", *columns]].copy()
    for column in columns:
        table[f"{column}_gain"] = expected[column].fillna(0) - baseline[column].fillna(0)
    return table


@st.cache_data(show_spinner=False)
def _region_options(allowed_prefectures: tuple[str, ...] | None) -> dict[str, str]:
    return plan_inputs.region_options(None if allowed_prefectures is None else frozenset(allowed_prefectures))


# --- inputs --------------------------------------------------------------------------------------
def _allowed_prefectures(account) -> tuple[str, ...] | None:
    """None (any prefecture) for an admin, else the chief's own detachment."""
    return None if access.can(account, "all_plans") else (account.detachment or "",)


def _default_base(options: dict[str, str]) -> str:
    """The most populous town of the first prefecture the account may plan."""
    prefectures = load_context("prefectures").set_index("name_zh")["adcode"]
    codes = [prefectures[name] for name in options if name in prefectures.index]
    places = load_context("places")
    places = places[places["pref_adcode"].isin(codes[:1])] if codes else places
    return str(places.sort_values("population", ascending=False)["name_zh"].iloc[0])


def _next_monday() -> dt.date:
    today = now().astimezone(BEIJING).date()
    return today + dt.timedelta(days=7 - today.weekday())


def _init_state(options: dict[str, str]) -> None:
    defaults = {
        "plan.f.name": "",
        "plan.f.regions": list(options)[:1],
        "plan.f.start": _next_monday(),
        "plan.f.days": 5,
        "plan.f.work": "10:00-19:30",
        "plan.f.night_on": False,
        "plan.f.night": "22:00-02:00",
        "plan.f.layers": list(LAYERS),
        "plan.f.min_priority": 0.0,
        "plan.f.return": True,
        "plan.f.effort": DEFAULT_EFFORT,
        "plan.f.seed": 1,
        "plan.f.budget_on": False,
        "plan.f.seconds": DEFAULT_SOLVER_SECONDS,
        "plan.lodging": "auto",
        "plan.drawn_officers": {},
        "plan.mandatory": [],
        "plan.editor_version": 0,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if "plan.teams_df" not in st.session_state:
        base = _default_base(options)
        st.session_state["plan.teams_df"] = plan_inputs.teams_frame(
            [
                {"id": "T1", "base": base, "members": 3, "skills": ["sampling"]},
                {"id": "T2", "base": base, "members": 2},
            ]
        )


def _load_shipped(options: dict[str, str]) -> None:
    """on_change of the source picker: copy a shipped scenario into the inputs."""
    source = st.session_state["plan.source"]
    shipped = plan_inputs.shipped_scenarios()
    if source not in shipped:
        return
    raw = plan_inputs.read_scenario_mapping(shipped[source])
    sites = raw.get("sites") or {}
    kept, removed = plan_inputs.split_regions([str(r) for r in sites.get("regions") or []], options)
    state = st.session_state
    state["plan.f.name"] = str(raw.get("name", source))
    state["plan.f.regions"] = kept
    state["plan.f.start"] = dt.date.fromisoformat(str(raw["start"]))
    state["plan.f.days"] = int(raw.get("days", 5))
    state["plan.f.work"] = str(raw.get("work_hours", "10:00-19:30"))
    state["plan.f.night_on"] = raw.get("night_hours") is not None
    state["plan.f.night"] = str(raw.get("night_hours") or "22:00-02:00")
    state["plan.f.layers"] = [layer for layer in sites.get("layers") or LAYERS if layer in LAYERS]
    state["plan.f.min_priority"] = float(sites.get("min_priority", 0))
    state["plan.f.return"] = bool(raw.get("return_to_base", True))
    solver = raw.get("solver") if isinstance(raw.get("solver"), dict) else {}
    state["plan.f.seed"] = int(solver.get("seed", 1))
    state["plan.f.effort"] = int(solver.get("effort", DEFAULT_EFFORT))
    state["plan.f.budget_on"] = solver.get("seconds") is not None
    state["plan.f.seconds"] = int(solver.get("seconds") or DEFAULT_SOLVER_SECONDS)
    state["plan.lodging"] = raw.get("lodging", "auto")
    state["plan.teams_df"] = plan_inputs.teams_frame(raw.get("teams") or [])
    state["plan.mandatory"] = [str(s) for s in sites.get("mandatory") or []]
    drawn = sites.get("drawn_officers") if isinstance(sites.get("drawn_officers"), dict) else {}
    state["plan.drawn_officers"] = {str(k): [str(o) for o in v or []] for k, v in drawn.items()}
    state["plan.editor_version"] += 1
    notices = [T("plan.loaded", name=source)]
    if removed:
        notices.append(T("plan.regions_removed", regions="、".join(removed)))
    state["plan.notices"] = notices


def _scenario_inputs(options: dict[str, str]) -> None:
    st.subheader(T("plan.section.scenario"))
    # Plain labels, no format_func: the "new" label is translated, the scenarios are file names.
    sources = [T("plan.source.new"), *plan_inputs.shipped_scenarios()]
    st.selectbox(T("plan.source"), sources, key="plan.source", on_change=_load_shipped, args=(options,))
    for notice in st.session_state.pop("plan.notices", []):
        st.info(notice)
    left, middle, right = st.columns(3)
    left.text_input(T("plan.f.name"), key="plan.f.name")
    left.multiselect(T("plan.f.regions"), list(options), key="plan.f.regions", format_func=options.get)
    left.multiselect(T("plan.f.layers"), list(LAYERS), key="plan.f.layers", format_func=LAYER_NAMES.get)
    middle.date_input(T("plan.f.start"), key="plan.f.start")
    middle.number_input(T("plan.f.days"), min_value=1, max_value=MAX_DAYS, step=1, key="plan.f.days")
    middle.text_input(T("plan.f.work"), key="plan.f.work", help="HH:MM-HH:MM")
    middle.checkbox(T("plan.f.night_on"), key="plan.f.night_on")
    if st.session_state["plan.f.night_on"]:
        middle.text_input(T("plan.f.night"), key="plan.f.night", help="HH:MM-HH:MM")
    right.slider(T("plan.f.min_priority"), 0.0, 100.0, step=5.0, key="plan.f.min_priority")
    effort, seed = right.columns(2)
    effort.number_input(
        T("plan.f.effort"),
        min_value=1,
        max_value=100_000,
        step=50,
        key="plan.f.effort",
        help=T("plan.f.effort.help", effort=DEFAULT_EFFORT),
    )
    seed.number_input(T("plan.f.seed"), min_value=0, max_value=2**31 - 1, step=1, key="plan.f.seed")
    with right.expander(T("plan.f.budget")):
        st.checkbox(T("plan.f.budget_on"), key="plan.f.budget_on")
        st.slider(
            T("plan.f.seconds"),
            1,
            600,
            key="plan.f.seconds",
            disabled=not st.session_state["plan.f.budget_on"],
        )
    right.checkbox(T("plan.f.return"), key="plan.f.return")
    towns = plan_inputs.lodging_towns(st.session_state["plan.lodging"])
    right.caption(T("plan.f.lodging_towns", towns="、".join(towns)) if towns else T("plan.f.lodging"))


def _teams_input() -> pd.DataFrame:
    st.subheader(T("plan.section.teams"))
    st.caption(T("plan.teams.help", skills=", ".join(SKILLS)))
    return st.data_editor(
        st.session_state["plan.teams_df"],
        key=f"plan.teams_editor.{st.session_state['plan.editor_version']}",
        num_rows="dynamic",
        width="stretch",
        column_config={
            "id": st.column_config.TextColumn(T("plan.col.team"), required=True),
            "base": st.column_config.TextColumn(T("plan.col.base"), required=True),
            "members": st.column_config.NumberColumn(
                T("plan.col.members"), min_value=1, max_value=50, step=1
            ),
            "skills": st.column_config.TextColumn(T("plan.col.skills")),
            "officers": st.column_config.TextColumn(T("plan.col.officers")),
        },
    )


def _replace_mandatory(ids: list[str], notice: str, officers: dict[str, list[str]] | None = None) -> None:
    """New mandatory sites (and the officers drawn for them): reset the picker's ticks and rerun
    so every count shows them."""
    st.session_state["plan.mandatory"] = ids
    st.session_state["plan.drawn_officers"] = dict(officers or {})
    if officers:
        notice = f"{notice} {T('plan.draw.officers', n=len(officers))}"
    st.session_state["plan.editor_version"] += 1
    st.session_state["plan.draw.notice"] = notice
    st.rerun()


def _draw_tabs(regions: list[str], start: dt.date) -> None:
    """Random draw and upload: both replace the mandatory list."""
    notice = st.session_state.pop("plan.draw.notice", None)
    if notice:
        st.success(notice)
    draw_tab, upload_tab = st.tabs([T("plan.draw.tab"), T("plan.draw.upload_tab")])
    with draw_tab:
        a, b, c = st.columns(3)
        period = a.text_input(
            T("plan.draw.period"), value=plan_inputs.quarter_of(start), key="plan.draw.period"
        )
        seed = b.number_input(T("plan.draw.seed"), min_value=0, value=1, step=1, key="plan.draw.seed")
        # Translated labels as the options (a format_func cannot read the session's language).
        levels = {T(f"plan.draw.level.{level}"): level for level in ("prefecture", "county")}
        level = levels[c.radio(T("plan.draw.level"), list(levels), horizontal=True, key="plan.draw.level")]
        if st.button(T("plan.draw.run"), key="plan.draw.run", disabled=not regions):
            try:
                record = plan_inputs.region_draw(targets(), load_roster(), regions, period, int(seed), level)
            except (DrawError, ScenarioError, ValueError) as exc:
                st.error(T("plan.draw.error", message=exc))
            else:
                # The draw is evidence of a fair selection: keep it, with who ran it, in the audit log.
                with records_store() as store:
                    store.log(
                        "draw",
                        f"draw:{record['parameters']['period']}",
                        record,
                        actor=current_account().username,
                    )
                ids = [item["site_id"] for item in record["result"]]
                officers = {site: list(o) for site, o in draw_officers(record).items()}
                _replace_mandatory(ids, T("plan.draw.done", n=len(ids)), officers)
    with upload_tab:
        upload = st.file_uploader(T("plan.draw.upload"), type=["json"], key="plan.draw.upload")
        if upload is not None and st.session_state.get("plan.draw.upload_seen") != upload.file_id:
            st.session_state["plan.draw.upload_seen"] = upload.file_id
            try:
                ids, officers = plan_inputs.draw_from_record(upload.getvalue(), upload.name)
            except ScenarioError as exc:
                st.error(T("plan.scenario_error", field=exc.field, message=_message(exc)))
            else:
                _replace_mandatory(ids, T("plan.draw.uploaded", n=len(ids), file=upload.name), officers)


def _mandatory_input(regions: list[str], layers: list[str], start: dt.date) -> list[str]:
    """Mandatory site ids: a draw, an upload, or ticks in the candidate table."""
    chosen = list(st.session_state["plan.mandatory"])
    with st.expander(T("plan.section.mandatory", n=len(chosen)), expanded=False):
        _draw_tabs(regions, start)
        chosen = list(st.session_state["plan.mandatory"])
        st.markdown(f"**{T('plan.draw.pick_tab')}**")
        if not regions or not layers:
            st.caption(T("plan.pick.none"))
            return chosen
        try:
            candidates = _candidates(tuple(regions), tuple(layers), start.isoformat())
        except ScenarioError as exc:
            st.error(T("plan.scenario_error", field=exc.field, message=_message(exc)))
            return chosen
        f1, f2 = st.columns([2, 1])
        text = f1.text_input(T("plan.pick.filter"), key="plan.pick.filter").strip()
        least = f2.slider(
            T("plan.pick.min_priority"), 0.0, 100.0, 0.0, step=5.0, key="plan.pick.min_priority"
        )
        shown = candidates[candidates["priority"] >= least]
        if text:
            hay = shown["name"] + " " + shown["site_id"] + " " + shown["county"]
            shown = shown[hay.str.contains(text, case=False, regex=False)]
        st.caption(T("plan.pick.shown", shown=len(shown), total=len(candidates)))
        table = shown.assign(mandatory=shown["site_id"].isin(chosen))[
            ["mandatory", "site_id", "name", "layer", "kind", "category", "county", "priority"]
        ]
        edited = st.data_editor(
            table,
            key=f"plan.pick.editor.{st.session_state['plan.editor_version']}",
            hide_index=True,
            width="stretch",
            height=260,
            disabled=["site_id", "name", "layer", "kind", "category", "county", "priority"],
            column_config={
                "mandatory": st.column_config.CheckboxColumn(T("plan.col.mandatory")),
                "site_id": T("plan.col.id"),
                "name": T("plan.col.site"),
                "layer": T("plan.col.layer"),
                "kind": T("plan.col.kind"),
                "category": T("plan.col.category"),
                "county": T("plan.col.county"),
                "priority": st.column_config.NumberColumn(T("plan.col.priority"), format="%.1f"),
            },
        )
        outside = [s for s in chosen if s not in set(shown["site_id"])]
        return outside + edited.loc[edited["mandatory"], "site_id"].tolist()


def _message(exc: ScenarioError) -> str:
    """The error text without the field prefix ScenarioError puts in front."""
    return str(exc).removeprefix(f"{exc.field}: ")


def _scenario_from_state(teams: pd.DataFrame, mandatory: list[str]) -> dict:
    state = st.session_state
    return plan_inputs.build_scenario(
        name=state["plan.f.name"] or f"{'、'.join(state['plan.f.regions'])} {state['plan.f.start']:%G-W%V}",
        start=state["plan.f.start"],
        days=int(state["plan.f.days"]),
        work_hours=state["plan.f.work"],
        night_hours=state["plan.f.night"] if state["plan.f.night_on"] else None,
        teams=plan_inputs.teams_from_frame(teams),
        regions=list(state["plan.f.regions"]),
        layers=list(state["plan.f.layers"]),
        min_priority=float(state["plan.f.min_priority"]),
        mandatory=mandatory,
        return_to_base=bool(state["plan.f.return"]),
        solver_effort=int(state["plan.f.effort"]),
        solver_seed=int(state["plan.f.seed"]),
        solver_seconds=float(state["plan.f.seconds"]) if state["plan.f.budget_on"] else None,
        lodging=state["plan.lodging"],
        drawn_officers=state["plan.drawn_officers"],
    )


def _solve(raw: dict, chief_closures: list) -> None:
    """Run the planner (avoiding ``chief_closures`` too) with its progress lines in a status box;
    keep the plan, and which closures it was given, in the session."""
    scenario = parse_scenario(raw)
    extra = as_planning_closures(chief_closures)
    with st.status(T("plan.solving", days=scenario.days, teams=len(scenario.teams)), expanded=True) as box:
        solver_line = st.empty()

        def progress(message: str) -> None:
            if message.lstrip().startswith("solver"):
                solver_line.code(message.strip())
            else:
                st.write(message)

        try:
            plan = plan_week(
                scenario, targets=targets(), network=road_network(), closures=extra, progress=progress
            )
        except ScenarioError as exc:
            box.update(state="error")
            st.error(T("plan.scenario_error", field=exc.field, message=_message(exc)))
            return
        except ValueError as exc:
            box.update(state="error")
            st.error(T("plan.failed", message=exc))
            return
        box.update(label=T("plan.solved", seconds=plan.solve_seconds), state="complete", expanded=False)
    st.session_state[STATE] = {
        "raw": raw,
        "plan": plan.to_dict(),
        "saved": None,
        "closure_ids": [c.closure_id for c in chief_closures],
    }


# --- results -------------------------------------------------------------------------------------
def _kpis(plan: dict, coverage: pd.DataFrame | None) -> None:
    k = plan["kpis"]
    total = coverage[coverage["prefecture_code"] == "total"] if coverage is not None else None
    gain = (
        "—"
        if total is None or total.empty
        else f"+{float(total['weighted_coverage_pct_gain'].iloc[0]):.1f} pp"
    )
    values = [
        (T("plan.kpi.km"), f"{k['drive_km']:.0f} km"),
        (T("plan.kpi.drive_h"), f"{k['drive_minutes'] / 60:.1f} h"),
        (T("plan.kpi.service_h"), f"{k['service_minutes'] / 60:.1f} h"),
        (T("plan.kpi.sites"), f"{k['sites_visited']} / {k['sites_total']}"),
        (T("plan.kpi.priority"), f"{k['priority_visited']:.0f}"),
        (T("plan.kpi.mandatory"), f"{k['mandatory_visited']} / {k['mandatory_total']}"),
        (T("plan.kpi.coverage"), gain),
        (T("plan.kpi.nights_away"), f"{k['nights_away_from_base']} / {k['nights_total']}"),
    ]
    for row in (values[:4], values[4:]):
        for column, (label, value) in zip(st.columns(4), row, strict=True):
            column.metric(label, value)
    counts = visited_by_category(plan, targets())
    st.caption(
        T(
            "plan.kpi.by_category",
            counts=", ".join(f"{category_label(c)} {counts[c]}" for c in CATEGORIES),
        )
    )


def _route_map(plan: dict, legs: dict) -> None:
    st.subheader(T("plan.map.title"))
    m = build_basemap(basemap(), height_px=MAP_HEIGHT_PX)
    for group in route_groups(plan, legs):
        group.add_to(m)
    days = int(plan["scenario"].get("days", 1))
    m.add_child(Legend(T("plan.map.legend"), route_legend_rows(plan, days)), name="xunhu_route_legend")
    folium.LayerControl(collapsed=False).add_to(m)
    bounds = plan_bounds(plan, legs) or basemap().bounds
    # st_folium sizes its iframe after the map script ran, so a fitBounds in the script would fit
    # the wrong box: the view is set from the bounds and a typical width instead, with room at the
    # bottom for the attribution and on the right for the layer control.
    (south, west), (north, east) = bounds
    lat_span, lon_span = max(north - south, 0.05), max(east - west, 0.05)
    padded = [
        [south - 0.22 * lat_span, west - 0.06 * lon_span],
        [north + 0.08 * lat_span, east + 0.3 * lon_span],
    ]
    centre, zoom = view_for(padded, MAP_WIDTH_PX, MAP_HEIGHT_PX)
    show_map(m, key="plan_map", height_px=MAP_HEIGHT_PX, centre=centre, zoom=zoom)


def _days(plan: dict) -> None:
    """Per team and day: leave, bed, arrival at the bed, driving and duty hours, km, sites."""
    st.subheader(T("plan.days.title"))
    if not has_days(plan):
        st.caption(T("plan.days.old"))
        return
    st.dataframe(days_table(plan), hide_index=True, width="stretch")
    _closures(plan)


def _closure_line(plan: dict, closure: dict) -> str:
    """One honoured closure: name, reason, period and the plan days it was in force."""
    reason = str(closure.get("reason") or "other")
    reasons = ("winter", "sandstorm", "flood", "road_works", "snow", "other")
    dates = [str(d) for d in closure.get("dates") or []]
    every = len(dates) >= int(plan["scenario"].get("days") or 0) > 0
    return T(
        "plan.closures.item",
        name=str(closure.get("name") or closure.get("id")),
        reason=T(f"plan.closures.reason.{reason}") if reason in reasons else reason,
        period=str(closure.get("period") or ""),
        days=T("plan.closures.every_day") if every else "、".join(day_label(d) for d in dates) or "—",
    )


def _closures(plan: dict) -> None:
    """The road closures the plan honoured, one line each, in a (closed) expander."""
    honoured = [c for c in plan.get("closures") or [] if isinstance(c, dict)]
    if honoured:
        with st.expander(T("plan.closures.honoured", n=len(honoured))):
            st.markdown("\n".join(f"- {_closure_line(plan, c)}" for c in honoured))


def _tables(plan: dict) -> None:
    registry = targets()
    st.subheader(T("plan.stops.title"))
    stops = stops_table(plan, registry)
    team_column = T("plan.col.team")
    # Long site names would push the times and reasons off a phone's screen.
    narrow_site = {T("plan.col.site"): st.column_config.TextColumn(width="medium")}
    tabs = st.tabs([str(t["team_id"]) for t in plan["teams"]])
    for tab, team in zip(tabs, plan["teams"], strict=True):
        tab.dataframe(
            stops[stops[team_column] == team["team_id"]].drop(columns=team_column),
            hide_index=True,
            width="stretch",
            column_config=narrow_site,
        )
    dropped = dropped_table(plan, registry)
    st.subheader(T("plan.dropped.title", n=len(dropped)))
    st.dataframe(dropped, hide_index=True, width="stretch", height=240, column_config=narrow_site)


def _coverage_table(coverage: pd.DataFrame) -> None:
    st.subheader(T("plan.coverage.title"))
    shown = coverage[coverage["prefecture_code"] != "total"].rename(
        columns={
            "prefecture_name": T("plan.coverage.col.region"),
            "weighted_coverage_pct": T("plan.coverage.col.weighted"),
            "weighted_coverage_pct_gain": T("plan.coverage.col.weighted_gain"),
            "site_coverage_pct": T("plan.coverage.col.sites"),
            "site_coverage_pct_gain": T("plan.coverage.col.sites_gain"),
            "area_coverage_pct": T("plan.coverage.col.area"),
        }
    )
    st.dataframe(
        shown.drop(columns=["prefecture_code", "area_coverage_pct_gain"]).round(1),
        hide_index=True,
        width="stretch",
    )


def _approve(result: dict, account, violations: list[str]) -> None:
    st.subheader(T("plan.approve.title"))
    saved = result.get("saved")
    if saved:
        st.success(T("plan.approve.done", **saved))
        return
    if violations:
        st.warning(T("plan.approve.blocked"))
    if st.button(T("plan.approve"), key="plan.approve", type="primary", disabled=bool(violations)):
        try:
            with records_store() as store:
                stored = store.save_plan(result["plan"], actor=account.username)
                access.approve_plan(
                    store, account, stored.plan_id, now=now(), site_prefectures=site_prefectures()
                )
        except (access.AccessDenied, RecordsError) as exc:
            st.error(T("plan.approve.refused", message=exc))
            return
        result["saved"] = {
            "plan_key": stored.plan_key,
            "version": stored.version,
            "plan_id": stored.plan_id,
            "account": account.username,
        }
        st.success(T("plan.approve.done", **result["saved"]))


def _team_csv(team: dict) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "team.csv"
        write_team_csv(team, path)
        return path.read_bytes()


def _downloads(plan: dict, plan_json: str, legs: dict) -> None:
    st.subheader(T("plan.downloads"))
    teams = {str(t["team_id"]): t for t in plan["teams"]}
    chosen = st.selectbox(T("plan.download.team"), list(teams), key="plan.download.team")
    team = teams[chosen]
    stem = f"{plan['scenario'].get('name', 'plan')}-{chosen}".replace(" ", "_")
    team_legs = legs.get(chosen, [])
    cols = st.columns(5)
    cols[0].download_button(
        T("plan.download.gpx"), team_gpx(plan, team, team_legs), f"{stem}.gpx", "application/gpx+xml"
    )
    cols[1].download_button(
        T("plan.download.kml"),
        team_kml(plan, team, team_legs),
        f"{stem}.kml",
        "application/vnd.google-earth.kml+xml",
    )
    cols[2].download_button(T("plan.download.csv"), _team_csv(team), f"{stem}.csv", "text/csv")
    cols[3].download_button(
        T("plan.download.sheet"), route_sheet_html(plan, team, targets()), f"{stem}.html", "text/html"
    )
    cols[4].download_button(
        T("plan.download.json"), plan_json, f"{stem.rsplit('-', 1)[0]}.json", "application/json"
    )


def _show_result(result: dict, account) -> None:
    plan, raw = result["plan"], result["raw"]
    plan_json = json.dumps(plan, ensure_ascii=False, sort_keys=True)
    st.divider()
    st.subheader(
        T(
            "plan.result",
            name=raw["name"],
            status=T(f"plan.status.{plan['status']}"),
            seconds=float(plan["solve_seconds"]),
        )
    )
    violations = _violations(
        json.dumps(raw, ensure_ascii=False, sort_keys=True),
        plan_json,
        tuple(result.get("closure_ids") or ()),
    )
    if violations:
        st.error(T("plan.check.bad", n=len(violations)) + "\n\n" + "\n".join(f"- {v}" for v in violations))
    else:
        st.success(T("plan.check.ok"))
    warnings = [planner_text(w) for w in plan.get("warnings") or []]
    if warnings:
        st.warning(T("plan.warnings") + "\n\n" + "\n".join(f"- {w}" for w in warnings))
    _days(plan)
    legs = _legs(plan_json)
    registry = targets().set_index("site_id")
    visited = [s["id"] for t in plan["teams"] for s in t["stops"] if s["type"] == "site"]
    codes = tuple(sorted(set(registry["prefecture_code"].reindex(visited).dropna().astype(str))))
    coverage = None
    if codes:
        try:
            coverage = _expected_coverage(plan_json, codes)
        except ValueError as exc:
            st.warning(T("plan.coverage.failed", message=exc))
    _kpis(plan, coverage)
    _route_map(plan, legs)
    _tables(plan)
    if coverage is not None:
        _coverage_table(coverage)
    _approve(result, account, violations)
    _downloads(plan, plan_json, legs)


def render() -> None:
    """The Plan-week page."""
    st.header(T("plan.title"))
    account = current_account()
    if account is None:
        st.warning(T("plan.login"))
        return
    if not access.can(account, "approve_plan"):
        st.warning(T("plan.refused"))
        return
    options = _region_options(_allowed_prefectures(account))
    _init_state(options)
    _scenario_inputs(options)
    teams = _teams_input()
    state = st.session_state
    mandatory = _mandatory_input(
        list(state["plan.f.regions"]), list(state["plan.f.layers"]), state["plan.f.start"]
    )
    st.subheader(T("plan.section.solve"))
    try:
        raw = _scenario_from_state(teams, mandatory)
        parse_scenario(raw)
    except ScenarioError as exc:
        st.error(T("plan.scenario_error", field=exc.field, message=_message(exc)))
        raw = None
    chief_closures = _plan_closures(state["plan.f.start"], int(state["plan.f.days"]))
    if chief_closures:
        names = "、".join(f"{c.name}（{c.period}）" for c in chief_closures)
        st.info(T("plan.closures.some", n=len(chief_closures), names=names))
    else:
        st.caption(T("plan.closures.none"))
    left, right = st.columns([1, 1])
    solve = left.button(T("plan.solve"), key="plan.solve", type="primary", disabled=raw is None)
    if raw is not None:
        right.download_button(
            T("plan.download_yaml"),
            plan_inputs.scenario_yaml(raw),
            f"{raw['name']}.yaml".replace(" ", "_"),
            "application/x-yaml",
            key="plan.download_yaml",
        )
    if solve and raw is not None:
        _solve(raw, chief_closures)
    result = state.get(STATE)
    if result is not None:
        _show_result(result, account)
