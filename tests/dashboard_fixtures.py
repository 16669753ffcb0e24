"""Records databases for dashboard tests: the demo snapshot plus one account per role."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from records.accounts import Account, create_account, generate_password
from records.store import open_store
from simulation.snapshot import install_demo_snapshot

#: The dashboard's clock in browser tests: inside the last simulated week of the demo snapshot, so
#: which days are released to officers (07:00 on the day) is fixed.
DEMO_NOW = "2026-11-18T12:00:00+08:00"
#: role -> (username, detachment, team, permissions) of the accounts made for the browser tests; the
#: officer and the chief belong to the Urumqi detachment of the shipped Urumqi-Changji-Shihezi plan.
ROLE_ACCOUNTS: dict[str, tuple[str, str | None, str | None, tuple[str, ...]]] = {
    "officer": ("test-officer-t1", "650100", "T1", ()),
    "chief": ("test-chief", "650100", None, ()),
    "manager": ("test-manager", None, None, ()),
    "admin": ("test-admin", None, None, ()),
}


def make_demo_db(path: Path) -> dict[str, tuple[str, str]]:
    """Install the demo snapshot at ``path`` and add one account per role (:data:`ROLE_ACCOUNTS`)
    with random passwords; return role -> (username, password)."""
    assert install_demo_snapshot(path=path), f"{path} exists already"
    accounts = {}
    with open_store(path) as store:
        for role, (username, detachment, team, permissions) in ROLE_ACCOUNTS.items():
            password = generate_password()
            create_account(
                store, username, password, role, detachment=detachment, team_id=team, permissions=permissions
            )
            accounts[role] = (username, password)
    return accounts


def account_for(role: str, **fields: object) -> Account:
    """An account of ``role`` that exists only in memory: page tests put it in
    ``st.session_state["account"]`` (no login, no database row)."""
    values = {
        "account_id": 0,
        "username": f"memory-{role}",
        "display_name": "",
        "role": role,
        "detachment": None,
        "team_id": None,
        "permissions": frozenset(),
        "disabled": False,
        "failed_attempts": 0,
        "locked_until": None,
        "created_at": datetime.now(UTC),
        "last_login_at": None,
    }
    return Account(**(values | fields))
