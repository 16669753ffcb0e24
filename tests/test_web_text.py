"""Escaping of registry and records text on its way into the dashboard's HTML and map scripts.

The browser proof is tests/test_browser_hostile.py; these tests check what each builder writes:
no raw markup, no template-literal expression, and text that still reads as it was typed.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import folium
import pandas as pd
import pytest
from shapely.geometry import Point, box

from layers.datasets import load_targets
from layers.problems import find_markup
from planning.export import KML_NS, team_kml
from records.store import open_store
from simulation.snapshot import install_demo_snapshot
from views.coverage_layers import choropleth
from views.map_controls import Legend
from views.plan_tables import route_sheet_html
from views.route_layers import first_day, previous_routes_group, team_group
from views.target_layers import target_groups
from views.web_text import web_columns, web_text

IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "${alert(2)}"
BREAKOUT = "</script><script>alert(3)</script>"
HOSTILE = [IMG, TEMPLATE, BREAKOUT, "`; alert(4); `", "C:\\u0041 & <b>\"q\" 'a'"]
#: Text a person types that is not markup: must read the same after escaping.
PLAIN = ["乌鲁木齐 A&B 水源地", "a < b > c", "<5 t/d", "50% $ off", 'O\'Brien "quoted"']


def _bodies(rendered: str) -> list[str]:
    """The template literals folium writes for tooltips: ``bindTooltip(`<div>…</div>`, ...``."""
    return re.findall(r"bindTooltip\(\s*`(.*?)`,", rendered, flags=re.DOTALL)


def _assert_inert(rendered: str, hostile: str) -> None:
    """``hostile`` reached ``rendered`` only escaped: no tag, no expression, no script end."""
    assert hostile not in rendered
    assert "<img" not in rendered and "alert(3)</script>" not in rendered
    assert "${alert" not in rendered


@pytest.mark.parametrize("text", HOSTILE + PLAIN)
def test_web_text_reads_back_exactly_and_leaves_nothing_active(text):
    escaped = web_text(text)
    # The browser decodes entities once: what it shows is what was typed.
    assert html.unescape(escaped) == text
    for active in ("<", ">", '"', "'", "`", "$", "\\"):
        assert active not in escaped
    # Ampersands only start entities (nothing like "&amp;lt;" double escaping).
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt|quot|#x27|#96|#36|#92);)*", escaped)


def test_web_columns_escapes_text_cells_only():
    frame = pd.DataFrame({"name": [IMG, "plain"], "risk": [5, 1]})
    out = web_columns(frame)
    assert out["name"].tolist() == [web_text(IMG), "plain"]
    assert out["risk"].tolist() == [5, 1]
    assert frame["name"].iloc[0] == IMG  # the input frame is not changed


@pytest.mark.parametrize("text", HOSTILE)
def test_folium_tooltip_of_web_text_is_an_inert_template_literal(text):
    m = folium.Map(tiles=None)
    folium.CircleMarker((43.8, 87.6), tooltip=web_text(text)).add_to(m)
    rendered = m.get_root().render()
    (body,) = _bodies(rendered)
    assert "`" not in body and "${" not in body and "\\" not in body
    assert (
        html.unescape(body).strip() == f"<div>\n                     {text}\n                 </div>".strip()
    )


@pytest.fixture(scope="module")
def hostile_targets():
    """One target per layer from the shipped registry, renamed to a hostile name."""
    targets = load_targets()
    sample = targets.groupby("layer").head(1).copy()
    sample["name"] = [f"{IMG} {TEMPLATE} {BREAKOUT} {layer}" for layer in sample["layer"]]
    return sample


def test_target_tooltips_carry_names_escaped_on_every_layer(hostile_targets):
    m = folium.Map(tiles=None)
    for group in target_groups(hostile_targets):
        group.add_to(m)
    rendered = m.get_root().render()
    for name in hostile_targets["name"]:
        _assert_inert(rendered, name)
        # GeoJSON properties and the cluster's data array are JSON inside the script.
        assert json.dumps(web_text(name), ensure_ascii=False)[1:-1] in rendered.replace("\\u0026", "&")


def test_layers_page_ring_and_closure_style_tooltips_are_inert():
    """The strings passed as ``tooltip=`` by the Layers ring and the Closures map (same path)."""
    m = folium.Map(tiles=None)
    folium.CircleMarker((43.8, 87.6), tooltip=web_text(f"{TEMPLATE} {BREAKOUT}")).add_to(m)
    folium.GeoJson(box(87, 43, 88, 44).__geo_interface__, tooltip=web_text(f"{IMG} · rain")).add_to(m)
    rendered = m.get_root().render()
    _assert_inert(rendered, IMG)
    assert len(_bodies(rendered)) == 2


@pytest.fixture(scope="module")
def hostile_plan(tmp_path_factory) -> dict:
    """A plan of the shipped demo history with a hostile team id and hostile stop names."""
    db = tmp_path_factory.mktemp("demo") / "records.sqlite"
    assert install_demo_snapshot(path=db)
    with open_store(db) as store:
        plan = store.plan(int(store.plans()["plan_id"].iloc[0]))["plan"]
    team = plan["teams"][0]
    team["team_id"] = f"T1{TEMPLATE}"
    team["base"] = IMG
    for stop in team["stops"]:
        stop["name"] = f"{IMG} {BREAKOUT} {stop['name']}"
    return plan


def test_route_layers_escape_team_ids_and_stop_names(hostile_plan):
    m = folium.Map(tiles=None)
    team_group(hostile_plan, 0, [], first_day(hostile_plan)).add_to(m)
    previous_routes_group(hostile_plan, {}, f"old {TEMPLATE}").add_to(m)
    rendered = m.get_root().render()
    _assert_inert(rendered, IMG)
    bodies = _bodies(rendered)
    assert bodies and all("${" not in body and "`" not in body for body in bodies)
    name = hostile_plan["teams"][0]["stops"][1]["name"]
    assert any(name in html.unescape(body) for body in bodies)
    # Layer-control names are shown as HTML by Leaflet.
    assert f"Route T1{TEMPLATE}" not in rendered and "old ${" not in rendered


def test_route_sheet_and_legend_escape_names(hostile_plan):
    team = hostile_plan["teams"][0]
    sheet = route_sheet_html(hostile_plan, team, load_targets())
    _assert_inert(sheet, IMG)
    assert web_text(team["stops"][1]["name"]) in sheet
    legend = Legend(IMG, [("background:red", f"{team['team_id']} ({team['base']})")])
    assert "<img" not in legend.inner_html and "${" not in legend.inner_html
    assert html.unescape(legend.inner_html).count(IMG) == 2


def test_kml_stop_descriptions_are_html_escaped_for_google_earth(hostile_plan):
    plan = json.loads(json.dumps(hostile_plan))
    team = plan["teams"][0]
    site = next(stop for stop in team["stops"] if stop["type"] == "site")
    site["id"] = f"PS-1{IMG}"
    root = ET.fromstring(team_kml(plan, team, []).split("?>", 1)[1])
    texts = [element.text for element in root.iter(f"{{{KML_NS}}}description")]
    # What Google Earth renders as HTML (the XML-decoded text) holds no tag, yet reads as typed.
    described = next(text for text in texts if "PS-1" in text)
    assert "<img" not in described and IMG in html.unescape(described)


def test_coverage_choropleth_escapes_region_names():
    features = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": Point(87.6, 43.8).buffer(0.1).__geo_interface__,
                "properties": {"name_zh": IMG},
            }  # fmt: skip
        ],
    }
    layer = choropleth(features, pd.Series({IMG: 50.0}), "c", "Coverage", "Region", "no data")
    assert layer.data["features"][0]["properties"]["region"] == web_text(IMG)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (IMG, "<img"),
        ("水源地</script>", "</script"),
        ("x <!-- y", "<!"),
        (TEMPLATE, "${"),
        ("JavaScript :void(0)", "JavaScript :"),
        ('a" onmouseover="x()', "onmouseover="),
        ("<SVG/onload=x>", "<SVG"),
    ],
)
def test_find_markup_names_the_markup(text, found):
    assert find_markup(text) == found


@pytest.mark.parametrize("text", [*PLAIN, "Ontario station", "online monitoring", "a<1", ""])
def test_find_markup_leaves_ordinary_text_alone(text):
    assert find_markup(text) is None
