"""Learning across the network, in the library: lessons and questions tagged with principles and
SDG targets, listed across every living lab with filters; links between notes of different labs
(both ends see them, a deleted end shows as deleted); translations with their author, refused
into the note's own language; the same permission rules as notes, on both databases."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from tests.helpers import BALTIMORE_LAB, MUNICH_LAB
from workbench.access import SYSTEM, Actor
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.model import Annotation, new_id

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")

MUNICH = MUNICH_LAB
OWNER = Actor("owner", "Owner")
VIEWER = Actor("viewer", "Guest")
HOSTILE = "<script>alert(1)</script> **bold** {count} ../../etc"


def note(
    store,
    lab: str,
    text: str = "Shade by trees",
    lang: str = "de",  # type: ignore[no-untyped-def]
    author: str = "Group A",
) -> Annotation:
    lon, lat = store.get_lab(lab).boundary.representative_point().coords[0]
    return store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab,
            geometry=Point(lon, lat),
            category="idea",
            text=text,
            author=author,
            lang=lang,
        ),
        by=SYSTEM,
    )


def test_lessons_and_questions_are_listed_across_labs_with_filters(demo_store):
    s = demo_store
    lesson = note(s, MUNICH, "Parklets worked in summer", "de")
    question = note(s, BALTIMORE_LAB, "How did you fund the parklets?", "en")
    note(s, MUNICH, "an unmarked note")
    s.mark_note(lesson.id, "lesson", principles=("participation",), sdg_targets=("11.7",), by=OWNER)
    s.mark_note(question.id, "question", principles=("public_good",), by=OWNER)
    everything = s.network_notes()
    assert [n.annotation.id for n in everything] == [question.id, lesson.id]  # newest first
    assert {n.lab_id for n in everything} == {MUNICH, BALTIMORE_LAB}
    assert [n.annotation.id for n in s.network_notes(kind="lesson")] == [lesson.id]
    assert [n.annotation.id for n in s.network_notes(principle="participation")] == [lesson.id]
    assert [n.annotation.id for n in s.network_notes(sdg="11.7")] == [lesson.id]
    assert [n.annotation.id for n in s.network_notes(country="us")] == [question.id]
    munich_city = s.get_lab(MUNICH).city_id
    assert [n.annotation.id for n in s.network_notes(city_id=munich_city)] == [lesson.id]
    net = s.get_lab(MUNICH).network_id
    in_net = s.network_notes(network_id=net)
    assert lesson.id in [n.annotation.id for n in in_net]
    assert {s.get_lab(n.lab_id).network_id for n in in_net} == {net}
    # a question is open until answered; then the filter by status finds it so
    assert [n.annotation.id for n in s.network_notes(status="open")] == [question.id, lesson.id]
    s.set_question_status(question.id, "answered", by=OWNER)
    assert [n.annotation.id for n in s.network_notes(status="answered")] == [question.id]
    with pytest.raises(ValidationError, match="question"):
        s.set_question_status(lesson.id, "answered", by=OWNER)
    # a deleted note leaves the list; unmarking takes it off
    s.delete_annotation(question.id, name="Owner", by=OWNER)
    assert [n.annotation.id for n in s.network_notes()] == [lesson.id]
    s.unmark_note(lesson.id, by=OWNER)
    assert s.network_notes() == [] and s.note_mark(lesson.id) is None


def test_marks_refuse_unknown_kinds_tags_and_a_viewer(demo_store):
    s = demo_store
    n = note(s, MUNICH)
    for kwargs, key in (
        ({"kind": "rumour"}, "network.error.kind"),
        ({"kind": "lesson", "principles": ("fun",)}, "network.error.principle"),
        ({"kind": "lesson", "sdg_targets": ("99.9",)}, "network.error.sdg"),
    ):
        with pytest.raises(ValidationError) as err:
            s.mark_note(n.id, by=OWNER, **kwargs)
        assert err.value.key == key
    with pytest.raises(PermissionDenied):
        s.mark_note(n.id, "lesson", by=VIEWER)
    with pytest.raises(NotFoundError):
        s.mark_note("no-such-note", "lesson", by=OWNER)
    assert s.note_mark(n.id) is None  # nothing was written by any refusal


def test_links_join_notes_of_two_labs_both_ways_and_show_a_deleted_end(demo_store):
    s = demo_store
    tried = note(s, MUNICH, "Tried: a street closed on Sundays")
    there = note(s, BALTIMORE_LAB, "Could work on our main street", "en")
    link = s.link_notes(tried.id, there.id, by=OWNER)
    assert s.link_notes(tried.id, there.id, by=OWNER) == link  # the same pair again: one link
    [here] = s.linked_notes(tried.id)
    [back] = s.linked_notes(there.id)
    assert (here.annotation_id, here.lab_id, here.direction) == (
        there.id,
        BALTIMORE_LAB,
        "tried_here",
    )
    assert (back.annotation_id, back.lab_id, back.direction) == (tried.id, MUNICH, "relevant_there")
    s.delete_annotation(there.id, name="Owner", by=OWNER)
    [gone] = s.linked_notes(tried.id)
    assert gone.deleted and gone.text == there.text  # shown as deleted, not an error
    with pytest.raises(ValidationError) as err:
        s.link_notes(tried.id, note(s, MUNICH, "same lab").id, by=OWNER)
    assert err.value.key == "network.error.link_same_lab"
    with pytest.raises(ValidationError):
        s.link_notes(tried.id, tried.id, by=OWNER)
    with pytest.raises(PermissionDenied):
        s.link_notes(tried.id, note(s, BALTIMORE_LAB, "x", "en").id, by=VIEWER)


def test_translations_keep_their_author_and_language_and_the_original(demo_store):
    s = demo_store
    original = note(s, MUNICH, "Mehr Bänke am Platz", "de")
    tr = s.add_translation(original.id, "uk", "Більше лавок на площі", actor="Olena", by=OWNER)
    assert (tr.lang, tr.author) == ("uk", "Olena")
    stored = s.get_annotation(original.id)
    assert stored.lang == "de" and stored.text == "Mehr Bänke am Platz"  # original kept
    assert s.text_for(stored, "uk") == ("Більше лавок на площі", s.translations(original.id)[0])
    assert s.text_for(stored, "de") == ("Mehr Bänke am Platz", None)
    assert s.text_for(stored, "en") == ("Mehr Bänke am Platz", None)  # no English one yet
    s.add_translation(original.id, "uk", "Більше лав на площі", actor="Taras", by=OWNER)
    assert [(t.text, t.author) for t in s.translations(original.id)] == [
        ("Більше лав на площі", "Taras")
    ]  # one per language, the newest
    with pytest.raises(ValidationError) as err:
        s.add_translation(original.id, "de", "Mehr Bänke", by=OWNER)
    assert err.value.key == "network.error.translation_own_language"
    for bad in ("deutsch", "../x", "", "d3"):
        with pytest.raises(ValidationError):
            s.add_translation(original.id, bad, "text", by=OWNER)
    with pytest.raises(PermissionDenied):
        s.add_translation(original.id, "en", "More benches", by=VIEWER)


def test_hostile_text_in_every_new_field_is_stored_as_typed(demo_store):
    s = demo_store
    a = note(s, MUNICH, HOSTILE)
    b = note(s, BALTIMORE_LAB, "other", "en")
    s.mark_note(a.id, "question", by=OWNER, actor=HOSTILE[:40])
    s.link_notes(a.id, b.id, by=OWNER)
    s.add_translation(a.id, "en", HOSTILE, actor=HOSTILE[:40], by=OWNER)
    [listed] = s.network_notes()
    assert listed.annotation.text == HOSTILE
    assert s.translations(a.id)[0].text == HOSTILE
    assert s.linked_notes(b.id)[0].text == HOSTILE


def test_a_participant_marks_only_their_own_groups_notes(demo_store):
    s = demo_store
    s.set_passcode("owner", "correct horse battery", by=SYSTEM)
    session = s.create_session(MUNICH, "Peer consultation", by=OWNER)
    guest, _token = s.join_session(s.join_token(session.id), "Kharkiv", "#0072B2")
    theirs = s.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=MUNICH,
            geometry=Point(11.553, 48.186),
            category="idea",
            text="Our answer",
            author="",
            lang="uk",
        ),
        by=guest,
    )
    hosts = note(s, MUNICH, "The host's question")
    s.mark_note(theirs.id, "lesson", by=guest)
    with pytest.raises(PermissionDenied):
        s.mark_note(hosts.id, "question", by=guest)
    s.add_translation(hosts.id, "uk", "Питання господарів", by=guest)  # anyone may translate
    assert s.translations(hosts.id)[0].author == "Kharkiv"  # as their group, always


def test_a_peer_consultation_keeps_its_record_by_city(demo_store):
    """The host marks a question; guests join as their city and answer with notes, comments
    and dots; the record lists the question, each city's answers and dots, and the PDF sheet
    says so. A guest city writes only its own answers."""
    import io

    from pypdf import PdfReader

    from workbench.model import Comment, Vote
    from workbench.report import consultation_pdf

    s = demo_store
    s.set_passcode("owner", "correct horse battery", by=SYSTEM)
    session = s.create_session(MUNICH, "Consultation Munich", by=OWNER, kind="consultation")
    assert s.get_session(session.id).kind == "consultation"
    host_q = note(s, MUNICH, "Where should the market hall go?", "en", author="Host team")
    s.mark_note(host_q.id, "question", principles=("place_based",), by=OWNER)
    token = s.join_token(session.id)
    kharkiv, _ = s.join_session(token, "Kharkiv", "#0072B2")
    baltimore, _ = s.join_session(token, "Baltimore", "#E69F00")
    answer = s.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=MUNICH,
            geometry=Point(11.553, 48.186),
            category="idea",
            text="Beside the tram stop, as we did",
            author="",
            lang="uk",
        ),
        by=kharkiv,
    )
    s.add_comment(
        Comment(
            id=new_id(),
            annotation_id=host_q.id,
            author="",
            text="Near the school, for the evenings",
        ),
        by=baltimore,
    )
    s.cast_vote(Vote(id=new_id(), annotation_id=answer.id, voter=""), by=baltimore)
    with pytest.raises(PermissionDenied):  # a guest city edits only its own answers
        s.update_annotation(host_q.id, name="Kharkiv", expected_version=1, text="x", by=kharkiv)
    record = s.consultation_record(session.id)
    assert [q.id for q in record.questions] == [host_q.id]
    assert ("Kharkiv", "note", "Beside the tram stop, as we did") in record.answers
    assert ("Baltimore", "comment", "Near the school, for the evenings") in record.answers
    assert record.votes == (("Beside the tram stop, as we did", 1),)
    assert dict(record.cities) == {"Kharkiv": 1, "Baltimore": 1}
    text = " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(consultation_pdf(record, "de"))).pages
    )
    flat = " ".join(text.split())
    for expected in (
        "Consultation Munich",
        "Where should the market hall go?",
        "Kharkiv",
        "Beside the tram stop, as we did",
        "Near the school, for the evenings",
    ):
        assert expected in flat
    with pytest.raises(ValidationError):
        s.create_session(BALTIMORE_LAB, "x", by=OWNER, kind="party")


def test_a_translator_can_be_plugged_in_and_only_suggests():
    from workbench import translate

    class Echo:
        def translate(self, text, source, target):  # type: ignore[no-untyped-def]
            if target == "xx":
                raise RuntimeError("service down")
            return f"[{source}->{target}] {text}"

    assert translate.suggest("Bänke", "de", "uk") == ""  # offline: no service, no suggestion
    translate.set_translator(Echo())
    try:
        assert translate.suggest("Bänke", "de", "uk") == "[de->uk] Bänke"
        assert translate.suggest("Bänke", "de", "xx") == ""  # a failure is no suggestion
        assert translate.suggest("Bänke", "de", "de") == ""
    finally:
        translate.set_translator(None)
