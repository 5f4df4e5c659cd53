"""Comparing living labs: the table with best/worst marks, charts, same-scale maps, figure-ground
small multiples and street-orientation roses. No Streamlit here; figures come back as PNG bytes.

Computation and drawing for the compare page from the indicators it is given; it must not write
to the store, and imports no Streamlit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from pyproj import Transformer  # noqa: E402
from shapely.geometry import Polygon  # noqa: E402
from shapely.geometry.base import BaseGeometry  # noqa: E402

from workbench.geometry import WGS84, _transformer, local_crs  # noqa: E402
from workbench.i18n import t  # noqa: E402
from workbench.indicators import INDICATORS, Indicator, IndicatorSet  # noqa: E402
from workbench.maps import spreadsheet_text  # noqa: E402
from workbench.settings import OSM_ATTRIBUTION, SITE_COLOUR, SITE_SERIES_COLOURS  # noqa: E402

if TYPE_CHECKING:
    import geopandas as gpd

#: One geometry or an array of them (shapely's vectorised functions take either).
GeoT = TypeVar("GeoT", BaseGeometry, NDArray[np.object_])

#: Web-Mercator metres per pixel at zoom 0 on the equator (256 px tiles).
MPP_ZOOM0 = 156543.03392
#: Edge of the figure-ground squares (m).
FIGURE_GROUND_M = 1000.0


@dataclass(frozen=True)
class Site:
    """One column of the comparison: a short label and the lab's figures."""

    label: str
    country: str
    result: IndicatorSet


# ---- table --------------------------------------------------------------------------------
def marks(
    values: Sequence[float | None], comparable: Sequence[bool], higher_is_better: bool | None
) -> list[str]:
    """ "best", "worst" or "" per site: among comparable figures, only when the row has a
    direction and at least two distinct comparable values."""
    out = [""] * len(values)
    if higher_is_better is None:
        return out
    idx = [
        i for i, (v, c) in enumerate(zip(values, comparable, strict=True)) if c and v is not None
    ]
    if len(idx) < 2:
        return out
    vals = [v for i in idx if (v := values[i]) is not None]
    hi, lo = max(vals), min(vals)
    if math.isclose(hi, lo, rel_tol=1e-9, abs_tol=1e-12):
        return out
    best, worst = (hi, lo) if higher_is_better else (lo, hi)
    for i in idx:
        if values[i] == best:
            out[i] = "best"
        elif values[i] == worst:
            out[i] = "worst"
    return out


def table(sites: Sequence[Site], lang: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The comparison as shown: (cells, styles, reasons).

    ``cells`` has one row per indicator (name, unit, one column per site) with "▲"/"▼" marks
    and "†n" footnotes; ``styles`` holds a CSS string per cell; ``reasons`` the footnote texts.
    """
    rows, styles, reasons = [], [], []
    name_col, unit_col = (
        t("indicators.page.col_indicator", lang),
        t("indicators.page.col_unit", lang),
    )
    for code in INDICATORS:
        inds = [s.result.get(code) for s in sites]
        m = marks([i.value for i in inds], [i.comparable for i in inds], INDICATORS[code][1])
        row = {name_col: inds[0].label(lang), unit_col: inds[0].unit_label(lang)}
        style = {name_col: "", unit_col: "color:#555"}
        for site, ind, mark in zip(sites, inds, m, strict=True):
            text = ind.display_value(lang)
            css = ""
            if not ind.comparable:
                reason = (
                    ind.reason.text(lang) if ind.reason else t("indicators.page.no_figure", lang)
                )
                if reason not in reasons:
                    reasons.append(reason)
                text = f"{text} †{reasons.index(reason) + 1}"
                css = "color:#9a9a9a;background-color:#f3f3f3"
            elif mark == "best":
                text, css = f"▲ {text}", "font-weight:bold;color:#006d2c"
            elif mark == "worst":
                text, css = f"▼ {text}", "color:#a50f15"
            row[site.label] = text
            style[site.label] = css
        rows.append(row)
        styles.append(style)
    return pd.DataFrame(rows), pd.DataFrame(styles), reasons


def data_dates(result: IndicatorSet, lang: str) -> str:
    """The data's own date(s) behind a site's figures ("2015-02-27", "2014-11-05 – 2020-09-30"),
    or "date unknown"."""
    dates = sorted({i.data_date for i in result.indicators if i.data_date})
    if not dates:
        return t("comparison.date_unknown", lang)
    return dates[0] if len(dates) == 1 else f"{dates[0]} – {dates[-1]}"


def table_csv(sites: Sequence[Site], lang: str) -> bytes:
    """One row per site and indicator: raw value (shares as 0–1), unit, data date, comparable,
    reason and notes; the attribution as a last line."""
    rows = []
    for s in sites:
        for ind in s.result.indicators:
            rows.append(
                {
                    t("indicators.page.site", lang): spreadsheet_text(s.label),
                    t("indicators.page.country", lang): s.country,
                    "code": ind.code,
                    t("indicators.page.col_indicator", lang): ind.label(lang),
                    t("indicators.page.value", lang): ind.value,
                    t("indicators.page.col_unit", lang): "0–1"
                    if ind.unit == "share"
                    else ind.unit_label(lang),
                    t("indicators.page.data_date_col", lang): ind.data_date
                    or t("comparison.date_unknown", lang),
                    t("indicators.page.comparable", lang): t(
                        "indicators.page.yes" if ind.comparable else "indicators.page.no", lang
                    ),
                    t("indicators.page.reason", lang): ind.reason.text(lang) if ind.reason else "",
                    t("indicators.page.notes_col", lang): " | ".join(
                        n.text(lang) for n in ind.notes
                    ),
                }
            )
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    buf.write(f"# {OSM_ATTRIBUTION}\n")
    return buf.getvalue().encode("utf-8-sig")


# ---- charts -------------------------------------------------------------------------------
def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _attribute(fig: Figure) -> None:
    fig.text(0.99, 0.005, OSM_ATTRIBUTION, ha="right", va="bottom", fontsize=7, color="#555")


def _shown(ind: Indicator) -> float | None:
    if ind.value is None:
        return None
    return ind.value * 100 if ind.unit == "share" else ind.value


def bar_charts(sites: Sequence[Site], lang: str) -> Figure:
    """One small bar chart per indicator; figures that are not comparable hatched in grey."""
    codes = list(INDICATORS)
    ncols = 4
    nrows = math.ceil(len(codes) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.6 * nrows))
    for ax, code in zip(axes.flat, codes, strict=False):
        inds = [s.result.get(code) for s in sites]
        vals = [_shown(i) or 0.0 for i in inds]
        colours = [
            SITE_SERIES_COLOURS[k % len(SITE_SERIES_COLOURS)] if i.comparable else "#d0d0d0"
            for k, i in enumerate(inds)
        ]
        bars = ax.bar(range(len(sites)), vals, color=colours)
        for bar, i in zip(bars, inds, strict=True):
            if not i.comparable:
                bar.set_hatch("//")
                bar.set_edgecolor("#9a9a9a")
            if i.value is None:
                ax.text(bar.get_x() + bar.get_width() / 2, 0, "—", ha="center", va="bottom")
        ax.set_title(
            t(
                "indicators.page.chart_title",
                lang,
                name=inds[0].label(lang),
                unit=inds[0].unit_label(lang),
            ),
            fontsize=8.5,
            wrap=True,
        )
        ax.set_xticks(range(len(sites)), [str(k + 1) for k in range(len(sites))], fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(codes) :]:
        ax.axis("off")
    legend = "   ".join(f"{k + 1} = {s.label}" for k, s in enumerate(sites))
    fig.suptitle(legend, fontsize=9, y=1.0)
    fig.tight_layout()
    _attribute(fig)
    return fig


def profile(sites: Sequence[Site], lang: str) -> Figure:
    """Each site's figures normalised to [0, 1] across the chosen sites (comparable only)."""
    codes = list(INDICATORS)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(codes) + 1.5))
    for k, s in enumerate(sites):
        xs, ys = [], []
        for row, code in enumerate(codes):
            inds = [x.result.get(code) for x in sites]
            vals = [i.value for i in inds if i.comparable and i.value is not None]
            me = s.result.get(code)
            if not me.comparable or me.value is None or len(vals) < 2:
                continue
            lo, hi = min(vals), max(vals)
            xs.append(0.5 if hi == lo else (me.value - lo) / (hi - lo))
            ys.append(row)
        colour = SITE_SERIES_COLOURS[k % len(SITE_SERIES_COLOURS)]
        ax.plot(xs, ys, "o-", color=colour, label=s.label, alpha=0.85)
    ax.set_yticks(range(len(codes)), [t(f"indicators.name.{c}", lang) for c in codes], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.05, 1.05)
    ax.grid(axis="x", color="#eee")
    ax.set_title(t("indicators.page.profile", lang), fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=2)
    fig.tight_layout()
    _attribute(fig)
    return fig


def rose_diagrams(sites: Sequence[Site], lang: str) -> Figure:
    """Polar histograms of street bearings (36 bins, length-weighted), one per site."""
    n = len(sites)
    fig, axes = plt.subplots(
        1, n, figsize=(3.2 * n, 3.6), subplot_kw={"projection": "polar"}, squeeze=False
    )
    for ax, s in zip(axes[0], sites, strict=True):
        ax.set_theta_zero_location("N")
        ax.set_theta_direction("clockwise")
        ax.set_yticklabels([])
        ax.set_xticks(np.radians([0, 90, 180, 270]), ["N", "E", "S", "W"], fontsize=8)
        hist = np.asarray(s.result.bearings, float)
        if len(hist):
            width = 2 * np.pi / len(hist)
            ax.bar(
                np.arange(len(hist)) * width,
                hist,
                width=width,
                align="center",
                color=SITE_SERIES_COLOURS[0],
                edgecolor="white",
                linewidth=0.4,
            )
            phi = s.result.get("orientation_order").value
            sub = "" if phi is None else f"\nφ = {phi:.2f}"
        else:
            sub = "\n" + t("indicators.page.no_streets", lang)
        ax.set_title(shorten(s.label) + sub, fontsize=8.5, pad=12)
    fig.tight_layout()
    _attribute(fig)
    return fig


def figure_ground(
    sites: Sequence[Site],
    buildings: Sequence[gpd.GeoDataFrame | None],
    boundaries: Sequence[Polygon],
    lang: str,
) -> Figure:
    """Buildings in black on white, a 1 km square around each site's centre, identical scale.

    ``buildings`` holds a GeoDataFrame (EPSG:4326) or None per site; ``boundaries`` the site
    polygons (WGS84).
    """
    n = len(sites)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.6), squeeze=False)
    half = FIGURE_GROUND_M / 2
    for ax, s, gdf, boundary in zip(axes[0], sites, buildings, boundaries, strict=True):
        (cx, cy), drawn = draw_square(ax, boundary, gdf)
        ax.plot([cx - half + 50, cx - half + 250], [cy - half + 40] * 2, color=SITE_COLOUR, lw=2)
        ax.text(
            cx - half + 150,
            cy - half + 60,
            t("indicators.page.scale_bar", lang, m=200),
            ha="center",
            fontsize=7,
            color=SITE_COLOUR,
        )
        title = shorten(s.label)
        if drawn == 0:
            title += "\n" + t("indicators.page.no_buildings", lang)
        ax.set_title(title, fontsize=8.5)
    fig.tight_layout()
    _attribute(fig)
    return fig


def draw_square(
    ax: Axes, boundary: Polygon, gdf: gpd.GeoDataFrame | None, lw: float = 1.0
) -> tuple[tuple[float, float], int]:
    """One figure-ground square on ``ax``: ``FIGURE_GROUND_M`` wide around the site's centre in
    its local UTM CRS (north up), buildings (``gdf``, EPSG:4326, or None) black, the site
    dashed. Returns the centre (metres) and how many buildings were drawn."""
    half = FIGURE_GROUND_M / 2
    tr = _transformer(WGS84, local_crs(boundary))
    c = boundary.centroid
    cx, cy = tr.transform(c.x, c.y)
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    drawn = 0
    if gdf is not None and len(gdf):
        geoms = _proj(np.asarray(gdf.geometry.values, dtype=object), tr)
        window = shapely.box(cx - half, cy - half, cx + half, cy + half)
        geoms = geoms[shapely.intersects(geoms, window)]
        geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
        drawn = len(geoms)
        _fill(ax, geoms)
    site_xy = shapely.get_coordinates(_proj(boundary.exterior, tr))
    ax.plot(site_xy[:, 0], site_xy[:, 1], color=SITE_COLOUR, lw=lw, ls="--")
    return (cx, cy), drawn


def _proj(geoms: GeoT, tr: Transformer) -> GeoT:
    """``geoms`` (one geometry or an array of them) transformed by ``tr``."""

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        projected: NDArray[np.float64] = np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        return projected

    return shapely.transform(geoms, project)


def _fill(ax: Axes, geoms: NDArray[np.object_]) -> None:
    """Polygons filled black, courtyards left white: one compound path, exteriors
    counter-clockwise and holes clockwise (non-zero winding)."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    parts = shapely.orient_polygons(shapely.get_parts(geoms), exterior_cw=False)
    rings = np.concatenate(
        [
            shapely.get_exterior_ring(parts),
            *[
                shapely.get_interior_ring(parts, i)
                for i in range(int(shapely.get_num_interior_rings(parts).max(initial=0)))
            ],
        ]
    )
    rings = rings[~shapely.is_missing(rings)]
    if not len(rings):
        return
    paths = [MplPath(shapely.get_coordinates(r), closed=True) for r in rings]
    ax.add_patch(PathPatch(MplPath.make_compound_path(*paths), facecolor="black", edgecolor="none"))


def shorten(label: str, limit: int = 38) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def png(fig: Figure) -> bytes:
    return _png(fig)


# ---- same-scale maps ----------------------------------------------------------------------
def zoom_for(lat: float, mpp: float) -> float:
    """Web-map zoom that shows ``mpp`` metres per pixel at latitude ``lat``."""
    return math.log2(MPP_ZOOM0 * math.cos(math.radians(lat)) / mpp)


def common_mpp(
    boundaries: Sequence[Polygon], width_px: int, height_px: int, pad: float = 1.2
) -> float:
    """Metres per pixel at which the largest site (plus padding) fits every map."""
    need = 1.0
    for b in boundaries:
        crs = local_crs(b)
        tr = _transformer(WGS84, crs)
        xy = np.column_stack(tr.transform(*np.asarray(b.exterior.coords).T))
        w, h = np.ptp(xy[:, 0]), np.ptp(xy[:, 1])
        need = max(need, w * pad / width_px, h * pad / height_px)
    return float(need)
