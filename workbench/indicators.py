"""Neighbourhood indicators: GeoDataFrames and a walking graph in, numbers with units and notes out.

Every indicator of ``INDICATORS.md`` that OpenStreetMap supports is computed for a living lab's
site polygon in the site's local UTM CRS (:func:`workbench.geometry.local_crs`). Each result
carries its unit, the date of its input data, completeness notes (translated message keys with
parameters) and a ``comparable`` flag with the reason when the figure should not be ranked
against other sites.

The engine is vectorised: one projection per layer, one walking graph (a symmetric
``scipy.sparse`` matrix built from the streets' ``u``/``v`` node ids) and multi-source Dijkstra
runs with a virtual source node, instead of a shortest-path search per building.

Typical use::

    data = load_lab_data(store, lab)          # the workspace's OSM cache (opendata.cache)
    result = lab_indicators(store, lab)       # cached per (workspace, lab, boundary, data)
    for ind in result.indicators: print(ind.code, ind.value, ind.unit)

Nothing here imports Streamlit.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from workbench.geometry import WGS84, _transformer, local_crs, utm_crs
from workbench.i18n import t
from workbench.settings import cache_dir

if TYPE_CHECKING:
    from workbench.model import LivingLab
    from workbench.store import Store

_log = logging.getLogger(__name__)

#: Bump when a formula changes: cached results of older engines are then ignored.
ENGINE_VERSION = "2"  # 2: coverage from the data's bounds, data dates, φ by edges

#: OSM theme codes of the opendata cache.
THEMES = (
    "buildings",
    "green",
    "streets",
    "transit",
    "schools",
    "health",
    "shops",
    "community",
    "water",
    "landuse",
)
#: Themes that hold points of interest, parks and land use (searched by tag, not by theme name).
POI_THEMES = ("transit", "schools", "health", "shops", "community", "green", "landuse")

# ---- method parameters (INDICATORS.md) -------------------------------------------------------
GREEN_DISTANCE_M = 300.0
GREEN_MIN_AREA_M2 = 5_000.0
BUS_DISTANCE_M = 500.0
RAIL_DISTANCE_M = 1_000.0
FIFTEEN_MIN_WALK_M = 1_200.0
INTERSECTION_TOLERANCE_M = 12.0  # buffer radius, as osmnx's consolidate_intersections
ORIENTATION_BINS = 36
#: Destinations count as reachable from graph nodes up to this far away (entrances, snapping).
ACCESS_SNAP_M = 30.0
#: Below this site area a figure per km² says more about the boundary than about the place.
MIN_DENSITY_AREA_M2 = 10_000.0
#: Below this street length inside the site a bearing histogram is noise.
MIN_ORIENTATION_LENGTH_M = 500.0
#: Share of the site (or of the site and the distance a figure reaches beyond it) the data
#: must cover to be compared: all of it, but for the rounding of reprojected outlines.
MIN_DATA_COVERAGE = 0.995
#: A population proxy resting on fewer residential buildings than this is thin.
MIN_RESIDENTIAL_BUILDINGS = 20
#: Land use must cover this share of the site for the mix to be compared.
MIN_LANDUSE_COVERAGE = 0.5
#: Fewer buildings than this in the site, or per km² of site, reads as unmapped.
MIN_BUILDINGS = 5
MIN_BUILDINGS_PER_KM2 = 50.0
#: How far around the site the engine reads data (the longest walk plus snapping).
STUDY_BUFFER_M = FIFTEEN_MIN_WALK_M + 100.0

# ---- tag sets (the methods' definitions in INDICATORS.md) ------------------------------------
Tags = frozenset[tuple[str, str]]


def _tags(spec: dict[str, str]) -> Tags:
    return frozenset((k, v) for k, values in spec.items() for v in values.split())


OPEN_SPACE_TAGS = _tags(
    {
        "leisure": "park playground garden common",
        "landuse": "recreation_ground village_green",
        "place": "square",
        "highway": "pedestrian",
    }
)
GREEN_TAGS = _tags(
    {
        "leisure": "park garden nature_reserve",
        "landuse": "recreation_ground village_green forest",
        "natural": "wood",
    }
)
BUS_TAGS = _tags(
    {
        "highway": "bus_stop",
        "public_transport": "platform stop_position station",
        "railway": "tram_stop",
        "amenity": "bus_station",
    }
)
RAIL_TAGS = _tags({"railway": "station halt subway_entrance", "amenity": "ferry_terminal"})
PRIVATE_ACCESS = frozenset({"private", "no"})
RESIDENTIAL_BUILDINGS = frozenset(
    {
        "house",
        "residential",
        "apartments",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "farm",
        "cabin",
        "static_caravan",
    }
)
#: The 8 daily-needs categories of the 15-minute neighbourhood (Moreno et al. 2021).
CATEGORIES: dict[str, Tags] = {
    "food": _tags({"shop": "supermarket convenience bakery"}),
    "school": _tags({"amenity": "school kindergarten"}),
    "health": _tags({"amenity": "doctors clinic pharmacy"}),
    "eating": _tags({"amenity": "restaurant cafe"}),
    "culture": _tags({"amenity": "library community_centre"}),
    "park": _tags({"leisure": "park"}),
    "transit": BUS_TAGS | RAIL_TAGS,
    "bank_post": _tags({"amenity": "bank post_office"}),
}
#: Amenity densities reported per km² (parks are counted by area in the green indicators).
COUNTED_CATEGORIES = ("food", "school", "health", "eating", "culture", "bank_post", "transit")
#: OSM landuse values grouped into classes for the mix.
LANDUSE_CLASSES = {
    "residential": "residential",
    "commercial": "commercial",
    "retail": "commercial",
    "industrial": "industrial",
    "port": "industrial",
    "quarry": "industrial",
    "education": "civic",
    "religious": "civic",
    "institutional": "civic",
    "civic_admin": "civic",
    "military": "civic",
    "grass": "green",
    "recreation_ground": "green",
    "village_green": "green",
    "meadow": "green",
    "forest": "green",
    "allotments": "green",
    "cemetery": "green",
    "park": "green",
    "flowerbed": "green",
    "farmland": "agriculture",
    "farmyard": "agriculture",
    "orchard": "agriculture",
    "vineyard": "agriculture",
    "greenhouse_horticulture": "agriculture",
    "railway": "infrastructure",
    "garages": "infrastructure",
    "construction": "infrastructure",
    "brownfield": "infrastructure",
    "greenfield": "infrastructure",
}
#: Typical full width (m) per highway type, to estimate street area from centre lines.
STREET_WIDTH_M = {
    "trunk": 16.0,
    "primary": 14.0,
    "secondary": 12.0,
    "tertiary": 10.0,
    "residential": 8.0,
    "unclassified": 7.0,
    "living_street": 7.0,
    "service": 5.0,
    "pedestrian": 8.0,
    "road": 7.0,
    "footway": 2.5,
    "path": 2.0,
    "cycleway": 2.5,
    "steps": 2.5,
    "track": 3.5,
    "bridleway": 2.5,
    "corridor": 2.0,
}
DEFAULT_STREET_WIDTH_M = 6.0

#: Codes of all indicators in display order, with unit code and direction (True: higher is
#: better, False: lower is better, None: neither; used to mark best and worst).
INDICATORS: dict[str, tuple[str, bool | None]] = {
    "gsi": ("share", None),
    "open_space_share": ("share", True),
    "street_area_share": ("share", None),
    "green_300m": ("share", True),
    "green_300m_walk": ("share", True),
    "transit_access": ("share", True),
    "fifteen_min_centroid": ("categories", True),
    "fifteen_min_mean": ("categories", True),
    "intersection_density": ("per_km2", True),
    "street_density": ("km_per_km2", True),
    "orientation_order": ("ratio", None),
    "landuse_mix": ("ratio", True),
    **{f"amenity_{c}": ("per_km2", True) for c in COUNTED_CATEGORIES},
}

#: The themes each figure reads, and how far beyond the site it looks (m): the data must cover
#: the site and that distance around it for the figure to be compared.
_ACCESS_THEMES = ("streets", "buildings")
FIGURE_INPUTS: dict[str, tuple[tuple[str, ...], float]] = {
    "gsi": (("buildings",), 0.0),
    "open_space_share": (("green", "landuse", "community", "streets"), 0.0),
    "street_area_share": (("streets",), 0.0),
    "green_300m": (("green", "landuse", "buildings"), GREEN_DISTANCE_M),
    "green_300m_walk": (("green", "landuse", *_ACCESS_THEMES), GREEN_DISTANCE_M),
    "transit_access": (("transit", *_ACCESS_THEMES), RAIL_DISTANCE_M),
    "fifteen_min_centroid": ((*POI_THEMES, *_ACCESS_THEMES), FIFTEEN_MIN_WALK_M),
    "fifteen_min_mean": ((*POI_THEMES, *_ACCESS_THEMES), FIFTEEN_MIN_WALK_M),
    "intersection_density": (("streets",), 0.0),
    "street_density": (("streets",), 0.0),
    "orientation_order": (("streets",), 0.0),
    "landuse_mix": (("landuse",), 0.0),
    "amenity_food": (("shops",), 0.0),
    "amenity_school": (("schools",), 0.0),
    "amenity_health": (("health",), 0.0),
    "amenity_eating": (("shops",), 0.0),
    "amenity_culture": (("community",), 0.0),
    "amenity_bank_post": (("community",), 0.0),
    "amenity_transit": (("transit",), 0.0),
}

Progress = Callable[[float, str], None]


# ---- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Note:
    """A completeness note: a message key in the ``indicators`` topic and its parameters.

    ``blocking`` notes make the figure not comparable with other sites.
    """

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    blocking: bool = False

    def text(self, lang: str = "en") -> str:
        params = dict(self.params)
        if "theme" in params:
            params["theme"] = t(f"indicators.theme.{params['theme']}", lang)
        if "categories" in params:
            params["categories"] = ", ".join(
                t(f"indicators.category.{c}", lang) for c in str(params["categories"]).split(",")
            )
        return t(self.key, lang, **params)


@dataclass(frozen=True)
class Indicator:
    """One figure for one site."""

    code: str
    value: float | None
    unit: str
    data_date: str | None
    notes: tuple[Note, ...] = ()

    @property
    def comparable(self) -> bool:
        return self.value is not None and not any(n.blocking for n in self.notes)

    @property
    def reason(self) -> Note | None:
        """Why the figure is not comparable (the first blocking note), or None."""
        return next((n for n in self.notes if n.blocking), None)

    @property
    def higher_is_better(self) -> bool | None:
        return INDICATORS[self.code][1]

    def label(self, lang: str = "en") -> str:
        return t(f"indicators.name.{self.code}", lang)

    def unit_label(self, lang: str = "en") -> str:
        return t(f"indicators.unit.{self.unit}", lang)

    def display_value(self, lang: str = "en") -> str:
        """The value as people read it (shares in per cent), without unit."""
        from workbench.i18n import fmt_number

        if self.value is None:
            return "—"
        if self.unit == "share":
            return fmt_number(self.value * 100, lang, 1)
        digits = {"categories": 1, "ratio": 2, "km_per_km2": 1}.get(self.unit, 0)
        return fmt_number(self.value, lang, digits)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "value": self.value,
            "unit": self.unit,
            "data_date": self.data_date,
            "comparable": self.comparable,
            "notes": [asdict(n) for n in self.notes],
        }
        if lang:
            out["name"] = self.label(lang)
            out["unit_label"] = self.unit_label(lang)
            out["notes_text"] = [n.text(lang) for n in self.notes]
            out["reason"] = self.reason.text(lang) if self.reason else None
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Indicator:
        return cls(
            code=d["code"],
            value=d["value"],
            unit=d["unit"],
            data_date=d["data_date"],
            notes=tuple(Note(**n) for n in d["notes"]),
        )


@dataclass(frozen=True)
class IndicatorSet:
    """All figures of one site, with site-level notes."""

    lab_id: str
    indicators: tuple[Indicator, ...]
    notes: tuple[Note, ...]
    crs: str
    area_m2: float
    data_version: str
    computed_at: str
    #: Length-weighted share of street bearings in the site per 10° bin (0° = north), for rose
    #: diagrams; empty when the site has no streets.
    bearings: tuple[float, ...] = ()

    def get(self, code: str) -> Indicator:
        return next(i for i in self.indicators if i.code == code)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "lab_id": self.lab_id,
            "crs": self.crs,
            "area_m2": self.area_m2,
            "data_version": self.data_version,
            "computed_at": self.computed_at,
            "engine_version": ENGINE_VERSION,
            "bearings": list(self.bearings),
            "notes": [asdict(n) for n in self.notes]
            if not lang
            else [n.text(lang) for n in self.notes],
            "indicators": [i.to_dict(lang) for i in self.indicators],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndicatorSet:
        return cls(
            lab_id=d["lab_id"],
            crs=d["crs"],
            area_m2=d["area_m2"],
            data_version=d["data_version"],
            computed_at=d["computed_at"],
            notes=tuple(Note(**n) for n in d["notes"]),
            indicators=tuple(Indicator.from_dict(i) for i in d["indicators"]),
            bearings=tuple(d.get("bearings", ())),
        )


# ---- input ------------------------------------------------------------------------------------
@dataclass
class LabData:
    """What the engine needs for one site: the boundary (WGS84) and the OSM themes (EPSG:4326).

    ``themes`` maps a theme code to its GeoDataFrame; a theme absent from the mapping has not been
    fetched (or is still being fetched). ``meta`` holds each theme's ``theme_meta``.
    ``population`` is an optional layer (points or polygons) whose ``population_column`` replaces
    the residential-footprint proxy.
    """

    lab_id: str
    boundary: Polygon
    themes: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: str = "none"
    population: gpd.GeoDataFrame | None = None
    population_column: str | None = None
    pending: tuple[str, ...] = ()
    #: (theme, layer name) of the city's own source layers whose files could not be read
    unreadable_sources: tuple[tuple[str, str], ...] = ()


def load_lab_data(
    store: Store,
    lab: LivingLab,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    sources: dict[str, Any] | None = None,
) -> LabData:
    """The cached OSM themes of ``lab`` (a :class:`~workbench.model.LivingLab`), with the
    city's own layers in place of the themes they are marked as the source for (``sources``:
    :func:`workbench.opendata.sources.lab_sources`).

    Themes the cache lists but cannot load yet are reported as ``pending``.
    """
    data = LabData(
        lab_id=lab.id,
        boundary=lab.boundary,
        population=population,
        population_column=population_column,
    )
    _load_cached(store, data, lab)
    _use_sources(data, sources or {})
    return data


def _use_sources(data: LabData, sources: dict[str, Any]) -> None:
    """Put the city's own layers in place of the themes they are the source for: their
    coverage is their features' hull, their date unknown, their name said in the notes. A layer
    that could not be read leaves the OSM theme in place and is named in the site's notes."""
    for theme, src in sources.items():
        if src.frame is None:
            data.unreadable_sources += ((theme, src.name),)
            continue
        if theme == "population":
            if data.population is None and (col := population_column(src.frame)):
                data.population, data.population_column = src.frame, col
            continue
        hull = (
            shapely.convex_hull(shapely.union_all(src.frame.geometry.values))
            if len(src.frame)
            else shapely.Polygon()
        )
        data.themes[theme] = src.frame
        data.meta[theme] = {
            "data_date": None,
            "coverage": hull.wkt,
            "source_name": src.name,
            "source": f"upload:{src.layer_id}",
        }
        data.pending = tuple(th for th in data.pending if th != theme)


class _ThemeCache(Protocol):
    """What the engine reads of :mod:`workbench.opendata.cache`."""

    def load_theme(self, store: Store, lab_id: str, theme: str) -> gpd.GeoDataFrame | None: ...
    def theme_meta(self, store: Store, lab_id: str, theme: str) -> dict[str, Any] | None: ...
    def cached_themes(self, store: Store, lab_id: str) -> list[str]: ...
    def cache_version(self, store: Store, lab_id: str) -> str: ...


def _opendata_cache() -> _ThemeCache:
    """The opendata cache module, looked up when used (tests put a stand-in in its place)."""
    # import_module gives a plain ModuleType; the module (or the tests' stand-in) has these
    return cast(_ThemeCache, importlib.import_module("workbench.opendata.cache"))


def _load_cached(store: Store, data: LabData, lab: LivingLab) -> None:
    cache = _opendata_cache()
    data.version = f"{store.key}:{cache.cache_version(store, lab.id)}"  # = data_version()
    listed = set(cache.cached_themes(store, lab.id))
    pending = []
    for theme in THEMES:
        meta = cache.theme_meta(store, lab.id, theme)
        if theme not in listed and meta is None:
            continue
        gdf = cache.load_theme(store, lab.id, theme)
        if gdf is None:
            pending.append(theme)
            continue
        data.themes[theme] = gdf
        data.meta[theme] = dict(meta or {})
    data.pending = tuple(pending)


def load_theme(store: Store, lab_id: str, theme: str) -> gpd.GeoDataFrame | None:
    """One cached theme of a lab (EPSG:4326), or None when it is not there (yet)."""
    return _opendata_cache().load_theme(store, lab_id, theme)


def data_version(store: Store, lab: LivingLab) -> str:
    """A token that changes whenever the lab's cached themes change (in ``store``'s
    workspace)."""
    return f"{store.key}:{_opendata_cache().cache_version(store, lab.id)}"


POPULATION_COLUMNS = (
    "population",
    "pop",
    "einwohner",
    "inhabitants",
    "residents",
    "населення",
    "ew",
    "pop_total",
)


def population_column(gdf: gpd.GeoDataFrame) -> str | None:
    """The column of ``gdf`` that holds population counts (by common names), or None."""
    by_lower = {str(c).lower(): c for c in gdf.columns if c != gdf.geometry.name}
    for name in POPULATION_COLUMNS:
        col = by_lower.get(name)
        if col is not None and pd.api.types.is_numeric_dtype(gdf[col]):
            return str(col)
    return None


# ---- the engine -------------------------------------------------------------------------------
class _Graph:
    """The walking network as a symmetric sparse matrix. Places are snapped onto the nearest
    street *segment* of the main connected component (not only onto nodes), so long edges
    between OSM nodes do not add half their length to a walk."""

    def __init__(self, streets: gpd.GeoDataFrame) -> None:
        geoms = np.asarray(streets.geometry.values, dtype=object)
        u = streets["u"].to_numpy(np.int64)
        v = streets["v"].to_numpy(np.int64)
        ids, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
        n = len(ids)
        iu, iv = inverse[: len(u)], inverse[len(u) :]
        xy = np.zeros((n, 2))
        xy[iu] = shapely.get_coordinates(shapely.get_point(geoms, 0))
        xy[iv] = shapely.get_coordinates(shapely.get_point(geoms, -1))
        length = np.maximum(shapely.length(geoms), 1e-6)
        keep = iu != iv
        a, b = np.minimum(iu, iv)[keep], np.maximum(iu, iv)[keep]
        frame = pd.DataFrame({"a": a, "b": b, "w": length[keep]})
        frame = frame.groupby(["a", "b"], sort=False)["w"].min().reset_index()
        a, b, w = frame["a"].to_numpy(), frame["b"].to_numpy(), frame["w"].to_numpy()
        self.n = n
        self.matrix = sparse.coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
        ).tocsr()
        self.degree = np.bincount(np.concatenate([a, b]), minlength=n)
        self.xy = xy
        self.points = _points(xy)
        _, labels = csgraph.connected_components(self.matrix, directed=False)
        main = np.bincount(labels).argmax() if n else 0
        self.main = np.flatnonzero(labels == main)
        self.node_tree = shapely.STRtree(self.points[self.main])
        on_main = keep & (labels[iu] == main)
        self.edges, self.eu, self.ev = geoms[on_main], iu[on_main], iv[on_main]
        self.elen = length[on_main]
        self.edge_tree = shapely.STRtree(self.edges)

    def snap(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each geometry: its nearest main-component edge, the distance along that edge
        from its ``u`` end to the closest point, and the gap between geometry and edge."""
        geoms = np.asarray(geoms, dtype=object)
        idx, gap_found = self.edge_tree.query_nearest(
            geoms, return_distance=True, all_matches=False
        )
        edge = np.zeros(len(geoms), dtype=np.int64)
        gap = np.full(len(geoms), np.inf)
        edge[idx[0]] = idx[1]
        gap[idx[0]] = gap_found
        lines = self.edges[edge]
        closest = shapely.get_point(shapely.shortest_line(lines, geoms), 0)
        along = shapely.line_locate_point(lines, closest)
        return edge, along, gap

    def walk(
        self, dist: np.ndarray, snapped: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """Walking distance from the sources of ``dist`` (see :meth:`distances`) to each place
        snapped by :meth:`snap`, entering the network at its nearest edge."""
        edge, along, gap = snapped
        via_u = dist[self.eu[edge]] + along
        via_v = dist[self.ev[edge]] + self.elen[edge] - along
        walked: np.ndarray = np.minimum(via_u, via_v) + gap
        return walked

    def access(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network nodes from which destinations ``geoms`` are reached, with the remaining
        distance: both ends of each geometry's nearest edge, and every main-component node
        within ``ACCESS_SNAP_M`` (entrances of large parks)."""
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        edge, along, gap = self.snap(geoms)
        near_g, near_n = self.node_tree.query(geoms, predicate="dwithin", distance=ACCESS_SNAP_M)
        near_nodes = self.main[near_n]
        nodes = np.concatenate([self.eu[edge], self.ev[edge], near_nodes])
        offsets = np.concatenate(
            [
                along + gap,
                self.elen[edge] - along + gap,
                shapely.distance(self.points[near_nodes], geoms[near_g]),
            ]
        )
        frame = pd.DataFrame({"n": nodes, "d": offsets})
        frame = frame[np.isfinite(frame["d"])].groupby("n")["d"].min()
        return frame.index.to_numpy(np.int64), frame.to_numpy()

    def distances(self, nodes: np.ndarray, offsets: np.ndarray, limit: float) -> np.ndarray:
        """Walking distance from the nearest of several sources to every node (inf beyond
        ``limit``): one Dijkstra run from a virtual node joined to each source by its offset."""
        if len(nodes) == 0:
            return np.full(self.n, np.inf)
        n = self.n
        extra = sparse.coo_matrix(
            (np.maximum(offsets, 1e-9), (np.full(len(nodes), n), nodes)), shape=(n + 1, n + 1)
        )
        m = sparse.bmat([[self.matrix, None], [None, sparse.csr_matrix((1, 1))]]).tocsr()
        m = (m + extra).tocsr()
        dist: np.ndarray = csgraph.dijkstra(m, directed=True, indices=n, limit=limit)
        return dist[:n]


class _Site:
    """A site and its data, projected once into the site's local UTM CRS."""

    def __init__(self, data: LabData) -> None:
        self.data = data
        boundary = data.boundary
        self.crs: CRS = local_crs(boundary)
        self.site: Polygon = shapely.transform(
            boundary,
            lambda xy: np.column_stack(_transformer(WGS84, self.crs).transform(xy[:, 0], xy[:, 1])),
        )
        self.area = self.site.area
        self.area_km2 = self.area / 1e6
        self.study = self.site.buffer(STUDY_BUFFER_M)
        study_wgs = self.study.envelope
        to_wgs = _transformer(self.crs, WGS84)
        study_wgs = shapely.transform(
            study_wgs, lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1]))
        )
        self.frames: dict[str, gpd.GeoDataFrame] = {}
        self.tags: dict[str, np.ndarray] = {}  # "key=value" of each row, per theme
        for theme, gdf in data.themes.items():
            frame = _project(gdf, study_wgs, self.crs)
            self.frames[theme] = frame
            self.tags[theme] = _tag_strings(frame)
        self._graph: _Graph | None = None
        self._graph_built = False
        self._coverage: dict[tuple[str, ...], Polygon | None] = {}
        self._edges: tuple[np.ndarray, np.ndarray] | None = None

    def frame(self, theme: str) -> gpd.GeoDataFrame | None:
        return self.frames.get(theme)

    def need(self, theme: str) -> gpd.GeoDataFrame:
        """The frame of a theme that :func:`_missing` found there."""
        return self.frames[theme]

    def date(self, *themes: str) -> str | None:
        """The oldest data date of the themes used (ISO date: the data's own date, not the
        import's; see ``workbench.opendata.osm.DataDate``), or None when it is unknown."""
        dates = [
            str(self.data.meta.get(th, {}).get("data_date") or "")[:10]
            for th in themes
            if th in self.frames
        ]
        dates = [d for d in dates if d]
        return min(dates) if dates else None

    def coverage(self, themes: Iterable[str]) -> Polygon | None:
        """The area (local CRS) that the data of ``themes`` cover: the intersection of each
        theme's recorded ``coverage``; a theme cached without one (older caches) counts with
        the convex hull of its features. None when no theme is there."""
        key = tuple(sorted(th for th in themes if th in self.frames))
        if key not in self._coverage:
            tr = _transformer(WGS84, self.crs)
            area = None
            for th in key:
                wkt = self.data.meta.get(th, {}).get("coverage")
                if wkt:
                    part = shapely.transform(
                        shapely.from_wkt(wkt),
                        lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
                    )
                else:
                    xy = shapely.get_coordinates(self.frames[th].geometry.values)
                    part = (
                        shapely.convex_hull(shapely.multipoints(xy))
                        if len(xy)
                        else shapely.Polygon()
                    )
                area = part if area is None else area.intersection(part)
            self._coverage[key] = area
        return self._coverage[key]

    @property
    def graph(self) -> _Graph | None:
        if not self._graph_built:
            self._graph_built = True
            streets = self.frames.get("streets")
            if streets is not None and len(streets) and {"u", "v"} <= set(streets.columns):
                lines = streets[shapely.get_type_id(streets.geometry.values) == 1]
                if len(lines):
                    self._graph = _Graph(lines)
        return self._graph

    def edge_bearings(self) -> tuple[np.ndarray, np.ndarray]:
        """Bearings (degrees from true north) and lengths (m) of the street network's edges
        that lie wholly in the site (see :func:`street_edges`); computed once."""
        if self._edges is None:
            streets = self.frames.get("streets")
            self._edges = (
                (np.empty(0), np.empty(0))
                if streets is None or not len(streets)
                else street_edges(streets, self.site, self.crs)
            )
        return self._edges

    def pois(self, tags: Tags) -> np.ndarray:
        """Geometries (UTM) of every feature in the POI themes whose main tag is in ``tags``."""
        parts = []
        wanted = _tag_set(tags)
        for theme in POI_THEMES:
            gdf = self.frames.get(theme)
            if gdf is None or not len(gdf):
                continue
            mask = np.isin(self.tags[theme], wanted)
            if mask.any():
                parts.append(gdf.geometry.values[mask])
        if not parts:
            return np.empty(0, dtype=object)
        geoms = np.concatenate([np.asarray(p, dtype=object) for p in parts])
        return _dedupe(geoms)


def _dedupe(geoms: np.ndarray) -> np.ndarray:
    """The same OSM object may sit in two themes: keep one per geometry."""
    if len(geoms) < 2:
        return geoms
    wkb = shapely.to_wkb(geoms)
    _, first = np.unique(wkb, return_index=True)
    return geoms[np.sort(first)]


def _project(gdf: gpd.GeoDataFrame, window_wgs: BaseGeometry, crs: CRS) -> gpd.GeoDataFrame:
    """Rows of ``gdf`` whose bounding box meets ``window_wgs``, projected to ``crs``."""
    if not len(gdf):
        return gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=[], crs=crs)
    geoms = gdf.geometry.values
    if gdf.crs is not None and not _is_wgs84(gdf.crs):
        gdf = gdf.to_crs(WGS84)
        geoms = gdf.geometry.values
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    x0, y0, x1, y1 = window_wgs.bounds
    mask = ~((b[:, 2] < x0) | (b[:, 0] > x1) | (b[:, 3] < y0) | (b[:, 1] > y1))
    mask &= ~shapely.is_missing(np.asarray(geoms, dtype=object))
    sub = gdf[mask]
    tr = _transformer(WGS84, crs)
    projected = shapely.transform(
        np.asarray(sub.geometry.values, dtype=object),
        lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
    )
    out = gpd.GeoDataFrame(sub.drop(columns=sub.geometry.name), geometry=projected, crs=crs)
    out = out[~shapely.is_empty(out.geometry.values)]
    return out


def _is_wgs84(crs: Any) -> bool:
    return CRS.from_user_input(crs).equals(WGS84, ignore_axis_order=True)


@overload
def _polygons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame: ...
@overload
def _polygons(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None: ...
def _polygons(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    return gdf[np.isin(shapely.get_type_id(gdf.geometry.values), (3, 6))]


def _tag_strings(gdf: gpd.GeoDataFrame) -> np.ndarray:
    if not len(gdf) or "osm_key" not in gdf.columns:
        return np.empty(len(gdf), dtype=object)
    return (gdf["osm_key"].astype(str) + "=" + gdf["osm_value"].astype(str)).to_numpy(object)


def _tag_set(tags: Tags) -> list[str]:
    return [f"{k}={v}" for k, v in tags]


def _tag_mask(gdf: gpd.GeoDataFrame, tags: Tags) -> np.ndarray:
    return np.isin(_tag_strings(gdf), _tag_set(tags))


def _public(gdf: gpd.GeoDataFrame) -> np.ndarray:
    if "access" not in gdf.columns:
        return np.ones(len(gdf), bool)
    return ~gdf["access"].astype(str).str.lower().isin(PRIVATE_ACCESS).to_numpy()


def _covered_area(geoms: Iterable[BaseGeometry], site: Polygon) -> float:
    """Area of the union of ``geoms`` inside ``site`` (overlaps counted once)."""
    geoms = np.asarray(list(geoms), dtype=object)
    if not len(geoms):
        return 0.0
    tree_hits = shapely.intersects(geoms, site)
    clipped = shapely.intersection(geoms[tree_hits], site)
    if not len(clipped):
        return 0.0
    return float(shapely.union_all(shapely.make_valid(clipped)).area)


def _epsg(crs: CRS) -> int:
    """The EPSG code of a UTM CRS made by :func:`~workbench.geometry.utm_crs`."""
    code = crs.to_epsg()
    assert code is not None  # utm_crs makes every UTM CRS from its EPSG code
    return code


# ---- the computation --------------------------------------------------------------------------
def compute_indicators(data: LabData, progress: Progress | None = None) -> IndicatorSet:
    """All indicators for one site. ``progress(fraction, message_key)`` reports the steps."""
    report = progress or (lambda _f, _k: None)
    report(0.0, "indicators.progress.prepare")
    site = _Site(data)
    notes: list[Note] = []
    zones = {_epsg(utm_crs(x, y)) for x, y in np.asarray(data.boundary.exterior.coords)}
    if len(zones) > 1:
        notes.append(
            Note(
                "indicators.note.utm_border",
                {
                    "zones": ", ".join(str(z % 100) for z in sorted(zones)),
                    "zone": _epsg(site.crs) % 100,
                },
            )
        )
    for theme in data.pending:
        notes.append(Note("indicators.note.theme_pending", {"theme": theme}, blocking=True))
    for theme, name in data.unreadable_sources:
        notes.append(Note("indicators.note.source_unreadable", {"theme": theme, "name": name}))
    if not data.themes and not data.pending:
        notes.append(Note("indicators.note.no_data", blocking=True))
    coverage = _data_coverage(site)
    if coverage is not None and coverage < MIN_DATA_COVERAGE:  # each figure says it as well
        notes.append(Note("indicators.note.data_coverage", {"share": coverage * 100}))
    if site.area < MIN_DENSITY_AREA_M2:
        notes.append(
            Note("indicators.note.small_site", {"area": site.area, "limit": MIN_DENSITY_AREA_M2})
        )
    steps: list[tuple[str, Callable[[_Site], list[Indicator]]]] = [
        ("indicators.progress.buildings", _coverage_indicators),
        ("indicators.progress.network", _network_indicators),
        ("indicators.progress.access", _access_indicators),
        ("indicators.progress.landuse", _landuse_indicators),
    ]
    results: list[Indicator] = []
    for i, (key, step) in enumerate(steps):
        report((i + 0.5) / (len(steps) + 1), key)
        results.extend(step(site))
    results = [_with_input_notes(site, r) for r in results]
    site_blocking = tuple(n for n in notes if n.blocking)
    if data.themes and not any(len(f) for f in site.frames.values()):
        # Layers fetched, but nothing mapped anywhere near the site: no figure, not a zero.
        empty = Note("indicators.note.no_data", blocking=True)
        notes.append(empty)
        results = [Indicator(r.code, None, r.unit, r.data_date, (empty,)) for r in results]
    elif site_blocking:
        results = [
            Indicator(r.code, r.value, r.unit, r.data_date, r.notes + site_blocking)
            for r in results
        ]
    hist: tuple[float, ...] = ()
    b, w = site.edge_bearings()
    if w.sum() > 0:
        hist = tuple(float(x) for x in bearing_histogram(b, w))
    order = {code: i for i, code in enumerate(INDICATORS)}
    results.sort(key=lambda r: order[r.code])
    report(1.0, "indicators.progress.done")
    return IndicatorSet(
        lab_id=data.lab_id,
        indicators=tuple(results),
        notes=tuple(notes),
        crs=f"EPSG:{site.crs.to_epsg()}",
        area_m2=float(site.area),
        data_version=data.version,
        computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        bearings=hist,
    )


def _result(code: str, value: float | None, date: str | None, notes: list[Note]) -> Indicator:
    if value is not None and not math.isfinite(value):
        value = None
    return Indicator(
        code, None if value is None else float(value), INDICATORS[code][0], date, tuple(notes)
    )


def _missing(site: _Site, codes: Iterable[str], themes: Iterable[str]) -> list[Indicator] | None:
    """None when all ``themes`` are there; else a no-value result per code, saying which are
    missing."""
    missing = [th for th in themes if th not in site.frames]
    if not missing:
        return None
    notes = [
        Note(
            "indicators.note.theme_pending"
            if th in site.data.pending
            else "indicators.note.theme_missing",
            {"theme": th},
            blocking=True,
        )
        for th in missing
    ]
    return [_result(code, None, None, notes) for code in codes]


def _data_coverage(site: _Site) -> float | None:
    """Share of the site that the data of every theme cover (see :meth:`_Site.coverage`)."""
    return _covered_share(site, site.frames, 0.0)


def _covered_share(site: _Site, themes: Iterable[str], reach_m: float) -> float | None:
    """Share of the site and ``reach_m`` around it that the data of ``themes`` cover."""
    cov = site.coverage(themes)
    if cov is None:
        return None
    region = site.site.buffer(reach_m) if reach_m > 0 else site.site
    return float(cov.intersection(region).area / region.area) if region.area else 0.0


def data_reach_m(site: _Site, themes: Iterable[str]) -> float | None:
    """How far (m) the data of ``themes`` reach beyond the site all round: 0 when the site is
    not wholly covered, None when nothing is known."""
    cov = site.coverage(themes)
    if cov is None:
        return None
    if cov.is_empty or cov.intersection(site.site).area < site.area * MIN_DATA_COVERAGE:
        return 0.0
    return float(shapely.distance(site.site.exterior, cov.boundary))


def _with_input_notes(site: _Site, r: Indicator) -> Indicator:
    """``r`` with what its inputs say: not comparable when the data do not cover the site (and
    the distance the figure looks beyond it), and the relations skipped at import."""
    themes, reach = FIGURE_INPUTS[r.code]
    used = [th for th in themes if th in site.frames]
    extra: list[Note] = []
    share = _covered_share(site, used, reach) if used else None
    if share is not None and share < MIN_DATA_COVERAGE:
        extra.append(
            Note("indicators.note.data_coverage", {"share": share * 100}, blocking=True)
            if reach == 0
            else Note(
                "comparison.note.reach_coverage",
                {"share": share * 100, "reach": reach},
                blocking=True,
            )
        )
    for th in used:
        if name := site.data.meta.get(th, {}).get("source_name"):
            extra.append(Note("comparison.note.own_source", {"theme": th, "name": name}))
        skipped = int(site.data.meta.get(th, {}).get("skipped_relations") or 0)
        if skipped:
            extra.append(Note("comparison.note.skipped_relations", {"count": skipped, "theme": th}))
    after: list[Note] = []
    proxy = next((n for n in r.notes if n.key == "indicators.note.weight_footprint"), None)
    if proxy is not None and proxy.params["count"] < MIN_RESIDENTIAL_BUILDINGS:
        after.append(
            Note(
                "comparison.note.thin_proxy",
                {"count": proxy.params["count"], "limit": MIN_RESIDENTIAL_BUILDINGS},
                blocking=True,
            )
        )
    if not extra and not after:
        return r
    # The coverage comes first: it is the reason shown when the figure is not comparable.
    return Indicator(r.code, r.value, r.unit, r.data_date, (*extra, *r.notes, *after))


def _buildings_note(site: _Site, count: int) -> Note | None:
    if count == 0:
        return Note("indicators.note.no_buildings", blocking=True)
    if count < MIN_BUILDINGS or count / site.area_km2 < MIN_BUILDINGS_PER_KM2:
        return Note("indicators.note.few_buildings", {"count": count}, blocking=True)
    return None


def _coverage_indicators(site: _Site) -> list[Indicator]:
    out: list[Indicator] = []
    # Building coverage (GSI).
    missing = _missing(site, ["gsi"], ["buildings"])
    if missing:
        out += missing
    else:
        b = _polygons(site.need("buildings"))
        in_site = b[shapely.intersects(b.geometry.values, site.site)]
        notes = [Note("indicators.note.building_count", {"count": len(in_site)})]
        thin = _buildings_note(site, len(in_site))
        value = (
            None
            if len(in_site) == 0
            else _covered_area(in_site.geometry.values, site.site) / site.area
        )
        if thin:
            notes.append(thin)
        out.append(_result("gsi", value, site.date("buildings"), notes))
    # Open public space and street area.
    missing = _missing(site, ["open_space_share"], ["green", "landuse"])
    if missing:
        out += missing
    else:
        geoms = []
        for theme in ("green", "landuse", "community", "streets"):
            gdf = _polygons(site.frame(theme))
            if gdf is not None and len(gdf):
                geoms.append(gdf.geometry.values[_tag_mask(gdf, OPEN_SPACE_TAGS) & _public(gdf)])
        geoms_all = np.concatenate(geoms) if geoms else np.empty(0, dtype=object)
        value = _covered_area(geoms_all, site.site) / site.area
        notes = [
            Note(
                "indicators.note.open_space_count",
                {"count": int(shapely.intersects(geoms_all, site.site).sum())},
            )
        ]
        out.append(_result("open_space_share", value, site.date("green", "landuse"), notes))
    missing = _missing(site, ["street_area_share"], ["streets"])
    if missing:
        out += missing
    else:
        streets = site.need("streets")
        lines = streets[shapely.intersects(streets.geometry.values, site.site)]
        if not len(lines):
            out.append(
                _result(
                    "street_area_share",
                    None,
                    site.date("streets"),
                    [Note("indicators.note.no_streets", blocking=True)],
                )
            )
        else:
            hw = (
                lines["highway"].astype(str)
                if "highway" in lines.columns
                else pd.Series("", index=lines.index)
            )
            width = hw.map(STREET_WIDTH_M).fillna(DEFAULT_STREET_WIDTH_M).to_numpy()
            areas = shapely.buffer(lines.geometry.values, width / 2, cap_style="flat")
            value = _covered_area(areas, site.site) / site.area
            out.append(
                _result(
                    "street_area_share",
                    value,
                    site.date("streets"),
                    [Note("indicators.note.street_width_estimate")],
                )
            )
    return out


def _network_indicators(site: _Site) -> list[Indicator]:
    codes = ["intersection_density", "street_density", "orientation_order"]
    missing = _missing(site, codes, ["streets"])
    if missing:
        return missing
    date = site.date("streets")
    streets = site.need("streets")
    lines = streets[shapely.get_type_id(streets.geometry.values) == 1]
    inside = shapely.intersection(lines.geometry.values, site.site)
    total = float(shapely.length(inside).sum())
    small = site.area < MIN_DENSITY_AREA_M2
    small_note = Note(
        "indicators.note.too_small_for_density",
        {"area": site.area, "limit": MIN_DENSITY_AREA_M2},
        blocking=True,
    )
    no_streets = Note("indicators.note.no_streets", blocking=True)
    out = []
    # Street density, km per km².
    if total == 0:
        out.append(_result("street_density", None, date, [no_streets]))
    elif small:
        out.append(_result("street_density", None, date, [small_note]))
    else:
        cycle = (
            lines["highway"].astype(str).to_numpy() == "cycleway"
            if "highway" in lines.columns
            else np.zeros(len(lines), bool)
        )
        cycle_km = float(shapely.length(inside[cycle]).sum()) / 1000
        out.append(
            _result(
                "street_density",
                (total / 1000) / site.area_km2,
                date,
                [
                    Note("indicators.note.street_length", {"km": total / 1000}),
                    Note("comparison.note.street_network", {"cycle_km": cycle_km}),
                ],
            )
        )
    # Consolidated intersections per km².
    g = site.graph
    if g is None or total == 0:
        out.append(_result("intersection_density", None, date, [no_streets]))
    elif small:
        out.append(_result("intersection_density", None, date, [small_note]))
    else:
        count = consolidated_intersections(g.xy[g.degree >= 3], site.site)
        out.append(
            _result(
                "intersection_density",
                count / site.area_km2,
                date,
                [Note("indicators.note.intersections", {"count": count})],
            )
        )
    # Orientation order φ (Boeing 2019): edges between intersections, endpoint to endpoint.
    bearings, weights = site.edge_bearings()
    network = Note("comparison.note.orientation_network", {"count": len(weights)})
    if weights.sum() < MIN_ORIENTATION_LENGTH_M:
        out.append(
            _result(
                "orientation_order",
                None,
                date,
                [
                    Note(
                        "indicators.note.short_network",
                        {"m": float(weights.sum()), "limit": MIN_ORIENTATION_LENGTH_M},
                        blocking=True,
                    ),
                    network,
                ],
            )
        )
    else:
        out.append(
            _result("orientation_order", orientation_order(bearings, weights), date, [network])
        )
    return out


def _points(xy: np.ndarray) -> NDArray[np.object_]:
    """One point per row of an (n, 2) coordinate array (shapely's types allow one Point)."""
    return np.asarray(shapely.points(xy), dtype=object)


def consolidated_intersections(
    xy: np.ndarray, site: BaseGeometry, tolerance: float = INTERSECTION_TOLERANCE_M
) -> int:
    """Number of clusters of intersection nodes (``xy``, metric) whose centroid lies in
    ``site``: nodes closer than ``2 × tolerance`` merge, as buffers of ``tolerance`` would."""
    if len(xy) == 0:
        return 0
    pts = _points(xy)
    tree = shapely.STRtree(pts)
    a, b = tree.query(pts, predicate="dwithin", distance=2 * tolerance)
    pairs = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(xy), len(xy)))
    n, labels = csgraph.connected_components(pairs, directed=False)
    cx = np.bincount(labels, weights=xy[:, 0], minlength=n) / np.bincount(labels, minlength=n)
    cy = np.bincount(labels, weights=xy[:, 1], minlength=n) / np.bincount(labels, minlength=n)
    return int(shapely.contains_xy(site, cx, cy).sum())


def street_edges(
    streets: gpd.GeoDataFrame, site: BaseGeometry, crs: CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Bearings and lengths of the edges of the street network that lie in ``site``, as Boeing
    (2019) and osmnx take them: the network simplified to edges between true endpoints (nodes
    that do not have exactly two neighbours and two incident segments, as osmnx's
    ``simplify_graph`` decides), each edge's bearing from its first to its last node
    (great-circle, from true north), its length the sum of its segments. An edge counts when
    both its ends lie in the site (osmnx's ``truncate_graph_polygon``); self-loops have no
    bearing and are left out.

    ``streets`` are segments in ``crs`` with ``u``/``v`` OSM node ids (the opendata cache's
    streets theme, projected); ``site`` is in ``crs``.

    Returns
    -------
    bearings, lengths
        Degrees in [0, 360) and metres, one per edge (each edge once; the histogram counts
        both directions).
    """
    lines = streets[shapely.get_type_id(streets.geometry.values) == 1]
    if not len(lines) or not {"u", "v"} <= set(lines.columns):
        return np.empty(0), np.empty(0)
    geoms = np.asarray(lines.geometry.values, dtype=object)
    u, v = lines["u"].to_numpy(np.int64), lines["v"].to_numpy(np.int64)
    length = shapely.length(geoms)
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    xy: dict[int, np.ndarray] = {}
    incident: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
        xy.setdefault(a, start[i])
        xy.setdefault(b, end[i])
        incident.setdefault(a, []).append(i)
        incident.setdefault(b, []).append(i)

    def other(i: int, node: int) -> int:
        return int(v[i]) if int(u[i]) == node else int(u[i])

    def is_end(node: int) -> bool:
        segs = incident[node]
        neighbours = {other(i, node) for i in segs}
        return node in neighbours or len(neighbours) != 2 or len(segs) != 2

    ends = {n for n in incident if is_end(n)}
    used = np.zeros(len(u), bool)
    edges: list[tuple[int, int, float]] = []
    for node in ends:
        for first in incident[node]:
            if used[first]:
                continue
            seg, here, total = first, node, 0.0
            while True:
                used[seg] = True
                total += float(length[seg])
                here = other(seg, here)
                if here in ends:
                    break
                seg = next((j for j in incident[here] if not used[j]), -1)
                if seg < 0:
                    break
            if here != node:
                edges.append((node, here, total))
    if not edges:
        return np.empty(0), np.empty(0)
    a = np.array([xy[e[0]] for e in edges])
    b = np.array([xy[e[1]] for e in edges])
    w = np.array([e[2] for e in edges])
    keep = shapely.contains_xy(site, a[:, 0], a[:, 1]) & shapely.contains_xy(site, b[:, 0], b[:, 1])
    a, b, w = a[keep], b[keep], w[keep]
    tr = _transformer(crs, WGS84)
    lon0, lat0 = tr.transform(a[:, 0], a[:, 1])
    lon1, lat1 = tr.transform(b[:, 0], b[:, 1])
    return bearing(np.asarray(lat0), np.asarray(lon0), np.asarray(lat1), np.asarray(lon1)), w


def bearing(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Initial great-circle bearing in degrees [0, 360) from point 1 to point 2."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    degrees: np.ndarray = np.degrees(np.arctan2(y, x)) % 360
    return degrees


def bearing_histogram(
    bearings: np.ndarray, weights: np.ndarray, bins: int = ORIENTATION_BINS
) -> np.ndarray:
    """Length-weighted share of street bearings per bin; each street counts in both directions
    and bins are centred on north (0°, 10°, … for 36 bins)."""
    both = np.concatenate([bearings, (bearings + 180) % 360])
    w = np.concatenate([weights, weights])
    width = 360 / bins
    idx = np.floor(((both + width / 2) % 360) / width).astype(int) % bins
    hist = np.bincount(idx, weights=w, minlength=bins)
    total = hist.sum()
    return hist / total if total else hist


def orientation_order(
    bearings: np.ndarray, weights: np.ndarray | None = None, bins: int = ORIENTATION_BINS
) -> float:
    """Boeing's (2019) orientation order φ = 1 − ((H − H_grid) / (H_max − H_grid))²."""
    weights = np.ones(len(bearings)) if weights is None else np.asarray(weights, float)
    p = bearing_histogram(np.asarray(bearings, float), weights, bins)
    p = p[p > 0]
    h = float(-(p * np.log(p)).sum())
    h_max, h_grid = math.log(bins), math.log(4)
    return 1 - ((h - h_grid) / (h_max - h_grid)) ** 2


def _residents(site: _Site) -> tuple[np.ndarray, np.ndarray, Note] | None:
    """Where people live in the site, with weights: the uploaded population layer, else the
    footprint of residential buildings, else a grid over the site area."""
    data = site.data
    if data.population is not None and len(data.population):
        col = data.population_column or population_column(data.population)
        if col:
            pop = _project(data.population, _wgs_window(site), site.crs)
            pts = np.asarray(shapely.point_on_surface(pop.geometry.values), dtype=object)
            w = pd.to_numeric(pop[col], errors="coerce").fillna(0).to_numpy(float)
            inside = shapely.contains_xy(site.site, *shapely.get_coordinates(pts).T) & (w > 0)
            if w[inside].sum() > 0:
                return (
                    pts[inside],
                    w[inside],
                    Note("indicators.note.weight_population", {"total": float(w[inside].sum())}),
                )
    b = _polygons(site.frame("buildings"))
    if b is not None and len(b):
        pts = np.asarray(shapely.point_on_surface(b.geometry.values), dtype=object)
        xy = shapely.get_coordinates(pts)
        inside = shapely.contains_xy(site.site, xy[:, 0], xy[:, 1])
        b, pts = b[inside], pts[inside]
        value = b["osm_value"].astype(str).to_numpy()
        resid = np.isin(value, list(RESIDENTIAL_BUILDINGS))
        landuse = _polygons(site.frame("landuse"))
        if landuse is not None and len(landuse):
            res_areas = landuse.geometry.values[
                landuse["osm_value"].astype(str).to_numpy() == "residential"
            ]
            if len(res_areas):
                zone = shapely.union_all(res_areas)
                shapely.prepare(zone)
                generic = np.isin(value, ["yes", "building"])
                resid |= generic & shapely.intersects(zone, pts)
        if resid.any():
            return (
                pts[resid],
                shapely.area(b.geometry.values[resid]),
                Note("indicators.note.weight_footprint", {"count": int(resid.sum())}),
            )
    # Failing that: the site area, as a grid of sample points.
    step = max(math.sqrt(site.area / 2000), 10.0)
    x0, y0, x1, y1 = site.site.bounds
    gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    inside = shapely.contains_xy(site.site, gx.ravel(), gy.ravel())
    if not inside.any():
        c = site.site.representative_point()
        return np.array([c]), np.ones(1), Note("indicators.note.weight_area", blocking=True)
    pts = shapely.points(gx.ravel()[inside], gy.ravel()[inside])
    return pts, np.ones(len(pts)), Note("indicators.note.weight_area", blocking=True)


def _wgs_window(site: _Site) -> BaseGeometry:
    tr = _transformer(site.crs, WGS84)
    return shapely.transform(
        site.study.envelope, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )


def _buffer_note(site: _Site, walk_m: float, themes: Iterable[str]) -> Note | None:
    """The data of ``themes`` reach less far beyond the site than a walk of ``walk_m``: say
    how far they do reach (measured from the data's coverage, not the buffer asked for)."""
    reach = data_reach_m(site, [th for th in themes if th in site.frames])
    if reach is not None and reach < walk_m:
        return Note("indicators.note.buffer", {"buffer": reach, "walk": walk_m})
    return None


def _access_indicators(site: _Site) -> list[Indicator]:
    codes = [
        "green_300m",
        "green_300m_walk",
        "transit_access",
        "fifteen_min_centroid",
        "fifteen_min_mean",
    ]
    missing = _missing(site, codes, ["streets", "buildings"])
    if missing:
        return missing
    residents = _residents(site)
    assert residents is not None
    homes, weights, weight_note = residents
    g = site.graph
    out: list[Indicator] = []
    # Green space ≥ 0.5 ha within 300 m.
    green_missing = _missing(site, ["green_300m", "green_300m_walk"], ["green"])
    if green_missing:
        out += green_missing
    else:
        greens = public_green(site)
        date = site.date("green", "buildings")
        notes = [weight_note, Note("indicators.note.green_count", {"count": len(greens)})]
        if not len(greens):
            notes.append(Note("indicators.note.no_green", blocking=True))
        straight = np.zeros(len(homes), bool)
        if len(greens):
            straight = shapely.dwithin(shapely.union_all(greens), homes, GREEN_DISTANCE_M)
        out.append(_result("green_300m", _share(straight, weights), date, notes))
        if g is None:
            out.append(
                _result(
                    "green_300m_walk",
                    None,
                    date,
                    [Note("indicators.note.no_streets", blocking=True)],
                )
            )
        else:
            nodes, offsets = g.access(greens)
            reached = (
                g.walk(g.distances(nodes, offsets, GREEN_DISTANCE_M), g.snap(homes))
                <= GREEN_DISTANCE_M
            )
            out.append(_result("green_300m_walk", _share(reached, weights), date, notes))
    if g is None:
        return out + [
            _result(
                c, None, site.date("streets"), [Note("indicators.note.no_streets", blocking=True)]
            )
            for c in codes[2:]
        ]
    snapped_homes = g.snap(homes)
    # Public transport within 500 m (bus, tram) or 1,000 m (rail, metro, ferry) walk.
    transit_missing = _missing(site, ["transit_access"], ["transit"])
    if transit_missing:
        out += transit_missing
    else:
        date = site.date("transit", "streets", "buildings")
        bus, rail = site.pois(BUS_TAGS), site.pois(RAIL_TAGS)
        notes = [weight_note, Note("indicators.note.stops", {"bus": len(bus), "rail": len(rail)})]
        reached = np.zeros(len(homes), bool)
        for stops, limit in ((bus, BUS_DISTANCE_M), (rail, RAIL_DISTANCE_M)):
            if len(stops):
                nodes, offsets = g.access(stops)
                reached |= g.walk(g.distances(nodes, offsets, limit), snapped_homes) <= limit
        if len(bus) + len(rail) == 0:
            notes.append(Note("indicators.note.no_stops", blocking=True))
        else:
            near = shapely.dwithin(site.site, np.concatenate([bus, rail]), RAIL_DISTANCE_M)
            if not near.any():
                notes.append(Note("indicators.note.no_stop_near", blocking=True))
        if note := _buffer_note(site, RAIL_DISTANCE_M, FIGURE_INPUTS["transit_access"][0]):
            notes.append(note)
        out.append(_result("transit_access", _share(reached, weights), date, notes))
    # 15-minute neighbourhood: categories within 1,200 m walk.
    date = site.date(*[th for th in POI_THEMES if th in site.frames], "streets")
    centroid = g.snap(np.array([site.site.centroid], dtype=object))
    at_centroid, per_home, absent = 0, np.zeros(len(homes)), []
    for cat, tags in CATEGORIES.items():
        dest = site.pois(tags)
        if cat == "park":
            dest = dest[np.isin(shapely.get_type_id(dest), (3, 6))] if len(dest) else dest
        if not len(dest):
            absent.append(cat)
            continue
        nodes, offsets = g.access(dest)
        dist = g.distances(nodes, offsets, FIFTEEN_MIN_WALK_M)
        at_centroid += int(g.walk(dist, centroid)[0] <= FIFTEEN_MIN_WALK_M)
        per_home += g.walk(dist, snapped_homes) <= FIFTEEN_MIN_WALK_M
    notes = []
    if absent:
        notes.append(
            Note(
                "indicators.note.categories_absent",
                {"count": len(absent), "categories": ",".join(absent)},
            )
        )
    themes_missing = [
        th for th in ("shops", "schools", "health", "community", "transit") if th not in site.frames
    ]
    for th in themes_missing:
        notes.append(Note("indicators.note.theme_missing", {"theme": th}, blocking=True))
    if len(absent) >= 6:
        notes.append(Note("indicators.note.few_pois", blocking=True))
    if note := _buffer_note(site, FIFTEEN_MIN_WALK_M, FIGURE_INPUTS["fifteen_min_mean"][0]):
        notes.append(note)
        if absent:  # a whole category may lie just beyond the data's edge
            notes.append(
                Note(
                    "comparison.note.absent_near_edge",
                    {"categories": ",".join(absent), "reach": note.params["buffer"]},
                    blocking=True,
                )
            )
    out.append(_result("fifteen_min_centroid", float(at_centroid), date, notes))
    out.append(
        _result(
            "fifteen_min_mean",
            float(np.average(per_home, weights=weights)),
            date,
            [weight_note, *notes],
        )
    )
    return out


def public_green(site: _Site) -> np.ndarray:
    """Public green spaces (GREEN_TAGS, not private) of at least 0.5 ha, adjacent ones merged."""
    parts = []
    for theme in ("green", "landuse"):
        gdf = _polygons(site.frame(theme))
        if gdf is not None and len(gdf):
            parts.append(gdf.geometry.values[_tag_mask(gdf, GREEN_TAGS) & _public(gdf)])
    if not parts:
        return np.empty(0, dtype=object)
    geoms = np.concatenate(parts)
    if not len(geoms):
        return geoms
    merged = shapely.get_parts(shapely.union_all(shapely.make_valid(geoms)))
    merged = merged[np.isin(shapely.get_type_id(merged), (3, 6))]
    return merged[shapely.area(merged) >= GREEN_MIN_AREA_M2]


def _share(mask: np.ndarray, weights: np.ndarray) -> float | None:
    total = float(weights.sum())
    return float(weights[mask].sum() / total) if total > 0 else None


def _landuse_indicators(site: _Site) -> list[Indicator]:
    out = []
    missing = _missing(site, ["landuse_mix"], ["landuse"])
    if missing:
        out += missing
    else:
        lu = _polygons(site.need("landuse"))
        lu = lu[shapely.intersects(lu.geometry.values, site.site)]
        clipped = shapely.intersection(shapely.make_valid(lu.geometry.values), site.site)
        classes = lu["osm_value"].astype(str).map(lambda v: LANDUSE_CLASSES.get(v, "other"))
        areas = pd.Series(shapely.area(clipped), index=lu.index).groupby(classes).sum()
        covered = float(shapely.union_all(clipped).area) if len(clipped) else 0.0
        share = covered / site.area
        notes = [
            Note(
                "indicators.note.landuse_coverage",
                {"share": share * 100},
                blocking=share < MIN_LANDUSE_COVERAGE,
            )
        ]
        value = land_use_mix(areas.to_numpy()) if covered > 0 else None
        if value is None:
            counts = [len(site.pois(CATEGORIES[c])) for c in COUNTED_CATEGORIES]
            if sum(counts):
                value = land_use_mix(np.asarray(counts, float))
                notes.append(Note("indicators.note.landuse_from_pois", blocking=True))
            else:
                notes.append(Note("indicators.note.no_landuse", blocking=True))
        out.append(_result("landuse_mix", value, site.date("landuse"), notes))
    # Amenity densities per km².
    for cat in COUNTED_CATEGORIES:
        code = f"amenity_{cat}"
        themes = [_CATEGORY_THEME[cat]]
        missing = _missing(site, [code], themes)
        if missing:
            out += missing
            continue
        dest = site.pois(CATEGORIES[cat])
        count = int(shapely.intersects(site.site, dest).sum()) if len(dest) else 0
        date = site.date(*themes)
        if site.area < MIN_DENSITY_AREA_M2:
            out.append(
                _result(
                    code,
                    None,
                    date,
                    [
                        Note(
                            "indicators.note.too_small_for_density",
                            {"area": site.area, "limit": MIN_DENSITY_AREA_M2},
                            blocking=True,
                        )
                    ],
                )
            )
            continue
        notes = [Note("indicators.note.poi_count", {"count": count})]
        if not any(len(site.frames.get(th, [])) for th in POI_THEMES if th != "landuse"):
            notes.append(Note("indicators.note.few_pois", blocking=True))
        out.append(_result(code, count / site.area_km2, date, notes))
    return out


#: The theme a category's features are fetched into (for "layer missing" notes).
_CATEGORY_THEME = {
    "food": "shops",
    "school": "schools",
    "health": "health",
    "eating": "shops",
    "culture": "community",
    "bank_post": "community",
    "transit": "transit",
}


def land_use_mix(areas: np.ndarray) -> float | None:
    """Normalised Shannon entropy −Σ pᵢ ln pᵢ / ln k over the k classes present (0 for one
    class, 1 for k equal classes)."""
    areas = np.asarray(areas, float)
    areas = areas[areas > 0]
    if not len(areas):
        return None
    if len(areas) == 1:
        return 0.0
    p = areas / areas.sum()
    return float(-(p * np.log(p)).sum() / math.log(len(p)))


# ---- cache ------------------------------------------------------------------------------------
_MEMORY: dict[str, IndicatorSet] = {}


def _sources_token(sources: dict[str, Any] | None) -> str:
    return ";".join(f"{th}={src.token}" for th, src in sorted((sources or {}).items()))


def cache_key(
    lab_id: str,
    boundary: BaseGeometry,
    version: str,
    population: gpd.GeoDataFrame | None = None,
    sources: dict[str, Any] | None = None,
) -> str:
    """Key of a lab's indicators: its id, boundary, data version (with the city's own source
    layers) and the engine version."""
    h = hashlib.sha256()
    for part in (
        ENGINE_VERSION,
        lab_id,
        shapely.to_wkb(boundary, output_dimension=2).hex(),
        version,
        _sources_token(sources),
    ):
        h.update(part.encode())
        h.update(b"\x00")
    if population is not None:
        h.update(
            pd.util.hash_pandas_object(
                population.drop(columns=population.geometry.name), index=False
            )
            .to_numpy()
            .tobytes()
        )
        h.update(b"".join(shapely.to_wkb(population.geometry.values)))
    return h.hexdigest()[:32]


def _cache_path(store: Store, lab_id: str, key: str) -> Path:
    return cache_dir() / "indicators" / store.key / lab_id / f"{key}.json"


def cached_indicators(
    store: Store,
    lab: LivingLab,
    population: gpd.GeoDataFrame | None = None,
    sources: dict[str, Any] | None = None,
) -> IndicatorSet | None:
    """The stored indicators of ``lab`` for its current boundary and data version, or None
    (also for a cache file that cannot be read: the caller computes them again)."""
    key = cache_key(lab.id, lab.boundary, data_version(store, lab), population, sources)
    hit = _MEMORY.get(key)
    if hit is not None:
        return hit
    path = _cache_path(store, lab.id, key)
    if path.exists():
        try:
            hit = IndicatorSet.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            _log.warning("unreadable cached indicators %s (%r): computed again", path, exc)
            return None
        _MEMORY[key] = hit
    return hit


def lab_indicators(
    store: Store,
    lab: LivingLab,
    progress: Progress | None = None,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    sources: dict[str, Any] | None = None,
) -> IndicatorSet:
    """The indicators of ``lab``, computed once per (lab, boundary, data version) and reused.

    ``sources`` are the city's own layers marked as the source of a theme
    (:func:`workbench.opendata.sources.lab_sources`). The first computation reports its steps
    through ``progress(fraction, message_key)``.
    """
    hit = cached_indicators(store, lab, population, sources)
    if hit is not None:
        return hit
    data = load_lab_data(store, lab, population, population_column, sources)
    result = compute_indicators(data, progress)
    key = cache_key(lab.id, lab.boundary, data.version, population, sources)
    _MEMORY[key] = result
    if not data.pending:  # a half-fetched lab is computed again once its layers are in
        path = _cache_path(store, lab.id, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.to_dict()), encoding="utf-8")
        tmp.replace(path)
    else:
        _MEMORY.pop(key)
    return result


def clear_memory_cache() -> None:
    _MEMORY.clear()
