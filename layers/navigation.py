"""Links that open a site in the map apps officers carry: any ``geo:`` app, Amap (高德) and Baidu.

The registry holds WGS-84. A ``geo:`` URI (RFC 5870) is WGS-84 by definition, so Android offers every
installed map app for it. Amap takes GCJ-02 and Baidu BD-09 (both China's distorted systems, up to
about 1 km off WGS-84 in Xinjiang), so their links carry coordinates converted with
:mod:`layers.gcj02` and say which system they are in (Amap ``coordinate=gaode``, Baidu
``coord_type=bd09ll``). Both are their apps' documented web entry points: they open the app when it
is installed (``callnative=1``), else the mobile web map.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from layers.gcj02 import wgs84_to_bd09, wgs84_to_gcj02

#: Decimal places in links: 6 is about 0.1 m, finer than any phone's fix.
LINK_DECIMALS = 6


@dataclass(frozen=True)
class NavigationLinks:
    """Where to send an officer: the same place in each coordinate system and app."""

    geo: str
    amap: str
    baidu: str
    gcj02: tuple[float, float]
    bd09: tuple[float, float]


def navigation_links(lon: float, lat: float, name: str) -> NavigationLinks:
    """Links that start navigation to the WGS-84 position (``lon``, ``lat``) named ``name``."""
    gcj_lon, gcj_lat = (round(float(v), LINK_DECIMALS) for v in wgs84_to_gcj02(lon, lat))
    bd_lon, bd_lat = (round(float(v), LINK_DECIMALS) for v in wgs84_to_bd09(lon, lat))
    lon, lat = round(float(lon), LINK_DECIMALS), round(float(lat), LINK_DECIMALS)
    # Amap and Baidu read the name up to the next separator of their own syntax; keep it out.
    label = " ".join(str(name).replace(",", " ").replace("|", " ").split())
    geo = f"geo:{lat},{lon}?q={lat},{lon}({quote(label)})"
    amap = "https://uri.amap.com/navigation?" + urlencode(
        {
            "to": f"{gcj_lon},{gcj_lat},{label}",
            "mode": "car",
            "coordinate": "gaode",
            "callnative": 1,
            "src": "xunhu",
        }
    )
    baidu = "https://api.map.baidu.com/direction?" + urlencode(
        {
            "destination": f"latlng:{bd_lat},{bd_lon}|name:{label}",
            "mode": "driving",
            "coord_type": "bd09ll",
            "output": "html",
            "src": "xunhu",
        }
    )
    return NavigationLinks(geo, amap, baidu, (gcj_lon, gcj_lat), (bd_lon, bd_lat))
