"""Where a team may spend the night: every city and county seat, listed towns and the bases.

The seats come from ``data/geo/county_seats.csv`` (``tools/derive_county_seats.py``; how each
seat was found is in ``data/SOURCES.md``): one row per distinct seat town with the county-level
units it serves. A seat that is a GeoNames place is the very :class:`Town` that
:func:`planning.scenario.resolve_town` returns for its geonameid, so its id matches bases,
listed towns and plans written before this module existed; a seat missing from the places layer
(hand-entered, approximate coordinates) gets the id ``seat:<adcode>``.

Townships are lodging only when the scenario lists them (``lodging.towns``): a seat has a
hotel that takes official travellers, a township often has none.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from layers.datasets import data_path
from planning.scenario import Scenario, Town, resolve_town

SEATS_FILE = "geo/county_seats.csv"


@lru_cache(maxsize=1)
def county_seats() -> tuple[Town, ...]:
    """Every city and county seat of Xinjiang, in the file's (adcode) order.

    GeoNames seats are taken from the places gazetteer by geonameid (same id, names and
    population as everywhere else); hand-entered seats get ``id = "seat:<adcode>"`` and
    population 0 (unknown).
    """
    with data_path(SEATS_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seats: list[Town] = []
    for row in rows:
        gid = row["geonameid"].strip()
        if gid:
            seats.append(resolve_town(gid, f"{SEATS_FILE}:{row['adcode']}"))
        else:
            seats.append(
                Town(
                    id=f"seat:{row['adcode']}",
                    name=row["seat_name"],
                    name_zh=row["seat_name_zh"],
                    lon=float(row["lon"]),
                    lat=float(row["lat"]),
                    population=0,
                )
            )
    return tuple(seats)


def lodging_candidates(scenario: Scenario) -> tuple[Town, ...]:
    """The towns where a team of ``scenario`` may spend a night: the county seats when
    ``scenario.lodging.county_seats``, then the listed ``lodging.towns``, then every team's
    base; the first occurrence of each town id is kept, so the order is stable."""
    towns: list[Town] = []
    if scenario.lodging.county_seats:
        towns.extend(county_seats())
    towns.extend(scenario.lodging.towns)
    towns.extend(team.base for team in scenario.teams)
    unique: dict[str, Town] = {}
    for town in towns:
        unique.setdefault(town.id, town)
    return tuple(unique.values())
