"""Map building blocks of ``views``: offline asset rewriting, basemap payload, target tooltips."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import folium
import pandas as pd
import pytest
from folium.plugins import MarkerCluster

from layers.datasets import load_targets
from layers.schema import CATEGORIES, KINDS, LAYERS, SKILLS, STATUSES, XINJIANG_BBOX
from records.closures import REASONS
from records.visits import OUTCOMES
from views.basemap import (
    CITY_ZOOM,
    SEAT_ZOOM,
    TOWN_ZOOM,
    build_basemap,
    place_labels,
    prepare_basemap,
    view_for,
)
from views.offline_map import LOCAL, NARROW_MAP_PX, layer_control, localize, vendor_base
from views.route_layers import STOP_CLUSTER_PX, route_groups
from views.target_layers import (
    layer_name,
    prepare_target_map,
    select_targets,
    target_groups,
    tooltip_table,
)
from views.vocabulary import all_codes, text

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE = "/app/static/vendor"


@pytest.fixture(scope="module")
def basemap():
    return prepare_basemap()


@pytest.fixture(scope="module")
def targets():
    return load_targets()


def test_every_vendored_asset_exists():
    for relative in LOCAL.values():
        assert (REPO_ROOT / "static" / "vendor" / relative).is_file(), relative


def test_vendor_base_honours_base_url_path():
    assert vendor_base("") == BASE
    assert vendor_base("/xunhu/") == f"/xunhu{BASE}"


def test_localize_rewrites_cdn_links_and_is_idempotent():
    m = folium.Map(tiles=None)
    cluster = MarkerCluster().add_to(m)
    localize(m, base="/p/app/static/vendor")
    localize(m, base="/p/app/static/vendor")
    links = [url for element in (m, cluster) for _, url in element.default_js + element.default_css]
    assert links and all(url.startswith("/p/app/static/vendor/") for url in links)
    assert m.options["max_zoom"] == 16
    html = m.get_root().render()
    assert html.count("L.Icon.Default.imagePath") == 1
    # folium's class-level defaults stay untouched for maps that are not localized.
    assert folium.Map.default_js[0][1].startswith("https://")


def test_localize_warns_about_assets_it_cannot_vendor():
    m = folium.Map(tiles=None)
    m.default_js = [*m.default_js, ("unknown", "https://example.org/plugin.js")]
    with pytest.warns(UserWarning, match="example.org"):
        localize(m, base=BASE)


def test_localize_reaches_feature_groups_given_separately():
    m = folium.Map(tiles=None)
    group = folium.FeatureGroup(name="g")
    cluster = MarkerCluster().add_to(group)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        localize(m, extra=[group], base=BASE)
    assert all(url.startswith(BASE) for _, url in cluster.default_js + cluster.default_css)


def test_basemap_is_complete_inside_xinjiang_and_small(basemap):
    assert len(basemap.counties["features"]) == 106
    assert len(basemap.prefectures["features"]) == 24
    assert {f["properties"]["name_zh"] for f in basemap.prefectures["features"]} >= {"乌鲁木齐市", "喀什地区"}
    (south, west), (north, east) = basemap.bounds
    lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
    assert lon_min <= west < east <= lon_max and lat_min <= south < north <= lat_max
    assert basemap.roads and basemap.rivers
    sizes = {name: len(json.dumps(getattr(basemap, name))) for name in ("counties", "prefectures", "roads")}
    # The whole basemap is sent to every browser: keep it well under a megabyte.
    assert sum(len(json.dumps(value)) for value in vars(basemap).values()) < 600_000, sizes
    assert all(len(str(lat).split(".")[-1]) <= 3 for line in basemap.roads for lat, _ in line)


def test_built_basemap_offers_online_tiles_switched_off(basemap):
    m = localize(build_basemap(basemap), base=BASE)
    html = m.get_root().render()
    (tiles,) = [child for child in m._children.values() if isinstance(child, folium.TileLayer)]
    assert "tile.openstreetmap.org" in html and "OpenStreetMap" in tiles.layer_name
    # A layer that is shown gets ".addTo(map)"; this one must wait for the user's tick.
    assert f"{tiles.get_name()}.addTo(" not in html
    assert "maxZoom" in html


def test_tooltip_table_spells_out_codes_date_and_approximate_in_the_session_language(targets):
    # Outside a Streamlit run the session language is the default, Chinese.
    sample = targets.groupby("layer").head(3).copy()
    sample.loc[sample.index[0], "last_inspected"] = pd.NaT
    table = tooltip_table(sample)
    assert table.loc[sample.index[0], "last_inspected"] == "从未检查"
    for index, row in sample.iterrows():
        assert table.loc[index, "category"] == text("category", row["category"], "zh")
        assert table.loc[index, "kind"] == text("kind", row["kind"], "zh")
        assert table.loc[index, "status"] == text("status", row["status"], "zh")
    assert not set(table[["kind", "category", "status"]].to_numpy().ravel()) & all_codes()
    approximate = sample["approximate"].fillna(False).astype(bool)
    assert (table.loc[approximate[approximate].index, "boundary"] == "近似边界").all()
    assert (table.loc[approximate[~approximate].index, "boundary"] == "按登记").all()


def test_target_groups_follow_the_selection(targets):
    chosen = select_targets(targets, layers=["water_source", "protected_area"], categories=["key", "special"])
    assert set(chosen["layer"]) <= {"water_source", "protected_area"}
    assert set(chosen["category"]) <= {"key", "special"}
    assert len(select_targets(targets)) == len(targets)
    groups = target_groups(chosen)
    assert [group.layer_name for group in groups] == [
        layer_name(layer) for layer in ("protected_area", "water_source") if (chosen["layer"] == layer).any()
    ]
    assert target_groups(chosen.iloc[0:0]) == []


def test_prepare_target_map_adds_cluster_assets_to_this_map_only():
    m = prepare_target_map(folium.Map(tiles=None))
    assert any("markercluster" in url for _, url in m.default_js)
    assert not any("markercluster" in url for _, url in folium.Map.default_js)
    assert len(prepare_target_map(m).default_js) == len(m.default_js)


def test_view_for_fits_bounds_like_leaflet(basemap):
    centre, zoom = view_for([[-10.0, -10.0], [10.0, 10.0]], 256, 256)
    assert centre == pytest.approx([0.0, 0.0], abs=1e-9)
    assert zoom == 4.0  # log2(256 / (20 / 360 * 256)) = 4.17, floored to a quarter step
    assert view_for([[-5.0, -5.0], [5.0, 5.0]], 256, 256)[1] == 5.0
    # Each prefecture view sits inside that prefecture and is closer than the province view.
    province_zoom = view_for(basemap.bounds, 900, 640)[1]
    for bounds in basemap.prefecture_bounds.values():
        (south, west), (north, east) = bounds
        (lat, lon), zoom = view_for(bounds, 900, 640)
        assert south <= lat <= north and west <= lon <= east
        assert zoom >= province_zoom


def test_place_labels_tier_cities_seats_and_towns_by_zoom():
    places = place_labels()
    by_zoom = {zoom: [name for _, _, name, zoom_of in places if zoom_of == zoom] for zoom in (5, 7, 9)}
    assert {CITY_ZOOM, SEAT_ZOOM, TOWN_ZOOM} == {5, 7, 9}
    # The province view names the big cities only, in Chinese.
    assert {"乌鲁木齐市", "喀什市", "库尔勒市", "伊宁市", "克拉玛依市"} <= set(by_zoom[CITY_ZOOM])
    assert 10 <= len(by_zoom[CITY_ZOOM]) <= 25
    # Every county seat shows from the prefecture view, every other town from the county view.
    assert len(by_zoom[CITY_ZOOM]) + len(by_zoom[SEAT_ZOOM]) == 101
    assert len(by_zoom[TOWN_ZOOM]) > 250
    assert all(name for name in (row[2] for row in places))
    # Cities first (the browser hides a name that would cover one drawn before it).
    assert [row[3] for row in places] == sorted(row[3] for row in places)
    lon_min, lat_min, lon_max, lat_max = XINJIANG_BBOX
    assert all(lat_min <= lat <= lat_max and lon_min <= lon <= lon_max for lat, lon, _, _ in places)


def test_basemap_carries_place_names_sources_button_and_stays_small(basemap):
    html = localize(build_basemap(basemap), base=BASE).get_root().render()
    # Names travel as JSON in the script (jinja's tojson writes non-ASCII as \\u escapes).
    assert json.dumps("乌鲁木齐市") in html and "xunhu-place-z" in html and "createPane" in html
    # The attribution folds to a "数据来源" button (Chinese: the session default outside a run).
    assert "xunhu-collapsed" in html and json.dumps("数据来源") in html
    # The basemap goes to every map page: the names add about 25 kB to about 475 kB.
    assert len(json.dumps(basemap.places, ensure_ascii=False).encode()) < 30_000
    assert len(html.encode()) < 560_000


def test_place_names_are_escaped_for_the_label_html():
    from views.map_controls import PlaceLabels

    m = folium.Map(tiles=None)
    m.add_child(PlaceLabels([[43.8, 87.6, "<img src=x onerror=alert(1)>", 5]]))
    html = m.get_root().render()
    # HTML-escaped before it goes into the script's JSON: the browser shows the name as text.
    assert "<img src=x" not in html
    assert json.dumps("&lt;img src=x onerror=alert(1)&gt;").replace("&", "\\u0026") in html


def test_layer_control_folds_on_a_narrow_map():
    m = folium.Map(tiles=None)
    layer_control().add_to(m)
    assert f'"collapsed": window.innerWidth < {NARROW_MAP_PX}' in m.get_root().render()


def test_stops_of_a_team_merge_into_numbered_badges(tmp_path):
    from records.store import open_store
    from simulation.snapshot import install_demo_snapshot

    db = tmp_path / "records.sqlite"
    assert install_demo_snapshot(path=db)
    with open_store(db) as store:
        plan = store.plan(int(store.plans()["plan_id"].iloc[0]))["plan"]
    m = folium.Map(tiles=None)
    for group in route_groups(plan, {}):
        group.add_to(m)
    html = m.get_root().render()
    sites = sum(1 for team in plan["teams"] for stop in team["stops"] if stop["type"] == "site")
    # One cluster layer per team, each numbered marker carrying its number for the badge.
    assert html.count("L.markerClusterGroup(") == len(plan["teams"])
    assert html.count('"seq": ') == sites
    assert f'"maxClusterRadius": {STOP_CLUSTER_PX}' in html and "clustermouseover" in html


def test_every_schema_code_has_a_label_in_both_languages():
    vocabularies = {
        "layer": LAYERS,
        "kind": [kind for kinds in KINDS.values() for kind in kinds],
        "category": CATEGORIES,
        "status": STATUSES,
        "skill": SKILLS,
        "outcome": OUTCOMES,
        "closure_reason": REASONS,
    }
    for name, codes in vocabularies.items():
        for code in codes:
            zh, en = text(name, code, "zh"), text(name, code, "en")
            assert zh != code and re.search(r"[\u4e00-\u9fff]", zh), (name, code, zh)
            assert en and not re.search(r"[\u4e00-\u9fff]", en), (name, code, en)
    assert text("kind", "laser_unit", "zh") == "laser_unit" and text("kind", None, "zh") == ""
