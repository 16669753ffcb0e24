"""Lodging candidates: every city and county seat, listed towns (townships only when listed)
and the bases; and the shipped seat table itself (each seat in its county, every county served)."""

from __future__ import annotations

import csv

import pyproj
import pytest
import shapely
from patrol_fixtures import scenario_dict
from shapely.geometry import Point

from layers.datasets import data_path, load_context
from planning.lodging import SEATS_FILE, county_seats, lodging_candidates
from planning.scenario import parse_scenario, resolve_town

RUOQIANG, QIEMO = "1280122", "1280249"  # 若羌镇 (pop 9,872), 且末县 (pop 18,893)
HUANGDI, MIXIA = "12420928", "12420931"  # townships of 莎车县, each over 30,000 people
#: County-level units whose seat lies outside them, with the reason (as in the derivation script).
SEAT_OUTSIDE = {"650121"}  # 乌鲁木齐县: its government sits in Urumqi city


def _ids(raw_lodging: object, teams: list[dict] | None = None) -> list[str]:
    overrides: dict = {"lodging": raw_lodging}
    if teams is not None:
        overrides["teams"] = teams
    return [town.id for town in lodging_candidates(parse_scenario(scenario_dict(**overrides)))]


def _seat_rows() -> list[dict[str, str]]:
    with data_path(SEATS_FILE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _distance_km(lon: float, lat: float, area: shapely.Geometry) -> float:
    """Distance from a point to a polygon (0 inside) in an equidistant projection on the point."""
    aeqd = pyproj.Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lon_0={lon} +lat_0={lat} +datum=WGS84", always_xy=True
    )
    return shapely.transform(area, aeqd.transform, interleaved=False).distance(Point(0, 0)) / 1000


def test_small_county_seats_are_candidates_by_default():
    for raw in ("auto", None, ["Korla"]):
        ids = _ids(raw)
        assert RUOQIANG in ids and QIEMO in ids


def test_townships_only_when_listed():
    ids = _ids("auto")
    assert HUANGDI not in ids and MIXIA not in ids
    listed = _ids([int(HUANGDI)])
    assert HUANGDI in listed and MIXIA not in listed
    # Listing a town adds it without dropping the seats.
    assert set(ids) < set(listed) and len(listed) == len(ids) + 1


def test_no_county_seats_gives_listed_towns_and_bases():
    teams = [{"id": "T1", "base": "Urumqi"}, {"id": "T2", "base": "Hotan"}, {"id": "T3", "base": "Korla"}]
    ids = _ids({"county_seats": False, "towns": ["Ruoqiang", int(MIXIA), "Korla"]}, teams)
    ruoqiang, urumqi, hotan = (resolve_town(n, "x").id for n in ("Ruoqiang", "Urumqi", "Hotan"))
    korla = resolve_town("Korla", "x").id
    # Listed towns first, then bases not yet listed; Korla (listed and a base) once.
    assert ids == [ruoqiang, MIXIA, korla, urumqi, hotan]
    assert _ids({"county_seats": False}, teams) == [urumqi, hotan, korla]


def test_seats_come_first_in_file_order_without_duplicates():
    seats = county_seats()
    ids = _ids("auto")
    assert ids[: len(seats)] == [s.id for s in seats]
    assert len(ids) == len(set(ids))
    # The default base (Ürümqi) is a seat already, so nothing is appended.
    assert len(ids) == len(seats)


def test_seat_ids_match_the_gazetteer_or_name_the_county():
    rows = _seat_rows()
    seats = county_seats()
    assert len(seats) == len(rows)
    for row, seat in zip(rows, seats, strict=True):
        if row["geonameid"]:
            assert seat == resolve_town(row["geonameid"], "x")
        else:
            assert row["method"] == "manual (approximate)"
            assert seat.id == f"seat:{row['adcode']}"
        assert abs(seat.lon - float(row["lon"])) < 1e-4 and abs(seat.lat - float(row["lat"])) < 1e-4
    by_zh = {s.name_zh: s for s in seats}
    assert by_zh["奇台镇"].id == "seat:652325"


def test_every_seat_lies_in_or_near_each_county_it_serves():
    counties = load_context("counties").set_index("adcode")
    far = []
    for row in _seat_rows():
        for adcode in row["serves"].split(";"):
            km = _distance_km(float(row["lon"]), float(row["lat"]), counties.loc[adcode].geometry)
            if km > 5.0 and adcode not in SEAT_OUTSIDE:
                far.append(f"{row['seat_name']} -> {adcode} {counties.loc[adcode, 'name_zh']}: {km:.1f} km")
    assert not far


def test_every_county_is_served_exactly_once():
    counties = set(load_context("counties")["adcode"])
    assert len(counties) == 106
    served = [a for row in _seat_rows() for a in row["serves"].split(";")]
    assert sorted(served) == sorted(counties)


@pytest.mark.parametrize(
    ("adcode", "seat"),
    [("653125", "Shache"), ("654321", "Burqin"), ("654322", "Fuyun"), ("653126", "Qaghiliq")],
)
def test_seats_found_by_english_name_or_by_hand(adcode, seat):
    row = next(r for r in _seat_rows() if r["adcode"] == adcode)
    assert row["seat_name"] == seat and row["method"] in ("name", "place")
