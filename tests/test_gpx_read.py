"""GPX logs as devices write them: declared encodings, sub-second times, cold starts, zones, datums."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from records_fixtures import dump, write_gpx

from layers.gcj02 import gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from records.gpx_read import GpxError, decode_gpx, read_gpx_file
from records.store import open_store
from records.tracks import TrackResult, clean_track, read_gpx

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "gpx"
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
LON, LAT = 87.60, 43.82


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "records.sqlite") as opened:
        yield opened


def stored_points(store) -> list[tuple]:
    return store.conn.execute("SELECT time_s, lon, lat FROM track_points ORDER BY track_id, seq").fetchall()


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Haversine distance, metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


# --- encodings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding", "track"),
    [
        ("gbk.gpx", "gb18030", "米东区巡护 第1天"),
        ("gb2312_declared.gpx", "gb18030", "巡护 镕 第2天"),  # 镕 is GBK, not GB2312
        ("iso8859_1.gpx", "iso8859-1", "Départ Ürümqi"),
        ("utf16_bom.gpx", "utf-16-le", "乌鲁木齐 UTF-16"),
    ],
)
def test_declared_encodings_import_with_their_names_intact(store, name, encoding, track):
    read = read_gpx_file(DATA / name)
    assert read.encoding == encoding
    [result] = store.import_gpx(DATA / name, "T1").tracks
    assert (result.name, result.status, result.n_points, result.n_dropped) == (track, "imported", 20, 0)
    assert store.conn.execute("SELECT name FROM tracks").fetchone()[0] == track


def test_encodings_of_one_track_give_one_hash():
    """The same fixes in GBK and in UTF-16 are the same track (a second import is a no-op)."""
    assert read_gpx(DATA / "gbk.gpx")[0].sha256 == read_gpx(DATA / "utf16_bom.gpx")[0].sha256


def test_utf16_without_bom_and_utf8_with_bom_are_read():
    text = (DATA / "gbk.gpx").read_bytes().decode("gbk").replace('encoding="GBK"', 'encoding="UTF-16"')
    assert decode_gpx(text.encode("utf-16-be"))[0].startswith("<?xml")
    assert "米东区" in decode_gpx(text.encode("utf-16-be"))[0]
    assert decode_gpx(b"\xef\xbb\xbf" + text.encode("utf-8"))[1] == "utf-8"
    assert "米东区" in decode_gpx(text.replace('encoding="UTF-16"', "").encode("utf-8"))[0]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [("2026-13-45T10:00:00Z", "time='2026-13-45T10:00:00Z' is not an ISO 8601"), ("", "time='' is")],
)
def test_an_unreadable_time_is_refused_naming_point_line_and_value(store, tmp_path, bad, reason):
    text = (DATA / "five_hz.gpx").read_text().replace("2026-11-24T02:00:01.400Z", bad)
    (path := tmp_path / "bad_time.gpx").write_text(text)
    with pytest.raises(
        GpxError, match=rf"bad_time.gpx: 5 Hz: point 8 \(line 13\): {reason}.*1 of 300 points"
    ) as e:
        store.import_gpx(path, "T1")
    assert "file not imported" in str(e.value) and stored_points(store) == []


def test_utf16_declared_but_written_in_utf8_is_read_as_utf8():
    text = (DATA / "gbk.gpx").read_bytes().decode("gbk").replace('encoding="GBK"', 'encoding="UTF-16"')
    decoded, encoding = decode_gpx(text.encode("utf-8"))
    assert encoding == "utf-8" and "米东区巡护" in decoded


def test_wrongly_declared_or_unknown_encoding_is_refused_naming_the_line(store, tmp_path):
    before = dump(store.path)
    liar = tmp_path / "liar.gpx"  # says UTF-8, is GBK (the usual mistake)
    liar.write_bytes((DATA / "gbk.gpx").read_bytes().replace(b'encoding="GBK"', b'encoding="UTF-8"'))
    with pytest.raises(
        GpxError, match=r"liar.gpx: line 4 \(byte \d+\) is not valid UTF-8 \(declared \"UTF-8\"\)"
    ):
        store.import_gpx(liar, "T1")
    unknown = tmp_path / "unknown.gpx"
    unknown.write_bytes((DATA / "gbk.gpx").read_bytes().replace(b'encoding="GBK"', b'encoding="KLINGON-8"'))
    with pytest.raises(GpxError, match="unknown.gpx: declares encoding 'KLINGON-8', which is not a known"):
        store.import_gpx(unknown, "T1")
    assert dump(store.path) == before


# --- sub-second times ------------------------------------------------------------------------------


def test_five_hz_log_keeps_every_fix_with_its_fraction(store):
    [result] = store.import_gpx(DATA / "five_hz.gpx", "T1").tracks
    assert (result.n_points, result.n_dropped) == (300, 0)
    times = [row[0] for row in stored_points(store)]
    expected = START.timestamp() + 0.2 * np.arange(300)
    assert np.allclose(times, expected, atol=1e-6, rtol=0)
    # SQLite keeps the fraction in the INTEGER-affinity column (as REAL); whole seconds stay integers.
    kinds = dict(
        store.conn.execute("SELECT typeof(time_s), count(*) FROM track_points GROUP BY 1").fetchall()
    )
    assert kinds == {"integer": 60, "real": 240}
    frame = store.track_points()
    # (read back through float seconds: exact to well under a microsecond)
    assert abs(frame["time"].iloc[1] - (START + timedelta(milliseconds=200))) < timedelta(microseconds=1)
    assert frame["time"].is_monotonic_increasing and frame["time"].is_unique
    # A window in whole seconds holds the fixes in it, fractions included.
    assert (
        len(store.track_points(since=START + timedelta(seconds=1), until=START + timedelta(seconds=2))) == 5
    )


def test_five_hz_walk_with_receiver_jitter_keeps_its_fixes(store, tmp_path):
    """At 5 Hz a walker moves 0.3 m a fix while the fix wanders by metres: not 'impossible'."""
    rng = np.random.default_rng(7)
    points = [
        (
            START + timedelta(milliseconds=200 * i),
            LON + 0.3 * i / 80_300 + rng.normal(0, 2) / 80_300,
            LAT + rng.normal(0, 2) / 111_000,
        )
        for i in range(500)
    ]
    [result] = store.import_gpx(write_gpx(tmp_path / "walk.gpx", points), "T1", transport="foot").tracks
    assert (result.n_points, result.n_dropped) == (500, 0)


def test_whole_second_tracks_hash_as_before():
    """A track of whole seconds hashes exactly as before fractions were kept (re-import is a no-op)."""
    track = read_gpx(DATA / "gbk.gpx")[0]

    old = hashlib.sha256()
    for t, x, y in zip(track.time_s.astype(np.int64).tolist(), track.lon, track.lat, strict=True):
        old.update(f"{t},{x:.7f},{y:.7f}\n".encode())
    assert track.sha256 == old.hexdigest()


def test_reimporting_a_five_hz_log_is_a_no_op(store):
    first = store.import_gpx(DATA / "five_hz.gpx", "T1").tracks[0]
    again = store.import_gpx(DATA / "five_hz.gpx", "T1").tracks[0]
    assert (again.status, again.track_id) == ("already imported", first.track_id)
    assert len(stored_points(store)) == 300


# --- cold starts, sentinel dates, one-point tracks ------------------------------------------------


def test_leading_null_island_fixes_are_dropped_and_the_track_kept(store):
    [result] = store.import_gpx(DATA / "cold_start.gpx", "T1").tracks
    assert (result.n_points, result.n_dropped, result.n_cold_start, result.n_impossible) == (200, 5, 5, 0)
    points = stored_points(store)
    assert min(lon for _, lon, _ in points) == pytest.approx(LON)
    assert tuple(store.conn.execute("SELECT n_points, n_dropped FROM tracks").fetchone()) == (200, 5)


def test_992_good_fixes_after_5_null_fixes_all_survive(tmp_path):
    """The issue's case: five 0,0 fixes before 992 good ones used to keep the 0,0 and drop the rest."""
    null = [(START + timedelta(seconds=i), 0.0, 0.0) for i in range(5)]
    good = [(START + timedelta(seconds=5 + 2 * i), LON + 20 * i / 80_300, LAT) for i in range(992)]
    trailing = [(START + timedelta(seconds=2000 + i), 0.0, 0.0) for i in range(3)]
    [track] = read_gpx(write_gpx(tmp_path / "t.gpx", null + good + trailing))
    cleaned = clean_track(track, "vehicle")
    assert (len(cleaned.track.time_s), cleaned.n_cold_start, cleaned.n_impossible) == (992, 8, 0)


def test_converging_fixes_far_off_before_the_track_are_cold_start(tmp_path):
    """A receiver first reports its last position (here 30 km off), then converges."""
    stale = [(START + timedelta(seconds=i), LON - 0.4, LAT + 0.1) for i in range(4)]
    good = [(START + timedelta(seconds=10 + 5 * i), LON + 40 * i / 80_300, LAT) for i in range(100)]
    [track] = read_gpx(write_gpx(tmp_path / "t.gpx", stale + good))
    cleaned = clean_track(track, "vehicle")
    assert (len(cleaned.track.time_s), cleaned.n_cold_start, cleaned.n_impossible) == (100, 4, 0)


def test_sentinel_dates_before_a_good_track_are_dropped_as_cold_start(tmp_path):
    epoch = [(datetime(1980, 1, 6, tzinfo=UTC) + timedelta(seconds=i), LON, LAT) for i in range(3)]
    good = [(START + timedelta(seconds=5 * i), LON + 40 * i / 80_300, LAT) for i in range(50)]
    [track] = read_gpx(write_gpx(tmp_path / "t.gpx", epoch + good))
    cleaned = clean_track(track, "vehicle")
    assert (len(cleaned.track.time_s), cleaned.n_cold_start) == (50, 3)
    assert cleaned.track.time_s[0] == START.timestamp()


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), r"1970-01-01 00:00:00 UTC; 1970 is Unix time 0"),
        (datetime(1980, 1, 6, tzinfo=UTC), "1980-01-06 is the GPS epoch"),
        (datetime(1999, 8, 22, tzinfo=UTC), r"GPS week-number rollover .* \(this would be 2019-04-07\)"),
        (datetime(2080, 6, 1, tzinfo=UTC), "2080-06-01 00:00:00 UTC; in the future"),
    ],
)
def test_a_track_dated_at_a_sentinel_year_is_refused_saying_why(store, tmp_path, start, message):
    points = [(start + timedelta(seconds=5 * i), LON + 40 * i / 80_300, LAT) for i in range(30)]
    before = dump(store.path)
    with pytest.raises(GpxError, match=f"day 1: 0 of 30 fixes usable: 30 dated impossibly .*{message}"):
        store.import_gpx(write_gpx(tmp_path / "clock.gpx", points), "T1")
    assert dump(store.path) == before


def test_a_track_of_only_null_fixes_is_refused_saying_why(store, tmp_path):
    points = [(START + timedelta(seconds=i), 0.0, 0.0) for i in range(10)]
    with pytest.raises(GpxError, match=r"0 of 10 fixes usable: 10 at lon 0, lat 0 \(the receiver had no"):
        store.import_gpx(write_gpx(tmp_path / "null.gpx", points), "T1")


def test_a_one_point_track_is_refused_clearly(store, tmp_path):
    path = write_gpx(tmp_path / "one.gpx", [(START, LON, LAT)])
    with pytest.raises(
        GpxError, match=r"one.gpx: day 1: only 1 point \(at 2026-11-24 02:00:00 UTC\); a track"
    ):
        store.import_gpx(path, "T1")
    assert stored_points(store) == []


def test_a_long_impossible_stretch_is_not_passed_off_as_a_cold_start(store, tmp_path):
    """20 min driving logged as 'foot' is a wrong transport, still refused (not 'cold start')."""
    drive = [(START + timedelta(seconds=30 * i), LON + 250 * i / 80_300, LAT) for i in range(40)]
    park = [(START + timedelta(minutes=20, seconds=30 * i), drive[-1][1], LAT) for i in range(30)]
    with pytest.raises(GpxError, match="fewer than 2 believable fixes"):
        store.import_gpx(write_gpx(tmp_path / "t.gpx", drive + park), "T1", transport="foot")


# --- time zones ------------------------------------------------------------------------------------


def test_naive_times_are_utc_with_a_warning(store):
    result = store.import_gpx(DATA / "naive_beijing.gpx", "T1")
    [warning] = result.warnings
    assert "20 of 20 point times have no time zone; they were taken as UTC, as the GPX format" in warning
    assert "--local-time reads them as Beijing time (UTC+8)" in warning
    assert stored_points(store)[0][0] == (START + timedelta(hours=8)).timestamp()


def test_local_time_reads_naive_times_as_beijing_time(store):
    result = store.import_gpx(DATA / "naive_beijing.gpx", "T1", local_time=True)
    assert "read as Beijing time (UTC+8)" in result.warnings[0]
    assert stored_points(store)[0][0] == START.timestamp()
    assert store.track_points()["time"].iloc[0] == START


def test_local_time_leaves_zoned_times_alone(tmp_path):
    read = read_gpx_file(DATA / "gbk.gpx", local_time=True)
    assert read.tracks[0].time_s[0] == START.timestamp()
    assert "--local-time changed nothing" in read.warnings[0]
    assert read_gpx_file(DATA / "gbk.gpx").warnings == []


# --- datums ----------------------------------------------------------------------------------------


def test_layers_gcj02_matches_an_independent_reference():
    """gcoord (MIT, hujiulong/gcoord test/unit/crs/GCJ02.spec.js): GCJ-02 (123, 45) -> WGS-84."""
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert (float(lon), float(lat)) == pytest.approx((122.99395597, 44.99804071), abs=1e-6)


@pytest.mark.parametrize(("datum", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_chinese_datums_are_stored_within_10_m_of_the_truth(store, tmp_path, datum, forward):
    truth_lon = LON + 40 * np.arange(60) / 80_300
    truth_lat = np.full(60, LAT) + 0.0002 * np.sin(np.arange(60) / 5)
    shown_lon, shown_lat = forward(truth_lon, truth_lat)
    assert metres(shown_lon, shown_lat, truth_lon, truth_lat).min() > 100  # the datum matters here
    times = [START + timedelta(seconds=5 * i) for i in range(60)]
    path = write_gpx(tmp_path / f"{datum}.gpx", list(zip(times, shown_lon, shown_lat, strict=True)))
    store.import_gpx(path, "T1", datum=datum)
    frame = store.track_points()
    assert metres(frame["lon"], frame["lat"], truth_lon, truth_lat).max() < 10
    assert metres(frame["lon"], frame["lat"], truth_lon, truth_lat).max() < 0.01  # in fact exact


def test_null_fixes_stay_null_under_a_datum(tmp_path):
    [track] = read_gpx(DATA / "cold_start.gpx", datum="gcj02")
    assert (track.lon[:5] == 0).all() and (track.lat[:5] == 0).all()
    assert clean_track(track, "vehicle").n_cold_start == 5


# --- command line ----------------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XUNHU_DB": str(tmp_path / "cli.sqlite")}
    command = [sys.executable, "-m", "records", "import-gpx", "--team", "T1", "--no-infer", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


def test_cli_flags_warnings_and_counts(tmp_path):
    run = run_cli(tmp_path, str(DATA / "naive_beijing.gpx"), str(DATA / "cold_start.gpx"))
    assert run.returncode == 0, run.stderr
    assert "warning: " in run.stderr and "taken as UTC" in run.stderr and "--local-time" in run.stderr
    assert (
        "cold start: imported as track 2: 200 points, 0 impossible fixes dropped, 5 cold-start" in run.stdout
    )
    local = run_cli(tmp_path, "--local-time", str(DATA / "naive_beijing.gpx"))
    assert local.returncode == 0 and "imported as track 3" in local.stdout  # other times: another track
    assert "read as Beijing time" in local.stderr
    both = run_cli(tmp_path, "--gcj02", "--bd09", str(DATA / "gbk.gpx"))
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    shifted = run_cli(tmp_path, "--bd09", str(DATA / "gbk.gpx"))
    assert shifted.returncode == 0 and "米东区巡护 第1天: imported" in shifted.stdout
    with open_store(tmp_path / "cli.sqlite") as store:
        lon = store.conn.execute("SELECT lon FROM track_points WHERE track_id = 4 AND seq = 0").fetchone()[0]
    assert math.isclose(lon, LON, abs_tol=0.02) and abs(lon - LON) > 0.001  # shifted back from BD-09


def test_track_result_counts_split():
    assert TrackResult("t", "imported", 1, 10, n_dropped=7, n_cold_start=5).n_impossible == 2
