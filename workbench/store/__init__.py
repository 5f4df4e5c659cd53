"""The workspace store: the only code that speaks SQL.

A workspace is one database (SQLite file under the data directory by default). Every write is a
transaction; ids are UUIDs made by the caller so that a retried write is idempotent.
"""

from __future__ import annotations

from workbench.errors import NotFoundError
from workbench.settings import (
    DEMO_WORKSPACE,
    WORKSPACE_NAME,
    database_url,
    workspace_path,
    workspaces_dir,
)
from workbench.store.annotations import AnnotationMixin
from workbench.store.core import CoreMixin
from workbench.store.live import LiveMixin
from workbench.store.participation import ParticipationMixin
from workbench.store.schema import SCHEMA_VERSION
from workbench.store.workshop import WorkshopMixin

__all__ = ["Store", "open_store", "list_workspaces", "workspace_exists", "SCHEMA_VERSION"]


class Store(LiveMixin, WorkshopMixin, AnnotationMixin, ParticipationMixin, CoreMixin):
    """All of a workspace's records, behind one API."""


def open_store(workspace: str = DEMO_WORKSPACE, url: str | None = None,
               create: bool = False) -> Store:
    """Open (migrating as needed) the store of ``workspace``, a valid workspace name
    (``settings.check_workspace_name``) whose file lives in the workspaces folder.

    A workspace that does not exist yet is refused (:class:`NotFoundError`) unless ``create``
    is set: only the operator's code creates workspaces (the demo seeding, ``workbench
    import``, ``hosting.create_workspace``).
    """
    if url is None:
        url, path = database_url(workspace), workspace_path(workspace)
        if url == f"sqlite:///{path}" and not create and not path.exists():
            raise NotFoundError("hosting.error.workspace_unknown", name=workspace)
    return Store(url)


def workspace_exists(workspace: str) -> bool:
    """Whether ``workspace`` is a valid name of an existing workspace."""
    return bool(WORKSPACE_NAME.fullmatch(workspace or "")) and workspace_path(workspace).exists()


def list_workspaces() -> list[str]:
    """Names of the workspaces in the workspaces folder (files with other names are ignored)."""
    return sorted(p.stem for p in workspaces_dir().glob("*.sqlite")
                  if WORKSPACE_NAME.fullmatch(p.stem))
