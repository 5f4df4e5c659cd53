"""Where a machine translation service can be plugged in later. The venues are offline, so by
default there is none: people translate notes themselves (``Store.add_translation``), and a
translation is always stored with the person who saved it.

A deployment with a service registers one object with a ``translate(text, source, target)``
method (returning the text, or None when it cannot) through :func:`set_translator`; the Network
page then fills the translation form with its suggestion, for a person to check and save. Nothing
is ever stored without someone saving it.

It must not call a service by default: the venues are offline.
"""

from __future__ import annotations

from typing import Protocol


class Translator(Protocol):
    def translate(self, text: str, source: str, target: str) -> str | None: ...


_translator: Translator | None = None


def set_translator(translator: Translator | None) -> None:
    """Use ``translator`` for suggestions (None: none, the default)."""
    global _translator
    _translator = translator


def suggest(text: str, source: str, target: str) -> str:
    """A suggested translation of ``text`` from ``source`` into ``target``, or "" (no service,
    or it failed: a suggestion is never worth an error)."""
    if _translator is None or not text or source == target:
        return ""
    try:
        return _translator.translate(text, source, target) or ""
    except Exception:  # noqa: BLE001 - a failing service only means no suggestion
        return ""
