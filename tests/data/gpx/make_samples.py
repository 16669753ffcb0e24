"""Write the small GPX samples in this folder (run once; the files are committed).

``python tests/data/gpx/make_samples.py`` rewrites them identically. Each imitates one way real
devices and apps write GPS logs (see README.md); positions are near Urumqi, in WGS-84 unless said.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
LON, LAT = 87.60, 43.82


def trkpt(lon: float, lat: float, time: str) -> str:
    return f'      <trkpt lat="{lat:.7f}" lon="{lon:.7f}"><time>{time}</time></trkpt>\n'


def document(name: str, points: list[str], encoding: str) -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<gpx version="1.1" creator="XunHu test sample" xmlns="http://www.topografix.com/GPX/1/1">\n'
        f"  <trk>\n    <name>{name}</name>\n    <trkseg>\n"
        + "".join(points)
        + "    </trkseg>\n  </trk>\n</gpx>\n"
    )


def utc(moment: datetime) -> str:
    """ISO time in UTC with milliseconds only when there is a fraction (as most devices write)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def drive(n: int, step: timedelta, metres_per_step: float) -> list[tuple[datetime, float, float]]:
    """``n`` fixes driving east from (LON, LAT)."""
    deg = metres_per_step / 80_300.0  # metres per degree of longitude at 43.8 N
    return [(START + i * step, LON + i * deg, LAT) for i in range(n)]


def main() -> None:
    slow = drive(20, timedelta(seconds=30), 250.0)  # 30 km/h
    fixes = [trkpt(x, y, utc(t)) for t, x, y in slow]
    # GBK with a name in Chinese; GB2312-declared but holding 镕 (GBK only), as Chinese apps write.
    (HERE / "gbk.gpx").write_bytes(document("米东区巡护 第1天", fixes, "GBK").encode("gbk"))
    (HERE / "gb2312_declared.gpx").write_bytes(document("巡护 镕 第2天", fixes, "GB2312").encode("gb18030"))
    (HERE / "iso8859_1.gpx").write_bytes(document("Départ Ürümqi", fixes, "ISO-8859-1").encode("latin-1"))
    (HERE / "utf16_bom.gpx").write_bytes(document("乌鲁木齐 UTF-16", fixes, "UTF-16").encode("utf-16"))
    # 5 Hz: 300 fixes in 60 s at 36 km/h (2 m per fix), times to the millisecond.
    fast = drive(300, timedelta(milliseconds=200), 2.0)
    (HERE / "five_hz.gpx").write_text(
        document("5 Hz", [trkpt(x, y, utc(t)) for t, x, y in fast], "UTF-8"), encoding="utf-8"
    )
    # Cold start: 5 fixes at 0,0 one second apart, then 200 good fixes every 5 s.
    good = [
        (START + timedelta(seconds=5) + i * timedelta(seconds=5), x, y)
        for i, (_, x, y) in enumerate(drive(200, timedelta(seconds=5), 40.0))
    ]
    null = [trkpt(0.0, 0.0, utc(START + timedelta(seconds=i))) for i in range(5)]
    (HERE / "cold_start.gpx").write_text(
        document("cold start", null + [trkpt(x, y, utc(t)) for t, x, y in good], "UTF-8"), encoding="utf-8"
    )
    # Beijing time without a zone (what some Chinese apps write).
    beijing = [trkpt(x, y, (t + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")) for t, x, y in slow]
    (HERE / "naive_beijing.gpx").write_text(document("本地时间", beijing, "UTF-8"), encoding="utf-8")


if __name__ == "__main__":
    main()
