"""Login sessions in the records database (records.sessions): the cookie's token is hashed at rest,
claimed once, expires when idle and when old, and dies with a logout, a disabled account or a new
password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from records_backends import REFUSED
from records_fixtures import dump as records_dump

from records import sessions
from records.accounts import create_account, disable_account, enable_account, set_password
from records.sessions import CLAIM_TIMEOUT, IDLE_TIMEOUT, MAX_AGE, SessionEnded
from records.store import open_store

pytestmark = pytest.mark.records

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path, new_db):
    with open_store(new_db("records")) as opened:
        yield opened


@pytest.fixture
def officer(store):
    return create_account(
        store, "li", PASSWORD, "officer", detachment="650100", team_id="T1", actor="root", hasher=FAST
    )


def _logged_in(store, account, at=T0) -> tuple[int, str]:
    """A session opened and claimed at ``at``: (session id, cookie token)."""
    opened = sessions.open_session(store, account, at, source="198.51.100.2")
    token = sessions.claim(store, opened.ticket, at + timedelta(seconds=1))
    assert token is not None
    return opened.session_id, token


def _reason(call) -> str:
    with pytest.raises(SessionEnded) as ended:
        call()
    return ended.value.reason


def test_the_token_resumes_the_session_and_only_its_hash_is_stored(store, officer):
    session_id, token = _logged_in(store, officer)
    resumed_id, account = sessions.resume_token(store, token, T0 + timedelta(hours=1))
    assert (resumed_id, account.username, account.team_id) == (session_id, "li", "T1")
    assert sessions.resume(store, session_id, T0 + timedelta(hours=2)).username == "li"
    stored = store.conn.execute("SELECT * FROM sessions").fetchone()
    assert stored["token_sha256"] == sessions.digest(token) and stored["ticket_sha256"] is None
    # Neither the token nor the ticket appears anywhere in the database file.
    dump = records_dump(store.path)
    assert token not in dump
    assert _reason(lambda: sessions.resume_token(store, "not-a-token", T0)) == "unknown"


def test_a_ticket_is_claimed_once_and_only_soon_after_the_login(store, officer):
    opened = sessions.open_session(store, officer, T0)
    late = sessions.open_session(store, officer, T0)
    assert sessions.awaiting_claim(store, opened.session_id, T0 + timedelta(seconds=5))
    assert sessions.claim(store, opened.ticket, T0 + timedelta(seconds=5)) is not None
    assert not sessions.awaiting_claim(store, opened.session_id, T0 + timedelta(seconds=6))
    assert not sessions.awaiting_claim(store, late.session_id, T0 + CLAIM_TIMEOUT + timedelta(seconds=1))
    assert sessions.claim(store, opened.ticket, T0 + timedelta(seconds=6)) is None, "a ticket works once"
    assert sessions.claim(store, late.ticket, T0 + CLAIM_TIMEOUT + timedelta(seconds=1)) is None
    assert sessions.claim(store, "made-up", T0) is None


def test_idle_and_absolute_expiry_end_the_session_and_are_audited(store, officer):
    session_id, token = _logged_in(store, officer)
    almost = T0 + IDLE_TIMEOUT - timedelta(minutes=1)
    assert sessions.resume(store, session_id, almost).username == "li"  # touched: idle restarts
    assert sessions.resume(store, session_id, almost + IDLE_TIMEOUT - timedelta(minutes=1))
    assert _reason(lambda: sessions.resume_token(store, token, almost + 2 * IDLE_TIMEOUT)) == "expired"
    # Once ended, a session stays ended, at any time.
    assert _reason(lambda: sessions.resume(store, session_id, T0)) == "expired"
    expired = store.audit_log(action="auth.session_expired")
    assert expired["actor"].tolist() == ["li"]

    busy_id, _ = _logged_in(store, officer)
    moment = T0
    while moment + IDLE_TIMEOUT / 2 < T0 + MAX_AGE:
        moment += IDLE_TIMEOUT / 2
        sessions.resume(store, busy_id, moment)
    assert _reason(lambda: sessions.resume(store, busy_id, T0 + MAX_AGE)) == "expired"


def test_logout_revokes_the_session_on_the_server(store, officer):
    session_id, token = _logged_in(store, officer)
    other_id, other_token = _logged_in(store, officer)
    sessions.end_session(store, session_id, T0 + timedelta(minutes=5))
    assert _reason(lambda: sessions.resume_token(store, token, T0 + timedelta(minutes=6))) == "logout"
    assert sessions.resume(store, other_id, T0 + timedelta(minutes=6)).username == "li", "only that one"
    sessions.end_token(store, other_token, T0 + timedelta(minutes=7))
    assert _reason(lambda: sessions.resume(store, other_id, T0 + timedelta(minutes=8))) == "logout"
    assert store.audit_log(action="auth.logout")["actor"].tolist() == ["li", "li"]
    with pytest.raises(REFUSED, match="cannot be resumed"):
        store.conn.execute("UPDATE sessions SET ended_at = NULL, end_reason = NULL")


def test_a_disabled_account_loses_its_sessions_for_good(store, officer):
    session_id, token = _logged_in(store, officer)
    disable_account(store, "li", actor="root")
    assert _reason(lambda: sessions.resume_token(store, token, T0 + timedelta(minutes=1))) == "disabled"
    enable_account(store, "li", actor="root")
    assert _reason(lambda: sessions.resume(store, session_id, T0 + timedelta(minutes=2))) == "disabled"
    assert store.audit_log(action="access.denied")["object"].tolist() == ["account:li"]


def test_a_new_password_ends_the_sessions_opened_before_it(store, officer):
    _, token = _logged_in(store, officer)
    set_password(store, "li", "another long password", actor="root", now=T0, hasher=FAST)
    assert _reason(lambda: sessions.resume_token(store, token, T0 + timedelta(minutes=1))) == "password"
    fresh_id, _ = _logged_in(store, officer, T0 + timedelta(minutes=2))
    assert sessions.resume(store, fresh_id, T0 + timedelta(minutes=3)).username == "li"


def _post(endpoint, headers: dict[str, str], body: bytes = b""):
    """Call a cookie route as the server would (an ASGI POST from the page, or from elsewhere)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/api/session/claim",
        "query_string": b"",
        "server": ("127.0.0.1", 8501),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    # Its own thread: after a browser test, Playwright's event loop still runs in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, endpoint(Request(scope, receive))).result()


@pytest.fixture
def cookie_routes(tmp_path, monkeypatch, new_db):
    """The cookie routes on a records DB with the officer, the dashboard clock at T0."""
    from views import session_cookie

    with open_store(new_db("routes")) as fresh:
        account = create_account(
            fresh, "li", PASSWORD, "officer", detachment="650100", team_id="T1", actor="root", hasher=FAST
        )
    monkeypatch.setenv("XUNHU_DB", str(new_db("routes")))
    monkeypatch.setenv("XUNHU_NOW", T0.isoformat())
    return session_cookie, account


def test_the_claim_route_sets_an_httponly_strict_cookie_once_and_only_for_the_page(
    cookie_routes, tmp_path, new_db
):
    routes, account = cookie_routes
    page = {routes.ROUTE_HEADER: "1", "Sec-Fetch-Site": "same-origin"}
    with open_store(new_db("routes")) as store:
        tickets = [sessions.open_session(store, account, T0).ticket for _ in range(3)]
    assert _post(routes.claim, {"Sec-Fetch-Site": "same-origin"}, tickets[0].encode()).status_code == 403
    assert (
        _post(routes.claim, page | {"Sec-Fetch-Site": "cross-site"}, tickets[0].encode()).status_code == 403
    )
    answer = _post(routes.claim, page, tickets[0].encode())
    assert answer.status_code == 204 and answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    assert (
        cookie.startswith(f"{routes.COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    )
    assert (
        f"Max-Age={int(MAX_AGE.total_seconds())}" in cookie and "Path=/" in cookie and "Secure" not in cookie
    )
    assert _post(routes.claim, page, tickets[0].encode()).status_code == 403, "a ticket works once"
    behind_https = _post(routes.claim, page | {"X-Forwarded-Proto": "https"}, tickets[1].encode())
    assert "Secure" in behind_https.headers["set-cookie"]

    token = cookie.split(";")[0].split("=", 1)[1]
    ended = _post(routes.end, page | {"Cookie": f"{routes.COOKIE_NAME}={token}"})
    assert ended.status_code == 204 and 'xunhu_session=""' in ended.headers["set-cookie"]
    with open_store(new_db("routes")) as store:
        assert _reason(lambda: sessions.resume_token(store, token, T0)) == "logout"
