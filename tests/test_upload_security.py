"""Uploads that would read the server: hostile files the tests make, refused without a request
leaving for the network, without reading other files, and without holding the server (issue 15,
item 1)."""

from __future__ import annotations

import http.server
import io
import json
import multiprocessing
import sqlite3
import tempfile
import threading
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from workbench.errors import ValidationError
from workbench.opendata import files, safe_read
from workbench.opendata.files import list_layers, read_user_file

POINT = {
    "type": "Feature",
    "properties": {"name": "a"},
    "geometry": {"type": "Point", "coordinates": [11.0, 49.0]},
}


@pytest.fixture
def beacon():
    """A local HTTP server (127.0.0.1, random port) that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.hits = hits
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def upload_tmp(tmp_path, monkeypatch):
    """A dedicated temporary folder, to count what reading leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _refused(filename: str, data: bytes, key: str | tuple[str, ...]) -> ValidationError:
    keys = (key,) if isinstance(key, str) else key
    with pytest.raises(ValidationError) as err:
        read_user_file(filename, data)
    assert err.value.key in {f"opendata.file.{k}" for k in keys}, err.value.key
    for lang in ("en", "de", "uk"):
        message = err.value.message(lang)
        assert message and "opendata." not in message and "{" not in message
    return err.value


def _vrt(source: str, sql: str | None = None) -> bytes:
    inner = f"<SrcSQL>{sql}</SrcSQL>" if sql else "<SrcLayer>x</SrcLayer>"
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>{source}</SrcDataSource>'
        f"{inner}</OGRVRTLayer></OGRVRTDataSource>"
    ).encode()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _crs_link(url: str) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [POINT],
            "crs": {"type": "link", "properties": {"href": f"{url}/crs", "type": "proj4"}},
        }
    ).encode()


def _gpkg(path: Path) -> Path:
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(11, 49)], crs=4326).to_file(
        path, layer="sites", driver="GPKG"
    )
    return path


def _endless_gpkg(path: Path) -> Path:
    """A GeoPackage whose layer ``endless`` is a recursive view that never ends."""
    _gpkg(path)
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE VIEW endless AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
            SELECT n AS fid, NULL AS geom, 'x' AS name FROM r;
        INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)
            VALUES ('endless', 'features', 'endless', 4326);
        INSERT INTO gpkg_geometry_columns VALUES ('endless', 'geom', 'POINT', 4326, 0, 0);
    """)
    con.commit()
    con.close()
    return path


# ---- content must match the ending -------------------------------------------------------------


@pytest.mark.parametrize("filename", ["x.geojson", "x.json", "x.csv", "x.gpx", "x.kml", "x.gpkg"])
def test_vrt_documents_are_refused_under_any_name(filename, beacon, tmp_path, upload_tmp):
    other = _gpkg(tmp_path / "other-workspace.gpkg")
    for data in (
        _vrt(str(other), "SELECT * FROM sites"),
        _vrt("CSV:/etc/passwd"),
        _vrt(f"/vsicurl/{beacon.url}/vrt.csv"),
        b"\xef\xbb\xbf  \n" + _vrt(f"/vsicurl/{beacon.url}/bom.csv"),
    ):
        _refused(filename, data, ("refers_elsewhere", "wrong_content"))
        if filename.endswith((".gpx", ".gpkg")):
            with pytest.raises(ValidationError):
                list_layers(filename, data)
    assert beacon.hits == []
    assert not list(upload_tmp.glob("wb-upload-*"))


def test_a_vrt_inside_a_zip_or_kmz_is_refused(beacon, upload_tmp):
    vrt = _vrt(f"/vsicurl/{beacon.url}/zip.csv")
    _refused(
        "x.zip",
        _zip({"a.shp": vrt, "a.shx": b"", "a.dbf": b"", "a.prj": b"GEOGCS[]"}),
        ("refers_elsewhere", "wrong_content"),
    )
    _refused("x.kmz", _zip({"doc.kml": vrt}), ("refers_elsewhere", "wrong_content"))
    assert beacon.hits == []
    assert not list(upload_tmp.glob("wb-upload-*"))


def test_renamed_files_are_refused(tmp_path):
    gpkg = _gpkg(tmp_path / "a.gpkg").read_bytes()
    geojson = json.dumps({"type": "FeatureCollection", "features": [POINT]}).encode()
    for filename in ("a.geojson", "a.kml", "a.gpx", "a.zip", "a.csv"):
        _refused(filename, gpkg, "wrong_content")
    for filename in ("a.gpkg", "a.kml", "a.gpx", "a.zip"):
        _refused(filename, geojson, "wrong_content")
    kml = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"></kml>'
    _refused("a.gpx", kml, "wrong_content")
    assert read_user_file("a.geojson", geojson).feature_count == 1  # the real thing still reads


def test_xml_with_entity_declarations_is_refused():
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&b;</name>'
        b"</Document></kml>"
    )
    _refused("x.kml", laughs, "xml_declarations")
    _refused(
        "x.gpx", laughs.replace(b"<kml", b"<gpx").replace(b"</kml>", b"</gpx>"), "xml_declarations"
    )


# ---- no request leaves ---------------------------------------------------------------------------


def test_geojson_crs_links_fetch_nothing(beacon):
    link = _crs_link(beacon.url)
    _refused("x.geojson", link, "refers_elsewhere")
    for filename in ("x.gpx", "x.gpkg"):  # merely choosing the file lists its layers
        with pytest.raises(ValidationError) as err:
            list_layers(filename, link)
        assert err.value.key == "opendata.file.wrong_content"
        _refused(filename, link, "wrong_content")
    nested = {
        "type": "FeatureCollection",
        "features": [
            {
                **POINT,
                "geometry": {
                    **POINT["geometry"],
                    "crs": {"type": "link", "properties": {"href": beacon.url}},
                },
            }
        ],
    }
    _refused("x.geojson", json.dumps(nested).encode(), "refers_elsewhere")
    escaped = link.replace(b'"crs"', b'"\\u0063rs"')
    _refused("x.geojson", escaped, "refers_elsewhere")
    named_url = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [POINT],
            "crs": {"type": "name", "properties": {"name": f"{beacon.url}/name"}},
        }
    ).encode()
    _refused("x.geojson", named_url, "refers_elsewhere")
    assert beacon.hits == []


def _gdal_read(path: str) -> tuple[dict, dict]:
    """A bounded child that hands ``path`` to GDAL without any of the workbench's own checks."""
    import pyogrio

    return {}, {"x": pyogrio.read_dataframe(path)}


def test_gdal_itself_is_locked_down_in_the_child(beacon, tmp_path):
    """Behind the checks, the child's GDAL has one driver and no network: a crs link read by
    GDAL directly, a /vsicurl/ path and a VRT reach nothing."""
    import pyogrio

    link = tmp_path / "link.geojson"
    link.write_bytes(_crs_link(beacon.url))
    vrt = tmp_path / "x.geojson"
    vrt.write_bytes(_vrt(f"/vsicurl/{beacon.url}/vrt.csv"))
    try:  # GDAL falls back or reports an error; either way it fetches nothing
        safe_read.run_bounded(_gdal_read, str(link), driver="GeoJSON")
    except ValidationError as err:
        assert err.key == "opendata.file.corrupt"
    for path in (f"/vsicurl/{beacon.url}/x.geojson", str(vrt)):
        with pytest.raises(ValidationError) as raised:
            safe_read.run_bounded(_gdal_read, path, driver="GeoJSON")
        assert raised.value.key == "opendata.file.corrupt"
    assert beacon.hits == []
    # the same /vsicurl/ read in this (unguarded) process does reach the beacon: the test can fail
    with pytest.raises(Exception):  # noqa: B017 - the beacon answers 404
        pyogrio.read_info(f"/vsicurl/{beacon.url}/control.geojson")
    assert beacon.hits


# ---- bounded in time, memory and size -----------------------------------------------------------


def _endless_read(path_text: str, *_args) -> tuple[dict, dict]:
    """A child that reads the recursive view through GDAL, skipping the workbench's checks."""
    import pyogrio

    return {}, {"layer": pyogrio.read_dataframe(path_text, layer="endless")}


def test_recursive_view_geopackage_is_refused(tmp_path, upload_tmp):
    data = _endless_gpkg(tmp_path / "e.gpkg").read_bytes()
    with pytest.raises(ValidationError) as err:
        list_layers("e.gpkg", data)
    assert err.value.key == "opendata.file.gpkg_views"
    _refused("e.gpkg", data, "gpkg_views")
    assert not list(upload_tmp.glob("wb-upload-*"))


def test_a_reader_that_never_ends_is_killed(tmp_path, upload_tmp, monkeypatch):
    """Even when a crafted file got past every check, its reader is killed at the time limit;
    the user gets "took too long", no process and no temporary folder is left."""
    data = _endless_gpkg(tmp_path / "e.gpkg").read_bytes()
    monkeypatch.setattr(files, "_read_child", _endless_read)
    monkeypatch.setattr(safe_read.settings, "UPLOAD_READ_TIMEOUT_S", 2.0)
    err = _refused("e.gpkg", data, "too_slow")
    assert "2 s" in err.message("en")
    assert not [p for p in multiprocessing.active_children() if p.name == "wb-upload-reader"]
    assert not list(upload_tmp.glob("wb-upload-*"))


def _hungry(_path_text: str, *_args) -> tuple[dict, dict]:
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def test_a_reader_over_its_memory_limit_is_stopped(tmp_path, upload_tmp, monkeypatch):
    monkeypatch.setattr(files, "_read_child", _hungry)
    monkeypatch.setattr(safe_read.settings, "UPLOAD_READ_MEMORY_MB", 1536)
    _refused(
        "x.geojson",
        json.dumps({"type": "FeatureCollection", "features": [POINT]}).encode(),
        "too_much_memory",
    )
    assert not list(upload_tmp.glob("wb-upload-*"))


def _ring(n: int, lon: float = 11.0, lat: float = 49.0, r: float = 0.01) -> list:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.column_stack([lon + r * np.cos(angles), lat + r * np.sin(angles)]).round(7)
    return [*ring.tolist(), ring[0].tolist()]


def _polygons(rings: list[list]) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"i": i},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
                for i, ring in enumerate(rings)
            ],
        }
    ).encode()


def test_vertex_caps_per_feature_and_per_layer(monkeypatch, upload_tmp):
    err = _refused(
        "big.geojson", _polygons([_ring(files.MAX_FEATURE_VERTICES + 10)]), "too_many_vertices"
    )
    assert err.params["limit"] == files.MAX_FEATURE_VERTICES
    monkeypatch.setattr(files, "MAX_LAYER_VERTICES", 1000)
    rings = [_ring(400, lon=11 + i * 0.03) for i in range(3)]
    err = _refused("many.geojson", _polygons(rings), "layer_too_many_vertices")
    assert err.params["count"] == 3 * 401
    assert read_user_file("two.geojson", _polygons(rings[:2])).feature_count == 2
    assert not list(upload_tmp.glob("wb-upload-*"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_big_refused_file_leaves_the_server_memory_as_it_was(monkeypatch, upload_tmp):
    """Counted before everything is read: the feature limit refuses a 60 MB GeoJSON, and the
    reading process's memory is not the server's."""
    monkeypatch.setattr(files, "MAX_UPLOAD_FEATURES", 1000)
    feature = json.dumps(
        {
            "type": "Feature",
            "properties": {"name": "x" * 40},
            "geometry": {"type": "LineString", "coordinates": _ring(30)},
        }
    ).encode()
    count = 60 * 1024 * 1024 // len(feature)
    data = b'{"type": "FeatureCollection", "features": [' + b",".join([feature] * count) + b"]}"
    before = _rss_mb()
    err = _refused("big.geojson", data, "too_many")
    assert err.params["count"] == count
    del data
    assert _rss_mb() - before < 100
    assert not list(upload_tmp.glob("wb-upload-*"))


def test_accepted_files_leave_no_temporary_folder(tmp_path, upload_tmp):
    data = _gpkg(tmp_path / "a.gpkg").read_bytes()
    assert list_layers("a.gpkg", data) == ["sites"]
    assert read_user_file("a.gpkg", data).feature_count == 1
    assert not list(upload_tmp.glob("wb-upload-*"))


def test_dense_upload_layers_are_simplified_harder_for_display():
    from workbench import maps

    n = 30_000
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = 0.02 * (1 + np.random.default_rng(1).uniform(-0.002, 0.002, n))  # jagged star
    star = shapely.Polygon(
        np.column_stack([11 + radius * np.cos(angles), 49 + radius * np.sin(angles)])
    )
    assert star.is_valid
    dense = np.array([star] * 10, dtype=object)
    few = dense[:1]
    assert maps.upload_tolerance(few) == maps.DISPLAY_TOLERANCE
    tolerance = maps.upload_tolerance(dense)
    assert tolerance > maps.DISPLAY_TOLERANCE

    def sent(tol):
        collection = maps.display_geojson(dense, [{}] * 10, tolerance=tol)
        return sum(len(f["geometry"]["coordinates"][0]) for f in collection["features"])

    assert sent(tolerance) < sent(maps.DISPLAY_TOLERANCE) / 2


def test_read_layers_reads_feature_and_attribute_tables_and_refuses_views(tmp_path):
    """The reusable whole path (for ``workbench import``): a GeoPackage's layers as frames."""
    import pandas as pd
    import pyogrio

    path = _gpkg(tmp_path / "export.gpkg")
    pyogrio.write_dataframe(
        pd.DataFrame({"note": ["Привіт"]}), path, layer="annotations", driver="GPKG"
    )
    frames = safe_read.read_layers(path)
    assert set(frames) == {"sites", "annotations"}
    assert frames["sites"].crs.to_epsg() == 4326 and len(frames["sites"]) == 1
    assert frames["annotations"]["note"].tolist() == ["Привіт"]
    assert set(safe_read.read_layers(path, layers=["annotations"])) == {"annotations"}
    with pytest.raises(ValidationError) as err:
        safe_read.read_layers(_endless_gpkg(tmp_path / "e.gpkg"))
    assert err.value.key == "opendata.file.gpkg_views"
    vrt = tmp_path / "x.gpkg"
    vrt.write_bytes(_vrt("CSV:/etc/passwd"))
    with pytest.raises(ValidationError) as err:
        safe_read.read_layers(vrt)
    assert err.value.key == "opendata.file.refers_elsewhere"
