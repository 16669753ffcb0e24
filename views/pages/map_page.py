"""Map (every role): the shipped layers and targets on the offline map, with filters.

Data comes from :mod:`views.data` (cached), the map from :mod:`views.basemap` and
:mod:`views.target_layers`; nothing here fetches from the internet (the Leaflet files are vendored
under static/, the basemap is drawn from data/geo). The registry is public information about the
targets, so every logged-in role sees it; plans and visits are not on this page.
"""

from __future__ import annotations

import streamlit as st

from layers.schema import CATEGORIES, LAYERS
from views import data
from views.basemap import build_basemap, view_for
from views.i18n import choose, language_key, register
from views.offline_map import show_map
from views.target_layers import layer_name, prepare_target_map, select_targets, target_groups
from views.vocabulary import labeller

MAP_HEIGHT_PX = 640
#: A typical width of the map column on a laptop, used to pick the zoom for a prefecture.
MAP_WIDTH_PX = 900

T = register(
    {
        "map.title": ("地图", "Map"),
        "map.filters": ("筛选", "Filters"),
        "map.layers": ("图层", "Layers"),
        "map.prefecture": ("地州市", "Prefecture"),
        "map.category": ("类别", "Category"),
        "map.no_registry": (
            "data/registry 中没有名录：只显示底图。",
            "No registry found in data/registry: showing the basemap only.",
        ),
        "map.targets_shown": ("显示的对象", "Targets shown"),
        "map.all_prefectures": ("全部地州市", "All prefectures"),
    }
)


def render() -> None:
    """The map page: filters in the sidebar, counts, and the offline map."""
    st.header(T("map.title"))
    targets = data.targets()
    prefectures = data.prefectures()
    with st.sidebar:
        st.subheader(T("map.filters"))
        chosen_layers = st.multiselect(
            T("map.layers"),
            LAYERS,
            default=list(LAYERS),
            format_func=labeller("layer"),
            key=language_key("layers"),
            placeholder=choose(),
        )
        all_label = T("map.all_prefectures")
        chosen_prefecture = st.selectbox(
            T("map.prefecture"),
            [None, *prefectures],
            # A keyed selectbox keeps the label it first showed: a new key per language.
            format_func=lambda code: all_label if code is None else prefectures[code],
            key=language_key("prefecture"),
        )
        chosen_categories = st.multiselect(
            T("map.category"),
            CATEGORIES,
            default=list(CATEGORIES),
            format_func=labeller("category"),
            key=language_key("categories"),
            placeholder=choose(),
        )

    if targets.empty:
        st.warning(T("map.no_registry"))
        shown = targets
    else:
        shown = select_targets(targets, chosen_layers, chosen_prefecture, chosen_categories)
        columns = st.columns(len(LAYERS) + 1)
        columns[0].metric(T("map.targets_shown"), len(shown))
        for column, layer in zip(columns[1:], LAYERS, strict=True):
            column.metric(layer_name(layer), int((shown["layer"] == layer).sum()))

    basemap = data.basemap()
    m = prepare_target_map(build_basemap(basemap, height_px=MAP_HEIGHT_PX))
    groups = target_groups(shown) if not shown.empty else []
    # st_folium moves the view only when centre or zoom change, so other filters keep the user's view.
    bounds = basemap.bounds if chosen_prefecture is None else basemap.prefecture_bounds[chosen_prefecture]
    centre, zoom = view_for(bounds, MAP_WIDTH_PX, MAP_HEIGHT_PX)
    show_map(m, key="map", height_px=MAP_HEIGHT_PX, groups=groups, centre=centre, zoom=zoom, grow=True)
