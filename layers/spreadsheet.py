"""Spreadsheet-safe exports: neutralise formula injection (CSV injection) in CSV and Excel text values.

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

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
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


def workbook_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An .xlsx workbook (openpyxl) with one sheet per frame, in memory; text that a spreadsheet would
    read as a formula is stored as quote-prefixed text (sheet names are cut to Excel's 31 characters)."""
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
