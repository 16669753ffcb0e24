"""Layers: browse and filter the registry with its priority breakdown, and import a file.

Browsing is open to every logged-in role. Importing (chiefs and admins) validates the uploaded file
with :func:`layers.validate.check_file` and shows every problem row by row (file, row, field, value,
reason; repairs and warnings apart); the Import button is enabled only for a file without errors and
calls :func:`layers.importer.import_file`, which validates again and writes all or nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st

from layers.importer import import_file
from layers.priority import FACTORS, add_priority
from layers.problems import LayerFileError, Problem
from layers.schema import CATEGORIES, KINDS, LAYERS, STATUSES
from layers.validate import ValidationReport, check_file
from views import data, vocabulary
from views.basemap import build_basemap
from views.dossier import show_dossier
from views.i18n import choose, language_key, register
from views.offline_map import show_map
from views.session import require_login, today
from views.target_layers import prepare_target_map, select_targets, target_groups
from views.vocabulary import labeller
from views.web_text import web_text

MAP_HEIGHT_PX = 520
SITE_ZOOM = 11
IMPORT_ROLES = ("chief", "admin")
UPLOAD_TYPES = ["geojson", "json", "gpkg", "zip", "csv", "xlsx", "xls"]
#: Where coordinates typed into a register came from: GPS/WGS-84, or a web map that offsets them.
WEB_MAP_DATUMS = (None, "gcj02", "bd09")
REPORT_COLUMNS = ["file", "row", "field", "value", "reason"]
TABLE_COLUMNS = [
    "site_id",
    "name",
    "layer",
    "kind",
    "category",
    "status",
    "prefecture_name",
    "county_name",
    "risk_level",
    "last_inspected",
    "priority",
    *(f"priority_{factor}" for factor in FACTORS),
]
#: Table columns holding codes, shown through their vocabulary (views.vocabulary).
CODED_COLUMNS = {"layer": "layer", "kind": "kind", "category": "category", "status": "status"}

T = register(
    {
        "layers.title": ("图层与点位", "Layers"),
        "layers.layer": ("图层", "Layer"),
        "layers.kind": ("类型", "Kind"),
        "layers.category": ("监管类别", "Category"),
        "layers.status": ("状态", "Status"),
        "layers.prefecture": ("地州市", "Prefecture"),
        "layers.all": ("全部", "All"),
        "layers.search": ("按名称或编号搜索", "Search name or id"),
        "layers.count": ("{n} 个点位（共 {total} 个）", "{n} of {total} targets"),
        "layers.empty_registry": ("没有找到点位库（data/registry）。", "No registry found (data/registry)."),
        "layers.select_hint": (
            "在表格中点选一行（或在下方选择），查看点位详情并在地图上定位。",
            "Select a row in the table (or pick below) to see the site card and zoom the map to it.",
        ),
        "layers.site": ("点位", "Site"),
        "layers.none": ("—", "—"),
        "layers.col.site_id": ("编号", "Id"),
        "layers.col.name": ("名称", "Name"),
        "layers.col.layer": ("图层", "Layer"),
        "layers.col.kind": ("类型", "Kind"),
        "layers.col.category": ("类别", "Category"),
        "layers.col.status": ("状态", "Status"),
        "layers.col.prefecture_name": ("地州市", "Prefecture"),
        "layers.col.county_name": ("县市区", "County"),
        "layers.col.risk_level": ("风险等级", "Risk level"),
        "layers.col.last_inspected": ("上次检查", "Last inspected"),
        "layers.col.priority": ("优先级", "Priority"),
        "layers.col.priority_risk": ("风险分", "Risk pts"),
        "layers.col.priority_overdue": ("超期分", "Overdue pts"),
        "layers.col.priority_complaints": ("投诉分", "Complaints pts"),
        "layers.col.priority_violations": ("违法分", "Violations pts"),
        "layers.col.priority_sensitivity": ("敏感区分", "Sensitivity pts"),
        "layers.card.interval": ("检查周期 {n} 天", "inspected every {n} days"),
        "layers.card.never": ("从未检查", "never inspected"),
        "layers.card.history": (
            "近一年投诉 {c} 次，近三年违法 {v} 次",
            "{c} complaints in the last year, {v} violations in 3 years",
        ),
        "layers.card.priority": ("优先级 {n:.1f}/100，构成：", "Priority {n:.1f}/100, made of:"),
        "layers.map": ("地图", "Map"),
        "layers.import": ("导入文件", "Import a file"),
        "layers.import_refused": (
            "只有支队长和管理员可以导入图层文件。",
            "Only detachment chiefs and admins may import layer files.",
        ),
        "layers.upload": (
            "上传 GeoJSON、GeoPackage、Shapefile（zip）或带经纬度的 CSV",
            "Upload GeoJSON, GeoPackage, zipped Shapefile or CSV with lon/lat",
        ),
        "layers.target_layer": (
            "目标图层（文件中没有 layer 列时）",
            "Target layer (for rows without a layer column)",
        ),
        "layers.from_file": ("按文件", "as in the file"),
        "layers.crs": (
            "坐标系（文件未注明时，如 EPSG:4326）",
            "CRS when the file does not say (e.g. EPSG:4326)",
        ),
        "layers.datum": ("坐标来源", "Coordinates from"),
        "layers.datum.none": ("GPS / 测绘（WGS-84、CGCS2000）", "GPS / survey (WGS-84, CGCS2000)"),
        "layers.datum.gcj02": ("高德 / 腾讯地图（GCJ-02）", "Amap / Tencent map (GCJ-02)"),
        "layers.datum.bd09": ("百度地图拾取（BD-09）", "Baidu map picker (BD-09)"),
        "layers.unreadable": ("文件无法读取：{error}", "The file cannot be read: {error}"),
        "layers.valid": (
            "文件有效：{n} 个点位可以导入。",
            "The file is valid: {n} targets can be imported.",
        ),
        "layers.invalid": (
            "文件有 {n} 处错误，不能导入（未保存任何内容）。请改正后重新上传。",
            "The file has {n} errors and cannot be imported (nothing was stored). Fix them and upload again.",
        ),
        "layers.errors": ("错误", "Errors"),
        "layers.repairs": ("已自动修复", "Repairs"),
        "layers.warnings": ("提醒", "Warnings"),
        "layers.rows_are": ("行号说明：{text}", "Rows are {text}"),
        "layers.row.line": ("CSV 行号（表头为第1行）", "CSV line numbers (the header is line 1)"),
        "layers.row.feature": ("要素序号（从1开始）", "feature numbers (the first is 1)"),
        "layers.row.fid": ("GeoPackage fid", "GeoPackage fid"),
        "layers.report.file": ("文件", "File"),
        "layers.report.row": ("行", "Row"),
        "layers.report.field": ("字段", "Field"),
        "layers.report.value": ("值", "Value"),
        "layers.report.reason": ("原因", "Reason"),
        "layers.import_button": ("导入", "Import"),
        "layers.imported": (
            "已导入 {name}：新增 {added} 个，更新 {replaced} 个。",
            "Imported {name}: {added} added, {replaced} replaced.",
        ),
        "layers.import_failed": ("导入失败，未保存任何内容。", "The import failed; nothing was stored."),
    }
)


@st.cache_data(show_spinner=False)
def scored_targets(day: str) -> gpd.GeoDataFrame:
    """The registry with ``priority`` and its breakdown columns, scored on ``day``."""
    targets = data.targets()
    return add_priority(targets, date.fromisoformat(day)) if not targets.empty else targets


def filter_targets(
    targets: gpd.GeoDataFrame,
    layers: list[str],
    kinds: list[str],
    categories: list[str],
    statuses: list[str],
    prefecture: str | None,
    text: str,
) -> gpd.GeoDataFrame:
    """The targets matching every filter; an empty list means no filter on that field, ``text``
    is matched case-insensitively against the name and the site id."""
    chosen = select_targets(targets, layers or None, prefecture, categories or None)
    if kinds:
        chosen = chosen[chosen["kind"].isin(kinds)]
    if statuses:
        chosen = chosen[chosen["status"].isin(statuses)]
    needle = text.strip().lower()
    if needle:
        name = chosen["name"].astype(str).str.lower().str.contains(needle, regex=False)
        site = chosen["site_id"].astype(str).str.lower().str.contains(needle, regex=False)
        chosen = chosen[(name | site).to_numpy(bool)]
    return chosen


def _filters(targets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    first = st.columns(3)
    # Codes as options, labels by format_func; a keyed widget keeps the labels it first showed,
    # so its key changes with the language.
    layers = first[0].multiselect(
        T("layers.layer"),
        LAYERS,
        format_func=labeller("layer"),
        key=language_key("layers.layer"),
        placeholder=choose(),
    )
    kinds_offered = [kind for layer in (layers or LAYERS) for kind in KINDS[layer]]
    kinds = first[1].multiselect(
        T("layers.kind"),
        kinds_offered,
        format_func=labeller("kind"),
        key=language_key("layers.kind"),
        placeholder=choose(),
    )
    categories = first[2].multiselect(
        T("layers.category"),
        CATEGORIES,
        format_func=labeller("category"),
        key=language_key("layers.category"),
        placeholder=choose(),
    )
    second = st.columns(3)
    statuses = second[0].multiselect(
        T("layers.status"),
        STATUSES,
        format_func=labeller("status"),
        key=language_key("layers.status"),
        placeholder=choose(),
    )
    prefectures = data.prefectures()
    prefecture = second[1].selectbox(
        T("layers.prefecture"),
        [None, *prefectures],
        format_func=lambda code: T("layers.all") if code is None else prefectures[code],
        key=language_key("layers.prefecture"),
    )
    text = second[2].text_input(T("layers.search"), key="layers.search")
    return filter_targets(targets, layers, kinds, categories, statuses, prefecture, text)


def _table(shown: gpd.GeoDataFrame) -> str | None:
    """The filtered table, highest priority first; returns the site selected in it (or below it)."""
    table = pd.DataFrame(shown[TABLE_COLUMNS]).sort_values("priority", ascending=False, kind="stable")
    for column, words in CODED_COLUMNS.items():
        table[column] = table[column].map(labeller(words))
    config = {column: T(f"layers.col.{column}") for column in TABLE_COLUMNS}
    for column in ("priority", *(f"priority_{factor}" for factor in FACTORS)):
        config[column] = st.column_config.NumberColumn(T(f"layers.col.{column}"), format="%.1f")
    event = st.dataframe(
        table,
        hide_index=True,
        column_config=config,
        on_select="rerun",
        selection_mode="single-row",
        key="layers.table",
    )
    rows = event.selection.rows if event is not None else []
    st.caption(T("layers.select_hint"))
    picked = st.selectbox(
        T("layers.site"),
        [None, *table["site_id"]],
        format_func=lambda site: T("layers.none") if site is None else site,
        key="layers.site",
    )
    return str(table["site_id"].iloc[rows[0]]) if rows else picked


def _card(site: pd.Series) -> None:
    with st.container(border=True):
        st.markdown(f"**{site['name']}** · `{site['site_id']}`")
        st.caption(
            " · ".join(
                str(part)
                for part in (
                    vocabulary.label("layer", site["layer"]),
                    vocabulary.label("kind", site["kind"]),
                    vocabulary.label("category", site["category"]),
                    vocabulary.label("status", site["status"]),
                    f"{site['prefecture_name']} {site['county_name']}",
                )
            )
        )
        last = site["last_inspected"]
        interval = site["inspect_every_days"]
        facts = [
            T("layers.card.never") if pd.isna(last) else f"{T('layers.col.last_inspected')}: {last:%Y-%m-%d}",
            "" if pd.isna(interval) else T("layers.card.interval", n=int(interval)),
            T(
                "layers.card.history",
                c=0 if pd.isna(site["complaints_1y"]) else int(site["complaints_1y"]),
                v=0 if pd.isna(site["violations_3y"]) else int(site["violations_3y"]),
            ),
        ]
        st.write(" · ".join(fact for fact in facts if fact))
        st.write(T("layers.card.priority", n=float(site["priority"])))
        parts = pd.Series(
            {T(f"layers.col.priority_{factor}"): float(site[f"priority_{factor}"]) for factor in FACTORS}
        )
        st.bar_chart(parts, horizontal=True, height=180)
        show_dossier(str(site["site_id"]), visits=True)


def _map(shown: gpd.GeoDataFrame, site: pd.Series | None) -> None:
    """The filtered targets on the basemap; a selected site ringed and the view moved to it.

    Targets and the ring are feature groups that st_folium swaps without redrawing the base map,
    so a new centre and zoom move the view (a redrawn map would fit the province again).
    """
    basemap = data.basemap()
    m = prepare_target_map(build_basemap(basemap, height_px=MAP_HEIGHT_PX))
    groups = target_groups(shown) if not shown.empty else []
    centre = zoom = None
    if site is not None:
        point = site.geometry.representative_point()
        centre, zoom = (point.y, point.x), SITE_ZOOM
        # The layer control shows the group's name as HTML; the tooltip is a JS template literal.
        ring = folium.FeatureGroup(name=web_text(site["site_id"]))
        folium.CircleMarker(
            (point.y, point.x),
            radius=14,
            color="#e6007e",
            weight=3,
            fill=False,
            tooltip=web_text(site["name"]),
        ).add_to(ring)
        groups.append(ring)
    show_map(m, key="layers_map", height_px=MAP_HEIGHT_PX, groups=groups, centre=centre, zoom=zoom, grow=True)


def problem_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table (file name without its folder, row, field, value, reason)."""
    rows = [
        {
            "file": Path(p.file).name,
            "row": pd.NA if p.row is None else p.row,
            "field": p.field,
            "value": p.value,
            "reason": p.reason,
        }
        for p in problems
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS).astype({"row": "Int64"})


def _report(report: ValidationReport) -> None:
    """Errors, repairs and warnings, each row by row."""
    if report.ok:
        st.success(T("layers.valid", n=len(report.targets)))
    else:
        st.error(T("layers.invalid", n=len(report.errors)))
    labels = sorted({p.row_label for p in report.problems + report.repairs if p.row is not None})
    for label in labels:
        if label in ("line", "feature", "fid"):
            st.caption(T("layers.rows_are", text=T(f"layers.row.{label}")))
    sections = (
        ("errors", report.errors),
        ("repairs", report.repairs),
        ("warnings", [p for p in report.problems if p.severity == "warning"]),
    )
    for name, problems in sections:
        if problems:
            st.markdown(f"**{T(f'layers.{name}')}** ({len(problems)})")
            st.dataframe(
                problem_frame(problems),
                hide_index=True,
                column_config={column: T(f"layers.report.{column}") for column in REPORT_COLUMNS},
                key=f"layers.report.{name}",
            )


def _import(account_name: str) -> None:
    """Upload, validate, show the report and import on request (chiefs and admins)."""
    upload = st.file_uploader(T("layers.upload"), type=UPLOAD_TYPES, key="layers.upload")
    options = st.columns(3)
    layer = options[0].selectbox(
        T("layers.target_layer"),
        [None, *LAYERS],
        format_func=lambda key: T("layers.from_file") if key is None else vocabulary.label("layer", key),
        key=language_key("layers.target_layer"),
    )
    crs = options[1].text_input(T("layers.crs"), key="layers.crs").strip() or None
    datum = options[2].selectbox(
        T("layers.datum"),
        WEB_MAP_DATUMS,
        format_func=lambda key: T(f"layers.datum.{key or 'none'}"),
        key=language_key("layers.datum"),
    )
    if upload is None:
        return
    content = upload.getvalue()
    signature = (upload.name, hashlib.sha256(content).hexdigest(), layer, crs, datum)
    reading = {"layer": layer, "crs": crs, "gcj02": datum == "gcj02", "bd09": datum == "bd09"}
    done = st.session_state.get("layers.imported")
    if done is not None and done[0] == signature:
        st.success(done[1])
        return
    registry = data.targets()
    existing = dict.fromkeys(registry["site_id"].astype(str), "the registry") if not registry.empty else {}
    # The original name, so the report names the user's file; the folder goes when the run ends.
    with tempfile.TemporaryDirectory(prefix="xunhu-upload-") as folder:
        path = Path(folder) / Path(upload.name).name
        path.write_bytes(content)
        try:
            report = check_file(str(path), existing_ids=existing, **reading)
        except (LayerFileError, ValueError) as error:
            st.error(T("layers.unreadable", error=str(error).replace(folder + "/", "")))
            return
        _report(report)
        if not st.button(
            T("layers.import_button"), disabled=not report.ok, type="primary", key="layers.do_import"
        ):
            return
        result = import_file(path, **reading)
    if not result.ok:
        st.error(T("layers.import_failed"))
        _report(result.report)
        return
    data.targets.clear()
    scored_targets.clear()
    with data.records_store() as store:
        store.log(
            "layers.import",
            f"file:{upload.name}",
            {"added": result.added, "replaced": result.replaced, "layer": layer, "datum": datum or "wgs84"},
            account_name,
        )
    message = T("layers.imported", name=upload.name, added=result.added, replaced=result.replaced)
    st.session_state["layers.imported"] = (signature, message)
    st.rerun()


def render() -> None:
    """The Layers page."""
    st.header(T("layers.title"))
    account = require_login()
    targets = scored_targets(today().isoformat())
    if targets.empty:
        st.warning(T("layers.empty_registry"))
    else:
        shown = _filters(targets)
        st.caption(T("layers.count", n=len(shown), total=len(targets)))
        chosen = _table(shown)
        site = None
        if chosen is not None and chosen in set(shown["site_id"]):
            site = shown[shown["site_id"] == chosen].iloc[0]
            _card(site)
        st.subheader(T("layers.map"))
        _map(shown, site)
    st.subheader(T("layers.import"))
    if account.role not in IMPORT_ROLES:
        st.info(T("layers.import_refused"))
        return
    _import(account.username)
