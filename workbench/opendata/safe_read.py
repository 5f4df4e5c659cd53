"""Reading files that strangers made: one GDAL driver per format, no network, no other files, in a
bounded child process.

GDAL opens a file by its *content*, and several of its formats point elsewhere: an OGR VRT
document names other data sources (any file, any SQL, ``/vsicurl/`` URLs), a GeoJSON ``crs`` may be
a link that GDAL fetches, a GeoPackage view can run any query for ever. So an upload is read in
four steps, each refusing what the previous one let through:

1. **Content matches the name** (:func:`check_content`, in the server, on the first bytes): a
   GeoPackage starts with the SQLite header, a ZIP/KMZ with ``PK``, a Shapefile's ``.shp`` with
   file code 9994, GeoJSON with ``{`` (after a BOM and white space); KML and GPX are XML whose root
   element is ``kml``/``gpx`` and that declares no DOCTYPE or ENTITY. An ``OGRVRTDataSource``
   anywhere in the first bytes is refused for every format.
2. **Format-specific references** (in the child, before GDAL opens the file):
   :func:`check_geojson_crs` refuses a ``crs`` member (top level or in any object) that is not a
   plain ``name`` of an authority code (``link`` types, ``href``, URLs, file names); a
   GeoPackage is inspected with Python's own ``sqlite3`` opened read-only
   (``file:…?mode=ro``, ``PRAGMA trusted_schema=OFF``): :func:`gpkg_layers` refuses views and
   virtual tables other than the R*Tree spatial index, and offers only layers that are tables
   listed in ``gpkg_contents`` with plain names.
3. **One driver, locked down** (the child's environment, set before GDAL loads, see
   :func:`gdal_environment`):

   ``GDAL_SKIP``
       every vector driver except the one the file's ending stands for, so a VRT, SQLite or
       CSV reading of a file is impossible whatever it contains; after opening, the driver GDAL
       used is compared with the expected one as well.
   ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS``
       an ending no URL has, so ``/vsicurl/`` (and the ``/vsis3/``-style paths built on it)
       refuse every address.
   ``GDAL_HTTP_PROXY`` / ``HTTP_PROXY`` / ``HTTPS_PROXY``
       a closed port on the loopback address (``NO_PROXY`` removed), so any other HTTP fetch
       GDAL might attempt (a CRS URL, a style, a remote KML link) cannot reach a host.
   ``GDAL_HTTP_TIMEOUT``, ``GDAL_HTTP_CONNECTTIMEOUT``, ``GDAL_HTTP_MAX_RETRY``
       one second, no retries: a fetch that slipped through cannot hold the reader.
   ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``
       GDAL does not list the upload's folder for side files.
   ``OGR_SQLITE_ALLOW_EXTERNAL_ACCESS=NO`` (and ``OGR_SQLITE_LOAD_EXTENSIONS`` unset)
       the default, stated: GPKG/SQLite SQL functions that open other datasets stay off and
       no SQLite extension is loaded.
   ``GDAL_VRT_ENABLE_PYTHON=NO``, ``LIBKML_RESOLVE_STYLE=NO``
       defaults as well, stated in case the VRT or LIBKML driver is ever allowed.
   ``PROJ_NETWORK=OFF``
       the projection library fetches no grids.

   Paths handed to GDAL are the upload's own temporary file, never a ``/vsi*`` path.
4. **Bounded process** (:func:`run_bounded`): the reading runs in a child made by the
   ``forkserver`` start method (the Streamlit server is threaded, so ``fork`` is unsafe; the fork
   server itself is single-threaded and preloads only pandas/geopandas, not GDAL), with
   ``RLIMIT_AS`` (memory) and ``RLIMIT_CPU`` set in the child, and killed by the server when it
   overruns :data:`~workbench.settings.UPLOAD_READ_TIMEOUT_S`. Results come back as Parquet
   bytes and a JSON header over a pipe (the server never unpickles what the child sends), errors
   as a locale key with parameters.
   The temporary folder is the caller's, removed by the caller, so a killed child leaves none.

:func:`read_layers` is the whole path for a GeoPackage or other file whose layers are wanted
as data frames (``workbench import`` can reuse it); :mod:`workbench.opendata.files` uses
:func:`run_bounded` with its own reading function.
"""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import settings
from workbench.errors import ValidationError, WorkbenchError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

#: The one GDAL driver allowed for each upload format (CSV is read by pandas, not GDAL).
DRIVERS = {
    "geojson": "GeoJSON",
    "gpkg": "GPKG",
    "shapefile": "ESRI Shapefile",
    "kml": "KML",
    "kmz": "KML",
    "gpx": "GPX",
}

#: GDAL/PROJ/curl settings of every child (see the module docstring for why each).
GDAL_CONFIG = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".wb-no-network",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "LIBKML_RESOLVE_STYLE": "NO",
    "PROJ_NETWORK": "OFF",
}
_UNSET = ("NO_PROXY", "no_proxy", "OGR_SQLITE_LOAD_EXTENSIONS", "GDAL_DATA_SOURCE", "CPL_DEBUG")

#: Modules the fork server loads once (GDAL deliberately not among them: its drivers are chosen
#: per child by ``GDAL_SKIP``, which only counts while GDAL registers them).
_PRELOAD = [
    "pandas",
    "pyarrow.parquet",
    "shapely",
    "pyproj",
    "geopandas",
    "workbench.opendata.files",
]

_HEAD = 4096
_BOM = b"\xef\xbb\xbf"
_XML_ROOT = re.compile(rb"<\s*([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_CRS_NAME = re.compile(r"(?i)(urn:ogc:def:crs:|epsg:|ogc:|crs:)[A-Za-z0-9.:_\-]{0,80}")
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9a-fA-F]")
_TABLE_NAME = re.compile(r"[\w\- .]{1,120}")


def _fail(key: str, **params: Any) -> ValidationError:
    return ValidationError(f"opendata.file.{key}", **params)


# ---- 1. content matches the name -------------------------------------------------------------


def check_content(fmt: str, head: bytes, name: str) -> None:
    """Refuse a file whose first bytes do not fit its format ``fmt`` (a code of
    :data:`workbench.opendata.files.FORMATS`, or ``"shp"`` for a Shapefile's ``.shp``)."""
    head = head[:_HEAD]
    if b"OGRVRTDataSource" in head or b"ogrvrtdatasource" in head.lower():
        raise _fail("refers_elsewhere", name=name)
    expected = {
        "geojson": "GeoJSON",
        "gpkg": "GeoPackage",
        "shapefile": "ZIP",
        "kmz": "ZIP",
        "kml": "KML",
        "gpx": "GPX",
        "shp": "Shapefile",
        "csv": "CSV",
    }[fmt]
    ok = True
    if fmt == "gpkg":
        ok = head.startswith(b"SQLite format 3\x00")
    elif fmt in ("shapefile", "kmz"):
        ok = head.startswith(b"PK\x03\x04")
    elif fmt == "shp":
        ok = head[:4] == b"\x00\x00\x27\x0a"
    elif fmt == "geojson":
        ok = head.removeprefix(_BOM).lstrip().startswith(b"{")
    elif fmt in ("kml", "gpx"):
        ok = _xml_root(head, name) == fmt
    elif fmt == "csv":
        ok = not head.startswith((b"SQLite format", b"PK\x03\x04", b"<")) and b"\x00" not in head
    if not ok:
        raise _fail("wrong_content", name=name, expected=expected)


def _xml_root(head: bytes, name: str) -> str:
    """The local name of an XML document's root element (lower case); DOCTYPE and ENTITY
    declarations are refused (entity expansion and external entities)."""
    text = head.removeprefix(_BOM)
    upper = text.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise _fail("xml_declarations", name=name)
    text = text.lstrip()
    while text.startswith((b"<?", b"<!--")):  # declaration, processing instructions, comments
        end = text.find(b"?>" if text.startswith(b"<?") else b"-->")
        if end < 0:
            return ""
        text = text[end + 2 + (not text.startswith(b"<?")) :].lstrip()
    found = _XML_ROOT.match(text)
    return found.group(2).decode("ascii", "replace").lower() if found else ""


# ---- 2. references inside a file --------------------------------------------------------------


def check_geojson_crs(path: Path, name: str) -> None:
    """Refuse a GeoJSON with a ``crs`` member anywhere that is not ``{"type": "name",
    "properties": {"name": <authority code>}}``; a known-unknown code is refused as well (GDAL
    would silently fall back to WGS84)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    data = path.read_bytes()
    if b"crs" not in data and b"href" not in data and not _ESCAPED_ASCII.search(data):
        return
    names: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if "crs" in obj:
            crs = obj["crs"]
            props = crs.get("properties") if isinstance(crs, dict) else None
            crs_name = props.get("name") if isinstance(props, dict) else None
            if (
                not isinstance(crs, dict)
                or crs.get("type") != "name"
                or not isinstance(props, dict)
                or not isinstance(crs_name, str)
                or not _CRS_NAME.fullmatch(crs_name)
                or "href" in props
                or "href" in crs
            ):
                raise _fail("refers_elsewhere", name=name)
            names.append(crs_name)
        return obj

    try:
        json.loads(data.removeprefix(_BOM).decode("utf-8", "replace"), object_pairs_hook=hook)
    except ValueError:
        return  # not JSON: GDAL will report it as damaged
    for crs_name in set(names):
        try:
            CRS.from_user_input(crs_name)
        except CRSError as exc:
            raise _fail("unknown_crs", reason=crs_name) from exc


def gpkg_layers(path: Path, name: str) -> list[str]:
    """The feature layers of a GeoPackage, read with ``sqlite3`` (read-only, untrusted schema):
    tables listed in ``gpkg_contents`` with plain names. A file with views or virtual tables
    (other than the R*Tree index) is refused, so no query of the file's own making runs."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise _fail("corrupt", reason=str(exc)[:160]) from exc
    try:
        con.execute("PRAGMA trusted_schema=OFF")
        con.execute("PRAGMA query_only=ON")
        rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        tables = {n for kind, n, _sql in rows if kind == "table"}
        for kind, _n, sql in rows:
            virtual = kind == "table" and re.match(r"(?is)\s*create\s+virtual\s+table", sql or "")
            if kind == "view" or (virtual and not re.search(r"(?i)\busing\s+rtree\s*\(", sql)):
                raise _fail("gpkg_views", name=name)
        if "gpkg_contents" not in tables:
            raise _fail("corrupt", reason="gpkg_contents")
        listed = [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY rowid"
            )
        ]
    except sqlite3.Error as exc:
        raise _fail("corrupt", reason=str(exc)[:160]) from exc
    finally:
        con.close()
    layers = [n for n in listed if n in tables and _TABLE_NAME.fullmatch(n)]
    if len(layers) != len(listed):
        raise _fail("gpkg_views", name=name)
    return layers


# ---- 3. GDAL locked down ----------------------------------------------------------------------


def skipped_drivers(keep: str | tuple[str, ...]) -> str:
    """``GDAL_SKIP`` value: every vector driver of this GDAL except ``keep``."""
    import pyogrio  # the server's own GDAL only lists the driver names here

    keep = (keep,) if isinstance(keep, str) else keep
    return ",".join(sorted(d for d in pyogrio.list_drivers() if d not in keep))


def gdal_environment(driver: str | tuple[str, ...] | None) -> dict[str, str]:
    """Environment entries of a child that may open files with ``driver`` only."""
    env = dict(GDAL_CONFIG)
    if driver is not None:
        env["GDAL_SKIP"] = skipped_drivers(driver)
    return env


def open_checked(path: Path, driver: str, name: str) -> None:
    """In a child: make sure GDAL opens ``path`` with ``driver`` (after ``GDAL_SKIP``, any
    other answer means the lock-down failed)."""
    import pyogrio

    if "/vsi" in str(path) or not path.is_file():
        raise _fail("refers_elsewhere", name=name)
    info = pyogrio.read_info(path) if driver != "GPKG" else None
    if info is not None and info.get("driver") != driver:
        raise _fail("wrong_content", name=name, expected=driver)


# ---- 4. bounded child --------------------------------------------------------------------------

_context: ForkServerContext | None = None
_slots = threading.BoundedSemaphore(settings.UPLOAD_READERS)


def _ctx() -> ForkServerContext:
    global _context
    if _context is None:
        import multiprocessing

        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return _context


def run_bounded(
    target: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
    *args: Any,
    driver: str | tuple[str, ...] | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``target(*args)`` in a bounded child and return its ``(meta, frames)``.

    ``target`` is a module-level function returning a JSON-able dict and a dict of
    (Geo)DataFrames by name; it may raise a :class:`WorkbenchError`, which is raised here with the
    same key and parameters. ``driver`` is the only GDAL driver the child has. On overrunning
    ``timeout_s`` (default ``settings.UPLOAD_READ_TIMEOUT_S``) the child is killed and
    ``opendata.file.too_slow`` raised; a child that runs out of memory (limit
    ``settings.UPLOAD_READ_MEMORY_MB``) gives ``opendata.file.too_much_memory``, one that dies
    without an answer ``opendata.file.reader_failed``.

    The main module of a program calling this must guard its entry point with
    ``if __name__ == "__main__"`` (the fork server imports it, as with ``spawn``); Streamlit,
    pytest and the ``workbench`` command do.
    """
    timeout_s = settings.UPLOAD_READ_TIMEOUT_S if timeout_s is None else timeout_s
    memory_mb = settings.UPLOAD_READ_MEMORY_MB if memory_mb is None else memory_mb
    started = time.monotonic()
    if not _slots.acquire(timeout=timeout_s):  # at most UPLOAD_READERS children at once
        raise _fail("too_slow", seconds=timeout_s)
    try:
        return _run(
            target, args, driver, timeout_s - (time.monotonic() - started), timeout_s, memory_mb
        )
    finally:
        _slots.release()


def _run(
    target: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
    args: tuple[Any, ...],
    driver: str | tuple[str, ...] | None,
    left_s: float,
    timeout_s: float,
    memory_mb: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    env = gdal_environment(driver)
    proc = ctx.Process(
        target=_child,
        args=(sender, target, args, env, memory_mb, left_s),
        daemon=True,
        name="wb-upload-reader",
    )
    proc.start()
    sender.close()
    deadline = time.monotonic() + left_s
    try:
        header = json.loads(_receive(receiver, deadline, timeout_s))
        if "error" in header:
            cls = _ERRORS.get(header.get("class", ""), ValidationError)
            raise cls(header["error"], **header.get("params", {}))
        frames = {}
        for name, geo in header["frames"]:
            frames[name] = _from_parquet(_receive(receiver, deadline, timeout_s), geo)
        return header["meta"], frames
    except EOFError as exc:  # the child died without an answer (crash, memory, CPU limit)
        raise _fail("reader_failed") from exc
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def _receive(conn: Connection[Any, Any], deadline: float, timeout_s: float) -> bytes:
    if not conn.poll(max(deadline - time.monotonic(), 0)):
        raise _fail("too_slow", seconds=timeout_s)
    try:  # an answer larger than any accepted upload could be is not taken in
        return conn.recv_bytes(maxlength=4 * settings.MAX_UPLOAD_MB * 1024 * 1024)
    except OSError as exc:
        raise _fail("reader_failed") from exc


def _from_parquet(data: bytes, geo: bool) -> gpd.GeoDataFrame | pd.DataFrame:
    import geopandas as gpd
    import pandas as pd

    if geo:  # geopandas reads a file object too; its stubs name paths only
        return gpd.read_parquet(io.BytesIO(data))  # type: ignore[arg-type]
    return pd.read_parquet(io.BytesIO(data))


_ERRORS: dict[str, type[WorkbenchError]] = {"ValidationError": ValidationError}


def _child(
    conn: Connection[Any, Any],
    target: Callable[..., Any],
    args: tuple[Any, ...],
    env: dict[str, str],
    memory_mb: int,
    timeout_s: float,
) -> None:
    """The child's side: lock GDAL down, limit itself, run ``target``, send the answer."""
    import resource

    for key in _UNSET:
        os.environ.pop(key, None)
    os.environ.update(env)
    if "pyogrio" in sys.modules:  # GDAL_SKIP would not count: never read with all drivers
        conn.send_bytes(
            json.dumps(
                {"error": "opendata.file.corrupt", "params": {"reason": "GDAL loaded too early"}}
            ).encode()
        )
        return
    limit = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(timeout_s) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        import pyogrio
        from geopandas import GeoDataFrame

        pyogrio.set_gdal_config_options(env)
        meta, frames = target(*args)
        payloads = []
        for name, frame in frames.items():
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            payloads.append((name, isinstance(frame, GeoDataFrame), buf.getvalue()))
        header = {"meta": meta, "frames": [(n, g) for n, g, _ in payloads]}
        conn.send_bytes(json.dumps(header).encode())
        for _n, _g, data in payloads:
            conn.send_bytes(data)
    except WorkbenchError as exc:
        conn.send_bytes(
            json.dumps(
                {"error": exc.key, "params": _plain(exc.params), "class": type(exc).__name__}
            ).encode()
        )
    except MemoryError:
        conn.send_bytes(
            json.dumps(
                {"error": "opendata.file.too_much_memory", "params": {"limit": memory_mb}}
            ).encode()
        )
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many classes
        reason = " ".join(str(exc).replace(tempfile.gettempdir(), "…").split())[:160]
        conn.send_bytes(
            json.dumps({"error": "opendata.file.corrupt", "params": {"reason": reason}}).encode()
        )
    finally:
        conn.close()


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
        for k, v in params.items()
    }


# ---- the whole path for layers as data frames -------------------------------------------------


def read_layers(
    path: str | Path, fmt: str = "gpkg", layers: list[str] | None = None
) -> dict[str, Any]:
    """Every feature or attribute layer (or those in ``layers``) of a GeoPackage (or another
    format of :data:`DRIVERS`) by name, read by the locked-down bounded child.

    For a GeoPackage, attribute tables listed in ``gpkg_contents`` (``data_type='attributes'``)
    are read too, as plain DataFrames. Raises :class:`ValidationError` (``opendata.file.*``).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        check_content(fmt, fh.read(_HEAD), path.name)
    _meta, frames = run_bounded(_read_layers_child, str(path), fmt, layers, driver=DRIVERS[fmt])
    return frames


def _read_layers_child(
    path: str, fmt: str, wanted: list[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    import pyogrio

    p = Path(path)
    driver = DRIVERS[fmt]
    if fmt == "gpkg":
        names = gpkg_layers(p, p.name) + _gpkg_attribute_tables(p)
    else:
        open_checked(p, driver, p.name)
        names = [str(n) for n, _k in pyogrio.list_layers(p)]
    if wanted is not None:
        names = [n for n in names if n in wanted]
    return {}, {n: pyogrio.read_dataframe(p, layer=n) for n in names}


def _gpkg_attribute_tables(path: Path) -> list[str]:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        con.execute("PRAGMA trusted_schema=OFF")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'attributes' ORDER BY rowid"
            )
            if r[0] in tables and _TABLE_NAME.fullmatch(str(r[0]))
        ]
    finally:
        con.close()
