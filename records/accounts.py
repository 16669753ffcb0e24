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
which usernames exist. The real reason is kept in :attr:`AuthError.reason` and in the audit log,
whose entry names the username that was tried. After :data:`MAX_FAILED_ATTEMPTS` wrong passwords in
a row an account is locked for :data:`LOCKOUT`; attempts while locked do not extend the lock.

Functions take a :class:`records.store.Store` or a ``sqlite3.Connection``. Accounts are never
deleted (audit entries name them); they are disabled.
"""

from __future__ import annotations

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
from records.db import RecordsError, transaction, utc_text

ROLES = ("chief", "officer", "manager", "admin")
#: Extra rights an account can be given on top of its role.
PERMISSIONS = ("drilldown",)
MIN_PASSWORD_CHARS = 10
#: Longer inputs are refused before hashing (argon2 of megabytes is a cheap denial of service).
MAX_PASSWORD_CHARS = 1024
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
#: What :func:`authenticate` tells the caller, whatever the reason (see the module docstring).
LOGIN_FAILED = (
    f"Login failed: wrong username or password. After {MAX_FAILED_ATTEMPTS} failed attempts "
    f"an account is locked for {int(LOCKOUT.total_seconds() // 60)} minutes."
)
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
#: How much of a tried username the audit log keeps for a failed login.
MAX_LOGGED_NAME_CHARS = 64


class HasConnection(Protocol):
    """Anything holding a records connection (a :class:`records.store.Store`)."""

    conn: sqlite3.Connection


Handle = HasConnection | sqlite3.Connection


class AuthError(RecordsError):
    """A failed login. ``str()`` is the same for every failure; ``reason`` says what really happened:
    ``unknown_user``, ``wrong_password``, ``locked`` or ``disabled``."""

    def __init__(self, reason: str) -> None:
        super().__init__(LOGIN_FAILED)
        self.reason = reason


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

    def locked(self, now: datetime) -> bool:
        """Whether too many failed logins lock the account at ``now``."""
        return self.locked_until is not None and now < self.locked_until


def connection(handle: Handle) -> sqlite3.Connection:
    """The connection behind a Store (or the connection itself)."""
    return handle if isinstance(handle, sqlite3.Connection) else handle.conn


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


def _account(row: sqlite3.Row) -> Account:
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
        audit.append(conn, "account.password", f"account:{account.username}", {}, actor)


def _set_flags(handle: Handle, username: str, action: str, sql: str, actor: str | None) -> None:
    conn = connection(handle)
    account = get_account(conn, username)
    with transaction(conn):
        conn.execute(f"UPDATE accounts SET {sql} WHERE account_id = ?", (account.account_id,))
        audit.append(conn, action, f"account:{account.username}", {}, actor)


def disable_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Disable an account: it can no longer log in, and open sessions end at their next request."""
    _set_flags(handle, username, "account.disable", "disabled = 1", actor)


def enable_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Enable a disabled account again."""
    _set_flags(handle, username, "account.enable", "disabled = 0", actor)


def unlock_account(handle: Handle, username: str, actor: str | None = None) -> None:
    """Lift a lockout before it runs out and reset the failure count."""
    _set_flags(handle, username, "account.unlock", "failed_attempts = 0, locked_until = NULL", actor)


def admin_exists(handle: Handle) -> bool:
    """Whether there is an enabled admin account."""
    return (
        connection(handle).execute("SELECT 1 FROM accounts WHERE role = 'admin' AND disabled = 0").fetchone()
        is not None
    )


def list_accounts(handle: Handle) -> pd.DataFrame:
    """Every account without its password hash, by username."""
    frame = pd.read_sql_query(
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


def logged_name(username: str) -> str:
    """A tried username as the audit log records it: printable, at most 64 characters."""
    text = "".join(ch for ch in str(username).strip() if ch.isprintable())[:MAX_LOGGED_NAME_CHARS]
    return text or "(empty)"


def authenticate(
    handle: Handle,
    username: str,
    password: str,
    now: datetime | None = None,
    *,
    max_failures: int = MAX_FAILED_ATTEMPTS,
    lockout: timedelta = LOCKOUT,
    hasher: PasswordHasher | None = None,
) -> Account:
    """Check a login; return the account or raise :class:`AuthError` (same message for every failure).

    Every attempt is audited with the username tried as the actor (``auth.login`` or
    ``auth.failure`` with the reason; ``auth.lockout`` when the account gets locked).
    """
    conn = connection(handle)
    moment = current_time(now)
    hasher = hasher or default_hasher()
    name = unicodedata.normalize("NFKC", str(username)).strip().lower()
    row = conn.execute("SELECT * FROM accounts WHERE username = ?", (name,)).fetchone() if name else None
    account = None if row is None else _account(row)
    if account is None:
        reason = "unknown_user"
    elif account.disabled:
        reason = "disabled"
    elif account.locked(moment):
        reason = "locked"
    else:
        reason = None
    # An over-long input can never be a stored password (they are refused when set); it is still
    # verified (cut short, against the decoy) so that it costs the same time as any other failure.
    too_long = len(password) > MAX_PASSWORD_CHARS
    usable_hash = row["password_hash"] if reason is None and not too_long else _decoy_hash(hasher)
    try:
        hasher.verify(usable_hash, password[:MAX_PASSWORD_CHARS])
        verified = reason is None and not too_long
    except (VerificationError, InvalidHashError):
        verified = False
    if reason is None and not verified:
        reason = "wrong_password"
    # Hashed before the write transaction: argon2 takes long enough to hold up other writers.
    new_hash = (
        hasher.hash(password) if reason is None and hasher.check_needs_rehash(row["password_hash"]) else None
    )
    at = utc_text(moment)
    actor = account.username if account is not None else logged_name(username)
    obj = f"account:{actor}"
    with transaction(conn):
        if reason is None:
            conn.execute(
                "UPDATE accounts SET failed_attempts = 0, locked_until = NULL, last_login_at = ? "
                "WHERE account_id = ?",
                (at, account.account_id),
            )
            if new_hash is not None:
                conn.execute(
                    "UPDATE accounts SET password_hash = ? WHERE account_id = ?",
                    (new_hash, account.account_id),
                )
                audit.append(conn, "account.rehash", obj, {}, actor)
            audit.append(conn, "auth.login", obj, {}, actor)
            return replace(account, failed_attempts=0, locked_until=None, last_login_at=moment)
        details: dict = {"reason": reason}
        if reason == "wrong_password":
            failures = conn.execute(
                "UPDATE accounts SET failed_attempts = failed_attempts + 1 WHERE account_id = ? "
                "RETURNING failed_attempts",
                (account.account_id,),
            ).fetchone()[0]
            details["failed_attempts"] = failures
            if failures >= max_failures:
                until = moment + lockout
                conn.execute(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = ? WHERE account_id = ?",
                    (utc_text(until), account.account_id),
                )
                audit.append(
                    conn, "auth.lockout", obj, {"until": utc_text(until), "failures": failures}, actor
                )
        audit.append(conn, "auth.failure", obj, details, actor)
    raise AuthError(reason)
