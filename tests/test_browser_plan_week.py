"""A chief plans a small week in a real browser and sees the routes on the map, fully offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-results"
WAIT_MS = 45_000
SOLVE_WAIT_MS = 90_000
SHIPPED = "urumqi_changji_shihezi_week"


def _outside(url: str) -> bool:
    return not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))


def test_chief_plans_a_small_week_and_sees_team_routes(page: Page, log_in):
    leaving: list[str] = []
    page.on("request", lambda request: leaving.append(request.url) if _outside(request.url) else None)
    log_in(page, "chief", "plan", lang="en")
    expect(page.get_by_role("heading", name="Plan the week")).to_be_visible(timeout=WAIT_MS)

    page.get_by_label("Start from").click()
    page.get_by_role("option", name=SHIPPED).click()
    expect(page.get_by_text(f"Loaded the shipped scenario {SHIPPED}.")).to_be_visible(timeout=WAIT_MS)
    days = page.get_by_label("Days")
    days.fill("2")
    days.press("Enter")
    expect(days).to_have_value("2")
    # A small reproducible search effort (the default takes about a minute). A value typed while
    # the rerun for the days is still running can be reset by it: type again until it holds.
    effort = page.get_by_role("spinbutton", name="Search effort", exact=True)
    for _ in range(5):
        effort.fill("5")
        effort.press("Enter")
        page.wait_for_timeout(1500)
        if effort.input_value() == "5":
            break
    expect(effort).to_have_value("5", timeout=WAIT_MS)

    # Before solving the page has no map: its only map is the plan's.
    expect(page.locator('iframe[title="streamlit_folium.st_folium"]')).to_have_count(0)
    page.get_by_role("button", name="Plan the week").click()
    expect(page.get_by_text("Checker: 0 violations.")).to_be_visible(timeout=SOLVE_WAIT_MS)

    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    overlays = frame.locator(".leaflet-control-layers-overlays label")
    expect(overlays.filter(has_text="Route T1")).to_be_visible(timeout=WAIT_MS)
    labels = [text.strip() for text in overlays.all_inner_texts()]
    assert {"Route T1", "Route T2", "Route T3"} <= set(labels)
    # The basemap draws its outlines as paths too: switching one team off removes its lines only.
    paths = frame.locator("path.leaflet-interactive")
    with_routes = paths.count()
    overlays.filter(has_text="Route T1").locator("input").uncheck()
    expect(paths).not_to_have_count(with_routes, timeout=WAIT_MS)
    assert paths.count() < with_routes
    overlays.filter(has_text="Route T1").locator("input").check()
    expect(paths).to_have_count(with_routes, timeout=WAIT_MS)
    # Numbered site stops, bed markers for the nights, and the route legend.
    expect(frame.locator(".xunhu-stop").first).to_be_visible(timeout=WAIT_MS)
    assert frame.locator(".fa-bed").count() >= 1
    expect(frame.locator(".xunhu-legend").filter(has_text="Patrol routes")).to_be_visible()
    expect(page.get_by_role("button", name="Save and approve")).to_be_enabled()

    page.get_by_role("heading", name="Route map").scroll_into_view_if_needed()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / "plan_week_routes.png")
    assert leaving == []
