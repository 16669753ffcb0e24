"""Browser benchmark of the dashboard: login -> map and menu -> Coverage, as a manager sees them.

    .venv/bin/python bench/bench_browser.py [--runs 5]

Starts ``streamlit run app.py`` on a fresh copy of the demo records (the SIMULATED snapshot
plus one account per role, as the browser tests make them) and drives Debian's headless Chromium:

* **first visit**: the first login after the server started (nothing cached yet), then the first
  menu click on Coverage;
* **later visits**: ``--runs`` more logins, each in a new browser context (a new Streamlit session),
  each followed by a menu click on Coverage.

Timed from the click on the login button to the map's Leaflet container being visible in its
iframe, and from the click on the menu entry to the Coverage page's region table being visible.
Prints each run and the medians; the goal is 3 s for later visits.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import LOGIN_LABELS  # noqa: E402
from dashboard_fixtures import DEMO_NOW, make_demo_db  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tools.dashboard_server import start_dashboard, stop_dashboard  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 120_000
COVERAGE_MENU = "覆盖情况"


def login_to_map_s(page: Page, url: str, username: str, password: str) -> float:
    """Seconds from the login click to a visible Leaflet map."""
    page.goto(url)
    page.get_by_label(LOGIN_LABELS["username"]).fill(username)
    page.get_by_label(LOGIN_LABELS["password"]).fill(password)
    started = time.perf_counter()
    page.get_by_role("button", name=LOGIN_LABELS["submit"]).click()
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
    expect(frame.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    return time.perf_counter() - started


def menu_to_coverage_s(page: Page) -> float:
    """Seconds from the menu click on Coverage to its visible region table."""
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=COVERAGE_MENU).click()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=WAIT_MS)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="later visits to time (default 5)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="xunhu-bench-browser-"))
    accounts = make_demo_db(folder / "records.sqlite")
    username, password = accounts["manager"]
    env = {"XUNHU_DB": str(folder / "records.sqlite"), "XUNHU_NOW": DEMO_NOW}
    server, url = start_dashboard(env, folder / "server.log", timeout_s=120)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            rows = []
            for run in range(args.runs + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                login = login_to_map_s(page, url, username, password)
                coverage = menu_to_coverage_s(page)
                context.close()
                label = "first visit" if run == 0 else f"visit {run}"
                rows.append((login, coverage))
                print(
                    f"{label:<12} login -> map {login:5.2f} s   menu -> Coverage {coverage:5.2f} s",
                    flush=True,
                )
            browser.close()
    finally:
        stop_dashboard(server)
        shutil.rmtree(folder, ignore_errors=True)
    later = rows[1:]
    print(
        f"median of {len(later)} later visits: login -> map {statistics.median(r[0] for r in later):.2f} s, "
        f"menu -> Coverage {statistics.median(r[1] for r in later):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
