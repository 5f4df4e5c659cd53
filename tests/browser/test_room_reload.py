"""Issue 12, staying signed in: a facilitator who reloads the page is still signed in (a signed,
expiring HttpOnly cookie, never the passcode), and so is a participant whose URL lost its
``?member=``; signing out ends it for reloads too."""

import re

import pytest
from browser_helpers import screenshot, wait_for_streamlit

from tests.browser.test_workshop_browser import (
    MUNICH_LAB,
    PASSCODE,
    facilitator_signs_in,
    wait_text,
)


def _cookie(page, name: str) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == name), None)


def _wait_cookie(page, name: str, timeout_s: float = 10.0) -> dict:
    import time

    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        cookie = _cookie(page, name)
        if cookie is not None:
            return cookie
        time.sleep(0.2)
    raise AssertionError(f"no cookie {name} after {timeout_s} s")


@pytest.mark.slow
def test_facilitator_and_participant_survive_a_reload(streamlit_server, new_page):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "reload"})
    facilitator = new_page()
    facilitator_signs_in(facilitator, base, first_time=True)
    cookie = _wait_cookie(facilitator, "workbench_signin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert PASSCODE not in cookie["value"] and "passcode" not in cookie["value"].lower()
    assert PASSCODE not in facilitator.url

    facilitator.reload()
    wait_for_streamlit(facilitator)
    wait_text(facilitator, "Signed in")
    facilitator.get_by_role("button", name="Start the workshop").click()
    wait_text(facilitator, "Workshop running")
    link = facilitator.locator("code", has_text="/join?").first.inner_text().strip()

    # a participant joins, then opens the map without ?member= and reloads: still their group
    phone = new_page()
    phone.goto(link)
    wait_for_streamlit(phone)
    phone.locator(".st-key-workshop_join_group input").fill("Team Reload")
    phone.get_by_text("blue", exact=False).first.click()
    phone.get_by_role("button", name="Join and open the map").click()
    wait_text(phone, "Living-lab map", timeout=30_000)
    _wait_cookie(phone, "workbench_member")
    phone.goto(f"{base}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(phone)
    expect(phone.get_by_text(re.compile("Team Reload")).first).to_be_visible(timeout=15_000)
    phone.reload()
    wait_for_streamlit(phone)
    expect(phone.get_by_text(re.compile("Team Reload")).first).to_be_visible(timeout=15_000)
    assert phone.get_by_text("You are looking on").count() == 0

    # signing out removes the cookie: a reload then asks for the passcode again
    facilitator.get_by_role("button", name="Sign out").click()
    wait_for_streamlit(facilitator)
    expect(facilitator.locator(".st-key-workshop_passcode input")).to_be_visible(timeout=15_000)
    import time

    for _ in range(50):
        if _cookie(facilitator, "workbench_signin") is None:
            break
        time.sleep(0.2)
    assert _cookie(facilitator, "workbench_signin") is None
    facilitator.reload()
    wait_for_streamlit(facilitator)
    expect(facilitator.locator(".st-key-workshop_passcode input")).to_be_visible(timeout=15_000)


@pytest.mark.slow
def test_a_deleted_note_is_restored_from_another_browser_of_the_group(streamlit_server, new_page):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY
    from tests.browser.test_workshop_browser import join

    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "restore"})
    facilitator = new_page()
    facilitator_signs_in(facilitator, base, first_time=True)
    facilitator.get_by_role("button", name="Start the workshop").click()
    wait_text(facilitator, "Workshop running")
    link = facilitator.locator("code", has_text="/join?").first.inner_text().strip()

    phone = new_page()
    join(phone, link, "Team Undo", "green")
    phone.wait_for_url(re.compile(r"member="), timeout=15_000)  # the URL follows the page
    member_link = phone.url
    phone.get_by_text("Add a note without the map").click()
    form = phone.locator('[data-testid="stForm"]').filter(
        has=phone.get_by_role("radio", name=re.compile("whole site", re.I))
    )
    form.locator("textarea").fill("Benches in the shade, please")
    form.get_by_role("button", name="Save").click()
    wait_text(phone, "Saved. Everyone sees it on the map now.")
    wait_for_streamlit(phone)
    phone.get_by_role("button", name="Show on map").first.click()
    wait_for_streamlit(phone)
    phone.get_by_role("button", name="Delete").first.click()
    wait_text(phone, "The note was deleted.")
    expect(phone.get_by_role("button", name="Undo")).to_be_visible()

    # the group's other browser (another Streamlit session): no Undo there, but Restore
    laptop = new_page()
    laptop.goto(member_link)
    wait_for_streamlit(laptop)
    screenshot(laptop, "restore_other_browser")
    assert laptop.get_by_role("button", name="Undo").count() == 0
    laptop.get_by_text(re.compile(r"Deleted notes \(1\)")).click()
    expect(laptop.get_by_text("Benches in the shade, please")).to_be_visible(timeout=10_000)
    expect(laptop.get_by_text(re.compile("deleted by Team Undo"))).to_be_visible()
    laptop.get_by_role("button", name="Restore").click()
    wait_for_streamlit(laptop)
    expect(laptop.get_by_text(re.compile(r"Deleted notes \(0\)"))).to_be_visible(timeout=10_000)
    expect(laptop.get_by_text(re.compile(r"Notes \(1\)"))).to_be_visible()
