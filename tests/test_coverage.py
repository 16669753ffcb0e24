"""Coverage: corridors and radii cover exactly the right cells, weights add up, site accounting
and debt match hand-computed answers, blind spots merge and rank, plans and the CLI behave.

Everything runs on a small synthetic grid (three 0.2° counties at H3 resolution 7) so the
expected answers can be computed independently: by brute force over every cell with shapely
distances in the metric CRS, or by hand.
"""

from __future__ import annotations

import json

import geopandas as gpd
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import pytest
import shapely
from export_reading import split_export
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, box

from coverage.blindspots import (
    ACCESS_PARTLY,
    ACCESS_REMOTE,
    ACCESS_ROAD,
    AREA_WEIGHT_CAP,
    blind_spots,
    merge_neighbours,
)
from coverage.covered import CoverageRadii, covered_cells, fill_visit_positions
from coverage.grid import CellIndex, cells_geodataframe, grid_from_counties
from coverage.plan_coverage import plan_activities, plan_vs_actual, with_route_legs
from coverage.sites import day_start_utc, draw_status, site_table
from coverage.stats import TOTAL_CODE, region_stats
from coverage.weights import COMPONENTS, CoverageWeights, cell_weights
from layers.schema import TARGET_DTYPES, WGS84, XINJIANG_METRIC_CRS

RES = 7
METRIC = Transformer.from_crs(WGS84, XINJIANG_METRIC_CRS, always_xy=True)
COUNTIES = gpd.GeoDataFrame(
    {
        "adcode": ["650001", "650002", "650101"],
        "name_zh": ["甲县", "乙县", "丙县"],
        "pref_adcode": ["650000", "650000", "650100"],
        "pref_name_zh": ["一州", "一州", "二州"],
    },
    geometry=[box(85.0, 42.0, 85.2, 42.2), box(85.2, 42.0, 85.4, 42.2), box(85.4, 42.0, 85.6, 42.2)],
    crs=WGS84,
)


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return grid_from_counties(COUNTIES, RES)


def _metric_centres(grid: pd.DataFrame) -> np.ndarray:
    """Cell centres in metres, computed here from h3 and pyproj (not from the grid's columns)."""
    latlng = np.array([h3i.cell_to_latlng(int(c)) for c in grid["cell"]])
    x, y = METRIC.transform(latlng[:, 1], latlng[:, 0])
    return shapely.points(np.column_stack([x, y]))


def _metric(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(METRIC.transform(xy[:, 0], xy[:, 1])))


def _covered_set(grid: pd.DataFrame, covered: pd.DataFrame) -> set[int]:
    return set(grid["cell"][covered["last_covered_at"].notna()].tolist())


def _track(
    lonlats: list[tuple[float, float]], minutes_apart: float, transport: str = "vehicle"
) -> pd.DataFrame:
    start = pd.Timestamp("2026-10-05T03:00Z")
    return pd.DataFrame(
        {
            "track_id": 1,
            "team_id": "T1",
            "transport": transport,
            "time": [start + pd.Timedelta(minutes=minutes_apart * i) for i in range(len(lonlats))],
            "lon": [p[0] for p in lonlats],
            "lat": [p[1] for p in lonlats],
        }
    )


def test_grid_assigns_each_cell_to_the_county_holding_its_centre(grid):
    assert grid["cell"].is_unique
    assert set(grid["county_code"]) == {"650001", "650002", "650101"}
    for county in COUNTIES.itertuples():
        rows = grid[grid["county_code"] == county.adcode]
        assert shapely.contains_xy(county.geometry, rows["lon"], rows["lat"]).all()
    # Three 0.2° boxes at 42°N are about 3 × 16.5 km × 22.2 km; cell areas add up to that.
    assert grid["area_km2"].sum() == pytest.approx(_metric(COUNTIES.union_all()).area / 1e6, rel=0.03)
    hexes = cells_geodataframe(grid.head(3))
    assert hexes.crs == WGS84
    assert shapely.contains_xy(hexes.geometry.to_numpy(), grid["lon"][:3], grid["lat"][:3]).all()


def test_straight_track_covers_exactly_the_cells_within_its_corridor(grid):
    points = [(85.03, 42.03), (85.17, 42.09), (85.33, 42.16)]
    radii = CoverageRadii(vehicle_km=1.5)
    covered = covered_cells(grid, None, _track(points, minutes_apart=10), radii)
    distance = shapely.distance(_metric_centres(grid), _metric(LineString(points)))
    expected = set(grid["cell"][distance <= 1500].tolist())
    assert len(expected) > 15  # a real corridor, not a trivial case
    assert _covered_set(grid, covered) == expected
    assert covered["vehicle"].sum() == len(expected) and not covered["visit"].any()
    assert covered["last_covered_at"].max() == pd.Timestamp("2026-10-05T03:20Z")


def test_track_gap_longer_than_the_limit_is_not_joined(grid):
    points = [(85.03, 42.05), (85.37, 42.05)]
    joined = covered_cells(grid, None, _track(points, 10), CoverageRadii(max_gap_minutes=15))
    broken = covered_cells(grid, None, _track(points, 30), CoverageRadii(max_gap_minutes=15))
    centres = _metric_centres(grid)
    near_ends = shapely.distance(centres, _metric(shapely.MultiPoint(points))) <= 1000
    assert _covered_set(grid, broken) == set(grid["cell"][near_ends].tolist())
    assert len(_covered_set(grid, joined)) > 3 * len(_covered_set(grid, broken))


def test_track_fixes_in_any_order_and_unknown_transport(grid):
    points = [(85.03, 42.03), (85.17, 42.09), (85.33, 42.16)]
    ordered = _track(points, 10)
    shuffled = pd.concat([ordered, ordered.assign(track_id=2, lat=ordered["lat"] - 0.05)]).iloc[
        [4, 0, 2, 5, 1, 3]
    ]
    both = covered_cells(
        grid, None, pd.concat([ordered, ordered.assign(track_id=2, lat=ordered["lat"] - 0.05)])
    )
    assert _covered_set(grid, covered_cells(grid, None, shuffled)) == _covered_set(grid, both)
    assert _covered_set(grid, both) > _covered_set(grid, covered_cells(grid, None, ordered))
    with pytest.raises(ValueError, match=r"unknown transport \['bicycle'\]"):
        covered_cells(grid, None, ordered.assign(transport="bicycle"))


def test_foot_corridor_is_narrower_than_vehicle(grid):
    points = [(85.03, 42.03), (85.33, 42.16)]
    foot = _covered_set(grid, covered_cells(grid, None, _track(points, 5, "foot"), CoverageRadii()))
    car = _covered_set(grid, covered_cells(grid, None, _track(points, 5, "vehicle"), CoverageRadii()))
    distance = shapely.distance(_metric_centres(grid), _metric(LineString(points)))
    assert foot == set(grid["cell"][distance <= 500].tolist())
    assert foot < car


def test_visit_covers_its_radius_and_its_own_cell(grid):
    lon, lat = 85.3, 42.1
    # The first visit has no position: it covers nothing (and must not shift the others' rows).
    visit = pd.DataFrame(
        {
            "site_id": ["S0", "S1"],
            "started_at": [pd.Timestamp("2026-10-01T03:00Z"), pd.Timestamp("2026-10-05T03:00Z")],
            "ended_at": [pd.Timestamp("2026-10-09T04:00Z"), pd.Timestamp("2026-10-05T04:00Z")],
            "lon": [None, lon],
            "lat": [None, lat],
        }
    )
    covered = covered_cells(grid, visit, None, CoverageRadii(visit_km=4.0))
    distance = shapely.distance(_metric_centres(grid), _metric(Point(lon, lat)))
    expected = set(grid["cell"][distance <= 4000].tolist()) | {h3i.latlng_to_cell(lat, lon, RES)}
    assert len(expected) >= 3
    assert _covered_set(grid, covered) == expected
    assert (covered.loc[covered["visit"], "last_covered_at"] == pd.Timestamp("2026-10-05T04:00Z")).all()
    # A visit without a position stands at its site if the site is a point.
    sites = _targets([{}, {"layer": "water_source"}], [Point(lon, lat), box(85.0, 42.0, 85.1, 42.1)])
    unplaced = visit.assign(site_id=["S1", "S0"], lon=[None, None], lat=[None, None])
    placed = fill_visit_positions(unplaced, sites)
    assert placed["lon"].tolist()[1] == lon and np.isnan(placed["lon"].tolist()[0])
    assert _covered_set(grid, covered_cells(grid, placed, None, CoverageRadii(visit_km=4.0))) == expected
    # A radius smaller than a cell still covers the cell the officers stood in.
    tiny = covered_cells(grid, visit, None, CoverageRadii(visit_km=0.01))
    assert _covered_set(grid, tiny) == {h3i.latlng_to_cell(lat, lon, RES)}


def _targets(rows: list[dict], geometries: list) -> gpd.GeoDataFrame:
    base = {
        "name": "t",
        "kind": "key_discharge_unit",
        "category": "ordinary",
        "status": "operating",
        "risk_level": 3,
        "last_inspected": pd.Timestamp("2026-09-01"),
        "inspect_every_days": 30,
        "violations_3y": 0,
        "complaints_1y": 0,
        "layer": "pollution_source",
    }
    frame = pd.DataFrame([{**base, "site_id": f"S{i}", **row} for i, row in enumerate(rows)])
    for column, dtype in TARGET_DTYPES.items():
        if column not in frame:
            frame[column] = pd.NA
        frame[column] = frame[column].astype(dtype)
    return gpd.GeoDataFrame(frame, geometry=geometries, crs=WGS84)


def test_weights_sum_per_region_and_layer(grid):
    targets = _targets(
        [
            {"county_code": "650001"},
            {"county_code": "650001", "status": "stopped"},
            {"county_code": "650002"},
            {"layer": "water_source", "kind": "reservoir"},
            {"layer": "protected_area", "kind": "nature_reserve"},
        ],
        [
            Point(85.05, 42.05),
            Point(85.1, 42.15),
            Point(85.3, 42.1),
            box(85.15, 42.05, 85.25, 42.1),  # straddles the 甲/乙 border
            box(85.45, 42.02, 85.55, 42.18),
        ],
    )
    river = gpd.GeoDataFrame(geometry=[LineString([(85.0, 42.19), (85.6, 42.19)])], crs=WGS84)
    config = CoverageWeights(
        source_base=2.0, source_per_priority_point=0.0, inactive_source_factor=0.25, water_zone_per_km2=3.0
    )
    weights = cell_weights(grid, targets, pd.Timestamp("2026-10-01").date(), rivers=river, weights=config)
    by_county = weights.groupby(grid["county_code"].to_numpy()).sum()
    assert by_county.loc["650001", "w_source"] == pytest.approx(2.0 + 0.5)
    assert by_county.loc["650002", "w_source"] == pytest.approx(2.0)
    assert by_county.loc["650101", "w_source"] == 0
    zone_km2 = _metric(box(85.15, 42.05, 85.25, 42.1)).area / 1e6
    # Exact area: the zone lies well inside the grid, so all of it is shared among cells.
    assert weights["w_water"].sum() == pytest.approx(3.0 * zone_km2, rel=1e-9)
    assert by_county.loc["650001", "w_water"] > 0 and by_county.loc["650002", "w_water"] > 0
    reserve_km2 = _metric(box(85.45, 42.02, 85.55, 42.18)).area / 1e6
    assert by_county.loc["650101", "w_protected"] == pytest.approx(0.02 * reserve_km2, rel=1e-9)
    # The river runs 0.01° inside the grid's top edge, but the hexagons along the edge stick out
    # and in, so only part of its length lies in grid cells: between half and all of it.
    river_km = _metric(LineString([(85.0, 42.19), (85.6, 42.19)])).length / 1e3
    assert 0.5 * 0.1 * river_km < weights["w_river"].sum() <= 0.1 * river_km + 1e-9
    assert np.allclose(weights["weight"], weights[list(COMPONENTS)].sum(axis=1))
    assert (weights["weight"] == 0).sum() > len(grid) / 2  # empty land weighs nothing

    sites = site_table(targets, None, day_start_utc("2026-10-01"), day_start_utc("2026-11-01"))
    stats = region_stats(grid, weights["weight"], np.zeros(len(grid), bool), sites, by="county")
    regions = stats[stats["county_code"] != TOTAL_CODE].set_index("county_code")
    assert regions["weight"].to_dict() == pytest.approx(by_county["weight"].to_dict())
    assert stats.iloc[-1]["weight"] == pytest.approx(weights["weight"].sum())
    by_pref = region_stats(grid, weights["weight"], np.zeros(len(grid), bool), sites, by="prefecture")
    assert by_pref.set_index("prefecture_code").loc["650000", "weight"] == pytest.approx(
        by_county.loc[["650001", "650002"], "weight"].sum()
    )


def _visit(site_id: str, day: str, outcome: str = "compliant", source: str = "planned") -> dict:
    return {
        "visit_id": len(site_id),
        "site_id": site_id,
        "team_id": "T1",
        "started_at": pd.Timestamp(f"{day}T03:00Z"),
        "ended_at": pd.Timestamp(f"{day}T04:00Z"),
        "outcome": outcome,
        "source": source,
        "lon": 85.1,
        "lat": 42.1,
    }


def test_region_with_every_due_site_visited_has_full_site_coverage(grid):
    targets = _targets(
        [{"county_code": "650001"}] * 3 + [{"county_code": "650002"}] * 2,
        [Point(85.05, 42.05), Point(85.1, 42.1), Point(85.15, 42.15), Point(85.3, 42.1), Point(85.35, 42.1)],
    )
    visits = pd.DataFrame(
        [
            _visit("S0", "2026-10-03"),
            _visit("S1", "2026-10-04", "violation"),
            _visit("S2", "2026-10-20"),
            _visit("S3", "2026-10-20", source="inferred"),  # GPS dwell: not an inspection
            _visit("S4", "2026-10-21", "not_inspected"),
        ]
    )
    sites = site_table(targets, visits, day_start_utc("2026-10-01"), day_start_utc("2026-11-01"))
    assert sites["due"].all()  # last inspected 2026-09-01 every 30 days: all due in October
    draws = pd.DataFrame({"site_id": ["S0", "S3", "S9"], "met": [True, False, True]})  # S9: not a site
    stats = region_stats(grid, np.ones(len(grid)), np.zeros(len(grid), bool), sites, draws, by="county")
    stats = stats.set_index("county_code")
    assert stats["draw_targets"].to_dict() == {"650001": 1, "650002": 1, "650101": 0, TOTAL_CODE: 2}
    assert stats["draw_met"].to_dict() == {"650001": 1, "650002": 0, "650101": 0, TOTAL_CODE: 1}
    # A county holding no cell centre (a small district at a coarse resolution) still reports its sites.
    regions = grid.drop_duplicates("county_code")
    only_west = grid[grid["county_code"] == "650001"]
    sparse = region_stats(
        only_west, np.ones(len(only_west)), np.zeros(len(only_west), bool), sites, regions=regions
    )
    sparse = sparse.set_index("county_code")
    assert sparse.loc["650002", ["cells", "sites_due", "sites_due_inspected"]].tolist() == [0, 2, 0]
    assert sparse.loc["650002", "county_name"] == "乙县" and sparse.loc[TOTAL_CODE, "sites_due"] == 5
    assert stats.loc["650001", "site_coverage_pct"] == 100.0
    assert stats.loc["650002", "site_coverage_pct"] == 0.0
    assert np.isnan(stats.loc["650101", "site_coverage_pct"])  # nothing due there
    assert stats.loc[TOTAL_CODE, "site_coverage_pct"] == pytest.approx(60.0)


def test_coverage_debt_hand_computed():
    # Period October 2026 (local days); its end is 2026-11-01 00:00 +08:00.
    targets = _targets(
        [
            {"category": "key", "inspect_every_days": 30, "last_inspected": pd.Timestamp("2026-09-01")},
            {"category": "special", "inspect_every_days": 90, "last_inspected": pd.Timestamp("2026-09-15")},
            {"category": "ordinary", "inspect_every_days": 30, "last_inspected": pd.NaT},
            {"category": "key", "inspect_every_days": 30, "last_inspected": pd.Timestamp("2026-08-01")},
        ],
        [Point(85.1, 42.1)] * 4,
    ).assign(county_code="650001")
    visits = pd.DataFrame([_visit("S3", "2026-10-10")])
    sites = site_table(targets, visits, day_start_utc("2026-10-01"), day_start_utc("2026-11-01")).set_index(
        "site_id"
    )
    # S0: due 2026-10-01, not inspected -> 31 days overdue at 11-01.  S1: due 12-14 -> 0, not due.
    # S2: never inspected -> due from the period start -> 31.  S3: inspected 10-10 -> due 11-09 -> 0.
    assert sites["overdue_days"].to_dict() == {"S0": 31, "S1": 0, "S2": 31, "S3": 0}
    assert sites["due"].to_dict() == {"S0": True, "S1": False, "S2": True, "S3": True}
    assert sites["inspected"].to_dict() == {"S0": False, "S1": False, "S2": False, "S3": True}
    grid = grid_from_counties(COUNTIES.iloc[[0]], 5)
    row = region_stats(
        grid, np.ones(len(grid)), np.zeros(len(grid), bool), sites.reset_index(), by="county"
    ).iloc[0]
    assert (row["debt_days"], row["debt_days_key"], row["debt_days_special"], row["debt_days_ordinary"]) == (
        62,
        31,
        0,
        31,
    )
    assert row["sites_overdue"] == 2 and row["site_coverage_pct"] == pytest.approx(100 / 3)


def test_draw_targets_met_within_the_draw_period():
    draw = {"period": "2026Q4", "result": [{"site_id": "S1"}, {"site_id": "S2"}, {"site_id": "S3"}]}
    visits = pd.DataFrame(
        [
            _visit("S1", "2026-11-02"),
            _visit("S2", "2026-09-30"),
            _visit("S3", "2026-12-01", source="inferred"),
        ]
    )
    status = draw_status(draw, visits, (day_start_utc("2026-01-01"), day_start_utc("2027-01-01")))
    assert status.set_index("site_id")["met"].to_dict() == {"S1": True, "S2": False, "S3": False}
    with pytest.raises(ValueError, match="site_id"):
        draw_status(
            {"result": [{"name": "x"}]}, visits, (day_start_utc("2026-01-01"), day_start_utc("2027-01-01"))
        )


def test_blind_spots_merge_neighbours_and_rank_by_weight(grid):
    index = CellIndex(grid)
    a = h3i.latlng_to_cell(42.1, 85.1, RES)
    b = next(c for c in h3i.grid_ring(a, 1) if index.rows_of_cells(np.array([c]))[0] >= 0)
    far = h3i.latlng_to_cell(42.1, 85.5, RES)
    weight = np.zeros(len(grid))
    rows = index.rows_of_cells(np.array([a, b, far]))
    weight[rows] = [1.0, 2.0, 5.0]
    weights = pd.DataFrame({c: 0.0 for c in COMPONENTS}, index=grid.index).assign(
        w_source=weight, weight=weight
    )
    never = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns, UTC]")
    as_of = pd.Timestamp("2026-11-01T00:00Z")
    spots = blind_spots(grid, weights, never, as_of, days=90)
    assert spots["total_weight"].tolist() == [5.0, 3.0]
    assert spots["cells"].tolist() == [1, 2]
    assert set(spots.loc[1, "cells_h3"]) == {h3i.int_to_str(a), h3i.int_to_str(b)}
    assert spots.loc[1, "peak_h3"] == h3i.int_to_str(b)

    # Covering b 10 days ago leaves a alone; covering it 100 days ago does not.
    recent = never.copy()
    recent.iloc[rows[1]] = as_of - pd.Timedelta(days=10)
    assert blind_spots(grid, weights, recent, as_of, days=90)["total_weight"].tolist() == [5.0, 1.0]
    recent.iloc[rows[1]] = as_of - pd.Timedelta(days=100)
    assert blind_spots(grid, weights, recent, as_of, days=90)["total_weight"].tolist() == [5.0, 3.0]
    assert merge_neighbours(np.array([a, far, b])).tolist() in ([0, 1, 0], [1, 0, 1])


def test_a_vast_empty_reserve_does_not_outrank_an_unvisited_factory(grid):
    index = CellIndex(grid)
    factory, reserve = h3i.latlng_to_cell(42.1, 85.1, RES), h3i.latlng_to_cell(42.1, 85.5, RES)
    rows = index.rows_of_cells(np.array([factory, reserve]))
    weights = pd.DataFrame({c: 0.0 for c in COMPONENTS}, index=grid.index)
    weights.iloc[rows[0], weights.columns.get_loc("w_source")] = 9.0
    # Reserve and river weight grow with area: here far more than the factory's in total.
    weights.iloc[rows[1], weights.columns.get_loc("w_protected")] = 30.0
    weights.iloc[rows[1], weights.columns.get_loc("w_river")] = 10.0
    weights["weight"] = weights[list(COMPONENTS)].sum(axis=1)
    never = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns, UTC]")
    spots = blind_spots(grid, weights, never, pd.Timestamp("2026-11-01T00:00Z"))
    # Area-driven weight counts at most AREA_WEIGHT_CAP towards the rank: the factory comes first.
    assert spots["peak_h3"].tolist() == [h3i.int_to_str(factory), h3i.int_to_str(reserve)]
    assert spots["rank_weight"].tolist() == [9.0, AREA_WEIGHT_CAP]
    assert spots["total_weight"].tolist() == [9.0, 40.0]


def test_blind_spots_do_not_cross_county_lines_unless_asked(grid):
    index = CellIndex(grid)
    county = grid.set_index("cell")["county_code"]
    west = next(
        c
        for c in grid.loc[grid["county_code"] == "650001", "cell"]
        if any(county.get(n) == "650002" for n in h3i.grid_ring(int(c), 1))
    )
    east = next(n for n in h3i.grid_ring(int(west), 1) if county.get(n) == "650002")
    weight = np.zeros(len(grid))
    weight[index.rows_of_cells(np.array([west, east]))] = 1.0
    weights = pd.DataFrame({c: 0.0 for c in COMPONENTS}, index=grid.index).assign(
        w_river=weight, weight=weight
    )
    never = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns, UTC]")
    as_of = pd.Timestamp("2026-11-01T00:00Z")
    assert blind_spots(grid, weights, never, as_of)["cells"].tolist() == [1, 1]
    assert blind_spots(grid, weights, never, as_of, split_by=None)["cells"].tolist() == [2]


def test_blind_spot_reachability_by_distance_to_road(grid):
    index = CellIndex(grid)
    near, far = h3i.latlng_to_cell(42.1, 85.05, RES), h3i.latlng_to_cell(42.1, 85.55, RES)
    weight = np.zeros(len(grid))
    rows = index.rows_of_cells(np.array([near, far]))
    weight[rows] = [1.0, 1.0]
    weights = pd.DataFrame({c: 0.0 for c in COMPONENTS}, index=grid.index).assign(
        w_source=weight, weight=weight
    )
    never = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns, UTC]")
    # A north-south road 5 km east of the near cell's centre (in metres).
    x, y = grid.loc[rows[0], "x_m"], grid.loc[rows[0], "y_m"]
    road = np.array([LineString([(x + 5000, y - 50000), (x + 5000, y + 50000)])])
    spots = blind_spots(
        grid, weights, never, pd.Timestamp("2026-11-01T00:00Z"), 90, road, reachable_km=10
    ).set_index("peak_h3")
    assert spots.loc[h3i.int_to_str(near), "nearest_road_km"] == pytest.approx(5.0)
    assert spots.loc[h3i.int_to_str(near), "access"] == ACCESS_ROAD
    assert spots.loc[h3i.int_to_str(near), "in_reach_pct"] == 100.0
    far_km = shapely.distance(Point(grid.loc[rows[1], "x_m"], grid.loc[rows[1], "y_m"]), road[0]) / 1000
    assert far_km > 30 and spots.loc[h3i.int_to_str(far), "nearest_road_km"] == pytest.approx(far_km)
    assert (
        not spots.loc[h3i.int_to_str(far), "reachable"]
        and spots.loc[h3i.int_to_str(far), "access"] == ACCESS_REMOTE
    )
    assert spots.loc[h3i.int_to_str(far), "in_reach_pct"] == 0.0

    # A spot of the near cell and its western neighbour (about 7.5 km from the road), with the
    # limit between the two distances: reachable, but only half of its weight is within reach.
    west = h3i.latlng_to_cell(42.1, 85.02, RES)
    assert h3i.are_neighbor_cells(near, west)
    weight[index.rows_of_cells(np.array([west]))] = 1.0
    weights = weights.assign(w_source=weight, weight=weight)
    west_km = shapely.distance(Point(*grid.set_index("cell").loc[west, ["x_m", "y_m"]]), road[0]) / 1000
    limit = (5.0 + west_km) / 2
    spot = blind_spots(grid, weights, never, pd.Timestamp("2026-11-01T00:00Z"), 90, road, limit).iloc[0]
    assert spot["cells"] == 2 and spot["reachable"] and spot["in_reach_pct"] == 50.0
    assert spot["access"] == ACCESS_PARTLY


def _plan() -> dict:
    def stop(seq, kind, ident, lon, lat, arrive, depart):
        day = "2026-10-05T{}:00+08:00"
        return dict(
            seq=seq,
            type=kind,
            id=ident,
            lon=lon,
            lat=lat,
            arrive=day.format(arrive),
            depart=day.format(depart),
        )

    stops = [
        stop(0, "base", "B", 85.02, 42.02, "08:00", "08:00"),
        stop(1, "site", "S0", 85.1, 42.1, "09:00", "10:00"),
        stop(2, "site", "S1", 85.3, 42.1, "11:00", "12:00"),
        stop(3, "base", "B", 85.02, 42.02, "14:00", "14:00"),
    ]
    return {"teams": [{"team_id": "T1", "stops": stops}]}


def test_plan_expected_coverage_uses_stops_and_optional_legs(grid):
    plan = _plan()
    visits, tracks = plan_activities(plan)
    assert visits["site_id"].tolist() == ["S0", "S1"] and tracks is None
    only_stops = _covered_set(grid, covered_cells(grid, visits, tracks, CoverageRadii()))
    expected = set()
    for lon, lat in ((85.1, 42.1), (85.3, 42.1)):
        near = shapely.distance(_metric_centres(grid), _metric(Point(lon, lat))) <= 1000
        expected |= set(grid["cell"][near].tolist()) | {h3i.latlng_to_cell(lat, lon, RES)}
    assert only_stops == expected
    _, straight = plan_activities(plan, straight_legs=True)
    # One fix a minute (plus the stops): the 60-minute legs are not broken by the 15-minute gap rule.
    assert straight.groupby("track_id")["time"].diff().max() < pd.Timedelta(seconds=61)
    with_legs = _covered_set(grid, covered_cells(grid, visits, straight, CoverageRadii()))
    route = shapely.distance(
        _metric_centres(grid),
        _metric(LineString([(85.02, 42.02), (85.1, 42.1), (85.3, 42.1), (85.02, 42.02)])),
    )
    # Legs are straight in lon/lat, the corridor is measured in metres: allow 10 m at its edge.
    assert set(grid["cell"][route <= 990].tolist()) | only_stops <= with_legs
    assert with_legs <= set(grid["cell"][route <= 1010].tolist()) | only_stops
    assert len(with_legs - only_stops) > 5
    # The planner's own legs: for a great-circle plan those are the same straight lines.
    _, routed = plan_activities(with_route_legs({**plan, "travel_model": "great_circle"}))
    assert _covered_set(grid, covered_cells(grid, visits, routed, CoverageRadii())) == with_legs
    plan["teams"][0]["legs"] = [
        None,
        {"type": "LineString", "coordinates": [[85.02, 42.02], [85.06, 42.1], [85.1, 42.1]]},
    ]
    _, given = plan_activities(plan)
    # The given vertices are kept, in order, timed at constant speed from 08:00 to 09:00 local.
    vertex = [
        given.index[(given["lon"] == x) & (given["lat"] == y)][0]
        for x, y in ((85.02, 42.02), (85.06, 42.1), (85.1, 42.1))
    ]
    assert vertex == sorted(vertex)
    first_m, second_m = (
        Geod(ellps="WGS84").inv(*a, *b)[2]
        for a, b in (((85.02, 42.02), (85.06, 42.1)), ((85.06, 42.1), (85.1, 42.1)))
    )
    expected = pd.Timestamp("2026-10-05T00:00Z") + pd.Timedelta(hours=1) * first_m / (first_m + second_m)
    assert abs(given.loc[vertex[1], "time"] - expected) < pd.Timedelta(seconds=5)


def test_plan_vs_actual_marks_inspected_stops():
    visits = pd.DataFrame([_visit("S1", "2026-10-05"), _visit("S0", "2026-10-09")])
    result = plan_vs_actual(_plan(), visits).set_index("site_id")
    assert result["inspected"].to_dict() == {"S0": False, "S1": True}
    assert result.loc["S1", "same_team"] and result.loc["S1", "outcome"] == "compliant"


def test_cli_missing_database_is_a_clear_error(tmp_path, capsys):
    from coverage import blindspots, stats
    from coverage.__main__ import COMMANDS
    from layers.cli import dispatch

    missing = tmp_path / "none.sqlite"
    args = ["--since", "2026-10-01", "--until", "2026-10-31", "--db", str(missing)]
    assert stats.main(args) == 1
    assert f"no records database at {missing}" in capsys.readouterr().err
    assert not missing.exists()  # reading must not create an empty database
    assert blindspots.main(["--days", "90", "--db", str(missing)]) == 1
    assert "no records database" in capsys.readouterr().err
    assert stats.main(["--since", "2026-13-01", "--until", "2026-10-31", "--db", str(missing)]) == 1
    assert "--since: '2026-13-01' is not a day" in capsys.readouterr().err
    assert stats.main(["--since", "2026-10-31", "--until", "2026-10-01"]) == 1
    assert "before --since" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        stats.main(["--since", "2026-10-01", "--until", "2026-10-31", "--by", "village"])
    assert exit_info.value.code == 2
    assert dispatch("coverage", COMMANDS, []) == 2
    assert dispatch("coverage", COMMANDS, ["--help"]) == 0


def test_cli_report_and_blindspots_on_a_small_database(tmp_path, monkeypatch, capsys):
    from coverage import blindspots, plan_coverage, stats
    from records.store import open_store
    from records.visits import Visit

    monkeypatch.setenv("XUNHU_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "x.sqlite"
    with open_store(db) as store:
        start = pd.Timestamp("2026-10-05T03:00Z").to_pydatetime()
        store.record_visit(
            Visit(
                site_id="PS-00001",
                team_id="T1",
                started_at=start,
                ended_at=start,
                outcome="compliant",
                lon=87.618,
                lat=43.785,
            )
        )
    out = tmp_path / "report.json"
    common = ["--resolution", "5", "--db", str(db)]
    period = ["--since", "2026-10-01", "--until", "2026-10-31"]
    draw = tmp_path / "draw.json"
    draw.write_text(json.dumps({"period": "2026Q4", "result": [{"site_id": "PS-00001"}]}), encoding="utf-8")
    by_prefecture = ["--by", "prefecture", "--format", "json", "--draw", str(draw)]
    code = stats.main([*period, *by_prefecture, *common, "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    total = report["rows"][-1]
    assert total["prefecture_code"] == TOTAL_CODE and total["sites_inspected"] >= 1
    urumqi = next(r for r in report["rows"] if r["prefecture_code"] == "650100")
    assert urumqi["weight_covered"] > 0 and 0 < urumqi["weighted_coverage_pct"] < 100
    assert (urumqi["draw_targets"], urumqi["draw_met"]) == (1, 1)
    # Printed values are rounded to 0.01, so the rows add up to the total within that.
    assert sum(r["weight"] for r in report["rows"][:-1]) == pytest.approx(total["weight"], abs=0.01 * 25)
    code = blindspots.main(["--days", "90", "--top", "3", "--as-of", "2026-10-31", *common])
    assert code == 0
    notes, body = split_export(capsys.readouterr().out)
    lines = body.strip().splitlines()
    assert lines[0].startswith("rank,total_weight") and len(lines) == 4
    assert "OpenStreetMap" in notes[0]

    plan = _plan()
    plan["teams"][0]["stops"][1].update(id="PS-00001", lon=87.618, lat=43.785)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    code = plan_coverage.main([str(plan_file), "--actual", "--format", "json", *common, "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["planned_site_stops"] == 2
    assert {s["site_id"]: s["inspected"] for s in result["stops"]} == {"PS-00001": True, "S1": False}
    urumqi = next(r for r in result["rows"] if r["prefecture_code"] == "650100")
    assert urumqi["weight_covered_expected"] > 0 and urumqi["weight_covered_actual"] > 0
    assert plan_coverage.main([str(tmp_path / "nope.json")]) == 1
    assert "cannot read plan JSON" in capsys.readouterr().err


def test_config_file_overrides_weights_and_radii_and_names_bad_keys(tmp_path):
    from coverage.inputs import InputError, read_config

    good = tmp_path / "coverage.yaml"
    good.write_text("weights:\n  river_per_km: 0.5\nradii:\n  vehicle_km: 2\n", encoding="utf-8")
    weights, radii = read_config(str(good))
    assert weights.river_per_km == 0.5 and weights.water_zone_per_km2 == CoverageWeights().water_zone_per_km2
    assert radii.half_width_m("vehicle") == 2000.0 and radii.visit_km == CoverageRadii().visit_km
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights:\n  rivers: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.yaml: unknown CoverageWeights setting\(s\) \['rivers'\]"):
        read_config(str(bad))
    bad.write_text("radii:\n  foot_km: -1\n", encoding="utf-8")
    with pytest.raises(InputError, match="foot_km must be positive"):
        read_config(str(bad))
