"""The offline maps in a real browser: town names by zoom, the folded attribution, a taller map on a
wide screen, and on a phone a map whose layer list and legends start folded."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from views.basemap import CITY_ZOOM, SEAT_ZOOM, TOWN_ZOOM

pytestmark = pytest.mark.browser

WAIT_MS = 45_000
MAP = 'iframe[title="streamlit_folium.st_folium"]'
PHONE = {"width": 390, "height": 844}
#: The Map page asks for a 640 px map; a 1400 x 1300 window gives it more.
MAP_PAGE_HEIGHT_PX = 640


def _map_frame(page: Page) -> Frame:
    expect(page.frame_locator(MAP).last.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    (frame,) = [frame for frame in page.frames if "st_folium" in frame.url]
    return frame


def _zoom(page: Page, frame: Frame, zoom: float) -> None:
    """Zoom the map in on Ürümqi, without animation (once st_folium's own move has finished:
    Leaflet ignores a setView while a zoom animates)."""
    for _ in range(WAIT_MS // 250):
        frame.evaluate(
            f"void (map_div._animatingZoom || map_div.setView([43.80, 87.60], {zoom}, {{animate: false}}))"
        )
        if frame.evaluate("map_div.getZoom()") == zoom:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the map did not zoom to {zoom}")


def _shown_labels(frame: Frame, tier: int) -> int:
    """Visible town names of one zoom tier (a hidden one would cover a bigger place's name)."""
    return frame.locator(f".xunhu-place-z{tier}").evaluate_all(
        "labels => labels.filter(l => l.style.visibility !== 'hidden').length"
    )


def test_wide_map_is_taller_with_town_names_by_zoom_and_a_folded_attribution(page: Page, log_in):
    log_in(page, "manager")
    frame = _map_frame(page)
    height = page.locator(MAP).bounding_box()["height"]
    assert height > MAP_PAGE_HEIGHT_PX + 200, height

    # Whole province: city names only.
    expect(frame.locator(f".xunhu-place-z{CITY_ZOOM}").first).to_be_visible(timeout=WAIT_MS)
    assert _shown_labels(frame, CITY_ZOOM) >= 10
    assert frame.locator(f".xunhu-place-z{SEAT_ZOOM}, .xunhu-place-z{TOWN_ZOOM}").count() == 0
    expect(frame.locator(".xunhu-place", has_text="乌鲁木齐市")).to_be_visible()
    # A county view: every town, none covering another.
    _zoom(page, frame, TOWN_ZOOM)
    expect(frame.locator(f".xunhu-place-z{TOWN_ZOOM}").first).to_be_attached(timeout=WAIT_MS)
    assert _shown_labels(frame, TOWN_ZOOM) >= 5
    boxes = frame.locator(".xunhu-place").evaluate_all(
        """labels => labels.filter(l => l.style.visibility !== 'hidden').map(l => {
            const r = l.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""
    )
    view = frame.evaluate("[innerWidth, innerHeight]")
    inside = [b for b in boxes if b[2] > 0 and b[3] > 0 and b[0] < view[0] and b[1] < view[1]]
    assert not [
        (a, b)
        for i, a in enumerate(inside)
        for b in inside[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]

    # The attribution is a small "ⓘ 数据来源" button wholly inside the map; a click opens the text.
    attribution = frame.locator(".leaflet-control-attribution")
    expect(attribution).to_have_attribute("data-label", "数据来源")
    expect(attribution).to_have_attribute("aria-expanded", "false")
    sizes = attribution.evaluate("e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().right]")
    assert sizes[0] <= sizes[1] + 1 and sizes[2] <= view[0], sizes
    assert attribution.bounding_box()["width"] < 120
    attribution.click()
    expect(attribution).to_have_attribute("aria-expanded", "true")
    assert 300 < attribution.bounding_box()["width"] < 0.7 * view[0]
    expect(attribution).to_contain_text("OpenStreetMap contributors")
    # The scale sits wholly inside the map.
    scale = frame.locator(".leaflet-control-scale").evaluate("e => e.getBoundingClientRect().bottom")
    assert scale <= view[1]
    # The layer list is open on a wide map.
    expect(frame.locator(".leaflet-control-layers-expanded")).to_be_visible()


def test_phone_map_starts_with_layer_list_and_legends_folded(browser: Browser, log_in):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    try:
        page = context.new_page()
        log_in(page, "manager")
        frame = _map_frame(page)
        page.wait_for_timeout(1000)
        assert frame.locator(".leaflet-control-layers-expanded").count() == 0
        expect(frame.locator(".leaflet-control-layers-toggle")).to_be_visible()
        assert frame.locator(".xunhu-legend details[open]").count() == 0
        attribution = frame.locator(".leaflet-control-attribution")
        expect(attribution).to_have_attribute("aria-expanded", "false")
        assert attribution.bounding_box()["width"] < 120
        # The zoom buttons stay free.
        expect(frame.locator(".leaflet-control-zoom-in")).to_be_visible()
    finally:
        context.close()
