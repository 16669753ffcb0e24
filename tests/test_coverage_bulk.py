"""Bulk coverage in PostgreSQL (coverage.bulk) agrees with the Python coverage path on the same fixes.

The comparison tests run only on PostgreSQL + PostGIS (``--records-backend postgresql`` with
``XUNHU_PG_ADMIN`` set; see tests/records_backends.py); on SQLite they are skipped.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from records_backends import backend

from coverage import bulk
from coverage.covered import CoverageRadii
from coverage.grid import to_metric
from coverage.inputs import load_model
from records.backend import read_frame
from records.db import connect
from records.gpx_read import Track
from records.tracks import store_track
from records.visits import Visit, record_visit, visits_frame

pytestmark = pytest.mark.records

SINCE = pd.Timestamp("2026-06-01T00:00Z")
UNTIL = pd.Timestamp("2026-06-08T00:00Z")
#: Urumqi and Changji: the tracks below cross from one into the other.
PREFECTURES = ["650100", "652300"]


def test_albers_formula_matches_proj() -> None:
    """The projection written as SQL arithmetic is the CRS of coverage.grid (numpy form)."""
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(73, 97, 10_000), rng.uniform(34, 50, 10_000)
    x, y = bulk.AlbersConstants.from_crs().project(lon, lat)
    ex, ey = to_metric(lon, lat)
    assert np.abs(x - ex).max() < 1e-3 and np.abs(y - ey).max() < 1e-3


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, new_db) -> str:
    if backend(request.config) != "postgresql":
        pytest.skip("bulk coverage runs in PostgreSQL + PostGIS: run with --records-backend postgresql")
    return str(new_db("bulk"))


def _track(name: str, start: pd.Timestamp, lon: np.ndarray, lat: np.ndarray, step_s) -> Track:
    steps = np.broadcast_to(np.asarray(step_s, dtype=float), (len(lon) - 1,))
    t = start.timestamp() + np.concatenate([[0.0], np.cumsum(steps)])
    return Track(name, t, np.asarray(lon, float), np.asarray(lat, float))


def _store_tracks(url: str) -> None:
    """Tracks with every case of the rule: corridors, gaps, a lone fix, long segments, the period edges."""
    rng = np.random.default_rng(17)
    day = SINCE + pd.Timedelta(days=2, hours=2)
    n = 600
    # A drive from Urumqi north-west into Changji, a fix every 30 s with GPS noise, a 20-minute gap
    # in the middle (not joined) and a 10-minute one later (joined: one segment of ~6 km).
    lon = np.linspace(87.60, 87.05, n) + rng.normal(0, 5e-5, n)
    lat = np.linspace(43.80, 44.10, n) + 0.02 * np.sin(np.linspace(0, 9, n))
    steps = np.full(n - 1, 30.0)
    steps[300] = 20 * 60.0
    steps[450] = 10 * 60.0
    lon[451:] += 0.07  # the fix after the 10-minute pause is ~6 km further on
    tracks = [
        ("vehicle", _track("drive", day, lon, lat, steps)),
        # A vehicle track that starts before the period and ends inside it (only its inside fixes count).
        (
            "vehicle",
            _track(
                "edge",
                SINCE - pd.Timedelta(hours=1),
                np.linspace(87.9, 88.3, 240),
                np.linspace(43.7, 43.9, 240),
                30.0,
            ),
        ),
        # After the period: not counted.
        (
            "vehicle",
            _track(
                "late", UNTIL + pd.Timedelta(hours=3), np.linspace(87.2, 87.9, 200), np.full(200, 43.5), 30.0
            ),
        ),
        (
            "foot",
            _track(
                "walk",
                day + pd.Timedelta(hours=5),
                87.62 + np.cumsum(rng.normal(0, 3e-4, 120)),
                43.70 + np.cumsum(rng.normal(0, 3e-4, 120)),
                30.0,
            ),
        ),
        (
            "drone",
            _track(
                "flight",
                day + pd.Timedelta(hours=6),
                np.linspace(87.30, 87.45, 60),
                np.linspace(43.55, 43.62, 60),
                30.0,
            ),
        ),
        # Lone fixes: more than 15 minutes from both neighbours (discs around themselves).
        (
            "vehicle",
            _track(
                "lone",
                day + pd.Timedelta(hours=8),
                np.array([87.50, 87.56, 87.70]),
                np.array([43.30, 43.33, 43.40]),
                [1800.0, 3600.0],
            ),
        ),
        # A drone segment 12 km long within the 15 minutes (several samples in SQL).
        (
            "drone",
            _track(
                "long",
                day + pd.Timedelta(hours=9),
                np.array([86.95, 87.10, 87.11]),
                np.array([43.95, 43.95, 43.96]),
                [840.0, 30.0],
            ),
        ),
    ]
    with connect(url) as conn:
        for transport, track in tracks:
            store_track(
                conn,
                track,
                team_id="T01",
                transport=transport,
                source_file=f"{track.name}.gpx",
                simulated=True,
                actor="test",
            )


def _python_points(url: str) -> pd.DataFrame:
    """The fixes of the period as the Python path reads them (records.tracks.track_points_frame)."""
    with connect(url) as conn:
        frame = read_frame(
            "SELECT p.track_id, t.team_id, t.transport, p.time_s, p.lon, p.lat FROM track_points p "
            "JOIN tracks t ON t.track_id = p.track_id WHERE p.time_s >= ? AND p.time_s < ? "
            "ORDER BY p.track_id, p.seq",
            conn,
            (int(SINCE.timestamp()), int(UNTIL.timestamp())),
        )
    frame.insert(3, "time", pd.to_datetime(frame.pop("time_s").astype(float), unit="s", utc=True))
    return frame


@pytest.fixture(scope="module")
def model():
    return load_model(SINCE, 7, PREFECTURES)


@pytest.mark.parametrize(
    ("workers", "bucket_m", "margin_m"),
    [(1, None, None), (2, None, None), (2, 2000.0, 1000.0), (1, 700.0, 300.0)],
)
def test_bulk_cells_equal_python_cells(pg_url: str, model, workers: int, bucket_m, margin_m) -> None:
    """The same cells, and the same last time each was covered, as coverage.covered on the same fixes
    (with one or two connections, and whatever the bucket size and sample margin)."""
    _store_tracks(pg_url)
    points = _python_points(pg_url)
    assert set(points["transport"]) == {"vehicle", "foot", "drone"}
    expected = model.covered(None, points)["last_covered_at"]
    got = bulk.covered_rows(
        pg_url, model.grid, SINCE, UNTIL, model.radii, workers=workers, margin_m=margin_m, bucket_m=bucket_m
    )["last_covered_at"]
    assert expected.notna().sum() > 30  # the tracks do cover something at resolution 7
    # Exactly the same cells (a centre within a micrometre of a corridor's edge could in principle
    # fall either side from floating-point order; none does here).
    pd.testing.assert_series_equal(got.notna(), expected.notna(), check_names=False)
    pd.testing.assert_series_equal(
        got[got.notna()].dt.floor("s"), expected[expected.notna()].dt.floor("s"), check_names=False
    )


def _store_visits(url: str, model) -> None:
    """Visits at point sites: in the period with and without a position, and one before it."""
    sites = model.targets[
        (model.targets.geom_type == "Point") & model.targets["county_code"].str.startswith("6501")
    ]
    first, second, third = sites.iloc[:3].itertuples()
    day = (SINCE + pd.Timedelta(days=3, hours=3)).to_pydatetime()
    visits = [
        Visit(
            first.site_id,
            "T01",
            day,
            day + timedelta(hours=1),
            "compliant",
            lon=first.geometry.x + 0.01,
            lat=first.geometry.y,
            simulated=True,
        ),
        Visit(
            second.site_id,
            "T01",
            day + timedelta(hours=2),
            day + timedelta(hours=3),
            "violation",
            simulated=True,
        ),
        Visit(
            third.site_id,
            "T01",
            day - timedelta(days=30),
            day - timedelta(days=30, hours=-1),
            "compliant",
            lon=third.geometry.x,
            lat=third.geometry.y,
            simulated=True,
        ),
    ]
    with connect(url) as conn:
        for visit in visits:
            record_visit(conn, visit, actor="test")


def test_bulk_report_equals_python_report(pg_url: str, model) -> None:
    """The per-prefecture table of coverage.bulk equals the ``report`` table on the same records
    (tracks, and visits: those before the period set which sites are due, those in it cover area)."""
    _store_tracks(pg_url)
    _store_visits(pg_url, model)
    points = _python_points(pg_url)
    with connect(pg_url) as conn:
        visits = visits_frame(conn, None, UNTIL, include_inferred=True)
    assert len(visits) == 3
    expected = model.region_table(visits, points, SINCE, UNTIL, "prefecture")
    got = bulk.region_report(pg_url, SINCE, UNTIL, model, "prefecture")
    assert got.attrs["cells_covered"] > got.attrs["cells_covered_by_tracks"]  # the visits add cells
    assert got["sites_inspected"].iloc[-1] >= 2  # (the registry adds inspections dated in the period)
    assert got.attrs["simulated"]
    assert list(got["prefecture_code"]) == list(expected["prefecture_code"]) == [*PREFECTURES, "total"]
    assert (got["area_coverage_pct"] > 0).all()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)


def test_changed_radii_change_the_sql_too(pg_url: str, model) -> None:
    """Radii and the gap come from CoverageRadii in both paths."""
    _store_tracks(pg_url)
    points = _python_points(pg_url)
    radii = CoverageRadii(vehicle_km=2.0, foot_km=0.3, drone_km=2.5, max_gap_minutes=25.0)
    expected = model.covered(None, points)["last_covered_at"].notna()
    wider = load_model(SINCE, 7, PREFECTURES)
    wider.radii = radii
    wide_expected = wider.covered(None, points)["last_covered_at"].notna()
    got = bulk.covered_rows(pg_url, model.grid, SINCE, UNTIL, radii, workers=1)["last_covered_at"].notna()
    assert wide_expected.sum() > expected.sum()
    pd.testing.assert_series_equal(got, wide_expected, check_names=False)


def test_empty_period(pg_url: str, model) -> None:
    _store_tracks(pg_url)
    got = bulk.covered_rows(
        pg_url, model.grid, pd.Timestamp("2025-01-01T00:00Z"), pd.Timestamp("2025-02-01T00:00Z")
    )
    assert got["last_covered_at"].isna().all() and len(got) == len(model.grid)


def test_cli_needs_a_postgresql_url(tmp_path, capsys) -> None:
    from coverage.bulk import main

    assert main(["--db", str(tmp_path / "x.sqlite"), "--since", "2026-06-01", "--until", "2026-06-07"]) == 1
    assert "postgresql://" in capsys.readouterr().err


def test_cli_writes_the_report(pg_url: str, tmp_path) -> None:
    """``python -m coverage bulk`` on a prefecture: CSV with the SIMULATED note and a total row."""
    from coverage.bulk import main

    _store_tracks(pg_url)
    draw = tmp_path / "draw.json"
    draw.write_text(
        json.dumps({"period": "2026-06", "result": [{"site_id": "PS-00001"}, {"site_id": "PS-00002"}]})
    )
    out = tmp_path / "bulk.csv"
    argv = ["--db", pg_url, "--since", "2026-06-01", "--until", "2026-06-07", "--prefecture", "650100"]
    assert main([*argv, "--draw", str(draw), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "SIMULATED" in text
    table = pd.read_csv(io.StringIO(text), comment="#", dtype={"prefecture_code": str})
    assert list(table["prefecture_code"]) == ["650100", "total"]
    assert table["area_coverage_pct"].iloc[0] > 0 and table["draw_targets"].iloc[0] == 2
