"""Database engine set-up and schema migrations (SQLite by default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text

from workbench.errors import SchemaError
from workbench.settings import SQLITE_BUSY_TIMEOUT_MS
from workbench.store.schema import MIGRATIONS, SCHEMA_VERSION

#: Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE = "workbench_write"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; on SQLite with WAL, foreign keys, a busy timeout and writers that
    take the write lock at BEGIN, so that concurrent writers queue instead of failing."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        writer = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine, write: bool) -> Iterator[Connection]:
    """A transaction; committed when the block ends, rolled back on an exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: write})
        with conn.begin():
            yield conn


def schema_version(conn: Connection) -> int:
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute(text("SELECT max(version) FROM schema_version")).scalar()
    return int(row or 0)


def migrate(engine: Engine, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` (default: newest) and return its version.

    An existing database is upgraded step by step, never wiped. A database written by a newer
    workbench is refused with :class:`SchemaError` and left as it is.
    """
    with transaction(engine, write=True) as conn:
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise SchemaError("store.schema_too_new", found=current, supported=SCHEMA_VERSION)
        for version in range(current + 1, target + 1):
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})
        return max(current, target)
