"""The annotation layer: one GeoJson layer, colours, legend, escaped popups, highlight."""

from __future__ import annotations

import json
import re

import folium
from shapely.geometry import LineString, Point, Polygon

from workbench import maps
from workbench.model import ANNOTATION_CATEGORY_COLOURS, Annotation, Category, utcnow

HOSTILE = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"


def notes() -> list[Annotation]:
    return [
        Annotation(id="p1", lab_id="l", geometry=Point(11.55, 48.18), category="idea",
                   text=HOSTILE, author="<b>Group</b> A"),
        Annotation(id="l1", lab_id="l", geometry=LineString([(11.55, 48.18), (11.56, 48.19)]),
                   category="problem", text="Привіт 🚲 مرحبا", author="Group B"),
        Annotation(id="a1", lab_id="l", category="heritage", text="old mill", author="Group A",
                   geometry=Polygon([(11.55, 48.18), (11.56, 48.18), (11.56, 48.19)])),
        Annotation(id="gone", lab_id="l", geometry=Point(11.5, 48.1), category="idea",
                   text="deleted", author="Group C", deleted_at=utcnow()),
    ]


OWN = [Category(code="heritage", colour="#000000", labels={"en": "Heritage", "de": "Denkmal"})]


def geojson_layers(fg: folium.FeatureGroup) -> list[folium.GeoJson]:
    return [c for c in fg._children.values() if isinstance(c, folium.GeoJson)]


def render(fg: folium.FeatureGroup) -> str:
    m = maps.base_map()
    fg.add_to(m)
    return m.get_root().render()


def test_one_geojson_layer_for_all_annotations_without_deleted_ones():
    fg = maps.annotation_layer(notes(), categories=OWN, votes={"p1": 4}, comments={"p1": 1})
    layers = geojson_layers(fg)
    assert len(layers) == 1
    features = layers[0].data["features"]
    assert [f["id"] for f in features] == ["p1", "l1", "a1"]
    assert len(fg._children) == 1  # no marker per item


def test_colours_by_category_and_by_group():
    fg = maps.annotation_layer(notes(), colour_by="category", categories=OWN)
    colours = {f["id"]: f["properties"]["colour"] for f in geojson_layers(fg)[0].data["features"]}
    assert colours == {"p1": ANNOTATION_CATEGORY_COLOURS["idea"],
                       "l1": ANNOTATION_CATEGORY_COLOURS["problem"], "a1": "#000000"}
    fg = maps.annotation_layer(notes(), colour_by="group")
    by_group = {f["id"]: f["properties"]["colour"]
                for f in geojson_layers(fg)[0].data["features"]}
    assert by_group["p1"] != by_group["l1"]
    # group colours follow the order given, so a filtered list keeps its colours
    fg = maps.annotation_layer(notes()[1:2], colour_by="group",
                               groups=["<b>Group</b> A", "Group B"])
    assert geojson_layers(fg)[0].data["features"][0]["properties"]["colour"] == by_group["l1"]


def test_palette_is_colour_blind_safe():
    okabe_ito = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                 "#000000"}
    assert set(maps.category_colours().values()) <= okabe_ito
    assert set(maps.group_colours([f"g{i}" for i in range(8)]).values()) == okabe_ito


def test_popup_escapes_user_text_and_shows_author_time_votes():
    fg = maps.annotation_layer(notes(), lang="de", categories=OWN, votes={"p1": 4},
                               comments={"p1": 1})
    props = {f["id"]: f["properties"] for f in geojson_layers(fg)[0].data["features"]}
    popup = props["p1"]["popup"]
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;" in popup
    assert "<img" not in popup and "<script" not in popup and "<b>Group" not in popup
    assert "&lt;b&gt;Group&lt;/b&gt; A" in popup
    assert "4 Punkte" in popup and "1 Kommentare" in popup
    assert "UTC" in popup and "Idee" in popup
    assert 'dir="auto"' in popup  # right-to-left text flows correctly
    assert "Denkmal" in props["a1"]["popup"]
    # nothing a user typed reaches the page unescaped, in the map's HTML as a whole
    html = render(fg)
    assert "onerror=alert(1)>" not in html
    assert "<script>alert" not in html and "</script><script>alert" not in html
    assert "<b>Group" not in html


def test_properties_hold_no_raw_user_text():
    fg = maps.annotation_layer(notes(), categories=OWN)
    for f in geojson_layers(fg)[0].data["features"]:
        assert set(f["properties"]) == {"id", "colour", "kind", "hl", "tip", "popup"}
        assert "<img" not in json.dumps(f["properties"])


def test_highlight_changes_only_the_chosen_feature_style():
    fg = maps.annotation_layer(notes(), highlight_id="l1")
    features = geojson_layers(fg)[0].data["features"]
    assert [f["properties"]["hl"] for f in features] == [False, True, False]
    styles = [maps._annotation_style(f) for f in features]
    assert styles[1]["color"] == "#000000" and styles[1]["weight"] == 5
    assert styles[0]["radius"] == 8 and "radius" not in styles[2]


def test_many_annotations_are_simplified_and_rounded():
    zigzag = LineString([(11.55 + i * 1e-7, 48.18 + (i % 2) * 1e-7) for i in range(50)]
                        + [(11.56, 48.19)])
    many = [Annotation(id=f"z{i}", lab_id="l", geometry=zigzag, category="idea", text="z",
                       author="A") for i in range(maps.SIMPLIFY_ABOVE + 1)]
    fg = maps.annotation_layer(many)
    coords = geojson_layers(fg)[0].data["features"][0]["geometry"]["coordinates"]
    assert len(coords) < 10
    few = maps.annotation_layer(many[:2])
    coords = geojson_layers(few)[0].data["features"][0]["geometry"]["coordinates"]
    assert all(len(repr(x).split(".")[1]) <= maps.MAP_COORD_DECIMALS for pt in coords for x in pt)


def test_legend_matches_the_colouring():
    entries = maps.annotation_legend(notes(), "category", "uk", OWN)
    assert ("#000000", "Heritage") in entries  # no Ukrainian label: English fallback
    assert (ANNOTATION_CATEGORY_COLOURS["idea"], "Ідея") in entries
    groups = maps.annotation_legend(notes(), "group")
    assert [label for _, label in groups] == ["<b>Group</b> A", "Group B", "Group A"]
    html = maps.legend_html(groups, "Colours")
    assert "&lt;b&gt;Group&lt;/b&gt; A" in html and "<b>Group" not in html


def test_empty_layer_and_view_for():
    assert geojson_layers(maps.annotation_layer([])) == []
    centre, zoom = maps.view_for(Point(11.55, 48.18))
    assert centre == (48.18, 11.55) and zoom == 18
    _, wide = maps.view_for(Polygon([(11.0, 48.0), (12.0, 48.0), (12.0, 49.0)]))
    assert 6 <= wide <= 10


def test_clear_drawings_script_targets_the_draw_layer():
    fg = maps.annotation_layer(notes())
    maps.ClearDrawings().add_to(fg)
    assert re.search(r"window\.drawnItems\.clearLayers\(\)", render(fg))
