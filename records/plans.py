"""Patrol plans: save (as versions), approve, complete; and the assignments they give each team.

A plan is stored verbatim as the planner's JSON (``planning.patrol.Plan.to_dict()``), plus one
``assignments`` row per site stop (plan, team, local day of arrival, order, site) so that "what does
team T1 do on Tuesday" is a plain query. Plans are identified by a *key* (the scenario's name unless
given) and a version: saving under an existing key adds a new version and never replaces an older
one, so an approved plan stays exactly as approved. Status only moves draft -> approved -> done
(checked here with a clear message, and enforced again by a trigger in the database). A plan's
``release_at`` (when officers may see it) is checked when it is saved and again when it is approved,
since a draft may have been stored before the check existed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time

import pandas as pd

from records import audit
from records.backend import Connection, inserted_id, read_frame
from records.db import LOCAL_TZ, RecordsError, now_text, parse_time, parse_time_of_day, transaction

STATUSES = ("draft", "approved", "done")
#: Statuses whose assignments officers see by default (a draft is not yet an order).
ISSUED_STATUSES = ("approved", "done")


@dataclass(frozen=True)
class SavedPlan:
    """Where a plan went: its row id, key, version, and whether this call created it."""

    plan_id: int
    plan_key: str
    version: int
    created: bool


def _site_stops(plan: dict) -> list[tuple]:
    """(team_id, day, seq, site_id, name, lon, lat, arrive, depart, service_minutes) per site stop."""
    teams = plan.get("teams")
    if not isinstance(teams, list):
        raise RecordsError("plan: 'teams' must be a list of {team_id, stops}")
    rows = []
    for t, team in enumerate(teams):
        team_id = team.get("team_id") if isinstance(team, dict) else None
        if not team_id:
            raise RecordsError(f"plan: teams[{t}] has no team_id")
        for s, stop in enumerate(team.get("stops") or []):
            if stop.get("type") != "site":
                continue
            where = f"plan: team {team_id} stop {s}"
            if not stop.get("id"):
                raise RecordsError(f"{where}: site stop without 'id'")
            try:
                arrive = datetime.fromisoformat(stop["arrive"])
            except (KeyError, TypeError, ValueError):
                raise RecordsError(f"{where}: 'arrive' must be an ISO-8601 time") from None
            if arrive.tzinfo is None:
                arrive = arrive.replace(tzinfo=LOCAL_TZ)
            rows.append(
                (
                    str(team_id),
                    arrive.astimezone(LOCAL_TZ).date().isoformat(),
                    int(stop.get("seq", s)),
                    str(stop["id"]),
                    stop.get("name"),
                    stop.get("lon"),
                    stop.get("lat"),
                    stop.get("arrive"),
                    stop.get("depart"),
                    stop.get("service_minutes"),
                )
            )
    return rows


def plan_field(plan: dict, name: str) -> object:
    """A setting given on the plan itself, else on its scenario (None when neither has it)."""
    scenario = plan.get("scenario") if isinstance(plan.get("scenario"), dict) else {}
    return plan.get(name) if plan.get(name) is not None else scenario.get(name)


def plan_release_at(plan: dict) -> time | datetime | None:
    """The plan's own release time: ``release_at`` of the plan (else of its scenario), either a time
    of day (``"06:30"``, each day of the plan) or a moment (the whole plan at once); None when unset.

    Raises RecordsError naming the field and the value when it is neither.
    """
    value = plan_field(plan, "release_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordsError(f"plan release_at: {value!r} must be text, 'HH:MM' or an ISO-8601 time")
    if re.fullmatch(r"\s*\d{1,2}:\d{2}\s*", value):
        return parse_time_of_day(value, "plan release_at")
    try:
        return parse_time(value, "plan release_at")
    except RecordsError:
        raise RecordsError(
            f"plan release_at: {value!r} is neither a time of day (HH:MM) nor an ISO-8601 time "
            "(e.g. 2026-11-24T06:30)"
        ) from None


def plan_key_of(plan: dict) -> str:
    """The default key of a plan: its scenario's ``name`` (or ``id``)."""
    scenario = plan.get("scenario") if isinstance(plan.get("scenario"), dict) else {}
    key = scenario.get("name") or scenario.get("id")
    if not key:
        raise RecordsError("plan: scenario has no 'name'; give the plan a key explicitly")
    return str(key)


def save_plan(
    conn: Connection,
    plan: dict,
    *,
    key: str | None = None,
    actor: str | None = None,
    simulated: bool = False,
) -> SavedPlan:
    """Store ``plan`` as a new draft version under ``key``; saving the same content again is a no-op."""
    if not isinstance(plan, dict):
        raise RecordsError("plan: expected a JSON object")
    key = key or plan_key_of(plan)
    plan_release_at(plan)  # refused here, not later on an officer's page
    stops = _site_stops(plan)
    text = json.dumps(plan, ensure_ascii=False)
    digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    days = sorted({row[1] for row in stops})
    scenario = plan.get("scenario") if isinstance(plan.get("scenario"), dict) else {}
    with transaction(conn):
        latest = conn.execute(
            "SELECT plan_id, version, content_sha256 FROM plans WHERE plan_key = ? "
            "ORDER BY version DESC LIMIT 1",
            (key,),
        ).fetchone()
        if latest is not None and latest["content_sha256"] == digest:
            return SavedPlan(latest["plan_id"], key, latest["version"], created=False)
        version = 1 if latest is None else latest["version"] + 1
        actor = actor or audit.default_actor()
        cursor = conn.execute(
            "INSERT INTO plans (plan_key, version, scenario_name, first_day, last_day, plan_json, "
            "content_sha256, created_at, created_by, simulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING plan_id",
            (
                key,
                version,
                scenario.get("name"),
                days[0] if days else None,
                days[-1] if days else None,
                text,
                digest,
                now_text(),
                actor,
                int(simulated),
            ),
        )
        plan_id = inserted_id(cursor)
        conn.executemany(
            "INSERT INTO assignments (plan_id, team_id, day, seq, site_id, name, lon, lat, arrive, "
            "depart, service_minutes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(plan_id, *row) for row in stops],
        )
        audit.append(
            conn,
            "plan.save",
            f"plan:{plan_id}",
            {"key": key, "version": version, "site_stops": len(stops), "sha256": digest},
            actor,
        )
    return SavedPlan(plan_id, key, version, created=True)


def _set_status(conn: Connection, plan_id: int, new: str, actor: str | None) -> None:
    required = STATUSES[STATUSES.index(new) - 1]
    actor = actor or audit.default_actor()
    with transaction(conn):
        row = conn.execute("SELECT status, plan_json FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        if row is None:
            raise RecordsError(f"plan {plan_id} does not exist")
        if row["status"] != required:
            raise RecordsError(f"plan {plan_id} is {row['status']}; only a {required} plan can become {new}")
        if new == "approved":
            try:
                plan_release_at(json.loads(row["plan_json"]))
            except RecordsError as exc:
                raise RecordsError(f"plan {plan_id} cannot be approved: {exc}") from None
        at = now_text()
        if new == "approved":
            conn.execute(
                "UPDATE plans SET status = ?, approved_at = ?, approved_by = ? WHERE plan_id = ?",
                (new, at, actor, plan_id),
            )
        else:
            conn.execute("UPDATE plans SET status = ?, done_at = ? WHERE plan_id = ?", (new, at, plan_id))
        action = "plan.approve" if new == "approved" else "plan.done"
        # The time lets verify compare the plan row with this entry (records.integrity).
        audit.append(conn, action, f"plan:{plan_id}", {"from": required, "to": new, "at": at}, actor)


def approve_plan(conn: Connection, plan_id: int, actor: str | None = None) -> None:
    """Approve a draft plan; records who and when (plan row and audit log)."""
    _set_status(conn, plan_id, "approved", actor)


def complete_plan(conn: Connection, plan_id: int, actor: str | None = None) -> None:
    """Mark an approved plan as done (executed)."""
    _set_status(conn, plan_id, "done", actor)


def get_plan(conn: Connection, plan_id: int) -> dict:
    """The stored plan row with its JSON parsed under ``plan``."""
    row = conn.execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
    if row is None:
        raise RecordsError(f"plan {plan_id} does not exist")
    result = dict(row)
    result["plan"] = json.loads(result.pop("plan_json"))
    return result


def list_plans(conn: Connection) -> pd.DataFrame:
    """All plan versions (without their JSON), newest first."""
    return read_frame(
        "SELECT plan_id, plan_key, version, scenario_name, first_day, last_day, status, created_at, "
        "created_by, approved_at, approved_by, done_at, simulated FROM plans ORDER BY plan_id DESC",
        conn,
    )


def assignments(
    conn: Connection, team_id: str, day: date | str, include_drafts: bool = False
) -> pd.DataFrame:
    """A team's site stops for one local day, in visiting order.

    Only the newest issued (approved or done) version of each plan counts, so a re-planned week
    replaces its older version; ``include_drafts`` also considers drafts (the chief's preview).
    """
    statuses = STATUSES if include_drafts else ISSUED_STATUSES
    marks = ",".join("?" * len(statuses))
    day_text = day.isoformat() if isinstance(day, date) else str(day)
    return read_frame(
        f"""
        WITH current AS (
            SELECT plan_key, max(version) AS version FROM plans
            WHERE status IN ({marks}) GROUP BY plan_key
        )
        SELECT a.plan_id, p.plan_key, p.version, p.status, a.team_id, a.day, a.seq, a.site_id,
               a.name, a.lon, a.lat, a.arrive, a.depart, a.service_minutes
        FROM assignments a
        JOIN plans p ON p.plan_id = a.plan_id
        JOIN current c ON c.plan_key = p.plan_key AND c.version = p.version
        WHERE a.team_id = ? AND a.day = ?
        ORDER BY a.plan_id, a.seq
        """,
        conn,
        params=[*statuses, team_id, day_text],
    )
