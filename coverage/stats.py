"""Coverage statistics per prefecture or county for a period, and the ``report`` command.

Per region (the cells whose centre is in it, and the sites the registry places in it):

* ``weighted_coverage_pct`` = Σ weight of covered cells / Σ weight of all cells × 100
  (empty when the region has no weight at all);
* ``area_coverage_pct`` = covered cell area / region area × 100 (the unweighted view);
* ``site_coverage_pct`` = due sites inspected / due sites × 100 (empty when nothing was due);
* ``debt_days`` (and per supervision category) = Σ days overdue at the period end;
* ``draw_met`` of ``draw_targets`` = random-draw sites inspected in the draw's period.

A last row ``total`` sums the whole grid.

``python -m coverage report --since 2026-10-01 --until 2026-12-31 --by prefecture --format csv``
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from coverage.grid import REGION_COLUMNS
from coverage.sites import values_for
from layers.schema import CATEGORIES
from layers.spreadsheet import has_simulated

BY_LEVELS = {
    "prefecture": ("prefecture_code", "prefecture_name"),
    "county": ("county_code", "county_name", "prefecture_code", "prefecture_name"),
}
TOTAL_CODE = "total"


def _percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """100 × part / whole, missing where whole is 0."""
    return (100.0 * part / whole.where(whole > 0)).astype(float)


def region_stats(
    grid: pd.DataFrame,
    weight: pd.Series,
    covered: pd.Series,
    sites: pd.DataFrame,
    draws: pd.DataFrame | None = None,
    by: str = "county",
    regions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per region of ``by`` (plus ``total``) with the measures in the module docstring.

    ``weight`` and ``covered`` (bool) are aligned with ``grid``; ``sites`` is
    :func:`coverage.sites.site_table`; ``draws`` has ``site_id`` and ``met``. ``regions`` lists
    the counties to report (:data:`coverage.grid.REGION_COLUMNS`; default: the counties of the
    grid's cells). Pass it: at a coarse resolution a small urban district holds no cell centre,
    yet its sites must still count. Sites of other counties are left out, so a grid cut to a
    prefecture reports only that prefecture.
    """
    if by not in BY_LEVELS:
        raise ValueError(f"--by must be one of {sorted(BY_LEVELS)}, got {by!r}")
    keys = list(BY_LEVELS[by])
    covered = np.asarray(covered, dtype=bool)
    cells = grid[keys].copy()
    cells["cells"] = 1
    cells["area_km2"] = grid["area_km2"].to_numpy(float)
    cells["area_covered_km2"] = np.where(covered, cells["area_km2"], 0.0)
    cells["weight"] = np.asarray(weight, dtype=float)
    cells["weight_covered"] = np.where(covered, cells["weight"], 0.0)

    regions = (grid if regions is None else regions)[list(REGION_COLUMNS)].drop_duplicates("county_code")
    sites = sites[sites["county_code"].isin(regions["county_code"])].copy()
    # The boundary layer's county -> prefecture mapping, so sites and cells agree on the prefecture.
    prefecture_of = regions.set_index("county_code")["prefecture_code"]
    sites["prefecture_code"] = values_for(sites["county_code"], prefecture_of)
    sites["sites_due"] = sites["due"].astype(int)
    sites["sites_due_inspected"] = (sites["due"] & sites["inspected"]).astype(int)
    sites["sites_inspected"] = sites["inspected"].astype(int)
    sites["sites_overdue"] = (sites["overdue_days"] > 0).astype(int)
    sites["debt_days"] = sites["overdue_days"]
    for category in CATEGORIES:
        sites[f"debt_days_{category}"] = sites["overdue_days"].where(sites["category"] == category, 0)
    drawn = draws if draws is not None else pd.DataFrame({"site_id": pd.Series(dtype="string"), "met": False})
    drawn = sites[["site_id", keys[0]]].merge(drawn, on="site_id", how="inner")
    drawn["draw_targets"] = 1
    drawn["draw_met"] = drawn["met"].astype(bool).astype(int)

    cell_sums = ["cells", "area_km2", "area_covered_km2", "weight", "weight_covered"]
    site_sums = [
        "sites_due",
        "sites_due_inspected",
        "sites_inspected",
        "sites_overdue",
        "debt_days",
        *(f"debt_days_{c}" for c in CATEGORIES),
    ]
    code = keys[0]
    parts = [
        cells.groupby(code)[cell_sums].sum(),
        sites.groupby(code)[site_sums].sum(),
        drawn.groupby(code)[["draw_targets", "draw_met"]].sum(),
    ]
    # Names come from the boundary layer, whatever the registry rows say.
    names = regions.drop_duplicates(code).set_index(code)[keys[1:]]
    table = names.join(pd.concat(parts, axis=1), how="left")
    table[table.columns[len(keys) - 1 :]] = table[table.columns[len(keys) - 1 :]].fillna(0)
    table = table.reset_index()
    total = table[[*cell_sums, *site_sums, "draw_targets", "draw_met"]].sum().to_frame().T
    total[code] = TOTAL_CODE
    table = pd.concat([table.sort_values(code), total], ignore_index=True)
    for column in [*site_sums, "cells", "draw_targets", "draw_met"]:
        table[column] = table[column].astype(np.int64)
    table["weighted_coverage_pct"] = _percent(table["weight_covered"], table["weight"])
    table["area_coverage_pct"] = _percent(table["area_covered_km2"], table["area_km2"])
    table["site_coverage_pct"] = _percent(table["sites_due_inspected"], table["sites_due"])
    order = [
        *keys,
        "weighted_coverage_pct",
        "site_coverage_pct",
        "area_coverage_pct",
        "weight",
        "weight_covered",
        "cells",
        "area_km2",
        "area_covered_km2",
        "sites_due",
        "sites_due_inspected",
        "sites_inspected",
        "sites_overdue",
        "debt_days",
        *(f"debt_days_{c}" for c in CATEGORIES),
        "draw_targets",
        "draw_met",
    ]
    return table[order]


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every per-region report command shares (``report`` and ``bulk``)."""
    from coverage import inputs

    parser.add_argument("--since", required=True, help="first day of the period (YYYY-MM-DD, local)")
    parser.add_argument("--until", required=True, help="last day of the period (inclusive)")
    parser.add_argument("--by", choices=sorted(BY_LEVELS), default="prefecture")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--draw", action="append", default=[], help="random-draw JSON (repeatable)")
    inputs.add_model_arguments(parser)


def main(argv: list[str]) -> int:
    """``python -m coverage report``: per-region coverage for a period as CSV or JSON."""
    from coverage import inputs

    parser = argparse.ArgumentParser(prog="python -m coverage report", description=main.__doc__)
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    try:
        since, until = inputs.period(args.since, args.until)
        records = inputs.read_records(args.db, since, until)
        model = inputs.model_for(args, as_of=since)
        draws = inputs.read_draws(args.draw, records.visits, (since, until))
        table = model.region_table(records.visits, records.track_points, since, until, args.by, draws)
    except (inputs.InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    inputs.write_table(
        table,
        args.format,
        args.out,
        meta={"since": args.since, "until": args.until, "by": args.by},
        simulated=has_simulated(records.visits),
    )
    return 0
