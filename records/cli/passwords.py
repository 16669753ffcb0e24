"""Reading a new password on the command line: prompted twice, or one line from stdin for scripts."""

from __future__ import annotations

import argparse
import getpass
import sys

from records.accounts import check_password_strength, generate_password
from records.db import RecordsError


def add_password_options(cli: argparse.ArgumentParser, generate: bool = True) -> None:
    """``--password-stdin`` (and ``--generate-password``); without them the password is prompted."""
    group = cli.add_mutually_exclusive_group()
    group.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    if generate:
        group.add_argument(
            "--generate-password", action="store_true", help="generate a random password and print it once"
        )


def new_password(args: argparse.Namespace, username: str) -> tuple[str, bool]:
    """The new password from the options, checked for strength, and whether it was generated.

    Never a password on the command line itself: it would stay in the shell history and ``ps``.
    """
    if getattr(args, "generate_password", False):
        return generate_password(), True
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"new password for {username}: ")
        check_password_strength(password, username)
        if getpass.getpass("repeat it: ") != password:
            raise RecordsError("the two passwords differ; nothing changed")
    check_password_strength(password, username)
    return password, False
