"""Plan week, the result: checker verdict, warnings, days table, KPIs, route map, stop tables,
expected coverage, approval and downloads of a solved plan. Everything derived from the plan (road
geometry, the independent checker, expected coverage) is cached on the plan's JSON."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from coverage.inputs import has_records, load_model
from coverage.plan_coverage import plan_activities, plan_period, with_route_legs
from layers.schema import CATEGORIES
from planning.check import check_plan
from planning.export import CSV_COLUMNS, plan_legs, plan_notes, team_gpx, team_kml, write_team_csv
from planning.scenario import parse_scenario
from records import access
from records.closures import as_planning_closures, get_closure
from records.db import RecordsError
from views import plan_overrides, vocabulary
from views.basemap import build_basemap
from views.data import basemap, records_store, road_network, site_prefectures, targets
from views.i18n import language
from views.map_controls import Legend
from views.offline_map import layer_control, show_map
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
from views.plan_week_text import T
from views.route_layers import route_groups, route_legend_rows, route_view
from views.session import now

MAP_HEIGHT_PX = 620
#: A typical width of the map on a laptop, used to pick the zoom that shows the whole plan.
MAP_WIDTH_PX = 900
#: The time budget offered when a chief prefers one to the reproducible effort.


#: Session key of the chief's overrides for the next solve.
OVERRIDES = "plan.overrides"


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
    layer_control().add_to(m)
    centre, zoom = route_view(plan, legs, basemap().bounds, MAP_WIDTH_PX, MAP_HEIGHT_PX)
    show_map(m, key="plan_map", height_px=MAP_HEIGHT_PX, centre=centre, zoom=zoom, grow=True)


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
    dates = [str(d) for d in closure.get("dates") or []]
    every = len(dates) >= int(plan["scenario"].get("days") or 0) > 0
    return T(
        "plan.closures.item",
        name=str(closure.get("name") or closure.get("id")),
        reason=vocabulary.label("closure_reason", reason),
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
        save_and_approve(result, account, None, "plan.approve.done", "plan.approve.refused")


def save_and_approve(result: dict, account, key: str | None, done: str, refused: str) -> None:
    """Store ``result["plan"]`` (under ``key``: its next version) and approve it as ``account``
    (audited); say so with the texts ``done`` or ``refused`` and remember it in ``result``."""
    try:
        with records_store() as store:
            stored = store.save_plan(result["plan"], key=key, actor=account.username)
            access.approve_plan(
                store, account, stored.plan_id, now=now(), site_prefectures=site_prefectures()
            )
    except (access.AccessDenied, RecordsError) as exc:
        st.error(T(refused, message=exc))
        return
    result["saved"] = {
        "plan_key": stored.plan_key,
        "version": stored.version,
        "plan_id": stored.plan_id,
        "account": account.username,
    }
    st.success(T(done, **result["saved"]))


def _team_csv(plan: dict, team: dict) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "team.csv"
        headers = {column: T(f"plan.csv.{column}") for column in CSV_COLUMNS}
        write_team_csv(team, path, plan_notes(plan, language()), headers)
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
        T("plan.download.gpx"),
        team_gpx(plan, team, team_legs),
        f"{stem}.gpx",
        "application/gpx+xml",
        on_click="ignore",
    )
    cols[1].download_button(
        T("plan.download.kml"),
        team_kml(plan, team, team_legs),
        f"{stem}.kml",
        "application/vnd.google-earth.kml+xml",
        on_click="ignore",
    )
    cols[2].download_button(
        T("plan.download.csv"), _team_csv(plan, team), f"{stem}.csv", "text/csv", on_click="ignore"
    )
    cols[3].download_button(
        T("plan.download.sheet"),
        route_sheet_html(plan, team, targets()),
        f"{stem}.html",
        "text/html",
        on_click="ignore",
    )
    cols[4].download_button(
        T("plan.download.json"),
        plan_json,
        f"{stem.rsplit('-', 1)[0]}.json",
        "application/json",
        on_click="ignore",
    )


def show_result(result: dict, account) -> None:
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
    names = targets().set_index("site_id")["name"].astype(str).to_dict()
    plan_overrides.form(OVERRIDES, *plan_overrides.plan_choices(plan, names))
    if coverage is not None:
        _coverage_table(coverage)
    _approve(result, account, violations)
    _downloads(plan, plan_json, legs)
