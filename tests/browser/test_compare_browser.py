"""The demo workspace with the shared extracts imported (`workbench demo --import-extracts`) in a
real browser: the Compare page draws the chosen labs' maps side by side with their OSM layers,
and the Export page offers the cached themes."""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    MAP_IFRAME,
    data_dir_of_this_process,
    drawn_features,
    map_frame,
    screenshot,
    wait_for_streamlit,
)

from tests.helpers import BALTIMORE_LAB, KHARKIV_LAB, MUNICH_LAB

MUNICH = MUNICH_LAB

pytestmark = [pytest.mark.browser, pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory):
    """A data directory holding the demo workspace after `workbench demo --import-extracts`."""
    from tests.conftest import shared_geodata
    from workbench import cli

    folder = shared_geodata("germany_muenchen_milbertshofen.osm").parent
    data = tmp_path_factory.mktemp("demo-data")
    with data_dir_of_this_process(data):
        assert cli.main(["demo", "--import-extracts", str(folder)]) == 0
    return data


def test_compare_page_maps_side_by_side(streamlit_server, new_page, demo_data_dir):
    from playwright.sync_api import expect

    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(demo_data_dir)})
    page = new_page()
    page.set_viewport_size({"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/compare?lab={MUNICH}")
    expect(page.get_by_role("heading", name="Compare living labs")).to_be_visible()
    wait_for_streamlit(page)
    # choose München and Seattle
    picker = page.locator('[data-testid="stMultiSelect"]').first
    for name in ("Milbertshofen", "Roosevelt"):
        if name in picker.inner_text():
            continue
        picker.locator("input").click()
        page.keyboard.type(name)
        page.get_by_role("option", name=re.compile(name)).first.click()
        wait_for_streamlit(page, timeout=120_000)
    page.keyboard.press("Escape")
    expect(page.locator(MAP_IFRAME)).to_have_count(2, timeout=120_000)
    wait_for_streamlit(page, timeout=120_000)
    frames = [map_frame(page, i) for i in range(2)]
    boxes = [page.locator(MAP_IFRAME).nth(i).bounding_box() for i in range(2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2  # one row
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] + 1  # side by side
    for frame in frames:
        assert frame.locator(".leaflet-container").is_visible()
        drawn = drawn_features(frame)
        assert drawn > 100  # buildings, green space and stops of each site
        assert (
            "OpenStreetMap contributors"
            in frame.locator(".leaflet-control-attribution").inner_text()
        )
    page.locator(MAP_IFRAME).first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot(page, "compare_munich_seattle")
    assert errors == []


def test_export_page_offers_cached_themes(streamlit_server, new_page, demo_data_dir):
    from playwright.sync_api import expect

    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(demo_data_dir)})
    page = new_page()
    page.goto(f"{url}/?lab={MUNICH}")
    wait_for_streamlit(page)
    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", name="Export maps and data")).to_be_visible()
    chosen = page.locator('[data-testid="stMultiSelect"]').first
    for label in ("Buildings", "Streets (walkable network)", "Public transport stops"):
        expect(chosen).to_contain_text(label)
    screenshot(page, "export_munich")


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_compare_page_from_a_link_with_dates_and_twin_sheet(
    streamlit_server, new_page, demo_data_dir, width, height
):
    """The link of the twin sheet's QR code opens Compare with its labs chosen; the page gives
    each lab's data date (not the import's) and offers the twin sheet."""
    from playwright.sync_api import expect

    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(demo_data_dir)})
    page = new_page()
    page.set_viewport_size({"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/compare?labs={MUNICH},{BALTIMORE_LAB},{KHARKIV_LAB}")
    expect(page.get_by_role("heading", name="Compare living labs")).to_be_visible(
        timeout=120_000
    )  # a fresh server's first page
    wait_for_streamlit(page, timeout=180_000)
    expect(page.get_by_text("OpenStreetMap data as of 2015-02-27").first).to_be_visible(
        timeout=180_000
    )
    expect(page.get_by_text("OpenStreetMap data as of 2020-09-30").first).to_be_visible()
    pdf = page.get_by_role("button", name="Twin sheet (PDF, A3)")
    expect(pdf).to_be_visible()
    pdf.scroll_into_view_if_needed()
    screenshot(page, f"compare_twin_{width}x{height}", full_page=False)
    with page.expect_download(timeout=120_000) as download:
        pdf.click()
    assert download.value.suggested_filename.endswith(".pdf")
    screenshot(page, f"compare_twin_{width}x{height}_full")
    assert errors == []
