"""Road closures: periods, validation, edge matching and their effect on routes (planning.closures)."""

from __future__ import annotations

import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon

from layers.schema import WGS84
from planning import matrix_cli
from planning.closures import (
    Closure,
    closed_edge_mask,
    closures_from_frame,
    in_force,
    load_closures,
    network_with_closures,
    parse_period,
)
from planning.roads import build_road_network, load_road_network
from planning.travel import travel_matrix

D = datetime.date
POINTS = pd.DataFrame(
    {
        "id": ["Urumqi", "Korla", "Kuitun", "Nilka"],
        "lon": [87.600, 86.152, 84.901, 82.496],
        "lat": [43.801, 41.761, 44.424, 43.789],
    }
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XUNHU_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def network():
    return load_road_network()


def closure(period: str, geometry=None, cid: str = "c") -> Closure:
    return Closure(
        cid, "test", "winter", geometry or LineString([(80, 40), (81, 40)]), period, "test", "high"
    )


def frame(**overrides) -> gpd.GeoDataFrame:
    row = {
        "id": "a",
        "name": "A road",
        "reason": "winter",
        "period": "10-01..05-31",
        "source": "test",
        "confidence": "approximate",
    }
    rows = [row, {**row, "id": "b"}]
    for key, value in overrides.items():
        rows[1][key] = value
    geometry = overrides.pop("geometry", None) or LineString([(80, 40), (81, 40)])
    return gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "geometry"} for r in rows],
        geometry=[LineString([(80, 41), (81, 41)]), geometry],
        crs=WGS84,
    )


def test_periods_parse_and_apply_on_boundary_days():
    assert parse_period(" 10-01..05-31 ", "x") == "10-01..05-31"
    assert parse_period("2026-12-07", "x") == "2026-12-07"
    winter = closure("10-01..05-31")
    assert (
        winter.in_force(D(2026, 10, 1)) and winter.in_force(D(2027, 5, 31)) and winter.in_force(D(2026, 1, 1))
    )
    assert not winter.in_force(D(2026, 9, 30)) and not winter.in_force(D(2026, 6, 1))
    summer = closure("06-01..06-30")
    assert summer.in_force(D(2026, 6, 30)) and not summer.in_force(D(2026, 7, 1))
    storm = closure("2026-12-07..2026-12-09")
    assert storm.in_force(D(2026, 12, 7)) and storm.in_force(D(2026, 12, 9))
    assert not storm.in_force(D(2026, 12, 10)) and not storm.in_force(D(2027, 12, 8))
    assert closure("2026-12-07").in_force(D(2026, 12, 7)) and not closure("2026-12-07").in_force(
        D(2026, 12, 8)
    )
    assert [c.period for c in in_force([winter, summer, storm], D(2026, 12, 8))] == [
        winter.period,
        storm.period,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10-01", "must be MM-DD"),
        ("13-01..05-31", "no day '13-01'"),
        ("02-30..03-01", "no day '02-30'"),
        ("2026-12-09..2026-12-07", "ends before it starts"),
        ("2026-02-30", "must be"),
        ("winter", "must be"),
    ],
)
def test_bad_periods_are_named(text, message):
    with pytest.raises(ValueError, match=f"where: period .*{message}"):
        parse_period(text, "where")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"period": "autumn"}, "row 2: field 'period'"),
        ({"name": "  "}, "row 2: field 'name' is empty"),
        ({"confidence": "sure"}, "row 2: field 'confidence' must be one of"),
        ({"id": "a"}, "row 2: field 'id' 'a' is a duplicate"),
        (
            {"geometry": LineString([(60, 40), (61, 40)])},
            "row 2: field 'geometry' lies outside the Xinjiang box",
        ),
    ],
)
def test_frame_errors_name_source_row_and_field(overrides, message):
    with pytest.raises(ValueError, match=f"^layer.geojson {message}"):
        closures_from_frame(frame(**overrides), "layer.geojson")


def test_frame_geometry_columns_and_crs():
    points = frame()
    points.geometry = gpd.points_from_xy([80, 81], [40, 41])
    with pytest.raises(ValueError, match="row 1: field 'geometry' must be a"):
        closures_from_frame(points, "f")
    with pytest.raises(ValueError, match="f: missing column.*confidence"):
        closures_from_frame(frame().drop(columns="confidence"), "f")
    metric = frame().to_crs("EPSG:3857")
    assert closures_from_frame(metric, "f")[1].geometry.bounds == pytest.approx((80, 40, 81, 40))


def test_line_closes_its_road_and_not_a_crossing_one_area_closes_what_it_touches():
    # an east-west road in two pieces, and a north-south road crossing it at 80.5 (own vertices)
    roads = gpd.GeoDataFrame(
        geometry=[
            LineString([(80.0, 40.0), (80.5, 40.0)]),
            LineString([(80.5, 40.0), (81.0, 40.0)]),
            LineString([(80.5, 39.7), (80.5, 40.0), (80.5, 40.3)]),
        ],
        crs=WGS84,
    )
    net = build_road_network(roads, elevation=None)
    east_west = net.edge_lines[np.argsort([line.centroid.x for line in net.edge_lines])]
    # a closure line slightly off the road (500 m north), over the first piece only
    line = closure("10-01..05-31", LineString([(80.0, 40.0045), (80.5, 40.0045)]))
    mask = closed_edge_mask(net, [line])
    assert mask.sum() == 1
    closed = net.edge_lines[mask][0]
    assert closed.bounds[2] - closed.bounds[0] > 40_000  # the 42 km east-west piece
    assert len(east_west) == 4
    # an area around the crossing closes all four edges that touch it
    area = closure("10-01..05-31", Polygon([(80.45, 39.95), (80.55, 39.95), (80.55, 40.05), (80.45, 40.05)]))
    assert closed_edge_mask(net, [area]).sum() == 4
    cut = network_with_closures(net, [line])
    assert cut.content_hash != net.content_hash and len(cut.edge_km) == 3
    assert network_with_closures(net, [line]) is cut  # cached
    assert network_with_closures(net, []) is net
    far = closure("10-01..05-31", LineString([(85.0, 45.0), (85.5, 45.0)]))
    assert network_with_closures(net, [far]) is net


def test_shipped_layer_closes_exactly_the_mapped_sections(network):
    closures = load_closures()
    ids = {c.id for c in closures}
    assert {"G217-duku-north", "G217-duku-south", "G216-shengli-daban", "G314-khunjerab"} <= ids
    assert all(c.confidence in ("medium", "approximate") for c in closures)
    mask = closed_edge_mask(network, closures)
    # six sections of 43-189 km plus two sub-km stubs at their ends (data/SOURCES.md)
    assert mask.sum() == 9
    assert network.edge_km[mask].sum() == pytest.approx(665, abs=10)
    assert not in_force(closures, D(2026, 7, 1))
    assert len(in_force(closures, D(2026, 12, 7))) == len(closures)


def test_winter_routes_avoid_the_closed_passes(network):
    summer = travel_matrix(POINTS, network_with_closures(network, in_force(load_closures(), D(2026, 7, 1))))
    winter = travel_matrix(POINTS, network_with_closures(network, in_force(load_closures(), D(2026, 12, 7))))
    # Urumqi-Korla: G216 over the Tianshan in July, via Toksun (about 470 km) in December
    assert summer.km[0, 1] < 330 and winter.km[0, 1] >= 420
    assert winter.minutes[0, 1] > summer.minutes[0, 1]
    # Kuitun-Nilka: the Duku highway and the Qiaoerma link in July, round by Jinghe in winter
    assert winter.km[2, 3] > summer.km[2, 3] + 100 and winter.minutes[2, 3] > summer.minutes[2, 3]
    for matrix in (summer, winter):
        assert np.array_equal(matrix.km, matrix.km.T) and np.array_equal(matrix.minutes, matrix.minutes.T)
    closed = network.edge_lines[closed_edge_mask(network, load_closures())]
    july_leg = LineString(summer.leg_lonlat(2, 3))
    december_leg = LineString(winter.leg_lonlat(2, 3))
    to_lonlat = gpd.GeoSeries(
        closed, crs="+proj=aea +lat_0=0 +lon_0=85 +lat_1=37 +lat_2=47 +ellps=WGS84 +units=m"
    )
    duku = to_lonlat.to_crs(WGS84)
    # the July leg runs along a closed section; the December one stays well away from all of them
    assert min(july_leg.distance(line.centroid) for line in duku) < 0.01
    assert all(december_leg.distance(line.centroid) > 0.05 for line in duku)


def test_cli_applies_the_closures_of_the_date(tmp_path, capsys):
    points = tmp_path / "points.csv"
    POINTS.iloc[:2].to_csv(points, index=False)
    out = tmp_path / "m.csv"
    assert matrix_cli.main(["--points", str(points), "--out", str(out), "--date", "2026-12-07"]) == 0
    err = capsys.readouterr().err
    assert "road closures in force on 2026-12-07: 6" in err and "closed G216-shengli-daban" in err
    assert pd.read_csv(out)["km"].min() >= 420
    assert (
        matrix_cli.main(["--points", str(points), "--out", str(out), "--date", "2026-12-07", "--no-closures"])
        == 0
    )
    assert "road closures" not in capsys.readouterr().err.replace(
        "road closures in force on 2026-12-07: 0", ""
    )
    assert pd.read_csv(out)["km"].max() < 330
    storm = tmp_path / "storm.geojson"
    extra = frame().iloc[:1].assign(id="sandstorm", period="2026-12-07")
    extra.to_file(storm)
    assert (
        matrix_cli.main(
            ["--points", str(points), "--out", str(out), "--date", "2026-12-07", "--closures", str(storm)]
        )
        == 0
    )
    assert "closed sandstorm" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-12-32"], "--date: '2026-12-32' is not a date"),
        (["--closures", "BAD"], "field 'period'"),
        (["--closures", "/nonexistent.geojson"], "file not found"),
    ],
)
def test_cli_bad_date_or_closure_file_exits_2(tmp_path, capsys, args, message):
    points = tmp_path / "points.csv"
    POINTS.iloc[:2].to_csv(points, index=False)
    if "BAD" in args:
        bad = tmp_path / "bad.geojson"
        frame(period="soon").to_file(bad)
        args = ["--closures", str(bad)]
        message = f"{bad} row 2: field 'period'"
    code = matrix_cli.main(["--points", str(points), "--out", str(tmp_path / "m.csv"), *args])
    assert code == 2
    assert message in capsys.readouterr().err
