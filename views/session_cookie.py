"""The login cookie's two HTTP routes (served next to the dashboard by ``app.py``) and the clock.

A Streamlit run talks to the browser over its websocket only, so it cannot set a cookie, let alone
an HttpOnly one; Streamlit 1.67's ``st.App`` takes extra Starlette routes instead (``app.py``).

* ``POST …/api/session/claim`` with a new session's one-time ticket as the body (posted by the page
  right after the login, :func:`views.session.cookie_scripts`) sets the session token as a cookie:
  ``HttpOnly`` (no script reads it), ``SameSite=Strict``, ``Path`` the app's, ``Max-Age`` the
  session's absolute lifetime, and ``Secure`` when the request came over HTTPS (directly or through
  the reverse proxy, ``X-Forwarded-Proto``).
* ``POST …/api/session/end`` ends the cookie's session on the server and clears the cookie.

Both refuse requests without the page's custom header or from another site (``Sec-Fetch-Site``),
and neither is ever cached.

``app.py`` imports this module before Streamlit's runtime exists, so it stays light: nothing here
may import a page or a map (a custom component declared outside a script run is never served).
:func:`now` is here for that reason too: it is the dashboard's one clock (see :mod:`views.session`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from records import sessions
from records.db import parse_time
from records.store import open_store

NOW_ENV = "XUNHU_NOW"
#: The cookie holding the session token (HttpOnly, SameSite=Strict).
COOKIE_NAME = "xunhu_session"
#: Header the page's requests to the cookie routes carry: a cross-site page cannot send it without
#: a CORS preflight, which the server does not answer.
ROUTE_HEADER = "X-XunHu-Session"
NO_STORE = {"Cache-Control": "no-store"}


def now() -> datetime:
    """The current time (timezone-aware): ``$XUNHU_NOW`` when set, else the real UTC time.

    Raises RecordsError naming the variable when ``$XUNHU_NOW`` is not an ISO time.
    """
    text = os.environ.get(NOW_ENV)
    return parse_time(text, NOW_ENV) if text else datetime.now(UTC)


def app_path() -> str:
    """The app's URL path: ``/``, or ``/PREFIX/`` under ``server.baseUrlPath``."""
    prefix = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}/" if prefix else "/"


def api_path(name: str) -> str:
    """URL path of the cookie route ``name`` (``claim`` or ``end``)."""
    return f"{app_path()}api/session/{name}"


def _allowed(request: Request) -> bool:
    """Whether the request comes from the app's own page (see the module docstring)."""
    site = request.headers.get("sec-fetch-site")
    return request.headers.get(ROUTE_HEADER) == "1" and site in (None, "same-origin")


def _cookie_options(request: Request) -> dict:
    """Attributes of the session cookie for this request."""
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return {"path": app_path(), "httponly": True, "samesite": "strict", "secure": https}


def _claim_token(ticket: str) -> str | None:
    with open_store() as store:
        return sessions.claim(store, ticket, now())


def _end_token(token: str) -> None:
    with open_store() as store:
        sessions.end_token(store, token, now())


async def claim(request: Request) -> Response:
    """Exchange the ticket in the body for the session cookie (403 for anything else)."""
    if not _allowed(request):
        return Response(status_code=403, headers=NO_STORE)
    ticket = (await request.body()).decode("ascii", "replace").strip()
    token = await run_in_threadpool(_claim_token, ticket) if ticket else None
    if token is None:
        return Response(status_code=403, headers=NO_STORE)
    response = Response(status_code=204, headers=NO_STORE)
    max_age = int(sessions.MAX_AGE.total_seconds())
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, **_cookie_options(request))
    return response


async def end(request: Request) -> Response:
    """End the cookie's session (if any) and clear the cookie."""
    if not _allowed(request):
        return Response(status_code=403, headers=NO_STORE)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await run_in_threadpool(_end_token, token)
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(COOKIE_NAME, **_cookie_options(request))
    return response


def session_routes() -> list[Route]:
    """The claim and end routes, under the app's ``server.baseUrlPath``."""
    return [
        Route(api_path("claim"), claim, methods=["POST"]),
        Route(api_path("end"), end, methods=["POST"]),
    ]
