"""Benchmark: coverage of the whole of Xinjiang at H3 resolution 7 (~5 km² cells).

Synthetic but realistic load: one million GPS fixes (90 % vehicle tracks driven along the real
road layer at ~60 km/h with a fix every 30 s, 5 % foot and 5 % drone tracks wandering off a road)
and ten thousand visits at registry sites, spread over 90 days. The timed pipeline is what
``report`` and ``blindspots`` do after reading the records: grid (from the cache), attention
weights, covered cells, site accounting, statistics by county and by prefecture, blind spots with
road distances. Each run is a fresh process (so peak RSS is that run's own); the data are generated
once, before the runs, and are not timed.

    .venv/bin/python bench/bench_coverage.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coverage.blindspots import blind_spots  # noqa: E402
from coverage.covered import CoverageRadii, covered_cells  # noqa: E402
from coverage.grid import FINE_RESOLUTION, CellIndex, build_grid  # noqa: E402
from coverage.sites import day_start_utc, site_table  # noqa: E402
from coverage.stats import region_stats  # noqa: E402
from coverage.weights import cell_weights  # noqa: E402
from layers.datasets import load_context, load_targets  # noqa: E402
from layers.schema import XINJIANG_METRIC_CRS  # noqa: E402

SINCE, UNTIL = day_start_utc("2026-08-01"), day_start_utc("2026-10-30")
FIX_SECONDS, SPEED_KMH = 30, 60.0


def _road_walks(n_points: int, rng: np.random.Generator) -> pd.DataFrame:
    """Vehicle tracks: random walks on the road graph, one fix every 500 m along the edges."""
    roads = load_context("roads")
    roads = roads[roads["in_xinjiang"].astype(bool) & (roads["component"] == 0)]
    coords = roads.geometry.get_coordinates().to_numpy().reshape(-1, 2, 2)
    ends = np.concatenate([roads[["u", "v"]].to_numpy(), roads[["v", "u"]].to_numpy()])
    lines = np.concatenate([coords, coords[:, ::-1]])
    out_edges = pd.Series(np.arange(len(ends))).groupby(ends[:, 0]).agg(list).to_dict()
    step_km = SPEED_KMH * FIX_SECONDS / 3600
    km_per_deg = np.array([111.0 * np.cos(np.radians(42)), 111.0])
    frames, total, track = [], 0, 0
    while total < n_points:
        node = rng.choice(list(out_edges))
        length = int(rng.integers(200, 800))
        pts = []
        while len(pts) < length:
            edge = rng.choice(out_edges[node])
            (a, b), node = lines[edge], ends[edge, 1]
            km = float(np.hypot(*((b - a) * km_per_deg)))
            fractions = np.arange(0.0, 1.0, step_km / km) if km > 0 else np.array([0.0])
            pts.extend(a + np.outer(fractions, b - a))
        pts = np.array(pts[: min(length, n_points - total)])
        start = SINCE + pd.Timedelta(seconds=int(rng.integers(0, 85 * 86400)))
        frames.append(_frame(track, "vehicle", pts, start))
        total, track = total + len(pts), track + 1
    return pd.concat(frames, ignore_index=True)


def _frame(track: int, transport: str, pts: np.ndarray, start: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track_id": track,
            "team_id": f"T{track % 150:03d}",
            "transport": transport,
            "time": start + pd.to_timedelta(np.arange(len(pts)) * FIX_SECONDS, unit="s"),
            "lon": pts[:, 0],
            "lat": pts[:, 1],
        }
    )


def _wanders(
    n_points: int, transport: str, step_deg: float, first_track: int, anchors: np.ndarray, rng
) -> pd.DataFrame:
    """Foot or drone tracks: 250-fix random walks starting at random road points."""
    frames, total, track = [], 0, first_track
    while total < n_points:
        length = min(250, n_points - total)
        steps = rng.normal(0, step_deg, size=(length, 2))
        pts = anchors[rng.integers(len(anchors))] + np.cumsum(steps, axis=0)
        start = SINCE + pd.Timedelta(seconds=int(rng.integers(0, 85 * 86400)))
        frames.append(_frame(track, transport, pts, start))
        total, track = total + length, track + 1
    return pd.concat(frames, ignore_index=True)


def generate(path: Path, n_points: int, n_visits: int, seed: int = 7) -> None:
    """Write the synthetic fixes and visits to ``path`` (two parquet files)."""
    rng = np.random.default_rng(seed)
    vehicle = _road_walks(int(n_points * 0.9), rng)
    anchors = vehicle[["lon", "lat"]].to_numpy()
    first = int(vehicle["track_id"].max()) + 1
    foot = _wanders(int(n_points * 0.05), "foot", 0.0004, first, anchors, rng)
    drone = _wanders(n_points - len(vehicle) - len(foot), "drone", 0.001, first + 100_000, anchors, rng)
    pd.concat([vehicle, foot, drone], ignore_index=True).to_parquet(path / "points.parquet")
    targets = load_targets()
    where = targets.geometry.representative_point()
    pick = rng.integers(len(targets), size=n_visits)
    started = SINCE + pd.to_timedelta(rng.integers(0, 89 * 86400, size=n_visits), unit="s")
    visits = pd.DataFrame(
        {
            "visit_id": np.arange(n_visits),
            "site_id": targets["site_id"].to_numpy()[pick],
            "team_id": "T001",
            "started_at": started,
            "ended_at": started + pd.Timedelta(hours=1),
            "outcome": rng.choice(
                ["compliant", "violation", "not_inspected"], size=n_visits, p=[0.8, 0.1, 0.1]
            ),
            "source": rng.choice(["planned", "ad_hoc", "inferred"], size=n_visits, p=[0.7, 0.2, 0.1]),
            "lon": where.x.to_numpy()[pick] + rng.normal(0, 0.001, n_visits),
            "lat": where.y.to_numpy()[pick] + rng.normal(0, 0.001, n_visits),
        }
    )
    visits.to_parquet(path / "visits.parquet")


def run_once(path: Path) -> dict:
    """The timed pipeline on the generated data; returns stage seconds and peak RSS."""
    points = pd.read_parquet(path / "points.parquet")
    visits = pd.read_parquet(path / "visits.parquet")
    targets, rivers, lakes = load_targets(), load_context("rivers"), load_context("lakes")
    roads = load_context("roads")
    roads = roads[roads["in_xinjiang"].astype(bool)].to_crs(XINJIANG_METRIC_CRS).geometry.to_numpy()
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = round(now - clock, 3)
        clock = now

    start, cpu_start = clock, time.process_time()
    grid = build_grid(FINE_RESOLUTION)
    index = CellIndex(grid)
    lap("grid")
    weights = cell_weights(grid, targets, SINCE.date(), rivers, lakes, index=index)
    lap("weights")
    covered = covered_cells(grid, visits, points, CoverageRadii(), index)
    lap("covered")
    sites = site_table(targets, visits, SINCE, UNTIL)
    is_covered = covered["last_covered_at"].notna()
    by_county = region_stats(grid, weights["weight"], is_covered, sites, by="county")
    region_stats(grid, weights["weight"], is_covered, sites, by="prefecture")
    lap("stats")
    spots = blind_spots(grid, weights, covered["last_covered_at"], UNTIL, 30, roads)
    lap("blindspots")
    return {
        "seconds": round(time.perf_counter() - start, 3),
        "cpu_seconds": round(time.process_time() - cpu_start, 3),
        "stages": stages,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cells": len(grid),
        "weighted_cells": int((weights["weight"] > 0).sum()),
        "covered_cells": int(is_covered.sum()),
        "weighted_coverage_pct": round(float(by_county.iloc[-1]["weighted_coverage_pct"]), 2),
        "blind_spots": len(spots),
        "fixes": len(points),
        "visits": len(visits),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(Path(args.child))))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        clock = time.perf_counter()
        generate(Path(folder), args.points, args.visits)
        print(
            f"generated {args.points} fixes and {args.visits} visits in {time.perf_counter() - clock:.1f} s"
        )
        clock = time.perf_counter()
        build_grid(FINE_RESOLUTION, use_cache=False)
        print(f"cold grid build (res {FINE_RESOLUTION}, no cache): {time.perf_counter() - clock:.1f} s")
        build_grid(FINE_RESOLUTION)  # make sure the cache exists for the timed runs
        results = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--child", folder], check=True, capture_output=True, text=True
            )
            results.append(json.loads(out.stdout))
            print(json.dumps(results[-1]))
    seconds = [r["seconds"] for r in results]
    cpu = [r["cpu_seconds"] for r in results]
    rss = [r["peak_rss_mb"] for r in results]
    print(
        f"median {statistics.median(seconds):.2f} s wall (runs {seconds}), "
        f"median {statistics.median(cpu):.2f} s CPU; peak RSS max {max(rss):.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
