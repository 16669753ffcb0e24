"""Who may see what: sessions, role capabilities, and the secrecy of inspection plans.

Random inspections work only while their targets stay secret until the team arrives, so every plan
and every assignment is checked against the account asking for it:

* an **officer** sees the assignments of their own team, in issued (approved or done) plans of their
  detachment, and only from the *release time* of each day: 07:00 Beijing time on the day itself
  (:data:`DEFAULT_RELEASE_TIME`; ``$XUNHU_RELEASE_TIME`` changes the default), unless the plan (or its
  scenario) sets ``release_at``, either a time of day (``"06:30"``, every day of the plan) or a full
  ISO time (the whole plan at once). Opening a plan shows the officer only their team's stops on
  released days;
* a **chief** sees the plans of their detachment, drafts included, and approves them. A plan belongs
  to the detachments named in its ``detachment`` field (plan or scenario), else to every prefecture
  one of its sites lies in (a joint plan is shared by every detachment it touches);
* a **manager** sees aggregate statistics (numbers per day and prefecture, for released days only);
  plans and assignments need the ``drilldown`` permission;
* an **admin** sees everything and manages accounts.

Approvals (:func:`approve_plan`: a chief of the plan's detachment) and recorded visits
(:func:`record_visit`: an officer for their own team, a chief in their detachment) and road closures
(:func:`add_closure`, :func:`lift_closure`: chiefs and admins) carry the account
as their actor. Every refusal is written to the audit log with the account (``access.denied``), as are logins,
logouts and expired sessions. Nothing here imports streamlit. :class:`Session` keeps a login in
memory only (tests and scripts); the dashboard's logins are rows of the database that survive a
reload (:mod:`records.sessions`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import pandas as pd

from layers.datasets import load_targets
from records import audit, closures, plans, visits
from records.accounts import Account, Handle, authenticate, connection, current_time, find_account
from records.db import LOCAL_TZ, RecordsError, parse_time_of_day

DEFAULT_RELEASE_TIME = time(7, 0)
RELEASE_TIME_ENV = "XUNHU_RELEASE_TIME"
IDLE_TIMEOUT = timedelta(minutes=30)
#: A session ends after this long even when in constant use (a forgotten, open browser).
MAX_SESSION_AGE = timedelta(hours=12)
#: What an officer is told when a plan is refused (the precise reason goes to the audit log only, so
#: that a refusal does not reveal whether their team has an unreleased assignment).
NOT_AVAILABLE = "This plan is not available to your account."

#: What each role may do; ``drilldown`` adds ``all_plans`` to a manager's.
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "officer": frozenset({"own_assignments", "record_visit"}),
    "chief": frozenset({"detachment_plans", "approve_plan", "record_visit", "statistics", "manage_closures"}),
    "manager": frozenset({"statistics"}),
    "admin": frozenset(
        {
            "all_plans",
            "approve_plan",
            "record_visit",
            "statistics",
            "manage_accounts",
            "audit_log",
            "manage_closures",
        }
    ),
}
CAPABILITIES = frozenset().union(*ROLE_CAPABILITIES.values())


class AccessDenied(RecordsError):
    """A refused request; ``reason`` is what the audit log records, ``str()`` what the user is told."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


class SessionExpired(AccessDenied):
    """The session timed out (idle or too old); log in again."""


@dataclass
class Session:
    """A logged-in account: ends after ``idle_timeout`` without a request or ``max_age`` in total."""

    account: Account
    issued_at: datetime
    last_seen: datetime
    idle_timeout: timedelta = IDLE_TIMEOUT
    max_age: timedelta = MAX_SESSION_AGE

    def expired(self, now: datetime) -> bool:
        """Whether the session is over at ``now``."""
        return now - self.last_seen >= self.idle_timeout or now - self.issued_at >= self.max_age

    def touch(self, now: datetime) -> None:
        """Record a request at ``now`` (restarts the idle timeout)."""
        self.last_seen = max(self.last_seen, now)


def _deny(
    handle: Handle, account: Account, obj: str, reason: str, message: str | None = None
) -> AccessDenied:
    """Audit a refusal and return the exception to raise."""
    audit.append(
        connection(handle), "access.denied", obj, {"reason": reason, "role": account.role}, account.username
    )
    return AccessDenied(reason, message)


# Sessions -----------------------------------------------------------------------------------------
def login(
    handle: Handle,
    username: str,
    password: str,
    now: datetime | None = None,
    idle_timeout: timedelta = IDLE_TIMEOUT,
    **auth_options: object,
) -> Session:
    """Authenticate (see :func:`records.accounts.authenticate`, which raises ``AuthError``) and open
    a session."""
    moment = current_time(now)
    account = authenticate(handle, username, password, moment, **auth_options)
    return Session(account, issued_at=moment, last_seen=moment, idle_timeout=idle_timeout)


def resume(handle: Handle, session: Session, now: datetime | None = None) -> Account:
    """The session's account, re-read from the database, for one more request.

    Raises :class:`SessionExpired` after the timeout and :class:`AccessDenied` if the account was
    disabled meanwhile (both audited); a role or team change takes effect at the next request.
    """
    moment = current_time(now)
    name = session.account.username
    if session.expired(moment):
        audit.append(
            connection(handle),
            "auth.session_expired",
            f"account:{name}",
            {"idle_minutes": round((moment - session.last_seen).total_seconds() / 60, 1)},
            name,
        )
        raise SessionExpired("session expired", "Your session has expired; please log in again.")
    account = find_account(handle, name)
    if account is None or account.disabled:
        raise _deny(
            handle, session.account, f"account:{name}", "account disabled", "This account is disabled."
        )
    session.account = account
    session.touch(moment)
    return account


def logout(handle: Handle, session: Session, now: datetime | None = None) -> None:
    """End a session (audited); the caller drops its Session object."""
    name = session.account.username
    audit.append(connection(handle), "auth.logout", f"account:{name}", {}, name)


# Capabilities -------------------------------------------------------------------------------------
def capabilities(account: Account) -> frozenset[str]:
    """What the account may do (nothing when disabled)."""
    if account.disabled:
        return frozenset()
    granted = ROLE_CAPABILITIES[account.role]
    if account.role == "manager" and account.has("drilldown"):
        granted = granted | {"all_plans"}
    return granted


def can(account: Account, capability: str) -> bool:
    """Whether the account has ``capability`` (one of :data:`CAPABILITIES`)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    return capability in capabilities(account)


def require(handle: Handle, account: Account, capability: str, obj: str) -> None:
    """Raise (and audit) :class:`AccessDenied` unless the account has ``capability``; ``obj`` names
    what was asked for (e.g. ``page:accounts``)."""
    if not can(account, capability):
        raise _deny(handle, account, obj, f"needs {capability}", "Your account may not open this.")


# Release times and detachments --------------------------------------------------------------------
def default_release_time() -> time:
    """07:00, or ``$XUNHU_RELEASE_TIME`` (HH:MM, Beijing time) when set."""
    text = os.environ.get(RELEASE_TIME_ENV)
    return parse_time_of_day(text, RELEASE_TIME_ENV) if text else DEFAULT_RELEASE_TIME


def release_moment(plan: dict, day: date, default: time | None = None) -> datetime:
    """When a plan's assignments for local ``day`` become visible to the officers doing them.

    Raises RecordsError for an unreadable ``release_at`` (see :func:`records.plans.plan_release_at`).
    """
    value = plans.plan_release_at(plan) or default or default_release_time()
    return datetime.combine(day, value, LOCAL_TZ) if isinstance(value, time) else value


def released(plan: dict, day: date, now: datetime, default: time | None = None) -> bool:
    """Whether the plan's assignments for local ``day`` are visible to officers at ``now``.

    A plan stored with an unreadable ``release_at`` (saved before it was checked) is never released:
    keeping the targets secret is the safe side, and :func:`plan_decision` gives the reason.
    """
    try:
        return release_moment(plan, day, default) <= now
    except RecordsError:
        return False


@lru_cache(maxsize=1)
def registry_site_prefectures() -> Mapping[str, str]:
    """site_id -> prefecture_code of the registry the app ships (read once per process)."""
    targets = load_targets()
    return dict(zip(targets["site_id"].astype(str), targets["prefecture_code"].astype(str), strict=True))


def _site_stops(plan: dict) -> list[tuple[str, dict]]:
    """(team_id, stop) for every stop of every team (bases and lodging included)."""
    return [
        (str(team.get("team_id")), stop)
        for team in plan.get("teams") or []
        if isinstance(team, dict)
        for stop in team.get("stops") or []
        if isinstance(stop, dict)
    ]


def plan_detachments(plan: dict, site_prefectures: Mapping[str, str] | None = None) -> frozenset[str]:
    """The detachments (prefecture codes) a plan belongs to (see the module docstring)."""
    declared = plans.plan_field(plan, "detachment")
    if declared:
        return frozenset(str(code) for code in (declared if isinstance(declared, list) else [declared]))
    mapping = registry_site_prefectures() if site_prefectures is None else site_prefectures
    return frozenset(
        mapping[str(stop.get("id"))]
        for _, stop in _site_stops(plan)
        if stop.get("type") == "site" and str(stop.get("id")) in mapping
    )


def _stop_day(stop: dict) -> date | None:
    try:
        arrive = datetime.fromisoformat(str(stop["arrive"]))
    except (KeyError, ValueError):
        return None
    return (arrive if arrive.tzinfo is None else arrive.astimezone(LOCAL_TZ)).date()


def team_days(plan: dict, team_id: str) -> frozenset[date]:
    """The local days on which ``team_id`` has a site stop in the plan, or lost one in the
    re-plan that made it (so the officer can open it and read what changed)."""
    stops = frozenset(
        day
        for team, stop in _site_stops(plan)
        if team == team_id and stop.get("type") == "site" and (day := _stop_day(stop)) is not None
    )
    replan = plan.get("replan") if isinstance(plan.get("replan"), dict) else {}
    lost = frozenset(
        date.fromisoformat(str(row["date"]))
        for row in replan.get("diff") or ()
        if isinstance(row, dict)
        and row.get("team") == team_id
        and (row.get("moved_out") or row.get("removed"))
    )
    return stops | lost


# Plans --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """Whether an account may open a plan, and why (the reason goes to the audit log)."""

    allowed: bool
    reason: str


def plan_decision(
    account: Account,
    plan_row: dict,
    now: datetime,
    site_prefectures: Mapping[str, str] | None = None,
    release_time: time | None = None,
) -> Decision:
    """May ``account`` open the stored plan ``plan_row`` (as :func:`records.plans.get_plan` gives it)
    at ``now``? Pure: reads nothing but its arguments (and the registry when no mapping is given)."""
    if account.disabled:
        return Decision(False, "account disabled")
    if "all_plans" in capabilities(account):
        return Decision(True, "all plans")
    if account.role == "manager":
        return Decision(False, "aggregate statistics only (no drilldown permission)")
    plan = plan_row["plan"]
    if account.detachment not in plan_detachments(plan, site_prefectures):
        return Decision(False, "plan of another detachment")
    if account.role == "chief":
        return Decision(True, "plan of the chief's detachment")
    if plan_row["status"] not in plans.ISSUED_STATUSES:
        return Decision(False, f"plan is {plan_row['status']}, not issued")
    days = team_days(plan, account.team_id or "")
    if not days:
        return Decision(False, "no assignment for the officer's team")
    try:
        first = min(release_moment(plan, day, release_time) for day in days)
    except RecordsError as exc:
        return Decision(False, f"not released, {exc}")
    if now < first:
        return Decision(False, f"not released before {first.isoformat()}")
    return Decision(True, "released assignment of the officer's team")


def can_view_plan(
    account: Account,
    plan_row: dict,
    now: datetime,
    site_prefectures: Mapping[str, str] | None = None,
    release_time: time | None = None,
) -> bool:
    """Whether :func:`plan_decision` allows it."""
    return plan_decision(account, plan_row, now, site_prefectures, release_time).allowed


def officer_view(plan: dict, team_id: str, now: datetime, release_time: time | None = None) -> dict:
    """The part of a plan an officer may read at ``now``: their team's stops on released days only,
    with no other team, no dropped sites and no statistics of the rest of the plan."""
    scenario = plan.get("scenario") if isinstance(plan.get("scenario"), dict) else {}
    days = {day for day in team_days(plan, team_id) if released(plan, day, now, release_time)}
    teams = []
    for team in plan.get("teams") or []:
        if str(team.get("team_id")) != team_id:
            continue
        stops = [stop for stop in team.get("stops") or [] if _stop_day(stop) in days]
        teams.append({"team_id": team_id, "base": team.get("base", ""), "stops": stops})
    return {"scenario": {"name": scenario.get("name")}, "teams": teams}


def _stored_plans(handle: Handle, plan_ids: object) -> dict[int, dict]:
    """plan_id -> stored plan row, each read once."""
    return {int(plan_id): plans.get_plan(connection(handle), int(plan_id)) for plan_id in set(plan_ids)}


def open_plan(
    handle: Handle,
    account: Account,
    plan_id: int,
    now: datetime | None = None,
    site_prefectures: Mapping[str, str] | None = None,
    release_time: time | None = None,
) -> dict:
    """The stored plan row as ``account`` may see it (an officer's copy is cut by :func:`officer_view`).

    Raises :class:`AccessDenied` (audited with the account) when the plan is not theirs, not yet
    released, or does not exist (which is refused the same way, so plan ids reveal nothing).
    """
    moment = current_time(now)
    obj = f"plan:{plan_id}"
    try:
        row = plans.get_plan(connection(handle), int(plan_id))
    except (RecordsError, ValueError, TypeError):
        raise _deny(handle, account, obj, "no such plan", NOT_AVAILABLE) from None
    decision = plan_decision(account, row, moment, site_prefectures, release_time)
    if not decision.allowed:
        raise _deny(handle, account, obj, decision.reason, NOT_AVAILABLE)
    if account.role == "officer":
        row = {**row, "plan": officer_view(row["plan"], account.team_id or "", moment, release_time)}
    return row


def visible_plans(
    handle: Handle,
    account: Account,
    now: datetime | None = None,
    site_prefectures: Mapping[str, str] | None = None,
    release_time: time | None = None,
) -> pd.DataFrame:
    """The plan versions ``account`` may open (columns of :func:`records.plans.list_plans`), newest
    first; a manager without ``drilldown`` is refused (audited)."""
    moment = current_time(now)
    if not capabilities(account) & {"own_assignments", "detachment_plans", "all_plans"}:
        raise _deny(handle, account, "plans", "no access to plans", "Your account sees statistics only.")
    frame = plans.list_plans(connection(handle))
    stored = _stored_plans(handle, frame["plan_id"])
    allowed = [
        plan_decision(account, stored[int(plan_id)], moment, site_prefectures, release_time).allowed
        for plan_id in frame["plan_id"]
    ]
    return frame.loc[allowed].reset_index(drop=True)


def approve_plan(
    handle: Handle,
    account: Account,
    plan_id: int,
    now: datetime | None = None,
    site_prefectures: Mapping[str, str] | None = None,
) -> None:
    """Approve a draft plan as ``account`` (a chief of its detachment, or an admin); the approval and
    the audit entry carry the account."""
    require(handle, account, "approve_plan", f"plan:{plan_id}")
    open_plan(handle, account, plan_id, now, site_prefectures)
    plans.approve_plan(connection(handle), int(plan_id), account.username)


def add_closure(handle: Handle, account: Account, **fields: object) -> closures.StoredClosure:
    """Add a road closure as ``account`` (a chief or an admin; see :func:`records.closures.add_closure`
    for the fields); a refusal is audited, the closure and its audit entry name the account."""
    require(handle, account, "manage_closures", "closures")
    return closures.add_closure(handle, **fields, actor=account.username)


def lift_closure(
    handle: Handle, account: Account, closure_id: int, reopen_on: date | str, note: str = ""
) -> closures.StoredClosure:
    """Lift a road closure from ``reopen_on`` as ``account`` (a chief or an admin), audited."""
    require(handle, account, "manage_closures", f"closure:{closure_id}")
    return closures.lift_closure(handle, closure_id, reopen_on=reopen_on, actor=account.username, note=note)


def record_visit(
    handle: Handle,
    account: Account,
    visit: visits.Visit,
    supersedes: int | None = None,
    site_prefectures: Mapping[str, str] | None = None,
) -> int:
    """Record (or correct) a visit as ``account``; the row and its audit entry name the account.

    An officer records for their own team; a chief for sites of their detachment or under a plan of
    it; an admin for anyone. Anything else is refused (audited). Returns the visit id.
    """
    obj = f"visit:{visit.site_id}"
    require(handle, account, "record_visit", obj)
    if account.role == "officer" and visit.team_id != account.team_id:
        raise _deny(
            handle, account, obj, "visit of another team", "You can record visits of your own team only."
        )
    if account.role == "chief":
        mapping = registry_site_prefectures() if site_prefectures is None else site_prefectures
        in_detachment = mapping.get(visit.site_id) == account.detachment
        if not in_detachment and visit.plan_id is not None:
            row = plans.get_plan(connection(handle), visit.plan_id)
            in_detachment = account.detachment in plan_detachments(row["plan"], site_prefectures)
        if not in_detachment:
            raise _deny(
                handle, account, obj, "site of another detachment", "This site is not in your detachment."
            )
    return visits.record_visit(connection(handle), visit, account.username, supersedes)


# Assignments and statistics -----------------------------------------------------------------------
def _issued_assignments(handle: Handle, pairs: list[tuple[str, str]], include_drafts: bool) -> pd.DataFrame:
    """Current assignments for each (team_id, day), through :func:`records.plans.assignments`."""
    conn = connection(handle)
    frames = [plans.assignments(conn, team, day, include_drafts) for team, day in pairs]
    # With no pair at all, an empty query still gives the frame its columns.
    return pd.concat(frames or [plans.assignments(conn, "", "")], ignore_index=True)


def visible_assignments(
    handle: Handle,
    account: Account,
    day: date,
    now: datetime | None = None,
    site_prefectures: Mapping[str, str] | None = None,
    include_drafts: bool = False,
    release_time: time | None = None,
) -> pd.DataFrame:
    """The site stops of local ``day`` that ``account`` may see (columns of
    :func:`records.plans.assignments`): an officer's own team once released, a chief's detachment,
    everything for admins and drill-down managers. Raises :class:`AccessDenied` (audited) for a
    manager without ``drilldown`` and for an officer asking for drafts."""
    moment = current_time(now)
    obj = f"assignments:{day.isoformat()}"
    granted = capabilities(account)
    if not granted & {"own_assignments", "detachment_plans", "all_plans"}:
        raise _deny(handle, account, obj, "no access to assignments", "Your account sees statistics only.")
    if include_drafts and "own_assignments" in granted:
        raise _deny(handle, account, obj, "drafts are not issued to officers", NOT_AVAILABLE)
    if account.role == "officer":
        teams = [account.team_id or ""]
    else:
        teams = [
            row[0]
            for row in connection(handle).execute(
                "SELECT DISTINCT team_id FROM assignments WHERE day = ? ORDER BY team_id", (day.isoformat(),)
            )
        ]
    frame = _issued_assignments(handle, [(team, day.isoformat()) for team in teams], include_drafts)
    keep = {}
    for plan_id, row in _stored_plans(handle, frame["plan_id"]).items():
        allowed = plan_decision(account, row, moment, site_prefectures, release_time).allowed
        if account.role == "officer":
            allowed = allowed and released(row["plan"], day, moment, release_time)
        keep[plan_id] = allowed
    return frame[frame["plan_id"].map(keep).astype(bool)].reset_index(drop=True)


def plan_statistics(
    handle: Handle,
    account: Account,
    since: date,
    until: date,
    now: datetime | None = None,
    site_prefectures: Mapping[str, str] | None = None,
    release_time: time | None = None,
) -> pd.DataFrame:
    """Numbers only, per local day in ``[since, until]`` and prefecture of the site: ``plans``,
    ``teams`` and ``site_stops`` of the issued plans. No site or team is named.

    A manager without ``drilldown`` counts only days already released; a chief sees only their own
    prefecture. Officers are refused (audited).
    """
    moment = current_time(now)
    require(handle, account, "statistics", f"statistics:{since.isoformat()}..{until.isoformat()}")
    pairs = [
        (row[0], row[1])
        for row in connection(handle).execute(
            "SELECT DISTINCT team_id, day FROM assignments WHERE day >= ? AND day <= ? ORDER BY day, team_id",
            (since.isoformat(), until.isoformat()),
        )
    ]
    frame = _issued_assignments(handle, pairs, include_drafts=False)
    mapping = registry_site_prefectures() if site_prefectures is None else site_prefectures
    frame["prefecture_code"] = frame["site_id"].map(lambda site: mapping.get(site, "unknown"))
    if not capabilities(account) & {"all_plans", "detachment_plans"}:
        stored = _stored_plans(handle, frame["plan_id"])
        visible = [
            released(stored[int(plan_id)]["plan"], date.fromisoformat(day), moment, release_time)
            for plan_id, day in zip(frame["plan_id"], frame["day"], strict=True)
        ]
        frame = frame.loc[visible]  # .loc: an empty list selects no rows, not no columns
    if account.role == "chief":
        frame = frame[frame["prefecture_code"] == account.detachment]
    return (
        frame.groupby(["day", "prefecture_code"], as_index=False)
        .agg(plans=("plan_id", "nunique"), teams=("team_id", "nunique"), site_stops=("site_id", "size"))
        .sort_values(["day", "prefecture_code"], ignore_index=True)
    )


def audit_entries(handle: Handle, account: Account, obj: str | None = None) -> pd.DataFrame:
    """The audit log (admins only; a refusal is itself audited)."""
    require(handle, account, "audit_log", "audit_log")
    return audit.entries(connection(handle), obj)
