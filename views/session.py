"""The logged-in account of a browser session, and the one clock the dashboard reads.

The shell (dashboard.py) logs in with :func:`log_in` and calls :func:`resume_session` at the top of
every run, so an idle timeout, a logout elsewhere, a disabled account or a role change takes effect
at the next click. Pages only ask :func:`current_account` (or :func:`require_login`) and check
``records.access.can`` themselves.

A login is a row of the records database's ``sessions`` table (:mod:`records.sessions`); this
Streamlit session keeps its id in ``st.session_state``. A reload opens a new Streamlit session, so
the browser also holds the session's token in an HttpOnly cookie (:data:`COOKIE_NAME`), which only
the server's cookie routes (:mod:`views.session_cookie`) set and clear: after the login the page
posts the session's one-time ticket to the claim route (:func:`cookie_scripts`), and a new
connection that presents the cookie resumes the session. Logging out ends the session on the server
first (a copied cookie dies with it), then asks the end route to clear the cookie.

The account is also kept under ``st.session_state["account"]`` so page tests can set it directly
without a database session (the shell overwrites it from the database at every run).

:func:`now` is the dashboard's only clock: ``$XUNHU_NOW`` (ISO time; without an offset it is
Beijing time) pins it for tests and demos, so release times of plans are deterministic (it lives
in :mod:`views.session_cookie`, which the cookie routes share).
"""

from __future__ import annotations

import json
from datetime import date

import streamlit as st

from records import sessions
from records.accounts import Account, authenticate
from records.db import LOCAL_TZ
from views.data import records_store
from views.i18n import register
from views.session_cookie import COOKIE_NAME, ROUTE_HEADER, api_path, now

SESSION_KEY = "auth_session"
ACCOUNT_KEY = "account"
#: Why the last session ended (shown once on the login form).
NOTICE_KEY = "auth_notice"
#: The new session's ticket, until the page has posted it to the claim route.
TICKET_KEY = "auth_ticket"
#: Set by a logout: the next run asks the end route to clear the cookie.
CLEAR_COOKIE_KEY = "auth_clear_cookie"
#: How often, and how far apart, the page tries to reach a cookie route while the network fails.
POST_ATTEMPTS = 5
POST_RETRY_MS = 2000
#: The cookie token this connection arrived with, once tried (a token is tried once per connection).
TRIED_TOKEN_KEY = "auth_tried_token"

T = register(
    {
        "session.login_needed": ("请先登录。", "Please log in first."),
        "session.ended.expired": (
            "登录已过期，请重新登录。",
            "Your session has expired; please log in again.",
        ),
        "session.ended.disabled": ("此账号已停用。", "This account is disabled."),
        "session.ended.password": (
            "此账号的密码已更改，请重新登录。",
            "The password of this account was changed; please log in again.",
        ),
    }
)


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
    """Authenticate and start a session (raises ``records.accounts.AuthError`` with a user-ready text);
    the page claims its cookie at the next run (:func:`cookie_scripts`)."""
    moment, source = now(), client_source()
    with records_store() as store:
        account = authenticate(store, username, password, moment, source=source)
        opened = sessions.open_session(store, account, moment, source=source)
    st.session_state[SESSION_KEY] = opened.session_id
    st.session_state[TICKET_KEY] = opened.ticket
    st.session_state[ACCOUNT_KEY] = account
    st.session_state.pop(NOTICE_KEY, None)
    return account


def _forget(reason: str | None) -> None:
    """Drop this connection's login; ``reason`` (a ``SessionEnded`` reason) explains it on the login form."""
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(ACCOUNT_KEY, None)
    st.session_state.pop(TICKET_KEY, None)
    if reason in ("expired", "disabled", "password"):
        st.session_state[NOTICE_KEY] = T(f"session.ended.{reason}")


def _cookie_token() -> str | None:
    """The session token this connection arrived with, the first time it is asked for (None after)."""
    token = st.context.cookies.get(COOKIE_NAME)
    # Only a real connection has cookies (AppTest's context holds a stand-in object).
    if not isinstance(token, str) or not token or st.session_state.get(TRIED_TOKEN_KEY) == token:
        return None
    st.session_state[TRIED_TOKEN_KEY] = token
    return token


def resume_session() -> Account | None:
    """The account of this connection for the current run, re-checked against the database.

    Without a session of its own the connection resumes the one of its cookie (a reload). A session
    that ended (expired, logged out elsewhere, account disabled, password changed) ends the login
    here too; the reason is kept for the login form (:func:`pop_notice`). Returns the up-to-date
    account, or None.
    """
    session_id = st.session_state.get(SESSION_KEY)
    token = None if session_id is not None else _cookie_token()
    if session_id is None and token is None:
        return current_account()
    try:
        with records_store() as store:
            if session_id is None:
                session_id, account = sessions.resume_token(store, token, now())
            else:
                account = sessions.resume(store, session_id, now())
    except sessions.SessionEnded as ended:
        _forget(ended.reason)
        return None
    st.session_state[SESSION_KEY] = session_id
    st.session_state[ACCOUNT_KEY] = account
    return account


def log_out() -> None:
    """End the session on the server (audited), forget the account, and clear the cookie at the next
    run (:func:`cookie_scripts`)."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is not None:
        with records_store() as store:
            sessions.end_session(store, session_id, now())
    _forget(None)
    st.session_state[CLEAR_COOKIE_KEY] = True


def _post_script(name: str, body: str = "") -> str:
    """A script posting ``body`` to the cookie route ``name`` (same origin, never cached), tried
    again a few times while the network fails (a phone between two cells)."""
    options = {
        "method": "POST",
        "body": body,
        "credentials": "same-origin",
        "cache": "no-store",
        "headers": {ROUTE_HEADER: "1"},
    }
    return (
        "<script>(function post(attempt) {"
        f"  const retry = () => attempt < {POST_ATTEMPTS} && setTimeout(() => post(attempt + 1), {POST_RETRY_MS});"
        f"  fetch({json.dumps(api_path(name))}, {json.dumps(options)})"
        "    .then((answer) => answer.status >= 500 && retry()).catch(retry);"
        "})(1);</script>"
    )


def _pending_ticket() -> str | None:
    """The new session's ticket while the browser has not exchanged it yet (and still may)."""
    ticket = st.session_state.get(TICKET_KEY)
    if ticket is None:
        return None
    with records_store() as store:
        pending = sessions.awaiting_claim(store, st.session_state.get(SESSION_KEY, 0), now())
    if not pending:
        st.session_state.pop(TICKET_KEY)
    return ticket if pending else None


def cookie_scripts() -> None:
    """Render the script that claims the new session's cookie after a login, at every run until
    the server has exchanged the ticket (a run cut short may not have reached the browser; an
    unchanged element does not run its script again), or the one that clears the cookie after a
    logout (once). An invisible element: the page's own requests are the only way to get an
    HttpOnly cookie set, since a run talks to the browser over the websocket only."""
    ticket = _pending_ticket()
    clear = st.session_state.pop(CLEAR_COOKIE_KEY, False)
    script = _post_script("claim", ticket) if ticket else _post_script("end") if clear else None
    if script:
        st.html(f'<div style="display:none"></div>{script}', unsafe_allow_javascript=True)


def pop_notice() -> str | None:
    """Why the previous session ended, once (None if it did not end by itself)."""
    return st.session_state.pop(NOTICE_KEY, None)


def audit_refusal(account: Account, obj: str, reason: str) -> None:
    """Audit a refusal the dashboard decides itself (a page or a team the account may not open),
    with the same action as ``records.access`` refusals (``access.denied``)."""
    with records_store() as store:
        store.log("access.denied", obj, {"reason": reason, "role": account.role}, account.username)
