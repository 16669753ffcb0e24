"""Large GPX imports: how long they take, and what a SIGKILL at a random moment leaves behind.

Writes a GPX of ``--points`` fixes (one every 5 s, a drive across the Urumqi area with stops),
imports it ``--runs`` times into fresh databases (with visit inference against the registry) and
reports the median seconds. Then ``--kills`` times: start the CLI import of the same file in a
subprocess, SIGKILL it after a random delay within the import proper (after the measured start-up
time of the CLI, before start-up plus the measured import time), and check that the database is
exactly as before (same SQL dump) and passes ``PRAGMA integrity_check``.

    .venv/bin/python bench/bench_records_import.py --points 100000 --runs 3 --kills 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy.gpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from records.infer import registry_sites  # noqa: E402
from records.store import open_store  # noqa: E402


def write_big_gpx(path: Path, points: int, seed: int = 0) -> None:
    """A plausible long track: a random walk at 0-60 km/h around Urumqi, one fix every 5 s."""
    rng = np.random.default_rng(seed)
    speed_mps = np.where(rng.random(points) < 0.3, 0.0, rng.uniform(3, 16, points))
    heading = np.cumsum(rng.normal(0, 0.2, points))
    step_m = speed_mps * 5
    lat = 43.8 + np.cumsum(step_m * np.cos(heading)) / 111_000
    lon = 87.6 + np.cumsum(step_m * np.sin(heading)) / (111_000 * np.cos(np.radians(43.8)))
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="bench")
    segment = gpxpy.gpx.GPXTrackSegment()
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    for i in range(points):
        segment.points.append(gpxpy.gpx.GPXTrackPoint(lat[i], lon[i], time=start + timedelta(seconds=5 * i)))
    track.segments.append(segment)
    gpx.tracks.append(track)
    path.write_text(gpx.to_xml(), encoding="utf-8")


def dump(db: Path) -> str:
    """The database as SQL text."""
    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def main() -> int:
    """Command line (see module docstring)."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--points", type=int, default=100_000)
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--kills", type=int, default=10)
    args = cli.parse_args()
    sites = registry_sites()
    with tempfile.TemporaryDirectory() as tmp:
        gpx = Path(tmp) / "big.gpx"
        write_big_gpx(gpx, args.points)
        gpx_mb = round(gpx.stat().st_size / 1e6, 1)
        seconds = []
        for run in range(args.runs):
            with open_store(Path(tmp) / f"run{run}.sqlite") as store:
                started = time.perf_counter()
                result = store.import_gpx(gpx, "T1", infer_with=sites)
                seconds.append(time.perf_counter() - started)
        track = result.tracks[0]
        db = Path(tmp) / "kill.sqlite"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import records.cli.import_gpx; records.infer.registry_sites()"],
            cwd=REPO,
            check=True,
        )
        startup = time.perf_counter() - started
        open_store(db).close()
        before = dump(db)
        survived = []
        for _ in range(args.kills):
            env = {**os.environ, "XUNHU_DB": str(db)}
            process = subprocess.Popen(
                [sys.executable, "-m", "records", "import-gpx", str(gpx), "--team", "T1"],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Kill between the end of start-up (imports, registry) and the end of a normal import.
            delay = random.uniform(startup, startup + statistics.median(seconds))
            time.sleep(delay)
            finished = process.poll() is not None
            process.send_signal(signal.SIGKILL)
            process.wait()
            conn = sqlite3.connect(db)
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
            same = dump(db) == before
            survived.append(
                {
                    "delay_s": round(delay, 2),
                    "finished_before_kill": finished,
                    "integrity_ok": ok,
                    "unchanged": same,
                }
            )
            if finished:
                break  # the import completed: the next kills would test nothing new
    summary = {
        "points": args.points,
        "gpx_mb": gpx_mb,
        "import_seconds_median": round(statistics.median(seconds), 2),
        "import_seconds_runs": [round(s, 2) for s in seconds],
        "cli_startup_seconds": round(startup, 2),
        "stored_points": track.n_points,
        "dropped": track.n_dropped,
        "inferred_visits": track.inferred_visits,
        "kills": survived,
    }
    print(json.dumps(summary))
    return (
        0 if all(k["integrity_ok"] and (k["unchanged"] or k["finished_before_kill"]) for k in survived) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
