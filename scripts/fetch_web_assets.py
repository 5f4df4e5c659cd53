#!/usr/bin/env python3
"""Fetch local copies of the web assets that folium / streamlit-folium load from CDNs.

Usage: python scripts/fetch_web_assets.py [DEST]   (default: static/web-assets/)

The browser tests (tests/browser/) run without internet. folium 0.20 writes <script src> and
<link href> tags that point at CDNs; the tests answer those requests from DEST instead. This
script gets each asset from its npm package with `npm pack` (the npm registry is reachable
where the CDNs are not) and writes DEST/manifest.json:

    {"fingerprint": ..., "assets": {CDN_URL: {"file": PATH_IN_DEST, "package": SPEC,
                                              "stub": false}, ...}}

Files are laid out as DEST/<host>/<path of the URL>, so a CSS file's relative url(...) to
images and fonts lands on another manifest entry. Running it again does nothing while the
manifest matches the table below. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# the same folder as workbench.settings.WEB_ASSETS_DIR (this script uses the standard library only)
DEFAULT_DEST = ROOT / "static" / "web-assets"

JSDELIVR = "https://cdn.jsdelivr.net/npm"
CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"

# npm spec -> (CDN base URL, {path after the base: path inside the package}). A path ending
# in "/" maps a whole folder (images and fonts that a CSS file names by relative url).
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "leaflet@1.9.3": (
        f"{JSDELIVR}/leaflet@1.9.3/dist/",
        {
            "leaflet.js": "dist/leaflet.js",
            "leaflet.css": "dist/leaflet.css",
            "images/": "dist/images/",
        },
    ),
    "jquery@3.7.1": (
        "https://code.jquery.com/",
        {
            "jquery-3.7.1.min.js": "dist/jquery.min.js",
        },
    ),
    "bootstrap@5.2.2": (
        f"{JSDELIVR}/bootstrap@5.2.2/dist/",
        {
            "js/bootstrap.bundle.min.js": "dist/js/bootstrap.bundle.min.js",
            "css/bootstrap.min.css": "dist/css/bootstrap.min.css",
        },
    ),
    # Glyphicons alone, as the 3.0.0 CDN file was (Bootstrap 3.3.7's set; folium.Icon's default).
    "@neos21/bootstrap3-glyphicons@1.0.7": (
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/",
        {
            "css/bootstrap-glyphicons.css": "dist/css/bootstrap3-glyphicons.css",
            "fonts/": "dist/fonts/",
        },
    ),
    "@fortawesome/fontawesome-free@6.2.0": (
        f"{JSDELIVR}/@fortawesome/fontawesome-free@6.2.0/",
        {
            "css/all.min.css": "css/all.min.css",
            "webfonts/": "webfonts/",
        },
    ),
    # The same 2.0.2 release as cdnjs, republished on npm under this name.
    "drmonty-leaflet-awesome-markers@2.0.2": (
        f"{CDNJS}/Leaflet.awesome-markers/2.0.2/",
        {
            "leaflet.awesome-markers.js": "js/leaflet.awesome-markers.js",
            "leaflet.awesome-markers.css": "css/leaflet.awesome-markers.css",
            "images/": "css/images/",
        },
    ),
    "leaflet-draw@1.0.2": (
        f"{CDNJS}/leaflet.draw/1.0.2/",
        {
            "leaflet.draw.js": "dist/leaflet.draw.js",
            "leaflet.draw.css": "dist/leaflet.draw.css",
            "images/": "dist/images/",
        },
    ),
    "leaflet.markercluster@1.1.0": (
        f"{CDNJS}/leaflet.markercluster/1.1.0/",
        {
            "leaflet.markercluster.js": "dist/leaflet.markercluster.js",
            "MarkerCluster.css": "dist/MarkerCluster.css",
            "MarkerCluster.Default.css": "dist/MarkerCluster.Default.css",
        },
    ),
    # jsDelivr minifies on the fly; the package ships only the plain file.
    "leaflet.fullscreen@3.0.0": (
        f"{JSDELIVR}/leaflet.fullscreen@3.0.0/",
        {
            "Control.FullScreen.min.js": "Control.FullScreen.js",
            "Control.FullScreen.css": "Control.FullScreen.css",
            "icon-fullscreen.svg": "icon-fullscreen.svg",
        },
    ),
    # streamlit-folium adds both d3 builds when the map holds a branca colormap (a legend).
    "d3@3.5.5": (f"{CDNJS}/d3/3.5.5/", {"d3.min.js": "d3.min.js"}),
    "d3@4.13.0": ("https://d3js.org/", {"d3.v4.min.js": "build/d3.min.js"}),
    # Not loaded by the app: the browser tests inject it to check every page's accessibility.
    "axe-core@4.14.1": (f"{JSDELIVR}/axe-core@4.14.1/", {"axe.min.js": "axe.min.js"}),
    # the world basemap that needs no network (workbench.maps.WorldOutline): Natural Earth
    # countries at 1:110 million as TopoJSON, and the client that turns it into GeoJSON
    "world-atlas@2.0.2": (
        f"{JSDELIVR}/world-atlas@2.0.2/",
        {"countries-110m.json": "countries-110m.json"},
    ),
    "topojson-client@3.1.0": (
        f"{JSDELIVR}/topojson-client@3.1.0/dist/",
        {"topojson-client.min.js": "dist/topojson-client.min.js"},
    ),
}

# Non-essential CSS with no npm package: answered with an empty file.
STUBS = [
    # Rotation classes for folium.Icon(angle=...); markers still show, unrotated.
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
    "leaflet.awesome.rotate.min.css",
]


def local_path(url: str) -> str:
    """Where a URL's file lives inside DEST: <host>/<path>."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def fingerprint() -> str:
    table = json.dumps([PACKAGES, STUBS], sort_keys=True).encode()
    return hashlib.sha256(table).hexdigest()[:16]


def up_to_date(dest: Path) -> bool:
    try:
        manifest = json.loads((dest / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("fingerprint") == fingerprint() and all(
        (dest / entry["file"]).is_file() for entry in manifest["assets"].values()
    )


def npm_pack(specs: list[str], workdir: Path) -> dict[str, Path]:
    """Download the tarballs of `specs` into workdir; return spec -> tarball."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("fetch_web_assets: npm not found; install Node.js/npm (e.g. apt-get install npm)")
    result = subprocess.run(
        [npm, "pack", "--json", *specs], cwd=workdir, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"fetch_web_assets: npm pack failed:\n{result.stderr.strip()}")
    packed = {info["id"]: workdir / info["filename"] for info in json.loads(result.stdout)}
    return {spec: packed[spec] for spec in specs}


def cdn_urls() -> list[str]:
    """The CDN URLs (and folder URLs, ending in "/") that this script provides for."""
    urls = [base + path for base, paths in PACKAGES.values() for path in paths]
    return urls + STUBS


def unpack(spec: str, tarball: Path, dest: Path) -> dict[str, dict]:
    """Copy the files PACKAGES names out of one npm tarball; return manifest entries."""
    base, paths = PACKAGES[spec]
    entries = {}
    with tarfile.open(tarball) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile()}
        for path, inner in paths.items():
            url = base + path
            if url.endswith("/"):
                wanted = {
                    url + name[len(inner) :]: name for name in members if name.startswith(inner)
                }
                if not wanted:
                    sys.exit(f"fetch_web_assets: {spec} has no folder {inner}")
            else:
                wanted = {url: inner}
            for file_url, name in wanted.items():
                if name not in members:
                    sys.exit(f"fetch_web_assets: {spec} has no file {name}")
                target = dest / local_path(file_url)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(members[name]).read())
                entries[file_url] = {"file": local_path(file_url), "package": spec, "stub": False}
    return entries


def fetch(dest: Path = DEFAULT_DEST) -> Path:
    """Make sure dest holds every asset and manifest.json; return the manifest's path."""
    dest = Path(dest)
    if up_to_date(dest):
        print(f"fetch_web_assets: {dest} is up to date")
        return dest / "manifest.json"
    assets: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = npm_pack(list(PACKAGES), Path(tmp))
        for spec in PACKAGES:
            assets.update(unpack(spec, tarballs[spec], dest))
    for url in STUBS:
        target = dest / local_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("/* offline stub for browser tests */\n")
        assets[url] = {"file": local_path(url), "package": None, "stub": True}
    manifest = dest / "manifest.json"
    partial = manifest.with_suffix(f".{os.getpid()}.tmp")  # readers never see half a manifest
    partial.write_text(json.dumps({"fingerprint": fingerprint(), "assets": assets}, indent=1))
    os.replace(partial, manifest)
    print(f"fetch_web_assets: wrote {len(assets)} assets to {dest}")
    return manifest


if __name__ == "__main__":
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        sys.exit(__doc__.split("\n\n")[1])
    fetch(Path(sys.argv[1]) if len(sys.argv) == 2 else DEFAULT_DEST)
