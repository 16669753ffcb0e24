"""What the Coverage page computes, without Streamlit: a period's coverage, its weekly trend, who may
see which rows, draws from the audit log and the Excel export.

The page caches :func:`compute` (the slow part: covered cells, site accounting, blind spots and the
weekly trend); the per-region table is then :func:`coverage.stats.region_stats` on the cached parts,
which is fast enough to redo for each level and draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverage.blindspots import blind_spots
from coverage.inputs import CoverageModel
from coverage.sites import draw_status
from coverage.stats import region_stats
from records.access import can
from records.accounts import Account
from records.draws import RESULT_ACTION

#: Percentages drawn in the trend chart, per week.
TREND_COLUMNS = ("weighted_coverage_pct", "area_coverage_pct", "site_coverage_pct")
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)


@dataclass
class CoverageResult:
    """The cached outcome of :func:`compute` for one period and grid."""

    #: Aligned with the model's grid: when each cell was last covered in the period (NaT = never).
    last_covered_at: pd.Series
    #: :func:`coverage.sites.site_table` for the period.
    sites: pd.DataFrame
    #: Every visit up to the period end (the draw check needs them).
    visits: pd.DataFrame
    #: Ranked blind spots (:func:`coverage.blindspots.blind_spots`) for the period.
    spots: pd.DataFrame
    #: One row per week start and prefecture (and ``total``): :data:`TREND_COLUMNS`.
    trend: pd.DataFrame

    @property
    def covered(self) -> np.ndarray:
        """Boolean mask of covered grid cells."""
        return self.last_covered_at.notna().to_numpy()


def weeks(since: pd.Timestamp, until: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` of each week of ``[since, until)``, starting at ``since`` (the last may be short)."""
    bounds = []
    start = since
    while start < until:
        bounds.append((start, min(start + WEEK, until)))
        start = bounds[-1][1]
    return bounds


@dataclass
class TrackCoverage:
    """When GPS tracks last covered each grid cell: over the period and within each of its weeks.

    Tracks change far less often than visits (an import, not every recorded visit), so the page
    caches this part on the tracks alone; visits are added by :func:`compute`.
    """

    period: pd.Series
    weekly: list[pd.Series]


def track_coverage(
    model: CoverageModel, track_points: pd.DataFrame, since: pd.Timestamp, until: pd.Timestamp
) -> TrackCoverage:
    """:class:`TrackCoverage` of the fixes of ``[since, until)``."""
    weekly = []
    for start, end in weeks(since, until):
        in_week = track_points[(track_points["time"] >= start) & (track_points["time"] < end)]
        weekly.append(model.covered(None, in_week)["last_covered_at"])
    return TrackCoverage(model.covered(None, track_points)["last_covered_at"], weekly)


def _latest(first: pd.Series, second: pd.Series) -> pd.Series:
    """Cell by cell, the later of two ``last_covered_at`` columns (coverage is the latest event)."""
    return pd.concat([first, second], axis=1).max(axis=1)


def weekly_trend(
    model: CoverageModel,
    visits: pd.DataFrame,
    tracks: TrackCoverage,
    since: pd.Timestamp,
    until: pd.Timestamp,
) -> pd.DataFrame:
    """Coverage of each week of ``[since, until)`` (:func:`weeks`) per prefecture and in total.

    Each week is a period of its own: cells covered and due sites inspected within that week.
    """
    rows = []
    for (start, end), by_tracks in zip(weeks(since, until), tracks.weekly, strict=True):
        week_visits = visits[(visits["started_at"] >= start) & (visits["started_at"] < end)]
        last = _latest(by_tracks, model.covered(week_visits, None)["last_covered_at"])
        sites = model.sites(visits[visits["started_at"] < end], start, end)
        table = region_stats(
            model.grid, model.weights["weight"], last.notna(), sites, None, "prefecture", model.regions
        )
        week = (start + 8 * pd.Timedelta(hours=1)).date()  # the local day the week starts on
        rows.append(table[["prefecture_code", *TREND_COLUMNS]].assign(week=week))
    columns = ["week", "prefecture_code", *TREND_COLUMNS]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def compute(
    model: CoverageModel,
    visits: pd.DataFrame,
    tracks: TrackCoverage,
    since: pd.Timestamp,
    until: pd.Timestamp,
    roads_metric: np.ndarray | None,
) -> CoverageResult:
    """Covered cells, sites, blind spots (weight not covered in the period) and the weekly trend.

    ``visits`` reach back before ``since`` (they decide which sites are due); only those from
    ``since`` on cover area, as in :meth:`coverage.inputs.CoverageModel.region_table`.
    """
    in_period = visits[visits["started_at"] >= since]
    last = _latest(tracks.period, model.covered(in_period, None)["last_covered_at"])
    days = (until - since) / DAY
    spots = blind_spots(model.grid, model.weights, last, until, days, roads_metric)
    return CoverageResult(
        last_covered_at=last,
        sites=model.sites(visits, since, until),
        visits=visits,
        spots=spots,
        trend=weekly_trend(model, visits, tracks, since, until),
    )


def region_table(
    model: CoverageModel, result: CoverageResult, by: str, draws: pd.DataFrame | None
) -> pd.DataFrame:
    """:func:`coverage.stats.region_stats` from a cached result (``by`` prefecture or county)."""
    return region_stats(
        model.grid, model.weights["weight"], result.covered, result.sites, draws, by, model.regions
    )


def draw_targets(
    draw: dict, result: CoverageResult, since: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """``site_id``/``met`` of a random-draw record (raises ValueError for a malformed record)."""
    return draw_status(draw, result.visits, (since, until))


def latest_draw(audit_log: pd.DataFrame) -> dict | None:
    """The newest system draw kept in the audit log (a ``draw`` entry whose details carry the draw's
    ``result``; draws filed as evidence only, ``draw.external``, do not count), or None."""
    if audit_log.empty:
        return None
    entries = audit_log[audit_log["action"].astype(str) == RESULT_ACTION]
    for details in reversed(entries["details"].tolist()):
        if isinstance(details, dict) and isinstance(details.get("result"), list):
            return details
    return None


@dataclass(frozen=True)
class Scope:
    """What an account may see on the Coverage page."""

    #: County rows, county-level map and site lists.
    drilldown: bool
    #: Only this prefecture (a chief's detachment); None = the whole province.
    prefecture: str | None


def coverage_scope(account: Account) -> Scope | None:
    """The account's view of coverage (None: no statistics at all, e.g. an officer).

    Admins and managers with the ``drilldown`` permission see everything; a chief sees their own
    detachment down to counties; a manager without ``drilldown`` sees prefecture aggregates only.
    """
    if not can(account, "statistics"):
        return None
    if can(account, "all_plans"):
        return Scope(drilldown=True, prefecture=None)
    if account.role == "chief":
        return Scope(drilldown=True, prefecture=account.detachment)
    return Scope(drilldown=False, prefecture=None)


def in_scope(table: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """Rows of a region table (or trend) the scope may see: a chief's prefecture only (no ``total``
    row; the page shows the prefecture's own row as the chief's total)."""
    if scope.prefecture is None:
        return table
    return table[table["prefecture_code"] == scope.prefecture].reset_index(drop=True)
