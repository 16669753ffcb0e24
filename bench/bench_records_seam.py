"""What the records' engine seam costs: the same statements through ``records.backend`` and raw.

For PostgreSQL: ``PostgresConnection.execute`` (placeholder rewrite, rows readable by name) against
psycopg's own ``execute`` with tuple rows, on the read the Plan week page's job panel makes and on a
point lookup. (On SQLite the seam adds nothing: the
records' connection *is* a ``sqlite3.Connection``.) Prints one JSON line of microseconds per
statement (median of ``--runs`` runs of ``--n`` statements).

    .venv/bin/python bench/bench_records_seam.py --db postgresql://xunhu@127.0.0.1:54329/xunhu
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from records.db import connect  # noqa: E402

STATEMENTS = {
    "point lookup": ("SELECT * FROM accounts WHERE username = ?", ("nobody",)),
    "job panel read": (
        "SELECT job_id, state, attempts, progress FROM solve_jobs WHERE state IN (?, ?) ORDER BY job_id",
        ("queued", "running"),
    ),
}


def per_statement_us(run, n: int, runs: int) -> float:
    """Median over ``runs`` of the mean time of one call of ``run`` (n calls per run), in µs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            run()
        times.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(times), 1)


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--db", required=True, help="postgresql:// URL (a migrated records database)")
    cli.add_argument("--n", type=int, default=2000)
    cli.add_argument("--runs", type=int, default=5)
    args = cli.parse_args()
    import psycopg

    conn = connect(args.db)
    plain = psycopg.connect(args.db, autocommit=True)  # psycopg's defaults: tuple rows, %s
    result = {}
    for name, (sql, params) in STATEMENTS.items():
        pyformat = sql.replace("?", "%s")
        seam = per_statement_us(lambda s=sql, p=params: conn.execute(s, p).fetchall(), args.n, args.runs)
        direct = per_statement_us(
            lambda s=pyformat, p=params: plain.execute(s, p).fetchall(), args.n, args.runs
        )
        result[name] = {"seam_us": seam, "raw_psycopg_us": direct, "overhead_us": round(seam - direct, 1)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
