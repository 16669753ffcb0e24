"""The offline vector basemap: Xinjiang drawn from the shipped geodata, no tiles needed.

:func:`prepare_basemap` does the slow part once (read, simplify in a metric CRS, round the
coordinates) and returns plain GeoJSON/coordinate lists small enough to send to every browser;
:func:`build_basemap` turns that into a fresh folium map per page run. Online tiles are only an
optional extra layer, off by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import folium
import geopandas as gpd
import pandas as pd

from layers.datasets import attribution, data_path, load_context
from planning.lodging import SEATS_FILE
from views.i18n import register
from views.map_controls import Attribution, Legend, PlaceLabels
from views.web_geometry import for_web, lines_latlon, merged_lines, simplified_metric

PAPER_BACKGROUND = "#f4f1ea"
#: (stroke colour, line weight in px) per basemap line layer.
STYLE = {
    "province": ("#5b4a6b", 2.2),
    "prefecture": ("#9c86ad", 1.2),
    "county": ("#cdbfd6", 0.6),
    "lake": ("#6fa8d6", 0.8),
    "river": ("#8dbbe0", 0.9),
    "road": ("#a9a9a9", 1.1),
}
LAKE_FILL = "#b9d8ee"
ONLINE_TILES_NAME = "OpenStreetMap tiles (online)"
T = register(
    {
        "basemap.counties": ("县市区", "Counties"),
        "basemap.prefectures": ("地州市", "Prefectures"),
        "basemap.province": ("自治区界", "Province outline"),
        "basemap.water": ("湖泊与河流", "Lakes and rivers"),
        "basemap.roads": ("主要道路", "Main roads"),
        "basemap.online": ("OpenStreetMap 在线底图（需联网）", ONLINE_TILES_NAME),
        "basemap.county": ("县", "County"),
        "basemap.prefecture": ("地州", "Prefecture"),
        "basemap.legend": ("底图", "Basemap"),
        "basemap.legend.province": ("自治区", "Province"),
        "basemap.legend.prefecture": ("地州市", "Prefecture"),
        "basemap.legend.county": ("县市区", "County"),
        "basemap.legend.lake": ("湖泊", "Lake"),
        "basemap.legend.river": ("河流", "River"),
        "basemap.legend.road": ("主要道路", "Main road"),
        "basemap.sources": ("数据来源", "Sources"),
    }
)
#: Zoom from which a place's name shows: cities, other county seats, every other town.
CITY_ZOOM, SEAT_ZOOM, TOWN_ZOOM = 5, 7, 9
#: A county-level city (its county name ends in 市) of at least this many people counts as a city.
CITY_POPULATION = 100_000


@dataclass(frozen=True)
class BasemapData:
    """Simplified basemap geometry, ready to embed in a page (EPSG:4326, rounded)."""

    province: dict
    prefectures: dict
    counties: dict
    lakes: dict
    rivers: list[list[tuple[float, float]]]
    roads: list[list[tuple[float, float]]]
    #: [[south, west], [north, east]] of the province, for ``fit_bounds``.
    bounds: list[list[float]]
    #: The same per prefecture code, to zoom to a chosen prefecture.
    prefecture_bounds: dict[str, list[list[float]]]
    #: Place names to label: [lat, lon, name, zoom from which it shows], biggest places first.
    places: list[list]


def _feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict:
    return frame[[*columns, "geometry"]].__geo_interface__


def place_labels(decimals: int = 3) -> list[list]:
    """The town names of the basemap, each with the zoom from which it shows.

    County seats come from ``county_seats.csv`` (the seat town of every county, named as there);
    a seat of a county-level city (市) of at least :data:`CITY_POPULATION` people shows from
    :data:`CITY_ZOOM` (the whole province), the other seats from :data:`SEAT_ZOOM` (a prefecture)
    and every other GeoNames town from :data:`TOWN_ZOOM` (a county). The Chinese name where the
    data has one, else the romanised one. Sorted biggest first, so the browser draws them on top.
    """
    places = load_context("places")
    population = dict(zip(places["geonameid"].astype(str), places["population"].fillna(0), strict=True))
    seats = pd.read_csv(data_path(SEATS_FILE), dtype=str).fillna("")
    rows = []
    for seat in seats.itertuples(index=False):
        people = float(population.get(seat.geonameid, 0))
        city = seat.county_zh.endswith("市") and people >= CITY_POPULATION
        name = seat.seat_name_zh or seat.seat_name
        rows.append((people, float(seat.lat), float(seat.lon), name, CITY_ZOOM if city else SEAT_ZOOM))
    seat_ids = set(seats["geonameid"]) - {""}
    for place in places.itertuples(index=False):
        if str(place.geonameid) in seat_ids:
            continue
        name = place.name_zh if isinstance(place.name_zh, str) and place.name_zh else place.name
        people = 0.0 if pd.isna(place.population) else float(place.population)
        rows.append((people, place.geometry.y, place.geometry.x, str(name), TOWN_ZOOM))
    rows.sort(key=lambda row: (row[4], -row[0]))
    return [[round(lat, decimals), round(lon, decimals), name, zoom] for _, lat, lon, name, zoom in rows]


def prepare_basemap(tolerance_m: float = 2000.0, decimals: int = 3) -> BasemapData:
    """Read and simplify the shipped context layers for the map.

    ``tolerance_m`` is the simplification tolerance in metres (about one screen pixel at zoom 6,
    where the whole province fits a laptop screen); ``decimals`` the coordinate rounding
    (3 decimals is about 100 m: far below the tolerance, and the road data has no more).
    Prefectures and the province are dissolved from the simplified counties, so the three
    levels still nest exactly.
    """
    counties = simplified_metric(load_context("counties"), tolerance_m, coverage=True)
    names = load_context("prefectures")[["adcode", "name_zh", "name_en"]]
    prefectures = (
        counties[["pref_adcode", "geometry"]]
        .dissolve(by="pref_adcode", as_index=False, method="coverage")
        .merge(names, left_on="pref_adcode", right_on="adcode", how="left", validate="one_to_one")
    )
    province = counties[["geometry"]].dissolve(method="coverage")
    lakes = load_context("lakes")
    lakes["label"] = [
        " ".join(str(part) for part in (name, name_zh) if isinstance(part, str) and part) or "lake"
        for name, name_zh in zip(lakes["name"], lakes["name_zh"], strict=True)
    ]
    lakes = simplified_metric(lakes, tolerance_m / 4)
    rivers = simplified_metric(merged_lines(load_context("rivers")), tolerance_m)
    roads = load_context("roads")
    # Roads beyond the border are routing context only; drawing them would double the payload.
    roads = simplified_metric(merged_lines(roads[roads["in_xinjiang"].astype(bool)]), tolerance_m)
    counties, prefectures, province, lakes, rivers, roads = (
        for_web(frame, decimals) for frame in (counties, prefectures, province, lakes, rivers, roads)
    )
    west, south, east, north = province.total_bounds
    prefecture_bounds = {
        str(code): [[float(s), float(w)], [float(n), float(e)]]
        for code, (w, s, e, n) in zip(
            prefectures["pref_adcode"], prefectures.geometry.bounds.values, strict=True
        )
    }
    return BasemapData(
        province=_feature_collection(province, []),
        prefectures=_feature_collection(prefectures, ["name_zh", "name_en"]),
        counties=_feature_collection(counties, ["name_zh", "pref_name_zh"]),
        lakes=_feature_collection(lakes, ["label"]),
        rivers=lines_latlon(rivers.geometry),
        roads=lines_latlon(roads.geometry),
        bounds=[[float(south), float(west)], [float(north), float(east)]],
        prefecture_bounds=prefecture_bounds,
        places=place_labels(decimals),
    )


def view_for(bounds: list[list[float]], width_px: int, height_px: int) -> tuple[list[float], float]:
    """Centre [lat, lon] and zoom that fit ``bounds`` into a map of the given size.

    Leaflet's own fitBounds arithmetic in Web Mercator (256-pixel world at zoom 0), rounded down
    to the map's quarter-zoom steps, for callers that can only set a centre and zoom (st_folium).
    """
    (south, west), (north, east) = bounds

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    width_at_zoom0 = max(east - west, 1e-6) / 360 * 256
    height_at_zoom0 = max(mercator_y(north) - mercator_y(south), 1e-6) / (2 * math.pi) * 256
    zoom = min(math.log2(width_px / width_at_zoom0), math.log2(height_px / height_at_zoom0))
    centre_lat = math.degrees(
        2 * math.atan(math.exp((mercator_y(north) + mercator_y(south)) / 2)) - math.pi / 2
    )
    return [centre_lat, (west + east) / 2], math.floor(zoom * 4) / 4


def _outline_style(kind: str, fill: bool = False, dash: str | None = None):
    colour, weight = STYLE[kind]
    style = {"color": colour, "weight": weight, "fill": fill, "fillOpacity": 0.0, "dashArray": dash}
    return lambda _feature: style


def basemap_legend_rows() -> list[tuple[str, str]]:
    """Legend rows (swatch CSS, label) of the basemap layers, in the session's language."""
    return [
        (f"border-top:{STYLE['province'][1]}px solid {STYLE['province'][0]}", T("basemap.legend.province")),
        (
            f"border-top:{STYLE['prefecture'][1] + 0.4}px dashed {STYLE['prefecture'][0]}",
            T("basemap.legend.prefecture"),
        ),
        (f"border-top:1px solid {STYLE['county'][0]}", T("basemap.legend.county")),
        (f"background:{LAKE_FILL};border:1px solid {STYLE['lake'][0]}", T("basemap.legend.lake")),
        (f"border-top:2px solid {STYLE['river'][0]}", T("basemap.legend.river")),
        (f"border-top:2px solid {STYLE['road'][0]}", T("basemap.legend.road")),
    ]


def build_basemap(data: BasemapData, online_tiles: bool = True, height_px: int = 640) -> folium.Map:
    """A tile-less folium map of Xinjiang with the vector basemap, legend and attribution.

    ``online_tiles`` adds OpenStreetMap tiles as an overlay that is OFF by default, so nothing
    is fetched from the internet unless a user ticks it. Call
    :func:`views.offline_map.localize` on the finished map before showing it.
    """
    m = folium.Map(tiles=None, height=height_px, min_zoom=4, control_scale=True, zoom_snap=0.25)
    m.get_root().header.add_child(
        folium.Element(f"<style>.leaflet-container{{background:{PAPER_BACKGROUND};}}</style>"),
        name="xunhu_paper_background",
    )
    if online_tiles:
        folium.TileLayer(
            "OpenStreetMap", name=T("basemap.online"), overlay=True, show=False, control=True
        ).add_to(m)
    folium.GeoJson(
        data.counties,
        name=T("basemap.counties"),
        style_function=_outline_style("county", fill=True),
        tooltip=folium.GeoJsonTooltip(
            ["name_zh", "pref_name_zh"], aliases=[T("basemap.county"), T("basemap.prefecture")]
        ),
        highlight_function=lambda _feature: {"weight": 2, "color": STYLE["prefecture"][0]},
        smooth_factor=1.0,
    ).add_to(m)
    folium.GeoJson(
        data.prefectures,
        name=T("basemap.prefectures"),
        style_function=_outline_style("prefecture", dash="5 3"),
        tooltip=folium.GeoJsonTooltip(["name_zh", "name_en"], aliases=[T("basemap.prefecture"), ""]),
    ).add_to(m)
    folium.GeoJson(
        data.province,
        name=T("basemap.province"),
        style_function=_outline_style("province"),
        interactive=False,
    ).add_to(m)
    water = folium.FeatureGroup(name=T("basemap.water")).add_to(m)
    folium.PolyLine(
        data.rivers, color=STYLE["river"][0], weight=STYLE["river"][1], interactive=False, smooth_factor=1.5
    ).add_to(water)
    folium.GeoJson(
        data.lakes,
        style_function=lambda _f: {
            "color": STYLE["lake"][0],
            "weight": STYLE["lake"][1],
            "fillColor": LAKE_FILL,
            "fillOpacity": 0.9,
        },
        tooltip=folium.GeoJsonTooltip(["label"], labels=False),
    ).add_to(water)
    roads = folium.FeatureGroup(name=T("basemap.roads")).add_to(m)
    folium.PolyLine(
        data.roads,
        color=STYLE["road"][0],
        weight=STYLE["road"][1],
        interactive=False,
        smooth_factor=1.5,
    ).add_to(roads)
    m.add_child(PlaceLabels(data.places), name="xunhu_place_labels")
    m.add_child(
        Legend(T("basemap.legend"), basemap_legend_rows(), expanded=False), name="xunhu_basemap_legend"
    )
    m.add_child(Attribution(attribution(), T("basemap.sources")))
    m.fit_bounds(data.bounds)
    return m
