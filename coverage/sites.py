"""Site-level accounting for a period: which sites were due, which were inspected, how overdue.

Definitions (``[since, until)`` is the period; times are UTC, registry dates are local days):

* An **inspection** is a visit with outcome ``compliant`` or ``violation`` that was recorded
  (``source`` planned or ad hoc) — inferred visits (GPS dwell) and ``not_inspected`` visits are not.
* A site's **last inspection before the period** is the later of the registry's
  ``last_inspected`` (a local date, read as its midnight at +08:00) and its last inspection
  before ``since``. Its **due date** is that plus ``inspect_every_days`` (schema default when
  missing). A site is **due in the period** when the due date is before ``until`` or it was never
  inspected. Stopped and relocated units are never due.
* **Site coverage** = due sites inspected in the period / due sites.
* **Coverage debt** at ``until``: days from the due date (recomputed with the period's
  inspections) to ``until``, floored, 0 when not overdue. A site never inspected at all counts as
  due from ``since``.
* A **random-draw target is met** when the drawn site was inspected within the draw's period.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from layers.schema import DEFAULTS, INACTIVE_STATUSES
from records.db import LOCAL_TZ

INSPECTION_OUTCOMES = ("compliant", "violation")
SITE_COLUMNS = (
    "site_id",
    "layer",
    "category",
    "prefecture_code",
    "prefecture_name",
    "county_code",
    "county_name",
    "interval_days",
    "last_before",
    "due",
    "inspected",
    "last_inspected_at",
    "overdue_days",
)
DAY = pd.Timedelta(days=1)


def inspections(visits: pd.DataFrame) -> pd.DataFrame:
    """The visits that count as inspections of a site (see the module docstring)."""
    if visits is None or len(visits) == 0:
        return pd.DataFrame(
            {"site_id": pd.Series(dtype="string"), "started_at": pd.Series(dtype="datetime64[ns, UTC]")}
        )
    mask = (
        visits["outcome"].isin(INSPECTION_OUTCOMES)
        & (visits["source"].astype("string") != "inferred").fillna(True)
        & visits["site_id"].notna()
    )
    result = visits.loc[mask.to_numpy(bool), ["site_id", "started_at"]].copy()
    result["site_id"] = result["site_id"].astype("string")
    result["started_at"] = pd.to_datetime(result["started_at"], utc=True)
    return result


def local_midnight_utc(days: pd.Series) -> pd.Series:
    """Registry dates (naive, local) as the UTC instant of their local midnight."""
    moments = pd.to_datetime(days).dt.normalize().dt.tz_localize(LOCAL_TZ)
    return moments.dt.tz_convert("UTC")


def values_for(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing where absent), indexed like ``keys``.

    (``Series.map`` with an empty datetime table fails in pandas 3; reindexing does not.)
    """
    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=table.dtype)


def _latest(first: pd.Series, second: pd.Series) -> pd.Series:
    """Element-wise later of two UTC time series, ignoring missing values."""
    first, second = pd.to_datetime(first, utc=True), pd.to_datetime(second, utc=True)
    return first.where((first >= second) | second.isna(), second)


def site_table(
    targets: pd.DataFrame, visits: pd.DataFrame | None, since: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """One row per active target with :data:`SITE_COLUMNS` for the period ``[since, until)``.

    ``visits`` may hold visits of any time (earlier ones move the due dates; later ones are ignored).
    """
    since, until = pd.Timestamp(since).tz_convert("UTC"), pd.Timestamp(until).tz_convert("UTC")
    active = ~targets["status"].astype("string").isin(INACTIVE_STATUSES).fillna(False).to_numpy(bool)
    sites = pd.DataFrame(targets.loc[active, [c for c in SITE_COLUMNS if c in targets.columns]]).copy()
    sites["site_id"] = sites["site_id"].astype("string")
    interval = pd.to_numeric(targets.loc[active, "inspect_every_days"]).astype("Float64")
    sites["interval_days"] = (
        interval.where(interval > 0).fillna(float(DEFAULTS["inspect_every_days"])).astype(float)
    )
    registry_last = local_midnight_utc(targets.loc[active, "last_inspected"])

    done = inspections(visits)
    done = done[done["started_at"] < until]
    before = done[done["started_at"] < since].groupby("site_id")["started_at"].max()
    during = done[done["started_at"] >= since].groupby("site_id")["started_at"].max()

    # A registry date inside the period is the period's own inspection, not one "before" it.
    registry_before = registry_last.where(registry_last < since)
    last_before = _latest(registry_before, values_for(sites["site_id"], before))
    registry_in_period = registry_last.where((registry_last >= since) & (registry_last < until))
    in_period = _latest(values_for(sites["site_id"], during), registry_in_period)

    interval_td = pd.to_timedelta(sites["interval_days"], unit="D")
    sites["last_before"] = last_before
    sites["due"] = (last_before.isna() | (last_before + interval_td < until)).to_numpy(bool)
    sites["inspected"] = in_period.notna().to_numpy(bool)
    last_end = in_period.fillna(last_before)
    sites["last_inspected_at"] = last_end
    due_end = (last_end + interval_td).fillna(since)
    sites["overdue_days"] = np.floor(((until - due_end) / DAY).clip(lower=0)).astype(np.int64)
    return sites[list(SITE_COLUMNS)].reset_index(drop=True)


def draw_period(draw: dict) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``[start, end)`` of a draw's period in UTC, or ``None`` when the draw names none.

    Accepts ``period`` as ``2026Q4``, ``2026-11``, ``2026`` or ``{"start": day, "end": day}``
    (both days inclusive), or top-level ``since``/``until`` days.
    """
    period = draw.get("period")
    if isinstance(period, dict):
        first, last = period.get("start") or period.get("since"), period.get("end") or period.get("until")
    elif isinstance(period, str):
        text = period.strip().upper()
        quarter = re.fullmatch(r"(\d{4})-?Q([1-4])", text)
        month = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if quarter:
            start = date(int(quarter[1]), 3 * int(quarter[2]) - 2, 1)
            months = 3
        elif month:
            start, months = date(int(month[1]), int(month[2]), 1), 1
        elif re.fullmatch(r"\d{4}", text):
            start, months = date(int(text), 1, 1), 12
        else:
            raise ValueError(f"draw period {period!r}: expected 2026Q4, 2026-11, 2026 or {{start, end}}")
        first = start.isoformat()
        last = (pd.Timestamp(start) + pd.DateOffset(months=months) - DAY).date().isoformat()
    else:
        first, last = draw.get("since"), draw.get("until")
    if not first or not last:
        return None
    return day_start_utc(first), day_start_utc(last) + DAY


def day_start_utc(day: str | date) -> pd.Timestamp:
    """The UTC instant of a local (+08:00) day's midnight."""
    return pd.Timestamp(str(day)[:10]).tz_localize(LOCAL_TZ).tz_convert("UTC")


def draw_status(
    draw: dict, visits: pd.DataFrame | None, fallback_period: tuple[pd.Timestamp, pd.Timestamp]
) -> pd.DataFrame:
    """``site_id`` and ``met`` for every drawn site (inspected within the draw's period).

    The draw's own period is used when it has one, else ``fallback_period``.
    """
    result = draw.get("result")
    if not isinstance(result, list) or any(
        not isinstance(row, dict) or not row.get("site_id") for row in result
    ):
        raise ValueError("draw: 'result' must be a list of objects with a 'site_id'")
    start, end = draw_period(draw) or fallback_period
    done = inspections(visits)
    done = done[(done["started_at"] >= start) & (done["started_at"] < end)]
    drawn = pd.Series([str(row["site_id"]) for row in result], dtype="string").drop_duplicates()
    return pd.DataFrame({"site_id": drawn.to_numpy(), "met": drawn.isin(set(done["site_id"])).to_numpy(bool)})
