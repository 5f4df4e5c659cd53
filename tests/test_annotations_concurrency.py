"""Sixteen writers in separate processes save 100 annotations each on the same living lab at
once: all 1,600 are stored and no "database is locked" reaches anyone."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import pytest

from tests.helpers import MUNICH_LAB

LAB = MUNICH_LAB
WRITERS, EACH = 16, 100

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def _writer(data_dir: str, writer: int, start, errors) -> None:  # type: ignore[no-untyped-def]
    os.environ["WORKBENCH_DATA_DIR"] = data_dir
    from shapely.geometry import Point

    from workbench.model import Annotation, new_id
    from workbench.store import open_store

    store = open_store("demo", create=True)
    start.wait()
    try:
        for i in range(EACH):
            a = Annotation(
                id=new_id(),
                lab_id=LAB,
                category="idea",
                geometry=Point(11.55 + writer * 1e-4, 48.185 + i * 1e-5),
                text=f"writer {writer} note {i}",
                author=f"Group {writer}",
            )
            store.add_annotation(a)
            if i % 10 == 0:  # a retried save (double click) must not store a second one
                store.add_annotation(a)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(f"{writer}: {type(exc).__name__}: {exc}")
    finally:
        store.close()


@pytest.mark.slow
def test_sixteen_processes_write_1600_annotations(data_dir):
    from workbench.demo import ensure_demo

    ensure_demo(on_purpose=True).close()  # create and seed the workspace once, first
    ctx = mp.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(str(data_dir), w, start, errors)) for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    for p in procs:
        p.join(timeout=300)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    assert all(p.exitcode == 0 for p in procs)

    from workbench.store import open_store

    store = open_store("demo", create=True)
    notes = store.list_annotations(LAB)
    assert len(notes) == WRITERS * EACH
    assert len({a.id for a in notes}) == WRITERS * EACH
    assert {a.text for a in notes} == {
        f"writer {w} note {i}" for w in range(WRITERS) for i in range(EACH)
    }
    store.close()
