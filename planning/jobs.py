"""Solves as jobs: a queue of plan solves in the records database (table ``solve_jobs``).

The dashboard and the CLI *submit* a solve (:func:`submit`): one row holding the whole request (the
scenario mapping with its tasks, the extra road closures, the travel model and the budget), state
``queued``. Workers (:mod:`planning.worker`, ``python -m planning worker``, on any number of machines
sharing the database) *claim* the oldest claimable job in a short write transaction
(:func:`claim`): a queued job, or a running one whose lease has expired (its worker died). The claim
sets ``state = running``, the worker's id, ``attempts + 1`` and ``lease_until = now + lease``. While it
solves, the worker renews the lease and writes the latest progress lines (:func:`heartbeat`) every
few seconds; if the lease lapses (the worker was killed) the next claim retries the job, until
``max_attempts`` attempts are used up, after which the job fails with "worker lost N times". A
finished solve is saved as a new draft plan and linked to the job in one transaction
(:func:`finish`), so a job is ``done`` exactly when its plan is in the records. Every state change is
in the audit log (``job.submit``, ``job.start``, ``job.retry``, ``job.done``, ``job.failed``,
``job.cancel``, ``job.release``).

Every write names the attempt it belongs to (``worker`` and ``attempts`` must still match), so a
worker that lost its lease (paused, partitioned) and wakes up later cannot overwrite the job another
worker now owns: its heartbeat and finish simply find nothing to update.

PostgreSQL: the claim reads with ``FOR UPDATE SKIP LOCKED`` (write transactions are also serialised
by the records' writer lock, :func:`records.backend.begin_write`; SKIP LOCKED keeps the claim correct
should that lock ever be narrowed). SQLite: ``BEGIN IMMEDIATE`` serialises the claims.

Times are the records' ISO UTC text (whole seconds), so leases have a one-second granularity.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from records import audit
from records.backend import Connection, dialect, inserted_id, read_frame
from records.db import RecordsError, now_text, transaction, utc_text
from records.plans import save_plan

KINDS = ("plan", "replan")
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
#: Format of the request JSON (bumped if a field changes meaning).
REQUEST_FORMAT = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_LEASE_S = 30.0
#: Time limit of a job whose request gives a time budget: the budget plus this much for reading the
#: registry, building the travel matrix and the model, and writing the plan.
SETUP_ALLOWANCE_S = 120.0
#: Time limit of a job searching a fixed effort (its time depends on the machine).
DEFAULT_TIME_LIMIT_S = 1800.0
#: Share of the time limit a time budget may use (the rest is for setting up and saving).
BUDGET_SHARE = 0.8
#: How many progress lines a job keeps (the newest).
PROGRESS_LINES = 12


class JobError(RecordsError):
    """A job operation that cannot be done (unknown job, already finished...)."""


@dataclass(frozen=True)
class Job:
    """One row of ``solve_jobs``, with the request parsed."""

    job_id: int
    kind: str
    request: dict
    state: str
    attempts: int
    max_attempts: int
    time_limit_s: float
    submitted_at: str
    submitted_by: str
    worker: str | None
    started_at: str | None
    lease_until: str | None
    progress: str
    finished_at: str | None
    plan_id: int | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def progress_lines(self) -> list[str]:
        """The newest progress lines the worker wrote (empty before it started)."""
        return progress_lines(self.progress)


def _job(row: Any) -> Job:
    data = dict(row)
    data["request"] = json.loads(data["request"])
    data["time_limit_s"] = float(data["time_limit_s"])
    data["job_id"] = int(data["job_id"])
    if data.get("plan_id") is not None:
        data["plan_id"] = int(data["plan_id"])
    return Job(**data)


def worker_id() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _at(seconds_from_now: float) -> str:
    return utc_text(datetime.now(UTC) + timedelta(seconds=seconds_from_now))


# --- requests ----------------------------------------------------------------------------------
def closure_to_dict(closure: Any) -> dict:
    """A ``planning.closures.Closure`` as plain JSON (geometry as GeoJSON)."""
    from shapely.geometry import mapping

    return {
        "id": closure.id,
        "name": closure.name,
        "reason": closure.reason,
        "period": closure.period,
        "source": closure.source,
        "confidence": closure.confidence,
        "geometry": mapping(closure.geometry),
    }


def closure_from_dict(data: dict) -> Any:
    """The ``planning.closures.Closure`` :func:`closure_to_dict` wrote."""
    from shapely.geometry import shape

    from planning.closures import Closure

    return Closure(
        id=str(data["id"]),
        name=str(data["name"]),
        reason=str(data["reason"]),
        geometry=shape(data["geometry"]),
        period=str(data["period"]),
        source=str(data["source"]),
        confidence=str(data["confidence"]),
    )


def plan_request(
    scenario: dict,
    *,
    closures: Iterable[Any] = (),
    travel: str = "road_network",
    seconds: float | None = None,
    effort: int | None = None,
    plan_key: str | None = None,
    source: str | None = None,
) -> dict:
    """The request of a ``plan`` job: everything a worker on another machine needs to reproduce the
    solve. ``scenario`` is the scenario mapping (as a YAML file or the Plan week page gives it, with
    the records' open tasks already under ``tasks``); ``closures`` are road closures beyond the
    shipped layer (``planning.closures.Closure``); ``travel`` is ``road_network`` or
    ``great_circle``; ``seconds``/``effort`` override the scenario's solver budget; ``plan_key`` is
    the key the plan is saved under (default: the scenario's name); ``source`` says where the
    scenario came from (a file name), for people reading the queue."""
    if travel not in ("road_network", "great_circle"):
        raise ValueError(f"travel: {travel!r} is neither road_network nor great_circle")
    request = {
        "format": REQUEST_FORMAT,
        # Through JSON: dates become ISO text, the request is what the worker will read.
        "scenario": json.loads(json.dumps(scenario, ensure_ascii=False, default=str)),
        "closures": [closure_to_dict(c) for c in closures],
        "travel": travel,
        "seconds": None if seconds is None else float(seconds),
        "effort": None if effort is None else int(effort),
    }
    if plan_key:
        request["plan_key"] = str(plan_key)
    if source:
        request["source"] = str(source)
    return request


def default_time_limit(request: dict) -> float:
    """A time limit that leaves a time-budgeted search room to finish: budget + setup allowance;
    :data:`DEFAULT_TIME_LIMIT_S` for a fixed effort."""
    seconds = request.get("seconds")
    solver = (request.get("scenario") or {}).get("solver")
    if seconds is None and request.get("effort") is None and isinstance(solver, dict):
        seconds = solver.get("seconds")
    if seconds is None:
        return DEFAULT_TIME_LIMIT_S
    return float(seconds) / BUDGET_SHARE + SETUP_ALLOWANCE_S


def solver_budget(request: dict, time_limit_s: float) -> tuple[float | None, int | None, str | None]:
    """(seconds, effort, note) the worker passes to the planner: the request's budget, a time budget
    cut to :data:`BUDGET_SHARE` of the time limit when it would not fit (``note`` says so)."""
    seconds, effort = request.get("seconds"), request.get("effort")
    solver = (request.get("scenario") or {}).get("solver")
    if seconds is None and effort is None and isinstance(solver, dict) and solver.get("seconds") is not None:
        seconds = float(solver["seconds"])
    cap = round(time_limit_s * BUDGET_SHARE, 1)
    if seconds is not None and seconds > cap:
        return cap, None, f"time budget {seconds:g} s cut to {cap:g} s by the job's time limit"
    return seconds, effort, None


# --- queue operations ----------------------------------------------------------------------------
def submit(
    conn: Connection,
    request: dict,
    *,
    actor: str | None = None,
    kind: str = "plan",
    time_limit_s: float | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Queue a solve; return its job id. ``time_limit_s`` defaults to :func:`default_time_limit`."""
    if kind != "plan":
        raise JobError(f"kind {kind!r}: only 'plan' jobs are run by the workers so far")
    if not isinstance(request, dict) or not isinstance(request.get("scenario"), dict):
        raise JobError("request: expected {scenario: {...}, ...} (see planning.jobs.plan_request)")
    limit = float(time_limit_s) if time_limit_s is not None else default_time_limit(request)
    if limit <= 0:
        raise JobError("time limit: must be positive")
    if max_attempts < 1:
        raise JobError("max attempts: must be at least 1")
    actor = actor or audit.default_actor()
    text = json.dumps(request, ensure_ascii=False, sort_keys=True)
    with transaction(conn):
        job_id = inserted_id(
            conn.execute(
                "INSERT INTO solve_jobs (kind, request, time_limit_s, max_attempts, submitted_at, submitted_by) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING job_id",
                (kind, text, limit, int(max_attempts), now_text(), actor),
            )
        )
        scenario = request["scenario"]
        audit.append(
            conn,
            "job.submit",
            f"job:{job_id}",
            {
                "kind": kind,
                "scenario": scenario.get("name"),
                "days": scenario.get("days"),
                "time_limit_s": limit,
                "max_attempts": int(max_attempts),
            },
            actor,
        )
    return job_id


def get_job(conn: Connection, job_id: int) -> Job:
    row = conn.execute("SELECT * FROM solve_jobs WHERE job_id = ?", (int(job_id),)).fetchone()
    if row is None:
        raise JobError(f"job {job_id} does not exist")
    return _job(row)


def _lost_error(row: Any) -> str:
    return (
        f"worker lost {row['attempts']} time(s) (last: {row['worker']}, lease ended {row['lease_until']}); "
        f"no attempts left of {row['max_attempts']}"
    )


def claim(
    conn: Connection, worker: str, lease_s: float = DEFAULT_LEASE_S, job_id: int | None = None
) -> Job | None:
    """Take the oldest claimable job for ``worker`` (None when there is none); only job ``job_id``
    when given (a session running its own job in process).

    A running job whose lease expired is retried (audited as ``job.retry``) or, when it has used all
    its attempts, failed on the spot with the reason, and the next job is looked at.
    """
    lock = " FOR UPDATE SKIP LOCKED" if dialect(conn) == "postgresql" else ""
    only = "" if job_id is None else " AND job_id = ?"
    with transaction(conn):
        while True:
            now = now_text()
            row = conn.execute(
                "SELECT * FROM solve_jobs WHERE (state = 'queued' OR (state = 'running' AND lease_until < ?))"
                f"{only} ORDER BY job_id LIMIT 1{lock}",
                (now,) if job_id is None else (now, int(job_id)),
            ).fetchone()
            if row is None:
                return None
            found = int(row["job_id"])
            if row["state"] == "running":
                if row["attempts"] >= row["max_attempts"]:
                    error = _lost_error(row)
                    conn.execute(
                        "UPDATE solve_jobs SET state = 'failed', error = ?, finished_at = ?, lease_until = NULL "
                        "WHERE job_id = ?",
                        (error, now, found),
                    )
                    audit.append(
                        conn,
                        "job.failed",
                        f"job:{found}",
                        {"error": error, "attempts": row["attempts"], "worker": row["worker"]},
                        worker,
                    )
                    continue
                audit.append(
                    conn,
                    "job.retry",
                    f"job:{found}",
                    {
                        "lost_worker": row["worker"],
                        "lease_until": row["lease_until"],
                        "attempt": row["attempts"] + 1,
                    },
                    worker,
                )
            conn.execute(
                "UPDATE solve_jobs SET state = 'running', worker = ?, attempts = attempts + 1, started_at = ?, "
                "lease_until = ?, progress = '' WHERE job_id = ?",
                (worker, now, _at(lease_s), found),
            )
            audit.append(
                conn,
                "job.start",
                f"job:{found}",
                {"worker": worker, "attempt": row["attempts"] + 1, "lease_s": lease_s},
                worker,
            )
            return get_job(conn, found)


_OWNED = "job_id = ? AND state = 'running' AND worker = ? AND attempts = ?"


def _owner(job: Job) -> tuple:
    return (job.job_id, job.worker, job.attempts)


def progress_text(lines: list[str], elapsed_s: float | None = None) -> str:
    """The ``progress`` column: JSON ``{"lines": [...], "elapsed_s": ...}`` (newest lines last)."""
    return json.dumps(
        {
            "lines": list(lines)[-PROGRESS_LINES:],
            "elapsed_s": None if elapsed_s is None else round(elapsed_s, 1),
        },
        ensure_ascii=False,
    )


def progress_lines(text: str) -> list[str]:
    """The lines of a ``progress`` column (plain text from elsewhere is one line)."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [text]
    return [str(line) for line in data.get("lines") or []] if isinstance(data, dict) else [text]


def heartbeat(conn: Connection, job: Job, lease_s: float, progress: str | None = None) -> bool:
    """Renew the lease of ``job`` (this attempt) and store ``progress``; False when the job is no
    longer this attempt's (cancelled, or retried by another worker after the lease lapsed)."""
    with transaction(conn):
        cursor = conn.execute(
            f"UPDATE solve_jobs SET lease_until = ?, progress = coalesce(?, progress) WHERE {_OWNED}",
            (_at(lease_s), progress, *_owner(job)),
        )
        return cursor.rowcount == 1


def finish(conn: Connection, job: Job, plan: dict, progress: str | None = None) -> int | None:
    """Save ``plan`` as a new draft (as the submitter) and mark the job done with it, in one
    transaction; return the plan id, or None (nothing written) when the job is no longer this
    attempt's."""
    with transaction(conn):
        if not _still_owned(conn, job):
            return None
        saved = save_plan(conn, plan, key=job.request.get("plan_key"), actor=job.submitted_by)
        conn.execute(
            "UPDATE solve_jobs SET state = 'done', plan_id = ?, finished_at = ?, lease_until = NULL, "
            f"progress = coalesce(?, progress) WHERE {_OWNED}",
            (saved.plan_id, now_text(), progress, *_owner(job)),
        )
        audit.append(
            conn,
            "job.done",
            f"job:{job.job_id}",
            {
                "plan_id": saved.plan_id,
                "plan_key": saved.plan_key,
                "version": saved.version,
                "worker": job.worker,
                "attempt": job.attempts,
            },
            job.worker,
        )
    return saved.plan_id


def fail(conn: Connection, job: Job, error: str, progress: str | None = None) -> bool:
    """Mark this attempt's job failed with ``error`` (no retry); False when it is no longer ours."""
    with transaction(conn):
        if not _still_owned(conn, job):
            return False
        conn.execute(
            "UPDATE solve_jobs SET state = 'failed', error = ?, finished_at = ?, lease_until = NULL, "
            f"progress = coalesce(?, progress) WHERE {_OWNED}",
            (error, now_text(), progress, *_owner(job)),
        )
        audit.append(
            conn,
            "job.failed",
            f"job:{job.job_id}",
            {"error": error, "worker": job.worker, "attempt": job.attempts},
            job.worker,
        )
    return True


def release(conn: Connection, job: Job, reason: str) -> bool:
    """Give this attempt's job back to the queue (a worker asked to stop); the attempt counts."""
    with transaction(conn):
        if not _still_owned(conn, job):
            return False
        conn.execute(
            f"UPDATE solve_jobs SET state = 'queued', worker = NULL, lease_until = NULL WHERE {_OWNED}",
            _owner(job),
        )
        audit.append(
            conn,
            "job.release",
            f"job:{job.job_id}",
            {"reason": reason, "worker": job.worker, "attempt": job.attempts},
            job.worker,
        )
    return True


def _still_owned(conn: Connection, job: Job) -> bool:
    lock = " FOR UPDATE" if dialect(conn) == "postgresql" else ""
    row = conn.execute(f"SELECT job_id FROM solve_jobs WHERE {_OWNED}{lock}", _owner(job)).fetchone()
    return row is not None


def cancel(conn: Connection, job_id: int, actor: str | None = None) -> Job:
    """Cancel a queued or running job (a worker running it stops at its next heartbeat)."""
    actor = actor or audit.default_actor()
    with transaction(conn):
        job = get_job(conn, job_id)
        if job.finished:
            raise JobError(f"job {job_id} is {job.state} already")
        conn.execute(
            "UPDATE solve_jobs SET state = 'cancelled', finished_at = ?, lease_until = NULL "
            "WHERE job_id = ? AND state IN ('queued', 'running')",
            (now_text(), int(job_id)),
        )
        audit.append(conn, "job.cancel", f"job:{job_id}", {"was": job.state, "worker": job.worker}, actor)
    return get_job(conn, job_id)


def queue_position(conn: Connection, job: Job) -> int:
    """How many queued jobs are ahead of ``job`` (0 when it is next or not queued)."""
    if job.state != "queued":
        return 0
    row = conn.execute(
        "SELECT count(*) FROM solve_jobs WHERE state = 'queued' AND job_id < ?", (job.job_id,)
    ).fetchone()
    return int(row[0])


def running_now(conn: Connection) -> bool:
    """True when some worker holds a live lease (so a queued job is waiting its turn, not a worker)."""
    row = conn.execute(
        "SELECT count(*) FROM solve_jobs WHERE state = 'running' AND lease_until >= ?", (now_text(),)
    ).fetchone()
    return int(row[0]) > 0


def unfinished_of(conn: Connection, actor: str) -> Job | None:
    """The newest queued or running job ``actor`` submitted (a page reloaded while it solved)."""
    row = conn.execute(
        "SELECT * FROM solve_jobs WHERE submitted_by = ? AND state IN ('queued', 'running') "
        "ORDER BY job_id DESC LIMIT 1",
        (actor,),
    ).fetchone()
    return None if row is None else _job(row)


def busy(conn: Connection) -> bool:
    """True while any job is queued or running (a lapsed running job still needs a retry)."""
    row = conn.execute("SELECT count(*) FROM solve_jobs WHERE state IN ('queued', 'running')").fetchone()
    return int(row[0]) > 0


def list_jobs(conn: Connection, states: Iterable[str] | None = None, limit: int = 50) -> pd.DataFrame:
    """The newest jobs (without their request), newest first, optionally in ``states`` only."""
    states = list(states or [])
    where = f"WHERE state IN ({','.join('?' * len(states))})" if states else ""
    frame = read_frame(
        "SELECT job_id, kind, state, attempts, max_attempts, time_limit_s, submitted_at, submitted_by, worker, "
        f"started_at, lease_until, finished_at, plan_id, error, progress FROM solve_jobs {where} "
        "ORDER BY job_id DESC LIMIT ?",
        conn,
        [*states, int(limit)],
    )
    frame["progress"] = frame["progress"].map(lambda text: (progress_lines(text) or [""])[-1])
    return frame
