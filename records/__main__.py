"""Command line: ``python -m records init | import-gpx | visits | record-visit | ...``."""

import sys

from layers.cli import dispatch

COMMANDS = {
    "init": ("records.cli.init", "create or migrate the database; print its path and version"),
    "import-gpx": ("records.cli.import_gpx", "import GPX tracks (one transaction per file)"),
    "infer-visits": ("records.cli.infer_visits", "infer visits from stored tracks (dwell near sites)"),
    "visits": ("records.cli.visits", "list visits, or export them as CSV/GeoJSON"),
    "record-visit": ("records.cli.record_visit", "record one visit (--finding opens a case)"),
    "case": ("records.cli.case", "list, show or update cases (state, deadline, notes, evidence)"),
    "complaint": ("records.cli.complaint", "add, list or close complaints (12369, letter, online)"),
    "tasks": ("records.cli.tasks", "open tasks: case follow-ups and complaint checks, by deadline"),
    "save-plan": ("records.cli.save_plan", "save a plan JSON as a new draft version"),
    "approve-plan": ("records.cli.approve_plan", "approve a draft plan"),
    "complete-plan": ("records.cli.complete_plan", "mark an approved plan done"),
    "assignments": ("records.cli.assignments", "a team's site stops for a day"),
    "draw": ("records.cli.draw", "make a random draw that counts (seed committed to the audit log)"),
    "log-draw": ("records.cli.log_draw", "keep a draw made elsewhere as evidence (refused if edited)"),
    "backup": ("records.cli.backup", "consistent online backup to a file"),
    "restore": ("records.cli.restore", "restore from a verified backup (keeps a safety copy; --force)"),
    "verify": ("records.cli.verify", "check the audit chain, triggers and sealed records (exit 1 if not)"),
    "create-admin": ("records.cli.create_admin", "create the first admin account (prompts for a password)"),
    "add-account": ("records.cli.add_account", "add an account with a role (chief, officer, manager, admin)"),
    "accounts": ("records.cli.accounts", "list accounts (no password hashes)"),
    "account": ("records.cli.account", "disable, enable or unlock an account, or set its password"),
    "demo-accounts": (
        "records.cli.demo_accounts",
        "one demo account per role, random passwords printed once",
    ),
}

if __name__ == "__main__":
    sys.exit(dispatch("records", COMMANDS))
