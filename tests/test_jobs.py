"""Solves as jobs (planning/jobs.py, planning/worker.py): the queue in the records database.

Real workers (in this process, or ``python -m planning worker`` subprocesses) run the real planner on
a tiny scenario: the shipped Urumqi week cut to one day, great-circle travel, a search of a second
or two. Leases are short so that a killed worker's job is retried within seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from planning import jobs
from planning.jobs_cli import follow
from planning.worker import Worker
from records import audit
from records.db import connect
from records.plans import get_plan

pytestmark = pytest.mark.records

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "data" / "scenarios" / "urumqi_changji_shihezi_week.yaml"


def tiny_scenario(name: str = "jobs tiny") -> dict:
    raw = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    return {**raw, "name": name, "days": 1, "solver": {"seed": 1, "effort": 2}}


def tiny_request(name: str = "jobs tiny", **budget) -> dict:
    return jobs.plan_request(tiny_scenario(name), travel="great_circle", **budget)


def quiet(_message: str) -> None:
    pass


def worker_process(db, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "planning", "worker", "--db", str(db), "--poll-s", "0.2", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_submitted_solve_is_run_by_a_worker_and_its_plan_lands_in_the_records(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, tiny_request(), actor="chief-urumqi")
        queued = jobs.get_job(conn, job_id)
        assert queued.state == "queued" and queued.attempts == 0 and queued.submitted_by == "chief-urumqi"
        # Nothing in the request points at this machine: the scenario travels as a mapping.
        assert queued.request["scenario"]["days"] == 1 and queued.request["travel"] == "great_circle"
        worker = Worker(db, lease_s=10, say=quiet, name="w1")
        try:
            assert worker.run(once=True) == 1
        finally:
            worker.close()
        job = jobs.get_job(conn, job_id)
        assert job.state == "done" and job.worker == "w1" and job.attempts == 1 and job.error is None
        stored = get_plan(conn, job.plan_id)
        assert stored["status"] == "draft" and stored["plan_key"] == "jobs tiny"
        assert stored["created_by"] == "chief-urumqi"
        assert stored["plan"]["status"] == "solved" and stored["plan"]["scenario"]["days"] == 1
        assert any(line.startswith("search:") for line in job.progress_lines())
        log = audit.entries(conn, f"job:{job_id}")
        assert list(log["action"]) == ["job.submit", "job.start", "job.done"]
        assert log["details"].iloc[-1]["plan_id"] == job.plan_id
        # The plan was saved in the same step as the job became done, by the submitter.
        assert list(audit.entries(conn, f"plan:{job.plan_id}")["action"]) == ["plan.save"]
        # A finished job never changes again.
        with pytest.raises(jobs.JobError, match="done already"):
            jobs.cancel(conn, job_id)
        assert jobs.claim(conn, "w2") is None


def _claim_all(db, name: str, start, out) -> None:
    start.wait()
    taken = []
    with closing(connect(db)) as conn:
        while (job := jobs.claim(conn, name, lease_s=600)) is not None:
            taken.append(job.job_id)
    out.put((name, taken))


def test_two_workers_never_take_the_same_job(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        submitted = [jobs.submit(conn, tiny_request(f"job {k}"), actor="t") for k in range(16)]
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    processes = [context.Process(target=_claim_all, args=(db, f"w{k}", start, out)) for k in range(3)]
    for process in processes:
        process.start()
    start.set()
    results = dict(out.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(10)
    taken = [job for jobs_taken in results.values() for job in jobs_taken]
    assert sorted(taken) == submitted, "every job claimed exactly once"
    with closing(connect(db)) as conn:
        frame = jobs.list_jobs(conn)
        assert set(frame["state"]) == {"running"} and set(frame["attempts"]) == {1}
        for name, ids in results.items():
            assert set(frame[frame["job_id"].isin(ids)]["worker"]) <= {name}


def test_a_worker_killed_mid_solve_is_retried_by_another_and_the_job_completes(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, tiny_request(seconds=4), actor="t")
    first = worker_process(db, "--once", "--lease-s", "2", "--name", "doomed")
    try:
        with closing(connect(db)) as conn:
            # Progress is visible from another connection while the solve runs.
            running = wait_for(
                lambda: (
                    (j := jobs.get_job(conn, job_id)).state == "running"
                    and any("objective" in line for line in j.progress_lines())
                    and j
                ),
                40,
                "the first worker's search progress",
            )
            assert running.worker == "doomed" and running.attempts == 1
            solvers = children(first.pid)
            assert solvers, "the solve runs in a child process of the worker"
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            # The solver child dies with its worker: nothing keeps solving for a dead worker.
            wait_for(lambda: not any(alive(pid) for pid in solvers), 5, "the orphaned solver to end")
            assert jobs.get_job(conn, job_id).state == "running"  # until its lease lapses
            # It waits while a job is running (its lease may lapse) and takes it when it does.
            second = worker_process(db, "--once", "--exit-when-idle", "--lease-s", "2", "--name", "rescuer")
            try:
                output, _ = second.communicate(timeout=90)
            finally:
                second.kill()
            assert second.returncode == 0, output
            job = jobs.get_job(conn, job_id)
            assert job.state == "done", output
            assert job.worker == "rescuer" and job.attempts == 2
            assert get_plan(conn, job.plan_id)["plan"]["status"] == "solved"
            log = audit.entries(conn, f"job:{job_id}")
            assert list(log["action"]) == ["job.submit", "job.start", "job.retry", "job.start", "job.done"]
            assert log["details"].iloc[2]["lost_worker"] == "doomed"
    finally:
        first.kill()


def test_a_stopped_worker_gives_its_job_back_at_once(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, tiny_request(effort=5000), actor="t")
        worker = worker_process(db, "--once", "--name", "polite")
        try:
            wait_for(lambda: jobs.get_job(conn, job_id).state == "running", 40, "the worker to start")
            solvers = children(worker.pid)
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=20)
        finally:
            worker.kill()
        assert worker.returncode == 0, output
        assert not any(alive(pid) for pid in solvers)
        job = jobs.get_job(conn, job_id)
        # Back in the queue without waiting for the lease; the attempt counts.
        assert job.state == "queued" and job.worker is None and job.attempts == 1
        assert list(audit.entries(conn, f"job:{job_id}")["action"])[-1] == "job.release"


def test_a_job_over_its_time_limit_is_stopped_and_failed(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        # A fixed effort far beyond three seconds: only the hard limit stops it.
        job_id = jobs.submit(conn, tiny_request(effort=5000), actor="t", time_limit_s=3)
        worker = Worker(db, lease_s=10, say=quiet)
        started = time.monotonic()
        try:
            worker.run(once=True)
        finally:
            worker.close()
        assert time.monotonic() - started < 10
        job = jobs.get_job(conn, job_id)
        assert job.state == "failed" and job.plan_id is None
        assert job.error.startswith("time limit exceeded: 3 s")
        assert list(audit.entries(conn, f"job:{job_id}")["action"])[-1] == "job.failed"


def test_a_time_budget_is_cut_to_fit_the_time_limit():
    request = tiny_request(seconds=100)
    assert jobs.default_time_limit(request) == 100 / jobs.BUDGET_SHARE + jobs.SETUP_ALLOWANCE_S
    seconds, effort, note = jobs.solver_budget(request, time_limit_s=10)
    assert (seconds, effort) == (8.0, None) and "cut to 8 s" in note
    assert jobs.solver_budget(tiny_request(effort=3), 10) == (None, 3, None)
    # The scenario's own time budget counts too.
    raw = {**tiny_scenario(), "solver": {"seconds": 50}}
    assert jobs.solver_budget(jobs.plan_request(raw), 20)[0] == 16.0


def test_a_job_whose_workers_keep_dying_fails_when_its_attempts_are_used_up(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, tiny_request(), actor="t", max_attempts=2)
        later = jobs.submit(conn, tiny_request("later"), actor="t")
        for ghost in ("ghost-1", "ghost-2"):
            job = jobs.claim(conn, ghost, lease_s=0.5)
            assert job.job_id == job_id and job.worker == ghost
            time.sleep(1.6)  # leases are whole seconds: this one has lapsed now
        # The third claim finds the job out of attempts: it fails it and takes the next one.
        taken = jobs.claim(conn, "w3", lease_s=30)
        assert taken.job_id == later
        job = jobs.get_job(conn, job_id)
        assert job.state == "failed" and job.attempts == 2
        assert job.error.startswith("worker lost 2 time(s) (last: ghost-2")
        actions = list(audit.entries(conn, f"job:{job_id}")["action"])
        assert actions == ["job.submit", "job.start", "job.retry", "job.start", "job.failed"]


def test_a_worker_that_lost_its_lease_cannot_finish_or_renew(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, tiny_request(), actor="t")
        stale = jobs.claim(conn, "paused", lease_s=0.5)
        time.sleep(1.6)
        fresh = jobs.claim(conn, "awake", lease_s=30)
        assert fresh.job_id == job_id and fresh.attempts == 2
        assert not jobs.heartbeat(conn, stale, 30, jobs.progress_text(["stale"]))
        from planning.worker import solve_request

        plan = solve_request(fresh.request, fresh.time_limit_s, quiet)
        assert jobs.finish(conn, stale, plan) is None
        assert jobs.get_job(conn, job_id).state == "running"
        plan_id = jobs.finish(conn, fresh, plan, jobs.progress_text(["done"]))
        job = jobs.get_job(conn, job_id)
        assert job.state == "done" and job.plan_id == plan_id and job.progress_lines() == ["done"]


def test_cancel_and_queue_position(new_db):
    db = new_db("jobs")
    with closing(connect(db)) as conn:
        first, second, third = (jobs.submit(conn, tiny_request(f"j{k}"), actor="t") for k in range(3))
        assert [jobs.queue_position(conn, jobs.get_job(conn, j)) for j in (first, second, third)] == [0, 1, 2]
        assert jobs.cancel(conn, second, actor="chief").state == "cancelled"
        assert jobs.queue_position(conn, jobs.get_job(conn, third)) == 1
        running = jobs.claim(conn, "w", lease_s=30)
        assert running.job_id == first
        jobs.cancel(conn, first, actor="chief")
        # The worker learns it at its next heartbeat and cannot store a result.
        assert not jobs.heartbeat(conn, running, 30)
        assert jobs.claim(conn, "w", lease_s=30).job_id == third
        assert list(audit.entries(conn, f"job:{second}")["action"]) == ["job.submit", "job.cancel"]


def test_a_bad_scenario_fails_with_the_field_named(new_db):
    db = new_db("jobs")
    raw = {**tiny_scenario(), "teams": [{"id": "T1", "base": "Atlantis City"}]}
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, jobs.plan_request(raw, travel="great_circle"), actor="t")
        worker = Worker(db, lease_s=10, say=quiet)
        try:
            worker.run(once=True)
        finally:
            worker.close()
        job = jobs.get_job(conn, job_id)
        assert job.state == "failed" and job.attempts == 1
        assert job.error.startswith("scenario: ") and "Atlantis" in job.error


def test_cli_plan_queue_submits_starts_a_local_worker_and_prints_progress(new_db, tmp_path):
    db = new_db("jobs")
    connect(db).close()  # --db names an existing database (its open tasks join the plan)
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(tiny_scenario("cli tiny"), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "plan.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XUNHU_LOCAL_WORKERS": "1"}
    command = [sys.executable, "-m", "planning", "plan", "--scenario", str(scenario), "--great-circle"]
    command += ["--queue", "--db", str(db), "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "submitted job 1" in done.stdout and "1 local worker(s) running" in done.stdout
    assert "job 1: done, plan 1" in done.stdout and "search:" in done.stdout
    assert out.is_file()
    listing = subprocess.run(
        [sys.executable, "-m", "planning", "jobs", "--db", str(db)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0 and " done " in listing.stdout and "plan 1" in listing.stdout
    with closing(connect(db)) as conn:
        job = follow(conn, 1, quiet, timeout_s=1)
        assert job.state == "done" and get_plan(conn, job.plan_id)["plan_key"] == "cli tiny"


def test_a_session_can_run_its_own_job_in_process(new_db):
    from planning.worker import run_in_process, solve_request

    db = new_db("jobs")
    with closing(connect(db)) as conn:
        older = jobs.submit(conn, tiny_request("someone else's"), actor="t")
        mine = jobs.submit(conn, tiny_request("mine"), actor="chief")
        # Claiming a given job leaves the older one to the workers.
        job = jobs.claim(conn, "inline:test", lease_s=60, job_id=mine)
        assert job.job_id == mine and jobs.get_job(conn, older).state == "queued"
        said: list[str] = []
        done = run_in_process(
            conn, job, lambda say: solve_request(job.request, job.time_limit_s, say), said.append
        )
        assert done.state == "done" and done.worker == "inline:test"
        assert any(line.startswith("search:") for line in said)
        assert done.progress_lines()[-1].startswith("done in")
        assert get_plan(conn, done.plan_id)["created_by"] == "chief"


def _plan_week_page() -> None:
    from views.pages.plan_week import render

    render()


def test_the_plan_week_page_follows_a_queued_job_to_its_plan(new_db, monkeypatch):
    """A page opened while the chief's job waits (a reload) polls it, and shows the plan once a
    worker has stored it."""
    from argon2 import PasswordHasher
    from streamlit.testing.v1 import AppTest

    from records.accounts import create_account
    from records.store import open_store

    db = new_db("jobs")
    monkeypatch.setenv("XUNHU_DB", str(db))
    with open_store(db) as store:
        chief = create_account(
            store,
            "chief-queue",
            "correct horse battery",
            "chief",
            detachment="650100",
            hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        )
    with closing(connect(db)) as conn:
        job_id = jobs.submit(conn, jobs.plan_request(tiny_scenario("page queue")), actor="chief-queue")
    at = AppTest.from_function(_plan_week_page, default_timeout=120)
    at.session_state["account"] = chief
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    assert [s.label for s in at.status] == [f"Solve job {job_id} is queued (0 ahead)…"]
    assert "plan.result" not in at.session_state
    worker = Worker(db, lease_s=10, say=quiet)
    try:
        assert worker.run(once=True) == 1
    finally:
        worker.close()
    at.run()  # the panel's next look
    assert not at.exception
    result = at.session_state["plan.result"]
    with closing(connect(db)) as conn:
        job = jobs.get_job(conn, job_id)
        assert job.state == "done" and result["draft_id"] == job.plan_id
        assert result["plan"] == get_plan(conn, job.plan_id)["plan"]
    assert f"Solve job {job_id} done: draft plan {job.plan_id}" in [c.value for c in at.caption]
    assert any(s.value == "Checker: 0 violations." for s in at.success)
