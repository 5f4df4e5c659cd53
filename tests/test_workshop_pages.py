"""AppTest of the workshop pages: passcode set-up and sign-in, session and rounds on the
facilitator page, the join flow onto the map (group kept on reconnect, Draw gone in the vote
round), the presenter view, and moderation."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit as st
from shapely.geometry import Point
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import MUNICH_LAB
from workbench.access import GROUP_COLOURS, SYSTEM, Actor
from workbench.errors import PermissionDenied
from workbench.live import changes_since
from workbench.model import Annotation, new_id

LAB = MUNICH_LAB
PASSCODE = "correct horse battery"
FAC = Actor("facilitator", "Fac")


@pytest.fixture(autouse=True)
def fresh_store_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def app(page: str, query: dict | None = None, lab: str | None = LAB) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    if lab:
        at.session_state["lab_id"] = lab
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, form: str) -> None:
    next(b for b in at.button if (b.key or "").startswith(f"FormSubmitter:{form}-")).click()
    at.run()
    assert not at.exception, at.exception


def texts(at: AppTest) -> str:
    return " ".join(
        str(e.value)
        for kind in (
            "markdown",
            "caption",
            "info",
            "error",
            "success",
            "subheader",
            "title",
            "code",
        )
        for e in getattr(at, kind)
    ).replace("\\", "")  # md_escape undone


def walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from walk(child)


def images(at: AppTest) -> list:
    return [e for e in walk(at._tree) if type(e).__name__ == "Image"]


def folium_args(at: AppTest) -> dict:
    element = next(
        e
        for e in walk(at._tree)
        if type(e).__name__ == "UnknownElement" and e.type == "component_instance"
    )
    return json.loads(element.proto.json_args)


def live_data(at: AppTest) -> dict:
    """What the page gave its live channel (workbench.ui.live.live_channel)."""
    element = next(
        e
        for e in walk(at._tree)
        if type(e).__name__ == "UnknownElement"
        and e.type == "bidi_component"
        and e.proto.component_name == "workbench_live"
    )
    return json.loads(element.proto.json)


def test_facilitator_sets_passcode_runs_session_and_rounds(demo_store):
    at = app("pages/workshop.py")
    assert "owner passcode" in texts(at)  # first set-up
    at.text_input[0].set_value(PASSCODE)
    at.text_input[1].set_value(PASSCODE)
    submit(at, "workshop_setup_form")
    assert "Signed in" in texts(at)
    submit(at, "workshop_create_form")
    session = demo_store.active_session(LAB)
    assert session is not None
    link = next(c.value for c in at.code if "/join?" in c.value)
    assert parse_qs(urlsplit(link).query)["t"] == [demo_store.join_token(session.id)]
    assert images(at)  # the QR code
    # a collect round with a timer, then pause, then the vote round
    at.selectbox(key="workshop_round_kind").set_value("collect")
    at.number_input(key="workshop_round_minutes").set_value(5)
    submit(at, "workshop_round_form")
    assert "Round 1: Collect (running)" in texts(at)
    at.button(key="workshop_pause").click().run()
    assert demo_store.current_round(session.id).status == "paused"
    assert "(paused)" in texts(at)
    at.button(key="workshop_resume").click().run()
    at.selectbox(key="workshop_round_kind").set_value("vote")
    submit(at, "workshop_round_form")
    assert demo_store.phase(LAB) == ("vote", False)
    at.button(key="workshop_round_end").click().run()
    assert [r.snapshot_id is not None for r in demo_store.list_rounds(session.id)] == [True, True]
    assert "Ended rounds and their snapshots (2)" in " ".join(e.label for e in at.expander)


def test_wrong_passcode_is_refused_then_slowed(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    at = app("pages/workshop.py")
    for _ in range(3):
        at.text_input(key="workshop_passcode").set_value("not it at all")
        submit(at, "workshop_signin_form")
        assert "Wrong passcode." in texts(at)
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    assert "Too many wrong passcodes" in texts(at)
    assert "Signed in" not in texts(at)


def test_join_flow_lands_on_map_ready_to_draw_and_keeps_group(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = demo_store.create_session(LAB, "Workshop", by=FAC)
    token = demo_store.join_token(session.id)
    at = app("pages/join.py", {"t": token, "ws": "demo"}, lab=None)
    assert at.title[0].value == "Join the workshop"
    at.text_input(key="workshop_join_group").set_value("<b>Team</b> Süd")
    at.radio(key="workshop_join_colour").set_value("green")
    submit(at, "workshop_join_form")
    assert at.title[0].value == "Living-lab map"
    at.switch_page("pages/map.py")  # AppTest reruns its own page: follow the switch as a
    at.run()  # browser does (the URL now names the map)
    member = at.query_params["member"]
    member = member[0] if isinstance(member, list) else member
    assert demo_store.resume_member(member).group == "<b>Team</b> Süd"
    assert demo_store.session_groups(session.id) == {"<b>Team</b> Süd": GROUP_COLOURS["green"]}
    assert "Draw" in folium_args(at)["script"] or "draw" in folium_args(at)["script"].lower()
    author = at.text_input(key="_annotate_author_widget")
    assert author.value == "<b>Team</b> Süd" and author.disabled
    # add without the map: stored under the group, whatever the field said
    at.text_area[0].set_value("Bench needed")
    submit(at, "annotate_add_form")
    assert [a.author for a in demo_store.list_annotations(LAB)] == ["<b>Team</b> Süd"]

    # a reconnect: a fresh browser session with only the URL's member token
    back = app("pages/map.py", {"lab": LAB, "member": member})
    assert back.text_input(key="_annotate_author_widget").value == "<b>Team</b> Süd"
    banner = next(i.value for i in back.info if "Participant" in i.value)
    assert "Participant · \\<b\\>Team\\</b\\> Süd" in banner  # escaped: shown as text

    # the vote round: no drawing tools, no adding form; the store refuses anyway
    demo_store.start_round(session.id, "vote", by=FAC)
    back.run()
    assert "leaflet-draw" not in folium_args(back)["script"].lower()
    assert "Draw(" not in folium_args(back)["script"]
    assert not [f for f in back.get("form") if "annotate_add_form" in str(f.proto)]
    assert "only voting is possible" in texts(back)


def test_join_with_a_tampered_link_is_refused(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = demo_store.create_session(LAB, "Workshop", by=FAC)
    token = demo_store.join_token(session.id)
    at = app("pages/join.py", {"t": token[:-3] + "xyz", "ws": "demo"}, lab=None)
    assert "This join link is not valid" in texts(at)
    assert [w.key for w in at.text_input] == ["workshop_join_code"]  # no group form; a code


def test_join_by_the_code_on_the_shared_screen(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = demo_store.create_session(LAB, "Workshop", by=FAC)
    code = demo_store.join_code(session.id)
    assert len(code) == 6 and not set(code) & set("0O1IL2Z5S8BUV6G")
    at = app("pages/join.py", lab=None)  # from the sidebar, without a link
    assert "not valid" not in texts(at)
    at.text_input(key="workshop_join_code").set_value("nope42")
    submit(at, "workshop_code_form")
    assert "No workshop running here has this code" in texts(at)
    # typed loosely: lower case, with a space and a dash
    at.text_input(key="workshop_join_code").set_value(f"{code[:3].lower()} -{code[3:]}")
    submit(at, "workshop_code_form")
    assert not at.exception
    assert at.query_params["t"] in (
        demo_store.join_token(session.id),
        [demo_store.join_token(session.id)],
    )
    assert at.text_input(key="workshop_join_group") is not None  # the group form now
    demo_store.end_session(session.id, by=FAC)
    assert demo_store.token_for_code(code) is None  # gone with its session


def test_join_codes_are_rate_limited_like_passcodes(demo_store):
    demo_store.create_session(LAB, "Workshop", by=FAC)
    for _ in range(3):  # the free attempts
        demo_store.count_code_attempt("client-1")
    with pytest.raises(PermissionDenied) as waited:
        demo_store.count_code_attempt("client-1")
    assert waited.value.key == "workshop.error.wait"
    demo_store.count_code_attempt("client-2")  # another client is not slowed


def test_viewer_sees_no_drawing_tools_in_a_protected_workspace(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    at = app("pages/map.py")
    assert "Draw(" not in folium_args(at)["script"]
    assert "leaflet-draw" not in folium_args(at)["script"].lower()
    banner = texts(at)
    assert "You are looking on" in banner and "join code" in banner  # what a viewer can do
    assert "— —" not in banner


def test_presenter_view_shows_round_timer_newest_and_follows_the_view(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = demo_store.create_session(LAB, "Workshop", by=FAC)
    demo_store.start_round(session.id, "collect", by=FAC, minutes=10)
    for text in ("first note", "<script>x</script> second"):
        demo_store.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=LAB,
                geometry=Point(11.551, 48.186),
                category="idea",
                text=text,
                author="Group A",
            ),
            by=FAC,
        )
    demo_store.set_lab_setting(
        LAB, "workshop_view", {"bounds": [11.54, 48.18, 11.56, 48.19], "layers": []}, by=FAC
    )
    at = app("pages/present.py")
    html = " ".join(m.value for m in at.markdown)
    assert "Round 1: Collect" in html
    # the timer, the room and the facilitator's extent come through the live channel
    live = live_data(at)
    assert live["timer"] and live["presence"] and live["follow_view"] and live["scale"] == 2
    delta = changes_since(demo_store, LAB, 0, FAC, marker_scale=live["scale"])
    assert delta.session["round"]["minutes"] == 10 and delta.session["round"]["started_at"]
    assert delta.session["view"]["bounds"] == [11.54, 48.18, 11.56, 48.19]
    assert {f["properties"]["s"]["radius"] for f in delta.features} == {16.0}  # big markers
    assert "&lt;script&gt;x&lt;/script&gt; second" in html and "<script>x" not in html
    assert html.index("second") < html.index("first note")  # newest first
    args = folium_args(at)
    assert args["returned_objects"] == []
    assert args["center"] and abs(args["center"][0] - 48.185) < 1e-6
    assert "Draw(" not in args["script"]
    assert images(at)  # the room joins from the shared screen: QR code and code
    session = demo_store.active_session(LAB)
    assert demo_store.join_code(session.id) in html or demo_store.join_code(session.id) in " ".join(
        m.value for m in at.markdown
    )
    # the facilitator moves: the live channel moves the map; a rerun starts there too
    demo_store.set_lab_setting(
        LAB, "workshop_view", {"bounds": [11.50, 48.10, 11.52, 48.12]}, by=FAC
    )
    at.run()
    assert abs(folium_args(at)["center"][0] - 48.11) < 1e-6


def test_moderation_hides_and_restores(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    demo_store.create_session(LAB, "Workshop", by=FAC)
    a = demo_store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=LAB,
            geometry=Point(11.551, 48.186),
            category="problem",
            text="rude words",
            author="Group B",
        ),
        by=FAC,
    )
    at = app("pages/workshop.py")
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    at.button(key=f"workshop_hide_{a.id}").click().run()
    assert demo_store.count_annotations(LAB) == 0
    at.button(key=f"workshop_show_{a.id}").click().run()
    assert demo_store.count_annotations(LAB) == 1


def test_signing_in_without_a_name_is_named_by_the_role_not_a_message_key(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    assert demo_store.sign_in(PASSCODE, "c").group == ""  # the store stores no message key
    assert demo_store.sign_in(PASSCODE, "c", " Ana\x00  María ").group == "Ana María"
    at = app("pages/workshop.py", query={"lang": "de"})
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    shown = texts(at)
    assert "Angemeldet: Eigentümer/in (Eigentümer/in)" in shown
    assert "workshop.role" not in shown


def _presenter_layers(store, lab_id: str) -> str:  # type: ignore[no-untyped-def]
    """A cached OSM theme and an upload named "A & B" on ``lab_id``; the upload's id."""
    import geopandas as gpd
    from shapely.geometry import box

    from workbench.opendata.cache import save_theme
    from workbench.opendata.files import UserLayer, save_upload

    area = gpd.GeoDataFrame(
        {"osm_id": ["way/1"], "osm_key": ["building"], "osm_value": ["yes"], "name": ["Haus"]},
        geometry=[box(11.550, 48.185, 11.551, 48.186)],
        crs=4326,
    )
    save_theme(
        store,
        lab_id,
        "buildings",
        area,
        {"fetched_at": "2026-01-01T00:00:00+00:00", "source": "test"},
    )
    upload = save_upload(
        store,
        lab_id,
        UserLayer(name="A & B", gdf=area[["name", "geometry"]], format="geojson"),
        by=SYSTEM,
    )
    return upload.id


def test_presenter_layers_are_kept_by_id_across_languages(demo_store):
    from workbench.i18n import t
    from workbench.workshop import presenter_layer_ids

    upload_id = _presenter_layers(demo_store, LAB)
    # a view saved before: the German, HTML-escaped labels; read as the layers' ids
    old = {"layers": [t("opendata.theme.buildings", "de"), "A &amp; B"]}
    assert presenter_layer_ids(demo_store, LAB, old) == ["osm:buildings", upload_id]
    assert presenter_layer_ids(demo_store, LAB, {}) is None
    # the facilitator works in German and picks both layers ...
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    demo_store.create_session(LAB, "Workshop", by=FAC)
    demo_store.set_lab_setting(LAB, "workshop_view", {"layers": []}, by=FAC)
    at = app("pages/workshop.py", query={"lang": "de"})
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    picker = at.multiselect(key="workshop_presenter_layers")
    assert picker.value == []  # the old, empty choice read
    assert "A & B" in picker.options and "A &amp; B" not in picker.options  # names, as typed
    picker.set_value(["osm:buildings", upload_id]).run()
    view = demo_store.lab_setting(LAB, "workshop_view")
    assert view["layer_ids"] == ["osm:buildings", upload_id] and "layers" not in view
    # ... and the presenter view in English shows them
    # (each layer draws the feature "Haus": its popup is in the map's script once per layer)
    script = folium_args(app("pages/present.py", query={"lang": "en"}))["script"]
    assert script.count("Haus") == 2
    demo_store.set_lab_setting(LAB, "workshop_view", {"layer_ids": [upload_id]}, by=FAC)
    st.cache_resource.clear()
    script = folium_args(app("pages/present.py", query={"lang": "en"}))["script"]
    assert script.count("Haus") == 1
