"""The city's own data as the source of an indicator theme.

A planner marks an uploaded layer as the source for buildings, streets, green space, stops or
population (``Layer.source_for``); the indicators then read it instead of the OSM theme, and say
so in their notes. This module turns such a layer into the shape of the cached OSM theme (the
columns of :func:`workbench.opendata.osm.columns_for`, tagged as the theme's typical OSM object),
so the engine needs no second code path. Like the rest of ``opendata`` it is the only place that
knows which tags stand for a theme.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from workbench.geometry import WGS84
from workbench.model import SOURCE_THEMES, Layer

if TYPE_CHECKING:
    from workbench.store import Store


#: The OSM key and value an uploaded feature of each theme stands for.
_STAND_IN = {
    "buildings": ("building", "yes"),
    "streets": ("highway", "road"),
    "green": ("leisure", "park"),
    "transit": ("highway", "bus_stop"),
}
#: Geometry type ids kept per theme (shapely: 0 point, 1 line, 3 polygon, 4-6 multi).
_KINDS = {"buildings": (3, 6), "streets": (1, 5), "green": (3, 6), "transit": (0, 4)}
#: Columns of an uploaded buildings layer that may hold the building type (OSM-like values).
_TYPE_COLUMNS = ("building", "type", "use", "usage", "category")
#: Endpoints closer than this (degrees, about 1 cm) are one street node.
_NODE_GRID = 1e-7

__all__ = ["SOURCE_THEMES", "SourceLayer", "lab_sources", "theme_frame"]


@dataclass(frozen=True)
class SourceLayer:
    """An uploaded layer standing in for an indicator theme."""

    theme: str
    name: str
    layer_id: str
    #: shaped like the cached OSM theme; the raw layer for population; None when the layer's
    #: file cannot be read (the OSM theme counts then, and the figures say so)
    frame: gpd.GeoDataFrame | None
    token: str  # changes when the layer's features change (for the indicator cache key)


def theme_frame(gdf: gpd.GeoDataFrame, theme: str) -> gpd.GeoDataFrame:
    """An uploaded layer in the shape of the cached OSM ``theme`` (EPSG:4326).

    Features of other geometry kinds are left out (points in a buildings layer ...); buildings
    keep an OSM-like type from a ``building``/``type`` column where there is one; streets are
    noded at every crossing and given node ids ``u``/``v`` from their shared endpoints.
    """
    from workbench.opendata.osm import _empty, _typed, columns_for

    if theme not in _STAND_IN:
        raise ValueError(f"no OSM stand-in for theme {theme!r}")
    gdf = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    keep = ~shapely.is_missing(geoms) & np.isin(shapely.get_type_id(geoms), _KINDS[theme])
    gdf, geoms = gdf[keep], geoms[keep]
    if not len(gdf):
        return _empty(theme)
    key, value = _STAND_IN[theme]
    values = np.full(len(gdf), value, dtype=object)
    if theme == "buildings":
        by_lower = {str(c).lower(): c for c in gdf.columns if c != gdf.geometry.name}
        col = next((by_lower[c] for c in _TYPE_COLUMNS if c in by_lower), None)
        if col is not None:
            raw = gdf[col].astype("string").str.strip().str.lower().fillna("")
            values = np.where(raw.str.fullmatch(r"[a-z_]+").fillna(False), raw, value)
    names = (
        gdf["name"].astype("string").fillna("").to_numpy(object)
        if "name" in gdf.columns
        else np.full(len(gdf), "", dtype=object)
    )
    rows = pd.DataFrame(
        {
            "osm_id": [f"upload/{i}" for i in range(len(gdf))],
            "osm_key": key,
            "osm_value": values,
            "name": names,
        }
    )
    if theme == "streets":
        return _typed(theme, _noded_streets(geoms))
    out = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    for col in columns_for(theme):
        if col not in out.columns:
            out[col] = np.nan if col == "levels" else ""
    return _typed(theme, out[[*columns_for(theme), "geometry"]].reset_index(drop=True))


def _noded_streets(geoms: np.ndarray) -> gpd.GeoDataFrame:
    """Lines split at every crossing, each with node ids from its rounded endpoints."""
    lines = shapely.get_parts(shapely.line_merge(shapely.union_all(shapely.get_parts(geoms))))
    lines = lines[shapely.get_type_id(lines) == 1]
    start = np.round(shapely.get_coordinates(shapely.get_point(lines, 0)) / _NODE_GRID)
    end = np.round(shapely.get_coordinates(shapely.get_point(lines, -1)) / _NODE_GRID)
    ends = np.concatenate([start, end])
    _, ids = np.unique(ends, axis=0, return_inverse=True)
    ids = ids.ravel() + 1
    n = len(lines)
    return gpd.GeoDataFrame(
        {
            "osm_id": [f"upload/{i}" for i in range(n)],
            "osm_key": "highway",
            "osm_value": "road",
            "name": "",
            "highway": "road",
            "u": ids[:n].astype("int64"),
            "v": ids[n:].astype("int64"),
        },
        geometry=gpd.GeoSeries(lines, crs=WGS84),
        crs=WGS84,
    )


def lab_sources(store: Store, lab_id: str) -> dict[str, SourceLayer]:
    """The uploaded layers of a lab marked as the source of a theme, read and shaped; a layer
    whose file cannot be read is given with no frame (the OSM theme counts then, and the
    indicators note which layer could not be read)."""
    from workbench.opendata.files import load_upload

    out: dict[str, SourceLayer] = {}
    for layer in store.list_layers(lab_id, kind="upload"):
        theme = getattr(layer, "source_for", "")
        if theme not in SOURCE_THEMES:
            continue
        try:
            raw = load_upload(store, layer)
        except (OSError, ValueError):
            out[theme] = SourceLayer(theme, layer.name, layer.id, None, f"unreadable:{layer.id}")
            continue
        frame = raw if theme == "population" else theme_frame(raw, theme)
        out[theme] = SourceLayer(theme, layer.name, layer.id, frame, _token(layer, raw))
    return out


def _token(layer: Layer, gdf: gpd.GeoDataFrame) -> str:
    h = hashlib.sha256(f"{layer.id}:{layer.source_for}:{len(gdf)}".encode())
    h.update(b"".join(shapely.to_wkb(gdf.geometry.values[:2000])))
    return h.hexdigest()[:16]
