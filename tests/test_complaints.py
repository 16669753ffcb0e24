"""Complaints: intake matched to the nearest registry site, response deadlines by urgency, a check
task (a night check for night-time problems), and closing only with a later visit and a reply."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import geopandas as gpd
import pytest
from records_backends import REFUSED
from shapely.geometry import Point, box

from layers.schema import WGS84
from records import audit, complaints, tasks, visits
from records.db import LOCAL_TZ, RecordsError, connect

#: A point source and, 2 km east of it, a small water-source zone.
SITES = gpd.GeoDataFrame(
    {"site_id": ["PS-1", "WS-1"], "name": ["plant", "zone"], "layer": ["pollution_source", "water_source"]},
    geometry=[Point(87.60, 43.80), box(87.625, 43.79, 87.635, 43.81)],
    crs=WGS84,
)

pytestmark = pytest.mark.records
RECEIVED = dt.datetime(2026, 12, 2, 23, 10, tzinfo=LOCAL_TZ)


@pytest.fixture
def conn(tmp_path, new_db):
    connection = connect(new_db("records"))
    yield connection
    connection.close()


def _visit(conn, site: str, start: dt.datetime, outcome: str = "compliant") -> int:
    visit = visits.Visit(site, "T1", start, start + dt.timedelta(hours=1), outcome)
    return visits.record_visit(conn, visit, "officer1")


def test_coordinates_are_matched_to_the_nearest_site_within_the_radius():
    near = complaints.nearest_sites(SITES, 87.603, 43.80)
    assert near["site_id"].tolist() == ["PS-1", "WS-1"]
    assert near["distance_m"].iloc[0] == pytest.approx(241, abs=5)
    inside = complaints.nearest_sites(SITES, 87.63, 43.80)
    assert inside["site_id"].iloc[0] == "WS-1" and inside["distance_m"].iloc[0] == 0
    assert complaints.nearest_sites(SITES, 87.80, 43.80).empty


def test_intake_sets_the_deadline_by_urgency_and_a_check_or_night_check_task(conn):
    urgent_night = complaints.add_complaint(
        conn,
        complaints.Complaint(
            RECEIVED, "solvent smell after midnight", lon=87.603, lat=43.80, night=True, urgent=True
        ),
        sites=SITES,
        actor="clerk",
    )
    normal = complaints.add_complaint(
        conn,
        complaints.Complaint(RECEIVED, "dust on the road", channel="letter", site_id="WS-1"),
        sites=SITES,
        actor="clerk",
    )
    frame = complaints.complaints_frame(conn).set_index("complaint_id")
    assert frame.loc[urgent_night, "site_id"] == "PS-1" and frame.loc[urgent_night, "distance_m"] > 0
    assert frame.loc[urgent_night, "respond_by"] - frame.loc[urgent_night, "received_at"] == dt.timedelta(
        hours=24
    )
    assert frame.loc[normal, "respond_by"] - frame.loc[normal, "received_at"] == dt.timedelta(days=7)
    by_complaint = tasks.tasks_frame(conn).set_index("complaint_id")
    assert by_complaint.loc[urgent_night, "kind"] == "night_check"
    assert by_complaint.loc[normal, "kind"] == "complaint_check"
    assert by_complaint.loc[urgent_night, "reason"] == (
        f"night check of complaint {urgent_night} (12369: solvent smell after midnight), respond by 12-03 23:10"
    )
    assert audit.entries(conn, action="complaint.add")["object"].tolist() == [
        f"complaint:{urgent_night}",
        f"complaint:{normal}",
    ]


@pytest.mark.parametrize(
    ("complaint", "message"),
    [
        (complaints.Complaint(RECEIVED, "odour"), "give a registry site id or coordinates"),
        (complaints.Complaint(RECEIVED, "odour", site_id="PS-1", lon=87.6, lat=43.8), "not both"),
        (complaints.Complaint(RECEIVED, " ", site_id="PS-1"), "nature: empty"),
        (
            complaints.Complaint(RECEIVED, "odour", site_id="PS-1", channel="fax"),
            "channel: 'fax' is not one of",
        ),
        (complaints.Complaint(RECEIVED, "odour", site_id="PS-9"), "site: 'PS-9' is not in the site registry"),
        (
            complaints.Complaint(RECEIVED, "odour", lon=87.9, lat=43.8),
            "lon/lat: no registry site within 3 km",
        ),
        (complaints.Complaint(RECEIVED, "odour", lon=120.0, lat=30.0), "is outside Xinjiang"),
    ],
)
def test_bad_intake_is_refused_naming_the_field(conn, complaint, message):
    with pytest.raises(RecordsError, match=message):
        complaints.add_complaint(conn, complaint, sites=SITES, actor="clerk")
    assert complaints.complaints_frame(conn).empty and tasks.tasks_frame(conn).empty


def test_closing_needs_a_later_visit_at_the_site_and_a_reply(conn):
    complaint_id = complaints.add_complaint(
        conn, complaints.Complaint(RECEIVED, "black water", site_id="PS-1"), sites=SITES, actor="clerk"
    )
    before = _visit(conn, "PS-1", RECEIVED - dt.timedelta(days=1))
    elsewhere = _visit(conn, "WS-1", RECEIVED + dt.timedelta(hours=10))
    checked = _visit(conn, "PS-1", RECEIVED + dt.timedelta(hours=12), outcome="violation")
    assert tasks.tasks_frame(conn).empty  # the check visit served the task
    with pytest.raises(RecordsError, match="must start after it was received"):
        complaints.close_complaint(conn, complaint_id, before, "done", "clerk")
    with pytest.raises(RecordsError, match="was at WS-1, the complaint is about PS-1"):
        complaints.close_complaint(conn, complaint_id, elsewhere, "done", "clerk")
    with pytest.raises(RecordsError, match="reply: empty"):
        complaints.close_complaint(conn, complaint_id, checked, "  ", "clerk")
    with pytest.raises(REFUSED, match="closes only with a visit at its site after it was received"):
        conn.execute("UPDATE complaints SET state = 'closed', visit_id = ?, reply = 'x'", (before,))
    complaints.close_complaint(conn, complaint_id, checked, "Discharge stopped; case opened.", "clerk")
    row = complaints.complaints_frame(conn).iloc[0]
    assert (row["state"], row["visit_id"]) == ("closed", checked)
    with pytest.raises(RecordsError, match="already closed"):
        complaints.close_complaint(conn, complaint_id, checked, "again", "clerk")
    with pytest.raises(REFUSED, match="changes only once"):
        conn.execute("UPDATE complaints SET nature = 'something else'")
    assert audit.entries(conn, obj=f"complaint:{complaint_id}")["action"].tolist() == [
        "complaint.add",
        "complaint.close",
    ]


def test_a_night_complaint_closes_only_with_a_night_visit_which_also_serves_its_check(conn):
    # Both visits are entered before the complaint (received at 23:10 the day before, entered late),
    # so neither served the night check when it was recorded.
    day = _visit(conn, "PS-1", RECEIVED + dt.timedelta(hours=12))  # 11:10 next morning
    night = _visit(conn, "PS-1", RECEIVED + dt.timedelta(hours=1))  # 00:10
    complaint_id = complaints.add_complaint(
        conn,
        complaints.Complaint(RECEIVED, "solvent smell after midnight", site_id="PS-1", night=True),
        sites=SITES,
        actor="clerk",
    )
    (task_id,) = tasks.tasks_frame(conn)["task_id"].tolist()
    with pytest.raises(RecordsError, match=f"visit: {day} started at 11:10, but complaint .* at night"):
        complaints.close_complaint(conn, complaint_id, day, "nothing smelt", "clerk")
    assert complaints.complaints_frame(conn, "open")["complaint_id"].tolist() == [complaint_id]
    assert tasks.tasks_frame(conn)["task_id"].tolist() == [task_id]

    complaints.close_complaint(conn, complaint_id, night, "Odour confirmed at night.", "clerk")
    assert tasks.tasks_frame(conn).empty  # the closed complaint leaves no check for the planner
    done = tasks.tasks_frame(conn, "done").iloc[0]
    assert (done["task_id"], done["visit_id"]) == (task_id, night)
    assert audit.entries(conn, obj=f"task:{task_id}")["action"].tolist() == ["task.open", "task.done"]


def test_cli_adds_lists_and_closes_a_complaint(tmp_path, new_db):
    db = str(new_db("records"))

    def records(*argv: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "records", *argv, "--db", db, "--actor", "clerk"]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    # PS-00003 of the shipped registry is at (87.660349, 43.748888); this point is ~400 m east.
    added = records(
        "complaint", "add", "--received", "2026-12-02T23:10", "--lon", "87.6655", "--lat", "43.7489",
        "--nature", "solvent smell", "--night", "--urgent", "--channel", "online",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "complaint 1 at PS-00003" in added.stdout and "respond by 2026-12-03 23:10" in added.stdout
    assert "night_check" in records("tasks").stdout
    both = records(
        "complaint",
        "add",
        "--received",
        "2026-12-02",
        "--site",
        "PS-00003",
        "--lon",
        "87.6",
        "--lat",
        "43.7",
        "--nature",
        "x",
    )
    assert both.returncode == 1 and "not both" in both.stderr
    visit = records(
        "record-visit", "--site", "PS-00003", "--team", "T2", "--start", "2026-12-02T23:40",
        "--end", "2026-12-03T00:20", "--outcome", "compliant",
    )  # fmt: skip
    assert visit.returncode == 0, visit.stderr
    assert records("tasks").stdout.strip() == "no tasks"
    closed = records("complaint", "close", "1", "--visit", "1", "--reply", "Checked at night: no odour.")
    assert closed.returncode == 0, closed.stderr
    assert "closed" in records("complaint", "list", "--state", "closed").stdout
