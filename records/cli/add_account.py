"""``python -m records add-account --username NAME --role officer --team T1 --detachment 650100``.

Accounts are added on the machine that holds the database: local access is the admin's credential.
"""

from __future__ import annotations

from records.accounts import PERMISSIONS, ROLES, create_account, normalize_username
from records.cli import parser, run
from records.cli.passwords import add_password_options, new_password
from records.store import open_store


def main(argv: list[str]) -> int:
    """Add an account."""
    cli = parser("add-account", "Add an account with a role.")
    cli.add_argument("--username", required=True)
    cli.add_argument("--role", required=True, choices=ROLES)
    cli.add_argument("--detachment", help="prefecture code of a chief's or officer's detachment, e.g. 650100")
    cli.add_argument("--team", help="an officer's team, e.g. T1")
    cli.add_argument("--display-name", default="")
    cli.add_argument("--permission", action="append", choices=PERMISSIONS, default=[], help="repeatable")
    add_password_options(cli)
    args = cli.parse_args(argv)

    def body() -> int:
        username = normalize_username(args.username)
        password, generated = new_password(args, username)
        with open_store(args.db) as store:
            account = create_account(
                store,
                username,
                password,
                args.role,
                display_name=args.display_name,
                detachment=args.detachment,
                team_id=args.team,
                permissions=tuple(args.permission),
                actor=args.actor,
            )
        print(f"{account.role} account {account.username!r} created")
        if generated:
            print(f"password (shown once): {password}")
        return 0

    return run(body)
