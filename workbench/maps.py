"""Folium maps: basemaps, site boundaries, the overview of all living labs, the notes layer and
context layers drawn from features they are given.

All HTML escaping of user text happens here (and in ``export``), through :func:`escape_text`.
This module draws; it must not read a workspace (``workbench.mapview`` reads the lab's layers
and settings from the store and draws them with the functions here).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import shapely
from branca.element import Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template
from shapely.geometry import mapping

from workbench import palette
from workbench.i18n import fmt_datetime, has_key, t
from workbench.model import (
    ANNOTATION_CATEGORIES,
    ANNOTATION_CATEGORY_COLOURS,
    Annotation,
    Category,
    City,
    LivingLab,
    Network,
    isolate,
)
from workbench.settings import (
    MAP_COORD_DECIMALS,
    OSM_ATTRIBUTION,
    POPUP_TEXT_CHARS,
    STREET_NAMES_MAX,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    import geopandas as gpd
    import numpy as np
    from geopandas.array import GeometryArray

    #: Geometries as shapely's array functions take them (a list, or a GeoSeries' ``.values``).
    Geometries: TypeAlias = Sequence[shapely.Geometry | None] | np.ndarray[Any, Any] | GeometryArray

#: JSON as the browser gets it: a Leaflet style, a GeoJSON Feature or FeatureCollection.
Json = dict[str, Any]

#: Colour-blind-safe palette (Okabe & Ito 2008), used for networks and categories.
PALETTE = palette.PALETTE

SITE_STYLE = {
    "color": palette.SITE_COLOUR,
    "weight": 3,
    "fill": True,
    "fillOpacity": 0.05,
    "dashArray": "6 4",
}


def escape_text(value: object) -> str:
    """User text as literal HTML text (quotes included), safe inside elements and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def bdi_text(value: object) -> str:
    """User text escaped and isolated (``<bdi>``): right-to-left text or a stray bidi control
    cannot reorder the system text beside it."""
    return f"<bdi>{escape_text(value)}</bdi>"


def spreadsheet_text(value: object) -> str:
    """User text for a CSV cell that a spreadsheet shows as text, never runs as a formula: a
    leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets an apostrophe in front."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def base_map(
    center: tuple[float, float] = (30.0, 10.0),
    zoom: float = 2,
    prefer_canvas: bool = False,
    basemap: str = "street",
    lang: str = "en",
    **kwargs: Any,
) -> folium.Map:
    """A map with one basemap (``basemap``: a code of ``opendata.basemaps.BASEMAPS``; the
    OpenStreetMap street map by default) and its attribution.

    ``prefer_canvas`` draws vectors on one canvas instead of SVG elements: faster for thousands
    of features, but then they are not separate elements in the page.
    """
    m = folium.Map(
        location=center,
        zoom_start=zoom,  # type: ignore[arg-type]  # Leaflet takes fractional zooms (zoomSnap 0)
        tiles=None,
        control_scale=True,
        prefer_canvas=prefer_canvas,
        **kwargs,
    )
    basemap_tile_layer(basemap, lang).add_to(m)
    return m


def basemap_tile_layer(
    code: str = "street", lang: str = "en", show: bool = True, control: bool = False
) -> folium.TileLayer:
    """The tile layer of one keyless basemap, with its attribution (unknown codes: street)."""
    from workbench.opendata.basemaps import BASEMAPS

    basemap = BASEMAPS.get(code) or BASEMAPS["street"]
    name = "OpenStreetMap" if basemap.code == "street" else t(basemap.label_key, lang)
    return folium.TileLayer(
        tiles=basemap.url,
        attr=basemap.attribution,
        name=name,
        max_zoom=basemap.max_zoom,
        show=show,
        overlay=False,
        control=control,
    )


def plain_attribution(html_text: str) -> str:
    """An attribution without its markup (links), as plain text for a printed frame."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text)).strip()


def fit_to(m: folium.Map, geom: shapely.geometry.base.BaseGeometry, pad: float = 0.15) -> None:
    minx, miny, maxx, maxy = geom.bounds
    dx, dy = (maxx - minx) * pad, (maxy - miny) * pad
    m.fit_bounds([[miny - dy, minx - dx], [maxy + dy, maxx + dx]])


def site_layer(lab: LivingLab, name: str = "Site") -> folium.GeoJson:
    """The living lab's site boundary as a dashed outline."""
    return folium.GeoJson(
        {
            "type": "Feature",
            "geometry": mapping(lab.boundary),
            "properties": {"title": escape_text(lab.title)},
        },
        name=name,
        style_function=lambda _f: SITE_STYLE,
        tooltip=folium.GeoJsonTooltip(fields=["title"], labels=False),
    )


def overview_map(
    labs: Iterable[LivingLab], cities: dict[str, City], networks: dict[str, Network]
) -> folium.Map:
    """All living labs across countries: a marker per site, coloured by network, with a popup."""
    m = base_map()
    colours = network_colours(networks)
    labs = list(labs)
    for nid, network in sorted(networks.items(), key=lambda kv: kv[1].name):
        group = folium.FeatureGroup(name=escape_text(network.name))
        for lab in (lab for lab in labs if lab.network_id == nid):
            city = cities[lab.city_id]
            c = lab.boundary.centroid
            popup = (
                f"<b>{bdi_text(lab.title)}</b><br>{bdi_text(city.name)} "
                f"({escape_text(city.country)})"
            )
            folium.CircleMarker(
                location=(c.y, c.x),
                radius=8,
                color="#ffffff",
                weight=2,
                fill=True,
                fill_color=colours[nid],
                fill_opacity=0.95,
                tooltip=f"{bdi_text(lab.title)} · {bdi_text(city.name)}",
                popup=folium.Popup(popup, max_width=300),
            ).add_to(group)
            folium.GeoJson(
                mapping(lab.boundary),
                style_function=lambda _f, col=colours[nid]: {
                    "color": col,
                    "weight": 2,
                    "fillOpacity": 0.15,
                },
            ).add_to(group)
        group.add_to(m)
    if labs:
        fit_to(m, shapely.union_all([lab.boundary for lab in labs]), pad=0.05)
    WorldOutline().add_to(m)  # countries when no tile loads
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def network_colours(network_ids: Iterable[str]) -> dict[str, str]:
    """A stable colour per network (by sorted id)."""
    return {nid: PALETTE[i % len(PALETTE)] for i, nid in enumerate(sorted(network_ids))}


def legend_html(entries: Iterable[tuple[str, str]], title: str = "") -> str:
    """A small legend: (colour, label) pairs as swatches; labels are escaped."""
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:14px">'
        f'<span style="width:12px;height:12px;border-radius:50%;background:{escape_text(colour)};'
        f'display:inline-block;margin-right:6px;border:1px solid #555"></span>'
        f"{escape_text(label)}</span>"
        for colour, label in entries
    )
    head = f"<b>{escape_text(title)}</b> " if title else ""
    return f'<div class="wb-legend" style="font-size:0.9rem;line-height:1.8">{head}{items}</div>'


# ---- annotations ------------------------------------------------------------------------------
#: Above this many annotations, lines and areas are simplified (about 1 m) to keep the map light.
SIMPLIFY_ABOVE = 1000
SIMPLIFY_TOLERANCE_DEG = 1e-5


def category_colours(categories: Iterable[Category] | None = None) -> dict[str, str]:
    """Colour per category code: the built-in categories (colour-blind-safe Okabe & Ito colours)
    plus the workspace's own ``categories`` with the colours they were given."""
    colours = {c: ANNOTATION_CATEGORY_COLOURS[c] for c in ANNOTATION_CATEGORIES}
    for category in categories or ():
        colours[category.code] = category.colour
    return colours


def group_colours(groups: Iterable[str]) -> dict[str, str]:
    """A colour per group name, in the order given (the palette repeats after eight groups)."""
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(dict.fromkeys(groups))}


def category_label(
    code: str, lang: str = "en", categories: Iterable[Category] | None = None
) -> str:
    """A category's label: built-ins from the locales, a workspace's own from its labels, and
    the code itself for a category neither knows (one deleted from the workspace)."""
    for category in categories or ():
        if category.code == code and not category.builtin:
            labels = category.labels
            return labels.get(lang) or labels.get("en") or next(iter(labels.values()), code)
    key = f"annotate.category.{code}"
    return t(key, lang) if has_key(key) else code  # a category the workspace no longer has


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


#: Styles of the annotation popups, sent once per layer (see :class:`GeoJsonData`) instead of
#: inline in every popup.
ANNOTATION_POPUP_CSS = (
    ".wb-annotation{max-width:320px;font-size:13px}"
    ".wb-annotation .wb-h{font-weight:600;margin-bottom:4px}"
    ".wb-annotation .wb-h span{display:inline-block;width:10px;height:10px;border-radius:50%;"
    "margin-right:6px;border:1px solid #555}"
    ".wb-annotation .wb-t{white-space:pre-wrap;overflow-wrap:anywhere}"
    ".wb-annotation .wb-m{color:#555;margin-top:6px;font-size:12px}"
)


def annotation_popup_html(
    a: Annotation,
    colour: str,
    label: str,
    lang: str = "en",
    votes: int = 0,
    comments: int = 0,
    votes_total: int | None = None,
    vote_round: int | None = None,
) -> str:
    """The popup of one annotation: category, text, author, time, votes (all user text escaped).
    Its look comes from ``ANNOTATION_POPUP_CSS``, which :func:`annotation_layer` adds to the map."""
    return "".join(
        _annotation_popup_parts(a, colour, label, lang, votes, comments, votes_total, vote_round)
    )


def vote_counts_text(votes: int, votes_total: int | None, vote_round: int | None, lang: str) -> str:
    """The dots of a note, labelled: "2 dots in voting round 3 · 5 in all rounds" (just the
    dots without a round number)."""
    if vote_round is None:
        return t("annotate.votes_count", lang, count=votes)
    total = votes if votes_total is None else votes_total
    return t("annotate.votes_round_total", lang, count=votes, round=vote_round, total=total)


def _annotation_popup_parts(
    a: Annotation,
    colour: str,
    label: str,
    lang: str,
    votes: int,
    comments: int,
    votes_total: int | None = None,
    vote_round: int | None = None,
) -> list[str]:
    """The popup as pieces of HTML that repeat across annotations (heading, markup, counts) or
    not (text, author and time); joined they are :func:`annotation_popup_html`."""
    meta = t(
        "annotate.popup.meta",
        lang,
        author=isolate(a.author),  # FSI…PDI: as <bdi>
        time=fmt_datetime(a.updated_at if a.version > 1 else a.created_at, lang),
    )
    counts = (
        "● "
        + vote_counts_text(votes, votes_total, vote_round, lang)
        + " · "
        + t("annotate.comments_count", lang, count=comments)
    )
    return [
        f'<div class="wb-annotation"><div class="wb-h"><span style="background:'
        f'{escape_text(colour)}"></span>{bdi_text(label)}</div><div class="wb-t" dir="auto">',
        escape_text(_short(a.text, POPUP_TEXT_CHARS)),
        '</div><div class="wb-m" dir="auto">',
        escape_text(meta),
        "<br>",
        escape_text(counts),
        "</div></div>",
    ]


def annotation_layer(
    annotations: Sequence[Annotation],
    colour_by: str = "category",
    lang: str = "en",
    highlight_id: str | None = None,
    *,
    votes: dict[str, int] | None = None,
    comments: dict[str, int] | None = None,
    categories: Iterable[Category] | None = None,
    groups: Sequence[str] | None = None,
    name: str | None = None,
    group_palette: dict[str, str] | None = None,
    marker_scale: float = 1.0,
) -> folium.FeatureGroup:
    """All annotations of a living lab as ONE read-only GeoJson layer in a FeatureGroup.

    Parameters
    ----------
    annotations : the annotations to draw (deleted ones are skipped).
    colour_by : ``"category"`` (colours of :func:`category_colours`) or ``"group"`` (one
        colour per author/group, :func:`group_colours` over ``groups``).
    lang : language of labels in popups.
    highlight_id : an annotation drawn emphasised (thick dark outline, bigger point).
    votes, comments : counts per annotation id, shown in the popups.
    categories : the workspace's categories (for its own categories' colours and labels).
    groups : all group names in a stable order, so that colours do not change when the list
        is filtered (default: the order in which ``annotations`` name them).
    name : the layer's name (default: translated "Annotations").
    group_palette : colours chosen by the groups themselves (a workshop's joined groups); other
        groups get :func:`group_colours`.
    marker_scale : factor on point radius and line width (the presenter view draws bigger).

    A pure function of its arguments: the export reuses it for PNG/HTML. User text only
    reaches the map through :func:`escape_text` (popup ``p`` and tooltip ``t``); the only other
    property is the Leaflet style ``s``. The features go to the browser compactly through
    :class:`GeoJsonData` (each distinct style once, coordinates rounded to
    ``MAP_COORD_DECIMALS``), with the popup styles once per layer. With more than
    ``SIMPLIFY_ABOVE`` annotations, lines and areas are simplified by about a metre.
    """
    features = annotation_features(
        annotations,
        colour_by,
        lang,
        highlight_id,
        votes=votes,
        comments=comments,
        categories=categories,
        groups=groups,
        group_palette=group_palette,
        marker_scale=marker_scale,
    )
    layer_name = name or t("annotate.layer_name", lang)
    group = folium.FeatureGroup(name=layer_name)
    if features:
        collection = {"type": "FeatureCollection", "features": features}
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": []},
            name=layer_name,
            marker=folium.CircleMarker(radius=8),
            tooltip=None,
        )
        layer.add_child(GeoJsonData(collection, max_width=340, css=ANNOTATION_POPUP_CSS))
        layer.add_to(group)
    return group


def annotation_features(
    annotations: Sequence[Annotation],
    colour_by: str = "category",
    lang: str = "en",
    highlight_id: str | None = None,
    *,
    votes: dict[str, int] | None = None,
    comments: dict[str, int] | None = None,
    categories: Iterable[Category] | None = None,
    groups: Sequence[str] | None = None,
    group_palette: dict[str, str] | None = None,
    marker_scale: float = 1.0,
    hidden_ids: Iterable[str] = (),
    simplify: bool | None = None,
    votes_total: dict[str, int] | None = None,
    vote_round: int | None = None,
) -> list[Json]:
    """The GeoJSON Features of :func:`annotation_layer` (same arguments): one per annotation
    that is not deleted, with its id and the properties ``p`` (popup), ``t`` (tooltip) and
    ``s`` (Leaflet style). The map layer and the live deltas (``Store.changes_since``) both
    come from here, so a note looks the same however it reached the browser.

    ``hidden_ids``: deleted (moderated) annotations that are drawn anyway, with the property
    ``hidden: true`` (for readers who may moderate). ``simplify``: simplify lines and areas by
    about a metre (default: when there are more than ``SIMPLIFY_ABOVE`` annotations).
    ``votes_total``, ``vote_round``: the dots of every round and the current round's number;
    the popup then labels both counts.
    """
    categories = list(categories or ())
    hidden = set(hidden_ids)
    live = [a for a in annotations if a.deleted_at is None or a.id in hidden]
    votes, comments = votes or {}, comments or {}
    cat_colours = category_colours(categories)
    grp_colours = group_colours(groups if groups is not None else [a.author for a in live])
    grp_colours.update(group_palette or {})
    labels: dict[str, str] = {}
    properties = []
    for a in live:
        colour = (
            grp_colours.get(a.author, "#999999")
            if colour_by == "group"
            else cat_colours.get(a.category, "#999999")
        )
        if a.category not in labels:
            labels[a.category] = category_label(a.category, lang, categories)
        label = labels[a.category]
        properties.append(
            {
                "p": _annotation_popup_parts(
                    a,
                    colour,
                    label,
                    lang,
                    votes.get(a.id, 0),
                    comments.get(a.id, 0),
                    None if votes_total is None else votes_total.get(a.id, 0),
                    vote_round,
                ),
                "t": [escape_text(f"{label}: "), escape_text(_short(a.text, 80))],
                "s": _annotation_style(
                    a.geometry.geom_type, colour, a.id == highlight_id, marker_scale
                ),
                **({"hidden": True} if a.deleted_at is not None else {}),
            }
        )
    if not live:
        return []
    if simplify is None:
        simplify = len(live) > SIMPLIFY_ABOVE
    collection = display_geojson(
        [a.geometry for a in live],
        properties,
        ids=[a.id for a in live],
        tolerance=SIMPLIFY_TOLERANCE_DEG if simplify else 0,
        decimals=MAP_COORD_DECIMALS,
    )
    return list(collection["features"])


def _annotation_style(
    kind: str, colour: str, highlighted: bool = False, scale: float = 1.0
) -> Json:
    """The Leaflet style of an annotation of geometry type ``kind`` drawn in ``colour``."""
    point = kind == "Point"
    if highlighted:
        style = {
            "color": palette.OUTLINE_DARK,
            "weight": 5 * scale,
            "opacity": 1,
            "fillColor": colour,
            "fillOpacity": 0.9 if point else 0.5,
        }
        return {**style, "radius": 13 * scale} if point else style
    if point:
        return {
            "color": palette.OUTLINE_LIGHT if scale == 1 else palette.OUTLINE_DARK,
            "weight": 2 * scale,
            "opacity": 1,
            "fillColor": colour,
            "fillOpacity": 0.9,
            "radius": 8 * scale,
        }
    if kind in ("LineString", "MultiLineString"):
        return {"color": colour, "weight": 3 * scale, "opacity": 0.9, "fillColor": colour}
    # an area (a whole-site note covers the map): a light fill and a strong outline, drawn
    # under the points and lines (their own pane, see notes_layer.js)
    return {
        "color": colour,
        "weight": 3 * scale,
        "opacity": 1,
        "fillColor": colour,
        "fillOpacity": AREA_FILL_OPACITY,
    }


#: Fill opacity of areas (notes and uploaded layers): light, so that what lies beneath shows.
AREA_FILL_OPACITY = 0.12


def annotation_legend(
    annotations: Sequence[Annotation],
    colour_by: str = "category",
    lang: str = "en",
    categories: Iterable[Category] | None = None,
    groups: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Legend entries ``(colour, label)`` matching :func:`annotation_layer` (for ``legend_html``):
    every category, or the groups that wrote the annotations."""
    categories = list(categories or ())
    if colour_by == "group":
        names = (
            groups
            if groups is not None
            else [a.author for a in annotations if a.deleted_at is None]
        )
        return [(colour, name) for name, colour in group_colours(names).items()]
    return [
        (colour, category_label(code, lang, categories))
        for code, colour in category_colours(categories).items()
    ]


def view_for(
    geom: shapely.geometry.base.BaseGeometry, width_px: int = 700
) -> tuple[tuple[float, float], int]:
    """Centre ``(lat, lon)`` and a zoom level that shows ``geom`` whole on a map that wide."""
    minx, miny, maxx, maxy = geom.bounds
    centre = ((miny + maxy) / 2, (minx + maxx) / 2)
    span = max(maxx - minx, (maxy - miny) * 1.5, 1e-9)
    zoom = int(math.floor(math.log2(360 * width_px / 256 / span)))
    return centre, max(3, min(18, zoom))


class DrawLocal(MacroElement):
    """Leaflet.draw's own texts (toolbar buttons, actions, the tooltips while drawing) in the
    page's language, through ``L.drawLocal``; add it to the map before ``folium.plugins.Draw``.
    The texts are ours (``locales/*/draw.json``), escaped; no user text."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (d, x) {
            var b = d.draw.toolbar, h = d.draw.handlers;
            b.actions = {title: x.cancel_title, text: x.cancel};
            b.finish = {title: x.finish_title, text: x.finish};
            b.undo = {title: x.undo_title, text: x.undo};
            b.buttons.polyline = x.polyline; b.buttons.polygon = x.polygon;
            b.buttons.rectangle = x.rectangle; b.buttons.circlemarker = x.circlemarker;
            h.circlemarker.tooltip.start = x.point_start;
            h.polygon.tooltip = {start: x.area_start, cont: x.area_cont, end: x.area_end};
            h.polyline.error = "<strong>" + x.line_error + "</strong>";
            h.polyline.tooltip = {start: x.line_start, cont: x.line_cont, end: x.line_end};
            h.rectangle.tooltip.start = x.rectangle_start;
            h.simpleshape.tooltip.end = x.shape_end;
        })(L.drawLocal, {{ this.texts|tojson }});
        {% endmacro %}
    """)

    KEYS = {
        "cancel": "draw.cancel",
        "cancel_title": "draw.cancel_title",
        "finish": "draw.finish",
        "finish_title": "draw.finish_title",
        "undo": "draw.undo",
        "undo_title": "draw.undo_title",
        "polyline": "draw.button.polyline",
        "polygon": "draw.button.polygon",
        "rectangle": "draw.button.rectangle",
        "circlemarker": "draw.button.circlemarker",
        "point_start": "draw.point.start",
        "area_start": "draw.area.start",
        "area_cont": "draw.area.cont",
        "area_end": "draw.area.end",
        "line_error": "draw.line.error",
        "line_start": "draw.line.start",
        "line_cont": "draw.line.cont",
        "line_end": "draw.line.end",
        "rectangle_start": "draw.rectangle.start",
        "shape_end": "draw.shape.end",
    }

    def __init__(self, lang: str = "en") -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "DrawLocal"
        self.texts = {name: escape_text(t(key, lang)) for name, key in self.KEYS.items()}


class NotesLayer(MacroElement):
    """The notes layer of a folium map, drawn in the browser by ``notes_layer.js`` from the
    features of :func:`annotation_features`: given here (``features``: the HTML export, the
    PNG snapshot) and/or sent by the live channel (``live``: the living-lab map, the
    presenter view). Every map draws its notes this one way."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.script }}
        {% endmacro %}
    """)

    SOURCE = Path(__file__).with_name("notes_layer.js")

    def __init__(
        self, lab_id: str, name: str, features: list[Json] | None = None, live: bool = True
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "NotesLayer"
        self.lab_id = lab_id
        self.layer_name = name
        self.features = list(features or [])
        self.live = live

    # branca's MacroElement.render returns None; its untyped base Element.render claims str
    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        source = self.SOURCE.read_text(encoding="utf-8")
        initial = script_json(self.features) if self.features else "null"
        parent = self._parent
        assert parent is not None, "a NotesLayer is added to a map before it is rendered"
        args = (
            f"{parent.get_name()}, {script_json(self.lab_id)}, "
            f"{script_json(self.layer_name)}, {initial}"
        )
        self.script = source.replace("(LIVE_MAP, LIVE_LAB, LIVE_NAME, NOTES_INITIAL)", f"({args})")
        super().render(**kwargs)  # type: ignore[no-untyped-call]  # branca has no type hints


def script_json(value: object) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element (no ``</script>``, no
    HTML comment openers, no line separators that end a JavaScript string)."""
    import json

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("'", "\\u0027"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, code)
    return text


#: The world basemap that needs no network: Natural Earth countries (npm ``world-atlas``) and
#: the TopoJSON client, both among the local web assets (``scripts/fetch_web_assets.py``).
WORLD_ATLAS_URL = "https://cdn.jsdelivr.net/npm/world-atlas@2.0.2/countries-110m.json"
TOPOJSON_JS = "https://cdn.jsdelivr.net/npm/topojson-client@3.1.0/dist/topojson-client.min.js"


class WorldOutline(JSCSSMixin, MacroElement):
    """Country outlines drawn under the map's tiles as soon as a tile fails to load (a venue
    without internet), so that the overview and the set-up map are never an empty grey canvas.
    The countries come from the app's own server (``asset_urls``, pointed there by
    ``webassets.use_local_assets`` like the map's scripts). Marks the page with
    ``data-wb-world="drawn"`` when drawn."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map, url) {
            var asked = false;
            // rings that cross the antimeridian (Fiji, Chukotka) continue past 180° instead
            // of jumping back across the whole map
            function unwrap(ring) {
                var out = [], prev = null, shift = 0;
                ring.forEach(function (p) {
                    if (prev !== null) {
                        var d = p[0] + shift - prev;
                        if (d > 180) { shift -= 360; } else if (d < -180) { shift += 360; }
                    }
                    prev = p[0] + shift;
                    out.push([prev, p[1]]);
                });
                return out;
            }
            function unwrapped(g) {
                if (g.type === "Polygon") { g.coordinates = g.coordinates.map(unwrap); }
                if (g.type === "MultiPolygon") {
                    g.coordinates = g.coordinates.map(function (p) { return p.map(unwrap); });
                }
                return g;
            }
            function draw() {
                if (asked || !window.topojson || !window.fetch) { return; }
                asked = true;
                fetch(url).then(function (r) { return r.json(); }).then(function (topo) {
                    if (!map.getPane("wbWorld")) {
                        map.createPane("wbWorld").style.zIndex = 150;  // under the tiles
                    }
                    var world = topojson.feature(topo, topo.objects.countries);
                    world.features.forEach(function (f) { if (f.geometry) unwrapped(f.geometry); });
                    L.geoJSON(world, {
                        pane: "wbWorld", interactive: false,
                        style: {color: "#8c8c8c", weight: 0.8, fillColor: "#f2efe9",
                                fillOpacity: 1}
                    }).addTo(map);
                    map.getContainer().style.background = "#cfdde6";  // the sea
                    document.documentElement.setAttribute("data-wb-world", "drawn");
                }).catch(function () { asked = false; });
            }
            map.eachLayer(function (layer) {
                if (layer instanceof L.TileLayer) { layer.on("tileerror", draw); }
            });
            if (navigator.onLine === false) { draw(); }
        })({{ this._parent.get_name() }}, {{ this.asset_urls.world|tojson }});
        {% endmacro %}
    """)

    default_js = [("topojson_client", TOPOJSON_JS)]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "WorldOutline"
        self.asset_urls = {"world": WORLD_ATLAS_URL}


#: The zoom street names show from (at most ``settings.STREET_NAMES_MAX`` of them).
STREET_NAMES_MIN_ZOOM = 15


def street_name_points(gdf: gpd.GeoDataFrame | None) -> list[tuple[float, float, str]]:
    """``(lat, lon, name)`` where to write each named street of a cached streets theme: the
    middle of its longest piece, longest streets first (at most ``STREET_NAMES_MAX``)."""
    if gdf is None or gdf.empty or "name" not in gdf:
        return []
    named = gdf[gdf["name"].fillna("").astype(str).str.strip() != ""]
    best: dict[str, tuple[float, shapely.geometry.base.BaseGeometry]] = {}
    for name, geom in zip(named["name"], named.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        length = geom.length
        if name not in best or length > best[name][0]:
            best[name] = (length, geom)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:STREET_NAMES_MAX]
    out = []
    for name, (_length, geom) in ranked:
        p = geom.interpolate(0.5, normalized=True)
        out.append(
            (round(p.y, MAP_COORD_DECIMALS), round(p.x, MAP_COORD_DECIMALS), escape_text(name))
        )
    return out


class MutedBasemap(MacroElement):
    """The lab's own cached OSM layers read as a basemap when no tile loads (a venue without
    internet): the map's ground turns to paper and the streets get their names (escaped),
    from zoom ``STREET_NAMES_MIN_ZOOM``. Marks the page ``data-wb-muted-basemap="on"``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map, names, minZoom) {
            var on = false, labels = L.layerGroup();
            names.forEach(function (n) {
                labels.addLayer(L.tooltip({permanent: true, direction: "center",
                                           className: "wb-street-name", interactive: false})
                    .setLatLng([n[0], n[1]]).setContent(n[2]));
            });
            function show() {
                if (map.getZoom() >= minZoom) { labels.addTo(map); }
                else { labels.remove(); }
            }
            function start() {
                if (on) { return; }
                on = true;
                map.getContainer().style.background = "#f4f1ea";
                document.documentElement.setAttribute("data-wb-muted-basemap", "on");
                map.on("zoomend", show);
                show();
            }
            map.eachLayer(function (layer) {
                if (layer instanceof L.TileLayer) { layer.on("tileerror", start); }
            });
            if (navigator.onLine === false) { start(); }
        })({{ this._parent.get_name() }}, {{ this.names|tojson }},
           {{ this.min_zoom|tojson }});
        {% endmacro %}
    """)

    CSS = (
        ".wb-street-name{background:rgba(255,255,255,.75);border:0;box-shadow:none;"
        "padding:0 3px;font:11px/1.2 sans-serif;color:#333;white-space:nowrap}"
        ".wb-street-name:before{display:none}"
    )

    def __init__(
        self, names: list[tuple[float, float, str]], min_zoom: int = STREET_NAMES_MIN_ZOOM
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "MutedBasemap"
        self.names = [list(n) for n in names]
        self.min_zoom = min_zoom

    # branca's MacroElement.render returns None; its untyped base Element.render claims str
    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        root = self.get_root()
        assert isinstance(root, Figure), "a map is rendered inside its figure"
        root.header.add_child(
            folium.Element(f"<style>{self.CSS}</style>"), name="wb_street_names_css"
        )
        super().render(**kwargs)  # type: ignore[no-untyped-call]  # branca has no type hints


class ClearDrawings(MacroElement):
    """Empties the Draw plugin's layer of finished drawings when its feature group is (re)added:
    put it in the dynamic feature group right after a drawing was saved, so the saved shape
    shows only as an annotation (streamlit-folium calls that layer ``window.drawnItems``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        if (window.drawnItems && typeof window.drawnItems.clearLayers === "function") {
            window.drawnItems.clearLayers();
        }
        {% endmacro %}
    """)


# ---- open geodata: OSM themes, uploaded layers, basemaps, WMS ------------------------------------

#: Attribution of OSM layers (as on the street basemap, so that Leaflet shows it once).
OSM_LAYER_ATTRIBUTION = (
    f'{OSM_ATTRIBUTION} (<a href="https://www.openstreetmap.org/copyright">ODbL</a>)'
)
#: Decimal places of coordinates sent to the browser (1e-5° ≈ 1 m, finer than a screen pixel
#: below zoom 17) and the simplification tolerance applied before rounding.
DISPLAY_DECIMALS = 5
DISPLAY_TOLERANCE = 5e-6
#: Attribute columns shown in an uploaded layer's popup.
UPLOAD_POPUP_FIELDS = 6


def display_geojson(
    geoms: Geometries,
    properties: list[Json],
    *,
    ids: Sequence[str | None] | None = None,
    tolerance: float = DISPLAY_TOLERANCE,
    decimals: int = DISPLAY_DECIMALS,
) -> Json:
    """A FeatureCollection at display precision: geometries simplified by ``tolerance`` (none
    when 0) and rounded to ``decimals``, each with its ``properties`` (and id from ``ids``)."""
    import json

    import numpy as np

    geoms = np.asarray(geoms, dtype=object)
    if tolerance:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    rounded = shapely.transform(geoms, lambda c: np.round(c, decimals))
    texts = shapely.to_geojson(rounded)
    ids = ids if ids is not None else [None] * len(properties)
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(g),
            "properties": p,
            **({"id": i} if i is not None else {}),
        }
        for g, p, i in zip(texts, properties, ids, strict=True)
        if g is not None
    ]
    return {"type": "FeatureCollection", "features": features}


class GeoJsonData(folium.MacroElement):
    """Features added to its parent ``folium.GeoJson`` compactly. Properties the browser uses:
    ``p`` the popup, ``t`` the tooltip (HTML whose user text is already escaped with
    :func:`escape_text`) and ``s`` a Leaflet style (numbers and colours). A ``p`` or ``t`` may
    be a list of such HTML pieces, which the browser joins (so pieces that repeat across
    features, like a popup's heading, are sent once).

    folium writes every feature as indented GeoJSON and a style function's output as a switch
    over feature ids; for a dense district that wrapping is a third of the bytes. Here the
    geometries, the distinct property values (strings, pieces, styles: each once) and per
    property one index (or list of indexes) per feature go as compact JSON, and the browser
    rebuilds the features (ids stay on the Python side). ``css``: fixed styles (never user
    text) put once into the page's head, for the popups.
    """

    _template = folium.template.Template("""
        {% macro script(this, kwargs) %}
        {%- if this.css %}
        if (!document.getElementById({{ this.css_id|tojson }})) {
            var style = document.createElement("style");
            style.id = {{ this.css_id|tojson }};
            style.textContent = {{ this.css|tojson }};
            document.head.appendChild(style);
        }
        {%- endif %}
        {%- if "s" in this.keys %}
        {{ this._parent.get_name() }}.options.style = function (f) { return f.properties.s; };
        {%- endif %}
        {{ this._parent.get_name() }}.bindPopup(function (layer) {
            return layer.feature.properties.p;
        }, {maxWidth: {{ this.max_width|tojson }}});
        {%- if "t" in this.keys %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            return layer.feature.properties.t;
        }, {sticky: true});
        {%- endif %}
        (function (d) {
            function value(x) {
                return Array.isArray(x) ? x.map(function (n) { return d.v[n]; }).join("")
                                        : d.v[x];
            }
            {{ this._parent.get_name() }}.addData({type: "FeatureCollection",
                features: d.g.map(function (g, k) {
                    var p = {};
                    d.k.forEach(function (key, j) { p[key] = value(d.c[j][k]); });
                    return {type: "Feature", geometry: g, properties: p};
                })});
        })({{ this.payload }});
        {% endmacro %}
    """)

    def __init__(self, data: Json, max_width: int = 280, css: str = "") -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "GeoJsonData"
        self.data = data
        self.max_width = max_width
        self.css = css
        self.css_id = "wb-css-" + hashlib.sha1(css.encode()).hexdigest()[:10] if css else ""

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for f in self.data["features"] for k in f["properties"]))

    @property
    def payload(self) -> str:
        import json

        features = self.data["features"]
        seen: dict[str, int] = {}
        values: list[object] = []

        def index(value: object) -> int:
            code = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            if code not in seen:
                seen[code] = len(values)
                values.append(value)
            return seen[code]

        columns = [
            [
                [index(x) for x in v] if isinstance(v, list) else index(v)
                for v in (f["properties"].get(key, "") for f in features)
            ]
            for key in self.keys
        ]
        text = json.dumps(
            {"g": [f["geometry"] for f in features], "k": self.keys, "v": values, "c": columns},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for ch, code in (
            ("<", "\\u003c"),
            (">", "\\u003e"),
            ("&", "\\u0026"),
            ("'", "\\u0027"),
            ("\u2028", "\\u2028"),
            ("\u2029", "\\u2029"),
        ):
            text = text.replace(ch, code)
        return text


def vector_group(
    name: str,
    collection: Json,
    style: Json,
    radius: float,
    attribution: str = "",
    show: bool = True,
) -> folium.FeatureGroup:
    """One layer: the style is a plain Leaflet option (no per-feature style function, so no
    feature ids are sent); the features come in through :class:`GeoJsonData`."""
    group = folium.FeatureGroup(name=escape_text(name), show=show)
    options: dict[str, Any] = (
        {"attribution": attribution} if attribution else {}
    )  # trusted text, not user text
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": []},
        name=escape_text(name),
        style=dict(style),
        marker=folium.CircleMarker(radius=radius, fill=True),
        tooltip=None,
        zoom_on_click=False,
        **options,
    )
    layer.add_child(GeoJsonData(collection))
    layer.add_to(group)
    return group


def scaled_style(style: Json, opacity: float = 1.0, muted: bool = False) -> Json:
    """``style`` with its opacities times ``opacity``; ``muted``: its colours mostly grey and
    its lines thin, so that the notes drawn over it in full colour stand out."""
    out = dict(style)
    for key in ("opacity", "fillOpacity"):
        if key in out:
            out[key] = round(float(out[key]) * opacity, 3)
    if muted:
        for key in ("color", "fillColor"):
            if isinstance(out.get(key), str):
                out[key] = _greyed(out[key])
        if "weight" in out:
            out["weight"] = min(float(out["weight"]), 1.0)
    return out


def _greyed(colour: str, keep: float = 0.3) -> str:
    """A ``#rrggbb`` colour with only ``keep`` of its saturation left (others unchanged)."""
    if len(colour) != 7 or not colour.startswith("#"):
        return colour
    try:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    except ValueError:
        return colour
    grey = 0.299 * r + 0.587 * g + 0.114 * b
    mix = [round(grey + (c - grey) * keep) for c in (r, g, b)]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in mix)


def theme_popups(gdf: gpd.GeoDataFrame, code: str, lang: str = "en") -> list[str]:
    """Popup text of each feature of a cached OSM theme: its name (if any), its main tag and,
    for buildings, the storeys. User text is escaped; the text is short because it is sent once
    per feature."""
    from workbench.i18n import t

    levels = gdf["levels"].tolist() if "levels" in gdf else [None] * len(gdf)
    out = []
    for name, key, value, lv in zip(
        gdf["name"], gdf["osm_key"], gdf["osm_value"], levels, strict=True
    ):
        text = f"{escape_text(key)}={escape_text(value)}"
        if name:
            text = f"{escape_text(name)} · {text}"
        if lv is not None and lv == lv:
            text += " · " + escape_text(t("opendata.popup.levels", lang, levels=lv))
        out.append(text)
    return out


def display_streets(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Street segments merged back into one feature per OSM way, for the map only."""
    if gdf.empty:
        return gdf
    merged = gdf.dissolve(by="osm_id", aggfunc="first", as_index=False, sort=False)
    merged["geometry"] = shapely.line_merge(merged.geometry.values)
    return merged


def upload_tolerance(geoms: Geometries) -> float:
    """Display simplification (degrees) of an uploaded layer: the usual ~0.5 m, growing with the
    layer's vertices above ``DISPLAY_SIMPLIFY_VERTICES`` up to ~20 m, so a dense file costs every
    open map no more than a few tens of thousands of vertices."""
    from workbench.settings import DISPLAY_SIMPLIFY_VERTICES

    vertices = int(shapely.get_num_coordinates(geoms).sum()) if len(geoms) else 0
    factor = max(1.0, vertices / DISPLAY_SIMPLIFY_VERTICES)
    return min(DISPLAY_TOLERANCE * factor, 2e-4)


#: Colours of uploaded layers, each layer its own (Okabe & Ito, then Tol's muted scheme),
#: none of them a colour of the OSM themes' greys and greens.
UPLOAD_PALETTE = palette.UPLOAD_PALETTE


def upload_style(colour: str) -> Json:
    """The Leaflet style of an uploaded layer: a strong outline, a light fill."""
    return {
        "color": colour,
        "fillColor": colour,
        "weight": 2.5,
        "opacity": 0.95,
        "fillOpacity": AREA_FILL_OPACITY,
    }


def upload_popups(gdf: gpd.GeoDataFrame, fields: list[str], name: str) -> list[str]:
    """Popup text of each feature of an uploaded layer: its first attribute values (escaped),
    or the layer's name when it has none."""
    rows = gdf[fields].itertuples(index=False, name=None) if fields else [()] * len(gdf)
    return [
        " · ".join(
            f"{escape_text(f)}: {escape_text(v)}"
            for f, v in zip(fields, row, strict=True)
            if v is not None and str(v) != ""
        )
        or escape_text(name)
        for row in rows
    ]


def basemap_layers(lang: str = "en", chosen: str = "street") -> list[folium.TileLayer]:
    """The keyless basemaps as tile layers with their attribution; ``chosen`` is shown first."""
    from workbench.i18n import t
    from workbench.opendata.basemaps import BASEMAPS

    layers = []
    for code, basemap in BASEMAPS.items():
        layers.append(
            folium.TileLayer(
                tiles=basemap.url,
                attr=basemap.attribution,
                name=t(basemap.label_key, lang),
                max_zoom=basemap.max_zoom,
                show=code == chosen,
                overlay=False,
                control=True,
            )
        )
    layers.sort(key=lambda layer: not layer.show)  # Leaflet shows the first base layer
    return layers


def wms_layer(
    url: str, layer: str, name: str = "WMS", opacity: float = 1.0
) -> folium.raster_layers.WmsTileLayer:
    """A WMS overlay; ``url`` and ``layer`` must have passed ``opendata.basemaps.validate_wms``."""
    return folium.raster_layers.WmsTileLayer(
        url=url,
        layers=layer,
        fmt="image/png",
        transparent=True,
        overlay=True,
        name=escape_text(f"WMS: {name}"),
        attr=escape_text(url.split("?")[0]),
        opacity=float(opacity),
    )


def context_map(
    lab: LivingLab, lang: str = "en", basemap: str = "street", site_name: str = "Site"
) -> folium.Map:
    """A map of the living lab's site with every keyless basemap (``basemap`` shown) and the
    site boundary; context layers are added by the caller (or passed to st_folium)."""
    c = lab.boundary.centroid
    m = folium.Map(
        location=(c.y, c.x), zoom_start=15, tiles=None, control_scale=True, prefer_canvas=True
    )
    for layer in basemap_layers(lang, basemap):
        layer.add_to(m)
    site_layer(lab, site_name).add_to(m)
    fit_to(m, lab.boundary, pad=0.6)
    return m
