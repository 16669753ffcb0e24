"""The road graph: nodes, edge lengths, speeds, components and snapping (planning.roads)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from pyproj import Geod
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from layers.schema import WGS84
from planning.roads import SpeedModel, build_road_network, load_road_network

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def network():
    return load_road_network()


def lines(*coords, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[LineString(c) for c in coords], crs=WGS84)


def test_shipped_network_matches_the_documented_graph(network):
    # data/SOURCES.md: 3,048 nodes, 4,496 edges, 8 components, the largest with 2,910 nodes.
    assert network.n_nodes == 3048
    assert len(network.edge_km) == 4496
    components = network.components()
    assert len(components) == 8
    assert components.loc[0, "nodes"] == 2910
    assert components["nodes"].is_monotonic_decreasing
    assert network.graph.number_of_nodes() == 3048
    assert nx.number_connected_components(network.graph) == 8


def test_edge_length_is_never_shorter_than_its_chord(network):
    a, b = network.node_lonlat[network.edge_nodes[:, 0]], network.node_lonlat[network.edge_nodes[:, 1]]
    _, _, metres = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert np.all(network.edge_km >= np.asarray(metres) / 1000 - 1e-9)
    # and it keeps the source weight where that is longer (the long winding edges)
    shipped = gpd.read_file(network.source)
    assert network.edge_km.sum() == pytest.approx(
        np.fmax(shipped["length_km"], shipped["chord_km"]).sum(), rel=0.01
    )


def test_networkx_view_agrees_with_the_sparse_graph(network):
    rng = np.random.default_rng(3)
    main = np.flatnonzero(network.node_component == 0)
    sources, targets = rng.choice(main, 3), rng.choice(main, 3)
    dist = dijkstra(network.csr_minutes, indices=sources)
    for row, (s, t) in enumerate(zip(sources, targets, strict=True)):
        expected = nx.shortest_path_length(network.graph, int(s), int(t), weight="minutes")
        assert dist[row, t] == pytest.approx(expected)


def test_lines_are_split_at_shared_vertices_and_crossings_do_not_connect():
    # Line 1 and 2 share the vertex (1, 1); line 3 crosses line 1 without a shared vertex.
    roads = lines(
        [(80.0, 40.0), (80.5, 40.5), (81.0, 41.0), (81.5, 41.5)],
        [(80.0, 42.0), (81.0, 41.0), (82.0, 40.0)],
        [(80.5, 40.0), (80.0, 40.5)],
    )
    net = build_road_network(roads)
    assert net.n_nodes == 7  # 6 line ends + the shared vertex
    assert len(net.edge_km) == 5  # line 1 and 2 split in two, line 3 whole
    assert net.components()["nodes"].tolist() == [5, 2]
    # the unshared interior vertex (80.5, 40.5) stays in the geometry of its edge
    assert max(len(line.coords) for line in net.edge_lines) == 3


def test_length_km_is_spread_over_split_pieces():
    roads = lines(
        [(80.0, 40.0), (80.0, 41.0), (80.0, 42.0)], [(79.0, 41.0), (80.0, 41.0)], length_km=[300.0, 90.0]
    )
    net = build_road_network(roads)
    assert net.edge_km.sum() == pytest.approx(390.0)
    _, _, chord = GEOD.inv(80.0, 40.0, 80.0, 41.0)
    halves = np.sort(net.edge_km)[1:]
    assert halves == pytest.approx([150.0, 150.0], rel=0.01)
    assert halves.min() >= chord / 1000


def test_speed_proxy_and_road_class():
    speeds = SpeedModel()
    short, rural, long_edge, winding = (
        [(80.0, 40.0), (80.01, 40.0)],
        [(80.0, 41.0), (80.1, 41.0)],
        [(80.0, 42.0), (80.5, 42.0)],
        [(80.0, 43.0), (80.5, 43.0)],
    )
    chord_km = GEOD.inv(80.0, 43.0, 80.5, 43.0)[2] / 1000
    # without terrain: the climb slow-down is tested on its own below
    net = build_road_network(
        lines(short, rural, long_edge, winding, length_km=[0, 0, 0, 2 * chord_km]), elevation=None
    )
    assert net.edge_kmh.tolist() == [speeds.town_kmh, speeds.default_kmh, speeds.open_kmh, speeds.winding_kmh]
    classed = build_road_network(lines(short, rural, highway=["motorway", "unknown_class"]), elevation=None)
    assert classed.edge_kmh.tolist() == [90.0, speeds.default_kmh]


def test_content_hash_follows_content():
    roads = lines([(80.0, 40.0), (80.5, 40.0)], [(80.5, 40.0), (81.0, 40.5)])
    first, again = build_road_network(roads), build_road_network(roads.copy())
    assert first.content_hash == again.content_hash
    assert build_road_network(roads, SpeedModel(open_kmh=70.0)).content_hash != first.content_hash
    moved = lines([(80.0, 40.0), (80.5, 40.0)], [(80.5, 40.0), (81.0, 40.6)])
    assert build_road_network(moved).content_hash != first.content_hash


def test_load_is_cached_per_path(network):
    assert load_road_network() is network


def test_bad_road_layers_are_rejected():
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([80.0], [40.0]), crs=WGS84)
    with pytest.raises(ValueError, match="row 1: geometry must be a LineString"):
        build_road_network(points)
    with pytest.raises(FileNotFoundError):
        load_road_network("/nonexistent/roads.geojson")


def test_snap_projects_onto_the_main_component(network):
    # mid-point of a main-component edge, a point near the 2.7 km Urumqi fragment, and one far off
    edge = int(np.flatnonzero((network.edge_component == 0) & (network.edge_km > 30))[0])
    a, b = network.node_lonlat[network.edge_nodes[edge]]
    mid = GEOD.npts(a[0], a[1], b[0], b[1], 1)[0]
    # the 2.7 km fragment in Urumqi (data/SOURCES.md): take one of its nodes
    urumqi = network.components().query("lon_min > 87 and lon_max < 88 and component > 0")["component"]
    frag_lon, frag_lat = network.node_lonlat[network.node_component == urumqi.iloc[0]][0]
    snap = network.snap(
        np.array([mid[0], frag_lon, 85.0]), np.array([mid[1], frag_lat, 39.0]), max_access_km=50.0
    )
    assert snap.edge[0] == edge and snap.fraction[0] == pytest.approx(0.5, abs=0.02)
    assert snap.access_km[0] < 0.5
    assert snap.nearest_component[1] > 0  # nearest road is the fragment ...
    assert network.edge_component[snap.edge[1]] == 0  # ... but it is snapped to the main network
    assert snap.access_km[1] > 0
    assert snap.access_km[2] > 50.0 and not snap.reachable[2]
    assert snap.reachable[:2].all()


def test_climbing_edges_are_slower_than_flat_ones(network):
    # G217 Duku highway, Dushanzi side -> Qiaoerma over the Haxilegen pass (65 km, ~2,900 m of
    # ascent + descent on the grid) against a flat Tarim-rim edge of similar length
    flat = build_road_network(lines([(80.3, 41.0), (81.0, 41.0)]), elevation=None)
    duku = int(
        np.flatnonzero(
            np.all(
                np.abs(network.node_lonlat[network.edge_nodes] - [[84.822, 44.115], [84.359, 43.653]]) < 0.01,
                axis=(1, 2),
            )
            | np.all(
                np.abs(network.node_lonlat[network.edge_nodes] - [[84.359, 43.653], [84.822, 44.115]]) < 0.01,
                axis=(1, 2),
            )
        )[0]
    )
    assert network.edge_climb_m[duku] > 2000 and network.edge_top_m[duku] > 3000
    desert = int(
        np.flatnonzero(
            (network.edge_km > 40)
            & (network.edge_km < 90)
            & (network.edge_top_m < 1300)
            & (network.edge_climb_m < 300)
        )[0]
    )
    assert network.edge_kmh[duku] < 0.6 * network.edge_kmh[desert]
    assert network.edge_kmh[desert] == pytest.approx(SpeedModel().open_kmh)
    assert flat.edge_kmh[0] == pytest.approx(SpeedModel().open_kmh)
    # the same line with terrain: slower, and the hash says so
    speeds = SpeedModel()
    pass_line = lines([(84.822, 44.115), (84.359, 43.653)])
    with_terrain = build_road_network(pass_line)
    without = build_road_network(pass_line, elevation=None)
    assert with_terrain.edge_kmh[0] < without.edge_kmh[0]
    assert with_terrain.content_hash != without.content_hash
    # climb is paid the same both ways (so matrices stay symmetric)
    reverse = build_road_network(lines([(84.359, 43.653), (84.822, 44.115)]))
    assert reverse.edge_kmh[0] == pytest.approx(with_terrain.edge_kmh[0])
    # and the knob works: no climb cost and no altitude cap -> the plain proxy speed
    free = SpeedModel(climb_minutes_per_100m=0.0, high_altitude_kmh=1000.0)
    assert build_road_network(pass_line, free).edge_kmh[0] == pytest.approx(without.edge_kmh[0])
    assert speeds.climb_kmh(np.array([50.0]), np.array([80.0]), np.array([0.0]), np.array([500.0]))[0] == 80.0


def test_without_edges_keeps_nodes_and_changes_the_hash():
    roads = lines([(80.0, 40.0), (80.5, 40.0)], [(80.5, 40.0), (81.0, 40.0)])
    net = build_road_network(roads, elevation=None)
    cut = net.without_edges(np.array([False, True]))
    assert cut.n_nodes == net.n_nodes and len(cut.edge_km) == 1
    assert cut.content_hash != net.content_hash
    assert cut.node_component.max() == 1  # the far end is cut off
    with pytest.raises(ValueError, match="edge mask"):
        net.without_edges(np.array([True]))
