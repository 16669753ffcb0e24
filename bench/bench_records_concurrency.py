"""Concurrent writers on the records database: do two processes lose any visit?

Starts ``--writers`` processes (default 2) that wait on a shared start signal, then each records
visits one transaction at a time, for ``--seconds`` (default 60) or ``--visits`` each. Afterwards the
parent checks that every visit each writer reported is in the database exactly once, and prints one
JSON line with the counts and write rates. Exit status 1 if anything was lost.

    .venv/bin/python bench/bench_records_concurrency.py --seconds 60
    .venv/bin/python bench/bench_records_concurrency.py --writers 10 --seconds 60 --db postgresql://...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from records.store import open_store  # noqa: E402
from records.visits import Visit  # noqa: E402


def write_visits(db: str, name: str, go: Path, seconds: float | None, visits: int | None) -> dict:
    """Writer process body: wait for ``go`` to exist, then record visits; return what it wrote."""
    store = open_store(db)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    start = time.monotonic()
    written = 0
    moment = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    while (visits is None or written < visits) and (seconds is None or time.monotonic() - start < seconds):
        store.record_visit(
            Visit(
                site_id=f"{name}-{written}",
                team_id=name,
                started_at=moment,
                ended_at=moment + timedelta(minutes=30),
                outcome="compliant",
                officers=(name,),
                lon=87.6,
                lat=43.8,
            ),
            actor=name,
        )
        written += 1
    elapsed = time.monotonic() - start
    store.close()
    return {"writer": name, "written": written, "seconds": round(elapsed, 2)}


def run(db: str, writers: int, seconds: float | None, visits: int | None, scratch: Path) -> dict:
    """Run the writers against ``db`` (a SQLite file or a PostgreSQL URL) and verify the result;
    return the summary. ``scratch`` holds the start signal file."""
    open_store(db).close()  # create and migrate once, before the race
    go = scratch / "go"
    limit = ["--seconds", str(seconds)] if seconds is not None else ["--visits", str(visits)]
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", f"W{i}", "--db", str(db), "--go", str(go), *limit],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    go.touch()
    reports = [json.loads(process.communicate()[0]) for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit("a writer failed")
    with open_store(db) as store:
        stored = store.visits()
        audit = store.audit_log(action="visit.record")
    missing = 0
    for report in reports:
        expected = {f"{report['writer']}-{i}" for i in range(report["written"])}
        mine = stored[stored["team_id"] == report["writer"]]["site_id"]
        missing += len(expected - set(mine)) + (len(mine) - len(set(mine)))
    return {
        "writers": writers,
        "written": sum(r["written"] for r in reports),
        "stored": len(stored),
        "audit_entries": len(audit),
        "missing_or_duplicated": missing,
        "visits_per_second": round(sum(r["written"] / r["seconds"] for r in reports), 1),
        "per_writer": reports,
    }


def main() -> int:
    """Command line (see module docstring)."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--writers", type=int, default=2)
    cli.add_argument("--seconds", type=float)
    cli.add_argument("--visits", type=int)
    cli.add_argument("--db", help="SQLite file or postgresql:// URL (default: a new temporary file)")
    cli.add_argument("--worker", help=argparse.SUPPRESS)
    cli.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = cli.parse_args()
    seconds = args.seconds if args.seconds is not None or args.visits is not None else 60.0
    if args.worker:
        print(json.dumps(write_visits(args.db, args.worker, args.go, seconds, args.visits)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        summary = run(
            args.db or str(Path(tmp) / "bench.sqlite"), args.writers, seconds, args.visits, Path(tmp)
        )
    print(json.dumps(summary))
    ok = (
        summary["missing_or_duplicated"] == 0
        and summary["stored"] == summary["written"] == summary["audit_entries"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
