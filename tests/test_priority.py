"""Priority score: parts sum to the total, monotonic in every input, zones matter, documented examples hold."""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from layers.datasets import load_targets
from layers.priority import FACTORS, PriorityParams, add_priority, priority_breakdown, zone_distances
from layers.schema import TARGET_DTYPES, WGS84, XINJIANG_METRIC_CRS

AS_OF = date(2026, 11, 23)
#: A metric origin in the Tarim basin; test geometry is laid out in metres from here.
ORIGIN_XY = (0.0, 4_500_000.0)


def _metric_point(dx_m: float, dy_m: float = 0.0) -> Point:
    return Point(ORIGIN_XY[0] + dx_m, ORIGIN_XY[1] + dy_m)


def _targets(rows: list[dict], metric_geoms: list) -> gpd.GeoDataFrame:
    """Targets in the schema from partial rows (defaults fill the rest), geometry given in metres."""
    base = {
        "name": "test",
        "layer": "pollution_source",
        "kind": "key_discharge_unit",
        "category": "ordinary",
        "status": "operating",
        "risk_level": 3,
        "last_inspected": pd.Timestamp(AS_OF - timedelta(days=30)),
        "inspect_every_days": 90,
        "violations_3y": 0,
        "complaints_1y": 0,
    }
    frame = pd.DataFrame([{**base, "site_id": f"T-{i:03d}", **row} for i, row in enumerate(rows)])
    for column in ("risk_level", "inspect_every_days", "violations_3y", "complaints_1y"):
        frame[column] = frame[column].astype(TARGET_DTYPES[column])
    frame["last_inspected"] = pd.to_datetime(frame["last_inspected"]).astype("datetime64[s]")
    geometry = gpd.GeoSeries(metric_geoms, crs=XINJIANG_METRIC_CRS).to_crs(WGS84)
    return gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=WGS84)


def _zone(radius_m: float = 1_000.0) -> gpd.GeoDataFrame:
    """One water-source zone: a disc of ``radius_m`` around the metric origin."""
    zone = {"site_id": "WS-ZONE", "layer": "water_source", "kind": "drinking_water_zone"}
    return _targets([zone], [_metric_point(0).buffer(radius_m)])


def test_parts_sum_to_total_and_stay_in_0_100_on_the_registry():
    targets = load_targets()
    parts = priority_breakdown(targets, AS_OF)
    assert list(parts.columns) == [*FACTORS, "priority"]
    assert parts.index.equals(targets.index)
    np.testing.assert_allclose(parts[list(FACTORS)].sum(axis=1), parts["priority"])
    assert parts["priority"].between(0, 100).all()
    # Zones are inside themselves; some sources are near zones and many are not.
    zone_rows = targets["layer"].isin(["water_source", "protected_area"])
    assert (parts.loc[zone_rows, "sensitivity"] == 20).all()
    assert 0 < (parts.loc[~zone_rows, "sensitivity"] > 0).mean() < 1


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("risk_level", [1, 2, 3, 4, 5]),
        ("complaints_1y", [0, 1, 3, 6, 7, 40]),
        ("violations_3y", [0, 1, 2, 4, 9]),
    ],
)
def test_priority_never_decreases_when_a_count_grows(column, values):
    far = [_metric_point(100_000 + i) for i in range(len(values))]
    parts = priority_breakdown(_targets([{column: v} for v in values], far), AS_OF, zones=_zone())
    assert parts["priority"].is_monotonic_increasing
    assert parts["priority"].iloc[-1] > parts["priority"].iloc[0]
    # Everything except the varied factor is identical.
    factor = {"risk_level": "risk", "complaints_1y": "complaints", "violations_3y": "violations"}[column]
    others = [f for f in FACTORS if f != factor]
    assert (parts[others].nunique() == 1).all()


def test_overdue_grows_with_days_since_inspection_and_never_inspected_is_maximal():
    days = [0, 10, 45, 90, 150, 180, 400]
    rows = [{"last_inspected": pd.Timestamp(AS_OF - timedelta(days=d))} for d in days] + [
        {"last_inspected": None}
    ]
    parts = priority_breakdown(_targets(rows, [_metric_point(100_000)] * len(rows)), AS_OF, zones=_zone())
    assert parts["overdue"].is_monotonic_increasing
    assert parts["overdue"].iloc[3] == pytest.approx(12.5)  # exactly one interval: half the points
    assert parts["overdue"].iloc[5] == pytest.approx(25.0)  # two intervals: the cap
    assert parts["overdue"].iloc[-1] == parts["overdue"].max() == pytest.approx(25.0)


def test_longer_interval_means_less_overdue():
    rows = [{"inspect_every_days": every} for every in (30, 90, 365)]
    parts = priority_breakdown(_targets(rows, [_metric_point(100_000)] * 3), AS_OF, zones=_zone())
    assert parts["overdue"].is_monotonic_decreasing
    assert parts["overdue"].iloc[0] > parts["overdue"].iloc[-1]


def test_inside_a_zone_beats_near_beats_far():
    # Zone radius 1 km: the first point is inside, then 1, 2.5, 4 and 50 km from the edge.
    offsets_m = [0, 2_000, 3_500, 5_000, 51_000]
    parts = priority_breakdown(
        _targets([{}] * 5, [_metric_point(d) for d in offsets_m]), AS_OF, zones=_zone()
    )
    np.testing.assert_allclose(parts["sensitivity"], [20, 16, 10, 4, 0], atol=0.05)
    assert parts["priority"].is_monotonic_decreasing
    assert parts["priority"].iloc[0] > parts["priority"].iloc[-1]


def test_default_zones_come_from_the_targets_themselves():
    sources = _targets([{}, {}], [_metric_point(1_500), _metric_point(80_000)])
    both = pd.concat([sources, _zone()], ignore_index=True)
    parts = priority_breakdown(both, AS_OF)
    assert parts["sensitivity"].tolist() == pytest.approx([18.0, 0.0, 20.0], abs=0.05)
    nearest = zone_distances(both, both[both["layer"] == "water_source"], 5.0)
    assert nearest["nearest_zone"].iloc[0] == "WS-ZONE"
    assert np.isnan(nearest["zone_distance_km"].iloc[1])


def test_worked_examples_of_the_documentation():
    rows = [
        {"risk_level": 5, "last_inspected": None, "complaints_1y": 3, "violations_3y": 1},
        {
            "risk_level": 2,
            "last_inspected": pd.Timestamp(AS_OF - timedelta(days=180)),
            "inspect_every_days": 365,
        },
    ]
    parts = priority_breakdown(
        _targets(rows, [_metric_point(2_000), _metric_point(90_000)]), AS_OF, zones=_zone()
    )
    assert parts["priority"].round(1).tolist() == [81.0, 13.7]


def test_params_change_the_weights_and_add_priority_keeps_the_rows():
    targets = _targets([{"complaints_1y": 3}], [_metric_point(100_000)])
    default = priority_breakdown(targets, AS_OF, zones=_zone())
    doubled = priority_breakdown(targets, AS_OF, zones=_zone(), params=PriorityParams(complaints_weight=30))
    assert doubled["complaints"].iloc[0] == pytest.approx(2 * default["complaints"].iloc[0])
    scored = add_priority(targets, AS_OF, zones=_zone())
    assert scored["priority"].iloc[0] == pytest.approx(default["priority"].iloc[0])
    assert {f"priority_{f}" for f in FACTORS} <= set(scored.columns)
    with pytest.raises(ValueError, match="overdue_cap"):
        PriorityParams(overdue_cap=0)
