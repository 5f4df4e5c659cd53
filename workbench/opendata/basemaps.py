"""Basemaps from keyless tile providers, and WMS layers by URL (checked before use)."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from workbench.errors import ValidationError
from workbench.settings import OSM_ATTRIBUTION

_OSM_LINK = '<a href="https://www.openstreetmap.org/copyright">ODbL</a>'


@dataclass(frozen=True)
class Basemap:
    code: str
    url: str
    attribution: str
    max_zoom: int = 19

    @property
    def label_key(self) -> str:
        return f"opendata.basemap.{self.code}"


#: Keyless basemaps: street map, light map, satellite imagery, topographic map.
BASEMAPS: dict[str, Basemap] = {
    b.code: b
    for b in (
        Basemap(
            "street",
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            f"{OSM_ATTRIBUTION} ({_OSM_LINK})",
        ),  # = maps.OSM_LAYER_ATTRIBUTION
        Basemap(
            "light",
            "https://server.arcgisonline.com/ArcGIS/rest/services/Canvas/"
            "World_Light_Gray_Base/MapServer/tile/{z}/{y}/{x}",
            "Tiles © Esri — Esri, HERE, Garmin, © OpenStreetMap contributors, and the GIS "
            "user community",
            16,
        ),
        Basemap(
            "satellite",
            "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/"
            "MapServer/tile/{z}/{y}/{x}",
            "Tiles © Esri — Source: Esri, Maxar, Earthstar Geographics, and the GIS User Community",
            19,
        ),
        Basemap(
            "topo",
            "https://tile.opentopomap.org/{z}/{x}/{y}.png",
            f"Map data: {OSM_ATTRIBUTION}, SRTM | Map style: © OpenTopoMap (CC-BY-SA)",
            17,
        ),
    )
}

_LAYER_NAME = re.compile(r"^[\w.:/ -]{1,200}$")
Resolver = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def validate_wms(url: str, layer: str, resolve: Resolver | None = None) -> tuple[str, str]:
    """Check a WMS base URL and layer name; returns them cleaned.

    The URL must be http(s), without user name or password, and its host must resolve only to
    public addresses (no loopback, private, link-local or reserved networks), so that a typed
    URL never points anything at the server's own network. Raises :class:`ValidationError`
    (``opendata.wms.*``) otherwise.
    """
    resolve = resolve or _resolve
    url = (url or "").strip()
    layer = (layer or "").strip()
    if len(url) > 2000:
        raise ValidationError("opendata.wms.bad_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("opendata.wms.bad_url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("opendata.wms.scheme", scheme=parts.scheme or "—")
    host = parts.hostname
    if not host or parts.username or parts.password or any(c.isspace() for c in url):
        raise ValidationError("opendata.wms.bad_url")
    if port is not None and port not in (80, 443, 8080, 8443):
        raise ValidationError("opendata.wms.port", port=port)
    literal = _literal_ip(host)
    try:
        addresses = [literal] if literal is not None else resolve(host)
    except (OSError, UnicodeError) as exc:
        raise ValidationError("opendata.wms.unresolvable", host=host) from exc
    if not addresses:
        raise ValidationError("opendata.wms.unresolvable", host=host)
    for address in addresses:
        if not _is_public(ipaddress.ip_address(address.split("%")[0])):
            raise ValidationError("opendata.wms.private", host=host)
    if not _LAYER_NAME.match(layer):
        raise ValidationError("opendata.wms.layer")
    clean = urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query, ""))
    return clean, layer


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translation
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 ::ffff:0:a.b.c.d


def _literal_ip(host: str) -> str | None:
    """The address a host name stands for when it is an address literal, else None.

    Besides ``[v6]`` and dotted quads this takes every form a browser's URL parser reads as
    IPv4: decimal (``2130706433``), octal (``0177.0.0.1``), hex (``0x7f.1``), short (``127.1``)."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, translated, NAT64,
    6to4, Teredo server and client), which a gateway may connect to instead."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in (_NAT64, _IPV4_COMPATIBLE, _IPV4_TRANSLATED)):
        found.append(low32)
    return found


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet, also through any IPv4 it embeds."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        return all(_is_public(v4) for v4 in _embedded_ipv4(ip))
    return True
