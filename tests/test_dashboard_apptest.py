"""The dashboard's map page under Streamlit's AppTest: widgets, counts and the map payload (no browser).

The shell runs for real (dashboard.py); the account is put in the session state, as after a login.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_fixtures import account_for
from streamlit.testing.v1 import AppTest

from layers.datasets import attribution, load_targets
from layers.schema import LAYERS
from views.offline_map import STATIC_VENDOR_PATH
from views.target_layers import APPROXIMATE_NOTE
from views.vocabulary import text

#: The layer names the page shows in English (the session language of these tests).
LAYER_NAMES = {layer: text("layer", layer, "en") for layer in LAYERS}

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def targets():
    return load_targets()


@pytest.fixture(scope="module")
def records_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A records DB of the test's own (the shell installs the demo snapshot there on first start)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XUNHU_DB", str(tmp_path_factory.mktemp("records") / "records.sqlite"))
        yield


def _run_app() -> AppTest:
    # The first run imports geopandas and prepares the basemap: far beyond AppTest's 3 s default.
    app = AppTest.from_file(str(REPO_ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["lang"] = "en"
    app.session_state["account"] = account_for("manager")
    return app.run()


@pytest.fixture(scope="module")
def shown(records_db) -> AppTest:
    """The page as first shown; shared by the tests that only read it."""
    return _run_app()


@pytest.fixture
def app(records_db) -> AppTest:
    """A fresh page for tests that change widgets."""
    return _run_app()


def _map_args(app: AppTest) -> dict:
    (component,) = app.get("component_instance")
    assert component.proto.component_name == "streamlit_folium.st_folium"
    return json.loads(component.proto.json_args)


def _metrics(app: AppTest) -> dict[str, int]:
    return {metric.label: int(metric.value) for metric in app.metric}


def test_dashboard_runs_and_counts_the_whole_registry(shown: AppTest, targets):
    assert not shown.exception
    assert shown.header[0].value == "Map"
    metrics = _metrics(shown)
    assert metrics["Targets shown"] == len(targets)
    for layer, name in LAYER_NAMES.items():
        assert metrics[name] == (targets["layer"] == layer).sum()
    assert any("SIMULATED" in caption.value for caption in shown.main.caption)


def test_map_assets_are_served_locally_and_exist(shown: AppTest):
    args = _map_args(shown)
    links = args["js_links"] + args["css_links"]
    assert any(link.endswith("leaflet.js") for link in links)
    assert any(link.endswith("leaflet.markercluster.js") for link in links)
    for link in links:
        assert link.startswith(f"/{STATIC_VENDOR_PATH}/"), link
        # /app/static/x is served from ./static/x by enableStaticServing.
        assert (REPO_ROOT / link.removeprefix("/app/")).is_file(), link
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", args["header"])


def test_map_script_holds_basemap_targets_and_controls(shown: AppTest):
    args = _map_args(shown)
    script, groups, control = args["script"], args["feature_group"], args["layer_control"]
    assert "maxZoom" in script
    assert "L.Icon.Default.imagePath" in script
    assert script.count("L.geoJson(") >= 4  # counties, prefectures, province, lakes
    assert script.count("L.polyline(") >= 2  # rivers, roads
    assert "addAttribution" in script
    assert "L.markerClusterGroup(" in groups and "L.circleMarker(" in groups
    assert APPROXIMATE_NOTE in groups
    # The online layer is offered, but not added to the map until a user ticks it.
    assert "tile.openstreetmap.org" in script
    assert ".addTo(map_div)" not in script.split("tile.openstreetmap.org", 1)[1].split(";", 1)[0]
    for name in LAYER_NAMES.values():
        assert json.dumps(name) in control


def test_attribution_is_in_the_footer_and_on_the_map(shown: AppTest):
    text = attribution()
    assert "OpenStreetMap contributors" in text
    assert any(text in caption.value for caption in shown.main.caption)
    assert json.dumps(text.replace("&", "&amp;"))[1:40] in _map_args(shown)["script"]


def test_prefecture_filter_changes_counts_and_map(app: AppTest, targets):
    code = "650100"
    app.sidebar.selectbox(key="prefecture.en").select(code).run()
    assert not app.exception
    expected = targets[targets["prefecture_code"] == code]
    metrics = _metrics(app)
    assert 0 < metrics["Targets shown"] == len(expected) < len(targets)
    assert metrics[LAYER_NAMES["pollution_source"]] == (expected["layer"] == "pollution_source").sum()
    args = _map_args(app)
    groups = args["feature_group"]
    # The view moves to the prefecture: its centre lies inside the prefecture's targets' extent.
    west, south, east, north = expected.total_bounds
    assert south - 1 <= args["center"][0] <= north + 1 and west - 1 <= args["center"][1] <= east + 1
    assert args["zoom"] > 7
    site_ids = set(expected["site_id"])
    assert all(site_id in groups for site_id in list(site_ids)[:20])
    assert not any(site_id in groups for site_id in set(targets["site_id"]) - site_ids)


def test_layer_and_category_filters(app: AppTest, targets):
    app.sidebar.multiselect(key="layers.en").set_value(["protected_area"]).run()
    metrics = _metrics(app)
    assert metrics["Targets shown"] == (targets["layer"] == "protected_area").sum()
    assert metrics[LAYER_NAMES["pollution_source"]] == 0
    assert "L.markerClusterGroup(" not in _map_args(app)["feature_group"]

    app.sidebar.multiselect(key="layers.en").set_value(["pollution_source"]).run()
    app.sidebar.multiselect(key="categories.en").set_value(["key"]).run()
    expected = (targets["layer"] == "pollution_source") & (targets["category"] == "key")
    assert _metrics(app)["Targets shown"] == expected.sum() > 0
