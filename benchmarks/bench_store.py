"""Store writes per second for annotations: one writer, and 8 writer processes at once, on
SQLite and (when a server is there) on PostgreSQL/PostGIS.

Peers, in the same run: on SQLite, plain ``sqlite3`` (one INSERT per transaction, WAL with
``synchronous=NORMAL`` as the store uses, no validation); on PostgreSQL, plain ``psycopg`` (one
INSERT of a PostGIS point per transaction, no validation, no lock). ratio = our writes/s ÷ peer
writes/s. Times run from the start signal (every writer process has imported and connected) to
the last writer's end. The PostgreSQL server: ``WORKBENCH_BENCH_DATABASE_URL``, else the
tests' ``WORKBENCH_TEST_DATABASE_URL`` default (a scratch database is created and dropped).
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


def _ours(
    data_dir: str,
    lab_id: str,
    n: int,
    start,
    out,  # type: ignore[no-untyped-def]
    database: str = "",
) -> None:
    os.environ["WORKBENCH_DATA_DIR"] = data_dir
    if database:
        os.environ["WORKBENCH_DATABASE_URL"] = database
    from workbench.model import Annotation, new_id
    from workbench.store import open_store

    store = open_store("demo")
    notes = [
        Annotation(
            id=new_id(),
            lab_id=lab_id,
            geometry=Point(11.55, 48.186),
            category="idea",
            text=f"note {i}",
            author="bench",
        )
        for i in range(n)
    ]
    start.wait()
    began = time.perf_counter()
    for a in notes:
        store.add_annotation(a)
    out.put((began, time.perf_counter()))
    store.close()


def _peer(path: str, n: int, start, out) -> None:  # type: ignore[no-untyped-def]
    import uuid

    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # as the store's connections
    start.wait()
    began = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO notes VALUES (?, ?, ?)",
            (str(uuid.uuid4()), "POINT (11.55 48.186)", f"note {i}"),
        )
        conn.execute("COMMIT")
    out.put((began, time.perf_counter()))
    conn.close()


def _peer_psycopg(conninfo: str, n: int, start, out) -> None:  # type: ignore[no-untyped-def]
    import uuid

    import psycopg

    conn = psycopg.connect(conninfo)
    start.wait()
    began = time.perf_counter()
    for i in range(n):
        with conn.transaction():
            conn.execute(
                "INSERT INTO peer_notes VALUES (%s, ST_GeomFromText(%s, 4326), %s)",
                (str(uuid.uuid4()), "POINT (11.55 48.186)", f"note {i}"),
            )
    out.put((began, time.perf_counter()))
    conn.close()


def _timed(fn, args: tuple, n_proc: int, **kwargs) -> float:  # type: ignore[no-untyped-def]
    """Seconds from the first writer's start to the last writer's end; each writer process has
    imported and opened its database before the start signal, so spawning is not counted."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=fn, args=(*args, start, out), kwargs=kwargs) for _ in range(n_proc)]
    for p in procs:
        p.start()
    time.sleep(0.5 + 0.4 * n_proc)  # let them import and connect
    start.set()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return max(end for _, end in spans) - min(begin for begin, _ in spans)


def run() -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="wb-bench-store-")
    os.environ["WORKBENCH_DATA_DIR"] = tmp
    os.environ.pop("WORKBENCH_DATABASE_URL", None)
    from workbench.demo import ensure_demo

    lab_id = ensure_demo().list_labs()[0].id
    peer_db = os.path.join(tmp, "peer.sqlite")
    with sqlite3.connect(peer_db) as conn:
        conn.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, wkt TEXT, text TEXT)")
    rows = []
    sqlite_rates = {}
    for label, n_proc, per in CASES:
        ours = _timed(_ours, (tmp, lab_id, per), n_proc)
        peer = _timed(_peer, (peer_db, per), n_proc)
        total = n_proc * per
        sqlite_rates[label] = total / ours
        rows.append(
            {
                "name": f"annotation writes/s, {label}",
                "value": total / ours,
                "unit": "writes/s",
                "peer": "plain sqlite3 INSERT",
                "peer_value": total / peer,
                "ratio": (total / ours) / (total / peer),
            }
        )
    rows += _postgres_rows(tmp, sqlite_rates)
    return rows


CASES = (("single writer", 1, SINGLE), ("8 writer processes", WRITERS, PER_WRITER))


def _postgres_rows(tmp: str, sqlite_rates: dict) -> list[dict]:
    """The same writes on PostgreSQL/PostGIS, beside plain psycopg (nothing when no server)."""
    import psycopg

    from benchmarks.scratch_postgres import scratch_database
    from workbench.store.engine import postgres_url

    rows = []
    with scratch_database() as database:
        if database is None:
            return []
        conninfo = (
            postgres_url(database)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        try:
            os.environ["WORKBENCH_DATABASE_URL"] = database
            from workbench.demo import ensure_demo

            lab_id = ensure_demo(on_purpose=True).list_labs()[0].id
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE peer_notes (id text PRIMARY KEY, "
                    "geom geometry(Point, 4326), text text)"
                )
            for label, n_proc, per in CASES:
                ours = _timed(_ours, (tmp, lab_id, per), n_proc, database=database)
                peer = _timed(_peer_psycopg, (conninfo, per), n_proc)
                total = n_proc * per
                rows.append(
                    {
                        "name": f"annotation writes/s on PostgreSQL, {label}",
                        "value": total / ours,
                        "unit": "writes/s",
                        "peer": "plain psycopg INSERT",
                        "peer_value": total / peer,
                        "ratio": (total / ours) / (total / peer),
                        "note": f"SQLite in this run: {sqlite_rates[label]:.0f} writes/s",
                    }
                )
        finally:
            os.environ.pop("WORKBENCH_DATABASE_URL", None)
    return rows
