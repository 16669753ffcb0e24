"""``python -m planning plan --scenario S.yaml --out P.json [--effort K | --seconds N] [--db DB]``: solve a weekly scenario.

Prints progress while it works (sites, travel matrix, each better solution the solver finds) and a
summary at the end; bad scenarios exit 2 with the offending field named.

With ``--db`` the open tasks of the records database (follow-ups of cases, complaint checks) due by
the plan's last day join the scenario's ``tasks`` (unless it says ``tasks: false``): the planner
gets them as a plain list, and the plan file keeps that list. This is the one place the planner
reads the records, as the re-planner does for recorded visits.

With ``--queue`` the solve is submitted as a job to the queue in the records database (``--db`` or
``$XUNHU_DB``; see :mod:`planning.jobs` and docs/queue.md) and this command prints its progress lines
until a worker finishes it; the plan lands in the records as a draft (and in ``--out`` if given). On
a SQLite database local workers are started when needed (``$XUNHU_LOCAL_WORKERS``), so nothing else
has to run; with PostgreSQL, run ``python -m planning worker`` on any machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from planning.closures import load_closures
from planning.patrol import plan_week
from planning.scenario import Scenario, ScenarioError, load_scenario, parse_tasks, with_tasks


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``plan`` subcommand."""
    parser = argparse.ArgumentParser(prog="python -m planning plan", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", required=True, help="scenario YAML file")
    parser.add_argument("--out", help="plan JSON file to write (required unless --queue)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--effort",
        type=int,
        help="search effort, thousands of iterations: the same plan on any machine "
        "(default: the scenario's solver.effort)",
    )
    budget.add_argument(
        "--seconds",
        type=float,
        help="a time budget instead of an effort (the plan then depends on the machine)",
    )
    parser.add_argument(
        "--closures",
        help="extra road closures to avoid (GeoJSON, same columns as data/geo/road_closures.geojson)",
    )
    parser.add_argument(
        "--db",
        help="records database whose open tasks (case follow-ups, complaint checks) the plan serves "
        "(scenario switch tasks: true/false; on by default when this is given)",
    )
    parser.add_argument(
        "--great-circle",
        action="store_true",
        help="use the great-circle travel model instead of the road network",
    )
    parser.add_argument(
        "--queue",
        action="store_true",
        help="submit the solve as a job to the queue in the records database and follow it until it ends",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        help="with --queue: the job's hard time limit in seconds (default: budget + setup allowance)",
    )
    args = parser.parse_args(argv)
    if args.out is None and not args.queue:
        print("error: --out is required (unless --queue)", file=sys.stderr)
        return 2
    if args.time_limit is not None and args.time_limit <= 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    if args.seconds is not None and args.seconds <= 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return 2
    if args.effort is not None and args.effort <= 0:
        print("error: --effort must be positive", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    try:
        extra = load_closures(args.closures) if args.closures else ()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.queue:
        return _queued(args, extra, progress)
    try:
        scenario = _with_records_tasks(load_scenario(args.scenario), args.db, progress)
        plan = plan_week(
            scenario,
            network=None if args.great_circle else "default",
            closures=extra,
            seconds=args.seconds,
            effort=args.effort,
            progress=progress,
        )
    except ScenarioError as exc:
        print(f"error: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the records database could not be read
        print(f"error: --db {args.db}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        plan.save(out)
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    _summary(plan, out)
    return 0


def _queued(args, extra, progress) -> int:
    """``--queue``: submit the solve as a job, follow it, write ``--out`` from the stored plan."""
    from contextlib import closing

    from planning import jobs
    from planning.jobs_cli import follow
    from planning.plan import Plan
    from planning.worker import ensure_local_workers
    from records.backend import database_errors
    from records.db import RecordsError, connect, db_target
    from records.plans import get_plan

    try:
        scenario = _with_records_tasks(load_scenario(args.scenario), args.db, progress)
    except ScenarioError as exc:
        print(f"error: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: --db {args.db}: {exc}", file=sys.stderr)
        return 2
    request = jobs.plan_request(
        scenario.source,
        closures=extra,
        travel="great_circle" if args.great_circle else "road_network",
        seconds=args.seconds,
        effort=args.effort,
        source=str(args.scenario),
    )
    try:
        with closing(connect(args.db)) as conn:
            job_id = jobs.submit(conn, request, time_limit_s=args.time_limit)
            progress(f"submitted job {job_id} to {db_target(args.db)}")
            started = ensure_local_workers(args.db)
            if started:
                progress(f"{started} local worker(s) running")
            job = follow(conn, job_id, progress)
            if job.state != "done":
                print(f"error: job {job_id} {job.state}: {job.error or ''}", file=sys.stderr)
                return 1
            stored = get_plan(conn, job.plan_id)
    except (RecordsError, *database_errors()) as exc:
        print(f"error: records database {db_target(args.db)}: {exc}", file=sys.stderr)
        return 2
    progress(f"plan {stored['plan_id']} stored as {stored['plan_key']} version {stored['version']} (draft)")
    plan = Plan.from_dict(stored["plan"])
    out = Path(args.out) if args.out else None
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(stored["plan"], ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    _summary(plan, out)
    return 0


def _summary(plan, out: Path | None) -> None:
    """The closing lines: verdict, KPIs, each team-day, warnings, tasks, unmet mandatory sites."""
    wrote = f"; wrote {out}" if out is not None else ""
    k = plan.kpis
    print(
        f"{plan.status}: {k['sites_visited']} of {k['sites_total']} sites visited, {k['sites_dropped']} dropped, "
        f"{k['drive_km']:.0f} km driven, {k['nights_away_from_base']} nights away ({plan.travel_model}){wrote}"
    )
    for team in plan.teams:
        for day in team.days:
            print(
                f"  {team.team_id} {day.date}: leave {day.leave[11:16]}, bed {day.bed} at {day.arrive_bed[11:16]}, "
                f"{day.drive_minutes / 60:.1f} h driving, {day.duty_minutes / 60:.1f} h on duty, {day.km:.0f} km, "
                f"{day.sites} site(s)"
            )
    for warning in plan.warnings:
        print(f"  warning: {warning}")
    for task in plan.tasks:
        # Tasks not served on time are also among the warnings above, with the reason.
        if task["team"] is not None:
            when = "on time" if task["on_time"] else "late"
            print(f"  task {task['id']} ({task['reason']}): {task['team']} at {task['start'][5:16]}, {when}")
    for site_id in plan.mandatory_unmet:
        reason = next(d["reason"] for d in plan.dropped if d["id"] == site_id)
        print(f"  mandatory site {site_id} not visited: {reason}")


def _with_records_tasks(scenario: Scenario, db: str | None, progress) -> Scenario:
    """The scenario with the open tasks of the records database ``db`` due by its last day."""
    if db is None:
        if scenario.use_tasks and not scenario.tasks:
            raise ScenarioError(
                "tasks", "true, but no records database given: add --db DB (or set tasks: false)"
            )
        return scenario
    if scenario.use_tasks is False:
        return scenario
    from records.db import RecordsError, exists
    from records.store import open_store
    from records.tasks import planner_tasks

    if not exists(db):  # a file that is not there (a PostgreSQL URL always "exists")
        raise RuntimeError("no such database file")
    try:
        with open_store(db) as store:
            listed = planner_tasks(store.conn, scenario.day_dates()[-1])
    except (RecordsError, OSError) as exc:
        raise RuntimeError(str(exc)) from None
    progress(f"{len(listed)} open task(s) due by {scenario.day_dates()[-1]} in {db}")
    return with_tasks(scenario, parse_tasks(listed, f"--db {db}: tasks"))
