"""A site's dossier and the per-region closing-the-loop figures equal what the tables say."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers.schema import WGS84
from records import cases, complaints, loop_figures, visits
from records.db import LOCAL_TZ, connect

REGIONS = {"A-1": "650100", "A-2": "650100", "B-1": "652800"}
SITES = gpd.GeoDataFrame(
    {"site_id": list(REGIONS), "name": list(REGIONS)},
    geometry=[Point(87.6, 43.8), Point(87.7, 43.8), Point(86.1, 41.7)],
    crs=WGS84,
)

pytestmark = pytest.mark.records
NOW = dt.datetime(2027, 1, 20, 12, 0, tzinfo=LOCAL_TZ)


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=LOCAL_TZ)


def _visit(conn, site: str, start: str, outcome: str) -> int:
    begin = _at(start)
    return visits.record_visit(
        conn, visits.Visit(site, "T1", begin, begin + dt.timedelta(hours=1), outcome), "o"
    )


@pytest.fixture
def conn(tmp_path, new_db):
    conn = connection = connect(new_db("records"))
    # two cases (a repeat offender), one closed on time after 9 days, one overdue and open.
    first = cases.open_case(
        conn,
        _visit(conn, "A-1", "2026-12-01T10:00", "violation"),
        "permit",
        rectify_by=dt.date(2026, 12, 15),
        actor="chief",
    )
    _visit(conn, "A-1", "2026-12-10T10:00", "compliant")
    cases.open_case(
        conn,
        _visit(conn, "A-1", "2026-12-20T10:00", "violation"),
        "other",
        rectify_by=dt.date(2027, 1, 5),
        actor="chief",
    )
    # a case closed late (deadline 12-05, verified 12-12), and a complaint closed on time.
    late = cases.open_case(
        conn,
        _visit(conn, "A-2", "2026-12-01T10:00", "violation"),
        "other",
        rectify_by=dt.date(2026, 12, 5),
        actor="chief",
    )
    cases.change_state(conn, late["case_no"], "rectifying", actor="chief")
    complaint = complaints.add_complaint(
        conn, complaints.Complaint(_at("2026-12-11T09:00"), "odour", site_id="A-2"), sites=SITES, actor="c"
    )
    checked = _visit(conn, "A-2", "2026-12-12T10:00", "compliant")
    complaints.close_complaint(conn, complaint, checked, "no odour found", "c")
    # B-1: an urgent complaint still open past its deadline.
    complaints.add_complaint(
        conn,
        complaints.Complaint(_at("2027-01-10T09:00"), "dust", site_id="B-1", urgent=True),
        sites=SITES,
        actor="c",
    )
    assert cases.find_case(conn, first["case_no"])["state"] == "closed"
    yield connection
    connection.close()


def test_region_figures_equal_counts_from_the_tables(conn):
    figures = loop_figures.region_figures(conn, REGIONS, NOW)
    # Counted straight from the tables: open cases and open complaints per region.
    for column, sql in (
        ("cases_open", "SELECT site_id, state IN ('open', 'rectifying') FROM cases"),
        ("complaints_open", "SELECT site_id, state = 'open' FROM complaints"),
    ):
        direct = dict.fromkeys(figures.index, 0)
        for site_id, is_open in conn.execute(sql):
            direct[REGIONS[site_id]] = direct.get(REGIONS[site_id], 0) + is_open
        assert figures[column].to_dict() == direct
    a, b = figures.loc["650100"], figures.loc["652800"]
    # A-2's case closed too, late: its follow-up task was served by the complaint's check visit.
    assert (a["cases_open"], a["cases_overdue"], a["cases_closed"], a["cases_closed_on_time"]) == (1, 1, 2, 1)
    assert a["case_on_time_rate"] == 0.5 and a["repeat_offenders"] == 1
    assert a["case_median_days_to_close"] == pytest.approx(10.0, abs=0.1)  # 9 and 11 days
    assert (a["complaints_closed"], a["complaints_closed_on_time"], a["complaint_on_time_rate"]) == (
        1,
        1,
        1.0,
    )
    assert (b["complaints_open"], b["complaints_overdue"], b["cases_open"], b["repeat_offenders"]) == (
        1,
        1,
        0,
        0,
    )


def test_the_dossier_lists_recent_visits_open_cases_complaints_and_tasks(conn):
    dossier = loop_figures.site_dossier(conn, "A-1", NOW)
    assert dossier["visits"]["outcome"].tolist() == ["violation", "compliant", "violation"]
    (case,) = dossier["cases"].itertuples()
    assert (case.case_no, case.overdue) == ("2026-0002", True)
    assert dossier["complaints"].empty
    assert dossier["tasks"]["reason"].tolist() == ["follow-up of case 2026-0002, due 01-05"]
    assert loop_figures.site_dossier(conn, "A-2", NOW)["complaints"]["state"].tolist() == ["closed"]
