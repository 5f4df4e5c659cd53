"""Issue 12, phones (390×844): the map's height follows the viewport and leaves room for the
form; after a drawing the form is in view; "Show on map" brings the map into view; the map's
attribution does not cover its scale bar. Screenshots in en, de and uk."""

import pytest
from browser_helpers import MAP_IFRAME, map_frame, screenshot, wait_for_streamlit

from tests.helpers import MUNICH_LAB

PHONE = {"width": 390, "height": 844}


def _in_view(box, height: int = PHONE["height"]) -> bool:
    return box is not None and box["y"] >= -1 and box["y"] + min(box["height"], 80) <= height


def _overlap(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.slow
def test_phone_map_form_and_show_on_map(streamlit_server, new_page):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    # its own server: the note saved here must not reach the shared app_server's lab
    app_server = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "phone"})
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{app_server}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    frame = map_frame(page)
    iframe = page.locator(MAP_IFRAME).first
    box = iframe.bounding_box()
    assert 240 <= box["height"] <= 0.6 * PHONE["height"], box  # room for the form below

    # the attribution wraps beside the scale bar instead of covering it
    attribution = frame.locator(".leaflet-control-attribution").bounding_box()
    scale = frame.locator(".leaflet-control-scale").bounding_box()
    assert not _overlap(attribution, scale), (attribution, scale)

    # a point drawn: its form comes into view
    iframe.scroll_into_view_if_needed()
    frame.locator("a.leaflet-draw-draw-circlemarker").click()
    box = iframe.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    text = page.locator(".st-key-annotate_new_text textarea")
    expect(text).to_be_visible(timeout=15_000)
    page.wait_for_timeout(800)
    assert _in_view(text.bounding_box()), text.bounding_box()
    screenshot(page, "phone_map_form_en", full_page=False)
    text.fill("Phone note: a bench here")
    page.locator('[data-testid="stForm"]', has=text).get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. Everyone sees it on the map now.")).to_be_visible(
        timeout=15_000
    )
    wait_for_streamlit(page)

    # "Show on map" far down the list: the map comes back into view
    show = page.get_by_role("button", name="Show on map").first
    show.scroll_into_view_if_needed()
    assert not _in_view(iframe.bounding_box())
    show.click()
    wait_for_streamlit(page)
    page.wait_for_timeout(800)
    box = iframe.bounding_box()
    assert box["y"] < PHONE["height"] and box["y"] + box["height"] > 0, box

    for lang in ("de", "uk"):
        page.goto(f"{app_server}/map?lab={MUNICH_LAB}&lang={lang}")
        wait_for_streamlit(page)
        map_frame(page)
        page.wait_for_timeout(1000)
        screenshot(page, f"phone_map_{lang}", full_page=False)
