"""Issue 12, language: German and Ukrainian pages show none of Streamlit's English built-in
texts (the file uploader's "Upload"/"200MB per file"/"Drag and drop", "Browse files", lists'
"Choose options"), and switching the language keeps the other choices ("Colour the notes by")."""

import re

import pytest
from browser_helpers import screenshot, wait_for_streamlit

from tests.helpers import MUNICH_LAB

ENGLISH_BUILTINS = re.compile(
    r"Drag and drop|Browse files|per file|Choose options|"
    r"Choose an option|\bUpload\b|Press Enter to|No results"
)


def _visible_text(page) -> str:
    """What the page shows, the map frames included (icons' ligature names are not text)."""
    texts = [page.evaluate("document.body.innerText")]
    for frame in page.frames[1:]:
        try:
            texts.append(frame.evaluate("document.body ? document.body.innerText : ''"))
        except Exception:  # noqa: BLE001 - a frame that went away
            pass
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["de", "uk"])
def test_no_english_builtin_texts_in_german_and_ukrainian(app_server, new_page, lang):
    page = new_page()
    for path in (
        "setup",
        f"layers?lab={MUNICH_LAB}",
        f"map?lab={MUNICH_LAB}",
        f"compare?lab={MUNICH_LAB}",
        f"export?lab={MUNICH_LAB}",
    ):
        page.goto(f"{app_server}/{path}{'&' if '?' in path else '?'}lang={lang}")
        wait_for_streamlit(page)
        page.wait_for_timeout(1500)
        for uploader in page.locator('[data-testid="stFileUploader"]').all():
            uploader.scroll_into_view_if_needed()
        found = ENGLISH_BUILTINS.findall(_visible_text(page))
        assert found == [], (path, found)
        # a typed-in field shows Streamlit's "Press Enter to apply" hint: translated too
        field = page.locator('[data-testid="stTextInput"] input:visible:not([disabled])').first
        if field.count():
            field.fill("x")
            page.wait_for_timeout(400)
            found = ENGLISH_BUILTINS.findall(_visible_text(page))
            assert found == [], (path, "typing", found)
            field.fill("")
    page.goto(f"{app_server}/setup?lang={lang}")
    wait_for_streamlit(page)
    page.locator('[data-testid="stFileUploader"]').first.scroll_into_view_if_needed()
    screenshot(page, f"setup_uploader_{lang}", full_page=False)


@pytest.mark.slow
def test_switching_language_keeps_the_colour_choice(app_server, new_page):
    from playwright.sync_api import expect

    page = new_page()
    page.goto(f"{app_server}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    page.locator(".st-key-_annotate_colour_widget_en").get_by_text("group", exact=True).click()
    wait_for_streamlit(page)
    expect(page.get_by_role("radio", name="group")).to_be_checked()
    page.wait_for_timeout(1000)
    for name, group in (("Deutsch", "Gruppe"), ("Українська", "групою"), ("English", "group")):
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=name).click()
        wait_for_streamlit(page)
        expect(page.get_by_role("radio", name=group)).to_be_checked(timeout=15_000)
