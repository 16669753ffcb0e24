"""Shared pytest fixtures.

Browser tests (``@pytest.mark.browser``) drive Debian's Chromium (``/usr/bin/chromium``, never a
browser downloaded by ``playwright install``) through pytest-playwright against a real
``streamlit run app.py`` started on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dashboard_fixtures import DEMO_NOW, make_demo_db
from records_backends import backend, migrate_template, new_db  # noqa: F401  (new_db is a fixture)

from tools.dashboard_server import DashboardDidNotStart
from tools.dashboard_server import dashboard_server as serve_dashboard

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60
#: Browser waits: the first session imports geopandas and prepares the basemap on 2 shared cores.
BROWSER_WAIT_MS = 45_000
#: The login form's labels in the default language (Chinese; see dashboard.py).
LOGIN_LABELS = {"username": "用户名", "password": "密码", "submit": "登录", "logout": "退出登录"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--records-backend",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("XUNHU_TEST_BACKEND", "sqlite"),
        help="engine for the records tests' databases (postgresql: start it with scripts/services.sh)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if backend(config) == "postgresql":
        migrate_template()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, tests that open the SQLite file itself are skipped (their PostgreSQL
    counterparts run instead)."""
    if backend(config) != "postgresql":
        return
    skip = pytest.mark.skip(reason="opens the SQLite file itself; see its PostgreSQL counterpart")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


#: pytest's own ``__main__``, before any AppTest ran.
PYTEST_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _pytest_main_module() -> Iterator[None]:
    """Run each test with pytest's ``__main__``: AppTest (also in module-scoped fixtures) leaves its
    page script there, and a process started with ``spawn`` (the solver portfolios) would re-run
    that script and die."""
    sys.modules["__main__"] = PYTEST_MAIN
    yield
    sys.modules["__main__"] = PYTEST_MAIN


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch the system Chromium; skip locally without it, but fail in CI (CI must install it)."""
    if not Path(CHROMIUM).exists():
        message = "chromium not installed (apt-get install -y chromium)"
        if _in_ci():
            pytest.fail(f"{message}; CI is set, so browser tests must run")
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A tall viewport: Streamlit scrolls inside its own container, so screenshots show the viewport."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1300}}


@contextmanager
def dashboard_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free loopback port with ``env``; yield its URL."""
    try:
        with serve_dashboard(env, log_path, SERVER_START_TIMEOUT_S) as url:
            yield url
    except DashboardDidNotStart as problem:
        pytest.fail(str(problem))


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A records DB made by :func:`make_demo_db`, never opened by a server: copy it, don't write it."""
    path = tmp_path_factory.mktemp("records-template") / "records.sqlite"
    return path, make_demo_db(path)


@pytest.fixture
def demo_records(
    demo_db_template: tuple[Path, dict[str, tuple[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A fresh copy of the demo records DB for one test, with ``XUNHU_DB`` pointing to it and the
    dashboard clock (``XUNHU_NOW``) at :data:`DEMO_NOW`; returns (path, {role: (username, password)})."""
    template, accounts = demo_db_template
    path = tmp_path / "records.sqlite"
    shutil.copyfile(template, path)
    monkeypatch.setenv("XUNHU_DB", str(path))
    monkeypatch.setenv("XUNHU_NOW", DEMO_NOW)
    return path, accounts


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    """(path, {role: (username, password)}) of a records DB made by :func:`make_demo_db` for the
    session's dashboard server (tests read it to check what the browser stored)."""
    path = tmp_path_factory.mktemp("records") / "records.sqlite"
    return path, make_demo_db(path)


@pytest.fixture(scope="session")
def app_with_accounts(
    tmp_path_factory: pytest.TempPathFactory, demo_db: tuple[Path, dict[str, tuple[str, str]]]
) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """A dashboard server on the ``demo_db`` records DB (demo snapshot + one account per role).

    Yields (url, {role: (username, password)}) for the roles officer, chief, manager and admin.
    The server's clock is :data:`DEMO_NOW` (``XUNHU_NOW``), so releases are deterministic.
    """
    db_path, accounts = demo_db
    env = {"XUNHU_DB": str(db_path), "XUNHU_NOW": DEMO_NOW}
    with dashboard_server(env, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url, accounts


@pytest.fixture(scope="session")
def app_url(app_with_accounts: tuple[str, dict[str, tuple[str, str]]]) -> str:
    """URL of the session's dashboard server (log in with ``app_with_accounts``'s accounts)."""
    return app_with_accounts[0]


def wait_until_idle(page, timeout_ms: int = BROWSER_WAIT_MS) -> None:
    """Wait until the app in ``page`` runs no script: an input made during a run may be redrawn
    away, and a run's elements linger next to the previous ones until it ends. A run shows its
    running indicator only after a moment, hence the short pause first."""
    from playwright.sync_api import expect

    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=timeout_ms)


@pytest.fixture
def log_in(app_with_accounts: tuple[str, dict[str, tuple[str, str]]]) -> Callable[..., None]:
    """``log_in(page, role, path="", lang="zh")``: open ``path`` of the app in ``page``, log in as
    ``role`` and switch the interface to ``lang``."""
    url, accounts = app_with_accounts

    def go(page, role: str, path: str = "", lang: str = "zh") -> None:
        from playwright.sync_api import expect

        username, password = accounts[role]
        page.goto(url + path)
        page.get_by_label(LOGIN_LABELS["username"]).fill(username)
        page.get_by_label(LOGIN_LABELS["password"]).fill(password)
        page.get_by_role("button", name=LOGIN_LABELS["submit"]).click()
        expect(page.get_by_role("button", name=LOGIN_LABELS["logout"])).to_be_visible(timeout=BROWSER_WAIT_MS)
        if lang == "en":
            page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
            expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=BROWSER_WAIT_MS)
        # Let the run finish: until then the previous language's elements linger next to the new ones.
        wait_until_idle(page)

    return go
