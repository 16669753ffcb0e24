"""Plan week (chief): scenario in, a checked weekly plan out, approved into the records.

The page only gathers input and calls the core: the inputs become a scenario mapping
(:mod:`views.plan_inputs`) validated by ``planning.scenario.parse_scenario``; ``planning.patrol.
plan_week`` solves it with its progress lines shown live; the plan is kept in
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

import streamlit as st

from planning.patrol import plan_week
from planning.scenario import ScenarioError, parse_scenario
from records import access
from records.closures import as_planning_closures, closures_between
from records.tasks import planner_tasks
from views import plan_inputs, plan_overrides
from views import plan_week_inputs as inputs
from views import plan_week_replan as replan_view
from views import plan_week_result as result_view
from views.data import records_store, road_network, targets
from views.plan_week_text import T
from views.session import current_account

STATE = "plan.result"


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


def _solve(raw: dict, chief_closures: list) -> None:
    """Run the planner (avoiding ``chief_closures`` too) with its progress lines in a status box;
    keep the plan, and which closures it was given, in the session."""
    scenario = parse_scenario(raw)
    extra = as_planning_closures(chief_closures)
    with st.status(T("plan.solving", days=scenario.days, teams=len(scenario.teams)), expanded=True) as box:
        solver_line = st.empty()

        def progress(message: str) -> None:
            if message.lstrip().startswith("solver"):
                solver_line.code(message.strip())
            else:
                st.write(message)

        try:
            plan = plan_week(
                scenario, targets=targets(), network=road_network(), closures=extra, progress=progress
            )
        except ScenarioError as exc:
            box.update(state="error")
            st.error(T("plan.scenario_error", field=exc.field, message=inputs.message(exc)))
            return
        except ValueError as exc:
            box.update(state="error")
            st.error(T("plan.failed", message=exc))
            return
        box.update(label=T("plan.solved", seconds=plan.solve_seconds), state="complete", expanded=False)
    st.session_state[STATE] = {
        "raw": raw,
        "plan": plan.to_dict(),
        "saved": None,
        "closure_ids": [c.closure_id for c in chief_closures],
    }


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
        )
    if solve and raw is not None:
        _solve(raw, chief_closures)
    result = state.get(STATE)
    if result is not None:
        result_view.show_result(result, account)
    st.divider()
    replan_view.render(account)
