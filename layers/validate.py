"""Validate a raw file against the target schema and normalise it, reporting every problem.

:func:`validate` never stops at the first fault: each row and each field is checked, and every
problem is reported with its file, row, field, value and reason. Geometry is brought to
EPSG:4326 with pyproj (optionally from GCJ-02, see :mod:`layers.gcj02`), placed in its prefecture
and county, and repaired only where the repair is provably harmless (``make_valid`` that keeps a
polygon a polygon and its area within 1 %); every repair is reported too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.datasets import load_context
from layers.gcj02 import gcj02_coords_to_wgs84
from layers.io import RawLayer, read_raw
from layers.problems import Problem, find_markup, is_missing
from layers.regions import REGION_COLUMNS, assign_regions, inside_xinjiang
from layers.schema import (
    CATEGORIES,
    CATEGORY_ZH,
    DEFAULTS,
    GEOMETRY_TYPES,
    KINDS,
    LAYERS,
    REQUIRED_COLUMNS,
    SKILLS,
    STATUSES,
    TARGET_COLUMNS,
    TARGET_DTYPES,
    WGS84,
    XINJIANG_BBOX,
    XINJIANG_METRIC_CRS,
    parse_skills,
)

#: A visit has to fit into one working day with its travel, so longer service times are typos.
SERVICE_MINUTES_RANGE = (1, 600)
RISK_LEVEL_RANGE = (1, 5)
#: A make_valid repair is accepted only if it changes the area by less than this fraction.
MAX_REPAIR_AREA_CHANGE = 0.01
#: Rows the county join misses (points on the generalised outline) take the nearest county
#: within this distance; the boundaries are only good to a few hundred metres.
NEAREST_COUNTY_MAX_KM = 5.0

_TRUE = {"true", "t", "yes", "y", "1", "是"}
_FALSE = {"false", "f", "no", "n", "0", "否"}
_CATEGORY_BY_ZH = {zh: key for key, zh in CATEGORY_ZH.items()}


class _Bad(ValueError):
    """A cell value that breaks a rule; the message is the reason shown to the user."""


@dataclass
class ValidationReport:
    """Outcome of :func:`validate`.

    ``targets`` holds the rows without errors in the target schema (EPSG:4326, exactly
    :data:`~layers.schema.TARGET_COLUMNS` + ``geometry``). ``problems`` lists errors and warnings,
    ``repairs`` what was fixed; ``ok`` is true when there is no error (then every row is in
    ``targets``; after an error about the whole file, ``targets`` is empty).
    """

    file: str
    targets: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that block an import."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks an import."""
        return not self.errors


def check_file(
    path: str,
    *,
    source_layer: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    gcj02: bool = False,
    existing_ids: Iterable[str] | Mapping[str, str] = (),
    today: dt.date | None = None,
) -> ValidationReport:
    """:func:`~layers.io.read_raw` then :func:`validate`; raises ``LayerFileError`` for unreadable files."""
    raw = read_raw(path, source_layer=source_layer, crs=crs)
    return validate(raw, layer=layer, gcj02=gcj02, existing_ids=existing_ids, today=today)


def validate(
    raw: RawLayer,
    *,
    layer: str | None = None,
    gcj02: bool = False,
    existing_ids: Iterable[str] | Mapping[str, str] = (),
    today: dt.date | None = None,
) -> ValidationReport:
    """Check every row and field of ``raw`` and normalise it to the target schema.

    ``layer`` fills the ``layer`` of rows (or files) without one and must match the rest.
    ``gcj02`` says the coordinates were copied from a Chinese web map and converts them to WGS-84.
    ``existing_ids`` are site ids already taken (a mapping gives where, for the message).
    ``today`` is the date after which inspection dates count as "in the future".
    """
    if layer is not None and layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    today = dt.date.today() if today is None else today
    taken = existing_ids if isinstance(existing_ids, Mapping) else dict.fromkeys(existing_ids, "the registry")
    checker = _Checker(raw, layer, taken, today)
    values = checker.check_attributes()
    geometry = checker.check_geometry(values["layer"], gcj02)
    return checker.report(values, geometry)


class _Checker:
    """Collects the problems of one file while its columns and geometries are checked."""

    def __init__(self, raw: RawLayer, layer: str | None, taken: Mapping[str, str], today: dt.date):
        self.raw = raw
        self.layer = layer
        self.taken = taken
        self.today = today
        self.problems: list[Problem] = list(raw.problems)
        self.repairs: list[Problem] = []
        self.bad_rows: set[int] = {
            raw.rows.index(p.row) for p in raw.problems if p.row is not None and p.severity == "error"
        }
        self.geometry_field = "lon/lat" if raw.format == "CSV" else "geometry"

    def add(
        self, index: int | None, column: str, value: object, reason: str, severity: str = "error"
    ) -> None:
        problem = self.raw.problem(index, column, value, reason, severity=severity)
        if severity == "repair":
            self.repairs.append(problem)
            return
        self.problems.append(problem)
        if severity == "error" and index is not None:
            self.bad_rows.add(index)

    # -- attributes ---------------------------------------------------------------------------

    def check_attributes(self) -> dict[str, list[object]]:
        """Parse every known column; returns normalised values per column (``None`` = missing)."""
        frame = self.raw.frame
        if frame.empty:
            self.add(None, "rows", None, "the file holds no targets")
        for column in frame.columns:
            if column not in TARGET_COLUMNS:
                self.add(None, column, None, "not a column of the target schema; ignored", "warning")
        for column in REQUIRED_COLUMNS:
            if column not in frame.columns and not (column == "layer" and self.layer is not None):
                self.add(None, column, None, "required column is missing")
        values: dict[str, list[object]] = {}
        for column in TARGET_COLUMNS:
            cells = frame[column].tolist() if column in frame.columns else [None] * len(frame)
            parse = _PARSERS.get(column, _text)
            values[column] = [self._parse(i, column, cell, parse) for i, cell in enumerate(cells)]
        self._check_layers(values)
        self._check_ids(values["site_id"])
        return values

    def _parse(self, index: int, column: str, cell: object, parse: Callable[[object], object]) -> object:
        if is_missing(cell):
            if column in REQUIRED_COLUMNS and column in self.raw.frame.columns:
                if column == "layer" and self.layer is not None:
                    return self.layer
                self.add(index, column, cell, "required value is missing")
            return self.layer if column == "layer" else None
        try:
            parsed = parse(cell)
        except _Bad as bad:
            self.add(index, column, cell, str(bad))
            return None
        if column == "last_inspected" and parsed > self.today:
            self.add(index, column, cell, f"date is in the future (today is {self.today.isoformat()})")
            return None
        if parse is _text:
            self._check_markup(index, column, parsed)
        return parsed

    def _check_markup(self, index: int, column: str, text: str) -> None:
        """Warn about HTML/JS markup in a free-text cell; the value is kept exactly as written."""
        markup = find_markup(text)
        if markup is not None:
            self.add(
                index, column, text,
                f"contains HTML/script markup ({markup!r}); stored as written and shown as plain "
                "text by the dashboard, but check where this file came from",
                "warning",
            )  # fmt: skip

    def _check_layers(self, values: dict[str, list[object]]) -> None:
        for index, (layer, kind) in enumerate(zip(values["layer"], values["kind"], strict=True)):
            if layer is None:
                continue
            if layer not in LAYERS:
                self.add(index, "layer", layer, f"unknown layer; known: {', '.join(LAYERS)}")
                values["layer"][index] = None
            elif self.layer is not None and layer != self.layer:
                self.add(index, "layer", layer, f"differs from the stated layer {self.layer!r}")
            elif kind is not None and kind not in KINDS[layer]:
                self.add(index, "kind", kind, f"unknown kind for {layer}; known: {', '.join(KINDS[layer])}")

    def _check_ids(self, site_ids: list[object]) -> None:
        first_seen: dict[object, int] = {}
        for index, site_id in enumerate(site_ids):
            if site_id is None:
                continue
            if site_id in first_seen:
                first = first_seen[site_id]
                self.add(
                    index, "site_id", site_id,
                    f"duplicate site_id (first at {self.raw.row_label} {self.raw.rows[first]})",
                )  # fmt: skip
            else:
                first_seen[site_id] = index
                if site_id in self.taken:
                    self.add(index, "site_id", site_id, f"site_id already exists in {self.taken[site_id]}")

    # -- geometry -----------------------------------------------------------------------------

    def check_geometry(self, layers: list[object], gcj02: bool) -> gpd.GeoSeries:
        """Check, repair and reproject the geometries; returns them in EPSG:4326 (``None`` if bad)."""
        raw = self.raw
        if any(p.row is None and p.field == "lon/lat" for p in self.problems):
            return gpd.GeoSeries([None] * len(raw.frame), crs=WGS84)  # no coordinate columns at all
        if raw.crs is None:
            self.add(
                None, "crs", None,
                "the file does not say which coordinate system it uses (a Shapefile without .prj?); "
                "state it, e.g. --crs EPSG:4326",
            )  # fmt: skip
            return gpd.GeoSeries([None] * len(raw.frame), crs=WGS84)
        checked = [self._check_shape(i, geom, layers[i]) for i, geom in enumerate(raw.geometry)]
        geometry = gpd.GeoSeries(checked, crs=raw.crs).to_crs(WGS84)
        if gcj02:
            geometry = gpd.GeoSeries(shapely.transform(geometry.to_numpy(), gcj02_coords_to_wgs84), crs=WGS84)
        self._check_position(geometry)
        return geometry

    def _check_shape(self, index: int, geom: object, layer: object) -> shapely.Geometry | None:
        if index in self.bad_rows and geom is None:
            return None  # the missing coordinates were already reported
        field_name = self.geometry_field
        if geom is None:
            self.add(index, field_name, None, "missing geometry")
            return None
        if geom.is_empty:
            self.add(index, field_name, geom, "empty geometry")
            return None
        coords = shapely.get_coordinates(geom)
        if not np.isfinite(coords).all():
            self.add(index, field_name, geom, "geometry has non-numeric coordinates")
            return None
        if self.raw.crs.is_geographic and (
            np.abs(coords[:, 0]).max() > 180 or np.abs(coords[:, 1]).max() > 90
        ):
            self.add(
                index, field_name, geom,
                f"coordinates are outside the lon/lat range, yet the CRS is {self.raw.crs.name}; "
                "wrong CRS? state the real one with --crs",
            )  # fmt: skip
            return None
        if not geom.is_valid:
            geom = self._repair(index, geom)
            if geom is None:
                return None
        allowed = GEOMETRY_TYPES.get(layer) if isinstance(layer, str) else None
        if allowed is not None and geom.geom_type not in allowed:
            self.add(index, field_name, geom.geom_type, f"{layer} needs {' or '.join(allowed)}")
            return None
        return geom

    def _repair(self, index: int, geom: shapely.Geometry) -> shapely.Geometry | None:
        """``make_valid`` when it keeps the geometry's family and area (within 1 %), else an error."""
        why = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polygonal = ("Polygon", "MultiPolygon")
        same_family = geom.geom_type in polygonal and fixed.geom_type in polygonal
        change = abs(fixed.area - geom.area) / geom.area if geom.area > 0 else np.inf
        if not same_family or change >= MAX_REPAIR_AREA_CHANGE:
            self.add(index, self.geometry_field, geom, f"invalid geometry ({why}); not safely repairable")
            return None
        self.add(
            index, self.geometry_field, geom,
            f"invalid geometry ({why}) repaired with make_valid; area changed {change:.2%}", "repair",
        )  # fmt: skip
        return fixed

    def _check_position(self, geometry: gpd.GeoSeries) -> None:
        present = geometry.notna().to_numpy()
        if not present.any():
            return
        inside = np.zeros(len(geometry), dtype=bool)
        inside[present] = inside_xinjiang(geometry[present], province=_context("province"))
        points = geometry[present & ~inside].representative_point()
        for index, point in points.items():
            swapped = (
                XINJIANG_BBOX[0] <= point.y <= XINJIANG_BBOX[2]
                and XINJIANG_BBOX[1] <= point.x <= XINJIANG_BBOX[3]
            )
            hint = "; longitude and latitude swapped?" if swapped else ""
            self.add(
                index, self.geometry_field, shapely.set_precision(point, 1e-5), f"outside Xinjiang{hint}"
            )

    # -- result -------------------------------------------------------------------------------

    def report(self, values: dict[str, list[object]], geometry: gpd.GeoSeries) -> ValidationReport:
        """The normalised rows without errors, regions filled, plus every problem found."""
        # A whole-file error (no CRS, a required column missing) leaves no row trustworthy.
        file_error = any(p.row is None and p.severity == "error" for p in self.problems)
        keep = [] if file_error else [i for i in range(len(self.raw.frame)) if i not in self.bad_rows]
        columns = {}
        for column in TARGET_COLUMNS:
            default = DEFAULTS.get(column)
            column_values = [values[column][i] for i in keep]
            columns[column] = [default if v is None else v for v in column_values]
        targets = gpd.GeoDataFrame(columns, geometry=geometry.iloc[keep].to_numpy(), crs=WGS84)
        targets.index = pd.Index(keep)
        if len(targets):
            targets = self._fill_regions(targets)
        targets = _to_schema(targets.reset_index(drop=True))
        return ValidationReport(
            self.raw.name, targets, sorted(self.problems, key=_by_row), sorted(self.repairs, key=_by_row)
        )

    def _fill_regions(self, targets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        counties = _context("counties")
        filled = assign_regions(targets, counties=counties)
        missing = filled["county_code"].isna()
        if not missing.any():
            return filled
        metric_points = filled.loc[missing].geometry.representative_point().to_crs(XINJIANG_METRIC_CRS)
        nearest = gpd.sjoin_nearest(
            gpd.GeoDataFrame(geometry=metric_points),
            counties.to_crs(XINJIANG_METRIC_CRS),
            max_distance=NEAREST_COUNTY_MAX_KM * 1000,
            distance_col="distance_m",
        )
        nearest = nearest[~nearest.index.duplicated(keep="first")]
        for index, match in nearest.iterrows():
            filled.loc[index, list(REGION_COLUMNS)] = [
                match["pref_adcode"],
                match["pref_name_zh"],
                match["adcode"],
                match["name_zh"],
            ]
            self.add(
                int(index), "county_name", match["name_zh"],
                f"on no county polygon; nearest county taken ({match['distance_m'] / 1000:.1f} km away)",
                "repair",
            )  # fmt: skip
        for index in filled.index[missing].difference(nearest.index):
            self.add(int(index), self.geometry_field, None, "in no county of Xinjiang", "warning")
        return filled


@lru_cache(maxsize=2)
def _context(name: str) -> gpd.GeoDataFrame:
    """Province outline and counties, read once per process (they never change while running)."""
    return load_context(name)


def _to_schema(targets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for column, dtype in TARGET_DTYPES.items():
        if column == "last_inspected":
            targets[column] = pd.to_datetime(targets[column]).astype(dtype)
        else:
            targets[column] = targets[column].astype(dtype)
    return targets[[*TARGET_COLUMNS, "geometry"]]


def _by_row(problem: Problem) -> tuple[bool, int]:
    """Sort key: whole-file problems first, then by row."""
    return (problem.row is not None, problem.row or 0)


# -- cell parsers: return the normalised value or raise _Bad(reason) ------------------------------


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # ids typed as numbers by a spreadsheet
    return str(value).strip()


def _integer(value: object) -> int:
    if isinstance(value, bool | np.bool_):
        raise _Bad("must be a whole number, not true/false")
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        number = float(str(value).strip()) if not isinstance(value, float | np.floating) else float(value)
    except ValueError:
        raise _Bad("not a number") from None
    if not np.isfinite(number) or not number.is_integer():
        raise _Bad("must be a whole number")
    return int(number)


def _integer_in(low: int | None, high: int | None, what: str) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = _integer(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise _Bad(what)
        return number

    return parse


def _boolean(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad("must be true or false (also accepted: yes/no, 1/0, 是/否)")


def _date(value: object) -> dt.date:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    text = str(value).strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise _Bad("not a date; write it as YYYY-MM-DD") from None


def _choice(allowed: tuple[str, ...], synonyms: Mapping[str, str] | None = None) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip()
        text = (synonyms or {}).get(text, text)
        if text not in allowed:
            raise _Bad(f"unknown value; allowed: {', '.join(allowed)}")
        return text

    return parse


def _skills(value: object) -> str:
    skills = parse_skills(value)
    unknown = sorted(skills - set(SKILLS))
    if unknown:
        raise _Bad(f"unknown skill {', '.join(unknown)}; known: {', '.join(SKILLS)}")
    return ";".join(sorted(skills))


_PARSERS: dict[str, Callable[[object], object]] = {
    "category": _choice(CATEGORIES, _CATEGORY_BY_ZH),
    "status": _choice(STATUSES),
    "skills_required": _skills,
    "risk_level": _integer_in(*RISK_LEVEL_RANGE, "risk_level must be 1 to 5"),
    "last_inspected": _date,
    "inspect_every_days": _integer_in(1, None, "must be a positive number of days"),
    "violations_3y": _integer_in(0, None, "count cannot be negative"),
    "complaints_1y": _integer_in(0, None, "count cannot be negative"),
    "service_minutes": _integer_in(*SERVICE_MINUTES_RANGE, "service_minutes must be 1 to 600"),
    "online_monitoring": _boolean,
    "night_check": _boolean,
    "approximate": _boolean,
    "simulated": _boolean,
}
