"""A workshop in real browsers: the facilitator sets the passcode and opens a session; two
participants (own browser contexts) join through the link, one adds a note without the map, the
other draws one; the presenter view (the facilitator's second tab) shows both within 5 s; the
facilitator starts the vote round and the participant's drawing tools and add form are gone.
Screenshots of the presenter view at 1920×1080."""

import re
import time

import pytest
from browser_helpers import map_frame, screenshot, unexpected_requests, wait_for_streamlit

from tests.helpers import MUNICH_LAB

PASSCODE = "correct horse battery"
NOTE_1 = "Bench under the <b>plane</b> trees"
NOTE_2 = "Crossing too wide for children"


def wait_text(page, text: str, timeout: float = 15_000):
    from playwright.sync_api import expect

    expect(page.get_by_text(text).first).to_be_visible(timeout=timeout)


def facilitator_signs_in(page, base: str, first_time: bool) -> None:
    page.goto(f"{base}/workshop?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    if first_time:
        fields = page.locator('input[type="password"]')
        fields.nth(0).fill(PASSCODE)
        fields.nth(1).fill(PASSCODE)
        page.get_by_role("button", name="Set the passcode").click()
    elif page.get_by_text("Signed in").count() == 0:  # a tab of a signed-in browser is
        page.locator(".st-key-workshop_passcode input").fill(PASSCODE)  # signed in already
        page.get_by_role("button", name="Sign in").click()
    wait_text(page, "Signed in")
    wait_for_streamlit(page)


def join(page, link: str, group: str, colour: str) -> None:
    page.goto(link)
    wait_for_streamlit(page)
    page.locator(".st-key-workshop_join_group input").fill(group)
    page.get_by_text(colour, exact=False).first.click()
    page.get_by_role("button", name="Join and open the map").click()
    wait_text(page, "Living-lab map", timeout=30_000)
    wait_for_streamlit(page)


def draw_polygon(page, frame) -> None:
    frame.locator("a.leaflet-draw-draw-polygon").click()
    box = page.locator('iframe[title="streamlit_folium.st_folium"]').bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in [(-60, -40), (60, -40), (60, 40), (-60, 40), (-60, -40)]:
        page.mouse.move(cx + dx, cy + dy, steps=4)
        page.mouse.down()
        page.mouse.up()
        time.sleep(0.3)


def seconds_until(page, text: str, limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if page.get_by_text(text, exact=False).count():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not shown within {limit} s")


@pytest.mark.slow
def test_workshop_join_add_present_and_vote_round(streamlit_server, new_page, blocked_requests):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    # its own server and data directory: the passcode protects this demo workspace only
    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "workshop"})

    facilitator = new_page()
    facilitator_signs_in(facilitator, base, first_time=True)
    facilitator.get_by_role("button", name="Start the workshop").click()
    wait_text(facilitator, "Workshop running")
    link = facilitator.locator("code", has_text="/join?").first.inner_text().strip()
    assert re.search(r"/join\?ws=demo&t=[\w-]+\.[\w-]+", link), link

    # the shared screen: the facilitator's second tab, signed in too (for the QR code)
    presenter = facilitator.context.new_page()
    presenter.set_viewport_size({"width": 1920, "height": 1080})
    facilitator_signs_in(presenter, base, first_time=False)
    presenter.get_by_role("link", name=re.compile("Open the presenter view")).click()
    wait_text(presenter, "Newest notes", timeout=30_000)
    map_frame(presenter)

    one, two = new_page(), new_page()
    join(one, link, "Team <i>Nord</i>", "blue")
    join(two, link, "Team Süd", "orange")

    # participant one: without the map
    one.get_by_text("Add a note without the map").click()
    form = one.locator('[data-testid="stForm"]').filter(
        has=one.get_by_role("radio", name=re.compile("whole site", re.I))
    )
    form.locator("textarea").fill(NOTE_1)
    form.get_by_role("button", name="Save").click()
    wait_text(one, "Saved. Everyone sees it on the map now.")
    shown_1 = seconds_until(presenter, "Bench under the <b>plane</b> trees", 5.0)

    # participant two: draws a polygon, describes it
    frame = map_frame(two)
    draw_polygon(two, frame)
    text = two.locator(".st-key-annotate_new_text textarea")
    expect(text).to_be_visible(timeout=15_000)
    text.fill(NOTE_2)
    two.locator('[data-testid="stForm"]', has=text).get_by_role("button", name="Save").click()
    wait_text(two, "Saved. Everyone sees it on the map now.")
    shown_2 = seconds_until(presenter, NOTE_2, 5.0)
    expect(presenter.get_by_text("Team <i>Nord</i>").first).to_be_visible()  # text, not markup
    wait_for_streamlit(presenter)
    time.sleep(1.0)
    screenshot(presenter, "present_1920_collect", full_page=False)

    # the vote round: participant two's drawing tools and the add form go away
    # (centred first: a list opened at the window's lower edge scrolls, and so closes again)
    kind = facilitator.locator(".st-key-workshop_round_kind")
    kind.evaluate("e => e.scrollIntoView({block: 'center'})")
    kind.click()
    facilitator.get_by_role("option", name="Vote").click()
    facilitator.get_by_role("button", name="Start the round").click()
    wait_text(facilitator, "Round 1: Vote")
    wait_text(two, "only voting is possible now", timeout=15_000)
    wait_for_streamlit(two)
    frame = map_frame(two)
    expect(frame.locator("a.leaflet-draw-draw-polygon")).to_have_count(0, timeout=15_000)
    assert two.get_by_text("Add a note without the map").count() == 0
    wait_text(presenter, "Round 1: Vote", timeout=10_000)
    time.sleep(1.0)
    screenshot(presenter, "present_1920_vote", full_page=False)
    screenshot(two, "workshop_participant_vote_round")
    print(f"presenter showed note 1 after {shown_1:.1f} s, note 2 after {shown_2:.1f} s")
    assert unexpected_requests(blocked_requests) == []
