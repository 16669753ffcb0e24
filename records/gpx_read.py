"""Read a GPX file into timed tracks: its declared encoding, sub-second times, zones and datums.

What a GPS log looks like on disk varies by device and app; this module turns every variant the
tool accepts into :class:`Track` objects (UTC epoch seconds as floats, WGS-84 lon/lat) or raises
:class:`GpxError` naming the file, and the track, point (1-based within its track, with its line
when known) and field at fault.

* **Encoding** (XML 1.0, appendix F): a byte-order mark wins (UTF-8, UTF-16 LE/BE, UTF-32); else
  UTF-16 without a mark is recognised from ``<?`` in two bytes; else the ``encoding`` of the XML
  declaration is used (GBK, GB2312 and CP936 are read as GB18030, their superset, so characters
  outside GB2312 that Chinese apps still write survive; a UTF-16 declaration legible as single
  bytes means UTF-8); with no declaration, UTF-8. A file that
  does not decode in that encoding is refused with the byte (and line) where it fails.
* **Times** keep their fraction of a second (a 5 Hz log has five fixes per second). A time with a
  zone (``Z``, ``+08:00``) is exact. A time without one is UTC by the GPX specification, which is
  how it is read unless ``local_time`` is set, when it is read as Beijing time (UTC+8), which some
  Chinese apps write without saying so; either way :attr:`GpxFile.warnings` says what was done.
* **Datum**: ``datum="gcj02"`` (Amap, Tencent and other Chinese web maps and the apps built on
  them) or ``"bd09"`` (Baidu) converts the positions to WGS-84 with :mod:`layers.gcj02`. Fixes at
  exactly 0,0 (a receiver reporting "no position") are left at 0,0 so cleaning can recognise them.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import gpxpy
import gpxpy.gpx
import numpy as np

from layers.gcj02 import bd09_to_wgs84, gcj02_to_wgs84
from records.db import RecordsError

#: Datums a GPX file's positions may be in (converted to WGS-84 on reading).
DATUMS = ("wgs84", "gcj02", "bd09")
#: Beijing time, which ``local_time`` assumes for times written without a zone.
BEIJING = timezone(timedelta(hours=8), "Beijing time")
#: Declared encodings read as a superset (GB18030 contains GBK, which contains GB2312).
_ENCODING_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030"}
#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(rb"""\A\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")
_DECLARATION_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?)\s+encoding\s*=\s*(["'])[^"']*\2""")
#: Valid range per coordinate field (elevation only has to be a finite number).
_FIELD_RANGES = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "ele": (-math.inf, math.inf)}


class GpxError(RecordsError):
    """A GPX file that cannot be imported; the message names the file and the reason."""


@dataclass
class Track:
    """One track's fixes: UTC epoch seconds (may have a fraction) and lon/lat in EPSG:4326."""

    name: str
    time_s: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    @property
    def sha256(self) -> str:
        """Content hash of the normalised fixes (identifies the track whatever its file).

        Whole seconds are hashed as integers, as before sub-second times were kept, so a track
        imported then is still recognised; fractions are hashed to the microsecond.
        """
        digest = hashlib.sha256()
        for t, x, y in zip(self.time_s.tolist(), self.lon.tolist(), self.lat.tolist(), strict=True):
            digest.update(f"{time_key(t)},{x:.7f},{y:.7f}\n".encode())
        return digest.hexdigest()

    def subset(self, keep: np.ndarray) -> Track:
        """The track with only the fixes where ``keep`` (a boolean mask) is true."""
        return Track(self.name, self.time_s[keep], self.lon[keep], self.lat[keep])


@dataclass
class GpxFile:
    """The tracks of one GPX file and what the reader had to assume to read them."""

    tracks: list[Track]
    encoding: str
    warnings: list[str] = field(default_factory=list)


def time_key(t: float) -> str:
    """Epoch seconds as hashed: an integer when whole, else to the microsecond."""
    t = float(t)
    if t.is_integer():
        return str(int(t))
    return f"{t:.6f}".rstrip("0")


def decode_gpx(data: bytes, path: str | Path = "") -> tuple[str, str]:
    """(text, encoding) of a GPX file's bytes; the text has no BOM and no encoding declaration.

    The encoding is found as the module docstring says; :class:`GpxError` if the declared encoding
    is unknown or the bytes are not valid in it.
    """
    encoding, start, how = "", 0, ""
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, start, how = name, len(bom), "byte-order mark"
            break
    else:
        if data.startswith(b"<\x00?\x00"):
            encoding, how = "utf-16-le", "byte pattern"
        elif data.startswith(b"\x00<\x00?"):
            encoding, how = "utf-16-be", "byte pattern"
        elif match := _DECLARED.match(data[:1024]):
            declared = match.group(1).decode("ascii")
            encoding, how = _ENCODING_ALIASES.get(declared.lower(), declared), f'declared "{declared}"'
            if declared.lower().replace("_", "-").startswith(("utf-16", "utf-32", "ucs-")):
                # A declaration legible as single bytes was not written in UTF-16/32; exporters that
                # save as UTF-8 but keep a "UTF-16" declaration exist.
                encoding, how = "utf-8", f'declared "{declared}" but written in single bytes, so UTF-8'
        else:
            encoding, how = "utf-8", "no declaration, so the XML default"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise GpxError(
            f"{path}: declares encoding {encoding!r}, which is not a known encoding; "
            "file not imported (save it as UTF-8)"
        ) from None
    try:
        text = data[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = data[start:offset].decode(encoding).count("\n") + 1  # the part before is valid
        where = f"line {line} (byte {offset})"
        raise GpxError(
            f"{path}: {where} is not valid {encoding} ({how}): {exc.reason}; file not imported "
            "(the file's encoding declaration is wrong, or the file is damaged)"
        ) from None
    text = text.removeprefix("\ufeff")
    return _DECLARATION_ENCODING.sub(r"\1", text, count=1), codecs.lookup(encoding).name


def read_gpx_file(path: str | Path, *, datum: str = "wgs84", local_time: bool = False) -> GpxFile:
    """Parse a GPX file into tracks with every fix timed; raise :class:`GpxError` otherwise.

    ``datum`` is the datum the file's positions are in (:data:`DATUMS`); ``local_time`` reads times
    without a zone as Beijing time instead of UTC.
    """
    path = Path(path)
    if datum not in DATUMS:
        raise RecordsError(f"datum: {datum!r} is not one of {', '.join(DATUMS)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GpxError(f"{path}: cannot read ({exc})") from None
    text, encoding = decode_gpx(data, path)
    try:
        gpx = gpxpy.parse(text)
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GpxError(f"{path}: not a valid GPX file, perhaps truncated ({first_line})") from None
    tracks = []
    n_points = sum(len(s.points) for trk in gpx.tracks for s in trk.segments)
    starts = [m.start() for m in re.finditer(r"<(?:[\w.-]+:)?trkpt\b", text)]
    starts = starts if len(starts) == n_points else None
    lines = _trkpt_lines(text, n_points)
    first_index = 0  # of the track's first point among all the file's track points
    naive = total = 0
    for t, trk in enumerate(gpx.tracks):
        points = [p for segment in trk.segments for p in segment.points]
        if not points:
            continue
        name = trk.name or f"track {t + 1}"
        untimed = sum(p.time is None for p in points)
        if untimed:
            i = next(i for i, p in enumerate(points) if p.time is None)
            where, raw = f"point {i + 1}", None
            if starts is not None and lines is not None:
                k = first_index + i
                where += f" (line {lines[k]})"
                end = starts[k + 1] if k + 1 < len(starts) else len(text)
                found = re.search(r"<(?:[\w.-]+:)?time>([^<]*)<", text[starts[k] : end])
                raw = found.group(1) if found else None
            what = "time is missing" if raw is None else f"time={raw.strip()!r} is not an ISO 8601 time"
            raise GpxError(
                f"{path}: {name}: {where}: {what}; {untimed} of {len(points)} points have no time stamp; "
                "GPS tracks need times (export them with times from the device); file not imported"
            )
        _check_coordinates(path, name, points, first_index, lines)
        first_index += len(points)
        zone = BEIJING if local_time else UTC
        naive += sum(p.time.tzinfo is None for p in points)
        total += len(points)
        seconds = [(p.time if p.time.tzinfo else p.time.replace(tzinfo=zone)).timestamp() for p in points]
        lon = np.array([p.longitude for p in points], dtype=float)
        lat = np.array([p.latitude for p in points], dtype=float)
        tracks.append(Track(name, np.round(np.array(seconds, dtype=float), 6), *to_wgs84(lon, lat, datum)))
    if not tracks:
        raise GpxError(f"{path}: no track points (only waypoints or routes?)")
    result = GpxFile(tracks, encoding)
    if naive and not local_time:
        result.warnings.append(
            f"{path}: {naive} of {total} point times have no time zone; they were taken as UTC, as the "
            "GPX format specifies. If the device wrote Beijing time (some Chinese apps do), they are "
            "stored 8 h late: --local-time reads them as Beijing time (UTC+8)"
        )
    elif naive:
        result.warnings.append(
            f"{path}: {naive} of {total} point times have no time zone; read as Beijing time (UTC+8), "
            "as --local-time asks"
        )
    elif local_time:
        result.warnings.append(
            f"{path}: --local-time changed nothing: every point time carries its zone (taken as written)"
        )
    return result


def to_wgs84(lon: np.ndarray, lat: np.ndarray, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of positions in ``datum``; fixes at exactly 0,0 stay at 0,0."""
    if datum == "wgs84":
        return lon, lat
    convert = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}[datum]
    real = (lon != 0) | (lat != 0)
    lon, lat = lon.copy(), lat.copy()
    lon[real], lat[real] = convert(lon[real], lat[real])
    return lon, lat


def _trkpt_lines(text: str, n_points: int) -> list[int] | None:
    """Line number of each ``<trkpt`` tag in document order, or None if they do not match up."""
    starts = [m.start() for m in re.finditer(r"<(?:[\w.-]+:)?trkpt\b", text)]
    if len(starts) != n_points:
        return None
    lines, line, pos = [], 1, 0
    for start in starts:
        line += text.count("\n", pos, start)
        pos = start
        lines.append(line)
    return lines


def _check_coordinates(
    path: Path, name: str, points: list, first_index: int, lines: list[int] | None
) -> None:
    """GpxError naming the first point whose lat/lon/ele is not finite or out of range."""
    for i, point in enumerate(points):
        for field_name, value in (
            ("lat", point.latitude),
            ("lon", point.longitude),
            ("ele", point.elevation),
        ):
            if value is None and field_name == "ele":
                continue
            low, high = _FIELD_RANGES[field_name]
            finite = value is not None and math.isfinite(value)
            if finite and low <= value <= high:
                continue
            where = f"point {i + 1}"
            if lines is not None:
                where += f" (line {lines[first_index + i]})"
            reason = "is not a finite number" if not finite else f"is out of range ({low:g} to {high:g})"
            raise GpxError(f"{path}: {name}: {where}: {field_name}={value} {reason}; file not imported")


def describe_time(t: float) -> str:
    """A UTC time as ``2026-11-24 02:00:00.2 UTC`` (for messages)."""
    moment = datetime.fromtimestamp(float(t), UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + " UTC"
