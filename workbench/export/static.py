"""The PNG snapshot without a browser: matplotlib draws the same vector layers and the same
cartographic frame (title, legend, scale bar, north arrow, attribution), without basemap tiles, and
says so on the image. The map is drawn in Web Mercator, like the web map.

It must not start a browser or fetch tiles: it is the fallback that always works offline.
"""

from __future__ import annotations

import io
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrow, Patch, Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from pyproj import Transformer  # noqa: E402

from workbench.export.content import MapContent  # noqa: E402
from workbench.export.layout import (  # noqa: E402
    FrameText,
    PageSize,
    frame_text,
    legend_entries,
    metres_per_degree_lon,
    nice_length,
    page_size,
    scale_label,
)
from workbench.i18n import t  # noqa: E402
from workbench.settings import SITE_COLOUR  # noqa: E402

#: A rectangle in figure coordinates: left, bottom, width, height.
Box = tuple[float, float, float, float]

_TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def _text(ax: Axes, x: float, y: float, s: str, **kw: Any) -> Text:
    """Text drawn literally: no mathtext ($…$), whatever a user typed."""
    return ax.text(x, y, s, parse_math=False, **kw)


def render_png_static(
    content: MapContent, size: PageSize | None = None, numbered: bool = True
) -> bytes:
    """The PNG snapshot drawn by matplotlib (exactly ``size`` pixels)."""
    size = size or page_size()
    lang = content.lang
    dpi = 120 if size.name == "slide" else size.dpi
    # Type sizes are chosen for the page: a slide is 16 in wide at 120 dpi, A4 11.7 in.
    fs = 1.0 if size.name == "slide" else 0.85 * (min(size.width, size.height) / size.dpi) / 8.27
    fig = plt.figure(figsize=(size.width / dpi, size.height / dpi), dpi=dpi)
    try:
        notes = [t("export.note.no_browser", lang)]
        ft = frame_text(content, notes, drawn=())  # no tiles drawn: none credited
        if size.landscape:
            _header(fig, ft, fs, (0.955, 0.905, 0.885), size)
            map_box, legend_box = (0.02, 0.10, 0.74, 0.76), (0.78, 0.10, 0.20, 0.76)
        else:
            _header(fig, ft, fs, (0.97, 0.94, 0.927), size)
            map_box, legend_box = (0.04, 0.27, 0.92, 0.64), (0.04, 0.08, 0.92, 0.17)
        ax = fig.add_axes(map_box)
        _draw_map(ax, content, numbered, fs, map_box, size)
        _legend(fig.add_axes(legend_box), content, fs)
        _footer(fig, ft, fs)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _fit(text: str, points: float, fontsize: float) -> str:
    """``text`` cut with an ellipsis to about the characters that fit in ``points`` of width."""
    limit = max(8, int(points / (0.62 * fontsize)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header(
    fig: Figure, ft: FrameText, fs: float, ys: tuple[float, float, float], size: PageSize
) -> None:
    width_pt = fig.get_figwidth() * 72 * 0.96
    title_fs = 22 * fs if size.landscape else 17 * fs
    fig.text(
        0.02,
        ys[0],
        _fit(ft.title, width_pt, title_fs),
        fontsize=title_fs,
        fontweight="bold",
        va="top",
        parse_math=False,
    )
    fig.text(
        0.02,
        ys[1],
        _fit(ft.subtitle, width_pt * 0.75, 12 * fs),
        fontsize=12 * fs,
        va="top",
        parse_math=False,
    )
    fig.text(0.98, ys[1], ft.date, fontsize=11 * fs, va="top", ha="right", parse_math=False)
    fig.add_artist(Line2D([0.02, 0.98], [ys[2], ys[2]], color="#111", lw=1.5 * fs))


def _footer(fig: Figure, ft: FrameText, fs: float) -> None:
    fig.text(0.02, 0.06, ft.attribution, fontsize=8 * fs, va="top", color="#333", parse_math=False)
    fig.text(
        0.02,
        0.035,
        "   ".join("⚠ " + n for n in ft.notes),
        fontsize=9 * fs,
        va="top",
        color="#8a3b00",
        parse_math=False,
    )


def _draw_map(
    ax: Axes, content: MapContent, numbered: bool, fs: float, box: Box, size: PageSize
) -> None:
    ax.set_facecolor("#f2efe9")
    for layer in content.layers:  # styled as on the web map (mapview's layer styles)
        frame = layer.frame.to_crs(3857)
        style = layer.style
        edge = to_rgba(layer.drawn_colour, float(style.get("opacity", 1.0)))
        face = to_rgba(
            style.get("fillColor", layer.drawn_colour), float(style.get("fillOpacity", 0.35))
        )
        weight = float(style.get("weight", 1.2)) * 0.75 * max(fs, 0.5)
        polys = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        lines = frame[frame.geom_type.isin(["LineString", "MultiLineString"])]
        points = frame[frame.geom_type.isin(["Point", "MultiPoint"])]
        if len(polys):
            polys.plot(ax=ax, facecolor=face, edgecolor=edge, lw=weight)
        if len(lines):
            lines.plot(ax=ax, color=edge, lw=weight)
        if len(points):
            points.plot(
                ax=ax,
                color=face if style.get("fillOpacity") else edge,
                markersize=(layer.radius * 1.5 * fs) ** 2,
                edgecolor="#fff",
                lw=0.4,
            )
    site = gpd.GeoSeries([content.lab.boundary], crs=4326).to_crs(3857)
    site.boundary.plot(ax=ax, color=SITE_COLOUR, lw=2.5 * fs, linestyle=(0, (6, 4)))
    if content.annotations:
        frame = note_frame(content)
        order = {"area": 0, "line": 1, "point": 2}  # areas under lines under points
        groups = [
            (str(kind), group) for (kind, _style), group in frame.groupby(["kind", "style_key"])
        ]
        for kind, group in sorted(groups, key=lambda kg: order[kg[0]]):
            assert isinstance(group, gpd.GeoDataFrame)  # a group of a GeoDataFrame is one
            style = group["style"].iloc[0]
            _draw_notes(ax, group, kind, style, fs, 4 + order[kind] * 0.1)
        if numbered:
            anchors = gpd.GeoSeries([n.anchor for n in content.annotations], crs=4326).to_crs(3857)
            cols = [
                f["properties"]["s"].get("fillColor") or f["properties"]["s"]["color"]
                for f in content.annotation_features()
            ]
            for n, x, y, col in zip(content.annotations, anchors.x, anchors.y, cols, strict=True):
                _text(
                    ax,
                    x,
                    y,
                    str(n.number),
                    fontsize=8 * fs,
                    fontweight="bold",
                    ha="center",
                    va="center",
                    zorder=6,
                    bbox={"boxstyle": "circle,pad=0.25", "fc": "#fff", "ec": col, "lw": 1.5 * fs},
                )
    # The extent, widened to the axes' shape so metres are square (as on the web map).
    minx, miny, maxx, maxy = content.extent()
    (x0, x1), (y0, y1) = _TO_3857.transform([minx, maxx], [miny, maxy])
    box_w = box[2] * size.width
    box_h = box[3] * size.height
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = x1 - x0, y1 - y0
    if w / h < box_w / box_h:
        w = h * box_w / box_h
    else:
        h = w * box_h / box_w
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_color("#555")
    lat = (miny + maxy) / 2
    _scale_bar(ax, w, lat, content.lang, fs)
    _north_arrow(ax, fs)


def note_frame(content: MapContent) -> gpd.GeoDataFrame:
    """The notes as drawn here, in Web Mercator: one row per note with its Leaflet style ``s``
    from ``maps.annotation_features`` (the living-lab map's and the HTML export's own)."""
    feats = content.annotation_features()
    geoms = gpd.GeoSeries([n.annotation.geometry for n in content.annotations], crs=4326)
    styles = [f["properties"]["s"] for f in feats]
    kinds = [
        "area"
        if g.geom_type in ("Polygon", "MultiPolygon")
        else "line"
        if g.geom_type in ("LineString", "MultiLineString")
        else "point"
        for g in geoms
    ]
    return gpd.GeoDataFrame(
        {
            "id": [f["id"] for f in feats],
            "kind": kinds,
            "style": styles,
            "style_key": [repr(sorted(s.items())) for s in styles],
        },
        geometry=geoms.to_crs(3857),
        crs=3857,
    )


def _draw_notes(
    ax: Axes, group: gpd.GeoDataFrame, kind: str, style: dict[str, Any], fs: float, z: float
) -> None:
    """Notes of one kind and style, as Leaflet draws them (CSS px widths scaled to the page)."""
    colour = style.get("color", "#777777")
    fill = style.get("fillColor", colour)
    weight = float(style.get("weight", 2)) * 0.75 * fs
    if kind == "area":
        group.plot(
            ax=ax,
            facecolor=to_rgba(fill, float(style.get("fillOpacity", 0.2))),
            edgecolor=to_rgba(colour, float(style.get("opacity", 1))),
            lw=weight,
            zorder=z,
        )
    elif kind == "line":
        group.plot(
            ax=ax, color=to_rgba(colour, float(style.get("opacity", 1))), lw=weight, zorder=z
        )
    else:
        radius = float(style.get("radius", 8)) * 0.75 * fs  # points (1/72 in) of a CSS px
        group.plot(
            ax=ax,
            color=to_rgba(fill, float(style.get("fillOpacity", 0.9))),
            markersize=(2 * radius) ** 2,
            edgecolor=colour,
            lw=weight,
            zorder=z,
        )


def _scale_bar(ax: Axes, width_3857: float, lat: float, lang: str, fs: float) -> None:
    """A bar of a round length in true metres (Web Mercator stretches by 1/cos(latitude))."""
    metres_per_unit = metres_per_degree_lon(lat) / 111319.49079327357  # ground m per 3857 unit
    ground_width = width_3857 * metres_per_unit
    length = nice_length(ground_width / 4)
    frac = length / ground_width
    x0, y0 = 0.04, 0.05
    ax.add_patch(
        Rectangle(
            (x0 - 0.01, y0 - 0.02),
            frac + 0.02,
            0.085,
            transform=ax.transAxes,
            fc="#ffffffd9",
            ec="none",
            zorder=7,
        )
    )
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (x0 + frac * i / 4, y0),
                frac / 4,
                0.012,
                transform=ax.transAxes,
                fc="#111" if i % 2 == 0 else "#fff",
                ec="#111",
                lw=0.8,
                zorder=8,
            )
        )
    _text(ax, x0, y0 + 0.022, "0", transform=ax.transAxes, fontsize=8 * fs, zorder=8, ha="center")
    _text(
        ax,
        x0 + frac,
        y0 + 0.022,
        scale_label(length, lang),
        transform=ax.transAxes,
        fontsize=8 * fs,
        zorder=8,
        ha="center",
    )


def _north_arrow(ax: Axes, fs: float) -> None:
    ax.add_patch(
        FancyArrow(
            0.95,
            0.84,
            0,
            0.08,
            width=0.012,
            head_width=0.035,
            head_length=0.045,
            length_includes_head=True,
            transform=ax.transAxes,
            fc="#111",
            ec="#fff",
            zorder=8,
        )
    )
    _text(
        ax,
        0.95,
        0.80,
        "N",
        transform=ax.transAxes,
        fontsize=13 * fs,
        fontweight="bold",
        ha="center",
        va="center",
        zorder=8,
    )


def _legend(ax: Axes, content: MapContent, fs: float) -> None:
    ax.axis("off")
    handles: list[Artist] = []
    for e in legend_entries(content):
        if e.kind == "site":
            handles.append(
                Line2D([], [], color=e.colour, lw=2.5, linestyle=(0, (4, 2)), label=e.label)
            )
        elif e.kind == "layer":
            handles.append(Patch(fc=e.colour, ec=e.colour, alpha=0.6, label=e.label))
        else:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    markersize=10 * fs,
                    markerfacecolor=e.colour,
                    markeredgecolor="#333",
                    label=e.label,
                )
            )
    leg = ax.legend(
        handles=handles,
        loc="upper left",
        frameon=False,
        fontsize=11 * fs,
        title=t("export.legend", content.lang),
        title_fontproperties={"weight": "bold", "size": 12 * fs},
        alignment="left",
        ncol=1 if ax.get_position().width < 0.5 else 3,
    )
    for text in leg.get_texts():
        text.set_parse_math(False)
