"""``python -m records create-admin --username NAME``: the first admin account (prompts for a password)."""

from __future__ import annotations

from records.accounts import admin_exists, create_account, normalize_username
from records.cli import parser, run
from records.cli.passwords import add_password_options, new_password
from records.db import RecordsError
from records.store import open_store


def main(argv: list[str]) -> int:
    """Create an admin account."""
    cli = parser("create-admin", "Create the first admin account (there is no default one).")
    cli.add_argument("--username", required=True)
    cli.add_argument("--display-name", default="")
    cli.add_argument("--force", action="store_true", help="create it even though an admin exists")
    add_password_options(cli, generate=False)
    args = cli.parse_args(argv)

    def body() -> int:
        username = normalize_username(args.username)
        with open_store(args.db) as store:
            if admin_exists(store) and not args.force:
                raise RecordsError(
                    "an admin account exists already; add accounts with add-account, or use --force"
                )
            password, _ = new_password(args, username)
            create_account(
                store, username, password, "admin", display_name=args.display_name, actor=args.actor
            )
        print(f"admin account {username!r} created")
        return 0

    return run(body)
