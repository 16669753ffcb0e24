"""Coverage on the map: a choropleth of regions, merged blind-spot areas, covered H3 cells.

Pure folium builders over the coverage package's tables; the page supplies translated labels.
Colour scales are drawn in a :class:`views.map_controls.Legend` (branca's own colormap legend
loads d3 from a CDN, which would break the offline map).
"""

from __future__ import annotations

import copy
import math

import folium
import h3
import pandas as pd
from branca.colormap import LinearColormap

from views.map_controls import Legend
from views.web_text import web_text

#: Red (nothing covered) to yellow to green (all covered): the usual reading of a coverage map.
COVERAGE_COLOURS = ("#d73027", "#fee08b", "#1a9850")
NO_DATA_COLOUR = "#bdbdbd"
#: Blind spots: light to dark purple as their weight grows (distinct from the coverage ramp).
BLIND_COLOURS = ("#dadaeb", "#9e9ac8", "#54278f")
COVERED_STYLE = {"color": "#2b8cbe", "weight": 0.5, "fillColor": "#2b8cbe", "fillOpacity": 0.45}


def coverage_colour(percent: float | None) -> str:
    """Fill colour of a coverage percentage (0-100); grey when there is none."""
    if percent is None or (isinstance(percent, float) and math.isnan(percent)):
        return NO_DATA_COLOUR
    return LinearColormap(COVERAGE_COLOURS, vmin=0.0, vmax=100.0)(min(max(float(percent), 0.0), 100.0))


def scale_legend_rows(no_data_label: str) -> list[tuple[str, str]]:
    """Legend rows of the coverage scale: five steps of 0-100 % and "no data"."""
    rows = [(f"background:{coverage_colour(step)}", f"{step:.0f} %") for step in (0, 25, 50, 75, 100)]
    return [*rows, (f"background:{NO_DATA_COLOUR}", no_data_label)]


def choropleth(
    features: dict, values: pd.Series, name: str, value_label: str, region_label: str, no_data: str
) -> folium.GeoJson:
    """Regions of ``features`` (a FeatureCollection with ``name_zh``) filled by ``values``.

    ``values`` maps a region's Chinese name to a percentage; regions without a value are left
    out (a chief sees their own detachment only), regions with an empty value are grey.
    """
    shown = copy.deepcopy({**features, "features": []})
    for feature in features["features"]:
        region = feature["properties"]["name_zh"]
        if region not in values.index:
            continue
        percent = values[region]
        missing = pd.isna(percent)
        shown["features"].append(
            {
                **feature,
                "properties": {
                    # Region and place names reach the tooltip's innerHTML unescaped by folium.
                    "region": web_text(region),
                    "value": no_data if missing else f"{percent:.1f} %",
                    "fill": coverage_colour(None if missing else float(percent)),
                },
            }
        )
    return folium.GeoJson(
        shown,
        name=name,
        style_function=lambda feature: {
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.7,
            "color": "#555555",
            "weight": 0.8,
        },
        highlight_function=lambda _feature: {"weight": 2.5, "color": "#222222"},
        tooltip=folium.GeoJsonTooltip(["region", "value"], aliases=[region_label, value_label]),
    )


def blind_spot_layer(spots: pd.DataFrame, name: str, labels: dict[str, str]) -> folium.GeoJson:
    """Blind spots (rows of :func:`coverage.blindspots.blind_spots`) as merged areas coloured by weight.

    ``labels`` names the tooltip rows: ``rank``, ``weight``, ``where``, ``road_km``, ``remote`` and
    the texts ``yes``/``no`` of the remote-sensing flag. ``spots`` needs a ``where`` column (the
    place the viewer may see: county or prefecture).
    """
    top = float(spots["total_weight"].max()) if len(spots) else 1.0
    ramp = LinearColormap(BLIND_COLOURS, vmin=0.0, vmax=max(top, 1e-9))
    features = []
    for spot in spots.itertuples(index=False):
        road_km = spot.nearest_road_km
        features.append(
            {
                "type": "Feature",
                "geometry": h3.cells_to_geo(list(spot.cells_h3)),
                "properties": {
                    "rank": int(spot.rank),
                    "weight": f"{spot.total_weight:.1f}",
                    "where": web_text(spot.where),
                    "road_km": "—" if not math.isfinite(road_km) else f"{road_km:.1f}",
                    "remote": labels["yes"] if spot.access == "drone_or_remote_sensing" else labels["no"],
                    "fill": ramp(float(spot.total_weight)),
                },
            }
        )
    fields = ["rank", "weight", "where", "road_km", "remote"]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=name,
        style_function=lambda feature: {
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.75,
            "color": "#3f007d",
            "weight": 1.2,
        },
        highlight_function=lambda _feature: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(fields, aliases=[labels[field] for field in fields]),
    )


def blind_legend_rows(spots: pd.DataFrame, weight_label: str) -> list[tuple[str, str]]:
    """Legend rows of the blind-spot weight ramp (lightest to heaviest spot shown)."""
    if spots.empty:
        return []
    low, high = float(spots["total_weight"].min()), float(spots["total_weight"].max())
    ramp = LinearColormap(BLIND_COLOURS, vmin=low, vmax=max(high, low + 1e-9))
    return [(f"background:{ramp(value)}", f"{weight_label} {value:.1f}") for value in (low, high)]


def covered_cells_layer(cells: list[int], name: str) -> folium.GeoJson:
    """The covered H3 cells (integer ids, as in the coverage grid), merged into one (multi)polygon
    so the page stays small. Shown at once: the page adds it only when the user asks for it."""
    ids = [h3.int_to_str(int(cell)) for cell in cells]
    geometry = h3.cells_to_geo(ids) if ids else {"type": "MultiPolygon", "coordinates": []}
    return folium.GeoJson(
        {"type": "Feature", "geometry": geometry, "properties": {}},
        name=name,
        style_function=lambda _feature: COVERED_STYLE,
        interactive=False,
    )


def coverage_legend(title: str, rows: list[tuple[str, str]]) -> Legend:
    """The page's legend box (bottom right, open), separate from the basemap legend."""
    return Legend(title, rows, position="bottomright", expanded=True)
