"""Workshop helpers outside the store: the join link's address and its QR code, the timer text."""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def join_url(base: str, token: str, workspace: str, lang: str | None = None) -> str:
    """The join link: ``<scheme>://<host>/join?ws=…&t=…`` (``base`` may be any URL of the app;
    only its scheme, host and port are kept)."""
    parts = urlsplit(base)
    query = {"ws": workspace, "t": token}
    if lang:
        query["lang"] = lang
    return f"{parts.scheme}://{parts.netloc}/join?{urlencode(query)}"


def member_url(base: str, member_token: str, workspace: str, lab_id: str,
               lang: str | None = None) -> str:
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
