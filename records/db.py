"""The database behind the records: where it lives, how to connect, and its schema versions.

By default one SQLite file (``$XUNHU_DB`` or ``var/xunhu.sqlite`` under the repository); with
``XUNHU_DB=postgresql://...`` a PostgreSQL + PostGIS server instead, through the seam in
:mod:`records.backend` (same API, same numbered migrations, :mod:`records.schema_postgres`). Every
SQLite connection runs in
WAL mode so readers never block the writer, waits up to :data:`BUSY_TIMEOUT_SECONDS` for another
process's write lock instead of failing, and starts every write with ``BEGIN IMMEDIATE`` (taking the
write lock up front means two processes can never both read, then both try to upgrade and one lose
its update).

The schema is a list of forward-only migrations; ``PRAGMA user_version`` holds the number of the
last one applied and ``schema_migrations`` its history. Records that must never change are guarded
by triggers in the database itself, so no code path (or an ad-hoc ``sqlite3`` session) can rewrite
them: the audit log is append-only, visits and track points are immutable (a correction is a new
visit row that ``supersedes`` the old one), and a plan's JSON never changes once saved. Since
migration 5 an insert that reuses a stored key is refused too, so ``INSERT OR REPLACE`` cannot swap
a row; and the audit log is a hash chain that seals the records (:mod:`records.chain`), so what the
triggers cannot stop (someone dropping them) ``python -m records verify`` finds.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pandas as pd

from layers.datasets import REPO_ROOT
from records import chain, schema_postgres
from records.backend import (
    PostgresConnection,
    RecordsError,
    SQLiteConnection,
    begin_write,
    dialect,
    is_postgresql,
)

BUSY_TIMEOUT_SECONDS = 60.0
#: Local time of the detachments (the planner writes stop times in +08:00); naive times given on the
#: command line are read in this zone.
LOCAL_TZ = timezone(timedelta(hours=8))


def default_db_path() -> Path | str:
    """``$XUNHU_DB`` if set (a file path, or a ``postgresql://`` URL kept as text), else
    ``var/xunhu.sqlite`` in the repository."""
    value = os.environ.get("XUNHU_DB")
    if is_postgresql(value):
        return value
    return Path(value or REPO_ROOT / "var" / "xunhu.sqlite")


def db_target(path: str | Path | None) -> Path | str:
    """A database given on the command line or in code: ``None`` means :func:`default_db_path`."""
    if path is None:
        return default_db_path()
    return path if is_postgresql(path) else Path(path)


def exists(target: str | Path | None) -> bool:
    """True if the database can hold records already (a file that exists, or any server URL)."""
    target = db_target(target)
    return is_postgresql(target) or Path(target).exists()


def connect(
    path: str | Path | None = None, *, migrate_schema: bool = True
) -> SQLiteConnection | PostgresConnection:
    """Open (creating if needed) the records database and bring its schema up to date.

    ``path`` is a SQLite file or a ``postgresql://`` URL. The connection is in autocommit mode;
    writes go through :func:`transaction`.
    """
    target = db_target(path)
    if is_postgresql(target):
        conn = PostgresConnection(str(target))
        if migrate_schema:
            migrate(conn)
        return conn
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, factory=SQLiteConnection)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed record survives a power cut too, not only a killed process.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if migrate_schema:
        migrate(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction: all of it is stored, or none of it.

    Re-entrant: inside an open transaction the block simply joins it, so functions that write can
    be composed into one larger atomic step (a GPX file import plus its inferred visits).
    """
    if conn.in_transaction:
        yield conn
        return
    begin_write(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def utc_text(moment: datetime) -> str:
    """A timestamp as stored: UTC, whole seconds, ``2026-11-24T03:15:00Z`` (sorts as text).

    Naive datetimes are taken to be UTC (as GPX times are by specification).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, field: str = "time") -> datetime:
    """Parse an ISO-8601 time; without an offset it is local time (+08:00). Raises RecordsError."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RecordsError(f"{field}: {text!r} is not an ISO-8601 time (e.g. 2026-11-24T09:30)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TZ)


def parse_time_of_day(text: str, field: str) -> time:
    """Parse ``HH:MM`` (24-hour); raises RecordsError naming ``field``."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise RecordsError(f"{field}: {text!r} is not a time of day (HH:MM)")
    return time(int(match[1]), int(match[2]))


def time_range_sql(
    column: str, since: datetime | None, until: datetime | None, epoch: bool = False
) -> tuple[str, list]:
    """SQL condition (``1 = 1`` when open) and parameters for ``since <= column < until``.

    Bounds may be datetimes or pandas Timestamps (naive = UTC); ``epoch`` compares against a
    column of epoch seconds instead of stored time text.
    """
    clauses, params = [], []
    for op, bound in ((">=", since), ("<", until)):
        if bound is None:
            continue
        moment = pd.Timestamp(bound)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
        clauses.append(f"{column} {op} ?")
        params.append(int(moment.timestamp()) if epoch else utc_text(moment.to_pydatetime()))
    return (" AND ".join(clauses) or "1 = 1"), params


def now_text() -> str:
    """The current time as stored."""
    return utc_text(datetime.now(UTC))


def _append_only(table: str, what: str) -> str:
    return f"""
    CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, '{what} cannot be changed'); END;
    CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    BEGIN SELECT RAISE(ABORT, '{what} cannot be deleted'); END;
    """


def _refuse_existing(table: str, what: str, *keys: tuple[str, ...], action: str = "ABORT") -> str:
    """A BEFORE INSERT trigger refusing a row whose key (any of ``keys``) is already stored.

    ``INSERT OR REPLACE`` and UPSERT would otherwise delete the stored row without firing its
    no-delete trigger (delete triggers fire on REPLACE only with ``recursive_triggers`` on, a
    per-connection setting any ``sqlite3`` session leaves off). ``action='IGNORE'`` skips the row
    instead, for a natural key that ``INSERT OR IGNORE`` relies on.
    """
    exists = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {' AND '.join(f'{c} = NEW.{c}' for c in key)})" for key in keys
    )
    name = f"{table}_no_replace" if action == "ABORT" else f"{table}_skip_existing"
    message = "" if action == "IGNORE" else f", '{what} cannot be replaced'"
    return f"""
    CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {exists}
    BEGIN SELECT RAISE({action}{message}); END;
    """


def _start_audit_chain(conn: sqlite3.Connection) -> None:
    """Migration 5's Python step: hash the entries written so far into a chain, then seal the
    records stored so far with one ``records.chain_start`` entry (a new, empty database needs none)."""
    chained = chain.chain_existing_entries(conn)
    if chained or any(chain.current_marks(conn).values()):
        details = json.dumps({"entries_chained": chained, "schema_version": 5}, separators=(",", ":"))
        chain.append_entry(conn, now_text(), "system", "records.chain_start", "db", details)


#: One step of a migration: SQL statements, or a Python function run on the connection.
MigrationStep = str | Callable[[sqlite3.Connection], None]

#: Forward migrations: (version, description, SQL or a tuple of steps), run in one transaction each.
#: Never edit a released entry; append a new one.
MIGRATIONS: tuple[tuple[int, str, MigrationStep | tuple[MigrationStep, ...]], ...] = (
    (
        1,
        "plans, assignments, visits, audit log",
        """
        CREATE TABLE audit_log (
            audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
        );
        CREATE INDEX audit_log_object ON audit_log(object);
        """
        + _append_only("audit_log", "audit log entries")
        + """
        CREATE TABLE plans (
            plan_id INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_key TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            scenario_name TEXT,
            first_day TEXT,
            last_day TEXT,
            plan_json TEXT NOT NULL CHECK (json_valid(plan_json)),
            content_sha256 TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'done')),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            approved_at TEXT,
            approved_by TEXT,
            done_at TEXT,
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            UNIQUE (plan_key, version)
        );
        CREATE TRIGGER plans_content_frozen BEFORE UPDATE OF plan_json, content_sha256, plan_key,
            version, created_at, created_by, simulated ON plans
        BEGIN SELECT RAISE(ABORT, 'a saved plan cannot be changed; save a new version'); END;
        CREATE TRIGGER plans_status_forward BEFORE UPDATE OF status ON plans
        WHEN NOT ((OLD.status = 'draft' AND NEW.status = 'approved')
               OR (OLD.status = 'approved' AND NEW.status = 'done'))
        BEGIN SELECT RAISE(ABORT, 'plan status may only go draft -> approved -> done'); END;
        CREATE TRIGGER plans_no_delete BEFORE DELETE ON plans
        BEGIN SELECT RAISE(ABORT, 'plans cannot be deleted'); END;

        CREATE TABLE assignments (
            plan_id INTEGER NOT NULL REFERENCES plans(plan_id),
            team_id TEXT NOT NULL,
            day TEXT NOT NULL,
            seq INTEGER NOT NULL,
            site_id TEXT NOT NULL,
            name TEXT,
            lon REAL,
            lat REAL,
            arrive TEXT,
            depart TEXT,
            service_minutes REAL,
            PRIMARY KEY (plan_id, team_id, seq)
        );
        CREATE INDEX assignments_team_day ON assignments(team_id, day);
        """
        + _append_only("assignments", "assignments of a saved plan")
        + """
        CREATE TABLE visits (
            visit_id INTEGER PRIMARY KEY AUTOINCREMENT,
            site_id TEXT NOT NULL,
            team_id TEXT NOT NULL,
            officers TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL CHECK (ended_at >= started_at),
            outcome TEXT NOT NULL CHECK (outcome IN ('compliant', 'violation', 'not_inspected')),
            reason TEXT,
            notes TEXT NOT NULL DEFAULT '',
            lon REAL,
            lat REAL,
            source TEXT NOT NULL CHECK (source IN ('planned', 'ad_hoc')),
            plan_id INTEGER REFERENCES plans(plan_id),
            supersedes INTEGER UNIQUE REFERENCES visits(visit_id),
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            CHECK (outcome != 'not_inspected' OR coalesce(trim(reason), '') != '')
        );
        CREATE INDEX visits_started ON visits(started_at);
        CREATE INDEX visits_site ON visits(site_id);
        """
        + _append_only("visits", "recorded visits")
        + """
        CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "GPS tracks, their points, and visits inferred from them",
        """
        CREATE TABLE tracks (
            track_id INTEGER PRIMARY KEY AUTOINCREMENT,
            team_id TEXT NOT NULL,
            device TEXT NOT NULL DEFAULT '',
            transport TEXT NOT NULL CHECK (transport IN ('vehicle', 'foot', 'drone')),
            content_sha256 TEXT NOT NULL UNIQUE,
            source_file TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            n_points INTEGER NOT NULL,
            n_dropped INTEGER NOT NULL,
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL
        );
        CREATE INDEX tracks_started ON tracks(started_at);
        """
        + _append_only("tracks", "imported tracks")
        + """
        CREATE TABLE track_points (
            track_id INTEGER NOT NULL REFERENCES tracks(track_id),
            seq INTEGER NOT NULL,
            time_s INTEGER NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            PRIMARY KEY (track_id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX track_points_time ON track_points(time_s);
        """
        + _append_only("track_points", "track points")
        + """
        CREATE TABLE inferred_visits (
            inferred_id INTEGER PRIMARY KEY AUTOINCREMENT,
            track_id INTEGER NOT NULL REFERENCES tracks(track_id),
            site_id TEXT NOT NULL,
            team_id TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            dwell_minutes REAL NOT NULL,
            min_distance_m REAL NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            radius_m REAL NOT NULL,
            min_dwell_minutes REAL NOT NULL,
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            inferred_at TEXT NOT NULL,
            UNIQUE (track_id, site_id, started_at, radius_m, min_dwell_minutes)
        );
        CREATE INDEX inferred_visits_started ON inferred_visits(started_at);
        """
        + _append_only("inferred_visits", "inferred visits"),
    ),
    (
        3,
        "accounts with roles; every audit entry names its actor",
        """
        CREATE TABLE accounts (
            account_id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL UNIQUE CHECK (username = lower(trim(username)) AND username != ''),
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('chief', 'officer', 'manager', 'admin')),
            detachment TEXT,
            team_id TEXT,
            permissions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
            password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2%'),
            password_changed_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
            locked_until TEXT,
            last_login_at TEXT,
            CHECK (role NOT IN ('chief', 'officer') OR coalesce(detachment, '') != ''),
            CHECK (role != 'officer' OR coalesce(team_id, '') != '')
        );
        CREATE TRIGGER accounts_identity_frozen BEFORE UPDATE OF account_id, username, created_at,
            created_by ON accounts
        BEGIN SELECT RAISE(ABORT, 'an account keeps its username; create a new account instead'); END;
        CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
        BEGIN SELECT RAISE(ABORT, 'accounts cannot be deleted (the audit log names them); disable it'); END;
        CREATE TRIGGER audit_log_actor_required BEFORE INSERT ON audit_log
        WHEN trim(coalesce(NEW.actor, '')) = ''
        BEGIN SELECT RAISE(ABORT, 'an audit entry must name its actor'); END;
        """,
    ),
    (
        4,
        "road closures added by chiefs (a lift or a correction is a new row superseding the old)",
        """
        CREATE TABLE road_closures (
            closure_id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL CHECK (trim(name) != ''),
            reason TEXT NOT NULL CHECK (reason IN ('sandstorm', 'flood', 'road_works', 'other')),
            geometry TEXT NOT NULL CHECK (json_valid(geometry)),
            first_day TEXT NOT NULL CHECK (first_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            last_day TEXT NOT NULL CHECK (last_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            lifted_from TEXT CHECK (lifted_from IS NULL
                OR lifted_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            supersedes INTEGER UNIQUE REFERENCES road_closures(closure_id),
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL CHECK (trim(created_by) != ''),
            CHECK (last_day >= first_day),
            CHECK (lifted_from IS NULL OR supersedes IS NOT NULL)
        );
        CREATE INDEX road_closures_days ON road_closures(first_day, last_day);
        """
        + _append_only("road_closures", "road closures"),
    ),
    (
        5,
        "tamper evidence: no REPLACE on protected tables; hash-chained audit log sealing the records",
        (
            # UPDATE is refused on the audit log, so its trigger is lifted while the existing entries
            # get their hashes, inside this migration's transaction, and recreated right after.
            """
            ALTER TABLE audit_log ADD COLUMN sealed TEXT CHECK (sealed IS NULL OR json_valid(sealed));
            ALTER TABLE audit_log ADD COLUMN prev_sha256 TEXT;
            ALTER TABLE audit_log ADD COLUMN entry_sha256 TEXT;
            DROP TRIGGER audit_log_no_update;
            """,
            _start_audit_chain,
            """
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log entries cannot be changed'); END;
            """
            + _refuse_existing("audit_log", "audit log entries", ("audit_id",))
            + _refuse_existing("plans", "saved plans", ("plan_id",), ("plan_key", "version"))
            + _refuse_existing("assignments", "assignments of a saved plan", ("plan_id", "team_id", "seq"))
            + _refuse_existing("visits", "recorded visits", ("visit_id",), ("supersedes",))
            + _refuse_existing("tracks", "imported tracks", ("track_id",), ("content_sha256",))
            + _refuse_existing("track_points", "track points", ("track_id", "seq"))
            + _refuse_existing("inferred_visits", "inferred visits", ("inferred_id",))
            + _refuse_existing(
                "inferred_visits",
                "inferred visits",
                ("track_id", "site_id", "started_at", "radius_m", "min_dwell_minutes"),
                action="IGNORE",
            )
            + _refuse_existing("road_closures", "road closures", ("closure_id",), ("supersedes",))
            + _refuse_existing("accounts", "accounts", ("account_id",), ("username",))
            + _refuse_existing("schema_migrations", "schema history entries", ("version",)),
        ),
    ),
    (
        6,
        "login events for throttling (per account, per source, in total) and the username-fingerprint key",
        """
        CREATE TABLE login_events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pending', 'success', 'failure', 'lockout', 'reset')),
            account_id INTEGER REFERENCES accounts(account_id),
            source TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX login_events_at ON login_events(at);
        CREATE INDEX login_events_account ON login_events(account_id, event_id);
        CREATE TRIGGER login_events_settle_once BEFORE UPDATE ON login_events
        WHEN NOT (OLD.kind = 'pending' AND NEW.kind IN ('success', 'failure') AND NEW.at = OLD.at
                  AND NEW.account_id IS OLD.account_id AND NEW.source = OLD.source
                  AND NEW.event_id = OLD.event_id)
        BEGIN SELECT RAISE(ABORT, 'a login event only changes once, from pending to success or failure'); END;
        CREATE TRIGGER login_events_no_delete BEFORE DELETE ON login_events
        BEGIN SELECT RAISE(ABORT, 'login events cannot be deleted'); END;
        CREATE TABLE login_secret (
            secret_id INTEGER PRIMARY KEY CHECK (secret_id = 1),
            fingerprint_key BLOB NOT NULL CHECK (length(fingerprint_key) = 32)
        );
        INSERT INTO login_secret (secret_id, fingerprint_key) VALUES (1, randomblob(32));
        """
        + _append_only("login_secret", "the username-fingerprint key"),
    ),
    (
        7,
        "login sessions that survive a reload: hashed cookie token, idle and absolute expiry, revocation",
        """
        CREATE TABLE sessions (
            session_id INTEGER PRIMARY KEY AUTOINCREMENT,
            account_id INTEGER NOT NULL REFERENCES accounts(account_id),
            ticket_sha256 TEXT UNIQUE,
            token_sha256 TEXT UNIQUE,
            password_changed_at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT CHECK (end_reason IN ('logout', 'expired', 'disabled', 'password')),
            CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
            CHECK (ticket_sha256 IS NULL OR token_sha256 IS NULL)
        );
        CREATE INDEX sessions_account ON sessions(account_id);
        CREATE TRIGGER sessions_identity_frozen BEFORE UPDATE OF session_id, account_id,
            password_changed_at, source, created_at ON sessions
        BEGIN SELECT RAISE(ABORT, 'a session keeps its account; log in again instead'); END;
        CREATE TRIGGER sessions_stay_ended BEFORE UPDATE ON sessions WHEN OLD.ended_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'an ended session cannot be resumed; log in again'); END;
        CREATE TRIGGER sessions_token_once BEFORE UPDATE OF token_sha256, ticket_sha256 ON sessions
        WHEN OLD.token_sha256 IS NOT NULL AND NEW.token_sha256 IS NOT OLD.token_sha256
            OR OLD.ticket_sha256 IS NULL AND NEW.ticket_sha256 IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'a session token is issued once'); END;
        """,
    ),
    (
        8,
        "closing the loop: cases with their state history and evidence, complaints, follow-up tasks",
        """
        CREATE TABLE cases (
            case_id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_no TEXT NOT NULL UNIQUE CHECK (case_no GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]*'),
            visit_id INTEGER NOT NULL UNIQUE REFERENCES visits(visit_id),
            site_id TEXT NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('illegal_discharge', 'monitoring_data_fraud',
                'hazardous_waste', 'permit', 'dust_odour_noise', 'ecological_damage', 'other')),
            description TEXT NOT NULL DEFAULT '',
            found_at TEXT NOT NULL,
            rectify_by TEXT NOT NULL CHECK (rectify_by GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            chief TEXT NOT NULL CHECK (trim(chief) != ''),
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'rectifying', 'closed', 'escalated')),
            verified_visit_id INTEGER REFERENCES visits(visit_id),
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK (state != 'closed' OR verified_visit_id IS NOT NULL)
        );
        CREATE INDEX cases_site ON cases(site_id);
        CREATE INDEX cases_state ON cases(state);
        CREATE TRIGGER cases_identity_frozen BEFORE UPDATE OF case_id, case_no, visit_id, site_id, category,
            description, found_at, simulated, opened_at, opened_by ON cases
        BEGIN SELECT RAISE(ABORT, 'a case keeps what was found; add a note or evidence instead'); END;
        CREATE TRIGGER cases_state_transition BEFORE UPDATE OF state ON cases
        WHEN NEW.state != OLD.state AND NOT ((OLD.state = 'open' AND NEW.state IN ('rectifying', 'escalated'))
            OR (OLD.state = 'rectifying' AND NEW.state IN ('closed', 'escalated')))
        BEGIN SELECT RAISE(ABORT, 'case state may only go open -> rectifying -> closed, or to escalated'); END;
        CREATE TRIGGER cases_closed_verified BEFORE UPDATE OF state ON cases
        WHEN NEW.state = 'closed' AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visit_id = NEW.verified_visit_id
            AND v.site_id = OLD.site_id AND v.outcome = 'compliant' AND v.started_at > OLD.found_at)
        BEGIN SELECT RAISE(ABORT, 'a case closes only with a later compliant visit at its site'); END;
        CREATE TRIGGER cases_final BEFORE UPDATE ON cases WHEN OLD.state IN ('closed', 'escalated')
        BEGIN SELECT RAISE(ABORT, 'a closed or escalated case cannot be changed'); END;
        CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
        BEGIN SELECT RAISE(ABORT, 'cases cannot be deleted'); END;

        CREATE TABLE case_events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id INTEGER NOT NULL REFERENCES cases(case_id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL CHECK (trim(actor) != ''),
            kind TEXT NOT NULL CHECK (kind IN ('opened', 'state', 'deadline', 'note')),
            from_state TEXT,
            to_state TEXT,
            rectify_by TEXT,
            visit_id INTEGER REFERENCES visits(visit_id),
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX case_events_case ON case_events(case_id, event_id);
        """
        + _append_only("case_events", "case history")
        + """
        CREATE TABLE evidence (
            evidence_id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id INTEGER NOT NULL REFERENCES cases(case_id),
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
            file_name TEXT NOT NULL,
            taken_at TEXT,
            lon REAL,
            lat REAL,
            flags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(flags)),
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL,
            UNIQUE (case_id, sha256)
        );
        """
        + _append_only("evidence", "evidence records")
        + """
        CREATE TABLE complaints (
            complaint_id INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('12369', 'letter', 'online', 'other')),
            site_id TEXT NOT NULL,
            lon REAL,
            lat REAL,
            distance_m REAL,
            nature TEXT NOT NULL CHECK (trim(nature) != ''),
            night INTEGER NOT NULL CHECK (night IN (0, 1)),
            urgent INTEGER NOT NULL CHECK (urgent IN (0, 1)),
            respond_by TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
            visit_id INTEGER REFERENCES visits(visit_id),
            reply TEXT,
            closed_at TEXT,
            closed_by TEXT,
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            CHECK (state = 'open' OR (visit_id IS NOT NULL AND trim(coalesce(reply, '')) != ''))
        );
        CREATE INDEX complaints_site ON complaints(site_id);
        CREATE TRIGGER complaints_close_once BEFORE UPDATE ON complaints
        WHEN NOT (OLD.state = 'open' AND NEW.state = 'closed' AND NEW.complaint_id = OLD.complaint_id
            AND NEW.received_at = OLD.received_at AND NEW.channel = OLD.channel AND NEW.site_id = OLD.site_id
            AND NEW.lon IS OLD.lon AND NEW.lat IS OLD.lat AND NEW.distance_m IS OLD.distance_m
            AND NEW.nature = OLD.nature AND NEW.night = OLD.night AND NEW.urgent = OLD.urgent
            AND NEW.respond_by = OLD.respond_by AND NEW.simulated = OLD.simulated
            AND NEW.recorded_at = OLD.recorded_at AND NEW.recorded_by = OLD.recorded_by)
        BEGIN SELECT RAISE(ABORT, 'a complaint changes only once, from open to closed'); END;
        CREATE TRIGGER complaints_closed_by_visit BEFORE UPDATE OF state ON complaints
        WHEN NEW.state = 'closed' AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visit_id = NEW.visit_id
            AND v.site_id = OLD.site_id AND v.started_at >= OLD.received_at AND v.outcome != 'not_inspected')
        BEGIN SELECT RAISE(ABORT, 'a complaint closes only with a visit at its site after it was received'); END;
        CREATE TRIGGER complaints_no_delete BEFORE DELETE ON complaints
        BEGIN SELECT RAISE(ABORT, 'complaints cannot be deleted'); END;

        CREATE TABLE tasks (
            task_id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('follow_up', 'complaint_check', 'night_check')),
            site_id TEXT NOT NULL,
            since TEXT NOT NULL,
            due_at TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (trim(reason) != ''),
            case_id INTEGER REFERENCES cases(case_id),
            complaint_id INTEGER REFERENCES complaints(complaint_id),
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
            visit_id INTEGER REFERENCES visits(visit_id),
            closed_at TEXT,
            closed_note TEXT,
            simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            CHECK ((case_id IS NULL) != (complaint_id IS NULL)),
            CHECK (state != 'done' OR visit_id IS NOT NULL)
        );
        CREATE INDEX tasks_open ON tasks(state, due_at);
        CREATE TRIGGER tasks_close_once BEFORE UPDATE ON tasks
        WHEN NOT (OLD.state = 'open' AND NEW.state IN ('done', 'cancelled') AND NEW.task_id = OLD.task_id
            AND NEW.kind = OLD.kind AND NEW.site_id = OLD.site_id AND NEW.since = OLD.since
            AND NEW.due_at = OLD.due_at AND NEW.reason = OLD.reason AND NEW.case_id IS OLD.case_id
            AND NEW.complaint_id IS OLD.complaint_id AND NEW.simulated = OLD.simulated
            AND NEW.created_at = OLD.created_at AND NEW.created_by = OLD.created_by)
        BEGIN SELECT RAISE(ABORT, 'a task changes only once, from open to done or cancelled'); END;
        CREATE TRIGGER tasks_done_by_visit BEFORE UPDATE OF state ON tasks
        WHEN NEW.state = 'done' AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visit_id = NEW.visit_id
            AND v.site_id = OLD.site_id AND v.started_at >= OLD.since AND v.outcome != 'not_inspected')
        BEGIN SELECT RAISE(ABORT, 'a task is done only by a visit at its site after it was set'); END;
        CREATE TRIGGER tasks_no_delete BEFORE DELETE ON tasks
        BEGIN SELECT RAISE(ABORT, 'tasks cannot be deleted'); END;
        """
        + _refuse_existing("cases", "cases", ("case_id",), ("case_no",), ("visit_id",))
        + _refuse_existing("case_events", "case history", ("event_id",))
        + _refuse_existing("evidence", "evidence records", ("evidence_id",), ("case_id", "sha256"))
        + _refuse_existing("complaints", "complaints", ("complaint_id",))
        + _refuse_existing("tasks", "tasks", ("task_id",)),
    ),
    (
        9,
        "solve jobs: a queue of plan solves that workers claim with a lease and finish into the plans",
        """
        CREATE TABLE solve_jobs (
            job_id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL DEFAULT 'plan' CHECK (kind IN ('plan', 'replan')),
            request TEXT NOT NULL CHECK (json_valid(request)),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
            time_limit_s REAL NOT NULL CHECK (time_limit_s > 0),
            submitted_at TEXT NOT NULL,
            submitted_by TEXT NOT NULL CHECK (trim(submitted_by) != ''),
            worker TEXT,
            started_at TEXT,
            lease_until TEXT,
            progress TEXT NOT NULL DEFAULT '',
            finished_at TEXT,
            plan_id INTEGER REFERENCES plans(plan_id),
            error TEXT,
            CHECK (state != 'done' OR plan_id IS NOT NULL)
        );
        CREATE INDEX solve_jobs_queue ON solve_jobs(state, job_id);
        CREATE TRIGGER solve_jobs_final BEFORE UPDATE ON solve_jobs
        WHEN OLD.state IN ('done', 'failed', 'cancelled')
        BEGIN SELECT RAISE(ABORT, 'a finished solve job cannot be changed; submit a new one'); END;
        CREATE TRIGGER solve_jobs_no_delete BEFORE DELETE ON solve_jobs
        BEGIN SELECT RAISE(ABORT, 'solve jobs cannot be deleted'); END;
        """
        + _refuse_existing("solve_jobs", "solve jobs", ("job_id",)),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection | PostgresConnection) -> int:
    """The number of the last migration applied to this database (0 for an empty one)."""
    if dialect(conn) == "postgresql":
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return 0
        return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target``, each in its own transaction; return the version.

    Safe when several processes open a new database at once: the version is re-read under the write
    lock, so each migration runs exactly once.
    """
    if schema_version(conn) > SCHEMA_VERSION:
        raise RecordsError(
            f"database schema version {schema_version(conn)} is newer than this program "
            f"({SCHEMA_VERSION}); upgrade XunHu"
        )
    postgresql = dialect(conn) == "postgresql"
    for version, description, steps in schema_postgres.MIGRATIONS if postgresql else MIGRATIONS:
        if version > target or version <= schema_version(conn):
            continue
        with transaction(conn):
            if version <= schema_version(conn):
                continue
            for step in (steps,) if isinstance(steps, str) else steps:
                _run_step(conn, step)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (version, description, now_text()),
            )
            if not postgresql:
                conn.execute(f"PRAGMA user_version = {version:d}")
    return schema_version(conn)


def _run_step(conn: sqlite3.Connection | PostgresConnection, step: MigrationStep) -> None:
    """Run one migration step inside the migration's transaction."""
    if callable(step):
        step(conn)
        return
    if dialect(conn) == "postgresql":
        conn.raw.execute(step)  # several statements in one simple query; no parameters
        return
    # executescript would COMMIT the open transaction; run statement by statement instead.
    for statement in _split_sql(step):
        conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` keeps triggers whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements
