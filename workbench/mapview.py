"""One description of a living lab's map, drawn the same way by the living-lab map, the
presenter view, the HTML export and the PNG/PDF snapshot.

The description is made of

* the lab's saved map settings (:class:`MapSettings`: basemap, WMS overlays, layer opacities),
  kept with the lab in its ``lab_settings`` under :data:`SETTING_KEY`;
* its context layers (:class:`LayerData`: cached OSM themes and uploaded layers, in drawing order,
  each with the Leaflet style it is drawn in, its attribution and its data date);
* its notes, as the features of :func:`workbench.maps.annotation_features`.

:func:`lab_map` turns them into the folium map every page and export shows; :func:`sources`
says what a map drawn from them credits, given which tiles were really drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd

from workbench import maps, palette
from workbench.errors import ValidationError
from workbench.i18n import t
from workbench.model import Layer, LivingLab
from workbench.opendata.basemaps import BASEMAPS, validate_wms
from workbench.settings import MAX_WMS, OSM_ATTRIBUTION

if TYPE_CHECKING:
    from workbench.access import Actor
    from workbench.store import Store

log = logging.getLogger(__name__)

#: The key of the map settings in a lab's ``lab_settings``.
SETTING_KEY = "map"
DEFAULT_BASEMAP = "street"
#: OSM themes drawn first (large areas below, buildings and streets above them).
UNDERNEATH = ("landuse", "water", "green")
#: Layer id of a cached OSM theme in exports and snapshots (``osm:<theme code>``).
OSM_LAYER_PREFIX = "osm:"


# ---- the saved settings --------------------------------------------------------------------------
@dataclass(frozen=True)
class WmsOverlay:
    """A WMS layer drawn over the basemap (``url`` and ``layer`` checked by ``validate_wms``)."""

    url: str
    layer: str
    opacity: float = 1.0

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname or self.url


@dataclass(frozen=True)
class MapSettings:
    """How a lab's map looks: its basemap, its WMS overlays and an opacity per layer (theme code
    or uploaded layer id, in [0, 1]; 1 when not given)."""

    basemap: str = DEFAULT_BASEMAP
    wms: tuple[WmsOverlay, ...] = ()
    opacities: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "basemap": self.basemap,
            "wms": [{"url": w.url, "layer": w.layer, "opacity": w.opacity} for w in self.wms],
            "opacities": dict(sorted(self.opacities.items())),
        }

    def key(self) -> tuple[object, ...]:
        """A hashable value that changes whenever the settings do (for caches)."""
        return (self.basemap, self.wms, tuple(sorted(self.opacities.items())))


def _opacity(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("mapview.error.opacity") from exc
    if not 0.0 <= x <= 1.0:
        raise ValidationError("mapview.error.opacity")
    return round(x, 3)


def parse_settings(value: object, check_wms: bool = True) -> MapSettings:
    """Map settings from their JSON form, every value checked (``ValidationError`` otherwise):
    a known basemap, at most :data:`MAX_WMS` overlays each passing ``validate_wms`` (when
    ``check_wms``), opacities in [0, 1]."""
    if value is None:
        return MapSettings()
    if not isinstance(value, dict):
        raise ValidationError("mapview.error.settings")
    basemap = str(value.get("basemap") or DEFAULT_BASEMAP)
    if basemap not in BASEMAPS:
        raise ValidationError("mapview.error.basemap", value=basemap[:40])
    items = value.get("wms") or []
    if not isinstance(items, list):
        raise ValidationError("mapview.error.settings")
    if len(items) > MAX_WMS:
        raise ValidationError("mapview.error.too_many_wms", limit=MAX_WMS)
    overlays = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError("mapview.error.settings")
        url, layer = str(item.get("url") or ""), str(item.get("layer") or "")
        if check_wms:
            url, layer = validate_wms(url, layer)
        overlay = WmsOverlay(url, layer, _opacity(item.get("opacity", 1.0)))
        if overlay not in overlays:
            overlays.append(overlay)
    raw = value.get("opacities") or {}
    if not isinstance(raw, dict):
        raise ValidationError("mapview.error.settings")
    opacities = {str(k)[:80]: _opacity(v) for k, v in raw.items()}
    return MapSettings(basemap, tuple(overlays), opacities)


def map_settings(store: Store, lab_id: str) -> MapSettings:
    """The lab's saved map settings (the defaults when none were saved, or when what is stored
    cannot be read: a map must always draw)."""
    try:
        return parse_settings(store.lab_setting(lab_id, SETTING_KEY, None), check_wms=False)
    except ValidationError:
        log.warning("unreadable map settings of lab %s: defaults used", lab_id)
        return MapSettings()


def save_map_settings(
    store: Store, lab_id: str, settings: MapSettings | dict[str, Any], by: Actor | None = None
) -> MapSettings:
    """Save the lab's map settings (for owners and facilitators: ``layers.edit``). Everything is
    checked before anything is written; returns what was saved."""
    store.require_permission(by, "layers.edit", lab_id)
    value = settings.to_json() if isinstance(settings, MapSettings) else settings
    clean = parse_settings(value, check_wms=True)
    store.set_lab_setting(lab_id, SETTING_KEY, clean.to_json(), by=by)
    return clean


# ---- the layers ----------------------------------------------------------------------------------
@dataclass
class LayerData:
    """One context layer: its features in WGS84 and how every map draws it."""

    name: str
    frame: gpd.GeoDataFrame
    kind: str = "upload"  # "upload" | "osm"
    colour: str = palette.DEFAULT_LAYER_COLOUR  # its own colour (legend of the GIS files, QML)
    attribution: str = ""  # plain text
    fetched_at: datetime | None = None
    data_date: str | None = None  # the data's own date (ISO); None: unknown
    coverage: str | None = None  # WKT of the area the OSM data cover (see opendata.osm)
    layer_id: str | None = None
    style: dict[str, Any] = field(default_factory=dict)  # the Leaflet style it is drawn in
    theme: str | None = None  # the OSM theme code of an OSM layer
    radius: float = 4.0  # point radius (CSS px), as on the web map
    popup_fields: tuple[str, ...] = ()  # attribute columns shown in an upload's popup
    own_style: dict[str, Any] = field(default_factory=dict)  # as stored (upload) or the theme's

    @property
    def drawn_colour(self) -> str:
        """The colour the maps draw it in (muted or not): the legend's swatch."""
        return str(self.style.get("color") or self.colour)


def osm_layers(
    store: Store,
    lab_id: str,
    themes: Sequence[str] | None = None,
    lang: str = "en",
    settings: MapSettings | None = None,
    muted: bool = False,
) -> list[LayerData]:
    """The lab's cached OSM themes in ``store``'s workspace (all cached ones when ``themes``
    is None), each with its theme style (times its saved opacity; greyed when ``muted``), its
    data date and the OSM attribution; areas first, then the rest. Themes cached without any
    feature are left out."""
    from workbench.opendata.cache import cached_themes, load_theme, theme_meta
    from workbench.opendata.themes import THEMES

    settings = settings or MapSettings()
    codes = [c for c in cached_themes(store, lab_id) if themes is None or c in themes]
    codes.sort(key=lambda c: UNDERNEATH.index(c) if c in UNDERNEATH else len(UNDERNEATH))
    out = []
    for code in codes:
        frame = load_theme(store, lab_id, code)
        meta = theme_meta(store, lab_id, code) or {}
        if frame is None or frame.empty:  # nothing mapped: no legend entry for it
            continue
        theme = THEMES[code]
        fetched = meta.get("fetched_at")
        out.append(
            LayerData(
                name=t(theme.label_key, lang),
                frame=frame,
                kind="osm",
                colour=theme.colour,
                attribution=str(meta.get("attribution") or OSM_ATTRIBUTION),
                fetched_at=datetime.fromisoformat(fetched) if fetched else None,
                data_date=meta.get("data_date"),
                coverage=meta.get("coverage"),
                layer_id=OSM_LAYER_PREFIX + code,
                theme=code,
                radius=theme.radius,
                own_style=dict(theme.style),
                style=maps.scaled_style(theme.style, settings.opacities.get(code, 1.0), muted),
            )
        )
    return out


def upload_colours(layers: Sequence[Layer]) -> dict[str, str]:
    """A colour per uploaded layer: the one it was given, unless an earlier layer has it
    already; then the next palette colour no other layer uses (so no two look alike)."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    free = list(maps.UPLOAD_PALETTE)
    for layer in layers:
        colour = str((layer.style or {}).get("color") or "")
        if not colour or colour.lower() in taken:
            colour = next(
                (c for c in free if c.lower() not in taken),
                maps.UPLOAD_PALETTE[len(out) % len(maps.UPLOAD_PALETTE)],
            )
        taken.add(colour.lower())
        out[layer.id] = colour
    return out


def next_upload_colour(layers: Sequence[Layer]) -> str:
    """The colour offered for the next upload: one no uploaded layer has yet."""
    used = {c.lower() for c in upload_colours(layers).values()}
    return next(
        (c for c in maps.UPLOAD_PALETTE if c.lower() not in used),
        maps.UPLOAD_PALETTE[len(layers) % len(maps.UPLOAD_PALETTE)],
    )


def upload_layers(
    store: Store, lab_id: str, settings: MapSettings | None = None, muted: bool = False
) -> tuple[list[LayerData], list[str]]:
    """The lab's uploaded layers that can be read (areas drawn with a light fill and a strong
    outline, each in a colour of its own, never greyed: ``muted`` mutes only the OSM context),
    and the names of those that cannot."""
    from workbench.opendata.files import load_upload

    settings = settings or MapSettings()
    stored = store.list_layers(lab_id, kind="upload")
    colours = upload_colours(stored)
    out, missing = [], []
    for layer in stored:
        try:
            frame = load_upload(store, layer) if layer.path else None
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the map
            log.warning("layer %s unreadable: %s", layer.id, exc)
            frame = None
        if frame is None:
            missing.append(layer.name)
            continue
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        colour = colours[layer.id]
        fields = tuple(c for c in frame.columns if c != frame.geometry.name)
        out.append(
            LayerData(
                name=layer.name,
                frame=frame,
                kind=layer.kind,
                colour=colour,
                attribution=layer.attribution,
                fetched_at=layer.created_at,
                data_date=layer.created_at.date().isoformat() if layer.created_at else None,
                layer_id=layer.id,
                radius=5.0,
                popup_fields=fields[: maps.UPLOAD_POPUP_FIELDS],
                own_style=dict(layer.style or {}),
                # never muted: the city's own data keep their distinct colours under the notes
                style=maps.scaled_style(
                    maps.upload_style(colour), settings.opacities.get(layer.id, 1.0)
                ),
            )
        )
    return out, missing


def lab_layers(
    store: Store,
    lab_id: str,
    themes: Sequence[str] | None = None,
    lang: str = "en",
    settings: MapSettings | None = None,
    muted: bool = False,
) -> tuple[list[LayerData], list[str]]:
    """Everything the lab's map shows besides its site and notes, in drawing order: the cached
    OSM themes (``themes``; all cached when None), then the uploaded layers; plus the names
    of layers whose files cannot be read."""
    uploads, missing = upload_layers(store, lab_id, settings, muted)
    return osm_layers(store, lab_id, themes, lang, settings, muted) + uploads, missing


def layer_group(layer: LayerData, lang: str = "en") -> folium.FeatureGroup:
    """One context layer as a folium layer: its geometry at display precision with a short
    popup (escaped), drawn in ``layer.style``, with its attribution."""
    frame = layer.frame
    if layer.theme == "streets":
        frame = maps.display_streets(frame)
    if layer.kind == "osm":
        popups = maps.theme_popups(frame, layer.theme or "", lang)
        tolerance = maps.DISPLAY_TOLERANCE
        attribution = maps.OSM_LAYER_ATTRIBUTION  # as on the street basemap: shown once
    else:
        popups = maps.upload_popups(frame, list(layer.popup_fields), layer.name)
        tolerance = maps.upload_tolerance(frame.geometry.values)
        attribution = maps.escape_text(layer.attribution)
    collection = maps.display_geojson(
        frame.geometry.values, [{"p": p} for p in popups], tolerance=tolerance
    )
    return maps.vector_group(layer.name, collection, layer.style, layer.radius, attribution)


def context_layers(
    store: Store,
    lab_id: str,
    themes: list[str] | None = None,
    lang: str = "en",
    opacities: dict[str, float] | None = None,
    muted: bool = False,
    uploads: bool = True,
) -> list[folium.FeatureGroup]:
    """The lab's context layers in ``store``'s workspace as folium layers (:func:`osm_layers`
    drawn by :func:`layer_group`): one FeatureGroup per cached OSM theme (all cached themes
    when ``themes`` is None), areas first, and, with ``uploads``, one per readable uploaded
    layer (:func:`lab_layers` also names the unreadable ones, for pages that say so).

    Geometry is sent at display precision with only the popup HTML as property; every OSM layer
    carries the attribution "© OpenStreetMap contributors". ``opacities`` maps a theme code or
    an upload layer id to an opacity factor in [0, 1]. ``muted``: drawn in greyed colours
    with thin lines (the living-lab map and the presenter view, under the notes).
    """
    settings = MapSettings(opacities=dict(opacities or {}))
    layers = osm_layers(store, lab_id, themes, lang, settings, muted)
    if uploads:
        layers += upload_layers(store, lab_id, settings, muted)[0]
    return [layer_group(layer, lang) for layer in layers]


def context_version(store: Store, lab_id: str) -> tuple[object, ...]:
    """A key that changes whenever the layers :func:`lab_layers` gives for the lab change (its
    cached OSM themes, its uploaded layers and their styles, its map settings, its venue
    tiles): maps built from them are cached under it."""
    from workbench.opendata.cache import cache_version

    uploads = tuple(
        sorted(
            (x.id, x.name, x.path, x.feature_count, repr(sorted(x.style.items())), x.attribution)
            for x in store.list_layers(lab_id, kind="upload")
        )
    )
    return (
        cache_version(store, lab_id),
        uploads,
        map_settings(store, lab_id).key(),
        _venue_stamp(lab_id),
    )


def _venue_stamp(lab_id: str) -> float:
    """When the lab's venue tiles were stored (0: none), so maps follow ``venue prepare``."""
    from workbench.opendata.venue import archive_path

    try:
        return archive_path(lab_id).stat().st_mtime
    except (OSError, ValidationError):
        return 0.0


def context_legend_html(store: Store, lab_id: str, themes: Sequence[str], lang: str = "en") -> str:
    """Legend of the shown OSM themes: swatch, label, feature count, data date, attribution."""
    from workbench.opendata.cache import theme_meta
    from workbench.opendata.themes import THEMES

    entries = []
    dates = set()
    for code in themes:
        meta = theme_meta(store, lab_id, code)
        if meta is None:
            continue
        dates.add(str(meta.get("data_date") or "")[:10] or t("comparison.date_unknown", lang))
        entries.append(
            (
                THEMES[code].colour,
                t(
                    "opendata.legend.entry",
                    lang,
                    theme=t(THEMES[code].label_key, lang),
                    count=meta["feature_count"],
                ),
            )
        )
    if not entries:
        return ""
    when = ", ".join(sorted(dates))  # the data's own dates, not when they were fetched
    foot = maps.escape_text(
        t("opendata.legend.source", lang, when=when, attribution=OSM_ATTRIBUTION)
    )
    return (
        maps.legend_html(entries) + f'<div class="wb-legend-source" style="font-size:0.8rem">'
        f"{foot}</div>"
    )


# ---- the map -------------------------------------------------------------------------------------
def lab_map(
    lab: LivingLab,
    layers: Sequence[LayerData],
    settings: MapSettings,
    lang: str = "en",
    *,
    notes: list[dict[str, Any]] | None = None,
    live: bool = False,
    controls: bool = True,
    bounds: Sequence[float] | None = None,
    venue: tuple[str, int] | None = None,
    **map_options: Any,
) -> folium.Map:
    """The living lab's map as every view draws it: the saved basemap, the site, the context
    ``layers`` (in order), the WMS overlays and the notes layer (``live``: filled and kept up
    to date by the live channel; else the given ``notes`` features, see
    :func:`workbench.maps.annotation_features`). ``bounds``: the lon/lat box shown (default:
    the site). ``venue``: the URL template and highest zoom of the lab's stored venue tiles
    (``opendata.venue``), drawn instead of a basemap from the internet."""
    if venue is not None:
        m = folium.Map(
            location=(30.0, 10.0), zoom_start=2, tiles=None, control_scale=True, **map_options
        )
        folium.TileLayer(
            tiles=venue[0],
            attr=BASEMAPS["street"].attribution,
            name=t("mapview.venue_tiles", lang),
            max_zoom=19,
            max_native_zoom=venue[1],
            control=False,
        ).add_to(m)
    else:
        m = maps.base_map(basemap=settings.basemap, lang=lang, **map_options)
    maps.site_layer(lab, t("map.site", lang)).add_to(m)
    for layer in layers:
        layer_group(layer, lang).add_to(m)
    for overlay in settings.wms:
        maps.wms_layer(overlay.url, overlay.layer, overlay.layer, overlay.opacity).add_to(m)
    streets = next((x for x in layers if x.theme == "streets"), None)
    if streets is not None and venue is None:  # no tiles: the lab's own layers as a basemap
        m.add_child(maps.MutedBasemap(maps.street_name_points(streets.frame)))
    if live or notes:
        m.add_child(maps.NotesLayer(lab.id, t("annotate.layer_name", lang), notes, live=live))
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    else:
        maps.fit_to(m, lab.boundary)
    if controls and (layers or settings.wms):
        folium.LayerControl(collapsed=True).add_to(m)
    return m


# ---- what a map credits --------------------------------------------------------------------------
@dataclass(frozen=True)
class TileSource:
    """Tiles a map may draw: the basemap or a WMS overlay, with the URL prefix its requests
    start with (to tell which were really drawn)."""

    key: str  # "basemap" | "wms:<n>"
    prefix: str
    credit: str


def tile_sources(settings: MapSettings, lang: str = "en") -> list[TileSource]:
    basemap = BASEMAPS.get(settings.basemap, BASEMAPS[DEFAULT_BASEMAP])
    out = [
        TileSource(
            "basemap",
            basemap.url.split("{")[0],
            t(
                "mapview.credit.basemap",
                lang,
                name=t(basemap.label_key, lang),
                attribution=maps.plain_attribution(basemap.attribution),
            ),
        )
    ]
    for i, overlay in enumerate(settings.wms):
        out.append(
            TileSource(
                f"wms:{i}",
                overlay.url.split("?")[0],
                t("mapview.credit.wms", lang, layer=overlay.layer, host=overlay.host),
            )
        )
    return out


def drawn_sources(settings: MapSettings, urls: Iterable[str]) -> set[str]:
    """The keys of the tile sources that the loaded ``urls`` (requests answered) belong to."""
    urls = list(urls)
    return {s.key for s in tile_sources(settings) if any(u.startswith(s.prefix) for u in urls)}


def sources(
    layers: Sequence[LayerData],
    settings: MapSettings,
    lang: str = "en",
    drawn: Iterable[str] | None = None,
) -> list[str]:
    """Every source a map shows, each once, with its data date: the tiles really drawn
    (``drawn``: keys of :func:`tile_sources`; None: all of them, as in an interactive map that
    loads them), the OSM data of the OSM layers, each uploaded layer's own attribution."""
    lang_unknown = t("comparison.date_unknown", lang)
    drawn_keys = None if drawn is None else set(drawn)
    items = [
        s.credit for s in tile_sources(settings, lang) if drawn_keys is None or s.key in drawn_keys
    ]
    by_date: dict[str, list[str]] = {}
    for layer in layers:
        if layer.kind == "osm":
            when = (layer.data_date or "")[:10] or lang_unknown
            by_date.setdefault(when, []).append(layer.name)
    if by_date:
        items.append(f"{OSM_ATTRIBUTION} (ODbL)")
    for when, names in sorted(by_date.items()):  # the themes named only when dates differ
        items.append(
            t("export.osm_layers_of", lang, date=when)
            if len(by_date) == 1
            else t("export.osm_layers_named", lang, date=when, names=", ".join(names))
        )
    for layer in layers:
        if layer.kind != "osm":
            when = (layer.data_date or "")[:10] or lang_unknown
            items.append(
                t(
                    "mapview.credit.upload",
                    lang,
                    name=layer.name,
                    date=when,
                    attribution=layer.attribution or t("mapview.credit.own", lang),
                )
            )
    return list(dict.fromkeys(items))
