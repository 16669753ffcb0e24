"""``python -m records`` subcommands, run in-process: exit codes, messages, effects."""

from __future__ import annotations

import json

import pytest
from export_reading import export_frame
from records_fixtures import small_plan

from layers.__main__ import COMMANDS as LAYERS_COMMANDS
from layers.cli import dispatch
from records.__main__ import COMMANDS
from records.store import open_store

pytestmark = pytest.mark.records


def cli(command: str, *args: str) -> int:
    import importlib

    return importlib.import_module(COMMANDS[command][0]).main(list(args))


def layers_cli(argv: list[str]) -> int:
    return dispatch("layers", LAYERS_COMMANDS, argv)


@pytest.fixture
def db(tmp_path, monkeypatch, new_db):
    path = new_db("cli")
    monkeypatch.setenv("XUNHU_DB", str(path))
    monkeypatch.setenv("XUNHU_ACTOR", "tester")
    return path


def test_plan_lifecycle_and_assignments(db, tmp_path, capsys):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(small_plan()))
    assert cli("init") == 0
    assert cli("save-plan", str(plan_file)) == 0
    assert "plan 1 (week-48 v1): saved" in capsys.readouterr().out
    assert cli("save-plan", str(plan_file)) == 0
    assert "unchanged, already stored" in capsys.readouterr().out
    assert cli("assignments", "--team", "T1", "--day", "2026-11-24") == 0
    assert "no assignments" in capsys.readouterr().out
    assert cli("approve-plan", "1") == 0
    assert cli("assignments", "--team", "T1", "--day", "2026-11-24") == 0
    out = capsys.readouterr().out
    assert "PS0001" in out and "WS0001" in out
    assert cli("complete-plan", "1") == 0
    assert cli("approve-plan", "1") == 1
    assert "plan 1 is done" in capsys.readouterr().err
    with open_store(db) as store:
        assert store.audit_log()["actor"].unique().tolist() == ["tester"]


def test_bad_input_gives_one_line_errors(db, tmp_path, capsys, new_db):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert cli("save-plan", str(broken)) == 1
    assert cli("assignments", "--team", "T1", "--day", "24/11/2026") == 1
    assert (
        cli(
            "record-visit",
            "--site",
            "PS0001",
            "--team",
            "T1",
            "--start",
            "soon",
            "--end",
            "later",
            "--outcome",
            "compliant",
            "--lon",
            "87.6",
            "--lat",
            "43.8",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "broken.json: not JSON (line 1" in err
    assert "--day: '24/11/2026' is not a date" in err
    assert "--start: 'soon' is not an ISO-8601 time" in err
    assert "Traceback" not in err


@pytest.mark.sqlite_only
def test_record_list_export_backup_restore(db, tmp_path, capsys, new_db):
    base = ["--team", "T1", "--lon", "87.6", "--lat", "43.8", "--officers", "Li;Wang"]
    assert (
        cli(
            "record-visit",
            "--site",
            "PS0001",
            "--start",
            "2026-11-24T09:00",
            "--end",
            "2026-11-24T10:00",
            "--outcome",
            "violation",
            "--finding",
            "illegal_discharge",
            "--notes",
            "pipe",
            *base,
        )
        == 0
    )
    assert (
        cli(
            "record-visit",
            "--site",
            "PS0002",
            "--start",
            "2026-11-25T09:00",
            "--end",
            "2026-11-25T09:10",
            "--outcome",
            "not_inspected",
            "--reason",
            "gate locked",
            "--source",
            "ad_hoc",
            *base,
        )
        == 0
    )
    assert cli("visits", "list", "--since", "2026-11-25") == 0
    listed = capsys.readouterr().out
    assert "PS0002" in listed and "PS0001" not in listed
    out = tmp_path / "v.csv"
    assert cli("visits", "export", "--format", "csv", "--out", str(out)) == 0
    table = export_frame(out)[1]
    assert table["started_at"].tolist() == ["2026-11-24T01:00:00Z", "2026-11-25T01:00:00Z"]  # +08:00 -> UTC
    assert table["officers"].iloc[0] == "Li;Wang"
    backup = tmp_path / "b.sqlite"
    assert cli("backup", "--out", str(backup)) == 0
    assert (
        cli(
            "record-visit",
            "--site",
            "PS0003",
            "--start",
            "2026-11-26T09:00",
            "--end",
            "2026-11-26T10:00",
            "--outcome",
            "compliant",
            *base,
        )
        == 0
    )
    assert cli("restore", "--from", str(backup)) == 0
    assert "previous database was kept" in capsys.readouterr().out
    with open_store(db) as store:
        assert store.visits()["site_id"].tolist() == ["PS0001", "PS0002"]


def test_draw_commits_a_system_seed_and_a_re_draw_needs_a_reason(db, tmp_path, capsys):
    out = tmp_path / "draw.json"
    assert cli("draw", "--period", "2026Q4", "--regions", "乌鲁木齐市", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text(encoding="utf-8"))
    assert f"draw of {len(record['result'])} target(s) for 2026Q4: seed committed as audit entry" in printed
    with open_store(db) as store:
        (commit,) = store.audit_log(action="draw.commit").itertuples()
        (result,) = store.audit_log(action="draw").itertuples()
    assert commit.actor == "tester" and commit.details["seed"] == record["seed"]
    assert (
        result.object.startswith("draw:2026Q4:prefecture:650100")
        and result.details["result"] == record["result"]
    )
    assert cli("draw", "--period", "2026Q4", "--regions", "乌鲁木齐市") == 1
    assert "re-draw needs a reason" in capsys.readouterr().err
    assert cli("draw", "--period", "2026Q4", "--regions", "乌鲁木齐市", "--reason", "roster was wrong") == 0
    assert "re-draw (attempt 2)" in capsys.readouterr().out
    assert cli("draw", "--period", "2026Q4", "--regions", "Atlantis") == 1
    assert "unknown prefecture or county 'Atlantis'" in capsys.readouterr().err


def test_log_draw_keeps_a_verified_cli_draw_as_evidence_and_refuses_an_edited_one(db, tmp_path, capsys):
    draw_file = tmp_path / "draw.json"
    assert layers_cli(["draw", "--period", "2026Q4", "--seed", "3", "--out", str(draw_file)]) == 0
    record = json.loads(draw_file.read_text(encoding="utf-8"))
    assert cli("log-draw", str(draw_file)) == 0
    assert f"draw 2026Q4 ({len(record['result'])} targets) re-computed" in capsys.readouterr().out
    with open_store(db) as store:
        (entry,) = store.audit_log(action="draw.external").itertuples()
        assert store.audit_log(action="draw").empty
    assert entry.actor == "tester" and entry.object == "draw:2026Q4:prefecture:all"
    assert entry.details["result"] == record["result"]
    # An edited record is refused with what differs; anything that is not a draw record too.
    record["result"][0]["officers"] = record["result"][1]["officers"]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(record), encoding="utf-8")
    assert cli("log-draw", str(edited)) == 1
    assert f"{edited}: edited draw record: result" in capsys.readouterr().err
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(small_plan()))
    assert cli("log-draw", str(plan_file)) == 1
    assert "not a random draw record" in capsys.readouterr().err
    with open_store(db) as store:
        assert len(store.audit_log(action="draw.external")) == 1


@pytest.mark.sqlite_only
def test_restore_names_a_missing_backup_file(db, tmp_path, capsys):
    assert cli("restore", "--from", str(tmp_path / "missing.sqlite")) == 1
    err = capsys.readouterr().err
    assert "no such backup file" in err and "Traceback" not in err
