"""What an export shows: one living lab's map state gathered once, then drawn by every format.

:class:`MapContent` holds the lab, its city and network, the numbered annotations (with comments
and votes where the store keeps them), the visible layers as GeoDataFrames with their styles and
attributions, the basemap, the extent and the indicators. The PNG, PDF, HTML and data writers all
take a ``MapContent``, so they show the same things.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from workbench.i18n import has_key, t
from workbench.maps import PALETTE
from workbench.model import (
    ANNOTATION_CATEGORIES,
    Annotation,
    City,
    Layer,
    LivingLab,
    Network,
    utcnow,
)
from workbench.settings import OSM_ATTRIBUTION, data_dir

log = logging.getLogger(__name__)

#: The basemap every workbench map carries (see ``maps.base_map``).
BASEMAP_NAME = "OpenStreetMap"
BASEMAP_ATTRIBUTION = "Basemap: OpenStreetMap Standard (tile.openstreetmap.org)"


@dataclass(frozen=True)
class Comment:
    author: str
    text: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class NumberedAnnotation:
    """An annotation with the number it carries on the map and in the table."""

    number: int
    annotation: Annotation
    comments: tuple[Comment, ...] = ()
    votes: int = 0

    @property
    def anchor(self) -> BaseGeometry:
        """Where the number is drawn: a point on (or in) the geometry."""
        return self.annotation.geometry.representative_point()


@dataclass
class LayerData:
    """One visible layer: its features in WGS84 and how it is drawn."""

    name: str
    frame: gpd.GeoDataFrame
    kind: str = "upload"  # "upload" | "osm"
    colour: str = "#0072B2"
    attribution: str = ""
    fetched_at: datetime | None = None
    layer_id: str | None = None
    style: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Indicator:
    name: str
    value: float | int | str | None
    unit: str = ""
    note: str = ""


@dataclass
class MapContent:
    lab: LivingLab
    city: City
    network: Network
    annotations: list[NumberedAnnotation]
    layers: list[LayerData]
    lang: str = "en"
    created_at: datetime = field(default_factory=utcnow)
    bounds: tuple[float, float, float, float] | None = None  # lon/lat view; None: fit the site
    indicators: list[Indicator] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said on the image/sheet (e.g. missing data)
    subtitle: str = ""  # e.g. the snapshot's name

    @property
    def title(self) -> str:
        return self.lab.title

    def extent(self) -> tuple[float, float, float, float]:
        """The lon/lat box shown: the given view, or the site and annotations with a margin."""
        if self.bounds is not None:
            return self.bounds
        geoms = [self.lab.boundary] + [a.annotation.geometry for a in self.annotations]
        minx, miny, maxx, maxy = shapely.union_all(geoms).bounds
        dx = max(maxx - minx, 0.002) * 0.12
        dy = max(maxy - miny, 0.002) * 0.12
        return (minx - dx, miny - dy, maxx + dx, maxy + dy)

    def categories(self) -> list[str]:
        """Categories present, in the workspace's order."""
        present = {a.annotation.category for a in self.annotations}
        known = [c for c in ANNOTATION_CATEGORIES if c in present]
        return known + sorted(present - set(known))

    def attributions(self) -> list[str]:
        """Every source shown, each once: OSM, the basemap, then each layer's own attribution."""
        items = [f"{OSM_ATTRIBUTION} (ODbL)", BASEMAP_ATTRIBUTION]
        for layer in self.layers:
            if layer.attribution:
                text = layer.attribution
                if layer.fetched_at is not None:
                    text += f" ({layer.name}, {layer.fetched_at:%Y-%m-%d})"
                items.append(text)
        return list(dict.fromkeys(items))


def category_colours(categories: Iterable[str] = ANNOTATION_CATEGORIES) -> dict[str, str]:
    """A stable colour per annotation category (built-ins first, then custom ones)."""
    ordered = list(dict.fromkeys([*ANNOTATION_CATEGORIES, *categories]))
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(ordered)}


def category_label(code: str, lang: str) -> str:
    """The translated label of a category; a custom category shows its code."""
    for key in (f"annotate.category.{code}", f"export.category.{code}"):
        if has_key(key):
            return t(key, lang)
    return code


def number_annotations(annotations: Sequence[Annotation],
                       discussion: dict[str, tuple[Sequence[Comment], int]] | None = None,
                       ) -> list[NumberedAnnotation]:
    """Numbers 1..n in the order the annotations were made (the order of the table)."""
    discussion = discussion or {}
    ordered = sorted(annotations, key=lambda a: (a.created_at, a.id))
    out = []
    for i, a in enumerate(ordered, start=1):
        comments, votes = discussion.get(a.id, ((), 0))
        out.append(NumberedAnnotation(i, a, tuple(comments), int(votes)))
    return out


def store_discussion(store: Any, annotation_ids: Sequence[str]
                     ) -> dict[str, tuple[list[Comment], int]]:
    """Comments and vote totals per annotation, where the store keeps them (else none)."""
    list_comments = getattr(store, "list_comments", None)
    vote_total = getattr(store, "vote_total", None)
    out: dict[str, tuple[list[Comment], int]] = {}
    for aid in annotation_ids:
        comments = []
        if list_comments is not None:
            comments = [Comment(getattr(c, "author", ""), getattr(c, "text", ""),
                                getattr(c, "created_at", None)) for c in list_comments(aid)]
        votes = int(vote_total(aid)) if vote_total is not None else 0
        out[aid] = (comments, votes)
    return out


def read_layer_file(layer: Layer) -> gpd.GeoDataFrame | None:
    """The features of a stored layer (its file under the data directory), in WGS84."""
    if not layer.path:
        return None
    path = Path(layer.path)
    path = path if path.is_absolute() else data_dir() / path
    if not path.exists():
        return None
    frame = gpd.read_file(path, engine="pyogrio")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def store_layers(store: Any, lab_id: str) -> tuple[list[LayerData], list[str]]:
    """The lab's stored layers that can be read, and the names of those that cannot."""
    out, missing = [], []
    for i, layer in enumerate(store.list_layers(lab_id)):
        try:
            frame = read_layer_file(layer)
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the export
            log.warning("layer %s unreadable: %s", layer.id, exc)
            frame = None
        if frame is None:
            missing.append(layer.name)
            continue
        style = dict(layer.style or {})
        colour = style.get("color") or PALETTE[(i + 2) % len(PALETTE)]
        out.append(LayerData(name=layer.name, frame=frame, kind=layer.kind, colour=colour,
                             attribution=layer.attribution, layer_id=layer.id, style=style,
                             fetched_at=layer.created_at if layer.kind == "osm" else None))
    return out, missing


def lab_indicators(lab_id: str, store: Any) -> list[Indicator]:
    """The lab's indicators from ``workbench.indicators`` when that module is there (else none)."""
    try:
        from workbench import indicators as ind  # type: ignore[attr-defined]
    except ImportError:
        return []
    compute = next((getattr(ind, n) for n in ("lab_indicators", "compute_lab", "for_lab")
                    if hasattr(ind, n)), None)
    if compute is None:
        return []
    try:
        results = compute(store, lab_id)
    except Exception as exc:  # noqa: BLE001 - indicators are optional on the sheet
        log.warning("indicators for %s failed: %s", lab_id, exc)
        return []
    return [as_indicator(r) for r in results]


def as_indicator(r: Any) -> Indicator:
    get = r.get if isinstance(r, dict) else (lambda k, d=None: getattr(r, k, d))
    return Indicator(name=str(get("label") or get("name") or ""), value=get("value"),
                     unit=str(get("unit") or ""), note=str(get("note") or ""))


def gather(store: Any, lab_id: str, *, lang: str = "en",
           layers: list[LayerData] | None = None,
           annotations: Sequence[Annotation] | None = None,
           bounds: tuple[float, float, float, float] | None = None,
           with_indicators: bool = False) -> MapContent:
    """Everything an export of ``lab_id`` shows, read from ``store``.

    ``layers`` and ``annotations`` replace what the store holds (the page passes what is visible;
    a snapshot passes its saved state); ``bounds`` is the map's current view (lon/lat).
    """
    lab = store.get_lab(lab_id)
    city = store.get_city(lab.city_id)
    network = store.get_network(lab.network_id)
    notes: list[str] = []
    if annotations is None:
        annotations = store.list_annotations(lab_id)
    discussion = store_discussion(store, [a.id for a in annotations])
    if layers is None:
        layers, missing = store_layers(store, lab_id)
        notes += [t("export.note.layer_missing", lang, name=name) for name in missing]
    content = MapContent(lab=lab, city=city, network=network,
                         annotations=number_annotations(annotations, discussion),
                         layers=layers, lang=lang, bounds=bounds, notes=notes)
    if not content.annotations:
        content.notes.append(t("export.note.no_annotations", lang))
    if with_indicators:
        content.indicators = lab_indicators(lab_id, store)
    return content

