"""A small disk cache of numpy arrays, keyed by content.

Files live in ``$XUNHU_CACHE_DIR`` (default ``var/cache/`` in the repository, which git
ignores) as ``<prefix>-<sha256>.npz``. The key is the hash of everything the result depends on,
so a stale entry is never read; it is simply never asked for again. A file that cannot be read
(truncated, corrupt, wrong content) counts as a miss and is overwritten; a cache directory that
cannot be written only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from layers.datasets import REPO_ROOT


def cache_dir() -> Path:
    """The cache directory: ``$XUNHU_CACHE_DIR`` if set, else ``var/cache`` in the repository."""
    return Path(os.environ.get("XUNHU_CACHE_DIR") or REPO_ROOT / "var" / "cache")


def content_key(*parts: str | bytes | np.ndarray) -> str:
    """SHA-256 over the parts, each length-prefixed so that concatenations cannot collide."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            data = np.ascontiguousarray(part).tobytes() + str(part.dtype).encode()
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cache_file(prefix: str, key: str) -> Path:
    """Where the entry ``key`` is stored."""
    return cache_dir() / f"{prefix}-{key}.npz"


def load_arrays(prefix: str, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The cached arrays ``names`` of entry ``key``, or None on a miss or an unreadable file."""
    path = cache_file(prefix, key)
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def save_arrays(prefix: str, key: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Store ``arrays`` under ``key`` atomically (write, then rename); None if it cannot be written."""
    path = cache_file(prefix, key)
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            np.savez(handle, **arrays)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        return None
    return path
