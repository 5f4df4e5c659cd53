"""OSM themes into the cache: offline from an extract file (osmium), online from Overpass (osmnx).

Both paths turn OSM objects into the same per-theme records (:func:`_add`), clip them to the site
plus a buffer and write them with :func:`workbench.opendata.cache.save_theme`. Nothing is written
until a whole import or fetch has succeeded, so a failure keeps the cached data as it was.
"""

from __future__ import annotations

import functools
import json
import math
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypeAlias, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from workbench.errors import ValidationError, WorkbenchError
from workbench.geometry import WGS84, local_crs, to_crs
from workbench.model import LivingLab, utcnow
from workbench.opendata import cache
from workbench.opendata.themes import (
    ALL_KEYS,
    LINE,
    POINT,
    POLYGON,
    THEMES,
    check_themes,
    is_walkable,
    union_tags,
)
from workbench.settings import (
    COORD_DECIMALS,
    DEFAULT_BUFFER_M,
    MAX_BUFFER_M,
    MAX_FETCH_AREA_KM2,
    OSM_ATTRIBUTION,
    USER_AGENT,
    overpass_max_bytes,
    overpass_timeout_s,
    overpass_url,
)

if TYPE_CHECKING:
    import osmium.osm
    import requests

    #: What osmium's file processor yields for an extract (changesets are not asked for).
    OsmObject: TypeAlias = osmium.osm.Node | osmium.osm.Way | osmium.osm.Relation | osmium.osm.Area

    from workbench.access import Actor
    from workbench.store import Store

#: ``progress(fraction, stage)``: fraction in [0, 1]; stage is a code whose label is the locale key
#: ``opendata.stage.<stage>`` (read, streets, download, clip, save, done).
Progress = Callable[[float, str], None]


class Record(TypedDict):
    """One feature of a theme before it becomes a row of the cached frame: the columns of
    :func:`columns_for` (those of one theme only where it has them) plus ``geometry``."""

    osm_id: str
    osm_key: str
    osm_value: str
    name: str
    geometry: BaseGeometry
    levels: NotRequired[float]  # buildings
    access: NotRequired[str]  # green, landuse
    highway: NotRequired[str]  # streets
    u: NotRequired[int]
    v: NotRequired[int]


#: Per theme code, its records.
Records = dict[str, list[Record]]
#: A complete walkable way: ``(way_id, tags, node_ids, coords)`` (lon/lat pairs).
StreetWay = tuple[int, Mapping[str, str], list[int], list[tuple[float, float]]]

EXTRACT_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".osm.xml", ".xml")


class FetchError(WorkbenchError):
    """Overpass could not deliver (slow, down, rate-limiting, refused); the cache is unchanged."""


@dataclass
class ImportReport:
    """What an import or fetch put into the cache."""

    lab_id: str
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped_ways: int = 0
    skipped_relations: int = 0
    elapsed_s: float = 0.0
    #: Multipolygon relations with missing members, per theme they would have gone into.
    skipped_by_theme: dict[str, int] = field(default_factory=dict)
    #: The data's own date (ISO 8601, UTC) and where it was read (see :class:`DataDate`).
    data_date: str | None = None
    data_date_source: str = "unknown"
    #: Share of the clip area (site plus buffer) that the data cover, and how that was found.
    covered_share: float | None = None
    coverage_source: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# ---- shared: records, clipping, columns ---------------------------------------------------------


def columns_for(theme: str) -> list[str]:
    """Columns of a cached theme (besides ``geometry``), in order."""
    cols = ["osm_id", "osm_key", "osm_value", "name"]
    if theme == "buildings":
        cols.append("levels")
    if theme in ("green", "landuse"):
        cols.append("access")
    if theme == "streets":
        cols += ["highway", "u", "v"]
    return cols


def _levels(tags: Mapping[str, str]) -> float:
    raw = (tags.get("building:levels") or "").replace(",", ".").strip()
    try:
        value = float(raw)
    except ValueError:
        return math.nan
    return value if 0 <= value < 500 else math.nan


def _record(
    theme: str, osm_id: str, key: str, value: str, tags: Mapping[str, str], geom: BaseGeometry
) -> Record:
    rec: Record = {
        "osm_id": osm_id,
        "osm_key": key,
        "osm_value": value,
        "name": tags.get("name") or "",
        "geometry": geom,
    }
    if theme == "buildings":
        rec["levels"] = _levels(tags)
    if theme in ("green", "landuse"):
        rec["access"] = tags.get("access") or ""
    return rec


def _add(
    records: Records,
    osm_id: str,
    tags: Mapping[str, str],
    kind: str,
    geom: BaseGeometry | Callable[[], BaseGeometry],
    themes: Iterable[str],
) -> None:
    """Put one OSM object into every theme of ``themes`` that it matches and whose kinds fit.

    ``kind`` is the object's geometry kind (point, line, polygon); a theme that keeps only points
    gets the representative point of a line or polygon. ``geom`` may be a callable, built lazily.
    """
    built: BaseGeometry | None = None
    for code in themes:
        theme = THEMES[code]
        if code == "streets":
            continue  # streets are split at shared nodes by _split_streets
        hit = theme.match(tags)
        if hit is None:
            continue
        if kind in theme.kinds:
            as_point = False
        elif POINT in theme.kinds and kind != POINT:
            as_point = True
        else:
            continue
        if built is None:
            built = geom() if callable(geom) else geom
            if built is None or built.is_empty:
                return
        g = built.representative_point() if as_point else built
        records[code].append(_record(code, osm_id, hit[0], hit[1], tags, g))


def _split_streets(ways: list[StreetWay]) -> list[Record]:
    """Walkable ways as segments split at every node shared by two or more ways (and at ends).

    ``ways`` holds ``(way_id, tags, node_ids, coords)`` of complete ways. A node counts as shared
    when it occurs more than once among all ways' node lists (also twice in the same way).
    """
    uses = Counter(ref for _wid, _tags, refs, _coords in ways for ref in refs)
    out: list[Record] = []
    for wid, tags, refs, coords in ways:
        start = 0
        last = len(refs) - 1
        for i in range(1, last + 1):
            if i != last and uses[refs[i]] < 2:
                continue
            part = coords[start : i + 1]
            if len(set(part)) >= 2:
                out.append(
                    {
                        "osm_id": f"way/{wid}",
                        "osm_key": "highway",
                        "osm_value": tags["highway"],
                        "name": tags.get("name") or "",
                        "highway": tags["highway"],
                        "u": refs[start],
                        "v": refs[i],
                        "geometry": shapely.LineString(part),
                    }
                )
            start = i
    return out


def clip_area(boundary: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """The site plus ``buffer_m`` metres (buffered in the local UTM CRS), back in WGS84."""
    if not (0 <= buffer_m <= MAX_BUFFER_M):
        raise ValidationError("opendata.buffer_range", value=buffer_m, limit=MAX_BUFFER_M)
    crs = local_crs(boundary)
    local = to_crs(boundary, crs)
    if buffer_m:
        local = local.buffer(buffer_m, quad_segs=8)
    local = shapely.segmentize(local, 50.0)  # keep the outline true after reprojection
    return shapely.make_valid(to_crs(local, WGS84, src=crs))


def _frame(theme: str, records: list[Record], area: BaseGeometry) -> gpd.GeoDataFrame:
    """Records of one theme as a GeoDataFrame clipped to ``area`` (streets: segments that touch
    the area are kept whole, so that ``u``/``v`` stay real OSM nodes)."""
    cols = columns_for(theme)
    if not records:
        return _empty(theme)
    gdf = gpd.GeoDataFrame(records, columns=[*cols, "geometry"], geometry="geometry", crs=WGS84)
    shapely.prepare(area)
    gdf = gdf[shapely.intersects(area, gdf.geometry.values)]
    if theme != "streets" and len(gdf):
        geoms = gdf.geometry.values
        inside = shapely.contains(area, geoms)
        cut = shapely.intersection(geoms[~inside], area)
        want = {
            POLYGON: ("Polygon", "MultiPolygon"),
            LINE: ("LineString", "MultiLineString"),
            POINT: ("Point", "MultiPoint"),
        }
        geoms = geoms.copy()
        geoms[~inside] = np.array([_keep_kinds(g, want) for g in cut], dtype=object)
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=WGS84))
        gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    gdf = gdf.reset_index(drop=True)
    return _typed(theme, gdf)


def _keep_kinds(geom: BaseGeometry, want: Mapping[str, tuple[str, ...]]) -> BaseGeometry:
    """After clipping: drop the lower-dimensional slivers a cut leaves (a polygon cut along an
    edge may give a GeometryCollection with a line in it)."""
    if not isinstance(geom, shapely.GeometryCollection):
        return geom
    parts = [g for g in geom.geoms if not g.is_empty]
    if not parts:
        return shapely.Point()
    top = max(shapely.get_dimensions(parts))
    return shapely.union_all([g for g in parts if shapely.get_dimensions(g) == top])


def _typed(theme: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for col in ("osm_id", "osm_key", "osm_value", "name", "access", "highway"):
        if col in gdf:
            gdf[col] = gdf[col].fillna("").astype(str)
    if "levels" in gdf:
        gdf["levels"] = gdf["levels"].astype(float)
    for col in ("u", "v"):
        if col in gdf:
            gdf[col] = gdf[col].astype("int64")
    return gdf


def _empty(theme: str) -> gpd.GeoDataFrame:
    cols = columns_for(theme)
    data: dict[str, pd.Series] = {}
    for col in cols:
        dtype = "int64" if col in ("u", "v") else float if col == "levels" else str
        data[col] = pd.Series([], dtype=dtype)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def _save_all(
    store: Store,
    lab: LivingLab,
    frames: dict[str, gpd.GeoDataFrame],
    source: str,
    buffer_m: float,
    by: Actor | None,
    extra: Mapping[str, Any] | None = None,
    per_theme: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, int]:
    """Write every frame to the cache with the same metadata (``extra`` added to each theme's,
    ``per_theme[code]`` to one theme's)."""
    fetched_at = utcnow().isoformat(timespec="seconds")
    counts = {}
    for code, gdf in frames.items():
        cache.save_theme(
            store,
            lab.id,
            code,
            gdf,
            {
                "fetched_at": fetched_at,
                "source": source,
                "attribution": OSM_ATTRIBUTION,
                "buffer_m": float(buffer_m),
                **(extra or {}),
                **((per_theme or {}).get(code) or {}),
            },
            by=by,
        )
        counts[code] = len(gdf)
    return counts


def _emptied(store: Store, lab: LivingLab, frames: Mapping[str, gpd.GeoDataFrame]) -> list[str]:
    """Themes that would be replaced by nothing although their cached version has features."""
    return [
        code
        for code, gdf in frames.items()
        if not len(gdf)
        and (cache.theme_meta(store, lab.id, code) or {}).get("feature_count", 0) > 0
    ]


def _tell(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), stage)


# ---- offline: extract files ---------------------------------------------------------------------


@dataclass
class _Read:
    """What :func:`_read_extract` found: per-theme records, what was skipped, and each kept
    object's timestamp (by ``osm_id``)."""

    records: Records
    skipped_ways: int
    skipped_relations: dict[str, int]
    stamps: dict[str, str]

    @property
    def skipped_relation_count(self) -> int:
        return len(self._relations)

    _relations: set[int] = field(default_factory=set)


def _stamp(obj: OsmObject) -> str | None:
    ts = obj.timestamp
    if ts is None or ts.year < 1990:  # osmium gives the epoch for objects without a timestamp
        return None
    return ts.astimezone(UTC).isoformat(timespec="seconds")


def _read_extract(path: Path, themes: list[str], progress: Progress | None) -> _Read:
    """Read an OSM file with osmium into per-theme records, counting what had to be skipped."""
    import osmium
    from osmium.filter import KeyFilter

    wkb = osmium.geom.WKBFactory()
    records: Records = {code: [] for code in themes}
    keys = tuple(dict.fromkeys(k for code in themes for k in THEMES[code].tags))
    area_themes = [c for c in themes if POLYGON in THEMES[c].kinds or POINT in THEMES[c].kinds]
    area_keys = tuple(dict.fromkeys(k for c in area_themes for k in THEMES[c].tags)) or ALL_KEYS
    # Closed ways become areas for themes keeping polygons (or points); lines elsewhere.
    line_themes = [c for c in themes if c not in area_themes]
    street_ways: list[StreetWay] = []
    skipped_ways = 0
    candidate_relations: dict[int, list[str]] = {}  # relation id → themes it would go into
    built_relations: set[int] = set()
    stamps: dict[str, str] = {}
    want_streets = "streets" in themes

    fp = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas(KeyFilter(*area_keys))
        .with_filter(KeyFilter(*keys))
    )
    seen = 0
    for obj in fp:
        seen += 1
        if seen % 20000 == 0:
            _tell(progress, 0.1 + 0.6 * (1 - 1 / (1 + seen / 100000)), "read")
        if isinstance(obj, osmium.osm.Node):
            tags = {tag.k: tag.v for tag in obj.tags}
            if (ts := _stamp(obj)) is not None:
                stamps[f"node/{obj.id}"] = ts
            _add(
                records,
                f"node/{obj.id}",
                tags,
                POINT,
                functools.partial(_point, obj.location),
                themes,
            )
        elif isinstance(obj, osmium.osm.Way):
            tags = {tag.k: tag.v for tag in obj.tags}
            street = want_streets and is_walkable(tags)
            closed = obj.is_closed()
            lined = [c for c in (line_themes if closed else themes)]
            if not street and not any(THEMES[c].match(tags) for c in lined):
                continue
            refs: list[int] = []
            coords: list[tuple[float, float]] = []
            whole = True
            for n in obj.nodes:
                loc = n.location
                if not loc.valid():
                    whole = False
                    break
                refs.append(n.ref)
                coords.append((loc.lon, loc.lat))
            if not whole or len(refs) < 2:
                skipped_ways += 1
                continue
            if (ts := _stamp(obj)) is not None:
                stamps[f"way/{obj.id}"] = ts
            if street:
                street_ways.append((obj.id, tags, refs, coords))
            _add(
                records,
                f"way/{obj.id}",
                tags,
                LINE,
                functools.partial(shapely.LineString, coords),
                lined,
            )
        elif isinstance(obj, osmium.osm.Relation):
            if obj.tags.get("type") in ("multipolygon", "boundary"):
                tags = {tag.k: tag.v for tag in obj.tags}
                hits = [c for c in area_themes if THEMES[c].match(tags)]
                if hits:
                    candidate_relations[obj.id] = hits
                    if (ts := _stamp(obj)) is not None:
                        stamps[f"relation/{obj.id}"] = ts
        elif isinstance(obj, osmium.osm.Area):
            tags = {tag.k: tag.v for tag in obj.tags}
            if not any(THEMES[c].match(tags) for c in area_themes):
                continue
            from_way = obj.from_way()
            osm_id = f"{'way' if from_way else 'relation'}/{obj.orig_id()}"
            try:
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
            except RuntimeError:  # a broken ring: not a whole area
                if not from_way:
                    continue
                skipped_ways += 1
                continue
            if not from_way:
                built_relations.add(obj.orig_id())
            if (ts := _stamp(obj)) is not None:
                stamps.setdefault(osm_id, ts)
            if isinstance(geom, shapely.MultiPolygon) and len(geom.geoms) == 1:
                geom = geom.geoms[0]
            _add(records, osm_id, tags, POLYGON, geom, area_themes)
    if want_streets:
        _tell(progress, 0.75, "streets")
        records["streets"] = _split_streets(street_ways)
    missing = set(candidate_relations) - built_relations
    by_theme = Counter(code for rid in missing for code in candidate_relations[rid])
    read = _Read(records, skipped_ways, dict(by_theme), stamps)
    read._relations = missing
    return read


def _point(loc: osmium.osm.Location) -> shapely.Point:
    return shapely.Point(loc.lon, loc.lat)


def _sorted_copy(path: Path, target: Path) -> Path:
    """Copy an OSM file with its objects sorted (nodes, ways, relations; each by id)."""
    import osmium
    from osmium.osm import mutable

    # (id, object): the mutable objects' own ids are optional in osmium's types
    nodes: list[tuple[int, mutable.Node]] = []
    ways: list[tuple[int, mutable.Way]] = []
    relations: list[tuple[int, mutable.Relation]] = []
    for obj in osmium.FileProcessor(str(path)):
        tags = {tag.k: tag.v for tag in obj.tags}
        if isinstance(obj, osmium.osm.Node):
            loc = obj.location
            if loc.valid():
                nodes.append(
                    (
                        obj.id,
                        mutable.Node(
                            id=obj.id,
                            location=(loc.lon, loc.lat),
                            tags=tags,
                            timestamp=obj.timestamp,
                            version=obj.version,
                        ),
                    )
                )
        elif isinstance(obj, osmium.osm.Way):
            ways.append(
                (
                    obj.id,
                    mutable.Way(
                        id=obj.id,
                        nodes=[n.ref for n in obj.nodes],
                        tags=tags,
                        timestamp=obj.timestamp,
                        version=obj.version,
                    ),
                )
            )
        elif isinstance(obj, osmium.osm.Relation):
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append(
                (
                    obj.id,
                    mutable.Relation(
                        id=obj.id,
                        members=members,
                        tags=tags,
                        timestamp=obj.timestamp,
                        version=obj.version,
                    ),
                )
            )
    with osmium.SimpleWriter(str(target)) as writer:
        for _id, node in sorted(nodes, key=lambda pair: pair[0]):
            writer.add_node(node)
        for _id, way in sorted(ways, key=lambda pair: pair[0]):
            writer.add_way(way)
        for _id, rel in sorted(relations, key=lambda pair: pair[0]):
            writer.add_relation(rel)
    return target


class EmptyImport(ValidationError):
    """The extract holds nothing for themes that have cached features; nothing was written.
    ``themes`` lists them; import again with ``allow_empty=True`` to replace them."""

    def __init__(self, themes: list[str], name: str) -> None:
        super().__init__("comparison.import_empty", themes=", ".join(themes), name=name)
        self.themes = themes


def import_extract(
    store: Store,
    path: str | Path,
    lab: LivingLab,
    buffer_m: float = DEFAULT_BUFFER_M,
    themes: list[str] | None = None,
    progress: Progress | None = None,
    allow_empty: bool = False,
    by: Actor | None = None,
) -> ImportReport:
    """Import an OSM extract (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) into the cache
    of ``store``'s workspace, once the store's judge lets ``by`` edit the lab's layers.

    Features are clipped to the living lab's site plus ``buffer_m`` metres and written per theme
    (every asked theme is written, empty when the extract has none of it). Ways with missing nodes
    and multipolygon relations with missing members are skipped and counted in the report (the
    relations per theme also in the theme's metadata, ``skipped_relations``).

    Each theme's metadata also records the area the data cover (``coverage``: the clip area cut
    to the extract's header box, or to the area its nodes actually cover when it has none) and
    the data's own date (``data_date``; see :func:`extract_header`). A theme's previous cached
    version is kept (:func:`workbench.opendata.cache.restore_theme`).

    Raises
    ------
    ValidationError
        The file is missing, not an OSM extract, unreadable, or does not overlap the site.
    EmptyImport
        The file holds nothing for a theme that has cached features (unless ``allow_empty``).
    PermissionDenied
        ``by`` may not edit the lab's layers now (checked before the file is read).
    """
    started = time.perf_counter()
    path = Path(path)
    codes = check_themes(themes)
    store.require_permission(by, "layers.edit", lab.id)
    name = path.name
    if not path.is_file():
        raise ValidationError("opendata.import.missing", name=name)
    if not name.lower().endswith(EXTRACT_SUFFIXES):
        raise ValidationError("opendata.import.suffix", name=name)
    area = clip_area(lab.boundary, buffer_m)
    _tell(progress, 0.05, "read")
    try:
        header = extract_header(path)
        try:
            read = _read_extract(path, codes, progress)
        except RuntimeError as exc:
            if "out of order" not in str(exc):
                raise
            # Area assembly needs objects sorted by type and id; some extracts are not.
            with tempfile.TemporaryDirectory(prefix="wb-osm-") as tmp:
                ordered = _sorted_copy(path, Path(tmp) / "sorted.osm.pbf")
                read = _read_extract(ordered, codes, progress)
        covered, coverage_source = _covered_area(path, header, area)
    except RuntimeError as exc:  # osmium: bad XML, truncated PBF, bad compression ...
        raise ValidationError(
            "opendata.import.unreadable", name=name, reason=str(exc)[:200]
        ) from exc
    _tell(progress, 0.8, "clip")
    frames = {code: _frame(code, read.records[code], area) for code in codes}
    if not any(len(f) for f in frames.values()) and any(read.records.values()):
        raise ValidationError("opendata.import.no_overlap", name=name)
    emptied = _emptied(store, lab, frames)
    if emptied and not allow_empty:
        raise EmptyImport(emptied, name)
    date = header.date
    if date.value is None:
        kept = (i for f in frames.values() for i in f["osm_id"])
        newest = max((read.stamps[i] for i in kept if i in read.stamps), default=None)
        date = DataDate(newest, "newest_object" if newest else "unknown")
    share = _share_of(covered, area)
    _tell(progress, 0.9, "save")
    extra = {
        "data_date": date.value,
        "data_date_source": date.source,
        "coverage": shapely.to_wkt(covered, rounding_precision=COORD_DECIMALS),
        "coverage_source": coverage_source,
    }
    per_theme = {code: {"skipped_relations": n} for code, n in read.skipped_relations.items()}
    counts = _save_all(store, lab, frames, f"file:{name}", buffer_m, by, extra, per_theme)
    _tell(progress, 1.0, "done")
    return ImportReport(
        lab.id,
        f"file:{name}",
        counts,
        read.skipped_ways,
        read.skipped_relation_count,
        round(time.perf_counter() - started, 3),
        skipped_by_theme=read.skipped_relations,
        data_date=date.value,
        data_date_source=date.source,
        covered_share=share,
        coverage_source=coverage_source,
    )


def _share_of(part: BaseGeometry, whole: BaseGeometry) -> float:
    """Share of ``whole``'s area (both WGS84) inside ``part``, measured in metres."""
    crs = local_crs(whole)
    w = to_crs(whole, crs)
    return float(to_crs(part, crs).intersection(w).area / w.area) if w.area else 0.0


@dataclass(frozen=True)
class DataDate:
    """The date of a data set and where it was read: ``replication`` (the header's replication
    timestamp), ``osm_base`` (an Overpass reply's ``timestamp_osm_base``, also kept in the
    ``<meta osm_base>`` of Overpass XML files), ``newest_object`` (the newest timestamp among
    the objects kept) or ``unknown``."""

    value: str | None
    source: str


@dataclass(frozen=True)
class ExtractHeader:
    """What an extract says about itself before its data are read."""

    bounds: tuple[float, float, float, float] | None
    date: DataDate


def _iso(raw: str) -> str | None:
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


_OSM_BASE = re.compile(rb"""<meta\b[^>]*\bosm_base\s*=\s*["']([^"']+)["']""")


def _xml_head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of an OSM XML file (unpacked), or b"" for PBF and unreadable files."""
    import bz2
    import gzip

    name = path.name.lower()
    if name.endswith(".pbf"):
        return b""
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(size)
    except (OSError, EOFError, ValueError):
        return b""


def extract_header(path: str | Path) -> ExtractHeader:
    """The header box and date of an extract, read without parsing its data.

    The date is the header's ``osmosis_replication_timestamp`` where present, else the
    ``<meta osm_base>`` an Overpass XML file carries; otherwise its source is ``unknown`` (and
    :func:`import_extract` takes the newest timestamp among the objects it keeps).
    """
    import osmium

    path = Path(path)
    with osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING) as reader:
        head = reader.header()
        box = head.box()
        replication = head.get("osmosis_replication_timestamp") or head.get("timestamp")
    bounds = (
        (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
        if box.valid()
        else None
    )
    if replication and (value := _iso(replication)):
        return ExtractHeader(bounds, DataDate(value, "replication"))
    match = _OSM_BASE.search(_xml_head(path))
    if match and (value := _iso(match.group(1).decode("ascii", "replace"))):
        return ExtractHeader(bounds, DataDate(value, "osm_base"))
    return ExtractHeader(bounds, DataDate(None, "unknown"))


def extract_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """The (left, bottom, right, top) box an extract declares in its header, or None."""
    try:
        return extract_header(path).bounds
    except RuntimeError:
        return None


#: The area an extract without header bounds covers: cells of this size holding nodes ...
COVER_CELL_M = 50.0
#: ... closed over gaps up to twice this (parks, squares, fields without nodes), with spurs
#: thinner than twice this removed (long ways that a bbox query keeps whole).
COVER_CLOSE_M = 75.0


def data_extent(path: str | Path) -> BaseGeometry:
    """The area (WGS84) an extract's nodes actually cover, for files without header bounds.

    The nodes fall into ``COVER_CELL_M`` cells; the occupied cells are closed over gaps and
    opened to drop thin spurs (both ``COVER_CLOSE_M``), and holes are filled: what is enclosed
    by data is covered by it.
    """
    import osmium

    lons, lats = [], []
    for obj in osmium.FileProcessor(str(path), osmium.osm.osm_entity_bits.NODE):
        if not isinstance(obj, osmium.osm.Node):  # only nodes are read
            continue
        loc = obj.location
        if loc.valid():
            lons.append(loc.lon)
            lats.append(loc.lat)
    if len(lons) < 3:
        return shapely.Polygon()
    crs = local_crs(shapely.MultiPoint(np.column_stack([lons, lats])).envelope)
    from workbench.geometry import _transformer

    x, y = _transformer(WGS84, crs).transform(np.asarray(lons), np.asarray(lats))
    cells = np.unique(
        np.column_stack(
            [np.floor(np.asarray(x) / COVER_CELL_M), np.floor(np.asarray(y) / COVER_CELL_M)]
        ),
        axis=0,
    )
    boxes = shapely.box(
        cells[:, 0] * COVER_CELL_M,
        cells[:, 1] * COVER_CELL_M,
        (cells[:, 0] + 1) * COVER_CELL_M,
        (cells[:, 1] + 1) * COVER_CELL_M,
    )
    r = COVER_CLOSE_M
    shape: BaseGeometry = (
        shapely.union_all(boxes).buffer(r, join_style="mitre").buffer(-r, join_style="mitre")
    )
    shape = shape.buffer(-r, join_style="mitre").buffer(r, join_style="mitre")
    parts = [
        shapely.Polygon(g.exterior)
        for g in shapely.get_parts(shape)
        if g.geom_type == "Polygon" and not g.is_empty
    ]
    if not parts:
        return shapely.Polygon()
    local = shapely.segmentize(shapely.union_all(parts), 50.0)
    return shapely.make_valid(to_crs(local, WGS84, src=crs))


def _covered_area(
    path: Path, header: ExtractHeader, area: BaseGeometry
) -> tuple[BaseGeometry, str]:
    """The part of ``area`` that the extract's data cover, and how it was found."""
    if header.bounds is not None:
        covered: BaseGeometry = shapely.box(*header.bounds)  # a lon/lat box: straight in WGS84
        source = "header_bounds"
    else:
        covered = data_extent(path)
        source = "data_extent"
    return shapely.make_valid(area.intersection(covered)), source


# ---- online: Overpass ---------------------------------------------------------------------------

_FETCH_LOCK = threading.Lock()  # one fetch at a time, held by the caller until it returns
_OSMNX_LOCK = threading.Lock()  # osmnx's settings are process-global: one user at a time


class EmptyFetch(FetchError):
    """Overpass answered, but with nothing for themes that have cached features; nothing was
    written. ``themes`` lists them; fetch again with ``allow_empty=True`` to replace them."""

    def __init__(self, themes: list[str]) -> None:
        super().__init__("fetch_safety.empty", themes=", ".join(themes))
        self.themes = themes


@dataclass(frozen=True)
class _Deadline:
    """The overall time limit of one fetch: every request and every read checks it."""

    timeout_s: float
    ends: float
    #: ``timestamp_osm_base`` of every reply received (the data's date, per request).
    osm_base: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, timeout_s: float) -> _Deadline:
        return cls(timeout_s, time.monotonic() + timeout_s)

    def left(self) -> float:
        """Seconds left; raises FetchError (``opendata.fetch.timeout``) when none are."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise FetchError("opendata.fetch.timeout", seconds=self.timeout_s)
        return left


def _read_body(response: requests.Response, deadline: _Deadline) -> bytes:
    """The body of a streamed reply, read piece by piece so that a server dripping one byte a
    second is cut at the deadline, and a reply over ``overpass_max_bytes()`` is refused."""
    import urllib3

    cap = overpass_max_bytes()
    declared = response.headers.get("Content-Length") or ""
    if declared.isdigit() and int(declared) > cap:
        raise FetchError("fetch_safety.too_big", mb=cap / 1e6)
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.left()
        try:
            chunk = response.raw.read1(1 << 16, decode_content=True)
        except (TimeoutError, urllib3.exceptions.TimeoutError) as exc:
            raise FetchError("opendata.fetch.timeout", seconds=deadline.timeout_s) from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise FetchError("opendata.fetch.unreachable") from exc
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise FetchError("fetch_safety.too_big", mb=cap / 1e6)
        chunks.append(chunk)


def _overpass_post(data: Mapping[str, Any], deadline: _Deadline) -> dict[str, Any]:
    """One POST to the Overpass interpreter: no retries, no sleeping, errors become FetchError;
    the whole exchange ends by ``deadline``."""
    import requests

    url = overpass_url().rstrip("/") + "/interpreter"
    left = deadline.left()
    try:
        response = requests.post(
            url,
            data=dict(data),
            timeout=(min(left, 15.0), left),
            stream=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
    except requests.Timeout as exc:
        raise FetchError("opendata.fetch.timeout", seconds=deadline.timeout_s) from exc
    except requests.RequestException as exc:
        raise FetchError("opendata.fetch.unreachable") from exc
    with response:
        if response.status_code in (429, 504):
            raise FetchError("opendata.fetch.busy", status=response.status_code)
        if not response.ok:
            raise FetchError("opendata.fetch.failed", status=response.status_code)
        body = _read_body(response, deadline)
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise FetchError("opendata.fetch.bad_response") from exc
    if not isinstance(doc, dict) or "elements" not in doc:
        raise FetchError("opendata.fetch.bad_response")
    remark = str(doc.get("remark") or "")
    if "runtime error" in remark or "timed out" in remark:
        raise FetchError("opendata.fetch.busy", status=response.status_code)
    base = (
        (doc.get("osm3s") or {}).get("timestamp_osm_base")
        if isinstance(doc.get("osm3s"), dict)
        else None
    )
    if base and (value := _iso(str(base))):
        deadline.osm_base.append(value)
    return doc


def _query_polygon(area: BaseGeometry) -> Polygon:
    """The polygon Overpass is asked for: the area itself, or its convex hull."""
    hull = area if isinstance(area, Polygon) else area.convex_hull
    assert isinstance(hull, Polygon)  # the hull of a site plus a buffer is a polygon
    return hull


def _poly_string(area: BaseGeometry) -> str:
    """Overpass ``poly:`` string (lat lon pairs) of the area's outline."""
    ring = shapely.simplify(_query_polygon(area), 1e-5).exterior.coords
    return " ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in ring[:-1])


def _download_streets(area: BaseGeometry, deadline: _Deadline) -> list[Record]:
    query = (
        f"[out:json][timeout:{max(1, int(deadline.left()))}];"
        f'(way["highway"](poly:"{_poly_string(area)}");>;);out;'
    )
    doc = _overpass_post({"data": query}, deadline)
    nodes = {e["id"]: (e["lon"], e["lat"]) for e in doc["elements"] if e.get("type") == "node"}
    ways: list[StreetWay] = []
    for e in doc["elements"]:
        if e.get("type") != "way":
            continue
        tags = e.get("tags") or {}
        if not is_walkable(tags):
            continue
        refs = e.get("nodes") or []
        if len(refs) < 2 or any(r not in nodes for r in refs):
            continue
        ways.append((e["id"], tags, refs, [nodes[r] for r in refs]))
    return _split_streets(ways)


def _download_features(area: BaseGeometry, codes: list[str], deadline: _Deadline) -> Records:
    """Features of the non-street themes via osmnx ``features_from_polygon``, whose HTTP call is
    replaced by :func:`_overpass_post` (osmnx would sleep and retry on 429/504 without end)."""
    import osmnx as ox
    from osmnx import _overpass
    from osmnx._errors import InsufficientResponseError

    records: Records = {code: [] for code in codes}
    if not codes:
        return records
    if not _OSMNX_LOCK.acquire(timeout=deadline.left()):  # a timed-out fetch still unwinding
        raise FetchError("opendata.fetch.in_progress")
    saved = (
        ox.settings.use_cache,
        ox.settings.http_user_agent,
        ox.settings.requests_timeout,
        ox.settings.overpass_rate_limit,
        ox.settings.log_console,
        _overpass._overpass_request,
    )
    ox.settings.use_cache = False
    ox.settings.http_user_agent = USER_AGENT
    ox.settings.requests_timeout = max(1, int(deadline.timeout_s))
    ox.settings.overpass_rate_limit = False
    ox.settings.log_console = False
    _overpass._overpass_request = lambda data: _overpass_post(data, deadline)
    try:
        tag_filter: dict[str, bool | str | list[str]] = dict(union_tags(codes))
        try:
            gdf = ox.features_from_polygon(_query_polygon(area), tag_filter)
        except InsufficientResponseError:
            return records
    finally:
        (
            ox.settings.use_cache,
            ox.settings.http_user_agent,
            ox.settings.requests_timeout,
            ox.settings.overpass_rate_limit,
            ox.settings.log_console,
            _overpass._overpass_request,
        ) = saved
        _OSMNX_LOCK.release()
    tag_cols = [c for c in gdf.columns if c not in ("geometry", "nodes", "ways")]
    kinds = {
        "Point": POINT,
        "MultiPoint": POINT,
        "LineString": LINE,
        "MultiLineString": LINE,
        "Polygon": POLYGON,
        "MultiPolygon": POLYGON,
    }
    for (element, osm_id), geom, row in zip(
        gdf.index, gdf.geometry, gdf[tag_cols].itertuples(index=False, name=None), strict=True
    ):
        if geom is None or geom.geom_type not in kinds:
            continue
        tags = {
            k: str(v)
            for k, v in zip(tag_cols, row, strict=True)
            if isinstance(v, str) or (v is not None and not pd.isna(v))
        }
        _add(records, f"{element}/{osm_id}", tags, kinds[geom.geom_type], geom, codes)
    return records


def fetch_themes(
    store: Store,
    lab: LivingLab,
    themes: list[str] | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
    timeout_s: float | None = None,
    progress: Progress | None = None,
    allow_empty: bool = False,
    by: Actor | None = None,
) -> ImportReport:
    """Fetch themes for the site plus ``buffer_m`` from Overpass into the cache of ``store``'s
    workspace, once the store's judge lets ``by`` edit the lab's layers (else
    :class:`PermissionDenied` before any request).

    The whole fetch (every request, to its last byte) has ``timeout_s`` seconds (default:
    :func:`~workbench.settings.overpass_timeout_s`); after that the caller gets
    :class:`FetchError` (``opendata.fetch.timeout``), the cache stays as it was and the next
    fetch may start at once. Rate limiting (429/504), server errors, unreachable servers and
    replies over the size cap raise :class:`FetchError` at once, without retrying. Areas over
    ``MAX_FETCH_AREA_KM2`` are refused with a :class:`ValidationError`.

    A reply that holds nothing for a theme with cached features raises :class:`EmptyFetch`
    and writes nothing, unless ``allow_empty`` (the person confirmed replacing with nothing).
    """
    started = time.perf_counter()
    timeout_s = overpass_timeout_s() if timeout_s is None else float(timeout_s)
    codes = check_themes(themes)
    area = clip_area(lab.boundary, buffer_m)
    from workbench.geometry import area_m2

    km2 = area_m2(area) / 1e6
    if km2 > MAX_FETCH_AREA_KM2:
        raise ValidationError("opendata.fetch.too_large", area=km2, limit=MAX_FETCH_AREA_KM2)
    store.require_permission(by, "layers.edit", lab.id)
    if not _FETCH_LOCK.acquire(timeout=1.0):
        raise FetchError("opendata.fetch.in_progress")
    try:
        return _fetch_locked(
            store,
            lab,
            codes,
            area,
            buffer_m,
            _Deadline.start(timeout_s),
            progress,
            allow_empty,
            started,
            by,
        )
    finally:
        _FETCH_LOCK.release()


def _fetch_locked(
    store: Store,
    lab: LivingLab,
    codes: list[str],
    area: BaseGeometry,
    buffer_m: float,
    deadline: _Deadline,
    progress: Progress | None,
    allow_empty: bool,
    started: float,
    by: Actor | None,
) -> ImportReport:
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            feature_codes = [c for c in codes if c != "streets"]
            records = _download_features(area, feature_codes, deadline)
            if "streets" in codes:
                records["streets"] = _download_streets(area, deadline)
            result["records"] = records
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    # The download runs in a worker thread that the caller leaves at the deadline; the worker
    # stops at its next read (it checks the same deadline) and never writes to the cache.
    worker = threading.Thread(target=work, name="workbench-overpass", daemon=True)
    _tell(progress, 0.05, "download")
    worker.start()
    while worker.is_alive() and time.monotonic() < deadline.ends:
        worker.join(min(0.25, max(deadline.ends - time.monotonic(), 0.0)))
        _tell(
            progress,
            0.05 + 0.6 * (1 - (deadline.ends - time.monotonic()) / deadline.timeout_s),
            "download",
        )
    if worker.is_alive():
        raise FetchError("opendata.fetch.timeout", seconds=deadline.timeout_s)
    if "error" in result:
        exc = result["error"]
        if isinstance(exc, WorkbenchError):
            raise exc
        raise FetchError("opendata.fetch.failed_reason", reason=str(exc)[:200]) from exc
    _tell(progress, 0.8, "clip")
    frames = {code: _frame(code, result["records"][code], area) for code in codes}
    emptied = _emptied(store, lab, frames)
    if emptied and not allow_empty:
        raise EmptyFetch(emptied)
    # The oldest reply's database state is the date of the data as a whole.
    date = (
        DataDate(min(deadline.osm_base), "osm_base")
        if deadline.osm_base
        else DataDate(None, "unknown")
    )
    queried = _query_polygon(area)
    extra = {
        "data_date": date.value,
        "data_date_source": date.source,
        "coverage": shapely.to_wkt(queried, rounding_precision=COORD_DECIMALS),
        "coverage_source": "query_area",
    }
    _tell(progress, 0.9, "save")
    counts = _save_all(store, lab, frames, "overpass", buffer_m, by, extra)
    _tell(progress, 1.0, "done")
    return ImportReport(
        lab.id,
        "overpass",
        counts,
        0,
        0,
        round(time.perf_counter() - started, 3),
        data_date=date.value,
        data_date_source=date.source,
        covered_share=1.0,
        coverage_source="query_area",
    )
