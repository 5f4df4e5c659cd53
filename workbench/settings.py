"""Every path, URL, limit, precision, colour and environment variable of the workbench, in one
place (the colours are defined in :mod:`workbench.palette`, the languages in :mod:`workbench.i18n`;
both re-exported here).

It owns values only: it must not import the store, the pages or any library module but ``i18n``
and ``palette``, so that every layer (the store included) may read it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

#: The app's languages and the default one, defined with the catalogues
from workbench.i18n import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from workbench.i18n import LANGUAGES as LANGUAGES

# Every colour is a setting too: defined in workbench.palette, readable from here.
from workbench.palette import *  # noqa: F403

#: The project's source tree (the folder holding ``app.py`` and ``pages/``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Authored demo files that seed the demo workspace.
DEMO_DIR = PROJECT_ROOT / "geodata" / "demo"
#: The entry script that ``workbench run`` hands to Streamlit.
APP_SCRIPT = PROJECT_ROOT / "app.py"
#: What `workbench run` serves: st.App around APP_SCRIPT, with the live channel beside it.
SERVER_SCRIPT = PROJECT_ROOT / "workbench" / "ui" / "server.py"
#: The Streamlit settings applied by ``workbench run``.
STREAMLIT_CONFIG = PROJECT_ROOT / "streamlit_config.toml"
#: Real OSM extracts used by tests and benchmarks (shipped beside the project, never copied in).
SHARED_GEODATA = PROJECT_ROOT.parent / "shared" / "geodata"

#: Name of the workspace seeded from ``DEMO_DIR``.
DEMO_WORKSPACE = "demo"

# ---- limits: what a user may enter (the library refuses more; the widgets offer no more) -----
MAX_SITE_AREA_KM2 = 50.0
MIN_SITE_AREA_M2 = 100.0
MAX_SITE_DISTANCE_KM = 50.0
MAX_TEXT_CHARS = 5000
MAX_NAME_CHARS = 200
#: A group's name, and the name someone signs in with.
MAX_GROUP_NAME_CHARS = 80
#: A workspace name's length (``WORKSPACE_NAME``).
MAX_WORKSPACE_NAME_CHARS = 40
#: Passcodes: the shortest accepted; failed attempts per client before the back-off starts
#: (never counted for the workspace as a whole: that would let anyone lock the owner out), and
#: the longest wait after failed attempts, in seconds.
MIN_PASSCODE_CHARS = 8
FREE_ATTEMPTS = 3
MAX_BACKOFF_S = 900
#: Dot-votes each participant may give per round: the facilitator's range, and the default.
MIN_VOTE_LIMIT = 1
MAX_VOTE_LIMIT = 50
DEFAULT_VOTE_LIMIT = 3
#: Longest a workshop session (and so its join link) may stay open, in hours, and the default.
MAX_SESSION_HOURS = 72
DEFAULT_SESSION_HOURS = 8
#: Longest round timer, in minutes (0: no timer), and the default.
MAX_ROUND_MINUTES = 240
DEFAULT_ROUND_MINUTES = 10
#: The buffer around a site for its OSM data (fetched or imported), in metres: the largest
#: accepted (app, CLI and library alike) and the default.
MAX_BUFFER_M = 2000
DEFAULT_BUFFER_M = 500
#: Sites compared side by side.
MIN_COMPARED_SITES = 2
MAX_COMPARED_SITES = 6
#: WMS overlays per living lab, and layers listed from one WMS (a national one offers thousands).
MAX_WMS = 5
MAX_WMS_LAYERS = 500

# ---- precision ---------------------------------------------------------------------------------
#: Decimal places of longitude/latitude kept in the store and written to exports (WKT, GeoJSON):
#: 1e-7° is about 1 cm.
COORD_DECIMALS = 7
#: Decimal places of map and form coordinates (1e-6° is about 0.1 m).
MAP_COORD_DECIMALS = 6

# ---- what maps show ----------------------------------------------------------------------------
#: Popups show at most this many characters of an annotation's text (the list shows all of it).
POPUP_TEXT_CHARS = 600
#: The most street names written on a map drawn without tiles.
STREET_NAMES_MAX = 150

#: Upload limit in megabytes (applied to Streamlit as server.maxUploadSize as well).
MAX_UPLOAD_MB = 200

#: SQLite busy timeout in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


def data_dir() -> Path:
    """Folder holding workspaces and caches; ``WORKBENCH_DATA_DIR`` moves it."""
    raw = os.environ.get("WORKBENCH_DATA_DIR")
    path = Path(raw).expanduser() if raw else PROJECT_ROOT / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def workspaces_dir() -> Path:
    path = data_dir() / "workspaces"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Cache of fetched and imported OSM layers (``WORKBENCH_CACHE_DIR`` moves it)."""
    raw = os.environ.get("WORKBENCH_CACHE_DIR")
    path = Path(raw).expanduser() if raw else data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: What a workspace name may be: an identifier, so that it can only ever name a file inside
#: ``workspaces_dir()`` (no path separators, dots, or anything a URL could smuggle in).
WORKSPACE_NAME = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_WORKSPACE_NAME_CHARS - 1}}}")


def check_workspace_name(name: object) -> str:
    """``name`` if it is a valid workspace name, else :class:`ValidationError`
    (``hosting.error.workspace_name``). The one validator of the app, the store and the CLI."""
    from workbench.errors import ValidationError

    if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
        shown = name[:60] if isinstance(name, str) else repr(name)[:60]
        raise ValidationError("hosting.error.workspace_name", value=shown)
    return name


def workspace_path(workspace: str) -> Path:
    """The SQLite file of a workspace, always inside ``workspaces_dir()``."""
    return workspaces_dir() / (check_workspace_name(workspace) + ".sqlite")


def configured_database() -> str | None:
    """``WORKBENCH_DATABASE_URL``: one PostgreSQL/PostGIS database for every workspace of the
    deployment (None: each workspace is a SQLite file in the workspaces folder)."""
    return os.environ.get("WORKBENCH_DATABASE_URL", "").strip() or None


#: Prefix of a workspace's schema in the configured database (``demo`` lives in ``wb_demo``),
#: so that no workspace name can be ``public`` or one of PostgreSQL's own schemas.
WORKSPACE_SCHEMA_PREFIX = "wb_"


def database_url(workspace: str) -> str:
    """SQLAlchemy URL of a workspace's database (the name is validated first): its SQLite file,
    or, with ``WORKBENCH_DATABASE_URL``, the configured database with the workspace's schema."""
    name = check_workspace_name(workspace)
    configured = configured_database()
    if configured and configured.startswith(("postgresql", "postgres:")):
        from urllib.parse import quote

        sep = "&" if "?" in configured else "?"
        return f"{configured}{sep}workbench_schema={quote(WORKSPACE_SCHEMA_PREFIX + name)}"
    if configured:
        # any other URL (a SQLite file elsewhere) serves the demo workspace only, as before
        if name == DEMO_WORKSPACE:
            return configured
    return f"sqlite:///{workspace_path(workspace)}"


# ---- hosting (workbench.hosting) ------------------------------------------------------------
#: Address ``workbench run`` listens on without ``--host``: this machine only.
DEFAULT_HOST = "127.0.0.1"
#: How long a set-up token printed by ``workbench run`` stays valid, in hours.
SETUP_TOKEN_HOURS = 24


def setup_token_path() -> Path:
    """Where the hash of the operator's one-time set-up token is kept (beside the workspaces)."""
    return data_dir() / "setup-token"


def open_setup_wanted() -> bool:
    """Whether the operator allows creating workspaces and first passcodes without a set-up
    token (``WORKBENCH_OPEN_SETUP``, default on; ``0`` switches it off). It only ever applies
    while the server listens on loopback: see :func:`is_loopback`."""
    return os.environ.get("WORKBENCH_OPEN_SETUP", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def is_loopback(host: str | None) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only. None or empty
    (Streamlit's default: every interface), ``0.0.0.0``, ``::`` and any other address are not."""
    if not host:
        return False
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# ---- open geodata (workbench.opendata) ----------------------------------------------------------
#: Largest area (site plus buffer) fetched from Overpass in one go, in km².
MAX_FETCH_AREA_KM2 = 25.0
#: Hard time limit of one Overpass fetch (all its requests, start to last byte), in seconds;
#: ``WORKBENCH_OVERPASS_TIMEOUT_S`` changes it (see :func:`overpass_timeout_s`).
OVERPASS_TIMEOUT_S = 60.0
#: Largest reply accepted from Overpass for one request (uncompressed), in megabytes;
#: ``WORKBENCH_OVERPASS_MAX_MB`` changes it.
OVERPASS_MAX_MB = 200
#: Identifies the workbench to Overpass and tile servers.
USER_AGENT = "LivingLabWorkbench/0.1 (+https://www.openstreetmap.org/copyright)"
#: A WMS service's GetCapabilities, when the server fetches it (``opendata.wms``): seconds in
#: all for the answer, and the largest document read.
WMS_CAPABILITIES_TIMEOUT_S = 10.0
WMS_CAPABILITIES_MAX_BYTES = 5_000_000
#: ``workbench venue prepare`` (``opendata.venue``): the most tiles stored for one lab, the
#: highest zoom taken from the public OpenStreetMap tile server, the pause between requests
#: (seconds) and the buffer around the site (metres).
VENUE_MAX_TILES = 3000
VENUE_OSM_MAX_ZOOM = 17
VENUE_REQUEST_INTERVAL_S = 0.2
VENUE_BUFFER_M = 500.0
#: Largest uncompressed size accepted from one uploaded archive (ZIP, KMZ), in megabytes, and
#: the largest ratio of a member's unpacked to packed size (more is a zip bomb).
MAX_UNZIPPED_MB = 500
MAX_UNZIP_RATIO = 200
#: Most features accepted in one uploaded layer.
MAX_UPLOAD_FEATURES = 200_000
#: Most vertices in one feature of an uploaded layer, and in all its features together.
MAX_FEATURE_VERTICES = 100_000
MAX_LAYER_VERTICES = 2_000_000
#: Wall-clock seconds and address space (MB) the separate process reading an upload may use
#: before it is killed (``workbench.opendata.safe_read``).
UPLOAD_READ_TIMEOUT_S = 60.0
UPLOAD_READ_MEMORY_MB = 3072
#: Uploads read at the same time (each in its own process); more wait, within the time limit.
UPLOAD_READERS = 2
#: Above this many vertices a layer is simplified harder for display on maps.
DISPLAY_SIMPLIFY_VERTICES = 50_000


def overpass_timeout_s() -> float:
    """The overall deadline of one Overpass fetch in seconds (``WORKBENCH_OVERPASS_TIMEOUT_S``)."""
    return float(os.environ.get("WORKBENCH_OVERPASS_TIMEOUT_S") or OVERPASS_TIMEOUT_S)


def overpass_max_bytes() -> int:
    """The size cap of one Overpass reply in bytes (``WORKBENCH_OVERPASS_MAX_MB``)."""
    return int(float(os.environ.get("WORKBENCH_OVERPASS_MAX_MB") or OVERPASS_MAX_MB) * 1e6)


def overpass_url() -> str:
    """Base URL of the Overpass API (``WORKBENCH_OVERPASS_URL`` moves it)."""
    return os.environ.get("WORKBENCH_OVERPASS_URL", "https://overpass-api.de/api")


# ---- export (PNG, PDF, HTML, data) ----------------------------------------------------------
#: Local copies of the web assets folium loads from CDNs (written by scripts/fetch_web_assets.py);
#: ``manifest.json`` there maps each CDN URL to its file. They sit in the app's ``static/`` folder,
#: which Streamlit serves at ``/app/static/`` (``server.enableStaticServing``), so that maps show in
#: a browser without internet; the exported HTML inlines them, the browser tests serve them.
WEB_ASSETS_DIR = PROJECT_ROOT / "static" / "web-assets"
#: Where a browser finds ``WEB_ASSETS_DIR`` on the app's server (below ``server.baseUrlPath``).
WEB_ASSETS_URL = "app/static/web-assets"
#: Headless Chromium used for PNG snapshots (``WORKBENCH_CHROMIUM`` moves it).
CHROMIUM_DEFAULT = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
)
#: Seconds the browser may take to lay out a map before the snapshot says it was still loading.
EXPORT_RENDER_TIMEOUT_S = 20.0


def chromium_path() -> str:
    return os.environ.get("WORKBENCH_CHROMIUM", CHROMIUM_DEFAULT)


def export_fetch_tiles() -> bool:
    """Whether a PNG snapshot may fetch basemap tiles (``WORKBENCH_EXPORT_TILES=1``).

    Off by default: workshops run offline, and the snapshot then says the tiles are missing."""
    return os.environ.get("WORKBENCH_EXPORT_TILES", "") in ("1", "true", "yes")


# ---- the live channel (workbench.live) ---------------------------------------------------------
#: How long a page's live token is valid; the page gets a fresh one whenever it reruns.
LIVE_TOKEN_SECONDS = 3600
#: How often the live channel looks for writes of other processes (one query per workspace).
LIVE_POLL_SECONDS = 1.0
#: A client that sends no heartbeat (every 10 s) for this long is dropped, and leaves the room.
LIVE_IDLE_SECONDS = 25.0
#: A client that does not take a message within this time is dropped (it holds no queue).
LIVE_SEND_TIMEOUT_S = 5.0
#: The first message (token, revision) must come within this time, and no message be larger.
LIVE_HELLO_TIMEOUT_S = 10.0
LIVE_MAX_MESSAGE_BYTES = 8192
#: How long a browser stays signed in as owner or facilitator across reloads (a signed cookie,
#: ``workbench.live.keep_route``); a participant's membership lasts as long as their session
#: (at most 72 h) and is kept this long at most.
SIGNIN_TOKEN_SECONDS = 12 * 3600
MEMBER_TOKEN_SECONDS = 72 * 3600


# ---- workshops (workbench.access, store.workshop) -------------------------------------------
def public_url() -> str | None:
    """The address participants reach the app at, for join links and QR codes
    (``WORKBENCH_PUBLIC_URL``, e.g. ``http://192.168.1.20:8501``); None: the address the
    facilitator's browser used."""
    return os.environ.get("WORKBENCH_PUBLIC_URL") or None
