"""Write the office-register test corpus of this folder (see README.md); run from the repository root:

    .venv/bin/python tests/data/office/make_corpus.py

Every file holds the same few made-up units at real places in Xinjiang (``TRUTH``: WGS-84
positions), written the way registers really arrive: Chinese headers, DMS, GCJ-02 / BD-09
coordinates from web maps, GBK Shapefiles without ``.cpg``, Z values, a MultiPatch. The web-map
coordinates are made with PRCoords (CC0, a test dependency), not with the project's own
converter, so the import tests compare two implementations. Writing the ``.xls`` needs xlwt
(``pip install xlwt``; not a project dependency: only this script writes .xls).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import prcoords
from shapely.geometry import Point, box

HERE = Path(__file__).resolve().parent

#: name, credit code (17 + check character, or None), county, industry, lon, lat (WGS-84 truth)
TRUTH = [
    ("米东区测试化工有限公司", "91650109MA77F0RK1", "米东区", "C2614 有机化学原料制造", 87.6550, 43.9610),
    ("昌吉市测试污水处理厂", "12652301MB1234567", "昌吉市", "D4620 污水处理及其再生利用", 87.3040, 44.0130),
    ("石河子测试危废处置中心", "91659001MA78ABCD1", "石河子市", "N7724 危险废物治理", 86.0410, 44.3060),
    ("库尔勒测试养殖场（犇喆堃）", None, "库尔勒市", "A0313 猪的饲养", 86.1500, 41.7600),
    ("沙依巴克区测试商贸公司", "91650103MA775XY91", "沙依巴克区", "零售业", 87.5800, 43.8000),
]


def credit_code(first17: str | None) -> str | None:
    """A valid GB 32100-2015 code from 17 characters (the check character computed here)."""
    if first17 is None:
        return None
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(chars.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + chars[(31 - total % 31) % 31]


def dms(value: float, style: str) -> str:
    """``value`` as degrees-minutes-seconds text in one of the styles registers use (0.1″ ≈ 3 m)."""
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = round((minutes_float - minutes) * 60, 1)
    if seconds >= 60:
        seconds, minutes = 0.0, minutes + 1
    return {
        "symbols": f"{degrees}°{minutes}′{seconds}″",
        "ascii": f"{degrees}°{minutes}'{seconds}\"",
        "chinese": f"{degrees}度{minutes}分{seconds}秒",
        "dotted": f"{degrees}.{minutes:02d}.{seconds}",
    }[style]


def packed(value: float) -> str:
    """``value`` as packed ddd.mmss (seconds rounded to whole seconds: about 30 m)."""
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = round((minutes_float - minutes) * 60)
    if seconds == 60:
        seconds, minutes = 0, minutes + 1
    return f"{degrees}.{minutes:02d}{seconds:02d}"


HEADERS = [
    "序号",
    "单位名称",
    "统一社会信用代码",
    "所属区县",
    "行业类别",
    "经度",
    "纬度",
    "最近检查日期",
    "监管类别",
]


def write_permit_xlsx() -> None:
    """The permit-system export: a title row, Chinese headers, DMS and decimals, dates of every kind."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "重点排污单位名录"
    sheet.append(["乌鲁木齐及周边重点排污单位名录（测试数据）"])
    sheet.append([])
    sheet.append(HEADERS)
    dates = [dt.datetime(2026, 9, 1), "2026/10/9", "2026年10月9日", 46200, None]
    styles = ["symbols", "chinese", None, "dotted", "ascii"]
    for number, ((name, code, county, industry, lon, lat), date, style) in enumerate(
        zip(TRUTH, dates, styles, strict=True), start=1
    ):
        lon_cell = round(lon, 6) if style is None else dms(lon, style)
        lat_cell = round(lat, 6) if style is None else dms(lat, style)
        category = "重点" if number % 2 else "一般"
        sheet.append([number, name, credit_code(code), county, industry, lon_cell, lat_cell, date, category])
    sheet.cell(row=4, column=8).number_format = "yyyy/m/d"
    sheet.append([])  # registers end with blank rows
    book.create_sheet("说明").append(["本表为测试数据"])
    book.save(HERE / "permit_register.xlsx")


def write_shuangsuiji_xls() -> None:
    """The 双随机 platform export as .xls (BIFF8): decimal degrees, status in Chinese, date cells."""
    try:
        import xlwt  # noqa: PLC0415 - only this script needs it, and only for this file
    except ImportError:
        print(
            "xlwt is not installed: shuangsuiji_register.xls kept as it is (pip install xlwt to rewrite it)"
        )
        return

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("检查对象")
    headers = [
        "污染源名称",
        "统一社会信用代码",
        "所属区县",
        "行业类别",
        "经度",
        "纬度",
        "状态",
        "上次检查日期",
    ]
    for column, header in enumerate(headers):
        sheet.write(0, column, header)
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for row, (name, code, county, industry, lon, lat) in enumerate(TRUTH[:3], start=1):
        values = [name, credit_code(code), county, industry, round(lon, 6), round(lat, 6), "正常生产"]
        for column, value in enumerate(values):
            sheet.write(row, column, value)
        sheet.write(row, 7, dt.date(2026, 3, row), date_style)
    book.save(str(HERE / "shuangsuiji_register.xls"))


def write_csv_files() -> None:
    """GB18030 CSV with DMS; web-map coordinates (GCJ-02, BD-09); packed ddd.mmss; survey X/Y; WKT."""
    lines = ["单位名称,统一社会信用代码,所属区县,行业类别,经度,纬度,最近检查日期"]
    for (name, code, county, industry, lon, lat), style in zip(
        TRUTH, ["chinese", "dotted", "symbols", "ascii", "chinese"], strict=True
    ):
        lon_text, lat_text = dms(lon, style), dms(lat, style)
        if style == "ascii":  # a comma-free CSV cell cannot hold the '"' of seconds unquoted
            lon_text, lat_text = (
                '"' + lon_text.replace('"', '""') + '"',
                '"' + lat_text.replace('"', '""') + '"',
            )
        lines.append(f"{name},{credit_code(code) or ''},{county},{industry},{lon_text},{lat_text},2026/10/9")
    (HERE / "register_gbk_dms.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))

    for system, convert in (("gcj02", prcoords.wgs_gcj), ("bd09", prcoords.wgs_bd)):
        rows = ["名称,类型,经度,纬度"]
        for name, _, _, _, lon, lat in TRUTH:
            shifted = convert(prcoords.Coords(lat, lon))
            rows.append(f"{name},重点排污单位,{shifted.lon:.6f},{shifted.lat:.6f}")
        (HERE / f"picked_{system}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    rows = ["名称,类型,经度,纬度"] + [f"{t[0]},重点排污单位,{packed(t[4])},{packed(t[5])}" for t in TRUTH]
    (HERE / "packed_dms.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    # Survey table in CGCS2000 3-degree Gauss-Kruger, central meridian 87°E (EPSG:4538): X north, Y east.
    urumqi = gpd.GeoSeries([Point(t[4], t[5]) for t in TRUTH[:2]], crs="EPSG:4326").to_crs("EPSG:4538")
    rows = ["名称,类型,北坐标,东坐标"] + [
        f"{t[0]},重点排污单位,{p.y:.2f},{p.x:.2f}" for t, p in zip(TRUTH[:2], urumqi, strict=True)
    ]
    (HERE / "survey_northing_easting.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rows = ["name,kind,x,y"] + [
        f"{t[0]},重点排污单位,{p.y:.2f},{p.x:.2f}" for t, p in zip(TRUTH[:2], urumqi, strict=True)
    ]
    (HERE / "survey_xy_swapped.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # Xian 1980 3-degree Gauss-Kruger CM 87°E (EPSG:2374; PROJ has only a ballpark datum shift).
    xian = gpd.GeoSeries([Point(t[4], t[5]) for t in TRUTH[:2]], crs="EPSG:4326").to_crs("EPSG:2374")
    rows = ["名称,类型,东坐标,北坐标"] + [
        f"{t[0]},重点排污单位,{p.x:.2f},{p.y:.2f}" for t, p in zip(TRUTH[:2], xian, strict=True)
    ]
    (HERE / "xian80_gk.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    zone = box(87.60, 43.95, 87.62, 43.97).wkt
    (HERE / "water_zone_wkt.csv").write_text(
        f'名称,类型,wkt\n米东区测试水源保护区,饮用水水源保护区,"{zone}"\n', encoding="utf-8"
    )
    (HERE / "case_clash.csv").write_text(
        "site_id,Name,name,layer,kind,lon,lat\nPS-C1,A,B,污染源,重点排污单位,87.6,43.8\n", encoding="utf-8"
    )


def _frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "名称": [t[0] for t in rows],
            "所属区县": [t[2] for t in rows],
            "行业类别": [t[3] for t in rows],
        },
        geometry=[Point(t[4], t[5]) for t in rows],
        crs="EPSG:4326",
    )


def _zip(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(folder.iterdir()):
            zipped.write(part, part.name)
        for name, data in (extra or {}).items():
            zipped.writestr(name, data)


def write_shapefiles() -> None:
    """GBK without .cpg (with and without the language-driver byte), a GB2312 .cpg, a MultiPatch."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        for name, ldid, cpg in (
            ("gbk_no_cpg", 0x00, None),
            ("gbk_ldid", 0x4D, None),
            ("gb2312_cpg", 0x00, "GB2312"),
        ):
            folder = tmp / name
            folder.mkdir()
            _frame(TRUTH).to_file(folder / f"{name}.shp", driver="ESRI Shapefile", encoding="GB18030")
            (folder / f"{name}.cpg").unlink(missing_ok=True)
            if cpg is not None:
                (folder / f"{name}.cpg").write_text(cpg, encoding="ascii")
            dbf = bytearray((folder / f"{name}.dbf").read_bytes())
            dbf[29] = ldid
            (folder / f"{name}.dbf").write_bytes(bytes(dbf))
            extra = (
                {f"__MACOSX/._{name}.shp": b"\x00\x05\x16\x07resource fork"} if name == "gbk_no_cpg" else None
            )
            _zip(folder, HERE / f"{name}.zip", extra)
        folder = tmp / "multipatch"
        folder.mkdir()
        record = gpd.GeoDataFrame(
            {"name": [TRUTH[0][0]]}, geometry=[Point(TRUTH[0][4], TRUTH[0][5])], crs="EPSG:4326"
        )
        record.to_file(folder / "multipatch.shp", driver="ESRI Shapefile", encoding="UTF-8")
        _write_multipatch(folder / "multipatch", TRUTH[0][4], TRUTH[0][5])
        _zip(folder, HERE / "multipatch.zip")


def _write_multipatch(stem: Path, lon: float, lat: float) -> None:
    """One MultiPatch record (a triangle strip, shape type 31) in .shp/.shx, by the ESRI spec."""
    xs, ys, zs = (
        [lon, lon + 0.001, lon, lon + 0.001],
        [lat, lat, lat + 0.001, lat + 0.001],
        [900.0, 900, 910, 910],
    )
    bbox = (min(xs), min(ys), max(xs), max(ys))
    content = struct.pack("<i4d", 31, *bbox)
    content += struct.pack("<ii", 1, 4) + struct.pack("<i", 0) + struct.pack("<i", 0)  # parts, part types
    content += b"".join(struct.pack("<2d", x, y) for x, y in zip(xs, ys, strict=True))
    content += struct.pack("<2d", min(zs), max(zs)) + struct.pack("<4d", *zs)
    record = struct.pack(">ii", 1, len(content) // 2) + content

    def header(length_bytes: int) -> bytes:
        return (
            struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length_bytes // 2)
            + struct.pack("<ii", 1000, 31)
            + struct.pack("<8d", *bbox, min(zs), max(zs), 0.0, 0.0)
        )

    stem.with_suffix(".shp").write_bytes(header(100 + len(record)) + record)
    stem.with_suffix(".shx").write_bytes(header(108) + struct.pack(">ii", 50, len(content) // 2))


def write_geojson_with_z() -> None:
    """Points with an elevation (as a GPS or a drone survey writes them)."""
    features = [
        {
            "type": "Feature",
            "properties": {
                "site_id": f"PS-Z{i}",
                "name": t[0],
                "layer": "pollution_source",
                "kind": "key_discharge_unit",
            },
            "geometry": {"type": "Point", "coordinates": [t[4], t[5], 912.5 + i]},
        }
        for i, t in enumerate(TRUTH[:2], start=1)
    ]
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    (HERE / "points_with_z.geojson").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_permit_xlsx()
    write_shuangsuiji_xls()
    write_csv_files()
    write_shapefiles()
    write_geojson_with_z()
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)
    total = sum(p.stat().st_size for p in HERE.iterdir())
    print(f"{len(list(HERE.iterdir()))} files, {total / 1024:.0f} KiB")
