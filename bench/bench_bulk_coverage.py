"""Benchmark: the coverage report by prefecture over one year of GPS tracks, computed in PostGIS.

**All data here is SIMULATED** (``tracks.simulated = 1``, source file ``SIMULATED bench``): one team
at each of the 101 county seats of ``data/geo/county_seats.csv``, driving on every working day
(Monday-Friday) of 2026 along the real road layer (``data/geo/roads.geojson``, random walks out from
the seat and back the same way) at 45-75 km/h with a fix every 30 s: about 6.5 hours of driving a
day with, on half the days, a one-hour lunch stop without fixes (a gap longer than 15 minutes, so
the track is broken there). One day in ten also has a short drone flight and one in ten a foot
patrol (30 minutes each) near the farthest point of the day. In all about 21 million fixes.

Two steps:

    # (re)create the bench database and load the year via COPY (a few minutes)
    .venv/bin/python bench/bench_bulk_coverage.py --load
    # time the report by prefecture over the year: median of N fresh processes
    .venv/bin/python bench/bench_bulk_coverage.py --measure --runs 3

``--admin`` is a superuser URL of the local server (default ``$XUNHU_PG_ADMIN`` or
``postgresql://postgres@127.0.0.1:54329/postgres``); the bench database is ``bench_coverage``,
cloned from ``xunhu_template`` and owned by ``xunhu``.

Loading bypasses the application on purpose: rows go in with ``COPY`` as the superuser with
``session_replication_role = replica`` (no foreign-key trigger per row) and the two secondary
indexes of ``track_points`` (time, GiST on geom) are dropped before and rebuilt after the load. No
audit entries are written, so these tracks are not sealed by the audit chain; this bench measures
the query, not the importer (``bench/bench_records_import.py`` measures that).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers.datasets import data_path, load_context  # noqa: E402
from records.backend import url_with_database  # noqa: E402

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:54329/postgres"
DATABASE = "bench_coverage"
OWNER = "xunhu"
YEAR = 2026
FIX_SECONDS = 30
LOCAL = timedelta(hours=8)
#: Kilometres per degree of longitude / latitude at 42° N (good enough for spacing fixes).
KM_PER_DEG = np.array([111.32 * np.cos(np.radians(42.0)), 110.95])


def admin_url(args: argparse.Namespace) -> str:
    return args.admin or os.environ.get("XUNHU_PG_ADMIN") or DEFAULT_ADMIN


def owner_url(admin: str) -> str:
    return url_with_database(admin, DATABASE).replace("//postgres@", f"//{OWNER}@", 1)


class RoadWalker:
    """Random walks on the road graph of Xinjiang (largest connected component)."""

    def __init__(self) -> None:
        roads = load_context("roads")
        roads = roads[roads["in_xinjiang"].astype(bool) & (roads["component"] == 0)]
        coords = roads.geometry.get_coordinates().to_numpy()
        starts = roads.geometry.apply(lambda g: len(g.coords)).to_numpy()
        # Every road edge as its own polyline; walked either way.
        self.lines: list[np.ndarray] = []
        offset = 0
        for n in starts:
            self.lines.append(coords[offset : offset + n])
            offset += n
        u, v = roads["u"].to_numpy(), roads["v"].to_numpy()
        self.out: dict[int, list[tuple[int, bool, int]]] = {}
        for i, (a, b) in enumerate(zip(u, v, strict=True)):
            self.out.setdefault(int(a), []).append((i, False, int(b)))
            self.out.setdefault(int(b), []).append((i, True, int(a)))
        node_xy = {}
        for i, (a, b) in enumerate(zip(u, v, strict=True)):
            node_xy[int(a)] = self.lines[i][0]
            node_xy[int(b)] = self.lines[i][-1]
        self.nodes = np.array(list(node_xy))
        self.node_xy = np.array([node_xy[n] for n in self.nodes])

    def nearest_node(self, lon: float, lat: float) -> int:
        d = ((self.node_xy - (lon, lat)) * KM_PER_DEG) ** 2
        return int(self.nodes[np.argmin(d.sum(axis=1))])

    def walk(self, node: int, km: float, rng: np.random.Generator) -> np.ndarray:
        """A polyline (lon, lat) of at least ``km`` along random edges from ``node`` (no U-turns)."""
        parts, total, previous = [], 0.0, -1
        while total < km:
            choices = [c for c in self.out[node] if c[0] != previous] or self.out[node]
            edge, reverse, node = choices[int(rng.integers(len(choices)))]
            line = self.lines[edge][::-1] if reverse else self.lines[edge]
            parts.append(line if not parts else line[1:])
            total += float(np.hypot(*(np.diff(line, axis=0) * KM_PER_DEG).T).sum())
            previous = edge
        return np.concatenate(parts)


def along(line: np.ndarray, distances_km: np.ndarray) -> np.ndarray:
    """Points at the given distances along a polyline (clamped to its end)."""
    step = np.hypot(*(np.diff(line, axis=0) * KM_PER_DEG).T)
    cumulative = np.concatenate([[0.0], np.cumsum(step)])
    return np.column_stack(
        [np.interp(distances_km, cumulative, line[:, 0]), np.interp(distances_km, cumulative, line[:, 1])]
    )


def working_days(year: int) -> list[date]:
    day, days = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def simulate_team_year(
    team: str, base: tuple[float, float], walker: RoadWalker, rng: np.random.Generator, first_id: int
) -> tuple[list[tuple], list[pd.DataFrame]]:
    """One team's year: track rows (id, team, transport, start, end, n) and their fixes."""
    tracks, points = [], []
    home = walker.nearest_node(*base)
    track_id = first_id
    for day in working_days(YEAR):
        speed = rng.uniform(45.0, 75.0)  # km/h, the day's average
        half = int(rng.integers(350, 430))  # fixes each way: 5.8-7.2 h of driving a day
        n = 2 * half
        out_km = half * FIX_SECONDS / 3600 * speed
        route = walker.walk(home, out_km, rng)
        km = np.arange(half) * (FIX_SECONDS / 3600 * speed)
        outward = along(route, km)
        xy = np.concatenate([outward, outward[::-1]])
        xy += rng.normal(0.0, 5e-5, size=xy.shape)  # ~5 m GPS noise
        start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC) - LOCAL
        start += timedelta(minutes=int(rng.integers(0, 60)))
        t = int(start.timestamp()) + np.arange(n) * FIX_SECONDS
        if rng.random() < 0.5:  # a one-hour lunch stop with the receiver off
            t[half:] += 3600
        tracks.append((track_id, team, "vehicle", int(t[0]), int(t[-1]), n))
        points.append(pd.DataFrame({"track_id": track_id, "time_s": t, "lon": xy[:, 0], "lat": xy[:, 1]}))
        track_id += 1
        far = outward[-1]
        for transport, probability, step_deg in (("drone", 0.1, 0.002), ("foot", 0.1, 0.0003)):
            if rng.random() < probability:
                m = 60
                path = far + np.cumsum(rng.normal(0.0, step_deg, size=(m, 2)), axis=0)
                t0 = int(t[half]) + 600
                tt = t0 + np.arange(m) * FIX_SECONDS
                tracks.append((track_id, team, transport, int(tt[0]), int(tt[-1]), m))
                points.append(
                    pd.DataFrame({"track_id": track_id, "time_s": tt, "lon": path[:, 0], "lat": path[:, 1]})
                )
                track_id += 1
    return tracks, points


def utc_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load(admin: str, seed: int = 2026) -> dict:
    """Recreate the bench database and COPY a simulated year into it; return the load figures."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE} TEMPLATE xunhu_template OWNER {OWNER}")
    from records.db import connect

    connect(owner_url(admin)).close()  # migrate to the current schema, as the app would
    seats = pd.read_csv(data_path("geo/county_seats.csv"))
    walker = RoadWalker()
    rng = np.random.default_rng(seed)
    figures = {"teams": len(seats)}
    began = time.perf_counter()
    n_tracks = n_points = 0
    generate_s = copy_s = 0.0
    with psycopg.connect(url_with_database(admin, DATABASE), autocommit=True) as conn:
        conn.execute("DROP INDEX track_points_time")
        conn.execute("DROP INDEX track_points_geom")
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL synchronous_commit = off")
            next_id = 1
            for i, seat in enumerate(seats.itertuples()):
                t0 = time.perf_counter()
                team = f"SIM-{seat.adcode}"
                tracks, points = simulate_team_year(team, (seat.lon, seat.lat), walker, rng, next_id)
                frame = pd.concat(points, ignore_index=True)
                frame.insert(1, "seq", frame.groupby("track_id").cumcount())
                track_text = io.StringIO()
                for tid, tm, transport, t_start, t_end, n in tracks:
                    track_text.write(
                        f"{tid}\t{tm}\t{transport}\tsim-bulk-{seed}-{tid}\tSIMULATED bench\t"
                        f"SIMULATED {tm} {utc_text(t_start)[:10]}\t{utc_text(t_start)}\t{utc_text(t_end)}\t"
                        f"{n}\t0\t1\t{utc_text(t_start)}\tbench_bulk_coverage\n"
                    )
                points_text = frame.to_csv(sep="\t", header=False, index=False, float_format="%.7f")
                t1 = time.perf_counter()
                with conn.cursor().copy(
                    "COPY tracks (track_id, team_id, transport, content_sha256, source_file, name, "
                    "started_at, ended_at, n_points, n_dropped, simulated, imported_at, imported_by) "
                    "FROM STDIN"
                ) as copy:
                    copy.write(track_text.getvalue())
                with conn.cursor().copy(
                    "COPY track_points (track_id, seq, time_s, lon, lat) FROM STDIN"
                ) as copy:
                    copy.write(points_text)
                t2 = time.perf_counter()
                generate_s += t1 - t0
                copy_s += t2 - t1
                next_id = tracks[-1][0] + 1
                n_tracks += len(tracks)
                n_points += len(frame)
                if i % 10 == 0:
                    print(f"  team {i + 1}/{len(seats)}: {n_points:,} fixes", file=sys.stderr, flush=True)
        t3 = time.perf_counter()
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('tracks', 'track_id'), (SELECT max(track_id) FROM tracks))"
        )
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE INDEX track_points_time ON track_points(time_s)")
        conn.execute("CREATE INDEX track_points_geom ON track_points USING gist (geom)")
        t4 = time.perf_counter()
        conn.execute("VACUUM ANALYZE tracks")
        conn.execute("VACUUM ANALYZE track_points")
        t5 = time.perf_counter()
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('track_points'))").fetchone()[0]
    figures.update(
        tracks=n_tracks,
        fixes=n_points,
        generate_s=round(generate_s, 1),
        copy_s=round(copy_s, 1),
        index_s=round(t4 - t3, 1),
        vacuum_analyze_s=round(t5 - t4, 1),
        total_s=round(t5 - began, 1),
        track_points_size=size,
    )
    return figures


def one_run(url: str, since: str, until: str, resolution: int, workers: int) -> dict:
    """One timed report by prefecture (in this process); wall time, CPU time, peak RSS."""
    from coverage.bulk import prefecture_report

    began, cpu = time.perf_counter(), time.process_time()
    table, timings = prefecture_report(url, since, until, resolution=resolution, workers=workers)
    wall = time.perf_counter() - began
    total = table[table["prefecture_code"] == "total"].iloc[0]
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages_s": {k: round(v, 2) for k, v in timings.items()},
        "prefectures": int(len(table) - 1),
        "cells_covered_by_tracks": int(table.attrs["cells_covered_by_tracks"]),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "weighted_coverage_pct": round(float(total["weighted_coverage_pct"]), 2),
        "area_coverage_pct": round(float(total["area_coverage_pct"]), 2),
    }


def measure(admin: str, runs: int, since: str, until: str, resolution: int, workers: int) -> dict:
    """``runs`` fresh processes each timing one report; the median and every run."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one-run",
                "--since",
                since,
                "--until",
                until,
                "--admin",
                admin,
                "--resolution",
                str(resolution),
                "--workers",
                str(workers),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    import psycopg

    with psycopg.connect(owner_url(admin)) as conn:
        fixes = conn.execute("SELECT count(*) FROM track_points").fetchone()[0]
        names = (
            "shared_buffers",
            "work_mem",
            "hash_mem_multiplier",
            "max_parallel_workers_per_gather",
            "jit",
        )
        settings = {name: conn.execute(f"SELECT current_setting('{name}')").fetchone()[0] for name in names}
        settings["work_mem (set by coverage.bulk per connection)"] = "64MB"
    walls = [r["wall_s"] for r in results]
    return {
        "fixes_in_db": fixes,
        "median_wall_s": statistics.median(walls),
        "walls_s": walls,
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "server_settings": settings,
        "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--load", action="store_true", help="recreate the bench database and load a year")
    parser.add_argument("--measure", action="store_true", help="time the report by prefecture")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--since", default=f"{YEAR}-01-01")
    parser.add_argument("--until", default=f"{YEAR}-12-31")
    parser.add_argument("--resolution", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="connections working in parallel")
    parser.add_argument("--admin", help="superuser URL (default $XUNHU_PG_ADMIN or the local server)")
    args = parser.parse_args()
    admin = admin_url(args)
    if args.one_run:
        print(json.dumps(one_run(owner_url(admin), args.since, args.until, args.resolution, args.workers)))
        return
    if not (args.load or args.measure):
        parser.error("give --load and/or --measure")
    if args.load:
        print(json.dumps({"load": load(admin)}, indent=1))
    if args.measure:
        print(
            json.dumps(
                {"measure": measure(admin, args.runs, args.since, args.until, args.resolution, args.workers)},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
