"""One map, everywhere, in a real browser: a planner chooses the satellite basemap and adds a
WMS layer on the Data layers page and saves them for the living lab; the living-lab map and the
presenter view then draw them, and the HTML export carries them."""

from __future__ import annotations

import pytest
from browser_helpers import data_dir_of_this_process, map_frame, screenshot, wait_for_streamlit

from tests.helpers import MUNICH_LAB

WMS_HOST = "93.184.216.34"  # a public address literal: passes the check without DNS
TILES = """() => Array.from(document.querySelectorAll('img.leaflet-tile'))
                      .map(i => i.getAttribute('src'))"""


def _tiles_and_credits(page) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    frame = map_frame(page)
    frame.wait_for_selector("img.leaflet-tile", state="attached", timeout=30_000)
    tiles = " ".join(frame.evaluate(TILES))
    credits = frame.locator(".leaflet-control-attribution").inner_text()
    return tiles, credits


def _choose(page, box: str, option: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``option`` in the select box ``box``; opened again when a rerun of the page (the
    sidebar's components report once after loading) closed it before the click."""
    for _ in range(4):
        page.get_by_role("combobox", name=box).click()
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(state="visible", timeout=7_500)
        except Exception:  # noqa: BLE001 - closed by a rerun: open it again
            wait_for_streamlit(page)
            continue
        choice.click()
        return
    raise AssertionError(f"{option!r} never showed in {box!r}")


@pytest.mark.browser
def test_saved_basemap_and_wms_reach_map_presenter_and_export(streamlit_server, new_page, tmp_path):
    from playwright.sync_api import expect

    data = tmp_path / "data"
    base = streamlit_server(env={"WORKBENCH_DATA_DIR": str(data)})
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/layers?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    expect(page.get_by_role("heading", name="Data layers")).to_be_visible()
    _choose(page, "Basemap", "Satellite imagery")
    wait_for_streamlit(page)
    page.get_by_text("Add a WMS layer").click()
    page.get_by_label("WMS address (URL)").fill(f"https://{WMS_HOST}/wms")
    page.get_by_label("WMS address (URL)").press("Enter")
    wait_for_streamlit(page)
    page.get_by_label("Layer name").fill("roads")
    page.get_by_label("Layer name").press("Enter")
    wait_for_streamlit(page)
    page.get_by_role("button", name="Add WMS layer").click()
    expect(page.get_by_text(f"roads · https://{WMS_HOST}/wms")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("are a preview until you save them")).to_be_visible()
    page.get_by_role("button", name="Save for the living lab").click()
    expect(page.get_by_text("Saved with the living lab")).to_be_visible(timeout=30_000)
    screenshot(page, "layers_saved_satellite_wms")

    lab_map = new_page()
    lab_map.goto(f"{base}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(lab_map)
    tiles, credits = _tiles_and_credits(lab_map)
    assert "World_Imagery" in tiles and f"{WMS_HOST}/wms" in tiles
    assert "tile.openstreetmap.org" not in tiles
    assert "Esri" in credits
    screenshot(lab_map, "map_saved_satellite_wms")

    presenter = new_page()
    presenter.set_viewport_size({"width": 1920, "height": 1080})
    presenter.goto(f"{base}/present?lab={MUNICH_LAB}")
    wait_for_streamlit(presenter)
    tiles, credits = _tiles_and_credits(presenter)
    assert "World_Imagery" in tiles and f"{WMS_HOST}/wms" in tiles and "Esri" in credits
    screenshot(presenter, "present_saved_satellite_wms")
    assert errors == []

    from workbench import export
    from workbench.demo import open_workspace

    with data_dir_of_this_process(data):
        store = open_workspace("demo")
        html = export.export_lab(store, MUNICH_LAB, "html").decode("utf-8")
        content = export.gather(store, MUNICH_LAB)
        store.close()
    assert "World_Imagery" in html and f"{WMS_HOST}/wms" in html
    assert "Satellite imagery" in html and f"“roads” from {WMS_HOST}" in html
    # the PNG drawn offline credits neither: none of their tiles was drawn
    assert not any("Esri" in a or "WMS" in a for a in content.attributions(drawn=()))


WORLD = """() => ({drawn: document.documentElement.getAttribute('data-wb-world'),
                  countries: document.querySelectorAll('.leaflet-wbWorld-pane path').length})"""


@pytest.mark.browser
def test_without_internet_the_overview_and_setup_maps_show_the_countries(
    app_server, new_page, blocked_requests
):
    """Every request off this machine is refused (new_page): no tile loads, and the maps draw
    Natural Earth's countries from the app's own web assets instead of a grey canvas."""
    page = new_page()
    page.goto(app_server)
    wait_for_streamlit(page)
    frame = map_frame(page)
    frame.wait_for_function(
        "document.documentElement.getAttribute('data-wb-world')", timeout=30_000
    )
    world = frame.evaluate(WORLD)
    assert world["drawn"] == "drawn" and world["countries"] > 150
    assert any("tile.openstreetmap.org" in url for url in blocked_requests)  # truly offline
    assert not any("world-atlas" in url or "topojson" in url for url in blocked_requests)
    screenshot(page, "overview_offline_world")

    setup = new_page()
    setup.goto(f"{app_server}/setup")
    wait_for_streamlit(setup)
    frame = map_frame(setup)
    frame.wait_for_function(
        "document.documentElement.getAttribute('data-wb-world')", timeout=30_000
    )
    assert frame.evaluate(WORLD)["countries"] > 150
    screenshot(setup, "setup_offline_world")


LOADED = """() => Array.from(document.querySelectorAll('img.leaflet-tile'))
                      .filter(i => i.complete && i.naturalWidth === 256)
                      .map(i => i.getAttribute('src'))"""


@pytest.mark.browser
def test_after_venue_prepare_the_lab_map_shows_its_stored_tiles(
    streamlit_server, new_page, tmp_path
):
    """Every request off this machine is refused; the map's tiles come from the app's own
    venue route, stored beforehand by ``venue.prepare_venue``."""
    from tests.test_venue import SOURCE, Tiles
    from workbench.demo import ensure_demo
    from workbench.opendata import venue

    data = tmp_path / "data"
    with data_dir_of_this_process(data):
        store = ensure_demo()
        venue.prepare_venue(
            store.get_lab(MUNICH_LAB), (14, 17), SOURCE, fetch=Tiles(), buffer_m=300, interval_s=0
        )
        store.close()
    base = streamlit_server(env={"WORKBENCH_DATA_DIR": str(data)})
    page = new_page()
    page.goto(f"{base}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    frame = map_frame(page)
    frame.wait_for_function(f"({LOADED})().length > 0", timeout=30_000)
    loaded = frame.evaluate(LOADED)
    assert all(f"/api/venue/{MUNICH_LAB}/" in src for src in loaded)
    assert (
        "OpenStreetMap contributors" in frame.locator(".leaflet-control-attribution").inner_text()
    )
    screenshot(page, "map_venue_tiles")


@pytest.mark.browser
@pytest.mark.realdata
def test_without_tiles_the_lab_map_reads_from_its_own_osm_layers(
    streamlit_server, new_page, tmp_path
):
    """No venue archive and no internet: the map's ground turns to paper and its streets are
    named, drawn from the lab's cached OSM layers."""
    from tests.conftest import shared_geodata
    from workbench.demo import ensure_demo
    from workbench.opendata.osm import import_extract

    data = tmp_path / "data"
    with data_dir_of_this_process(data):
        store = ensure_demo()
        import_extract(
            store,
            shared_geodata("germany_muenchen_milbertshofen.osm"),
            store.get_lab(MUNICH_LAB),
            buffer_m=200,
        )
        store.close()
    base = streamlit_server(env={"WORKBENCH_DATA_DIR": str(data)})
    page = new_page()
    page.goto(f"{base}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    frame = map_frame(page)
    frame.wait_for_function(
        "document.documentElement.getAttribute('data-wb-muted-basemap')", timeout=30_000
    )
    frame.evaluate("""() => { const map = Object.values(window).find(v => v instanceof L.Map);
                              map.setZoom(16); }""")
    frame.wait_for_selector(".wb-street-name", timeout=10_000)
    names = frame.locator(".wb-street-name").all_inner_texts()
    assert len(names) > 5 and any("straße" in n.lower() or "ring" in n.lower() for n in names)
    screenshot(page, "map_muted_basemap")
