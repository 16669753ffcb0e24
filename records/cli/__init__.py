"""Shared plumbing for the ``python -m records`` subcommands (one module per subcommand)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from records.db import RecordsError


def parser(command: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every subcommand shares (--db, --actor)."""
    parser = argparse.ArgumentParser(prog=f"python -m records {command}", description=description)
    parser.add_argument("--db", help="database file (default: $XUNHU_DB or var/xunhu.sqlite)")
    parser.add_argument("--actor", help="account recorded in the audit log (default: OS user)")
    return parser


def run(action: Callable[[], int]) -> int:
    """Run a subcommand body; bad input becomes a one-line message and exit status 1."""
    try:
        return action()
    except RecordsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def read_json(path: str) -> object:
    """The JSON document in ``path``; unreadable or malformed files raise a one-line RecordsError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordsError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RecordsError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
