"""Login sessions kept in the records database, so that a reload of the page keeps the login.

A browser reload opens a new Streamlit session with an empty session state; what survives it is a
cookie. The cookie holds only a random token (:data:`TOKEN_BYTES` bytes); the ``sessions`` table
holds its SHA-256, never the token itself, so a copy of the database logs nobody in. A session is
useful only while its row says so:

* it ends after :data:`IDLE_TIMEOUT` without a request and :data:`MAX_AGE` after the login in any
  case (``expired``, audited as ``auth.session_expired``);
* logging out ends it on the server (``logout``, ``auth.logout``), so a copied cookie dies with it;
* disabling the account (``disabled``) or changing its password (``password``) ends every session
  of the account at its next request, and re-enabling the account does not revive them;
* an ended session never resumes (a trigger refuses it).

The token reaches the browser in two steps, so that it never passes through the page (where a
script could read it) and the cookie can be HttpOnly: the login (a Streamlit run) opens the
session and gets a one-time *ticket* (:func:`open_session`); the page posts the ticket to the
server's cookie route, which exchanges it for the token (:func:`claim`, valid for
:data:`CLAIM_TIMEOUT`, once) and sets the cookie. Every later connection presents the token
(:func:`resume_token`); each run of an already resumed connection checks its session by id
(:func:`resume`).

Times are read on the clock the caller passes (the dashboard's, pinned by ``$XUNHU_NOW`` in tests
and demos). Nothing here imports streamlit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from records import audit
from records.accounts import Account, Handle, _source_text, connection, current_time, get_account
from records.backend import Connection, Row, inserted_id
from records.db import RecordsError, parse_time, transaction, utc_text

#: A session ends after this long without a request: an officer's longest drive between two stops
#: and a night's rest (the phone is used at 20:00 and again at 07:00) stay within it.
IDLE_TIMEOUT = timedelta(hours=12)
#: A session ends this long after its login whatever its use: officers log in once a week.
MAX_AGE = timedelta(days=7)
#: How long the one-time ticket of a new session may be exchanged for its cookie token.
CLAIM_TIMEOUT = timedelta(minutes=2)
#: Requests closer together than this do not rewrite ``last_seen_at`` (far below the idle timeout,
#: and it spares a database write on every click).
TOUCH_INTERVAL = timedelta(minutes=1)
#: Random bytes of a cookie token and of a ticket (256 bits: not guessable).
TOKEN_BYTES = 32
#: Why a session ended, as stored in ``sessions.end_reason``.
END_REASONS = ("logout", "expired", "disabled", "password")


class SessionEnded(RecordsError):
    """The session cannot be used (any more); ``reason`` is one of :data:`END_REASONS` or
    ``unknown`` (no such session or token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"session ended: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class OpenedSession:
    """A new session: its id (kept by the Streamlit session) and its one-time claim ticket."""

    session_id: int
    ticket: str


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token or ticket is stored (a random 256-bit secret needs no
    salt or slow hash: nothing can be guessed from it)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def open_session(handle: Handle, account: Account, now: datetime, source: str | None = None) -> OpenedSession:
    """Start a session for ``account`` (already authenticated) at ``now``; return its id and the
    ticket the browser exchanges for its cookie (:func:`claim`)."""
    conn = connection(handle)
    ticket = secrets.token_urlsafe(TOKEN_BYTES)
    moment = utc_text(current_time(now))
    with transaction(conn):
        changed = conn.execute(
            "SELECT password_changed_at FROM accounts WHERE account_id = ?", (account.account_id,)
        ).fetchone()
        if changed is None:
            raise RecordsError(f"account {account.username!r} does not exist")
        session_id = inserted_id(
            conn.execute(
                "INSERT INTO sessions (account_id, ticket_sha256, password_changed_at, source, created_at, "
                "last_seen_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING session_id",
                (account.account_id, digest(ticket), changed[0], _source_text(source), moment, moment),
            )
        )
    return OpenedSession(session_id, ticket)


def _claimable(row: Row | None, moment: datetime) -> bool:
    """Whether the session of ``row`` still has a ticket to exchange at ``moment``."""
    return (
        row is not None
        and row["ticket_sha256"] is not None
        and row["ended_at"] is None
        and timedelta(0) <= moment - parse_time(row["created_at"]) <= CLAIM_TIMEOUT
    )


def awaiting_claim(handle: Handle, session_id: int, now: datetime) -> bool:
    """Whether session ``session_id``'s ticket is still to be exchanged (not yet, and not too late)."""
    row = (
        connection(handle)
        .execute("SELECT * FROM sessions WHERE session_id = ?", (int(session_id),))
        .fetchone()
    )
    return _claimable(row, current_time(now))


def claim(handle: Handle, ticket: str, now: datetime) -> str | None:
    """Exchange a new session's ticket for its cookie token, once and within :data:`CLAIM_TIMEOUT`;
    None for an unknown, used or late ticket (or an ended session)."""
    conn = connection(handle)
    moment = current_time(now)
    with transaction(conn):
        row = conn.execute("SELECT * FROM sessions WHERE ticket_sha256 = ?", (digest(ticket),)).fetchone()
        if not _claimable(row, moment):
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        conn.execute(
            "UPDATE sessions SET ticket_sha256 = NULL, token_sha256 = ? WHERE session_id = ?",
            (digest(token), row["session_id"]),
        )
    return token


def _end(conn: Connection, row: Row, reason: str, moment: datetime) -> SessionEnded:
    """Mark the session of ``row`` ended for ``reason`` (audited); return the exception to raise once
    the transaction is committed (raising inside it would roll the end back)."""
    name = row["username"]
    if reason == "expired":
        idle = round((moment - parse_time(row["last_seen_at"])).total_seconds() / 60, 1)
        audit.append(conn, "auth.session_expired", f"account:{name}", {"idle_minutes": idle}, name)
    elif reason == "disabled":
        details = {"reason": "account disabled", "role": row["role"]}
        audit.append(conn, "access.denied", f"account:{name}", details, name)
    elif reason == "password":
        audit.append(conn, "auth.session_ended", f"account:{name}", {"reason": "password changed"}, name)
    conn.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?",
        (utc_text(moment), reason, row["session_id"]),
    )
    return SessionEnded(reason)


def _why_over(row: Row, moment: datetime) -> str | None:
    """Why the session of ``row`` (:data:`_SESSION_ROW`) cannot go on at ``moment``, or None."""
    if row["disabled"]:
        return "disabled"
    if row["password_changed_at"] != row["account_password_changed_at"]:
        return "password"
    idle = moment - parse_time(row["last_seen_at"])
    if idle >= IDLE_TIMEOUT or moment - parse_time(row["created_at"]) >= MAX_AGE:
        return "expired"
    return None


#: A session with what it needs of its account.
_SESSION_ROW = (
    "SELECT s.*, a.username, a.role, a.disabled, a.password_changed_at AS account_password_changed_at "
    "FROM sessions s JOIN accounts a ON a.account_id = s.account_id WHERE "
)


def _resume(conn: Connection, where: str, value: object, now: datetime) -> tuple[int, Account]:
    moment = current_time(now)
    with transaction(conn):
        row = conn.execute(_SESSION_ROW + where, (value,)).fetchone()
        if row is None:
            raise SessionEnded("unknown")
        if row["ended_at"] is not None:
            raise SessionEnded(row["end_reason"])
        reason = _why_over(row, moment)
        if reason is not None:
            ended = _end(conn, row, reason, moment)
        elif moment - parse_time(row["last_seen_at"]) >= TOUCH_INTERVAL:
            conn.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE session_id = ?",
                (utc_text(moment), row["session_id"]),
            )
    if reason is not None:
        raise ended  # after the commit: the session stays ended and the entry stays written
    return int(row["session_id"]), get_account(conn, row["username"])


def resume(handle: Handle, session_id: int, now: datetime) -> Account:
    """The up-to-date account of session ``session_id`` for one more request at ``now``.

    Raises :class:`SessionEnded` when the session is over (ending it, audited, when this request is
    the one that finds it expired, disabled or outlived by a password change).
    """
    return _resume(connection(handle), "s.session_id = ?", int(session_id), now)[1]


def resume_token(handle: Handle, token: str, now: datetime) -> tuple[int, Account]:
    """(session id, account) of the session whose cookie token is ``token``, as :func:`resume`."""
    return _resume(connection(handle), "s.token_sha256 = ?", digest(token), now)


def end_session(handle: Handle, session_id: int, now: datetime) -> None:
    """Log out: end session ``session_id`` (audited as ``auth.logout``); an ended one stays as it was."""
    conn = connection(handle)
    with transaction(conn):
        row = conn.execute(_SESSION_ROW + "s.session_id = ?", (int(session_id),)).fetchone()
        if row is None or row["ended_at"] is not None:
            return
        audit.append(conn, "auth.logout", f"account:{row['username']}", {}, row["username"])
        _end(conn, row, "logout", current_time(now))


def end_token(handle: Handle, token: str, now: datetime) -> None:
    """Log out the session whose cookie token is ``token`` (nothing when there is none)."""
    row = (
        connection(handle)
        .execute("SELECT session_id FROM sessions WHERE token_sha256 = ?", (digest(token),))
        .fetchone()
    )
    if row is not None:
        end_session(handle, row["session_id"], now)
