"""Command line: ``python -m layers summary | check FILE... | import FILE | draw --period 2026Q4 ...``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "summary": ("layers.summary", "counts by layer, kind, category and prefecture"),
    "check": ("layers.check", "validate files; exit 1 listing every problem"),
    "import": ("layers.import_cli", "import a file into the registry, only if it validates"),
    "draw": ("layers.draw", "random inspection draw (双随机) for a period"),
}

if __name__ == "__main__":
    sys.exit(dispatch("layers", COMMANDS))
