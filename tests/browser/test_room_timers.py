"""Issue 12, timers agree: the facilitator's page and the presenter view count a round down
from the server's clock, within 1 s of each other, even when the projector's machine has its
clock 90 s off; the facilitator's page shows no time frozen at its last rerun."""

import re
import time

import pytest
from browser_helpers import wait_for_streamlit

from tests.browser.test_workshop_browser import MUNICH_LAB, facilitator_signs_in, wait_text

SKEW_MS = 90_000  # the projector's clock runs 90 s ahead


def _seconds(text: str) -> int:
    m = re.search(r"([−-]?)(\d+):(\d\d)", text)
    assert m, text
    value = int(m.group(2)) * 60 + int(m.group(3))
    return -value if m.group(1) else value


def _timer(page) -> str:
    return page.locator(".wb-timer").first.inner_text(timeout=15_000)


@pytest.mark.slow
def test_facilitator_and_presenter_timers_agree(streamlit_server, new_page, browser):
    from playwright.sync_api import expect

    from tests.browser.conftest import APP_ENTRY

    base = streamlit_server(APP_ENTRY, env={"WORKBENCH_BROWSER_TEST": "timers"})
    facilitator = new_page()
    facilitator_signs_in(facilitator, base, first_time=True)
    facilitator.get_by_role("button", name="Start the workshop").click()
    wait_text(facilitator, "Workshop running")
    facilitator.get_by_role("button", name="Start the round").click()
    wait_text(facilitator, "Round 1: Collect")
    wait_for_streamlit(facilitator)
    assert facilitator.get_by_text("time left").count() == 0  # no figure frozen at a rerun

    presenter = new_page()
    presenter.context.add_init_script(
        f"(() => {{ const real = Date.now; Date.now = () => real() + {SKEW_MS}; }})();"
    )
    presenter.goto(f"{base}/present?lab={MUNICH_LAB}")
    wait_for_streamlit(presenter)
    expect(presenter.locator(".wb-timer").first).to_have_text(
        re.compile(r"\d+:\d\d"), timeout=20_000
    )
    expect(facilitator.locator(".wb-timer").first).to_have_text(
        re.compile(r"\d+:\d\d"), timeout=20_000
    )
    time.sleep(1.5)  # both have had a message with the server's time
    differences = []
    for _ in range(3):
        a, b = _seconds(_timer(facilitator)), _seconds(_timer(presenter))
        differences.append(abs(a - b))
        assert 9 * 60 <= a <= 10 * 60, a
        time.sleep(0.7)
    assert max(differences) <= 1, differences
