"""A round's end is one step: the round ends, its snapshot is kept and linked to it, or nothing
changed (``workbench.workshop.end_round`` over ``Store.close_round``). A failing snapshot
leaves the round running; calling again finishes the job. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from tests.helpers import FACILITATOR, MUNICH_LAB
from workbench import workshop
from workbench.access import Actor
from workbench.errors import PermissionDenied, ValidationError
from workbench.export import snapshots
from workbench.model import Annotation, new_id

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def session(demo_store):
    return demo_store.create_session(MUNICH_LAB, "Workshop", by=FACILITATOR)


def _note(store, text: str) -> None:
    store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=MUNICH_LAB,
            geometry=Point(11.55, 48.18),
            category="idea",
            text=text,
            author="G",
        ),
        by=FACILITATOR,
    )


def test_a_failing_snapshot_leaves_the_round_running_and_a_retry_finishes(
    demo_store, session, monkeypatch
):
    s = demo_store
    started = s.start_round(session.id, "collect", by=FACILITATOR, minutes=5)
    _note(s, "in round one")
    before = {snap.id for snap in s.list_snapshots(MUNICH_LAB)}
    real = snapshots.gather
    calls = []

    def failing_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk gone while reading a layer")
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshots, "gather", failing_once)
    with pytest.raises(OSError):
        workshop.end_round(s, session.id, by=FACILITATOR, lang="de")
    # no half state: the round runs on, no snapshot was kept
    assert s.current_round(session.id) == started
    assert {snap.id for snap in s.list_snapshots(MUNICH_LAB)} == before

    ended = workshop.end_round(s, session.id, by=FACILITATOR, lang="de")
    assert ended.id == started.id and ended.status == "ended" and ended.snapshot_id
    snap = s.get_snapshot(ended.snapshot_id)
    assert snap.name.startswith("Runde 1 · Sammeln · ")
    assert [a["text"] for a in snap.state["annotations"]] == ["in round one"]
    assert s.current_round(session.id) is None
    # nothing left to end
    with pytest.raises(ValidationError) as exc:
        workshop.end_round(s, session.id, by=FACILITATOR)
    assert exc.value.key == "workshop.error.no_round"
    assert len(s.list_snapshots(MUNICH_LAB)) == len(before) + 1


def test_a_round_ended_without_its_snapshot_gets_it_on_the_next_end(demo_store, session):
    s = demo_store
    s.start_round(session.id, "collect", by=FACILITATOR)
    # the store's own start ends the open round without a snapshot (no Chromium, no layers)
    s.start_round(session.id, "discuss", by=FACILITATOR)
    first, second = s.list_rounds(session.id)
    assert first.status == "ended" and first.snapshot_id is None
    workshop.end_round(s, session.id, by=FACILITATOR)  # the discuss round, with its snapshot
    assert s.list_rounds(session.id)[1].snapshot_id
    # the last round has its snapshot: nothing to finish
    with pytest.raises(ValidationError):
        workshop.end_round(s, session.id, by=FACILITATOR)
    # a last round ended by end_session directly is finished by end_round
    s.start_round(session.id, "vote", by=FACILITATOR)
    s.end_session(session.id, by=FACILITATOR)
    third = s.list_rounds(session.id)[2]
    assert third.status == "ended" and third.snapshot_id is None
    done = workshop.end_round(s, session.id, by=FACILITATOR)
    assert done.id == third.id and done.snapshot_id
    assert done.ended_at == third.ended_at  # the end time stays the one it had


def test_the_service_ends_the_open_round_with_its_snapshot_before_the_next(demo_store, session):
    s = demo_store
    s.start_round(session.id, "collect", by=FACILITATOR)
    workshop.start_round(s, session.id, "vote", by=FACILITATOR)
    first, second = s.list_rounds(session.id)
    assert first.snapshot_id and second.status == "running"
    ended = workshop.end_session(s, session.id, by=FACILITATOR)
    assert ended.status == "ended"
    assert all(r.snapshot_id and r.status == "ended" for r in s.list_rounds(session.id))


def test_a_wrong_round_or_actor_ends_nothing(demo_store, session):
    s = demo_store
    running = s.start_round(session.id, "collect", by=FACILITATOR)
    with pytest.raises(ValidationError):
        workshop.start_round(s, session.id, "brainstorm", by=FACILITATOR)
    with pytest.raises(PermissionDenied):
        workshop.end_round(s, session.id, by=Actor("viewer"))
    with pytest.raises(PermissionDenied):
        s.close_round(running.id, by=None)
    assert s.current_round(session.id) == running
