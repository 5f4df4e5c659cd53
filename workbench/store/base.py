"""The store's foundation: engine, transactions, and row conversion helpers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from workbench.errors import StoreBusy
from workbench.store.engine import make_engine, migrate, transaction


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
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            raise StoreBusy("hosting.error.busy") from None
        raise


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
        with _busy_is_an_error(), transaction(self.engine, write=True) as conn:
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
        with _busy_is_an_error(), transaction(self.engine, write=True) as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()
