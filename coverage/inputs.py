"""What the coverage commands read and write: the period, the grid and weights, the records, drawn sites.

The core modules work on DataFrames; this module is the one place that knows where they come
from (shipped layers, the registry, the records database) and how a command prints its table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import yaml

from coverage.covered import CoverageRadii, covered_cells, fill_visit_positions
from coverage.grid import DEFAULT_RESOLUTION, FINE_RESOLUTION, CellIndex, build_grid, county_regions
from coverage.sites import day_start_utc, draw_status, site_table
from coverage.stats import region_stats
from coverage.weights import CoverageWeights, cell_weights
from layers.datasets import load_context, load_targets
from layers.spreadsheet import csv_text, export_notes, rounded
from records.backend import database_errors
from records.db import RecordsError, db_target, exists
from records.store import open_store


class InputError(Exception):
    """Bad input for a coverage command; the message is shown to the user as is."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every coverage command shares: grid, config, database and output file."""
    parser.add_argument(
        "--resolution",
        type=int,
        help=f"H3 resolution: 6 ≈ 41 km² cells, 7 ≈ 6 km² (default {DEFAULT_RESOLUTION}, "
        f"{FINE_RESOLUTION} with --prefecture)",
    )
    parser.add_argument(
        "--prefecture", action="append", default=[], help="limit to a prefecture adcode (repeatable)"
    )
    parser.add_argument(
        "--config", help="YAML/JSON with 'weights' and 'radii' sections overriding the defaults"
    )
    parser.add_argument("--db", help="records database (default $XUNHU_DB or var/xunhu.sqlite)")
    parser.add_argument("--out", help="write here instead of standard output")


def model_for(args: argparse.Namespace, as_of: pd.Timestamp) -> CoverageModel:
    """:func:`load_model` with the options of :func:`add_model_arguments`."""
    if args.resolution is None:
        args.resolution = FINE_RESOLUTION if args.prefecture else DEFAULT_RESOLUTION
    return load_model(as_of, args.resolution, args.prefecture, args.config)


def period(since: str, until: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[since 00:00, until+1 00:00)`` at +08:00, in UTC, from two inclusive ``YYYY-MM-DD`` days."""
    days = []
    for name, text in (("--since", since), ("--until", until)):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise InputError(f"{name}: {text!r} is not a day like 2026-11-24") from None
    if days[1] < days[0]:
        raise InputError(f"--until {until} is before --since {since}")
    return day_start_utc(days[0]), day_start_utc(days[1]) + pd.Timedelta(days=1)


def read_config(path: str | None) -> tuple[CoverageWeights, CoverageRadii]:
    """Weights and radii from a config file (missing sections keep their defaults)."""
    if not path:
        return CoverageWeights(), CoverageRadii()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read config: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"weights", "radii"}:
        raise InputError(f"{path}: config must be a mapping with only 'weights' and 'radii' sections")
    return _settings(CoverageWeights, data.get("weights"), path), _settings(
        CoverageRadii, data.get("radii"), path
    )


def _settings(cls: type, values: object, path: str) -> object:
    """An instance of the settings dataclass ``cls`` from a config section, naming bad keys."""
    known = set(cls.__dataclass_fields__)
    if values is None:
        values = {}
    if not isinstance(values, dict) or set(values) - known:
        unknown = sorted(set(values) - known) if isinstance(values, dict) else values
        raise InputError(f"{path}: unknown {cls.__name__} setting(s) {unknown}; known: {sorted(known)}")
    try:
        return cls(**{key: float(value) for key, value in values.items()})
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None


@dataclass
class CoverageModel:
    """A grid with its weights, the registry and the reach of each activity."""

    grid: pd.DataFrame
    weights: pd.DataFrame
    targets: gpd.GeoDataFrame
    radii: CoverageRadii
    index: CellIndex
    #: The counties reported on (:data:`coverage.grid.REGION_COLUMNS`), cells or not.
    regions: pd.DataFrame

    def covered(self, visits: pd.DataFrame | None, track_points: pd.DataFrame | None) -> pd.DataFrame:
        """:func:`coverage.covered.covered_cells` on this grid."""
        if visits is not None and len(visits):
            visits = fill_visit_positions(visits, self.targets)
        return covered_cells(self.grid, visits, track_points, self.radii, self.index)

    def sites(self, visits: pd.DataFrame | None, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        """:func:`coverage.sites.site_table` for this registry."""
        return site_table(self.targets, visits, since, until)

    def region_table(
        self,
        visits: pd.DataFrame | None,
        track_points: pd.DataFrame | None,
        since: pd.Timestamp,
        until: pd.Timestamp,
        by: str,
        draws: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """:func:`coverage.stats.region_stats` for ``[since, until)``.

        ``visits`` may reach back before ``since`` (they set which sites are due); only those from
        ``since`` on, and the fixes given, cover area.
        """
        in_period = visits[visits["started_at"] >= since] if visits is not None else None
        covered = self.covered(in_period, track_points)["last_covered_at"].notna()
        sites = self.sites(visits, since, until)
        return region_stats(self.grid, self.weights["weight"], covered, sites, draws, by, self.regions)


def load_model(
    as_of: pd.Timestamp,
    resolution: int = DEFAULT_RESOLUTION,
    prefecture_codes: list[str] | None = None,
    config: str | None = None,
) -> CoverageModel:
    """Grid, weights (priorities scored on ``as_of``, a UTC instant) and the shipped registry.

    ``config`` is an optional YAML/JSON file with ``weights`` and ``radii`` sections.
    """
    weights_config, radii = read_config(config)
    try:
        grid = build_grid(resolution, prefecture_codes=prefecture_codes or None)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        targets = load_targets()
    except Exception as exc:  # the registry is a file a user may have broken; name it, not a traceback
        raise InputError(f"cannot read the target registry (data/registry): {exc}") from None
    as_of_day = as_of.tz_convert("Asia/Shanghai").date()
    index = CellIndex(grid)
    rivers, lakes = load_context("rivers"), load_context("lakes")
    weights = cell_weights(grid, targets, as_of_day, rivers, lakes, weights_config, index)
    return CoverageModel(grid, weights, targets, radii, index, county_regions(prefecture_codes or None))


@dataclass
class Records:
    """The visits and GPS fixes a command needs, read from the records database."""

    visits: pd.DataFrame
    track_points: pd.DataFrame


def has_records(db: str | None) -> bool:
    """Whether the records database (``--db`` or the default) exists."""
    return exists(db)


def read_records(
    db: str | None,
    track_since: pd.Timestamp | None,
    until: pd.Timestamp,
    visit_since: pd.Timestamp | None = None,
) -> Records:
    """Visits (inferred ones included) from ``visit_since`` and fixes from ``track_since``, to ``until``.

    A missing database is an :class:`InputError` (opening would silently create an empty one).
    """
    path = db_target(db)
    if not exists(path):
        raise InputError(
            f"no records database at {path}: record visits or import GPS tracks first, "
            "or point to one with --db / $XUNHU_DB"
        )
    try:
        with open_store(path) as store:
            return Records(
                store.visits(visit_since, until, include_inferred=True),
                store.track_points(track_since, until),
            )
    except (*database_errors(), RecordsError) as exc:
        raise InputError(f"{path}: cannot read the records database: {exc}") from None


def read_draws(
    paths: list[str], visits: pd.DataFrame, fallback_period: tuple[pd.Timestamp, pd.Timestamp]
) -> pd.DataFrame | None:
    """``site_id``/``met`` of every drawn site in the given draw files (``None`` without files)."""
    if not paths:
        return None
    frames = []
    for path in paths:
        try:
            draw = json.loads(Path(path).read_text(encoding="utf-8"))
            frames.append(draw_status(draw, visits, fallback_period))
        except (OSError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: {exc}") from None
    return pd.concat(frames, ignore_index=True).drop_duplicates("site_id", keep="last")


def write_table(
    table: pd.DataFrame, fmt: str, out: str | None, meta: dict | None = None, simulated: bool = False
) -> None:
    """Print or write ``table`` as CSV or as JSON ``{**meta, "notes": [...], "rows": [...]}``.

    Numbers are rounded to 2 decimals, coordinates (``lon``, ``lat``) to 5 (about 1 m). The notes
    are the attribution and, when ``simulated`` records went into the table, the SIMULATED note
    (:func:`layers.spreadsheet.export_notes`; in CSV the leading lines starting with ``#``).
    """
    table = rounded(table)
    notes = export_notes(simulated)
    if fmt == "csv":
        text = csv_text(table, notes)
    else:
        rows = json.loads(table.to_json(orient="records", date_format="iso", force_ascii=False))
        text = json.dumps({**(meta or {}), "notes": notes, "rows": rows}, ensure_ascii=False, indent=1) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
