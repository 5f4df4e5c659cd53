"""The set-up writes are guarded in the library too: networks, cities and living labs
(``setup.edit``), uploaded layers and the OSM cache (``layers.edit``), snapshots
(``snapshot.manage``). Every role against every such write through the store directly;
``by=None`` with and without a passcode; the command line and the demo seeding (``SYSTEM``) on a
protected workspace; the set-up page refusing a viewer who gets past the disabled button."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pytest
import streamlit as st
from shapely.geometry import Point
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import MUNICH_LAB
from workbench import export
from workbench.access import GROUP_COLOURS, PERMISSIONS, SYSTEM, Actor
from workbench.errors import PermissionDenied
from workbench.export.snapshots import take_snapshot
from workbench.model import City, Layer, LivingLab, Network, Snapshot, new_id
from workbench.opendata.files import UserLayer, delete_upload, save_upload
from workbench.workshop import end_round

LAB = MUNICH_LAB  # Munich, in the demo workspace
PASSCODE = "correct horse battery"
OWNER = Actor("owner", "Owner")
FAC = Actor("facilitator", "Fac")
SETUP_ACTIONS = ("setup.edit", "layers.edit", "snapshot.manage")


@pytest.fixture
def ws(demo_store):
    """The protected demo workspace with a session on the Munich lab and one group joined,
    plus a spare network, city, lab, layer and snapshot to edit and delete."""
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = s.create_session(LAB, "Workshop", by=OWNER)
    participant, _ = s.join_session(s.join_token(session.id), "Group A", GROUP_COLOURS["blue"])
    munich = s.get_lab(LAB)
    net = s.add_network(Network(id=new_id(), name="Spare network", countries=("DE",)), by=OWNER)
    city = s.add_city(
        City(
            id=new_id(),
            name="Spare city",
            country="DE",
            lon=11.55,
            lat=48.18,
            network_ids=(net.id,),
        ),
        by=OWNER,
    )
    spare_lab = s.add_lab(
        replace(munich, id=new_id(), title="Spare lab", city_id=city.id, network_id=net.id),
        by=OWNER,
    )
    layer = s.add_layer(Layer(id=new_id(), lab_id=LAB, name="Spare layer", kind="upload"), by=OWNER)
    snap = s.add_snapshot(
        Snapshot(id=new_id(), lab_id=LAB, name="Spare snapshot", state={}), by=OWNER
    )
    empty_net = s.add_network(
        Network(id=new_id(), name="Empty network", countries=("DE",)), by=OWNER
    )
    empty_city = s.add_city(replace(city, id=new_id(), name="Empty city"), by=OWNER)
    return {
        "s": s,
        "participant": participant,
        "net": net,
        "city": city,
        "lab": spare_lab,
        "layer": layer,
        "snap": snap,
        "munich": munich,
        "empty_net": empty_net,
        "empty_city": empty_city,
    }


def actors(ws) -> dict[str, Actor]:
    return {
        "owner": OWNER,
        "facilitator": FAC,
        "participant": ws["participant"],
        "viewer": Actor("viewer"),
    }


def user_layer() -> UserLayer:
    gdf = gpd.GeoDataFrame({"name": ["Kiosk"]}, geometry=[Point(11.551, 48.186)], crs=4326)
    return UserLayer(name="kiosks", gdf=gdf, format="geojson")


#: Every set-up write, as (action, function(store, actor, fixtures)).
WRITES = {
    "add_network": (
        "setup.edit",
        lambda s, who, w: s.add_network(
            Network(id=new_id(), name="New network", countries=("AT",)), by=who
        ),
    ),
    "update_network": (
        "setup.edit",
        lambda s, who, w: s.update_network(replace(w["net"], name="Renamed network"), by=who),
    ),
    "delete_network": ("setup.edit", lambda s, who, w: s.delete_network(w["empty_net"].id, by=who)),
    "add_city": (
        "setup.edit",
        lambda s, who, w: s.add_city(
            City(
                id=new_id(),
                name="New city",
                country="DE",
                lon=11.0,
                lat=48.0,
                network_ids=(w["net"].id,),
            ),
            by=who,
        ),
    ),
    "update_city": (
        "setup.edit",
        lambda s, who, w: s.update_city(replace(w["city"], name="Renamed city"), by=who),
    ),
    "delete_city": ("setup.edit", lambda s, who, w: s.delete_city(w["empty_city"].id, by=who)),
    "add_lab": (
        "setup.edit",
        lambda s, who, w: s.add_lab(replace(w["munich"], id=new_id(), title="New lab"), by=who),
    ),
    "update_lab": (
        "setup.edit",
        lambda s, who, w: s.update_lab(replace(w["munich"], title="Renamed lab"), by=who),
    ),
    "delete_lab": ("setup.edit", lambda s, who, w: s.delete_lab(w["lab"].id, by=who)),
    "add_layer": (
        "layers.edit",
        lambda s, who, w: s.add_layer(
            Layer(id=new_id(), lab_id=LAB, name="New layer", kind="upload"), by=who
        ),
    ),
    "update_layer_style": (
        "layers.edit",
        lambda s, who, w: s.update_layer_style(w["layer"].id, {"color": "#000000"}, by=who),
    ),
    "delete_layer": ("layers.edit", lambda s, who, w: s.delete_layer(w["layer"].id, by=who)),
    "save_upload": ("layers.edit", lambda s, who, w: save_upload(s, LAB, user_layer(), by=who)),
    "delete_upload": ("layers.edit", lambda s, who, w: delete_upload(s, w["layer"], by=who)),
    "osm_cache": ("layers.edit", lambda s, who, w: s.require_permission(who, "layers.edit", LAB)),
    "add_snapshot": (
        "snapshot.manage",
        lambda s, who, w: s.add_snapshot(
            Snapshot(id=new_id(), lab_id=LAB, name="New snapshot", state={}), by=who
        ),
    ),
    "take_snapshot": ("snapshot.manage", lambda s, who, w: take_snapshot(s, LAB, "Taken", by=who)),
    "delete_snapshot": (
        "snapshot.manage",
        lambda s, who, w: s.delete_snapshot(w["snap"].id, by=who),
    ),
}


def state(s) -> tuple:
    """Everything a set-up write could change (uploaded layers' features included)."""
    files = s.features.names("upload", LAB)
    return (
        s.list_networks(),
        s.list_cities(),
        s.list_labs(),
        s.list_layers(LAB),
        s.list_snapshots(LAB),
        files,
    )


def test_the_matrix_owner_and_facilitator_set_up_participant_and_viewer_do_not():
    for action in SETUP_ACTIONS:
        assert {role for role, allowed in PERMISSIONS.items() if action in allowed} == {
            "owner",
            "facilitator",
        }, action


@pytest.mark.parametrize("role", ["owner", "facilitator", "participant", "viewer"])
@pytest.mark.parametrize("write", list(WRITES))
def test_every_role_every_setup_write_through_the_store(ws, role, write):
    s = ws["s"]
    action, do = WRITES[write]
    who = actors(ws)[role]
    if role in ("owner", "facilitator"):
        before = state(s)
        do(s, who, ws)
        if write != "osm_cache":  # (only a check: its files are written by opendata.osm)
            assert state(s) != before
        return
    before = state(s)
    with pytest.raises(PermissionDenied) as exc:
        do(s, who, ws)
    # (a participant acting on a lab without their session is not even in a session there)
    assert exc.value.key in (f"workshop.denied.{role}", "workshop.denied.not_in_session")
    assert exc.value.message("de") != exc.value.message("en")  # translated
    assert state(s) == before  # nothing written, no upload file left behind


def test_by_none_is_local_mode_only_until_a_passcode_is_set(store):
    # no passcode: the local single-user mode may set everything up without an actor
    net = store.add_network(Network(id=new_id(), name="Local", countries=("DE",)))
    city = store.add_city(
        City(id=new_id(), name="Town", country="DE", lon=11.55, lat=48.18, network_ids=(net.id,))
    )
    lab = store.add_lab(
        LivingLab(
            id=new_id(),
            city_id=city.id,
            network_id=net.id,
            title="Square",
            boundary=Point(11.55, 48.18).buffer(0.001),
        )
    )
    layer = save_upload(store, lab.id, user_layer())
    snap = take_snapshot(store, lab.id, "Before")
    store.require_permission(None, "layers.edit", lab.id)

    store.set_passcode("owner", PASSCODE, by=SYSTEM)
    before = (
        store.list_networks(),
        store.list_cities(),
        store.list_labs(),
        store.list_layers(lab.id),
        store.list_snapshots(lab.id),
    )
    refused = [
        lambda: store.add_network(Network(id=new_id(), name="Sneaky", countries=("DE",))),
        lambda: store.update_network(replace(net, name="Sneaky")),
        lambda: store.delete_network(net.id),
        lambda: store.add_city(replace(city, id=new_id(), name="Sneaky")),
        lambda: store.update_city(replace(city, name="Sneaky")),
        lambda: store.delete_city(city.id),
        lambda: store.add_lab(replace(lab, id=new_id(), title="Sneaky")),
        lambda: store.update_lab(replace(lab, title="Sneaky")),
        lambda: store.delete_lab(lab.id),
        lambda: save_upload(store, lab.id, user_layer()),
        lambda: store.update_layer_style(layer.id, {"color": "#000000"}),
        lambda: delete_upload(store, layer),
        lambda: take_snapshot(store, lab.id, "Sneaky"),
        lambda: store.delete_snapshot(snap.id),
        lambda: store.require_permission(None, "layers.edit", lab.id),
    ]
    for i, write in enumerate(refused):
        with pytest.raises(PermissionDenied) as exc:
            write()
        assert exc.value.key == "guard.denied.protected", i
        assert "passcode" in exc.value.message("en")
        assert "Passwort" in exc.value.message("de")
        assert "паролем" in exc.value.message("uk")
    assert (
        store.list_networks(),
        store.list_cities(),
        store.list_labs(),
        store.list_layers(lab.id),
        store.list_snapshots(lab.id),
    ) == before
    assert store.features.names("upload", lab.id) == [layer.id]  # no refused upload's data

    # the operator (command line, scripts) names itself and is let through
    assert store.update_network(replace(net, name="Renamed"), by=SYSTEM).name == "Renamed"
    take_snapshot(store, lab.id, "By the operator", by=SYSTEM)
    delete_upload(store, layer, by=SYSTEM)
    assert store.list_layers(lab.id) == []


def test_round_end_snapshot_is_taken_for_the_facilitator_in_a_protected_workspace(ws):
    s = ws["s"]
    session = s.active_session(LAB)
    s.start_round(session.id, "collect", by=FAC)
    ended = end_round(s, session.id, by=FAC)
    assert s.get_snapshot(ended.snapshot_id).created_by == "Fac"


def test_demo_seeding_and_cli_work_on_a_protected_workspace(demo_store, tmp_path, capsys):
    from workbench.cli import main
    from workbench.demo import seed
    from workbench.store import open_store

    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    assert seed(demo_store) == len(demo_store.list_labs())  # idempotent, as the operator
    # `workbench import` into a protected workspace
    target = open_store("protected", create=True)
    target.set_passcode("owner", PASSCODE, by=SYSTEM)
    gpkg = tmp_path / "lab.gpkg"
    assert main(["export", "--lab", LAB, "--format", "gpkg", "-o", str(gpkg)]) == 0
    assert main(["import", str(gpkg), "--workspace", "protected"]) == 0
    assert target.get_lab(LAB).title == demo_store.get_lab(LAB).title
    # a library caller without an actor is refused there
    with pytest.raises(PermissionDenied):
        export.import_geopackage(open_store("protected", create=True), gpkg)
    # `workbench demo --import-extracts` adds uploads to the protected demo workspace
    gdf = gpd.GeoDataFrame({"name": ["Kiosk"]}, geometry=[Point(11.551, 48.186)], crs=4326)
    folder = tmp_path / "extracts"
    folder.mkdir()
    gdf.to_file(folder / "kiosks.gpkg", layer="kiosks", driver="GPKG")
    assert main(["demo", "--import-extracts", str(folder)]) == 0
    assert [x.name for x in demo_store.list_layers(LAB, kind="upload")] == ["kiosks"]
    assert "workbench:" not in capsys.readouterr().err


# ---- the set-up page ----------------------------------------------------------------------------
@pytest.fixture
def fresh_store_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def setup_page(login: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    if login:
        at.session_state["workshop_login"] = login
    at.run()
    at.switch_page("pages/setup.py")
    at.run()
    assert not at.exception, at.exception
    return at


def save_button(at: AppTest):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if (b.key or "").startswith("FormSubmitter:network_form"))


def save_network(at: AppTest, name: str) -> None:
    """Fill in the new-network form and press its Save button."""
    next(x for x in at.text_input if x.label == "Name of the network").set_value(name)
    next(x for x in at.text_input if x.label == "Partner countries").set_value("DE")
    save_button(at).click().run()
    assert not at.exception, at.exception


def test_viewer_saving_on_the_setup_page_is_refused_with_nothing_written(
    demo_store, fresh_store_cache
):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    before = demo_store.list_networks()
    at = setup_page()  # a protected workspace, nobody signed in: a viewer
    assert any("only the workspace's owner or a facilitator" in i.value for i in at.info)
    save_network(at, "Viewer's network")
    assert [e.value for e in at.error] == [
        "You are viewing only: join the workshop through its link or sign in to change anything."
    ]
    assert not at.success
    assert demo_store.list_networks() == before


def test_setup_page_in_local_mode_saves_without_signing_in(store, fresh_store_cache):
    at = setup_page()
    at.session_state["workspace"] = "test"
    at.run()
    assert not any("only the workspace's owner" in i.value for i in at.info)
    save_network(at, "Local network")
    assert not at.error
    assert [n.name for n in store.list_networks()] == ["Local network"]


def test_signed_in_facilitator_saves_on_the_setup_page(demo_store, fresh_store_cache):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    at = setup_page(
        {
            "workspace": "demo",
            "role": "facilitator",
            "name": "Fac",
            "stamp": demo_store.passcode_stamp(),
        }
    )
    assert not any("only the workspace's owner" in i.value for i in at.info)
    save_network(at, "Facilitator's network")
    assert not at.error
    assert "Facilitator's network" in [n.name for n in demo_store.list_networks()]


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_viewer_gets_layers_and_snapshots_read_only(demo_store, fresh_store_cache):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    layer = save_upload(demo_store, LAB, user_layer(), by=OWNER)
    at = open_page("pages/layers.py")
    assert any("only the workspace's owner or a facilitator can fetch" in i.value for i in at.info)
    assert at.button(key="layers_fetch").disabled
    assert at.button(key=f"layers_delete_{layer.id}").disabled
    at = open_page("pages/export.py")
    assert any(
        "only the workspace's owner or a facilitator can save" in c.value for c in at.caption
    )
    assert next(
        b for b in at.button if (b.key or "").startswith("FormSubmitter:snapshot_form")
    ).disabled
