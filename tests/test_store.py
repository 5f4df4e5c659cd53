"""Store: CRUD for every entity, idempotent ids, migrations, refusals that write nothing."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from shapely.geometry import Point, Polygon, box

from workbench.errors import NotFoundError, SchemaError, ValidationError
from workbench.model import Annotation, City, Layer, LivingLab, Network, Snapshot, new_id
from workbench.settings import database_url
from workbench.store import SCHEMA_VERSION, open_store
from workbench.store.engine import make_engine, migrate

LEIPZIG = (12.3731, 51.3397)

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def square(lon: float, lat: float, half_deg: float = 0.003) -> Polygon:
    return box(lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg)


@pytest.fixture
def world(store):
    net = store.add_network(Network(id=new_id(), name="Test network", countries=("DE", "UA")))
    city = store.add_city(
        City(
            id=new_id(),
            name="Leipzig",
            country="de",
            lon=LEIPZIG[0],
            lat=LEIPZIG[1],
            network_ids=(net.id,),
        )
    )
    lab = store.add_lab(
        LivingLab(
            id=new_id(),
            city_id=city.id,
            network_id=net.id,
            title="Eastern Leipzig",
            boundary=square(*LEIPZIG),
            themes=("housing",),
            principles=("participation",),
            sdg_targets=("11.1",),
        )
    )
    return net, city, lab


def test_network_crud(store):
    net = store.add_network(Network(id=new_id(), name="  A   net ", countries=("de", "us")))
    assert net.name == "A net" and net.countries == ("DE", "US")
    store.update_network(replace(net, name="B net", description="about"))
    assert store.get_network(net.id).name == "B net"
    assert [n.id for n in store.list_networks()] == [net.id]
    store.delete_network(net.id)
    with pytest.raises(NotFoundError):
        store.get_network(net.id)


def test_city_crud_and_membership(store, world):
    net, city, _ = world
    assert city.country == "DE" and city.network_ids == (net.id,)
    other = store.add_network(Network(id=new_id(), name="Other", countries=("DE",)))
    store.update_city(replace(city, network_ids=(net.id, other.id)))
    assert set(store.get_city(city.id).network_ids) == {net.id, other.id}
    assert [c.id for c in store.list_cities(network_id=other.id)] == [city.id]
    with pytest.raises(ValidationError):  # still has a living lab
        store.delete_city(city.id)


def test_lab_crud(store, world):
    net, city, lab = world
    assert lab.boundary.exterior.is_ccw
    updated = store.update_lab(replace(lab, title="New title", status="active"))
    assert updated.title == "New title" and updated.status == "active"
    assert updated.updated_at >= lab.updated_at
    assert [x.id for x in store.list_labs(network_id=net.id)] == [lab.id]
    assert store.list_labs(city_id="nope") == []
    with pytest.raises(ValidationError):
        store.delete_network(net.id)
    store.delete_lab(lab.id)
    with pytest.raises(NotFoundError):
        store.get_lab(lab.id)


def test_layer_and_snapshot_crud(store, world):
    _, _, lab = world
    layer = store.add_layer(
        Layer(
            id=new_id(),
            lab_id=lab.id,
            name="Trees",
            kind="upload",
            style={"color": "#009E73"},
            feature_count=12,
        )
    )
    assert store.list_layers(lab.id)[0].style == {"color": "#009E73"}
    assert store.update_layer_style(layer.id, {"color": "#000"}).style == {"color": "#000"}
    store.delete_layer(layer.id)
    assert store.list_layers(lab.id) == []
    snap = store.add_snapshot(
        Snapshot(id=new_id(), lab_id=lab.id, name="Round 1", state={"annotations": 3})
    )
    assert store.get_snapshot(snap.id).state == {"annotations": 3}
    assert [s.id for s in store.list_snapshots(lab.id)] == [snap.id]
    store.delete_snapshot(snap.id)
    with pytest.raises(NotFoundError):
        store.get_snapshot(snap.id)


def test_deleting_a_lab_cascades(store, world):
    _, _, lab = world
    store.add_layer(Layer(id=new_id(), lab_id=lab.id, name="x", kind="upload"))
    store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab.id,
            geometry=Point(*LEIPZIG),
            category="idea",
            text="t",
            author="g",
        )
    )
    store.delete_lab(lab.id)
    assert store.list_layers(lab.id) == [] and store.list_annotations(lab.id) == []


def test_same_id_twice_stores_once(store, world):
    _, _, lab = world
    a = Annotation(
        id=new_id(),
        lab_id=lab.id,
        geometry=Point(*LEIPZIG),
        category="idea",
        text="first",
        author="Group A",
    )
    store.add_annotation(a)
    store.add_annotation(replace(a, text="retry"))
    assert [x.text for x in store.list_annotations(lab.id)] == ["first"]
    again = store.add_lab(replace(lab, title="changed on retry"))
    assert again.title == lab.title and len(store.list_labs()) == 1


@pytest.mark.parametrize(
    "geom, key",
    [
        (Polygon(), "boundary.empty"),
        (Point(*LEIPZIG), "boundary.not_polygon"),
        (
            Polygon([(12.37, 51.33), (12.38, 51.34), (12.38, 51.33), (12.37, 51.34)]),
            "boundary.invalid",
        ),
        (square(*LEIPZIG, half_deg=0.05), "boundary.too_large"),
        (square(*LEIPZIG, half_deg=0.00005), "boundary.too_small"),
        (square(13.40, 52.52), "boundary.too_far"),  # Berlin, ~150 km away
        (square(200.0, 51.0), "boundary.out_of_range"),
    ],
)
def test_invalid_boundary_is_refused_and_nothing_written(store, world, geom, key):
    net, city, lab = world
    with pytest.raises(ValidationError) as info:
        store.add_lab(
            LivingLab(id=new_id(), city_id=city.id, network_id=net.id, title="Bad", boundary=geom)
        )
    assert info.value.key == key
    assert info.value.message("de") != info.value.message("en")  # translated
    with pytest.raises(ValidationError):
        store.update_lab(replace(lab, boundary=geom))
    assert [x.id for x in store.list_labs()] == [lab.id]
    assert store.get_lab(lab.id).boundary.equals(lab.boundary)


def test_bad_codes_refused(store, world):
    net, city, lab = world
    for bad in (
        dict(status="finished"),
        dict(principles=("nope",)),
        dict(sdg_targets=("99.9",)),
        dict(title="   "),
    ):
        with pytest.raises(ValidationError):
            store.update_lab(replace(lab, **bad))
    with pytest.raises(ValidationError):
        store.add_city(City(id=new_id(), name="X", country="Germany", lon=1, lat=1))


@pytest.mark.sqlite_only
def test_pragmas(store):
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_migration_upgrades_old_database_without_losing_rows(data_dir):
    url = database_url("old")
    engine = make_engine(url)
    assert migrate(engine, target=1) == 1  # a workspace written by schema version 1
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO networks (id, name, countries, description, created_at) "
            "VALUES ('n1', 'Old network', '[\"DE\"]', '', '2024-01-01T00:00:00+00:00')"
        )
    engine.dispose()
    store = open_store("old", create=True)
    assert store.version == SCHEMA_VERSION > 1
    assert [n.name for n in store.list_networks()] == ["Old network"]
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM annotations").scalar() == 0
    store.close()
    assert open_store("old", create=True).version == SCHEMA_VERSION  # opening again changes nothing


@pytest.mark.sqlite_only
def test_newer_database_is_refused_untouched(data_dir):
    open_store("future", create=True).close()
    path = database_url("future").removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 5,))
    before = open(path, "rb").read()
    with pytest.raises(SchemaError) as info:
        open_store("future", create=True)
    assert "newer version" in str(info.value)
    assert open(path, "rb").read() == before


def test_the_shared_demo_ids_name_their_demo_labs(demo_store):
    """``tests.helpers`` names each demo lab once; each constant is that city's lab in the
    seeded demo workspace, and OTHER_LAB names none."""
    from tests import helpers
    from workbench.errors import NotFoundError

    cities = {c.id: c.name for c in demo_store.list_cities()}
    expected = {
        "MUNICH_LAB": "München",
        "NUERNBERG_LAB": "Nürnberg",
        "BAYREUTH_LAB": "Bayreuth",
        "BALTIMORE_LAB": "Baltimore",
        "SEATTLE_LAB": "Seattle",
        "SWELLENDAM_LAB": "Swellendam",
        "KHARKIV_LAB": "Kharkiv",
    }
    named = {k for k in vars(helpers) if k.endswith("_LAB") and k != "OTHER_LAB"}
    assert named == set(expected)
    for constant, city in expected.items():
        assert cities[demo_store.get_lab(getattr(helpers, constant)).city_id] == city
    with pytest.raises(NotFoundError):
        demo_store.get_lab(helpers.OTHER_LAB)
