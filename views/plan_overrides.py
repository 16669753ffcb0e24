"""The chief's overrides of a plan (pins, forbidden team-site pairs, unavailable teams, locked days),
gathered from a small form into the scenario mapping's fields (``pins``, ``forbid``,
``unavailable``, ``locked_days``; validated by ``planning.scenario.parse_scenario``), and the
scenario errors they may cause in the session's language.

The form keeps its entries in ``st.session_state[key]`` as that mapping; the page merges it into
the scenario of the next solve (Plan week) or into the changes of a re-plan.
"""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from planning.scenario import ScenarioError
from views.i18n import language_key, register

T = register(
    {
        "overrides.title": ("调整（下次求解生效）", "Overrides (used by the next solve)"),
        "overrides.kind": ("调整类型", "Kind"),
        "overrides.kind.pin": ("指定队伍/日期", "Pin to a team / day"),
        "overrides.kind.forbid": ("禁止队伍前往", "Forbid for a team"),
        "overrides.kind.unavailable": ("队伍不可用", "Team unavailable"),
        "overrides.kind.lock": ("锁定某队某天", "Lock a team's day"),
        "overrides.site": ("点位", "Site"),
        "overrides.team": ("队伍", "Team"),
        "overrides.day": ("日期", "Day"),
        "overrides.from": ("从", "From"),
        "overrides.to": ("到", "To"),
        "overrides.any_team": ("任一队伍", "any team"),
        "overrides.any_day": ("任一天", "any day"),
        "overrides.add": ("添加调整", "Add the override"),
        "overrides.clear": ("清除全部调整", "Clear all overrides"),
        "overrides.none": ("尚无调整。", "No overrides yet."),
        "overrides.line.pin": ("指定：{site} → {team}，{day}", "Pin: {site} → {team}, {day}"),
        "overrides.line.forbid": ("禁止：{team} 不去 {site}", "Forbid: {team} never visits {site}"),
        "overrides.line.unavailable": (
            "不可用：{team}，{first} 至 {last}",
            "Unavailable: {team}, {first} to {last}",
        ),
        "overrides.line.lock": ("锁定：{team} 的 {day}", "Locked: {team} on {day}"),
        "overrides.need_team_or_day": ("请指定队伍或日期（或两者）。", "Pick a team, a day or both."),
        "overrides.error": (
            "调整有误，字段 {field}：{message}",
            "Override error in field {field}: {message}",
        ),
    }
)

KINDS = ("pin", "forbid", "unavailable", "lock")
FIELDS = ("pins", "forbid", "unavailable", "locked_days")

#: English scenario messages about overrides -> (Chinese pattern); groups are kept.
_ZH_MESSAGES = (
    (r"unknown team (.+); teams: (.+)", r"未知队伍 \1；现有队伍：\2"),
    (r"(\S+) is outside the plan \((\S+) to (\S+)\)", r"\1 不在计划期内（\2 至 \3）"),
    (r"(\S+) is before (\S+)", r"\1 早于 \2"),
    (r"(\S+) is both pinned to and forbidden for team (\S+)", r"\1 既指定给又禁止给队伍 \2"),
    (r"a site is pinned twice", "同一点位被指定了两次"),
    (r"a pin names a team, a day or both", "指定需给出队伍、日期或两者"),
    (r"missing site id", "缺少点位编号"),
    (r"expected a date YYYY-MM-DD, got (.+)", r"应为日期 YYYY-MM-DD，实为 \1"),
    (r"must be between (\S+) and (\S+), got (.+)", r"应在 \1 至 \2 之间，实为 \3"),
)


def error_message(exc: ScenarioError, lang: str | None = None) -> str:
    """The message of ``exc`` without its field prefix, in Chinese when the session is (known
    override messages; others stay as the planner wrote them)."""
    text = str(exc).removeprefix(f"{exc.field}: ").removeprefix("after the changes: ")
    if (lang or st.session_state.get("lang", "zh")) != "zh":
        return text
    for pattern, zh in _ZH_MESSAGES:
        if re.fullmatch(pattern, text):
            return re.sub(pattern, zh, text)
    return text


def empty() -> dict:
    """No override at all."""
    return {"pins": [], "forbid": [], "unavailable": [], "locked_days": {}}


def as_mapping(overrides: dict) -> dict:
    """Only the non-empty fields (what goes into a scenario or a changes mapping)."""
    return {name: overrides[name] for name in FIELDS if overrides.get(name)}


def lines(overrides: dict, site_names: dict[str, str]) -> list[str]:
    """One readable line per override."""

    def site(site_id: str) -> str:
        return f"{site_names.get(site_id, site_id)}（{site_id}）"

    out = []
    for pin in overrides.get("pins") or []:
        out.append(
            T(
                "overrides.line.pin",
                site=site(pin["site"]),
                team=pin.get("team") or T("overrides.any_team"),
                day=pin.get("day") or T("overrides.any_day"),
            )
        )
    for item in overrides.get("forbid") or []:
        out.append(T("overrides.line.forbid", site=site(item["site"]), team=item["team"]))
    for item in overrides.get("unavailable") or []:
        out.append(T("overrides.line.unavailable", team=item["team"], first=item["from"], last=item["to"]))
    for team, days in (overrides.get("locked_days") or {}).items():
        out += [T("overrides.line.lock", team=team, day=day) for day in days]
    return out


def add(overrides: dict, kind: str, *, site=None, team=None, day=None, first=None, last=None) -> dict:
    """``overrides`` with one more entry of ``kind`` (dates as ISO strings)."""
    new = {
        name: (dict(value) if isinstance(value, dict) else list(value)) for name, value in overrides.items()
    }
    if kind == "pin":
        pin = {"site": site}
        if team:
            pin["team"] = team
        if day:
            pin["day"] = day
        new["pins"] = [p for p in new["pins"] if p["site"] != site] + [pin]
    elif kind == "forbid":
        new["forbid"] = [*new["forbid"], {"site": site, "team": team}]
    elif kind == "unavailable":
        new["unavailable"] = [*new["unavailable"], {"team": team, "from": first, "to": last}]
    elif kind == "lock":
        locked = new["locked_days"]
        locked[team] = sorted(set(locked.get(team, [])) | {day})
    return new


def form(
    key: str, sites: dict[str, str], teams: list[str], days: list[dt.date], title: str | None = None
) -> dict:
    """The overrides form: pick a kind, a site (of ``sites``: id -> name), a team and days; returns
    the overrides kept under ``st.session_state[key]``. ``title`` is its heading (default: they are
    used by the next solve; the re-plan section says they are for that re-plan)."""
    state = st.session_state
    current = state.setdefault(key, empty())
    day_texts = [d.isoformat() for d in days]
    with st.container(border=True):
        st.markdown(f"**{title or T('overrides.title')}**")
        labels = {T(f"overrides.kind.{kind}"): kind for kind in KINDS}
        kind = labels[
            st.radio(T("overrides.kind"), list(labels), horizontal=True, key=language_key(f"{key}.kind"))
        ]
        site = team = day = first = last = None
        if kind in ("pin", "forbid"):
            site = st.selectbox(
                T("overrides.site"),
                list(sites),
                format_func=lambda s: f"{sites[s]}（{s}）",
                key=f"{key}.site",
            )
        left, right = st.columns(2)
        if kind == "pin":
            any_team, any_day = T("overrides.any_team"), T("overrides.any_day")
            team = left.selectbox(
                T("overrides.team"), [any_team, *teams], key=language_key(f"{key}.pin_team")
            )
            day = right.selectbox(
                T("overrides.day"), [any_day, *day_texts], key=language_key(f"{key}.pin_day")
            )
            team, day = (None if team == any_team else team), (None if day == any_day else day)
        elif kind == "forbid":
            team = left.selectbox(T("overrides.team"), teams, key=f"{key}.team")
        elif kind == "unavailable":
            team = st.selectbox(T("overrides.team"), teams, key=f"{key}.team")
            first = left.selectbox(T("overrides.from"), day_texts, key=f"{key}.from")
            last = right.selectbox(T("overrides.to"), day_texts, key=f"{key}.to")
        else:
            team = left.selectbox(T("overrides.team"), teams, key=f"{key}.team")
            day = right.selectbox(T("overrides.day"), day_texts, key=f"{key}.day")
        a, b = st.columns(2)
        if a.button(
            T("overrides.add"),
            key=f"{key}.add",
            disabled=not teams or (kind in ("pin", "forbid") and not sites),
        ):
            if kind == "pin" and team is None and day is None:
                st.warning(T("overrides.need_team_or_day"))
            else:
                state[key] = add(current, kind, site=site, team=team, day=day, first=first, last=last)
                st.rerun()
        if b.button(T("overrides.clear"), key=f"{key}.clear", disabled=not as_mapping(current)):
            state[key] = empty()
            st.rerun()
        shown = lines(current, sites)
        if shown:
            st.markdown("\n".join(f"- {line}" for line in shown))
        else:
            st.caption(T("overrides.none"))
    return state[key]


def plan_choices(
    plan: dict, registry_names: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[dt.date]]:
    """(site id -> name of every site the plan visits or left out, team ids, plan dates) of a plan."""
    names = registry_names or {}
    sites = {
        str(s["id"]): str(s.get("name") or names.get(str(s["id"]), s["id"]))
        for team in plan["teams"]
        for s in team["stops"]
        if s["type"] == "site"
    }
    for item in plan.get("dropped") or []:
        sites.setdefault(str(item["id"]), str(names.get(str(item["id"]), item["id"])))
    start = dt.date.fromisoformat(str(plan["scenario"]["start"])[:10])
    days = [start + dt.timedelta(days=d) for d in range(int(plan["scenario"].get("days") or 1))]
    return sites, [str(t["team_id"]) for t in plan["teams"]], days
