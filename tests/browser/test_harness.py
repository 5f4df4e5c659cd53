"""Proves the browser harness: an offline map with Leaflet.draw, a polygon drawn with the mouse."""

from pathlib import Path

import pytest
from browser_helpers import map_frame, screenshot, unexpected_requests, wait_for_streamlit

HARNESS_APP = Path(__file__).with_name("harness_app.py")


def click_at(page, x: float, y: float) -> None:
    """A real click: Leaflet.draw adds a vertex on mouseup after a mousedown at the same spot."""
    page.mouse.move(x, y, steps=4)
    page.mouse.down()
    page.mouse.up()


@pytest.mark.browser
def test_draw_polygon_offline(streamlit_server, new_page, blocked_requests):
    from playwright.sync_api import expect

    page = new_page(streamlit_server(HARNESS_APP))
    wait_for_streamlit(page)
    frame = map_frame(page)

    assert frame.locator(".leaflet-tile-container").count() >= 1
    assert frame.evaluate("typeof window.L") == "object"
    assert frame.evaluate("typeof L.Draw") == "object"
    polygon_tool = frame.locator(".leaflet-draw-draw-polygon")
    expect(polygon_tool).to_be_visible()
    expect(page.get_by_text("Nothing drawn yet")).to_be_visible()

    shapes = frame.locator("path.leaflet-interactive")
    shapes_before = shapes.count()
    box = frame.locator(".leaflet-container").bounding_box()  # in page coordinates
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(cx - 100, cy - 80), (cx + 100, cy - 80), (cx + 120, cy + 80), (cx - 80, cy + 90)]
    polygon_tool.click()
    for x, y in corners:
        click_at(page, x, y)
    click_at(page, *corners[0])  # back on the first vertex closes the polygon

    expect(page.get_by_text("Drawn geometry type: Polygon")).to_be_visible(timeout=15_000)
    wait_for_streamlit(page)
    expect(shapes).to_have_count(shapes_before + 1)
    for family in ("Font Awesome 6 Free", "Glyphicons Halflings"):  # fonts via CSS url(...)
        frame.wait_for_function(
            f"[...document.fonts].some(f => f.family == '{family}' && f.status == 'loaded')"
        )
    screenshot(page, "harness_polygon")

    assert unexpected_requests(blocked_requests) == [], "assets missing from the manifest"


def test_fetch_table_covers_folium_urls():
    """Every CDN URL folium writes for the pieces the app uses has a local copy (no browser)."""
    import importlib.util
    import re

    import folium
    from folium.plugins import Draw, Fullscreen, MarkerCluster

    script = Path(__file__).parents[2] / "scripts" / "fetch_web_assets.py"
    spec = importlib.util.spec_from_file_location("fetch_web_assets", script)
    fetch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch)
    known = set(fetch.cdn_urls())

    m = folium.Map()
    for plugin in (Draw(), Fullscreen(), MarkerCluster(), folium.LayerControl()):
        plugin.add_to(m)
    folium.Marker([0, 0], icon=folium.Icon()).add_to(m)
    emitted = set(re.findall(r'(?:src|href)="(https://[^"]+)"', m.get_root().render()))
    assert emitted and emitted <= known, f"not in scripts/fetch_web_assets.py: {emitted - known}"
