"""Blind spots: weighted places nobody has covered for N days, merged into areas and ranked.

A **blind cell** has weight > 0 and no coverage in the last ``days`` days before ``as_of``. Blind
cells that are H3 neighbours (share an edge) *in the same county* form one **blind spot**: without
the county split, river corridors chain half the province into one "spot", and a county is the
unit a detachment patrols.

**Ranking.** Spots are ranked by ``rank_weight``: the weight of the pollution sources and
drinking-water zones in them counts in full, while the weight that grows with area alone (protected
area and river corridors) counts at most :data:`AREA_WEIGHT_CAP` per spot, as much as one
pollution source of middle priority. Without the cap, a reserve of 50,000 km² of empty desert (0.02 points per km²,
1,000 points) outranks every unvisited factory in the province, though nothing there needs an
officer more than a drone flight or remote sensing does. ``total_weight`` is kept for coverage.

Reachability uses each cell centre's distance to the nearest road (metric CRS, straight-chord road
layer, roads inside Xinjiang only). A spot is ``reachable`` when its nearest cell is within
``reachable_km`` of a road; ``in_reach_pct`` is the share of its weight within that distance, and
``access`` sums it up: ``road`` (all of it), ``road_and_drone`` (part), or
``drone_or_remote_sensing`` (none: needs a drone flight or remote sensing, 非现场执法).

``python -m coverage blindspots --days 90 --top 20``
"""

from __future__ import annotations

import argparse
import sys

import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from coverage.weights import COMPONENTS
from layers.spreadsheet import has_simulated

#: A spot whose nearest cell centre is farther than this from a road needs a drone or remote sensing.
DEFAULT_REACHABLE_KM = 10.0
ACCESS_ROAD = "road"
ACCESS_PARTLY = "road_and_drone"
ACCESS_REMOTE = "drone_or_remote_sensing"
#: Most a spot's area-driven weight (protected areas, rivers) counts towards its rank: as much as one
#: source of middle priority (``CoverageWeights``: 1 + 0.1 x 50).
AREA_WEIGHT_CAP = 6.0
#: Weight components that grow with area alone.
AREA_COMPONENTS = ("w_protected", "w_river")


def blind_cells(
    weight: pd.Series, last_covered_at: pd.Series, as_of: pd.Timestamp, days: float
) -> np.ndarray:
    """Boolean mask: weight > 0 and not covered in ``(as_of - days, as_of]``."""
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=days)
    last = pd.to_datetime(last_covered_at, utc=True)
    stale = (last.isna() | (last <= cutoff)).to_numpy(bool)
    return (np.asarray(weight, dtype=float) > 0) & stale


def merge_neighbours(cells: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Component label of each cell when cells sharing an edge (and, if given, a group) are joined."""
    cells = np.asarray(cells, dtype=np.int64)
    if len(cells) == 0:
        return np.empty(0, dtype=np.int64)
    disks = [h3i.grid_disk(int(c), 1) for c in cells]
    sizes = np.fromiter(map(len, disks), dtype=np.int64, count=len(disks))
    neighbour = np.fromiter((n for disk in disks for n in disk), dtype=np.int64, count=int(sizes.sum()))
    source = np.repeat(np.arange(len(cells)), sizes)
    target = pd.Index(cells).get_indexer(neighbour)
    keep = target >= 0
    if groups is not None:
        groups = np.asarray(groups)
        keep[keep] = groups[source[keep]] == groups[target[keep]]
    graph = coo_matrix((np.ones(keep.sum()), (source[keep], target[keep])), shape=(len(cells), len(cells)))
    return connected_components(graph, directed=False)[1]


def road_distance_km(x_m: np.ndarray, y_m: np.ndarray, roads_metric: np.ndarray | None) -> np.ndarray:
    """Distance (km) from each metric point to the nearest road line; inf without roads."""
    if roads_metric is None or len(roads_metric) == 0:
        return np.full(len(x_m), np.inf)
    points = shapely.points(np.column_stack([x_m, y_m]))
    tree = shapely.STRtree(np.asarray(roads_metric))
    (point_idx, _), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
    result = np.full(len(x_m), np.inf)
    result[point_idx] = distance / 1000.0
    return result


def blind_spots(
    grid: pd.DataFrame,
    weights: pd.DataFrame,
    last_covered_at: pd.Series,
    as_of: pd.Timestamp,
    days: float = 90,
    roads_metric: np.ndarray | None = None,
    reachable_km: float = DEFAULT_REACHABLE_KM,
    top: int | None = None,
    split_by: str | None = "county_code",
) -> pd.DataFrame:
    """Blind spots ranked by ``rank_weight`` (rank 1 = most in need; see the module docstring).

    ``weights`` is :func:`coverage.weights.cell_weights` output and ``last_covered_at`` the
    :func:`coverage.covered.covered_cells` column, both aligned with ``grid``. Each row: ``rank``,
    ``total_weight``, ``cells``, ``area_km2``, the weight per component, the heaviest cell
    (``peak_h3``, ``lon``, ``lat``, its county and prefecture), ``counties`` touched,
    ``last_covered_at`` (latest among its cells; empty if never in the data), ``nearest_road_km``,
    ``farthest_road_km``, ``reachable``, ``in_reach_pct``, ``access`` and the member ``cells_h3``.
    ``split_by`` (a grid column, default the county) keeps spots inside one region; ``None`` merges
    across regions. ``rank_weight`` follows ``total_weight``.
    """
    mask = blind_cells(weights["weight"], last_covered_at, as_of, days)
    rows = np.flatnonzero(mask)
    members = grid.iloc[rows].reset_index(drop=True)
    members["weight"] = weights["weight"].to_numpy(float)[rows]
    for component in COMPONENTS:
        members[component] = weights[component].to_numpy(float)[rows]
    members["last_covered_at"] = pd.to_datetime(last_covered_at, utc=True).to_numpy()[rows]
    groups = members[split_by].astype(str).to_numpy() if split_by else None
    members["spot"] = merge_neighbours(members["cell"].to_numpy(), groups)
    members["road_km"] = road_distance_km(members["x_m"].to_numpy(), members["y_m"].to_numpy(), roads_metric)
    members["h3"] = [h3i.int_to_str(int(c)) for c in members["cell"]]
    members["weight_in_reach"] = np.where(members["road_km"] <= reachable_km, members["weight"], 0.0)

    grouped = members.groupby("spot")
    spots = grouped.agg(
        total_weight=("weight", "sum"),
        cells=("cell", "size"),
        area_km2=("area_km2", "sum"),
        **{component: (component, "sum") for component in COMPONENTS},
        last_covered_at=("last_covered_at", "max"),
        weight_in_reach=("weight_in_reach", "sum"),
        nearest_road_km=("road_km", "min"),
        farthest_road_km=("road_km", "max"),
    )
    peak = members.loc[grouped["weight"].idxmax().to_numpy()].set_index("spot")
    spots = spots.join(
        peak[["h3", "lon", "lat", "county_code", "county_name", "prefecture_code", "prefecture_name"]].rename(
            columns={"h3": "peak_h3"}
        )
    )
    spots["counties"] = grouped["county_name"].agg(lambda names: ";".join(sorted(set(names.dropna()))))
    spots["cells_h3"] = grouped["h3"].agg(list)
    spots["reachable"] = spots["nearest_road_km"] <= reachable_km
    spots["in_reach_pct"] = 100.0 * spots.pop("weight_in_reach") / spots["total_weight"]
    spots["access"] = np.select(
        [spots["in_reach_pct"] >= 100.0 - 1e-9, spots["reachable"]],
        [ACCESS_ROAD, ACCESS_PARTLY],
        ACCESS_REMOTE,
    )
    area_weight = spots[list(AREA_COMPONENTS)].sum(axis=1)
    spots.insert(
        1, "rank_weight", spots["total_weight"] - area_weight + area_weight.clip(upper=AREA_WEIGHT_CAP)
    )
    spots = spots.sort_values(
        ["rank_weight", "total_weight", "peak_h3"], ascending=[False, False, True]
    ).reset_index(drop=True)
    spots.insert(0, "rank", np.arange(1, len(spots) + 1))
    return spots.head(top) if top is not None else spots


def main(argv: list[str]) -> int:
    """``python -m coverage blindspots``: the heaviest places not covered for N days."""
    from coverage import inputs
    from layers.datasets import load_context
    from layers.schema import XINJIANG_METRIC_CRS

    parser = argparse.ArgumentParser(prog="python -m coverage blindspots", description=main.__doc__)
    parser.add_argument("--days", type=float, default=90, help="not covered for this many days (default 90)")
    parser.add_argument("--top", type=int, default=20, help="how many spots to list (default 20)")
    parser.add_argument("--as-of", help="last day counted (YYYY-MM-DD, local; default today)")
    parser.add_argument("--reachable-km", type=float, default=DEFAULT_REACHABLE_KM)
    parser.add_argument(
        "--lookback-days",
        type=float,
        default=365,
        help="read records this far back to date the last coverage",
    )
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    inputs.add_model_arguments(parser)
    args = parser.parse_args(argv)
    if args.days <= 0 or args.top <= 0 or args.reachable_km < 0:
        print("error: --days and --top must be positive and --reachable-km not negative", file=sys.stderr)
        return 2
    try:
        as_of_day = args.as_of or pd.Timestamp.now(tz="Asia/Shanghai").date().isoformat()
        _, as_of = inputs.period(as_of_day, as_of_day)
        since = as_of - pd.Timedelta(days=max(args.days, args.lookback_days))
        records = inputs.read_records(args.db, since, as_of, visit_since=since)
        model = inputs.model_for(args, as_of=as_of)
        covered = model.covered(records.visits, records.track_points)
        roads = load_context("roads")
        roads = roads[roads["in_xinjiang"].astype(bool)].to_crs(XINJIANG_METRIC_CRS).geometry.to_numpy()
        spots = blind_spots(
            model.grid,
            model.weights,
            covered["last_covered_at"],
            as_of,
            args.days,
            roads,
            args.reachable_km,
            args.top,
        )
    except (inputs.InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.format == "csv":
        spots = spots.assign(cells_h3=spots["cells_h3"].map(";".join))
    meta = {
        "as_of": as_of_day,
        "days": args.days,
        "resolution": args.resolution,
        "reachable_km": args.reachable_km,
    }
    inputs.write_table(spots, args.format, args.out, meta=meta, simulated=has_simulated(records.visits))
    return 0
