"""Command line: ``python -m coverage report | blindspots | plan | bulk``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "report": ("coverage.stats", "coverage per prefecture or county for a period (csv/json)"),
    "blindspots": ("coverage.blindspots", "weighted areas not covered for N days, ranked"),
    "plan": ("coverage.plan_coverage", "expected coverage of a plan; plan vs actual"),
    "bulk": ("coverage.bulk", "the report with track coverage computed in PostgreSQL (years of tracks)"),
}

if __name__ == "__main__":
    sys.exit(dispatch("coverage", COMMANDS))
