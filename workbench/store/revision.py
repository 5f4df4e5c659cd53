"""The living lab's revision: the one counter that every write changing what a lab's map, list
or presenter view shows bumps, inside that write's own transaction (see ``store.live``).

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select, update

from workbench.errors import NotFoundError
from workbench.store.base import BUMPED
from workbench.store.engine import workspace_schema
from workbench.store.schema import annotations as annotations_table
from workbench.store.schema import labs

#: PostgreSQL channel on which each committed revision is announced (``schema|lab|revision``).
NOTIFY_CHANNEL = "workbench_live"
#: The channel QGIS listens on for "Refresh layer on notification".
QGIS_CHANNEL = "qgis"


def bump_revision(
    conn: Connection,
    lab_id: str,
    *,
    annotation_ids: Iterable[str] = (),
    all_annotations: bool = False,
    session: bool = False,
) -> int:
    """Bump ``lab_id``'s revision in ``conn`` (the caller's write transaction) and return the new
    number; stamp it on the annotations whose map feature changed (``annotation_ids``, or every
    annotation of the lab: a new voting round resets all vote counts) and, with ``session``, as
    the revision of the lab's session/round state.

    ``UPDATE … RETURNING`` takes the lab row's write lock first (PostgreSQL: the row lock), so
    two writers never get the same number, and a reader never sees a revision whose rows are
    not committed."""
    values = {"revision": labs.c.revision + 1}
    if session:
        values["session_rev"] = labs.c.revision + 1  # SET reads the row's old values
    revision = conn.execute(
        update(labs).where(labs.c.id == lab_id).values(values).returning(labs.c.revision)
    ).scalar()
    if revision is None:
        raise NotFoundError("notfound.lab")
    conn.info.setdefault(BUMPED, set()).add(lab_id)  # told to the commit listeners
    if conn.dialect.name == "postgresql":
        # delivered at commit (never for a rolled-back write) to every process listening:
        # the live channel of each app process, and QGIS layers set to refresh on notification
        schema = workspace_schema(conn.engine) or "public"
        payload = f"{schema}|{lab_id}|{revision}"
        conn.execute(
            select(func.pg_notify(NOTIFY_CHANNEL, payload), func.pg_notify(QGIS_CHANNEL, payload))
        )
    ids = list(dict.fromkeys(annotation_ids))
    if all_annotations:
        conn.execute(
            update(annotations_table)
            .where(annotations_table.c.lab_id == lab_id)
            .values(rev=revision)
        )
    elif ids:
        conn.execute(
            update(annotations_table).where(annotations_table.c.id.in_(ids)).values(rev=revision)
        )
    return int(revision)
