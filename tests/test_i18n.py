"""The string catalogue: every key in every language, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from workbench import i18n
from workbench.settings import LANGUAGES

SOURCES = [*Path(i18n.__file__).parent.rglob("*.py"), *Path("pages").glob("*.py"), Path("app.py")]
# What the app's code may name a message in: its Python and the JavaScript it ships.
KEY_SOURCES = [*SOURCES, *Path(i18n.__file__).parent.rglob("*.js")]


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


def test_every_key_is_used_in_code():
    """A catalogue key is used when the code has it as a string literal ("nav.home", wherever
    it is passed on), or builds it with an f-string starting with a literal part that has a dot
    (f"opendata.theme.{code}", f"setup.mode_{m}" declare every key they can make). A key built
    any other way must appear literally, e.g. in a tuple of the keys it can be."""
    code = "\n".join(path.read_text(encoding="utf-8") for path in KEY_SOURCES)
    literals = set(re.findall(r"""["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)["']""", code))
    prefixes = set(re.findall(r"""\bf["']([a-z][a-z0-9_]*\.[a-z0-9_.]*)\{""", code))
    assert literals and prefixes, "no keys found: a pattern is broken"
    unused = sorted(
        k
        for k in i18n.catalogue("en")
        if k not in literals and not any(k.startswith(p) for p in prefixes)
    )
    assert unused == [], "in the catalogue but not in the code"


def test_translation_falls_back_and_formats():
    assert i18n.t("nav.home", "de") == "Übersicht"
    assert i18n.t("nav.home", "xx") == "Overview"
    assert i18n.t("boundary.too_large", "de", area=61.25, limit=50).startswith(
        "Das Gebiet hat 61,2 km²"
    )


def test_a_bad_key_or_placeholder_raises_in_tests_and_is_logged_in_use(monkeypatch, caplog):
    with pytest.raises(i18n.MessageError, match="no.such.key"):
        i18n.t("no.such.key", "de")
    with pytest.raises(i18n.MessageError, match="boundary.too_large"):
        i18n.t("boundary.too_large", "de", area=61.25)  # {limit} missing
    with pytest.raises(i18n.MessageError):
        i18n.t("boundary.too_large", "en", area="much", limit=50)  # not a number
    monkeypatch.delenv(i18n.STRICT_ENV)  # the app: shown as it is, and logged
    with caplog.at_level("WARNING", logger="workbench.i18n"):
        assert i18n.t("no.such.key", "de") == "no.such.key"
        assert (
            i18n.t("boundary.too_large", "de", area=61.25)
            == i18n.catalogue("de")["boundary.too_large"]
        )
    assert len(caplog.records) == 2 and "no.such.key" in caplog.records[0].getMessage()


def test_numbers_and_dates_follow_the_language():
    assert i18n.fmt_number(1234567.891, "en", 2) == "1,234,567.89"
    assert i18n.fmt_number(1234567.891, "de", 2) == "1.234.567,89"
    assert i18n.fmt_number(1234567.891, "uk", 1) == "1\u00a0234\u00a0567,9"
    assert i18n.fmt_number(None) == "—"
    assert i18n.fmt_datetime("2026-05-04T13:05:00+00:00", "de") == "04.05.2026, 13:05 UTC"


def test_counts_take_the_languages_plural_forms_by_cldr():
    """Issue 12: "123 будівлі", not "123 будівель"; "1 Kommentar"; "1 dot" (Babel's CLDR)."""
    from workbench.i18n import t

    uk = {
        n: t("indicators.note.building_count", "uk", count=n)
        for n in (1, 2, 5, 11, 21, 22, 25, 111, 123, 1234)
    }
    assert uk[1].endswith(" 1 будівлю.") and uk[21].endswith(" 21 будівлю.")
    assert uk[2].endswith(" 2 будівлі.") and uk[22].endswith(" 22 будівлі.")
    assert uk[123].endswith(" 123 будівлі.") and uk[1234].endswith(" 1\u00a0234 будівлі.")
    assert all(uk[n].endswith(f" {n} будівель.") for n in (5, 11, 25, 111))
    assert t("annotate.comments_count", "de", count=1) == "1 Kommentar"
    assert t("annotate.comments_count", "de", count=2) == "2 Kommentare"
    assert t("annotate.votes_count", "en", count=1) == "1 dot"
    assert t("annotate.votes_count", "en", count=1234) == "1,234 dots"
    assert t("annotate.votes_count", "uk", count=3) == "3 голоси"
    # a count that arrives as text takes the "other" form instead of breaking the message
    assert t("annotate.votes_count", "en", count="{count}") == "{count} dots"


def test_every_plural_message_has_the_forms_its_language_needs():
    import re

    from babel import Locale

    from workbench.i18n import catalogue, plural_spec

    placeholder = re.compile(r"\{(\w+):([^{}]*)\}")
    found = 0
    for lang in ("en", "de", "uk"):
        needed = set(Locale.parse(lang).plural_form.tags) | {"other"}
        for key, text in catalogue(lang).items():
            for name, spec in placeholder.findall(text):
                forms = plural_spec(spec)
                if forms is None:
                    continue
                found += 1
                assert needed <= set(forms), (lang, key, sorted(needed - set(forms)))
                assert all("#" in f for f in forms.values()) or name == "count", (lang, key)
    assert found > 90


def test_plural_forms_for_the_browser():
    from workbench.i18n import plural_forms

    forms = plural_forms("annotate.votes_count", "uk")
    assert forms == {
        "one": "{count} голос",
        "few": "{count} голоси",
        "many": "{count} голосів",
        "other": "{count} голосу",
    }
    assert plural_forms("live.status.live", "en") == {"other": "live"} or set(
        plural_forms("live.status.live", "en")
    ) == {"other"}
