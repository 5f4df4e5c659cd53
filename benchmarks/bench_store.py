"""Store writes per second for annotations: one writer, and 8 writer processes at once.

Peer: the same rows written with plain ``sqlite3`` (one INSERT per transaction, WAL with
``synchronous=NORMAL`` as the store uses, no validation), in the same run. ratio = our writes/s ÷ peer writes/s.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import tempfile
import time

from shapely.geometry import Point

SINGLE = 400
WRITERS = 8
PER_WRITER = 150


def _ours(data_dir: str, lab_id: str, n: int) -> None:
    os.environ["WORKBENCH_DATA_DIR"] = data_dir
    from workbench.model import Annotation, new_id
    from workbench.store import open_store

    store = open_store("demo")
    for i in range(n):
        store.add_annotation(Annotation(id=new_id(), lab_id=lab_id, geometry=Point(11.55, 48.186),
                                        category="idea", text=f"note {i}", author="bench"))
    store.close()


def _peer(path: str, n: int) -> None:
    import uuid

    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # as the store's connections
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO notes VALUES (?, ?, ?)",
                     (str(uuid.uuid4()), "POINT (11.55 48.186)", f"note {i}"))
        conn.execute("COMMIT")
    conn.close()


def _timed(fn, args_list) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    if len(args_list) == 1:
        fn(*args_list[0])
    else:
        with mp.get_context("spawn").Pool(len(args_list)) as pool:
            pool.starmap(fn, args_list)
    return time.perf_counter() - start


def run() -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="wb-bench-store-")
    os.environ["WORKBENCH_DATA_DIR"] = tmp
    from workbench.demo import ensure_demo

    lab_id = ensure_demo().list_labs()[0].id
    peer_db = os.path.join(tmp, "peer.sqlite")
    with sqlite3.connect(peer_db) as conn:
        conn.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, wkt TEXT, text TEXT)")
    rows = []
    for label, n_proc, per in (("single writer", 1, SINGLE), ("8 writer processes", WRITERS,
                                                               PER_WRITER)):
        ours = _timed(_ours, [(tmp, lab_id, per)] * n_proc)
        peer = _timed(_peer, [(peer_db, per)] * n_proc)
        total = n_proc * per
        rows.append({"name": f"annotation writes/s, {label}", "value": total / ours,
                     "unit": "writes/s", "peer": "plain sqlite3 INSERT",
                     "peer_value": total / peer, "ratio": (total / ours) / (total / peer)})
    return rows
