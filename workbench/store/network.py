"""Learning across the network: notes marked as lessons or questions for every living lab of the
network, links between notes of different labs, and translations of a note's text.

The same permission rules as the notes themselves (``store.judge.authorize``): marking a note
and linking it from its lab is an edit of that note (its group, facilitators, owners);
answering a question or adding a translation is open to whoever may comment on the note. A
viewer writes nothing. Every write bumps the lab's revision, so open maps follow.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from workbench.access import Actor
from workbench.errors import NotFoundError, ValidationError
from workbench.model import (
    MARK_KINDS,
    MARK_STATUSES,
    PRINCIPLES,
    SDG_TARGETS,
    Annotation,
    NoteLink,
    NoteMark,
    Translation,
    WorkshopSession,
    new_id,
    utcnow,
)
from workbench.store.annotations import _annotation, clean_annotation_text, clean_lang
from workbench.store.base import Record, dumps, iso, loads
from workbench.store.core import CoreMixin, clean_name
from workbench.store.judge import actor_name, annotation_lab, authorize
from workbench.store.revision import bump_revision
from workbench.store.schema import annotations as annotations_table
from workbench.store.schema import (
    cities,
    labs,
    note_links,
    note_marks,
    note_translations,
)
from workbench.store.workshop import WorkshopMixin


@dataclass(frozen=True)
class NetworkNote:
    """A marked note as the network page lists it: the mark, the note, where it sits."""

    mark: NoteMark
    annotation: Annotation
    lab_id: str
    lab_title: str
    city_name: str
    country: str


@dataclass(frozen=True)
class LinkedNote:
    """The other end of a link, seen from one note: ``direction`` is "tried_here" when this
    note is where it was tried (the link's source), "relevant_there" otherwise; a deleted note
    stays listed with ``deleted`` set, never as an error."""

    link: NoteLink
    annotation_id: str
    lab_id: str
    lab_title: str
    text: str
    direction: str
    deleted: bool


@dataclass(frozen=True)
class ConsultationRecord:
    """What a peer consultation produced: the host's questions (notes marked as questions on
    the lab, not by a guest city), every guest city's answers (notes and comments written in
    the session), the dots of the session, and who took part by city."""

    session: WorkshopSession
    lab_title: str
    questions: tuple[Annotation, ...]
    answers: tuple[tuple[str, str, str], ...]  # (city, "note" | "comment", text)
    votes: tuple[tuple[str, int], ...]  # (note text, dots in the session's voting rounds)
    cities: tuple[tuple[str, int], ...]  # (city, notes and comments written)


class NetworkMixin(WorkshopMixin, CoreMixin):
    """Peer consultations, built on the workshop sessions and the living labs."""

    def consultations(self, lab_id: str) -> list[WorkshopSession]:
        """The peer consultations held on a living lab (sessions of kind consultation), oldest
        first."""
        from workbench.store.judge import session_from_row as _session
        from workbench.store.schema import workshop_sessions

        with self.read() as conn:
            rows = (
                conn.execute(
                    select(workshop_sessions)
                    .where(
                        workshop_sessions.c.lab_id == lab_id,
                        workshop_sessions.c.kind == "consultation",
                    )
                    .order_by(workshop_sessions.c.created_at)
                )
                .mappings()
                .all()
            )
        return [_session(r) for r in rows]

    def consultation_record(self, session_id: str) -> ConsultationRecord:
        from workbench.store.schema import annotation_comments, annotation_votes

        session = self.get_session(session_id)
        guests = set(self.session_groups(session_id))
        lab = self.get_lab(session.lab_id)
        end = iso(session.ended_at or utcnow())
        start = iso(session.created_at)
        with self.read() as conn:
            questions = [
                _annotation(r)
                for r in conn.execute(
                    select(annotations_table)
                    .join(note_marks, note_marks.c.annotation_id == annotations_table.c.id)
                    .where(
                        annotations_table.c.lab_id == lab.id,
                        note_marks.c.kind == "question",
                        annotations_table.c.deleted_at.is_(None),
                    )
                    .order_by(annotations_table.c.created_at)
                ).mappings()
                if r["author"] not in guests
            ]
            notes = (
                conn.execute(
                    select(annotations_table)
                    .where(
                        annotations_table.c.lab_id == lab.id,
                        annotations_table.c.deleted_at.is_(None),
                        annotations_table.c.created_at >= start,
                        annotations_table.c.created_at <= end,
                    )
                    .order_by(annotations_table.c.created_at)
                )
                .mappings()
                .all()
            )
            comments = conn.execute(
                select(annotation_comments.c.author, annotation_comments.c.text)
                .join(
                    annotations_table, annotations_table.c.id == annotation_comments.c.annotation_id
                )
                .where(
                    annotations_table.c.lab_id == lab.id,
                    annotation_comments.c.deleted_at.is_(None),
                    annotation_comments.c.created_at >= start,
                    annotation_comments.c.created_at <= end,
                )
                .order_by(annotation_comments.c.created_at)
            ).all()
            dots: dict[str, int] = dict(
                conn.execute(
                    select(annotation_votes.c.annotation_id, func.count())
                    .where(
                        annotation_votes.c.lab_id == lab.id,
                        annotation_votes.c.created_at >= start,
                        annotation_votes.c.created_at <= end,
                    )
                    .group_by(annotation_votes.c.annotation_id)
                ).all()
            )
        answers = [(r["author"], "note", r["text"]) for r in notes if r["author"] in guests]
        answers += [(c.author, "comment", c.text) for c in comments if c.author in guests]
        texts = {r["id"]: r["text"] for r in notes} | {q.id: q.text for q in questions}
        counts = {city: sum(1 for a in answers if a[0] == city) for city in sorted(guests)}
        return ConsultationRecord(
            session=session,
            lab_title=lab.title,
            questions=tuple(questions),
            answers=tuple(answers),
            votes=tuple(
                sorted(((texts.get(i, "—"), int(n)) for i, n in dots.items()), key=lambda v: -v[1])
            ),
            cities=tuple(counts.items()),
        )

    # ---- lessons and questions ----------------------------------------------------------------
    def mark_note(
        self,
        annotation_id: str,
        kind: str,
        *,
        principles: tuple[str, ...] = (),
        sdg_targets: tuple[str, ...] = (),
        by: Actor | None = None,
        actor: str = "",
    ) -> NoteMark:
        """Mark a note as a lesson for the network or a question to peers (again: changes the
        kind and tags, keeps a question's status)."""
        if kind not in MARK_KINDS:
            raise ValidationError("network.error.kind", value=str(kind)[:20])
        principles = _codes(principles, PRINCIPLES, "network.error.principle")
        sdg_targets = _codes(sdg_targets, SDG_TARGETS, "network.error.sdg")
        name = clean_name(actor_name(by, actor) or "—", "author")
        with self.write() as conn:
            lab_id, author = _live_note(conn, annotation_id)
            authorize(conn, by, "annotation.edit", lab_id, author)
            row = (
                conn.execute(select(note_marks).where(note_marks.c.annotation_id == annotation_id))
                .mappings()
                .first()
            )
            values: dict[str, object] = dict(
                kind=kind,
                principles=dumps(list(principles)),
                sdg_targets=dumps(list(sdg_targets)),
                marked_by=name,
            )
            if row is None:
                values.update(annotation_id=annotation_id, status="open", marked_at=iso(utcnow()))
                conn.execute(insert(note_marks).values(values))
            else:
                conn.execute(
                    update(note_marks)
                    .where(note_marks.c.annotation_id == annotation_id)
                    .values(values)
                )
            bump_revision(conn, lab_id, annotation_ids=[annotation_id])
            stored = (
                conn.execute(select(note_marks).where(note_marks.c.annotation_id == annotation_id))
                .mappings()
                .one()
            )
        return _mark(stored)

    def unmark_note(self, annotation_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            lab_id, author = annotation_lab(conn, annotation_id)
            authorize(conn, by, "annotation.edit", lab_id, author)
            if conn.execute(
                delete(note_marks).where(note_marks.c.annotation_id == annotation_id)
            ).rowcount:
                bump_revision(conn, lab_id, annotation_ids=[annotation_id])

    def set_question_status(
        self, annotation_id: str, status: str, by: Actor | None = None
    ) -> NoteMark:
        """Mark a question answered (or open again); anyone who may comment on it may."""
        if status not in MARK_STATUSES:
            raise ValidationError("network.error.status", value=str(status)[:20])
        with self.write() as conn:
            lab_id, _author = _live_note(conn, annotation_id)
            authorize(conn, by, "comment.add", lab_id)
            done = conn.execute(
                update(note_marks)
                .where(note_marks.c.annotation_id == annotation_id, note_marks.c.kind == "question")
                .values(status=status)
            )
            if not done.rowcount:
                raise ValidationError("network.error.not_a_question")
            bump_revision(conn, lab_id, annotation_ids=[annotation_id])
            stored = (
                conn.execute(select(note_marks).where(note_marks.c.annotation_id == annotation_id))
                .mappings()
                .one()
            )
        return _mark(stored)

    def note_mark(self, annotation_id: str) -> NoteMark | None:
        with self.read() as conn:
            row = (
                conn.execute(select(note_marks).where(note_marks.c.annotation_id == annotation_id))
                .mappings()
                .first()
            )
        return _mark(row) if row else None

    def network_notes(
        self,
        network_id: str | None = None,
        *,
        kind: str | None = None,
        city_id: str | None = None,
        country: str | None = None,
        principle: str | None = None,
        sdg: str | None = None,
        status: str | None = None,
    ) -> list[NetworkNote]:
        """The lessons and questions of every living lab (of ``network_id``), newest first,
        filtered; deleted notes and labs that are no longer listed are left out."""
        listed = {lab.id: lab for lab in self.list_labs()}
        q = (
            select(
                note_marks,
                annotations_table,
                labs.c.title.label("lab_title"),
                labs.c.network_id,
                cities.c.id.label("city"),
                cities.c.name.label("city_name"),
                cities.c.country,
            )
            .join(annotations_table, annotations_table.c.id == note_marks.c.annotation_id)
            .join(labs, labs.c.id == annotations_table.c.lab_id)
            .join(cities, cities.c.id == labs.c.city_id)
            .where(annotations_table.c.deleted_at.is_(None))
            .order_by(note_marks.c.marked_at.desc())
        )
        if network_id:
            q = q.where(labs.c.network_id == network_id)
        if kind:
            q = q.where(note_marks.c.kind == kind)
        if status:
            q = q.where(note_marks.c.status == status)
        if city_id:
            q = q.where(labs.c.city_id == city_id)
        if country:
            q = q.where(cities.c.country == country.upper())
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        out = []
        for r in rows:
            mark = _mark(r)
            if r["lab_id"] not in listed:
                continue
            if principle and principle not in mark.principles:
                continue
            if sdg and sdg not in mark.sdg_targets:
                continue
            out.append(
                NetworkNote(
                    mark=mark,
                    annotation=_annotation(r),
                    lab_id=r["lab_id"],
                    lab_title=r["lab_title"],
                    city_name=r["city_name"],
                    country=r["country"],
                )
            )
        return out

    # ---- links between notes of different labs ------------------------------------------------
    def link_notes(
        self, from_id: str, to_id: str, by: Actor | None = None, actor: str = ""
    ) -> NoteLink:
        """Link a note ("tried here") to a note on another living lab ("relevant there").
        Linking the same pair again returns the first link."""
        if from_id == to_id:
            raise ValidationError("network.error.link_self")
        name = clean_name(actor_name(by, actor) or "—", "author")
        with self.write() as conn:
            lab_from, author = _live_note(conn, from_id)
            lab_to, _ = _live_note(conn, to_id)
            if lab_from == lab_to:
                raise ValidationError("network.error.link_same_lab")
            authorize(conn, by, "annotation.edit", lab_from, author)
            row: Record | None = (
                conn.execute(
                    select(note_links).where(
                        note_links.c.from_id == from_id, note_links.c.to_id == to_id
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                row = dict(
                    id=new_id(),
                    from_id=from_id,
                    to_id=to_id,
                    created_by=name,
                    created_at=iso(utcnow()),
                )
                conn.execute(insert(note_links).values(row))
                bump_revision(conn, lab_from, annotation_ids=[from_id])
                bump_revision(conn, lab_to, annotation_ids=[to_id])
        return _link(row)

    def unlink_notes(self, link_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            row = conn.execute(select(note_links).where(note_links.c.id == link_id)).first()
            if row is None:
                return
            lab_from, author = annotation_lab(conn, row.from_id)
            authorize(conn, by, "annotation.edit", lab_from, author)
            conn.execute(delete(note_links).where(note_links.c.id == link_id))
            bump_revision(conn, lab_from, annotation_ids=[row.from_id])
            lab_to, _ = annotation_lab(conn, row.to_id)
            bump_revision(conn, lab_to, annotation_ids=[row.to_id])

    def linked_notes(self, annotation_id: str) -> list[LinkedNote]:
        """Both directions of every link of a note, with the other note's lab and text."""
        with self.read() as conn:
            rows = (
                conn.execute(
                    select(note_links)
                    .where(
                        or_(
                            note_links.c.from_id == annotation_id,
                            note_links.c.to_id == annotation_id,
                        )
                    )
                    .order_by(note_links.c.created_at)
                )
                .mappings()
                .all()
            )
            out = []
            for r in rows:
                outgoing = r["from_id"] == annotation_id
                other = r["to_id"] if outgoing else r["from_id"]
                o = conn.execute(
                    select(
                        annotations_table.c.lab_id,
                        annotations_table.c.text,
                        annotations_table.c.deleted_at,
                        labs.c.title,
                    )
                    .join(labs, labs.c.id == annotations_table.c.lab_id)
                    .where(annotations_table.c.id == other)
                ).one()  # the link's notes are there: deleting a note deletes its links
                out.append(
                    LinkedNote(
                        link=_link(r),
                        annotation_id=other,
                        lab_id=o.lab_id,
                        lab_title=o.title,
                        text=o.text,
                        direction="tried_here" if outgoing else "relevant_there",
                        deleted=o.deleted_at is not None,
                    )
                )
        return out

    # ---- translations ---------------------------------------------------------------------------
    def add_translation(
        self, annotation_id: str, lang: str, text: str, by: Actor | None = None, actor: str = ""
    ) -> Translation:
        """Add (or replace) the note's text in ``lang``: anyone who may comment on the note may.
        A translation into the note's own language is refused."""
        lang = clean_lang(lang)
        text = clean_annotation_text(text)
        name = clean_name(actor_name(by, actor) or "—", "author")
        with self.write() as conn:
            lab_id, _author = _live_note(conn, annotation_id)
            authorize(conn, by, "comment.add", lab_id)
            own = conn.execute(
                select(annotations_table.c.lang).where(annotations_table.c.id == annotation_id)
            ).scalar()
            if own and own == lang:
                raise ValidationError("network.error.translation_own_language", lang=lang)
            conn.execute(
                delete(note_translations).where(
                    note_translations.c.annotation_id == annotation_id,
                    note_translations.c.lang == lang,
                )
            )
            values = dict(
                id=new_id(),
                annotation_id=annotation_id,
                lang=lang,
                text=text,
                author=name,
                created_at=iso(utcnow()),
            )
            conn.execute(insert(note_translations).values(values))
            bump_revision(conn, lab_id, annotation_ids=[annotation_id])
        return _translation(values)

    def translations(self, annotation_id: str) -> list[Translation]:
        with self.read() as conn:
            rows = (
                conn.execute(
                    select(note_translations)
                    .where(note_translations.c.annotation_id == annotation_id)
                    .order_by(note_translations.c.lang)
                )
                .mappings()
                .all()
            )
        return [_translation(r) for r in rows]

    def lab_translations(self, lab_id: str) -> dict[str, list[Translation]]:
        """Every translation of the lab's notes, by note id (one query, for the exports)."""
        with self.read() as conn:
            rows = (
                conn.execute(
                    select(note_translations)
                    .join(
                        annotations_table,
                        annotations_table.c.id == note_translations.c.annotation_id,
                    )
                    .where(annotations_table.c.lab_id == lab_id)
                    .order_by(note_translations.c.lang)
                )
                .mappings()
                .all()
            )
        out: dict[str, list[Translation]] = {}
        for r in rows:
            out.setdefault(r["annotation_id"], []).append(_translation(r))
        return out

    def text_for(self, annotation: Annotation, lang: str) -> tuple[str, Translation | None]:
        """What a reader of ``lang`` sees of a note: its translation into ``lang`` where there
        is one (returned, so the page can mark it and offer the original), else the original."""
        if annotation.lang == lang:
            return annotation.text, None
        found = next((tr for tr in self.translations(annotation.id) if tr.lang == lang), None)
        return (found.text, found) if found else (annotation.text, None)


def _codes(values: Iterable[object] | None, allowed: tuple[str, ...], key: str) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(str(v) for v in (values or ())))
    unknown = [v for v in found if v not in allowed]
    if unknown:
        raise ValidationError(key, value=unknown[0][:20])
    return found


def _live_note(conn: Connection, annotation_id: str) -> tuple[str, str]:
    row = conn.execute(
        select(
            annotations_table.c.lab_id, annotations_table.c.author, annotations_table.c.deleted_at
        ).where(annotations_table.c.id == annotation_id)
    ).first()
    if row is None or row.deleted_at is not None:
        raise NotFoundError("notfound.annotation")
    lab_id: str = row.lab_id
    author: str = row.author
    return lab_id, author


def _mark(r: Record) -> NoteMark:
    return NoteMark(
        annotation_id=r["annotation_id"],
        kind=r["kind"],
        principles=tuple(loads(r["principles"], [])),
        sdg_targets=tuple(loads(r["sdg_targets"], [])),
        status=r["status"],
        marked_by=r["marked_by"],
        marked_at=datetime.fromisoformat(r["marked_at"]),
    )


def _link(r: Record) -> NoteLink:
    return NoteLink(
        id=r["id"],
        from_id=r["from_id"],
        to_id=r["to_id"],
        created_by=r["created_by"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )


def _translation(r: Record) -> Translation:
    return Translation(
        id=r["id"],
        annotation_id=r["annotation_id"],
        lang=r["lang"],
        text=r["text"],
        author=r["author"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )
