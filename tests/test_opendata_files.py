"""The city's own files: every accepted format, and every kind of bad input, refused cleanly."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
import shapely

from workbench.errors import NotFoundError, ValidationError
from workbench.opendata import files
from workbench.opendata.files import list_layers, read_user_file, save_upload
from workbench.settings import data_dir

BOWTIE = shapely.Polygon([(11.0, 49.0), (11.001, 49.001), (11.001, 49.0), (11.0, 49.001)])
SQUARE = shapely.box(11.002, 49.0, 11.003, 49.001)


def _gdf(crs=4326):
    gdf = gpd.GeoDataFrame(
        {"name": ["Bow <tie>", "Платформа"], "height": [3.5, 7.0]},
        geometry=[BOWTIE, SQUARE],
        crs=4326,
    )
    return gdf.to_crs(crs)


def _file_bytes(gdf, tmp_path, name, **kwargs) -> bytes:
    path = tmp_path / name
    gdf.to_file(path, **kwargs)
    return path.read_bytes()


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _shapefile(tmp_path, crs=25832, drop=()) -> dict[str, bytes]:
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    _gdf(crs).to_file(folder / "sites.shp")
    return {f"data/{p.name}": p.read_bytes() for p in folder.iterdir() if p.suffix not in drop}


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>Tree &lt;old&gt;</name><Point><coordinates>11.0005,49.0005,0</coordinates></Point>
</Placemark>
<Placemark><name>Path</name><LineString><coordinates>11.0,49.0,0 11.001,49.001,0</coordinates>
</LineString></Placemark></Document></kml>"""

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="49.0005" lon="11.0005"><ele>300</ele><name>Bench</name></wpt>
<trk><name>Walk</name><trkseg><trkpt lat="49.0" lon="11.0"><ele>300</ele></trkpt>
<trkpt lat="49.001" lon="11.001"><ele>301</ele></trkpt></trkseg></trk></gpx>"""


def test_geojson_is_read_repaired_and_keeps_attributes(tmp_path):
    data = _file_bytes(_gdf(), tmp_path, "a.geojson", driver="GeoJSON")
    layer = read_user_file("Sites.geojson", data)
    assert layer.format == "geojson" and layer.name == "Sites"
    assert layer.repaired == 1 and layer.dropped == 0
    assert layer.gdf.is_valid.all()
    assert set(layer.gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert layer.gdf["name"].tolist() == ["Bow <tie>", "Платформа"]
    assert layer.gdf["height"].tolist() == [3.5, 7.0]


def test_geopackage_layer_choice(tmp_path):
    path = tmp_path / "two.gpkg"
    _gdf().to_file(path, layer="sites")
    gpd.GeoDataFrame({"kind": ["bench"]}, geometry=[shapely.Point(11, 49)], crs=4326).to_file(
        path, layer="benches"
    )
    data = path.read_bytes()
    assert list_layers("two.gpkg", data) == ["sites", "benches"]
    first = read_user_file("two.gpkg", data)
    assert first.layer == "sites" and len(first.gdf) == 2 and first.name == "sites"
    chosen = read_user_file("two.gpkg", data, layer="benches")
    assert chosen.gdf["kind"].tolist() == ["bench"]
    with pytest.raises(ValidationError) as err:
        read_user_file("two.gpkg", data, layer="nope")
    assert err.value.key == "opendata.file.layer_unknown"


def test_zipped_shapefile_is_reprojected(tmp_path):
    layer = read_user_file("sites.zip", _zip(_shapefile(tmp_path)))
    assert layer.format == "shapefile" and "25832" in layer.source_crs
    assert layer.gdf.crs.to_epsg() == 4326
    assert layer.gdf.geometry[1].bounds == pytest.approx(SQUARE.bounds, abs=1e-7)


def test_kml_kmz_and_gpx(tmp_path):
    kml = read_user_file("trees.kml", KML.encode())
    assert kml.flattened and not shapely.has_z(kml.gdf.geometry.values).any()
    assert "Tree <old>" in set(kml.gdf["Name"] if "Name" in kml.gdf else kml.gdf["name"])
    kmz = read_user_file("trees.kmz", _zip({"doc.kml": KML.encode()}))
    assert len(kmz.gdf) == len(kml.gdf) == 2
    gpx = read_user_file("walk.gpx", GPX.encode())
    assert gpx.layers == ["waypoints", "tracks"] or set(gpx.layers) >= {"waypoints", "tracks"}
    assert gpx.layer == "waypoints" and gpx.gdf.geometry[0].equals(shapely.Point(11.0005, 49.0005))
    tracks = read_user_file("walk.gpx", GPX.encode(), layer="tracks")
    assert tracks.gdf.geom_type[0] == "MultiLineString"


@pytest.mark.parametrize(
    "text",
    [
        "name,lon,lat\nBench,11.0005,49.0005\nTree,11.001,49.001\n",
        "name;Longitude;Latitude\nBench;11,0005;49,0005\nTree;11,001;49,001\n",
        'name,WKT\nBench,POINT (11.0005 49.0005)\nTree,"POINT (11.001 49.001)"\n',
    ],
)
def test_csv_with_coordinates_or_wkt(text):
    layer = read_user_file("points.csv", text.encode())
    assert layer.gdf["name"].tolist() == ["Bench", "Tree"]
    assert layer.gdf.geometry[0].equals(shapely.Point(11.0005, 49.0005))
    assert layer.gdf.crs.to_epsg() == 4326


BAD = {
    "corrupt_gpkg": ("x.gpkg", b"SQLite format 3\x00" + b"\x00" * 50, "corrupt"),
    "corrupt_geojson": ("x.geojson", b'{"type": "FeatureCollection", "features": [', "corrupt"),
    "zip_not_zip": ("x.zip", b"PK\x03\x04 truncated", "corrupt"),
    "zip_without_shp": ("x.zip", _zip({"readme.txt": b"hello"}), "no_shp"),
    "zip_slip": ("x.zip", _zip({"../../etc/passwd": b"root:x:0:0"}), "zip_unsafe"),
    "zip_absolute": ("x.zip", _zip({"/etc/passwd": b"root"}), "zip_unsafe"),
    "zip_bomb": ("x.zip", _zip({"a.shp": b"\x00" * (4 * 1024 * 1024)}), "zip_bomb"),
    "kmz_without_kml": ("x.kmz", _zip({"a.txt": b"x"}), "no_kml"),
    "csv_without_coords": ("x.csv", b"name,street\nBench,Main St\n", "csv_no_coords"),
    "csv_out_of_range": ("x.csv", b"name,lon,lat\nA,500000,5400000\n", "csv_range"),
    "csv_measured": ("x.csv", b'name,wkt\nA,"POINT M (11 49 3)"\n', "measured"),
    "geojson_3d": (
        "x.geojson",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [11, 49, 300]},
                    }
                ],
            }
        ).encode(),
        "has_z",
    ),
    "geojson_unknown_crs": (
        "x.geojson",
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
                "features": [],
            }
        ).encode(),
        "unknown_crs",
    ),
    "geojson_empty": ("x.geojson", b'{"type": "FeatureCollection", "features": []}', "empty"),
    "unknown_type": ("x.docx", b"PK", "unknown_type"),
    "empty_file": ("x.geojson", b"", "empty"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_a_translated_message(case, store):
    filename, data, key = BAD[case]
    with pytest.raises(ValidationError) as err:
        read_user_file(filename, data)
    assert err.value.key == f"opendata.file.{key}"
    for lang in ("en", "de", "uk"):
        message = err.value.message(lang)
        assert message and "opendata." not in message and "{" not in message
    assert not list(data_dir().rglob("*.parquet"))  # nothing stored


def test_shapefile_without_or_with_unknown_crs(tmp_path):
    entries = _shapefile(tmp_path, drop=(".prj", ".cpg"))
    with pytest.raises(ValidationError) as err:
        read_user_file("x.zip", _zip(entries))
    assert err.value.key == "opendata.file.no_crs"
    entries["data/sites.prj"] = b'PROJCS["made up",FOO[1]]'
    with pytest.raises(ValidationError) as err:
        read_user_file("x.zip", _zip(entries))
    assert err.value.key == "opendata.file.unknown_crs"


def test_file_over_the_upload_limit(monkeypatch):
    monkeypatch.setattr(files, "MAX_UPLOAD_MB", 0.001)
    with pytest.raises(ValidationError) as err:
        read_user_file("x.csv", b"lon,lat\n" + b"11,49\n" * 500)
    assert err.value.key == "opendata.file.too_big"


def test_measured_geopackage_is_refused(tmp_path):
    import pyogrio

    path = tmp_path / "m.gpkg"
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.from_wkt("POINT M (11 49 5)")], crs=4326)
    try:
        pyogrio.write_dataframe(gdf, path)
    except Exception:  # noqa: BLE001 - GDAL builds without M support
        pytest.skip("this GDAL cannot write M geometries")
    with pytest.raises(ValidationError) as err:
        read_user_file("m.gpkg", path.read_bytes())
    assert err.value.key == "opendata.file.measured"


def test_save_upload_stores_a_layer_or_nothing(store, tmp_path):
    from workbench.model import City, LivingLab, Network

    store.add_network(Network(id="n1", name="Net", countries=("DE",)))
    store.add_city(
        City(id="c1", name="City", country="DE", lon=11.001, lat=49.001, network_ids=("n1",))
    )
    lab = store.add_lab(
        LivingLab(
            id="lab1",
            city_id="c1",
            network_id="n1",
            title="Lab",
            boundary=shapely.box(11.0, 49.0, 11.003, 49.002),
        )
    )
    layer = read_user_file(
        "Sites.geojson", _file_bytes(_gdf(), tmp_path, "a.geojson", driver="GeoJSON")
    )
    saved = save_upload(store, lab.id, layer, style={"color": "#ff0000"})
    assert saved.kind == "upload" and saved.name == "Sites" and saved.feature_count == 2
    assert saved.style == {"color": "#ff0000"}
    assert saved.path == files.IN_STORE
    assert store.features.names("upload", lab.id) == [saved.id]
    assert files.load_upload(store, saved)["name"].tolist() == ["Bow <tie>", "Платформа"]
    # a layer for a lab that does not exist: no record and no file left behind
    with pytest.raises(NotFoundError):
        save_upload(store, "no-such-lab", layer)
    assert store.features.names("upload", "no-such-lab") == []
    files.delete_upload(store, saved)
    assert store.list_layers(lab.id) == []
    assert not (files.data_dir() / saved.path).exists()
