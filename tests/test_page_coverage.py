"""AppTest of the Coverage page on a tiny records database (a few visits in Urumqi)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from dashboard_fixtures import account_for
from export_reading import split_export
from records_fixtures import drive_and_dwell, write_gpx
from streamlit.testing.v1 import AppTest

from coverage import inputs
from layers.datasets import load_targets
from layers.spreadsheet import workbook_bytes
from records.accounts import Account
from records.db import LOCAL_TZ
from records.store import open_store
from records.visits import Visit

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=LOCAL_TZ)
URUMQI = "650100"
PERIOD = inputs.period((NOW.date() - timedelta(days=83)).isoformat(), NOW.date().isoformat())


def _page() -> None:
    from views.pages.coverage_page import render

    render()


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory) -> Iterator[str]:
    """Four inspections, in the last two weeks before NOW, of Urumqi pollution sources the registry
    dates as inspected long before the period (so they are due and only these visits inspect them),
    and one GPS track driven near Urumqi five days before NOW."""
    path = tmp_path_factory.mktemp("coverage") / "records.sqlite"
    targets = load_targets(("pollution_source",))
    long_ago = pd.Timestamp(NOW.date() - timedelta(days=83 + 400))
    stale = targets["last_inspected"].isna() | (targets["last_inspected"] < long_ago)
    sites = targets[(targets["prefecture_code"] == URUMQI) & stale].sort_values("site_id").head(4)
    assert len(sites) == 4
    with open_store(path) as store:
        for offset, site_id in enumerate(sites["site_id"]):
            start = NOW - timedelta(days=3 + 3 * offset)
            store.record_visit(
                Visit(site_id, "T1", start, start + timedelta(minutes=40), "compliant"), actor="test"
            )
        gpx = write_gpx(path.parent / "day.gpx", drive_and_dwell(NOW.astimezone(UTC) - timedelta(days=5)))
        store.import_gpx(gpx, team_id="T1")
    # Module scope: every page run of this file reads the same database (and its cached coverage).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XUNHU_DB", str(path))
        patch.setenv("XUNHU_NOW", NOW.isoformat())
        yield str(path)


def _run(account: Account, **state: object) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=120)
    at.session_state["account"] = account
    at.session_state["lang"] = "en"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _region_table(at: AppTest) -> pd.DataFrame:
    (frame,) = [df.value for df in at.dataframe if "site_coverage_pct" in df.value.columns]
    return frame


@pytest.fixture(scope="module")
def model() -> inputs.CoverageModel:
    """The grid and weights of the page's default period (the last 12 weeks up to NOW's day)."""
    return inputs.load_model(PERIOD[0], 6)


def _direct(model: inputs.CoverageModel, by: str, with_records: bool = True) -> pd.DataFrame:
    """The page's default period computed with the coverage package directly."""
    since, until = PERIOD
    with open_store() as store:
        visits = store.visits(None, until, include_inferred=True)
        points = store.track_points(since, until)
    if not with_records:
        visits, points = visits.iloc[0:0], points.iloc[0:0]
    return model.region_table(visits, points, since, until, by)


def test_manager_sees_prefecture_table_equal_to_coverage_stats(tiny_db, model):
    at = _run(account_for("manager"))
    assert not at.exception
    shown = _region_table(at)
    direct = _direct(model, "prefecture")
    with open_store() as store:
        assert len(store.track_points()) > 50  # the comparison covers the tracks' part too
    assert len(shown) == len(direct)
    for column in ("sites_due", "sites_due_inspected", "debt_days", "debt_days_key", "draw_targets"):
        assert shown[column].tolist() == direct[column].tolist()
    for column in ("weighted_coverage_pct", "site_coverage_pct", "area_coverage_pct"):
        np.testing.assert_allclose(
            shown[column].to_numpy(float), direct[column].to_numpy(float), equal_nan=True
        )
    # The four recorded inspections count (registry dates alone give fewer).
    baseline = _direct(model, "prefecture", with_records=False)
    row = (direct["prefecture_code"] == URUMQI).to_numpy()
    assert shown.loc[row, "sites_due_inspected"].item() == baseline.loc[row, "sites_due_inspected"].item() + 4
    # The map carries the choropleth and the blind spots, all assets local.
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert "Needs drone/remote sensing" in args["script"]
    assert all(not url.startswith("http") for url in args["js_links"] + args["css_links"])
    # No draw anywhere: said so.
    assert any("No random draw given" in info.value for info in at.info)
    downloads = at.get("download_button")
    assert len(downloads) == 2


def test_drilldown_refused_without_permission(tiny_db):
    at = _run(account_for("manager"), **{"coverage.level.en": "county"})
    assert not at.exception
    assert any("drill-down permission" in warning.value for warning in at.warning)
    shown = _region_table(at)
    assert "county_name" not in shown.columns
    assert not any("Overdue sites" in e.label for e in at.expander)


def test_drilldown_manager_sees_counties(tiny_db, model):
    at = _run(account_for("manager", permissions=frozenset({"drilldown"})), **{"coverage.level.en": "county"})
    assert not at.exception
    assert not at.warning
    shown = _region_table(at)
    direct = _direct(model, "county")
    assert shown["sites_due_inspected"].tolist() == direct["sites_due_inspected"].tolist()
    assert len(shown) == len(direct) > 100


def test_chief_sees_own_detachment_only(tiny_db, model):
    at = _run(account_for("chief", detachment=URUMQI), **{"coverage.level.en": "county"})
    assert not at.exception
    shown = _region_table(at)
    direct = _direct(model, "county")
    mine = direct[direct["prefecture_code"] == URUMQI]
    assert shown["county_name"].tolist() == mine["county_name"].tolist()


def test_officer_refused(tiny_db):
    at = _run(account_for("officer", detachment=URUMQI, team_id="T1"))
    assert not at.exception
    assert any("cannot see coverage" in warning.value for warning in at.warning)
    assert not at.dataframe


def test_draw_from_audit_log_counts_met_targets(tiny_db):
    with open_store() as store:
        inspected = store.visits()["site_id"].tolist()
        other = load_targets(("pollution_source",)).query("prefecture_code == @URUMQI")["site_id"].iloc[-1]
        record = {"result": [{"site_id": s} for s in [*inspected[:2], other]], "parameters": {"period": "x"}}
        store.log("draw", "draw:test", record, actor="test")
    at = _run(account_for("manager"))
    assert not at.exception
    total = _region_table(at).iloc[-1]
    assert (total["draw_targets"], total["draw_met"]) == (3, 2)


def test_excel_export_round_trips(tiny_db, model):
    table = _direct(model, "prefecture")
    workbook = pd.read_excel(
        io.BytesIO(workbook_bytes({"regions": table, "trend": table.head(2)})), sheet_name=None
    )
    assert list(workbook) == ["regions", "trend"]
    assert workbook["regions"]["sites_due"].tolist() == table["sites_due"].tolist()


def test_the_page_explains_the_blind_spot_rule_and_where_the_records_end(tiny_db):
    at = _run(account_for("manager"))
    assert not at.exception
    captions = [c.value for c in at.caption]
    # The last visit was three days before NOW (Beijing time); the weeks after it have no records.
    last_visit = (NOW - timedelta(days=3)).date().isoformat()
    assert any(f"The records end on {last_visit}" in text for text in captions)
    assert any(text.startswith("Ranking: the attention weight of pollution sources") for text in captions)
    (blind,) = [d.value for d in at.dataframe if "rank_weight" in d.value.columns]
    assert blind["rank_weight"].is_monotonic_decreasing


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """The files the page's download buttons hand out, by file name, filled as the page runs."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}
    load = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        files[str(filename)] = path_or_data
        return load(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


def test_closing_the_loop_figures_per_region_match_the_database(tiny_db, downloads):
    from records.cases import open_case
    from records.loop_figures import FIGURE_COLUMNS

    with open_store() as store:
        visit = store.visits().iloc[0]
        start = NOW - timedelta(days=2)
        violation = store.record_visit(
            Visit(str(visit["site_id"]), "T1", start, start + timedelta(minutes=30), "violation"), actor="t"
        )
        open_case(store.conn, violation, "permit", actor="chief")
        open_cases = store.conn.execute("SELECT count(*) FROM cases WHERE state = 'open'").fetchone()[0]
    at = _run(account_for("manager"))
    assert not at.exception
    (loop,) = [d.value for d in at.dataframe if "Open cases" in d.value.columns]
    assert len(loop.columns) == len(FIGURE_COLUMNS) + 1
    urumqi = loop[loop["Region"].str.contains("乌鲁木齐")]
    assert urumqi["Open cases"].tolist() == [open_cases] == [1]
    assert loop["Open cases"].iloc[-1] == open_cases and loop["Region"].iloc[-1] == "Total"
    # ... and the Excel export carries the same figures on its own sheet.
    (xlsx_name,) = [name for name in downloads if name.endswith(".xlsx")]
    sheet = pd.read_excel(io.BytesIO(downloads[xlsx_name]), sheet_name="closing the loop")
    assert sheet["Open cases"].tolist() == loop["Open cases"].tolist()
    assert sheet["Region"].iloc[-1] == "Total" and sheet["Open cases"].iloc[-1] == open_cases


def test_downloads_in_chinese_have_chinese_headers_rounded_numbers_and_the_attribution(
    tiny_db, downloads, tmp_path
):
    """The CSV and Excel the page hands out, in Chinese: headers in the page language, numbers to
    0.01, the data attribution first (CSV ``#`` lines, an Excel "说明" sheet); a click does not
    rerun the page."""
    at = _run(account_for("manager"), lang="zh")
    assert not at.exception
    buttons = at.get("download_button")
    assert len(buttons) == 2 and all(button.proto.ignore_rerun for button in buttons)
    (csv_name,) = [name for name in downloads if name.endswith(".csv")]
    (xlsx_name,) = [name for name in downloads if name.endswith(".xlsx")]

    path = tmp_path / "regions.csv"
    path.write_bytes(downloads[csv_name])
    notes, body = split_export(path)
    assert notes[0].startswith("数据来源与署名：") and "OpenStreetMap" in notes[0]
    frame = pd.read_csv(io.StringIO(body))
    assert {"地州代码", "地州市", "加权覆盖率 %", "点位覆盖率 %", "应检点位"} <= set(frame.columns)
    assert not [c for c in frame.columns if re.fullmatch(r"[a-z_]+", c)], list(frame.columns)
    for column in frame.select_dtypes("float").columns:
        values = frame[column].dropna()
        assert (values.round(2) == values).all(), (column, values.tolist())
    assert frame["点位覆盖率 %"].notna().any()

    book = pd.read_excel(io.BytesIO(downloads[xlsx_name]), sheet_name=None)
    assert list(book)[-1] == "说明"
    assert book["说明"].iloc[0, 0].startswith("数据来源与署名：")
    for name, sheet in book.items():
        english = [c for c in sheet.columns if re.fullmatch(r"[a-z_]+", str(c))]
        assert not english, (name, english)
