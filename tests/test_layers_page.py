"""AppTest of the Data layers page: themes become map layers, uploads work, bad input is shown."""

from __future__ import annotations

import json
import socket

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import KHARKIV_LAB
from tests.opendata_helpers import grid_osm
from workbench.opendata.osm import import_extract


@pytest.fixture(autouse=True)
def fresh_store_cache():
    """The page's store is cached per process; each test has its own data dir."""
    from workbench.ui import _store

    _store.clear()
    yield
    _store.clear()


@pytest.fixture
def lab_with_data(demo_store, tmp_path):
    lab = demo_store.get_lab(KHARKIV_LAB)
    c = lab.boundary.centroid
    import_extract(
        demo_store, grid_osm(tmp_path / "grid.osm", c.x - 0.001, c.y - 0.001), lab, buffer_m=300
    )
    return lab


def _app(lab_id: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = lab_id
    at.switch_page("pages/layers.py")
    return at.run()


def _map_args(at: AppTest) -> dict:
    def walk(nodes):
        for node in nodes:
            if getattr(node, "type", "") == "component_instance":
                yield node
            children = getattr(node, "children", None)
            if children:
                yield from walk(children.values() if isinstance(children, dict) else children)

    maps = [e for e in walk(at.main) if e.proto.component_name.endswith("st_folium")]
    assert maps, "the page shows no st_folium map"
    return json.loads(maps[0].proto.json_args)


def _layer_names(args: dict) -> str:
    return args["feature_group"] + args["layer_control"]


def test_choosing_themes_adds_layers_to_the_map(lab_with_data):
    at = _app(lab_with_data.id)
    assert not at.exception
    assert at.title[0].value == "Data layers"
    at.multiselect(key="layers_themes").set_value(["streets", "schools"]).run()
    assert not at.exception
    args = _map_args(at)
    assert args["feature_group"].count("L.geoJson(") == 2
    names = _layer_names(args)
    assert "Streets (walkable network)" in names and "Schools and childcare" in names
    assert "Buildings" not in names
    assert "OpenStreetMap contributors" in args["feature_group"]
    at.multiselect(key="layers_themes").set_value(
        ["buildings", "streets", "schools", "green"]
    ).run()
    assert _map_args(at)["feature_group"].count("L.geoJson(") == 4
    assert any("OpenStreetMap contributors" in m.value for m in at.markdown)  # legend


def test_page_in_german_and_ukrainian(lab_with_data):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = lab_with_data.id
    at.session_state["lang"] = "uk"
    at.switch_page("pages/layers.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Шари даних"
    names = _layer_names(_map_args(at))
    label = "Вулиці (пішохідна мережа)"
    assert label in names or json.dumps(label)[1:-1] in names  # JS may carry it as \\uXXXX


UPLOADS = {
    "points.csv": b"name,lon,lat\nBench,36.309,49.9699\n",
    "line.geojson": json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "Route"},
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[36.308, 49.9698], [36.310, 49.9700]],
                    },
                }
            ],
        }
    ).encode(),
    "trees.kml": b"""<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">
<Document><Placemark><name>Tree</name><Point><coordinates>36.309,49.9699,0</coordinates></Point>
</Placemark></Document></kml>""",
    "walk.gpx": b"""<?xml version="1.0"?><gpx version="1.1" creator="t"
xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="49.9699" lon="36.309"><name>Stop</name></wpt>
</gpx>""",
}


@pytest.mark.parametrize("filename", list(UPLOADS))
def test_upload_adds_a_layer(demo_store, filename):
    at = _app(KHARKIV_LAB)
    at.file_uploader(key="layers_upload").set_value(
        (filename, UPLOADS[filename], "application/octet-stream")
    ).run()
    assert not at.exception
    at.text_input[0].set_value("My layer")
    submit = [b for b in at.button if b.label == "Add layer"]
    submit[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    layers = demo_store.list_layers(KHARKIV_LAB, kind="upload")
    assert [layer.name for layer in layers] == ["My layer"]
    assert "My layer" in _layer_names(_map_args(at))


def test_upload_of_zip_shapefile_and_geopackage(demo_store, tmp_path):
    import io
    import zipfile

    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame(
        {"name": ["Square"]}, geometry=[shapely.box(36.308, 49.9697, 36.309, 49.9700)], crs=4326
    ).to_crs(32637)
    gdf.to_file(tmp_path / "sq.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in tmp_path.glob("sq.*"):
            z.write(p, p.name)
    gdf.to_file(tmp_path / "two.gpkg", layer="a")
    gdf.to_file(tmp_path / "two.gpkg", layer="b")
    at = _app(KHARKIV_LAB)
    for name, data in (
        ("sq.zip", buf.getvalue()),
        ("two.gpkg", (tmp_path / "two.gpkg").read_bytes()),
    ):
        at.file_uploader(key="layers_upload").set_value((name, data, "application/zip")).run()
        if name == "two.gpkg":  # several layers: the page offers the choice
            at.selectbox(key="layers_upload_layer").set_value("b").run()
        [b for b in at.button if b.label == "Add layer"][0].click().run()
        assert not at.exception and [e.value for e in at.error] == []
    # a shapefile is named by its file, a GeoPackage's layer keeps its own name
    assert [layer.name for layer in demo_store.list_layers(KHARKIV_LAB)] == ["sq", "b"]


def test_bad_upload_shows_a_message_and_adds_nothing(demo_store):
    at = _app(KHARKIV_LAB)
    at.file_uploader(key="layers_upload").set_value(
        ("evil.zip", _slip_zip(), "application/zip")
    ).run()
    [b for b in at.button if b.label == "Add layer"][0].click().run()
    assert not at.exception
    assert any("outside its folder" in e.value for e in at.error)
    assert demo_store.list_layers(KHARKIV_LAB) == []


def _slip_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../etc/passwd", "root:x:0:0")
    return buf.getvalue()


def test_wms_checks_and_failed_fetch_messages(lab_with_data, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WORKBENCH_OVERPASS_URL", f"http://127.0.0.1:{port}/api")
    at = _app(lab_with_data.id)
    at.text_input[0].set_value("ftp://example.org/wms")
    at.text_input[1].set_value("layer")
    [b for b in at.button if b.label == "Add WMS layer"][0].click().run()
    assert any("http://" in e.value for e in at.error)

    monkeypatch.setattr("workbench.opendata.basemaps._resolve", lambda host: ["93.184.216.34"])
    at.text_input[0].set_value("https://sgx.geodatenzentrum.de/wms_topplus_open")
    at.text_input[1].set_value("web")
    [b for b in at.button if b.label == "Add WMS layer"][0].click().run()
    assert not at.exception
    assert "wms_topplus_open" in _map_args(at)["feature_group"]

    at.button(key="layers_fetch").click().run()
    assert not at.exception
    assert any("cannot be reached" in e.value for e in at.error)
    assert any("still shown" in i.value for i in at.info)
