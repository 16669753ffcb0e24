"""Browser test of the Coverage page: a manager sees the maps and the table, and a visit an officer
records raises the manager's site coverage of that prefecture."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import DEMO_NOW
from export_reading import split_export
from playwright.sync_api import Page, expect

from coverage.inputs import period
from coverage.sites import site_table
from layers.datasets import load_targets
from records import access
from records.accounts import get_account
from records.db import parse_time
from records.store import open_store
from records.visits import Visit

pytestmark = pytest.mark.browser
WAIT_MS = 90_000
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-results"
#: Leaflet path colours of the page's layers (views.coverage_layers).
CHOROPLETH_STROKE = "#555555"
BLIND_STROKE = "#3f007d"
COVERED_FILL = "#2b8cbe"


#: The English headers of the exported columns this test reads.
EXPORT_COLUMNS = {
    "Prefecture code": "prefecture_code",
    "Due sites inspected": "sites_due_inspected",
    "Site coverage %": "site_coverage_pct",
}


def _region_csv(page: Page) -> pd.DataFrame:
    """The per-region table as the page's CSV download gives it."""
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("button", name="Download CSV").click()
    notes, body = split_export(Path(download.value.path()))
    # Every export names its sources and says the demo records are simulated.
    assert "OpenStreetMap" in notes[0] and notes[1].startswith("SIMULATED")
    return pd.read_csv(io.StringIO(body), dtype={"Prefecture code": str}).rename(columns=EXPORT_COLUMNS)


def _open_coverage(page: Page, log_in) -> None:
    log_in(page, "manager", "coverage", lang="en")
    expect(page.get_by_role("heading", name="Coverage", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible(timeout=WAIT_MS)


def _uninspected_due_site(db: Path) -> tuple[str, str]:
    """(site id, prefecture code) of a pollution source due in the page's default period and not
    inspected in it (an officer may record a visit anywhere for their own team)."""
    now = parse_time(DEMO_NOW, "DEMO_NOW")
    last = now.date()
    since, until = period((last - timedelta(days=83)).isoformat(), last.isoformat())
    with open_store(db) as store:
        visits = store.visits(None, until)
    targets = load_targets(("pollution_source",))
    sites = site_table(targets, visits, since, until)
    first = sites[sites["due"] & ~sites["inspected"]].sort_values("site_id").iloc[0]
    return str(first["site_id"]), str(first["prefecture_code"])


def test_manager_sees_coverage_and_an_officer_visit_raises_it(page: Page, log_in, demo_db):
    db, accounts = demo_db
    _open_coverage(page, log_in)
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    expect(frame.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    overlays = frame.locator(".leaflet-control-layers-overlays label")
    expect(overlays.filter(has_text="Coverage")).to_have_count(1)
    expect(overlays.filter(has_text="Blind spots")).to_have_count(1)
    expect(page.get_by_text("Per-region table")).to_be_visible()
    expect(page.get_by_text("Weekly trend")).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "coverage_manager.png"))
    table = _region_csv(page).set_index("prefecture_code")
    # One choropleth shape per prefecture row (the last row is the total), and blind spots drawn.
    expect(frame.locator(f'path[stroke="{CHOROPLETH_STROKE}"]')).to_have_count(len(table) - 1)
    assert frame.locator(f'path[stroke="{BLIND_STROKE}"]').count() >= 1

    # An officer of team T1 records an inspection at a due, uninspected site.
    site, prefecture = _uninspected_due_site(db)
    before = table.loc[prefecture]
    start = parse_time(DEMO_NOW, "DEMO_NOW") - timedelta(hours=2)
    with open_store(db) as store:
        officer = get_account(store, accounts["officer"][0])
        access.record_visit(
            store, officer, Visit(site, "T1", start, start + timedelta(minutes=30), "compliant")
        )

    # Any rerun reads the database again; showing the covered cells is one.
    page.get_by_text("Show covered cells").click()
    expect(frame.locator(f'path[fill="{COVERED_FILL}"]')).to_have_count(1, timeout=WAIT_MS)
    after = _region_csv(page).set_index("prefecture_code").loc[prefecture]
    assert after["sites_due_inspected"] == before["sites_due_inspected"] + 1
    assert after["site_coverage_pct"] > before["site_coverage_pct"]
    page.screenshot(path=str(SCREENSHOTS / "coverage_after_visit.png"))
