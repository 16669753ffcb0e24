"""Which text encoding a Shapefile's ``.dbf`` uses, when its ``.cpg`` does not say.

GDAL reads a ``.dbf`` without ``.cpg`` as ISO-8859-1 unless the DBF header's language-driver byte
(LDID, offset 29) names a code page, so a Chinese file saved by ArcGIS or a Chinese edition of
another desktop GIS (GBK, without ``.cpg``, the usual case) turns 米东区 into ``Ã×¶«Çø``
without a word. And a ``.cpg`` saying ``GB2312`` makes GDAL refuse the characters GBK added
(犇, 喆, 堃 are common in names). :func:`detect_dbf_encoding` decides, in this order:

1. the ``.cpg`` file: any GB2312/GBK/936 name is read as GB18030 (a superset of both), others
   as written;
2. the LDID byte: 0x4D (code page 936) means GB18030, 0x57/0x00 say nothing;
3. the text itself: if every record decodes as UTF-8 it is UTF-8 (a GBK text almost never
   does), else if it decodes as GB18030 it is GB18030; otherwise nothing is decided.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

#: Code-page names that GDAL would read too narrowly; GB18030 contains all of them.
_GB_NAMES = {"gb2312", "gbk", "936", "cp936", "ms936", "euc-cn", "gb18030", "54936", "cp54936"}
_UTF8_NAMES = {"utf-8", "utf8", "65001"}
#: DBF language-driver ids that name a Chinese code page (0x4D: 936 simplified Chinese).
_LDID_GB = {0x4D}
#: Bytes of the records looked at for a guess (enough for thousands of short rows).
_SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding to read a DBF with (``None``: leave it to GDAL) and how it was decided."""

    encoding: str | None
    how: str
    guessed: bool = False


def detect_dbf_encoding(shp: str | Path, archive: Path | None = None) -> EncodingGuess:
    """The encoding of the ``.dbf`` beside ``shp`` (a path inside ``archive`` when that is a zip)."""
    cpg, dbf = _sibling_bytes(Path(shp), archive)
    if cpg is not None:
        name = cpg.decode("ascii", "replace").strip()
        if name.lower() in _GB_NAMES:
            return EncodingGuess("GB18030", f".cpg says {name!r}; read as GB18030, which contains it")
        if name.lower() in _UTF8_NAMES:
            return EncodingGuess("UTF-8", f".cpg says {name!r}")
        return EncodingGuess(None, f".cpg says {name!r}")
    if dbf is None or len(dbf) < 32:
        return EncodingGuess(None, "no .dbf to look at")
    if dbf[29] in _LDID_GB:
        return EncodingGuess(
            "GB18030", f"no .cpg; the DBF language driver byte 0x{dbf[29]:02X} means code page 936"
        )
    records = _record_bytes(dbf)
    if records.isascii():
        return EncodingGuess(None, "no .cpg; the text is plain ASCII")
    try:
        records.decode("utf-8")
        return EncodingGuess("UTF-8", "no .cpg; the text decodes as UTF-8", guessed=True)
    except UnicodeDecodeError:
        pass
    try:
        records.decode("gb18030")
        return EncodingGuess("GB18030", "no .cpg; the text decodes as GB18030 (Chinese GBK)", guessed=True)
    except UnicodeDecodeError:
        return EncodingGuess(None, "no .cpg; the text is neither UTF-8 nor GB18030; state --encoding")


def _record_bytes(dbf: bytes) -> bytes:
    """The record part of a DBF (after its header), cut to a sample on a record boundary."""
    header_length = int.from_bytes(dbf[8:10], "little")
    record_length = max(int.from_bytes(dbf[10:12], "little"), 1)
    body = dbf[header_length:]
    if body.endswith(b"\x1a"):
        body = body[:-1]
    keep = min(len(body), _SAMPLE_BYTES) // record_length * record_length
    return body[: keep or len(body)]


def _sibling_bytes(shp: Path, archive: Path | None) -> tuple[bytes | None, bytes | None]:
    """The bytes of the ``.cpg`` and (a sample of) the ``.dbf`` next to ``shp`` (``None`` if absent)."""
    if archive is None:
        parts = {
            p.suffix.lower(): p for p in shp.parent.glob(f"{_glob_escape(shp.stem)}.*") if p.stem == shp.stem
        }
        cpg = parts[".cpg"].read_bytes() if ".cpg" in parts else None
        dbf = None
        if ".dbf" in parts:
            with open(parts[".dbf"], "rb") as handle:
                dbf = handle.read(_SAMPLE_BYTES + 65536)
        return cpg, dbf
    with zipfile.ZipFile(archive) as zipped:
        stem = str(shp)[: -len(shp.suffix)]
        names = {name[len(stem) :].lower(): name for name in zipped.namelist() if name.startswith(stem)}
        cpg = zipped.read(names[".cpg"]) if ".cpg" in names else None
        dbf = None
        if ".dbf" in names:
            with zipped.open(names[".dbf"]) as handle:
                dbf = handle.read(_SAMPLE_BYTES + 65536)
        return cpg, dbf


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
