"""Revisions and deltas for live maps: what changed on a living lab since revision N.

Every write that changes what a lab's map, list or presenter view shows bumps the lab's revision
in its own transaction (``store.revision.bump_revision``) and stamps the annotations it changed
(``annotations.rev``) or the session state (``labs.session_rev``). A reader asks for
:meth:`LiveMixin.live_rows` since its last revision and gets every note with
``since < rev <= revision``, read in one read transaction together with ``revision``, so a row
committed after that read carries a higher revision and comes with the next delta: nothing is
missed and nothing is sent twice.

Who may read: :func:`authorize_read`. A passcode-protected workspace gives nothing to a reader
without an actor (``by=None``); the live route must turn its signed token into the session's
:class:`~workbench.access.Actor` and pass it. A participant reads only the lab of their session.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction. The map's features are built above it
(``workbench.live.changes_since``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from workbench.access import Actor
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.model import DEFAULT_VOTE_LIMIT, Annotation, Category
from workbench.store.base import StoreBase, iso, loads
from workbench.store.judge import (
    active_session_row,
    current_round_row,
    is_protected,
    phase_of,
    require_member,
    round_from_row,
    session_from_row,
)
from workbench.store.schema import (
    annotation_categories,
    annotation_comments,
    annotation_votes,
    lab_settings,
    labs,
    workshop_members,
)
from workbench.store.schema import annotations as annotations_table


def authorize_read(conn: Connection, by: Actor | None, lab_id: str) -> bool:
    """Raise :class:`PermissionDenied` unless ``by`` may read ``lab_id``'s map now; return
    whether they may also see hidden (moderated) notes.

    ``by`` None is the local single-user mode: refused once a passcode protects the workspace;
    an owner (moderates) while the lab has no active session, else a plain reader. A
    participant must be a member of the lab's active session (as for writes)."""
    session = active_session_row(conn, lab_id)
    if by is None:
        if is_protected(conn):
            raise PermissionDenied("live.error.sign_in")
        return session is None
    if by.role == "participant":
        require_member(conn, by, session)
    return by.can_moderate


class LiveMixin(StoreBase):
    def lab_revision(self, lab_id: str) -> int:
        """The lab's current revision (one indexed read; for a cheap "anything new?" check)."""
        with self.read() as conn:
            revision = conn.execute(select(labs.c.revision).where(labs.c.id == lab_id)).scalar()
        if revision is None:
            raise NotFoundError("notfound.lab")
        return int(revision)

    def lab_revisions(self, lab_ids: list[str]) -> dict[str, int]:
        """The current revision of each of ``lab_ids`` that exists (one query: the live
        channel's once-a-second look for writes of other processes)."""
        with self.read() as conn:
            return {
                lab: int(rev)
                for lab, rev in conn.execute(
                    select(labs.c.id, labs.c.revision).where(labs.c.id.in_(list(lab_ids)))
                )
            }

    def live_access(self, lab_id: str, by: Actor | None) -> bool:
        """Whether ``by`` may read ``lab_id``'s map now (:func:`authorize_read` raises if not);
        True when they may also see hidden notes. The live channel asks it before every delta
        it sends a reader, so a participant whose session ended gets nothing more."""
        with self.read() as conn:
            if conn.execute(select(labs.c.id).where(labs.c.id == lab_id)).first() is None:
                raise NotFoundError("notfound.lab")
            return authorize_read(conn, by, lab_id)

    def live_rows(
        self, lab_id: str, since: int, by: Actor | None = None, *, colour_by: str = "category"
    ) -> LiveRows:
        """What changed on ``lab_id``'s map after revision ``since`` (0: the full state), as
        records: ``workbench.live.changes_since`` turns them into the map's features.

        Hidden notes go, flagged by their ``deleted_at``, only to readers who may moderate; for
        others they are ``removed``. A ``since`` newer than the lab's revision (a client from
        before a database restore) gets the full state with ``reset=True``. Raises
        :class:`ValidationError` for a ``since`` that is not a whole number >= 0,
        :class:`NotFoundError` for an unknown lab and :class:`PermissionDenied` (see
        :func:`authorize_read`)."""
        from workbench.store.annotations import _annotation

        if isinstance(since, bool) or not isinstance(since, int):
            raise ValidationError("live.error.since_invalid")
        if since < 0:
            raise ValidationError("live.error.since_negative", since=since)
        if colour_by not in ("category", "group"):
            raise ValidationError("live.error.colour_by", value=colour_by)
        with self.read() as conn:
            lab = conn.execute(
                select(labs.c.revision, labs.c.session_rev).where(labs.c.id == lab_id)
            ).first()
            if lab is None:
                raise NotFoundError("notfound.lab")
            moderates = authorize_read(conn, by, lab_id)
            revision = int(lab.revision)
            reset = since == 0 or since > revision
            start = 0 if reset else since
            query = select(annotations_table).where(
                annotations_table.c.lab_id == lab_id, annotations_table.c.rev <= revision
            )
            if not reset:  # the full state includes rows from before migration 6 (rev 0)
                query = query.where(annotations_table.c.rev > start)
            rows = conn.execute(query.order_by(annotations_table.c.created_at)).mappings().all()
            shown = [r for r in rows if r["deleted_at"] is None or (moderates and r["hidden"])]
            ids = [r["id"] for r in shown]
            votes, comments, totals, number = _counts(conn, lab_id, ids)
            categories = _categories(conn)
            groups: list[str] | None = None
            palette: dict[str, str] | None = None
            if colour_by == "group":
                groups, palette = _group_order(conn, lab_id)
            session = (
                _session_state(conn, lab_id) if reset or start < int(lab.session_rev) else None
            )
            live_count = int(
                conn.execute(
                    select(func.count())
                    .select_from(annotations_table)
                    .where(
                        annotations_table.c.lab_id == lab_id,
                        annotations_table.c.deleted_at.is_(None),
                    )
                ).scalar()
                or 0
            )
        shown_ids = set(ids)
        removed = () if reset else tuple(r["id"] for r in rows if r["id"] not in shown_ids)
        return LiveRows(
            revision=revision,
            notes=tuple(_annotation(r) for r in shown),
            removed=removed,
            session=session,
            reset=reset,
            votes=votes,
            comments=comments,
            votes_total=totals,
            vote_round=number,
            categories=tuple(categories),
            groups=groups,
            group_palette=palette,
            live_count=live_count,
        )


@dataclass(frozen=True)
class LiveRows:
    """The records of one delta (:meth:`LiveMixin.live_rows`): ``notes`` to add or replace
    (hidden ones, for moderators, with their ``deleted_at``), ids ``removed``, the workshop
    ``session`` state when it changed, and what the map's features are drawn with."""

    revision: int
    notes: tuple[Annotation, ...]
    removed: tuple[str, ...]
    session: dict[str, Any] | None
    reset: bool
    votes: dict[str, int]
    comments: dict[str, int]
    votes_total: dict[str, int]
    vote_round: int
    categories: tuple[Category, ...]
    groups: list[str] | None
    group_palette: dict[str, str] | None
    #: notes on the lab's map now (not deleted): many of them are drawn simplified
    live_count: int


def _counts(
    conn: Connection, lab_id: str, ids: list[str]
) -> tuple[dict[str, int], dict[str, int], dict[str, int], int]:
    """(votes in the current round, comments, votes in all rounds) per annotation id of
    ``ids``, and the current round's number."""
    number = conn.execute(
        select(lab_settings.c.value).where(
            lab_settings.c.lab_id == lab_id, lab_settings.c.key == "vote_round"
        )
    ).scalar()
    number = int(loads(number)) if number is not None else 1
    if not ids:
        return {}, {}, {}, number
    votes: dict[str, int] = {}
    totals: dict[str, int] = {}
    for aid, rnd, n in conn.execute(
        select(annotation_votes.c.annotation_id, annotation_votes.c.round, func.count())
        .where(annotation_votes.c.lab_id == lab_id, annotation_votes.c.annotation_id.in_(ids))
        .group_by(annotation_votes.c.annotation_id, annotation_votes.c.round)
    ):
        totals[aid] = totals.get(aid, 0) + int(n)
        if rnd == number:
            votes[aid] = int(n)
    comments = {
        aid: int(n)
        for aid, n in conn.execute(
            select(annotation_comments.c.annotation_id, func.count())
            .where(
                annotation_comments.c.annotation_id.in_(ids),
                annotation_comments.c.deleted_at.is_(None),
            )
            .group_by(annotation_comments.c.annotation_id)
        )
    }
    return votes, comments, totals, number


def _categories(conn: Connection) -> list[Category]:
    q = select(annotation_categories).order_by(
        annotation_categories.c.position, annotation_categories.c.code
    )
    return [
        Category(code=r["code"], colour=r["colour"], labels=loads(r["labels"], {}))
        for r in conn.execute(q).mappings()
    ]


def _group_order(conn: Connection, lab_id: str) -> tuple[list[str], dict[str, str]]:
    """The groups in the order the map page colours them (authors of the lab's notes, oldest
    first) and the colours the active session's groups chose."""
    groups = list(
        conn.execute(
            select(annotations_table.c.author)
            .where(annotations_table.c.lab_id == lab_id, annotations_table.c.deleted_at.is_(None))
            .order_by(annotations_table.c.created_at)
        ).scalars()
    )
    session = active_session_row(conn, lab_id)
    palette: dict[str, str] = {}
    if session is not None:
        for name, colour in conn.execute(
            select(workshop_members.c.group_name, workshop_members.c.colour)
            .where(workshop_members.c.session_id == session["id"])
            .order_by(workshop_members.c.created_at)
        ):
            palette.setdefault(name, colour)
    return groups, palette


def _session_state(conn: Connection, lab_id: str) -> dict[str, Any]:
    """The lab's workshop state as plain JSON values: the active session (or None), its
    running or paused round (or None), the phase, whether edits are locked, the voting round
    and limit. A pure function of the stored rows (no clock): the timer is given as the
    round's times (``WorkshopRound.remaining_seconds`` from them), so a client counts down
    itself and equal revisions give equal states."""
    row = active_session_row(conn, lab_id)
    settings = {
        key: loads(value)
        for key, value in conn.execute(
            select(lab_settings.c.key, lab_settings.c.value).where(
                lab_settings.c.lab_id == lab_id,
                lab_settings.c.key.in_(("vote_round", "vote_limit", "workshop_view")),
            )
        )
    }
    state: dict[str, Any] = {
        "session": None,
        "round": None,
        "phase": "open",
        "lock_edits": False,
        "vote_round": int(settings.get("vote_round", 1)),
        "vote_limit": int(settings.get("vote_limit", DEFAULT_VOTE_LIMIT)),
        "view": settings.get("workshop_view") or {},  # the facilitator's extent and layers
    }
    if row is None:
        return state
    session = session_from_row(row)
    state["session"] = {
        "id": session.id,
        "title": session.title,
        "status": session.status,
        "expires_at": iso(session.expires_at),
    }
    state["phase"], state["lock_edits"] = phase_of(conn, session.id)
    current = current_round_row(conn, session.id)
    if current is not None:
        r = round_from_row(current)
        state["round"] = {
            "id": r.id,
            "number": r.number,
            "kind": r.kind,
            "status": r.status,
            "minutes": r.minutes,
            "started_at": iso(r.started_at),
            "paused_at": iso(r.paused_at),
            "paused_seconds": r.paused_seconds,
        }
    return state


__all__ = ["LiveMixin", "LiveRows", "authorize_read"]
