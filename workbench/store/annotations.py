"""Annotations on a living lab's map: create, read, list (with their history)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import shapely
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from workbench.errors import NotFoundError, ValidationError
from workbench.geometry import in_lonlat_range
from workbench.model import ANNOTATION_CATEGORIES, Annotation, new_id, utcnow
from workbench.store.base import StoreBase, dumps, from_iso, iso
from workbench.store.core import clean_name, clean_text
from workbench.store.schema import annotation_history, annotations


def clean_annotation_geometry(geom):  # type: ignore[no-untyped-def]
    """2D, inside ±180/±90, non-degenerate; an invalid polygon is repaired when that is safe."""
    if geom is None or geom.is_empty:
        raise ValidationError("annotation.geometry_empty")
    geom = shapely.force_2d(geom)
    if not in_lonlat_range(geom):
        raise ValidationError("annotation.out_of_range")
    kind = geom.geom_type
    if kind == "LineString" and len(set(geom.coords)) < 2:
        raise ValidationError("annotation.line_too_short")
    if kind in ("Polygon", "MultiPolygon") and not geom.is_valid:
        repaired = shapely.make_valid(geom)
        polys = [g for g in getattr(repaired, "geoms", [repaired])
                 if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            raise ValidationError("annotation.polygon_unrepairable")
        geom = shapely.union_all(polys)
    if kind not in ("Point", "LineString", "Polygon", "MultiPolygon"):
        raise ValidationError("annotation.geometry_kind", kind=kind)
    return geom


class AnnotationMixin(StoreBase):
    def add_annotation(self, annotation: Annotation) -> Annotation:
        """Store a new annotation; storing the same id again returns the first one unchanged."""
        a = replace(
            annotation,
            geometry=clean_annotation_geometry(annotation.geometry),
            text=clean_text(annotation.text, "text"),
            author=clean_name(annotation.author or "—", "author"),
        )
        if a.category not in self.annotation_categories():
            raise ValidationError("annotation.category", value=a.category)
        with self.write() as conn:
            if conn.execute(select(annotations.c.id).where(annotations.c.id == a.id)).first():
                return self.get_annotation(a.id, include_deleted=True)
            minx, miny, maxx, maxy = a.geometry.bounds
            values = dict(
                id=a.id, lab_id=a.lab_id, geom_wkt=shapely.to_wkt(a.geometry, rounding_precision=7),
                geom_type=a.geometry.geom_type, minx=minx, miny=miny, maxx=maxx, maxy=maxy,
                category=a.category, text=a.text, author=a.author,
                created_at=iso(a.created_at), updated_at=iso(a.created_at), deleted_at=None)
            try:
                conn.execute(insert(annotations).values(values))
            except IntegrityError as exc:
                raise NotFoundError("notfound.lab") from exc
            conn.execute(insert(annotation_history).values(
                id=new_id(), annotation_id=a.id, action="created", actor=a.author,
                at=iso(utcnow()), data=dumps({k: v for k, v in values.items() if k != "id"})))
        return replace(a, updated_at=a.created_at)

    def annotation_categories(self) -> tuple[str, ...]:
        return ANNOTATION_CATEGORIES

    def get_annotation(self, annotation_id: str, include_deleted: bool = False) -> Annotation:
        with self.read() as conn:
            row = conn.execute(
                select(annotations).where(annotations.c.id == annotation_id)).mappings().first()
        if row is None or (row["deleted_at"] and not include_deleted):
            raise NotFoundError("notfound.annotation")
        return _annotation(row)

    def list_annotations(self, lab_id: str, include_deleted: bool = False,
                         since: datetime | None = None) -> list[Annotation]:
        query = select(annotations).where(annotations.c.lab_id == lab_id)
        if not include_deleted:
            query = query.where(annotations.c.deleted_at.is_(None))
        if since is not None:
            query = query.where(annotations.c.updated_at > iso(since))
        with self.read() as conn:
            rows = conn.execute(query.order_by(annotations.c.created_at)).mappings().all()
        return [_annotation(r) for r in rows]

    def count_annotations(self, lab_id: str) -> int:
        with self.read() as conn:
            q = select(annotations.c.id).where(annotations.c.lab_id == lab_id,
                                               annotations.c.deleted_at.is_(None))
            return len(conn.execute(q).all())


def _annotation(r) -> Annotation:  # type: ignore[no-untyped-def]
    return Annotation(
        id=r["id"], lab_id=r["lab_id"], geometry=shapely.from_wkt(r["geom_wkt"]),
        category=r["category"], text=r["text"], author=r["author"],
        created_at=from_iso(r["created_at"]), updated_at=from_iso(r["updated_at"]),
        deleted_at=from_iso(r["deleted_at"]))
