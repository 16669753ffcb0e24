"""Two processes recording visits at the same moment lose nothing (WAL + BEGIN IMMEDIATE)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.records

REPO = Path(__file__).resolve().parent.parent


def test_two_writer_processes_lose_no_visit(tmp_path, new_db):
    n = 150
    command = [sys.executable, "bench/bench_records_concurrency.py", "--writers", "2", "--visits", str(n)]
    run = subprocess.run(
        [*command, "--db", str(new_db("c"))], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["written"] == summary["stored"] == summary["audit_entries"] == 2 * n
    assert summary["missing_or_duplicated"] == 0
    [first, second] = summary["per_writer"]
    assert first["written"] == second["written"] == n
