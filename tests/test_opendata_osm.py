"""OSM themes: catalogue, cache, offline import (synthetic data whose answers are known)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from tests.opendata_helpers import grid_osm, make_lab
from workbench.errors import ValidationError
from workbench.opendata import cache
from workbench.opendata.osm import _split_streets, clip_area, import_extract
from workbench.opendata.themes import THEMES, check_themes, is_walkable, union_tags

CODES = [
    "buildings",
    "green",
    "streets",
    "transit",
    "schools",
    "health",
    "shops",
    "community",
    "water",
    "landuse",
]


def test_catalogue_has_the_agreed_codes_with_style_and_label():
    assert list(THEMES) == CODES
    for code, theme in THEMES.items():
        assert theme.code == code
        assert theme.colour.startswith("#") and theme.kinds and theme.tags
        assert theme.label_key == f"opendata.theme.{code}"
        from workbench.i18n import catalogue

        for lang in ("en", "de", "uk"):
            assert theme.label_key in catalogue(lang)


@pytest.mark.parametrize(
    "tags, walkable",
    [
        ({"highway": "residential"}, True),
        ({"highway": "footway"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "trunk_link"}, False),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"building": "yes"}, False),
    ],
)
def test_walkable_network_filter(tags, walkable):
    assert is_walkable(tags) is walkable
    assert (THEMES["streets"].match(tags) is not None) is walkable


def test_match_gives_the_main_tag():
    assert THEMES["schools"].match({"amenity": "kindergarten"}) == ("amenity", "kindergarten")
    assert THEMES["buildings"].match({"building": "no"}) is None
    assert THEMES["health"].match({"healthcare": "physiotherapist"}) == (
        "healthcare",
        "physiotherapist",
    )
    assert union_tags(["buildings", "schools", "health"])["amenity"] == sorted(
        set(THEMES["schools"].tags["amenity"]) | set(THEMES["health"].tags["amenity"])
    )
    with pytest.raises(ValidationError):
        check_themes(["buildings", "unicorns"])


def test_split_streets_at_shared_nodes_only():
    line = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0)]
    ways = [
        (1, {"highway": "residential"}, [1, 2, 3, 4], line),
        (2, {"highway": "footway"}, [3, 5], [(2.0, 0.0), (2.0, 1.0)]),
    ]
    segs = _split_streets(ways)
    assert [(s["u"], s["v"]) for s in segs] == [(1, 3), (3, 4), (3, 5)]
    assert segs[0]["geometry"].equals(shapely.LineString(line[:3]))


def test_clip_area_buffers_in_metres():
    from workbench.geometry import area_m2, local_crs, to_crs

    lab = make_lab()
    plain_area = clip_area(lab.boundary, 0)
    buffered = clip_area(lab.boundary, 100)
    assert buffered.contains(plain_area)
    perimeter = to_crs(lab.boundary, local_crs(lab.boundary)).exterior.length
    grown = area_m2(buffered) - area_m2(plain_area)
    # perimeter × 100 m plus the rounded corners (π × 100²), within 2 %
    assert grown == pytest.approx(perimeter * 100 + math.pi * 100**2, rel=0.02)
    with pytest.raises(ValidationError):
        clip_area(lab.boundary, -5)


def test_import_synthetic_grid(store, tmp_path):
    lab = make_lab()
    report = import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0)
    assert report.skipped_ways == 1  # way 111 has a node that is not in the file
    assert report.skipped_relations == 1  # relation 202 lacks its member way
    assert report.counts["streets"] == 12  # 6 ways × 2 segments; motorway and foot=no left out
    assert report.counts["buildings"] == 1 and report.counts["green"] == 1
    assert cache.cached_themes(store, lab.id) == CODES  # every theme written, empty ones too

    streets = cache.load_theme(store, lab.id, "streets")
    assert set(streets.columns) >= {
        "osm_id",
        "osm_key",
        "osm_value",
        "name",
        "geometry",
        "u",
        "v",
        "highway",
    }
    assert streets["u"].dtype == "int64" and streets["v"].dtype == "int64"
    assert set(streets.geom_type) == {"LineString"}
    assert not streets["osm_id"].eq("way/107").any()  # motorway
    assert "Вулиця Б" in set(streets["name"])
    # a graph straight from u/v: 9 nodes, 12 edges, the centre node has degree 4
    import networkx as nx

    g = nx.Graph()
    g.add_edges_from(zip(streets["u"], streets["v"], strict=True))
    assert g.number_of_nodes() == 9 and g.number_of_edges() == 12 and g.degree[5] == 4

    buildings = cache.load_theme(store, lab.id, "buildings")
    assert buildings.crs.to_epsg() == 4326
    assert buildings.loc[0, "levels"] == 3.0 and buildings.loc[0, "osm_id"] == "way/109"
    green = cache.load_theme(store, lab.id, "green")
    assert green.loc[0, "osm_id"] == "relation/201" and "access" in green
    assert green.geom_type[0] == "Polygon"
    school = cache.load_theme(store, lab.id, "schools")
    assert school.loc[0, "name"] == "Школа №1 <b>&"
    assert school.loc[0, ["osm_key", "osm_value"]].tolist() == ["amenity", "school"]
    assert len(cache.load_theme(store, lab.id, "health")) == 0

    meta = cache.theme_meta(store, lab.id, "streets")
    assert meta["source"] == "file:grid.osm"
    assert meta["attribution"] == "© OpenStreetMap contributors"
    assert meta["feature_count"] == 12 and meta["buffer_m"] == 0
    assert meta["fetched_at"].endswith("+00:00")


def test_import_clips_to_site_plus_buffer(store, tmp_path):
    # a site covering only the bottom-left cell: the far streets fall away
    lab = make_lab("lab-small", (11.0 - 0.0002, 49.0 - 0.0002, 11.0004, 49.0004))
    path = grid_osm(tmp_path / "grid.osm")
    import_extract(store, path, lab, buffer_m=0)
    streets = cache.load_theme(store, lab.id, "streets")
    assert sorted(zip(streets["u"], streets["v"], strict=True)) == [(1, 2), (1, 4)]
    b = cache.load_theme(store, lab.id, "buildings")
    # the building (0.0002–0.0006) is cut at the site edge (0.0004)
    assert b.geometry[0].bounds[2] == pytest.approx(11.0004)
    import_extract(store, path, lab, buffer_m=150)
    assert len(cache.load_theme(store, lab.id, "streets")) > 2


def test_cache_roundtrip_version_and_atomic_write(store, tmp_path):
    lab_id = "lab-cache"
    assert cache.load_theme(store, lab_id, "buildings") is None
    assert cache.theme_meta(store, lab_id, "buildings") is None
    assert cache.cached_themes(store, lab_id) == []
    v0 = cache.cache_version(store, lab_id)
    gdf = gpd.GeoDataFrame(
        {
            "osm_id": ["way/1"],
            "osm_key": ["building"],
            "osm_value": ["yes"],
            "name": [""],
            "levels": [2.0],
        },
        geometry=[shapely.box(0, 0, 0.001, 0.001)],
        crs=4326,
    )
    cache.save_theme(
        store,
        lab_id,
        "buildings",
        gdf,
        {"fetched_at": "2025-01-01T00:00:00+00:00", "source": "overpass", "buffer_m": 500},
    )
    v1 = cache.cache_version(store, lab_id)
    assert v1 != v0 and cache.cache_version(store, lab_id) == v1
    assert cache.cached_themes(store, lab_id) == ["buildings"]
    meta = cache.theme_meta(store, lab_id, "buildings")
    assert meta["feature_count"] == 1 and meta["source"] == "overpass"
    assert meta["attribution"] == "© OpenStreetMap contributors"
    loaded = cache.load_theme(store, lab_id, "buildings")
    assert loaded.attrs == {} and loaded.geometry[0].equals(gdf.geometry[0])
    cache.save_theme(
        store,
        lab_id,
        "buildings",
        gdf,
        {"fetched_at": "2025-01-02T00:00:00+00:00", "source": "overpass"},
    )
    assert cache.cache_version(store, lab_id) != v1
    # a failing write leaves the old file and no temp file behind
    bad = gdf.copy()
    bad["levels"] = [object()]
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        cache.save_theme(store, lab_id, "buildings", bad, {"fetched_at": "x", "source": "overpass"})
    folder = store.features.path("osm", lab_id, "buildings").parent
    # (the version before the last good save is kept beside it, for restoring)
    assert sorted(os.listdir(folder)) == ["buildings.parquet", "buildings.previous.parquet"]
    assert cache.theme_meta(store, lab_id, "buildings")["fetched_at"].startswith("2025-01-02")
    assert cache.previous_meta(store, lab_id, "buildings")["fetched_at"].startswith("2025-01-01")
    with pytest.raises(ValidationError):
        cache.load_theme(store, "../../etc", "buildings")
    with pytest.raises(ValidationError):
        cache.load_theme(store, lab_id, "unicorns")


def test_loaded_theme_is_a_copy_and_follows_the_file(store):
    lab_id = "lab-memo"
    gdf = gpd.GeoDataFrame(
        {
            "osm_id": ["way/1"],
            "osm_key": ["building"],
            "osm_value": ["yes"],
            "name": ["A"],
            "levels": [2.0],
        },
        geometry=[shapely.box(0, 0, 0.001, 0.001)],
        crs=4326,
    )
    cache.save_theme(store, lab_id, "buildings", gdf, {"fetched_at": "x", "source": "overpass"})
    first = cache.load_theme(store, lab_id, "buildings")
    first.loc[0, "name"] = "changed by a caller"
    assert cache.load_theme(store, lab_id, "buildings").loc[0, "name"] == "A"
    cache.save_theme(
        store,
        lab_id,
        "buildings",
        gdf.assign(name=["B"]),
        {"fetched_at": "y", "source": "overpass"},
    )
    assert cache.load_theme(store, lab_id, "buildings").loc[0, "name"] == "B"
    cache.delete_theme(store, lab_id, "buildings")
    assert cache.load_theme(store, lab_id, "buildings") is None


@pytest.mark.parametrize(
    "content, suffix",
    [
        (b"<osm><node id='1' lat='49' lon=", ".osm"),  # truncated XML
        (b"\x1f\x8b\x08\x00garbage", ".osm.gz"),
        (b"not a pbf at all", ".osm.pbf"),
    ],
)
def test_import_refuses_broken_files_and_keeps_the_cache(store, tmp_path, content, suffix):
    lab = make_lab()
    import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0)
    version = cache.cache_version(store, lab.id)
    bad = tmp_path / ("bad" + suffix)
    bad.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        import_extract(store, bad, lab)
    assert err.value.key == "opendata.import.unreadable"
    assert cache.cache_version(store, lab.id) == version


def test_import_refuses_other_files_and_no_overlap(store, tmp_path):
    lab = make_lab()
    with pytest.raises(ValidationError, match="does not exist"):
        import_extract(store, tmp_path / "none.osm", lab)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(ValidationError) as err:
        import_extract(store, txt, lab)
    assert err.value.key == "opendata.import.suffix"
    far = make_lab("lab-far", (20.0, 10.0, 20.001, 10.001))
    with pytest.raises(ValidationError) as err:
        import_extract(store, grid_osm(tmp_path / "grid.osm"), far)
    assert err.value.key == "opendata.import.no_overlap"
    assert cache.cached_themes(store, far.id) == []


def test_cli_osm_import(tmp_path, demo_store, capsys):
    from workbench.cli import main

    lab = demo_store.list_labs()[0]
    path = grid_osm(tmp_path / "grid.osm")
    # the synthetic grid lies far from every demo lab
    assert main(["osm", "import", str(path), "--lab", lab.id]) == 2
    assert "no data within the site" in capsys.readouterr().err
    assert main(["osm", "import", str(path), "--lab", "no-such-lab"]) == 2


def test_progress_is_reported(store, tmp_path):
    seen = []
    import_extract(
        store,
        grid_osm(tmp_path / "grid.osm"),
        make_lab(),
        buffer_m=0,
        progress=lambda f, stage: seen.append((f, stage)),
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"read", "clip", "save", "done"} <= {s for _, s in seen}


def test_stages_are_translated():
    from workbench.i18n import catalogue

    for stage in ("read", "streets", "download", "clip", "save", "done"):
        for lang in ("en", "de", "uk"):
            assert f"opendata.stage.{stage}" in catalogue(lang)


def test_locale_files_have_the_same_keys():
    import json

    root = Path(__file__).resolve().parent.parent / "workbench" / "locales"
    keys = {
        lang: set(json.loads((root / lang / "opendata.json").read_text("utf-8")))
        for lang in ("en", "de", "uk")
    }
    assert keys["en"] == keys["de"] == keys["uk"]
    assert all(k.startswith("opendata.") for k in keys["en"])
