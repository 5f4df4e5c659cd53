"""The string catalogue: every key in every language, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from workbench import i18n
from workbench.settings import LANGUAGES

SOURCES = [*Path(i18n.__file__).parent.rglob("*.py"), *Path("pages").glob("*.py"), Path("app.py")]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", [x for x in LANGUAGES if x != "en"])
def test_every_key_translated_with_same_placeholders(lang):
    en, other = i18n.catalogue("en"), i18n.catalogue(lang)
    assert sorted(en.keys() - other.keys()) == [], f"missing in {lang}"
    assert sorted(other.keys() - en.keys()) == [], f"only in {lang}"
    for key, text in en.items():
        assert placeholders(other[key]) == placeholders(text), key


def test_keys_used_in_code_exist():
    pattern = re.compile(r"""(?:\bt|Error)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
    used = {k for path in SOURCES for k in pattern.findall(path.read_text(encoding="utf-8"))}
    assert used, "no keys found: the pattern is broken"
    missing = sorted(k for k in used if not i18n.has_key(k))
    assert missing == []


def test_translation_falls_back_and_formats():
    assert i18n.t("nav.home", "de") == "Übersicht"
    assert i18n.t("nav.home", "xx") == "Overview"
    assert i18n.t("no.such.key", "de") == "no.such.key"
    assert i18n.t("boundary.too_large", "de", area=61.25, limit=50).startswith(
        "Das Gebiet hat 61,2 km²")


def test_numbers_and_dates_follow_the_language():
    assert i18n.fmt_number(1234567.891, "en", 2) == "1,234,567.89"
    assert i18n.fmt_number(1234567.891, "de", 2) == "1.234.567,89"
    assert i18n.fmt_number(1234567.891, "uk", 1) == "1\u00a0234\u00a0567,9"
    assert i18n.fmt_number(None) == "—"
    assert i18n.fmt_datetime("2026-05-04T13:05:00+00:00", "de") == "04.05.2026, 13:05 UTC"
