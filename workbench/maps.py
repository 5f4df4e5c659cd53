"""Folium maps: basemaps, site boundaries, the overview of all living labs.

All HTML escaping of user text happens here (and in ``export``), through :func:`escape_text`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

import folium
import shapely
from branca.element import MacroElement
from jinja2 import Template
from shapely.geometry import mapping

from workbench.i18n import fmt_datetime, t
from workbench.model import (
    ANNOTATION_CATEGORIES,
    ANNOTATION_CATEGORY_COLOURS,
    Annotation,
    Category,
    City,
    LivingLab,
    Network,
)
from workbench.settings import OSM_ATTRIBUTION

#: Colour-blind-safe palette (Okabe & Ito 2008), used for networks and categories.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

SITE_STYLE = {"color": "#D55E00", "weight": 3, "fill": True, "fillOpacity": 0.05,
              "dashArray": "6 4"}


def escape_text(value: object) -> str:
    """User text as literal HTML text (quotes included), safe inside elements and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def base_map(center: tuple[float, float] = (30.0, 10.0), zoom: int = 2,
             prefer_canvas: bool = False, **kwargs) -> folium.Map:
    """A map with the OpenStreetMap basemap and its attribution; more basemaps come as layers.

    ``prefer_canvas`` draws vectors on one canvas instead of SVG elements: faster for thousands
    of features, but then they are not separate elements in the page.
    """
    m = folium.Map(location=center, zoom_start=zoom, tiles=None, control_scale=True,
                   prefer_canvas=prefer_canvas, **kwargs)
    folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap",
        attr=f'{OSM_ATTRIBUTION} (<a href="https://www.openstreetmap.org/copyright">ODbL</a>)',
    ).add_to(m)
    return m


def fit_to(m: folium.Map, geom: shapely.Geometry, pad: float = 0.15) -> None:
    minx, miny, maxx, maxy = geom.bounds
    dx, dy = (maxx - minx) * pad, (maxy - miny) * pad
    m.fit_bounds([[miny - dy, minx - dx], [maxy + dy, maxx + dx]])


def site_layer(lab: LivingLab, name: str = "Site") -> folium.GeoJson:
    """The living lab's site boundary as a dashed outline."""
    return folium.GeoJson(
        {"type": "Feature", "geometry": mapping(lab.boundary),
         "properties": {"title": escape_text(lab.title)}},
        name=name, style_function=lambda _f: SITE_STYLE,
        tooltip=folium.GeoJsonTooltip(fields=["title"], labels=False),
    )


def overview_map(labs: Iterable[LivingLab], cities: dict[str, City],
                 networks: dict[str, Network]) -> folium.Map:
    """All living labs across countries: a marker per site, coloured by network, with a popup."""
    m = base_map()
    colours = network_colours(networks)
    labs = list(labs)
    for nid, network in sorted(networks.items(), key=lambda kv: kv[1].name):
        group = folium.FeatureGroup(name=escape_text(network.name))
        for lab in (lab for lab in labs if lab.network_id == nid):
            city = cities[lab.city_id]
            c = lab.boundary.centroid
            popup = (f"<b>{escape_text(lab.title)}</b><br>{escape_text(city.name)} "
                     f"({escape_text(city.country)})")
            folium.CircleMarker(
                location=(c.y, c.x), radius=8, color="#ffffff", weight=2, fill=True,
                fill_color=colours[nid], fill_opacity=0.95,
                tooltip=f"{escape_text(lab.title)} · {escape_text(city.name)}",
                popup=folium.Popup(popup, max_width=300),
            ).add_to(group)
            folium.GeoJson(mapping(lab.boundary), style_function=lambda _f, col=colours[nid]: {
                "color": col, "weight": 2, "fillOpacity": 0.15}).add_to(group)
        group.add_to(m)
    if labs:
        fit_to(m, shapely.union_all([lab.boundary for lab in labs]), pad=0.05)
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
#: Popups show at most this many characters of an annotation's text (the list shows all of it).
POPUP_TEXT_CHARS = 600
#: Decimal places kept in map coordinates (1e-6° is about 0.1 m).
MAP_COORD_DECIMALS = 6


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


def category_label(code: str, lang: str = "en",
                   categories: Iterable[Category] | None = None) -> str:
    """A category's label: built-ins from the locales, a workspace's own from its labels."""
    for category in categories or ():
        if category.code == code and not category.builtin:
            labels = category.labels
            return labels.get(lang) or labels.get("en") or next(iter(labels.values()), code)
    return t(f"annotate.category.{code}", lang)


def _round_coords(value):  # type: ignore[no-untyped-def]
    if isinstance(value, (list, tuple)):
        return [_round_coords(v) for v in value]
    return round(value, MAP_COORD_DECIMALS)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def annotation_popup_html(a: Annotation, colour: str, label: str, lang: str = "en",
                          votes: int = 0, comments: int = 0) -> str:
    """The popup of one annotation: category, text, author, time, votes (all user text escaped)."""
    meta = t("annotate.popup.meta", lang, author=a.author,
             time=fmt_datetime(a.updated_at if a.version > 1 else a.created_at, lang))
    counts = t("annotate.popup.counts", lang, votes=votes, comments=comments)
    return (
        f'<div class="wb-annotation" style="max-width:320px;font-size:13px">'
        f'<div style="font-weight:600;margin-bottom:4px">'
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
        f'background:{escape_text(colour)};margin-right:6px;border:1px solid #555"></span>'
        f"{escape_text(label)}</div>"
        f'<div dir="auto" style="white-space:pre-wrap;overflow-wrap:anywhere">'
        f"{escape_text(_short(a.text, POPUP_TEXT_CHARS))}</div>"
        f'<div dir="auto" style="color:#555;margin-top:6px;font-size:12px">{escape_text(meta)}'
        f"<br>{escape_text(counts)}</div></div>"
    )


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

    A pure function of its arguments: the export reuses it for PNG/HTML. User text only
    reaches the map through :func:`escape_text` (popup and tooltip); the feature properties
    hold nothing else a user typed. With more than ``SIMPLIFY_ABOVE`` annotations, lines and
    areas are simplified by about a metre.
    """
    categories = list(categories or ())
    live = [a for a in annotations if a.deleted_at is None]
    votes, comments = votes or {}, comments or {}
    cat_colours = category_colours(categories)
    grp_colours = group_colours(groups if groups is not None else [a.author for a in live])
    simplify = len(live) > SIMPLIFY_ABOVE
    features = []
    for a in live:
        colour = (grp_colours.get(a.author, "#999999") if colour_by == "group"
                  else cat_colours.get(a.category, "#999999"))
        label = category_label(a.category, lang, categories)
        geom = a.geometry
        if simplify and geom.geom_type != "Point":
            geom = geom.simplify(SIMPLIFY_TOLERANCE_DEG, preserve_topology=True)
        shape = mapping(geom)
        features.append({
            "type": "Feature", "id": a.id,
            "geometry": {"type": shape["type"], "coordinates": _round_coords(shape["coordinates"])},
            "properties": {
                "id": a.id, "colour": colour, "kind": geom.geom_type,
                "hl": a.id == highlight_id,
                "tip": escape_text(f"{label}: {_short(a.text, 80)}"),
                "popup": annotation_popup_html(a, colour, label, lang, votes.get(a.id, 0),
                                               comments.get(a.id, 0)),
            },
        })
    group = folium.FeatureGroup(name=name or t("annotate.layer_name", lang))
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name or t("annotate.layer_name", lang),
            style_function=_annotation_style,
            marker=folium.CircleMarker(radius=8),
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        ).add_to(group)
    return group


def _annotation_style(feature: dict) -> dict:
    p = feature["properties"]
    point = p["kind"] == "Point"
    if p["hl"]:
        style = {"color": "#000000", "weight": 5, "opacity": 1, "fillColor": p["colour"],
                 "fillOpacity": 0.9 if point else 0.5}
        return {**style, "radius": 13} if point else style
    if point:
        return {"color": "#ffffff", "weight": 2, "opacity": 1, "fillColor": p["colour"],
                "fillOpacity": 0.9, "radius": 8}
    return {"color": p["colour"], "weight": 3, "opacity": 0.9, "fillColor": p["colour"],
            "fillOpacity": 0.3}


def annotation_legend(annotations: Sequence[Annotation], colour_by: str = "category",
                      lang: str = "en", categories: Iterable[Category] | None = None,
                      groups: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Legend entries ``(colour, label)`` matching :func:`annotation_layer` (for ``legend_html``):
    every category, or the groups that wrote the annotations."""
    categories = list(categories or ())
    if colour_by == "group":
        names = groups if groups is not None else [a.author for a in annotations
                                                   if a.deleted_at is None]
        return [(colour, name) for name, colour in group_colours(names).items()]
    return [(colour, category_label(code, lang, categories))
            for code, colour in category_colours(categories).items()]


def view_for(geom: shapely.Geometry, width_px: int = 700) -> tuple[tuple[float, float], int]:
    """Centre ``(lat, lon)`` and a zoom level that shows ``geom`` whole on a map that wide."""
    minx, miny, maxx, maxy = geom.bounds
    centre = ((miny + maxy) / 2, (minx + maxx) / 2)
    span = max(maxx - minx, (maxy - miny) * 1.5, 1e-9)
    zoom = int(math.floor(math.log2(360 * width_px / 256 / span)))
    return centre, max(3, min(18, zoom))


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
