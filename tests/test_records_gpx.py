"""GPX import: idempotent, clear rejections that store nothing, glitch filtering, inference, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pytest
from records_fixtures import SITE_LAT, SITE_LON, SITES, START, drive_and_dwell, dump, write_gpx

from layers.schema import WGS84
from records.backend import is_postgresql
from records.db import RecordsError
from records.infer import find_dwells
from records.store import open_store
from records.tracks import PAUSE_ENV, GpxError

pytestmark = pytest.mark.records

REPO = Path(__file__).resolve().parent.parent
N_FIXES = len(drive_and_dwell())


@pytest.fixture
def store(tmp_path, new_db):
    with open_store(new_db("records")) as opened:
        yield opened


def counts(store) -> tuple[int, int, int]:
    return tuple(
        store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("tracks", "track_points", "inferred_visits")
    )


def test_same_file_twice_gives_one_track_and_one_set_of_inferred_visits(store, tmp_path):
    gpx = write_gpx(tmp_path / "t1.gpx", drive_and_dwell())
    first = store.import_gpx(gpx, "T1", infer_with=SITES)
    [track] = first.tracks
    assert (track.status, track.n_points, track.n_dropped, track.inferred_visits) == (
        "imported",
        N_FIXES,
        0,
        1,
    )
    again = store.import_gpx(gpx, "T2", infer_with=SITES)  # other team, same content
    assert [t.status for t in again.tracks] == ["already imported"]
    assert again.tracks[0].track_id == track.track_id
    assert counts(store) == (1, N_FIXES, 1)
    assert store.infer_visits(SITES) == {track.track_id: 0}  # re-inference adds nothing
    inferred = store.visits(include_inferred=True)
    assert store.visits().empty  # driving past or dwelling is not an inspection
    assert inferred["source"].tolist() == ["inferred"]
    assert inferred["outcome"].tolist() == ["not_inspected"]
    assert inferred["site_id"].tolist() == ["PS0001"]
    # 15 min parked, plus the last approach fix and first departing fixes that are within 300 m.
    assert (
        timedelta(minutes=15)
        < (inferred["ended_at"] - inferred["started_at"]).iloc[0]
        < timedelta(minutes=17)
    )
    assert store.audit_log(action="track.import")["details"].iloc[0]["points"] == N_FIXES


def test_track_points_frame(store, tmp_path):
    store.import_gpx(write_gpx(tmp_path / "t.gpx", drive_and_dwell()), "T1", transport="vehicle")
    points = store.track_points()
    assert list(points.columns) == ["track_id", "team_id", "transport", "time", "lon", "lat"]
    assert str(points["time"].dt.tz) == "UTC"
    assert points["time"].iloc[0] == START
    window = store.track_points(since=START + timedelta(minutes=5), until=START + timedelta(minutes=10))
    assert len(window) == 10  # one fix every 30 s
    assert set(points["team_id"]) == {"T1"} and set(points["transport"]) == {"vehicle"}


def test_passing_by_or_a_short_stop_infers_nothing(store, tmp_path):
    short = write_gpx(tmp_path / "short.gpx", drive_and_dwell(dwell_minutes=5))
    assert store.import_gpx(short, "T1", infer_with=SITES).tracks[0].inferred_visits == 0
    assert store.import_gpx(short, "T1", infer_with=SITES).tracks[0].status == "already imported"


def test_dwell_inside_a_polygon_site_counts(tmp_path):
    times = [START + timedelta(minutes=m) for m in range(0, 21)]
    inside = gpd.GeoDataFrame(
        {"time": times}, geometry=gpd.points_from_xy([87.685] * 21, [43.82] * 21), crs=WGS84
    )
    [dwell] = find_dwells(inside, SITES, radius_m=300, min_dwell_minutes=10)
    assert (dwell["site_id"], dwell["min_distance_m"], dwell["dwell_minutes"]) == ("WS0001", 0.0, 20.0)
    far = inside.set_geometry(gpd.points_from_xy([87.70] * 21, [43.82] * 21), crs=WGS84)  # ~800 m east
    assert find_dwells(far, SITES, radius_m=300) == []
    assert len(find_dwells(far, SITES, radius_m=1000)) == 1


def test_impossible_fixes_are_dropped_and_counted(store, tmp_path):
    points = drive_and_dwell()
    points[10] = (points[10][0], SITE_LON + 0.5, SITE_LAT)  # a 40 km jump within 30 s
    points[0] = (points[0][0], SITE_LON - 1.0, SITE_LAT + 0.5)  # a glitch as the very first fix
    result = store.import_gpx(write_gpx(tmp_path / "glitch.gpx", points), "T1")
    assert (result.tracks[0].n_points, result.tracks[0].n_dropped) == (N_FIXES - 2, 2)
    stored = store.track_points()
    assert stored["lon"].max() < SITE_LON + 0.1


def test_speed_limit_depends_on_transport(store, tmp_path):
    gpx = write_gpx(tmp_path / "drive.gpx", drive_and_dwell())  # ~36 km/h while driving
    with pytest.raises(GpxError, match="fewer than 2 believable fixes|outside"):
        store.import_gpx(gpx, "T1", transport="foot")
    assert counts(store) == (0, 0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "<gpx><trk><trkseg><trkpt lat='43.8' lon='87.6'><time>2026-11-24T02:00:00Z</time>",
            "not a valid GPX",
        ),
        ("this is not xml", "not a valid GPX"),
        ("<?xml version='1.0'?><gpx version='1.1'><wpt lat='43.8' lon='87.6'/></gpx>", "no track points"),
    ],
)
def test_malformed_files_are_rejected_and_nothing_is_stored(store, tmp_path, content, message):
    store.import_gpx(write_gpx(tmp_path / "ok.gpx", drive_and_dwell()), "T1", infer_with=SITES)
    before = dump(store.path)
    bad = tmp_path / "bad.gpx"
    bad.write_text(content)
    with pytest.raises(GpxError, match=message) as error:
        store.import_gpx(bad, "T1", infer_with=SITES)
    assert str(bad) in str(error.value)
    assert dump(store.path) == before


def test_half_written_file_is_rejected(store, tmp_path):
    full = write_gpx(tmp_path / "full.gpx", drive_and_dwell()).read_text()
    half = tmp_path / "half.gpx"
    half.write_text(full[: len(full) // 2])
    before = dump(store.path)
    with pytest.raises(GpxError, match="half.gpx: not a valid GPX file, perhaps truncated"):
        store.import_gpx(half, "T1")
    assert dump(store.path) == before


def test_track_without_time_stamps_is_rejected(store, tmp_path):
    gpx = write_gpx(tmp_path / "notime.gpx", drive_and_dwell(), timed=False)
    before = dump(store.path)
    with pytest.raises(GpxError, match=f"{N_FIXES} of {N_FIXES} points have no time stamp"):
        store.import_gpx(gpx, "T1")
    assert dump(store.path) == before


def test_track_in_the_wrong_place_is_rejected(store, tmp_path):
    beijing = [(t, lon - 87.62 + 116.40, lat - 43.82 + 39.90) for t, lon, lat in drive_and_dwell()]
    before = dump(store.path)
    with pytest.raises(GpxError, match=f"{N_FIXES} of {N_FIXES} fixes lie outside Xinjiang"):
        store.import_gpx(write_gpx(tmp_path / "beijing.gpx", beijing), "T1")
    assert dump(store.path) == before


def test_one_bad_track_rejects_the_whole_file(store, tmp_path):
    import gpxpy

    path = write_gpx(tmp_path / "two.gpx", drive_and_dwell())
    gpx = gpxpy.parse(path.read_text())
    beijing = write_gpx(tmp_path / "b.gpx", [(t, x + 29, y - 4) for t, x, y in drive_and_dwell()])
    gpx.tracks.append(gpxpy.parse(beijing.read_text()).tracks[0])
    path.write_text(gpx.to_xml())
    with pytest.raises(GpxError, match="outside Xinjiang"):
        store.import_gpx(path, "T1")
    assert counts(store) == (0, 0, 0)


def test_cli_reports_each_file_and_exits_1_on_rejection(tmp_path, new_db):
    good = write_gpx(tmp_path / "good.gpx", drive_and_dwell())
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx>")
    env = {**os.environ, "XUNHU_DB": str(new_db("cli"))}
    command = [sys.executable, "-m", "records", "import-gpx", "--team", "T1", "--no-infer"]
    run = subprocess.run(
        [*command, str(good), str(bad)], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert run.returncode == 1
    assert f"imported as track 1: {N_FIXES} points, 0 impossible fixes dropped" in run.stdout
    assert "rejected:" in run.stderr and "bad.gpx: not a valid GPX" in run.stderr
    assert "Traceback" not in run.stderr
    again = subprocess.run(
        [*command, str(good)], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert again.returncode == 0 and "already imported (track 1)" in again.stdout


def test_killed_import_leaves_the_database_unchanged(tmp_path, new_db):
    db = new_db("kill")
    with open_store(db) as store:
        store.import_gpx(write_gpx(tmp_path / "first.gpx", drive_and_dwell()), "T1")
    before = dump(db)
    day = [(START + timedelta(days=1, seconds=5 * i), 87.0 + 0.0004 * i, 43.5) for i in range(5000)]
    big = write_gpx(tmp_path / "big.gpx", day)
    env = {**os.environ, "XUNHU_DB": str(db), PAUSE_ENV: "60"}
    command = [sys.executable, "-m", "records", "import-gpx", str(big), "--team", "T1", "--no-infer"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr.readline().strip() == "import paused inside transaction"
        # The track and its points are written by now, inside the open transaction.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    if not is_postgresql(db):  # the file itself survived the kill (a server has its own WAL)
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    assert dump(db) == before
    with open_store(db) as store:  # and the same file then imports cleanly
        assert store.import_gpx(big, "T1").tracks[0].n_points == 5000


def test_unknown_transport_is_refused(store, tmp_path):
    with pytest.raises(RecordsError, match="transport"):
        store.import_gpx(write_gpx(tmp_path / "t.gpx", drive_and_dwell()), "T1", transport="camel")


def with_bad_value(path: Path, field: str, value: str, point: int = 3) -> Path:
    """Rewrite the ``point``-th track point (1-based) of a write_gpx file with ``field`` = value."""
    import gpxpy

    gpx = gpxpy.parse(path.read_text())
    target = gpx.tracks[0].segments[0].points[point - 1]
    target.latitude, target.longitude, target.elevation = 11.125, 22.375, 33.5  # unique markers
    text = gpx.to_xml()
    text = {
        "lat": text.replace('lat="11.125"', f'lat="{value}"'),
        "lon": text.replace('lon="22.375"', f'lon="{value}"'),
        "ele": text.replace("<ele>33.5</ele>", f"<ele>{value}</ele>"),
    }[field]
    assert value in text
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("lat", "inf", "lat=inf is not a finite number"),
        ("lat", "nan", "lat=nan is not a finite number"),
        ("lon", "-Infinity", "lon=-inf is not a finite number"),
        ("lat", "1e400", "lat=inf is not a finite number"),
        ("ele", "nan", "ele=nan is not a finite number"),
        ("lat", "91", r"lat=91.0 is out of range \(-90 to 90\)"),
        ("lon", "-180.5", r"lon=-180.5 is out of range \(-180 to 180\)"),
    ],
)
def test_non_finite_or_out_of_range_coordinates_are_rejected(store, tmp_path, field, value, reason):
    store.import_gpx(write_gpx(tmp_path / "ok.gpx", drive_and_dwell()), "T1", infer_with=SITES)
    before = dump(store.path)
    bad = with_bad_value(write_gpx(tmp_path / "bad.gpx", drive_and_dwell(dwell_minutes=5)), field, value)
    with pytest.raises(GpxError, match=f"day 1: point 3 \\(line \\d+\\): {reason}") as error:
        store.import_gpx(bad, "T1", infer_with=SITES)
    assert str(bad) in str(error.value)
    line = int(str(error.value).split("(line ")[1].split(")")[0])
    assert "trkpt" in bad.read_text().splitlines()[line - 1]
    assert dump(store.path) == before


def test_cli_rejects_a_non_finite_file_and_imports_the_others(tmp_path, new_db):
    bad = with_bad_value(write_gpx(tmp_path / "inf.gpx", drive_and_dwell(dwell_minutes=5)), "lat", "inf")
    nan = with_bad_value(write_gpx(tmp_path / "nan.gpx", drive_and_dwell(dwell_minutes=6)), "lon", "nan")
    good = write_gpx(tmp_path / "good.gpx", drive_and_dwell())
    db = new_db("cli")
    env = {**os.environ, "XUNHU_DB": str(db)}
    command = [sys.executable, "-m", "records", "import-gpx", "--team", "T1", "--no-infer"]
    run = subprocess.run(
        [*command, str(bad), str(good), str(nan)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert [line for line in lines if "inf.gpx: day 1" in line] == [
        f"rejected: {bad}: day 1: point 3 (line "
        + lines[0].split("(line ")[1].split(")")[0]
        + "): lat=inf is not a finite number; file not imported"
    ]
    assert any(line.startswith(f"rejected: {nan}: day 1: point 3") and "lon=nan" in line for line in lines)
    assert lines[-1] == f"2 of 3 files rejected, nothing stored from them: {bad}, {nan}"
    assert f"good.gpx: day 1: imported as track 1: {N_FIXES} points" in run.stdout
    with open_store(db) as store:
        assert counts(store) == (1, N_FIXES, 0)
        assert store.track_points()["lat"].between(-90, 90).all()
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert ok.returncode == 0 and "already imported (track 1)" in ok.stdout
    assert "rejected" not in ok.stderr
