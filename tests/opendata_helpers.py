"""Small synthetic OSM data and labs for the opendata tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from shapely.geometry import box

from workbench.model import LivingLab

LON0, LAT0, STEP = 11.0, 49.0, 0.001


def make_lab(
    lab_id: str = "lab-synthetic",
    bounds=(LON0 - 0.0005, LAT0 - 0.0005, LON0 + 0.0025, LAT0 + 0.0025),
) -> LivingLab:
    return LivingLab(
        id=lab_id, city_id="c", network_id="n", title="Synthetic", boundary=box(*bounds)
    )


def _tags(tags: dict[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())


def grid_osm(path: Path, lon0: float = LON0, lat0: float = LAT0) -> Path:
    """A 3×3 street grid (nodes 1–9), 3 row ways and 3 column ways sharing every node, plus:
    a motorway (not walkable), a footway with foot=no, a building, a school node with a Cyrillic
    name and HTML characters, a park as a complete multipolygon relation, a way with a missing node
    and a multipolygon relation with a missing member."""
    global LON0, LAT0
    saved, (LON0, LAT0) = (LON0, LAT0), (lon0, lat0)
    try:
        return _grid(path)
    finally:
        LON0, LAT0 = saved


def _grid(path: Path) -> Path:
    nodes: list[tuple[int, float, float, dict[str, str]]] = []
    for r in range(3):
        for c in range(3):
            nid = r * 3 + c + 1
            nodes.append((nid, LON0 + c * STEP, LAT0 + r * STEP, {}))
    # building square (nodes 20-23), park square (30-33), motorway (40-41), footway (42-43)
    sq = [(0.0002, 0.0002), (0.0006, 0.0002), (0.0006, 0.0006), (0.0002, 0.0006)]
    nodes += [(20 + i, LON0 + x, LAT0 + y, {}) for i, (x, y) in enumerate(sq)]
    nodes += [(30 + i, LON0 + 0.0012 + x, LAT0 + 0.0012 + y, {}) for i, (x, y) in enumerate(sq)]
    nodes += [
        (40, LON0, LAT0 - 0.0003, {}),
        (41, LON0 + 0.002, LAT0 - 0.0003, {}),
        (42, LON0 + 0.0001, LAT0 + 0.0015, {}),
        (43, LON0 + 0.0008, LAT0 + 0.0015, {}),
    ]
    nodes.append(
        (50, LON0 + 0.0015, LAT0 + 0.0005, {"amenity": "school", "name": "Школа №1 <b>&amp;"})
    )
    ways = [
        (101, [1, 2, 3], {"highway": "residential", "name": "Row A"}),
        (102, [4, 5, 6], {"highway": "residential", "name": "Вулиця Б"}),
        (103, [7, 8, 9], {"highway": "footway"}),
        (104, [1, 4, 7], {"highway": "service"}),
        (105, [2, 5, 8], {"highway": "pedestrian"}),
        (106, [3, 6, 9], {"highway": "steps"}),
        (107, [40, 41], {"highway": "motorway"}),
        (108, [42, 43], {"highway": "footway", "foot": "no"}),
        (109, [20, 21, 22, 23, 20], {"building": "yes", "building:levels": "3"}),
        (110, [30, 31, 32, 33, 30], {}),
        (111, [1, 999, 5], {"highway": "residential", "name": "Cut off"}),
    ]
    relations = [
        (201, [("way", 110, "outer")], {"type": "multipolygon", "leisure": "park", "name": "Park"}),
        (202, [("way", 888, "outer")], {"type": "multipolygon", "landuse": "grass"}),
    ]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, lon, lat, tags in nodes:
        lines.append(
            f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">'
            f"{_tags(tags)}</node>".replace("&amp;amp;", "&amp;")
        )
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}" version="1">{nds}{_tags(tags)}</way>')
    for rid, members, tags in relations:
        mem = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
        lines.append(f'<relation id="{rid}" version="1">{mem}{_tags(tags)}</relation>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
