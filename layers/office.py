"""What Chinese office registers call things: header aliases, Chinese values, industry → kind, ids.

Registers come from the pollution-permit system (排污许可), the 双随机 platform or a detachment's
own spreadsheet. They use Chinese headers (单位名称, 统一社会信用代码, 所属区县, 行业类别), Chinese
values (污染源, 重点排污单位, 停产) and no ``site_id``. This module holds the tables that map them
onto the target schema (:mod:`layers.schema`), so that the reader and the validator only look
things up. The tables are documented in ``docs/importing.md``; add aliases there and here together.

Site ids for rows without one come from the unified social credit code (统一社会信用代码,
GB 32100-2015, validated by its check digit) or, failing that, from a hash of the layer and the
name, so that importing the same register again yields the same ids.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from layers.schema import KINDS, LAYERS, SITE_ID_PREFIX

#: Columns that are not in the target schema but that the importer uses.
CREDIT_CODE = "credit_code"
INDUSTRY = "industry"
#: The county a register names; the position decides the region, a differing name is a warning.
COUNTY_GIVEN = "county_given"
#: Survey coordinates (Chinese surveying: X is the northing, Y the easting).
NORTHING = "northing"
EASTING = "easting"
WKT = "wkt"
#: A register's running number (序号): not an id (it changes when rows are sorted), ignored quietly.
ROW_NUMBER = "row_number"
HELPER_COLUMNS = (CREDIT_CODE, INDUSTRY, COUNTY_GIVEN, ROW_NUMBER)

#: Header (normalised by :func:`header_key`) → column. Schema columns map to themselves elsewhere.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(("序号", "序", "no.", "行号"), ROW_NUMBER),
    **dict.fromkeys(("编号", "站点编号", "对象编号", "点位编号", "siteid"), "site_id"),
    **dict.fromkeys(
        (
            "单位名称",
            "企业名称",
            "名称",
            "污染源名称",
            "排污单位名称",
            "监管对象名称",
            "检查对象名称",
            "水源地名称",
            "保护区名称",
            "保护地名称",
        ),
        "name",
    ),
    **dict.fromkeys(("统一社会信用代码", "社会信用代码", "信用代码", "creditcode"), CREDIT_CODE),
    **dict.fromkeys(
        ("所属区县", "区县", "所在区县", "县区", "县(市、区)", "县(市区)", "县市区"), COUNTY_GIVEN
    ),
    **dict.fromkeys(("行业类别", "行业", "所属行业", "行业名称", "行业分类", "国民经济行业分类"), INDUSTRY),
    **dict.fromkeys(("图层", "对象类别"), "layer"),
    **dict.fromkeys(("类型", "种类", "对象类型"), "kind"),
    **dict.fromkeys(("监管类别", "监管级别", "监管等级"), "category"),
    **dict.fromkeys(("状态", "生产状态", "运营状态", "经营状态"), "status"),
    **dict.fromkeys(("风险等级", "风险级别"), "risk_level"),
    **dict.fromkeys(
        ("上次检查日期", "最近检查日期", "最近一次检查日期", "上次检查时间", "最近检查时间", "检查日期"),
        "last_inspected",
    ),
    **dict.fromkeys(("检查周期(天)", "检查周期", "检查间隔(天)"), "inspect_every_days"),
    **dict.fromkeys(("近三年违法次数", "三年违法次数", "违法次数"), "violations_3y"),
    **dict.fromkeys(("近一年投诉次数", "一年投诉次数", "投诉次数"), "complaints_1y"),
    **dict.fromkeys(("在线监测", "是否在线监测", "自动监控", "是否安装在线监测"), "online_monitoring"),
    **dict.fromkeys(("检查用时(分钟)", "检查用时"), "service_minutes"),
    **dict.fromkeys(("夜查", "夜间检查"), "night_check"),
    **dict.fromkeys(("所需技能",), "skills_required"),
    **dict.fromkeys(("经度", "东经", "lon", "lng", "long", "longitude"), "lon"),
    **dict.fromkeys(("纬度", "北纬", "lat", "latitude"), "lat"),
    **dict.fromkeys(("北坐标", "纵坐标", "northing", "x坐标"), NORTHING),
    **dict.fromkeys(("东坐标", "横坐标", "easting", "y坐标"), EASTING),
    **dict.fromkeys(("wkt", "几何", "坐标串", "wkt坐标"), WKT),
}

#: Chinese (and common English) spellings of layer values.
LAYER_VALUES: dict[str, str] = {
    **dict.fromkeys(("污染源", "排污单位", "重点排污单位名录"), "pollution_source"),
    **dict.fromkeys(("水源地", "饮用水水源地", "水源保护区", "饮用水源地"), "water_source"),
    **dict.fromkeys(("保护区", "自然保护地", "自然保护区域", "保护地"), "protected_area"),
}

#: Chinese spellings of kind values (layer-independent: no Chinese term names two kinds).
KIND_VALUES: dict[str, str] = {
    **dict.fromkeys(("重点排污单位", "排污单位", "重点监管单位"), "key_discharge_unit"),
    **dict.fromkeys(("工业园区", "园区", "产业园区"), "industrial_park"),
    **dict.fromkeys(("危险废物", "危险废物经营单位", "危废经营单位", "危废"), "hazardous_waste"),
    **dict.fromkeys(("污水处理厂", "污水厂", "污水处理设施"), "sewage_plant"),
    **dict.fromkeys(("尾矿库",), "tailings_pond"),
    **dict.fromkeys(("畜禽养殖场", "养殖场", "规模化养殖场"), "livestock_farm"),
    **dict.fromkeys(("矿山", "矿山企业", "采矿"), "mine"),
    **dict.fromkeys(("饮用水水源保护区", "饮用水源保护区", "水源保护区"), "drinking_water_zone"),
    **dict.fromkeys(("水库",), "reservoir"),
    **dict.fromkeys(("取水口", "河流取水口"), "river_intake"),
    **dict.fromkeys(("地下水水源地", "水源井群", "地下水井群"), "groundwater_wellfield"),
    **dict.fromkeys(("自然保护区",), "nature_reserve"),
    **dict.fromkeys(("生态保护红线", "生态红线", "红线区"), "red_line_zone"),
    **dict.fromkeys(("湿地公园",), "wetland_park"),
    **dict.fromkeys(("风景名胜区", "景区"), "scenic_area"),
}

#: Chinese spellings of status values.
STATUS_VALUES: dict[str, str] = {
    **dict.fromkeys(("正常", "在产", "运行", "运营", "正常生产", "生产", "在营"), "operating"),
    **dict.fromkeys(("停产", "关停", "停业", "关闭", "停运"), "stopped"),
    **dict.fromkeys(("搬迁", "已搬迁", "迁出"), "relocated"),
}

#: Pollution-source kind of a register's industry category (行业类别), first match wins.
#: Patterns are GB/T 4754-2017 codes (letter + digits, matched as a prefix of the code in the cell)
#: or words in the category name. Anything else is :data:`DEFAULT_KIND` with a warning.
INDUSTRY_KINDS: tuple[tuple[str, str], ...] = (
    ("尾矿", "tailings_pond"),
    ("园区", "industrial_park"),
    ("D462", "sewage_plant"),
    ("污水处理", "sewage_plant"),
    ("N7724", "hazardous_waste"),
    ("危险废物", "hazardous_waste"),
    ("危废", "hazardous_waste"),
    ("A03", "livestock_farm"),
    ("畜牧", "livestock_farm"),
    ("养殖", "livestock_farm"),
    ("B06", "mine"),
    ("B07", "mine"),
    ("B08", "mine"),
    ("B09", "mine"),
    ("B10", "mine"),
    ("开采", "mine"),
    ("采选", "mine"),
    # Manufacturing, power and heat, and other waste treatment are ordinary key discharge units.
    ("C", "key_discharge_unit"),
    ("D44", "key_discharge_unit"),
    ("N772", "key_discharge_unit"),
    ("制造", "key_discharge_unit"),
    ("加工", "key_discharge_unit"),
    ("冶炼", "key_discharge_unit"),
    ("电力", "key_discharge_unit"),
    ("热力", "key_discharge_unit"),
    ("化工", "key_discharge_unit"),
)
#: Kind given to a pollution source whose industry category is missing or not in the table.
DEFAULT_KIND = "key_discharge_unit"

#: GB 32100-2015 code characters (no I, O, S, V, Z) and the weights of the first 17 positions.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_INDUSTRY_CODE = re.compile(r"(?<![A-Z0-9])([A-T])\s*(\d{2,4})(?!\d)")


def header_key(header: object) -> str:
    """A header as looked up in :data:`HEADER_ALIASES`: NFKC (full-width → ASCII), no spaces, lower case."""
    text = unicodedata.normalize("NFKC", str(header))
    return re.sub(r"\s+", "", text).lower()


def column_for_header(header: object) -> str:
    """The column a header means: an alias's target, else the header itself (normalised).

    A unit in brackets that is not part of a known alias is dropped (``经度(°)`` → ``lon``).
    """
    key = header_key(header)
    if key in HEADER_ALIASES:
        return HEADER_ALIASES[key]
    bare = re.sub(r"\(.*?\)$", "", key)
    return HEADER_ALIASES.get(bare, key if bare == key or not bare else bare)


def layer_value(text: str) -> str:
    """The layer a (possibly Chinese) layer value names; unknown values are returned unchanged."""
    return LAYER_VALUES.get(text.strip(), text.strip())


def kind_value(text: str) -> str:
    """The kind a (possibly Chinese) kind value names; unknown values are returned unchanged."""
    return KIND_VALUES.get(text.strip(), text.strip())


def kind_for_industry(industry: str | None) -> str | None:
    """The pollution-source kind of an industry category, or ``None`` when the table has no match."""
    if industry is None:
        return None
    text = unicodedata.normalize("NFKC", str(industry)).strip().upper()
    code = _INDUSTRY_CODE.search(text)
    for pattern, kind in INDUSTRY_KINDS:
        if pattern[0].isascii() and pattern[0].isalpha():
            if code is not None and (code.group(1) + code.group(2)).startswith(pattern):
                return kind
        elif pattern in text:
            return kind
    return None


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code (GB 32100-2015), or ``None`` if it is."""
    if len(code) != 18:
        return f"a unified social credit code has 18 characters, this one {len(code)}"
    bad = sorted({c for c in code if c not in _CREDIT_CHARS})
    if bad:
        return f"character(s) {''.join(bad)} cannot occur in a unified social credit code"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"check digit is {code[17]} but should be {expected} (GB 32100-2015); a typo?"
    return None


def credit_check_char(first17: str) -> str:
    """The check character (18th) of a unified social credit code's first 17 characters."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def normalise_credit_code(value: object) -> str:
    """A credit code as typed (spaces, full-width letters, lower case) in its canonical form."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).upper()


def site_id_from_credit_code(layer: str, code: str) -> str:
    """The site id of a unit with a valid credit code: layer prefix + code (``PS-91650100…``)."""
    return f"{SITE_ID_PREFIX[layer]}-{code}"


def generated_site_id(layer: str, name: str) -> str:
    """A stable site id from the layer and the name (same register, same ids), ``PS-G`` + 10 hex digits."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))
    digest = hashlib.sha256(f"{layer}\n{key}".encode()).hexdigest()[:10].upper()
    return f"{SITE_ID_PREFIX[layer]}-G{digest}"


def same_county(given: str, found: str) -> bool:
    """Whether a register's county name and the county of the position are the same county.

    Registers write 米东区, 米东 or 乌鲁木齐市米东区; the suffix and a leading prefecture may differ.
    """

    def core(text: str) -> str:
        return re.sub(r"(自治县|区|县|市)$", "", text.strip())

    a, b = core(given), core(found)
    return bool(a) and bool(b) and (a == b or a.endswith(b) or b.endswith(a))


assert set(LAYER_VALUES.values()) <= set(LAYERS)
assert all(kind in KINDS["pollution_source"] for _, kind in INDUSTRY_KINDS)
