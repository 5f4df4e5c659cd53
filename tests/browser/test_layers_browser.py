"""The Data layers page in a real browser: cached OSM themes are drawn on the map with their
layer control entries, attribution and popups, without script errors."""

from __future__ import annotations

import pytest
from browser_helpers import data_dir_of_this_process, drawn_features, map_frame, screenshot

from tests.helpers import MUNICH_LAB


@pytest.fixture(scope="module")
def cache_with_munich(tmp_path_factory):
    """A data folder whose demo workspace has the Munich extract imported for the Munich lab."""
    from tests.conftest import shared_geodata
    from workbench.access import SYSTEM
    from workbench.demo import ensure_demo
    from workbench.opendata.osm import import_extract

    path = shared_geodata("germany_muenchen_milbertshofen.osm")
    folder = tmp_path_factory.mktemp("data")
    with data_dir_of_this_process(folder):
        store = ensure_demo(on_purpose=True)
        import_extract(store, path, store.get_lab(MUNICH_LAB), buffer_m=200, by=SYSTEM)
        store.close()
    return folder


@pytest.mark.browser
@pytest.mark.realdata
def test_layers_page_draws_cached_themes(streamlit_server, new_page, cache_with_munich):
    from playwright.sync_api import expect

    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(cache_with_munich)})
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/layers?lab={MUNICH_LAB}")
    # the real-data page takes 4-5 s on a loaded machine: more than expect's default 5 s
    expect(page.get_by_role("heading", name="Data layers")).to_be_visible(timeout=20_000)
    frame = map_frame(page)
    control = frame.locator(".leaflet-control-layers")
    for label in (
        "Buildings",
        "Green and open space",
        "Streets (walkable network)",
        "Satellite imagery",
    ):
        expect(control).to_contain_text(label)
    shot = screenshot(page, "layers_munich")
    drawn = drawn_features(frame)
    assert drawn > 500  # buildings, green space and streets of Milbertshofen
    attribution = frame.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap contributors" in attribution
    assert errors == []
    assert shot.exists()
