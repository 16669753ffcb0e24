"""Subcommand dispatch shared by every package's ``python -m PACKAGE`` entry point.

Each subcommand lives in the module that does the work and exposes ``main(argv) -> int``;
the dispatcher imports only the module that is asked for, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys


def dispatch(prog: str, commands: dict[str, tuple[str, str]], argv: list[str] | None = None) -> int:
    """Run ``commands[argv[0]]``'s module ``main(argv[1:])``; print usage for anything else."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in commands:
        print(f"usage: python -m {prog} {{{','.join(commands)}}} ...", file=sys.stderr)
        for name, (_, help_text) in commands.items():
            print(f"  {name:12} {help_text}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(commands[argv[0]][0])
    return module.main(argv[1:])
