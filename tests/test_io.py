"""Reading every supported format into the target schema; CRS handling; unreadable files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from layer_samples import (
    URUMQI,
    points_as_csv_rows,
    valid_mixed,
    valid_points,
    write_csv,
    write_geojson,
    write_shapefile,
    write_zipped_shapefile,
)

from layers.io import read_raw
from layers.problems import LayerFileError
from layers.schema import TARGET_COLUMNS, XINJIANG_METRIC_CRS
from layers.validate import check_file, validate


def _assert_same_targets(report, expected) -> None:
    assert report.ok, [str(p) for p in report.problems]
    targets = report.targets
    assert list(targets.columns) == [*TARGET_COLUMNS, "geometry"]
    assert targets.crs.to_epsg() == 4326
    assert targets["site_id"].tolist() == expected["site_id"].tolist()
    assert targets["risk_level"].tolist() == expected["risk_level"].tolist()
    assert targets["inspect_every_days"].tolist() == expected["inspect_every_days"].tolist()
    assert targets["online_monitoring"].tolist() == expected["online_monitoring"].tolist()
    assert targets["last_inspected"].dt.strftime("%Y-%m-%d").tolist() == expected["last_inspected"].tolist()
    # Centroids agree to a millimetre: nothing was shifted on the way.
    distance_m = targets.to_crs(XINJIANG_METRIC_CRS).centroid.distance(
        expected.to_crs(XINJIANG_METRIC_CRS).centroid
    )
    assert distance_m.max() < 1e-3


def test_geojson_with_points_and_polygons(tmp_path):
    expected = valid_mixed()
    path = tmp_path / "targets.geojson"
    expected.to_file(path, driver="GeoJSON")
    _assert_same_targets(check_file(str(path)), expected)


def test_geopackage_picks_the_named_layer_and_numbers_rows_by_fid(tmp_path):
    expected = valid_mixed()
    path = tmp_path / "targets.gpkg"
    expected.to_file(path, layer="targets", driver="GPKG")
    expected.iloc[:1].to_file(path, layer="other", driver="GPKG")
    with pytest.raises(LayerFileError, match="several layers"):
        read_raw(path)
    raw = read_raw(path, source_layer="targets")
    assert raw.row_label == "fid"
    assert raw.rows == [1, 2, 3, 4, 5]
    _assert_same_targets(validate(raw), expected)
    with pytest.raises(LayerFileError, match="no layer 'nope'"):
        read_raw(path, source_layer="nope")


def test_zipped_shapefile_maps_ten_character_field_names_back(tmp_path):
    expected = valid_points()
    archive = write_zipped_shapefile(expected, tmp_path)
    raw = read_raw(archive)
    assert raw.format == "Shapefile"
    assert {"inspect_every_days", "online_monitoring", "service_minutes"} <= set(raw.frame.columns)
    _assert_same_targets(validate(raw), expected)


def test_plain_shapefile(tmp_path):
    expected = valid_points()
    write_shapefile(expected, tmp_path / "targets.shp")
    _assert_same_targets(check_file(str(tmp_path / "targets.shp")), expected)


@pytest.mark.parametrize(
    ("lon_name", "lat_name", "encoding"),
    [("lon", "lat", "utf-8"), ("Longitude", "Latitude", "utf-8-sig"), ("经度", "纬度", "gb18030")],
)
def test_csv_detects_coordinate_columns_and_encodings(tmp_path, lon_name, lat_name, encoding):
    expected = valid_points()
    rows = [
        {(lon_name if k == "lon" else lat_name if k == "lat" else k): v for k, v in row.items()}
        for row in points_as_csv_rows(expected)
    ]
    path = write_csv(tmp_path / "targets.csv", rows, encoding=encoding)
    raw = read_raw(path)
    assert raw.row_label == "line"
    assert raw.rows == [2, 3, 4]
    _assert_same_targets(validate(raw), expected)


@pytest.mark.parametrize("separator", [";", "\t"])
def test_csv_with_semicolons_or_tabs(tmp_path, separator):
    expected = valid_points()
    path = write_csv(tmp_path / "targets.csv", points_as_csv_rows(expected), delimiter=separator)
    _assert_same_targets(check_file(str(path)), expected)


def test_csv_keeps_bad_coordinates_for_row_reports(tmp_path):
    rows = points_as_csv_rows(valid_points())
    rows[1]["lon"] = "87,36"  # a decimal comma: no longitude here (DMS such as 87°36′ is read)
    rows[2]["lat"] = ""
    raw = read_raw(write_csv(tmp_path / "bad.csv", rows))
    found = {(p.row, p.field, p.value, p.reason) for p in raw.problems}
    assert found == {
        (3, "lon", "'87,36'", "coordinate is not a number"),
        (4, "lat", "<missing>", "missing coordinate"),
    }
    assert raw.geometry.isna().tolist() == [False, True, True]


@pytest.mark.parametrize("crs", ["EPSG:32645", XINJIANG_METRIC_CRS])
def test_projected_file_is_transformed_to_wgs84_within_a_metre(tmp_path, crs):
    expected = valid_mixed()
    path = tmp_path / "projected.gpkg"
    expected.to_crs(crs).to_file(path, driver="GPKG")
    report = check_file(str(path))
    assert report.ok, [str(p) for p in report.problems]
    shift_m = report.targets.to_crs(XINJIANG_METRIC_CRS).centroid.distance(
        expected.to_crs(XINJIANG_METRIC_CRS).centroid
    )
    assert shift_m.max() < 1.0


def test_csv_with_stated_projected_crs(tmp_path):
    expected = valid_points()
    utm = expected.to_crs("EPSG:32645")
    rows = points_as_csv_rows(utm)
    path = write_csv(tmp_path / "utm.csv", rows)
    wrong = check_file(str(path))  # read as lon/lat: hundreds of thousands of "degrees"
    assert {p.reason.split(",")[0] for p in wrong.errors} == {"coordinates are outside the lon/lat range"}
    right = check_file(str(path), crs="EPSG:32645")
    assert right.ok
    shift_m = right.targets.to_crs(XINJIANG_METRIC_CRS).distance(expected.to_crs(XINJIANG_METRIC_CRS))
    assert shift_m.max() < 1.0


def test_shapefile_without_prj_needs_a_stated_crs(tmp_path):
    expected = valid_points()
    write_shapefile(expected, tmp_path / "noprj.shp")
    (tmp_path / "noprj.prj").unlink()
    report = check_file(str(tmp_path / "noprj.shp"))
    assert [(p.row, p.field) for p in report.errors] == [(None, "crs")]
    assert "--crs" in report.errors[0].reason
    assert report.targets.empty
    assert check_file(str(tmp_path / "noprj.shp"), crs="EPSG:4326").ok


def test_stated_crs_that_contradicts_the_file_is_a_warning(tmp_path):
    path = tmp_path / "t.gpkg"
    valid_points().to_crs("EPSG:32645").to_file(path, driver="GPKG")
    raw = read_raw(path, crs="EPSG:32644")
    assert [(p.field, p.severity) for p in raw.problems] == [("crs", "warning")]


def test_unreadable_files_raise_layer_file_error(tmp_path):
    (tmp_path / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    (tmp_path / "broken.zip").write_bytes(b"PK not really a zip")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    (tmp_path / "drawing.dwg").write_bytes(b"")
    (tmp_path / "ragged.csv").write_text('a,b\n1,"2\n', encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "noshp.zip", "w") as archive:
        archive.writestr("readme.txt", "no shapefile here")
    cases = {
        "broken.geojson": "cannot read as GeoJSON",
        "broken.zip": "not a readable zip file",
        "empty.csv": "the file is empty",
        "drawing.dwg": "unknown file type",
        "ragged.csv": "not a readable CSV file",
        "noshp.zip": "expected one .shp file in the zip, found no",
        "missing.geojson": "no such file",
    }
    for name, message in cases.items():
        with pytest.raises(LayerFileError, match=message):
            read_raw(tmp_path / name)
    with pytest.raises(LayerFileError, match="cannot understand the CRS"):
        read_raw(tmp_path / "broken.geojson", crs="EPSG:nonsense")


def test_geojson_rows_are_feature_numbers(tmp_path):
    features = [({"site_id": f"PS-{i}"}, {"type": "Point", "coordinates": list(URUMQI)}) for i in range(3)]
    raw = read_raw(write_geojson(tmp_path / "f.geojson", features))
    assert (raw.row_label, raw.rows) == ("feature", [1, 2, 3])
    assert np.allclose(raw.geometry.x, URUMQI[0])
