"""Cached data for the pages: the only place the dashboard reads the core's files.

Read-only, process-wide objects (basemap geometry, registry, road network) are cached with
``st.cache_resource`` / ``st.cache_data`` so a rerun never recomputes what did not change.
The records database is NOT cached: a SQLite connection belongs to one thread and Streamlit
runs each session in its own, so pages open a short-lived store with :func:`records_store`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd
import streamlit as st

from layers.datasets import REGISTRY_FILES, attribution, data_path, load_context, load_targets
from planning.roads import RoadNetwork, load_road_network
from records.store import Store, open_store
from views.basemap import BasemapData, prepare_basemap


@st.cache_resource(show_spinner="正在准备底图 Preparing the basemap…")
def basemap() -> BasemapData:
    """Simplified basemap geometry, shared by every session (read-only)."""
    return prepare_basemap()


@st.cache_data(show_spinner="正在读取登记数据 Loading the registry…")
def targets() -> gpd.GeoDataFrame:
    """The shipped registry in the target schema (empty if the registry files are missing)."""
    if not all(data_path(path).exists() for path in REGISTRY_FILES.values()):
        return gpd.GeoDataFrame()
    return load_targets()


def site_prefectures() -> dict[str, str]:
    """site_id -> prefecture_code of the cached registry, for ``records.access``'s detachment checks.

    Derived on each call (a millisecond) rather than cached, so it follows the registry cache when an
    import clears it; passing it spares ``records.access`` a second read of the registry files.
    """
    registry = targets()
    if registry.empty:
        return {}
    return dict(zip(registry["site_id"].astype(str), registry["prefecture_code"].astype(str), strict=True))


@st.cache_data
def prefectures() -> dict[str, str]:
    """Prefecture code -> "中文名 English name", in code order."""
    frame = load_context("prefectures").sort_values("adcode")
    return {
        str(code): f"{zh} {en}"
        for code, zh, en in zip(frame["adcode"], frame["name_zh"], frame["name_en"], strict=True)
    }


@st.cache_data
def attribution_text() -> str:
    """The attribution text from data/SOURCES.md."""
    return attribution()


@st.cache_resource(show_spinner="正在建立路网 Building the road network…")
def road_network() -> RoadNetwork:
    """The shipped road network, built once per process."""
    return load_road_network()


@contextmanager
def records_store() -> Iterator[Store]:
    """Open the records database (``$XUNHU_DB`` or var/xunhu.sqlite) for one page run."""
    store = open_store()
    try:
        yield store
    finally:
        store.close()
