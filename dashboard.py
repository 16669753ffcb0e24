"""XunHu 巡护 dashboard (placeholder page): the shipped layers and targets on an offline map.

Run with ``streamlit run dashboard.py`` (see README). The page is thin: data comes from
``layers`` through cached wrappers, the map from ``views``; nothing here fetches from the
internet (the Leaflet files are vendored under static/, the basemap is drawn from data/geo).
"""

from __future__ import annotations

import folium
import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

from layers.datasets import REGISTRY_FILES, attribution, data_path, load_context, load_targets
from layers.schema import CATEGORIES, CATEGORY_ZH, LAYERS
from views.basemap import BasemapData, build_basemap, prepare_basemap, view_for
from views.offline_map import localize
from views.target_layers import LAYER_NAMES, prepare_target_map, select_targets, target_groups

MAP_HEIGHT_PX = 640
#: A typical width of the map column on a laptop, used to pick the zoom for a prefecture.
MAP_WIDTH_PX = 900


@st.cache_resource(show_spinner="Preparing the basemap…")
def cached_basemap() -> BasemapData:
    """Simplified basemap geometry, shared by every session (read-only)."""
    return prepare_basemap()


@st.cache_data(show_spinner="Loading the registry…")
def cached_targets() -> gpd.GeoDataFrame:
    """The shipped registry in the target schema (empty if the registry files are missing)."""
    if not all(data_path(path).exists() for path in REGISTRY_FILES.values()):
        return gpd.GeoDataFrame()
    return load_targets()


@st.cache_data
def cached_prefectures() -> dict[str, str]:
    """Prefecture code -> "中文名 English name", in code order."""
    frame = load_context("prefectures").sort_values("adcode")
    return {
        str(code): f"{zh} {en}"
        for code, zh, en in zip(frame["adcode"], frame["name_zh"], frame["name_en"], strict=True)
    }


@st.cache_data
def cached_attribution() -> str:
    """The attribution text from data/SOURCES.md."""
    return attribution()


st.set_page_config(page_title="XunHu 巡护", layout="wide")
st.title("XunHu 巡护")
st.caption("Patrol planning and coverage for environmental-enforcement detachments in Xinjiang.")
st.info(
    "Enforcement targets, inspection history and officers shown here are **SIMULATED** demo data. "
    "Protected-area shapes are **APPROXIMATE** placeholders, not legal boundaries."
)

targets = cached_targets()
prefectures = cached_prefectures()
with st.sidebar:
    st.header("Filters")
    chosen_layers = st.multiselect(
        "Layers 图层", LAYERS, default=list(LAYERS), format_func=LAYER_NAMES.__getitem__, key="layers"
    )
    chosen_prefecture = st.selectbox(
        "Prefecture 地州市",
        [None, *prefectures],
        format_func=lambda code: "All prefectures 全部" if code is None else prefectures[code],
        key="prefecture",
    )
    chosen_categories = st.multiselect(
        "Category 类别",
        CATEGORIES,
        default=list(CATEGORIES),
        format_func=lambda c: f"{c} {CATEGORY_ZH[c]}",
        key="categories",
    )

if targets.empty:
    st.warning("No registry found in data/registry: showing the basemap only.")
    shown = targets
else:
    shown = select_targets(targets, chosen_layers, chosen_prefecture, chosen_categories)
    columns = st.columns(len(LAYERS) + 1)
    columns[0].metric("Targets shown", len(shown))
    for column, layer in zip(columns[1:], LAYERS, strict=True):
        column.metric(LAYER_NAMES[layer], int((shown["layer"] == layer).sum()))

basemap = cached_basemap()
m = prepare_target_map(build_basemap(basemap, height_px=MAP_HEIGHT_PX))
groups = target_groups(shown) if not shown.empty else []
# st_folium moves the view only when centre or zoom change, so other filters keep the user's view.
bounds = basemap.bounds if chosen_prefecture is None else basemap.prefecture_bounds[chosen_prefecture]
centre, zoom = view_for(bounds, MAP_WIDTH_PX, MAP_HEIGHT_PX)
st_folium(
    localize(m, extra=groups),
    key="map",
    height=MAP_HEIGHT_PX,
    use_container_width=True,
    feature_group_to_add=groups,
    center=centre,
    zoom=zoom,
    layer_control=folium.LayerControl(collapsed=False),
    returned_objects=[],
)

st.caption(f"Data: {cached_attribution()}")
