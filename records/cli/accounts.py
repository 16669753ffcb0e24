"""``python -m records accounts``: list the accounts (never their password hashes)."""

from __future__ import annotations

from records.accounts import list_accounts
from records.cli import parser, run
from records.store import open_store


def main(argv: list[str]) -> int:
    """Print the accounts."""
    args = parser("accounts", "List accounts, roles, detachments, teams and lock state.").parse_args(argv)

    def body() -> int:
        with open_store(args.db) as store:
            frame = list_accounts(store).fillna("")
        print(
            "no accounts; create the first with create-admin" if frame.empty else frame.to_string(index=False)
        )
        return 0

    return run(body)
