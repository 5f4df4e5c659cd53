"""The Network page (AppTest): lessons and questions of every lab listed with their place and
links, a note shown in the reader's language where a translation exists (the original one click
away), hostile text literal, and a mark saved from the page's form."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import Point

from tests.helpers import BALTIMORE_LAB, MUNICH_LAB
from workbench.access import SYSTEM
from workbench.model import Annotation, new_id

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MUNICH = MUNICH_LAB


def _note(store, lab, text, lang):  # type: ignore[no-untyped-def]
    lon, lat = store.get_lab(lab).boundary.representative_point().coords[0]
    return store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab,
            geometry=Point(lon, lat),
            category="idea",
            text=text,
            author="Group A",
            lang=lang,
        ),
        by=SYSTEM,
    )


def _page(lang: str):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = lang
    at.switch_page("pages/network.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:  # type: ignore[no-untyped-def]
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])


@pytest.mark.parametrize("lang", ["en", "de", "uk"])
def test_the_page_lists_marks_in_the_readers_language(demo_store, lang):
    s = demo_store
    q = _note(s, MUNICH, "Wie habt ihr die Bänke finanziert?", "de")
    lesson = _note(s, BALTIMORE_LAB, "<b>Parklets</b> worked *all summer*", "en")
    s.mark_note(q.id, "question", principles=("participation",), by=SYSTEM)
    s.mark_note(lesson.id, "lesson", sdg_targets=("11.7",), by=SYSTEM)
    s.link_notes(lesson.id, q.id, by=SYSTEM)
    s.add_translation(q.id, "uk", "Як ви профінансували лавки?", actor="Olena", by=SYSTEM)
    at = _page(lang)
    shown = _texts(at)
    from workbench.i18n import t

    assert t("network.title", lang) in [h.value for h in at.title]
    if lang == "uk":  # the Ukrainian reader gets the translation, marked, with the original
        assert "Як ви профінансували лавки?" in shown
        assert "Olena" in shown
        assert any(e.label == t("network.original", lang, lang="de") for e in at.expander)
    else:
        assert "Wie habt ihr die Bänke finanziert?" in shown
        assert "Як ви профінансували лавки?" not in shown
    assert "<b>Parklets</b> worked *all summer*" in shown.replace("\\", "")  # literal
    assert t("network.kind.question", lang) in shown and t("network.kind.lesson", lang) in shown
    assert t("network.link.tried_here", lang, lab=s.get_lab(MUNICH).title) in shown.replace(
        "\\", ""
    )


def test_a_note_is_marked_from_the_form_and_then_listed(demo_store):
    s = demo_store
    n = _note(s, MUNICH, "Shade along the school route", "en")
    at = _page("en")
    assert [n_ for n_ in s.network_notes()] == []
    at.selectbox(key="network_mark_lab").set_value(MUNICH).run()
    form_note = next(sb for sb in at.selectbox if sb.label == "Note")
    form_note.set_value(n.id)
    at.radio[0].set_value("lesson")
    next(b for b in at.button if b.label == "Save the mark").click().run()
    assert not at.exception
    [listed] = s.network_notes()
    assert listed.annotation.id == n.id and listed.mark.kind == "lesson"
    assert "Shade along the school route" in _texts(at)
