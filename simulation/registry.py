"""Seeded generator of the SIMULATED enforcement registry, placed on the real Xinjiang geography.

``python -m simulation registry --seed 2026 --out data/registry`` writes

* ``pollution_sources.geojson`` – about 1,000 point sources in all 24 prefecture-level units,
  clustered around real towns (GeoNames, weighted by population) and a hand-made list of real
  industrial hubs (:data:`HUBS`: Dushanzi/Karamay petrochemicals, the Zhundong coal-chemical belt,
  Hami coal, Fuyun mining, ...). Each town also gets its own sewage plant.
* ``water_sources.geojson`` – about 80 first-level drinking-water protection zones (polygons) at
  river points next to towns, at approximately placed real reservoirs and as well fields.
* ``protected_areas.geojson`` – the 8 approximate reserves of ``data/geo`` in the target schema
  plus a few simulated ecological red-line zones around real lakes and river reaches.
* ``roster.csv`` – about 150 simulated officers by prefecture detachment.

Everything except the geography is invented: names, categories, inspection history, officers.
The same seed and scale give byte-identical files (fixed order, fixed coordinate precision, no
timestamps), so the committed data can be checked by regenerating it.

Offsets and zone radii are built in :data:`layers.schema.XINJIANG_METRIC_CRS` and projected back
to EPSG:4326; every point is kept inside the Xinjiang outline and gets its prefecture and county
from :func:`layers.regions.assign_regions`.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from layers.datasets import REGISTRY_FILES, ROSTER_FILE, load_context
from layers.regions import assign_regions, inside_xinjiang
from layers.schema import (
    SITE_ID_PREFIX,
    SKILLS,
    TARGET_COLUMNS,
    WGS84,
    XINJIANG_METRIC_CRS,
)
from layers.spreadsheet import safe_frame

#: The day the simulated registry is "as of": every inspection date lies before it.
AS_OF = date(2026, 11, 23)
#: Full-scale counts (``--scale`` multiplies them).
N_POLLUTION_SOURCES = 1000
N_WATER_SOURCES = 80
N_OFFICERS = 150
#: Every prefecture-level unit gets at least this many pollution sources (at scale 1).
MIN_SOURCES_PER_PREFECTURE = 10
#: Inspection interval per supervision category, days.
INSPECT_EVERY_DAYS = {"key": 90, "special": 120, "ordinary": 365}
ROSTER_OUTPUT_COLUMNS = (
    "officer_id",
    "name",
    "prefecture_code",
    "prefecture_name",
    "team_id",
    "skills",
    "conflicts",
    "simulated",
)
#: GDAL GeoJSON options: 6 decimals (~0.1 m) keeps files small and output byte-stable.
GEOJSON_OPTIONS = {"COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_BBOX": "NO"}


@dataclass(frozen=True)
class Hub:
    """A real industrial area: name of its park, position, industry profile, weight."""

    place: str
    park: str
    lon: float
    lat: float
    profile: str
    #: Weight in "equivalent town population": how many sources it attracts.
    weight: float


#: Real industrial hubs of Xinjiang (positions to a few km; profile drives the kinds found there).
HUBS: tuple[Hub, ...] = (
    Hub("独山子", "独山子石化工业园区", 84.89, 44.33, "petrochem", 500_000),
    Hub("克拉玛依", "克拉玛依石化工业园区", 84.87, 45.58, "petrochem", 450_000),
    Hub("白碱滩", "克拉玛依高新技术产业开发区", 85.13, 45.69, "petrochem", 200_000),
    Hub("五彩湾", "准东经济技术开发区五彩湾产业园", 88.95, 44.78, "coal", 400_000),
    Hub("将军庙", "准东经济技术开发区将军庙产业园", 90.05, 44.75, "coal", 250_000),
    Hub("芨芨湖", "准东经济技术开发区芨芨湖产业园", 89.60, 44.65, "coal", 250_000),
    Hub("吉木萨尔", "吉木萨尔县北庭工业园区", 89.18, 44.00, "general", 120_000),
    Hub("奇台", "奇台县工业园区", 89.59, 44.02, "general", 100_000),
    Hub("阜康", "阜康产业园", 88.10, 44.15, "coal", 250_000),
    Hub("米东", "米东化工工业园", 87.65, 43.97, "petrochem", 350_000),
    Hub("甘泉堡", "甘泉堡经济技术开发区", 87.80, 44.17, "general", 250_000),
    Hub("头屯河", "乌鲁木齐经济技术开发区", 87.43, 43.87, "general", 250_000),
    Hub("奎屯", "奎屯—独山子经济技术开发区", 84.90, 44.43, "general", 200_000),
    Hub("石河子", "石河子经济技术开发区", 86.05, 44.30, "general", 250_000),
    Hub("玛纳斯", "玛纳斯工业园区", 86.20, 44.30, "coal", 120_000),
    Hub("呼图壁", "呼图壁工业园区", 86.90, 44.19, "general", 80_000),
    Hub("五家渠", "五家渠经济技术开发区", 87.54, 44.17, "general", 120_000),
    Hub("沙湾", "沙湾工业园区", 85.60, 44.33, "general", 80_000),
    Hub("乌苏", "乌苏市工业园区", 84.68, 44.42, "petrochem", 80_000),
    Hub("哈密", "哈密高新技术产业开发区", 93.51, 42.83, "general", 150_000),
    Hub("大南湖", "哈密大南湖煤电煤化工基地", 92.90, 42.35, "coal", 250_000),
    Hub("三道岭", "三道岭煤矿区", 92.55, 43.10, "coal", 150_000),
    Hub("淖毛湖", "伊吾淖毛湖工业园区", 95.10, 43.75, "coal", 150_000),
    Hub("鄯善", "鄯善工业园区", 90.22, 42.87, "general", 120_000),
    Hub("托克逊", "托克逊能源重化工工业园区", 88.65, 42.79, "coal", 120_000),
    Hub("库尔勒", "库尔勒经济技术开发区", 86.20, 41.70, "petrochem", 250_000),
    Hub("库车", "库车经济技术开发区", 83.05, 41.70, "petrochem", 220_000),
    Hub("拜城", "拜城县产业园区", 81.87, 41.80, "coal", 120_000),
    Hub("阿克苏", "阿克苏纺织工业城", 80.30, 41.17, "general", 150_000),
    Hub("喀什", "喀什经济开发区", 76.00, 39.45, "general", 180_000),
    Hub("和田", "和田市工业园区", 79.95, 37.10, "general", 100_000),
    Hub("昌吉", "昌吉国家高新技术产业开发区", 87.30, 44.02, "general", 150_000),
    Hub("博乐", "博乐工业园区", 82.07, 44.90, "general", 80_000),
    Hub("精河", "精河工业园区", 82.89, 44.60, "general", 60_000),
    Hub("伊宁", "伊宁市边境经济合作区", 81.30, 43.93, "general", 120_000),
    Hub("霍尔果斯", "霍尔果斯经济开发区", 80.42, 44.20, "general", 80_000),
    Hub("富蕴", "富蕴县喀拉通克矿区", 89.70, 46.70, "mining", 150_000),
    Hub("可可托海", "可可托海稀有金属矿区", 89.80, 47.20, "mining", 80_000),
    Hub("哈巴河", "哈巴河县阿舍勒矿区", 86.42, 48.06, "mining", 80_000),
    Hub("若羌", "若羌县矿产资源开发区", 88.17, 39.02, "mining", 80_000),
    Hub("和静", "和静县钢铁工业园区", 86.39, 42.32, "mining", 100_000),
    Hub("托里", "托里县铬铁矿区", 83.60, 45.94, "mining", 60_000),
    Hub("和布克赛尔", "和布克赛尔县和什托洛盖煤矿区", 85.70, 46.80, "coal", 80_000),
    Hub("铁门关", "铁门关经济技术开发区", 85.67, 41.82, "general", 60_000),
    Hub("双河", "双河市工业园区", 82.35, 44.84, "general", 50_000),
    Hub("胡杨河", "胡杨河经济技术开发区", 84.80, 44.70, "general", 60_000),
    Hub("北屯", "北屯工业园区", 87.80, 47.35, "general", 50_000),
    Hub("阿拉尔", "阿拉尔经济技术开发区", 81.28, 40.55, "general", 80_000),
    Hub("图木舒克", "图木舒克工业园区", 79.07, 39.87, "general", 60_000),
)

#: Share of each (non-sewage) kind by the profile of the place a source clusters around.
KIND_SHARES: dict[str, dict[str, float]] = {
    "town": {"key_discharge_unit": 0.38, "industrial_park": 0.03, "hazardous_waste": 0.04,
             "tailings_pond": 0.02, "livestock_farm": 0.43, "mine": 0.10},
    "general": {"key_discharge_unit": 0.60, "industrial_park": 0.08, "hazardous_waste": 0.15,
                "tailings_pond": 0.02, "livestock_farm": 0.10, "mine": 0.05},
    "petrochem": {"key_discharge_unit": 0.62, "industrial_park": 0.08, "hazardous_waste": 0.22,
                  "tailings_pond": 0.0, "livestock_farm": 0.03, "mine": 0.05},
    "coal": {"key_discharge_unit": 0.40, "industrial_park": 0.06, "hazardous_waste": 0.10,
             "tailings_pond": 0.06, "livestock_farm": 0.02, "mine": 0.36},
    "mining": {"key_discharge_unit": 0.12, "industrial_park": 0.03, "hazardous_waste": 0.07,
               "tailings_pond": 0.36, "livestock_farm": 0.05, "mine": 0.37},
}  # fmt: skip
#: (min, max) distance from the town or park centre, km, by kind.
OFFSET_KM = {
    "key_discharge_unit": (1.0, 8.0),
    "industrial_park": (0.5, 5.0),
    "hazardous_waste": (2.0, 10.0),
    "sewage_plant": (1.0, 4.0),
    "tailings_pond": (4.0, 20.0),
    "livestock_farm": (3.0, 15.0),
    "mine": (5.0, 25.0),
}
#: (P(key), P(special)) by kind; the rest are ordinary units.
CATEGORY_PROBS = {
    "key_discharge_unit": (0.25, 0.07),
    "industrial_park": (0.30, 0.10),
    "hazardous_waste": (0.45, 0.30),
    "sewage_plant": (0.18, 0.08),
    "tailings_pond": (0.40, 0.30),
    "livestock_farm": (0.02, 0.03),
    "mine": (0.10, 0.12),
}
#: Base risk level by kind before the category bump and noise.
BASE_RISK = {
    "key_discharge_unit": 3.0,
    "industrial_park": 3.0,
    "hazardous_waste": 3.6,
    "sewage_plant": 2.3,
    "tailings_pond": 3.6,
    "livestock_farm": 1.8,
    "mine": 2.8,
}
#: Typical on-site inspection time, minutes.
SERVICE_MINUTES = {
    "key_discharge_unit": 90,
    "industrial_park": 150,
    "hazardous_waste": 120,
    "sewage_plant": 60,
    "tailings_pond": 120,
    "livestock_farm": 45,
    "mine": 120,
}
#: P(skill needed) by kind.
SKILL_PROBS = {
    "key_discharge_unit": {"sampling": 0.5, "drone": 0.05, "radiation": 0.02},
    "industrial_park": {"sampling": 0.3, "drone": 0.35},
    "hazardous_waste": {"sampling": 0.7, "radiation": 0.12},
    "sewage_plant": {"sampling": 0.65},
    "tailings_pond": {"drone": 1.0, "sampling": 0.5, "radiation": 0.05},
    "livestock_farm": {"sampling": 0.2},
    "mine": {"drone": 0.45, "sampling": 0.15, "radiation": 0.06},
}

COMPANY_WORDS = (
    "宏达", "金源", "新峰", "华泰", "鑫隆", "恒信", "瑞丰", "西域", "丝路", "天润", "博远", "汇通",
    "盛源", "嘉禾", "永昌", "华鑫", "同创", "绿洲", "雪峰", "金泰", "远航", "兴盛", "众和", "安泰",
    "昊天", "德隆", "正阳", "晨光", "天宇", "泰和", "明珠", "长青", "聚源", "中盛", "锦程", "新源",
)  # fmt: skip
INDUSTRIES = {
    "town": ("水泥", "纺织", "食品", "热电", "建材", "棉业", "乳业", "番茄制品", "皮革", "酿造", "化肥", "制药"),
    "general": ("化工", "纺织", "印染", "热电", "建材", "新材料", "造纸", "铸造", "制药", "硅业", "电池材料"),
    "petrochem": ("石化", "炼化", "化工", "油田技术服务", "天然气化工", "精细化工", "沥青"),
    "coal": ("煤化工", "煤电", "焦化", "兰炭", "热电", "煤制气", "硅业"),
    "mining": ("冶炼", "选矿", "有色金属", "矿业", "铁合金"),
}  # fmt: skip
MINE_TYPES = {
    "coal": ("煤矿", "露天煤矿"),
    "mining": ("铜镍矿", "铁矿", "金矿", "铅锌矿", "铬铁矿", "稀有金属矿"),
    "other": ("石灰石矿", "砂石料场", "膨润土矿", "石膏矿"),
}
PARK_THEMES = ("化工", "新材料", "装备制造", "轻工", "物流", "循环经济", "农副产品加工", "纺织服装")
FARM_ANIMALS = ("养牛场", "养羊场", "养猪场", "养鸡场", "奶牛养殖场")
COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")

#: Approximate positions of real reservoirs used as drinking-water sources (simulated zones).
RESERVOIRS = (
    ("乌拉泊水库", 87.62, 43.69),
    ("红雁池水库", 87.63, 43.74),
    ("克孜尔水库", 82.55, 41.77),
    ("乌鲁瓦提水库", 79.45, 36.85),
    ("恰甫其海水库", 82.43, 43.30),
    ("吉林台水库", 82.95, 43.70),
    ("肯斯瓦特水库", 85.95, 43.97),
    ("下坂地水库", 75.45, 37.85),
)
RIVER_ZH = {
    "Qarqan": "车尔臣河",
    "Yarkant": "叶尔羌河",
    "Ertis": "额尔齐斯河",
    "Ertix": "额尔齐斯河",
    "Konqi": "孔雀河",
    "Tarim": "塔里木河",
    "Ile": "伊犁河",
    "Künes": "巩乃斯河",
    "Yurungkax": "玉龙喀什河",
    "Toxkan": "托什干河",
    "Aksu": "阿克苏河",
}
#: Simulated ecological red-line zones: (name, source layer, feature name, buffer km).
RED_LINE_ZONES = (
    ("博斯腾湖湖滨生态保护红线区", "lakes", "Bosten Hu", 2.0),
    ("赛里木湖生态保护红线区", "lakes", "Sayram Hu", 2.0),
    ("乌伦古湖生态保护红线区", "lakes", "Ulungur Hu (Buluntuo Hai)", 2.0),
    ("塔里木河干流胡杨林生态保护红线区", "rivers_named", "Tarim", 5.0),
    ("伊犁河谷湿地生态保护红线区", "rivers_named", "Ile", 2.0),
)

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰斌鹏辉建国新疆天山晓峰志红海燕文博宇浩"
#: Common Uyghur and Kazakh names in their usual Chinese transcription.
MINORITY_GIVEN = (
    "阿不都热依木", "买买提", "艾尔肯", "吐尔逊", "阿依古丽", "热娜古丽", "努尔兰", "叶尔兰", "古丽米拉",
    "艾克拜尔", "帕尔哈提", "阿迪力", "迪丽努尔", "玉素甫", "赛力克", "哈力木拉提", "努尔麦麦提", "米热古丽",
)  # fmt: skip
MINORITY_FAMILY = (
    "艾力",
    "买买提",
    "吐尔洪",
    "哈斯木",
    "阿不力孜",
    "努尔",
    "沙吾提",
    "托合提",
    "加那提",
    "别克",
)


def short_place(name_zh: str) -> str:
    """Place name without its administrative suffix (乌鲁木齐市 → 乌鲁木齐) for company names."""
    for suffix in ("回族乡", "乡", "镇", "市", "县", "区"):
        if name_zh.endswith(suffix) and len(name_zh) > len(suffix) + 1:
            return name_zh[: -len(suffix)]
    return name_zh


class _Projector:
    """Vectorised lon/lat <-> metres in the Xinjiang Albers CRS."""

    def __init__(self) -> None:
        self.forward = Transformer.from_crs(WGS84, XINJIANG_METRIC_CRS, always_xy=True)
        self.back = Transformer.from_crs(XINJIANG_METRIC_CRS, WGS84, always_xy=True)

    def offset(
        self, lon: np.ndarray, lat: np.ndarray, distance_km: np.ndarray, bearing_rad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``distance_km`` away from (lon, lat) in direction ``bearing_rad``."""
        x, y = self.forward.transform(lon, lat)
        x = np.asarray(x) + distance_km * 1000 * np.sin(bearing_rad)
        y = np.asarray(y) + distance_km * 1000 * np.cos(bearing_rad)
        out_lon, out_lat = self.back.transform(x, y)
        return np.asarray(out_lon), np.asarray(out_lat)


@dataclass
class _Geography:
    """Context layers read once per run."""

    province: gpd.GeoDataFrame
    prefectures: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    rivers: gpd.GeoDataFrame
    rivers_named: gpd.GeoDataFrame
    lakes: gpd.GeoDataFrame
    protected: gpd.GeoDataFrame

    @classmethod
    def load(cls) -> _Geography:
        return cls(
            province=load_context("province"),
            prefectures=load_context("prefectures"),
            counties=load_context("counties"),
            places=load_context("places"),
            rivers=load_context("rivers"),
            rivers_named=load_context("rivers_named"),
            lakes=load_context("lakes"),
            protected=load_context("protected_area_shapes"),
        )

    @cached_property
    def metric_outline(self) -> BaseGeometry:
        """The Xinjiang outline in the metric CRS."""
        return self.province.to_crs(XINJIANG_METRIC_CRS).geometry.union_all()

    @cached_property
    def metric_lakes(self) -> BaseGeometry:
        """All lakes in Xinjiang as one metric geometry (no source sits in a lake)."""
        return self.lakes[self.lakes["in_xinjiang"]].to_crs(XINJIANG_METRIC_CRS).geometry.union_all()

    def to_wgs84_inside(self, metric_geometries: list[BaseGeometry]) -> gpd.GeoSeries:
        """Metric geometries clipped to the Xinjiang outline, in EPSG:4326."""
        clipped = gpd.GeoSeries(metric_geometries, crs=XINJIANG_METRIC_CRS).intersection(self.metric_outline)
        return clipped.to_crs(WGS84)


def _anchors(geo: _Geography) -> pd.DataFrame:
    """Towns and industrial hubs that sources cluster around, with their prefecture.

    Columns: ``label`` (full Chinese name), ``place`` (short name for companies), ``lon``,
    ``lat``, ``weight``, ``profile``, ``is_town``, ``population`` (0 for hubs), ``prefecture_code``. Prefectures with neither
    a town nor a hub get their representative point as a small generic anchor.
    """
    places = geo.places.sort_values("geonameid")
    label = places["name_zh"].fillna(places["county_zh"]).astype(str)
    towns = pd.DataFrame(
        {
            "label": label.to_numpy(),
            "place": [short_place(s) for s in label],
            "lon": places.geometry.x.to_numpy(),
            "lat": places.geometry.y.to_numpy(),
            # Sub-linear in population: big cities get more sources, but not 100x more.
            "weight": places["population"].clip(lower=1000).to_numpy() ** 0.75,
            "profile": "town",
            "is_town": True,
            "population": places["population"].to_numpy(),
        }
    )
    hubs = pd.DataFrame(
        {
            "label": [h.park for h in HUBS],
            "place": [h.place for h in HUBS],
            "lon": [h.lon for h in HUBS],
            "lat": [h.lat for h in HUBS],
            "weight": [h.weight**0.75 for h in HUBS],
            "profile": [h.profile for h in HUBS],
            "is_town": False,
            "population": 0,
        }
    )
    anchors = pd.concat([towns, hubs], ignore_index=True)
    anchors["prefecture_code"] = _prefecture_of(anchors["lon"], anchors["lat"], geo)
    missing = geo.prefectures[~geo.prefectures["adcode"].isin(anchors["prefecture_code"])]
    if len(missing):
        points = missing.geometry.representative_point()
        extra = pd.DataFrame(
            {
                "label": missing["name_zh"].to_numpy(),
                "place": [short_place(s) for s in missing["name_zh"]],
                "lon": points.x.to_numpy(),
                "lat": points.y.to_numpy(),
                "weight": 30_000**0.75,
                "profile": "general",
                "is_town": True,
                "population": 0,
                "prefecture_code": missing["adcode"].to_numpy(),
            }
        )
        anchors = pd.concat([anchors, extra], ignore_index=True)
    return anchors[anchors["prefecture_code"].notna()].reset_index(drop=True)


def _prefecture_of(lon: pd.Series, lat: pd.Series, geo: _Geography) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    regions = assign_regions(points, geo.counties)
    return regions["prefecture_code"].to_numpy(dtype=object)


def _allocate(anchors: pd.DataFrame, total: int, floor: int, rng: np.random.Generator) -> np.ndarray:
    """Number of (non-sewage) sources per anchor: a floor per prefecture, the rest by weight."""
    counts = np.zeros(len(anchors), dtype=int)
    for _, idx in anchors.groupby("prefecture_code", sort=True).indices.items():
        weights = anchors["weight"].to_numpy()[idx]
        counts[idx] += rng.multinomial(floor, weights / weights.sum())
    remaining = max(total - counts.sum(), 0)
    weights = anchors["weight"].to_numpy()
    counts += rng.multinomial(remaining, weights / weights.sum())
    return counts


def _place_points(
    lon: np.ndarray,
    lat: np.ndarray,
    offset_range_km: np.ndarray,
    rng: np.random.Generator,
    geo: _Geography,
    projector: _Projector,
) -> gpd.GeoSeries:
    """Random points around anchors, retried closer in until inside Xinjiang and a county.

    ``offset_range_km`` is an (n, 2) array of (min, max) distances. A point that still falls
    outside after a few retries sits at its anchor, which is known to be inside.
    """
    n = len(lon)
    low, high = offset_range_km[:, 0], offset_range_km[:, 1]
    # sqrt keeps points uniform over the ring's area rather than bunched at the inner edge.
    distance = np.sqrt(rng.uniform(low**2, high**2))
    bearing = rng.uniform(0, 2 * math.pi, n)
    out_lon, out_lat = projector.offset(lon, lat, distance, bearing)
    for _ in range(6):
        points = gpd.GeoSeries(gpd.points_from_xy(out_lon, out_lat), crs=WGS84)
        bad = ~_placeable(points, geo)
        if not bad.any():
            break
        distance[bad] *= 0.5
        bearing[bad] = rng.uniform(0, 2 * math.pi, bad.sum())
        out_lon[bad], out_lat[bad] = projector.offset(lon[bad], lat[bad], distance[bad], bearing[bad])
    else:
        out_lon[bad], out_lat[bad] = lon[bad], lat[bad]
    return gpd.GeoSeries(gpd.points_from_xy(out_lon, out_lat), crs=WGS84)


def _placeable(geometries: gpd.GeoSeries, geo: _Geography) -> np.ndarray:
    """Inside the Xinjiang outline, inside some county (so regions can be assigned), not in a lake."""
    inside = inside_xinjiang(geometries, geo.province, tolerance_km=0.0)
    frame = gpd.GeoDataFrame(geometry=geometries.reset_index(drop=True), crs=WGS84)
    in_county = assign_regions(frame, geo.counties)["county_code"].notna().to_numpy()
    in_lake = np.asarray(geometries.to_crs(XINJIANG_METRIC_CRS).intersects(geo.metric_lakes), dtype=bool)
    return inside & in_county & ~in_lake


class _Namer:
    """Realistic, unique Chinese names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def word(self) -> str:
        return self.pick(COMPANY_WORDS)

    def unique(self, make: Callable[[], str]) -> str:
        for _ in range(20):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        base = make()
        serial = 2
        while f"{base}（{serial}）" in self.used:
            serial += 1
        self.used.add(f"{base}（{serial}）")
        return f"{base}（{serial}）"

    def source(self, kind: str, place: str, profile: str) -> str:
        industry_profile = profile if profile in INDUSTRIES else "town"
        if kind == "key_discharge_unit":
            return self.unique(
                lambda: (
                    f"{place}{self.word()}{self.pick(INDUSTRIES[industry_profile])}{self.pick(COMPANY_FORMS)}"
                )
            )
        if kind == "industrial_park":
            return self.unique(lambda: f"{place}{self.pick(PARK_THEMES)}产业园")
        if kind == "hazardous_waste":
            options = ("环保科技有限公司", "危险废物处置有限公司", "固废处置中心", "废矿物油回收利用有限公司")
            return self.unique(lambda: f"{place}{self.word()}{self.pick(options)}")
        if kind == "tailings_pond":
            return self.unique(lambda: f"{place}{self.word()}矿业有限公司尾矿库")
        if kind == "livestock_farm":
            return self.unique(lambda: f"{place}{self.word()}牧业{self.pick(FARM_ANIMALS)}")
        if kind == "mine":
            types = MINE_TYPES.get(profile, MINE_TYPES["other"])
            return self.unique(lambda: f"{place}{self.word()}{self.pick(types)}")
        raise ValueError(f"no name pattern for kind {kind!r}")


def _finish_targets(
    frame: pd.DataFrame, geometry: gpd.GeoSeries, layer: str, geo: _Geography
) -> gpd.GeoDataFrame:
    """Region-fill, order deterministically, number ``site_id`` and return the schema columns."""
    targets = gpd.GeoDataFrame(
        frame.reset_index(drop=True), geometry=geometry.reset_index(drop=True), crs=WGS84
    )
    for column in ("prefecture_code", "prefecture_name", "county_code", "county_name"):
        targets[column] = pd.Series(pd.NA, index=targets.index, dtype="string")
    targets = assign_regions(targets, geo.counties)
    targets = targets.sort_values(["prefecture_code", "county_code", "kind", "name"], kind="stable")
    targets = targets.reset_index(drop=True)
    width = 5 if layer == "pollution_source" else (4 if layer == "water_source" else 3)
    targets["site_id"] = [f"{SITE_ID_PREFIX[layer]}-{i:0{width}d}" for i in range(1, len(targets) + 1)]
    targets["layer"] = layer
    return targets[[*TARGET_COLUMNS, "geometry"]]


def _enforcement_fields(
    kinds: np.ndarray, categories: np.ndarray, base_risk: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Status, risk, inspection history and counts, consistent with kind and category."""
    n = len(kinds)
    status = rng.choice(["operating", "stopped", "relocated"], size=n, p=[0.94, 0.04, 0.02])
    bump = np.select([categories == "key", categories == "special"], [1.0, 0.6], 0.0)
    risk = np.clip(np.rint(base_risk + bump + rng.normal(0, 0.7, n)), 1, 5).astype(int)
    every = np.array([INSPECT_EVERY_DAYS[c] for c in categories])
    never_p = np.select([categories == "key", categories == "special"], [0.01, 0.03], 0.08)
    never = rng.random(n) < never_p
    # Up to 1.6 intervals ago: roughly a third of the units end up overdue.
    days_ago = np.maximum(1, np.rint(rng.uniform(0.05, 1.6, n) * every)).astype(int)
    last = np.array(
        [
            None if nv else (AS_OF - timedelta(days=int(d))).isoformat()
            for nv, d in zip(never, days_ago, strict=True)
        ],
        dtype=object,
    )
    violations = rng.poisson(0.15 + 0.3 * (risk - 1))
    complaints = rng.poisson(0.3 + 0.55 * (risk - 1))
    online = rng.random(n) < np.select([categories == "key", categories == "special"], [0.85, 0.35], 0.04)
    return {
        "status": status,
        "risk_level": risk,
        "last_inspected": last,
        "inspect_every_days": every,
        "violations_3y": violations,
        "complaints_1y": complaints,
        "online_monitoring": online,
    }


def _categories(kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    probs = np.array([CATEGORY_PROBS[k] for k in kinds])
    u = rng.random(len(kinds))
    return np.where(u < probs[:, 0], "key", np.where(u < probs.sum(axis=1), "special", "ordinary"))


def _skills(kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    draws = rng.random((len(kinds), len(SKILLS)))
    result = []
    for kind, row in zip(kinds, draws, strict=True):
        probs = SKILL_PROBS.get(kind, {})
        result.append(";".join(s for s, u in zip(SKILLS, row, strict=True) if u < probs.get(s, 0.0)))
    return result


def generate_pollution_sources(
    geo: _Geography, rng: np.random.Generator, scale: float = 1.0
) -> gpd.GeoDataFrame:
    """About ``1000 * scale`` simulated pollution sources around real towns and industrial hubs."""
    projector = _Projector()
    namer = _Namer(rng)
    anchors = _anchors(geo)
    # One sewage plant per town of some size (more for the big cities), one per industrial park.
    towns = anchors[anchors["is_town"]]
    sewage_rows: list[tuple[int, str]] = []
    for idx, row in towns.iterrows():
        pop = float(row["population"])
        is_seat = row["label"].endswith(("市", "县"))
        if not (is_seat or pop >= 15_000 or row["profile"] == "general"):
            continue
        plants = 1 + int(pop // 600_000)
        for k in range(plants):
            suffix = "" if plants == 1 else f"第{'一二三四五六七八九'[k]}"
            sewage_rows.append((idx, f"{row['label']}{suffix}污水处理厂"))
    sewage_rows = [r for r in sewage_rows if rng.random() < min(1.0, scale)]
    n_total = round(N_POLLUTION_SOURCES * scale)
    floor = max(1, round(MIN_SOURCES_PER_PREFECTURE * scale))
    counts = _allocate(anchors, max(n_total - len(sewage_rows), 0), floor, rng)

    anchor_idx = np.repeat(np.arange(len(anchors)), counts)
    kinds = []
    for i in anchor_idx:
        shares = KIND_SHARES[anchors.at[i, "profile"]]
        kinds.append(rng.choice(list(shares), p=np.array(list(shares.values())) / sum(shares.values())))
    names = [
        namer.source(k, anchors.at[i, "place"], anchors.at[i, "profile"])
        for i, k in zip(anchor_idx, kinds, strict=True)
    ]
    sewage_names = []
    for _, base in sewage_rows:
        # Two GeoNames places can share a Chinese name: number their plants like real ones.
        name, serial = base, 1
        while name in namer.used:
            serial += 1
            name = base.replace("污水处理厂", f"第{serial}污水处理厂")
        namer.used.add(name)
        sewage_names.append(name)
    anchor_idx = np.concatenate([anchor_idx, np.array([i for i, _ in sewage_rows], dtype=int)])
    kinds = np.array(kinds + ["sewage_plant"] * len(sewage_rows), dtype=object)
    names = names + sewage_names

    offsets = np.array([OFFSET_KM[k] for k in kinds])
    geometry = _place_points(
        anchors["lon"].to_numpy()[anchor_idx],
        anchors["lat"].to_numpy()[anchor_idx],
        offsets,
        rng,
        geo,
        projector,
    )
    categories = _categories(kinds, rng)
    base_risk = np.array([BASE_RISK[k] for k in kinds])
    fields = _enforcement_fields(kinds, categories, base_risk, rng)
    complaints = fields["complaints_1y"]
    # Night checks follow night-time discharge complaints at units that actually discharge.
    discharges = np.isin(kinds, ["key_discharge_unit", "industrial_park", "hazardous_waste", "sewage_plant"])
    night = discharges & (rng.random(len(kinds)) < np.where(complaints >= 2, 0.3, 0.02))
    jitter = rng.integers(-3, 4, len(kinds)) * 5
    service = np.clip(np.array([SERVICE_MINUTES[k] for k in kinds]) + jitter, 30, 180)
    frame = pd.DataFrame(
        {
            "site_id": "",
            "name": names,
            "layer": "pollution_source",
            "kind": kinds,
            "category": categories,
            **fields,
            "service_minutes": service,
            "night_check": night,
            "skills_required": _skills(kinds, rng),
            "approximate": False,
            "simulated": True,
        }
    )
    return _finish_targets(frame, geometry, "pollution_source", geo)


def _metric_circle(lon: float, lat: float, radius_km: float) -> BaseGeometry:
    """A circle of ``radius_km`` around (lon, lat), in the metric CRS."""
    centre = gpd.GeoSeries([Point(lon, lat)], crs=WGS84).to_crs(XINJIANG_METRIC_CRS).iloc[0]
    return centre.buffer(radius_km * 1000, quad_segs=8)


def generate_water_sources(geo: _Geography, rng: np.random.Generator, scale: float = 1.0) -> gpd.GeoDataFrame:
    """About ``80 * scale`` simulated first-level drinking-water protection zones (polygons)."""
    projector = _Projector()
    n_total = max(1, round(N_WATER_SOURCES * scale))
    metric_rivers = geo.rivers[geo.rivers["in_xinjiang"]].to_crs(XINJIANG_METRIC_CRS).reset_index(drop=True)
    named = geo.rivers_named[geo.rivers_named["name"].isin(list(RIVER_ZH))].to_crs(XINJIANG_METRIC_CRS)
    river_index = metric_rivers.sindex

    rows: list[dict[str, object]] = []
    geometries: list[BaseGeometry] = []  # metric
    reservoirs = RESERVOIRS[: max(1, round(len(RESERVOIRS) * min(1.0, scale)))]
    for name, lon, lat in reservoirs:
        rows.append({"name": f"{name}饮用水水源保护区", "kind": "reservoir"})
        geometries.append(_metric_circle(lon, lat, float(rng.uniform(1.2, 2.0))))

    places = geo.places.copy()
    places["label"] = places["name_zh"].fillna(places["county_zh"]).astype(str)
    places = places.sort_values(["population", "geonameid"], ascending=[False, True])
    # The largest town of every prefecture first (coverage), then the others by size, spread out.
    firsts = places.drop_duplicates("pref_adcode")
    order = pd.concat([firsts, places.drop(firsts.index)])
    chosen: list[Point] = []
    metric_places = order.to_crs(XINJIANG_METRIC_CRS)
    for (_, town), metric_point in zip(order.iterrows(), metric_places.geometry, strict=True):
        if len(rows) >= n_total:
            break
        if any(metric_point.distance(p) < 15_000 for p in chosen):
            continue
        chosen.append(metric_point)
        label = town["label"]
        near = river_index.query(metric_point.buffer(20_000), predicate="intersects")
        intake = None
        if len(near) and rng.random() < 0.6:
            distances = metric_rivers.geometry.iloc[near].distance(metric_point)
            river = metric_rivers.geometry.iloc[near[int(np.argmin(distances.to_numpy()))]]
            intake = river.interpolate(river.project(metric_point))
        # Near a border the closest river point can lie abroad: such towns get a well field instead.
        if intake is not None and geo.metric_outline.contains(intake):
            # A river-type first-level zone: the channel for ~2.5 km around the intake plus its banks.
            reach = river.intersection(intake.buffer(2_500))
            zone = reach.buffer(float(rng.uniform(300, 600))).union(
                intake.buffer(float(rng.uniform(500, 1000)))
            )
            river_name = next(
                (
                    RIVER_ZH[n]
                    for n, g in zip(named["name"], named.geometry, strict=True)
                    if g.distance(intake) < 5_000
                ),
                "",
            )
            rows.append({"name": f"{label}{river_name}饮用水水源地（取水口）", "kind": "river_intake"})
            geometries.append(zone)
            continue
        kind = "groundwater_wellfield" if rng.random() < 0.5 else "drinking_water_zone"
        lo, hi = (4.0, 12.0) if kind == "groundwater_wellfield" else (2.0, 8.0)
        lon, lat = (
            _place_points(
                np.array([town.geometry.x]),
                np.array([town.geometry.y]),
                np.array([[lo, hi]]),
                rng,
                geo,
                projector,
            )
            .iloc[0]
            .coords[0]
        )
        radius = float(rng.uniform(1.0, 2.0) if kind == "groundwater_wellfield" else rng.uniform(0.5, 1.5))
        title = "地下水饮用水水源地" if kind == "groundwater_wellfield" else "集中式饮用水水源保护区"
        rows.append({"name": f"{label}{title}", "kind": kind})
        geometries.append(_metric_circle(lon, lat, radius))

    n = len(rows)
    kinds = np.array([r["kind"] for r in rows], dtype=object)
    categories = np.where(rng.random(n) < 0.6, "key", np.where(rng.random(n) < 0.75, "special", "ordinary"))
    fields = _enforcement_fields(kinds, categories, np.full(n, 2.6), rng)
    fields["status"] = np.full(n, "operating")
    frame = pd.DataFrame(
        {
            "site_id": "",
            "name": [r["name"] for r in rows],
            "layer": "water_source",
            "kind": kinds,
            "category": categories,
            **fields,
            "service_minutes": np.where(kinds == "reservoir", 120, 90),
            "night_check": False,
            "skills_required": [
                "boat;sampling"
                if k == "reservoir"
                else ("drone;sampling" if k == "river_intake" else "sampling")
                for k in kinds
            ],
            "approximate": False,
            "simulated": True,
        }
    )
    return _finish_targets(frame, geo.to_wgs84_inside(geometries), "water_source", geo)


def generate_protected_areas(geo: _Geography, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The 8 approximate reserves in the target schema plus simulated red-line zones."""
    source = geo.protected.sort_values("pa_id")
    names = list(source["name_zh"])
    kinds = [
        "wetland_park" if "wetland park" in str(d).lower() else "nature_reserve"
        for d in source["designation"]
    ]
    geometries = list(source.geometry)
    approximate = list(source["approximate"].astype(bool))
    red_lines = []
    for name, layer_name, feature, buffer_km in RED_LINE_ZONES:
        layer = geo.lakes if layer_name == "lakes" else geo.rivers_named
        shape = layer[layer["name"] == feature].to_crs(XINJIANG_METRIC_CRS).geometry.union_all()
        red_lines.append(shape.buffer(buffer_km * 1000))
        names.append(f"{name}（模拟）")
        kinds.append("red_line_zone")
        approximate.append(True)
    geometries += list(geo.to_wgs84_inside(red_lines))
    n = len(names)
    kinds_arr = np.array(kinds, dtype=object)
    categories = np.where(kinds_arr == "red_line_zone", "special", "key")
    fields = _enforcement_fields(kinds_arr, categories, np.full(n, 3.0), rng)
    fields["status"] = np.full(n, "operating")
    frame = pd.DataFrame(
        {
            "site_id": "",
            "name": names,
            "layer": "protected_area",
            "kind": kinds_arr,
            "category": categories,
            **fields,
            "service_minutes": 180,
            "night_check": False,
            "skills_required": "drone",
            "approximate": approximate,
            "simulated": True,
        }
    )
    return _finish_targets(frame, gpd.GeoSeries(geometries, crs=WGS84), "protected_area", geo)


def _person_name(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        if rng.random() < 0.35:
            name = f"{MINORITY_GIVEN[rng.integers(len(MINORITY_GIVEN))]}·{MINORITY_FAMILY[rng.integers(len(MINORITY_FAMILY))]}"
        else:
            given = "".join(GIVEN[rng.integers(len(GIVEN))] for _ in range(int(rng.integers(1, 3))))
            name = SURNAMES[rng.integers(len(SURNAMES))] + given
        if name not in used:
            used.add(name)
            return name


def generate_roster(
    targets: gpd.GeoDataFrame, geo: _Geography, rng: np.random.Generator, scale: float = 1.0
) -> pd.DataFrame:
    """About ``150 * scale`` simulated officers, per prefecture detachment in proportion to its sites.

    Every detachment has at least two officers (the draw needs two per target); teams are of 2-3
    officers. About 8 % of officers declare conflicts of interest with 1-2 sites of their prefecture.
    """
    prefectures = geo.prefectures.sort_values("adcode")
    sites = targets.groupby("prefecture_code").size().reindex(prefectures["adcode"], fill_value=0)
    total = max(round(N_OFFICERS * scale), 2 * len(prefectures))
    extra = total - 2 * len(prefectures)
    counts = 2 + np.floor(extra * sites.to_numpy() / max(sites.sum(), 1)).astype(int)
    counts[np.argsort(-sites.to_numpy(), kind="stable")[: total - counts.sum()]] += 1
    used: set[str] = set()
    rows = []
    serial = 0
    for (code, name), count in zip(
        zip(prefectures["adcode"], prefectures["name_zh"], strict=True), counts, strict=True
    ):
        local = targets.loc[
            (targets["prefecture_code"] == code) & (targets["layer"] == "pollution_source"), "site_id"
        ]
        local = sorted(local)
        n_teams = math.ceil(count / 3)
        for k in range(count):
            serial += 1
            skills = [s for s, p in zip(SKILLS, (0.25, 0.45, 0.06, 0.06), strict=True) if rng.random() < p]
            conflicts = ""
            if local and rng.random() < 0.08:
                picked = rng.choice(len(local), size=min(len(local), int(rng.integers(1, 3))), replace=False)
                conflicts = ";".join(sorted(local[i] for i in picked))
            rows.append(
                {
                    "officer_id": f"OF-{serial:04d}",
                    "name": _person_name(rng, used),
                    "prefecture_code": code,
                    "prefecture_name": name,
                    "team_id": f"T{code}-{k % n_teams + 1:02d}",
                    "skills": ";".join(skills),
                    "conflicts": conflicts,
                    "simulated": "true",
                }
            )
    return pd.DataFrame(rows, columns=list(ROSTER_OUTPUT_COLUMNS))


def generate_registry(seed: int, scale: float = 1.0) -> dict[str, pd.DataFrame]:
    """The whole simulated registry: one GeoDataFrame per layer plus the roster (key ``roster``)."""
    if not 0 < scale <= 2:
        raise ValueError(f"scale must be in (0, 2], got {scale}")
    geo = _Geography.load()
    # Independent streams per output so that changing one generator leaves the others unchanged.
    streams = np.random.SeedSequence(seed).spawn(4)
    sources = generate_pollution_sources(geo, np.random.default_rng(streams[0]), scale)
    water = generate_water_sources(geo, np.random.default_rng(streams[1]), scale)
    protected = generate_protected_areas(geo, np.random.default_rng(streams[2]))
    targets = pd.concat([sources, water, protected], ignore_index=True)
    roster = generate_roster(targets, geo, np.random.default_rng(streams[3]), scale)
    return {"pollution_source": sources, "water_source": water, "protected_area": protected, "roster": roster}


def write_registry(registry: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write the layers as GeoJSON and the roster as CSV into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for layer, relative in REGISTRY_FILES.items():
        path = out_dir / Path(relative).name
        if path.exists():
            path.unlink()  # the GeoJSON driver refuses to overwrite
        registry[layer].to_file(path, driver="GeoJSON", layer_options=GEOJSON_OPTIONS)
        written.append(path)
    path = out_dir / Path(ROSTER_FILE).name
    buffer = io.StringIO()
    safe_frame(registry["roster"]).to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m simulation registry --seed 2026 --out data/registry [--scale 1.0]``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulation registry", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--out", type=Path, default=Path("data/registry"), help="output directory")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply all counts (0 < scale <= 2)")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 2:
        parser.error(f"--scale must be in (0, 2], got {args.scale}")
    start = time.perf_counter()
    registry = generate_registry(args.seed, args.scale)
    paths = write_registry(registry, args.out)
    for path in paths:
        print(f"wrote {path}")
    counts = ", ".join(f"{layer}: {len(frame)}" for layer, frame in registry.items())
    print(f"{counts} (seed {args.seed}, scale {args.scale}, {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
