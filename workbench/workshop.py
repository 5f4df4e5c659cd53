"""The workshop layer above the store: a round's end with its snapshot (:func:`end_round`,
:func:`start_round`, :func:`end_session`), the presenter view's layers by id, the join link's
address and its QR code, the timer text.

It owns what a workshop step needs from more than the store (the snapshot of the map, its
translated name); it must not speak SQL or judge permissions (the store does both, in the
transaction of each write), and it imports no Streamlit.
"""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from workbench.access import Actor
from workbench.errors import ValidationError
from workbench.export.snapshots import make_snapshot
from workbench.i18n import LANGUAGES, fmt_datetime, t
from workbench.model import Snapshot, WorkshopRound, WorkshopSession, utcnow
from workbench.store import Store


# ---- the presenter view's layers, by id -------------------------------------------------------
def presenter_layer_ids(store: Store, lab_id: str, view: dict[str, Any]) -> list[str] | None:
    """The layers the facilitator chose for the presenter view (``workshop_view``), as layer
    ids (``osm:<theme>``, an upload's id); None: every layer.

    Stored as ``layer_ids``. A view saved before kept the layers' labels (``layers``: the
    translated, HTML-escaped names in the facilitator's language); those are read by matching
    each layer's name in every language, escaped or not, so no choice is lost."""
    if view.get("layer_ids") is not None:
        return [str(x) for x in view["layer_ids"]]
    labels = view.get("layers")
    if labels is None:
        return None
    from workbench.maps import escape_text
    from workbench.mapview import lab_layers

    wanted = {str(x) for x in labels}
    chosen = []
    for layer in lab_layers(store, lab_id)[0]:
        names = {layer.name}
        if layer.theme:
            names |= {t(f"opendata.theme.{layer.theme}", lang) for lang in LANGUAGES}
        if layer.layer_id and any(n in wanted or escape_text(n) in wanted for n in names):
            chosen.append(layer.layer_id)
    return chosen


# ---- rounds: end -> snapshot -> link, in one transaction -----------------------------------------
def end_round(store: Store, session_id: str, by: Actor | None, lang: str = "en") -> WorkshopRound:
    """End the running (or paused) round and keep the map as a named snapshot ("Round 2 ·
    Discuss · <time>", in ``lang``) with the facilitator's view, linked to the round.

    The snapshot is made first and stored in the transaction that ends the round
    (``Store.close_round``), so a failing snapshot leaves the round running as it was, and
    calling this again does the whole job. A last round that ended without its snapshot (ended
    by ``Store.start_round``/``Store.end_session`` directly, or by an older version) gets it
    now. Raises :class:`ValidationError` (``workshop.error.no_round``) when there is nothing
    to end."""
    store.require_runner(by)
    current = store.current_round(session_id)
    if current is None:
        rounds = store.list_rounds(session_id)
        if not rounds or rounds[-1].snapshot_id is not None:
            raise ValidationError("workshop.error.no_round")
        current = rounds[-1]  # ended without its snapshot: finish the job
    session = store.get_session(session_id)
    return store.close_round(current.id, by, _round_snapshot(store, session, current, by, lang))


def _round_snapshot(
    store: Store, session: WorkshopSession, current: WorkshopRound, by: Actor | None, lang: str
) -> Snapshot:
    view = store.lab_setting(session.lab_id, "workshop_view", {}) or {}
    bounds = view.get("bounds")
    name = t(
        "workshop.snapshot_name",
        lang,
        number=current.number,
        kind=t(f"workshop.round.{current.kind}", lang),
        time=fmt_datetime(current.ended_at or utcnow(), lang),
    )
    # one id per round: a retried end stores one snapshot
    return make_snapshot(
        store,
        session.lab_id,
        name,
        created_by=by.group if by else "",
        bounds=tuple(bounds) if bounds else None,
        snapshot_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"round:{current.id}")),
    )


def _end_open_round(store: Store, session_id: str, by: Actor | None, lang: str) -> None:
    if store.current_round(session_id) is None:
        return
    try:
        end_round(store, session_id, by, lang=lang)
    except ValidationError as exc:
        if exc.key != "workshop.error.no_round":
            raise  # else someone else ended it meanwhile: nothing left to end


def start_round(
    store: Store,
    session_id: str,
    kind: str,
    by: Actor | None,
    minutes: int = 0,
    lock_edits: bool = False,
    lang: str = "en",
) -> WorkshopRound:
    """Start the next round (``Store.start_round``); a running or paused one ends first,
    with its snapshot (:func:`end_round`)."""
    store.require_runner(by)
    store.check_round(kind, minutes)  # a wrong kind or timer ends nothing
    _end_open_round(store, session_id, by, lang)
    return store.start_round(session_id, kind, by, minutes=minutes, lock_edits=lock_edits)


def end_session(
    store: Store, session_id: str, by: Actor | None, lang: str = "en"
) -> WorkshopSession:
    """End a session (``Store.end_session``); its running round ends first, with its
    snapshot."""
    session = store.get_session(session_id)
    if session.status != "ended":
        _end_open_round(store, session_id, by, lang)
    return store.end_session(session_id, by)


def room_base(
    browser_url: str | None,
    listen: str | None,
    port: int | None,
    public: str | None = None,
    network_ip: str | None = None,
) -> tuple[str, bool]:
    """The address a room reaches the app at, for join links and QR codes, and whether other
    devices can reach it: ``public`` (``WORKBENCH_PUBLIC_URL``) when set; else the address the
    facilitator's browser used (``browser_url``) unless it is this machine's loopback; then the
    machine's network address (``network_ip``, as Streamlit prints its "Network URL") when the
    server listens beyond loopback (``listen``: ``server.address``, empty or ``0.0.0.0`` for
    every interface). Only loopback possible: that address, and False."""
    from workbench.settings import is_loopback

    if public:
        return public, True
    parts = urlsplit(browser_url or "")
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    if host and not is_loopback(host):
        return f"{scheme}://{parts.netloc}", True
    port = port or parts.port or 8501
    here = f"{scheme}://{parts.netloc}" if parts.netloc else f"http://localhost:{port}"
    if is_loopback(listen):  # served to this machine only
        return here, False
    if listen and listen not in ("0.0.0.0", "::"):  # one address of this machine
        return f"{scheme}://{_host(listen)}:{port}", True
    if network_ip and not is_loopback(network_ip):
        return f"{scheme}://{_host(network_ip)}:{port}", True
    return here, False


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def join_url(base: str, token: str, workspace: str, lang: str | None = None) -> str:
    """The join link: ``<scheme>://<host>/join?ws=…&t=…`` (``base`` may be any URL of the app;
    only its scheme, host and port are kept)."""
    parts = urlsplit(base)
    query = {"ws": workspace, "t": token}
    if lang:
        query["lang"] = lang
    return f"{parts.scheme}://{parts.netloc}/join?{urlencode(query)}"


def member_url(
    base: str, member_token: str, workspace: str, lab_id: str, lang: str | None = None
) -> str:
    """A group's own member link: the map as that group (``/map?ws=…&lab=…&member=…``)."""
    parts = urlsplit(base)
    query = {"ws": workspace, "lab": lab_id, "member": member_token}
    if lang:
        query["lang"] = lang
    return f"{parts.scheme}://{parts.netloc}/map?{urlencode(query)}"


def qr_png(text: str, box_size: int = 10) -> bytes:
    """A QR code of ``text`` as PNG bytes (black on white, with the quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out)
    return out.getvalue()


def clock(seconds: float | None) -> str:
    """A timer as ``m:ss`` (``-m:ss`` over time); "" without a timer."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds) + (0 if seconds < 0 else 0.999))
    return f"{sign}{whole // 60}:{whole % 60:02d}"
