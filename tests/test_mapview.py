"""One map, everywhere: the living-lab map, the presenter view, the HTML export and the PNG
snapshot draw a lab from one description (``workbench.mapview``), with its saved basemap and
WMS layers, and credit exactly the sources they drew."""

from __future__ import annotations

import http.server
import io
import threading
from typing import Any

import pytest
import requests

from tests.test_export import lab  # noqa: F401 - the fixture: a demo lab with notes and a layer
from workbench import export, maps, mapview
from workbench.access import Actor
from workbench.errors import PermissionDenied, ValidationError
from workbench.export import static, web
from workbench.live import changes_since
from workbench.mapview import MapSettings, WmsOverlay
from workbench.opendata import basemaps, wms
from workbench.settings import OSM_ATTRIBUTION

PUBLIC = ["93.184.216.34"]  # what a public WMS host resolves to in these tests
WMS_URL = "https://sgx.geodatenzentrum.de/wms_topplus_open"


@pytest.fixture
def public_dns(monkeypatch):
    monkeypatch.setattr(basemaps, "_resolve", lambda host: PUBLIC)


# ---- one renderer -------------------------------------------------------------------------------
def test_live_map_html_export_and_snapshot_draw_notes_from_one_function(
    demo_store, lab, monkeypatch
):  # noqa: F811
    calls: list[str] = []
    real = maps.annotation_features

    def spy(annotations, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs.get("lang") or (args[1] if len(args) > 1 else "en"))
        return real(annotations, *args, **kwargs)

    monkeypatch.setattr(maps, "annotation_features", spy)
    live = {f["id"]: f for f in changes_since(demo_store, lab.id, 0).features}  # the live map
    assert len(calls) == 1
    content = export.gather(demo_store, lab.id)
    m = web.build_map(content)  # the HTML export's and the Chromium snapshot's map
    [layer] = [c for c in m._children.values() if isinstance(c, maps.NotesLayer)]
    exported = {f["id"]: f for f in layer.features}
    frame = static.note_frame(content)  # what the static snapshot draws
    assert len(calls) == 3
    assert len(live) == 6 and set(live) == set(exported) == set(frame["id"])
    for row in frame.itertuples():
        style = live[row.id]["properties"]["s"]
        assert exported[row.id]["properties"]["s"] == style == row.style
        assert exported[row.id]["properties"]["p"] == live[row.id]["properties"]["p"]
        assert exported[row.id]["geometry"] == live[row.id]["geometry"]
    # the HTML file carries those very features, for the same notes layer script
    html = web.html_document(content)
    assert "wbNoteAreas" in html and "LIVE_NAME, NOTES_INITIAL)" not in html
    some = next(iter(exported.values()))
    assert maps.script_json(some["properties"]["s"]) in html


def test_areas_light_fill_strong_outline_under_points_and_lines(demo_store, lab):  # noqa: F811
    content = export.gather(demo_store, lab.id)
    by_kind = {}
    for f in content.annotation_features():
        by_kind.setdefault(f["geometry"]["type"], f["properties"]["s"])
    area, line, point = by_kind["Polygon"], by_kind["LineString"], by_kind["Point"]
    assert area["fillOpacity"] <= 0.15 and area["weight"] >= 3 and area["opacity"] == 1
    assert point["fillOpacity"] >= 0.9 and line["weight"] >= 3
    # the notes layer puts areas into a pane under the one of points and lines
    source = maps.NotesLayer.SOURCE.read_text(encoding="utf-8")
    assert 'createPane("wbNoteAreas").style.zIndex = 410' in source
    assert 'createPane("wbNoteMarks").style.zIndex = 420' in source
    # the static snapshot draws them in that order too
    frame = static.note_frame(content)
    assert set(frame["kind"]) == {"area", "line", "point"}


# ---- basemap and WMS saved with the lab ---------------------------------------------------------
def test_saved_basemap_and_wms_reach_the_map_and_every_export(demo_store, lab, public_dns):  # noqa: F811
    assert mapview.map_settings(demo_store, lab.id) == MapSettings()
    saved = mapview.save_map_settings(
        demo_store,
        lab.id,
        {
            "basemap": "satellite",
            "wms": [{"url": WMS_URL, "layer": "web", "opacity": 0.6}],
            "opacities": {"osm:nothing": 0.5},
        },
    )
    assert saved == mapview.map_settings(demo_store, lab.id)
    assert saved.basemap == "satellite" and saved.wms == (WmsOverlay(WMS_URL, "web", 0.6),)
    # the living-lab map and the presenter view: mapview.lab_map with the saved settings
    layers = mapview.lab_layers(demo_store, lab.id, settings=saved, muted=True)[0]
    html = mapview.lab_map(lab, layers, saved, live=True).get_root().render()
    assert "World_Imagery" in html and "tile.openstreetmap.org" not in html
    assert "wms_topplus_open" in html and '"opacity": 0.6' in html
    # the exports gather the same settings
    content = export.gather(demo_store, lab.id)
    assert content.settings == saved
    page = web.html_document(content)
    assert "World_Imagery" in page and "wms_topplus_open" in page
    credits = " · ".join(content.attributions())
    assert "Satellite imagery" in credits and "Esri" in credits
    assert "“web” from sgx.geodatenzentrum.de" in credits
    # the key of the map pages' cached base maps changes with the settings
    before = mapview.context_version(demo_store, lab.id)
    mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="topo"))
    assert mapview.context_version(demo_store, lab.id) != before


def test_map_settings_are_guarded_and_checked_before_anything_is_saved(
    demo_store, lab, public_dns, monkeypatch
):  # noqa: F811
    first = mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="light"))
    with pytest.raises(PermissionDenied):
        mapview.save_map_settings(
            demo_store, lab.id, MapSettings(basemap="topo"), by=Actor("viewer")
        )
    with pytest.raises(PermissionDenied):
        mapview.save_map_settings(
            demo_store, lab.id, MapSettings(basemap="topo"), by=Actor("participant", group="A")
        )
    bad = [
        ({"basemap": "google"}, "mapview.error.basemap"),
        ({"wms": [{"url": WMS_URL, "layer": "web", "opacity": 2}]}, "mapview.error.opacity"),
        (
            {"wms": [{"url": WMS_URL, "layer": f"l{i}"} for i in range(6)]},
            "mapview.error.too_many_wms",
        ),
        ({"wms": [{"url": "ftp://example.org/wms", "layer": "web"}]}, "opendata.wms.scheme"),
        ({"opacities": {"buildings": "lots"}}, "mapview.error.opacity"),
        ("satellite", "mapview.error.settings"),
    ]
    for value, key in bad:
        with pytest.raises(ValidationError) as err:
            mapview.save_map_settings(demo_store, lab.id, value)
        assert err.value.key == key
        for lang in ("de", "uk"):
            assert not err.value.message(lang).startswith("mapview.")
    # a WMS on a private network or the loopback is refused, the valid basemap beside it too
    for host, addresses in (("intranet.example", ["10.0.0.5"]), ("localhost", ["127.0.0.1"])):
        monkeypatch.setattr(basemaps, "_resolve", lambda h, a=addresses: a)
        with pytest.raises(ValidationError) as err:
            mapview.save_map_settings(
                demo_store,
                lab.id,
                {"basemap": "satellite", "wms": [{"url": f"http://{host}/wms", "layer": "a"}]},
            )
        assert err.value.key == "opendata.wms.private"
    assert mapview.map_settings(demo_store, lab.id) == first  # nothing saved half-way
    # what cannot be read is never fatal: the map draws with the defaults
    demo_store.set_lab_setting(lab.id, mapview.SETTING_KEY, {"basemap": 42})
    assert mapview.map_settings(demo_store, lab.id) == MapSettings()


# ---- GetCapabilities fetched by the server --------------------------------------------------
CAPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms">
<Capability><Layer><Title>TopPlus</Title>
  <Layer><Name>web</Name><Title>TopPlus Web</Title></Layer>
  <Layer><Name>web_grau</Name><Title>TopPlus grau</Title></Layer>
  <Layer><Title>group without a name</Title></Layer>
</Layer></Capability></WMS_Capabilities>"""


class FakeResponse:
    def __init__(
        self, body: bytes = CAPS, status: int = 200, length: str | None = None, chunks: int = 1
    ) -> None:
        self.status_code, self.body, self.chunks = status, body, chunks
        self.headers = {"Content-Length": length} if length else {}

    def iter_content(self, size: int):  # type: ignore[no-untyped-def]
        for _ in range(self.chunks):
            yield self.body

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        pass


class FakeSession:
    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, url, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append((url, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_capabilities_list_the_named_layers(public_dns):
    session = FakeSession(FakeResponse())
    found = wms.wms_layers(WMS_URL + "?map=topplus", session=session)
    assert [(x.name, x.title) for x in found] == [
        ("web", "TopPlus Web"),
        ("web_grau", "TopPlus grau"),
    ]
    url, kwargs = session.calls[0]
    assert "map=topplus" in url and "REQUEST=GetCapabilities" in url and "SERVICE=WMS" in url
    assert kwargs["allow_redirects"] is False and kwargs["stream"] is True
    assert kwargs["timeout"][1] == pytest.approx(wms.WMS_CAPABILITIES_TIMEOUT_S)
    assert kwargs["headers"]["User-Agent"].startswith("LivingLabWorkbench")


@pytest.mark.parametrize(
    "answer,key",
    [
        (FakeResponse(length=str(100_000_000)), "mapview.caps.too_large"),  # said up front
        (FakeResponse(body=b"x" * 1_000_000, chunks=120), "mapview.caps.too_large"),  # streamed
        (requests.ReadTimeout("never answers"), "mapview.caps.timeout"),
        (requests.ConnectionError("refused"), "mapview.caps.unreachable"),
        (FakeResponse(status=302), "mapview.caps.http"),  # a redirect is not followed
        (FakeResponse(body=b"<html><body>login</body></html>"), "mapview.caps.not_wms"),
        (
            FakeResponse(body=b'<!DOCTYPE x [<!ENTITY a "aaaa">]><WMS_Capabilities/>'),
            "mapview.caps.not_wms",
        ),
        (
            FakeResponse(
                body=b"<WMS_Capabilities><Layer><Title>t</Title></Layer></WMS_Capabilities>"
            ),
            "mapview.caps.no_layers",
        ),
    ],
)
def test_capabilities_bad_answers_give_clear_messages(public_dns, answer, key):
    with pytest.raises(ValidationError) as err:
        wms.wms_layers(WMS_URL, session=FakeSession(answer))
    assert err.value.key == key
    for lang in ("en", "de", "uk"):
        assert not err.value.message(lang).startswith("mapview.")


def test_capabilities_never_asked_of_a_private_host(monkeypatch):
    session = FakeSession(FakeResponse())
    for url, addresses in (
        ("http://127.0.0.1/wms", []),
        ("http://[::1]/wms", []),
        ("http://router.example/wms", ["192.168.0.1"]),
    ):
        monkeypatch.setattr(basemaps, "_resolve", lambda h, a=addresses: a)
        with pytest.raises(ValidationError) as err:
            wms.wms_layers(url, session=session)
        assert err.value.key == "opendata.wms.private"
    assert session.calls == []


# ---- attribution tells the truth ------------------------------------------------------------
def test_static_snapshot_credits_no_tiles(demo_store, lab, public_dns):  # noqa: F811
    mapview.save_map_settings(
        demo_store, lab.id, {"basemap": "satellite", "wms": [{"url": WMS_URL, "layer": "web"}]}
    )
    content = export.gather(demo_store, lab.id, lang="de")
    drawn_none = " · ".join(content.attributions(drawn=()))
    assert "Esri" not in drawn_none and "WMS" not in drawn_none
    assert OSM_ATTRIBUTION not in drawn_none  # no OSM layer in this lab, no OSM tile drawn
    assert "Gebäude der Stadt" in drawn_none and "hochgeladen am" in drawn_none
    only_wms = " · ".join(content.attributions(drawn={"wms:0"}))
    assert "WMS-Ebene „web“" in only_wms and "Esri" not in only_wms


class _Tiles(http.server.BaseHTTPRequestHandler):
    """A tile and WMS server on the loopback: every request answers a small PNG."""

    def do_GET(self) -> None:  # noqa: N802
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (256, 256), "#77aa55").save(buf, format="PNG")
        body = buf.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.mark.slow
def test_chromium_snapshot_credits_exactly_the_tiles_drawn(demo_store, lab, monkeypatch):  # noqa: F811
    reason = web.chromium_available()
    if reason is not None:
        pytest.skip(f"no Chromium snapshot here: {reason}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        sat = basemaps.BASEMAPS["satellite"]
        monkeypatch.setitem(
            basemaps.BASEMAPS,
            "satellite",
            basemaps.Basemap("satellite", base + "/sat/{z}/{y}/{x}", sat.attribution, sat.max_zoom),
        )
        content = export.gather(demo_store, lab.id)
        # set directly: the loopback server would (rightly) not pass validate_wms
        content.settings = MapSettings("satellite", (WmsOverlay(base + "/wms", "roads", 0.7),))
        size = export.page_size("slide")
        monkeypatch.setenv("WORKBENCH_EXPORT_TILES", "1")
        online: dict = {}
        web.render_png_chromium(content, size, report=online)
        assert online["drawn"] == ["basemap", "wms:0"]
        assert "Satellite imagery" in online["attribution"]
        assert "“roads” from 127.0.0.1" in online["attribution"]
        monkeypatch.setenv("WORKBENCH_EXPORT_TILES", "")  # offline: no tile is fetched
        offline: dict = {}
        png = web.render_png_chromium(content, size, report=offline)
        assert offline["drawn"] == []
        assert "Esri" not in offline["attribution"] and "WMS" not in offline["attribution"]
        assert "Gebäude der Stadt" in offline["attribution"]
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        server.shutdown()
        server.server_close()


# ---- PNG from the app through Chromium ------------------------------------------------------
def test_the_apps_own_install_brings_what_chromium_rendering_needs():
    import tomllib

    from tests.conftest import PROJECT_ROOT

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    needs = {
        d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in project["dependencies"]
    }
    assert "playwright" in needs  # not only in the test extra: `./dev app` installs it
    pins = (PROJECT_ROOT / "constraints.txt").read_text().splitlines()
    assert any(p.startswith("playwright==") for p in pins)
    assert any(p.startswith("greenlet==") for p in pins)  # what playwright needs, pinned too


def test_app_snapshot_is_rendered_by_chromium_where_it_exists(demo_store, lab, monkeypatch):  # noqa: F811
    if web.chromium_available() is not None:
        pytest.skip(f"no Chromium here: {web.chromium_available()}")

    def no_fallback(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the static fallback drew the snapshot")

    monkeypatch.setattr(static, "render_png_static", no_fallback)
    png = export.export_lab(demo_store, lab.id, "png", size=export.page_size("slide"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_page_says_how_to_enable_chromium(demo_store, monkeypatch, tmp_path):
    from tests.test_export_page import _page

    first = demo_store.list_labs()[0]
    monkeypatch.setenv("WORKBENCH_CHROMIUM", str(tmp_path / "no-chromium"))
    for lang, words in (
        ("en", "sudo apt-get install chromium"),
        ("de", "installieren Sie"),
        ("uk", "встановіть Chromium"),
    ):
        at = _page(first.id, lang)
        assert not at.exception
        captions = " ".join(c.value for c in at.caption)
        assert words in captions and str(tmp_path / "no-chromium") in captions
    monkeypatch.delenv("WORKBENCH_CHROMIUM")
    if web.chromium_available() is None:  # where Chromium renders, the page does not warn
        at = _page(first.id)
        assert not any("No browser" in c.value for c in at.caption)


# ---- GeoPackage for QGIS ------------------------------------------------------------------------
def _second_upload(store, site, name: str, colour: str | None):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    from shapely.geometry import Point

    from workbench.model import Layer, new_id
    from workbench.opendata.files import IN_STORE

    c = site.boundary.centroid
    frame = gpd.GeoDataFrame(
        {"art": ["Linde", "Eiche"]},
        geometry=[Point(c.x + 1e-4, c.y), Point(c.x - 1e-4, c.y)],
        crs=4326,
    )
    layer_id = new_id()
    store.features.write("upload", site.id, layer_id, frame, {})
    store.add_layer(
        Layer(
            id=layer_id,
            lab_id=site.id,
            name=name,
            kind="upload",
            style={"color": colour} if colour else {},
            path=IN_STORE,
            feature_count=2,
        )
    )
    return layer_id


def test_geopackage_opens_in_qgis_named_and_styled(demo_store, lab, tmp_path):  # noqa: F811
    import shutil
    import sqlite3
    import subprocess
    from xml.etree import ElementTree

    import pyogrio

    from tests.test_export import _cache_osm

    _cache_osm(demo_store, lab)
    _second_upload(demo_store, lab, "Bäume 2024", "#56B4E9")  # the same colour as the first
    content = export.gather(demo_store, lab.id, lang="de")
    path = export.write_geopackage(content, tmp_path / "lab.gpkg")
    tables = dict(pyogrio.list_layers(path))
    assert {
        "osm_buildings",
        "osm_streets",
        "gebäude_der_stadt",
        "bäume_2024",
        "layer_styles",
    } <= set(tables)
    assert not any(name.startswith("layer_") and name[6:].isdigit() for name in tables)
    with sqlite3.connect(path) as db:
        contents = dict(db.execute("SELECT table_name, identifier FROM gpkg_contents"))
        described = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
        styles = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT f_table_name, f_geometry_column, styleQML, styleSLD, useAsDefault "
                "FROM layer_styles"
            )
        }
    assert contents["osm_buildings"] == "Gebäude" and contents["osm_streets"].startswith("Straßen")
    assert contents["gebäude_der_stadt"] == "Gebäude der Stadt"
    assert "2021-03-04" in described["osm_buildings"]
    assert OSM_ATTRIBUTION in described["osm_buildings"]
    map_tables = {
        "site",
        "annotations",
        "osm_buildings",
        "osm_streets",
        "gebäude_der_stadt",
        "bäume_2024",
    }
    assert set(styles) == map_tables
    for table, (geom_col, qml, sld_text, default) in styles.items():
        assert default == 1 and geom_col == pyogrio.read_info(path, layer=table)["geometry_name"]
        ElementTree.fromstring(qml.split("\n", 1)[1])  # well-formed after its DOCTYPE line
        ElementTree.fromstring(sld_text.split("\n", 1)[1])
    # annotations: one category each, in the map's colours
    qml = ElementTree.fromstring(styles["annotations"][1].split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "category"
    colours = export.category_colours(content)
    values = [c.get("value") for c in renderer.iter("category")]
    assert values == content.categories()
    for i, code in enumerate(values):
        symbol = next(s for s in renderer.iter("symbol") if s.get("name") == str(i))
        colour = next(o.get("value") for o in symbol.iter("Option") if o.get("name") == "color")
        r, g, b = (int(colours[code][k : k + 2], 16) for k in (1, 3, 5))
        assert colour.startswith(f"{r},{g},{b},")
    # areas: a light fill and a strong outline; uploads in distinct colours
    upload = ElementTree.fromstring(styles["gebäude_der_stadt"][1].split("\n", 1)[1])
    opts = {o.get("name"): o.get("value") for o in upload.iter("Option")}
    assert opts["color"].endswith(",31") and opts["outline_color"].endswith(",255")
    assert float(opts["outline_width"]) >= 0.6
    drawn = {x.name: x.colour for x in content.layers if x.kind == "upload"}
    assert drawn["Gebäude der Stadt"] == "#56B4E9" and drawn["Bäume 2024"] != "#56B4E9"
    trees = ElementTree.fromstring(styles["bäume_2024"][1].split("\n", 1)[1])
    assert trees.find(".//symbol").get("type") == "marker"
    # GDAL's own reader lists the named tables
    if shutil.which("ogrinfo"):
        listing = subprocess.run(
            ["ogrinfo", "-ro", "-q", str(path)], capture_output=True, text=True, timeout=60
        ).stdout
        for table in ("osm_buildings", "osm_streets", "gebäude_der_stadt", "layer_styles"):
            assert table in listing


def test_uploads_get_distinct_colours_and_the_next_is_offered(demo_store, lab):  # noqa: F811
    _second_upload(demo_store, lab, "Zwei", None)
    _second_upload(demo_store, lab, "Drei", "#56b4e9")
    stored = demo_store.list_layers(lab.id, kind="upload")
    colours = mapview.upload_colours(stored)
    assert len(set(c.lower() for c in colours.values())) == 3
    assert mapview.next_upload_colour(stored).lower() not in {c.lower() for c in colours.values()}
    layers = mapview.upload_layers(demo_store, lab.id)[0]
    assert [x.style["fillOpacity"] for x in layers] == [maps.AREA_FILL_OPACITY] * 3
    assert all(x.style["weight"] >= 2.5 for x in layers)


# ---- a venue without internet -------------------------------------------------------------------
def test_world_outline_is_served_from_the_apps_own_assets():
    from workbench.webassets import local_files, use_local_assets

    files = local_files()
    if maps.WORLD_ATLAS_URL not in files or maps.TOPOJSON_JS not in files:
        pytest.skip("no local world-atlas / topojson-client (run scripts/fetch_web_assets.py)")
    m = use_local_assets(maps.overview_map([], {}, {}), "/app/static/web-assets")
    html = m.get_root().render()
    assert (
        '"/app/static/web-assets/cdn.jsdelivr.net/npm/world-atlas@2.0.2/countries-110m.json"'
        in html
    )
    assert (
        'src="/app/static/web-assets/cdn.jsdelivr.net/npm/topojson-client@3.1.0/dist/'
        'topojson-client.min.js"' in html
    )
    assert 'layer.on("tileerror", draw)' in html  # drawn as soon as a tile fails
    import json

    topo = json.loads(files[maps.WORLD_ATLAS_URL].read_text())
    assert topo["type"] == "Topology" and len(topo["objects"]["countries"]["geometries"]) > 150


def test_a_snapshot_keeps_the_basemap_and_wms_it_saw(demo_store, lab, public_dns):  # noqa: F811
    mapview.save_map_settings(
        demo_store,
        lab.id,
        {"basemap": "topo", "wms": [{"url": WMS_URL, "layer": "web", "opacity": 0.5}]},
    )
    snap = export.take_snapshot(demo_store, lab.id, "Round 1")
    mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="light"))
    then = export.snapshot_content(demo_store, demo_store.get_snapshot(snap.id))
    assert then.settings.basemap == "topo" and then.settings.wms[0].opacity == 0.5
    assert "opentopomap" in web.html_document(then)


def test_without_tiles_the_labs_own_layers_read_as_a_basemap(demo_store, lab):  # noqa: F811
    from tests.test_export import _cache_osm

    _cache_osm(demo_store, lab)
    layers = mapview.osm_layers(demo_store, lab.id, muted=True)
    streets = next(x for x in layers if x.theme == "streets")
    streets.frame.loc[:, "name"] = ["Laufamholzstraße <b>"]
    points = maps.street_name_points(streets.frame)
    assert [p[2] for p in points] == ["Laufamholzstraße &lt;b&gt;"]
    html = mapview.lab_map(lab, layers, MapSettings(), live=True).get_root().render()
    assert (
        "Laufamholzstra\u00dfe \\u0026lt;b\\u0026gt;" in html
        or "Laufamholzstraße &lt;b&gt;" in html
    )
    assert "wb-street-name" in html and 'layer.on("tileerror", start)' in html
    # stored venue tiles make it unnecessary
    html = (
        mapview.lab_map(lab, layers, MapSettings(), venue=("/t/{z}/{x}/{y}.png", 17))
        .get_root()
        .render()
    )
    assert "wb-street-name" not in html
