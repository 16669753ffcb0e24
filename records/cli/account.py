"""``python -m records account NAME --disable | --enable | --unlock | --set-password``."""

from __future__ import annotations

from records.accounts import disable_account, enable_account, get_account, set_password, unlock_account
from records.cli import parser, run
from records.cli.passwords import add_password_options, new_password
from records.store import open_store

ACTIONS = {"disable": disable_account, "enable": enable_account, "unlock": unlock_account}


def main(argv: list[str]) -> int:
    """Change one account."""
    cli = parser("account", "Disable, enable or unlock an account, or set its password.")
    cli.add_argument("username")
    action = cli.add_mutually_exclusive_group(required=True)
    for name in ACTIONS:
        action.add_argument(f"--{name}", action="store_const", const=name, dest="action")
    action.add_argument("--set-password", action="store_const", const="set-password", dest="action")
    add_password_options(cli)
    args = cli.parse_args(argv)

    def body() -> int:
        with open_store(args.db) as store:
            account = get_account(store, args.username)
            if args.action == "set-password":
                password, generated = new_password(args, account.username)
                set_password(store, account.username, password, actor=args.actor)
                if generated:
                    print(f"password (shown once): {password}")
            else:
                ACTIONS[args.action](store, account.username, args.actor)
        print(f"account {account.username!r}: {args.action} done")
        return 0

    return run(body)
