"""Travel matrices (planning.travel), their disk cache and the ``planning matrix`` CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from layers.datasets import load_context
from planning import matrix_cli, travel
from planning.roads import load_road_network
from planning.travel import (
    CIRCUITY_FACTOR,
    GREAT_CIRCLE_SPEED_KMH,
    RoadLegs,
    TravelMatrix,
    travel_matrix,
)
from planning.travel_cache import cache_dir

GEOD = Geod(ellps="WGS84")

#: Published road distances (km) between cities (GeoNames names in data/geo/places.geojson):
#: the usual figures of Chinese route planners and road atlases for the main highway.
#: Urumqi-Korla (about 470 km via Toksun) is left out on purpose: the graph takes the G216
#: mountain road over the Tianshan (290 km), see data/SOURCES.md and the report.
PUBLISHED_ROAD_KM = [
    ("Ürümqi", "Turpan", 185),
    ("Ürümqi", "Hami", 600),
    ("Turpan", "Hami", 400),
    ("Ürümqi", "Shihezi", 150),
    ("Ürümqi", "Karamay", 310),
    ("Aqsu", "Kashgar", 460),
    ("Kashgar", "Gujangbagh", 500),
    ("Korla", "Aqsu", 500),
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XUNHU_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def network():
    return load_road_network()


@pytest.fixture(scope="module")
def cities() -> pd.DataFrame:
    places = load_context("places")
    names = sorted({name for pair in PUBLISHED_ROAD_KM for name in pair[:2]})
    chosen = places[places["name"].isin(names)]
    assert sorted(chosen["name"]) == names
    return pd.DataFrame({"id": chosen["name"], "lon": chosen.geometry.x, "lat": chosen.geometry.y})


@pytest.fixture(scope="module")
def sample(network) -> pd.DataFrame:
    """40 points: 30 near roads (within a few km of random road nodes) and 10 anywhere."""
    rng = np.random.default_rng(7)
    nodes = network.node_lonlat[rng.choice(np.flatnonzero(network.node_component == 0), 30)]
    near = nodes + rng.normal(0, 0.03, nodes.shape)
    anywhere = np.column_stack([rng.uniform(75, 95, 10), rng.uniform(36, 48, 10)])
    coords = np.vstack([near, anywhere])
    return pd.DataFrame(
        {"id": [f"p{i}" for i in range(len(coords))], "lon": coords[:, 0], "lat": coords[:, 1]}
    )


@pytest.fixture(scope="module")
def sample_matrix(sample, network) -> TravelMatrix:
    return travel_matrix(sample, network, use_cache=False)


def geodesic_km(frame: pd.DataFrame) -> np.ndarray:
    lon, lat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    i, j = np.meshgrid(np.arange(len(frame)), np.arange(len(frame)), indexing="ij")
    return np.asarray(GEOD.inv(lon[i], lat[i], lon[j], lat[j])[2]) / 1000


def test_city_road_distances_within_20_percent_of_published(cities, network):
    matrix = travel_matrix(cities, network, use_cache=False)
    assert matrix.model == "road_network"
    index = {name: k for k, name in enumerate(matrix.ids)}
    for a, b, published in PUBLISHED_ROAD_KM:
        km = matrix.km[index[a], index[b]]
        assert abs(km - published) <= 0.2 * published, f"{a}-{b}: {km:.0f} km vs published {published}"
    # driving times are plausible too: Urumqi-Turpan is 2-3 h, Kashgar-Urumqi 14-18 h
    assert 120 <= matrix.minutes[index["Ürümqi"], index["Turpan"]] <= 180


def test_no_leg_shorter_than_the_straight_line(sample, sample_matrix):
    straight = geodesic_km(sample)
    finite = np.isfinite(sample_matrix.km)
    assert finite.sum() > 0.5 * finite.size
    assert np.all(sample_matrix.km[finite] >= straight[finite] * (1 - 1e-9))


def test_symmetric_and_triangle_inequality(sample_matrix):
    for values in (sample_matrix.km, sample_matrix.minutes):
        assert np.array_equal(values, values.T)
        assert np.all(np.diag(values) == 0)
    minutes = sample_matrix.minutes
    ok = np.isfinite(minutes).all(axis=1)
    m = minutes[np.ix_(ok, ok)]
    via = m[:, :, None] + m[None, :, :]  # via[i, j, k] = i -> j -> k
    assert np.all(m[:, None, :] <= via + 1e-6)


def test_a_pair_does_not_depend_on_the_other_points(sample, sample_matrix, network):
    # the plan checker recomputes legs on a few points and must get the planner's numbers
    subset = [0, 3, 17, 31, 39]
    small = travel_matrix(sample.iloc[subset], network, use_cache=False)
    assert small.km == pytest.approx(sample_matrix.km[np.ix_(subset, subset)], rel=1e-6)
    assert small.minutes == pytest.approx(sample_matrix.minutes[np.ix_(subset, subset)], rel=1e-6)


def test_chunked_routing_gives_the_same_matrix(sample, sample_matrix, network, monkeypatch):
    monkeypatch.setattr(travel, "SOURCE_CHUNK", 7)
    chunked = travel_matrix(sample, network, use_cache=False)
    assert np.array_equal(chunked.km, sample_matrix.km)
    assert np.array_equal(chunked.minutes, sample_matrix.minutes)


def test_leg_geometry_follows_the_roads(sample, sample_matrix):
    ok = np.flatnonzero(sample_matrix.reachable)
    i, j = int(ok[0]), int(ok[-1])
    leg = sample_matrix.leg_lonlat(i, j)
    assert leg[0] == pytest.approx(tuple(sample.loc[i, ["lon", "lat"]]))
    assert leg[-1] == pytest.approx(tuple(sample.loc[j, ["lon", "lat"]]))
    assert len(leg) > 3  # along road edges, not one straight segment
    lon, lat = np.array(leg).T
    drawn_km = GEOD.line_length(lon, lat) / 1000
    straight_km = GEOD.inv(lon[0], lat[0], lon[-1], lat[-1])[2] / 1000
    # the drawing is the chord geometry of the road: longer than the straight line, not longer than km
    assert straight_km <= drawn_km <= sample_matrix.km[i, j] * 1.005
    assert sample_matrix.leg_lonlat(j, i) == leg[::-1]


def test_points_on_one_edge_reach_each_other_along_it(network):
    edge = int(np.flatnonzero((network.edge_component == 0) & (network.edge_km > 50))[0])
    a, b = network.node_lonlat[network.edge_nodes[edge]]
    (p, q) = GEOD.npts(a[0], a[1], b[0], b[1], 2)  # at 1/3 and 2/3 of the edge
    points = pd.DataFrame({"id": ["p", "q"], "lon": [p[0], q[0]], "lat": [p[1], q[1]]})
    matrix = travel_matrix(points, network, use_cache=False)
    assert matrix.km[0, 1] == pytest.approx(network.edge_km[edge] / 3, rel=0.02)


def test_fragment_and_long_access_sites_are_reported(network):
    urumqi_fragment = network.components().query("lon_min > 87 and lon_max < 88 and component > 0")
    frag_lon, frag_lat = network.node_lonlat[network.node_component == urumqi_fragment["component"].iloc[0]][
        0
    ]
    points = pd.DataFrame(
        {
            "id": ["town", "fragment", "lop_nur", "taklamakan"],
            "lon": [87.60, frag_lon, 90.3, 83.0],
            "lat": [43.80, frag_lat, 40.5, 39.0],
        }
    )
    matrix = travel_matrix(points, network, use_cache=False, max_access_km=40.0)
    report = matrix.report().set_index("id")
    assert "town" not in report.index
    assert report.loc["fragment", "on_fragment"] and report.loc["fragment", "reachable"]
    assert np.isfinite(matrix.km[0, 1])  # routed via the main network, not through the fragment
    assert report.loc["lop_nur", "long_access"] and report.loc["lop_nur", "reachable"]
    assert 20 < matrix.access_km[2] <= 40
    assert not report.loc["taklamakan", "reachable"]
    assert np.isinf(matrix.km[3, :3]).all() and np.isinf(matrix.minutes[:3, 3]).all()
    assert matrix.leg_lonlat(0, 3) == []


def test_great_circle_fallback_is_labelled(sample):
    matrix = travel_matrix(sample, None)
    assert matrix.model == "great_circle"
    expected_km = geodesic_km(sample) * CIRCUITY_FACTOR
    assert matrix.km == pytest.approx(expected_km)
    assert matrix.minutes == pytest.approx(expected_km / GREAT_CIRCLE_SPEED_KMH * 60)
    assert matrix.leg_lonlat(0, 1) == [
        tuple(sample.loc[0, ["lon", "lat"]]),
        tuple(sample.loc[1, ["lon", "lat"]]),
    ]
    assert matrix.reachable.all() and (matrix.access_km == 0).all()


def test_cache_hit_is_identical_and_corrupt_files_are_recomputed(cities, network, monkeypatch):
    first = travel_matrix(cities, network)
    files = list(cache_dir().glob("travel-*.npz"))
    assert len(files) == 1

    def no_routing(self):
        raise AssertionError("a cache hit must not route again")

    with monkeypatch.context() as patch:
        patch.setattr(RoadLegs, "matrices", no_routing)
        hit = travel_matrix(cities, network)
    assert hit.ids == first.ids and hit.model == first.model
    for name in ("km", "minutes", "access_km", "reachable", "nearest_component"):
        assert np.array_equal(getattr(hit, name), getattr(first, name))
    assert hit.leg_lonlat(0, 1) == first.leg_lonlat(0, 1)

    for garbage in (b"not a zip file", files[0].read_bytes()[:200]):
        files[0].write_bytes(garbage)
        again = travel_matrix(cities, network)
        assert np.array_equal(again.km, first.km)
        assert np.load(files[0])["km"].shape == first.km.shape  # rewritten, readable

    moved = cities.assign(lon=cities["lon"] + 0.01)
    travel_matrix(moved, network)
    assert len(list(cache_dir().glob("travel-*.npz"))) == 2

    blocked = cache_dir() / "not-a-directory"
    blocked.write_text("a file where the cache directory should be", encoding="utf-8")
    monkeypatch.setenv("XUNHU_CACHE_DIR", str(blocked))
    assert np.array_equal(travel_matrix(cities, network).km, first.km)  # unwritable cache: still works


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": ["a"], "lon": [80.0]}), "missing column"),
        (pd.DataFrame({"id": ["a", "a"], "lon": [80.0, 81.0], "lat": [40.0, 41.0]}), "row 2: field 'id'"),
        (pd.DataFrame({"id": ["a", "b"], "lon": [80.0, 181.0], "lat": [40.0, 41.0]}), "row 2: field 'lon'"),
        (
            pd.DataFrame({"id": ["a", ""], "lon": [80.0, 81.0], "lat": [40.0, 41.0]}),
            "row 2: field 'id' is empty",
        ),
    ],
)
def test_bad_points_name_row_and_field(frame, message):
    with pytest.raises(ValueError, match=message):
        travel.validate_points(frame)


def test_cli_round_trip(tmp_path, cities, capsys):
    points = tmp_path / "points.csv"
    cities.to_csv(points, index=False)
    out = tmp_path / "m.csv"
    assert matrix_cli.main(["--points", str(points), "--out", str(out), "--no-closures"]) == 0
    pairs = pd.read_csv(out)
    n = len(cities)
    assert list(pairs.columns) == ["from", "to", "km", "minutes", "model"]
    assert len(pairs) == n * (n - 1) and set(pairs["model"]) == {"road_network"}
    expected = travel_matrix(cities)
    index = {name: k for k, name in enumerate(expected.ids)}
    for row in pairs.itertuples():
        assert row.km == pytest.approx(expected.km[index[row[1]], index[row.to]], abs=1e-3)
    assert matrix_cli.main(["--points", str(points), "--out", str(out), "--no-roads"]) == 0
    assert set(pd.read_csv(out)["model"]) == {"great_circle"}
    assert "model great_circle" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,lon,lat\na,87.6,43.8\nb,east,43.0\n", "row 2: field 'lon'"),
        ("id,longitude,lat\na,87.6,43.8\n", "missing column(s) lon"),
        ("", "not a readable CSV"),
        ("id,lon,lat\n", "no points"),
    ],
)
def test_cli_bad_csv_is_a_clear_error(tmp_path, capsys, content, message):
    points = tmp_path / "bad.csv"
    points.write_text(content, encoding="utf-8")
    assert matrix_cli.main(["--points", str(points), "--out", str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(points) in err and "Traceback" not in err
    assert not (tmp_path / "m.csv").exists()


def test_cli_bad_road_file(tmp_path, cities, capsys):
    points = tmp_path / "points.csv"
    cities.to_csv(points, index=False)
    roads = tmp_path / "roads.geojson"
    roads.write_text("not geojson", encoding="utf-8")
    args = ["--points", str(points), "--out", str(tmp_path / "m.csv"), "--roads", str(roads)]
    assert matrix_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: road file") and str(roads) in err
