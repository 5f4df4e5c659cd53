"""Annotations on a living lab's map: create, edit, redraw, soft delete and restore (each change
recorded in their history, edits guarded by a version check), filters, and the categories.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from workbench.access import Actor, same_group
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.geometry import in_lonlat_range
from workbench.model import (
    ANNOTATION_CATEGORIES,
    ANNOTATION_CATEGORY_COLOURS,
    Annotation,
    AnnotationChange,
    Category,
    clean_colour,
    new_id,
    utcnow,
)
from workbench.settings import COORD_DECIMALS, LANGUAGES, MAX_NAME_CHARS
from workbench.store.base import Record, StoreBase, dumps, from_iso, iso, loads
from workbench.store.core import clean_name, clean_text
from workbench.store.judge import actor_name, authorize
from workbench.store.revision import bump_revision
from workbench.store.schema import annotation_categories, annotation_history
from workbench.store.schema import annotations as annotations_table

_CATEGORY_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Colours offered to a workspace's own categories (Okabe & Ito, after the built-in ones).


def clean_annotation_geometry(geom: BaseGeometry | None) -> BaseGeometry:
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
        polys = [
            g
            for g in getattr(repaired, "geoms", [repaired])
            if g.geom_type in ("Polygon", "MultiPolygon")
        ]
        if not polys:
            raise ValidationError("annotation.polygon_unrepairable")
        geom = shapely.union_all(polys)
    if kind not in ("Point", "LineString", "Polygon", "MultiPolygon"):
        raise ValidationError("annotation.geometry_kind", kind=kind)
    return geom


#: A language code as notes and translations carry it: ISO 639-1 or -3 ("de", "uk", "af",
#: "zu" …), lower case; nothing else, so a code can never be markup or a path.
LANG_CODE = re.compile(r"[a-z]{2,3}")


def clean_lang(value: object, allow_empty: bool = False) -> str:
    code = value.strip().lower() if isinstance(value, str) else ""
    if (allow_empty and code == "") or LANG_CODE.fullmatch(code):
        return code
    raise ValidationError("network.error.lang", value=str(value)[:20])


def clean_annotation_text(value: str) -> str:
    """An annotation's text: plain text as typed, not empty, at most ``MAX_TEXT_CHARS``."""
    text = clean_text(value, "text")
    if not text:
        raise ValidationError("annotate.error.text_empty")
    return text


class AnnotationMixin(StoreBase):
    # ---- create and read ------------------------------------------------------------------------
    def add_annotation(self, annotation: Annotation, by: Actor | None = None) -> Annotation:
        """Store a new annotation; storing the same id again returns the first one unchanged.

        ``by``: who adds it (see ``store.judge.authorize``); a participant's annotation
        always carries their group's name as author.

        One write transaction: the id check, the category, ``authorize``, the row and its
        history entry; the text and geometry are checked before it, the result is built from
        the stored values (no read back)."""
        try:
            a = replace(
                annotation,
                geometry=clean_annotation_geometry(annotation.geometry),
                text=clean_annotation_text(annotation.text),
                author=clean_name(actor_name(by, annotation.author) or "—", "author"),
                version=1,
                deleted_at=None,
            )
        except Exception:
            # a retry of a stored id returns the stored one, whatever the retry carries
            existing = self._maybe_annotation(annotation.id)
            if existing is not None:
                return existing
            raise
        values = dict(
            id=a.id,
            lab_id=a.lab_id,
            category=a.category,
            text=a.text,
            author=a.author,
            lang=clean_lang(a.lang, allow_empty=True),
            created_at=iso(a.created_at),
            updated_at=iso(a.created_at),
            deleted_at=None,
            version=1,
            updated_by=a.author,
            **_geometry_values(a.geometry),
        )
        with self.write() as conn:
            row = _row(conn, a.id)
            if row is not None:
                return _annotation(row)
            _check_category(conn, a.category)
            authorize(conn, by, "annotation.add", a.lab_id)
            rev = bump_revision(conn, a.lab_id)  # notfound.lab for an unknown lab
            try:
                with conn.begin_nested():
                    conn.execute(insert(annotations_table).values({**values, "rev": rev}))
            except IntegrityError as exc:
                # the same id stored meanwhile by a writer outside the store's lock: a retry
                stored = _row(conn, a.id)
                if stored is None:
                    raise ValidationError("integrity.constraint", table="annotations") from exc
                return _annotation(stored)
            _record(conn, a.id, "created", a.author, {k: v for k, v in values.items() if k != "id"})
        return _annotation(values)

    def get_annotation(self, annotation_id: str, include_deleted: bool = False) -> Annotation:
        a = self._maybe_annotation(annotation_id)
        if a is None or (a.deleted_at and not include_deleted):
            raise NotFoundError("notfound.annotation")
        return a

    def _maybe_annotation(self, annotation_id: str) -> Annotation | None:
        with self.read() as conn:
            row = _row(conn, annotation_id)
        return _annotation(row) if row else None

    def list_annotations(
        self,
        lab_id: str,
        include_deleted: bool = False,
        since: datetime | None = None,
        *,
        deleted_only: bool = False,
        categories: tuple[str, ...] | list[str] | None = None,
        authors: tuple[str, ...] | list[str] | None = None,
        search: str | None = None,
    ) -> list[Annotation]:
        """A living lab's annotations, oldest first.

        ``since`` keeps those changed after that time (deletions included when
        ``include_deleted``); ``deleted_only`` lists the deleted ones (for restoring);
        ``categories`` and ``authors`` keep those with one of the given codes / group names;
        ``search`` keeps those whose text or author contains it (case-insensitive, any script).
        """
        query = select(annotations_table).where(annotations_table.c.lab_id == lab_id)
        if deleted_only:
            query = query.where(annotations_table.c.deleted_at.is_not(None))
        elif not include_deleted:
            query = query.where(annotations_table.c.deleted_at.is_(None))
        if since is not None:
            query = query.where(annotations_table.c.updated_at > iso(since))
        if categories:
            query = query.where(annotations_table.c.category.in_(list(categories)))
        if authors:
            query = query.where(annotations_table.c.author.in_(list(authors)))
        with self.read() as conn:
            rows = conn.execute(query.order_by(annotations_table.c.created_at)).mappings().all()
        found = [_annotation(r) for r in rows]
        needle = (search or "").strip().casefold()
        if needle:
            found = [
                a for a in found if needle in a.text.casefold() or needle in a.author.casefold()
            ]
        return found

    def list_deleted_annotations(
        self,
        lab_id: str,
        restorable_by: Actor | None = None,
    ) -> list[Annotation]:
        """Deleted annotations of a living lab, most recently deleted first (for restoring).

        With ``restorable_by`` only those that actor may restore now, from whichever browser
        or session: a participant their own group's notes (not those a moderator hid), a
        viewer none; owners, facilitators and the local single-user mode (None) all."""
        query = select(annotations_table).where(
            annotations_table.c.lab_id == lab_id, annotations_table.c.deleted_at.is_not(None)
        )
        with self.read() as conn:
            rows = conn.execute(query).mappings().all()
        by = restorable_by
        if by is not None and not by.can_moderate:
            rows = [
                r
                for r in rows
                if by.may("annotation.restore")
                and not r["hidden"]
                and same_group(r["author"], by.group)
            ]
        found = [_annotation(r) for r in rows]
        # every one has deleted_at (the query's condition); ``or`` only tells mypy so
        return sorted(found, key=lambda a: a.deleted_at or a.updated_at, reverse=True)

    def count_annotations(self, lab_id: str) -> int:
        with self.read() as conn:
            q = (
                select(func.count())
                .select_from(annotations_table)
                .where(
                    annotations_table.c.lab_id == lab_id, annotations_table.c.deleted_at.is_(None)
                )
            )
            return int(conn.execute(q).scalar() or 0)

    def annotation_authors(self, lab_id: str) -> list[str]:
        """The groups/authors who wrote the living lab's (not deleted) annotations, sorted."""
        with self.read() as conn:
            q = (
                select(annotations_table.c.author)
                .distinct()
                .where(
                    annotations_table.c.lab_id == lab_id, annotations_table.c.deleted_at.is_(None)
                )
            )
            return sorted(conn.execute(q).scalars(), key=str.casefold)

    # ---- change -------------------------------------------------------------------------------
    def update_annotation(
        self,
        annotation_id: str,
        *,
        name: str,
        expected_version: int,
        text: str | None = None,
        category: str | None = None,
        geometry: BaseGeometry | None = None,
        by: Actor | None = None,
    ) -> Annotation:
        """Change the text, the category and/or the geometry (a redraw) of an annotation.

        ``expected_version`` is the ``version`` of the annotation as the editor saw it; when
        someone else changed it since, :class:`ConflictError` is raised (with the current
        annotation in ``.current``) and nothing is written. A change that changes nothing
        returns the annotation as it is. ``by``: who edits (participants only their group's);
        ``name``: the name the change is recorded under (a participant's is their group's).
        """
        editor = clean_name(actor_name(by, name) or "—", "author")
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = clean_annotation_text(text)
        if category is not None:
            changes["category"] = category  # checked against the workspace's in the transaction
        if geometry is not None:
            changes["geometry"] = clean_annotation_geometry(geometry)
        with self.write() as conn:
            if category is not None:
                _check_category(conn, category)
            row = _checked_row(conn, by, "annotation.edit", annotation_id, expected_version)
            current = _annotation(row)
            if current.deleted_at is not None:
                raise ConflictError(
                    "annotate.error.conflict_deleted", current=current, actor=current.updated_by
                )
            diff = {
                k: v
                for k, v in changes.items()
                if not (
                    _same_geometry(getattr(current, k), v)
                    if k == "geometry"
                    else getattr(current, k) == v
                )
            }
            if not diff:
                return current
            now = utcnow()
            values: dict[str, Any] = {k: v for k, v in diff.items() if k != "geometry"}
            if "geometry" in diff:
                values.update(_geometry_values(diff["geometry"]))
            values.update(
                updated_at=iso(now),
                updated_by=editor,
                version=current.version + 1,
                rev=bump_revision(conn, row["lab_id"]),
            )
            _update_at_version(conn, annotation_id, current.version, values)
            _record(
                conn,
                annotation_id,
                "edited",
                editor,
                {
                    "changed": {
                        k: {"from": _plain(getattr(current, k)), "to": _plain(v)}
                        for k, v in diff.items()
                    },
                    "version": current.version + 1,
                },
            )
        return _annotation({**row, **values})

    def delete_annotation(
        self,
        annotation_id: str,
        *,
        name: str,
        expected_version: int | None = None,
        by: Actor | None = None,
    ) -> Annotation:
        """Soft delete: the annotation disappears from maps and lists but can be restored.

        Deleting a deleted annotation changes nothing. With ``expected_version``, a delete of an
        annotation changed by someone else meanwhile raises :class:`ConflictError`. A
        facilitator's delete of any annotation is moderation (hiding it).
        """
        return self._set_deleted(annotation_id, True, name, by, expected_version)

    def restore_annotation(
        self, annotation_id: str, *, name: str, by: Actor | None = None
    ) -> Annotation:
        """Undo a delete; restoring an annotation that is not deleted changes nothing."""
        return self._set_deleted(annotation_id, False, name, by, None)

    def _set_deleted(
        self,
        annotation_id: str,
        deleted: bool,
        name: str,
        by: Actor | None,
        expected_version: int | None,
    ) -> Annotation:
        action = "delete" if deleted else "restore"
        editor = clean_name(actor_name(by, name) or "—", "author")
        with self.write() as conn:
            row = _checked_row(conn, by, f"annotation.{action}", annotation_id, expected_version)
            if (row["deleted_at"] is not None) == deleted:
                return _annotation(row)
            if not deleted and row["hidden"] and by is not None and not by.can_moderate:
                # what a facilitator hid, only a facilitator shows again
                raise PermissionDenied("annotate.error.hidden_by_moderator")
            now = iso(utcnow())
            # a moderator's delete of another group's note hides it (live readers who may
            # moderate still get it, flagged hidden); a restore shows it again
            hidden = deleted and by is not None and by.can_moderate and row["author"] != editor
            values = dict(
                deleted_at=now if deleted else None,
                updated_at=now,
                updated_by=editor,
                version=row["version"] + 1,
                hidden=int(hidden),
                rev=bump_revision(conn, row["lab_id"]),
            )
            _update_at_version(conn, annotation_id, row["version"], values)
            _record(
                conn,
                annotation_id,
                "deleted" if deleted else "restored",
                editor,
                {"version": values["version"]},
            )
        return _annotation({**row, **values})

    def annotation_history(self, annotation_id: str) -> list[AnnotationChange]:
        """Every change of an annotation, oldest first: who, when, what."""
        q = (
            select(annotation_history)
            .where(annotation_history.c.annotation_id == annotation_id)
            .order_by(annotation_history.c.at)
        )
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            AnnotationChange(
                annotation_id=r["annotation_id"],
                action=r["action"],
                actor=r["actor"],
                at=datetime.fromisoformat(r["at"]),
                data=loads(r["data"], {}),
            )
            for r in rows
        ]

    # ---- categories ---------------------------------------------------------------------------
    def annotation_categories(self) -> tuple[str, ...]:
        """Codes of all categories: the built-in ones, then the workspace's own."""
        return tuple(c.code for c in self.list_categories())

    def list_categories(self) -> list[Category]:
        builtin = [
            Category(code=c, colour=ANNOTATION_CATEGORY_COLOURS[c], builtin=True)
            for c in ANNOTATION_CATEGORIES
        ]
        q = select(annotation_categories).order_by(
            annotation_categories.c.position, annotation_categories.c.code
        )
        with self.read() as conn:
            own = [
                Category(code=r["code"], colour=r["colour"], labels=loads(r["labels"], {}))
                for r in conn.execute(q).mappings()
            ]
        return builtin + own

    def save_category(self, category: Category, by: Actor | None = None) -> Category:
        """Add a workspace category, or change the labels/colour of one added before.

        ``code`` is a stable lowercase code (``a-z``, digits, ``_``); ``labels`` maps language
        codes to labels (at least one); ``colour`` is ``#rrggbb``.
        """
        code = (category.code or "").strip()
        if not _CATEGORY_CODE.match(code):
            raise ValidationError("annotate.error.category_code", value=code)
        if code in ANNOTATION_CATEGORIES:
            raise ValidationError("annotate.error.category_builtin", value=code)
        colour = clean_colour(category.colour)
        labels = {
            lang: clean_name(label, "name", MAX_NAME_CHARS)
            for lang, label in category.labels.items()
            if lang in LANGUAGES and (label or "").strip()
        }
        if not labels:
            raise ValidationError("annotate.error.category_no_label")
        with self.write() as conn:
            authorize(conn, by, "lab.settings", None)
            exists = conn.execute(
                select(annotation_categories.c.code).where(annotation_categories.c.code == code)
            ).first()
            if exists:
                conn.execute(
                    update(annotation_categories)
                    .where(annotation_categories.c.code == code)
                    .values(colour=colour, labels=dumps(labels))
                )
                # the notes of that category look different now: each lab using it gets
                # one new revision, stamped on those notes (live maps restyle them)
                used: dict[str, list[str]] = {}
                for lab_id, note_id in conn.execute(
                    select(annotations_table.c.lab_id, annotations_table.c.id).where(
                        annotations_table.c.category == code
                    )
                ):
                    used.setdefault(lab_id, []).append(note_id)
                for lab_id, ids in used.items():
                    bump_revision(conn, lab_id, annotation_ids=ids)
            else:
                position = (
                    conn.execute(select(func.count()).select_from(annotation_categories)).scalar()
                    or 0
                )
                conn.execute(
                    insert(annotation_categories).values(
                        code=code,
                        colour=colour,
                        labels=dumps(labels),
                        position=int(position),
                        created_at=iso(utcnow()),
                    )
                )
        return Category(code=code, colour=colour, labels=labels)

    def delete_category(self, code: str, by: Actor | None = None) -> None:
        """Remove a workspace category that no annotation uses (deleted ones included)."""
        if code in ANNOTATION_CATEGORIES:
            raise ValidationError("annotate.error.category_builtin", value=code)
        with self.write() as conn:
            authorize(conn, by, "lab.settings", None)
            used = (
                conn.execute(
                    select(func.count())
                    .select_from(annotations_table)
                    .where(annotations_table.c.category == code)
                ).scalar()
                or 0
            )
            if used:
                raise ValidationError("annotate.error.category_in_use", count=int(used))
            conn.execute(delete(annotation_categories).where(annotation_categories.c.code == code))


def _row(conn: Connection, annotation_id: str) -> RowMapping | None:
    """An annotation's row (deleted or not), or None."""
    return (
        conn.execute(select(annotations_table).where(annotations_table.c.id == annotation_id))
        .mappings()
        .first()
    )


def _checked_row(
    conn: Connection,
    by: Actor | None,
    action: str,
    annotation_id: str,
    expected_version: int | None,
) -> RowMapping:
    """The annotation's row read inside the write transaction: it must exist (else
    ``notfound.annotation``), ``by`` must be allowed ``action`` on it (``authorize`` with its
    living lab and author), and it must still be at ``expected_version`` (else
    :class:`ConflictError` carrying the current annotation)."""
    row = _row(conn, annotation_id)
    if row is None:
        raise NotFoundError("notfound.annotation")
    authorize(conn, by, action, row["lab_id"], row["author"])
    if expected_version is not None and row["version"] != expected_version:
        current = _annotation(row)
        raise ConflictError(
            "annotate.error.conflict",
            current=current,
            actor=current.updated_by,
            at=current.updated_at.strftime("%H:%M:%S UTC"),
        )
    return row


def _update_at_version(
    conn: Connection, annotation_id: str, version: int, values: Mapping[str, object]
) -> None:
    """Write ``values`` over the annotation at ``version`` only (``… WHERE version = :v``): a
    change that reached the row first makes this a :class:`ConflictError`, never a lost
    update, even from a writer that did not take the workspace's write lock."""
    done = conn.execute(
        update(annotations_table)
        .where(annotations_table.c.id == annotation_id, annotations_table.c.version == version)
        .values(values)
    )
    if done.rowcount != 1:
        row = _row(conn, annotation_id)
        if row is None:  # deleted with its living lab meanwhile
            raise NotFoundError("notfound.annotation")
        current = _annotation(row)
        raise ConflictError(
            "annotate.error.conflict",
            current=current,
            actor=current.updated_by,
            at=current.updated_at.strftime("%H:%M:%S UTC"),
        )


def _check_category(conn: Connection, code: str) -> None:
    """Refuse a category that is neither built in nor one of the workspace's own."""
    if code in ANNOTATION_CATEGORIES:
        return
    if (
        conn.execute(
            select(annotation_categories.c.code).where(annotation_categories.c.code == code)
        ).first()
        is None
    ):
        raise ValidationError("annotation.category", value=code)


def _geometry_values(geom: BaseGeometry) -> dict[str, object]:
    minx, miny, maxx, maxy = geom.bounds
    return dict(
        geom=shapely.to_wkt(geom, rounding_precision=COORD_DECIMALS),
        geom_type=geom.geom_type,
        minx=minx,
        miny=miny,
        maxx=maxx,
        maxy=maxy,
    )


def _same_geometry(a: BaseGeometry, b: BaseGeometry) -> bool:
    return shapely.to_wkt(a, rounding_precision=COORD_DECIMALS) == shapely.to_wkt(
        b, rounding_precision=COORD_DECIMALS
    )


def _plain(value: object) -> object:
    if isinstance(value, BaseGeometry):
        return shapely.to_wkt(value, rounding_precision=COORD_DECIMALS)
    return value


def _record(
    conn: Connection, annotation_id: str, action: str, actor: str, data: Mapping[str, object]
) -> None:
    conn.execute(
        insert(annotation_history).values(
            id=new_id(),
            annotation_id=annotation_id,
            action=action,
            actor=actor,
            at=iso(utcnow()),
            data=dumps(data),
        )
    )


def _annotation(r: Record) -> Annotation:
    return Annotation(
        id=r["id"],
        lab_id=r["lab_id"],
        geometry=shapely.from_wkt(r["geom"]),
        category=r["category"],
        text=r["text"],
        author=r["author"],
        created_at=datetime.fromisoformat(r["created_at"]),
        updated_at=datetime.fromisoformat(r["updated_at"]),
        deleted_at=from_iso(r["deleted_at"]),
        version=r["version"],
        updated_by=r["updated_by"] or r["author"],
        lang=r.get("lang") or "",
    )
