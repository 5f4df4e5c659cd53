"""Data layers page: an empty Overpass reply does not replace cached themes until confirmed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import KHARKIV_LAB
from tests.opendata_helpers import grid_osm
from workbench.opendata import cache
from workbench.opendata.osm import import_extract


class EmptyOverpass(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"version": 0.6, "elements": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def empty_overpass(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptyOverpass)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WORKBENCH_OVERPASS_URL", f"http://127.0.0.1:{server.server_port}/api")
    yield
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_store_cache():
    from workbench.ui import _store

    _store.clear()
    yield
    _store.clear()


def test_empty_fetch_asks_before_replacing_cached_themes(demo_store, tmp_path, empty_overpass):
    lab = demo_store.get_lab(KHARKIV_LAB)
    c = lab.boundary.centroid
    import_extract(
        demo_store,
        grid_osm(tmp_path / "grid.osm", c.x - 0.001, c.y - 0.001),
        lab,
        buffer_m=300,
        themes=["buildings", "streets", "schools"],
    )
    version = cache.cache_version(demo_store, lab.id)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = lab.id
    at.switch_page("pages/layers.py")
    at.run()
    at.multiselect(key="layers_themes").set_value(["buildings", "streets"]).run()
    at.button(key="layers_fetch").click().run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "Buildings" in warning and "Nothing was replaced" in warning
    assert not at.success
    assert cache.cache_version(demo_store, lab.id) == version  # nothing replaced
    assert cache.theme_meta(demo_store, lab.id, "buildings")["feature_count"] > 0
    at.run()  # the question stays until answered
    assert at.button(key="layers_fetch_empty").label == "Replace with empty data"
    at.button(key="layers_fetch_empty").click().run()
    assert not at.exception
    assert at.success
    assert not any("Nothing was replaced" in w.value for w in at.warning)
    assert cache.theme_meta(demo_store, lab.id, "buildings")["feature_count"] == 0
    assert cache.theme_meta(demo_store, lab.id, "streets")["feature_count"] == 0
    assert (
        cache.theme_meta(demo_store, lab.id, "schools")["feature_count"] > 0
    )  # not fetched, untouched
    assert not [b for b in at.button if b.key == "layers_fetch_empty"]
