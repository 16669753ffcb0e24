"""Login throttling: per account under parallel attempts, across accounts, per source, decay, clocks."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from records import audit
from records.accounts import (
    CLOCK_SLACK,
    FAILURE_WINDOW,
    GLOBAL_FAILURE_LIMIT,
    LOCKOUT,
    LOGIN_THROTTLED,
    MAX_FAILED_ATTEMPTS,
    SOURCE_FAILURE_LIMIT,
    AuthError,
    LoginThrottled,
    authenticate,
    create_account,
    get_account,
)
from records.db import connect

pytestmark = pytest.mark.records

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
FAST_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


class CountingHasher(PasswordHasher):
    """A cheap argon2 hasher that counts the checks against one account's real hash.

    A check against the real hash waits for ``gate`` (when given), so that the test decides how
    long those attempts stay in flight; checks against the decoy never wait.
    """

    def __init__(self, watched_hash: str = "", gate: threading.Event | None = None) -> None:
        super().__init__(**FAST_PARAMS)
        self.watched_hash, self.gate = watched_hash, gate
        self.checked = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 (argon2's name)
        if hash == self.watched_hash:
            with self._lock:
                self.checked += 1
            if self.gate is not None:
                self.gate.wait(timeout=30)
        return super().verify(hash, password)


@pytest.fixture
def db(tmp_path, new_db) -> Path:
    path = new_db("throttle")
    conn = connect(path)
    create_account(conn, "alice", PASSWORD, "manager", actor="root", hasher=PasswordHasher(**FAST_PARAMS))
    conn.close()
    return path


def stored_hash(db: Path, username: str = "alice") -> str:
    conn = connect(db)
    try:
        return conn.execute("SELECT password_hash FROM accounts WHERE username = ?", (username,)).fetchone()[
            0
        ]
    finally:
        conn.close()


def attempt(db: Path, username: str, password: str, hasher: PasswordHasher, **options) -> str:
    """One login on its own connection: 'ok' or the failure's reason."""
    conn = connect(db)
    try:
        authenticate(conn, username, password, options.pop("now", T0), hasher=hasher, **options)
        return "ok"
    except AuthError as failed:
        return failed.reason
    finally:
        conn.close()


def in_parallel(targets: list) -> list[str]:
    """Run the callables in threads started together; their results in order."""
    results: list[str] = [""] * len(targets)
    start = threading.Barrier(len(targets))

    def run(index: int) -> None:
        start.wait()
        results[index] = targets[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def log(db: Path, action: str):
    conn = connect(db)
    try:
        return audit.entries(conn, action=action)
    finally:
        conn.close()


def test_thirty_parallel_wrong_logins_check_at_most_the_limit(db):
    hasher = CountingHasher(stored_hash(db))
    results = in_parallel([lambda i=i: attempt(db, "alice", f"wrong guess {i}", hasher) for i in range(30)])
    # However the 30 interleave, only the first five reserved are checked; the rest are refused
    # before any check (while those five are in flight, or once the account is locked).
    assert hasher.checked == MAX_FAILED_ATTEMPTS
    assert sorted(results) == sorted(["wrong_password"] * 5 + ["locked"] * 25)
    conn = connect(db)
    assert get_account(conn, "alice").locked_until == T0 + LOCKOUT
    conn.close()
    failures = log(db, "auth.failure")
    assert len(failures) == 30
    assert [d["reason"] for d in failures["details"]].count("wrong_password") == 5
    assert len(log(db, "auth.lockout")) == 1


def test_the_right_password_after_the_limit_is_refused_even_while_the_others_are_in_flight(db):
    gate = threading.Event()
    hasher = CountingHasher(stored_hash(db), gate)
    wrong = [threading.Thread(target=attempt, args=(db, "alice", f"wrong {i}", hasher)) for i in range(19)]
    for thread in wrong:
        thread.start()
    # Five wrong guesses are being checked (held at the gate), the other 14 were refused at once.
    deadline = datetime.now(UTC) + timedelta(seconds=60)

    def settled() -> bool:
        alive = sum(thread.is_alive() for thread in wrong)
        return alive == hasher.checked == MAX_FAILED_ATTEMPTS

    while not settled() and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    assert hasher.checked == MAX_FAILED_ATTEMPTS
    assert [d["reason"] for d in log(db, "auth.failure")["details"]] == ["locked"] * 14
    assert attempt(db, "alice", PASSWORD, hasher) == "locked"
    gate.set()
    for thread in wrong:
        thread.join(timeout=120)
    assert hasher.checked == MAX_FAILED_ATTEMPTS
    assert log(db, "auth.login").empty
    assert attempt(db, "alice", PASSWORD, hasher, now=T0 + LOCKOUT - timedelta(seconds=1)) == "locked"
    assert attempt(db, "alice", PASSWORD, hasher, now=T0 + LOCKOUT) == "ok"


def _process_attempt(db: str, password: str) -> str:
    return attempt(db, "alice", password, PasswordHasher(**FAST_PARAMS))


def test_parallel_processes_check_at_most_the_limit(db):
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.starmap(_process_attempt, [(str(db), f"wrong {i}") for i in range(16)])
    assert results.count("wrong_password") == MAX_FAILED_ATTEMPTS
    assert results.count("locked") == 16 - MAX_FAILED_ATTEMPTS
    assert len(log(db, "auth.lockout")) == 1


def make_accounts(db: Path, count: int) -> list[str]:
    conn = connect(db)
    names = [f"user{index:02d}" for index in range(count)]
    fast = PasswordHasher(**FAST_PARAMS)
    for name in names:
        create_account(conn, name, PASSWORD, "manager", actor="root", hasher=fast)
    conn.close()
    return names


def test_a_spray_over_thirty_accounts_trips_the_global_throttle(db):
    names = make_accounts(db, 30)
    hasher = CountingHasher(stored_hash(db))
    conn = connect(db)
    results = []
    for guess in range(100):
        moment = T0 + timedelta(seconds=guess)  # a slow spray: 100 guesses in under two minutes
        try:
            authenticate(conn, names[guess % 30], f"guess {guess}", moment, hasher=hasher)
        except AuthError as failed:
            results.append(failed.reason)
    assert results == ["wrong_password"] * GLOBAL_FAILURE_LIMIT + ["throttled"] * (100 - GLOBAL_FAILURE_LIMIT)
    # No account reached its own lockout: only the throttle across accounts stopped the spray.
    assert not any(get_account(conn, name).locked_until for name in names)
    (throttle,) = log(db, "auth.throttle").itertuples()
    assert throttle.object == "login:all"
    assert throttle.details == {"scope": "all", "failures": GLOBAL_FAILURE_LIMIT, "window_minutes": 15}
    refused = log(db, "auth.failure")["details"].iloc[-1]
    assert refused["reason"] == "throttled" and refused["scope"] == "all"
    # The right password of an untouched account is refused too, unchecked, with its own message.
    with pytest.raises(LoginThrottled) as throttled:
        authenticate(conn, "alice", PASSWORD, T0 + timedelta(minutes=5), hasher=hasher)
    assert str(throttled.value) == LOGIN_THROTTLED and hasher.checked == 0
    # Once the spray's failures have left the window, logging in works again.
    later = T0 + FAILURE_WINDOW + timedelta(seconds=100)
    assert authenticate(conn, "alice", PASSWORD, later, hasher=hasher).username == "alice"
    conn.close()


def test_unknown_usernames_count_towards_the_global_throttle(db):
    conn = connect(db)
    fast = PasswordHasher(**FAST_PARAMS)
    for guess in range(GLOBAL_FAILURE_LIMIT):
        with pytest.raises(AuthError, match="wrong username or password"):
            authenticate(conn, f"nobody{guess}", PASSWORD, T0, hasher=fast)
    with pytest.raises(LoginThrottled):
        authenticate(conn, "alice", PASSWORD, T0, hasher=fast)
    conn.close()


def test_one_source_is_throttled_before_the_others(db):
    conn = connect(db)
    fast = PasswordHasher(**FAST_PARAMS)
    for guess in range(SOURCE_FAILURE_LIMIT):
        with pytest.raises(AuthError):
            authenticate(conn, f"nobody{guess}", "guess", T0, source="203.0.113.7", hasher=fast)
    with pytest.raises(LoginThrottled):
        authenticate(conn, "alice", PASSWORD, T0, source="203.0.113.7", hasher=fast)
    assert authenticate(conn, "alice", PASSWORD, T0, source="198.51.100.2", hasher=fast).username == "alice"
    (throttle,) = log(db, "auth.throttle").itertuples()
    assert (
        throttle.object == "login:source:203.0.113.7" and throttle.details["failures"] == SOURCE_FAILURE_LIMIT
    )
    assert log(db, "auth.login")["details"].iloc[-1] == {"source": "198.51.100.2"}
    conn.close()


def test_failures_older_than_the_window_stop_counting(db):
    conn = connect(db)
    fast = PasswordHasher(**FAST_PARAMS)

    def wrong(moment: datetime) -> str:
        with pytest.raises(AuthError) as failed:
            authenticate(conn, "alice", "wrong guess", moment, hasher=fast)
        return failed.value.reason

    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        wrong(T0)
    later = T0 + FAILURE_WINDOW
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        assert wrong(later) == "wrong_password"
    assert get_account(conn, "alice").failed_attempts == MAX_FAILED_ATTEMPTS - 1
    assert get_account(conn, "alice").locked_until is None
    wrong(later + timedelta(minutes=1))
    assert get_account(conn, "alice").locked_until == later + timedelta(minutes=1) + LOCKOUT
    conn.close()


def test_a_lock_set_on_the_real_clock_does_not_outlive_a_pinned_earlier_clock(db):
    """``$XUNHU_NOW`` pins the dashboard's clock (T0 here, before today); the CLI uses the real one."""
    conn = connect(db)
    fast = PasswordHasher(**FAST_PARAMS)
    for _ in range(MAX_FAILED_ATTEMPTS):  # on the real clock: now=None
        with pytest.raises(AuthError):
            authenticate(conn, "alice", "wrong guess", hasher=fast)
    account = get_account(conn, "alice")
    assert account.locked(datetime.now(UTC))
    # On the pinned clock the lock would last for the weeks until T0 reaches the real time; it was
    # set on another clock, so it does not hold there, and the real clock's failures do not count.
    assert not account.locked(T0)
    assert authenticate(conn, "alice", PASSWORD, T0, hasher=fast).username == "alice"
    # A lock set on the pinned clock holds on it, and on a clock up to CLOCK_SLACK behind it.
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(AuthError):
            authenticate(conn, "alice", "wrong guess", T0, hasher=fast)
    assert get_account(conn, "alice").locked(T0 - CLOCK_SLACK)
    with pytest.raises(AuthError) as locked:
        authenticate(conn, "alice", PASSWORD, T0 + timedelta(minutes=1), hasher=fast)
    assert locked.value.reason == "locked"
    conn.close()


def test_failures_recorded_on_a_clock_far_ahead_do_not_count(db):
    conn = connect(db)
    fast = PasswordHasher(**FAST_PARAMS)
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(AuthError):
            authenticate(conn, "alice", "wrong guess", T0 + timedelta(days=3), hasher=fast)
    with pytest.raises(AuthError):
        authenticate(conn, "alice", "wrong guess", T0, hasher=fast)
    assert get_account(conn, "alice").locked_until is None
    conn.close()
