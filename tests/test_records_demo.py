"""Simulated execution of a plan: noise, tracks along the legs, everything flagged simulated."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from records_fixtures import SITES, small_plan

from records.store import open_store
from simulation.history import Noise, execute_plan, store_execution, straight_legs

pytestmark = pytest.mark.records

REGISTRY = SITES.assign(risk_level=[5, 2], service_minutes=[60, 30])


def test_faithful_execution_follows_the_plan():
    calm = Noise(skip_site=0, not_inspectable=0, ad_hoc_per_day=0, glitch_per_fix=0)
    run = execute_plan(small_plan(), seed=1, noise=calm, plan_id=7)
    assert [v.site_id for v in run.visits] == ["PS0001", "WS0001"]
    assert all(v.simulated and v.source == "planned" and v.plan_id == 7 for v in run.visits)
    assert all(v.outcome in ("compliant", "violation") for v in run.visits)
    [(team, day, track)] = run.tracks
    assert (team, str(day)) == ("T1", "2026-11-24")
    assert np.all(np.diff(track.time_s) > 0)
    # Service starts no earlier than planned and lasts 70-140 % of the planned 60 min.
    first = run.visits[0]
    assert first.started_at.isoformat() >= "2026-11-24T09:00:00+08:00"
    assert 42 <= (first.ended_at - first.started_at).total_seconds() / 60 <= 84
    # While on site the fixes stay within ~50 m of it (8 m scatter).
    on_site = (track.time_s >= first.started_at.timestamp()) & (track.time_s < first.ended_at.timestamp())
    assert on_site.sum() >= 40
    metres = np.hypot((track.lon[on_site] - 87.62) * 80_000, (track.lat[on_site] - 43.82) * 111_000)
    assert metres.max() < 50


def test_track_follows_the_leg_geometry():
    detour = [(87.50, 43.80), (87.50, 43.90), (87.62, 43.82)]  # a dog-leg north first

    def legs(start, end):
        return detour if start == (87.50, 43.80) and end == (87.62, 43.82) else straight_legs(start, end)

    calm = Noise(skip_site=0, not_inspectable=0, ad_hoc_per_day=0, glitch_per_fix=0)
    [(_, _, track)] = execute_plan(small_plan(), seed=2, noise=calm, legs=legs).tracks
    assert track.lat.max() > 43.88  # went up the dog-leg
    straight = execute_plan(small_plan(), seed=2, noise=calm).tracks[0][2]
    assert straight.lat.max() < 43.84


def test_noise_skips_adds_and_flags():
    wild = Noise(skip_site=0.5, not_inspectable=0.5, ad_hoc_per_day=1.0, ad_hoc_within_km=20)
    runs = [execute_plan(small_plan(), seed=seed, noise=wild, sites=REGISTRY) for seed in range(30)]
    skipped = sum(len(r.skipped) for r in runs)
    assert 10 < skipped < 50  # about half of 60 planned stops
    for r in runs:
        planned = [v for v in r.visits if v.source == "planned"]
        assert len(planned) + len(r.skipped) == 2
        assert all(v.reason for v in r.visits if v.outcome == "not_inspected")
    outcomes = {v.outcome for r in runs for v in r.visits}
    assert "not_inspected" in outcomes
    # Both sites are planned, so an ad-hoc visit can only be to an unplanned one: none exists here.
    assert all(v.source == "planned" for r in runs for v in r.visits)
    extra = REGISTRY.iloc[[0]].assign(
        site_id="PS0002", geometry=REGISTRY.geometry.iloc[[0]].translate(0.01, 0.01)
    )
    with_extra = pd.concat([REGISTRY, extra], ignore_index=True)
    ad_hoc = execute_plan(
        small_plan(), seed=4, noise=dataclasses.replace(wild, skip_site=0), sites=with_extra
    )
    assert [v.site_id for v in ad_hoc.visits if v.source == "ad_hoc"] == ["PS0002"]


def test_same_seed_same_history():
    a = execute_plan(small_plan(), seed=9, sites=REGISTRY)
    b = execute_plan(small_plan(), seed=9, sites=REGISTRY)
    assert a.visits == b.visits
    assert [t[2].sha256 for t in a.tracks] == [t[2].sha256 for t in b.tracks]


def test_stored_execution_is_simulated_complete_and_not_repeated(tmp_path, new_db):
    with open_store(new_db("demo")) as store:
        counts = store_execution(store.conn, small_plan(), "demo week", seed=3, sites=REGISTRY)
        assert counts["visits"] == len(store.visits()) >= 1
        assert store.visits()["simulated"].all()
        assert store.tracks()["simulated"].all() and len(store.tracks()) == counts["tracks"] == 1
        assert counts["inferred"] >= 1
        assert store.visits(include_inferred=True)["simulated"].all()
        [plan] = store.plans().itertuples()
        assert (plan.status, plan.simulated, plan.approved_by) == ("done", 1, "simulation")
        assert store_execution(store.conn, small_plan(), "demo week", seed=3) is None
        assert len(store.visits()) == counts["visits"]
        assert set(store.audit_log()["actor"]) == {"simulation"}


def test_glitches_are_dropped_before_storing(tmp_path, new_db):
    with open_store(new_db("g")) as store:
        counts = store_execution(
            store.conn, small_plan(), "glitchy", seed=5, noise=Noise(glitch_per_fix=0.05)
        )
        assert counts["dropped"] > 0
        assert store.tracks()["n_dropped"].sum() == counts["dropped"]
        assert store.track_points()["lon"].between(87.4, 87.8).all()


SMALL_SCENARIO = """
name: tiny demo
start: 2026-11-23
days: 2
work_hours: "10:00-19:30"
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
def test_demo_history_plans_executes_and_is_idempotent(tmp_path, new_db):
    """The real planner's plan JSON goes through save, approve, execute and done."""
    from simulation.history import HistoryOptions, ensure_demo_history, simulate_history

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(SMALL_SCENARIO, encoding="utf-8")
    db = new_db("history")
    options = HistoryOptions(weeks=2, effort=3, road_geometry=False)
    weeks = simulate_history(db, options, [scenario], workers=1)
    assert [w["plan_key"] for w in weeks] == [
        "tiny demo · simulated 2026-11-09",
        "tiny demo · simulated 2026-11-16",
    ]
    with open_store(db) as store:
        plans = store.plans()
        assert plans["status"].tolist() == ["done", "done"] and plans["simulated"].all()
        visits = store.visits()
        assert len(visits) == sum(w["visits"] for w in weeks) > 0
        assert visits["simulated"].all() and set(visits["team_id"]) == {"D1"}
        assert visits["started_at"].min() >= pd.Timestamp("2026-11-09", tz="Asia/Shanghai")
        assert store.plan(int(plans["plan_id"].iloc[0]))["plan"]["scenario"]["simulated"] is True
    assert simulate_history(db, options, [scenario], workers=1) == []  # already stored: nothing added
    assert ensure_demo_history(db, options) is False  # the database holds plans already


def test_simulation_command_line_dispatches_and_rejects_bad_input(tmp_path, capsys):
    from layers.cli import dispatch
    from simulation.__main__ import COMMANDS

    assert dispatch("simulation", COMMANDS, []) == 2
    assert "registry" in capsys.readouterr().err
    db = tmp_path / "history.sqlite"
    assert dispatch("simulation", COMMANDS, ["history", "--weeks", "0", "--db", str(db)]) == 1
    assert "--weeks: must be at least 1" in capsys.readouterr().err
    assert not db.exists()
    with pytest.raises(SystemExit):
        dispatch("simulation", COMMANDS, ["registry", "--help"])
    assert "python -m simulation registry" in capsys.readouterr().out
