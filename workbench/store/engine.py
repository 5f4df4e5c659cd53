"""Database engine set-up and schema migrations (SQLite by default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from workbench.errors import SchemaError, StorageError
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
        try:
            _refuse_newer_schema(cur)  # before WAL: that would rewrite the file's header
        except BaseException:
            cur.close()
            raise
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        writer = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _refuse_newer_schema(cur) -> None:  # type: ignore[no-untyped-def]
    """Raise :class:`SchemaError` when the SQLite file was written by a newer workbench; only
    reads (no journal mode, no table created), so a refused file stays byte for byte as it was."""
    if not cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'schema_version'").fetchone():
        return
    found = int(cur.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
    if found > SCHEMA_VERSION:
        raise SchemaError("store.schema_too_new", found=found, supported=SCHEMA_VERSION)


def is_disk_full(exc: BaseException) -> bool:
    """Whether a database error means the disk (or the database's size limit) is full."""
    return "database or disk is full" in str(getattr(exc, "orig", exc)).lower()


@contextmanager
def transaction(engine: Engine, write: bool) -> Iterator[Connection]:
    """A transaction; committed when the block ends, rolled back on an exception. A full disk
    becomes :class:`StorageError` (``store.disk_full``): nothing of the transaction was kept."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: write})
            with conn.begin():
                yield conn
    except OperationalError as exc:
        if is_disk_full(exc):
            raise StorageError("store.disk_full") from exc
        raise


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
