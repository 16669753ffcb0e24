"""Which grid cells a period's visits and GPS tracks covered, and when they were last covered.

**Rule.** A cell is covered by an activity when the cell's *centre* lies within the activity's
reach, measured in the Xinjiang Albers CRS (:data:`layers.schema.XINJIANG_METRIC_CRS`):

* a visit reaches ``visit_km`` around its position, and also always covers the cell containing
  that position (officers stood in it, even when the radius is smaller than the cell);
* a GPS track reaches the corridor of half-width ``vehicle_km`` / ``foot_km`` / ``drone_km``
  (by the track's transport) around the polyline through its fixes. Consecutive fixes more than
  ``max_gap_minutes`` apart are not joined (nobody knows where the team went in between); a fix
  joined to neither neighbour covers the disc around itself.

Counting cells by their centre makes ``covered cells × cell area`` an unbiased estimate of the
area really seen: a corridor narrower than the cells covers a proportional share of the cells it
crosses rather than all of them. Inferred visits (from GPS dwell) cover area like any visit; only
site coverage (:mod:`coverage.sites`) leaves them out. A visit recorded without a position stands
at its site when the site is a point (:func:`fill_visit_positions`); otherwise it covers no area.

**Method.** Each track segment is sampled every ``half-width`` metres (at the middles of equal
pieces); every cell centre within ``w + piece/2`` of a sample is a candidate (by the triangle
inequality that catches every centre within ``w`` of the segment, end caps included), and the candidates are then
kept only if their exact distance to the segment is at most ``w``. All of it is vectorised
(numpy + a k-d tree over the cell centres), which handles a million fixes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from coverage.grid import CellIndex, to_metric

#: Ways a cell gets covered: a visit, or a track by its transport.
ACTIVITIES = ("visit", "vehicle", "foot", "drone")
TRANSPORTS = ("vehicle", "foot", "drone")


@dataclass(frozen=True)
class CoverageRadii:
    """How far each activity reaches (km) and when a track is broken."""

    #: Around a site visit: the site and its immediate surroundings are inspected.
    visit_km: float = 1.0
    #: Each side of a vehicle track: what officers see from the road.
    vehicle_km: float = 1.0
    #: Each side of a foot patrol.
    foot_km: float = 0.5
    #: Each side of a drone flight path (oblique camera view).
    drone_km: float = 1.5
    #: Fixes further apart in time than this are not joined by a straight segment.
    max_gap_minutes: float = 15.0

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) <= 0:
                raise ValueError(
                    f"CoverageRadii.{item.name} must be positive, got {getattr(self, item.name)}"
                )

    def half_width_m(self, transport: str) -> float:
        """Corridor half-width of a transport in metres."""
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; expected one of {TRANSPORTS}")
        return getattr(self, f"{transport}_km") * 1000.0


def utc_ns(times: pd.Series) -> np.ndarray:
    """Times (tz-aware or naive UTC) as naive ``datetime64[ns]`` UTC values."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series(dtype=np.int64),
            "covered_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "activity": pd.Categorical([], categories=ACTIVITIES),
        }
    )


def fill_visit_positions(visits: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """``visits`` with a missing position taken from the visited site when that site is a point.

    (A polygon site's interior point is not where the officers stood, so those stay unplaced.)
    """
    missing = visits["lon"].isna() | visits["lat"].isna()
    if not missing.any():
        return visits
    points = targets[targets.geom_type == "Point"]
    where = pd.DataFrame(
        {"lon": points.geometry.x.to_numpy(), "lat": points.geometry.y.to_numpy()},
        index=points["site_id"].astype(str).to_numpy(),
    )
    where = where[~where.index.duplicated()]
    site = visits.loc[missing, "site_id"].astype(str).to_numpy()
    result = visits.copy()
    result.loc[missing, "lon"] = where["lon"].reindex(site).to_numpy()
    result.loc[missing, "lat"] = where["lat"].reindex(site).to_numpy()
    return result


def visit_events(index: CellIndex, visits: pd.DataFrame, radii: CoverageRadii) -> pd.DataFrame:
    """(grid row, covered_at, "visit") for every cell a visit covers; ``covered_at`` is its end."""
    placed = visits.dropna(subset=["lon", "lat"])
    if len(placed) == 0:
        return _empty_events()
    x, y = to_metric(placed["lon"].to_numpy(float), placed["lat"].to_numpy(float))
    visit_idx, rows = index.rows_near(x, y, radii.visit_km * 1000.0)
    own = index.rows_containing(placed["lon"].to_numpy(float), placed["lat"].to_numpy(float))
    inside = own >= 0
    pairs = pd.DataFrame(
        {
            "visit": np.concatenate([visit_idx, np.flatnonzero(inside)]),
            "row": np.concatenate([rows, own[inside]]),
        }
    ).drop_duplicates()
    ended = utc_ns(
        pd.to_datetime(placed["ended_at"], utc=True).fillna(pd.to_datetime(placed["started_at"], utc=True))
    )
    return pd.DataFrame(
        {
            "row": pairs["row"].to_numpy(np.int64),
            "covered_at": pd.to_datetime(ended[pairs["visit"].to_numpy()], utc=True),
            "activity": pd.Categorical.from_codes(np.zeros(len(pairs), dtype=np.int8), categories=ACTIVITIES),
        }
    )


def track_segments(points: pd.DataFrame, radii: CoverageRadii) -> pd.DataFrame:
    """Track fixes as metric segments ``ax, ay, bx, by, half_m, time, transport``.

    A segment joins consecutive fixes of one track at most ``max_gap_minutes`` apart; a fix that
    no segment touches becomes a zero-length segment (it covers the disc around it).
    """
    known = points["transport"].isin(TRANSPORTS).to_numpy(bool)
    if not known.all():
        unknown = sorted(set(points["transport"][~known].astype(str)))
        raise ValueError(f"track points: unknown transport {unknown}; expected one of {TRANSPORTS}")
    transport = pd.Categorical(points["transport"], categories=TRANSPORTS)
    placed = points[["track_id", "time", "lon", "lat"]].assign(code=transport.codes).dropna()
    time = utc_ns(placed["time"])
    track = placed["track_id"].to_numpy()
    # Records come ordered by track and time already; sort only when they are not.
    ordered = ((track[1:] > track[:-1]) | ((track[1:] == track[:-1]) & (time[1:] >= time[:-1]))).all()
    if not ordered:
        placed = placed.iloc[np.lexsort((time, track))]
        time, track = utc_ns(placed["time"]), placed["track_id"].to_numpy()
    x, y = to_metric(placed["lon"].to_numpy(float), placed["lat"].to_numpy(float))
    code = placed["code"].to_numpy()
    gap = np.timedelta64(int(radii.max_gap_minutes * 60e9), "ns")
    joined = (track[1:] == track[:-1]) & (time[1:] - time[:-1] <= gap)
    starts = np.flatnonzero(joined)
    touched = np.zeros(len(placed), dtype=bool)
    touched[starts] = touched[starts + 1] = True
    alone = np.flatnonzero(~touched)
    a = np.concatenate([starts, alone])
    b = np.concatenate([starts + 1, alone])
    half = np.array([radii.half_width_m(t) for t in TRANSPORTS])[code[a]]
    return pd.DataFrame(
        {
            "ax": x[a],
            "ay": y[a],
            "bx": x[b],
            "by": y[b],
            "half_m": half,
            "time": time[b],
            "transport": pd.Categorical.from_codes(code[a], categories=TRANSPORTS),
        }
    )


def segment_distance_m(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Distance from points P to segments AB (element-wise), zero-length segments included."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.where(length2 > 0, ((px - ax) * dx + (py - ay) * dy) / np.where(length2 > 0, length2, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(ax + t * dx - px, ay + t * dy - py)


def track_events(index: CellIndex, points: pd.DataFrame, radii: CoverageRadii) -> pd.DataFrame:
    """(grid row, covered_at, transport) for every cell a track corridor covers."""
    if len(points) == 0:
        return _empty_events()
    seg = track_segments(points, radii)
    ax, ay, bx, by, half = (seg[c].to_numpy(float) for c in ("ax", "ay", "bx", "by", "half_m"))
    length = np.hypot(bx - ax, by - ay)
    pieces = np.maximum(1, np.ceil(length / half)).astype(np.int64)
    owner = np.repeat(np.arange(len(seg)), pieces)
    # Position of each sample along its segment: the middle of its piece, as a fraction.
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    fraction = (np.arange(len(owner)) - first + 0.5) / pieces[owner]
    sx = ax[owner] + fraction * (bx - ax)[owner]
    sy = ay[owner] + fraction * (by - ay)[owner]
    # Triangle inequality: a centre within w of the segment is within w + piece/2 of a sample.
    reach = (half + length / (2 * pieces))[owner]
    sample_code = seg["transport"].cat.codes.to_numpy()[owner]
    found = []
    for code in range(len(TRANSPORTS)):  # one search per transport: their reaches differ a lot
        chosen = np.flatnonzero(sample_code == code)
        sample, rows = index.rows_near(sx[chosen], sy[chosen], reach[chosen])
        found.append((chosen[sample], rows))
    sample, rows = (np.concatenate(parts) for parts in zip(*found, strict=True))
    # A long segment may find a cell from two samples; the repeat is harmless (coverage is a max).
    s, r = owner[sample], rows
    distance = segment_distance_m(index.xy[r, 0], index.xy[r, 1], ax[s], ay[s], bx[s], by[s])
    keep = distance <= half[s]
    s, r = s[keep], r[keep]
    return pd.DataFrame(
        {
            "row": r.astype(np.int64),
            "covered_at": pd.to_datetime(seg["time"].to_numpy()[s], utc=True),
            "activity": pd.Categorical(seg["transport"].to_numpy()[s], categories=ACTIVITIES),
        }
    )


def coverage_events(
    index: CellIndex, visits: pd.DataFrame | None, track_points: pd.DataFrame | None, radii: CoverageRadii
) -> pd.DataFrame:
    """Every (grid row, covered_at, activity) of the visits and tracks given."""
    frames = [_empty_events()]
    if visits is not None and len(visits):
        frames.append(visit_events(index, visits, radii))
    if track_points is not None and len(track_points):
        frames.append(track_events(index, track_points, radii))
    return pd.concat(frames, ignore_index=True)


def covered_cells(
    grid: pd.DataFrame,
    visits: pd.DataFrame | None,
    track_points: pd.DataFrame | None,
    radii: CoverageRadii | None = None,
    index: CellIndex | None = None,
) -> pd.DataFrame:
    """Per grid row: ``last_covered_at`` (NaT if never) and one bool column per activity.

    Pass only the visits and fixes of the period of interest; ``covered = last_covered_at.notna()``.
    """
    radii = radii or CoverageRadii()
    index = index or CellIndex(grid)
    events = coverage_events(index, visits, track_points, radii)
    result = pd.DataFrame(index=grid.index)
    last = np.full(len(grid), np.iinfo(np.int64).min, dtype=np.int64)
    stamps = utc_ns(events["covered_at"])
    np.maximum.at(last, events["row"].to_numpy(np.int64), stamps.view(np.int64))
    never = last == np.iinfo(np.int64).min
    result["last_covered_at"] = pd.to_datetime(np.where(never, 0, last), utc=True).where(~never, pd.NaT)
    for activity in ACTIVITIES:
        hit = np.zeros(len(grid), dtype=bool)
        hit[events.loc[events["activity"] == activity, "row"].to_numpy(np.int64)] = True
        result[activity] = hit
    return result
