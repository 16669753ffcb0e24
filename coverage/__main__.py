"""Command line: ``python -m coverage report | blindspots | plan``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "report": ("coverage.stats", "coverage per prefecture or county for a period (csv/json)"),
    "blindspots": ("coverage.blindspots", "weighted areas not covered for N days, ranked"),
    "plan": ("coverage.plan_coverage", "expected coverage of a plan; plan vs actual"),
}

if __name__ == "__main__":
    sys.exit(dispatch("coverage", COMMANDS))
