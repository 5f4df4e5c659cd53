"""Two (and more) processes writing the same workspace at once both succeed."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest
from shapely.geometry import Point

from workbench.model import Annotation, new_id

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def _writer(data_dir: str, lab_id: str, n: int, author: str) -> int:
    os.environ["WORKBENCH_DATA_DIR"] = data_dir
    from workbench.store import open_store

    store = open_store("demo", create=True)
    for i in range(n):
        store.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=lab_id,
                geometry=Point(11.55, 48.186),
                category="idea",
                text=f"{author} {i}",
                author=author,
            )
        )
    store.close()
    return n


def test_two_processes_write_at_once(demo_store, data_dir):
    lab = demo_store.list_labs()[0]
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        done = pool.starmap(
            _writer, [(str(data_dir), lab.id, 60, "A"), (str(data_dir), lab.id, 60, "B")]
        )
    assert done == [60, 60]
    texts = {a.text for a in demo_store.list_annotations(lab.id)}
    assert len(texts) == 120 and {"A 59", "B 59"} <= texts
