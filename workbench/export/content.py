"""What an export shows: one living lab's map state gathered once, then drawn by every format.

:class:`MapContent` holds the lab, its city and network, the numbered annotations (with comments
and votes where the store keeps them), the visible layers (``mapview.LayerData``: features,
styles, attributions, dates), the lab's saved map settings (basemap, WMS), the extent and the
indicators. The PNG, PDF, HTML and data writers all take a ``MapContent``, and draw it through
the one description of the map in ``workbench.mapview``, so they show what the lab's map shows.

It reads the store and the caches; it must not write (snapshots are stored through
``Store.add_snapshot``) nor draw: the formats draw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Point

from workbench import maps
from workbench.i18n import t
from workbench.indicators import IndicatorSet
from workbench.mapview import (
    OSM_LAYER_PREFIX,
    LayerData,
    MapSettings,
    map_settings,
    osm_layers,
    sources,
    upload_layers,
)
from workbench.mapview import lab_layers as mapview_lab_layers
from workbench.model import (
    ANNOTATION_CATEGORIES,
    Annotation,
    Category,
    City,
    LivingLab,
    Network,
    Translation,
    utcnow,
)
from workbench.settings import UNKNOWN_CATEGORY_COLOUR
from workbench.store import Store

log = logging.getLogger(__name__)

#: Names the exports and pages read from here (kept in ``workbench.mapview``).
__all__ = [
    "OSM_LAYER_PREFIX",
    "Comment",
    "LayerData",
    "MapContent",
    "NumberedAnnotation",
    "add_indicators",
    "category_colours",
    "category_label",
    "gather",
    "lab_layers",
    "number_annotations",
    "osm_layers",
    "store_discussion",
    "store_layers",
]


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
    votes: int = 0  # dots in the current voting round (``MapContent.vote_round``)
    votes_total: int | None = None  # dots in every round together; None: the same as ``votes``
    #: The note's text in other languages, each marked with its language and translator.
    translations: tuple[Translation, ...] = ()

    @property
    def translations_text(self) -> str:
        """The translations in one field: ``uk (Olena): … | en (Sam): …``."""
        return " | ".join(f"{tr.lang} ({tr.author}): {tr.text}" for tr in self.translations)

    @property
    def all_votes(self) -> int:
        return self.votes if self.votes_total is None else self.votes_total

    @property
    def anchor(self) -> Point:
        """Where the number is drawn: a point on (or in) the geometry."""
        return self.annotation.geometry.representative_point()


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
    indicators: IndicatorSet | None = None  # workbench.indicators' figures; None: not gathered
    notes: list[str] = field(default_factory=list)  # said on the image/sheet (e.g. missing data)
    #: The workspace's categories (built-in and own), for the map's colours and labels.
    category_defs: tuple[Category, ...] = ()
    subtitle: str = ""  # e.g. the snapshot's name
    #: The voting round whose dots ``NumberedAnnotation.votes`` counts (None: not known).
    vote_round: int | None = None
    #: The lab's saved map settings: basemap and WMS overlays as on the lab's map.
    settings: MapSettings = field(default_factory=MapSettings)
    #: Computes the lab's indicators and notes on demand (:func:`add_indicators`), from the
    #: workspace the content was gathered in; None: no figures can be added.
    indicator_source: Callable[[], tuple[IndicatorSet | None, list[str]]] | None = field(
        default=None, repr=False, compare=False
    )

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

    def attributions(self, drawn: Iterable[str] | None = None) -> list[str]:
        """Every source shown, each once, with its data date (``mapview.sources``): the tiles
        really drawn (``drawn``: keys of ``mapview.tile_sources``; None: all, as in the
        interactive HTML map), the OSM data, each uploaded layer's own attribution."""
        return sources(self.layers, self.settings, self.lang, drawn)

    def annotation_features(self) -> list[dict[str, Any]]:
        """The notes as every map draws them (``maps.annotation_features``, coloured by
        category, with the votes and comments the popups count)."""
        votes = {n.annotation.id: n.votes for n in self.annotations}
        totals = {n.annotation.id: n.all_votes for n in self.annotations}
        comments = {n.annotation.id: len(n.comments) for n in self.annotations}
        return maps.annotation_features(
            [n.annotation for n in self.annotations],
            "category",
            self.lang,
            votes=votes,
            comments=comments,
            categories=self.category_defs,
            votes_total=totals,
            vote_round=self.vote_round,
        )


def category_colours(content: MapContent) -> dict[str, str]:
    """The colour of each category as the living-lab map shows it (``maps.category_colours``);
    a category the workspace no longer defines is drawn grey."""
    colours = maps.category_colours(content.category_defs)
    return {code: colours.get(code, UNKNOWN_CATEGORY_COLOUR) for code in content.categories()}


def category_label(code: str, lang: str, content: MapContent | None = None) -> str:
    """A category's label as the living-lab map shows it (``maps.category_label``)."""
    return maps.category_label(code, lang, content.category_defs if content else None)


#: An annotation's discussion: its comments, the dots of this voting round and, where known, of
#: all rounds.
Discussion = tuple[Sequence[Comment], int] | tuple[Sequence[Comment], int, int]


def number_annotations(
    annotations: Sequence[Annotation],
    discussion: Mapping[str, Discussion] | None = None,
    translations: Mapping[str, Sequence[Translation]] | None = None,
) -> list[NumberedAnnotation]:
    """Numbers 1..n in the order the annotations were made (the order of the table).
    ``discussion``: per annotation id (comments, dots this round[, dots in all rounds])."""
    discussion = discussion or {}
    ordered = sorted(annotations, key=lambda a: (a.created_at, a.id))
    out = []
    for i, a in enumerate(ordered, start=1):
        comments, votes, *total = discussion.get(a.id, ((), 0))
        out.append(
            NumberedAnnotation(
                i,
                a,
                tuple(comments),
                int(votes),
                int(total[0]) if total else None,
                tuple((translations or {}).get(a.id, ())),
            )
        )
    return out


def store_discussion(
    store: Store, lab_id: str, annotation_ids: Sequence[str]
) -> dict[str, tuple[Sequence[Comment], int, int]]:
    """Comments, the current voting round's dots and the dots of all rounds per annotation
    (a :data:`Discussion` that knows all rounds)."""
    votes = store.vote_totals(lab_id)
    totals = store.vote_totals(lab_id, all_rounds=True)
    return {
        aid: (
            [Comment(c.author, c.text, c.created_at) for c in store.list_comments(aid)],
            votes.get(aid, 0),
            totals.get(aid, 0),
        )
        for aid in annotation_ids
    }


def store_layers(
    store: Store, lab_id: str, settings: MapSettings | None = None
) -> tuple[list[LayerData], list[str]]:
    """The lab's uploaded layers that can be read, and the names of those that cannot, drawn
    as on the lab's map (``mapview.upload_layers``)."""
    return upload_layers(store, lab_id, settings or map_settings(store, lab_id), muted=True)


def lab_layers(
    store: Store, lab_id: str, themes: Sequence[str] | None = None, lang: str = "en"
) -> tuple[list[LayerData], list[str]]:
    """Everything the lab's map shows besides its site and annotations, drawn as there
    (``mapview.lab_layers`` with the lab's saved settings, muted under the notes): the cached
    OSM themes (``themes``; all cached when None) and the uploaded layers; plus the names of
    layers whose files cannot be read."""
    return mapview_lab_layers(store, lab_id, themes, lang, map_settings(store, lab_id), muted=True)


def lab_indicator_set(
    store: Store, lab: LivingLab, lang: str = "en"
) -> tuple[IndicatorSet | None, list[str]]:
    """The lab's indicators (``workbench.indicators.lab_indicators``, cached there) and notes.

    A failure of the engine must not stop the export: the sheet then says so.
    """
    from workbench.indicators import lab_indicators

    try:
        return lab_indicators(store, lab), []
    except Exception as exc:  # noqa: BLE001 - the map and annotations are still worth exporting
        log.exception("indicators for %s failed", lab.id)
        return None, [t("export.note.indicators_failed", lang, reason=str(exc)[:200])]


def gather(
    store: Store,
    lab_id: str,
    *,
    lang: str = "en",
    layers: list[LayerData] | None = None,
    annotations: Sequence[Annotation] | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    with_indicators: bool = False,
    themes: Sequence[str] | None = None,
) -> MapContent:
    """Everything an export of ``lab_id`` shows, read from ``store``.

    ``layers`` and ``annotations`` replace what the store holds (the page passes what is visible;
    a snapshot passes its saved state); ``bounds`` is the map's current view (lon/lat);
    ``themes`` are the OSM themes shown (all cached ones when None).
    """
    lab = store.get_lab(lab_id)
    city = store.get_city(lab.city_id)
    network = store.get_network(lab.network_id)
    notes: list[str] = []
    if annotations is None:
        annotations = store.list_annotations(lab_id)
    discussion = store_discussion(store, lab_id, [a.id for a in annotations])
    if layers is None:
        layers, missing = lab_layers(store, lab_id, themes, lang)
        notes += [t("export.note.layer_missing", lang, name=name) for name in missing]
    content = MapContent(
        lab=lab,
        city=city,
        network=network,
        annotations=number_annotations(annotations, discussion, store.lab_translations(lab_id)),
        layers=layers,
        lang=lang,
        bounds=bounds,
        notes=notes,
        category_defs=tuple(store.list_categories()),
        vote_round=store.vote_round(lab_id),
        settings=map_settings(store, lab_id),
        indicator_source=lambda: lab_indicator_set(store, lab, lang),
    )
    if not content.annotations:
        content.notes.append(t("export.note.no_annotations", lang))
    if with_indicators:
        add_indicators(content)
    return content


def add_indicators(content: MapContent) -> MapContent:
    """Fill ``content.indicators`` with the lab's figures (from the workspace it was gathered
    in) when they are not there yet."""
    if content.indicators is None and content.indicator_source is not None:
        content.indicators, notes = content.indicator_source()
        content.notes += notes
    return content
