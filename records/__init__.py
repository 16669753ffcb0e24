"""Records that are never lost: plans, assignments, visits, GPS tracks and the audit log (SQLite).

Start with :func:`records.store.open_store`; the command line is ``python -m records``.
"""
