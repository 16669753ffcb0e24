"""CSV exports neutralise spreadsheet formulas in text cells (issue 14 item 5), numbers stay numbers."""

from __future__ import annotations

import importlib
import io

import openpyxl
import pandas as pd
import pytest
from export_reading import export_frame, export_rows

from coverage.inputs import write_table
from layers.spreadsheet import safe_cell, safe_frame, workbook_bytes
from planning.export import write_team_csv
from records.__main__ import COMMANDS
from records.export import export_visits

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("乌鲁木齐水源地", "乌鲁木齐水源地"),
        ("pipe - leaking", "pipe - leaking"),
        ("-12.5", "-12.5"),
        ("", ""),
        (-87.6, -87.6),
        (-3, -3),
        (None, None),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_safe_frame_touches_only_text_columns():
    frame = pd.DataFrame({"name": ["+cmd", "站点"], "lon": [-1.5, 2.0], "n": [-1, 2]})
    out = safe_frame(frame)
    assert out["name"].tolist() == ["'+cmd", "站点"]
    assert out["lon"].tolist() == [-1.5, 2.0] and out["n"].tolist() == [-1, 2]
    assert frame["name"].iloc[0] == "+cmd"  # the input is not changed


def _visits() -> pd.DataFrame:
    times = pd.to_datetime(["2026-11-24T01:00:00Z", "2026-11-25T01:00:00Z"], utc=True)
    return pd.DataFrame(
        {
            "visit_id": [1, -2],
            "site_id": ["+cmd", "PS0002"],
            "team_id": ["T1", "T1"],
            "officers": ["李;王", "@Li"],
            "started_at": times,
            "ended_at": times,
            "outcome": ["violation", "not_inspected"],
            "reason": ["", "-gate locked"],
            "notes": [FORMULA, "乌鲁木齐 东区"],
            "lon": [-87.625, 87.6],
            "lat": [-43.5, 43.8],
            "source": ["planned", "inferred"],
            "simulated": [False, True],
        }
    )


def test_visit_csv_export_neutralises_formulas(tmp_path):
    out = export_visits(_visits(), tmp_path / "v.csv", "csv")
    notes, rows = export_rows(out)
    assert len(rows) == 2
    # The attribution, and the SIMULATED note since one of the visits is simulated.
    assert notes[0].startswith("Data sources and attribution: Road network © OpenStreetMap")
    assert notes[1].startswith("SIMULATED: this export contains simulated demo records")
    assert rows[0]["notes"] == "'" + FORMULA
    assert rows[0]["site_id"] == "'+cmd"
    assert rows[1]["officers"] == "'@Li" and rows[1]["reason"] == "'-gate locked"
    assert rows[0]["officers"] == "李;王" and rows[1]["notes"] == "乌鲁木齐 东区"
    # Numbers stay numbers, negative ones included.
    assert rows[0]["lon"] == "-87.625" and rows[0]["lat"] == "-43.5" and rows[1]["visit_id"] == "-2"
    table = export_frame(out)[1]
    assert table["lon"].dtype == float and table["lon"].tolist() == [-87.625, 87.6]
    assert table["visit_id"].tolist() == [1, -2]


def test_visit_export_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("XUNHU_DB", str(tmp_path / "cli.sqlite"))
    monkeypatch.setenv("XUNHU_ACTOR", "tester")

    def cli(command: str, *args: str) -> int:
        return importlib.import_module(COMMANDS[command][0]).main(list(args))

    assert (
        cli(
            "record-visit",
            "--site",
            "PS0001",
            "--team",
            "T1",
            "--lon",
            "87.6",
            "--lat",
            "43.8",
            "--start",
            "2026-11-24T09:00",
            "--end",
            "2026-11-24T10:00",
            "--outcome",
            "violation",
            "--finding",
            "other",
            "--notes",
            FORMULA,
        )  # fmt: skip
        == 0
    )
    out = tmp_path / "v.csv"
    assert cli("visits", "export", "--format", "csv", "--out", str(out)) == 0
    notes, table = export_frame(out)
    assert table["notes"].tolist() == ["'" + FORMULA]
    assert len(notes) == 1  # a real visit: attribution, no SIMULATED note
    assert table["lon"].tolist() == [87.6]


def test_team_csv_neutralises_formulas(tmp_path):
    def stop(seq, ident, name, lon, lat):
        return {
            "seq": seq, "type": "site", "id": ident, "name": name, "lon": lon, "lat": lat,
            "arrive": "2026-11-24T09:00:00+08:00", "depart": "2026-11-24T09:30:00+08:00",
            "service_minutes": 30, "leg_km": -0.0 if seq == 0 else 12.5, "leg_minutes": 20,
            "night": "", "night_check": False, "mandatory": True,
        }  # fmt: skip

    team = {
        "team_id": "T1",
        "stops": [stop(0, "PS0001", "+cmd", -87.5, -43.25), stop(1, "PS0002", "乌鲁木齐水源地", 87.6, 43.8)],
    }
    path = tmp_path / "T1.csv"
    write_team_csv(team, path, ["=attribution", "second\nnote"])
    notes, rows = export_rows(path)
    assert notes == ["=attribution", "second note"]
    assert [r["name"] for r in rows] == ["'+cmd", "乌鲁木齐水源地"]
    assert rows[0]["lon"] == "-87.5" and rows[0]["lat"] == "-43.25" and rows[0]["leg_km"] == "-0.0"
    assert rows[1]["leg_km"] == "12.5" and rows[0]["arrive"] == "2026-11-24T09:00:00+08:00"
    assert export_frame(path)[1]["lon"].tolist() == [-87.5, 87.6]


def test_excel_export_keeps_formulas_as_text_that_reads_as_typed():
    frame = pd.DataFrame(
        {
            "name": [FORMULA, "@SUM(A1)", "-2+3", "乌鲁木齐水源地"],
            "km": [-1.5, 2.0, 3.0, 4.0],
            "n": [-1, 2, 3, 4],
        }
    )
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"regions": frame})))
    cells = [row for row in book["regions"].iter_rows(min_row=2)]
    names = [row[0] for row in cells]
    # Stored as text, exactly the value (no visible apostrophe), and flagged so that editing the
    # cell later keeps it text.
    assert [c.value for c in names] == frame["name"].tolist()
    assert all(c.data_type == "s" for c in names)
    assert [c.quotePrefix for c in names] == [True, True, True, False]
    assert [row[1].value for row in cells] == [-1.5, 2.0, 3.0, 4.0] and cells[0][2].value == -1
    assert (
        pd.read_excel(io.BytesIO(workbook_bytes({"regions": frame})))["name"].tolist()
        == frame["name"].tolist()
    )


def test_coverage_report_csv_neutralises_formulas(capsys):
    table = pd.DataFrame({"region_name": [FORMULA, "昌吉州"], "coverage_pct": [-0.5, 98.18034]})
    write_table(table, "csv", None, simulated=True)
    notes, rows = export_rows(capsys.readouterr().out)
    assert len(notes) == 2 and "SIMULATED" in notes[1]
    assert [r["region_name"] for r in rows] == ["'" + FORMULA, "昌吉州"]
    assert [r["coverage_pct"] for r in rows] == ["-0.5", "98.18"]


def test_team_csv_headers_in_the_interface_language(tmp_path):
    stop = {
        "seq": 0, "type": "base", "id": "T1", "name": "乌鲁木齐", "lon": 87.6, "lat": 43.8,
        "arrive": "2026-11-24T08:00:00+08:00", "depart": "2026-11-24T08:00:00+08:00", "service_minutes": 0,
        "leg_km": 0.0, "leg_minutes": 0, "night": "", "night_check": False, "mandatory": False,
    }  # fmt: skip
    path = tmp_path / "T1.csv"
    write_team_csv({"team_id": "T1", "stops": [stop]}, path, [], {"seq": "序号", "name": "名称"})
    notes, rows = export_rows(path)
    assert notes == [] and rows[0]["序号"] == "0" and rows[0]["名称"] == "乌鲁木齐"
    assert rows[0]["lon"] == "87.6"  # columns without a given header keep their code
