"""The store's foundation: engine, transactions, and row conversion helpers.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from workbench.errors import StoreBusy
from workbench.store.engine import make_engine, migrate, transaction

#: A record as the row converters (``_annotation``, ``_link`` …) take it: a row as read, or the
#: values just written (column name -> value as stored).
Record = RowMapping | Mapping[str, Any]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default


@contextmanager
def _busy_is_an_error() -> Iterator[None]:
    """A pool time-out or SQLite's "database is locked" as :class:`StoreBusy` (translated),
    instead of SQLAlchemy's own error reaching the page."""
    try:
        yield
    except PoolTimeout:
        raise StoreBusy("hosting.error.busy") from None
    except OperationalError as exc:
        message = str(exc.orig)
        if "locked" in message or "busy" in message or "lock timeout" in message:
            raise StoreBusy("hosting.error.busy") from None
        raise


#: Called after a write transaction that bumped living labs' revisions has committed, with the
#: store's database URL and those labs' ids (``workbench.live`` wakes its subscribers so).
CommitListener = Callable[[str, frozenset[str]], None]
_COMMIT_LISTENERS: list[CommitListener] = []
_log = logging.getLogger(__name__)

#: ``Connection.info`` key under which ``revision.bump_revision`` collects the labs it bumped.
BUMPED = "workbench_bumped_labs"


def add_commit_listener(listener: CommitListener) -> None:
    """Call ``listener(url, lab_ids)`` after every committed write of this process that bumped
    the revision of ``lab_ids`` (once per listener, however often it is added)."""
    if listener not in _COMMIT_LISTENERS:
        _COMMIT_LISTENERS.append(listener)


def remove_commit_listener(listener: CommitListener) -> None:
    if listener in _COMMIT_LISTENERS:
        _COMMIT_LISTENERS.remove(listener)


def _committed(url: str, bumped: set[str]) -> None:
    for listener in list(_COMMIT_LISTENERS):
        try:
            listener(url, frozenset(bumped))
        except Exception:  # noqa: BLE001 - a listener must never fail the write it follows
            _log.exception("commit listener failed")


class StoreBase:
    """Opens (and migrates) the database; gives read and write transactions to the mixins."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._batch = threading.local()  # this thread's open batch() transaction, if any
        self.version = migrate(self.engine)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction for several store calls of this thread (an import): every
        ``read``/``write`` inside the block joins it, so either all of them are kept or, on an
        exception, none."""
        if getattr(self._batch, "conn", None) is not None:
            yield
            return
        with self._write_transaction() as conn:
            self._batch.conn = conn
            try:
                yield
            finally:
                self._batch.conn = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        joined = getattr(self._batch, "conn", None)
        if joined is not None:
            yield joined
            return
        with _busy_is_an_error(), transaction(self.engine, write=False) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        joined = getattr(self._batch, "conn", None)
        if joined is not None:
            yield joined
            return
        with self._write_transaction() as conn:
            yield conn

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A write transaction; once it has committed, the commit listeners hear which labs'
        revisions it bumped (a rolled-back one tells nobody)."""
        bumped = None
        with _busy_is_an_error():
            with transaction(self.engine, write=True) as conn:
                conn.info.pop(BUMPED, None)  # left by a rolled-back write on this connection
                yield conn
                bumped = conn.info.pop(BUMPED, None)
        if bumped:
            _committed(self.url, bumped)

    def close(self) -> None:
        self.engine.dispose()
