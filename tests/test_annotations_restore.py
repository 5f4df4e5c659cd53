"""Restoring deleted notes (issue 12): reachable for the note's group from any of its devices
and sessions of the browser, and for facilitators; what a facilitator hid only a facilitator
shows again."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from tests.helpers import MUNICH_LAB
from workbench.access import GROUP_COLOURS, SYSTEM, Actor
from workbench.errors import PermissionDenied
from workbench.model import Annotation, new_id

LAB = MUNICH_LAB
FACILITATOR = Actor("facilitator", "Moderation")


def note(author: str) -> Annotation:
    return Annotation(
        id=new_id(),
        lab_id=LAB,
        geometry=Point(11.552, 48.187),
        category="idea",
        text="Shade",
        author=author,
    )


@pytest.fixture
def room(demo_store):
    s = demo_store
    s.set_passcode("owner", "a long passcode", by=SYSTEM)
    session = s.create_session(LAB, "Workshop", by=FACILITATOR)
    a, _ = s.join_session(s.join_token(session.id), "Group A", GROUP_COLOURS["blue"])
    b, _ = s.join_session(s.join_token(session.id), "Group B", GROUP_COLOURS["orange"])
    # a second device of group A (its own member): another browser, another session
    token = s.add_group_device(session.id, "group a", by=FACILITATOR)
    a2 = s.resume_member(token)
    return s, a, a2, b


def test_the_group_restores_from_another_device_others_do_not_see_it(room):
    s, a, a2, b = room
    mine = s.add_annotation(note("Group A"), by=a)
    s.delete_annotation(mine.id, name="Group A", by=a)
    assert [x.id for x in s.list_deleted_annotations(LAB, restorable_by=a2)] == [mine.id]
    assert s.list_deleted_annotations(LAB, restorable_by=b) == []
    assert s.list_deleted_annotations(LAB, restorable_by=Actor("viewer")) == []
    assert [x.id for x in s.list_deleted_annotations(LAB, restorable_by=FACILITATOR)] == [mine.id]
    with pytest.raises(PermissionDenied):
        s.restore_annotation(mine.id, name="Group B", by=b)
    s.restore_annotation(mine.id, name="Group A", by=a2)
    assert s.get_annotation(mine.id).deleted_at is None


def test_what_a_facilitator_hid_only_a_facilitator_restores(room):
    s, a, a2, _ = room
    mine = s.add_annotation(note("Group A"), by=a)
    s.delete_annotation(mine.id, name="Moderation", by=FACILITATOR)
    assert s.list_deleted_annotations(LAB, restorable_by=a) == []
    with pytest.raises(PermissionDenied) as exc:
        s.restore_annotation(mine.id, name="Group A", by=a2)
    assert exc.value.key == "annotate.error.hidden_by_moderator"
    assert [x.id for x in s.list_deleted_annotations(LAB, restorable_by=FACILITATOR)] == [mine.id]
    s.restore_annotation(mine.id, name="Moderation", by=FACILITATOR)
    assert s.get_annotation(mine.id).deleted_at is None
