"""Export of visits for people and other tools: CSV (one row per visit) or GeoJSON (points).

Times are written as ISO-8601 UTC text so every tool reads them the same way; visits without a
position are kept in the CSV and written with a null geometry in GeoJSON. The CSV starts with the
attribution and, when simulated visits are among the rows, the SIMULATED note (lines starting with
``#``); coordinates are rounded to 5 decimals (about 1 m), and text cells that a spreadsheet would
run as a formula get a leading apostrophe (:mod:`layers.spreadsheet`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.schema import WGS84
from layers.spreadsheet import csv_text, export_notes, has_simulated
from records.db import RecordsError

FORMATS = ("csv", "geojson")


def export_visits(visits: pd.DataFrame, out: str | Path, fmt: str) -> Path:
    """Write ``visits`` (as from ``Store.visits``) to ``out`` in ``fmt`` (csv or geojson)."""
    if fmt not in FORMATS:
        raise RecordsError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = visits.copy()
    for column in ("started_at", "ended_at"):
        table[column] = table[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "csv":
        # Notes and names are free text: csv_text neutralises spreadsheet formulas.
        out.write_text(csv_text(table, export_notes(has_simulated(visits))), encoding="utf-8-sig")
        return out
    geometry = gpd.points_from_xy(table["lon"], table["lat"])
    frame = gpd.GeoDataFrame(table, geometry=geometry, crs=WGS84)
    frame.loc[table["lon"].isna(), "geometry"] = None
    frame.to_file(out, driver="GeoJSON")
    return out
