"""The Chinese interface in a real browser: no English code of the shared vocabularies on the
chief's and the manager's pages (Plan week with a solved plan, Coverage, Layers) and the officer's
My sites, in the page text and the map tooltips; screenshots of each page at 1400 px and at 390 px.

Tables are drawn on a canvas, out of reach of the page text: their cells are checked under AppTest
(tests/test_page_layers.py, tests/test_page_plan_week.py) and seen in the screenshots.

What counts as a code is :func:`views.vocabulary.all_codes` (kinds, categories, statuses, skills,
layers, outcomes, closure reasons) plus any ``snake_case`` word; names of things (site ids, team
ids, scenario file names, units and format names) are allowed.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest
from conftest import wait_until_idle
from playwright.sync_api import Page, expect

from layers.datasets import attribution
from views.vocabulary import all_codes

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = Path(
    os.environ.get("XUNHU_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results"
)
WAIT_MS = 45_000
SOLVE_WAIT_MS = 120_000
WIDE = {"width": 1400, "height": 1300}
PHONE = {"width": 390, "height": 844}
MAP = 'iframe[title="streamlit_folium.st_folium"]'
SHIPPED = "urumqi_changji_shihezi_week"
#: Words in ASCII that are names of things, not codes: shipped scenario files, formats, units.
ALLOWED = {SHIPPED, "H3", "CSV", "Excel", "GPX", "KML", "JSON", "YAML", "km", "HH", "MM"}
#: ... and the data credits, quoted as the licences ask (they name a package: scgraph_data).
ALLOWED |= set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", attribution()))
CODES = all_codes()

#: Every tooltip of the last map, as the user would read it when opening it: plain strings as they
#: are, GeoJSON tooltips built for each of their features (as a hover does).
_TOOLTIPS = """() => {
    const texts = [];
    const seen = new Set();
    function visit(layer) {
        if (seen.has(layer)) return;
        seen.add(layer);
        const tip = layer.getTooltip && layer.getTooltip();
        if (tip) {
            const content = tip.getContent();
            if (typeof content === "string") texts.push(content);
            else if (typeof content === "function" && layer.getLayers) {
                layer.getLayers().forEach((child) => {
                    let shown = null;
                    try { shown = content(child); } catch (error) { return; /* not a feature */ }
                    // folium's GeoJSON tooltips build an element, others return HTML.
                    texts.push(shown instanceof Element ? shown.outerHTML : String(shown));
                });
            }
        }
        if (layer.getLayers) layer.getLayers().forEach(visit);
    }
    map_div.eachLayer(visit);
    return texts;
}"""


def english_codes(text: str) -> set[str]:
    """The vocabulary codes and snake_case words in ``text`` that are not allowed names."""
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))
    return {w for w in words - ALLOWED if w in CODES or ("_" in w and not w.startswith("_"))}


def _plain(fragment: str) -> str:
    """HTML (a tooltip) as the text it shows."""
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _main_text(page: Page) -> str:
    """What the main area shows as text: widgets, chips, tables' visible cells and headers, without
    the names of Material icons (drawn from ligatures such as ``expand_more``)."""
    main = page.get_by_test_id("stMain")
    icons = set(main.get_by_test_id("stIconMaterial").all_inner_texts())
    text = main.inner_text()
    for icon in icons:
        text = text.replace(icon, " ")
    return text


def _map_tooltips(page: Page) -> str:
    """The text of every tooltip of every map on the page (waits for the maps to draw)."""
    maps = page.locator(MAP)
    texts = []
    for index in range(maps.count()):
        expect(page.frame_locator(MAP).nth(index).locator(".leaflet-container")).to_be_visible(
            timeout=WAIT_MS
        )
    for frame in [f for f in page.frames if "st_folium" in f.url]:
        texts += frame.evaluate(_TOOLTIPS)
    return "\n".join(_plain(text) for text in texts)


def _shots(page: Page, name: str) -> None:
    """Screenshots of the page at 1400 px and at 390 px (top of the page and at the first map)."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    for size, tag in ((WIDE, "1400"), (PHONE, "390")):
        page.set_viewport_size(size)
        page.wait_for_timeout(1500)
        page.get_by_test_id("stMain").evaluate("element => element.scrollTo(0, 0)")
        page.screenshot(path=SCREENSHOT_DIR / f"language_{name}_{tag}.png")
        if page.locator(MAP).count():
            page.locator(MAP).first.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            page.screenshot(path=SCREENSHOT_DIR / f"language_{name}_{tag}_map.png")
    page.set_viewport_size(WIDE)


def _chips_fit(page: Page) -> None:
    """Every chosen chip of every multiselect is wholly inside its box (they wrap, none cut off)."""
    tags = page.get_by_test_id("stMultiSelectTagsContainer").evaluate_all(
        """boxes => boxes.flatMap(box => {
            const outer = box.getBoundingClientRect();
            return [...box.querySelectorAll('[data-tag]')].map(tag => {
                const r = tag.getBoundingClientRect();
                return [tag.innerText, r.right <= outer.right + 1 && r.bottom <= outer.bottom + 1];
            });
        })"""
    )
    assert len(tags) >= 4, tags  # the region and the three layers at least
    assert all(inside for _, inside in tags), f"chips cut off: {tags}"


def _uploaders_in_chinese(page: Page) -> None:
    """Every file uploader shows Chinese over Streamlit's untranslated "Upload" and size line."""
    shown = page.get_by_test_id("stFileUploaderDropzone").evaluate_all(
        """zones => zones.map(zone => {
            const label = zone.querySelector('button [data-testid="stMarkdownContainer"] p');
            const limit = zone.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
            return [getComputedStyle(label).fontSize, getComputedStyle(label, '::after').content,
                    getComputedStyle(limit).fontSize, getComputedStyle(limit, '::before').content];
        })"""
    )
    assert shown, "no file uploader on the page"
    for size, button, limit_size, limit in shown:
        assert (size, limit_size) == ("0px", "0px"), shown
        assert button == '"选择文件"' and limit.startswith('"每个文件不超过'), shown


def _assert_chinese(page: Page, name: str) -> None:
    text = _main_text(page)
    assert re.search(r"[\u4e00-\u9fff]", text), f"{name}: no Chinese text"
    found = english_codes(text)
    where = {word: text[max(0, text.find(word) - 80) : text.find(word) + 40] for word in found}
    assert not found, f"{name}: English codes in the page text: {where}"
    found = english_codes(_map_tooltips(page))
    assert not found, f"{name}: English codes in map tooltips: {sorted(found)}"


def _open(page: Page, link: str, heading: str) -> None:
    """Go to another page through the sidebar menu (keeps the session) and wait for it to be drawn."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=WAIT_MS)
    wait_until_idle(page, SOLVE_WAIT_MS)


def _solve_small_week(page: Page) -> None:
    """Load the shipped Urumqi scenario, cut it to 2 days with a small effort, and solve it."""
    page.get_by_label("从哪里开始").click()
    page.get_by_role("option", name=SHIPPED).click()
    expect(page.get_by_text(f"已载入示例场景 {SHIPPED}。")).to_be_visible(timeout=WAIT_MS)
    days = page.get_by_label("天数")
    days.fill("2")
    days.press("Enter")
    expect(days).to_have_value("2")
    effort = page.get_by_role("spinbutton", name="搜索强度", exact=True)
    for _ in range(5):  # a value typed during the rerun for the days may be reset by it
        effort.fill("5")
        effort.press("Enter")
        page.wait_for_timeout(1500)
        if effort.input_value() == "5":
            break
    page.get_by_role("button", name="制定计划").click()
    expect(page.get_by_text("检查通过：0 项违规。")).to_be_visible(timeout=SOLVE_WAIT_MS)


def test_chief_pages_show_no_english_codes_in_chinese(page: Page, log_in):
    log_in(page, "chief", "plan")
    expect(page.get_by_role("heading", name="周巡护计划")).to_be_visible(timeout=WAIT_MS)
    _solve_small_week(page)
    expect(page.locator(MAP)).to_have_count(1, timeout=WAIT_MS)
    _assert_chinese(page, "plan week")
    _shots(page, "chief_plan_week")
    page.set_viewport_size(PHONE)
    expect(page.get_by_text("保护地（近似边界）", exact=True)).to_be_visible(timeout=WAIT_MS)
    _chips_fit(page)
    page.set_viewport_size(WIDE)
    for link, heading, name in (
        ("覆盖情况", "覆盖情况", "chief_coverage"),
        ("图层", "图层与点位", "chief_layers"),
    ):
        _open(page, link, heading)
        _assert_chinese(page, name)
        _shots(page, name)
    _uploaders_in_chinese(page)  # the Layers page's import


def test_manager_pages_show_no_english_codes_in_chinese(page: Page, log_in):
    log_in(page, "manager", "coverage")
    for link, heading, name in (
        ("覆盖情况", "覆盖情况", "manager_coverage"),
        ("图层", "图层与点位", "manager_layers"),
    ):
        _open(page, link, heading)
        _assert_chinese(page, name)
        _shots(page, name)


def test_officer_my_sites_shows_no_english_codes_in_chinese(page: Page, log_in):
    log_in(page, "officer", "my-sites?day=2026-11-18")
    expect(page.get_by_role("heading", name="我的点位")).to_be_visible(timeout=WAIT_MS)
    wait_until_idle(page, SOLVE_WAIT_MS)
    # The site details (kind, category, skills) sit in a folded expander: open the first one.
    page.get_by_text("点位详情").first.click()
    expect(page.get_by_text("类型:").first).to_be_visible(timeout=WAIT_MS)
    _assert_chinese(page, "officer my sites")
    _shots(page, "officer_my_sites")
