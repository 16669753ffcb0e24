"""Simulated registry: reproducible byte for byte, realistic shares, on the real geography, in the schema."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from layers.datasets import REPO_ROOT, load_context, load_roster, load_targets
from layers.regions import inside_xinjiang
from layers.schema import CATEGORIES, KINDS, SKILLS, STATUSES, TARGET_COLUMNS, parse_skills
from simulation import registry as simulate

REGISTRY = REPO_ROOT / "data" / "registry"
FILES = ("pollution_sources.geojson", "water_sources.geojson", "protected_areas.geojson", "roster.csv")


def _generate(tmp_path: Path, monkeypatch, name: str, seed: int, scale: float) -> Path:
    """Run the CLI into ``tmp_path/name/registry`` with the shipped geography beside it."""
    root = tmp_path / name
    root.mkdir()
    (root / "geo").symlink_to(REPO_ROOT / "data" / "geo")
    monkeypatch.setenv("XUNHU_DATA_DIR", str(root))
    assert simulate.main(["--seed", str(seed), "--out", str(root / "registry"), "--scale", str(scale)]) == 0
    return root


@pytest.fixture(scope="module")
def registry() -> gpd.GeoDataFrame:
    return load_targets()


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, monkeypatch):
    first = _generate(tmp_path, monkeypatch, "a", seed=5, scale=0.15)
    second = _generate(tmp_path, monkeypatch, "b", seed=5, scale=0.15)
    other = _generate(tmp_path, monkeypatch, "c", seed=6, scale=0.15)
    for name in FILES:
        assert (first / "registry" / name).read_bytes() == (second / "registry" / name).read_bytes(), name
    assert (first / "registry" / FILES[0]).read_bytes() != (other / "registry" / FILES[0]).read_bytes()
    # The scaled output is a complete registry in the target schema that load_targets reads.
    monkeypatch.setenv("XUNHU_DATA_DIR", str(first))
    small = load_targets()
    assert 100 <= (small["layer"] == "pollution_source").sum() <= 200
    assert list(small.columns) == [*TARGET_COLUMNS, "geometry"]


def test_committed_registry_is_what_the_generator_writes(tmp_path, monkeypatch):
    fresh = _generate(tmp_path, monkeypatch, "full", seed=2026, scale=1.0)
    for name in FILES:
        assert (fresh / "registry" / name).read_bytes() == (REGISTRY / name).read_bytes(), (
            f"data/registry/{name} is stale: run python -m simulation registry --seed 2026 --out data/registry"
        )


def test_schema_ids_and_kinds(registry):
    assert list(registry.columns) == [*TARGET_COLUMNS, "geometry"]
    assert registry["site_id"].is_unique and registry["name"].is_unique
    prefixes = {"pollution_source": r"PS-\d{5}", "water_source": r"WS-\d{4}", "protected_area": r"PA-\d{3}"}
    for layer, pattern in prefixes.items():
        rows = registry[registry["layer"] == layer]
        assert rows["site_id"].str.fullmatch(pattern).all()
        assert set(rows["kind"]) <= set(KINDS[layer])
    assert set(registry["category"]) <= set(CATEGORIES)
    assert set(registry["status"]) <= set(STATUSES)
    assert registry["simulated"].all()
    for value in registry["skills_required"]:
        assert parse_skills(value) <= set(SKILLS)
    assert (
        registry[["risk_level", "inspect_every_days", "violations_3y", "complaints_1y", "service_minutes"]]
        .notna()
        .all()
        .all()
    )


def test_pollution_sources_cover_every_prefecture_inside_xinjiang(registry):
    sources = registry[registry["layer"] == "pollution_source"]
    assert len(sources) >= 800
    prefectures = load_context("prefectures")
    per_prefecture = sources.groupby("prefecture_code").size()
    assert set(per_prefecture.index) == set(prefectures["adcode"])
    assert per_prefecture.min() >= 5
    assert inside_xinjiang(registry.geometry, tolerance_km=0.0).all()
    assert registry[["prefecture_code", "county_code"]].notna().all().all()
    # Clustered on industry: the Karamay and Changji (Zhundong) units have far more sources per km² than Hotan.
    density = per_prefecture / prefectures.set_index("adcode")["area_km2"]
    assert density["650200"] > 5 * density["653200"]
    assert density["652300"] > density["653200"]


def test_category_shares_and_their_link_to_kind_and_risk(registry):
    sources = registry[registry["layer"] == "pollution_source"]
    shares = sources["category"].value_counts(normalize=True)
    assert 0.14 <= shares["key"] <= 0.22
    assert 0.07 <= shares["special"] <= 0.13
    hazardous = sources[sources["kind"].isin(["hazardous_waste", "tailings_pond"])]
    assert (hazardous["category"] != "ordinary").mean() > 2 * (sources["category"] != "ordinary").mean()
    risk = sources.groupby("category")["risk_level"].mean()
    assert risk["key"] > risk["special"] > risk["ordinary"]
    # Complaints and violations rise with risk.
    by_risk = sources.groupby("risk_level")[["complaints_1y", "violations_3y"]].mean()
    assert by_risk.loc[5, "complaints_1y"] > by_risk.loc[1, "complaints_1y"]
    assert by_risk.loc[5, "violations_3y"] > by_risk.loc[1, "violations_3y"]
    online = sources.groupby("category")["online_monitoring"].mean()
    assert online["key"] > 0.7 > 0.1 > online["ordinary"]
    assert (sources.loc[sources["kind"] == "tailings_pond", "skills_required"].str.contains("drone")).all()


def test_status_inspection_history_and_night_checks(registry):
    sources = registry[registry["layer"] == "pollution_source"]
    status = sources["status"].value_counts(normalize=True)
    assert status["operating"] > 0.9 and status["stopped"] > 0.01 and status["relocated"] > 0.005
    assert (registry["last_inspected"].dropna() < pd.Timestamp(simulate.AS_OF)).all()
    never = sources["last_inspected"].isna().mean()
    assert 0.02 < never < 0.15
    days = (pd.Timestamp(simulate.AS_OF) - sources["last_inspected"]).dt.days
    overdue = (days > sources["inspect_every_days"]).mean()
    assert 0.15 < overdue < 0.6
    expected_every = sources["category"].map(simulate.INSPECT_EVERY_DAYS)
    assert (sources["inspect_every_days"] == expected_every).all()
    assert 0.03 <= sources["night_check"].mean() <= 0.12
    assert sources["service_minutes"].between(30, 180).all()
    sewage = sources[sources["kind"] == "sewage_plant"]
    assert sewage["name"].str.endswith("污水处理厂").all() and len(sewage) >= 60


def test_water_and_protected_areas(registry):
    water = registry[registry["layer"] == "water_source"]
    assert len(water) >= 60
    assert set(water.geom_type) <= {"Polygon", "MultiPolygon"}
    assert water["category"].isin(["key", "special"]).mean() > 0.75
    areas_km2 = water.to_crs(simulate.XINJIANG_METRIC_CRS).area / 1e6
    assert areas_km2.between(0.5, 15).all()  # first-level zones of 0.5-2 km radius
    assert {"river_intake", "reservoir", "groundwater_wellfield"} <= set(water["kind"])
    protected = registry[registry["layer"] == "protected_area"]
    source = load_context("protected_area_shapes")
    reserves = protected[protected["kind"] != "red_line_zone"]
    assert sorted(reserves["name"]) == sorted(source["name_zh"])
    assert protected["approximate"].all()
    assert (protected["kind"] == "red_line_zone").sum() >= 1


def test_roster(registry):
    roster = load_roster()
    assert 120 <= len(roster) <= 180
    assert roster["officer_id"].is_unique and roster["name"].is_unique
    assert (roster["simulated"] == "true").all()
    per_prefecture = roster.groupby("prefecture_code").size()
    assert set(per_prefecture.index) == set(registry["prefecture_code"]) and per_prefecture.min() >= 2
    site_prefecture = dict(zip(registry["site_id"], registry["prefecture_code"], strict=True))
    conflicted = roster[roster["conflicts"] != ""]
    assert 0.03 < len(conflicted) / len(roster) < 0.2
    for _, officer in conflicted.iterrows():
        for site_id in parse_skills(officer["conflicts"]):
            assert site_prefecture[site_id] == officer["prefecture_code"]
    for value in roster["skills"]:
        assert parse_skills(value) <= set(SKILLS)
    teams = roster.groupby("team_id").size()
    assert teams.between(2, 3).all()
    assert all(re.fullmatch(r"T\d{6}-\d{2}", t) for t in teams.index)


def test_bad_scale_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        simulate.main(["--scale", "0"])
    assert exit_info.value.code == 2
    assert "--scale" in capsys.readouterr().err
