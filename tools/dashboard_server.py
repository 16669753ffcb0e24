"""Start ``streamlit run app.py`` on a free loopback port and wait until it answers: for the browser
tests (``tests/conftest.py``) and the benchmarks that drive a real dashboard (``bench/``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class DashboardDidNotStart(RuntimeError):
    """The server exited or stayed unhealthy; the message ends with its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dashboard(
    env: dict[str, str], log_path: Path, timeout_s: float = 60
) -> tuple[subprocess.Popen, str]:
    """Run the dashboard with ``env`` added to this process's environment, its output in
    ``log_path``; return the process and its URL once ``/_stcore/health`` answers.

    Raises :class:`DashboardDidNotStart` (after stopping it) when it exits or is not healthy within
    ``timeout_s``.
    """
    port = free_port()
    with log_path.open("wb") as log:
        # Popen (not a shell `&`) so stopping it ends exactly this process.
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
                "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(server, port, log_path, timeout_s)
    except DashboardDidNotStart:
        stop_dashboard(server)
        raise
    return server, f"http://127.0.0.1:{port}/"


def stop_dashboard(server: subprocess.Popen) -> None:
    """Terminate the dashboard (kill it if it does not stop within 10 s)."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


@contextmanager
def dashboard_server(env: dict[str, str], log_path: Path, timeout_s: float = 60) -> Iterator[str]:
    """:func:`start_dashboard` as a context: yields the URL, stops the dashboard afterwards."""
    server, url = start_dashboard(env, log_path, timeout_s)
    try:
        yield url
    finally:
        stop_dashboard(server)


def _wait_until_healthy(server: subprocess.Popen, port: int, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            raise DashboardDidNotStart(f"streamlit exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DashboardDidNotStart(f"streamlit not healthy after {timeout_s} s:\n{log_path.read_text()}")
        time.sleep(0.2)
