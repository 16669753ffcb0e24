"""Plan week, sections 1-3: the scenario, the teams and the mandatory sites (random draw, upload or
ticks), gathered from widgets into one scenario mapping (:func:`scenario_from_state`); nothing here
plans. Widget keys start with ``plan.f.`` / ``plan.``: the page's session state."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from layers.datasets import load_context, load_roster
from layers.draw import DrawError
from layers.schema import LAYERS, SKILLS
from planning.candidates import resolve_regions
from planning.scenario import BEIJING, DEFAULT_EFFORT, MAX_DAYS, ScenarioError, draw_officers
from records import access
from records.db import RecordsError
from records.draws import draw_object, earlier_draws, system_draw
from views import plan_inputs, plan_overrides
from views.data import records_store, targets
from views.i18n import choose, language_key
from views.plan_week_text import T
from views.session import current_account, now, today
from views.vocabulary import labeller

#: The time budget offered when a chief prefers one to the reproducible effort.
DEFAULT_SOLVER_SECONDS = 20


@st.cache_data(show_spinner=False, max_entries=16)
def _candidates(regions: tuple[str, ...], layers: tuple[str, ...], start: str) -> pd.DataFrame:
    return plan_inputs.candidate_sites(targets(), list(regions), list(layers), dt.date.fromisoformat(start))


@st.cache_data(show_spinner=False)
def region_options(allowed_prefectures: tuple[str, ...] | None) -> dict[str, str]:
    return plan_inputs.region_options(None if allowed_prefectures is None else frozenset(allowed_prefectures))


def allowed_prefectures(account) -> tuple[str, ...] | None:
    """None (any prefecture) for an admin, else the chief's own detachment."""
    return None if access.can(account, "all_plans") else (account.detachment or "",)


def _default_base(options: dict[str, str]) -> str:
    """The most populous town of the first prefecture the account may plan."""
    prefectures = load_context("prefectures").set_index("name_zh")["adcode"]
    codes = [prefectures[name] for name in options if name in prefectures.index]
    places = load_context("places")
    places = places[places["pref_adcode"].isin(codes[:1])] if codes else places
    return str(places.sort_values("population", ascending=False)["name_zh"].iloc[0])


def _next_monday() -> dt.date:
    today = now().astimezone(BEIJING).date()
    return today + dt.timedelta(days=7 - today.weekday())


def init_state(options: dict[str, str]) -> None:
    defaults = {
        "plan.f.name": "",
        "plan.f.regions": list(options)[:1],
        "plan.f.start": _next_monday(),
        "plan.f.days": 5,
        "plan.f.work": "10:00-19:30",
        "plan.f.night_on": False,
        "plan.f.night": "22:00-02:00",
        "plan.f.layers": list(LAYERS),
        "plan.f.min_priority": 0.0,
        "plan.f.return": True,
        "plan.f.effort": DEFAULT_EFFORT,
        "plan.f.seed": 1,
        "plan.f.budget_on": False,
        "plan.f.seconds": DEFAULT_SOLVER_SECONDS,
        "plan.lodging": "auto",
        "plan.drawn_officers": {},
        "plan.mandatory": [],
        "plan.editor_version": 0,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if "plan.teams_df" not in st.session_state:
        base = _default_base(options)
        st.session_state["plan.teams_df"] = plan_inputs.teams_frame(
            [
                {"id": "T1", "base": base, "members": 3, "skills": ["sampling"]},
                {"id": "T2", "base": base, "members": 2},
            ]
        )


def _load_shipped(options: dict[str, str]) -> None:
    """on_change of the source picker: copy a shipped scenario into the inputs."""
    source = st.session_state["plan.source"]
    shipped = plan_inputs.shipped_scenarios()
    if source not in shipped:
        return
    raw = plan_inputs.read_scenario_mapping(shipped[source])
    sites = raw.get("sites") or {}
    kept, removed = plan_inputs.split_regions([str(r) for r in sites.get("regions") or []], options)
    state = st.session_state
    state["plan.f.name"] = str(raw.get("name", source))
    state["plan.f.regions"] = kept
    state["plan.f.start"] = dt.date.fromisoformat(str(raw["start"]))
    state["plan.f.days"] = int(raw.get("days", 5))
    state["plan.f.work"] = str(raw.get("work_hours", "10:00-19:30"))
    state["plan.f.night_on"] = raw.get("night_hours") is not None
    state["plan.f.night"] = str(raw.get("night_hours") or "22:00-02:00")
    state["plan.f.layers"] = [layer for layer in sites.get("layers") or LAYERS if layer in LAYERS]
    state[language_key("plan.f.layers")] = list(state["plan.f.layers"])
    state["plan.f.min_priority"] = float(sites.get("min_priority", 0))
    state["plan.f.return"] = bool(raw.get("return_to_base", True))
    solver = raw.get("solver") if isinstance(raw.get("solver"), dict) else {}
    state["plan.f.seed"] = int(solver.get("seed", 1))
    state["plan.f.effort"] = int(solver.get("effort", DEFAULT_EFFORT))
    state["plan.f.budget_on"] = solver.get("seconds") is not None
    state["plan.f.seconds"] = int(solver.get("seconds") or DEFAULT_SOLVER_SECONDS)
    state["plan.lodging"] = raw.get("lodging", "auto")
    state["plan.teams_df"] = plan_inputs.teams_frame(raw.get("teams") or [])
    state["plan.mandatory"] = [str(s) for s in sites.get("mandatory") or []]
    drawn = sites.get("drawn_officers") if isinstance(sites.get("drawn_officers"), dict) else {}
    state["plan.drawn_officers"] = {str(k): [str(o) for o in v or []] for k, v in drawn.items()}
    state["plan.editor_version"] += 1
    notices = [T("plan.loaded", name=source)]
    if removed:
        notices.append(T("plan.regions_removed", regions="、".join(removed)))
    state["plan.notices"] = notices


def _start_warning(column) -> None:
    """Warn under the first day when it lies more than a week back or months ahead."""
    start = st.session_state["plan.f.start"]
    problem = plan_inputs.start_problem(start, today())
    if problem is not None:
        which, days = problem
        column.warning(T(f"plan.f.start.{which}", day=start.isoformat(), n=days))


def _layers_input(column) -> None:
    """The layers to plan, as translated chips; the choice (codes) lives in ``plan.f.layers``.

    A keyed multiselect keeps the labels it first showed, so its key changes with the language and
    a new one starts from ``plan.f.layers`` (a language switch keeps the choice).
    """
    state = st.session_state
    key = language_key("plan.f.layers")
    state.setdefault(key, list(state["plan.f.layers"]))
    state["plan.f.layers"] = column.multiselect(
        T("plan.f.layers"), list(LAYERS), key=key, format_func=labeller("layer"), placeholder=choose()
    )


def scenario_inputs(options: dict[str, str]) -> None:
    st.subheader(T("plan.section.scenario"))
    # Plain labels, no format_func: the "new" label is translated, the scenarios are file names.
    sources = [T("plan.source.new"), *plan_inputs.shipped_scenarios()]
    st.selectbox(T("plan.source"), sources, key="plan.source", on_change=_load_shipped, args=(options,))
    for notice in st.session_state.pop("plan.notices", []):
        st.info(notice)
    left, middle, right = st.columns(3)
    left.text_input(T("plan.f.name"), key="plan.f.name")
    left.multiselect(
        T("plan.f.regions"),
        list(options),
        key="plan.f.regions",
        format_func=options.get,
        placeholder=choose(),
    )
    _layers_input(left)
    middle.date_input(T("plan.f.start"), key="plan.f.start")
    _start_warning(middle)
    # 0 is allowed in the box so that it is answered with a sentence, not only a red outline.
    middle.number_input(
        T("plan.f.days"),
        min_value=0,
        max_value=MAX_DAYS,
        step=1,
        key="plan.f.days",
    )
    if int(st.session_state["plan.f.days"]) < 1:
        middle.error(T("plan.f.days.zero", max=MAX_DAYS))
    middle.text_input(T("plan.f.work"), key="plan.f.work", help="HH:MM-HH:MM")
    middle.checkbox(T("plan.f.night_on"), key="plan.f.night_on")
    if st.session_state["plan.f.night_on"]:
        middle.text_input(T("plan.f.night"), key="plan.f.night", help="HH:MM-HH:MM")
    right.slider(T("plan.f.min_priority"), 0.0, 100.0, step=5.0, key="plan.f.min_priority")
    effort, seed = right.columns(2)
    effort.number_input(
        T("plan.f.effort"),
        min_value=1,
        max_value=100_000,
        step=50,
        key="plan.f.effort",
        help=T("plan.f.effort.help", effort=DEFAULT_EFFORT),
    )
    seed.number_input(T("plan.f.seed"), min_value=0, max_value=2**31 - 1, step=1, key="plan.f.seed")
    with right.expander(T("plan.f.budget")):
        st.checkbox(T("plan.f.budget_on"), key="plan.f.budget_on")
        st.slider(
            T("plan.f.seconds"),
            1,
            600,
            key="plan.f.seconds",
            disabled=not st.session_state["plan.f.budget_on"],
        )
    right.checkbox(T("plan.f.return"), key="plan.f.return")
    towns = plan_inputs.lodging_towns(st.session_state["plan.lodging"])
    right.caption(T("plan.f.lodging_towns", towns="、".join(towns)) if towns else T("plan.f.lodging"))


def teams_input() -> pd.DataFrame:
    st.subheader(T("plan.section.teams"))
    teams = st.session_state["plan.teams_df"]
    st.caption(T("plan.teams.help"))
    # Skills are chosen as chips (codes underneath); a skill a loaded scenario names that the
    # schema does not know stays visible so parse_scenario can name it.
    known = [
        *SKILLS,
        *sorted({s for cell in teams["skills"] for s in plan_inputs.team_skills(cell)} - set(SKILLS)),
    ]
    return st.data_editor(
        teams,
        key=f"plan.teams_editor.{st.session_state['plan.editor_version']}",
        num_rows="dynamic",
        width="stretch",
        column_config={
            "id": st.column_config.TextColumn(T("plan.col.team"), required=True),
            "base": st.column_config.TextColumn(T("plan.col.base"), required=True),
            "members": st.column_config.NumberColumn(
                T("plan.col.members"), min_value=1, max_value=50, step=1
            ),
            "skills": st.column_config.MultiselectColumn(
                T("plan.col.skills"), options=known, format_func=labeller("skill")
            ),
            "officers": st.column_config.TextColumn(T("plan.col.officers")),
        },
    )


def _replace_mandatory(ids: list[str], notice: str, officers: dict[str, list[str]] | None = None) -> None:
    """New mandatory sites (and the officers drawn for them): reset the picker's ticks and rerun
    so every count shows them."""
    st.session_state["plan.mandatory"] = ids
    st.session_state["plan.drawn_officers"] = dict(officers or {})
    if officers:
        notice = f"{notice} {T('plan.draw.officers', n=len(officers))}"
    st.session_state["plan.editor_version"] += 1
    st.session_state["plan.draw.notice"] = notice
    st.rerun()


def _draw_tabs(regions: list[str], start: dt.date) -> None:
    """Random draw and upload: both replace the mandatory list."""
    notice = st.session_state.pop("plan.draw.notice", None)
    if notice:
        st.success(notice)
    draw_tab, upload_tab = st.tabs([T("plan.draw.tab"), T("plan.draw.upload_tab")])
    with draw_tab:
        _system_draw(regions, start)
    with upload_tab:
        _upload_draw()


def _system_draw(regions: list[str], start: dt.date) -> None:
    """A draw made by the system (seed committed to the audit log first), or the latest one reused."""
    a, c = st.columns([1, 2])
    period = a.text_input(T("plan.draw.period"), value=plan_inputs.quarter_of(start), key="plan.draw.period")
    # Translated labels as the options (a format_func cannot read the session's language).
    levels = {T(f"plan.draw.level.{level}"): level for level in ("prefecture", "county")}
    level = levels[c.radio(T("plan.draw.level"), list(levels), horizontal=True, key="plan.draw.level")]
    st.caption(T("plan.draw.fair"))
    try:
        codes = tuple(sorted(resolve_regions(tuple(regions))))
        obj = draw_object(period, level, codes)
    except ScenarioError as exc:
        st.error(T("plan.draw.error", message=message(exc)))
        return
    except DrawError as exc:
        st.error(T("plan.draw.error", message=exc))
        return
    with records_store() as store:
        earlier = earlier_draws(store.conn, obj)
    reason = ""
    if len(earlier):
        reason = _earlier_draw(earlier, period)
    label = T("plan.draw.redo") if len(earlier) else T("plan.draw.run")
    if st.button(label, key="plan.draw.run", disabled=not regions or (len(earlier) > 0 and not reason)):
        try:
            with records_store() as store:
                record = system_draw(
                    store.conn,
                    targets(),
                    load_roster(),
                    period,
                    level=level,
                    regions=codes,
                    reason=reason,
                    actor=current_account().username,
                )
        except RecordsError as exc:
            st.error(T("plan.draw.error", message=exc))
        else:
            _use_draw(record, T("plan.draw.done", n=len(record["result"]), entry=record["commit_id"]))


def _earlier_draw(earlier: pd.DataFrame, period: str) -> str:
    """Say this scope was drawn before, offer its result, and ask why a re-draw is needed."""
    last = earlier.iloc[-1]
    record = last["details"]
    st.info(
        T(
            "plan.draw.earlier",
            period=period,
            n=len(earlier),
            at=f"{last['at'].tz_convert(BEIJING):%Y-%m-%d %H:%M}",
            actor=last["actor"],
            sites=len(record.get("result") or []),
            entry=last["audit_id"],
        )
    )
    if st.button(T("plan.draw.use_latest"), key="plan.draw.use_latest"):
        _use_draw(record, T("plan.draw.used", entry=last["audit_id"], n=len(record.get("result") or [])))
    return st.text_input(T("plan.draw.reason"), key="plan.draw.reason").strip()


def _use_draw(record: dict, notice: str) -> None:
    """Make a draw record's sites mandatory, with the officers drawn for them."""
    ids = [item["site_id"] for item in record["result"]]
    officers = {site: list(o) for site, o in draw_officers(record).items()}
    _replace_mandatory(ids, notice, officers)


def _upload_draw() -> None:
    """A draw record (or a JSON list of site ids) uploaded as a file."""
    upload = st.file_uploader(T("plan.draw.upload"), type=["json"], key="plan.draw.upload")
    if upload is not None and st.session_state.get("plan.draw.upload_seen") != upload.file_id:
        st.session_state["plan.draw.upload_seen"] = upload.file_id
        try:
            ids, officers = plan_inputs.draw_from_record(upload.getvalue(), upload.name)
        except ScenarioError as exc:
            st.error(T("plan.scenario_error", field=exc.field, message=message(exc)))
        else:
            _replace_mandatory(ids, T("plan.draw.uploaded", n=len(ids), file=upload.name), officers)


def mandatory_input(regions: list[str], layers: list[str], start: dt.date) -> list[str]:
    """Mandatory site ids: a draw, an upload, or ticks in the candidate table."""
    chosen = list(st.session_state["plan.mandatory"])
    with st.expander(T("plan.section.mandatory", n=len(chosen)), expanded=False):
        _draw_tabs(regions, start)
        chosen = list(st.session_state["plan.mandatory"])
        st.markdown(f"**{T('plan.draw.pick_tab')}**")
        if not regions or not layers:
            st.caption(T("plan.pick.none"))
            return chosen
        try:
            candidates = _candidates(tuple(regions), tuple(layers), start.isoformat())
        except ScenarioError as exc:
            st.error(T("plan.scenario_error", field=exc.field, message=message(exc)))
            return chosen
        f1, f2 = st.columns([2, 1])
        text = f1.text_input(T("plan.pick.filter"), key="plan.pick.filter").strip()
        least = f2.slider(
            T("plan.pick.min_priority"), 0.0, 100.0, 0.0, step=5.0, key="plan.pick.min_priority"
        )
        shown = candidates[candidates["priority"] >= least]
        if text:
            hay = shown["name"] + " " + shown["site_id"] + " " + shown["county"]
            shown = shown[hay.str.contains(text, case=False, regex=False)]
        st.caption(T("plan.pick.shown", shown=len(shown), total=len(candidates)))
        table = shown.assign(
            mandatory=shown["site_id"].isin(chosen),
            layer=shown["layer"].map(labeller("layer")),
            kind=shown["kind"].map(labeller("kind")),
            category=shown["category"].map(labeller("category")),
        )[["mandatory", "site_id", "name", "layer", "kind", "category", "county", "priority"]]
        edited = st.data_editor(
            table,
            key=f"plan.pick.editor.{st.session_state['plan.editor_version']}",
            hide_index=True,
            width="stretch",
            height=260,
            disabled=["site_id", "name", "layer", "kind", "category", "county", "priority"],
            column_config={
                "mandatory": st.column_config.CheckboxColumn(T("plan.col.mandatory")),
                "site_id": T("plan.col.id"),
                "name": T("plan.col.site"),
                "layer": T("plan.col.layer"),
                "kind": T("plan.col.kind"),
                "category": T("plan.col.category"),
                "county": T("plan.col.county"),
                "priority": st.column_config.NumberColumn(T("plan.col.priority"), format="%.1f"),
            },
        )
        outside = [s for s in chosen if s not in set(shown["site_id"])]
        return outside + edited.loc[edited["mandatory"], "site_id"].tolist()


def message(exc: ScenarioError) -> str:
    """The error text without the field prefix ScenarioError puts in front (in Chinese where the
    sentence is known)."""
    return plan_overrides.error_message(exc)


def scenario_from_state(teams: pd.DataFrame, mandatory: list[str]) -> dict:
    state = st.session_state
    return plan_inputs.build_scenario(
        name=state["plan.f.name"] or f"{'、'.join(state['plan.f.regions'])} {state['plan.f.start']:%G-W%V}",
        start=state["plan.f.start"],
        days=int(state["plan.f.days"]),
        work_hours=state["plan.f.work"],
        night_hours=state["plan.f.night"] if state["plan.f.night_on"] else None,
        teams=plan_inputs.teams_from_frame(teams),
        regions=list(state["plan.f.regions"]),
        layers=list(state["plan.f.layers"]),
        min_priority=float(state["plan.f.min_priority"]),
        mandatory=mandatory,
        return_to_base=bool(state["plan.f.return"]),
        solver_effort=int(state["plan.f.effort"]),
        solver_seed=int(state["plan.f.seed"]),
        solver_seconds=float(state["plan.f.seconds"]) if state["plan.f.budget_on"] else None,
        lodging=state["plan.lodging"],
        drawn_officers=state["plan.drawn_officers"],
    )
