"""Workshop helpers outside the store: the join link's address and its QR code, the timer text."""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def room_base(browser_url: str | None, listen: str | None, port: int | None,
              public: str | None = None, network_ip: str | None = None) -> tuple[str, bool]:
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
