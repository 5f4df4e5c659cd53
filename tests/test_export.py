"""Exports opened by real readers: Pillow (PNG), pypdf (PDF), pyogrio (GeoPackage), json (GeoJSON),
csv; round trip through a GeoPackage into a new workspace; snapshots; the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from PIL import Image
from pypdf import PdfReader
from shapely.geometry import LineString, Point, Polygon

from tests.helpers import NUERNBERG_LAB
from workbench import export
from workbench.errors import ValidationError, WorkbenchError
from workbench.export.content import category_colours
from workbench.indicators import INDICATORS, IndicatorSet, Note
from workbench.indicators import Indicator as IndicatorResult
from workbench.model import Annotation, Layer, new_id
from workbench.opendata.files import IN_STORE
from workbench.settings import MAX_TEXT_CHARS, OSM_ATTRIBUTION

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "Grünfläche fehlt — вулиця Сумська, Київ",
    "שלום עולם مرحبا بالعالم",
    "$x^2$ & {braces} \\n",
]
LONG = "Lorem ipsum dolor sit amet " * (MAX_TEXT_CHARS // 27)


def _add(store, lab, geom, category, text, minutes=0, author="Gruppe A"):  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab.id,
            geometry=geom,
            category=category,
            text=text,
            author=author,
            created_at=t0,
            updated_at=t0,
        )
    )


@pytest.fixture
def lab(demo_store):  # type: ignore[no-untyped-def]
    """A demo lab with a point, line and polygon annotation of each hostile text, and a layer."""
    lab = demo_store.list_labs()[0]
    c = lab.boundary.centroid
    cats = ["strength", "problem", "idea", "question", "next_step"]
    for i, text in enumerate([*HOSTILE, LONG]):
        x, y = c.x + 0.0006 * (i - 3), c.y + 0.0004 * (i % 3 - 1)
        geom = [
            Point(x, y),
            LineString([(x, y), (x + 0.0004, y + 0.0003)]),
            Point(x, y).buffer(0.0002, quad_segs=4),
        ][i % 3]
        _add(demo_store, lab, geom, cats[i % 5], text, minutes=i)
    # Two buildings of the city's own data.
    frame = gpd.GeoDataFrame(
        {"name": ["Schule <b>", "Kita"], "levels": [3, 2]},
        geometry=[
            Polygon([(c.x, c.y), (c.x + 4e-4, c.y), (c.x + 4e-4, c.y + 3e-4), (c.x, c.y + 3e-4)]),
            Polygon([(c.x - 6e-4, c.y - 5e-4), (c.x - 3e-4, c.y - 5e-4), (c.x - 3e-4, c.y - 2e-4)]),
        ],
        crs=4326,
    )
    # An uploaded layer, stored as opendata.files.save_upload stores it (a feature set)
    layer_id = new_id()
    demo_store.features.write("upload", lab.id, layer_id, frame, {})
    demo_store.add_layer(
        Layer(
            id=layer_id,
            lab_id=lab.id,
            name="Gebäude der Stadt",
            kind="upload",
            attribution="Stadt Bayreuth, dl-de/by-2-0",
            style={"color": "#56B4E9"},
            path=IN_STORE,
            feature_count=2,
        )
    )
    return lab


def _png(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    return img.convert("RGB")


def _has_colour(img: Image.Image, hex_colour: str, tol: int = 18, min_pixels: int = 20) -> bool:
    arr = np.asarray(img).astype(int)
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(arr - rgb).sum(axis=2) <= tol).sum()) >= min_pixels


def _over_map(hex_colour: str, alpha: float, ground: str = "#f2efe9") -> str:
    """The colour ``hex_colour`` drawn at ``alpha`` over the static map's ground."""
    c = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    g = [int(ground[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(alpha * a + (1 - alpha) * b) for a, b in zip(c, g, strict=True)]
    return "#" + "".join(f"{x:02x}" for x in mixed)


def _not_blank(img: Image.Image) -> None:
    arr = np.asarray(img)
    assert arr.std() > 10, "image is (nearly) one colour"
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 50


# ---- sizes ---------------------------------------------------------------------------------------
def test_page_sizes():
    slide = export.page_size("slide")
    assert (slide.width, slide.height) == (1920, 1080)
    a4 = export.page_size("a4-landscape", 150)
    assert (a4.width, a4.height) == (1754, 1240)
    assert (
        export.page_size("a4-portrait", 300).width,
        export.page_size("a4-portrait", 300).height,
    ) == (2480, 3508)
    a3 = export.page_size("a3-landscape", 300)
    assert (a3.width, a3.height) == (4961, 3508)
    with pytest.raises(ValidationError) as err:
        export.page_size("letter")
    assert "letter" in err.value.message("de") and "Unbekannte" in err.value.message("de")
    with pytest.raises(ValidationError):
        export.page_size("a4-portrait", 200)


# ---- PNG: static renderer (always) -------------------------------------------------------------
@pytest.mark.parametrize(
    "name,dpi",
    [
        ("slide", 150),
        ("a4-portrait", 150),
        pytest.param("a3-landscape", 150, marks=pytest.mark.slow),
    ],
)
def test_static_png_size_and_content(demo_store, lab, name, dpi):
    content = export.gather(demo_store, lab.id)
    size = export.page_size(name, dpi)
    img = _png(export.render_png(content, size, renderer="static"))
    assert img.size == (size.width, size.height)
    _not_blank(img)
    colours = category_colours(content)
    for cat in content.categories():  # every category is drawn in its colour
        assert _has_colour(img, colours[cat]), cat
    assert _has_colour(img, "#56B4E9")  # the uploaded layer
    assert _has_colour(img, "#D55E00")  # the site boundary


def test_static_frame_says_what_it_shows(demo_store, lab, monkeypatch):
    """Title, city, legend, scale bar, north arrow, attribution and the no-tiles note are drawn
    (read back from the figure's texts, the exact strings on the image)."""
    import matplotlib.pyplot as plt

    from workbench.export import static

    texts: list[str] = []
    real_close = plt.close

    def grab(fig):  # type: ignore[no-untyped-def]
        texts.extend(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
        real_close(fig)

    monkeypatch.setattr(static.plt, "close", grab)
    content = export.gather(demo_store, lab.id, lang="de")
    static.render_png_static(content, export.page_size("a4-landscape"))
    joined = "\n".join(texts)
    assert content.title[:20] in joined
    assert content.city.name in joined
    assert "Legende" in joined and "Gebäude der Stadt" in joined and "Problem" in joined
    assert "N" in texts and any(t.endswith(" m") or t.endswith(" km") for t in texts)
    assert "Stadt Bayreuth" in joined and "Gebäude der Stadt" in joined
    # no OSM layer and no tile was drawn: neither OSM nor a basemap is credited
    assert OSM_ATTRIBUTION not in joined and "Hintergrundkarte:" not in joined
    assert "Ohne Browser gezeichnet" in joined


def test_static_png_literal_hostile_title(demo_store, lab):
    from dataclasses import replace

    content = export.gather(demo_store, lab.id)
    content.lab = replace(content.lab, title="$\\frac{1}{0}$ <script>alert(1)</script> שלום")
    img = _png(export.render_png(content, export.page_size("slide"), renderer="static"))
    assert img.size == (1920, 1080)


def test_auto_falls_back_to_static_without_browser(demo_store, lab, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CHROMIUM", "/nonexistent/chromium")
    content = export.gather(demo_store, lab.id)
    img = _png(export.render_png(content, export.page_size("slide")))
    assert img.size == (1920, 1080)
    with pytest.raises(WorkbenchError) as err:
        export.render_png(content, renderer="chromium")
    assert "no Chromium" in err.value.message("en")


# ---- PDF -----------------------------------------------------------------------------------------
def test_pdf_sheet_pages_and_text(demo_store, lab):
    content = export.gather(demo_store, lab.id, lang="uk")
    png = export.render_png(content, export.page_size("a4-landscape"), renderer="static")
    from workbench.export.pdf import pdf_bytes

    reader = PdfReader(io.BytesIO(pdf_bytes(content, png)))
    assert len(reader.pages) >= 2
    assert reader.pages[0].images, "page one holds the map image"
    text = "\n".join(p.extract_text() for p in reader.pages[1:])
    flat = " ".join(text.split())
    for s in HOSTILE[:3]:
        assert " ".join(s.split()) in flat, s
    assert "Сумська" in flat and "Проблема" in flat  # Cyrillic category label (uk)
    assert "שלום" in flat or "םולש" in flat  # RTL letters printed (order may be visual)
    assert flat.count("Lorem ipsum") >= MAX_TEXT_CHARS // 27 - 1  # long text is whole
    numbers = [n.number for n in content.annotations]
    assert numbers == list(range(1, len(HOSTILE) + 2))
    fonts = {str(f) for p in reader.pages for f in p["/Resources"].get("/Font", {}).values()}
    assert fonts  # an embedded font is used


def test_sheet_carries_comments_votes_and_the_maps_colours(demo_store, lab):
    from workbench import maps
    from workbench.export.pdf import pdf_bytes
    from workbench.model import Category, Comment, Vote

    notes = demo_store.list_annotations(lab.id)
    demo_store.add_comment(
        Comment(
            id=new_id(), annotation_id=notes[0].id, author="Gruppe Süd", text="Ночью здесь темно"
        )
    )
    for voter in ("A", "B"):
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=notes[0].id, voter=voter))
    demo_store.save_category(Category(code="heat", colour="#CC79A7", labels={"en": "Heat spot"}))
    _add(demo_store, lab, lab.boundary.centroid, "heat", "hot corner", minutes=30)
    content = export.gather(demo_store, lab.id)
    first = next(n for n in content.annotations if n.annotation.id == notes[0].id)
    assert first.votes == 2 and [c.text for c in first.comments] == ["Ночью здесь темно"]
    colours = category_colours(content)
    assert colours == {
        c: maps.category_colours(demo_store.list_categories())[c] for c in content.categories()
    }
    png = export.render_png(content, export.page_size("a4-landscape"), renderer="static")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(content, png))).pages)
    assert "Ночью здесь темно" in text and "Heat spot" in text


def _indicator_set(lab_id: str) -> IndicatorSet:
    """Two figures: one comparable with a note, one without value and with a blocking reason."""
    return IndicatorSet(
        lab_id=lab_id,
        crs="EPSG:32632",
        area_m2=250_000.0,
        data_version="v1",
        computed_at="2026-05-04T09:00:00+00:00",
        notes=(Note("indicators.note.small_site", {"area": 9000, "limit": 10000}),),
        indicators=(
            IndicatorResult(
                "gsi",
                0.314,
                "share",
                "2026-04-30",
                (Note("indicators.note.building_count", {"count": 118}),),
            ),
            IndicatorResult(
                "intersection_density",
                None,
                "per_km2",
                "2026-04-30",
                (Note("indicators.note.no_streets", blocking=True),),
            ),
        ),
    )


def test_pdf_lists_indicators_when_there(demo_store, lab):
    content = export.gather(demo_store, lab.id, lang="de")
    content.indicators = _indicator_set(lab.id)
    data = export.export_bytes(content, "pdf", renderer="static")
    reader = PdfReader(io.BytesIO(data))
    last = " ".join(reader.pages[-1].extract_text().split())
    assert "Überbauungsgrad (GRZ)" in last
    assert "31,4" in last and "%" in last  # the share in per cent, German decimal comma
    assert "118 Gebäude" in last
    assert "Straßen" in last  # the blocking reason of the figure without value
    assert "2026-04-30" in last and OSM_ATTRIBUTION in last


# ---- HTML ----------------------------------------------------------------------------------------
def test_html_escapes_and_is_self_contained(demo_store, lab):
    content = export.gather(demo_store, lab.id)
    html = export.export_bytes(content, "html").decode("utf-8")
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html
    # escaped as text (&lt;…&gt;), which folium's JSON writes as \u0026lt;…
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html
    assert html.count("</script>") == html.count("<script")  # nothing closes a script early
    assert "alert(2)</script>" not in html
    assert OSM_ATTRIBUTION in html
    from workbench.export.web import LEAFLET_JS, web_assets

    if LEAFLET_JS in web_assets():
        assert LEAFLET_JS not in html.split("/* ")[0]  # no external <script src> left
        assert '<script src="http' not in html and 'rel="stylesheet" href="http' not in html
    else:
        assert "needs an internet connection" in html


# ---- GeoPackage ------------------------------------------------------------------------------
def test_geopackage_read_back_equals_store(demo_store, lab, tmp_path):
    content = export.gather(demo_store, lab.id)
    path = export.write_geopackage(content, tmp_path / "lab.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert {
        "site",
        "annotations",
        "comments",
        "layers",
        "gebäude_der_stadt",
        "notes",
        "layer_styles",
    } <= set(layers)  # an uploaded layer's table is named by its name
    ann = pyogrio.read_dataframe(path, layer="annotations")
    stored = {a.id: a for a in demo_store.list_annotations(lab.id)}
    assert len(ann) == len(stored)
    for _, row in ann.iterrows():
        a = stored[row["id"]]
        assert row["text"] == a.text and row["category"] == a.category
        assert row["author"] == a.author
        assert row.geometry.equals(a.geometry)
        assert row["created_at"] == a.created_at.isoformat()
    site = pyogrio.read_dataframe(path, layer="site")
    assert site.geometry.iloc[0].equals(lab.boundary) and site.crs.to_epsg() == 4326
    buildings = pyogrio.read_dataframe(path, layer="gebäude_der_stadt")
    assert list(buildings["name"]) == ["Schule <b>", "Kita"]
    meta = pyogrio.read_dataframe(path, layer="layers")
    assert meta["name"].tolist() == ["Gebäude der Stadt"]


def test_round_trip_into_new_workspace(demo_store, lab, tmp_path):
    from workbench.store import open_store

    data = export.export_lab(demo_store, lab.id, "gpkg")
    (tmp_path / "lab.gpkg").write_bytes(data)
    other = open_store("imported", create=True)
    lab_id = export.import_geopackage(other, tmp_path / "lab.gpkg")
    assert lab_id == lab.id
    assert other.get_lab(lab_id) == demo_store.get_lab(lab.id)
    assert other.get_city(lab.city_id) == demo_store.get_city(lab.city_id)
    net_a, net_b = other.get_network(lab.network_id), demo_store.get_network(lab.network_id)
    assert (net_a.name, net_a.countries, net_a.description) == (
        net_b.name,
        net_b.countries,
        net_b.description,
    )
    assert other.list_annotations(lab_id) == demo_store.list_annotations(lab.id)
    [layer_a], [layer_b] = other.list_layers(lab_id), demo_store.list_layers(lab.id)
    assert (layer_a.name, layer_a.kind, layer_a.attribution, layer_a.style) == (
        layer_b.name,
        layer_b.kind,
        layer_b.attribution,
        layer_b.style,
    )
    from workbench.opendata.files import load_upload

    fa, fb = load_upload(other, layer_a), load_upload(demo_store, layer_b)
    assert fa.drop(columns="geometry").equals(fb.drop(columns="geometry"))
    assert all(a.equals(b) for a, b in zip(fa.geometry, fb.geometry, strict=True))
    # and the re-export of the imported lab is the same data
    again = export.gather(other, lab_id)
    first = export.gather(demo_store, lab.id)
    rows_again, rows_first = (
        list(csv.DictReader(io.StringIO(export.csv_bytes(c).decode("utf-8-sig"))))
        for c in (again, first)
    )
    assert len(rows_again) == len(rows_first)
    for a, b in zip(rows_again, rows_first, strict=True):
        wkt_a, wkt_b = a.pop("wkt"), b.pop("wkt")
        assert a == b  # the GeoPackage may give a polygon as a one-part multipolygon back
        assert shapely.from_wkt(wkt_a).equals(shapely.from_wkt(wkt_b))
    other.close()


def test_import_refuses_other_files(store, tmp_path):
    bad = tmp_path / "x.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(ValidationError) as err:
        export.import_geopackage(store, bad)
    assert err.value.key == "export.import_unreadable"
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs=4326).to_file(other)
    with pytest.raises(ValidationError):
        export.import_geopackage(store, other)
    assert store.list_labs() == []


# ---- GeoJSON (RFC 7946) ------------------------------------------------------------------------
def _rings(geometry: dict):  # type: ignore[no-untyped-def]
    if geometry["type"] == "Polygon":
        yield geometry["coordinates"]
    elif geometry["type"] == "MultiPolygon":
        yield from geometry["coordinates"]


def _signed_area(ring) -> float:  # type: ignore[no-untyped-def]
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False)) / 2


def test_geojson_follows_rfc7946(demo_store, lab):
    # A clockwise polygon with a hole (wrong winding on both) to be put right.
    c = lab.boundary.centroid
    shell = [(c.x, c.y), (c.x, c.y + 1e-3), (c.x + 1e-3, c.y + 1e-3), (c.x + 1e-3, c.y)]
    hole = [
        (c.x + 3e-4, c.y + 3e-4),
        (c.x + 6e-4, c.y + 3e-4),
        (c.x + 6e-4, c.y + 6e-4),
        (c.x + 3e-4, c.y + 6e-4),
    ]
    _add(demo_store, lab, Polygon(shell, [hole]), "idea", "donut", minutes=60)
    doc = json.loads(export.export_lab(demo_store, lab.id, "geojson"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    kinds = {f["properties"]["kind"] for f in doc["features"]}
    assert kinds == {"site", "annotation", "layer"}
    polygons = 0
    for f in doc["features"]:
        assert f["type"] == "Feature" and "crs" not in f
        shape = shapely.geometry.shape(f["geometry"])
        lon0, lat0, lon1, lat1 = shape.bounds
        assert -180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90
        for rings in _rings(f["geometry"]):
            polygons += 1
            assert all(r[0] == r[-1] and len(r) >= 4 for r in rings)
            assert _signed_area(rings[0]) > 0  # exterior counter-clockwise
            assert all(_signed_area(r) < 0 for r in rings[1:])  # holes clockwise
    assert polygons >= 4
    texts = [f["properties"].get("text") for f in doc["features"]]
    assert HOSTILE[0] in texts and HOSTILE[1] in texts


# ---- CSV -----------------------------------------------------------------------------------------
def test_csv_with_wkt(demo_store, lab):
    data = export.export_lab(demo_store, lab.id, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    stored = {a.id: a for a in demo_store.list_annotations(lab.id)}
    ann = [r for r in rows if r["kind"] == "annotation"]
    assert len(ann) == len(stored)
    for r in ann:
        assert r["text"] == stored[r["id"]].text
        assert shapely.from_wkt(r["wkt"]).equals(stored[r["id"]].geometry)
    assert sum(r["kind"] == "layer" for r in rows) == 2
    site = [r for r in rows if r["kind"] == "site"][0]
    assert shapely.from_wkt(site["wkt"]).equals(lab.boundary)


def test_csv_cells_never_run_as_spreadsheet_formulas(demo_store, lab):
    formula = '=HYPERLINK("http://example.invalid","click")'
    note = _add(demo_store, lab, lab.boundary.centroid, "idea", formula, author="@team")
    _add(demo_store, lab, lab.boundary.centroid, "idea", "-1 car lane, +2 trees", minutes=1)
    rows = list(
        csv.DictReader(
            io.StringIO(export.export_lab(demo_store, lab.id, "csv").decode("utf-8-sig"))
        )
    )
    by_id = {r["id"]: r for r in rows}
    assert by_id[note.id]["text"] == "'" + formula and by_id[note.id]["author"] == "'@team"
    assert "'-1 car lane, +2 trees" in {r["text"] for r in rows}
    starts = {r[c][:1] for r in rows for c in ("text", "author", "layer") if r[c]}
    assert not starts & {"=", "+", "-", "@"}


def test_indicators_csv(demo_store, lab):
    content = export.gather(demo_store, lab.id)
    content.indicators = _indicator_set(lab.id)
    text = export.indicators_csv_bytes(content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text.split("\n# ")[0])))
    assert [r["code"] for r in rows] == ["gsi", "intersection_density"]
    assert rows[0]["Site"] == lab.title and rows[0]["Indicator"] == "Building coverage (GSI)"
    assert float(rows[0]["Value"]) == 0.314 and rows[0]["Comparable"] == "yes"
    assert rows[1]["Value"] == "" and rows[1]["Reason"] == "No streets or paths mapped in the site."
    assert text.rstrip().endswith(OSM_ATTRIBUTION)


def test_export_lab_computes_indicators_of_a_lab_without_data(demo_store, lab):
    """No OSM data cached: the sheet and the CSV say so instead of showing figures."""
    text = export.export_lab(demo_store, lab.id, "indicators-csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text.split("\n# ")[0])))
    assert len(rows) == len(INDICATORS) and all(r["Value"] == "" for r in rows)
    assert rows[0]["Reason"] and all(r["Comparable"] == "no" for r in rows)
    assert "No OpenStreetMap data for this site" in rows[0]["Notes"]


# ---- empty lab -----------------------------------------------------------------------------------
def test_empty_lab_gives_valid_files_with_a_note(demo_store, tmp_path):
    lab = demo_store.list_labs()[1]
    content = export.gather(demo_store, lab.id)
    note = "This living lab has no annotations yet."
    assert note in content.notes
    img = _png(export.export_bytes(content, "png", export.page_size("slide"), "static"))
    assert img.size == (1920, 1080)
    reader = PdfReader(io.BytesIO(export.export_bytes(content, "pdf", renderer="static")))
    assert note in reader.pages[1].extract_text()
    path = tmp_path / "empty.gpkg"
    path.write_bytes(export.export_bytes(content, "gpkg"))
    assert len(pyogrio.read_dataframe(path, layer="annotations")) == 0
    assert len(pyogrio.read_dataframe(path, layer="site")) == 1
    assert pyogrio.read_dataframe(path, layer="notes")["note"].tolist() == [note]
    doc = json.loads(export.export_bytes(content, "geojson"))
    assert [f["properties"]["kind"] for f in doc["features"]] == ["site"]
    assert doc["notes"] == [note]
    assert note in export.export_bytes(content, "csv").decode("utf-8-sig")
    assert note in export.export_bytes(content, "html").decode("utf-8")
    assert "No OpenStreetMap data" in export.export_bytes(content, "indicators-csv").decode(
        "utf-8-sig"
    )


def test_missing_layer_file_is_noted(demo_store, lab):
    demo_store.add_layer(
        Layer(id=new_id(), lab_id=lab.id, name="Verloren", kind="upload", path="layers/none.gpkg")
    )
    content = export.gather(demo_store, lab.id)
    assert any("Verloren" in n for n in content.notes)
    assert [layer.name for layer in content.layers] == ["Gebäude der Stadt"]


# ---- snapshots -------------------------------------------------------------------------------
def test_snapshot_reopen_diff_and_export(demo_store, lab, tmp_path):
    before = demo_store.list_annotations(lab.id)
    snap = export.take_snapshot(
        demo_store, lab.id, "Nach Runde 1", created_by="Moderation", bounds=(11.5, 49.9, 11.6, 50.0)
    )
    assert [s.id for s in demo_store.list_snapshots(lab.id)] == [snap.id]
    assert export.diff_snapshot(demo_store, snap).empty
    # change the lab: one added, one edited, one removed (soft delete, as annotate does it)
    c = lab.boundary.centroid
    added = _add(demo_store, lab, Point(c.x, c.y), "idea", "new after the snapshot", minutes=90)
    from sqlalchemy import update

    from workbench.store.schema import annotations as table

    with demo_store.write() as conn:
        conn.execute(update(table).where(table.c.id == before[0].id).values(text="edited"))
        conn.execute(
            update(table)
            .where(table.c.id == before[1].id)
            .values(deleted_at=datetime.now(UTC).isoformat())
        )
    diff = export.diff_snapshot(demo_store, snap)
    assert diff.added == [added.id]
    assert diff.removed == [before[1].id]
    assert diff.changed == {before[0].id: ["text"]}
    # reopened: the annotations as they were, numbered as they were, in every format
    content = export.snapshot_content(demo_store, snap)
    assert [n.annotation.text for n in content.annotations] == [a.text for a in before]
    assert content.bounds == (11.5, 49.9, 11.6, 50.0)
    assert "Nach Runde 1" in content.subtitle
    path = tmp_path / "snap.gpkg"
    path.write_bytes(export.export_bytes(content, "gpkg"))
    assert pyogrio.read_dataframe(path, layer="annotations")["text"].tolist() == [
        a.text for a in before
    ]
    assert len(pyogrio.read_dataframe(path, layer="gebäude_der_stadt")) == 2


# ---- CLI -------------------------------------------------------------------------------------
def test_cli_export_and_import(demo_store, lab, tmp_path, capsys):
    from workbench.cli import main

    out = tmp_path / "lab.geojson"
    assert main(["export", "--lab", lab.id, "--format", "geojson", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["type"] == "FeatureCollection"
    png = tmp_path / "lab.png"
    assert (
        main(
            [
                "export",
                "--lab",
                lab.id,
                "--format",
                "png",
                "--size",
                "a4-portrait",
                "--renderer",
                "static",
                "-o",
                str(png),
            ]
        )
        == 0
    )
    assert Image.open(png).size == (1240, 1754)
    gpkg = tmp_path / "lab.gpkg"
    assert main(["export", "--lab", lab.id, "--format", "gpkg", "-o", str(gpkg)]) == 0
    assert main(["import", str(gpkg), "--workspace", "copy"]) == 0
    assert lab.id in capsys.readouterr().out
    assert (
        main(["export", "--lab", "no-such-lab", "--format", "csv", "-o", str(tmp_path / "x.csv")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--lab", lab.id, "--format", "docx", "-o", str(tmp_path / "x")])


# ---- OSM themes from the opendata cache ------------------------------------------------------
def _cache_osm(store, lab) -> None:  # type: ignore[no-untyped-def]
    """Two cached themes around the lab's centre: three 60 m buildings and one street."""
    from workbench.opendata.cache import save_theme

    c = lab.boundary.centroid
    d = 6e-4  # about 45-65 m
    buildings = gpd.GeoDataFrame(
        {
            "osm_id": ["way/1", "way/2", "way/3"],
            "osm_key": ["building"] * 3,
            "osm_value": ["yes", "house", "school"],
            "name": ["", "Haus <b>", ""],
            "levels": [2.0, 3.0, float("nan")],
        },
        geometry=[
            shapely.box(c.x + i * 2 * d, c.y - 3 * d, c.x + (i * 2 + 1) * d, c.y - 2 * d)
            for i in range(3)
        ],
        crs=4326,
    )
    streets = gpd.GeoDataFrame(
        {
            "osm_id": ["way/9"],
            "osm_key": ["highway"],
            "osm_value": ["residential"],
            "name": ["Laufamholzstraße"],
            "highway": ["residential"],
            "u": [1],
            "v": [2],
        },
        geometry=[LineString([(c.x - 5 * d, c.y + 3 * d), (c.x + 5 * d, c.y + 3 * d)])],
        crs=4326,
    )
    meta = {
        "fetched_at": "2026-04-30T08:00:00+00:00",
        "source": "test",
        "data_date": "2021-03-04T05:06:07+00:00",
    }
    save_theme(store, lab.id, "buildings", buildings, meta)
    save_theme(store, lab.id, "streets", streets, meta)


def test_osm_themes_in_every_format(demo_store, lab, tmp_path):
    _cache_osm(demo_store, lab)
    content = export.gather(demo_store, lab.id)
    osm = [layer for layer in content.layers if layer.kind == "osm"]
    assert [(x.theme, x.name, x.colour, len(x.frame)) for x in osm] == [
        ("buildings", "Buildings", "#7f7f7f", 3),
        ("streets", "Streets (walkable network)", "#404040", 1),
    ]
    attributions = content.attributions()
    assert f"{OSM_ATTRIBUTION} (ODbL)" in attributions
    # the data's own date, not the date they were fetched
    assert "OpenStreetMap data as of 2021-03-04" in attributions
    assert not any("2026-04-30" in a for a in attributions)
    # only the themes asked for
    only = export.gather(demo_store, lab.id, themes=["streets"])
    assert [x.theme for x in only.layers if x.kind == "osm"] == ["streets"]
    assert [x.theme for x in export.gather(demo_store, lab.id, themes=[]).layers] == [None]
    # static PNG: the buildings' fill as the web map draws it (#7f7f7f at 0.45 on the paper)
    img = _png(export.export_bytes(content, "png", export.page_size("slide"), "static"))
    assert _has_colour(img, "#bebdb9", tol=6, min_pixels=300)
    assert not _has_colour(
        _png(export.export_bytes(only, "png", export.page_size("slide"), "static")),
        "#bebdb9",
        tol=6,
        min_pixels=300,
    )
    # GeoPackage: one table per shown layer, the themes described with their fetch date
    path = tmp_path / "osm.gpkg"
    path.write_bytes(export.export_bytes(content, "gpkg"))
    table = pyogrio.read_dataframe(path, layer="layers")
    rows = table[table["kind"] == "osm"]
    assert rows["theme"].tolist() == ["buildings", "streets"]
    assert rows["fetched_at"].str.startswith("2026-04-30").all()
    assert (rows["attribution"] == OSM_ATTRIBUTION).all()
    first = pyogrio.read_dataframe(path, layer=rows["table"].iloc[0])
    assert sorted(first["osm_value"]) == ["house", "school", "yes"]
    # HTML: the theme layers with their popups (escaped names) and the attribution
    html = export.export_bytes(content, "html").decode("utf-8")
    assert "Haus \\u0026lt;b\\u0026gt;" in html and "Haus <b>" not in html
    assert "OpenStreetMap data as of 2021-03-04" in html
    assert "Laufamholzstra\u00dfe" in html
    # GeoJSON and CSV carry the features too
    doc = json.loads(export.export_bytes(content, "geojson"))
    assert sum(f["properties"]["layer"] == "Buildings" for f in doc["features"]) == 3


def test_osm_themes_return_to_the_cache_on_import(demo_store, lab, tmp_path):
    from workbench.opendata.cache import delete_theme, load_theme, theme_meta
    from workbench.store import open_store

    _cache_osm(demo_store, lab)
    path = tmp_path / "lab.gpkg"
    path.write_bytes(export.export_lab(demo_store, lab.id, "gpkg"))
    before = load_theme(demo_store, lab.id, "buildings")
    other = open_store("imported", create=True)
    assert load_theme(other, lab.id, "buildings") is None  # each workspace has its own cache
    export.import_geopackage(other, path)
    again = load_theme(other, lab.id, "buildings")
    assert again is not None and len(again) == len(before) == 3
    assert theme_meta(other, lab.id, "buildings")["fetched_at"].startswith("2026-04-30")
    assert theme_meta(other, lab.id, "buildings")["data_date"].startswith("2021-03-04")
    delete_theme(other, lab.id, "buildings")
    assert len(load_theme(demo_store, lab.id, "buildings")) == 3  # the first one's stays
    assert [x.kind for x in other.list_layers(lab.id)] == ["upload"]  # no OSM layer records
    other.close()


@pytest.mark.realdata
def test_real_extract_in_png_geopackage_and_indicators(demo_store, tmp_path):
    """Nürnberg-Laufamholz imported from the real extract: the export shows and holds its OSM
    themes, and its indicator sheet and CSV carry the engine's figures."""
    from tests.conftest import shared_geodata
    from workbench.indicators import lab_indicators
    from workbench.opendata.osm import import_extract

    lab = demo_store.get_lab(NUERNBERG_LAB)
    report = import_extract(demo_store, shared_geodata("germany_nuernberg_laufamholz.osm"), lab)
    assert report.counts["buildings"] > 50
    content = export.gather(demo_store, lab.id, lang="de")
    osm = {x.theme: x for x in content.layers if x.kind == "osm"}
    assert {"buildings", "streets", "transit"} <= set(osm)
    assert len(osm["buildings"].frame) == report.counts["buildings"]
    assert all(len(x.frame) for x in osm.values())  # themes without features are left out
    img = _png(export.export_bytes(content, "png", export.page_size("a4-landscape", 150), "static"))
    # drawn as on the lab's map (muted context): each in its drawn colour and opacity
    streets, stops = osm["streets"].style, osm["transit"].style
    assert _has_colour(
        img, _over_map(streets["color"], streets["opacity"]), tol=24, min_pixels=2000
    )  # streets
    assert _has_colour(
        img, _over_map(stops["fillColor"], stops["fillOpacity"]), tol=24, min_pixels=100
    )  # public transport stops
    path = tmp_path / "nuernberg.gpkg"
    path.write_bytes(export.export_bytes(content, "gpkg"))
    table = pyogrio.read_dataframe(path, layer="layers")
    counts = dict(zip(table["theme"], table["feature_count"], strict=True))
    assert counts["buildings"] == report.counts["buildings"]
    for name in table["table"]:
        assert (
            len(pyogrio.read_dataframe(path, layer=name))
            == counts[table.set_index("table").loc[name, "theme"]]
        )
    # indicators: the same figures as the engine's
    result = lab_indicators(demo_store, lab)
    text = export.export_lab(demo_store, lab.id, "indicators-csv").decode("utf-8-sig")
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(text.split("\n# ")[0]))}
    gsi = result.get("gsi")
    assert gsi.value is not None and 0.05 < gsi.value < 0.6
    assert float(rows["gsi"]["Value"]) == pytest.approx(gsi.value)
    reader = PdfReader(
        io.BytesIO(export.export_lab(demo_store, lab.id, "pdf", lang="de", renderer="static"))
    )
    sheet = " ".join(" ".join(p.extract_text().split()) for p in reader.pages[-2:])
    assert f"Überbauungsgrad (GRZ) {gsi.display_value('de')} %" in sheet


def test_votes_of_earlier_rounds_stay_with_the_current_rounds_labelled(demo_store, lab, tmp_path):
    """Issue 12: after a new voting round a note's earlier dots are not shown as 0: the PDF,
    CSV, GeoPackage and HTML carry this round's dots and the total, labelled."""
    from workbench.export.pdf import pdf_bytes
    from workbench.model import Vote

    first = sorted(demo_store.list_annotations(lab.id), key=lambda a: a.created_at)[0]
    for voter in ("A", "B"):
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=first.id, voter=voter))
    assert demo_store.start_vote_round(lab.id) == 2
    demo_store.cast_vote(Vote(id=new_id(), annotation_id=first.id, voter="A"))
    assert demo_store.vote_totals(lab.id) == {first.id: 1}
    assert demo_store.vote_totals(lab.id, all_rounds=True) == {first.id: 3}
    assert demo_store.vote_totals(lab.id, round=1) == {first.id: 2}

    content = export.gather(demo_store, lab.id)
    n = next(x for x in content.annotations if x.annotation.id == first.id)
    assert (n.votes, n.all_votes, content.vote_round) == (1, 3, 2)
    rows = list(csv.DictReader(io.StringIO(export.csv_bytes(content).decode("utf-8-sig"))))
    row = next(r for r in rows if r["id"] == first.id)
    assert (row["votes"], row["vote_round"], row["votes_total"]) == ("1", "2", "3")
    path = export.write_geopackage(content, tmp_path / "lab.gpkg")
    frame = gpd.read_file(path, layer="annotations")
    got = frame.set_index("id").loc[first.id]
    assert (int(got["votes"]), int(got["vote_round"]), int(got["votes_total"])) == (1, 2, 3)
    png = export.render_png(content, export.page_size("a4-landscape"), renderer="static")
    text = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(io.BytesIO(pdf_bytes(content, png))).pages
    )
    assert "1 dot in voting round 2 · 3 dots in all rounds" in text
    html = export.export_lab(demo_store, lab.id, "html").decode("utf-8")
    label = "1 dot in voting round 2 · 3 dots in all rounds"
    assert label in html or json.dumps(label)[1:-1] in html  # the notes' JSON, either way
    de = export.gather(demo_store, lab.id, lang="de")
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf_bytes(de, png))).pages
    )
    assert "1 Punkt in Abstimmungsrunde 2 · 3 Punkte in allen Runden" in text
