"""A weekly plan on the map: each team's road route, coloured by team, one dash pattern per day.

The plan's stops come from the planner's JSON (``planning.plan.Plan.to_dict()``) and the road
geometry of each leg from ``planning.export.plan_legs`` (leg k arrives at stop k + 1). Each team
is one ``folium.FeatureGroup`` (so the layer control lists the teams), holding one polyline per
day (tooltip "T1 day 2"), numbered site markers, bed markers for the nights and a house marker
for the base.

Numbered stops that would overlap are drawn as one badge naming their numbers ("3–7"): in a town
centre a team may inspect five sites within a few hundred metres, whose numbers piled into an
unreadable stack. We chose this over numbering per day with a day filter because a chief
approving a plan reads the whole week at once (which team goes where, in what order, how the days
chain) and compares teams; a day filter would hide six days of seven and cost a click per day.
A badge keeps every number on the map at every zoom: hovering it lists its stops, clicking it
zooms in until they separate, and stops at the very same spot fan out (Leaflet.markercluster,
already vendored for the target map, with a small radius so that only overlapping numbers merge).
"""

from __future__ import annotations

import datetime as dt

import folium
from branca.element import MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template

from views.basemap import view_for
from views.i18n import register
from views.web_text import web_text

T = register(
    {
        "plan.map.team_day": ("{team} 第{day}天", "{team} day {day}"),
        "plan.map.team_layer": ("路线 {team}", "Route {team}"),
        "plan.map.night": ("{team} 第{night}晚住宿：{name}", "{team} night {night}: {name}"),
        "plan.map.base": ("{team} 基地：{name}", "{team} base: {name}"),
        "plan.map.stop": (
            "{team} #{seq} 第{day}天 {arrive}：{name}",
            "{team} #{seq} day {day} {arrive}: {name}",
        ),
        "plan.map.legend": ("巡护路线", "Patrol routes"),
        "plan.map.legend_team": ("{team}（{base}）{km:.0f} 公里", "{team} ({base}) {km:.0f} km"),
        "plan.map.legend_day": ("第{day}天", "Day {day}"),
        "plan.map.legend_bed": ("住宿点", "Overnight stop"),
    }
)

#: (line colour, awesome-markers colour of about the same hue) per team, in scenario order.
TEAM_STYLES = (
    ("#d62728", "red"),
    ("#1f77b4", "blue"),
    ("#2ca02c", "green"),
    ("#9467bd", "purple"),
    ("#ff7f0e", "orange"),
    ("#17becf", "cadetblue"),
    ("#8c564b", "darkred"),
    ("#525252", "black"),
)
#: Dash pattern per day (cycled): day 1 solid, then ever sparser dashes.
DAY_DASHES = (None, "12 6", "3 6", "14 5 3 5", "1 8", "20 8", "6 3 1 3")
#: Local time at which one plan day ends and the next begins (a night check after midnight
#: still belongs to the evening before).
DAY_BOUNDARY = dt.timedelta(hours=5)


def team_style(index: int) -> tuple[str, str]:
    """(line colour, marker colour) of the ``index``-th team."""
    return TEAM_STYLES[index % len(TEAM_STYLES)]


def day_dash(day: int) -> str | None:
    """Dash pattern of plan day ``day`` (1-based)."""
    return DAY_DASHES[(day - 1) % len(DAY_DASHES)]


def plan_day(first_day: dt.date, moment: str) -> int:
    """1-based plan day of an ISO time (the day runs from 05:00 to 05:00 local time)."""
    local = dt.datetime.fromisoformat(moment)
    return ((local - DAY_BOUNDARY).date() - first_day).days + 1


def first_day(plan: dict) -> dt.date:
    """The plan's first local day (the scenario's ``start``)."""
    return dt.date.fromisoformat(str(plan["scenario"]["start"])[:10])


def _day_lines(
    stops: list[dict], legs: list[list[tuple[float, float]]], start: dt.date
) -> dict[int, list[list[tuple[float, float]]]]:
    """Per plan day, the (lat, lon) lines of the legs driven that day (by the departure time)."""
    days: dict[int, list[list[tuple[float, float]]]] = {}
    for k, leg in enumerate(legs):
        if len(leg) >= 2:
            day = plan_day(start, stops[k]["depart"])
            days.setdefault(day, []).append([(lat, lon) for lon, lat in leg])
    return days


#: Numbers closer than this many pixels merge into one badge (a stop marker is 22 px wide; a
#: little more keeps neighbouring badges of one team apart too).
STOP_CLUSTER_PX = 36
#: The merged badge: its stops' numbers in the team colour, "3–7" for a run, "3,5,9" or "3,5,…".
_STOP_BADGE = """function (cluster) {
    var seqs = cluster.getAllChildMarkers().map(function (m) { return m.options.seq; });
    seqs.sort(function (a, b) { return a - b; });
    var last = seqs.length - 1;
    var text = seqs[last] - seqs[0] === last ? seqs[0] + "\u2013" + seqs[last]
        : (seqs.length <= 3 ? seqs.join(",") : seqs.slice(0, 2).join(",") + ",\u2026");
    var width = 12 + 7 * text.length;
    return L.divIcon({
        className: "",
        html: '<div class="xunhu-stop xunhu-stops" style="%(style)s;width:' + width + 'px">' + text + "</div>",
        iconSize: [width, 22], iconAnchor: [width / 2, 11]
    });
}"""


def _stop_style(colour: str) -> str:
    """CSS of a numbered stop in the team colour (white ring, bold white number)."""
    return (
        f"background:{colour};color:#fff;border:2px solid #fff;border-radius:11px;height:22px;"
        "min-width:22px;box-sizing:border-box;font:bold 11px/18px sans-serif;text-align:center;"
        "box-shadow:0 0 3px rgba(0,0,0,.5);white-space:nowrap"
    )


def _number_icon(seq: int, colour: str) -> folium.DivIcon:
    return folium.DivIcon(
        html=f'<div class="xunhu-stop" style="{_stop_style(colour)}">{seq}</div>',
        icon_size=(22, 22),
        icon_anchor=(11, 11),
    )


class _BadgeTooltips(MacroElement):
    """Hovering a merged badge lists its stops (their own tooltips, already escaped, in order)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.on("clustermouseover", function (event) {
    var markers = event.layer.getAllChildMarkers().slice();
    markers.sort(function (a, b) { return a.options.seq - b.options.seq; });
    var lines = markers.map(function (m) { return m.getTooltip() ? m.getTooltip().getContent() : ""; });
    event.layer.bindTooltip(lines.join("<br>")).openTooltip();
});
{% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "BadgeTooltips"


def _stop_cluster(colour: str) -> MarkerCluster:
    """The layer of a team's numbered stops, merging overlapping numbers into one badge."""
    cluster = MarkerCluster(
        icon_create_function=_STOP_BADGE % {"style": _stop_style(colour)},
        control=False,
        maxClusterRadius=STOP_CLUSTER_PX,
        showCoverageOnHover=False,
        spiderfyOnMaxZoom=True,
        # Without animation MarkerCluster draws each merge once (see views.target_layers).
        animate=False,
    )
    cluster.add_child(_BadgeTooltips())
    return cluster


def team_group(
    plan: dict, index: int, legs: list[list[tuple[float, float]]], start: dt.date
) -> folium.FeatureGroup:
    """The layer of the ``index``-th team: its daily lines and its stops."""
    team = plan["teams"][index]
    team_id = str(team["team_id"])
    colour, marker_colour = team_style(index)
    # Team ids come from the roster: the layer control shows names as HTML, tooltips are JS
    # template literals, so every text below goes through web_text.
    group = folium.FeatureGroup(name=web_text(T("plan.map.team_layer", team=team_id)), show=True)
    stops = team["stops"]
    numbered = _stop_cluster(colour).add_to(group)
    for day, lines in sorted(_day_lines(stops, legs, start).items()):
        folium.PolyLine(
            lines,
            color=colour,
            weight=4,
            opacity=0.9 if day % 2 else 0.7,
            dash_array=day_dash(day),
            tooltip=web_text(T("plan.map.team_day", team=team_id, day=day)),
        ).add_to(group)
    for stop in stops:
        name = str(stop["name"])
        location = (float(stop["lat"]), float(stop["lon"]))
        if stop["type"] == "site":
            text = T(
                "plan.map.stop",
                team=team_id,
                seq=stop["seq"],
                day=plan_day(start, stop["arrive"]),
                arrive=str(stop["arrive"])[11:16],
                name=name,
            )
            # ``seq`` rides along in the marker's options for the merged badge's text.
            marker = folium.Marker(
                location,
                icon=_number_icon(int(stop["seq"]), colour),
                tooltip=web_text(text),
                seq=int(stop["seq"]),
            )
            marker.add_to(numbered)
        elif stop.get("night") is not None:
            text = T("plan.map.night", team=team_id, night=int(stop["night"]) + 1, name=name)
            icon = folium.Icon(icon="bed", prefix="fa", color=marker_colour, icon_color="white")
            folium.Marker(location, icon=icon, tooltip=web_text(text)).add_to(group)
        elif stop["seq"] == 0:
            text = T("plan.map.base", team=team_id, name=name)
            icon = folium.Icon(icon="house", prefix="fa", color=marker_colour, icon_color="white")
            folium.Marker(location, icon=icon, tooltip=web_text(text)).add_to(group)
    return group


def route_groups(plan: dict, legs: dict[str, list[list[tuple[float, float]]]]) -> list[folium.FeatureGroup]:
    """One layer per team, in the plan's team order."""
    start = first_day(plan)
    return [team_group(plan, i, legs.get(str(t["team_id"]), []), start) for i, t in enumerate(plan["teams"])]


def route_legend_rows(plan: dict, days: int) -> list[tuple[str, str]]:
    """Legend rows (swatch CSS, label): a colour per team, a dash pattern per day, the bed marker."""
    rows = []
    for i, team in enumerate(plan["teams"]):
        colour, _ = team_style(i)
        label = T(
            "plan.map.legend_team", team=team["team_id"], base=team.get("base", ""), km=team["drive_km"]
        )
        rows.append((f"border-top:4px solid {colour}", label))
    for day in range(1, days + 1):
        dash = day_dash(day)
        style = "solid" if dash is None else ("dotted" if dash.startswith(("1 ", "3 ")) else "dashed")
        rows.append((f"border-top:3px {style} #444", T("plan.map.legend_day", day=day)))
    rows.append(("background:#555;border-radius:3px", T("plan.map.legend_bed")))
    return rows


def plan_bounds(plan: dict, legs: dict[str, list[list[tuple[float, float]]]]) -> list[list[float]] | None:
    """[[south, west], [north, east]] around every stop and leg, or None for an empty plan."""
    points = [(float(s["lon"]), float(s["lat"])) for t in plan["teams"] for s in t["stops"]]
    points += [p for team_legs in legs.values() for leg in team_legs for p in leg]
    if not points:
        return None
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def previous_routes_group(
    plan: dict, legs: dict[str, list[list[tuple[float, float]]]], name: str
) -> folium.FeatureGroup:
    """The routes of a replaced plan in one layer ``name``: every team's legs dashed grey, under
    the new plan's coloured routes."""
    group = folium.FeatureGroup(name=web_text(name), show=True)
    for team in plan["teams"]:
        team_id = str(team["team_id"])
        lines = [[(lat, lon) for lon, lat in leg] for leg in legs.get(team_id, []) if len(leg) >= 2]
        if not lines:
            stops = team["stops"]
            lines = [[(float(s["lat"]), float(s["lon"])) for s in stops]] if len(stops) >= 2 else []
        for line in lines:
            folium.PolyLine(
                line,
                color="#888888",
                weight=3,
                opacity=0.8,
                dash_array="8 8",
                tooltip=web_text(f"{name} {team_id}"),
            ).add_to(group)
    return group


def route_view(
    plan: dict, legs: dict, fallback: list[list[float]], width_px: int, height_px: int
) -> tuple[list[float], float]:
    """(centre, zoom) that shows a plan's routes (``fallback`` bounds when it has none).

    st_folium sizes its iframe after the map script ran, so a fitBounds in the script would fit
    the wrong box: the view is set from the bounds and a typical width instead, with room at the
    bottom for the attribution and on the right for the layer control."""
    (south, west), (north, east) = plan_bounds(plan, legs) or fallback
    lat_span, lon_span = max(north - south, 0.05), max(east - west, 0.05)
    padded = [
        [south - 0.22 * lat_span, west - 0.06 * lon_span],
        [north + 0.08 * lat_span, east + 0.3 * lon_span],
    ]
    return view_for(padded, width_px, height_px)
