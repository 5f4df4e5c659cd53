"""The annotation API of the store: create, edit, redraw, soft delete, restore, history, comments,
dot-votes and their limit, filters, categories, conflicts, and hostile input."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, Point, Polygon

from tests.helpers import MUNICH_LAB
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.model import Annotation, Category, Comment, Vote, new_id
from workbench.settings import MAX_TEXT_CHARS
from workbench.store import SCHEMA_VERSION

LAB = MUNICH_LAB  # Munich, Milbertshofen (demo)
P = Point(11.552, 48.186)

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def note(text="Bench in the shade", category="idea", author="Group A", geometry=P, **kw):
    return Annotation(
        id=kw.pop("id", new_id()),
        lab_id=kw.pop("lab_id", LAB),
        geometry=geometry,
        category=category,
        text=text,
        author=author,
        **kw,
    )


# ---- create, read ------------------------------------------------------------------------------
def test_create_is_idempotent_by_id(demo_store):
    a = note()
    first = demo_store.add_annotation(a)
    again = demo_store.add_annotation(a)
    assert first == again
    assert first.version == 1 and first.updated_by == "Group A"
    assert demo_store.count_annotations(LAB) == 1
    assert [h.action for h in demo_store.annotation_history(a.id)] == ["created"]


def test_create_for_missing_lab_is_refused(demo_store):
    with pytest.raises(NotFoundError):
        demo_store.add_annotation(note(lab_id="no-such-lab"))


# ---- edit, conflicts ---------------------------------------------------------------------------
def test_edit_text_and_category_bumps_version_and_records_history(demo_store):
    a = demo_store.add_annotation(note())
    b = demo_store.update_annotation(
        a.id,
        name="Group B",
        expected_version=1,
        text="Bench, but it needs shade",
        category="problem",
    )
    assert (b.text, b.category, b.version, b.updated_by) == (
        "Bench, but it needs shade",
        "problem",
        2,
        "Group B",
    )
    assert b.updated_at > a.updated_at
    history = demo_store.annotation_history(a.id)
    assert [h.action for h in history] == ["created", "edited"]
    edit = history[1]
    assert edit.actor == "Group B"
    assert edit.data["changed"]["text"] == {
        "from": "Bench in the shade",
        "to": "Bench, but it needs shade",
    }
    assert edit.data["changed"]["category"] == {"from": "idea", "to": "problem"}


def test_edit_that_changes_nothing_keeps_the_version(demo_store):
    a = demo_store.add_annotation(note())
    same = demo_store.update_annotation(a.id, name="Group A", expected_version=1, text=a.text)
    assert same.version == 1
    assert len(demo_store.annotation_history(a.id)) == 1


def test_concurrent_edit_conflict_is_refused_with_the_current_version(demo_store):
    a = demo_store.add_annotation(note())
    # Two people opened version 1; B saves first, then A.
    demo_store.update_annotation(a.id, name="Group B", expected_version=1, text="B's words")
    with pytest.raises(ConflictError) as info:
        demo_store.update_annotation(a.id, name="Group A", expected_version=1, text="A's words")
    assert info.value.current.text == "B's words"
    assert info.value.current.version == 2
    assert "Group B" in info.value.message("en")
    assert "Group B" in info.value.message("de")
    # nothing of A's was written
    assert demo_store.get_annotation(a.id).text == "B's words"
    # A applies the change again from the current version
    c = demo_store.update_annotation(a.id, name="Group A", expected_version=2, text="A's words")
    assert c.version == 3 and c.text == "A's words"


def test_redraw_geometry(demo_store):
    a = demo_store.add_annotation(note())
    area = Polygon([(11.550, 48.185), (11.552, 48.185), (11.552, 48.187), (11.550, 48.187)])
    b = demo_store.update_annotation(a.id, name="Group A", expected_version=1, geometry=area)
    assert b.geometry.geom_type == "Polygon"
    assert b.geometry.equals(area)
    change = demo_store.annotation_history(a.id)[-1]
    assert change.data["changed"]["geometry"]["to"].startswith("POLYGON")
    with pytest.raises(ValidationError):
        demo_store.update_annotation(
            a.id, name="A", expected_version=2, geometry=LineString([(11.5, 48.1), (11.5, 48.1)])
        )


def test_edit_refuses_bad_values_and_changes_nothing(demo_store):
    a = demo_store.add_annotation(note())
    with pytest.raises(ValidationError):
        demo_store.update_annotation(a.id, name="A", expected_version=1, text="   ")
    with pytest.raises(ValidationError):
        demo_store.update_annotation(a.id, name="A", expected_version=1, category="nonsense")
    assert demo_store.get_annotation(a.id).version == 1


# ---- soft delete, restore ----------------------------------------------------------------------
def test_soft_delete_restore_and_list_deleted(demo_store):
    a = demo_store.add_annotation(note())
    keep = demo_store.add_annotation(note(text="Stays"))
    d = demo_store.delete_annotation(a.id, name="Facilitator")
    assert d.deleted_at is not None and d.version == 2
    assert [x.id for x in demo_store.list_annotations(LAB)] == [keep.id]
    assert demo_store.count_annotations(LAB) == 1
    assert [x.id for x in demo_store.list_deleted_annotations(LAB)] == [a.id]
    with pytest.raises(NotFoundError):
        demo_store.get_annotation(a.id)
    assert demo_store.get_annotation(a.id, include_deleted=True).deleted_at is not None
    # deleting twice changes nothing
    assert demo_store.delete_annotation(a.id, name="Facilitator").version == 2
    # an edit of a deleted annotation is a conflict, not a silent change
    with pytest.raises(ConflictError):
        demo_store.update_annotation(a.id, name="A", expected_version=2, text="late edit")
    r = demo_store.restore_annotation(a.id, name="Group A")
    assert r.deleted_at is None and r.version == 3 and r.text == "Bench in the shade"
    assert demo_store.list_deleted_annotations(LAB) == []
    assert [h.action for h in demo_store.annotation_history(a.id)] == [
        "created",
        "deleted",
        "restored",
    ]
    assert [h.actor for h in demo_store.annotation_history(a.id)] == [
        "Group A",
        "Facilitator",
        "Group A",
    ]


def test_delete_with_stale_version_is_a_conflict(demo_store):
    a = demo_store.add_annotation(note())
    demo_store.update_annotation(a.id, name="B", expected_version=1, text="changed")
    with pytest.raises(ConflictError):
        demo_store.delete_annotation(a.id, name="A", expected_version=1)
    assert demo_store.get_annotation(a.id).deleted_at is None


def test_since_lists_changes_including_deletions(demo_store):
    a = demo_store.add_annotation(note())
    mark = demo_store.get_annotation(a.id).updated_at
    b = demo_store.add_annotation(note(text="later"))
    demo_store.delete_annotation(a.id, name="X")
    changed = demo_store.list_annotations(LAB, include_deleted=True, since=mark)
    assert {x.id for x in changed} == {a.id, b.id}


# ---- filters -----------------------------------------------------------------------------------
def test_filters_by_category_group_and_text(demo_store):
    a = demo_store.add_annotation(note("Dark underpass at night", "problem", "Group A"))
    b = demo_store.add_annotation(note("Темний перехід, треба світло", "problem", "Група Б"))
    c = demo_store.add_annotation(note("Market square on Saturdays", "strength", "Group A"))

    def ids(**kw):
        return {x.id for x in demo_store.list_annotations(LAB, **kw)}

    assert ids(categories=["problem"]) == {a.id, b.id}
    assert ids(authors=["Group A"]) == {a.id, c.id}
    assert ids(categories=["problem"], authors=["Group A"]) == {a.id}
    assert ids(search="UNDERPASS") == {a.id}
    assert ids(search="ТЕМНИЙ") == {b.id}  # case-insensitive beyond ASCII
    assert ids(search="група") == {b.id}  # the author is searched too
    assert ids(search="nothing like this") == set()
    assert demo_store.annotation_authors(LAB) == ["Group A", "Група Б"]


# ---- comments ----------------------------------------------------------------------------------
def test_comment_thread(demo_store):
    a = demo_store.add_annotation(note())
    c1 = Comment(id=new_id(), annotation_id=a.id, author="Group B", text="Agreed!")
    demo_store.add_comment(c1)
    demo_store.add_comment(c1)  # double click: one comment
    demo_store.add_comment(
        Comment(id=new_id(), annotation_id=a.id, author="Group C", text="Which side of the street?")
    )
    thread = demo_store.list_comments(a.id)
    assert [c.text for c in thread] == ["Agreed!", "Which side of the street?"]
    assert demo_store.comment_counts(LAB) == {a.id: 2}
    demo_store.delete_comment(c1.id)
    assert [c.author for c in demo_store.list_comments(a.id)] == ["Group C"]
    with pytest.raises(ValidationError):
        demo_store.add_comment(Comment(id=new_id(), annotation_id=a.id, author="X", text=" "))
    demo_store.delete_annotation(a.id, name="X")
    with pytest.raises(NotFoundError):
        demo_store.add_comment(Comment(id=new_id(), annotation_id=a.id, author="X", text="hi"))


# ---- votes -------------------------------------------------------------------------------------
def test_votes_limit_totals_and_rounds(demo_store):
    a = demo_store.add_annotation(note())
    b = demo_store.add_annotation(note(text="Second"))
    assert demo_store.vote_limit(LAB) == 3 and demo_store.vote_round(LAB) == 1
    v = Vote(id=new_id(), annotation_id=a.id, voter="Group A")
    demo_store.cast_vote(v)
    demo_store.cast_vote(v)  # same id: one dot
    demo_store.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="Group A"))  # dot-voting
    demo_store.cast_vote(Vote(id=new_id(), annotation_id=b.id, voter="Group A"))
    assert demo_store.votes_left(LAB, "Group A") == 0
    with pytest.raises(ValidationError) as info:
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=b.id, voter="Group A"))
    assert "3" in info.value.message("en")
    demo_store.cast_vote(Vote(id=new_id(), annotation_id=b.id, voter="Group B"))
    assert demo_store.vote_totals(LAB) == {a.id: 2, b.id: 2}
    assert demo_store.vote_totals(LAB, voter="Group A") == {a.id: 2, b.id: 1}
    # take one back, give it elsewhere
    assert demo_store.retract_vote(a.id, "Group A") is True
    assert demo_store.votes_left(LAB, "Group A") == 1
    assert demo_store.retract_vote(b.id, "Nobody") is False
    # the facilitator raises the limit
    demo_store.set_vote_limit(LAB, 5)
    assert demo_store.votes_left(LAB, "Group A") == 3
    with pytest.raises(ValidationError):
        demo_store.set_vote_limit(LAB, 0)
    # a new round: everyone has all dots again, totals start from zero; old round kept
    assert demo_store.start_vote_round(LAB) == 2
    assert demo_store.vote_totals(LAB) == {}
    assert demo_store.vote_totals(LAB, round=1) == {a.id: 1, b.id: 2}
    assert demo_store.votes_left(LAB, "Group A") == 5


def test_dots_on_a_deleted_annotation_are_given_back(demo_store):
    a = demo_store.add_annotation(note())
    for _ in range(3):
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="Group A"))
    assert demo_store.votes_left(LAB, "Group A") == 0
    demo_store.delete_annotation(a.id, name="Facilitator")
    assert demo_store.votes_left(LAB, "Group A") == 3
    with pytest.raises(NotFoundError):
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="Group A"))


def test_vote_needs_a_voter(demo_store):
    a = demo_store.add_annotation(note())
    with pytest.raises(ValidationError):
        demo_store.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="  "))


# ---- categories --------------------------------------------------------------------------------
def test_workspace_categories(demo_store):
    assert demo_store.annotation_categories() == (
        "strength",
        "problem",
        "idea",
        "question",
        "next_step",
    )
    cat = demo_store.save_category(
        Category(
            code="heritage",
            colour="#56B4E9",
            labels={"en": "Heritage", "de": "Denkmal", "uk": "Спадщина", "xx": "ignored"},
        )
    )
    assert cat.labels == {"en": "Heritage", "de": "Denkmal", "uk": "Спадщина"}
    assert demo_store.annotation_categories()[-1] == "heritage"
    a = demo_store.add_annotation(note(category="heritage"))
    assert a.category == "heritage"
    demo_store.save_category(Category(code="heritage", colour="#000000", labels={"en": "Old"}))
    own = [c for c in demo_store.list_categories() if not c.builtin]
    assert [(c.code, c.colour, c.labels) for c in own] == [("heritage", "#000000", {"en": "Old"})]
    with pytest.raises(ValidationError):
        demo_store.delete_category("heritage")  # in use
    for bad in (
        Category(code="Heritage!", colour="#000000", labels={"en": "x"}),
        Category(code="idea", colour="#000000", labels={"en": "x"}),
        Category(code="ok_code", colour="red", labels={"en": "x"}),
        Category(code="ok_code", colour="#000000", labels={"en": "  "}),
    ):
        with pytest.raises(ValidationError):
            demo_store.save_category(bad)
    demo_store.save_category(Category(code="unused", colour="#F0E442", labels={"de": "Leer"}))
    demo_store.delete_category("unused")
    assert "unused" not in demo_store.annotation_categories()


# ---- hostile and odd input ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>",
        "</script><script>alert(1)</script>",
        "مرحبا بالعالم — שלום",  # right to left
        "Привіт, світе! Київ",
        "🚲🌳👩‍👩‍👧 ok",
        "line one\nline two",
    ],
)
def test_text_is_stored_exactly_as_typed(demo_store, text):
    a = demo_store.add_annotation(note(text=text, author=text[:50]))
    assert demo_store.get_annotation(a.id).text == text


def test_too_long_and_empty_text_are_refused(demo_store):
    with pytest.raises(ValidationError) as info:
        demo_store.add_annotation(note(text="x" * 100_000))
    assert "5,000" in info.value.message("en") and "5.000" in info.value.message("de")
    assert demo_store.add_annotation(note(text="x" * MAX_TEXT_CHARS)).text == "x" * MAX_TEXT_CHARS
    for empty in ("", "   \n "):
        with pytest.raises(ValidationError) as info:
            demo_store.add_annotation(note(text=empty))
        assert info.value.key == "annotate.error.text_empty"
    assert demo_store.count_annotations(LAB) == 1


def test_geometry_is_repaired_or_refused(demo_store):
    bowtie = Polygon([(11.550, 48.185), (11.552, 48.187), (11.552, 48.185), (11.550, 48.187)])
    assert not bowtie.is_valid
    a = demo_store.add_annotation(note(geometry=bowtie))
    assert a.geometry.is_valid and a.geometry.area > 0
    with pytest.raises(ValidationError) as info:
        demo_store.add_annotation(note(geometry=LineString([(11.55, 48.18), (11.55, 48.18)])))
    assert info.value.key == "annotation.line_too_short"
    for far in (Point(200, 48), Point(11, 95), Point(-181, -91)):
        with pytest.raises(ValidationError) as info:
            demo_store.add_annotation(note(geometry=far))
        assert info.value.key == "annotation.out_of_range"
    assert demo_store.count_annotations(LAB) == 1


def test_messages_exist_in_every_language(demo_store):
    from workbench.i18n import catalogue

    keys = [k for k in catalogue("en") if k.startswith("annotate.")]
    for lang in ("de", "uk"):
        missing = [k for k in keys if k not in catalogue(lang)]
        assert not missing, (lang, missing)
        same = [
            k
            for k in keys
            if catalogue(lang)[k] == catalogue("en")[k] and "{" not in catalogue("en")[k]
        ]
        assert len(same) <= 3, (lang, same)  # real translations, not English copies


def test_v2_database_is_upgraded_keeping_its_annotations(tmp_path):
    from sqlalchemy import text

    from workbench.store import Store
    from workbench.store.engine import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    assert migrate(engine, target=2) == 2
    now = "2025-01-01T10:00:00+00:00"
    square = "POLYGON ((11.55 48.18, 11.56 48.18, 11.56 48.19, 11.55 48.19, 11.55 48.18))"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO networks VALUES ('n', 'N', '[\"DE\"]', '', :t)"), {"t": now})
        conn.execute(text("INSERT INTO cities VALUES ('c', 'München', 'DE', 11.57, 48.14, 0)"))
        conn.execute(text("INSERT INTO network_cities VALUES ('n', 'c')"))
        conn.execute(
            text(
                "INSERT INTO labs (id, city_id, network_id, title, boundary_wkt, "
                "created_at, updated_at) VALUES ('l', 'c', 'n', 'Lab', :b, :t, :t)"
            ),
            {"b": square, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO annotations VALUES ('a', 'l', 'POINT (11.555 48.185)', "
                "'Point', 11.555, 48.185, 11.555, 48.185, 'idea', 'old note', "
                "'Group A', :t, :t, NULL)"
            ),
            {"t": now},
        )
    engine.dispose()
    upgraded = Store(url)
    try:
        assert upgraded.version == SCHEMA_VERSION
        old = upgraded.get_annotation("a")
        assert (old.text, old.version, old.updated_by) == ("old note", 1, "Group A")
        edited = upgraded.update_annotation(
            "a", name="Group B", expected_version=1, text="new words"
        )
        assert edited.version == 2
        upgraded.cast_vote(Vote(id=new_id(), annotation_id="a", voter="Group B"))
        assert upgraded.vote_totals("l") == {"a": 1}
    finally:
        upgraded.close()
