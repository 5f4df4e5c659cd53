"""AppTest of the foundation pages: they render, the language switch changes visible text."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import MUNICH_LAB

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def test_home_lists_demo_labs_and_switches_language():
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Living labs across the networks"
    assert [m.value for m in at.metric] == ["3", "28", "9"]
    language = at.sidebar.selectbox[0]
    assert language.options == ["English", "Deutsch", "Українська"]
    language.set_value("uk").run()
    assert at.title[0].value == "Живі лабораторії мереж"
    assert at.session_state["lang"] == "uk"
    at.sidebar.selectbox[0].set_value("de").run()
    assert at.title[0].value == "Reallabore in den Netzwerken"
    assert at.sidebar.selectbox[1].label == "Arbeitsbereich"
    assert "Dieses Reallabor öffnen" in [b.label for b in at.button]


def test_choosing_a_lab_carries_it_to_every_page():
    at = app().run()
    choose = next(b for b in at.button if b.key == f"choose_{MUNICH_LAB}")
    choose.click().run()
    assert at.session_state["lab_id"] == MUNICH_LAB
    at.switch_page("pages/setup.py").run()
    assert not at.exception
    assert at.session_state["lab_id"] == MUNICH_LAB
    assert at.text_input[0].value.startswith("Milbertshofen")


@pytest.mark.parametrize("lang", ["en", "de", "uk"])
def test_setup_page_renders_in_each_language(lang):
    at = app()
    at.session_state["lang"] = lang
    at.switch_page("pages/setup.py").run()
    assert not at.exception
    titles = {"en": "Set up networks", "de": "Netzwerke, Städte", "uk": "Налаштування мереж"}
    assert at.title[0].value.startswith(titles[lang])


def test_setup_refuses_lab_without_boundary_and_writes_nothing():
    at = app()
    at.switch_page("pages/setup.py").run()
    at.text_input[0].input("A new lab")
    at.button(key="FormSubmitter:lab_form_new-Save").click().run()
    assert not at.exception
    assert "Draw the site boundary" in at.error[0].value
    from workbench.demo import ensure_demo

    assert "A new lab" not in {lab.title for lab in ensure_demo().list_labs()}


def test_setup_creates_a_lab_from_a_drawn_boundary():
    at = app()
    at.switch_page("pages/setup.py").run()
    network = at.selectbox(key="lab_network_new")
    network.set_value("a3039f50-324a-4d57-85cb-179bf1514358").run()  # German–US
    at.selectbox(key="lab_city_new").set_value("44381093-bea9-47db-bf6a-3bd4db4e2f02").run()
    drawn = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[11.55, 48.18], [11.56, 48.18], [11.56, 48.19], [11.55, 48.19], [11.55, 48.18]]
            ],
        },
    }
    at.session_state["setup_map_new"] = {"last_active_drawing": drawn}
    at.run()
    at.text_input[0].input("Olympiadorf")
    at.button(key="FormSubmitter:lab_form_new-Save").click().run()
    assert not at.exception, at.exception
    assert at.success, [e.value for e in at.error]
    from workbench.demo import ensure_demo

    lab = next(x for x in ensure_demo().list_labs() if x.title == "Olympiadorf")
    assert abs(lab.boundary.centroid.x - 11.555) < 1e-6
