"""Import a validated file into the stored registry, all or nothing.

The file is validated against the registry (its site ids must be new unless ``update=True``);
only a file without a single error is merged. Every changed registry file is first written in
full to a temporary file in the same directory, flushed to disk, and then swapped in with
``os.replace``, so a crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.datasets import REGISTRY_FILES, data_path, load_targets
from layers.schema import LAYERS, WGS84
from layers.validate import ValidationReport, check_file

#: Same GeoJSON writing options as the shipped registry, so imported rows look the same.
GEOJSON_OPTIONS = {"COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_BBOX": "NO"}


@dataclass
class ImportResult:
    """What an import did: the validation report, rows added and replaced, files written."""

    report: ValidationReport
    added: int = 0
    replaced: int = 0
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file validated and was merged."""
        return self.report.ok


def import_file(
    path: str | Path,
    *,
    source_layer: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    gcj02: bool = False,
    bd09: bool = False,
    update: bool = False,
    today: dt.date | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    packed_dms: bool | None = None,
) -> ImportResult:
    """Validate ``path`` against the stored registry and, only if it has no error, merge it in.

    New site ids are appended to their layer's registry file. Ids already stored are errors
    unless ``update`` is true; then the stored rows are replaced (in place when the layer is
    unchanged) and counted in ``replaced``. On any error nothing is written. The reading options
    are those of :func:`~layers.validate.check_file`.
    """
    stored = {name: _read_stored(name) for name in LAYERS}
    stored_ids = {
        site_id: REGISTRY_FILES[name]
        for name, frame in stored.items()
        if frame is not None
        for site_id in frame["site_id"]
    }
    report = check_file(
        str(path),
        source_layer=source_layer,
        crs=crs,
        layer=layer,
        gcj02=gcj02,
        bd09=bd09,
        existing_ids={} if update else stored_ids,
        today=today,
        sheet=sheet,
        encoding=encoding,
        packed_dms=packed_dms,
    )
    if not report.ok:
        return ImportResult(report)
    incoming = report.targets
    merged: dict[str, gpd.GeoDataFrame] = {}
    for name in LAYERS:
        frame = _merge(stored[name], incoming, name)
        if frame is not None:
            merged[name] = frame
    replaced = int(incoming["site_id"].isin(stored_ids.keys()).sum())
    written = _write_atomically({data_path(REGISTRY_FILES[name]): frame for name, frame in merged.items()})
    return ImportResult(report, added=len(incoming) - replaced, replaced=replaced, written=written)


def _read_stored(layer: str) -> gpd.GeoDataFrame | None:
    """The stored rows of one layer in the target schema (``None`` when its file does not exist)."""
    return load_targets((layer,)) if data_path(REGISTRY_FILES[layer]).exists() else None


def _merge(
    stored: gpd.GeoDataFrame | None, incoming: gpd.GeoDataFrame, layer: str
) -> gpd.GeoDataFrame | None:
    """``stored`` with ``incoming``'s rows of ``layer`` merged in; ``None`` when nothing changes."""
    mine = incoming[incoming["layer"] == layer]
    if stored is None:
        return mine if len(mine) else None
    replacing = stored["site_id"].isin(incoming["site_id"])
    if not replacing.any() and mine.empty:
        return None
    # Rows updated in the same layer keep their place; rows that moved layer leave this file.
    position = pd.Series(np.arange(len(stored)), index=stored["site_id"].to_numpy())
    known = mine["site_id"].isin(position.index)
    parts = [
        stored[~replacing].assign(_position=np.flatnonzero(~replacing.to_numpy())),
        mine[known].assign(_position=position[mine.loc[known, "site_id"]].to_numpy()),
        mine[~known].assign(_position=len(stored) + np.arange(int((~known).sum()))),
    ]
    frame = pd.concat(parts, ignore_index=True).sort_values("_position", kind="stable")
    frame = frame.drop(columns="_position").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)


def _write_atomically(frames: dict[Path, gpd.GeoDataFrame]) -> list[Path]:
    """Write every frame to a temporary sibling, fsync, then ``os.replace`` them all."""
    temporary: dict[Path, Path] = {}
    try:
        for target, frame in frames.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_orphaned_temporaries(target)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)  # the GeoJSON driver refuses to overwrite
            temporary[target] = tmp
            _for_file(frame).to_file(tmp, driver="GeoJSON", layer=target.stem, layer_options=GEOJSON_OPTIONS)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
    except BaseException:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
        raise
    for target, tmp in temporary.items():
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    return list(temporary)


def remove_orphaned_temporaries(target: Path) -> list[Path]:
    """Delete temporary siblings of ``target`` left by imports that were killed; return them.

    A temporary is named after the process that writes it; one whose process no longer runs can
    never be swapped in (a kill -9 skips the clean-up), so it is only wasted disk space.
    """
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2 : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _for_file(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dates as ``YYYY-MM-DD`` text, as the shipped registry stores them."""
    out = frame.copy()
    dates = pd.to_datetime(out["last_inspected"])
    out["last_inspected"] = dates.dt.strftime("%Y-%m-%d").astype("string").where(dates.notna(), pd.NA)
    return out


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX needs the directory entry flushed too)."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
