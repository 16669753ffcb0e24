"""Travel-time and distance matrices between points (sites, bases, lodging towns).

Two travel models, and every :class:`TravelMatrix` says which one produced it (``model``):

``road_network``
    Each point is snapped to the nearest point on an edge of the main road component (see
    :mod:`planning.roads`); the off-road *access leg* from the point to that road point is
    driven at ``SpeedModel.access_kmh`` (20 km/h). Points farther than :data:`MAX_ACCESS_KM`
    from the main network are unreachable (``inf``). Shortest paths by travel time run on the road graph
    with ``scipy.sparse.csgraph.dijkstra``; ``km`` is the length of that fastest path.
``great_circle``
    Used only when there is no road data: geodesic distance x :data:`CIRCUITY_FACTOR`, driven at
    :data:`GREAT_CIRCLE_SPEED_KMH`. Legs are drawn as straight lines.

Road results are cached on disk (see :mod:`planning.travel_cache`), keyed by the network's
content hash (which includes its speeds), the point ids and coordinates, and the access limit.

Known simplification: two off-road points always travel via the road, each on its own access
leg, even when they are close to each other (this keeps every pair independent of the other
points and the triangle inequality exact).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from planning import travel_cache
from planning.roads import GEOD, TO_LONLAT, RoadNetwork, Snap, adjacency, load_road_network

#: Road distance / great-circle distance assumed without road data. Measured on the shipped road
#: graph between the 30 largest Xinjiang towns (418 pairs over 100 km apart): median 1.18,
#: quartiles 1.13-1.31, 5-95 % 1.08-1.91 (mountain detours). 1.25 errs on the long side of the
#: median, as a planner without roads should.
CIRCUITY_FACTOR = 1.25
#: Average speed of the great-circle model (km/h). The road model averages 66-78 km/h (5-95 %,
#: median 75) on those pairs; shorter legs through towns are slower, hence 65.
GREAT_CIRCLE_SPEED_KMH = 65.0

#: Points farther than this from the main road network are unreachable by road (``reachable``
#: False, inf in the matrix): at the access speed of 20 km/h that is 5 h each way, more than a
#: patrol day allows; such sites need a drone or remote sensing.
MAX_ACCESS_KM = 100.0
#: Access legs longer than this are flagged by :meth:`TravelMatrix.report` (foot or drone).
LONG_ACCESS_KM = 20.0

MODELS = ("road_network", "great_circle")
#: Sources per Dijkstra call when building a matrix (bounds peak memory to about 60 MB).
SOURCE_CHUNK = 200
#: Bump when the cached content or its meaning changes.
CACHE_VERSION = "travel-v1"
_CACHE_NAMES = (
    "ids",
    "km",
    "minutes",
    "access_km",
    "reachable",
    "nearest_component",
    "edge",
    "fraction",
    "road_lonlat",
)


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Distances (km) and travel times (minutes) between every ordered pair of points.

    ``km[i, j]`` / ``minutes[i, j]`` are ``np.inf`` where ``j`` cannot be reached from ``i``.
    ``access_km`` is each point's off-road leg to the road (0 for ``great_circle``);
    ``reachable`` is False for points that could not be snapped to the main road component.
    ``nearest_component`` is the component of the nearest road *of any component* (-1 when
    unknown, e.g. for ``great_circle``): a value > 0 means the nearest road is a fragment that
    does not connect to the main network, and the point was snapped to the main component with
    a longer access leg instead.
    """

    ids: tuple[str, ...]
    km: np.ndarray
    minutes: np.ndarray
    model: str
    access_km: np.ndarray
    reachable: np.ndarray
    nearest_component: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    #: Draws leg geometry; None for the great-circle model. Not part of the matrix data.
    _legs: RoadLegs | None = field(default=None, repr=False)
    #: Point coordinates (lon, lat) in input order, for straight-line legs.
    _lonlat: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown travel model {self.model!r}; known: {', '.join(MODELS)}")
        n = len(self.ids)
        if self.km.shape != (n, n) or self.minutes.shape != (n, n):
            raise ValueError(f"matrices must be {n}x{n}, got {self.km.shape} and {self.minutes.shape}")
        if self.nearest_component.size == 0:
            object.__setattr__(self, "nearest_component", np.full(n, -1, dtype=np.int64))

    def leg_lonlat(self, i: int, j: int) -> list[tuple[float, float]]:
        """The (lon, lat) polyline of leg ``i -> j``, access legs included (empty if unreachable).

        For the road model the polyline follows the road edges of the fastest path; for the
        great-circle model it is the straight segment between the two points.
        """
        if not np.isfinite(self.km[i, j]):
            return []
        if self._legs is None:
            start, end = self._lonlat[i], self._lonlat[j]
            return [(float(start[0]), float(start[1])), (float(end[0]), float(end[1]))]
        return self._legs.leg_lonlat(i, j)

    def report(self, long_access_km: float = LONG_ACCESS_KM) -> pd.DataFrame:
        """One row per point that needs attention: unreachable, nearest road on a fragment, or an
        access leg longer than ``long_access_km`` (a patrol on foot or by drone is needed)."""
        frame = pd.DataFrame(
            {
                "id": list(self.ids),
                "access_km": self.access_km,
                "reachable": self.reachable,
                "nearest_component": self.nearest_component,
            }
        )
        frame["on_fragment"] = frame["nearest_component"] > 0
        frame["long_access"] = frame["access_km"] > long_access_km
        flagged = ~frame["reachable"] | frame["on_fragment"] | frame["long_access"]
        return frame[flagged].reset_index(drop=True)


def validate_points(points: pd.DataFrame) -> pd.DataFrame:
    """Return ``points`` as a clean frame with ``id`` (str), ``lon``, ``lat`` (float).

    Raises ``ValueError`` naming the row and field for missing columns, blank or duplicate ids
    and coordinates that are not numbers in range.
    """
    missing = [c for c in ("id", "lon", "lat") if c not in points.columns]
    if missing:
        raise ValueError(f"points: missing column(s) {', '.join(missing)} (need id, lon, lat)")
    clean = pd.DataFrame({"id": points["id"].astype("string").str.strip()})
    for column, limit in (("lon", 180.0), ("lat", 90.0)):
        values = pd.to_numeric(points[column], errors="coerce")
        bad = values.isna() | (values.abs() > limit)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"points row {row + 1}: field {column!r} must be a number within ±{limit:g}, "
                f"got {points[column].iloc[row]!r}"
            )
        clean[column] = values.astype(float).to_numpy()
    blank = clean["id"].isna() | (clean["id"] == "")
    if blank.any():
        raise ValueError(f"points row {int(np.flatnonzero(blank.to_numpy())[0]) + 1}: field 'id' is empty")
    duplicated = clean["id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ValueError(f"points row {row + 1}: field 'id' {clean['id'].iloc[row]!r} is a duplicate")
    clean["id"] = clean["id"].astype(str)
    return clean.reset_index(drop=True)


def geodesic_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Pairwise geodesic distances (km, WGS84 ellipsoid) between the given points."""
    n = len(lon)
    rows, cols = np.triu_indices(n, k=1)
    _, _, metres = GEOD.inv(lon[rows], lat[rows], lon[cols], lat[cols])
    km = np.zeros((n, n))
    km[rows, cols] = np.asarray(metres) / 1000.0
    km[cols, rows] = km[rows, cols]
    return km


def great_circle_matrix(points: pd.DataFrame) -> TravelMatrix:
    """The fallback model: geodesic km x :data:`CIRCUITY_FACTOR` at :data:`GREAT_CIRCLE_SPEED_KMH`."""
    clean = validate_points(points)
    lon, lat = clean["lon"].to_numpy(), clean["lat"].to_numpy()
    km = geodesic_km(lon, lat) * CIRCUITY_FACTOR
    n = len(clean)
    return TravelMatrix(
        ids=tuple(clean["id"]),
        km=km,
        minutes=km / GREAT_CIRCLE_SPEED_KMH * 60.0,
        model="great_circle",
        access_km=np.zeros(n),
        reachable=np.ones(n, dtype=bool),
        _lonlat=np.column_stack([lon, lat]),
    )


def travel_matrix(
    points: pd.DataFrame,
    network: RoadNetwork | None | str | Path = "default",
    *,
    use_cache: bool = True,
    max_access_km: float = MAX_ACCESS_KM,
) -> TravelMatrix:
    """Travel matrix between ``points`` (columns ``id``, ``lon``, ``lat``; ids unique).

    ``network="default"`` routes on the shipped road layer, another string or a path routes on
    that road file, a :class:`planning.roads.RoadNetwork` on that network, and ``None`` selects
    the great-circle fallback (no road data). Road results are cached on disk (see
    :mod:`planning.travel_cache`) unless ``use_cache`` is False.
    """
    if network is None:
        return great_circle_matrix(points)
    if not isinstance(network, RoadNetwork):
        network = load_road_network(None if network == "default" else network)
    clean = validate_points(points)
    ids = np.array(clean["id"].tolist(), dtype=str)
    lonlat = clean[["lon", "lat"]].to_numpy(float)
    key = travel_cache.content_key(
        CACHE_VERSION, network.content_hash, ids, lonlat, np.array([max_access_km], float)
    )
    stored = travel_cache.load_arrays("travel", key, _CACHE_NAMES) if use_cache else None
    if stored is not None and _cache_fits(stored, ids):
        return _road_matrix_from_arrays(network, lonlat, stored)
    snap = network.snap(lonlat[:, 0], lonlat[:, 1], max_access_km)
    router = RoadLegs.build(network, snap, lonlat)
    km, minutes = router.matrices()
    arrays = {
        "ids": ids,
        "km": km,
        "minutes": minutes,
        "access_km": snap.access_km,
        "reachable": snap.reachable,
        "nearest_component": snap.nearest_component,
        "edge": snap.edge,
        "fraction": snap.fraction,
        "road_lonlat": snap.road_lonlat,
    }
    if use_cache:
        travel_cache.save_arrays("travel", key, arrays)
    return _road_matrix_from_arrays(network, lonlat, arrays, router)


def _cache_fits(stored: dict[str, np.ndarray], ids: np.ndarray) -> bool:
    """A cached entry is used only if it is for these ids and its arrays have the right shapes."""
    n = len(ids)
    return (
        stored["ids"].shape == (n,)
        and bool(np.all(stored["ids"] == ids))
        and stored["km"].shape == (n, n)
        and stored["minutes"].shape == (n, n)
        and all(stored[name].shape == (n,) for name in _CACHE_NAMES[3:8])
        and stored["road_lonlat"].shape == (n, 2)
    )


def _road_matrix_from_arrays(
    network: RoadNetwork, lonlat: np.ndarray, arrays: dict[str, np.ndarray], router: RoadLegs | None = None
) -> TravelMatrix:
    if router is None:
        snap = Snap(
            edge=arrays["edge"].astype(np.int64),
            fraction=arrays["fraction"].astype(float),
            road_lonlat=arrays["road_lonlat"].astype(float),
            access_km=arrays["access_km"].astype(float),
            nearest_component=arrays["nearest_component"].astype(np.int64),
            reachable=arrays["reachable"].astype(bool),
        )
        router = RoadLegs.build(network, snap, lonlat)
    return TravelMatrix(
        ids=tuple(str(i) for i in arrays["ids"]),
        km=np.asarray(arrays["km"], float),
        minutes=np.asarray(arrays["minutes"], float),
        model="road_network",
        access_km=np.asarray(arrays["access_km"], float),
        reachable=np.asarray(arrays["reachable"], bool),
        nearest_component=np.asarray(arrays["nearest_component"], np.int64),
        _legs=router,
        _lonlat=lonlat,
    )


@dataclass(frozen=True, eq=False)
class RoadLegs:
    """The road graph with every snapped point added as a node on its edge.

    An edge ``a-b`` carrying snapped points at fractions ``t1 < t2 < ...`` gets the chain
    ``a - p1 - p2 - ... - b`` next to it (the original edge stays: it is never slower), each
    piece with its share of the edge's km, never less than the geodesic between its ends. So
    a point is reached along its own edge from either end, and two points on one edge reach
    each other directly. Pairwise results do not depend on which other points are in the set.
    """

    network: RoadNetwork
    snap: Snap
    point_lonlat: np.ndarray
    point_node: np.ndarray  # augmented node of each point, -1 if unreachable
    csr_minutes: csr_matrix
    csr_km: csr_matrix
    entry_piece: np.ndarray  # per CSR entry: piece index (+ n_pieces when traversed backwards)
    piece_edge: np.ndarray
    piece_t: np.ndarray  # (n_pieces, 2): fractions along piece_edge at the piece's two ends
    _sources: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, network: RoadNetwork, snap: Snap, point_lonlat: np.ndarray) -> RoadLegs:
        """Add the reachable snapped points to ``network`` as nodes (see the class docstring)."""
        n_nodes = network.n_nodes
        reach = np.flatnonzero(snap.reachable)
        spots, inverse = np.unique(
            np.column_stack([snap.edge[reach].astype(float), snap.fraction[reach]]),
            axis=0,
            return_inverse=True,
        )
        point_node = np.full(len(snap.edge), -1, dtype=np.int64)
        point_node[reach] = n_nodes + inverse.ravel()
        spot_edge, spot_t = spots[:, 0].astype(np.int64), spots[:, 1]
        spot_lonlat = np.zeros((len(spots), 2))
        spot_lonlat[inverse.ravel()] = snap.road_lonlat[reach]
        all_lonlat = np.vstack([network.node_lonlat, spot_lonlat])

        # Chain pieces along each edge: previous spot (or the edge's first node) -> spot, and
        # the last spot of each edge -> the edge's second node.
        spot_node = n_nodes + np.arange(len(spots))
        new_edge = np.ones(len(spots), dtype=bool)
        new_edge[1:] = spot_edge[1:] != spot_edge[:-1]
        last = np.ones(len(spots), dtype=bool)
        last[:-1] = new_edge[1:]
        prev_node = np.where(new_edge, network.edge_nodes[spot_edge, 0], np.roll(spot_node, 1))
        prev_t = np.where(new_edge, 0.0, np.roll(spot_t, 1))
        chain_nodes = np.vstack(
            [
                np.column_stack([prev_node, spot_node]),
                np.column_stack([spot_node[last], network.edge_nodes[spot_edge[last], 1]]),
            ]
        )
        chain_edge = np.concatenate([spot_edge, spot_edge[last]])
        chain_t = np.vstack(
            [np.column_stack([prev_t, spot_t]), np.column_stack([spot_t[last], np.ones(last.sum())])]
        )
        ends = all_lonlat[chain_nodes]
        _, _, chord_m = GEOD.inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
        chain_km = np.maximum(
            (chain_t[:, 1] - chain_t[:, 0]) * network.edge_km[chain_edge], np.asarray(chord_m) / 1000
        )

        n_edges = len(network.edge_km)
        piece_edge = np.concatenate([np.arange(n_edges), chain_edge])
        piece_t = np.vstack([np.column_stack([np.zeros(n_edges), np.ones(n_edges)]), chain_t])
        piece_km = np.concatenate([network.edge_km, chain_km])
        piece_minutes = piece_km / network.edge_kmh[piece_edge] * 60.0
        csr_min, csr_km, entry = adjacency(
            n_nodes + len(spots), np.vstack([network.edge_nodes, chain_nodes]), piece_minutes, piece_km
        )
        return cls(network, snap, point_lonlat, point_node, csr_min, csr_km, entry, piece_edge, piece_t)

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(km, minutes) between all points; inf where unreachable; symmetric by construction:
        the i < j direction is computed and mirrored, so legs drawn either way are the same."""
        n = len(self.point_node)
        reach = np.flatnonzero(self.point_node >= 0)
        km = np.full((n, n), np.inf)
        minutes = np.full((n, n), np.inf)
        if len(reach):
            sources, row = np.unique(self.point_node[reach], return_inverse=True)
            cols = self.point_node[reach]
            road_min = np.empty((len(sources), len(cols)))
            road_km = np.empty((len(sources), len(cols)))
            # Shortest-path trees in chunks of sources bound the memory (a tree is one row per
            # source over every node) without costing time.
            for first in range(0, len(sources), SOURCE_CHUNK):
                chunk = slice(first, first + SOURCE_CHUNK)
                dist, pred = dijkstra(
                    self.csr_minutes, directed=True, indices=sources[chunk], return_predecessors=True
                )
                road_min[chunk] = dist[:, cols]
                road_km[chunk] = self._path_km(pred)[:, cols]
            access_km = self.snap.access_km[reach]
            access_min = access_km / self.network.speeds.access_kmh * 60.0
            total_min = access_min[:, None] + road_min[row.ravel()] + access_min[None, :]
            total_km = access_km[:, None] + road_km[row.ravel()] + access_km[None, :]
            upper = np.triu(np.ones_like(total_min, dtype=bool))
            minutes[np.ix_(reach, reach)] = np.where(upper, total_min, total_min.T)
            km[np.ix_(reach, reach)] = np.where(upper, total_km, total_km.T)
        np.fill_diagonal(km, 0.0)
        np.fill_diagonal(minutes, 0.0)
        return km, minutes

    @functools.cached_property
    def _entry_keys(self) -> np.ndarray:
        """``row * n + col`` of every stored CSR entry, ascending (rows and indices are sorted)."""
        csr = self.csr_km
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        return rows * csr.shape[0] + csr.indices

    def _entry(self, tail: np.ndarray, head: np.ndarray) -> np.ndarray:
        """CSR entry index of each arc ``tail -> head`` (which must exist)."""
        return np.searchsorted(self._entry_keys, tail.astype(np.int64) * self.csr_km.shape[0] + head)

    def _path_km(self, pred: np.ndarray) -> np.ndarray:
        """km along the shortest-path trees given by ``pred`` (one row per source), by pointer
        jumping: each node accumulates the km to its ancestor, doubling the jump each round."""
        m = pred.shape[1]
        cols = np.broadcast_to(np.arange(m, dtype=pred.dtype), pred.shape)
        has_pred = pred >= 0
        ptr = np.where(has_pred, pred, cols)
        acc = np.zeros(pred.shape)
        acc[has_pred] = self.csr_km.data[self._entry(pred[has_pred], cols[has_pred])]
        while True:
            jump = np.take_along_axis(ptr, ptr, axis=1)
            if np.array_equal(jump, ptr):
                return acc
            acc += np.take_along_axis(acc, ptr, axis=1)
            ptr = jump

    def _predecessors(self, source: int) -> np.ndarray:
        if source not in self._sources:
            _, pred = dijkstra(self.csr_minutes, directed=True, indices=source, return_predecessors=True)
            self._sources[source] = pred
        return self._sources[source]

    def leg_lonlat(self, i: int, j: int) -> list[tuple[float, float]]:
        """(lon, lat) polyline from point ``i`` to point ``j`` along the fastest road path."""
        if i > j:
            return self.leg_lonlat(j, i)[::-1]
        start, end = self.point_lonlat[i], self.point_lonlat[j]
        coords = [start]
        if i != j:
            pred = self._predecessors(int(self.point_node[i]))
            nodes = [int(self.point_node[j])]
            while pred[nodes[-1]] >= 0:
                nodes.append(int(pred[nodes[-1]]))
            nodes.reverse()
            entries = self.entry_piece[self._entry(np.array(nodes[:-1]), np.array(nodes[1:]))]
            n_pieces = len(self.piece_edge)
            for entry in entries:
                piece = entry % n_pieces
                t0, t1 = self.piece_t[piece] if entry < n_pieces else self.piece_t[piece][::-1]
                line = self.network.edge_lines[self.piece_edge[piece]]
                part = substring(line, t0, t1, normalized=True)
                x, y = shapely.get_coordinates(part).T
                coords.extend(np.column_stack(TO_LONLAT.transform(x, y)))
            coords.append(end)
        polyline: list[tuple[float, float]] = []
        for lon, lat in coords:
            point = (float(lon), float(lat))
            if not polyline or np.hypot(point[0] - polyline[-1][0], point[1] - polyline[-1][1]) > 1e-9:
                polyline.append(point)
        return polyline
