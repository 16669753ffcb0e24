"""Plan week (chief): scenario in, a checked weekly plan out, approved into the records.

The page only gathers input and calls the core: the inputs become a scenario mapping
(:mod:`views.plan_inputs`) validated by ``planning.scenario.parse_scenario``; the solve is submitted
as a job to the queue in the records (:mod:`planning.jobs`, docs/queue.md) and a worker process runs
it (``python -m planning worker``; on a laptop the page starts local ones itself,
:func:`planning.worker.ensure_local_workers`), so the dashboard keeps answering while it solves. The
page polls the job once a second in a fragment (queue position, the solver's progress lines, a
cancel button); the worker stores the plan as a draft and the page shows it. A session without a
browser connection (Streamlit's AppTest) or ``XUNHU_SOLVE=inline`` runs its own job in this process
through the same queue functions (submit, claim, progress, finish). The plan is kept in
``st.session_state`` (reruns never re-solve) and everything derived from it (road geometry, the
independent checker, expected coverage) is cached on the plan's JSON. Approval saves the plan as
a draft version and approves it as the logged-in account (``records.access.approve_plan``, so the
audit log names the account).

The search is reproducible by default (``solver: {seed, effort}``: the same plan on any machine); a
time budget is optional. Road closures a chief added (``records.closures``) that are in force on
any plan day go to the planner and to the checker on top of the shipped seasonal layer. The per
team and day table (leave, bed, driving and duty hours) comes first in the result; plans saved
before format version 2 (no ``days``, no stop ``start``) still display.

A chief plans for their own detachment's prefecture (its counties included); an admin for any.
"""

from __future__ import annotations

import datetime as dt
import os

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from planning import jobs
from planning.patrol import plan_week
from planning.scenario import ScenarioError, parse_scenario
from planning.worker import ensure_local_workers, run_in_process
from records import access
from records.closures import as_planning_closures, closures_between
from records.db import RecordsError
from records.plans import get_plan
from records.tasks import planner_tasks
from views import plan_inputs, plan_overrides
from views import plan_week_inputs as inputs
from views import plan_week_replan as replan_view
from views import plan_week_result as result_view
from views.data import records_store, road_network, targets
from views.plan_week_text import T
from views.session import current_account

STATE = "plan.result"
#: Session key of the job being solved: {job_id, raw, closure_ids}.
JOB = "plan.job"
#: Seconds between two looks at the job while it is queued or running.
POLL_S = 1.0
#: A job still queued after this long with nobody running anything: say how to start a worker.
NO_WORKER_HINT_S = 15


def _plan_closures(start: dt.date, days: int) -> list:
    """The chief-added closures (records) in force on at least one plan day."""
    with records_store() as store:
        return closures_between(store, start, start + dt.timedelta(days=max(int(days), 1) - 1))


def _with_open_tasks(raw: dict) -> dict:
    """The scenario with the records' open tasks (case follow-ups, complaint and night checks) due by
    its last day, as ``planning plan --db`` adds them; says how many there are."""
    start = dt.date.fromisoformat(str(raw["start"]))
    last = start + dt.timedelta(days=max(int(raw["days"]), 1) - 1)
    with records_store() as store:
        listed = planner_tasks(store.conn, last)
    if not listed:
        return raw
    st.info(T("plan.tasks.some", n=len(listed), day=last.isoformat()))
    return {**raw, "tasks": listed}


def _inline() -> bool:
    """True when this session runs its own job (no browser to poll for it: AppTest, a bare run), or
    ``XUNHU_SOLVE=inline`` asks for it; else a worker process runs it."""
    mode = os.environ.get("XUNHU_SOLVE", "").strip().lower()
    if mode in ("inline", "queue"):
        return mode == "inline"
    return not st.context.headers


def _submit(raw: dict, chief_closures: list, account) -> None:
    """Queue the solve of ``raw`` (avoiding ``chief_closures`` too) as a job of ``account``; run it
    here when :func:`_inline`, else make sure a worker will take it and let the page poll it."""
    parse_scenario(raw)
    request = jobs.plan_request(raw, closures=as_planning_closures(chief_closures), source="Plan week page")
    with records_store() as store:
        job_id = jobs.submit(store.conn, request, actor=account.username)
    st.session_state.pop(STATE, None)
    st.session_state.pop("plan.job.ended", None)
    st.session_state[JOB] = {
        "job_id": job_id,
        "raw": raw,
        "closure_ids": [c.closure_id for c in chief_closures],
        "submitted": dt.datetime.now(dt.UTC).timestamp(),
    }
    if _inline():
        _run_here(job_id, raw, chief_closures)
    else:
        ensure_local_workers()


def _run_here(job_id: int, raw: dict, chief_closures: list) -> None:
    """Claim job ``job_id`` and solve it in this process with its progress lines in a status box."""
    scenario = parse_scenario(raw)
    extra = as_planning_closures(chief_closures)
    with st.status(T("plan.solving", days=scenario.days, teams=len(scenario.teams)), expanded=True) as box:
        solver_line = st.empty()

        def progress(message: str) -> None:
            if get_script_run_ctx() is None:
                return  # a line from one of the search's threads: only the job keeps it
            if message.lstrip().startswith("search"):
                solver_line.code(message.strip())
            else:
                st.write(message)

        def solve(say) -> dict:
            return plan_week(
                scenario, targets=targets(), network=road_network(), closures=extra, progress=say
            ).to_dict()

        with records_store() as store:
            # Leased for its whole time limit: the search's threads cannot renew it from here.
            lease = jobs.default_time_limit({"scenario": raw})
            job = jobs.claim(store.conn, f"inline:{jobs.worker_id()}", lease, job_id=job_id)
            if job is None:  # a worker took it first: poll it as usual
                box.update(state="running")
                return
            try:
                job = run_in_process(store.conn, job, solve, progress, lease_s=lease)
            except ScenarioError as exc:
                box.update(state="error")
                _ended(T("plan.scenario_error", field=exc.field, message=inputs.message(exc)))
                return
            except ValueError as exc:
                box.update(state="error")
                _ended(T("plan.failed", message=exc))
                return
        if job.state != "done":
            box.update(state="error")
            _ended(T("plan.failed", message=job.error))
            return
        _take_result(job)
        seconds = float(st.session_state[STATE]["plan"].get("solve_seconds") or 0)
        box.update(label=T("plan.solved", seconds=seconds), state="complete", expanded=False)


def _resume_job(account) -> None:
    """After a reload (a new session) follow the account's job still queued or running, if any."""
    with records_store() as store:
        job = jobs.unfinished_of(store.conn, account.username)
    if job is None:
        return
    closures = [str(c.get("id", "")) for c in job.request.get("closures") or []]
    st.session_state[JOB] = {
        "job_id": job.job_id,
        "raw": job.request["scenario"],
        "closure_ids": [
            int(c.removeprefix("chief-")) for c in closures if c.removeprefix("chief-").isdigit()
        ],
        "submitted": dt.datetime.fromisoformat(job.submitted_at.replace("Z", "+00:00")).timestamp(),
    }


def _ended(message: str, kind: str = "error") -> None:
    """The job ended without a plan: say so (``kind`` error or info, until the next solve) and stop
    polling."""
    st.session_state["plan.job.ended"] = (kind, message)
    st.session_state.pop(JOB, None)
    _say_ended()


def _say_ended() -> None:
    kind, message = st.session_state["plan.job.ended"]
    (st.info if kind == "info" else st.error)(message)


def _take_result(job: jobs.Job) -> None:
    """Keep the finished job's plan (read back from the records) as the page's result."""
    submitted = st.session_state.pop(JOB)
    with records_store() as store:
        stored = get_plan(store.conn, job.plan_id)
    st.session_state[STATE] = {
        "raw": submitted["raw"],
        "plan": stored["plan"],
        "saved": None,
        "closure_ids": submitted["closure_ids"],
        "job_id": job.job_id,
        "draft_id": job.plan_id,
    }


@st.fragment(run_every=POLL_S)
def _job_panel() -> None:
    """The submitted job, looked at once a second: its place in the queue or its progress, a cancel
    button; when it is done, the page reruns and shows the plan."""
    submitted = st.session_state.get(JOB)
    if submitted is None:
        return
    with records_store() as store:
        job = jobs.get_job(store.conn, submitted["job_id"])
        ahead = jobs.queue_position(store.conn, job)
        busy_elsewhere = job.state == "queued" and jobs.running_now(store.conn)
    if job.state == "done":
        _take_result(job)
        st.rerun()
    if job.state == "cancelled":
        _ended(T("plan.job.cancelled", id=job.job_id), "info")
        st.rerun()
    if job.state == "failed":
        _ended(T("plan.failed", message=job.error or ""))
        st.rerun()
    raw = submitted["raw"]
    label = (
        T("plan.job.queued", id=job.job_id, ahead=ahead)
        if job.state == "queued"
        else T("plan.job.running", id=job.job_id, worker=job.worker or "", attempt=job.attempts)
    )
    # Not as a context manager: leaving the block would mark the box complete.
    box = st.status(label, expanded=True, state="running")
    box.caption(T("plan.solving", days=raw["days"], teams=len(raw.get("teams") or [])))
    lines = job.progress_lines()
    for line in lines:
        if not line.lstrip().startswith("search "):
            box.write(line)
    search = [line for line in lines if line.lstrip().startswith("search ")]
    if search:
        box.code(search[-1].strip())
    waited = dt.datetime.now(dt.UTC).timestamp() - float(submitted.get("submitted") or 0)
    if job.state == "queued" and not busy_elsewhere and waited > NO_WORKER_HINT_S:
        box.warning(T("plan.job.no_worker"))
    if st.button(T("plan.job.cancel"), key="plan.job.cancel"):
        try:
            with records_store() as store:
                jobs.cancel(store.conn, job.job_id, actor=getattr(current_account(), "username", None))
        except RecordsError:
            pass  # it finished meanwhile: the next look shows how
        st.rerun()


def render() -> None:
    """The Plan-week page."""
    st.header(T("plan.title"))
    account = current_account()
    if account is None:
        st.warning(T("plan.login"))
        return
    if not access.can(account, "approve_plan"):
        st.warning(T("plan.refused"))
        return
    options = inputs.region_options(inputs.allowed_prefectures(account))
    inputs.init_state(options)
    inputs.scenario_inputs(options)
    teams = inputs.teams_input()
    state = st.session_state
    mandatory = inputs.mandatory_input(
        list(state["plan.f.regions"]), list(state["plan.f.layers"]), state["plan.f.start"]
    )
    st.subheader(T("plan.section.solve"))
    try:
        raw = inputs.scenario_from_state(teams, mandatory)
        # The chief's overrides (pins, forbid, unavailable, locked days) from the last result.
        raw = {**raw, **plan_overrides.as_mapping(state.get(result_view.OVERRIDES) or {})}
        parse_scenario(raw)
    except ScenarioError as exc:
        st.error(T("plan.scenario_error", field=exc.field, message=plan_overrides.error_message(exc)))
        raw = None
    if raw is not None:
        raw = _with_open_tasks(raw)
    chief_closures = _plan_closures(state["plan.f.start"], int(state["plan.f.days"]))
    if chief_closures:
        names = "、".join(f"{c.name}（{c.period}）" for c in chief_closures)
        st.info(T("plan.closures.some", n=len(chief_closures), names=names))
    else:
        st.caption(T("plan.closures.none"))
    left, right = st.columns([1, 1])
    solve = left.button(T("plan.solve"), key="plan.solve", type="primary", disabled=raw is None)
    if raw is not None:
        right.download_button(
            T("plan.download_yaml"),
            plan_inputs.scenario_yaml(raw),
            f"{raw['name']}.yaml".replace(" ", "_"),
            "application/x-yaml",
            key="plan.download_yaml",
            on_click="ignore",
        )
    if solve and raw is not None:
        try:
            _submit(raw, chief_closures, account)
        except ScenarioError as exc:
            st.error(T("plan.scenario_error", field=exc.field, message=inputs.message(exc)))
        except RecordsError as exc:
            st.error(T("plan.failed", message=exc))
    elif state.get("plan.job.ended"):
        _say_ended()
    elif state.get(JOB) is None and state.get(STATE) is None:
        _resume_job(account)
    if state.get(JOB) is not None:
        _job_panel()
    result = state.get(STATE)
    if result is not None:
        if result.get("job_id") is not None:
            st.caption(T("plan.job.done", id=result["job_id"], plan=result["draft_id"]))
        result_view.show_result(result, account)
    st.divider()
    replan_view.render(account)
