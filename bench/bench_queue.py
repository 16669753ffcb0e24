"""Solve queue (issue 17): 20 solves submitted at once to 2 workers on PostgreSQL, one worker killed.

    .venv/bin/python bench/bench_queue.py [--db postgresql://...] [--jobs 20] [--workers 2] [--runs 3]

Per run, on a fresh records database (``--db`` or ``$XUNHU_DB``; else the database ``bench_queue``,
dropped and re-created through ``--admin``, default ``$XUNHU_PG_ADMIN``):

* starts ``streamlit run app.py`` on that database (``XUNHU_LOCAL_WORKERS=0``: the dashboard starts
  no workers of its own) and ``--workers`` ``python -m planning worker`` processes;
* submits ``--jobs`` solves at once, one thread and connection per submitter: the shipped Urumqi
  week cut to one day, road network, a fixed search effort (each solve takes 2-4 s alone);
* once one of the workers is half-way into a search, sends it ``kill -9`` and starts a new worker in
  its place (as a service manager would), so two keep running;
* meanwhile measures how fast the dashboard answers, in headless Chromium and over plain HTTP:
  **interaction**: on the login page, a click on the language switch until the form shows the
  other language (one script rerun over the websocket: what a user waits for after a click), about
  once a second; **page load**: a fresh tab's ``goto`` until the login form is drawn (the whole
  front end loaded again), every fifth sample; ``GET /_stcore/health`` every 0.25 s; and the read
  the Plan week page's job panel makes every second (job row, queue place, live leases,
  ``planning.jobs``) on its own connection every 0.25 s. The same probes are taken before the
  submission, with nothing to solve, for comparison;
* waits for every job and checks: all done, each with its own stored plan, none lost, the killed
  worker's job retried (attempt 2, ``job.retry`` in the audit log) and done.

Prints one JSON line per run and the medians over runs; exit 1 if any check failed (the goal for
the dashboard: 95 % of interactions answered within 1 s while the queue runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from planning import jobs  # noqa: E402
from records import audit  # noqa: E402
from records.backend import url_with_database  # noqa: E402
from records.db import connect  # noqa: E402
from records.plans import get_plan  # noqa: E402
from tools.dashboard_server import start_dashboard  # noqa: E402

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:54329/postgres"
DATABASE = "bench_queue"
OWNER = "xunhu"
SCENARIO = REPO / "data" / "scenarios" / "urumqi_changji_shihezi_week.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def fresh_database(admin: str) -> str:
    """Drop and re-create the bench database (owned by the app role); return its URL."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        owner = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone()
        conn.execute(f"CREATE DATABASE {DATABASE}" + (f" OWNER {OWNER}" if owner else ""))
    url = url_with_database(admin, DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:  # extensions need the superuser
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pgcrypto")
    return url.replace("//postgres@", f"//{OWNER}@", 1) if owner else url


def request(k: int, effort: int) -> dict:
    raw = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    raw = {**raw, "name": f"bench queue {k:02d}", "days": 1, "solver": {"seed": k, "effort": effort}}
    return jobs.plan_request(raw, source=SCENARIO.name)


def start_worker(db: str, name: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "planning", "worker", "--db", db, "--lease-s", "5", "--poll-s", "0.5"]
        + ["--name", name],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


class Sampler(threading.Thread):
    """Calls ``probe`` every ``every`` seconds until stopped; keeps the durations (s)."""

    def __init__(self, probe, every: float) -> None:
        super().__init__(daemon=True)
        self.probe, self.every, self.times, self.errors = probe, every, [], 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.perf_counter()
            try:
                self.probe()
                self.times.append(time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - a failed probe counts as an error, the bench goes on
                self.errors += 1
            self.stopped.wait(self.every)


def stats(times: list[float]) -> dict:
    if not times:
        return {"n": 0}
    ordered = sorted(times)
    return {
        "n": len(times),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def one_run(db: str, n_jobs: int, n_workers: int, effort: int, logs: Path, run: int) -> dict:
    from conftest import LOGIN_LABELS
    from playwright.sync_api import expect, sync_playwright

    connect(db).close()  # migrate once before the race
    worker_log = (logs / f"workers-{run}.log").open("wb")
    # The bench starts its own workers: the dashboard must not start local ones.
    server, url = start_dashboard(
        {"XUNHU_DB": db, "XUNHU_LOCAL_WORKERS": "0"}, logs / f"server-{run}.log", 90
    )
    workers = {f"w{k}": start_worker(db, f"r{run}-w{k}", worker_log) for k in range(1, n_workers + 1)}
    poll_conn = connect(db)
    watched = {"job": None}

    def health() -> None:
        with urllib.request.urlopen(f"{url}_stcore/health", timeout=5) as reply:
            reply.read()

    def page_read() -> None:
        if watched["job"] is None:
            return
        job = jobs.get_job(poll_conn, watched["job"])
        jobs.queue_position(poll_conn, job)
        jobs.running_now(poll_conn)

    samplers = {"health": Sampler(health, 0.25), "job_panel_read": Sampler(page_read, 0.25)}
    loads: list[float] = []
    clicks: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()

            def page_load() -> float:
                started = time.perf_counter()
                page.goto(url)
                expect(page.get_by_label(LOGIN_LABELS["username"])).to_be_visible(timeout=30_000)
                return time.perf_counter() - started

            state = {"lang": "zh"}

            def interaction() -> float:
                """Switch the language on the login page: one script rerun over the websocket,
                timed from the click to the relabelled form."""
                to = "en" if state["lang"] == "zh" else "zh"
                started = time.perf_counter()
                page.get_by_text("English" if to == "en" else "中文", exact=True).click()
                expect(page.get_by_label("Username" if to == "en" else "用户名")).to_be_visible(
                    timeout=30_000
                )
                state["lang"] = to
                return time.perf_counter() - started

            def sample() -> None:
                if len(clicks) % 5 == 4:
                    loads.append(page_load())
                    state["lang"] = "zh"  # a fresh session starts in Chinese
                clicks.append(interaction())

            page_load()  # the first load after start compiles and caches: not what a chief waits for
            idle = [page_load() for _ in range(5)]  # the same machine with nothing to solve
            idle_clicks = [interaction() for _ in range(10)]
            for sampler in samplers.values():
                sampler.start()
            requests = [request(k, effort) for k in range(n_jobs)]
            ids: list[int] = []
            lock, go = threading.Lock(), threading.Event()

            def submitter(req: dict) -> None:
                with closing(connect(db, migrate_schema=False)) as conn:
                    go.wait()
                    job_id = jobs.submit(conn, req, actor="bench")
                with lock:
                    ids.append(job_id)

            threads = [threading.Thread(target=submitter, args=(r,)) for r in requests]
            for thread in threads:
                thread.start()
            submitted_at = time.monotonic()
            go.set()
            for thread in threads:
                thread.join()
            submit_s = time.monotonic() - submitted_at
            watched["job"] = max(ids)
            # Kill worker 1 half-way into a search (progress shows the search under way).
            killed_job, killed_at = None, None
            while killed_job is None and time.monotonic() - submitted_at < 300:
                sample()
                for job_id in ids:
                    job = jobs.get_job(poll_conn, job_id)
                    name = workers["w1"].args[-1]
                    if (
                        job.state == "running"
                        and job.worker == name
                        and any("objective" in line for line in job.progress_lines())
                    ):
                        workers["w1"].send_signal(signal.SIGKILL)
                        workers["w1"].wait(10)
                        killed_job, killed_at = job_id, time.monotonic() - submitted_at
                        workers["w1"] = start_worker(db, f"r{run}-w1b", worker_log)
                        break
                time.sleep(0.2)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                sample()
                states = [jobs.get_job(poll_conn, j).state for j in ids]
                if all(s in jobs.FINAL_STATES for s in states):
                    break
                time.sleep(1.0)
            makespan = time.monotonic() - submitted_at
            browser.close()
    finally:
        for sampler in samplers.values():
            sampler.stopped.set()
        for worker in workers.values():
            worker.terminate()
        server.terminate()
        for process in [*workers.values(), server]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    finished = [jobs.get_job(poll_conn, j) for j in sorted(ids)]
    plans = {job.plan_id for job in finished if job.state == "done"}
    stored = all(get_plan(poll_conn, p)["plan"]["status"] == "solved" for p in plans)
    retried = jobs.get_job(poll_conn, killed_job) if killed_job else None
    actions = list(audit.entries(poll_conn, f"job:{killed_job}")["action"]) if killed_job else []
    turnaround = []
    for job in finished:
        if job.finished_at:
            t0 = time.mktime(time.strptime(job.submitted_at, "%Y-%m-%dT%H:%M:%SZ"))
            t1 = time.mktime(time.strptime(job.finished_at, "%Y-%m-%dT%H:%M:%SZ"))
            turnaround.append(t1 - t0)
    poll_conn.close()
    result = {
        "run": run,
        "jobs": n_jobs,
        "workers": n_workers,
        "effort": effort,
        "submitted_in_s": round(submit_s, 2),
        "done": sum(job.state == "done" for job in finished),
        "failed": [(job.job_id, job.error) for job in finished if job.state != "done"],
        "distinct_plans": len(plans),
        "plans_stored": stored,
        "makespan_s": round(makespan, 1),
        "turnaround_s": {
            "median": statistics.median(turnaround) if turnaround else None,
            "max": max(turnaround, default=None),
        },
        "killed": {
            "job": killed_job,
            "at_s": None if killed_at is None else round(killed_at, 1),
            "state": retried.state if retried else None,
            "attempts": retried.attempts if retried else None,
            "audit": actions,
        },
        "interaction_idle": stats(idle_clicks),
        "interaction": stats(clicks),
        "page_load_idle": stats(idle),
        "page_load": stats(loads),
        "health": stats(samplers["health"].times) | {"errors": samplers["health"].errors},
        "job_panel_read": stats(samplers["job_panel_read"].times),
    }
    result["ok"] = (
        result["done"] == n_jobs
        and result["distinct_plans"] == n_jobs
        and stored
        and retried is not None
        and retried.state == "done"
        and retried.attempts == 2
        and "job.retry" in actions
        and result["interaction"].get("p95_ms", 1e9) < 1000
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db", default=os.environ.get("XUNHU_DB"), help="PostgreSQL URL (fresh per run if --admin)"
    )
    parser.add_argument("--admin", default=os.environ.get("XUNHU_PG_ADMIN") or DEFAULT_ADMIN)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--effort", type=int, default=3, help="search effort of each solve (thousands of iterations)"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--logs", default=str(REPO / "var" / "bench_queue"), help="folder for server/worker logs"
    )
    args = parser.parse_args()
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    for run in range(1, args.runs + 1):
        db = args.db if args.db and args.db.startswith("postgres") else fresh_database(args.admin)
        result = one_run(db, args.jobs, args.workers, args.effort, logs, run)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        results.append(result)
    if len(results) > 1:
        summary = {
            key: statistics.median(r[key] for r in results) for key in ("makespan_s", "submitted_in_s")
        }
        for probe in ("interaction", "page_load", "health", "job_panel_read"):
            for figure in ("median_ms", "p95_ms", "max_ms"):
                summary[f"{probe}_{figure}"] = statistics.median(r[probe][figure] for r in results)
        summary["all_ok"] = all(r["ok"] for r in results)
        print(json.dumps({"medians_over_runs": summary}), flush=True)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
