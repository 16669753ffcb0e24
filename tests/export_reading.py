"""Read the CSV exports as a person's tool would: the leading ``#`` note lines, then the table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd


def split_export(source: str | Path) -> tuple[list[str], str]:
    """(note lines without their ``# ``, the CSV text after them) of an export file or text."""
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    lines = text.splitlines(keepends=True)
    notes = []
    while lines and lines[0].startswith("# "):
        notes.append(lines.pop(0)[2:].rstrip("\n"))
    return notes, "".join(lines)


def export_rows(source: str | Path) -> tuple[list[str], list[dict]]:
    """(notes, rows as dicts of text)."""
    notes, body = split_export(source)
    return notes, list(csv.DictReader(io.StringIO(body, newline="")))


def export_frame(source: str | Path) -> tuple[list[str], pd.DataFrame]:
    """(notes, the table read by pandas)."""
    notes, body = split_export(source)
    return notes, pd.read_csv(io.StringIO(body))
