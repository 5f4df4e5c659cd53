"""What the comparison rests on, on small synthetic extracts: the data's own date and bounds,
imports that would empty a theme, the previous version of a theme, and the notes of thin input."""

from __future__ import annotations

import math

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from osmium.osm import mutable
from shapely.geometry import box

from tests import synthetic as syn
from tests.helpers import MUNICH_LAB
from tests.synthetic import X0, Y0
from workbench import indicators as ind
from workbench.errors import ValidationError
from workbench.model import LivingLab, new_id
from workbench.opendata import cache, osm

SITE = syn.site(X0, Y0, 300)  # WGS84, about 9.0°E 50.0°N


def lab(boundary=SITE) -> LivingLab:
    return LivingLab(
        id=new_id(), city_id=new_id(), network_id=new_id(), title="Test", boundary=boundary
    )


def _utm_xy(x: float, y: float) -> tuple[float, float]:
    p = syn.to_wgs(shapely.Point(x, y))
    return p.x, p.y


def write_extract(
    path,
    *,
    buildings: bool = True,
    header: dict | None = None,
    box_m: tuple[float, float, float, float] | None = None,
    stamp: str = "2021-06-01T12:00:00Z",
    origin: tuple[float, float] = (X0, Y0),
):
    """A PBF with 36 buildings in a 300 m square from ``origin`` (or untagged nodes only),
    optional header fields and header box (metres, in the synthetic UTM zone)."""
    h = osmium.io.Header()
    for k, v in (header or {}).items():
        h.set(k, v)
    if box_m is not None:
        (x0, y0), (x1, y1) = _utm_xy(*box_m[:2]), _utm_xy(*box_m[2:])
        h.add_box(osmium.osm.Box(x0, y0, x1, y1))
    node_id, way_id = 1, 1
    with osmium.SimpleWriter(str(path), header=h, overwrite=True) as w:
        ways = []
        for i in range(6):
            for j in range(6):
                x, y = origin[0] + 10 + i * 50, origin[1] + 10 + j * 50
                refs = []
                for dx, dy in ((0, 0), (20, 0), (20, 20), (0, 20)):
                    w.add_node(
                        mutable.Node(
                            id=node_id, location=_utm_xy(x + dx, y + dy), timestamp=stamp, version=1
                        )
                    )
                    refs.append(node_id)
                    node_id += 1
                ways.append(refs + refs[:1])
        if buildings:
            for refs in ways:
                w.add_way(
                    mutable.Way(
                        id=way_id,
                        nodes=refs,
                        tags={"building": "house"},
                        timestamp=stamp,
                        version=1,
                    )
                )
                way_id += 1
    return path


# ---- dates and bounds -------------------------------------------------------------------------
def test_replication_timestamp_of_the_header_is_the_data_date(store, tmp_path):
    path = write_extract(
        tmp_path / "a.osm.pbf", header={"osmosis_replication_timestamp": "2019-02-03T04:05:06Z"}
    )
    head = osm.extract_header(path)
    assert head.date == osm.DataDate("2019-02-03T04:05:06+00:00", "replication")
    report = osm.import_extract(store, path, lab(), buffer_m=100, themes=["buildings"])
    assert report.data_date.startswith("2019-02-03") and report.data_date_source == "replication"


def test_without_header_date_the_newest_kept_object_counts(store, tmp_path):
    path = write_extract(tmp_path / "b.osm.pbf", stamp="2017-08-09T10:00:00Z")
    report = osm.import_extract(store, path, lab(), buffer_m=100, themes=["buildings"])
    assert report.data_date == "2017-08-09T10:00:00+00:00"
    assert report.data_date_source == "newest_object"


def test_overpass_xml_osm_base_is_read(tmp_path):
    path = tmp_path / "c.osm"
    path.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6" generator="Overpass API">\n'
        '<meta osm_base="2022-08-10T12:39:09Z"/>\n'
        '<node id="1" lat="50.0" lon="9.0" version="1" '
        'timestamp="2020-01-01T00:00:00Z"/>\n</osm>\n'
    )
    assert osm.extract_header(path).date == osm.DataDate("2022-08-10T12:39:09+00:00", "osm_base")


def test_indicators_show_the_data_date_not_the_import_date(store, tmp_path, monkeypatch):
    path = write_extract(tmp_path / "d.osm.pbf", stamp="2016-05-04T00:00:00Z")
    site_lab = lab()
    osm.import_extract(store, path, site_lab, buffer_m=100, themes=["buildings"])
    ind.clear_memory_cache()
    gsi = ind.lab_indicators(store, site_lab).get("gsi")
    assert gsi.data_date == "2016-05-04"


def test_site_partly_outside_the_header_box_is_not_comparable(store, tmp_path):
    # the header box covers the western 60 % of the site; the buildings fill all of it
    path = write_extract(tmp_path / "e.osm.pbf", box_m=(X0 - 500, Y0 - 500, X0 + 180, Y0 + 800))
    site_lab = lab()
    report = osm.import_extract(store, path, site_lab, buffer_m=0, themes=["buildings"])
    assert report.coverage_source == "header_bounds"
    ind.clear_memory_cache()
    gsi = ind.lab_indicators(store, site_lab).get("gsi")
    assert not gsi.comparable
    assert gsi.reason.key == "indicators.note.data_coverage"
    assert gsi.reason.params["share"] == pytest.approx(60, abs=1)
    # the same data with a box around all of it: comparable
    path = write_extract(tmp_path / "f.osm.pbf", box_m=(X0 - 500, Y0 - 500, X0 + 800, Y0 + 800))
    osm.import_extract(store, path, site_lab, buffer_m=0, themes=["buildings"])
    ind.clear_memory_cache()
    assert ind.lab_indicators(store, site_lab).get("gsi").comparable


# ---- nothing replaced silently ------------------------------------------------------------
def test_an_import_that_would_empty_a_theme_is_refused_then_restorable(store, tmp_path):
    site_lab = lab()
    good = write_extract(tmp_path / "good.osm.pbf")
    empty = write_extract(tmp_path / "nodes-only.osm.pbf", buildings=False)
    osm.import_extract(store, good, site_lab, buffer_m=100, themes=["buildings"])
    before = cache.load_theme(store, site_lab.id, "buildings")
    assert len(before) == 36
    with pytest.raises(osm.EmptyImport) as caught:
        osm.import_extract(store, empty, site_lab, buffer_m=100, themes=["buildings"])
    assert caught.value.themes == ["buildings"]
    assert "nodes-only.osm.pbf" in caught.value.message("de")
    assert len(cache.load_theme(store, site_lab.id, "buildings")) == 36  # nothing changed
    # confirmed: replaced, and the good version is kept
    osm.import_extract(store, empty, site_lab, buffer_m=100, themes=["buildings"], allow_empty=True)
    assert len(cache.load_theme(store, site_lab.id, "buildings")) == 0
    assert cache.previous_meta(store, site_lab.id, "buildings")["feature_count"] == 36
    meta = cache.restore_theme(store, site_lab.id, "buildings")
    assert meta["feature_count"] == 36
    assert len(cache.load_theme(store, site_lab.id, "buildings")) == 36
    # a restore can itself be undone: the empty version is now the previous one
    assert cache.previous_meta(store, site_lab.id, "buildings")["feature_count"] == 0


def test_restore_without_previous_version_is_refused(store):
    with pytest.raises(ValidationError) as caught:
        cache.restore_theme(store, new_id(), "buildings")
    assert caught.value.key == "comparison.restore_none"


# ---- notes of thin input ------------------------------------------------------------------
def _data(boundary, coverage, **themes) -> ind.LabData:
    meta = {
        th: {
            "fetched_at": "2026-01-01T00:00:00+00:00",
            "data_date": "2024-01-01",
            "coverage": coverage.wkt,
        }
        for th in themes
    }
    return ind.LabData("lab", boundary, themes, meta, "v")


def all_themes(**given) -> dict:
    themes = {th: syn.empty() for th in ind.THEMES}
    themes["streets"] = syn.streets([])
    themes.update(given)
    return themes


def test_figures_reaching_beyond_the_site_need_data_there():
    """The data cover the site and 400 m around it: figures within the site are comparable,
    a 1,200 m walk is not, and the note says how far the data do reach."""
    grid = syn.grid(12, 100.0, X0 - 450, Y0 - 450)
    houses = [
        syn.square(X0 + 10 + i * 50, Y0 + 10 + j * 50, 20) for i in range(6) for j in range(6)
    ]
    themes = all_themes(
        streets=grid,
        buildings=syn.frame(syn.features("building", "house", houses), extra=("levels",)),
    )
    coverage = syn.to_wgs(syn.to_utm(SITE).buffer(400, join_style="mitre"))
    res = ind.compute_indicators(_data(SITE, coverage, **themes))
    assert res.get("gsi").comparable and res.get("street_density").comparable
    fifteen = res.get("fifteen_min_centroid")
    assert not fifteen.comparable
    assert fifteen.reason.key == "comparison.note.reach_coverage"
    reach = next(n for n in fifteen.notes if n.key == "indicators.note.buffer")
    assert reach.params["buffer"] == pytest.approx(400, abs=2)  # measured, not the buffer asked
    assert any(n.key == "comparison.note.absent_near_edge" for n in fifteen.notes)


def test_a_proxy_of_few_homes_is_thin():
    houses = [syn.square(X0 + 10 + i * 50, Y0 + 10, 20) for i in range(5)]
    themes = all_themes(
        streets=syn.grid(3, 100.0),
        buildings=syn.frame(syn.features("building", "house", houses), extra=("levels",)),
    )
    coverage = syn.to_wgs(syn.to_utm(SITE).buffer(3000))
    res = ind.compute_indicators(_data(SITE, coverage, **themes))
    green = res.get("green_300m")
    thin = next(n for n in green.notes if n.key == "comparison.note.thin_proxy")
    assert thin.blocking and thin.params == {"count": 5, "limit": ind.MIN_RESIDENTIAL_BUILDINGS}
    assert not res.get("transit_access").comparable


def test_street_density_says_how_much_is_cycleway():
    edges = [
        (1, 2, shapely.LineString([(X0 + 50, Y0 + 10), (X0 + 50, Y0 + 290)])),
        (3, 4, shapely.LineString([(X0 + 150, Y0 + 10), (X0 + 150, Y0 + 290)])),
    ]
    both = pd.concat(
        [syn.streets(edges[:1]), syn.streets(edges[1:], highway="cycleway")], ignore_index=True
    )
    coverage = syn.to_wgs(syn.to_utm(SITE).buffer(3000))
    res = ind.compute_indicators(_data(SITE, coverage, **all_themes(streets=both)))
    sd = res.get("street_density")
    note = next(n for n in sd.notes if n.key == "comparison.note.street_network")
    assert note.params["cycle_km"] == pytest.approx(0.28, abs=1e-3)
    assert sd.value == pytest.approx(0.56 / (res.area_m2 / 1e6), rel=1e-3)
    assert "cycleway" in note.text("en")


def test_skipped_relations_reach_the_figures_of_their_theme():
    green = syn.frame(
        syn.features("leisure", "park", [box(X0, Y0, X0 + 150, Y0 + 300)]), extra=("access",)
    )
    data = _data(
        SITE,
        syn.to_wgs(syn.to_utm(SITE).buffer(3000)),
        **all_themes(green=green, streets=syn.grid(3, 100.0)),
    )
    data.meta["green"]["skipped_relations"] = 3
    res = ind.compute_indicators(data)
    notes = [
        n for n in res.get("open_space_share").notes if n.key == "comparison.note.skipped_relations"
    ]
    assert notes and notes[0].params == {"count": 3, "theme": "green"}
    assert "Green spaces" in notes[0].text("en")
    assert not any(n.key == "comparison.note.skipped_relations" for n in res.get("gsi").notes)


def test_orientation_is_binned_per_edge_not_per_vertex():
    """A street that zigzags (vertices alternating 30° left and right of north) runs north:
    per edge it is one bearing (φ of a single direction), per segment it would be two."""
    pts = [(X0 + 150 + (20 if k % 2 else 0), Y0 + 5 + k * 34.64) for k in range(9)]
    streets = syn.streets([(1, 2, shapely.LineString(pts))])
    coverage = syn.to_wgs(syn.to_utm(SITE).buffer(3000))
    bearings, lengths = ind.street_edges(streets.to_crs(syn.UTM), syn.to_utm(SITE), syn.UTM)
    assert len(bearings) == 1 and bearings[0] == pytest.approx(0.0, abs=0.5)
    assert lengths[0] == pytest.approx(8 * 40.0, rel=1e-3)
    res = ind.compute_indicators(_data(SITE, coverage, **all_themes(streets=streets)))
    single = 1 - ((math.log(2) - math.log(4)) / (math.log(36) - math.log(4))) ** 2
    assert ind.orientation_order(bearings, lengths) == pytest.approx(single)
    assert np.count_nonzero(res.bearings) == 2  # north and south only


def test_cli_import_refuses_emptying_and_restores(tmp_path, demo_store, capsys):
    from workbench.cli import main

    munich = demo_store.get_lab(MUNICH_LAB)
    c = syn.to_utm(munich.boundary.centroid)
    good = write_extract(tmp_path / "good.osm.pbf", origin=(c.x - 150, c.y - 150))
    empty = write_extract(
        tmp_path / "empty.osm.pbf", buildings=False, origin=(c.x - 150, c.y - 150)
    )
    args = ["osm", "import", "--lab", munich.id, "--themes", "buildings", "--buffer", "0"]
    assert main([*args, str(good)]) == 0
    assert (
        "OpenStreetMap data as of 2021-06-01 (newest object in the data)" in capsys.readouterr().out
    )
    assert main([*args, str(empty)]) == 2
    err = capsys.readouterr().err
    assert "empty.osm.pbf" in err and "--allow-empty" in err
    assert len(cache.load_theme(demo_store, munich.id, "buildings")) == 36
    assert main([*args, "--allow-empty", str(empty)]) == 0
    assert len(cache.load_theme(demo_store, munich.id, "buildings")) == 0
    assert main(["osm", "restore", "--lab", munich.id, "--themes", "buildings"]) == 0
    assert "36 features" in capsys.readouterr().out
    assert len(cache.load_theme(demo_store, munich.id, "buildings")) == 36
