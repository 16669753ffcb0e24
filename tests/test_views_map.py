"""Map building blocks of ``views``: offline asset rewriting, basemap payload, target tooltips."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import folium
import pandas as pd
import pytest
from folium.plugins import MarkerCluster

from layers.datasets import load_targets
from layers.schema import XINJIANG_BBOX
from views.basemap import build_basemap, prepare_basemap, view_for
from views.offline_map import LOCAL, localize, vendor_base
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
    assert "tile.openstreetmap.org" in html and "online" in tiles.layer_name
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
