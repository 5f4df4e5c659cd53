"""A workspace's feature sets (issue 11: OSM cache and uploads in PostGIS; issue 13: keyed by
workspace and lab; issue 16: every OSM cache write judged in the library).

Each test runs on SQLite files and on PostgreSQL (``backend``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tests.opendata_helpers import grid_osm, make_lab
from workbench.access import SYSTEM, Actor
from workbench.errors import PermissionDenied, ValidationError
from workbench.opendata import cache
from workbench.opendata.files import IN_STORE, UserLayer, delete_upload, load_upload, save_upload
from workbench.opendata.osm import import_extract
from workbench.store import open_store
from workbench.store.features import FileFeatureSets, PostgisFeatureSets

pytestmark = pytest.mark.usefixtures("backend")


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": ["A & <b>", "Straße", None],
            "levels": [2.0, np.nan, 7.5],
            "u": np.array([1, 2, 3], dtype="int64"),
            "open": [True, False, True],
        },
        geometry=[
            shapely.box(11.0, 48.0, 11.001, 48.001),
            shapely.LineString([(11.0, 48.0), (11.002, 48.002)]),
            shapely.Point(11.0005, 48.0005),
        ],
        crs=4326,
    )


def test_a_set_comes_back_as_it_was_written_with_its_metadata(store):
    sets = store.features
    assert isinstance(
        sets, PostgisFeatureSets if store.url.startswith("postgresql") else FileFeatureSets
    )
    assert sets.read("osm", "lab-1", "buildings") is None and sets.names("osm", "lab-1") == []
    v0 = sets.version("osm", "lab-1")
    sets.write("osm", "lab-1", "buildings", _frame(), {"source": "test", "n": 3})
    back = sets.read("osm", "lab-1", "buildings")
    assert list(back.columns) == ["name", "levels", "u", "open", "geometry"]
    assert back["name"].tolist()[:2] == ["A & <b>", "Straße"] and back["name"].isna().tolist()[2]
    assert back["levels"].isna().tolist() == [False, True, False] and back.loc[2, "levels"] == 7.5
    assert back["u"].dtype == "int64" and back["open"].tolist() == [True, False, True]
    assert back.crs.to_epsg() == 4326
    assert all(
        a.equals_exact(b, 1e-9) for a, b in zip(back.geometry, _frame().geometry, strict=True)
    )
    assert sets.meta("osm", "lab-1", "buildings") == {"source": "test", "n": 3}
    assert sets.names("osm", "lab-1") == ["buildings"] and sets.version("osm", "lab-1") != v0
    back.loc[0, "name"] = "changed"  # a copy: the next read is as written
    assert sets.read("osm", "lab-1", "buildings").loc[0, "name"] == "A & <b>"


def test_a_save_keeps_the_previous_version_and_restore_swaps_them(store):
    sets = store.features
    sets.write("osm", "lab-1", "green", _frame(), {"v": 1})
    sets.write("osm", "lab-1", "green", _frame().iloc[:1], {"v": 2})
    assert len(sets.read("osm", "lab-1", "green")) == 1
    assert sets.meta("osm", "lab-1", "green", previous=True) == {"v": 1}
    version = sets.version("osm", "lab-1")
    assert sets.restore("osm", "lab-1", "green") == {"v": 1}
    assert len(sets.read("osm", "lab-1", "green")) == 3 and sets.version("osm", "lab-1") != version
    assert sets.restore("osm", "lab-1", "green") == {"v": 2}  # a restore can be undone
    assert len(sets.read("osm", "lab-1", "green")) == 1
    sets.delete("osm", "lab-1", "green")
    assert sets.read("osm", "lab-1", "green") is None
    assert sets.meta("osm", "lab-1", "green", previous=True) is None
    assert sets.restore("osm", "lab-1", "green") is None


def test_an_empty_frame_and_hostile_names(store):
    sets = store.features
    empty = _frame().iloc[:0]
    sets.write("osm", "lab-1", "water", empty, {"feature_count": 0})
    back = sets.read("osm", "lab-1", "water")
    assert len(back) == 0 and list(back.columns) == list(empty.columns)
    for lab_id, name, key in (
        ("../../etc", "x", "opendata.lab_id"),
        ("lab-1", "../passwd", "store.feature_set_name"),
        ("lab-1", "a b", "store.feature_set_name"),
    ):
        with pytest.raises(ValidationError) as refused:
            sets.write("osm", lab_id, name, _frame(), {})
        assert refused.value.key == key
    with pytest.raises(ValueError):
        sets.write("osm", "lab-1", "x", _frame().set_crs(3857, allow_override=True), {})


def test_the_same_lab_id_in_two_workspaces_has_two_caches(store, tmp_path):
    """``workbench import lab.gpkg --workspace B`` must not touch workspace A's OSM cache."""
    other = open_store("other", create=True)
    lab = make_lab()
    import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0)
    count = len(cache.load_theme(store, lab.id, "streets"))
    assert count > 0 and cache.cached_themes(other, lab.id) == []
    cache.save_theme(
        other,
        lab.id,
        "streets",
        cache.load_theme(store, lab.id, "streets").iloc[:1],
        {"fetched_at": "2025-01-01", "source": "test"},
    )
    assert len(cache.load_theme(other, lab.id, "streets")) == 1
    assert len(cache.load_theme(store, lab.id, "streets")) == count  # A untouched
    assert cache.cache_version(store, lab.id) != cache.cache_version(other, lab.id)
    assert store.key != other.key
    other.close()


def test_a_geopackage_imported_into_another_workspace_leaves_the_first_as_it_was(
    demo_store, tmp_path
):
    from workbench import export
    from workbench.export.data import import_geopackage

    lab = demo_store.list_labs()[0]
    frame = _frame()
    cache.save_theme(
        demo_store,
        lab.id,
        "buildings",
        frame,
        {"fetched_at": "2025-01-01", "source": "test"},
        by=SYSTEM,
    )
    (tmp_path / "lab.gpkg").write_bytes(export.export_lab(demo_store, lab.id, "gpkg"))
    other = open_store("other", create=True)
    assert import_geopackage(other, tmp_path / "lab.gpkg", by=SYSTEM) == lab.id
    assert len(cache.load_theme(other, lab.id, "buildings")) == 3
    cache.delete_theme(other, lab.id, "buildings", by=SYSTEM)
    assert cache.load_theme(other, lab.id, "buildings") is None
    assert len(cache.load_theme(demo_store, lab.id, "buildings")) == 3  # the first one's stays
    other.close()


def test_uploads_are_feature_sets_of_their_workspace(store):
    layer = UserLayer(name="trees", gdf=_frame(), format="geojson")
    record = save_upload(store, _lab_id(store), layer, by=SYSTEM)
    assert record.path == IN_STORE
    assert len(load_upload(store, record)) == 3
    assert store.features.names("upload", record.lab_id) == [record.id]
    delete_upload(store, record, by=SYSTEM)
    assert store.features.names("upload", record.lab_id) == []
    with pytest.raises(FileNotFoundError):
        load_upload(store, record)


def _lab_id(store) -> str:
    from workbench.model import City, LivingLab, Network, new_id

    net = store.add_network(Network(id=new_id(), name="N", countries=("DE",)), by=SYSTEM)
    centre = make_lab().boundary.centroid
    city = store.add_city(
        City(
            id=new_id(), name="C", country="DE", lon=centre.x, lat=centre.y, network_ids=(net.id,)
        ),
        by=SYSTEM,
    )
    lab = store.add_lab(
        LivingLab(
            id=new_id(), city_id=city.id, network_id=net.id, title="L", boundary=make_lab().boundary
        ),
        by=SYSTEM,
    )
    return lab.id


def test_every_osm_cache_write_is_judged_by_the_store(store, tmp_path):
    """A viewer (and an anonymous visitor of a protected workspace) cannot import, save,
    restore or delete a theme; nothing is written."""
    lab_id = _lab_id(store)
    lab = store.get_lab(lab_id)
    cache.save_theme(
        store, lab_id, "green", _frame(), {"fetched_at": "x", "source": "t"}, by=SYSTEM
    )
    cache.save_theme(
        store, lab_id, "green", _frame().iloc[:1], {"fetched_at": "y", "source": "t"}, by=SYSTEM
    )
    store.set_passcode("owner", "correct horse battery", by=SYSTEM)
    version = cache.cache_version(store, lab_id)
    viewer = Actor("viewer", group="V")
    for by in (None, viewer):
        with pytest.raises(PermissionDenied):
            import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0, by=by)
        with pytest.raises(PermissionDenied):
            cache.save_theme(
                store, lab_id, "green", _frame(), {"fetched_at": "z", "source": "t"}, by=by
            )
        with pytest.raises(PermissionDenied):
            cache.restore_theme(store, lab_id, "green", by=by)
        with pytest.raises(PermissionDenied):
            cache.delete_theme(store, lab_id, "green", by=by)
    assert cache.cache_version(store, lab_id) == version
    assert len(cache.load_theme(store, lab_id, "green")) == 1
    report = import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0, by=SYSTEM)
    assert report.counts["streets"] > 0


def test_a_cache_from_before_workspaces_is_copied_into_each_workspace(store):
    """Older versions cached themes in ``<cache>/osm/<lab>/`` for every workspace: each
    workspace takes a copy the first time it looks, and their later writes stay apart."""
    legacy = cache.legacy_folder("lab-old")
    legacy.mkdir(parents=True)
    old = FileFeatureSets(legacy.parent.parent / "legacy-layout")
    old.write("osm", "lab-old", "buildings", _frame(), {"feature_count": 3, "source": "v1"})
    old.write(
        "osm", "lab-old", "buildings", _frame().iloc[:2], {"feature_count": 2, "source": "v2"}
    )
    for suffix in ("", ".previous"):
        old.path("osm", "lab-old", "buildings", suffix == ".previous").rename(
            legacy / f"buildings{suffix}.parquet"
        )
    other = open_store("other", create=True)
    assert len(cache.load_theme(store, "lab-old", "buildings")) == 2
    assert cache.previous_meta(store, "lab-old", "buildings")["source"] == "v1"
    cache.restore_theme(store, "lab-old", "buildings")
    assert len(cache.load_theme(store, "lab-old", "buildings")) == 3
    assert len(cache.load_theme(other, "lab-old", "buildings")) == 2  # its own copy
    assert (legacy / "buildings.parquet").is_file()  # left for the other workspaces
    other.close()


def test_postgres_keeps_the_sets_in_postgis_not_in_files(store, tmp_path, monkeypatch):
    """With a database URL, a second app process on another machine (here: another data
    folder) reads the same sets; QGIS sees them as EPSG:4326 layers."""
    if not store.url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    lab_id = _lab_id(store)
    cache.save_theme(store, lab_id, "buildings", _frame(), {"fetched_at": "x", "source": "t"})
    record = save_upload(
        store, lab_id, UserLayer(name="trees", gdf=_frame(), format="geojson"), by=SYSTEM
    )
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "elsewhere"))
    again = open_store("test")
    assert len(cache.load_theme(again, lab_id, "buildings")) == 3
    assert len(load_upload(again, again.get_layer(record.id))) == 3
    assert not list(tmp_path.glob("elsewhere/**/*.parquet"))
    with again.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT theme, count(*), min(ST_SRID(geom)) FROM osm_layers GROUP BY theme"
        ).all()
        uploads = conn.exec_driver_sql(
            "SELECT layer_name, count(*) FROM uploaded_layers GROUP BY layer_name"
        ).all()
    assert rows == [("buildings", 3, 4326)] and uploads == [("trees", 3)]
    again.close()


def test_dropping_a_workspace_drops_its_sets(store):
    """``workbench demo --reset`` starts a workspace afresh: its layers go with it."""
    from workbench.store import drop_workspace

    gone = open_store("gone", create=True)
    gone.features.write("osm", "lab-1", "green", _frame(), {})
    gone.close()
    drop_workspace("gone")
    again = open_store("gone", create=True)
    assert again.features.names("osm", "lab-1") == []
    assert again.features.read("osm", "lab-1", "green") is None
    again.close()
