"""What can be wrong with an input file, in a form a person can act on.

Shared by the reader (:mod:`layers.io`), validation (:mod:`layers.validate`) and the ``check``
command, so each stage adds to one list rather than stopping at the first fault.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

Severity = Literal["error", "repair", "warning"]

# What a text cell has no business holding: an HTML tag, closing tag or comment ("<img",
# "</script", "<!--"; a browser reads a tag only with the letter right after "<", so "a < b" and
# "<5 t/d" do not match), a JS template-literal expression, a script URL, or an event-handler
# attribute ("onerror=").
_MARKUP = re.compile(r"</?[a-z][a-z0-9-]*|<!|\$\{|javascript\s*:|\bon[a-z]+\s*=", re.IGNORECASE)


class LayerFileError(Exception):
    """A file that cannot be read at all (missing, unknown format, corrupt, no usable layer)."""


@dataclass(frozen=True)
class Problem:
    """One fault in one place: ``file``, ``row`` (``None`` for the whole file), ``field``, ``value``.

    ``row_label`` says how ``row`` counts ("line" for CSV, where the header is line 1; "feature"
    for GeoJSON and Shapefile, the first feature being 1; "fid" for GeoPackage). ``severity`` is
    "error" (the file cannot be imported), "repair" (fixed safely, and said so) or "warning"
    (imported as is, but worth a look).
    """

    file: str
    row: int | None
    field: str
    value: str
    reason: str
    severity: Severity = "error"
    row_label: str = "row"

    def location(self) -> str:
        """``file`` or ``file line 5`` / ``file feature 3``."""
        return self.file if self.row is None else f"{self.file} {self.row_label} {self.row}"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"[{self.severity}] "
        shown = f"{self.field}={self.value}" if self.value != "" else self.field
        return f"{self.location()}: {tag}{shown} — {self.reason}"

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON output."""
        return asdict(self)


def show_value(value: object, limit: int = 60) -> str:
    """A short printable form of a cell value (``repr`` for strings so blanks are visible)."""
    if is_missing(value):
        return "<missing>"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_missing(value: object) -> bool:
    """``True`` for ``None``, NaN, NaT, ``pd.NA`` and blank strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like values are never "missing" as a whole
        return False


def find_markup(text: str) -> str | None:
    """The first piece of HTML or JavaScript markup in ``text`` (``"<img"``, ``"${"``,
    ``"javascript:"``, ``"onerror="``), or ``None`` when there is none.

    The dashboard escapes every text it shows, so markup is harmless there; it is reported because
    a registry name holding it is almost surely a mistake or a probe, and other tools may not escape.
    """
    found = _MARKUP.search(text)
    return None if found is None else found.group(0)
