"""The officer's phone (390 px, in Chinese, the default) in a real browser: landing on My sites, the
sidebar folding away after a menu choice, the day's map with its zoom buttons uncovered, navigation
links to the right place, a double tap on Save storing one visit, and a login that survives a reload
while a logout does not."""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import wait_until_idle
from dashboard_fixtures import DEMO_NOW
from playwright.sync_api import Browser, Page, expect

from layers.datasets import load_targets
from layers.gcj02 import wgs84_to_bd09, wgs84_to_gcj02
from records.store import open_store
from views.pages.my_sites import T
from views.route_layers import team_style

pytestmark = pytest.mark.browser

WAIT_MS = 45_000
PHONE = {"width": 390, "height": 844}
DAY = date.fromisoformat(DEMO_NOW[:10])
LOGIN_PASSWORD_LABEL = "密码"
#: Where screenshots go (as in test_browser_roles: $XUNHU_SCREENSHOT_DIR, else test-results/).
SCREENSHOT_DIR = Path(
    os.environ.get("XUNHU_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results"
)
#: Metres per degree of latitude (and of longitude at the equator) on a sphere of the Earth's radius.
METRES_PER_DEGREE = 6_371_000 * math.pi / 180


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page in a fresh phone-sized browser context (its own cookies)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


def _on_my_sites(page: Page) -> None:
    expect(page.get_by_role("heading", name=T("my_sites.title"))).to_be_visible(timeout=WAIT_MS)


def _first_stop(db: Path) -> dict:
    """The officer's (team T1's) first stop of the demo day, as stored."""
    with open_store(db) as store:
        stops = store.assignments("T1", DAY.isoformat())
    return stops.sort_values("arrive").iloc[0].to_dict()


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (lon, lat) points a few metres apart (equirectangular)."""
    east = (a[0] - b[0]) * math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot(east, a[1] - b[1]) * METRES_PER_DEGREE


def test_officer_lands_on_my_sites_with_the_days_map_and_links(phone: Page, log_in, demo_db):
    db, _ = demo_db
    log_in(phone, "officer")
    _on_my_sites(phone)
    assert urlparse(phone.url).path == "/", "the officer's landing page is the app's address"

    # The day's map: its zoom buttons are on screen and nothing covers them.
    frame = phone.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
    zoom_in = frame.locator(".leaflet-control-zoom-in")
    expect(zoom_in).to_be_visible(timeout=WAIT_MS)
    for button in (zoom_in, frame.locator(".leaflet-control-zoom-out")):
        uncovered = button.evaluate(
            "e => { const r = e.getBoundingClientRect();"
            " return e.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"
        )
        assert uncovered
    box = phone.locator('iframe[title="streamlit_folium.st_folium"]').first.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # The day's numbered stops and the road between them are drawn.
    expect(frame.locator(".xunhu-stop").first).to_be_visible(timeout=WAIT_MS)
    expect(frame.locator(f"path.leaflet-interactive[stroke='{team_style(0)[0]}']").first).to_be_attached()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    phone.screenshot(path=SCREENSHOT_DIR / "officer_my_sites_390.png")

    # The first card's links lead to the site: geo: in WGS-84, Amap in GCJ-02, Baidu in BD-09.
    stop = _first_stop(db)
    site = load_targets().set_index("site_id").loc[stop["site_id"]]
    wgs = (float(site.geometry.x), float(site.geometry.y))
    amap = phone.locator('a[href^="https://uri.amap.com/navigation"]').first
    expect(amap).to_be_visible(timeout=WAIT_MS)
    lon, lat, name = parse_qs(urlparse(amap.get_attribute("href")).query)["to"][0].split(",", 2)
    assert _metres((float(lon), float(lat)), tuple(map(float, wgs84_to_gcj02(*wgs)))) < 1.0
    assert name == stop["name"]
    geo = phone.locator('a[href^="geo:"]').first.get_attribute("href")
    geo_lat, geo_lon = geo.removeprefix("geo:").split("?")[0].split(",")
    assert _metres((float(geo_lon), float(geo_lat)), wgs) < 1.0
    baidu = phone.locator('a[href^="https://api.map.baidu.com/direction"]').first.get_attribute("href")
    destination = parse_qs(urlparse(baidu).query)["destination"][0]
    bd_lat, bd_lon = destination.removeprefix("latlng:").split("|")[0].split(",")
    assert _metres((float(bd_lon), float(bd_lat)), tuple(map(float, wgs84_to_bd09(*wgs)))) < 1.0
    expect(phone.get_by_text(f"{wgs[1]:.5f}, {wgs[0]:.5f}")).to_be_visible()


def test_the_sidebar_folds_away_after_a_menu_choice(phone: Page, log_in):
    log_in(phone, "officer")
    _on_my_sites(phone)
    sidebar = phone.get_by_test_id("stSidebar")
    phone.get_by_test_id("stExpandSidebarButton").click()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    sidebar.get_by_test_id("stSidebarNav").get_by_role("link", name="地图").click()
    expect(phone).to_have_url(re.compile(r"/map$"), timeout=WAIT_MS)
    expect(sidebar).to_have_attribute("data-collapsed", "true", timeout=WAIT_MS)


def test_a_double_tap_on_save_stores_one_visit(phone: Page, log_in, demo_db):
    db, _ = demo_db
    notes = "browser test: double tap on Save"
    log_in(phone, "officer", "my-sites")
    _on_my_sites(phone)
    phone.get_by_text(T("my_sites.record")).first.click()
    form = phone.get_by_test_id("stForm").first
    form.get_by_text(T("my_sites.outcome.compliant"), exact=True).click()
    form.get_by_label(T("my_sites.notes")).fill(notes)
    save = form.get_by_role("button", name=T("my_sites.save"))
    wait_until_idle(phone)
    save.dblclick()
    expect(
        phone.get_by_text(T("my_sites.saved", id="")[:3]).or_(phone.get_by_text("已经记录过"))
    ).to_be_visible(timeout=WAIT_MS)
    save.click()  # and once more, after the page answered
    expect(phone.get_by_text("这次检查已经记录过")).to_be_visible(timeout=WAIT_MS)
    expect(phone.get_by_test_id("stAlertContentError")).to_have_count(0)
    with open_store(db) as store:
        stored = store.conn.execute("SELECT count(*) FROM visits WHERE notes = ?", (notes,)).fetchone()[0]
    assert stored == 1


def _session_cookie(page: Page) -> dict:
    """The login cookie, once the page has exchanged its ticket for it (a request after the page
    shows, so it may land a moment later)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = [c for c in page.context.cookies() if c["name"] == "xunhu_session"]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the session cookie was never set")


def test_a_reload_keeps_the_login_and_a_logout_does_not_survive_it(phone: Page, log_in, demo_db):
    db, accounts = demo_db
    log_in(phone, "officer")
    _on_my_sites(phone)
    cookie = _session_cookie(phone)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert phone.evaluate("document.cookie").find("xunhu_session") == -1, "no script can read it"

    phone.reload()
    _on_my_sites(phone)
    expect(phone.get_by_label(LOGIN_PASSWORD_LABEL)).to_have_count(0)

    phone.get_by_test_id("stExpandSidebarButton").click()
    phone.get_by_role("button", name="退出登录").click()
    expect(phone.get_by_label(LOGIN_PASSWORD_LABEL)).to_be_visible(timeout=WAIT_MS)
    phone.reload()
    expect(phone.get_by_label(LOGIN_PASSWORD_LABEL)).to_be_visible(timeout=WAIT_MS)
    expect(phone.get_by_role("heading", name=T("my_sites.title"))).to_have_count(0)
    with open_store(db) as store:
        ended = store.conn.execute(
            "SELECT s.end_reason FROM sessions s JOIN accounts a USING (account_id) "
            "WHERE a.username = ? ORDER BY s.session_id DESC LIMIT 1",
            (accounts["officer"][0],),
        ).fetchone()
    assert ended["end_reason"] == "logout", "the session ended on the server, not only in the browser"
