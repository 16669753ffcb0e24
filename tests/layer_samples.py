"""Small target files built in a temporary directory for the layers loader and validation tests."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Point, box

from layers.datasets import REPO_ROOT
from layers.schema import WGS84

URUMQI = (87.6168, 43.8256)
KORLA = (86.1500, 41.7600)
KASHGAR = (75.9900, 39.4700)
HAMI = (93.5100, 42.8300)

#: Attributes shared by every valid sample row (all optional columns given, in their file form).
COMMON = {
    "category": "key",
    "status": "operating",
    "risk_level": 4,
    "last_inspected": "2025-03-01",
    "inspect_every_days": 30,
    "violations_3y": 1,
    "complaints_1y": 2,
    "online_monitoring": True,
    "service_minutes": 45,
    "night_check": False,
    "skills_required": "sampling",
    "approximate": False,
    "simulated": True,
}

POINT_ROWS = [
    {
        "site_id": "PS-T001",
        "name": "乌鲁木齐测试化工厂",
        "layer": "pollution_source",
        "kind": "key_discharge_unit",
    },
    {"site_id": "PS-T002", "name": "库尔勒测试污水厂", "layer": "pollution_source", "kind": "sewage_plant"},
    {"site_id": "WS-T001", "name": "哈密测试水源地", "layer": "water_source", "kind": "river_intake"},
]
POINT_POSITIONS = [URUMQI, KORLA, HAMI]


def valid_points() -> gpd.GeoDataFrame:
    """Three valid point targets (two pollution sources and a water intake) in EPSG:4326."""
    rows = [{**row, **COMMON} for row in POINT_ROWS]
    return gpd.GeoDataFrame(rows, geometry=[Point(p) for p in POINT_POSITIONS], crs=WGS84)


def valid_mixed() -> gpd.GeoDataFrame:
    """The valid points plus a water-source polygon near Kashgar and a protected area near Hami."""
    points = valid_points()
    areas = gpd.GeoDataFrame(
        [
            {
                **COMMON,
                "site_id": "WS-T002",
                "name": "喀什测试水源保护区",
                "layer": "water_source",
                "kind": "drinking_water_zone",
            },
            {
                **COMMON,
                "site_id": "PA-T001",
                "name": "哈密测试保护区",
                "layer": "protected_area",
                "kind": "nature_reserve",
            },
        ],  # fmt: skip
        geometry=[
            box(KASHGAR[0] - 0.02, KASHGAR[1] - 0.02, KASHGAR[0] + 0.02, KASHGAR[1] + 0.02),
            box(HAMI[0] + 0.1, HAMI[1] + 0.1, HAMI[0] + 0.2, HAMI[1] + 0.2),
        ],  # fmt: skip
        crs=WGS84,
    )
    return gpd.GeoDataFrame(
        [*points.to_dict("records"), *areas.to_dict("records")], geometry="geometry", crs=WGS84
    )


def write_csv(
    path: Path, rows: list[dict[str, object]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    """Write ``rows`` (dicts; every key seen becomes a header column) as CSV."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def points_as_csv_rows(frame: gpd.GeoDataFrame) -> list[dict[str, object]]:
    """CSV rows (``lon``/``lat`` columns) of a point GeoDataFrame."""
    return [
        {
            **{k: v for k, v in row.items() if k != "geometry"},
            "lon": row["geometry"].x,
            "lat": row["geometry"].y,
        }
        for row in frame.to_dict("records")
    ]


def write_geojson(path: Path, features: list[tuple[dict[str, object], object]]) -> Path:
    """Hand-written GeoJSON (so defects the writers refuse can be made): (properties, geometry dict)."""
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def write_shapefile(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` as a Shapefile (its field names cut to 10 characters, as every writer does)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(truncated|laundered).*")
        frame.to_file(path, driver="ESRI Shapefile", encoding="utf-8")
    return path


def write_zipped_shapefile(frame: gpd.GeoDataFrame, directory: Path, name: str = "targets") -> Path:
    """Write ``frame`` as a Shapefile and zip its parts; returns the zip path."""
    shp_dir = directory / f"{name}_shp"
    shp_dir.mkdir()
    write_shapefile(frame, shp_dir / f"{name}.shp")
    archive = directory / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(shp_dir.iterdir()):
            zipped.write(part, part.name)
    return archive


def square_ring(lon: float, lat: float, side_deg: float) -> list[list[float]]:
    """Closed ring of a square with its south-west corner at (lon, lat)."""
    s = side_deg
    return [[lon, lat], [lon + s, lat], [lon + s, lat + s], [lon, lat + s], [lon, lat]]


def notched_ring(lon: float, lat: float, side_deg: float) -> list[list[float]]:
    """A square whose west edge overshoots the south edge: a tiny self-crossing loop (safely repairable)."""
    s = side_deg
    return [[lon, lat], [lon + s, lat], [lon + s, lat + s], [lon, lat + s],
            [lon + 0.01 * s, lat - 0.01 * s], [lon, lat]]  # fmt: skip


def bowtie_ring(lon: float, lat: float, side_deg: float) -> list[list[float]]:
    """A figure-eight ring: its signed area is zero, so no repair can be called safe."""
    s = side_deg
    return [[lon, lat], [lon + s, lat + s], [lon + s, lat], [lon, lat + s], [lon, lat]]


#: (line, field) of each defect in :func:`every_defect_rows`.
EVERY_DEFECT = [
    (3, "lon"),
    (4, "lat"),
    (5, "lon/lat"),
    (6, "site_id"),
    (7, "layer"),
    (8, "kind"),
    (9, "category"),
    (10, "status"),
    (11, "skills_required"),
    (12, "last_inspected"),
    (13, "last_inspected"),
    (14, "inspect_every_days"),
    (15, "inspect_every_days"),
    (16, "violations_3y"),
    (17, "complaints_1y"),
    (18, "risk_level"),
    (19, "online_monitoring"),
    (20, "service_minutes"),
    (21, "name"),
]


def every_defect_rows() -> list[dict[str, object]]:
    """CSV rows: line 2 is valid, each later line breaks one rule (see :data:`EVERY_DEFECT`)."""
    base = points_as_csv_rows(valid_points())[0]
    changes = [
        {},
        {"lon": "eighty-seven"},
        {"lat": ""},
        {"lon": 116.40, "lat": 39.90},  # Beijing
        {"site_id": "PS-T001"},  # same as line 2
        {"layer": "factory"},
        {"kind": "volcano"},
        {"category": "vip"},
        {"status": "closed"},
        {"skills_required": "drone;laser"},
        {"last_inspected": "2025-02-30"},
        {"last_inspected": "2099-01-01"},
        {"inspect_every_days": "-30"},
        {"inspect_every_days": "0"},
        {"violations_3y": "-1"},
        {"complaints_1y": "many"},
        {"risk_level": "6"},
        {"online_monitoring": "maybe"},
        {"service_minutes": "900"},
        {"name": ""},
    ]
    rows = []
    for number, change in enumerate(changes):
        row = {**base, "site_id": f"PS-D{number:03d}", **change}
        rows.append(row)
    rows[0]["site_id"] = "PS-T001"
    return rows


#: (feature, field) of each error in :func:`geometry_defect_features`; feature 6 is repaired.
EVERY_GEOMETRY_DEFECT = [(2, "geometry"), (3, "geometry"), (4, "geometry"), (5, "geometry"), (7, "geometry")]


def feature(site_id: str, layer: str, kind: str, geometry: object) -> tuple[dict[str, object], object]:
    """A (properties, geometry) pair with the required columns, for :func:`write_geojson`."""
    return ({"site_id": site_id, "name": site_id, "layer": layer, "kind": kind}, geometry)


def geometry_defect_features() -> list[tuple[dict[str, object], object]]:
    """GeoJSON features near Kashgar: valid, missing, empty, wrong type, bowtie, repairable, wrong type."""
    x, y = KASHGAR
    return [
        feature("WS-1", "water_source", "reservoir", {"type": "Polygon", "coordinates": [square_ring(x, y, 0.04)]}),
        feature("WS-2", "water_source", "reservoir", None),
        feature("WS-3", "water_source", "reservoir", {"type": "Polygon", "coordinates": []}),
        feature("PS-4", "pollution_source", "mine", {"type": "Polygon", "coordinates": [square_ring(x, y, 0.04)]}),
        feature("PA-5", "protected_area", "nature_reserve", {"type": "Polygon", "coordinates": [bowtie_ring(x, y, 0.04)]}),
        feature("PA-6", "protected_area", "nature_reserve", {"type": "Polygon", "coordinates": [notched_ring(x, y, 0.04)]}),
        feature("PA-7", "protected_area", "nature_reserve", {"type": "Point", "coordinates": list(HAMI)}),
    ]  # fmt: skip


def private_data_copy(tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the shipped data (geo, registry, SOURCES.md) that a test may change, made
    the data directory of every tool (``XUNHU_DATA_DIR``)."""
    copy = tmp_path / "data"
    for part in ("geo", "registry"):
        shutil.copytree(REPO_ROOT / "data" / part, copy / part)
    shutil.copy(REPO_ROOT / "data" / "SOURCES.md", copy / "SOURCES.md")
    monkeypatch.setenv("XUNHU_DATA_DIR", str(copy))
    return copy
