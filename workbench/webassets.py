"""Local copies of the web assets that folium loads from CDNs (Leaflet, Leaflet.draw, jQuery …).

``scripts/fetch_web_assets.py`` packs them from the npm registry into ``settings.WEB_ASSETS_DIR``
with a ``manifest.json`` (CDN URL → file). Where they exist, maps in the app load them from the
app's own server, so a workshop room without internet still gets its maps (only basemap tiles
need the network); the exported HTML inlines them; the browser tests serve them.

It must not fetch at run time: ``scripts/fetch_web_assets.py`` fetches them once; without them
the maps fall back to folium's CDN addresses.
"""

from __future__ import annotations

import json
from pathlib import Path

import folium

from workbench.settings import WEB_ASSETS_DIR

_CACHE: dict[str, tuple[float, dict[str, Path]]] = {}


def local_files(assets_dir: Path | None = None) -> dict[str, Path]:
    """CDN URL → local file, from the manifest (empty when there is none)."""
    folder = Path(assets_dir or WEB_ASSETS_DIR)
    manifest = folder / "manifest.json"
    try:
        mtime = manifest.stat().st_mtime
    except OSError:
        return {}
    hit = _CACHE.get(str(folder))
    if hit is None or hit[0] != mtime:
        try:
            assets = json.loads(manifest.read_text(encoding="utf-8"))["assets"]
        except (OSError, ValueError, KeyError):
            return {}
        files = {
            url: folder / e["file"] for url, e in assets.items() if (folder / e["file"]).is_file()
        }
        hit = _CACHE[str(folder)] = (mtime, files)
    return hit[1]


def use_local_assets(m: folium.Map, base_url: str, assets_dir: Path | None = None) -> folium.Map:
    """Point every script and stylesheet of ``m`` that has a local copy at ``base_url``, and
    every URL an element's script fetches (its ``asset_urls``).

    ``base_url`` is where the browser finds ``assets_dir`` (e.g. ``/app/static/web-assets``).
    Only this map's elements change (instance attributes); folium's classes stay as they are.
    """
    folder = Path(assets_dir or WEB_ASSETS_DIR)
    files = local_files(folder)
    if not files:
        return m
    base = base_url.rstrip("/")

    def local(links: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (name, f"{base}/{files[url].relative_to(folder).as_posix()}" if url in files else url)
            for name, url in links
        ]

    stack = [m]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                setattr(element, attr, local(links))
        urls = getattr(element, "asset_urls", None)  # data a map's script fetches
        if isinstance(urls, dict):
            setattr(element, "asset_urls", dict(local(list(urls.items()))))  # noqa: B010 - any element
        stack.extend(getattr(element, "_children", {}).values())
    return m
