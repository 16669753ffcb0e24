"""Re-plan an approved week in a real browser (Plan week, section 5) and the officer's notice.

A tiny great-circle week over shipped Urumqi sites (two teams, three days, solved here with a small
effort as in tests/test_page_replan.py) is approved as version 1 in a fresh records database before
the app starts; the app's clock is the morning of day 1 (released to officers, work not begun). In
Chromium, in Chinese, the chief marks the team that works on day 1 unavailable for days 1-2, re-plans,
sees the per team and day changes and the map of old (dashed grey) and new routes, and saves and
approves version 2; that team's officer then sees the version-2 notice on My sites for day 1.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from conftest import BROWSER_WAIT_MS, LOGIN_LABELS, dashboard_server
from patrol_fixtures import scenario_dict
from playwright.sync_api import Browser, Locator, Page, expect

from layers.datasets import load_targets
from planning.patrol import plan_week
from planning.scenario import parse_scenario
from records.accounts import create_account
from records.store import open_store
from views.pages.my_sites import T as MY_SITES
from views.plan_overrides import T as OVERRIDES
from views.plan_week_replan import T

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = Path(
    os.environ.get("XUNHU_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results"
)
WAIT_MS = BROWSER_WAIT_MS
MAP = 'iframe[title="streamlit_folium.st_folium"]'
PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
START = dt.date(2026, 11, 24)
DAY1, DAY2, DAY3 = (str(START + dt.timedelta(days=d)) for d in range(3))
#: Day 2 is released to officers at 07:00 and its work starts at 10:00: day 1 is behind, days 2-3 ahead.
NOW = f"{DAY2}T08:00:00+08:00"
KEY = "replan-browser"


def _week() -> dict:
    """Two teams at Urumqi for three short days (so each works on several) over at most 20 Urumqi
    sites, great-circle travel."""
    team = {"base": "Urumqi", "members": 2, "skills": ["sampling"]}
    raw = scenario_dict(
        name=KEY,
        start=DAY1,
        days=3,
        work_hours="10:00-14:00",
        teams=[{"id": "T1", **team}, {"id": "T2", **team}],
        sites={"regions": ["650100"], "max_sites": 20},
    )
    return plan_week(parse_scenario(raw), targets=load_targets(), network=None, effort=4).to_dict()


def _sites_on(plan: dict, team_id: str, day: str) -> list[dict]:
    (team,) = [t for t in plan["teams"] if t["team_id"] == team_id]
    return [s for s in team["stops"] if s["type"] == "site" and s["arrive"].startswith(day)]


@pytest.fixture(scope="module")
def replan_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A dashboard server on a records DB holding the week approved (version 1) by the chief."""
    plan = _week()
    # A team with sites on day 1 (behind, so its officer still sees the week) and on day 2.
    busy = [
        t["team_id"] for t in plan["teams"] if all(_sites_on(plan, t["team_id"], d) for d in (DAY1, DAY2))
    ]
    assert busy, "the tiny week should give some team sites on days 1 and 2"
    team = busy[0]
    db = tmp_path_factory.mktemp("replan-records") / "records.sqlite"
    with open_store(db) as store:
        create_account(store, "chief-replan", PASSWORD, "chief", detachment="650100", hasher=FAST)
        for t in ("T1", "T2"):
            create_account(
                store,
                f"officer-{t.lower()}",
                PASSWORD,
                "officer",
                detachment="650100",
                team_id=t,
                hasher=FAST,
            )
        saved = store.save_plan(plan, key=KEY, actor="chief-replan")
        store.approve_plan(saved.plan_id, actor="chief-replan")
    env = {"XUNHU_DB": str(db), "XUNHU_NOW": NOW}
    log = tmp_path_factory.mktemp("replan-streamlit") / "server.log"
    with dashboard_server(env, log) as url:
        yield {"url": url, "db": db, "plan": plan, "team": team, "v1": saved.plan_id}


def _log_in(page: Page, url: str, username: str, path: str) -> None:
    page.goto(url + path)
    page.get_by_label(LOGIN_LABELS["username"]).fill(username)
    page.get_by_label(LOGIN_LABELS["password"]).fill(PASSWORD)
    page.get_by_role("button", name=LOGIN_LABELS["submit"]).click()
    expect(page.get_by_role("button", name=LOGIN_LABELS["logout"])).to_be_visible(timeout=WAIT_MS)


def _choose(page: Page, select: Locator, value: str) -> None:
    """Pick ``value`` in a selectbox. A rerun still settling from the previous input redraws the
    box and closes its list (CI once waited 30 s for an option that had gone), so the list is
    opened again until the option shows."""
    option = page.get_by_role("option", name=value, exact=True)
    for _ in range(3):
        select.click()
        try:
            expect(option).to_be_visible(timeout=5000)
            break
        except AssertionError:
            continue
    option.click()
    expect(select).to_have_value(value, timeout=WAIT_MS)


def _shoot(page: Page, width: int, name: str) -> None:
    """Screenshots at ``width`` of the diff table and of the old/new map."""
    page.set_viewport_size({"width": width, "height": 1300})
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.get_by_text(T("replan.diff"), exact=True).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=SCREENSHOT_DIR / f"{name}-{width}-zh-diff.png")
    # The map's heading at the top of the view, so the whole map is in the screenshot.
    page.get_by_text(T("replan.map"), exact=True).evaluate("e => e.scrollIntoView({block: 'start'})")
    expect(page.frame_locator(MAP).last.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=SCREENSHOT_DIR / f"{name}-{width}-zh-map.png")


def test_chief_replans_a_team_out_for_two_days_and_the_officer_sees_version_2(
    browser: Browser, replan_app: dict
):
    url, db, team = replan_app["url"], replan_app["db"], replan_app["team"]
    kept = {s["name"] for s in _sites_on(replan_app["plan"], team, DAY1)}
    moved = {s["name"] for s in _sites_on(replan_app["plan"], team, DAY2)}
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    try:
        _log_in(page, url, "chief-replan", "plan")
        section = page.get_by_role("heading", name=T("replan.title"))
        expect(section).to_be_visible(timeout=WAIT_MS)
        section.scroll_into_view_if_needed()
        expect(page.get_by_label(T("replan.plan"), exact=True)).to_have_value(re.compile(f"^{KEY} 第 1 版"))
        # The overrides form in this section says it is for the re-plan, not the next solve.
        heading = page.get_by_text(T("replan.overrides"), exact=True)
        expect(heading).to_be_visible()
        form = page.get_by_test_id("stVerticalBlock").filter(has=heading).last
        form.get_by_text(OVERRIDES("overrides.kind.unavailable"), exact=True).click()
        # Wait for the rerun: only the "unavailable" kind asks for a first day.
        expect(form.get_by_label(OVERRIDES("overrides.from"), exact=True)).to_be_visible(timeout=WAIT_MS)
        # T1 is the default team: pick the busy one whatever it is.
        for label, value in (("overrides.team", team), ("overrides.from", DAY2), ("overrides.to", DAY3)):
            _choose(page, form.get_by_label(OVERRIDES(label), exact=True), value)
        form.get_by_role("button", name=OVERRIDES("overrides.add")).click()
        line = OVERRIDES("overrides.line.unavailable", team=team, first=DAY2, last=DAY3)
        expect(page.get_by_text(line)).to_be_visible(timeout=WAIT_MS)
        # The re-plan has its own search effort (section 1 has one too).
        effort = page.get_by_role("spinbutton", name=T("replan.effort")).last
        expect(effort).to_have_value("5")  # the week's own solver effort
        effort.fill("3")
        effort.press("Enter")
        expect(effort).to_have_value("3", timeout=WAIT_MS)

        page.get_by_role("button", name=T("replan.run"), exact=True).click()
        expect(page.get_by_text(T("replan.check.ok"))).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("新计划保留了")).to_be_visible()
        expect(page.get_by_text(T("replan.diff"), exact=True)).to_be_visible()
        # The diff table: the busy team's day 2 lost its sites (named) to the other team.
        grid = page.get_by_test_id("stDataFrame").last  # the page's earlier sections have tables too
        expect(grid).to_be_visible(timeout=WAIT_MS)
        # The grid is a canvas; its hidden ARIA table holds the rendered cells (filled a bit later).
        gridcells = grid.get_by_role("gridcell", include_hidden=True)
        expect(gridcells.filter(has_text=DAY2).first).to_be_attached(timeout=WAIT_MS)
        cells = " | ".join(gridcells.all_inner_texts())
        headers = " | ".join(grid.get_by_role("columnheader", include_hidden=True).all_inner_texts())
        assert all(T(f"replan.col.{c}") in headers for c in ("team", "date", "moved_in", "moved_out"))
        assert DAY2 in cells and team in cells
        assert all(name in cells for name in moved), (moved, cells)
        # The map: old routes (dashed grey) under the new team routes, named in the layer control.
        frame = page.frame_locator(MAP).last
        expect(frame.locator(".leaflet-container")).to_be_visible(timeout=WAIT_MS)
        overlays = frame.locator(".leaflet-control-layers-overlays label")
        expect(overlays.filter(has_text=T("replan.map.old"))).to_be_visible(timeout=WAIT_MS)
        old = frame.locator('path[stroke="#888888"][stroke-dasharray="8 8"]')
        assert old.count() >= 1
        # The map opens on the routes, not on the whole province (where they were a dot).
        boxes = [old.nth(i).bounding_box() for i in range(old.count())]
        assert max(max(b["width"], b["height"]) for b in boxes if b) > 100, boxes
        expect(frame.locator(".xunhu-legend").filter(has_text=T("replan.map.old"))).to_be_visible()
        for width in (1400, 390):
            _shoot(page, width, "replan")
        page.set_viewport_size({"width": 1400, "height": 1300})

        save = page.get_by_role("button", name=T("replan.save", version=2))
        save.click()
        expect(page.get_by_text(f"已保存为 {KEY} 第 2 版")).to_be_visible(timeout=WAIT_MS)
        with open_store(db) as store:
            plans = store.plans()
            v2 = plans[(plans["plan_key"] == KEY) & (plans["version"] == 2)].iloc[0]
            log = store.audit_log(f"plan:{int(v2['plan_id'])}")
            stored = store.plan(int(v2["plan_id"]))["plan"]
        assert v2["status"] == "approved" and v2["approved_by"] == "chief-replan"
        assert list(log["action"]) == ["plan.save", "plan.approve"]
        assert set(log["actor"]) == {"chief-replan"}
        assert not _sites_on(stored, team, DAY2) and not _sites_on(stored, team, DAY3)
        assert {s["name"] for s in _sites_on(stored, team, DAY1)} == kept  # day 1 is behind
        context.close()

        # The busy team's officer, on a phone, on day 2 (today, released): the version-2 notice.
        context = browser.new_context(viewport={"width": 390, "height": 1300})
        page = context.new_page()
        _log_in(page, url, f"officer-{team.lower()}", "my-sites")
        expect(page.get_by_role("heading", name=MY_SITES("my_sites.title"))).to_be_visible(timeout=WAIT_MS)
        notice = page.get_by_text("计划已更新（第 2 版）")
        expect(notice).to_be_visible(timeout=WAIT_MS)
        text = notice.inner_text()
        assert "调出" in text and all(name in text for name in moved), text
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT_DIR / "replan-390-zh-officer-notice.png")
    finally:
        context.close()
