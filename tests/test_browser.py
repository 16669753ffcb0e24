"""The dashboard in a real headless Chromium: the offline map renders and nothing leaves loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from layers.schema import LAYERS
from views.target_layers import APPROXIMATE_NOTE, PROTECTED_STYLE
from views.vocabulary import text

#: The layer names the page shows in English (the session language of these tests).
LAYER_NAMES = {layer: text("layer", layer, "en") for layer in LAYERS}

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
HOSTLESS_SCHEMES = {"data", "blob", "about"}
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-results"
MAP_IFRAME = (
    'iframe[title="streamlit_folium.st_folium"]:not([height="0"])'  # not a page's leftover, folded one
)
CIRCLE_MARKER = '.leaflet-overlay-pane path[stroke="#333333"]'  # pollution sources, unclustered
WAIT_MS = 45_000  # the first session imports geopandas and prepares the basemap on 2 shared cores


def _external(urls: list[str]) -> list[str]:
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in HOSTLESS_SCHEMES and urlsplit(url).hostname not in LOCAL_HOSTS
    ]


def _open_map(page: Page, log_in: Callable[..., None]) -> FrameLocator:
    log_in(page, "manager", lang="en")
    iframe = page.locator(MAP_IFRAME)
    expect(iframe).to_have_count(1, timeout=WAIT_MS)  # a stale map of the run before is gone
    expect(iframe).to_be_visible(timeout=WAIT_MS)
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    expect(frame.locator(".marker-cluster").first).to_be_visible(timeout=WAIT_MS)
    return frame


def _wait_until(page: Page, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (Python side: it may query several frames) until true; fail after WAIT_MS."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "condition still false after the wait"
        page.wait_for_timeout(200)


def _metric(page: Page, label: str) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return int(metric.get_by_test_id("stMetricValue").inner_text().replace(",", ""))


def test_offline_map_renders_basemap_and_targets_without_leaving_loopback(page: Page, log_in):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    frame = _open_map(page, log_in)

    # A map whose scripts failed keeps its iframe at height 0: the classic silent offline failure.
    assert float(page.locator(MAP_IFRAME).get_attribute("height") or 0) > 0
    overlays = frame.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for name in [
        *LAYER_NAMES.values(),
        "Counties",
        "Main roads",
        "OpenStreetMap tiles (online)",
    ]:
        assert any(name in label for label in overlays), (name, overlays)
    assert frame.locator(".marker-cluster").count() >= 3
    # Basemap and target polygons/lines are SVG paths; the counties alone are over 100.
    assert frame.locator(".leaflet-overlay-pane path").count() > 150
    assert frame.locator(".leaflet-overlay-pane path.leaflet-interactive").count() > 100
    # The online tile layer is offered but off: no tile images at all.
    assert frame.locator("img.leaflet-tile").count() == 0
    expect(frame.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap contributors")
    expect(frame.locator(".xunhu-legend").filter(has_text="APPROXIMATE boundary")).to_be_visible()
    expect(page.get_by_text("SIMULATED", exact=False).first).to_be_visible()

    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / "dashboard_map.png")

    # Hovering a protected area (green dashed outline) shows its tooltip with the warning.
    area = frame.locator(f'.leaflet-overlay-pane path[stroke="{PROTECTED_STYLE["color"]}"]').first
    area.hover(force=True)
    tooltip = frame.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text(APPROXIMATE_NOTE)
    expect(tooltip).to_contain_text("PA-")
    assert requests, "no requests recorded"
    assert _external(requests) == []


def test_prefecture_filter_redraws_map_with_fewer_targets(page: Page, log_in):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    _open_map(page, log_in)
    total = _metric(page, "Targets shown")

    page.get_by_test_id("stSidebar").get_by_role("combobox").nth(1).click()
    page.get_by_role("option", name="乌鲁木齐市 Urumqi").click()
    expect(page.get_by_test_id("stMetric").filter(has_text="Targets shown")).not_to_contain_text(
        str(total), timeout=WAIT_MS
    )
    shown = _metric(page, "Targets shown")
    assert 0 < shown < total

    # The basemap stays; only the target feature groups are swapped, a moment after the rerun.
    sources = _metric(page, LAYER_NAMES["pollution_source"])
    clusters = page.frame_locator(MAP_IFRAME).locator(".marker-cluster")
    _wait_until(page, lambda: sum(int(text) for text in clusters.all_inner_texts()) == sources)

    # Zoomed in past the clustering limit, each source is a circle marker with its own tooltip.
    (map_frame,) = [frame for frame in page.frames if "st_folium" in frame.url]
    # The view has moved in to the prefecture (Leaflet ignores setView while a zoom animates).
    _wait_until(page, lambda: map_frame.evaluate("!map_div._animatingZoom && map_div.getZoom() > 7"))
    # void: returning the Map object would make Playwright serialise the whole layer graph.
    map_frame.evaluate("void map_div.setView([43.83, 87.60], 12)")
    markers = page.frame_locator(MAP_IFRAME).locator(CIRCLE_MARKER)
    expect(markers.first).to_be_attached(timeout=WAIT_MS)
    # One round trip for all boxes (in iframe coordinates), not one per marker.
    # Only markers nothing covers (the target legend sits top left on a tall map's markers).
    boxes = map_frame.evaluate(
        "(selector) => Array.from(document.querySelectorAll(selector), (element) => {"
        " const r = element.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, element]; })"
        ".filter(([x, y, element]) => document.elementFromPoint(x, y) === element).map(([x, y]) => [x, y])",
        CIRCLE_MARKER,
    )
    map_box = page.locator(MAP_IFRAME).bounding_box()
    # Away from the zoom buttons (top left), the legends (bottom left) and the layer list (right).
    inside = [(x, y) for x, y in boxes if 80 < x < map_box["width"] / 2 and 80 < y < map_box["height"] - 250]
    assert inside, "no circle marker in the open part of the map"
    page.mouse.move(map_box["x"] + inside[0][0], map_box["y"] + inside[0][1])
    tooltip = page.frame_locator(MAP_IFRAME).locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text("PS-")
    # Categories read in the page language (English here).
    assert {"key", "special", "ordinary"} & set(tooltip.inner_text().split())
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / "dashboard_urumqi.png")
    assert _external(requests) == []
