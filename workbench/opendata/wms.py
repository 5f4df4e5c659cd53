"""The layers a WMS service offers, read from its GetCapabilities document.

The server fetches the document only from a public http(s) host (``basemaps.validate_wms``),
follows no redirect, gives up after ``WMS_CAPABILITIES_TIMEOUT_S`` seconds in all and reads at
most ``WMS_CAPABILITIES_MAX_BYTES``; every failure is a :class:`ValidationError` with a message
the page shows translated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

from workbench.errors import ValidationError
from workbench.opendata.basemaps import Resolver, validate_wms
from workbench.settings import (
    MAX_WMS_LAYERS,
    USER_AGENT,
    WMS_CAPABILITIES_MAX_BYTES,
    WMS_CAPABILITIES_TIMEOUT_S,
)

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class WmsLayerInfo:
    name: str
    title: str


def capabilities_url(url: str) -> str:
    """The GetCapabilities request of a WMS base URL (its own query kept, ours replacing)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query)
        if k.lower() not in ("service", "request", "version")
    ]
    query += [("SERVICE", "WMS"), ("REQUEST", "GetCapabilities"), ("VERSION", "1.3.0")]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def fetch_capabilities(
    url: str,
    *,
    timeout_s: float = WMS_CAPABILITIES_TIMEOUT_S,
    max_bytes: int = WMS_CAPABILITIES_MAX_BYTES,
    resolve: Resolver | None = None,
    session: requests.Session | None = None,
) -> bytes:
    """The GetCapabilities document of the WMS at ``url`` (checked first: public http(s) only).

    Raises :class:`ValidationError`: ``mapview.caps.timeout`` (no complete answer within
    ``timeout_s`` seconds), ``mapview.caps.too_large`` (more than ``max_bytes``),
    ``mapview.caps.http`` (an error status or a redirect), ``mapview.caps.unreachable``."""
    import requests

    clean, _layer = validate_wms(url, "capabilities", resolve=resolve)
    megabytes = max_bytes / 1_000_000
    deadline = time.monotonic() + timeout_s
    http = session or requests.Session()
    try:
        with http.get(
            capabilities_url(clean),
            stream=True,
            allow_redirects=False,
            timeout=(min(timeout_s, 5.0), timeout_s),
            headers={"User-Agent": USER_AGENT, "Accept": "application/xml, text/xml"},
        ) as response:
            if response.status_code != 200:
                raise ValidationError("mapview.caps.http", status=response.status_code)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ValidationError("mapview.caps.too_large", megabytes=megabytes)
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise ValidationError("mapview.caps.too_large", megabytes=megabytes)
                if time.monotonic() > deadline:
                    raise ValidationError("mapview.caps.timeout", seconds=timeout_s)
            return bytes(body)
    except requests.Timeout as exc:
        raise ValidationError("mapview.caps.timeout", seconds=timeout_s) from exc
    except requests.RequestException as exc:
        raise ValidationError("mapview.caps.unreachable", reason=type(exc).__name__) from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_capabilities(document: bytes) -> list[WmsLayerInfo]:
    """The named layers of a WMS capabilities document (1.1.1 or 1.3.0), in document order.

    Document type declarations are refused (no entity expansion)."""
    head = document[:2048].lower()
    if b"<!doctype" in head or b"<!entity" in document.lower():
        raise ValidationError("mapview.caps.not_wms")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise ValidationError("mapview.caps.not_wms") from exc
    if _local(root.tag) not in ("WMS_Capabilities", "WMT_MS_Capabilities"):
        raise ValidationError("mapview.caps.not_wms")
    found: list[WmsLayerInfo] = []
    for element in root.iter():
        if _local(element.tag) != "Layer":
            continue
        name = title = ""
        for child in element:
            if _local(child.tag) == "Name":
                name = (child.text or "").strip()
            elif _local(child.tag) == "Title":
                title = (child.text or "").strip()
        if name and all(x.name != name for x in found):
            found.append(WmsLayerInfo(name[:200], title[:200] or name[:200]))
        if len(found) >= MAX_WMS_LAYERS:
            break
    if not found:
        raise ValidationError("mapview.caps.no_layers")
    return found


def wms_layers(
    url: str,
    *,
    timeout_s: float = WMS_CAPABILITIES_TIMEOUT_S,
    max_bytes: int = WMS_CAPABILITIES_MAX_BYTES,
    resolve: Resolver | None = None,
    session: requests.Session | None = None,
) -> list[WmsLayerInfo]:
    """The layers the WMS at ``url`` offers (:func:`fetch_capabilities`, then parsed)."""
    return parse_capabilities(
        fetch_capabilities(
            url, timeout_s=timeout_s, max_bytes=max_bytes, resolve=resolve, session=session
        )
    )
