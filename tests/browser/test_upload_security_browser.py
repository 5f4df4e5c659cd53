"""Hostile uploads in the served app (issue 15, item 1): choosing a GeoJSON with a CRS link named
.gpx and adding a VRT named .geojson show a translated refusal, no request reaches a local
beacon, and a real file is still added afterwards."""

from __future__ import annotations

import json
import urllib.request

import pytest
from browser_helpers import wait_for_streamlit

from tests.helpers import KHARKIV_LAB
from tests.test_upload_security import POINT, _crs_link, _vrt, beacon  # noqa: F401 - fixture

UPLOAD_LABEL = "Upload a file (GeoJSON"


def _choose(page, name: str, data: bytes) -> None:
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=UPLOAD_LABEL)
    uploader.locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    wait_for_streamlit(page)


@pytest.mark.browser
def test_hostile_uploads_are_refused_in_the_served_app(app_server, new_page, beacon):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page(f"{app_server}/layers?lab={KHARKIV_LAB}")
    expect(page.get_by_role("heading", name="Data layers")).to_be_visible()
    wait_for_streamlit(page)

    _choose(page, "walk.gpx", _crs_link(beacon.url))  # merely chosen: its layers are listed
    expect(page.get_by_text("does not hold what its ending says")).to_be_visible()

    _choose(page, "x.geojson", _vrt(f"/vsicurl/{beacon.url}/vrt.csv"))
    page.get_by_role("button", name="Add layer").click()
    wait_for_streamlit(page)
    expect(page.get_by_text("refers to other files or web addresses")).to_be_visible()

    good = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {**POINT, "geometry": {"type": "Point", "coordinates": [36.309, 49.9699]}}
            ],
        }
    ).encode()
    _choose(page, "bench.geojson", good)
    page.get_by_role("button", name="Add layer").click()
    wait_for_streamlit(page)
    expect(page.get_by_text("with 1 feature.")).to_be_visible()  # CLDR plural: one feature
    assert beacon.hits == []
    with urllib.request.urlopen(f"{app_server}/_stcore/health", timeout=10) as response:
        assert response.status == 200 and response.read() == b"ok"  # the server still answers
