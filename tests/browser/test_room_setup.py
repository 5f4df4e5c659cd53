"""Issue 12, planners: saving the set-up form twice (a double click) makes one living lab;
an owner deletes it after a confirmation naming what goes with it, and Undo brings it back;
on the overview the network filter filters the map's markers and "Open this living lab"
opens the lab's map."""

import json
import re

import pytest
from browser_helpers import data_dir_of_this_process, map_frame, screenshot, wait_for_streamlit

TITLE = "Double save lab"


def _store(data):  # type: ignore[no-untyped-def]
    from workbench.demo import open_workspace

    with data_dir_of_this_process(data):
        return open_workspace("demo")


@pytest.mark.slow
def test_double_save_makes_one_lab_delete_undo_and_overview(streamlit_server, new_page, tmp_path):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    data = tmp_path / "data"
    base = streamlit_server(
        APP_ENTRY, env={"WORKBENCH_DATA_DIR": str(data), "WORKBENCH_BROWSER_TEST": "setup"}
    )
    page = new_page()
    page.goto(f"{base}/setup")
    wait_for_streamlit(page)
    s = _store(data)
    try:
        network = sorted(s.list_networks(), key=lambda n: n.name)[0]
        city = sorted(s.list_cities(network.id), key=lambda c: c.name)[0]
        before = len(s.list_labs())
    finally:
        s.close()
    d = 0.003
    x, y = city.lon, city.lat
    ring = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]
    boundary = tmp_path / "site.geojson"
    boundary.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    page.locator(".st-key-boundary_upload_new input[type=file]").set_input_files(str(boundary))
    wait_for_streamlit(page)
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_label("Title"))
    form.get_by_label("Title").fill(TITLE)
    form.get_by_role("button", name="Save").dblclick()
    expect(page.get_by_text(f"Saved “{TITLE}”.")).to_be_visible(timeout=20_000)
    wait_for_streamlit(page)
    page.get_by_role("button", name="Save").first.click()  # a third save: now an edit
    wait_for_streamlit(page)
    s = _store(data)
    try:
        assert [lab.title for lab in s.list_labs()].count(TITLE) == 1
        assert len(s.list_labs()) == before + 1
    finally:
        s.close()

    page.get_by_role("button", name="Delete this living lab…").click()
    expect(page.get_by_text(f"Delete the living lab “{TITLE}”?")).to_be_visible(timeout=10_000)
    expect(page.get_by_text(re.compile(r"0 notes, 0 layers and 0 snapshots"))).to_be_visible()
    screenshot(page, "setup_delete_confirm_1400")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text(f"Deleted: {TITLE}.")).to_be_visible(timeout=10_000)
    s = _store(data)
    try:
        assert TITLE not in [lab.title for lab in s.list_labs()]
    finally:
        s.close()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text(f"Restored: {TITLE}.")).to_be_visible(timeout=10_000)
    s = _store(data)
    try:
        assert [lab.title for lab in s.list_labs()].count(TITLE) == 1
        networks = {n.id: n.name for n in s.list_networks()}
        per_network = {}
        for lab in s.list_labs():
            per_network[lab.network_id] = per_network.get(lab.network_id, 0) + 1
        total = len(s.list_labs())
    finally:
        s.close()

    # the overview: the filter filters the markers; "Open this living lab" opens the map
    page.goto(f"{base}/")
    wait_for_streamlit(page)
    frame = map_frame(page)
    markers = frame.locator("path.leaflet-interactive")  # each lab: its site and its marker
    expect(markers).to_have_count(2 * total, timeout=15_000)
    nid = min(per_network, key=lambda k: per_network[k])
    screenshot(page, "home_before_filter_1400")
    page.locator(".st-key-home_network_filter").click()
    page.get_by_role("option", name=networks[nid]).click()
    wait_for_streamlit(page)
    frame = map_frame(page)
    expect(frame.locator("path.leaflet-interactive")).to_have_count(
        2 * per_network[nid], timeout=15_000
    )
    assert per_network[nid] < total
    page.get_by_role("button", name="Open this living lab").first.click()
    expect(page).to_have_url(re.compile(r"/map\?lab="), timeout=15_000)
    wait_for_streamlit(page)
    expect(page.get_by_role("heading", name="Living-lab map")).to_be_visible(timeout=15_000)
