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

from layers.schema import CATEGORY_ZH
from views.map_controls import Legend
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
APPROXIMATE_NOTE = "APPROXIMATE boundary"
LAYER_NAMES = {
    "pollution_source": "Pollution sources 污染源",
    "water_source": "Water-source zones 水源保护区",
    "protected_area": "Protected areas 保护地 (approximate)",
}
#: Tooltip rows shared by every target: (column of :func:`tooltip_table`, label).
TOOLTIP_FIELDS = (
    ("site_id", "Site"),
    ("name", "Name"),
    ("kind", "Kind"),
    ("category", "Category 类别"),
    ("status", "Status"),
    ("last_inspected", "Last inspected"),
)
#: Extra tooltip rows of point sources and of polygons.
SOURCE_FIELDS = (*TOOLTIP_FIELDS, ("risk_level", "Risk level"))
POLYGON_FIELDS = (*TOOLTIP_FIELDS, ("boundary", "Boundary"))
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


def tooltip_table(targets: gpd.GeoDataFrame) -> pd.DataFrame:
    """The tooltip text of every target: one string column per tooltip field (all layers).

    Plain text: the layers escape it with :func:`views.web_text.web_columns` before it reaches HTML.

    Categories read "key 重点"; a missing inspection date reads "never"; the boundary row says
    :data:`APPROXIMATE_NOTE` for placeholder shapes.
    """
    last = targets["last_inspected"].dt.strftime("%Y-%m-%d").astype("string").fillna("never")
    category = targets["category"].map(lambda c: f"{c} {CATEGORY_ZH.get(c, '')}".strip(), na_action="ignore")
    boundary = targets["approximate"].fillna(False).map({True: APPROXIMATE_NOTE, False: "as registered"})
    table = pd.DataFrame(
        {
            "site_id": targets["site_id"],
            "name": targets["name"],
            "kind": targets["kind"],
            "category": category,
            "status": targets["status"],
            "last_inspected": last,
            "risk_level": targets["risk_level"].astype("string"),
            "boundary": boundary,
        },
        index=targets.index,
    )
    return table.astype(object).where(table.notna(), "")


def _polygon_layer(targets: gpd.GeoDataFrame, style: dict) -> folium.GeoJson:
    fields = [column for column, _ in POLYGON_FIELDS]
    aliases = [label for _, label in POLYGON_FIELDS]
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
    columns = [column for column, _ in SOURCE_FIELDS]
    colours = sources["risk_level"].map(RISK_COLOURS).fillna("#999999")
    rows = [
        [round(point.y, DECIMALS), round(point.x, DECIMALS), colour, *values]
        for point, colour, values in zip(
            sources.geometry, colours, table[columns].itertuples(index=False), strict=True
        )
    ]
    callback = _CALLBACK % {
        "labels": json.dumps([web_text(label) for _, label in SOURCE_FIELDS], ensure_ascii=False)
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
        (f"{circle};background:{colour}", f"Pollution source, risk {level}")
        for level, colour in RISK_COLOURS.items()
    ]
    rows.append(
        (
            f"background:{WATER_STYLE['fillColor']};border:1px solid {WATER_STYLE['color']}",
            "Water-source zone",
        )
    )
    rows.append(
        (
            f"background:{PROTECTED_STYLE['fillColor']};border:2px dashed {PROTECTED_STYLE['color']}",
            f"Protected area: {APPROXIMATE_NOTE}",
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
        group = folium.FeatureGroup(name=LAYER_NAMES[layer])
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
    legend = Legend("Targets (SIMULATED registry)", target_legend_rows(), position="topleft")
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
