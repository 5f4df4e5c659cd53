"""Folium maps: basemaps, site boundaries, the overview of all living labs.

All HTML escaping of user text happens here (and in ``export``), through :func:`escape_text`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import folium
import shapely
from shapely.geometry import mapping

from workbench.model import City, LivingLab, Network
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
