"""The twin sheet: 2 to 4 living labs side by side for a conference, as one A3 landscape PDF or
a 1920×1080 slide (PNG).

Each lab gets a column: its figure-ground square (1 km, north up, the same metres per pixel in
every column), its street-orientation rose and indicator cards, every figure with a
comparability mark (comparable, thin data, not comparable) and the reason in a numbered
footnote. Below: data dates and sources per lab, the legend, and the attribution; a QR code
links back to the live Compare page. One matplotlib figure is drawn for both formats, so the
slide and the sheet show the same thing. No Streamlit here.

It must not write to the store; it draws from what it reads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.projections.polar import PolarAxes  # noqa: E402

from workbench import compare as cmp  # noqa: E402
from workbench.errors import ValidationError  # noqa: E402
from workbench.i18n import t  # noqa: E402
from workbench.indicators import Indicator  # noqa: E402
from workbench.settings import (  # noqa: E402
    COMPARABILITY_COLOURS,
    OSM_ATTRIBUTION,
    SITE_SERIES_COLOURS,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from shapely.geometry import Polygon

    from workbench.store import Store


FORMATS = ("pdf", "png")
MIN_LABS, MAX_LABS = 2, 4
#: A3 landscape (inches) and the slide (inches at 100 dpi = 1920×1080 px).
SIZES = {"pdf": (420 / 25.4, 297 / 25.4), "png": (19.2, 10.8)}
SLIDE_DPI = 100
#: The figures on the cards, in order.
CARD_CODES = (
    "gsi",
    "open_space_share",
    "green_300m_walk",
    "transit_access",
    "fifteen_min_mean",
    "intersection_density",
    "street_density",
    "orientation_order",
    "landuse_mix",
    "amenity_food",
)
#: Reasons that mean "thin data" rather than "not comparable": the data are there, but sparse.
THIN_REASONS = frozenset(
    {
        "indicators.note.few_buildings",
        "comparison.note.thin_proxy",
        "indicators.note.few_pois",
        "indicators.note.landuse_coverage",
        "indicators.note.landuse_from_pois",
        "indicators.note.weight_area",
        "indicators.note.short_network",
    }
)
MARK_SYMBOLS = {"comparable": "●", "thin": "◐", "not_comparable": "○"}


@dataclass(frozen=True)
class SheetLab:
    """One column: the lab's label, its figures, buildings (EPSG:4326 or None) and boundary."""

    site: cmp.Site
    title: str
    boundary: Polygon
    buildings: gpd.GeoDataFrame | None
    sources: tuple[str, ...] = ()  # names of the city's own layers the figures used


def status(ind: Indicator) -> str:
    """``comparable``, ``thin`` (thin data) or ``not_comparable``."""
    if ind.comparable:
        return "comparable"
    reason = ind.reason
    return "thin" if reason is not None and reason.key in THIN_REASONS else "not_comparable"


@dataclass(frozen=True)
class Layout:
    """Where each lab's map sits, in pixels of the rendered image (x0, y0, x1, y1 from the top
    left), and the metres each map spans."""

    maps: tuple[tuple[float, float, float, float], ...]
    metres: float = cmp.FIGURE_GROUND_M

    def metres_per_pixel(self) -> list[float]:
        return [self.metres / (x1 - x0) for x0, _y0, x1, _y1 in self.maps]


def twin_sheet(labs: Sequence[SheetLab], lang: str, fmt: str, url: str) -> bytes:
    """The sheet as PDF (A3 landscape) or PNG (1920×1080) bytes; ``url`` is the QR code's link.

    Raises
    ------
    ValidationError
        Fewer than 2 or more than 4 labs, or an unknown format.
    """
    data, _layout = render(labs, lang, fmt, url)
    return data


def render(labs: Sequence[SheetLab], lang: str, fmt: str, url: str) -> tuple[bytes, Layout]:
    """The sheet's bytes and where its maps were drawn (see :class:`Layout`)."""
    if not MIN_LABS <= len(labs) <= MAX_LABS:
        raise ValidationError("comparison.twin.count", low=MIN_LABS, high=MAX_LABS)
    if fmt not in FORMATS:
        raise ValidationError("comparison.twin.format", known=", ".join(FORMATS))
    fig, map_axes = _draw(labs, lang, url, SIZES[fmt])
    buf = io.BytesIO()
    dpi = SLIDE_DPI if fmt == "png" else 150
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig.savefig(
            buf,
            format=fmt,
            dpi=dpi,
            metadata=None
            if fmt == "png"
            else {"Title": t("comparison.twin.title", lang), "Creator": "Living Lab Workbench"},
        )
    height = fig.get_figheight() * dpi
    boxes = []
    for ax in map_axes:
        x0, y0, x1, y1 = ax.get_window_extent().extents * (dpi / fig.dpi)
        boxes.append((x0, height - y1, x1, height - y0))
    plt.close(fig)
    return buf.getvalue(), Layout(tuple(boxes))


def _draw(
    labs: Sequence[SheetLab], lang: str, url: str, size: tuple[float, float]
) -> tuple[Figure, list[Any]]:
    w, h = size
    fig = plt.figure(figsize=size, dpi=100)
    fig.patch.set_facecolor("white")
    fs = h / 11.7 * 10  # font size scales with the sheet
    fig.text(
        0.02,
        0.965,
        t("comparison.twin.title", lang),
        fontsize=fs * 2.0,
        fontweight="bold",
        va="top",
    )
    fig.text(
        0.02,
        0.925,
        "  ·  ".join(lab.site.label for lab in labs),
        fontsize=fs * 1.1,
        va="top",
        color="#333",
    )
    n = len(labs)
    margin, gap = 0.02, 0.015
    col_w = (1 - 2 * margin - gap * (n - 1)) / n
    side_in = min(col_w * w * 0.56, h * 0.36)  # the map square, the same in every column
    reasons: list[str] = []
    map_axes = []
    for k, lab in enumerate(labs):
        x = margin + k * (col_w + gap)
        fig.text(
            x,
            0.885,
            cmp.shorten(lab.title, 60),
            fontsize=fs * 0.95,
            va="top",
            fontweight="bold",
            wrap=True,
        )
        top = 0.85
        ax = fig.add_axes((x, top - side_in / h, side_in / w, side_in / h))
        _figure_ground(ax, lab, lang, fs)
        map_axes.append(ax)
        rose_w = min(col_w - side_in / w - 0.01, side_in / w)
        rax = fig.add_axes(
            (x + side_in / w + 0.008, top - rose_w * w / h, rose_w, rose_w * w / h),
            projection="polar",
        )
        assert isinstance(rax, PolarAxes)  # what projection="polar" makes
        _rose(rax, lab, lang, fs)
        _cards(fig, lab, lang, x, top - side_in / h - 0.02, col_w, fs, reasons)
    _footer(fig, labs, lang, fs, reasons, url, size)
    return fig, map_axes


def _figure_ground(ax: Axes, lab: SheetLab, lang: str, fs: float) -> None:
    half = cmp.FIGURE_GROUND_M / 2
    (cx, cy), drawn = cmp.draw_square(ax, lab.boundary, lab.buildings, lw=1.2)
    for spine in ax.spines.values():
        spine.set_color("#999")
    if not drawn:
        ax.text(
            cx,
            cy - 120,
            t("indicators.page.no_buildings", lang),
            ha="center",
            va="center",
            fontsize=fs * 0.8,
            color="#777",
        )
    # scale bar (200 m) and north arrow: UTM north is true north to within the convergence
    x0, y0 = cx - half + 50, cy - half + 45
    ax.plot([x0, x0 + 200], [y0, y0], color="black", lw=2.5, solid_capstyle="butt")
    ax.text(
        x0 + 100,
        y0 + 22,
        t("indicators.page.scale_bar", lang, m=200),
        ha="center",
        fontsize=fs * 0.7,
    )
    ax.annotate(
        "N",
        xy=(cx + half - 60, cy + half - 40),
        xytext=(cx + half - 60, cy + half - 170),
        ha="center",
        fontsize=fs * 0.8,
        fontweight="bold",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
    )


def _rose(ax: PolarAxes, lab: SheetLab, lang: str, fs: float) -> None:
    ax.set_theta_zero_location("N")
    ax.set_theta_direction("clockwise")
    ax.set_yticklabels([])
    ax.set_xticks(np.radians([0, 90, 180, 270]), ["N", "E", "S", "W"], fontsize=fs * 0.65)
    hist = np.asarray(lab.site.result.bearings, float)
    phi = lab.site.result.get("orientation_order")
    if len(hist):
        width = 2 * np.pi / len(hist)
        ax.bar(
            np.arange(len(hist)) * width,
            hist,
            width=width,
            color=SITE_SERIES_COLOURS[0],
            edgecolor="white",
            linewidth=0.3,
        )
    title = "φ —" if phi.value is None else f"φ = {phi.value:.2f}"
    ax.set_title(title, fontsize=fs * 0.75, pad=4)


def _cards(
    fig: Figure,
    lab: SheetLab,
    lang: str,
    x: float,
    top: float,
    col_w: float,
    fs: float,
    reasons: list[str],
) -> None:
    per_col = 2
    rows = (len(CARD_CODES) + per_col - 1) // per_col
    card_h = min((top - 0.2) / rows, 0.06)
    card_w = (col_w - 0.006) / per_col
    for i, code in enumerate(CARD_CODES):
        ind = lab.site.result.get(code)
        mark = status(ind)
        cx = x + (i % per_col) * (card_w + 0.006)
        cy = top - (i // per_col) * card_h
        fig.patches.append(
            matplotlib.patches.FancyBboxPatch(
                (cx, cy - card_h + 0.004),
                card_w,
                card_h - 0.006,
                boxstyle="round,pad=0.002",
                transform=fig.transFigure,
                facecolor="#f6f6f6"
                if mark == "comparable"
                else "#fbf7ef"
                if mark == "thin"
                else "#f0f0f0",
                edgecolor="#ddd",
                lw=0.5,
            )
        )
        fig.text(
            cx + 0.004,
            cy - 0.006,
            cmp.shorten(ind.label(lang), 44),
            fontsize=fs * 0.62,
            va="top",
            color="#333",
        )
        value = ind.display_value(lang)
        unit = ind.unit_label(lang) if ind.value is not None else ""
        foot = ""
        if mark != "comparable":
            reason = ind.reason.text(lang) if ind.reason else t("indicators.page.no_figure", lang)
            if reason not in reasons:
                reasons.append(reason)
            foot = f" †{reasons.index(reason) + 1}"
        fig.text(
            cx + 0.004,
            cy - card_h + 0.01,
            f"{value} {unit}".strip(),
            fontsize=fs * 1.0,
            fontweight="bold",
            va="bottom",
            color="#111" if mark == "comparable" else "#777",
        )
        fig.text(
            cx + card_w - 0.004,
            cy - card_h + 0.01,
            f"{MARK_SYMBOLS[mark]}{foot}",
            fontsize=fs * 0.8,
            ha="right",
            va="bottom",
            color=COMPARABILITY_COLOURS[mark],
        )


def _footer(
    fig: Figure,
    labs: Sequence[SheetLab],
    lang: str,
    fs: float,
    reasons: list[str],
    url: str,
    size: tuple[float, float],
) -> None:
    y = 0.19
    legend = "   ".join(
        f"{MARK_SYMBOLS[m]} {t(f'comparison.twin.mark.{m}', lang)}" for m in MARK_SYMBOLS
    )
    fig.text(
        0.02,
        y,
        legend
        + "   ▬ "
        + t("comparison.twin.legend_site", lang)
        + "   ■ "
        + t("comparison.twin.legend_buildings", lang)
        + "   "
        + t("comparison.twin.legend_scale", lang, m=int(cmp.FIGURE_GROUND_M)),
        fontsize=fs * 0.7,
        va="top",
    )
    lines = [f"†{k} {r}" for k, r in enumerate(reasons, start=1)]
    for lab in labs:
        own = (
            " · " + t("comparison.twin.own_layers", lang, names=", ".join(lab.sources))
            if lab.sources
            else ""
        )
        lines.append(
            f"{lab.site.label}: "
            + t("comparison.data_as_of", lang, date=cmp.data_dates(lab.site.result, lang))
            + own
        )
    text = "\n".join(cmp.shorten(line, 190) for line in lines[:16])
    fig.text(0.02, y - 0.025, text, fontsize=fs * 0.58, va="top", color="#333", linespacing=1.35)
    fig.text(
        0.02,
        0.012,
        f"{OSM_ATTRIBUTION} (ODbL) · " + t("comparison.twin.method", lang),
        fontsize=fs * 0.6,
        color="#555",
    )
    _qr(fig, url, size, fs)


def _qr(fig: Figure, url: str, size: tuple[float, float], fs: float) -> None:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=2)
    code.add_data(url)
    code.make(fit=True)
    matrix = np.asarray(code.get_matrix(), dtype=float)
    side = 0.13 * size[1]  # inches
    ax = fig.add_axes((1 - 0.02 - side / size[0], 0.035, side / size[0], side / size[1]))
    ax.imshow(1 - matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    fig.text(1 - 0.02, 0.03, url, fontsize=fs * 0.5, ha="right", va="top", color="#555")


def compare_url(base: str, lab_ids: Sequence[str]) -> str:
    """The live Compare page with these labs chosen."""
    return f"{base.rstrip('/')}/compare?labs={','.join(lab_ids)}"


def sheet_labs(store: Store, lab_ids: Sequence[str], lang: str) -> list[SheetLab]:
    """Everything the sheet shows for each lab, read from the store and the caches (the
    indicators with the cities' own source layers, the buildings they used)."""
    from workbench import indicators as ind
    from workbench.opendata.sources import lab_sources

    cities = {c.id: c for c in store.list_cities()}
    out = []
    for lab_id in lab_ids:
        lab = store.get_lab(lab_id)
        sources = lab_sources(store, lab_id)
        result = ind.lab_indicators(store, lab, sources=sources)
        city = cities.get(lab.city_id)
        label = f"{city.name} ({city.country})" if city else lab.title
        own = sources.get("buildings")
        buildings = (
            own.frame
            if own is not None and own.frame is not None
            else ind.load_theme(store, lab_id, "buildings")
        )
        out.append(
            SheetLab(
                cmp.Site(label, city.country if city else "", result),
                lab.title,
                lab.boundary,
                buildings,
                tuple(src.name for src in sources.values()),
            )
        )
    return out
