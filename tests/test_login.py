"""Login in the dashboard shell (AppTest): failures, lockout, session expiry, refusals, audit."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from dashboard_fixtures import DEMO_NOW
from streamlit.testing.v1 import AppTest

from records.access import NOT_AVAILABLE
from records.accounts import (
    GLOBAL_FAILURE_LIMIT,
    LOGIN_FAILED,
    LOGIN_THROTTLED,
    MAX_FAILED_ATTEMPTS,
    AuthError,
    authenticate,
    get_account,
)
from records.sessions import IDLE_TIMEOUT
from records.store import open_store
from views.session import client_source

pytestmark = pytest.mark.records

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shell(lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "dashboard.py"), default_timeout=60)
    at.session_state["lang"] = lang
    return at.run()


def _submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def _logged_in(at: AppTest) -> bool:
    return any(button.key == "logout" for button in at.button)


def _audit(path: Path, action: str) -> list[sqlite3.Row]:
    with open_store(path) as store:
        return list(store.audit_log(action=action).itertuples())


def test_login_page_explains_itself_and_hides_every_page(demo_records):
    at = _shell()
    assert not at.exception
    assert at.title[0].value == "XunHu 巡护"
    assert (
        at.text_input(key="login_password").proto.type == at.text_input(key="login_password").proto.PASSWORD
    )
    # Accounts exist in the demo DB: no first-start help, and no page content before login.
    assert not any("create-admin" in info.value for info in at.info)
    assert not at.get("component_instance")
    assert any("SIMULATED" in caption.value for caption in at.main.caption)


@pytest.mark.sqlite_only  # the SIMULATED demo snapshot is a SQLite file; a server starts empty
def test_fresh_database_tells_how_to_create_the_first_admin(tmp_path, monkeypatch, new_db):
    monkeypatch.setenv("XUNHU_DB", str(new_db("fresh")))
    monkeypatch.setenv("XUNHU_NOW", DEMO_NOW)
    at = _shell()
    assert not at.exception
    help_text = " ".join(info.value for info in at.info)
    assert "python -m records create-admin --username" in help_text
    assert "python -m records demo-accounts" in help_text
    # First start installed the simulated history from the shipped snapshot.
    with open_store(new_db("fresh")) as store:
        assert len(store.plans()) > 0 and store.visits()["simulated"].all()


def test_wrong_password_and_unknown_user_get_the_same_message(demo_records):
    path, accounts = demo_records
    username, password = accounts["officer"]
    at = _submit(_shell(), username, password + "x")
    assert [error.value for error in at.error] == [LOGIN_FAILED]
    at = _submit(at, "nobody-here", password)
    assert [error.value for error in at.error] == [LOGIN_FAILED]
    assert not _logged_in(at)
    reasons = [row.details["reason"] for row in _audit(path, "auth.failure")]
    assert reasons == ["wrong_password", "unknown_user"]


def test_login_failure_is_told_in_the_interface_language(demo_records):
    _, accounts = demo_records
    username, password = accounts["officer"]
    at = _submit(_shell(lang="zh"), username, password + "x")
    (error,) = at.error
    assert error.value.startswith("登录失败") and f"{MAX_FAILED_ATTEMPTS} 次" in error.value


def test_lockout_after_five_failures_refuses_even_the_right_password(demo_records):
    path, accounts = demo_records
    username, password = accounts["chief"]
    at = _shell()
    for _ in range(MAX_FAILED_ATTEMPTS):
        at = _submit(at, username, "wrong-password-123")
    at = _submit(at, username, password)
    assert [error.value for error in at.error] == [LOGIN_FAILED]
    assert "locked" in LOGIN_FAILED
    with open_store(path) as store:
        assert get_account(store, username).locked(datetime.fromisoformat(DEMO_NOW))
    assert len(_audit(path, "auth.lockout")) == 1
    assert _audit(path, "auth.failure")[-1].details["reason"] == "locked"


def test_a_throttled_login_says_so_and_is_not_checked(demo_records):
    path, accounts = demo_records
    username, password = accounts["officer"]
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with open_store(path) as store:
        for guess in range(GLOBAL_FAILURE_LIMIT):  # a spray of unknown names, on the dashboard's clock
            with pytest.raises(AuthError):
                authenticate(store, f"nobody{guess}", "guess", datetime.fromisoformat(DEMO_NOW), hasher=cheap)
    at = _submit(_shell(lang="zh"), username, password)
    (error,) = at.error
    assert error.value == "最近 15 分钟内登录失败次数过多，登录已暂停，请稍后再试。"
    at = _submit(_shell(lang="en"), username, password)
    assert [error.value for error in at.error] == [LOGIN_THROTTLED]
    assert not _logged_in(at)
    refused = _audit(path, "auth.failure")[-2:]
    assert [(row.actor, row.details["reason"]) for row in refused] == [(username, "throttled")] * 2
    assert len(_audit(path, "auth.throttle")) == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "source"),
    [
        (None, "", None),  # Streamlit gives no address for a local peer
        (None, "10.9.9.9, 198.51.100.2", "198.51.100.2"),  # the hop the local proxy appended
        ("203.0.113.7", "", "203.0.113.7"),
        ("203.0.113.7", "198.51.100.2", "203.0.113.7"),  # a remote peer's header is not trusted
    ],
)
def test_the_login_source_is_the_client_address(monkeypatch, peer, forwarded, source):
    context = type(st.context)
    monkeypatch.setattr(context, "ip_address", property(lambda self: peer))
    monkeypatch.setattr(context, "headers", property(lambda self: {"X-Forwarded-For": forwarded}))
    assert client_source() == source


def test_login_shows_the_role_menu_and_session_expiry_sends_back_to_login(demo_records, monkeypatch):
    path, accounts = demo_records
    username, password = accounts["officer"]
    at = _submit(_shell(), username, password)
    assert not at.exception and not at.error
    assert _logged_in(at)
    assert [header.value for header in at.header] == ["My sites"], "the officer lands on My sites"

    later = datetime.fromisoformat(DEMO_NOW) + IDLE_TIMEOUT + timedelta(minutes=1)
    monkeypatch.setenv("XUNHU_NOW", later.isoformat())
    at.run()
    assert "expired" in " ".join(warning.value for warning in at.warning)
    assert at.text_input(key="login_password")
    assert not _logged_in(at)
    assert len(_audit(path, "auth.session_expired")) == 1


def test_logout_is_audited_and_returns_to_login(demo_records):
    path, accounts = demo_records
    at = _submit(_shell(), *accounts["manager"])
    at.button(key="logout").click().run()
    assert at.text_input(key="login_password")
    assert [row.actor for row in _audit(path, "auth.logout")] == [accounts["manager"][0]]


def _page(account, params: dict[str, str]) -> AppTest:
    def app():
        from views.pages import my_sites

        my_sites.render()

    at = AppTest.from_function(app, default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["account"] = account
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def _plan_ids(path: Path) -> dict[str, int]:
    """The newest plan of the Urumqi and of the Ili scenario."""
    with open_store(path) as store:
        plans = store.plans()
    newest = {}
    for scenario in ("Urumqi", "Ili"):
        rows = plans[plans["plan_key"].str.startswith(scenario)]
        newest[scenario] = int(rows.sort_values("plan_key")["plan_id"].iloc[-1])
    return newest


@pytest.mark.parametrize(
    ("scenario", "team", "audited_object"),
    [("Urumqi", "T2", "team:T2"), ("Ili", None, "plan:{plan}")],
    ids=["own-plan-other-team", "plan-of-other-detachment"],
)
def test_officer_cannot_open_another_teams_plan_by_link(demo_records, scenario, team, audited_object):
    path, accounts = demo_records
    with open_store(path) as store:
        officer = get_account(store, accounts["officer"][0])
    plan = _plan_ids(path)[scenario]
    params = {"plan": str(plan), "day": "2026-11-17"} | ({"team": team} if team else {})
    at = _page(officer, params)
    assert not at.exception
    assert [error.value for error in at.error] == [NOT_AVAILABLE]
    assert not at.expander, "no stop of anybody is shown"
    denied = _audit(path, "access.denied")
    assert [(row.actor, row.object) for row in denied] == [
        (officer.username, audited_object.format(plan=plan))
    ]


def test_officer_sees_own_team_of_the_linked_plan(demo_records):
    path, accounts = demo_records
    with open_store(path) as store:
        officer = get_account(store, accounts["officer"][0])
    plan = _plan_ids(path)["Urumqi"]
    at = _page(officer, {"plan": str(plan), "team": "T1", "day": "2026-11-17"})
    assert not at.exception and not at.error
    assert not _audit(path, "access.denied")
