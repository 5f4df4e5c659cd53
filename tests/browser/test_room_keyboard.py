"""Issue 12, the keyboard alone and the phone without the drawing toolbar.

With the keyboard only (``page.keyboard``, no click after a page has loaded): the presenter
view's "Skip the map" reaches the round and the join code, and Tab leaves its map; on /join a
participant types the code and their group and presses Enter; on the map page "Add a note here"
puts a point at the centre of the view (the arrow keys move the map first), the form gets the
focus, Enter saves, and "Skip the map" reaches the list of notes. Every stop has a visible focus
outline.

On a 390×844 phone a large "Add a note here" at the map centre adds a point there and brings
the form into view, in en, de and uk."""

from __future__ import annotations

import re

import pytest
from browser_helpers import MAP_IFRAME, map_frame, screenshot, wait_for_streamlit

from tests.browser.test_workshop_browser import MUNICH_LAB, facilitator_signs_in, wait_text

PHONE = {"width": 390, "height": 844}
NOTE = "Keyboard note: a ramp at the corner"
GROUP = "Team Keys"

#: The focused element, followed into the map's frame and the components' shadow roots:
#: {where: "page"|"map", html, outline, inList, inPanel, inForm}.
FOCUSED = """() => {
    let doc = document, el = document.activeElement, where = "page";
    if (el && el.tagName === "IFRAME") {
        try { doc = el.contentDocument; el = doc.activeElement; where = "map"; }
        catch (e) { return {where: "foreign"}; }
    }
    while (el && el.shadowRoot && el.shadowRoot.activeElement) { el = el.shadowRoot.activeElement; }
    if (!el || el === doc.body) { return {where: where, html: "body"}; }
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const host = (el.getRootNode() && el.getRootNode().host) || el;
    return {where: where, html: el.outerHTML.slice(0, 160), text: (el.textContent || "").trim(),
            label: el.getAttribute("aria-label") || "",
            outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
            shadow: style.boxShadow !== "none",
            visible: box.width > 1 && box.height > 1,
            inList: !!host.closest(".st-key-annotate_list_box"),
            inPanel: !!host.closest(".st-key-present_panel"),
            inForm: !!host.closest(".st-key-annotate_pending_form")};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def _shows_focus(now: dict) -> bool:
    return bool(now["outline"] or now["shadow"] or now["html"].startswith(("<input", "<textarea")))


def _settled_focus(page, tries: int = 16) -> dict:
    """The focused element once its focus style has been applied: on a loaded machine the
    browser may paint the outline a little after the key press (read every 120 ms, at most
    about 2 s; what is still unmarked then is reported by the caller)."""
    for _ in range(tries):
        page.wait_for_timeout(120)
        now = focused(page)
        if now.get("html") in (None, "body") or _shows_focus(now):
            return now
    return now


def tab_to(page, wanted, limit: int = 60, key: str = "Tab") -> dict:
    """Press Tab until ``wanted(focused)`` holds; every stop on the way has a visible focus
    (an outline, or Streamlit's ring or border on its inputs)."""
    for _ in range(limit):
        page.keyboard.press(key)
        now = _settled_focus(page)
        if now.get("html") not in (None, "body"):
            assert _shows_focus(now), now
        if wanted(now):
            return now
    raise AssertionError(f"not reached with {limit} × {key}; last focus: {now}")


@pytest.mark.slow
def test_presenter_join_and_map_with_the_keyboard_alone(streamlit_server, new_page):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "keyboard"})
    facilitator = new_page()  # set-up with the mouse: the walks below are the keyboard's
    facilitator_signs_in(facilitator, base, first_time=True)
    facilitator.get_by_role("button", name="Start the workshop").click()
    wait_text(facilitator, "Workshop running")

    # the presenter on a second machine: the skip link, then the panel with the join code
    screen = new_page()
    screen.set_viewport_size({"width": 1920, "height": 1080})
    screen.goto(f"{base}/present?lab={MUNICH_LAB}")
    wait_for_streamlit(screen)
    map_frame(screen)
    code = screen.locator(".wb-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6}", code), code
    skip = tab_to(screen, lambda f: "wb-skip" in f.get("html", ""), limit=3)
    assert skip["visible"] and skip["outline"] and "Skip the map" in skip["text"]
    screenshot(screen, "keyboard_present_skip", full_page=False)
    screen.keyboard.press("Enter")
    screen.wait_for_timeout(300)
    panel = focused(screen)
    assert panel["inPanel"] and code in panel["text"], panel
    # without the skip link, Tab goes through the map and out of it again (no trap)
    screen.reload()
    wait_for_streamlit(screen)
    map_frame(screen)
    tab_to(screen, lambda f: f["where"] == "map", limit=6)
    tab_to(screen, lambda f: f["where"] == "page", limit=15)

    # /join: the code, Enter; the group, Enter
    phone = new_page()
    phone.goto(f"{base}/join")
    wait_for_streamlit(phone)
    tab_to(phone, lambda f: f.get("label") == "Join code", limit=30)
    phone.keyboard.type(code.lower())
    phone.keyboard.press("Enter")
    expect(phone.locator(".st-key-workshop_join_group input")).to_be_visible(timeout=20_000)
    wait_for_streamlit(phone)
    tab_to(phone, lambda f: f.get("label") == "Your group's name", limit=30)
    phone.keyboard.type(GROUP)
    phone.keyboard.press("Enter")
    wait_text(phone, "Living-lab map", timeout=30_000)
    wait_for_streamlit(phone)
    frame = map_frame(phone)

    # the map: into the map, move it with the arrow keys, "Add a note here", Enter
    tab_to(phone, lambda f: f["where"] == "map" and "leaflet-container" in f["html"])
    before = frame.evaluate("() => Object.values(window).find(v => v instanceof L.Map).getCenter()")
    for _ in range(3):
        phone.keyboard.press("ArrowRight")
    phone.wait_for_timeout(600)
    centre = frame.evaluate("() => Object.values(window).find(v => v instanceof L.Map).getCenter()")
    assert centre["lng"] > before["lng"]  # the map moved east
    button = tab_to(phone, lambda f: "wb-add-here-button" in f.get("html", ""), limit=5)
    assert button["text"] == "Add a note here" and button["outline"]
    screenshot(phone, "keyboard_map_add_here", full_page=False)
    phone.keyboard.press("Enter")
    text = phone.locator(".st-key-annotate_new_text textarea")
    expect(text).to_be_visible(timeout=15_000)
    phone.wait_for_function(
        "() => document.activeElement && document.activeElement.closest"
        "('.st-key-annotate_pending_form')",
        timeout=10_000,
    )
    tab_to(phone, lambda f: f["inForm"] and f["html"].startswith("<textarea"), limit=4)
    phone.keyboard.type(NOTE)
    tab_to(
        phone,
        lambda f: (
            f["inForm"]
            and f["html"].startswith("<input")
            and f.get("label") == "Your group or name"
        ),
        limit=4,
    )
    phone.keyboard.press("Enter")
    wait_text(phone, "Saved. Everyone sees it on the map now.")
    wait_for_streamlit(phone)
    # the point is where the map's centre was
    drawn = frame.evaluate("""() => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        const out = [];
        map.eachLayer(l => { if (l.feature && l.feature.geometry &&
                                 l.feature.geometry.type === "Point") out.push(l.getLatLng()); });
        return out; }""")
    assert any(
        abs(p["lat"] - centre["lat"]) < 1e-5 and abs(p["lng"] - centre["lng"]) < 1e-5 for p in drawn
    ), (drawn, centre)

    # the list without the map: back to the top, "Skip the map", Enter, Tab into the list
    phone.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab_to(phone, lambda f: "wb-skip" in f.get("html", ""))
    phone.keyboard.press("Enter")
    phone.wait_for_timeout(300)
    assert focused(phone)["inList"]
    tab_to(phone, lambda f: f["inList"] and f["where"] == "page" and f["html"] != "body", limit=3)
    expect(phone.locator(".st-key-annotate_list_box").get_by_text(NOTE)).to_be_visible()
    show = tab_to(phone, lambda f: f["inList"] and f["text"] == "Show on map", limit=25)
    assert show["where"] == "page"
    screenshot(phone, "keyboard_map_list", full_page=False)


@pytest.mark.slow
def test_phone_add_a_note_here_without_the_toolbar(streamlit_server, new_page):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    # its own server: a private one, where the demo workspace may be edited without passcode
    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "phone-add-here"})
    page = new_page()
    page.set_viewport_size(PHONE)
    for lang, label, saved in (
        ("de", "Notiz hier hinzufügen", None),
        ("uk", "Додати нотатку тут", None),
        ("en", "Add a note here", "Saved. Everyone sees it on the map"),
    ):
        page.goto(f"{base}/map?lab={MUNICH_LAB}&lang={lang}")
        wait_for_streamlit(page)
        frame = map_frame(page)
        iframe = page.locator(MAP_IFRAME).first
        iframe.scroll_into_view_if_needed()
        button = frame.locator(".wb-add-here-button")
        expect(button).to_have_text(label)
        box, map_box = button.bounding_box(), iframe.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 150, box  # a finger's target
        middle = map_box["x"] + map_box["width"] / 2
        assert abs(box["x"] + box["width"] / 2 - middle) < 2
        assert (
            map_box["y"] + map_box["height"] * 0.5
            <= box["y"]
            <= map_box["y"] + map_box["height"] * 0.75
        ), (box, map_box)  # just below the centre
        cross = frame.locator(".wb-add-here-cross").bounding_box()
        assert abs(cross["y"] + cross["height"] / 2 - (map_box["y"] + map_box["height"] / 2)) < 2
        screenshot(page, f"phone_add_here_{lang}", full_page=False)
        if saved is None:
            continue
        centre = frame.evaluate(
            "() => Object.values(window).find(v => v instanceof L.Map).getCenter()"
        )
        button.click()  # a tap: no drawing toolbar
        text = page.locator(".st-key-annotate_new_text textarea")
        expect(text).to_be_visible(timeout=15_000)
        page.wait_for_timeout(800)
        form_box = text.bounding_box()
        assert form_box["y"] >= 0 and form_box["y"] + form_box["height"] <= PHONE["height"]
        point = frame.evaluate("() => window.drawnItems.getLayers().map(l => l.getLatLng())")
        assert (
            len(point) == 1
            and abs(point[0]["lat"] - centre["lat"]) < 1e-9
            and abs(point[0]["lng"] - centre["lng"]) < 1e-9
        )
        screenshot(page, "phone_add_here_form", full_page=False)
        text.fill("A bench here, added with one tap")
        page.locator('[data-testid="stForm"]', has=text).get_by_role("button", name="Save").click()
        wait_text(page, saved)
