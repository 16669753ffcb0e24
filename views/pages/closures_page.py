"""Road closures / 道路封闭: the shipped seasonal closures and the ones chiefs added, on a map and in
a table; chiefs and admins add new ones (a circle around a clicked or typed point).

Everyone may look (closed roads are no secret, and officers and managers plan around them too);
only accounts with ``manage_closures`` see the form. Saving goes through
``records.access.add_closure``, which stores the closure and its audit entry in one transaction
under the logged-in account; the plan-week page then routes around every closure in force on a
plan day. The page only gathers input, calls the core and renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import folium
import pandas as pd
import streamlit as st
from shapely.geometry import mapping
from streamlit_folium import st_folium

from records import access
from records.closures import (
    MAX_RADIUS_KM,
    MIN_RADIUS_KM,
    REASONS,
    ClosureError,
    StoredClosure,
    circle,
    list_closures,
)
from records.db import RecordsError
from views import data
from views.basemap import build_basemap, view_for
from views.i18n import language_key, register
from views.map_controls import Legend
from views.offline_map import localize
from views.session import require_login, today
from views.vocabulary import label
from views.web_text import web_text

MAP_HEIGHT_PX = 520
MAP_WIDTH_PX = 900
DEFAULT_RADIUS_KM = 5.0
#: Line / area styles: (colour, dash, fill opacity) for in force today, and for not in force.
SHIPPED_STYLE = {True: ("#b71c1c", None, 0.25), False: ("#9e9e9e", "6 6", 0.08)}
CHIEF_STYLE = {True: ("#e65100", None, 0.35), False: ("#f9a825", "4 6", 0.12)}

T = register(
    {
        "closures.title": ("道路封闭", "Road closures"),
        "closures.intro": (
            "周计划会避开计划期内任何一天生效的封闭。季节性封闭随软件提供；临时封闭由支队长添加。",
            "Week plans avoid every closure in force on a plan day. Seasonal closures ship with the "
            "software; chiefs add short-notice ones here.",
        ),
        "closures.read_only": (
            "只读：只有支队长和管理员可以添加封闭。",
            "Read-only: only chiefs and admins add closures.",
        ),
        "closures.no_shipped": (
            "本版本尚未提供季节性封闭图层。",
            "The seasonal closure layer is not available in this version.",
        ),
        "closures.today": ("今天：{day}", "Today: {day}"),
        "closures.map": ("地图", "Map"),
        "closures.legend": ("道路封闭", "Road closures"),
        "closures.legend.shipped_on": ("季节性，今天生效", "Seasonal, in force today"),
        "closures.legend.shipped_off": ("季节性，今天未生效", "Seasonal, not in force today"),
        "closures.legend.chief_on": ("临时，今天生效", "Short-notice, in force today"),
        "closures.legend.chief_off": ("临时，今天未生效", "Short-notice, not in force today"),
        "closures.legend.new": ("新封闭（未保存）", "New closure (not saved)"),
        "closures.group.shipped": ("季节性封闭", "Seasonal closures"),
        "closures.group.chief": ("临时封闭", "Short-notice closures"),
        "closures.table": ("封闭列表（{n}）", "Closures ({n})"),
        "closures.only_now": ("只显示今天生效的", "Only those in force today"),
        "closures.col.name": ("名称", "Name"),
        "closures.col.reason": ("原因", "Reason"),
        "closures.col.period": ("时段", "Period"),
        "closures.col.source": ("来源", "Source"),
        "closures.col.confidence": ("可信度", "Confidence"),
        "closures.col.now": ("今天生效", "In force today"),
        "closures.col.by": ("添加人", "Added by"),
        "closures.source.chief": ("支队长", "chief"),
        "closures.source.shipped": ("随软件", "shipped"),
        "closures.yearly": ("每年 {period}", "every year {period}"),
        "closures.lifted": ("（{day} 起解除）", " (lifted from {day})"),
        "closures.add": ("添加封闭", "Add a closure"),
        "closures.add.help": (
            "在地图上点击封闭地点（或输入经纬度），再填半径：以该点为圆心的区域将被封闭。",
            "Click the closed place on the map (or type its longitude and latitude) and give a "
            "radius: the circle around it is closed.",
        ),
        "closures.f.name": ("名称（道路和地点）", "Name (road and place)"),
        "closures.f.reason": ("原因", "Reason"),
        "closures.f.first": ("第一天", "First day"),
        "closures.f.last": ("最后一天", "Last day"),
        "closures.f.lon": ("经度", "Longitude"),
        "closures.f.lat": ("纬度", "Latitude"),
        "closures.f.radius": ("半径（公里）", "Radius (km)"),
        "closures.f.note": ("备注（可选）", "Note (optional)"),
        "closures.f.save": ("保存封闭", "Save the closure"),
        "closures.clicked": ("已选地图点：{lon:.4f}, {lat:.4f}", "Map point chosen: {lon:.4f}, {lat:.4f}"),
        "closures.saved": (
            "已保存封闭 {id}：{name}，{first} 至 {last}（已记入审计日志）。",
            "Closure {id} saved: {name}, {first} to {last} (written to the audit log).",
        ),
        "closures.refused": ("未能保存：{message}", "Not saved: {message}"),
        "closures.err.name_missing": (
            "请填写名称（道路和地点）。",
            "Give the closure a name (road and place).",
        ),
        "closures.err.name_long": (
            "名称最多 {limit} 个字。",
            "The name may have at most {limit} characters.",
        ),
        "closures.err.reason": ("请选择原因。", "Choose a reason."),
        "closures.err.date_format": ("日期无效。", "A date is not valid."),
        "closures.err.dates_order": (
            "最后一天不能早于第一天。",
            "The last day cannot be before the first day.",
        ),
        "closures.err.too_long": (
            "临时封闭最长 {limit} 天。",
            "A short-notice closure lasts at most {limit} days.",
        ),
        "closures.err.place_missing": (
            "请在地图上点击地点或输入经纬度。",
            "Click the place on the map or type its longitude and latitude.",
        ),
        "closures.err.place_numbers": (
            "经纬度和半径必须是数字。",
            "Longitude, latitude and radius must be numbers.",
        ),
        "closures.err.place_range": ("经纬度超出范围。", "The longitude or latitude is out of range."),
        "closures.err.place_both": ("地点只能给一种。", "Give the place one way only."),
        "closures.err.radius": (
            "半径须在 {low:g} 至 {high:g} 公里之间。",
            "The radius must be {low:g} to {high:g} km.",
        ),
        "closures.err.outside_xinjiang": ("该地点不在新疆境内。", "That place is not inside Xinjiang."),
        "closures.err.not_area": ("封闭区域必须是多边形。", "The closed area must be a polygon."),
        "closures.err.invalid_area": (
            "封闭区域无效（为空或自相交）。",
            "The closed area is empty or crosses itself.",
        ),
    }
)


# --- data ---------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False)
def _shipped() -> list[dict]:
    """The shipped closures as plain rows (id, name, reason, period, source, confidence, geojson),
    or [] while ``planning.closures`` is not there."""
    try:
        from planning.closures import load_closures

        shipped = load_closures()
    except (ImportError, ValueError):  # not written yet, or the layer file is missing
        return []
    return [
        {
            "id": str(c.id),
            "name": str(c.name),
            "reason": str(c.reason),
            "period": str(c.period),
            "source": str(c.source),
            "confidence": c.confidence,
            "geojson": mapping(c.geometry),
        }
        for c in shipped
    ]


@st.cache_data(show_spinner=False, max_entries=8)
def _shipped_in_force(day: dt.date) -> set[str]:
    """Ids of the shipped closures in force on ``day``."""
    try:
        from planning.closures import in_force, load_closures

        return {str(c.id) for c in in_force(load_closures(), day)}
    except (ImportError, ValueError):
        return set()


def reason_label(reason: str) -> str:
    """A closure reason in the session's language (unknown reasons as they are)."""
    return label("closure_reason", reason)


def period_label(period: str) -> str:
    """``2026-12-07..2026-12-09`` as ``2026-12-07 – 2026-12-09``; a yearly ``10-15..06-15`` says so."""
    first, _, last = period.partition("..")
    text = f"{first} – {last}" if last else period
    return T("closures.yearly", period=text) if len(first) == 5 else text


def closures_table(shipped: Sequence[dict], chief: Sequence[StoredClosure], day: dt.date) -> pd.DataFrame:
    """One row per closure (chief's first, newest first; then the shipped ones), in force or not."""
    on = _shipped_in_force(day)
    rows = [
        {
            T("closures.col.name"): row.name,
            T("closures.col.reason"): reason_label(row.reason),
            T("closures.col.period"): f"{row.first_day} – {row.last_day}"
            + (T("closures.lifted", day=row.lifted_from) if row.lifted_from else ""),
            T("closures.col.source"): T("closures.source.chief"),
            T("closures.col.confidence"): "",
            T("closures.col.now"): row.in_force(day),
            T("closures.col.by"): row.created_by,
        }
        for row in reversed(chief)
    ]
    rows += [
        {
            T("closures.col.name"): row["name"],
            T("closures.col.reason"): reason_label(row["reason"]),
            T("closures.col.period"): period_label(row["period"]),
            T("closures.col.source"): row["source"] or T("closures.source.shipped"),
            T("closures.col.confidence"): "" if row["confidence"] is None else str(row["confidence"]),
            T("closures.col.now"): row["id"] in on,
            T("closures.col.by"): "",
        }
        for row in shipped
    ]
    # In force today right after the name: on a phone the first two columns are what fits.
    order = ("name", "now", "period", "reason", "source", "confidence", "by")
    columns = [T(f"closures.col.{c}") for c in order]
    return pd.DataFrame(rows, columns=columns)


# --- map ----------------------------------------------------------------------------------------
def _style(colour: str, dash: str | None, fill: float):
    def style(_feature: dict) -> dict:
        return {"color": colour, "weight": 4, "dashArray": dash, "fillColor": colour, "fillOpacity": fill}

    return style


def _closure_map(
    shipped: Sequence[dict], chief: Sequence[StoredClosure], day: dt.date, preview: dict | None
) -> folium.Map:
    m = build_basemap(data.basemap(), height_px=MAP_HEIGHT_PX)
    on = _shipped_in_force(day)
    groups = {
        "shipped": folium.FeatureGroup(name=T("closures.group.shipped")),
        "chief": folium.FeatureGroup(name=T("closures.group.chief")),
    }
    for row in shipped:
        colour, dash, fill = SHIPPED_STYLE[row["id"] in on]
        folium.GeoJson(
            row["geojson"],
            style_function=_style(colour, dash, fill),
            tooltip=web_text(
                f"{row['name']} · {reason_label(row['reason'])} · {period_label(row['period'])}"
            ),
        ).add_to(groups["shipped"])
    for row in chief:
        colour, dash, fill = CHIEF_STYLE[row.in_force(day)]
        folium.GeoJson(
            mapping(row.geometry),
            style_function=_style(colour, dash, fill),
            tooltip=web_text(
                f"{row.name} · {reason_label(row.reason)} · {row.period or '—'} · {row.created_by}"
            ),
        ).add_to(groups["chief"])
    for group in groups.values():
        group.add_to(m)
    if preview is not None:
        folium.GeoJson(
            mapping(circle(preview["lon"], preview["lat"], preview["radius"])),
            style_function=_style("#1565c0", "2 4", 0.15),
            tooltip=web_text(T("closures.legend.new")),
        ).add_to(m)
    rows = [
        (f"border-top:4px solid {SHIPPED_STYLE[True][0]}", T("closures.legend.shipped_on")),
        (f"border-top:4px dashed {SHIPPED_STYLE[False][0]}", T("closures.legend.shipped_off")),
        (f"background:{CHIEF_STYLE[True][0]};opacity:.7", T("closures.legend.chief_on")),
        (f"background:{CHIEF_STYLE[False][0]};opacity:.5", T("closures.legend.chief_off")),
        ("border:2px dashed #1565c0", T("closures.legend.new")),
    ]
    m.add_child(Legend(T("closures.legend"), rows, expanded=False), name="xunhu_closure_legend")
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def _show_map(m: folium.Map) -> None:
    """Show the map offline; a click puts its point into the form (before the form is drawn)."""
    centre, zoom = view_for(data.basemap().bounds, MAP_WIDTH_PX, MAP_HEIGHT_PX)
    clicked = st_folium(
        localize(m),
        key="closures.map",
        height=MAP_HEIGHT_PX,
        use_container_width=True,
        center=centre,
        zoom=zoom,
        returned_objects=["last_clicked"],
    )
    point = (clicked or {}).get("last_clicked")
    if point and point != st.session_state.get("closures.clicked_seen"):
        st.session_state["closures.clicked_seen"] = point
        st.session_state["closures.f.lon"] = round(float(point["lng"]), 5)
        st.session_state["closures.f.lat"] = round(float(point["lat"]), 5)
        st.rerun()


# --- form ---------------------------------------------------------------------------------------
def error_text(exc: RecordsError) -> str:
    """A refused closure explained in the session's language (other errors as they are)."""
    if isinstance(exc, ClosureError):
        try:
            return T(f"closures.err.{exc.code}", **exc.values)
        except KeyError:
            pass
    return str(exc)


def _add_form(account, day: dt.date) -> None:
    st.subheader(T("closures.add"))
    st.caption(T("closures.add.help"))
    state = st.session_state
    state.setdefault("closures.f.first", day)
    state.setdefault("closures.f.last", day + dt.timedelta(days=2))
    state.setdefault("closures.f.radius", DEFAULT_RADIUS_KM)
    if state.get("closures.f.lon") is not None and state.get("closures.f.lat") is not None:
        st.caption(T("closures.clicked", lon=state["closures.f.lon"], lat=state["closures.f.lat"]))
    with st.form("closures.add_form", clear_on_submit=False):
        name = st.text_input(T("closures.f.name"), key="closures.f.name", max_chars=120)
        labels = {reason_label(code): code for code in REASONS}
        reason = labels[
            st.selectbox(T("closures.f.reason"), list(labels), key=language_key("closures.f.reason"))
        ]
        left, right = st.columns(2)
        first = left.date_input(T("closures.f.first"), key="closures.f.first")
        last = right.date_input(T("closures.f.last"), key="closures.f.last")
        left, right = st.columns(2)
        lon = left.number_input(
            T("closures.f.lon"),
            min_value=70.0,
            max_value=100.0,
            value=None,
            format="%.5f",
            key="closures.f.lon",
        )
        lat = right.number_input(
            T("closures.f.lat"),
            min_value=30.0,
            max_value=50.0,
            value=None,
            format="%.5f",
            key="closures.f.lat",
        )
        radius = st.number_input(
            T("closures.f.radius"),
            min_value=MIN_RADIUS_KM,
            max_value=MAX_RADIUS_KM,
            step=1.0,
            key="closures.f.radius",
        )
        note = st.text_input(T("closures.f.note"), key="closures.f.note")
        submitted = st.form_submit_button(T("closures.f.save"), type="primary")
    if not submitted:
        return
    try:
        with data.records_store() as store:
            stored = access.add_closure(
                store,
                account,
                name=name,
                reason=reason,
                first_day=first,
                last_day=last,
                lon=lon,
                lat=lat,
                radius_km=radius,
                note=note,
            )
    except RecordsError as exc:  # AccessDenied and ClosureError are RecordsErrors
        st.error(T("closures.refused", message=error_text(exc)))
        return
    state["closures.saved"] = T(
        "closures.saved", id=stored.closure_id, name=stored.name, first=stored.first_day, last=stored.last_day
    )
    st.rerun()


def render() -> None:
    """The road-closures page."""
    account = require_login()
    st.header(T("closures.title"))
    st.caption(T("closures.intro"))
    day = today()
    may_add = access.can(account, "manage_closures")
    if notice := st.session_state.pop("closures.saved", None):
        st.success(notice)
    with data.records_store() as store:
        chief = list_closures(store)
    shipped = _shipped()
    if not shipped:
        st.caption(T("closures.no_shipped"))
    state = st.session_state
    preview = None
    if may_add and state.get("closures.f.lon") is not None and state.get("closures.f.lat") is not None:
        preview = {
            "lon": float(state["closures.f.lon"]),
            "lat": float(state["closures.f.lat"]),
            "radius": float(state.get("closures.f.radius") or DEFAULT_RADIUS_KM),
        }
    _show_map(_closure_map(shipped, chief, day, preview))
    table = closures_table(shipped, chief, day)
    now_column = T("closures.col.now")
    st.subheader(T("closures.table", n=len(table)))
    st.caption(T("closures.today", day=day.isoformat()))
    if st.toggle(T("closures.only_now"), key="closures.only_now"):
        table = table[table[now_column]]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={now_column: st.column_config.CheckboxColumn(now_column)},
    )
    if may_add:
        _add_form(account, day)
    else:
        st.info(T("closures.read_only"))
