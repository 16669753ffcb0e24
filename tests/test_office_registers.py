"""The office-register corpus (tests/data/office, see its README) through ``check`` and ``import``:
files of each kind imported or refused as a person would expect, Chinese text intact, positions
within 10 m of the truth, warnings naming row and field (issue 19)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from layer_samples import private_data_copy
from shapely.geometry import Point

from layers import check as check_cli
from layers import import_cli
from layers.datasets import REGISTRY_FILES, REPO_ROOT, data_path, load_targets
from layers.importer import import_file
from layers.io import read_raw
from layers.problems import LayerFileError
from layers.schema import XINJIANG_METRIC_CRS
from layers.shapefile import write_register_shapefile
from layers.validate import check_file

OFFICE = Path(__file__).parent / "data" / "office"
TODAY = dt.date(2026, 12, 1)


def _corpus_module():
    spec = importlib.util.spec_from_file_location("make_corpus", OFFICE / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus_module()
TRUTH = {row[0]: (row[4], row[5]) for row in CORPUS.TRUTH}


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of the shipped data (geo + registry) that the test may change."""
    copy = private_data_copy(tmp_path, monkeypatch)
    return copy


def _errors_m(targets: gpd.GeoDataFrame) -> dict[str, float]:
    """Distance in metres of each imported target from its true position, by name."""
    truth = gpd.GeoSeries([Point(TRUTH[name]) for name in targets["name"]], crs="EPSG:4326")
    got = targets.geometry.reset_index(drop=True)
    metres = got.to_crs(XINJIANG_METRIC_CRS).distance(truth.to_crs(XINJIANG_METRIC_CRS))
    return dict(zip(targets["name"], metres.round(2), strict=True))


def _within(targets: gpd.GeoDataFrame, metres: float) -> None:
    errors = _errors_m(targets)
    assert len(errors) == len(targets)
    assert max(errors.values()) < metres, errors


def _problems(report, severity: str | None = None) -> set[tuple[int | None, str]]:
    return {(p.row, p.field) for p in report.problems if severity is None or p.severity == severity}


def test_permit_xlsx_with_only_chinese_headers_imports_as_pollution_sources(data_copy):
    before = len(load_targets())
    result = import_file(OFFICE / "permit_register.xlsx", layer="pollution_source", today=TODAY)
    assert result.ok, [str(p) for p in result.report.problems]
    assert (result.added, result.replaced) == (5, 0)
    stored = load_targets()
    assert len(stored) == before + 5
    new = stored[stored["name"].isin(TRUTH)].set_index("name")
    # Chinese text intact, including characters outside GB2312.
    assert set(new.index) == set(TRUTH)
    assert "库尔勒测试养殖场（犇喆堃）" in new.index
    _within(stored[stored["name"].isin(TRUTH)], 10.0)
    # Site ids from the credit codes; the unit without one gets a stable generated id.
    code = CORPUS.credit_code("91650109MA77F0RK1")
    assert new.loc["米东区测试化工有限公司", "site_id"] == f"PS-{code}"
    assert new.loc["库尔勒测试养殖场（犇喆堃）", "site_id"].startswith("PS-G")
    assert new["kind"].to_dict() == {
        "米东区测试化工有限公司": "key_discharge_unit",
        "昌吉市测试污水处理厂": "sewage_plant",
        "石河子测试危废处置中心": "hazardous_waste",
        "库尔勒测试养殖场（犇喆堃）": "livestock_farm",
        "沙依巴克区测试商贸公司": "key_discharge_unit",  # unknown industry: the documented default
    }
    assert new.loc["米东区测试化工有限公司", "category"] == "key"
    assert new.loc["昌吉市测试污水处理厂", "category"] == "ordinary"
    assert {
        name: None if d is None or str(d) == "NaT" else str(d.date())
        for name, d in new["last_inspected"].items()
    } == {
        "米东区测试化工有限公司": "2026-09-01",  # an Excel date cell
        "昌吉市测试污水处理厂": "2026-10-09",  # 2026/10/9 typed as text
        "石河子测试危废处置中心": "2026-10-09",  # 2026年10月9日
        "库尔勒测试养殖场（犇喆堃）": "2026-06-27",  # Excel serial 46200 in a "General" cell
        "沙依巴克区测试商贸公司": None,
    }
    assert new.loc["米东区测试化工有限公司", "county_name"] == "米东区"
    # Warnings name the sheet row (the header is row 3 under a title) and the field.
    warnings = _problems(result.report, "warning")
    assert (7, "site_id") in warnings  # generated id reported
    assert (8, "industry") in warnings  # 零售业 is not in the industry table
    assert not result.report.errors


def test_reimporting_the_same_register_finds_the_same_ids(data_copy):
    assert import_file(OFFICE / "permit_register.xlsx", layer="pollution_source", today=TODAY).ok
    again = import_file(OFFICE / "permit_register.xlsx", layer="pollution_source", today=TODAY)
    assert not again.ok
    assert {p.reason.split(" in ")[0] for p in again.report.errors} == {"site_id already exists"}
    updated = import_file(OFFICE / "permit_register.xlsx", layer="污染源", update=True, today=TODAY)
    assert (updated.added, updated.replaced) == (0, 5)


def test_xls_from_the_shuangsuiji_platform(data_copy):
    report = check_file(str(OFFICE / "shuangsuiji_register.xls"), layer="污染源", today=TODAY)
    assert report.ok, [str(p) for p in report.problems]
    assert report.targets["name"].tolist() == [row[0] for row in CORPUS.TRUTH[:3]]
    assert set(report.targets["status"]) == {"operating"}  # 正常生产
    assert [str(d.date()) for d in report.targets["last_inspected"]] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]
    _within(report.targets, 10.0)


def test_gbk_csv_with_every_dms_form(data_copy):
    report = check_file(str(OFFICE / "register_gbk_dms.csv"), layer="pollution_source", today=TODAY)
    assert report.ok, [str(p) for p in report.problems]
    assert set(report.targets["name"]) == set(TRUTH)
    _within(report.targets, 10.0)


@pytest.mark.parametrize(("option", "file"), [("gcj02", "picked_gcj02.csv"), ("bd09", "picked_bd09.csv")])
def test_web_map_coordinates_land_within_10_m(data_copy, option, file):
    report = check_file(str(OFFICE / file), layer="pollution_source", today=TODAY, **{option: True})
    assert report.ok, [str(p) for p in report.errors]
    _within(report.targets, 10.0)
    unconverted = check_file(str(OFFICE / file), layer="pollution_source", today=TODAY)
    assert min(_errors_m(unconverted.targets).values()) > 200  # what the flag is for


def test_bd09_read_as_gcj02_is_still_far_off(data_copy):
    report = check_file(str(OFFICE / "picked_bd09.csv"), layer="pollution_source", gcj02=True, today=TODAY)
    assert min(_errors_m(report.targets).values()) > 500


def test_packed_ddd_mmss_is_refused_with_a_hint_then_read_on_request(data_copy):
    refused = check_file(str(OFFICE / "packed_dms.csv"), layer="pollution_source", today=TODAY)
    assert not refused.ok
    assert {(p.row, p.field) for p in refused.errors} == {(line, "lon/lat") for line in range(2, 7)}
    assert all("--packed-dms" in p.reason and "km off" in p.reason for p in refused.errors)
    read = check_file(str(OFFICE / "packed_dms.csv"), layer="pollution_source", packed_dms=True, today=TODAY)
    assert read.ok
    _within(read.targets, 25.0)  # the file rounds to whole seconds (up to ~20 m)
    as_decimal = check_file(
        str(OFFICE / "packed_dms.csv"), layer="pollution_source", packed_dms=False, today=TODAY
    )
    assert as_decimal.ok and min(_errors_m(as_decimal.targets).values()) > 5_000


def test_a_row_that_looks_packed_is_warned_about(data_copy, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(
        "名称,类型,经度,纬度\nA,重点排污单位,87.6168,43.8256\nB,重点排污单位,87.4119,43.4915\n",
        encoding="utf-8",
    )
    report = check_file(str(path), layer="pollution_source", today=TODAY)
    assert report.ok
    packed = [p for p in report.problems if p.field == "lon/lat"]
    assert [(p.row, p.severity) for p in packed] == [(3, "warning")]
    assert "could be packed" in packed[0].reason and "km away" in packed[0].reason


def test_survey_northing_easting_and_the_swap_hint(data_copy):
    report = check_file(
        str(OFFICE / "survey_northing_easting.csv"), layer="pollution_source", crs="EPSG:4538", today=TODAY
    )
    assert report.ok, [str(p) for p in report.problems]
    _within(report.targets, 1.0)
    swapped = check_file(
        str(OFFICE / "survey_xy_swapped.csv"), layer="pollution_source", crs="EPSG:4538", today=TODAY
    )
    assert [(p.row, "X and Y swapped?" in p.reason) for p in swapped.errors] == [(2, True), (3, True)]
    no_crs = check_file(str(OFFICE / "survey_northing_easting.csv"), layer="pollution_source", today=TODAY)
    assert any(p.row is None and "--crs" in p.reason for p in no_crs.errors)


def test_xian_1980_is_converted_with_a_warning(data_copy):
    report = check_file(str(OFFICE / "xian80_gk.csv"), layer="pollution_source", crs="EPSG:2374", today=TODAY)
    assert report.ok
    warning = [p for p in report.problems if p.field == "crs"]
    assert len(warning) == 1 and "ballpark" in warning[0].reason and "Xian 1980" in warning[0].reason
    _within(report.targets, 300.0)  # the datum shift PROJ ignores is what the warning is about
    cgcs = check_file(
        str(OFFICE / "survey_northing_easting.csv"), layer="pollution_source", crs="EPSG:4538", today=TODAY
    )
    assert not [p for p in cgcs.problems if p.field == "crs"]


def test_wkt_polygon_with_chinese_kind(data_copy):
    report = check_file(str(OFFICE / "water_zone_wkt.csv"), layer="水源地", today=TODAY)
    assert report.ok, [str(p) for p in report.problems]
    target = report.targets.iloc[0]
    assert (target["layer"], target["kind"], target.geometry.geom_type) == (
        "water_source",
        "drinking_water_zone",
        "Polygon",
    )
    assert target["name"] == "米东区测试水源保护区"


@pytest.mark.parametrize("archive", ["gbk_no_cpg.zip", "gbk_ldid.zip", "gb2312_cpg.zip"])
def test_chinese_shapefiles_keep_their_text(data_copy, archive):
    report = check_file(str(OFFICE / archive), layer="pollution_source", today=TODAY)
    assert report.ok, [str(p) for p in report.problems]
    assert report.targets["name"].tolist() == [row[0] for row in CORPUS.TRUTH]  # 犇喆堃 included
    assert [p for p in report.problems if p.field == "encoding" and "GB18030" in p.reason]
    _within(report.targets, 1.0)


def test_stated_encoding_wins(data_copy):
    raw = read_raw(OFFICE / "gbk_no_cpg.zip", encoding="latin-1")  # wrong on purpose: mojibake
    assert "米东区测试化工有限公司" not in raw.frame.astype(str).to_numpy().ravel().tolist()
    assert not [p for p in raw.problems if p.field == "encoding"]  # stated, not guessed: no note
    with pytest.raises(LayerFileError, match="unknown encoding"):
        read_raw(OFFICE / "gbk_no_cpg.zip", encoding="klingon")


def test_macosx_entries_do_not_count_as_a_second_shapefile():
    import zipfile

    names = zipfile.ZipFile(OFFICE / "gbk_no_cpg.zip").namelist()
    assert any(name.startswith("__MACOSX/") for name in names)
    assert read_raw(OFFICE / "gbk_no_cpg.zip").format == "Shapefile"


def test_multipatch_is_a_clear_error_in_import_as_in_check(data_copy, capsys):
    before = {p.name: p.read_bytes() for p in (data_copy / "registry").iterdir()}
    assert import_cli.main([str(OFFICE / "multipatch.zip"), "--layer", "pollution_source"]) == 1
    out = capsys.readouterr().out
    assert "geometry type TIN (a 3D surface, e.g. a Shapefile MultiPatch) cannot be imported" in out
    assert "nothing imported" in out
    assert check_cli.main([str(OFFICE / "multipatch.zip")]) == 1
    assert "cannot be imported" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in (data_copy / "registry").iterdir()} == before


def test_columns_differing_only_in_case_are_an_error_not_a_traceback(data_copy, capsys):
    with pytest.raises(LayerFileError, match="columns 'Name' and 'name' both mean 'name'"):
        read_raw(OFFICE / "case_clash.csv")
    assert import_cli.main([str(OFFICE / "case_clash.csv")]) == 1
    assert "both mean 'name'" in capsys.readouterr().out


def test_a_bang_in_the_folder_name_is_harmless(data_copy, tmp_path):
    folder = tmp_path / "采样!2026"
    folder.mkdir()
    with_z = shutil.copy(OFFICE / "points_with_z.geojson", folder / "points!.geojson")
    assert check_file(str(with_z), today=TODAY).ok
    zipped = shutil.copy(OFFICE / "gb2312_cpg.zip", folder / "gb2312_cpg.zip")
    assert check_file(str(zipped), layer="pollution_source", today=TODAY).ok
    shp_dir = folder / "shp"
    shp_dir.mkdir()
    import zipfile

    zipfile.ZipFile(OFFICE / "gbk_ldid.zip").extractall(shp_dir)
    report = check_file(str(shp_dir / "gbk_ldid.shp"), layer="pollution_source", today=TODAY)
    assert report.ok and "米东区测试化工有限公司" in report.targets["name"].tolist()
    report.targets.to_file(tmp_path / "t.gpkg", driver="GPKG")  # GDAL cannot write under a "!" either
    gpkg = shutil.copy(tmp_path / "t.gpkg", folder / "t.gpkg")
    assert check_file(str(gpkg), today=TODAY).ok


def _run(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "XUNHU_DATA_DIR": str(env_dir)}
    return subprocess.run(
        [sys.executable, "-m", "layers", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_after_importing_z_values_summary_and_draw_still_work(data_copy):
    result = import_file(OFFICE / "points_with_z.geojson", today=TODAY)
    assert result.ok
    assert [p.reason for p in result.report.problems if p.field == "geometry"] == [
        "2 geometries have Z (elevation) values; dropped, positions stored in 2D"
    ]
    stored = gpd.read_file(data_path(REGISTRY_FILES["pollution_source"]))
    assert not stored.has_z.any()
    assert stored.crs.to_epsg() == 4326
    targets = load_targets()
    assert {"PS-Z1", "PS-Z2"} <= set(targets["site_id"])
    summary = _run("summary", "--format", "json", env_dir=data_copy)
    assert summary.returncode == 0, summary.stderr
    draw = _run("draw", "--period", "2026Q4", "--seed", "3", env_dir=data_copy)
    assert draw.returncode == 0, draw.stderr
    json.loads(draw.stdout)
    # A later import into the same layer still works.
    assert import_file(OFFICE / "permit_register.xlsx", layer="pollution_source", today=TODAY).ok


def test_a_registry_file_already_holding_z_values_still_loads(data_copy):
    path = data_path(REGISTRY_FILES["pollution_source"])
    frame = gpd.read_file(path)
    frame = frame.set_geometry(
        [Point(p.x, p.y, 100.0) if p.geom_type == "Point" else p for p in frame.geometry], crs="EPSG:4326"
    )
    path.unlink()
    frame.to_file(path, driver="GeoJSON", layer_options={"RFC7946": "YES"})  # as the importer writes
    assert gpd.read_file(path).crs.to_epsg() == 4979  # the damage the issue describes
    targets = load_targets()
    assert targets.crs.to_epsg() == 4326 and not targets.has_z.any()


def test_register_shapefile_round_trip_keeps_every_column(data_copy, tmp_path):
    stored = load_targets(("pollution_source",)).head(30)
    path = write_register_shapefile(stored, tmp_path / "register.shp")
    assert (tmp_path / "register.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    report = check_file(str(path), existing_ids=(), today=dt.date(2030, 1, 1))
    assert report.ok, [str(p) for p in report.errors]
    back = report.targets.set_index("site_id").loc[stored["site_id"]]
    for column in ("name", "prefecture_code", "prefecture_name", "county_code", "county_name", "kind"):
        assert back[column].tolist() == stored[column].tolist(), column
    for column in ("risk_level", "inspect_every_days", "online_monitoring", "night_check", "simulated"):
        assert back[column].tolist() == stored[column].tolist(), column
    assert back["last_inspected"].tolist() == stored["last_inspected"].tolist()
    assert not [p for p in report.problems if "not a column" in p.reason]


def test_plain_gdal_shapefile_of_the_register_untangles_prefecture(data_copy, tmp_path):
    import warnings

    stored = load_targets(("pollution_source",)).head(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stored.to_file(tmp_path / "plain.shp", driver="ESRI Shapefile", encoding="UTF-8")
    report = check_file(str(tmp_path / "plain.shp"), today=dt.date(2030, 1, 1))
    assert report.ok
    assert report.targets["prefecture_name"].tolist() == stored["prefecture_name"].tolist()
    assert report.targets["prefecture_code"].tolist() == stored["prefecture_code"].tolist()


def test_bad_credit_code_and_wrong_county_name_the_row_and_field(data_copy, tmp_path):
    good = CORPUS.credit_code("91650109MA77F0RK1")
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    path = tmp_path / "register.csv"
    path.write_text(
        "单位名称,统一社会信用代码,所属区县,类型,经度,纬度\n"
        f"甲厂,{good},天山区,重点排污单位,87.6550,43.9610\n"
        f"乙厂,{typo},米东区,重点排污单位,87.6551,43.9611\n",
        encoding="utf-8",
    )
    report = check_file(str(path), layer="pollution_source", today=TODAY)
    assert [(p.row, p.field) for p in report.errors] == [(3, "credit_code")]
    assert f"should be {good[-1]}" in report.errors[0].reason
    county = [p for p in report.problems if p.field == "county"]
    assert [(p.row, p.value, p.severity) for p in county] == [(2, "'天山区'", "warning")]
    assert "米东区" in county[0].reason


def test_cli_accepts_chinese_layer_and_new_options(data_copy, capsys):
    assert check_cli.main([str(OFFICE / "picked_bd09.csv"), "--layer", "污染源", "--bd09"]) == 0
    assert check_cli.main([str(OFFICE / "permit_register.xlsx"), "--sheet", "说明", "--layer", "污染源"]) == 1
    assert check_cli.main([str(OFFICE / "permit_register.xlsx"), "--sheet", "9"]) == 1
    assert "no sheet '9'" in capsys.readouterr().out
    assert check_cli.main([str(OFFICE / "packed_dms.csv"), "--layer", "污染源", "--packed-dms"]) == 0
    assert check_cli.main(["x.csv", "--gcj02", "--bd09"]) == 2


def test_every_corpus_file_is_checked_without_a_traceback(data_copy):
    """Every file of the corpus goes through check: valid, or refused with a reason; never a crash."""
    expected_ok = {
        "permit_register.xlsx",
        "shuangsuiji_register.xls",
        "register_gbk_dms.csv",
        "picked_gcj02.csv",
        "picked_bd09.csv",
        "gbk_no_cpg.zip",
        "gbk_ldid.zip",
        "gb2312_cpg.zip",
        "points_with_z.geojson",
    }
    files = sorted(p for p in OFFICE.iterdir() if p.suffix in (".csv", ".xlsx", ".xls", ".zip", ".geojson"))
    assert len(files) >= 15
    outcome = {}
    for path in files:
        try:
            outcome[path.name] = check_file(str(path), layer="pollution_source", today=TODAY).ok
        except LayerFileError:
            outcome[path.name] = False
    assert {name for name, ok in outcome.items() if ok} == expected_ok


def test_corpus_is_small():
    assert sum(p.stat().st_size for p in OFFICE.iterdir() if p.is_file()) < 1_000_000


def test_csv_saved_from_a_register_with_a_title_line(data_copy, tmp_path):
    path = tmp_path / "titled.csv"
    text = "米东区重点排污单位名录（测试）,,,\n单位名称,类型,经度,纬度\n甲厂,重点排污单位,87.6550,43.9610\n乙厂,重点排污单位,87°39′,abc\n"
    path.write_text(text, encoding="gb18030")
    report = check_file(str(path), layer="pollution_source", today=TODAY)
    assert [(p.row, p.field, p.value) for p in report.errors] == [(4, "lat", "'abc'")]
    assert report.targets["name"].tolist() == ["甲厂"]  # the valid row; an import would still refuse the file
    assert [p.row for p in report.problems if p.field == "site_id"] == [3, 4]
