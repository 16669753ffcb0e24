"""The shipped demo snapshot and its first-start installation (simulation.snapshot.install_demo_snapshot)."""

from __future__ import annotations

from records.db import SCHEMA_VERSION
from records.store import open_store
from simulation.history import SIMULATION_ACTOR
from simulation.snapshot import DEMO_SNAPSHOT, install_demo_snapshot


def test_snapshot_is_small_and_holds_simulated_history_only(tmp_path):
    assert DEMO_SNAPSHOT.stat().st_size < 10 * 1024 * 1024
    path = tmp_path / "var" / "records.sqlite"
    assert install_demo_snapshot(path=path)
    with open_store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        plans, visits = store.plans(), store.visits()
        assert len(plans) >= 30 and len(visits) > 500
        assert plans["simulated"].astype(bool).all() and visits["simulated"].all()
        assert store.conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
        log = store.audit_log()
        # Only the simulation wrote it (a snapshot made before the audit hash chain also has the
        # migration's one chain-start entry).
        assert set(log[log["action"] != "records.chain_start"]["actor"]) == {SIMULATION_ACTOR}
        assert log[log["action"] == "records.chain_start"]["actor"].tolist() in ([], ["system"])
        # It closes the loop too: cases, complaints and their tasks, all simulated.
        for table in ("cases", "complaints", "tasks"):
            counts = store.conn.execute(f"SELECT count(*), sum(simulated) FROM {table}").fetchone()
            assert counts[0] > 0 and counts[0] == counts[1], table
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == [], "no leftover part file"


def test_an_existing_database_is_never_replaced(tmp_path):
    path = tmp_path / "records.sqlite"
    with open_store(path) as store:
        store.log("test", "db", {}, "tester")
    before = path.read_bytes()
    assert not install_demo_snapshot(path=path)
    assert path.read_bytes() == before
