"""Where the shipped data lives and how to read it.

Every function returns a fresh GeoDataFrame in EPSG:4326; callers that need speed cache the
result themselves (the dashboard does, with ``st.cache_data``). The data directory can be
moved with the ``XUNHU_DATA_DIR`` environment variable (tests use this to work on a copy).
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from layers.schema import TARGET_DTYPES, WGS84

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTEXT_FILES = {
    "roads": "geo/roads.geojson",
    "province": "geo/admin_province.geojson",
    "province_open": "geo/admin_province_ne10m.geojson",
    "prefectures": "geo/admin_prefectures.geojson",
    "counties": "geo/admin_counties.geojson",
    "rivers": "geo/rivers.geojson",
    "rivers_named": "geo/rivers_named.geojson",
    "lakes": "geo/lakes.geojson",
    "places": "geo/places.geojson",
    "cities": "geo/cities_ne10m.geojson",
    "protected_area_shapes": "geo/protected_areas_approx.geojson",
}
#: Registry files (the simulated enforcement targets), one per layer.
REGISTRY_FILES = {
    "pollution_source": "registry/pollution_sources.geojson",
    "water_source": "registry/water_sources.geojson",
    "protected_area": "registry/protected_areas.geojson",
}
ROSTER_FILE = "registry/roster.csv"


def data_dir() -> Path:
    """The data directory: ``$XUNHU_DATA_DIR`` if set, else ``data/`` in the repository."""
    return Path(os.environ.get("XUNHU_DATA_DIR") or REPO_ROOT / "data")


def data_path(relative: str) -> Path:
    """Absolute path of a file inside the data directory."""
    return data_dir() / relative


def load_context(name: str) -> gpd.GeoDataFrame:
    """Read one context layer by name (a key of :data:`CONTEXT_FILES`)."""
    if name not in CONTEXT_FILES:
        raise KeyError(f"unknown context layer {name!r}; known: {', '.join(CONTEXT_FILES)}")
    return gpd.read_file(data_path(CONTEXT_FILES[name]))


def attribution() -> str:
    """The attribution text every map and export must show (from ``data/SOURCES.md``)."""
    text = data_path("SOURCES.md").read_text(encoding="utf-8")
    start = text.index("<!-- attribution -->") + len("<!-- attribution -->")
    end = text.index("<!-- /attribution -->")
    return " ".join(line.lstrip("> ").strip() for line in text[start:end].strip().splitlines())


def load_targets(layers: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """All enforcement targets of the shipped registry in the target schema.

    ``layers`` limits the result to some of ``pollution_source``, ``water_source``,
    ``protected_area``. Rows keep the registry's order; ``site_id`` is unique.
    """
    frames = [
        _two_dimensional(gpd.read_file(data_path(path)))
        for layer, path in REGISTRY_FILES.items()
        if layers is None or layer in layers
    ]
    targets = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=WGS84)
    for column, dtype in TARGET_DTYPES.items():
        if column == "last_inspected":
            targets[column] = pd.to_datetime(targets[column]).astype(dtype)
        else:
            targets[column] = targets[column].astype(dtype)
    return targets[[*TARGET_DTYPES, "geometry"]]


def _two_dimensional(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A registry file in 2D EPSG:4326. Imports store 2D only, but a file written before they did
    (or by hand) with Z values reads back as EPSG:4979, and mixing it with the other layers failed."""
    if frame.crs is not None and frame.crs.to_2d().equals(WGS84) and frame.has_z.any():
        frame = frame.set_geometry(shapely.force_2d(frame.geometry.to_numpy()), crs=WGS84)
    elif frame.crs is not None and frame.crs.to_2d().equals(WGS84):
        frame = frame.set_crs(WGS84, allow_override=True)
    return frame


#: Columns of the officer roster (``conflicts``: ``;``-separated site_ids the officer must not inspect).
ROSTER_COLUMNS = ("officer_id", "name", "prefecture_code", "team_id", "skills", "conflicts")


def registry_simulated(site_ids: list[str] | None = None) -> bool:
    """Whether any registry row (of ``site_ids``, if given) is simulated demo data."""
    targets = load_targets()
    if site_ids is not None:
        targets = targets[targets["site_id"].isin(site_ids)]
    return bool(targets["simulated"].fillna(False).astype(bool).any())


def load_roster(path: str | Path | None = None) -> pd.DataFrame:
    """The officer roster (default: the shipped simulated one) with every value as a string.

    Empty ``skills``/``conflicts`` stay empty strings; a missing column raises ``ValueError``
    naming the file and the column.
    """
    path = Path(path) if path is not None else data_path(ROSTER_FILE)
    roster = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [column for column in ROSTER_COLUMNS if column not in roster.columns]
    if missing:
        raise ValueError(f"{path}: roster lacks column(s) {', '.join(missing)}")
    if roster["officer_id"].duplicated().any():
        duplicated = sorted(set(roster.loc[roster["officer_id"].duplicated(), "officer_id"]))
        raise ValueError(f"{path}: duplicated officer_id {', '.join(duplicated)}")
    return roster
