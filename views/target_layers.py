"""Enforcement targets on the map: pollution sources, water-source zones, protected areas.

Pollution sources (about a thousand points) go into one marker cluster whose circle markers are
made in the browser from a compact data array, which keeps the page several times smaller than
one folium marker object per source. Zones and areas are GeoJSON polygons. Every target gets the
same tooltip fields.
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import FastMarkerCluster

from views.i18n import register
from views.map_controls import Legend
from views.vocabulary import label, labeller
from views.web_geometry import for_web, simplified_metric
from views.web_text import web_columns, web_text

#: Fill colour per risk level 1 (low) .. 5 (high): a colour-blind-safe green-to-red ramp.
RISK_COLOURS = {1: "#1a9850", 2: "#91cf60", 3: "#fee08b", 4: "#fc8d59", 5: "#d73027"}
WATER_STYLE = {"color": "#1f5fbf", "weight": 1.5, "fillColor": "#4a90e2", "fillOpacity": 0.35}
PROTECTED_STYLE = {
    "color": "#2e7d32",
    "weight": 2,
    "dashArray": "6 4",
    "fillColor": "#66bb6a",
    "fillOpacity": 0.18,
}
#: The boundary note of placeholder shapes (English; :func:`approximate_note` is the shown text).
APPROXIMATE_NOTE = "APPROXIMATE boundary"
T = register(
    {
        "targets.approximate": ("近似边界", APPROXIMATE_NOTE),
        "targets.as_registered": ("按登记", "as registered"),
        "targets.never": ("从未检查", "never"),
        "targets.field.site_id": ("编号", "Site"),
        "targets.field.name": ("名称", "Name"),
        "targets.field.kind": ("类型", "Kind"),
        "targets.field.category": ("监管类别", "Category"),
        "targets.field.status": ("状态", "Status"),
        "targets.field.last_inspected": ("上次检查", "Last inspected"),
        "targets.field.risk_level": ("风险等级", "Risk level"),
        "targets.field.boundary": ("边界", "Boundary"),
        "targets.legend": ("点位（模拟名录 SIMULATED）", "Targets (SIMULATED registry)"),
        "targets.legend.risk": ("污染源，风险 {level}", "Pollution source, risk {level}"),
        "targets.legend.water": ("水源保护区", "Water-source zone"),
        "targets.legend.protected": ("保护地：{note}", "Protected area: {note}"),
    }
)
#: Tooltip rows shared by every target (columns of :func:`tooltip_table`, labels ``targets.field.*``).
TOOLTIP_FIELDS = ("site_id", "name", "kind", "category", "status", "last_inspected")
#: Extra tooltip rows of point sources and of polygons.
SOURCE_FIELDS = (*TOOLTIP_FIELDS, "risk_level")
POLYGON_FIELDS = (*TOOLTIP_FIELDS, "boundary")
POLYGON_TOLERANCE_M = 100.0
DECIMALS = 4

# Builds each circle marker and its tooltip in the browser from one row of the data array:
# [lat, lon, risk colour, field 1, field 2, ...] in SOURCE_FIELDS order. Labels and fields arrive
# escaped by views.web_text (the same escaping as the polygons' tooltips), so they are not escaped here.
_CALLBACK = """function (row) {
    var labels = %(labels)s;
    var html = "<table>";
    for (var i = 0; i < labels.length; i++) {
        html += "<tr><th>" + labels[i] + "&nbsp;</th><td>" + row[i + 3] + "</td></tr>";
    }
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]), {
        radius: 6, color: "#333333", weight: 1, fillColor: row[2], fillOpacity: 0.9
    });
    marker.bindTooltip(html + "</table>");
    return marker;
}"""


def field_label(field: str) -> str:
    """The tooltip label of a :func:`tooltip_table` column in the session's language."""
    return T(f"targets.field.{field}")


def layer_name(layer: str) -> str:
    """A target layer's name in the session's language (the layer control and the metrics)."""
    return label("layer", layer)


def tooltip_table(targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """The tooltip text of every target: one string column per tooltip field (all layers).

    Plain text: the layers escape it with :func:`views.web_text.web_columns` before it reaches HTML.

    Kind, category and status read in the session's language (:mod:`views.vocabulary`); a missing
    inspection date reads "never"; the boundary row says :data:`APPROXIMATE_NOTE` (translated)
    for placeholder shapes.
    """
    never = T("targets.never")
    last = targets["last_inspected"].dt.strftime("%Y-%m-%d").astype("string").fillna(never)
    boundary = (
        targets["approximate"]
        .fillna(False)
        .map({True: T("targets.approximate"), False: T("targets.as_registered")})
    )
    table = pd.DataFrame(
        {
            "site_id": targets["site_id"],
            "name": targets["name"],
            "kind": targets["kind"].map(labeller("kind")),
            "category": targets["category"].map(labeller("category")),
            "status": targets["status"].map(labeller("status")),
            "last_inspected": last,
            "risk_level": targets["risk_level"].astype("string"),
            "boundary": boundary,
        },
        index=targets.index,
    )
    return table.astype(object).where(table.notna(), "")


def _polygon_layer(targets: gpd.GeoDataFrame, style: dict) -> folium.GeoJson:
    fields = list(POLYGON_FIELDS)
    aliases = [field_label(field) for field in fields]
    shapes = for_web(simplified_metric(targets[["geometry"]], POLYGON_TOLERANCE_M), DECIMALS)
    # folium's GeoJsonTooltip puts property values into innerHTML as they are: escape them first.
    table = web_columns(tooltip_table(targets).loc[shapes.index, fields])
    frame = gpd.GeoDataFrame(table, geometry=shapes.geometry)
    return folium.GeoJson(
        frame.__geo_interface__,
        style_function=lambda _feature: style,
        highlight_function=lambda _feature: {"weight": style["weight"] + 2},
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
        # Point-shaped water sources (well fields given as a point) become circles, not icons.
        marker=folium.CircleMarker(radius=7, **style),
    )


def _source_cluster(sources: gpd.GeoDataFrame) -> FastMarkerCluster:
    table = web_columns(tooltip_table(sources))
    columns = list(SOURCE_FIELDS)
    colours = sources["risk_level"].map(RISK_COLOURS).fillna("#999999")
    rows = [
        [round(point.y, DECIMALS), round(point.x, DECIMALS), colour, *values]
        for point, colour, values in zip(
            sources.geometry, colours, table[columns].itertuples(index=False), strict=True
        )
    ]
    callback = _CALLBACK % {
        "labels": json.dumps([web_text(field_label(field)) for field in SOURCE_FIELDS], ensure_ascii=False)
    }
    return FastMarkerCluster(
        rows,
        callback=callback,
        disableClusteringAtZoom=11,
        showCoverageOnHover=False,
        # With animation, MarkerCluster 1.1 showed every cluster twice (checked in Chromium) when
        # st_folium swapped the groups and moved the view in the same frame.
        animate=False,
    )


def target_legend_rows() -> list[tuple[str, str]]:
    """Legend rows (swatch CSS, label) of the target layers."""
    circle = "border-radius:50%;width:11px;border:1px solid #333"
    rows = [
        (f"{circle};background:{colour}", T("targets.legend.risk", level=level))
        for level, colour in RISK_COLOURS.items()
    ]
    rows.append(
        (
            f"background:{WATER_STYLE['fillColor']};border:1px solid {WATER_STYLE['color']}",
            T("targets.legend.water"),
        )
    )
    rows.append(
        (
            f"background:{PROTECTED_STYLE['fillColor']};border:2px dashed {PROTECTED_STYLE['color']}",
            T("targets.legend.protected", note=T("targets.approximate")),
        )
    )
    return rows


def target_groups(targets: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    """One named feature group per target layer present in ``targets`` (target schema).

    Polygons come first so the source markers stay clickable above them. The groups are meant
    for ``st_folium(feature_group_to_add=...)``, which swaps them on a rerun without redrawing
    the basemap (and keeps the user's pan and zoom).
    """
    groups = []
    for layer in ("protected_area", "water_source", "pollution_source"):
        subset = targets[targets["layer"] == layer]
        if subset.empty:
            continue
        group = folium.FeatureGroup(name=web_text(layer_name(layer)))
        if layer == "pollution_source":
            _source_cluster(subset).add_to(group)
        else:
            style = PROTECTED_STYLE if layer == "protected_area" else WATER_STYLE
            _polygon_layer(subset, style).add_to(group)
        groups.append(group)
    return groups


def prepare_target_map(m: folium.Map) -> folium.Map:
    """Add the target legend and the marker-cluster assets to the base map ``m``.

    streamlit-folium loads scripts only with the first map it draws, so the cluster plugin must
    be there even when the first view has no pollution sources. Returns ``m``.
    """
    # Instance lists, not folium's add_js_link: that appends to the class-level list shared by
    # every map in the process.
    for attr in ("default_js", "default_css"):
        links = getattr(m, attr)
        names = {name for name, _ in links}
        extra = [(name, url) for name, url in getattr(FastMarkerCluster, attr) if name not in names]
        setattr(m, attr, [*links, *extra])
    # Top left, under the zoom buttons: at the province view that corner is outside Xinjiang.
    legend = Legend(T("targets.legend"), target_legend_rows(), position="topleft")
    m.add_child(legend, name="xunhu_target_legend")
    return m


def select_targets(
    targets: gpd.GeoDataFrame,
    layers: list[str] | tuple[str, ...] | None = None,
    prefecture_code: str | None = None,
    categories: list[str] | tuple[str, ...] | None = None,
) -> gpd.GeoDataFrame:
    """The targets matching every given filter (``None`` means no filter on that field)."""
    keep = pd.Series(True, index=targets.index)
    if layers is not None:
        keep &= targets["layer"].isin(list(layers))
    if prefecture_code is not None:
        keep &= targets["prefecture_code"] == prefecture_code
    if categories is not None:
        keep &= targets["category"].isin(list(categories))
    return targets[keep.fillna(False).astype(bool)]
