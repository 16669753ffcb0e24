"""Command line: ``python -m planning matrix | plan | replan | check | export | worker | jobs``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "matrix": ("planning.matrix_cli", "travel-time and distance matrix between points"),
    "plan": ("planning.plan_cli", "solve a weekly patrol scenario into a plan"),
    "replan": ("planning.replan_cli", "re-plan a week under way from now, keeping what it can"),
    "check": ("planning.check", "check a plan against its scenario; exit 1 listing violations"),
    "export": ("planning.export", "export a plan per team as GPX, KML and CSV"),
    "worker": ("planning.worker", "run queued solve jobs from the records database (any number of machines)"),
    "jobs": ("planning.jobs_cli", "list, show or cancel solve jobs"),
}

if __name__ == "__main__":
    sys.exit(dispatch("planning", COMMANDS))
