"""Real OSM extracts from ../shared/geodata: each imports into the cache with sound themes."""

from __future__ import annotations

import pytest

from tests.conftest import shared_geodata
from tests.helpers import (
    BALTIMORE_LAB,
    BAYREUTH_LAB,
    KHARKIV_LAB,
    MUNICH_LAB,
    NUERNBERG_LAB,
    SEATTLE_LAB,
    SWELLENDAM_LAB,
)
from tests.opendata_helpers import make_lab
from workbench.opendata import cache
from workbench.opendata.osm import clip_area, extract_bounds, import_extract
from workbench.opendata.themes import THEMES

pytestmark = pytest.mark.realdata

#: extract → demo living lab it covers (None: a lab is made from the extract's own box)
EXTRACTS = {
    "germany_muenchen_milbertshofen.osm": MUNICH_LAB,
    "germany_nuernberg_laufamholz.osm": NUERNBERG_LAB,
    "germany_bayreuth_north.osm.gz": BAYREUTH_LAB,
    "usa_baltimore.osm.pbf": BALTIMORE_LAB,
    "usa_seattle_roosevelt.osm": SEATTLE_LAB,
    "ukraine_kharkiv_linkroad.osm": KHARKIV_LAB,
    "usa_oakland_west.osm.bz2": None,
}
#: themes every one of these extracts has data for around its site
EXPECTED = {
    "germany_muenchen_milbertshofen.osm": {
        "buildings",
        "green",
        "streets",
        "transit",
        "schools",
        "shops",
        "landuse",
    },
    "germany_nuernberg_laufamholz.osm": {"buildings", "streets", "transit"},
    "germany_bayreuth_north.osm.gz": {"buildings", "streets", "water", "landuse"},
    "usa_baltimore.osm.pbf": {"buildings", "streets", "schools", "shops", "community"},
    "usa_seattle_roosevelt.osm": {"buildings", "streets", "shops"},
    "ukraine_kharkiv_linkroad.osm": {"streets"},
    "usa_oakland_west.osm.bz2": {"streets"},
}
KINDS = {
    "point": {"Point"},
    "line": {"LineString", "MultiLineString"},
    "polygon": {"Polygon", "MultiPolygon"},
}


def _lab(name, demo_store):
    lab_id = EXTRACTS[name]
    if lab_id:
        return demo_store.get_lab(lab_id)
    bounds = extract_bounds(shared_geodata(name))  # the box in the file's header
    assert bounds is not None
    return make_lab("lab-oakland", bounds)


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_extract_imports_with_sound_themes(name, demo_store):
    path = shared_geodata(name)
    lab = _lab(name, demo_store)
    report = import_extract(demo_store, path, lab, buffer_m=300)
    assert report.source == f"file:{name}"
    assert set(report.counts) == set(THEMES)
    assert report.skipped_ways >= 0 and report.skipped_relations >= 0
    with_data = {code for code, n in report.counts.items() if n}
    assert EXPECTED[name] <= with_data, f"missing themes {EXPECTED[name] - with_data}"
    area = clip_area(lab.boundary, 300)
    near = area.buffer(1e-6)
    for code in with_data:
        gdf = cache.load_theme(demo_store, lab.id, code)
        assert len(gdf) == report.counts[code] > 0
        assert gdf.crs.to_epsg() == 4326
        allowed = set().union(*(KINDS[k] for k in THEMES[code].kinds))
        assert set(gdf.geom_type) <= allowed, (code, set(gdf.geom_type))
        assert gdf.is_valid.all() or code == "streets"
        if code == "streets":  # segments are kept whole, so that u/v stay real OSM nodes
            assert gdf.intersects(area).all()
        else:
            assert gdf.within(near).all()
        assert gdf["osm_id"].str.match(r"^(node|way|relation)/\d+$").all()
    streets = cache.load_theme(demo_store, lab.id, "streets")
    assert (streets["u"] != streets["v"]).any()
    assert not streets["highway"].isin(["motorway", "trunk", "motorway_link"]).any()


def test_cyrillic_names_survive_in_kharkiv(demo_store):
    lab = demo_store.get_lab(EXTRACTS["ukraine_kharkiv_linkroad.osm"])
    import_extract(
        demo_store, shared_geodata("ukraine_kharkiv_linkroad.osm"), lab, themes=["streets"]
    )
    names = set(cache.load_theme(demo_store, lab.id, "streets")["name"])
    cyrillic = {n for n in names if any("\u0400" <= ch <= "\u04ff" for ch in n)}
    assert cyrillic, names
    assert cache.cached_themes(demo_store, lab.id) == ["streets"]


def test_streets_form_a_connected_walkable_graph_in_muenchen(demo_store):
    import networkx as nx

    lab = demo_store.get_lab(EXTRACTS["germany_muenchen_milbertshofen.osm"])
    import_extract(
        demo_store,
        shared_geodata("germany_muenchen_milbertshofen.osm"),
        lab,
        themes=["streets"],
        buffer_m=0,
    )
    streets = cache.load_theme(demo_store, lab.id, "streets")
    g = nx.MultiGraph()
    g.add_edges_from(zip(streets["u"], streets["v"], strict=True))
    biggest = max(nx.connected_components(g), key=len)
    assert len(biggest) > 0.6 * g.number_of_nodes()
    # intersections exist: nodes where three or more segments meet
    assert sum(1 for _n, d in g.degree if d >= 3) > 20


def test_swellendam_geopackage_uploads_as_a_user_file(demo_store):
    from workbench.mapview import context_layers
    from workbench.opendata.files import load_upload, read_user_file, save_upload

    path = shared_geodata("southafrica_swellendam_training.gpkg")
    lab = demo_store.get_lab(SWELLENDAM_LAB)
    user = read_user_file(path.name, path.read_bytes(), layer="buildings")
    assert user.layers == ["roads", "restaurants", "schools", "buildings"]
    assert len(user.gdf) > 100 and user.gdf.crs.to_epsg() == 4326
    assert set(user.gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    saved = save_upload(demo_store, lab.id, user)
    assert saved.kind == "upload" and saved.feature_count == len(user.gdf)
    assert demo_store.list_layers(lab.id, kind="upload") == [saved]
    assert len(load_upload(demo_store, saved)) == len(user.gdf)
    groups = context_layers(demo_store, lab.id, [])
    assert len(groups) == 1
