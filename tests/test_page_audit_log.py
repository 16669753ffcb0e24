"""Which pages each role gets, and the admin's read-only audit log page (AppTest)."""

from __future__ import annotations

import pandas as pd
from dashboard_fixtures import account_for
from streamlit.testing.v1 import AppTest

from records.accounts import get_account
from records.store import open_store
from views.pages import allowed_pages
from views.pages.audit_log import MAX_ROWS


def test_pages_per_role():
    assert allowed_pages(account_for("officer")) == ("my-sites", "map", "closures")
    assert allowed_pages(account_for("chief")) == (
        "plan",
        "closures",
        "my-sites",
        "coverage",
        "map",
        "layers",
    )
    assert allowed_pages(account_for("manager")) == ("coverage", "map", "layers", "closures")
    assert "my-sites" in allowed_pages(account_for("manager", permissions=frozenset({"drilldown"})))
    assert set(allowed_pages(account_for("admin"))) == {
        "plan",
        "my-sites",
        "coverage",
        "map",
        "layers",
        "audit",
        "closures",
    }
    assert allowed_pages(account_for("admin", disabled=True)) == ()
    # Only admins read the audit log; only chiefs and admins plan.
    assert all("audit" not in allowed_pages(account_for(role)) for role in ("officer", "chief", "manager"))
    assert all("plan" not in allowed_pages(account_for(role)) for role in ("officer", "manager"))


def _page(account) -> AppTest:
    def app():
        from views.pages import audit_log

        audit_log.render()

    at = AppTest.from_function(app, default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["account"] = account
    return at.run()


def test_admin_reads_and_filters_the_log_without_any_way_to_edit_it(demo_records):
    path, accounts = demo_records
    with open_store(path) as store:
        admin = get_account(store, accounts["admin"][0])
        total = len(store.audit_log())
    at = _page(admin)
    assert not at.exception and not at.error
    (table,) = at.dataframe
    assert len(table.value) == min(total, MAX_ROWS)
    assert table.value["audit_id"].is_monotonic_decreasing, "newest first"
    # Times in Beijing time, as everywhere else in the app: 8 hours ahead of the stored UTC.
    with open_store(path) as store:
        newest = store.audit_log().iloc[-1]
    beijing = (newest["at"] + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert table.value.set_index("audit_id").loc[newest["audit_id"], "at"] == beijing
    assert not at.get("arrow_data_editor"), "a plain table, not an editor"
    at.text_input(key="audit_search").input(accounts["chief"][0]).run()
    shown = at.dataframe[0].value
    assert list(shown["object"]) == [f"account:{accounts['chief'][0]}"]


def test_anyone_else_is_refused_and_the_refusal_audited(demo_records):
    path, accounts = demo_records
    with open_store(path) as store:
        chief = get_account(store, accounts["chief"][0])
    at = _page(chief)
    assert [error.value for error in at.error] == ["Your account may not open this."]
    assert not at.dataframe
    with open_store(path) as store:
        denied = store.audit_log(action="access.denied")
    assert list(zip(denied["actor"], denied["object"], strict=True)) == [(chief.username, "audit_log")]
