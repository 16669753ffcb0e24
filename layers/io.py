"""Read a target file of any supported format into one raw, not yet validated, form.

Formats: GeoJSON (``.geojson``/``.json``), GeoPackage (``.gpkg``), Shapefile (``.shp``, or a
``.zip`` holding one), CSV and Excel (``.xlsx``, ``.xls``) with longitude/latitude columns (decimal
or degrees-minutes-seconds, see :mod:`layers.dms`), survey northing/easting or a WKT column.
Headers are matched through the alias table of :mod:`layers.office` (单位名称 → ``name`` …).
Reading never judges values: CSV cells stay text and Excel cells stay as Excel typed them, so that
:mod:`layers.validate` can report a bad value exactly as the person typed it, with its row. Only a
file that cannot be read at all raises :class:`LayerFileError`.

Rows are numbered as a person finds them: CSV by line number (the header is line 1, so the first
data row is line 2; a quoted value spanning lines shifts later numbers), Excel by the sheet's row
number, GeoJSON and Shapefile by feature position (the first feature is 1), GeoPackage by its ``fid``.
"""

from __future__ import annotations

import codecs
import csv
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
import shapely.errors
import xlrd
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers import office
from layers.dms import CoordinateError, decimal_places, is_dms_text, looks_packed, parse_coordinate, unpack
from layers.encoding import detect_dbf_encoding
from layers.problems import LayerFileError, Problem, is_missing, show_value
from layers.schema import TARGET_COLUMNS, WGS84
from layers.shapefile import SHAPEFILE_NAMES

#: Column names recognised as longitude / latitude in CSV and Excel files, in order of preference
#: (after the aliases of :mod:`layers.office`, which turn 经度/lng/longitude into ``lon``).
LON_NAMES = ("lon", "x")
LAT_NAMES = ("lat", "y")
#: Encodings tried for CSV, in order: UTF-8 (with or without Excel's BOM), then the Chinese
#: Windows encoding that Excel uses when it saves "CSV" on a Chinese system.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: Field separators recognised in CSV files (the most frequent one in the header wins; "," on ties).
CSV_SEPARATORS = (",", ";", "\t")

SUFFIX_FORMATS = {
    ".csv": "CSV",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "Shapefile",
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".xls": "Excel",
}
#: How many rows above the header an Excel sheet may hold (a title such as "XX市重点排污单位名录").
EXCEL_HEADER_SEARCH_ROWS = 10
#: A row where packed ddd.mmss would move the position by less than this is not worth a warning.
PACKED_MIN_SHIFT_KM = 1.0
#: When at least this many rows all look packed, the file is refused rather than warned about.
PACKED_REFUSE_ROWS = 3
#: Geometry types that have no 2D point/polygon equivalent here (GDAL reads a MultiPatch as TIN
#: or PolyhedralSurface); shapely cannot hold them.
UNREADABLE_GEOMETRY_TYPES = ("TIN", "Triangle", "PolyhedralSurface", "MultiPatch")
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)
#: Shapefile field names are cut to 10 characters; map the cut names back to the schema. The
#: register's own export (:mod:`layers.shapefile`) writes unambiguous names; other writers cut
#: ``prefecture_code`` and ``prefecture_name`` to the same ``prefecture`` (GDAL launders the second
#: to ``prefectu_1``), which :func:`_prefecture_columns` untangles.
_CUT_NAMES: dict[str, list[str]] = {}
for _name in TARGET_COLUMNS:
    if len(_name) > 10:
        _CUT_NAMES.setdefault(_name[:10], []).append(_name)
_SHAPEFILE_NAMES = {
    **{cut: names[0] for cut, names in _CUT_NAMES.items() if len(names) == 1},
    **{short: name for name, short in SHAPEFILE_NAMES.items()},
}


@dataclass
class RawLayer:
    """One file as read: attribute columns, geometries in the file's CRS, and row numbers.

    ``frame`` and ``geometry`` share a 0..n-1 index; ``rows[i]`` is row ``i``'s number as a person
    sees it (see ``row_label``). ``geometry`` holds ``None`` where a row has no usable position.
    ``crs`` is ``None`` when neither the file nor the caller says which CRS the coordinates are in.
    ``problems`` are faults found while reading (CSV coordinates that are missing or not numbers).
    """

    path: Path
    format: str
    frame: pd.DataFrame
    geometry: gpd.GeoSeries
    rows: list[int]
    row_label: str
    crs: CRS | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The file name used in messages (as the caller spelled the path)."""
        return str(self.path)

    def problem(self, index: int | None, column: str, value: object, reason: str, **kw: str) -> Problem:
        """A :class:`Problem` located at row ``index`` (0-based position; ``None`` = whole file)."""
        row = None if index is None else self.rows[index]
        shown = "" if index is None and value is None else show_value(value)
        return Problem(self.name, row, column, shown, reason, row_label=self.row_label, **kw)


def read_raw(
    path: str | Path,
    *,
    source_layer: str | None = None,
    crs: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    packed_dms: bool | None = None,
) -> RawLayer:
    """Read ``path`` without judging its values.

    ``source_layer`` picks a layer of a GeoPackage (or a Shapefile inside a zip) holding several.
    ``crs`` states the CRS of the coordinates (e.g. ``"EPSG:32645"``); CSV and Excel default to
    EPSG:4326, other formats use the CRS they declare. ``sheet`` picks an Excel sheet by name or
    number (1 = first; default the first). ``encoding`` states a Shapefile's text encoding
    (default: :func:`layers.encoding.detect_dbf_encoding`). ``packed_dms`` says whether decimal
    coordinates of a CSV/Excel file are packed ddd.mmss: ``True`` converts them, ``False`` takes
    them as decimal degrees, ``None`` (default) flags rows that look packed.
    Raises :class:`LayerFileError` for unreadable files.
    """
    path = Path(path)
    if not path.is_file():
        raise LayerFileError(f"{path}: no such file")
    file_format = SUFFIX_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise LayerFileError(
            f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(SUFFIX_FORMATS)}"
        )
    stated_crs = _parse_crs(path, crs)
    if file_format == "CSV":
        return _read_csv(path, stated_crs, packed_dms)
    if file_format == "Excel":
        return _read_excel(path, stated_crs, sheet, packed_dms)
    return _read_ogr(path, file_format, source_layer, stated_crs, encoding)


def _parse_crs(path: Path, crs: str | None) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise LayerFileError(f"{path}: cannot understand the CRS {crs!r}: {err}") from err


def _normalise_names(path: Path, frame: pd.DataFrame, shapefile: bool) -> pd.DataFrame:
    """Column names as the schema spells them: aliases resolved, case and blanks ignored, Shapefile's
    10-character names mapped back. Two headers meaning the same column are a file error (which
    one holds the truth is for a person to say)."""
    renamed: dict[object, str] = {}
    seen: dict[str, object] = {}
    for column in frame.columns:
        name = office.column_for_header(column)
        if shapefile and name in _SHAPEFILE_NAMES:
            name = _SHAPEFILE_NAMES[name]
        if name in seen:
            raise LayerFileError(
                f"{path}: columns {str(seen[name])!r} and {str(column)!r} both mean {name!r} "
                "(headers are matched ignoring case and through the alias table); keep one of them"
            )
        seen[name] = column
        renamed[column] = name
    frame = frame.rename(columns=renamed)
    return _prefecture_columns(frame) if shapefile else frame


def _prefecture_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Untangle ``prefecture`` (the cut of both ``prefecture_code`` and ``prefecture_name``).

    Writers keep the schema's order, so with GDAL's ``prefectu_1`` beside it ``prefecture`` is the
    code; alone it is the code when every value is a number, else the name.
    """
    if "prefecture" not in frame.columns:
        return frame
    if "prefectu_1" in frame.columns:
        return frame.rename(columns={"prefecture": "prefecture_code", "prefectu_1": "prefecture_name"})
    values = frame["prefecture"].dropna().astype(str).str.strip()
    is_code = bool(len(values)) and bool(values.str.fullmatch(r"\d+").all())
    return frame.rename(columns={"prefecture": "prefecture_code" if is_code else "prefecture_name"})


def _read_csv(path: Path, crs: CRS | None, packed_dms: bool | None) -> RawLayer:
    frame = None
    for encoding in CSV_ENCODINGS:
        try:
            with open(path, encoding=encoding) as handle:
                top = [handle.readline() for _ in range(EXCEL_HEADER_SEARCH_ROWS)]
            header_at = _csv_header_line(top)
            # Spreadsheets in some locales save ";" or tab separated "CSV"; the header tells which.
            separator = max(CSV_SEPARATORS, key=top[header_at].count)
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding, sep=separator, skiprows=header_at
            )
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as err:
            raise LayerFileError(f"{path}: the file is empty (no header line)") from err
        except pd.errors.ParserError as err:
            raise LayerFileError(f"{path}: not a readable CSV file: {err}") from err
    if frame is None:
        raise LayerFileError(f"{path}: text is neither UTF-8 nor GB18030")
    frame = _normalise_names(path, frame, shapefile=False)
    # Blank cells mean "missing" whatever the column.
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "", None)
    rows = [header_at + int(i) + 2 for i in range(len(frame))]
    return _table_layer(path, "CSV", frame, rows, "line", crs, packed_dms)


def _csv_header_line(lines: list[str]) -> int:
    """The header's index among a CSV's first lines: the first with two or more known column names
    (a register saved from Excel keeps its title line above the table), else the first line."""
    known = set(TARGET_COLUMNS) | set(office.HEADER_ALIASES.values())
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        separator = max(CSV_SEPARATORS, key=line.count)
        cells = next(csv.reader([line], delimiter=separator), [])
        if sum(office.column_for_header(cell) in known for cell in cells) >= 2:
            return index
    return 0


def _read_excel(path: Path, crs: CRS | None, sheet: str | None, packed_dms: bool | None) -> RawLayer:
    """The first sheet (or ``sheet``) of an .xlsx/.xls workbook; cells keep Excel's types."""
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    if head.startswith((b"<html", b"<!doctype", b"<table", b"<?xml")) and path.suffix.lower() == ".xls":
        raise LayerFileError(
            f"{path}: this .xls is really a web page (some systems export tables that way); "
            "open it in Excel or WPS and save it as .xlsx"
        )
    try:
        chosen, grid = _sheet_cells(path, sheet)
    except LayerFileError:
        raise
    except Exception as err:  # openpyxl/xlrd raise many types for a damaged workbook
        raise LayerFileError(f"{path}: not a readable Excel workbook: {type(err).__name__}: {err}") from err
    width = max((len(row) for row in grid), default=0)
    cells = pd.DataFrame([list(row) + [None] * (width - len(row)) for row in grid], dtype=object)
    cells = cells.map(lambda v: None if is_missing(v) else (v.strip() if isinstance(v, str) else v))
    cells = cells.map(lambda v: None if v == "" else v)
    if cells.dropna(how="all").empty:
        raise LayerFileError(f"{path}: sheet {chosen!r} is empty")
    header_at = _header_row(cells)
    headers = [f"column_{i + 1}" if is_missing(v) else str(v) for i, v in enumerate(cells.iloc[header_at])]
    body = cells.iloc[header_at + 1 :].copy()
    body.columns = headers
    # Columns with neither header nor value are Excel's formatting leftovers.
    body = body[[h for h in headers if not (h.startswith("column_") and body[h].isna().all())]]
    body = body.dropna(how="all")
    rows = [int(i) + 1 for i in body.index]  # the sheet's own row numbers (1-based)
    frame = _normalise_names(path, body.reset_index(drop=True), shapefile=False)
    return _table_layer(path, "Excel", frame, rows, "row", crs, packed_dms)


def _sheet_cells(path: Path, sheet: str | None) -> tuple[str, list[list[object]]]:
    """The chosen sheet's name and its cells, row by row from row 1 (blank rows kept, so that row
    numbers are Excel's). Dates come as ``datetime``, numbers as ``int``/``float``, text as ``str``.

    .xlsx through openpyxl, .xls (BIFF) through xlrd, each read directly: pandas' xlrd engine is
    deprecated and both libraries already give the cell types needed.
    """
    if path.suffix.lower() != ".xls":
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            chosen = _sheet_name(path, book.sheetnames, sheet)
            return chosen, [list(row) for row in book[chosen].iter_rows(values_only=True)]
        finally:
            book.close()
    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        chosen = _sheet_name(path, book.sheet_names(), sheet)
        table = book.sheet_by_name(chosen)
        grid = []
        for r in range(table.nrows):
            row = []
            for cell in table.row(r):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    row.append(bool(cell.value))
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    row.append(None)
                else:
                    row.append(cell.value)
            grid.append(row)
        return chosen, grid
    finally:
        book.release_resources()


def _sheet_name(path: Path, names: list[str], sheet: str | None) -> str:
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    raise LayerFileError(f"{path}: no sheet {sheet!r}; it has {', '.join(names)}")


def _header_row(cells: pd.DataFrame) -> int:
    """The first row (of the top few) with two or more recognised headers; else the first row.

    Registers often start with a title row and a blank row above the table.
    """
    known = set(TARGET_COLUMNS) | set(office.HEADER_ALIASES.values())
    for index in range(min(EXCEL_HEADER_SEARCH_ROWS, len(cells))):
        values = [v for v in cells.iloc[index] if isinstance(v, str)]
        if sum(office.column_for_header(v) in known for v in values) >= 2:
            return index
    return int(cells.notna().any(axis=1).to_numpy().argmax())


def _table_layer(
    path: Path,
    file_format: str,
    frame: pd.DataFrame,
    rows: list[int],
    row_label: str,
    crs: CRS | None,
    packed_dms: bool | None,
) -> RawLayer:
    """A CSV or Excel table as a RawLayer: geometry from lon/lat, northing/easting or WKT."""
    raw = RawLayer(
        path=path,
        format=file_format,
        frame=frame,
        geometry=gpd.GeoSeries([None] * len(frame), index=frame.index, crs=crs or WGS84),
        rows=rows,
        row_label=row_label,
        crs=crs or CRS.from_user_input(WGS84),
    )
    lon_col = next((name for name in LON_NAMES if name in frame.columns), None)
    lat_col = next((name for name in LAT_NAMES if name in frame.columns), None)
    if lon_col is not None and lat_col is not None:
        lon, lat = _coordinate_columns(raw, lon_col, lat_col, packed_dms)
        used = [lon_col, lat_col]
    elif office.NORTHING in frame.columns and office.EASTING in frame.columns:
        if crs is None:
            raw.problems.append(
                raw.problem(
                    None, "northing/easting", None,
                    "survey coordinates (北坐标/东坐标, northing/easting) need their CRS: state it with --crs "
                    "(e.g. EPSG:4538 for CGCS2000 3-degree Gauss-Kruger, central meridian 87°E)",
                )
            )  # fmt: skip
            return raw
        lon = _numeric_column(raw, office.EASTING)
        lat = _numeric_column(raw, office.NORTHING)
        used = [office.NORTHING, office.EASTING]
    elif office.WKT in frame.columns:
        raw.geometry = _wkt_column(raw)
        raw.frame = frame.drop(columns=[office.WKT])
        return raw
    else:
        raw.problems.append(
            raw.problem(
                None, "lon/lat", None,
                "no longitude and latitude columns (looked for lon/lng/longitude/x/经度 and "
                "lat/latitude/y/纬度, for 北坐标/东坐标 and for a WKT column)",
            )
        )  # fmt: skip
        return raw
    has_position = np.isfinite(lon) & np.isfinite(lat)
    raw.geometry = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=frame.index, crs=raw.crs).where(
        has_position, None
    )
    raw.frame = frame.drop(columns=used)
    return raw


def _coordinate_columns(
    raw: RawLayer, lon_col: str, lat_col: str, packed_dms: bool | None
) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (NaN where unusable); DMS text read, packed ddd.mmss handled."""
    lon = _coordinate_column(raw, lon_col)
    lat = _coordinate_column(raw, lat_col)
    cells = raw.frame[[lon_col, lat_col]]
    decimal = [
        i
        for i in range(len(cells))
        if np.isfinite(lon[i]) and np.isfinite(lat[i])
        and not is_dms_text(cells.iloc[i, 0]) and not is_dms_text(cells.iloc[i, 1])
    ]  # fmt: skip
    if packed_dms is False or not decimal:
        return lon, lat
    if packed_dms:
        for i in decimal:
            for values, column, cell in ((lon, lon_col, cells.iloc[i, 0]), (lat, lat_col, cells.iloc[i, 1])):
                try:
                    values[i] = unpack(float(values[i]))
                except CoordinateError as err:
                    raw.problems.append(raw.problem(i, column, cell, f"{err} (--packed-dms was given)"))
                    values[i] = np.nan
        return lon, lat
    packed = [i for i in decimal if looks_packed(cells.iloc[i, 0]) and looks_packed(cells.iloc[i, 1])]
    if len(packed) < len(decimal) or len(packed) < PACKED_REFUSE_ROWS:
        # Single rows are only flagged with 4 or 5 decimals (ddd.mmss, ddd.mmsss): six-decimal
        # degrees from a map picker pass the minutes/seconds test a third of the time.
        packed = [
            i for i in packed if max(decimal_places(cells.iloc[i, 0]), decimal_places(cells.iloc[i, 1])) <= 5
        ]
    shifts = {i: _shift_km(lon[i], lat[i]) for i in packed}
    packed = [i for i in packed if shifts[i] >= PACKED_MIN_SHIFT_KM]
    refuse = len(packed) >= PACKED_REFUSE_ROWS and len(packed) == len(decimal)
    for i in packed:
        shown = f"{show_value(cells.iloc[i, 0])}, {show_value(cells.iloc[i, 1])}"
        if refuse:
            reason = (
                f"every row of this file looks like packed degrees.minutesseconds (87.4119 = 87°41′19″); "
                f"read as decimal degrees this one would be {shifts[i]:.0f} km off. Read the file with "
                "--packed-dms if they are, or --no-packed-dms if they really are decimal degrees"
            )
        else:
            reason = (
                f"could be packed degrees.minutesseconds (87.4119 = 87°41′19″), which would put it "
                f"{shifts[i]:.0f} km away; read as decimal degrees. If it is packed, write it as "
                "87°41′19″ or read the file with --packed-dms"
            )
        raw.problems.append(
            raw.problem(i, "lon/lat", shown, reason, severity="error" if refuse else "warning")
        )
    return lon, lat


def _shift_km(lon: float, lat: float) -> float:
    """How far a position moves when its decimal degrees are read as packed ddd.mmss instead."""
    try:
        lon2, lat2 = unpack(lon), unpack(lat)
    except CoordinateError:
        return 0.0
    dx = (lon2 - lon) * 111.32 * math.cos(math.radians(lat))
    dy = (lat2 - lat) * 110.57
    return math.hypot(dx, dy)


def _coordinate_column(raw: RawLayer, column: str) -> np.ndarray:
    """Column of coordinates (decimal or DMS) as floats, NaN where unusable, each fault recorded."""
    out = np.full(len(raw.frame), np.nan)
    for index, value in enumerate(raw.frame[column].tolist()):
        if is_missing(value):
            raw.problems.append(raw.problem(index, column, value, "missing coordinate"))
            continue
        try:
            out[index] = parse_coordinate(value)
        except CoordinateError as err:
            raw.problems.append(raw.problem(index, column, value, str(err)))
    return out


def _numeric_column(raw: RawLayer, column: str) -> np.ndarray:
    """Column as floats (NaN where unusable), recording a problem for each unusable cell."""
    text = raw.frame[column]
    numbers = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
    for index in np.flatnonzero(~np.isfinite(numbers)):
        value = text.iloc[index]
        reason = "missing coordinate" if is_missing(value) else "coordinate is not a number"
        raw.problems.append(raw.problem(int(index), column, value, reason))
    return numbers


def _wkt_column(raw: RawLayer) -> gpd.GeoSeries:
    """Geometries of a WKT column (``POINT (87.6 43.8)``, ``POLYGON ((…))``); bad cells reported."""
    shapes: list[object] = []
    for index, value in enumerate(raw.frame[office.WKT].tolist()):
        if is_missing(value):
            raw.problems.append(raw.problem(index, office.WKT, value, "missing geometry"))
            shapes.append(None)
            continue
        try:
            shape = shapely.from_wkt(str(value))
            if shapely.get_type_id(shape) > 6:
                raise shapely.errors.GEOSException("only points, lines and polygons")
            shapes.append(shape)
        except (shapely.errors.ShapelyError, ValueError) as err:
            raw.problems.append(raw.problem(index, office.WKT, value, f"not readable WKT: {err}"))
            shapes.append(None)
    return gpd.GeoSeries(shapes, index=raw.frame.index, crs=raw.crs)


def _read_ogr(
    path: Path, file_format: str, source_layer: str | None, crs: CRS | None, encoding: str | None
) -> RawLayer:
    zipped = path.suffix.lower() == ".zip"
    with _gdal_safe_path(path) as safe:
        member = _shapefile_in_zip(safe, source_layer, path) if zipped else None
        source = f"/vsizip/{safe.resolve()}/{member}" if member is not None else str(safe)
        notes: list[str] = []
        read_options: dict[str, object] = {}
        if file_format == "Shapefile":
            where = (Path(member), safe) if member is not None else (safe, None)
            read_options["encoding"], note = _shapefile_encoding(path, *where, encoding)
            if note:
                notes.append(note)
        try:
            layers = pyogrio.list_layers(source)
            if zipped or len(layers) == 1:
                layer_name = None
            elif source_layer is None:
                names = ", ".join(str(name) for name, _ in layers)
                raise LayerFileError(
                    f"{path}: holds several layers ({names}); choose one with --source-layer"
                )
            elif source_layer not in {str(name) for name, _ in layers}:
                names = ", ".join(str(name) for name, _ in layers)
                raise LayerFileError(f"{path}: no layer {source_layer!r}; it has {names}")
            else:
                layer_name = source_layer
            geometry_type = str(pyogrio.read_info(source, layer=layer_name).get("geometry_type") or "")
            if geometry_type.replace(" Z", "").replace(" M", "") in UNREADABLE_GEOMETRY_TYPES:
                raise LayerFileError(_surface_message(path, geometry_type))
            # GDAL reports features it had to skip or blank as warnings; keep them for the report.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # GeoJSON dates stay text, so an impossible date is reported by row, not fatal here.
                options = {"DATE_AS_STRING": "YES"} if file_format == "GeoJSON" else {}
                frame = gpd.read_file(
                    source,
                    layer=layer_name,
                    fid_as_index=file_format == "GeoPackage",
                    **{k: v for k, v in read_options.items() if v is not None},
                    **options,
                )
        except UnicodeDecodeError as err:
            used = read_options.get("encoding") or "the encoding GDAL assumed"
            raise LayerFileError(
                f"{path}: text (a field name or value) is not in {used}: {err}; state the encoding with "
                "--encoding (e.g. GB18030 or UTF-8)"
            ) from err
        except shapely.errors.ShapelyError as err:
            # GDAL hands a MultiPatch over as TIN / PolyhedralSurface WKB, which shapely cannot hold.
            code = re.search(r"WKB type (\d+)", str(err))
            kind = _SURFACE_WKB_TYPES.get(int(code.group(1)) % 1000) if code else None
            if kind is not None:
                raise LayerFileError(_surface_message(path, kind)) from err
            raise LayerFileError(f"{path}: cannot read as {file_format}: {err}") from err
        except (*_PYOGRIO_ERRORS, ValueError) as err:
            message = str(err).split("; It might help")[0]  # drop GDAL's hint about driver prefixes
            raise LayerFileError(f"{path}: cannot read as {file_format}: {message}") from err
    if file_format == "GeoPackage":
        rows, row_label = [int(fid) for fid in frame.index], "fid"
    else:
        rows, row_label = list(range(1, len(frame) + 1)), "feature"
    frame = frame.reset_index(drop=True)
    geometry = frame.geometry
    attributes = _normalise_names(
        path, pd.DataFrame(frame.drop(columns=frame.geometry.name)), file_format == "Shapefile"
    )
    raw = RawLayer(
        path=path,
        format=file_format,
        frame=attributes,
        geometry=geometry,
        rows=rows,
        row_label=row_label,
        crs=crs or geometry.crs,
    )
    for note in notes:
        raw.problems.append(raw.problem(None, "encoding", None, note, severity="warning"))
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning):
            raw.problems.append(
                raw.problem(None, "file", None, f"GDAL: {warning.message}", severity="warning")
            )
        elif "Could not parse column" not in str(warning.message):  # mixed-type columns stay text: fine
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if crs is not None and geometry.crs is not None and not crs.equals(geometry.crs):
        raw.problems.append(
            raw.problem(
                None, "crs", None,
                f"the file declares {geometry.crs.to_string()} but {crs.to_string()} was stated; "
                "using the stated CRS", severity="warning",
            )
        )  # fmt: skip
    return raw


_SURFACE_WKB_TYPES = {15: "PolyhedralSurface", 16: "TIN", 17: "Triangle"}


def _surface_message(path: Path, kind: str) -> str:
    return (
        f"{path}: geometry type {kind} (a 3D surface, e.g. a Shapefile MultiPatch) cannot be imported; "
        "export the outlines as polygons (or the sites as points) and import that"
    )


def _shapefile_encoding(
    path: Path, shp: Path, archive: Path | None, stated: str | None
) -> tuple[str | None, str | None]:
    """The encoding to read a Shapefile's DBF with, and a note for the report when it was guessed
    or changed (a ``.cpg`` saying GB2312 is read as GB18030)."""
    if stated is not None:
        try:
            # Python's canonical name (latin-1 → iso8859-1) is one GDAL's iconv also knows.
            name = codecs.lookup(stated).name
        except LookupError as err:
            raise LayerFileError(f"{path}: unknown encoding {stated!r}") from err
        return ("gb18030" if name in ("gbk", "gb2312") else name), None
    guess = detect_dbf_encoding(shp, archive)
    changed = guess.encoding == "GB18030" and "GB18030" not in guess.how.split(";")[0]
    note = f"text read as {guess.encoding}: {guess.how}" if guess.guessed or changed else None
    if note is not None:
        note += "; state --encoding if the names look wrong"
    return guess.encoding, note


@contextmanager
def _gdal_safe_path(path: Path) -> Iterator[Path]:
    """``path``, or a link to it in a temporary folder when its name holds a ``!``.

    pyogrio reads ``a!b`` as "member ``b`` of archive ``a``", so a folder named ``采样!2026``
    made every GeoJSON, GeoPackage and Shapefile in it unreadable. The link has a plain name;
    a Shapefile's sibling files (.dbf, .prj, .cpg, …) are linked too.
    """
    if "!" not in str(path.resolve()):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="xunhu-read-") as folder:
        source = path.resolve()
        siblings = (
            [p for p in source.parent.iterdir() if p.stem == source.stem]
            if source.suffix.lower() == ".shp"
            else [source]
        )
        for sibling in siblings:
            os.symlink(sibling, Path(folder) / sibling.name.replace("!", "_"))
        yield Path(folder) / source.name.replace("!", "_")


def _shapefile_in_zip(path: Path, source_layer: str | None, shown: Path | None = None) -> str:
    """The member name of the one Shapefile in the zip ``path`` (or the one named ``source_layer``).

    macOS's Finder adds ``__MACOSX/._name.shp`` resource forks to every zip it makes; they are not
    Shapefiles and are skipped.
    """
    shown = shown or path
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                name
                for name in archive.namelist()
                if name.lower().endswith(".shp")
                and not name.startswith("__MACOSX/")
                and not Path(name).name.startswith("._")
            ]
    except zipfile.BadZipFile as err:
        raise LayerFileError(f"{shown}: not a readable zip file: {err}") from err
    if source_layer is not None:
        members = [name for name in members if Path(name).stem == source_layer]
    if len(members) != 1:
        found = "no" if not members else f"{len(members)}"
        hint = "" if len(members) < 2 else "; choose one with --source-layer"
        raise LayerFileError(f"{shown}: expected one .shp file in the zip, found {found}{hint}")
    return members[0]
