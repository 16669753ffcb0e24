"""Accounts with roles, argon2 password hashes, login with lockout; every change audited.

Roles (:data:`ROLES`): an *officer* belongs to one team of one detachment and sees that team's
assignments; a *chief* runs a detachment (a prefecture, by its ``prefecture_code``); a *manager* sees
statistics (and the details behind them only with the ``drilldown`` permission); an *admin* manages
accounts and sees everything. What each role may see is decided in :mod:`records.access`.

Passwords are hashed with argon2id (``argon2-cffi``'s :class:`~argon2.PasswordHasher`, its
RFC 9106 defaults); a hash made with older parameters is replaced at the next successful login.
There is no default account and no default password anywhere: the first admin is created with
``python -m records create-admin``, the demo accounts get random passwords printed once.

:func:`authenticate` fails with one and the same message whatever went wrong (unknown user, wrong
password, locked or disabled account), and takes about the same time (a password is always
verified, against a throw-away hash when there is no usable one), so a caller learns nothing about
which usernames exist. The real reason is kept in :attr:`AuthError.reason` and in the audit log.
The audit log names a known account by its username; a username that does not exist is recorded
only as a keyed fingerprint (``unknown#`` and 6 hex digits, :func:`unknown_name`), because what
people type there is sometimes their password.

Throttling (:class:`LoginLimits`; every password check is a row in ``login_events``):

* After :data:`MAX_FAILED_ATTEMPTS` failed logins of an account (since its last success, lockout or
  admin reset, within :data:`FAILURE_WINDOW`) it is locked for :data:`LOCKOUT`; attempts while
  locked do not extend the lock.
* :data:`GLOBAL_FAILURE_LIMIT` failed logins within :data:`FAILURE_WINDOW` over all accounts and
  unknown usernames, or :data:`SOURCE_FAILURE_LIMIT` from one source (the client address), pause
  every login (from that source) until older failures leave the window: :class:`LoginThrottled`,
  which says so (it tells nothing about any account) and verifies no password.
* The limits hold under concurrency: an attempt is first *reserved* in a short write transaction
  that reads the counts, refuses when a limit is reached and otherwise records the attempt as
  ``pending`` (pending attempts count as failures); the slow argon2 check runs outside the write
  lock, and a second short transaction records the outcome. However many logins run in parallel,
  at most ``max_failures`` passwords of one account are ever checked before it locks. (An attempt
  left pending by a killed process counts as a failure until it leaves the window.)
* Times are read on the clock in use (``now``, which the dashboard pins with ``$XUNHU_NOW``). A
  lock ending further ahead than the lockout lasts, or failures dated more than :data:`CLOCK_SLACK`
  ahead, were written on another clock (the real one while a demo pins an earlier day) and do
  not count.

Every decision is audited: ``auth.login``; ``auth.failure`` with the reason (``unknown_user``,
``wrong_password``, ``locked``, ``disabled``, ``throttled``); ``auth.lockout``; ``auth.throttle``
when a throttle starts.

Functions take a :class:`records.store.Store` or a ``sqlite3.Connection``. Accounts are never
deleted (audit entries name them); they are disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from records import audit
from records.backend import Connection, PostgresConnection, Row, read_frame
from records.db import RecordsError, transaction, utc_text

ROLES = ("chief", "officer", "manager", "admin")
#: Extra rights an account can be given on top of its role.
PERMISSIONS = ("drilldown",)
MIN_PASSWORD_CHARS = 10
#: Longer inputs are refused before hashing (argon2 of megabytes is a cheap denial of service).
MAX_PASSWORD_CHARS = 1024
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
#: Failed logins older than this stop counting, towards a lockout and towards the throttles.
FAILURE_WINDOW = timedelta(minutes=15)
#: Failed logins within the window over all accounts that pause every login. Ten times a lockout's
#: worth from five accounts: more than the dozens of users of a detachment's office mistype, while
#: a spray over many accounts (one or two guesses each, under every account's lockout) is stopped.
GLOBAL_FAILURE_LIMIT = 50
#: Failed logins within the window from one source (client address) that pause its logins.
SOURCE_FAILURE_LIMIT = 20
#: How far a stored time may lie ahead of the clock in use and still count: longer than any one
#: login takes (a wait for the write lock included), far shorter than a demo clock's distance from
#: the real one.
CLOCK_SLACK = timedelta(minutes=5)
#: What :func:`authenticate` tells the caller, whatever the reason (see the module docstring).
LOGIN_FAILED = (
    f"Login failed: wrong username or password. After {MAX_FAILED_ATTEMPTS} failed attempts "
    f"an account is locked for {int(LOCKOUT.total_seconds() // 60)} minutes."
)
#: What a throttled login is told (the throttle does not depend on the username tried).
LOGIN_THROTTLED = (
    "Too many failed logins in the last "
    f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes: logging in is paused. Try again later."
)
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
#: Hex digits of the keyed fingerprint that stands for an unknown username in the audit log: enough
#: to tell repeated attempts with one name apart from others, too few to confirm a guessed password.
FINGERPRINT_HEX_DIGITS = 6
#: How much of a client's source identifier (its address) is stored.
MAX_SOURCE_CHARS = 64


class HasConnection(Protocol):
    """Anything holding a records connection (a :class:`records.store.Store`)."""

    conn: Connection


Handle = HasConnection | Connection


class AuthError(RecordsError):
    """A failed login. ``str()`` is the same for every failure; ``reason`` says what really happened:
    ``unknown_user``, ``wrong_password``, ``locked`` or ``disabled``."""

    def __init__(self, reason: str, message: str = LOGIN_FAILED) -> None:
        super().__init__(message)
        self.reason = reason


class LoginThrottled(AuthError):
    """A login refused, unchecked, because too many logins failed recently (in total or from its
    source); ``str()`` says so, as it reveals nothing about any account."""

    def __init__(self) -> None:
        super().__init__("throttled", LOGIN_THROTTLED)


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed, per account, per source and in total, and for how long."""

    max_failures: int = MAX_FAILED_ATTEMPTS
    lockout: timedelta = LOCKOUT
    window: timedelta = FAILURE_WINDOW
    global_failures: int = GLOBAL_FAILURE_LIMIT
    source_failures: int = SOURCE_FAILURE_LIMIT


@dataclass(frozen=True)
class Account:
    """One account as stored (without its password hash)."""

    account_id: int
    username: str
    display_name: str
    role: str
    detachment: str | None
    team_id: str | None
    permissions: frozenset[str]
    disabled: bool
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    def has(self, permission: str) -> bool:
        """Whether the account was given ``permission`` (e.g. ``drilldown``)."""
        return permission in self.permissions

    def locked(self, now: datetime, lockout: timedelta = LOCKOUT) -> bool:
        """Whether too many failed logins lock the account at ``now``.

        A lock ending more than ``lockout`` (plus :data:`CLOCK_SLACK`) after ``now`` was set on a
        clock ahead of ``now`` (the real one, while ``$XUNHU_NOW`` pins an earlier time): it does
        not hold, or it would never end on the pinned clock.
        """
        return self.locked_until is not None and now < self.locked_until <= now + lockout + CLOCK_SLACK


def connection(handle: Handle) -> Connection:
    """The connection behind a Store (or the connection itself)."""
    return handle if isinstance(handle, (sqlite3.Connection, PostgresConnection)) else handle.conn


@lru_cache(maxsize=1)
def default_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's current recommended parameters."""
    return PasswordHasher()


def current_time(now: datetime | None = None) -> datetime:
    """``now`` (which must carry a time zone), or the current UTC time when None."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _stored_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _account(row: Row) -> Account:
    return Account(
        account_id=row["account_id"],
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        detachment=row["detachment"],
        team_id=row["team_id"],
        permissions=frozenset(json.loads(row["permissions"])),
        disabled=bool(row["disabled"]),
        failed_attempts=row["failed_attempts"],
        locked_until=_stored_time(row["locked_until"]),
        created_at=_stored_time(row["created_at"]),
        last_login_at=_stored_time(row["last_login_at"]),
    )


def normalize_username(username: str) -> str:
    """The stored form of a username (trimmed, lower case); raises RecordsError if it is not valid."""
    name = unicodedata.normalize("NFKC", str(username)).strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise RecordsError(
            f"username {username!r}: use 2-40 characters a-z, 0-9, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def check_password_strength(password: str, username: str = "") -> None:
    """Refuse a password that is too short, too long, too repetitive or contains the username."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise RecordsError(f"password: at least {MIN_PASSWORD_CHARS} characters, please")
    if len(password) > MAX_PASSWORD_CHARS:
        raise RecordsError(f"password: at most {MAX_PASSWORD_CHARS} characters")
    if len(set(password)) < 5:
        raise RecordsError("password: too repetitive (use at least 5 different characters)")
    if username and username.lower() in password.lower():
        raise RecordsError("password: must not contain the username")


def generate_password() -> str:
    """A random password (about 96 bits) for demo and freshly created accounts."""
    return secrets.token_urlsafe(12)


def find_account(handle: Handle, username: str) -> Account | None:
    """The account called ``username`` (case-insensitive), or None."""
    name = unicodedata.normalize("NFKC", str(username)).strip().lower()
    row = connection(handle).execute("SELECT * FROM accounts WHERE username = ?", (name,)).fetchone()
    return None if row is None else _account(row)


def get_account(handle: Handle, username: str) -> Account:
    """The account called ``username``; raises RecordsError if there is none."""
    account = find_account(handle, username)
    if account is None:
        raise RecordsError(f"no account {username!r}")
    return account


def _check_role_fields(
    role: str, detachment: str | None, team_id: str | None, permissions: frozenset[str]
) -> None:
    if role not in ROLES:
        raise RecordsError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    if role in ("chief", "officer") and not detachment:
        raise RecordsError(f"a {role} needs a detachment (prefecture code, e.g. 650100)")
    if detachment and not re.fullmatch(r"\d{6}", detachment):
        raise RecordsError(f"detachment {detachment!r}: a 6-digit prefecture code, e.g. 650100")
    if role == "officer" and not team_id:
        raise RecordsError("an officer needs a team (e.g. T1)")
    if team_id and role != "officer":
        raise RecordsError("only officers belong to a team")
    unknown = permissions - set(PERMISSIONS)
    if unknown:
        raise RecordsError(f"unknown permission(s) {sorted(unknown)}; known: {', '.join(PERMISSIONS)}")


def create_account(
    handle: Handle,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    detachment: str | None = None,
    team_id: str | None = None,
    permissions: tuple[str, ...] | frozenset[str] = (),
    actor: str | None = None,
    now: datetime | None = None,
    hasher: PasswordHasher | None = None,
) -> Account:
    """Create an account; raises RecordsError for a taken name, a weak password or missing fields.

    ``detachment`` (a prefecture code) is required for chiefs and officers, ``team_id`` for officers.
    """
    conn = connection(handle)
    name = normalize_username(username)
    perms = frozenset(permissions)
    detachment = (detachment or "").strip() or None
    team_id = (team_id or "").strip() or None
    _check_role_fields(role, detachment, team_id, perms)
    check_password_strength(password, name)
    at = utc_text(current_time(now))
    actor = actor or audit.default_actor()
    digest = (hasher or default_hasher()).hash(password)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (name,)).fetchone():
            raise RecordsError(f"account {name!r} already exists")
        conn.execute(
            "INSERT INTO accounts (username, display_name, role, detachment, team_id, permissions, "
            "password_hash, password_changed_at, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                display_name.strip(),
                role,
                detachment,
                team_id,
                json.dumps(sorted(perms)),
                digest,
                at,
                at,
                actor,
            ),
        )
        audit.append(
            conn,
            "account.create",
            f"account:{name}",
            {"role": role, "detachment": detachment, "team_id": team_id, "permissions": sorted(perms)},
            actor,
        )
    return get_account(conn, name)


def set_password(
    handle: Handle,
    username: str,
    password: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
    hasher: PasswordHasher | None = None,
) -> None:
    """Give an account a new password (this also clears a lockout)."""
    conn = connection(handle)
    account = get_account(conn, username)
    check_password_strength(password, account.username)
    digest = (hasher or default_hasher()).hash(password)
    with transaction(conn):
        conn.execute(
            "UPDATE accounts SET password_hash = ?, password_changed_at = ?, failed_attempts = 0, "
            "locked_until = NULL WHERE account_id = ?",
            (digest, utc_text(current_time(now)), account.account_id),
        )
        _reset_failures(conn, account.account_id, current_time(now))
        audit.append(conn, "account.password", f"account:{account.username}", {}, actor)


def _set_flags(
    handle: Handle, username: str, action: str, sql: str, actor: str | None, *, reset: bool = False
) -> None:
    """Update an account's flags with ``sql``; ``reset`` also starts its failure count afresh."""
    conn = connection(handle)
    account = get_account(conn, username)
    with transaction(conn):
        conn.execute(f"UPDATE accounts SET {sql} WHERE account_id = ?", (account.account_id,))
        if reset:
            _reset_failures(conn, account.account_id, current_time())
        audit.append(conn, action, f"account:{account.username}", {}, actor)


def disable_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Disable an account: it can no longer log in, and open sessions end at their next request."""
    _set_flags(handle, username, "account.disable", "disabled = 1", actor)


def enable_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Enable a disabled account again."""
    _set_flags(handle, username, "account.enable", "disabled = 0", actor)


def unlock_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Lift a lockout before it runs out; earlier failures no longer count towards the next one."""
    _set_flags(
        handle, username, "account.unlock", "failed_attempts = 0, locked_until = NULL", actor, reset=True
    )


def admin_exists(handle: Handle) -> bool:
    """Whether there is an enabled admin account."""
    return (
        connection(handle).execute("SELECT 1 FROM accounts WHERE role = 'admin' AND disabled = 0").fetchone()
        is not None
    )


def list_accounts(handle: Handle) -> pd.DataFrame:
    """Every account without its password hash, by username."""
    frame = read_frame(
        "SELECT username, display_name, role, detachment, team_id, permissions, disabled, "
        "failed_attempts, locked_until, created_at, created_by, last_login_at FROM accounts "
        "ORDER BY username",
        connection(handle),
    )
    frame["permissions"] = frame["permissions"].map(lambda text: ",".join(json.loads(text)))
    frame["disabled"] = frame["disabled"].astype(bool)
    return frame


@lru_cache(maxsize=4)
def _decoy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random secret, verified when there is no real hash so failures take equal time."""
    return hasher.hash(secrets.token_urlsafe(16))


def unknown_name(handle: Handle, username: str) -> str:
    """How the audit log names a username that has no account: ``unknown#`` and a keyed fingerprint.

    The text itself is never stored (people type their password into the username field); the same
    name always gets the same fingerprint in one database (its key, in ``login_secret``, is random
    per database), so repeated attempts with one name can be told apart from a spray of names.
    """
    name = unicodedata.normalize("NFKC", str(username)).strip().lower()
    if not name:
        return "unknown#(empty)"
    key = connection(handle).execute("SELECT fingerprint_key FROM login_secret").fetchone()[0]
    digest = hmac.new(key, name.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"unknown#{digest[:FINGERPRINT_HEX_DIGITS]}"


def _source_text(source: str | None) -> str:
    """A client's source identifier as stored: printable, bounded, '' when unknown."""
    return "".join(ch for ch in str(source or "").strip() if ch.isprintable())[:MAX_SOURCE_CHARS]


def _reset_failures(conn: Connection, account_id: int, moment: datetime) -> None:
    """Start an account's failure count afresh (an admin unlock or a new password)."""
    conn.execute(
        "INSERT INTO login_events (at, kind, account_id) VALUES (?, 'reset', ?)",
        (utc_text(moment), account_id),
    )


def _recent_failures(
    conn: Connection,
    moment: datetime,
    window: timedelta,
    *,
    account_id: int | None = None,
    source: str | None = None,
    pending: bool = True,
) -> int:
    """Failed (and, with ``pending``, still unchecked) logins within ``window`` before ``moment``:
    of one account since its last success, lockout or reset, of one source, or of all."""
    kinds = ("pending", "failure") if pending else ("failure",)
    sql = (
        f"SELECT count(*) FROM login_events WHERE kind IN ({', '.join('?' for _ in kinds)}) "
        "AND at > ? AND at <= ?"
    )
    params: list = [*kinds, utc_text(moment - window), utc_text(moment + CLOCK_SLACK)]
    if account_id is not None:
        sql += (
            " AND account_id = ? AND event_id > coalesce((SELECT max(event_id) FROM login_events "
            "WHERE account_id = ? AND kind IN ('success', 'lockout', 'reset')), 0)"
        )
        params += [account_id, account_id]
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    return int(conn.execute(sql, params).fetchone()[0])


@dataclass(frozen=True)
class _Attempt:
    """One login attempt between its reservation and its outcome."""

    account: Account | None
    actor: str
    source: str
    #: The hash to check the password against (None: check the decoy, the attempt fails).
    password_hash: str | None
    #: Why it fails whatever the password (None: it depends on the password).
    reason: str | None
    #: Its ``login_events`` row; None when it was refused at once (locked, disabled, throttled).
    event_id: int | None


def _refusal(
    conn: Connection, account: Account | None, source: str, moment: datetime, limits: LoginLimits
) -> tuple[str, dict] | None:
    """Why an attempt is refused before any password is checked (reason, audit details), or None."""
    in_total = _recent_failures(conn, moment, limits.window)
    if in_total >= limits.global_failures:
        return "throttled", {"scope": "all", "recent_failures": in_total}
    from_source = _recent_failures(conn, moment, limits.window, source=source) if source else 0
    if from_source >= limits.source_failures:
        return "throttled", {"scope": "source", "recent_failures": from_source}
    if account is None:
        return None
    if account.disabled:
        return "disabled", {}
    if account.locked(moment, limits.lockout):
        return "locked", {"until": utc_text(account.locked_until)}
    # Failures still being checked count too: this is what caps parallel guesses at the limit.
    of_account = _recent_failures(conn, moment, limits.window, account_id=account.account_id)
    if of_account >= limits.max_failures:
        return "locked", {"recent_failures": of_account}
    return None


def _reserve(conn: Connection, username: str, source: str, moment: datetime, limits: LoginLimits) -> _Attempt:
    """Refuse an attempt (audited) or record it as pending, in one short write transaction."""
    name = unicodedata.normalize("NFKC", str(username)).strip().lower()
    with transaction(conn):
        # A NUL can never be in a stored username (and PostgreSQL refuses it even as a parameter).
        known = name and "\x00" not in name
        row = conn.execute("SELECT * FROM accounts WHERE username = ?", (name,)).fetchone() if known else None
        account = None if row is None else _account(row)
        actor = account.username if account is not None else unknown_name(conn, username)
        refusal = _refusal(conn, account, source, moment, limits)
        if refusal is not None:
            reason, details = refusal
            audit.append(
                conn,
                "auth.failure",
                f"account:{actor}",
                {"reason": reason, "source": source, **details},
                actor,
            )
            return _Attempt(account, actor, source, None, reason, None)
        event_id = conn.execute(
            "INSERT INTO login_events (at, kind, account_id, source) VALUES (?, 'pending', ?, ?) "
            "RETURNING event_id",
            (utc_text(moment), None if account is None else account.account_id, source),
        ).fetchone()[0]
    if account is None:
        return _Attempt(None, actor, source, None, "unknown_user", event_id)
    return _Attempt(account, actor, source, row["password_hash"], None, event_id)


def _verified(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; without a hash the decoy is checked (and fails).

    An over-long input can never be a stored password (they are refused when set); it is still
    verified, cut short and against the decoy, so that it costs the same time as any other failure.
    """
    usable = password_hash is not None and len(password) <= MAX_PASSWORD_CHARS
    try:
        hasher.verify(password_hash if usable else _decoy_hash(hasher), password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        return False
    return usable


def _record_success(conn: Connection, attempt: _Attempt, new_hash: str | None, moment: datetime) -> Account:
    """Record a reserved attempt as a login (resetting the account's count); return the account."""
    account = attempt.account
    obj = f"account:{attempt.actor}"
    with transaction(conn):
        conn.execute("UPDATE login_events SET kind = 'success' WHERE event_id = ?", (attempt.event_id,))
        conn.execute(
            "UPDATE accounts SET failed_attempts = 0, locked_until = NULL, last_login_at = ? WHERE account_id = ?",
            (utc_text(moment), account.account_id),
        )
        if new_hash is not None:
            conn.execute(
                "UPDATE accounts SET password_hash = ? WHERE account_id = ?", (new_hash, account.account_id)
            )
            audit.append(conn, "account.rehash", obj, {}, attempt.actor)
        audit.append(conn, "auth.login", obj, {"source": attempt.source}, attempt.actor)
    return replace(account, failed_attempts=0, locked_until=None, last_login_at=moment)


def _count_account_failure(conn: Connection, attempt: _Attempt, moment: datetime, limits: LoginLimits) -> int:
    """Count a wrong password against its account, locking it at the limit; return the count."""
    account, obj = attempt.account, f"account:{attempt.actor}"
    failures = _recent_failures(conn, moment, limits.window, account_id=account.account_id, pending=False)
    if failures < limits.max_failures:
        conn.execute(
            "UPDATE accounts SET failed_attempts = ? WHERE account_id = ?", (failures, account.account_id)
        )
        return failures
    until = utc_text(moment + limits.lockout)
    conn.execute(
        "UPDATE accounts SET failed_attempts = 0, locked_until = ? WHERE account_id = ?",
        (until, account.account_id),
    )
    # The lockout row ends this count: attempts after the lock start a new one.
    conn.execute(
        "INSERT INTO login_events (at, kind, account_id, source) VALUES (?, 'lockout', ?, ?)",
        (utc_text(moment), account.account_id, attempt.source),
    )
    audit.append(conn, "auth.lockout", obj, {"until": until, "failures": failures}, attempt.actor)
    return failures


def _note_throttle(conn: Connection, attempt: _Attempt, moment: datetime, limits: LoginLimits) -> None:
    """Audit ``auth.throttle`` when this failure is the one that reaches a throttle's limit."""
    window_minutes = int(limits.window.total_seconds() // 60)
    in_total = _recent_failures(conn, moment, limits.window, pending=False)
    if in_total == limits.global_failures:
        details = {"scope": "all", "failures": in_total, "window_minutes": window_minutes}
        audit.append(conn, "auth.throttle", "login:all", details, attempt.actor)
    if not attempt.source:
        return
    from_source = _recent_failures(conn, moment, limits.window, source=attempt.source, pending=False)
    if from_source == limits.source_failures:
        details = {"scope": "source", "failures": from_source, "window_minutes": window_minutes}
        audit.append(conn, "auth.throttle", f"login:source:{attempt.source}", details, attempt.actor)


def _record_failure(conn: Connection, attempt: _Attempt, moment: datetime, limits: LoginLimits) -> str:
    """Record a reserved attempt as failed (lockout and throttle included); return the reason."""
    reason = attempt.reason or "wrong_password"
    details: dict = {"reason": reason, "source": attempt.source}
    with transaction(conn):
        conn.execute("UPDATE login_events SET kind = 'failure' WHERE event_id = ?", (attempt.event_id,))
        if attempt.account is not None:
            details["failed_attempts"] = _count_account_failure(conn, attempt, moment, limits)
        audit.append(conn, "auth.failure", f"account:{attempt.actor}", details, attempt.actor)
        _note_throttle(conn, attempt, moment, limits)
    return reason


def authenticate(
    handle: Handle,
    username: str,
    password: str,
    now: datetime | None = None,
    *,
    source: str | None = None,
    limits: LoginLimits = LoginLimits(),
    hasher: PasswordHasher | None = None,
) -> Account:
    """Check a login; return the account or raise :class:`AuthError` (same message for every failure)
    or :class:`LoginThrottled`.

    ``source`` identifies the client (its address) for the per-source throttle. Every attempt is
    audited, known accounts by their username, unknown ones by :func:`unknown_name` (see the module
    docstring for the actions and the throttling).
    """
    conn = connection(handle)
    moment = current_time(now)
    hasher = hasher or default_hasher()
    attempt = _reserve(conn, username, _source_text(source), moment, limits)
    if attempt.reason == "throttled":
        raise LoginThrottled()  # not verified: the throttle tells nothing about the account
    # Outside any transaction: argon2 takes long enough to hold up other writers.
    verified = _verified(hasher, attempt.password_hash, password)
    if attempt.event_id is None:
        raise AuthError(attempt.reason)
    if verified:
        stored = attempt.password_hash
        new_hash = hasher.hash(password) if hasher.check_needs_rehash(stored) else None
        return _record_success(conn, attempt, new_hash, moment)
    raise AuthError(_record_failure(conn, attempt, moment, limits))
