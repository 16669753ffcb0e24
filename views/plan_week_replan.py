"""Plan week, section 5: re-plan an approved week from now, and approve the new version.

The chief picks an approved plan version of their detachment (``records.access.visible_plans``),
the moment to re-plan from (the dashboard clock by default) and what changed: the overrides form
(pins, forbid, unavailable teams, locked days), urgent sites to add (mandatory) and sites to
remove. Chief closures (``records.closures``) in force on a plan day are avoided, as in a solve.
``planning.replan.replan`` keeps what is behind each team, treats the recorded visits
(``records.visits.recorded_for_replan``) as done and re-optimises the rest; the page shows the
summary, the per team and day diff (site names) and a map of old (dashed grey) and new routes,
and saves the new plan under the same key (version N+1) approved by the logged-in chief (audited).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import pandas as pd
import streamlit as st
from streamlit.errors import NoSessionContext

from planning import replan as replanning
from planning.scenario import BEIJING, DEFAULT_EFFORT, ScenarioError
from records import access
from records.closures import as_planning_closures, closures_between
from records.visits import recorded_for_replan
from views import plan_overrides
from views.basemap import build_basemap
from views.data import basemap, records_store, road_network, site_prefectures, targets
from views.i18n import choose, register
from views.map_controls import Legend
from views.offline_map import layer_control, show_map
from views.plan_inputs import region_targets
from views.plan_week_result import _legs, _violations, save_and_approve
from views.route_layers import previous_routes_group, route_groups, route_legend_rows, route_view
from views.session import now

T = register(
    {
        "replan.title": ("5 从现在起重新规划", "5 Re-plan from now"),
        "replan.none": (
            "没有已批准的计划可以重新规划。",
            "No approved plan to re-plan.",
        ),
        "replan.plan": ("已批准的计划", "Approved plan"),
        "replan.plan_label": (
            "{plan_key} 第 {version} 版（{first} 至 {last}，编号 {plan_id}）",
            "{plan_key} version {version} ({first} to {last}, plan {plan_id})",
        ),
        "replan.old_format": (
            "此计划为旧格式，不能重新规划；请重新制定。",
            "This plan is in the old format and cannot be re-planned; plan it again.",
        ),
        "replan.now_date": ("从哪天起", "Re-plan from (day)"),
        "replan.now_time": ("时间", "Time"),
        "replan.bad_time": ("时间格式应为 HH:MM。", "The time should be HH:MM."),
        "replan.overrides": ("调整（用于本次重新规划）", "Overrides (for this re-plan)"),
        "replan.add": ("紧急增加的点位（必检）", "Urgent sites to add (mandatory)"),
        "replan.remove": ("取消的点位", "Sites to remove"),
        "replan.effort": ("重新规划的搜索强度", "Re-plan search effort"),
        "replan.closures": (
            "将避开 {n} 处支队长添加的道路封闭：{names}",
            "Avoids {n} chief-added road closure(s): {names}",
        ),
        "replan.closures.none": (
            "计划期内没有支队长添加的道路封闭（在“道路封闭”页添加）。",
            "No chief-added road closures on the plan days (add one on the Closures page).",
        ),
        "replan.run": ("重新规划", "Re-plan"),
        "replan.running": ("正在从 {now} 起重新规划…", "Re-planning from {now}…"),
        "replan.done": ("重新规划完成，用时 {seconds:.1f} 秒", "Re-planned in {seconds:.1f} s"),
        "replan.failed": ("重新规划失败：{message}", "Re-planning failed: {message}"),
        "replan.error": ("调整有误，字段 {field}：{message}", "Error in field {field}: {message}"),
        "replan.summary": (
            "新计划保留了 {kept} / {total} 个后续停靠点的队伍和日期；{done} 个点位已完成。",
            "The new plan keeps {kept} of {total} later stops on their team and day; {done} sites are done.",
        ),
        "replan.diff": ("各队每日变化", "Changes per team and day"),
        "replan.no_change": ("没有任何队伍或日期发生变化。", "No team or day changed."),
        "replan.col.team": ("队伍", "Team"),
        "replan.col.date": ("日期", "Day"),
        "replan.col.kept": ("保留", "Kept"),
        "replan.col.moved_in": ("调入", "Moved in"),
        "replan.col.moved_out": ("调出", "Moved out"),
        "replan.col.added": ("新增", "Added"),
        "replan.col.removed": ("取消", "Removed"),
        "replan.map": ("原路线（灰色虚线）与新路线", "Old routes (grey, dashed) and new routes"),
        "replan.map.old": ("原计划路线", "Previous routes"),
        "replan.check.ok": ("检查通过：0 项违规。", "Checker: 0 violations."),
        "replan.check.bad": ("检查发现 {n} 项违规：", "Checker found {n} violation(s):"),
        "replan.save": ("保存并批准为第 {version} 版", "Save and approve as version {version}"),
        "replan.saved": (
            "已保存为 {plan_key} 第 {version} 版（编号 {plan_id}），并由 {account} 批准；队员将看到新版本。",
            "Saved as {plan_key} version {version} (plan {plan_id}) and approved by {account}; "
            "officers now see the new version.",
        ),
        "replan.refused": ("未能批准：{message}", "Not approved: {message}"),
    }
)

STATE = "replan.result"
OVERRIDES = "replan.overrides"
MAP_HEIGHT_PX = 480
MAP_WIDTH_PX = 900
DIFF_LISTS = ("moved_in", "moved_out", "added", "removed")


def _approved_plans(account) -> pd.DataFrame:
    with records_store() as store:
        frame = access.visible_plans(store, account, now(), site_prefectures())
    return frame[frame["status"] == "approved"].reset_index(drop=True)


def _open(account, plan_id: int) -> dict:
    with records_store() as store:
        return access.open_plan(store, account, plan_id, now(), site_prefectures())


def _parse_now(day: dt.date, text: str) -> dt.datetime | None:
    try:
        clock = dt.time.fromisoformat(text.strip())
    except ValueError:
        return None
    return dt.datetime.combine(day, clock, BEIJING)


def site_names(*plans: dict) -> dict[str, str]:
    """Site id -> name: what the plans' stops say, else the registry."""
    names = targets().set_index("site_id")["name"].astype(str).to_dict()
    for plan in plans:
        for team in plan["teams"]:
            for stop in team["stops"]:
                if stop["type"] == "site" and stop.get("name"):
                    names[str(stop["id"])] = str(stop["name"])
    return names


def diff_table(diff: list[dict], names: dict[str, str]) -> pd.DataFrame:
    """The changed (team, day) rows of a re-plan diff with site names; kept as a count."""
    rows = []
    for row in diff:
        if not any(row.get(name) for name in DIFF_LISTS):
            continue
        entry = {
            T("replan.col.team"): row["team"],
            T("replan.col.date"): row["date"],
            T("replan.col.kept"): len(row.get("kept") or []),
        }
        for name in DIFF_LISTS:
            entry[T(f"replan.col.{name}")] = "、".join(names.get(s, s) for s in row.get(name) or [])
        rows.append(entry)
    columns = [T("replan.col.team"), T("replan.col.date"), T("replan.col.kept")]
    return pd.DataFrame(rows, columns=columns + [T(f"replan.col.{name}") for name in DIFF_LISTS])


def _inputs(account, row: dict) -> tuple[dt.datetime | None, dict, int, list]:
    previous = row["plan"]
    scenario = previous["scenario"]
    clock = now().astimezone(BEIJING)
    left, right = st.columns(2)
    day = left.date_input(T("replan.now_date"), value=clock.date(), key="replan.now_date")
    text = right.text_input(T("replan.now_time"), value=f"{clock:%H:%M}", key="replan.now_time", help="HH:MM")
    moment = _parse_now(day, text)
    if moment is None:
        st.error(T("replan.bad_time"))
    names = site_names(previous)
    plan_sites, teams, days = plan_overrides.plan_choices(previous, names)
    # The overrides belong to the plan picked: a new pick starts afresh.
    if st.session_state.get("replan.overrides_for") != row["plan_id"]:
        st.session_state[OVERRIDES] = plan_overrides.empty()
        st.session_state["replan.overrides_for"] = row["plan_id"]
    overrides = plan_overrides.form(OVERRIDES, plan_sites, teams, days, title=T("replan.overrides"))
    regions = [str(r) for r in (scenario.get("sites") or {}).get("regions") or []]
    registry = targets()
    # Urgent sites come from the plan's regions (or, without regions, from its own sites).
    pool = (
        region_targets(registry, regions)
        if regions
        else registry[registry["site_id"].astype(str).isin(names)]
    )
    urgent_options = sorted(set(pool["site_id"].astype(str)) - set(plan_sites))
    add = st.multiselect(
        T("replan.add"),
        urgent_options,
        key="replan.add",
        format_func=lambda s: f"{names.get(s, s)}（{s}）",
        placeholder=choose(),
    )
    remove = st.multiselect(
        T("replan.remove"),
        list(plan_sites),
        key="replan.remove",
        format_func=lambda s: f"{plan_sites[s]}（{s}）",
        placeholder=choose(),
    )
    solver = scenario.get("solver") if isinstance(scenario.get("solver"), dict) else {}
    effort = st.number_input(
        T("replan.effort"),
        min_value=1,
        max_value=100_000,
        value=int(solver.get("effort") or DEFAULT_EFFORT),
        step=10,
        key="replan.effort",
    )
    with records_store() as store:
        chief = closures_between(store, days[0], days[-1])
    if chief:
        st.info(T("replan.closures", n=len(chief), names="、".join(f"{c.name}（{c.period}）" for c in chief)))
    else:
        st.caption(T("replan.closures.none"))
    changes = {**plan_overrides.as_mapping(overrides)}
    if add:
        changes["add_sites"] = list(add)
    if remove:
        changes["remove_sites"] = list(remove)
    return moment, changes, int(effort), chief


def _run(account, row: dict, moment: dt.datetime, changes: dict, effort: int, chief: list) -> None:
    with st.status(T("replan.running", now=f"{moment:%Y-%m-%d %H:%M}"), expanded=True) as box:
        line = st.empty()

        def progress(message: str) -> None:
            # The search may report from a worker thread, which cannot draw: it is then skipped.
            with contextlib.suppress(NoSessionContext):
                line.code(message.strip())

        try:
            with records_store() as store:
                recorded = recorded_for_replan(store.conn)
            plan = replanning.replan(
                row["plan"],
                moment,
                recorded=recorded,
                changes=changes,
                targets=targets(),
                network=road_network(),
                closures=as_planning_closures(chief),
                effort=effort,
                progress=progress,
                replaces={
                    "plan_key": row["plan_key"],
                    "version": int(row["version"]),
                    "plan_id": int(row["plan_id"]),
                },
            )
        except ScenarioError as exc:
            box.update(state="error")
            st.error(T("replan.error", field=exc.field, message=plan_overrides.error_message(exc)))
            return
        except ValueError as exc:
            box.update(state="error")
            st.error(T("replan.failed", message=exc))
            return
        box.update(label=T("replan.done", seconds=plan.solve_seconds), state="complete", expanded=False)
    st.session_state[STATE] = {
        "plan_id": int(row["plan_id"]),
        "plan_key": row["plan_key"],
        "version": int(row["version"]),
        "previous": row["plan"],
        "plan": plan.to_dict(),
        "closure_ids": [c.closure_id for c in chief],
        "saved": None,
    }


def _map(previous: dict, plan: dict) -> None:
    st.markdown(f"**{T('replan.map')}**")
    old_legs = _legs(json.dumps(previous, ensure_ascii=False, sort_keys=True))
    new_legs = _legs(json.dumps(plan, ensure_ascii=False, sort_keys=True))
    m = build_basemap(basemap(), height_px=MAP_HEIGHT_PX)
    previous_routes_group(previous, old_legs, T("replan.map.old")).add_to(m)
    for group in route_groups(plan, new_legs):
        group.add_to(m)
    rows = [("border-top:3px dashed #888", T("replan.map.old")), *route_legend_rows(plan, 0)[:-1]]
    m.add_child(Legend(T("plan.map.legend"), rows), name="xunhu_route_legend")
    layer_control().add_to(m)
    centre, zoom = route_view(plan, new_legs, basemap().bounds, MAP_WIDTH_PX, MAP_HEIGHT_PX)
    show_map(m, key="replan_map", height_px=MAP_HEIGHT_PX, centre=centre, zoom=zoom, grow=True)


def _save(result: dict, account, violations: list[str]) -> None:
    saved = result.get("saved")
    if saved:
        st.success(T("replan.saved", **saved))
        return
    with records_store() as store:
        newest = int(
            store.conn.execute(
                "SELECT max(version) FROM plans WHERE plan_key = ?", (result["plan_key"],)
            ).fetchone()[0]
            or 0
        )
    label = T("replan.save", version=newest + 1)
    if st.button(label, key="replan.save", type="primary", disabled=bool(violations)):
        save_and_approve(result, account, result["plan_key"], "replan.saved", "replan.refused")


def _show(result: dict, account) -> None:
    plan, previous = result["plan"], result["previous"]
    info = plan.get("replan") or {}
    st.success(
        T(
            "replan.summary",
            kept=info.get("later_stops_kept", 0),
            total=info.get("later_stops", 0),
            done=len(info.get("done") or []),
        )
    )
    violations = _violations(
        json.dumps(plan["scenario"], ensure_ascii=False, sort_keys=True),
        json.dumps(plan, ensure_ascii=False, sort_keys=True),
        tuple(result.get("closure_ids") or ()),
    )
    if violations:
        st.error(T("replan.check.bad", n=len(violations)) + "\n\n" + "\n".join(f"- {v}" for v in violations))
    else:
        st.caption(T("replan.check.ok"))
    st.markdown(f"**{T('replan.diff')}**")
    table = diff_table(info.get("diff") or [], site_names(previous, plan))
    if table.empty:
        st.caption(T("replan.no_change"))
    else:
        st.dataframe(table, hide_index=True, width="stretch")
    _map(previous, plan)
    _save(result, account, violations)


def render(account) -> None:
    """Section 5 of the Plan week page."""
    st.subheader(T("replan.title"))
    approved = _approved_plans(account)
    if approved.empty:
        st.caption(T("replan.none"))
        return
    labels = {
        int(r.plan_id): T(
            "replan.plan_label",
            plan_key=r.plan_key,
            version=r.version,
            first=r.first_day,
            last=r.last_day,
            plan_id=r.plan_id,
        )
        for r in approved.itertuples()
    }
    plan_id = st.selectbox(T("replan.plan"), list(labels), format_func=labels.get, key="replan.plan")
    row = _open(account, int(plan_id))
    if int(row["plan"].get("format_version", 1)) < 2:
        st.warning(T("replan.old_format"))
        return
    moment, changes, effort, chief = _inputs(account, row)
    if st.button(T("replan.run"), key="replan.run", disabled=moment is None):
        _run(account, row, moment, changes, effort, chief)
    result = st.session_state.get(STATE)
    if result is not None and result["plan_id"] == int(plan_id):
        _show(result, account)
