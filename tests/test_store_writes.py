"""The store's annotation, comment and vote writes each take one transaction (the write itself,
no read before or after it), and what they return is what a later read gives."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from shapely.geometry import Point, Polygon
from sqlalchemy import event

from tests.helpers import MUNICH_LAB
from workbench.errors import ValidationError
from workbench.model import Annotation, Category, Comment, Vote, new_id

LAB = MUNICH_LAB  # Munich, Milbertshofen (demo)
# more decimals than the store keeps (7): the returned geometry must be the stored one
FINE = Point(11.552123456789, 48.186987654321)

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def note(**kw) -> Annotation:
    return Annotation(
        id=kw.pop("id", new_id()),
        lab_id=LAB,
        geometry=kw.pop("geometry", FINE),
        category=kw.pop("category", "idea"),
        text=kw.pop("text", "Shade here"),
        author="Group A",
        **kw,
    )


@contextmanager
def transactions(store):
    """Yields a list that gets "write" or "read" for every transaction begun meanwhile."""
    seen: list[str] = []

    def on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        seen.append("write" if conn.get_execution_options().get("workbench_write") else "read")

    event.listen(store.engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(store.engine, "begin", on_begin)


def test_each_annotation_write_is_one_write_transaction(demo_store):
    s = demo_store
    s.save_category(Category(code="heritage", colour="#56B4E9", labels={"en": "Heritage"}))
    a = note(category="heritage")
    with transactions(s) as seen:
        added = s.add_annotation(a)
        again = s.add_annotation(a)
        edited = s.update_annotation(
            a.id,
            name="Group B",
            expected_version=1,
            text="More shade",
            category="problem",
            geometry=Polygon([(11.55, 48.18), (11.551, 48.18), (11.551, 48.181)]),
        )
        deleted = s.delete_annotation(a.id, name="Group B", expected_version=2)
        restored = s.restore_annotation(a.id, name="Group C")
        s.add_comment(Comment(id=new_id(), annotation_id=a.id, author="Group B", text="Yes"))
        s.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter="Group B"))
    assert seen == ["write"] * 7
    assert again == added
    assert (edited.version, deleted.version, restored.version) == (2, 3, 4)
    assert deleted.deleted_at is not None and restored.deleted_at is None
    assert restored == s.get_annotation(a.id)


def test_what_a_write_returns_is_what_is_stored(demo_store):
    s = demo_store
    added = s.add_annotation(note())
    assert added == s.get_annotation(added.id)
    assert added.geometry.x == 11.5521235  # rounded as stored, not as given
    edited = s.update_annotation(
        added.id, name="Group B", expected_version=1, geometry=Point(11.553987654321, 48.187)
    )
    assert edited == s.get_annotation(added.id)
    deleted = s.delete_annotation(added.id, name="Group B")
    assert deleted == s.get_annotation(added.id, include_deleted=True)
    assert s.restore_annotation(added.id, name="Group A") == s.get_annotation(added.id)


def test_a_refused_write_stores_nothing(demo_store):
    s = demo_store
    a = note(category="no_such_category")
    with pytest.raises(ValidationError) as exc:
        s.add_annotation(a)
    assert exc.value.key == "annotation.category"
    assert s.count_annotations(LAB) == 0 and s.annotation_history(a.id) == []
    stored = s.add_annotation(note())
    with pytest.raises(ValidationError):
        s.update_annotation(
            stored.id, name="Group B", expected_version=1, text="new", category="no_such_category"
        )
    assert s.get_annotation(stored.id) == stored


def test_a_retried_id_returns_the_stored_annotation_even_with_bad_input(demo_store):
    s = demo_store
    first = s.add_annotation(note(id="fixed-id"))
    with transactions(s) as seen:
        again = s.add_annotation(note(id="fixed-id", text=""))  # the retry carries no text
    assert again == first
    assert seen == ["read"]
    with pytest.raises(ValidationError):
        s.add_annotation(note(text=""))  # a new id with no text is still refused
