"""Which registry sites a scenario asks to plan, where each is visited, and which cannot be.

:func:`select_sites` applies the scenario's ``sites`` block (layers, regions, priority threshold,
exclusions, mandatory ids) to the registry and returns one row per candidate with its access
point, service time, night-check flag, skills and priority. Sites that no plan could include for
a reason known before routing (stopped or relocated, a skill no team has) are returned in
``dropped`` with that reason, so every scenario site ends up in the plan or in its drop list.

Area targets (water-source zones, protected areas) are visited at an *access point*: the point
of the area closest to the nearest road, found in the Xinjiang metric CRS; the travel model then
snaps it to the road network.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.datasets import load_context
from layers.priority import ZONE_LAYERS, priority_breakdown
from layers.schema import INACTIVE_STATUSES, WGS84, XINJIANG_METRIC_CRS, parse_skills
from planning.scenario import Scenario, ScenarioError, normalise_name


@dataclass(frozen=True)
class Candidates:
    """Candidate sites (``sites``: one row per site, index ``id``) and pre-routing drops."""

    sites: pd.DataFrame
    dropped: tuple[tuple[str, str], ...]
    all_ids: tuple[str, ...]


def site_priority(sites: gpd.GeoDataFrame, registry: gpd.GeoDataFrame, as_of: dt.date) -> pd.Series:
    """Priority 0-100 per site: the ``priority`` column when the registry has been scored
    already, otherwise :func:`layers.priority.priority_breakdown` on the plan's first day with
    the registry's water-source zones and protected areas as sensitive zones."""
    if "priority" in sites.columns:
        return pd.to_numeric(sites["priority"], errors="coerce").fillna(0.0).astype(float)
    zones = registry[registry["layer"].isin(ZONE_LAYERS)]
    return priority_breakdown(sites, as_of, zones)["priority"].astype(float)


@lru_cache(maxsize=1)
def _region_keys() -> dict[str, frozenset[str]]:
    """Normalised prefecture/county names and codes -> the admin codes they stand for."""
    keys: dict[str, set[str]] = {}
    prefectures = load_context("prefectures")
    for row in prefectures.itertuples():
        names = (row.adcode, row.name_zh, row.name_pinyin, row.name_en, str(row.name_en).split(" (")[0])
        for name in names:
            keys.setdefault(normalise_name(str(name)), set()).add(str(row.adcode))
    counties = load_context("counties")
    for row in counties.itertuples():
        for name in (row.adcode, row.name_zh, row.name_pinyin):
            keys.setdefault(normalise_name(str(name)), set()).add(str(row.adcode))
    return {k: frozenset(v) for k, v in keys.items()}


def resolve_regions(regions: tuple[str, ...]) -> frozenset[str]:
    """Admin codes (prefecture or county) of the scenario's ``sites.regions`` entries."""
    keys = _region_keys()
    codes: set[str] = set()
    for j, region in enumerate(regions):
        key = normalise_name(region)
        if key not in keys:
            close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ScenarioError(f"sites.regions[{j}]", f"unknown prefecture or county {region!r}{hint}")
        codes |= keys[key]
    return frozenset(codes)


def _check_ids(ids: tuple[str, ...], known: pd.Index, field_name: str) -> None:
    for j, site_id in enumerate(ids):
        if site_id not in known:
            close = difflib.get_close_matches(site_id, list(known), n=3, cutoff=0.8)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ScenarioError(f"{field_name}[{j}]", f"unknown site id {site_id!r}{hint}")


def access_points(geometry: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) where each target is visited: points as they are, areas at the point of the
    area nearest to the nearest road."""
    metric = geometry.to_crs(XINJIANG_METRIC_CRS)
    points = metric.copy()
    areas = ~metric.geom_type.isin(["Point"])
    if areas.any():
        roads = load_context("roads").to_crs(XINJIANG_METRIC_CRS)
        area_geoms = metric[areas]
        _, road_idx = roads.sindex.nearest(area_geoms.values, return_all=False)
        lines = shapely.shortest_line(area_geoms.values, roads.geometry.values[road_idx])
        points[areas] = shapely.get_point(lines, 0)
    lonlat = points.to_crs(WGS84)
    return lonlat.x.to_numpy(), lonlat.y.to_numpy()


def select_sites(scenario: Scenario, targets: gpd.GeoDataFrame) -> Candidates:
    """Candidate sites of ``scenario`` drawn from ``targets`` (the registry in the target schema).

    Raises :class:`ScenarioError` for unknown regions and unknown mandatory or excluded ids.
    """
    sel = scenario.sites
    registry = targets.set_index(targets["site_id"].astype(str), drop=False)
    _check_ids(sel.mandatory, registry.index, "sites.mandatory")
    _check_ids(sel.exclude, registry.index, "sites.exclude")
    clash = set(sel.mandatory) & set(sel.exclude)
    if clash:
        raise ScenarioError("sites.exclude", f"{sorted(clash)[0]} is both mandatory and excluded")
    keep = registry["layer"].isin(sel.layers).to_numpy().copy()
    if sel.regions:
        codes = resolve_regions(sel.regions)
        keep &= (
            registry["prefecture_code"].astype(str).isin(codes)
            | registry["county_code"].astype(str).isin(codes)
        ).to_numpy()
    keep &= ~registry.index.isin(sel.exclude)
    keep &= ~registry["status"].isin(INACTIVE_STATUSES).fillna(False).to_numpy()
    mandatory = registry.index.isin(sel.mandatory)
    pool = registry[keep | mandatory]
    priority = site_priority(pool, registry, scenario.start)
    is_mandatory = pool.index.isin(sel.mandatory)
    keep_pool = (priority >= sel.min_priority).to_numpy() & pool.index.isin(registry.index[keep])
    if sel.max_sites is not None and keep_pool.sum() > sel.max_sites:
        ranked = priority[keep_pool & ~is_mandatory].sort_values(ascending=False, kind="stable")
        keep_pool &= ~pool.index.isin(ranked.index[sel.max_sites :])
    chosen = pool[keep_pool | is_mandatory]

    dropped: list[tuple[str, str]] = []
    team_skills = [team.skills for team in scenario.teams]
    usable = []
    for site_id, row in chosen.iterrows():
        needs = parse_skills(row["skills_required"])
        if row["status"] in INACTIVE_STATUSES:
            dropped.append((site_id, f"site status is {row['status']}: inactive units are not inspected"))
        elif not any(needs <= skills for skills in team_skills):
            missing = sorted(needs - set().union(*team_skills))
            why = (
                f"needs skill {', '.join(missing)}; no team in the scenario has it"
                if missing
                else f"needs skills {' + '.join(sorted(needs))} together; no single team has all of them"
            )
            dropped.append((site_id, why))
        else:
            usable.append(site_id)
    sites = chosen.loc[usable]
    lon, lat = access_points(sites.geometry) if len(sites) else (np.empty(0), np.empty(0))
    frame = pd.DataFrame(
        {
            "id": sites.index.astype(str),
            "name": sites["name"].astype(str).to_numpy(),
            "layer": sites["layer"].astype(str).to_numpy(),
            "lon": lon,
            "lat": lat,
            "service_minutes": sites["service_minutes"].fillna(60).astype(int).to_numpy(),
            "night_check": sites["night_check"].fillna(False).astype(bool).to_numpy(),
            "skills": [parse_skills(s) for s in sites["skills_required"]],
            "priority": priority.loc[sites.index].to_numpy(),
            "mandatory": sites.index.isin(sel.mandatory),
        }
    ).set_index("id", drop=False)
    return Candidates(frame, tuple(dropped), tuple(chosen.index.astype(str)))
