"""Workshops and access: the workspace's passcodes and roles, workshop sessions on a living lab
(join links, members, rounds with a timer) and the moderation of comments.

It must not judge permissions itself beyond "runs sessions" (that is ``store.judge``), and it
takes no snapshot: a round end with its snapshot is ``workbench.workshop.end_round``, which hands
the snapshot to :meth:`WorkshopMixin.close_round` to store in the same transaction.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import Connection, delete, func, insert, select, update

from workbench.access import (
    GROUP_COLOURS,
    ROLES,
    ROUND_KINDS,
    Actor,
    backoff_seconds,
    clean_join_code,
    group_key,
    hash_passcode,
    join_code,
    new_member_token,
    read_join_token,
    sign_join_token,
    token_hash,
    verify_passcode,
)
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.model import (
    SESSION_KINDS,
    Snapshot,
    WorkshopMember,
    WorkshopRound,
    WorkshopSession,
    new_id,
    strip_controls,
    utcnow,
)
from workbench.settings import (
    DEFAULT_SESSION_HOURS,
    MAX_GROUP_NAME_CHARS,
    MAX_ROUND_MINUTES,
    MAX_SESSION_HOURS,
)
from workbench.store.base import StoreBase, from_iso, iso
from workbench.store.core import clean_name, insert_snapshot
from workbench.store.judge import (
    OPEN,
    Phase,
    active_session_row,
    authorize,
    current_round_row,
    is_protected,
    phase_of,
    round_from_row,
    session_from_row,
)
from workbench.store.revision import bump_revision
from workbench.store.schema import (
    access_attempts,
    annotation_comments,
    labs,
    workshop_members,
    workshop_rounds,
    workshop_sessions,
    workspace_roles,
    workspace_settings,
)
from workbench.store.schema import annotations as annotations_table


class HiddenComment(TypedDict):
    """A comment a moderator hid (:meth:`WorkshopMixin.list_hidden_comments`): its row."""

    id: str
    annotation_id: str
    author: str
    text: str
    created_at: str  # ISO 8601
    deleted_at: str


class WorkshopMixin(StoreBase):
    # ---- workspace settings, passcodes and roles ------------------------------------------------
    def _workspace_value(self, conn: Connection, key: str) -> str | None:
        return conn.execute(
            select(workspace_settings.c.value).where(workspace_settings.c.key == key)
        ).scalar()

    def _set_workspace_value(self, conn: Connection, key: str, value: str) -> None:
        conn.execute(delete(workspace_settings).where(workspace_settings.c.key == key))
        conn.execute(insert(workspace_settings).values(key=key, value=value))

    def join_secret(self) -> bytes:
        """The workspace's secret for signing join links (made on first use, kept in the DB)."""
        with self.read() as conn:
            value = self._workspace_value(conn, "join_secret")
        if value is None:
            with self.write() as conn:
                value = self._workspace_value(conn, "join_secret")
                if value is None:
                    value = secrets.token_hex(32)
                    self._set_workspace_value(conn, "join_secret", value)
        return bytes.fromhex(value)

    def require_permission(self, by: Actor | None, action: str, lab_id: str | None = None) -> None:
        """Raise :class:`PermissionDenied` unless ``by`` may take ``action`` (on ``lab_id``)
        now: the same judge as the store's own writes, for writes outside the database (the OSM
        cache files of ``opendata.osm.import_extract``/``fetch_themes``), called before them."""
        with self.read() as conn:
            authorize(conn, by, action, lab_id)

    def is_protected(self) -> bool:
        """Whether the workspace has an owner passcode (then visitors are viewers)."""
        with self.read() as conn:
            return is_protected(conn)

    def set_passcode(self, role: str, passcode: str, by: Actor | None = None) -> None:
        """Set the passcode that signs in as ``role`` (owner or facilitator), stored as a salted
        hash. Only an owner sets passcodes; in a workspace without one that is the operator
        (``access.SYSTEM``: the command line, or the app after ``hosting.operator``), never an
        anonymous visitor, so nobody can claim an open workspace."""
        if role not in ("owner", "facilitator"):
            raise ValidationError("workshop.error.role", value=role)
        hashed = hash_passcode(passcode)
        with self.write() as conn:
            protected = self._workspace_value(conn, "passcode.owner") is not None
            if not protected and role != "owner":
                raise ValidationError("workshop.error.owner_first")
            if by is None or not by.may("workspace.admin"):
                raise PermissionDenied(
                    "workshop.denied.owner_only" if protected else "hosting.error.operator_only"
                )
            self._set_workspace_value(conn, f"passcode.{role}", hashed)

    def passcode_stamp(self) -> str | None:
        """A short fingerprint of the owner passcode's stored hash (None without one). A
        sign-in keeps it; once the operator resets or the owner changes that passcode, the
        stamp differs and the signed-in tabs are signed out."""
        with self.read() as conn:
            stored = self._workspace_value(conn, "passcode.owner")
        return token_hash(stored)[:16] if stored else None

    def reset_passcodes(self, by: Actor) -> None:
        """Remove the owner and facilitator passcodes and every client's failed attempts (the
        operator's ``workbench passcode reset``): the workspace is unprotected again until
        ``workbench passcode set`` or the set-up gives it a new owner passcode."""
        if by is None or not by.may("workspace.admin"):
            raise PermissionDenied("hosting.error.operator_only")
        with self.write() as conn:
            conn.execute(
                delete(workspace_settings).where(
                    workspace_settings.c.key.in_(("passcode.owner", "passcode.facilitator"))
                )
            )
            conn.execute(delete(access_attempts))

    def sign_in(
        self, passcode: str, client: str, name: str = "", now: datetime | None = None
    ) -> Actor:
        """An owner or facilitator :class:`Actor` for a right passcode, named ``name`` (its
        ``group``; empty when no name was given).

        Attempts are counted per ``client`` (a hashed address, see ``access.client_key``),
        never for the workspace as a whole, so nobody can lock the owner out from elsewhere.
        Each attempt is counted as a failure BEFORE the passcode is checked, in the same write
        transaction that reads the client's wait (the workspace's write lock: SQLite's
        ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock); a right passcode
        then clears the count. So parallel guesses cannot share one free check: once the free
        attempts are used, every attempt (right or wrong) is refused for a doubling wait
        (``workshop.error.wait``, with ``seconds``) without being checked."""
        now = now or utcnow()
        with self.write() as conn:
            hashes = {
                role: self._workspace_value(conn, f"passcode.{role}")
                for role in ("owner", "facilitator")
            }
            wait = _locked_for(conn, client, now) if hashes["owner"] else 0.0
            if hashes["owner"] and wait <= 0:
                _count_failure(conn, client, now)
        if hashes["owner"] is None:
            raise ValidationError("workshop.error.no_passcode")
        if wait > 0:
            raise PermissionDenied("workshop.error.wait", seconds=int(wait) + 1)
        role = next((r for r, h in hashes.items() if h and verify_passcode(passcode, h)), None)
        if role is None:
            raise PermissionDenied("workshop.error.passcode_wrong")
        with self.write() as conn:
            conn.execute(delete(access_attempts).where(access_attempts.c.client == client))
        # no name given: none (the page names the person by their role, in its language)
        return Actor(
            role=role, group=" ".join(strip_controls(name or "").split())[:MAX_GROUP_NAME_CHARS]
        )

    def set_member_role(self, email: str, role: str | None, by: Actor | None) -> None:
        """Give a single-sign-on identity a role in this workspace (None: remove it)."""
        email = (email or "").strip().lower()
        if "@" not in email:
            raise ValidationError("workshop.error.email", value=email)
        if role is not None and role not in ROLES:
            raise ValidationError("workshop.error.role", value=role)
        with self.write() as conn:
            if by is None or not by.may("workspace.admin"):
                raise PermissionDenied("workshop.denied.owner_only")
            conn.execute(delete(workspace_roles).where(workspace_roles.c.email == email))
            if role is not None:
                conn.execute(
                    insert(workspace_roles).values(email=email, role=role, created_at=iso(utcnow()))
                )

    def member_role(self, email: str) -> str | None:
        """The role given to a single-sign-on identity, or None."""
        with self.read() as conn:
            return conn.execute(
                select(workspace_roles.c.role).where(
                    workspace_roles.c.email == (email or "").strip().lower()
                )
            ).scalar()

    def list_member_roles(self) -> dict[str, str]:
        with self.read() as conn:
            return dict(
                conn.execute(
                    select(workspace_roles.c.email, workspace_roles.c.role).order_by(
                        workspace_roles.c.email
                    )
                ).all()
            )

    # ---- sessions --------------------------------------------------------------------------------
    def create_session(
        self,
        lab_id: str,
        title: str,
        by: Actor | None,
        hours: float = DEFAULT_SESSION_HOURS,
        session_id: str | None = None,
        kind: str = "workshop",
    ) -> WorkshopSession:
        """Open a workshop session on a living lab (one active session per living lab);
        ``kind="consultation"``: a peer consultation (see ``store.network``)."""
        if kind not in SESSION_KINDS:
            raise ValidationError("network.error.session_kind", value=str(kind)[:20])
        if by is None or not by.may("session.run"):
            raise PermissionDenied("workshop.denied.facilitator_only")
        if not 0 < hours <= MAX_SESSION_HOURS:
            raise ValidationError("workshop.error.hours", limit=MAX_SESSION_HOURS)
        title = clean_name(title, "title")
        now = utcnow()
        with self.write() as conn:
            if conn.execute(select(labs.c.id).where(labs.c.id == lab_id)).first() is None:
                raise NotFoundError("notfound.lab")
            if active_session_row(conn, lab_id) is not None:
                raise ValidationError("workshop.error.session_exists")
            # a session past its expiry ends now (one active session per lab: a unique index)
            conn.execute(
                update(workshop_sessions)
                .where(workshop_sessions.c.lab_id == lab_id, workshop_sessions.c.status == "active")
                .values(status="ended", ended_at=workshop_sessions.c.expires_at)
            )
            sid = session_id or new_id()
            conn.execute(
                insert(workshop_sessions).values(
                    id=sid,
                    lab_id=lab_id,
                    title=title,
                    status="active",
                    kind=kind,
                    created_by=by.group,
                    created_at=iso(now),
                    expires_at=iso(now + timedelta(hours=hours)),
                    ended_at=None,
                )
            )
            bump_revision(conn, lab_id, session=True)
        return self.get_session(sid)

    def get_session(self, session_id: str) -> WorkshopSession:
        with self.read() as conn:
            row = (
                conn.execute(select(workshop_sessions).where(workshop_sessions.c.id == session_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError("workshop.error.session_missing")
        return session_from_row(row)

    def active_session(self, lab_id: str) -> WorkshopSession | None:
        """The living lab's running session (not ended, not expired), or None."""
        with self.read() as conn:
            row = active_session_row(conn, lab_id)
        return session_from_row(row) if row else None

    def end_session(self, session_id: str, by: Actor | None) -> WorkshopSession:
        """End a session: its join link and the participants' tokens stop working; a round
        still open ends with it, without a snapshot (``workbench.workshop.end_session`` ends it
        with its snapshot first)."""
        self.require_runner(by)
        session = self.get_session(session_id)
        if session.status == "ended":
            return session
        now = iso(utcnow())
        with self.write() as conn:
            conn.execute(
                update(workshop_rounds)
                .where(
                    workshop_rounds.c.session_id == session_id, workshop_rounds.c.status != "ended"
                )
                .values(status="ended", ended_at=now, paused_at=None)
            )
            conn.execute(
                update(workshop_sessions)
                .where(workshop_sessions.c.id == session_id)
                .values(status="ended", ended_at=now)
            )
            bump_revision(conn, session.lab_id, session=True)
        return self.get_session(session_id)

    def join_token(self, session_id: str) -> str:
        """The signed token of a session's join link (valid until the session expires)."""
        session = self.get_session(session_id)
        return sign_join_token(self.join_secret(), session.id, session.expires_at)

    def join_code(self, session_id: str) -> str:
        """The session's short join code, to type on ``/join`` (``access.join_code``)."""
        return join_code(self.join_secret(), self.get_session(session_id).id)

    def count_code_attempt(self, client: str, now: datetime | None = None) -> None:
        """Count a join-code attempt of ``client`` BEFORE the code is checked (as
        :meth:`sign_in` counts passcodes, with the key ``code:<client>``): refused with
        ``workshop.error.wait`` while the client has to wait; :meth:`clear_code_attempts`
        after a right code."""
        now = now or utcnow()
        key = f"code:{client}"
        with self.write() as conn:
            wait = _locked_for(conn, key, now)
            if wait <= 0:
                _count_failure(conn, key, now)
        if wait > 0:
            raise PermissionDenied("workshop.error.wait", seconds=int(wait) + 1)

    def clear_code_attempts(self, client: str) -> None:
        with self.write() as conn:
            conn.execute(
                delete(access_attempts).where(access_attempts.c.client == f"code:{client}")
            )

    def token_for_code(self, code: str) -> str | None:
        """The join token of the active session whose code is ``code`` (typed loosely, see
        ``access.clean_join_code``), or None. Count the attempt first
        (:meth:`count_code_attempt`)."""
        code = clean_join_code(code)
        if not code:
            return None
        with self.read() as conn:
            ids = list(
                conn.execute(
                    select(workshop_sessions.c.id).where(
                        workshop_sessions.c.status == "active",
                        workshop_sessions.c.expires_at > iso(utcnow()),
                    )
                ).scalars()
            )
        secret = self.join_secret()
        for session_id in ids:
            if hmac.compare_digest(join_code(secret, session_id), code):
                return self.join_token(session_id)
        return None

    def check_join_token(self, token: str) -> WorkshopSession:
        """The session a join token opens; refused when forged, expired or the session ended."""
        session_id = read_join_token(self.join_secret(), token, utcnow())
        try:
            session = self.get_session(session_id)
        except NotFoundError:
            raise PermissionDenied("workshop.error.link_invalid") from None
        if session.status != "active" or session.expires_at <= utcnow():
            raise PermissionDenied("workshop.error.session_over")
        return session

    def join_session(self, token: str, group: str, colour: str) -> tuple[Actor, str]:
        """Join through a link as a NEW group: the participant :class:`Actor` and the member
        token their browser keeps to come back (see :meth:`resume_member`).

        A group is created once. A name that already is a group of the session, compared by
        ``access.group_key`` (case, width, zero-width and bidi characters, Cyrillic and Greek
        look-alikes), is refused: another device of that group comes in through the group's own
        member link, or a link the facilitator makes for it (:meth:`add_group_device`)."""
        session = self.check_join_token(token)
        group = clean_name(group, "author", limit=MAX_GROUP_NAME_CHARS)
        key = group_key(group)
        if not key:
            raise ValidationError("hosting.error.group_empty")
        if colour not in GROUP_COLOURS.values():
            raise ValidationError("workshop.error.colour")
        with self.write() as conn:
            if any(
                group_key(name) == key
                for name in conn.execute(
                    select(workshop_members.c.group_name).where(
                        workshop_members.c.session_id == session.id
                    )
                ).scalars()
            ):
                raise PermissionDenied("hosting.error.group_taken")
            member_id, member_token = _add_member(conn, session.id, group, colour)
        return Actor("participant", group, session.id, member_id), member_token

    def add_group_device(self, session_id: str, group: str, by: Actor | None) -> str:
        """The facilitator lets one more device into an existing group: a new member token for
        ``group`` (its link opens the map as that group)."""
        self.require_runner(by)
        self._running_session(session_id)
        with self.write() as conn:
            row = next(
                (
                    r
                    for r in conn.execute(
                        select(workshop_members.c.group_name, workshop_members.c.colour)
                        .where(workshop_members.c.session_id == session_id)
                        .order_by(workshop_members.c.created_at)
                    ).all()
                    if group_key(r.group_name) == group_key(group)
                ),
                None,
            )
            if row is None:
                raise NotFoundError("hosting.error.group_unknown")
            _, member_token = _add_member(conn, session_id, row.group_name, row.colour)
        return member_token

    def resume_member(self, member_token: str) -> Actor | None:
        """The participant of a member token while their session is active, else None."""
        with self.read() as conn:
            row = (
                conn.execute(
                    select(workshop_members).where(
                        workshop_members.c.token_hash == token_hash(member_token)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            session = (
                conn.execute(
                    select(workshop_sessions).where(workshop_sessions.c.id == row["session_id"])
                )
                .mappings()
                .first()
            )
        if (
            session is None
            or session["status"] != "active"
            or datetime.fromisoformat(session["expires_at"]) <= utcnow()
        ):
            return None
        return Actor("participant", row["group_name"], row["session_id"], row["id"])

    def session_groups(self, session_id: str) -> dict[str, str]:
        """Group name -> colour of the groups that joined, in joining order."""
        with self.read() as conn:
            rows = conn.execute(
                select(workshop_members.c.group_name, workshop_members.c.colour)
                .where(workshop_members.c.session_id == session_id)
                .order_by(workshop_members.c.created_at)
            ).all()
        out: dict[str, str] = {}
        for name, colour in rows:
            out.setdefault(name, colour)
        return out

    def list_members(self, session_id: str) -> list[WorkshopMember]:
        with self.read() as conn:
            rows = (
                conn.execute(
                    select(workshop_members)
                    .where(workshop_members.c.session_id == session_id)
                    .order_by(workshop_members.c.created_at)
                )
                .mappings()
                .all()
            )
        return [
            WorkshopMember(
                id=r["id"],
                session_id=r["session_id"],
                group=r["group_name"],
                colour=r["colour"],
                created_at=datetime.fromisoformat(r["created_at"]),
            )
            for r in rows
        ]

    # ---- rounds --------------------------------------------------------------------------------
    def start_round(
        self,
        session_id: str,
        kind: str,
        by: Actor | None,
        minutes: int = 0,
        lock_edits: bool = False,
    ) -> WorkshopRound:
        """Start the next round. A vote round starts a new voting round: everyone has all their
        dots again. A round still open ends here without a snapshot (one open round per
        session); ``workbench.workshop.start_round`` ends it with its snapshot first."""
        self.require_runner(by)
        self.check_round(kind, minutes)
        session = self._running_session(session_id)
        with self.write() as conn:
            number = (
                int(
                    conn.execute(
                        select(func.count())
                        .select_from(workshop_rounds)
                        .where(workshop_rounds.c.session_id == session_id)
                    ).scalar()
                    or 0
                )
                + 1
            )
            round_id = new_id()
            conn.execute(
                update(workshop_rounds)
                .where(
                    workshop_rounds.c.session_id == session_id, workshop_rounds.c.status != "ended"
                )
                .values(status="ended", ended_at=iso(utcnow()), paused_at=None)
            )
            conn.execute(
                insert(workshop_rounds).values(
                    id=round_id,
                    session_id=session_id,
                    number=number,
                    kind=kind,
                    status="running",
                    minutes=minutes,
                    lock_edits=int(bool(lock_edits and kind == "discuss")),
                    started_at=iso(utcnow()),
                    paused_at=None,
                    paused_seconds=0.0,
                    ended_at=None,
                    snapshot_id=None,
                )
            )
            if kind == "vote":  # a new voting round, in the same transaction
                from workbench.store.participation import next_vote_round

                authorize(conn, by, "lab.settings", session.lab_id)
                next_vote_round(conn, session.lab_id, at_least=number)
            bump_revision(conn, session.lab_id, all_annotations=kind == "vote", session=True)
        return self._round(round_id)

    def pause_round(self, session_id: str, by: Actor | None) -> WorkshopRound:
        """Pause the running round: its timer stops; participants can only look."""
        self.require_runner(by)
        current = self._round_or_fail(session_id)
        if current.status == "running":
            with self.write() as conn:
                conn.execute(
                    update(workshop_rounds)
                    .where(workshop_rounds.c.id == current.id)
                    .values(status="paused", paused_at=iso(utcnow()))
                )
                bump_revision(conn, _session_lab(conn, session_id), session=True)
        return self._round_or_fail(session_id)

    def resume_round(self, session_id: str, by: Actor | None) -> WorkshopRound:
        self.require_runner(by)
        current = self._round_or_fail(session_id)
        if current.status == "paused" and current.paused_at is not None:
            pause = (utcnow() - current.paused_at).total_seconds()
            with self.write() as conn:
                conn.execute(
                    update(workshop_rounds)
                    .where(workshop_rounds.c.id == current.id)
                    .values(
                        status="running",
                        paused_at=None,
                        paused_seconds=current.paused_seconds + pause,
                    )
                )
                bump_revision(conn, _session_lab(conn, session_id), session=True)
        return self._round_or_fail(session_id)

    def set_round_lock(self, session_id: str, lock_edits: bool, by: Actor | None) -> WorkshopRound:
        """Lock or unlock editing in the running discuss round."""
        self.require_runner(by)
        current = self._round_or_fail(session_id)
        with self.write() as conn:
            conn.execute(
                update(workshop_rounds)
                .where(workshop_rounds.c.id == current.id)
                .values(lock_edits=int(bool(lock_edits and current.kind == "discuss")))
            )
            bump_revision(conn, _session_lab(conn, session_id), session=True)
        return self._round_or_fail(session_id)

    def close_round(
        self, round_id: str, by: Actor | None, snapshot: Snapshot | None = None
    ) -> WorkshopRound:
        """End round ``round_id`` (if it is still running or paused) and keep ``snapshot`` as
        its snapshot, in one transaction: either the round is ended with its snapshot linked,
        or nothing changed. Idempotent: a round already ended keeps its end time and gets the
        snapshot when it has none yet (so a round ended without one can be finished later).
        ``workbench.workshop.end_round`` makes the snapshot and calls this."""
        self.require_runner(by)
        now = utcnow()
        with self.write() as conn:
            row = (
                conn.execute(select(workshop_rounds).where(workshop_rounds.c.id == round_id))
                .mappings()
                .first()
            )
            if row is None:
                raise ValidationError("workshop.error.no_round")
            current = round_from_row(row)
            lab_id = _session_lab(conn, current.session_id)
            if current.status != "ended":
                paused = (now - current.paused_at).total_seconds() if current.paused_at else 0.0
                conn.execute(
                    update(workshop_rounds)
                    .where(workshop_rounds.c.id == round_id)
                    .values(
                        status="ended",
                        ended_at=iso(now),
                        paused_at=None,
                        paused_seconds=current.paused_seconds + paused,
                    )
                )
            if snapshot is not None and current.snapshot_id is None:
                if snapshot.lab_id != lab_id:
                    raise ValueError("the snapshot is of another living lab")
                authorize(conn, by, "snapshot.manage", lab_id)
                insert_snapshot(conn, snapshot)
                conn.execute(
                    update(workshop_rounds)
                    .where(workshop_rounds.c.id == round_id)
                    .values(snapshot_id=snapshot.id)
                )
            bump_revision(conn, lab_id, session=True)
        return self._round(round_id)

    def current_round(self, session_id: str) -> WorkshopRound | None:
        """The running or paused round, or None between rounds."""
        with self.read() as conn:
            row = current_round_row(conn, session_id)
        return round_from_row(row) if row else None

    def list_rounds(self, session_id: str) -> list[WorkshopRound]:
        with self.read() as conn:
            rows = (
                conn.execute(
                    select(workshop_rounds)
                    .where(workshop_rounds.c.session_id == session_id)
                    .order_by(workshop_rounds.c.number)
                )
                .mappings()
                .all()
            )
        return [round_from_row(r) for r in rows]

    def phase(self, lab_id: str) -> Phase:
        """The living lab's :class:`~workbench.store.judge.Phase` now (``open`` without a
        session)."""
        with self.read() as conn:
            session = active_session_row(conn, lab_id)
            return phase_of(conn, session["id"]) if session else OPEN

    def _round(self, round_id: str) -> WorkshopRound:
        with self.read() as conn:
            row = (
                conn.execute(select(workshop_rounds).where(workshop_rounds.c.id == round_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError("workshop.error.no_round")
        return round_from_row(row)

    def _round_or_fail(self, session_id: str) -> WorkshopRound:
        current = self.current_round(session_id)
        if current is None:
            raise ValidationError("workshop.error.no_round")
        return current

    def _running_session(self, session_id: str) -> WorkshopSession:
        session = self.get_session(session_id)
        if session.status != "active" or session.expires_at <= utcnow():
            raise ValidationError("workshop.error.session_over")
        return session

    @staticmethod
    def require_runner(by: Actor | None) -> None:
        """Raise :class:`PermissionDenied` unless ``by`` runs sessions (owner, facilitator)."""
        if by is None or not by.may("session.run"):
            raise PermissionDenied("workshop.denied.facilitator_only")

    @staticmethod
    def check_round(kind: str, minutes: int) -> None:
        """Raise :class:`ValidationError` for a round kind or timer that cannot be."""
        if kind not in ROUND_KINDS:
            raise ValidationError("workshop.error.round_kind", value=kind)
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 0 <= minutes <= MAX_ROUND_MINUTES
        ):
            raise ValidationError("workshop.error.minutes", limit=MAX_ROUND_MINUTES)

    # ---- moderation of comments ----------------------------------------------------------------
    def list_hidden_comments(self, lab_id: str) -> list[HiddenComment]:
        """Hidden comments of a living lab's annotations (for restoring), newest first."""
        q = (
            select(annotation_comments)
            .join(annotations_table, annotations_table.c.id == annotation_comments.c.annotation_id)
            .where(
                annotations_table.c.lab_id == lab_id, annotation_comments.c.deleted_at.is_not(None)
            )
            .order_by(annotation_comments.c.deleted_at.desc())
        )
        with self.read() as conn:
            return [
                HiddenComment(
                    id=r["id"],
                    annotation_id=r["annotation_id"],
                    author=r["author"],
                    text=r["text"],
                    created_at=r["created_at"],
                    deleted_at=r["deleted_at"],
                )
                for r in conn.execute(q).mappings()
            ]


def _session_lab(conn: Connection, session_id: str) -> str:
    lab_id: str | None = conn.execute(
        select(workshop_sessions.c.lab_id).where(workshop_sessions.c.id == session_id)
    ).scalar()
    if lab_id is None:
        raise NotFoundError("workshop.error.session_missing")
    return lab_id


def _add_member(conn: Connection, session_id: str, group: str, colour: str) -> tuple[str, str]:
    """Insert a member of ``group``; (member id, member token)."""
    member_id, member_token, now = new_id(), new_member_token(), iso(utcnow())
    conn.execute(
        insert(workshop_members).values(
            id=member_id,
            session_id=session_id,
            group_name=group,
            colour=colour,
            token_hash=token_hash(member_token),
            created_at=now,
            last_seen=now,
        )
    )
    return member_id, member_token


def _locked_for(conn: Connection, client: str, now: datetime) -> float:
    until = conn.execute(
        select(access_attempts.c.locked_until).where(access_attempts.c.client == client)
    ).scalar()
    return max(0.0, (datetime.fromisoformat(until) - now).total_seconds()) if until else 0.0


def _count_failure(conn: Connection, client: str, now: datetime) -> None:
    row = (
        conn.execute(select(access_attempts).where(access_attempts.c.client == client))
        .mappings()
        .first()
    )
    failures = 1
    if row is not None:
        last = from_iso(row["last_failure_at"])
        # a day without failures forgets the old ones
        failures = row["failures"] + 1 if last and now - last < timedelta(days=1) else 1
    wait = backoff_seconds(failures)
    conn.execute(delete(access_attempts).where(access_attempts.c.client == client))
    conn.execute(
        insert(access_attempts).values(
            client=client,
            failures=failures,
            last_failure_at=iso(now),
            locked_until=iso(now + timedelta(seconds=wait)) if wait else None,
        )
    )
