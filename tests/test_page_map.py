"""AppTest of the living-lab map page: a drawing injected through the st_folium key plus the form
stores an annotation; the list edits, deletes, restores, comments and votes; bad input is
refused with a message; the base map stays the same while the annotations change."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from shapely.geometry import Point
from streamlit.runtime.scriptrunner import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner

from tests.conftest import PROJECT_ROOT
from tests.helpers import MUNICH_LAB
from workbench.live import changes_since
from workbench.model import Annotation, new_id
from workbench.ui import md_escape

LAB = MUNICH_LAB
MAP_KEY = f"annotate_map_{LAB}"
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[11.550, 48.185], [11.552, 48.185], [11.552, 48.187], [11.550, 48.187], [11.550, 48.185]]
    ],
}


@pytest.fixture(autouse=True)
def fresh_store_cache():
    """The pages open the workspace once per process (st.cache_resource); every test has its
    own data directory, so the cached store must not leak from one test into the next."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def at(demo_store):
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    app.session_state["lab_id"] = LAB
    app.run()
    app.switch_page("pages/map.py")
    app.run()
    assert not app.exception
    return app


def draw(at: AppTest, geometry: dict) -> None:
    """What streamlit-folium puts into session state when a shape is finished on the map."""
    at.session_state[MAP_KEY] = {
        "last_active_drawing": {"type": "Feature", "properties": {}, "geometry": geometry}
    }
    at.run()


def submit(at: AppTest, form: str) -> None:
    next(b for b in at.button if (b.key or "").startswith(f"FormSubmitter:{form}-")).click()
    at.run()


def fill_and_save(
    at: AppTest, text: str, group: str = "Group A", category: str = "problem"
) -> None:
    at.selectbox(key="annotate_new_category").set_value(category)
    at.text_area(key="annotate_new_text").set_value(text)
    at.text_input(key="annotate_new_author").set_value(group)
    submit(at, "annotate_new_form")


def walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from walk(child)


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


def pushed(store) -> str:
    """Everything the live channel would send a fresh map of the lab (its features as JSON)."""
    return json.dumps(list(changes_since(store, LAB, 0).features), ensure_ascii=False)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def rerun_list_fragment(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the live channel asks for when others changed notes: a rerun of the list fragment
    only. AppTest has no call for that, so its run request is made to name the fragment, as the
    browser's is; the element tree then holds only what the fragment drew."""
    fragments = list(at._fragment_storage._fragments)
    assert len(fragments) == 1, fragments  # the list beside the map
    plain_rerun = RerunData  # the class local_script_runner imports and calls by name
    with monkeypatch.context() as patch:
        patch.setattr(
            local_script_runner,
            "RerunData",
            lambda **kw: plain_rerun(**kw, fragment_id_queue=fragments, is_auto_rerun=True),
        )
        at.run()


def list_title(at: AppTest) -> str:
    return next(h.value for h in at.subheader if h.value.startswith("Notes ("))


def someone_else_adds(store, text: str) -> Annotation:
    return store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=LAB,
            geometry=Point(11.551, 48.186),
            category="idea",
            text=text,
            author="Group B",
        )
    )


def test_page_renders_with_map_legend_and_list(at):
    assert at.title[0].value == "Living-lab map"
    args = folium_args(at)
    assert args["returned_objects"] == ["last_active_drawing"]
    assert "L.Control.Draw" in args["script"]  # the drawing tools
    assert "OpenStreetMap contributors" in args["script"]
    assert any("wb-legend" in m.value for m in at.markdown)


def test_drawing_plus_form_stores_an_annotation(at, demo_store):
    draw(at, SQUARE)
    assert at.text_area(key="annotate_new_text") is not None
    fill_and_save(at, "Parking forecourt could be a square", "Group A")
    assert not at.exception and not errors(at)
    [a] = demo_store.list_annotations(LAB)
    assert (a.category, a.text, a.author) == (
        "problem",
        "Parking forecourt could be a square",
        "Group A",
    )
    assert a.geometry.geom_type == "Polygon"
    assert any("Saved" in s.value for s in at.success)
    # the form is gone; the drawing is handled and not offered again; the name is remembered
    assert "annotate_pending" not in at.session_state
    at.run()
    assert len(demo_store.list_annotations(LAB)) == 1
    assert at.session_state["annotate_author"] == "Group A"
    # the live channel sends the saved note to the map, and empties the drawing layer once
    assert "Parking forecourt" in pushed(demo_store)
    assert "Parking forecourt" not in folium_args(at)["script"]  # not part of the base map
    assert live_data(at)["clear"] == 1
    at.run()
    assert live_data(at)["clear"] == 1


def test_base_map_stays_the_same_while_annotations_change(at, demo_store):
    before = folium_args(at)
    draw(at, SQUARE)
    fill_and_save(at, "A note")
    at.run()
    after = folium_args(at)
    assert before["script"] == after["script"]  # no remount, no jump
    assert "feature_group" not in after or not after["feature_group"]  # notes come live
    assert "A note" in pushed(demo_store)


def test_point_and_line_drawings(at, demo_store):
    draw(at, {"type": "Point", "coordinates": [11.551, 48.186]})
    fill_and_save(at, "Bus stop", category="strength")
    draw(at, {"type": "LineString", "coordinates": [[11.550, 48.185], [11.552, 48.186]]})
    fill_and_save(at, "Missing crossing", category="problem")
    kinds = sorted(a.geometry.geom_type for a in demo_store.list_annotations(LAB))
    assert kinds == ["LineString", "Point"]


@pytest.mark.parametrize(
    "geometry, key_text",
    [
        ({"type": "LineString", "coordinates": [[11.55, 48.18]]}, None),
        (
            {"type": "LineString", "coordinates": [[11.55, 48.18], [11.55, 48.18]]},
            "at least two different points",
        ),
        ({"type": "Point", "coordinates": [200.0, 95.0]}, "outside ±180°"),
    ],
)
def test_bad_geometry_is_refused_with_a_message(at, demo_store, geometry, key_text):
    draw(at, geometry)
    fill_and_save(at, "some text")
    assert not at.exception
    assert errors(at), "a message must be shown"
    if key_text:
        assert any(key_text in e for e in errors(at))
    assert demo_store.list_annotations(LAB) == []


def test_self_intersecting_polygon_is_repaired(at, demo_store):
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [
                [11.550, 48.185],
                [11.552, 48.187],
                [11.552, 48.185],
                [11.550, 48.187],
                [11.550, 48.185],
            ]
        ],
    }
    draw(at, bowtie)
    fill_and_save(at, "crossing shape")
    [a] = demo_store.list_annotations(LAB)
    assert a.geometry.is_valid and a.geometry.area > 0


def test_empty_and_too_long_text_are_refused_then_fixed_once(at, demo_store):
    draw(at, SQUARE)
    fill_and_save(at, "")
    assert any("Write a few words" in e for e in errors(at))
    fill_and_save(at, "x" * 100_000)
    assert any("too long" in e and "5,000" in e for e in errors(at))
    assert demo_store.list_annotations(LAB) == []
    pending_id = at.session_state["annotate_pending"]["id"]
    fill_and_save(at, "Now with words")
    [a] = demo_store.list_annotations(LAB)
    assert a.id == pending_id  # the client-made id: a repeated save stores one annotation


@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>",
        "</script><b>bold</b>",
        "مرحبا — שלום",
        "Привіт, Київ",
        "🚲🌳 emoji",
    ],
)
def test_hostile_and_international_text_is_stored_and_shown_literally(at, demo_store, text):
    draw(at, SQUARE)
    fill_and_save(at, text, group=text)
    [a] = demo_store.list_annotations(LAB)
    assert a.text == text and a.author == text
    at.run()
    # the list shows it through md_escape (markdown cannot turn it into HTML) ...
    shown = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert any(v.endswith(md_escape(text)) for v in shown)  # shown, markdown-escaped
    assert not any("<img" in v.replace("\\<img", "") or "<b>bold" in v for v in shown)
    # ... and the map gets it only escaped
    fg = pushed(demo_store)
    assert text[:4] in fg or "&" in fg
    assert "<img src=x" not in fg and "<b>bold</b>" not in fg


def test_list_select_edit_vote_comment_delete_undo(at, demo_store):
    draw(at, SQUARE)
    fill_and_save(at, "Dark underpass", "Group A")
    [a] = demo_store.list_annotations(LAB)
    next(b for b in at.button if b.key == f"annotate_pick_{a.id}").click()
    at.run()
    assert live_data(at)["selected"] == a.id  # the map highlights it and zooms to it
    # vote (the limit is 3 per round) and see the total
    at.button(key=f"vote_{a.id}").click()
    at.run()
    assert demo_store.vote_totals(LAB) == {a.id: 1}
    # comment
    at.text_area(key=f"annotate_comment_text_{a.id}").set_value("Agreed, needs light")
    submit(at, f"annotate_comment_form_{a.id}")
    assert [c.text for c in demo_store.list_comments(a.id)] == ["Agreed, needs light"]
    # edit text and category
    at.text_area(key=f"annotate_edit_text_{a.id}_1").set_value("Dark underpass, no lights")
    at.selectbox(key=f"annotate_edit_cat_{a.id}_1").set_value("question")
    submit(at, f"annotate_edit_{a.id}")
    b = demo_store.get_annotation(a.id)
    assert (b.text, b.category, b.version) == ("Dark underpass, no lights", "question", 2)
    # delete, then undo
    at.button(key=f"delete_{a.id}").click()
    at.run()
    assert demo_store.list_annotations(LAB) == []
    at.button(key="annotate_undo_button").click()
    at.run()
    assert [x.id for x in demo_store.list_annotations(LAB)] == [a.id]
    actions = [h.action for h in demo_store.annotation_history(a.id)]
    assert actions == ["created", "edited", "deleted", "restored"]


def test_edit_conflict_shows_a_message_and_keeps_the_other_change(at, demo_store):
    draw(at, SQUARE)
    fill_and_save(at, "Original", "Group A")
    [a] = demo_store.list_annotations(LAB)
    next(b for b in at.button if b.key == f"annotate_pick_{a.id}").click()
    at.run()
    # someone else saves while this user edits
    demo_store.update_annotation(a.id, name="Group B", expected_version=1, text="B was first")
    at.text_area(key=f"annotate_edit_text_{a.id}_1").set_value("A's late change")
    submit(at, f"annotate_edit_{a.id}")
    assert any("Group B changed this note" in e for e in errors(at))
    assert demo_store.get_annotation(a.id).text == "B was first"


def test_filters_and_add_without_map(at, demo_store):
    at.text_input(key="_annotate_author_widget").set_value("Група Б")
    at.run()
    area = next(ta for ta in at.text_area if ta.key is None)
    area.set_value("Немає лавок біля школи")
    submit(at, "annotate_add_form")
    [a] = demo_store.list_annotations(LAB)
    assert a.author == "Група Б" and a.geometry.geom_type == "Polygon"  # the whole site
    draw(at, SQUARE)
    fill_and_save(at, "Shop fronts are empty", "Group A", category="problem")
    at.multiselect(key="annotate_filter_groups").set_value(["Група Б"])
    at.run()
    picks = [b for b in at.button if (b.key or "").startswith("annotate_pick_")]
    assert [b.key for b in picks] == [f"annotate_pick_{a.id}"]
    at.multiselect(key="annotate_filter_groups").set_value([])
    at.text_input(key="annotate_filter_text").set_value("shop")
    at.run()
    picks = [b for b in at.button if (b.key or "").startswith("annotate_pick_")]
    assert len(picks) == 1 and picks[0].key != f"annotate_pick_{a.id}"


@pytest.mark.parametrize(
    "lang, title, idea",
    [("de", "Karte des Reallabors", "Idee"), ("uk", "Карта живої лабораторії", "Ідея")],
)
def test_page_in_german_and_ukrainian(demo_store, lang, title, idea):
    # One run only: AppTest re-formats the shared sidebar's selectboxes in English on a second
    # run (their format functions read the language from session state), which fails.
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    app.session_state["lab_id"] = LAB
    app.session_state["lang"] = lang
    app.switch_page("pages/map.py")
    app.run()
    assert not app.exception
    assert app.title[0].value == title
    assert any(idea in m.value for m in app.markdown)  # the legend


def test_the_live_channel_reruns_only_the_list_which_then_shows_others_notes(
    at, demo_store, monkeypatch
):
    assert list_title(at) == "Notes (0)"
    data = live_data(at)
    assert data["lab"] == LAB and data["path"] == f"/api/live/{LAB}/ws" and data["token"]
    assert data["rerun"] and data["colour_by"] == "category"
    someone_else_adds(demo_store, "Bench by the fountain")
    rerun_list_fragment(at, monkeypatch)
    assert not at.exception
    assert list_title(at) == "Notes (1)"
    assert any("Bench by the fountain" in c.value for c in at.caption)
    assert not [e for e in at._tree.children.values() if "component_instance" in str(e)]


def test_the_live_token_opens_this_lab_for_this_tab_only(at, demo_store):
    from workbench.errors import PermissionDenied
    from workbench.live import read_token

    token = live_data(at)["token"]
    claim = read_token(token, LAB)
    assert claim.workspace == "demo" and claim.lab_id == LAB
    other = next(x.id for x in demo_store.list_labs() if x.id != LAB)
    with pytest.raises(PermissionDenied):
        read_token(token, other)
    with pytest.raises(PermissionDenied):
        read_token(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), LAB)


def test_layers_that_cannot_be_read_are_said_not_dropped_silently(demo_store, monkeypatch):
    from workbench import mapview
    from workbench.errors import StorageError

    def unreadable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise StorageError("store.disk_full")

    monkeypatch.setattr(mapview, "lab_layers", unreadable)
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    app.session_state["lab_id"] = LAB
    app.run()
    app.switch_page("pages/map.py").run()
    assert not app.exception
    assert [e.value for e in app.error] == [StorageError("store.disk_full").message("en")]
    assert folium_args(app)["script"]  # the map is there, without the layers
