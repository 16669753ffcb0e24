"""Run the routing core on the whole VRPTW set in bench/vrptw and write a Markdown table.

    .venv/bin/python bench/bench_vrptw.py --seconds 30 --workers 1 --runs 3 --markdown OUT.md

Arguments after the script name are passed to ``python -m planning.bench vrptw``; the instance
files (Solomon 100 first, then Gehring–Homberger 200) are added here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planning.bench import main  # noqa: E402  (needs the repository on sys.path first)

INSTANCES = Path(__file__).resolve().parent / "vrptw"


def instance_files() -> list[str]:
    """The shipped instances: 100-customer ones first, each group in name order."""
    files = sorted(INSTANCES.glob("*.txt"), key=lambda path: ("_2_" in path.stem, path.stem))
    return [str(path) for path in files]


if __name__ == "__main__":
    sys.exit(main(["vrptw", *instance_files(), *sys.argv[1:]]))
