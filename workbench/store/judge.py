"""The permission judge: :func:`authorize`, which every guarded write of the store calls inside
its transaction, and the few readers of sessions and rounds it needs.

It owns the rules' application to the database (who is in which session, which phase a living
lab is in); the rules themselves are ``workbench.access``'s. It must not write anything, and it
imports nothing of the store but its schema and row helpers, so every store module can use it.

How a write is judged (see ``workbench.access`` for the matrix):

* ``by`` is an :class:`~workbench.access.Actor`: its role must allow the action, the session's
  phase on the living lab must allow it, a participant must belong to the living lab's active
  session, and a participant's own-item actions need the item to be their group's.
* ``by`` is None (the app in a workspace without a passcode: the local single-user mode):
  allowed as the workspace's owner while the living lab has no active session and the workspace
  has no passcode; during a session, or once a passcode protects the workspace, such an
  anonymous write is refused. The command line, the demo seeding and scripts pass
  ``access.SYSTEM`` (the operator, an owner) instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, RowMapping, select

from workbench.access import ACTIONS, Actor, check
from workbench.errors import NotFoundError, PermissionDenied
from workbench.model import WorkshopRound, WorkshopSession, utcnow
from workbench.store.base import from_iso, iso
from workbench.store.schema import annotations as annotations_table
from workbench.store.schema import (
    workshop_members,
    workshop_rounds,
    workshop_sessions,
    workspace_settings,
)


class Phase(NamedTuple):
    """A living lab's workshop phase now: ``open`` without a session or between rounds,
    ``paused``, else the running round's kind; ``locked``: editing is locked (discuss)."""

    name: str
    locked: bool


OPEN = Phase("open", False)


def authorize(
    conn: Connection, by: Actor | None, action: str, lab_id: str | None, owner: str | None = None
) -> None:
    """Raise :class:`PermissionDenied` unless ``by`` may take ``action`` on ``lab_id`` now.

    ``lab_id`` None: a workspace-wide action (judged against every active session);
    ``owner``: the group that wrote the annotation or comment acted on.
    """
    session = active_session_row(conn, lab_id) if lab_id else any_active_session(conn)
    if by is None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if session is not None:
            raise PermissionDenied("workshop.denied.anonymous")
        if is_protected(conn):
            raise PermissionDenied("guard.denied.protected")
        return
    phase = OPEN if session is None else phase_of(conn, session["id"])
    if by.role == "participant":
        require_member(conn, by, session)
    check(by, action, phase=phase.name, owner=owner, lock_edits=phase.locked)


def require_member(conn: Connection, by: Actor, session: RowMapping | None) -> None:
    """Raise :class:`PermissionDenied` unless the participant ``by`` is a member of the running
    ``session``, in the group they name."""
    if session is None or by.session_id != session["id"]:
        raise PermissionDenied("workshop.denied.not_in_session")
    member = conn.execute(
        select(workshop_members.c.group_name).where(
            workshop_members.c.id == (by.member_id or ""),
            workshop_members.c.session_id == session["id"],
        )
    ).scalar()
    if member is None or member != by.group:
        raise PermissionDenied("workshop.denied.not_in_session")


def is_protected(conn: Connection) -> bool:
    """Whether an owner passcode protects the workspace (then ``by=None`` is refused)."""
    return (
        conn.execute(
            select(workspace_settings.c.key).where(workspace_settings.c.key == "passcode.owner")
        ).first()
        is not None
    )


def actor_name(by: Actor | None, given: str) -> str:
    """The name recorded for a write: a participant's group always; else what was given."""
    if by is not None and by.role == "participant":
        return by.group
    return given or (by.group if by is not None and by.group else given)


def active_session_row(conn: Connection, lab_id: str) -> RowMapping | None:
    """The living lab's active (not ended, not expired) session's row, or None."""
    now = iso(utcnow())
    return (
        conn.execute(
            select(workshop_sessions).where(
                workshop_sessions.c.lab_id == lab_id,
                workshop_sessions.c.status == "active",
                workshop_sessions.c.expires_at > now,
            )
        )
        .mappings()
        .first()
    )


def any_active_session(conn: Connection) -> RowMapping | None:
    """Some active session's row in the workspace, or None."""
    return (
        conn.execute(
            select(workshop_sessions).where(
                workshop_sessions.c.status == "active",
                workshop_sessions.c.expires_at > iso(utcnow()),
            )
        )
        .mappings()
        .first()
    )


def current_round_row(conn: Connection, session_id: str) -> RowMapping | None:
    """The session's running or paused round's row, or None between rounds."""
    return (
        conn.execute(
            select(workshop_rounds)
            .where(workshop_rounds.c.session_id == session_id, workshop_rounds.c.status != "ended")
            .order_by(workshop_rounds.c.number.desc())
        )
        .mappings()
        .first()
    )


def phase_of(conn: Connection, session_id: str) -> Phase:
    """The session's :class:`Phase` now."""
    row = current_round_row(conn, session_id)
    if row is None:
        return OPEN
    if row["status"] == "paused":
        return Phase("paused", False)
    return Phase(row["kind"], bool(row["lock_edits"]))


def annotation_lab(conn: Connection, annotation_id: str) -> tuple[str, str]:
    """(lab id, author) of an annotation, deleted or not."""
    row = conn.execute(
        select(annotations_table.c.lab_id, annotations_table.c.author).where(
            annotations_table.c.id == annotation_id
        )
    ).first()
    if row is None:
        raise NotFoundError("notfound.annotation")
    return row.lab_id, row.author


def session_from_row(r: RowMapping) -> WorkshopSession:
    return WorkshopSession(
        id=r["id"],
        lab_id=r["lab_id"],
        title=r["title"],
        expires_at=datetime.fromisoformat(r["expires_at"]),
        status=r["status"],
        created_by=r["created_by"],
        created_at=datetime.fromisoformat(r["created_at"]),
        ended_at=from_iso(r["ended_at"]),
        kind=r.get("kind") or "workshop",
    )


def round_from_row(r: RowMapping) -> WorkshopRound:
    return WorkshopRound(
        id=r["id"],
        session_id=r["session_id"],
        number=r["number"],
        kind=r["kind"],
        status=r["status"],
        started_at=datetime.fromisoformat(r["started_at"]),
        minutes=r["minutes"],
        lock_edits=bool(r["lock_edits"]),
        paused_at=from_iso(r["paused_at"]),
        paused_seconds=float(r["paused_seconds"] or 0),
        ended_at=from_iso(r["ended_at"]),
        snapshot_id=r["snapshot_id"],
    )
