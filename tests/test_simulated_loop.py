"""The simulated history closes the loop too: violations open cases, complaints arrive, the weekly
plans serve the open tasks of their region, visits close them, all labelled simulated."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from layers.datasets import load_targets
from records import complaints
from records.db import connect
from records.integrity import verify
from simulation.history import HistoryOptions, Noise, receive_complaints, simulate_history

pytestmark = pytest.mark.records

SCENARIO = """
name: tiny loop
start: 2026-11-23
days: 3
work_hours: "10:00-19:30"
night_hours: "22:00-02:00"
teams:
  - {id: D1, base: Shihezi, members: 2, skills: [sampling]}
sites:
  regions: [石河子市]
  layers: [pollution_source]
  max_sites: 8
travel: great_circle
lodging: auto
return_to_base: true
solver: {seconds: 1, seed: 1}
"""


@pytest.mark.slow
def test_simulated_weeks_open_cases_receive_complaints_and_serve_tasks(tmp_path, new_db):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    db = new_db("history")
    weeks = simulate_history(
        db, HistoryOptions(weeks=4, effort=3, road_geometry=False), [scenario], workers=1
    )
    assert len(weeks) == 4
    conn = connect(db)
    try:
        violations = conn.execute("SELECT count(*) FROM visits WHERE outcome = 'violation'").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == violations > 0
        for table in ("cases", "complaints", "tasks"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE simulated = 0").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM complaints").fetchone()[0] > 0
        done = conn.execute(
            "SELECT t.kind, t.since, v.started_at, v.simulated FROM tasks t JOIN visits v ON v.visit_id = t.visit_id "
            "WHERE t.state = 'done'"
        ).fetchall()
        assert done and all(row["started_at"] >= row["since"] and row["simulated"] for row in done)
        # The plans carried the tasks of their week and named them on the stops that served them.
        served = [
            task
            for (plan_json,) in conn.execute("SELECT plan_json FROM plans")
            for team in json.loads(plan_json)["teams"]
            for stop in team["stops"]
            for task in stop.get("tasks", ())
        ]
        assert served
        closed = conn.execute("SELECT count(*) FROM complaints WHERE state = 'closed'").fetchone()[0]
        served_complaints = conn.execute(
            "SELECT count(*) FROM tasks WHERE complaint_id IS NOT NULL AND state = 'done'"
        ).fetchone()[0]
        assert closed == served_complaints
        assert verify(conn).problems == []
    finally:
        conn.close()


def test_complaints_are_received_once_per_week(tmp_path, new_db):
    targets = load_targets()
    sites = targets[targets["prefecture_code"] == "659001"]["site_id"].tolist()
    conn = connect(new_db("r"))
    week, noise = dt.date(2026, 11, 23), Noise(complaints_per_week=3)
    try:
        first = receive_complaints(conn, sites, week, targets, np.random.default_rng(1), noise)
        again = receive_complaints(conn, sites, week, targets, np.random.default_rng(2), noise)
        assert first > 0 and again == 0
        frame = complaints.complaints_frame(conn)
        assert len(frame) == first and frame["simulated"].all() and frame["site_id"].isin(sites).all()
    finally:
        conn.close()
