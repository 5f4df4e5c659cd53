"""The workspace store: the only code that speaks SQL.

A workspace is one database (SQLite file under the data directory by default). Every write is a
transaction; ids are UUIDs made by the caller so that a retried write is idempotent.
"""

from __future__ import annotations

from workbench.settings import DEMO_WORKSPACE, database_url, workspaces_dir
from workbench.store.annotations import AnnotationMixin
from workbench.store.core import CoreMixin
from workbench.store.participation import ParticipationMixin
from workbench.store.schema import SCHEMA_VERSION
from workbench.store.workshop import WorkshopMixin

__all__ = ["Store", "open_store", "list_workspaces", "SCHEMA_VERSION"]


class Store(WorkshopMixin, AnnotationMixin, ParticipationMixin, CoreMixin):
    """All of a workspace's records, behind one API."""


def open_store(workspace: str = DEMO_WORKSPACE, url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store of ``workspace``."""
    return Store(url or database_url(workspace))


def list_workspaces() -> list[str]:
    """Names of the workspaces under the data directory."""
    return sorted(p.stem for p in workspaces_dir().glob("*.sqlite"))
