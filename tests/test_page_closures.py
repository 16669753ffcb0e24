"""Road-closures page (views/pages/closures_page.py) under Streamlit's AppTest.

The records DB is a temporary file; the shipped seasonal layer comes from ``planning.closures``,
stood in for by two closures (one yearly winter closure in force in December, one fixed-date
closure in the past) so the page's styling and table can be checked whatever that layer holds.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from dataclasses import dataclass

import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon
from streamlit.testing.v1 import AppTest

from records import closures
from records.store import open_store
from tests.dashboard_fixtures import account_for

NOW = "2026-12-08T12:00:00+08:00"


@dataclass(frozen=True)
class FakeClosure:
    id: str
    name: str
    reason: str
    geometry: object
    period: str
    source: str
    confidence: object


SHIPPED = [
    FakeClosure(
        "W1",
        "独库公路 冬季封闭",
        "winter",
        LineString([(84.9, 43.3), (84.8, 44.2)]),
        "10-15..06-15",
        "G217 notice",
        "high",
    ),
    FakeClosure(
        "S1",
        "旧施工",
        "road_works",
        Polygon([(87, 43), (87.1, 43), (87.1, 43.1)]),
        "2026-05-01..2026-05-03",
        "news",
        "low",
    ),
]


def _in_force(items, day: dt.date):
    """Enough of planning.closures.in_force for the stand-in: W1 in winter, S1 in its dates."""
    return [
        c
        for c in items
        if (c.id == "W1" and (day.month >= 10 or day.month <= 6)) or (c.id == "S1" and day.month == 5)
    ]


def _page() -> None:
    from views.pages.closures_page import render

    render()


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "records.sqlite"
    open_store(db).close()
    monkeypatch.setenv("XUNHU_DB", str(db))
    monkeypatch.setenv("XUNHU_NOW", NOW)
    fake = types.SimpleNamespace(load_closures=lambda: SHIPPED, in_force=_in_force, Closure=FakeClosure)
    monkeypatch.setitem(sys.modules, "planning.closures", fake)
    from views.pages import closures_page

    closures_page._shipped.clear()
    closures_page._shipped_in_force.clear()
    yield db
    closures_page._shipped.clear()
    closures_page._shipped_in_force.clear()


def _app(account, lang: str = "zh") -> AppTest:
    at = AppTest.from_function(_page, default_timeout=60)
    at.session_state["account"] = account
    at.session_state["lang"] = lang
    return at


CHIEF = account_for("chief", username="chief-urumqi", detachment="650100")
OFFICER = account_for("officer", username="officer-t1", detachment="650100", team_id="T1")


def _table(at) -> pd.DataFrame:
    (frame,) = [d.value for d in at.dataframe]
    return frame


def test_chief_sees_map_table_and_form(env):
    with open_store(env) as store:
        closures.add_closure(
            store,
            name="G30 达坂城 沙尘暴",
            reason="sandstorm",
            first_day="2026-12-07",
            last_day="2026-12-09",
            lon=88.3,
            lat=43.35,
            radius_km=8,
            actor="chief-urumqi",
        )
    at = _app(CHIEF).run()
    assert not at.exception and not at.error
    assert at.header[0].value == "道路封闭"
    table = _table(at)
    assert list(table["名称"]) == ["G30 达坂城 沙尘暴", "独库公路 冬季封闭", "旧施工"]
    assert list(table["今天生效"]) == [True, True, False]
    assert list(table["原因"]) == ["沙尘暴", "冬季封闭", "道路施工"]
    assert table["时段"].iloc[1] == "每年 10-15 – 06-15" and table["来源"].iloc[0] == "支队长"
    assert at.button(key="FormSubmitter:closures.add_form-保存封闭") is not None
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert all(url.startswith("/app/static/vendor/") for url in args["js_links"] + args["css_links"])
    script = args["script"]
    # In force today: solid red (shipped) / solid orange (chief); the past one grey and dashed.
    assert (
        '"color": "#b71c1c"' in script and '"color": "#e65100"' in script and '"color": "#9e9e9e"' in script
    )
    assert "maxZoom" in script


def test_adding_a_closure_stores_it_under_the_account_and_audits_it(env):
    at = _app(CHIEF, lang="en").run()
    at.text_input(key="closures.f.name").input("S101 flood at 后峡")
    at.selectbox(key="closures.f.reason.en").select("flood")
    at.date_input(key="closures.f.first").set_value(dt.date(2026, 12, 9))
    at.date_input(key="closures.f.last").set_value(dt.date(2026, 12, 11))
    at.number_input(key="closures.f.lon").set_value(87.2)
    at.number_input(key="closures.f.lat").set_value(43.3)
    at.number_input(key="closures.f.radius").set_value(3.0)
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Closure 1 saved: S101 flood at 后峡, 2026-12-09 to 2026-12-11")
    with open_store(env) as store:
        (stored,) = closures.list_closures(store)
        log = store.audit_log("closure:1")
    assert stored.reason == "flood" and stored.created_by == "chief-urumqi"
    assert list(log["action"]) == ["closure.add"] and list(log["actor"]) == ["chief-urumqi"]
    table = _table(at)
    assert table["Name"].iloc[0] == "S101 flood at 后峡" and not table["In force today"].iloc[0]


def test_bad_input_is_explained_in_the_ui_language_and_nothing_is_stored(env):
    at = _app(CHIEF).run()
    at.text_input(key="closures.f.name").input("北京某路")
    at.number_input(key="closures.f.lon").set_value(99.9)  # Qinghai, not Xinjiang
    at.number_input(key="closures.f.lat").set_value(34.0)
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value == "未能保存：该地点不在新疆境内。"
    at.number_input(key="closures.f.lon").set_value(87.2)
    at.number_input(key="closures.f.lat").set_value(43.3)
    at.date_input(key="closures.f.last").set_value(dt.date(2026, 12, 1))
    at.button[0].click().run()
    assert at.error[0].value == "未能保存：最后一天不能早于第一天。"
    at.text_input(key="closures.f.name").input("")
    at.button[0].click().run()
    assert at.error[0].value == "未能保存：请填写名称（道路和地点）。"
    with open_store(env) as store:
        assert closures.list_closures(store, include_history=True) == []


def test_officer_sees_the_closures_read_only(env):
    at = _app(OFFICER, lang="en").run()
    assert not at.exception
    assert len(_table(at)) == 2
    assert not at.button and not at.text_input
    assert at.info[0].value == "Read-only: only chiefs and admins add closures."
    at.toggle(key="closures.only_now").set_value(True).run()
    assert list(_table(at)["Name"]) == ["独库公路 冬季封闭"]


def test_without_the_shipped_layer_the_page_still_works(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "planning.closures", None)  # import fails
    at = _app(CHIEF, lang="en").run()
    assert not at.exception
    assert "not available" in at.caption[1].value
    assert _table(at).empty
