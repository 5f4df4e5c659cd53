"""Database engines, transactions and schema migrations: SQLite by default, PostgreSQL/PostGIS
when ``WORKBENCH_DATABASE_URL`` names one.

Every store rule (one winner per version, the dot limit, one active session per lab …) is judged
inside a *write transaction*, and write transactions of one workspace never overlap:

- SQLite: ``BEGIN IMMEDIATE`` takes the file's write lock at the start;
- PostgreSQL: the first statement takes a transaction-level advisory lock keyed by the
  workspace's schema (``pg_advisory_xact_lock``), released at commit or rollback. Readers are
  never blocked, and each statement of a writer sees everything committed before it.

On top of that the database keeps its own rules (unique and partial unique indexes, CHECK
constraints, conditional updates), so a writer that bypassed the store could not break them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from workbench.errors import SchemaError, StorageError
from workbench.settings import SQLITE_BUSY_TIMEOUT_MS
from workbench.store.schema import SCHEMA_VERSION, migration_sql

if TYPE_CHECKING:
    import psycopg

#: Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE = "workbench_write"
#: URL query parameter naming a workspace's PostgreSQL schema (taken off before connecting).
SCHEMA_PARAM = "workbench_schema"
#: First key of the workbench's advisory locks (the second is the schema's hash, or 0 for the
#: migration lock of the whole database). Any 32-bit number no other application uses.
LOCK_SPACE = 0x57424E48  # "WBNH"
#: Seconds to wait for a PostgreSQL server before saying it cannot be reached.
PG_CONNECT_TIMEOUT = 5


#: The workspace schema of each PostgreSQL engine :func:`make_engine` made (None: ``public``).
_SCHEMAS: WeakKeyDictionary[Engine, str | None] = WeakKeyDictionary()


def workspace_schema(engine: Engine) -> str | None:
    """The PostgreSQL schema a store engine works in (first on its ``search_path``); None for
    ``public`` and for SQLite."""
    return _SCHEMAS.get(engine)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def postgres_url(url: str) -> URL:
    """``url`` with the psycopg driver (``postgresql://`` and ``postgres://`` as given by most
    hosting panels would ask SQLAlchemy for psycopg2, which the workbench does not install)."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def schema_of(url: str) -> str | None:
    """The workspace schema named in a store URL (``…?workbench_schema=wb_demo``), or None."""
    values = parse_qs(urlsplit(url).query).get(SCHEMA_PARAM)
    return values[0] if values else None


def host_of(url: str) -> str:
    """Where a database URL points, for messages (never the password)."""
    if not is_postgres(url):
        return url.removeprefix("sqlite:///")
    parsed = postgres_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def make_engine(url: str) -> Engine:
    """An engine for ``url``; see the module's text for how writers are kept apart."""
    if is_postgres(url):
        return _postgres_engine(url)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
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


def _postgres_engine(url: str) -> Engine:
    parsed = postgres_url(url)
    schema = parsed.query.get(SCHEMA_PARAM)
    schema = schema[0] if isinstance(schema, tuple) else schema
    parsed = parsed.difference_update_query([SCHEMA_PARAM])
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={
            "connect_timeout": PG_CONNECT_TIMEOUT,
            "application_name": "living-lab-workbench",
        },
    )
    _SCHEMAS[engine] = schema

    @event.listens_for(engine, "connect")
    def _on_connect(
        dbapi_conn: psycopg.Connection[tuple[Any, ...]], _record: ConnectionPoolEntry
    ) -> None:
        with dbapi_conn.cursor() as cur:
            path = f"{quote_ident(schema)}, public" if schema else "public"
            cur.execute(f"SET search_path TO {path}")
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE, False):
            # wait as long as SQLite would, then StoreBusy (base._busy_is_an_error)
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(SQLITE_BUSY_TIMEOUT_MS)}")
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:schema))"),
                {"space": LOCK_SPACE, "schema": schema or "public"},
            )

    return engine


def _refuse_newer_schema(cur: sqlite3.Cursor) -> None:
    """Raise :class:`SchemaError` when the SQLite file was written by a newer workbench; only
    reads (no journal mode, no table created), so a refused file stays byte for byte as it was."""
    if not cur.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        return
    found = int(cur.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
    if found > SCHEMA_VERSION:
        raise SchemaError("store.schema_too_new", found=found, supported=SCHEMA_VERSION)


def is_disk_full(exc: BaseException) -> bool:
    """Whether a database error means the disk (or the database's size limit) is full."""
    message = str(getattr(exc, "orig", exc)).lower()
    return "database or disk is full" in message or "no space left on device" in message


def is_unreachable(exc: BaseException) -> bool:
    """Whether a PostgreSQL error means the server cannot be reached or refused the login: no
    SQLSTATE (the client never got an answer), or class 08 (connection exception), 28 (invalid
    authorization), 3D000 (no such database), 57P01-57P03 (the server shut down)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return (
        state is None or state[:2] in ("08", "28") or state in ("3D000", "57P01", "57P02", "57P03")
    )


@contextmanager
def transaction(engine: Engine, write: bool, *, foreign_keys: bool = True) -> Iterator[Connection]:
    """A transaction; committed when the block ends, rolled back on an exception. A full disk
    becomes :class:`StorageError` (``store.disk_full``): nothing of the transaction was kept; a
    database server that cannot be reached becomes ``store.unreachable``.

    ``foreign_keys=False`` (SQLite; migrations only): the connection does not enforce foreign
    keys during the transaction, so a table built again can be dropped without cascading; the
    caller checks them before the end (``PRAGMA foreign_key_check``)."""
    try:
        with engine.connect() as conn:
            off = not foreign_keys and engine.dialect.name == "sqlite"
            if off:  # outside a transaction: SQLite ignores the pragma inside one
                _sqlite_pragma(conn, "foreign_keys = OFF")
            try:
                conn = conn.execution_options(**{WRITE: write})
                with conn.begin():
                    yield conn
            finally:
                if off:
                    _sqlite_pragma(conn, "foreign_keys = ON")
    except OperationalError as exc:
        if is_disk_full(exc):
            raise StorageError("store.disk_full") from exc
        if engine.dialect.name == "postgresql" and is_unreachable(exc):
            raise StorageError("store.unreachable", host=host_of(str(engine.url))) from None
        raise


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    """Run ``PRAGMA …`` on the SQLite connection itself, outside SQLAlchemy's transaction."""
    _sqlite_outside_transaction(conn, f"PRAGMA {pragma}")


def _sqlite_outside_transaction(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the SQLite connection itself, outside SQLAlchemy's transaction (a pragma
    that SQLite ignores inside one, VACUUM that it refuses there)."""
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is None:  # the connection was invalidated: a new one has the defaults
        return
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def schema_version(conn: Connection) -> int:
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute(text("SELECT max(version) FROM schema_version")).scalar()
    return int(row or 0)


def migrate(engine: Engine, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` (default: newest) and return its version.

    An existing database is upgraded step by step, never wiped. A database written by a newer
    workbench is refused with :class:`SchemaError` and left as it is. On PostgreSQL, processes
    starting at once take turns (an advisory lock), so exactly one of them migrates. On SQLite
    the migrations run with foreign keys off (a table built again, migration 11, must not
    cascade when the old one is dropped), and a migration that left a row breaking one is
    rolled back whole; a new SQLite file is vacuumed once migrated, so it starts without the
    pages those tables left free.
    """
    with transaction(engine, write=True, foreign_keys=False) as conn:
        if conn.dialect.name == "postgresql":
            _prepare_postgres(conn, workspace_schema(engine))
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise SchemaError("store.schema_too_new", found=current, supported=SCHEMA_VERSION)
        for version in range(current + 1, target + 1):
            for statement in migration_sql(version, conn.dialect.name).split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})
        if conn.dialect.name == "sqlite" and target > current:
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise SchemaError(
                    "store.upgrade_broken_keys",
                    version=target,
                    count=len(broken),
                    table=str(broken[0][0]),
                )
    if engine.dialect.name == "sqlite" and current == 0 and target >= _SQLITE_REBUILD:
        with engine.connect() as conn:  # a few kB at once, never an existing workspace
            _sqlite_outside_transaction(conn, "VACUUM")
    return max(current, target)


#: The migration that builds SQLite tables again (schema.py, v11), leaving their pages free.
_SQLITE_REBUILD = 11


def _prepare_postgres(conn: Connection, schema: str | None) -> None:
    """Before migrating a PostgreSQL workspace: take the database's migration lock, refuse a
    newer schema untouched, make sure PostGIS is there and create the workspace's schema."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": LOCK_SPACE})
    name = schema or "public"
    found = conn.execute(
        text(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
            "AND table_name = 'schema_version'"
        ),
        {"s": name},
    ).first()
    if found:
        version = conn.execute(
            text(f"SELECT max(version) FROM {quote_ident(name)}.schema_version")
        ).scalar()
        found_version = int(version or 0)
        if found_version > SCHEMA_VERSION:
            raise SchemaError("store.schema_too_new", found=found_version, supported=SCHEMA_VERSION)
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first() is None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION postgis SCHEMA public")
        except DBAPIError as exc:
            raise SchemaError("store.postgis_missing", host=host_of(str(conn.engine.url))) from exc
    if schema:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        if schema == LEGACY_SCHEMA:
            _adopt_public_tables(conn, schema)


#: Until schema 8 the demo workspace (the only one on PostgreSQL then) lived in ``public``.
LEGACY_SCHEMA = "wb_demo"


def _adopt_public_tables(conn: Connection, schema: str) -> None:
    """Move a workspace of schema 1-7 from ``public`` into ``schema`` (once: only while
    ``schema`` holds no workspace yet), so that it is upgraded instead of left behind."""

    def has_workspace(where: str) -> bool:
        return (
            conn.execute(
                text(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                    "AND table_name = 'schema_version'"
                ),
                {"s": where},
            ).first()
            is not None
        )

    if has_workspace(schema) or not has_workspace("public"):
        return
    from workbench.store.schema import metadata

    names = [*metadata.tables, "schema_version"]
    present = {
        r[0]
        for r in conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        )
    }
    for name in names:
        if name in present:
            conn.exec_driver_sql(
                f"ALTER TABLE public.{quote_ident(name)} SET SCHEMA {quote_ident(schema)}"
            )
