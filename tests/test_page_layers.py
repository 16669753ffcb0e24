"""AppTest of the Layers page: filters, the site card, and the import with its row-by-row report."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from dashboard_fixtures import account_for
from layer_samples import every_defect_rows, points_as_csv_rows, private_data_copy, valid_points, write_csv
from streamlit.testing.v1 import AppTest

from layers.datasets import REPO_ROOT, load_targets
from views.vocabulary import all_codes, text

NOW = "2026-11-20T15:00:00+08:00"


def _page() -> None:
    from views.pages.layers_page import render

    render()


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of the shipped data and an empty records database."""
    copy = private_data_copy(tmp_path, monkeypatch)
    monkeypatch.setenv("XUNHU_DB", str(tmp_path / "records.sqlite"))
    monkeypatch.setenv("XUNHU_NOW", NOW)
    # The registry cache is process-wide: start from this copy.
    from views import data
    from views.pages.layers_page import scored_targets

    data.targets.clear()
    scored_targets.clear()
    yield copy
    # ... and leave no trace of it for the next test module (e.g. a planner run on the registry).
    data.targets.clear()
    scored_targets.clear()


def _fingerprint(directory) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((directory / "registry").iterdir())
    }


def _run(role: str, lang: str = "en", **state: object) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state["account"] = account_for(
        role,
        detachment="650100" if role in ("chief", "officer") else None,
        team_id="T1" if role == "officer" else None,
    )
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _targets_table(at: AppTest) -> pd.DataFrame:
    (frame,) = [df.value for df in at.dataframe if "priority_overdue" in df.value.columns]
    return frame


def test_filters_reduce_rows(data_copy):
    registry = load_targets()
    # Chinese: AppTest formats a set value with the page's format_func outside the page run, where
    # the session language is not visible and the default (Chinese) applies.
    at = _run("manager", lang="zh")
    assert not at.exception
    assert len(_targets_table(at)) == len(registry)
    at.multiselect(key="layers.layer.zh").set_value(["pollution_source"]).run()
    at.multiselect(key="layers.category.zh").set_value(["key"]).run()
    expected = registry[(registry["layer"] == "pollution_source") & (registry["category"] == "key")]
    table = _targets_table(at)
    assert sorted(table["site_id"]) == sorted(expected["site_id"])
    # Highest priority first, and the parts add up to it.
    assert table["priority"].is_monotonic_decreasing
    parts = table[[c for c in table.columns if c.startswith("priority_")]].sum(axis=1)
    assert (parts - table["priority"]).abs().max() < 1e-9
    name = expected["name"].iloc[0]
    at.text_input(key="layers.search").input(name).run()
    table = _targets_table(at)
    assert 1 <= len(table) < len(expected)
    assert table["name"].str.contains(name, regex=False).all()


def test_selecting_a_site_shows_its_card_and_zooms(data_copy):
    at = _run("officer")
    site = _targets_table(at)["site_id"].iloc[0]
    at.selectbox(key="layers.site").set_value(site).run()
    assert not at.exception
    assert any(site in md.value for md in at.markdown)
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    point = load_targets().set_index("site_id").loc[site, "geometry"].representative_point()
    assert args["zoom"] == 11
    assert args["center"] == pytest.approx([point.y, point.x])
    # Officers and managers browse; importing is refused politely.
    assert any("Only detachment chiefs and admins" in info.value for info in at.info)
    assert not at.file_uploader


def test_defective_csv_is_reported_row_by_row_and_not_imported(data_copy, tmp_path):
    before = _fingerprint(data_copy)
    content = write_csv(tmp_path / "bad.csv", every_defect_rows()).read_bytes()
    at = _run("chief")
    at.file_uploader(key="layers.upload").upload("bad.csv", content, "text/csv").run()
    assert not at.exception
    (errors,) = [df.value for df in at.dataframe if "reason" in df.value.columns]
    assert list(errors.columns) == ["file", "row", "field", "value", "reason"]
    assert (errors["file"] == "bad.csv").all()
    assert len(errors) >= 19
    # Each defect is on its own CSV line (3..21; line 2 is the valid row); spot-check fields.
    by_line = errors.groupby("row")["field"].apply(set)
    assert "lon" in by_line[3] and "category" in by_line[9] and "risk_level" in by_line[18]
    button = at.button(key="layers.do_import")
    assert button.disabled
    assert any("cannot be imported" in e.value for e in at.error)
    assert _fingerprint(data_copy) == before


def test_valid_file_imports(data_copy, tmp_path):
    before = _fingerprint(data_copy)
    content = write_csv(tmp_path / "good.csv", points_as_csv_rows(valid_points())).read_bytes()
    at = _run("admin")
    at.file_uploader(key="layers.upload").upload("good.csv", content, "text/csv").run()
    assert not at.exception
    assert any("The file is valid: 3 targets" in s.value for s in at.success)
    button = at.button(key="layers.do_import")
    assert not button.disabled
    button.click().run()
    assert not at.exception
    assert any("Imported good.csv: 3 added" in s.value for s in at.success)
    assert _fingerprint(data_copy) != before
    stored = set(load_targets()["site_id"])
    assert set(valid_points()["site_id"]) <= stored
    # The page reads the new registry at once (its cache was cleared).
    at.text_input(key="layers.search").input("PS-T00").run()
    assert set(_targets_table(at)["site_id"]) == {"PS-T001", "PS-T002"}


def test_table_and_chips_name_codes_in_the_page_language(data_copy):
    registry = load_targets().set_index("site_id")
    for lang in ("zh", "en"):
        at = _run("manager", lang=lang)
        table = _targets_table(at).set_index("site_id")
        for column in ("layer", "kind", "category", "status"):
            expected = [text(column, code, lang) for code in registry.loc[table.index, column]]
            assert list(table[column]) == expected, column
        if lang == "zh":
            assert not set(table[["layer", "kind", "category", "status"]].to_numpy().ravel()) & all_codes()
        kinds = at.multiselect(key=f"layers.kind.{lang}")
        assert text("kind", "key_discharge_unit", lang) in kinds.options


def test_an_office_register_in_excel_with_chinese_headers_imports_from_the_page(data_copy):
    """The chief uploads the permit system's .xlsx (only Chinese headers, DMS, no site_id column)."""
    office = REPO_ROOT / "tests" / "data" / "office"
    content = (office / "permit_register.xlsx").read_bytes()
    at = _run("chief", lang="zh")
    at.selectbox(key="layers.target_layer.zh").select("pollution_source").run()
    at.file_uploader(key="layers.upload").upload(
        "排污单位名录.xlsx", content, "application/vnd.ms-excel"
    ).run()
    assert not at.exception
    at.button(key="layers.do_import").click().run()
    assert not at.exception
    assert any("排污单位名录.xlsx" in s.value for s in at.success)
    stored = load_targets()
    names = set(stored.loc[stored["site_id"].str.startswith("PS-9165"), "name"])
    assert "米东区测试化工有限公司" in names  # id from the credit code, Chinese name intact


def test_positions_picked_on_baidu_are_converted_when_the_chief_says_so(data_copy):
    office = REPO_ROOT / "tests" / "data" / "office"
    content = (office / "picked_bd09.csv").read_bytes()
    at = _run("chief", lang="zh")
    at.selectbox(key="layers.target_layer.zh").select("pollution_source").run()
    at.selectbox(key="layers.datum.zh").select("bd09").run()
    at.file_uploader(key="layers.upload").upload("picked.csv", content, "text/csv").run()
    at.button(key="layers.do_import").click().run()
    assert not at.exception
    stored = load_targets().set_index("name")
    point = stored.loc["米东区测试化工有限公司", "geometry"]
    # The true position of this unit (tests/data/office/make_corpus.py TRUTH) is within metres.
    assert abs(point.x - 87.6550) < 1e-4 and abs(point.y - 43.9610) < 1e-4


def test_the_chief_card_shows_last_visits_with_outcomes_and_the_open_case(data_copy):
    """事前研判 on the chief's card: the site's recorded visits with outcomes, then its open case."""
    import datetime as dt

    from records.cases import open_case
    from records.db import LOCAL_TZ
    from records.store import open_store
    from records.visits import Visit

    at = _run("chief")
    site = str(_targets_table(at)["site_id"].iloc[0])
    start = dt.datetime(2026, 11, 12, 10, 0, tzinfo=LOCAL_TZ)
    with open_store() as store:
        store.record_visit(Visit(site, "T1", start, start + dt.timedelta(hours=1), "compliant"), actor="o")
        later = start + dt.timedelta(days=5)
        violation = store.record_visit(
            Visit(site, "T2", later, later + dt.timedelta(hours=1), "violation", notes="bypass pipe"),
            actor="o",
        )
        case = open_case(store.conn, violation, "illegal_discharge", actor="chief")
    at.selectbox(key="layers.site").set_value(site).run()
    assert not at.exception
    lines = [t.value for t in at.text]
    assert lines[:2] == ["Visit 2026-11-17 (T2): violation — bypass pipe", "Visit 2026-11-12 (T1): compliant"]
    assert any(line.startswith(f"Case {case['case_no']}: ") for line in lines[2:])
