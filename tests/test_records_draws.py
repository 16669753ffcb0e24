"""System draws: a seed nobody chose, committed to the audit log before the result; re-draws visible."""

from __future__ import annotations

import json

import pytest

from layers.datasets import load_roster, load_targets
from layers.draw import draw, verify
from records import audit
from records.db import RecordsError
from records.draws import COMMIT_ACTION, EXTERNAL_ACTION, RESULT_ACTION, file_external, system_draw
from records.store import open_store
from views.coverage_results import latest_draw

pytestmark = pytest.mark.records

URUMQI = "650100"


@pytest.fixture
def store(tmp_path, new_db):
    with open_store(new_db("draws")) as opened:
        yield opened


@pytest.fixture(scope="module")
def registry():
    return load_targets(), load_roster()


def test_the_seed_is_committed_before_the_result_and_the_record_re_runs(store, registry):
    targets, roster = registry
    record = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,), actor="chief")
    log = audit.entries(store.conn)
    commit = log.set_index("audit_id").loc[record["commit_id"]]
    result = log.set_index("audit_id").loc[record["audit_id"]]
    assert (commit["action"], result["action"]) == (COMMIT_ACTION, RESULT_ACTION)
    assert record["commit_id"] < record["audit_id"]
    assert commit["details"]["seed"] == record["seed"] == result["details"]["seed"]
    assert commit["details"]["inputs_hash"] == record["inputs_hash"]
    assert commit["object"] == result["object"] == "draw:2026Q4:prefecture:650100"
    assert result["details"]["result"] == record["result"] and record["attempt"] == 1
    # Anyone can re-run the logged record from its recorded inputs.
    assert verify(result["details"], targets, roster).ok
    assert {r["prefecture_code"] for r in record["result"]} == {URUMQI}


def test_seeds_come_from_the_system_not_the_user(store, registry):
    targets, roster = registry
    first = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,))
    second = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,), reason="roster changed")
    assert first["seed"] != second["seed"] and first["seed"] >= 0


def test_a_re_draw_needs_a_reason_and_is_logged_as_one(store, registry):
    targets, roster = registry
    first = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,), actor="chief")
    with pytest.raises(RecordsError, match="already drawn .*audit entry .*re-draw needs a reason"):
        system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,), actor="chief")
    assert len(audit.entries(store.conn, action=COMMIT_ACTION)) == 1
    again = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,), reason="  wrong level  ")
    commit = audit.entries(store.conn, action=COMMIT_ACTION).iloc[-1]["details"]
    assert again["attempt"] == commit["attempt"] == 2
    assert commit["redraw_of"] == [first["audit_id"]] and commit["reason"] == "wrong level"
    # Another scope (county level, or another period) is a first draw of its own.
    assert (
        system_draw(store.conn, targets, roster, "2026Q4", level="county", regions=(URUMQI,))["attempt"] == 1
    )
    assert system_draw(store.conn, targets, roster, "2027Q1", regions=(URUMQI,))["attempt"] == 1


def test_bad_parameters_log_nothing(store, registry):
    targets, roster = registry
    with pytest.raises(RecordsError, match="2026Q9"):
        system_draw(store.conn, targets, roster, "2026Q9")
    with pytest.raises(RecordsError, match="ratio"):
        system_draw(store.conn, targets, roster, "2026Q4", ratios={"key": 2.0})
    assert audit.entries(store.conn).empty


def test_an_external_record_is_kept_as_evidence_only_and_refused_when_edited(store, registry):
    targets, roster = registry
    record = json.loads(json.dumps(draw(targets, roster, "2026Q4", seed=7, regions=(URUMQI,))))
    entry = file_external(store.conn, record, targets, roster, actor="chief")
    filed = audit.entries(store.conn).set_index("audit_id").loc[entry]
    assert filed["action"] == EXTERNAL_ACTION and filed["details"]["counted"] is False
    # Coverage counts only system draws.
    assert latest_draw(audit.entries(store.conn)) is None
    edited = json.loads(json.dumps(record))
    edited["result"][0]["officers"][0]["name"] = "friendly officer"
    with pytest.raises(RecordsError, match="edited draw record: result"):
        file_external(store.conn, edited, targets, roster)
    swapped = json.loads(json.dumps(record))
    swapped["result"] = swapped["result"][1:]
    with pytest.raises(RecordsError, match="edited draw record"):
        file_external(store.conn, swapped, targets, roster)
    with pytest.raises(RecordsError, match="not a random draw record"):
        file_external(store.conn, [1, 2], targets, roster)
    assert len(audit.entries(store.conn)) == 1
    made = system_draw(store.conn, targets, roster, "2026Q4", regions=(URUMQI,))
    assert latest_draw(audit.entries(store.conn))["seed"] == made["seed"]
