"""Small Leaflet controls drawn inside the map: a legend box and the data attribution.

Both are rendered into the map's own script (not the page HTML), so streamlit-folium keeps them
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
.leaflet-control-attribution.leaflet-control{font-size:10px;line-height:1.3;max-width:62%;
  white-space:normal;background:rgba(255,255,255,.85)}
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
            f"<details{' open' if expanded else ''}><summary>{web_text(title)}</summary>{items}</details>"
        )


class Attribution(_StyledControl):
    """Adds the data attribution text to Leaflet's attribution control (bottom right)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text_html|tojson }});
{% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text_html = web_text(text)
