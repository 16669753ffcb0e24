"""Command line: ``python -m simulation registry --seed 2026 --out data/registry | history --weeks 12``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "registry": (
        "simulation.registry",
        "regenerate the simulated registry and roster (byte-identical per seed)",
    ),
    "history": (
        "simulation.history_cli",
        "simulate past weeks of plans, visits, tracks, cases and complaints",
    ),
}

if __name__ == "__main__":
    sys.exit(dispatch("simulation", COMMANDS))
