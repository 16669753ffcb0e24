"""Hostile names in a real browser: imported into every layer, nothing they carry ever runs.

Before the app starts, a copy of the data directory gets one target per layer whose name holds an
``<img onerror>``, a ``${...}`` template-literal expression and a ``</script><script>`` breakout
(:mod:`hostile_samples`); a tiny approved week visits all three, a visit note and a chief's road
closure carry the same payloads. Every payload calls ``xssFired(tag)``, which the test exposes to
every frame of the browser: the list of calls must stay empty on each page, after the page has
loaded and after the tooltips holding the names were opened, while the names are shown as text.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import BROWSER_WAIT_MS, LOGIN_LABELS, REPO_ROOT, dashboard_server
from hostile_samples import SITES, hostile_name, hostile_targets
from layer_samples import COMMON, write_csv
from patrol_fixtures import scenario_dict
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, expect

from layers.datasets import load_targets
from layers.importer import import_file
from planning.patrol import plan_week
from planning.scenario import BEIJING, parse_scenario
from records.accounts import create_account
from records.closures import add_closure
from records.store import open_store
from records.visits import Visit, record_visit
from views.pages.layers_page import T as LAYERS
from views.pages.my_sites import T as MY_SITES
from views.plan_week_replan import T as REPLAN

pytestmark = pytest.mark.browser

WAIT_MS = BROWSER_WAIT_MS
MAP = 'iframe[title="streamlit_folium.st_folium"]'
PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
DAY1 = dt.date(2026, 11, 24)
DAY2 = DAY1 + dt.timedelta(days=1)
#: Day 2 (when the week visits the hostile sites) is released to officers at 07:00.
NOW = f"{DAY2}T08:00:00+08:00"
KEY = "hostile-week"
CLOSURE = "敌意封路"
NOTE = "敌意备注"
#: What a payload looks like when it is shown as text instead of run.
SHOWN = ("<img src=x onerror=", "${xssFired(", "</script><script>xssFired(")

# In the map frame: the centre (frame coordinates) of the drawn layer of a site, found by the
# site id in its GeoJSON properties or in its tooltip text; null while it is not drawn.
_SITE_CENTRE = """(siteId) => {
    let element = null;
    map_div.eachLayer((layer) => {
        const props = layer.feature && layer.feature.properties;
        const tip = layer.getTooltip && layer.getTooltip();
        const text = tip && typeof tip.getContent() === "string" ? tip.getContent() : "";
        if ((props && props.site_id === siteId) || text.includes(siteId)) {
            element = layer._path || layer._icon || element;
        }
    });
    if (!element) return null;
    const box = element.getBoundingClientRect();
    return [box.x + box.width / 2, box.y + box.height / 2];
}"""
# In the map frame: open the tooltip of every layer whose tooltip text holds ``needle``; how many.
_OPEN_TOOLTIPS = """(needle) => {
    let opened = 0;
    map_div.eachLayer((layer) => {
        const tip = layer.getTooltip && layer.getTooltip();
        if (tip && typeof tip.getContent() === "string" && tip.getContent().includes(needle)) {
            layer.openTooltip();
            opened += 1;
        }
    });
    return opened;
}"""


def _week() -> dict:
    """One team, two days at Urumqi, with the three hostile sites mandatory (great-circle travel)."""
    raw = scenario_dict(
        name=KEY,
        start=str(DAY1),
        days=2,
        work_hours="10:00-16:00",
        sites={"regions": ["650100"], "max_sites": 6, "mandatory": [site[0] for site in SITES]},
    )
    return plan_week(parse_scenario(raw), targets=load_targets(), network=None, effort=4).to_dict()


def _records(db: Path, plan: dict) -> None:
    """Accounts, the approved week, a hostile visit note and a hostile closure in force on day 2."""
    with open_store(db) as store:
        create_account(store, "chief-hostile", PASSWORD, "chief", detachment="650100", hasher=FAST)
        create_account(
            store, "officer-hostile", PASSWORD, "officer", detachment="650100", team_id="T1", hasher=FAST
        )
        saved = store.save_plan(plan, key=KEY, actor="chief-hostile")
        store.approve_plan(saved.plan_id, actor="chief-hostile")
        started = dt.datetime(2025, 10, 1, 10, 0, tzinfo=BEIJING)
        visit = Visit(
            site_id="PS-X001",
            team_id="T1",
            started_at=started,
            ended_at=started + dt.timedelta(hours=1),
            outcome="compliant",
            notes=hostile_name(NOTE, "n"),
        )
        record_visit(store.conn, visit, actor="officer-hostile")
        add_closure(
            store,
            name=hostile_name(CLOSURE, "c"),
            reason="other",
            first_day=DAY2,
            last_day=DAY2 + dt.timedelta(days=1),
            lon=87.6,
            lat=43.8,
            radius_km=3.0,
            actor="chief-hostile",
        )


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard server on a data copy with the hostile targets imported, and its records."""
    root = tmp_path_factory.mktemp("hostile")
    data_dir = root / "data"
    shutil.copytree(REPO_ROOT / "data", data_dir)
    upload = root / "hostile.geojson"
    hostile_targets().to_file(upload, driver="GeoJSON")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XUNHU_DATA_DIR", str(data_dir))
        imported = import_file(upload)
        assert imported.ok and imported.added == len(SITES), [str(p) for p in imported.report.problems]
        plan = _week()
    visited = {stop.get("id") for team in plan["teams"] for stop in team["stops"]}
    assert {site[0] for site in SITES} <= visited, "the week must visit every hostile site"
    db = root / "records.sqlite"
    _records(db, plan)
    env = {"XUNHU_DATA_DIR": str(data_dir), "XUNHU_DB": str(db), "XUNHU_NOW": NOW}
    with dashboard_server(env, root / "server.log") as url:
        yield url


@pytest.fixture
def fired(page: Page) -> list[str]:
    """The tags of the payloads that ran in any frame of ``page`` (must stay empty)."""
    calls: list[str] = []

    def record(tag: str) -> None:
        calls.append(tag)

    page.context.expose_function("xssFired", record)
    return calls


def _log_in(page: Page, url: str, username: str, path: str) -> None:
    page.goto(url + path)
    page.get_by_label(LOGIN_LABELS["username"]).fill(username)
    page.get_by_label(LOGIN_LABELS["password"]).fill(PASSWORD)
    page.get_by_role("button", name=LOGIN_LABELS["submit"]).click()
    expect(page.get_by_role("button", name=LOGIN_LABELS["logout"])).to_be_visible(timeout=WAIT_MS)


def _map_frame(page: Page) -> Frame:
    """The (last) map's frame, once Leaflet has drawn in it."""
    expect(page.frame_locator(MAP).last.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    frames = [frame for frame in page.frames if "st_folium" in frame.url]
    assert frames, "no map frame"
    return frames[-1]


def _assert_shown_as_text(text: str, label: str) -> None:
    assert label in text, text
    assert all(piece in text for piece in SHOWN), text


def _hover_site(page: Page, frame: Frame, site_id: str, lat: float, lon: float, label: str) -> None:
    """Zoom to a site, move the mouse onto it, and check its tooltip shows the name as text."""
    centre = None
    for _ in range(WAIT_MS // 250):
        # Leaflet ignores setView while a zoom animates (st_folium moves a tall map to the page's view).
        frame.evaluate(
            f"void (map_div._animatingZoom || map_div.setView([{lat}, {lon}], 13, {{animate: false}}))"
        )
        centre = frame.evaluate(_SITE_CENTRE, site_id)
        if centre is not None:
            break
        page.wait_for_timeout(250)
    assert centre is not None, f"{site_id} is not drawn"
    box = page.locator(MAP).last.bounding_box()
    page.mouse.move(box["x"] + centre[0], box["y"] + centre[1])
    tooltip = page.frame_locator(MAP).last.locator(".leaflet-tooltip").filter(has_text=label)
    expect(tooltip).to_be_visible(timeout=WAIT_MS)
    _assert_shown_as_text(tooltip.inner_text(), label)
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)  # leave it: the tooltip closes


def _open_tooltips(page: Page, needle: str, label: str) -> None:
    """Open every tooltip of the last map that holds ``needle`` and check they show the name."""
    opened = 0
    for _ in range(WAIT_MS // 250):
        try:
            opened = _map_frame(page).evaluate(_OPEN_TOOLTIPS, needle)
        except PlaywrightError:  # a rerun replaced the map's frame under us: take the new one
            opened = 0
        if opened:
            break
        page.wait_for_timeout(250)
    assert opened, f"no tooltip holds {needle!r}"
    tooltips = page.frame_locator(MAP).last.locator(".leaflet-tooltip").filter(has_text=label)
    expect(tooltips.first).to_be_visible(timeout=WAIT_MS)
    _assert_shown_as_text(tooltips.first.inner_text(), label)


def test_map_page_tooltips_show_every_layer_name_as_text(page: Page, fired: list[str], hostile_app: str):
    _log_in(page, hostile_app, "chief-hostile", "")
    frame = _map_frame(page)
    for site_id, label, _, _, geometry in SITES:
        point = geometry.representative_point()
        _hover_site(page, frame, site_id, point.y, point.x, label)
    assert fired == []


def test_layers_page_card_ring_and_import_report_keep_names_inert(
    page: Page, fired: list[str], hostile_app: str, tmp_path: Path
):
    _log_in(page, hostile_app, "chief-hostile", "layers")
    search = page.get_by_label(LAYERS("layers.search"))
    search.fill("敌意")
    search.press("Enter")
    page.get_by_role("combobox", name=LAYERS("layers.site"), exact=True).click()
    page.get_by_role("option", name="WS-X001", exact=True).click()
    # The card names the site (Streamlit shows the markup as text), the map rings it.
    expect(page.get_by_text("敌意水源地").filter(visible=True).first).to_be_visible(timeout=WAIT_MS)
    _open_tooltips(page, "敌意水源地", "敌意水源地")

    # Importing another such file: the report warns about the markup, row by row.
    row = {
        **COMMON,
        "site_id": "PS-X101",
        "name": hostile_name("敌意导入", "u"),
        "lon": 87.63,
        "lat": 43.84,
    }
    path = write_csv(tmp_path / "hostile.csv", [{**row, "layer": "pollution_source", "kind": "sewage_plant"}])
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    expect(page.get_by_text(LAYERS("layers.warnings"), exact=True)).to_be_visible(timeout=WAIT_MS)
    grid = page.get_by_test_id("stDataFrame").last
    cells = grid.get_by_role("gridcell", include_hidden=True)
    expect(cells.filter(has_text="markup").first).to_be_attached(timeout=WAIT_MS)
    assert fired == []


def test_plan_week_replan_map_and_closure_notice_keep_names_inert(
    page: Page, fired: list[str], hostile_app: str
):
    _log_in(page, hostile_app, "chief-hostile", "plan")
    section = page.get_by_role("heading", name=REPLAN("replan.title"))
    expect(section).to_be_visible(timeout=WAIT_MS)
    section.scroll_into_view_if_needed()
    expect(page.get_by_text(CLOSURE).filter(visible=True).first).to_be_visible(timeout=WAIT_MS)
    effort = page.get_by_role("spinbutton", name=REPLAN("replan.effort")).last
    effort.fill("3")
    effort.press("Enter")
    expect(effort).to_have_value("3", timeout=WAIT_MS)
    page.get_by_role("button", name=REPLAN("replan.run"), exact=True).click()
    expect(page.get_by_text(REPLAN("replan.check.ok"))).to_be_visible(timeout=WAIT_MS)
    # The new routes' stop tooltips (the re-plan may leave a hostile site out: any of them will do).
    _open_tooltips(page, "敌意", "敌意")
    assert fired == []


def test_my_sites_shows_stop_names_and_visit_note_as_text(page: Page, fired: list[str], hostile_app: str):
    _log_in(page, hostile_app, "officer-hostile", "my-sites")
    for _, label, *_ in SITES:
        expect(page.get_by_text(label).filter(visible=True).first).to_be_visible(timeout=WAIT_MS)
    # Open every stop's site card: the one of PS-X001 lists its visit with the hostile note.
    for card in page.get_by_text(MY_SITES("my_sites.card"), exact=True).all():
        card.click()
    note = page.get_by_text(NOTE)
    expect(note.first).to_be_visible(timeout=WAIT_MS)
    assert "<img src=x" in note.first.inner_text()
    assert fired == []


def test_coverage_page_loads_without_running_anything(page: Page, fired: list[str], hostile_app: str):
    _log_in(page, hostile_app, "chief-hostile", "coverage")
    frame = _map_frame(page)
    expect(page.frame_locator(MAP).last.locator("path.leaflet-interactive").first).to_be_attached(
        timeout=WAIT_MS
    )
    assert frame.evaluate("typeof map_div") == "object"
    assert fired == []


def test_closures_map_shows_the_closure_name_as_text(page: Page, fired: list[str], hostile_app: str):
    _log_in(page, hostile_app, "chief-hostile", "closures")
    _open_tooltips(page, CLOSURE, CLOSURE)
    assert fired == []
