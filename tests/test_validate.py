"""Each validation rule, safe repairs, defaults, the region join and the GCJ-02 option."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from layer_samples import (
    EVERY_DEFECT,
    EVERY_GEOMETRY_DEFECT,
    KASHGAR,
    URUMQI,
    every_defect_rows,
    feature,
    geometry_defect_features,
    points_as_csv_rows,
    square_ring,
    valid_points,
    write_csv,
    write_geojson,
)
from shapely.geometry import Point

from layers.datasets import load_context
from layers.gcj02 import wgs84_to_gcj02
from layers.schema import DEFAULTS, WGS84, XINJIANG_METRIC_CRS
from layers.validate import check_file

TODAY = dt.date(2026, 1, 1)


def _check_csv(tmp_path, rows, **options):
    return check_file(str(write_csv(tmp_path / "t.csv", rows)), today=TODAY, **options)


def _errors(report) -> list[tuple[int | None, str]]:
    return [(p.row, p.field) for p in report.errors]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("lon", "abc", "coordinate is not a number"),
        ("lat", "", "missing coordinate"),
        ("site_id", "", "required value is missing"),
        ("name", " ", "required value is missing"),
        ("kind", "", "required value is missing"),
        ("layer", "factory", "unknown layer"),
        ("kind", "volcano", "unknown kind for pollution_source"),
        ("category", "vip", "unknown value; allowed: key, special, ordinary"),
        ("status", "closed", "unknown value; allowed: operating"),
        ("skills_required", "drone;laser", "unknown skill laser"),
        ("last_inspected", "2025-02-30", "not a date"),
        ("last_inspected", "yesterday", "not a date"),
        ("last_inspected", "2026-01-02", "date is in the future"),
        ("inspect_every_days", "0", "must be a positive number of days"),
        ("inspect_every_days", "-30", "must be a positive number of days"),
        ("inspect_every_days", "7.5", "must be a whole number"),
        ("violations_3y", "-1", "count cannot be negative"),
        ("complaints_1y", "x", "not a number"),
        ("risk_level", "0", "risk_level must be 1 to 5"),
        ("risk_level", "6", "risk_level must be 1 to 5"),
        ("online_monitoring", "maybe", "must be true or false"),
        ("night_check", "2", "must be true or false"),
        ("approximate", "perhaps", "must be true or false"),
        ("service_minutes", "0", "service_minutes must be 1 to 600"),
        ("service_minutes", "900", "service_minutes must be 1 to 600"),
    ],
)
def test_each_cell_rule_reports_row_field_value_and_reason(tmp_path, field, value, reason):
    rows = points_as_csv_rows(valid_points())
    rows[1][field] = value
    report = _check_csv(tmp_path, rows)
    assert not report.ok
    [problem] = report.errors
    assert (problem.row, problem.row_label, problem.field) == (3, "line", field)
    assert reason in problem.reason
    assert problem.value == (repr(value) if value.strip() else "<missing>")
    assert report.targets["site_id"].tolist() == ["PS-T001", "WS-T001"]  # the others still pass


def test_points_outside_xinjiang_inside_the_bounding_box(tmp_path):
    rows = points_as_csv_rows(valid_points())
    rows[0].update(lon=94.66, lat=40.14)  # Dunhuang, Gansu: inside the bbox, outside the province
    rows[1].update(lon=URUMQI[1], lat=URUMQI[0])  # lon/lat swapped
    report = _check_csv(tmp_path, rows)
    assert _errors(report) == [(2, "lon/lat"), (3, "lon/lat")]
    assert report.errors[0].reason == "outside Xinjiang"
    assert report.errors[1].reason == "outside Xinjiang; longitude and latitude swapped?"


def test_duplicate_ids_within_the_file_and_against_existing(tmp_path):
    rows = points_as_csv_rows(valid_points())
    rows[2]["site_id"] = "PS-T001"
    report = _check_csv(tmp_path, rows, existing_ids={"PS-T002": "registry/pollution_sources.geojson"})
    reasons = {(p.row, p.reason) for p in report.errors}
    assert reasons == {
        (3, "site_id already exists in registry/pollution_sources.geojson"),
        (4, "duplicate site_id (first at line 2)"),
    }


def test_file_level_problems(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "kind"} for row in points_as_csv_rows(valid_points())]
    for row in rows:
        row["colour"] = "red"
    report = _check_csv(tmp_path, rows)
    assert [(p.row, p.field, p.severity) for p in report.problems] == [
        (None, "colour", "warning"),
        (None, "kind", "error"),
    ]
    assert report.targets.empty
    header_only = tmp_path / "header.csv"
    header_only.write_text("site_id,name,layer,kind,lon,lat\n", encoding="utf-8")
    assert [(p.field, p.reason) for p in check_file(str(header_only)).errors] == [
        ("rows", "the file holds no targets")
    ]
    no_coordinates = write_csv(tmp_path / "nocoords.csv", [{"site_id": "PS-1", "name": "a"}])
    assert (None, "lon/lat") in _errors(check_file(str(no_coordinates)))


def test_stated_layer_fills_missing_layer_and_must_match(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "layer"} for row in points_as_csv_rows(valid_points())[:2]]
    report = _check_csv(tmp_path, rows, layer="pollution_source")
    assert report.ok
    assert set(report.targets["layer"]) == {"pollution_source"}
    mismatched = _check_csv(tmp_path, points_as_csv_rows(valid_points()), layer="pollution_source")
    assert [(p.row, p.field, p.reason) for p in mismatched.errors] == [
        (4, "layer", "differs from the stated layer 'pollution_source'")
    ]


def test_accepted_spellings_and_defaults(tmp_path):
    rows = points_as_csv_rows(valid_points())
    rows[0].update(online_monitoring="是", category="重点", last_inspected="2025/03/01", risk_level="4.0")
    rows[1].update(risk_level="", service_minutes="", last_inspected="", skills_required="sampling, drone")
    report = _check_csv(tmp_path, rows)
    assert report.ok, [str(p) for p in report.problems]
    first, second = report.targets.iloc[0], report.targets.iloc[1]
    assert (first["online_monitoring"], first["category"], first["risk_level"]) == (True, "key", 4)
    assert first["last_inspected"] == dt.datetime(2025, 3, 1)
    assert second["risk_level"] == DEFAULTS["risk_level"]
    assert second["service_minutes"] == DEFAULTS["service_minutes"]
    assert pd.isna(second["last_inspected"])
    assert second["skills_required"] == "drone;sampling"


def test_geometry_rules(tmp_path):
    features = geometry_defect_features()
    report = check_file(str(write_geojson(tmp_path / "g.geojson", features)), today=TODAY)
    reasons = {p.row: p.reason for p in report.errors}
    assert sorted(reasons) == [row for row, _ in EVERY_GEOMETRY_DEFECT]
    assert reasons[2] == "missing geometry"
    assert reasons[3] == "empty geometry"
    assert reasons[4] == "pollution_source needs Point"
    assert (
        reasons[5].startswith("invalid geometry (Self-intersection") and "not safely repairable" in reasons[5]
    )
    assert reasons[7] == "protected_area needs Polygon or MultiPolygon"
    [repair] = report.repairs
    assert (repair.row, repair.field, repair.severity) == (6, "geometry", "repair")
    assert "repaired with make_valid" in repair.reason
    assert report.targets["site_id"].tolist() == ["WS-1", "PA-6"]
    assert report.targets.geometry.is_valid.all()


def test_geojson_claiming_wgs84_with_projected_numbers(tmp_path):
    utm = valid_points().to_crs("EPSG:32645")
    features = [
        (row.drop("geometry").to_dict(), {"type": "Point", "coordinates": [row.geometry.x, row.geometry.y]})
        for _, row in utm.iterrows()
    ]
    report = check_file(str(write_geojson(tmp_path / "utm.geojson", features)), today=TODAY)
    assert [p.row for p in report.errors] == [1, 2, 3]
    assert all("wrong CRS?" in p.reason for p in report.errors)


def test_every_defect_at_once_is_reported_with_row_and_field(tmp_path):
    report = _check_csv(tmp_path, every_defect_rows())
    found = _errors(report)
    for expected in EVERY_DEFECT:
        assert expected in found, expected
    assert len(found) == len(EVERY_DEFECT)
    assert report.targets["site_id"].tolist() == ["PS-T001"]


def test_region_join_fills_prefecture_and_county(tmp_path):
    x, y = KASHGAR
    features = [
        feature("PS-1", "pollution_source", "mine", {"type": "Point", "coordinates": list(URUMQI)}),
        feature("WS-2", "water_source", "reservoir", {"type": "Polygon", "coordinates": [square_ring(x, y, 0.04)]}),
    ]  # fmt: skip
    features[1][0]["county_name"] = "文件里的县"  # a value given by the file is kept
    report = check_file(str(write_geojson(tmp_path / "r.geojson", features)), today=TODAY)
    assert report.ok
    urumqi, kashgar = report.targets.iloc[0], report.targets.iloc[1]
    assert (urumqi["prefecture_name"], urumqi["prefecture_code"]) == ("乌鲁木齐市", "650100")
    assert urumqi["county_code"].startswith("6501")
    assert kashgar["prefecture_name"] == "喀什地区"
    assert kashgar["county_name"] == "文件里的县"


def test_gcj02_option_moves_points_back_to_wgs84(tmp_path):
    expected = valid_points()
    rows = points_as_csv_rows(expected)
    for row in rows:
        lon, lat = wgs84_to_gcj02(row["lon"], row["lat"])
        row["lon"], row["lat"] = float(lon), float(lat)
    as_is = _check_csv(tmp_path, rows)
    converted = _check_csv(tmp_path, rows, gcj02=True)
    truth = expected.to_crs(XINJIANG_METRIC_CRS).geometry

    def shift_m(report):
        return report.targets.to_crs(XINJIANG_METRIC_CRS).distance(truth)

    assert shift_m(converted).max() < 0.5
    assert (shift_m(as_is) > 100).all()


def test_targets_are_in_the_schema_even_when_everything_fails(tmp_path):
    rows = points_as_csv_rows(valid_points())
    for row in rows:
        row["risk_level"] = "9"
    report = _check_csv(tmp_path, rows)
    assert len(report.errors) == 3
    assert report.targets.empty
    assert isinstance(report.targets, gpd.GeoDataFrame)
    assert report.targets.crs.to_epsg() == 4326


def _point_just_outside_the_counties() -> tuple[float, float]:
    """A lon/lat 1–3 km outside the county polygons (inside the 5 km tolerance of the outline)."""
    counties = load_context("counties").to_crs(XINJIANG_METRIC_CRS)
    union = counties.union_all()
    outline = max(getattr(union, "geoms", [union]), key=lambda part: part.area)
    vertices = np.asarray(outline.exterior.coords)
    for x, y in vertices[:: len(vertices) // 50]:
        for angle in np.radians(np.arange(0, 360, 30)):
            candidate = Point(x + 2000 * np.cos(angle), y + 2000 * np.sin(angle))
            if 1000 < candidate.distance(outline) < 3000:
                lonlat = gpd.GeoSeries([candidate], crs=XINJIANG_METRIC_CRS).to_crs(WGS84).iloc[0]
                return lonlat.x, lonlat.y
    raise AssertionError("no vertex of the outline has open ground outside it")


def test_point_on_no_county_takes_the_nearest_and_says_so(tmp_path):
    rows = points_as_csv_rows(valid_points())[:1]
    rows[0]["lon"], rows[0]["lat"] = _point_just_outside_the_counties()
    report = _check_csv(tmp_path, rows)
    assert report.ok, [str(p) for p in report.problems]
    [repair] = report.repairs
    assert (repair.row, repair.field) == (2, "county_name")
    assert "nearest county taken" in repair.reason
    assert report.targets["county_name"].iloc[0] == repair.value.strip("'")
    assert report.targets["prefecture_code"].notna().all()


def test_geojson_with_mixed_types_and_impossible_dates_is_reported_by_row(tmp_path):
    features = [feature("PS-1", "pollution_source", "mine", {"type": "Point", "coordinates": list(URUMQI)})]
    features += [({**features[0][0], "site_id": f"PS-{i}"}, features[0][1]) for i in (2, 3)]
    features[0][0].update(risk_level="high", last_inspected="2025-01-01")
    features[1][0].update(risk_level=3, last_inspected="2025-02-31")  # GDAL would type this as a date
    features[2][0].update(risk_level=2.5, online_monitoring="ja")
    report = check_file(str(write_geojson(tmp_path / "m.geojson", features)), today=TODAY)
    assert [(p.row, p.field, p.value) for p in report.errors] == [
        (1, "risk_level", "'high'"),
        (2, "last_inspected", "'2025-02-31'"),
        (3, "risk_level", "'2.5'"),
        (3, "online_monitoring", "'ja'"),
    ]
