"""The one schema every enforcement target shares, whatever file it came from.

A *target* is a place officers inspect: a pollution source (point), a drinking-water source
protection zone (polygon) or a protected area (polygon). Every loader produces a GeoDataFrame
in EPSG:4326 with exactly :data:`TARGET_COLUMNS` (plus ``geometry``); every later stage
(priority, draw, planning, coverage) relies on these names and types.

``skills_required`` is stored as a ``;``-separated string (``"drone;sampling"``) so it
survives every file format unchanged; :func:`parse_skills` turns it into a set.
"""

from __future__ import annotations

WGS84 = "EPSG:4326"
#: Metric CRS for Xinjiang-wide work (Albers equal-area conic fitted to the region).
#: Lengths and areas in this CRS are good to well under 1 % across the whole region.
XINJIANG_METRIC_CRS = (
    "+proj=aea +lat_0=0 +lon_0=85 +lat_1=37 +lat_2=47 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
)
#: Generous bounding box (lon_min, lat_min, lon_max, lat_max) used as a fast first check
#: before the exact test against the province outline.
XINJIANG_BBOX = (73.0, 34.0, 97.0, 50.0)

LAYERS = ("pollution_source", "water_source", "protected_area")

#: Allowed ``kind`` values per layer.
KINDS: dict[str, tuple[str, ...]] = {
    "pollution_source": (
        "key_discharge_unit",
        "industrial_park",
        "hazardous_waste",
        "sewage_plant",
        "tailings_pond",
        "livestock_farm",
        "mine",
    ),
    "water_source": ("drinking_water_zone", "reservoir", "river_intake", "groundwater_wellfield"),
    "protected_area": ("nature_reserve", "red_line_zone", "wetland_park", "scenic_area"),
}

#: Supervision category used by the random inspection draw (双随机).
CATEGORIES = ("key", "special", "ordinary")
CATEGORY_ZH = {"key": "重点", "special": "特殊", "ordinary": "一般"}

STATUSES = ("operating", "stopped", "relocated")
#: Units in these states are never drawn and never planned.
INACTIVE_STATUSES = ("stopped", "relocated")

SKILLS = ("drone", "sampling", "radiation", "boat")

#: Column name -> pandas dtype after normalisation. ``last_inspected`` is a date (no time);
#: a missing value means "never inspected".
TARGET_DTYPES: dict[str, str] = {
    "site_id": "string",
    "name": "string",
    "layer": "string",
    "kind": "string",
    "category": "string",
    "status": "string",
    "prefecture_code": "string",
    "prefecture_name": "string",
    "county_code": "string",
    "county_name": "string",
    "risk_level": "Int64",
    "last_inspected": "datetime64[s]",
    "inspect_every_days": "Int64",
    "violations_3y": "Int64",
    "complaints_1y": "Int64",
    "online_monitoring": "boolean",
    "service_minutes": "Int64",
    "night_check": "boolean",
    "skills_required": "string",
    "approximate": "boolean",
    "simulated": "boolean",
}
TARGET_COLUMNS: tuple[str, ...] = tuple(TARGET_DTYPES)

#: Columns a file must provide (everything else has a documented default).
REQUIRED_COLUMNS = ("site_id", "name", "layer", "kind")

#: Defaults for optional columns when a file leaves them out.
DEFAULTS: dict[str, object] = {
    "category": "ordinary",
    "status": "operating",
    "risk_level": 3,
    "inspect_every_days": 90,
    "violations_3y": 0,
    "complaints_1y": 0,
    "online_monitoring": False,
    "service_minutes": 60,
    "night_check": False,
    "skills_required": "",
    "approximate": False,
    "simulated": False,
}

#: Geometry types allowed per layer.
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "pollution_source": ("Point",),
    "water_source": ("Polygon", "MultiPolygon", "Point"),
    "protected_area": ("Polygon", "MultiPolygon"),
}

SITE_ID_PREFIX = {"pollution_source": "PS", "water_source": "WS", "protected_area": "PA"}


def parse_skills(value: object) -> frozenset[str]:
    """Return the set of skills in a ``;``- or ``,``-separated string (empty for missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return frozenset()
    text = str(value).replace(",", ";")
    return frozenset(s.strip() for s in text.split(";") if s.strip())
