"""Read a target file of any supported format into one raw, not yet validated, form.

Formats: GeoJSON (``.geojson``/``.json``), GeoPackage (``.gpkg``), Shapefile (``.shp``, or a
``.zip`` holding one), and CSV with longitude/latitude columns. Reading never judges values:
CSV cells stay text so that :mod:`layers.validate` can report a bad value exactly as the person
typed it, with its row. Only a file that cannot be read at all raises :class:`LayerFileError`.

Rows are numbered as a person finds them: CSV by line number (the header is line 1, so the first
data row is line 2; a quoted value spanning lines shifts later numbers), GeoJSON and Shapefile
by feature position (the first feature is 1), GeoPackage by its ``fid``.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.problems import LayerFileError, Problem, is_missing, show_value
from layers.schema import TARGET_COLUMNS, WGS84

#: Column names (lower case) recognised as longitude / latitude in CSV files, in order of preference.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
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
}
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)
#: Shapefile field names are cut to 10 characters; map the cut names back to the schema.
_SHAPEFILE_NAMES = {name[:10]: name for name in TARGET_COLUMNS if len(name) > 10}


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


def read_raw(path: str | Path, *, source_layer: str | None = None, crs: str | None = None) -> RawLayer:
    """Read ``path`` without judging its values.

    ``source_layer`` picks a layer of a GeoPackage (or a Shapefile inside a zip) holding several.
    ``crs`` states the CRS of the coordinates (e.g. ``"EPSG:32645"``); CSV defaults to EPSG:4326,
    other formats use the CRS they declare. Raises :class:`LayerFileError` for unreadable files.
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
        return _read_csv(path, stated_crs)
    return _read_ogr(path, file_format, source_layer, stated_crs)


def _parse_crs(path: Path, crs: str | None) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise LayerFileError(f"{path}: cannot understand the CRS {crs!r}: {err}") from err


def _normalise_names(frame: pd.DataFrame, shapefile: bool) -> pd.DataFrame:
    """Lower-case, stripped column names; Shapefile's 10-character names mapped back."""
    renamed = {}
    for column in frame.columns:
        name = str(column).strip().lower()
        if shapefile and name in _SHAPEFILE_NAMES:
            name = _SHAPEFILE_NAMES[name]
        renamed[column] = name
    return frame.rename(columns=renamed)


def _read_csv(path: Path, crs: CRS | None) -> RawLayer:
    frame = None
    for encoding in CSV_ENCODINGS:
        try:
            with open(path, encoding=encoding) as handle:
                header = handle.readline()
            # Spreadsheets in some locales save ";" or tab separated "CSV"; the header tells which.
            separator = max(CSV_SEPARATORS, key=header.count)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, sep=separator)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as err:
            raise LayerFileError(f"{path}: the file is empty (no header line)") from err
        except pd.errors.ParserError as err:
            raise LayerFileError(f"{path}: not a readable CSV file: {err}") from err
    if frame is None:
        raise LayerFileError(f"{path}: text is neither UTF-8 nor GB18030")
    frame = _normalise_names(frame, shapefile=False)
    # Blank cells mean "missing" whatever the column.
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "", None)
    raw = RawLayer(
        path=path,
        format="CSV",
        frame=frame,
        geometry=gpd.GeoSeries([None] * len(frame), index=frame.index, crs=crs or WGS84),
        rows=[int(i) + 2 for i in range(len(frame))],
        row_label="line",
        crs=crs or CRS.from_user_input(WGS84),
    )
    lon_col = next((name for name in LON_NAMES if name in frame.columns), None)
    lat_col = next((name for name in LAT_NAMES if name in frame.columns), None)
    if lon_col is None or lat_col is None:
        raw.problems.append(
            raw.problem(
                None,
                "lon/lat",
                None,
                "no longitude and latitude columns (looked for "
                f"{'/'.join(LON_NAMES)} and {'/'.join(LAT_NAMES)})",
            )
        )
        return raw
    lon = _numeric_column(raw, lon_col)
    lat = _numeric_column(raw, lat_col)
    has_position = np.isfinite(lon) & np.isfinite(lat)
    raw.geometry = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=frame.index, crs=raw.crs).where(
        has_position, None
    )
    raw.frame = frame.drop(columns=[lon_col, lat_col])
    return raw


def _numeric_column(raw: RawLayer, column: str) -> np.ndarray:
    """Column as floats (NaN where unusable), recording a problem for each unusable cell."""
    text = raw.frame[column]
    numbers = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
    for index in np.flatnonzero(~np.isfinite(numbers)):
        value = text.iloc[index]
        reason = "missing coordinate" if is_missing(value) else "coordinate is not a number"
        raw.problems.append(raw.problem(int(index), column, value, reason))
    return numbers


def _read_ogr(path: Path, file_format: str, source_layer: str | None, crs: CRS | None) -> RawLayer:
    source = _shapefile_in_zip(path, source_layer) if path.suffix.lower() == ".zip" else str(path)
    try:
        layers = pyogrio.list_layers(source)
        if path.suffix.lower() == ".zip" or len(layers) == 1:
            layer_name = None
        elif source_layer is None:
            names = ", ".join(str(name) for name, _ in layers)
            raise LayerFileError(f"{path}: holds several layers ({names}); choose one with --source-layer")
        elif source_layer not in {str(name) for name, _ in layers}:
            names = ", ".join(str(name) for name, _ in layers)
            raise LayerFileError(f"{path}: no layer {source_layer!r}; it has {names}")
        else:
            layer_name = source_layer
        # GDAL reports features it had to skip or blank as warnings; keep them for the report.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # GeoJSON dates stay text, so an impossible date is reported by row, not fatal here.
            options = {"DATE_AS_STRING": "YES"} if file_format == "GeoJSON" else {}
            frame = gpd.read_file(
                source, layer=layer_name, fid_as_index=file_format == "GeoPackage", **options
            )
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
        pd.DataFrame(frame.drop(columns=frame.geometry.name)), file_format == "Shapefile"
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


def _shapefile_in_zip(path: Path, source_layer: str | None) -> str:
    """The GDAL ``/vsizip/`` path of the one Shapefile in ``path`` (or the one named ``source_layer``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.lower().endswith(".shp")]
    except zipfile.BadZipFile as err:
        raise LayerFileError(f"{path}: not a readable zip file: {err}") from err
    if source_layer is not None:
        members = [name for name in members if Path(name).stem == source_layer]
    if len(members) != 1:
        found = "no" if not members else f"{len(members)}"
        hint = "" if len(members) < 2 else "; choose one with --source-layer"
        raise LayerFileError(f"{path}: expected one .shp file in the zip, found {found}{hint}")
    return f"/vsizip/{path.resolve()}/{members[0]}"
