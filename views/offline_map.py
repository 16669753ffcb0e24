"""Make a folium map load its JavaScript and CSS from our own server, never from a CDN.

folium points every map at CDNs (jsdelivr, cdnjs, code.jquery.com, ...), and streamlit-folium
loads those scripts one after another: if one fails the map silently never appears. The files
are vendored under ``static/vendor`` (``tools/vendor_web_assets.sh``) and Streamlit serves them
at ``/app/static/vendor`` when ``server.enableStaticServing`` is on (``.streamlit/config.toml``).
:func:`localize` rewrites a finished map to use them. See /work/shared/design/UI-TESTING.md.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Sequence

import folium
import streamlit as st
from branca.element import Element, MacroElement
from folium.utilities import JsCode
from jinja2 import Template
from streamlit_folium import st_folium

#: Zoom limit used when the map has no tile layer to supply one (MarkerCluster needs it).
DEFAULT_MAX_ZOOM = 16
STATIC_VENDOR_PATH = "app/static/vendor"

#: folium 0.20 CDN URL -> file under static/vendor (versions as in static/vendor/VERSIONS.txt).
LOCAL = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": "bootstrap/bootstrap.bundle.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": "awesome-markers/leaflet.awesome-markers.js",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": "awesome-markers/leaflet.awesome-markers.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": "markercluster/leaflet.markercluster.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": "markercluster/MarkerCluster.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": "markercluster/MarkerCluster.Default.css",
}
#: CSS with no npm source. Dropping it only loses glyphicon icons and icon rotation; markers
#: therefore use ``folium.Icon(prefix="fa")`` or CircleMarkers.
DROP = {
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css",
}


def vendor_base(base_url_path: str | None = None) -> str:
    """URL path of the vendored assets, honouring Streamlit's ``server.baseUrlPath``.

    ``base_url_path`` defaults to the running Streamlit's option, so the map also works when the
    app is served under a prefix such as ``/xunhu/`` behind a reverse proxy.
    """
    if base_url_path is None:
        import streamlit as st

        base_url_path = st.get_option("server.baseUrlPath") or ""
    prefix = base_url_path.strip("/")
    return f"/{prefix}/{STATIC_VENDOR_PATH}" if prefix else f"/{STATIC_VENDOR_PATH}"


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


class _IconImagePath(MacroElement):
    """Sets ``L.Icon.Default.imagePath`` before any marker is made.

    streamlit-folium adds leaflet.css without waiting for it, so Leaflet's own guess of the
    image path races the stylesheet and requests a wrong URL on first load.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}L.Icon.Default.imagePath = {{ this.path|tojson }};{% endmacro %}"
    )

    def __init__(self, path: str) -> None:
        super().__init__()
        self._name = "IconImagePath"
        self.path = path


def localize_assets(element: Element, base: str) -> None:
    """Rewrite the asset links of ``element`` and everything below it to the vendored copies.

    Unknown remote assets are kept but raise a warning, since they would break the map offline.
    """
    for item in _walk(element):
        for attr in ("default_js", "default_css"):
            links = getattr(item, attr, None)
            if not links:
                continue
            rewritten = []
            for name, url in links:
                if url in DROP:
                    continue
                if url in LOCAL:
                    url = f"{base}/{LOCAL[url]}"
                elif url.startswith(("http://", "https://", "//")):
                    warnings.warn(f"map asset not vendored, needs internet: {url}", stacklevel=3)
                rewritten.append((name, url))
            # An instance attribute: folium's class-level lists stay untouched for other maps.
            setattr(item, attr, rewritten)


def localize(
    m: folium.Map,
    extra: Iterable[Element] = (),
    base: str | None = None,
    max_zoom: int = DEFAULT_MAX_ZOOM,
) -> folium.Map:
    """Point every asset of ``m`` (and of ``extra`` elements, such as the feature groups handed
    to ``st_folium(feature_group_to_add=...)``) at the vendored copies; make ``m`` safe without tiles.

    Idempotent (safe on a map that was already localized). Sets ``maxZoom`` when the map has
    none: without a tile layer Leaflet has no zoom limit and MarkerCluster refuses to start.
    Returns ``m`` for chaining: ``st_folium(localize(m))``.
    """
    base = base or vendor_base()
    for element in (m, *extra):
        localize_assets(element, base)
    if m.options.get("max_zoom") is None:
        m.options["max_zoom"] = max_zoom
    # A fixed child name makes a second call replace the element instead of adding another.
    m.add_child(_IconImagePath(f"{base}/leaflet/images/"), name="xunhu_icon_image_path", index=0)
    return m


#: Inside the map's frame: the map fills the frame (whose height the page sets, see
#: :data:`WIDE_MAP_CSS`), and on a phone the open layer list is drawn smaller.
MAP_FRAME_CSS = (
    "<style>#map_div{height:100vh !important;}"
    "@media (max-width: 560px) {"
    ".leaflet-control-layers-expanded{font-size:11px;line-height:1.25;padding:2px 6px;}"
    "}</style>"
)
#: A map narrower than this (a phone, a narrow column) starts with its layer list folded.
NARROW_MAP_PX = 700
#: Prefix of the key of the container around a map that may grow (see :func:`show_map`).
GROW_KEY = "xunhu-grow-"
#: On the page: in a wide and tall window such a map takes most of the window's height instead of
#: the fixed height the page asked for (its height on smaller screens; the window rule keeps the
#: new height above it). Streamlit gives a keyed container the class ``st-key-<key>``.
WIDE_MAP_CSS = f"""<style>
@media (min-width: 1200px) and (min-height: 900px) {{
  [class*="st-key-{GROW_KEY}"] iframe[title="streamlit_folium.st_folium"] {{height: calc(100vh - 230px) !important;}}
}}
</style>"""


class _FoldOnNarrow(MacroElement):
    """On a narrow map, fold the layer list and the legends to their buttons; open them again when
    the map grows wide (a phone turned sideways, a resized window). Only a crossing of the width
    acts, so a list the user opened stays open while the phone's address bar comes and goes."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var wasNarrow = null;
  function fold() {
    var narrow = window.innerWidth < {{ this.narrow_px }};
    if (narrow === wasNarrow) { return; }
    wasNarrow = narrow;
    var box = map.getContainer();
    box.querySelectorAll(".leaflet-control-layers").forEach(function (list) {
      list.classList.toggle("leaflet-control-layers-expanded", !narrow);
    });
    box.querySelectorAll(".xunhu-legend details[data-open]").forEach(function (legend) {
      legend.open = !narrow;
    });
  }
  map.on("resize", fold);
  // After the other controls (and st_folium's layer list) are in place.
  setTimeout(fold, 0);
})();
{% endmacro %}"""
    )

    def __init__(self, narrow_px: int) -> None:
        super().__init__()
        self._name = "FoldOnNarrow"
        self.narrow_px = narrow_px


def layer_control() -> folium.LayerControl:
    """The layer list: open on a wide map, folded to its button on a narrow one (a phone), where an
    open list covered the routes. Decided in the browser from the map's own width."""
    return folium.LayerControl(collapsed=JsCode(f"window.innerWidth < {NARROW_MAP_PX}"))


def show_map(
    m: folium.Map,
    *,
    key: str,
    height_px: int,
    groups: Sequence[folium.FeatureGroup] = (),
    centre: tuple[float, float] | list[float] | None = None,
    zoom: int | None = None,
    grow: bool = False,
) -> None:
    """Show ``m`` offline with streamlit-folium, as a display-only map.

    ``groups`` are drawn as swappable layers over the base map (streamlit-folium redraws only
    them when they change, so the user's view survives a filter change) and get a layer control.
    ``returned_objects=[]`` keeps panning and zooming from rerunning the page; on a phone the
    layer list starts folded (:func:`layer_control`). With ``grow`` (a page's main map) the map
    takes most of a wide screen's height (:data:`WIDE_MAP_CSS`; ``height_px`` is its height
    elsewhere); small maps, such as a site card's, keep ``height_px``. A map without
    ``groups`` opens at ``centre`` and ``zoom``: st_folium applies them only after its first
    render, so the map's own view (a basemap fits the whole province) is replaced by them. A map
    with ``groups`` keeps its own HTML, which must stay the same from one rerun to the next for
    st_folium to swap only the groups (and keep the user's view).
    """
    m.get_root().header.add_child(folium.Element(MAP_FRAME_CSS), name="xunhu_map_frame")
    m.add_child(_FoldOnNarrow(NARROW_MAP_PX), name="xunhu_fold_on_narrow")
    if centre is not None and zoom is not None and not groups:
        for name, child in list(m._children.items()):
            if isinstance(child, folium.map.FitBounds):
                del m._children[name]
        m.location, m.options["zoom"] = list(centre), zoom
    options: dict = {}
    if groups:
        options = {
            "feature_group_to_add": list(groups),
            "layer_control": layer_control(),
        }
    with st.container(key=f"{GROW_KEY}{key}") if grow else contextlib.nullcontext():
        if grow:
            # A style-only element takes no room on the page.
            st.html(WIDE_MAP_CSS)
        st_folium(
            localize(m, extra=groups),
            key=key,
            height=height_px,
            use_container_width=True,
            center=centre,
            zoom=zoom,
            returned_objects=[],
            **options,
        )
