"""``python -m layers check``: exit codes, every problem listed, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from layer_samples import (
    EVERY_DEFECT,
    EVERY_GEOMETRY_DEFECT,
    every_defect_rows,
    geometry_defect_features,
    points_as_csv_rows,
    valid_mixed,
    valid_points,
    write_csv,
    write_geojson,
    write_zipped_shapefile,
)

from layers.check import main
from layers.datasets import REGISTRY_FILES, REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layers", "check", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_valid_files_exit_zero(tmp_path):
    valid_mixed().to_file(tmp_path / "mixed.geojson", driver="GeoJSON")
    other = valid_points()
    other["site_id"] = other["site_id"] + "-B"
    archive = write_zipped_shapefile(other, tmp_path)
    third = valid_points()
    third["site_id"] = third["site_id"] + "-C"
    csv_path = write_csv(tmp_path / "points.csv", points_as_csv_rows(third))
    done = _run(str(tmp_path / "mixed.geojson"), str(archive), str(csv_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 file(s) checked: 3 valid, 0 with errors" in done.stdout
    assert "Traceback" not in done.stderr


def test_every_defect_listed_with_row_and_field_and_exit_one(tmp_path):
    defects = write_csv(tmp_path / "defects.csv", every_defect_rows())
    shapes = write_geojson(tmp_path / "shapes.geojson", geometry_defect_features())
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"SQLite format 3\x00 but truncated")
    done = _run(str(defects), str(shapes), str(broken), str(tmp_path / "missing.geojson"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    for row, field in EVERY_DEFECT:
        prefix = f"  {defects} line {row}: {field}="
        assert any(line.startswith(prefix) for line in lines), prefix
    for row, field in EVERY_GEOMETRY_DEFECT:
        prefix = f"  {shapes} feature {row}: {field}="
        assert any(line.startswith(prefix) for line in lines), prefix
    assert any(line.startswith(f"  {shapes} feature 6: [repair] geometry=") for line in lines)
    assert "(rows are CSV line numbers; the header is line 1)" in done.stdout
    assert f"{broken}: cannot read as GeoPackage" in done.stdout
    assert f"{tmp_path / 'missing.geojson'}: no such file" in done.stdout
    assert "4 file(s) checked: 0 valid, 4 with errors" in done.stdout


def test_usage_errors_exit_two(capsys):
    assert _run().returncode == 2
    assert main(["--layer", "factory", "x.csv"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_shipped_registry_is_valid():
    paths = [str(REPO_ROOT / "data" / relative) for relative in REGISTRY_FILES.values()]
    done = _run(*paths)
    assert done.returncode == 0, done.stdout[-3000:]


def test_ids_are_checked_across_files_and_json_output(tmp_path, capsys):
    first = write_csv(tmp_path / "a.csv", points_as_csv_rows(valid_points()))
    second = write_csv(tmp_path / "b.csv", points_as_csv_rows(valid_points().iloc[:1]))
    assert main([str(first), str(second), "--format", "json"]) == 1
    files = json.loads(capsys.readouterr().out)
    assert [(f["file"], f["ok"], f["valid_targets"]) for f in files] == [
        (str(first), True, 3),
        (str(second), False, 0),
    ]
    [problem] = files[1]["problems"]
    assert (problem["row"], problem["field"], problem["reason"]) == (
        2,
        "site_id",
        f"site_id already exists in {first}",
    )


def test_planning_check_unreadable_input_exits_two(tmp_path):
    """``python -m planning check`` names the bad file and exits 2, without a traceback."""
    plan = tmp_path / "plan.json"
    plan.write_text("{not json")
    scenario = REPO_ROOT / "data" / "scenarios" / "urumqi_changji_shihezi_week.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "planning", "check", "--scenario", str(scenario), "--plan", str(plan)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "plan.json" in done.stderr and "Traceback" not in done.stderr
