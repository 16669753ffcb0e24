"""A site's dossier on its card (事前研判): open cases and deadlines, complaints of the last year and
the tasks due there, so the officer arrives knowing why; with ``visits=True`` (the chief's Layers card)
also the last visits with their outcomes (the officer's My sites card shows them itself).

Reads :func:`records.loop_figures.site_dossier`; used by the chief's Layers card and the officer's
My sites card. Text is rendered as Streamlit text (never HTML), so imported names stay inert.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from records.db import LOCAL_TZ
from records.loop_figures import site_dossier
from views import data
from views.i18n import register
from views.session import now
from views.vocabulary import label

T = register(
    {
        "dossier.title": ("闭环信息", "Cases, complaints, tasks"),
        "dossier.none": (
            "没有未结案件、近一年投诉或待办任务。",
            "No open case, complaint in the last year or task due.",
        ),
        "dossier.case": (
            "案件 {no}：{category}，{state}，整改期限 {due}",
            "Case {no}: {category}, {state}, rectify by {due}",
        ),
        "dossier.overdue": ("（已超期）", " (overdue)"),
        "dossier.complaint": (
            "投诉 {day}（{channel}{night}）：{nature} — {state}",
            "Complaint {day} ({channel}{night}): {nature} — {state}",
        ),
        "dossier.night": ("，夜间", ", at night"),
        "dossier.complaint.open": ("待办", "open"),
        "dossier.complaint.closed": ("已办结", "closed"),
        "dossier.task": ("任务：{kind}，{due} 前 — {reason}", "Task: {kind}, due {due} — {reason}"),
        "dossier.visit": ("检查 {day}（{team}）：{outcome}{note}", "Visit {day} ({team}): {outcome}{note}"),
    }
)


def show_dossier(site_id: str, visits: bool = False) -> None:
    """The site's open cases, complaints of the last year and open tasks, one line each; its last
    visits with outcomes first when ``visits``."""
    with data.records_store() as store:
        dossier = site_dossier(store.conn, site_id, now())
    st.markdown(f"**{T('dossier.title')}**")
    for line in _visit_lines(dossier["visits"]) if visits else []:
        st.text(line)
    lines = (
        _case_lines(dossier["cases"])
        + _complaint_lines(dossier["complaints"])
        + _task_lines(dossier["tasks"])
    )
    if not lines:
        st.caption(T("dossier.none"))
    for line in lines:
        st.text(line)


def _day(moment: pd.Timestamp) -> str:
    return f"{moment.tz_convert(LOCAL_TZ):%Y-%m-%d}"


def _visit_lines(visits: pd.DataFrame) -> list[str]:
    lines = []
    for visit in visits.itertuples():
        why = next(
            (str(text) for text in (visit.reason, visit.notes) if isinstance(text, str) and text.strip()), ""
        )
        lines.append(
            T(
                "dossier.visit",
                day=_day(visit.started_at),
                team=visit.team_id,
                outcome=label("outcome", visit.outcome),
                note=f" — {why}" if why else "",
            )
        )
    return lines


def _case_lines(cases: pd.DataFrame) -> list[str]:
    return [
        T(
            "dossier.case",
            no=case.case_no,
            category=label("finding", case.category),
            state=label("case_state", case.state),
            due=case.rectify_by,
        )
        + (T("dossier.overdue") if case.overdue else "")
        for case in cases.itertuples()
    ]


def _complaint_lines(complaints: pd.DataFrame) -> list[str]:
    return [
        T(
            "dossier.complaint",
            day=_day(complaint.received_at),
            channel=label("complaint_channel", complaint.channel),
            night=T("dossier.night") if complaint.night else "",
            nature=complaint.nature,
            state=T(f"dossier.complaint.{complaint.state}"),
        )
        for complaint in complaints.itertuples()
    ]


def _task_lines(tasks: pd.DataFrame) -> list[str]:
    return [
        T("dossier.task", kind=label("task_kind", task.kind), due=_day(task.due_at), reason=task.reason)
        for task in tasks.itertuples()
    ]
