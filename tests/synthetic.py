"""Synthetic OSM themes in the shape of the opendata cache contract, drawn in metres.

Geometry is drawn in a UTM zone (default 32N, near its central meridian so grid north is true
north) and handed over in EPSG:4326, as the cache does. ``FakeCache`` stands in for
``workbench.opendata.cache`` so the loader and the pages can be tested without fetched data.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry

UTM = "EPSG:32632"
X0, Y0 = 500_000.0, 5_540_000.0  # 9°E, 50°N


def to_wgs(geom, crs: str = UTM):
    return gpd.GeoSeries([geom], crs=crs).to_crs(4326).iloc[0]


def to_utm(geom, crs: str = UTM):
    return gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]


def frame(rows: Iterable[dict], crs: str = UTM, extra: Iterable[str] = ()) -> gpd.GeoDataFrame:
    rows = list(rows)
    cols = ["osm_id", "osm_key", "osm_value", "name", *extra]
    data = {c: [r.get(c) for r in rows] for c in cols}
    data["osm_id"] = [r.get("osm_id", i + 1) for i, r in enumerate(rows)]
    data["name"] = [r.get("name", "") for r in rows]
    gdf = gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs=crs)
    return gdf.to_crs(4326)


def features(key: str, value: str, geoms: Iterable, **extra) -> list[dict]:
    return [{"osm_key": key, "osm_value": value, "geometry": g, **extra} for g in geoms]


def streets(
    edges: Iterable[tuple[int, int, LineString]], highway: str = "residential", crs: str = UTM
) -> gpd.GeoDataFrame:
    rows = [
        {
            "osm_key": "highway",
            "osm_value": highway,
            "highway": highway,
            "u": u,
            "v": v,
            "geometry": line,
        }
        for u, v, line in edges
    ]
    gdf = frame(rows, crs, extra=("highway", "u", "v"))
    gdf["u"] = gdf["u"].astype("int64")
    gdf["v"] = gdf["v"].astype("int64")
    return gdf


def grid(
    n_blocks: int = 3, spacing: float = 100.0, x0: float = X0, y0: float = Y0, crs: str = UTM
) -> gpd.GeoDataFrame:
    """Streets of an n×n block grid, split at every crossing (node id = row·100 + column)."""
    edges = []
    k = n_blocks + 1
    for i in range(k):
        for j in range(k):
            here = (x0 + j * spacing, y0 + i * spacing)
            if j + 1 < k:
                edges.append(
                    (i * 100 + j, i * 100 + j + 1, LineString([here, (here[0] + spacing, here[1])]))
                )
            if i + 1 < k:
                edges.append(
                    (
                        i * 100 + j,
                        (i + 1) * 100 + j,
                        LineString([here, (here[0], here[1] + spacing)]),
                    )
                )
    return streets(edges, crs=crs)


def square(x: float, y: float, size: float) -> Polygon:
    return box(x, y, x + size, y + size)


def empty(crs: str = UTM) -> gpd.GeoDataFrame:
    return frame([], crs)


class FakeCache(types.ModuleType):
    """``workbench.opendata.cache`` as the contract describes it, serving given frames (the
    same in every workspace)."""

    def __init__(
        self,
        themes_by_lab: dict[str, dict[str, gpd.GeoDataFrame]],
        version: str = "v1",
        pending: dict[str, set[str]] | None = None,
        coverage: dict[str, BaseGeometry] | None = None,
    ) -> None:
        """``coverage``: lab id → the area (WGS84) its data cover, recorded in every theme's
        metadata as an import does; by default a box 0.05° beyond all of the lab's data."""
        super().__init__("workbench.opendata.cache")
        self.coverage = coverage or {}
        self.themes_by_lab = themes_by_lab
        self.version = version
        self.pending = pending or {}
        self.loads = 0

    def load_theme(self, _store, lab_id: str, theme: str):
        if theme in self.pending.get(lab_id, set()):
            return None
        self.loads += 1
        return self.themes_by_lab.get(lab_id, {}).get(theme)

    def theme_meta(self, _store, lab_id: str, theme: str):
        if theme not in self.themes_by_lab.get(lab_id, {}) and theme not in self.pending.get(
            lab_id, set()
        ):
            return None
        gdf = self.themes_by_lab.get(lab_id, {}).get(theme)
        cover = self.coverage.get(lab_id) or self._around(lab_id)
        return {
            "fetched_at": "2026-03-01T10:00:00+00:00",
            "data_date": "2025-01-15",
            "coverage": cover.wkt,
            "source": "test",
            "attribution": "© OpenStreetMap contributors",
            "feature_count": 0 if gdf is None else len(gdf),
            "buffer_m": 1500,
        }

    def _around(self, lab_id: str):
        frames = [g.to_crs(4326) for g in self.themes_by_lab.get(lab_id, {}).values() if len(g)]
        if not frames:
            return box(0, 0, 0, 0)
        x0, y0, x1, y1 = shapely.union_all([box(*f.total_bounds) for f in frames]).bounds
        return box(x0 - 0.05, y0 - 0.05, x1 + 0.05, y1 + 0.05)

    def cached_themes(self, _store, lab_id: str):
        return sorted(self.themes_by_lab.get(lab_id, {}))

    def cache_version(self, _store, lab_id: str) -> str:
        return f"{self.version}-{lab_id}"


def install(monkeypatch, cache: FakeCache) -> FakeCache:
    monkeypatch.setitem(sys.modules, "workbench.opendata.cache", cache)
    return cache


def site(x: float, y: float, w: float, h: float | None = None, crs: str = UTM) -> Polygon:
    """A site boundary in WGS84 from a rectangle in metres."""
    return shapely.normalize(to_wgs(box(x, y, x + w, y + (h if h is not None else w)), crs))
