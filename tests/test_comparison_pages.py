"""AppTest of what the comparison work added to the Data layers page: an import that would empty
a theme asks first and the earlier version can be restored; an upload can be marked as the
source of an indicator theme."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import KHARKIV_LAB
from tests.opendata_helpers import grid_osm
from workbench.opendata import cache

NODES_ONLY = b"""<?xml version="1.0"?><osm version="0.6" generator="test">
<node id="1" lat="49.9699" lon="36.309" version="1" timestamp="2020-01-01T00:00:00Z"/>
</osm>"""


@pytest.fixture(autouse=True)
def fresh_store_cache():
    from workbench.ui import _store

    _store.clear()
    yield
    _store.clear()


def _app() -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = KHARKIV_LAB
    at.switch_page("pages/layers.py")
    return at.run()


def _import(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="layers_extract").set_value((name, data, "application/xml")).run()
    return at.button(key="layers_import").click().run()


def test_emptying_import_asks_first_and_restore_brings_it_back(demo_store, tmp_path):
    lab = demo_store.get_lab(KHARKIV_LAB)
    c = lab.boundary.centroid
    good = grid_osm(tmp_path / "grid.osm", c.x - 0.001, c.y - 0.001).read_bytes()
    at = _import(_app(), "grid.osm", good)
    assert not at.exception and [e.value for e in at.error] == []
    streets = len(cache.load_theme(demo_store, KHARKIV_LAB, "streets"))
    assert streets > 0
    at = _import(at, "nodes.osm", NODES_ONLY)
    assert not at.exception
    assert any("nodes.osm" in w.value for w in at.warning)
    assert (
        len(cache.load_theme(demo_store, KHARKIV_LAB, "streets")) == streets
    )  # nothing replaced yet
    at = at.button(key="layers_import_empty").click().run()
    assert not at.exception
    assert len(cache.load_theme(demo_store, KHARKIV_LAB, "streets")) == 0
    at.selectbox(key="layers_restore").set_value("streets").run()
    at = at.button(key="layers_restore_go").click().run()
    assert not at.exception
    assert any("earlier version" in s.value for s in at.success)
    assert len(cache.load_theme(demo_store, KHARKIV_LAB, "streets")) == streets


def test_an_upload_marked_as_a_theme_source(demo_store):
    at = _app()
    geojson = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        b'"geometry":{"type":"Polygon","coordinates":[[[36.3085,49.9697],'
        b"[36.3087,49.9697],[36.3087,49.9698],[36.3085,49.9698],[36.3085,49.9697]]]}}]}"
    )
    at.file_uploader(key="layers_upload").set_value(
        ("houses.geojson", geojson, "application/geo+json")
    ).run()
    at.text_input[0].set_value("City buildings")
    next(b for b in at.button if b.label == "Add layer").click().run()
    layer = demo_store.list_layers(KHARKIV_LAB, kind="upload")[0]
    assert layer.source_for == ""
    assert any("uploaded files are kept whole" in c.value for c in at.caption)
    at.selectbox(key=f"layers_source_{layer.id}").set_value("buildings").run()
    assert not at.exception
    assert demo_store.get_layer(layer.id).source_for == "buildings"
