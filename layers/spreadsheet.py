"""Exports for people: formula-safe CSV and Excel, rounded numbers, attribution and the SIMULATED note.

**Notes.** The data licences require attribution wherever the data goes, and simulated demo records
must never pass for real ones, so every export starts with :func:`export_notes`: the attribution of
``data/SOURCES.md`` and, when the exported rows include simulated ones, a SIMULATED line. In CSV they
are the leading lines starting with ``#`` (:func:`csv_text`; a spreadsheet shows them as the first
rows, a program skips the lines starting with ``#`` before the header); in Excel an "about" sheet.

**Formula injection.**
Why: visit notes, officer names and registry (site) names are typed by people and go verbatim into
CSV exports. Excel, WPS and LibreOffice treat a cell starting with ``=``, ``+``, ``-`` or ``@`` (and
a leading tab or carriage return, which some of them strip first) as a formula, so a note such as
``=HYPERLINK("http://x","y")`` opens as a live formula. Following the OWASP recommendation, such a
text value gets a leading apostrophe: spreadsheets show the value as plain text and the apostrophe
itself is hidden, so the cell still reads correctly.

Only text is touched. Numbers (lon, lat, km, minutes, negative ids) stay numbers, and a text value
that is just a plain number such as ``-12.5`` is left alone too: it cannot be a formula, and
quoting it would turn a number into text. Every CSV writer uses :func:`safe_cell` or
:func:`safe_frame`.

In an Excel workbook the apostrophe is not needed (and would show): :func:`workbook_bytes` stores
such a value as a text cell with Excel's own "quote prefix" flag, the same as typing ``'=...`` in
Excel, so the cell shows exactly the value and stays text even when it is edited later.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd

from layers.datasets import attribution

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NOTE_PREFIX = "# "
#: Decimals kept in exports: coordinates to about 1 m, everything else to 0.01.
COORDINATE_DECIMALS = 5
DECIMALS = 2
_NOTE_TEXT = {
    "attribution": {"zh": "数据来源与署名：", "en": "Data sources and attribution: "},
    "simulated": {
        "zh": "模拟数据（SIMULATED）：本导出含模拟的演示记录（simulated 列为 true），并非真实执法记录。",
        "en": "SIMULATED: this export contains simulated demo records (column simulated = true); "
        "they are not real enforcement records.",
    },
    "about": {"zh": "说明", "en": "about"},
}
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text that a spreadsheet would read as a formula;
    anything else (numbers, None, dates, plain numeric text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`safe_cell` applied to its text (object / string) columns;
    numeric, boolean and datetime columns are not touched."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(safe_cell)
    return out


def workbook_bytes(
    sheets: dict[str, pd.DataFrame], notes: list[str] | None = None, lang: str = "en"
) -> bytes:
    """An .xlsx workbook (openpyxl) with one sheet per frame, in memory, and the ``notes`` (see
    :func:`export_notes`) on a last "about" sheet; text that a spreadsheet would read as a formula is
    stored as quote-prefixed text (sheet names are cut to Excel's 31 characters)."""
    if notes:
        about = _NOTE_TEXT["about"]["zh" if lang == "zh" else "en"]
        sheets = {**sheets, about: pd.DataFrame({about: [safe_note(note) for note in notes]})}
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
            for row in writer.sheets[name[:31]].iter_rows():
                for cell in row:
                    if safe_cell(cell.value) is not cell.value:
                        cell.data_type = "s"  # openpyxl made a formula of a leading "="
                        cell.quotePrefix = True
    return buffer.getvalue()


def export_notes(simulated: bool, lang: str = "en") -> list[str]:
    """The lines every export carries: the data attribution, and the SIMULATED note if ``simulated``."""
    lang = lang if lang in ("zh", "en") else "en"
    notes = [_NOTE_TEXT["attribution"][lang] + attribution()]
    if simulated:
        notes.append(_NOTE_TEXT["simulated"][lang])
    return notes


def has_simulated(*frames: pd.DataFrame) -> bool:
    """Whether any row of the frames has a true ``simulated`` column."""
    return any("simulated" in f.columns and f["simulated"].fillna(False).astype(bool).any() for f in frames)


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats rounded for people: ``lon``/``lat`` to :data:`COORDINATE_DECIMALS`, others to :data:`DECIMALS`."""
    floats = frame.select_dtypes("float").columns
    return frame.round({c: COORDINATE_DECIMALS if c in ("lon", "lat") else DECIMALS for c in floats})


def csv_text(frame: pd.DataFrame, notes: list[str], headers: dict[str, str] | None = None) -> str:
    """``frame`` as formula-safe CSV text, numbers :func:`rounded`, after its notes (lines starting
    with ``# ``); ``headers`` renames columns (e.g. into the interface language)."""
    table = safe_frame(rounded(frame)).rename(columns=headers or {})
    lines = "".join(f"{NOTE_PREFIX}{safe_note(note)}\n" for note in notes)
    return lines + table.to_csv(index=False, lineterminator="\n")


def safe_note(note: str) -> str:
    """A note on one line (a line break would start a data row)."""
    return " ".join(str(note).split())
