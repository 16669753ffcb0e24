"""Road-closures page in a real browser: a chief clicks the closed place on the offline map, saves
the closure (stored and audited under the account), at laptop and phone width, in Chinese."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from records.closures import list_closures
from records.store import open_store
from views.pages.closures_page import T

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = Path(
    os.environ.get("XUNHU_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results"
)
WAIT_MS = 45_000
#: Outside a Streamlit session T gives the Chinese text (the default language), as the browser shows.
MAP = 'iframe[title="streamlit_folium.st_folium"]'


def _open(page: Page, log_in) -> None:
    log_in(page, "chief", "closures")
    expect(page.get_by_role("heading", name=T("closures.title"))).to_be_visible(timeout=WAIT_MS)
    frame = page.frame_locator(MAP)
    expect(frame.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)


def test_chief_adds_a_closure_by_clicking_the_map(page: Page, log_in, demo_db):
    db, _ = demo_db
    page.set_viewport_size({"width": 1400, "height": 1400})
    _open(page, log_in)
    frame = page.frame_locator(MAP)
    # Shipped closures are drawn as vector paths; a click on the map fills the form's place.
    expect(frame.locator("path.leaflet-interactive").first).to_be_attached(timeout=WAIT_MS)
    frame.locator(".leaflet-container").click(position={"x": 500, "y": 300})
    expect(page.get_by_text(T("closures.clicked", lon=0, lat=0)[:6])).to_be_visible(timeout=WAIT_MS)
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / "closures-1400-zh.png")
    form = page.get_by_test_id("stForm")
    form.get_by_label(T("closures.f.name")).fill("浏览器测试 封闭")
    form.get_by_role("button", name=T("closures.f.save")).click()
    expect(page.get_by_text("浏览器测试 封闭").first).to_be_visible(timeout=WAIT_MS)
    with open_store(db) as store:
        (stored,) = [c for c in list_closures(store) if c.name == "浏览器测试 封闭"]
        log = store.audit_log(f"closure:{stored.closure_id}")
    assert stored.created_by == "test-chief" and list(log["actor"]) == ["test-chief"]
    page.screenshot(path=SCREENSHOT_DIR / "closures-1400-zh-saved.png")


def test_closures_page_on_a_phone(browser: Browser, log_in):
    context = browser.new_context(viewport={"width": 390, "height": 1600})
    page = context.new_page()
    try:
        _open(page, log_in)
        expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=WAIT_MS)
        form = page.get_by_test_id("stForm")
        expect(form.get_by_role("button", name=T("closures.f.save"))).to_be_visible(timeout=WAIT_MS)
        box = form.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT_DIR / "closures-390-zh.png")
    finally:
        context.close()
