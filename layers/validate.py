"""Validate a raw file against the target schema and normalise it, reporting every problem.

:func:`validate` never stops at the first fault: each row and each field is checked, and every
problem is reported with its file, row, field, value and reason. Geometry is brought to
EPSG:4326 with pyproj (optionally from GCJ-02, see :mod:`layers.gcj02`), placed in its prefecture
and county, and repaired only where the repair is provably harmless (``make_valid`` that keeps a
polygon a polygon and its area within 1 %); every repair is reported too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.transformer import TransformerGroup

from layers import office
from layers.datasets import load_context
from layers.gcj02 import bd09_coords_to_wgs84, gcj02_coords_to_wgs84
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

#: Excel stores dates as days since 1899-12-30; serials in this range (1954-10-03 to 2119-02-07) are
#: taken as dates when a date column holds a bare number (a cell formatted "General").
EXCEL_SERIAL_RANGE = (20000, 80000)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
#: 2026-10-09, 2026/10/9, 2026.10.9, 2026年10月9日, each optionally followed by a time.
_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+\d{1,2}[:时].*)?$")
#: Semi-major axes (m) of WGS 84 and GRS 1980 (CGCS2000, ETRS89): datums on them agree with
#: WGS-84 to about a metre, so PROJ's "ballpark" transformation is good enough for them only.
_WGS84_LIKE_AXES = (6378137.0,)

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
    bd09: bool = False,
    existing_ids: Iterable[str] | Mapping[str, str] = (),
    today: dt.date | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    packed_dms: bool | None = None,
) -> ValidationReport:
    """:func:`~layers.io.read_raw` then :func:`validate`; raises ``LayerFileError`` for unreadable files.

    ``sheet``, ``encoding`` and ``packed_dms`` are passed to :func:`~layers.io.read_raw`, the rest
    to :func:`validate`.
    """
    raw = read_raw(
        path, source_layer=source_layer, crs=crs, sheet=sheet, encoding=encoding, packed_dms=packed_dms
    )
    return validate(raw, layer=layer, gcj02=gcj02, bd09=bd09, existing_ids=existing_ids, today=today)


def validate(
    raw: RawLayer,
    *,
    layer: str | None = None,
    gcj02: bool = False,
    bd09: bool = False,
    existing_ids: Iterable[str] | Mapping[str, str] = (),
    today: dt.date | None = None,
) -> ValidationReport:
    """Check every row and field of ``raw`` and normalise it to the target schema.

    ``layer`` fills the ``layer`` of rows (or files) without one and must match the rest.
    ``gcj02`` says the coordinates were copied from a Chinese web map and converts them to WGS-84;
    ``bd09`` says the same of Baidu's coordinate picker (BD-09). ``layer`` may be Chinese (污染源).
    ``existing_ids`` are site ids already taken (a mapping gives where, for the message).
    ``today`` is the date after which inspection dates count as "in the future".
    """
    if layer is not None:
        layer = office.layer_value(layer)
    if layer is not None and layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    if gcj02 and bd09:
        raise ValueError("coordinates are either GCJ-02 or BD-09, not both")
    today = dt.date.today() if today is None else today
    taken = existing_ids if isinstance(existing_ids, Mapping) else dict.fromkeys(existing_ids, "the registry")
    checker = _Checker(raw, layer, taken, today)
    values = checker.check_attributes()
    geometry = checker.check_geometry(values["layer"], "gcj02" if gcj02 else "bd09" if bd09 else None)
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
            if column not in TARGET_COLUMNS and column not in office.HELPER_COLUMNS:
                self.add(None, column, None, "not a column of the target schema; ignored", "warning")
        for column in REQUIRED_COLUMNS:
            if column in frame.columns or (column == "layer" and self.layer is not None):
                continue
            if column == "site_id" and "name" in frame.columns:
                continue  # derived from the credit code or the name (see _derive_ids)
            if column == "kind" and office.INDUSTRY in frame.columns:
                continue  # derived from the industry category (see _derive_kinds)
            self.add(None, column, None, "required column is missing")
        values: dict[str, list[object]] = {}
        for column in TARGET_COLUMNS:
            cells = frame[column].tolist() if column in frame.columns else [None] * len(frame)
            parse = _PARSERS.get(column, _text)
            values[column] = [self._parse(i, column, cell, parse) for i, cell in enumerate(cells)]
        if office.INDUSTRY in frame.columns:
            self._derive_kinds(values)
        if "site_id" not in frame.columns:
            self._derive_ids(values)
        self._check_layers(values)
        self._check_ids(values["site_id"])
        return values

    def _parse(self, index: int, column: str, cell: object, parse: Callable[[object], object]) -> object:
        if is_missing(cell):
            if column in REQUIRED_COLUMNS and column in self.raw.frame.columns:
                if column == "layer" and self.layer is not None:
                    return self.layer
                if column == "kind" and office.INDUSTRY in self.raw.frame.columns:
                    return None  # the industry category decides (see _derive_kinds)
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

    def _derive_kinds(self, values: dict[str, list[object]]) -> None:
        """Fill a missing ``kind`` of pollution sources from the industry category (行业类别)."""
        industries = self.raw.frame[office.INDUSTRY].tolist()
        for index, (layer, kind) in enumerate(zip(values["layer"], values["kind"], strict=True)):
            if kind is not None or layer is None:
                continue
            industry = None if is_missing(industries[index]) else _text(industries[index])
            if layer != "pollution_source":
                self.add(
                    index, "kind", None,
                    f"required value is missing (an industry category gives the kind of pollution sources "
                    f"only, not of {layer})",
                )  # fmt: skip
                continue
            found = office.kind_for_industry(industry)
            if found is None:
                found = office.DEFAULT_KIND
                self.add(
                    index, office.INDUSTRY, industry,
                    f"industry category not in the table of docs/importing.md; kind set to {found}",
                    "warning",
                )  # fmt: skip
            values["kind"][index] = found

    def _derive_ids(self, values: dict[str, list[object]]) -> None:
        """Site ids of a file without a ``site_id`` column: from the credit code, else from the name."""
        frame = self.raw.frame
        codes = (
            frame[office.CREDIT_CODE].tolist() if office.CREDIT_CODE in frame.columns else [None] * len(frame)
        )
        for index, (layer, name) in enumerate(zip(values["layer"], values["name"], strict=True)):
            layer = office.layer_value(layer) if isinstance(layer, str) else None
            if layer not in LAYERS:
                continue  # the layer's own problem is reported
            if not is_missing(codes[index]):
                code = office.normalise_credit_code(_text(codes[index]))
                why = office.credit_code_problem(code)
                if why is not None:
                    self.add(
                        index, office.CREDIT_CODE, codes[index], f"{why}; no site_id can be derived from it"
                    )
                    continue
                values["site_id"][index] = office.site_id_from_credit_code(layer, code)
            elif name is not None:
                site_id = office.generated_site_id(layer, str(name))
                values["site_id"][index] = site_id
                self.add(
                    index, "site_id", site_id,
                    "no site_id column and no credit code: id generated from the layer and the name "
                    "(the same name gives the same id next time)",
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

    def check_geometry(self, layers: list[object], web_datum: str | None) -> gpd.GeoSeries:
        """Check, repair and reproject the geometries; returns them in EPSG:4326 (``None`` if bad).

        ``web_datum`` is ``"gcj02"`` or ``"bd09"`` when the coordinates come from a Chinese web map.
        """
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
        self._check_datum(raw.crs)
        checked = [self._check_shape(i, geom, layers[i]) for i, geom in enumerate(self._flat(raw.geometry))]
        geometry = gpd.GeoSeries(checked, crs=raw.crs).to_crs(WGS84)
        if web_datum is not None:
            convert = gcj02_coords_to_wgs84 if web_datum == "gcj02" else bd09_coords_to_wgs84
            geometry = gpd.GeoSeries(shapely.transform(geometry.to_numpy(), convert), crs=WGS84)
        self._check_position(geometry)
        return geometry

    def _flat(self, geometry: gpd.GeoSeries) -> list[object]:
        """The geometries in 2D: the registry stores positions, and a Z (elevation) or M value makes
        GDAL read the stored GeoJSON back as EPSG:4979, which breaks every later tool."""
        shapes = geometry.to_numpy()
        present = ~shapely.is_missing(shapes)
        with_z = int((shapely.has_z(shapes[present])).sum())
        with_m = int((shapely.has_m(shapes[present])).sum())
        if with_z or with_m:
            what = " and ".join(
                text for count, text in ((with_z, "Z (elevation)"), (with_m, "M (measure)")) if count
            )
            self.add(
                None, "geometry", None,
                f"{max(with_z, with_m)} geometr{'y has' if max(with_z, with_m) == 1 else 'ies have'} {what} "
                "values; dropped, positions stored in 2D",
                "warning",
            )  # fmt: skip
            shapes = shapes.copy()
            shapes[present] = shapely.force_2d(shapes[present])
        return list(shapes)

    def _check_datum(self, crs: CRS) -> None:
        """Warn when PROJ can only guess the datum shift (Xian 1980, other local datums)."""
        try:
            group = TransformerGroup(crs, WGS84, always_xy=True)
        except Exception:  # noqa: BLE001 - any PROJ failure shows up again in to_crs with its reason
            return
        best = group.transformers[0].description if group.transformers else ""
        ellipsoid = crs.ellipsoid
        if "Ballpark" not in best or ellipsoid is None:
            return
        if any(abs(ellipsoid.semi_major_metre - axis) < 1.0 for axis in _WGS84_LIKE_AXES):
            return
        datum = crs.datum.name if crs.datum is not None else crs.name
        self.add(
            None, "crs", crs.name,
            f"PROJ has no published transformation from {datum} to WGS-84, only a ballpark one (the "
            "ellipsoids differ, the datum shift is ignored): positions may be off by tens of metres or "
            "more. Convert with your surveying office's parameters first, or use CGCS2000",
            "warning",
        )  # fmt: skip

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
            metres = np.abs(coords).min() > 1000
            hint = (
                " (they look like projected metres, e.g. survey X/Y or Gauss-Kruger: state their CRS, "
                "e.g. --crs EPSG:4538)"
                if metres
                else ""
            )
            self.add(
                index, field_name, geom,
                f"coordinates are outside the lon/lat range, yet the CRS is {self.raw.crs.name}; "
                f"wrong CRS? state the real one with --crs{hint}",
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
            hint = "; longitude and latitude swapped?" if swapped else self._survey_swap_hint(index)
            self.add(
                index, self.geometry_field, shapely.set_precision(point, 1e-5), f"outside Xinjiang{hint}"
            )

    def _survey_swap_hint(self, index: int) -> str:
        """A hint when swapping a projected point's X and Y puts it in Xinjiang (Chinese survey
        tables give X as the northing and Y as the easting, the reverse of GIS order)."""
        original = self.raw.geometry.iloc[index]
        if not self.raw.crs.is_projected or original is None or original.geom_type != "Point":
            return ""
        swapped = gpd.GeoSeries([shapely.Point(original.y, original.x)], crs=self.raw.crs).to_crs(WGS84)
        if not np.isfinite(shapely.get_coordinates(swapped.to_numpy())).all():
            return ""
        if inside_xinjiang(swapped, province=_context("province"))[0]:
            return "; X and Y swapped? (survey tables give X as the northing; name the columns 北坐标/东坐标)"
        return ""

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
            self._compare_counties(targets)
        targets = _to_schema(targets.reset_index(drop=True))
        return ValidationReport(
            self.raw.name, targets, sorted(self.problems, key=_by_row), sorted(self.repairs, key=_by_row)
        )

    def _compare_counties(self, targets: gpd.GeoDataFrame) -> None:
        """Warn where the register's county (所属区县) is not the county of the position."""
        if office.COUNTY_GIVEN not in self.raw.frame.columns:
            return
        given = self.raw.frame[office.COUNTY_GIVEN]
        for index, found in targets["county_name"].items():
            named = given.iloc[int(index)]
            if is_missing(named) or found is None or pd.isna(found):
                continue
            if not office.same_county(str(named), str(found)):
                self.add(
                    int(index), "county", named,
                    f"the register names this county but the position is in {found} "
                    f"({targets.at[index, 'prefecture_name']}); the position decides: check one of them",
                    "warning",
                )  # fmt: skip

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
    """A date as Excel, WPS or a person writes it in zh-CN: a date cell, 2026-10-09, 2026/10/9,
    2026.10.9, 2026年10月9日, 20261009, or an Excel serial number (a date cell formatted "General")."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return _excel_serial(float(value))
    text = str(value).strip()
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return _excel_serial(float(text))
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    match = _YMD.match(text)
    if match is not None:
        try:
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            raise _Bad("not a date (no such day)") from None
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise _Bad("not a date; write it as YYYY-MM-DD (also read: 2026/10/9, 2026年10月9日)") from None


def _excel_serial(number: float) -> dt.date:
    low, high = EXCEL_SERIAL_RANGE
    if not np.isfinite(number):
        raise _Bad("not a date")
    if not low <= number < high:
        raise _Bad("a number, not a date (an Excel date serial would be between 20000 and 80000)")
    return _EXCEL_EPOCH + dt.timedelta(days=int(number))


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


def _layer(value: object) -> str:
    return office.layer_value(_text(value))


def _kind(value: object) -> str:
    return office.kind_value(_text(value))


_PARSERS: dict[str, Callable[[object], object]] = {
    "layer": _layer,
    "kind": _kind,
    "category": _choice(CATEGORIES, _CATEGORY_BY_ZH),
    "status": _choice(STATUSES, office.STATUS_VALUES),
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
