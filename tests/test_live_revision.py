"""The living lab's revision and the deltas of live maps (issue 10, store part): every write
that changes what a lab's map, list or presenter shows bumps the revision by exactly one in its
own transaction, and ``changes_since`` gives each change exactly once."""

from __future__ import annotations

import threading

import pytest
from shapely.geometry import Point
from sqlalchemy import create_engine, text

from tests.helpers import MUNICH_LAB
from workbench.access import GROUP_COLOURS, SYSTEM, Actor
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.live import changes_since
from workbench.maps import annotation_features
from workbench.model import Annotation, Comment, Vote, new_id
from workbench.workshop import end_round, start_round

LAB = MUNICH_LAB  # Munich, Milbertshofen (demo)
FACILITATOR = Actor("facilitator", "Moderation")

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def note(lab: str = LAB, author: str = "Group A", **kw) -> Annotation:
    return Annotation(
        id=kw.pop("id", new_id()),
        lab_id=lab,
        geometry=kw.pop("geometry", Point(11.552, 48.187)),
        category=kw.pop("category", "idea"),
        text=kw.pop("text", "Shade here"),
        author=author,
        **kw,
    )


def apply(state: dict[str, dict], delta) -> dict[str, dict]:
    """What a browser does with a delta: replace on reset, upsert features, drop removed."""
    if delta.reset:
        state.clear()
    for feature in delta.features:
        state[feature["id"]] = feature
    for removed in delta.removed:
        state.pop(removed, None)
    return state


def other_lab(s) -> str:
    return next(lab.id for lab in s.list_labs() if lab.id != LAB)


def test_every_kind_of_write_bumps_the_revision_once_and_shows_once(demo_store):
    s = demo_store
    session = s.create_session(LAB, "Workshop", by=FACILITATOR)
    token = s.join_token(session.id)
    group_a, _ = s.join_session(token, "Group A", GROUP_COLOURS["blue"])
    a = note()
    other = note(text="Another")
    comment = Comment(id=new_id(), annotation_id=a.id, author="", text="Agreed")

    steps = [  # (write, ids expected in features, ids expected in removed, session changed)
        ("add", lambda: s.add_annotation(a, by=group_a), {a.id}, set(), False),
        ("add other", lambda: s.add_annotation(other, by=group_a), {other.id}, set(), False),
        (
            "edit",
            lambda: s.update_annotation(
                a.id, name="", expected_version=1, text="More shade", by=group_a
            ),
            {a.id},
            set(),
            False,
        ),
        (
            "move",
            lambda: s.update_annotation(
                a.id, name="", expected_version=2, geometry=Point(11.553, 48.188), by=group_a
            ),
            {a.id},
            set(),
            False,
        ),
        ("comment", lambda: s.add_comment(comment, by=group_a), {a.id}, set(), False),
        (
            "comment removed",
            lambda: s.delete_comment(comment.id, by=FACILITATOR),
            {a.id},
            set(),
            False,
        ),
        (
            "comment back",
            lambda: s.restore_comment(comment.id, by=FACILITATOR),
            {a.id},
            set(),
            False,
        ),
        (
            "round",
            lambda: s.start_round(session.id, "collect", by=FACILITATOR, minutes=5),
            set(),
            set(),
            True,
        ),
        ("pause", lambda: s.pause_round(session.id, by=FACILITATOR), set(), set(), True),
        ("resume", lambda: s.resume_round(session.id, by=FACILITATOR), set(), set(), True),
        (
            "delete",
            lambda: s.delete_annotation(other.id, name="", by=group_a),
            set(),
            {other.id},
            False,
        ),
        (
            "restore",
            lambda: s.restore_annotation(other.id, name="", by=group_a),
            {other.id},
            set(),
            False,
        ),
        ("vote limit", lambda: s.set_vote_limit(LAB, 5, by=FACILITATOR), set(), set(), True),
        ("end round", lambda: end_round(s, session.id, by=FACILITATOR), set(), set(), True),
        (
            "discuss",
            lambda: s.start_round(session.id, "discuss", by=FACILITATOR),
            set(),
            set(),
            True,
        ),
        ("lock", lambda: s.set_round_lock(session.id, True, by=FACILITATOR), set(), set(), True),
    ]
    state = apply({}, changes_since(s, LAB, 0, by=group_a))
    revision = s.lab_revision(LAB)
    for name, write, features, removed, session_changed in steps:
        write()
        assert s.lab_revision(LAB) == revision + 1, name
        delta = changes_since(s, LAB, revision, by=group_a)
        assert delta.revision == revision + 1 and not delta.reset, name
        assert {f["id"] for f in delta.features} == features, name
        assert set(delta.removed) == removed, name
        assert (delta.session is not None) == session_changed, name
        state = apply(state, delta)
        revision = delta.revision
        # asked again from the new revision: nothing (nothing doubled)
        again = changes_since(s, LAB, revision, by=group_a)
        assert (again.features, again.removed, again.session) == ((), (), None), name
    assert state == apply({}, changes_since(s, LAB, 0, by=group_a))
    assert changes_since(s, LAB, 0, by=group_a).session["lock_edits"] is True
    # a new vote round (everyone's dots again) re-sends every note, in ONE bump
    start_round(s, session.id, "vote", by=FACILITATOR)
    assert s.lab_revision(LAB) == revision + 2  # the discuss round's end, the vote round
    delta = changes_since(s, LAB, revision + 1, by=group_a)
    assert {a.id, other.id} <= {f["id"] for f in delta.features}
    # the voting round takes the workshop round's number: phones and facilitator say "3"
    assert delta.session["phase"] == "vote" and delta.session["vote_round"] == 3
    s.end_session(session.id, by=FACILITATOR)
    ended = changes_since(s, LAB, delta.revision, by=SYSTEM)
    assert ended.session is not None and ended.session["session"] is None


def test_a_vote_and_a_comment_resend_the_note_with_its_new_counts(demo_store):
    s = demo_store
    a = s.add_annotation(note(), by=SYSTEM)
    start = s.lab_revision(LAB)

    def popup(delta) -> str:
        (feature,) = [f for f in delta.features if f["id"] == a.id]
        return "".join(feature["properties"]["p"])

    s.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="Group B"), by=SYSTEM)
    assert "1 dot in voting round 1 · 1 dot in all rounds" in popup(changes_since(s, LAB, start))
    s.add_comment(Comment(id=new_id(), annotation_id=a.id, author="B", text="Yes"), by=SYSTEM)
    assert "1 comment" in popup(changes_since(s, LAB, start + 1))
    assert s.retract_vote(a.id, "Group B", by=SYSTEM)
    assert "0 dots in voting round 1 · 0 dots in all rounds" in popup(
        changes_since(s, LAB, start + 2)
    )
    assert s.lab_revision(LAB) == start + 3
    # a retract that finds no dot writes nothing and bumps nothing
    assert not s.retract_vote(a.id, "Group B", by=SYSTEM)
    assert s.lab_revision(LAB) == start + 3


def test_features_are_the_map_layers_own(demo_store):
    s = demo_store
    s.add_annotation(note(), by=SYSTEM)
    notes = s.list_annotations(LAB)
    expected = annotation_features(
        notes,
        "category",
        "de",
        votes=s.vote_totals(LAB),
        votes_total=s.vote_totals(LAB, all_rounds=True),
        vote_round=s.vote_round(LAB),
        comments=s.comment_counts(LAB),
        categories=s.list_categories(),
    )
    delta = changes_since(s, LAB, 0, lang="de")
    assert delta.reset
    key = lambda f: f["id"]  # noqa: E731
    assert sorted(delta.features, key=key) == sorted(expected, key=key)


def test_delete_removes_and_restore_brings_back(demo_store):
    s = demo_store
    a = s.add_annotation(note(), by=SYSTEM)
    start = s.lab_revision(LAB)
    s.delete_annotation(a.id, name="Group A", by=SYSTEM)
    delta = changes_since(s, LAB, start, by=FACILITATOR)
    assert delta.removed == (a.id,) and delta.features == ()  # a delete, not moderation
    assert a.id not in {f["id"] for f in changes_since(s, LAB, 0).features}
    s.restore_annotation(a.id, name="Group A", by=SYSTEM)
    delta = changes_since(s, LAB, start + 1)
    assert [f["id"] for f in delta.features] == [a.id] and delta.removed == ()


def test_a_hidden_note_goes_only_to_moderators(demo_store):
    s = demo_store
    session = s.create_session(LAB, "Workshop", by=FACILITATOR)
    group_a, _ = s.join_session(s.join_token(session.id), "Group A", GROUP_COLOURS["blue"])
    a = s.add_annotation(note(), by=group_a)
    start = s.lab_revision(LAB)
    s.delete_annotation(a.id, name="", by=FACILITATOR)  # moderation: hide it
    for_participant = changes_since(s, LAB, start, by=group_a)
    assert for_participant.removed == (a.id,) and for_participant.features == ()
    assert a.id not in {f["id"] for f in changes_since(s, LAB, 0, by=group_a).features}
    for_facilitator = changes_since(s, LAB, start, by=FACILITATOR)
    assert for_facilitator.removed == ()
    (feature,) = for_facilitator.features
    assert feature["id"] == a.id and feature["properties"]["hidden"] is True
    assert changes_since(s, LAB, 0, by=FACILITATOR).features  # in the full state too
    # a viewer and an anonymous reader during a session do not moderate
    assert changes_since(s, LAB, start, by=Actor("viewer")).removed == (a.id,)
    assert changes_since(s, LAB, start).removed == (a.id,)
    s.restore_annotation(a.id, name="", by=FACILITATOR)  # unhide
    back = changes_since(s, LAB, start + 1, by=group_a)
    assert [f["id"] for f in back.features] == [a.id]
    assert "hidden" not in back.features[0]["properties"]


def test_two_labs_do_not_see_each_others_changes(demo_store):
    s = demo_store
    second = other_lab(s)
    here, there = s.lab_revision(LAB), s.lab_revision(second)
    a = s.add_annotation(note(), by=SYSTEM)
    b = s.add_annotation(note(lab=second), by=SYSTEM)
    assert (s.lab_revision(LAB), s.lab_revision(second)) == (here + 1, there + 1)
    assert [f["id"] for f in changes_since(s, LAB, here).features] == [a.id]
    assert [f["id"] for f in changes_since(s, second, there).features] == [b.id]
    assert b.id not in {f["id"] for f in changes_since(s, LAB, 0).features}


def test_refused_write_bumps_nothing(demo_store):
    s = demo_store
    before = s.lab_revision(LAB)
    with pytest.raises(PermissionDenied):
        s.add_annotation(note(), by=Actor("viewer"))
    with pytest.raises(NotFoundError):
        s.add_annotation(note(lab=new_id()), by=SYSTEM)
    assert s.lab_revision(LAB) == before


def test_bad_input(demo_store):
    s = demo_store
    with pytest.raises(ValidationError) as negative:
        changes_since(s, LAB, -1)
    assert negative.value.key == "live.error.since_negative"
    assert "négat" not in negative.value.message("de") and "-1" in negative.value.message("uk")
    for garbage in ("3", 1.5, None, True):
        with pytest.raises(ValidationError):
            changes_since(s, LAB, garbage)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        changes_since(s, LAB, 0, colour_by="<script>")
    with pytest.raises(NotFoundError):
        changes_since(s, new_id(), 0)
    with pytest.raises(NotFoundError):
        s.lab_revision(new_id())
    # a client from before a database restore: the full state, flagged reset
    full = changes_since(s, LAB, 0)
    future = changes_since(s, LAB, s.lab_revision(LAB) + 1000)
    assert future.reset and future.revision == full.revision
    assert future.features == full.features and future.session == full.session
    assert future.removed == ()


def test_a_protected_workspace_gives_nothing_without_an_actor(demo_store):
    s = demo_store
    s.set_passcode("owner", "correct horse battery", by=SYSTEM)
    with pytest.raises(PermissionDenied):
        changes_since(s, LAB, 0)
    assert changes_since(s, LAB, 0, by=Actor("viewer")).revision == s.lab_revision(LAB)
    # a participant of another lab's session reads nothing here
    session = s.create_session(other_lab(s), "Elsewhere", by=FACILITATOR)
    stranger, _ = s.join_session(s.join_token(session.id), "Group Z", GROUP_COLOURS["blue"])
    with pytest.raises(PermissionDenied):
        changes_since(s, LAB, 0, by=stranger)


def test_concurrent_writers_and_a_polling_reader_miss_nothing(demo_store):
    s = demo_store
    s.add_annotation(note(text="before"), by=SYSTEM)  # the reader starts from a revision > 0
    start = s.lab_revision(LAB)
    per_thread, threads = 8, 4
    errors: list[BaseException] = []
    done = threading.Event()

    def write(k: int) -> None:
        try:
            for i in range(per_thread):
                a = s.add_annotation(note(author=f"Group {k}", text=f"{k}-{i}"), by=SYSTEM)
                if i % 3 == 0:
                    s.update_annotation(
                        a.id,
                        name=f"Group {k}",
                        expected_version=1,
                        text=f"{k}-{i} edited",
                        by=SYSTEM,
                    )
                if i % 4 == 1:
                    s.delete_annotation(a.id, name=f"Group {k}", by=SYSTEM)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    state = apply({}, changes_since(s, LAB, 0))
    seen_revisions = [s.lab_revision(LAB)]

    def read() -> None:
        while not done.is_set():
            delta = changes_since(s, LAB, seen_revisions[-1])
            assert delta.revision >= seen_revisions[-1] and not delta.reset
            apply(state, delta)
            seen_revisions.append(delta.revision)

    workers = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
    reader = threading.Thread(target=read)
    reader.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    reader.join()
    assert not errors
    apply(state, changes_since(s, LAB, seen_revisions[-1]))
    edits = sum(1 for i in range(per_thread) if i % 3 == 0)
    deletes = sum(1 for i in range(per_thread) if i % 4 == 1)
    assert s.lab_revision(LAB) == start + threads * (per_thread + edits + deletes)
    assert len(set(seen_revisions)) > 2  # the reader really read during the writes
    assert state == apply({}, changes_since(s, LAB, 0))
    texts = {"".join(f["properties"]["t"]) for f in state.values()}
    assert any("0-0 edited" in t for t in texts) and not any("0-1" in t for t in texts)


def test_the_migration_keeps_every_row_and_starts_at_revision_zero(tmp_path):
    from workbench.store import SCHEMA_VERSION, Store
    from workbench.store.engine import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    assert migrate(engine, target=5) == 5  # the schema before the live revisions (v6)
    engine.dispose()
    raw = create_engine(url)
    with raw.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO networks (id, name, countries, created_at) "
                "VALUES ('n', 'Net', '[\"DE\"]', '2026-01-01T00:00:00+00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cities (id, name, country, lon, lat) "
                "VALUES ('c', 'City', 'DE', 11.5, 48.1)"
            )
        )
        for lab in ("lab1", "lab2"):
            conn.execute(
                text(
                    "INSERT INTO labs (id, city_id, network_id, title, boundary_wkt, created_at, "
                    "updated_at) VALUES (:id, 'c', 'n', 'Lab', "
                    "'POLYGON ((11 48, 12 48, 12 49, 11 48))', '2026-01-01T00:00:00+00:00', "
                    "'2026-01-01T00:00:00+00:00')"
                ),
                {"id": lab},
            )
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO annotations (id, lab_id, geom_wkt, geom_type, minx, miny, maxx, "
                    "maxy, category, text, author, created_at, updated_at) VALUES (:id, 'lab1', "
                    "'POINT (11.5 48.1)', 'Point', 11.5, 48.1, 11.5, 48.1, 'idea', :text, 'G', "
                    ":at, :at)"
                ),
                {"id": f"a{i}", "text": f"old {i}", "at": f"2026-01-01T00:00:0{i}+00:00"},
            )
    raw.dispose()
    s = Store(url)
    try:
        assert s.version == SCHEMA_VERSION
        assert [a.text for a in s.list_annotations("lab1")] == ["old 0", "old 1", "old 2"]
        assert (s.lab_revision("lab1"), s.lab_revision("lab2")) == (0, 0)
        full = changes_since(s, "lab1", 0)
        assert full.revision == 0 and {f["id"] for f in full.features} == {"a0", "a1", "a2"}
        with s.read() as conn:
            assert set(conn.execute(text("SELECT rev FROM annotations")).scalars()) == {0}
            indexes = set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars()
            )
        assert "annotations_lab_rev" in indexes
        s.update_annotation("a1", name="G", expected_version=1, text="new", by=SYSTEM)
        assert (s.lab_revision("lab1"), s.lab_revision("lab2")) == (1, 0)
        later = s.add_annotation(note(lab="lab1", text="after"), by=SYSTEM)
        delta = changes_since(s, "lab1", 1)
        assert [f["id"] for f in delta.features] == [later.id] and not delta.reset
    finally:
        s.close()


def test_a_category_restyled_resends_its_notes_in_every_lab_using_it(demo_store):
    from workbench.model import Category

    s = demo_store
    second = other_lab(s)
    s.save_category(
        Category(code="heritage", colour="#56B4E9", labels={"en": "Heritage"}), by=SYSTEM
    )
    a = s.add_annotation(note(category="heritage"), by=SYSTEM)
    b = s.add_annotation(note(lab=second, category="heritage"), by=SYSTEM)
    s.add_annotation(note(category="idea"), by=SYSTEM)
    here, there = s.lab_revision(LAB), s.lab_revision(second)
    s.save_category(
        Category(code="heritage", colour="#000000", labels={"en": "Old town"}), by=SYSTEM
    )
    assert (s.lab_revision(LAB), s.lab_revision(second)) == (here + 1, there + 1)
    (feature,) = changes_since(s, LAB, here).features
    assert feature["id"] == a.id and feature["properties"]["s"]["fillColor"] == "#000000"
    assert "Old town" in "".join(feature["properties"]["t"])
    assert [f["id"] for f in changes_since(s, second, there).features] == [b.id]
