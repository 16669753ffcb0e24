"""The pieces that read office registers: DMS text, packed ddd.mmss, credit codes, industry table,
header aliases, DBF encoding detection, zh-CN dates (issue 19)."""

from __future__ import annotations

import datetime as dt

import pytest
from layer_samples import write_csv

from layers.dms import CoordinateError, looks_packed, parse_coordinate, unpack
from layers.encoding import detect_dbf_encoding
from layers.office import (
    column_for_header,
    credit_check_char,
    credit_code_problem,
    generated_site_id,
    kind_for_industry,
    layer_value,
    same_county,
)
from layers.validate import check_file

LON = 87 + 41 / 60 + 18.6 / 3600  # 87°41′18.6″


@pytest.mark.parametrize(
    "text",
    [
        "87°41′18.6″",
        "87°41'18.6\"",
        "87度41分18.6秒",
        "87.41.18.6",
        "87:41:18.6",
        "87 41 18.6",
        "E87°41′18.6″",
        "东经87°41′18.6″",
        "８７°４１′１８.６″",  # full-width, as a Chinese input method types it
        "87°41.31′",
    ],
)
def test_dms_forms_are_read(text):
    assert parse_coordinate(text) == pytest.approx(LON, abs=1e-9)


def test_southern_and_western_hemispheres_are_negative():
    assert parse_coordinate("43°49′30″S") == pytest.approx(-43.825)
    assert parse_coordinate("W87.41.18.6") == pytest.approx(-LON)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("87°61′", "minutes and seconds must be below 60"),
        ("87°41′60″", "minutes and seconds must be below 60"),
        ("87,36", "coordinate is not a number"),
        ("87°4x", "neither a number nor degrees-minutes-seconds"),
    ],
)
def test_bad_coordinates_say_why(text, reason):
    with pytest.raises(CoordinateError, match=reason):
        parse_coordinate(text)


def test_packed_ddd_mmss():
    assert unpack(87.4119) == pytest.approx(87 + 41 / 60 + 19 / 3600)
    assert unpack(43.491860) == pytest.approx(43 + 49 / 60 + 18.6 / 3600)
    assert looks_packed("87.4119") and looks_packed(87.4119)
    assert not looks_packed("87.6886")  # 68 minutes cannot be
    assert not looks_packed("87.69")  # too few decimals to be mmss
    with pytest.raises(CoordinateError):
        unpack(87.6886)


def test_credit_code_check_digit():
    # The example code printed in GB 32100-2015.
    assert credit_code_problem("91350100M000100Y43") is None
    assert credit_code_problem("91350100M000100Y44") == (
        "check digit is 4 but should be 3 (GB 32100-2015); a typo?"
    )
    assert "18 characters" in credit_code_problem("91350100M000100Y4")
    assert "cannot occur" in credit_code_problem("91350100M000100YO3")
    assert credit_check_char("91350100M000100Y4") == "3"


def test_generated_ids_are_stable_and_distinct():
    first = generated_site_id("pollution_source", "米东区测试化工有限公司")
    assert first == generated_site_id("pollution_source", " 米东区测试化工有限公司 ")
    assert first.startswith("PS-G") and len(first) == 14
    assert first != generated_site_id("pollution_source", "米东区测试化工二厂")
    assert generated_site_id("water_source", "米东区测试化工有限公司").startswith("WS-G")


@pytest.mark.parametrize(
    ("industry", "kind"),
    [
        ("C2614 有机化学原料制造", "key_discharge_unit"),
        ("污水处理及其再生利用（D4620）", "sewage_plant"),
        ("N7724危险废物治理", "hazardous_waste"),
        ("A0313 猪的饲养", "livestock_farm"),
        ("B0610 烟煤和无烟煤开采洗选", "mine"),
        ("铁矿尾矿库", "tailings_pond"),
        ("火力发电 D4411", "key_discharge_unit"),
        ("零售业", None),
        (None, None),
    ],
)
def test_industry_table(industry, kind):
    assert kind_for_industry(industry) == kind


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("单位名称", "name"),
        (" 统一社会信用代码 ", "credit_code"),
        ("所属区县", "county_given"),
        ("县（市、区）", "county_given"),
        ("行业类别", "industry"),
        ("经度（°）", "lon"),
        ("纬度", "lat"),
        ("Longitude", "lon"),
        ("北坐标", "northing"),
        ("Risk_Level", "risk_level"),
    ],
)
def test_header_aliases(header, column):
    assert column_for_header(header) == column


def test_chinese_layer_names_and_county_comparison():
    assert layer_value("污染源") == "pollution_source"
    assert layer_value("饮用水水源地") == "water_source"
    assert same_county("米东区", "米东区") and same_county("乌鲁木齐市米东区", "米东区")
    assert same_county("米东", "米东区")
    assert not same_county("天山区", "米东区")


def _dbf(records: list[bytes], ldid: int = 0) -> bytes:
    """A minimal DBF with one character field as wide as the longest record."""
    width = max(len(r) for r in records)
    header = bytearray(32)
    header[0] = 3
    header[4:8] = len(records).to_bytes(4, "little")
    header[8:10] = (32 + 32 + 1).to_bytes(2, "little")
    header[10:12] = (width + 1).to_bytes(2, "little")
    header[29] = ldid
    field = bytearray(32)
    field[0:4] = b"NAME"
    field[11] = ord("C")
    field[16] = width
    body = b"".join(b" " + r.ljust(width) for r in records)
    return bytes(header + field) + b"\r" + body + b"\x1a"


def test_encoding_detection(tmp_path):
    names = ["米东区", "库尔勒犇喆堃"]
    gbk = tmp_path / "gbk.dbf"
    gbk.write_bytes(_dbf([n.encode("gb18030") for n in names]))
    assert detect_dbf_encoding(tmp_path / "gbk.shp").encoding == "GB18030"
    utf8 = tmp_path / "utf8.dbf"
    utf8.write_bytes(_dbf([n.encode("utf-8") for n in names]))
    assert detect_dbf_encoding(tmp_path / "utf8.shp").encoding == "UTF-8"
    ldid = tmp_path / "ldid.dbf"
    ldid.write_bytes(_dbf([b"ascii only"], ldid=0x4D))
    guess = detect_dbf_encoding(tmp_path / "ldid.shp")
    assert (guess.encoding, guess.guessed) == ("GB18030", False)
    (tmp_path / "gbk.cpg").write_text("GB2312", encoding="ascii")
    assert detect_dbf_encoding(tmp_path / "gbk.shp").encoding == "GB18030"
    (tmp_path / "utf8.cpg").write_text("UTF-8", encoding="ascii")
    assert detect_dbf_encoding(tmp_path / "utf8.shp").encoding == "UTF-8"


def test_zh_cn_dates_and_excel_serials(tmp_path):
    base = {"name": "测试", "layer": "污染源", "kind": "重点排污单位", "lon": 87.6168, "lat": 43.8256}
    written = ["2026/10/9", "2026年10月9日", "2026.10.9", "20261009", "46304", "2026-10-09 08:30"]
    rows = [{**base, "site_id": f"PS-D{i}", "last_inspected": text} for i, text in enumerate(written)]
    rows.append({**base, "site_id": "PS-DX", "last_inspected": "2026年2月30日"})
    report = check_file(str(write_csv(tmp_path / "dates.csv", rows)), today=dt.date(2026, 12, 1))
    assert [(p.row, p.field, p.reason) for p in report.errors] == [
        (8, "last_inspected", "not a date (no such day)")
    ]
    assert {d.date() for d in report.targets["last_inspected"]} == {dt.date(2026, 10, 9)}
    assert set(report.targets["layer"]) == {"pollution_source"}
    assert set(report.targets["kind"]) == {"key_discharge_unit"}
