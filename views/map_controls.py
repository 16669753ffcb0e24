"""Small Leaflet additions drawn inside the map: a legend box, the data attribution (folded into
a small "ⓘ" button) and town names that appear with the zoom.

All are rendered into the map's own script (not the page HTML), so streamlit-folium keeps them
and they sit inside ``.leaflet-container`` like Leaflet's built-in controls.
"""

from __future__ import annotations

from branca.element import Element, MacroElement
from jinja2 import Template

from views.web_text import web_text

_STYLE = """<style>
.xunhu-legend{background:rgba(255,255,255,.92);padding:6px 9px;border-radius:5px;
  box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.45 sans-serif;color:#222;max-width:260px}
.xunhu-legend summary{font-weight:bold;cursor:pointer}
.xunhu-legend i{display:inline-block;width:18px;height:11px;margin-right:6px;vertical-align:middle}
.leaflet-control-attribution.xunhu-attribution{font-size:10px;line-height:1.3;max-width:62vw;
  white-space:normal;background:rgba(255,255,255,.88);cursor:pointer}
.xunhu-attribution::before{content:"ⓘ " attr(data-label);font:bold 11px/1.4 sans-serif;color:#333}
.xunhu-attribution:not(.xunhu-collapsed)::before{display:block}
.xunhu-attribution.xunhu-collapsed{font-size:0;padding:1px 6px;border-radius:4px 0 0 0;white-space:nowrap}
.xunhu-attribution.xunhu-collapsed a{display:none}
@media (max-width:560px){.leaflet-control-attribution.xunhu-attribution{max-width:90vw}}
.xunhu-place{white-space:nowrap;font:11px/1.2 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#3b3b3b;
  text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff}
.xunhu-place i{display:inline-block;width:5px;height:5px;border-radius:50%;background:#4a4a4a;
  margin-right:3px;vertical-align:middle;box-shadow:0 0 0 1px #fff}
.xunhu-place-z5{font-weight:bold;font-size:13px;color:#1e1e1e}
.xunhu-place-z7{font-size:12px}
</style>"""


class _StyledControl(MacroElement):
    """A control whose look comes from the shared ``_STYLE`` block in the page header."""

    def render(self, **kwargs) -> None:
        """Put the style into the header (a fixed name keeps it to one copy per map), then render."""
        self.get_root().header.add_child(Element(_STYLE), name="xunhu_control_style")
        super().render(**kwargs)


class Legend(_StyledControl):
    """A collapsible legend box: a title and rows of (swatch CSS, label)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var legend = L.control({position: {{ this.position|tojson }}});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "xunhu-legend");
    div.innerHTML = {{ this.inner_html|tojson }};
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  legend.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}"""
    )

    def __init__(
        self, title: str, rows: list[tuple[str, str]], position: str = "bottomleft", expanded: bool = True
    ) -> None:
        """``rows`` are (CSS for the swatch, label text); text is HTML-escaped here."""
        super().__init__()
        self._name = "Legend"
        self.position = position
        items = "".join(f'<div><i style="{web_text(css)}"></i>{web_text(label)}</div>' for css, label in rows)
        self.inner_html = (
            # data-open marks a legend that is open on a wide map (a narrow one folds it).
            f"<details{' open data-open' if expanded else ''}><summary>{web_text(title)}</summary>{items}</details>"
        )


class Attribution(_StyledControl):
    """The data attribution in Leaflet's attribution control (bottom right), folded to a small
    "ⓘ ``label``" button that opens on a click (or Enter) and closes on the next one.

    Folded, it no longer covers a quarter of a phone's map, and the text stays one click away as the
    data licences require. Leaflet rewrites the control's content whenever a layer adds its own
    attribution (the online tiles), so the state lives in the control's classes, which it keeps.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var control = {{ this._parent.get_name() }}.attributionControl;
  control.addAttribution({{ this.text_html|tojson }});
  var box = control.getContainer();
  box.classList.add("xunhu-attribution", "xunhu-collapsed");
  box.setAttribute("data-label", {{ this.label|tojson }});
  box.setAttribute("role", "button");
  box.setAttribute("tabindex", "0");
  box.setAttribute("aria-expanded", "false");
  function toggle(event) {
    // Links in the open text still work; any other click folds it again.
    if (event.target.tagName === "A" && !box.classList.contains("xunhu-collapsed")) return;
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
    L.DomEvent.preventDefault(event);
    var folded = box.classList.toggle("xunhu-collapsed");
    box.setAttribute("aria-expanded", folded ? "false" : "true");
  }
  L.DomEvent.on(box, "click keydown", toggle);
  L.DomEvent.disableClickPropagation(box);
})();
{% endmacro %}"""
    )

    def __init__(self, text: str, label: str) -> None:
        """``text`` is the attribution, ``label`` the button's word; both are HTML-escaped here."""
        super().__init__()
        self._name = "Attribution"
        self.text_html = web_text(text)
        # The label goes into a CSS content: attribute, which shows it as text (never as HTML).
        self.label = label


class PlaceLabels(_StyledControl):
    """Town names on the map, each shown from its own zoom on (rows of
    :func:`views.basemap.place_labels`: [lat, lon, name, zoom]).

    One layer group per zoom threshold is added or removed when the zoom changes, so the province
    view carries a dozen city names and a county view every town; a name that would overlap a
    bigger place's name is hidden until the user zooms in. The labels sit in their own pane
    between the areas and the markers and let clicks through to the map.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var pane = map.createPane("xunhuPlaces");
  pane.style.zIndex = 450;
  pane.style.pointerEvents = "none";
  var groups = {};
  {{ this.places|tojson }}.forEach(function (place) {
    var zoom = place[3];
    var group = groups[zoom] || (groups[zoom] = L.layerGroup());
    L.marker([place[0], place[1]], {
      pane: "xunhuPlaces", interactive: false, keyboard: false,
      icon: L.divIcon({className: "xunhu-place xunhu-place-z" + zoom, html: "<i></i>" + place[2],
                       iconSize: null, iconAnchor: [4, 8]})
    }).addTo(group);
  });
  var order = [];
  Object.keys(groups).sort(function (a, b) { return a - b; }).forEach(function (from) {
    order = order.concat(groups[from].getLayers());
  });
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  // A name that would cover a bigger place's name (drawn earlier) is hidden at this view.
  function declutter() {
    var view = map.getContainer().getBoundingClientRect();
    var kept = [];
    order.forEach(function (marker) {
      var label = marker.getElement();
      if (!label) { return; }
      label.style.visibility = "";
      var box = label.getBoundingClientRect();
      if (!overlaps(box, view)) { return; }
      if (kept.some(function (other) { return overlaps(box, other); })) {
        label.style.visibility = "hidden";
      } else {
        kept.push(box);
      }
    });
  }
  function update() {
    var zoom = map.getZoom();
    Object.keys(groups).forEach(function (from) {
      var show = zoom >= Number(from);
      if (show && !map.hasLayer(groups[from])) { groups[from].addTo(map); }
      if (!show && map.hasLayer(groups[from])) { map.removeLayer(groups[from]); }
    });
    declutter();
  }
  map.on("zoomend", update);
  map.on("moveend resize", declutter);
  update();
})();
{% endmacro %}"""
    )

    def __init__(self, places: list[list]) -> None:
        """Names are HTML-escaped here: the browser puts them into the label's innerHTML."""
        super().__init__()
        self._name = "PlaceLabels"
        self.places = [[lat, lon, web_text(name), zoom] for lat, lon, name, zoom in places]
