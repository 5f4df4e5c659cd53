"""OSM themes into the cache: offline from an extract file (osmium), online from Overpass (osmnx).

Both paths turn OSM objects into the same per-theme records (:func:`_add`), clip them to the site
plus a buffer and write them with :func:`workbench.opendata.cache.save_theme`. Nothing is written
until a whole import or fetch has succeeded, so a failure keeps the cached data as it was.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
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
    MAX_FETCH_AREA_KM2,
    OSM_ATTRIBUTION,
    USER_AGENT,
    overpass_max_bytes,
    overpass_timeout_s,
    overpass_url,
)

#: ``progress(fraction, stage)``: fraction in [0, 1]; stage is a code whose label is the locale key
#: ``opendata.stage.<stage>`` (read, streets, download, clip, save, done).
Progress = Callable[[float, str], None]

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


def _record(theme: str, osm_id: str, key: str, value: str, tags: Mapping[str, str],
            geom: BaseGeometry) -> dict[str, Any]:
    rec: dict[str, Any] = {"osm_id": osm_id, "osm_key": key, "osm_value": value,
                           "name": tags.get("name") or "", "geometry": geom}
    if theme == "buildings":
        rec["levels"] = _levels(tags)
    if theme in ("green", "landuse"):
        rec["access"] = tags.get("access") or ""
    return rec


def _add(records: dict[str, list], osm_id: str, tags: Mapping[str, str], kind: str,
         geom: BaseGeometry | Callable[[], BaseGeometry], themes: Iterable[str]) -> None:
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


def _split_streets(ways: list[tuple[int, dict[str, str], list[int], list[tuple[float, float]]]]
                   ) -> list[dict[str, Any]]:
    """Walkable ways as segments split at every node shared by two or more ways (and at ends).

    ``ways`` holds ``(way_id, tags, node_ids, coords)`` of complete ways. A node counts as shared
    when it occurs more than once among all ways' node lists (also twice in the same way).
    """
    uses = Counter(ref for _wid, _tags, refs, _coords in ways for ref in refs)
    out = []
    for wid, tags, refs, coords in ways:
        start = 0
        last = len(refs) - 1
        for i in range(1, last + 1):
            if i != last and uses[refs[i]] < 2:
                continue
            part = coords[start:i + 1]
            if len(set(part)) >= 2:
                out.append({"osm_id": f"way/{wid}", "osm_key": "highway",
                            "osm_value": tags["highway"], "name": tags.get("name") or "",
                            "highway": tags["highway"], "u": refs[start], "v": refs[i],
                            "geometry": shapely.LineString(part)})
            start = i
    return out


def clip_area(boundary: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """The site plus ``buffer_m`` metres (buffered in the local UTM CRS), back in WGS84."""
    if not (0 <= buffer_m <= 5000):
        raise ValidationError("opendata.buffer_range", value=buffer_m, limit=5000)
    crs = local_crs(boundary)
    local = to_crs(boundary, crs)
    if buffer_m:
        local = local.buffer(buffer_m, quad_segs=8)
    local = shapely.segmentize(local, 50.0)  # keep the outline true after reprojection
    return shapely.make_valid(to_crs(local, WGS84, src=crs))


def _frame(theme: str, records: list[dict[str, Any]], area: BaseGeometry) -> gpd.GeoDataFrame:
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
        want = {POLYGON: ("Polygon", "MultiPolygon"), LINE: ("LineString", "MultiLineString"),
                POINT: ("Point", "MultiPoint")}
        geoms = geoms.copy()
        geoms[~inside] = [_keep_kinds(g, want) for g in cut]
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=WGS84))
        gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    gdf = gdf.reset_index(drop=True)
    return _typed(theme, gdf)


def _keep_kinds(geom: BaseGeometry, want: dict[str, tuple[str, ...]]) -> BaseGeometry:
    """After clipping: drop the lower-dimensional slivers a cut leaves (a polygon cut along an
    edge may give a GeometryCollection with a line in it)."""
    if geom.geom_type != "GeometryCollection":
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


def _save_all(lab: LivingLab, frames: dict[str, gpd.GeoDataFrame], source: str,
              buffer_m: float) -> dict[str, int]:
    fetched_at = utcnow().isoformat(timespec="seconds")
    counts = {}
    for code, gdf in frames.items():
        cache.save_theme(lab.id, code, gdf, {
            "fetched_at": fetched_at, "source": source, "attribution": OSM_ATTRIBUTION,
            "buffer_m": float(buffer_m)})
        counts[code] = len(gdf)
    return counts


def _tell(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), stage)


# ---- offline: extract files ---------------------------------------------------------------------

def _read_extract(path: Path, themes: list[str], progress: Progress | None
                  ) -> tuple[dict[str, list], int, int]:
    """Read an OSM file with osmium into per-theme records; returns (records, skipped ways,
    skipped relations)."""
    import osmium
    from osmium.filter import KeyFilter

    wkb = osmium.geom.WKBFactory()
    records: dict[str, list] = {code: [] for code in themes}
    keys = tuple(dict.fromkeys(k for code in themes for k in THEMES[code].tags))
    area_themes = [c for c in themes if POLYGON in THEMES[c].kinds or POINT in THEMES[c].kinds]
    area_keys = tuple(dict.fromkeys(k for c in area_themes for k in THEMES[c].tags)) or ALL_KEYS
    # Closed ways become areas for themes keeping polygons (or points); lines elsewhere.
    line_themes = [c for c in themes if c not in area_themes]
    street_ways: list = []
    skipped_ways = 0
    candidate_relations: set[int] = set()
    built_relations: set[int] = set()
    want_streets = "streets" in themes

    fp = (osmium.FileProcessor(str(path))
          .with_locations()
          .with_areas(KeyFilter(*area_keys))
          .with_filter(KeyFilter(*keys)))
    seen = 0
    for obj in fp:
        seen += 1
        if seen % 20000 == 0:
            _tell(progress, 0.1 + 0.6 * (1 - 1 / (1 + seen / 100000)), "read")
        if obj.is_node():
            tags = {tag.k: tag.v for tag in obj.tags}
            loc = obj.location
            _add(records, f"node/{obj.id}", tags, POINT,
                 lambda loc=loc: shapely.Point(loc.lon, loc.lat), themes)
        elif obj.is_way():
            tags = {tag.k: tag.v for tag in obj.tags}
            street = want_streets and is_walkable(tags)
            closed = obj.is_closed()
            lined = [c for c in (line_themes if closed else themes)]
            if not street and not any(THEMES[c].match(tags) for c in lined):
                continue
            refs, coords = [], []
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
            if street:
                street_ways.append((obj.id, tags, refs, coords))
            _add(records, f"way/{obj.id}", tags, LINE,
                 lambda c=coords: shapely.LineString(c), lined)
        elif obj.is_relation():
            if obj.tags.get("type") in ("multipolygon", "boundary"):
                tags = {tag.k: tag.v for tag in obj.tags}
                if any(THEMES[c].match(tags) for c in area_themes):
                    candidate_relations.add(obj.id)
        elif obj.is_area():
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
            if len(geom.geoms) == 1:
                geom = geom.geoms[0]
            _add(records, osm_id, tags, POLYGON, geom, area_themes)
    if want_streets:
        _tell(progress, 0.75, "streets")
        records["streets"] = _split_streets(street_ways)
    return records, skipped_ways, len(candidate_relations - built_relations)


def _sorted_copy(path: Path, target: Path) -> Path:
    """Copy an OSM file with its objects sorted (nodes, ways, relations; each by id)."""
    import osmium
    from osmium.osm import mutable

    nodes, ways, relations = [], [], []
    for obj in osmium.FileProcessor(str(path)):
        tags = {tag.k: tag.v for tag in obj.tags}
        if obj.is_node():
            loc = obj.location
            if loc.valid():
                nodes.append(mutable.Node(id=obj.id, location=(loc.lon, loc.lat), tags=tags))
        elif obj.is_way():
            ways.append(mutable.Way(id=obj.id, nodes=[n.ref for n in obj.nodes], tags=tags))
        elif obj.is_relation():
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append(mutable.Relation(id=obj.id, members=members, tags=tags))
    with osmium.SimpleWriter(str(target)) as writer:
        for node in sorted(nodes, key=lambda o: o.id):
            writer.add_node(node)
        for way in sorted(ways, key=lambda o: o.id):
            writer.add_way(way)
        for rel in sorted(relations, key=lambda o: o.id):
            writer.add_relation(rel)
    return target


def import_extract(path: str | Path, lab: LivingLab, buffer_m: float = 500,
                   themes: list[str] | None = None, progress: Progress | None = None
                   ) -> ImportReport:
    """Import an OSM extract (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) into the cache.

    Features are clipped to the living lab's site plus ``buffer_m`` metres and written per theme
    (every asked theme is written, empty when the extract has none of it). Ways with missing nodes
    and multipolygon relations with missing members are skipped and counted in the report.

    Raises
    ------
    ValidationError
        The file is missing, not an OSM extract, unreadable, or does not overlap the site.
    """
    started = time.perf_counter()
    path = Path(path)
    codes = check_themes(themes)
    name = path.name
    if not path.is_file():
        raise ValidationError("opendata.import.missing", name=name)
    if not name.lower().endswith(EXTRACT_SUFFIXES):
        raise ValidationError("opendata.import.suffix", name=name)
    area = clip_area(lab.boundary, buffer_m)
    _tell(progress, 0.05, "read")
    try:
        try:
            records, skipped_ways, skipped_rel = _read_extract(path, codes, progress)
        except RuntimeError as exc:
            if "out of order" not in str(exc):
                raise
            # Area assembly needs objects sorted by type and id; some extracts are not.
            with tempfile.TemporaryDirectory(prefix="wb-osm-") as tmp:
                ordered = _sorted_copy(path, Path(tmp) / "sorted.osm.pbf")
                records, skipped_ways, skipped_rel = _read_extract(ordered, codes, progress)
    except RuntimeError as exc:  # osmium: bad XML, truncated PBF, bad compression ...
        raise ValidationError("opendata.import.unreadable", name=name,
                              reason=str(exc)[:200]) from exc
    _tell(progress, 0.8, "clip")
    frames = {code: _frame(code, records[code], area) for code in codes}
    if not any(len(f) for f in frames.values()) and any(records.values()):
        raise ValidationError("opendata.import.no_overlap", name=name)
    _tell(progress, 0.9, "save")
    counts = _save_all(lab, frames, f"file:{name}", buffer_m)
    _tell(progress, 1.0, "done")
    return ImportReport(lab.id, f"file:{name}", counts, skipped_ways, skipped_rel,
                        round(time.perf_counter() - started, 3))


def extract_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """The (left, bottom, right, top) box an extract declares in its header, or None."""
    import osmium

    try:
        with osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING) as reader:
            box = reader.header().box()
    except RuntimeError:
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


# ---- online: Overpass ---------------------------------------------------------------------------

_FETCH_LOCK = threading.Lock()   # one fetch at a time, held by the caller until it returns
_OSMNX_LOCK = threading.Lock()   # osmnx's settings are process-global: one user at a time


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

    @classmethod
    def start(cls, timeout_s: float) -> _Deadline:
        return cls(timeout_s, time.monotonic() + timeout_s)

    def left(self) -> float:
        """Seconds left; raises FetchError (``opendata.fetch.timeout``) when none are."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise FetchError("opendata.fetch.timeout", seconds=self.timeout_s)
        return left


def _read_body(response: Any, deadline: _Deadline) -> bytes:
    """The body of a streamed reply, read piece by piece so that a server dripping one byte a
    second is cut at the deadline, and a reply over ``overpass_max_bytes()`` is refused."""
    import urllib3

    cap = overpass_max_bytes()
    declared = response.headers.get("Content-Length") or ""
    if declared.isdigit() and int(declared) > cap:
        raise FetchError("fetch_safety.too_big", mb=cap / 1e6)
    chunks, size = [], 0
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
        response = requests.post(url, data=dict(data), timeout=(min(left, 15.0), left),
                                 stream=True, headers={"User-Agent": USER_AGENT,
                                                       "Accept": "application/json"})
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
    return doc


def _poly_string(area: BaseGeometry) -> str:
    """Overpass ``poly:`` string (lat lon pairs) of the area's outline."""
    hull = area if area.geom_type == "Polygon" else area.convex_hull
    ring = shapely.simplify(hull, 1e-5).exterior.coords
    return " ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in ring[:-1])


def _download_streets(area: BaseGeometry, deadline: _Deadline) -> list[dict[str, Any]]:
    query = (f"[out:json][timeout:{max(1, int(deadline.left()))}];"
             f'(way["highway"](poly:"{_poly_string(area)}");>;);out;')
    doc = _overpass_post({"data": query}, deadline)
    nodes = {e["id"]: (e["lon"], e["lat"]) for e in doc["elements"] if e.get("type") == "node"}
    ways = []
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


def _download_features(area: BaseGeometry, codes: list[str], deadline: _Deadline
                       ) -> dict[str, list]:
    """Features of the non-street themes via osmnx ``features_from_polygon``, whose HTTP call is
    replaced by :func:`_overpass_post` (osmnx would sleep and retry on 429/504 without end)."""
    import osmnx as ox
    from osmnx import _overpass
    from osmnx._errors import InsufficientResponseError

    records: dict[str, list] = {code: [] for code in codes}
    if not codes:
        return records
    if not _OSMNX_LOCK.acquire(timeout=deadline.left()):  # a timed-out fetch still unwinding
        raise FetchError("opendata.fetch.in_progress")
    saved = (ox.settings.use_cache, ox.settings.http_user_agent, ox.settings.requests_timeout,
             ox.settings.overpass_rate_limit, ox.settings.log_console, _overpass._overpass_request)
    ox.settings.use_cache = False
    ox.settings.http_user_agent = USER_AGENT
    ox.settings.requests_timeout = max(1, int(deadline.timeout_s))
    ox.settings.overpass_rate_limit = False
    ox.settings.log_console = False
    _overpass._overpass_request = lambda data: _overpass_post(data, deadline)
    try:
        polygon = area if area.geom_type == "Polygon" else area.convex_hull
        try:
            gdf = ox.features_from_polygon(polygon, union_tags(codes))
        except InsufficientResponseError:
            return records
    finally:
        (ox.settings.use_cache, ox.settings.http_user_agent, ox.settings.requests_timeout,
         ox.settings.overpass_rate_limit, ox.settings.log_console,
         _overpass._overpass_request) = saved
        _OSMNX_LOCK.release()
    tag_cols = [c for c in gdf.columns if c not in ("geometry", "nodes", "ways")]
    kinds = {"Point": POINT, "MultiPoint": POINT, "LineString": LINE,
             "MultiLineString": LINE, "Polygon": POLYGON, "MultiPolygon": POLYGON}
    for (element, osm_id), geom, row in zip(gdf.index, gdf.geometry, gdf[tag_cols].itertuples(
            index=False, name=None), strict=True):
        if geom is None or geom.geom_type not in kinds:
            continue
        tags = {k: str(v) for k, v in zip(tag_cols, row, strict=True)
                if isinstance(v, str) or (v is not None and not pd.isna(v))}
        _add(records, f"{element}/{osm_id}", tags, kinds[geom.geom_type], geom, codes)
    return records


def fetch_themes(lab: LivingLab, themes: list[str] | None = None, buffer_m: float = 500,
                 timeout_s: float | None = None, progress: Progress | None = None,
                 allow_empty: bool = False) -> ImportReport:
    """Fetch themes for the site plus ``buffer_m`` from Overpass into the cache.

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
    if not _FETCH_LOCK.acquire(timeout=1.0):
        raise FetchError("opendata.fetch.in_progress")
    try:
        return _fetch_locked(lab, codes, area, buffer_m, _Deadline.start(timeout_s), progress,
                             allow_empty, started)
    finally:
        _FETCH_LOCK.release()


def _fetch_locked(lab: LivingLab, codes: list[str], area: BaseGeometry, buffer_m: float,
                  deadline: _Deadline, progress: Progress | None, allow_empty: bool,
                  started: float) -> ImportReport:
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
        _tell(progress, 0.05 + 0.6 * (1 - (deadline.ends - time.monotonic())
                                      / deadline.timeout_s), "download")
    if worker.is_alive():
        raise FetchError("opendata.fetch.timeout", seconds=deadline.timeout_s)
    if "error" in result:
        exc = result["error"]
        if isinstance(exc, WorkbenchError):
            raise exc
        raise FetchError("opendata.fetch.failed_reason", reason=str(exc)[:200]) from exc
    _tell(progress, 0.8, "clip")
    frames = {code: _frame(code, result["records"][code], area) for code in codes}
    emptied = [code for code in codes if not len(frames[code])
               and (cache.theme_meta(lab.id, code) or {}).get("feature_count", 0) > 0]
    if emptied and not allow_empty:
        raise EmptyFetch(emptied)
    _tell(progress, 0.9, "save")
    counts = _save_all(lab, frames, "overpass", buffer_m)
    _tell(progress, 1.0, "done")
    return ImportReport(lab.id, "overpass", counts, 0, 0, round(time.perf_counter() - started, 3))
