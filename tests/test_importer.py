"""Importing into a copy of the registry: all or nothing, append, update, crash safety."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import geopandas as gpd
import pytest
from layer_samples import every_defect_rows, private_data_copy, valid_mixed, write_csv

from layers.datasets import REGISTRY_FILES, REPO_ROOT, data_path, load_targets
from layers.importer import import_file


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of the shipped data (geo + registry) that the test may change."""
    copy = private_data_copy(tmp_path, monkeypatch)
    return copy


def _fingerprint(directory) -> dict[str, str]:
    """Name → SHA-256 of every file in the registry directory (temporary files included)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((directory / "registry").iterdir())
    }


def test_failed_import_leaves_the_registry_byte_identical(data_copy, tmp_path):
    before = _fingerprint(data_copy)
    result = import_file(write_csv(tmp_path / "bad.csv", every_defect_rows()))
    assert not result.ok
    assert result.written == []
    assert len(result.report.errors) >= 19
    assert _fingerprint(data_copy) == before


def test_ids_already_stored_are_errors_without_update(data_copy, tmp_path):
    stored = load_targets(("pollution_source",))
    upload = valid_mixed()
    upload.loc[0, "site_id"] = stored["site_id"].iloc[0]
    path = tmp_path / "clash.geojson"
    upload.to_file(path, driver="GeoJSON")
    before = _fingerprint(data_copy)
    result = import_file(path)
    assert [(p.row, p.field, p.reason) for p in result.report.errors] == [
        (1, "site_id", f"site_id already exists in {REGISTRY_FILES['pollution_source']}")
    ]
    assert _fingerprint(data_copy) == before


def test_valid_import_appends_to_each_layer_file(data_copy, tmp_path):
    before = load_targets()
    upload = valid_mixed()
    path = tmp_path / "new.geojson"
    upload.to_file(path, driver="GeoJSON")
    result = import_file(path)
    assert result.ok, [str(p) for p in result.report.problems]
    assert (result.added, result.replaced) == (5, 0)
    assert sorted(p.name for p in result.written) == sorted(
        data_path(REGISTRY_FILES[name]).name
        for name in ("pollution_source", "water_source", "protected_area")
    )
    after = load_targets()
    assert len(after) == len(before) + 5
    new = after[after["site_id"].isin(upload["site_id"])].set_index("site_id")
    assert new.loc["PS-T001", "prefecture_name"] == "乌鲁木齐市"
    assert str(new.loc["PS-T001", "last_inspected"].date()) == "2025-03-01"
    # Stored rows are untouched and keep their order; new rows come after them.
    old = after[~after["site_id"].isin(upload["site_id"])].reset_index(drop=True)
    assert old["site_id"].tolist() == before["site_id"].tolist()
    assert old["risk_level"].tolist() == before["risk_level"].tolist()
    assert not list((data_copy / "registry").glob(".*.tmp"))


def test_update_replaces_stored_rows_in_place(data_copy, tmp_path):
    before = load_targets(("pollution_source",))
    changed = before.iloc[[3]].copy()
    changed["name"] = "改名后的单位"
    changed["risk_level"] = 5 if changed["risk_level"].iloc[0] != 5 else 1
    path = tmp_path / "update.gpkg"
    changed.to_file(path, driver="GPKG")
    assert not import_file(path).ok  # without update the id is a duplicate
    result = import_file(path, update=True)
    assert result.ok, [str(p) for p in result.report.problems]
    assert (result.added, result.replaced) == (0, 1)
    after = load_targets(("pollution_source",))
    assert after["site_id"].tolist() == before["site_id"].tolist()
    assert after.loc[3, "name"] == "改名后的单位"
    assert after.loc[3, "risk_level"] == changed["risk_level"].iloc[0]
    assert after.drop(index=3)["name"].tolist() == before.drop(index=3)["name"].tolist()


def test_a_crash_while_writing_leaves_old_files_and_no_temporaries(data_copy, tmp_path, monkeypatch):
    path = tmp_path / "new.geojson"
    valid_mixed().to_file(path, driver="GeoJSON")
    before = _fingerprint(data_copy)
    real_to_file = gpd.GeoDataFrame.to_file

    def write_half_then_fail(frame, filename, *args, **kwargs):
        real_to_file(frame.iloc[: len(frame) // 2], filename, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        import_file(path)
    assert _fingerprint(data_copy) == before


def _import_cli(data_dir, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XUNHU_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "layers", "import", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_cli_refuses_a_defective_file_and_writes_nothing(data_copy, tmp_path):
    before = _fingerprint(data_copy)
    done = _import_cli(data_copy, str(write_csv(tmp_path / "bad.csv", every_defect_rows())))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "nothing imported" in done.stdout
    # Every problem is listed with its CSV line and field, as `layers check` prints it.
    assert "line 3: lon='eighty-seven' — coordinate is not a number" in done.stdout
    assert done.stdout.count(" line ") >= 19
    assert _fingerprint(data_copy) == before


def test_import_cli_merges_a_valid_file(data_copy, tmp_path):
    path = tmp_path / "new.geojson"
    valid_mixed().to_file(path, driver="GeoJSON")
    done = _import_cli(data_copy, str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported: 5 added, 0 replaced" in done.stdout
    assert "PS-T001" in set(load_targets()["site_id"])


def test_temporaries_of_killed_imports_are_removed_by_the_next_import(data_copy, tmp_path):
    target = data_path(REGISTRY_FILES["pollution_source"])
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    orphan = target.with_name(f".{target.name}.{killed.pid}.tmp")
    orphan.write_text("half a file")
    # A temporary of an import still running (here: this test's parent process) is left alone.
    running = target.with_name(f".{target.name}.{os.getppid()}.tmp")
    running.write_text("being written")
    path = tmp_path / "new.geojson"
    valid_mixed().to_file(path, driver="GeoJSON")
    assert import_file(path).ok
    assert not orphan.exists() and running.exists()
