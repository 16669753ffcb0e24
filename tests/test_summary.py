"""``python -m layers summary``: counts add up, every format parses, bad data gives a clean error."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd

from layers.datasets import REPO_ROOT, load_targets
from layers.schema import LAYERS
from layers.summary import main, summarise


def test_counts_add_up_per_dimension():
    targets = load_targets()
    table = summarise(targets)
    for dimension in ("layer", "kind", "category", "prefecture"):
        assert table.loc[table["dimension"] == dimension, "count"].sum() == len(targets)
    kinds = table[table["dimension"] == "kind"].set_index(["layer", "value"])["count"]
    expected = targets.groupby(["layer", "kind"]).size()
    assert kinds.sort_index().tolist() == expected.sort_index().tolist()
    prefectures = table[table["dimension"] == "prefecture"]
    assert prefectures["value"].nunique() == targets["prefecture_code"].nunique()
    layers = table[table["dimension"] == "layer"]["value"].tolist()
    assert layers == [layer for layer in LAYERS if layer in set(targets["layer"])]  # schema order


def test_json_and_csv_formats(capsys):
    targets = load_targets()
    assert main(["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == len(targets)
    assert sum(p["total"] for p in data["prefecture"].values()) == len(targets)
    assert data["kind"]["pollution_source"]["sewage_plant"] == int(
        ((targets["layer"] == "pollution_source") & (targets["kind"] == "sewage_plant")).sum()
    )
    assert main(["--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"value": str})
    assert list(frame.columns) == ["dimension", "value", "name", "layer", "count"]
    assert frame.loc[frame["dimension"] == "category", "count"].sum() == len(targets)


def test_text_lists_every_prefecture_via_subprocess():
    done = subprocess.run(
        [sys.executable, "-m", "layers", "summary"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names = set(load_targets()["prefecture_name"].dropna())
    assert names and all(name in done.stdout for name in names)
    assert "By prefecture" in done.stdout and "SIMULATED" in done.stdout


def test_missing_registry_is_a_clean_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XUNHU_DATA_DIR", str(tmp_path))
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the registry") and "Traceback" not in err
