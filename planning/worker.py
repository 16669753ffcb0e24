"""``python -m planning worker [--db DB] [--once] [--exit-when-idle] [--poll-s S] [--lease-s S]``: run solve jobs.

A worker claims jobs from the queue in the records database (:mod:`planning.jobs`), one at a time,
and runs each solve in a child process it can kill: the worker itself only renews the job's lease and
writes its progress every few seconds, enforces the job's time limit (the child is killed and the job
fails with "time limit exceeded") and stops a job that was cancelled. The child is forked from the
worker after the registry and the road network are loaded, so each solve starts at once; it dies with
its worker (``PR_SET_PDEATHSIG``, and a watch on the parent as a fallback), so a ``kill -9`` of the
worker leaves nothing running: the job's lease lapses and another worker retries it.

Run as many workers as there are cores to spare, on any machines that reach the database (a
PostgreSQL URL in ``--db`` or ``$XUNHU_DB``). ``--exit-when-idle`` makes a worker stop once the queue
has been empty for ``--idle-s`` seconds: the local pool the dashboard and ``planning plan --queue``
start on one machine (:func:`ensure_local_workers`) runs such workers.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from planning import jobs
from records.backend import database_errors, is_postgresql
from records.db import connect, db_target

#: Seconds the worker waits for the child to stop after SIGTERM before SIGKILL.
KILL_GRACE_S = 2.0
DEFAULT_POLL_S = 1.0
DEFAULT_IDLE_S = 10.0
#: Scheduling niceness of a solve (0-19): a machine that also serves the dashboard answers first.
DEFAULT_NICE = 10

Say = Callable[[str], None]


# --- the child: one solve ------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """Make this (child) process end when its parent does, even on the parent's SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def solve_request(request: dict, time_limit_s: float, say: Say) -> dict:
    """Solve a ``plan`` request (see :func:`planning.jobs.plan_request`); return the plan mapping."""
    from planning.patrol import plan_week
    from planning.scenario import parse_scenario

    scenario = parse_scenario(request["scenario"])
    closures = tuple(jobs.closure_from_dict(c) for c in request.get("closures") or [])
    seconds, effort, note = jobs.solver_budget(request, time_limit_s)
    if note:
        say(note)
    plan = plan_week(
        scenario,
        network=None if request.get("travel") == "great_circle" else "default",
        closures=closures,
        seconds=seconds,
        effort=effort,
        progress=say,
    )
    return plan.to_dict()


def _child(connection, parent: int, request: dict, time_limit_s: float, nice: int) -> None:
    _die_with_parent(parent)
    if nice:
        os.nice(nice)  # interactive work (the dashboard) on the same machine goes first
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lock = threading.Lock()  # the search reports from several threads; one message at a time

    def say(line: str) -> None:
        with lock:
            connection.send(("progress", str(line)))

    try:
        plan = solve_request(request, time_limit_s, say)
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the worker as the job's error
        from planning.scenario import ScenarioError

        if isinstance(exc, ScenarioError):
            message = f"scenario: {exc}"
        elif isinstance(exc, ValueError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        connection.send(("error", message))
    else:
        connection.send(("done", plan))
    connection.close()


# --- the worker -----------------------------------------------------------------------------------
class Worker:
    """A worker on one records database (see the module docstring)."""

    def __init__(
        self,
        db: str | Path | None = None,
        *,
        lease_s: float = jobs.DEFAULT_LEASE_S,
        poll_s: float = DEFAULT_POLL_S,
        heartbeat_s: float | None = None,
        name: str | None = None,
        nice: int = DEFAULT_NICE,
        say: Say = print,
    ) -> None:
        self.db = db_target(db)
        self.lease_s = float(lease_s)
        self.poll_s = float(poll_s)
        # Several heartbeats per lease, so one slow write does not lose the job.
        self.heartbeat_s = float(heartbeat_s) if heartbeat_s else max(0.2, min(2.0, self.lease_s / 4))
        self.name = name or jobs.worker_id()
        self.nice = int(nice)
        self.say = say
        self.stopping = False
        self.conn = connect(self.db)

    def close(self) -> None:
        self.conn.close()

    def _reconnect(self) -> None:
        try:
            self.conn.close()
        except database_errors():
            pass
        try:
            self.conn = connect(self.db)
        except (*database_errors(), jobs.RecordsError, OSError) as exc:
            self.say(f"cannot reconnect ({str(exc).strip()})")

    def warm_up(self) -> None:
        """Load the registry and the road network once, so every forked solve shares them."""
        from layers.datasets import load_targets
        from planning.roads import load_road_network

        try:
            load_targets()
            load_road_network()
        except (OSError, ValueError) as exc:
            self.say(f"warning: could not preload the registry or the roads: {exc}")

    def run(self, *, once: bool = False, exit_when_idle: bool = False, idle_s: float = DEFAULT_IDLE_S) -> int:
        """Claim and run jobs until stopped; return how many it ran."""
        ran = 0
        idle_since = time.monotonic()
        while not self.stopping:
            try:
                job = jobs.claim(self.conn, self.name, self.lease_s)
                busy = job is None and exit_when_idle and jobs.busy(self.conn)
            except database_errors() as exc:
                # A database restart or a dropped connection: reconnect and carry on; a worker
                # that exits when idle gives up when the database stays away that long.
                self.say(f"queue unreachable ({str(exc).strip()}); retrying")
                if exit_when_idle and time.monotonic() - idle_since >= idle_s:
                    break
                time.sleep(self.poll_s)
                self._reconnect()
                continue
            if job is None:
                if exit_when_idle:
                    if busy:
                        idle_since = time.monotonic()  # a running job may still need a retry
                    elif time.monotonic() - idle_since >= idle_s:
                        break
                elif once:
                    break
                time.sleep(self.poll_s)
                continue
            try:
                self.run_job(job)
            except database_errors() as exc:
                # Lost the database mid-job: the job's lease lapses and a worker retries it.
                self.say(f"job {job.job_id}: queue unreachable ({str(exc).strip()}); left to a retry")
                self._reconnect()
            ran += 1
            idle_since = time.monotonic()
            if once:
                break
        return ran

    def run_job(self, job: jobs.Job) -> str:
        """Solve one claimed job in a child process; return how it ended (done, failed, lost...)."""
        scenario = job.request.get("scenario") or {}
        self.say(
            f"job {job.job_id}: attempt {job.attempts} of {job.max_attempts}, {scenario.get('name')!r}, "
            f"time limit {job.time_limit_s:g} s"
        )
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_child, args=(send, os.getpid(), job.request, job.time_limit_s, self.nice), daemon=True
        )
        started = time.monotonic()
        child.start()
        send.close()
        lines: list[str] = []
        next_beat = started
        outcome: tuple | None = None
        try:
            while outcome is None:
                elapsed = time.monotonic() - started
                if elapsed > job.time_limit_s:
                    self._stop(child)
                    error = f"time limit exceeded: {job.time_limit_s:g} s (attempt {job.attempts})"
                    jobs.fail(self.conn, job, error, jobs.progress_text(lines, elapsed))
                    self.say(f"job {job.job_id}: {error}")
                    return "failed"
                if time.monotonic() >= next_beat:
                    if not self._beat(job, lines, elapsed):
                        self._stop(child)
                        self.say(
                            f"job {job.job_id}: no longer ours (cancelled or retried elsewhere); stopped"
                        )
                        return "lost"
                    next_beat = time.monotonic() + self.heartbeat_s
                if self.stopping:
                    self._stop(child)
                    jobs.release(self.conn, job, "worker stopped")
                    self.say(f"job {job.job_id}: worker stopping, job given back to the queue")
                    return "released"
                wait = max(0.0, min(next_beat, started + job.time_limit_s) - time.monotonic())
                if receive.poll(min(wait, 0.5)):
                    try:
                        message = receive.recv()
                    except EOFError:
                        child.join(1)
                        outcome = ("error", f"solver process died (exit code {child.exitcode})")
                        continue
                    if message[0] == "progress":
                        lines.append(message[1])
                        del lines[: -jobs.PROGRESS_LINES]
                    else:
                        outcome = message
                elif not child.is_alive() and not receive.poll(0):
                    outcome = ("error", f"solver process died (exit code {child.exitcode})")
        finally:
            receive.close()
            if child.is_alive():
                self._stop(child)
        child.join(KILL_GRACE_S)
        elapsed = time.monotonic() - started
        if outcome[0] == "done":
            lines.append(f"done in {elapsed:.1f} s")
            try:
                plan_id = jobs.finish(self.conn, job, outcome[1], jobs.progress_text(lines, elapsed))
            except jobs.RecordsError as exc:  # the records refuse the plan: retrying would not help
                jobs.fail(self.conn, job, f"the plan could not be stored: {exc}", jobs.progress_text(lines))
                self.say(f"job {job.job_id}: failed: the plan could not be stored: {exc}")
                return "failed"
            if plan_id is None:
                self.say(f"job {job.job_id}: solved, but the job is no longer ours; result dropped")
                return "lost"
            self.say(f"job {job.job_id}: done in {elapsed:.1f} s, plan {plan_id}")
            return "done"
        jobs.fail(self.conn, job, outcome[1], jobs.progress_text(lines, elapsed))
        self.say(f"job {job.job_id}: failed: {outcome[1].splitlines()[0]}")
        return "failed"

    def _beat(self, job: jobs.Job, lines: list[str], elapsed: float) -> bool:
        try:
            return jobs.heartbeat(self.conn, job, self.lease_s, jobs.progress_text(lines, elapsed))
        except database_errors() as exc:  # a busy database: keep solving, try again at the next beat
            self.say(f"job {job.job_id}: heartbeat failed ({exc})")
            return True

    @staticmethod
    def _stop(child) -> None:
        child.terminate()
        child.join(KILL_GRACE_S)
        if child.is_alive():
            child.kill()
            child.join(KILL_GRACE_S)


def run_in_process(
    conn,
    job: jobs.Job,
    solve: Callable[[Say], dict],
    say: Say,
    lease_s: float = jobs.DEFAULT_LEASE_S,
    heartbeat_s: float = 2.0,
) -> jobs.Job:
    """Run a claimed ``job`` in this process: ``solve(progress)`` returns the plan mapping; its
    progress lines go to ``say`` and, with the lease, to the job every ``heartbeat_s``. For a caller
    that has no worker to hand the job to (the dashboard under Streamlit's AppTest, ``XUNHU_SOLVE=
    inline``): the job, its plan and its audit trail are the same, but nothing can kill a solve
    that overruns the time limit here (the time budget is still cut to fit it). ``say`` may be
    called from the search's threads."""
    lines: list[str] = []
    started = time.monotonic()
    next_beat = [started + heartbeat_s]
    owner = threading.current_thread()

    def progress(line: str) -> None:
        lines.append(str(line))
        del lines[: -jobs.PROGRESS_LINES]
        say(line)
        # The search reports from worker threads too; the connection belongs to this one.
        if threading.current_thread() is owner and time.monotonic() >= next_beat[0]:
            jobs.heartbeat(conn, job, lease_s, jobs.progress_text(lines, time.monotonic() - started))
            next_beat[0] = time.monotonic() + heartbeat_s

    try:
        plan = solve(progress)
    except Exception as exc:
        from planning.scenario import ScenarioError

        message = f"scenario: {exc}" if isinstance(exc, ScenarioError) else str(exc) or type(exc).__name__
        jobs.fail(conn, job, message, jobs.progress_text(lines, time.monotonic() - started))
        raise
    elapsed = time.monotonic() - started
    if elapsed > job.time_limit_s:
        jobs.fail(conn, job, f"time limit exceeded: {job.time_limit_s:g} s (attempt {job.attempts})")
    else:
        lines.append(f"done in {elapsed:.1f} s")
        jobs.finish(conn, job, plan, jobs.progress_text(lines, elapsed))
    return jobs.get_job(conn, job.job_id)


# --- the local pool -------------------------------------------------------------------------------
_LOCAL: list[subprocess.Popen] = []
_LOCAL_LOCK = threading.Lock()


def local_worker_count(db: str | Path | None = None) -> int:
    """How many local workers the dashboard and ``plan --queue`` start: ``$XUNHU_LOCAL_WORKERS``,
    else one per spare core (at least one, at most 4) on a SQLite database and none on PostgreSQL
    (where workers run as services, ``python -m planning worker``)."""
    value = os.environ.get("XUNHU_LOCAL_WORKERS", "").strip()
    if value:
        return max(0, int(value))
    if is_postgresql(db_target(db)):
        return 0
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def ensure_local_workers(db: str | Path | None = None, count: int | None = None, idle_s: float = 30.0) -> int:
    """Start local workers (``python -m planning worker --exit-when-idle``) until ``count`` of those
    this process started are alive; return how many are alive. Each exits by itself once the queue
    has been empty for ``idle_s`` seconds, so nothing stays behind on a laptop."""
    count = local_worker_count(db) if count is None else count
    target = db_target(db)
    target = target if is_postgresql(target) else str(Path(target).resolve())  # the workers run in the repo
    with _LOCAL_LOCK:
        _LOCAL[:] = [p for p in _LOCAL if p.poll() is None]
        while len(_LOCAL) < count:
            log = Path(os.environ.get("XUNHU_WORKER_LOG", os.devnull))
            with open(log, "ab") as out:
                _LOCAL.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "planning",
                            "worker",
                            "--db",
                            target,
                            "--exit-when-idle",
                            "--idle-s",
                            str(idle_s),
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=str(Path(__file__).resolve().parent.parent),
                        start_new_session=True,
                    )
                )
        return len(_LOCAL)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``worker`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning worker", description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="records database (SQLite file or postgresql:// URL; default $XUNHU_DB)")
    parser.add_argument(
        "--once",
        action="store_true",
        help="run at most one job, then exit (at once when none is claimable, unless --exit-when-idle)",
    )
    parser.add_argument(
        "--exit-when-idle", action="store_true", help="exit once no job is queued or running for --idle-s"
    )
    parser.add_argument("--idle-s", type=float, default=DEFAULT_IDLE_S, help="see --exit-when-idle")
    parser.add_argument(
        "--poll-s", type=float, default=DEFAULT_POLL_S, help="seconds between looks at the queue"
    )
    parser.add_argument(
        "--lease-s",
        type=float,
        default=jobs.DEFAULT_LEASE_S,
        help="lease of a claimed job: another worker retries it this long after this one stops renewing it",
    )
    parser.add_argument("--name", help="worker id in the queue (default host:pid)")
    parser.add_argument(
        "--nice",
        type=int,
        default=DEFAULT_NICE,
        help=f"niceness of the solves, 0-19 (default {DEFAULT_NICE}: the dashboard on the same machine goes first)",
    )
    args = parser.parse_args(argv)
    if min(args.poll_s, args.lease_s, args.idle_s) <= 0:
        print("error: --poll-s, --lease-s and --idle-s must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.nice <= 19:
        print("error: --nice must be 0 to 19", file=sys.stderr)
        return 2

    def say(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    try:
        worker = Worker(
            args.db, lease_s=args.lease_s, poll_s=args.poll_s, name=args.name, nice=args.nice, say=say
        )
    except (*database_errors(), jobs.RecordsError, OSError) as exc:
        print(f"error: --db {args.db or '$XUNHU_DB'}: {exc}", file=sys.stderr)
        return 2

    def stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.warm_up()
    say(f"worker {worker.name} on {worker.db}: lease {worker.lease_s:g} s")
    try:
        ran = worker.run(once=args.once, exit_when_idle=args.exit_when_idle, idle_s=args.idle_s)
    finally:
        worker.close()
    say(f"worker {worker.name}: ran {ran} job(s), exiting")
    return 0
