"""Markup in text cells of an imported file: a warning naming file, row and field; data kept as is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hostile_samples import SITES, hostile_targets
from layer_samples import points_as_csv_rows, private_data_copy, valid_mixed, valid_points, write_csv

from layers.datasets import REPO_ROOT, load_targets
from layers.importer import import_file
from layers.validate import check_file


def _markup_warnings(problems) -> list:
    return [p for p in problems if p.severity == "warning" and "markup" in p.reason]


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of the shipped geo and registry files that the test may change."""
    copy = private_data_copy(tmp_path, monkeypatch)
    return copy


def test_csv_names_with_markup_are_warned_about_by_line_and_kept(tmp_path):
    frame = valid_points()
    frame.loc[0, "name"] = "<img src=x onerror=alert(1)>"
    frame.loc[2, "name"] = "水源地 ${alert(2)}"
    path = write_csv(tmp_path / "hostile.csv", points_as_csv_rows(frame))
    report = check_file(str(path))
    assert report.ok
    warned = _markup_warnings(report.problems)
    # CSV lines count the header as line 1: rows 0 and 2 are lines 2 and 4.
    assert [(p.file, p.row_label, p.row, p.field) for p in warned] == [
        (str(path), "line", 2, "name"),
        (str(path), "line", 4, "name"),
    ]
    assert "'<img'" in warned[0].reason and "'${'" in warned[1].reason
    assert str(warned[0]).startswith(f"{path} line 2: [warning] name='<img src=x onerror=alert(1)>'")
    assert report.targets["name"].tolist() == frame["name"].tolist()


def test_every_layer_is_checked_and_clean_names_are_not_warned_about(tmp_path):
    path = tmp_path / "hostile.geojson"
    hostile_targets().to_file(path, driver="GeoJSON")
    warned = _markup_warnings(check_file(str(path)).problems)
    assert [(p.row_label, p.row, p.field) for p in warned] == [("feature", n, "name") for n in (1, 2, 3)]

    clean = tmp_path / "clean.geojson"
    valid_mixed().to_file(clean, driver="GeoJSON")
    assert _markup_warnings(check_file(str(clean)).problems) == []


def test_import_stores_marked_up_names_unchanged_and_reports_them(data_copy, tmp_path):
    path = tmp_path / "hostile.geojson"
    upload = hostile_targets()
    upload.to_file(path, driver="GeoJSON")
    result = import_file(path)
    assert result.ok and result.added == len(SITES)
    assert len(_markup_warnings(result.report.problems)) == len(SITES)
    stored = load_targets().set_index("site_id")
    for site_id, name in zip(upload["site_id"], upload["name"], strict=True):
        assert stored.loc[site_id, "name"] == name


def test_import_command_prints_the_markup_warning_and_imports(data_copy, tmp_path):
    path = write_csv(
        tmp_path / "hostile.csv",
        points_as_csv_rows(valid_points().assign(name=["a", "</script><script>x()</script>", "c"])),
    )
    done = subprocess.run(
        [sys.executable, "-m", "layers", "import", str(path)],
        cwd=REPO_ROOT,
        env={**os.environ, "XUNHU_DATA_DIR": str(data_copy)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 warning(s)" in done.stdout
    assert f"{path} line 3: [warning] name='</script><script>x()</script>' — contains HTML/script markup" in (
        done.stdout
    )
    assert "imported: 3 added" in done.stdout
