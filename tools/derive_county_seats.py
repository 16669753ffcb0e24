"""Derive ``data/geo/county_seats.csv``: the seat town of every county-level unit of Xinjiang.

A team may spend the night in any city or county seat (``lodging.county_seats``), but neither
the GeoNames places layer (no feature class, mixed population figures) nor the county polygons
(no seat points) say which town is the seat. This script finds one seat per county-level unit
(106 in ``admin_counties.geojson``) and writes one row per distinct seat town:

* ``city``: districts (区) of a prefecture-level city share the city's seat (all central
  Urumqi districts -> Ürümqi) when that seat lies inside or within ``TOLERANCE_KM`` of the
  district; outlying districts (Dabancheng, Dushanzi, Wuerhe ...) have a seat of their own.
  乌鲁木齐县 is also served from Ürümqi: its government sits in the city, outside the county.
* ``name``: a GeoNames place inside the county whose Chinese name stem equals the county's
  (且末县 <-> 且末县, 若羌县 <-> 若羌镇, 巴里坤哈萨克自治县 <-> 巴里坤镇) or, failing that, whose
  English name equals the county's pinyin stem (莎车县 "Shache Xian" <-> "Shache").
* ``place``: a GeoNames place picked by hand because its name differs from the county's
  (叶城县 -> Qaghiliq 喀格勒克镇, 疏附县 -> Toqquzaq 托克扎克); each pick was checked against
  the seat's known location.
* ``manual (approximate)``: seats missing from the places layer, with coordinates entered by
  hand from general knowledge of the town's location, good to a few km.

Every seat must lie inside, or within ``TOLERANCE_KM`` of, each county it serves; the script
prints every exception and fails on any that is not listed in ``SEAT_OUTSIDE``. Run it from the
repository root with the project's environment:

    .venv/bin/python tools/derive_county_seats.py [--out data/geo/county_seats.csv]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyproj
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers.datasets import data_path, load_context  # noqa: E402
from planning.scenario import normalise_name  # noqa: E402

#: A seat may lie this far outside a county it serves (polygons are simplified to ~200 m and
#: GeoNames points sit a few hundred metres off; a seat on the county border is common).
TOLERANCE_KM = 5.0
COLUMNS = (
    "adcode", "county_zh", "seat_name", "seat_name_zh", "geonameid", "lon", "lat", "method",
    "serves",
)  # fmt: skip

#: County-level units served by a seat outside their polygon, with the reason.
SEAT_OUTSIDE = {
    "650121": "乌鲁木齐县's government sits in Urumqi city, north of the county",
}
#: County -> geonameid of its seat, picked by hand where the names differ.
PLACE = {
    "650109": 13457414,  # 米东区: district government in 古牧地镇 (Gumudi)
    "650205": 1529103,  # 乌尔禾区: Liushujie/乌尔禾乡 lies at 乌尔禾镇, the district seat
    "652723": 1529090,  # 温泉县: seat 博格达尔镇 (Bögdör)
    "653121": 13196618,  # 疏附县: seat 托克扎克镇 (Toqquzaq)
    "653123": 1279590,  # 英吉沙县: seat Yengisar town (英吉沙镇)
    "653126": 1279602,  # 叶城县: seat 喀格勒克镇 (Qaghiliq)
    "653221": 8992399,  # 和田县: seat 巴格其镇 (Bageqi)
    "653222": 1280541,  # 墨玉县: seat 喀拉喀什镇 (Qaraqash)
    "653223": 1280327,  # 皮山县: seat 固玛镇 (Guma)
    "654004": 1529377,  # 霍尔果斯市: Qarasu/卡拉苏, the city by the border port
    "654021": 1529420,  # 伊宁县: seat 吉里于孜镇 (Jelilyüzi)
    "654223": 1529239,  # 沙湾市: seat 三道河子镇 (Sandaohezi)
    "654225": 13293447,  # 裕民县: seat 哈拉布拉镇 (Qarabura)
    "654321": 1529574,  # 布尔津县: Burqin town (the record has no Chinese name)
}
#: County -> (English name, Chinese name, lon, lat) of seats missing from the places layer;
#: approximate (from general knowledge of each town, a few km at worst).
MANUAL = {
    "652325": ("Qitai", "奇台镇", 89.59, 44.02),
    "653128": ("Yopurga", "岳普湖镇", 76.77, 39.23),
    "653129": ("Jiashi", "巴仁镇", 76.73, 39.49),
    "659006": ("Tiemenguan", "铁门关市", 85.67, 41.87),
    "659007": ("Shuanghe", "双河市", 82.35, 44.84),
    "659008": ("Kokdala", "可克达拉市", 80.98, 43.96),
    "659009": ("Kunyu", "昆玉市", 79.29, 37.21),
}

_ETHNIC_SUFFIX = re.compile(r"(哈萨克|蒙古|回族|锡伯|塔吉克|柯尔克孜)?自治(县|州)$")


def zh_stem(name: object) -> str:
    """Chinese name without the autonomy and admin suffix: 巴里坤哈萨克自治县 -> 巴里坤."""
    if not isinstance(name, str):
        return ""
    text = _ETHNIC_SUFFIX.sub("", name.strip())
    # One admin suffix only: 县 of 且末县, 镇 of 若羌镇, 市 of 库车市.
    return re.sub(r"(市|县|区|镇)$", "", text) if len(text) > 2 else text


def pinyin_stem(pinyin: str) -> str:
    """First word of the county pinyin, folded like place names: "Shache Xian" -> "shache"."""
    return normalise_name(pinyin.split()[0]) if pinyin.strip() else ""


def distance_km(point: Point, area: BaseGeometry) -> float:
    """Metres-true distance from ``point`` to ``area`` (0 inside), in an azimuthal equidistant
    projection centred on the point, so the distance is exact up to the ellipsoid."""
    aeqd = pyproj.Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lon_0={point.x} +lat_0={point.y} +datum=WGS84", always_xy=True
    )
    return shapely.transform(area, aeqd.transform, interleaved=False).distance(Point(0, 0)) / 1000.0


@dataclass
class Seat:
    """One seat town and the county-level units it serves."""

    adcode: str
    county_zh: str
    name: str
    name_zh: str
    geonameid: int | None
    lon: float
    lat: float
    method: str
    serves: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        """The CSV row."""
        return {
            "adcode": self.adcode,
            "county_zh": self.county_zh,
            "seat_name": self.name,
            "seat_name_zh": self.name_zh,
            "geonameid": "" if self.geonameid is None else self.geonameid,
            "lon": f"{self.lon:.5f}",
            "lat": f"{self.lat:.5f}",
            "method": self.method,
            "serves": ";".join(self.serves),
        }


def derive() -> tuple[list[Seat], list[str]]:
    """(seats ordered by adcode, printed exceptions: seats farther than the tolerance)."""
    counties = load_context("counties").set_index("adcode")
    prefectures = load_context("prefectures").set_index("adcode")
    places = load_context("places")
    by_id = places.set_index("geonameid")

    def place_seat(adcode: str, county_zh: str, gid: int, method: str) -> Seat:
        place = by_id.loc[gid]
        zh = place["name_zh"] if isinstance(place["name_zh"], str) else ""
        return Seat(adcode, county_zh, str(place["name"]), zh, int(gid),
                    float(place.geometry.x), float(place.geometry.y), method, [adcode])  # fmt: skip

    def name_match(pool, zh: str, pinyin: str) -> int | None:
        """The geonameid of the most populous place in ``pool`` matching by Chinese stem, else by
        pinyin stem; ``None`` when nothing matches."""
        ranked = pool.sort_values("population", ascending=False)
        for matches in (
            ranked[ranked["name_zh"].map(zh_stem) == zh_stem(zh)],
            ranked[ranked["name"].map(normalise_name) == pinyin_stem(pinyin)],
        ):
            if len(matches):
                return int(matches["geonameid"].iloc[0])
        return None

    seats: list[Seat] = []
    city_seat: dict[str, Seat] = {}
    for pref, info in prefectures.iterrows():
        # Prefecture-level cities (市, not 地区/自治州) whose units include districts.
        units = counties[counties["pref_adcode"] == pref]
        if not info["name_zh"].endswith("市") or not units["name_zh"].str.endswith("区").any():
            continue
        gid = name_match(places[places["pref_adcode"] == pref], info["name_zh"], info["name_pinyin"])
        assert gid is not None, f"no seat for city {info['name_zh']}"
        seat = place_seat(pref, info["name_zh"], gid, "city")
        seat.serves = []
        city_seat[pref] = seat
        seats.append(seat)

    for adcode, county in counties.iterrows():
        zh, pref = county["name_zh"], county["pref_adcode"]
        city = city_seat.get(pref)
        if city is not None and (
            adcode in SEAT_OUTSIDE
            or zh.endswith("区")
            and distance_km(Point(city.lon, city.lat), county.geometry) <= TOLERANCE_KM
        ):
            city.serves.append(adcode)
            continue
        if adcode in MANUAL:
            name, name_zh, lon, lat = MANUAL[adcode]
            seats.append(Seat(adcode, zh, name, name_zh, None, lon, lat, "manual (approximate)", [adcode]))
            continue
        if adcode in PLACE:
            seats.append(place_seat(adcode, zh, PLACE[adcode], "place"))
            continue
        gid = name_match(places[places["county_adcode"] == adcode], zh, county["name_pinyin"])
        if gid is None:
            raise SystemExit(f"{adcode} {zh}: no seat found; add it to PLACE or MANUAL")
        seats.append(place_seat(adcode, zh, gid, "name"))

    exceptions: list[str] = []
    for seat in seats:
        for adcode in seat.serves:
            km = distance_km(Point(seat.lon, seat.lat), counties.loc[adcode].geometry)
            if km > TOLERANCE_KM:
                reason = SEAT_OUTSIDE.get(adcode, "UNEXPECTED")
                exceptions.append(
                    f"{seat.name} ({seat.method}) lies {km:.1f} km outside "
                    f"{adcode} {counties.loc[adcode, 'name_zh']}: {reason}"
                )
    served = {a for seat in seats for a in seat.serves}
    missing = sorted(set(counties.index) - served)
    assert not missing, f"counties without a seat: {missing}"
    return sorted(seats, key=lambda s: s.adcode), exceptions


def main(argv: list[str] | None = None) -> int:
    """Derive, check, print the exceptions and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=data_path("geo/county_seats.csv"))
    args = parser.parse_args(argv)
    seats, exceptions = derive()
    for line in exceptions:
        print("exception:", line)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(seat.row() for seat in seats)
    methods: dict[str, int] = {}
    for seat in seats:
        methods[seat.method] = methods.get(seat.method, 0) + 1
    print(f"{len(seats)} seats for {sum(len(s.serves) for s in seats)} county-level units "
          f"-> {args.out}; by method: {methods}")  # fmt: skip
    unexpected = [line for line in exceptions if line.endswith("UNEXPECTED")]
    if unexpected:
        print(f"{len(unexpected)} seat(s) outside their county; fix PLACE/MANUAL", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
