"""Text from the registry, the records and users, made safe to put into the dashboard's HTML.

Site names, team ids, closure names and the like reach the browser in three contexts, and
folium escapes none of them:

* ``innerHTML``: GeoJsonTooltip/GeoJsonPopup rows, Leaflet tooltips, layer-control names, legends;
* a JavaScript template literal: ``folium.Tooltip`` writes its text between backticks inside
  the map's ``<script>``, so ``${...}`` runs at page load and a backtick or ``</script>`` ends it;
* a standalone HTML page (the printable route sheet).

:func:`web_text` covers all three at once: HTML escaping turns ``<``, ``>``, ``&`` and quotes into
entities (so ``</script>`` cannot appear), and backtick, ``$`` and backslash become numeric
entities too, which a template literal keeps as plain characters. The browser decodes the
entities when it parses the HTML, so "A & B <1>" still reads "A & B <1>". Escape exactly once,
where a string enters HTML: escaped text passed through again shows its entities.
"""

from __future__ import annotations

import html

import pandas as pd

# Characters that are harmless in HTML but live in a JS template literal: "${" opens an
# expression, a backtick ends the literal and a backslash starts an escape (a stray "\u" is a
# syntax error that would stop the whole map script).
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def web_text(value: object) -> str:
    """``value`` as text that is inert in HTML and inside folium's template-literal tooltips."""
    return html.escape(str(value), quote=True).translate(_TEMPLATE_LITERAL)


def web_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every string cell passed through :func:`web_text` (others kept).

    For tables whose cells folium or the page's own script puts into ``innerHTML`` unescaped
    (GeoJsonTooltip fields, the marker-cluster tooltips).
    """
    return frame.map(lambda cell: web_text(cell) if isinstance(cell, str) else cell)
