"""The logged-in account of a browser session, and the one clock the dashboard reads.

The shell (dashboard.py) logs in with :func:`log_in`, keeps the :class:`records.access.Session` in
``st.session_state`` and calls :func:`resume_session` at the top of every run, so an idle timeout,
a disabled account or a role change takes effect at the next click. Pages only ask
:func:`current_account` (or :func:`require_login`) and check ``records.access.can`` themselves.

The account is also kept under ``st.session_state["account"]`` so page tests can set it directly
without a database session (the shell overwrites it from the database at every run).

:func:`now` is the dashboard's only clock: ``$XUNHU_NOW`` (ISO time; without an offset it is
Beijing time) pins it for tests and demos, so release times of plans are deterministic.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import streamlit as st

from records import access
from records.accounts import Account
from records.db import LOCAL_TZ, parse_time
from views.data import records_store
from views.i18n import register

NOW_ENV = "XUNHU_NOW"
SESSION_KEY = "auth_session"
ACCOUNT_KEY = "account"
#: Why the last session ended (shown once on the login form).
NOTICE_KEY = "auth_notice"

T = register(
    {
        "session.login_needed": ("请先登录。", "Please log in first."),
    }
)


def now() -> datetime:
    """The current time (timezone-aware): ``$XUNHU_NOW`` when set, else the real UTC time.

    Raises RecordsError naming the variable when ``$XUNHU_NOW`` is not an ISO time.
    """
    text = os.environ.get(NOW_ENV)
    return parse_time(text, NOW_ENV) if text else datetime.now(UTC)


def today() -> date:
    """The local (Beijing) day of :func:`now`: the day the detachments' plans and releases use."""
    return now().astimezone(LOCAL_TZ).date()


def current_account() -> Account | None:
    """The account of this browser session, or None when nobody is logged in."""
    return st.session_state.get(ACCOUNT_KEY)


def require_login() -> Account:
    """The current account; without one, say so and stop the page run."""
    account = current_account()
    if account is None:
        st.warning(T("session.login_needed"))
        st.stop()
    return account


def client_source() -> str | None:
    """The client's address, for the per-source login throttle (None when it is not known).

    The server listens on 127.0.0.1 only, so a remote client comes through the reverse proxy on the
    same host (README). Streamlit gives no address for such a local peer; the client's is then the
    last ``X-Forwarded-For`` hop, the one the proxy appended (earlier hops are whatever the client
    sent). A non-local peer is its own source, whatever header it sends.
    """
    peer = st.context.ip_address
    if peer:
        return peer
    hops = [hop.strip() for hop in st.context.headers.get("X-Forwarded-For", "").split(",")]
    return hops[-1] or None


def log_in(username: str, password: str) -> Account:
    """Authenticate and start a session (raises ``records.accounts.AuthError`` with a user-ready text)."""
    with records_store() as store:
        session = access.login(store, username, password, now(), source=client_source())
    st.session_state[SESSION_KEY] = session
    st.session_state[ACCOUNT_KEY] = session.account
    st.session_state.pop(NOTICE_KEY, None)
    return session.account


def _forget(notice: str | None) -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(ACCOUNT_KEY, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice


def resume_session() -> Account | None:
    """Re-check this session against the database for the current run.

    An expired session or a disabled account ends it; the reason is kept for the login form
    (:func:`pop_notice`). Returns the up-to-date account, or None.
    """
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        return current_account()
    try:
        with records_store() as store:
            account = access.resume(store, session, now())
    except access.AccessDenied as refused:  # SessionExpired is an AccessDenied too
        _forget(str(refused))
        return None
    st.session_state[ACCOUNT_KEY] = account
    return account


def log_out() -> None:
    """End the session (audited) and forget the account."""
    session = st.session_state.get(SESSION_KEY)
    if session is not None:
        with records_store() as store:
            access.logout(store, session, now())
    _forget(None)


def pop_notice() -> str | None:
    """Why the previous session ended, once (None if it did not end by itself)."""
    return st.session_state.pop(NOTICE_KEY, None)


def audit_refusal(account: Account, obj: str, reason: str) -> None:
    """Audit a refusal the dashboard decides itself (a page or a team the account may not open),
    with the same action as ``records.access`` refusals (``access.denied``)."""
    with records_store() as store:
        store.log("access.denied", obj, {"reason": reason, "role": account.role}, account.username)
