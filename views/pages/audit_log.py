"""Audit log (admins only): read-only, newest first, filtered by action, actor or object.

The log is append-only in the database itself (triggers refuse updates and deletes); this page
only reads it through :func:`records.access.audit_entries`, which refuses (and audits) anyone
without the ``audit_log`` capability.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from records import access
from records.db import LOCAL_TZ as BEIJING
from views import data
from views.i18n import register
from views.session import require_login

#: Rows shown at most (the newest); the filters narrow it down.
MAX_ROWS = 2000
ALL_ACTIONS = "全部 all"

T = register(
    {
        "audit_log.title": ("审计日志", "Audit log"),
        "audit_log.read_only": (
            "只读：日志只能追加，不能在应用中修改或删除。",
            "Read-only: the log is append-only and cannot be edited or deleted through the app.",
        ),
        "audit_log.action": ("操作", "Action"),
        "audit_log.search": ("账号或对象包含", "Actor or object contains"),
        "audit_log.count": ("{shown} / {total} 条", "{shown} of {total} entries"),
        "audit_log.time": (
            "时间为北京时间，取自服务器的真实时钟（不受演示用的固定日期影响）。",
            "Times are Beijing time from the server's real clock (a pinned demo date does not change them).",
        ),
        "audit_log.col.at": ("时间（北京）", "Time (Beijing)"),
        "audit_log.col.actor": ("账号", "Actor"),
        "audit_log.col.action": ("操作", "Action"),
        "audit_log.col.object": ("对象", "Object"),
        "audit_log.col.details": ("详情", "Details"),
    }
)


def filter_entries(entries: pd.DataFrame, action: str | None, text: str) -> pd.DataFrame:
    """Entries of ``action`` (None: all) whose actor or object contains ``text``, newest first."""
    keep = pd.Series(True, index=entries.index)
    if action is not None:
        keep &= entries["action"] == action
    if text.strip():
        needle = text.strip().lower()
        keep &= entries["actor"].fillna("").str.lower().str.contains(needle, regex=False) | entries[
            "object"
        ].str.lower().str.contains(needle, regex=False)
    return entries[keep].iloc[::-1]


def render() -> None:
    """The audit log page."""
    account = require_login()
    st.header(T("audit_log.title"))
    try:
        with data.records_store() as store:
            entries = access.audit_entries(store, account)
    except access.AccessDenied as refused:
        st.error(str(refused))
        return
    st.caption(T("audit_log.read_only"))
    actions = sorted(entries["action"].unique())
    action = st.selectbox(
        T("audit_log.action"),
        [None, *actions],
        # Bilingual: a keyed selectbox keeps the label it first showed when the language changes.
        format_func=lambda name: ALL_ACTIONS if name is None else name,
        key="audit_action",
    )
    text = st.text_input(T("audit_log.search"), key="audit_search")
    shown = filter_entries(entries, action, text)
    st.caption(T("audit_log.count", shown=min(len(shown), MAX_ROWS), total=len(entries)))
    st.caption(T("audit_log.time"))
    table = shown.head(MAX_ROWS).assign(
        at=shown["at"].head(MAX_ROWS).dt.tz_convert(BEIJING).dt.strftime("%Y-%m-%d %H:%M:%S"),
        details=shown["details"].head(MAX_ROWS).map(lambda details: json.dumps(details, ensure_ascii=False)),
    )
    columns = {name: T(f"audit_log.col.{name}") for name in ("at", "actor", "action", "object", "details")}
    st.dataframe(table, hide_index=True, use_container_width=True, column_config=columns)
