"""Registry rows whose names carry script payloads, one per layer, all inside Urumqi (650100).

Every payload calls ``xssFired(tag)``: the browser test exposes that function to every frame, so
any payload that runs is recorded with the tag saying which one. The Chinese word at the start of
each name is plain text the tests look for on the page.
"""

from __future__ import annotations

import geopandas as gpd
from layer_samples import COMMON
from shapely.geometry import Point, box

from layers.schema import WGS84

#: (site_id, plain label, layer, kind, geometry); the polygons lie inside Urumqi's prefecture.
SITES = (
    ("PS-X001", "敌意排污单位", "pollution_source", "key_discharge_unit", Point(87.62, 43.83)),
    ("WS-X001", "敌意水源地", "water_source", "drinking_water_zone", box(87.44, 43.93, 87.47, 43.96)),
    ("PA-X001", "敌意保护地", "protected_area", "nature_reserve", box(87.30, 43.45, 87.36, 43.50)),
)


def hostile_name(label: str, tag: str) -> str:
    """``label`` followed by the three payloads: an HTML event handler, a JS template-literal
    expression and a script-element breakout, each calling ``xssFired`` with its own tag."""
    return (
        f"{label} <img src=x onerror=\"xssFired('{tag}-i')\"> ${{xssFired('{tag}-t')}} "
        f"</script><script>xssFired('{tag}-s')</script>"
    )


def hostile_targets() -> gpd.GeoDataFrame:
    """One valid target per layer with a hostile name (all optional columns given)."""
    rows = [
        {
            **COMMON,
            "site_id": site_id,
            "name": hostile_name(label, site_id),
            "layer": layer,
            "kind": kind,
        }
        for site_id, label, layer, kind, _ in SITES
    ]
    return gpd.GeoDataFrame(rows, geometry=[site[-1] for site in SITES], crs=WGS84)
