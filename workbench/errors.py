"""The workbench's own errors: each carries a message key that the pages translate.

It must not import other workbench modules at module level (every module imports it);
:meth:`WorkbenchError.message` looks the text up in ``i18n`` when asked.
"""

from __future__ import annotations

from typing import Any


class WorkbenchError(Exception):
    """An error a user can act on.

    ``key`` names a message in the locale catalogue (``workbench/locales``); ``params`` fill its
    placeholders. ``str(error)`` gives the English text, so logs and the CLI stay readable.
    """

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(key)

    def message(self, lang: str = "en") -> str:
        from workbench.i18n import t

        params = dict(self.params)
        if "field" in params:  # field codes are translated too ("title" → "Titel")
            params["field"] = t(f"fieldname.{params['field']}", lang)
        return t(self.key, lang, **params)

    def __str__(self) -> str:
        return self.message("en")


class ValidationError(WorkbenchError):
    """Input that was refused; nothing was written."""


class NotFoundError(WorkbenchError):
    """A requested record does not exist (or was deleted)."""


class SchemaError(WorkbenchError):
    """The database file cannot be used by this version of the workbench."""


class StorageError(WorkbenchError):
    """The database could not be written (the disk is full); nothing of the change was kept."""


class PermissionDenied(WorkbenchError):
    """The acting person's role does not allow this action."""


class ConflictError(WorkbenchError):
    """Someone else changed the record since it was read; nothing was written.

    ``current`` holds the record as it is now, so a page can show it and let the person apply
    their change again.
    """

    def __init__(self, key: str, current: object = None, **params: Any) -> None:
        super().__init__(key, **params)
        self.current = current


class StoreBusy(WorkbenchError):
    """The database stayed busy (locked by other writers, or no free connection) for longer
    than the store waits; nothing was written, trying again later works."""
