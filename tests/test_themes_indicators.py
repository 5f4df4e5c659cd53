"""Opendata themes and the indicator engine agree: what the indicators read (banks and post
offices, squares and pedestrian areas) is put into the themes they read it from, end to end from
an OSM file through the real cache."""

from __future__ import annotations

import pytest
import shapely

from tests.opendata_helpers import _tags, make_lab
from workbench.geometry import area_m2
from workbench.indicators import _CATEGORY_THEME, CATEGORIES, OPEN_SPACE_TAGS, lab_indicators
from workbench.opendata import cache
from workbench.opendata.osm import import_extract
from workbench.opendata.themes import THEMES

LON, LAT = 11.0, 49.0


def _square(nid: int, x: float, y: float, d: float = 0.0005) -> list[tuple[int, float, float]]:
    return [(nid, x, y), (nid + 1, x + d, y), (nid + 2, x + d, y + d), (nid + 3, x, y + d)]


def _osm(path):  # type: ignore[no-untyped-def]
    nodes = (
        _square(10, LON, LAT)
        + _square(20, LON + 0.001, LAT)
        + _square(30, LON + 0.001, LAT + 0.0012)
        + [
            (40, LON + 0.0005, LAT + 0.001),
            (41, LON + 0.001, LAT + 0.001),
            (42, LON + 0.0015, LAT + 0.001),
        ]
    )
    tagged = {
        50: {"amenity": "bank", "name": "Sparkasse"},
        51: {"amenity": "post_office", "name": "Post"},
    }
    ways = [
        (101, [10, 11, 12, 13, 10], {"place": "square", "name": "Marktplatz"}),
        (102, [20, 21, 22, 23, 20], {"highway": "pedestrian", "area": "yes"}),
        (103, [30, 31, 32, 33, 30], {"highway": "pedestrian"}),  # a loop, not an area
        (104, [40, 41, 42], {"highway": "footway"}),
    ]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, lon, lat in nodes:
        lines.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for (nid, tags), lon in zip(tagged.items(), (LON + 0.0005, LON + 0.0006), strict=True):
        lines.append(
            f'<node id="{nid}" version="1" lat="{LAT + 0.0011:.7f}" lon="{lon:.7f}">'
            f"{_tags(tags)}</node>"
        )
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}" version="1">{nds}{_tags(tags)}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_catalogue_holds_what_the_indicators_read():
    for value in ("bank", "post_office"):
        assert THEMES[_CATEGORY_THEME["bank_post"]].match({"amenity": value}) == ("amenity", value)
    assert CATEGORIES["bank_post"] == {("amenity", "bank"), ("amenity", "post_office")}
    green = THEMES["green"]
    assert green.match({"place": "square"}) == ("place", "square")
    assert green.match({"highway": "pedestrian", "area": "yes"}) == ("highway", "pedestrian")
    assert green.match({"highway": "pedestrian", "type": "multipolygon"}) is not None
    assert green.match({"highway": "pedestrian"}) is None  # a closed way without area=yes
    assert green.match({"highway": "footway", "area": "yes"}) is None
    assert THEMES["transit"].match({"highway": "bus_stop"}) == ("highway", "bus_stop")
    # every open-space tag is in a theme the open-space indicator reads
    for key, value in OPEN_SPACE_TAGS:
        tags = {key: value, "area": "yes"}
        assert any(THEMES[c].match(tags) for c in ("green", "landuse")), (key, value)


def test_squares_pedestrian_areas_banks_and_post_reach_the_indicators(store, tmp_path):
    lab = make_lab()
    import_extract(store, _osm(tmp_path / "town.osm"), lab, buffer_m=0)
    green = cache.load_theme(store, lab.id, "green")
    assert sorted(green["osm_id"]) == ["way/101", "way/102"]  # not the pedestrian loop 103
    assert set(green.geom_type) == {"Polygon"}
    community = cache.load_theme(store, lab.id, "community")
    assert sorted(community["osm_value"]) == ["bank", "post_office"]
    assert "way/103" in set(cache.load_theme(store, lab.id, "streets")["osm_id"])  # a walkable loop

    result = lab_indicators(store, lab)
    site = area_m2(lab.boundary)
    open_space = result.get("open_space_share")
    expected = sum(area_m2(g) for g in green.geometry) / site
    assert open_space.value == pytest.approx(expected, rel=1e-3) and open_space.value > 0.05
    bank_post = result.get("amenity_bank_post")
    assert bank_post.value == pytest.approx(2 / (site / 1e6), rel=1e-3)
    centre = result.get("fifteen_min_centroid")
    absent = next((n for n in centre.notes if n.key == "indicators.note.categories_absent"), None)
    assert absent is None or "bank_post" not in str(absent.params.get("categories", ""))
    square = green.set_index("osm_id").loc["way/101", "geometry"]
    assert square.equals(shapely.box(LON, LAT, LON + 0.0005, LAT + 0.0005))
