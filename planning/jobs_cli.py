"""``python -m planning jobs [--db DB] [--state S] [--limit N] | show ID | cancel ID``: the solve queue.

Without an action: the newest jobs, one line each (id, state, attempts, worker, plan, last progress
line or error). ``show ID`` prints one job with its progress lines; ``cancel ID`` cancels a queued or
running job (its worker stops at its next heartbeat). See docs/queue.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import closing

from planning import jobs
from records.backend import database_errors
from records.db import connect, db_target, exists


def job_line(job: jobs.Job, position: int | None = None) -> str:
    """One line saying where a job is: queued (with its place), running (last progress), finished."""
    if job.state == "queued":
        ahead = f", {position} ahead" if position else ""
        retry = f" (attempt {job.attempts + 1})" if job.attempts else ""
        return f"job {job.job_id}: queued{ahead}{retry}"
    if job.state == "running":
        last = (job.progress_lines() or ["starting"])[-1]
        return f"job {job.job_id}: running on {job.worker} (attempt {job.attempts}): {last}"
    if job.state == "done":
        return f"job {job.job_id}: done, plan {job.plan_id}"
    return f"job {job.job_id}: {job.state}" + (f": {job.error}" if job.error else "")


def follow(
    conn, job_id: int, say: Callable[[str], None], poll_s: float = 1.0, timeout_s: float | None = None
) -> jobs.Job:
    """Poll a job until it finishes, saying each new progress line; return the finished job."""
    seen: list[str] = []
    last: tuple | None = None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        job = jobs.get_job(conn, job_id)
        if (job.state, job.attempts) != last:
            if job.state == "running":
                say(f"job {job.job_id}: running on {job.worker} (attempt {job.attempts})")
                seen = []  # a new attempt starts its progress afresh
            elif not job.finished:
                say(job_line(job, jobs.queue_position(conn, job)))
            last = (job.state, job.attempts)
        lines = job.progress_lines()
        # The column keeps the newest lines: print those not printed yet.
        overlap = next((k for k in range(min(len(seen), len(lines)), 0, -1) if seen[-k:] == lines[:k]), 0)
        for line in lines[overlap:]:
            say(f"  {line}")
        seen = lines
        if job.finished:
            say(job_line(job))
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.state} after {timeout_s:g} s")
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jobs`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning jobs", description=__doc__.split("\n")[0])
    parser.add_argument("action", nargs="?", choices=("list", "show", "cancel"), default="list")
    parser.add_argument("job_id", nargs="?", type=int)
    parser.add_argument("--db", help="records database (SQLite file or postgresql:// URL; default $XUNHU_DB)")
    parser.add_argument("--state", action="append", choices=jobs.STATES, help="only jobs in this state")
    parser.add_argument("--limit", type=int, default=30, help="how many of the newest jobs (default 30)")
    args = parser.parse_args(argv)
    if args.action in ("show", "cancel") and args.job_id is None:
        print(f"error: {args.action} needs a job id", file=sys.stderr)
        return 2
    if not exists(args.db):
        print(f"error: no records database at {db_target(args.db)}", file=sys.stderr)
        return 2
    try:
        with closing(connect(args.db)) as conn:
            if args.action == "list":
                frame = jobs.list_jobs(conn, args.state, args.limit)
                if frame.empty:
                    print("no solve jobs")
                for row in frame.itertuples():
                    what = row.error if row.state == "failed" else row.progress
                    plan = f"plan {int(row.plan_id)}" if row.plan_id == row.plan_id and row.plan_id else ""
                    print(
                        f"{row.job_id:>6} {row.state:9} {row.attempts}/{row.max_attempts} "
                        f"{row.submitted_at} {row.submitted_by:12} {row.worker or '-':24} {plan:10} "
                        f"{(what or '').splitlines()[0] if what else ''}"
                    )
                return 0
            if args.action == "cancel":
                job = jobs.cancel(conn, args.job_id)
                print(job_line(job))
                return 0
            job = jobs.get_job(conn, args.job_id)
            print(job_line(job, jobs.queue_position(conn, job)))
            print(f"  submitted {job.submitted_at} by {job.submitted_by}; time limit {job.time_limit_s:g} s")
            for line in job.progress_lines():
                print(f"  {line}")
            return 0
    except jobs.JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except database_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
