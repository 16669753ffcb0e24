"""The register as a Shapefile, with DBF field names that read back as the same columns.

A DBF field name has at most 10 characters. Writers cut longer names, and the schema has two
that cut to the same ``prefecture`` (``prefecture_code`` and ``prefecture_name``): GDAL then
launders the second to ``prefectu_1`` and a reader that maps cut names back can easily put the
code into the name (``prefecture_name = "650100"``). :data:`SHAPEFILE_NAMES` gives every long
column a distinct name; :mod:`layers.io` maps them back. Text is written as UTF-8 with a ``.cpg``
saying so, so that Chinese names survive any reader that honours ``.cpg`` (QGIS, ArcGIS, GDAL).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.schema import TARGET_COLUMNS

#: Schema column → DBF field name, for the columns longer than 10 characters. Where the plain cut
#: is unambiguous it is kept, so files cut by other writers read back the same way.
SHAPEFILE_NAMES: dict[str, str] = {
    name: {"prefecture_code": "pref_code", "prefecture_name": "pref_name"}.get(name, name[:10])
    for name in TARGET_COLUMNS
    if len(name) > 10
}
assert len(set(SHAPEFILE_NAMES.values())) == len(SHAPEFILE_NAMES)
assert all(len(short) <= 10 for short in SHAPEFILE_NAMES.values())


def write_register_shapefile(targets: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write targets in the schema to ``path`` (``.shp``) with DBF-safe names, UTF-8 and a ``.cpg``.

    Dates are written as ``YYYY-MM-DD`` text (the DBF date type cannot hold a missing date in every
    reader) and booleans as ``true``/``false`` text, which :mod:`layers.validate` reads back.
    A Shapefile holds one geometry type, so points and polygons need separate files.
    """
    path = Path(path)
    out = targets.rename(columns=SHAPEFILE_NAMES).copy()
    for column in out.columns:
        if column == out.geometry.name:
            continue
        series = out[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%d").astype("string").where(series.notna(), pd.NA)
        elif pd.api.types.is_bool_dtype(series):
            out[column] = series.map({True: "true", False: "false"}).astype("string")
    with warnings.catch_warnings():
        # Every name is already short: a truncation warning here would be a bug worth seeing.
        warnings.filterwarnings("error", message=".*(truncated|laundered).*")
        out.to_file(path, driver="ESRI Shapefile", encoding="UTF-8")
    return path
