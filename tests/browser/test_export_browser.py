"""Exports in a real browser: the PNG drawn by headless Chromium, and the interactive HTML file
opened offline in Chromium (annotations shown, hostile text literal, no script runs).

Uses the harness's ``browser`` fixture (tests/browser/conftest.py): skipped with the reason when
Chromium, Playwright or the local web assets are missing, except with CI=true, where they must run.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.test_export import HOSTILE, _has_colour, _not_blank, lab  # noqa: F401 (fixture)
from workbench import export
from workbench.export.content import category_colours
from workbench.export.web import chromium_available

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium(browser) -> None:
    """The export's own Chromium must be usable wherever the harness's is."""
    reason = chromium_available()
    if reason:
        pytest.fail(f"the harness has a browser but the export cannot use it: {reason}")


def test_chromium_png(chromium, demo_store, lab):  # noqa: F811
    content = export.gather(demo_store, lab.id)
    size = export.page_size("slide")
    img = Image.open(io.BytesIO(export.render_png(content, size, renderer="chromium")))
    assert img.format == "PNG" and img.size == (1920, 1080)
    img = img.convert("RGB")
    _not_blank(img)
    colours = category_colours(content)
    for cat in content.categories():
        assert _has_colour(img, colours[cat]), cat
    assert _has_colour(img, "#56B4E9")  # the uploaded layer


def test_chromium_png_print_size(chromium, demo_store, lab):  # noqa: F811
    content = export.gather(demo_store, lab.id)
    size = export.page_size("a4-portrait", 150)
    img = Image.open(io.BytesIO(export.render_png(content, size, renderer="chromium")))
    assert img.size == (1240, 1754)
    assert round(img.info["dpi"][0]) == 150
    _not_blank(img.convert("RGB"))


def test_html_file_in_chromium(browser, demo_store, lab, tmp_path):  # noqa: F811
    content = export.gather(demo_store, lab.id)
    path = tmp_path / "map.html"
    path.write_bytes(export.export_bytes(content, "html"))
    dialogs, refused = [], []
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        def offline(route):  # type: ignore[no-untyped-def]
            if route.request.url.startswith("file://"):
                route.continue_()
            else:  # the file must not need the network (tiles excepted)
                refused.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        page.goto(path.as_uri(), wait_until="load")
        assert page.evaluate("typeof window.L") == "object", "Leaflet did not load offline"
        numbers = page.locator(".wb-num")
        assert numbers.count() == len(content.annotations)
        assert page.locator("#wb-legend").inner_text().count("(") == len(content.categories())
        # click each number: the annotation's popup opens with its text, literally
        for i, text in enumerate(HOSTILE[:2]):
            box = numbers.nth(i).bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for(timeout=5000)
            assert text in popup.inner_text()
            page.locator(".leaflet-popup-close-button").click()
            popup.wait_for(state="detached", timeout=5000)
        assert page.locator("img[src='x']").count() == 0
        page.wait_for_timeout(300)
        screenshot = page.screenshot()
    finally:
        context.close()
    assert dialogs == []  # no alert() ran
    assert all("tile.openstreetmap.org" in u for u in refused), refused
    arr = np.asarray(Image.open(io.BytesIO(screenshot)).convert("RGB"))
    assert arr.std() > 10
