"""Each role in a real browser: what the menu offers, what a direct URL is refused, and an officer
recording a visit on a phone-sized screen (which lands in the database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import wait_until_idle
from playwright.sync_api import Browser, Locator, Page, expect

from records.access import NOT_AVAILABLE
from records.store import open_store
from views.pages.my_sites import T

pytestmark = pytest.mark.browser

#: pytest-playwright empties test-results/ at every session start, so parallel runs in one checkout
#: may take screenshots away: $XUNHU_SCREENSHOT_DIR puts them elsewhere.
SCREENSHOT_DIR = Path(
    os.environ.get("XUNHU_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results"
)
WAIT_MS = 45_000
REFUSED = "Your account may not open this page."
ALL_PAGES = {"Map", "My sites", "Plan week", "Road closures", "Coverage", "Layers", "Audit log"}
PHONE = {"width": 390, "height": 844}


def _menu(page: Page) -> set[str]:
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible(timeout=WAIT_MS)
    # A link reads "<material icon name>\n\n<title>": keep the title.
    return {text.strip().splitlines()[-1] for text in nav.get_by_role("link").all_inner_texts()}


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_DIR / name)


def _expect_answer(page: Page, expected: Locator) -> None:
    """Wait for ``expected`` or an error; on an error, fail with what the page said."""
    errors = page.get_by_test_id("stAlertContentError").or_(page.get_by_test_id("stException"))
    expect(expected.or_(errors).first).to_be_visible(timeout=WAIT_MS)
    assert errors.count() == 0, errors.all_inner_texts()


def _urumqi_plan(db: Path) -> int:
    with open_store(db) as store:
        plans = store.plans()
    urumqi = plans[plans["plan_key"].str.startswith("Urumqi")].sort_values("plan_key")
    return int(urumqi["plan_id"].iloc[-1])


def _denied(db: Path, username: str) -> list[str]:
    with open_store(db) as store:
        entries = store.audit_log(action="access.denied")
    return list(entries.loc[entries["actor"] == username, "object"])


@pytest.mark.parametrize(
    ("role", "path", "menu", "refused"),
    [
        (
            "chief",
            "audit",
            {"Plan week", "Road closures", "My sites", "Coverage", "Map", "Layers"},
            "page:audit",
        ),
        ("manager", "my-sites", {"Coverage", "Map", "Layers", "Road closures"}, "page:my-sites"),
    ],
)
def test_role_menu_and_refused_direct_url(page: Page, log_in, demo_db, role, path, menu, refused):
    db, accounts = demo_db
    log_in(page, role, path, lang="en")
    assert _menu(page) == menu
    expect(page.get_by_text(REFUSED)).to_be_visible(timeout=WAIT_MS)
    assert refused in _denied(db, accounts[role][0])


def test_admin_sees_every_page_and_a_read_only_audit_log(page: Page, log_in, demo_db):
    log_in(page, "admin", "audit", lang="en")
    assert _menu(page) == ALL_PAGES
    expect(page.get_by_text("Read-only: the log is append-only")).to_be_visible(timeout=WAIT_MS)
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible(timeout=WAIT_MS)
    # The refusals of the other tests are in it, named by account.
    expect(
        grid.get_by_role("gridcell", include_hidden=True).filter(has_text="access.denied").first
    ).to_be_attached()
    _screenshot(page, "roles_admin_audit.png")


def test_officer_cannot_open_another_teams_plan_by_url(page: Page, log_in, demo_db):
    db, accounts = demo_db
    plan = _urumqi_plan(db)
    log_in(page, "officer", f"my-sites?plan={plan}&team=T2&day=2026-11-16", lang="en")
    assert _menu(page) == {"My sites", "Map", "Road closures"}
    expect(page.get_by_text(NOT_AVAILABLE)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Record the visit")).to_have_count(0)
    assert "team:T2" in _denied(db, accounts["officer"][0])


def test_officer_records_a_visit_on_a_phone(browser: Browser, app_with_accounts, log_in, demo_db):
    db, accounts = demo_db
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    try:
        # In Chinese, the default: on a phone the sidebar with the language switch is folded away.
        log_in(page, "officer", "my-sites?day=2026-11-18")
        cards = page.get_by_text(T("my_sites.card"))
        expect(cards.first).to_be_visible(timeout=WAIT_MS)
        _screenshot(page, "roles_officer_my_sites_390.png")
        # Nothing wider than the phone: the page does not scroll sideways.
        width = page.evaluate("document.querySelector('[data-testid=stMain]').scrollWidth")
        assert width <= PHONE["width"], width

        cards.first.click()
        expect(page.get_by_text(T("my_sites.checklist")).first).to_be_visible(timeout=WAIT_MS)
        page.get_by_text(T("my_sites.record")).first.click()
        form = page.get_by_test_id("stForm").first
        # A compliant visit (a violation also needs its finding: tests/test_page_my_sites.py).
        form.get_by_text(T("my_sites.outcome.compliant"), exact=True).click()
        form.get_by_label(T("my_sites.notes")).fill("browser test: outfall and meter in order")
        wait_until_idle(page)
        form.get_by_role("button", name=T("my_sites.save")).click()
        saved = page.get_by_text(T("my_sites.saved", id="")[:3])
        _expect_answer(page, saved)
        saved.scroll_into_view_if_needed()
        _screenshot(page, "roles_officer_recorded_390.png")
    finally:
        context.close()
    with open_store(db) as store:
        row = store.conn.execute(
            "SELECT * FROM visits WHERE notes = ?", ("browser test: outfall and meter in order",)
        ).fetchone()
    assert row is not None
    assert (row["recorded_by"], row["team_id"], row["outcome"]) == (accounts["officer"][0], "T1", "compliant")
