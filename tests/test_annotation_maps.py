"""The annotation layer: one GeoJson layer, colours, legend, escaped popups, highlight."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import folium
from shapely.geometry import LineString, Point, Polygon

from workbench import maps, settings
from workbench.model import ANNOTATION_CATEGORY_COLOURS, Annotation, Category, utcnow

HOSTILE = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"


def notes() -> list[Annotation]:
    return [
        Annotation(
            id="p1",
            lab_id="l",
            geometry=Point(11.55, 48.18),
            category="idea",
            text=HOSTILE,
            author="<b>Group</b> A",
        ),
        Annotation(
            id="l1",
            lab_id="l",
            geometry=LineString([(11.55, 48.18), (11.56, 48.19)]),
            category="problem",
            text="Привіт 🚲 مرحبا",
            author="Group B",
        ),
        Annotation(
            id="a1",
            lab_id="l",
            category="heritage",
            text="old mill",
            author="Group A",
            geometry=Polygon([(11.55, 48.18), (11.56, 48.18), (11.56, 48.19)]),
        ),
        Annotation(
            id="gone",
            lab_id="l",
            geometry=Point(11.5, 48.1),
            category="idea",
            text="deleted",
            author="Group C",
            deleted_at=utcnow(),
        ),
    ]


OWN = [Category(code="heritage", colour="#000000", labels={"en": "Heritage", "de": "Denkmal"})]


def geojson_layers(fg: folium.FeatureGroup) -> list[folium.GeoJson]:
    return [c for c in fg._children.values() if isinstance(c, folium.GeoJson)]


def features(fg: folium.FeatureGroup) -> list[dict]:
    """The features the layer sends to the browser (through ``maps.GeoJsonData``)."""
    [layer] = geojson_layers(fg)
    [data] = [c for c in layer._children.values() if isinstance(c, maps.GeoJsonData)]
    return data.data["features"]


def shown(value: str | list[str]) -> str:
    """A popup or tooltip as the browser shows it (pieces joined)."""
    return value if isinstance(value, str) else "".join(value)


def render(fg: folium.FeatureGroup) -> str:
    m = maps.base_map()
    fg.add_to(m)
    return m.get_root().render()


def test_one_geojson_layer_for_all_annotations_without_deleted_ones():
    fg = maps.annotation_layer(notes(), categories=OWN, votes={"p1": 4}, comments={"p1": 1})
    layers = geojson_layers(fg)
    assert len(layers) == 1
    assert [f["id"] for f in features(fg)] == ["p1", "l1", "a1"]
    assert len(fg._children) == 1  # no marker per item


def test_colours_by_category_and_by_group():
    fg = maps.annotation_layer(notes(), colour_by="category", categories=OWN)
    colours = {f["id"]: f["properties"]["s"]["fillColor"] for f in features(fg)}
    assert colours == {
        "p1": ANNOTATION_CATEGORY_COLOURS["idea"],
        "l1": ANNOTATION_CATEGORY_COLOURS["problem"],
        "a1": "#000000",
    }
    fg = maps.annotation_layer(notes(), colour_by="group")
    by_group = {f["id"]: f["properties"]["s"]["fillColor"] for f in features(fg)}
    assert by_group["p1"] != by_group["l1"]
    # group colours follow the order given, so a filtered list keeps its colours
    fg = maps.annotation_layer(
        notes()[1:2], colour_by="group", groups=["<b>Group</b> A", "Group B"]
    )
    assert features(fg)[0]["properties"]["s"]["fillColor"] == by_group["l1"]


def test_palette_is_colour_blind_safe():
    okabe_ito = {
        "#0072B2",
        "#E69F00",
        "#009E73",
        "#D55E00",
        "#CC79A7",
        "#56B4E9",
        "#F0E442",
        "#000000",
    }
    assert set(maps.category_colours().values()) <= okabe_ito
    assert set(maps.group_colours([f"g{i}" for i in range(8)]).values()) == okabe_ito


def test_popup_escapes_user_text_and_shows_author_time_votes():
    fg = maps.annotation_layer(
        notes(), lang="de", categories=OWN, votes={"p1": 4}, comments={"p1": 1}
    )
    props = {f["id"]: f["properties"] for f in features(fg)}
    popup = shown(props["p1"]["p"])
    assert popup == maps.annotation_popup_html(
        notes()[0], ANNOTATION_CATEGORY_COLOURS["idea"], "Idee", "de", votes=4, comments=1
    )
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;" in popup
    assert "<img" not in popup and "<script" not in popup and "<b>Group" not in popup
    assert "&lt;b&gt;Group&lt;/b&gt; A" in popup
    assert "4 Punkte" in popup and "1 Kommentar<" in popup  # CLDR plural: one Kommentar
    assert "UTC" in popup and "Idee" in popup
    assert 'dir="auto"' in popup  # right-to-left text flows correctly
    assert "Denkmal" in shown(props["a1"]["p"])
    assert shown(props["p1"]["t"]).startswith("Idee: &lt;img src=x")
    # nothing a user typed reaches the page unescaped, in the map's HTML as a whole
    html = render(fg)
    assert "onerror=alert(1)>" not in html
    assert "<script>alert" not in html and "</script><script>alert" not in html
    assert "<b>Group" not in html


def test_properties_hold_no_raw_user_text():
    fg = maps.annotation_layer(notes(), categories=OWN)
    for f in features(fg):
        assert set(f["properties"]) == {"p", "t", "s"}  # popup, tooltip, style
        assert "<img" not in json.dumps(f["properties"])


def test_highlight_changes_only_the_chosen_feature_style():
    fg = maps.annotation_layer(notes(), highlight_id="l1")
    styles = [f["properties"]["s"] for f in features(fg)]
    assert [s["color"] == "#000000" and s["weight"] == 5 for s in styles] == [False, True, False]
    assert styles[0]["radius"] == 8 and "radius" not in styles[2]
    assert maps._annotation_style("Point", "#E69F00", True)["radius"] == 13
    big = maps._annotation_style("Point", "#E69F00", scale=2)
    assert big["radius"] == 16 and big["color"] == "#000000"


def test_many_annotations_are_simplified_and_rounded():
    zigzag = LineString(
        [(11.55 + i * 1e-7, 48.18 + (i % 2) * 1e-7) for i in range(50)] + [(11.56, 48.19)]
    )
    many = [
        Annotation(id=f"z{i}", lab_id="l", geometry=zigzag, category="idea", text="z", author="A")
        for i in range(maps.SIMPLIFY_ABOVE + 1)
    ]
    fg = maps.annotation_layer(many)
    coords = features(fg)[0]["geometry"]["coordinates"]
    assert len(coords) < 10
    few = maps.annotation_layer(many[:2])
    coords = features(few)[0]["geometry"]["coordinates"]
    assert all(
        len(repr(x).split(".")[1]) <= settings.MAP_COORD_DECIMALS for pt in coords for x in pt
    )


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


def _payload(html: str) -> dict:
    """The compact feature data in a rendered map, as the browser's JSON parser reads it."""
    match = re.search(r"\}\)\((\{\"g\":.*?)\);\n", html)
    assert match, "no GeoJsonData payload in the page"
    return json.loads(match.group(1))


def _rebuilt(payload: dict) -> list[dict]:
    """The features as the page's script rebuilds them (pieces of HTML joined)."""

    def value(x):  # type: ignore[no-untyped-def]
        return "".join(payload["v"][n] for n in x) if isinstance(x, list) else payload["v"][x]

    return [
        {key: value(payload["c"][j][k]) for j, key in enumerate(payload["k"])}
        for k in range(len(payload["g"]))
    ]


def test_page_rebuilds_exactly_the_escaped_popups_and_tooltips():
    live = [a for a in notes() if a.deleted_at is None]
    html = render(
        maps.annotation_layer(
            notes(), lang="uk", categories=OWN, votes={"p1": 4}, highlight_id="a1"
        )
    )
    payload = _payload(html)
    rebuilt = _rebuilt(payload)
    colours = [
        ANNOTATION_CATEGORY_COLOURS["idea"],
        ANNOTATION_CATEGORY_COLOURS["problem"],
        "#000000",
    ]
    for a, colour, feature in zip(live, colours, rebuilt, strict=True):
        label = maps.category_label(a.category, "uk", OWN)
        assert feature["p"] == maps.annotation_popup_html(
            a, colour, label, "uk", votes=4 if a.id == "p1" else 0
        )
        assert feature["t"] == maps.escape_text(f"{label}: {a.text[:80]}")
    assert "&lt;img src=x onerror=alert(1)&gt;" in rebuilt[0]["p"]
    assert "&lt;b&gt;Group&lt;/b&gt; A" in rebuilt[0]["p"]
    assert rebuilt[2]["s"]["color"] == "#000000" and rebuilt[0]["s"]["color"] == "#ffffff"
    # the payload carries no markup character literally, so it cannot close the script
    start = html.index('{"g":')
    assert not re.search(r"[<>&']", html[start : html.index(");\n", start)])
    # the popup styles are in the page once, as a style sheet, not inline per popup
    assert html.count(".wb-annotation{") == 1 and 'style="max-width' not in html


def test_annotation_map_bytes_per_annotation_stay_small():
    """Measured: about 420 bytes per annotation of the benchmark's kind (texts of 5 to 40 words,
    each at its own time), 1,240 before the compact layer; GeoDataFrame.explore() needs
    about 590."""
    from benchmarks.bench_annotations import make_annotations

    many = [
        dataclasses.replace(a, created_at=a.created_at - timedelta(minutes=i))
        for i, a in enumerate(make_annotations(200))
    ]
    base = len(maps.base_map().get_root().render().encode())
    html = render(maps.annotation_layer(many, votes={a.id: 1 for a in many[::3]}))
    per_annotation = (len(html.encode()) - base) / len(many)
    assert per_annotation < 500, per_annotation
    assert len(_rebuilt(_payload(html))) == len(many)  # all of them are there


def test_a_category_the_workspace_no_longer_has_shows_its_code():
    """Not a message key (strict i18n in the tests found this)."""
    assert maps.category_label("heritage", "de") == "heritage"
    assert maps.category_label("heritage", "de", OWN) == "Denkmal"
    assert maps.category_label("idea", "de") not in ("idea", "annotate.category.idea")
