"""User text never becomes markdown: every page, rendered with hostile names and texts, shows no
link, image or HTML built from them (issue 15, item 7).

A workspace whose network, city, lab, category, group, note, comment, layer, snapshot and
workshop names are markdown images, links and HTML is shown page by page with AppTest; every
string Streamlit renders as markdown (bodies of markdown, captions, headings, alerts, toasts;
labels and help texts of widgets, expanders, tabs; radio options) is scanned for image, link,
autolink and HTML syntax that is not escaped.
"""

from __future__ import annotations

import html
import json
import re

import pytest
import shapely
import streamlit as st
from shapely.geometry import Point, box
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from workbench.access import Actor
from workbench.model import Annotation, Category, City, Comment, LivingLab, Network, new_id

BEACON = "127.0.0.1:9"  # nothing is fetched in AppTest; the browser test uses a real beacon
IMG = f"![x](http://{BEACON}/i.png)"
LINK = f"[click](http://{BEACON}/)"
HTML = f"<img src=http://{BEACON}/h>"
FAC = Actor("facilitator", "Fac")


def hostile(tag: str, short: bool = False, beacon: str = BEACON) -> str:
    text = f"{tag}{IMG}" if short else f"{tag} {IMG} {LINK} {HTML} *b* :red[r] $x$"
    return text.replace(BEACON, beacon)


@pytest.fixture(autouse=True)
def fresh_store_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def populate(s, beacon: str = BEACON) -> tuple[LivingLab, Annotation]:
    """A lab, in a city and network, with notes, comments, a category, an upload, a snapshot,
    every name and text hostile (pointing at ``beacon``)."""
    from workbench.export import take_snapshot
    from workbench.opendata.files import read_user_file, save_upload

    def h(tag: str, short: bool = False) -> str:
        return hostile(tag, short, beacon)

    net = s.add_network(Network(id=new_id(), name=h("N"), countries=("DE",), description=h("D")))
    city = s.add_city(
        City(
            id=new_id(),
            name=h("C", short=True),
            country="DE",
            lon=11.0,
            lat=49.0,
            network_ids=(net.id,),
        )
    )
    lab = s.add_lab(
        LivingLab(
            id=new_id(),
            city_id=city.id,
            network_id=net.id,
            title=h("L"),
            summary=h("S"),
            boundary=box(11.0, 49.0, 11.004, 49.003),
        )
    )
    s.save_category(
        Category(
            code="evil",
            colour="#112233",
            labels={lg: h("K", short=True) for lg in ("en", "de", "uk")},
        )
    )
    note = s.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab.id,
            geometry=Point(11.001, 49.001),
            category="evil",
            text=h("T"),
            author=h("G", short=True),
        )
    )
    s.update_annotation(note.id, name=h("E", short=True), expected_version=1, text=h("T2"))
    s.add_comment(
        Comment(id=new_id(), annotation_id=note.id, author=h("A", short=True), text=h("M"))
    )
    geojson = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": h("F")},
                    "geometry": shapely.geometry.mapping(Point(11.002, 49.002)),
                }
            ],
        }
    ).encode()
    save_upload(s, lab.id, read_user_file("points.geojson", geojson), name=h("Y"))
    take_snapshot(s, lab.id, h("P"), created_by=h("B", short=True))
    return lab, s.get_annotation(note.id)


@pytest.fixture
def hostile_lab(demo_store):
    return populate(demo_store)


def markdown_strings(at: AppTest) -> list[str]:
    """Every string of the rendered page that Streamlit reads as markdown."""
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            fields = proto.DESCRIPTOR.fields_by_name
            for name in ("body", "label", "help"):
                if name in fields and isinstance(getattr(proto, name), str):
                    found.append(getattr(proto, name))
            if getattr(node, "type", "") == "radio":
                found.extend(proto.options)
            for kind in ("expandable", "tab", "popover"):
                if (
                    "type" in [o.name for o in proto.DESCRIPTOR.oneofs]
                    and proto.WhichOneof("type") == kind
                ):
                    found.append(getattr(proto, kind).label)
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    found.extend(str(t.proto.body) for t in at.toast)
    return [f for f in found if f]


_ESCAPED = re.compile(r"\\.|&#?\w+;", re.S)


def active(text: str) -> str:
    """The text with escaped characters (``\\[``, ``&#91;``) blanked out: what markdown may
    still read as syntax."""
    return _ESCAPED.sub(" ", text)


def leaks(strings: list[str]) -> list[str]:
    bad = []
    for text in strings:
        live = active(text)
        if (
            "](" in live
            or "![" in live
            or re.search(r"<\s*img", live, re.I)
            or f"://{BEACON}" in live
            or f"<http://{BEACON}" in live
        ):
            bad.append(text)
    return bad


def test_the_leak_check_catches_raw_user_text_and_passes_escaped_text():
    from workbench.ui import md_escape

    assert leaks([hostile("x")]) and leaks([IMG]) and leaks([LINK]) and leaks([HTML])
    assert leaks([f"http://{BEACON}/"])  # a GFM autolink
    assert not leaks([md_escape(hostile("x")), md_escape(IMG), "**bold** [x]"])


PAGES = [
    "pages/home.py",
    "pages/setup.py",
    "pages/map.py",
    "pages/layers.py",
    "pages/compare.py",
    "pages/export.py",
    "pages/workshop.py",
    "pages/present.py",
    "pages/join.py",
]


def _render(
    page: str, lab_id: str, query: dict | None = None, state: dict | None = None
) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90)
    at.session_state["lab_id"] = lab_id
    for k, v in (state or {}).items():
        at.session_state[k] = v
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _assert_no_leaks(at: AppTest, page: str, expect: tuple[str, ...] = ()) -> None:
    strings = markdown_strings(at)
    assert not leaks(strings), (page, leaks(strings))
    shown = html.unescape(" ".join(strings).replace("\\", ""))
    for tag in expect:  # the hostile text is shown, only made literal
        assert f"{tag}![x]" in shown or f"{tag} ![x]" in shown, (page, tag)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_names_literally(hostile_lab, page):
    lab, note = hostile_lab
    state = {"annotate_selected": note.id, f"annotate_seen_{note.id}": 1}  # changed since seen
    at = _render(page, lab.id, state=state)
    expect = {
        "pages/map.py": ("T2", "E", "A", "M"),
        "pages/export.py": ("P", "B"),
        "pages/layers.py": ("Y",),
        "pages/home.py": ("L",),
    }.get(page, ())
    _assert_no_leaks(at, page, expect)


def test_workshop_pages_with_a_hostile_session_and_group(hostile_lab, demo_store):
    from workbench.settings import DEMO_WORKSPACE

    lab, _note = hostile_lab
    session = demo_store.create_session(lab.id, hostile("W"), by=FAC)
    token = demo_store.join_token(session.id)
    _actor, member = demo_store.join_session(token, hostile("J", short=True), "#E69F00")
    demo_store.start_round(session.id, "vote", by=FAC)
    login = {
        "workshop_login": {
            "workspace": DEMO_WORKSPACE,
            "role": "owner",
            "name": hostile("O", short=True),
        }
    }
    for page, query, state, expect in (
        ("pages/workshop.py", {}, login, ("W", "J")),
        ("pages/present.py", {}, login, ("T2",)),
        ("pages/map.py", {"member": member}, {}, ("J",)),
        ("pages/join.py", {"join": token}, {}, ()),
    ):
        at = _render(page, lab.id, query=query, state=state)
        _assert_no_leaks(at, page, expect)


def test_upload_messages_escape_file_names_and_contents(hostile_lab):
    from workbench.ui import md_escape

    lab, _note = hostile_lab
    at = _render("pages/layers.py", lab.id)
    errors: list[str] = []
    evil_name = f"{IMG}{LINK}.geojson"
    body = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Point", "coordinates": [f"{IMG}", 1]},
                }
            ],
        }
    )
    for name, data in (
        (evil_name, body.encode()),
        (evil_name, b"{" + IMG.encode()),
        (f"{IMG}.zip", b"PK\x03\x04" + IMG.encode()),
        (f"{IMG}.gpx", IMG.encode()),
    ):
        at.file_uploader(key="layers_upload").set_value((name, data, "application/json")).run()
        buttons = [b for b in at.button if b.label == "Add layer"]
        if buttons:
            buttons[0].click().run()
        assert not at.exception
        _assert_no_leaks(at, "pages/layers.py")
        errors.extend(e.value for e in at.error)
    # the bad files were refused with a message that names them, literally
    assert any(md_escape(f"{IMG}{LINK}.geojson") in e for e in errors), errors
