"""Random inspection draw: reproducible, ratios met, exclusions and conflicts respected, periods scaled."""

from __future__ import annotations

import json
import math
from collections import Counter

import pandas as pd
import pytest

from layers import draw as draw_module
from layers.datasets import load_roster, load_targets
from layers.draw import DrawError, draw, parse_period, parse_ratios, period_ratio, verify


def _synthetic(n_per_group: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two prefectures × two counties × three categories, some inactive units; a small roster."""
    rows = []
    for pref in ("650100", "650200"):
        for county in ("01", "02"):
            for category in ("key", "special", "ordinary"):
                for k in range(n_per_group):
                    status = ("stopped", "relocated")[k % 2] if k % 7 == 3 else "operating"
                    rows.append(
                        {
                            "site_id": f"PS-{pref}{county}-{category[0]}{k:02d}",
                            "name": f"site {k}",
                            "layer": "pollution_source",
                            "kind": "key_discharge_unit",
                            "category": category,
                            "status": status,
                            "prefecture_code": pref,
                            "prefecture_name": f"P{pref}",
                            "county_code": pref + county,
                            "county_name": f"C{pref}{county}",
                        }
                    )
    targets = pd.DataFrame(rows)
    roster = pd.DataFrame(
        {
            "officer_id": [f"OF-{i:03d}" for i in range(8)],
            "name": [f"officer {i}" for i in range(8)],
            "prefecture_code": ["650100"] * 4 + ["650200"] * 4,
            "team_id": ["T1", "T1", "T2", "T2", "T3", "T3", "T4", "T4"],
            "skills": "",
            "conflicts": "",
        }
    )
    return targets, roster


def _without_time(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "created_at"}


def test_same_seed_same_draw_on_the_registry_and_different_seed_differs():
    targets, roster = load_targets(), load_roster()
    first = draw(targets, roster, "2026Q4", seed=11)
    again = draw(targets, roster, "2026Q4", seed=11)
    other = draw(targets, roster, "2026Q4", seed=12)
    assert _without_time(first) == _without_time(again)
    assert [r["site_id"] for r in first["result"]] != [r["site_id"] for r in other["result"]]
    assert first["inputs_hash"] == other["inputs_hash"]  # same inputs, different seed
    assert len(first["result"]) > 0
    json.dumps(first, ensure_ascii=False)  # the record is JSON-serialisable


def test_result_does_not_depend_on_row_order():
    targets, roster = _synthetic()
    shuffled = targets.sample(frac=1, random_state=3)
    assert _without_time(draw(targets, roster, "2026Q4", 5)) == _without_time(
        draw(shuffled, roster.iloc[::-1], "2026Q4", 5)
    )


@pytest.mark.parametrize("level", ["prefecture", "county"])
def test_ratios_met_per_region_and_category(level):
    targets, roster = _synthetic()
    record = draw(targets, roster, "2026Q4", seed=3, level=level)
    code = f"{level}_code"
    active = targets[targets["status"] == "operating"]
    eligible = active.groupby([code, "category"]).size()
    ratios = draw_module.DEFAULT_QUARTERLY_RATIOS[level]
    drawn = Counter((r["region_code"], r["category"]) for r in record["result"])
    assert len(record["counts"]) == len(eligible)
    for (region, category), n in eligible.items():
        required = math.ceil(ratios[category] * n)
        assert drawn[(region, category)] == required >= 1
    for count in record["counts"]:
        assert count["drawn"] == count["required"] == math.ceil(count["ratio"] * count["eligible"])


def test_inactive_units_are_never_drawn_even_at_ratio_one():
    targets, roster = _synthetic()
    record = draw(targets, roster, "2026Q4", seed=1, ratios={"key": 1.0, "special": 1.0, "ordinary": 1.0})
    drawn = {r["site_id"] for r in record["result"]}
    active = set(targets.loc[targets["status"] == "operating", "site_id"])
    assert drawn == active
    assert not drawn & set(targets.loc[targets["status"] != "operating", "site_id"])


def test_officers_come_from_the_detachment_and_respect_conflicts():
    targets, roster = _synthetic(6)
    every_site = ";".join(targets["site_id"])
    roster.loc[roster["officer_id"] == "OF-000", "conflicts"] = every_site  # related to every firm
    roster.loc[roster["officer_id"].isin(["OF-001", "OF-002"]), "conflicts"] = ";".join(
        targets.loc[targets["prefecture_code"] == "650100", "site_id"]
    )
    record = draw(targets, roster, "2026Q4", seed=9, ratios={"key": 1, "special": 1, "ordinary": 1})
    officer_pref = dict(zip(roster["officer_id"], roster["prefecture_code"], strict=True))
    for row in record["result"]:
        ids = [o["officer_id"] for o in row["officers"]]
        assert len(ids) == 2 and len(set(ids)) == 2
        assert "OF-000" not in ids
        if row["prefecture_code"] == "650100":
            # Only OF-003 is free locally: one local officer and one borrowed from 650200.
            assert "OF-001" not in ids and "OF-002" not in ids
            assert [o["borrowed"] for o in row["officers"]].count(True) == 1
            assert "OF-003" in ids
        else:
            assert all(
                officer_pref[i] == "650200" and not o["borrowed"]
                for i, o in zip(ids, row["officers"], strict=True)
            )
    assert record["warnings"] == []


def test_too_small_roster_is_reported_as_a_warning():
    targets, roster = _synthetic(3)
    record = draw(targets, roster.iloc[:1], "2026Q4", seed=2)
    assert record["warnings"] and all("only 1 officer" in w for w in record["warnings"])


def test_periods_months_and_years():
    assert parse_period("2026Q4").start.isoformat() == "2026-10-01"
    assert parse_period("2026Q4").end.isoformat() == "2026-12-31"
    assert parse_period("2024-02").end.isoformat() == "2024-02-29"
    assert parse_period("2026").months == 12
    for bad in ("2026Q5", "2026-13", "26Q1", "Q4"):
        with pytest.raises(DrawError):
            parse_period(bad)
    assert period_ratio(0.25, 3) == pytest.approx(0.25)
    assert period_ratio(0.25, 1) == pytest.approx(1 - 0.75 ** (1 / 3))
    assert period_ratio(0.05, 12) == pytest.approx(1 - 0.95**4)
    assert period_ratio(1.0, 1) == 1.0
    targets, roster = _synthetic(40)
    month = draw(targets, roster, "2026-11", seed=4, level="county")
    year = draw(targets, roster, "2026", seed=4, level="county")
    quarter = draw(targets, roster, "2026Q4", seed=4, level="county")
    assert len(month["result"]) < len(quarter["result"]) < len(year["result"])
    for record in (month, year):
        for count in record["counts"]:
            assert count["drawn"] == math.ceil(count["ratio"] * count["eligible"])


def test_parse_ratios_rejects_bad_input():
    assert parse_ratios("key=0.25, special=0.5") == {"key": 0.25, "special": 0.5}
    for bad in ("vip=0.5", "key", "key=abc", "key=1.5"):
        with pytest.raises(DrawError):
            parse_ratios(bad)


def test_verify_reproduces_and_detects_changed_inputs():
    targets, roster = _synthetic()
    record = draw(targets, roster, "2026Q3", seed=21, level="county")
    assert verify(record, targets, roster).ok
    changed = targets[targets["site_id"] != record["result"][0]["site_id"]]
    outcome = verify(record, changed, roster)
    assert not outcome.inputs_match
    assert record["result"][0]["site_id"] in outcome.missing
    first = record["result"][0]
    officer = first["officers"][0]["officer_id"]
    conflicted = roster.copy()
    conflicted.loc[conflicted["officer_id"] == officer, "conflicts"] = first["site_id"]
    outcome = verify(record, targets, conflicted)
    assert not outcome.inputs_match and not outcome.result_match
    assert first["site_id"] in outcome.officer_changes
    with pytest.raises(DrawError, match="incomplete"):
        verify({"type": record["type"], "seed": 1}, targets, roster)


def test_cli_writes_a_record_and_verifies_it(tmp_path, capsys):
    out = tmp_path / "draw.json"
    assert draw_module.main(["--period", "2026Q4", "--seed", "8", "--out", str(out)]) == 0
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["seed"] == 8 and record["created_at"].endswith("Z")
    assert draw_module.main(["--verify", str(out)]) == 0
    record["result"] = record["result"][1:]
    out.write_text(json.dumps(record), encoding="utf-8")
    assert draw_module.main(["--verify", str(out)]) == 1
    out.write_text("[1, 2]", encoding="utf-8")
    assert draw_module.main(["--verify", str(out)]) == 1
    assert draw_module.main(["--period", "2026Q9"]) == 1
    assert "2026Q9" in capsys.readouterr().err


def test_verify_refuses_a_hand_edited_record_even_when_the_drawn_ids_still_match(tmp_path, capsys):
    targets, roster = _synthetic()
    record = draw(targets, roster, "2026Q4", seed=5)
    edited = json.loads(json.dumps(record))
    edited["result"][0]["name"] = "someone else"
    edited["counts"][0]["eligible"] += 1
    outcome = verify(edited, targets, roster)
    assert outcome.inputs_match and outcome.result_match and not outcome.ok
    assert outcome.edited == ["counts", "result"]
    # Fields that are not re-computed (the time it was made) may differ.
    assert verify({**record, "created_at": "2020-01-01T00:00:00Z"}, targets, roster).ok


def test_cli_verify_refuses_an_edited_record(tmp_path, capsys):
    out = tmp_path / "draw.json"
    assert draw_module.main(["--period", "2026Q4", "--seed", "8", "--out", str(out)]) == 0
    record = json.loads(out.read_text(encoding="utf-8"))
    record["result"][0]["region_name"] = "elsewhere"
    out.write_text(json.dumps(record), encoding="utf-8")
    capsys.readouterr()
    assert draw_module.main(["--verify", str(out)]) == 1
    assert "record edited: result" in capsys.readouterr().out


def test_a_draw_over_some_regions_is_the_province_draw_restricted_to_them_and_says_so():
    targets, roster = _synthetic()
    whole = draw(targets, roster, "2026Q4", seed=3, level="county")
    part = draw(targets, roster, "2026Q4", seed=3, level="county", regions=("650200",))
    assert part["parameters"]["regions"] == ["650200"] and "regions" not in whole["parameters"]
    inside = [r["site_id"] for r in whole["result"] if r["prefecture_code"] == "650200"]
    assert [r["site_id"] for r in part["result"]] == inside
    assert verify(part, targets, roster).ok
