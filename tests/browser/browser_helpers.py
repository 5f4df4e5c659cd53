"""Helpers for browser tests: find the map, wait for Streamlit, take screenshots.

Import them in a test module as `from browser_helpers import map_frame, ...` (pytest puts this
folder on sys.path because it has no __init__.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page

SCREENSHOT_DIR = Path(__file__).resolve().parent / "screenshots"
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
# Requests an offline page may lose without harm: map tiles (any provider's z/x/y URL), and the
# default-marker images Leaflet 1.9.3 asks for at a wrong path (".../distmarker-icon.png", a 404
# online too) when a folium.Marker is added before its folium.Icon replaces the default icon.
TOLERATED_BLOCKED = (
    re.compile(r"/\d+/\d+/\d+(@2x)?\.(png|jpe?g|webp)([?#].*)?$"),
    re.compile(r"/leaflet@1\.9\.3/distmarker-(icon|shadow)\.png$"),
)


@contextmanager
def data_dir_of_this_process(data: Path) -> Iterator[None]:
    """Seed a server's data directory from the test process: WORKBENCH_DATA_DIR points at
    ``data`` (and no WORKBENCH_CACHE_DIR) for the block, and is put back afterwards."""
    saved = {k: os.environ.get(k) for k in ("WORKBENCH_DATA_DIR", "WORKBENCH_CACHE_DIR")}
    os.environ["WORKBENCH_DATA_DIR"] = str(data)
    os.environ.pop("WORKBENCH_CACHE_DIR", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for_streamlit(page: Page, timeout: float = 30_000) -> None:
    """Wait until the app is connected and its script has finished running.

    Streamlit marks its root element with the script state; the status widget shows a
    "Running..." icon while a run is going on. A rerun you just caused may not have started
    yet when this returns; to wait for its result, wait for the text it produces instead.
    """
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        '[data-test-script-state="notRunning"]',
        timeout=timeout,
    )
    page.wait_for_selector(
        '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]',
        state="detached",
        timeout=timeout,
    )


def map_frame(page: Page, index: int = 0, timeout: float = 30_000) -> Frame:
    """The frame of the index-th st_folium map, once its Leaflet container is visible.

    A frame found while the page is still changing (a rerun that replaces the previous page's
    map) can be detached under our feet; then the map that took its place is looked up again.
    """
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        iframe = page.locator(MAP_IFRAME).nth(index)
        frame = iframe.element_handle(timeout=timeout).content_frame()
        assert frame is not None, "st_folium iframe has no frame"
        left = max(1.0, (deadline - time.monotonic()) * 1000)
        try:
            frame.wait_for_selector(".leaflet-container", state="visible", timeout=left)
            return frame
        except Error as exc:
            if "detached" not in str(exc) or time.monotonic() > deadline:
                raise


def drawn_features(frame: Frame) -> int:
    """How many features (with a popup) Leaflet has drawn on the frame's map: OSM themes,
    uploads and annotations, on SVG or canvas alike."""
    return frame.evaluate("""() => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        let n = 0;
        map.eachLayer(layer => { if (layer.feature && layer.feature.properties.p) n += 1; });
        return n;
    }""")


def unexpected_requests(blocked: list[str]) -> list[str]:
    """The blocked URLs that are not tolerated: a missing asset, or a request to fix."""
    return [url for url in blocked if not any(p.search(url) for p in TOLERATED_BLOCKED)]


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save a PNG to tests/browser/screenshots/<name>.png (git-ignored) and return its path."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    return path
