"""Command line: ``python -m layers summary | check FILE... | draw --period 2026Q4 ...``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "summary": ("layers.summary", "counts by layer, kind, category and prefecture"),
    "check": ("layers.check", "validate files; exit 1 listing every problem"),
    "draw": ("layers.draw", "random inspection draw (双随机) for a period"),
}

if __name__ == "__main__":
    sys.exit(dispatch("layers", COMMANDS))
