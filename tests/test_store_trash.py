"""Deleting set-up records in the app (issue 12): soft, with what goes with it named first,
undone in one step, only by owners, refused while a workshop session runs; a new record saved
twice under the form's id is one record."""

from __future__ import annotations

import pytest
from shapely.geometry import Point, box

from workbench.access import SYSTEM, Actor
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.model import Annotation, City, LivingLab, Network, new_id

LEIPZIG = (12.3731, 51.3397)


@pytest.fixture
def world(store):
    a = store.add_network(Network(id=new_id(), name="Net A", countries=("DE",)))
    b = store.add_network(Network(id=new_id(), name="Net B", countries=("DE",)))
    only_a = store.add_city(
        City(
            id=new_id(),
            name="Leipzig",
            country="de",
            lon=LEIPZIG[0],
            lat=LEIPZIG[1],
            network_ids=(a.id,),
        )
    )
    both = store.add_city(
        City(
            id=new_id(), name="Halle", country="de", lon=11.97, lat=51.48, network_ids=(a.id, b.id)
        )
    )
    box_of = lambda lon, lat: box(lon - 0.003, lat - 0.003, lon + 0.003, lat + 0.003)  # noqa: E731
    lab1 = store.add_lab(
        LivingLab(
            id=new_id(), city_id=only_a.id, network_id=a.id, title="East", boundary=box_of(*LEIPZIG)
        )
    )
    lab2 = store.add_lab(
        LivingLab(
            id=new_id(),
            city_id=both.id,
            network_id=b.id,
            title="Saale",
            boundary=box_of(11.97, 51.48),
        )
    )
    store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab1.id,
            geometry=Point(*LEIPZIG),
            category="idea",
            text="Trees",
            author="G",
        )
    )
    return a, b, only_a, both, lab1, lab2


def test_saving_a_new_lab_twice_under_one_id_makes_one(store, world):
    a, _, city, _, lab1, _ = world
    lab = LivingLab(
        id=new_id(), city_id=city.id, network_id=a.id, title="Twice", boundary=lab1.boundary
    )
    before = len(store.list_labs())
    store.add_lab(lab)
    store.add_lab(lab)
    assert len(store.list_labs()) == before + 1


def test_deleting_a_network_names_and_hides_what_goes_with_it_and_undo_restores(store, world):
    a, b, only_a, both, lab1, lab2 = world
    goes = store.trash_contents("network", a.id)
    assert goes["networks"] == ["Net A"] and goes["cities"] == ["Leipzig"]  # Halle is in B too
    assert goes["labs"] == ["East"] and goes["notes"] == 1 and goes["lab_ids"] == [lab1.id]
    batch = store.trash("network", a.id)
    assert [n.name for n in store.list_networks()] == ["Net B"]
    assert [c.name for c in store.list_cities()] == ["Halle"]
    assert store.list_cities()[0].network_ids == (b.id,)
    assert [x.title for x in store.list_labs()] == ["Saale"]
    assert store.list_annotations(lab1.id)  # kept, not erased
    assert store.list_trash()[0]["names"] == ["Net A", "Leipzig", "East"]
    with pytest.raises(NotFoundError):
        store.trash("network", a.id)  # already deleted
    assert store.restore_trash(batch) == 3
    assert {x.title for x in store.list_labs()} == {"East", "Saale"}
    assert len(store.list_networks()) == 2 and store.list_trash() == []


def test_deleting_a_city_or_lab(store, world):
    _, _, _, both, lab1, lab2 = world
    assert store.trash_contents("city", both.id)["labs"] == ["Saale"]
    store.trash("lab", lab1.id)
    store.trash("city", both.id)
    assert store.list_labs() == [] and [c.name for c in store.list_cities()] == ["Leipzig"]
    assert len(store.list_trash()) == 2


def test_only_owners_delete_and_never_during_a_session(store, world):
    a, _, _, _, lab1, _ = world
    store.set_passcode("owner", "a long passcode", by=SYSTEM)
    facilitator = Actor("facilitator", "F")
    with pytest.raises(PermissionDenied):
        store.trash("lab", lab1.id, by=facilitator)
    with pytest.raises(PermissionDenied):
        store.trash("lab", lab1.id)  # anonymous in a protected workspace
    store.create_session(lab1.id, "Workshop", by=facilitator)
    with pytest.raises(ValidationError) as exc:
        store.trash("network", a.id, by=SYSTEM)
    assert exc.value.key == "setup.delete.session_running"
    with pytest.raises(ValidationError):
        store.trash("layer", lab1.id, by=SYSTEM)
