"""Accounts: argon2 hashing, login failures and lockout, audit of every attempt, CLI, no default secrets."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from records_backends import REFUSED
from records_fixtures import dump

from records import accounts, audit
from records.accounts import (
    LOCKOUT,
    LOGIN_FAILED,
    AuthError,
    authenticate,
    create_account,
    disable_account,
    enable_account,
    get_account,
    list_accounts,
    set_password,
    unlock_account,
)
from records.cli import passwords as cli_passwords
from records.cli.demo_accounts import DEMO_ACCOUNTS
from records.db import RecordsError
from records.store import Store, open_store

pytestmark = pytest.mark.records

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Cheap argon2 parameters so that a test can log in many times; the real default is tested once.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path, new_db):
    with open_store(new_db("accounts")) as opened:
        yield opened


@pytest.fixture
def alice(store):
    return create_account(
        store, "Alice", PASSWORD, "officer", detachment="650100", team_id="T1", actor="root", hasher=FAST
    )


def login(store: Store, username: str, password: str, now: datetime = T0):
    return authenticate(store, username, password, now, hasher=FAST)


def failure(store: Store, username: str, password: str, now: datetime = T0) -> AuthError:
    with pytest.raises(AuthError) as caught:
        login(store, username, password, now)
    return caught.value


def test_password_is_stored_as_an_argon2id_hash_with_the_library_defaults(store):
    create_account(store, "root", PASSWORD, "admin", actor="installer")
    stored = store.conn.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert stored != PASSWORD and PASSWORD not in stored
    defaults = PasswordHasher()
    assert stored.startswith(f"$argon2id$v=19$m={defaults.memory_cost},t={defaults.time_cost},")
    assert defaults.verify(stored, PASSWORD)
    with pytest.raises(VerifyMismatchError):
        defaults.verify(stored, PASSWORD + "!")
    # Same password, another account: a different salt, so a different hash.
    create_account(store, "root2", PASSWORD, "admin", actor="installer", hasher=FAST)
    other = store.conn.execute("SELECT password_hash FROM accounts WHERE username = 'root2'").fetchone()[0]
    assert other != stored and FAST.verify(other, PASSWORD)


def test_login_returns_the_account_and_is_audited_with_it(store, alice):
    account = login(store, "  ALICE ", PASSWORD)
    assert (account.username, account.role, account.team_id, account.detachment) == (
        "alice",
        "officer",
        "T1",
        "650100",
    )
    assert get_account(store, "alice").last_login_at == T0
    entry = store.audit_log(action="auth.login").iloc[-1]
    assert (entry["actor"], entry["object"]) == ("alice", "account:alice")
    created = store.audit_log(action="account.create").iloc[-1]
    assert created["actor"] == "root" and created["details"]["team_id"] == "T1"


def test_unknown_user_and_wrong_password_look_the_same_but_are_logged_apart(store, alice):
    unknown = failure(store, "mallory", PASSWORD)
    wrong = failure(store, "alice", "not the password")
    assert str(unknown) == str(wrong) == LOGIN_FAILED
    assert (unknown.reason, wrong.reason) == ("unknown_user", "wrong_password")
    log = store.audit_log(action="auth.failure")
    assert re.fullmatch(r"unknown#[0-9a-f]{6}", log["actor"].iloc[0]) and log["actor"].iloc[1] == "alice"
    assert [d["reason"] for d in log["details"]] == ["unknown_user", "wrong_password"]
    assert log["details"].iloc[1]["failed_attempts"] == 1


def test_unknown_usernames_are_logged_only_as_a_keyed_fingerprint(store, alice, tmp_path, new_db):
    # Someone types the password into the username field: it must not reach the audit log.
    for typed in (PASSWORD, " Correct Horse Battery ", "x\x00y" * 100, ""):
        failure(store, typed, PASSWORD)
    actors = store.audit_log(action="auth.failure")["actor"].tolist()
    dumped = dump(store.path)
    assert PASSWORD not in dumped and "horse" not in dumped.lower() and "xyxy" not in dumped
    # The same name (in any case) correlates, another does not; the empty name says so.
    assert actors[0] == actors[1] != actors[2]
    assert actors[3] == "unknown#(empty)"
    # The key is per database: the same name in another database gets another fingerprint.
    with open_store(new_db("other", migrated=False)) as other:  # migrated anew: its own key
        assert accounts.unknown_name(other, PASSWORD) != actors[0] == accounts.unknown_name(store, PASSWORD)


def test_five_failures_lock_the_account_for_fifteen_minutes(store, alice):
    for attempt in range(4):
        assert failure(store, "alice", f"wrong {attempt}", T0).reason == "wrong_password"
    assert get_account(store, "alice").failed_attempts == 4
    assert not get_account(store, "alice").locked(T0)
    failure(store, "alice", "wrong 5", T0)
    assert get_account(store, "alice").locked_until == T0 + LOCKOUT
    # While locked even the right password fails, with the same message, and does not extend the lock.
    during = T0 + LOCKOUT - timedelta(seconds=1)
    locked = failure(store, "alice", PASSWORD, during)
    assert (str(locked), locked.reason) == (LOGIN_FAILED, "locked")
    assert get_account(store, "alice").locked_until == T0 + LOCKOUT
    assert login(store, "alice", PASSWORD, T0 + LOCKOUT).username == "alice"
    assert get_account(store, "alice").locked_until is None
    lockouts = store.audit_log(action="auth.lockout")
    assert lockouts["actor"].tolist() == ["alice"] and lockouts["details"].iloc[0]["failures"] == 5
    reasons = [d["reason"] for d in store.audit_log(action="auth.failure")["details"]]
    assert reasons == ["wrong_password"] * 5 + ["locked"]


def test_a_success_resets_the_failure_count(store, alice):
    for _ in range(4):
        failure(store, "alice", "wrong")
    login(store, "alice", PASSWORD)
    for _ in range(4):
        failure(store, "alice", "wrong")
    assert not get_account(store, "alice").locked(T0)


def test_lockout_threshold_and_duration_are_parameters(store, alice):
    limits = accounts.LoginLimits(max_failures=2, lockout=timedelta(hours=1))
    for _ in range(2):
        with pytest.raises(AuthError):
            authenticate(store, "alice", "wrong", T0, limits=limits, hasher=FAST)
    assert get_account(store, "alice").locked_until == T0 + timedelta(hours=1)


def test_admin_unlock_and_new_password_clear_the_lockout(store, alice):
    for _ in range(5):
        failure(store, "alice", "wrong")
    unlock_account(store, "alice", actor="root")
    assert login(store, "alice", PASSWORD).username == "alice"
    for _ in range(5):
        failure(store, "alice", "wrong")
    set_password(store, "alice", "a new long passphrase", actor="root", now=T0, hasher=FAST)
    assert failure(store, "alice", PASSWORD).reason == "wrong_password"
    assert login(store, "alice", "a new long passphrase").username == "alice"
    assert store.audit_log(obj="account:alice", action="account.password")["actor"].tolist() == ["root"]


def test_disabled_account_cannot_log_in(store, alice):
    disable_account(store, "alice", actor="root")
    refused = failure(store, "alice", PASSWORD)
    assert (str(refused), refused.reason) == (LOGIN_FAILED, "disabled")
    enable_account(store, "alice", actor="root")
    assert login(store, "alice", PASSWORD).username == "alice"
    actions = store.audit_log(obj="account:alice")["action"].tolist()
    assert actions[:3] == ["account.create", "account.disable", "auth.failure"]


def test_hash_is_upgraded_at_login_when_the_parameters_change(store, alice):
    old = store.conn.execute("SELECT password_hash FROM accounts").fetchone()[0]
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.check_needs_rehash(old)
    authenticate(store, "alice", PASSWORD, T0, hasher=stronger)
    new = store.conn.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert new != old and not stronger.check_needs_rehash(new) and stronger.verify(new, PASSWORD)
    assert store.audit_log(action="account.rehash")["actor"].tolist() == ["alice"]
    authenticate(store, "alice", PASSWORD, T0, hasher=stronger)  # no second rehash
    assert len(store.audit_log(action="account.rehash")) == 1


def test_an_over_long_password_is_a_plain_failure(store, alice):
    assert failure(store, "alice", PASSWORD + "x" * 2000).reason == "wrong_password"
    assert failure(store, "alice", PASSWORD.ljust(accounts.MAX_PASSWORD_CHARS + 1)).reason == "wrong_password"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "at least 10"),
        ("aaaaabbbbb", "too repetitive"),
        ("my-name-is-bob-ok", "must not contain the username"),
        ("x1" * 600, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused(store, password, message):
    with pytest.raises(RecordsError, match=message):
        create_account(store, "bob", password, "manager", hasher=FAST)
    assert list_accounts(store).empty


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "officer", "detachment": "650100"}, "needs a team"),
        ({"role": "chief"}, "needs a detachment"),
        ({"role": "chief", "detachment": "Urumqi"}, "6-digit prefecture code"),
        ({"role": "manager", "team_id": "T1"}, "only officers"),
        ({"role": "manager", "permissions": ("root",)}, "unknown permission"),
        ({"role": "superuser"}, "must be one of"),
        ({"role": "admin", "username": "a b"}, "username"),
    ],
)
def test_account_fields_are_checked(store, fields, message):
    fields = {"username": "carol", **fields}
    with pytest.raises(RecordsError, match=message):
        create_account(store, password=PASSWORD, hasher=FAST, **fields)


def test_usernames_are_unique_regardless_of_case(store, alice):
    with pytest.raises(RecordsError, match="already exists"):
        create_account(store, "ALICE", PASSWORD, "manager", hasher=FAST)


def test_database_keeps_accounts_and_refuses_to_rewrite_the_audit_log(store, alice):
    login(store, "alice", PASSWORD)
    count = len(store.audit_log())
    for sql, message in [
        ("UPDATE audit_log SET actor = 'someone else'", "audit log entries cannot be changed"),
        ("UPDATE audit_log SET details = '{}' WHERE action = 'auth.login'", "cannot be changed"),
        ("DELETE FROM audit_log", "audit log entries cannot be deleted"),
        ("DELETE FROM audit_log WHERE action = 'auth.login'", "cannot be deleted"),
        ("DELETE FROM accounts", "accounts cannot be deleted"),
        ("UPDATE accounts SET username = 'eve'", "keeps its username"),
        (
            "INSERT INTO audit_log (audit_id, at, actor, action, object) "
            "VALUES (9999, '2026-01-01T00:00:00Z', ' ', 'x', 'y')",
            "must name its actor",
        ),
    ]:
        with pytest.raises(REFUSED, match=message):
            store.conn.execute(sql)
    assert len(store.audit_log()) == count
    assert store.audit_log()["actor"].str.strip().ne("").all()
    # Nor does any code path offer to: the audit module and the store only append and read.
    assert {name for name in dir(audit) if not name.startswith("_")} >= {"append", "entries"}
    assert not [name for name in dir(audit) + dir(Store) if re.search(r"update|delete|edit|remove", name)]


def test_account_listing_never_shows_hashes(store, alice):
    frame = list_accounts(store)
    assert frame["username"].tolist() == ["alice"]
    assert not any("argon2" in str(value) for value in frame.to_numpy().ravel())
    assert "password_hash" not in frame.columns


def run_cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "XUNHU_DB": str(db), "XUNHU_ACTOR": "installer"}
    return subprocess.run(
        [sys.executable, "-m", "records", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )


def test_create_admin_cli_with_password_on_stdin(tmp_path, new_db):
    db = new_db("cli")
    weak = run_cli(db, "create-admin", "--username", "root", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    made = run_cli(db, "create-admin", "--username", "Root", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    listed = run_cli(db, "accounts")
    assert listed.returncode == 0 and "root" in listed.stdout and "admin" in listed.stdout
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout
    with open_store(db) as store:
        account = authenticate(store, "root", PASSWORD, T0)
        assert account.role == "admin"
        assert store.audit_log(action="account.create")["actor"].tolist() == ["installer"]


def test_create_admin_prompts_twice_and_refuses_a_mismatch(tmp_path, monkeypatch, capsys, new_db):
    from records.cli import create_admin

    monkeypatch.setenv("XUNHU_DB", str(new_db("prompt")))
    answers = iter(["first long password", "second long password"])
    monkeypatch.setattr(cli_passwords.getpass, "getpass", lambda prompt: next(answers))
    assert create_admin.main(["--username", "root"]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
    answers = iter([PASSWORD, PASSWORD])
    assert create_admin.main(["--username", "root"]) == 0
    answers = iter([PASSWORD, PASSWORD])
    assert create_admin.main(["--username", "root2"]) == 1  # an admin exists
    answers = iter([PASSWORD, PASSWORD])
    assert create_admin.main(["--username", "root2", "--force"]) == 0


def test_add_account_and_account_commands(tmp_path, monkeypatch, capsys, new_db):
    from records.cli import account, add_account

    db = new_db("add")
    monkeypatch.setenv("XUNHU_DB", str(db))
    argv = ["--username", "li", "--role", "officer", "--detachment", "650100", "--generate-password"]
    assert add_account.main(argv) == 1  # an officer without a team
    assert "needs a team" in capsys.readouterr().err
    assert add_account.main([*argv, "--team", "T1"]) == 0
    out = capsys.readouterr().out
    password = re.search(r"password \(shown once\): (\S+)", out)[1]
    assert account.main(["li", "--disable"]) == 0
    with open_store(db) as store:
        assert pytest.raises(AuthError, authenticate, store, "li", password, T0).value.reason == "disabled"
    assert account.main(["li", "--enable"]) == 0
    with open_store(db) as store:
        assert authenticate(store, "li", password, T0).team_id == "T1"
    assert account.main(["nobody", "--unlock"]) == 1
    assert "no account 'nobody'" in capsys.readouterr().err


def test_demo_accounts_get_random_passwords_written_privately(tmp_path, monkeypatch, capsys, new_db):
    from records.cli import demo_accounts

    db, out = new_db("demo"), tmp_path / "secrets" / "demo-accounts.txt"
    monkeypatch.setenv("XUNHU_DB", str(db))
    assert demo_accounts.main(["--out", str(REPO_ROOT / "demo-accounts.txt")]) == 1
    assert "var/ only" in capsys.readouterr().err
    assert not (REPO_ROOT / "demo-accounts.txt").exists()
    with open_store(db) as store:
        assert list_accounts(store).empty  # refused before creating anything
    made = run_cli(db, "demo-accounts", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert [name for name, _, _ in rows] == list(DEMO_ACCOUNTS)
    assert {role for _, role, _ in rows} == {"admin", "chief", "officer", "manager"}
    assert len({password for _, _, password in rows}) == len(rows)
    assert all(password in made.stdout for _, _, password in rows)
    with open_store(db) as store:
        name, role, password = rows[2]
        account = authenticate(store, name, password, T0)
        assert (account.role, account.team_id, account.detachment) == (role, "T1", "650100")
    assert demo_accounts.main([]) == 1
    assert "use --reset" in capsys.readouterr().err


#: A string literal assigned (or passed) to something named like a password or a secret.
SECRET_LITERAL = re.compile(
    r"""(?ix)
    (\b\w*(?:password|passwd|pwd|secret|api_?key|auth_?token|access_?token)\w*\s*=(?!=)     # name = "..." or name="..."
    |["']\w*(?:password|passwd|pwd|secret|api_?key|auth_?token|access_?token)\w*["']\s*:)  # {"password": "..."}
    \s*[rbf]*(?P<quote>["'])(?!(?P=quote))                            # a non-empty literal
    """
)
ARGON2_HASH = re.compile(r"\$argon2(id|i|d)\$v=")


def test_no_password_or_hash_literal_outside_the_tests():
    files = [
        path
        for pattern in ("*.py", "*.sh", "*.toml", "*.yaml", "*.yml", "*.cfg", "*.ini", "*.env")
        for path in REPO_ROOT.rglob(pattern)
        if not {"tests", ".venv", "static", "data", ".git", "var", "test-results"}
        & set(path.relative_to(REPO_ROOT).parts)
    ]
    assert REPO_ROOT / "records" / "accounts.py" in files
    offending = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if SECRET_LITERAL.search(line) or ARGON2_HASH.search(line)
    ]
    assert offending == []
    # The checker itself finds what it is meant to find.
    assert SECRET_LITERAL.search('DEFAULT_PASSWORD = "admin123"')
    assert SECRET_LITERAL.search("create_account(db, 'root', password='changeme', role='admin')")
    assert SECRET_LITERAL.search('{"password": "s3cret-pass"}')
    assert not SECRET_LITERAL.search('password = getpass.getpass("new password: ")')
    assert not SECRET_LITERAL.search('if password == "":')
