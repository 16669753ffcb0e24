"""Coverage (managers, chiefs, admins): which prefectures and counties were covered, where the blind spots are.

The page gathers a period and options, reads visits and GPS fixes through
:func:`views.data.records_store`, and shows what :mod:`views.coverage_results` computes with the
``coverage`` package: a choropleth, the ranked blind spots, the per-region table, the weekly trend
and CSV/Excel exports. The computation is cached by period, grid resolution and the database file's
modification time and size, so reruns (and other sessions) reuse it until a record is written.

Who sees what (:func:`views.coverage_results.coverage_scope`): a manager without the ``drilldown``
permission sees prefecture aggregates only; a chief their own detachment; admins and drill-down
managers everything.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from coverage import inputs
from coverage.blindspots import AREA_WEIGHT_CAP
from coverage.grid import DEFAULT_RESOLUTION, FINE_RESOLUTION
from layers.datasets import load_context
from layers.schema import CATEGORIES, XINJIANG_METRIC_CRS
from layers.spreadsheet import csv_text, export_notes, has_simulated, rounded, workbook_bytes
from records.backend import is_postgresql
from records.db import LOCAL_TZ as BEIJING
from records.db import default_db_path
from records.loop_figures import region_figures
from views import data
from views.basemap import build_basemap
from views.coverage_layers import (
    blind_legend_rows,
    blind_spot_layer,
    choropleth,
    coverage_legend,
    covered_cells_layer,
    scale_legend_rows,
)
from views.coverage_results import (
    TREND_COLUMNS,
    CoverageResult,
    Scope,
    TrackCoverage,
    compute,
    coverage_scope,
    draw_targets,
    in_scope,
    latest_draw,
    region_table,
    track_coverage,
)
from views.i18n import language, language_key, register
from views.offline_map import layer_control, show_map
from views.session import audit_refusal, now, require_login, today
from views.vocabulary import labeller

MAP_HEIGHT_PX = 560
DEFAULT_TOP_SPOTS = 25
MEASURES = ("weighted_coverage_pct", "site_coverage_pct", "area_coverage_pct")
QUICK_CHOICES = ("last_12", "last_4", "quarter", "custom")

T = register(
    {
        "coverage.title": ("覆盖情况", "Coverage"),
        "coverage.refused": ("您的账号不能查看覆盖统计。", "Your account cannot see coverage statistics."),
        "coverage.period": ("统计时段", "Period"),
        "coverage.quick.last_12": ("最近12周", "Last 12 weeks"),
        "coverage.quick.last_4": ("最近4周", "Last 4 weeks"),
        "coverage.quick.quarter": ("本季度", "This quarter"),
        "coverage.quick.custom": ("自定义", "Custom"),
        "coverage.since": ("开始日期", "From"),
        "coverage.until": ("结束日期（含）", "Until (inclusive)"),
        "coverage.bad_period": ("结束日期早于开始日期。", "The end date is before the start date."),
        "coverage.level": ("统计层级", "Level"),
        "coverage.level.prefecture": ("地州市", "Prefecture"),
        "coverage.level.county": ("县市区", "County"),
        "coverage.measure": ("地图显示", "Map shows"),
        "coverage.resolution": ("网格精度（H3）", "Grid (H3 resolution)"),
        "coverage.resolution.option": ("{res}级（每格约{km2}平方公里）", "level {res} (≈{km2} km² a cell)"),
        "coverage.drilldown_refused": (
            "您的账号只能查看地州市汇总；查看县市区和点位明细需要“下钻”权限。",
            "Your account sees prefecture totals only; county and site detail need the drill-down permission.",
        ),
        "coverage.own_detachment": ("仅显示本支队：{name}", "Your detachment only: {name}"),
        "coverage.computing": ("正在计算覆盖情况…", "Computing coverage…"),
        "coverage.draw_file": ("双随机抽查结果（JSON，可选）", "Random draw (JSON, optional)"),
        "coverage.draw_uploaded": ("抽查结果：上传的文件 {name}", "Random draw: the uploaded file {name}"),
        "coverage.draw_audit": (
            "抽查结果：审计日志中最新的一次抽查（{period}）",
            "Random draw: the latest draw in the audit log ({period})",
        ),
        "coverage.draw_none": (
            "未提供双随机抽查结果：“抽查完成”列为空。",
            "No random draw given: the draw columns are empty.",
        ),
        "coverage.draw_bad": ("抽查文件无法读取：{error}", "The draw file cannot be read: {error}"),
        "coverage.kpi.weighted": ("加权覆盖率", "Weighted coverage"),
        "coverage.kpi.site": ("点位覆盖率", "Site coverage"),
        "coverage.kpi.area": ("面积覆盖率", "Area coverage"),
        "coverage.kpi.debt": ("覆盖欠账（天）", "Coverage debt (days)"),
        "coverage.kpi.draw": ("抽查完成", "Draw targets met"),
        "coverage.map": ("覆盖地图", "Coverage map"),
        "coverage.layer.choropleth": ("覆盖率", "Coverage"),
        "coverage.layer.blind": ("盲区", "Blind spots"),
        "coverage.layer.covered": ("已覆盖网格", "Covered cells"),
        "coverage.top_spots": ("显示盲区数量", "Blind spots shown"),
        "coverage.show_covered": ("显示已覆盖网格", "Show covered cells"),
        "coverage.no_data": ("无数据", "no data"),
        "coverage.legend": ("图例", "Legend"),
        "coverage.region": ("地区", "Region"),
        "coverage.blind.rank": ("排名", "Rank"),
        "coverage.blind.weight": ("权重", "Weight"),
        "coverage.blind.where": ("位置", "Where"),
        "coverage.blind.road_km": ("距道路（公里）", "Road distance (km)"),
        "coverage.blind.remote": ("需无人机/遥感", "Needs drone/remote sensing"),
        "coverage.blind.access": ("到达方式", "Access"),
        "coverage.blind.cells": ("网格数", "Cells"),
        "coverage.blind.area": ("面积（平方公里）", "Area (km²)"),
        "coverage.access.road": ("道路可达", "by road"),
        "coverage.access.road_and_drone": ("部分道路可达，其余需无人机", "partly by road, the rest by drone"),
        "coverage.access.drone_or_remote_sensing": (
            "需无人机或遥感（非现场）",
            "drone or remote sensing only",
        ),
        "coverage.yes": ("是", "yes"),
        "coverage.no": ("否", "no"),
        "coverage.blind_title": (
            "盲区排名（本时段内未覆盖、权重最高的区域）",
            "Blind spots (weight not covered in the period)",
        ),
        "coverage.no_blind": ("本时段没有盲区。", "No blind spots in this period."),
        "coverage.blind.rank_weight": ("排序权重", "Rank weight"),
        "coverage.blind_rule": (
            "排序规则：盲区内污染源和饮用水水源保护区的关注权重全额计入；随面积增长的权重（自然保护区、河流）"
            "每个盲区最多计 {cap:g} 分（相当于一个中等优先级的污染源），所以大片无人荒漠不会排在未检查的企业前面。"
            "“总权重”为全部权重。",
            "Ranking: the attention weight of pollution sources and drinking-water zones in a spot counts in "
            "full; weight that grows with area alone (protected areas, rivers) counts at most {cap:g} points "
            "per spot (one pollution source of middle priority), so vast empty desert does not outrank an "
            "unvisited factory. 'Weight' is the total.",
        ),
        "coverage.records_end": (
            "记录截至 {day}（北京时间）：之后的周没有记录，趋势图只画到这一周。",
            "The records end on {day} (Beijing time): later weeks have no records, so the trend stops there.",
        ),
        "coverage.no_records": ("本时段没有任何巡查记录。", "There are no records in this period."),
        "coverage.col.prefecture_code": ("地州代码", "Prefecture code"),
        "coverage.col.county_code": ("县代码", "County code"),
        "coverage.sheet.regions": ("各地区统计", "regions"),
        "coverage.sheet.blind": ("盲区", "blind spots"),
        "coverage.sheet.trend": ("每周趋势", "weekly trend"),
        "coverage.sheet.loop": ("闭环执法", "closing the loop"),
        "coverage.loop": (
            "闭环执法（本时段发现的案件与收到的投诉）",
            "Closing the loop (cases found and complaints received in the period)",
        ),
        "coverage.loop.none": ("本时段没有案件或投诉。", "No case or complaint in the period."),
        "coverage.loop.region": ("地区", "Region"),
        "coverage.loop.cases_open": ("未结案件", "Open cases"),
        "coverage.loop.cases_overdue": ("超期案件", "Overdue cases"),
        "coverage.loop.cases_closed": ("已销号案件", "Cases closed"),
        "coverage.loop.cases_closed_on_time": ("按期销号", "Closed on time"),
        "coverage.loop.case_on_time_rate": ("按期销号率", "On-time rate"),
        "coverage.loop.case_median_days_to_close": ("销号天数中位数", "Median days to close"),
        "coverage.loop.complaints_open": ("未办结投诉", "Open complaints"),
        "coverage.loop.complaints_overdue": ("超期投诉", "Overdue complaints"),
        "coverage.loop.complaints_closed": ("已办结投诉", "Complaints closed"),
        "coverage.loop.complaints_closed_on_time": ("按期办结", "Answered on time"),
        "coverage.loop.complaint_on_time_rate": ("按期办结率", "On-time rate (complaints)"),
        "coverage.loop.complaint_median_days_to_close": ("办结天数中位数", "Median days to answer"),
        "coverage.loop.repeat_offenders": ("重复违法单位", "Repeat offenders"),
        "coverage.table": ("各地区统计", "Per-region table"),
        "coverage.col.name": ("名称", "Name"),
        "coverage.col.prefecture": ("地州市", "Prefecture"),
        "coverage.col.weighted": ("加权覆盖率 %", "Weighted coverage %"),
        "coverage.col.site": ("点位覆盖率 %", "Site coverage %"),
        "coverage.col.area": ("面积覆盖率 %", "Area coverage %"),
        "coverage.col.due": ("应检点位", "Sites due"),
        "coverage.col.due_inspected": ("已检应检点位", "Due sites inspected"),
        "coverage.col.overdue": ("超期点位", "Sites overdue"),
        "coverage.col.debt": ("欠账天数", "Debt (days)"),
        "coverage.col.debt_key": ("欠账：重点", "Debt: key"),
        "coverage.col.debt_special": ("欠账：特殊", "Debt: special"),
        "coverage.col.debt_ordinary": ("欠账：一般", "Debt: ordinary"),
        "coverage.col.draw_targets": ("抽查目标", "Draw targets"),
        "coverage.col.draw_met": ("抽查完成", "Draw targets met"),
        "coverage.total": ("合计", "Total"),
        "coverage.trend": ("每周趋势", "Weekly trend"),
        "coverage.trend_week": ("周（起始日）", "Week (starting)"),
        "coverage.download_csv": ("下载 CSV", "Download CSV"),
        "coverage.download_xlsx": ("下载 Excel", "Download Excel"),
        "coverage.overdue_sites": ("超期点位明细", "Overdue sites"),
        "coverage.no_overdue": ("没有超期点位。", "No overdue sites."),
        "coverage.overdue.site_id": ("编号", "Site"),
        "coverage.overdue.category": ("监管类别", "Category"),
        "coverage.overdue.county_name": ("县市区", "County"),
        "coverage.overdue.last_before": ("上次检查", "Last inspected"),
        "coverage.overdue.overdue_days": ("超期天数", "Days overdue"),
        "coverage.caption": (
            "时段 {since} 至 {until}（北京时间，含两端）；网格 H3 {res} 级；盲区 = 有权重但本时段内未覆盖的网格，按县合并。",
            "Period {since} to {until} (Beijing days, inclusive); H3 grid level {res}; blind spot = "
            "weighted cells not covered in the period, merged within a county.",
        ),
    }
)

#: Blind-spot columns shown and exported, with their label keys.
BLIND_LABELS = {
    "rank": "coverage.blind.rank",
    "rank_weight": "coverage.blind.rank_weight",
    "total_weight": "coverage.blind.weight",
    "where": "coverage.blind.where",
    "cells": "coverage.blind.cells",
    "area_km2": "coverage.blind.area",
    "nearest_road_km": "coverage.blind.road_km",
    "access": "coverage.blind.access",
}
#: Region codes, exported before the shown columns (other tools join on them).
CODE_LABELS = {"prefecture_code": "coverage.col.prefecture_code", "county_code": "coverage.col.county_code"}
#: Region-table columns shown, with their label keys (the frame keeps the core's column names).
TABLE_LABELS = {
    "prefecture_name": "coverage.col.prefecture",
    "county_name": "coverage.col.name",
    "weighted_coverage_pct": "coverage.col.weighted",
    "site_coverage_pct": "coverage.col.site",
    "area_coverage_pct": "coverage.col.area",
    "sites_due": "coverage.col.due",
    "sites_due_inspected": "coverage.col.due_inspected",
    "sites_overdue": "coverage.col.overdue",
    "debt_days": "coverage.col.debt",
    **{f"debt_days_{category}": f"coverage.col.debt_{category}" for category in CATEGORIES},
    "draw_targets": "coverage.col.draw_targets",
    "draw_met": "coverage.col.draw_met",
}
MEASURE_LABELS = {
    "weighted_coverage_pct": "coverage.kpi.weighted",
    "site_coverage_pct": "coverage.kpi.site",
    "area_coverage_pct": "coverage.kpi.area",
}
CELL_KM2 = {DEFAULT_RESOLUTION: 41, FINE_RESOLUTION: 6}


def quick_period(choice: str, day: date) -> tuple[date, date]:
    """(first, last) day of a quick choice ending on ``day``: the last 4 or 12 weeks, or this quarter."""
    if choice == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        return date(day.year, first_month, 1), day
    weeks = 4 if choice == "last_4" else 12
    return day - timedelta(days=7 * weeks - 1), day


def db_stamp() -> tuple[str, tuple[int, int], tuple[int, int]]:
    """The records database path with the (mtime, size) of the file and of its write-ahead log.

    Writes land in the ``-wal`` file until a checkpoint, so the main file alone may not change. A
    PostgreSQL database has no file: every write there appends an audit entry, so the last audit id
    stands in for the file's stamp.
    """
    path = default_db_path()
    if is_postgresql(path):
        with data.records_store() as store:
            last = store.conn.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]
        return str(path), (int(last), 0), (0, 0)

    def stat(file: Path) -> tuple[int, int]:
        return (file.stat().st_mtime_ns, file.stat().st_size) if file.exists() else (0, 0)

    return str(path), stat(path), stat(Path(f"{path}-wal"))


@st.cache_resource(show_spinner=False, max_entries=4)
def coverage_model(since_day: str, resolution: int) -> inputs.CoverageModel:
    """Grid and weights for a period starting on ``since_day`` (priorities scored that day)."""
    since, _ = inputs.period(since_day, since_day)
    return inputs.load_model(since, resolution)


@st.cache_resource(show_spinner=False)
def roads_metric() -> np.ndarray:
    """Road lines inside Xinjiang in the metric CRS (blind-spot road distance)."""
    roads = load_context("roads")
    return roads[roads["in_xinjiang"].astype(bool)].to_crs(XINJIANG_METRIC_CRS).geometry.to_numpy()


def tracks_stamp() -> tuple[str, int, int, int]:
    """The database path with the number of tracks, the last track id and the number of fixes."""
    with data.records_store() as store:
        tracks = store.tracks()
    last = int(tracks["track_id"].max()) if len(tracks) else 0
    return str(default_db_path()), len(tracks), last, int(tracks["n_points"].sum())


@st.cache_data(show_spinner=False, max_entries=8)
def cached_tracks(since_day: str, until_day: str, resolution: int, stamp: tuple) -> TrackCoverage:
    """:func:`views.coverage_results.track_coverage`; ``stamp`` (:func:`tracks_stamp`) keys the cache."""
    model = coverage_model(since_day, resolution)
    since, until = inputs.period(since_day, until_day)
    with data.records_store() as store:
        points = store.track_points(since, until)
    return track_coverage(model, points, since, until)


@st.cache_data(show_spinner=False, max_entries=8)
def cached_coverage(since_day: str, until_day: str, resolution: int, stamp: tuple) -> CoverageResult:
    """:func:`views.coverage_results.compute` for a period; ``stamp`` (:func:`db_stamp`) keys the cache,
    so a recorded visit (a write to the database) recomputes it, while the tracks' part is reused."""
    model = coverage_model(since_day, resolution)
    since, until = inputs.period(since_day, until_day)
    tracks = cached_tracks(since_day, until_day, resolution, tracks_stamp())
    with data.records_store() as store:
        visits = store.visits(None, until, include_inferred=True)
    return compute(model, visits, tracks, since, until, roads_metric())


def _period_inputs() -> tuple[date, date] | None:
    """The period widgets; None (after saying why) when the dates are the wrong way round."""
    day = today()
    choice = st.radio(
        T("coverage.period"),
        QUICK_CHOICES,
        format_func=lambda key: T(f"coverage.quick.{key}"),
        horizontal=True,
        key=language_key("coverage.quick"),
    )
    first, last = quick_period("last_12" if choice == "custom" else choice, day)
    custom = choice == "custom"
    left, right = st.columns(2)
    # One pair of widgets per choice, so picking a quick choice resets the dates it shows.
    since = left.date_input(
        T("coverage.since"), value=first, disabled=not custom, key=f"coverage.since.{choice}"
    )
    until = right.date_input(
        T("coverage.until"), value=last, disabled=not custom, key=f"coverage.until.{choice}"
    )
    if until < since:
        st.error(T("coverage.bad_period"))
        return None
    return since, until


def _draws(result: CoverageResult, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame | None:
    """The drawn sites and whether each was met: an uploaded draw, else the audit log's latest."""
    upload = st.file_uploader(T("coverage.draw_file"), type=["json"], key="coverage.draw_file")
    if upload is not None:
        try:
            draws = draw_targets(json.loads(upload.getvalue().decode("utf-8")), result, since, until)
        except (ValueError, AttributeError, TypeError) as error:
            st.error(T("coverage.draw_bad", error=error))
            return None
        st.caption(T("coverage.draw_uploaded", name=upload.name))
        return draws
    with data.records_store() as store:
        record = latest_draw(store.audit_log())
    if record is None:
        st.info(T("coverage.draw_none"))
        return None
    try:
        draws = draw_targets(record, result, since, until)
    except ValueError as error:
        st.error(T("coverage.draw_bad", error=error))
        return None
    period = (record.get("parameters") or {}).get("period", "?")
    st.caption(T("coverage.draw_audit", period=period))
    return draws


def _percent_text(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.1f} %"


def _kpis(totals: pd.Series) -> None:
    columns = st.columns(5)
    columns[0].metric(T("coverage.kpi.weighted"), _percent_text(totals["weighted_coverage_pct"]))
    columns[1].metric(T("coverage.kpi.site"), _percent_text(totals["site_coverage_pct"]))
    columns[2].metric(T("coverage.kpi.area"), _percent_text(totals["area_coverage_pct"]))
    columns[3].metric(T("coverage.kpi.debt"), f"{int(totals['debt_days']):,}")
    columns[4].metric(T("coverage.kpi.draw"), f"{int(totals['draw_met'])} / {int(totals['draw_targets'])}")


def _map(
    table: pd.DataFrame,
    level: str,
    measure: str,
    spots: pd.DataFrame,
    covered_cells: list[int] | None,
    focus: str | None,
) -> None:
    """The choropleth, blind spots and (optionally) covered cells on the offline basemap."""
    basemap = data.basemap()
    m = build_basemap(basemap, height_px=MAP_HEIGHT_PX)
    name_column = "county_name" if level == "county" else "prefecture_name"
    features = basemap.counties if level == "county" else basemap.prefectures
    values = table.set_index(name_column)[measure]
    choropleth(
        features,
        values,
        T("coverage.layer.choropleth"),
        T(MEASURE_LABELS[measure]),
        T("coverage.region"),
        T("coverage.no_data"),
    ).add_to(m)
    if covered_cells is not None:
        covered_cells_layer(covered_cells, T("coverage.layer.covered")).add_to(m)
    labels = {key: T(f"coverage.blind.{key}") for key in ("rank", "weight", "where", "road_km", "remote")} | {
        "yes": T("coverage.yes"),
        "no": T("coverage.no"),
    }
    if not spots.empty:
        blind_spot_layer(spots, T("coverage.layer.blind"), labels).add_to(m)
    rows = [*scale_legend_rows(T("coverage.no_data")), *blind_legend_rows(spots, T("coverage.layer.blind"))]
    m.add_child(coverage_legend(T(MEASURE_LABELS[measure]), rows), name="coverage_legend")
    layer_control().add_to(m)
    if focus is not None:
        m.fit_bounds(basemap.prefecture_bounds[focus])
    show_map(m, key="coverage_map", height_px=MAP_HEIGHT_PX, grow=True)


def _table_config() -> dict[str, st.column_config.Column]:
    config: dict[str, st.column_config.Column] = {}
    for column, key in TABLE_LABELS.items():
        if column.endswith("_pct"):
            config[column] = st.column_config.NumberColumn(T(key), format="%.1f")
        else:
            config[column] = st.column_config.Column(T(key))
    return config


def _shown_table(table: pd.DataFrame, level: str) -> pd.DataFrame:
    """The table's shown columns (core names), the ``total`` row named in the page language."""
    columns = [c for c in TABLE_LABELS if c in table.columns and (level == "county" or c != "county_name")]
    shown = table[columns].copy()
    total = table.iloc[:, 0].astype(str) == "total"
    shown.loc[total.to_numpy(), columns[0]] = T("coverage.total")
    return shown


def _blind_table(spots: pd.DataFrame) -> pd.DataFrame:
    """The blind spots' shown columns, access in the page language."""
    blind = spots[[column for column in BLIND_LABELS if column in spots.columns]]
    return blind.assign(access=blind["access"].map(lambda code: T(f"coverage.access.{code}")))


def _weekly(result: CoverageResult, scope: Scope) -> pd.DataFrame:
    """The weekly trend of the account's scope: one row per week start (ISO day), measures labelled."""
    trend = result.trend
    wanted = scope.prefecture or "total"
    weekly = trend[trend["prefecture_code"] == wanted].set_index("week")[list(TREND_COLUMNS)]
    weekly = weekly.rename(columns={c: T(MEASURE_LABELS[c]) for c in TREND_COLUMNS})
    # ISO day labels: they sort in time order and read the same in both languages.
    weekly.index = [day.isoformat() for day in weekly.index]
    weekly.index.name = T("coverage.trend_week")
    return weekly


def _records_end(result: CoverageResult) -> date | None:
    """The Beijing day of the last visit in the period's records (None without any)."""
    if result.visits.empty:
        return None
    return pd.Timestamp(result.visits["started_at"].max()).tz_convert(BEIJING).date()


def _downloads(
    table: pd.DataFrame,
    shown: pd.DataFrame,
    spots: pd.DataFrame,
    weekly: pd.DataFrame,
    stem: str,
    result: CoverageResult,
    loop: pd.DataFrame,
) -> None:
    """CSV and Excel of what the page shows: headers in the page language, numbers rounded, the
    attribution and (for demo records) the SIMULATED note."""
    codes = [column for column in CODE_LABELS if column in table.columns and column in _code_columns(shown)]
    regions = pd.concat([table[codes], shown], axis=1)
    headers = {column: T(key) for column, key in {**CODE_LABELS, **TABLE_LABELS}.items()}
    notes = export_notes(has_simulated(result.visits), language())
    buttons = st.columns(2)
    buttons[0].download_button(
        T("coverage.download_csv"),
        csv_text(regions, notes, headers).encode("utf-8-sig"),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key="coverage.csv",
        on_click="ignore",
    )
    blind = _blind_table(spots) if not spots.empty else pd.DataFrame(columns=list(BLIND_LABELS))
    sheets = {
        T("coverage.sheet.regions"): rounded(regions).rename(columns=headers),
        T("coverage.sheet.blind"): rounded(blind).rename(columns={c: T(k) for c, k in BLIND_LABELS.items()}),
        T("coverage.sheet.trend"): rounded(weekly.reset_index()),
        T("coverage.sheet.loop"): loop,
    }
    buttons[1].download_button(
        T("coverage.download_xlsx"),
        workbook_bytes(sheets, notes, language()),
        file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="coverage.xlsx",
        on_click="ignore",
    )


def _loop_table(table: pd.DataFrame, level: str, since: pd.Timestamp) -> pd.DataFrame:
    """Closing-the-loop figures (:func:`records.loop_figures.region_figures`) of the table's regions
    and their total, labelled in the page language; empty without any case or complaint."""
    code, name = (
        ("county_code", "county_name") if level == "county" else ("prefecture_code", "prefecture_name")
    )
    registry = data.targets()
    site_regions = dict(zip(registry["site_id"].astype(str), registry[code].astype(str), strict=True))
    with data.records_store() as store:
        figures = region_figures(store.conn, site_regions, now(), since.to_pydatetime())
    regions = table[table[code].astype(str) != "total"].set_index(code)[name]
    figures = figures[figures.index.isin(regions.index)]
    if figures.empty:
        return pd.DataFrame()
    total = figures.sum(numeric_only=True).astype(float)
    # Rates of the total from its sums; medians cannot be added up, so the total has none.
    for prefix, rate in (("cases", "case_on_time_rate"), ("complaints", "complaint_on_time_rate")):
        closed = total[f"{prefix}_closed"]
        total[rate] = round(total[f"{prefix}_closed_on_time"] / closed, 3) if closed else float("nan")
    total[[c for c in figures.columns if "median" in c]] = float("nan")
    out = pd.concat([figures, total.to_frame(T("coverage.total")).T])
    out.insert(0, "region", [regions.get(code_, code_) for code_ in figures.index] + [T("coverage.total")])
    return out.rename(columns=lambda c: T(f"coverage.loop.{c}")).reset_index(drop=True)


def _code_columns(shown: pd.DataFrame) -> list[str]:
    """The code columns that go with the shown name columns."""
    return ["prefecture_code"] + (["county_code"] if "county_name" in shown.columns else [])


def render() -> None:
    """The Coverage page."""
    st.header(T("coverage.title"))
    account = require_login()
    scope = coverage_scope(account)
    if scope is None:
        audit_refusal(account, "page:coverage", "needs statistics")
        st.warning(T("coverage.refused"))
        return
    if scope.prefecture is not None:
        st.caption(
            T("coverage.own_detachment", name=data.prefectures().get(scope.prefecture, scope.prefecture))
        )
    period = _period_inputs()
    if period is None:
        return
    first, last = period
    options = st.columns(3)
    level = options[0].radio(
        T("coverage.level"),
        ("prefecture", "county"),
        format_func=lambda key: T(f"coverage.level.{key}"),
        horizontal=True,
        key=language_key("coverage.level"),
    )
    measure = options[1].radio(
        T("coverage.measure"),
        MEASURES,
        format_func=lambda key: T(MEASURE_LABELS[key]),
        horizontal=True,
        key=language_key("coverage.measure"),
    )
    resolution = options[2].selectbox(
        T("coverage.resolution"),
        (DEFAULT_RESOLUTION, FINE_RESOLUTION),
        format_func=lambda res: T("coverage.resolution.option", res=res, km2=CELL_KM2[res]),
        key=language_key("coverage.resolution"),
    )
    if level == "county" and not scope.drilldown:
        if not st.session_state.get("coverage.refusal_audited"):
            audit_refusal(account, "coverage:county", "needs drilldown")
            st.session_state["coverage.refusal_audited"] = True
        st.warning(T("coverage.drilldown_refused"))
        level = "prefecture"

    with st.spinner(T("coverage.computing")):
        result = cached_coverage(first.isoformat(), last.isoformat(), resolution, db_stamp())
    model = coverage_model(first.isoformat(), resolution)
    since, until = inputs.period(first.isoformat(), last.isoformat())
    draws = _draws(result, since, until)
    full = region_table(model, result, level, draws)
    table = in_scope(full, scope)
    if scope.prefecture is None:
        totals = table.iloc[-1]
    else:
        totals = in_scope(region_table(model, result, "prefecture", draws), scope).iloc[0]
    _kpis(totals)

    st.subheader(T("coverage.map"))
    spots = result.spots
    if scope.prefecture is not None:
        spots = spots[spots["prefecture_code"] == scope.prefecture]
    map_options = st.columns(2)
    top = map_options[0].slider(
        T("coverage.top_spots"), 0, max(len(spots), 1), min(DEFAULT_TOP_SPOTS, len(spots)), key="coverage.top"
    )
    show_covered = map_options[1].checkbox(T("coverage.show_covered"), key="coverage.show_covered")
    spots = spots.head(top).assign(
        where=spots["county_name"] if scope.drilldown else spots["prefecture_name"]
    )
    covered_cells = None
    if show_covered:
        grid = model.grid[result.covered]
        if scope.prefecture is not None:
            grid = grid[grid["prefecture_code"] == scope.prefecture]
        covered_cells = grid["cell"].tolist()
    regions = table[table.iloc[:, 0].astype(str) != "total"]
    _map(regions, level, measure, spots, covered_cells, scope.prefecture)
    st.caption(T("coverage.caption", since=first, until=last, res=resolution))

    st.subheader(T("coverage.blind_title"))
    if spots.empty:
        st.info(T("coverage.no_blind"))
    else:
        st.caption(T("coverage.blind_rule", cap=AREA_WEIGHT_CAP))
        st.dataframe(
            _blind_table(spots),
            hide_index=True,
            column_config={
                **{column: T(key) for column, key in BLIND_LABELS.items()},
                **{
                    column: st.column_config.NumberColumn(T(BLIND_LABELS[column]), format=number)
                    for column, number in (
                        ("rank_weight", "%.1f"),
                        ("total_weight", "%.1f"),
                        ("area_km2", "%.0f"),
                        ("nearest_road_km", "%.1f"),
                    )
                },
            },
            key="coverage.blind_table",
        )

    st.subheader(T("coverage.table"))
    shown = _shown_table(table, level)
    st.dataframe(shown, hide_index=True, column_config=_table_config(), key="coverage.region_table")
    loop = _loop_table(table, level, since)
    st.subheader(T("coverage.loop"))
    if loop.empty:
        st.caption(T("coverage.loop.none"))
    else:
        st.dataframe(loop, hide_index=True, key="coverage.loop_table")
    _downloads(table, shown, spots, _weekly(result, scope), f"coverage_{level}_{first}_{last}", result, loop)

    st.subheader(T("coverage.trend"))
    weekly = _weekly(result, scope)
    records_end = _records_end(result)
    if records_end is None:
        st.info(T("coverage.no_records"))
    else:
        if records_end < last:
            st.caption(T("coverage.records_end", day=records_end.isoformat()))
        st.line_chart(weekly[weekly.index <= records_end.isoformat()])

    if scope.drilldown:
        with st.expander(T("coverage.overdue_sites")):
            overdue = result.sites[result.sites["overdue_days"] > 0]
            if scope.prefecture is not None:
                overdue = overdue[overdue["prefecture_code"] == scope.prefecture]
            if overdue.empty:
                st.info(T("coverage.no_overdue"))
            else:
                columns = ["site_id", "category", "county_name", "last_before", "overdue_days"]
                shown = overdue.sort_values("overdue_days", ascending=False)[columns]
                st.dataframe(
                    shown.assign(category=shown["category"].map(labeller("category"))),
                    hide_index=True,
                    column_config={column: T(f"coverage.overdue.{column}") for column in columns},
                )
