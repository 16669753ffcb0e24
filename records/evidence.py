"""Evidence files of a case: stored by content (SHA-256), checked on every read, photos checked
against the visit.

A file is copied to ``evidence/<first two hex digits>/<sha256>`` next to the records database (the
same file added twice is stored once) and recorded with its size, name and the time it was added.
Reading it back (:func:`read_evidence`) hashes it again: a file changed or removed on disk is
reported, never served as evidence. :func:`verify_evidence` checks every stored file at once.

For JPEG photos the EXIF capture time (``DateTimeOriginal``, local time unless the photo records its
offset) and GPS position are read with Pillow and compared with the visit that found the violation:
a photo taken more than :data:`FAR_METRES` from the visit's position, or more than :data:`FAR_HOURS`
before its start or after its end, is *flagged* (the flag is stored with the evidence and shown; the
file is still kept, since an officer may have a good reason).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyproj import Geod

from layers.datasets import REPO_ROOT
from records import audit
from records.backend import Connection, Row, dialect, inserted_id
from records.db import LOCAL_TZ, RecordsError, now_text, transaction, utc_text

#: A photo farther than this from the visit's position is flagged.
FAR_METRES = 1000.0
#: A photo taken more than this before the visit started or after it ended is flagged.
FAR_HOURS = 12.0
_GEOD = Geod(ellps="WGS84")
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _DATETIME = 36867, 36881, 306


@dataclass(frozen=True)
class PhotoFacts:
    """What a photo's EXIF says: capture time (aware) and position, each ``None`` when absent."""

    taken_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


def evidence_dir(conn: Connection) -> Path:
    """Where evidence files are kept: ``$XUNHU_EVIDENCE_DIR`` if set; else ``evidence/`` next to the
    SQLite file of ``conn``, or ``var/evidence`` for a PostgreSQL database (set the variable to a
    shared volume when dashboards run on several machines)."""
    if os.environ.get("XUNHU_EVIDENCE_DIR"):
        return Path(os.environ["XUNHU_EVIDENCE_DIR"])
    if dialect(conn) == "postgresql":
        return REPO_ROOT / "var" / "evidence"
    row = conn.execute("PRAGMA database_list").fetchone()
    if not row or not row[2]:
        raise RecordsError("evidence: the database is in memory; evidence files need a database file")
    return Path(row[2]).parent / "evidence"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stored_path(conn: Connection, sha256: str) -> Path:
    """Where the file with this hash is kept."""
    return evidence_dir(conn) / sha256[:2] / sha256


def _degrees(value: object, ref: object, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    sign = -1.0 if str(ref).strip().upper().startswith(negative) else 1.0
    return sign * (d + m / 60 + s / 3600)


def photo_facts(path: Path) -> PhotoFacts | None:
    """EXIF time and GPS position of a JPEG (``None`` for a file that is not a JPEG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format != "JPEG":
                return None
            exif = image.getexif()
    except (UnidentifiedImageError, OSError):
        return None
    details = exif.get_ifd(_EXIF_IFD)
    stamp = details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    taken = None
    if stamp:
        try:
            taken = datetime.strptime(str(stamp).strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            taken = None
    if taken is not None:
        offset = str(details.get(_OFFSET_TIME_ORIGINAL) or "").strip()
        try:
            zone = datetime.strptime(offset, "%z").tzinfo if offset else LOCAL_TZ
        except ValueError:
            zone = LOCAL_TZ  # cameras in Xinjiang are set to Beijing time unless they say otherwise
        taken = taken.replace(tzinfo=zone)
    gps = exif.get_ifd(_GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1), "S") if gps else None
    lon = _degrees(gps.get(4), gps.get(3), "W") if gps else None
    return PhotoFacts(taken, lon if lat is not None else None, lat if lon is not None else None)


def photo_flags(facts: PhotoFacts, visit: Row) -> list[str]:
    """Why a photo does not match the visit (empty when it does, or when EXIF says nothing)."""
    flags = []
    if facts.lon is not None and visit["lon"] is not None:
        _, _, metres = _GEOD.inv(visit["lon"], visit["lat"], facts.lon, facts.lat)
        if metres > FAR_METRES:
            flags.append(
                f"taken {metres / 1000:.1f} km from the visit's position (more than {FAR_METRES / 1000:g} km)"
            )
    if facts.taken_at is not None:
        started = datetime.fromisoformat(visit["started_at"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(visit["ended_at"].replace("Z", "+00:00"))
        gap = max(started - facts.taken_at, facts.taken_at - ended, timedelta(0))
        if gap > timedelta(hours=FAR_HOURS):
            flags.append(
                f"taken {gap.total_seconds() / 3600:.1f} h outside the visit "
                f"({facts.taken_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}, more than {FAR_HOURS:g} h)"
            )
    return flags


def add_evidence(conn: Connection, case_id: int, path: str | Path, actor: str) -> int:
    """Store a file as evidence of a case (inside the caller's transaction); return its evidence id.

    Adding the same file to the same case again returns the stored id. Raises RecordsError for a
    missing file or case.
    """
    source = Path(path)
    if not source.is_file():
        raise RecordsError(f"evidence: {source} is not a readable file")
    case = conn.execute(
        "SELECT c.case_id, v.lon, v.lat, v.started_at, v.ended_at FROM cases c "
        "JOIN visits v ON v.visit_id = c.visit_id WHERE c.case_id = ?",
        (case_id,),
    ).fetchone()
    if case is None:
        raise RecordsError(f"case: {case_id} does not exist")
    sha256 = file_sha256(source)
    facts = photo_facts(source)
    flags = photo_flags(facts, case) if facts is not None else []
    with transaction(conn):
        same = conn.execute(
            "SELECT evidence_id FROM evidence WHERE case_id = ? AND sha256 = ?", (case_id, sha256)
        ).fetchone()
        if same is not None:
            return int(same["evidence_id"])
        target = stored_path(conn, sha256)
        if not target.exists() or file_sha256(target) != sha256:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(source, partial)
            partial.replace(target)  # atomic: a reader never sees half a file under its hash
        cursor = conn.execute(
            "INSERT INTO evidence (case_id, sha256, size_bytes, file_name, taken_at, lon, lat, flags, "
            "added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING evidence_id",
            (
                case_id,
                sha256,
                source.stat().st_size,
                source.name,
                utc_text(facts.taken_at) if facts is not None and facts.taken_at is not None else None,
                facts.lon if facts is not None else None,
                facts.lat if facts is not None else None,
                json.dumps(flags, ensure_ascii=False),
                now_text(),
                actor,
            ),
        )
        evidence_id = inserted_id(cursor)
        audit.append(
            conn,
            "case.evidence",
            f"case:{case_id}",
            {"evidence_id": evidence_id, "sha256": sha256, "file_name": source.name, "flags": flags},
            actor,
        )
    return evidence_id


def read_evidence(conn: Connection, evidence_id: int) -> bytes:
    """The bytes of a stored evidence file, after checking them against the recorded SHA-256 and size.

    Raises RecordsError naming the evidence when the file is missing or no longer matches.
    """
    row = conn.execute("SELECT * FROM evidence WHERE evidence_id = ?", (evidence_id,)).fetchone()
    if row is None:
        raise RecordsError(f"evidence: {evidence_id} does not exist")
    problem = _file_problem(conn, row)
    if problem:
        raise RecordsError(problem)
    return stored_path(conn, row["sha256"]).read_bytes()


def _file_problem(conn: Connection, row: Row) -> str | None:
    path = stored_path(conn, row["sha256"])
    label = f"evidence {row['evidence_id']} ({row['file_name']}, case {row['case_id']})"
    if not path.is_file():
        return f"{label}: file {path} is missing"
    if path.stat().st_size != row["size_bytes"] or file_sha256(path) != row["sha256"]:
        return f"{label}: file {path} was changed after it was stored (SHA-256 no longer matches)"
    return None


def verify_evidence(conn: Connection, case_id: int | None = None) -> list[str]:
    """One line per stored evidence file (of one case, or all) that is missing or changed."""
    sql, params = "SELECT * FROM evidence", ()
    if case_id is not None:
        sql, params = sql + " WHERE case_id = ?", (case_id,)
    return [
        p for row in conn.execute(sql + " ORDER BY evidence_id", params) if (p := _file_problem(conn, row))
    ]
