"""The prebuilt simulated history the dashboard installs on first start (see data/demo/README.md).

Only this (unpacking a file) is needed at first start, so the dashboard and ``scripts/start.sh``
import this module and not the simulator in :mod:`simulation.history` that made the snapshot.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

from records.db import RecordsError, connect, db_target, exists

#: The shipped snapshot, made by ``python -m simulation history`` (see data/demo/README.md).
DEMO_SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "demo" / "records_demo.sqlite.gz"


def install_demo_snapshot(snapshot: str | Path = DEMO_SNAPSHOT, path: str | Path | None = None) -> bool:
    """Put the gzipped prebuilt history ``snapshot`` in place as the records database ``path``
    (default ``$XUNHU_DB`` or var/xunhu.sqlite) if no database exists there yet.

    Simulating the history takes minutes; unpacking the snapshot takes a second. The copy is
    atomic and never overwrites: it is unpacked next to the target and hard-linked into place, so
    a concurrent first start or an existing database wins. The schema is then migrated to the
    current version. Returns True if the snapshot was installed. A PostgreSQL database is never
    seeded with the simulated history: a server holds real records.
    """
    target = db_target(path)
    if exists(target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as part:
        try:
            with gzip.open(snapshot, "rb") as packed:
                shutil.copyfileobj(packed, part)
            part.flush()
            os.fsync(part.fileno())
        except OSError as problem:
            Path(part.name).unlink()
            raise RecordsError(f"demo snapshot {snapshot}: {problem}") from None
    try:
        os.link(part.name, target)
    except FileExistsError:
        return False
    finally:
        Path(part.name).unlink()
    connect(target).close()
    return True
