"""Working on annotations together: comment threads, dot-votes with a per-round limit, and the
living lab's settings that a facilitator controls (vote limit, voting round).

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from workbench.access import Actor
from workbench.errors import NotFoundError, ValidationError
from workbench.model import DEFAULT_VOTE_LIMIT, Comment, Vote, utcnow
from workbench.settings import MAX_VOTE_LIMIT, MIN_VOTE_LIMIT
from workbench.store.base import Record, StoreBase, dumps, iso, loads
from workbench.store.core import clean_name, clean_text
from workbench.store.judge import actor_name, annotation_lab, authorize
from workbench.store.revision import bump_revision
from workbench.store.schema import (
    annotation_comments,
    annotation_votes,
    lab_settings,
    labs,
)
from workbench.store.schema import annotations as annotations_table


class ParticipationMixin(StoreBase):
    # ---- living lab settings ------------------------------------------------------------------
    def lab_setting(self, lab_id: str, key: str, default: Any = None) -> Any:
        """A setting of a living lab (JSON value), or ``default`` when it was never set (or
        set to None: a JSON null reads as unset on both databases)."""
        with self.read() as conn:
            return _setting(conn, lab_id, key, default)

    def set_lab_setting(self, lab_id: str, key: str, value: Any, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "lab.settings", lab_id)
            _set_setting(conn, lab_id, key, value)
            bump_revision(conn, lab_id, session=True)

    # ---- comments -----------------------------------------------------------------------------
    def add_comment(self, comment: Comment, by: Actor | None = None) -> Comment:
        """Add a comment to an annotation's thread; the same id again returns the first one."""
        c = replace(
            comment,
            author=clean_name(actor_name(by, comment.author) or "—", "author"),
            text=clean_text(comment.text, "text"),
        )
        if not c.text:
            raise ValidationError("annotate.error.comment_empty")
        with self.write() as conn:
            row = (
                conn.execute(select(annotation_comments).where(annotation_comments.c.id == c.id))
                .mappings()
                .first()
            )
            if row is not None:
                return _comment(row)
            lab_id = _live_annotation(conn, c.annotation_id)
            authorize(conn, by, "comment.add", lab_id)
            conn.execute(
                insert(annotation_comments).values(
                    id=c.id,
                    annotation_id=c.annotation_id,
                    author=c.author,
                    text=c.text,
                    created_at=iso(c.created_at),
                    deleted_at=None,
                )
            )
            bump_revision(conn, lab_id, annotation_ids=[c.annotation_id])
        return c

    def list_comments(self, annotation_id: str) -> list[Comment]:
        """An annotation's comment thread, oldest first (deleted comments left out)."""
        q = (
            select(annotation_comments)
            .where(
                annotation_comments.c.annotation_id == annotation_id,
                annotation_comments.c.deleted_at.is_(None),
            )
            .order_by(annotation_comments.c.created_at)
        )
        with self.read() as conn:
            return [_comment(r) for r in conn.execute(q).mappings()]

    def comment_counts(self, lab_id: str) -> dict[str, int]:
        """Number of comments per annotation of a living lab (annotations without: absent)."""
        q = (
            select(annotation_comments.c.annotation_id, func.count())
            .join(annotations_table, annotations_table.c.id == annotation_comments.c.annotation_id)
            .where(annotations_table.c.lab_id == lab_id, annotation_comments.c.deleted_at.is_(None))
            .group_by(annotation_comments.c.annotation_id)
        )
        with self.read() as conn:
            return {aid: int(n) for aid, n in conn.execute(q)}

    def delete_comment(self, comment_id: str, by: Actor | None = None) -> None:
        """Hide a comment (moderation, or a participant their group's own); it stays in the
        database, marked deleted, and :meth:`restore_comment` brings it back."""
        with self.write() as conn:
            lab_id, annotation_id = _authorize_comment(conn, by, comment_id)
            if conn.execute(
                update(annotation_comments)
                .where(
                    annotation_comments.c.id == comment_id,
                    annotation_comments.c.deleted_at.is_(None),
                )
                .values(deleted_at=iso(utcnow()))
            ).rowcount:
                bump_revision(conn, lab_id, annotation_ids=[annotation_id])

    def restore_comment(self, comment_id: str, by: Actor | None = None) -> None:
        """Show a hidden comment again."""
        with self.write() as conn:
            lab_id, annotation_id = _authorize_comment(conn, by, comment_id)
            if conn.execute(
                update(annotation_comments)
                .where(
                    annotation_comments.c.id == comment_id,
                    annotation_comments.c.deleted_at.is_not(None),
                )
                .values(deleted_at=None)
            ).rowcount:
                bump_revision(conn, lab_id, annotation_ids=[annotation_id])

    # ---- votes --------------------------------------------------------------------------------
    def vote_limit(self, lab_id: str) -> int:
        """Dots each participant may give per round (default ``DEFAULT_VOTE_LIMIT``)."""
        return int(self.lab_setting(lab_id, "vote_limit", DEFAULT_VOTE_LIMIT))

    def set_vote_limit(self, lab_id: str, limit: int, by: Actor | None = None) -> None:
        """The facilitator's limit of dots per participant and round (``MIN_VOTE_LIMIT`` to
        ``MAX_VOTE_LIMIT``)."""
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not MIN_VOTE_LIMIT <= limit <= MAX_VOTE_LIMIT
        ):
            raise ValidationError("annotate.error.vote_limit_range", limit=MAX_VOTE_LIMIT)
        self.set_lab_setting(lab_id, "vote_limit", limit, by=by)

    def vote_round(self, lab_id: str) -> int:
        """The current voting round of a living lab (1 until the facilitator starts another)."""
        return int(self.lab_setting(lab_id, "vote_round", 1))

    def start_vote_round(self, lab_id: str, by: Actor | None = None) -> int:
        """Start a new voting round (everyone has all their dots again); returns its number."""
        with self.write() as conn:
            authorize(conn, by, "lab.settings", lab_id)
            number = next_vote_round(conn, lab_id)
            bump_revision(conn, lab_id, all_annotations=True, session=True)
        return number

    def cast_vote(self, vote: Vote, by: Actor | None = None) -> Vote:
        """Put one dot on an annotation in the living lab's current round.

        Idempotent by ``vote.id`` (a double click stores one dot). Raises
        :class:`ValidationError` ``vote.limit_reached`` when the voter has used all dots of the
        round; dots on deleted annotations do not count.
        """
        voter = clean_name(actor_name(by, vote.voter) or "", "author")
        with self.write() as conn:
            row = (
                conn.execute(select(annotation_votes).where(annotation_votes.c.id == vote.id))
                .mappings()
                .first()
            )
            if row is not None:
                return _vote(row)
            lab_id = _live_annotation(conn, vote.annotation_id)
            authorize(conn, by, "vote.cast", lab_id)
            number, limit = _round_and_limit(conn, lab_id)
            if _votes_used(conn, lab_id, number, voter) >= limit:
                raise ValidationError("annotate.error.vote_limit_reached", limit=limit)
            stored = replace(vote, voter=voter, round=number)
            conn.execute(
                insert(annotation_votes).values(
                    id=stored.id,
                    annotation_id=stored.annotation_id,
                    lab_id=lab_id,
                    voter=voter,
                    round=number,
                    created_at=iso(stored.created_at),
                )
            )
            bump_revision(conn, lab_id, annotation_ids=[stored.annotation_id])
        return stored

    def retract_vote(self, annotation_id: str, voter: str, by: Actor | None = None) -> bool:
        """Take back one of the voter's dots on an annotation in the current round."""
        voter = _voter(actor_name(by, voter))
        with self.write() as conn:
            lab_id = _live_annotation(conn, annotation_id)
            authorize(conn, by, "vote.retract", lab_id)
            number = int(_setting(conn, lab_id, "vote_round", 1))
            vote_id = conn.execute(
                select(annotation_votes.c.id)
                .where(
                    annotation_votes.c.annotation_id == annotation_id,
                    annotation_votes.c.voter == voter,
                    annotation_votes.c.round == number,
                )
                .order_by(annotation_votes.c.created_at.desc())
                .limit(1)
            ).scalar()
            if vote_id is None:
                return False
            conn.execute(delete(annotation_votes).where(annotation_votes.c.id == vote_id))
            bump_revision(conn, lab_id, annotation_ids=[annotation_id])
        return True

    def votes_left(self, lab_id: str, voter: str) -> int:
        """Dots the voter can still give in the current round."""
        voter = _voter(voter)
        with self.read() as conn:
            number, limit = _round_and_limit(conn, lab_id)
            return max(0, limit - _votes_used(conn, lab_id, number, voter))

    def vote_totals(
        self,
        lab_id: str,
        round: int | None = None,
        voter: str | None = None,
        all_rounds: bool = False,
    ) -> dict[str, int]:
        """Dots per annotation in a round (default: the current one), or in every round
        together with ``all_rounds``; ``voter`` counts only that participant's dots.
        Annotations without dots are absent."""
        with self.read() as conn:
            number = round if round is not None else int(_setting(conn, lab_id, "vote_round", 1))
            q = (
                select(annotation_votes.c.annotation_id, func.count())
                .where(annotation_votes.c.lab_id == lab_id)
                .group_by(annotation_votes.c.annotation_id)
            )
            if not all_rounds:
                q = q.where(annotation_votes.c.round == number)
            if voter is not None:
                q = q.where(annotation_votes.c.voter == _voter(voter))
            return {aid: int(n) for aid, n in conn.execute(q)}


def _authorize_comment(conn: Connection, by: Actor | None, comment_id: str) -> tuple[str, str]:
    """(lab id, annotation id) of a comment ``by`` may hide or show again."""
    row = conn.execute(
        select(annotation_comments.c.annotation_id, annotation_comments.c.author).where(
            annotation_comments.c.id == comment_id
        )
    ).first()
    if row is None:
        raise NotFoundError("workshop.error.comment_missing")
    lab_id, _ = annotation_lab(conn, row.annotation_id)
    authorize(conn, by, "comment.delete", lab_id, owner=row.author)
    return lab_id, row.annotation_id


def next_vote_round(conn: Connection, lab_id: str, at_least: int = 0) -> int:
    """Start the lab's next voting round in ``conn`` (the caller authorized it) and return its
    number: one more than the last, or ``at_least`` when that is more (a workshop's vote round
    takes the workshop round's number, so phones and the facilitator name the same round).
    Every annotation's vote count starts again: the caller bumps the revision with
    ``all_annotations=True`` in the same transaction."""
    number = max(int(_setting(conn, lab_id, "vote_round", 1)) + 1, at_least)
    _set_setting(conn, lab_id, "vote_round", number)
    return number


def _voter(name: str | None) -> str:
    """A voter's name as ``cast_vote`` stores it (whitespace collapsed)."""
    return " ".join((name or "").split())


def _live_annotation(conn: Connection, annotation_id: str) -> str:
    """The lab id of an annotation that exists and is not deleted."""
    row = conn.execute(
        select(annotations_table.c.lab_id, annotations_table.c.deleted_at).where(
            annotations_table.c.id == annotation_id
        )
    ).first()
    if row is None or row.deleted_at is not None:
        raise NotFoundError("notfound.annotation")
    lab_id: str = row.lab_id
    return lab_id


def _votes_used(conn: Connection, lab_id: str, number: int, voter: str) -> int:
    q = (
        select(func.count())
        .select_from(annotation_votes)
        .join(annotations_table, annotations_table.c.id == annotation_votes.c.annotation_id)
        .where(
            annotation_votes.c.lab_id == lab_id,
            annotation_votes.c.round == number,
            annotation_votes.c.voter == voter,
            annotations_table.c.deleted_at.is_(None),
        )
    )
    return int(conn.execute(q).scalar() or 0)


def _setting(conn: Connection, lab_id: str, key: str, default: Any) -> Any:
    value = conn.execute(
        select(lab_settings.c.value).where(
            lab_settings.c.lab_id == lab_id, lab_settings.c.key == key
        )
    ).scalar()
    found = None if value is None else loads(value)
    return default if found is None else found


def _round_and_limit(conn: Connection, lab_id: str) -> tuple[int, int]:
    """The living lab's current voting round and dots per participant, in one query."""
    found = {
        key: loads(value)
        for key, value in conn.execute(
            select(lab_settings.c.key, lab_settings.c.value).where(
                lab_settings.c.lab_id == lab_id,
                lab_settings.c.key.in_(("vote_round", "vote_limit")),
            )
        )
    }
    return (int(found.get("vote_round", 1)), int(found.get("vote_limit", DEFAULT_VOTE_LIMIT)))


def _set_setting(conn: Connection, lab_id: str, key: str, value: Any) -> None:
    if conn.execute(select(labs.c.id).where(labs.c.id == lab_id)).first() is None:
        raise NotFoundError("notfound.lab")
    conn.execute(
        delete(lab_settings).where(lab_settings.c.lab_id == lab_id, lab_settings.c.key == key)
    )
    conn.execute(insert(lab_settings).values(lab_id=lab_id, key=key, value=dumps(value)))


def _comment(r: Record) -> Comment:
    return Comment(
        id=r["id"],
        annotation_id=r["annotation_id"],
        author=r["author"],
        text=r["text"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )


def _vote(r: Record) -> Vote:
    return Vote(
        id=r["id"],
        annotation_id=r["annotation_id"],
        voter=r["voter"],
        round=r["round"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )
