"""The road graph: nodes, edges with length and speed, connected components, snapping.

Built from any line layer (the shipped ``geo/roads.geojson`` by default):

* **Nodes** are line ends and vertices shared by more than one line (or repeated in one line),
  matched on coordinates rounded to 1e-6 degrees. Lines are split at nodes into edges; an edge
  keeps its full geometry for drawing. Crossing lines without a shared vertex do not connect
  (over- and under-passes).
* **Edge length** (``km``) is the layer's ``length_km`` when it has one (spread over the pieces
  of a split line in proportion to their geodesic length), never less than the geodesic length
  of the edge geometry: the shipped source weights are rounded and 2,219 of them are up to
  1.4 % shorter than their own chord, which would let a route be shorter than a straight line.
* **Speed** comes from the road class when the layer has a class column (see
  :data:`CLASS_COLUMNS`, :data:`CLASS_SPEED_KMH`); otherwise from :class:`SpeedModel`, a
  documented proxy, because the shipped layer has no class, surface or speed at all.
* **Climb**: with an elevation grid (the shipped one by default, :mod:`planning.elevation`),
  edges that climb or cross high ground are slowed (:meth:`SpeedModel.climb_kmh`).
* **Components**: ``node_component`` labels every node with its connected component, 0 being
  the largest (the main network). Points are snapped only to the main component; a point whose
  nearest road is a fragment is reported (``nearest_component > 0``), never routed through it.

Routing runs on ``csr_minutes`` with ``scipy.sparse.csgraph``; ``graph`` (networkx) is for
inspection only. A network is immutable and carries a ``content_hash`` of everything that
changes a route (node coordinates, edges, lengths, speeds), used as a cache key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from layers.datasets import CONTEXT_FILES, data_path
from layers.schema import WGS84, XINJIANG_METRIC_CRS
from planning.elevation import ElevationGrid, edge_profiles, load_elevation_grid
from planning.travel_cache import content_key

GEOD = Geod(ellps="WGS84")
TO_METRIC = Transformer.from_crs(WGS84, XINJIANG_METRIC_CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(XINJIANG_METRIC_CRS, WGS84, always_xy=True)

#: Columns read as a road class, first match wins (OSM ``highway``, Geofabrik ``fclass``, ...).
CLASS_COLUMNS = ("highway", "fclass", "road_class", "class")
#: Average driving speed (km/h) per road class, for layers that have one: the Chinese legal
#: limits (expressway 120, national/provincial roads 70-80, rural 40-60) less checkpoints,
#: trucks and towns. Classes not listed fall back to the :class:`SpeedModel` proxy.
CLASS_SPEED_KMH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 75.0,
    "trunk_link": 45.0,
    "primary": 65.0,
    "primary_link": 40.0,
    "secondary": 55.0,
    "secondary_link": 35.0,
    "tertiary": 45.0,
    "unclassified": 35.0,
    "residential": 25.0,
    "track": 20.0,
}
#: Coordinates closer than this (degrees, about 0.1 m) are the same node.
NODE_DECIMALS = 6
#: The smallest weight put in the sparse graph: csgraph would read an explicit zero as "no edge".
MIN_EDGE_MINUTES = 1e-9


@dataclass(frozen=True)
class SpeedModel:
    """Assumed speeds (km/h) for roads without a class, and for the off-road access leg.

    The shipped roads have no class, so edge geometry stands in for it:

    * an edge whose length is ``winding_ratio`` x its straight chord or more is a mountain or
      pass road (Duku G217, Tianshan and Kunlun passes): ``winding_kmh``;
    * otherwise by edge length (the graph has a node at every junction, so edge length is the
      distance between junctions): edges under ``town_edge_km`` sit in towns and junction
      clusters (``town_kmh``); edges of ``open_edge_km`` and more are long uninterrupted
      open-country trunk roads and expressways across desert and steppe (``open_kmh``, an
      average with checkpoints, fuel stops and trucks below the 100-120 km/h limit);
      everything between is an ordinary rural road (``default_kmh``).

    ``access_kmh`` is the off-road leg from a point to its road: tracks, dirt roads or on foot.

    **Climb** (:meth:`climb_kmh`, applied to every edge, classed or not, when the network is built
    with an elevation grid, see :mod:`planning.elevation`): each edge's ascent + descent along
    the coarse (~9 km) grid, capped at ``max_climb_m_per_km`` x km (a straight chord that cuts
    across a ridge counts more than the valley road really climbs; 25 m/km is steeper than the
    Duku highway's ~18 m/km average), less ``flat_climb_m_per_km`` x km (rolling terrain and the
    grid's 28 m steps, driven at normal speed), costs ``climb_minutes_per_100m`` on edges that
    reach ``climb_above_m`` (below that, Xinjiang's roads run on basin floors and piedmont fans,
    and the one deep descent, the Dabancheng gorge, is a four-lane expressway); an edge whose
    highest point is ``high_altitude_m`` or more is driven no faster than ``high_altitude_kmh``
    (hairpins, snow and ice, thin air). The extra minutes are folded into the edge's effective
    speed, so routing is unchanged; ascent + descent is the same both ways, so matrices stay
    symmetric. Calibrated on the G217 Duku highway (561 km, usually 10-12 h of driving): its
    365 km on the graph take 4.7 h without climb, 9.2 h with it (10,900 m up and down);
    Kashgar-Tashkurgan (290 km, 5-6 h) 3.0 h -> 6.3 h; Ürümqi-Korla over the G216 4.0 h -> 6.1 h;
    Ürümqi-Turpan stays 2.9 h. Ürümqi-Kashgar (1,270 km on the graph) now takes about 19 h
    against the usual 15-17 h: its expressway legs are too slow at ``open_kmh`` (see
    docs/travel.md).
    """

    town_edge_km: float = 2.0
    town_kmh: float = 40.0
    default_kmh: float = 60.0
    open_edge_km: float = 20.0
    open_kmh: float = 80.0
    winding_ratio: float = 1.25
    winding_kmh: float = 40.0
    access_kmh: float = 20.0
    climb_minutes_per_100m: float = 3.0
    climb_above_m: float = 1500.0
    flat_climb_m_per_km: float = 10.0
    max_climb_m_per_km: float = 25.0
    high_altitude_m: float = 3000.0
    high_altitude_kmh: float = 50.0

    def edge_kmh(self, km: np.ndarray, chord_km: np.ndarray) -> np.ndarray:
        """Speed of each edge from its length and straight chord (no road class known)."""
        speed = np.where(
            km < self.town_edge_km,
            self.town_kmh,
            np.where(km >= self.open_edge_km, self.open_kmh, self.default_kmh),
        )
        winding = km >= self.winding_ratio * np.maximum(chord_km, 1e-9)
        return np.where(winding, self.winding_kmh, speed).astype(float)

    def climb_kmh(
        self, km: np.ndarray, kmh: np.ndarray, climb_m: np.ndarray, top_m: np.ndarray
    ) -> np.ndarray:
        """Effective speed of each edge once its climb (ascent + descent, m) and its highest
        point (m) are paid for; never faster than ``kmh`` (see the class docstring)."""
        km = np.asarray(km, float)
        top_m = np.asarray(top_m, float)
        counted_m = np.minimum(climb_m, self.max_climb_m_per_km * km) - self.flat_climb_m_per_km * km
        counted_m = np.where(top_m >= self.climb_above_m, np.maximum(counted_m, 0.0), 0.0)
        extra_minutes = self.climb_minutes_per_100m * counted_m / 100.0
        high = top_m >= self.high_altitude_m
        drive_kmh = np.where(high, np.minimum(kmh, self.high_altitude_kmh), kmh)
        minutes = km / drive_kmh * 60.0 + extra_minutes
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(minutes > 0, km * 60.0 / minutes, kmh).astype(float)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """An immutable road graph. Arrays are indexed by node (``N``) or edge (``E``).

    ``edge_nodes[e] = (a, b)``; ``edge_lines[e]`` is the edge geometry in
    :data:`layers.schema.XINJIANG_METRIC_CRS`, running from node ``a`` to node ``b``.
    ``csr_minutes`` / ``csr_km`` are the symmetric sparse adjacency (one entry per direction;
    among parallel edges the fastest is kept) with identical structure.
    """

    node_lonlat: np.ndarray
    node_component: np.ndarray
    edge_nodes: np.ndarray
    edge_km: np.ndarray
    edge_kmh: np.ndarray
    edge_lines: np.ndarray
    speeds: SpeedModel
    content_hash: str
    source: str = ""
    #: Ascent + descent (m) and highest point (m) of each edge; None when built without elevation.
    edge_climb_m: np.ndarray | None = None
    edge_top_m: np.ndarray | None = None

    @functools.cached_property
    def _main_edges(self) -> np.ndarray:
        return np.flatnonzero(self.edge_component == 0)

    @functools.cached_property
    def _tree_main(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_lines[self._main_edges])

    @functools.cached_property
    def _tree_all(self) -> shapely.STRtree:
        return shapely.STRtree(self.edge_lines)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_lonlat)

    @property
    def edge_minutes(self) -> np.ndarray:
        """Driving time of each edge."""
        return self.edge_km / self.edge_kmh * 60.0

    @property
    def edge_component(self) -> np.ndarray:
        """Connected component of each edge (0 = the main network)."""
        return self.node_component[self.edge_nodes[:, 0]]

    @functools.cached_property
    def _csr(self) -> tuple[csr_matrix, csr_matrix, np.ndarray]:
        return adjacency(self.n_nodes, self.edge_nodes, self.edge_minutes, self.edge_km)

    @property
    def csr_minutes(self) -> csr_matrix:
        """Sparse adjacency weighted by driving minutes (for ``scipy.sparse.csgraph``)."""
        return self._csr[0]

    @property
    def csr_km(self) -> csr_matrix:
        """Sparse adjacency weighted by km, same structure as :attr:`csr_minutes`."""
        return self._csr[1]

    @functools.cached_property
    def graph(self) -> nx.Graph:
        """A networkx view for inspection: node attributes lon, lat, component; edge km,
        minutes, kmh, edge (index). Parallel edges keep the fastest."""
        graph = nx.Graph(source=self.source, content_hash=self.content_hash)
        for node, ((lon, lat), comp) in enumerate(zip(self.node_lonlat, self.node_component, strict=True)):
            graph.add_node(node, lon=float(lon), lat=float(lat), component=int(comp))
        order = np.argsort(-self.edge_minutes)  # slowest first, so the fastest parallel edge wins
        for e in order:
            a, b = self.edge_nodes[e]
            graph.add_edge(
                int(a),
                int(b),
                km=float(self.edge_km[e]),
                minutes=float(self.edge_minutes[e]),
                kmh=float(self.edge_kmh[e]),
                edge=int(e),
            )
        return graph

    def without_edges(self, mask: np.ndarray) -> RoadNetwork:
        """A copy without the edges where ``mask`` is True (e.g. closed roads).

        Node numbering is kept (a node left without edges becomes a component of its own), the
        components are recomputed, so points are snapped only to what stays connected, and the
        ``content_hash`` changes, so cached matrices of the two networks never mix.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.edge_km.shape:
            raise ValueError(f"edge mask must have {len(self.edge_km)} entries, got {mask.shape}")
        keep = ~mask

        def kept(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[keep]

        edge_nodes = self.edge_nodes[keep]
        return RoadNetwork(
            node_lonlat=self.node_lonlat,
            node_component=_components_by_size(self.n_nodes, edge_nodes),
            edge_nodes=edge_nodes,
            edge_km=self.edge_km[keep],
            edge_kmh=self.edge_kmh[keep],
            edge_lines=self.edge_lines[keep],
            speeds=self.speeds,
            content_hash=content_key(self.content_hash, "without_edges", np.flatnonzero(mask)),
            source=self.source,
            edge_climb_m=kept(self.edge_climb_m),
            edge_top_m=kept(self.edge_top_m),
        )

    def components(self) -> pd.DataFrame:
        """One row per connected component: nodes, edges, km and its bounding box."""
        comp = self.edge_component
        rows = []
        for label in range(int(self.node_component.max()) + 1):
            nodes = self.node_lonlat[self.node_component == label]
            rows.append(
                {
                    "component": label,
                    "nodes": len(nodes),
                    "edges": int((comp == label).sum()),
                    "km": float(self.edge_km[comp == label].sum()),
                    "lon_min": float(nodes[:, 0].min()),
                    "lat_min": float(nodes[:, 1].min()),
                    "lon_max": float(nodes[:, 0].max()),
                    "lat_max": float(nodes[:, 1].max()),
                }
            )
        return pd.DataFrame(rows)

    def snap(self, lon: np.ndarray, lat: np.ndarray, max_access_km: float) -> Snap:
        """Snap points to the nearest point on an edge of the main component (see :class:`Snap`)."""
        x, y = TO_METRIC.transform(np.asarray(lon, float), np.asarray(lat, float))
        points = shapely.points(np.column_stack([x, y]))
        _, nearest_any = self._tree_all.query_nearest(points, all_matches=False)
        _, nearest_main = self._tree_main.query_nearest(points, all_matches=False)
        edge = self._main_edges[nearest_main]
        lines = self.edge_lines[edge]
        fraction = shapely.line_locate_point(lines, points, normalized=True)
        on_road = shapely.get_coordinates(shapely.line_interpolate_point(lines, fraction, normalized=True))
        road_lon, road_lat = TO_LONLAT.transform(on_road[:, 0], on_road[:, 1])
        _, _, metres = GEOD.inv(lon, lat, road_lon, road_lat)
        access_km = np.asarray(metres, float) / 1000.0
        return Snap(
            edge=edge,
            fraction=np.asarray(fraction, float),
            road_lonlat=np.column_stack([road_lon, road_lat]),
            access_km=access_km,
            nearest_component=self.edge_component[nearest_any].astype(np.int64),
            reachable=access_km <= max_access_km,
        )


@dataclass(frozen=True, eq=False)
class Snap:
    """Where points meet the main road network.

    ``edge`` (index into the network's edges) and ``fraction`` (0 at the edge's first node, 1 at
    its second, along the metric geometry) place the road point; ``road_lonlat`` is that point;
    ``access_km`` the geodesic off-road leg to it. ``nearest_component`` is the component of the
    nearest road of any component (> 0: a fragment). ``reachable`` is False where the access leg
    exceeds the allowed maximum.
    """

    edge: np.ndarray
    fraction: np.ndarray
    road_lonlat: np.ndarray
    access_km: np.ndarray
    nearest_component: np.ndarray
    reachable: np.ndarray


def adjacency(
    n_nodes: int, edge_nodes: np.ndarray, minutes: np.ndarray, km: np.ndarray
) -> tuple[csr_matrix, csr_matrix, np.ndarray]:
    """Symmetric CSR adjacency (minutes, km) of an undirected edge list, sorted indices.

    Among parallel edges the fastest is kept, and its km goes with it, so km along a fastest
    path is consistent with the minutes. The third array gives, per stored entry, the edge it
    came from: ``e`` for the direction ``a -> b`` of ``edge_nodes[e]``, ``e + E`` for ``b -> a``.
    """
    rows = np.concatenate([edge_nodes[:, 0], edge_nodes[:, 1]])
    cols = np.concatenate([edge_nodes[:, 1], edge_nodes[:, 0]])
    weight = np.maximum(np.concatenate([minutes, minutes]), MIN_EDGE_MINUTES)
    length = np.concatenate([km, km])
    order = np.lexsort((weight, cols, rows))
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[order][1:] != rows[order][:-1]) | (cols[order][1:] != cols[order][:-1])
    entry = order[first]
    rows, cols, weight, length = rows[entry], cols[entry], weight[entry], length[entry]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_nodes))])
    shape = (n_nodes, n_nodes)
    return (
        csr_matrix((weight, cols.astype(np.int32), indptr), shape=shape),
        csr_matrix((length, cols.astype(np.int32), indptr), shape=shape),
        entry,
    )


def _class_speeds(roads: gpd.GeoDataFrame) -> np.ndarray:
    """Per-row speed from a road-class column (NaN where there is none or it is unknown)."""
    for column in CLASS_COLUMNS:
        if column in roads.columns:
            return roads[column].astype("string").str.strip().str.lower().map(CLASS_SPEED_KMH).to_numpy(float)
    return np.full(len(roads), np.nan)


def _row_lengths_km(roads: gpd.GeoDataFrame) -> np.ndarray:
    """The layer's own ``length_km`` per row (NaN where absent or not a positive number)."""
    if "length_km" not in roads.columns:
        return np.full(len(roads), np.nan)
    values = pd.to_numeric(roads["length_km"], errors="coerce").to_numpy(float)
    return np.where(values > 0, values, np.nan)


def build_road_network(
    roads: gpd.GeoDataFrame,
    speeds: SpeedModel | None = None,
    source: str = "",
    elevation: ElevationGrid | None | str = "default",
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from a GeoDataFrame of (Multi)LineStrings.

    ``elevation`` slows climbing edges (see :class:`SpeedModel`): ``"default"`` uses the shipped
    grid (:func:`planning.elevation.load_elevation_grid`), ``None`` ignores terrain.
    """
    speeds = speeds or SpeedModel()
    if isinstance(elevation, str):
        if elevation != "default":
            raise ValueError(f"elevation must be 'default', None or an ElevationGrid, got {elevation!r}")
        elevation = load_elevation_grid()
    if not isinstance(roads, gpd.GeoDataFrame) or roads.geometry.name not in roads.columns:
        raise ValueError(f"{source or 'roads'}: no line geometry (expected a GeoJSON/GeoPackage of roads)")
    if roads.crs is not None:
        roads = roads.to_crs(WGS84)
    roads = roads.reset_index(drop=True)
    kinds = roads.geometry.geom_type
    bad = ~kinds.isin(["LineString", "MultiLineString"]) | roads.geometry.is_empty
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{source or 'roads'} row {row + 1}: geometry must be a LineString, got {kinds[row]}"
        )
    parts = roads.geometry.explode(index_parts=False)
    part_row = parts.index.to_numpy()
    coords, part = shapely.get_coordinates(parts.to_numpy(), return_index=True)
    if len(coords) == 0:
        raise ValueError(f"{source or 'roads'}: no road lines")

    # Nodes: line ends and any vertex that occurs more than once.
    keys = np.round(coords, NODE_DECIMALS)
    vertex_keys, vertex = np.unique(keys, axis=0, return_inverse=True)
    vertex = vertex.ravel()
    same_part_next = np.zeros(len(coords), dtype=bool)
    same_part_next[:-1] = part[1:] == part[:-1]
    is_end = ~same_part_next | np.concatenate([[True], ~same_part_next[:-1]])
    is_node = is_end | (np.bincount(vertex)[vertex] >= 2)

    # Segments between consecutive vertices of one part, grouped into edges (node to node).
    seg = np.flatnonzero(same_part_next)
    _, _, seg_m = GEOD.inv(coords[seg, 0], coords[seg, 1], coords[seg + 1, 0], coords[seg + 1, 1])
    seg_km = np.asarray(seg_m, float) / 1000.0
    piece_of_seg = np.unique(np.cumsum(is_node)[seg], return_inverse=True)[1].ravel()
    n_pieces = int(piece_of_seg.max()) + 1
    piece_geo_km = np.bincount(piece_of_seg, seg_km, minlength=n_pieces)
    start = np.full(n_pieces, len(coords))
    np.minimum.at(start, piece_of_seg, seg)
    end = np.zeros(n_pieces, dtype=np.int64)
    np.maximum.at(end, piece_of_seg, seg + 1)
    piece_row = part_row[part[start]]

    # Spread each row's own length over its pieces; never below the geodesic length.
    row_geo_km = np.bincount(piece_row, piece_geo_km, minlength=len(roads))
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = np.fmax(_row_lengths_km(roads) / row_geo_km, 1.0)
    piece_km = piece_geo_km * np.nan_to_num(stretch, nan=1.0)[piece_row]

    a, b = vertex[start], vertex[end]
    keep = (a != b) & (piece_km > 0)
    start, end, a, b, piece_km, piece_row = (
        start[keep],
        end[keep],
        a[keep],
        b[keep],
        piece_km[keep],
        piece_row[keep],
    )
    _, _, chord_m = GEOD.inv(coords[start, 0], coords[start, 1], coords[end, 0], coords[end, 1])
    kmh = _class_speeds(roads)[piece_row]
    kmh = np.where(np.isnan(kmh), speeds.edge_kmh(piece_km, np.asarray(chord_m) / 1000.0), kmh)

    # Renumber nodes 0..N-1 (only vertices that end an edge).
    used, edge_nodes = np.unique(np.concatenate([a, b]), return_inverse=True)
    edge_nodes = edge_nodes.reshape(2, -1).T.astype(np.int64)
    node_lonlat = vertex_keys[used]

    # Edge geometry in the metric CRS.
    counts = end - start + 1
    take = np.repeat(start - np.cumsum(np.concatenate([[0], counts[:-1]])), counts) + np.arange(counts.sum())
    mx, my = TO_METRIC.transform(coords[take, 0], coords[take, 1])
    lines = shapely.linestrings(np.column_stack([mx, my]), indices=np.repeat(np.arange(len(counts)), counts))

    climb_m = top_m = None
    if elevation is not None:
        climb_m, top_m = edge_profiles(lines, elevation)
        kmh = speeds.climb_kmh(piece_km, kmh, climb_m, top_m)

    node_component = _components_by_size(len(node_lonlat), edge_nodes)
    content_hash = content_key(
        node_lonlat, edge_nodes, piece_km, kmh, np.round(np.column_stack([mx, my]), 3), repr(speeds)
    )
    return RoadNetwork(
        node_lonlat=node_lonlat,
        node_component=node_component,
        edge_nodes=edge_nodes,
        edge_km=piece_km,
        edge_kmh=kmh,
        edge_lines=lines,
        speeds=speeds,
        content_hash=content_hash,
        source=source,
        edge_climb_m=climb_m,
        edge_top_m=top_m,
    )


def _components_by_size(n_nodes: int, edge_nodes: np.ndarray) -> np.ndarray:
    """Connected-component label per node, relabelled so 0 is the largest (by nodes)."""
    graph = adjacency(n_nodes, edge_nodes, np.ones(len(edge_nodes)), np.ones(len(edge_nodes)))[0]
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[labels].astype(np.int64)


def load_road_network(path: str | Path | None = None) -> RoadNetwork:
    """The road network of a line file (default: the shipped ``geo/roads.geojson``).

    Built once per path and process (the result is immutable, so sharing it is safe).
    """
    resolved = Path(path) if path is not None else data_path(CONTEXT_FILES["roads"])
    return _load_cached(str(resolved.resolve()))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> RoadNetwork:
    if not Path(path).is_file():
        raise FileNotFoundError(f"road layer not found: {path}")
    return build_road_network(gpd.read_file(path), source=path)
