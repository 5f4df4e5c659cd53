"""Every user-facing string, in English, German and Ukrainian.

Strings live in ``workbench/locales/<lang>/*.json``; each file is one topic (``core.json``,
``annotate.json`` ...) and all files of a language are merged into one catalogue. Keys are dotted
(``setup.boundary.too_large``); placeholders use ``str.format`` syntax (``{area:.1f}``).

Counts take the language's plural forms by the CLDR rules (Babel's ``Locale.plural_form``):
``{count:one=# note|other=# notes}``, in Ukrainian ``{count:one=# нотатка|few=# нотатки|
many=# нотаток|other=# нотатки}``; ``#`` is the number, written with the language's separators.

It imports nothing of the workbench (``settings`` and ``errors`` build on it), and it must not
choose a page's language (``workbench.ui`` does).
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale

#: The app's languages (``settings`` re-exports them) and the one a missing text falls back to.
LANGUAGES = ("en", "de", "uk")
DEFAULT_LANGUAGE = "en"

LOCALES_DIR = Path(__file__).parent / "locales"

#: The name of each language in itself, for the language switch.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "uk": "Українська"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of one language, merged from its files."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        clash = merged.keys() & data.keys()
        if clash:
            raise RuntimeError(f"{path}: keys defined twice: {sorted(clash)}")
        merged.update(data)
    return merged


#: Set to 1 (the tests do, in ``tests/conftest.py``): a key missing from the catalogue, or a
#: message its parameters cannot fill, raises :class:`MessageError`. Otherwise (the app) it is
#: logged and the key, or the message unfilled, is shown.
STRICT_ENV = "WORKBENCH_I18N_STRICT"
_log = logging.getLogger(__name__)


class MessageError(LookupError):
    """A message key that is not in the catalogue, or a message its parameters cannot fill."""


def _problem(text: str) -> None:
    if os.environ.get(STRICT_ENV) == "1":
        raise MessageError(text)
    _log.warning(text)


def t(key: str, lang: str | None = None, /, **params: Any) -> str:
    """Translate ``key`` into ``lang`` (falling back to English), filling ``params``.

    A missing key gives the key, a message that cannot be filled the message as written, both
    logged (raised as :class:`MessageError` when ``WORKBENCH_I18N_STRICT=1``)."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key)
    if text is None:
        _problem(f"no message {key!r} in the catalogue")
        return key
    if not params:
        return text
    local = {
        k: _LocalNumber(v, lang)
        if isinstance(v, int | float) and not isinstance(v, bool)
        else _Text(v)
        for k, v in params.items()
    }
    try:
        return text.format(**local)
    except (KeyError, IndexError, ValueError) as exc:
        _problem(f"message {key!r} ({lang}) cannot be filled with {sorted(params)}: {exc!r}")
        return text


def has_key(key: str) -> bool:
    return key in catalogue(DEFAULT_LANGUAGE)


_SEPARATORS = {"en": (",", "."), "de": (".", ","), "uk": ("\u00a0", ",")}


def fmt_number(value: float | int | None, lang: str | None = None, digits: int = 0) -> str:
    """A number with the language's thousands and decimal separators ("—" for no value)."""
    if value is None:
        return "—"
    return _swap_separators(f"{value:,.{digits}f}", lang)


class _LocalNumber:
    """A number that formats itself with the language's separators (``{area:,.1f}``)."""

    def __init__(self, value: float | int, lang: str) -> None:
        self.value, self.lang = value, lang

    def __format__(self, spec: str) -> str:
        forms = plural_spec(spec)
        if forms is not None:
            text = forms.get(plural_category(self.value, self.lang)) or forms.get("other", "")
            number = (
                self.value
                if isinstance(self.value, float) and not self.value.is_integer()
                else int(self.value)
            )
            return text.replace("#", _swap_separators(format(number, ","), self.lang))
        return _swap_separators(format(self.value, spec), self.lang)

    def __str__(self) -> str:
        return _swap_separators(str(self.value), self.lang)


#: The CLDR plural categories.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def plural_spec(spec: str) -> dict[str, str] | None:
    """The forms of a plural placeholder's spec (``one=# note|other=# notes``), else None."""
    if "=" not in spec or spec.split("=", 1)[0] not in PLURAL_CATEGORIES:
        return None
    forms = {}
    for part in spec.split("|"):
        category, _, text = part.partition("=")
        if category not in PLURAL_CATEGORIES:
            return None
        forms[category] = text
    return forms


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def plural_category(value: float | int, lang: str | None) -> str:
    """The CLDR plural category of ``value`` in ``lang`` ("one", "few", "many", "other")."""
    return _locale(lang or DEFAULT_LANGUAGE).plural_form(abs(value))


def plural_forms(key: str, lang: str | None, param: str = "count") -> dict[str, str]:
    """The forms of ``key``'s plural placeholder ``param`` for a browser to choose with
    ``Intl.PluralRules`` (the same CLDR rules): category -> the message with that form and
    ``{param}`` where the number goes. A message without plural forms gives ``{"other": …}``."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    match = re.search(r"\{" + re.escape(param) + r":([^{}]*)\}", text)
    forms = plural_spec(match.group(1)) if match else None
    if match is None or forms is None:
        return {"other": text}
    return {
        cat: text[: match.start()] + form.replace("#", "{" + param + "}") + text[match.end() :]
        for cat, form in forms.items()
    }


class _Text:
    """Any other parameter: as it is; in a plural placeholder (a count that came as text, such
    as a browser's ``{count}``) its "other" form."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        forms = plural_spec(spec)
        if forms is not None:
            return (forms.get("other") or "").replace("#", str(self.value))
        return format(self.value, spec)

    def __str__(self) -> str:
        return str(self.value)


def _swap_separators(text: str, lang: str | None) -> str:
    thousands, decimal = _SEPARATORS.get(lang or DEFAULT_LANGUAGE, _SEPARATORS["en"])
    return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)


_DATE_FORMATS = {"en": "%d %b %Y, %H:%M", "de": "%d.%m.%Y, %H:%M", "uk": "%d.%m.%Y, %H:%M"}


def fmt_datetime(value: datetime | str | None, lang: str | None = None) -> str:
    """A date and time for people (UTC, labelled)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime(_DATE_FORMATS.get(lang or DEFAULT_LANGUAGE, _DATE_FORMATS["en"])) + " UTC"
