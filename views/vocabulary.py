"""The code -> label tables of the shared vocabularies, in one place for every page.

Registry and records values are stored as English codes (``key_discharge_unit``, ``operating``,
``sampling``, ``violation`` ...); a user sees them only through :func:`label`, in the session's
language. Every page, table, chip and map tooltip takes its labels from here, so two pages cannot
name the same thing differently. A code added to :mod:`layers.schema` without a label here fails
``tests/test_views_map.py``; ``tests/test_browser_language.py`` looks for :func:`all_codes` on the
Chinese pages.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from views import i18n
from views.i18n import register, translate

#: vocabulary -> code -> (中文, English).
VOCABULARIES: dict[str, dict[str, tuple[str, str]]] = {
    "layer": {
        "pollution_source": ("污染源", "Pollution sources"),
        "water_source": ("水源保护区", "Water-source zones"),
        "protected_area": ("保护地（近似边界）", "Protected areas (approximate)"),
    },
    "kind": {
        "key_discharge_unit": ("重点排污单位", "key discharge unit"),
        "industrial_park": ("工业园区", "industrial park"),
        "hazardous_waste": ("危险废物单位", "hazardous waste"),
        "sewage_plant": ("污水处理厂", "sewage plant"),
        "tailings_pond": ("尾矿库", "tailings pond"),
        "livestock_farm": ("畜禽养殖场", "livestock farm"),
        "mine": ("矿山", "mine"),
        "drinking_water_zone": ("饮用水水源保护区", "drinking-water zone"),
        "reservoir": ("水库", "reservoir"),
        "river_intake": ("河流取水口", "river intake"),
        "groundwater_wellfield": ("地下水水源井群", "groundwater wellfield"),
        "nature_reserve": ("自然保护区", "nature reserve"),
        "red_line_zone": ("生态保护红线区", "ecological red line zone"),
        "wetland_park": ("湿地公园", "wetland park"),
        "scenic_area": ("风景名胜区", "scenic area"),
    },
    "category": {
        "key": ("重点", "key"),
        "special": ("特殊", "special"),
        "ordinary": ("一般", "ordinary"),
    },
    "status": {
        "operating": ("在产", "operating"),
        "stopped": ("停产", "stopped"),
        "relocated": ("已搬迁", "relocated"),
    },
    "skill": {
        "drone": ("无人机", "drone"),
        "sampling": ("采样", "sampling"),
        "radiation": ("辐射监测", "radiation"),
        "boat": ("船只", "boat"),
    },
    "outcome": {
        "compliant": ("合规", "compliant"),
        "violation": ("违法", "violation"),
        "not_inspected": ("未检查", "not inspected"),
    },
    "closure_reason": {
        "winter": ("冬季封闭", "winter closure"),
        "sandstorm": ("沙尘暴", "sandstorm"),
        "flood": ("洪水", "flood"),
        "road_works": ("道路施工", "road works"),
        "snow": ("冰雪", "snow"),
        "other": ("其他", "other"),
    },
    "finding": {
        "illegal_discharge": ("非法或偷排", "illegal or bypass discharge"),
        "monitoring_data_fraud": ("在线监测数据造假", "falsified monitoring data"),
        "hazardous_waste": ("危险废物违规", "hazardous-waste violation"),
        "permit": ("无证或超证排污", "without or beyond permit"),
        "dust_odour_noise": ("扬尘、异味、噪声", "dust, odour, noise"),
        "ecological_damage": ("生态破坏", "ecological damage"),
        "other": ("其他", "other"),
    },
    "case_state": {
        "open": ("待整改", "open"),
        "rectifying": ("整改中", "rectifying"),
        "closed": ("已核查销号", "verified closed"),
        "escalated": ("已移送或处罚", "escalated"),
    },
    "task_kind": {
        "follow_up": ("整改复查", "follow-up"),
        "complaint_check": ("投诉核查", "complaint check"),
        "night_check": ("夜间核查", "night check"),
    },
    "complaint_channel": {
        "12369": ("12369 热线", "12369 hotline"),
        "letter": ("来信", "letter"),
        "online": ("网上投诉", "online"),
        "other": ("其他", "other"),
    },
}

register({"vocab.separator": ("、", ", ")})


def text(vocabulary: str, code: object, lang: str) -> str:
    """``code`` of ``vocabulary`` in the language ``lang`` ("zh" or "en"); an unknown code as it
    is, a missing one (None, NaN, <NA>) as an empty string."""
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return ""
    pair = VOCABULARIES[vocabulary].get(str(code))
    if pair is None:
        return str(code)
    return pair[0] if lang == "zh" else pair[1]


def label(vocabulary: str, code: object) -> str:
    """``code`` of ``vocabulary`` in the session's language (see :func:`text`)."""
    return text(vocabulary, code, i18n.language())


def labeller(vocabulary: str) -> Callable[[object], str]:
    """:func:`label` of one vocabulary for ``format_func`` and ``Series.map``, in the language of
    the session at the time of the call: Streamlit (and AppTest) may call a ``format_func``
    outside the page run, where the session's language is not visible."""
    lang = i18n.language()
    return lambda code: text(vocabulary, code, lang)


def labels(vocabulary: str, codes: object) -> str:
    """Several codes (a list, or a ``;``/``,``-separated string) as labels joined by "、" / ", "."""
    if isinstance(codes, str):
        codes = [part.strip() for part in codes.replace(",", ";").split(";")]
    texts = [label(vocabulary, code) for code in codes or [] if str(code).strip()]
    return translate("vocab.separator").join(texts)


def all_codes() -> set[str]:
    """Every code of every vocabulary (what must never show in the Chinese interface)."""
    return {code for table in VOCABULARIES.values() for code in table}
