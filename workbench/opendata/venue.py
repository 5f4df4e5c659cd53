"""Basemap tiles for a venue without internet: ``workbench venue prepare`` stores the street
basemap's tiles of a living lab's site and its buffer in one MBTiles archive (SQLite, the
MBTiles 1.3 layout), and the app serves them from its own route (:data:`routes`), so the whole
workshop runs with the network unplugged.

The tile server's usage policy is respected: the workbench's user agent, one request at a time
with a pause between requests, at most ``VENUE_MAX_TILES`` tiles per lab (refused beyond, before
any request) and no zoom above ``VENUE_OSM_MAX_ZOOM`` from the public OpenStreetMap tile server.
An archive is written to a temporary file and moved into place only when complete; a corrupt
one is refused with a clear message, never served half.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ValidationError
from workbench.model import LivingLab
from workbench.settings import (
    USER_AGENT,
    VENUE_BUFFER_M,
    VENUE_MAX_TILES,
    VENUE_OSM_MAX_ZOOM,
    VENUE_REQUEST_INTERVAL_S,
    data_dir,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

OSM_TILE_HOST = "tile.openstreetmap.org"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
Fetch = Callable[[str], bytes]


def venue_dir() -> Path:
    path = data_dir() / "venue"
    path.mkdir(parents=True, exist_ok=True)
    return path


def archive_path(lab_id: str) -> Path:
    """Where a lab's venue archive lives (the id must be a UUID: no path from outside)."""
    if not _UUID.match(lab_id or ""):
        raise ValidationError("venue.bad_lab")
    return venue_dir() / f"{lab_id}.mbtiles"


def parse_zooms(text: str) -> tuple[int, int]:
    """``"12-17"`` or ``"15"`` as the lowest and highest zoom level."""
    try:
        low, _, high = text.partition("-")
        zooms = (int(low), int(high or low))
    except ValueError as exc:
        raise ValidationError("venue.bad_zoom", value=text[:20]) from exc
    if not 0 <= zooms[0] <= zooms[1] <= 22:
        raise ValidationError("venue.bad_zoom", value=text[:20])
    return zooms


def tile_xy(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The slippy-map tile column and row holding ``lon``, ``lat`` at ``zoom``."""
    n = 2**zoom
    lat = max(min(lat, 85.0511), -85.0511)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def site_bounds(lab: LivingLab, buffer_m: float = VENUE_BUFFER_M) -> tuple[float, ...]:
    """The lon/lat box of the site and ``buffer_m`` metres around it."""
    import geopandas as gpd

    site = gpd.GeoSeries([lab.boundary], crs=4326)
    utm = site.estimate_utm_crs()
    return tuple(float(v) for v in site.to_crs(utm).buffer(buffer_m).to_crs(4326).total_bounds)


def tiles_for(bounds: Iterable[float], zooms: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Every tile ``(z, x, y)`` covering ``bounds`` at the zoom levels ``zooms`` (inclusive)."""
    minx, miny, maxx, maxy = bounds
    out = []
    for z in range(zooms[0], zooms[1] + 1):
        x0, y0 = tile_xy(minx, maxy, z)
        x1, y1 = tile_xy(maxx, miny, z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def _http_fetch(url: str) -> bytes:
    import requests

    response = requests.get(url, headers={"User-Agent": USER_AGENT}, timeout=20)
    response.raise_for_status()
    return response.content


def prepare_venue(
    lab: LivingLab,
    zooms: tuple[int, int] = (12, 17),
    source_url: str | None = None,
    *,
    buffer_m: float = VENUE_BUFFER_M,
    max_tiles: int = VENUE_MAX_TILES,
    fetch: Fetch | None = None,
    interval_s: float = VENUE_REQUEST_INTERVAL_S,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Store the basemap tiles of ``lab``'s site and buffer in its venue archive; returns it.

    ``source_url``: a tile URL template (``{z}/{x}/{y}``; default the OpenStreetMap street
    map). Raises :class:`ValidationError`: ``venue.zoom_osm`` (above zoom 17 from the public
    OSM server), ``venue.too_many`` (more than ``max_tiles``), ``venue.fetch_failed`` or
    ``venue.not_png`` (nothing is saved then)."""
    from workbench.opendata.basemaps import BASEMAPS

    source_url = source_url or BASEMAPS["street"].url
    if OSM_TILE_HOST in source_url and zooms[1] > VENUE_OSM_MAX_ZOOM:
        raise ValidationError("venue.zoom_osm", zoom=zooms[1], limit=VENUE_OSM_MAX_ZOOM)
    tiles = tiles_for(site_bounds(lab, buffer_m), zooms)
    if len(tiles) > max_tiles:
        raise ValidationError("venue.too_many", count=len(tiles), limit=max_tiles)
    fetch = fetch or _http_fetch
    target = archive_path(lab.id)
    fd, tmp = tempfile.mkstemp(prefix=".venue-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with sqlite3.connect(tmp) as db:
            db.executescript(
                "CREATE TABLE metadata (name TEXT, value TEXT);"
                "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                "tile_row INTEGER, tile_data BLOB);"
                "CREATE UNIQUE INDEX tile_index ON tiles "
                "(zoom_level, tile_column, tile_row);"
            )
            minx, miny, maxx, maxy = site_bounds(lab, buffer_m)
            db.executemany(
                "INSERT INTO metadata VALUES (?, ?)",
                [
                    ("name", lab.title[:200]),
                    ("format", "png"),
                    ("type", "baselayer"),
                    ("version", "1.3"),
                    ("minzoom", str(zooms[0])),
                    ("maxzoom", str(zooms[1])),
                    ("bounds", f"{minx:.6f},{miny:.6f},{maxx:.6f},{maxy:.6f}"),
                    ("attribution", "© OpenStreetMap contributors"),
                    ("source", source_url),
                    ("prepared_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                ],
            )
            for i, (z, x, y) in enumerate(tiles, start=1):
                url = (
                    source_url.replace("{z}", str(z))
                    .replace("{x}", str(x))
                    .replace("{y}", str(y))
                    .replace("{s}", "a")
                )
                try:
                    data = fetch(url)
                except Exception as exc:  # noqa: BLE001 - any failure: nothing is kept
                    raise ValidationError(
                        "venue.fetch_failed", url=url[:200], reason=type(exc).__name__
                    ) from exc
                if not data.startswith(PNG_MAGIC):
                    raise ValidationError("venue.not_png", url=url[:200])
                db.execute(
                    "INSERT OR REPLACE INTO tiles VALUES (?, ?, ?, ?)",
                    (z, x, 2**z - 1 - y, sqlite3.Binary(data)),
                )  # TMS rows
                if progress:
                    progress(i, len(tiles))
                if interval_s and i < len(tiles):
                    time.sleep(interval_s)  # one request at a time, with a pause
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _open(path: Path) -> sqlite3.Connection:
    """The archive opened read-only, checked to be an MBTiles archive."""
    try:
        with path.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise ValidationError("venue.corrupt", name=path.name)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if not {"tiles", "metadata"} <= names:
            db.close()
            raise ValidationError("venue.corrupt", name=path.name)
        return db
    except sqlite3.DatabaseError as exc:
        raise ValidationError("venue.corrupt", name=path.name) from exc


def venue_info(lab_id: str) -> dict[str, str | int] | None:
    """The archive's metadata and tile count (None when the lab has no venue archive).
    Raises ``venue.corrupt`` for an archive that cannot be read."""
    path = archive_path(lab_id)
    if not path.is_file():
        return None
    db = _open(path)
    try:
        meta: dict[str, str | int] = dict(db.execute("SELECT name, value FROM metadata"))
        meta["tiles"] = int(db.execute("SELECT count(*) FROM tiles").fetchone()[0])
        db.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValidationError("venue.corrupt", name=path.name) from exc
    finally:
        db.close()
    return meta


def read_tile(lab_id: str, z: int, x: int, y: int) -> bytes | None:
    """One stored tile (slippy-map ``z/x/y``), or None when the archive does not hold it."""
    path = archive_path(lab_id)
    if not path.is_file():
        return None
    db = _open(path)
    try:
        row = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, 2**z - 1 - y),
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValidationError("venue.corrupt", name=path.name) from exc
    finally:
        db.close()
    return bytes(row[0]) if row else None


# ---- the app's route ---------------------------------------------------------------------------
#: The tile URL template of a lab's venue tiles on the app's own server (below baseUrlPath).
TILE_PATH = "api/venue/{lab}/{z}/{x}/{y}.png"


async def tile_route(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    p = request.path_params
    try:
        z, x, y = int(p["z"]), int(p["x"]), int(p["y"])
        data = await run_in_threadpool(read_tile, p["lab"], z, x, y)
    except (ValueError, ValidationError):
        return Response(status_code=404)
    if data is None:
        return Response(status_code=404)
    return Response(
        data, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


def _routes() -> list[Route]:
    from starlette.routing import Route

    return [Route("/api/venue/{lab}/{z}/{x}/{y}.png", tile_route, methods=["GET"])]


routes = _routes()
