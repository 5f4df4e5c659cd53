"""The comparison on the shared real extracts: coverage from the extracts' own bounds, the data's
own dates (checked against values read here with osmium), and street orientation order against
osmnx's own edge bearings on the same network."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from osmium.osm import mutable
from shapely.geometry import box

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
from workbench import indicators as ind
from workbench.access import SYSTEM
from workbench.geometry import WGS84, local_crs, to_crs
from workbench.model import LivingLab, new_id
from workbench.opendata import cache, osm
from workbench.opendata.themes import is_walkable

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

EXTRACTS = {  # demo lab id → its extract
    MUNICH_LAB: "germany_muenchen_milbertshofen.osm",
    NUERNBERG_LAB: "germany_nuernberg_laufamholz.osm",
    SEATTLE_LAB: "usa_seattle_roosevelt.osm",
    BALTIMORE_LAB: "usa_baltimore.osm.pbf",
    KHARKIV_LAB: "ukraine_kharkiv_linkroad.osm",
    BAYREUTH_LAB: "germany_bayreuth_north.osm.gz",
}


def _site_across(bounds, side: str, inside_m: float, outside_m: float, depth_m: float = 400):
    """A rectangle (WGS84) across one edge of ``bounds``: ``inside_m`` metres inside the box
    and ``outside_m`` beyond it, ``depth_m`` along the edge, centred on that edge."""
    left, bottom, right, top = bounds
    cx, cy = (left + right) / 2, (bottom + top) / 2
    edge = {"west": (left, cy), "south": (cx, bottom)}[side]
    crs = local_crs(shapely.Point(edge))
    e = to_crs(shapely.Point(edge), crs)
    if side == "west":
        rect = box(e.x - outside_m, e.y - depth_m / 2, e.x + inside_m, e.y + depth_m / 2)
    else:
        rect = box(e.x - depth_m / 2, e.y - outside_m, e.x + depth_m / 2, e.y + inside_m)
    return shapely.segmentize(to_crs(rect, WGS84, src=crs), 0.0005)


def _share_inside(site, bounds) -> float:
    crs = local_crs(site)
    local = to_crs(site, crs)
    return to_crs(box(*bounds), crs).intersection(local).area / local.area


def _new_lab(store, like: LivingLab, boundary) -> LivingLab:
    lab = LivingLab(
        id=new_id(),
        city_id=like.city_id,
        network_id=like.network_id,
        title="Across the edge",
        boundary=boundary,
    )
    store.add_lab(lab, by=SYSTEM)
    return lab


@pytest.mark.parametrize(
    "name,side", [("usa_baltimore.osm.pbf", "west"), ("germany_bayreuth_north.osm.gz", "south")]
)
def test_site_partly_outside_the_header_box_is_not_comparable(demo_store, name, side):
    path = shared_geodata(name)
    bounds = osm.extract_bounds(path)
    assert bounds is not None
    like = demo_store.get_lab(next(k for k, v in EXTRACTS.items() if v == name))
    across = _new_lab(demo_store, like, _site_across(bounds, side, 300, 300))
    report = osm.import_extract(demo_store, path, across, buffer_m=200)
    assert report.coverage_source == "header_bounds"
    ind.clear_memory_cache()
    res = ind.lab_indicators(demo_store, across)
    expected = _share_inside(across.boundary, bounds) * 100
    assert 40 < expected < 60
    for code in ("gsi", "street_density", "intersection_density", "open_space_share"):
        fig = res.get(code)
        assert not fig.comparable, code
        cov = next(n for n in fig.notes if n.key == "indicators.note.data_coverage")
        assert cov.blocking and cov.params["share"] == pytest.approx(expected, abs=1.0)
    # wholly inside, 1.5 km from the edge: the figures within the site are comparable
    inside = _new_lab(demo_store, like, _site_across(bounds, side, 2000, -1500))
    osm.import_extract(demo_store, path, inside, buffer_m=200)
    ind.clear_memory_cache()
    res = ind.lab_indicators(demo_store, inside)
    for code in ("street_density", "intersection_density"):
        assert not any(n.key == "indicators.note.data_coverage" for n in res.get(code).notes)
        assert res.get(code).comparable, res.get(code).notes
    # a 1,200 m walk reaches beyond both the buffer and the box: the note says how far the data
    # reach (the 200 m buffer), and the figure is not comparable
    fifteen = res.get("fifteen_min_centroid")
    reach = next(n for n in fifteen.notes if n.key == "indicators.note.buffer")
    assert reach.params["buffer"] == pytest.approx(200, abs=10)
    assert not fifteen.comparable


def test_reach_is_measured_to_the_box_edge_not_the_buffer(demo_store):
    path = shared_geodata("usa_baltimore.osm.pbf")
    bounds = osm.extract_bounds(path)
    like = demo_store.get_lab(BALTIMORE_LAB)
    near = _new_lab(demo_store, like, _site_across(bounds, "west", 600, -250))  # 250 m inside
    osm.import_extract(demo_store, path, near, buffer_m=1500)
    ind.clear_memory_cache()
    transit = ind.lab_indicators(demo_store, near).get("transit_access")
    reach = next(n for n in transit.notes if n.key == "indicators.note.buffer")
    assert reach.params["buffer"] == pytest.approx(250, abs=15)  # not the 1,500 m asked for
    assert transit.reason.key == "comparison.note.reach_coverage"


def _independent_date(store, path: Path, lab_id: str) -> str:  # type: ignore[no-untyped-def]
    """The date read here: the header's replication timestamp, an Overpass file's osm_base,
    else the newest timestamp (osmium) among the objects the cache kept."""
    with osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING) as reader:
        replication = reader.header().get("osmosis_replication_timestamp")
    if replication:
        return replication.replace("Z", "+00:00")
    import bz2
    import gzip

    opener = gzip.open if path.suffix == ".gz" else bz2.open if path.suffix == ".bz2" else open
    if not path.name.endswith(".pbf"):
        with opener(path, "rb") as fh:
            found = re.search(rb'osm_base="([^"]+)"', fh.read(2000))
        if found:
            return found.group(1).decode().replace("Z", "+00:00")
    kept = set()
    for theme in cache.cached_themes(store, lab_id):
        frame = cache.load_theme(store, lab_id, theme)
        assert frame is not None, theme  # a cached theme loads
        kept |= set(frame["osm_id"])
    stamps = {}
    for obj in osmium.FileProcessor(str(path)):
        assert isinstance(obj, osmium.osm.OSMObject), obj  # no changesets or areas in an extract
        kind = "node" if obj.is_node() else "way" if obj.is_way() else "relation"
        stamps[f"{kind}/{obj.id}"] = obj.timestamp
    return max(stamps[i] for i in kept).isoformat()


@pytest.mark.parametrize("lab_id", list(EXTRACTS))
def test_data_date_is_the_data_own(demo_store, lab_id):
    path = shared_geodata(EXTRACTS[lab_id])
    lab = demo_store.get_lab(lab_id)
    report = osm.import_extract(demo_store, path, lab, buffer_m=500)
    expected = _independent_date(demo_store, path, lab_id)
    assert report.data_date == expected
    assert cache.theme_meta(demo_store, lab_id, "streets")["data_date"] == expected
    assert report.data_date[:4] < "2023"  # the extracts are from 2014–2022, not today
    ind.clear_memory_cache()
    dates = {i.data_date for i in ind.lab_indicators(demo_store, lab).indicators if i.data_date}
    assert dates == {expected[:10]}


# ---- street orientation order against osmnx ----------------------------------------------------
def _walkable_xml(src: Path, dst: Path) -> None:
    """Nodes and complete walkable ways of ``src`` as OSM XML (graph_from_xml cannot read PBF,
    breaks on clipped ways, and has no network filter)."""
    locs = {
        o.id: (o.location.lon, o.location.lat)
        for o in osmium.FileProcessor(str(src), osmium.osm.osm_entity_bits.NODE)
        if isinstance(o, osmium.osm.Node) and o.location.valid()
    }
    ways: list[tuple[int, list[int], dict[str, str]]] = []  # id, node ids, tags
    for o in osmium.FileProcessor(str(src), osmium.osm.osm_entity_bits.WAY):
        assert isinstance(o, osmium.osm.Way), o  # the file processor reads only ways
        tags = {t.k: t.v for t in o.tags}
        refs = [n.ref for n in o.nodes]
        if is_walkable(tags) and len(refs) >= 2 and all(r in locs for r in refs):
            ways.append((o.id, refs, tags))
    with osmium.SimpleWriter(str(dst)) as w:
        for n in sorted({r for _, refs, _ in ways for r in refs}):
            w.add_node(mutable.Node(id=n, location=locs[n]))
        for way_id, refs, tags in sorted(ways):
            w.add_way(mutable.Way(id=way_id, nodes=refs, tags=tags))


def _osmnx_phi(src: Path, site, tmp_path: Path) -> float:
    ox = pytest.importorskip("osmnx")
    dst = tmp_path / "walk.osm"
    _walkable_xml(src, dst)
    g = ox.graph_from_xml(dst, bidirectional=True, simplify=False, retain_all=True)
    g = ox.simplify_graph(g)
    g = ox.truncate.truncate_graph_polygon(g, site, truncate_by_edge=False)
    gu = ox.bearing.add_edge_bearings(ox.convert.to_undirected(g))
    h = ox.bearing.orientation_entropy(gu, num_bins=36, weight="length")
    return 1 - ((h - math.log(4)) / (math.log(36) - math.log(4))) ** 2


@pytest.mark.parametrize("lab_id", list(EXTRACTS))
def test_orientation_order_matches_osmnx(demo_store, lab_id, tmp_path):
    path = shared_geodata(EXTRACTS[lab_id])
    lab = demo_store.get_lab(lab_id)
    osm.import_extract(demo_store, path, lab, buffer_m=500, themes=["streets"])
    crs = local_crs(lab.boundary)
    streets = cache.load_theme(demo_store, lab_id, "streets").to_crs(crs)
    bearings, lengths = ind.street_edges(streets, to_crs(lab.boundary, crs), crs)
    assert len(bearings) >= 5
    ours = ind.orientation_order(bearings, lengths)
    reference = _osmnx_phi(path, lab.boundary, tmp_path)
    assert abs(ours - reference) <= 0.02, (ours, reference)
    ind.clear_memory_cache()
    phi = ind.lab_indicators(demo_store, lab).get("orientation_order")
    if phi.value is not None:
        assert phi.value == pytest.approx(ours)
        assert any(n.key == "comparison.note.orientation_network" for n in phi.notes)
        assert np.isclose(sum(ind.lab_indicators(demo_store, lab).bearings), 1.0)


@pytest.mark.parametrize("lab_id", list(EXTRACTS))
def test_demo_sites_lie_inside_their_extracts(demo_store, lab_id):
    """Each demo site is wholly inside what its extract covers (the header box, or for
    Seattle's Overpass file the area its nodes cover) and large enough for figures per km²."""
    path = shared_geodata(EXTRACTS[lab_id])
    lab = demo_store.get_lab(lab_id)
    bounds = osm.extract_bounds(path)
    covered = box(*bounds) if bounds else osm.data_extent(path)
    assert osm._share_of(covered, lab.boundary) > 0.999
    crs = local_crs(lab.boundary)
    assert to_crs(lab.boundary, crs).area >= ind.MIN_DENSITY_AREA_M2
    osm.import_extract(demo_store, path, lab, buffer_m=500)
    ind.clear_memory_cache()
    res = ind.lab_indicators(demo_store, lab)
    assert not any(n.key == "indicators.note.data_coverage" for n in res.notes)
    assert res.get("street_density").comparable, res.get("street_density").notes


def test_one_clipping_rule_for_app_and_cli_uploads(demo_store, tmp_path):
    """The Swellendam GeoPackage's roads, added by the CLI's demo import and read as the app's
    upload reads them, keep the same features: uploads are kept whole."""
    from workbench.cli import import_demo_files
    from workbench.opendata.files import load_upload, read_user_file

    src = shared_geodata("southafrica_swellendam_training.gpkg")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / src.name).symlink_to(src)
    added = import_demo_files(str(folder))
    roads = [r for r in added if r.name.endswith("roads")]
    assert roads
    app_read = read_user_file(src.name, src.read_bytes(), layer="roads")
    assert (
        roads[0].feature_count == app_read.feature_count == len(load_upload(demo_store, roads[0]))
    )


def swellendam_uploads(tmp_path):
    """Swellendam's training GeoPackage imported as the demo does: its upload layers by their
    short name (buildings, roads, ...)."""
    from workbench.cli import import_demo_files

    src = shared_geodata("southafrica_swellendam_training.gpkg")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / src.name).symlink_to(src)
    layers = {
        r.name.rsplit(" ", 1)[-1]: r
        for r in import_demo_files(str(folder))
        if r.lab_id == SWELLENDAM_LAB
    }
    return layers


def test_the_citys_own_layers_count(demo_store, tmp_path):
    """Swellendam's uploaded buildings and roads, marked as the sources of their themes, give
    the indicators figures where OpenStreetMap has none, and the notes name the layer."""
    from workbench.errors import ValidationError
    from workbench.opendata.sources import lab_sources

    layers = swellendam_uploads(tmp_path)
    lab = demo_store.get_lab(SWELLENDAM_LAB)
    ind.clear_memory_cache()
    before = ind.lab_indicators(demo_store, lab, sources=lab_sources(demo_store, SWELLENDAM_LAB))
    assert before.get("gsi").value is None  # no OSM buildings cached for the site
    demo_store.set_layer_source(layers["buildings"].id, "buildings", by=SYSTEM)
    demo_store.set_layer_source(layers["roads"].id, "streets", by=SYSTEM)
    with pytest.raises(ValidationError):
        demo_store.set_layer_source(layers["roads"].id, "rivers", by=SYSTEM)
    sources = lab_sources(demo_store, SWELLENDAM_LAB)
    assert set(sources) == {"buildings", "streets"}
    after = ind.lab_indicators(demo_store, lab, sources=sources)
    gsi = after.get("gsi")
    assert gsi.value is not None and 0 < gsi.value < 0.5
    named = [n for n in gsi.notes if n.key == "comparison.note.own_source"]
    assert named and named[0].params["name"] == layers["buildings"].name
    assert layers["buildings"].name in named[0].text("de")
    assert after.get("street_density").value > 0
    assert after.get("intersection_density").value is not None
    # one source per theme: marking the roads as buildings unmarks the buildings layer
    demo_store.set_layer_source(layers["roads"].id, "buildings", by=SYSTEM)
    assert demo_store.get_layer(layers["buildings"].id).source_for == ""


def test_a_source_layer_that_cannot_be_read_is_named_not_dropped(demo_store, tmp_path):
    """A layer marked as the buildings source whose features are gone: the figures fall back
    to what OpenStreetMap has (here nothing, so no figure) and the site's notes name the layer
    in every language, instead of the layer silently not counting."""
    from workbench.opendata.sources import lab_sources

    layers = swellendam_uploads(tmp_path)
    demo_store.set_layer_source(layers["buildings"].id, "buildings", by=SYSTEM)
    demo_store.set_layer_source(layers["roads"].id, "streets", by=SYSTEM)
    demo_store.features.delete("upload", SWELLENDAM_LAB, layers["buildings"].id)
    sources = lab_sources(demo_store, SWELLENDAM_LAB)
    assert sources["buildings"].frame is None and sources["streets"].frame is not None
    ind.clear_memory_cache()
    result = ind.lab_indicators(demo_store, demo_store.get_lab(SWELLENDAM_LAB), sources=sources)
    assert result.get("gsi").value is None  # no OSM buildings for the site either
    assert result.get("street_density").value > 0  # the readable source still counts
    said = [n for n in result.notes if n.key == "indicators.note.source_unreadable"]
    assert [n.params for n in said] == [{"theme": "buildings", "name": layers["buildings"].name}]
    for lang, theme in (("en", "Buildings"), ("de", "Gebäude"), ("uk", "Будівлі")):
        text = said[0].text(lang)
        assert layers["buildings"].name in text and theme in text
    again = ind.cached_indicators(demo_store, demo_store.get_lab(SWELLENDAM_LAB), None, sources)
    assert again is not None and [n.key for n in again.notes] == [n.key for n in result.notes]
