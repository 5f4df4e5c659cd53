"""The workspace store: the only code that speaks SQL.

A workspace is one database: a SQLite file under the data directory by default, or one schema
of the PostgreSQL/PostGIS database named by ``WORKBENCH_DATABASE_URL``. Every write is a
transaction; ids are UUIDs made by the caller so that a retried write is idempotent.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, text

from workbench.errors import NotFoundError
from workbench.settings import (
    DEMO_WORKSPACE,
    WORKSPACE_NAME,
    WORKSPACE_SCHEMA_PREFIX,
    configured_database,
    database_url,
    workspace_path,
    workspaces_dir,
)
from workbench.store.annotations import AnnotationMixin
from workbench.store.core import CoreMixin
from workbench.store.engine import (
    is_postgres,
    make_engine,
    quote_ident,
    transaction,
    workspace_schema,
)
from workbench.store.features import FeatureSets, FileFeatureSets, PostgisFeatureSets
from workbench.store.live import LiveMixin
from workbench.store.network import NetworkMixin
from workbench.store.participation import ParticipationMixin
from workbench.store.schema import SCHEMA_VERSION
from workbench.store.workshop import WorkshopMixin

__all__ = [
    "Store",
    "open_store",
    "list_workspaces",
    "workspace_exists",
    "drop_workspace",
    "SCHEMA_VERSION",
]


class Store(NetworkMixin, LiveMixin, WorkshopMixin, AnnotationMixin, ParticipationMixin, CoreMixin):
    """All of a workspace's records, behind one API."""

    @cached_property
    def features(self) -> FeatureSets:
        """The workspace's feature sets (OSM themes, uploaded layers): PostGIS tables of its
        schema, or GeoParquet files in the folder beside its SQLite file."""
        if is_postgres(self.url):
            return PostgisFeatureSets(self.engine)
        return FileFeatureSets(_beside(self.url, ".layers"))

    @cached_property
    def key(self) -> str:
        """A short name of this workspace's database, the same in every process: what caches
        outside the database (computed indicators) are keyed by."""
        where = self.engine.url.render_as_string(hide_password=True)
        where += "#" + (workspace_schema(self.engine) or "")
        return hashlib.sha1(where.encode()).hexdigest()[:16]


def _beside(url: str, suffix: str) -> Path:
    """A folder beside a SQLite workspace's file (for an in-memory database: in the cache)."""
    from workbench.settings import cache_dir

    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        return cache_dir() / "memory-workspaces" / hashlib.sha1(url.encode()).hexdigest()[:16]
    return Path(path).with_suffix(suffix)


def open_store(
    workspace: str = DEMO_WORKSPACE, url: str | None = None, create: bool = False
) -> Store:
    """Open (migrating as needed) the store of ``workspace``, a valid workspace name
    (``settings.check_workspace_name``): its SQLite file in the workspaces folder, or its schema
    in the configured PostgreSQL database.

    A workspace that does not exist yet is refused (:class:`NotFoundError`) unless ``create``
    is set: only the operator's code creates workspaces (the demo seeding, ``workbench
    import``, ``hosting.create_workspace``).
    """
    if url is None:
        url = database_url(workspace)
        if not create and not workspace_exists(workspace):
            raise NotFoundError("hosting.error.workspace_unknown", name=workspace)
    return Store(url)


def _postgres() -> str | None:
    url = configured_database()
    return url if url and is_postgres(url) else None


def _catalog(url: str) -> list[str]:
    """Workspace names in the configured PostgreSQL database: the schemas ``wb_<name>`` that
    hold a workspace (a ``schema_version`` table)."""
    engine = _catalog_engines.get(url)
    if engine is None:
        engine = _catalog_engines[url] = make_engine(url)
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            text(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'schema_version' AND table_schema LIKE :prefix"
            ),
            {"prefix": WORKSPACE_SCHEMA_PREFIX.replace("_", "\\_") + "%"},
        ).scalars()
        names = [s.removeprefix(WORKSPACE_SCHEMA_PREFIX) for s in rows]
    return sorted(n for n in names if WORKSPACE_NAME.fullmatch(n))


_catalog_engines: dict[str, Engine] = {}


def workspace_exists(workspace: str) -> bool:
    """Whether ``workspace`` is a valid name of an existing workspace."""
    if not WORKSPACE_NAME.fullmatch(workspace or ""):
        return False
    url = _postgres()
    if url is not None:
        return workspace in _catalog(url)
    configured = configured_database()
    if configured and workspace == DEMO_WORKSPACE:
        return True  # a SQLite file elsewhere: created when opened, as before
    return workspace_path(workspace).exists()


def list_workspaces() -> list[str]:
    """Names of the deployment's workspaces: the schemas of the configured PostgreSQL
    database, else the SQLite files of the workspaces folder (other files are ignored)."""
    url = _postgres()
    if url is not None:
        return _catalog(url)
    return sorted(
        p.stem for p in workspaces_dir().glob("*.sqlite") if WORKSPACE_NAME.fullmatch(p.stem)
    )


def drop_workspace(workspace: str) -> None:
    """Delete a workspace's database for good: its SQLite file (and the folder of its feature
    sets beside it), or its schema (with every table in it). Only the operator's code calls
    this (``workbench demo --reset``)."""
    url = database_url(workspace)
    if not is_postgres(url):
        path = workspace_path(workspace)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        shutil.rmtree(_beside(url, ".layers"), ignore_errors=True)  # its feature sets
        return
    engine = make_engine(url)
    try:
        with transaction(engine, write=True) as conn:
            conn.exec_driver_sql(
                f"DROP SCHEMA IF EXISTS {quote_ident(WORKSPACE_SCHEMA_PREFIX + workspace)} CASCADE"
            )
    finally:
        engine.dispose()
