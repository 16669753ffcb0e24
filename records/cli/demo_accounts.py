"""``python -m records demo-accounts [--out var/demo-accounts.txt]``: one account per role for demos.

The passwords are random, printed once (and written to ``--out`` with mode 0600 if asked); nothing
about them is in the code. The officers and the chief match the teams of the shipped scenario
(Urumqi-Changji-Shihezi: T1 based in Urumqi, T2 in Changji).
"""

from __future__ import annotations

import os
from pathlib import Path

from layers.datasets import REPO_ROOT
from records.accounts import Handle, create_account, find_account, generate_password, set_password
from records.cli import parser, run
from records.db import RecordsError
from records.store import open_store

#: username -> role, detachment, team, permissions, display name.
DEMO_ACCOUNTS: dict[str, tuple[str, str | None, str | None, tuple[str, ...], str]] = {
    "demo-admin": ("admin", None, None, (), "Demo admin"),
    "demo-chief": ("chief", "650100", None, (), "Demo chief, Urumqi detachment"),
    "demo-officer-t1": ("officer", "650100", "T1", (), "Demo officer, Urumqi team T1"),
    "demo-officer-t2": ("officer", "652300", "T2", (), "Demo officer, Changji team T2"),
    "demo-manager": ("manager", None, None, (), "Demo manager (statistics only)"),
    "demo-analyst": ("manager", None, None, ("drilldown",), "Demo manager with drill-down"),
}


def create_demo_accounts(handle: Handle, reset: bool = False, actor: str | None = None) -> dict[str, str]:
    """Create the demo accounts with fresh random passwords; return username -> password.

    An existing demo account is refused unless ``reset``, which gives it a new password.
    """
    existing = [name for name in DEMO_ACCOUNTS if find_account(handle, name) is not None]
    if existing and not reset:
        raise RecordsError(
            f"demo accounts exist already ({', '.join(existing)}); use --reset for new passwords"
        )
    passwords = {}
    for name, (role, detachment, team, permissions, display) in DEMO_ACCOUNTS.items():
        passwords[name] = generate_password()
        if name in existing:
            set_password(handle, name, passwords[name], actor=actor)
        else:
            create_account(
                handle,
                name,
                passwords[name],
                role,
                display_name=display,
                detachment=detachment,
                team_id=team,
                permissions=permissions,
                actor=actor,
            )
    return passwords


def private_path(path: Path) -> Path:
    """``path`` resolved; refused inside the repository unless under the git-ignored var/."""
    resolved = path.resolve()
    var = (REPO_ROOT / "var").resolve()
    if resolved.is_relative_to(REPO_ROOT.resolve()) and not resolved.is_relative_to(var):
        raise RecordsError(f"--out {path}: inside the repository, secrets go under var/ only (not in git)")
    return resolved


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (see :func:`private_path` for where)."""
    resolved = private_path(path)
    resolved.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(resolved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # the file may have existed with a wider mode
        handle.write(text)


def main(argv: list[str]) -> int:
    """Create the demo accounts and print their passwords once."""
    cli = parser("demo-accounts", "Create one demo account per role with random passwords (printed once).")
    cli.add_argument(
        "--out",
        type=Path,
        help="also write the passwords to this file (mode 0600), e.g. var/demo-accounts.txt",
    )
    cli.add_argument("--reset", action="store_true", help="give existing demo accounts new passwords")
    args = cli.parse_args(argv)

    def body() -> int:
        if args.out:
            private_path(args.out)  # refuse a bad destination before any account is created
        with open_store(args.db) as store:
            passwords = create_demo_accounts(store, args.reset, args.actor)
        lines = [f"{name}\t{DEMO_ACCOUNTS[name][0]}\t{password}" for name, password in passwords.items()]
        text = "username\trole\tpassword\n" + "\n".join(lines) + "\n"
        print(text, end="")
        if args.out:
            write_private(args.out, text)
            print(f"written to {args.out} (mode 0600)")
        return 0

    return run(body)
