"""The cartographic frame shared by both PNG renderers: sizes, texts, legend, scale bar.

Layout maths and texts; it must not read the store or any file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shapely.geometry import Point

from workbench.errors import ValidationError
from workbench.export.content import MapContent, category_colours, category_label
from workbench.geometry import distance_km
from workbench.i18n import fmt_datetime, t
from workbench.model import isolate
from workbench.settings import SITE_COLOUR

MM_PER_INCH = 25.4
#: Paper sizes in millimetres (portrait).
PAPER_MM = {"a4": (210.0, 297.0), "a3": (297.0, 420.0)}
SIZE_NAMES = ("slide", "a4-landscape", "a4-portrait", "a3-landscape", "a3-portrait")
DPIS = (150, 300)


@dataclass(frozen=True)
class PageSize:
    """An output size in pixels, and the dots per inch it is meant for."""

    name: str
    width: int
    height: int
    dpi: int

    @property
    def landscape(self) -> bool:
        return self.width >= self.height

    @property
    def scale(self) -> float:
        """Device pixels per CSS pixel (CSS has 96 px per inch; a slide is drawn at 1:1)."""
        return 1.0 if self.name == "slide" else self.dpi / 96.0


def page_size(name: str = "slide", dpi: int = 150) -> PageSize:
    """``slide`` (1920×1080) or ``a4|a3-landscape|portrait`` at 150 or 300 dpi."""
    if name == "slide":
        return PageSize("slide", 1920, 1080, 96)
    if name not in SIZE_NAMES:
        raise ValidationError("export.bad_size", value=name, choices=", ".join(SIZE_NAMES))
    if dpi not in DPIS:
        raise ValidationError("export.bad_dpi", value=dpi)
    paper, orientation = name.split("-")
    w_mm, h_mm = PAPER_MM[paper]
    if orientation == "landscape":
        w_mm, h_mm = h_mm, w_mm
    return PageSize(name, round(w_mm / MM_PER_INCH * dpi), round(h_mm / MM_PER_INCH * dpi), dpi)


def nice_length(max_m: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``max_m``."""
    if max_m <= 0:
        return 1.0
    exp = math.floor(math.log10(max_m))
    for m in (5, 2, 1):
        if m * 10**exp <= max_m:
            return float(m * 10**exp)
    return float(10**exp)


def scale_label(metres: float, lang: str) -> str:
    return (
        t("export.scale_km", lang, km=metres / 1000)
        if metres >= 1000
        else t("export.scale_m", lang, m=int(metres))
    )


def metres_per_degree_lon(lat: float) -> float:
    return distance_km(Point(0, lat), Point(1, lat)) * 1000


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str
    kind: str  # "site" | "layer" | "category"
    dashed: bool = False


def legend_entries(content: MapContent) -> list[LegendEntry]:
    """Site boundary, each visible layer, then each annotation category with its count."""
    lang = content.lang
    entries = [LegendEntry(SITE_COLOUR, t("map.site", lang), "site", dashed=True)]
    entries += [LegendEntry(layer.drawn_colour, layer.name, "layer") for layer in content.layers]
    colours = category_colours(content)
    for code in content.categories():
        count = sum(1 for a in content.annotations if a.annotation.category == code)
        label = f"{category_label(code, lang, content)} ({count})"
        entries.append(LegendEntry(colours[code], label, "category"))
    return entries


@dataclass(frozen=True)
class FrameText:
    title: str
    subtitle: str  # lab · city (country) · network
    date: str
    attribution: str
    notes: list[str]


def frame_text(
    content: MapContent, extra_notes: Sequence[str] = (), drawn: Iterable[str] | None = None
) -> FrameText:
    """The frame's texts; ``drawn``: the tile sources really drawn (``mapview.tile_sources``
    keys; None: all), so that the attribution credits exactly what the image shows."""
    lang = content.lang
    city = content.city
    # user text isolated (FSI…PDI), so that right-to-left names keep the system text in place
    parts = [f"{isolate(city.name)} ({city.country})", isolate(content.network.name)]
    if content.subtitle:
        parts.append(isolate(content.subtitle))
    return FrameText(
        title=content.title,
        subtitle=" · ".join(parts),
        date=fmt_datetime(content.created_at, lang),
        attribution=" · ".join(content.attributions(drawn)),
        notes=[*content.notes, *extra_notes],
    )
