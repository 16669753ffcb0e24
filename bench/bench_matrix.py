"""Benchmark: road travel matrices over the whole of Xinjiang (planning.travel).

For n = 200 and 1,000 random points, in two sets: *near roads* (a random main-component road
node moved by a few km) and *anywhere* (uniform inside the Xinjiang outline), it measures

* the wall time (and process CPU time, less sensitive to other load on the machine) of ``travel_matrix(points, network, use_cache=False)`` (snapping, Dijkstra from
  every point, km along the fastest paths, symmetrising): median of ``--runs`` runs;
* the peak memory of one such run (``tracemalloc``, which sees numpy's buffers; "peak MiB");
* the time of a disk-cache hit, and the one-off time to build the road network.

Run: ``.venv/bin/python bench/bench_matrix.py [--runs 5]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers.datasets import load_context  # noqa: E402
from layers.schema import XINJIANG_METRIC_CRS  # noqa: E402
from planning.roads import build_road_network  # noqa: E402
from planning.travel import travel_matrix  # noqa: E402


def near_roads(network, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points a few km (sd 0.03 degrees) from random main-component road nodes inside Xinjiang."""
    province = load_context("province").union_all()
    inside = shapely.contains_xy(province, network.node_lonlat[:, 0], network.node_lonlat[:, 1])
    nodes = np.flatnonzero((network.node_component == 0) & inside)
    return network.node_lonlat[rng.choice(nodes, n)] + rng.normal(0, 0.03, (n, 2))


def anywhere(n: int, rng: np.random.Generator) -> np.ndarray:
    """Points uniform (by area) inside the Xinjiang outline."""
    province = load_context("province").to_crs(XINJIANG_METRIC_CRS)
    sample = province.sample_points(n, rng=rng).explode(index_parts=False)
    return gpd.GeoSeries(sample, crs=XINJIANG_METRIC_CRS).to_crs(4326).get_coordinates().to_numpy()


def frame(coords: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"p{i}" for i in range(len(coords))], "lon": coords[:, 0], "lat": coords[:, 1]}
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    os.environ["XUNHU_CACHE_DIR"] = tempfile.mkdtemp(prefix="xunhu-bench-cache-")

    start = time.perf_counter()
    roads = load_context("roads")
    network = build_road_network(roads)
    network.csr_minutes  # noqa: B018  (built lazily; count it in the one-off cost)
    build_s = time.perf_counter() - start
    print(f"road network: {network.n_nodes} nodes, {len(network.edge_km)} edges, built in {build_s:.2f} s")

    rng = np.random.default_rng(args.seed)
    print(
        "| n x n | points | reachable | median wall s (runs) | min-max wall s | median CPU s | peak MiB | cache hit s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in (200, 1000):
        for label, coords in (("near roads", near_roads(network, n, rng)), ("anywhere", anywhere(n, rng))):
            points = frame(coords)
            times, cpu_times = [], []
            for _ in range(args.runs):
                start, cpu_start = time.perf_counter(), time.process_time()
                matrix = travel_matrix(points, network, use_cache=False)
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
            tracemalloc.start()
            travel_matrix(points, network, use_cache=False)
            peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            travel_matrix(points, network)  # fill the cache
            start = time.perf_counter()
            travel_matrix(points, network)
            hit_s = time.perf_counter() - start
            print(
                f"| {n} x {n} | {label} | {int(matrix.reachable.sum())} | {statistics.median(times):.2f} "
                f"({args.runs}) | {min(times):.2f}-{max(times):.2f} | {statistics.median(cpu_times):.2f} | "
                f"{peak_mib:.0f} | {hit_s:.3f} |"
            )
    max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS: {max_rss_mib:.0f} MiB; CPUs: {os.cpu_count()}; load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
