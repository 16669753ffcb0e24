"""Coverage by prefecture or county computed inside PostgreSQL + PostGIS, for a year of tracks or more.

The ``report`` command reads every GPS fix of the period into Python; over a year of a whole
region (20 million fixes and more) that is gigabytes of client memory. Here the database does the
work and the client reads back only the covered cells (at most one row per grid cell) and the
visits; the statistics are then the same :func:`coverage.stats.region_stats` as ``report``.

**Same rule as** :mod:`coverage.covered`: a grid cell is covered by a track when its *centre* lies
within the corridor half-width of the track's transport of a segment joining two consecutive fixes
of the track at most ``max_gap_minutes`` apart (a fix joined to neither neighbour covers the disc
around itself), measured in the Xinjiang Albers CRS. The grid is the same H3 grid (there is no H3
extension for PostgreSQL in Debian, so cell ids are not computed in SQL: the grid's cell centres,
computed by :mod:`coverage.grid` in Python, are copied into a temporary table once per query).

**Method**, all in one SQL statement per worker connection:

1. fixes of the period (``time_s`` in ``[since, until)``), projected to the Albers CRS with the
   ellipsoidal Albers formulas written as plain SQL arithmetic (:func:`albers_sql`; the same
   numbers as PROJ to well under a millimetre, and much cheaper than ``ST_Transform`` per fix);
2. segments between consecutive fixes of a track (``lag``/``lead`` over ``(track_id, seq)``; fixes of a
   track are stored in time order);
3. each segment is sampled at the middles of ``pieces`` equal pieces so that every point of it is
   within ``margin`` of a sample (one sample for every ordinary segment);
4. candidate cells come from a temporary table of square buckets (``bucket_m`` side) listing the
   cells whose centre is within ``max half-width + margin`` of the bucket: a hash join on the
   sample's bucket finds every centre within the half-width of the segment (triangle inequality);
5. the exact point-to-segment distance keeps the covered ones; ``GROUP BY`` cell gives the last
   time each cell was covered.

The fixes are split by ``track_id`` into ``workers`` ranges of about equal size, each run on its own
connection in parallel (PostgreSQL 15 does not run window functions in parallel workers).

Visits are few (thousands a year) and are handled by the Python path as in ``report`` (they need the
H3 cell containing the visit). Site statistics and weights are those of ``report`` too.

``python -m coverage bulk --db postgresql://xunhu@127.0.0.1:54329/xunhu --since 2026-01-01 --until 2026-12-31``
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import CRS

from coverage.covered import TRANSPORTS, CoverageRadii
from layers.schema import XINJIANG_METRIC_CRS

#: Side of the square buckets of the candidate table, metres (for cells of 15 km² and more: H3
#: resolution 6 and coarser).
DEFAULT_BUCKET_M = 2000.0
#: Every point of a segment is within this distance of one of its samples, metres (same cells).
DEFAULT_MARGIN_M = 1000.0
#: Bucket side and margin for finer grids (resolution 7, ~5.8 km²): fewer candidate cells a sample.
FINE_BUCKET_M, FINE_MARGIN_M = 1000.0, 500.0


def bucket_sizes(grid: pd.DataFrame) -> tuple[float, float]:
    """``(bucket_m, margin_m)`` suited to the grid's cell size (measured in ``bench/RESULTS.md``).

    Smaller buckets and margins mean fewer candidate cells per sample but more samples per segment
    and a larger bucket table; any choice gives the same covered cells.
    """
    if len(grid) and float(grid["area_km2"].mean()) < 15.0:
        return FINE_BUCKET_M, FINE_MARGIN_M
    return DEFAULT_BUCKET_M, DEFAULT_MARGIN_M


@dataclass(frozen=True)
class AlbersConstants:
    """The constants of an ellipsoidal Albers equal-area projection (Snyder 1987, as in PROJ)."""

    a: float
    e: float
    n: float
    c: float
    rho0: float
    lon0_deg: float
    x0: float
    y0: float

    @classmethod
    def from_crs(cls, crs: str = XINJIANG_METRIC_CRS) -> AlbersConstants:
        """Constants of a ``+proj=aea`` CRS (an error for any other projection)."""
        with warnings.catch_warnings():  # to_dict warns that a PROJ string loses details; not these
            warnings.simplefilter("ignore", UserWarning)
            params = CRS.from_user_input(crs).to_dict()
        if params.get("proj") != "aea":
            raise ValueError(f"not an Albers equal-area CRS: {crs}")
        ellipsoid = CRS.from_user_input(crs).ellipsoid
        a, f = ellipsoid.semi_major_metre, 1.0 / ellipsoid.inverse_flattening
        es = f * (2.0 - f)
        e = math.sqrt(es)

        def qsfn(phi_deg: float) -> float:
            s = math.sin(math.radians(phi_deg))
            return (1 - es) * (s / (1 - es * s * s) - (0.5 / e) * math.log((1 - e * s) / (1 + e * s)))

        def msfn(phi_deg: float) -> float:
            s = math.sin(math.radians(phi_deg))
            return math.cos(math.radians(phi_deg)) / math.sqrt(1 - es * s * s)

        lat1, lat2 = float(params["lat_1"]), float(params.get("lat_2", params["lat_1"]))
        m1, q1 = msfn(lat1), qsfn(lat1)
        if abs(lat1 - lat2) > 1e-10:
            m2, q2 = msfn(lat2), qsfn(lat2)
            n = (m1 * m1 - m2 * m2) / (q2 - q1)
        else:
            n = math.sin(math.radians(lat1))
        c = m1 * m1 + n * q1
        rho0 = a * math.sqrt(c - n * qsfn(float(params.get("lat_0", 0.0)))) / n
        return cls(
            a,
            e,
            n,
            c,
            rho0,
            float(params.get("lon_0", 0.0)),
            float(params.get("x_0", 0)),
            float(params.get("y_0", 0)),
        )

    def project(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The projection in numpy (the formula :func:`albers_sql` writes in SQL)."""
        s = np.sin(np.radians(lat))
        es = self.e * self.e
        q = (1 - es) * (s / (1 - es * s * s) - (0.5 / self.e) * np.log((1 - self.e * s) / (1 + self.e * s)))
        rho = self.a * np.sqrt(self.c - self.n * q) / self.n
        theta = self.n * np.radians(np.asarray(lon) - self.lon0_deg)
        return self.x0 + rho * np.sin(theta), self.y0 + self.rho0 - rho * np.cos(theta)


def albers_sql(lon: str, lat: str, k: AlbersConstants | None = None) -> tuple[str, str]:
    """SQL expressions for the Albers x and y (metres) of the columns ``lon``, ``lat`` (degrees).

    Plain float arithmetic (immutable, parallel safe), usable in a generated column.
    """
    k = k or AlbersConstants.from_crs()
    rho, theta = _rho_theta_sql(f"sin(radians({lat}))", lon, k)
    return f"({k.x0!r} + {rho} * sin({theta}))", f"({k.y0 + k.rho0!r} - {rho} * cos({theta}))"


def _rho_theta_sql(s: str, lon: str, k: AlbersConstants) -> tuple[str, str]:
    """Albers polar radius and angle from ``s`` = sin(latitude) and ``lon`` (degrees), as SQL."""
    es = k.e * k.e
    q = f"({1 - es!r} * ({s} / (1 - {es!r} * {s} * {s}) - {0.5 / k.e!r} * ln((1 - {k.e!r} * {s}) / (1 + {k.e!r} * {s}))))"
    return f"({k.a / k.n!r} * sqrt({k.c!r} - {k.n!r} * {q}))", f"({k.n!r} * radians({lon} - {k.lon0_deg!r}))"


def projected_fixes_sql(where: str, k: AlbersConstants | None = None) -> str:
    """``SELECT track_id, seq, time_s, x, y FROM track_points WHERE <where>`` with x, y in the Albers CRS.

    Written in nested subqueries (``OFFSET 0`` keeps the planner from inlining them) so that each
    sine, logarithm and square root is evaluated once per fix, not once per use.
    """
    k = k or AlbersConstants.from_crs()
    rho, theta = _rho_theta_sql("s", "lon", k)
    return f"""
        SELECT track_id, seq, time_s, {k.x0!r} + rho * sin(theta) AS x, {k.y0 + k.rho0!r} - rho * cos(theta) AS y
        FROM (SELECT track_id, seq, time_s, {rho} AS rho, {theta} AS theta
              FROM (SELECT track_id, seq, time_s, lon, sin(radians(lat)) AS s
                    FROM track_points p WHERE {where} OFFSET 0) a
              OFFSET 0) b"""


def _bucket_key(x: str, y: str, bucket_m: float) -> str:
    """One bigint per square bucket (column index in the high bits, row index + 2^20 in the low 21)."""
    return f"((floor({x} / {bucket_m!r})::bigint << 21) + floor({y} / {bucket_m!r})::bigint + 1048576)"


def load_cells(conn, grid: pd.DataFrame, reach_m: float, bucket_m: float = DEFAULT_BUCKET_M) -> None:
    """Temporary tables ``bulk_cells`` (grid row, centre) and ``bulk_buckets`` on this connection.

    ``bulk_buckets`` lists, for every square bucket of side ``bucket_m`` that has one, the cells whose
    centre is within ``reach_m`` of the bucket (distance from the centre to the square).
    """
    raw = conn.raw if hasattr(conn, "raw") else conn
    raw.execute("DROP TABLE IF EXISTS bulk_buckets, bulk_cells")
    raw.execute(
        "CREATE TEMP TABLE bulk_cells (row_id integer PRIMARY KEY, x double precision, y double precision)"
    )
    text = io.StringIO()
    pd.DataFrame(
        {"row": np.arange(len(grid)), "x": grid["x_m"].to_numpy(float), "y": grid["y_m"].to_numpy(float)}
    ).to_csv(text, sep="\t", header=False, index=False, float_format="%.6f")
    with raw.cursor().copy("COPY bulk_cells (row_id, x, y) FROM STDIN") as copy:
        copy.write(text.getvalue())
    s, r = float(bucket_m), float(reach_m)
    raw.execute(
        f"""
        CREATE TEMP TABLE bulk_buckets AS
        SELECT (i::bigint << 21) + j + 1048576 AS bucket, c.row_id, c.x, c.y
        FROM bulk_cells c,
             generate_series(floor((c.x - {r!r}) / {s!r})::int, floor((c.x + {r!r}) / {s!r})::int) AS i,
             generate_series(floor((c.y - {r!r}) / {s!r})::int, floor((c.y + {r!r}) / {s!r})::int) AS j
        WHERE greatest(i * {s!r} - c.x, 0, c.x - (i + 1) * {s!r}) ^ 2
            + greatest(j * {s!r} - c.y, 0, c.y - (j + 1) * {s!r}) ^ 2 <= {r * r!r}
        """
    )
    raw.execute("ANALYZE bulk_buckets")


def covered_sql(
    radii: CoverageRadii, margin_m: float = DEFAULT_MARGIN_M, bucket_m: float = DEFAULT_BUCKET_M
) -> str:
    """The statement giving ``row_id, last_s`` (epoch seconds) of every covered grid row.

    Parameters (psycopg ``%s``): since, until (epoch seconds), first and last+1 track id. Every
    level is a subquery fenced with ``OFFSET 0``: without the fences the planner inlines the
    levels and evaluates each computed column once per use (dozens of times per row).
    """
    fixes = projected_fixes_sql(
        "p.time_s >= %s::bigint AND p.time_s < %s::bigint AND p.track_id >= %s::bigint AND p.track_id < %s::bigint"
    )
    half = (
        "CASE t.transport "
        + " ".join(f"WHEN '{m}' THEN {radii.half_width_m(m)!r}::float8" for m in TRANSPORTS)
        + " END"
    )
    gap = float(radii.max_gap_minutes) * 60.0
    spacing = 2.0 * float(margin_m)
    key = _bucket_key(
        "(ax + (k + 0.5::float8) / pieces * dx)", "(ay + (k + 0.5::float8) / pieces * dy)", bucket_m
    )
    return f"""
    SELECT h.row_id, max(h.time_s) AS last_s
    FROM (
        SELECT b.row_id, s.time_s, s.ax, s.ay, s.dx, s.dy, s.half, b.x, b.y,
               CASE WHEN s.len2 > 0
                    THEN least(1.0::float8, greatest(0.0::float8, ((b.x - s.ax) * s.dx + (b.y - s.ay) * s.dy) / s.len2))
                    ELSE 0.0::float8 END AS t
        FROM (
            -- samples: the middles of equal pieces, every point of the segment within margin of one
            SELECT time_s, ax, ay, dx, dy, half, len2, {key} AS bucket
            FROM (
                SELECT time_s, ax, ay, dx, dy, half, len2, pieces, generate_series(0, pieces - 1) AS k
                FROM (
                    SELECT g.time_s, g.ax, g.ay, g.bx - g.ax AS dx, g.by - g.ay AS dy, {half} AS half,
                           (g.bx - g.ax) ^ 2 + (g.by - g.ay) ^ 2 AS len2,
                           greatest(1, ceil(sqrt((g.bx - g.ax) ^ 2 + (g.by - g.ay) ^ 2) / {spacing!r}))::int
                               AS pieces
                    FROM (
                        -- a segment from the previous fix when it is at most the gap earlier,
                        -- and a fix joined to neither neighbour as a zero-length segment
                        SELECT track_id, time_s, x AS bx, y AS by,
                               CASE WHEN joined THEN prev_x ELSE x END AS ax,
                               CASE WHEN joined THEN prev_y ELSE y END AS ay
                        FROM (
                            SELECT track_id, time_s, x, y, prev_x, prev_y, next_s,
                                   (prev_s IS NOT NULL AND time_s - prev_s <= {gap}) AS joined
                            FROM (
                                SELECT track_id, time_s, x, y,
                                       lag(time_s) OVER w AS prev_s, lead(time_s) OVER w AS next_s,
                                       lag(x) OVER w AS prev_x, lag(y) OVER w AS prev_y
                                FROM ({fixes}) pr
                                WINDOW w AS (PARTITION BY track_id ORDER BY seq)
                            ) f OFFSET 0
                        ) j
                        WHERE joined OR next_s IS NULL OR next_s - time_s > {gap}
                        OFFSET 0
                    ) g JOIN tracks t ON t.track_id = g.track_id
                    OFFSET 0
                ) sg
                OFFSET 0
            ) pc
            OFFSET 0
        ) s JOIN bulk_buckets b ON b.bucket = s.bucket
        OFFSET 0
    ) h
    WHERE (h.ax + h.t * h.dx - h.x) ^ 2 + (h.ay + h.t * h.dy - h.y) ^ 2 <= h.half * h.half
    GROUP BY h.row_id
    """


def _epoch(moment: pd.Timestamp) -> int:
    moment = pd.Timestamp(moment)
    return int((moment.tz_localize("UTC") if moment.tzinfo is None else moment).timestamp())


def track_ranges(conn, since: pd.Timestamp, until: pd.Timestamp, parts: int) -> list[tuple[int, int]]:
    """``parts`` half-open ``[first, last+1)`` ranges of track ids with about equal numbers of fixes.

    Uses the ``tracks`` table (one row per track, so small); the ranges cover every track.
    """
    from records.db import utc_text

    rows = conn.execute(
        "SELECT track_id, n_points FROM tracks WHERE started_at < ? AND ended_at >= ? ORDER BY track_id",
        (utc_text(until.to_pydatetime()), utc_text(since.to_pydatetime())),
    ).fetchall()
    if not rows:
        return []
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    weight = np.cumsum(np.array([r[1] for r in rows], dtype=float))
    cuts = np.searchsorted(weight, weight[-1] * np.arange(1, parts) / parts)
    bounds = sorted({int(ids[0]), *(int(ids[c]) for c in cuts if c < len(ids)), int(ids[-1]) + 1})
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def covered_rows(
    url: str,
    grid: pd.DataFrame,
    since: pd.Timestamp,
    until: pd.Timestamp,
    radii: CoverageRadii | None = None,
    workers: int = 2,
    margin_m: float | None = None,
    bucket_m: float | None = None,
    settings: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Per grid row (aligned with ``grid``): ``last_covered_at`` (NaT if no track covered it) from the
    fixes in ``[since, until)`` of the PostgreSQL records database at ``url``.

    The same cells as :func:`coverage.covered.covered_cells` with the tracks alone (no visits);
    memory on the client is one row per covered cell. ``settings`` are ``SET`` on each connection
    (e.g. ``{"work_mem": "64MB"}``).
    """
    from records.db import connect

    radii = radii or CoverageRadii()
    default_bucket, default_margin = bucket_sizes(grid)
    bucket_m, margin_m = bucket_m or default_bucket, margin_m or default_margin
    reach = max(radii.half_width_m(m) for m in TRANSPORTS) + margin_m
    # Readers only: no migration here (the records' own tools migrate the schema).
    with connect(url, migrate_schema=False) as conn:
        ranges = track_ranges(conn, since, until, max(1, workers))
    sql = covered_sql(radii, margin_m, bucket_m)

    def run(track_range: tuple[int, int]) -> list[tuple[int, float]]:
        with connect(url, migrate_schema=False) as conn:
            for name, value in {"work_mem": "64MB", **(settings or {})}.items():
                conn.raw.execute(f"SET {name} = '{value}'")
            load_cells(conn, grid, reach, bucket_m)
            rows = conn.raw.execute(sql, (_epoch(since), _epoch(until), *track_range)).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]

    last = np.full(len(grid), -np.inf)
    if ranges:
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            for rows in pool.map(run, ranges):
                if rows:
                    index, seconds = np.array(rows, dtype=float).T
                    np.maximum.at(last, index.astype(np.int64), seconds)
    never = np.isinf(last)
    stamps = pd.to_datetime(np.where(never, 0.0, last), unit="s", utc=True).astype("datetime64[ns, UTC]")
    return pd.DataFrame({"last_covered_at": pd.Series(stamps, index=grid.index).where(~never, pd.NaT)})


def region_report(
    url: str,
    since: pd.Timestamp,
    until: pd.Timestamp,
    model=None,
    by: str = "prefecture",
    include_visits: bool = True,
    workers: int = 2,
    timings: dict[str, float] | None = None,
    draw_files: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """The ``report`` table (:func:`coverage.stats.region_stats`) for ``[since, until)`` with the track
    coverage computed in the database.

    ``model`` is a :class:`coverage.inputs.CoverageModel` (default: the shipped registry at
    resolution 6, priorities on ``since``). Visits (all up to ``until``: they set which sites are
    due) are read into Python; only those from ``since`` on cover area, as in ``report``.
    ``timings`` (when given) receives the seconds of each stage; ``draw_files`` are random-draw JSON
    files (as ``report --draw``; they need the visits).
    """
    from coverage.inputs import load_model
    from coverage.stats import region_stats
    from records.db import connect, utc_text
    from records.visits import visits_frame

    timings = {} if timings is None else timings
    began = time.perf_counter()
    if model is None:
        model = load_model(since)
        timings["model"] = time.perf_counter() - began
        began = time.perf_counter()
    tracks = covered_rows(url, model.grid, since, until, model.radii, workers)
    timings["tracks_sql"] = time.perf_counter() - began
    began = time.perf_counter()
    covered = tracks["last_covered_at"].notna().to_numpy().copy()
    visits = None
    with connect(url, migrate_schema=False) as conn:
        simulated = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM tracks WHERE simulated = 1 AND started_at < ? AND ended_at >= ?)",
            (utc_text(until.to_pydatetime()), utc_text(since.to_pydatetime())),
        ).fetchone()[0]
        if include_visits:
            visits = visits_frame(conn, None, until, include_inferred=True)
    if visits is not None:
        in_period = visits[visits["started_at"] >= since]
        covered |= model.covered(in_period, None)["last_covered_at"].notna().to_numpy()
        simulated = simulated or bool(in_period["simulated"].any())
    sites = model.sites(visits, since, until)
    draws = None
    if draw_files:
        from coverage.inputs import read_draws

        if visits is None:
            raise ValueError("random-draw targets need the visits (drop --no-visits)")
        draws = read_draws(list(draw_files), visits, (since, until))
    table = region_stats(model.grid, model.weights["weight"], covered, sites, draws, by, model.regions)
    table.attrs["cells_covered_by_tracks"] = int(tracks["last_covered_at"].notna().sum())
    table.attrs["cells_covered"] = int(covered.sum())
    table.attrs["simulated"] = bool(simulated)
    timings["visits_and_stats"] = time.perf_counter() - began
    return table


def prefecture_report(
    url: str, since: str, until: str, resolution: int = 6, workers: int = 2
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The report by prefecture for the local days ``since``..``until`` (inclusive); with stage timings."""
    from coverage.inputs import load_model, period

    start, end = period(since, until)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    model = load_model(start, resolution)
    timings["model"] = time.perf_counter() - began
    table = region_report(url, start, end, model, "prefecture", workers=workers, timings=timings)
    return table, timings


def main(argv: list[str]) -> int:
    """``python -m coverage bulk``: the ``report`` table with track coverage computed in PostgreSQL."""
    from coverage import inputs
    from coverage.stats import add_report_arguments
    from records.backend import database_errors, is_postgresql
    from records.db import default_db_path

    parser = argparse.ArgumentParser(prog="python -m coverage bulk", description=main.__doc__)
    add_report_arguments(parser)
    parser.add_argument("--workers", type=int, default=2, help="database connections working in parallel")
    parser.add_argument("--no-visits", action="store_true", help="count track coverage only")
    args = parser.parse_args(argv)
    url = args.db or default_db_path()
    if not is_postgresql(url):
        print(
            f"error: --db must be a postgresql:// URL (got {url}); use `report` for SQLite", file=sys.stderr
        )
        return 1
    try:
        since, until = inputs.period(args.since, args.until)
        model = inputs.model_for(args, as_of=since)
        table = region_report(
            url, since, until, model, args.by, not args.no_visits, max(1, args.workers), draw_files=args.draw
        )
    except (inputs.InputError, ValueError, *database_errors()) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    inputs.write_table(
        table,
        args.format,
        args.out,
        meta={"since": args.since, "until": args.until, "by": args.by, "method": "bulk (PostgreSQL)"},
        simulated=table.attrs["simulated"],
    )
    return 0
