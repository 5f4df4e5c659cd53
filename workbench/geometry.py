"""Geometry helpers: local metric CRS, areas and distances, and validation of site boundaries.

Pure functions on geometries; it must not read the store or any file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Geod, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from workbench.errors import ValidationError
from workbench.settings import MAX_SITE_AREA_KM2, MAX_SITE_DISTANCE_KM, MIN_SITE_AREA_M2

WGS84 = CRS.from_epsg(4326)
_GEOD = Geod(ellps="WGS84")
G = TypeVar("G", bound=BaseGeometry)


def utm_crs(lon: float, lat: float) -> CRS:
    """The UTM zone CRS (WGS84 datum) that holds the point ``(lon, lat)``."""
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def local_crs(geom: BaseGeometry) -> CRS:
    """The metric CRS for computing on ``geom``: the UTM zone of its centroid."""
    c = geom.centroid
    return utm_crs(c.x, c.y)


@lru_cache(maxsize=64)
def _transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_crs(geom: G, dst: CRS, src: CRS = WGS84) -> G:
    """``geom`` (in ``src``) with its coordinates in ``dst``."""
    transformer = _transformer(src, dst)

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:  # an (n, 2) array
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        projected: NDArray[np.float64] = np.column_stack([x, y])
        return projected

    return shapely.transform(geom, project)


def area_m2(geom: BaseGeometry) -> float:
    """Area of a WGS84 geometry in square metres, computed in its local UTM zone."""
    return to_crs(geom, local_crs(geom)).area


def distance_km(a: Point, b: Point) -> float:
    """Geodesic distance between two WGS84 points in kilometres."""
    return float(_GEOD.inv(a.x, a.y, b.x, b.y)[2]) / 1000.0


def in_lonlat_range(geom: BaseGeometry) -> bool:
    minx, miny, maxx, maxy = geom.bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def validate_boundary(
    geom: BaseGeometry | dict[str, Any] | None,
    city_lon: float | None = None,
    city_lat: float | None = None,
) -> Polygon:
    """Check a living lab's site boundary and return it normalised (2D, exterior ring CCW).

    Raises :class:`ValidationError` with a message key when the boundary is empty, not a polygon,
    self-intersecting, outside valid coordinates, smaller than ``MIN_SITE_AREA_M2``, larger than
    ``MAX_SITE_AREA_KM2`` or farther than ``MAX_SITE_DISTANCE_KM`` from its city.
    """
    if isinstance(geom, dict):
        try:
            geom = shape(geom)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValidationError("boundary.unreadable") from exc
    if geom is None or geom.is_empty:
        raise ValidationError("boundary.empty")
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if not isinstance(geom, Polygon):
        raise ValidationError("boundary.not_polygon", kind=geom.geom_type)
    if not in_lonlat_range(geom):
        raise ValidationError("boundary.out_of_range")
    geom = shapely.force_2d(geom)
    if not geom.is_valid:
        raise ValidationError("boundary.invalid", reason=shapely.is_valid_reason(geom))
    area = area_m2(geom)
    if area < MIN_SITE_AREA_M2:
        raise ValidationError("boundary.too_small", area=area, limit=MIN_SITE_AREA_M2)
    if area > MAX_SITE_AREA_KM2 * 1e6:
        raise ValidationError("boundary.too_large", area=area / 1e6, limit=MAX_SITE_AREA_KM2)
    if city_lon is not None and city_lat is not None:
        dist = distance_km(geom.centroid, Point(city_lon, city_lat))
        if dist > MAX_SITE_DISTANCE_KM:
            raise ValidationError("boundary.too_far", distance=dist, limit=MAX_SITE_DISTANCE_KM)
    return shapely.geometry.polygon.orient(geom, sign=1.0)


def boundary_from_geojson(data: bytes) -> BaseGeometry:
    """The one polygon in a GeoJSON file (geometry, Feature or FeatureCollection)."""
    import json

    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("boundary.unreadable") from exc
    if not isinstance(doc, dict):
        raise ValidationError("boundary.unreadable")
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if len(features) != 1:
            raise ValidationError("boundary.one_feature", count=len(features))
        doc = features[0]
    if doc.get("type") == "Feature":
        doc = doc.get("geometry") or {}
    try:
        return shape(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError("boundary.unreadable") from exc
