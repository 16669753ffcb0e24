"""What the chief enters on the Plan-week page, turned into a scenario mapping for
``planning.scenario.parse_scenario`` (which does the validation and names the faulty field).

Pure helpers (no streamlit): the shipped scenarios, the regions a detachment may plan, the teams
table <-> scenario ``teams`` list (officers included), candidate sites with their priority,
mandatory ids and drawn officers from a random draw (run here or uploaded as its JSON record).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import yaml

from layers.datasets import data_path, load_context
from layers.schema import INACTIVE_STATUSES, parse_skills
from planning.candidates import resolve_regions, site_priority
from planning.scenario import DEFAULT_EFFORT, ScenarioError, draw_officers, draw_site_ids

TEAM_COLUMNS = ("id", "base", "members", "skills", "officers")
#: A first day further back than this is most likely a typo (or an old scenario reloaded).
PAST_START_DAYS = 7
#: ... and one further ahead than this (a quarter: the random draw's period).
FUTURE_START_DAYS = 92


def shipped_scenarios() -> dict[str, Path]:
    """File stem -> path of every scenario YAML shipped in data/scenarios."""
    return {path.stem: path for path in sorted(data_path("scenarios").glob("*.yaml"))}


def read_scenario_mapping(path: Path) -> dict:
    """A scenario YAML as a plain mapping (dates as ISO strings), not yet validated."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ScenarioError("<file>", f"{path.name} is not a scenario mapping")
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in raw.items()}


def scenario_yaml(raw: dict) -> str:
    """The scenario mapping as YAML a chief can keep and reload (Chinese names as they are)."""
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def region_options(allowed_prefectures: frozenset[str] | None) -> dict[str, str]:
    """Region name (Chinese, as in the data) -> label, prefectures first, then their counties;
    only those of ``allowed_prefectures`` (codes) unless it is None."""
    prefectures = load_context("prefectures").sort_values("adcode")
    counties = load_context("counties").sort_values("adcode")
    if allowed_prefectures is not None:
        prefectures = prefectures[prefectures["adcode"].isin(allowed_prefectures)]
        counties = counties[counties["pref_adcode"].isin(allowed_prefectures)]
    options = {
        str(row.name_zh): f"{row.name_zh} {str(row.name_en).split(' (')[0]}"
        for row in prefectures.itertuples()
    }
    for row in counties.itertuples():
        options.setdefault(str(row.name_zh), f"{row.name_zh} · {row.pref_name_zh}")
    return options


def split_regions(regions: list[str], options: dict[str, str]) -> tuple[list[str], list[str]]:
    """(regions the account may plan, regions it may not) of a loaded scenario."""
    return [r for r in regions if r in options], [r for r in regions if r not in options]


def teams_frame(teams: list[dict]) -> pd.DataFrame:
    """The scenario's ``teams`` list as an editable table: skills as a list of codes (the page
    shows them as translated chips), officer ids comma-separated."""
    rows = [
        {
            "id": str(team.get("id", "")),
            "base": str(team.get("base", "")),
            "members": int(team.get("members", 2)),
            "skills": [str(s) for s in (team.get("skills") or [])],
            "officers": ", ".join(str(o) for o in (team.get("officers") or [])),
        }
        for team in teams
    ]
    return pd.DataFrame(rows, columns=list(TEAM_COLUMNS)).astype(
        {"id": "string", "base": "string", "members": "Int64", "skills": "object", "officers": "string"}
    )


def _is_list(value: object) -> bool:
    return not isinstance(value, str) and hasattr(value, "__iter__")


def _blank(value: object) -> bool:
    """An empty cell of the teams table (a list cell is blank when it has no item)."""
    if _is_list(value):
        return len(list(value)) == 0
    return value is None or bool(pd.isna(value)) or str(value).strip() == ""


def team_skills(value: object) -> list[str]:
    """Skill codes of a teams-table cell: a list (the chips) or a typed ``;``/``,``-separated text."""
    if _is_list(value):
        return sorted({str(s).strip() for s in value if str(s).strip()})
    return sorted(parse_skills(value))


def teams_from_frame(frame: pd.DataFrame) -> list[dict]:
    """The edited table back as a scenario ``teams`` list; blank rows are skipped, the rest is
    passed on as typed so that parse_scenario names any fault (``teams[1].base``)."""
    teams = []
    for row in frame.itertuples(index=False):
        values = {c: getattr(row, c, pd.NA) for c in TEAM_COLUMNS}
        present = {c: v for c, v in values.items() if not _blank(v)}
        if not present:
            continue
        team: dict = {"id": str(present.get("id", "")).strip(), "base": str(present.get("base", "")).strip()}
        if "members" in present:
            team["members"] = int(present["members"])
        team["skills"] = team_skills(present.get("skills", ""))
        officers = split_ids(present.get("officers", ""))
        if officers:
            team["officers"] = officers
        teams.append(team)
    return teams


def split_ids(text: object) -> list[str]:
    """Roster ids typed comma- (or 、/space-) separated, in order, without blanks or repeats."""
    parts = str(text or "").replace("、", ",").replace("，", ",").replace(" ", ",").split(",")
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def solver_block(effort: int, seed: int, seconds: float | None = None) -> dict:
    """The scenario's ``solver``: ``{seed, effort}`` (the same plan on any machine), or
    ``{seconds, seed}`` when a time budget is asked for instead (never both)."""
    if seconds is not None:
        return {"seconds": float(seconds), "seed": int(seed)}
    return {"seed": int(seed), "effort": int(effort)}


def build_scenario(
    *,
    name: str,
    start: dt.date,
    days: int,
    work_hours: str,
    night_hours: str | None,
    teams: list[dict],
    regions: list[str],
    layers: list[str],
    min_priority: float,
    mandatory: list[str],
    return_to_base: bool,
    solver_effort: int = DEFAULT_EFFORT,
    solver_seed: int = 1,
    solver_seconds: float | None = None,
    lodging: object = "auto",
    drawn_officers: dict[str, list[str]] | None = None,
) -> dict:
    """The scenario mapping of the page's inputs.

    ``lodging`` is passed on as loaded (``auto``: county seats and bases; or listed towns);
    ``drawn_officers`` (site id -> officer ids from a random draw) is kept for the mandatory sites
    among them. The solver block is :func:`solver_block`.
    """
    if not regions:
        raise ScenarioError("sites.regions", "choose at least one prefecture or county")
    if not layers:
        raise ScenarioError("sites.layers", "choose at least one layer")
    raw = {
        "name": name.strip(),
        "start": start.isoformat(),
        "days": int(days),
        "work_hours": work_hours.strip(),
        "teams": teams,
        "sites": {
            "regions": list(regions),
            "layers": list(layers),
            "min_priority": float(min_priority),
            "mandatory": sorted(mandatory),
        },
        "lodging": lodging if lodging is not None else "auto",
        "return_to_base": bool(return_to_base),
        "solver": solver_block(solver_effort, solver_seed, solver_seconds),
    }
    kept = {site: list(ids) for site, ids in (drawn_officers or {}).items() if site in set(mandatory) and ids}
    if kept:
        raw["sites"]["drawn_officers"] = dict(sorted(kept.items()))
    if night_hours:
        raw["night_hours"] = night_hours.strip()
    return raw


def region_targets(targets: gpd.GeoDataFrame, regions: list[str]) -> gpd.GeoDataFrame:
    """Registry rows inside the named prefectures or counties."""
    codes = resolve_regions(tuple(regions))
    inside = targets["prefecture_code"].astype(str).isin(codes) | targets["county_code"].astype(str).isin(
        codes
    )
    return targets[inside.to_numpy()]


def candidate_sites(
    targets: gpd.GeoDataFrame, regions: list[str], layers: list[str], as_of: dt.date
) -> pd.DataFrame:
    """Active sites of ``layers`` in ``regions`` with their priority on ``as_of``, highest first
    (the table a chief picks mandatory sites from)."""
    pool = region_targets(targets, regions)
    pool = pool[
        pool["layer"].isin(layers).to_numpy()
        & ~pool["status"].isin(INACTIVE_STATUSES).fillna(False).to_numpy()
    ]
    frame = pd.DataFrame(
        {
            "site_id": pool["site_id"].astype(str).to_numpy(),
            "name": pool["name"].astype(str).to_numpy(),
            "layer": pool["layer"].astype(str).to_numpy(),
            "kind": pool["kind"].astype(str).to_numpy(),
            "category": pool["category"].astype(str).to_numpy(),
            "county": pool["county_name"].astype(str).to_numpy(),
            "priority": site_priority(pool, targets, as_of).round(1).to_numpy(),
        }
    )
    return frame.sort_values(["priority", "site_id"], ascending=[False, True]).reset_index(drop=True)


def start_problem(start: dt.date, today: dt.date) -> tuple[str, int] | None:
    """("past" | "future", days away) when a plan's first day is suspicious, else None.

    The planner accepts any date; a chief who typed 2020 for 2026 would only notice on the route
    sheets, so the page warns (it does not refuse: re-planning an old week for a report is legitimate).
    """
    offset = (start - today).days
    if offset < -PAST_START_DAYS:
        return "past", -offset
    if offset > FUTURE_START_DAYS:
        return "future", offset
    return None


def quarter_of(day: dt.date) -> str:
    """The draw period label of the quarter containing ``day`` (``2026Q4``)."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def ids_from_draw_record(text: str | bytes, file_name: str) -> list[str]:
    """Site ids of an uploaded draw file: a ``python -m layers draw`` record or a JSON list of ids."""
    return draw_from_record(text, file_name)[0]


def draw_from_record(text: str | bytes, file_name: str) -> tuple[list[str], dict[str, list[str]]]:
    """(site ids, site id -> drawn officer ids) of an uploaded draw file (no officers for a plain
    list of ids)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScenarioError("sites.from_draw", f"{file_name} is not a JSON file: {exc}") from exc
    ids = draw_site_ids(data, file_name, "sites.from_draw")
    return ids, {site: list(officers) for site, officers in draw_officers(data).items()}


def lodging_towns(lodging: object) -> list[str]:
    """The towns a scenario's ``lodging`` lists (none for ``auto``)."""
    if isinstance(lodging, dict):
        return [str(t) for t in lodging.get("towns") or []]
    if isinstance(lodging, list):
        return [str(t) for t in lodging]
    return []
