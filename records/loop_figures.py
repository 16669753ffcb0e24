"""What the records say about one site before a visit (its dossier, 事前研判), and the closing-the-loop
figures per region a manager reads: open and overdue cases and complaints, closure on time, days to
close, repeat offenders.

Both are plain reads of the tables of :mod:`records.cases`, :mod:`records.complaints` and
:mod:`records.tasks`. Regions are the caller's: pass a mapping site id -> region (prefecture or
county code, from the registry), so the records need not know the registry. A case is *closed on
time* when its verifying visit started by the end of its deadline day; a complaint when the visit
that closed it started by its response deadline. *Days to close* run from the finding (or receipt)
to that visit. A *repeat offender* is a site with two or more cases found in the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd

from records.backend import Connection, read_frame
from records.db import utc_text
from records.tasks import end_of_day

#: How far back a dossier lists complaints.
COMPLAINT_YEARS = 1
#: How many recent visits a dossier lists.
DOSSIER_VISITS = 5
FIGURE_COLUMNS = (
    "cases_open",
    "cases_overdue",
    "cases_closed",
    "cases_closed_on_time",
    "case_on_time_rate",
    "case_median_days_to_close",
    "complaints_open",
    "complaints_overdue",
    "complaints_closed",
    "complaints_closed_on_time",
    "complaint_on_time_rate",
    "complaint_median_days_to_close",
    "repeat_offenders",
)


def _frame(conn: Connection, sql: str, params: tuple, times: tuple[str, ...]) -> pd.DataFrame:
    frame = read_frame(sql, conn, params=params)
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def site_dossier(conn: Connection, site_id: str, now: datetime) -> dict[str, pd.DataFrame]:
    """A site's recent visits, open cases (with ``overdue``), complaints of the last year and open
    tasks, each a frame (times tz-aware UTC). Registry facts (permit, category) are the caller's."""
    visits = _frame(
        conn,
        "SELECT visit_id, team_id, started_at, outcome, reason, notes FROM visits v WHERE site_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM visits n WHERE n.supersedes = v.visit_id) "
        "ORDER BY started_at DESC LIMIT ?",
        (site_id, DOSSIER_VISITS),
        ("started_at",),
    )
    cases = _frame(
        conn,
        "SELECT case_id, case_no, category, state, found_at, rectify_by, chief, description FROM cases "
        "WHERE site_id = ? AND state IN ('open', 'rectifying') ORDER BY rectify_by",
        (site_id,),
        ("found_at",),
    )
    cases["overdue"] = [end_of_day(datetime.fromisoformat(day).date()) < now for day in cases["rectify_by"]]
    since = now - timedelta(days=365 * COMPLAINT_YEARS)
    complaints = _frame(
        conn,
        "SELECT complaint_id, received_at, channel, nature, night, urgent, respond_by, state, reply "
        "FROM complaints WHERE site_id = ? AND received_at >= ? ORDER BY received_at DESC",
        (site_id, utc_text(since)),
        ("received_at", "respond_by"),
    )
    tasks = _frame(
        conn,
        "SELECT task_id, kind, due_at, reason FROM tasks WHERE site_id = ? AND state = 'open' ORDER BY due_at",
        (site_id,),
        ("due_at",),
    )
    return {"visits": visits, "cases": cases, "complaints": complaints, "tasks": tasks}


def _rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).round(3)


def region_figures(
    conn: Connection,
    site_regions: Mapping[str, str],
    now: datetime,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Per region (index), the :data:`FIGURE_COLUMNS` for cases found and complaints received since
    ``since`` (all when ``None``), as of ``now``. Rates are ``NaN`` where nothing was closed; sites
    missing from ``site_regions`` count under region ``""``."""
    start = utc_text(since) if since is not None else ""
    cases = _frame(
        conn,
        "SELECT c.site_id, c.state, c.found_at, c.rectify_by, v.started_at AS verified_at FROM cases c "
        "LEFT JOIN visits v ON v.visit_id = c.verified_visit_id WHERE c.found_at >= ?",
        (start,),
        ("found_at", "verified_at"),
    )
    complaints = _frame(
        conn,
        "SELECT c.site_id, c.state, c.received_at, c.respond_by, v.started_at AS visited_at FROM complaints c "
        "LEFT JOIN visits v ON v.visit_id = c.visit_id WHERE c.received_at >= ?",
        (start,),
        ("received_at", "respond_by", "visited_at"),
    )
    moment = pd.Timestamp(now).tz_convert("UTC")
    deadline = pd.to_datetime(
        [end_of_day(datetime.fromisoformat(day).date()) for day in cases["rectify_by"]], utc=True
    )
    active = cases["state"].isin(["open", "rectifying"])
    cases = cases.assign(
        region=cases["site_id"].map(lambda s: site_regions.get(s, "")),
        open=active,
        overdue=active & (deadline < moment),
        closed=cases["state"] == "closed",
        on_time=(cases["state"] == "closed") & (cases["verified_at"] <= deadline),
        days=(cases["verified_at"] - cases["found_at"]).dt.total_seconds() / 86400,
    )
    complaints = complaints.assign(
        region=complaints["site_id"].map(lambda s: site_regions.get(s, "")),
        open=complaints["state"] == "open",
        overdue=(complaints["state"] == "open") & (complaints["respond_by"] < moment),
        closed=complaints["state"] == "closed",
        on_time=(complaints["state"] == "closed") & (complaints["visited_at"] <= complaints["respond_by"]),
        days=(complaints["visited_at"] - complaints["received_at"]).dt.total_seconds() / 86400,
    )
    by_case, by_complaint = cases.groupby("region"), complaints.groupby("region")
    repeat = cases.groupby(["region", "site_id"]).size()
    regions = sorted(set(cases["region"]) | set(complaints["region"]))
    out = pd.DataFrame(index=pd.Index(regions, name="region"))
    for prefix, groups in (("cases", by_case), ("complaints", by_complaint)):
        for name in ("open", "overdue", "closed"):
            out[f"{prefix}_{name}"] = groups[name].sum()
        out[f"{prefix}_closed_on_time"] = groups["on_time"].sum()
    out = out.fillna(0).astype(int)
    out["case_on_time_rate"] = _rate(out["cases_closed_on_time"], out["cases_closed"])
    out["complaint_on_time_rate"] = _rate(out["complaints_closed_on_time"], out["complaints_closed"])
    out["case_median_days_to_close"] = by_case["days"].median().reindex(out.index).round(1)
    out["complaint_median_days_to_close"] = by_complaint["days"].median().reindex(out.index).round(1)
    out["repeat_offenders"] = (
        (repeat[repeat >= 2].groupby(level="region").size()).reindex(out.index).fillna(0).astype(int)
    )
    return out[list(FIGURE_COLUMNS)]
