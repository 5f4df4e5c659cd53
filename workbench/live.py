"""The live channel: every open map, list and presenter view of a living lab hears of a change
within a second, and an idle room costs (nearly) nothing.

How it works (the store holds the revision and the deltas, ``store.live``):

- A page asks :func:`issue_token` for a signed, expiring token naming its workspace, living lab
  and the page's actor (itsdangerous signs it with a secret kept in the data directory). The
  token goes to the browser inside the page, never in a URL, so it never reaches a log.
- The browser opens ``/api/live/{lab}/ws`` (Starlette's WebSocket) and sends
  ``{"token", "since", "lang", "colour_by", "device"}``. The server answers with the delta
  since that revision, then with each newer delta as it happens, the presence of the room
  (``{"type": "presence"}``: the groups connected and their devices) and ``{"type":
  "pong"}`` to the client's heartbeats. ``GET /api/live/{lab}/delta?since=N`` (token in the
  ``Authorization: Bearer`` header) gives one delta, for a client without a WebSocket.
- A hello that is not a JSON text frame, or a bad token, gets ``{"type": "error"}`` and a
  4xxx close; a later frame that is binary, not JSON or too long ends the connection. A page
  that leaves at any point (it navigated away, the phone slept) is let go quietly.
- A write of this process wakes the lab's readers at once (``store.base.add_commit_listener``);
  a write of another process (the command line, a second app process) to a SQLite workspace
  is heard through the file system (watchdog: a change of the workspace's write-ahead log),
  and to a PostgreSQL workspace through ``LISTEN workbench_live`` (one connection per process
  and database; ``store.revision`` sends the NOTIFY inside each write).
  Missed or unheard writes are found by one cheap revision read per workspace and second,
  only while someone follows a lab of it.
- Each reader gets its own delta (language, colouring, hidden notes only for moderators), but
  readers at the same revision with the same view share one computation. A reader keeps no
  queue: it is at most one delta behind, and a reader that does not read for
  ``LIVE_SEND_TIMEOUT_S`` (or sends no heartbeat for ``LIVE_IDLE_SECONDS``) is dropped.

:data:`routes` and :func:`lifespan` are what ``workbench.ui.server`` gives ``st.App``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from workbench.access import Actor
from workbench.errors import NotFoundError, PermissionDenied, ValidationError, WorkbenchError
from workbench.i18n import t
from workbench.model import Delta
from workbench.settings import (
    LANGUAGES,
    LIVE_HELLO_TIMEOUT_S,
    LIVE_IDLE_SECONDS,
    LIVE_MAX_MESSAGE_BYTES,
    LIVE_POLL_SECONDS,
    LIVE_SEND_TIMEOUT_S,
    LIVE_TOKEN_SECONDS,
    MEMBER_TOKEN_SECONDS,
    SIGNIN_TOKEN_SECONDS,
    check_workspace_name,
    data_dir,
)
from workbench.store import Store

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

_log = logging.getLogger(__name__)

#: The largest revision a client may name (JavaScript's largest exact integer).
MAX_REVISION = 2**53 - 1
_SALT = "workbench.live.v1"


# ---- tokens ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """What a valid token says: the workspace, the living lab and the actor (None: the local
    single-user mode), and for a signed-in owner or facilitator the passcode stamp of their
    sign-in (a changed passcode voids the token as it signs out the tab)."""

    workspace: str
    lab_id: str
    actor: Actor | None
    stamp: str | None = None


_secret_lock = threading.Lock()


def _secret() -> bytes:
    """The signing secret, made once per data directory (``live-secret``, readable only by
    the workbench's user)."""
    path = data_dir() / "live-secret"
    with _secret_lock:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        value = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(value)
        return value


def _serializer(salt: str = _SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt=salt)


def issue_token(workspace: str, lab_id: str, actor: Actor | None, stamp: str | None = None) -> str:
    """A token that lets the page of ``actor`` follow ``lab_id`` of ``workspace`` live for
    ``LIVE_TOKEN_SECONDS``."""
    who = None if actor is None else [actor.role, actor.group, actor.session_id, actor.member_id]
    return str(_serializer().dumps({"w": workspace, "l": lab_id, "a": who, "s": stamp}))


def read_token(token: object, lab_id: str) -> Claim:
    """The claim of ``token`` if the server issued it, it has not expired and it is for
    ``lab_id``; else :class:`PermissionDenied`."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        raise PermissionDenied("live.error.token_missing")
    try:
        data = _serializer().loads(token, max_age=LIVE_TOKEN_SECONDS)
    except SignatureExpired:
        raise PermissionDenied("live.error.token_expired") from None
    except BadSignature:
        raise PermissionDenied("live.error.token_invalid") from None
    try:
        who = data["a"]
        actor = None if who is None else Actor(str(who[0]), str(who[1] or ""), who[2], who[3])
        claim = Claim(check_workspace_name(data["w"]), str(data["l"]), actor, data.get("s"))
    except (KeyError, IndexError, TypeError, ValueError, WorkbenchError):
        raise PermissionDenied("live.error.token_invalid") from None
    if claim.lab_id != lab_id:
        raise PermissionDenied("live.error.token_other_lab")
    return claim


# ---- staying signed in across reloads ----------------------------------------------------------
#: The cookies that keep a browser signed in (``Path=/``, ``HttpOnly``, ``SameSite=Strict``):
#: an owner's or facilitator's sign-in, and a participant's membership. Each holds a token
#: signed like the live tokens (never the passcode, never readable by the page's scripts).
SIGNIN_COOKIE = "workbench_signin"
MEMBER_COOKIE = "workbench_member"
_KEEP_SALT = "workbench.keep.v1"
_KEEP = {
    "signin": (SIGNIN_COOKIE, SIGNIN_TOKEN_SECONDS),
    "member": (MEMBER_COOKIE, MEMBER_TOKEN_SECONDS),
}


def issue_signin_token(workspace: str, role: str, name: str, stamp: str | None) -> str:
    """A token that keeps an owner's or facilitator's sign-in of ``workspace`` for
    ``SIGNIN_TOKEN_SECONDS`` (void as soon as the owner passcode's ``stamp`` changes)."""
    return str(
        _serializer(_KEEP_SALT).dumps(
            {"k": "signin", "w": workspace, "r": role, "n": name, "s": stamp}
        )
    )


def issue_member_token(workspace: str, member_token: str) -> str:
    """A token that keeps a participant's membership (their member token) of ``workspace``."""
    return str(_serializer(_KEEP_SALT).dumps({"k": "member", "w": workspace, "m": member_token}))


def read_kept_token(token: object, kind: str | None = None) -> dict[str, Any] | None:
    """The payload of a keep token (``k``: ``signin`` or ``member``, ``w``: the workspace)
    the server signed that has not expired, or None."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        return None
    try:
        data, signed = _serializer(_KEEP_SALT).loads(token, return_timestamp=True)
        if (
            not isinstance(data, dict)
            or data.get("k") not in _KEEP
            or (kind is not None and data["k"] != kind)
            or time.time() - signed.timestamp() > _KEEP[data["k"]][1]
        ):
            return None
        check_workspace_name(data.get("w"))
    except (BadSignature, WorkbenchError, TypeError, ValueError):
        return None
    return data


async def keep_route(request: Request) -> JSONResponse:
    """``POST /api/keep`` ``{"token": …}`` (a keep token this server signed): set its cookie,
    HttpOnly, so a reload stays signed in; ``DELETE /api/keep?kind=signin|member``: remove it
    (signing out). JSON only, so another site's form cannot post here."""
    response = JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})
    secure = request.url.scheme == "https"
    if request.method == "DELETE":
        kind = request.query_params.get("kind", "")
        if kind not in _KEEP:
            return JSONResponse({"error": "kind"}, status_code=400)
        response.delete_cookie(
            _KEEP[kind][0], path="/", secure=secure, httponly=True, samesite="strict"
        )
        return response
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": "content-type"}, status_code=415)
    try:
        body = await request.json()
        token = body.get("token") if isinstance(body, dict) else None
    except ValueError:
        token = None
    data = read_kept_token(token)
    if data is None:
        return JSONResponse({"error": "token"}, status_code=400)
    name, seconds = _KEEP[data["k"]]
    response.set_cookie(
        name, str(token), max_age=seconds, path="/", secure=secure, httponly=True, samesite="strict"
    )
    return response


# ---- readers and the hub -----------------------------------------------------------------------
def changes_since(
    store: Store,
    lab_id: str,
    since: int,
    by: Actor | None = None,
    *,
    lang: str = "en",
    colour_by: str = "category",
    marker_scale: float = 1.0,
) -> Delta:
    """What changed on ``lab_id``'s map after revision ``since`` (0: the full state), as the
    map draws it: the store's records (``Store.live_rows``, which also judges the reader)
    made into features by ``maps.annotation_features``, with the same properties the map page
    draws with ``lang``, ``colour_by`` and ``marker_scale``."""
    from workbench.maps import SIMPLIFY_ABOVE, annotation_features

    rows = store.live_rows(lab_id, since, by, colour_by=colour_by)
    features = annotation_features(
        list(rows.notes),
        colour_by,
        lang,
        votes=rows.votes,
        comments=rows.comments,
        categories=list(rows.categories),
        votes_total=rows.votes_total,
        vote_round=rows.vote_round,
        groups=rows.groups,
        group_palette=rows.group_palette,
        marker_scale=marker_scale,
        hidden_ids=[n.id for n in rows.notes if n.deleted_at is not None],
        simplify=rows.live_count > SIMPLIFY_ABOVE,
    )
    return Delta(
        revision=rows.revision,
        features=tuple(features),
        removed=rows.removed,
        session=rows.session,
        reset=rows.reset,
    )


#: A message to a page: JSON values.
Message = dict[str, Any]
#: What a delta depends on: workspace, lab, since, language, colouring, marker scale, moderating.
DeltaKey = tuple[str, str, int, str, str, float, bool]


@dataclass(eq=False)
class Reader:
    """One open page following a lab: where it is (``since``), how it draws (``lang``,
    ``colour_by``) and who it is (presence)."""

    claim: Claim
    since: int
    lang: str
    colour_by: str
    device: str
    scale: float = 1.0
    websocket: WebSocket | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    seen: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[str, str]:
        return (self.claim.workspace, self.claim.lab_id)


class Hub:
    """The readers of this process, by workspace and lab, and the watcher that wakes them."""

    def __init__(self) -> None:
        self.readers: dict[tuple[str, str], set[Reader]] = {}
        self.revisions: dict[tuple[str, str], int] = {}
        self.stores: dict[str, Store] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._poke = asyncio.Event()
        self._dirty: set[str] = set()  # workspaces with an in-process commit to look at
        self._deltas: dict[DeltaKey, tuple[int, Message]] = {}
        self._observer: BaseObserver | None = None
        self._lock = threading.Lock()
        # PostgreSQL: (database, schema) -> workspace, and one listening thread per database
        self._schemas: dict[tuple[str, str], str] = {}
        self._listeners: dict[str, threading.Thread] = {}

    # -- stores and authorization --
    def store(self, workspace: str) -> Store:
        """The workspace's store, opened once per process (never creates a workspace)."""
        with self._lock:
            return self._open(workspace)

    def _open(self, workspace: str) -> Store:
        if workspace not in self.stores:
            from workbench.demo import open_workspace

            self.stores[workspace] = open_workspace(workspace)
            self._watch_file(workspace, self.stores[workspace].url)
            self._listen(workspace, self.stores[workspace].url)
        return self.stores[workspace]

    def _listen(self, workspace: str, url: str) -> None:
        """Hear the commits of every process on a PostgreSQL workspace: one connection per
        process and database LISTENs for the revisions that ``bump_revision`` announces."""
        from workbench.store.engine import is_postgres, schema_of

        if not is_postgres(url) or self.loop is None:
            return
        database = url.split("?", 1)[0]
        self._schemas[(database, schema_of(url) or "public")] = workspace
        if database not in self._listeners:
            thread = threading.Thread(
                target=self._listen_loop, args=(url, database), name="live-listen", daemon=True
            )
            self._listeners[database] = thread
            thread.start()

    def _listen_loop(self, url: str, database: str) -> None:
        import psycopg

        from workbench.store.engine import SCHEMA_PARAM, postgres_url
        from workbench.store.revision import NOTIFY_CHANNEL

        conninfo = (
            postgres_url(url)
            .difference_update_query([SCHEMA_PARAM])
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        pause = 0.5
        while self.loop is not None and not self.loop.is_closed():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    pause = 0.5
                    self._wake_all(database)  # what was missed while not listening
                    while self.loop is not None and not self.loop.is_closed():
                        for note in conn.notifies(timeout=2.0):
                            schema = note.payload.split("|", 1)[0]
                            workspace = self._schemas.get((database, schema))
                            if workspace is not None:
                                self._wake(workspace)
            except Exception:  # noqa: BLE001 - the server went away: listen again soon
                _log.warning(
                    "live: not listening to %s, trying again in %.0f s",
                    database.rsplit("@", 1)[-1],
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 30.0)

    def _wake(self, workspace: str) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._mark, workspace)

    def _wake_all(self, database: str) -> None:
        for (db, _schema), workspace in list(self._schemas.items()):
            if db == database:
                self._wake(workspace)

    def _watch_file(self, workspace: str, url: str) -> None:
        """Hear other processes' writes to a SQLite workspace as soon as they reach its
        write-ahead log (the once-a-second look stays, for what this does not hear)."""
        if not url.startswith("sqlite:///") or self.loop is None:
            return
        from pathlib import Path

        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        path = Path(url.removeprefix("sqlite:///"))
        names = {path.name, path.name + "-wal"}
        hub = self

        class Changed(FileSystemEventHandler):
            def on_modified(self, event: FileSystemEvent) -> None:
                if Path(str(event.src_path)).name in names:
                    loop = hub.loop
                    if loop is not None and not loop.is_closed():
                        # a little later: the commit is visible once the WAL index follows
                        loop.call_soon_threadsafe(loop.call_later, 0.02, hub._mark, workspace)

        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        try:
            self._observer.schedule(Changed(), str(path.parent), recursive=False)
        except OSError:  # no inotify here (or too many watches): the revision look remains
            _log.info("live: not watching %s for writes of other processes", path)

    def _check(self, claim: Claim) -> bool:
        """Raise unless the claim's actor may read its lab now; whether they moderate."""
        s = self.store(claim.workspace)
        if claim.stamp is not None and claim.stamp != s.passcode_stamp():
            raise PermissionDenied("live.error.token_expired")
        return bool(s.live_access(claim.lab_id, claim.actor))

    def delta(self, reader: Reader) -> Message:
        """The reader's next delta as JSON values (shared by readers in the same place)."""
        moderates = self._check(reader.claim)
        key: DeltaKey = (
            *reader.key,
            reader.since,
            reader.lang,
            reader.colour_by,
            reader.scale,
            moderates,
        )
        known = self.revisions.get(reader.key)
        cached = self._deltas.get(key)
        if cached is not None and known is not None and cached[0] == known:
            return cached[1]
        d = changes_since(
            self.store(reader.claim.workspace),
            reader.claim.lab_id,
            reader.since,
            reader.claim.actor,
            lang=reader.lang,
            colour_by=reader.colour_by,
            marker_scale=reader.scale,
        )
        message = {
            "type": "delta",
            "revision": d.revision,
            "features": list(d.features),
            "removed": list(d.removed),
            "session": d.session,
            "reset": d.reset,
            "now": time.time(),
        }
        if len(self._deltas) > 256:
            self._deltas.clear()
        self._deltas[key] = (d.revision, message)
        return message

    # -- subscription --
    def join(self, reader: Reader) -> None:
        self.readers.setdefault(reader.key, set()).add(reader)
        self._presence_changed(reader.key)

    def leave(self, reader: Reader) -> None:
        group = self.readers.get(reader.key)
        if group is not None:
            group.discard(reader)
            if not group:
                del self.readers[reader.key]
                self.revisions.pop(reader.key, None)
        self._presence_changed(reader.key)

    def presence(self, key: tuple[str, str]) -> Message:
        """Who follows the lab now: groups (name, colour, devices) and other roles' devices."""
        groups: dict[str, dict[str, Any]] = {}
        for r in self.readers.get(key, ()):
            a = r.claim.actor
            role = a.role if a is not None else "owner"
            name = a.group if a is not None and a.role == "participant" else ""
            entry = groups.setdefault(
                f"{role}\0{name}", {"role": role, "name": name, "devices": set()}
            )
            entry["devices"].add(r.device)
        out = []
        colours = self._group_colours(key)
        for entry in groups.values():
            out.append(
                {
                    "role": entry["role"],
                    "name": entry["name"],
                    "colour": colours.get(entry["name"], "#777777"),
                    "devices": len(entry["devices"]),
                }
            )
        out.sort(key=lambda e: (e["role"] != "participant", e["name"].casefold(), e["role"]))
        return {"type": "presence", "groups": out}

    def _group_colours(self, key: tuple[str, str]) -> dict[str, str]:
        try:
            s = self.store(key[0])
            session = s.active_session(key[1])
            return s.session_groups(session.id) if session else {}
        except WorkbenchError:
            return {}

    def _presence_changed(self, key: tuple[str, str]) -> None:
        message = None
        for r in list(self.readers.get(key, ())):
            if r.websocket is not None:
                message = message or self.presence(key)
                asyncio.ensure_future(_send(r, message))

    # -- waking --
    def committed(self, url: str, lab_ids: frozenset[str]) -> None:
        """Commit listener (any thread): a write of this process bumped these labs."""
        for workspace, s in list(self.stores.items()):
            if s.url == url:
                self._wake(workspace)

    def _mark(self, workspace: str) -> None:
        self._dirty.add(workspace)
        self._poke.set()

    async def watch(self) -> None:
        """Once a second (or at once after an in-process commit) read the revision of every
        followed lab, one query per workspace, and wake the readers of labs that moved."""
        while True:
            try:
                await asyncio.wait_for(self._poke.wait(), LIVE_POLL_SECONDS)
            except TimeoutError:
                pass
            self._poke.clear()
            self._dirty.clear()
            followed: dict[str, list[str]] = {}
            for workspace, lab in list(self.readers):
                followed.setdefault(workspace, []).append(lab)
            for workspace, labs in followed.items():
                try:
                    now = await asyncio.to_thread(self.store(workspace).lab_revisions, labs)
                except Exception:  # noqa: BLE001 - a busy or broken store: try again next time
                    _log.warning("live: could not read revisions of %s", workspace)
                    continue
                for lab, revision in now.items():
                    key = (workspace, lab)
                    if self.revisions.get(key) != revision:
                        self.revisions[key] = revision
                        for r in list(self.readers.get(key, ())):
                            if r.since != revision:
                                r.wake.set()
            self._drop_idle()

    def _drop_idle(self) -> None:
        limit = time.monotonic() - LIVE_IDLE_SECONDS
        for group in list(self.readers.values()):
            for r in list(group):
                if r.seen < limit and r.websocket is not None:
                    asyncio.ensure_future(_close(r.websocket, 4408))


HUB: Hub | None = None


def hub() -> Hub:
    global HUB
    if HUB is None:
        HUB = Hub()
    return HUB


async def _send(reader: Reader, message: Message) -> bool:
    """Send one message, stamped with the server's clock (``now``, seconds since the epoch:
    every page counts a round's timer down from the server's time, not its device's); a reader
    that does not take it in time is closed."""
    ws = reader.websocket
    if ws is None:
        return False
    message = {**message, "now": time.time()}
    try:
        await asyncio.wait_for(
            ws.send_text(json.dumps(message, separators=(",", ":"), ensure_ascii=False)),
            LIVE_SEND_TIMEOUT_S,
        )
        return True
    except (TimeoutError, RuntimeError, WebSocketDisconnect, OSError):
        await _close(ws, 4408)
        return False


async def _close(ws: WebSocket, code: int) -> None:
    """Close our side; a page already gone (it navigated away, its phone slept) needs no close,
    and a close that finds the connection dropped is the same news, not an error."""
    if WebSocketState.DISCONNECTED in (ws.client_state, ws.application_state):
        return
    try:
        await ws.close(code)
    except (RuntimeError, OSError, WebSocketDisconnect):
        pass


async def _receive_text(ws: WebSocket) -> str:
    """The next text frame; a binary frame is not a message of ours (``ValueError``)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if not isinstance(text, str):
        raise ValueError("a binary frame")
    return text


async def _refuse(ws: WebSocket, key: str, message: str, code: int) -> None:
    """Tell a client why it is not let in (when it is still there to hear it), then close."""
    try:
        await ws.send_text(json.dumps({"type": "error", "error": key, "message": message}))
    except (RuntimeError, OSError, WebSocketDisconnect):
        return
    await _close(ws, code)


# ---- requests ----------------------------------------------------------------------------------
def _error(status: int, exc: WorkbenchError, lang: str = "en") -> JSONResponse:
    return JSONResponse(
        {"error": exc.key, "message": t(exc.key, lang, **exc.params)}, status_code=status
    )


def _status(exc: WorkbenchError) -> int:
    if isinstance(exc, PermissionDenied):
        return (
            403
            if exc.key in ("live.error.token_other_lab", "workshop.denied.not_in_session")
            else 401
        )
    if isinstance(exc, NotFoundError):
        return 404
    return 400


def _since(value: object) -> int:
    """A revision from a client: a whole number 0..MAX_REVISION, else ValidationError."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 16:
            raise ValidationError("live.error.since_invalid")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("live.error.since_invalid")
    if value < 0:
        raise ValidationError("live.error.since_negative", since=value)
    if value > MAX_REVISION:
        raise ValidationError("live.error.since_invalid")
    return value


def _view(lang: object, colour_by: object, scale: object = 1) -> tuple[str, str, float]:
    """How a reader draws: language (else English), colouring, and marker scale (1 on the
    map, 2 on the presenter view)."""
    lang = lang if lang in LANGUAGES else "en"
    if colour_by not in ("category", "group"):
        raise ValidationError("live.error.colour_by", value=str(colour_by)[:40])
    if scale not in (1, 2) or isinstance(scale, bool):
        raise ValidationError("live.error.message")
    return str(lang), str(colour_by), float(scale)


async def delta_route(request: Request) -> JSONResponse:
    """``GET /api/live/{lab}/delta?since=N[&lang=…&colour_by=…]`` with the page's token as
    ``Authorization: Bearer …``: the delta since revision N."""
    lab_id = request.path_params["lab"]
    lang = request.query_params.get("lang", "en")
    try:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        claim = read_token(token, lab_id)
        scale = request.query_params.get("scale", "1")
        lang, colour_by, factor = _view(
            lang,
            request.query_params.get("colour_by", "category"),
            int(scale) if scale in ("1", "2") else scale,
        )
        reader = Reader(
            claim,
            _since(request.query_params.get("since", "0")),
            lang,
            colour_by,
            device="",
            scale=factor,
        )
        message = await asyncio.to_thread(hub().delta, reader)
    except WorkbenchError as exc:
        return _error(_status(exc), exc, lang if lang in LANGUAGES else "en")
    return JSONResponse(message, headers={"Cache-Control": "no-store"})


async def socket_route(websocket: WebSocket) -> None:
    """``/api/live/{lab}/ws``: the hello, then deltas, presence and pongs (module docstring)."""
    await websocket.accept()
    lab_id = websocket.path_params["lab"]
    h = hub()
    try:
        raw = await asyncio.wait_for(_receive_text(websocket), LIVE_HELLO_TIMEOUT_S)
        if len(raw) > LIVE_MAX_MESSAGE_BYTES:
            raise ValidationError("live.error.message")
        hello = json.loads(raw)
        if not isinstance(hello, dict):
            raise ValidationError("live.error.message")
        claim = read_token(hello.get("token"), lab_id)
        lang, colour_by, scale = _view(
            hello.get("lang"), hello.get("colour_by", "category"), hello.get("scale", 1)
        )
        device = str(hello.get("device") or secrets.token_hex(4))[:40]
        reader = Reader(
            claim,
            _since(hello.get("since", 0)),
            lang,
            colour_by,
            device,
            scale,
            websocket=websocket,
        )
        await asyncio.to_thread(h._check, claim)  # refuse before joining the room
    except (TimeoutError, WebSocketDisconnect):
        await _close(websocket, 4400)
        return
    except (ValueError, TypeError):  # not JSON
        await _refuse(websocket, "live.error.message", t("live.error.message", "en"), 4400)
        return
    except WorkbenchError as exc:
        await _refuse(websocket, exc.key, t(exc.key, "en", **exc.params), 4000 + _status(exc))
        return
    h.join(reader)
    reader.wake.set()  # the first delta: everything since the client's revision
    sender = asyncio.ensure_future(_deliver(h, reader))
    try:
        while True:
            try:
                raw = await _receive_text(websocket)
                reader.seen = time.monotonic()
                if len(raw) > LIVE_MAX_MESSAGE_BYTES:
                    break
                message = json.loads(raw)
            except ValueError:  # binary or not JSON: not one of our clients
                break
            if isinstance(message, dict) and message.get("type") == "ping":
                await _send(reader, {"type": "pong", "now": time.time()})
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        sender.cancel()
        h.leave(reader)
        await _close(websocket, 1000)


async def _deliver(h: Hub, reader: Reader) -> None:
    """Send the reader each delta it is behind by, one at a time, until it goes."""
    while True:
        await reader.wake.wait()
        reader.wake.clear()
        try:
            message = await asyncio.to_thread(h.delta, reader)
        except WorkbenchError as exc:  # the session ended, the lab is gone, a new passcode
            if reader.websocket is not None:
                await _send(
                    reader,
                    {
                        "type": "error",
                        "error": exc.key,
                        "message": t(exc.key, reader.lang, **exc.params),
                    },
                )
                await _close(reader.websocket, 4000 + _status(exc))
            return
        if message["revision"] != reader.since or message["reset"]:
            if not await _send(reader, message):
                return
            reader.since = message["revision"]
            if reader.since != h.revisions.get(reader.key, reader.since):
                reader.wake.set()  # it moved on meanwhile


routes = [
    Route("/api/live/{lab}/delta", delta_route, methods=["GET"]),
    WebSocketRoute("/api/live/{lab}/ws", socket_route),
    Route("/api/keep", keep_route, methods=["POST", "DELETE"]),
]


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the watcher and listen to this process's commits while the server runs."""
    from workbench.store.base import add_commit_listener, remove_commit_listener

    h = hub()
    h.loop = asyncio.get_running_loop()
    add_commit_listener(h.committed)
    watcher = asyncio.ensure_future(h.watch())
    try:
        yield {}
    finally:
        watcher.cancel()
        remove_commit_listener(h.committed)
        h.loop = None
        h._listeners.clear()  # their threads end within a listen timeout
        if h._observer is not None:
            h._observer.stop()


__all__ = [
    "Claim",
    "Hub",
    "changes_since",
    "hub",
    "issue_member_token",
    "issue_signin_token",
    "issue_token",
    "read_kept_token",
    "read_token",
    "routes",
    "lifespan",
]
